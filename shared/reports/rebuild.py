"""The reports again from the messages: ``python -m shared.cli rebuild-reports --tenant T [--from
YYYY-MM-DD --to YYYY-MM-DD]``.

It reads every message of the tenant in the fold's order (``reportAt``), counts them with the same
code as the fold (shared/reports/tally.py), and replaces the day documents of the range asked for
(every day without a range), every conversation's report state and the fold's place. The place is
written last, under a precondition on the place read first: a fold that ran meanwhile makes the
rebuild start again, so the figures and the place always agree. Messages written before reports
existed carry no ``reportAt`` and are not counted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared import store
from shared.errors import TransientError
from shared.reports import fold, tally

READ_PAGE = 1000
REBUILD_ATTEMPTS = 5


def rebuild(tenant_id: str, first_day: str | None = None, last_day: str | None = None) -> dict[str, Any]:
    """Rebuild the tenant's reports; what was done (messages counted, days written)."""
    for _ in range(REBUILD_ATTEMPTS):
        version = store.get_report_fold(tenant_id)
        zone = tally.zone(fold.time_zone(tenant_id))
        before = datetime.now(UTC) - timedelta(seconds=fold.SETTLE_SECONDS)
        days: dict[str, dict[str, Any]] = {}
        states: dict[str, dict[str, Any]] = {}
        place: dict[str, Any] = {"afterAt": None, "afterIds": []}
        counted = 0
        while True:
            after_at, after_ids = place["afterAt"], set(place["afterIds"])
            found = store.report_messages(tenant_id, after_at, before, READ_PAGE + len(after_ids))
            fresh = sorted(
                (m for m in found if not (m.data.get("reportAt") == after_at and fold.key(m) in after_ids)),
                key=fold.order,
            )
            if not fresh:
                break
            page_days, _, last_at, last_ids = fold.count(tenant_id, zone, fresh, states)
            for day, delta in page_days.items():
                days[day] = tally.merge_day(days.get(day), delta)
            if last_at == after_at:
                last_ids |= after_ids
            place = {"afterAt": last_at, "afterIds": sorted(last_ids)}
            counted += len(fresh)
        first, last = first_day or "0000-00-00", last_day or "9999-99-99"
        chosen = {day: doc for day, doc in days.items() if first <= day <= last}
        store.replace_report_days(tenant_id, first, last, chosen)
        store.replace_report_states(tenant_id, states)
        if place["afterAt"] is None:
            return {"tenantId": tenant_id, "messages": 0, "days": len(chosen)}
        place["foldedAt"] = store.server_time()
        if store.commit_report_fold(tenant_id, version, place, {}, {}):
            return {"tenantId": tenant_id, "messages": counted, "days": len(chosen)}
    raise TransientError("the reports kept changing while rebuilding (folds running): try again")
