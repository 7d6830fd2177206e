"""Fault injection on the local stack: processes crash, Firestore goes away, providers storm; nothing
is lost and nothing is duplicated.

These tests kill and restart processes, so they run on a stack of their own (no Auth emulator or
Cloud Tasks needed), not on the session's shared stack.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from google.cloud import pubsub_v1

from infra.local import demo
from infra.local.stack import LocalStack
from shared import store
from shared.errors import SwitchboardError
from tests.support import eventually, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")


@pytest.fixture(scope="module")
def fault_stack() -> Iterator[LocalStack]:
    with LocalStack(
        with_auth=False, with_tasks=False, with_sandbox=False, functions=("webhook_whatsapp", "ingest")
    ) as stack:
        yield stack


@pytest.fixture
def stack(fault_stack: LocalStack) -> LocalStack:
    fault_stack.reset_firestore()
    fault_stack.apply_env()
    demo.seed()
    drain_dead_letters(fault_stack)
    return fault_stack


def message_texts() -> list[str]:
    return [d.to_dict()["text"] for d in store.client().collection_group("messages").stream()]


def drain_dead_letters(stack: LocalStack) -> list[Any]:
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(stack.project, "inbound-events-dead-review")
    try:
        response = subscriber.pull(subscription=path, max_messages=1000, timeout=5, return_immediately=True)
        received = list(response.received_messages)
        if received:
            subscriber.acknowledge(subscription=path, ack_ids=[m.ack_id for m in received])
        return received
    finally:
        subscriber.close()


def provider_post(stack: LocalStack, body: dict[str, Any], deadline: float = 60) -> None:
    """POST as Meta does: retry (with backoff) until the webhook answers 200."""
    give_up = time.monotonic() + deadline
    delay = 0.05
    while True:
        try:
            if post_webhook(stack, "whatsapp", body, timeout=10).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        assert time.monotonic() < give_up, "the webhook never accepted the delivery"
        time.sleep(delay)  # a provider's retry backoff, not a wait for a result
        delay = min(delay * 2, 1.0)


def burst(stack: LocalStack, count: int, tag: str, per_post: int = 25) -> list[str]:
    texts = [f"{tag} {i}" for i in range(count)]
    for start in range(0, count, per_post):
        body = whatsapp_text_webhook(WA.external_id, f"1555600{start:04d}", "x")
        value = body["entry"][0]["changes"][0]["value"]
        value["messages"] = [
            {
                "from": f"1555600{(start + j) % 40:04d}",
                "id": f"wamid.{tag}.{start + j}",
                "timestamp": str(int(time.time())),
                "type": "text",
                "text": {"body": texts[start + j]},
            }
            for j in range(min(per_post, count - start))
        ]
        provider_post(stack, body)
    return texts


def test_killing_ingest_mid_burst_loses_and_duplicates_nothing(stack: LocalStack) -> None:
    texts = burst(stack, 300, "crash")
    eventually(lambda: len(message_texts()) >= 20, what="ingest under way")
    stack.crash("function-ingest")  # SIGKILL, mid-burst: in-flight pushes are never acknowledged
    stack.revive("function-ingest")
    eventually(lambda: len(message_texts()) >= 300, timeout=120, interval=0.5, what="every message")
    landed = message_texts()
    assert sorted(landed) == sorted(texts)  # 0 lost, 0 duplicated
    assert drain_dead_letters(stack) == []
    unread = sum(
        d.to_dict().get("unreadCount", 0)
        for d in store.client()
        .collection("tenants")
        .document(demo.DEMO_TENANT)
        .collection("conversations")
        .stream()
    )
    assert unread == 300


def test_restarting_the_webhook_while_the_provider_keeps_posting_loses_nothing(stack: LocalStack) -> None:
    sent: list[str] = []
    errors: list[BaseException] = []

    def provider() -> None:
        try:
            for i in range(60):
                text = f"steady {i}"
                provider_post(
                    stack,
                    whatsapp_text_webhook(WA.external_id, "15556009999", text, wamid=f"wamid.steady.{i}"),
                )
                sent.append(text)
        except BaseException as exc:  # noqa: BLE001 - surfaced below, whatever it is
            errors.append(exc)

    thread = threading.Thread(target=provider)
    thread.start()
    eventually(lambda: len(sent) >= 10, what="the provider posting")
    stack.restart_function("webhook_whatsapp")
    thread.join(timeout=120)
    assert not errors and len(sent) == 60
    eventually(lambda: len(message_texts()) >= 60, timeout=60, what="all 60 messages")
    assert sorted(message_texts()) == sorted(sent)


def test_when_firestore_is_down_nothing_is_lost_retries_and_dead_letter_replay_restore_it(
    stack: LocalStack,
) -> None:
    from google.protobuf import timestamp_pb2

    from shared import bus, cli

    before = timestamp_pb2.Timestamp()
    before.GetCurrentTime()
    stack.crash("firestore-emulator")
    try:
        # Webhooks do not need Firestore: they still accept and publish.
        texts = burst(stack, 8, "outage", per_post=4)

        def failures() -> int:
            return sum(
                1 for r in stack.log_records("ingest") if "Firestore unavailable" in str(r.get("exception"))
            )

        eventually(lambda: failures() >= 8, timeout=120, interval=0.5, what="ingest failing transiently")
    finally:
        stack.revive("firestore-emulator")
        # A fresh ingest instance, as the platform would start: the old one's gRPC channel may sit in
        # reconnect backoff (up to two minutes) after the emulator vanished under it.
        stack.restart_function("ingest")
    # Firestore is back (empty: the emulator keeps no data across restarts): connect the channels
    # again. Pub/Sub keeps redelivering; what exhausted its attempts meanwhile sits in the dead-letter
    # topic, and the operator's replay republishes it. Every message ends up there exactly once.
    stack.apply_env()
    demo.seed()
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(stack.project, "inbound-events-dead-review")
    replayed = 0
    # Pub/Sub keeps redelivering what was not acknowledged; to not wait on the emulator's backoff,
    # seek the ingest subscription back to before the outage (the operator's replay-by-time): every
    # event is pushed again, and duplicates are recognized by their deterministic ids.
    ingest_path = subscriber.subscription_path(stack.project, "inbound-events-ingest")
    subscriber.seek(request={"subscription": ingest_path, "time": before})

    def restored() -> bool:
        nonlocal replayed
        response = subscriber.pull(subscription=path, max_messages=100, timeout=5, return_immediately=True)
        dead = list(response.received_messages)
        if dead:
            bus.publish_raw(
                [(m.message.data, dict(m.message.attributes), m.message.ordering_key) for m in dead]
            )
            subscriber.acknowledge(subscription=path, ack_ids=[m.ack_id for m in dead])
            replayed += len(dead)
        # Redeliveries that reached ingest between the restart and the re-seed found no route and were
        # quarantined (acknowledged): the operator's quarantine replay brings them back too.
        cli.main(["replay-quarantine"])
        return len(message_texts()) >= 8

    try:
        eventually(restored, timeout=300, interval=1, what="every message restored")
    finally:
        subscriber.close()
    assert sorted(message_texts()) == sorted(texts)


def test_a_hot_conversation_keeps_an_exact_summary_under_a_burst(stack: LocalStack) -> None:
    # 300 messages from ONE customer as fast as the webhook takes them: the conversation document
    # is updated on every message, with transforms only (no transaction), and must end exact.
    contact = "15556007777"
    for start in range(0, 300, 50):
        body = whatsapp_text_webhook(WA.external_id, contact, "x")
        body["entry"][0]["changes"][0]["value"]["messages"] = [
            {
                "from": contact,
                "id": f"wamid.hot.{start + j}",
                "timestamp": str(int(time.time())),
                "type": "text",
                "text": {"body": f"hot {start + j}"},
            }
            for j in range(50)
        ]
        provider_post(stack, body)
    from shared import ids

    conversation_id = ids.conversation_id(WA.channel_id, contact)

    def summary() -> dict[str, Any]:
        data = store.get_conversation(demo.DEMO_TENANT, conversation_id) or {}
        return data if data.get("messageCount") == 300 else {}

    data = eventually(summary, timeout=120, interval=0.5, what="300 messages counted")
    assert data["unreadCount"] == 300
    assert len(message_texts()) == 300
    assert data["lastInboundAtMs"] >= max(int(time.time() * 1000) - 600_000, 0)


def test_a_provider_storm_is_retried_then_succeeds_without_a_double_send() -> None:
    """Covered on the shared stack by tests/integration/test_outbound.py::
    test_a_transient_provider_error_is_retried_until_it_succeeds (two 130429 then success: exactly one
    accepted call) and the concurrent-delivery test; here the storm is longer and mixes 5xx and 429."""
    from infra.local.provider_sandbox import ProviderSandbox
    from shared import outbox

    with LocalStack(with_auth=False, functions=()) as local:
        local.apply_env()
        demo.seed()
        sandbox: ProviderSandbox = local.sandbox
        conversation_id = "co-storm"
        store.update_conversation(
            demo.DEMO_TENANT,
            conversation_id,
            {
                "channel": "whatsapp",
                "channelId": WA.channel_id,
                "contactExternalId": "15556008888",
                "tenantId": demo.DEMO_TENANT,
            },
        )
        message_id = f"ou-storm-{uuid.uuid4().hex[:8]}"
        store.message_ref(demo.DEMO_TENANT, conversation_id, message_id).set(
            {
                "direction": "out",
                "type": "text",
                "content": {"type": "text", "text": "storm"},
                "text": "storm",
                "status": "queued",
                "statusRank": 0,
                "sentAt": store.server_time(),
            }
        )
        sandbox.fail_next("whatsapp", 131000, http_status=500, times=3)
        sandbox.fail_next("whatsapp", 130429, http_status=429, times=3)
        payload = {"tenantId": demo.DEMO_TENANT, "conversationId": conversation_id, "messageId": message_id}
        outcomes = []
        for _ in range(10):  # Cloud Tasks' retries
            try:
                outcomes.append(outbox.deliver(payload))
            except SwitchboardError as exc:  # what deliver answers Cloud Tasks with, recorded
                outcomes.append(type(exc).__name__)
            if outcomes[-1] == "sent":
                break
        assert outcomes == ["TransientError"] * 6 + ["sent"]
        assert outbox.deliver(payload) == "already-sent"
        accepted = [r for r in sandbox.requests("whatsapp") if r.status == 200]
        assert len(accepted) == 1
        assert store.get_message(demo.DEMO_TENANT, conversation_id, message_id).data["status"] == "sent"
