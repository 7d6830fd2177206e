"""The provider sandbox answers the real published outbound bodies the way Meta documents.

Conformance data: the ``out-*`` fixtures in ``shared/fixtures/providers`` (see SOURCES.md there),
read in place. Every server and thread a test starts is stopped by the test's fixtures.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local.provider_sandbox import ProviderSandbox

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO.parent / "shared" / "fixtures" / "providers"
SOURCES = FIXTURES / "SOURCES.md"

PAGE_ID, PAGE_TOKEN = "1000000000001", "page-token"
IG_ID, IG_TOKEN = "17841400000000001", "ig-token"
PHONE_ID, WA_TOKEN = "106540352242922", "wa-token"
WABA_ID, DISPLAY_NUMBER = "102290129340398", "15550783881"
APP_SECRET = "sandbox-app-secret"
VERSION = "v21.0"


# -- fixtures -----------------------------------------------------------------------------------------


def _sources_rows() -> dict[str, str]:
    """SOURCES.md table rows by fixture file (``channel/name.json``)."""
    if not SOURCES.is_file():
        pytest.fail(f"provider fixtures missing: {SOURCES} (they are read in place, never copied)")
    rows = {}
    for line in SOURCES.read_text().splitlines():
        match = re.match(r"^\| `([^`]+)` \|", line)
        if match:
            rows[match[1]] = line
    return rows


def _represents(row: str) -> str:
    return row.split("|")[3].strip()


def _is_response(row: str) -> bool:
    represents = _represents(row).lower()
    return "response" in represents and "request" not in represents


def _load(relative: str) -> Any:
    path = FIXTURES / relative
    if not path.is_file():
        pytest.fail(f"provider fixture missing: {path}")
    return json.loads(path.read_bytes())


def _outbound(channel: str, *patterns: str) -> list[str]:
    """The published outbound fixtures of a channel matching ``patterns``, as ``channel/name``."""
    directory = FIXTURES / channel
    if not directory.is_dir():
        pytest.fail(f"provider fixtures missing: {directory}")
    names = sorted({p.name for pattern in patterns for p in directory.glob(pattern)})
    if not names:
        pytest.fail(f"no {patterns} fixtures in {directory}")
    return [f"{channel}/{name}" for name in names]


def _requests_and_responses(channel: str, *patterns: str) -> tuple[list[str], list[str]]:
    rows = _sources_rows()
    files = _outbound(channel, *patterns)
    unknown = [f for f in files if f not in rows]
    if unknown:
        pytest.fail(f"fixtures not described in SOURCES.md: {unknown}")
    return [f for f in files if not _is_response(rows[f])], [f for f in files if _is_response(rows[f])]


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """Every server and thread a test starts is stopped by the end of the test."""
    before = set(threading.enumerate())
    yield
    _wait_for(lambda: not (set(threading.enumerate()) - before), timeout=5, what="threads to stop")


@pytest.fixture
def sandbox() -> Iterator[ProviderSandbox]:
    with ProviderSandbox() as running:
        running.register_account("messenger", PAGE_ID, PAGE_TOKEN)
        running.register_account("instagram", IG_ID, IG_TOKEN)
        running.register_account(
            "whatsapp", PHONE_ID, WA_TOKEN, waba_id=WABA_ID, display_phone_number=DISPLAY_NUMBER
        )
        yield running


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def _messenger(http: requests.Session, sandbox: ProviderSandbox, body: Any, **kw: Any) -> requests.Response:
    url = f"{sandbox.base_url}/{VERSION}/me/messages"
    return http.post(url, params={"access_token": PAGE_TOKEN}, json=body, timeout=5, **kw)


def _instagram(http: requests.Session, sandbox: ProviderSandbox, body: Any) -> requests.Response:
    url = f"{sandbox.base_url}/{VERSION}/{IG_ID}/messages"
    return http.post(url, headers={"Authorization": f"Bearer {IG_TOKEN}"}, json=body, timeout=5)


def _whatsapp(
    http: requests.Session, sandbox: ProviderSandbox, body: Any, *, token: str | None = WA_TOKEN, **kw: Any
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"{sandbox.base_url}/{VERSION}/{PHONE_ID}/messages"
    return http.post(url, headers=headers, json=body, timeout=kw.pop("timeout", 5), **kw)


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def _assert_graph_error(response: requests.Response, status: int, code: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    assert re.fullmatch(r"A[A-Za-z0-9_-]{22}", error["fbtrace_id"])
    return error


# -- Messenger and Instagram Send API ---------------------------------------------------------------

MESSENGER_REQUESTS, MESSENGER_RESPONSES = _requests_and_responses("messenger", "out-courier-send*.json")
INSTAGRAM_REQUESTS, _ = _requests_and_responses("instagram", "out-courier-send*.json")


def test_published_send_fixtures_are_classified() -> None:
    assert len(MESSENGER_REQUESTS) >= 8
    assert set(MESSENGER_RESPONSES) == {
        "messenger/out-courier-send-success-message-id.json",
        "messenger/out-courier-sender-action-response.json",
    }
    assert len(INSTAGRAM_REQUESTS) >= 3


@pytest.mark.parametrize("fixture", MESSENGER_REQUESTS)
def test_messenger_accepts_published_request(
    fixture: str, sandbox: ProviderSandbox, http: requests.Session
) -> None:
    body = _load(fixture)
    response = _messenger(http, sandbox, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    recipient = body["recipient"]
    if "sender_action" in body:
        published = _load("messenger/out-courier-sender-action-response.json")
        assert answer == published == {"recipient_id": recipient["id"]}
        return
    published = _load("messenger/out-courier-send-success-message-id.json")
    assert set(published) <= set(answer)
    assert re.fullmatch(r"m_[A-Za-z0-9_-]{20,}", answer["message_id"])
    if "id" in recipient:
        assert answer == {"recipient_id": recipient["id"], "message_id": answer["message_id"]}
    else:
        assert answer == {"message_id": answer["message_id"]}


@pytest.mark.parametrize("fixture", INSTAGRAM_REQUESTS)
def test_instagram_accepts_published_request(
    fixture: str, sandbox: ProviderSandbox, http: requests.Session
) -> None:
    body = _load(fixture)
    response = _instagram(http, sandbox, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {"recipient_id", "message_id"}
    assert answer["recipient_id"] == body["recipient"]["id"]
    assert re.fullmatch(r"aWdf[A-Za-z0-9_-]+", answer["message_id"])  # base64 of "ig_message_item:..."
    assert sandbox.requests()[-1].channel == "instagram"


def test_form_encoded_send_api_call(sandbox: ProviderSandbox, http: requests.Session) -> None:
    form = {
        "access_token": PAGE_TOKEN,
        "messaging_type": "RESPONSE",
        "recipient": json.dumps({"id": "12345"}),
        "message": json.dumps({"text": "form encoded"}),
    }
    response = http.post(f"{sandbox.base_url}/{VERSION}/{PAGE_ID}/messages", data=form, timeout=5)
    assert response.status_code == 200, response.text
    assert response.json()["recipient_id"] == "12345"
    logged = sandbox.requests()[-1]
    assert logged.form is not None and logged.form["recipient"] == ['{"id": "12345"}']
    assert logged.json is None


SEND_API_INVALID = [
    pytest.param({"messaging_type": "RESPONSE", "message": {"text": "x"}}, 100, None, id="no-recipient"),
    pytest.param(
        {"messaging_type": "RESPONSE", "recipient": {}, "message": {"text": "x"}},
        100,
        None,
        id="empty-recipient",
    ),
    pytest.param(
        {"messaging_type": "RESPONSE", "recipient": {"id": "not-a-psid"}, "message": {"text": "x"}},
        100,
        2018001,
        id="no-matching-user",
    ),
    pytest.param({"recipient": {"id": "1"}, "message": {"text": "x"}}, 100, None, id="no-messaging-type"),
    pytest.param(
        {"messaging_type": "PROMO", "recipient": {"id": "1"}, "message": {"text": "x"}},
        100,
        None,
        id="bad-messaging-type",
    ),
    pytest.param(
        {"messaging_type": "MESSAGE_TAG", "recipient": {"id": "1"}, "message": {"text": "x"}},
        100,
        None,
        id="tag-missing",
    ),
    pytest.param(
        {
            "messaging_type": "MESSAGE_TAG",
            "tag": "SHOUTING",
            "recipient": {"id": "1"},
            "message": {"text": "x"},
        },
        100,
        None,
        id="tag-unknown",
    ),
    pytest.param(
        {"messaging_type": "RESPONSE", "recipient": {"id": "1"}, "message": {"text": "x" * 2001}},
        100,
        None,
        id="text-over-2000",
    ),
    pytest.param(
        {
            "messaging_type": "RESPONSE",
            "recipient": {"id": "1"},
            "message": {"text": "x"},
            "sender_action": "typing_on",
        },
        100,
        None,
        id="message-and-sender-action",
    ),
    pytest.param({"messaging_type": "RESPONSE", "recipient": {"id": "1"}}, 100, None, id="neither"),
    pytest.param(
        {
            "messaging_type": "RESPONSE",
            "recipient": {"id": "1"},
            "message": {"attachment": {"type": "gif", "payload": {"url": "https://x/y.gif"}}},
        },
        100,
        None,
        id="attachment-type",
    ),
    pytest.param(
        {
            "messaging_type": "RESPONSE",
            "recipient": {"id": "1"},
            "message": {"attachment": {"type": "image", "payload": {}}},
        },
        100,
        None,
        id="attachment-without-url",
    ),
    pytest.param(
        {
            "messaging_type": "RESPONSE",
            "recipient": {"id": "1"},
            "message": {"text": "?", "quick_replies": [{"content_type": "text", "title": "t"}]},
        },
        100,
        None,
        id="quick-reply-without-payload",
    ),
    pytest.param({"recipient": {"id": "1"}, "sender_action": "dance"}, 100, None, id="sender-action"),
]


@pytest.mark.parametrize(("body", "code", "subcode"), SEND_API_INVALID)
def test_send_api_rejects_invalid_requests(
    body: dict[str, Any], code: int, subcode: int | None, sandbox: ProviderSandbox, http: requests.Session
) -> None:
    error = _assert_graph_error(_messenger(http, sandbox, body), 400, code)
    assert error["type"] == "OAuthException"
    assert error["message"].startswith(f"(#{code})")
    assert error.get("error_subcode") == subcode
    assert "error_data" not in error
    if subcode == 2018001:
        assert error["message"] == "(#100) No matching user found"


def test_instagram_counts_text_in_bytes(sandbox: ProviderSandbox, http: requests.Session) -> None:
    # 400 three-byte characters: 400 characters (fine on Messenger), 1200 bytes (too long on Instagram).
    body = {"messaging_type": "RESPONSE", "recipient": {"id": "12345"}, "message": {"text": "€" * 400}}
    _assert_graph_error(_instagram(http, sandbox, body), 400, 100)
    assert _messenger(http, sandbox, body).status_code == 200


def test_instagram_allows_only_the_human_agent_tag(sandbox: ProviderSandbox, http: requests.Session) -> None:
    body = {
        "messaging_type": "MESSAGE_TAG",
        "tag": "ACCOUNT_UPDATE",
        "recipient": {"id": "12345"},
        "message": {"text": "x"},
    }
    _assert_graph_error(_instagram(http, sandbox, body), 400, 100)
    assert _messenger(http, sandbox, body).status_code == 200


def test_graph_authentication_errors(sandbox: ProviderSandbox, http: requests.Session) -> None:
    body = _load("messenger/out-courier-send-response.json")
    base = sandbox.base_url
    # No token at all: /me cannot resolve the page (2500), a node needs a token (104).
    error = _assert_graph_error(http.post(f"{base}/{VERSION}/me/messages", json=body, timeout=5), 400, 2500)
    assert error["type"] == "OAuthException"
    _assert_graph_error(http.post(f"{base}/{VERSION}/{PAGE_ID}/messages", json=body, timeout=5), 400, 104)
    # A token Graph cannot parse: 190.
    wrong = http.post(f"{base}/{VERSION}/me/messages", params={"access_token": "nope"}, json=body, timeout=5)
    error = _assert_graph_error(wrong, 400, 190)
    assert error["type"] == "OAuthException"
    assert "invalid_token" in wrong.headers["WWW-Authenticate"]
    # A valid token on an object it cannot act for, or an unknown object: 100 / 33.
    other = http.post(
        f"{base}/{VERSION}/{PAGE_ID}/messages", params={"access_token": IG_TOKEN}, json=body, timeout=5
    )
    error = _assert_graph_error(other, 400, 100)
    assert (error["error_subcode"], error["type"]) == (33, "GraphMethodException")
    unknown = http.post(
        f"{base}/{VERSION}/999/messages",
        headers={"Authorization": f"Bearer {PAGE_TOKEN}"},
        json=body,
        timeout=5,
    )
    assert _assert_graph_error(unknown, 400, 100)["error_subcode"] == 33


# -- WhatsApp Cloud API -----------------------------------------------------------------------------

WHATSAPP_REQUESTS, WHATSAPP_RESPONSES = _requests_and_responses(
    "whatsapp", "out-courier-send*.json", "out-courier-mark-read*.json"
)


def test_whatsapp_fixtures_are_classified() -> None:
    assert len(WHATSAPP_REQUESTS) >= 8
    assert set(WHATSAPP_RESPONSES) == {
        "whatsapp/out-courier-send-response-minimal.json",
        "whatsapp/out-courier-send-response-user-id.json",
    }


@pytest.mark.parametrize("fixture", WHATSAPP_REQUESTS)
def test_whatsapp_accepts_published_request(
    fixture: str, sandbox: ProviderSandbox, http: requests.Session
) -> None:
    body = _load(fixture)
    response = _whatsapp(http, sandbox, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    if body.get("status") == "read":
        assert answer == {"success": True}
        return
    assert answer["messaging_product"] == "whatsapp"
    minimal = _load("whatsapp/out-courier-send-response-minimal.json")
    assert set(minimal) <= set(answer)
    [message] = answer["messages"]
    assert re.fullmatch(r"wamid\.[A-Za-z0-9+/=]{20,}", message["id"])
    assert message.get("message_status", "accepted") == "accepted"
    [contact] = answer["contacts"]
    if "to" in body:
        assert contact == {"input": body["to"], "wa_id": re.sub(r"\D", "", body["to"])}
    else:
        published = _load("whatsapp/out-courier-send-response-user-id.json")
        assert set(contact) == set(published["contacts"][0])
        assert contact == {"input": body["recipient"], "user_id": body["recipient"]}


WHATSAPP_INVALID = [
    pytest.param(
        {"to": "15551234567", "type": "text", "text": {"body": "x"}}, 100, id="no-messaging-product"
    ),
    pytest.param(
        {"messaging_product": "sms", "to": "15551234567", "text": {"body": "x"}}, 100, id="wrong-product"
    ),
    pytest.param({"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}}, 100, id="no-to"),
    pytest.param(
        {"messaging_product": "whatsapp", "to": "15551234567", "type": "fax", "fax": {}}, 100, id="bad-type"
    ),
    pytest.param({"messaging_product": "whatsapp", "to": "15551234567", "type": "text"}, 100, id="no-text"),
    pytest.param(
        {
            "messaging_product": "whatsapp",
            "to": "15551234567",
            "type": "text",
            "text": {"preview_url": False},
        },
        100,
        id="no-body",
    ),
    pytest.param(
        {"messaging_product": "whatsapp", "to": "15551234567", "type": "text", "text": {"body": "x" * 4097}},
        100,
        id="body-over-4096",
    ),
    pytest.param(
        {"messaging_product": "whatsapp", "to": "15551234567", "type": "image", "image": {"caption": "c"}},
        100,
        id="media-without-link-or-id",
    ),
    pytest.param(
        {
            "messaging_product": "whatsapp",
            "to": "15551234567",
            "type": "template",
            "template": {"name": "hello", "language": {}},
        },
        100,
        id="template-without-language-code",
    ),
    pytest.param(
        {
            "messaging_product": "whatsapp",
            "to": "15551234567",
            "type": "reaction",
            "reaction": {"emoji": "x"},
        },
        100,
        id="reaction-without-message-id",
    ),
    pytest.param(
        {
            "messaging_product": "whatsapp",
            "to": "15551234567",
            "type": "text",
            "text": {"body": "x"},
            "context": {},
        },
        100,
        id="context-without-message-id",
    ),
    pytest.param(
        {"messaging_product": "whatsapp", "to": "call me", "type": "text", "text": {"body": "x"}},
        131009,
        id="to-not-a-number",
    ),
    pytest.param({"messaging_product": "whatsapp", "status": "read"}, 100, id="read-without-message-id"),
]


@pytest.mark.parametrize(("body", "code"), WHATSAPP_INVALID)
def test_whatsapp_rejects_invalid_requests(
    body: dict[str, Any], code: int, sandbox: ProviderSandbox, http: requests.Session
) -> None:
    error = _assert_graph_error(_whatsapp(http, sandbox, body), 400, code)
    assert error["message"].startswith(f"(#{code})")
    if "error_data" in error:
        assert error["error_data"]["messaging_product"] == "whatsapp"
        assert error["error_data"]["details"]


def test_whatsapp_authentication_errors(sandbox: ProviderSandbox, http: requests.Session) -> None:
    body = _load("whatsapp/out-courier-send-text.json")
    _assert_graph_error(_whatsapp(http, sandbox, body, token=None), 401, 104)
    error = _assert_graph_error(_whatsapp(http, sandbox, body, token="expired"), 401, 190)
    assert error["type"] == "OAuthException"
    _assert_graph_error(_whatsapp(http, sandbox, body, token=PAGE_TOKEN), 400, 100)


def test_ids_are_unique(sandbox: ProviderSandbox, http: requests.Session) -> None:
    text = _load("messenger/out-courier-send-response.json")
    wa_text = _load("whatsapp/out-courier-send-text.json")
    mids = {_messenger(http, sandbox, text).json()["message_id"] for _ in range(100)}
    mids |= {_instagram(http, sandbox, text).json()["message_id"] for _ in range(100)}
    wamids = {_whatsapp(http, sandbox, wa_text).json()["messages"][0]["id"] for _ in range(100)}
    assert len(mids) == 200
    assert len(wamids) == 100


# -- the request log ----------------------------------------------------------------------------------


def test_requests_are_recorded_in_order_and_cleared(sandbox: ProviderSandbox, http: requests.Session) -> None:
    first = _load("messenger/out-courier-send-update.json")
    second = _load("whatsapp/out-courier-send-image-link.json")
    _messenger(http, sandbox, first, headers={"X-Trace": "one"})
    _whatsapp(http, sandbox, second)
    one, two = sandbox.requests()
    assert (one.method, one.path, one.query) == (
        "POST",
        f"/{VERSION}/me/messages",
        {"access_token": [PAGE_TOKEN]},
    )
    assert one.headers["x-trace"] == "one"
    assert one.json == first and one.form is None
    assert (one.channel, one.status) == ("messenger", 200)
    assert one.response is not None and one.response["message_id"].startswith("m_")
    assert (two.path, two.channel, two.json) == (f"/{VERSION}/{PHONE_ID}/messages", "whatsapp", second)
    assert two.headers["authorization"] == f"Bearer {WA_TOKEN}"
    assert one.seq < two.seq
    assert [r.channel for r in sandbox.requests("whatsapp")] == ["whatsapp"]
    sandbox.clear()
    assert sandbox.requests() == []


# -- injected failures ----------------------------------------------------------------------------------

ERROR_FIXTURES = _outbound("messenger", "out-courier-error-*.json") + _outbound(
    "whatsapp", "out-courier-error-*.json"
)
# Error bodies whose message text is the mock author's, not Meta's.
MOCK_MESSAGES = {"messenger/out-courier-error-100-invalid-user.json"}


@pytest.mark.parametrize("fixture", ERROR_FIXTURES)
def test_fail_next_gives_the_published_error(
    fixture: str, sandbox: ProviderSandbox, http: requests.Session
) -> None:
    channel = fixture.split("/", maxsplit=1)[0]
    published = _load(fixture)["error"]
    served = re.search(r"HTTP (\d{3})", _sources_rows()[fixture])
    assert served is not None, f"SOURCES.md does not say which HTTP status served {fixture}"
    status = int(served[1])
    subcode = 2018001 if published["code"] == 100 and channel == "messenger" else None
    sandbox.fail_next(channel, published["code"], http_status=status, subcode=subcode)
    if channel == "messenger":
        response = _messenger(http, sandbox, _load("messenger/out-courier-send-response.json"))
    else:
        response = _whatsapp(http, sandbox, _load("whatsapp/out-courier-send-text.json"))
    error = _assert_graph_error(response, status, published["code"])
    assert set(published) <= set(error)
    if fixture not in MOCK_MESSAGES:
        assert published["message"].rstrip(".") in error["message"]
    if channel == "whatsapp" and published["code"] >= 130000:
        assert error["error_data"]["messaging_product"] == "whatsapp"
    # One failure only: the next call goes through.
    retry = _messenger(http, sandbox, _load("messenger/out-courier-send-response.json"))
    assert retry.status_code == 200
    retry = _whatsapp(http, sandbox, _load("whatsapp/out-courier-send-text.json"))
    assert retry.status_code == 200


def test_fail_next_defaults_to_documented_status(sandbox: ProviderSandbox, http: requests.Session) -> None:
    wa_text = _load("whatsapp/out-courier-send-text.json")
    text = _load("messenger/out-courier-send-response.json")
    sandbox.fail_next("whatsapp", 130429)
    _assert_graph_error(_whatsapp(http, sandbox, wa_text), 400, 130429)
    sandbox.fail_next("whatsapp", 190)
    _assert_graph_error(_whatsapp(http, sandbox, wa_text), 401, 190)
    sandbox.fail_next("whatsapp", 131000)
    _assert_graph_error(_whatsapp(http, sandbox, wa_text), 500, 131000)
    # Messenger's 36000 arrives with HTTP 200 and an error body.
    sandbox.fail_next("messenger", 36000)
    error = _assert_graph_error(_messenger(http, sandbox, text), 200, 36000)
    assert error["message"] == "The image size is too large."
    sandbox.fail_next("messenger", 10, subcode=2018278)
    error = _assert_graph_error(_messenger(http, sandbox, text), 400, 10)
    assert error["error_subcode"] == 2018278


def test_fail_next_times_and_channels(sandbox: ProviderSandbox, http: requests.Session) -> None:
    text = _load("messenger/out-courier-send-response.json")
    sandbox.fail_next("messenger", 613, http_status=429, times=2, retry_after=120)
    assert _instagram(http, sandbox, text).status_code == 200  # other channels are unaffected
    for _ in range(2):
        response = _messenger(http, sandbox, text)
        _assert_graph_error(response, 429, 613)
        usage = json.loads(response.headers["X-Business-Use-Case-Usage"])
        assert next(iter(usage.values()))[0]["estimated_time_to_regain_access"] == 2
    assert _messenger(http, sandbox, text).status_code == 200
    with pytest.raises(ValueError, match="unknown channel"):
        sandbox.fail_next("carrier-pigeon", 1)
    with pytest.raises(ValueError, match="error code"):
        sandbox.fail_next("whatsapp", "rate-limited")


def test_hang_next_times_out_a_client_then_processes_the_call(
    sandbox: ProviderSandbox, http: requests.Session
) -> None:
    body = _load("whatsapp/out-courier-send-text.json")
    sandbox.hang_next("whatsapp", 1.0)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.Timeout):
        _whatsapp(http, sandbox, body, timeout=0.5)
    assert time.monotonic() - started < 0.9
    # The hung call is logged on arrival; the next call is not delayed.
    [hung] = sandbox.requests()
    assert hung.status is None
    with requests.Session() as other:
        assert _whatsapp(other, sandbox, body).status_code == 200
    # The provider did get the hung call: it is answered (to nobody) once the delay is over.
    _wait_for(lambda: sandbox.requests()[0].status == 200, what="the hung call to complete")


def test_stop_releases_hung_calls(http: requests.Session) -> None:
    sandbox = ProviderSandbox()
    sandbox.start()
    sandbox.register_account("whatsapp", PHONE_ID, WA_TOKEN)
    sandbox.hang_next("whatsapp", 30)
    with pytest.raises(requests.exceptions.Timeout):
        _whatsapp(http, sandbox, _load("whatsapp/out-courier-send-text.json"), timeout=0.3)
    started = time.monotonic()
    sandbox.stop()
    assert time.monotonic() - started < 3


# -- control endpoints ------------------------------------------------------------------------------------


def test_control_endpoints(sandbox: ProviderSandbox, http: requests.Session) -> None:
    control = f"{sandbox.base_url}/_sandbox"
    health = http.get(f"{control}/health", timeout=5).json()
    assert health["ok"] is True
    assert {"messenger", "instagram", "whatsapp"} <= set(health["channels"])

    accounts = {"channel": "messenger", "account_id": "2000000000002", "token": "second-page"}
    assert http.post(f"{control}/accounts", json=accounts, timeout=5).status_code == 200
    second = http.post(
        f"{sandbox.base_url}/{VERSION}/2000000000002/messages",
        params={"access_token": "second-page"},
        json=_load("messenger/out-courier-send-response.json"),
        timeout=5,
    )
    assert second.status_code == 200

    fail = {"channel": "whatsapp", "code": 131056, "http_status": 403}
    assert http.post(f"{control}/fail", json=fail, timeout=5).status_code == 200
    wa_text = _load("whatsapp/out-courier-send-text.json")
    _assert_graph_error(_whatsapp(http, sandbox, wa_text), 403, 131056)

    assert http.post(f"{control}/hang", json={"channel": "whatsapp", "seconds": 2}, timeout=5).ok
    with pytest.raises(requests.exceptions.Timeout), requests.Session() as other:
        _whatsapp(other, sandbox, wa_text, timeout=0.3)

    logged = http.get(f"{control}/requests", timeout=5).json()["requests"]
    assert [r["channel"] for r in logged[:2]] == ["messenger", "whatsapp"]
    assert logged[1]["response"]["error"]["code"] == 131056
    only = http.get(f"{control}/requests", params={"channel": "messenger"}, timeout=5).json()["requests"]
    assert [r["channel"] for r in only] == ["messenger"]

    assert http.post(f"{control}/clear", timeout=5).json() == {"ok": True}
    assert http.get(f"{control}/requests", timeout=5).json() == {"requests": []}
    bad = http.post(f"{control}/fail", json={"channel": "nowhere", "code": 1}, timeout=5)
    assert bad.status_code == 400
    assert http.get(f"{control}/nothing", timeout=5).status_code == 404


# -- receipts mode ------------------------------------------------------------------------------------------


class _Receiver:
    """A tiny local webhook endpoint that records every POST (raw bytes and headers)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.posts: list[tuple[str, dict[str, str], bytes]] = []
        self.delay = delay
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.delay:
                    time.sleep(outer.delay)
                with lock:
                    outer.posts.append((self.path, {k.lower(): v for k, v in self.headers.items()}, raw))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(raw) for p, _, raw in list(self.posts) if p == path]

    def __enter__(self) -> _Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _assert_signed(headers: dict[str, str], raw: bytes) -> None:
    expected = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-hub-signature-256"], expected)
    legacy = "sha1=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha1).hexdigest()
    assert hmac.compare_digest(headers["x-hub-signature"], legacy)
    assert headers["content-type"] == "application/json"
    raw.decode("ascii")  # Meta escapes non-ASCII as \uXXXX


