"""The reports again from the messages: ``python -m shared.cli rebuild-reports --tenant T [--from
YYYY-MM-DD --to YYYY-MM-DD]``.

It counts every message of the tenant with the same code as the fold (shared/reports/tally.py) and
replaces the day documents and channel documents of the range asked for (every day without a
range) and every conversation's report state.

Under live traffic. The rebuild first takes a lease on the fold's place (``_fold.rebuild``, under a
precondition, renewed while it reads): folds that find it wait and count nothing. The rebuild then
counts up to that fixed place, exactly the messages the fold had counted (``reportAt`` up to
``afterAt``, and at ``afterAt`` only those in ``afterIds``), writes the figures and releases the
lease leaving the place where it was, and the fold goes on from there with the messages that
arrived meanwhile. Nothing is counted twice or skipped however fast messages arrive, and the
rebuild's work is bounded by what existed when it started: it converges. (With no fold yet, it
counts up to a couple of seconds ago and sets the place there.) A rebuild that dies leaves its
lease to expire (:data:`LEASE_SECONDS`); one that loses it (it could not renew in time) stops with
an error and may be run again.

Messages stored before reports existed (no ``reportAt``, perhaps no ``tenantId``) are counted too,
first, conversation by conversation in ``sentAt`` order: they are older than every message carrying
``reportAt``, and a conversation's figures depend only on its own messages' order.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import store
from shared.errors import TransientError
from shared.reports import fold, tally

READ_PAGE = 1000
LEASE_SECONDS = 120.0
RENEW_AFTER_SECONDS = 20.0  # the lease is written again this often while reading (1 write/s/doc)
LEGACY_SLACK = timedelta(hours=1)  # provider clocks ahead of ours: legacy sentAt up to this late


class LeaseLost(TransientError):
    """The rebuild's lease was taken over (it expired): nothing more is written."""


@dataclass
class Lease:
    """A rebuild's hold on the fold's place, and the version its next write tests."""

    tenant_id: str
    holder: str
    version: store.Versioned
    renewed: float = 0.0

    @classmethod
    def take(cls, tenant_id: str) -> Lease:
        holder = uuid.uuid4().hex
        for _ in range(store.PRECONDITION_RETRIES):
            current = store.get_report_fold(tenant_id)
            if fold.leased(current.data):
                raise TransientError("another rebuild of these reports is running: try again later")
            taken = store.lease_report_fold(tenant_id, current, _lease(holder))
            if taken is not None:
                return cls(tenant_id, holder, taken, time.monotonic())
        raise TransientError("the reports' fold kept moving: could not start the rebuild")

    def renew(self, force: bool = False) -> None:
        if not force and time.monotonic() - self.renewed < RENEW_AFTER_SECONDS:
            return
        renewed = store.lease_report_fold(self.tenant_id, self.version, _lease(self.holder))
        if renewed is None:
            raise LeaseLost("the rebuild's lease expired and a fold went on: run the rebuild again")
        self.version, self.renewed = renewed, time.monotonic()


def _lease(holder: str) -> dict[str, Any]:
    return {"id": holder, "untilMs": int((time.time() + LEASE_SECONDS) * 1000)}


@dataclass
class Figures:
    """The figures being rebuilt."""

    days: dict[str, dict[str, Any]]
    channels: dict[str, dict[str, Any]]
    states: dict[str, dict[str, Any]]
    messages: int = 0

    def add(self, tenant_id: str, zone: Any, messages: list[store.ReportMessage]) -> fold.Counted:
        counted = fold.count(tenant_id, zone, messages, self.states)
        for day, delta in counted.days.items():
            self.days[day] = tally.merge_day(self.days.get(day), delta)
        for doc_id, delta in counted.channels.items():
            self.channels[doc_id] = tally.merge_day(self.channels.get(doc_id), delta)
        self.messages += len(messages)
        return counted


def rebuild(tenant_id: str, first_day: str | None = None, last_day: str | None = None) -> dict[str, Any]:
    """Rebuild the tenant's reports; what was done (messages counted, of them legacy ones, days
    written)."""
    lease = Lease.take(tenant_id)
    start = lease.version.data
    zone = tally.zone(fold.time_zone(tenant_id))
    figures = Figures({}, {}, {})
    legacy = _count_legacy(tenant_id, zone, figures, lease)
    place = _count_up_to(
        tenant_id, zone, figures, lease, start.get("afterAt"), set(start.get("afterIds") or [])
    )
    first, last = first_day or "0000-00-00", last_day or "9999-99-99"
    chosen = {day: doc for day, doc in figures.days.items() if first <= day <= last}
    channels = {i: doc for i, doc in figures.channels.items() if first <= str(doc.get("day")) <= last}
    lease.renew(force=True)  # the writes below start with a full lease
    store.replace_report_days(tenant_id, first, last, chosen, channels)
    store.replace_report_states(tenant_id, figures.states)
    place = {**place, "foldedAt": store.server_time(), "rebuild": store.delete_field()}
    if not store.commit_report_fold(tenant_id, lease.version, place, {}, {}):
        raise LeaseLost("the rebuild's lease expired while it wrote: run the rebuild again")
    fold.schedule_quietly(tenant_id)  # the messages that arrived meanwhile
    return {
        "tenantId": tenant_id,
        "messages": figures.messages,
        "legacyMessages": legacy,
        "days": len(chosen),
    }


def _count_legacy(tenant_id: str, zone: Any, figures: Figures, lease: Lease) -> int:
    """Count the messages without ``reportAt``; how many."""
    first = store.first_report_at(tenant_id)
    before = first + LEGACY_SLACK if first is not None else datetime.now(UTC)
    counted = 0
    for conversation_id in store.support_conversation_ids(tenant_id):
        for page in store.legacy_report_messages(tenant_id, conversation_id, before, READ_PAGE):
            old = [m for m in page if "reportAt" not in m.data]
            if old:
                figures.add(tenant_id, zone, old)
                counted += len(old)
            lease.renew()
    return counted


def _count_up_to(
    tenant_id: str, zone: Any, figures: Figures, lease: Lease, through_at: Any, through_ids: set[str]
) -> dict[str, Any]:
    """Count the messages carrying ``reportAt`` up to the fold's place (``through_at`` and, at that
    time, ``through_ids``); with no place, up to :data:`fold.SETTLE_SECONDS` ago. The place the
    fold goes on from."""
    if through_at is not None:
        before = through_at + timedelta(microseconds=1)
    else:
        before = datetime.now(UTC) - timedelta(seconds=fold.SETTLE_SECONDS)

    def counted_by_the_fold(message: store.ReportMessage) -> bool:
        at = message.data.get("reportAt")
        return (
            through_at is None or at < through_at or (at == through_at and fold.key(message) in through_ids)
        )

    after_at: Any = None
    after_ids: set[str] = set()
    while True:
        found = store.report_messages(tenant_id, after_at, before, READ_PAGE + len(after_ids))
        fresh = sorted(
            (
                m
                for m in found
                if not (m.data.get("reportAt") == after_at and fold.key(m) in after_ids)
                and counted_by_the_fold(m)
            ),
            key=fold.order,
        )
        if not fresh:
            break
        counted = figures.add(tenant_id, zone, fresh)
        after_ids = counted.last_ids | after_ids if counted.last_at == after_at else counted.last_ids
        after_at = counted.last_at
        lease.renew()
    if through_at is not None:
        return {"afterAt": through_at, "afterIds": sorted(through_ids)}
    return {"afterAt": after_at, "afterIds": sorted(after_ids)}
