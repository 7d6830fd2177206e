"""Push fan-out of one post to a big channel, locally: how long from the post's request until the FCM
stand-in has received a notification for every member's device (target: 10,000 members queued and
sent within 10 s).

The local stack runs chat_api, deliver and create_app with the Firestore, Auth and Cloud Tasks
emulators and the FCM stand-in (infra/local/fcm_standin.py). The channel's members (member documents
with one device token each, and their push-roster entries) are seeded with batched writes: joining
10,000 members through the API would measure the join. Then one post through the public API, and:

- ``post_ms``: the post's round trip (it only queues the push), and ``enqueue_ms_p50``: what queueing
  the push task costs the post path (20 ``enqueue_post_push`` calls from this process);
- ``queued_to_first_ms``: from the post's answer to the first notification at the stand-in (the
  Cloud Tasks emulator polls its queues every 0.1 s);
- ``fanout_seconds``: from the post's request to the last notification;
- ``job_seconds`` and ``batches``: what the push job logged (deliver);
- ``messages_per_second``: notifications over ``fanout_seconds``;
- ``duplicates``: tokens that received more than one notification (must be 0).

The job paces itself at shared/chat/push.py JOB_MESSAGES_PER_SECOND (1,600/s, production's share of
FCM's quota), so 10,000 tokens take at least 6.25 s; on a loaded machine the local HTTP round trips
(the stand-in runs in this process) are the bound instead.

    python -m bench.push_fanout [--members 10000]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

MEMBERS = 10_000
TARGET_SECONDS = 10.0


def seed(app_id: str, channel_id: str, users: list[str]) -> set[str]:
    """Member documents and push-roster entries for ``users`` (one device each); their tokens."""
    from shared import store
    from shared.chat import push

    db = store.client()
    channel = store.conversation_ref(app_id, channel_id)
    now = datetime.now(UTC)
    tokens = {user: f"fcm-{user}" for user in users}
    for start in range(0, len(users), 400):
        batch = db.batch()
        for user in users[start : start + 400]:
            batch.set(
                channel.collection("members").document(user),
                {
                    "userId": user,
                    "tenantId": app_id,
                    "channelId": channel_id,
                    "role": "member",
                    "muted": False,
                    "joinedAt": now,
                    "lastReadSeq": 0,
                    "pushTokens": [tokens[user]],
                },
            )
        batch.commit()
    shards: dict[str, dict[str, Any]] = {}
    for user in users:
        shards.setdefault(push.roster_shard(user), {})[user] = {"tokens": [tokens[user]], "muted": False}
    names = sorted(shards)
    for start in range(0, len(names), 100):
        batch = db.batch()
        for shard in names[start : start + 100]:
            batch.set(
                channel.collection(store.ROSTER).document(shard), {"members": shards[shard]}, merge=True
            )
        batch.commit()
    return set(tokens.values())


def measure(members: int = MEMBERS) -> dict[str, Any]:
    """Run the measurement on a fresh local stack; the figures."""
    from bench.stats import percentile
    from infra.local.stack import LocalStack
    from shared.chat import push
    from tests.chat.client import create_app
    from tests.support import eventually

    with LocalStack(functions=("chat_api", "deliver", "create_app"), with_sandbox=False) as stack:
        stack.apply_env()
        app = create_app(stack, "Push bench")
        app.ok("token", {"userId": "poster", "name": "Poster"})
        channel = app.ok("createSub", {"name": "Town square"}, user="poster")["id"]
        users = [f"user-{i:05d}" for i in range(members)]
        seeded = time.monotonic()
        expected = seed(app.app_id, channel, users)
        seed_seconds = time.monotonic() - seeded
        stack.fcm.clear()

        started = time.monotonic()
        posted = app.ok(
            "createPost", {"channelId": channel, "text": "Hello, town", "clientPostId": "b1"}, user="poster"
        )
        answered = time.monotonic()
        first: list[float] = []

        def arrived() -> bool:
            count = stack.fcm.count()
            if count and not first:
                first.append(time.monotonic())
            return count >= len(expected)

        eventually(arrived, timeout=300, interval=0.02, what="every notification")
        done = time.monotonic()
        counts = Counter(m["message"]["token"] for m in stack.fcm.received())
        records = eventually(
            lambda: [
                r
                for r in stack.log_records("deliver")
                if r.get("event") == "push_fan_out" and r.get("post_id") == posted["id"]
            ],
            timeout=30,
            what="the push job's log",
        )
        fanout = done - started
        enqueue_ms = []
        for i in range(20):  # what the post path spends on push: creating the named task
            at = time.monotonic()
            push.enqueue_post_push(app.app_id, f"bench-{i}", f"post-{i}", "poster", "Poster", "hi", None, 1)
            enqueue_ms.append((time.monotonic() - at) * 1000)
        return {
            "members": members,
            "tokens": len(expected),
            "seed_seconds": round(seed_seconds, 2),
            "post_ms": round((answered - started) * 1000, 1),
            "enqueue_ms_p50": round(percentile(enqueue_ms, 50), 1),
            "queued_to_first_ms": round(((first[0] if first else done) - answered) * 1000, 1),
            "fanout_seconds": round(fanout, 2),
            "job_seconds": records[-1].get("seconds"),
            "batches": len(records[-1].get("batches") or []),
            "messages_per_second": round(len(counts) / fanout, 1),
            "missing": len(expected - set(counts)),
            "duplicates": sum(1 for c in counts.values() if c > 1),
            "target_seconds": TARGET_SECONDS,
            "within_target": fanout <= TARGET_SECONDS,
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=MEMBERS)
    args = parser.parse_args(argv)
    from bench.stats import report

    report("push_fanout", measure(args.members))


if __name__ == "__main__":
    main()
