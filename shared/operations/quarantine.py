"""Quarantined items: which tenant one belongs to, replaying what now parses or routes, and
discarding with a reason. ``python -m shared.cli replay-quarantine`` / ``quarantine discard`` and the
operations page's buttons call these same functions.

An item belongs to a tenant when its route key resolves to one of the tenant's channels now: an
unrouted message becomes its tenant's once the channel is connected (and is replayable then). Items
that name no route (a body no parser could read) belong to no tenant: only the operator's CLI sees
them, so no workspace ever sees another's customers.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any

from shared import channels
from shared.errors import Refused
from shared.inbound import Normalized, normalize, parse_into
from shared.operations.masking import mask, mask_text

if TYPE_CHECKING:  # pragma: no cover
    from shared.auth import Caller
    from shared.models import QuarantinedItem

log = logging.getLogger("switchboard.operations")

PENDING_LIMIT = 500  # items read a listing or a replay


def tenant_of(route_key: str | None) -> str | None:
    """The tenant the route key belongs to now, or None."""
    from shared import store

    if not route_key:
        return None
    route = store.resolve_route(route_key)
    return route.tenant_id if route else None


def replay_one(reason: str, channel: str, raw: object, url: str | None = None) -> tuple[str, Normalized]:
    """Re-run one quarantined item; return an outcome word and what it now gives."""
    from shared import inbox, store

    result = Normalized()
    if reason == "unknown_route":
        event = inbox.decode_event(json.dumps(raw))
        if store.resolve_route(event.route_key) is None:
            return "still-unrouted", result
        result.events.append(event)
        return "published", result
    if reason == "foreign_signer":
        # Published again only once its route is bound to the account that signed it (a route
        # connected before ingest checked signers, then bound by bind-route-signers).
        event = inbox.decode_event(json.dumps(raw))
        route = store.resolve_route(event.route_key)
        if route is None or route.signer != event.signer:
            return "still-foreign", result
        result.events.append(event)
        return "published", result
    if reason == "unstorable" and not isinstance(raw, dict):
        return "not-replayable", result  # kept truncated: too large to have been stored whole
    if reason == "invalid_event":
        result.events.append(inbox.decode_event(raw if isinstance(raw, str) else json.dumps(raw)))
        return "published", result
    adapter = channels.adapter(channel)
    if reason == "invalid_body":
        result = normalize(adapter, str(raw).encode(), url)
    elif isinstance(raw, dict):
        parse_into(adapter, raw, result)
    if result.quarantined:
        return "still-failing", Normalized(events=[])
    return "published", result


def replay(
    actor: Caller | None,
    *,
    tenant_id: str | None = None,
    only: set[str] | None = None,
    dry_run: bool = False,
) -> list[dict[str, Any]]:
    """Replay the pending items that now succeed (of ``tenant_id`` only, and only the ids in
    ``only``, when given): publish their events and mark them replayed. Returns one row per item
    tried: {id, reason, outcome, events}. Each published item is recorded in its tenant's audit log
    as ``quarantine.replay`` by ``actor``."""
    from shared import bus, store

    rows = []
    for quarantine_id, item in store.list_quarantine(limit=PENDING_LIMIT):
        if only is not None and quarantine_id not in only:
            continue
        owner = tenant_of(item.route_key)
        if tenant_id is not None and owner != tenant_id:
            continue
        try:
            outcome, result = replay_one(item.reason, item.channel, item.raw, item.url)
        except Exception as exc:  # noqa: BLE001 - one bad record must not stop the replay of the others
            outcome, result = f"error:{type(exc).__name__}", Normalized()
        if outcome == "published" and not dry_run:
            bus.publish(result.events)
            store.mark_quarantine_replayed(quarantine_id, f"published {len(result.events)} events")
            _audit(actor, "quarantine.replay", quarantine_id, item, owner, {"events": len(result.events)})
        rows.append(
            {"id": quarantine_id, "reason": item.reason, "outcome": outcome, "events": len(result.events)}
        )
    return rows


def discard(actor: Caller | None, quarantine_id: str, reason: str, *, tenant_id: str | None = None) -> bool:
    """Set one pending item aside for good with ``reason`` (of ``tenant_id`` only, when given);
    False when it was replayed or discarded already. Recorded as ``quarantine.discard``."""
    from shared import store

    record = store.get_quarantine(quarantine_id)
    owner = tenant_of(record.get("routeKey")) if record else None
    if record is None or (tenant_id is not None and owner != tenant_id):
        raise Refused("not_found", f"no quarantined item {quarantine_id}", 404)
    by = actor.uid if actor else "operator"
    if not store.discard_quarantine(quarantine_id, reason, by):
        return False
    item_details = {"reason": record.get("reason"), "channel": record.get("channel")}
    _audit(actor, "quarantine.discard", quarantine_id, None, owner, {"why": reason, **item_details})
    return True


def _audit(
    actor: Caller | None,
    action: str,
    quarantine_id: str,
    item: QuarantinedItem | None,
    tenant_id: str | None,
    details: dict[str, Any],
) -> None:
    """One audit entry in the item's tenant (items of no tenant have no log to go to)."""
    if actor is None or tenant_id is None:
        return
    from shared import audit

    if item is not None:
        details = {"reason": item.reason, "channel": item.channel, **details}
    target = {"kind": "quarantine", "id": quarantine_id, "name": str(details.get("reason") or "")}
    audit.record(actor, action, target, details=details, tenant_id=tenant_id)


def pending(
    tenant_id: str | None, *, reveal: bool = False, limit: int = PENDING_LIMIT
) -> list[dict[str, Any]]:
    """Pending items (of ``tenant_id`` only, when given), oldest first: id, channel, reason, error,
    routeKey, receivedAtMs and ``raw`` (the parsed JSON, personal data masked unless ``reveal``)."""
    from shared import store

    rows = []
    for quarantine_id, item in store.list_quarantine(limit=limit):
        if tenant_id is not None and tenant_of(item.route_key) != tenant_id:
            continue
        raw: Any = item.raw
        if isinstance(raw, str):
            with contextlib.suppress(ValueError):
                raw = json.loads(raw)
        if not reveal:
            raw = mask_text(raw) if isinstance(raw, str) else mask(raw)
        rows.append(
            {
                "id": quarantine_id,
                "channel": item.channel,
                "reason": item.reason,
                "error": item.error[:2000],
                "routeKey": item.route_key,
                "receivedAtMs": int(item.received_at.timestamp() * 1000),
                "raw": raw,
            }
        )
    return rows
