"""Data retention (issue 18, part 5): messages and media older than the tenant's
``settings.retentionDays`` (the tenant document's ``settings`` map; absent: kept forever) are
deleted, every day.

Schedule. Cloud Scheduler (infra/retention.tf) queues, once a day, a ``retention_sweep`` task on the
``jobs`` queue; deliver runs :func:`sweep`, which queues one ``retention`` run per tenant that has a
retention period (named after the tenant and the day: a second sweep the same day queues nothing).

A run (:func:`run_step`, one Cloud Task step of at most ``jobs.STEP_SECONDS``, then its next step):

1. messages with ``sentAtMs`` before the cutoff (now - retentionDays), oldest first, through the
   timeline's index (the tenant's ``terms`` key), :data:`PAGE` at a time: their media objects
   (files and thumbnails) are deleted from Cloud Storage, then the documents in batches of at most
   500 writes (the search fields are in the documents: gone with them);
2. conversations whose last activity is before the cutoff (nothing of them is left to keep): every
   object under their prefix, then the conversation and everything under it (its summary quotes
   the last message);
3. one ``retention.run`` audit entry with the counts (named after the run: written once).

Contacts (identities, no messages) are kept. :func:`dry_run` counts what a run would delete, with
aggregation queries (no document read): the CLI's ``retention --tenant T --dry-run``.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from shared import audit, ids, jobs, store
from shared.auth import Caller
from shared.errors import Refused
from shared.media import storage

PAGE = 500  # messages a page: one delete batch (Firestore's limit is 500 writes)
DAY_MS = 86_400_000
JOB_CALLER_ID = "retention-job"


def retention_days(tenant_id: str) -> int | None:
    """The tenant's retention period in days, None to keep everything."""
    settings = (store.get_tenant(tenant_id) or {}).get("settings") or {}
    days = settings.get("retentionDays")
    if isinstance(days, int) and not isinstance(days, bool) and days > 0:
        return days
    return None


