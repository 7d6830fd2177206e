"""Who did what to the workspace, and when: the append-only audit log (issue 18, part 6).

Every admin action calls :func:`record` once, after it has succeeded: invitations, role changes,
deactivation, channels connected, disconnected or rotated, replays and discards, settings changes,
data exports and erasures. ``before``/``after`` carry the changed values where the action changes
one (never secrets, never erased personal data: the caller passes what may be kept).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared import store
from shared.auth import Caller

ACTIONS = (
    "agent.invite",
    "agent.role",
    "agent.deactivate",
    "agent.reactivate",
    "invitation.revoke",
    "agent.capacity",
    "team.save",
    "team.delete",
    "channel.connect",
    "channel.route",
    "channel.disconnect",
    "channel.rotate",
    "quarantine.replay",
    "quarantine.discard",
    "deadletter.replay",
    "deadletter.discard",
    "settings.change",
    "contact.export",
    "contact.erase",
    "contact.merge",
    "contact.split",
    "messages.export",
    "retention.run",
)


def record(
    caller: Caller,
    action: str,
    target: dict[str, Any] | None = None,
    *,
    before: Any = None,
    after: Any = None,
    details: dict[str, Any] | None = None,
    tenant_id: str | None = None,
    entry_id: str | None = None,
) -> str:
    """Append one entry for ``action`` by ``caller`` (in ``tenant_id``, by default the caller's) and
    return its id. ``entry_id`` makes a retried action write its entry once: the first entry stays."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action}")
    entry: dict[str, Any] = {
        "action": action,
        "actorId": caller.uid,
        "actorName": (caller.name or caller.email or caller.uid),
        "actorRole": caller.role,
        "target": target or {},
        "atMs": int(time.time() * 1000),
    }
    for key, value in (("before", before), ("after", after), ("details", details)):
        if value is not None:
            entry[key] = value
    entry_id = entry_id or uuid.uuid4().hex
    store.append_audit_entry(tenant_id or caller.tenant_id, entry_id, entry)
    return entry_id


def entries(
    caller: Caller,
    *,
    action: str | None = None,
    actor_id: str | None = None,
    before_ms: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The caller's tenant's entries, newest first (admins only)."""
    from shared.auth import require_admin

    require_admin(caller, "reading the audit log")
    rows = store.list_audit_entries(
        caller.tenant_id, action=action, actor_id=actor_id, before_ms=before_ms, limit=limit
    )
    return [{"id": entry_id, **{k: v for k, v in data.items() if k != "at"}} for entry_id, data in rows]


class AuditQuery(BaseModel):
    """agent_api ``audit_log``: a page of entries, newest first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str
    filterAction: str | None = Field(default=None, max_length=64)
    actorId: str | None = Field(default=None, max_length=128)
    beforeMs: int | None = Field(default=None, ge=0)
    pageSize: int = Field(default=50, ge=1, le=200)


def agent_action(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``audit_log`` -> ``{entries, next}`` (``next``: the ``beforeMs`` of the next page)."""
    query = AuditQuery.model_validate(body)
    rows = entries(
        caller,
        action=query.filterAction,
        actor_id=query.actorId,
        before_ms=query.beforeMs,
        limit=query.pageSize,
    )
    more = len(rows) == query.pageSize
    return {"entries": rows, "actions": list(ACTIONS), "next": rows[-1]["atMs"] if more and rows else None}
