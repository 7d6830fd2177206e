"""Deterministic document ids: the same provider fact always lands on the same document.

Idempotency comes from these, not from locks: a redelivered event computes the same message id and
its ``create()`` fails with AlreadyExists, which Switchboard acknowledges as a duplicate.
"""

from __future__ import annotations

import hashlib


def doc_id(kind: str, *parts: str) -> str:
    """A Firestore-safe id (no ``/``, fixed length) derived from ``parts``."""
    digest = hashlib.sha256("\x1f".join((kind, *parts)).encode()).hexdigest()
    return f"{kind[:2]}{digest[:30]}"


def message_id(channel_id: str, provider_message_id: str) -> str:
    """Id of an inbound (or provider-app) message: from the channel and the provider's message id."""
    return doc_id("msg", channel_id, provider_message_id)


def outbound_message_id(conversation_id: str, client_message_id: str) -> str:
    """Id of a message an agent or app sends: from the client's idempotency key (double clicks)."""
    return doc_id("out", conversation_id, client_message_id)


def conversation_id(channel_id: str, contact_external_id: str) -> str:
    """Id of the support conversation between a channel and one customer."""
    return doc_id("conv", channel_id, contact_external_id)


def contact_id(channel_id: str, contact_external_id: str) -> str:
    """Id of a customer as seen on one channel."""
    return doc_id("contact", channel_id, contact_external_id)


def parked_id(event_id: str) -> str:
    """Id of an event parked until its target message lands."""
    return doc_id("park", event_id)
