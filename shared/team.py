"""The team: inviting staff, changing their roles, deactivating and reactivating them (issue 18,
parts 1, 2 and 8). One implementation per action: the admin console (agent_api, through
shared/actions.py) and the operator CLI (``python -m shared.cli``) both call these functions, and
each records one audit entry once it has succeeded.

- :func:`invite` stores an invitation (``invitations/{sha256(token)}``, 7 days) and e-mails its link,
  ``<dashboard>/#/invite/<token>``; the token itself is stored nowhere. :func:`accept` (no sign-in:
  the token is the credential) creates the Firebase account with the password the invitee chose,
  through :func:`shared.auth.invite` (which never hands claims to an account someone else set up
  first), and the directory entry; the invitee then signs in.
- :func:`add_member` is the CLI's direct path (a password from stdin, no e-mail).
- :func:`set_role` changes the Firestore role and the Auth claims and ends the member's sessions.
- :func:`deactivate` marks them inactive, disables the Auth account and revokes its tokens (every
  function refuses their ID tokens at once; the open dashboard signs itself out when it sees its
  directory entry go inactive) and returns their open conversations to the queue (unassigned, with
  an activity line each, through shared/bulk.py and shared/conversations.py); :func:`reactivate`
  undoes the first two.

Who may do what: owners and admins run the team; only an owner grants, removes, deactivates or
reactivates the owner role; nobody, not even an owner, removes the workspace's last active owner
(checked in the same transaction as the write); nobody deactivates themselves. ``developer`` is
granted only in an app's workspace (``kind: app``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared import audit, auth, bulk, mail, store
from shared.auth import Caller
from shared.config import settings
from shared.errors import Forbidden, Refused

INVITATION_DAYS = 7
MIN_PASSWORD_LENGTH = 8
MAX_UNASSIGN_PAGES = 50  # x store.ASSIGNED_PAGE conversations returned to the queue per deactivation
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
Role = Literal["owner", "admin", "agent", "developer"]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _target(uid: str, agent: dict[str, Any] | None) -> dict[str, Any]:
    agent = agent or {}
    return {"kind": "agent", "id": uid, "name": agent.get("name") or agent.get("email") or uid}


def _check_grant(caller: Caller, role: str, what: str) -> None:
    """The caller may run the team and grant ``role`` in their workspace."""
    auth.require_admin(caller, what)
    if role not in auth.STAFF_ROLES:
        raise Refused("invalid_role", f"role must be one of {', '.join(auth.STAFF_ROLES)}", 400)
    if role == "owner" and not auth.is_owner(caller):
        raise Forbidden("only an owner can make someone an owner")
    if role == "developer" and (store.get_tenant(caller.tenant_id) or {}).get("kind") != "app":
        raise Refused("invalid_role", "developer is a role of an app's workspace (the chat API) only", 400)


def _refuse(outcome: str) -> None:
    if outcome == store.MISSING:
        raise Refused("agent_not_found", "no such member of this workspace", 404)
    if outcome == store.LAST_OWNER:
        raise Refused(
            "last_owner",
            "this is the workspace's last owner: make someone else an owner first",
            409,
        )
    if outcome == store.OWNER_ONLY:
        raise Forbidden("only an owner can change an owner, or make someone one")


# --- invitations ---------------------------------------------------------------------------------


def invitation_link(token: str) -> str:
    """Where the invitee signs up: the dashboard's invitation page."""
    config = settings()
    base = config.dashboard_url or f"https://{config.project_id}.web.app"
    return f"{base}/#/invite/{token}"


def invite(caller: Caller, email: str, name: str, role: str) -> dict[str, Any]:
    """Invite ``email`` to the caller's workspace as ``role``: an invitation and its e-mail."""
    _check_grant(caller, role, "inviting people")
    email, name = email.strip().lower(), name.strip()
    if not EMAIL.match(email):
        raise Refused("invalid_email", f"not an e-mail address: {email!r}", 400)
    if any((a.get("email") or "").lower() == email for _, a in store.list_agents(caller.tenant_id)):
        raise Refused(
            "already_member",
            f"{email} is already a member of this workspace (reactivate them, or change their role)",
            409,
        )
    token = secrets.token_urlsafe(32)
    invitation_id = _digest(token)
    now = _now_ms()
    expires = now + INVITATION_DAYS * 86_400_000
    tenant = store.get_tenant(caller.tenant_id) or {}
    workspace = str(tenant.get("name") or caller.tenant_id)
    store.create_invitation(
        invitation_id,
        {
            "tenantId": caller.tenant_id,
            "tenantName": workspace,
            "email": email,
            "name": name,
            "role": role,
            "invitedBy": caller.uid,
            "invitedByName": caller.name or caller.email or caller.uid,
            "createdAtMs": now,
            "expiresAtMs": expires,
            "status": "pending",
        },
    )
    inviter = caller.name or caller.email or "An admin"
    mail.send(
        email,
        f"{inviter} invited you to {workspace} on Switchboard",
        f"Hello{' ' + name if name else ''},\n\n{inviter} invited you to join {workspace} on Switchboard "
        f"as {'an' if role[0] in 'aeiou' else 'a'} {role}.\n\nChoose your password and sign in here (the "
        f"link works once, for {INVITATION_DAYS} days):\n\n{invitation_link(token)}\n",
    )
    audit.record(
        caller,
        "agent.invite",
        {"kind": "invitation", "id": invitation_id, "name": email},
        after={"email": email, "role": role},
    )
    return {"invitationId": invitation_id, "email": email, "name": name, "role": role, "expiresAtMs": expires}


