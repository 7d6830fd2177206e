"""Every HTTPS function reads its request body through one capped reader, and never holds a body
whole, whoever sends it (functions/http.py ``read_body`` and ``discard_unread``).

The webhooks' POST path is proved by test_body_size_limit.py; here the JSON functions (send_message,
agent_api, chat_api, create_app, deliver, each through the app functions-framework builds from
main.py, as deployed) and the webhooks' other methods:

- a declared ``Content-Length`` over the function's limit (64 KB for the JSON APIs) is refused with 413
  and ``{"error": {"code": "payload_too_large"}}`` before a byte is read; a chunked body (no
  ``Content-Length``) after the limit plus one byte;
- what is left of a refused body, and any body sent with OPTIONS, GET (the webhook handshake, the
  OpenAPI document) or another method, is drained in 64 KB chunks and dropped: functions-framework
  would otherwise read it to its end into memory after the response. The WSGI input counts what is
  read from it, the moment the drain starts is recorded, and tracemalloc bounds what is held;
- no handler reads a body any other way (a scan of functions/ and shared/).

No emulator, no network: every request is refused before authentication would need either.
"""

from __future__ import annotations

import json
import re
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import functions_framework
import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

import functions.chat
import functions.deliver
import functions.http
import functions.rate
import functions.webhook
from shared import config
from tests.security import webhooks
from tests.security.test_body_size_limit import CountingStream

REPO = Path(__file__).resolve().parents[2]
JSON_LIMIT = 64 * 1024
# The JSON functions and the path each one is posted to.
JSON_FUNCTIONS = {
    "send_message": "/",
    "agent_api": "/",
    "chat_api": "/v1/createPost",
    "create_app": "/",
    "deliver": "/",
}
RATE_LIMIT = 8 * 1024  # the rating page's form: a score and a comment of at most 1,000 characters
OVERSIZE = 8 * 1024 * 1024  # far over every limit (the webhooks' is 1 MB)
# What a refusal may hold: the limit's worth and the drain's chunks, through the server's buffers.
HELD_AT_MOST = 1024 * 1024


@pytest.fixture(scope="module")
def json_clients() -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as patch:
        for variable in config.ENVIRONMENT:
            if variable.local_only or variable.name == "SWITCHBOARD_ENV":
                patch.delenv(variable.name, raising=False)
        config.reset()
        clients = {
            name: functions_framework.create_app(target=name, source=str(REPO / "main.py")).test_client()
            for name in JSON_FUNCTIONS
        }
        for name, client in clients.items():
            warm_up(client, JSON_FUNCTIONS[name])
        clients["chat_api"].get("/openapi.json")  # generated on first use
        yield clients
    config.reset()


@pytest.fixture(scope="module")
def webhook_clients() -> Iterator[dict[str, Any]]:
    with webhooks.webhook_environment():
        clients = {kind: webhooks.webhook_client(kind) for kind in webhooks.KINDS}
        for client in clients.values():
            warm_up(client, "/")
        yield clients


def warm_up(client: Any, path: str) -> None:
    """One request of each kind first: what a function imports on first use is not what it holds."""
    for method in ("GET", "POST", "OPTIONS", "PUT"):
        client.open(path, method=method, data=b"{}")


