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

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from shared.config import settings
from shared.errors import MemberGone, TransientError, UnstorableDocument
from shared.models import QuarantinedItem
from shared.models.status import STATUS_RANK, advances, rank

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.firestore import Client, DocumentReference, DocumentSnapshot

ROUTE_CACHE_SECONDS = 30.0
PARKED_TTL = timedelta(days=7)
QUARANTINE_TTL = timedelta(days=30)
MAX_DOCUMENT_BYTES = 1_048_576  # Firestore: "Maximum size for a document"
MAX_NESTING = 20  # Firestore: "Maximum depth of fields in a map or array"
QUARANTINE_RAW_BYTES = 512 * 1024  # of a quarantined item's raw JSON kept (a document holds 1 MiB)
PRECONDITION_RETRIES = 8


@cache
def client() -> Client:
    """The process's Firestore client (honours FIRESTORE_EMULATOR_HOST), created on first use."""
    from google.cloud import firestore

    return firestore.Client(project=settings().project_id)


@cache
def _rpc() -> dict[str, Any]:
    """Bounded retries and timeouts for the calls on ingest's and deliver's paths: when Firestore is
    away, fail within ~20 s (so Pub/Sub / Cloud Tasks retry and, in the end, dead-letter) instead of
    blocking on the client's default multi-minute retry."""
    from google.api_core import retry

    transient = retry.if_exception_type(*transient_errors())
    return {
        "retry": retry.Retry(predicate=transient, initial=0.2, maximum=2.0, multiplier=2.0, timeout=15.0),
        "timeout": 10.0,
    }


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


def refused_errors() -> tuple[type[BaseException], ...]:
    """Refusals of a document itself (over 1 MiB, nested too deep, a bad value), ours or
    Firestore's: no retry can cure them, so the caller keeps the data elsewhere instead."""
    from google.api_core import exceptions as gexc

    return (gexc.InvalidArgument, UnstorableDocument)


def check_storable(data: dict[str, Any], name_bytes: int = 200) -> None:
    """Raise UnstorableDocument unless production Firestore would store ``data``: at most
    :data:`MAX_DOCUMENT_BYTES` by Firestore's storage-size rules and maps/arrays nested at most
    :data:`MAX_NESTING` deep ("Usage and limits"; the emulator enforces neither)."""
    size = name_bytes + 32 + _stored_size(data, 0)
    if size > MAX_DOCUMENT_BYTES:
        raise UnstorableDocument(f"a document of about {size} bytes is over Firestore's {MAX_DOCUMENT_BYTES}")


def _stored_size(value: Any, depth: int) -> int:
    """Firestore's storage size of a value (strings and field names: UTF-8 bytes + 1; numbers and
    timestamps: 8; booleans and null: 1), checking nesting on the way."""
    if isinstance(value, dict | list | tuple):
        if depth >= MAX_NESTING:
            raise UnstorableDocument(f"maps or arrays nested more than {MAX_NESTING} levels deep")
        if isinstance(value, dict):
            return sum(
                len(str(k).encode("utf-8", "replace")) + 1 + _stored_size(v, depth + 1)
                for k, v in value.items()
            )
        return sum(_stored_size(v, depth + 1) for v in value)
    if isinstance(value, str):
        return len(value.encode("utf-8", "replace")) + 1
    if isinstance(value, bytes):
        return len(value)
    if value is None or isinstance(value, bool):
        return 1
    return 8  # numbers, timestamps, sentinels


# --- routes, tenants, channels -------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """Which tenant and channel an external account id belongs to."""

    tenant_id: str
    channel_id: str
    signer: str | None = None  # the provider account a routed request must be signed by (Twilio)


_route_cache: dict[str, tuple[float, Route]] = {}


def resolve_route(route_key: str, *, fresh: bool = False) -> Route | None:
    """Look up ``routes/{route_key}``; cached briefly, since routes change rarely and every event reads
    it. ``fresh`` skips the cache (before refusing an event on what the cache says)."""
    now = time.monotonic()
    cached = _route_cache.get(route_key)
    if cached and cached[0] > now and not fresh:
        return cached[1]
    snapshot = client().collection("routes").document(route_key).get(**_rpc())
    route = None
    if snapshot.exists:
        data = snapshot.to_dict() or {}
        signer = data.get("signer")
        route = Route(
            tenant_id=data["tenantId"],
            channel_id=data["channelId"],
            signer=str(signer) if signer else None,
        )
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