def _pending(token: str) -> tuple[str, dict[str, Any]]:
    invitation_id = _digest(token)
    invitation = store.get_invitation(invitation_id)
    if (
        invitation is None
        or invitation.get("status") != "pending"
        or int(invitation.get("expiresAtMs") or 0) <= _now_ms()
    ):
        raise Refused(
            "invitation_invalid",
            "this invitation link is not valid any more (used, withdrawn or expired): ask for a new one",
            404,
        )
    return invitation_id, invitation


def describe(token: str) -> dict[str, Any]:
    """What the invitation page shows before the invitee signs up."""
    _, invitation = _pending(token)
    return {
        "email": invitation["email"],
        "name": invitation.get("name") or "",
        "role": invitation["role"],
        "workspace": invitation.get("tenantName") or invitation["tenantId"],
        "invitedBy": invitation.get("invitedByName") or "",
    }


def accept(token: str, password: str, name: str | None = None) -> dict[str, Any]:
    """Create the invitee's account (the password they chose) and directory entry; the invitation
    is used up. They sign in with the address and password afterwards."""
    invitation_id, invitation = _pending(token)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Refused("weak_password", f"choose a password of at least {MIN_PASSWORD_LENGTH} characters", 400)
    tenant_id, email, role = invitation["tenantId"], invitation["email"], invitation["role"]
    display = (name or "").strip() or invitation.get("name") or email.split("@")[0]
    uid = auth.invite(email, password, tenant_id, role, display)
    store.put_agent(tenant_id, uid, {"name": display, "email": email, "role": role, "active": True})
    store.finish_invitation(
        invitation_id, {"status": "accepted", "acceptedUid": uid, "acceptedAtMs": _now_ms()}
    )
    return {"email": email, "uid": uid, "role": role}


def revoke_invitation(caller: Caller, invitation_id: str) -> dict[str, Any]:
    """Withdraw a pending invitation of the caller's workspace: its link stops working."""
    auth.require_admin(caller, "withdrawing invitations")
    invitation = store.get_invitation(invitation_id)
    if invitation is None or invitation.get("tenantId") != caller.tenant_id:
        raise Refused("invitation_not_found", "no such invitation", 404)
    if not store.finish_invitation(
        invitation_id, {"status": "revoked", "revokedBy": caller.uid, "revokedAtMs": _now_ms()}
    ):
        raise Refused("invitation_not_pending", "this invitation was already used or withdrawn", 409)
    audit.record(
        caller,
        "invitation.revoke",
        {"kind": "invitation", "id": invitation_id, "name": invitation.get("email")},
        before={"status": "pending"},
        after={"status": "revoked"},
    )
    return {"invitationId": invitation_id, "status": "revoked"}


def add_member(caller: Caller, email: str, name: str, role: str, password: str) -> dict[str, Any]:
    """The CLI's invitation: the account is created at once with a password the operator gives."""
    _check_grant(caller, role, "inviting people")
    email = email.strip().lower()
    uid = auth.invite(email, password, caller.tenant_id, role, name.strip())
    before = store.get_agent(caller.tenant_id, uid)
    entry = {"name": name.strip(), "email": email, "role": role, "active": True}
    store.put_agent(caller.tenant_id, uid, entry)
    audit.record(
        caller,
        "agent.invite",
        _target(uid, {"name": name.strip(), "email": email}),
        before={"role": before.get("role")} if before else None,
        after={"email": email, "role": role},
        details={"via": "password"},
    )
    return {"uid": uid, "email": email, "role": role}


# --- roles and deactivation ----------------------------------------------------------------------


def set_role(caller: Caller, uid: str, role: str) -> dict[str, Any]:
    """Give a member another role; their sessions end (they sign in again with it)."""
    _check_grant(caller, role, "changing roles")
    outcome, before = store.change_agent(
        caller.tenant_id, uid, {"role": role}, may_change_owners=auth.is_owner(caller)
    )
    _refuse(outcome)
    previous = (before or {}).get("role")
    if previous == role:
        return {"uid": uid, "role": role, "changed": False}
    auth.set_role(uid, caller.tenant_id, role)
    audit.record(caller, "agent.role", _target(uid, before), before=previous, after=role)
    return {"uid": uid, "role": role, "changed": True}


