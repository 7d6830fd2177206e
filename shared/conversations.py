"""Agents acting on conversations: assignment and status (open, pending, snoozed, resolved), and
snoozed conversations waking up by themselves.

Snoozing queues a Cloud Task on the timers queue for the wake-up time; ``deliver`` runs it
(:func:`wake`): the conversation reopens and comes back to the top of the inbox, unless something
changed it meanwhile (a customer wrote, which reopens it anyway; an agent resolved it or snoozed it
again, for another time). Cloud Tasks schedules at most 30 days ahead, so a longer snooze hops.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shared import activity, csat, ids, store
from shared.auth import Caller
from shared.config import settings
from shared.errors import Refused, TransientError
from shared.reports import fold as reports_fold

log = logging.getLogger(__name__)

TIMERS_QUEUE = "timers"  # topology.json queues.timers
MAX_SCHEDULE_MS = 29 * 24 * 3600 * 1000  # Cloud Tasks refuses schedule times beyond 30 days
WAKE_RETRIES = 10  # ingest writes the conversation on every customer message: re-read and retry


def for_staff(caller: Caller, conversation_id: str) -> dict[str, Any]:
    """The support conversation an agent acts on, or 404. An app's direct and group channels are
    its users' private chats: staff neither read them (infra/firestore.rules) nor act on them."""
    conversation = store.get_conversation(caller.tenant_id, conversation_id)
    if conversation is None or not is_staffs(caller, conversation):
        raise Refused("conversation_not_found", "no such conversation", 404)
    return conversation


def is_staffs(caller: Caller, conversation: dict[str, Any] | None) -> bool:
    """Whether staff of the caller's tenant act on this conversation (read from their tenant's
    tree): a support conversation of that tenant. :func:`for_staff`'s rule, for one already read."""
    return (
        conversation is not None
        and conversation.get("tenantId", caller.tenant_id) == caller.tenant_id
        and conversation.get("kind") == "support"
    )


def assignment_change(
    caller: Caller,
    conversation_id: str,
    conversation: dict[str, Any],
    assignee_id: str | None,
    agent_of: Callable[[str], dict[str, Any] | None] | None = None,
) -> store.ConversationChange:
    """Assign a conversation to an agent of the same tenant (None unassigns), with its activity line
    when the assignee changes. ``assigned`` (0/1) is what the inbox's "unassigned" filter queries.
    ``agent_of`` looks an agent up (a bulk action passes a memo: one read per agent)."""
    if agent_of is None:

        def agent_of(uid: str) -> dict[str, Any] | None:
            return store.get_agent(caller.tenant_id, uid)

    assignee: dict[str, Any] | None = None
    if assignee_id is not None:
        assignee = agent_of(assignee_id)
        if assignee is None:
            raise Refused("unknown_agent", "that agent does not belong to this workspace", 422)
        if assignee.get("active", True) is False:  # shared/team.py deactivated them
            raise Refused("agent_deactivated", "that agent was deactivated: assign someone else", 422)
    update = {
        "assigneeId": assignee_id,
        "assigned": 1 if assignee_id else 0,
        "assignedBy": caller.uid,
        "assignedAt": store.server_time(),
        "updatedAt": store.server_time(),
    }
    previous = conversation.get("assigneeId")
    if previous == assignee_id:
        return activity.change(caller, conversation_id, update, None)
    if assignee_id is None:
        before = agent_of(previous) if previous else None
        return activity.change(
            caller,
            conversation_id,
            update,
            "unassign",
            previousAssigneeId=previous,
            previousAssigneeName=(before or {}).get("name") or None,
        )
    name = (assignee or {}).get("name") or (assignee or {}).get("email") or "an agent"
    return activity.change(
        caller, conversation_id, update, "assign", assigneeId=assignee_id, assigneeName=name
    )


def apply_changes(
    caller: Caller, changes: list[store.ConversationChange], channel_of: dict[str, str] | None = None
) -> None:
    """Write conversation changes (store.apply_conversation_changes) and, once written, queue the
    notification of each new assignment (shared/notifications.py) and the satisfaction survey of
    each resolution (shared/csat.py; ``channel_of``: conversation id -> its channel, given by a
    caller whose changes may resolve). Every assignment, single, bulk or automatic, and every
    status change is applied through here, so one hook sees them all."""
    store.apply_conversation_changes(caller.tenant_id, changes)
    reports_fold.schedule_quietly(caller.tenant_id)  # the reports count the change's activity line
    if channel_of is not None:
        csat.after_changes(caller.tenant_id, changes, channel_of)  # a resolution's survey, when on
    for change in changes:
        if change.activity and (change.activity.get("activity") or {}).get("verb") == "assign":
            after_assignment(caller, change.conversation_id, change.update.get("assigneeId"))


