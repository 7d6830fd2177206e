"""functions-framework entry points: one name per deployed function, nothing else.

Every function deploys this same source, so each entry point imports its implementation on first
call: a webhook instance never loads the Firestore, Tasks or firebase-admin code that ingest, deliver
or send_message need, and heavy clients are created lazily on first use. Cold starts pay only for
what the function uses.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
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
    "rate",
    "send_message",
    "webhook_instagram",
    "webhook_messenger",
    "webhook_telegram",
    "webhook_twilio",
    "webhook_whatsapp",
]

Response = tuple[str, int, dict[str, str]]
_WEBHOOK_PREFIX = "webhook_"


def _webhook(target: Callable[[flask.Request], Response]) -> Callable[[flask.Request], Response]:
    """Make ``webhook_<kind>`` the webhook of channel ``<kind>`` (functions/webhook.py): the name is
    the one place that says which channel it serves (``target`` itself is only its docstring)."""
    kind = target.__name__.removeprefix(_WEBHOOK_PREFIX)

    @functools.wraps(target)
    def serve(request: flask.Request) -> Response:
        from functions import webhook as webhook_trigger

        return webhook_trigger.serve(kind, request)

    return functions_framework.http(serve)


@_webhook
def webhook_messenger(request: flask.Request) -> Response:
    """Facebook Messenger webhook (page subscriptions)."""


@_webhook
def webhook_instagram(request: flask.Request) -> Response:
    """Instagram messaging webhook."""


@_webhook
def webhook_whatsapp(request: flask.Request) -> Response:
    """WhatsApp Cloud API webhook."""


@_webhook
def webhook_telegram(request: flask.Request) -> Response:
    """Telegram Bot API webhook (``?bot=<bot id>``; secret token header)."""


@_webhook
def webhook_twilio(request: flask.Request) -> Response:
    """Twilio messaging webhook and status callbacks (SMS, MMS, WhatsApp through Twilio)."""


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
    """A signed-in developer creates a chat app: its tenant, owner claims and API key."""
    from functions import chat

    return chat.create_app(request)


@functions_framework.http
def rate(request: flask.Request) -> Any:
    """The public rating page of a satisfaction survey's signed link (no sign-in)."""
    from functions import rate as rate_page

    return rate_page.handle(request)
