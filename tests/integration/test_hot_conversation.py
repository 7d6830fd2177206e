"""A hot conversation: 50 messages a second for 5 seconds from one customer (a bot loop on Messenger),
through the real webhook, Pub/Sub, ingest, Cloud Tasks and deliver.

Every message lands at once and exactly once; the conversation summary is written about once a
second (Firestore sustains about one write per second per document) and is exact, by provider time,
within a few seconds of the burst's end. Both ways into ingest: the local stack's unordered push
subscription, and the ordered stand-in (one message per conversation at a time, as production's
ordered subscription pushes). Writes are counted per document in every process of the stack
(bench/hot_conversation.py).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.hot_conversation import measure, metered_stack, per_document, poster
from infra.local import demo
from infra.local.ordered_push import OrderedPush
from infra.local.stack import LocalStack
from shared import ids, store

pytestmark = pytest.mark.integration

PAGE = next(c for c in demo.DEMO_CHANNELS if c.kind == "messenger")
RATE, SECONDS = 50, 5.0
AVERAGE_WRITES_PER_SECOND = 1.5  # per document over the burst ("about 1 sustained write/s")
EXACT_WITHIN_SECONDS = 5.0


@pytest.fixture(scope="module")
def metered() -> Iterator[tuple[LocalStack, Path]]:
    with tempfile.TemporaryDirectory(prefix="hot-conversation-") as folder:
        log_path = Path(folder) / "writes.log"
        with metered_stack(log_path, coalesced=True) as stack:
            yield stack, log_path


def burst(metered: tuple[LocalStack, Path], psid: str) -> dict[str, Any]:
    stack, log_path = metered
    return measure(
        poster(stack),
        log_path,
        tenant_id=demo.DEMO_TENANT,
        channel_id=PAGE.channel_id,
        page_id=PAGE.external_id,
        psid=psid,
        rate=RATE,
        seconds=SECONDS,
    )


def assert_hot_conversation_within_limits(figures: dict[str, Any], psid: str) -> None:
    count = int(RATE * SECONDS)
    conversation_id = ids.conversation_id(PAGE.channel_id, psid)
    # Every message landed, exactly once: one document per provider id, each written once.
    landed = [
        d.to_dict()["providerMessageId"]
        for d in store.conversation_ref(demo.DEMO_TENANT, conversation_id).collection("messages").stream()
    ]
    assert len(landed) == count and len(set(landed)) == count
    writes = figures["_writes"]
    per_message = Counter(path for _, path in writes if "/messages/" in path)
    assert len(per_message) == count and set(per_message.values()) == {1}
    # The summary is exact (counts, unread, last message by provider time) soon after the burst.
    assert figures["summary_exact"], figures["_summary"]
    assert figures["summary_exact_after_burst_seconds"] <= EXACT_WITHIN_SECONDS, figures
    # No document but the messages themselves took more than about one write a second.
    documents = per_document(writes, figures["window_seconds"])
    for kind, numbers in documents.items():
        if kind != "message":
            assert numbers["max_average_writes_per_second"] <= AVERAGE_WRITES_PER_SECOND, (kind, numbers)
    assert documents["conversation"]["writes"] <= figures["window_seconds"] * AVERAGE_WRITES_PER_SECOND
    # Nothing waits to be folded.
    pending = store.conversation_ref(demo.DEMO_TENANT, conversation_id).collection("summaryPending")
    assert list(pending.limit(1).stream()) == []


def test_a_hot_conversation_through_the_unordered_push_subscription(
    metered: tuple[LocalStack, Path],
) -> None:
    figures = burst(metered, "hot-unordered-test")
    assert_hot_conversation_within_limits(figures, "hot-unordered-test")


def test_a_hot_conversation_through_the_ordered_stand_in(metered: tuple[LocalStack, Path]) -> None:
    stack, _ = metered
    with OrderedPush(stack) as ordered:
        figures = burst(metered, "hot-ordered-test")
        assert ordered.deliveries.max_in_flight_per_key == 1  # one push per conversation at a time
        assert ordered.deliveries.pushed >= int(RATE * SECONDS)
    assert_hot_conversation_within_limits(figures, "hot-ordered-test")
