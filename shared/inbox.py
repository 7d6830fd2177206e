"""Applying normalized inbound events to the support inbox, idempotently.

:func:`apply` is what the ``ingest`` function runs for every Pub/Sub message. It is safe to run any
number of times for the same event and in any order:

- a message lands under a deterministic id; a second delivery finds it there and is acknowledged;
- receipts only move a status forward; one that arrives before its message is parked and applied
  when the message lands (here for inbound targets, in :func:`message_landed` for our sends);
- reactions, edits and deletes apply to their target message, or wait parked for it;
- echoes of our own sends are recognized (by the metadata we attach, or the provider id) and never
  create a second message.

It raises :class:`~shared.errors.TransientError` only when retrying can help; everything else is
recorded (quarantine, channel health) and acknowledged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from pydantic import TypeAdapter

from shared import channels, ids, store
from shared.config import settings
from shared.errors import TransientError
from shared.models import (
    ChannelNoticeEvent,
    DeleteEvent,
    EditEvent,
    InboundEvent,
    MessageEvent,
    QuarantinedItem,
    QuarantineReason,
    ReactionEvent,
    ReceiptEvent,
)

log = logging.getLogger(__name__)

CUSTOMER_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
ECHO_METADATA_PREFIX = "sb:"
HEALTH_TOUCH_SECONDS = 60.0


@cache
def event_adapter() -> TypeAdapter[InboundEvent]:
    """Validator for the event union (built once per process)."""
    return TypeAdapter(InboundEvent)


def decode_event(data: bytes | str) -> InboundEvent:
    """An event from its Pub/Sub JSON."""
    return event_adapter().validate_json(data)


@dataclass(frozen=True)
class Outcome:
    """What applying one event did (logged; tests read it)."""

    result: str  # created | duplicate | applied | parked | ignored | quarantined
    message_id: str | None = None
    tenant_id: str | None = None  # set for inbound messages (created or duplicate)
    conversation_id: str | None = None


def apply(event: InboundEvent) -> Outcome:
    """Apply one event to the inbox. Raises TransientError when Firestore is briefly unavailable."""
    try:
        try:
            return _apply(event)
        except store.refused_errors() as exc:
            # Too large or too deeply nested to be a document: retrying cannot help, and five failed
            # attempts would only dead-letter it (and page whoever watches the dead letters).
            return _keep(event, "unstorable", f"Firestore refused the {event.kind}: {exc}"[:2000])
    except store.transient_errors() as exc:
        raise TransientError(
            f"Firestore unavailable while applying {event.kind}: {type(exc).__name__}"
        ) from exc


def quarantine(item: QuarantinedItem) -> Outcome:
    """Keep a quarantine record the webhook published."""
    try:
        _save_quarantine(item)
    except store.transient_errors() as exc:
        raise TransientError(f"Firestore unavailable while quarantining: {type(exc).__name__}") from exc
    return Outcome("quarantined")


def _keep(event: InboundEvent, reason: QuarantineReason, error: str) -> Outcome:
    """Keep an event ingest will not apply in quarantine, whole, for a later replay."""
    _save_quarantine(
        QuarantinedItem(
            channel=event.channel,
            reason=reason,
            error=error,
            raw=event.model_dump(mode="json"),
            route_key=event.route_key,
        )
    )
    return Outcome("quarantined")


def _save_quarantine(item: QuarantinedItem) -> None:
    store.save_quarantine(item)
    # A log-based metric counts these (infra/modules/monitoring): an alert when parsing starts failing.
    log.warning(
        "quarantined",
        extra={"fields": {"event": "quarantined", "channel": item.channel, "reason": item.reason}},
    )


def _apply(event: InboundEvent) -> Outcome:
    route = store.resolve_route(event.route_key)
    if route is None:
        # Not a retry loop: nobody owns this account yet. Keep it; replay once the channel is connected.
        return _keep(event, "unknown_route", f"no route {event.route_key}")
    if route.signer != event.signer:
        route = store.resolve_route(event.route_key, fresh=True) or route  # a route bound a moment ago
    if route.signer != event.signer:
        # The account whose secret verified the request must be the one the route was connected
        # with; else a tenant with its own provider account could write into another tenant's
        # conversations by naming their number (Twilio signs with the AccountSid the form names).
        log.warning(
            "refused an event signed by another account",
            extra={"fields": {"event": "foreign_signer", "channel": event.channel}},
        )
        return _keep(
            event, "foreign_signer", f"{event.route_key} accepts events signed by its own account only"
        )
    _touch_health(event, route)
    if isinstance(event, MessageEvent):
        return _echo(event, route) if event.echo else _inbound_message(event, route)
    if isinstance(event, ReceiptEvent):
        return _receipt(event, route)
    if isinstance(event, ReactionEvent | EditEvent | DeleteEvent):
        return _targeted(event, route)
    if isinstance(event, ChannelNoticeEvent):
        return _notice(event, route)
    return Outcome("ignored")  # pragma: no cover - the union is exhaustive


# --- messages ------------------------------------------------------------------------------------


def preview(content: Any) -> str:
    """A short text for lists and notifications: the text, a caption, or the kind in brackets."""
    for attribute in ("text", "title", "name", "address"):
        value = getattr(content, attribute, None)
        if isinstance(value, str) and value:
            return value[:200]
    return f"[{content.type}]"


def _when(event: InboundEvent) -> datetime:
    return event.occurred_at or datetime.now(UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _message_document(
    event: MessageEvent, route: store.Route, direction: str, sender: dict[str, Any]
) -> dict:
    sent_at = _when(event)
    return {
        "direction": direction,
        "type": event.content.type,
        "content": event.content.model_dump(mode="json", exclude_none=True),
        "text": preview(event.content),
        "sender": sender,
        "channel": event.channel,
        "channelId": route.channel_id,
        "providerMessageId": event.message_id,
        "replyTo": event.reply_to,
        "forwarded": event.forwarded,
        "sentAt": sent_at,
        "receivedAt": store.server_time(),
        "eventId": event.event_id,
        "raw": json.dumps(event.raw, default=str),
    }


def _conversation_base(event: InboundEvent, route: store.Route) -> dict[str, Any]:
    return {
        "kind": "support",
        "tenantId": route.tenant_id,
        "channel": event.channel,
        "channelId": route.channel_id,
        "contactId": ids.contact_id(route.channel_id, event.contact_id),
        "contactExternalId": event.contact_id,
        "updatedAt": store.server_time(),
    }


def _reply_window(event: MessageEvent, at: datetime) -> dict[str, Any]:
    """The conversation's reply window from the customer's message at ``at``, by the channel's rule
    (``capabilities.reply_window``): what a reply needs once 24 hours have passed."""
    window: dict[str, Any] = {"expiresAtMs": store.maximum(_ms(at + CUSTOMER_WINDOW))}
    rule = channels.capabilities(event.channel).reply_window
    if rule == "template":
        window["needs"] = "template"
    elif rule == "tag":
        window["needs"] = "tag"
        window["tagExpiresAtMs"] = store.maximum(_ms(at + HUMAN_AGENT_WINDOW))
    return window


def _inbound_message(event: MessageEvent, route: store.Route) -> Outcome:
    conversation_id = ids.conversation_id(route.channel_id, event.contact_id)
    message_id = ids.message_id(route.channel_id, event.message_id)
    sent_at = _when(event)
    contact_id = ids.contact_id(route.channel_id, event.contact_id)
    sender = {"kind": "contact", "id": contact_id, "name": event.contact_name}
    message = _message_document(event, route, "in", sender)
    message.update({"status": "received", "standby": event.standby})
    summary = {
        **_conversation_base(event, route),
        "status": "open",
        "lastMessage": {
            "id": message_id,
            "type": event.content.type,
            "text": message["text"],
            "direction": "in",
            "at": sent_at,
        },
        "lastActivityAt": sent_at,
        "lastActivityAtMs": store.maximum(_ms(sent_at)),
        "lastInboundAt": sent_at,
        "lastInboundAtMs": store.maximum(_ms(sent_at)),
        "lastInbound": {"messageId": message_id, "providerMessageId": event.message_id},
        "replyWindow": _reply_window(event, sent_at),
        "unreadCount": store.increment(1),
        "messageCount": store.increment(1),
    }
    contact: dict[str, Any] = {
        "channel": event.channel,
        "channelId": route.channel_id,
        "externalId": event.contact_id,
    }
    if event.contact_name:
        summary["contactName"] = event.contact_name
        contact["name"] = event.contact_name
    if event.contact_handle:
        contact["handle"] = event.contact_handle
    contact_key = (route.tenant_id, contact_id)
    fresh = _known_contacts.unchanged(contact_key, contact)
    created = store.create_message(
        store.NewMessage(
            tenant_id=route.tenant_id,
            conversation_id=conversation_id,
            message_id=message_id,
            message=message,
            conversation=summary,
            contact_id=contact_id,
            contact=None if fresh else contact,
        )
    )
    if not created:
        return Outcome("duplicate", message_id, route.tenant_id, conversation_id)
    _known_contacts.remember(contact_key, contact)
    message_landed(route.tenant_id, conversation_id, event.message_id)
    return Outcome("created", message_id, route.tenant_id, conversation_id)


class KnownContacts:
    """The contact documents this instance wrote lately, so a message writes its contact only when
    something about it changed (a new name or handle): 2 document writes per inbound message on
    the common path instead of 3. Bounded, and forgotten after :data:`CONTACT_MEMORY_SECONDS`, so
    a contact document erased meanwhile is written again."""

    def __init__(self, size: int, seconds: float) -> None:
        self._size, self._seconds = size, seconds
        self._written: OrderedDict[tuple[str, str], tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def unchanged(self, key: tuple[str, str], contact: dict[str, Any]) -> bool:
        """Whether this instance wrote exactly ``contact`` under ``key`` recently."""
        with self._lock:
            known = self._written.get(key)
            return known is not None and known[1] == contact and time.monotonic() - known[0] < self._seconds

    def remember(self, key: tuple[str, str], contact: dict[str, Any]) -> None:
        """``contact`` is stored under ``key`` (written now, or found unchanged)."""
        with self._lock:
            if key in self._written and self._written[key][1] == contact:
                self._written.move_to_end(key)
                return
            self._written[key] = (time.monotonic(), contact)
            self._written.move_to_end(key)
            while len(self._written) > self._size:
                self._written.popitem(last=False)

    def forget(self) -> None:
        """Forget everything (tests)."""
        with self._lock:
            self._written.clear()


CONTACT_MEMORY_SIZE = 50_000
CONTACT_MEMORY_SECONDS = 3600.0
_known_contacts = KnownContacts(CONTACT_MEMORY_SIZE, CONTACT_MEMORY_SECONDS)


def _echo(event: MessageEvent, route: store.Route) -> Outcome:
    """A message the business sent, echoed by Meta: ours (match it) or a human on Meta's own app."""
    conversation_id = ids.conversation_id(route.channel_id, event.contact_id)
    ours = None
    if event.echo_metadata and event.echo_metadata.startswith(ECHO_METADATA_PREFIX):
        ours = store.get_message(
            route.tenant_id, conversation_id, event.echo_metadata[len(ECHO_METADATA_PREFIX) :]
        )
    if ours is None:
        ours = store.find_message_by_provider_id(route.tenant_id, conversation_id, event.message_id)
    if ours is not None:
        extra = {} if ours.data.get("providerMessageId") else {"providerMessageId": event.message_id}
        store.advance_status(
            route.tenant_id, conversation_id, ours.message_id, "sent", event.occurred_at, extra
        )
        if extra:
            message_landed(route.tenant_id, conversation_id, event.message_id)
        return Outcome("duplicate", ours.message_id)
    our_app = settings().meta_app_id
    if our_app and event.echo_app_id == our_app:
        # Our own send whose provider id is not stored yet (deliver is a moment behind): retry later.
        raise TransientError("echo of our own send arrived before its message id was stored")
    message_id = ids.message_id(route.channel_id, event.message_id)
    sent_at = _when(event)
    sender = {"kind": "provider_app", "id": event.echo_app_id, "name": None}
    message = _message_document(event, route, "out", sender)
    message.update(
        {"status": "sent", "statusRank": store.STATUS_RANK["sent"], "statusHistory": {"sent": sent_at}}
    )
    summary = {
        **_conversation_base(event, route),
        "lastMessage": {
            "id": message_id,
            "type": event.content.type,
            "text": message["text"],
            "direction": "out",
            "at": sent_at,
        },
        "lastActivityAt": sent_at,
        "lastActivityAtMs": store.maximum(_ms(sent_at)),
        "messageCount": store.increment(1),
    }
    created = store.create_message(
        store.NewMessage(route.tenant_id, conversation_id, message_id, message, summary)
    )
    if created:
        message_landed(route.tenant_id, conversation_id, event.message_id)
    return Outcome("created" if created else "duplicate", message_id)


