"""Inbound image latency, on the emulators: webhook POST with an image -> the message in a listener
(its text path) -> the thumbnail stored (``content.media[0].state == "stored"``) -> the thumbnail's
bytes in the watching agent's hands (agent_api ``mediaUrl`` variant thumbnail, then a GET of the
signed URL through the local gateway), which is what the dashboard does before it draws it.

Starts the whole local stack; each image is a real JPEG kept by the provider sandbox and named by a
WhatsApp webhook (``courier-image.json``), one new customer each, paced. Prints p50/p99 of each
step and the losses (0 expected). The browser's own render time is not included (see
``dashboard_latency.py`` for webhook -> DOM of text: ~40 ms on top of the listener).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.stats import report, summary
from infra.local import demo
from infra.local.stack import LocalStack


def run(  # noqa: PLR0915 - one measured script, top to bottom
    count: int = 100, pace_seconds: float = 0.5, warmup: int = 5, gone: bool = False
) -> dict[str, object]:
    """Measure and return the figures; ``gone``: the provider no longer has any of the files (every
    fetch fails), to count that no message is lost."""
    from shared import ids, store
    from tests.media import helpers
    from tests.support import agent_token, post_signed

    with LocalStack() as stack:
        stack.apply_env()
        demo.seed()
        token = agent_token(stack, demo.DEMO_TENANT, "bench-media@demo.test")
        sent: dict[str, float] = {}
        texted: dict[str, float] = {}
        stored: dict[str, float] = {}
        shown: dict[str, float] = {}
        failed: list[str] = []
        lock = threading.Lock()
        done = threading.Event()
        pool = ThreadPoolExecutor(max_workers=4)
        session = requests.Session()

        def fetch_thumbnail(message_id: str, conversation_id: str) -> None:
            answer = session.post(
                stack.function_urls["agent_api"],
                json={
                    "action": "mediaUrl",
                    "conversationId": conversation_id,
                    "messageId": message_id,
                    "index": 0,
                    "variant": "thumbnail",
                },
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            ok = (
                answer.status_code == 200 and session.get(answer.json()["url"], timeout=30).status_code == 200
            )
            with lock:
                if ok:
                    shown[message_id] = time.perf_counter()
                else:
                    failed.append(message_id)
                if len(shown) + len(failed) >= len(sent) and len(sent) >= count:
                    done.set()

        def on_snapshot(snapshots: list, changes: list, read_time: object) -> None:
            now = time.perf_counter()
            for change in changes:
                data = change.document.to_dict() or {}
                message_id = change.document.id
                with lock:
                    if message_id not in sent:
                        continue
                    texted.setdefault(message_id, now)
                    media = store.media_entries(data)
                    if media and media[0].get("state") == "stored" and message_id not in stored:
                        stored[message_id] = now
                        conversation_id = change.document.reference.parent.parent.id
                        pool.submit(fetch_thumbnail, message_id, conversation_id)
                    elif media and media[0].get("state") == "failed" and message_id not in failed:
                        failed.append(message_id)
                    if len(sent) >= count and len(texted) >= count and len(shown) + len(failed) >= count:
                        done.set()

        watch = store.client().collection_group("messages").where("channelId", "==", "whatsapp-main")
        watch = watch.on_snapshot(on_snapshot)
        account = helpers.CHANNEL["whatsapp"].external_id
        try:
            for i in range(count + warmup):
                ref = stack.sandbox.media.add("whatsapp", account, helpers.jpeg(1280, 960), "image/jpeg")
                if gone:
                    stack.sandbox.media.delete(ref["media_id"])
                body, _sender, wamid = helpers.whatsapp_image(ref["media_id"])
                message_id = ids.message_id("whatsapp-main", wamid)
                if i >= warmup:
                    with lock:
                        sent[message_id] = time.perf_counter()
                response = post_signed(stack, "whatsapp", body)
                response.raise_for_status()
                time.sleep(pace_seconds)  # pacing between customers, not a wait for a result
            done.wait(timeout=120)
        finally:
            watch.unsubscribe()
            pool.shutdown(wait=True)

    def latencies(at: dict[str, float]) -> list[float]:
        return [(at[m] - sent[m]) * 1000 for m in sent if m in at]

    figures = {
        "webhook_to_message_listener": summary(latencies(texted)),
        "webhook_to_thumbnail_stored": summary(latencies(stored)),
        "webhook_to_thumbnail_fetched_by_agent": summary(latencies(shown)),
        "messages_lost": count - len(latencies(texted)),
        "media_failed": len(failed),
        "rate_per_second": round(1 / pace_seconds, 1),
        "image": "1280x960 JPEG",
        "every_fetch_fails": gone,
    }
    report("media_webhook_to_thumbnail" + ("_all_fetches_fail" if gone else ""), figures)
    return figures


if __name__ == "__main__":
    import sys

    run(gone="--gone" in sys.argv)
