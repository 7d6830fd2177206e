"""Launch gcloud-tasks-emulator bound to 127.0.0.1 (it binds every interface by default), with task
names that behave as in Cloud Tasks.

The emulator accepts any name any number of times; Cloud Tasks answers ALREADY_EXISTS for a name
that is queued, or was executed or deleted within about an hour ("task de-duplication"). Switchboard
relies on that (one read receipt, one callback answer per named task), so the launcher adds it.

Runs inside its own virtualenv (.venv-tasks: the emulator needs protobuf<5), so it imports nothing
from the project. Usage: python infra/local/tasks_emulator.py PORT
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from concurrent import futures
from typing import Any

from gcloud_tasks_emulator import server
from google.api_core.exceptions import AlreadyExists

NAME_RETENTION_SECONDS = 3600.0  # Cloud Tasks keeps a used name unavailable for ~1 hour


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


def main() -> int:
    """Serve until SIGTERM/SIGINT."""
    port = int(sys.argv[1])
    server.APIThread.run = _run_on_loopback
    server.QueueState.create_task = _deduplicating(server.QueueState.create_task)
    # Task URLs are absolute (HTTP targets), so the target host/port are never used.
    emulator = server.create_server("127.0.0.1", port, "127.0.0.1", 9, [], -1)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    emulator.start()
    print(f"cloud tasks emulator on 127.0.0.1:{port}", flush=True)
    stop.wait()
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
