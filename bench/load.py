"""Load: 10,000 webhook events in Meta-sized batches (up to 1,000 per POST) as fast as the webhook
takes them, every message exactly once in Firestore, with the time it took; and a hot conversation
receiving 50 messages per second for 30 seconds, whose summary and unread count must end exact.

On the emulators the end-to-end rate is bounded by the Pub/Sub emulator's push (2 requests in flight),
not by the functions; production Pub/Sub push scales out ingest instances.
"""

from __future__ import annotations

import json
import time

import requests

from bench.stats import report
from infra.local import demo, payloads
from infra.local.simulate import meta_signature
from infra.local.stack import LocalStack

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")


def _body(messages: list[dict[str, object]]) -> bytes:
    return json.dumps(payloads.whatsapp_change(WA.external_id, messages=messages)).encode()


def _text(sender: str, text: str) -> dict[str, object]:
    return payloads.whatsapp_text_message(sender, text)


def _count(store: object) -> int:
    query = store.client().collection_group("messages")  # type: ignore[attr-defined]
    return int(query.count().get()[0][0].value)


def run(
    events: int = 10_000, batch: int = 1_000, hot_rate: int = 50, hot_seconds: int = 30
) -> dict[str, object]:
    """Measure and return the figures."""
    with LocalStack(with_auth=False, with_tasks=False, functions=("webhook_whatsapp", "ingest")) as stack:
        stack.apply_env()
        demo.seed()
        from shared import ids, store

        url = stack.function_urls["webhook_whatsapp"]
        secret = stack.secrets.meta_app_secret
        session = requests.Session()

        def post(body: bytes) -> None:
            headers = {
                "X-Hub-Signature-256": meta_signature(body, secret),
                "Content-Type": "application/json",
            }
            session.post(url, data=body, headers=headers, timeout=60).raise_for_status()

        started = time.perf_counter()
        for start in range(0, events, batch):
            post(
                _body(
                    [
                        _text(f"1555800{i % 500:04d}", f"load {i}")
                        for i in range(start, min(events, start + batch))
                    ]
                )
            )
        accepted = time.perf_counter() - started
        deadline = time.monotonic() + 1200
        while _count(store) < events and time.monotonic() < deadline:
            time.sleep(1)
        landed = time.perf_counter() - started
        provider_ids = {
            d.get("providerMessageId")
            for d in (
                s.to_dict()
                for s in store.client().collection_group("messages").select(["providerMessageId"]).stream()
            )
        }
        exactly_once = _count(store) == events and len(provider_ids) == events

        # The hot conversation: one customer, hot_rate messages a second.
        stack.reset_firestore()
        demo.seed()
        contact = "15558009999"
        hot_started = time.perf_counter()
        sent = 0
        for second in range(hot_seconds):
            post(_body([_text(contact, f"hot {second}-{i}") for i in range(hot_rate)]))
            sent += hot_rate
            time.sleep(max(0.0, hot_started + second + 1 - time.perf_counter()))  # pacing: 1 batch a second
        conversation_id = ids.conversation_id(WA.channel_id, contact)
        deadline = time.monotonic() + 600
        summary: dict[str, object] = {}
        while time.monotonic() < deadline:
            summary = store.get_conversation(demo.DEMO_TENANT, conversation_id) or {}
            if summary.get("messageCount") == sent:
                break
            time.sleep(1)
        hot_elapsed = time.perf_counter() - hot_started
    figures = {
        "events": events,
        "batch_size": batch,
        "webhook_accepted_seconds": round(accepted, 1),
        "all_in_firestore_seconds": round(landed, 1),
        "end_to_end_events_per_second": round(events / landed, 1),
        "exactly_once": exactly_once,
        "hot_conversation": {
            "messages": sent,
            "rate_per_second": hot_rate,
            "seconds": hot_seconds,
            "message_count": summary.get("messageCount"),
            "unread_count": summary.get("unreadCount"),
            "exact": summary.get("messageCount") == sent and summary.get("unreadCount") == sent,
            "settled_after_seconds": round(hot_elapsed, 1),
        },
    }
    report("load", figures)
    return figures


if __name__ == "__main__":
    run()
