"""Launch gcloud-tasks-emulator bound to 127.0.0.1 (it binds every interface by default), with task
names and dispatch that behave as in Cloud Tasks.

The emulator as published differs from Cloud Tasks in ways Switchboard depends on, so the launcher
replaces those parts:

- Names. The emulator accepts any name any number of times; Cloud Tasks answers ALREADY_EXISTS for a
  name that is queued, or was executed or deleted within about an hour ("task de-duplication").
  Switchboard relies on that (one read receipt, one callback answer per named task).
- Dispatch. The emulator sends one task at a time per queue and retries a failed task at once,
  forever, so one slow or failing task holds up every task behind it (a customer's photo waited
  behind another test's hanging download). Cloud Tasks dispatches up to the queue's
  ``max_concurrent_dispatches`` at once, retries with exponential backoff between ``min_backoff``
  and ``max_backoff`` and gives up after ``max_attempts``. The dispatcher here does the same with
  the retry settings the queue was created with (``shared.tasks.ensure_queue`` passes those of
  infra/topology.json), concurrency capped at LOCAL_CONCURRENCY, and backoff scaled by the
  launcher's second argument (the local stack passes 0.1: retries come ten times sooner than in
  production, in the same order and number). ``max_retry_duration`` is not applied: Cloud Tasks
  stops only once both it and ``max_attempts`` are reached, so a production task may be tried more
  often than here; the handlers that care count attempts themselves (media fetches, profiles).

Runs inside its own virtualenv (.venv-tasks: the emulator needs protobuf<5), so it imports nothing
from the project. Usage: python infra/local/tasks_emulator.py PORT [BACKOFF_SCALE]
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from concurrent import futures
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib import error, request

from gcloud_tasks_emulator import server
from google.api_core.exceptions import AlreadyExists

NAME_RETENTION_SECONDS = 3600.0  # Cloud Tasks keeps a used name unavailable for ~1 hour
LOCAL_CONCURRENCY = 8  # per queue: the local deliver serves 8 requests at once
DISPATCH_DEADLINE_SECONDS = 600.0  # Cloud Tasks' default dispatch deadline for HTTP targets
DEFAULT_MAX_ATTEMPTS = 100  # Cloud Tasks' defaults for a queue created without a retry config
DEFAULT_MIN_BACKOFF = 0.1
DEFAULT_MAX_BACKOFF = 3600.0
MAX_DOUBLINGS = 16
POLL_SECONDS = 0.02

log = logging.getLogger("tasks-emulator")


def _deduplicating(create_task: Any) -> Any:
    used: dict[str, float] = {}
    lock = threading.Lock()

    def create(self: Any, queue: str, task: Any) -> Any:
        if task.name:
            now = time.monotonic()
            with lock:
                for name in [n for n, at in used.items() if now - at > NAME_RETENTION_SECONDS]:
                    del used[name]
                if task.name in used:
                    raise AlreadyExists(f"Requested entity already exists: {task.name}")
                used[task.name] = now
        return create_task(self, queue, task)

    return create


def _run_on_loopback(self: Any) -> None:
    self._httpd = server.grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_CloudTasksServicer_to_server(server.Greeter(self._state), self._httpd)
    self._httpd.add_insecure_port(f"127.0.0.1:{self._port}")
    self._httpd.start()


def _seconds(duration: Any, default: float) -> float:
    """A queue's Duration setting (a timedelta through proto-plus) in seconds; unset is ``default``."""
    seconds = duration.total_seconds() if isinstance(duration, timedelta) else 0.0
    return seconds if seconds > 0 else default


def backoff(attempts: int, min_backoff: float, max_backoff: float) -> float:
    """Cloud Tasks' wait after the ``attempts``-th failed attempt: min_backoff doubled each time."""
    return min(max_backoff, min_backoff * 2 ** min(max(attempts - 1, 0), MAX_DOUBLINGS))


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _due(task: Any, now: datetime) -> bool:
    at = task.schedule_time
    return not at or at.replace(tzinfo=at.tzinfo or UTC) <= now


