"""The only module that touches Firestore.

Layout (one tree per tenant, see DESIGN.md):

    routes/{kind}:{externalId}                    tenantId, channelId
    quarantine/{id}                               items we could not use, replayable
    tenants/{t}                                   name, plan
    tenants/{t}/channels/{c}                      kind, externalId, name, health
    tenants/{t}/contacts/{id}                     identity on a channel, name
    tenants/{t}/conversations/{id}                summary: lastMessage, lastInboundAt, replyWindow, unread
    tenants/{t}/conversations/{id}/messages/{m}   one message (deterministic id)
    tenants/{t}/conversations/{id}/parked/{p}     events waiting for their message to land

No transactions on hot documents: a new message is one atomic batch (create the message, merge the
conversation summary with field transforms, merge the contact) and a duplicate fails the batch's
``create`` as a whole. Status updates use optimistic preconditions on ``update_time``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from shared.config import settings
from shared.errors import TransientError
from shared.models import QuarantinedItem
from shared.models.status import STATUS_RANK, advances, rank

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.firestore import Client, DocumentReference, DocumentSnapshot

ROUTE_CACHE_SECONDS = 30.0
PARKED_TTL = timedelta(days=7)
QUARANTINE_TTL = timedelta(days=30)
PRECONDITION_RETRIES = 8


@cache
def client() -> Client:
    """The process's Firestore client (honours FIRESTORE_EMULATOR_HOST), created on first use."""
    from google.cloud import firestore

    return firestore.Client(project=settings().project_id)


def _fs() -> Any:
    from google.cloud import firestore

    return firestore


def transient_errors() -> tuple[type[BaseException], ...]:
    """Firestore/gRPC errors that retrying can cure."""
    from google.api_core import exceptions as gexc

    return (
        gexc.ServiceUnavailable,
        gexc.DeadlineExceeded,
        gexc.InternalServerError,
        gexc.Aborted,
        gexc.TooManyRequests,
        gexc.ResourceExhausted,
        gexc.Unknown,
        gexc.RetryError,
        ConnectionError,
        TimeoutError,
    )


# --- routes, tenants, channels -------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """Which tenant and channel an external account id belongs to."""

    tenant_id: str
    channel_id: str


_route_cache: dict[str, tuple[float, Route]] = {}


def resolve_route(route_key: str) -> Route | None:
    """Look up ``routes/{route_key}``; cached briefly, since routes change rarely and every event reads it."""
    now = time.monotonic()
    cached = _route_cache.get(route_key)
    if cached and cached[0] > now:
        return cached[1]
    snapshot = client().collection("routes").document(route_key).get()
    route = None
    if snapshot.exists:
        data = snapshot.to_dict() or {}
        route = Route(tenant_id=data["tenantId"], channel_id=data["channelId"])
    if route is not None:
        # Misses are never cached: a channel connected a moment ago must route at once.
        _route_cache[route_key] = (now + ROUTE_CACHE_SECONDS, route)
    return route


def put_tenant(tenant_id: str, data: dict[str, Any]) -> None:
    """Create or update a tenant document."""
    client().collection("tenants").document(tenant_id).set(data, merge=True)


def get_tenant(tenant_id: str) -> dict[str, Any] | None:
    """A tenant's document, or None."""
    snapshot = client().collection("tenants").document(tenant_id).get()
    return snapshot.to_dict() if snapshot.exists else None


def put_channel(tenant_id: str, channel_id: str, kind: str, external_id: str, name: str) -> None:
    """Connect a channel: write its document and the route that sends its webhooks to this tenant."""
    db = client()
    batch = db.batch()
    batch.set(
        _channel_ref(tenant_id, channel_id),
        {"kind": kind, "externalId": external_id, "name": name},
        merge=True,
    )
    batch.set(
        db.collection("routes").document(f"{kind}:{external_id}"),
        {"tenantId": tenant_id, "channelId": channel_id, "kind": kind, "externalId": external_id},
    )
    batch.commit()
    _route_cache.pop(f"{kind}:{external_id}", None)


def get_channel(tenant_id: str, channel_id: str) -> dict[str, Any] | None:
    """A channel's document, or None."""
    snapshot = _channel_ref(tenant_id, channel_id).get()
    return snapshot.to_dict() if snapshot.exists else None


