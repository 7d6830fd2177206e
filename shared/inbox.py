"""Applying normalized inbound events to the support inbox, idempotently.

:func:`apply` is what the ``ingest`` function runs for every Pub/Sub message. It is safe to run any
number of times for the same event and in any order:

- a message lands under a deterministic id; a second delivery finds it there and is acknowledged;
- receipts only move a status forward; one that arrives before its message is parked and applied
  when the message lands (here for inbound targets, in :func:`message_landed` for our sends);
- reactions, edits and deletes apply to their target message, or wait parked for it;
- echoes of our own sends are recognized (by the metadata we attach, or the provider id) and never
  create a second message.

It raises :class:`~shared.errors.TransientError` only when retrying can help; everything else is
recorded (quarantine, channel health) and acknowledged.

Hot conversations. Firestore sustains about one write per second per document, and a busy
conversation (a group chat, a bot loop: 50 messages a second) would write its summary on every
message; with Pub/Sub ordering per conversation (production) those writes also sit on the path of
every message, so a slow hot document slows the whole conversation. So the summary is written at
most about once a second per conversation, while every message still lands at once:

- A message whose conversation is quiet (on this instance: no summary write in the last second, no
  deferred message in the last :data:`SUMMARY_HOT_SECONDS`) writes the summary in its own batch, as
  always: 2 document writes and 1 read (events parked for it), nothing later. Most messages do.
- Otherwise the batch creates the message and, instead of touching the conversation, the message's
  share of the summary, a small document ``summaryPending/{message id}``: still 2 writes and 1 read
  (the conversation, which must exist for a share to wait for it; the fold looks for parked events).
  Ingest then makes sure a fold runs: a Cloud Task on the timers queue named after the conversation
  and a whole second at least :data:`SUMMARY_FOLD_LEAD_SECONDS` ahead (and a second after this
  instance's last direct write); every instance deferring in that second names the same task, so
  Cloud Tasks keeps one fold per conversation per second. An instance remembers the folds it queued
  and does not call Cloud Tasks again for a share that fold will count.
- deliver runs the fold (:func:`fold_summary`): read the summary, then the pending shares; apply the
  events parked for their messages; then one batch merges the shares in (counts by Increment, times
  by Maximum, the last message only if later by provider time than the one shown) and deletes them,
  under a precondition on the summary's update time and on each share's existence. A concurrent
  fold or an agent's write fails the batch as a whole, which is read and tried again: each share is
  counted exactly once, without a transaction and without a second write to any message document.

Why this and not a per-conversation sequence or a recount: a sequence is itself a document written
on every message (the hot document again), and recounting a conversation's messages costs reads that
grow with its history; here the cost is one small document written and deleted per deferred message
and one summary write per conversation-second. Why not hold updates in memory: an instance can be
killed at any moment after Pub/Sub's message was acknowledged, and what it held would be lost. Here
nothing is acknowledged before the share and the task exist: if ingest dies between its batch and the
task, Pub/Sub redelivers, the redelivery is a duplicate, and a duplicate always schedules a fold (one
read when there is nothing to fold). The summary is exact about a second after the last message.

The pacing is per instance (nothing is read to learn what other instances wrote): with N instances
receiving one conversation at once, the first message each of them sees writes the summary directly
(a spike of at most N writes), then they all defer while the conversation stays busy, and the folds
remain one a second. A process without deliver (a bare local stack) cannot schedule folds and writes
every summary directly, as before.

Chat channels (shared/chat/api.py) reuse the same pacing and fold: a post into a hot channel
creates its summary share (marked ``chat``) instead of writing the channel's summary and ``seq``, and
:func:`create_paced` schedules the fold, which counts chat shares with :func:`_chat_folded`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from pydantic import TypeAdapter

from shared import autoreply, channels, csat, ids, notifications, routing, search, store
from shared.config import settings
from shared.errors import TransientError
from shared.media import fetch as media_fetch
from shared.models import (
    ChannelNoticeEvent,
    DeleteEvent,
    EditEvent,
    InboundEvent,
    MessageEvent,
    QuarantinedItem,
    QuarantineReason,
    ReactionEvent,
    ReceiptEvent,
)
from shared.reports import fold as reports_fold

log = logging.getLogger(__name__)

CUSTOMER_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
ECHO_METADATA_PREFIX = "sb:"
HEALTH_TOUCH_SECONDS = 60.0


@cache
def event_adapter() -> TypeAdapter[InboundEvent]:
    """Validator for the event union (built once per process)."""
    return TypeAdapter(InboundEvent)


def decode_event(data: bytes | str) -> InboundEvent:
    """An event from its Pub/Sub JSON."""
    return event_adapter().validate_json(data)


@dataclass(frozen=True)
class Outcome:
    """What applying one event did (logged; tests read it)."""

    result: str  # created | duplicate | applied | parked | ignored | quarantined
    message_id: str | None = None
    tenant_id: str | None = None  # set for inbound messages (created or duplicate)
    conversation_id: str | None = None
    summary: str | None = None  # a created message's summary: "written" now, or "deferred" to a fold


def apply(event: InboundEvent) -> Outcome:
    """Apply one event to the inbox. Raises TransientError when Firestore is briefly unavailable."""
    try:
        try:
            return _apply(event)
        except store.refused_errors() as exc:
            # Too large or too deeply nested to be a document: retrying cannot help, and five failed
            # attempts would only dead-letter it (and page whoever watches the dead letters).
            return _keep(event, "unstorable", f"Firestore refused the {event.kind}: {exc}"[:2000])
    except store.transient_errors() as exc:
        raise TransientError(
            f"Firestore unavailable while applying {event.kind}: {type(exc).__name__}"
        ) from exc


def quarantine(item: QuarantinedItem) -> Outcome:
    """Keep a quarantine record the webhook published."""
    try:
        _save_quarantine(item)
    except store.transient_errors() as exc:
        raise TransientError(f"Firestore unavailable while quarantining: {type(exc).__name__}") from exc
    return Outcome("quarantined")


def _keep(event: InboundEvent, reason: QuarantineReason, error: str) -> Outcome:
    """Keep an event ingest will not apply in quarantine, whole, for a later replay."""
    _save_quarantine(
        QuarantinedItem(
            channel=event.channel,
            reason=reason,
            error=error,
            raw=event.model_dump(mode="json"),
            route_key=event.route_key,
        )
    )
    return Outcome("quarantined")


def _save_quarantine(item: QuarantinedItem) -> None:
    store.save_quarantine(item)
    # A log-based metric counts these (infra/modules/monitoring): an alert when parsing starts failing.
    log.warning(
        "quarantined",
        extra={"fields": {"event": "quarantined", "channel": item.channel, "reason": item.reason}},
    )


def _apply(event: InboundEvent) -> Outcome:
    route = store.resolve_route(event.route_key)
    if route is None:
        # Not a retry loop: nobody owns this account yet. Keep it; replay once the channel is connected.
        return _keep(event, "unknown_route", f"no route {event.route_key}")
    if route.signer != event.signer:
        route = store.resolve_route(event.route_key, fresh=True) or route  # a route bound a moment ago
    if route.signer != event.signer:
        # The account whose secret verified the request must be the one the route was connected
        # with; else a tenant with its own provider account could write into another tenant's
        # conversations by naming their number (Twilio signs with the AccountSid the form names).
        log.warning(
            "refused an event signed by another account",
            extra={"fields": {"event": "foreign_signer", "channel": event.channel}},
        )
        return _keep(
            event, "foreign_signer", f"{event.route_key} accepts events signed by its own account only"
        )
    _touch_health(event, route)
    if isinstance(event, MessageEvent):
        return _echo(event, route) if event.echo else _inbound_message(event, route)
    if isinstance(event, ReceiptEvent):
        return _receipt(event, route)
    if isinstance(event, ReactionEvent | EditEvent | DeleteEvent):
        return _targeted(event, route)
    if isinstance(event, ChannelNoticeEvent):
        return _notice(event, route)
    return Outcome("ignored")  # pragma: no cover - the union is exhaustive


# --- messages ------------------------------------------------------------------------------------


def preview(content: Any) -> str:
    """A short text for lists and notifications: the text, a caption, or the kind in brackets."""
    for attribute in ("text", "title", "name", "address"):
        value = getattr(content, attribute, None)
        if isinstance(value, str) and value:
            return value[:200]
    return f"[{content.type}]"


def _when(event: InboundEvent) -> datetime:
    return event.occurred_at or datetime.now(UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _message_document(
    event: MessageEvent, route: store.Route, direction: str, sender: dict[str, Any]
) -> dict:
    sent_at = _when(event)
    document = {
        "direction": direction,
        "type": event.content.type,
        "content": event.content.model_dump(mode="json", exclude_none=True),
        "text": preview(event.content),
        "sender": sender,
        "channel": event.channel,
        "channelId": route.channel_id,
        "providerMessageId": event.message_id,
        "replyTo": event.reply_to,
        "forwarded": event.forwarded,
        "sentAt": sent_at,
        "receivedAt": store.server_time(),
        "reportAt": store.server_time(),  # the reports' fold reads messages in this order
        "eventId": event.event_id,
        "raw": json.dumps(event.raw, default=str),
    }
    conversation_id = ids.conversation_id(route.channel_id, event.contact_id)
    document.update(search.message_fields(route.tenant_id, conversation_id, _ms(sent_at), document))
    return document


def _assigned_flag() -> Any:
    """``assigned`` for the summary: 0 on a conversation that has no value yet, an assigned 1 kept
    (``Maximum``; no read, no extra write). The inbox's "unassigned" filter queries ``assigned == 0``
    (shared/store/labels.py): Firestore cannot query a field that is missing."""
    return store.maximum(0)


def _conversation_base(event: InboundEvent, route: store.Route) -> dict[str, Any]:
    return {
        "kind": "support",
        "tenantId": route.tenant_id,
        "channel": event.channel,
        "channelId": route.channel_id,
        "contactId": ids.contact_id(route.channel_id, event.contact_id),
        "contactExternalId": event.contact_id,
        "updatedAt": store.server_time(),
    }


def _reply_window(event: MessageEvent, at: datetime, *, plain: bool = False) -> dict[str, Any]:
    """The conversation's reply window from the customer's message at ``at``, by the channel's rule
    (``capabilities.reply_window``): what a reply needs once 24 hours have passed. Expiries are
    ``Maximum`` transforms, or with ``plain`` the numbers themselves (a deferred summary part)."""

    def expiry(moment: datetime) -> Any:
        return _ms(moment) if plain else store.maximum(_ms(moment))

    window: dict[str, Any] = {"expiresAtMs": expiry(at + CUSTOMER_WINDOW)}
    rule = channels.capabilities(event.channel).reply_window
    if rule == "template":
        window["needs"] = "template"
    elif rule == "tag":
        window["needs"] = "tag"
        window["tagExpiresAtMs"] = expiry(at + HUMAN_AGENT_WINDOW)
    return window


def _inbound_message(event: MessageEvent, route: store.Route) -> Outcome:
    if event.content.type == "choice":
        rated = csat.parse_payload(getattr(event.content, "payload", None))
        if rated is not None:
            return _rating(event, route, *rated)
    elif event.content.type == "text" and channels.capabilities(event.channel).csat == "link":
        score = csat.typed_score(getattr(event.content, "text", None))
        if score is not None:
            conversation_id = ids.conversation_id(route.channel_id, event.contact_id)
            ask = csat.open_survey(route.tenant_id, conversation_id)
            if ask is not None:
                return _rating(event, route, ask, score, source="reply")
    conversation_id = ids.conversation_id(route.channel_id, event.contact_id)
    message_id = ids.message_id(route.channel_id, event.message_id)
    sent_at = _when(event)
    contact_id = ids.contact_id(route.channel_id, event.contact_id)
    sender = {"kind": "contact", "id": contact_id, "name": event.contact_name}
    message = _message_document(event, route, "in", sender)
    message.update({"status": "received", "standby": event.standby})
    media = media_fetch.pending_entries(event.content)
    if media:
        message["content"]["media"] = media  # "still downloading" from the first moment
    last_message = {
        "id": message_id,
        "type": event.content.type,
        "text": message["text"],
        "direction": "in",
        "at": sent_at,
    }
    last_inbound = {"messageId": message_id, "providerMessageId": event.message_id}
    summary = {
        **_conversation_base(event, route),
        "status": "open",
        "lastMessage": last_message,
        "lastActivityAt": sent_at,
        "lastActivityAtMs": store.maximum(_ms(sent_at)),
        "lastInboundAt": sent_at,
        "lastInboundAtMs": store.maximum(_ms(sent_at)),
        "lastInbound": last_inbound,
        "replyWindow": _reply_window(event, sent_at),
        "unreadCount": store.increment(1),
        "messageCount": store.increment(1),
        "assigned": _assigned_flag(),
    }
    contact: dict[str, Any] = {
        "channel": event.channel,
        "channelId": route.channel_id,
        "externalId": event.contact_id,
    }
    if event.contact_name:
        summary["contactName"] = event.contact_name
        contact["name"] = event.contact_name
    if event.contact_handle:
        contact["handle"] = event.contact_handle
    contact["terms"] = search.contact_terms(contact)  # contact search; written only when it changes
    contact_key = (route.tenant_id, contact_id)
    fresh = _known_contacts.unchanged(contact_key, contact)
    part = _summary_part(event, route, last_message, _reply_window(event, sent_at, plain=True))
    part["lastInbound"] = last_inbound
    created, deferred, first = _create_message(
        store.NewMessage(
            tenant_id=route.tenant_id,
            conversation_id=conversation_id,
            message_id=message_id,
            message=message,
            conversation=summary,
            contact_id=contact_id,
            contact=None if fresh else contact,
        ),
        part,
    )
    if media:
        # Also on a duplicate: a redelivery after a crash between the create and here still
        # queues the fetches (named tasks: queued once).
        _queue_media(route.tenant_id, conversation_id, message_id, len(media))
    if not created:
        return Outcome("duplicate", message_id, route.tenant_id, conversation_id)
    _known_contacts.remember(contact_key, contact)
    if not fresh and channels.capabilities(event.channel).profiles:
        _queue_profile(route.tenant_id, conversation_id, contact_id)
    if first:
        # Only a new conversation is routed: a message in an existing one pays nothing here.
        routing.route_new_conversation(route.tenant_id, route.channel_id, conversation_id)
    if not deferred:
        message_landed(route.tenant_id, conversation_id, event.message_id)
    # Agents' notifications: one named Cloud Task (per conversation and 2-second slot), queued
    # after the writes; never raises, never calls FCM or Firestore here (shared/notifications.py).
    notifications.after_inbound(route.tenant_id, conversation_id, message_id)
    # Outside business hours: queue the workspace's auto-reply (a cached settings read; never a
    # write or a task during business hours; never raises).
    autoreply.after_inbound(route.tenant_id, conversation_id, event.channel, sent_at)
    summary_outcome = "deferred" if deferred else "written"
    return Outcome("created", message_id, route.tenant_id, conversation_id, summary_outcome)


def _rating(
    event: MessageEvent, route: store.Route, ask: str, score: int, source: str = "buttons"
) -> Outcome:
    """A tapped satisfaction-survey choice (``csat:<askId>:<score>``), or a lone score typed in
    answer to a survey asked by link (``source="reply"``): recorded as the customer's
    rating *instead of* a message (shared/csat.py), so it never reopens the resolved conversation
    nor counts unread. Keyed by the reply's message id: a redelivery writes nothing. A rating of a
    survey the conversation no longer asks (a newer one replaced it) is ``ignored``."""
    conversation_id = ids.conversation_id(route.channel_id, event.contact_id)
    key = ids.message_id(route.channel_id, event.message_id)
    sent_at = _when(event)
    customer = {
        "kind": "contact",
        "id": ids.contact_id(route.channel_id, event.contact_id),
        "name": event.contact_name,
    }
    result, line_id = csat.from_reply(
        route.tenant_id,
        conversation_id,
        ask,
        score,
        key=key,
        at_ms=_ms(sent_at),
        customer=customer,
        reply_window=_reply_window(event, sent_at, plain=True),
        source=source,
    )
    if result not in ("recorded", "duplicate", "unchanged"):
        log.warning(
            "a rating was not recorded", extra={"fields": {"event": "csat_refused", "reason": result}}
        )
    outcome = {"recorded": "created", "duplicate": "duplicate", "unchanged": "duplicate"}.get(
        result, "ignored"
    )
    return Outcome(outcome, line_id or key, route.tenant_id, conversation_id)


def _queue_media(tenant_id: str, conversation_id: str, message_id: str, count: int) -> None:
    """Queue the fetch of a stored message's media (shared/media/fetch.py): a quick Cloud Tasks
    call, never a download. Transient errors make Pub/Sub redeliver (the message is stored
    already, so the redelivery is a duplicate that queues again); anything else is logged."""
    try:
        media_fetch.enqueue_fetches(tenant_id, conversation_id, message_id, count)
    except TransientError:
        raise
    except Exception as exc:  # noqa: BLE001 - a queue error never holds back the stored message
        log.error(
            "could not queue inbound media fetches",
            extra={
                "fields": {"event": "media_not_queued", "message_id": message_id, "error": type(exc).__name__}
            },
        )


def _queue_profile(tenant_id: str, conversation_id: str, contact_id: str) -> None:
    """Queue the lookup of the customer's name and picture (shared/profiles.py): a quick Cloud
    Tasks call when the contact was written, never a provider call. A failure is only logged: the
    message is stored, and the next time this contact is written queues it again."""
    from shared import profiles

    try:
        profiles.enqueue(tenant_id, conversation_id, contact_id)
    except Exception as exc:  # noqa: BLE001 - a profile never holds back the stored message
        log.warning(
            "could not queue a profile lookup",
            extra={"fields": {"event": "profile_not_queued", "error": type(exc).__name__}},
        )


class KnownContacts:
    """The contact documents this instance wrote lately, so a message writes its contact only when
    something about it changed (a new name or handle): 2 document writes per inbound message on
    the common path instead of 3. Bounded, and forgotten after :data:`CONTACT_MEMORY_SECONDS`, so
    a contact document erased meanwhile is written again."""

    def __init__(self, size: int, seconds: float) -> None:
        self._size, self._seconds = size, seconds
        self._written: OrderedDict[tuple[str, str], tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def unchanged(self, key: tuple[str, str], contact: dict[str, Any]) -> bool:
        """Whether this instance wrote exactly ``contact`` under ``key`` recently."""
        with self._lock:
            known = self._written.get(key)
            return known is not None and known[1] == contact and time.monotonic() - known[0] < self._seconds

    def remember(self, key: tuple[str, str], contact: dict[str, Any]) -> None:
        """``contact`` is stored under ``key`` (written now, or found unchanged)."""
        with self._lock:
            if key in self._written and self._written[key][1] == contact:
                self._written.move_to_end(key)
                return
            self._written[key] = (time.monotonic(), contact)
            self._written.move_to_end(key)
            while len(self._written) > self._size:
                self._written.popitem(last=False)

    def forget(self) -> None:
        """Forget everything (tests)."""
        with self._lock:
            self._written.clear()


CONTACT_MEMORY_SIZE = 50_000
CONTACT_MEMORY_SECONDS = 3600.0
_known_contacts = KnownContacts(CONTACT_MEMORY_SIZE, CONTACT_MEMORY_SECONDS)


# --- hot conversations: the summary written at most about once a second ---------------------------


@dataclass
class _Pace:
    """What one instance knows of one conversation's summary writes (wall-clock seconds)."""

    written: float = -math.inf  # the summary written directly, with a message
    fold: float = -math.inf  # the latest fold this instance has scheduled (a whole second)
    deferred: float = -math.inf  # the latest new message whose share of the summary was deferred
    writing: threading.Event | None = None  # set once the direct write in flight is done


