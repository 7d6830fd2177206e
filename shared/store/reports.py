"""Reports in Firestore (shared/reports/): the figures by day, the fold's place in the messages and
the per-conversation state the figures depend on.

    tenants/{t}/reports/{YYYY-MM-DD}          one day's figures (shared/reports/tally.py)
    tenants/{t}/reports/_fold                 where the fold is: ``afterAt`` (the last ``reportAt``
                                              counted) and ``afterIds`` (the messages counted at
                                              exactly that time)
    tenants/{t}/reportConversations/{c}       a conversation's state for the reports
    tenants/{t}/reportChannels/{day}_{kind}   one channel's agent, team and label figures of a day
                                              (``day`` and ``channel`` fields: the page's channel
                                              filter queries them, index in firestore.indexes.json)

Every support message carries ``reportAt`` (the server time of its create) and ``tenantId``: the
fold reads the messages of a tenant after its place, in that order (a collection-group query; the
composite index is in infra/firestore.indexes.json). A fold commits its figures, the states that
changed and its new place in one batch, with a precondition on ``_fold``'s update time, so two folds
never count the same message: the loser reads again. A rebuild holds ``_fold``'s ``rebuild`` lease
(``{id, untilMs}``) while it replaces the figures; folds wait until it is released or expires.

Legacy messages (written before reports existed: no ``reportAt``, maybe no ``tenantId`` either) are
read conversation by conversation, in ``sentAt`` order (:func:`legacy_report_messages`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.store._client import Versioned, _rpc, _versioned, client, conversation_ref

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.firestore import CollectionReference, DocumentReference

FOLD_DOCUMENT = "_fold"
REPORT_BATCH_WRITES = 500


def _reports(tenant_id: str) -> CollectionReference:
    return client().collection("tenants").document(tenant_id).collection("reports")


def _states(tenant_id: str) -> CollectionReference:
    return client().collection("tenants").document(tenant_id).collection("reportConversations")


def _channel_reports(tenant_id: str) -> CollectionReference:
    return client().collection("tenants").document(tenant_id).collection("reportChannels")


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


def first_report_at(tenant_id: str) -> datetime | None:
    """The ``reportAt`` of the tenant's oldest message that has one (None: none has)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        client()
        .collection_group("messages")
        .where(filter=FieldFilter("tenantId", "==", tenant_id))
        .order_by("reportAt")
        .limit(1)
    )
    for snapshot in query.stream(**_rpc()):
        value = (snapshot.to_dict() or {}).get("reportAt")
        return value if isinstance(value, datetime) else None
    return None


def legacy_report_messages(
    tenant_id: str, conversation_id: str, before: datetime, page: int = 500
) -> Iterator[list[ReportMessage]]:
    """A conversation's messages with ``sentAt < before``, oldest first, in pages (the rebuild's
    backfill of messages stored before reports existed; the caller keeps those without
    ``reportAt``). One collection query per page on the automatic ``sentAt`` index."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    messages = conversation_ref(tenant_id, conversation_id).collection("messages")
    last: Any = None
    while True:
        query = messages.where(filter=FieldFilter("sentAt", "<", before)).order_by("sentAt")
        if last is not None:
            query = query.start_after(last)
        snapshots = list(query.limit(page).stream(**_rpc()))
        if snapshots:
            yield [ReportMessage(conversation_id, s.id, s.to_dict() or {}) for s in snapshots]
        if len(snapshots) < page:
            return
        last = snapshots[-1]


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


def get_report_channel_days(tenant_id: str, doc_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The stored channel documents named (``{day}_{kind}``), absent ones left out."""
    if not doc_ids:
        return {}
    refs = [_channel_reports(tenant_id).document(doc_id) for doc_id in dict.fromkeys(doc_ids)]
    return {s.id: s.to_dict() or {} for s in client().get_all(refs, **_rpc()) if s.exists}


