"""The dead-letter review subscription (inbound events Pub/Sub gave up on): scan without removing,
replay (publish again, then acknowledge) and discard (acknowledge with a reason). The CLI's
``dead-letters list|replay|discard`` and the operations page call these same functions.

A dead letter belongs to the tenant its ``route_key`` attribute resolves to now (see
:func:`shared.operations.quarantine.tenant_of`); a page's admin sees and acts on their own only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.errors import OperatorError
from shared.operations.masking import mask, mask_text

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.pubsub_v1 import SubscriberClient
    from google.pubsub_v1.types import ReceivedMessage

    from shared.auth import Caller

log = logging.getLogger("switchboard.operations")

PULL_BATCH = 100
# A pull waits until a message is available or this deadline: an empty answer means none is left.
PULL_TIMEOUT_SECONDS = 3.0
# A glance (the operations page's listing, revealing one) asks Pub/Sub to answer at once with what
# it has (``return_immediately``): ~2 s less per page load, measured with bench/operations_page.py.
# Pub/Sub may then answer fewer than are waiting (its documented trade-off): a view may miss a dead
# letter for a moment, an action never does, since replay, discard and erasure wait for an empty pull.
GLANCE_TIMEOUT_SECONDS = 10.0
MAX_SCANNED = 5000  # dead letters looked at when filtering
DEAD_LETTER_ATTRIBUTE_PREFIX = "CloudPubSubDeadLetter"  # added by Pub/Sub when it dead-letters

Select = Callable[["ReceivedMessage"], bool]


def subscriber() -> SubscriberClient:
    from google.cloud import pubsub_v1

    return pubsub_v1.SubscriberClient()


def subscription_path(client: SubscriberClient) -> str:
    from shared.config import settings

    config = settings()
    if not config.dead_letter_subscription:
        raise OperatorError("SWITCHBOARD_DEAD_LETTER_SUBSCRIPTION is empty: which subscription to read?")
    return str(client.subscription_path(config.project_id, config.dead_letter_subscription))


def _pull(client: SubscriberClient, path: str, count: int, *, wait: bool = True) -> list[ReceivedMessage]:
    from google.api_core import exceptions as gexc

    request: dict[str, Any] = {"subscription": path, "max_messages": count}
    if not wait:
        request["return_immediately"] = True
    try:
        response = client.pull(
            request=request, timeout=PULL_TIMEOUT_SECONDS if wait else GLANCE_TIMEOUT_SECONDS
        )
    except gexc.DeadlineExceeded:  # nothing arrived while the server held the pull open
        return []
    return list(response.received_messages)


def release(client: SubscriberClient, path: str, ack_ids: Sequence[str]) -> None:
    """Give messages back at once (ack deadline 0): they stay in the subscription."""
    for start in range(0, len(ack_ids), 500):
        client.modify_ack_deadline(
            request={
                "subscription": path,
                "ack_ids": list(ack_ids[start : start + 500]),
                "ack_deadline_seconds": 0,
            }
        )


def acknowledge(client: SubscriberClient, path: str, ack_ids: Sequence[str]) -> None:
    for start in range(0, len(ack_ids), 500):
        client.acknowledge(request={"subscription": path, "ack_ids": list(ack_ids[start : start + 500])})


def record(received: ReceivedMessage) -> dict[str, Any]:
    """What an operator sees of a dead letter: ids, channel, attributes and times, never the body
    (it holds customers' messages) nor the ordering key (it holds customers' ids)."""
    message = received.message
    attributes = dict(message.attributes)
    return {
        "messageId": message.message_id,
        "eventId": attributes.get("event_id"),
        "eventType": attributes.get("event_type"),
        "channel": attributes.get("channel"),
        "routeKey": attributes.get("route_key"),
        "publishTime": message.publish_time,
        "deliveryAttempt": received.delivery_attempt or None,
        "bytes": len(message.data),
        "attributes": attributes,
    }


def page_record(received: ReceivedMessage, *, reveal: bool) -> dict[str, Any]:
    """:func:`record` for the operations page: times in ms and the body, masked unless ``reveal``."""
    row = record(received)
    published = row.pop("publishTime")
    row["publishTimeMs"] = int(published.timestamp() * 1000) if isinstance(published, datetime) else None
    text = bytes(received.message.data).decode("utf-8", errors="replace")
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = text
    row["raw"] = body if reveal else (mask_text(body) if isinstance(body, str) else mask(body))
    return row


def scan(
    client: SubscriberClient,
    path: str,
    limit: int,
    select: Select | None = None,
    on_batch: Callable[[list[ReceivedMessage]], None] | None = None,
    *,
    wait: bool = True,
) -> tuple[list[ReceivedMessage], list[str]]:
    """Pull up to ``limit`` dead letters (only those ``select`` accepts, if given), acknowledging none.
    ``wait=False`` is a glance: each pull answers at once with what Pub/Sub has to hand.

    ``on_batch`` is called with each batch of selected messages as it arrives (replay publishes and
    acknowledges them there). Returns the selected messages and the ack ids of the others, which the
    caller must release once it is done (so that a later pull in this scan does not see them again)."""
    selected: list[ReceivedMessage] = []
    others: list[str] = []
    seen: set[str] = set()
    scanned = 0
    while len(selected) < limit and scanned < max(limit, MAX_SCANNED):
        batch = _pull(
            client, path, PULL_BATCH if select else min(PULL_BATCH, limit - len(selected)), wait=wait
        )
        if not batch:
            break
        chosen: list[ReceivedMessage] = []
        for received in batch:
            scanned += 1
            message_id = received.message.message_id
            wanted = select is None or select(received)
            if message_id in seen or not wanted or len(selected) + len(chosen) >= limit:
                others.append(received.ack_id)
            else:
                chosen.append(received)
            seen.add(message_id)
        selected.extend(chosen)
        if chosen and on_batch is not None:
            on_batch(chosen)
    return selected, others


def replay_message(received: ReceivedMessage) -> tuple[bytes, dict[str, str], str]:
    """The (data, attributes, ordering key) to publish again: the original message, without the
    attributes Pub/Sub added when it dead-lettered it."""
    message = received.message
    attributes = {
        key: value
        for key, value in message.attributes.items()
        if not key.startswith(DEAD_LETTER_ATTRIBUTE_PREFIX)
    }
    return bytes(message.data), attributes, message.ordering_key


def selector(event_ids: set[str] | None = None, tenant_id: str | None = None) -> Select | None:
    """Which dead letters an action is about: these event ids, of this tenant (None: all)."""
    if not event_ids and tenant_id is None:
        return None
    from shared.operations.quarantine import tenant_of

    def wanted(received: ReceivedMessage) -> bool:
        attributes = received.message.attributes
        if event_ids and attributes.get("event_id") not in event_ids:
            return False
        return tenant_id is None or tenant_of(attributes.get("route_key")) == tenant_id

    return wanted


def listing(
    limit: int,
    select: Select | None,
    show: Callable[[ReceivedMessage], dict[str, Any]],
    *,
    wait: bool = True,
) -> list[dict[str, Any]]:
    """The dead letters ``select`` accepts, shown by ``show``, left in the subscription (``wait``:
    see :func:`scan`)."""
    client = subscriber()
    try:
        path = subscription_path(client)
        selected, others = scan(client, path, limit, select, wait=wait)
        try:
            return [show(received) for received in selected]
        finally:
            release(client, path, [r.ack_id for r in selected] + others)
    finally:
        client.close()


def replay(
    actor: Caller | None,
    limit: int,
    select: Select | None,
    *,
    dry_run: bool = False,
    emit: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Publish the selected dead letters to the inbound topic again, acknowledging each batch once
    Pub/Sub confirmed it (a failure leaves the batch in place: replaying twice is harmless, ingest is
    idempotent). Returns their records with an ``outcome`` (``replayed`` / ``would-replay``), each
    also handed to ``emit`` as it happens; each replayed one is audited as ``deadletter.replay``."""
    from shared import bus

    client = subscriber()
    done: list[dict[str, Any]] = []

    def report(row: dict[str, Any]) -> None:
        done.append(row)
        if emit is not None:
            emit(row)

    try:
        path = subscription_path(client)

        def republish(batch: list[ReceivedMessage]) -> None:
            try:
                bus.publish_raw([replay_message(received) for received in batch])
            except BaseException:
                release(client, path, [received.ack_id for received in batch])
                raise
            acknowledge(client, path, [received.ack_id for received in batch])
            for received in batch:
                row = {**record(received), "outcome": "replayed"}
                _audit(actor, "deadletter.replay", row, {})
                report(row)

        selected: list[ReceivedMessage] = []
        others: list[str] = []
        try:
            selected, others = scan(client, path, limit, select, on_batch=None if dry_run else republish)
            if dry_run:
                for received in selected:
                    report({**record(received), "outcome": "would-replay"})
        finally:
            release(client, path, others + ([r.ack_id for r in selected] if dry_run else []))
    finally:
        client.close()
    return done


