"""The operator's side of the store: routes, tenants, channels (provider accounts), agents, channel
health and quarantine records.

    routes/{kind}:{externalId}                    tenantId, channelId, signer (the account that signs)
    quarantine/{id}                               items we could not use, replayable
    tenants/{t}                                   name, plan
    tenants/{t}/channels/{c}                      kind, externalId, name, health
    tenants/{t}/agents/{uid}                      name, email, role

Ingest reads the route of every event (cached briefly); the rest is written by the operator CLI
(shared/cli.py) and read rarely, never on a hot path.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.models import QuarantinedItem
from shared.store._client import _cleared_on_reset, _rpc, client, delete_field, server_time

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.firestore import DocumentReference

ROUTE_CACHE_SECONDS = 30.0
QUARANTINE_TTL = timedelta(days=30)
QUARANTINE_RAW_BYTES = 512 * 1024  # of a quarantined item's raw JSON kept (a document holds 1 MiB)


# --- routes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """Which tenant and channel an external account id belongs to."""

    tenant_id: str
    channel_id: str
    signer: str | None = None  # the provider account a routed request must be signed by (Twilio)


_route_cache: dict[str, tuple[float, Route]] = _cleared_on_reset({})


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


def bind_route_signer(route_key: str, signer: str) -> bool:
    """Record the account that must sign a route's webhooks; False if the route does not exist."""
    from google.api_core.exceptions import NotFound

    try:
        client().collection("routes").document(route_key).update({"signer": signer})
    except NotFound:
        return False
    _route_cache.pop(route_key, None)
    return True


# --- tenants, channels, agents -------------------------------------------------------------------


def put_tenant(tenant_id: str, data: dict[str, Any]) -> None:
    """Create or update a tenant document."""
    client().collection("tenants").document(tenant_id).set(data, merge=True)


def create_tenant(tenant_id: str, data: dict[str, Any]) -> bool:
    """Create a tenant document; False if the tenant already exists (nothing is overwritten)."""
    from google.api_core.exceptions import AlreadyExists

    try:
        client().collection("tenants").document(tenant_id).create(data)
    except AlreadyExists:
        return False
    return True


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
    # connectedAt: channel health counts "silent for too long" from here until a webhook arrives;
    # connecting again (reconnect) starts the count again and clears a disconnection.
    batch.set(
        _channel_ref(tenant_id, channel_id),
        {
            "kind": kind,
            "externalId": external_id,
            "name": name,
            "connectedAt": server_time(),
            "disconnectedAt": delete_field(),
        },
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


def disconnect_channel(tenant_id: str, channel_id: str, route_key: str) -> bool:
    """Mark a channel disconnected and delete its route if the route is still this channel's (one
    batch); the channel document stays, so its conversations keep their channel's name. Returns
    whether the route was deleted."""
    db = client()
    route_ref = db.collection("routes").document(route_key)
    route = route_ref.get(**_rpc())
    owned = route.exists and (route.get("tenantId"), route.get("channelId")) == (tenant_id, channel_id)
    batch = db.batch()
    batch.set(_channel_ref(tenant_id, channel_id), {"disconnectedAt": server_time()}, merge=True)
    if owned:
        batch.delete(route_ref, option=db.write_option(last_update_time=route.update_time))
    batch.commit()
    _route_cache.pop(route_key, None)
    return bool(owned)


def get_channel(tenant_id: str, channel_id: str) -> dict[str, Any] | None:
    """A channel's document, or None."""
    snapshot = _channel_ref(tenant_id, channel_id).get()
    return snapshot.to_dict() if snapshot.exists else None


def update_channel(tenant_id: str, channel_id: str, data: dict[str, Any]) -> None:
    """Merge operator-managed fields into a channel document (``accountSid``, ``connectedAt``...)."""
    _channel_ref(tenant_id, channel_id).set(data, merge=True)


def update_channel_health(tenant_id: str, channel_id: str, health: dict[str, Any]) -> None:
    """Merge fields into a channel's ``health`` map (lastWebhookAt, lastError, tokenExpiresAt...)."""
    _channel_ref(tenant_id, channel_id).set({"health": health}, merge=True, **_rpc())


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
        data = snapshot.to_dict() or {}
        if "connectedAt" not in data and snapshot.create_time is not None:
            # Channels connected before connectedAt was written: they were connected when created.
            data["connectedAt"] = snapshot.create_time
        channels.append((tenant_ref.id, snapshot.id, data))
    channels.sort(key=lambda row: (row[0], row[1]))
    return channels


def _channel_ref(tenant_id: str, channel_id: str) -> DocumentReference:
    return client().collection("tenants").document(tenant_id).collection("channels").document(channel_id)


def put_agent(tenant_id: str, uid: str, data: dict[str, Any]) -> None:
    """Create or update an agent's directory entry (name, email, role) in a tenant."""
    client().collection("tenants").document(tenant_id).collection("agents").document(uid).set(
        data, merge=True
    )


def get_agent(tenant_id: str, uid: str) -> dict[str, Any] | None:
    """An agent's directory entry, or None."""
    snapshot = client().collection("tenants").document(tenant_id).collection("agents").document(uid).get()
    return snapshot.to_dict() if snapshot.exists else None


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


def quarantine_records(
    route_keys: Sequence[str], *, unrouted: bool = False
) -> list[tuple[str, dict[str, Any]]]:
    """Quarantine records whose ``routeKey`` is one of ``route_keys`` and, with ``unrouted``, those
    naming no route, replayed and discarded ones included: (id, record as stored, ``raw`` JSON text)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    collection = client().collection("quarantine")
    queries: list[Any] = [
        collection.where(filter=FieldFilter("routeKey", "in", list(route_keys[start : start + 30])))
        for start in range(0, len(route_keys), 30)
    ]
    if unrouted:
        queries.append(collection.where(filter=FieldFilter("routeKey", "==", None)))
    found: dict[str, dict[str, Any]] = {}
    for query in queries:
        for snapshot in query.stream(**_rpc()):
            found[snapshot.id] = snapshot.to_dict() or {}
    return sorted(found.items())


def mark_quarantine_replayed(quarantine_id: str, outcome: str) -> None:
    """Record that a quarantined item was replayed, and what came of it."""
    client().collection("quarantine").document(quarantine_id).update(
        {"replayed": True, "replayedAt": server_time(), "replayOutcome": outcome}
    )


def get_quarantine(quarantine_id: str) -> dict[str, Any] | None:
    """One quarantine record as stored (``raw`` is JSON text), or None."""
    snapshot = client().collection("quarantine").document(quarantine_id).get(**_rpc())
    return (snapshot.to_dict() or {}) if snapshot.exists else None


def discard_quarantine(quarantine_id: str, reason: str, by: str) -> bool:
    """Set a quarantined item aside for good, with the reason: it leaves the pending list (as a
    replayed one does) and is never replayed. False if it was already handled or is gone."""
    from google.api_core.exceptions import FailedPrecondition, NotFound

    reference = client().collection("quarantine").document(quarantine_id)
    snapshot = reference.get(**_rpc())
    if not snapshot.exists or (snapshot.to_dict() or {}).get("replayed"):
        return False
    try:
        reference.update(
            {
                "replayed": True,
                "discarded": True,
                "discardReason": reason,
                "discardedBy": by,
                "replayedAt": server_time(),
                "replayOutcome": f"discarded: {reason}",
            },
            option=client().write_option(last_update_time=snapshot.update_time),
        )
    except (FailedPrecondition, NotFound):
        return False  # replayed or discarded by someone else a moment ago
    return True
