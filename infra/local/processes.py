"""Child processes of the local stack: started in their own process group, awaited by condition,
stopped as a group (killing a launcher alone leaves java orphans)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOG_DIR = REPO / ".local" / "logs"


_RESERVED: dict[int, socket.socket] = {}
_RESERVED_LOCK = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on, held for the server it is meant for until
    :func:`release_port`.

    A port merely free when asked can be taken before its server binds it: the stack picks every
    function's port first, then starts them one by one, and meanwhile any bind(0) (a stand-in, a
    test's server) may be handed the same port by the kernel; the function then fails to bind, and
    its queued work is answered by a stranger (seen: deliver's tasks answered 401). So the port stays
    bound by a reservation socket (SO_REUSEADDR, never listening): the kernel hands a bound port to
    no other bind(0) or outgoing connection, while the server, binding it with SO_REUSEADDR as
    gunicorn, the JVM's, Node's and gRPC's servers do, still can."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    with _RESERVED_LOCK:
        _RESERVED[port] = sock
    return port


def release_port(port: int) -> None:
    """Give back a port of :func:`free_port` (its server has stopped, or never needed it)."""
    with _RESERVED_LOCK:
        sock = _RESERVED.pop(port, None)
    if sock is not None:
        sock.close()


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``condition`` until it holds; raise TimeoutError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def tcp_open(host: str, port: int) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def http_ok(url: str, any_status: bool = False) -> bool:
    """True when ``url`` answers an HTTP status below 500 (any status at all with ``any_status``)."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - local URLs only
            return any_status or response.status < 500
    except urllib.error.HTTPError as exc:
        return any_status or exc.code < 500
    except (OSError, ValueError):
        return False


@dataclass
class Process:
    """One child process with a name, its command, environment and a readiness URL."""

    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready_url: str | None = None
    ready_port: int | None = None  # readiness by TCP connect, for gRPC-only servers
    ready_timeout: float = 60.0
    cwd: Path = REPO
    popen: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    log_dir: Path = LOG_DIR

    def start(self, append: bool = False) -> Process:
        """Start in a new session (own process group), logging to .local/logs/<name>.log
        (appending when restarting, so a test can read what happened before and after)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.log_dir / f"{self.name}.log"
        log_file = self.log_path.open("ab" if append else "wb")
        self.popen = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log_file.close()
        return self

    def wait_ready(self) -> None:
        """Wait for the readiness URL; fail early, with the log's tail, if the process died."""
        if self.ready_url is None and self.ready_port is None:
            return

        def ready() -> bool:
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}")
            if self.ready_port is not None:
                return tcp_open("127.0.0.1", self.ready_port)
            return http_ok(self.ready_url or "", any_status=True)

        try:
            wait_until(ready, self.ready_timeout, f"{self.name} at {self.ready_url or self.ready_port}")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self.log_tail()}") from None

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of this process's log."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def running(self) -> bool:
        """True while the process is alive."""
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group at once: a crash, not a shutdown (fault injection)."""
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the whole process group, then SIGKILL what is left."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        # Children (java under a launcher) may outlive the leader: kill the group regardless.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=timeout)
