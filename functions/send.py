"""``send_message`` and ``agent_api``: what the agents' dashboard calls (Firebase ID token required).

Browsers never write Firestore: every change an agent makes goes through here and is validated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.http import Response, body_limit, serve
from shared import actions, auth, bulk, canned, conversations, labels, outbox, search, store, templates
from shared.errors import Refused

if TYPE_CHECKING:  # pragma: no cover
    import flask


def send_message(request: flask.Request) -> Response:
    """POST {conversationId, clientMessageId, message, useHumanAgentTag?} -> {messageId, status}."""

    def handle(req: flask.Request, body: bytes) -> dict[str, Any]:
        _libraries()
        caller = auth.verify(req.headers.get("Authorization"))
        return outbox.compose(caller, outbox.ComposeRequest.model_validate_json(body))

    return serve(request, handle, body_limit("send_message"))


def _libraries() -> None:
    """Firestore's and firebase-admin's libraries, imported once under a lock before any handler
    code (functions-framework serves concurrent first requests on threads)."""
    store.load_library()
    auth.load_library()


class AgentAction(BaseModel):
    """One conversation change requested by an agent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal[
        "assign",
        "set_status",
        "mark_read",
        "mediaUrl",
        "uploadUrl",
        # the team inbox (shared/labels.py, shared/bulk.py)
        "create_label",
        "update_label",
        "delete_label",
        "set_labels",
        "bulk",
        # canned replies, WhatsApp templates, typing (issue 17: shared/canned.py, shared/templates.py,
        # shared/outbox/typing.py)
        "list_canned",
        "save_canned",
        "delete_canned",
        "list_templates",
        "typing",
        # search and the timeline (shared/search/)
        "search",
        "timeline",
    ]
    # Every action but the label set's (create/update/delete_label), bulk, the canned replies',
    # search and timeline names one conversation.
    conversationId: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    assigneeId: str | None = Field(default=None, max_length=128)
    status: Literal["open", "pending", "snoozed", "resolved"] | None = None
    snoozeUntilMs: int | None = Field(default=None, ge=0)
    # mediaUrl: one file of one message; uploadUrl: a new file (shared/media/access.py)
    messageId: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    index: int = Field(default=0, ge=0, le=99)
    variant: Literal["original", "thumbnail"] = "original"
    fileName: str | None = Field(default=None, min_length=1, max_length=255)
    contentType: str | None = Field(default=None, min_length=3, max_length=255)
    size: int | None = Field(default=None, ge=0)
    # Labels and bulk actions (issue 17): set_labels {conversationId, add, remove}; create_label
    # {name, color}; update_label {labelId, name?, color?}; delete_label {labelId}; bulk
    # {conversationIds, op: assign|label|status, assigneeId | add/remove | status}.
    labelId: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    name: str | None = Field(default=None, max_length=200)
    color: str | None = Field(default=None, max_length=16)
    add: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=20)
    remove: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=20)
    conversationIds: list[Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]] = (
        Field(default_factory=list, max_length=1000)  # bulk.MAX_BULK refuses > 100, naming it
    )
    op: Literal["assign", "label", "status"] | None = None

    # Canned replies (shared/canned.py validates them): save_canned {cannedReplyId?, shortcut, title,
    # body, scope}; delete_canned {cannedReplyId}. list_templates {conversationId, refresh}.
    cannedReplyId: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    shortcut: str | None = Field(default=None, max_length=64)
    title: str | None = Field(default=None, max_length=200)
    body: str | None = Field(default=None, max_length=4096)
    scope: Literal["tenant", "personal"] | None = None
    refresh: bool = False

    # search and timeline (shared/search/engine.py validates these further): search takes query,
    # channel, status, label, assigneeId, direction, fromMs, toMs, cursor, pageSize; timeline fromMs,
    # toMs, order, types, channels, directions, pageSize, cursor.
    query: str | None = Field(default=None, max_length=200)
    channel: str | None = Field(default=None, max_length=64)
    label: str | None = Field(default=None, max_length=128)
    direction: str | None = Field(default=None, max_length=16)
    fromMs: int | None = Field(default=None, ge=0)
    toMs: int | None = Field(default=None, ge=0)
    order: Literal["newest", "oldest"] | None = None
    types: list[str] | None = Field(default=None, max_length=30)
    channels: list[str] | None = Field(default=None, max_length=30)
    directions: list[str] | None = Field(default=None, max_length=4)
    pageSize: int | None = Field(default=None, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2000)

    def bulk_fields(self) -> dict[str, Any]:
        """What a bulk operation takes besides the ids and op."""
        return {"assignee_id": self.assigneeId, "status": self.status, "add": self.add, "remove": self.remove}


