"""Twilio: ``X-Twilio-Signature`` over every published vector and through ``verify`` (the auth token
of the form's AccountSid), one form per POST, inbound SMS/MMS/WhatsApp and status callbacks on
hand-written fixtures (``fixtures/twilio``, built from Twilio's webhook request and status callback
references), and ``send`` against the provider sandbox speaking the Messages API."""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local.provider_sandbox import ProviderSandbox
from shared import config, secrets
from shared.channels.twilio import (
    SIGNATURE_HEADER,
    TWILIO_ERRORS,
    TwilioAdapter,
    auth_token_name,
    compute_signature,
    provider_error,
    signature_matches,
)
from shared.errors import ParseError, ProviderError, SignatureError, TransientError, VerificationError
from shared.inbound import Normalized, normalize
from shared.models import (
    Attachment,
    ChoiceContent,
    LocationContent,
    MediaContent,
    MessageEvent,
    ReceiptError,
    ReceiptEvent,
    ReferralContent,
    TextContent,
)
from shared.models.outbound import ChannelAccount, OutboundMessage, TemplateParameter

PROVIDER_FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "providers"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "twilio"
ACCOUNT_SID = "AC3f0e7c2d1b4a59687f6e5d4c3b2a1908"
AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
URL = "https://hooks.example.com/webhook-twilio"
SMS_NUMBER = "+14155550100"
WA_NUMBER = "whatsapp:+14155238886"


def adapter(tokens: dict[str, str] | None = None) -> TwilioAdapter:
    known = {ACCOUNT_SID: AUTH_TOKEN} if tokens is None else tokens

    def lookup(sid: str) -> str:
        if sid not in known:
            raise secrets.MissingSecret(f"secret {auth_token_name(sid)} is not configured")
        return known[sid]

    return TwilioAdapter(auth_tokens=lookup)


def vectors() -> list[dict[str, Any]]:
    path = PROVIDER_FIXTURES / "vectors.json"
    if not path.is_file():
        pytest.fail(f"signature vectors missing: {path}")
    found = [v for v in json.loads(path.read_bytes())["vectors"] if v.get("header") == SIGNATURE_HEADER]
    if not found:
        pytest.fail("no X-Twilio-Signature vectors in vectors.json")
    return found


VECTORS = vectors()


def vector_params(vector: dict[str, Any]) -> list[tuple[str, str]]:
    if "params_multi" in vector:
        return [(k, v) for k, v in vector["params_multi"]]
    return list(vector.get("params", {}).items())


def form(fields: dict[str, Any]) -> bytes:
    return urllib.parse.urlencode(fields, doseq=True).encode()


def fixture_fields(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_bytes())


def run(name: str) -> Normalized:
    return normalize(adapter(), form(fixture_fields(name)), URL)


def only(name: str) -> Any:
    result = run(name)
    assert result.quarantined == []
    [event] = result.events
    assert event.channel == "twilio"
    return event


# --- the signature ------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["id"])
def test_every_published_vector_verifies(vector: dict[str, Any]) -> None:
    params = vector_params(vector)
    token, signature = vector["auth_token"], vector["expected_signature"]
    assert compute_signature(token, vector["url_actually_signed"], params) == signature
    # The validator is handed the URL the request arrived at (with or without the port).
    request_url = vector.get("request_url", vector["url_actually_signed"])
    assert signature_matches(token, request_url, params, signature)
    if "body" in vector:
        assert hashlib.sha256(vector["body"].encode()).hexdigest() == vector["body_sha256_hex"]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["id"])
def test_a_modified_vector_does_not_verify(vector: dict[str, Any]) -> None:
    params = vector_params(vector)
    token, signature = vector["auth_token"], vector["expected_signature"]
    url = vector.get("request_url", vector["url_actually_signed"])
    assert not signature_matches("54321", url, params, signature)
    assert not signature_matches(token, url.replace("foo=1", "foo=2"), params, signature)
    flipped = (
        url.replace("https://", "http://", 1) if url.startswith("https") else url.replace("http", "https", 1)
    )
    assert not signature_matches(token, flipped, params, signature)
    assert not signature_matches(token, url, [*params, ("Extra", "1")], signature)
    assert not signature_matches(
        token, url, params, signature[:-2] + ("A=" if signature[-2] != "A" else "B=")
    )
    assert not signature_matches(token, url, params, "")
    if params:
        key, value = params[0]
        assert not signature_matches(token, url, [(key, value + "x"), *params[1:]], signature)


