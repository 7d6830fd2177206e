"""What one inbound message costs, counted rather than assumed.

Runs the real ``webhook_whatsapp`` target and the real ``ingest`` handler in this process against
the Firestore and Pub/Sub emulators and counts, for every message:

- Firestore document reads and writes, at the client library's RPC layer (``FirestoreClient``:
  ``commit`` writes, documents returned by ``batch_get_documents`` / ``run_query``, where a query
  that returns nothing is billed one read, and aggregation queries);
- function invocations (one webhook POST per message: the worst case, Meta batches under load);
- Pub/Sub bytes as billed: each publish request at least 1,000 bytes, and each push delivery (one
  message per request) at least 1,000 bytes;
- the handlers' wall time, for the compute part of the price;
- the agents' listener reads: :data:`AGENTS` agents with the inbox open, each a real Firestore
  listener on the dashboard's inbox query; Firestore bills one read per changed document in each
  listener's snapshots, which is what is counted (a snapshot that coalesces two updates of one
  conversation bills, and counts, one).

:func:`bench.report.cost_per_million` turns these into USD per 1 million inbound messages.

    python -m bench.cost [--messages 300]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from bench.payloads import signed_poster
from bench.stats import report
from infra.local import demo
from infra.local.stack import LocalStack

CONTACTS = 30  # customers writing: most messages take the common path (the conversation exists)
AGENTS = 3  # agents with the inbox open while the messages arrive
INBOX_PAGE = 50  # the dashboard's inbox query: support conversations by last activity, 50 at a time
PUBSUB_MIN_BILLABLE = 1000  # bytes, per publish request and per push request
# The field of a streamed response that carries a billed document (or aggregation result).
BILLED_FIELD = {"batch_get_documents": "found", "run_query": "document", "run_aggregation_query": "result"}


class FirestoreMeter:
    """Counts billed document reads and writes by wrapping the Firestore client's RPC methods."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    @contextmanager
    def installed(self) -> Iterator[FirestoreMeter]:
        from google.cloud.firestore_v1.services.firestore.client import FirestoreClient

        originals: dict[str, Callable[..., Any]] = {}

        def wrap(name: str, count: Callable[[Any, Any], None], streaming: bool) -> None:
            original = getattr(FirestoreClient, name)
            originals[name] = original

            def counted(client: Any, *args: Any, **kwargs: Any) -> Any:
                request = kwargs.get("request", args[0] if args else None)
                answer = original(client, *args, **kwargs)
                if not streaming:
                    count(request, answer)
                    return answer
                return self._counting_stream(name, answer, count, request)

            setattr(FirestoreClient, name, counted)

        wrap("commit", lambda request, answer: self._add("writes", _write_count(request)), False)
        wrap("batch_write", lambda request, answer: self._add("writes", _write_count(request)), False)
        wrap("get_document", lambda request, answer: self._add("reads", 1), False)
        wrap("batch_get_documents", lambda request, response: None, True)
        wrap("run_query", lambda request, response: None, True)
        wrap("run_aggregation_query", lambda request, response: None, True)
        try:
            yield self
        finally:
            for name, original in originals.items():
                setattr(FirestoreClient, name, original)

    def _add(self, kind: str, amount: int) -> None:
        self.counts[kind] += amount

    def _counting_stream(self, name: str, stream: Any, count: Any, request: Any) -> Iterator[Any]:
        documents = 0
        try:
            for response in stream:
                # An aggregation is billed one read per batch of up to 1,000 index entries.
                if response._pb.HasField(BILLED_FIELD[name]):
                    documents += 1
                    if name == "batch_get_documents":
                        # Counted as it arrives: DocumentReference.get takes the first response
                        # and leaves the stream unfinished. A missing document is not billed.
                        self._add("reads", 1)
                yield response
        finally:  # also when the caller stops early (the generator is closed)
            if name != "batch_get_documents":
                self._add("reads", max(documents, 1))  # a query answering nothing is billed one read


