"""An invitation never hands a tenant's claims to a session the invitee did not start.

The attack: someone signs an address up before the business invites it, keeps the refresh token,
and waits; once ``invite-agent`` sets claims on that account, the old session mints ID tokens that
carry the tenant and role. The functions that act on claims must refuse every token of that old
session, and a role change must end the sessions that held the old role."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from infra.local import demo
from infra.local.stack import LocalStack
from shared import auth
from tests.support import eventually, identity

pytestmark = pytest.mark.integration

PASSWORD = "the-invitees-own-password"


def refresh(stack: LocalStack, refresh_token: str) -> requests.Response:
    return requests.post(
        f"http://{stack.auth_host}/securetoken.googleapis.com/v1/token?key=local",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        timeout=10,
    )


def acts(stack: LocalStack, id_token: str) -> int:
    """The status agent_api answers a claims-bearing request with (401/403: refused)."""
    response = requests.post(
        stack.function_urls["agent_api"],
        headers={"Authorization": f"Bearer {id_token}"},
        json={"action": "set_status", "conversationId": "no-such-conversation", "status": "resolved"},
        timeout=15,
    )
    return response.status_code


def next_second(after: float) -> None:
    # Firebase compares a token's issue time with the revocation time in whole seconds.
    eventually(lambda: int(time.time()) > int(after), timeout=3, what="the next second")


def test_a_pre_registered_session_gets_nothing_from_the_invitation(clean_stack: LocalStack) -> None:
    email = f"new.hire.{uuid.uuid4().hex[:8]}@demo.test"  # the Auth emulator outlives one test
    squatter = identity(clean_stack, "signUp", {"email": email, "password": "squatters-password"})

    uid = auth.invite(email, PASSWORD, demo.DEMO_TENANT, "admin", "New Hire")

    assert uid != squatter["localId"]  # the account was made anew
    renewed = refresh(clean_stack, squatter["refreshToken"])
    if renewed.ok:  # whatever the old session can still mint is refused by the functions
        assert acts(clean_stack, renewed.json()["id_token"]) == 401
    assert acts(clean_stack, squatter["idToken"]) == 401
    with pytest.raises(requests.HTTPError):
        identity(clean_stack, "signInWithPassword", {"email": email, "password": "squatters-password"})

    invitee = identity(clean_stack, "signInWithPassword", {"email": email, "password": PASSWORD})
    assert acts(clean_stack, invitee["idToken"]) not in (401, 403)


def test_a_role_change_ends_the_sessions_that_held_the_old_role(clean_stack: LocalStack) -> None:
    email = "promoted@demo.test"
    auth.invite(email, PASSWORD, demo.DEMO_TENANT, "agent", "Pat")
    before = identity(clean_stack, "signInWithPassword", {"email": email, "password": PASSWORD})
    assert acts(clean_stack, before["idToken"]) not in (401, 403)
    next_second(time.time())

    auth.invite(email, PASSWORD, demo.DEMO_TENANT, "admin", "Pat")

    assert acts(clean_stack, before["idToken"]) == 401
    # Production also refuses the revoked refresh token itself; the Auth emulator's refresh
    # tokens are unsigned JSON that it never checks against revocation, so that half is not
    # observable here.
    after = identity(clean_stack, "signInWithPassword", {"email": email, "password": PASSWORD})
    assert acts(clean_stack, after["idToken"]) not in (401, 403)


def test_inviting_a_member_again_resets_the_password_and_ends_old_sessions(clean_stack: LocalStack) -> None:
    email = "steady@demo.test"
    auth.invite(email, "the-first-password", demo.DEMO_TENANT, "agent", "Sam")
    session = identity(clean_stack, "signInWithPassword", {"email": email, "password": "the-first-password"})
    next_second(time.time())

    same_uid = auth.invite(email, PASSWORD, demo.DEMO_TENANT, "agent", "Sam")

    assert same_uid == session["localId"]  # a member keeps their uid (assignments, directory)
    assert acts(clean_stack, session["idToken"]) == 401
    again = identity(clean_stack, "signInWithPassword", {"email": email, "password": PASSWORD})
    assert acts(clean_stack, again["idToken"]) not in (401, 403)


def test_an_account_of_another_tenant_cannot_be_invited(clean_stack: LocalStack) -> None:
    email = "eve@acme.test"
    auth.invite(email, PASSWORD, demo.OTHER_TENANT, "agent", "Eve")
    with pytest.raises(auth.InvitationRefused):
        auth.invite(email, PASSWORD, demo.DEMO_TENANT, "admin", "Eve")
    session = identity(clean_stack, "signInWithPassword", {"email": email, "password": PASSWORD})
    assert auth.verify(f"Bearer {session['idToken']}").tenant_id == demo.OTHER_TENANT


def test_a_disabled_agent_is_refused_at_once(clean_stack: LocalStack) -> None:
    from firebase_admin import auth as firebase_auth

    email = "leaver@demo.test"
    uid = auth.invite(email, PASSWORD, demo.DEMO_TENANT, "agent", "Lee")
    session = identity(clean_stack, "signInWithPassword", {"email": email, "password": PASSWORD})
    firebase_auth.update_user(uid, disabled=True, app=auth.app())
    assert acts(clean_stack, session["idToken"]) == 401
