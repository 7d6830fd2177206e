"""The audit log: one append-only document per admin action (issue 18, part 6).

    tenants/{t}/audit/{id}    action, actorId, actorName, actorRole, target {kind, id, name},
                              before, after (where the action changes a value), details,
                              atMs (client clock, for ordering and filters), at (server time)

Written with ``create`` (never ``set``): an entry is never replaced. The security rules let no
client write here at all; admins read it through the console's function.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from shared.store._client import _rpc, client, server_time

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.firestore import CollectionReference

# At most this many entries are returned by one page.
AUDIT_PAGE_LIMIT = 200


def _audit(tenant_id: str) -> CollectionReference:
    return client().collection("tenants").document(tenant_id).collection("audit")


def append_audit_entry(tenant_id: str, entry_id: str, entry: dict[str, Any]) -> bool:
    """Create the entry and return True; if an entry with that id is already there (a retried
    action), leave it as it is and return False."""
    from google.api_core.exceptions import AlreadyExists

    try:
        _audit(tenant_id).document(entry_id).create({**entry, "at": server_time()}, **_rpc())
    except AlreadyExists:
        return False
    return True


def list_audit_entries(
    tenant_id: str,
    *,
    action: str | None = None,
    actor_id: str | None = None,
    before_ms: int | None = None,
    limit: int = 50,
) -> list[tuple[str, dict[str, Any]]]:
    """Entries, newest first, as (id, document), optionally of one action or one actor and older
    than ``before_ms`` (the previous page's last ``atMs``)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query: Any = _audit(tenant_id)
    if action is not None:
        query = query.where(filter=FieldFilter("action", "==", action))
    if actor_id is not None:
        query = query.where(filter=FieldFilter("actorId", "==", actor_id))
    if before_ms is not None:
        query = query.where(filter=FieldFilter("atMs", "<", before_ms))
    query = query.order_by("atMs", direction="DESCENDING").limit(min(max(limit, 1), AUDIT_PAGE_LIMIT))
    return [(snapshot.id, snapshot.to_dict() or {}) for snapshot in query.stream(**_rpc())]


def stream_audit_entries(tenant_id: str, since_ms: int | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every entry (since ``since_ms``, inclusive), oldest first, streamed: the CLI's export."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query: Any = _audit(tenant_id)
    if since_ms is not None:
        query = query.where(filter=FieldFilter("atMs", ">=", since_ms))
    for snapshot in query.order_by("atMs").stream(**_rpc()):
        yield snapshot.id, snapshot.to_dict() or {}
