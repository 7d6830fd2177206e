"""A message's media in Firestore: ``content.media[]`` of
``tenants/{t}/conversations/{c}/messages/{m}``, one entry per file the message carries::

    {"state": "pending" | "stored" | "failed", "providerRef": {...}, "path", "contentType", "size",
     "fileName", "width", "height", "durationSeconds", "thumbnailPath", "reason" (failed only)}

Ingest writes the pending entries with the message itself (no extra write); the fetch (deliver's
``fetch_media``) replaces one entry when it is done. Several fetches of one message run at once
(Twilio carries up to 10 files), so an entry is replaced by read, change, and update under an
``update_time`` precondition, never a transaction; a stored entry is never turned back.
"""

from __future__ import annotations

from typing import Any

from shared.errors import TransientError
from shared.store._client import PRECONDITION_RETRIES, _rpc, client, message_ref

MEDIA_STATES = ("pending", "failed", "stored")  # forward only: a retried fetch never undoes a store


def message_media(tenant_id: str, conversation_id: str, message_id: str) -> dict[str, Any] | None:
    """The message document (None when it does not exist)."""
    snapshot = message_ref(tenant_id, conversation_id, message_id).get(**_rpc())
    return snapshot.to_dict() if snapshot.exists else None


def media_entries(message: dict[str, Any] | None) -> list[dict[str, Any]]:
    """``content.media`` of a message document, as a list (empty when it carries none)."""
    media = ((message or {}).get("content") or {}).get("media")
    return [entry for entry in media if isinstance(entry, dict)] if isinstance(media, list) else []


def set_media_entry(
    tenant_id: str, conversation_id: str, message_id: str, index: int, entry: dict[str, Any]
) -> bool:
    """Replace ``content.media[index]`` with ``entry``; False when the message or the entry does not
    exist, or when the entry is already stored (a fetch that ran twice). Raises TransientError when
    other writes keep racing it."""
    from google.api_core.exceptions import FailedPrecondition, NotFound

    ref = message_ref(tenant_id, conversation_id, message_id)
    for _ in range(PRECONDITION_RETRIES * 2):
        snapshot = ref.get(**_rpc())
        if not snapshot.exists:
            return False
        media = media_entries(snapshot.to_dict())
        if not 0 <= index < len(media):
            return False
        current = media[index]
        if current.get("state") == "stored" or current == entry:
            return False
        media[index] = entry
        try:
            ref.update(
                {"content.media": media},
                option=client().write_option(last_update_time=snapshot.update_time),
                **_rpc(),
            )
        except FailedPrecondition:
            continue
        except NotFound:
            return False
        return True
    raise TransientError(f"media of message {message_id} kept changing under us")
