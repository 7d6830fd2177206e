"""Load: 10,000 webhook events in Meta-sized batches (up to 1,000 per POST) as fast as the webhook
takes them, every message exactly once in Firestore, with the time it took; and a hot conversation
receiving 50 messages per second for 30 seconds (bench/hot_conversation.py), whose summary and unread
count must end exact while no document but the messages takes more than about one write a second.

The hot conversation goes into ingest both ways: the local stack's unordered push subscription and
the ordered stand-in (one message per conversation at a time, as production's ordered subscription
pushes); and with the summary coalesced (a stack with deliver, which runs the folds) and, for
comparison, written by every message (a stack without deliver). For each: messages landed per second,
seconds from the burst's end until every message landed and until the summary was exact, and the
most writes any one document took in a second and on average (counted in every process of the stack).

On the emulators the end-to-end rate is bounded by the Pub/Sub emulator's push (2 requests in flight),
not by the functions; production Pub/Sub push scales out ingest instances.
"""

from __future__ import annotations

import json
import time

import requests

from bench import hot_conversation
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
    events: int = 10_000,
    batch: int = 1_000,
    hot_rate: int = 50,
    hot_seconds: int = 30,
    hot_before: bool = True,
) -> dict[str, object]:
    """Measure and return the figures."""
    with LocalStack(with_auth=False, with_tasks=False, functions=("webhook_whatsapp", "ingest")) as stack:
        stack.apply_env()
        demo.seed()
        from shared import store

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

    figures = {
        "events": events,
        "batch_size": batch,
        "webhook_accepted_seconds": round(accepted, 1),
        "all_in_firestore_seconds": round(landed, 1),
        "end_to_end_events_per_second": round(events / landed, 1),
        "exactly_once": exactly_once,
    }
    # The hot conversation, on stacks of its own (metered; with and without deliver).
    hot = hot_conversation.run(hot_rate, hot_seconds, before=hot_before, quiet=True)
    paths = [p for design in ("coalesced", "every_message") for p in (hot.get(design) or {}).values()]
    figures["hot_conversation"] = {
        "messages": paths[0]["messages"] if paths else 0,
        "rate_per_second": hot_rate,
        "seconds": hot_seconds,
        "exact": all(p["summary_exact"] for p in (hot.get("coalesced") or {}).values()),
        **hot_conversation.headline(hot),
    }
    report("load", figures)
    return figures


if __name__ == "__main__":
    run()
