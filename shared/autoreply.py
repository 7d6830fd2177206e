"""The auto-reply outside business hours (issue 18, part 5): a configurable message sent once per
conversation per closed period, through the ordinary outbound path.

- Ingest calls :func:`after_inbound` once a customer's message is stored (never for a duplicate or
  an echo). It reads the tenant's settings from a per-instance cache (one read per tenant per
  :data:`SETTINGS_SECONDS`), so a message during business hours costs no write and no task. Outside
  them it queues one Cloud Task on ``timers`` named after (tenant, conversation, start of the closed
  period): every message of that period names the same task, and an instance remembers what it
  queued, so the task is created once. Nothing here ever raises into ingest: a failure is logged
  and the customer's message is already stored.
- deliver runs the task (action ``auto_reply``, :func:`send`): it reads the settings afresh, checks
  the period is still closed and the auto-reply still on, and creates the outbound message with an
  id derived from the period (``create``: a second task for the same period writes nothing), from
  the sender ``{"kind": "system"}``, then queues it for the channel like any reply: retried by
  Cloud Tasks, shown in the thread as an outbound message with its delivery status.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import ids, store, workspace

log = logging.getLogger(__name__)

SETTINGS_SECONDS = 30.0  # how long an instance trusts the tenant settings it read
QUEUE = "timers"  # topology.json queues.timers (ingest may enqueue there: infra/main.tf task_enqueuers)
REMEMBERED = 10_000  # (conversation, period) pairs an instance remembers having queued
STALE_AFTER = timedelta(minutes=15)  # messages older than this when ingested get no auto-reply
SENDER = {"kind": "system", "id": "auto-reply", "name": "Auto-reply"}

_lock = threading.Lock()
_settings_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_queued: OrderedDict[tuple[str, str, int], None] = OrderedDict()


def forget() -> None:
    """Drop the caches (tests)."""
    with _lock:
        _settings_cache.clear()
        _queued.clear()


def _settings(tenant_id: str) -> dict[str, Any]:
    now = time.monotonic()
    with _lock:
        cached = _settings_cache.get(tenant_id)
    if cached is not None and now - cached[0] < SETTINGS_SECONDS:
        return cached[1]
    settings = store.get_workspace_settings(tenant_id) or {}
    with _lock:
        _settings_cache[tenant_id] = (now, settings)
    return settings


def wanted(settings: dict[str, Any], at: datetime) -> int | None:
    """The closed period's start (ms) an auto-reply for a message at ``at`` belongs to, or None
    when none is due (auto-reply off, no text, or within business hours)."""
    auto = settings.get("autoReply") or {}
    if not auto.get("enabled") or not str(auto.get("text") or "").strip():
        return None
    since = workspace.closed_since(settings, at)
    return None if since is None else int(since.timestamp() * 1000)


def task_name(tenant_id: str, conversation_id: str, period_ms: int) -> str:
    return ids.doc_id("autoreply", tenant_id, conversation_id, str(period_ms))


def after_inbound(tenant_id: str, conversation_id: str, channel: str, at: datetime) -> str:
    """Queue the auto-reply a customer's message at ``at`` calls for; return what happened
    (``none``, ``queued``, ``remembered``, ``exists``, ``error``). Never raises. The period is
    the one the message arrives in; a message sent more than :data:`STALE_AFTER` ago (a replay,
    a backlog) gets none."""
    try:
        now = datetime.now(UTC)
        if channel == "app":
            return "none"  # an app's support chat has no provider to send through
        if now - at > STALE_AFTER:
            return "none"  # a replayed or long-delayed message: the customer is not waiting on it now
        period = wanted(_settings(tenant_id), now)
        if period is None:
            return "none"
        key = (tenant_id, conversation_id, period)
        with _lock:
            if key in _queued:
                return "remembered"
        from shared import tasks
        from shared.config import settings

        created = tasks.enqueue(
            tasks.queue_name(QUEUE),
            task_name(tenant_id, conversation_id, period),
            settings().deliver_url,
            {
                "action": "auto_reply",
                "tenantId": tenant_id,
                "conversationId": conversation_id,
                "periodStartMs": period,
            },
        )
        with _lock:
            _queued[key] = None
            while len(_queued) > REMEMBERED:
                _queued.popitem(last=False)
        return "queued" if created else "exists"
    except Exception as exc:  # noqa: BLE001 - the customer's message is stored; never hold ingest back
        log.error(
            "could not queue the auto-reply",
            extra={"fields": {"event": "auto_reply_not_queued", "error": type(exc).__name__}},
        )
        return "error"


def message_id(conversation_id: str, period_ms: int) -> str:
    """The auto-reply's message id: one per conversation per closed period."""
    return ids.outbound_message_id(conversation_id, f"auto-reply-{period_ms}")


def send(tenant_id: str, conversation_id: str, period_ms: int) -> str:
    """deliver's ``auto_reply`` action: write the auto-reply of the period and queue its delivery;
    return ``queued``, ``duplicate`` or why nothing was sent."""
    from shared import search
    from shared.outbox.delivery import enqueue

    settings = store.get_workspace_settings(tenant_id) or {}
    now = datetime.now(UTC)
    if wanted(settings, now) != period_ms:
        return "not-due"  # switched off, or business hours began (or a new period) meanwhile
    conversation = store.get_conversation(tenant_id, conversation_id)
    if conversation is None:
        return "no-conversation"
    channel = str(conversation.get("channel"))
    text = str((settings.get("autoReply") or {}).get("text") or "").strip()
    outbound_id = message_id(conversation_id, period_ms)
    now_ms = int(now.timestamp() * 1000)
    document: dict[str, Any] = {
        "direction": "out",
        "type": "text",
        "content": {"type": "text", "text": text},
        "text": text,
        "sender": SENDER,
        "autoReply": True,
        "channel": channel,
        "channelId": conversation.get("channelId"),
        "clientMessageId": f"auto-reply-{period_ms}",
        "status": "queued",
        "statusRank": 0,
        "statusHistory": {"queued": now},
        "sentAt": now,
        "createdAt": store.server_time(),
    }
    document.update(search.message_fields(tenant_id, conversation_id, now_ms, document))
    summary = {
        "lastMessage": {"id": outbound_id, "type": "text", "text": text, "direction": "out", "at": now},
        "lastActivityAt": now,
        "lastActivityAtMs": store.maximum(now_ms),
        "messageCount": store.increment(1),
        "updatedAt": store.server_time(),
    }
    if not store.create_outbound(tenant_id, conversation_id, outbound_id, document, summary):
        return "duplicate"
    enqueue(channel, tenant_id, conversation_id, outbound_id)
    return "queued"