def test_duplicate_values_are_sorted_and_deduplicated() -> None:
    [vector] = [v for v in VECTORS if v["id"] == "twilio-form-duplicate-keys"]
    params = vector_params(vector)
    shuffled = list(reversed(params))
    assert compute_signature("12345", vector["url_actually_signed"], shuffled) == vector["expected_signature"]
    deduplicated = list(dict.fromkeys(params))
    assert (
        compute_signature("12345", vector["url_actually_signed"], deduplicated)
        == vector["expected_signature"]
    )


def signed(fields: dict[str, Any], url: str = URL, token: str = AUTH_TOKEN) -> tuple[dict[str, str], bytes]:
    body = form(fields)
    pairs = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)
    return {SIGNATURE_HEADER: compute_signature(token, url, pairs)}, body


def test_verify_uses_the_auth_token_of_the_form_account() -> None:
    headers, body = signed(fixture_fields("whatsapp-image-caption.json"))
    adapter().verify(headers, body, URL)
    adapter().verify({SIGNATURE_HEADER.lower(): headers[SIGNATURE_HEADER]}, body, URL)
    # Another account's token does not sign for this one.
    other = adapter({ACCOUNT_SID: "a-different-token"})
    with pytest.raises(SignatureError, match="does not match"):
        other.verify(headers, body, URL)


@pytest.mark.parametrize("vector", [v for v in VECTORS if v.get("params")], ids=lambda v: v["id"])
def test_verify_tries_the_url_with_and_without_the_port(vector: dict[str, Any]) -> None:
    # The published vectors' parameters plus an AccountSid, signed the way each vector was.
    fields = {**dict(vector_params(vector)), "AccountSid": ACCOUNT_SID}
    headers, body = signed(fields, vector["url_actually_signed"], vector["auth_token"])
    request_url = vector.get("request_url", vector["url_actually_signed"])
    adapter({ACCOUNT_SID: vector["auth_token"]}).verify(headers, body, request_url)


def test_verify_json_bodies_by_their_hash() -> None:
    body = json.dumps({"AccountSid": ACCOUNT_SID, "property": "value"}).encode()
    url = f"{URL}?bodySHA256={hashlib.sha256(body).hexdigest()}"
    headers = {SIGNATURE_HEADER: compute_signature(AUTH_TOKEN, url, [])}
    adapter().verify(headers, body, url)
    with pytest.raises(SignatureError, match="bodySHA256"):
        adapter().verify(headers, body + b" ", url)
    [vector] = [v for v in VECTORS if v["id"] == "twilio-json-body-sha256"]
    # The vector's body names no account: refused before any token is tried.
    with pytest.raises(SignatureError, match="AccountSid"):
        adapter().verify(
            {SIGNATURE_HEADER: vector["expected_signature"]},
            vector["body"].encode(),
            vector["url_actually_signed"],
        )


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h, f: ({}, f), "missing"),
        (lambda h, f: (h, {k: v for k, v in f.items() if k != "AccountSid"}), "AccountSid"),
        (lambda h, f: (h, {**f, "AccountSid": "AC/../../other"}), "AccountSid"),
        (lambda h, f: (h, {**f, "AccountSid": "ACunknown"}), "no auth token"),
        (lambda h, f: (h, {**f, "Body": "changed"}), "does not match"),
        (lambda h, f: ({SIGNATURE_HEADER: "bm90IGEgc2lnbmF0dXJl"}, f), "does not match"),
    ],
)
def test_verify_refuses(mutate: Any, reason: str) -> None:
    fields = fixture_fields("whatsapp-location.json")
    headers, _ = signed(fields)
    headers, fields = mutate(headers, fields)
    with pytest.raises(SignatureError, match=reason):
        adapter().verify(headers, form(fields), URL)


def test_verify_refuses_bodies_that_are_not_utf8() -> None:
    with pytest.raises(SignatureError):
        adapter().verify({SIGNATURE_HEADER: "x"}, b"Body=\xff\xfe&AccountSid=" + ACCOUNT_SID.encode(), URL)


