"""Issue 14: a post costs the same for 2 members or 10,000, on the emulators.

The chat API's operations run in this process here (shared/chat/api.py, against the stack's
Firestore, Cloud Tasks and deliver), with a meter around the Firestore client's RPCs that counts,
for the calling thread only, every document written (``commit``) and every document a read asked
for (``batch_get_documents`` counts each document requested, found or not: an upper bound; a query
counts the documents it returned, at least one). Before this change a post wrote N+3 documents and
read N+4 (every member's unread counter), set_read read about 25, and mysubs queried ``memberIds``.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared import cli, store
from shared.chat import api, metering, push
from shared.chat.models import CreatePostRequest, MySubsRequest, SetReadRequest
from tests.chat.client import App
from tests.support import eventually

pytestmark = pytest.mark.integration


@dataclass
class Meter:
    """Documents written and read by the thread that installed the meter."""

    thread: int = field(default_factory=threading.get_ident)
    writes: int = 0
    reads: int = 0
    written: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def reset(self) -> None:
        self.writes = self.reads = 0


@contextmanager
def metered() -> Iterator[Meter]:
    from google.cloud.firestore_v1.services.firestore.client import FirestoreClient

    meter = Meter()
    originals: dict[str, Callable[..., Any]] = {}

    def mine() -> bool:
        return threading.get_ident() == meter.thread

    def wrap(name: str) -> None:
        original = originals[name] = getattr(FirestoreClient, name)

        def counted(client: Any, *args: Any, **kwargs: Any) -> Any:
            request = kwargs.get("request", args[0] if args else None)
            answer = original(client, *args, **kwargs)
            if not mine():
                return answer
            if name == "commit":
                writes = request.get("writes") if isinstance(request, dict) else request.writes
                for write in writes or []:
                    path = (
                        write.update.name if write.update.name else write.delete or write.transform.document
                    )
                    meter.written[str(path).split("/documents/", 1)[-1]].append(time.monotonic())
                meter.writes += len(writes or [])
                return answer
            if name == "get_document":
                meter.reads += 1
                return answer
            if name == "batch_get_documents":
                documents = request.get("documents") if isinstance(request, dict) else request.documents
                meter.reads += len(documents or [])
                return answer
            return _counting(answer, meter)

        setattr(FirestoreClient, name, counted)

    for name in ("commit", "get_document", "batch_get_documents", "run_query", "run_aggregation_query"):
        wrap(name)
    try:
        yield meter
    finally:
        for name, original in originals.items():
            setattr(FirestoreClient, name, original)


def _counting(stream: Any, meter: Meter) -> Iterator[Any]:
    documents = 0
    try:
        for response in stream:
            if response._pb.HasField("document") or response._pb.HasField("result"):
                documents += 1
            yield response
    finally:
        meter.reads += max(documents, 1)


def member_doc(app_id: str, channel_id: str, user_id: str, seq: int = 0) -> dict[str, Any]:
    return {
        "userId": user_id,
        "tenantId": app_id,
        "channelId": channel_id,
        "role": "member",
        "muted": False,
        "lastReadSeq": seq,
        "lastReadAt": None,
        "lastReadMessageId": None,
        "pushTokens": [],
        "settings": {},
    }


def seed_members(app_id: str, channel_id: str, count: int, prefix: str = "m") -> None:
    """``count`` more members, written straight through the store (500 a batch), and memberCount."""
    store.put_chat_members(
        app_id,
        channel_id,
        {f"{prefix}{i}": member_doc(app_id, channel_id, f"{prefix}{i}") for i in range(count)},
    )
    store.update_conversation(app_id, channel_id, {"memberCount": store.increment(count)})


def caller(app: App, user: str) -> api.AppCaller:
    return api.AppCaller(app.app_id, user, "api_key")


def warm(app_id: str) -> None:
    """The quota check's cached figures (tenant limits, usage), as a serving instance has them."""
    metering.reset()
    metering.monthly_limit(app_id)
    metering.usage(app_id)


def one_post(app: App, user: str, channel_id: str, text: str) -> tuple[int, int, dict[str, Any]]:
    """(documents written, documents read) by one createPost, on the request path."""
    with metered() as meter:
        post = api.create_post(
            caller(app, user), CreatePostRequest(channelId=channel_id, text=text, clientPostId=text)
        )
    return meter.writes, meter.reads, post.model_dump(mode="json")


