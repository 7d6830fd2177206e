"""Data protection (issue 18, part 7): everything about one contact as a file (the right of access).

:func:`export_contact` writes, as JSON Lines, the contact's document, each of its support
conversations, and every message of them (the agents' notes included, marked ``note``), each file
a message carries with a signed download link valid :data:`MEDIA_LINK_TTL`, into one object
under ``exports/`` (kept a day, like message exports), streamed with bounded memory, and answers a
5-minute signed link to it. The audit log records ``contact.export`` with a pseudonymous reference
to the contact (:func:`reference`), never its data. Erasure is shared/erasure.py.

Today's contact model: a contact is one customer's identity on one channel
(``tenants/{t}/contacts/{id}``) and its conversations are the support conversations whose
``contactId`` names it; merged contacts (several identities) only change :func:`conversations_of`.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared import audit, ids, store
from shared.auth import Caller, require_admin
from shared.errors import Refused
from shared.exports import KEEP
from shared.media import storage

MEDIA_LINK_TTL = timedelta(days=1)
CONTENT_TYPE = "application/x-ndjson"


class ContactRef(BaseModel):
    """agent_api ``contact_export`` and ``contact_erase``: the contact's id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["contact_export", "contact_erase"]
    contactId: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_:.@+-]+$")


def reference(tenant_id: str, contact_id: str) -> str:
    """What the audit log names a contact by: derived from the ids, so whoever knows the contact can
    find its entries, and nothing of the contact can be read from it."""
    return ids.doc_id("contact-ref", tenant_id, contact_id)


def conversations_of(tenant_id: str, contact_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The contact's support conversations, as (id, document)."""
    return store.contact_conversations(tenant_id, contact_id)


def _json(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, default=str, separators=(",", ":")) + "\n").encode()


def _with_links(tenant_id: str, message: dict[str, Any]) -> dict[str, Any]:
    media = store.media_entries(message)
    if not media:
        return message
    linked = []
    for original in media:
        entry = {k: v for k, v in original.items() if k != "providerRef"}
        if entry.get("state") == "stored" and entry.get("path"):
            entry["url"] = storage.signed_download_url(
                str(entry["path"]),
                MEDIA_LINK_TTL,
                content_type=str(entry.get("contentType") or "application/octet-stream"),
                file_name=entry.get("fileName"),
            )
        linked.append(entry)
    return {**message, "content": {**(message.get("content") or {}), "media": linked}}


def export_contact(caller: Caller, contact_id: str) -> dict[str, Any]:
    """Write the contact's file and answer ``{url, expiresAt, fileName, counts}``."""
    require_admin(caller, "exporting a contact's data")
    tenant_id = caller.tenant_id
    contact = store.contact_document(tenant_id, contact_id)
    conversations = conversations_of(tenant_id, contact_id)
    if contact is None and not conversations:
        raise Refused("not_found", "no such contact", 404)
    export_id = uuid.uuid4().hex
    name = "contact.jsonl"
    path = storage.export_path(tenant_id, export_id, name)
    counts = {"conversations": len(conversations), "messages": 0, "notes": 0, "files": 0}
    with storage.open_writer(path, CONTENT_TYPE, file_name=name) as out:
        profile = {k: v for k, v in (contact or {}).items() if k != "terms"}
        out.write(_json({"record": "contact", "contactId": contact_id, **profile}))
        for conversation_id, conversation in conversations:
            out.write(_json({"record": "conversation", "conversationId": conversation_id, **conversation}))
            for message_id, message in store.messages_of(tenant_id, conversation_id):
                kind = "note" if message.get("type") == "note" else "message"
                counts["notes" if kind == "note" else "messages"] += 1
                counts["files"] += len(store.media_entries(message))
                record = {"record": kind, "conversationId": conversation_id, "messageId": message_id}
                out.write(_json({**record, **_with_links(tenant_id, message)}))
    now = int(time.time() * 1000)
    store.create_export_job(
        tenant_id,
        export_id,
        {
            "kind": "contact",
            "format": "jsonl",
            "state": "done",
            "path": path,
            "fileName": name,
            "contactRef": reference(tenant_id, contact_id),
            "count": counts["messages"] + counts["notes"],
            "startedBy": {"id": caller.uid, "name": caller.name or caller.email or caller.uid},
            "createdAtMs": now,
            "updatedAtMs": now,
            "expiresAtMs": now + int(KEEP.total_seconds() * 1000),
        },
    )
    audit.record(
        caller, "contact.export", {"kind": "contact", "id": reference(tenant_id, contact_id)}, details=counts
    )
    url = storage.signed_download_url(path, content_type=CONTENT_TYPE, file_name=name)
    return {
        "exportId": export_id,
        "url": url,
        "expiresAt": storage.expires_at(storage.DOWNLOAD_TTL),
        "fileName": name,
        "counts": counts,
    }


def export_action(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``contact_export``."""
    return export_contact(caller, ContactRef.model_validate(body).contactId)
