"""The chat backend-as-a-service in Firestore (shared/chat/): apps, API keys, app users, channels,
members, posts, usage shards, rate buckets, join requests and developers' app slots.

An app is a tenant of kind "app" on the same tree as the support inbox:

    apiKeys/{sha256 hex of the key}                  tenantId, prefix, createdAt (server-only)
    developers/{uid}/apps/{n}                        appId: the n-th app an account created
    tenants/{app}/users/{userId}                     name, avatar (upserted by the `token` operation)
    tenants/{app}/conversations/{channelId}          kind group | direct | support, memberCount,
                                                     seq (posts counted so far), summary
                                                     (lastMessage...); no member list: it stays small
    tenants/{app}/conversations/{c}/messages/{post}  a post (direction "in", sender {kind "user"})
    tenants/{app}/conversations/{c}/members/{user}   userId, tenantId, channelId (the collection-group
                                                     query of "my channels"), role, muted, joinedAt,
                                                     lastReadSeq, lastReadAt, lastReadMessageId,
                                                     pushTokens[], settings
    tenants/{app}/conversations/{c}/summaryPending/{post}  a hot channel's deferred summary share
                                                     (folded by shared/inbox.fold_summary)
    tenants/{app}/conversations/{c}/joinRequests/{user}  status pending | declined (server-only)
    tenants/{app}/usage/{YYYY-MM}/shards/{n}         sharded monthly message counter (flushed per
                                                     instance, shared/chat/metering.py)
    tenants/{app}/rateBuckets/{user}-{epoch second}  posts of one user in one second

No transaction anywhere, and nothing per member on a post: a post is one batch of at most four
writes (create the message; merge the channel summary with ``seq: Increment(1)`` or, in a hot
channel, create the post's summary share instead; Increment the poster's own ``lastReadSeq``;
Increment the sender's rate bucket). A member's unread count is ``seq - lastReadSeq``, computed
where it is shown. Like toggles use update_time preconditions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.errors import MemberGone
from shared.store._client import (
    Versioned,
    _fs,
    _nested,
    _rpc,
    _tenant_ref,
    _versioned,
    client,
    conversation_ref,
    increment,
    message_ref,
    server_time,
)

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.firestore import DocumentReference

CHAT_MEMBER_PAGE = 1000
MY_CHANNELS_LIMIT = 500  # channels mysubs lists (members of more see their 500 latest joined)
USAGE_SHARDS = 10
RATE_BUCKET_TTL = timedelta(minutes=10)
JOIN_REQUEST_PAGE = 1000


def _api_key_ref(key_hash: str) -> DocumentReference:
    return client().collection("apiKeys").document(key_hash)


def _member_ref(tenant_id: str, channel_id: str, user_id: str) -> DocumentReference:
    return conversation_ref(tenant_id, channel_id).collection("members").document(user_id)


def _app_user_ref(tenant_id: str, user_id: str) -> DocumentReference:
    return _tenant_ref(tenant_id).collection("users").document(user_id)


def _rate_bucket_ref(tenant_id: str, bucket_id: str) -> DocumentReference:
    return _tenant_ref(tenant_id).collection("rateBuckets").document(bucket_id)


def _usage_shards(tenant_id: str, month: str) -> Any:
    return _tenant_ref(tenant_id).collection("usage").document(month).collection("shards")


def _app_slot_ref(uid: str, slot: int) -> DocumentReference:
    return client().collection("developers").document(uid).collection("apps").document(str(slot))


def _join_request_ref(tenant_id: str, channel_id: str, user_id: str) -> DocumentReference:
    return conversation_ref(tenant_id, channel_id).collection("joinRequests").document(user_id)


# --- apps, API keys, developers' app slots -------------------------------------------------------


def create_app_tenant(
    app_id: str,
    tenant: dict[str, Any],
    key_hash: str,
    key: dict[str, Any],
    owner_slot: tuple[str, int] | None = None,
) -> bool:
    """Create an app's tenant document and its API key record together (both must be new), and with
    ``owner_slot`` (uid, n) the creator's n-th app slot ``developers/{uid}/apps/{n}``: False, and
    nothing written, if that slot is taken (a concurrent creation by the same account)."""
    from google.api_core.exceptions import AlreadyExists

    batch = client().batch()
    batch.create(_tenant_ref(app_id), tenant)
    batch.create(_api_key_ref(key_hash), key)
    if owner_slot is not None:
        batch.create(_app_slot_ref(*owner_slot), {"appId": app_id, "createdAt": server_time()})
    try:
        batch.commit(**_rpc())
    except AlreadyExists:
        if owner_slot is None:
            raise
        return False
    return True


def apps_created_by(uid: str, limit: int) -> int:
    """How many app slots an account holds (at most ``limit`` are counted)."""
    apps = client().collection("developers").document(uid).collection("apps")
    return sum(1 for _ in apps.limit(limit).stream(**_rpc()))


def get_api_key(key_hash: str) -> dict[str, Any] | None:
    """The record of an API key by the SHA-256 of the key, or None."""
    snapshot = _api_key_ref(key_hash).get(**_rpc())
    return snapshot.to_dict() if snapshot.exists else None


def app_tenant_ids() -> list[str]:
    """The ids of every chat app's tenant (kind ``app``): names only, no document fields."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = client().collection("tenants").where(filter=FieldFilter("kind", "==", "app")).select([])
    return [s.id for s in query.stream(**_rpc())]


