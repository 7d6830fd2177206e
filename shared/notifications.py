"""Agent notifications (issue 17 parts 1 and 6): a new conversation, a customer's message in a
conversation assigned to me, a mention of me in a private note, a conversation assigned to me.

**Queued, never inline.** What causes a notification only queues one Cloud Task on the ``notify``
queue (deliver action ``notify``) after its own writes:

- ingest, for a new inbound message (:func:`after_inbound`): one task named after the conversation
  and the :data:`SLOT_SECONDS` slot, so a burst into a hot conversation queues one notification a
  slot (an instance remembers what it queued: later messages of the slot make no call; another
  instance's call is an ALREADY_EXISTS answer). No FCM call, no Firestore read or write on
  ingest's path;
- an assignment (shared/conversations.py :func:`after_assignment`, which every assignment, single or
  bulk, goes through), named after the conversation, the assignee and the moment;
- a note with mentions (shared/outbox/replies.py), named after the note.

**Delivering** (:func:`run`, in deliver): who is notified, by the event:

- ``message``: a customer's message. If it is the conversation's first message, every active agent
  of the tenant gets ``new_conversation``; the conversation's assignee (if any) gets ``message``.
- ``assigned``: the new assignee, unless they assigned it to themselves.
- ``mention``: the agents the note mentions, except its author.

Each recipient's settings (one ``get_all``) decide: an event they turned off notifies nothing; in
their quiet hours the feed entry is written ``quiet`` (listed, counted, no toast, no sound) and no
push is sent. Otherwise one FCM web push per registered browser (shared/chat/push.py's FCM
HTTP v1 sender, at most :data:`PUSH_WORKERS` at once: the service worker shows it when the tab is
in the background), then the feed entries in one batch (tenants/{t}/agents/{uid}/notifications,
which the dashboard listens to: toast, sound, title and favicon badge), so a feed entry means its
task has handed every push over. FCM's ``UNREGISTERED`` or an invalid token drops the token; a
transient FCM failure raises for Cloud Tasks to retry the task, which writes the same feed ids
again (no duplicate) and pushes again under the same tag (the browser replaces the notification
rather than showing two).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared import ids, store, tasks
from shared.auth import Caller
from shared.config import settings
from shared.errors import MalformedTask, TransientError

log = logging.getLogger(__name__)

NOTIFY_QUEUE = "notify"  # topology.json queues.notify
SLOT_SECONDS = 2  # at most one "message" notification per conversation per slot
EVENTS = ("new_conversation", "message", "mention", "assigned")
TITLE_CHARS = 80
BODY_CHARS = 160
ACTION = "notify"
PUSH_WORKERS = 8  # FCM sends of one task at once
RECENT_TASKS = 10_000  # notify tasks an ingest instance remembers having queued (see _Recent)
HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")

Event = Literal["new_conversation", "message", "mention", "assigned"]


# --- preferences --------------------------------------------------------------------------------


class QuietHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    start: str = "22:00"
    end: str = "07:00"
    timeZone: str = "UTC"

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not HHMM.match(value):
            raise ValueError("a time of day is HH:MM, 00:00 to 23:59")
        return value

    @field_validator("timeZone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("an IANA time zone, e.g. Europe/Paris") from exc
        return value

    def covers(self, now: datetime) -> bool:
        """Whether ``now`` falls in these quiet hours (``start`` > ``end`` spans midnight)."""
        if not self.enabled or self.start == self.end:
            return False
        local = now.astimezone(ZoneInfo(self.timeZone)).strftime("%H:%M")
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: dict[Event, bool] = Field(default_factory=lambda: dict.fromkeys(EVENTS, True))
    quietHours: QuietHours = Field(default_factory=QuietHours)

    def wants(self, event: str) -> bool:
        return self.events.get(event, True)  # type: ignore[call-overload]

    @classmethod
    def of(cls, stored: dict[str, Any]) -> Preferences:
        """An agent's preferences from their settings document (defaults for what is missing or
        unreadable)."""
        try:
            return cls.model_validate(
                {k: v for k, v in stored.items() if k in ("events", "quietHours") and v is not None}
            )
        except ValueError:
            return cls()


class SavePreferences(Preferences):
    action: Literal["save_notification_settings"]


class RegisterToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["register_push_token", "unregister_push_token"]
    token: str = Field(min_length=8, max_length=4096)


class MarkRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["mark_notifications_read"]
    notificationIds: list[str] | None = Field(default=None, max_length=400)


class GetSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["notification_settings"]


def get_settings(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``notification_settings`` -> the caller's events, quiet hours, browser count."""
    GetSettings.model_validate(body)
    stored = store.notification_settings(caller.tenant_id, [caller.uid])[caller.uid]
    return {**Preferences.of(stored).model_dump(), "browsers": len(stored.get("tokens") or [])}


