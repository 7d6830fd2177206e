"""Agent notifications, locally: a customer's message in a conversation assigned to an agent, until
that agent is notified (target: p50 <= 1 s on the emulators).

The local stack runs the WhatsApp webhook, ingest, deliver and agent_api with the Firestore, Pub/Sub,
Auth and Cloud Tasks emulators and the FCM stand-in. One agent with one registered web-push token
is assigned ``--conversations`` conversations (created first; their "new conversation"
notifications are let through before measuring). Then, one at a time, a customer's message to each,
and from the webhook request:

- ``webhook_to_fcm``: until the FCM stand-in received the web push for that message (what the
  service worker shows in a background tab);
- ``webhook_to_feed``: until the agent's feed entry reached a Firestore listener on
  tenants/{t}/agents/{uid}/notifications (what drives the open dashboard's toast, title and badge);
- ``webhook_answer``: the webhook's own round trip (unchanged by notifications: ingest queues one
  Cloud Task after its writes).

Each conversation gets one message, so the 2-second slot a conversation's notifications share never
merges two rounds. The Cloud Tasks emulator polls its queues every 0.1 s, which is part of both
figures.

    python -m bench.notifications [--conversations 20]
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from typing import Any

CONVERSATIONS = 20
TARGET_P50_MS = 1000.0


def _wait(probe: Any, timeout: float = 30.0, interval: float = 0.002) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(interval)
    raise TimeoutError("the notification never came")


def measure(stack: Any, conversations: int) -> dict[str, Any]:
    from bench.stats import summary
    from infra.local import demo
    from shared import auth, ids, notifications, store
    from tests.support import post_webhook, whatsapp_text_webhook

    whatsapp = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
    tenant = demo.DEMO_TENANT
    demo.seed()
    uid = auth.invite("bench-agent@demo.test", "correct-horse-battery", tenant, "agent", "Bench Agent")
    store.put_agent(tenant, uid, {"name": "Bench Agent", "email": "bench-agent@demo.test", "role": "agent"})
    token = f"web-bench-{uuid.uuid4().hex}"
    store.add_push_token(tenant, uid, token)

    feed_seen: dict[str, float] = {}
    lock = threading.Lock()

    def on_feed(snapshots: list[Any], changes: list[Any], read_time: Any) -> None:
        now = time.perf_counter()
        with lock:
            for change in changes:
                data = change.document.to_dict() or {}
                if change.type.name == "ADDED" and data.get("event") == "message":
                    feed_seen.setdefault(str(data.get("messageId")), now)

    feed = store.client().collection("tenants").document(tenant).collection("agents").document(uid)
    watch = feed.collection("notifications").on_snapshot(on_feed)
    customers = [f"1556{uuid.uuid4().int % 10**7:07d}" for _ in range(conversations)]
    try:
        # The conversations, assigned to the agent (their "new conversation" notifications go first).
        for customer in customers:
            body = whatsapp_text_webhook(
                whatsapp.external_id, customer, "Hi", wamid=f"wamid.{uuid.uuid4().hex}"
            )
            assert post_webhook(stack, "whatsapp", body).status_code == 200
        for customer in customers:
            conversation_id = ids.conversation_id(whatsapp.channel_id, customer)
            _wait(lambda c=conversation_id: store.get_conversation(tenant, c), interval=0.05)
            store.update_conversation(tenant, conversation_id, {"assigneeId": uid, "assigned": 1})
        _wait(
            lambda: len([m for m in stack.fcm.received() if m["message"]["token"] == token]) >= conversations
        )
        time.sleep(2 * notifications.SLOT_SECONDS)  # past the creation messages' notification slots

        to_fcm: list[float] = []
        to_feed: list[float] = []
        answers: list[float] = []
        for customer in customers:
            wamid = f"wamid.{uuid.uuid4().hex}"
            message_id = ids.message_id(whatsapp.channel_id, wamid)
            body = whatsapp_text_webhook(whatsapp.external_id, customer, "Where is my order?", wamid=wamid)
            started = time.perf_counter()
            assert post_webhook(stack, "whatsapp", body).status_code == 200
            answers.append((time.perf_counter() - started) * 1000)

            def pushed(m: str = message_id) -> bool:
                return any(r["message"]["data"].get("messageId") == m for r in stack.fcm.received())

            _wait(pushed)
            to_fcm.append((time.perf_counter() - started) * 1000)
            seen = _wait(lambda m=message_id: feed_seen.get(m))
            to_feed.append((seen - started) * 1000)
    finally:
        watch.unsubscribe()
    return {
        "webhook_to_fcm": summary(to_fcm),
        "webhook_to_feed": summary(to_feed),
        "webhook_answer": summary(answers),
    }


def run(conversations: int = CONVERSATIONS) -> dict[str, Any]:
    from bench.stats import report
    from infra.local.stack import LocalStack

    with LocalStack(
        functions=("webhook_whatsapp", "ingest", "deliver", "agent_api"),
        with_sandbox=False,
        with_storage=False,
    ) as stack:
        stack.apply_env()
        figures = measure(stack, conversations)
    for name, values in figures.items():
        report(f"notifications_{name}", {**values, "target_p50_ms": TARGET_P50_MS})
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=CONVERSATIONS, help="rounds: one message each")
    run(parser.parse_args().conversations)