def test_a_post_writes_and_reads_the_same_few_documents_for_2_or_500_members(app: App) -> None:
    app.ok("token", {"userId": "alice", "name": "Alice"})
    app.ok("token", {"userId": "bob", "name": "Bob"})
    small = app.ok("createSub", {"name": "Two", "joinPolicy": "open"}, user="alice")["id"]
    app.ok("createSub", {"channelId": small}, user="bob")
    large = app.ok("createSub", {"name": "Many", "joinPolicy": "open"}, user="alice")["id"]
    seed_members(app.app_id, large, 499)

    counts = {}
    for n, channel in ((2, small), (500, large)):
        warm(app.app_id)
        time.sleep(1.1)  # alice's rate bucket and the channel's pacing start afresh
        writes, reads, post = one_post(app, "alice", channel, f"hello-{n}")
        counts[n] = (writes, reads)
        assert post["information"]["text"] == f"hello-{n}"
    assert counts[2] == counts[500], counts
    writes, reads = counts[500]
    assert writes <= 4 and reads <= 4, counts  # before: 503 writes and 504 reads at N = 500
    assert writes >= 3 and reads >= 3, counts  # the meter saw the post (message, summary, poster...)
    # Nobody's member document was touched but the poster's: unread comes from seq.
    channel = store.get_conversation(app.app_id, large) or {}
    assert channel["seq"] == 1 and "memberIds" not in channel
    assert store.get_chat_member(app.app_id, large, "m7").data["lastReadSeq"] == 0
    assert store.get_chat_member(app.app_id, large, "alice").data["lastReadSeq"] == 1
    m7 = app.ok("mysubs", user="m7")["channels"]
    assert [(c["id"], c["unreadCount"]) for c in m7] == [(large, 1)]
    assert app.ok("mysubs", user="alice")["channels"][0]["unreadCount"] == 0  # one's own post


def test_ten_posts_a_second_into_one_channel_write_no_document_twice_a_second(app: App) -> None:
    users = [f"u{i}" for i in range(10)]
    app.ok("token", {"userId": "owner"})
    channel = app.ok("createSub", {"name": "Busy", "joinPolicy": "open"}, user="owner")["id"]
    for user in users:
        app.ok("token", {"userId": user})
        app.ok("createSub", {"channelId": channel}, user=user)
    warm(app.app_id)
    posts = 30
    with metered() as meter:
        start = time.monotonic()
        for i in range(posts):  # 10 posts a second, each user once a second
            time.sleep(max(0.0, start + i * 0.1 - time.monotonic()))
            before = meter.writes
            api.create_post(
                caller(app, users[i % 10]),
                CreatePostRequest(channelId=channel, text=f"p{i}", clientPostId=f"p{i}"),
            )
            assert meter.writes - before <= 4
    channel_path = f"tenants/{app.app_id}/conversations/{channel}"
    assert meter.written[channel_path], "the first post of a quiet channel writes its summary itself"
    for path, times in meter.written.items():
        if "/rateBuckets/" in path or path.startswith(f"{channel_path}/members/"):
            continue  # the poster's own documents: bounded by each user's rate (1 a second here)
        times.sort()
        closest = min((b - a for a, b in itertools.pairwise(times)), default=None)
        assert closest is None or closest >= 0.9, (path, len(times), closest)
    # Every post counted exactly once, once the hot channel's shares are folded (deliver, ~1/s).
    summary = eventually(
        lambda: (store.get_conversation(app.app_id, channel) or {}).get("seq") == posts or None,
        timeout=15,
        what="seq folded",
    )
    assert summary
    data = store.get_conversation(app.app_id, channel) or {}
    assert data["messageCount"] == posts and data["lastPost"]["text"] == f"p{posts - 1}"
    mine = app.ok("mysubs", user="owner")["channels"]
    assert mine[0]["unreadCount"] == posts
    assert app.ok("mysubs", user="u3")["channels"][0]["unreadCount"] == posts - posts // 10