def put_channel(
    tenant_id: str, channel_id: str, kind: str, external_id: str, name: str, signer: str | None = None
) -> None:
    """Connect a channel: write its document and the route that sends its webhooks to this tenant.

    ``signer`` is the provider account that signs this channel's webhooks when the request names
    it (Twilio's AccountSid): the route then accepts only events signed by that account."""
    db = client()
    batch = db.batch()
    batch.set(
        _channel_ref(tenant_id, channel_id),
        {"kind": kind, "externalId": external_id, "name": name},
        merge=True,
    )
    route: dict[str, Any] = {
        "tenantId": tenant_id,
        "channelId": channel_id,
        "kind": kind,
        "externalId": external_id,
    }
    if signer:
        route["signer"] = signer
    batch.set(db.collection("routes").document(f"{kind}:{external_id}"), route)
    batch.commit()
    _route_cache.pop(f"{kind}:{external_id}", None)


def bind_route_signer(route_key: str, signer: str) -> bool:
    """Record the account that must sign a route's webhooks; False if the route does not exist."""
    from google.api_core.exceptions import NotFound

    try:
        client().collection("routes").document(route_key).update({"signer": signer})
    except NotFound:
        return False
    _route_cache.pop(route_key, None)
    return True


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
    _channel_ref(tenant_id, channel_id).set({"health": health}, merge=True, **_rpc())


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

    check_storable(new.message)
    db = client()
    batch = db.batch()
    batch.create(message_ref(new.tenant_id, new.conversation_id, new.message_id), new.message)
    batch.set(conversation_ref(new.tenant_id, new.conversation_id), new.conversation, merge=True)
    if new.contact_id and new.contact:
        batch.set(contact_ref(new.tenant_id, new.contact_id), new.contact, merge=True)
    try:
        batch.commit(**_rpc())
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
        batch.commit(**_rpc())
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
        snapshot = ref.get(**_rpc())
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
    snapshot = message_ref(tenant_id, conversation_id, message_id).get(**_rpc())
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
    for snapshot in query.stream(**_rpc()):
        return _stored(tenant_id, conversation_id, snapshot)
    return None


def update_message(tenant_id: str, conversation_id: str, message_id: str, data: dict[str, Any]) -> None:
    """Apply field updates (dotted paths allowed) to an existing message."""
    message_ref(tenant_id, conversation_id, message_id).update(data, **_rpc())


def update_conversation(tenant_id: str, conversation_id: str, data: dict[str, Any]) -> None:
    """Merge fields into a conversation document (creating it if needed)."""
    conversation_ref(tenant_id, conversation_id).set(data, merge=True, **_rpc())


def get_conversation_versioned(tenant_id: str, conversation_id: str) -> Versioned:
    """A conversation's document with the version update_conversation_if tests."""
    return _versioned(conversation_ref(tenant_id, conversation_id).get(**_rpc()))


def update_conversation_if(tenant_id: str, conversation_id: str, data: dict[str, Any], version: Any) -> bool:
    """Update a conversation only if it has not changed since it was read; False if it has."""
    from google.api_core.exceptions import FailedPrecondition, NotFound

    try:
        conversation_ref(tenant_id, conversation_id).update(
            data, option=client().write_option(last_update_time=version), **_rpc()
        )
    except (FailedPrecondition, NotFound):
        return False
    return True


def get_conversation(tenant_id: str, conversation_id: str) -> dict[str, Any] | None:
    """A conversation's document, or None."""
    snapshot = conversation_ref(tenant_id, conversation_id).get(**_rpc())
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
        snapshot = ref.get(**_rpc())
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
            ref.update(update, option=client().write_option(last_update_time=snapshot.update_time), **_rpc())
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
    for snapshot in query.stream(**_rpc()):
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
    return [(s.id, (s.to_dict() or {})["event"]) for s in query.stream(**_rpc())]


def unpark(tenant_id: str, conversation_id: str, parked_id: str) -> None:
    """Remove a parked event once applied."""
    conversation_ref(tenant_id, conversation_id).collection("parked").document(parked_id).delete(**_rpc())