def test_the_auth_token_comes_from_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWITCHBOARD_LOCAL_SECRETS_FILE", raising=False)
    monkeypatch.setenv("SWITCHBOARD_LOCAL_SECRETS", json.dumps({auth_token_name(ACCOUNT_SID): AUTH_TOKEN}))
    config.reset()
    secrets.forget()
    try:
        assert auth_token_name(ACCOUNT_SID) == f"twilio-auth-token-{ACCOUNT_SID}"
        headers, body = signed(fixture_fields("status-whatsapp-read.json"))
        TwilioAdapter().verify(headers, body, URL)
        headers, body = signed({**fixture_fields("status-whatsapp-read.json"), "AccountSid": "ACother"})
        with pytest.raises(SignatureError, match="no auth token"):
            TwilioAdapter().verify(headers, body, URL)
    finally:
        config.reset()
        secrets.forget()


def test_secret_manager_outages_are_not_signature_errors() -> None:
    def unavailable(sid: str) -> str:
        raise TransientError("Secret Manager unavailable")

    headers, body = signed(fixture_fields("whatsapp-location.json"))
    with pytest.raises(TransientError):  # the webhook answers 503 and Twilio retries
        TwilioAdapter(auth_tokens=unavailable).verify(headers, body, URL)


def test_no_handshake() -> None:
    with pytest.raises(VerificationError):
        adapter().handshake({})


# --- split and parse ------------------------------------------------------------------------------


def test_split_keeps_every_value_of_a_repeated_key() -> None:
    [item] = adapter().split(form(fixture_fields("sms-repeated-key.json")), URL)
    assert item["params"]["Body"] == ["first", "second"]
    assert item["params"]["MessageSid"] == "SM7a1b2c3d4e5f60718293a4b5c6d7e8f9"
    assert json.loads(json.dumps(item)) == item
    assert adapter().split(b"", URL) == []
    with pytest.raises(ParseError):
        adapter().split(b"Body=\xff", URL)
    assert normalize(adapter(), b"Body=\xff", URL).quarantined[0].reason == "invalid_body"


@pytest.mark.parametrize(
    "params",
    [
        {"From": "+1", "To": "+2", "Body": "no sid"},
        {"MessageSid": "SM1", "To": "+2", "Body": "no From"},
        {"MessageSid": "SM1", "From": "+1", "Body": "no To"},
        {"MessageStatus": "delivered", "To": "+2"},
    ],
)
def test_forms_that_cannot_be_understood_raise_parse_error(params: dict[str, str]) -> None:
    with pytest.raises(ParseError):
        adapter().parse_item({"params": params})
    with pytest.raises(ParseError):
        adapter().parse_item({"not": "params"})


def test_whatsapp_image_with_caption() -> None:
    event = only("whatsapp-image-caption.json")
    assert isinstance(event, MessageEvent)
    assert (event.account_id, event.contact_id) == (WA_NUMBER, "whatsapp:+5511999990000")
    assert (event.contact_name, event.contact_handle) == ("Ana Lima", "5511999990000")  # ProfileName, WaId
    assert event.message_id == event.event_id == "MM0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    url = fixture_fields("whatsapp-image-caption.json")["MediaUrl0"]
    assert event.content == MediaContent(
        type="image",
        attachments=(Attachment(url=url, mime_type="image/jpeg", caption="my receipt"),),
        text="my receipt",
    )


def test_whatsapp_location() -> None:
    assert only("whatsapp-location.json").content == LocationContent(
        latitude=-23.5613, longitude=-46.6565, name="MASP", address="Av. Paulista, 1578, Sao Paulo"
    )


def test_whatsapp_button_with_payload_replying_to_our_template() -> None:
    event = only("whatsapp-button-payload.json")
    assert event.content == ChoiceContent(
        choice="button", title="Yes, confirm", payload="confirm:order:12345"
    )
    assert event.reply_to == "SM9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def test_whatsapp_list_reply() -> None:
    assert only("whatsapp-list-reply.json").content == ChoiceContent(
        choice="list_reply", title="Tomorrow 9am", payload="slot-0900"
    )


