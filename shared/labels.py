"""Labels: a tenant's set of labels (name, colour), managed by its admins, and the labels on each
support conversation (``labels: [labelId]``), added and removed by any agent.

- ``create_label`` / ``update_label`` / ``delete_label`` (admins only: ``Caller.role == "admin"``).
  Names are unique per tenant (case-insensitive), at most :data:`MAX_LABELS` labels a tenant.
  Deleting removes the label's document at once (dashboards ignore ids they do not know, so it
  disappears from every row live) and then the id from every conversation carrying it, one batch of
  400 at a time, in the same request (``store.strip_label``); a request that dies midway leaves
  harmless ids behind, and deleting the same label again finishes the job.
- ``set_labels`` {add, remove}: ``ArrayUnion`` / ``ArrayRemove``, so two agents changing labels at
  once both land; at most :data:`MAX_LABELS_PER_CONVERSATION` on a conversation (checked against
  the conversation as read: two concurrent requests may together pass it by their own additions).
  One activity line per request lists what was added and removed; nothing changes, nothing written.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Any

from shared import activity, auth, conversations, store
from shared.auth import Caller
from shared.errors import Refused
from shared.reports import fold as reports_fold

MAX_LABELS = 100
MAX_LABELS_PER_CONVERSATION = 10
MAX_NAME = 40
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLOR = "#64748b"


def _require_admin(caller: Caller) -> None:
    if not auth.is_admin(caller):
        raise Refused("admin_only", "only an admin of this workspace can manage labels", 403)


def _label_id(label_id: str | None) -> str:
    if not label_id:
        raise Refused("invalid_request", "this action needs labelId", 422)
    return label_id


def _clean_name(name: str | None) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise Refused("label_name_required", "a label needs a name", 422)
    if len(cleaned) > MAX_NAME:
        raise Refused("label_name_too_long", f"a label's name has at most {MAX_NAME} characters", 422)
    return cleaned


def _clean_color(color: str | None) -> str:
    if color is None:
        return DEFAULT_COLOR
    if not COLOR.match(color):
        raise Refused("invalid_color", "a label's colour is #RRGGBB", 422)
    return color.lower()


def _name_taken(labels: dict[str, dict[str, Any]], name: str, except_id: str | None = None) -> bool:
    folded = name.casefold()
    return any(
        str(label.get("name", "")).casefold() == folded for lid, label in labels.items() if lid != except_id
    )


def create_label(caller: Caller, name: str | None, color: str | None) -> dict[str, Any]:
    """A new label in the caller's tenant: {labelId, name, color}."""
    _require_admin(caller)
    name, color = _clean_name(name), _clean_color(color)
    labels = store.list_labels(caller.tenant_id)
    if len(labels) >= MAX_LABELS:
        raise Refused("too_many_labels", f"a workspace has at most {MAX_LABELS} labels", 422)
    if _name_taken(labels, name):
        raise Refused("label_exists", f"there is a label named “{name}” already", 409)
    label_id = f"lb{uuid.uuid4().hex[:16]}"
    store.create_label(
        caller.tenant_id,
        label_id,
        {"name": name, "color": color, "createdAt": store.server_time(), "createdBy": caller.uid},
    )
    return {"labelId": label_id, "name": name, "color": color}


def update_label(caller: Caller, label_id: str | None, name: str | None, color: str | None) -> dict[str, Any]:
    """Rename or recolour a label (conversations carry its id: nothing else changes)."""
    _require_admin(caller)
    label_id = _label_id(label_id)
    labels = store.list_labels(caller.tenant_id)
    if label_id not in labels:
        raise Refused("label_not_found", "no such label", 404)
    update: dict[str, Any] = {"updatedAt": store.server_time()}
    if name is not None:
        update["name"] = _clean_name(name)
        if _name_taken(labels, update["name"], except_id=label_id):
            raise Refused("label_exists", f"there is a label named “{update['name']}” already", 409)
    if color is not None:
        update["color"] = _clean_color(color)
    if not store.update_label(caller.tenant_id, label_id, update):
        raise Refused("label_not_found", "no such label", 404)
    current = {**labels[label_id], **update}
    return {"labelId": label_id, "name": current.get("name"), "color": current.get("color")}


def delete_label(caller: Caller, label_id: str | None) -> dict[str, Any]:
    """Delete a label and take it off every conversation; idempotent (see the module's docstring)."""
    _require_admin(caller)
    label_id = _label_id(label_id)
    store.delete_label(caller.tenant_id, label_id)
    stripped = store.strip_label(caller.tenant_id, label_id)
    return {"labelId": label_id, "deleted": True, "conversationsChanged": stripped}


def labels_change(
    caller: Caller,
    conversation_id: str,
    conversation: dict[str, Any],
    add: list[str],
    remove: list[str],
    known: dict[str, dict[str, Any]],
) -> store.ConversationChange | None:
    """The change that adds and removes labels on a conversation, with its activity line; None if
    it would change nothing. Labels added must exist in the tenant (``known``); any id may be removed
    (a deleted label's leftovers)."""
    unknown = [label for label in add if label not in known]
    if unknown:
        raise Refused("label_not_found", f"no such label: {', '.join(unknown)}", 404)
    current = [label for label in conversation.get("labels") or [] if isinstance(label, str)]
    removing = [label for label in dict.fromkeys(remove) if label in current]
    adding = [label for label in dict.fromkeys(add) if label not in current and label not in removing]
    if not adding and not removing:
        return None
    after = len(set(current) - set(removing)) + len(adding)
    if adding and after > MAX_LABELS_PER_CONVERSATION:
        raise Refused(
            "too_many_labels",
            f"a conversation carries at most {MAX_LABELS_PER_CONVERSATION} labels",
            422,
        )
    update: dict[str, Any] = {"updatedAt": store.server_time()}
    update["labels"] = store.array_remove(removing) if removing else store.array_union(adding)
    change = activity.change(
        caller,
        conversation_id,
        update,
        "labels",
        added=_named(adding, known),
        removed=_named(removing, known),
    )
    if removing and adding:  # one transform per field and write: the additions in a second write
        return dataclasses.replace(change, then={"labels": store.array_union(adding)})
    return change


def _named(label_ids: list[str], known: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    return [{"id": i, "name": str((known.get(i) or {}).get("name") or "a deleted label")} for i in label_ids]


def set_labels(caller: Caller, conversation_id: str, add: list[str], remove: list[str]) -> dict[str, Any]:
    """Add and remove labels on one conversation: {conversationId, added, removed}."""
    conversation = conversations.for_staff(caller, conversation_id)
    known = store.list_labels(caller.tenant_id)
    change = labels_change(caller, conversation_id, conversation, add, remove, known)
    if change is not None:
        store.apply_conversation_changes(caller.tenant_id, [change])
        reports_fold.schedule_quietly(caller.tenant_id)
    activity_doc = change.activity if change else None
    details = (activity_doc or {}).get("activity") or {}
    return {
        "conversationId": conversation_id,
        "added": [label["id"] for label in details.get("added", [])],
        "removed": [label["id"] for label in details.get("removed", [])],
    }
