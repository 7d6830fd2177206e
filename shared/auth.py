"""Who is calling: Firebase ID tokens for agents, verified with firebase-admin.

Staff sign in with Firebase Auth (the Auth emulator locally); their custom claims carry
``tenantId`` and ``role``, set when they are invited (the team page, ``python -m shared.cli
invite-agent``) and changed only through :mod:`shared.team`. The roles (issue 18):

- ``owner``: runs the workspace like an admin; only an owner grants or removes the owner role,
  and a workspace always keeps one active owner (whoever asks);
- ``admin``: runs the workspace (the admin console: team, channels, settings, audit log);
- ``agent``: works the inbox; no admin action, no audit log;
- ``developer``: builds an app of the chat product (an app tenant, ``kind: app``): the developer
  pages (the app's id, its key's prefix, the embed snippet) and the chat API's documentation, but
  not the support inbox, the app users' chats or the admin console (not in :data:`AGENT_ROLES`:
  agent_api refuses them);
- ``user``: an app's end user (the chat API; never staff).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from shared.config import settings
from shared.errors import Forbidden, InvitationRefused, PermanentError, Unauthenticated

if TYPE_CHECKING:  # pragma: no cover
    import firebase_admin

# Who works the support inbox (agent_api, send_message, the dashboard; verify's default).
AGENT_ROLES = ("owner", "admin", "agent")
# Who may run the workspace (labels, canned replies for the team, and the admin console's actions).
ADMIN_ROLES = ("owner", "admin")
# Every staff role a workspace member may hold (what an invitation or a role change may grant).
STAFF_ROLES = ("owner", "admin", "agent", "developer")


@dataclass(frozen=True)
class Caller:
    """An authenticated user and the tenant and role their token grants."""

    uid: str
    tenant_id: str
    role: str
    email: str | None = None
    name: str | None = None


_LIBRARY_LOCK = threading.Lock()
_library_loaded = False


def load_library() -> None:
    """Import firebase-admin's auth once, under a lock (see store.load_library: concurrent first
    imports on functions-framework's threads can meet a partially initialised module)."""
    global _library_loaded  # noqa: PLW0603 - a process-wide once flag
    if _library_loaded:
        return
    with _LIBRARY_LOCK:
        if not _library_loaded:
            import firebase_admin.auth  # noqa: F401

            _library_loaded = True


@cache
def app() -> firebase_admin.App:
    """The firebase-admin app (honours FIREBASE_AUTH_EMULATOR_HOST), created on first use."""
    import firebase_admin

    return firebase_admin.initialize_app(options={"projectId": settings().project_id}, name="switchboard")


def verify(authorization: str | None, roles: tuple[str, ...] = AGENT_ROLES) -> Caller:
    """The caller behind an ``Authorization: Bearer <ID token>`` header, or Unauthenticated/Forbidden.

    Staff tokens are checked against revocation and disabled accounts (one Auth lookup): a session
    whose refresh tokens were revoked when its claims changed, or a deactivated agent, is refused at
    once rather than when its ID token expires. App users' tokens (``roles=("user",)``) skip that
    lookup: they are minted only from the app's custom tokens, and every chat operation checks
    membership in Firestore anyway."""
    from firebase_admin import auth

    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthenticated("an ID token is required: Authorization: Bearer <token>")
    token = authorization.removeprefix("Bearer ").strip()
    check_revoked = "user" not in roles
    try:
        claims: dict[str, Any] = auth.verify_id_token(token, app=app(), check_revoked=check_revoked)
    except (
        ValueError,
        auth.InvalidIdTokenError,
        auth.ExpiredIdTokenError,
        auth.RevokedIdTokenError,
        auth.UserDisabledError,
        auth.UserNotFoundError,
    ) as exc:
        raise Unauthenticated(f"invalid ID token: {type(exc).__name__}") from exc
    except auth.CertificateFetchError as exc:  # pragma: no cover - production network only
        from shared.errors import TransientError

        raise TransientError("could not fetch token certificates") from exc
    tenant_id, role = claims.get("tenantId"), claims.get("role")
    if not tenant_id or role not in roles:
        raise Forbidden("this account has no access here (tenantId/role claims)")
    return Caller(
        uid=claims["uid"],
        tenant_id=str(tenant_id),
        role=str(role),
        email=claims.get("email"),
        name=claims.get("name"),
    )


