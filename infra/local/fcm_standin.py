"""A local stand-in for Firebase Cloud Messaging's HTTP v1 API (the local stack cannot reach FCM).

It answers ``POST /v1/projects/{project}/messages:send`` the way FCM does, and validates what FCM
validates:

- ``Authorization: Bearer <token>`` present (else 401 ``UNAUTHENTICATED``);
- a JSON body ``{"message": {...}}`` whose message has exactly one of ``token``, ``topic``,
  ``condition`` (else 400 ``INVALID_ARGUMENT``);
- the payload (``notification`` + ``data``, and each platform's own notification) at most 4,096
  bytes, FCM's limit for a message (else 400 ``INVALID_ARGUMENT``, "Message is too big");
- ``data`` a map of string to string (else 400 ``INVALID_ARGUMENT``).

And with FCM's error bodies (``google.rpc.Status`` with an ``FcmError`` detail) and codes:

- a token the test declared dead: 404 ``UNREGISTERED``; declared invalid: 400 ``INVALID_ARGUMENT``
  with a ``BadRequest`` field violation on ``message.token``;
- more than ``rate`` accepted messages in the last second: 429 ``QUOTA_EXCEEDED`` with
  ``Retry-After`` (seconds);
- faults on demand: the next N sends answer 503 ``UNAVAILABLE`` (or 500 ``INTERNAL``).

An accepted message answers ``{"name": "projects/{p}/messages/{id}"}`` and is recorded; tests read
the records with ``GET /_received`` (or :meth:`FcmStandIn.received`).

Control (in process, or over HTTP from another process), all JSON::

    FcmStandIn(port=0)  start() / stop() / with ...: ; base_url
      .received() / .attempts() / .clear()
      .kill_tokens(tokens) / .invalidate_tokens(tokens)
      .fail_next(count, status="UNAVAILABLE", after=0) / .set_rate(per_second, retry_after=1)

    GET  /_received         {"messages": [...], "attempts": n, "answers": {"200": n, "503": n, ...}}
    POST /_reset            forget messages, dead tokens, faults, rate
    POST /_dead             {"tokens": [...], "invalid": bool}
    POST /_faults           {"count": n, "status": "UNAVAILABLE" | "INTERNAL", "after": n}
    POST /_rate             {"perSecond": n | null, "retryAfter": seconds}

Binds 127.0.0.1 only. Run standalone: ``python -m infra.local.fcm_standin --port 8090``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import signal
import sys
import threading
import time
from collections import Counter, deque
from types import TracebackType
from typing import Any

HOST = "127.0.0.1"
MAX_PAYLOAD_BYTES = 4096  # FCM: "up to 4096 bytes" for a message's payload
MAX_BODY_BYTES = 65_536
SEND_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/messages:send$")
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
STATUS_OF = {  # FCM error code -> (HTTP status, google.rpc status)
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT"),
    "UNREGISTERED": (404, "NOT_FOUND"),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED"),
    "UNAVAILABLE": (503, "UNAVAILABLE"),
    "INTERNAL": (500, "INTERNAL"),
}


class Refusal(Exception):
    """An FCM error answer."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        retry_after: float | None = None,
        http: tuple[int, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.field, self.retry_after = code, message, field, retry_after
        self.http_status, self.status = http or STATUS_OF[code]

    def body(self) -> dict[str, Any]:
        details: list[dict[str, Any]] = []
        if self.http_status != 401:
            details.append({"@type": FCM_ERROR, "errorCode": self.code})
        if self.field:
            details.append(
                {
                    "@type": BAD_REQUEST,
                    "fieldViolations": [{"field": self.field, "description": self.message}],
                }
            )
        error: dict[str, Any] = {"code": self.http_status, "message": self.message, "status": self.status}
        if details:
            error["details"] = details
        return {"error": error}


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()) if value else 0


def validate(message: Any) -> str:
    """The message's target token (or topic/condition); Refusal as FCM would answer."""
    if not isinstance(message, dict):
        raise Refusal("INVALID_ARGUMENT", "Request contains an invalid argument: message is required")
    targets = [key for key in ("token", "topic", "condition") if message.get(key)]
    if len(targets) != 1:
        raise Refusal(
            "INVALID_ARGUMENT",
            "Exactly one of token, topic or condition must be specified",
            field="message",
        )
    data = message.get("data")
    strings = isinstance(data, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    )
    if data is not None and not strings:
        raise Refusal(
            "INVALID_ARGUMENT",
            "Invalid value at 'message.data': values must be strings",
            field="message.data",
        )
    payload = _size(message.get("notification")) + _size(data)
    for platform, part in (("android", "notification"), ("apns", "payload"), ("webpush", "notification")):
        section = message.get(platform)
        if isinstance(section, dict):
            payload = max(
                payload, _size(message.get("notification")) + _size(data) + _size(section.get(part))
            )
    if payload > MAX_PAYLOAD_BYTES:
        raise Refusal("INVALID_ARGUMENT", f"Message is too big ({payload} > {MAX_PAYLOAD_BYTES} bytes)")
    return str(message[targets[0]])


