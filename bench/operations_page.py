"""The operations page's load (``python -m bench.operations_page``): agent_api ``operations`` as the
admin console calls it, with an empty dead-letter subscription and with dead letters waiting.

Each round is one request with an admin's ID token, timed from the request to its answer. The
dead-letter part of the answer pulls the review subscription without acknowledging (and gives
every message back at once), so the figure is what opening the page costs the admin.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import requests

from bench.stats import report, summary
from infra.local.stack import LocalStack

ROUNDS = 20
DEAD_LETTERS = 20


def _admin_token(stack: LocalStack) -> str:
    from infra.local import demo
    from shared import auth, store

    email = "ops-bench@demo.test"
    uid = auth.invite(email, "bench-password-1", demo.DEMO_TENANT, "admin", "Ops Bench")
    store.put_agent(demo.DEMO_TENANT, uid, {"name": "Ops Bench", "email": email, "role": "admin"})
    answer = requests.post(
        f"http://{stack.auth_host}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=bench",
        json={"email": email, "password": "bench-password-1", "returnSecureToken": True},
        timeout=15,
    )
    answer.raise_for_status()
    return str(answer.json()["idToken"])


def _dead_letters(stack: LocalStack, count: int) -> None:
    """``count`` Messenger messages of the demo tenant, as Pub/Sub forwards them to the dead-letter
    topic after five failed deliveries."""
    import uuid

    from google.cloud import pubsub_v1

    from infra.local import demo
    from shared import bus, channels
    from shared.inbound import normalize

    page = next(c for c in demo.DEMO_CHANNELS if c.kind == "messenger")
    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(stack.project, "inbound-events-dead")
    for i in range(count):
        at = int(time.time() * 1000)
        body = {
            "object": "page",
            "entry": [
                {
                    "id": page.external_id,
                    "time": at,
                    "messaging": [
                        {
                            "sender": {"id": str(9_100 + i)},
                            "recipient": {"id": page.external_id},
                            "timestamp": at,
                            "message": {"mid": f"m_BENCH{uuid.uuid4().hex}", "text": f"words {i}"},
                        }
                    ],
                }
            ],
        }
        (event,) = normalize(channels.adapter("messenger"), json.dumps(body).encode()).events
        data, attributes, _ = bus.event_message(event)
        dead = {**attributes, "CloudPubSubDeadLetterSourceDeliveryCount": "5"}
        publisher.publish(topic, data, **dead).result(timeout=30)


def _rounds(stack: LocalStack, token: str, rounds: int, expect: int) -> list[float]:
    url = stack.function_urls["agent_api"]
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        answer = requests.post(
            url, json={"action": "operations"}, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        samples.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
        listed = answer.json()["deadLetters"]["count"]
        if listed != expect:
            raise AssertionError(f"the page listed {listed} dead letters, expected {expect}")
    return samples


def measure(stack: LocalStack, rounds: int = ROUNDS, dead_letters: int = DEAD_LETTERS) -> dict[str, Any]:
    from infra.local import demo

    stack.reset_firestore()
    demo.seed()
    token = _admin_token(stack)
    _rounds(stack, token, 2, 0)  # warm the function's clients
    empty = _rounds(stack, token, rounds, 0)
    _dead_letters(stack, dead_letters)
    waiting = _rounds(stack, token, rounds, dead_letters)
    return {"empty": summary(empty), "waiting": {**summary(waiting), "dead_letters": dead_letters}}


def run(rounds: int = ROUNDS) -> dict[str, Any]:
    with LocalStack(
        functions=("agent_api",), with_tasks=False, with_sandbox=False, with_fcm=False, with_storage=False
    ) as stack:
        stack.apply_env()
        figures = measure(stack, rounds)
    report("operations_page_no_dead_letters", figures["empty"])
    report("operations_page_dead_letters_waiting", figures["waiting"])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    run(parser.parse_args(argv).rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