def message_landed(tenant_id: str, conversation_id: str, provider_message_id: str) -> int:
    """A message is now findable by ``provider_message_id``: apply the events parked for it.

    Called when an inbound message is created and when a send stores the provider's id."""
    applied = 0
    for parked_id, event_json in store.parked_for(tenant_id, conversation_id, provider_message_id):
        event = decode_event(event_json)
        route = store.Route(tenant_id=tenant_id, channel_id=_channel_of(event))
        if isinstance(event, ReceiptEvent):
            _receipt(event, route, allow_park=False)
        elif isinstance(event, ReactionEvent | EditEvent | DeleteEvent):
            _targeted(event, route, allow_park=False)
        store.unpark(tenant_id, conversation_id, parked_id)
        applied += 1
    return applied


def _channel_of(event: InboundEvent) -> str:
    route = store.resolve_route(event.route_key)
    if route is None:
        raise TransientError(f"route {event.route_key} vanished while applying a parked event")
    return route.channel_id


# --- receipts and targeted events -----------------------------------------------------------------


def _find_target(
    route: store.Route, conversation_id: str, provider_message_id: str
) -> store.StoredMessage | None:
    inbound = store.get_message(
        route.tenant_id, conversation_id, ids.message_id(route.channel_id, provider_message_id)
    )
    if inbound is not None:
        return inbound
    return store.find_message_by_provider_id(route.tenant_id, conversation_id, provider_message_id)


