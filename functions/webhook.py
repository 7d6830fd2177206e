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
# What each provider expects as a successful answer: Twilio wants TwiML (an empty <Response/>
# sends no reply), everyone else any 200.
ACKNOWLEDGEMENTS: dict[str, tuple[str, dict[str, str]]] = {
    "twilio": ('<?xml version="1.0" encoding="UTF-8"?><Response/>', {"Content-Type": "text/xml"}),
}


DISCARD_CHUNK_BYTES = 64 * 1024


def serve(kind: str, request: flask.Request) -> Response:
    """The deployed webhook: :func:`handle`, and a refused oversized body dropped unbuffered."""
    answer = handle(kind, request)
    if answer[1] == 413:
        discard_unread(request)
    return answer


def discard_unread(request: flask.Request) -> None:
    """Read what is left of a refused body in small chunks and drop it.

    functions-framework reads every request to its end after the response (``get_data()`` in an
    after_request hook, so that answering early does not reset the connection) and keeps it all in
    memory: an 8 MB body sent to be refused would be held whole. Drained here, nothing is left for
    it to read, and memory stays at one chunk whatever the sender declares."""
    stream = request.stream
    while stream.read(DISCARD_CHUNK_BYTES):
        pass


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
        url = public_url(request, kind)
        adapter.verify(request.headers, body, url)
        normalized = normalize(adapter, body, url)
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
    answer, headers = ACKNOWLEDGEMENTS.get(kind, ("EVENT_RECEIVED", TEXT))
    return answer, 200, headers


def public_url(request: flask.Request, kind: str) -> str:
    """The URL the provider called, as it signed it (Twilio signs the full public URL).

    Behind Google's front end the request arrives over plain HTTP with the public scheme in
    X-Forwarded-Proto; an operator may pin the public base with SWITCHBOARD_PUBLIC_BASE_URL."""
    base = settings().public_base_url
    query = request.query_string.decode("latin-1")
    if base:
        return f"{base}/webhook-{kind}" + (f"?{query}" if query else "")
    scheme = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
    return f"{scheme}://{request.host}{request.full_path if query else request.path}"


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
