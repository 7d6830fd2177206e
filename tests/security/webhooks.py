"""The webhook functions under test: their environment, a test client per channel, and requests
signed the way each provider signs them.

The signers here are written from the providers' documentation, not imported from the product, so a
mistake in the product's verification cannot hide behind the same mistake in the test:

- Meta (Messenger, Instagram, WhatsApp): ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret,
  raw body)>`` (Meta Graph API, "Webhooks: Getting started", *Validating payloads*).
- Telegram: ``X-Telegram-Bot-Api-Secret-Token`` carries the secret token registered with setWebhook;
  Switchboard registers hex HMAC-SHA256(master secret, bot id) per bot and names the bot in the URL
  (``?bot=<id>``).
- Twilio: ``X-Twilio-Signature: base64(HMAC-SHA1(auth token, full URL + every POST parameter's key
  and value, sorted))`` (Twilio, "Webhooks security").

Pub/Sub points at a local port where nothing listens, so any publish fails fast and the function
answers 503: a 401 therefore proves nothing was published.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import functions_framework
import pytest

from infra.local import payloads
from shared import bus, config, secrets

MAIN = Path(__file__).resolve().parents[2] / "main.py"
KINDS = ("messenger", "instagram", "whatsapp", "telegram", "twilio")
META_KINDS = ("messenger", "instagram", "whatsapp")

META_APP_SECRET = "security-meta-app-secret"
META_VERIFY_TOKEN = "security-meta-verify-token"
TELEGRAM_MASTER_SECRET = "security-telegram-master-secret"
TWILIO_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TWILIO_AUTH_TOKEN = "security-twilio-auth-token"
BOT_ID = "6123456789"
PUBLIC_BASE_URL = "https://hooks.switchboard.test"
MAX_BODY_BYTES = 1_000_000  # the documented default of SWITCHBOARD_MAX_WEBHOOK_BYTES


def unused_port() -> int:
    """A local TCP port where nothing listens (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def webhook_environment(publish_timeout_seconds: float = 0.5) -> Iterator[dict[str, str]]:
    """Every secret the webhooks need, Pub/Sub unreachable; the previous environment and the cached
    settings, Pub/Sub transport and secrets are restored afterwards."""
    values = {
        "META_APP_SECRET": META_APP_SECRET,
        "META_VERIFY_TOKEN": META_VERIFY_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_MASTER_SECRET,
        "SWITCHBOARD_LOCAL_SECRETS": json.dumps(
            {f"twilio-auth-token-{TWILIO_ACCOUNT_SID}": TWILIO_AUTH_TOKEN}
        ),
        "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{unused_port()}",
        "SWITCHBOARD_PUBLISH_TIMEOUT_SECONDS": str(publish_timeout_seconds),
        "SWITCHBOARD_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "SWITCHBOARD_LOG_LEVEL": "INFO",
    }
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in values.items():
                patch.setenv(name, value)
            for name in ("SWITCHBOARD_LOCAL_SECRETS_FILE", "SWITCHBOARD_MAX_WEBHOOK_BYTES"):
                patch.delenv(name, raising=False)
            _forget_cached_state()
            yield values
    finally:
        _forget_cached_state()


def _forget_cached_state() -> None:
    config.reset()
    bus.reset()
    secrets.forget()


def webhook_client(kind: str) -> Any:
    """functions-framework's test client for ``webhook_<kind>``, loaded from main.py as deployed."""
    return functions_framework.create_app(target=f"webhook_{kind}", source=str(MAIN)).test_client()


# --- signing as the providers do ---------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookRequest:
    """One POST to a webhook function: the path (with the query), the raw body and the headers."""

    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def without(self, header: str) -> WebhookRequest:
        return replace(self, headers={k: v for k, v in self.headers.items() if k != header})

    def with_header(self, header: str, value: str) -> WebhookRequest:
        return replace(self, headers={**self.headers, header: value})

    def with_body(self, body: bytes) -> WebhookRequest:
        """The same headers (so the same signature) over other bytes: a tampered body."""
        return replace(self, body=body)


def post(client: Any, request: WebhookRequest) -> Any:
    return client.post(request.path, data=request.body, headers=request.headers)


def meta_signature(body: bytes, secret: str = META_APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def telegram_token(bot_id: str, master: str = TELEGRAM_MASTER_SECRET) -> str:
    return hmac.new(master.encode(), bot_id.encode(), hashlib.sha256).hexdigest()


def twilio_signature(url: str, pairs: list[tuple[str, str]], token: str = TWILIO_AUTH_TOKEN) -> str:
    data = url + "".join(key + value for key, value in sorted(set(pairs)))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def public_url(kind: str, query: str = "") -> str:
    """The URL the provider calls: the public base URL the function is configured with."""
    return f"{PUBLIC_BASE_URL}/webhook-{kind}" + (f"?{query}" if query else "")


SIGNATURE_HEADERS = {
    "messenger": "X-Hub-Signature-256",
    "instagram": "X-Hub-Signature-256",
    "whatsapp": "X-Hub-Signature-256",
    "telegram": "X-Telegram-Bot-Api-Secret-Token",
    "twilio": "X-Twilio-Signature",
}


def signed(kind: str, body: bytes, query: str | None = None) -> WebhookRequest:
    """``body`` as ``kind``'s provider would post it, correctly signed.

    Telegram's query defaults to ``bot=<BOT_ID>`` and the token is derived for the bot the query
    names (none when it does not name exactly one). Twilio signs the parameters as the function
    reads them from the form."""
    if kind in META_KINDS:
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(body)}
        return WebhookRequest(f"/?{query}" if query else "/", body, headers)
    if kind == "telegram":
        query = f"bot={BOT_ID}" if query is None else query
        headers = {"Content-Type": "application/json"}
        bots = urllib.parse.parse_qs(query, keep_blank_values=True).get("bot", [])
        if len(bots) == 1:
            headers["X-Telegram-Bot-Api-Secret-Token"] = telegram_token(bots[0])
        return WebhookRequest(f"/?{query}" if query else "/", body, headers)
    if kind == "twilio":
        pairs = urllib.parse.parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(public_url(kind, query or ""), pairs),
        }
        return WebhookRequest(f"/?{query}" if query else "/", body, headers)
    raise ValueError(f"no signer for {kind}")