def put_agent(tenant_id: str, uid: str, data: dict[str, Any]) -> None:
    """Create or update an agent's directory entry (name, email, role) in a tenant."""
    client().collection("tenants").document(tenant_id).collection("agents").document(uid).set(
        data, merge=True
    )


def get_agent(tenant_id: str, uid: str) -> dict[str, Any] | None:
    """An agent's directory entry, or None."""
    snapshot = client().collection("tenants").document(tenant_id).collection("agents").document(uid).get()
    return snapshot.to_dict() if snapshot.exists else None


def update_channel_health(tenant_id: str, channel_id: str, health: dict[str, Any]) -> None:
    """Merge fields into a channel's ``health`` map (lastWebhookAt, lastError, tokenExpiresAt...)."""
    _channel_ref(tenant_id, channel_id).set({"health": health}, merge=True)


def _channel_ref(tenant_id: str, channel_id: str) -> DocumentReference:
    return client().collection("tenants").document(tenant_id).collection("channels").document(channel_id)


# --- conversations and messages -------------------------------------------------------------------


def conversation_ref(tenant_id: str, conversation_id: str) -> DocumentReference:
    """Reference to a conversation document."""
    return (
        client()
        .collection("tenants")
        .document(tenant_id)
        .collection("conversations")
        .document(conversation_id)
    )


def message_ref(tenant_id: str, conversation_id: str, message_id: str) -> DocumentReference:
    """Reference to a message document."""
    return conversation_ref(tenant_id, conversation_id).collection("messages").document(message_id)


def contact_ref(tenant_id: str, contact_id: str) -> DocumentReference:
    """Reference to a contact document."""
    return client().collection("tenants").document(tenant_id).collection("contacts").document(contact_id)


@dataclass(frozen=True)
class NewMessage:
    """Everything one new message writes: the message, the conversation summary, the contact."""

    tenant_id: str
    conversation_id: str
    message_id: str
    message: dict[str, Any]
    conversation: dict[str, Any]
    contact_id: str | None = None
    contact: dict[str, Any] | None = None


def create_message(new: NewMessage) -> bool:
    """Write a new message and its summary updates atomically; False if it already exists.

    Values in ``conversation`` may be the sentinels returned by :func:`increment`, :func:`maximum`
    and :data:`server_time`."""
    from google.api_core.exceptions import AlreadyExists

    db = client()
    batch = db.batch()
    batch.create(message_ref(new.tenant_id, new.conversation_id, new.message_id), new.message)
    batch.set(conversation_ref(new.tenant_id, new.conversation_id), new.conversation, merge=True)
    if new.contact_id and new.contact:
        batch.set(contact_ref(new.tenant_id, new.contact_id), new.contact, merge=True)
    try:
        batch.commit()
    except AlreadyExists:
        return False
    return True


def create_outbound(
    tenant_id: str, conversation_id: str, message_id: str, message: dict[str, Any], summary: dict[str, Any]
) -> bool:
    """Write an agent's message and the conversation summary atomically; False if it already exists
    (the same client message id sent twice)."""
    from google.api_core.exceptions import AlreadyExists

    batch = client().batch()
    batch.create(message_ref(tenant_id, conversation_id, message_id), message)
    batch.set(conversation_ref(tenant_id, conversation_id), summary, merge=True)
    try:
        batch.commit()
    except AlreadyExists:
        return False
    return True


def claim_delivery(
    tenant_id: str, conversation_id: str, message_id: str, worker: str, lease_seconds: float
) -> tuple[str, dict[str, Any]]:
    """Claim a queued message for one delivery attempt; return (outcome, the message's data).

    The outcome is ``claimed``; ``busy`` while another worker's lease is fresh; ``missing``; or the
    reason there is nothing to do (``already-sent``, ``failed``). Optimistic precondition on update_time: two
    concurrent deliveries of the same task cannot both claim, so the provider is called once."""
    from google.api_core.exceptions import FailedPrecondition

    ref = message_ref(tenant_id, conversation_id, message_id)
    for _ in range(PRECONDITION_RETRIES):
        snapshot = ref.get()
        if not snapshot.exists:
            return "missing", {}
        data = snapshot.to_dict() or {}
        if data.get("status") == "failed":
            return "failed", data
        if data.get("status") != "queued" or data.get("providerMessageId"):
            return "already-sent", data
        now = datetime.now(UTC)
        delivery = data.get("delivery") or {}
        until = delivery.get("until")
        if delivery.get("by") not in (None, worker) and until is not None and until > now:
            return "busy", data
        try:
            ref.update(
                {
                    "delivery": {
                        "by": worker,
                        "until": now + timedelta(seconds=lease_seconds),
                        "attempts": int(delivery.get("attempts", 0)) + 1,
                    }
                },
                option=client().write_option(last_update_time=snapshot.update_time),
            )
        except FailedPrecondition:
            continue
        return "claimed", data
    return "busy", {}