def is_admin(caller: Caller) -> bool:
    """Whether the caller may run the workspace (an owner or an admin)."""
    return caller.role in ADMIN_ROLES


def require_admin(caller: Caller, what: str = "this") -> None:
    """Forbidden unless the caller is an owner or an admin."""
    if not is_admin(caller):
        raise Forbidden(f"only an admin can do {what}")


def is_owner(caller: Caller) -> bool:
    """Whether the caller owns the workspace."""
    return caller.role == "owner"


def invite(email: str, password: str, tenant_id: str, role: str, name: str | None = None) -> str:
    """Give ``email`` a sign-in with ``tenantId``/``role`` claims; return its uid.

    Claims never reach a session the invitee did not start after the invitation:

    - an account that already existed without a tenant (someone signed the address up first,
      perhaps to wait for the claims) is deleted and created anew: its uid, refresh tokens and
      ID tokens die with it;
    - a member of this tenant invited again gets the new password, which ends their sessions
      (Firebase revokes on a password change), and a role change revokes their refresh tokens
      too, so they sign in again to act with the new role (the functions check revocation);
    - an account of another tenant is refused (:class:`InvitationRefused`).
    """
    from firebase_admin import auth

    if role not in (*STAFF_ROLES, "user"):
        raise PermanentError(f"unknown role {role}")
    try:
        existing = auth.get_user_by_email(email, app=app())
    except auth.UserNotFoundError:
        existing = None
    held = (existing.custom_claims or {}) if existing is not None else {}
    if existing is not None and held.get("tenantId") not in (None, tenant_id):
        raise InvitationRefused(f"{email} already belongs to another workspace: invite another address")
    if existing is not None and held.get("tenantId") == tenant_id:
        auth.update_user(existing.uid, password=password, display_name=name, app=app())
        if held.get("role") != role:
            auth.set_custom_user_claims(existing.uid, {"tenantId": tenant_id, "role": role}, app=app())
            auth.revoke_refresh_tokens(existing.uid, app=app())
        return str(existing.uid)
    if existing is not None:
        auth.delete_user(existing.uid, app=app())
    user = auth.create_user(email=email, password=password, display_name=name, app=app())
    auth.set_custom_user_claims(user.uid, {"tenantId": tenant_id, "role": role}, app=app())
    return str(user.uid)


def set_role(uid: str, tenant_id: str, role: str) -> None:
    """Give ``uid`` the ``role`` claim in ``tenant_id`` and end its sessions (refresh tokens revoked:
    verify refuses its ID tokens at once), so it signs in again to act with the new role."""
    from firebase_admin import auth

    if role not in STAFF_ROLES:
        raise PermanentError(f"unknown role {role}")
    auth.set_custom_user_claims(uid, {"tenantId": tenant_id, "role": role}, app=app())
    auth.revoke_refresh_tokens(uid, app=app())


def set_disabled(uid: str, disabled: bool) -> None:
    """Disable (and end every session of) an account, or enable it again. A disabled account cannot
    sign in or refresh its token, and verify refuses its ID tokens at once (it checks revocation)."""
    from firebase_admin import auth

    auth.update_user(uid, disabled=disabled, app=app())
    if disabled:
        auth.revoke_refresh_tokens(uid, app=app())


def reset() -> None:
    """Forget the app (tests point the process at another emulator)."""
    import firebase_admin

    if app.cache_info().currsize:
        firebase_admin.delete_app(app())
    app.cache_clear()
