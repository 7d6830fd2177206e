"""An ordered stand-in for production's ingest subscription.

Production subscribes ingest to ``inbound-events`` with message ordering on: Pub/Sub pushes the
events of one conversation (one ordering key) one at a time, the next only once the previous one was
acknowledged, so a busy conversation is processed serially. The local stack cannot do that with a
push subscription (the emulator never dead-letters an ordered subscription, see topology.json's
``emulator_note``), so it pushes without ordering. :class:`OrderedPush` puts the ordering back for a
measurement or a test:

- it detaches the stack's ingest push subscription (no push endpoint: nobody pulls it) and creates
  a pull subscription with message ordering on the same topic;
- a streaming pull (google-cloud-pubsub) receives the messages; with ordering keys the client
  library hands a key's next message to the callback only once the previous one was acked or nacked;
- the callback POSTs each message to the ingest function exactly as a push subscription would (the
  push body, to ``/projects/<p>/topics/<topic>``) and acks on 2xx, nacks otherwise (Pub/Sub then
  redelivers it, still before the key's later messages).

:meth:`OrderedPush.stop` removes the ordered subscription and points the push one at ingest again,
from then on. The
figures it keeps (:class:`Deliveries`) show that one key never had two pushes in flight.

    with OrderedPush(stack) as ordered:
        ...  # post webhooks; ingest receives each conversation's events in order, one at a time
        ordered.deliveries.max_in_flight_per_key  # 1
"""

from __future__ import annotations

import base64
import contextlib
import os
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import requests

from infra.local.stack import topology

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.pubsub_v1.subscriber.message import Message

    from infra.local.stack import LocalStack

ORDERED_SUBSCRIPTION = "inbound-events-ingest-ordered"  # a fresh suffix per stand-in (see start)
PUSH_TIMEOUT_SECONDS = 60.0  # the subscription's ack deadline: what a push may take


@dataclass
class Deliveries:
    """What the ordered stand-in pushed: counts, and the concurrency it allowed."""

    pushed: int = 0
    failed: int = 0
    max_in_flight_per_key: int = 0
    max_in_flight: int = 0
    push_seconds: list[float] = field(default_factory=list)
    _in_flight: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def begin(self, key: str) -> None:
        with self._lock:
            self._in_flight[key] += 1
            self.max_in_flight_per_key = max(self.max_in_flight_per_key, self._in_flight[key])
            self.max_in_flight = max(self.max_in_flight, sum(self._in_flight.values()))

    def end(self, key: str, ok: bool, seconds: float) -> None:
        with self._lock:
            self._in_flight[key] -= 1
            if self._in_flight[key] <= 0:
                del self._in_flight[key]
            if ok:
                self.pushed += 1
            else:
                self.failed += 1
            self.push_seconds.append(seconds)