def test_set_read_is_one_write_and_at_most_one_read(app: App) -> None:
    app.ok("token", {"userId": "alice"})
    app.ok("token", {"userId": "bob"})
    channel = app.ok("createSub", {"name": "Reads", "joinPolicy": "open"}, user="alice")["id"]
    app.ok("createSub", {"channelId": channel}, user="bob")
    seed_members(app.app_id, channel, 300)
    for i in range(3):
        app.ok("createPost", {"channelId": channel, "text": f"r{i}", "clientPostId": f"r{i}"}, user="alice")
        time.sleep(1.05)  # a quiet channel: each post writes the summary itself
    bob = caller(app, "bob")

    with metered() as meter:
        answer = api.set_read(bob, SetReadRequest(channelId=channel))
    assert (meter.writes, meter.reads) == (1, 1)  # before: 1 write and about 25 reads
    assert (answer.unreadCount, answer.seq) == (0, 3)

    with metered() as meter:
        answer = api.set_read(bob, SetReadRequest(channelId=channel, seq=2))
    assert (meter.writes, meter.reads) == (1, 0)
    assert answer.unreadCount == 0  # the pointer never moves back on this path
    assert store.get_chat_member(app.app_id, channel, "bob").data["lastReadSeq"] == 3

    # The rarer path: back to a post (unread from there), a few reads more.
    first = app.ok("posts", {"channelId": channel}, user="bob")["posts"][-1]
    answer = api.set_read(bob, SetReadRequest(channelId=channel, postId=first["id"]))
    assert answer.unreadCount == 2
    assert app.ok("mysubs", user="bob")["channels"][0]["unreadCount"] == 2
    assert app.ok("upsertSub", {"channelId": channel, "pushToken": "tok-b"}, user="bob")["unreadCount"] == 2
    # A new member starts at the channel's seq: what was posted before they joined is not unread.
    app.ok("token", {"userId": "carol"})
    assert app.ok("createSub", {"channelId": channel}, user="carol")["unreadCount"] == 0
    app.ok("createPost", {"channelId": channel, "text": "r3", "clientPostId": "r3"}, user="alice")
    assert app.ok("mysubs", user="carol")["channels"][0]["unreadCount"] == 1

    # Not a member: the write's own precondition says so, no read needed; no channel: 404.
    refused = app.call("setRead", {"channelId": channel, "seq": 3}, user="m-none")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "not_a_member")
    missing = app.call("setRead", {"channelId": "no-such", "seq": 3}, user="bob")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "channel_not_found")


def test_set_read_viewing_marks_the_member_in_the_push_roster(app: App) -> None:
    app.ok("token", {"userId": "alice"})
    channel = app.ok("createSub", {"name": "Viewed"}, user="alice")["id"]
    answer = app.ok("setRead", {"channelId": channel, "seq": 0, "viewing": True}, user="alice")
    assert answer["unreadCount"] == 0
    entries = {
        user: entry
        for _, members in store.roster_shards(app.app_id, channel)
        for user, entry in members.items()
    }
    assert entries["alice"].get("viewingUntil") is not None
    assert push.roster_shard("alice") in {shard for shard, _ in store.roster_shards(app.app_id, channel)}


def test_the_10001st_member_joins_and_the_channel_document_stays_small(app: App) -> None:
    app.ok("token", {"userId": "owner"})
    channel = app.ok("createSub", {"name": "Community", "joinPolicy": "open"}, user="owner")["id"]
    seed_members(app.app_id, channel, 9_999)  # with the owner: 10,000
    newcomer = app.user("newcomer", "Newcomer")
    joined = app.ok("createSub", {"channelId": channel}, id_token=newcomer)
    assert joined["memberCount"] == 10_001
    data = store.get_conversation(app.app_id, channel) or {}
    assert "memberIds" not in data
    store.check_storable(data)
    assert len(repr(data)) < 4_000  # a handful of fields, whatever the member count
    post = app.ok(
        "createPost", {"channelId": channel, "text": "hi all", "clientPostId": "n1"}, id_token=newcomer
    )
    assert post["information"]["text"] == "hi all"
    mine = app.ok("mysubs", id_token=newcomer)["channels"]
    assert [(c["id"], c["memberCount"], c["unreadCount"]) for c in mine] == [(channel, 10_001, 0)]
    assert app.ok("mysubs", user="m9998")["channels"][0]["unreadCount"] == 1


def test_mysubs_is_a_collection_group_query_on_my_member_documents(app: App) -> None:
    app.ok("token", {"userId": "alice"})
    app.ok("token", {"userId": "bob"})
    mine = [
        app.ok("createSub", {"name": f"c{i}", "joinPolicy": "open"}, user="alice")["id"] for i in range(3)
    ]
    theirs = app.ok("createSub", {"name": "not mine"}, user="bob")["id"]
    app.ok("createSub", {"channelId": mine[1]}, user="bob")
    with metered() as meter:
        answer = api.mysubs(caller(app, "alice"), MySubsRequest())
    assert {c.id for c in answer.channels} == set(mine) and theirs not in {c.id for c in answer.channels}
    assert meter.reads == 6  # three member documents, three channels
    assert {c.id for c in api.mysubs(caller(app, "bob"), MySubsRequest()).channels} == {theirs, mine[1]}


