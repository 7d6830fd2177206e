"""functions-framework entry points: one name per deployed function, nothing else.

Every function deploys this same source. Heavy clients (Firestore, Pub/Sub, Tasks, firebase-admin)
are created lazily on first use, so a webhook's cold start pays only for what it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from functions import deliver as deliver_target
from functions import ingest as ingest_trigger
from functions import send, webhook

if TYPE_CHECKING:  # pragma: no cover
    import flask
    from cloudevents.http import CloudEvent

__all__ = [
    "agent_api",
    "deliver",
    "ingest",
    "send_message",
    "webhook_instagram",
    "webhook_messenger",
    "webhook_whatsapp",
]


@functions_framework.http
def webhook_messenger(request: flask.Request) -> webhook.Response:
    """Facebook Messenger webhook (page subscriptions)."""
    return webhook.handle("messenger", request)


@functions_framework.http
def webhook_instagram(request: flask.Request) -> webhook.Response:
    """Instagram messaging webhook."""
    return webhook.handle("instagram", request)


@functions_framework.http
def webhook_whatsapp(request: flask.Request) -> webhook.Response:
    """WhatsApp Cloud API webhook."""
    return webhook.handle("whatsapp", request)


@functions_framework.cloud_event
def ingest(cloud_event: CloudEvent) -> None:
    """Pub/Sub push from ``inbound-events``: apply one event to Firestore."""
    ingest_trigger.handle(cloud_event)


@functions_framework.http
def send_message(request: flask.Request) -> send.Response:
    """Agents' replies, notes and reactions (Firebase ID token): queued for delivery."""
    return send.send_message(request)


@functions_framework.http
def agent_api(request: flask.Request) -> send.Response:
    """Agents' conversation changes: assign, status, mark read (Firebase ID token)."""
    return send.agent_api(request)


@functions_framework.http
def deliver(request: flask.Request) -> send.Response:
    """Cloud Tasks target: one provider call per queued message."""
    return deliver_target.handle(request)
