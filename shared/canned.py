"""Canned replies: saved answers an agent inserts by typing ``/`` in the composer (issue 17, part 2).

``tenants/{t}/cannedReplies/{id}`` ``{shortcut, title, body, scope, ownerId?, updatedAt, updatedBy}``:

- ``scope: "tenant"``: shared by every agent of the tenant; created, edited and deleted by admins
  (``auth.Caller.role == "admin"``) only;
- ``scope: "personal"``: one agent's own (``ownerId``), written by that agent only, read by nobody
  else (admins included: personal means personal).

Agents read them live from Firestore (the security rules allow a tenant's shared ones and one's own
personal ones, never writes); every change goes through agent_api's ``list_canned`` /
``save_canned`` / ``delete_canned``, here. A shortcut is unique within its scope (the tenant's
shared replies; one agent's personal ones), so ``/shortcut`` names one reply of each at most.

Variables such as ``{{contact.name}}`` stay in the stored body: the dashboard fills them in when the
reply is inserted, from what it shows (web/src/lib/cannedVariables.ts lists them); the server
never fills or blanks them.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from shared import auth, store
from shared.auth import Caller
from shared.errors import Refused

SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_TITLE = 200
MAX_BODY = 4096


def _visible(caller: Caller, data: dict[str, Any]) -> bool:
    return data.get("scope") == "tenant" or (
        data.get("scope") == "personal" and data.get("ownerId") == caller.uid
    )


def _may_write(caller: Caller, scope: str, owner_id: str | None) -> bool:
    if scope == "tenant":
        return auth.is_admin(caller)
    return owner_id == caller.uid


def _public(reply_id: str, data: dict[str, Any]) -> dict[str, Any]:
    updated = data.get("updatedAt")
    return {
        "id": reply_id,
        "shortcut": data.get("shortcut"),
        "title": data.get("title"),
        "body": data.get("body"),
        "scope": data.get("scope"),
        "ownerId": data.get("ownerId"),
        "updatedAtMs": int(updated.timestamp() * 1000) if hasattr(updated, "timestamp") else None,
    }


def list_canned(caller: Caller) -> dict[str, Any]:
    """The caller's tenant's shared replies and the caller's personal ones, by shortcut."""
    rows = store.list_canned_replies(caller.tenant_id, caller.uid)
    return {"cannedReplies": [_public(reply_id, data) for reply_id, data in rows if _visible(caller, data)]}


def save_canned(
    caller: Caller,
    reply_id: str | None,
    shortcut: str | None,
    title: str | None,
    body: str | None,
    scope: str | None,
) -> dict[str, Any]:
    """Create (``reply_id`` None) or replace a canned reply the caller may write; answer it."""
    shortcut = (shortcut or "").strip().lstrip("/").lower()
    title = (title or "").strip()
    body = body or ""
    if not SHORTCUT.match(shortcut):
        raise Refused(
            "invalid_shortcut", "a shortcut is 1-32 lower-case letters, digits, - or _ (no spaces)", 422
        )
    if not title or len(title) > MAX_TITLE:
        raise Refused("invalid_title", f"a canned reply needs a title of at most {MAX_TITLE} characters", 422)
    if not body.strip() or len(body) > MAX_BODY:
        raise Refused("invalid_body", f"a canned reply needs a body of at most {MAX_BODY} characters", 422)
    scope = scope or "personal"
    owner_id = caller.uid if scope == "personal" else None
    if not _may_write(caller, scope, owner_id):
        raise Refused("forbidden", "only admins manage the team's canned replies", 403)
    if reply_id is not None:
        existing = store.get_canned_reply(caller.tenant_id, reply_id)
        if existing is None or not _visible(caller, existing):
            raise Refused("not_found", "no such canned reply", 404)
        if not _may_write(caller, str(existing.get("scope")), existing.get("ownerId")):
            raise Refused("forbidden", "only admins manage the team's canned replies", 403)
    for other_id, other in store.list_canned_replies(caller.tenant_id, caller.uid):
        if (
            other_id != reply_id
            and other.get("shortcut") == shortcut
            and other.get("scope") == scope
            and _visible(caller, other)
        ):
            raise Refused("shortcut_taken", f"/{shortcut} is already a {scope} canned reply", 409)
    reply_id = reply_id or uuid.uuid4().hex[:20]
    data: dict[str, Any] = {
        "shortcut": shortcut,
        "title": title,
        "body": body,
        "scope": scope,
        "updatedBy": caller.uid,
    }
    if owner_id is not None:
        data["ownerId"] = owner_id
    store.put_canned_reply(caller.tenant_id, reply_id, data)
    return {"cannedReply": _public(reply_id, {**data, "updatedAt": None})}


def delete_canned(caller: Caller, reply_id: str | None) -> dict[str, Any]:
    """Delete a canned reply the caller may write."""
    if reply_id is None:
        raise Refused("invalid_request", "delete_canned needs cannedReplyId")
    existing = store.get_canned_reply(caller.tenant_id, reply_id)
    if existing is None or not _visible(caller, existing):
        raise Refused("not_found", "no such canned reply", 404)
    if not _may_write(caller, str(existing.get("scope")), existing.get("ownerId")):
        raise Refused("forbidden", "only admins manage the team's canned replies", 403)
    store.delete_canned_reply(caller.tenant_id, reply_id)
    return {"deleted": reply_id}


def agent_action(caller: Caller, action: str, fields: dict[str, Any]) -> dict[str, Any]:
    """agent_api's canned-reply actions: ``list_canned``, ``save_canned``, ``delete_canned``."""
    if action == "list_canned":
        return list_canned(caller)
    if action == "save_canned":
        return save_canned(
            caller,
            fields.get("cannedReplyId"),
            fields.get("shortcut"),
            fields.get("title"),
            fields.get("body"),
            fields.get("scope"),
        )
    return delete_canned(caller, fields.get("cannedReplyId"))