def after_assignment(caller: Caller, conversation_id: str, assignee_id: str | None) -> None:
    """A conversation was just assigned to ``assignee_id``: notify them (a queued task). A failure
    to queue is logged, never raised: the assignment is written."""
    from shared import notifications

    try:
        notifications.after_assignment(caller, conversation_id, assignee_id)
    except Exception as exc:  # noqa: BLE001 - the assignment stands without its notification
        log.error(
            "assignment notification not queued",
            extra={"fields": {"conversation_id": conversation_id, "error": type(exc).__name__}},
        )


def assign(caller: Caller, conversation_id: str, assignee_id: str | None) -> dict[str, Any]:
    """Assign a conversation to an agent of the same tenant (None unassigns)."""
    conversation = for_staff(caller, conversation_id)
    apply_changes(caller, [assignment_change(caller, conversation_id, conversation, assignee_id)])
    previous = conversation.get("assigneeId")
    if previous and previous != assignee_id and conversation.get("status", "open") in store.OPEN_STATUSES:
        _capacity_freed(caller.tenant_id, previous)
    return {"conversationId": conversation_id, "assigneeId": assignee_id}


# Who auto-assignment's activity lines name (shared/routing.py).
ROUTING_CALLER_UID = "auto-assignment"


def assign_automatically(
    tenant_id: str,
    conversation_id: str,
    assignee_id: str,
    check_agent: Callable[[dict[str, Any]], int | str],
    assigned_at_us: int,
) -> store.Claim:
    """Auto-assignment's way to assign (shared/routing.py): the same change and activity line as
    :func:`assign`, written in one optimistic transaction that assigns the conversation only while it is
    unassigned and the agent available and under capacity (``store.claim_conversation``); the agent
    is notified once it is written, as for any assignment."""
    caller = Caller(uid=ROUTING_CALLER_UID, tenant_id=tenant_id, role="system", name="Auto-assignment")

    def build(
        conversation: dict[str, Any], agent: dict[str, Any]
    ) -> tuple[dict[str, Any], str | None, dict[str, Any] | None]:
        change = assignment_change(caller, conversation_id, conversation, assignee_id, lambda _uid: agent)
        return change.update, change.activity_id, change.activity

    claim = store.claim_conversation(
        tenant_id, conversation_id, assignee_id, check_agent, build, assigned_at_us
    )
    if claim.outcome == "assigned":
        after_assignment(caller, conversation_id, assignee_id)
    return claim


def freed_agent(conversation: dict[str, Any], update: dict[str, Any]) -> str | None:
    """Whose capacity a change to ``conversation`` frees: its assignee's, when an open conversation is
    resolved or snoozed (leaves the open statuses) or handed to someone else."""
    previous = conversation.get("assigneeId")
    if not previous or conversation.get("status", "open") not in store.OPEN_STATUSES:
        return None
    if "assigneeId" in update and update["assigneeId"] != previous:
        return str(previous)
    if "status" in update and update["status"] not in store.OPEN_STATUSES:
        return str(previous)
    return None


def release_capacity(tenant_id: str, uids: set[str]) -> None:
    """These agents have room again (a bulk action): hand them waiting conversations."""
    for uid in sorted(uids):
        _capacity_freed(tenant_id, uid)


def _capacity_freed(tenant_id: str, uid: str) -> None:
    """An agent has room again: hand them conversations waiting for their teams (shared/routing.py)."""
    from shared import routing

    routing.capacity_freed(tenant_id, uid)


