"""The cold-start baseline: a bare functions-framework function that imports only
google-cloud-pubsub and publishes one message per request."""

from __future__ import annotations

import os

import flask
import functions_framework
from google.cloud import pubsub_v1

_publisher: pubsub_v1.PublisherClient | None = None


@functions_framework.http
def baseline(request: flask.Request) -> tuple[str, int]:
    """Publish the body, answer 200 once Pub/Sub confirmed it."""
    global _publisher  # noqa: PLW0603 - lazy global, the documented cold-start pattern
    if _publisher is None:
        _publisher = pubsub_v1.PublisherClient()
    topic = f"projects/{os.environ['GOOGLE_CLOUD_PROJECT']}/topics/{os.environ['SWITCHBOARD_INBOUND_TOPIC']}"
    _publisher.publish(topic, request.get_data()).result(timeout=10)
    return "ok", 200