def _park(event: InboundEvent, route: store.Route, conversation_id: str, target: str) -> Outcome:
    store.park(
        route.tenant_id,
        conversation_id,
        ids.parked_id(f"{event.event_id}:{target}"),
        target,
        event.model_dump_json(),
    )
    # The message may have landed between our lookup and the park: look once more, so the event
    # is never stranded. Applying twice is harmless (everything here is idempotent).
    if _find_target(route, conversation_id, target) is not None:
        message_landed(route.tenant_id, conversation_id, target)
        return Outcome("applied")
    return Outcome("parked")


def _receipt(event: ReceiptEvent, route: store.Route, allow_park: bool = True) -> Outcome:
    conversation_id = ids.conversation_id(route.channel_id, event.contact_id)
    extra: dict[str, Any] = {}
    if event.error is not None:
        extra["error"] = event.error.model_dump(exclude_none=True)
    if event.pricing:
        extra["pricing"] = event.pricing
    outcome = Outcome("ignored")
    for provider_id in event.message_ids:
        target = store.find_message_by_provider_id(route.tenant_id, conversation_id, provider_id)
        if target is None:
            outcome = _park(event, route, conversation_id, provider_id) if allow_park else outcome
            continue
        store.advance_status(
            route.tenant_id, conversation_id, target.message_id, event.status, event.occurred_at, extra
        )
        outcome = Outcome("applied", target.message_id)
    if event.watermark is not None and event.status in store.STATUS_RANK:
        for target in store.outbound_below(route.tenant_id, conversation_id, event.status, event.watermark):
            store.advance_status(
                route.tenant_id,
                conversation_id,
                target.message_id,
                event.status,
                event.occurred_at or event.watermark,
                extra,
            )
            outcome = Outcome("applied", target.message_id)
    return outcome


