"""Agents acting on conversations: assignment and status (open, pending, snoozed, resolved)."""

from __future__ import annotations

from typing import Any

from shared import store
from shared.auth import Caller
from shared.errors import PermanentError


class ConversationError(PermanentError):
    """A conversation change that cannot be made; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str, http_status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status


def _existing(caller: Caller, conversation_id: str) -> dict[str, Any]:
    conversation = store.get_conversation(caller.tenant_id, conversation_id)
    if conversation is None:
        raise ConversationError("conversation_not_found", "no such conversation", 404)
    return conversation


def assign(caller: Caller, conversation_id: str, assignee_id: str | None) -> dict[str, Any]:
    """Assign a conversation to an agent of the same tenant (None unassigns)."""
    _existing(caller, conversation_id)
    if assignee_id is not None and store.get_agent(caller.tenant_id, assignee_id) is None:
        raise ConversationError("unknown_agent", "that agent does not belong to this workspace")
    store.update_conversation(
        caller.tenant_id,
        conversation_id,
        {
            "assigneeId": assignee_id,
            "assignedBy": caller.uid,
            "assignedAt": store.server_time(),
            "updatedAt": store.server_time(),
        },
    )
    return {"conversationId": conversation_id, "assigneeId": assignee_id}


def set_status(caller: Caller, conversation_id: str, status: str | None, snooze_until_ms: int | None) -> dict:
    """Open, pend, snooze (until a time) or resolve a conversation; a new customer message reopens it."""
    if status is None:
        raise ConversationError("status_required", "status is required")
    if status == "snoozed" and not snooze_until_ms:
        raise ConversationError("snooze_until_required", "snoozing needs snoozeUntilMs")
    _existing(caller, conversation_id)
    update: dict[str, Any] = {
        "status": status,
        "statusChangedBy": caller.uid,
        "statusChangedAt": store.server_time(),
        "updatedAt": store.server_time(),
        "snoozeUntilMs": snooze_until_ms if status == "snoozed" else None,
    }
    store.update_conversation(caller.tenant_id, conversation_id, update)
    return {"conversationId": conversation_id, "status": status}
