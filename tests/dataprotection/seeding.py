"""Messages written straight into the emulator, as ingest writes them (with their search fields),
in batches of 500: fast enough to seed thousands for the export and retention tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from shared import ids, store
from shared.search.fields import message_fields
from tests.support import LocalStack

BATCH = 500


def conversation(tenant_id: str, external_id: str, *, name: str = "Casey Customer", last_ms: int = 0) -> str:
    """A support conversation (and its contact) on the demo WhatsApp channel; its id."""
    conversation_id = ids.conversation_id("whatsapp-main", external_id)
    contact_id = ids.contact_id("whatsapp-main", external_id)
    db = store.client()
    db.document(f"tenants/{tenant_id}/conversations/{conversation_id}").set(
        {
            "kind": "support",
            "tenantId": tenant_id,
            "channel": "whatsapp",
            "channelId": "whatsapp-main",
            "contactId": contact_id,
            "contactExternalId": external_id,
            "contactName": name,
            "status": "open",
            "lastActivityAtMs": last_ms,
        }
    )
    db.document(f"tenants/{tenant_id}/contacts/{contact_id}").set(
        {"channel": "whatsapp", "channelId": "whatsapp-main", "externalId": external_id, "name": name}
    )
    return conversation_id


def messages(
    tenant_id: str,
    conversation_id: str,
    count: int,
    *,
    start_ms: int,
    step_ms: int = 1000,
    text: Callable[[int], str] = lambda i: f"message number {i}",
    extra: Callable[[int], dict[str, Any]] | None = None,
) -> list[str]:
    """``count`` inbound text messages, ``step_ms`` apart from ``start_ms``; their ids."""
    db = store.client()
    written = []
    batch = db.batch()
    for i in range(count):
        message_id = ids.doc_id("msg", conversation_id, str(start_ms), str(i))
        at = start_ms + i * step_ms
        document: dict[str, Any] = {
            "direction": "in",
            "type": "text",
            "channel": "whatsapp",
            "channelId": "whatsapp-main",
            "status": "received",
            "text": text(i),
            "content": {"type": "text", "text": text(i)},
            "sender": {"kind": "contact", "id": "c", "name": "Casey Customer"},
            **(extra(i) if extra else {}),
        }
        document.update(message_fields(tenant_id, conversation_id, at, document))
        batch.set(
            db.document(f"tenants/{tenant_id}/conversations/{conversation_id}/messages/{message_id}"),
            document,
        )
        written.append(message_id)
        if len(written) % BATCH == 0:
            batch.commit()
            batch = db.batch()
    batch.commit()
    return written


def call(stack: LocalStack, token: str, body: dict[str, Any]) -> requests.Response:
    """POST to agent_api with an agent's ID token."""
    return requests.post(
        stack.function_urls["agent_api"], json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