def test_posts_count_usage_without_a_write_per_post(app: App) -> None:
    app.ok("token", {"userId": "alice"})
    channel = app.ok("createSub", {"name": "Metered"}, user="alice")["id"]
    warm(app.app_id)
    month = metering.month_of()
    with metered() as meter:
        for i in range(3):
            api.create_post(
                caller(app, "alice"), CreatePostRequest(channelId=channel, text=f"u{i}", clientPostId=f"u{i}")
            )
    usage_paths = [p for p in meter.written if "/usage/" in p]
    assert usage_paths == []  # counted in memory
    assert metering.usage(app.app_id, month) == 3  # this instance knows its own posts at once
    metering.flush()  # what the background flusher does every few seconds (it may have already)
    assert store.usage_total(app.app_id, month) == 3
    assert metering.flush() == 0
    metering.reset()


def test_migrate_chat_layout_moves_old_channels_and_members_once(app: App) -> None:
    app.ok("token", {"userId": "alice"})
    app.ok("token", {"userId": "bob"})
    channel = "legacy-room"
    ref = store.conversation_ref(app.app_id, channel)
    ref.set(
        {
            "kind": "group",
            "channel": "app",
            "name": "Legacy",
            "memberIds": ["alice", "bob"],
            "memberCount": 2,
            "messageCount": 5,
            "lastActivityAtMs": 1,
        }
    )
    ref.collection("members").document("alice").set({"role": "owner", "unreadCount": 0, "muted": False})
    ref.collection("members").document("bob").set({"role": "member", "unreadCount": 2, "muted": False})
    ref.collection("members").document("gone").set({"unreadCount": 4})  # the old fan-out's ghost
    assert app.ok("mysubs", user="bob")["channels"] == []  # the old layout is invisible to the new code

    assert cli.main(["migrate-chat-layout", "--dry-run"]) == 0
    assert "memberIds" in (store.get_conversation(app.app_id, channel) or {})

    assert cli.main(["migrate-chat-layout"]) == 0
    data = store.get_conversation(app.app_id, channel) or {}
    assert "memberIds" not in data and data["seq"] == 5
    bob = store.get_chat_member(app.app_id, channel, "bob").data
    assert (bob["lastReadSeq"], bob["tenantId"], bob["channelId"], bob["userId"]) == (
        3,
        app.app_id,
        channel,
        "bob",
    )
    assert "unreadCount" not in bob
    assert not store.get_chat_member(app.app_id, channel, "gone").exists
    assert [(c["id"], c["unreadCount"]) for c in app.ok("mysubs", user="bob")["channels"]] == [(channel, 2)]
    assert app.ok("mysubs", user="alice")["channels"][0]["unreadCount"] == 0

    before = {s.id: s.update_time for s in ref.collection("members").stream()}
    assert store.migrate_chat_channel(app.app_id, channel) == {"channels": 0, "members": 0}
    assert cli.main(["migrate-chat-layout"]) == 0
    assert {s.id: s.update_time for s in ref.collection("members").stream()} == before


def test_an_agents_reply_in_a_support_channel_counts_into_seq(app: App) -> None:
    app.ok("token", {"userId": "alice"})
    support = app.ok("createSub", {"support": True}, user="alice")["id"]
    app.ok("createPost", {"channelId": support, "text": "help", "clientPostId": "h1"}, user="alice")
    from shared.chat import support as chat_support

    written = chat_support.write_agent_reply(
        app.app_id,
        support,
        "agent-reply-1",
        {
            "direction": "out",
            "type": "text",
            "text": "hello",
            "sender": {"kind": "agent", "id": "ag", "name": "Ann"},
        },
        {"updatedAt": store.server_time()},
    )
    assert written["created"] is True
    members = Counter(u for u, _ in store.chat_members(app.app_id, support))
    assert members == {"alice": 1}
    data = store.get_conversation(app.app_id, support) or {}
    assert data["seq"] == 2
    assert app.ok("mysubs", user="alice")["channels"][0]["unreadCount"] == 1


def test_a_written_post_knows_the_seq_its_increment_left(app: App) -> None:
    app.ok("token", {"userId": "alice"})
    channel = app.ok("createSub", {"name": "Seq"}, user="alice")["id"]
    for expected in (1, 2):
        summary = api._summary(f"p{expected}", "text", "t", "in", "alice", "Alice", 1)
        written = store.write_post(
            store.NewPost(
                tenant_id=app.app_id,
                channel_id=channel,
                post_id=f"p{expected}",
                message={"direction": "in", "text": "t", "createdAt": store.server_time()},
                summary=summary,
                poster="alice",
            )
        )
        assert written is not None and written.seq == expected
    assert store.get_chat_member(app.app_id, channel, "alice").data["lastReadSeq"] == 2
