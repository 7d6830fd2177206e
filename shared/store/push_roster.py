"""The push roster of a chat channel, and the progress of its push jobs (shared/chat/push.py).

``tenants/{app}/conversations/{c}/pushRoster/{shard}``: ``members.{userId} = {"tokens": [...],
"muted": bool, "viewingUntil": timestamp | None}`` for the members who hash into the shard
(``shared.chat.push.roster_shard``). A post's push job reads every shard of its channel (one query,
one read per shard document) instead of every member document. ``members`` is exempt from
indexing (infra/firestore.indexes.json): nothing queries it, and its entries would otherwise cost
index entries on every write.

``tenants/{app}/conversations/{c}/pushJobs/{postId}``: what a push job has handed to FCM so far, for
a retried job not to send twice (written only by jobs that need it: see shared/chat/push.py), with
``expireAt`` for the TTL policy.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from shared.store._client import _rpc, client, conversation_ref, field_path

ROSTER = "pushRoster"
PUSH_JOBS = "pushJobs"


def _shard_ref(tenant_id: str, channel_id: str, shard: str) -> Any:
    return conversation_ref(tenant_id, channel_id).collection(ROSTER).document(shard)


def roster_put(
    tenant_id: str,
    channel_id: str,
    user_id: str,
    *,
    tokens: list[str] | None = None,
    muted: bool | None = None,
    viewing_until: datetime | None = None,
    shard: str,
    add_tokens: list[str] | None = None,
) -> None:
    """Merge one member's roster entry: only the given fields change (one write, no read).

    ``tokens`` replaces the member's device tokens (pass the member's whole ``pushTokens``; ``[]`` on
    join); ``add_tokens`` adds to them instead (``upsertSub`` with one new ``pushToken``);
    ``viewing_until`` is when the member stops counting as viewing the channel."""
    from google.cloud import firestore

    entry: dict[str, Any] = {}
    if tokens is not None:
        entry["tokens"] = list(dict.fromkeys(t for t in tokens if t))
    elif add_tokens:
        entry["tokens"] = firestore.ArrayUnion([t for t in add_tokens if t])
    if muted is not None:
        entry["muted"] = bool(muted)
    if viewing_until is not None:
        entry["viewingUntil"] = viewing_until
    if not entry:
        return
    _shard_ref(tenant_id, channel_id, shard).set({"members": {user_id: entry}}, merge=True, **_rpc())


def roster_remove(tenant_id: str, channel_id: str, user_id: str, *, shard: str) -> None:
    """Delete one member's roster entry (leave, removal); nothing if there is none."""
    from google.cloud import firestore

    _shard_ref(tenant_id, channel_id, shard).set(
        {"members": {user_id: firestore.DELETE_FIELD}}, merge=True, **_rpc()
    )


def roster_shards(tenant_id: str, channel_id: str) -> list[tuple[str, dict[str, dict[str, Any]]]]:
    """Every shard of a channel's roster as (shard id, {user id: entry}), by shard id."""
    shards = []
    for snapshot in conversation_ref(tenant_id, channel_id).collection(ROSTER).stream(**_rpc()):
        members = (snapshot.to_dict() or {}).get("members") or {}
        shards.append((snapshot.id, {str(u): dict(e or {}) for u, e in members.items()}))
    return sorted(shards)


def roster_drop_tokens(tenant_id: str, channel_id: str, dead: dict[str, dict[str, list[str]]]) -> int:
    """Forget device tokens FCM refused for good: ``dead`` is {shard: {user id: [tokens]}}. Removes
    them from the roster entries (a transaction per shard, so an entry removed meanwhile stays
    removed) and from the members' ``pushTokens``; returns how many tokens were named."""
    from google.api_core.exceptions import NotFound
    from google.cloud import firestore

    db = client()
    for shard, users in dead.items():
        ref = _shard_ref(tenant_id, channel_id, shard)

        @firestore.transactional
        def drop(transaction: Any, ref: Any = ref, users: dict[str, list[str]] = users) -> None:
            snapshot = ref.get(transaction=transaction)
            members = (snapshot.to_dict() or {}).get("members") or {}
            change = {}
            for user_id, gone in users.items():
                entry = members.get(user_id)
                if not isinstance(entry, dict):
                    continue
                kept = [t for t in entry.get("tokens") or [] if t not in set(gone)]
                change[field_path("members", user_id, "tokens")] = kept
            if change:
                transaction.update(ref, change)

        drop(db.transaction())
        for user_id, gone in users.items():
            member = conversation_ref(tenant_id, channel_id).collection("members").document(user_id)
            with contextlib.suppress(NotFound):  # the member has left
                member.update({"pushTokens": firestore.ArrayRemove(list(gone))}, **_rpc())
    return sum(len(gone) for users in dead.values() for gone in users.values())


def push_progress(tenant_id: str, channel_id: str, post_id: str) -> dict[str, Any] | None:
    """What an earlier attempt of a post's push job recorded, or None."""
    ref = conversation_ref(tenant_id, channel_id).collection(PUSH_JOBS).document(post_id)
    snapshot = ref.get(**_rpc())
    return snapshot.to_dict() if snapshot.exists else None


def put_push_progress(tenant_id: str, channel_id: str, post_id: str, progress: dict[str, Any]) -> None:
    """Record a push job's progress (replaces the record: the job holds the whole of it)."""
    ref = conversation_ref(tenant_id, channel_id).collection(PUSH_JOBS).document(post_id)
    ref.set(progress, **_rpc())
