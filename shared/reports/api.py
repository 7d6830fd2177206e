"""agent_api ``reports`` (admins): the figures of a date range for the admin console's reports page.

    {"action": "reports", "fromDay": "2026-12-01", "toDay": "2026-12-07", "channel": "<kind>"}
    -> {fromDay, toDay, timeZone, channel, channels: [kinds seen],
        totals: {opened, resolved, in, out, frt: {n, mean, median, p90}, res: {...},
                 csat: {ratings, average, percent, distribution: [count of 1, ..., count of 5]}},
        days: [{day, opened, resolved, in, out, frtMedian, frtP90, resMedian, resP90,
                csatRatings, csatAverage, csatPercent}],   every day
        hourOfWeek: {in: [[24 counts] x 7, Monday first], opened: [...]},
        breakdown: {channel|agent|team|label: [{key, name, opened, resolved, in, out, assigned,
                                                 frtMedian, frtP90, frtMean, resMedian, resP90,
                                                 csatRatings, csatAverage, csatPercent,
                                                 csatDistribution}]}}

One read of the day documents in the range (at most :data:`MAX_DAYS`), never of messages: the
figures are kept up to date by the fold. ``channel`` narrows totals, days and hours, and (from that
channel's own documents, ``reportChannels``: one more query) the breakdowns by agent, team and
label; the breakdown by channel is always every channel. Durations are seconds. CSAT: ``percent``
is the share of ratings of 4 or 5 (0-100), ``average`` the mean score; both None with no rating.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared import auth, store
from shared.auth import Caller
from shared.errors import Refused
from shared.reports import histogram, tally

MAX_DAYS = 366
DIMENSIONS = ("channel", "agent", "team", "label")
DAY_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


class ReportsQuery(BaseModel):
    """The body of agent_api ``reports``."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["reports"]
    fromDay: str = Field(pattern=DAY_PATTERN)
    toDay: str = Field(pattern=DAY_PATTERN)
    channel: str | None = Field(default=None, max_length=40)


def csat(scores: dict[str, Any]) -> dict[str, Any]:
    """Ratings, average, CSAT % (share of 4 and 5) and the distribution of a score count."""
    distribution = [max(0, int(scores.get(score, 0))) for score in tally.SCORES]
    ratings = sum(distribution)
    if not ratings:
        return {"ratings": 0, "average": None, "percent": None, "distribution": distribution}
    average = sum(count * (i + 1) for i, count in enumerate(distribution)) / ratings
    percent = 100 * (distribution[3] + distribution[4]) / ratings
    return {
        "ratings": ratings,
        "average": round(average, 2),
        "percent": round(percent, 1),
        "distribution": distribution,
    }


