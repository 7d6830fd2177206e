"""Typing and read state to the customer: an agent typing in a conversation becomes the provider's
typing signal (Messenger/Instagram ``sender_action: typing_on``, WhatsApp's typing indicator on a
read receipt of the customer's last message, Telegram ``sendChatAction typing``), where the
channel's adapter declares ``capabilities.typing``.

A typing signal is worth something for a few seconds only, so it is fire-and-forget and cheap:

- **At most one per conversation every** :data:`TYPING_INTERVAL_SECONDS`, server-side: the Cloud
  Task is named after the conversation and the current 5-second slot, and Cloud Tasks refuses a
  second task of that name (the browser throttles too, but a busy agent or two agents typing in
  one conversation never send more). Providers show the indicator for 5 (Telegram) to 25
  (WhatsApp) seconds, so one signal per 5 seconds keeps it on while the agent types.
- **Never retried, never late**: deliver drops a signal older than :data:`TYPING_MAX_AGE_MS`
  (a queue backlog) and answers any provider error, transient or not, with ``typing-dropped``.
- **Never blocks the agent**: ``agent_api`` answers once the task is queued; the dashboard does
  not wait for the answer.

Opening a conversation sends the read state (``mark_read``: WhatsApp blue ticks, Messenger and
Instagram ``mark_seen``) through :func:`shared.outbox.replies.mark_read`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from shared import channels, conversations, ids
from shared.auth import Caller
from shared.errors import SwitchboardError

log = logging.getLogger(__name__)

TYPING_INTERVAL_SECONDS = 5
TYPING_MAX_AGE_MS = 5_000


def typing_slot(now_ms: int) -> int:
    """The 5-second slot ``now_ms`` falls in: one typing signal per conversation per slot."""
    return now_ms // (TYPING_INTERVAL_SECONDS * 1000)


def signal_typing(caller: Caller, conversation_id: str) -> dict[str, Any]:
    """The agent is typing in ``conversation_id``: queue the provider's typing signal unless one
    was queued for this conversation in the current slot. Answers ``{typing: queued | throttled |
    unsupported}``."""
    from shared.outbox.delivery import enqueue

    conversation = conversations.for_staff(caller, conversation_id)
    channel = str(conversation.get("channel"))
    if channel == "app" or not channels.capabilities(channel).typing:
        return {"conversationId": conversation_id, "typing": "unsupported"}
    now_ms = int(time.time() * 1000)
    last = conversation.get("lastInbound") or {}
    queued = enqueue(
        channel,
        caller.tenant_id,
        conversation_id,
        str(last.get("messageId") or "typing"),
        task_id=ids.doc_id("typing", conversation_id, str(typing_slot(now_ms))),
        extra={
            "action": "typing",
            "providerMessageId": last.get("providerMessageId"),
            "typingAtMs": now_ms,
        },
    )
    return {"conversationId": conversation_id, "typing": "queued" if queued else "throttled"}


def deliver_typing(
    tenant_id: str, conversation: dict[str, Any], provider_message_id: str | None, typing_at_ms: int
) -> str:
    """deliver's half: send the signal unless it is stale; never raise for a retry."""
    from shared.config import settings
    from shared.models.outbound import OutboundMessage
    from shared.outbox.delivery import account_for

    age_ms = int(time.time() * 1000) - typing_at_ms
    if age_ms > TYPING_MAX_AGE_MS:
        return "typing-stale"
    try:
        account = account_for(tenant_id, str(conversation["channelId"]))
        channels.adapter(str(conversation["channel"])).send(
            account,
            str(conversation["contactExternalId"]),
            OutboundMessage(type="typing", reply_to=provider_message_id),
            # A signal that takes long is worthless: never wait the full provider timeout.
            timeout=min(settings().provider_timeout_seconds, TYPING_MAX_AGE_MS / 1000),
        )
    except (SwitchboardError, KeyError) as exc:
        log.info(
            "typing signal dropped",
            extra={"fields": {"channel": conversation.get("channel"), "error": type(exc).__name__}},
        )
        return "typing-dropped"
    return "typing-sent"
