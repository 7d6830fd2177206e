"""Sending: an agent's reply becomes a queued message, then a named Cloud Task, then one provider call.

- :func:`compose` (``send_message``): validates the request, checks the reply window *before*
  anything is queued, writes the message under an id derived from the client's message id (a double
  click writes one message) and enqueues the task named after it (a retry enqueues nothing new).
- :func:`deliver` (``deliver``, the task's target): claims the message with an optimistic
  precondition (a task delivered twice, even concurrently, calls the provider once), calls the
  channel adapter, records the provider's id (applying receipts that raced ahead) or the failure.
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
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared import channels, conversations, ids, inbox, secrets, store, tasks
from shared.auth import Caller, Forbidden
from shared.config import settings
from shared.errors import PermanentError, ProviderError, TransientError
from shared.models import InboundEvent
from shared.models.outbound import ChannelAccount, OutboundMessage, TemplateParameter

log = logging.getLogger(__name__)

CLAIM_SECONDS = 60.0
MEDIA_TYPES = ("image", "audio", "video", "document")


class RequestError(PermanentError):
    """A send request the dashboard must show back: ``code`` is machine-readable."""

    def __init__(self, code: str, message: str, http_status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status


# --- the request -----------------------------------------------------------------------------------


class ComposeMessage(BaseModel):
    """What an agent sends (the JSON body's ``message``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["text", "image", "audio", "video", "document", "template", "reaction", "note"]
    text: str | None = Field(default=None, max_length=4096)
    mediaUrl: str | None = Field(default=None, max_length=2048)
    caption: str | None = Field(default=None, max_length=1024)
    filename: str | None = Field(default=None, max_length=240)
    templateName: str | None = Field(default=None, max_length=512)
    templateLanguage: str | None = Field(default=None, max_length=16)
    templateParameters: list[str] = Field(default_factory=list, max_length=20)
    emoji: str | None = Field(default=None, max_length=16)
    replyTo: str | None = Field(default=None, max_length=64, description="Message id quoted or reacted to.")

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


def _require(condition: object, code: str, message: str) -> None:
    if not condition:
        raise RequestError(code, message)


def _validate_shape(message: ComposeMessage, channel: str) -> None:
    can = channels.capabilities(channel)
    if message.type in ("text", "note"):
        _require(message.text and message.text.strip(), "text_required", "a text message needs text")
    elif message.type in MEDIA_TYPES:
        _require(message.type in can.media, "media_not_supported", f"{channel} cannot send {message.type}")
        _require(message.mediaUrl, "media_url_required", f"an {message.type} needs mediaUrl")
    elif message.type == "template":
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
    """Raise RequestError if the window forbids this message; return the Meta tag to send with."""
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
    content = message.model_dump(exclude_none=True, exclude={"replyTo"})
    if not content.get("templateParameters"):
        content.pop("templateParameters", None)
    return content


def compose(caller: Caller, request: ComposeRequest) -> dict[str, Any]:
    """Queue an agent's message; return {messageId, status}. Idempotent on ``clientMessageId``."""
    conversation = conversations.for_staff(caller, request.conversationId)
    channel = str(conversation.get("channel"))
    message = request.message
    _validate_shape(message, channel)
    tag = _check_window(conversation, request)
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
    now = datetime.now(UTC)
    is_note = message.type == "note"
    status = "note" if is_note else "queued"
    document: dict[str, Any] = {
        "direction": "note" if is_note else "out",
        "type": message.type,
        "content": _content(message),
        "text": message.text
        or message.caption
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
    }
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
        _enqueue(channel, caller.tenant_id, request.conversationId, message_id)
    return {"messageId": message_id, "status": status, "created": created}


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


def _enqueue(
    channel: str,
    tenant_id: str,
    conversation_id: str,
    message_id: str,
    *,
    task_id: str | None = None,
    schedule_at: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> bool:
    deliver_url = settings().deliver_url
    if not deliver_url:
        raise TransientError("SWITCHBOARD_DELIVER_URL is not configured")
    payload = {
        "tenantId": tenant_id,
        "conversationId": conversation_id,
        "messageId": message_id,
        **(extra or {}),
    }
    return tasks.enqueue(tasks.queue_name(channel), task_id or message_id, deliver_url, payload, schedule_at)


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
        queued = _enqueue(
            channel,
            caller.tenant_id,
            conversation_id,
            last["messageId"],
            task_id=ids.doc_id("read", conversation_id, last["providerMessageId"]),
            extra={"action": "mark_read", "providerMessageId": last["providerMessageId"]},
        )
    return {"conversationId": conversation_id, "unreadCount": 0, "readReceiptQueued": queued}


def answer_callback(event: InboundEvent, query_id: str, outcome: inbox.Outcome) -> bool:
    """Queue the answer to a button press (a Telegram callback query, ``query_id``) that ingest has
    stored (``outcome``) for deliver, which alone holds bot tokens; the channel adapter's
    ``after_ingest`` calls it. Named after the query, so a redelivered press queues it once.
    True if queued now."""
    if outcome.tenant_id is None or outcome.conversation_id is None or outcome.message_id is None:
        return False
    if not settings().deliver_url:
        # A stack without deliver (some local benchmarks) cannot answer; production always has it.
        log.warning(
            "no deliver URL: a callback query is left unanswered",
            extra={"fields": {"channel": event.channel}},
        )
        return False
    return _enqueue(
        event.channel,
        outcome.tenant_id,
        outcome.conversation_id,
        outcome.message_id,
        task_id=ids.doc_id("callback", event.account_id, query_id),
        extra={"action": "answer_callback", "callbackQueryId": query_id},
    )


# --- deliver ---------------------------------------------------------------------------------------


def _outbound(data: dict[str, Any], message_id: str) -> OutboundMessage:
    content = data.get("content") or {}
    kind = data["type"]
    common: dict[str, Any] = {
        "reply_to": data.get("replyToProviderId"),
        "tag": data.get("tag"),
        "metadata": f"{inbox.ECHO_METADATA_PREFIX}{message_id}",
    }
    if kind == "text":
        return OutboundMessage(type="text", text=content.get("text"), **common)
    if kind in MEDIA_TYPES:
        return OutboundMessage(
            type=kind,
            media_url=content.get("mediaUrl"),
            caption=content.get("caption"),
            filename=content.get("filename"),
            **common,
        )
    if kind == "template":
        return OutboundMessage(
            type="template",
            template_name=content.get("templateName"),
            template_language=content.get("templateLanguage"),
            template_parameters=tuple(
                TemplateParameter(text=p) for p in content.get("templateParameters", [])
            ),
            **common,
        )
    if kind == "reaction":
        return OutboundMessage(
            type="reaction",
            emoji=content.get("emoji") or "",
            reply_to=data.get("replyToProviderId"),
            metadata=common["metadata"],
        )
    raise PermanentError(f"messages of type {kind} are not delivered")


def account_for(tenant_id: str, channel_id: str) -> ChannelAccount:
    """The channel's API identity, built by its adapter from the channel's document and its token
    from Secret Manager."""
    channel = store.get_channel(tenant_id, channel_id)
    if channel is None:
        raise PermanentError(f"channel {channel_id} does not exist")
    token = secrets.secret(secrets.channel_token_name(tenant_id, channel_id))
    return channels.adapter(str(channel["kind"])).account(channel, token)


def deliver(payload: dict[str, Any], retry_count: int = 0) -> str:
    """Run one delivery task; return what happened. Raises TransientError to make Cloud Tasks retry."""
    tenant_id, conversation_id = payload["tenantId"], payload["conversationId"]
    if payload.get("action") == "wake":
        return conversations.wake(tenant_id, conversation_id, int(payload["snoozeUntilMs"]))
    message_id = payload["messageId"]
    conversation = store.get_conversation(tenant_id, conversation_id)
    if conversation is None:
        return "no-conversation"
    if payload.get("action") == "mark_read":
        return _deliver_read_receipt(tenant_id, conversation, payload["providerMessageId"])
    if payload.get("action") == "answer_callback":
        return _deliver_callback_answer(tenant_id, conversation, payload["callbackQueryId"])
    # Each delivery attempt claims under its own id: two attempts in one process are still two.
    claim, data = store.claim_delivery(
        tenant_id, conversation_id, message_id, uuid.uuid4().hex, CLAIM_SECONDS
    )
    if claim != "claimed":
        if claim == "busy":
            raise TransientError("another delivery of this message is in flight")
        return claim  # missing / already-sent / failed: nothing to do
    channel = str(conversation["channel"])
    try:
        account = account_for(tenant_id, str(conversation["channelId"]))
        adapter = channels.adapter(channel)
        result = adapter.send(
            account,
            str(conversation["contactExternalId"]),
            _outbound(data, message_id),
            timeout=settings().provider_timeout_seconds,
        )
    except ProviderError as exc:
        return _provider_failed(exc, tenant_id, conversation, conversation_id, message_id, retry_count)
    except TransientError:
        store.release_delivery(tenant_id, conversation_id, message_id)
        raise
    except PermanentError as exc:
        _fail(tenant_id, conversation_id, message_id, {"code": "internal", "reason": str(exc)})
        return "failed"
    if result.provider_message_id:
        inbox.record_send(tenant_id, conversation_id, message_id, result.provider_message_id)
    else:
        store.advance_status(tenant_id, conversation_id, message_id, "sent", None)
    return "sent"


def _provider_failed(
    exc: ProviderError,
    tenant_id: str,
    conversation: dict[str, Any],
    conversation_id: str,
    message_id: str,
    retry_count: int,
) -> str:
    log.warning(
        "provider refused a send",
        extra={
            "fields": {
                "channel": exc.channel,
                "code": exc.code,
                "transient": exc.transient,
                "message_id": message_id,
            }
        },
    )
    if exc.health:
        log.warning(
            "channel unhealthy",
            extra={
                "fields": {
                    "event": "channel_unhealthy",
                    "channel": exc.channel,
                    "code": exc.code,
                    "problem": exc.health,
                }
            },
        )
        store.update_channel_health(
            tenant_id,
            str(conversation["channelId"]),
            {
                "lastError": {
                    "code": exc.code,
                    "reason": exc.reason(),
                    "kind": exc.health,
                    "at": datetime.now(UTC),
                }
            },
        )
    if exc.transient:
        store.release_delivery(tenant_id, conversation_id, message_id)
        if exc.retry_after:
            # The provider named the moment to come back (Telegram retry_after): a new task for then.
            _enqueue(
                exc.channel,
                tenant_id,
                conversation_id,
                message_id,
                task_id=f"{message_id}-r{retry_count + 1}-{int(time.time())}",
                schedule_at=datetime.now(UTC) + timedelta(seconds=exc.retry_after),
            )
            return "rescheduled"
        raise TransientError(f"{exc.channel} error {exc.code}: retry") from exc
    _fail(
        tenant_id,
        conversation_id,
        message_id,
        {
            "code": exc.code,
            "reason": exc.reason(),
            "detail": exc.detail,
            "httpStatus": exc.provider_http_status,
        },
    )
    return "failed"


def _fail(tenant_id: str, conversation_id: str, message_id: str, error: dict[str, Any]) -> None:
    store.advance_status(
        tenant_id,
        conversation_id,
        message_id,
        "failed",
        None,
        {"error": {k: v for k, v in error.items() if v is not None}},
    )


def _deliver_read_receipt(tenant_id: str, conversation: dict[str, Any], provider_message_id: str) -> str:
    receipt = OutboundMessage(type="mark_read", reply_to=provider_message_id)
    return _deliver_signal(tenant_id, conversation, receipt, "read-receipt")


def _deliver_callback_answer(tenant_id: str, conversation: dict[str, Any], query_id: str) -> str:
    # Refused means too old or unknown: Telegram has stopped the spinner itself by then.
    answer = OutboundMessage(type="answer_callback", reply_to=query_id)
    return _deliver_signal(tenant_id, conversation, answer, "callback-answer")


def _deliver_signal(tenant_id: str, conversation: dict[str, Any], signal: OutboundMessage, name: str) -> str:
    """Send something that is not a message (a read receipt, a callback answer): retried while the
    provider's error is transient, otherwise done; ``<name>-sent`` or ``<name>-refused``."""
    account = account_for(tenant_id, str(conversation["channelId"]))
    try:
        channels.adapter(str(conversation["channel"])).send(
            account,
            str(conversation["contactExternalId"]),
            signal,
            timeout=settings().provider_timeout_seconds,
        )
    except ProviderError as exc:
        if exc.transient:
            raise TransientError(f"{name}: {exc.code}") from exc
        return f"{name}-refused"
    return f"{name}-sent"


def check_caller_tenant(caller: Caller, tenant_id: str) -> None:
    """Refuse a caller acting on another tenant's data."""
    if caller.tenant_id != tenant_id:
        raise Forbidden("that belongs to another tenant")
