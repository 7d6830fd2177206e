"""The provider sandbox speaks Telegram's Bot API and Twilio's Messages API as documented: request
validation, answers and error shapes (checked against the published ``out-*`` answers in
``shared/fixtures/providers``), injected failures and hangs, and Twilio's signed status callbacks,
which Switchboard's own Twilio adapter must accept. Every server and thread a test starts is stopped
by the test's fixtures."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local.provider_sandbox import ProviderSandbox
from shared.channels.twilio import TwilioAdapter
from shared.inbound import normalize
from shared.models import ReceiptEvent

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "providers"
BOT_ID, BOT_TOKEN = "6123456789", "6123456789:AAFh-sandbox-token_0123456789abcdefg"
ACCOUNT_SID, AUTH_TOKEN = "AC" + "5" * 32, "sandbox-auth-token"
SMS_NUMBER, WA_NUMBER = "+14155550100", "whatsapp:+14155238886"
CONTENT_SID = "HX" + "ab" * 16
MESSAGE_KEYS = {
    "account_sid",
    "api_version",
    "body",
    "date_created",
    "date_sent",
    "date_updated",
    "direction",
    "error_code",
    "error_message",
    "from",
    "messaging_service_sid",
    "num_media",
    "num_segments",
    "price",
    "price_unit",
    "sid",
    "status",
    "subresource_uris",
    "to",
    "uri",
}


def _load(relative: str) -> Any:
    path = FIXTURES / relative
    if not path.is_file():
        pytest.fail(f"provider fixture missing: {path}")
    return json.loads(path.read_bytes())


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    _wait_for(lambda: not (set(threading.enumerate()) - before), timeout=5, what="threads to stop")


@pytest.fixture
def sandbox() -> Iterator[ProviderSandbox]:
    with ProviderSandbox() as running:
        running.register_account(
            "telegram", BOT_ID, BOT_TOKEN, username="acme_support_bot", first_name="Acme"
        )
        running.register_account("twilio", SMS_NUMBER, AUTH_TOKEN, account_sid=ACCOUNT_SID)
        running.register_account("twilio", WA_NUMBER, AUTH_TOKEN, account_sid=ACCOUNT_SID)
        yield running


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


# -- Telegram ---------------------------------------------------------------------------------------


def bot(
    http: requests.Session, sandbox: ProviderSandbox, method: str, token: str = BOT_TOKEN, **kw: Any
) -> Any:
    return http.post(f"{sandbox.base_url}/bot{token}/{method}", timeout=kw.pop("timeout", 5), **kw)


def assert_bot_error(response: requests.Response, code: int, description: str) -> dict[str, Any]:
    assert response.status_code == code, response.text
    body = response.json()
    assert body["ok"] is False and body["error_code"] == code
    assert body["description"] == description
    return body


def test_get_me(sandbox: ProviderSandbox, http: requests.Session) -> None:
    body = bot(http, sandbox, "getMe").json()
    assert body["ok"] is True
    me = body["result"]
    assert (me["id"], me["is_bot"], me["username"], me["first_name"]) == (
        6123456789,
        True,
        "acme_support_bot",
        "Acme",
    )


def test_send_message_answers_a_message_with_ids_counting_up_per_chat(
    sandbox: ProviderSandbox, http: requests.Session
) -> None:
    first = bot(http, sandbox, "sendMessage", json={"chat_id": 7012345678, "text": "one"}).json()
    assert first["ok"] is True
    message = first["result"]
    assert set(_load("telegram/out-courier-sendmessage-ok.json")["result"]) <= set(message)
    assert message["from"]["id"] == 6123456789 and message["from"]["is_bot"] is True
    assert message["chat"] == {
        "id": 7012345678,
        "first_name": "Sandbox",
        "last_name": "Customer",
        "type": "private",
    }
    assert message["text"] == "one" and abs(message["date"] - time.time()) < 5
    second = bot(http, sandbox, "sendMessage", json={"chat_id": "7012345678", "text": "two"}).json()["result"]
    assert second["message_id"] == message["message_id"] + 1
    assert second["chat"]["id"] == 7012345678  # a numeric string names the same chat
    group = bot(http, sandbox, "sendMessage", json={"chat_id": -1001234567890123, "text": "hi"}).json()[
        "result"
    ]
    assert group["chat"]["type"] == "supergroup"
    # Form-encoded and query-string parameters are accepted too, and method names ignore case.
    form = bot(
        http,
        sandbox,
        "SENDMESSAGE",
        data={"chat_id": "7012345678", "text": "three", "reply_parameters": json.dumps({"message_id": 5})},
    ).json()["result"]
    assert form["message_id"] == second["message_id"] + 1
    assert form["reply_to_message"]["message_id"] == 5
    query = bot(http, sandbox, "sendMessage", params={"chat_id": "7012345678", "text": "four"}).json()
    assert query["result"]["text"] == "four"
    assert [r.channel for r in sandbox.requests()] == ["telegram"] * 5


@pytest.mark.parametrize(
    ("method", "payload", "description"),
    [
        ("sendMessage", {"text": "x"}, "Bad Request: chat_id is empty"),
        ("sendMessage", {"chat_id": "", "text": "x"}, "Bad Request: chat_id is empty"),
        ("sendMessage", {"chat_id": "not a chat", "text": "x"}, "Bad Request: chat not found"),
        ("sendMessage", {"chat_id": 1}, "Bad Request: message text is empty"),
        ("sendMessage", {"chat_id": 1, "text": "x" * 4097}, "Bad Request: message is too long"),
        (
            "sendMessage",
            {"chat_id": 1, "text": "x", "reply_parameters": {"message_id": "abc"}},
            "Bad Request: message identifier is not specified",
        ),
        ("sendPhoto", {"chat_id": 1}, "Bad Request: there is no photo in the request"),
        (
            "sendDocument",
            {"chat_id": 1, "document": "ftp://x"},
            "Bad Request: wrong file identifier/HTTP URL specified",
        ),
        (
            "sendVideo",
            {"chat_id": 1, "video": "https://x.example/v.mp4", "caption": "c" * 1025},
            "Bad Request: message caption is too long",
        ),
        ("setMessageReaction", {"chat_id": 1}, "Bad Request: message identifier is not specified"),
        (
            "answerCallbackQuery",
            {"text": "done"},
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
        ),
        (
            "answerCallbackQuery",
            {"callback_query_id": "q1", "text": "t" * 201},
            "Bad Request: MESSAGE_TOO_LONG",
        ),
        (
            "setMessageReaction",
            {"chat_id": 1, "message_id": 2, "reaction": [{"type": "emoji"}]},
            "Bad Request: REACTION_INVALID",
        ),
        (
            "setMessageReaction",
            {
                "chat_id": 1,
                "message_id": 2,
                "reaction": [{"type": "emoji", "emoji": "a"}, {"type": "emoji", "emoji": "b"}],
            },
            "Bad Request: REACTIONS_TOO_MANY",
        ),
        (
            "setWebhook",
            {"url": "http://example.com/hook"},
            "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
        ),
        (
            "setWebhook",
            {"url": "https://example.com/hook", "secret_token": "no spaces"},
            "Bad Request: secret token contains unallowed characters",
        ),
        (
            "setWebhook",
            {"url": "https://example.com/hook", "allowed_updates": "message"},
            "Bad Request: can't parse allowed updates",
        ),
    ],
)
def test_bot_api_validation(
    method: str, payload: dict[str, Any], description: str, sandbox: ProviderSandbox, http: requests.Session
) -> None:
    assert_bot_error(bot(http, sandbox, method, json=payload), 400, description)


def test_unknown_token_and_method(sandbox: ProviderSandbox, http: requests.Session) -> None:
    wrong = bot(http, sandbox, "sendMessage", token="6123456789:wrong", json={"chat_id": 1, "text": "x"})
    assert wrong.status_code == 401
    assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert_bot_error(bot(http, sandbox, "sendCarrierPigeon", json={}), 404, "Not Found")


def test_media_answers(sandbox: ProviderSandbox, http: requests.Session) -> None:
    photo = bot(
        http, sandbox, "sendPhoto", json={"chat_id": 1, "photo": "https://x.example/p.jpg", "caption": "c"}
    )
    sizes = photo.json()["result"]["photo"]
    assert [s["width"] for s in sizes] == sorted(s["width"] for s in sizes)  # smallest first
    assert photo.json()["result"]["caption"] == "c"
    document = bot(
        http, sandbox, "sendDocument", json={"chat_id": 1, "document": "https://x.example/a%20b.pdf"}
    )
    assert document.json()["result"]["document"]["file_name"] == "a b.pdf"
    audio = bot(http, sandbox, "sendAudio", json={"chat_id": 1, "audio": "https://x.example/s.mp3"}).json()
    assert audio["result"]["audio"]["file_id"]
    video = bot(http, sandbox, "sendVideo", json={"chat_id": 1, "video": "https://x.example/v.mp4"}).json()
    assert video["result"]["video"]["mime_type"] == "video/mp4"


def test_a_callback_query_is_answered_once(sandbox: ProviderSandbox, http: requests.Session) -> None:
    answered = bot(http, sandbox, "answerCallbackQuery", json={"callback_query_id": "4382bfdwdsb323b2d9"})
    assert answered.status_code == 200 and answered.json() == {"ok": True, "result": True}
    again = bot(http, sandbox, "answerCallbackQuery", json={"callback_query_id": "4382bfdwdsb323b2d9"})
    assert again.status_code == 400
    assert again.json()["description"] == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )


def test_reactions_and_webhooks(sandbox: ProviderSandbox, http: requests.Session) -> None:
    reaction = {"chat_id": 1, "message_id": 2, "reaction": [{"type": "emoji", "emoji": "\N{THUMBS UP SIGN}"}]}
    assert bot(http, sandbox, "setMessageReaction", json=reaction).json() == _load(
        "telegram/out-courier-ok-result-true.json"
    )
    assert (
        bot(http, sandbox, "setMessageReaction", json={**reaction, "reaction": []}).json()["result"] is True
    )
    hook = {
        "url": f"https://hooks.example.com/webhook-telegram?bot={BOT_ID}",
        "secret_token": "a" * 64,
        "allowed_updates": ["message", "callback_query", "not_a_kind"],
    }
    assert bot(http, sandbox, "setWebhook", json=hook).json() == {
        "ok": True,
        "result": True,
        "description": "Webhook was set",
    }
    info = bot(http, sandbox, "getWebhookInfo").json()["result"]
    assert info == {
        "url": hook["url"],
        "has_custom_certificate": False,
        "pending_update_count": 0,
        "allowed_updates": ["message", "callback_query"],
    }
    # The local dev stack may register a plain-http local URL; an empty URL removes the webhook.
    assert bot(http, sandbox, "setWebhook", json={"url": "http://127.0.0.1:8080/hook"}).json()["ok"] is True
    assert bot(http, sandbox, "setWebhook", json={"url": ""}).json()["description"] == "Webhook was deleted"
    assert bot(http, sandbox, "getWebhookInfo").json()["result"]["url"] == ""


@pytest.mark.parametrize(
    "fixture",
    [
        "telegram/out-courier-error-403-blocked.json",
        "telegram/out-courier-error-429-retry-after.json",
    ],
)
def test_fail_next_gives_the_published_error(
    fixture: str, sandbox: ProviderSandbox, http: requests.Session
) -> None:
    published = _load(fixture)
    retry_after = published.get("parameters", {}).get("retry_after")
    sandbox.fail_next("telegram", published["error_code"], retry_after=retry_after)
    response = bot(http, sandbox, "sendMessage", json={"chat_id": 1, "text": "x"})
    assert response.status_code == published["error_code"]
    assert response.json() == published
    assert bot(http, sandbox, "sendMessage", json={"chat_id": 1, "text": "x"}).status_code == 200


def test_429_always_carries_retry_after(sandbox: ProviderSandbox, http: requests.Session) -> None:
    sandbox.fail_next("telegram", 429)
    body = bot(http, sandbox, "sendMessage", json={"chat_id": 1, "text": "x"}).json()
    assert isinstance(body["parameters"]["retry_after"], int) and body["parameters"]["retry_after"] > 0
    assert body["description"] == f"Too Many Requests: retry after {body['parameters']['retry_after']}"
    # error_code and HTTP status may differ, as in a published mock (error_code 400 served as 403).
    sandbox.fail_next("telegram", 400, http_status=403)
    response = bot(http, sandbox, "sendMessage", json={"chat_id": 1, "text": "x"})
    assert (response.status_code, response.json()["error_code"]) == (403, 400)
    sandbox.fail_next("telegram", "migrate")
    migrated = bot(http, sandbox, "sendMessage", json={"chat_id": -4012345678, "text": "x"}).json()
    assert re.fullmatch(r"-100\d{10}", str(migrated["parameters"]["migrate_to_chat_id"]))
    with pytest.raises(ValueError, match="error code"):
        sandbox.fail_next("telegram", 42)


def test_hang_next_times_out_a_telegram_call(sandbox: ProviderSandbox, http: requests.Session) -> None:
    sandbox.hang_next("telegram", 1.0)
    with pytest.raises(requests.exceptions.Timeout):
        bot(http, sandbox, "sendMessage", json={"chat_id": 1, "text": "x"}, timeout=0.3)
    _wait_for(lambda: sandbox.requests()[0].status == 200, what="the hung call to complete")


# -- Twilio -----------------------------------------------------------------------------------------


def messages(
    http: requests.Session,
    sandbox: ProviderSandbox,
    data: Any,
    *,
    auth: tuple[str, str] | None = None,
    **kw: Any,
) -> requests.Response:
    url = f"{sandbox.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    return http.post(
        url, data=data, auth=auth or (ACCOUNT_SID, AUTH_TOKEN), timeout=kw.pop("timeout", 5), **kw
    )


def assert_twilio_error(response: requests.Response, status: int, code: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert (body["code"], body["status"]) == (code, status)
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_create_message_answers_the_documented_resource(
    sandbox: ProviderSandbox, http: requests.Session
) -> None:
    response = messages(http, sandbox, {"To": "+14155550123", "From": SMS_NUMBER, "Body": "Hello"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == MESSAGE_KEYS
    assert re.fullmatch(r"SM[0-9a-f]{32}", body["sid"])
    assert (body["status"], body["direction"], body["api_version"]) == (
        "queued",
        "outbound-api",
        "2010-04-01",
    )
    assert (body["num_media"], body["num_segments"]) == ("0", "1")  # strings, as Twilio sends them
    assert (body["price"], body["error_code"], body["date_sent"]) == (None, None, None)
    assert (body["to"], body["from"], body["body"], body["account_sid"]) == (
        "+14155550123",
        SMS_NUMBER,
        "Hello",
        ACCOUNT_SID,
    )
    assert abs(parsedate_to_datetime(body["date_created"]).timestamp() - time.time()) < 5
    assert body["uri"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{body['sid']}.json"
    assert body["subresource_uris"]["media"].endswith(f"/Messages/{body['sid']}/Media.json")
    long = messages(http, sandbox, {"To": "+14155550123", "From": SMS_NUMBER, "Body": "x" * 161}).json()
    assert long["num_segments"] == "2"
    media = messages(
        http,
        sandbox,
        {
            "To": "+14155550123",
            "From": SMS_NUMBER,
            "MediaUrl": ["https://x.example/a.jpg", "https://x.example/b.jpg"],
        },
    ).json()
    assert re.fullmatch(r"MM[0-9a-f]{32}", media["sid"]) and media["num_media"] == "2"
    ten = messages(
        http,
        sandbox,
        {
            "To": "+14155550123",
            "From": SMS_NUMBER,
            "MediaUrl": [f"https://x.example/{n}.jpg" for n in range(10)],
        },
    ).json()
    assert ten["num_media"] == "10"  # Twilio's maximum per message
    template = messages(
        http,
        sandbox,
        {
            "To": "whatsapp:+5511999990000",
            "From": WA_NUMBER,
            "ContentSid": CONTENT_SID,
            "ContentVariables": json.dumps({"1": "Ana"}),
        },
    )
    assert template.status_code == 201
    service = messages(
        http, sandbox, {"To": "+14155550123", "MessagingServiceSid": "MG" + "1" * 32, "Body": "via service"}
    ).json()
    assert service["status"] == "accepted" and service["messaging_service_sid"] == "MG" + "1" * 32
    assert len({body["sid"], long["sid"], media["sid"], service["sid"]}) == 4


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"From": SMS_NUMBER, "Body": "x"}, 21604),
        ({"To": "+14155550123", "Body": "x"}, 21603),
        ({"To": "+14155550123", "From": SMS_NUMBER}, 21602),
        ({"To": "call me", "From": SMS_NUMBER, "Body": "x"}, 21211),
        ({"To": "+14155550123", "From": "+19998887777", "Body": "x"}, 21606),
        ({"To": "whatsapp:+14155550123", "From": "whatsapp:+19998887777", "Body": "x"}, 63007),
        ({"To": "+14155550123", "From": WA_NUMBER, "Body": "x"}, 21910),
        ({"To": "+14155550123", "From": SMS_NUMBER, "Body": "x" * 1601}, 21617),
        ({"To": "+14155550123", "From": SMS_NUMBER, "MediaUrl": "ftp://x.example/a.jpg"}, 21620),
        (
            {
                "To": "+14155550123",
                "From": SMS_NUMBER,
                "MediaUrl": [f"https://x.example/{n}.jpg" for n in range(11)],
            },
            21623,
        ),
        ({"To": "whatsapp:+14155550123", "From": WA_NUMBER, "ContentSid": "hello_template"}, 21655),
        (
            {
                "To": "whatsapp:+14155550123",
                "From": WA_NUMBER,
                "ContentSid": CONTENT_SID,
                "ContentVariables": "[1]",
            },
            21656,
        ),
        ({"To": "+14155550123", "From": SMS_NUMBER, "Body": "x", "StatusCallback": "not a url"}, 21609),
    ],
)
def test_twilio_validation(
    data: dict[str, Any], code: int, sandbox: ProviderSandbox, http: requests.Session
) -> None:
    assert_twilio_error(messages(http, sandbox, data), 400, code)


def test_twilio_authentication(sandbox: ProviderSandbox, http: requests.Session) -> None:
    data = {"To": "+14155550123", "From": SMS_NUMBER, "Body": "x"}
    wrong = messages(http, sandbox, data, auth=(ACCOUNT_SID, "wrong"))
    assert_twilio_error(wrong, 401, 20003)
    assert wrong.headers["WWW-Authenticate"] == 'Basic realm="Twilio API"'
    url = f"{sandbox.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert_twilio_error(http.post(url, data=data, timeout=5), 401, 20003)
    garbage = {"Authorization": "Basic !!!"}
    assert_twilio_error(http.post(url, data=data, headers=garbage, timeout=5), 401, 20003)
    # Valid credentials for another account's URL.
    other = f"{sandbox.base_url}/2010-04-01/Accounts/AC{'9' * 32}/Messages.json"
    assert_twilio_error(http.post(other, data=data, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5), 401, 20003)
    basic = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert (
        http.post(url, data=data, headers={"Authorization": f"Basic {basic}"}, timeout=5).status_code == 201
    )


@pytest.mark.parametrize(
    ("fixture", "status"),
    [("twilio/out-courier-error-20429.json", 429), ("twilio/out-courier-error-21610-minimal.json", 400)],
)
def test_twilio_fail_next_gives_the_published_error(
    fixture: str, status: int, sandbox: ProviderSandbox, http: requests.Session
) -> None:
    published = _load(fixture)
    sandbox.fail_next("twilio", published["code"], retry_after=5 if status == 429 else None)
    response = messages(http, sandbox, {"To": "+14155550123", "From": SMS_NUMBER, "Body": "x"})
    body = assert_twilio_error(response, status, published["code"])
    assert set(published) <= set(body)
    assert {k: body[k] for k in published} == published
    if status == 429:
        assert response.headers["Retry-After"] == "5"
    assert messages(http, sandbox, {"To": "+14155550123", "From": SMS_NUMBER, "Body": "x"}).status_code == 201


def test_twilio_fail_next_statuses_and_hangs(sandbox: ProviderSandbox, http: requests.Session) -> None:
    data = {"To": "+14155550123", "From": SMS_NUMBER, "Body": "x"}
    sandbox.fail_next("twilio", 20500)
    assert_twilio_error(messages(http, sandbox, data), 500, 20500)
    sandbox.fail_next("twilio", 21610, http_status=403)
    assert_twilio_error(messages(http, sandbox, data), 403, 21610)
    assert bot(http, sandbox, "sendMessage", json={"chat_id": 1, "text": "x"}).ok  # other channels unaffected
    sandbox.hang_next("twilio", 1.0)
    with pytest.raises(requests.exceptions.Timeout), requests.Session() as other:
        messages(other, sandbox, data, timeout=0.3)
    with pytest.raises(ValueError, match="error code"):
        sandbox.fail_next("twilio", "rate-limited")


def test_health_lists_the_new_channels(sandbox: ProviderSandbox, http: requests.Session) -> None:
    health = http.get(f"{sandbox.base_url}/_sandbox/health", timeout=5).json()
    assert {"telegram", "twilio"} <= set(health["channels"])


# -- receipts mode ------------------------------------------------------------------------------------


class _Receiver:
    """A local webhook endpoint that records every POST (path, headers, raw bytes)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], bytes]] = []
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
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

    def __enter__(self) -> _Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def test_twilio_status_callbacks_are_signed_and_accepted_by_our_adapter(
    sandbox: ProviderSandbox, http: requests.Session
) -> None:
    twilio = TwilioAdapter(auth_tokens={ACCOUNT_SID: AUTH_TOKEN}.__getitem__)
    with _Receiver() as receiver:
        sandbox.receipts_to(
            {"twilio": f"{receiver.url}/fallback", "telegram": f"{receiver.url}/telegram"},
            "unused-meta-secret",
            sent_after=0.01,
            delivered_after=0.03,
            read_after=0.05,
        )
        callback = f"{receiver.url}/webhook-twilio?tenant=t1"
        sms = messages(
            http, sandbox, {"To": "+14155550123", "From": SMS_NUMBER, "Body": "x", "StatusCallback": callback}
        ).json()
        wa = messages(
            http,
            sandbox,
            {"To": "whatsapp:+5511999990000", "From": WA_NUMBER, "Body": "x", "StatusCallback": callback},
        ).json()
        no_callback = messages(http, sandbox, {"To": "+14155550124", "From": SMS_NUMBER, "Body": "x"}).json()
        bot(http, sandbox, "sendMessage", json={"chat_id": 1, "text": "x"})  # Telegram: no receipts
        sandbox.fail_next("twilio", 21610)
        messages(
            http, sandbox, {"To": "+14155550125", "From": SMS_NUMBER, "Body": "x", "StatusCallback": callback}
        )
        _wait_for(lambda: len(receiver.posts) >= 7, what="seven status callbacks")
        time.sleep(0.1)  # nothing more should follow
        assert len(receiver.posts) == 7

        seen: dict[str, list[str]] = {}
        for path, headers, raw in receiver.posts:
            assert headers["content-type"] == "application/x-www-form-urlencoded"
            url = f"{receiver.url}{path}"
            twilio.verify(headers, raw, url)  # signed with the account's auth token over that URL
            [event] = normalize(twilio, raw, url).events
            assert isinstance(event, ReceiptEvent)
            fields = dict(urllib.parse.parse_qsl(raw.decode()))
            assert fields["AccountSid"] == ACCOUNT_SID and fields["ApiVersion"] == "2010-04-01"
            assert event.account_id == fields["From"] and event.contact_id == fields["To"]
            seen.setdefault(event.message_ids[0], []).append(event.status)
            expected_path = (
                "/fallback" if event.message_ids[0] == no_callback["sid"] else "/webhook-twilio?tenant=t1"
            )
            assert path == expected_path
            if fields["To"].startswith("whatsapp:"):
                assert (
                    fields["ChannelPrefix"] == "whatsapp" and fields["ChannelToAddress"] == "+5511999990000"
                )
        assert seen == {
            sms["sid"]: ["sent", "delivered"],
            wa["sid"]: ["sent", "delivered", "read"],  # WhatsApp messages are also read
            no_callback["sid"]: ["sent", "delivered"],
        }
        assert all(w.status == 200 for w in sandbox.webhooks_sent())


