"""What every HTTPS function shares: the one capped body reader, CORS for the dashboard, JSON answers,
and one mapping from Switchboard's errors to status codes with a machine-readable ``error.code``.

Request bodies are read only through :func:`read_body`: a declared ``Content-Length`` over the
function's limit is refused before a byte is read, and a body without one (chunked) after the limit
plus one byte. Whatever a function leaves unread (a refused body, a body sent with GET or OPTIONS) is
dropped by :func:`discard_unread` in 64 KB chunks: functions-framework would otherwise read it to its
end, into memory, after the response.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from shared import logs
from shared.config import settings
from shared.errors import PayloadTooLarge, SwitchboardError, Throttled

if TYPE_CHECKING:  # pragma: no cover
    import flask

log = logging.getLogger("switchboard.http")

Response = tuple[str, int, dict[str, str]]
CORS = {
    "Access-Control-Allow-Origin": "*",  # bearer tokens, no cookies: any origin may call with a token
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, X-User-Id",
    "Access-Control-Max-Age": "3600",
}


def start() -> None:
    """What every function does first: load the settings, which in production refuses any emulator
    or other local-only variable (shared/config.py: UnsafeConfiguration, logged), then JSON logs.
    Both are cached after the first request; nothing happens at import."""
    settings()
    logs.configure()


# --- request bodies -------------------------------------------------------------------------------

DISCARD_CHUNK_BYTES = 64 * 1024
JSON_MAX_BODY_BYTES = 64 * 1024
# The most each function reads of a request body, by entry point: the one place the limits live.
# The JSON APIs' bodies are small (a reply's text at most its channel's limit, 4,096 characters or fewer,
# refused beyond it by name; a chat post 4,000);
# the webhooks' limit is a setting (SWITCHBOARD_MAX_WEBHOOK_BYTES, 1 MB: providers batch events).
MAX_BODY_BYTES: dict[str, int] = {
    "send_message": JSON_MAX_BODY_BYTES,
    "agent_api": JSON_MAX_BODY_BYTES,
    "chat_api": JSON_MAX_BODY_BYTES,
    "create_app": JSON_MAX_BODY_BYTES,
    "deliver": JSON_MAX_BODY_BYTES,
    "rate": 8 * 1024,  # the rating page's form: a score and a comment of at most 1,000 characters
}
WEBHOOK_PREFIX = "webhook_"


def body_limit(function: str) -> int:
    """The body limit of the function deployed as ``function`` (its main.py entry point)."""
    if function.startswith(WEBHOOK_PREFIX):
        return settings().max_webhook_bytes
    return MAX_BODY_BYTES[function]


def read_body(request: flask.Request, limit: int) -> bytes:
    """The exact raw bytes received, refusing anything over ``limit`` before reading it all.

    A declared ``Content-Length`` over the limit raises PayloadTooLarge without reading a byte; a
    body without one is read to ``limit + 1`` bytes at most. What is left of a refused body is for
    :func:`discard_unread`."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"body of {declared} bytes is over the {limit} byte limit")
    stream = request.stream
    chunks: list[bytes] = []
    received = 0
    while received <= limit:
        # A stream may answer fewer bytes than asked (one socket read): ask until the end or the cap.
        chunk = stream.read(limit + 1 - received)
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
    if received > limit:
        raise PayloadTooLarge(f"body is over the {limit} byte limit")
    return b"".join(chunks)


def discard_unread(request: flask.Request) -> None:
    """Read what is left of the body in small chunks and drop it.

    functions-framework reads every request to its end after the response (``get_data()`` in an
    after_request hook, so that answering early does not reset the connection) and keeps it all in
    memory: an 8 MB body sent to be refused would be held whole. Drained here, nothing is left for
    it to read, and memory stays at one chunk whatever the sender declares. Cheap when the body was
    read: the stream is at its end."""
    stream = request.stream
    while stream.read(DISCARD_CHUNK_BYTES):
        pass


# --- JSON answers -----------------------------------------------------------------------------------


def answer(body: dict[str, Any], status: int = 200) -> Response:
    """A JSON response with CORS headers."""
    return json.dumps(body, default=str), status, {**CORS, "Content-Type": "application/json"}


def error(code: str, message: str, status: int, details: Any = None) -> Response:
    """A JSON error the dashboard can show: {"error": {"code", "message", "details"?}}."""
    payload: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        payload["details"] = details
    return answer({"error": payload}, status)


def serve(
    request: flask.Request, handler: Callable[[flask.Request, bytes], dict[str, Any]], limit: int
) -> Response:
    """Run ``handler`` with a POST's body (read through :func:`read_body` first, capped at ``limit``),
    answer CORS preflights, and map errors to JSON answers; no body is ever left for the framework."""
    try:
        start()
        if request.method == "OPTIONS":
            return "", 204, CORS
        if request.method != "POST":
            return error("method_not_allowed", "use POST", 405)
        try:
            return answer(handler(request, read_body(request, limit)))
        except ValidationError as exc:
            details = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
            return error("invalid_request", "the request body is not valid", 400, details)
        except json.JSONDecodeError:
            return error("invalid_json", "the request body is not JSON", 400)
        except SwitchboardError as exc:
            return switchboard_error(exc)
    finally:
        discard_unread(request)


def switchboard_error(exc: SwitchboardError) -> Response:
    """The JSON answer for one of Switchboard's errors: a transient one says only "retry"; a
    refusal its code and message; a limit also when to come back (``Retry-After``)."""
    if exc.transient:
        log.error("transient failure", extra={"fields": {"error": type(exc).__name__}})
        return error("unavailable", "temporarily unavailable, retry", exc.http_status)
    code = getattr(exc, "code", None) or _snake(type(exc).__name__)
    body, status, headers = error(str(code), str(exc), exc.http_status)
    if isinstance(exc, Throttled):
        headers = {**headers, "Retry-After": str(max(1, math.ceil(exc.retry_after)))}
    return body, status, headers


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))
