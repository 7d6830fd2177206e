"""Bodies over 1 MB are refused with 413 on every webhook target, before the signature is computed
and before any parsing: a large body costs neither an HMAC over megabytes nor a JSON parse.

The webhook handler refuses a declared ``Content-Length`` over the limit without reading a byte, and
a body without one (chunked transfer) after the limit plus one byte. The WSGI input is a stream that
counts what is read from it. functions-framework reads every request to its end after the response,
and into memory; the deployed function drains a refused body first, in small chunks, so what it holds
stays small whatever the sender declares.
"""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator
from typing import Any

import flask
import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from functions import webhook as webhook_trigger
from shared import channels
from tests.security import webhooks

LIMIT = webhooks.MAX_BODY_BYTES
OVERSIZE = 8 * LIMIT


class CountingStream(io.RawIOBase):
    """``size`` bytes of padding that records how many bytes were read from it."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self.remaining)
        buffer[:count] = b"x" * count
        self.remaining -= count
        self.consumed += count
        return count


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[str, Any]]:
    with webhooks.webhook_environment():
        yield {kind: webhooks.webhook_client(kind) for kind in channels.kinds()}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every signature check and every parse the webhook starts."""
    recorded: list[str] = []
    for kind in channels.kinds():
        cls = type(channels.adapter(kind))
        real_verify = cls.verify

        def verify(self: Any, *args: Any, _real: Any = real_verify, **kwargs: Any) -> None:
            recorded.append("verify")
            _real(self, *args, **kwargs)

        monkeypatch.setattr(cls, "verify", verify)
    real_normalize = webhook_trigger.normalize

    def normalize(*args: Any, **kwargs: Any) -> Any:
        recorded.append("normalize")
        return real_normalize(*args, **kwargs)

    monkeypatch.setattr(webhook_trigger, "normalize", normalize)
    return recorded


def padded_body(kind: str, size: int) -> bytes:
    """A well-formed body of exactly ``size`` bytes for ``kind`` (the padding is an extra field)."""
    if kind == "twilio":
        head = webhooks.twilio_form({"Body": "hello"}) + b"&Padding="
    elif kind == "telegram":
        head = b'{"update_id": 1, "padding": "'
    else:
        head = b'{"object": "page", "entry": [], "padding": "'
    tail = b"" if kind == "twilio" else b'"}'
    body = head + b"x" * (size - len(head) - len(tail)) + tail
    assert len(body) == size
    return body


@pytest.mark.parametrize("kind", webhooks.KINDS)
def test_a_signed_body_one_byte_over_the_limit_is_refused_before_verification_and_parsing(
    clients: dict[str, Any], calls: list[str], kind: str
) -> None:
    response = webhooks.post(clients[kind], webhooks.signed(kind, padded_body(kind, LIMIT + 1)))
    assert response.status_code == 413
    assert calls == []


@pytest.mark.parametrize("kind", webhooks.KINDS)
def test_a_signed_body_of_exactly_the_limit_is_not_refused_for_its_size(
    clients: dict[str, Any], calls: list[str], kind: str
) -> None:
    response = webhooks.post(clients[kind], webhooks.signed(kind, padded_body(kind, LIMIT)))
    assert response.status_code in (200, 503)
    assert calls == ["verify", "normalize"]


def _environ(kind: str, stream: CountingStream, content_length: int | None) -> dict[str, Any]:
    query = f"bot={webhooks.BOT_ID}" if kind == "telegram" else ""
    builder = EnvironBuilder(path="/", method="POST", query_string=query, data=b"")
    environ = builder.get_environ()
    # A well-shaped signature header: verification would fail, but it must never be reached.
    header = webhooks.SIGNATURE_HEADERS[kind]
    environ["HTTP_" + header.upper().replace("-", "_")] = "sha256=" + "0" * 64
    environ["wsgi.input"] = stream
    environ.pop("CONTENT_LENGTH", None)
    if content_length is None:
        environ["wsgi.input_terminated"] = True  # chunked: the server delimits the body
    else:
        environ["CONTENT_LENGTH"] = str(content_length)
    return environ


@pytest.mark.parametrize("kind", webhooks.KINDS)
@pytest.mark.parametrize("declared", [True, False], ids=["declared length", "chunked"])
def test_an_oversized_body_is_refused_with_413_before_verification_and_parsing(
    clients: dict[str, Any], calls: list[str], kind: str, declared: bool
) -> None:
    stream = CountingStream(OVERSIZE)
    environ = _environ(kind, stream, OVERSIZE if declared else None)
    app_iter, status, _ = run_wsgi_app(clients[kind].application, environ, True)
    assert status.startswith("413")
    assert b"".join(app_iter)  # a reason is given
    assert calls == []


@pytest.mark.parametrize("kind", webhooks.KINDS)
@pytest.mark.parametrize("declared", [True, False], ids=["declared length", "chunked"])
def test_the_webhook_handler_itself_reads_no_more_than_the_limit(
    clients: dict[str, Any], kind: str, declared: bool
) -> None:
    # functions.webhook.handle on its own, inside the function's request context: a declared
    # oversize is refused unread, an undeclared one after limit + 1 bytes.
    stream = CountingStream(OVERSIZE)
    app = clients[kind].application
    with app.request_context(_environ(kind, stream, OVERSIZE if declared else None)):
        _, status, _ = webhook_trigger.handle(kind, flask.request)
    assert status == 413
    assert stream.consumed == (0 if declared else LIMIT + 1)


@pytest.mark.parametrize("kind", webhooks.KINDS)
@pytest.mark.parametrize("declared", [True, False], ids=["declared length", "chunked"])
def test_the_deployed_function_drains_an_oversized_body_without_holding_it_in_memory(
    clients: dict[str, Any], kind: str, declared: bool
) -> None:
    stream = CountingStream(OVERSIZE)
    environ = _environ(kind, stream, OVERSIZE if declared else None)
    tracemalloc.start()
    try:
        app_iter, status, _ = run_wsgi_app(clients[kind].application, environ, True)
        b"".join(app_iter)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status.startswith("413")
    # Read to its end (the connection stays usable), but never held whole: what is held is about the
    # limit's worth (a chunked body is read to limit + 1 bytes to know it is over, through the
    # server's buffers), far below the body; buffering it, as the framework alone does, needs 8 MB.
    assert stream.consumed == OVERSIZE
    assert peak < OVERSIZE // 2, f"{peak} bytes held while refusing {OVERSIZE}"
