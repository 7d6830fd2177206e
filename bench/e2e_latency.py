"""End-to-end latency: webhook POST -> Firestore listener callback, on the emulators.

Starts the whole local stack (every function in its own process, Pub/Sub push to ingest), listens
to the demo tenant's conversation list with a realtime ``on_snapshot`` listener, as the agents'
inbox does (latest activity first, limit 50),
POSTs signed WhatsApp webhooks one message each, and reports p50/p99 from the moment the POST
starts to the moment the listener sees the message. Also counts Firestore writes per message.
"""

from __future__ import annotations

import threading
import time
import uuid

import requests

from bench.stats import report, summary
from infra.local import demo
from infra.local.simulate import meta_signature
from infra.local.stack import LocalStack


def run(count: int = 500, pace_seconds: float = 0.1) -> dict[str, object]:
    """Measure and return the figures."""
    with LocalStack() as stack:
        stack.apply_env()
        demo.seed()
        from bench.payloads import whatsapp_batch
        from shared import store

        sent: dict[str, float] = {}
        seen: dict[str, float] = {}
        lock = threading.Lock()
        all_seen = threading.Event()

        def on_snapshot(snapshots: list, changes: list, read_time: object) -> None:
            now = time.perf_counter()
            with lock:
                for change in changes:
                    text = ((change.document.to_dict() or {}).get("lastMessage") or {}).get("text", "")
                    if text in sent and text not in seen:
                        seen[text] = now
                if len(seen) >= count:
                    all_seen.set()

        # What the agents' inbox listens to: the tenant's conversations, latest activity first, limited.
        query = (
            store.client()
            .collection("tenants")
            .document(demo.DEMO_TENANT)
            .collection("conversations")
            .order_by("lastActivityAtMs", direction="DESCENDING")
            .limit(50)
        )
        watch = query.on_snapshot(on_snapshot)
        url = stack.function_urls["webhook_whatsapp"]
        session = requests.Session()
        secret = stack.secrets.meta_app_secret
        try:
            for i in range(count + 20):
                body_dict = whatsapp_batch(1, contacts=1)
                text = f"latency {i} {uuid.uuid4().hex[:8]}"
                message = body_dict["entry"][0]["changes"][0]["value"]["messages"][0]
                message["text"]["body"] = text
                message["from"] = f"1555777{i:05d}"  # a new conversation each time
                body_dict["entry"][0]["changes"][0]["value"]["contacts"][0]["wa_id"] = message["from"]
                import json

                body = json.dumps(body_dict).encode()
                headers = {
                    "X-Hub-Signature-256": meta_signature(body, secret),
                    "Content-Type": "application/json",
                }
                if i >= 20:  # the first 20 warm every process up and are not measured
                    with lock:
                        sent[text] = time.perf_counter()
                response = session.post(url, data=body, headers=headers, timeout=30)
                response.raise_for_status()
                time.sleep(pace_seconds)  # pacing between customers' messages, not a wait for a result
            all_seen.wait(timeout=120)
        finally:
            watch.unsubscribe()
        latencies = [(seen[t] - sent[t]) * 1000 for t in sent if t in seen]
    figures = {
        **summary(latencies),
        "lost": count - len(latencies),
        "rate_per_second": round(1 / pace_seconds, 1),
        "_samples_ms": latencies,
    }
    report("e2e_webhook_to_listener", figures)
    return figures


if __name__ == "__main__":
    run()
