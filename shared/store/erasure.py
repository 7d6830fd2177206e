"""Deleting data for good: a contact's data on request (shared/erasure.py) and what a tenant's
retention period expires (shared/retention.py).

Everything is deleted in batches of at most :data:`DELETE_BATCH` writes (Firestore takes 500 a
batch) and every document tree is walked to its leaves (a conversation's ``messages``, ``parked``,
``summaryPending`` and any subcollection added later), so nothing under a deleted document stays
readable. The search index lives in fields of the message and contact documents themselves
(shared/search/fields.py): deleting them removes their entries.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from shared.store._client import _rpc, client

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.firestore import DocumentReference

DELETE_BATCH = 500  # Firestore: writes per batch
_PAGE = 300


def contact_document(tenant_id: str, contact_id: str) -> dict[str, Any] | None:
    """A contact's document, or None."""
    snapshot = (
        client()
        .collection("tenants")
        .document(tenant_id)
        .collection("contacts")
        .document(contact_id)
        .get(**_rpc())
    )
    return (snapshot.to_dict() or {}) if snapshot.exists else None


def contact_conversations(tenant_id: str, contact_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The support conversations of a contact, as (id, document)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        client()
        .collection("tenants")
        .document(tenant_id)
        .collection("conversations")
        .where(filter=FieldFilter("contactId", "==", contact_id))
    )
    return [
        (s.id, s.to_dict() or {})
        for s in query.stream(**_rpc())
        if (s.to_dict() or {}).get("kind") == "support"
    ]


def messages_of(
    tenant_id: str, conversation_id: str, page: int = _PAGE
) -> Iterator[tuple[str, dict[str, Any]]]:
    """A conversation's messages, oldest first by id order of their time (``sentAtMs``, then id),
    paged: (message id, document without its search fields)."""
    from google.cloud.firestore import Query

    messages = (
        client()
        .collection("tenants")
        .document(tenant_id)
        .collection("conversations")
        .document(conversation_id)
        .collection("messages")
    )
    last: Any = None
    while True:
        query = messages.order_by("__name__", direction=Query.ASCENDING)
        if last is not None:
            query = query.start_after(last)
        snapshots = list(query.limit(page).stream(**_rpc()))
        for snapshot in snapshots:
            data = snapshot.to_dict() or {}
            data.pop("terms", None)
            yield snapshot.id, data
        if len(snapshots) < page:
            return
        last = snapshots[-1]


def _delete_refs(refs: Sequence[DocumentReference]) -> int:
    db = client()
    for start in range(0, len(refs), DELETE_BATCH):
        batch = db.batch()
        for ref in refs[start : start + DELETE_BATCH]:
            batch.delete(ref)
        batch.commit(**_rpc())
    return len(refs)


def delete_tree(path: str) -> int:
    """Delete the document at ``path`` and every document under it (each subcollection, to its
    leaves), in batches; return how many documents were deleted (the document itself counted when it
    existed)."""
    db = client()
    root = db.document(path)
    deleted = 0
    pending: list[DocumentReference] = []
    for collection in root.collections(**_rpc()):
        last: Any = None
        while True:
            query = collection.order_by("__name__").select([])
            if last is not None:
                query = query.start_after(last)
            snapshots = list(query.limit(_PAGE).stream(**_rpc()))
            for snapshot in snapshots:
                deleted += delete_tree(snapshot.reference.path) - 1  # its own subcollections
                pending.append(snapshot.reference)
                if len(pending) >= DELETE_BATCH:
                    deleted += _delete_refs(pending)
                    pending = []
            if len(snapshots) < _PAGE:
                break
            last = snapshots[-1]
    deleted += _delete_refs(pending)
    existed = root.get(field_paths=[], **_rpc()).exists
    root.delete(**_rpc())
    return deleted + (1 if existed else 0)


def delete_paths(paths: Sequence[str]) -> int:
    """Delete the documents at ``paths`` (no subcollections), in batches; return how many."""
    db = client()
    return _delete_refs([db.document(path) for path in paths])


def tenants_with_retention() -> list[tuple[str, int]]:
    """Every tenant whose ``settings.retentionDays`` is a positive number: (tenant id, days)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = client().collection("tenants").where(filter=FieldFilter("settings.retentionDays", ">", 0))
    found = []
    for snapshot in query.select(["settings.retentionDays"]).stream(**_rpc()):
        days = ((snapshot.to_dict() or {}).get("settings") or {}).get("retentionDays")
        if isinstance(days, int) and not isinstance(days, bool) and days > 0:
            found.append((snapshot.id, days))
    return found


def count_indexed_before(key: str, before_ms: int) -> int:
    """How many messages are indexed under ``key`` (``terms.<key>``, shared/search/fields.py) with a
    time before ``before_ms``: one aggregation query, no document read."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    from shared.store._client import field_path

    path = field_path("terms", key)
    query = (
        client()
        .collection_group("messages")
        .where(filter=FieldFilter(path, ">=", 0))
        .where(filter=FieldFilter(path, "<", before_ms))
    )
    result = query.count().get(**_rpc())
    return int(result[0][0].value)


def stale_conversations(
    tenant_id: str, before_ms: int, *, after: tuple[int, str] | None = None, limit: int = _PAGE
) -> list[tuple[str, dict[str, Any]]]:
    """Up to ``limit`` conversations whose last activity is before ``before_ms``, oldest first, as
    (id, document); ``after``: the (lastActivityAtMs, id) of the previous page's last one."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    conversations = client().collection("tenants").document(tenant_id).collection("conversations")
    query: Any = (
        conversations.where(filter=FieldFilter("lastActivityAtMs", "<", before_ms))
        .order_by("lastActivityAtMs")
        .order_by("__name__")
    )
    if after is not None:
        query = query.start_after(
            {"lastActivityAtMs": after[0], "__name__": conversations.document(after[1])}
        )
    query = query.limit(limit)
    return [(s.id, s.to_dict() or {}) for s in query.stream(**_rpc())]


def _runs(tenant_id: str) -> Any:
    return client().collection("tenants").document(tenant_id).collection("retentionRuns")


def get_retention_run(tenant_id: str, run_id: str) -> dict[str, Any] | None:
    """A retention run's record (``tenants/{t}/retentionRuns/{id}``: cutoffMs, counts, state), or None."""
    snapshot = _runs(tenant_id).document(run_id).get(**_rpc())
    return (snapshot.to_dict() or {}) if snapshot.exists else None


def put_retention_run(tenant_id: str, run_id: str, data: dict[str, Any]) -> None:
    """Merge ``data`` into a retention run's record."""
    _runs(tenant_id).document(run_id).set(data, merge=True, **_rpc())


def count_stale_conversations(tenant_id: str, before_ms: int) -> int:
    """How many conversations of the tenant had their last activity before ``before_ms`` (one
    aggregation query)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        client()
        .collection("tenants")
        .document(tenant_id)
        .collection("conversations")
        .where(filter=FieldFilter("lastActivityAtMs", "<", before_ms))
    )
    return int(query.count().get(**_rpc())[0][0].value)