class SummaryPacer:
    """Decides, per conversation, whether a new message writes the summary now or defers its share
    to a fold, and when that fold must run (see the module docstring). Bounded; thread-safe.

    Only a write that happened counts: while one message's direct write is in flight, another of the
    same conversation waits for it (at most ``wait`` seconds) before deciding, so a redelivered
    duplicate racing its original never takes the original's turn."""

    def __init__(self, size: int, interval: float, hot: float, lead: float, wait: float = 1.0) -> None:
        self._size, self._interval, self._hot, self._lead, self._wait = size, interval, hot, lead, wait
        self._paces: OrderedDict[tuple[str, str], _Pace] = OrderedDict()
        self._lock = threading.Lock()

    def _pace(self, key: tuple[str, str]) -> _Pace:
        pace = self._paces.get(key)
        if pace is None:
            pace = self._paces[key] = _Pace()
            while len(self._paces) > self._size:
                self._paces.popitem(last=False)
        self._paces.move_to_end(key)
        return pace

    def write_now(self, key: tuple[str, str], now: float | None = None) -> bool:
        """True: write the summary with this message, then :meth:`settle` it. False: the
        conversation is hot here, defer the message's share to a fold (and :meth:`settle` that)."""
        give_up = time.monotonic() + self._wait
        while True:
            with self._lock:
                pace = self._pace(key)
                writing = pace.writing
                if writing is None:
                    at = time.time() if now is None else now
                    quiet = (
                        at >= pace.written + self._interval
                        and at >= pace.fold + self._interval
                        and at >= pace.deferred + self._hot
                    )
                    if quiet:
                        pace.writing = threading.Event()
                    return quiet
            if not writing.wait(max(0.0, give_up - time.monotonic())):
                return False

    def settle(self, key: tuple[str, str], direct: bool, created: bool, now: float | None = None) -> None:
        """What became of a :meth:`write_now` decision: the message was ``created`` (or was a
        duplicate, which writes nothing and counts for nothing)."""
        at = time.time() if now is None else now
        with self._lock:
            pace = self._pace(key)
            if direct:
                if created:
                    pace.written = at
                writing, pace.writing = pace.writing, None
                if writing is not None:
                    writing.set()
            elif created:
                pace.deferred = at

    def fold_second(self, key: tuple[str, str], now: float | None = None) -> int | None:
        """The whole second a fold must run at to count a share committed by ``now``, or None when a
        fold this instance scheduled runs late enough (at least ``lead`` from now) to count it."""
        now = time.time() if now is None else now
        with self._lock:
            pace = self._paces.get(key) or _Pace()
            if pace.fold >= now + self._lead:
                return None
            return math.ceil(max(now + self._lead, pace.written + self._interval))

    def folding(self, key: tuple[str, str], second: int) -> None:
        """A fold at ``second`` is queued (by this instance or another: the task's name is shared)."""
        with self._lock:
            pace = self._paces.get(key)
            if pace is not None:
                pace.fold = max(pace.fold, second)

    def forget(self) -> None:
        """Forget everything (tests)."""
        with self._lock:
            self._paces.clear()


