"""Agents' replies in support channels opened from an app (conversation channel ``app``).

The chat API's channel has no provider: an agent's reply (send_message -> shared/outbox.compose) is
delivered by being written. compose hands channel ``app`` here instead of queueing a Cloud Task:
the message is stored with status ``sent`` at once and counted into the channel's ``seq`` in the
same batch (so it is unread for the app user: ``seq - lastReadSeq``; no member document is
written), counted in the app's monthly usage (in memory, flushed with the posts; never refused:
support must always be able to answer), and its push queued (one task). The app user reads it
through ``posts`` and through their Firestore listener on the channel's messages. An agent's reply
writes the summary directly (agents reply at a human pace; the app user's own posts may defer it).

Agents' private notes are written as compose writes them elsewhere: no unread, no push, no usage;
the chat API and the rules never show them to app users.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from shared import store
from shared.chat import api, metering
from shared.models.status import STATUS_RANK


def write_agent_reply(
    tenant_id: str, conversation_id: str, message_id: str, document: dict[str, Any], summary: dict[str, Any]
) -> dict[str, Any]:
    """Write an agent's message in an app's support channel; return compose's answer
    {messageId, status, created}. Idempotent: the same client message id writes once. Only support
    channels get here: compose refuses the others (conversations.for_staff)."""
    if document.get("direction") == "note":
        created = store.create_outbound(tenant_id, conversation_id, message_id, document, summary)
        return {"messageId": message_id, "status": document.get("status"), "created": created}
    sender = document.get("sender") or {}
    document = {
        **document,
        "status": "sent",
        "statusRank": STATUS_RANK["sent"],
        "statusHistory": {"sent": datetime.now(UTC)},
        "sentAt": store.server_time(),
        "updatedAt": store.server_time(),
        "likes": 0,
    }
    summary = {
        **summary,
        "lastPost": {
            "id": message_id,
            "type": document.get("type"),
            "text": document.get("text"),
            "userId": sender.get("id"),
            "at": store.server_time(),
        },
        "lastMessageText": document.get("text"),
        "lastActivityAtMs": store.maximum(int(time.time() * 1000)),
    }
    summary.setdefault("seq", store.increment(1))
    month = metering.month_of()
    written, _ = api.publish(
        tenant_id,
        conversation_id,
        message_id,
        document,
        summary,
        poster=None,  # agents are not members: the reply is unread for the app user
    )
    if written is not None:
        metering.counted(tenant_id, month)
        api.notify(
            tenant_id,
            conversation_id,
            {"kind": "support"},
            message_id,
            str(sender.get("id")),
            sender.get("name") or "Support",
            str(document.get("text") or ""),
            written.seq or 0,
        )
    return {"messageId": message_id, "status": "sent", "created": written is not None}