class OrderedPush:
    """Feeds the stack's ingest function from an ordered pull subscription, one message per
    ordering key at a time (see the module docstring). ``workers`` bounds the conversations pushed
    at once, as an ordered push subscription's outstanding messages would."""

    def __init__(
        self, stack: LocalStack, *, function: str = "ingest", workers: int = 8, added_latency: float = 0.0
    ) -> None:
        spec = topology()
        subscription = next(s for s in spec["subscriptions"].values() if s.get("push_function") == function)
        self._stack = stack
        self._topic = spec["topics"][subscription["topic"]]
        self._push_subscription = subscription["name"]
        self._ack_deadline = int(subscription.get("ack_deadline_seconds", 60))
        self._url = f"{stack.function_urls[function]}/projects/{stack.project}/topics/{self._topic}"
        self._workers = workers
        # Seconds added to every push (a model of production's push round trip and Firestore
        # latency, which the emulators on one machine do not have): ordering makes it add up.
        self._added_latency = added_latency
        self._subscriber: Any = None
        self._future: Any = None
        self._executor: ThreadPoolExecutor | None = None
        self._sessions = threading.local()
        # The emulator may never deliver on a subscription re-created under a name just deleted:
        # every stand-in subscribes under a name of its own.
        self._subscription = f"{ORDERED_SUBSCRIPTION}-{uuid.uuid4().hex[:8]}"
        self.deliveries = Deliveries()

    def _path(self, name: str) -> str:
        return f"projects/{self._stack.project}/subscriptions/{name}"

    def start(self) -> OrderedPush:
        """Detach the push subscription, subscribe with ordering, start pulling."""
        from google.api_core.exceptions import AlreadyExists
        from google.cloud import pubsub_v1
        from google.cloud.pubsub_v1.subscriber.scheduler import ThreadScheduler

        os.environ["PUBSUB_EMULATOR_HOST"] = self._stack.pubsub_host
        self._subscriber = pubsub_v1.SubscriberClient()
        # Detached, not deleted (the emulator may never push again on a subscription re-created
        # under a name just deleted): a pull subscription nobody pulls until stop() restores it.
        self._subscriber.modify_push_config(
            request={"subscription": self._path(self._push_subscription), "push_config": {}}
        )
        with contextlib.suppress(AlreadyExists):
            self._subscriber.create_subscription(
                request={
                    "name": self._path(self._subscription),
                    "topic": f"projects/{self._stack.project}/topics/{self._topic}",
                    "ack_deadline_seconds": self._ack_deadline,
                    "enable_message_ordering": True,
                }
            )
        self._executor = executor = ThreadPoolExecutor(self._workers, thread_name_prefix="ordered-push")
        self._future = self._subscriber.subscribe(
            self._path(self._subscription),
            callback=self._push,
            flow_control=pubsub_v1.types.FlowControl(max_messages=1000),
            scheduler=ThreadScheduler(executor=executor),
        )
        return self

    def _session(self) -> requests.Session:
        session = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
        return session

    def _push(self, message: Message) -> None:
        key = message.ordering_key
        body = {
            "message": {
                "data": base64.b64encode(message.data).decode(),
                "attributes": dict(message.attributes),
                "messageId": message.message_id,
                "publishTime": message.publish_time.astimezone(UTC).isoformat()
                if message.publish_time
                else datetime.now(UTC).isoformat(),
                "orderingKey": key,
            },
            "subscription": self._path(self._subscription),
        }
        self.deliveries.begin(key)
        started = time.perf_counter()
        ok = False
        try:
            if self._added_latency:
                time.sleep(self._added_latency)
            response = self._session().post(self._url, json=body, timeout=PUSH_TIMEOUT_SECONDS)
            ok = 200 <= response.status_code < 300
        except requests.RequestException:
            ok = False
        finally:
            # Counted before the ack: the library releases the key's next message on ack/nack.
            self.deliveries.end(key, ok, time.perf_counter() - started)
        if ok:
            message.ack()
        else:
            message.nack()

    def stop(self) -> None:
        """Stop pulling, delete the ordered subscription, and push again on the push subscription,
        from now on (what reached it meanwhile was ingested here: it is dropped, not pushed twice)."""
        from google.api_core.exceptions import NotFound
        from google.protobuf import timestamp_pb2

        if self._future is not None:
            self._future.cancel()
            with contextlib.suppress(Exception):
                self._future.result(timeout=10)
            self._future = None
        if self._subscriber is not None:
            with contextlib.suppress(NotFound):
                self._subscriber.delete_subscription(subscription=self._path(self._subscription))
            now = timestamp_pb2.Timestamp()
            now.GetCurrentTime()
            push = self._path(self._push_subscription)
            self._subscriber.seek(request={"subscription": push, "time": now})
            self._subscriber.modify_push_config(
                request={"subscription": push, "push_config": {"push_endpoint": self._url}}
            )
            self._subscriber.close()
            self._subscriber = None
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    def __enter__(self) -> OrderedPush:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