class Dispatcher:
    """Each queue's due tasks, dispatched concurrently, retried with the queue's backoff."""

    def __init__(self, state: Any, backoff_scale: float) -> None:
        self._state = state
        self._scale = backoff_scale
        self._lock = threading.Lock()
        self._in_flight: set[int] = set()
        self._pools: dict[str, futures.ThreadPoolExecutor] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dispatcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._dispatch_due()
            except Exception:  # a bad task must not stop every queue
                log.exception("dispatcher loop")
            self._stop.wait(POLL_SECONDS)

    def _concurrency(self, queue: Any) -> int:
        limit = queue.rate_limits.max_concurrent_dispatches or LOCAL_CONCURRENCY
        return max(1, min(limit, LOCAL_CONCURRENCY))

    def _dispatch_due(self) -> None:
        now = _utcnow()
        for name in list(self._state._queues):
            queue = self._state._queues.get(name)
            if queue is None or queue.state != server.Queue.State.RUNNING:
                continue
            with self._lock:
                tasks = list(self._state._queue_tasks.get(name, ()))
                busy = sum(1 for task in tasks if id(task) in self._in_flight)
                free = self._concurrency(queue) - busy
                for task in tasks:
                    if free <= 0:
                        break
                    if id(task) in self._in_flight or not _due(task, now):
                        continue
                    self._in_flight.add(id(task))
                    free -= 1
                    pool = self._pools.get(name)
                    if pool is None:
                        pool = futures.ThreadPoolExecutor(LOCAL_CONCURRENCY, thread_name_prefix=name[-20:])
                        self._pools[name] = pool
                    pool.submit(self._attempt, name, queue, task)

    def _attempt(self, queue_name: str, queue: Any, task: Any) -> None:
        task.dispatch_count += 1
        status = self._send(queue_name, task)
        with self._lock:
            self._in_flight.discard(id(task))
            tasks = self._state._queue_tasks.get(queue_name)
            if tasks is None or not any(t is task for t in tasks):
                return  # purged, deleted or the queue is gone while it ran
            retry = queue.retry_config
            max_attempts = retry.max_attempts or DEFAULT_MAX_ATTEMPTS
            if 200 <= status < 300 or (max_attempts > 0 and task.dispatch_count >= max_attempts):
                if status >= 300:
                    log.warning("giving up %s after %d attempts", task.name, task.dispatch_count)
                for index, queued in enumerate(tasks):
                    if queued is task:
                        del tasks[index]  # by position: a task created meanwhile is only appended
                        break
                return
            wait = backoff(
                task.dispatch_count,
                _seconds(retry.min_backoff, DEFAULT_MIN_BACKOFF),
                _seconds(retry.max_backoff, DEFAULT_MAX_BACKOFF),
            )
            task.schedule_time = _utcnow() + timedelta(seconds=wait * self._scale)

    def _send(self, queue_name: str, task: Any) -> int:
        target = task.http_request
        req = request.Request(target.url, method=target.http_method.name, data=target.body)  # noqa: S310
        for key, value in dict(target.headers).items():
            req.add_header(key, value)
        req.add_header("X-CloudTasks-QueueName", queue_name.rsplit("/", 1)[-1])
        req.add_header("X-CloudTasks-TaskName", task.name.rsplit("/", 1)[-1])
        req.add_header("X-CloudTasks-TaskRetryCount", str(task.dispatch_count - 1))
        req.add_header("X-CloudTasks-TaskExecutionCount", str(task.dispatch_count - 1))
        try:
            with request.urlopen(req, timeout=DISPATCH_DEADLINE_SECONDS) as response:  # noqa: S310
                return int(response.status)
        except error.HTTPError as exc:
            status = int(exc.code)
        except Exception as exc:  # noqa: BLE001 - refused, reset, timed out: a failed attempt
            log.warning("dispatching %s failed: %s", task.name, exc)
            return 503
        log.warning("task %s answered HTTP %d", task.name, status)
        return status


def main() -> int:
    """Serve until SIGTERM/SIGINT."""
    port = int(sys.argv[1])
    scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    server.APIThread.run = _run_on_loopback
    server.QueueState.create_task = _deduplicating(server.QueueState.create_task)
    server.Processor.run = lambda self: None  # the Dispatcher below sends the tasks instead
    # Task URLs are absolute (HTTP targets), so the target host/port are never used.
    emulator = server.create_server("127.0.0.1", port, "127.0.0.1", 9, [], -1)
    dispatcher = Dispatcher(emulator._state, scale)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    emulator.start()
    dispatcher.start()
    print(f"cloud tasks emulator on 127.0.0.1:{port}", flush=True)
    stop.wait()
    dispatcher.stop()
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