def test_whatsapp_reply_forwarded() -> None:
    event = only("whatsapp-reply-forwarded.json")
    assert (event.content, event.reply_to, event.forwarded) == (
        TextContent(text="is this real?"),
        "SM8f8e7d6c5b4a39281706f5e4d3c2b1a0",
        True,
    )


def test_click_to_whatsapp_referral_keeps_the_message() -> None:
    result = run("whatsapp-referral.json")
    message, referral = result.events
    assert isinstance(message, MessageEvent) and message.content == TextContent(text="Hi, I saw your ad")
    assert isinstance(referral, MessageEvent) and isinstance(referral.content, ReferralContent)
    assert referral.content.ad_id == "120201234567890123"
    assert referral.content.headline == "50% off" and referral.content.url == "https://fb.me/abc123"
    assert referral.event_id != message.event_id and referral.contact_id == message.contact_id


def test_mms_with_mixed_media_keeps_every_file() -> None:
    content = only("mms-mixed-media.json").content
    assert isinstance(content, MediaContent)
    assert content.type == "document"
    assert [a.mime_type for a in content.attachments] == ["image/png", "application/pdf"]
    assert content.text is None  # an empty Body is no caption


@pytest.mark.parametrize(
    ("name", "status", "provider_status", "error"),
    [
        ("status-sms-delivered.json", "delivered", "delivered", None),
        (
            "status-sms-undelivered-30003.json",
            "failed",
            "undelivered",
            ReceiptError(code="30003", title="The handset is unreachable."),
        ),
        ("status-whatsapp-read.json", "read", "read", None),
        (
            "status-whatsapp-failed-63016.json",
            "failed",
            "failed",
            ReceiptError(
                code="63016",
                title="Failed to send freeform message because you are outside the allowed window.",
            ),
        ),
        ("status-queued-sending.json", "queued", "sending", None),
        ("status-unknown.json", "partially_delivered", "partially_delivered", None),
    ],
)
def test_status_callbacks(name: str, status: str, provider_status: str, error: ReceiptError | None) -> None:
    fields = fixture_fields(name)
    event = only(name)
    assert isinstance(event, ReceiptEvent)
    # Our message: From is our number (it routes the event), To the customer.
    assert (event.account_id, event.contact_id) == (fields["From"], fields["To"])
    assert (event.status, event.provider_status, event.error) == (status, provider_status, error)
    assert event.message_ids == (fields["MessageSid"],)


def test_delivery_report_time() -> None:
    event = only("status-sms-delivered.json")
    assert event.occurred_at is not None and event.occurred_at.isoformat() == "2024-06-01T12:30:00+00:00"


def test_received_callbacks_give_nothing() -> None:
    result = run("status-received.json")
    assert result.events == [] and result.quarantined == []


def test_status_event_ids_differ_per_status() -> None:
    fields = fixture_fields("status-whatsapp-read.json")
    read = adapter().parse_item({"params": fields})[0]
    delivered = adapter().parse_item({"params": {**fields, "MessageStatus": "delivered"}})[0]
    assert read.event_id != delivered.event_id
    assert read.event_id == adapter().parse_item({"params": dict(fields)})[0].event_id


# --- send: the Messages API through the provider sandbox --------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[ProviderSandbox]:
    with ProviderSandbox() as running:
        running.register_account("twilio", SMS_NUMBER, AUTH_TOKEN, account_sid=ACCOUNT_SID)
        running.register_account("twilio", WA_NUMBER, AUTH_TOKEN, account_sid=ACCOUNT_SID)
        yield running


def account(sandbox: ProviderSandbox, number: str = SMS_NUMBER, **overrides: Any) -> ChannelAccount:
    fields: dict[str, Any] = {
        "channel": "twilio",
        "external_id": number,
        "token": AUTH_TOKEN,
        "base_url": sandbox.base_url,
        "account_sid": ACCOUNT_SID,
        "status_callback_url": "https://hooks.example.com/webhook-twilio",
        **overrides,
    }
    return ChannelAccount(**fields)


def send(
    sandbox: ProviderSandbox, message: OutboundMessage, recipient: str = "+14155550123", **kw: Any
) -> Any:
    return adapter().send(account(sandbox, **kw), recipient, message, timeout=5)


