"""Chat push end to end on the local stack: a post through the chat API queues one Cloud Task, deliver
runs the fan-out from the channel's push roster (Firestore emulator), and the FCM stand-in receives
the notifications. Nothing here mocks Firestore, Cloud Tasks or FCM's HTTP API."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.local.stack import LocalStack
from shared import store, tasks
from shared.chat import push
from tests.chat.client import App
from tests.support import eventually

pytestmark = pytest.mark.integration

PUSH_QUEUE = "outbound-push"


def seed_members(app_id: str, channel_id: str, members: dict[str, dict[str, Any]]) -> None:
    """Members as the chat API leaves them (member documents with their pushTokens, and their push
    roster entries), written in batches: joining 1,200 members one API call at a time would test
    the join, not the push."""
    db = store.client()
    channel = store.conversation_ref(app_id, channel_id)
    now = datetime.now(UTC)
    users = list(members)
    for start in range(0, len(users), 400):
        batch = db.batch()
        for user_id in users[start : start + 400]:
            entry = members[user_id]
            batch.set(
                channel.collection("members").document(user_id),
                {
                    "userId": user_id,
                    "tenantId": app_id,
                    "channelId": channel_id,
                    "role": "member",
                    "muted": bool(entry.get("muted")),
                    "joinedAt": now,
                    "lastReadSeq": 0,
                    "pushTokens": list(entry.get("tokens") or []),
                },
            )
        batch.commit()
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(
            pool.map(
                lambda user_id: store.roster_put(
                    app_id,
                    channel_id,
                    user_id,
                    tokens=list(members[user_id].get("tokens") or []),
                    muted=bool(members[user_id].get("muted")),
                    viewing_until=members[user_id].get("viewingUntil"),
                    shard=push.roster_shard(user_id),
                ),
                users,
            )
        )


def community(size: int) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """``size`` members with devices; every 10th has a second device, every 7th muted the channel,
    every 11th is viewing it, every 13th stopped viewing a minute ago. With the tokens that must
    be notified."""
    now = datetime.now(UTC)
    members: dict[str, dict[str, Any]] = {}
    expected: set[str] = set()
    for i in range(size):
        user = f"member-{i:05d}"
        tokens = [f"tok-{user}-phone"] + ([f"tok-{user}-tablet"] if i % 10 == 0 else [])
        entry: dict[str, Any] = {"tokens": tokens}
        if i % 7 == 0:
            entry["muted"] = True
        elif i % 11 == 0:
            entry["viewingUntil"] = now + timedelta(minutes=10)
        elif i % 13 == 0:
            entry["viewingUntil"] = now - timedelta(minutes=1)
        if not entry.get("muted") and i % 11 != 0:
            expected.update(tokens)
        members[user] = entry
    return members, expected


def fan_out_records(stack: LocalStack, post_id: str) -> list[dict[str, Any]]:
    return [
        r
        for r in stack.log_records("deliver")
        if r.get("event") == "push_fan_out" and r.get("post_id") == post_id
    ]


def received_tokens(stack: LocalStack, post_id: str) -> list[str]:
    return [
        m["message"]["token"]
        for m in stack.fcm.received()
        if m["message"].get("data", {}).get("postId") == post_id
    ]


@pytest.fixture
def paused_push_queue(clean_stack: LocalStack) -> Iterator[str]:
    """The push queue, paused (resumed afterwards whatever happens)."""
    name = tasks.queue_path(PUSH_QUEUE)
    tasks._client().pause_queue(name=name)
    try:
        yield name
    finally:
        tasks._client().resume_queue(name=name)


def test_a_post_to_1200_members_reaches_every_eligible_device_once_in_batches_of_500_after_answering(
    app: App, clean_stack: LocalStack, paused_push_queue: str
) -> None:
    app.ok("token", {"userId": "alice", "name": "Alice"})
    channel = app.ok("createSub", {"name": "Club"}, user="alice")["id"]
    app.ok("upsertSub", {"channelId": channel, "pushToken": "tok-alice"}, user="alice")
    members, expected = community(1_199)
    seed_members(app.app_id, channel, members)

    # The post answers while the push queue is paused: it waited for nothing but queueing.
    started = time.monotonic()
    posted = app.ok(
        "createPost", {"channelId": channel, "text": "Meeting at 6", "clientPostId": "p1"}, user="alice"
    )
    answered = time.monotonic() - started
    queued = list(tasks._client().list_tasks(parent=paused_push_queue))
    assert [t.name.rsplit("/", 1)[1] for t in queued] == [push.task_name(app.app_id, channel, posted["id"])]
    assert received_tokens(clean_stack, posted["id"]) == []
    # A retried post (same clientPostId) queues no second push.
    app.ok("createPost", {"channelId": channel, "text": "Meeting at 6", "clientPostId": "p1"}, user="alice")
    assert len(list(tasks._client().list_tasks(parent=paused_push_queue))) == 1

    tasks._client().resume_queue(name=paused_push_queue)
    records = eventually(lambda: fan_out_records(clean_stack, posted["id"]), timeout=60, what="the fan-out")
    sent = received_tokens(clean_stack, posted["id"])
    counts = Counter(sent)
    assert set(counts) == expected, "every eligible device, and nobody else (sender, muted, viewing)"
    assert max(counts.values()) == 1, "nobody twice"
    assert "tok-alice" not in counts
    record = records[-1]
    assert record["outcome"] == "push-sent"
    assert record["sent"] == len(expected)
    assert record["batches"] == [500] * (len(expected) // 500) + [len(expected) % 500]
    assert record["skipped"]["sender"] == 1 and record["skipped"]["muted"] == len(
        [m for m in members.values() if m.get("muted")]
    )
    message = next(m["message"] for m in clean_stack.fcm.received() if m["message"]["token"] in expected)
    assert message["notification"] == {"title": "Club", "body": "Alice: Meeting at 6"}
    assert message["data"] == {
        "appId": app.app_id,
        "channelId": channel,
        "postId": posted["id"],
        "seq": message["data"]["seq"],
    }
    assert int(message["data"]["seq"]) >= 1
    print(
        f"\npost answered in {answered * 1000:.0f} ms; "
        f"fan-out of {len(sent)} tokens took {record['seconds']} s"
    )


def test_dead_tokens_leave_the_roster_and_the_members_devices(app: App, clean_stack: LocalStack) -> None:
    app.ok("token", {"userId": "alice", "name": "Alice"})
    channel = app.ok("createSub", {"name": "Club"}, user="alice")["id"]
    members = {f"m{i:02d}": {"tokens": [f"t{i:02d}-a", f"t{i:02d}-b"]} for i in range(30)}
    seed_members(app.app_id, channel, members)
    clean_stack.fcm.kill_tokens(["t01-a", "t02-a", "t02-b"])  # uninstalled: 404 UNREGISTERED
    clean_stack.fcm.invalidate_tokens(["t03-b"])  # never an FCM token: 400 on message.token

    posted = app.ok("createPost", {"channelId": channel, "text": "hello", "clientPostId": "p1"}, user="alice")
    record = eventually(lambda: fan_out_records(clean_stack, posted["id"]), timeout=30, what="the fan-out")[
        -1
    ]
    assert (record["sent"], record["dead"]) == (56, 4)

    roster = {u: e for _, shard in store.roster_shards(app.app_id, channel) for u, e in shard.items()}
    assert roster["m01"]["tokens"] == ["t01-b"]
    assert roster["m02"]["tokens"] == []
    assert roster["m03"]["tokens"] == ["t03-a"]
    assert roster["m04"]["tokens"] == ["t04-a", "t04-b"]
    member = store.get_chat_member(app.app_id, channel, "m02").data
    assert member["pushTokens"] == [] and member["role"] == "member"
    assert store.get_chat_member(app.app_id, channel, "m01").data["pushTokens"] == ["t01-b"]

    # The next post no longer tries them.
    again = app.ok("createPost", {"channelId": channel, "text": "again", "clientPostId": "p2"}, user="alice")
    record = eventually(lambda: fan_out_records(clean_stack, again["id"]), timeout=30, what="the fan-out")[-1]
    assert (record["sent"], record["dead"]) == (56, 0)


def test_a_503_burst_is_retried_in_the_job_and_nothing_is_sent_twice(
    app: App, clean_stack: LocalStack
) -> None:
    app.ok("token", {"userId": "alice", "name": "Alice"})
    channel = app.ok("createSub", {"name": "Club"}, user="alice")["id"]
    members = {f"m{i:03d}": {"tokens": [f"tok-{i:03d}"]} for i in range(300)}
    seed_members(app.app_id, channel, members)
    clean_stack.fcm.fail_next(120, "UNAVAILABLE", after=100)  # a burst in the middle of the batch

    posted = app.ok("createPost", {"channelId": channel, "text": "hello", "clientPostId": "p1"}, user="alice")
    record = eventually(lambda: fan_out_records(clean_stack, posted["id"]), timeout=30, what="the fan-out")[
        -1
    ]
    counts = Counter(received_tokens(clean_stack, posted["id"]))
    assert set(counts) == {f"tok-{i:03d}" for i in range(300)} and max(counts.values()) == 1
    assert clean_stack.fcm.answers()[503] == 120
    assert record["outcome"] == "push-sent" and record["retried"] >= 120


def test_a_job_that_gives_up_is_retried_by_cloud_tasks_and_sends_only_the_rest(
    app: App, clean_stack: LocalStack
) -> None:
    app.ok("token", {"userId": "alice", "name": "Alice"})
    channel = app.ok("createSub", {"name": "Club"}, user="alice")["id"]
    members = {f"m{i:03d}": {"tokens": [f"tok-{i:03d}"]} for i in range(600)}
    seed_members(app.app_id, channel, members)
    # The first batch (500) goes through; then FCM is down for every attempt the job makes at the
    # second batch (100 tokens x 5 attempts), so the job records its progress and hands back to
    # Cloud Tasks, whose retry sends the second batch only.
    clean_stack.fcm.fail_next(100 * push.SEND_ATTEMPTS, "UNAVAILABLE", after=500)

    posted = app.ok("createPost", {"channelId": channel, "text": "hello", "clientPostId": "p1"}, user="alice")
    records = eventually(
        lambda: [r for r in fan_out_records(clean_stack, posted["id"]) if r["outcome"] == "push-sent"],
        timeout=60,
        what="the retried fan-out",
    )
    outcomes = [r["outcome"] for r in fan_out_records(clean_stack, posted["id"])]
    assert outcomes == ["push-retry", "push-sent"]
    counts = Counter(received_tokens(clean_stack, posted["id"]))
    assert set(counts) == {f"tok-{i:03d}" for i in range(600)}
    assert max(counts.values()) == 1, "the retry skipped what the first attempt had sent"
    assert (records[-1]["already"], records[-1]["sent"]) == (500, 100)
    progress = store.push_progress(app.app_id, channel, posted["id"])
    assert progress is not None and progress["complete"] is True


def test_roster_put_merges_only_the_given_fields_and_roster_remove_deletes_the_entry(
    clean_stack: LocalStack,
) -> None:
    app_id, channel = "roster-app", "roster-channel"
    shard = push.roster_shard("bob.smith")  # a user id with a dot: a map key, not a field path
    store.roster_put(app_id, channel, "bob.smith", tokens=[], muted=False, shard=shard)
    store.roster_put(app_id, channel, "bob.smith", add_tokens=["phone"], shard=shard)
    store.roster_put(app_id, channel, "bob.smith", add_tokens=["tablet", "phone"], shard=shard)
    store.roster_put(app_id, channel, "bob.smith", muted=True, shard=shard)
    until = push.viewing_until()
    store.roster_put(app_id, channel, "bob.smith", viewing_until=until, shard=shard)
    entry = dict(store.roster_shards(app_id, channel))[shard]["bob.smith"]
    assert entry["tokens"] == ["phone", "tablet"] and entry["muted"] is True
    assert abs((entry["viewingUntil"] - until).total_seconds()) < 0.001
    store.roster_put(app_id, channel, "bob.smith", tokens=["laptop"], muted=False, shard=shard)
    entry = dict(store.roster_shards(app_id, channel))[shard]["bob.smith"]
    assert entry["tokens"] == ["laptop"] and entry["muted"] is False
    store.roster_remove(app_id, channel, "bob.smith", shard=shard)
    assert "bob.smith" not in dict(store.roster_shards(app_id, channel))[shard]


def test_quota_exceeded_pauses_the_job_for_retry_after_and_every_device_gets_one_notification(
    clean_stack: LocalStack,
) -> None:
    # The job itself, in this process (the stack's environment points it at the emulator and the
    # stand-in), against an FCM that accepts 50 messages a second and then asks to come back in 1 s.
    app_id, channel = "quota-app", "quota-channel"
    members = {f"m{i:03d}": {"tokens": [f"tok-{i:03d}"]} for i in range(100)}
    seed_members(app_id, channel, members)
    clean_stack.fcm.set_rate(50, retry_after=1)
    task = {
        "action": "push",
        "tenantId": app_id,
        "conversationId": channel,
        "messageId": "post-1",
        "push": {"senderId": "nobody", "senderName": "Sam", "text": "hi", "channelName": None, "seq": 3},
    }
    started = time.monotonic()
    report = push.run(push.Post.from_task(task))
    elapsed = time.monotonic() - started
    counts = Counter(m["message"]["token"] for m in clean_stack.fcm.received())
    assert set(counts) == {f"tok-{i:03d}" for i in range(100)} and max(counts.values()) == 1
    assert clean_stack.fcm.answers().get(429, 0) == report.retried > 0
    assert report.outcome == "push-sent" and report.sent == 100
    assert elapsed >= 1.0, "100 messages at 50/s take at least a second"