def test_receipts_are_signed_and_shaped_like_meta_webhooks(
    sandbox: ProviderSandbox, http: requests.Session
) -> None:
    with _Receiver() as receiver:
        sandbox.receipts_to(
            {
                "messenger": f"{receiver.url}/messenger",
                "instagram": f"{receiver.url}/instagram",
                "whatsapp": f"{receiver.url}/whatsapp",
            },
            APP_SECRET,
            sent_after=0.02,
            delivered_after=0.05,
            read_after=0.1,
        )
        # Calls that send nothing get no receipts: sender actions, mark as read, failures.
        _messenger(http, sandbox, _load("messenger/out-courier-sender-action-typing-on.json"))
        _whatsapp(http, sandbox, _load("whatsapp/out-courier-mark-read-typing-indicator.json"))
        sandbox.fail_next("whatsapp", 131026)
        _whatsapp(http, sandbox, _load("whatsapp/out-courier-send-text.json"))

        mid = _messenger(http, sandbox, _load("messenger/out-courier-send-response.json")).json()[
            "message_id"
        ]
        ig_mid = _instagram(http, sandbox, _load("instagram/out-courier-send-human-agent-tag.json")).json()
        wamid = _whatsapp(http, sandbox, _load("whatsapp/out-courier-send-template.json")).json()
        _wait_for(lambda: len(receiver.posts) >= 6, what="six receipts")
        time.sleep(0.05)  # nothing beyond the six should follow
        assert len(receiver.posts) == 6

        for _, headers, raw in receiver.posts:
            _assert_signed(headers, raw)

        delivery, read = receiver.bodies("/messenger")
        for body in (delivery, read):
            assert body["object"] == "page"
            [entry] = body["entry"]
            assert entry["id"] == PAGE_ID and isinstance(entry["time"], int)
            [item] = entry["messaging"]
            assert item["sender"] == {"id": "12345"} and item["recipient"] == {"id": PAGE_ID}
            assert isinstance(item["timestamp"], int) and item["timestamp"] > 10**12  # milliseconds
        assert delivery["entry"][0]["messaging"][0]["delivery"]["mids"] == [mid]
        assert (
            read["entry"][0]["messaging"][0]["read"]["watermark"]
            >= delivery["entry"][0]["messaging"][0]["delivery"]["watermark"]
        )

        [seen] = receiver.bodies("/instagram")
        assert seen["object"] == "instagram"
        [item] = seen["entry"][0]["messaging"]
        assert item["read"] == {"mid": ig_mid["message_id"]}
        assert item["recipient"] == {"id": IG_ID}

        statuses = []
        for body in receiver.bodies("/whatsapp"):
            assert body["object"] == "whatsapp_business_account"
            [entry] = body["entry"]
            assert entry["id"] == WABA_ID
            [change] = entry["changes"]
            assert change["field"] == "messages"
            value = change["value"]
            assert value["messaging_product"] == "whatsapp"
            assert value["metadata"] == {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": PHONE_ID}
            statuses.extend(value["statuses"])
        assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
        for status in statuses:
            assert status["id"] == wamid["messages"][0]["id"]
            assert status["recipient_id"] == "250788123123"
            assert isinstance(status["timestamp"], str) and status["timestamp"].isdigit()
        sent, delivered, read_status = statuses
        assert sent["conversation"]["expiration_timestamp"].isdigit()
        assert "expiration_timestamp" not in delivered["conversation"]
        assert sent["conversation"]["id"] == delivered["conversation"]["id"]
        assert sent["pricing"]["billable"] is True and sent["pricing"]["category"] == "utility"
        assert "conversation" not in read_status and "pricing" not in read_status

        log = sandbox.webhooks_sent()
        assert len(log) == 6 and all(w.status == 200 for w in log)


def test_receipts_never_delay_the_send_answer(sandbox: ProviderSandbox, http: requests.Session) -> None:
    with _Receiver(delay=0.5) as slow:
        sandbox.receipts_to({"whatsapp": f"{slow.url}/wa"}, APP_SECRET, sent_after=0, delivered_after=0)
        started = time.monotonic()
        response = _whatsapp(http, sandbox, _load("whatsapp/out-courier-send-text.json"))
        assert response.status_code == 200
        assert time.monotonic() - started < 0.3
        _wait_for(lambda: len(slow.posts) >= 1, what="the first receipt")
        sandbox.stop()  # pending receipts are dropped; the fixture's stop() is then a no-op


def test_receipts_can_be_configured_over_http(sandbox: ProviderSandbox, http: requests.Session) -> None:
    with _Receiver() as receiver:
        config = {
            "webhooks": {"messenger": f"{receiver.url}/m"},
            "app_secret": APP_SECRET,
            "delivered_after": 0.01,
            "read_after": 0.02,
        }
        assert http.post(f"{sandbox.base_url}/_sandbox/receipts", json=config, timeout=5).ok
        _messenger(http, sandbox, _load("messenger/out-courier-send-update.json"))

        def posted() -> list[dict[str, Any]]:
            return http.get(f"{sandbox.base_url}/_sandbox/webhooks", timeout=5).json()["webhooks"]

        _wait_for(lambda: len(posted()) == 2, what="two receipts")
        webhooks = posted()
        assert [w["status"] for w in webhooks] == [200, 200]
        assert len(receiver.posts) == 2
        assert [("delivery" in w["body"]["entry"][0]["messaging"][0]) for w in webhooks] == [True, False]


# -- standalone ---------------------------------------------------------------------------------------------


def test_runs_standalone_and_stops_on_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "receipts.json"
    config.write_text(
        json.dumps({"accounts": [{"channel": "whatsapp", "account_id": PHONE_ID, "token": WA_TOKEN}]})
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infra.local.provider_sandbox",
            "--port",
            "0",
            "--receipts-config",
            str(config),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # the first line is printed once listening
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        assert match, line + (process.stderr.read() if process.stderr else "")
        base = match[1]
        assert requests.get(f"{base}/_sandbox/health", timeout=5).json()["ok"] is True
        response = requests.post(
            f"{base}/{VERSION}/{PHONE_ID}/messages",
            headers={"Authorization": f"Bearer {WA_TOKEN}"},
            json=_load("whatsapp/out-courier-send-text.json"),
            timeout=5,
        )
        assert response.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


# -- Page subscriptions: POST, GET and DELETE /{page-id}/subscribed_apps ------------------------------


def test_a_page_subscription_is_made_listed_and_removed_with_graphs_answers_and_errors(
    http: requests.Session, sandbox: ProviderSandbox
) -> None:
    url = f"{sandbox.base_url}/{VERSION}/{PAGE_ID}/subscribed_apps"
    bearer = {"Authorization": f"Bearer {PAGE_TOKEN}"}
    made = http.post(url, headers=bearer, json={"subscribed_fields": "messages,message_echoes"}, timeout=5)
    assert made.status_code == 200 and made.json() == {"success": True}
    listed = http.get(url, headers=bearer, timeout=5).json()["data"]
    assert listed[0]["subscribed_fields"] == ["messages", "message_echoes"]

    _assert_graph_error(http.delete(url, timeout=5), 400, 104)  # no token
    _assert_graph_error(http.delete(url, headers={"Authorization": "Bearer EAAnobody"}, timeout=5), 400, 190)
    other_page = {"Authorization": f"Bearer {WA_TOKEN}"}
    error = _assert_graph_error(http.delete(url, headers=other_page, timeout=5), 400, 100)
    assert error["error_subcode"] == 33
    assert sandbox.subscribed_fields(PAGE_ID) == ["messages", "message_echoes"], "refusals change nothing"

    # A Page token without pages_manage_metadata may read the subscription, not change it.
    sandbox.register_account(
        "messenger", PAGE_ID, "EAAread-only", permissions="pages_messaging,pages_show_list"
    )
    read_only = {"Authorization": "Bearer EAAread-only"}
    assert http.get(url, headers=read_only, timeout=5).status_code == 200
    _assert_graph_error(http.delete(url, headers=read_only, timeout=5), 403, 200)
    assert sandbox.subscribed_fields(PAGE_ID)
    sandbox.register_account("messenger", PAGE_ID, PAGE_TOKEN)

    gone = http.delete(url, headers=bearer, timeout=5)
    assert gone.status_code == 200 and gone.json() == {"success": True}
    assert sandbox.subscribed_fields(PAGE_ID) == []
    assert http.get(url, headers=bearer, timeout=5).json() == {"data": []}
    assert http.delete(url, headers=bearer, timeout=5).json() == {"success": True}, "removing twice is fine"
