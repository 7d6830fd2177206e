"""Erasing a contact on request (issue 18, part 7): nothing of them stays readable.

:func:`erase_contact` deletes, for the contact's support conversations (shared/contact_data.py
``conversations_of``): every media object under the conversation's prefix in Cloud Storage (files
and thumbnails), then the conversation document with every document under it (messages, notes,
activity lines, parked events, pending summary shares: the messages' search fields go with them),
then the contact document (its identity and its contact-search ``terms``), the agents' notifications
about those conversations and the reports' per-conversation state. A rating's comment (shared/csat.py)
lives on the conversation and its activity line, so it goes with them. Exports made before
(message exports and contact files, which may hold the contact's messages) are withdrawn: their
objects are deleted and their jobs marked ``withdrawn``. Then one audit entry ``contact.erase``
with counts and the contact's pseudonymous reference (shared/contact_data.py ``reference``), never
the erased data.

Running it again for the same contact finds nothing and refuses ``not_found``; a run interrupted
half way is finished by running it again (every step deletes what is left).
"""

from __future__ import annotations

from typing import Any

from shared import audit, store
from shared.auth import Caller, require_admin
from shared.contact_data import ContactRef, conversations_of, reference
from shared.errors import Refused
from shared.media import storage


def _conversation_prefix(tenant_id: str, conversation_id: str) -> str:
    return f"tenants/{tenant_id}/conversations/{conversation_id}/"


def delete_objects(prefix: str) -> int:
    """Delete every object under ``prefix``; how many."""
    paths = [path for path, _ in storage.listed(prefix)]
    for path in paths:
        storage.delete(path)
    return len(paths)


def withdraw_exports(tenant_id: str) -> int:
    """Delete the tenant's export objects and mark their jobs withdrawn; how many jobs."""
    delete_objects(f"{storage.EXPORTS_PREFIX}{tenant_id}/")
    withdrawn = 0
    for export_id, job in store.list_export_jobs(tenant_id, limit=1000):
        if job.get("state") != "withdrawn":
            store.update_export_job(
                tenant_id,
                export_id,
                {"state": "withdrawn", "path": None, "cursor": None, "query": None, "terms": []},
            )
            withdrawn += 1
    return withdrawn


def erase_contact(caller: Caller, contact_id: str) -> dict[str, Any]:
    """Erase the contact; answer the counts of what was deleted."""
    require_admin(caller, "erasing a contact")
    tenant_id = caller.tenant_id
    contact = store.contact_document(tenant_id, contact_id)
    conversations = conversations_of(tenant_id, contact_id)
    if contact is None and not conversations:
        raise Refused("not_found", "no such contact (already erased?)", 404)
    counts = {"conversations": len(conversations), "documents": 0, "mediaObjects": 0, "exportsWithdrawn": 0}
    for conversation_id, _ in conversations:
        counts["mediaObjects"] += delete_objects(_conversation_prefix(tenant_id, conversation_id))
        counts["documents"] += store.delete_tree(f"tenants/{tenant_id}/conversations/{conversation_id}")
    counts["documents"] += store.delete_tree(f"tenants/{tenant_id}/contacts/{contact_id}")
    # Agents' notification feeds quote the messages they announce; the reports' fold keeps a state
    # per conversation under the conversation's id (which derives from the customer's address).
    ids = [conversation_id for conversation_id, _ in conversations]
    counts["documents"] += store.delete_paths(store.notification_paths(tenant_id, ids)) if ids else 0
    counts["documents"] += store.delete_paths(
        [f"tenants/{tenant_id}/reportConversations/{conversation_id}" for conversation_id in ids]
    )
    counts["exportsWithdrawn"] = withdraw_exports(tenant_id)
    audit.record(
        caller, "contact.erase", {"kind": "contact", "id": reference(tenant_id, contact_id)}, details=counts
    )
    return {"erased": True, **counts}


def erase_action(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``contact_erase``."""
    return erase_contact(caller, ContactRef.model_validate(body).contactId)
