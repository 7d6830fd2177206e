"""The webhook trigger shared by every channel: verify, normalize, publish, answer.

Thin by design: provider knowledge lives in ``shared/channels/<channel>.py``. The answer is 200
only once Pub/Sub confirmed every event; a publish failure answers 503 so the provider retries.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from functions.http import body_limit, discard_unread, read_body, start
from shared import bus, channels
from shared.config import settings
from shared.errors import SwitchboardError
from shared.inbound import normalize

if TYPE_CHECKING:  # pragma: no cover
    import flask

log = logging.getLogger("switchboard.webhook")

Response = tuple[str, int, dict[str, str]]
TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def serve(kind: str, request: flask.Request) -> Response:
    """The deployed webhook: :func:`handle`, then whatever is left of the body (a refused one, one sent
    with GET or another method) dropped in 64 KB chunks, never buffered (functions/http.py)."""
    try:
        return handle(kind, request)
    finally:
        discard_unread(request)


def handle(kind: str, request: flask.Request) -> Response:
    """Serve one webhook request for channel ``kind``."""
    start()
    adapter = channels.adapter(kind)
    try:
        if request.method == "GET":
            # The handshake is in the query: a body sent with it is never read (serve drains it).
            return adapter.handshake(request.args), 200, TEXT
        if request.method != "POST":
            return "method not allowed", 405, TEXT
        body = read_body(request, body_limit(f"webhook_{kind}"))
        url = public_url(request, kind)
        adapter.verify(request.headers, body, url)
        normalized = normalize(adapter, body, url)
        published = bus.publish(normalized.events, normalized.quarantined, encoded=normalized.encoded)
    except SwitchboardError as exc:
        level = logging.ERROR if exc.transient else logging.WARNING
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
    # What the provider expects as a successful answer (Twilio: TwiML), the adapter's to say.
    answer = adapter.acknowledgement
    return answer.body, 200, {"Content-Type": answer.content_type}


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


def _reason(exc: SwitchboardError) -> str:
    # Clear, but never echo provider data back: the class name and our own message only.
    return "temporarily unavailable" if exc.transient else f"{type(exc).__name__}: {exc}"
