"""Publishing inbound events to Pub/Sub: the only Pub/Sub publisher code.

A webhook answers 200 only after :func:`publish` returned, which is after Pub/Sub confirmed every
message; anything else raises :class:`~shared.errors.PublishError` and the webhook answers 503, so
the provider retries (Meta for up to 36 h, WhatsApp 7 days) and nothing is lost.

Each event is one message: ``data`` is the event's JSON, attributes carry the route key, channel and
event type (so subscribers can filter without decoding), and the ordering key is the conversation.
Quarantine records travel on the same topic with ``event_type=quarantine``, which keeps the webhook
free of any Firestore client.

Why not google-cloud-pubsub's PublisherClient: importing it (gRPC, protobuf) costs ~0.35 s, paid on
every webhook cold start. Pub/Sub's REST ``topics.publish`` takes a whole webhook batch (up to 1,000
messages) in one request, over ``http.client`` from the standard library, with a token from the
metadata server in production (or application-default credentials elsewhere). Publishing is retried
within the deadline; a retry may publish a message twice, which ingest recognizes by its
deterministic ids.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from shared.config import settings
from shared.errors import PublishError
from shared.models import InboundEvent, QuarantinedItem

log = logging.getLogger(__name__)

QUARANTINE_EVENT_TYPE = "quarantine"
MAX_MESSAGES_PER_REQUEST = 1000
MAX_BYTES_PER_REQUEST = 9_000_000  # Pub/Sub's limit is 10 MB per publish request
METADATA_TOKEN_URL = "/computeMetadata/v1/instance/service-accounts/default/token"  # noqa: S105 - a path

Message = tuple[bytes, dict[str, str], str]


def event_message(event: InboundEvent, data: bytes | None = None) -> Message:
    """The Pub/Sub data, attributes and ordering key of one event; ``data`` is the event's JSON
    when it was already made (``shared.inbound.Normalized.encoded``)."""
    attributes = {
        "route_key": event.route_key,
        "channel": event.channel,
        "event_type": event.kind,
        "event_id": event.event_id,
    }
    if data is None:
        data = event.model_dump_json().encode()
    return data, attributes, event.conversation_key


def quarantine_message(item: QuarantinedItem) -> Message:
    """The Pub/Sub data, attributes and (empty) ordering key of a quarantine record."""
    attributes = {"channel": item.channel, "event_type": QUARANTINE_EVENT_TYPE, "reason": item.reason}
    return item.model_dump_json().encode(), attributes, ""


def publish(
    events: Iterable[InboundEvent],
    quarantined: Iterable[QuarantinedItem] = (),
    *,
    encoded: Sequence[bytes] | None = None,
) -> int:
    """Publish events and quarantine records; return how many were confirmed. ``encoded``, when
    given, is each event's JSON, in order (``shared.inbound.Normalized.encoded``): published as is.

    Raises PublishError unless every message was confirmed within the configured timeout."""
    # Every event here already serialized once in shared.inbound.parse_into (unserializable items
    # are quarantined there, with publishable raw), so encoding cannot fail; the webhook hands that
    # JSON over instead of making it again.
    events = list(events)
    if encoded is not None and len(encoded) == len(events):
        messages = [event_message(e, data) for e, data in zip(events, encoded, strict=True)]
    else:
        messages = [event_message(e) for e in events]
    messages += [quarantine_message(q) for q in quarantined]
    if not messages:
        return 0
    return publish_raw(messages)


def publish_raw(messages: list[Message]) -> int:
    """Publish already encoded (data, attributes, ordering key) triples and wait for them all."""
    deadline = time.monotonic() + settings().publish_timeout_seconds
    confirmed = 0
    for chunk in _chunks(messages):
        confirmed += _publish_chunk(chunk, deadline)
    return confirmed


def _chunks(messages: list[Message]) -> Iterable[list[Message]]:
    chunk: list[Message] = []
    size = 0
    for message in messages:
        encoded = len(message[0]) * 4 // 3 + 200
        if chunk and (len(chunk) >= MAX_MESSAGES_PER_REQUEST or size + encoded > MAX_BYTES_PER_REQUEST):
            yield chunk
            chunk, size = [], 0
        chunk.append(message)
        size += encoded
    if chunk:
        yield chunk


def _publish_chunk(chunk: list[Message], deadline: float) -> int:
    body = json.dumps({"messages": [_wire(m) for m in chunk]}).encode()
    attempt = 0
    while True:
        attempt += 1
        try:
            status, answer = _transport().post(_topic_path() + ":publish", body, deadline)
        except (OSError, http.client.HTTPException) as exc:
            status, answer = 0, f"{type(exc).__name__}: {exc}"
        if status == 200:
            ids = json.loads(answer).get("messageIds") or []
            if len(ids) != len(chunk):
                raise PublishError(f"Pub/Sub confirmed {len(ids)} of {len(chunk)} messages")
            return len(ids)
        retryable = status in {0, 429} or status >= 500
        if not retryable or time.monotonic() + 0.1 * attempt >= deadline:
            raise PublishError(f"Pub/Sub publish failed (HTTP {status or 'no answer'}): {str(answer)[:200]}")
        time.sleep(min(0.1 * 2**attempt, max(0.0, deadline - time.monotonic())))


def _wire(message: Message) -> dict[str, object]:
    data, attributes, ordering_key = message
    wire: dict[str, object] = {"data": base64.b64encode(data).decode(), "attributes": attributes}
    if ordering_key:
        wire["orderingKey"] = ordering_key
    return wire


def _topic_path() -> str:
    config = settings()
    return f"/v1/projects/{config.project_id}/topics/{config.inbound_topic}"


class _Transport:
    """One keep-alive HTTP connection per thread to the Pub/Sub REST endpoint."""

    def __init__(self, endpoint: str, emulator: bool) -> None:
        parts = urlsplit(endpoint)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port
        self.emulator = emulator
        self.local = threading.local()
        self.token: tuple[str, float] | None = None
        self.token_lock = threading.Lock()

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            connection = cls(self.host, self.port, timeout=timeout)
            self.local.connection = connection
        connection.timeout = timeout
        return connection

    def post(self, path: str, body: bytes, deadline: float) -> tuple[int, str]:
        timeout = max(0.1, deadline - time.monotonic())
        headers = {"Content-Type": "application/json"}
        if not self.emulator:
            headers["Authorization"] = f"Bearer {self._access_token()}"
        connection = self._connection(timeout)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read().decode("utf-8", errors="replace")
        except BaseException:
            connection.close()
            self.local.connection = None
            raise

    def _access_token(self) -> str:
        with self.token_lock:
            if self.token is None or self.token[1] < time.monotonic():
                self.token = _fetch_token()
            return self.token[0]


def _fetch_token() -> tuple[str, float]:
    """An OAuth token for the function's service account: the metadata server on Google Cloud,
    application-default credentials elsewhere (an operator's machine)."""
    try:
        connection = http.client.HTTPConnection("metadata.google.internal", timeout=2)
        connection.request("GET", METADATA_TOKEN_URL, headers={"Metadata-Flavor": "Google"})
        response = connection.getresponse()
        if response.status == 200:
            payload = json.loads(response.read())
            return payload["access_token"], time.monotonic() + float(payload.get("expires_in", 300)) - 60
    except OSError:
        pass
    import google.auth
    import google.auth.transport.requests

    credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/pubsub"])
    credentials.refresh(google.auth.transport.requests.Request())
    return str(credentials.token), time.monotonic() + 300


_transport_lock = threading.Lock()
_transport_instance: _Transport | None = None


def _transport() -> _Transport:
    global _transport_instance  # noqa: PLW0603 - the process's one lazily created transport
    with _transport_lock:
        if _transport_instance is None:
            config = settings()
            emulator = bool(config.pubsub_emulator_host)
            endpoint = f"http://{config.pubsub_emulator_host}" if emulator else config.pubsub_endpoint
            _transport_instance = _Transport(endpoint, emulator)
        return _transport_instance


def reset() -> None:
    """Forget the transport (tests change the environment between stacks)."""
    global _transport_instance  # noqa: PLW0603
    with _transport_lock:
        _transport_instance = None