SUMMARY_INTERVAL_SECONDS = 1.0  # Firestore sustains about one write per second per document
SUMMARY_HOT_SECONDS = 5.0  # a conversation that deferred stays deferred until this long quiet
SUMMARY_FOLD_LEAD_SECONDS = 0.1  # a fold counts shares committed at least this long before it runs
SUMMARY_FOLD_PAGE = 450  # shares per fold batch (with the summary: under Firestore's 500 writes)
SUMMARY_FOLD_PAGES = 10  # pages one fold task takes; then it fails, and its retry takes the rest
SUMMARY_MEMORY_SIZE = 50_000
SUMMARY_QUEUE = "timers"  # topology.json queues.timers: conversation changes deliver runs
_pacer = SummaryPacer(
    SUMMARY_MEMORY_SIZE, SUMMARY_INTERVAL_SECONDS, SUMMARY_HOT_SECONDS, SUMMARY_FOLD_LEAD_SECONDS
)


def forget_summary_pace() -> None:
    """Forget when each conversation's summary was last written here (tests: the next message of
    every conversation is one of a quiet conversation again)."""
    _pacer.forget()


def _coalescing() -> bool:
    """Whether this process can defer summaries: a fold needs deliver (production always has it; a
    local stack without deliver writes every summary at once, as before)."""
    return bool(settings().deliver_url)


