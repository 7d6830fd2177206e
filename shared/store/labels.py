"""The team inbox in Firestore: a tenant's labels, conversation changes written with their activity
line in one batch, and the inbox's server-side filters.

    tenants/{t}/labels/{labelId}                  {name, color, createdAt, createdBy}
    tenants/{t}/conversations/{c}.labels          [labelId, ...] (ArrayUnion / ArrayRemove)
    tenants/{t}/conversations/{c}.assigned        0 | 1: what the "unassigned" filter queries
    tenants/{t}/conversations/{c}/messages/{m}    an activity line (direction "system")

``assigned`` is a number, not a boolean, so that ingest can give every conversation it writes the
field with ``Maximum(0)`` (0 when absent, an assigned 1 kept) at no extra write: Firestore cannot
query for a missing field, and ingest never reads the conversation. :func:`backfill_assigned`
gives the field to conversations from before it existed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.store._client import _rpc, client, conversation_ref, message_ref

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.firestore import CollectionReference, DocumentReference

MAX_BATCH_WRITES = 500  # Firestore: writes in one batched write
LABEL_CLEANUP_PAGE = 400


def _labels(tenant_id: str) -> CollectionReference:
    return client().collection("tenants").document(tenant_id).collection("labels")


def _label_ref(tenant_id: str, label_id: str) -> DocumentReference:
    return _labels(tenant_id).document(label_id)


def _conversations(tenant_id: str) -> CollectionReference:
    return client().collection("tenants").document(tenant_id).collection("conversations")


def array_remove(values: list[Any]) -> Any:
    """Field transform: remove every occurrence of these values."""
    from google.cloud import firestore

    return firestore.ArrayRemove(values)


# --- labels --------------------------------------------------------------------------------------


def list_labels(tenant_id: str, limit: int = 500) -> dict[str, dict[str, Any]]:
    """A tenant's labels by id (a small set: the label API caps it)."""
    return {s.id: s.to_dict() or {} for s in _labels(tenant_id).limit(limit).stream(**_rpc())}


def create_label(tenant_id: str, label_id: str, data: dict[str, Any]) -> bool:
    """Create a label; False if that id exists."""
    from google.api_core.exceptions import AlreadyExists

    try:
        _label_ref(tenant_id, label_id).create(data, **_rpc())
    except AlreadyExists:
        return False
    return True


def update_label(tenant_id: str, label_id: str, data: dict[str, Any]) -> bool:
    """Change a label's fields; False if it does not exist."""
    from google.api_core.exceptions import NotFound

    try:
        _label_ref(tenant_id, label_id).update(data, **_rpc())
    except NotFound:
        return False
    return True


def delete_label(tenant_id: str, label_id: str) -> None:
    """Delete a label's document (its conversations keep the id until :func:`strip_label`)."""
    _label_ref(tenant_id, label_id).delete(**_rpc())


