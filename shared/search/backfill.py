"""Adding the search fields to what was stored before search existed (``python -m shared.cli
backfill-search --tenant T``): every message of the tenant's support conversations gets
``tenantId``, ``conversationId``, ``sentAtMs`` and ``terms``, every contact its ``terms``.

Paged (a few hundred documents a round trip) and idempotent: a document whose fields are already
right is not written, so running it again, or after an interruption, writes only what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared import store
from shared.search.fields import contact_terms, message_fields


@dataclass
class BackfillCount:
    """What a backfill read and wrote."""

    conversations: int = 0
    messages: int = 0
    messages_written: int = 0
    contacts: int = 0
    contacts_written: int = 0


def _sent_ms(data: dict[str, Any]) -> int:
    if isinstance(data.get("sentAtMs"), int):
        return int(data["sentAtMs"])
    for field in ("sentAt", "createdAt", "receivedAt"):
        value = data.get(field)
        if isinstance(value, datetime):
            return int(value.timestamp() * 1000)
    return 0


def _changes(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in wanted.items() if current.get(k) != v}


def backfill(tenant_id: str, *, dry_run: bool = False) -> BackfillCount:
    """Add the search fields to one tenant's messages and contacts; return the counts."""
    count = BackfillCount()
    for conversation_id in store.support_conversation_ids(tenant_id):
        count.conversations += 1
        for page in store.conversation_messages(tenant_id, conversation_id):
            updates = []
            for message_id, data in page:
                count.messages += 1
                wanted = message_fields(tenant_id, conversation_id, _sent_ms(data), data)
                change = _changes(data, wanted)
                if change:
                    updates.append((store.message_path(tenant_id, conversation_id, message_id), change))
            count.messages_written += len(updates)
            if updates and not dry_run:
                store.update_documents(updates)
    for page in store.tenant_contacts(tenant_id):
        updates = []
        for contact_id, data in page:
            count.contacts += 1
            change = _changes(data, {"terms": contact_terms(data)})
            if change:
                updates.append((store.contact_path(tenant_id, contact_id), change))
        count.contacts_written += len(updates)
        if updates and not dry_run:
            store.update_documents(updates)
    return count
