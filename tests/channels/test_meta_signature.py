"""Signature, handshake, timestamps and tolerant readers shared by every Meta channel."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from shared import config
from shared.channels.instagram import InstagramAdapter
from shared.channels.messenger import MessengerAdapter
from shared.channels.meta import handshake, receipt_error, verify_signature
from shared.channels.payload import as_id, header, load_body, to_utc
from shared.channels.whatsapp import WhatsAppAdapter
from shared.config import MissingSetting
from shared.errors import ParseError, SignatureError, VerificationError
from shared.inbound import normalize
from shared.models import ReceiptError
from tests.channels import APP_SECRET, META_CHANNELS, PROVIDER_FIXTURES, VERIFY_TOKEN, make_adapter, sign

# --- signature -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def meta_vector() -> dict:
    vectors = json.loads((PROVIDER_FIXTURES / "vectors.json").read_text())["vectors"]
    return next(v for v in vectors if v.get("header") == "X-Hub-Signature-256")


def test_published_vector_verifies(meta_vector: dict) -> None:
    body = meta_vector["body"].encode("utf-8")
    verify_signature(body, meta_vector["expected_header_value"], meta_vector["app_secret"])
    assert sign(body, meta_vector["app_secret"]) == meta_vector["expected_header_value"]


@pytest.mark.parametrize("kind", META_CHANNELS)
def test_adapter_verifies_the_published_vector(kind: str, meta_vector: dict) -> None:
    cls = {"messenger": MessengerAdapter, "instagram": InstagramAdapter, "whatsapp": WhatsAppAdapter}[kind]
    adapter = cls(app_secret=meta_vector["app_secret"])
    body = meta_vector["body"].encode("utf-8")
    adapter.verify({"X-Hub-Signature-256": meta_vector["expected_header_value"]}, body, "https://x/y")


def test_one_changed_byte_fails(meta_vector: dict) -> None:
    body = bytearray(meta_vector["body"].encode("utf-8"))
    body[0] ^= 0x01
    with pytest.raises(SignatureError):
        verify_signature(bytes(body), meta_vector["expected_header_value"], meta_vector["app_secret"])


def test_one_changed_signature_digit_fails(meta_vector: dict) -> None:
    value = meta_vector["expected_header_value"]
    flipped = value[:-1] + ("0" if value[-1] != "0" else "1")
    with pytest.raises(SignatureError):
        verify_signature(meta_vector["body"].encode(), flipped, meta_vector["app_secret"])


def test_wrong_secret_fails(meta_vector: dict) -> None:
    with pytest.raises(SignatureError):
        verify_signature(meta_vector["body"].encode(), meta_vector["expected_header_value"], "another-secret")


@pytest.mark.parametrize("kind", META_CHANNELS)
def test_missing_header_fails(kind: str) -> None:
    with pytest.raises(SignatureError, match="missing"):
        make_adapter(kind).verify({}, b"{}", "")


@pytest.mark.parametrize("kind", META_CHANNELS)
def test_sha1_header_alone_is_refused(kind: str) -> None:
    import hashlib
    import hmac

    body = b'{"object":"page","entry":[]}'
    sha1 = "sha1=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha1).hexdigest()
    with pytest.raises(SignatureError):
        make_adapter(kind).verify({"X-Hub-Signature": sha1}, body, "")
    # ...and a sha1 value in the sha256 header is malformed, not accepted.
    with pytest.raises(SignatureError):
        make_adapter(kind).verify({"X-Hub-Signature-256": sha1}, body, "")


@pytest.mark.parametrize(
    "value",
    ["", "sha256=", "sha256=zz", "sha256=" + "0" * 63, "md5=" + "0" * 64, "0" * 64, "sha256=" + "é" * 64],
)
def test_malformed_signatures_fail(value: str) -> None:
    with pytest.raises(SignatureError):
        verify_signature(b"{}", value, APP_SECRET)


@pytest.mark.parametrize("name", ["X-Hub-Signature-256", "x-hub-signature-256", "X-HUB-SIGNATURE-256"])
def test_header_lookup_is_case_insensitive(name: str) -> None:
    body = b'{"entry":[]}'
    make_adapter("messenger").verify({name: sign(body)}, body, "")


def test_uppercase_hex_and_prefix_are_tolerated() -> None:
    body = b'{"entry":[]}'
    value = sign(body)
    verify_signature(body, "SHA256=" + value[7:].upper(), APP_SECRET)


def test_escaped_unicode_body_verifies_over_the_exact_bytes() -> None:
    # Meta escapes non-ASCII as \uXXXX in the body it signs: verify those bytes, never a re-encoding.
    body = (
        b'{"object":"page","entry":[{"id":"1","messaging":'
        b'[{"message":{"text":"caf\\u00e9 \\ud83d\\ude00"}}]}]}'
    )
    signature = sign(body)
    verify_signature(body, signature, APP_SECRET)
    reencoded = json.dumps(json.loads(body), ensure_ascii=False, separators=(",", ":")).encode()
    assert reencoded != body
    with pytest.raises(SignatureError):
        verify_signature(reencoded, signature, APP_SECRET)


def test_empty_app_secret_is_a_configuration_error() -> None:
    with pytest.raises(MissingSetting):
        verify_signature(b"{}", sign(b"{}", ""), "")


@pytest.fixture
def meta_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("META_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("META_VERIFY_TOKEN", VERIFY_TOKEN)
    config.reset()
    yield
    config.reset()


@pytest.mark.parametrize("kind", META_CHANNELS)
def test_adapters_read_credentials_from_settings(kind: str, meta_env: None) -> None:
    cls = {"messenger": MessengerAdapter, "instagram": InstagramAdapter, "whatsapp": WhatsAppAdapter}[kind]
    adapter = cls()
    body = b'{"entry":[]}'
    adapter.verify({"x-hub-signature-256": sign(body)}, body, "")
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}
    assert adapter.handshake(query) == "42"


def test_missing_settings_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("META_APP_SECRET", raising=False)
    monkeypatch.delenv("META_VERIFY_TOKEN", raising=False)
    config.reset()
    try:
        with pytest.raises(MissingSetting):
            MessengerAdapter().verify({"X-Hub-Signature-256": sign(b"{}")}, b"{}", "")
        with pytest.raises(MissingSetting):
            MessengerAdapter().handshake(
                {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}
            )
    finally:
        config.reset()


# --- handshake -----------------------------------------------------------------------------------


def test_handshake_from_the_published_verify_request() -> None:
    case = json.loads((PROVIDER_FIXTURES / "messenger" / "courier-verify-get.json").read_text())
    assert handshake(case["query"], "fb_webhook_secret") == case["expected_body"]


@pytest.mark.parametrize("kind", META_CHANNELS)
def test_handshake_echoes_the_challenge(kind: str) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    assert make_adapter(kind).handshake(query) == "1158201444"


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN[:-1], "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": ""},
        {},
    ],
)
def test_handshake_refuses(query: dict[str, str]) -> None:
    with pytest.raises(VerificationError):
        make_adapter("whatsapp").handshake(query)


def test_handshake_refuses_an_empty_configured_token() -> None:
    with pytest.raises(MissingSetting):
        handshake({"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}, "")


# --- timestamps ----------------------------------------------------------------------------------

SECONDS = datetime(2016, 1, 30, 1, 57, 9, tzinfo=UTC)
MILLIS = datetime(2016, 4, 7, 1, 11, 27, 970000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1454119029, SECONDS),
        ("1454119029", SECONDS),
        (" 1454119029 ", SECONDS),
        (1454119029.0, SECONDS),
        (1459991487970, MILLIS),
        ("1459991487970", MILLIS),
        (1701599111, datetime(2023, 12, 3, 10, 25, 11, tzinfo=UTC)),  # Messenger referral: seconds
        ("asdf", None),
        ("", None),
        (0, None),
        ("0", None),
        (-1459991487970, None),
        ("-1454119029", None),
        (233445667, None),  # dashboard test delivery: 1977 as seconds
        ("233445667", None),
        (True, None),
        (None, None),
        ({}, None),
        ([1454119029], None),
        ("1e12", None),
        ("0x5E4C1E35", None),
        ("1_454_119_029", None),
        (float("nan"), None),
        (float("inf"), None),
        (10**30, None),
        ("9" * 25, None),
    ],
)
def test_to_utc(value: object, expected: datetime | None) -> None:
    assert to_utc(value) == expected


def test_to_utc_refuses_the_far_future_but_accepts_now() -> None:
    now = datetime.now(UTC)
    assert to_utc(int((now + timedelta(days=3)).timestamp())) is None
    assert to_utc(int((now + timedelta(days=3)).timestamp() * 1000)) is None
    recent = to_utc(int(now.timestamp() * 1000))
    assert recent is not None
    assert recent.tzinfo is UTC


# --- readers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'"x"',
        b"\xff\xfe\x00",
        b"[" * 100_000,
        b'{"a": NaN}',
        b'{"a": -Infinity}',
    ],
)
def test_load_body_refuses_non_objects(body: bytes) -> None:
    with pytest.raises(ParseError):
        load_body(body)


@pytest.mark.parametrize("kind", META_CHANNELS)
def test_unusable_body_is_quarantined_whole(kind: str) -> None:
    result = normalize(make_adapter(kind), b"<html>not json</html>")
    assert result.events == []
    assert [q.reason for q in result.quarantined] == ["invalid_body"]


@pytest.mark.parametrize("kind", META_CHANNELS)
def test_entry_that_is_not_a_list_quarantines_the_body(kind: str) -> None:
    result = normalize(make_adapter(kind), b'{"object":"page","entry":"nope"}')
    assert [q.reason for q in result.quarantined] == ["invalid_body"]


def test_ids_stay_strings() -> None:
    assert as_id(1517776481860111222) == "1517776481860111222"  # above 2**53: exact
    assert as_id("US.1234") == "US.1234"
    assert as_id(12.0) == "12"
    assert as_id(True) is None
    assert as_id(None) is None
    assert as_id("") is None
    assert as_id({"id": 1}) is None


def test_header_helper() -> None:
    headers = {"Content-Type": "application/json", "x-hub-signature-256": "sha256=ab"}
    assert header(headers, "X-Hub-Signature-256") == "sha256=ab"
    assert header(headers, "X-Hub-Signature") is None


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            {"code": 0, "title": "We were unable to authenticate the app user"},
            ReceiptError(code="0", title="We were unable to authenticate the app user"),
        ),
        (
            {
                "code": 131051,
                "details": "Message type is not currently supported",
                "title": "Unsupported message type",
            },
            ReceiptError(
                code="131051",
                title="Unsupported message type",
                detail="Message type is not currently supported",
            ),
        ),
        (
            {
                "code": 131049,
                "title": "Not delivered",
                "message": "Not delivered",
                "error_data": {"details": "healthy ecosystem"},
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            },
            ReceiptError(code="131049", title="Not delivered", detail="healthy ecosystem"),
        ),
        (
            {
                "error": {
                    "message": "(#130429) Rate limit hit",
                    "type": "OAuthException",
                    "code": 130429,
                    "error_data": {
                        "messaging_product": "whatsapp",
                        "details": "Cloud API message throughput has been reached.",
                    },
                    "fbtrace_id": "A",
                }
            },
            ReceiptError(
                code="130429",
                title="(#130429) Rate limit hit",
                detail="Cloud API message throughput has been reached.",
            ),
        ),
        ({}, None),
        ("boom", None),
        (None, None),
    ],
)
def test_receipt_error_layouts(error: object, expected: ReceiptError | None) -> None:
    assert receipt_error(error) == expected
