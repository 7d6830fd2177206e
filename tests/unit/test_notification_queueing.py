"""What ingest's notification hook costs (shared/notifications.py after_inbound): one Cloud Tasks
call per conversation and 2-second slot on an instance, and never an exception into ingest."""

from __future__ import annotations

from typing import Any

import pytest

from shared import notifications


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []

    def enqueue(task_id: str, payload: dict[str, Any]) -> bool:
        calls.append((task_id, payload))
        return True

    monkeypatch.setattr(notifications, "_enqueue", enqueue)
    monkeypatch.setattr(notifications, "_recent", notifications._Recent(size=3))
    return calls


def test_a_burst_into_one_conversation_queues_once_a_slot(queued: list[tuple[str, dict[str, Any]]]) -> None:
    for index in range(50):
        notifications.after_inbound("t1", "c1", f"m{index}", now=1000.0 + index * 0.01)
    assert len(queued) == 1
    assert queued[0][1] == {
        "action": "notify",
        "tenantId": "t1",
        "conversationId": "c1",
        "messageId": "m0",
        "notify": {"event": "message"},
    }
    notifications.after_inbound("t1", "c1", "m50", now=1002.0)  # the next slot
    notifications.after_inbound("t1", "c2", "m51", now=1002.0)  # another conversation
    assert [payload["messageId"] for _, payload in queued] == ["m0", "m50", "m51"]


def test_a_failure_to_queue_never_reaches_ingest_and_the_slot_tries_again(
    queued: list[tuple[str, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(task_id: str, payload: dict[str, Any]) -> bool:
        raise RuntimeError("Cloud Tasks is down")

    monkeypatch.setattr(notifications, "_enqueue", broken)
    assert notifications.after_inbound("t1", "c1", "m1", now=1000.0) is False
    monkeypatch.setattr(
        notifications, "_enqueue", lambda task_id, payload: queued.append((task_id, payload)) or True
    )
    assert notifications.after_inbound("t1", "c1", "m2", now=1000.5) is True
    assert [payload["messageId"] for _, payload in queued] == ["m2"]


def test_the_memory_of_queued_tasks_is_bounded() -> None:
    recent = notifications._Recent(size=2)
    assert recent.first("a") and recent.first("b") and recent.first("c")
    assert not recent.first("c")
    assert recent.first("a")  # forgotten: the oldest went first