def list_report_channel_days(
    tenant_id: str, channel: str, first_day: str, last_day: str
) -> list[dict[str, Any]]:
    """One channel's documents from ``first_day`` to ``last_day`` inclusive, oldest first."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        _channel_reports(tenant_id)
        .where(filter=FieldFilter("channel", "==", channel))
        .where(filter=FieldFilter("day", ">=", first_day))
        .where(filter=FieldFilter("day", "<=", last_day))
        .order_by("day")
    )
    return [snapshot.to_dict() or {} for snapshot in query.stream(**_rpc())]


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
    channels: dict[str, dict[str, Any]] | None = None,
) -> bool:
    """Write day documents and channel documents (whole), conversation states (whole) and the
    fold's new place in one batch, only if the fold document is as read in ``version``; False if
    another fold (or a rebuild) got there first (nothing written)."""
    from google.api_core.exceptions import AlreadyExists, FailedPrecondition, NotFound

    channels = channels or {}
    if report_fold_writes(days, channels, states) > REPORT_BATCH_WRITES:
        raise ValueError("a report fold writes at most 500 documents")
    db = client()
    batch = db.batch()
    for day, document in days.items():
        batch.set(_reports(tenant_id).document(day), document)
    for doc_id, document in channels.items():
        batch.set(_channel_reports(tenant_id).document(doc_id), document)
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


def report_fold_writes(days: dict[str, Any], channels: dict[str, Any], states: dict[str, Any]) -> int:
    """The documents one fold's batch writes (its place included)."""
    return len(days) + len(channels) + len(states) + 1


def lease_report_fold(tenant_id: str, version: Versioned, lease: dict[str, Any]) -> Versioned | None:
    """Set the fold document's ``rebuild`` lease (taking or renewing it), only if the document is
    as read in ``version``; the new version, or None if a fold or another rebuild wrote first."""
    from google.api_core.exceptions import AlreadyExists, FailedPrecondition, NotFound

    ref = _fold_ref(tenant_id)
    try:
        if version.exists:
            option = client().write_option(last_update_time=version.update_time)
            result = ref.update({"rebuild": lease}, option=option, **_rpc())
        else:
            result = ref.create({"afterAt": None, "afterIds": [], "rebuild": lease}, **_rpc())
    except (FailedPrecondition, NotFound, AlreadyExists):
        return None
    data = (
        {**version.data, "rebuild": lease}
        if version.exists
        else {"afterAt": None, "afterIds": [], "rebuild": lease}
    )
    return Versioned(True, data, result.update_time)


def replace_report_days(
    tenant_id: str,
    first_day: str,
    last_day: str,
    days: dict[str, dict[str, Any]],
    channels: dict[str, dict[str, Any]] | None = None,
) -> None:
    """The rebuild: ``days`` replace every stored day document from ``first_day`` to ``last_day``
    (those with no figures now are deleted); ``channels`` (given) every channel document of those
    days the same way."""
    stale = {doc.get("day") for doc in list_report_days(tenant_id, first_day, last_day)} - set(days)
    writes: list[tuple[Any, dict[str, Any] | None]] = [
        (_reports(tenant_id).document(day), days[day]) for day in sorted(days)
    ]
    writes += [(_reports(tenant_id).document(str(day)), None) for day in sorted(stale, key=str)]
    if channels is not None:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = (
            _channel_reports(tenant_id)
            .where(filter=FieldFilter("day", ">=", first_day))
            .where(filter=FieldFilter("day", "<=", last_day))
        )
        old = {snapshot.id for snapshot in query.select([]).stream(**_rpc())}
        writes += [(_channel_reports(tenant_id).document(i), channels[i]) for i in sorted(channels)]
        writes += [(_channel_reports(tenant_id).document(i), None) for i in sorted(old - set(channels))]
    for start in range(0, len(writes), REPORT_BATCH_WRITES):
        batch = client().batch()
        for ref, document in writes[start : start + REPORT_BATCH_WRITES]:
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
