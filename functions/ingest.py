"""The Pub/Sub-triggered writer: one inbound event (or quarantine record) into Firestore.

Raising makes Pub/Sub redeliver (and, after the subscription's max attempts, dead-letter), so this
raises only for transient errors. A message it cannot decode is kept in quarantine and acknowledged.
Each new message is logged with what happened to its conversation's summary: ``written`` with it,
or ``deferred`` to a fold (a hot conversation, shared/inbox.py).
"""

from __future__ import annotations

import base64
import logging
import time
from typing import TYPE_CHECKING

from pydantic import ValidationError

from shared import bus, channels, inbox, logs
from shared.models import QuarantinedItem

if TYPE_CHECKING:  # pragma: no cover
    from cloudevents.http import CloudEvent

log = logging.getLogger("switchboard.ingest")


def handle(cloud_event: CloudEvent) -> None:
    """Apply one Pub/Sub message; raise only when a retry can help."""
    logs.configure()
    started = time.perf_counter()
    message = (cloud_event.data or {}).get("message", {})
    attributes = message.get("attributes") or {}
    data = base64.b64decode(message.get("data") or b"")
    channel = attributes.get("channel", "unknown")
    follow_up: dict[str, object] = {}
    try:
        if attributes.get("event_type") == bus.QUARANTINE_EVENT_TYPE:
            outcome = inbox.quarantine(QuarantinedItem.model_validate_json(data))
        else:
            event = inbox.decode_event(data)
            outcome = inbox.apply(event)
            if event.channel in channels.kinds():
                # What the provider needs once the event is stored (Telegram answers button
                # presses). If it fails, the error makes Pub/Sub redeliver: the hook runs again on
                # the duplicate, idempotently.
                follow_up = channels.adapter(event.channel).after_ingest(event, outcome)
    except ValidationError as exc:
        outcome = inbox.quarantine(
            QuarantinedItem(
                channel=channel,
                reason="invalid_event",
                error=str(exc)[:2000],
                raw=data.decode("utf-8", errors="replace"),
            )
        )
    log.info(
        "event ingested",
        extra={
            "fields": {
                "channel": channel,
                "event_type": attributes.get("event_type"),
                "event_id": attributes.get("event_id"),
                "result": outcome.result,
                "message_id": outcome.message_id,
                "summary": outcome.summary,  # a new message's summary: written now, or deferred
                "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
                **follow_up,
            }
        },
    )
