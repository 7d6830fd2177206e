"""The local Cloud Tasks emulator dispatches as Cloud Tasks does (infra/local/tasks_emulator.py): tasks
of one queue run side by side up to the queue's concurrency, so a hanging task holds up nothing
behind it; a failing task is retried with the queue's exponential backoff (scaled down locally) and
given up after its max_attempts; a scheduled task waits for its time; a name is used once."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from infra.local.stack import LOCAL_BACKOFF_SCALE, LocalStack
from shared import tasks
from tests.support import BackgroundServer, eventually

pytestmark = pytest.mark.integration


class Target:
    """The task's HTTP target: records each attempt (task name, retry count, time); a task whose
    name contains 'hang' is answered when ``release`` is set, 'fail' always answers 503."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, int, float]] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                name = self.headers.get("X-CloudTasks-TaskName", "")
                with target._lock:
                    retries = int(self.headers.get("X-CloudTasks-TaskRetryCount", "-1"))
                    target.attempts.append((name, retries, time.monotonic()))
                if "hang" in name:
                    target.release.wait(30)
                status = 503 if "fail" in name else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = BackgroundServer(Handler, "task-target")
        self.url = f"http://{self._server.host}/task"

    def of(self, name: str) -> list[tuple[str, int, float]]:
        with self._lock:
            return [attempt for attempt in self.attempts if attempt[0] == name]

    def stop(self) -> None:
        self.release.set()
        self._server.stop()


@pytest.fixture
def target() -> Iterator[Target]:
    running = Target()
    try:
        yield running
    finally:
        running.stop()


def queue(stack: LocalStack, **limits: Any) -> str:
    stack.apply_env()
    name = f"test-{uuid.uuid4().hex[:10]}"
    tasks.ensure_queue(name, limits)
    return name


def test_a_hanging_task_holds_up_nothing_behind_it(stack: LocalStack, target: Target) -> None:
    name = queue(stack, max_concurrent_dispatches=4, max_attempts=3, min_backoff_seconds=1)
    assert tasks.enqueue(name, "hang-1", target.url, {})
    assert tasks.enqueue(name, "quick-1", target.url, {})
    eventually(lambda: target.of("hang-1"), timeout=10, what="the hanging task dispatched")
    eventually(lambda: target.of("quick-1"), timeout=10, what="the task behind it dispatched meanwhile")
    assert not target.release.is_set()  # the first is still hanging
    target.release.set()


def test_a_queue_runs_no_more_at_once_than_its_concurrency(stack: LocalStack, target: Target) -> None:
    name = queue(stack, max_concurrent_dispatches=1, max_attempts=3, min_backoff_seconds=1)
    assert tasks.enqueue(name, "hang-1", target.url, {})
    eventually(lambda: target.of("hang-1"), timeout=10, what="the hanging task dispatched")
    assert tasks.enqueue(name, "quick-1", target.url, {})
    waited = time.monotonic() + 1.0
    while time.monotonic() < waited:  # a window in which the second must not start
        assert not target.of("quick-1"), "a second task ran beside the first on a queue of concurrency 1"
        time.sleep(0.05)
    target.release.set()
    eventually(lambda: target.of("quick-1"), timeout=10, what="the second task once the first finished")


def test_a_failing_task_is_retried_with_growing_backoff_and_given_up_after_max_attempts(
    stack: LocalStack, target: Target
) -> None:
    name = queue(stack, max_attempts=4, min_backoff_seconds=2, max_backoff_seconds=6)
    assert tasks.enqueue(name, "fail-1", target.url, {})
    attempts = eventually(
        lambda: len(target.of("fail-1")) == 4 and target.of("fail-1"), timeout=20, what="four attempts"
    )
    assert [retries for _, retries, _ in attempts] == [0, 1, 2, 3]
    gaps = [later[2] - earlier[2] for earlier, later in itertools.pairwise(attempts)]
    # Production waits 2 s, 4 s, 6 s (doubling, capped by max_backoff); locally a tenth of that.
    for gap, production in zip(gaps, [2, 4, 6], strict=True):
        assert production * LOCAL_BACKOFF_SCALE * 0.9 <= gap < production * LOCAL_BACKOFF_SCALE + 1.0, gaps
    settle = time.monotonic() + 6 * LOCAL_BACKOFF_SCALE * 2 + 0.5
    while time.monotonic() < settle:  # given up: no fifth attempt
        time.sleep(0.05)
    assert len(target.of("fail-1")) == 4


def test_a_task_name_is_used_once(stack: LocalStack, target: Target) -> None:
    name = queue(stack, max_attempts=3, min_backoff_seconds=1)
    assert tasks.enqueue(name, "once-1", target.url, {}) is True
    assert tasks.enqueue(name, "once-1", target.url, {}) is False
    eventually(lambda: target.of("once-1"), timeout=10, what="the task")
    assert tasks.enqueue(name, "once-1", target.url, {}) is False  # executed names stay taken
    assert len(target.of("once-1")) == 1


def test_a_scheduled_task_runs_at_its_time_not_before(stack: LocalStack, target: Target) -> None:
    name = queue(stack, max_attempts=3, min_backoff_seconds=1)
    at = datetime.now(UTC) + timedelta(seconds=1.5)
    assert tasks.enqueue(name, "later-1", target.url, {}, schedule_at=at)
    ran = eventually(lambda: target.of("later-1"), timeout=15, what="the scheduled task")
    ran_at = time.time() - (time.monotonic() - ran[0][2])
    assert ran_at >= at.timestamp() - 0.05, (ran_at, at.timestamp())