def _write_count(request: Any) -> int:
    """Writes in a commit request (the library passes a dict or a CommitRequest)."""
    writes = request.get("writes") if isinstance(request, dict) else request.writes
    return len(writes or [])


class InboxListeners:
    """``agents`` real listeners on the dashboard's inbox query, counting the billed reads: every
    document change their snapshots deliver after :meth:`start_counting`."""

    def __init__(self, tenant_id: str, agents: int) -> None:
        from google.cloud.firestore_v1.base_query import FieldFilter

        from shared import store

        self._counting = False
        self.reads = 0
        self._snapshots = 0
        self._agents = agents
        self._watches = []
        query = (
            store.client()
            .collection("tenants")
            .document(tenant_id)
            .collection("conversations")
            .where(filter=FieldFilter("kind", "==", "support"))
            .order_by("lastActivityAtMs", direction="DESCENDING")
            .limit(INBOX_PAGE)
        )
        for _ in range(agents):
            self._watches.append(query.on_snapshot(self._on_snapshot))

    def _on_snapshot(self, snapshots: list[Any], changes: list[Any], read_time: Any) -> None:
        self._snapshots += 1
        if self._counting:
            self.reads += len(changes)

    def start_counting(self, timeout: float = 30.0) -> None:
        """Count from now on, once every listener has its initial snapshot (the page load, one
        read per document shown, is not part of a message's cost)."""
        deadline = time.monotonic() + timeout
        while self._snapshots < self._agents and time.monotonic() < deadline:
            time.sleep(0.02)
        self._counting = True

    def settle(self, expected: int, timeout: float = 30.0) -> int:
        """Wait until ``expected`` reads arrived or the count stops moving for a second; return it."""
        deadline = time.monotonic() + timeout
        last, still_since = -1, time.monotonic()
        while time.monotonic() < deadline and self.reads < expected:
            if self.reads != last:
                last, still_since = self.reads, time.monotonic()
            elif time.monotonic() - still_since > 1.0:
                break
            time.sleep(0.05)
        return self.reads

    def close(self) -> None:
        for watch in self._watches:
            watch.unsubscribe()


def _whatsapp_message(i: int) -> dict[str, Any]:
    from bench.payloads import whatsapp_batch

    body = whatsapp_batch(1, contacts=1, text=f"Hi, where is my order #{10_000 + i}? It was due on Monday.")
    value = body["entry"][0]["changes"][0]["value"]
    wa_id = f"1555444{i % CONTACTS:04d}"
    value["contacts"] = [{"profile": {"name": f"Customer {i % CONTACTS}"}, "wa_id": wa_id}]
    value["messages"][0]["from"] = wa_id
    return body


SEARCH_FIELDS = ("tenantId", "conversationId", "sentAtMs", "terms")
# Firestore's storage list price (USD per GiB-month), assumed here for the estimate below: check
# Google's price list for the location (regional locations cost less than multi-region ones).
STORAGE_GIB_MONTH = 0.18
INDEX_ENTRY_OVERHEAD = 32  # bytes per index entry besides the document name and the value


