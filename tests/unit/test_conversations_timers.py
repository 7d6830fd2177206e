"""Snooze wake-ups: scheduled within Cloud Tasks' 30-day horizon, hopping towards longer snoozes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared import config, conversations, tasks

DAY_MS = 24 * 3600 * 1000


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    monkeypatch.setenv("SWITCHBOARD_DELIVER_URL", "http://127.0.0.1:9/deliver")
    config.reset()
    calls: list[dict[str, Any]] = []

    def enqueue(queue: str, task_id: str, url: str, payload: dict[str, Any], at: datetime | None) -> bool:
        calls.append({"queue": queue, "task_id": task_id, "payload": payload, "at": at})
        return True

    monkeypatch.setattr(tasks, "enqueue", enqueue)
    yield calls
    config.reset()


def test_a_snooze_within_thirty_days_is_one_task_at_its_time(queued: list[dict[str, Any]]) -> None:
    now = 1_800_000_000_000
    conversations.schedule_wake("demo", "co1", now + 3 * DAY_MS, now_ms=now)
    (task,) = queued
    assert task["queue"] == "outbound-timers"
    assert task["at"] == datetime.fromtimestamp((now + 3 * DAY_MS) / 1000, UTC)
    assert task["payload"] == {
        "action": "wake",
        "tenantId": "demo",
        "conversationId": "co1",
        "snoozeUntilMs": now + 3 * DAY_MS,
    }


def test_a_longer_snooze_hops_and_the_same_snooze_names_the_same_task(queued: list[dict[str, Any]]) -> None:
    now = 1_800_000_000_000
    until = now + 90 * DAY_MS
    conversations.schedule_wake("demo", "co1", until, now_ms=now)
    conversations.schedule_wake("demo", "co1", until, now_ms=now)
    first, second = queued
    assert first["at"] == datetime.fromtimestamp((now + 29 * DAY_MS) / 1000, UTC)
    assert first["task_id"] == second["task_id"]  # Cloud Tasks refuses the second: one wake-up
    assert first["payload"]["snoozeUntilMs"] == until


def test_a_wake_up_that_comes_early_schedules_the_next_hop(queued: list[dict[str, Any]]) -> None:
    until = int(datetime.now(UTC).timestamp() * 1000) + 60 * DAY_MS
    assert conversations.wake("demo", "co1", until) == "wake-rescheduled"
    assert len(queued) == 1 and queued[0]["payload"]["snoozeUntilMs"] == until
