"""Turning messages into report figures: the pure half of reports, shared by the incremental fold
(shared/reports/fold.py) and the rebuild, so both count exactly the same way.

Every message document of a support conversation (customer messages, agents' replies, activity
lines) is read once, in the order ingest committed them (``reportAt``), and counts towards:

    in / out        messages from the customer / to the customer (notes are neither)
    opened          a conversation becoming open: its first customer message, the first one after it
                    was resolved, or an agent reopening it
    resolved        an agent resolving it; ``res``, the time since it was opened
    assigned        an open conversation given to an agent, under all, the channel and that agent
                    (``opened`` counts under the assignee at the moment of opening, usually nobody)
    frt             first response time: from opening to the first reply by a person (an agent in
                    the dashboard, or in the provider's own app), once per opening
    csat            a customer's rating (an activity line with verb ``rate``, score 1..5): a count per
                    score, on the rating's day; a rating that ``replaces`` an earlier one of the same
                    ask takes the earlier one away (on its day, under the dimensions it was counted
                    under) and counts the new one, so a change never counts twice

Each figure is counted under the dimensions ``all``, ``channel:<kind>``, ``agent:<uid>`` (the
replying agent for ``out`` and ``frt``; else the conversation's assignee), ``team:<id>`` (the
conversation's ``teamId``, when it has one) and ``label:<id>`` (its labels), by the tenant's local
day (``settings.timeZone``) of the message's own time; and, for ``all`` and each channel, by hour of
that day (the page draws hour of week from them). The agent, team and label figures are counted a
second time in the conversation's channel's own document (``reportChannels/{day}_{kind}``), so the
page's channel filter narrows those tables too: one document per channel and day rather than
compound ``channel|agent`` keys in the day document, which a big tenant's day would take past
Firestore's 1 MiB (ARCHITECTURE.md, "Reports: one document per channel and day").

What a message counts towards depends on the conversation before it (is it open, has anyone
answered), so the fold keeps a small state per conversation, ``reportConversations/{id}``:
``{open, openedAtMs, awaiting, assigneeId, labels, channel, csat}``; assignee and labels follow the
activity lines, so a rebuild from the messages reaches the same state. ``csat`` is the last rating
counted, ``{askId, score, atMs, dims}``: what a changed rating takes away, and how a rating line
seen twice is recognised.

A report day document (``reports/{YYYY-MM-DD}``):

    {"day", "timeZone",
     "dims":  {"<dim>": {"opened", "resolved", "in", "out", "frt": dist, "res": dist,
                         "csat": {"<1-5>": count}}},
     "hours": {"<all or channel dim>": {"<0-23>": {"opened", "resolved", "in", "out"}}}}

where ``dist`` is a log-bucket histogram (shared/reports/histogram.py). A channel's document
(``reportChannels/{day}_{kind}``) is ``{"day", "channel", "timeZone", "dims"}`` with the agent,
team and label dimensions of that channel only. Scores that come back to 0 and dimensions left
with no figures are dropped, so the fold and the rebuild write the same documents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.reports import histogram

COUNTS = ("opened", "resolved", "in", "out")
ASSIGNED = "assigned"  # an open conversation given to an agent: counted under the agent (and channel)
DURATIONS = ("frt", "res")
SCORES = ("1", "2", "3", "4", "5")  # a rating's score, as the key of its count
CSAT = "csat"
SCOPED_KINDS = ("agent", "team", "label")  # the dimensions a channel's own document counts again
RESPONDERS = ("agent", "provider_app")  # who counts as a first response (not bots, auto-replies)


def zone(name: str | None) -> ZoneInfo:
    """The tenant's time zone (UTC when unset or unknown)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class Message:
    """One message document as the reports read it."""

    conversation_id: str
    data: dict[str, Any]

    @property
    def at_ms(self) -> int:
        value = self.data.get("sentAtMs")
        if isinstance(value, int | float):
            return int(value)
        sent = self.data.get("sentAt")
        return int(sent.timestamp() * 1000) if isinstance(sent, datetime) else 0


def channel_doc_id(day: str, channel: str) -> str:
    """The id of a channel's document of ``day`` (``reportChannels/{day}_{kind}``)."""
    return f"{day}_{channel}"


