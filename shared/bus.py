"""Publishing inbound events to Pub/Sub: the only Pub/Sub publisher code.

A webhook answers 200 only after :func:`publish` returned, which is after Pub/Sub confirmed every
message; anything else raises :class:`~shared.errors.PublishError` and the webhook answers 503, so
the provider retries (Meta for up to 36 h, WhatsApp 7 days) and nothing is lost.

Each event is one message: ``data`` is the event's JSON, attributes carry the route key, channel and
event type (so subscribers can filter without decoding), and the ordering key is the conversation,
so one conversation's events arrive in order. Quarantine records travel on the same topic with
``event_type=quarantine``, which keeps the webhook free of any Firestore client (cold starts).
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING, Any

from shared.config import settings
from shared.errors import PublishError
from shared.models import InboundEvent, QuarantinedItem

if TYPE_CHECKING:  # pragma: no cover - typing only; the client is imported lazily
    from google.cloud.pubsub_v1 import PublisherClient

log = logging.getLogger(__name__)

QUARANTINE_EVENT_TYPE = "quarantine"


@cache
def _publisher() -> PublisherClient:
    from google.cloud import pubsub_v1

    return pubsub_v1.PublisherClient(
        batch_settings=pubsub_v1.types.BatchSettings(
            max_messages=500, max_bytes=4_000_000, max_latency=0.002
        ),
        publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True),
    )


@cache
def _topic_path() -> str:
    config = settings()
    return f"projects/{config.project_id}/topics/{config.inbound_topic}"


def event_message(event: InboundEvent) -> tuple[bytes, dict[str, str], str]:
    """The Pub/Sub data, attributes and ordering key of one event."""
    attributes = {
        "route_key": event.route_key,
        "channel": event.channel,
        "event_type": event.kind,
        "event_id": event.event_id,
    }
    return event.model_dump_json().encode(), attributes, event.conversation_key


def quarantine_message(item: QuarantinedItem) -> tuple[bytes, dict[str, str], str]:
    """The Pub/Sub data, attributes and (empty) ordering key of a quarantine record."""
    attributes = {"channel": item.channel, "event_type": QUARANTINE_EVENT_TYPE, "reason": item.reason}
    return item.model_dump_json().encode(), attributes, ""


def publish(events: Iterable[InboundEvent], quarantined: Iterable[QuarantinedItem] = ()) -> int:
    """Publish events and quarantine records; return how many were confirmed.

    Raises PublishError unless every message was confirmed within the configured timeout."""
    messages = [event_message(e) for e in events] + [quarantine_message(q) for q in quarantined]
    if not messages:
        return 0
    return publish_raw(messages)


def publish_raw(messages: list[tuple[bytes, dict[str, str], str]]) -> int:
    """Publish already encoded (data, attributes, ordering key) triples and wait for them all."""
    publisher = _publisher()
    topic = _topic_path()
    futures: list[tuple[concurrent.futures.Future[Any], str]] = []
    try:
        for data, attributes, ordering_key in messages:
            futures.append(
                (publisher.publish(topic, data, ordering_key=ordering_key, **attributes), ordering_key)
            )
    except Exception as exc:  # the client raises before sending when it is misconfigured or closed
        _resume(publisher, topic, [key for _, key in futures])
        raise PublishError(f"could not hand {len(messages)} messages to Pub/Sub: {exc}") from exc
    done, pending = concurrent.futures.wait(
        [f for f, _ in futures], timeout=settings().publish_timeout_seconds
    )
    failed_keys = [key for future, key in futures if future in pending or future.exception() is not None]
    if failed_keys:
        _resume(publisher, topic, failed_keys)
        first = next((f.exception() for f, _ in futures if f in done and f.exception() is not None), None)
        raise PublishError(
            f"{len(failed_keys)} of {len(messages)} publishes not confirmed: {first or 'timeout'}"
        )
    return len(messages)


def _resume(publisher: PublisherClient, topic: str, ordering_keys: list[str]) -> None:
    # After a failed publish with an ordering key the client pauses that key; the provider will
    # retry the whole webhook, so let the key publish again.
    for key in set(ordering_keys):
        if key:
            try:
                publisher.resume_publish(topic, key)
            except Exception:  # resuming an unpaused key is harmless; never mask the real error
                log.debug("resume_publish failed for an ordering key", exc_info=True)


def reset() -> None:
    """Forget the cached client and topic (tests change the environment between stacks)."""
    _publisher.cache_clear()
    _topic_path.cache_clear()
