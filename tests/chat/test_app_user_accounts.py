"""App users' Firebase accounts are per app, and only the app's custom token signs them in.

The attack this pins: every app shared one Firebase uid namespace, and an app user's uid was the
app's user id. App B could mint a token for ``carol`` (POST /v1/token with its own key), sign in,
link an e-mail and password to that account (Firebase's accounts:update, open to the signed-in
user), and from then on app A's /v1/token for its own ``carol`` answered 409 user_id_taken (or, had
the account been A's, B would hold a way into it). Now carol of app A is ``<A>:carol`` and carol of
app B ``<B>:carol``; the user id rides in the ``userId`` claim; and a session started any other way
than with the app's custom token (a linked password) reads nothing, through the rules or the API,
even carrying the same claims. ``python -m shared.cli migrate-app-users`` deletes the accounts made
before (their data is keyed by user id and stays)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests

from infra.local.stack import LocalStack
from shared import cli, store
from tests.chat.client import PASSWORD, App, create_app, developer_token, exchange_custom_token
from tests.chat.test_api import claims_of, ok
from tests.support import agent_token

pytestmark = pytest.mark.integration


def _accounts(stack: LocalStack, method: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(
        f"http://{stack.auth_host}/identitytoolkit.googleapis.com/v1/accounts:{method}?key=local",
        json={**body, "returnSecureToken": True},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def link_password(stack: LocalStack, id_token: str, email: str) -> None:
    """What the signed-in user's client may do to its own account: add an e-mail and a password."""
    _accounts(stack, "update", {"idToken": id_token, "email": email, "password": PASSWORD})


def password_sign_in(stack: LocalStack, email: str) -> str:
    return str(_accounts(stack, "signInWithPassword", {"email": email, "password": PASSWORD})["idToken"])


def firestore(stack: LocalStack, id_token: str, path: str) -> int:
    url = f"http://{stack.firestore_host}/v1/projects/{stack.project}/databases/(default)/documents/{path}"
    return requests.get(url, headers={"Authorization": f"Bearer {id_token}"}, timeout=10).status_code


def legacy_account(stack: LocalStack, app: App, user_id: str) -> str:
    """An app user's account as /v1/token made them before accounts were per app (uid = the user
    id, claims tenantId and role only), signed in: its ID token."""
    from firebase_admin import auth as firebase_auth

    from shared import auth

    custom = firebase_auth.create_custom_token(
        user_id, {"tenantId": app.app_id, "role": "user"}, app=auth.app()
    )
    store.put_app_user(app.app_id, user_id, {"userId": user_id, "name": user_id.title()})
    return exchange_custom_token(stack, custom.decode())


def test_another_app_linking_a_password_to_carol_neither_blocks_nor_reaches_app_as_carol(
    clean_stack: LocalStack,
) -> None:
    app_a, app_b = create_app(clean_stack, "App A"), create_app(clean_stack, "App B")

    # App B mints its carol, signs in, links a password to the account, signs in with it.
    b_carol = app_b.user("carol", "Carol of B")
    b_channel = ok(app_b, "createSub", {"name": "B's club"}, id_token=b_carol)["id"]
    ok(
        app_b,
        "createPost",
        {"channelId": b_channel, "text": "B only", "clientPostId": "b1"},
        id_token=b_carol,
    )
    email = f"carol-{uuid.uuid4().hex[:8]}@attacker.test"
    link_password(clean_stack, b_carol, email)
    by_password = password_sign_in(clean_stack, email)

    # App A's carol: minted as before the link, a different account.
    answer = ok(app_a, "token", {"userId": "carol", "name": "Carol of A"})
    assert (answer["userId"], answer["tenantId"]) == ("carol", app_a.app_id)
    a_carol = exchange_custom_token(clean_stack, answer["customToken"])
    uids = {claims_of(t)["user_id"] for t in (a_carol, b_carol, by_password)}
    assert uids == {f"{app_a.app_id}:carol", f"{app_b.app_id}:carol"}
    assert claims_of(a_carol)["user_id"] == f"{app_a.app_id}:carol"
    assert claims_of(by_password)["user_id"] == f"{app_b.app_id}:carol"
    assert claims_of(by_password)["firebase"]["sign_in_provider"] == "password"
    a_channel = ok(app_a, "createSub", {"name": "A's club"}, id_token=a_carol)["id"]
    assert [c["id"] for c in ok(app_a, "mysubs", id_token=a_carol)["channels"]] == [a_channel]
    assert [c["id"] for c in ok(app_b, "mysubs", id_token=b_carol)["channels"]] == [b_channel]

    # The password session gets none of B's carol's data, through the API or Firestore...
    b_base = f"tenants/{app_b.app_id}/conversations/{b_channel}"
    assert firestore(clean_stack, b_carol, f"{b_base}/messages") == 200
    for operation, body in (("mysubs", {}), ("posts", {"channelId": b_channel})):
        response = app_b.call(operation, body, id_token=by_password)
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "forbidden"
    for path in (b_base, f"{b_base}/messages", f"{b_base}/members/carol"):
        assert firestore(clean_stack, by_password, path) == 403, path
    # ...nor does either carol reach the other app's.
    assert firestore(clean_stack, a_carol, f"{b_base}/messages") == 403
    assert firestore(clean_stack, b_carol, f"tenants/{app_a.app_id}/conversations/{a_channel}") == 403

    # Even with the app-user claims stored on the account (as an operator might copy them), so that
    # the password session carries them all: still nothing.
    from firebase_admin import auth as firebase_auth

    from shared import auth

    copied = {"tenantId": app_b.app_id, "role": "user", "userId": "carol"}
    firebase_auth.set_custom_user_claims(f"{app_b.app_id}:carol", copied, app=auth.app())
    forged = password_sign_in(clean_stack, email)
    assert {k: claims_of(forged)[k] for k in copied} == copied
    assert app_b.call("posts", {"channelId": b_channel}, id_token=forged).status_code == 403
    assert firestore(clean_stack, forged, f"{b_base}/messages") == 403
    assert firestore(clean_stack, forged, b_base) == 403

    # Nor does an app user's account become a developer's (with a verified address, no claims).
    firebase_auth.set_custom_user_claims(f"{app_b.app_id}:carol", None, app=auth.app())
    firebase_auth.update_user(f"{app_b.app_id}:carol", email_verified=True, app=auth.app())
    developer = requests.post(
        clean_stack.function_urls["create_app"],
        json={"name": "Carol's own"},
        headers={"Authorization": f"Bearer {password_sign_in(clean_stack, email)}"},
        timeout=30,
    )
    assert developer.status_code == 403, developer.text