def release_delivery(tenant_id: str, conversation_id: str, message_id: str) -> None:
    """Give a claim back after a transient failure, so the retry may claim at once."""
    message_ref(tenant_id, conversation_id, message_id).update({"delivery.until": None, "delivery.by": None})


def increment(amount: int = 1) -> Any:
    """Field transform: add ``amount``."""
    return _fs().Increment(amount)


def maximum(value: float) -> Any:
    """Field transform: keep the larger of the stored number and ``value`` (never regresses)."""
    return _fs().Maximum(value)


def server_time() -> Any:
    """Field transform: the commit's server time."""
    return _fs().SERVER_TIMESTAMP


def delete_field() -> Any:
    """Sentinel that removes a field in an update."""
    return _fs().DELETE_FIELD


def array_union(values: list[Any]) -> Any:
    """Field transform: append values not yet present."""
    return _fs().ArrayUnion(values)


@dataclass(frozen=True)
class StoredMessage:
    """A message as read from Firestore."""

    tenant_id: str
    conversation_id: str
    message_id: str
    data: dict[str, Any]


def _stored(tenant_id: str, conversation_id: str, snapshot: DocumentSnapshot) -> StoredMessage:
    return StoredMessage(tenant_id, conversation_id, snapshot.id, snapshot.to_dict() or {})


def get_message(tenant_id: str, conversation_id: str, message_id: str) -> StoredMessage | None:
    """A message by its document id, or None."""
    snapshot = message_ref(tenant_id, conversation_id, message_id).get()
    return _stored(tenant_id, conversation_id, snapshot) if snapshot.exists else None


def find_message_by_provider_id(
    tenant_id: str, conversation_id: str, provider_message_id: str
) -> StoredMessage | None:
    """The message in a conversation that the provider knows as ``provider_message_id``."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        conversation_ref(tenant_id, conversation_id)
        .collection("messages")
        .where(filter=FieldFilter("providerMessageId", "==", provider_message_id))
        .limit(1)
    )
    for snapshot in query.stream():
        return _stored(tenant_id, conversation_id, snapshot)
    return None


def update_message(tenant_id: str, conversation_id: str, message_id: str, data: dict[str, Any]) -> None:
    """Apply field updates (dotted paths allowed) to an existing message."""
    message_ref(tenant_id, conversation_id, message_id).update(data)


def update_conversation(tenant_id: str, conversation_id: str, data: dict[str, Any]) -> None:
    """Merge fields into a conversation document (creating it if needed)."""
    conversation_ref(tenant_id, conversation_id).set(data, merge=True)


def get_conversation(tenant_id: str, conversation_id: str) -> dict[str, Any] | None:
    """A conversation's document, or None."""
    snapshot = conversation_ref(tenant_id, conversation_id).get()
    return snapshot.to_dict() if snapshot.exists else None


def advance_status(
    tenant_id: str,
    conversation_id: str,
    message_id: str,
    status: str,
    at: datetime | None,
    extra: dict[str, Any] | None = None,
    always: dict[str, Any] | None = None,
) -> bool:
    """Record ``status`` in a message's history and move its status forward if it advances.

    Optimistic concurrency, no transaction: read, decide, update with a ``last_update_time``
    precondition, and start again if another receipt got there first. Returns True when the
    status moved. ``extra`` fields (error...) are written only when it moves; ``always`` fields
    (the provider's message id) are written in the same update either way."""
    from google.api_core.exceptions import FailedPrecondition, NotFound

    ref = message_ref(tenant_id, conversation_id, message_id)
    when = at or datetime.now(UTC)
    for _ in range(PRECONDITION_RETRIES):
        snapshot = ref.get()
        if not snapshot.exists:
            return False
        data = snapshot.to_dict() or {}
        history_key = f"statusHistory.{status}"
        update: dict[str, Any] = {}
        if status not in (data.get("statusHistory") or {}):
            update[history_key] = when
        moves = advances(data.get("status"), status)
        if moves:
            normalized = "read" if status == "played" else status
            update.update({"status": normalized, "statusRank": rank(normalized), "statusAt": when})
            update.update(extra or {})
        update.update({k: v for k, v in (always or {}).items() if data.get(k) != v})
        if not update:
            return False
        try:
            ref.update(update, option=client().write_option(last_update_time=snapshot.update_time))
        except FailedPrecondition:
            continue
        except NotFound:
            return False
        return moves
    raise TransientError(f"status of message {message_id} kept changing under us")


