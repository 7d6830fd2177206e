"""The incremental fold: the messages committed since the last fold, counted into the report day
documents, at most once a second per tenant.

Writes. Nothing on the message path but one field, ``reportAt`` (the server time), in the create the
message writes anyway: **0 added document writes per message**. The fold writes each day document it
touched (usually today's: one), the conversation states that changed (an opening, a first reply, a
resolution, an assignment or label change: not an ordinary message in an open conversation) and its
own place, once per run; runs are one a second per tenant at most (:func:`schedule` names one task
per tenant and second, and a fold less than a second after the last commit defers itself), so
no report document is written more than once a second however many messages arrive.

Exactly once. A message is created once (its id is deterministic; a redelivered event is a
duplicate and writes nothing), and the fold counts it in the same batch that moves the fold's place
past it, under a precondition on the place document: a fold retried by Cloud Tasks, or two folds at
once, never count a message twice. Messages committed in the last :data:`SETTLE_SECONDS` are left to
the next fold, so a commit still in flight is never skipped.

Rebuilds. While ``python -m shared.cli rebuild-reports`` replaces the figures it holds a lease on the
fold's place (``_fold.rebuild``, renewed as it reads); a fold that finds it waits
(:data:`PAUSED_RETRY_SECONDS`) and goes on from the place the rebuild hands back
(shared/reports/rebuild.py). A lease left by a rebuild that died expires.

Batch size. A fold writes its place, each day document and channel document it touched and each
state that changed, in one batch of at most 500 writes: a page that would need more (old messages
spread over many days) is counted in parts, the rest in the next second's fold.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import ids, store
from shared.config import settings
from shared.errors import TransientError
from shared.reports import tally

log = logging.getLogger(__name__)

SETTLE_SECONDS = 2.0  # messages committed this recently wait for the next fold
FOLD_PAGE = 300  # messages one fold batch counts (its writes: days + states + 1, under 500)
FOLD_SPACING_SECONDS = 1.0  # Firestore sustains about one write per second per document
QUEUE = "timers"  # topology.json queues.timers
PAUSED_RETRY_SECONDS = 5  # a fold that finds a rebuild's lease tries again this much later

_scheduled: dict[str, float] = {}
_lock = threading.Lock()


def schedule(tenant_id: str, now: float | None = None) -> bool:
    """Make sure a fold of ``tenant_id`` runs late enough to count a message committed by now: a
    Cloud Task on the timers queue named after the tenant and the whole second it runs at, so every
    message and instance of that second names the same task. This instance remembers the fold it
    queued and does not call Cloud Tasks again for messages that fold will count. False when no
    fold can run (a local stack without deliver) or none was needed."""
    deliver_url = settings().deliver_url
    if not deliver_url:
        return False
    now = time.time() if now is None else now
    with _lock:
        if _scheduled.get(tenant_id, -math.inf) > now + SETTLE_SECONDS:
            return False
    second = math.ceil(now + SETTLE_SECONDS) + 1
    _queue(tenant_id, second)
    with _lock:
        _scheduled[tenant_id] = max(_scheduled.get(tenant_id, -math.inf), second)
        if len(_scheduled) > 10_000:
            _scheduled.clear()
    return True


def schedule_quietly(tenant_id: str) -> None:
    """:func:`schedule` after an agent's change has committed: a Cloud Tasks error is logged, never
    the agent's (the next fold of the tenant counts the change anyway)."""
    try:
        schedule(tenant_id)
    except Exception as exc:  # noqa: BLE001 - the change is stored; its figures can wait
        log.warning(
            "could not queue the reports fold",
            extra={"fields": {"event": "reports_fold_not_queued", "error": type(exc).__name__}},
        )


def _queue(tenant_id: str, second: int, again: bool = False) -> None:
    """The named fold task of ``second`` (``again``: a fold that came too soon, under its own name,
    since the regular task of that second may have run already)."""
    from shared import tasks

    tasks.enqueue(
        tasks.queue_name(QUEUE),
        ids.doc_id("reports", tenant_id, str(second), *(("again",) if again else ())),
        settings().deliver_url,
        {"action": "reports", "tenantId": tenant_id, "conversationId": "-"},
        datetime.fromtimestamp(second, UTC),
    )


def forget_schedule() -> None:
    """Forget the folds this instance queued (tests)."""
    with _lock:
        _scheduled.clear()


def time_zone(tenant_id: str) -> str | None:
    """The tenant's time zone setting (``settings.timeZone``), if any."""
    tenant = store.get_tenant(tenant_id) or {}
    zone = (tenant.get("settings") or {}).get("timeZone")
    return zone if isinstance(zone, str) else None


def key(message: store.ReportMessage) -> str:
    return f"{message.conversation_id}/{message.message_id}"


def order(message: store.ReportMessage) -> tuple[Any, str]:
    return (message.data.get("reportAt"), key(message))