def test_twilio_lists_an_accounts_incoming_phone_numbers_with_its_filter_paging_and_errors(
    sandbox: ProviderSandbox, http: requests.Session
) -> None:
    url = f"{sandbox.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers.json"
    auth = (ACCOUNT_SID, AUTH_TOKEN)
    assert_twilio_error(http.get(url, params={"PhoneNumber": SMS_NUMBER}, timeout=5), 401, 20003)
    assert_twilio_error(http.get(url, auth=(ACCOUNT_SID, "wrong"), timeout=5), 401, 20003)

    everything = http.get(url, auth=auth, timeout=5)
    assert everything.status_code == 200, everything.text
    page = everything.json()
    # The SMS number and the WhatsApp sender's number: both phone numbers of the account.
    assert [n["phone_number"] for n in page["incoming_phone_numbers"]] == ["+14155238886", "+14155550100"]
    assert (page["page"], page["page_size"], page["start"], page["end"], page["next_page_uri"]) == (
        0,
        50,
        0,
        1,
        None,
    )
    one = http.get(url, params={"PhoneNumber": SMS_NUMBER}, auth=auth, timeout=5).json()
    (number,) = one["incoming_phone_numbers"]
    assert number["account_sid"] == ACCOUNT_SID and number["capabilities"]["sms"] is True
    assert re.fullmatch(r"PN[0-9a-f]{32}", number["sid"]) and number["status"] == "in-use"
    assert [
        n["phone_number"]
        for n in http.get(url, params={"PhoneNumber": "555*1*0"}, auth=auth, timeout=5).json()[
            "incoming_phone_numbers"
        ]
    ] == [SMS_NUMBER]
    assert (
        http.get(url, params={"PhoneNumber": "+14155550199"}, auth=auth, timeout=5).json()[
            "incoming_phone_numbers"
        ]
        == []
    ), "a number the account does not own: an empty page, not an error"
    first = http.get(url, params={"PageSize": 1}, auth=auth, timeout=5).json()
    assert len(first["incoming_phone_numbers"]) == 1 and first["next_page_uri"].endswith("Page=1")

    fetched = http.get(f"{sandbox.base_url}{number['uri']}", auth=auth, timeout=5)
    assert fetched.status_code == 200 and fetched.json() == number
    missing = f"{sandbox.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers/PN{'0' * 32}.json"
    error = assert_twilio_error(http.get(missing, auth=auth, timeout=5), 404, 20404)
    assert "was not found" in error["message"]
