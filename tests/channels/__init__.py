"""Tests of the Meta channel adapters (Messenger, Instagram, WhatsApp Cloud API), and what they share.

Two kinds of fixture: real published payloads, read in place from ``../shared/fixtures/providers/``
(never copied here), and hand-written payloads under ``fixtures/`` built from Meta's webhook
reference pages, for the event kinds the published corpus lacks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from shared.channels.base import ChannelAdapter
from shared.channels.instagram import InstagramAdapter
from shared.channels.messenger import MessengerAdapter
from shared.channels.whatsapp import WhatsAppAdapter
from shared.inbound import Normalized, normalize

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The repository sits beside ../shared, which holds the published payloads.
PROVIDER_FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "providers"
META_CHANNELS = ("messenger", "instagram", "whatsapp")

APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"

_OBJECTS = {"messenger": "page", "instagram": "instagram", "whatsapp": "whatsapp_business_account"}


def make_adapter(kind: str) -> ChannelAdapter:
    """An adapter with explicit test credentials (no environment needed)."""
    cls = {"messenger": MessengerAdapter, "instagram": InstagramAdapter, "whatsapp": WhatsAppAdapter}[kind]
    return cls(app_secret=APP_SECRET, verify_token=VERIFY_TOKEN)


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    """The X-Hub-Signature-256 value Meta would send for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def own_fixture(name: str) -> bytes:
    """A hand-written fixture's exact bytes."""
    return (FIXTURES / name).read_bytes()


def run_own(kind: str, name: str) -> Normalized:
    """Normalize one of our own fixtures with a fresh ``kind`` adapter."""
    return normalize(make_adapter(kind), own_fixture(name))


def wrap_item(kind: str, element: dict[str, Any]) -> bytes:
    """A whole POST body around a single ``*-item-*`` element (one ``messaging[]`` element for
    Messenger/Instagram; one message or status for WhatsApp)."""
    if kind == "whatsapp":
        key = "statuses" if "status" in element else "messages"
        value = {"metadata": {"phone_number_id": "0"}, key: [element]}
        entry: dict[str, Any] = {"id": "0", "changes": [{"field": "messages", "value": value}]}
    else:
        page = element.get("recipient", {}).get("id") if isinstance(element.get("recipient"), dict) else None
        entry = {"id": page or "0", "messaging": [element]}
    return json.dumps({"object": _OBJECTS[kind], "entry": [entry]}).encode()


def provider_body(kind: str, path: Path) -> bytes:
    """A published fixture as the POST body Meta would send (``*-item-*`` files are wrapped)."""
    raw = path.read_bytes()
    if "-item-" in path.name:
        return wrap_item(kind, json.loads(raw))
    return raw
