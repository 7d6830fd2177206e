"""The chat API under concurrency and limits, on the emulators: exact unread counts (channel seq -
member lastReadSeq) while several users post at once (and others read), one direct channel however
many callers race to open it, the per-user rate limit, the monthly quota and its sharded counter."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from shared import store
from shared.chat import api, metering
from tests.chat.client import App
from tests.chat.conformance import assert_conforms
from tests.support import eventually

pytestmark = pytest.mark.integration

POSTERS = ("ann", "ben", "cat", "dan")
POSTS_EACH = 12
SILENT = ("eve", "fay")  # members who never post
READER = "eve"  # reads (setRead) over and over during the burst
POSTING_READER = "ann"  # posts AND reads during the burst


def post_until_accepted(
    app: App, session: requests.Session, user: str, body: dict[str, Any]
) -> dict[str, Any]:
    """What a well-behaved client does: retry a rate-limited post (same clientPostId) a moment later."""
    while True:
        response = app.call("createPost", body, user=user, session=session)
        if response.status_code == 429:
            assert response.json()["error"]["code"] == "rate_limited"
            assert int(response.headers["Retry-After"]) >= 1
            time.sleep(0.2)
            continue
        assert response.status_code == 200, response.text
        return dict(response.json())


def stored_posts(app_id: str, channel_id: str) -> list[Any]:
    """Every post of a channel as Firestore snapshots (create_time is the commit time)."""
    return list(store.conversation_ref(app_id, channel_id).collection("messages").stream())


def test_unread_counts_are_exact_under_concurrent_posts_from_several_users(app: App) -> None:
    for user in (*POSTERS, *SILENT):
        app.ok("token", {"userId": user, "name": user.title()})
    channel = app.ok("createSub", {"name": "Busy"}, user=POSTERS[0])["id"]
    for user in (*POSTERS[1:], *SILENT):
        app.ok("createSub", {"channelId": channel}, user=user)

    last_reads: dict[str, dict[str, Any]] = {}
    done = threading.Event()

    def read_repeatedly(user: str) -> None:
        session = requests.Session()
        while not done.is_set():
            answer = app.ok("setRead", {"channelId": channel}, user=user, session=session)
            assert_conforms("/v1/setRead", 200, answer)
            last_reads[user] = answer
            time.sleep(0.05)

    def post_all(user: str) -> list[str]:
        session = requests.Session()
        return [
            post_until_accepted(
                app,
                session,
                user,
                {"channelId": channel, "text": f"{user} {i}", "clientPostId": f"{user}-{i}"},
            )["id"]
            for i in range(POSTS_EACH)
        ]

    with ThreadPoolExecutor(max_workers=len(POSTERS) + 2) as pool:
        readers = [pool.submit(read_repeatedly, user) for user in (READER, POSTING_READER)]
        posted = [pool.submit(post_all, user) for user in POSTERS]
        ids = [post_id for future in posted for post_id in future.result()]
        done.set()
        for reader in readers:
            reader.result()

    total = len(POSTERS) * POSTS_EACH
    assert len(set(ids)) == total
    snapshots = stored_posts(app.app_id, channel)
    assert len(snapshots) == total
    by_user = Counter((s.to_dict() or {})["sender"]["id"] for s in snapshots)
    assert by_user == dict.fromkeys(POSTERS, POSTS_EACH)

    # The channel counts every post once: seq (and messageCount), whether a post wrote the summary
    # itself or had its share folded in (a hot channel: about a second later).
    def counted() -> dict[str, Any] | None:
        data = store.get_conversation(app.app_id, channel) or {}
        return data if data.get("seq") == total else None

    summary = eventually(counted, timeout=15, what="every post counted into seq")
    assert summary["messageCount"] == total
    assert store.conversation_ref(app.app_id, channel).collection("summaryPending").get() == []

    members = dict(store.chat_members(app.app_id, channel))
    for user in (*POSTERS, *SILENT):
        assert "unreadCount" not in members[user]  # nothing per member is written by a post
        if user in last_reads:
            continue
        # Never read: every post by someone else is unread, exactly, and none of their own.
        assert members[user]["lastReadSeq"] == by_user[user], user
        assert api.unread_count(summary, members[user]) == total - by_user[user], user
    for user, answer in last_reads.items():
        assert 0 <= answer["unreadCount"] <= total, user
        assert 0 <= answer["seq"] <= total, user

    # After the burst, reading to the end leaves nothing unread for anybody.
    for user in (*POSTERS, *SILENT):
        assert app.ok("setRead", {"channelId": channel}, user=user)["unreadCount"] == 0
    assert {c["unreadCount"] for u in (*POSTERS, *SILENT) for c in app.ok("mysubs", user=u)["channels"]} == {
        0
    }

    # Usage was counted once per post, without a write per post: chat_api counts in memory and its
    # flusher adds the count to a shard every few seconds.
    month = metering.month_of()
    eventually(
        lambda: store.usage_total(app.app_id, month) == total or None,
        timeout=15,
        what="the usage flushed",
    )
    shards = list(
        store.client()
        .collection("tenants")
        .document(app.app_id)
        .collection("usage")
        .document(month)
        .collection("shards")
        .stream()
    )
    assert sum((s.to_dict() or {})["count"] for s in shards) == total


def test_concurrent_create_pm_from_both_sides_creates_one_channel(app: App) -> None:
    for user in ("alice", "bob"):
        app.ok("token", {"userId": user, "name": user.title()})

    def open_pm(i: int) -> dict[str, Any]:
        me, other = ("alice", "bob") if i % 2 else ("bob", "alice")
        return app.ok("createPM", {"userId": other}, user=me)

    with ThreadPoolExecutor(max_workers=12) as pool:
        channels = list(pool.map(open_pm, range(24)))
    assert len({c["id"] for c in channels}) == 1
    assert len({c["createdAt"] for c in channels}) == 1
    direct = [
        s.id
        for s in store.client()
        .collection("tenants")
        .document(app.app_id)
        .collection("conversations")
        .stream()
        if (s.to_dict() or {}).get("kind") == "direct"
    ]
    assert direct == [channels[0]["id"]]
    members = store.chat_members(app.app_id, direct[0])
    assert sorted(user for user, _ in members) == ["alice", "bob"]
    assert store.get_conversation(app.app_id, direct[0])["memberCount"] == 2


def test_a_user_may_post_five_times_a_second(app: App) -> None:
    app.ok("token", {"userId": "alice"})
    channel = app.ok("createSub", {"name": "Flood"}, user="alice")["id"]

    def post(i: int) -> requests.Response:
        return app.call(
            "createPost", {"channelId": channel, "text": f"{i}", "clientPostId": f"f{i}"}, user="alice"
        )

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(post, range(12)))
    elapsed = time.monotonic() - started
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) == {200, 429}, statuses
    if elapsed < 1.0:
        assert statuses[200] == 5, statuses
    limited = [r for r in responses if r.status_code == 429]
    for response in limited:
        assert response.json()["error"]["code"] == "rate_limited"
        assert "5 posts per second" in response.json()["error"]["message"]
        assert int(response.headers["Retry-After"]) >= 1
        assert_conforms("/v1/createPost", 429, response.json())
    # Another user is not limited by alice's burst, and alice may post again a second later.
    app.ok("token", {"userId": "bob"})
    app.ok("createSub", {"channelId": channel}, user="bob")
    app.ok("createPost", {"channelId": channel, "text": "me too", "clientPostId": "b1"}, user="bob")
    time.sleep(1.1)
    app.ok("createPost", {"channelId": channel, "text": "again", "clientPostId": "f-again"}, user="alice")
    stored = len(stored_posts(app.app_id, channel))
    assert stored == statuses[200] + 2


def test_the_monthly_quota_is_enforced_from_the_tenant_limit(app: App) -> None:
    store.put_tenant(app.app_id, {"limits": {"monthlyMessages": 3}})
    app.ok("token", {"userId": "alice"})
    channel = app.ok("createSub", {"name": "Metered"}, user="alice")["id"]
    for i in range(3):
        app.ok("createPost", {"channelId": channel, "text": f"{i}", "clientPostId": f"q{i}"}, user="alice")
    over = app.call(
        "createPost", {"channelId": channel, "text": "one more", "clientPostId": "q3"}, user="alice"
    )
    assert over.status_code == 429
    error = over.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert "3 messages" in error["message"]
    assert_conforms("/v1/createPost", 429, over.json())
    assert int(over.headers["Retry-After"]) >= 1
    assert store.usage_total(app.app_id, metering.month_of()) == 3
    # Reading is not metered.
    assert len(app.ok("posts", {"channelId": channel}, user="alice")["posts"]) == 3