@dataclass
class Tally:
    """Report figures being added up, by day document and by channel's document."""

    zone: ZoneInfo
    days: dict[str, dict[str, Any]] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _day(self, at_ms: int) -> tuple[str, int]:
        local = datetime.fromtimestamp(at_ms / 1000, UTC).astimezone(self.zone)
        return local.strftime("%Y-%m-%d"), local.hour

    def _doc(self, day: str) -> dict[str, Any]:
        doc = self.days.get(day)
        if doc is None:
            doc = self.days[day] = {"day": day, "timeZone": self.zone.key, "dims": {}, "hours": {}}
        return doc

    def _channel_doc(self, day: str, dims: list[str]) -> dict[str, Any] | None:
        channel = next((dim.partition(":")[2] for dim in dims if dim.startswith("channel:")), None)
        if not channel:
            return None
        doc_id = channel_doc_id(day, channel)
        doc = self.channels.get(doc_id)
        if doc is None:
            doc = self.channels[doc_id] = {
                "day": day,
                "channel": channel,
                "timeZone": self.zone.key,
                "dims": {},
            }
        return doc

    def count(self, metric: str, at_ms: int, dims: list[str], seconds: float | None = None) -> None:
        """Count one ``metric`` (a count, or with ``seconds`` a duration) under ``dims``."""
        day, hour = self._day(at_ms)
        doc = self._doc(day)
        for dim, targets in self._targets(day, dims):
            for figures in targets:
                if seconds is None:
                    figures[metric] = int(figures.get(metric, 0)) + 1
                else:
                    histogram.add(figures.setdefault(metric, histogram.empty()), seconds)
            if seconds is None and (dim == "all" or dim.startswith("channel:")):
                hours = doc["hours"].setdefault(dim, {}).setdefault(str(hour), {})
                hours[metric] = int(hours.get(metric, 0)) + 1

    def rate(self, at_ms: int, dims: list[str], score: int, sign: int = 1) -> None:
        """Count a rating of ``score`` (``sign`` -1: take one away) on its day under ``dims``."""
        day, _ = self._day(at_ms)
        for _dim, targets in self._targets(day, dims):
            for figures in targets:
                _add_scores(figures, {str(score): sign})

    def _targets(self, day: str, dims: list[str]) -> list[tuple[str, list[dict[str, Any]]]]:
        """Each of ``dims`` with the figures it counts into on ``day``: the day document's, and for
        an agent, team or label dimension also the channel's own document's."""
        doc = self._doc(day)
        scoped = self._channel_doc(day, dims)
        found = []
        for dim in dims:
            targets = [doc["dims"].setdefault(dim, {})]
            if scoped is not None and dim.partition(":")[0] in SCOPED_KINDS:
                targets.append(scoped["dims"].setdefault(dim, {}))
            found.append((dim, targets))
        return found


def _add_scores(figures: dict[str, Any], scores: dict[str, Any]) -> None:
    """Add a ``csat`` count per score into a dimension's figures; 0s and an empty map dropped."""
    counts = dict(figures.get(CSAT) or {})
    for score, value in scores.items():
        counts[score] = int(counts.get(score, 0)) + int(value)
        if counts[score] == 0:
            del counts[score]
    if counts:
        figures[CSAT] = counts
    else:
        figures.pop(CSAT, None)


def merge_day(stored: dict[str, Any] | None, delta: dict[str, Any]) -> dict[str, Any]:
    """A stored day document (or channel's document) with ``delta`` (a :class:`Tally` document)
    added."""
    merged: dict[str, Any] = {
        **{key: value for key, value in delta.items() if key not in ("dims", "hours")},
        "dims": {dim: _copy(figures) for dim, figures in ((stored or {}).get("dims") or {}).items()},
    }
    if "hours" in delta:
        merged["hours"] = {
            dim: {hour: dict(counts) for hour, counts in hours.items()}
            for dim, hours in ((stored or {}).get("hours") or {}).items()
        }
    for dim, figures in delta["dims"].items():
        target = merged["dims"].setdefault(dim, {})
        for metric, value in figures.items():
            if metric in DURATIONS:
                histogram.merge(target.setdefault(metric, histogram.empty()), value)
            elif metric == CSAT:
                _add_scores(target, value)
            else:
                target[metric] = int(target.get(metric, 0)) + int(value)
    merged["dims"] = {dim: figures for dim, figures in merged["dims"].items() if figures}
    for dim, hours in (delta.get("hours") or {}).items():
        for hour, counts in hours.items():
            target = merged["hours"].setdefault(dim, {}).setdefault(hour, {})
            for metric, value in counts.items():
                target[metric] = int(target.get(metric, 0)) + int(value)
    return merged


def _copy(figures: dict[str, Any]) -> dict[str, Any]:
    return {
        metric: (
            ({**value, "b": dict(value.get("b") or {})} if metric in DURATIONS else dict(value))
            if isinstance(value, dict)
            else value
        )
        for metric, value in figures.items()
    }


def _dims(state: dict[str, Any], conversation: dict[str, Any] | None, agent: str | None) -> list[str]:
    dims = ["all"]
    channel = state.get("channel") or (conversation or {}).get("channel")
    if channel:
        dims.append(f"channel:{channel}")
    if agent:
        dims.append(f"agent:{agent}")
    team = (conversation or {}).get("teamId")
    if isinstance(team, str) and team:
        dims.append(f"team:{team}")
    dims.extend(f"label:{label}" for label in state.get("labels") or [])
    return dims