def cutoff_ms(days: int, now_ms: int | None = None) -> int:
    """Messages sent before this moment are expired."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    return now_ms - days * DAY_MS


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def dry_run(tenant_id: str) -> dict[str, Any]:
    """What a run would delete now: ``{retentionDays, cutoff, messages, conversations}``."""
    from shared.search.fields import every_key

    days = retention_days(tenant_id)
    if days is None:
        return {
            "tenantId": tenant_id,
            "retentionDays": None,
            "cutoff": None,
            "messages": 0,
            "conversations": 0,
        }
    cutoff = cutoff_ms(days)
    return {
        "tenantId": tenant_id,
        "retentionDays": days,
        "cutoff": _iso(cutoff),
        "messages": store.count_indexed_before(every_key(tenant_id), cutoff),
        "conversations": store.count_stale_conversations(tenant_id, cutoff),
    }


def start(tenant_id: str, *, run_id: str | None = None, actor: dict[str, str] | None = None) -> str | None:
    """Record a run for the tenant (cutoff fixed now) and return its id; None when the tenant keeps
    everything. A run id that exists already is kept as it is (a second sweep the same day)."""
    days = retention_days(tenant_id)
    if days is None:
        return None
    run_id = run_id or uuid.uuid4().hex
    if store.get_retention_run(tenant_id, run_id) is None:
        store.put_retention_run(
            tenant_id,
            run_id,
            {
                "retentionDays": days,
                "cutoffMs": cutoff_ms(days),
                "state": "running",
                "messages": 0,
                "conversations": 0,
                "documents": 0,
                "mediaObjects": 0,
                "actor": actor or {"id": JOB_CALLER_ID, "name": "Retention job", "role": "system"},
                "startedAtMs": int(time.time() * 1000),
            },
        )
    return run_id


def _media_paths(message: dict[str, Any]) -> list[str]:
    paths = []
    for entry in store.media_entries(message):
        for field in ("path", "thumbnailPath"):
            if isinstance(entry.get(field), str) and entry[field]:
                paths.append(str(entry[field]))
    return paths


def run_step(
    tenant_id: str, run_id: str, *, budget_seconds: float = jobs.STEP_SECONDS, queue_next: bool = True
) -> str:
    """One step of a run: ``continued``, ``done`` or ``nothing-to-do``."""
    from shared.search.fields import every_key

    run = store.get_retention_run(tenant_id, run_id)
    if run is None or run.get("state") == "done":
        return "nothing-to-do"
    started = time.monotonic()
    cutoff = int(run["cutoffMs"])
    counts = {k: int(run.get(k) or 0) for k in ("messages", "conversations", "documents", "mediaObjects")}
    more = True
    while more and time.monotonic() - started < budget_seconds:
        page = store.tenant_messages(
            every_key(tenant_id), to_ms=cutoff, newest_first=False, limit=PAGE, fields=["content.media"]
        )
        for message in page:
            for path in _media_paths(message.data):
                storage.delete(path)
                counts["mediaObjects"] += 1
        deleted = store.delete_paths([m.path for m in page])
        counts["messages"] += deleted
        counts["documents"] += deleted
        more = len(page) == PAGE
    after: tuple[int, str] | None = None
    while not more and time.monotonic() - started < budget_seconds:
        stale = store.stale_conversations(tenant_id, cutoff, after=after, limit=100)
        for conversation_id, conversation in stale:
            if conversation.get("kind") != "support":
                after = (int(conversation.get("lastActivityAtMs") or 0), conversation_id)
                continue
            for path, _ in list(storage.listed(f"tenants/{tenant_id}/conversations/{conversation_id}/")):
                storage.delete(path)
                counts["mediaObjects"] += 1
            counts["documents"] += store.delete_tree(f"tenants/{tenant_id}/conversations/{conversation_id}")
            counts["conversations"] += 1
        if len(stale) < 100:
            break
    finished = not more and time.monotonic() - started < budget_seconds
    store.put_retention_run(tenant_id, run_id, {**counts, "state": "done" if finished else "running"})
    if not finished:
        if not queue_next:
            return "continued"
        step = int(run.get("steps") or 0) + 1
        store.put_retention_run(tenant_id, run_id, {"steps": step})
        jobs.enqueue("retention", tenant_id, f"retention-{run_id}-{step}", {"runId": run_id})
        return "continued"
    actor = run.get("actor") or {}
    caller = Caller(
        uid=str(actor.get("id") or JOB_CALLER_ID),
        tenant_id=tenant_id,
        role=str(actor.get("role") or "system"),
        name=actor.get("name"),
    )
    audit.record(
        caller,
        "retention.run",
        {"kind": "workspace", "id": tenant_id},
        details={"retentionDays": run.get("retentionDays"), "cutoff": _iso(cutoff), **counts},
        entry_id=f"retention-{run_id}",
    )
    return "done"


def run_inline(tenant_id: str, caller: Caller) -> dict[str, Any]:
    """A whole run in this process (the CLI): the run's record."""
    actor = {"id": caller.uid, "name": caller.name or caller.email or caller.uid, "role": caller.role}
    run_id = start(tenant_id, actor=actor)
    if run_id is None:
        raise Refused(
            "no_retention", f"tenant {tenant_id} keeps its messages forever (no settings.retentionDays)"
        )
    while run_step(tenant_id, run_id, queue_next=False) == "continued":
        pass
    return {"runId": run_id, **(store.get_retention_run(tenant_id, run_id) or {})}


def sweep() -> str:
    """The daily sweep: queue today's run for every tenant with a retention period."""
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    queued = 0
    for tenant_id, _days in store.tenants_with_retention():
        run_id = start(tenant_id, run_id=ids.doc_id("retention", tenant_id, day))
        if run_id is not None and jobs.enqueue(
            "retention", tenant_id, f"retention-{run_id}-0", {"runId": run_id}
        ):
            queued += 1
    return f"swept: {queued} run(s) queued"