@pytest.fixture
def drain_started_at(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many bytes of the counting input had been read each time a function started draining."""
    recorded: list[int] = []
    real = functions.http.discard_unread

    def discard_unread(request: Any) -> None:
        source = request.environ["wsgi.input"]
        recorded.append(getattr(source, "consumed", -1))
        real(request)

    for module in (functions.http, functions.chat, functions.deliver, functions.webhook, functions.rate):
        monkeypatch.setattr(module, "discard_unread", discard_unread)
    return recorded


def environ(path: str, method: str, stream: CountingStream, content_length: int | None) -> dict[str, Any]:
    """A WSGI environ whose input is ``stream``: with a declared length, or chunked (no length, the
    server delimits the body)."""
    path, _, query = path.partition("?")
    built = EnvironBuilder(path=path, method=method, query_string=query, data=b"").get_environ()
    built["wsgi.input"] = stream
    built.pop("CONTENT_LENGTH", None)
    built["CONTENT_TYPE"] = "application/json"
    if content_length is None:
        built["wsgi.input_terminated"] = True
    else:
        built["CONTENT_LENGTH"] = str(content_length)
    return built


def run(client: Any, built: dict[str, Any]) -> tuple[int, bytes, int]:
    """(status, body, peak bytes held) of one request through the function's real WSGI app."""
    tracemalloc.start()
    try:
        app_iter, status, _ = run_wsgi_app(client.application, built, True)
        body = b"".join(app_iter)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return int(status.split()[0]), body, peak


def error_code(body: bytes) -> str:
    return str(json.loads(body)["error"]["code"])


# --- the rating page (an HTML form) -------------------------------------------------------------------


@pytest.fixture(scope="module")
def rate_client() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        for variable in config.ENVIRONMENT:
            if variable.local_only or variable.name == "SWITCHBOARD_ENV":
                patch.delenv(variable.name, raising=False)
        config.reset()
        client = functions_framework.create_app(target="rate", source=str(REPO / "main.py")).test_client()
        warm_up(client, "/")
        yield client
    config.reset()


@pytest.mark.parametrize("declared", [True, False], ids=["declared length", "chunked"])
def test_the_rating_page_refuses_an_oversized_form_before_reading_it_and_never_holds_it(
    rate_client: Any, drain_started_at: list[int], declared: bool
) -> None:
    stream = CountingStream(OVERSIZE)
    built = environ("/", "POST", stream, OVERSIZE if declared else None)
    built["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
    status, body, peak = run(rate_client, built)
    assert status == 413 and b"<!doctype html>" in body and b"Traceback" not in body
    assert drain_started_at[0] == (0 if declared else RATE_LIMIT + 1)
    assert stream.consumed == OVERSIZE
    assert peak < HELD_AT_MOST, f"{peak} bytes held while refusing {OVERSIZE}"


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_the_rating_page_never_reads_a_body_sent_with_another_method(
    rate_client: Any, drain_started_at: list[int], method: str
) -> None:
    stream = CountingStream(OVERSIZE)
    status, body, peak = run(rate_client, environ("/?k=not-a-link", method, stream, None))
    assert status == (400 if method == "GET" else 405), body  # GET: the link is not valid
    assert drain_started_at[0] == 0, "the body was read before the page answered"
    assert stream.consumed == OVERSIZE
    assert peak < HELD_AT_MOST


# --- the JSON functions -----------------------------------------------------------------------------


def test_every_json_function_has_a_declared_limit() -> None:
    assert {name: functions.http.body_limit(name) for name in JSON_FUNCTIONS} == dict.fromkeys(
        JSON_FUNCTIONS, JSON_LIMIT
    )
    topology = json.loads((REPO / "infra" / "topology.json").read_text())
    # Every function called over HTTPS (all but the Pub/Sub-pushed ingest) but the webhooks and the
    # rating page (an HTML form, tested below).
    https = {name for name, spec in topology["functions"].items() if spec["trigger"] != "pubsub_push"}
    assert {name for name in https if not name.startswith("webhook_")} == {*JSON_FUNCTIONS, "rate"}
    assert functions.http.body_limit("rate") == RATE_LIMIT


@pytest.mark.parametrize("name", JSON_FUNCTIONS)
@pytest.mark.parametrize("declared", [True, False], ids=["declared length", "chunked"])
def test_an_oversized_body_is_refused_with_413_before_it_is_read_and_never_held(
    json_clients: dict[str, Any], drain_started_at: list[int], name: str, declared: bool
) -> None:
    stream = CountingStream(OVERSIZE)
    built = environ(JSON_FUNCTIONS[name], "POST", stream, OVERSIZE if declared else None)
    status, body, peak = run(json_clients[name], built)
    assert status == 413
    assert error_code(body) == "payload_too_large"
    assert "limit" in json.loads(body)["error"]["message"]
    # Refused unread when declared; a chunked body after the limit plus one byte...
    assert drain_started_at[0] == (0 if declared else JSON_LIMIT + 1)
    # ...then drained to its end (the connection stays usable), never held whole.
    assert stream.consumed == OVERSIZE
    assert peak < HELD_AT_MOST, f"{peak} bytes held while refusing {OVERSIZE}"


@pytest.mark.parametrize("name", JSON_FUNCTIONS)
def test_a_body_one_byte_over_the_limit_is_refused_and_one_of_the_limit_is_not(
    json_clients: dict[str, Any], name: str
) -> None:
    path = JSON_FUNCTIONS[name]
    over = json_clients[name].post(path, data=b" " * (JSON_LIMIT + 1), content_type="application/json")
    assert over.status_code == 413
    assert error_code(over.data) == "payload_too_large"
    # At the limit the body is read and the function goes on: here to refuse the caller (no token).
    at_limit = json_clients[name].post(path, data=b" " * JSON_LIMIT, content_type="application/json")
    assert at_limit.status_code in (401, 403), at_limit.data


@pytest.mark.parametrize("name", JSON_FUNCTIONS)
def test_a_chunked_body_within_the_limit_is_read_whole(json_clients: dict[str, Any], name: str) -> None:
    stream = CountingStream(JSON_LIMIT)
    status, body, _ = run(json_clients[name], environ(JSON_FUNCTIONS[name], "POST", stream, None))
    assert status in (401, 403), body
    assert stream.consumed == JSON_LIMIT


@pytest.mark.parametrize("name", JSON_FUNCTIONS)
@pytest.mark.parametrize("method", ["OPTIONS", "GET", "PUT"])
def test_other_methods_never_read_a_body_and_never_hold_one(
    json_clients: dict[str, Any], drain_started_at: list[int], name: str, method: str
) -> None:
    stream = CountingStream(OVERSIZE)
    status, _, peak = run(json_clients[name], environ(JSON_FUNCTIONS[name], method, stream, None))
    assert status == (204 if method == "OPTIONS" and name != "deliver" else 405), status
    assert drain_started_at[0] == 0, "the body was read before the function answered"
    assert stream.consumed == OVERSIZE
    assert peak < HELD_AT_MOST, f"{peak} bytes held answering {method}"


@pytest.mark.parametrize("declared", [True, False], ids=["declared length", "chunked"])
def test_the_openapi_document_is_served_without_reading_a_body_sent_with_it(
    json_clients: dict[str, Any], drain_started_at: list[int], declared: bool
) -> None:
    stream = CountingStream(OVERSIZE)
    built = environ("/openapi.json", "GET", stream, OVERSIZE if declared else None)
    status, body, _ = run(json_clients["chat_api"], built)
    assert status == 200
    assert json.loads(body)["openapi"].startswith("3.")
    assert drain_started_at == [0]
    assert stream.consumed == OVERSIZE


# --- the webhooks' other methods ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", webhooks.KINDS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("declared", [True, False], ids=["declared length", "chunked"])
def test_webhook_handshakes_and_other_methods_never_read_or_hold_a_body(
    webhook_clients: dict[str, Any], drain_started_at: list[int], kind: str, method: str, declared: bool
) -> None:
    stream = CountingStream(OVERSIZE)
    query = "bot=" + webhooks.BOT_ID if kind == "telegram" else ""
    built = environ(f"/?{query}", method, stream, OVERSIZE if declared else None)
    status, _, peak = run(webhook_clients[kind], built)
    assert status == (403 if method == "GET" else 405)  # what it answers without a body
    assert drain_started_at == [0], "the webhook read a body it does not take"
    assert stream.consumed == OVERSIZE
    assert peak < HELD_AT_MOST, f"{peak} bytes held answering {method}"


def test_a_meta_handshake_is_answered_whatever_body_comes_with_it(
    webhook_clients: dict[str, Any], drain_started_at: list[int]
) -> None:
    stream = CountingStream(OVERSIZE)
    query = f"hub.mode=subscribe&hub.challenge=42&hub.verify_token={webhooks.META_VERIFY_TOKEN}"
    status, body, _ = run(webhook_clients["whatsapp"], environ(f"/?{query}", "GET", stream, None))
    assert (status, body) == (200, b"42")
    assert drain_started_at == [0]
    assert stream.consumed == OVERSIZE


# --- one reader --------------------------------------------------------------------------------------

BODY_ACCESS = re.compile(
    r"\b(?:request|req)\.(?:get_data|get_json|data|json|form|files|values|stream|input_stream)\b"
    r"|wsgi\.input"
)


def test_bodies_are_read_only_through_the_capped_reader() -> None:
    readers: list[str] = []
    for path in sorted(
        [*(REPO / "functions").rglob("*.py"), *(REPO / "shared").rglob("*.py"), REPO / "main.py"]
    ):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if BODY_ACCESS.search(line):
                readers.append(f"{path.relative_to(REPO)}:{number}")
    assert readers and all(reader.startswith("functions/http.py:") for reader in readers), readers
