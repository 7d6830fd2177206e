"""Reports under load: ``--rate`` inbound messages a second (default 50) into one tenant, from
``--customers`` customers, through the real Messenger webhook, Pub/Sub, ingest, Cloud Tasks and
deliver (which runs the reports' fold, shared/reports/fold.py), and what that costs in writes.

Every Firestore write of the stack's functions is logged (bench/hot_conversation.py's meter), so it
prints, per kind of document: how many writes, and the most one document took in any one second
(sliding window); the report documents' writes per inbound message; and how long after the burst
the figures counted every message.

    python -m bench.reports [--rate 50] [--seconds 6] [--customers 20]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.hot_conversation import messenger_body, metered_stack, per_document, poster, read, wait_for
from bench.stats import report

REPORT_KINDS = ("reports", "reportChannels", "reportConversations")


def counted_in(tenant_id: str) -> int:
    """Inbound messages the report day documents count (all days)."""
    from shared import store

    days = store.list_report_days(tenant_id, "0000-00-00", "9999-99-99")
    return sum(int(((doc.get("dims") or {}).get("all") or {}).get("in", 0)) for doc in days)


def landed(tenant_id: str) -> int:
    """Messages of the tenant in Firestore (one aggregation query)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    from shared import store

    query = store.client().collection_group("messages").where(filter=FieldFilter("tenantId", "==", tenant_id))
    return int(query.count().get()[0][0].value)


def fold_seconds(tenant_id: str) -> float:
    """How long one fold's reads take now (the query of messages since its place and the states)."""
    from datetime import UTC, datetime

    from shared import store

    started = time.perf_counter()
    place = store.get_report_fold(tenant_id).data or {}
    store.report_messages(tenant_id, place.get("afterAt"), datetime.now(UTC), 300)
    return round(time.perf_counter() - started, 3)


def run(rate: int = 50, seconds: float = 6.0, customers: int = 20, per_post: int = 5) -> dict[str, Any]:
    """Send the burst and return the figures."""
    from infra.local import demo

    page = next(c for c in demo.DEMO_CHANNELS if c.kind == "messenger")
    total = int(rate * seconds)
    with tempfile.TemporaryDirectory(prefix="reports-bench-") as folder:
        log_path = Path(folder) / "writes.log"
        with metered_stack(log_path, coalesced=True) as stack:
            post = poster(stack)
            tag = time.time_ns()
            started = time.time()
            base_ms = int(started * 1000)
            for first in range(0, total, per_post):
                time.sleep(max(0.0, started + first / rate - time.time()))  # pacing
                psid = f"report-{tag}-{(first // per_post) % customers}"
                items = [
                    (f"m_rep_{tag}_{i}", f"report {i}", base_ms + int(i * 1000 / rate))
                    for i in range(first, min(total, first + per_post))
                ]
                post(json.dumps(messenger_body(page.external_id, psid, items)).encode())
            ended = time.time()
            landed_at = wait_for(lambda: landed(demo.DEMO_TENANT) >= total, 120.0)
            query_seconds = fold_seconds(demo.DEMO_TENANT)
            counted_at = wait_for(lambda: counted_in(demo.DEMO_TENANT) >= total, 120.0)
            writes = read(log_path, started, (counted_at or time.time()) + 0.5)
    window = max((counted_at or time.time()) - started, seconds)
    documents = per_document(writes, window)
    report_writes = sum((documents.get(k) or {}).get("writes", 0) for k in REPORT_KINDS)
    other_writes = sum(v["writes"] for k, v in documents.items() if k not in REPORT_KINDS)
    figures = {
        "messages": total,
        "rate_per_second": rate,
        "customers": customers,
        "burst_seconds": round(ended - started, 2),
        "all_counted": counted_at is not None,
        "landed_after_burst_seconds": None if landed_at is None else round(landed_at - ended, 2),
        "fold_query_seconds_at_the_end": query_seconds,
        "counted_after_burst_seconds": None if counted_at is None else round(counted_at - ended, 2),
        "report_writes_per_message": round(report_writes / total, 3),
        "other_writes_per_message": round(other_writes / total, 3),
        "report_day_document_max_writes_in_any_second": (documents.get("reports") or {}).get(
            "max_writes_in_any_second"
        ),
        "max_writes_in_any_second_on_one_document_but_messages": max(
            (v["max_writes_in_any_second"] for k, v in documents.items() if k != "message"), default=0
        ),
        "writes": documents,
    }
    report("reports", figures)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--customers", type=int, default=20)
    args = parser.parse_args(argv)
    run(args.rate, args.seconds, args.customers)


if __name__ == "__main__":
    main()