def fold(tenant_id: str, now: datetime | None = None) -> str:
    """Count the messages committed since the last fold (one page); what happened, for deliver's
    log. A fold never waits: one that comes less than :data:`FOLD_SPACING_SECONDS` after the last
    commit queues itself for the next second instead, and a backlog goes on in the next second's."""
    zone = tally.zone(time_zone(tenant_id))
    counted, more = _fold_page(tenant_id, zone, now)
    if counted == PAUSED:
        _queue(tenant_id, math.ceil(time.time() + PAUSED_RETRY_SECONDS), again=True)
        return "reports-paused-for-rebuild"
    if counted is None:
        _queue(tenant_id, math.ceil(time.time() + FOLD_SPACING_SECONDS), again=True)
        return "reports-deferred"
    if more:
        _queue(tenant_id, math.ceil(time.time() + FOLD_SPACING_SECONDS))
        return f"reports-folded-{counted}-more"
    return f"reports-folded-{counted}"


PAUSED = -1  # _fold_page's count when a rebuild holds the lease


def leased(place: dict[str, Any], now_ms: float | None = None) -> bool:
    """Whether a rebuild holds the fold's place (its lease not expired)."""
    lease = place.get("rebuild")
    if not isinstance(lease, dict):
        return False
    until = lease.get("untilMs")
    now_ms = time.time() * 1000 if now_ms is None else now_ms
    return isinstance(until, int | float) and until > now_ms


def _fold_page(tenant_id: str, zone: Any, now: datetime | None) -> tuple[int | None, bool]:
    """(messages counted, whether more wait); (None, False) when the last fold committed less than
    a second ago; (:data:`PAUSED`, False) while a rebuild holds the place."""
    for _ in range(store.PRECONDITION_RETRIES):
        version = store.get_report_fold(tenant_id)
        if leased(version.data):
            return PAUSED, False
        if version.exists and version.update_time is not None:
            age = (datetime.now(UTC) - version.update_time).total_seconds()
            if age < FOLD_SPACING_SECONDS:
                return None, False
        place = version.data or {}
        after_at = place.get("afterAt")
        after_ids = set(place.get("afterIds") or [])
        before = (now or datetime.now(UTC)) - timedelta(seconds=SETTLE_SECONDS)
        found = store.report_messages(tenant_id, after_at, before, FOLD_PAGE + len(after_ids))
        fresh = sorted(
            (m for m in found if not (m.data.get("reportAt") == after_at and key(m) in after_ids)),
            key=order,
        )
        if not fresh:
            return 0, False
        total = len(fresh)
        counted = count(tenant_id, zone, fresh)
        while (
            store.report_fold_writes(counted.days, counted.channels, counted.states)
            > store.REPORT_BATCH_WRITES
        ):
            fresh = fresh[: len(fresh) // 2]  # too many documents for one batch: count fewer now
            counted = count(tenant_id, zone, fresh)
        stored = store.get_report_days(tenant_id, list(counted.days))
        merged = {day: tally.merge_day(stored.get(day), delta) for day, delta in counted.days.items()}
        stored_channels = store.get_report_channel_days(tenant_id, list(counted.channels))
        channels = {
            doc_id: tally.merge_day(stored_channels.get(doc_id), delta)
            for doc_id, delta in counted.channels.items()
        }
        last_ids = counted.last_ids | after_ids if counted.last_at == after_at else counted.last_ids
        place = {"afterAt": counted.last_at, "afterIds": sorted(last_ids), "foldedAt": store.server_time()}
        if store.commit_report_fold(tenant_id, version, place, merged, counted.states, channels):
            more = len(found) >= FOLD_PAGE + len(after_ids) or len(fresh) < total
            return len(fresh), more
    raise TransientError(f"the reports of tenant {tenant_id} kept changing while folding")


@dataclass
class Counted:
    """Messages counted into deltas: the day documents and channel documents, the conversation
    states that changed, the last ``reportAt`` counted and the messages counted at exactly it."""

    days: dict[str, dict[str, Any]]
    channels: dict[str, dict[str, Any]]
    states: dict[str, dict[str, Any]]
    last_at: Any
    last_ids: set[str]


def count(
    tenant_id: str,
    zone: Any,
    messages: list[store.ReportMessage],
    states: dict[str, dict[str, Any]] | None = None,
) -> Counted:
    """Count ``messages`` (in order) into day deltas. ``states`` given (the rebuild): start from
    those and update them in place; else read them."""
    conversation_ids = list(dict.fromkeys(m.conversation_id for m in messages))
    if states is None:
        states = store.get_report_states(tenant_id, conversation_ids)
    conversations: dict[str, dict[str, Any] | None] = dict(
        store.get_conversations_for_reports(tenant_id, conversation_ids)
    )
    figures = tally.Tally(zone)
    changed: set[str] = set()
    for message in messages:
        if tally.apply(figures, states, conversations, tally.Message(message.conversation_id, message.data)):
            changed.add(message.conversation_id)
    last_at = messages[-1].data.get("reportAt")
    last_ids = {key(m) for m in messages if m.data.get("reportAt") == last_at}
    return Counted(figures.days, figures.channels, {cid: states[cid] for cid in changed}, last_at, last_ids)