def test_a_legacy_account_at_the_bare_user_id_no_longer_blocks_or_reads(clean_stack: LocalStack) -> None:
    """The state before the fix: app B's carol at uid ``carol`` with a password linked. App A's
    /v1/token for carol used to answer 409; now it mints A's own account. The legacy session reads
    nothing: its token has no userId claim."""
    app_a, app_b = create_app(clean_stack, "App A"), create_app(clean_stack, "App B")
    legacy = legacy_account(clean_stack, app_b, "carol")
    assert claims_of(legacy)["user_id"] == "carol"
    email = f"carol-{uuid.uuid4().hex[:8]}@attacker.test"
    link_password(clean_stack, legacy, email)

    a_carol = app_a.user("carol")
    assert claims_of(a_carol)["user_id"] == f"{app_a.app_id}:carol"
    b_channel = ok(app_b, "createSub", {"name": "Club"}, user="carol")["id"]  # carol's data, by user id
    for token in (legacy, password_sign_in(clean_stack, email)):
        assert app_b.call("mysubs", id_token=token).status_code == 403
        path = f"tenants/{app_b.app_id}/conversations/{b_channel}"
        assert firestore(clean_stack, token, path) == 403
        assert firestore(clean_stack, token, f"{path}/messages") == 403


def test_migrate_app_users_deletes_the_accounts_from_before_and_keeps_everything_else(
    clean_stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    from firebase_admin import auth as firebase_auth

    from shared import auth

    app = create_app(clean_stack, "Old App")
    # Accounts from before: custom-token-only users (one whose id holds a colon), one a password was
    # linked to, and one holding stored role-user claims (an operator's invite-agent --role user).
    legacy_alice = legacy_account(clean_stack, app, "alice")
    legacy_account(clean_stack, app, "team:erin")
    link_password(clean_stack, legacy_account(clean_stack, app, "carol"), f"c-{uuid.uuid4().hex[:6]}@x.test")
    bob = firebase_auth.create_user(uid="bob", app=auth.app())
    firebase_auth.set_custom_user_claims(bob.uid, {"tenantId": app.app_id, "role": "user"}, app=auth.app())
    # Alice's data, keyed by her user id.
    channel = ok(app, "createSub", {"name": "Alice's"}, user="alice")["id"]
    ok(app, "createPost", {"channelId": channel, "text": "kept", "clientPostId": "k1"}, user="alice")
    # Accounts to keep: staff, the app's developer, a developer with no app yet, a current app user,
    # and an account with a colon that is no app's user.
    agent = claims_of(agent_token(clean_stack, app.app_id, f"agent-{uuid.uuid4().hex[:6]}@apps.test"))[
        "user_id"
    ]
    developer = str(store.get_tenant(app.app_id)["createdBy"])
    newcomer = claims_of(developer_token(clean_stack))["user_id"]
    current = claims_of(app.user("dave"))["user_id"]
    firebase_auth.create_user(uid="svc:monitor", app=auth.app())
    doomed = {"alice", "team:erin", "carol", "bob"}
    kept = {agent, developer, newcomer, current, "svc:monitor"}

    def uids() -> set[str]:
        return {u.uid for u in firebase_auth.list_users(app=auth.app()).iterate_all()}

    def run(*args: str) -> list[dict[str, Any]]:
        capsys.readouterr()
        assert cli.main(["migrate-app-users", *args]) == 0
        return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]

    def mine(records: list[dict[str, Any]]) -> set[str]:
        """This test's accounts among those listed (the session's Auth emulator holds other tests')."""
        return {r["uid"] for r in records} & (doomed | kept)

    assert doomed | kept <= uids()
    listed = run("--dry-run")
    assert mine(listed) == doomed
    assert {r["uid"]: r["reason"] for r in listed}["bob"] == "role-user-claims"
    assert {r["uid"]: r["reason"] for r in listed}["alice"] == "app-user-id"
    assert doomed <= uids(), "a dry run deletes nothing"

    assert mine(run()) == doomed
    assert not doomed & uids()
    assert kept <= uids()
    assert run() == [], "a second run finds nothing"

    # Alice's data stayed; the app's next token for her mints her per-app account, which reads it.
    assert app.call("mysubs", id_token=legacy_alice).status_code in (401, 403)
    alice = app.user("alice")
    assert claims_of(alice)["user_id"] == f"{app.app_id}:alice"
    posts = ok(app, "posts", {"channelId": channel}, id_token=alice)["posts"]
    assert [p["information"]["text"] for p in posts] == ["kept"]
    assert firestore(clean_stack, alice, f"tenants/{app.app_id}/conversations/{channel}/messages") == 200