def save_settings(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``save_notification_settings``: the caller's own events and quiet hours."""
    request = SavePreferences.model_validate(body)
    events = {event: request.events.get(event, True) for event in EVENTS}  # type: ignore[call-overload]
    store.put_notification_preferences(caller.tenant_id, caller.uid, events, request.quietHours.model_dump())
    return {"events": events, "quietHours": request.quietHours.model_dump()}


def register_token(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``register_push_token`` / ``unregister_push_token``: this browser's FCM token."""
    request = RegisterToken.model_validate(body)
    if request.action == "unregister_push_token":
        store.drop_push_tokens(caller.tenant_id, caller.uid, [request.token])
        return {"registered": False}
    kept = store.add_push_token(caller.tenant_id, caller.uid, request.token)
    return {"registered": True, "browsers": len(kept)}


def mark_read(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``mark_notifications_read``: the named notifications, or all unread ones."""
    request = MarkRead.model_validate(body)
    return {"marked": store.mark_notifications_read(caller.tenant_id, caller.uid, request.notificationIds)}


# --- queueing -----------------------------------------------------------------------------------


def _enqueue(task_id: str, payload: dict[str, Any]) -> bool:
    deliver_url = settings().deliver_url
    if not deliver_url:
        log.warning("no deliver URL: a notification is not queued", extra={"fields": {"task": task_id}})
        return False
    return tasks.enqueue(tasks.queue_name(NOTIFY_QUEUE), task_id, deliver_url, payload)


def _task(tenant_id: str, conversation_id: str, message_id: str | None, notify: dict[str, Any]) -> dict:
    return {
        "action": ACTION,
        "tenantId": tenant_id,
        "conversationId": conversation_id,
        "messageId": message_id,
        "notify": notify,
    }


class _Recent:
    """The notify tasks this instance queued lately (bounded): a burst into a hot conversation makes
    one Cloud Tasks call a slot per instance, not one per message."""

    def __init__(self, size: int = RECENT_TASKS) -> None:
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def first(self, key: str) -> bool:
        """True the first time ``key`` is seen (remembered from then on)."""
        with self._lock:
            if key in self._keys:
                return False
            self._keys[key] = None
            if len(self._keys) > self._size:
                self._keys.popitem(last=False)
            return True

    def forget(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key, None)


_recent = _Recent()


def after_inbound(tenant_id: str, conversation_id: str, message_id: str, now: float | None = None) -> bool:
    """Ingest stored a customer's new message: queue its notification (one task per conversation
    per slot; a later message of the same slot on this instance makes no call at all). Never raises
    into ingest: a failure to queue is logged (the message is stored; only the notification is lost)."""
    slot = int((time.time() if now is None else now) // SLOT_SECONDS)
    task_id = ids.doc_id("notify-message", tenant_id, conversation_id, str(slot))
    if not _recent.first(task_id):
        return False
    try:
        return _enqueue(task_id, _task(tenant_id, conversation_id, message_id, {"event": "message"}))
    except Exception as exc:  # noqa: BLE001 - the contract: a notification never fails ingest
        _recent.forget(task_id)  # the next message of the slot tries again
        log.error(
            "notification not queued",
            extra={
                "fields": {
                    "event": "notify_not_queued",
                    "message_id": message_id,
                    "error": type(exc).__name__,
                }
            },
        )
        return False


def after_assignment(caller: Caller, conversation_id: str, assignee_id: str | None) -> bool:
    """A conversation was assigned to ``assignee_id``: queue the assignee's notification (none when
    unassigned or self-assigned)."""
    if not assignee_id or assignee_id == caller.uid:
        return False
    at = time.time_ns() // 1_000_000
    return _enqueue(
        ids.doc_id("notify-assigned", caller.tenant_id, conversation_id, assignee_id, str(at)),
        _task(
            caller.tenant_id,
            conversation_id,
            None,
            {"event": "assigned", "recipients": [assignee_id], "at": at, **_actor(caller)},
        ),
    )


def after_note(caller: Caller, conversation_id: str, message_id: str, mentioned: list[str]) -> bool:
    """A note mentioning ``mentioned`` was written: queue their notification (named after the note)."""
    recipients = [uid for uid in mentioned if uid != caller.uid]
    if not recipients:
        return False
    return _enqueue(
        ids.doc_id("notify-mention", caller.tenant_id, conversation_id, message_id),
        _task(
            caller.tenant_id,
            conversation_id,
            message_id,
            {"event": "mention", "recipients": recipients, **_actor(caller)},
        ),
    )


def _actor(caller: Caller) -> dict[str, Any]:
    return {
        "actorId": caller.uid,
        "actorName": _truncate(caller.name or caller.email or "An agent", TITLE_CHARS),
    }


def _truncate(text: str, limit: int) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# --- delivering ---------------------------------------------------------------------------------


class NotifyTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: Literal["message", "assigned", "mention"]
    recipients: list[str] = Field(default_factory=list, max_length=50)
    actorId: str | None = None
    actorName: str | None = None
    at: int | None = None  # an assignment's moment (ms): the feed id of a task without a message


def _active(agent: dict[str, Any]) -> bool:
    return agent.get("active", True) is not False and not agent.get("deactivated")


def _contact(conversation: dict[str, Any]) -> str:
    return _truncate(str(conversation.get("contactName") or "A customer"), TITLE_CHARS)


def _who(
    tenant_id: str,
    conversation_id: str,
    message_id: str | None,
    task: NotifyTask,
    conversation: dict[str, Any],
) -> dict[str, str]:
    """uid -> event, for this task."""
    if task.event != "message":
        return dict.fromkeys((uid for uid in task.recipients if uid != task.actorId), task.event)
    chosen: dict[str, str] = {}
    if message_id and store.first_message_id(tenant_id, conversation_id) == message_id:
        for uid, agent in store.tenant_agents(tenant_id):
            if _active(agent):
                chosen[uid] = "new_conversation"
    assignee = conversation.get("assigneeId")
    if isinstance(assignee, str) and assignee and assignee not in chosen:
        chosen[assignee] = "message"
    return chosen


def _texts(
    event: str, task: NotifyTask, conversation: dict[str, Any], message: dict[str, Any]
) -> tuple[str, str]:
    contact = _contact(conversation)
    last = conversation.get("lastMessage") or {}
    text = str(message.get("text") or last.get("text") or "")
    actor = task.actorName or "An agent"
    if event == "new_conversation":
        return f"New conversation: {contact}", _truncate(text, BODY_CHARS)
    if event == "message":
        return contact, _truncate(text, BODY_CHARS)
    if event == "mention":
        return _truncate(f"{actor} mentioned you", TITLE_CHARS), _truncate(text, BODY_CHARS)
    return _truncate(f"{actor} assigned you {contact}", TITLE_CHARS), _truncate(
        str(last.get("text") or ""), BODY_CHARS
    )


def web_push(token: str, notification_id: str, tenant_id: str, item: dict[str, Any]) -> dict[str, Any]:
    """The FCM HTTP v1 message of one feed entry for one browser: the service worker
    (web/public/notifications-sw.js) shows it, one per conversation (tag)."""
    tag = f"sb-{item['conversationId']}"
    return {
        "token": token,
        "notification": {"title": item["title"], "body": item["body"]},
        "data": {
            "tenantId": tenant_id,
            "conversationId": item["conversationId"],
            "notificationId": notification_id,
            "messageId": str(item.get("messageId") or ""),
            "event": item["event"],
        },
        "webpush": {
            "headers": {"Urgency": "high", "TTL": "3600", "Topic": tag[:32]},
            "notification": {"tag": tag, "icon": "/favicon.svg", "renotify": True},
        },
    }


def run(payload: dict[str, Any], now: datetime | None = None) -> str:
    """Deliver one notify task (deliver's action ``notify``); what happened, for deliver's log."""
    from shared.chat import push  # the FCM HTTP v1 sender

    started = time.monotonic()
    tenant_id, conversation_id = payload.get("tenantId"), payload.get("conversationId")
    message_id = payload.get("messageId")
    try:
        task = NotifyTask.model_validate(payload.get("notify") or {})
    except ValueError as exc:
        raise MalformedTask(f"not a notify task: {exc}") from exc
    if not isinstance(tenant_id, str) or not isinstance(conversation_id, str):
        raise MalformedTask("a notify task needs tenantId and conversationId")
    conversation = store.get_conversation(tenant_id, conversation_id)
    if conversation is None or conversation.get("kind") != "support":
        return "notify-no-conversation"
    stored = store.get_message(tenant_id, conversation_id, message_id) if message_id else None
    message = stored.data if stored else {}
    chosen = _who(tenant_id, conversation_id, message_id, task, conversation)
    if not chosen:
        return "notify-nobody"
    moment = now or datetime.now(UTC)
    prefs = store.notification_settings(tenant_id, sorted(chosen))
    items: list[tuple[str, str, dict[str, Any]]] = []
    pushes: list[tuple[str, str, dict[str, Any], str]] = []
    for uid, event in sorted(chosen.items()):
        preferences = Preferences.of(prefs.get(uid) or {})
        if not preferences.wants(event):
            continue
        title, body = _texts(event, task, conversation, message)
        quiet = preferences.quietHours.covers(moment)
        key = message_id or str(task.at or "")
        notification_id = ids.doc_id("notification", event, conversation_id, key, uid)
        item = {
            "event": event,
            "conversationId": conversation_id,
            "messageId": message_id,
            "title": title,
            "body": body,
            "actorId": task.actorId,
            "quiet": quiet,
        }
        items.append((uid, notification_id, item))
        if not quiet:
            for token in dict.fromkeys((prefs.get(uid) or {}).get("tokens") or []):
                if isinstance(token, str) and token:
                    pushes.append((uid, notification_id, item, token))
    sent, dead, retry = 0, 0, 0
    dead_tokens: dict[str, list[str]] = {}
    with ThreadPoolExecutor(max_workers=PUSH_WORKERS, thread_name_prefix="notify") as pool:
        results = list(pool.map(lambda p: push.send_one(web_push(p[3], p[1], tenant_id, p[2])), pushes))
    for (uid, _, _, token), result in zip(pushes, results, strict=True):
        if result.ok:
            sent += 1
        elif result.dead:
            dead += 1
            dead_tokens.setdefault(uid, []).append(token)
        elif result.transient:
            retry += 1
    # The feed after the pushes: once an entry is there, its task has handed every push over.
    store.put_notifications(tenant_id, items)
    for uid, tokens in dead_tokens.items():
        store.drop_push_tokens(tenant_id, uid, tokens)
    fields = {
        "event": "agent_notifications",
        "tenant": tenant_id,
        "conversation_id": conversation_id,
        "kind": task.event,
        "feed": len(items),
        "pushed": sent,
        "dead": dead,
        "retry": retry,
        "seconds": round(time.monotonic() - started, 3),
    }
    log.info("agent notifications", extra={"fields": fields})
    if retry:
        raise TransientError(f"FCM failed for {retry} browser(s): the retry pushes again")
    return "notified" if items else "notify-muted"