def _targeted(
    event: ReactionEvent | EditEvent | DeleteEvent, route: store.Route, allow_park: bool = True
) -> Outcome:
    conversation_id = ids.conversation_id(route.channel_id, event.contact_id)
    target = _find_target(route, conversation_id, event.target_message_id)
    if target is None:
        if allow_park:
            return _park(event, route, conversation_id, event.target_message_id)
        return Outcome("ignored")
    at = _when(event)
    update: dict[str, Any]
    if isinstance(event, ReactionEvent):
        who = "business" if event.from_business else "customer"
        update = {f"reactions.{who}": event.emoji if event.emoji else store.delete_field()}
    elif isinstance(event, EditEvent):
        update = {
            "content.text": event.text,
            "text": event.text or target.data.get("text"),
            "edited": True,
            "editedAt": at,
            "editHistory": store.array_union([{"text": target.data.get("text"), "replacedAt": at}]),
        }
    else:
        update = {"deleted": True, "deletedAt": at, "text": None, "content.text": store.delete_field()}
    store.update_message(route.tenant_id, conversation_id, target.message_id, update)
    return Outcome("applied", target.message_id)


def _notice(event: ChannelNoticeEvent, route: store.Route) -> Outcome:
    health: dict[str, Any] = {"lastNoticeAt": _when(event), "lastNoticeTopic": event.topic}
    if event.error is not None:
        health["lastError"] = {**event.error.model_dump(exclude_none=True), "at": _when(event)}
        log.warning(
            "channel reported an error",
            extra={
                "fields": {"event": "channel_unhealthy", "channel": event.channel, "code": event.error.code}
            },
        )
    store.update_channel_health(route.tenant_id, route.channel_id, health)
    return Outcome("applied")


_health_touched: dict[str, float] = {}


def _touch_health(event: InboundEvent, route: store.Route) -> None:
    # lastWebhookAt on the channel document, at most once a minute per process: the channel
    # document would otherwise be a hot document written on every message.
    now = time.monotonic()
    key = f"{route.tenant_id}/{route.channel_id}"
    if _health_touched.get(key, 0.0) > now:
        return
    _health_touched[key] = now + HEALTH_TOUCH_SECONDS
    store.update_channel_health(route.tenant_id, route.channel_id, {"lastWebhookAt": store.server_time()})


def record_send(
    tenant_id: str,
    conversation_id: str,
    message_id: str,
    provider_message_id: str,
    at: datetime | None = None,
) -> None:
    """A send was accepted by the provider: store its id, mark it sent, and apply any receipt or
    reaction that arrived before we knew the id (providers can be faster than our own write)."""
    # The id is stored even when an echo or a receipt already moved the status past "sent".
    store.advance_status(
        tenant_id, conversation_id, message_id, "sent", at, always={"providerMessageId": provider_message_id}
    )
    message_landed(tenant_id, conversation_id, provider_message_id)
