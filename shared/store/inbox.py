"""The support inbox in Firestore: conversations, messages, contacts, receipts and status,
delivery claims and parked events.

    tenants/{t}/contacts/{id}                     identity on a channel, name
    tenants/{t}/conversations/{id}                summary: lastMessage, lastInboundAt, replyWindow, unread
    tenants/{t}/conversations/{id}/messages/{m}   one message (deterministic id)
    tenants/{t}/conversations/{id}/parked/{p}     events waiting for their message to land
    tenants/{t}/conversations/{id}/summaryPending/{m}
                                                  a message's share of the summary, waiting to be
                                                  folded in (a hot conversation, shared/inbox.py)

No transactions on hot documents: a new message is one atomic batch (create the message, merge the
conversation summary with field transforms, or create its pending share of the summary instead;
merge the contact) and a duplicate fails the batch's ``create`` as a whole. Status updates use
optimistic preconditions on ``update_time``; so does folding pending shares into a summary
(:func:`fold_summary`), whose batch deletes the shares it counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.errors import TransientError
from shared.models.status import STATUS_RANK, advances, rank
from shared.store._client import (
    PRECONDITION_RETRIES,
    Versioned,
    _nested,
    _rpc,
    _versioned,
    check_storable,
    client,
    conversation_ref,
    message_ref,
    server_time,
)

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.firestore import DocumentReference, DocumentSnapshot

PARKED_TTL = timedelta(days=7)
_SUMMARY_PENDING = "summaryPending"
_IN_LIMIT = 30  # values in one Firestore "in" filter


def contact_ref(tenant_id: str, contact_id: str) -> DocumentReference:
    """Reference to a contact document."""
    return client().collection("tenants").document(tenant_id).collection("contacts").document(contact_id)


# --- new messages --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewMessage:
    """Everything one new message writes: the message, the conversation summary (or, deferred, the
    message's share of it, ``summary_part``), the contact."""

    tenant_id: str
    conversation_id: str
    message_id: str
    message: dict[str, Any]
    conversation: dict[str, Any]
    contact_id: str | None = None
    contact: dict[str, Any] | None = None
    summary_part: dict[str, Any] | None = None


def create_message(new: NewMessage) -> bool:
    """Write a new message and its summary updates atomically; False if it already exists.
    (:func:`create_first_message` also tells whether the message opened its conversation.)"""
    return create_first_message(new)[0]


def create_first_message(new: NewMessage) -> tuple[bool, bool]:
    """:func:`create_message`, returning (created, first): ``first`` when this write opened the
    conversation, i.e. its ``messageCount`` Increment answered 1. Firestore returns a write's
    transform results with the commit, so a new conversation is recognized at no extra read or
    write, and exactly once however many instances write its first messages at the same moment.

    Values in ``conversation`` may be the sentinels returned by :func:`increment`, :func:`maximum`
    and :data:`server_time`. With ``summary_part`` the conversation document is not written: the
    part is created beside the message (``summaryPending/{message id}``), in the same batch, for
    :func:`fold_summary` to count later."""
    from google.api_core.exceptions import AlreadyExists

    check_storable(new.message)
    db = client()
    batch = db.batch()
    batch.create(message_ref(new.tenant_id, new.conversation_id, new.message_id), new.message)
    conversation = conversation_ref(new.tenant_id, new.conversation_id)
    if new.summary_part is not None:
        batch.create(conversation.collection(_SUMMARY_PENDING).document(new.message_id), new.summary_part)
    else:
        batch.set(conversation, new.conversation, merge=True)
    if new.contact_id and new.contact:
        # Each field given replaces the stored one whole (a renamed contact's search terms lose the
        # old name's), the others stay.
        batch.set(contact_ref(new.tenant_id, new.contact_id), new.contact, merge=list(new.contact))
    writes = list(getattr(batch, "_write_pbs", []))  # the writes sent, in order (commit clears them)
    try:
        results = batch.commit(**_rpc())
    except AlreadyExists:
        return False, False
    return True, new.summary_part is None and _incremented_to_one(writes, results, 1, "messageCount")


def _incremented_to_one(writes: list[Any], results: Any, index: int, field: str) -> bool:
    """Whether the transform of ``field`` in write number ``index`` answered 1."""
    try:
        write = writes[index]
        paths = [transform.field_path for transform in write.update_transforms]
        value = results[index].transform_results[paths.index(field)]
    except (AttributeError, IndexError, ValueError):
        return False
    return value.integer_value == 1 if "integer_value" in value else False


def create_outbound(
    tenant_id: str, conversation_id: str, message_id: str, message: dict[str, Any], summary: dict[str, Any]
) -> bool:
    """Write an agent's message and the conversation summary atomically; False if it already exists
    (the same client message id sent twice)."""
    from google.api_core.exceptions import AlreadyExists

    batch = client().batch()
    batch.create(message_ref(tenant_id, conversation_id, message_id), message)
    batch.set(conversation_ref(tenant_id, conversation_id), summary, merge=True)
    try:
        batch.commit(**_rpc())
    except AlreadyExists:
        return False
    return True


def fold_summary(
    tenant_id: str,
    conversation_id: str,
    fold: Callable[[Versioned, list[dict[str, Any]]], dict[str, Any]],
    page: int,
    spacing: float = 0.0,
) -> int:
    """Fold up to ``page`` pending summary parts into the conversation document; return how many.

    A summary written less than ``spacing`` seconds ago (by its update time) is left alone until
    then: folds that Cloud Tasks runs late, back to back, still write it ``spacing`` apart.

    ``fold(summary, parts)`` turns the summary as read and the parts into one update (field paths,
    transforms allowed). One batch writes that update and deletes the parts it counted, so a part is
    counted exactly once: the update carries a ``last_update_time`` precondition on the summary (read
    *before* the parts, so a fold that committed meanwhile fails ours) and each delete an ``exists``
    one; a failed batch writes nothing and is read and tried again. No transaction: nothing is
    locked, and a writer that changed the summary meanwhile (an agent) costs one more round."""
    from google.api_core.exceptions import AlreadyExists, FailedPrecondition, NotFound

    db = client()
    summary_ref = conversation_ref(tenant_id, conversation_id)
    for _ in range(PRECONDITION_RETRIES):
        summary = _versioned(summary_ref.get(**_rpc()))
        if summary.exists and spacing > 0:
            age = (datetime.now(UTC) - summary.update_time).total_seconds()
            if age < spacing:
                time.sleep(spacing - age)
                continue
        pending = list(summary_ref.collection(_SUMMARY_PENDING).limit(page).stream(**_rpc()))
        if not pending:
            return 0
        update = fold(summary, [snapshot.to_dict() or {} for snapshot in pending])
        batch = db.batch()
        if summary.exists:
            batch.update(summary_ref, update, option=db.write_option(last_update_time=summary.update_time))
        else:
            batch.create(summary_ref, _nested(update))  # fails if the summary appeared meanwhile
        for snapshot in pending:
            batch.delete(snapshot.reference, option=db.write_option(exists=True))
        try:
            batch.commit(**_rpc())
        except (FailedPrecondition, NotFound, AlreadyExists):
            continue
        return len(pending)
    raise TransientError(f"the summary of conversation {conversation_id} kept changing while folding")


# --- delivery claims -----------------------------------------------------------------------------


def claim_delivery(
    tenant_id: str, conversation_id: str, message_id: str, worker: str, lease_seconds: float
) -> tuple[str, dict[str, Any]]:
    """Claim a queued message for one delivery attempt; return (outcome, the message's data).

    The outcome is ``claimed``; ``busy`` while another worker's lease is fresh; ``missing``; or the
    reason there is nothing to do (``already-sent``, ``failed``). Optimistic precondition on update_time: two
    concurrent deliveries of the same task cannot both claim, so the provider is called once."""
    from google.api_core.exceptions import FailedPrecondition

    ref = message_ref(tenant_id, conversation_id, message_id)
    for _ in range(PRECONDITION_RETRIES):
        snapshot = ref.get(**_rpc())
        if not snapshot.exists:
            return "missing", {}
        data = snapshot.to_dict() or {}
        if data.get("status") == "failed":
            return "failed", data
        if data.get("status") != "queued" or data.get("providerMessageId"):
            return "already-sent", data
        now = datetime.now(UTC)
        delivery = data.get("delivery") or {}
        until = delivery.get("until")
        if delivery.get("by") not in (None, worker) and until is not None and until > now:
            return "busy", data
        try:
            ref.update(
                {
                    "delivery": {
                        "by": worker,
                        "until": now + timedelta(seconds=lease_seconds),
                        "attempts": int(delivery.get("attempts", 0)) + 1,
                    }
                },
                option=client().write_option(last_update_time=snapshot.update_time),
            )
        except FailedPrecondition:
            continue
        return "claimed", data
    return "busy", {}


def release_delivery(tenant_id: str, conversation_id: str, message_id: str) -> None:
    """Give a claim back after a transient failure, so the retry may claim at once."""
    message_ref(tenant_id, conversation_id, message_id).update({"delivery.until": None, "delivery.by": None})


# --- reading and updating messages and conversations ---------------------------------------------


@dataclass(frozen=True)
class StoredMessage:
    """A message as read from Firestore."""

    tenant_id: str
    conversation_id: str
    message_id: str
    data: dict[str, Any]


def _stored(tenant_id: str, conversation_id: str, snapshot: DocumentSnapshot) -> StoredMessage:
    return StoredMessage(tenant_id, conversation_id, snapshot.id, snapshot.to_dict() or {})


def get_message(tenant_id: str, conversation_id: str, message_id: str) -> StoredMessage | None:
    """A message by its document id, or None."""
    snapshot = message_ref(tenant_id, conversation_id, message_id).get(**_rpc())
    return _stored(tenant_id, conversation_id, snapshot) if snapshot.exists else None


def find_message_by_provider_id(
    tenant_id: str, conversation_id: str, provider_message_id: str
) -> StoredMessage | None:
    """The message in a conversation that the provider knows as ``provider_message_id``."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        conversation_ref(tenant_id, conversation_id)
        .collection("messages")
        .where(filter=FieldFilter("providerMessageId", "==", provider_message_id))
        .limit(1)
    )
    for snapshot in query.stream(**_rpc()):
        return _stored(tenant_id, conversation_id, snapshot)
    return None


def update_message(tenant_id: str, conversation_id: str, message_id: str, data: dict[str, Any]) -> None:
    """Apply field updates (dotted paths allowed) to an existing message."""
    message_ref(tenant_id, conversation_id, message_id).update(data, **_rpc())


def update_conversation(tenant_id: str, conversation_id: str, data: dict[str, Any]) -> None:
    """Merge fields into a conversation document (creating it if needed)."""
    conversation_ref(tenant_id, conversation_id).set(data, merge=True, **_rpc())


def get_conversation_versioned(tenant_id: str, conversation_id: str) -> Versioned:
    """A conversation's document with the version update_conversation_if tests."""
    return _versioned(conversation_ref(tenant_id, conversation_id).get(**_rpc()))


def update_conversation_if(tenant_id: str, conversation_id: str, data: dict[str, Any], version: Any) -> bool:
    """Update a conversation only if it has not changed since it was read; False if it has."""
    from google.api_core.exceptions import FailedPrecondition, NotFound

    try:
        conversation_ref(tenant_id, conversation_id).update(
            data, option=client().write_option(last_update_time=version), **_rpc()
        )
    except (FailedPrecondition, NotFound):
        return False
    return True


def get_conversation(tenant_id: str, conversation_id: str) -> dict[str, Any] | None:
    """A conversation's document, or None."""
    snapshot = conversation_ref(tenant_id, conversation_id).get(**_rpc())
    return snapshot.to_dict() if snapshot.exists else None


# --- receipts and status -------------------------------------------------------------------------


def advance_status(
    tenant_id: str,
    conversation_id: str,
    message_id: str,
    status: str,
    at: datetime | None,
    extra: dict[str, Any] | None = None,
    always: dict[str, Any] | None = None,
) -> bool:
    """Record ``status`` in a message's history and move its status forward if it advances.

    Optimistic concurrency, no transaction: read, decide, update with a ``last_update_time``
    precondition, and start again if another receipt got there first. Returns True when the
    status moved. ``extra`` fields (error...) are written only when it moves; ``always`` fields
    (the provider's message id) are written in the same update either way."""
    from google.api_core.exceptions import FailedPrecondition, NotFound

    ref = message_ref(tenant_id, conversation_id, message_id)
    when = at or datetime.now(UTC)
    for _ in range(PRECONDITION_RETRIES):
        snapshot = ref.get(**_rpc())
        if not snapshot.exists:
            return False
        data = snapshot.to_dict() or {}
        history_key = f"statusHistory.{status}"
        update: dict[str, Any] = {}
        if status not in (data.get("statusHistory") or {}):
            update[history_key] = when
        moves = advances(data.get("status"), status)
        if moves:
            normalized = "read" if status == "played" else status
            update.update({"status": normalized, "statusRank": rank(normalized), "statusAt": when})
            update.update(extra or {})
        update.update({k: v for k, v in (always or {}).items() if data.get(k) != v})
        if not update:
            return False
        try:
            ref.update(update, option=client().write_option(last_update_time=snapshot.update_time), **_rpc())
        except FailedPrecondition:
            continue
        except NotFound:
            return False
        return moves
    raise TransientError(f"status of message {message_id} kept changing under us")


def outbound_below(
    tenant_id: str, conversation_id: str, status: str, watermark: datetime
) -> Iterator[StoredMessage]:
    """Outbound messages sent at or before ``watermark`` whose status is still below ``status``."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        conversation_ref(tenant_id, conversation_id)
        .collection("messages")
        .where(filter=FieldFilter("direction", "==", "out"))
        .where(filter=FieldFilter("statusRank", "<", STATUS_RANK.get(status, 0)))
    )
    for snapshot in query.stream(**_rpc()):
        data = snapshot.to_dict() or {}
        sent_at = data.get("sentAt")
        if sent_at is None or sent_at <= watermark:
            yield _stored(tenant_id, conversation_id, snapshot)


# --- parked events -------------------------------------------------------------------------------


def park(
    tenant_id: str, conversation_id: str, parked_id: str, target_provider_id: str, event_json: str
) -> None:
    """Keep an event (receipt, reaction, edit, delete) until the message it is about lands."""
    conversation_ref(tenant_id, conversation_id).collection("parked").document(parked_id).set(
        {
            "targetProviderMessageId": target_provider_id,
            "event": event_json,
            "parkedAt": server_time(),
            "expireAt": datetime.now(UTC) + PARKED_TTL,
        }
    )


def parked_for(
    tenant_id: str, conversation_id: str, target_provider_id: str | Sequence[str]
) -> list[tuple[str, str]]:
    """The (parked id, event JSON) pairs waiting for ``target_provider_id`` (or for any of several:
    one query per 30, Firestore's limit for ``in``)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    parked = conversation_ref(tenant_id, conversation_id).collection("parked")
    if isinstance(target_provider_id, str):
        queries = [parked.where(filter=FieldFilter("targetProviderMessageId", "==", target_provider_id))]
    else:
        targets = list(dict.fromkeys(target_provider_id))
        queries = [
            parked.where(filter=FieldFilter("targetProviderMessageId", "in", targets[i : i + _IN_LIMIT]))
            for i in range(0, len(targets), _IN_LIMIT)
        ]
    return [(s.id, (s.to_dict() or {})["event"]) for query in queries for s in query.stream(**_rpc())]


def unpark(tenant_id: str, conversation_id: str, parked_id: str) -> None:
    """Remove a parked event once applied."""
    conversation_ref(tenant_id, conversation_id).collection("parked").document(parked_id).delete(**_rpc())
