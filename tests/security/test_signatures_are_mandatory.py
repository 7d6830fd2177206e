"""Every registered channel refuses an unsigned or forged webhook with 401, before parsing and without
publishing anything.

Pub/Sub is unreachable (see :mod:`tests.security.webhooks`): a request that got past verification
would answer 503. On top of that, the parser and the publisher are replaced by spies that record any
call, so "nothing was parsed, nothing was published" is observed, not inferred.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import pytest

from functions import webhook as webhook_trigger
from shared import bus, channels
from tests.security import webhooks
from tests.security.webhooks import WebhookRequest


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[str, Any]]:
    with webhooks.webhook_environment():
        yield {kind: webhooks.webhook_client(kind) for kind in channels.kinds()}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every call to the parser and the publisher the webhook uses."""
    recorded: list[str] = []
    real_normalize = webhook_trigger.normalize
    real_publish = bus.publish

    def normalize(*args: Any, **kwargs: Any) -> Any:
        recorded.append("normalize")
        return real_normalize(*args, **kwargs)

    def publish(*args: Any, **kwargs: Any) -> Any:
        recorded.append("publish")
        return real_publish(*args, **kwargs)

    monkeypatch.setattr(webhook_trigger, "normalize", normalize)
    monkeypatch.setattr(bus, "publish", publish)
    return recorded


def _body(kind: str) -> bytes:
    return webhooks.message_body(kind, text="where is my parcel", name="Test Customer", phone="15550001111")


def _flip_last(value: str, alphabet: str) -> str:
    """``value`` with its last character changed to another one of ``alphabet`` (same shape)."""
    last = value[-1]
    return value[:-1] + (alphabet[0] if last != alphabet[0] else alphabet[1])


HEX = "0123456789abcdef"
BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def forgeries(kind: str) -> list[tuple[str, WebhookRequest]]:
    """Requests that must all be refused: missing, forged, misplaced and replayed signatures."""
    body = _body(kind)
    genuine = webhooks.signed(kind, body)
    header = webhooks.SIGNATURE_HEADERS[kind]
    other_body = body.replace(b"parcel", b"refund")
    assert other_body != body
    cases = [
        ("no signature", genuine.without(header)),
        ("empty signature", genuine.with_header(header, "")),
    ]
    if kind != "telegram":  # Telegram's secret token authenticates the sender, not the body
        cases.append(("signature of another body", genuine.with_body(other_body)))
    if kind in webhooks.META_KINDS:
        signature = genuine.headers[header]
        legacy = "sha1=" + hmac.new(webhooks.META_APP_SECRET.encode(), body, hashlib.sha1).hexdigest()
        cases += [
            ("one hex digit changed", genuine.with_header(header, _flip_last(signature, HEX))),
            (
                "signed with another app secret",
                genuine.with_header(header, webhooks.meta_signature(body, "x")),
            ),
            ("all zeros", genuine.with_header(header, "sha256=" + "0" * 64)),
            (
                "the digest without its sha256= prefix",
                genuine.with_header(header, signature[len("sha256=") :]),
            ),
            ("the sha256= prefix alone", genuine.with_header(header, "sha256=")),
            ("a truncated digest", genuine.with_header(header, signature[:-2])),
            ("only the legacy sha1 header", genuine.without(header).with_header("X-Hub-Signature", legacy)),
            ("the app secret itself", genuine.with_header(header, webhooks.META_APP_SECRET)),
        ]
    elif kind == "telegram":
        token = genuine.headers[header]
        cases += [
            ("one hex digit changed", genuine.with_header(header, _flip_last(token, HEX))),
            ("the token of another bot", genuine.with_header(header, webhooks.telegram_token("42"))),
            (
                "derived from another master secret",
                genuine.with_header(header, webhooks.telegram_token(webhooks.BOT_ID, "x")),
            ),
            ("the master secret itself", genuine.with_header(header, webhooks.TELEGRAM_MASTER_SECRET)),
            ("a URL that names no bot", WebhookRequest("/", body, genuine.headers)),
            (
                "a URL that names two bots",
                WebhookRequest(f"/?bot={webhooks.BOT_ID}&bot=42", body, genuine.headers),
            ),
        ]
    elif kind == "twilio":
        signature = genuine.headers[header]
        pairs = [("AccountSid", webhooks.TWILIO_ACCOUNT_SID), ("Body", "x")]
        stranger = body.replace(webhooks.TWILIO_ACCOUNT_SID.encode(), b"AC" + b"f" * 32)
        cases += [
            (
                "one base64 character changed",
                genuine.with_header(header, _flip_last(signature.rstrip("="), BASE64) + "="),
            ),
            (
                "signed with another auth token",
                genuine.with_header(
                    header, webhooks.twilio_signature(webhooks.public_url("twilio"), pairs, "x")
                ),
            ),
            (
                "signed for another URL",
                webhooks.signed("twilio", body).with_header(
                    header,
                    webhooks.twilio_signature(
                        "http://evil.example/webhook-twilio",
                        [tuple(p.split("=", 1)) for p in body.decode().split("&")],  # type: ignore[misc]
                    ),
                ),
            ),
            ("an account we do not have", webhooks.signed("twilio", stranger)),
            ("a form without AccountSid", webhooks.signed("twilio", b"Body=hello&From=%2B1555&To=%2B1666")),
            ("20 zero bytes", genuine.with_header(header, base64.b64encode(bytes(20)).decode())),
        ]
    return cases