def _create_message(new: store.NewMessage, part: dict[str, Any]) -> tuple[bool, bool, bool]:
    """Create a new message with the summary written now, or with ``part``, its share of the
    summary, deferred when the conversation is hot; return (created, deferred, first): ``first``
    when the message opened its conversation (what auto-assignment routes, shared/routing.py).

    A deferred message reads the conversation once instead of looking for events parked for it (the
    fold does that, for all the messages it counts): a share waits only for a summary that exists,
    so whoever reads the conversation right after its first message (deliver answering a button
    press, an agent's dashboard) finds it."""
    if not _coalescing():
        created, first = store.create_first_message(new)
        return created, False, first
    key = (new.tenant_id, new.conversation_id)
    direct = _pacer.write_now(key)
    created = first = False
    try:
        if not direct and store.get_conversation(new.tenant_id, new.conversation_id) is None:
            direct = True
        created, first = store.create_first_message(
            new if direct else dataclasses.replace(new, summary_part=part)
        )
    finally:
        _pacer.settle(key, direct, created)
    if not created or not direct:
        # Deferred: a fold must count the share. A duplicate: the first delivery may have died
        # between its batch and scheduling that fold (a fold with nothing to do costs one read).
        _schedule_fold(new.tenant_id, new.conversation_id)
    # The reports' fold counts the message (a duplicate schedules too, for the same reason).
    reports_fold.schedule(new.tenant_id)
    return created, not direct, first