def discard(actor: Caller | None, limit: int, select: Select | None, reason: str) -> list[dict[str, Any]]:
    """Acknowledge the selected dead letters without publishing them (gone for good), each audited
    as ``deadletter.discard`` with ``reason``. Returns their records."""
    client = subscriber()
    try:
        path = subscription_path(client)
        selected, others = scan(client, path, limit, select)
        try:
            acknowledge(client, path, [r.ack_id for r in selected])
        finally:
            release(client, path, others)
    finally:
        client.close()
    rows = []
    for received in selected:
        row = {**record(received), "outcome": "discarded"}
        log.info(
            "dead letter discarded", extra={"fields": {"event_id": row["eventId"], "reason": reason[:200]}}
        )
        _audit(actor, "deadletter.discard", row, {"why": reason})
        rows.append(row)
    return rows


def _audit(actor: Caller | None, action: str, row: dict[str, Any], details: dict[str, Any]) -> None:
    from shared.operations.quarantine import tenant_of

    tenant_id = tenant_of(row.get("routeKey"))
    if actor is None or tenant_id is None:
        return
    from shared import audit

    target = {
        "kind": "deadletter",
        "id": str(row.get("eventId") or row.get("messageId")),
        "name": str(row.get("eventType") or ""),
    }
    audit.record(
        actor, action, target, details={"channel": row.get("channel"), **details}, tenant_id=tenant_id
    )


def oldest_age_seconds(rows: list[dict[str, Any]], now: datetime | None = None) -> float | None:
    """Age of the oldest of ``rows`` (page records), or None when there are none."""
    times = [row["publishTimeMs"] for row in rows if row.get("publishTimeMs")]
    if not times:
        return None
    now_ms = (now or datetime.now(UTC)).timestamp() * 1000
    return max(0.0, (now_ms - min(times)) / 1000)
