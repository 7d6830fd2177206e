"""Webhook bodies as the providers document them, built once for the simulator, the tests and the
benchmarks (WhatsApp Cloud API "Webhooks: messages" reference; Messenger Platform "messages").

Real published payloads live in ``../shared/fixtures/providers``; these builders make the many
variations tests and benchmarks need (any phone number id, customer, text or message count)."""

from __future__ import annotations

import time
import uuid
from typing import Any

WABA_ID = "WABA"
DISPLAY_NUMBER = "15550100"


def whatsapp_change(
    phone_number_id: str,
    *,
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    contacts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A WhatsApp Cloud API webhook POST body with one ``messages`` change for ``phone_number_id``
    carrying these ``messages[]``, ``statuses[]`` and ``contacts[]`` (each left out when None)."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": phone_number_id},
    }
    for key, items in (("contacts", contacts), ("messages", messages), ("statuses", statuses)):
        if items is not None:
            value[key] = items
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}],
    }


def whatsapp_text_message(
    wa_id: str, text: str, *, wamid: str | None = None, timestamp: int | None = None
) -> dict[str, Any]:
    """One ``messages[]`` element: a text from customer ``wa_id``."""
    return {
        "from": wa_id,
        "id": f"wamid.{uuid.uuid4().hex}" if wamid is None else wamid,
        "timestamp": str(timestamp or int(time.time())),
        "type": "text",
        "text": {"body": text},
    }


def whatsapp_contact(wa_id: str, name: str) -> dict[str, Any]:
    """One ``contacts[]`` element: the customer's WhatsApp id and profile name."""
    return {"profile": {"name": name}, "wa_id": wa_id}


def whatsapp_text(
    phone_number_id: str,
    wa_id: str,
    text: str,
    *,
    wamid: str | None = None,
    timestamp: int | None = None,
    name: str = "Kerry Fisher",
) -> dict[str, Any]:
    """A webhook POST body carrying one text message from ``wa_id`` (named ``name``)."""
    return whatsapp_change(
        phone_number_id,
        contacts=[whatsapp_contact(wa_id, name)],
        messages=[whatsapp_text_message(wa_id, text, wamid=wamid, timestamp=timestamp)],
    )


def whatsapp_status(phone_number_id: str, wa_id: str, wamid: str, status: str) -> dict[str, Any]:
    """A webhook POST body with one ``statuses[]`` receipt for a message the business sent."""
    receipt = {"id": wamid, "status": status, "timestamp": str(int(time.time())), "recipient_id": wa_id}
    return whatsapp_change(phone_number_id, statuses=[receipt])


def whatsapp_batch(
    phone_number_id: str, count: int, contacts: int = 50, text: str = "benchmark message"
) -> dict[str, Any]:
    """One POST carrying ``count`` text messages from ``contacts`` customers (as Meta batches)."""
    now = int(time.time())
    return whatsapp_change(
        phone_number_id,
        contacts=[whatsapp_contact(f"1555000{c:04d}", f"Customer {c}") for c in range(contacts)],
        messages=[
            whatsapp_text_message(f"1555000{i % contacts:04d}", f"{text} {i}", timestamp=now)
            for i in range(count)
        ],
    )


def messenger_text(
    page_id: str, sender: str, text: str, *, mid: str | None = None, kind: str = "page"
) -> dict:
    """A Messenger (``kind="page"``) or Instagram (``kind="instagram"``) webhook POST body with one
    text message from ``sender`` to ``page_id``."""
    now_ms = int(time.time() * 1000)
    return {
        "object": kind,
        "entry": [
            {
                "id": page_id,
                "time": now_ms,
                "messaging": [
                    {
                        "sender": {"id": sender},
                        "recipient": {"id": page_id},
                        "timestamp": now_ms,
                        "message": {"mid": f"m_{uuid.uuid4().hex}" if mid is None else mid, "text": text},
                    }
                ],
            }
        ],
    }
