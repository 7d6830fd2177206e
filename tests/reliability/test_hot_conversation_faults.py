"""A hot conversation whose summary is coalesced (shared/inbox.py) survives crashes mid-burst: ingest
SIGKILLed between a message's batch and its fold's task, deliver SIGKILLed while folds are due. Every
message lands exactly once (what Pub/Sub dead-lettered meanwhile is replayed, as an operator would),
the summary ends exact and no deferred share is left unfolded.

A stack of its own (webhook, ingest, deliver and Cloud Tasks), since these tests kill processes.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.hot_conversation import (
    Burst,
    landed_count,
    metered_stack,
    poster,
    send_burst,
    summary_state,
)
from infra.local import demo
from infra.local.stack import LocalStack
from shared import ids, store
from tests.support import eventually

pytestmark = pytest.mark.integration

PAGE = next(c for c in demo.DEMO_CHANNELS if c.kind == "messenger")
RATE, SECONDS = 50, 6.0


@pytest.fixture(scope="module")
def hot_stack() -> Iterator[LocalStack]:
    with (
        tempfile.TemporaryDirectory(prefix="hot-faults-") as folder,
        metered_stack(Path(folder) / "writes.log", coalesced=True) as stack,
    ):
        yield stack


def burst_with_a_crash(stack: LocalStack, psid: str, process: str) -> Burst:
    """Send the burst from a thread; SIGKILL ``process`` once a fifth of it landed, start it again."""
    sent: list[Burst] = []
    errors: list[BaseException] = []

    def provider() -> None:
        try:
            sent.append(send_burst(poster(stack), PAGE.external_id, psid, RATE, SECONDS))
        except BaseException as exc:  # noqa: BLE001 - surfaced below, whatever it is
            errors.append(exc)

    thread = threading.Thread(target=provider)
    thread.start()
    conversation_id = ids.conversation_id(PAGE.channel_id, psid)
    messages = store.conversation_ref(demo.DEMO_TENANT, conversation_id).collection("messages")
    fifth = RATE * SECONDS // 5
    eventually(lambda: messages.count().get()[0][0].value >= fifth, timeout=60, what="the burst under way")
    stack.crash(process)  # SIGKILL: whatever it held in memory is gone
    stack.revive(process)
    thread.join(timeout=120)
    assert not errors and len(sent) == 1, errors
    return sent[0]


def assert_exact(burst: Burst) -> None:
    from shared import cli

    def all_landed() -> bool:
        # While ingest was down the emulator pushed without backoff, so some events may have used
        # up their 5 attempts and been dead-lettered: the operator's replay brings them back.
        cli.main(["dead-letters", "replay", "--max", "1000"])
        return landed_count(demo.DEMO_TENANT, PAGE.channel_id, burst) >= burst.count

    eventually(all_landed, timeout=120, interval=0.5, what="every message")
    state: dict[str, Any] = {}

    def exact() -> bool:
        state.update(summary_state(demo.DEMO_TENANT, PAGE.channel_id, burst))
        return bool(state["exact"])

    assert eventually(exact, timeout=60, interval=0.2, what="an exact summary"), state
    conversation_id = ids.conversation_id(PAGE.channel_id, burst.psid)
    conversation = store.conversation_ref(demo.DEMO_TENANT, conversation_id)
    providers = [d.to_dict()["providerMessageId"] for d in conversation.collection("messages").stream()]
    assert sorted(providers) == sorted(burst.mids)  # 0 lost, 0 duplicated
    assert list(conversation.collection("summaryPending").limit(1).stream()) == []


def test_killing_ingest_mid_burst_leaves_the_coalesced_summary_exact(hot_stack: LocalStack) -> None:
    assert_exact(burst_with_a_crash(hot_stack, "hot-crash-ingest", "function-ingest"))


def test_killing_deliver_while_folds_are_due_leaves_the_summary_exact(hot_stack: LocalStack) -> None:
    assert_exact(burst_with_a_crash(hot_stack, "hot-crash-deliver", "function-deliver"))
