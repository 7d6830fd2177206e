"""The cost of an inbound message: 2 Firestore document writes on the common path (the message and
the conversation summary); the contact is written only when something about it changed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.cloud.firestore_v1.batch import WriteBatch

from infra.local import demo
from infra.local.stack import LocalStack
from shared import ids, inbox, store
from shared.models import MessageEvent, TextContent

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")


def text_event(n: int, name: str = "Budget Customer") -> MessageEvent:
    return MessageEvent(
        channel="whatsapp",
        account_id=WA.external_id,
        contact_id="15553330001",
        event_id=f"wamid.BUDGET{n}",
        message_id=f"wamid.BUDGET{n}",
        content=TextContent(text=f"message {n}"),
        occurred_at=datetime.now(UTC),
        contact_name=name,
    )


@pytest.fixture(autouse=True)
def quiet_conversations() -> None:
    """Every test starts with quiet conversations (see forget_summary_pace)."""
    inbox.forget_summary_pace()


def count_writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Document writes per committed batch, from here on (the batches are committed for real)."""
    writes: list[int] = []
    real_commit = WriteBatch.commit

    def counting_commit(self: WriteBatch, *args: object, **kwargs: object) -> object:
        writes.append(len(self._write_pbs))
        return real_commit(self, *args, **kwargs)

    monkeypatch.setattr(WriteBatch, "commit", counting_commit)
    return writes


def test_an_inbound_message_costs_two_document_writes(
    clean_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox.apply(text_event(0))  # the conversation exists from here on: the common path follows
    writes = count_writes(monkeypatch)
    for n in range(1, 11):
        # Each message as one of a quiet conversation (a second or more after the last): ten in a
        # row would make it hot, and a hot conversation defers its summary to a fold instead.
        inbox.forget_summary_pace()
        assert inbox.apply(text_event(n)).result == "created"
    assert writes == [2] * 10, writes
    inbox.forget_summary_pace()
    assert inbox.apply(text_event(5)).result == "duplicate"


def test_the_contact_is_written_again_when_it_changed(
    clean_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox.apply(text_event(20))
    writes = count_writes(monkeypatch)
    inbox.forget_summary_pace()
    assert inbox.apply(text_event(21, name="Budget Customer (new name)")).result == "created"
    assert writes == [3]
    contact = (
        store.contact_ref(demo.DEMO_TENANT, ids.contact_id(WA.channel_id, "15553330001")).get().to_dict()
    )
    assert contact is not None and contact["name"] == "Budget Customer (new name)"


def test_an_erased_contact_document_comes_back_once_the_memory_expires(
    clean_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox.apply(text_event(30))
    contact_id = ids.contact_id(WA.channel_id, "15553330001")
    store.contact_ref(demo.DEMO_TENANT, contact_id).delete()
    monkeypatch.setattr(inbox._known_contacts, "_seconds", 0.0)
    inbox.forget_summary_pace()
    inbox.apply(text_event(31))
    assert store.contact_ref(demo.DEMO_TENANT, contact_id).get().exists


def test_the_cost_benchmarks_meter_counts_two_writes_and_one_read_per_message(
    clean_stack: LocalStack,
) -> None:
    from bench.cost import FirestoreMeter

    inbox.apply(text_event(100))  # the conversation exists: the common path follows
    meter = FirestoreMeter()
    with meter.installed():
        for n in range(101, 111):
            inbox.forget_summary_pace()  # one of a quiet conversation: no deferred summary
            assert inbox.apply(text_event(n)).result == "created"
    assert meter.counts == {"writes": 20, "reads": 10}
    # Uninstalled: nothing more is counted.
    inbox.apply(text_event(111))
    assert meter.counts == {"writes": 20, "reads": 10}
