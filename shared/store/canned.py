"""Canned replies and the WhatsApp template cache (issue 17, parts 2 and 3).

    tenants/{t}/cannedReplies/{id}     shortcut, title, body, scope ("tenant" | "personal"),
                                       ownerId (personal ones), updatedAt, updatedBy
    tenants/{t}/channels/{c}/templates/list
                                       templates [{name, language, status, category, body,
                                       parameterCount, ...}], fetchedAtMs (one document per channel:
                                       a WhatsApp account holds at most a few hundred templates)

Agents read canned replies live (the security rules let them read the tenant's and their own);
every write goes through agent_api (shared/canned.py). The template cache is written by
shared/templates.py when it is older than its maximum age or an agent asks for a refresh.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.store._client import _rpc, client, server_time

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.firestore import CollectionReference, DocumentReference

# At most this many canned replies are listed (a tenant's and one agent's together).
CANNED_LIST_LIMIT = 500


def _canned(tenant_id: str) -> CollectionReference:
    return client().collection("tenants").document(tenant_id).collection("cannedReplies")


def get_canned_reply(tenant_id: str, reply_id: str) -> dict[str, Any] | None:
    """One canned reply's document, or None."""
    snapshot = _canned(tenant_id).document(reply_id).get(**_rpc())
    return snapshot.to_dict() if snapshot.exists else None


def put_canned_reply(tenant_id: str, reply_id: str, data: dict[str, Any]) -> None:
    """Create or replace a canned reply (``updatedAt`` is the server's time)."""
    _canned(tenant_id).document(reply_id).set({**data, "updatedAt": server_time()}, **_rpc())


def delete_canned_reply(tenant_id: str, reply_id: str) -> None:
    """Delete a canned reply (deleting a missing one is no error)."""
    _canned(tenant_id).document(reply_id).delete(**_rpc())


def list_canned_replies(tenant_id: str, owner_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The tenant's shared canned replies and ``owner_id``'s personal ones, as (id, document),
    by shortcut."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    found: dict[str, dict[str, Any]] = {}
    for field, value in (("scope", "tenant"), ("ownerId", owner_id)):
        query = _canned(tenant_id).where(filter=FieldFilter(field, "==", value)).limit(CANNED_LIST_LIMIT)
        for snapshot in query.stream(**_rpc()):
            data = snapshot.to_dict() or {}
            if field == "ownerId" and data.get("scope") != "personal":
                continue
            found[snapshot.id] = data
    return sorted(found.items(), key=lambda row: (str(row[1].get("shortcut") or ""), row[0]))


def _template_cache(tenant_id: str, channel_id: str) -> DocumentReference:
    return (
        client()
        .collection("tenants")
        .document(tenant_id)
        .collection("channels")
        .document(channel_id)
        .collection("templates")
        .document("list")
    )


def get_template_cache(tenant_id: str, channel_id: str) -> dict[str, Any] | None:
    """The channel's cached template list ``{templates, fetchedAtMs}``, or None."""
    snapshot = _template_cache(tenant_id, channel_id).get(**_rpc())
    return snapshot.to_dict() if snapshot.exists else None


def put_template_cache(
    tenant_id: str, channel_id: str, templates: list[dict[str, Any]], fetched_at_ms: int
) -> None:
    """Replace the channel's cached template list."""
    _template_cache(tenant_id, channel_id).set(
        {"templates": templates, "fetchedAtMs": fetched_at_ms, "updatedAt": server_time()}, **_rpc()
    )
