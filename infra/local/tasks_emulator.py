"""Launch gcloud-tasks-emulator bound to 127.0.0.1 (it binds every interface by default).

Runs inside its own virtualenv (.venv-tasks: the emulator needs protobuf<5), so it imports nothing
from the project. Usage: python infra/local/tasks_emulator.py PORT
"""

from __future__ import annotations

import signal
import sys
import threading
from concurrent import futures
from typing import Any

from gcloud_tasks_emulator import server


def _run_on_loopback(self: Any) -> None:
    self._httpd = server.grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_CloudTasksServicer_to_server(server.Greeter(self._state), self._httpd)
    self._httpd.add_insecure_port(f"127.0.0.1:{self._port}")
    self._httpd.start()


def main() -> int:
    """Serve until SIGTERM/SIGINT."""
    port = int(sys.argv[1])
    server.APIThread.run = _run_on_loopback
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