def _figures(figures: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {metric: int(figures.get(metric, 0)) for metric in (*tally.COUNTS, tally.ASSIGNED)}
    out[tally.CSAT] = csat(figures.get(tally.CSAT) or {})
    for metric in tally.DURATIONS:
        dist = figures.get(metric) or histogram.empty()
        out[metric] = {
            "n": int(dist.get("n", 0)),
            "mean": histogram.mean(dist),
            "median": histogram.quantile(dist, 0.5),
            "p90": histogram.quantile(dist, 0.9),
        }
    return out


def _add(into: dict[str, Any], figures: dict[str, Any]) -> None:
    for metric in (*tally.COUNTS, tally.ASSIGNED):
        into[metric] = int(into.get(metric, 0)) + int(figures.get(metric, 0))
    for metric in tally.DURATIONS:
        histogram.merge(into.setdefault(metric, histogram.empty()), figures.get(metric) or {})
    scores = into.setdefault(tally.CSAT, {})
    for score, count in (figures.get(tally.CSAT) or {}).items():
        scores[score] = int(scores.get(score, 0)) + int(count)


def _flat(key: str, name: str | None, figures: dict[str, Any]) -> dict[str, Any]:
    summary = _figures(figures)
    return {
        "key": key,
        "name": name or key,
        **{metric: summary[metric] for metric in tally.COUNTS},
        "assigned": summary[tally.ASSIGNED],
        "frtMedian": summary["frt"]["median"],
        "frtP90": summary["frt"]["p90"],
        "frtMean": summary["frt"]["mean"],
        "resMedian": summary["res"]["median"],
        "resP90": summary["res"]["p90"],
        "csatRatings": summary[tally.CSAT]["ratings"],
        "csatAverage": summary[tally.CSAT]["average"],
        "csatPercent": summary[tally.CSAT]["percent"],
        "csatDistribution": summary[tally.CSAT]["distribution"],
    }


def summarize(
    documents: list[dict[str, Any]],
    first: date,
    last: date,
    channel: str | None,
    channel_documents: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The page's figures from the day documents of ``first``..``last`` and, with ``channel``, that
    channel's documents of those days (pure)."""
    dim = f"channel:{channel}" if channel else "all"
    by_day = {doc.get("day"): doc for doc in documents}
    scoped = {doc.get("day"): doc for doc in channel_documents or [] if doc.get("channel") == channel}
    total: dict[str, Any] = {}
    days = []
    hour_of_week = {metric: [[0] * 24 for _ in range(7)] for metric in ("in", "opened")}
    groups: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in DIMENSIONS}
    channels: set[str] = set()
    day = first
    while day <= last:
        doc = by_day.get(day.isoformat()) or {}
        figures = (doc.get("dims") or {}).get(dim) or {}
        _add(total, figures)
        flat = _flat(day.isoformat(), None, figures)
        days.append({"day": day.isoformat(), **{k: v for k, v in flat.items() if k not in ("key", "name")}})
        for hour, counts in ((doc.get("hours") or {}).get(dim) or {}).items():
            for metric, rows in hour_of_week.items():
                rows[day.weekday()][int(hour)] += int(counts.get(metric, 0))
        # By channel: every channel, from the day document; by agent, team and label: from the day
        # document, or with a channel chosen from that channel's own document.
        breakdowns = [(doc, ("channel",) if channel else DIMENSIONS)]
        if channel:
            breakdowns.append((scoped.get(day.isoformat()) or {}, ("agent", "team", "label")))
        for source, kinds in breakdowns:
            for key, dim_figures in (source.get("dims") or {}).items():
                kind, _, value = key.partition(":")
                if kind in kinds:
                    _add(groups[kind].setdefault(value, {}), dim_figures)
                if kind == "channel":
                    channels.add(value)
        day += timedelta(days=1)
    return {
        "channel": channel,
        "channels": sorted(channels),
        "totals": _figures(total),
        "days": days,
        "hourOfWeek": hour_of_week,
        "breakdown": {
            kind: sorted(
                (_flat(value, None, figures) for value, figures in found.items()),
                key=lambda row: (-row["opened"] - row["in"] - row["out"], row["key"]),
            )
            for kind, found in groups.items()
        },
    }


def _names(tenant_id: str, breakdown: dict[str, list[dict[str, Any]]]) -> None:
    labels = store.list_labels(tenant_id) if breakdown["label"] else {}
    for row in breakdown["label"]:
        row["name"] = (labels.get(row["key"]) or {}).get("name") or row["key"]
    for row in breakdown["agent"][:100]:
        agent = store.get_agent(tenant_id, row["key"]) or {}
        row["name"] = agent.get("name") or agent.get("email") or row["key"]


def agent_action(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``reports`` (admins)."""
    query = ReportsQuery.model_validate(body)
    auth.require_admin(caller, "reports")
    try:
        first, last = date.fromisoformat(query.fromDay), date.fromisoformat(query.toDay)
    except ValueError as exc:
        raise Refused("invalid_day", "fromDay and toDay are dates, YYYY-MM-DD", 422) from exc
    if last < first:
        raise Refused("invalid_range", "toDay is before fromDay", 422)
    if (last - first).days + 1 > MAX_DAYS:
        raise Refused("range_too_long", f"at most {MAX_DAYS} days at a time", 422)
    documents = store.list_report_days(caller.tenant_id, first.isoformat(), last.isoformat())
    scoped = (
        store.list_report_channel_days(caller.tenant_id, query.channel, first.isoformat(), last.isoformat())
        if query.channel
        else []
    )
    answer = summarize(documents, first, last, query.channel, scoped)
    _names(caller.tenant_id, answer["breakdown"])
    zone = next((doc.get("timeZone") for doc in documents if doc.get("timeZone")), None)
    return {"fromDay": first.isoformat(), "toDay": last.isoformat(), "timeZone": zone or "UTC", **answer}
