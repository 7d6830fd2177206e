"""The webhook trigger shared by every channel: verify, normalize, publish, answer.

Thin by design: provider knowledge lives in ``shared/channels/<channel>.py``. The answer is 200
only once Pub/Sub confirmed every event; a publish failure answers 503 so the provider retries.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from shared import bus, channels, logs
from shared.config import settings
from shared.errors import PayloadTooLarge, PermanentError, SwitchboardError
from shared.inbound import normalize

if TYPE_CHECKING:  # pragma: no cover
    import flask

log = logging.getLogger("switchboard.webhook")

Response = tuple[str, int, dict[str, str]]
TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def handle(kind: str, request: flask.Request) -> Response:
    """Serve one webhook request for channel ``kind``."""
    logs.configure()
    adapter = channels.adapter(kind)
    try:
        if request.method == "GET":
            return adapter.handshake(request.args), 200, TEXT
        if request.method != "POST":
            return "method not allowed", 405, TEXT
        body = read_body(request, settings().max_webhook_bytes)
        adapter.verify(request.headers, body, request.url)
        normalized = normalize(adapter, body)
        published = bus.publish(normalized.events, normalized.quarantined)
    except SwitchboardError as exc:
        level = logging.WARNING if isinstance(exc, PermanentError) else logging.ERROR
        log.log(
            level,
            "webhook refused",
            extra={"fields": {"channel": kind, "error": type(exc).__name__, "status": exc.http_status}},
        )
        return _reason(exc), exc.http_status, TEXT
    log.info(
        "webhook accepted",
        extra={
            "fields": {
                "channel": kind,
                "events": len(normalized.events),
                "quarantined": len(normalized.quarantined),
                "published": published,
            }
        },
    )
    return "EVENT_RECEIVED", 200, TEXT


def read_body(request: flask.Request, limit: int) -> bytes:
    """The exact raw bytes received, refusing anything over ``limit`` before reading it all."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"body of {declared} bytes is over the {limit} byte limit")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"body is over the {limit} byte limit")
    return body


def _reason(exc: SwitchboardError) -> str:
    # Clear, but never echo provider data back: the class name and our own message only.
    return f"{type(exc).__name__}: {exc}" if isinstance(exc, PermanentError) else "temporarily unavailable"
