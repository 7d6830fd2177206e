"""Reports in Firestore (shared/reports/): the figures by day, the fold's place in the messages and
the per-conversation state the figures depend on.

    tenants/{t}/reports/{YYYY-MM-DD}          one day's figures (shared/reports/tally.py)
    tenants/{t}/reports/_fold                 where the fold is: ``afterAt`` (the last ``reportAt``
                                              counted) and ``afterIds`` (the messages counted at
                                              exactly that time)
    tenants/{t}/reportConversations/{c}       a conversation's state for the reports

Every support message carries ``reportAt`` (the server time of its create) and ``tenantId``: the
fold reads the messages of a tenant after its place, in that order (a collection-group query; the
composite index is in infra/firestore.indexes.json). A fold commits its figures, the states that
changed and its new place in one batch, with a precondition on ``_fold``'s update time, so two folds
never count the same message: the loser reads again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.store._client import Versioned, _rpc, _versioned, client

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.firestore import CollectionReference, DocumentReference

FOLD_DOCUMENT = "_fold"
REPORT_BATCH_WRITES = 500


def _reports(tenant_id: str) -> CollectionReference:
    return client().collection("tenants").document(tenant_id).collection("reports")


def _states(tenant_id: str) -> CollectionReference:
    return client().collection("tenants").document(tenant_id).collection("reportConversations")


def report_state_paths(tenant_id: str, conversation_ids: list[str]) -> list[str]:
    """The paths of these conversations' report states (an erasure deletes them with the
    conversations; the day documents keep only counts)."""
    return [_states(tenant_id).document(conversation_id).path for conversation_id in conversation_ids]


def _fold_ref(tenant_id: str) -> DocumentReference:
    return _reports(tenant_id).document(FOLD_DOCUMENT)


@dataclass(frozen=True)
class ReportMessage:
    """A message as the fold reads it: its conversation, its id, its data."""

    conversation_id: str
    message_id: str
    data: dict[str, Any]


def get_report_fold(tenant_id: str) -> Versioned:
    """Where the tenant's fold is, with the version :func:`commit_report_fold` tests."""
    return _versioned(_fold_ref(tenant_id).get(**_rpc()))


def report_messages(
    tenant_id: str, from_at: datetime | None, before: datetime, limit: int
) -> list[ReportMessage]:
    """The tenant's messages with ``from_at <= reportAt < before`` (no lower bound: None), oldest
    first, at most ``limit`` (ties in any order: the caller skips those it counted)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query: Any = (
        client()
        .collection_group("messages")
        .where(filter=FieldFilter("tenantId", "==", tenant_id))
        .where(filter=FieldFilter("reportAt", "<", before))
    )
    if from_at is not None:
        query = query.where(filter=FieldFilter("reportAt", ">=", from_at))
    query = query.order_by("reportAt").limit(limit)
    found = []
    for snapshot in query.stream(**_rpc()):
        parent = snapshot.reference.parent.parent
        found.append(ReportMessage(parent.id if parent else "", snapshot.id, snapshot.to_dict() or {}))
    return found


def get_report_states(tenant_id: str, conversation_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The reports' state of each conversation named (absent ones left out)."""
    if not conversation_ids:
        return {}
    collection = _states(tenant_id)
    refs = [collection.document(cid) for cid in dict.fromkeys(conversation_ids)]
    return {s.id: s.to_dict() or {} for s in client().get_all(refs, **_rpc()) if s.exists}


def get_conversations_for_reports(tenant_id: str, conversation_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The conversation documents named (their channel and team), absent ones left out."""
    if not conversation_ids:
        return {}
    conversations = client().collection("tenants").document(tenant_id).collection("conversations")
    refs = [conversations.document(cid) for cid in dict.fromkeys(conversation_ids)]
    found = {}
    for snapshot in client().get_all(refs, field_paths=["channel", "teamId"], **_rpc()):
        if snapshot.exists:
            found[snapshot.id] = snapshot.to_dict() or {}
    return found


def get_report_days(tenant_id: str, days: list[str]) -> dict[str, dict[str, Any]]:
    """The stored day documents named (``YYYY-MM-DD``), absent ones left out."""
    if not days:
        return {}
    refs = [_reports(tenant_id).document(day) for day in dict.fromkeys(days)]
    return {s.id: s.to_dict() or {} for s in client().get_all(refs, **_rpc()) if s.exists}


def list_report_days(tenant_id: str, first_day: str, last_day: str) -> list[dict[str, Any]]:
    """The day documents from ``first_day`` to ``last_day`` inclusive, oldest first."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        _reports(tenant_id)
        .where(filter=FieldFilter("day", ">=", first_day))
        .where(filter=FieldFilter("day", "<=", last_day))
        .order_by("day")
    )
    return [snapshot.to_dict() or {} for snapshot in query.stream(**_rpc())]


def commit_report_fold(
    tenant_id: str,
    version: Versioned,
    fold: dict[str, Any],
    days: dict[str, dict[str, Any]],
    states: dict[str, dict[str, Any]],
) -> bool:
    """Write day documents (whole), conversation states (whole) and the fold's new place in one
    batch, only if the fold document is as read in ``version``; False if another fold got there
    first (nothing written)."""
    from google.api_core.exceptions import AlreadyExists, FailedPrecondition, NotFound

    if len(days) + len(states) + 1 > REPORT_BATCH_WRITES:
        raise ValueError("a report fold writes at most 500 documents")
    db = client()
    batch = db.batch()
    for day, document in days.items():
        batch.set(_reports(tenant_id).document(day), document)
    for conversation_id, state in states.items():
        batch.set(_states(tenant_id).document(conversation_id), state)
    ref = _fold_ref(tenant_id)
    if version.exists:
        batch.update(ref, fold, option=db.write_option(last_update_time=version.update_time))
    else:
        batch.create(ref, fold)
    try:
        batch.commit(**_rpc())
    except (FailedPrecondition, NotFound, AlreadyExists):
        return False
    return True


def replace_report_days(
    tenant_id: str, first_day: str, last_day: str, days: dict[str, dict[str, Any]]
) -> None:
    """The rebuild: ``days`` replace every stored day document from ``first_day`` to ``last_day``
    (those with no figures now are deleted)."""
    stale = {doc.get("day") for doc in list_report_days(tenant_id, first_day, last_day)} - set(days)
    writes: list[tuple[str, dict[str, Any] | None]] = [(day, days[day]) for day in sorted(days)]
    writes += [(str(day), None) for day in sorted(stale, key=str)]
    for start in range(0, len(writes), REPORT_BATCH_WRITES):
        batch = client().batch()
        for day, document in writes[start : start + REPORT_BATCH_WRITES]:
            ref = _reports(tenant_id).document(day)
            if document is None:
                batch.delete(ref)
            else:
                batch.set(ref, document)
        batch.commit(**_rpc())


def replace_report_states(tenant_id: str, states: dict[str, dict[str, Any]]) -> None:
    """The rebuild: write every conversation's state (whole)."""
    items = sorted(states.items())
    for start in range(0, len(items), REPORT_BATCH_WRITES):
        batch = client().batch()
        for conversation_id, state in items[start : start + REPORT_BATCH_WRITES]:
            batch.set(_states(tenant_id).document(conversation_id), state)
        batch.commit(**_rpc())