def deactivate(caller: Caller, uid: str) -> dict[str, Any]:
    """Deactivate a member: refused at once everywhere, their open conversations unassigned."""
    auth.require_admin(caller, "deactivating people")
    if uid == caller.uid:
        raise Refused("cannot_deactivate_self", "you cannot deactivate yourself", 409)
    outcome, before = store.change_agent(
        caller.tenant_id,
        uid,
        {"active": False, "deactivatedAtMs": _now_ms(), "deactivatedBy": caller.uid},
        may_change_owners=auth.is_owner(caller),
    )
    _refuse(outcome)
    auth.set_disabled(uid, True)
    unassigned = return_to_queue(caller, uid)
    if (before or {}).get("active", True) is not False:
        audit.record(
            caller,
            "agent.deactivate",
            _target(uid, before),
            before={"active": True},
            after={"active": False},
            details={"unassigned": unassigned},
        )
    return {"uid": uid, "active": False, "unassigned": unassigned}


def return_to_queue(caller: Caller, uid: str) -> int:
    """Unassign every open or snoozed conversation assigned to ``uid``, a page at a time (each with
    its activity line, as an agent's unassign writes it); the number unassigned."""
    done = 0
    for _ in range(MAX_UNASSIGN_PAGES):
        ids = store.assigned_open_conversations(caller.tenant_id, uid)
        if not ids:
            break
        result = bulk.run(caller, ids, "assign", assignee_id=None)
        done += int(result["succeeded"])
        if not result["succeeded"]:
            break
    return done


def reactivate(caller: Caller, uid: str) -> dict[str, Any]:
    """Let a deactivated member sign in again (with the role they had)."""
    auth.require_admin(caller, "reactivating people")
    outcome, before = store.change_agent(
        caller.tenant_id,
        uid,
        {"active": True, "deactivatedAtMs": None, "deactivatedBy": None},
        may_change_owners=auth.is_owner(caller),
    )
    _refuse(outcome)
    auth.set_disabled(uid, False)
    if (before or {}).get("active", True) is False:
        audit.record(
            caller, "agent.reactivate", _target(uid, before), before={"active": False}, after={"active": True}
        )
    return {"uid": uid, "active": True}


def members(caller: Caller) -> dict[str, Any]:
    """The team page's data: every member (deactivated ones too) and the pending invitations."""
    auth.require_admin(caller, "managing the team")
    people = [
        {
            "uid": uid,
            "name": agent.get("name") or "",
            "email": agent.get("email") or "",
            "role": agent.get("role") or "agent",
            "active": agent.get("active", True) is not False,
        }
        for uid, agent in store.list_agents(caller.tenant_id)
    ]
    invitations = [
        {
            "invitationId": invitation_id,
            "email": invitation.get("email"),
            "name": invitation.get("name") or "",
            "role": invitation.get("role"),
            "invitedByName": invitation.get("invitedByName") or "",
            "expiresAtMs": invitation.get("expiresAtMs"),
        }
        for invitation_id, invitation in store.pending_invitations(caller.tenant_id)
        if int(invitation.get("expiresAtMs") or 0) > _now_ms()
    ]
    people.sort(key=lambda p: (not p["active"], str(p["name"]).lower()))
    return {"members": people, "invitations": invitations}


# --- agent_api (shared/actions.py) ----------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str


class InviteBody(_Body):
    email: str = Field(min_length=3, max_length=254)
    name: str = Field(default="", max_length=100)
    role: Role = "agent"


class RoleBody(_Body):
    uid: str = Field(min_length=1, max_length=128)
    role: Role


class MemberBody(_Body):
    uid: str = Field(min_length=1, max_length=128)


class InvitationBody(_Body):
    invitationId: str = Field(min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$")


class TokenBody(_Body):
    token: str = Field(min_length=20, max_length=100)


class AcceptBody(TokenBody):
    password: str = Field(min_length=1, max_length=4096)
    name: str | None = Field(default=None, max_length=100)


def agent_action(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``team``, ``invite_agent``, ``set_role``, ``deactivate_agent``,
    ``reactivate_agent``, ``revoke_invitation`` (owners and admins)."""
    action = body.get("action")
    if action == "team":
        _Body.model_validate(body)
        return members(caller)
    if action == "invite_agent":
        invitation = InviteBody.model_validate(body)
        return invite(caller, invitation.email, invitation.name, invitation.role)
    if action == "set_role":
        change = RoleBody.model_validate(body)
        return set_role(caller, change.uid, change.role)
    if action == "revoke_invitation":
        return revoke_invitation(caller, InvitationBody.model_validate(body).invitationId)
    member = MemberBody.model_validate(body)
    if action == "deactivate_agent":
        return deactivate(caller, member.uid)
    return reactivate(caller, member.uid)


def public_action(body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``invitation`` (what the link invites to) and ``accept_invitation``: no sign-in,
    the invitation's token is the credential."""
    if body.get("action") == "invitation":
        return describe(TokenBody.model_validate(body).token)
    request = AcceptBody.model_validate(body)
    return accept(request.token, request.password, request.name)