def twilio_form(fields: dict[str, str]) -> bytes:
    """A Twilio form body naming our configured account."""
    return urllib.parse.urlencode({"AccountSid": TWILIO_ACCOUNT_SID, **fields}).encode()


# --- a plausible inbound message per channel -----------------------------------------------------------


def message_body(kind: str, *, text: str, name: str, phone: str, message_id: str = "mid.1") -> bytes:
    """A documented inbound text message for ``kind`` carrying ``text``, from a customer called
    ``name`` with phone number ``phone`` (where the provider sends either)."""
    first, _, last = name.partition(" ")
    if kind in ("messenger", "instagram"):
        body = payloads.messenger_text(
            "100200300", "7001", text, mid=message_id, kind="page" if kind == "messenger" else kind
        )
        return json.dumps(body).encode()
    if kind == "whatsapp":
        body = payloads.whatsapp_text("900", phone, text, wamid=message_id, timestamp=1700000000, name=name)
        return json.dumps(body).encode()
    if kind == "telegram":
        person = {"id": 7001, "first_name": first, "last_name": last, "username": first.lower() + "_q"}
        return json.dumps(
            {
                "update_id": 1001,
                "message": {
                    "message_id": 41,
                    "date": 1700000000,
                    "chat": {**person, "type": "private"},
                    "from": {**person, "is_bot": False},
                    "text": text,
                    "contact": {"phone_number": phone, "first_name": first, "last_name": last},
                },
            }
        ).encode()
    if kind == "twilio":
        return twilio_form(
            {
                "MessageSid": "SM" + "1" * 32,
                "From": f"whatsapp:+{phone}",
                "To": "whatsapp:+15550100",
                "Body": text,
                "ProfileName": name,
                "WaId": phone,
                "NumMedia": "0",
                "SmsStatus": "received",
            }
        )
    raise ValueError(f"no message body for {kind}")
