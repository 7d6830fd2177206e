"""Composing an agent's reply: the request, the channel's rules, the reply window, the write.

- :func:`compose` (``send_message``): validates the request against what the channel can send
  (its adapter's ``capabilities``), checks the reply window *before* anything is queued, writes the
  message under an id derived from the client's message id (a double click writes one message) and
  enqueues the delivery task named after it (a retry enqueues nothing new).
- :func:`mark_read`: the agent opened the conversation: unread to zero, and a read receipt for the
  customer's last message where the channel sends them (``capabilities.read_receipts``: WhatsApp's
  blue ticks).

What a channel allows (templates, reactions, media, its reply window) is its adapter's
``capabilities`` (shared/channels/base.py); this module never names a provider.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared import channels, conversations, ids, search, store
from shared.auth import Caller
from shared.errors import Refused
from shared.outbox.attachments import Upload, check_uploads
from shared.outbox.delivery import MEDIA_TYPES, enqueue
from shared.reports import fold as reports_fold

# --- the request -----------------------------------------------------------------------------------

log = logging.getLogger(__name__)

MAX_TEXT_FIELD = 65_536  # what the body may carry; each channel takes less (check_text_length)
NOTE_MAX_LENGTH = 4096  # a private note (never sent to a provider)


class ComposeAttachment(BaseModel):
    """A file the agent uploaded through ``uploadUrl``: its object path and what the browser knew of
    it. Only the path is trusted, and only once it is checked (shared/outbox/attachments.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(min_length=1, max_length=1024)
    fileName: str | None = Field(default=None, max_length=240)
    contentType: str | None = Field(default=None, max_length=255)
    size: int | None = Field(default=None, ge=0)


class ComposeMessage(BaseModel):
    """What an agent sends (the JSON body's ``message``). A media message carries either
    ``mediaUrl`` (a public URL the provider fetches) or ``attachments`` (uploaded files); its
    ``caption`` (or ``text``) goes with it where the provider allows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["text", "image", "audio", "video", "document", "template", "reaction", "note"]
    # The channel's own limit (capabilities.max_text_length) is checked after parsing, so that a
    # long reply is refused with ``text_too_long`` naming it, not as an invalid body.
    text: str | None = Field(default=None, max_length=MAX_TEXT_FIELD)
    mediaUrl: str | None = Field(default=None, max_length=2048)
    caption: str | None = Field(default=None, max_length=1024)
    filename: str | None = Field(default=None, max_length=240)
    templateName: str | None = Field(default=None, max_length=512)
    templateLanguage: str | None = Field(default=None, max_length=16)
    templateParameters: list[str] = Field(default_factory=list, max_length=20)
    emoji: str | None = Field(default=None, max_length=16)
    replyTo: str | None = Field(default=None, max_length=64, description="Message id quoted or reacted to.")
    attachments: list[ComposeAttachment] = Field(default_factory=list, max_length=10)

    @field_validator("mediaUrl")
    @classmethod
    def _https_only(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://", value):
            raise ValueError("mediaUrl must be an http(s) URL the provider can fetch")
        return value


class ComposeRequest(BaseModel):
    """The body of ``send_message``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    conversationId: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    clientMessageId: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    message: ComposeMessage
    useHumanAgentTag: bool = False


def check_text_length(message: ComposeMessage, channel: str) -> None:
    """Refuse a text (or note) longer than the channel takes, naming the limit (code
    ``text_too_long``, 422). Lengths are in Unicode code points, as the dashboard's counter."""
    if message.type not in ("text", "note") or not message.text:
        return
    limit = NOTE_MAX_LENGTH if message.type == "note" else channels.capabilities(channel).max_text_length
    length = len(message.text)
    if length > limit:
        what = "A note" if message.type == "note" else "A message on this channel"
        raise Refused(
            "text_too_long",
            f"{what} can be at most {limit} characters long; this one has {length}.",
            422,
        )


def _require(condition: object, code: str, message: str) -> None:
    if not condition:
        raise Refused(code, message, 422)


def _validate_shape(message: ComposeMessage, channel: str) -> None:
    can = channels.capabilities(channel)
    if message.type in ("text", "note"):
        _require(message.text and message.text.strip(), "text_required", "a text message needs text")
        check_text_length(message, channel)
    elif message.type in MEDIA_TYPES:
        _require(message.type in can.media, "media_not_supported", f"{channel} cannot send {message.type}")
        _require(
            bool(message.mediaUrl) != bool(message.attachments),
            "media_url_required",
            f"an {message.type} needs mediaUrl or attachments (one of them)",
        )
    if message.attachments and message.type not in MEDIA_TYPES:
        raise Refused(
            "attachments_need_media_type", "attachments go with an image, audio, video or document", 422
        )
    if message.type == "template":
        _require(can.templates, "template_not_supported", f"{channel} has no templates")
        _require(
            message.templateName and message.templateLanguage,
            "template_required",
            "a template needs templateName and templateLanguage",
        )
    elif message.type == "reaction":
        _require(can.reactions, "reaction_not_supported", f"{channel} cannot send reactions")
        _require(message.replyTo, "reply_to_required", "a reaction needs replyTo (the message reacted to)")
        _require(message.emoji is not None, "emoji_required", "a reaction needs emoji ('' removes it)")


# --- reply windows -------------------------------------------------------------------------------


def reply_window(conversation: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """Whether the business may reply now, and how: {open, needs, expiresAtMs, tagExpiresAtMs}."""
    window = conversation.get("replyWindow") or {}
    expires = int(window.get("expiresAtMs") or 0)
    tag_expires = int(window.get("tagExpiresAtMs") or 0)
    return {
        "open": now_ms < expires,
        "needs": window.get("needs"),
        "expiresAtMs": expires,
        "tagExpiresAtMs": tag_expires,
        "tagOpen": now_ms < tag_expires,
    }


def _check_window(conversation: dict[str, Any], request: ComposeRequest) -> str | None:
    """Raise Refused if the window forbids this message; return the Meta tag to send with."""
    message = request.message
    if message.type in ("note", "reaction"):
        return None
    window = reply_window(conversation, int(time.time() * 1000))
    if window["open"] or window["needs"] is None:
        return None
    if window["needs"] == "template":
        _require(
            message.type == "template",
            "window_closed_template_required",
            "The 24-hour WhatsApp window is closed: only an approved template can be sent.",
        )
        return None
    # Messenger / Instagram: after 24 h, the HUMAN_AGENT tag allows replies up to 7 days.
    _require(
        window["tagOpen"],
        "window_closed",
        "More than 7 days since the customer's last message: replies are no longer allowed.",
    )
    _require(
        request.useHumanAgentTag,
        "window_closed_tag_required",
        "The 24-hour window is closed: send with the Human Agent tag (allowed up to 7 days).",
    )
    return "HUMAN_AGENT"


# --- compose ---------------------------------------------------------------------------------------


def _content(message: ComposeMessage) -> dict[str, Any]:
    content = message.model_dump(exclude_none=True, exclude={"replyTo", "attachments"})
    if not content.get("templateParameters"):
        content.pop("templateParameters", None)
    return content


def compose(caller: Caller, request: ComposeRequest) -> dict[str, Any]:
    """Queue an agent's message; return {messageId, status}. Idempotent on ``clientMessageId``."""
    conversation = conversations.for_staff(caller, request.conversationId)
    channel = str(conversation.get("channel"))
    message = request.message
    _validate_shape(message, channel)
    parameter_names: list[str] = []
    if message.type == "template":  # exists, approved, its parameter count (shared/templates.py)
        from shared import templates

        parameter_names = templates.check_send(
            caller.tenant_id,
            conversation,
            message.templateName or "",
            message.templateLanguage or "",
            message.templateParameters,
        )
    tag = _check_window(conversation, request)
    media: list[dict[str, Any]] = []
    read: list[bytes] = []
    if message.attachments:
        # Checked before anything is written or queued: ownership, sniffed type, provider limits.
        send_type, media = check_uploads(
            caller.tenant_id,
            caller.uid,
            channel,
            message.type,
            [Upload(a.path, a.fileName, a.contentType, a.size) for a in message.attachments],
            read,
        )
        if message.text and not message.caption:
            message = message.model_copy(update={"caption": message.text, "text": None})
        message = message.model_copy(update={"type": send_type})
    reply_to_provider = None
    if message.replyTo:
        target = store.get_message(caller.tenant_id, request.conversationId, message.replyTo)
        _require(target is not None, "reply_to_not_found", "the message replied to does not exist")
        reply_to_provider = (target.data if target else {}).get("providerMessageId")
        _require(
            reply_to_provider or message.type != "reaction",
            "reply_to_not_sent",
            "that message has no provider id yet",
        )

    message_id = ids.outbound_message_id(request.conversationId, request.clientMessageId)
    if media:
        # The message keeps its own copy of each upload (uploads/ expires), with a thumbnail or a
        # video's poster; the same id on a retry copies to the same place.
        from shared.media import storage, uploads

        media = uploads.keep_all(
            media,
            lambda index, entry: storage.inbound_path(
                caller.tenant_id, request.conversationId, message_id, index, entry.get("fileName")
            ),
            read,
        )
    now = datetime.now(UTC)
    is_note = message.type == "note"
    status = "note" if is_note else "queued"
    content = _content(message)
    if parameter_names:
        content["templateParameterNames"] = parameter_names
    if media:
        content["media"] = media
    document: dict[str, Any] = {
        "direction": "note" if is_note else "out",
        "type": message.type,
        "content": content,
        "text": message.text
        or message.caption
        or (media[0]["fileName"] if media and message.type == "document" else None)
        or (f"[{message.type}]" if message.type != "reaction" else message.emoji),
        "sender": {"kind": "agent", "id": caller.uid, "name": caller.name or caller.email},
        "channel": channel,
        "channelId": conversation.get("channelId"),
        "clientMessageId": request.clientMessageId,
        "replyTo": message.replyTo,
        "replyToProviderId": reply_to_provider,
        "tag": tag,
        "status": status,
        "statusRank": None if is_note else 0,
        "statusHistory": {status: now},
        "sentAt": now,
        "createdAt": store.server_time(),
        "reportAt": store.server_time(),  # the reports' fold reads messages in this order
    }
    mentions = _mentions(caller, message.text) if is_note else []
    document.update({"mentions": mentions} if mentions else {})  # agents' uids (@name in a note)
    # Search and the timeline (shared/search/): in the message's own create, no extra write.
    document.update(
        search.message_fields(caller.tenant_id, request.conversationId, int(now.timestamp() * 1000), document)
    )
    if channel == "app":
        # A support channel opened from an app (the chat API) has no provider: writing the reply
        # delivers it, so it is "sent" at once and no Cloud Task is enqueued; shared/chat/support.py
        # also counts it unread for the app user and pushes it to their devices.
        from shared.chat import support

        summary = _summary(message, message_id, document, now)
        return support.write_agent_reply(
            caller.tenant_id, request.conversationId, message_id, document, summary
        )
    created = store.create_outbound(
        caller.tenant_id,
        request.conversationId,
        message_id,
        document,
        _summary(message, message_id, document, now),
    )
    if message.type == "reaction" and created and message.replyTo:
        store.update_message(
            caller.tenant_id,
            request.conversationId,
            message.replyTo,
            {"reactions.business": message.emoji or store.delete_field()},
        )
    if not is_note:
        enqueue(channel, caller.tenant_id, request.conversationId, message_id)
        reports_fold.schedule_quietly(caller.tenant_id)  # the reports count the reply
    elif mentions and created:
        _notify_mentioned(caller, request.conversationId, message_id, mentions)
    return {
        "messageId": message_id,
        "status": status,
        "created": created,
        **({"mentions": mentions} if mentions else {}),
    }


def _notify_mentioned(caller: Caller, conversation_id: str, message_id: str, mentioned: list[str]) -> None:
    """Queue the notification of the agents a stored note mentions (never fails the note)."""
    from shared import notifications

    try:
        notifications.after_note(caller, conversation_id, message_id, mentioned)
    except Exception as exc:  # noqa: BLE001 - the note is written; only its notification is lost
        log.error("mention notification not queued", extra={"fields": {"error": type(exc).__name__}})


def _mentions(caller: Caller, text: str | None) -> list[str]:
    """The agents a note mentions (read the tenant's agents only when the note has an ``@``)."""
    if not text or "@" not in text:
        return []
    from shared import mentions

    return mentions.mentioned(text, store.tenant_agents(caller.tenant_id))


def _summary(message: ComposeMessage, message_id: str, document: dict[str, Any], now: datetime) -> dict:
    if message.type == "reaction":
        return {"updatedAt": store.server_time()}
    return {
        "lastMessage": {
            "id": message_id,
            "type": message.type,
            "text": document["text"],
            "direction": document["direction"],
            "at": now,
        },
        "lastActivityAt": now,
        "lastActivityAtMs": store.maximum(int(now.timestamp() * 1000)),
        "messageCount": store.increment(1),
        "updatedAt": store.server_time(),
    }


def mark_read(caller: Caller, conversation_id: str) -> dict[str, Any]:
    """The agent read the conversation: unread to 0; where the channel sends read receipts
    (WhatsApp's blue ticks), one for the customer's last message."""
    conversation = conversations.for_staff(caller, conversation_id)
    if conversation.get("unreadCount"):
        # Only when there is something to clear: the conversation is a hot document while a customer
        # types, and the dashboard calls this repeatedly on an open conversation.
        store.update_conversation(
            caller.tenant_id,
            conversation_id,
            {"unreadCount": 0, "lastReadAt": store.server_time(), "lastReadBy": caller.uid},
        )
    last = conversation.get("lastInbound") or {}
    channel = str(conversation.get("channel"))
    queued = False
    if channels.capabilities(channel).read_receipts and last.get("providerMessageId"):
        # A task per customer message read: named, so opening the conversation twice sends one receipt.
        queued = enqueue(
            channel,
            caller.tenant_id,
            conversation_id,
            last["messageId"],
            task_id=ids.doc_id("read", conversation_id, last["providerMessageId"]),
            extra={"action": "mark_read", "providerMessageId": last["providerMessageId"]},
        )
    return {"conversationId": conversation_id, "unreadCount": 0, "readReceiptQueued": queued}