class FcmStandIn:
    """The stand-in server: start(), then point SWITCHBOARD_FCM_ENDPOINT at ``base_url``."""

    def __init__(self, port: int = 0) -> None:
        self._requested_port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._messages: list[dict[str, Any]] = []
        self._answers: Counter[int] = Counter()
        self._dead: set[str] = set()
        self._invalid: set[str] = set()
        self._faults: deque[str] = deque()
        self._fault_after = 0  # sends to let through before the faults begin
        self._rate: float | None = None
        self._retry_after = 1.0
        self._recent: deque[float] = deque()

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the FCM stand-in is not running")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> FcmStandIn:
        """Serve on 127.0.0.1 (an asyncio server in its own thread: a fan-out sends thousands of
        requests a second over a few dozen keep-alive connections)."""
        # The loop runs in its own thread from the start: the caller's thread may already run an
        # event loop (Playwright's sync API leaves one running), where run_until_complete refuses.
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fcm-standin", daemon=True)
        thread.start()
        opening = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(
                self._serve, HOST, self._requested_port, backlog=512, limit=MAX_BODY_BYTES * 2
            ),
            loop,
        )
        try:
            server = opening.result(timeout=10)
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            loop.close()
            raise
        self._loop, self._server, self._thread = loop, server, thread
        return self

    def stop(self) -> None:
        loop, server, thread = self._loop, self._server, self._thread
        if loop is None or server is None:
            return

        async def close() -> None:
            server.close()
            for writer in list(self._writers):  # open keep-alive connections: end them
                writer.close()
            current = asyncio.current_task()
            connections = [task for task in asyncio.all_tasks() if task is not current]
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.gather(*connections, return_exceptions=True), 2)

        asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=5)
        loop.close()
        self._loop = self._server = self._thread = None

    def __enter__(self) -> FcmStandIn:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- what tests configure and read --------------------------------------------------------

    def received(self) -> list[dict[str, Any]]:
        """Every accepted message, in order: {"name", "project", "message", "at"}."""
        with self._lock:
            return list(self._messages)

    def attempts(self) -> int:
        """How many send requests arrived (accepted or not)."""
        with self._lock:
            return sum(self._answers.values())

    def answers(self) -> dict[int, int]:
        """How many sends were answered with each HTTP status."""
        with self._lock:
            return dict(self._answers)

    def clear(self) -> None:
        """Forget messages, dead tokens, faults and the rate."""
        with self._lock:
            self._messages.clear()
            self._answers.clear()
            self._dead.clear()
            self._invalid.clear()
            self._faults.clear()
            self._fault_after = 0
            self._rate = None
            self._recent.clear()

    def kill_tokens(self, tokens: list[str]) -> None:
        """These tokens answer 404 UNREGISTERED from now on (the app was uninstalled)."""
        with self._lock:
            self._dead.update(tokens)

    def invalidate_tokens(self, tokens: list[str]) -> None:
        """These tokens answer 400 INVALID_ARGUMENT on message.token (not an FCM token)."""
        with self._lock:
            self._invalid.update(tokens)

    def fail_next(self, count: int, status: str = "UNAVAILABLE", after: int = 0) -> None:
        """The next ``count`` sends answer ``status`` (UNAVAILABLE 503 or INTERNAL 500), once
        ``after`` more sends have gone through (a burst in the middle of a fan-out)."""
        if status not in ("UNAVAILABLE", "INTERNAL"):
            raise ValueError(f"fault {status} is not a transient FCM error")
        with self._lock:
            self._faults.extend([status] * count)
            self._fault_after = after

    def set_rate(self, per_second: float | None, retry_after: float = 1.0) -> None:
        """Accept at most ``per_second`` messages in any second, else 429 QUOTA_EXCEEDED."""
        with self._lock:
            self._rate, self._retry_after = per_second, retry_after
            self._recent.clear()

    # --- serving ------------------------------------------------------------------------------

    def send(
        self, project: str, authorization: str | None, body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Answer one send: (HTTP status, JSON body, extra headers)."""
        try:
            name = self._accept(project, authorization, body)
        except Refusal as refusal:
            headers = {"Retry-After": f"{refusal.retry_after:g}"} if refusal.retry_after else {}
            with self._lock:
                self._answers[refusal.http_status] += 1
            return refusal.http_status, refusal.body(), headers
        with self._lock:
            self._answers[200] += 1
        return 200, {"name": name}, {}

    def _accept(self, project: str, authorization: str | None, body: bytes) -> str:
        scheme, _, credential = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Refusal(
                "UNAUTHENTICATED",
                "Request is missing required authentication credential. Expected OAuth 2 access token.",
                http=(401, "UNAUTHENTICATED"),
            )
        try:
            request = json.loads(body or b"{}")
        except ValueError as exc:
            raise Refusal("INVALID_ARGUMENT", f"Invalid JSON payload received. {exc}") from exc
        if not isinstance(request, dict) or set(request) - {"message", "validate_only", "validateOnly"}:
            raise Refusal("INVALID_ARGUMENT", "Invalid JSON payload received. Unknown name.")
        message = request.get("message")
        target = validate(message)
        with self._lock:
            if self._faults and self._fault_after > 0:
                self._fault_after -= 1
            elif self._faults:
                fault = self._faults.popleft()
                raise Refusal(
                    fault,
                    "The service is currently unavailable." if fault == "UNAVAILABLE" else "Internal error.",
                )
            if target in self._invalid:
                raise Refusal(
                    "INVALID_ARGUMENT",
                    "The registration token is not a valid FCM registration token",
                    field="message.token",
                )
            if target in self._dead:
                raise Refusal("UNREGISTERED", "Requested entity was not found.")
            now = time.monotonic()
            if self._rate is not None:
                while self._recent and now - self._recent[0] >= 1.0:
                    self._recent.popleft()
                if len(self._recent) >= self._rate:
                    raise Refusal(
                        "QUOTA_EXCEEDED",
                        "Quota exceeded for quota metric 'Send messages' per minute.",
                        retry_after=self._retry_after,
                    )
                self._recent.append(now)
            name = f"projects/{project}/messages/{next(self._ids)}"
            if not request.get("validate_only") and not request.get("validateOnly"):
                self._messages.append(
                    {"name": name, "project": project, "message": message, "at": time.time()}
                )
        return name

    def count(self) -> int:
        """How many messages were accepted (cheaper than ``len(received())`` while polling)."""
        with self._lock:
            return len(self._messages)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection: HTTP/1.1 requests, kept alive until the client closes it."""
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, _, rest = lines[0].partition(" ")
                path = rest.rpartition(" ")[0] or rest
                headers = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                if length > MAX_BODY_BYTES:
                    writer.write(
                        _response(413, _plain_error(413, "Request too large", "INVALID_ARGUMENT"), close=True)
                    )
                    await writer.drain()
                    return
                body = await reader.readexactly(length) if length else b""
                status, answer, extra = self._route(method, path, headers, body)
                close = headers.get("connection", "").lower() == "close"
                writer.write(_response(status, answer, extra, close=close))
                await writer.drain()
                if close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    def _route(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        bare = path.split("?", 1)[0]
        if method == "POST":
            match = SEND_PATH.match(bare)
            if match:
                return self.send(match["project"], headers.get("authorization"), body)
            try:
                return 200, self.control(bare, body), {}
            except KeyError:
                return 404, _plain_error(404, "Not Found", "NOT_FOUND"), {}
            except (ValueError, TypeError) as exc:
                return 400, _plain_error(400, str(exc), "INVALID_ARGUMENT"), {}
        if method == "GET" and bare == "/_received":
            answers = {str(k): v for k, v in self.answers().items()}
            return 200, {"messages": self.received(), "attempts": self.attempts(), "answers": answers}, {}
        if method == "GET" and bare == "/_health":
            return 200, {"ok": True}, {}
        return 404, _plain_error(404, "Not Found", "NOT_FOUND"), {}

    def control(self, path: str, body: bytes) -> dict[str, Any]:
        request = json.loads(body or b"{}")
        if path == "/_reset":
            self.clear()
        elif path == "/_dead":
            tokens = [str(t) for t in request.get("tokens") or []]
            (self.invalidate_tokens if request.get("invalid") else self.kill_tokens)(tokens)
        elif path == "/_faults":
            self.fail_next(
                int(request.get("count") or 0),
                str(request.get("status") or "UNAVAILABLE"),
                int(request.get("after") or 0),
            )
        elif path == "/_rate":
            rate = request.get("perSecond")
            self.set_rate(None if rate is None else float(rate), float(request.get("retryAfter") or 1))
        else:
            raise KeyError(path)
        return {"ok": True}


REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 413: "Payload Too Large"}
REASONS.update({429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"})


def _plain_error(code: int, message: str, status: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


def _response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None, close: bool = False
) -> bytes:
    data = json.dumps(body).encode()
    head = [
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}",
        "Content-Type: application/json; charset=UTF-8",
        f"Content-Length: {len(data)}",
        "Server: fcm-standin",
    ]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if close:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with FcmStandIn(port=args.port) as standin:
        print(f"FCM stand-in listening on {standin.base_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