# --- quarantine ----------------------------------------------------------------------------------


def save_quarantine(item: QuarantinedItem) -> str:
    """Keep an item we could not use; the same item twice is kept once. Returns its id."""
    quarantine_id = item.quarantine_id
    raw = json.dumps(item.raw, default=str)
    kept: dict[str, Any] = {"raw": raw}
    if len(raw.encode("utf-8", errors="replace")) > QUARANTINE_RAW_BYTES:
        # A document holds 1 MiB at most: keep the head, the size and a digest to match the
        # provider's logs. Such an item could never be stored as a message anyway.
        encoded = raw.encode("utf-8", errors="replace")
        kept = {
            "raw": encoded[:QUARANTINE_RAW_BYTES].decode("utf-8", errors="ignore"),
            "rawTruncated": True,
            "rawBytes": len(encoded),
            "rawSha256": hashlib.sha256(encoded).hexdigest(),
        }
    client().collection("quarantine").document(quarantine_id).set(
        {
            "channel": item.channel,
            "reason": item.reason,
            "error": item.error,
            **kept,
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
                    raw=data["raw"] if data.get("rawTruncated") else json.loads(data["raw"]),
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
    _rpc.cache_clear()
    _route_cache.clear()


# --- operator ------------------------------------------------------------------------------------
# Reads and writes of the admin CLI (shared/cli.py): rare, never on a hot path.


def create_tenant(tenant_id: str, data: dict[str, Any]) -> bool:
    """Create a tenant document; False if the tenant already exists (nothing is overwritten)."""
    from google.api_core.exceptions import AlreadyExists

    try:
        client().collection("tenants").document(tenant_id).create(data)
    except AlreadyExists:
        return False
    return True


def update_channel(tenant_id: str, channel_id: str, data: dict[str, Any]) -> None:
    """Merge operator-managed fields into a channel document (``accountSid``, ``connectedAt``...)."""
    _channel_ref(tenant_id, channel_id).set(data, merge=True)


def list_channels(tenant_id: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """Every channel as (tenant id, channel id, document), of one tenant or of all of them."""
    if tenant_id is not None:
        snapshots = client().collection("tenants").document(tenant_id).collection("channels").stream()
    else:
        snapshots = client().collection_group("channels").stream()
    channels = []
    for snapshot in snapshots:
        tenant_ref = snapshot.reference.parent.parent
        if tenant_ref is None or tenant_ref.parent.id != "tenants":
            continue
        channels.append((tenant_ref.id, snapshot.id, snapshot.to_dict() or {}))
    channels.sort(key=lambda row: (row[0], row[1]))
    return channels


def quarantine_summaries(include_replayed: bool = False, limit: int = 500) -> list[dict[str, Any]]:
    """Quarantine records without their raw payload (oldest first): id, channel, reason, error,
    routeKey, receivedAt, replayed, replayOutcome."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query: Any = client().collection("quarantine")
    if not include_replayed:
        query = query.where(filter=FieldFilter("replayed", "==", False))
    rows = []
    for snapshot in query.limit(limit).stream():
        data = snapshot.to_dict() or {}
        rows.append(
            {
                "id": snapshot.id,
                "channel": data.get("channel"),
                "reason": data.get("reason"),
                "error": data.get("error", ""),
                "routeKey": data.get("routeKey"),
                "receivedAt": data.get("receivedAt"),
                "replayed": bool(data.get("replayed")),
                "replayOutcome": data.get("replayOutcome"),
            }
        )
    rows.sort(key=lambda row: (row["receivedAt"] is None, row["receivedAt"] or 0))
    return rows


# --- chat (apps, channels, posts, members) -----------------------------------------------------------
# The chat API (shared/chat/). An app is a tenant of kind "app" on the same tree as the support inbox:
#
#     apiKeys/{sha256 hex of the key}                  tenantId, prefix, createdAt (server-only)
#     tenants/{app}/users/{userId}                     name, avatar (upserted by the `token` operation)
#     tenants/{app}/conversations/{channelId}          kind group | direct | support, memberIds[] (the
#                                                      rules' membership test), summary (lastMessage...)
#     tenants/{app}/conversations/{c}/messages/{post}  a post (direction "in", sender {kind "user"})
#     tenants/{app}/conversations/{c}/members/{user}   role, muted, lastReadAt, lastReadMessageId,
#                                                      unreadCount, pushTokens[], settings
#     tenants/{app}/usage/{YYYY-MM}/shards/{n}         sharded monthly message counter
#     tenants/{app}/rateBuckets/{user}-{epoch second}  posts of one user in one second
#     tenants/{app}/pushOutbox/{id}                    notifications (local stack only, FCM otherwise)
#
# No transaction anywhere: a post is one batch (create the message, merge the channel summary with
# field transforms, Increment every other member's unreadCount, Increment a usage shard and the
# sender's rate bucket). Read pointers and like toggles use update_time preconditions.

# A batch (a commit) holds at most 500 writes. A post needs the message, the channel summary, a usage
# shard and a rate bucket besides one write per other member: channels with up to this many other
# members get their unread counts in the post's own batch (exact, atomic). Larger channels get the
# first CHAT_FANOUT_IN_BATCH there and the rest in follow-up batches, which are not atomic with the
# post (a crash between them leaves those members' counts short until their next setRead, which
# recomputes the exact number) and merge rather than update (a member who left meanwhile leaves a
# document without a role, which is not a membership). Production should move large fan-outs to a
# task queue.
CHAT_FANOUT_IN_BATCH = 450
CHAT_MEMBER_PAGE = 1000
USAGE_SHARDS = 10
RATE_BUCKET_TTL = timedelta(minutes=10)


@dataclass(frozen=True)
class Versioned:
    """A document read with the version a precondition can test (``update_time``)."""

    exists: bool
    data: dict[str, Any]
    update_time: Any


def _versioned(snapshot: DocumentSnapshot) -> Versioned:
    if not snapshot.exists:
        return Versioned(False, {}, None)
    return Versioned(True, snapshot.to_dict() or {}, snapshot.update_time)


def _tenant_ref(tenant_id: str) -> DocumentReference:
    return client().collection("tenants").document(tenant_id)


def _api_key_ref(key_hash: str) -> DocumentReference:
    return client().collection("apiKeys").document(key_hash)


def _member_ref(tenant_id: str, channel_id: str, user_id: str) -> DocumentReference:
    return conversation_ref(tenant_id, channel_id).collection("members").document(user_id)


def _app_user_ref(tenant_id: str, user_id: str) -> DocumentReference:
    return _tenant_ref(tenant_id).collection("users").document(user_id)


def _rate_bucket_ref(tenant_id: str, bucket_id: str) -> DocumentReference:
    return _tenant_ref(tenant_id).collection("rateBuckets").document(bucket_id)


def _usage_shards(tenant_id: str, month: str) -> Any:
    return _tenant_ref(tenant_id).collection("usage").document(month).collection("shards")


def create_app_tenant(
    app_id: str,
    tenant: dict[str, Any],
    key_hash: str,
    key: dict[str, Any],
    owner_slot: tuple[str, int] | None = None,
) -> bool:
    """Create an app's tenant document and its API key record together (both must be new), and with
    ``owner_slot`` (uid, n) the creator's n-th app slot ``developers/{uid}/apps/{n}``: False, and
    nothing written, if that slot is taken (a concurrent creation by the same account)."""
    from google.api_core.exceptions import AlreadyExists

    batch = client().batch()
    batch.create(_tenant_ref(app_id), tenant)
    batch.create(_api_key_ref(key_hash), key)
    if owner_slot is not None:
        batch.create(_app_slot_ref(*owner_slot), {"appId": app_id, "createdAt": server_time()})
    try:
        batch.commit(**_rpc())
    except AlreadyExists:
        if owner_slot is None:
            raise
        return False
    return True


def _app_slot_ref(uid: str, slot: int) -> DocumentReference:
    return client().collection("developers").document(uid).collection("apps").document(str(slot))


def apps_created_by(uid: str, limit: int) -> int:
    """How many app slots an account holds (at most ``limit`` are counted)."""
    apps = client().collection("developers").document(uid).collection("apps")
    return sum(1 for _ in apps.limit(limit).stream(**_rpc()))


def get_api_key(key_hash: str) -> dict[str, Any] | None:
    """The record of an API key by the SHA-256 of the key, or None."""
    snapshot = _api_key_ref(key_hash).get(**_rpc())
    return snapshot.to_dict() if snapshot.exists else None


def put_app_user(tenant_id: str, user_id: str, data: dict[str, Any]) -> None:
    """Create or update an app user's profile (name, avatar)."""
    _app_user_ref(tenant_id, user_id).set(data, merge=True, **_rpc())


def get_app_users(tenant_id: str, user_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Profiles of app users by id (missing users are absent), in one round trip."""
    if not user_ids:
        return {}
    refs = [_app_user_ref(tenant_id, user_id) for user_id in dict.fromkeys(user_ids)]
    return {s.id: s.to_dict() or {} for s in client().get_all(refs, **_rpc()) if s.exists}


@dataclass(frozen=True)
class ChatContext:
    """What one chat operation reads first, in one round trip: the channel, the caller's membership,
    the caller's profile and (for posts) the caller's current rate bucket."""

    channel: Versioned
    member: Versioned
    user: dict[str, Any]
    rate_bucket_count: int


def chat_context(
    tenant_id: str, channel_id: str, user_id: str, rate_bucket: str | None = None
) -> ChatContext:
    """Read a channel, the caller's member document and profile (and rate bucket) together."""
    refs = [
        conversation_ref(tenant_id, channel_id),
        _member_ref(tenant_id, channel_id, user_id),
        _app_user_ref(tenant_id, user_id),
    ]
    if rate_bucket:
        refs.append(_rate_bucket_ref(tenant_id, rate_bucket))
    found = {s.reference.path: s for s in client().get_all(refs, **_rpc())}
    snapshots = [found.get(ref.path) for ref in refs]
    channel, member, user = (
        _versioned(s) if s is not None else Versioned(False, {}, None) for s in snapshots[:3]
    )
    count = 0
    if rate_bucket and snapshots[3] is not None and snapshots[3].exists:
        count = int((snapshots[3].to_dict() or {}).get("count", 0))
    return ChatContext(channel, member, user.data, count)


def create_chat_channel(
    tenant_id: str, channel_id: str, channel: dict[str, Any], members: dict[str, dict[str, Any]]
) -> bool:
    """Create a channel with its first members atomically; False if the channel already exists
    (two concurrent creations of the same id: exactly one wins)."""
    from google.api_core.exceptions import AlreadyExists

    batch = client().batch()
    batch.create(conversation_ref(tenant_id, channel_id), channel)
    for user_id, member in members.items():
        batch.set(_member_ref(tenant_id, channel_id, user_id), member)
    try:
        batch.commit(**_rpc())
    except AlreadyExists:
        return False
    return True


def join_chat_channel(tenant_id: str, channel_id: str, user_id: str, member: dict[str, Any]) -> bool:
    """Add a member (document + the channel's ``memberIds``, and their join request gone); False if
    already a member."""
    from google.api_core.exceptions import AlreadyExists

    batch = client().batch()
    batch.create(_member_ref(tenant_id, channel_id, user_id), member)
    batch.delete(_join_request_ref(tenant_id, channel_id, user_id))  # answered by the join, if any
    batch.update(
        conversation_ref(tenant_id, channel_id),
        {
            "memberIds": _fs().ArrayUnion([user_id]),
            "memberCount": increment(1),
            "updatedAt": server_time(),
        },
    )
    try:
        batch.commit(**_rpc())
    except AlreadyExists:
        return False
    return True


def leave_chat_channel(tenant_id: str, channel_id: str, user_id: str) -> bool:
    """Remove a member (document + ``memberIds``); False if they were not a member."""
    from google.api_core.exceptions import NotFound

    db = client()
    batch = db.batch()
    batch.delete(_member_ref(tenant_id, channel_id, user_id), option=db.write_option(exists=True))
    batch.update(
        conversation_ref(tenant_id, channel_id),
        {
            "memberIds": _fs().ArrayRemove([user_id]),
            "memberCount": increment(-1),
            "updatedAt": server_time(),
        },
    )
    try:
        batch.commit(**_rpc())
    except NotFound:
        return False
    return True


def chat_members(
    tenant_id: str, channel_id: str, limit: int | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """A channel's members as (user id, member document): all of them (a post's fan-out), or at most
    ``limit``. Documents without a role (left behind by a large channel's follow-up fan-out) are not
    members."""
    query: Any = conversation_ref(tenant_id, channel_id).collection("members")
    if limit is not None:
        query = query.limit(limit)
    members = [(s.id, s.to_dict() or {}) for s in query.stream(**_rpc())]
    return [(user_id, data) for user_id, data in members if data.get("role")]


def get_chat_member(tenant_id: str, channel_id: str, user_id: str) -> Versioned:
    """A member document with its version."""
    return _versioned(_member_ref(tenant_id, channel_id, user_id).get(**_rpc()))


def update_chat_member(
    tenant_id: str, channel_id: str, user_id: str, data: dict[str, Any], if_version: Any = None
) -> datetime | None:
    """Update a member document (dotted paths allowed); with ``if_version`` only if it has not changed
    since it was read. Returns the write's commit time, or None when it changed or is gone."""
    from google.api_core.exceptions import FailedPrecondition, NotFound

    ref = _member_ref(tenant_id, channel_id, user_id)
    try:
        if if_version is None:
            result = ref.update(data, **_rpc())
        else:
            result = ref.update(data, option=client().write_option(last_update_time=if_version), **_rpc())
    except (FailedPrecondition, NotFound):
        return None
    return result.update_time or datetime.now(UTC)


def get_chat_members_of(tenant_id: str, channel_ids: list[str], user_id: str) -> dict[str, dict[str, Any]]:
    """One user's member documents in several channels (by channel id), in one round trip."""
    if not channel_ids:
        return {}
    refs = [_member_ref(tenant_id, channel_id, user_id) for channel_id in channel_ids]
    found: dict[str, dict[str, Any]] = {}
    for snapshot in client().get_all(refs, **_rpc()):
        if snapshot.exists:
            channel_ref = snapshot.reference.parent.parent
            if channel_ref is not None:
                found[channel_ref.id] = snapshot.to_dict() or {}
    return found


def chat_channels_of(tenant_id: str, user_id: str, limit: int = 500) -> list[tuple[str, dict[str, Any]]]:
    """The channels whose ``memberIds`` contain ``user_id``, as (channel id, document)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        _tenant_ref(tenant_id)
        .collection("conversations")
        .where(filter=FieldFilter("memberIds", "array_contains", user_id))
        .limit(limit)
    )
    return [(s.id, s.to_dict() or {}) for s in query.stream(**_rpc())]


@dataclass(frozen=True)
class NewPost:
    """Everything one post writes in its batch."""

    tenant_id: str
    channel_id: str
    post_id: str
    message: dict[str, Any]
    summary: dict[str, Any]
    recipients: tuple[str, ...]  # members whose unreadCount goes up by one
    usage_month: str | None = None
    usage_shard: int = 0
    rate_bucket: str | None = None


@dataclass(frozen=True)
class WrittenPost:
    """When a post was written: ``created_at`` is the value its server-timestamp fields got (taken
    when Firestore starts processing the request), ``committed_at`` the commit time. Under
    contention the two orders differ: a post stamped earlier may commit later."""

    created_at: datetime
    committed_at: datetime


def write_post(post: NewPost) -> WrittenPost | None:
    """Write a post, the channel summary, the recipients' unread counts, the usage shard and the
    sender's rate bucket in one batch. Returns when it was written, None if the post already exists
    (same deterministic id), and raises MemberGone if a recipient left meanwhile (the batch wrote
    nothing: read the members again)."""
    from google.api_core.exceptions import AlreadyExists, NotFound

    db = client()
    batch = db.batch()
    batch.create(message_ref(post.tenant_id, post.channel_id, post.post_id), post.message)
    batch.set(conversation_ref(post.tenant_id, post.channel_id), post.summary, merge=True)
    if post.usage_month:
        batch.set(
            _usage_shards(post.tenant_id, post.usage_month).document(str(post.usage_shard)),
            {"count": increment(1)},
            merge=True,
        )
    if post.rate_bucket:
        batch.set(
            _rate_bucket_ref(post.tenant_id, post.rate_bucket),
            {"count": increment(1), "expireAt": datetime.now(UTC) + RATE_BUCKET_TTL},
            merge=True,
        )
    now_batch, later = post.recipients[:CHAT_FANOUT_IN_BATCH], post.recipients[CHAT_FANOUT_IN_BATCH:]
    for user_id in now_batch:
        # update, not merge: a member who left between our read and this commit fails the batch
        # (NotFound) instead of coming back as a ghost document.
        batch.update(_member_ref(post.tenant_id, post.channel_id, user_id), {"unreadCount": increment(1)})
    try:
        results = batch.commit(**_rpc())
    except AlreadyExists:
        return None
    except NotFound as exc:
        raise MemberGone(f"a member of {post.channel_id} left during a post") from exc
    for start in range(0, len(later), CHAT_FANOUT_IN_BATCH):
        follow_up = db.batch()
        for user_id in later[start : start + CHAT_FANOUT_IN_BATCH]:
            follow_up.set(
                _member_ref(post.tenant_id, post.channel_id, user_id),
                {"unreadCount": increment(1)},
                merge=True,
            )
        follow_up.commit(**_rpc())
    committed = results[0].update_time
    stamps = [v.timestamp_value for v in results[0].transform_results if "timestamp_value" in v]
    return WrittenPost(created_at=stamps[0] if stamps else committed, committed_at=committed)


def get_post(tenant_id: str, channel_id: str, post_id: str) -> Versioned:
    """A post (message) with its version."""
    return _versioned(message_ref(tenant_id, channel_id, post_id).get(**_rpc()))


def update_post_if(tenant_id: str, channel_id: str, post_id: str, data: dict[str, Any], version: Any) -> bool:
    """Update a post only if it has not changed since it was read; False if it has."""
    from google.api_core.exceptions import FailedPrecondition, NotFound

    try:
        message_ref(tenant_id, channel_id, post_id).update(
            data, option=client().write_option(last_update_time=version), **_rpc()
        )
    except (FailedPrecondition, NotFound):
        return False
    return True


def list_posts(
    tenant_id: str, channel_id: str, before: tuple[datetime, str] | None, limit: int
) -> list[tuple[str, dict[str, Any]]]:
    """Up to ``limit`` messages of a channel, newest first (createdAt, then id, descending), strictly
    after the cursor position ``before`` (createdAt, id) of the previous page."""
    from google.cloud.firestore_v1.field_path import FieldPath

    messages = conversation_ref(tenant_id, channel_id).collection("messages")
    query = messages.order_by("createdAt", direction="DESCENDING").order_by(
        FieldPath.document_id(), direction="DESCENDING"
    )
    if before is not None:
        query = query.start_after(
            {"createdAt": before[0], FieldPath.document_id(): messages.document(before[1])}
        )
    return [(s.id, s.to_dict() or {}) for s in query.limit(limit).stream(**_rpc())]


def count_unread(tenant_id: str, channel_id: str, user_id: str, after: datetime | None) -> int:
    """The exact number of posts (and agents' replies) in a channel created after ``after`` by anyone
    but ``user_id``: two aggregation counts (everything visible after, minus the user's own after);
    agents' notes are not posts and are not counted.

    Production needs the composite indexes (direction, createdAt) and (sender.id, createdAt)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    messages: Any = conversation_ref(tenant_id, channel_id).collection("messages")
    visible = messages.where(filter=FieldFilter("direction", "in", ["in", "out"]))
    mine = messages.where(filter=FieldFilter("sender.id", "==", user_id))
    if after is not None:
        visible = visible.where(filter=FieldFilter("createdAt", ">", after))
        mine = mine.where(filter=FieldFilter("createdAt", ">", after))
    total = visible.count().get(**_rpc())[0][0].value
    own = mine.count().get(**_rpc())[0][0].value
    return int(total) - int(own)


def usage_total(tenant_id: str, month: str) -> int:
    """A sharded counter's value: the sum of its shards (at most USAGE_SHARDS documents)."""
    return sum(
        int((s.to_dict() or {}).get("count", 0))
        for s in _usage_shards(tenant_id, month).limit(USAGE_SHARDS * 2).stream(**_rpc())
    )


def put_push_outbox(tenant_id: str, entries: list[tuple[str, dict[str, Any]]]) -> None:
    """Write notifications to ``tenants/{t}/pushOutbox`` (local stand-in for FCM); ids are
    deterministic, so a retried post writes each notification once."""
    if not entries:
        return
    outbox = _tenant_ref(tenant_id).collection("pushOutbox")
    for start in range(0, len(entries), 500):
        batch = client().batch()
        for entry_id, entry in entries[start : start + 500]:
            batch.set(outbox.document(entry_id), entry)
        batch.commit(**_rpc())


def push_outbox(tenant_id: str) -> list[dict[str, Any]]:
    """Every notification in an app's push outbox (tests and the local stack read it)."""
    return [s.to_dict() or {} for s in _tenant_ref(tenant_id).collection("pushOutbox").stream()]


def remove_push_tokens(tenant_id: str, channel_id: str, user_id: str, tokens: list[str]) -> None:
    """Forget device tokens FCM refused as unregistered."""
    update_chat_member(tenant_id, channel_id, user_id, {"pushTokens": _fs().ArrayRemove(tokens)})


def field_path(*parts: str) -> str:
    """A field path for ``update`` whose parts may hold dots or other special characters (user ids)."""
    from google.cloud.firestore_v1.field_path import FieldPath

    return str(FieldPath(*parts).to_api_repr())


# --- chat: join requests (shared/chat/api.py) ------------------------------------------------------
# tenants/{app}/conversations/{channel}/joinRequests/{userId}: server-only (the rules grant no read);
# a join (join_chat_channel) deletes the joiner's request in its own batch.
JOIN_REQUEST_PAGE = 1000


def _join_request_ref(tenant_id: str, channel_id: str, user_id: str) -> DocumentReference:
    return conversation_ref(tenant_id, channel_id).collection("joinRequests").document(user_id)


def create_join_request(
    tenant_id: str, channel_id: str, user_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Record a join request unless the user already has one; the request as stored (an existing
    one is left as it is: asking again neither re-opens a declined request nor moves a pending one)."""
    from google.api_core.exceptions import AlreadyExists

    ref = _join_request_ref(tenant_id, channel_id, user_id)
    try:
        ref.create(data, **_rpc())
    except AlreadyExists:
        snapshot = ref.get(**_rpc())
        if snapshot.exists:
            return snapshot.to_dict() or {}
        ref.create(data, **_rpc())  # answered (joined) in between: ask afresh
    return data


def get_join_request(tenant_id: str, channel_id: str, user_id: str) -> dict[str, Any] | None:
    """A user's join request to a channel, or None."""
    snapshot = _join_request_ref(tenant_id, channel_id, user_id).get(**_rpc())
    return snapshot.to_dict() if snapshot.exists else None


def pending_join_requests(tenant_id: str, channel_id: str) -> list[tuple[str, dict[str, Any]]]:
    """A channel's pending join requests as (user id, request), at most JOIN_REQUEST_PAGE (one
    equality filter: no composite index)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        conversation_ref(tenant_id, channel_id)
        .collection("joinRequests")
        .where(filter=FieldFilter("status", "==", "pending"))
        .limit(JOIN_REQUEST_PAGE)
    )
    return [(s.id, s.to_dict() or {}) for s in query.stream(**_rpc())]


def app_tenant_ids() -> list[str]:
    """The ids of every chat app's tenant (kind ``app``): names only, no document fields."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = client().collection("tenants").where(filter=FieldFilter("kind", "==", "app")).select([])
    return [s.id for s in query.stream(**_rpc())]


def app_user_ids(tenant_id: str) -> Iterator[str]:
    """The ids of an app's users (``tenants/{app}/users``): names only, no document fields."""
    for snapshot in _tenant_ref(tenant_id).collection("users").select([]).stream(**_rpc()):
        yield snapshot.id


def decline_join_request(tenant_id: str, channel_id: str, user_id: str, decided_by: str | None) -> bool:
    """Mark a join request declined; False if there is none."""
    from google.api_core.exceptions import NotFound

    try:
        _join_request_ref(tenant_id, channel_id, user_id).update(
            {"status": "declined", "decidedAt": server_time(), "decidedBy": decided_by}, **_rpc()
        )
    except NotFound:
        return False
    return True