CASES = [(kind, label, request) for kind in webhooks.KINDS for label, request in forgeries(kind)]


def test_every_registered_channel_is_covered() -> None:
    assert set(channels.kinds()) == set(webhooks.KINDS)
    assert {kind for kind, _, _ in CASES} == set(channels.kinds())


@pytest.mark.parametrize("kind", webhooks.KINDS)
def test_a_correctly_signed_request_reaches_the_publisher(
    clients: dict[str, Any], calls: list[str], kind: str
) -> None:
    # The control for every refusal below: the same body, correctly signed, is parsed and its
    # publish attempted (503: Pub/Sub is away).
    response = webhooks.post(clients[kind], webhooks.signed(kind, _body(kind)))
    assert response.status_code == 503
    assert calls == ["normalize", "publish"]


@pytest.mark.parametrize(("kind", "label", "request_"), CASES, ids=[f"{k}: {label}" for k, label, _ in CASES])
def test_an_unsigned_or_forged_webhook_is_refused_before_parsing_and_publishes_nothing(
    clients: dict[str, Any], calls: list[str], kind: str, label: str, request_: WebhookRequest
) -> None:
    response = webhooks.post(clients[kind], request_)
    assert response.status_code == 401, (label, response.status_code, response.data)
    assert calls == [], f"{label}: {calls} ran after a failed verification"
    genuine = webhooks.signed(kind, request_.body).headers[webhooks.SIGNATURE_HEADERS[kind]]
    assert genuine.encode() not in response.data, "a refusal must not reveal the expected signature"


@pytest.mark.parametrize("kind", webhooks.KINDS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_never_reach_the_parser(
    clients: dict[str, Any], calls: list[str], kind: str, method: str
) -> None:
    # GET is the subscription handshake: without Meta's verify token (and on channels that have no
    # handshake at all) it is refused with 403; other methods with 405.
    response = clients[kind].open("/", method=method, data=_body(kind))
    assert response.status_code == (403 if method == "GET" else 405)
    assert calls == []


def test_a_meta_handshake_needs_the_verify_token(clients: dict[str, Any], calls: list[str]) -> None:
    query = "hub.mode=subscribe&hub.challenge=1158201444"
    refused = clients["whatsapp"].get(f"/?{query}&hub.verify_token=guess")
    accepted = clients["whatsapp"].get(f"/?{query}&hub.verify_token={webhooks.META_VERIFY_TOKEN}")
    assert (refused.status_code, accepted.status_code) == (403, 200)
    assert accepted.data == b"1158201444"
    assert calls == []
