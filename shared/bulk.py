"""Bulk actions: one request assigns, labels or changes the status of up to :data:`MAX_BULK`
conversations selected in the inbox.

The conversations are read in one ``get_all``; each is checked as a single action would check it
(the caller's tenant, a support conversation: ``conversations.for_staff``'s rule) and turned into
the same change a single action writes, with its activity line. What passes is written in batches
of at most 500 writes (a change and its line share a batch); what does not is reported per id,
and never stops the others: ``{results: {id: {ok: true} | {ok: false, code, message}}}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared import conversations, labels, store
from shared.auth import Caller
from shared.errors import Refused

MAX_BULK = 100
OPERATIONS = ("assign", "label", "status")


def run(
    caller: Caller,
    conversation_ids: list[str],
    operation: str | None,
    *,
    assignee_id: str | None = None,
    status: str | None = None,
    add: list[str] | None = None,
    remove: list[str] | None = None,
) -> dict[str, Any]:
    """Apply one operation to each conversation; per-id results."""
    if operation not in OPERATIONS:
        raise Refused("invalid_request", f"bulk needs op: one of {', '.join(OPERATIONS)}", 422)
    wanted = list(dict.fromkeys(conversation_ids))
    if not wanted:
        raise Refused("invalid_request", "bulk needs conversationIds", 422)
    if len(wanted) > MAX_BULK:
        raise Refused("too_many_conversations", f"a bulk action takes at most {MAX_BULK} conversations", 422)
    if operation == "status" and status == "snoozed":
        raise Refused("invalid_request", "bulk cannot snooze: snooze one conversation at a time", 422)
    known = store.list_labels(caller.tenant_id) if operation == "label" else {}
    agents: dict[str, dict[str, Any] | None] = {}

    def agent_of(uid: str) -> dict[str, Any] | None:
        if uid not in agents:
            agents[uid] = store.get_agent(caller.tenant_id, uid)
        return agents[uid]

    found = store.get_conversations(caller.tenant_id, wanted)
    results: dict[str, dict[str, Any]] = {}
    changes: list[store.ConversationChange] = []
    released: set[str] = set()  # agents whose capacity the operation frees
    for conversation_id in wanted:
        conversation = found.get(conversation_id)
        try:
            if conversation is None or not conversations.is_staffs(caller, conversation):
                raise Refused("conversation_not_found", "no such conversation", 404)
            change = _change(
                caller,
                conversation_id,
                conversation,
                operation,
                agent_of,
                assignee_id,
                status,
                add,
                remove,
                known,
            )
        except Refused as exc:
            results[conversation_id] = {"ok": False, "code": exc.code, "message": str(exc)}
            continue
        if change is not None:
            changes.append(change)
            freed = conversations.freed_agent(conversation, change.update)
            if freed:
                released.add(freed)
        results[conversation_id] = {"ok": True}
    channel_of = {
        conversation_id: str((found.get(conversation_id) or {}).get("channel") or "")
        for conversation_id in found
    }
    # Notifies new assignees; queues each resolution's survey (shared/csat.py).
    conversations.apply_changes(caller, changes, channel_of)
    conversations.release_capacity(caller.tenant_id, released)  # waiting conversations for them
    done = sum(1 for result in results.values() if result["ok"])
    return {"results": results, "succeeded": done, "failed": len(results) - done}


def _change(
    caller: Caller,
    conversation_id: str,
    conversation: dict[str, Any],
    operation: str,
    agent_of: Callable[[str], dict[str, Any] | None],
    assignee_id: str | None,
    status: str | None,
    add: list[str] | None,
    remove: list[str] | None,
    known: dict[str, dict[str, Any]],
) -> store.ConversationChange | None:
    if operation == "assign":
        return conversations.assignment_change(caller, conversation_id, conversation, assignee_id, agent_of)
    if operation == "status":
        return conversations.status_change(caller, conversation_id, conversation, status, None)
    return labels.labels_change(caller, conversation_id, conversation, add or [], remove or [], known)
