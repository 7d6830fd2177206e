"""The cost of an inbound message: at most 3 Firestore document writes on the common path."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.cloud.firestore_v1.batch import WriteBatch

from infra.local import demo
from infra.local.stack import LocalStack
from shared import inbox
from shared.models import MessageEvent, TextContent

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")


def text_event(n: int) -> MessageEvent:
    return MessageEvent(
        channel="whatsapp",
        account_id=WA.external_id,
        contact_id="15553330001",
        event_id=f"wamid.BUDGET{n}",
        message_id=f"wamid.BUDGET{n}",
        content=TextContent(text=f"message {n}"),
        occurred_at=datetime.now(UTC),
        contact_name="Budget Customer",
    )


def test_an_inbound_message_costs_at_most_three_document_writes(
    clean_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox.apply(text_event(0))  # the conversation exists from here on: the common path follows
    writes: list[int] = []
    real_commit = WriteBatch.commit

    def counting_commit(self: WriteBatch, *args: object, **kwargs: object) -> object:
        writes.append(len(self._write_pbs))  # counts the real writes, then commits them for real
        return real_commit(self, *args, **kwargs)

    monkeypatch.setattr(WriteBatch, "commit", counting_commit)
    for n in range(1, 11):
        assert inbox.apply(text_event(n)).result == "created"
    assert sum(writes) <= 3 * 10, writes
    assert inbox.apply(text_event(5)).result == "duplicate"


def test_the_cost_benchmarks_meter_counts_three_writes_and_one_read_per_message(
    clean_stack: LocalStack,
) -> None:
    from bench.cost import FirestoreMeter

    inbox.apply(text_event(100))  # the conversation exists: the common path follows
    meter = FirestoreMeter()
    with meter.installed():
        for n in range(101, 111):
            assert inbox.apply(text_event(n)).result == "created"
    assert meter.counts == {"writes": 30, "reads": 10}
    # Uninstalled: nothing more is counted.
    inbox.apply(text_event(111))
    assert meter.counts == {"writes": 30, "reads": 10}
