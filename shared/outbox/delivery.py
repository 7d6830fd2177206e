"""Delivering: one queued message (or signal) becomes one provider call, from a Cloud Task.

:func:`deliver` is the ``deliver`` function's work. It validates the task (:class:`DeliveryTask`; a
malformed one is a :class:`~shared.errors.MalformedTask`, logged as an error and dropped: retrying
cannot fix it), claims the message with an optimistic precondition (a task delivered twice, even
concurrently, calls the provider once), calls the channel adapter and records the provider's id
(applying receipts that raced ahead) or the failure. A message document deliver cannot turn into a
send (a corrupt document) fails permanently, with the reason, and is logged: it is never left
queued. Provider errors map by code (shared/channels): transient ones are retried by Cloud Tasks,
``retry_after`` schedules a new task for then, permanent ones fail the message. Tasks that are no
provider send run other work: ``wake`` (a snoozed conversation), ``summary`` (a hot conversation's
deferred summary) and ``push`` (a chat post's notifications: :func:`shared.chat.push.fan_out`);
``typing`` sends an agent's typing signal, dropped when stale or refused, never retried
(:mod:`shared.outbox.typing`); ``profile`` fetches a customer's name and picture
(:mod:`shared.profiles`).

:func:`enqueue` is the one way work reaches deliver (replies, read receipts, callback answers,
retries at the provider's moment): a task named after what it does, so enqueuing twice is once.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from shared import channels, conversations, ids, inbox, secrets, store, tasks
from shared.config import settings
from shared.errors import MalformedTask, PermanentError, ProviderError, SwitchboardError, TransientError
from shared.models import InboundEvent
from shared.models.outbound import (
    ChannelAccount,
    OutboundMedia,
    OutboundMessage,
    RatingAsk,
    RatingChoice,
    TemplateParameter,
)

log = logging.getLogger(__name__)

CLAIM_SECONDS = 60.0
MEDIA_TYPES = ("image", "audio", "video", "document")


class DeliveryTask(BaseModel):
    """A delivery task's JSON body, as :func:`enqueue` writes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenantId: str
    conversationId: str
    messageId: str | None = None
    action: Literal[
        "send",
        "mark_read",
        "answer_callback",
        "wake",
        "summary",
        "push",
        "fetch_media",
        "typing",
        "profile",
        "export",
        "retention",
        "retention_sweep",
        "notify",
        "reports",
        "auto_reply",
        "csat_ask",
        "csat_thanks",
    ] = "send"
    providerMessageId: str | None = None
    mediaIndex: int | None = None  # fetch_media: which of the message's files (shared/media/fetch.py)
    callbackQueryId: str | None = None
    snoozeUntilMs: int | None = None
    push: dict[str, Any] | None = None  # a chat post's push (shared/chat/push.py)
    typingAtMs: int | None = None  # typing: when the agent typed (shared/outbox/typing.py)
    job: dict[str, Any] | None = None  # export / retention steps (shared/jobs.py)
    notify: dict[str, Any] | None = None  # agent notifications (shared/notifications.py)
    periodStartMs: int | None = None  # auto_reply: the closed period it answers (shared/autoreply.py)
    csat: dict[str, Any] | None = None  # csat_ask {askId}, csat_thanks {askId, score} (shared/csat.py)