def test_sms_text(sandbox: ProviderSandbox) -> None:
    result = send(sandbox, OutboundMessage(type="text", text="Hello Ana", reply_to="SMignored"))
    [call] = sandbox.requests()
    assert (call.method, call.path) == ("POST", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
    assert call.headers["authorization"].startswith("Basic ")
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert call.form == {
        "To": ["+14155550123"],
        "From": [SMS_NUMBER],
        "Body": ["Hello Ana"],
        # Our number rides in the callback URL: minimal callbacks carry no From.
        "StatusCallback": ["https://hooks.example.com/webhook-twilio?via=%2B14155550100&to=%2B14155550123"],
    }
    assert result.provider_message_id == call.response["sid"]
    assert result.provider_message_id.startswith("SM")


def test_media_with_caption_and_no_status_callback(sandbox: ProviderSandbox) -> None:
    url = "https://cdn.example.com/receipt.pdf"
    send(
        sandbox, OutboundMessage(type="document", media_url=url, caption="receipt"), status_callback_url=None
    )
    [call] = sandbox.requests()
    assert call.form == {"To": ["+14155550123"], "From": [SMS_NUMBER], "MediaUrl": [url], "Body": ["receipt"]}
    assert call.response["num_media"] == "1" and call.response["sid"].startswith("MM")


def test_whatsapp_template_uses_content_sid_and_numbered_variables(sandbox: ProviderSandbox) -> None:
    content_sid = "HX" + "0123456789abcdef" * 2
    message = OutboundMessage(
        type="template",
        template_name=content_sid,
        template_language="pt_BR",
        template_parameters=(TemplateParameter(text="Ana"), TemplateParameter(text="12345")),
    )
    # The customer id comes prefixed from the inbound From; a bare number gets the prefix added.
    for recipient in ("whatsapp:+5511999990000", "+5511999990000"):
        result = send(sandbox, message, recipient=recipient, number=WA_NUMBER)
        call = sandbox.requests()[-1]
        assert call.form == {
            "To": ["whatsapp:+5511999990000"],
            "From": [WA_NUMBER],
            "ContentSid": [content_sid],
            "ContentVariables": ['{"1": "Ana", "2": "12345"}'],
            "StatusCallback": [
                "https://hooks.example.com/webhook-twilio?via=whatsapp%3A%2B14155238886&to=whatsapp%3A%2B5511999990000"
            ],
        }
        assert result.provider_message_id == call.response["sid"]


def test_reactions_are_refused_and_mark_read_is_a_no_op(sandbox: ProviderSandbox) -> None:
    with pytest.raises(ProviderError) as refused:
        send(sandbox, OutboundMessage(type="reaction", emoji="\N{THUMBS UP SIGN}", reply_to="SM1"))
    assert (refused.value.transient, refused.value.code) == (False, "unsupported")
    assert send(sandbox, OutboundMessage(type="mark_read", reply_to="SM1")).provider_message_id is None
    assert sandbox.requests() == []


def test_an_account_without_sid_is_a_configuration_error(sandbox: ProviderSandbox) -> None:
    with pytest.raises(ProviderError) as caught:
        send(sandbox, OutboundMessage(type="text", text="x"), account_sid=None)
    assert (caught.value.transient, caught.value.code) == (False, "configuration")


@pytest.mark.parametrize(
    ("code", "transient"),
    [
        (21610, False),
        (21211, False),
        (21614, False),
        (63016, False),
        (20429, True),
        (20500, True),
        (20503, True),
    ],
)
def test_error_codes_decide_retries(sandbox: ProviderSandbox, code: int, transient: bool) -> None:
    sandbox.fail_next("twilio", code)
    with pytest.raises(ProviderError) as caught:
        send(sandbox, OutboundMessage(type="text", text="x"))
    error = caught.value
    assert (error.code, error.transient) == (str(code), transient)
    assert error.reason() == f"{TWILIO_ERRORS[code][1]} (Twilio error {code})"


def test_rate_limit_honours_retry_after(sandbox: ProviderSandbox) -> None:
    sandbox.fail_next("twilio", 20429, retry_after=17)
    with pytest.raises(ProviderError) as caught:
        send(sandbox, OutboundMessage(type="text", text="x"))
    error = caught.value
    assert (error.transient, error.retry_after, error.code, error.provider_http_status) == (
        True,
        17,
        "20429",
        429,
    )


def test_unknown_codes_fall_back_on_the_http_status(sandbox: ProviderSandbox) -> None:
    sandbox.fail_next("twilio", 29999, http_status=502)
    with pytest.raises(ProviderError) as caught:
        send(sandbox, OutboundMessage(type="text", text="x"))
    assert (caught.value.code, caught.value.transient) == ("29999", True)
    sandbox.fail_next("twilio", 29998)
    with pytest.raises(ProviderError) as caught:
        send(sandbox, OutboundMessage(type="text", text="x"))
    assert (caught.value.code, caught.value.transient) == ("29998", False)


def test_wrong_credentials(sandbox: ProviderSandbox) -> None:
    with pytest.raises(ProviderError) as caught:
        send(sandbox, OutboundMessage(type="text", text="x"), token="wrong")
    assert (caught.value.code, caught.value.transient, caught.value.health) == (
        "20003",
        False,
        "token_expired",
    )


def test_timeouts_are_transient(sandbox: ProviderSandbox) -> None:
    sandbox.hang_next("twilio", 1.0)
    with pytest.raises(ProviderError) as caught:
        adapter().send(account(sandbox), "+14155550123", OutboundMessage(type="text", text="x"), timeout=0.2)
    assert (caught.value.transient, caught.value.code) == (True, None)


def test_published_error_bodies_and_the_rfc9457_shape() -> None:
    def load(name: str) -> Any:
        path = PROVIDER_FIXTURES / "twilio" / name
        if not path.is_file():
            pytest.fail(f"provider fixture missing: {path}")
        return json.loads(path.read_bytes())

    rate = provider_error(429, load("out-courier-error-20429.json"), {"Retry-After": "3"})
    assert (rate.code, rate.transient, rate.retry_after) == ("20429", True, 3)
    minimal = provider_error(400, load("out-courier-error-21610-minimal.json"))
    assert (minimal.code, minimal.transient) == ("21610", False)
    assert "unsubscribed" in minimal.reason()
    # RFC 9457 problem details (Twilio's newer APIs): the code in `code`, or only in the type URI.
    problem = {
        "type": "https://www.twilio.com/docs/errors/21211",
        "title": "Invalid 'To' Phone Number",
        "status": 400,
        "detail": "The 'To' number +1555 is not a valid phone number.",
        "instance": "/2010-04-01/Accounts/AC.../Messages.json",
    }
    parsed = provider_error(400, problem)
    assert (parsed.code, parsed.transient, parsed.detail) == ("21211", False, problem["detail"])
    parsed = provider_error(
        429, {**problem, "type": "https://www.twilio.com/docs/errors/20429", "code": 20429}
    )
    assert (parsed.code, parsed.transient) == ("20429", True)
    assert provider_error(503, None).transient is True
    assert provider_error(None, None).transient is True


def test_a_minimal_status_callback_is_routed_by_the_number_in_its_signed_url() -> None:
    # Twilio may send only MessageSid and MessageStatus (and the account): no From.
    body = f"MessageSid=SM0001&MessageStatus=delivered&AccountSid={ACCOUNT_SID}".encode()
    url = "https://hooks.example.com/webhook-twilio?via=%2B14155550100&to=%2B14155550123"
    adapter().verify(
        {
            "X-Twilio-Signature": compute_signature(
                AUTH_TOKEN,
                url,
                [("MessageSid", "SM0001"), ("MessageStatus", "delivered"), ("AccountSid", ACCOUNT_SID)],
            )
        },
        body,
        url,
    )
    result = normalize(adapter(), body, url)
    [receipt] = result.events
    assert isinstance(receipt, ReceiptEvent)
    assert receipt.route_key == f"twilio:{SMS_NUMBER}"
    assert receipt.status == "delivered" and receipt.message_ids == ("SM0001",)
    assert receipt.signer == ACCOUNT_SID
    assert receipt.contact_id == "+14155550123"  # the conversation
    # Without the number in the URL it still cannot be routed: kept in quarantine.
    [kept] = normalize(adapter(), body, "https://hooks.example.com/webhook-twilio").quarantined
    assert "cannot route it" in kept.error