def search_index_cost(sample: int = 100) -> dict[str, Any]:
    """What search and the timeline cost per message (shared/search/fields.py): no document write
    (the fields ride in the message's own create, which the write count above already shows), and
    index entries, which Firestore does not bill per write but stores (billed as storage). Counted
    on the messages this run stored, with infra/firestore.indexes.json (bench/limits.py)."""
    from bench import limits
    from shared import store
    from shared.search.fields import every_key

    config = limits.IndexConfig.load()
    found = store.tenant_messages(every_key(demo.DEMO_TENANT), limit=sample)
    added, terms, added_bytes = [], [], []
    for message in found:
        data = message.data
        without = {k: v for k, v in data.items() if k not in SEARCH_FIELDS}
        extra = (
            limits.index_entries("messages", data, config).total
            - limits.index_entries("messages", without, config).total
        )
        added.append(extra)
        keys = data.get("terms") or {}
        terms.append(len(keys))
        name = limits.document_name_size(message.path)
        added_bytes.append(
            sum(2 * (name + limits.string_size(k) + 8 + INDEX_ENTRY_OVERHEAD) for k in keys)
            + (extra - 2 * len(keys)) * (name + 16 + INDEX_ENTRY_OVERHEAD)
        )
    if not found:
        return {"error": "no message found to count"}
    per_message_bytes = statistics.mean(added_bytes)
    gib_per_million = per_message_bytes * 1_000_000 / 2**30
    return {
        "extra_document_writes_per_message": 0,
        "messages_counted": len(found),
        "terms_keys_per_message_mean": round(statistics.mean(terms), 1),
        "index_entries_added_per_message_mean": round(statistics.mean(added), 1),
        "index_entries_added_per_message_max": max(added),
        "index_bytes_added_per_message_mean": round(per_message_bytes),
        "index_gib_per_million_messages": round(gib_per_million, 3),
        "storage_usd_per_million_messages_per_month": round(gib_per_million * STORAGE_GIB_MONTH, 3),
        "note": "no index-write charge in Firestore's pricing; entries are stored (and count toward "
        "40,000 per document): MAX_TERMS caps a message at 400 terms",
    }


def reports_cost(meter_class: type[FirestoreMeter] = FirestoreMeter) -> dict[str, Any]:
    """What the reports add (shared/reports/fold.py): nothing on the message path (``reportAt``
    rides in the message's own create, counted above), and the fold's writes: here one fold over
    every message this run stored (in production a fold runs at most once a second per tenant, over
    that second's messages: at 50 messages/s one day document and the fold's place per 50, plus a
    conversation state at each opening, first reply and resolution)."""
    from datetime import UTC, datetime, timedelta

    from shared.reports import fold

    meter = meter_class()
    folded = 0
    # A page the fold cannot finish in one batch queues the next fold; here the next one runs at
    # once, as deliver would run the queued task (the stack runs no Cloud Tasks).
    with meter.installed(), mock.patch.object(fold, "_queue", lambda *args, **kwargs: None):
        while True:
            outcome = fold.fold(
                demo.DEMO_TENANT, now=datetime.now(UTC) + timedelta(seconds=fold.SETTLE_SECONDS + 1)
            )
            if outcome == "reports-deferred":  # a fold writes its documents at most once a second
                time.sleep(fold.FOLD_SPACING_SECONDS)
                continue
            if not outcome.startswith("reports-folded-"):
                raise RuntimeError(f"the fold did not count: {outcome}")
            folded += int(outcome.split("-")[2])
            if not outcome.endswith("-more"):
                break
    return {
        "message_path_document_writes_added": 0,
        "messages_folded": folded,
        "fold_writes": meter.counts["writes"],
        "fold_reads": meter.counts["reads"],
        "fold_writes_per_message": round(meter.counts["writes"] / max(folded, 1), 3),
        "fold_reads_per_message": round(meter.counts["reads"] / max(folded, 1), 3),
    }