def enqueue(
    channel: str,
    tenant_id: str,
    conversation_id: str,
    message_id: str,
    *,
    task_id: str | None = None,
    schedule_at: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> bool:
    """Queue a task for deliver on ``channel``'s queue, named ``task_id`` (the message id by
    default); True if created now, False if a task of that name exists already."""
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
    return enqueue(
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
        uploaded = tuple(
            OutboundMedia(
                path=str(item["path"]),
                content_type=str(item["contentType"]),
                size=int(item["size"]),
                file_name=item.get("fileName"),
            )
            for item in content.get("media") or []
            if isinstance(item, dict) and item.get("path")
        )
        return OutboundMessage(
            type=kind,
            media_url=None if uploaded else content.get("mediaUrl"),
            attachments=uploaded,
            caption=content.get("caption"),
            filename=content.get("filename"),
            **common,
        )
    if kind == "template":
        names = content.get("templateParameterNames") or []  # a NAMED template (shared/templates.py)
        return OutboundMessage(
            type="template",
            template_name=content.get("templateName"),
            template_language=content.get("templateLanguage"),
            template_parameters=tuple(
                TemplateParameter(text=p, name=names[i] if i < len(names) else None)
                for i, p in enumerate(content.get("templateParameters", []))
            ),
            **common,
        )
    if kind == "csat":  # a satisfaction survey (shared/csat.py): the adapter shapes its choices
        return OutboundMessage(
            type="rating",
            text=content["text"],
            rating=RatingAsk(
                choices=tuple(
                    RatingChoice(title=str(option["title"]), payload=str(option["payload"]))
                    for option in content["options"]
                ),
                link=str(content["link"]),
            ),
            metadata=common["metadata"],
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


def _queued_work(task: DeliveryTask, payload: dict[str, Any], retry_count: int) -> str | None:
    """Run a task that is not about one outbound message (a wake-up, a summary fold, a chat push, an
    inbound media fetch); None for the others."""
    if task.action == "wake":
        if task.snoozeUntilMs is None:
            raise MalformedTask("a wake task needs snoozeUntilMs")
        return conversations.wake(task.tenantId, task.conversationId, task.snoozeUntilMs)
    if task.action == "summary":  # a hot conversation's deferred summary
        return inbox.fold_summary(task.tenantId, task.conversationId)
    if task.action == "reports":  # the reports' fold (shared/reports/fold.py)
        from shared.reports import fold as reports_fold

        return reports_fold.fold(task.tenantId)
    if task.action == "push":
        from shared.chat import push  # the chat product, loaded by the tasks that need it

        return push.fan_out(payload, retry_count)  # a chat post's notifications, through FCM
    if task.action == "fetch_media":  # inbound media into Cloud Storage, off the ingest path
        return _fetch_media(task, retry_count)
    if task.action == "profile":  # a customer's name and picture, off the ingest path
        from shared import profiles

        return profiles.fetch(task.tenantId, task.conversationId, retry_count)
    if task.action in ("export", "retention", "retention_sweep"):  # housekeeping jobs (shared/jobs.py)
        from shared import jobs

        return jobs.run(task.action, task.tenantId, task.job)
    if task.action == "notify":  # agents' notifications: feed entries and FCM web push
        from shared import notifications

        return notifications.run(payload)
    if task.action == "auto_reply":  # outside business hours (shared/autoreply.py)
        from shared import autoreply

        if task.periodStartMs is None:
            raise MalformedTask("an auto_reply task needs periodStartMs")
        return autoreply.send(task.tenantId, task.conversationId, task.periodStartMs)
    if task.action in ("csat_ask", "csat_thanks"):  # satisfaction surveys (shared/csat.py)
        return _csat(task)
    return None


def _csat(task: DeliveryTask) -> str:
    from shared import csat

    details = task.csat or {}
    ask = details.get("askId")
    if not isinstance(ask, str) or not ask:
        raise MalformedTask(f"a {task.action} task needs csat.askId")
    if task.action == "csat_ask":
        return csat.send_ask(task.tenantId, task.conversationId, ask)
    score = details.get("score")
    if not isinstance(score, int) or not 1 <= score <= 5:
        raise MalformedTask("a csat_thanks task needs csat.score 1-5")
    return csat.send_thanks(task.tenantId, task.conversationId, ask, score)


def deliver(payload: dict[str, Any], retry_count: int = 0) -> str:
    """Run one delivery task; return what happened. Raises TransientError to make Cloud Tasks retry
    and MalformedTask for a body that is no delivery task (the caller logs it and drops it)."""
    try:
        task = DeliveryTask.model_validate(payload)
    except ValidationError as exc:
        raise MalformedTask(
            f"not a delivery task: {exc.error_count()} problem(s), {exc.errors()[0]['msg']}"
        ) from exc
    done = _queued_work(task, payload, retry_count)
    if done is not None:
        return done
    tenant_id, conversation_id = task.tenantId, task.conversationId
    if task.messageId is None:
        raise MalformedTask(f"a {task.action} task needs messageId")
    message_id = task.messageId
    conversation = store.get_conversation(tenant_id, conversation_id)
    if conversation is None:
        return "no-conversation"
    if task.action == "mark_read":
        if task.providerMessageId is None:
            raise MalformedTask("a mark_read task needs providerMessageId")
        return _deliver_read_receipt(tenant_id, conversation, task.providerMessageId)
    if task.action == "typing":  # fire-and-forget, dropped when stale (shared/outbox/typing.py)
        from shared.outbox.typing import deliver_typing

        return deliver_typing(tenant_id, conversation, task.providerMessageId, task.typingAtMs or 0)
    if task.action == "answer_callback":
        if task.callbackQueryId is None:
            raise MalformedTask("an answer_callback task needs callbackQueryId")
        return _deliver_callback_answer(tenant_id, conversation, task.callbackQueryId)
    # Each delivery attempt claims under its own id: two attempts in one process are still two.
    claim, data = store.claim_delivery(
        tenant_id, conversation_id, message_id, uuid.uuid4().hex, CLAIM_SECONDS
    )
    if claim != "claimed":
        if claim == "busy":
            raise TransientError("another delivery of this message is in flight")
        return claim  # missing / already-sent / failed: nothing to do
    try:
        channel = str(conversation["channel"])
        channel_id, recipient = str(conversation["channelId"]), str(conversation["contactExternalId"])
        outbound = _outbound(data, message_id)
    except (KeyError, ValueError, TypeError, PermanentError) as exc:
        # A document deliver cannot send from: fail the message for everyone to see, never a
        # silent drop that leaves it queued forever.
        reason = f"the message or its conversation is malformed ({type(exc).__name__}: {exc})"
        log.error(
            "malformed message document", extra={"fields": {"message_id": message_id, "reason": reason}}
        )
        _fail(tenant_id, conversation_id, message_id, {"code": "malformed_message", "reason": reason})
        return "failed"
    try:
        account = account_for(tenant_id, channel_id)
        result = channels.adapter(channel).send(
            account, recipient, outbound, timeout=settings().provider_timeout_seconds
        )
    except ProviderError as exc:
        return _provider_failed(exc, tenant_id, conversation, conversation_id, message_id, retry_count)
    except SwitchboardError as exc:
        if exc.transient:
            store.release_delivery(tenant_id, conversation_id, message_id)
            raise
        log.error(
            "delivery failed", extra={"fields": {"message_id": message_id, "error": type(exc).__name__}}
        )
        _fail(tenant_id, conversation_id, message_id, {"code": "internal", "reason": str(exc)})
        return "failed"
    if result.provider_message_id:
        inbox.record_send(tenant_id, conversation_id, message_id, result.provider_message_id)
    else:
        store.advance_status(tenant_id, conversation_id, message_id, "sent", None)
    return "sent"


def _fetch_media(task: DeliveryTask, retry_count: int) -> str:
    """A ``fetch_media`` task: one inbound file into Cloud Storage (shared/media/fetch.py)."""
    from shared.media import fetch

    if task.mediaIndex is None or task.messageId is None:
        raise MalformedTask("a fetch_media task needs messageId and mediaIndex")
    return fetch.fetch(task.tenantId, task.conversationId, task.messageId, task.mediaIndex, retry_count)


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
            enqueue(
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