def apply(
    tally: Tally,
    states: dict[str, dict[str, Any]],
    conversations: dict[str, dict[str, Any] | None],
    message: Message,
) -> bool:
    """Count one message, updating its conversation's state in ``states``; True if the state changed
    (the fold writes the states that changed)."""
    data = message.data
    state = states.setdefault(message.conversation_id, {})
    before = dict(state)
    conversation = conversations.get(message.conversation_id)
    at = message.at_ms
    direction = data.get("direction")
    if isinstance(data.get("channel"), str) and not state.get("channel"):
        state["channel"] = data["channel"]
    if direction == "in":
        if not state.get("open"):
            _open(tally, state, conversation, at)
        tally.count("in", at, _dims(state, conversation, state.get("assigneeId")))
    elif direction == "out":
        sender = data.get("sender") or {}
        agent = sender.get("id") if sender.get("kind") == "agent" else None
        dims = _dims(state, conversation, agent or state.get("assigneeId"))
        tally.count("out", at, dims)
        if state.get("open") and state.get("awaiting") and sender.get("kind") in RESPONDERS:
            tally.count("frt", at, dims, (at - int(state.get("openedAtMs", at))) / 1000)
            state["awaiting"] = False
    elif direction == "system" and data.get("type") == "activity":
        _activity(tally, state, conversation, data.get("activity") or {}, at)
    return state != before


def _open(tally: Tally, state: dict[str, Any], conversation: dict[str, Any] | None, at: int) -> None:
    state.update({"open": True, "openedAtMs": at, "awaiting": True})
    tally.count("opened", at, _dims(state, conversation, state.get("assigneeId")))


def _activity(
    tally: Tally, state: dict[str, Any], conversation: dict[str, Any] | None, line: dict[str, Any], at: int
) -> None:
    verb = line.get("verb")
    if verb == "assign":
        state["assigneeId"] = line.get("assigneeId")
        if state.get("open") and state["assigneeId"]:
            # Taken by an agent (by hand, in bulk or automatically): counted for the workspace, the
            # channel and the agent (also in the channel's own document: the agent table narrowed to
            # a channel); teams and labels count their conversations by ``opened``.
            dims = _dims(state, conversation, state["assigneeId"])
            kept = [dim for dim in dims if dim == "all" or dim.startswith(("channel:", "agent:"))]
            tally.count(ASSIGNED, at, kept)
    elif verb == "unassign":
        state["assigneeId"] = None
    elif verb == "labels":
        labels = list(state.get("labels") or [])
        removed = {item.get("id") for item in line.get("removed") or []}
        labels = [label for label in labels if label not in removed]
        added = [item["id"] for item in line.get("added") or [] if item.get("id")]
        labels += [label for label in added if label not in labels]
        state["labels"] = labels
    elif verb == "resolve" and state.get("open"):
        dims = _dims(state, conversation, state.get("assigneeId") or line.get("actorId"))
        tally.count("resolved", at, dims)
        tally.count("res", at, dims, (at - int(state.get("openedAtMs", at))) / 1000)
        state.update({"open": False, "awaiting": False})
    elif verb == "reopen" and not state.get("open"):
        _open(tally, state, conversation, at)
    elif verb == "rate":
        _rate(tally, state, conversation, line, at)


def _score(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5 else None


def _rate(
    tally: Tally, state: dict[str, Any], conversation: dict[str, Any] | None, line: dict[str, Any], at: int
) -> None:
    """A customer's rating: the one it replaces taken away, the new one counted under the
    conversation's dimensions now (its assignee per this state)."""
    score = _score(line.get("score"))
    if score is None:
        return
    ask = str(line.get("askId") or "")
    last = state.get("csat") or {}
    replaces = line.get("replaces")
    if ask and last.get("askId") == ask and _score(last.get("score")) is not None:
        if last.get("score") == score and last.get("atMs") == at:
            return  # the very rating counted already (a line seen twice)
        tally.rate(int(last.get("atMs") or at), list(last.get("dims") or []), int(last["score"]), -1)
    elif isinstance(replaces, dict) and _score(replaces.get("score")) is not None:
        # The replaced rating was counted before this state remembered it (another ask's since):
        # take it away on its day under the dimensions of now.
        replaced_at = replaces.get("atMs")
        when = int(replaced_at) if isinstance(replaced_at, int | float) else at
        tally.rate(when, _dims(state, conversation, state.get("assigneeId")), int(replaces["score"]), -1)
    dims = _dims(state, conversation, state.get("assigneeId"))
    tally.rate(at, dims, score)
    state["csat"] = {"askId": ask, "score": score, "atMs": at, "dims": dims}
