"""Search and the timeline in Firestore: collection-group queries over a tenant's messages, the
conversations and contacts their results name, and the pages the search backfill walks.

    tenants/{t}/conversations/{c}/messages/{m}   tenantId, conversationId, sentAtMs,
                                                 terms {"<t>:<key>": sentAtMs}
    tenants/{t}/contacts/{id}                    terms {term: true}

A tenant's messages are found by one key of their ``terms`` map (shared/search/fields.py), whose
single-field index orders them by time; the key names the tenant. Only messages of support
conversations carry ``tenantId`` and ``terms``: an app's direct and group chats are never reached,
and the rules let staff run the ``tenantId ==`` query themselves (infra/firestore.rules).
Indexes: infra/firestore.indexes.json.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from shared.store._client import _rpc, client, conversation_ref, field_path

_IN_LIMIT = 30  # values in one Firestore "in" filter
_GET_ALL = 100  # documents per get_all


@dataclass(frozen=True)
class FoundMessage:
    """A message a query returned: its ids, its document path and the fields selected."""

    conversation_id: str
    message_id: str
    path: str
    data: dict[str, Any]

    @property
    def sent_at_ms(self) -> int:
        return int(self.data.get("sentAtMs") or 0)


def tenant_messages(
    key: str,
    *,
    from_ms: int | None = None,
    to_ms: int | None = None,
    newest_first: bool = True,
    after: tuple[int, str] | None = None,
    limit: int = 100,
    fields: Sequence[str] | None = None,
) -> list[FoundMessage]:
    """One page of the messages indexed under ``key`` (``terms.<key>``, whose value is the message's
    ``sentAtMs``: shared/search/fields.py), by time then document path, newest or oldest first.

    ``from_ms`` inclusive, ``to_ms`` exclusive; ``after``: the (sentAtMs, path) of the last message of
    the previous page; ``fields``: a projection (field paths; ``terms.<key>`` for single keys)."""
    from google.cloud.firestore import Query
    from google.cloud.firestore_v1.base_query import FieldFilter

    db = client()
    path = field_path("terms", key)
    query: Any = db.collection_group("messages").where(filter=FieldFilter(path, ">=", from_ms or 0))
    if to_ms is not None:
        query = query.where(filter=FieldFilter(path, "<", to_ms))
    direction = Query.DESCENDING if newest_first else Query.ASCENDING
    query = query.order_by(path, direction=direction).order_by("__name__", direction=direction)
    if after is not None:
        query = query.start_after({"terms": {key: after[0]}, "__name__": db.document(after[1])})
    if fields is not None:
        query = query.select(list(fields))
    found = []
    for snapshot in query.limit(limit).stream(**_rpc()):
        reference = snapshot.reference
        found.append(
            FoundMessage(
                conversation_id=reference.parent.parent.id,
                message_id=reference.id,
                path=reference.path,
                data=snapshot.to_dict() or {},
            )
        )
    return found


def timeline_query_by_tenant(tenant_id: str, limit: int) -> list[FoundMessage]:
    """The query the rules let staff run themselves (``tenantId ==``, newest first): what a client
    listener would ask; the API uses :func:`tenant_messages`."""
    from google.cloud.firestore import Query
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        client()
        .collection_group("messages")
        .where(filter=FieldFilter("tenantId", "==", tenant_id))
        .order_by("sentAtMs", direction=Query.DESCENDING)
        .limit(limit)
    )
    return [
        FoundMessage(s.reference.parent.parent.id, s.reference.id, s.reference.path, s.to_dict() or {})
        for s in query.stream(**_rpc())
    ]


def get_conversations(tenant_id: str, conversation_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Conversations by id (those that exist), in as few round trips as ``get_all`` allows."""
    db = client()
    unique = list(dict.fromkeys(conversation_ids))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(unique), _GET_ALL):
        refs = [conversation_ref(tenant_id, c) for c in unique[start : start + _GET_ALL]]
        for snapshot in db.get_all(refs, **_rpc()):
            if snapshot.exists:
                found[snapshot.id] = snapshot.to_dict() or {}
    return found


def contacts_with_term(tenant_id: str, term: str, limit: int) -> list[tuple[str, dict[str, Any]]]:
    """Contacts indexed under ``term``: (contact id, document)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        client()
        .collection("tenants")
        .document(tenant_id)
        .collection("contacts")
        .where(filter=FieldFilter(field_path("terms", term), "==", True))
        .limit(limit)
    )
    return [(s.id, s.to_dict() or {}) for s in query.stream(**_rpc())]


def support_conversation_ids(tenant_id: str, page: int = 300) -> Iterator[str]:
    """Every support conversation of a tenant, by id, in pages (the backfill)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    conversations = client().collection("tenants").document(tenant_id).collection("conversations")
    last: Any = None
    while True:
        query = conversations.where(filter=FieldFilter("kind", "==", "support")).order_by("__name__")
        if last is not None:
            query = query.start_after(last)
        snapshots = list(query.select([]).limit(page).stream(**_rpc()))
        yield from (s.id for s in snapshots)
        if len(snapshots) < page:
            return
        last = snapshots[-1]


def conversation_messages(
    tenant_id: str, conversation_id: str, page: int = 300
) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """A conversation's messages in pages of (message id, document), by id (the backfill)."""
    messages = conversation_ref(tenant_id, conversation_id).collection("messages")
    last: Any = None
    while True:
        query = messages.order_by("__name__")
        if last is not None:
            query = query.start_after(last)
        snapshots = list(query.limit(page).stream(**_rpc()))
        if snapshots:
            yield [(s.id, s.to_dict() or {}) for s in snapshots]
        if len(snapshots) < page:
            return
        last = snapshots[-1]


def tenant_contacts(tenant_id: str, page: int = 300) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """A tenant's contacts in pages of (contact id, document) (the backfill)."""
    contacts = client().collection("tenants").document(tenant_id).collection("contacts")
    last: Any = None
    while True:
        query = contacts.order_by("__name__")
        if last is not None:
            query = query.start_after(last)
        snapshots = list(query.limit(page).stream(**_rpc()))
        if snapshots:
            yield [(s.id, s.to_dict() or {}) for s in snapshots]
        if len(snapshots) < page:
            return
        last = snapshots[-1]


def update_documents(updates: Sequence[tuple[str, dict[str, Any]]]) -> int:
    """Apply field updates to documents by path, up to 500 per batch; return how many."""
    db = client()
    done = 0
    for start in range(0, len(updates), 500):
        batch = db.batch()
        for path, data in updates[start : start + 500]:
            batch.update(db.document(path), data)
        batch.commit(**_rpc())
        done += len(updates[start : start + 500])
    return done


def contact_path(tenant_id: str, contact_id: str) -> str:
    """A contact document's path (what :func:`update_documents` takes)."""
    return f"tenants/{tenant_id}/contacts/{contact_id}"


def message_path(tenant_id: str, conversation_id: str, message_id: str) -> str:
    """A message document's path."""
    return f"tenants/{tenant_id}/conversations/{conversation_id}/messages/{message_id}"