def run(messages: int = 300) -> dict[str, Any]:  # noqa: PLR0915 - one measured script, top to bottom
    """Count what ``messages`` single-message WhatsApp webhooks cost end to end; return the figures
    (per message) and the resulting cost per 1 million inbound messages."""
    from bench.report import PER_MESSAGE, cost_per_million

    quiet = {"SWITCHBOARD_LOG_LEVEL": "WARNING"}  # one INFO line per ingested event otherwise
    with LocalStack(
        functions=(), with_auth=False, with_tasks=False, with_sandbox=False, extra_env=quiet
    ) as stack:
        stack.apply_env()
        demo.seed()
        from cloudevents.http import CloudEvent

        from functions import ingest
        from shared import bus

        published: list[tuple[bytes, dict[str, str], str]] = []
        publish_requests: list[int] = []
        real_chunk = bus._publish_chunk

        def recording_chunk(chunk: list[Any], deadline: float) -> int:
            published.extend(chunk)
            body = json.dumps({"messages": [bus._wire(m) for m in chunk]}).encode()
            publish_requests.append(len(body))
            return real_chunk(chunk, deadline)

        bus._publish_chunk = recording_chunk  # type: ignore[assignment]
        deliver = signed_poster("webhook_whatsapp", os.environ["META_APP_SECRET"])

        def push(message: tuple[bytes, dict[str, str], str]) -> None:
            data, attributes, _ = message
            ingest.handle(
                CloudEvent(
                    {"type": "google.cloud.pubsub.topic.v1.messagePublished", "source": "//pubsub/bench"},
                    {"message": {"data": base64.b64encode(data).decode(), "attributes": attributes}},
                )
            )

        try:
            # Warm up (imports, clients, routes cache) and create every customer's conversation, so
            # the counted messages are the common case: a known customer writing again.
            for i in range(CONTACTS):
                deliver(json.dumps(_whatsapp_message(i)).encode())
            for message in published:
                push(message)
            published.clear()
            publish_requests.clear()

            listeners = InboxListeners(demo.DEMO_TENANT, AGENTS)
            listeners.start_counting()
            meter = FirestoreMeter()
            webhook_ms: list[float] = []
            ingest_ms: list[float] = []
            with meter.installed():
                bodies = [json.dumps(_whatsapp_message(CONTACTS + i)).encode() for i in range(messages)]
                for body in bodies:
                    started = time.perf_counter()
                    deliver(body)
                    webhook_ms.append((time.perf_counter() - started) * 1000)
                webhook_counts = dict(meter.counts)
                meter.counts.clear()
                for message in published:
                    started = time.perf_counter()
                    push(message)
                    ingest_ms.append((time.perf_counter() - started) * 1000)
            listener_reads = listeners.settle(expected=AGENTS * messages)
            listeners.close()
            search_index = search_index_cost()
            reports = reports_cost()
        finally:
            bus._publish_chunk = real_chunk  # type: ignore[assignment]

    events = len(published)
    # A push request carries one message: its data (base64 on the wire) and attributes.
    sizes = [len(base64.b64encode(d)) + sum(map(len, [*a, *a.values()])) for d, a, _ in published]
    push_bytes = [max(size, PUBSUB_MIN_BILLABLE) for size in sizes]
    publish_bytes = sum(max(size, PUBSUB_MIN_BILLABLE) for size in publish_requests)
    per_message = {
        "firestore_writes": round((meter.counts["writes"] + webhook_counts.get("writes", 0)) / messages, 2),
        "firestore_reads": round((meter.counts["reads"] + webhook_counts.get("reads", 0)) / messages, 2),
        "webhook_firestore_operations": sum(webhook_counts.values()),
        "webhook_invocations": 1.0,
        "ingest_invocations": round(events / messages, 2),
        "webhook_ms_median": round(statistics.median(webhook_ms), 2),
        "ingest_ms_median": round(statistics.median(ingest_ms), 2),
        "pubsub_billable_bytes": round((publish_bytes + sum(push_bytes)) / messages),
        "listener_reads": round(listener_reads / messages, 2),
        "listening_agents": AGENTS,
    }
    usage = {
        **PER_MESSAGE,
        "firestore_writes": per_message["firestore_writes"] + reports["fold_writes_per_message"],
        "firestore_reads": per_message["firestore_reads"]
        + per_message["listener_reads"]
        + reports["fold_reads_per_message"],
        "webhook_invocations": per_message["webhook_invocations"],
        "ingest_invocations": per_message["ingest_invocations"],
        "ingest_seconds": per_message["ingest_ms_median"] / 1000,
        "webhook_seconds": per_message["webhook_ms_median"] / 1000,
        # cost_per_million bills publish + push at max(bytes, 1,000) each; give it the measured half.
        "pubsub_message_bytes": per_message["pubsub_billable_bytes"] / 2,
    }
    figures = {
        "messages": messages,
        "events_published": events,
        "per_message": per_message,
        "search_index": search_index,
        "reports": reports,
        "cost_per_million_usd": cost_per_million(usage=usage),
    }
    report("cost_per_inbound_message", figures)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=300)
    run(parser.parse_args(argv).messages)


if __name__ == "__main__":
    main()
