"""Agent notifications (issue 17 parts 1 and 6): each agent's preferences and web-push tokens, and
each agent's notifications feed.

    tenants/{t}/agents/{uid}/settings/notifications
        events {new_conversation, message, mention, assigned: bool}, quietHours {enabled, start,
        end, timeZone}, tokens [FCM web-push tokens, newest last, at most PUSH_TOKENS_PER_AGENT], updatedAt
    tenants/{t}/agents/{uid}/notifications/{id}
        event, conversationId, messageId, title, body, actorId, quiet, read, createdAt,
        createdAtMs, expireAt (a TTL policy deletes it after NOTIFICATION_FEED_TTL)

Only that agent reads them (infra/firestore.rules); every write is the server's: agent_api (the
preferences, tokens, "read") and deliver's notify tasks (the feed, dropping dead tokens).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.store._client import _fs, _rpc, client, server_time

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.firestore import CollectionReference, DocumentReference

PUSH_TOKENS_PER_AGENT = 10  # an agent's browsers (the latest registered)
NOTIFICATION_FEED_TTL = timedelta(days=30)
NOTIFICATION_READ_BATCH = 400  # notifications marked read in one batch (Firestore: 500 writes a batch)


def _agents(tenant_id: str) -> CollectionReference:
    return client().collection("tenants").document(tenant_id).collection("agents")


def _settings_ref(tenant_id: str, uid: str) -> DocumentReference:
    return _agents(tenant_id).document(uid).collection("settings").document("notifications")


def _feed(tenant_id: str, uid: str) -> CollectionReference:
    return _agents(tenant_id).document(uid).collection("notifications")


def tenant_agents(tenant_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The tenant's agents (uid, directory entry), by uid."""
    rows = [(s.id, s.to_dict() or {}) for s in _agents(tenant_id).stream(**_rpc())]
    return sorted(rows, key=lambda row: row[0])


def notification_settings(tenant_id: str, uids: list[str]) -> dict[str, dict[str, Any]]:
    """The stored notification settings of each of ``uids`` (one ``get_all``); absent ones are {}."""
    if not uids:
        return {}
    refs = [_settings_ref(tenant_id, uid) for uid in uids]
    found = {uid: {} for uid in uids}
    for snapshot in client().get_all(refs, **_rpc()):
        if snapshot.exists:
            uid = snapshot.reference.parent.parent.id
            found[uid] = snapshot.to_dict() or {}
    return found


def put_notification_preferences(tenant_id: str, uid: str, events: dict[str, bool], quiet: dict) -> None:
    """Replace an agent's events and quiet hours (its tokens are left as they are)."""
    _settings_ref(tenant_id, uid).set(
        {"events": events, "quietHours": quiet, "updatedAt": server_time()}, merge=True, **_rpc()
    )


def add_push_token(tenant_id: str, uid: str, token: str) -> list[str]:
    """Register a web-push token (moved to the end if known; the oldest dropped past PUSH_TOKENS_PER_AGENT) in
    a transaction; the tokens kept."""
    fs = _fs()
    ref = _settings_ref(tenant_id, uid)

    @fs.transactional
    def register(transaction: Any) -> list[str]:
        snapshot = ref.get(transaction=transaction)
        tokens = (
            [t for t in ((snapshot.to_dict() or {}).get("tokens") or []) if t != token]
            if snapshot.exists
            else []
        )
        tokens = [*tokens, token][-PUSH_TOKENS_PER_AGENT:]
        transaction.set(ref, {"tokens": tokens, "updatedAt": server_time()}, merge=True)
        return tokens

    kept: list[str] = register(client().transaction())
    return kept


def drop_push_tokens(tenant_id: str, uid: str, tokens: list[str]) -> None:
    """Forget web-push tokens (FCM called them dead, or the agent signed out of that browser)."""
    if tokens:
        _settings_ref(tenant_id, uid).set(
            {"tokens": _fs().ArrayRemove(list(tokens)), "updatedAt": server_time()}, merge=True, **_rpc()
        )


def put_notifications(tenant_id: str, items: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Write feed entries (uid, notification id, document) in one batch; the same id again replaces
    the entry (a retried task writes what it wrote before)."""
    if not items:
        return
    now = datetime.now(UTC)
    batch = client().batch()
    for uid, notification_id, data in items:
        document = {
            **data,
            "read": False,
            "createdAt": server_time(),
            "createdAtMs": int(now.timestamp() * 1000),
            "expireAt": now + NOTIFICATION_FEED_TTL,
        }
        batch.set(_feed(tenant_id, uid).document(notification_id), document)
    batch.commit(**_rpc())


def mark_notifications_read(tenant_id: str, uid: str, notification_ids: list[str] | None) -> int:
    """Mark the named notifications read, or (None) every unread one, at most NOTIFICATION_READ_BATCH a call;
    how many were marked."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    feed = _feed(tenant_id, uid)
    if notification_ids is None:
        query = feed.where(filter=FieldFilter("read", "==", False)).limit(NOTIFICATION_READ_BATCH)
        refs = [snapshot.reference for snapshot in query.stream(**_rpc())]
    else:
        refs = [feed.document(n) for n in notification_ids[:NOTIFICATION_READ_BATCH]]
        refs = [s.reference for s in client().get_all(refs, **_rpc()) if s.exists]
    if not refs:
        return 0
    batch = client().batch()
    for ref in refs:
        batch.update(ref, {"read": True})
    batch.commit(**_rpc())
    return len(refs)


def notification_paths(tenant_id: str, conversation_ids: list[str]) -> list[str]:
    """The paths of every agent's feed entries about these conversations (an erasure deletes them:
    an entry quotes the message it announces)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    paths: list[str] = []
    for uid, _ in tenant_agents(tenant_id):
        for start in range(0, len(conversation_ids), 30):  # Firestore's "in" takes at most 30 values
            chunk = conversation_ids[start : start + 30]
            query = _feed(tenant_id, uid).where(filter=FieldFilter("conversationId", "in", chunk))
            paths.extend(s.reference.path for s in query.select([]).stream(**_rpc()))
    return paths


def first_message_id(tenant_id: str, conversation_id: str) -> str | None:
    """The id of a conversation's earliest message (by ``sentAtMs``), or None."""
    messages = (
        client()
        .collection("tenants")
        .document(tenant_id)
        .collection("conversations")
        .document(conversation_id)
        .collection("messages")
    )
    for snapshot in messages.order_by("sentAtMs").limit(1).stream(**_rpc()):
        return str(snapshot.id)
    return None