# --- app users -----------------------------------------------------------------------------------


def put_app_user(tenant_id: str, user_id: str, data: dict[str, Any]) -> None:
    """Create or update an app user's profile (name, avatar)."""
    _app_user_ref(tenant_id, user_id).set(data, merge=True, **_rpc())


def get_app_users(tenant_id: str, user_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Profiles of app users by id (missing users are absent), in one round trip."""
    if not user_ids:
        return {}
    refs = [_app_user_ref(tenant_id, user_id) for user_id in dict.fromkeys(user_ids)]
    return {s.id: s.to_dict() or {} for s in client().get_all(refs, **_rpc()) if s.exists}


def app_user_ids(tenant_id: str) -> Iterator[str]:
    """The ids of an app's users (``tenants/{app}/users``): names only, no document fields."""
    for snapshot in _tenant_ref(tenant_id).collection("users").select([]).stream(**_rpc()):
        yield snapshot.id


# --- channels and members ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatContext:
    """What one chat operation reads first, in one round trip: the channel, the caller's membership,
    the caller's profile and (for posts) the caller's current rate bucket."""

    channel: Versioned
    member: Versioned
    user: dict[str, Any]
    rate_bucket_count: int


def chat_context(
    tenant_id: str, channel_id: str, user_id: str, rate_bucket: str | None = None
) -> ChatContext:
    """Read a channel, the caller's member document and profile (and rate bucket) together."""
    refs = [
        conversation_ref(tenant_id, channel_id),
        _member_ref(tenant_id, channel_id, user_id),
        _app_user_ref(tenant_id, user_id),
    ]
    if rate_bucket:
        refs.append(_rate_bucket_ref(tenant_id, rate_bucket))
    found = {s.reference.path: s for s in client().get_all(refs, **_rpc())}
    snapshots = [found.get(ref.path) for ref in refs]
    channel, member, user = (
        _versioned(s) if s is not None else Versioned(False, {}, None) for s in snapshots[:3]
    )
    count = 0
    if rate_bucket and snapshots[3] is not None and snapshots[3].exists:
        count = int((snapshots[3].to_dict() or {}).get("count", 0))
    return ChatContext(channel, member, user.data, count)


def create_chat_channel(
    tenant_id: str, channel_id: str, channel: dict[str, Any], members: dict[str, dict[str, Any]]
) -> bool:
    """Create a channel with its first members atomically; False if the channel already exists
    (two concurrent creations of the same id: exactly one wins)."""
    from google.api_core.exceptions import AlreadyExists

    batch = client().batch()
    batch.create(conversation_ref(tenant_id, channel_id), channel)
    for user_id, member in members.items():
        batch.set(_member_ref(tenant_id, channel_id, user_id), member)
    try:
        batch.commit(**_rpc())
    except AlreadyExists:
        return False
    return True


def join_chat_channel(tenant_id: str, channel_id: str, user_id: str, member: dict[str, Any]) -> bool:
    """Add a member (their document, ``memberCount`` + 1, and their join request gone); False if
    already a member. Two writes whatever the channel's size: the channel holds no member list."""
    from google.api_core.exceptions import AlreadyExists

    batch = client().batch()
    batch.create(_member_ref(tenant_id, channel_id, user_id), member)
    batch.delete(_join_request_ref(tenant_id, channel_id, user_id))  # answered by the join, if any
    batch.update(
        conversation_ref(tenant_id, channel_id),
        {"memberCount": increment(1), "updatedAt": server_time()},
    )
    try:
        batch.commit(**_rpc())
    except AlreadyExists:
        return False
    return True


def leave_chat_channel(tenant_id: str, channel_id: str, user_id: str) -> bool:
    """Remove a member (their document, ``memberCount`` - 1); False if they were not a member."""
    from google.api_core.exceptions import NotFound

    db = client()
    batch = db.batch()
    batch.delete(_member_ref(tenant_id, channel_id, user_id), option=db.write_option(exists=True))
    batch.update(
        conversation_ref(tenant_id, channel_id),
        {"memberCount": increment(-1), "updatedAt": server_time()},
    )
    try:
        batch.commit(**_rpc())
    except NotFound:
        return False
    return True


def put_chat_members(tenant_id: str, channel_id: str, members: dict[str, dict[str, Any]]) -> None:
    """Write member documents directly, 500 a batch, without touching the channel (seeding large
    channels in tests and benchmarks; the migration). Set, not create: idempotent."""
    rows = list(members.items())
    for start in range(0, len(rows), 500):
        batch = client().batch()
        for user_id, member in rows[start : start + 500]:
            batch.set(_member_ref(tenant_id, channel_id, user_id), member)
        batch.commit(**_rpc())


def chat_members(
    tenant_id: str, channel_id: str, limit: int | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """A channel's members as (user id, member document): all of them, or at most ``limit``.
    Documents without a role (left behind by the old layout's fan-out) are not members."""
    query: Any = conversation_ref(tenant_id, channel_id).collection("members")
    if limit is not None:
        query = query.limit(limit)
    members = [(s.id, s.to_dict() or {}) for s in query.stream(**_rpc())]
    return [(user_id, data) for user_id, data in members if data.get("role")]


def get_chat_member(tenant_id: str, channel_id: str, user_id: str) -> Versioned:
    """A member document with its version."""
    return _versioned(_member_ref(tenant_id, channel_id, user_id).get(**_rpc()))


def update_chat_member(
    tenant_id: str, channel_id: str, user_id: str, data: dict[str, Any], if_version: Any = None
) -> datetime | None:
    """Update a member document (dotted paths allowed); with ``if_version`` only if it has not changed
    since it was read. Returns the write's commit time, or None when it changed or is gone."""
    result = _update_member(tenant_id, channel_id, user_id, data, if_version)
    return None if result is None else (result.update_time or datetime.now(UTC))


def update_chat_member_transforms(
    tenant_id: str, channel_id: str, user_id: str, data: dict[str, Any]
) -> tuple[datetime, dict[str, Any]] | None:
    """Update a member document that must exist (the write's own precondition: no read) and return
    (commit time, the values its field transforms left, by dotted field path), or None when there
    is no such member."""
    from google.cloud.firestore_v1.field_path import FieldPath

    result = _update_member(tenant_id, channel_id, user_id, data, None)
    if result is None:
        return None
    paths = sorted(FieldPath(*p) for p in _transform_paths(_nested(data)))
    values = {
        ".".join(path.parts): _plain(value)
        for path, value in zip(paths, result.transform_results, strict=False)
    }
    return result.update_time or datetime.now(UTC), values


def _update_member(
    tenant_id: str, channel_id: str, user_id: str, data: dict[str, Any], if_version: Any
) -> Any:
    from google.api_core.exceptions import FailedPrecondition, NotFound

    ref = _member_ref(tenant_id, channel_id, user_id)
    try:
        if if_version is None:
            return ref.update(data, **_rpc())
        return ref.update(data, option=client().write_option(last_update_time=if_version), **_rpc())
    except (FailedPrecondition, NotFound):
        return None


def _plain(value: Any) -> Any:
    """A transform result (a Firestore Value message) as a Python value."""
    from google.cloud.firestore_v1 import _helpers

    return _helpers.decode_value(value, client())


def chat_channels_of(
    tenant_id: str, user_id: str, limit: int = MY_CHANNELS_LIMIT
) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """The channels ``user_id`` is a member of, as (channel id, channel document, member document):
    a collection-group query on ``members`` (``userId`` and ``tenantId``: the composite index in
    infra/firestore.indexes.json), then the channels by id in one round trip. Reads: one per
    member document found, one per channel."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        client()
        .collection_group("members")
        .where(filter=FieldFilter("userId", "==", user_id))
        .where(filter=FieldFilter("tenantId", "==", tenant_id))
        .limit(limit)
    )
    mine: dict[str, dict[str, Any]] = {}
    for snapshot in query.stream(**_rpc()):
        data = snapshot.to_dict() or {}
        channel_ref = snapshot.reference.parent.parent
        if channel_ref is not None and data.get("role"):
            mine[channel_ref.id] = data
    if not mine:
        return []
    refs = [conversation_ref(tenant_id, channel_id) for channel_id in mine]
    return [
        (s.id, s.to_dict() or {}, mine[s.id])
        for s in client().get_all(refs, **_rpc())
        if s.exists and s.id in mine
    ]


def chat_channel_ids(tenant_id: str) -> list[str]:
    """The ids of an app's conversations (names only): what the migration walks."""
    conversations = _tenant_ref(tenant_id).collection("conversations").select([])
    return [s.id for s in conversations.stream(**_rpc())]


def migrate_chat_channel(tenant_id: str, channel_id: str, *, dry_run: bool = False) -> dict[str, int]:
    """Move one channel of the old layout (``memberIds[]`` on the channel, a stored ``unreadCount``
    on every member) to the new one: the channel gets ``seq`` (from ``messageCount``) and loses
    ``memberIds``; each member gets ``userId``, ``tenantId``, ``channelId`` and ``lastReadSeq =
    seq - its old unreadCount`` and loses ``unreadCount``; a member document without a role (left
    behind by the old fan-out for a user who left: not a membership) is deleted. Idempotent: a
    channel that has ``seq`` and no ``memberIds``, and members without ``unreadCount``, write
    nothing. Returns what it did
    (``channels``, ``members``: documents written, or that would be with ``dry_run``).

    Not atomic with posts: run it while the old code no longer serves the app (a post of the old
    code in between is still counted: its unread increments are read here)."""
    ref = conversation_ref(tenant_id, channel_id)
    channel = ref.get(**_rpc())
    data = channel.to_dict() or {}
    if not channel.exists or data.get("channel") != "app":
        return {"channels": 0, "members": 0}
    seq = data.get("seq")
    if not isinstance(seq, int):
        seq = int(data.get("messageCount") or 0)
    member_writes: list[tuple[Any, dict[str, Any] | None]] = []
    for snapshot in ref.collection("members").stream(**_rpc()):
        member = snapshot.to_dict() or {}
        if not member.get("role"):
            # Left behind by the old fan-out for a user who left: not a membership. Deleted.
            member_writes.append((snapshot.reference, None))
            continue
        change: dict[str, Any] = {}
        if "unreadCount" in member or not isinstance(member.get("lastReadSeq"), int):
            unread = max(0, int(member.get("unreadCount") or 0))
            change["lastReadSeq"] = max(0, seq - unread)
            change["unreadCount"] = _fs().DELETE_FIELD
        for field, value in (("userId", snapshot.id), ("tenantId", tenant_id), ("channelId", channel_id)):
            if member.get(field) != value:
                change[field] = value
        if change:
            member_writes.append((snapshot.reference, change))
    channel_change: dict[str, Any] = {}
    if "memberIds" in data:
        channel_change["memberIds"] = _fs().DELETE_FIELD
    if data.get("seq") != seq:
        channel_change["seq"] = seq
    if not dry_run:
        writes = [*member_writes, *([(ref, channel_change)] if channel_change else [])]
        for start in range(0, len(writes), 500):
            batch = client().batch()
            for target, change in writes[start : start + 500]:
                if change is None:
                    batch.delete(target)
                else:
                    batch.update(target, change)
            batch.commit(**_rpc())
    return {"channels": 1 if channel_change else 0, "members": len(member_writes)}


# --- posts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewPost:
    """Everything one post writes in its batch: never anything per member.

    ``summary`` is merged into the channel document (field transforms; it should carry
    ``seq: Increment(1)``), or, with ``summary_part``, the channel is left alone and the part is
    created as ``summaryPending/{post id}`` for the hot-conversation fold to count.
    ``poster`` is the member whose ``lastReadSeq`` goes up by one (their own post is never unread
    to them): the batch fails with MemberGone if they are no longer a member."""

    tenant_id: str
    channel_id: str
    post_id: str
    message: dict[str, Any]
    summary: dict[str, Any]
    poster: str | None = None
    summary_part: dict[str, Any] | None = None
    usage_month: str | None = None
    usage_count: int = 0
    usage_shard: int = 0
    rate_bucket: str | None = None


@dataclass(frozen=True)
class WrittenPost:
    """When a post was written: ``created_at`` is the value its server-timestamp fields got (taken
    when Firestore starts processing the request), ``committed_at`` the commit time. Under
    contention the two orders differ: a post stamped earlier may commit later. ``seq`` is the
    channel's ``seq`` this post's own increment left (None when its summary share was deferred)."""

    created_at: datetime
    committed_at: datetime
    seq: int | None = None


def write_post(post: NewPost) -> WrittenPost | None:
    """Write a post in one batch: the message, the channel summary (or its deferred share), the
    poster's ``lastReadSeq`` + 1, the sender's rate bucket (and, near the monthly quota, a usage
    shard). Returns when it was written, None if the post already exists (same deterministic id),
    and raises MemberGone if the poster left meanwhile (the batch wrote nothing)."""
    from google.api_core.exceptions import AlreadyExists, NotFound
    from google.cloud.firestore_v1.field_path import FieldPath

    db = client()
    batch = db.batch()
    channel = conversation_ref(post.tenant_id, post.channel_id)
    batch.create(message_ref(post.tenant_id, post.channel_id, post.post_id), post.message)
    if post.summary_part is not None:
        batch.create(channel.collection("summaryPending").document(post.post_id), post.summary_part)
    else:
        batch.set(channel, post.summary, merge=True)
    if post.poster is not None:
        # update, not merge: a poster who left between our read and this commit fails the batch
        # (NotFound) instead of coming back as a ghost document.
        batch.update(
            _member_ref(post.tenant_id, post.channel_id, post.poster),
            {"lastReadSeq": increment(1)},
        )
    if post.rate_bucket:
        batch.set(
            _rate_bucket_ref(post.tenant_id, post.rate_bucket),
            {"count": increment(1), "expireAt": datetime.now(UTC) + RATE_BUCKET_TTL},
            merge=True,
        )
    if post.usage_month and post.usage_count:
        batch.set(
            _usage_shards(post.tenant_id, post.usage_month).document(str(post.usage_shard)),
            {"count": increment(post.usage_count)},
            merge=True,
        )
    try:
        results = batch.commit(**_rpc())
    except AlreadyExists:
        return None
    except NotFound as exc:
        raise MemberGone(f"the poster left {post.channel_id} during a post") from exc
    committed = results[0].update_time
    stamps = [v.timestamp_value for v in results[0].transform_results if "timestamp_value" in v]
    seq = None
    if post.summary_part is None:
        paths = sorted(FieldPath(*p) for p in _transform_paths(post.summary))
        if FieldPath("seq") in paths and len(results[1].transform_results) == len(paths):
            seq = int(_plain(results[1].transform_results[paths.index(FieldPath("seq"))]))
    return WrittenPost(created_at=stamps[0] if stamps else committed, committed_at=committed, seq=seq)


def _transform_paths(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The field paths of a document's transforms (server time, Increment, Maximum, array ops), in
    the order the client library sends them (sorted): how a commit's transform results line up."""
    from google.cloud.firestore_v1 import transforms

    paths: list[tuple[str, ...]] = []
    for key, value in data.items():
        path = (*prefix, key)
        if isinstance(value, dict) and value:
            paths.extend(_transform_paths(value, path))
        elif value is transforms.SERVER_TIMESTAMP or isinstance(
            value, transforms._ValueList | transforms._NumericValue
        ):
            paths.append(path)
    return paths


def get_post(tenant_id: str, channel_id: str, post_id: str) -> Versioned:
    """A post (message) with its version."""
    return _versioned(message_ref(tenant_id, channel_id, post_id).get(**_rpc()))


def update_post_if(tenant_id: str, channel_id: str, post_id: str, data: dict[str, Any], version: Any) -> bool:
    """Update a post only if it has not changed since it was read; False if it has."""
    from google.api_core.exceptions import FailedPrecondition, NotFound

    try:
        message_ref(tenant_id, channel_id, post_id).update(
            data, option=client().write_option(last_update_time=version), **_rpc()
        )
    except (FailedPrecondition, NotFound):
        return False
    return True


def list_posts(
    tenant_id: str, channel_id: str, before: tuple[datetime, str] | None, limit: int
) -> list[tuple[str, dict[str, Any]]]:
    """Up to ``limit`` messages of a channel, newest first (createdAt, then id, descending), strictly
    after the cursor position ``before`` (createdAt, id) of the previous page."""
    from google.cloud.firestore_v1.field_path import FieldPath

    messages = conversation_ref(tenant_id, channel_id).collection("messages")
    query = messages.order_by("createdAt", direction="DESCENDING").order_by(
        FieldPath.document_id(), direction="DESCENDING"
    )
    if before is not None:
        query = query.start_after(
            {"createdAt": before[0], FieldPath.document_id(): messages.document(before[1])}
        )
    return [(s.id, s.to_dict() or {}) for s in query.limit(limit).stream(**_rpc())]


def count_unread(tenant_id: str, channel_id: str, user_id: str, after: datetime | None) -> int:
    """The exact number of posts (and agents' replies) in a channel created after ``after`` by anyone
    but ``user_id``: two aggregation counts (everything visible after, minus the user's own after);
    agents' notes are not posts and are not counted.

    Production needs the composite indexes (direction, createdAt) and (sender.id, createdAt)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    messages: Any = conversation_ref(tenant_id, channel_id).collection("messages")
    visible = messages.where(filter=FieldFilter("direction", "in", ["in", "out"]))
    mine = messages.where(filter=FieldFilter("sender.id", "==", user_id))
    if after is not None:
        visible = visible.where(filter=FieldFilter("createdAt", ">", after))
        mine = mine.where(filter=FieldFilter("createdAt", ">", after))
    total = visible.count().get(**_rpc())[0][0].value
    own = mine.count().get(**_rpc())[0][0].value
    return int(total) - int(own)


# --- usage and push ------------------------------------------------------------------------------


def usage_total(tenant_id: str, month: str) -> int:
    """A sharded counter's value: the sum of its shards (at most USAGE_SHARDS documents)."""
    return sum(
        int((s.to_dict() or {}).get("count", 0))
        for s in _usage_shards(tenant_id, month).limit(USAGE_SHARDS * 2).stream(**_rpc())
    )


def add_usage(tenant_id: str, month: str, shard: int, count: int) -> None:
    """Add ``count`` messages to one usage shard (an instance's aggregated flush)."""
    shard_ref = _usage_shards(tenant_id, month).document(str(shard))
    shard_ref.set({"count": increment(count)}, merge=True, **_rpc())


# --- join requests (shared/chat/api.py) ----------------------------------------------------------
# Server-only (the rules grant no read); a join (join_chat_channel) deletes the joiner's request in
# its own batch.


def create_join_request(
    tenant_id: str, channel_id: str, user_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Record a join request unless the user already has one; the request as stored (an existing
    one is left as it is: asking again neither re-opens a declined request nor moves a pending one)."""
    from google.api_core.exceptions import AlreadyExists

    ref = _join_request_ref(tenant_id, channel_id, user_id)
    try:
        ref.create(data, **_rpc())
    except AlreadyExists:
        snapshot = ref.get(**_rpc())
        if snapshot.exists:
            return snapshot.to_dict() or {}
        ref.create(data, **_rpc())  # answered (joined) in between: ask afresh
    return data


def get_join_request(tenant_id: str, channel_id: str, user_id: str) -> dict[str, Any] | None:
    """A user's join request to a channel, or None."""
    snapshot = _join_request_ref(tenant_id, channel_id, user_id).get(**_rpc())
    return snapshot.to_dict() if snapshot.exists else None


def pending_join_requests(tenant_id: str, channel_id: str) -> list[tuple[str, dict[str, Any]]]:
    """A channel's pending join requests as (user id, request), at most JOIN_REQUEST_PAGE (one
    equality filter: no composite index)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        conversation_ref(tenant_id, channel_id)
        .collection("joinRequests")
        .where(filter=FieldFilter("status", "==", "pending"))
        .limit(JOIN_REQUEST_PAGE)
    )
    return [(s.id, s.to_dict() or {}) for s in query.stream(**_rpc())]


def decline_join_request(tenant_id: str, channel_id: str, user_id: str, decided_by: str | None) -> bool:
    """Mark a join request declined; False if there is none."""
    from google.api_core.exceptions import NotFound

    try:
        _join_request_ref(tenant_id, channel_id, user_id).update(
            {"status": "declined", "decidedAt": server_time(), "decidedBy": decided_by}, **_rpc()
        )
    except NotFound:
        return False
    return True
