"""Outbound: agent send -> provider request latency, and deliver throughput.

Latency: an agent POSTs send_message (Firebase ID token from the Auth emulator); we time until the
provider sandbox receives the provider API call, through the real path (send_message -> Firestore ->
Cloud Tasks emulator -> deliver -> sandbox). The tasks emulator polls its queues every 0.1 s and
dispatches one task at a time per queue, which is part of what this measures locally.

Throughput: queued messages delivered by POSTing their task bodies straight to the deliver function
from 8 concurrent callers (what Cloud Tasks does at a queue's max_concurrent_dispatches), messages/s.
"""

from __future__ import annotations

import concurrent.futures
import time
import uuid

import requests

from bench.stats import report, summary
from infra.local import demo
from infra.local.stack import LocalStack
from tests.support import agent_token, eventually, post_webhook, whatsapp_text_webhook

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")


def run(sends: int = 100, deliveries: int = 300) -> dict[str, object]:
    """Measure and return the figures."""
    with LocalStack() as stack:
        stack.apply_env()
        demo.seed()
        from shared import ids, store

        token = agent_token(stack, demo.DEMO_TENANT, "bench@demo.test")
        wa_id = "15554440001"
        assert (
            post_webhook(stack, "whatsapp", whatsapp_text_webhook(WA.external_id, wa_id, "hi")).status_code
            == 200
        )
        conversation_id = ids.conversation_id(WA.channel_id, wa_id)
        eventually(lambda: store.get_conversation(demo.DEMO_TENANT, conversation_id), what="conversation")
        session = requests.Session()
        latencies = []
        for i in range(sends + 5):
            stack.sandbox.clear()
            started = time.time()
            response = session.post(
                stack.function_urls["send_message"],
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "conversationId": conversation_id,
                    "clientMessageId": uuid.uuid4().hex,
                    "message": {"type": "text", "text": f"bench {i}"},
                },
                timeout=15,
            )
            response.raise_for_status()
            received = eventually(lambda: stack.sandbox.requests("whatsapp"), timeout=30, interval=0.002)
            if i >= 5:  # warm-up excluded
                latencies.append((received[0].at - started) * 1000)

        # Throughput: queued messages without tasks, delivered by direct calls to deliver.
        payloads = []
        for i in range(deliveries):
            message_id = ids.outbound_message_id(conversation_id, f"throughput-{i}")
            store.message_ref(demo.DEMO_TENANT, conversation_id, message_id).set(
                {
                    "direction": "out",
                    "type": "text",
                    "content": {"type": "text", "text": f"t{i}"},
                    "text": f"t{i}",
                    "status": "queued",
                    "statusRank": 0,
                    "sentAt": store.server_time(),
                }
            )
            payloads.append(
                {"tenantId": demo.DEMO_TENANT, "conversationId": conversation_id, "messageId": message_id}
            )
        url = stack.function_urls["deliver"]
        headers = {"X-CloudTasks-QueueName": "outbound-whatsapp"}
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            results = list(
                pool.map(
                    lambda p: requests.post(url, json=p, headers=headers, timeout=30).status_code, payloads
                )
            )
        elapsed = time.perf_counter() - started
    figures = {
        "send_to_provider": summary(latencies),
        "deliver_messages_per_second": round(deliveries / elapsed, 1),
        "deliver_non_2xx": sum(1 for r in results if r >= 300),
        "_samples_ms": latencies,
    }
    report("outbound", figures)
    return figures


if __name__ == "__main__":
    run()