def strip_label(tenant_id: str, label_id: str, page: int = LABEL_CLEANUP_PAGE) -> int:
    """Remove ``label_id`` from every conversation carrying it, a page (one batch) at a time; return
    how many conversations changed. ArrayRemove: an agent labelling meanwhile loses nothing else."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    page = min(page, MAX_BATCH_WRITES)
    done = 0
    while True:
        query = _conversations(tenant_id).where(filter=FieldFilter("labels", "array_contains", label_id))
        snapshots = list(query.limit(page).stream(**_rpc()))
        if not snapshots:
            return done
        batch = client().batch()
        for snapshot in snapshots:
            batch.update(snapshot.reference, {"labels": array_remove([label_id])})
        batch.commit(**_rpc())
        done += len(snapshots)


# --- conversation changes with their activity line -----------------------------------------------


@dataclass(frozen=True)
class ConversationChange:
    """One agent's change to one conversation: the fields merged into it (transforms allowed), the
    activity line created beside it in the same batch (None: nothing worth a line), and ``then``, a
    second merge into the conversation in the same batch (a field takes one transform per write:
    ``labels`` gets ArrayRemove in the first and ArrayUnion in the second)."""

    conversation_id: str
    update: dict[str, Any]
    activity_id: str | None = None
    activity: dict[str, Any] | None = None
    then: dict[str, Any] | None = None

    @property
    def writes(self) -> int:
        return 1 + (self.activity is not None) + (self.then is not None)


def apply_conversation_changes(tenant_id: str, changes: Sequence[ConversationChange]) -> None:
    """Write changes in as few batches as Firestore allows (500 writes each); a change and its
    activity line always share a batch, so a line never exists without its change or the reverse."""
    batch = client().batch()
    pending = 0
    for change in changes:
        if pending + change.writes > MAX_BATCH_WRITES:
            batch.commit(**_rpc())
            batch, pending = client().batch(), 0
        conversation = conversation_ref(tenant_id, change.conversation_id)
        batch.set(conversation, change.update, merge=True)
        if change.then is not None:
            batch.set(conversation, change.then, merge=True)
        if change.activity is not None and change.activity_id is not None:
            batch.create(message_ref(tenant_id, change.conversation_id, change.activity_id), change.activity)
        pending += change.writes
    if pending:
        batch.commit(**_rpc())


# --- the inbox's filters, served by queries ------------------------------------------------------


def inbox_page(
    tenant_id: str,
    *,
    status: str | None = None,
    label: str | None = None,
    unassigned: bool = False,
    assignee: str | None = None,
    limit: int = 30,
) -> list[str]:
    """The conversation ids the dashboard's inbox query answers for these filters, latest activity
    first (web/src/stores/inbox.ts builds the same query; infra/firestore.indexes.json serves it)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query: Any = _conversations(tenant_id).where(filter=FieldFilter("kind", "==", "support"))
    if status:
        query = query.where(filter=FieldFilter("status", "==", status))
    if label:
        query = query.where(filter=FieldFilter("labels", "array_contains", label))
    if unassigned:
        query = query.where(filter=FieldFilter("assigned", "==", 0))
    if assignee:
        query = query.where(filter=FieldFilter("assigneeId", "==", assignee))
    query = query.order_by("lastActivityAtMs", direction="DESCENDING").limit(limit)
    return [s.id for s in query.stream(**_rpc())]


def backfill_assigned(tenant_id: str, page: int = LABEL_CLEANUP_PAGE, dry_run: bool = False) -> int:
    """Give ``assigned`` (1 with an assignee, else 0) to a tenant's support conversations that lack
    it; return how many needed it. Reads every support conversation once, in pages by id."""
    from google.cloud.firestore_v1.base_query import FieldFilter
    from google.cloud.firestore_v1.field_path import FieldPath

    page = min(page, MAX_BATCH_WRITES)
    fixed = 0
    last: Any = None
    while True:
        query: Any = (
            _conversations(tenant_id)
            .where(filter=FieldFilter("kind", "==", "support"))
            .order_by(FieldPath.document_id())
            .limit(page)
        )
        if last is not None:
            query = query.start_after(last)
        snapshots = list(query.stream(**_rpc()))
        if not snapshots:
            return fixed
        last = snapshots[-1]
        missing = [s for s in snapshots if "assigned" not in (s.to_dict() or {})]
        fixed += len(missing)
        if missing and not dry_run:
            _backfill(missing)


def _backfill(snapshots: list[Any]) -> None:
    """One batch, each write on condition that the conversation is as read; if one changed
    meanwhile (its writer gave it the field: ingest's Maximum(0), assign), one by one, skipping it."""
    from google.api_core.exceptions import FailedPrecondition, NotFound

    db = client()

    def write(target: Any, snapshot: Any) -> None:
        value = 1 if (snapshot.to_dict() or {}).get("assigneeId") else 0
        option = db.write_option(last_update_time=snapshot.update_time)
        target.update(snapshot.reference, {"assigned": value}, option=option)

    batch = db.batch()
    for snapshot in snapshots:
        write(batch, snapshot)
    try:
        batch.commit(**_rpc())
        return
    except (FailedPrecondition, NotFound):
        pass
    for snapshot in snapshots:
        single = db.batch()
        write(single, snapshot)
        try:
            single.commit(**_rpc())
        except (FailedPrecondition, NotFound):
            continue
