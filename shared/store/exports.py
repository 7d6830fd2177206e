"""Export jobs in Firestore (issue 19, part 3): one document per export an admin started.

    tenants/{t}/exports/{id}   kind ("messages" | "contact"), format ("jsonl" | "csv"), fromMs, toMs,
                               query (a search's words, optional), state ("queued" | "running" |
                               "done" | "failed" | "withdrawn"), count (messages written so far),
                               parts (object parts written), cursor ([sentAtMs, path] of the last
                               message written), path (the finished object), size, error,
                               startedBy {id, name}, createdAtMs, expiresAtMs, updatedAtMs

The dashboard listens to its tenant's export documents (admins only, infra/firestore.rules) for
progress; only the functions write them. Progress is written at most once a second per export
(shared/exports.py), within Firestore's sustained write rate of one document.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.store._client import _rpc, client

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.firestore import CollectionReference


def _exports(tenant_id: str) -> CollectionReference:
    return client().collection("tenants").document(tenant_id).collection("exports")


def create_export_job(tenant_id: str, export_id: str, job: dict[str, Any]) -> bool:
    """Create the job; False when one with that id exists already (a retried start)."""
    from google.api_core.exceptions import AlreadyExists

    try:
        _exports(tenant_id).document(export_id).create(job, **_rpc())
    except AlreadyExists:
        return False
    return True


def get_export_job(tenant_id: str, export_id: str) -> dict[str, Any] | None:
    """The job's document, or None."""
    snapshot = _exports(tenant_id).document(export_id).get(**_rpc())
    return (snapshot.to_dict() or {}) if snapshot.exists else None


def update_export_job(tenant_id: str, export_id: str, data: dict[str, Any]) -> None:
    """Merge ``data`` into the job's document."""
    _exports(tenant_id).document(export_id).set(data, merge=True, **_rpc())


def list_export_jobs(tenant_id: str, limit: int = 20) -> list[tuple[str, dict[str, Any]]]:
    """The tenant's latest jobs, newest first, as (id, document)."""
    from google.cloud.firestore import Query

    query = _exports(tenant_id).order_by("createdAtMs", direction=Query.DESCENDING).limit(limit)
    return [(s.id, s.to_dict() or {}) for s in query.stream(**_rpc())]