def _summary_part(
    event: MessageEvent,
    route: store.Route,
    last_message: dict[str, Any],
    window: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A message's share of its conversation's summary, as plain data (no transforms but the time
    it was stored): what the fold needs to count it and to order it by provider time."""
    base = _conversation_base(event, route)
    base.pop("updatedAt")
    part: dict[str, Any] = {
        "providerMessageId": event.message_id,
        "direction": last_message["direction"],
        "atMs": _ms(last_message["at"]),
        "lastMessage": last_message,
        "base": base,
        "receivedAt": store.server_time(),
    }
    if window is not None:
        part["replyWindow"] = window
    if event.contact_name and last_message["direction"] == "in":
        part["contactName"] = event.contact_name
    return part


def _schedule_fold(tenant_id: str, conversation_id: str) -> None:
    """Make sure a fold of this conversation runs after the share just committed: a Cloud Task on
    the timers queue named after the conversation and the second it runs at, so every instance
    deferring in that second names the same task and Cloud Tasks keeps one."""
    if not _coalescing():
        return
    from shared import tasks

    key = (tenant_id, conversation_id)
    second = _pacer.fold_second(key)
    if second is None:
        return
    # Raises TransientError when Cloud Tasks is away: the event is redelivered, and its duplicate
    # schedules the fold again (the share is already stored).
    tasks.enqueue(
        tasks.queue_name(SUMMARY_QUEUE),
        ids.doc_id("summary", tenant_id, conversation_id, str(second)),
        settings().deliver_url,
        {"action": "summary", "tenantId": tenant_id, "conversationId": conversation_id},
        datetime.fromtimestamp(second, UTC),
    )
    _pacer.folding(key, second)


def create_paced(tenant_id: str, conversation_id: str, write: Callable[[bool], bool]) -> bool:
    """Run ``write(direct)``, which creates a message with the summary written now (``direct``) or
    with its share of the summary deferred, and returns whether it created the message; pace it as
    inbound messages are (one direct summary write a second per conversation on this instance) and
    schedule the fold a deferred share (or a duplicate) needs. Returns whether the share was
    deferred. The caller has read the conversation (it exists). For the chat API's posts."""
    if not _coalescing():
        write(True)
        return False
    key = (tenant_id, conversation_id)
    direct = _pacer.write_now(key)
    created = False
    try:
        created = write(direct)
    finally:
        _pacer.settle(key, direct, created)
    if not created or not direct:
        _schedule_fold(tenant_id, conversation_id)
    return not direct


def fold_summary(tenant_id: str, conversation_id: str) -> str:
    """Fold the deferred shares of a conversation's summary into it (deliver runs this for a
    ``summary`` task); what happened, for deliver's log. Raises TransientError to be retried."""
    folded = 0

    def fold(summary: store.Versioned, parts: list[dict[str, Any]]) -> dict[str, Any]:
        inbound = [p for p in parts if not p.get("chat")]
        chat = [p for p in parts if p.get("chat")]
        update: dict[str, Any] = {}
        if inbound:
            # Before the batch that deletes the shares (a retry applies them again, harmlessly):
            # the events that arrived before these messages and were parked for them.
            message_landed(
                tenant_id, conversation_id, [str(p.get("providerMessageId") or "") for p in inbound]
            )
            update = _folded(summary, inbound)
        if chat:
            chat_update = _chat_folded(summary, chat)
            if inbound:  # both kinds in one conversation: count them all, keep the chat summary
                chat_update["messageCount"] = store.increment(len(parts))
            update = {**update, **chat_update}
        return update

    try:
        for _ in range(SUMMARY_FOLD_PAGES):
            count = store.fold_summary(
                tenant_id, conversation_id, fold, SUMMARY_FOLD_PAGE, SUMMARY_INTERVAL_SECONDS
            )
            folded += count
            if count < SUMMARY_FOLD_PAGE:
                return f"summary-folded-{folded}" if folded else "summary-current"
    except store.transient_errors() as exc:
        raise TransientError(f"Firestore unavailable while folding a summary: {type(exc).__name__}") from exc
    # More than a task should take at once: Cloud Tasks runs it again (after its backoff) for the rest.
    raise TransientError(f"folded {folded} shares of a summary; more are waiting")


def _folded(summary: store.Versioned, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary update that counts ``parts`` once: counts by Increment, times by Maximum, and
    the last message (and the last inbound one) only if not earlier, by provider time, than the
    summary's (a tie goes to the share, stored after what the summary shows).
    A customer's message reopens the conversation and counts unread only if it was stored after an
    agent last changed its status or read it, as it would have written directly."""
    current = summary.data

    def after(field: str, part: dict[str, Any]) -> bool:
        mark, stored = current.get(field), part.get("receivedAt")
        return mark is None or stored is None or stored > mark

    def order(part: dict[str, Any]) -> tuple[int, float, str]:
        # By provider time; providers stamp whole seconds (WhatsApp, Telegram), so within one the
        # later stored is the later message, as a direct write (last writer wins) would have it.
        stored = part.get("receivedAt")
        return int(part["atMs"]), stored.timestamp() if stored else 0.0, str(part["lastMessage"]["id"])

    latest = max(parts, key=order)
    update: dict[str, Any] = {
        **latest["base"],
        "updatedAt": store.server_time(),
        "messageCount": store.increment(len(parts)),
        "lastActivityAtMs": store.maximum(int(latest["atMs"])),
        "assigned": _assigned_flag(),
    }
    shown = current.get("lastMessage") or {}
    shown_at = shown.get("at")
    if shown_at is None or _ms(shown_at) <= int(latest["atMs"]):  # a tie: the share came later
        update["lastMessage"] = latest["lastMessage"]
        update["lastActivityAt"] = latest["lastMessage"]["at"]
    inbound = sorted((p for p in parts if p["direction"] == "in"), key=order)
    if not inbound:
        return update
    newest = inbound[-1]
    unread = sum(1 for part in inbound if after("lastReadAt", part))
    if unread:
        update["unreadCount"] = store.increment(unread)
    if any(after("statusChangedAt", part) for part in inbound):
        update["status"] = "open"
    update["lastInboundAtMs"] = store.maximum(int(newest["atMs"]))
    if int(newest["atMs"]) >= int(current.get("lastInboundAtMs") or -1):
        update["lastInboundAt"] = newest["lastMessage"]["at"]
        update["lastInbound"] = newest.get("lastInbound")
    windows = [p["replyWindow"] for p in inbound if p.get("replyWindow")]
    for field in sorted({f for window in windows for f in window if f != "needs"}):
        latest_expiry = max(int(window[field]) for window in windows if field in window)
        update[f"replyWindow.{field}"] = store.maximum(latest_expiry)
    if windows and windows[-1].get("needs"):
        update["replyWindow.needs"] = windows[-1]["needs"]
    named = [p["contactName"] for p in inbound if p.get("contactName")]
    if named:
        update["contactName"] = named[-1]
    return update


def _chat_folded(summary: store.Versioned, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The update that counts chat posts' shares once (shared/chat/api.py: ``chat_part``): ``seq``
    and ``messageCount`` by Increment, ``lastActivityAtMs`` by Maximum, and the last post only if
    not earlier than the one the summary shows; in a support channel, the agents' side (unread,
    reopened, the customer's latest activity) for the app user's posts."""
    current = summary.data

    def order(part: dict[str, Any]) -> tuple[int, float, str]:
        stored = part.get("receivedAt")
        return int(part["atMs"]), stored.timestamp() if stored else 0.0, str(part["lastPost"]["id"])

    latest = max(parts, key=order)
    update: dict[str, Any] = {
        "seq": store.increment(len(parts)),
        "messageCount": store.increment(len(parts)),
        "updatedAt": store.server_time(),
        "lastActivityAtMs": store.maximum(int(latest["atMs"])),
    }
    shown_ms = int(current.get("lastActivityAtMs") or -1)
    if shown_ms <= int(latest["atMs"]):
        update["lastMessage"] = latest["lastMessage"]
        update["lastPost"] = latest["lastPost"]
        update["lastMessageText"] = latest.get("lastMessageText")
        update["lastActivityAt"] = latest["lastMessage"]["at"]
    inbound = [p for p in parts if p.get("support")]
    if inbound:
        newest = max(inbound, key=order)
        update["status"] = "open"
        update["unreadCount"] = store.increment(len(inbound))
        update["lastInboundAt"] = newest["lastMessage"]["at"]
        update["lastInboundAtMs"] = store.maximum(int(newest["atMs"]))
        update["contactName"] = newest["support"].get("contactName")
    return update


def _echo(event: MessageEvent, route: store.Route) -> Outcome:
    """A message the business sent, echoed by Meta: ours (match it) or a human on Meta's own app."""
    conversation_id = ids.conversation_id(route.channel_id, event.contact_id)
    ours = None
    if event.echo_metadata and event.echo_metadata.startswith(ECHO_METADATA_PREFIX):
        ours = store.get_message(
            route.tenant_id, conversation_id, event.echo_metadata[len(ECHO_METADATA_PREFIX) :]
        )
    if ours is None:
        ours = store.find_message_by_provider_id(route.tenant_id, conversation_id, event.message_id)
    if ours is not None:
        extra = {} if ours.data.get("providerMessageId") else {"providerMessageId": event.message_id}
        store.advance_status(
            route.tenant_id, conversation_id, ours.message_id, "sent", event.occurred_at, extra
        )
        if extra:
            message_landed(route.tenant_id, conversation_id, event.message_id)
        return Outcome("duplicate", ours.message_id)
    our_app = settings().meta_app_id
    if our_app and event.echo_app_id == our_app:
        # Our own send whose provider id is not stored yet (deliver is a moment behind): retry later.
        raise TransientError("echo of our own send arrived before its message id was stored")
    message_id = ids.message_id(route.channel_id, event.message_id)
    sent_at = _when(event)
    sender = {"kind": "provider_app", "id": event.echo_app_id, "name": None}
    message = _message_document(event, route, "out", sender)
    message.update(
        {"status": "sent", "statusRank": store.STATUS_RANK["sent"], "statusHistory": {"sent": sent_at}}
    )
    last_message = {
        "id": message_id,
        "type": event.content.type,
        "text": message["text"],
        "direction": "out",
        "at": sent_at,
    }
    summary = {
        **_conversation_base(event, route),
        "lastMessage": last_message,
        "lastActivityAt": sent_at,
        "lastActivityAtMs": store.maximum(_ms(sent_at)),
        "messageCount": store.increment(1),
        "assigned": _assigned_flag(),
    }
    created, deferred, _ = _create_message(
        store.NewMessage(route.tenant_id, conversation_id, message_id, message, summary),
        _summary_part(event, route, last_message),
    )
    if created and not deferred:
        message_landed(route.tenant_id, conversation_id, event.message_id)
    return Outcome("created" if created else "duplicate", message_id)


def message_landed(tenant_id: str, conversation_id: str, provider_message_id: str | list[str]) -> int:
    """A message is now findable by ``provider_message_id``: apply the events parked for it (or for
    any of several: a fold lands a hot conversation's deferred messages together).

    Called when an inbound message is created and when a send stores the provider's id."""
    if not provider_message_id:
        return 0
    applied = 0
    for parked_id, event_json in store.parked_for(tenant_id, conversation_id, provider_message_id):
        event = decode_event(event_json)
        route = store.Route(tenant_id=tenant_id, channel_id=_channel_of(event))
        if isinstance(event, ReceiptEvent):
            _receipt(event, route, allow_park=False)
        elif isinstance(event, ReactionEvent | EditEvent | DeleteEvent):
            _targeted(event, route, allow_park=False)
        store.unpark(tenant_id, conversation_id, parked_id)
        applied += 1
    return applied


def _channel_of(event: InboundEvent) -> str:
    route = store.resolve_route(event.route_key)
    if route is None:
        raise TransientError(f"route {event.route_key} vanished while applying a parked event")
    return route.channel_id


# --- receipts and targeted events -----------------------------------------------------------------


def _find_target(
    route: store.Route, conversation_id: str, provider_message_id: str
) -> store.StoredMessage | None:
    inbound = store.get_message(
        route.tenant_id, conversation_id, ids.message_id(route.channel_id, provider_message_id)
    )
    if inbound is not None:
        return inbound
    return store.find_message_by_provider_id(route.tenant_id, conversation_id, provider_message_id)


def _park(event: InboundEvent, route: store.Route, conversation_id: str, target: str) -> Outcome:
    store.park(
        route.tenant_id,
        conversation_id,
        ids.parked_id(f"{event.event_id}:{target}"),
        target,
        event.model_dump_json(),
    )
    # The message may have landed between our lookup and the park: look once more, so the event
    # is never stranded. Applying twice is harmless (everything here is idempotent).
    if _find_target(route, conversation_id, target) is not None:
        message_landed(route.tenant_id, conversation_id, target)
        return Outcome("applied")
    return Outcome("parked")


def _receipt(event: ReceiptEvent, route: store.Route, allow_park: bool = True) -> Outcome:
    conversation_id = ids.conversation_id(route.channel_id, event.contact_id)
    extra: dict[str, Any] = {}
    if event.error is not None:
        extra["error"] = event.error.model_dump(exclude_none=True)
    if event.pricing:
        extra["pricing"] = event.pricing
    outcome = Outcome("ignored")
    for provider_id in event.message_ids:
        target = store.find_message_by_provider_id(route.tenant_id, conversation_id, provider_id)
        if target is None:
            outcome = _park(event, route, conversation_id, provider_id) if allow_park else outcome
            continue
        store.advance_status(
            route.tenant_id, conversation_id, target.message_id, event.status, event.occurred_at, extra
        )
        outcome = Outcome("applied", target.message_id)
    if event.watermark is not None and event.status in store.STATUS_RANK:
        for target in store.outbound_below(route.tenant_id, conversation_id, event.status, event.watermark):
            store.advance_status(
                route.tenant_id,
                conversation_id,
                target.message_id,
                event.status,
                event.occurred_at or event.watermark,
                extra,
            )
            outcome = Outcome("applied", target.message_id)
    return outcome


def _targeted(
    event: ReactionEvent | EditEvent | DeleteEvent, route: store.Route, allow_park: bool = True
) -> Outcome:
    conversation_id = ids.conversation_id(route.channel_id, event.contact_id)
    target = _find_target(route, conversation_id, event.target_message_id)
    if target is None:
        if allow_park:
            return _park(event, route, conversation_id, event.target_message_id)
        return Outcome("ignored")
    at = _when(event)
    update: dict[str, Any]
    if isinstance(event, ReactionEvent):
        who = "business" if event.from_business else "customer"
        update = {f"reactions.{who}": event.emoji if event.emoji else store.delete_field()}
    elif isinstance(event, EditEvent):
        update = {
            "content.text": event.text,
            "text": event.text or target.data.get("text"),
            "edited": True,
            "editedAt": at,
            "editHistory": store.array_union([{"text": target.data.get("text"), "replacedAt": at}]),
        }
    else:
        update = {"deleted": True, "deletedAt": at, "text": None, "content.text": store.delete_field()}
    if not isinstance(event, ReactionEvent):
        # The search terms follow the new text (none once deleted), in the same write; a message from
        # before search (not backfilled yet) gets its search fields here too.
        text = update["text"]
        after = {**target.data, "text": text, "content": {**(target.data.get("content") or {}), "text": text}}
        after["deleted"] = isinstance(event, DeleteEvent)
        sent = target.data.get("sentAt")
        sent_ms = target.data.get("sentAtMs") or (_ms(sent) if isinstance(sent, datetime) else _ms(at))
        update.update(search.message_fields(route.tenant_id, conversation_id, sent_ms, after))
    store.update_message(route.tenant_id, conversation_id, target.message_id, update)
    return Outcome("applied", target.message_id)


def _notice(event: ChannelNoticeEvent, route: store.Route) -> Outcome:
    health: dict[str, Any] = {"lastNoticeAt": _when(event), "lastNoticeTopic": event.topic}
    if event.error is not None:
        health["lastError"] = {**event.error.model_dump(exclude_none=True), "at": _when(event)}
        log.warning(
            "channel reported an error",
            extra={
                "fields": {"event": "channel_unhealthy", "channel": event.channel, "code": event.error.code}
            },
        )
    store.update_channel_health(route.tenant_id, route.channel_id, health)
    return Outcome("applied")


_health_touched: dict[str, float] = {}


def _touch_health(event: InboundEvent, route: store.Route) -> None:
    # lastWebhookAt on the channel document, at most once a minute per process: the channel
    # document would otherwise be a hot document written on every message.
    now = time.monotonic()
    key = f"{route.tenant_id}/{route.channel_id}"
    if _health_touched.get(key, 0.0) > now:
        return
    _health_touched[key] = now + HEALTH_TOUCH_SECONDS
    store.update_channel_health(route.tenant_id, route.channel_id, {"lastWebhookAt": store.server_time()})


def record_send(
    tenant_id: str,
    conversation_id: str,
    message_id: str,
    provider_message_id: str,
    at: datetime | None = None,
) -> None:
    """A send was accepted by the provider: store its id, mark it sent, and apply any receipt or
    reaction that arrived before we knew the id (providers can be faster than our own write)."""
    # The id is stored even when an echo or a receipt already moved the status past "sent".
    store.advance_status(
        tenant_id, conversation_id, message_id, "sent", at, always={"providerMessageId": provider_message_id}
    )
    message_landed(tenant_id, conversation_id, provider_message_id)