def outbound_below(
    tenant_id: str, conversation_id: str, status: str, watermark: datetime
) -> Iterator[StoredMessage]:
    """Outbound messages sent at or before ``watermark`` whose status is still below ``status``."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        conversation_ref(tenant_id, conversation_id)
        .collection("messages")
        .where(filter=FieldFilter("direction", "==", "out"))
        .where(filter=FieldFilter("statusRank", "<", STATUS_RANK.get(status, 0)))
    )
    for snapshot in query.stream():
        data = snapshot.to_dict() or {}
        sent_at = data.get("sentAt")
        if sent_at is None or sent_at <= watermark:
            yield _stored(tenant_id, conversation_id, snapshot)


# --- parked events -------------------------------------------------------------------------------


def park(
    tenant_id: str, conversation_id: str, parked_id: str, target_provider_id: str, event_json: str
) -> None:
    """Keep an event (receipt, reaction, edit, delete) until the message it is about lands."""
    conversation_ref(tenant_id, conversation_id).collection("parked").document(parked_id).set(
        {
            "targetProviderMessageId": target_provider_id,
            "event": event_json,
            "parkedAt": server_time(),
            "expireAt": datetime.now(UTC) + PARKED_TTL,
        }
    )


def parked_for(tenant_id: str, conversation_id: str, target_provider_id: str) -> list[tuple[str, str]]:
    """The (parked id, event JSON) pairs waiting for ``target_provider_id``."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        conversation_ref(tenant_id, conversation_id)
        .collection("parked")
        .where(filter=FieldFilter("targetProviderMessageId", "==", target_provider_id))
    )
    return [(s.id, (s.to_dict() or {})["event"]) for s in query.stream()]


def unpark(tenant_id: str, conversation_id: str, parked_id: str) -> None:
    """Remove a parked event once applied."""
    conversation_ref(tenant_id, conversation_id).collection("parked").document(parked_id).delete()


# --- quarantine ----------------------------------------------------------------------------------


def save_quarantine(item: QuarantinedItem) -> str:
    """Keep an item we could not use; the same item twice is kept once. Returns its id."""
    quarantine_id = item.quarantine_id
    client().collection("quarantine").document(quarantine_id).set(
        {
            "channel": item.channel,
            "reason": item.reason,
            "error": item.error,
            "raw": json.dumps(item.raw, default=str),
            "routeKey": item.route_key,
            "url": item.url,
            "receivedAt": item.received_at,
            "replayed": False,
            "expireAt": datetime.now(UTC) + QUARANTINE_TTL,
        },
        merge=True,
    )
    return quarantine_id


def list_quarantine(include_replayed: bool = False, limit: int = 500) -> list[tuple[str, QuarantinedItem]]:
    """Quarantined items (oldest first), as (id, item) pairs."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query: Any = client().collection("quarantine")
    if not include_replayed:
        query = query.where(filter=FieldFilter("replayed", "==", False))
    items = []
    for snapshot in query.limit(limit).stream():
        data = snapshot.to_dict() or {}
        items.append(
            (
                snapshot.id,
                QuarantinedItem(
                    channel=data["channel"],
                    reason=data["reason"],
                    error=data.get("error", ""),
                    raw=json.loads(data["raw"]),
                    received_at=data.get("receivedAt") or datetime.now(UTC),
                    route_key=data.get("routeKey"),
                    url=data.get("url"),
                ),
            )
        )
    items.sort(key=lambda pair: pair[1].received_at)
    return items


def mark_quarantine_replayed(quarantine_id: str, outcome: str) -> None:
    """Record that a quarantined item was replayed, and what came of it."""
    client().collection("quarantine").document(quarantine_id).update(
        {"replayed": True, "replayedAt": server_time(), "replayOutcome": outcome}
    )


def reset() -> None:
    """Forget the client and caches (tests point the process at a fresh emulator)."""
    client.cache_clear()
    _route_cache.clear()