def status_change(
    caller: Caller,
    conversation_id: str,
    conversation: dict[str, Any],
    status: str | None,
    snooze_until_ms: int | None,
) -> store.ConversationChange:
    """Open, pend, snooze (until a time) or resolve, with its activity line when something changed."""
    if status is None:
        raise Refused("status_required", "status is required", 422)
    if status == "snoozed" and not snooze_until_ms:
        raise Refused("snooze_until_required", "snoozing needs snoozeUntilMs", 422)
    update: dict[str, Any] = {
        "status": status,
        "statusChangedBy": caller.uid,
        "statusChangedAt": store.server_time(),
        "updatedAt": store.server_time(),
        "snoozeUntilMs": snooze_until_ms if status == "snoozed" else None,
    }
    before = conversation.get("status") or "open"
    if status == "snoozed":
        if before == "snoozed" and conversation.get("snoozeUntilMs") == snooze_until_ms:
            return activity.change(caller, conversation_id, update, None)
        return activity.change(caller, conversation_id, update, "snooze", untilMs=snooze_until_ms)
    if before == status:
        return activity.change(caller, conversation_id, update, None)
    change = activity.change(
        caller, conversation_id, update, activity.STATUS_VERBS[status], **{"from": before}
    )
    return csat.mark_resolution(change)  # a resolution carries its id: its survey is asked once


def set_status(caller: Caller, conversation_id: str, status: str | None, snooze_until_ms: int | None) -> dict:
    """Open, pend, snooze (until a time) or resolve a conversation; a new customer message reopens it."""
    if status is None:
        raise Refused("status_required", "status is required", 422)
    if status == "snoozed" and not snooze_until_ms:
        raise Refused("snooze_until_required", "snoozing needs snoozeUntilMs", 422)
    conversation = for_staff(caller, conversation_id)
    change = status_change(caller, conversation_id, conversation, status, snooze_until_ms)
    # Written, counted by the reports, and a resolution's survey queued (shared/csat.py).
    apply_changes(caller, [change], {conversation_id: str(conversation.get("channel") or "")})
    assignee = conversation.get("assigneeId")
    was_open = conversation.get("status", "open") in store.OPEN_STATUSES
    if assignee and was_open and status not in store.OPEN_STATUSES:
        _capacity_freed(caller.tenant_id, assignee)
    if status == "snoozed" and snooze_until_ms:
        schedule_wake(caller.tenant_id, conversation_id, snooze_until_ms)
    return {"conversationId": conversation_id, "status": status}


def schedule_wake(tenant_id: str, conversation_id: str, until_ms: int, now_ms: int | None = None) -> bool:
    """Queue the wake-up of a conversation snoozed until ``until_ms`` (or a hop towards it)."""
    from shared import tasks

    deliver_url = settings().deliver_url
    if not deliver_url:
        raise TransientError("SWITCHBOARD_DELIVER_URL is not configured")
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    at_ms = min(until_ms, now_ms + MAX_SCHEDULE_MS)
    return tasks.enqueue(
        tasks.queue_name(TIMERS_QUEUE),
        ids.doc_id("wake", tenant_id, conversation_id, str(until_ms), str(at_ms)),
        deliver_url,
        {
            "action": "wake",
            "tenantId": tenant_id,
            "conversationId": conversation_id,
            "snoozeUntilMs": until_ms,
        },
        datetime.fromtimestamp(at_ms / 1000, UTC),
    )


def wake(tenant_id: str, conversation_id: str, until_ms: int) -> str:
    """Reopen a conversation whose snooze ended; what happened, for deliver's log."""
    now_ms = int(time.time() * 1000)
    if until_ms > now_ms + 1000:
        schedule_wake(tenant_id, conversation_id, until_ms, now_ms)  # a long snooze: the next hop
        return "wake-rescheduled"
    for _ in range(WAKE_RETRIES):
        current = store.get_conversation_versioned(tenant_id, conversation_id)
        if not current.exists:
            return "no-conversation"
        if current.data.get("status") != "snoozed" or current.data.get("snoozeUntilMs") != until_ms:
            return "wake-not-needed"  # reopened, resolved or snoozed again meanwhile
        change = {
            "status": "open",
            "snoozeUntilMs": None,
            "statusChangedBy": "snooze",
            "statusChangedAt": store.server_time(),
            "updatedAt": store.server_time(),
            "lastActivityAtMs": store.maximum(now_ms),  # back on top of the inbox
        }
        if store.update_conversation_if(tenant_id, conversation_id, change, current.update_time):
            return "woke"
    raise TransientError("the conversation kept changing while waking it: retry")