def agent_api(request: flask.Request) -> Response:
    """POST {action: assign|set_status|mark_read, conversationId, ...} -> the conversation's new state;
    {action: search, query, ...} / {action: timeline, fromMs, toMs, ...} -> results (shared/search/);
    {action: mediaUrl, conversationId, messageId, index, variant} or {action: uploadUrl,
    conversationId, fileName, contentType, size} -> a signed URL (shared/media/access.py); labels
    (create_label, update_label, delete_label: admins; set_labels) and bulk (shared/bulk.py);
    {action: list_canned|save_canned|delete_canned, ...} -> canned replies (shared/canned.py);
    {action: list_templates, conversationId, refresh} -> the channel's templates (shared/templates.py);
    {action: typing, conversationId} -> {typing: queued|throttled|unsupported} (shared/outbox/typing.py);
    the actions listed in shared/actions.py (the admin console, the audit log...) -> their module."""

    def handle(req: flask.Request, body: bytes) -> dict[str, Any]:
        _libraries()
        public = actions.named(body, actions.PUBLIC_ACTIONS)
        if public is not None:  # an invitation's link: its token is the credential
            return actions.dispatch_public(public, body)
        caller = auth.verify(req.headers.get("Authorization"))
        named = actions.named(body)
        if named is not None:
            return actions.dispatch(caller, named, body)
        action = AgentAction.model_validate_json(body)
        if action.action == "create_label":
            return labels.create_label(caller, action.name, action.color)
        if action.action == "update_label":
            return labels.update_label(caller, action.labelId, action.name, action.color)
        if action.action == "delete_label":
            return labels.delete_label(caller, action.labelId)
        if action.action == "bulk":
            return bulk.run(caller, action.conversationIds, action.op, **action.bulk_fields())
        if action.action in ("list_canned", "save_canned", "delete_canned"):
            return canned.agent_action(caller, action.action, action.model_dump(exclude_none=True))
        if action.action in ("search", "timeline"):
            return search.agent_action(caller, action.action, action.model_dump(exclude_none=True))
        if action.conversationId is None:
            raise Refused("invalid_request", f"{action.action} needs conversationId", 400)
        conversation_id = action.conversationId
        if action.action == "set_labels":
            return labels.set_labels(caller, conversation_id, action.add, action.remove)
        if action.action == "list_templates":
            return templates.for_conversation(caller, conversation_id, refresh=action.refresh)
        if action.action == "typing":
            return outbox.signal_typing(caller, conversation_id)
        if action.action == "mark_read":
            return outbox.mark_read(caller, conversation_id)
        if action.action in ("mediaUrl", "uploadUrl"):
            return _media(caller, action, conversation_id)
        if action.action == "assign":
            return conversations.assign(caller, conversation_id, action.assigneeId)
        return conversations.set_status(caller, conversation_id, action.status, action.snoozeUntilMs)

    return serve(request, handle, body_limit("agent_api"))


def _media(caller: auth.Caller, action: AgentAction, conversation_id: str) -> dict[str, Any]:
    """Signed media URLs for staff of the conversation's tenant, support conversations only."""
    from shared.media import access

    conversations.for_staff(caller, conversation_id)
    if action.action == "mediaUrl":
        if action.messageId is None:
            raise Refused("invalid_request", "mediaUrl needs messageId")
        return access.media_url(
            caller.tenant_id, conversation_id, action.messageId, action.index, action.variant
        )
    if action.fileName is None or action.contentType is None or action.size is None:
        raise Refused("invalid_request", "uploadUrl needs fileName, contentType and size")
    return access.upload_url(caller.tenant_id, caller.uid, action.fileName, action.contentType, action.size)
