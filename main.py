"""functions-framework entry points: one name per deployed function, nothing else.

Every function deploys this same source, so each entry point imports its implementation on first
call: a webhook instance never loads the Firestore, Tasks or firebase-admin code that ingest, deliver
or send_message need, and heavy clients are created lazily on first use. Cold starts pay only for
what the function uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import functions_framework

if TYPE_CHECKING:  # pragma: no cover
    import flask
    from cloudevents.http import CloudEvent

__all__ = [
    "agent_api",
    "chat_api",
    "create_app",
    "deliver",
    "ingest",
    "send_message",
    "webhook_instagram",
    "webhook_messenger",
    "webhook_telegram",
    "webhook_twilio",
    "webhook_whatsapp",
]

Response = tuple[str, int, dict[str, str]]


def _webhook(kind: str, request: flask.Request) -> Response:
    from functions import webhook

    return webhook.serve(kind, request)


@functions_framework.http
def webhook_messenger(request: flask.Request) -> Response:
    """Facebook Messenger webhook (page subscriptions)."""
    return _webhook("messenger", request)


@functions_framework.http
def webhook_instagram(request: flask.Request) -> Response:
    """Instagram messaging webhook."""
    return _webhook("instagram", request)


@functions_framework.http
def webhook_whatsapp(request: flask.Request) -> Response:
    """WhatsApp Cloud API webhook."""
    return _webhook("whatsapp", request)


@functions_framework.http
def webhook_telegram(request: flask.Request) -> Response:
    """Telegram Bot API webhook (``?bot=<bot id>``; secret token header)."""
    return _webhook("telegram", request)


@functions_framework.http
def webhook_twilio(request: flask.Request) -> Response:
    """Twilio messaging webhook and status callbacks (SMS, MMS, WhatsApp through Twilio)."""
    return _webhook("twilio", request)


@functions_framework.cloud_event
def ingest(cloud_event: CloudEvent) -> None:
    """Pub/Sub push from ``inbound-events``: apply one event to Firestore."""
    from functions import ingest as ingest_trigger
    from shared.config import settings

    settings()  # in production, refuses an emulator variable before any event is applied
    ingest_trigger.handle(cloud_event)


@functions_framework.http
def send_message(request: flask.Request) -> Any:
    """Agents' replies, notes and reactions (Firebase ID token): queued for delivery."""
    from functions import send

    return send.send_message(request)


@functions_framework.http
def agent_api(request: flask.Request) -> Any:
    """Agents' conversation changes: assign, status, mark read (Firebase ID token)."""
    from functions import send

    return send.agent_api(request)


@functions_framework.http
def deliver(request: flask.Request) -> Any:
    """Cloud Tasks target: one provider call per queued message."""
    from functions import deliver as deliver_target

    return deliver_target.handle(request)


@functions_framework.http
def chat_api(request: flask.Request) -> Any:
    """The chat API for app developers and their users: POST /v1/{operation}, GET /openapi.json."""
    from functions import chat

    return chat.chat_api(request)


@functions_framework.http
def create_app(request: flask.Request) -> Any:
    """A signed-in developer creates a chat app: its tenant, admin claims and API key."""
    from functions import chat

    return chat.create_app(request)
