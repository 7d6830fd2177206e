"""The chat API on the real emulators, through the local chat_api and create_app functions: apps and
keys, both ways of authenticating, every operation, membership, errors, and the Firestore rules that
let a member's client read a channel."""

from __future__ import annotations

import base64
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from infra.local.stack import LocalStack
from shared import store
from shared.chat import api, keys
from tests.chat.client import App, create_app, developer_token, refreshed_token, verify_email
from tests.chat.conformance import assert_conforms
from tests.support import agent_token, eventually

pytestmark = pytest.mark.integration


def claims_of(id_token: str) -> dict[str, Any]:
    payload = id_token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def ok(app: App, operation: str, body: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Call, insist on 200 and on an answer that conforms to the generated OpenAPI document."""
    answer = app.ok(operation, body, **kwargs)
    assert_conforms(f"/v1/{operation}", 200, answer)
    return answer


def refused(app: App, operation: str, body: dict[str, Any], status: int, code: str, **kwargs: Any) -> None:
    response = app.call(operation, body, **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text
    assert_conforms(f"/v1/{operation}", status, response.json())


# --- create_app and API keys ---------------------------------------------------------------------------


def create_app_call(stack: LocalStack, token: str, name: str = "Another") -> requests.Response:
    return requests.post(
        stack.function_urls["create_app"],
        json={"name": name},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_create_app_makes_a_tenant_an_owner_and_a_key_stored_only_as_a_hash(clean_stack: LocalStack) -> None:
    email = f"dev-{uuid.uuid4().hex[:8]}@apps.test"
    token = developer_token(clean_stack, email)
    app = create_app(clean_stack, "Acme Chat", token=token)

    assert app.app_id.startswith("app")
    assert keys.KEY_PATTERN.match(app.api_key)
    assert app.api_key.startswith(f"sb_{app.app_id}_")
    assert "/embed/switchboard-chat.js" in app.answer["embedSnippet"]
    assert "SwitchboardChat.mount(" in app.answer["embedSnippet"]

    tenant = store.get_tenant(app.app_id)
    assert tenant is not None
    assert (tenant["kind"], tenant["name"], tenant["plan"]) == ("app", "Acme Chat", "free")
    assert tenant["createdAt"] is not None
    assert tenant["apiKeyPrefix"] == keys.prefix(app.api_key)
    record = store.get_api_key(keys.digest(app.api_key))
    assert record is not None and record["tenantId"] == app.app_id
    secret = app.api_key.rsplit("_", 1)[-1][-20:]
    assert secret not in json.dumps({**tenant, **record}, default=str), "the key itself is never stored"

    # The caller refreshes their token and now administers the app.
    claims = claims_of(refreshed_token(clean_stack, email))
    assert (claims["tenantId"], claims["role"]) == (app.app_id, "owner")
    assert store.get_agent(app.app_id, claims["user_id"])["role"] == "owner"

    # An account holds one tenant: the same developer cannot silently move to a second app, with a
    # fresh token (its claims name the app) nor with the one it created the app with (minted before
    # the claims: the account's current claims are checked too).
    for stale_or_fresh in (refreshed_token(clean_stack, email), token):
        again = create_app_call(clean_stack, stale_or_fresh, "Second")
        assert again.status_code == 409, again.text
        assert again.json()["error"]["code"] == "already_in_a_tenant"
    assert store.apps_created_by(claims["user_id"], 10) == 1


def test_create_app_needs_a_verified_email_address(clean_stack: LocalStack) -> None:
    email = f"dev-{uuid.uuid4().hex[:8]}@apps.test"
    unverified = developer_token(clean_stack, email, verified=False)
    refused = create_app_call(clean_stack, unverified, "Unverified")
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "email_not_verified"
    assert "verify your e-mail address" in refused.json()["error"]["message"]
    assert email in refused.json()["error"]["message"]
    # The developer opens the link the Auth emulator kept, refreshes the token: created.
    verified = verify_email(clean_stack, email, unverified)
    assert claims_of(verified)["email_verified"] is True
    assert create_app_call(clean_stack, verified, "Verified").status_code == 200
    # A token minted before the address was verified still says it is not.
    stale = create_app_call(clean_stack, unverified, "Stale")
    assert (stale.status_code, stale.json()["error"]["code"]) == (403, "email_not_verified")


def test_an_account_creates_at_most_three_apps_even_when_released_from_each(clean_stack: LocalStack) -> None:
    """The claim model holds one app per account at a time; the cap bounds how many it ever creates
    (an operator releasing it from its app, by clearing its claims, does not reset it)."""
    from firebase_admin import auth as firebase_auth

    from shared import auth

    email = f"dev-{uuid.uuid4().hex[:8]}@apps.test"
    token = developer_token(clean_stack, email)
    uid = claims_of(token)["user_id"]
    for n in range(api.MAX_APPS_PER_ACCOUNT):
        created = create_app_call(clean_stack, token, f"App {n}")
        assert created.status_code == 200, created.text
        firebase_auth.set_custom_user_claims(uid, None, app=auth.app())  # released from it
    token = refreshed_token(clean_stack, email)
    refused = create_app_call(clean_stack, token, "One too many")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "app_limit_reached"
    assert store.apps_created_by(uid, 10) == api.MAX_APPS_PER_ACCOUNT


def test_concurrent_create_app_calls_with_one_token_stay_within_the_cap(clean_stack: LocalStack) -> None:
    """Before the cap, one ID token minted before the account's first app created apps without
    end (its claims never changed). Concurrent calls race for the same slot: one wins each slot,
    and there are only MAX_APPS_PER_ACCOUNT slots."""
    token = developer_token(clean_stack)
    uid = claims_of(token)["user_id"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda n: create_app_call(clean_stack, token, f"Race {n}"), range(8)))
    created = [a for a in answers if a.status_code == 200]
    assert 1 <= len(created) <= api.MAX_APPS_PER_ACCOUNT, [a.text for a in answers]
    assert {a.status_code for a in answers} <= {200, 409}
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} <= {
        "already_in_a_tenant",
        "app_limit_reached",
    }
    assert store.apps_created_by(uid, 10) == len(created)
    # Afterwards the same token creates nothing more.
    assert create_app_call(clean_stack, token, "Later").status_code == 409


def test_create_app_needs_a_signed_in_user_and_a_name(clean_stack: LocalStack) -> None:
    url = clean_stack.function_urls["create_app"]
    assert requests.post(url, json={"name": "x"}, timeout=30).status_code == 401
    assert (
        requests.post(
            url, json={"name": "x"}, headers={"Authorization": "Bearer junk"}, timeout=30
        ).status_code
        == 401
    )
    bad = requests.post(
        url,
        json={},
        headers={"Authorization": f"Bearer {developer_token(clean_stack, verified=False)}"},
        timeout=30,
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_request"


# --- authentication -----------------------------------------------------------------------------------


def test_token_mints_a_custom_token_whose_id_token_carries_the_app_and_role_user(app: App) -> None:
    answer = ok(app, "token", {"userId": "alice", "name": "Alice", "avatar": "https://img.test/a.png"})
    assert answer["tenantId"] == app.app_id
    id_token = app.user("alice", "Alice")
    claims = claims_of(id_token)
    # The account is the app's own (uid <app>:<user>); the user id rides in the userId claim.
    assert (claims["user_id"], claims["userId"], claims["tenantId"], claims["role"]) == (
        f"{app.app_id}:alice",
        "alice",
        app.app_id,
        "user",
    )
    assert claims["firebase"]["sign_in_provider"] == "custom"
    profile = store.get_app_users(app.app_id, ["alice"])["alice"]
    assert profile["name"] == "Alice"
    assert profile["avatar"] == "https://img.test/a.png"
    # The same user through either door is the same user.
    channel = ok(app, "createSub", {"name": "Both doors"}, id_token=id_token)
    assert ok(app, "mysubs", user="alice")["channels"][0]["id"] == channel["id"]


def test_authentication_failures(app: App, clean_stack: LocalStack) -> None:
    alice = app.user("alice")
    wrong_key = f"sb_{app.app_id}_{'A' * 43}"
    refused(app, "serverInfo", {}, 401, "unauthenticated", authorization=f"Bearer {wrong_key}", user="alice")
    refused(app, "serverInfo", {}, 401, "unauthenticated", authorization="Bearer sb_nonsense", user="alice")
    refused(app, "mysubs", {}, 401, "unauthenticated", authorization="Basic abc")
    refused(app, "mysubs", {}, 401, "unauthenticated", authorization="Bearer not.a.token")
    # A key of another app names that app, never this one.
    other = create_app(clean_stack, "Other")
    assert other.ok("serverInfo", user="alice")["version"]
    refused(app, "mysubs", {}, 400, "user_required")  # API key without X-User-Id
    refused(app, "mysubs", {}, 400, "invalid_user_id", user="a/b")
    # Minting tokens is for the backend's key only.
    refused(app, "token", {"userId": "mallory"}, 403, "forbidden", id_token=alice)
    # Staff tokens are not app-user tokens; a client cannot speak for someone else.
    agent = agent_token(clean_stack, app.app_id, f"agent-{uuid.uuid4().hex[:6]}@apps.test")
    refused(app, "mysubs", {}, 403, "forbidden", id_token=agent)
    refused(app, "mysubs", {}, 403, "forbidden", id_token=alice, user="bob")
    # A staff account's uid as an app's user id is another account: the app's own, with no staff
    # access (it used to be refused as user_id_taken: uids were shared).
    agent_uid = claims_of(agent)["user_id"]
    minted = ok(app, "token", {"userId": agent_uid})
    impostor = app.user(agent_uid)
    assert claims_of(impostor)["user_id"] == f"{app.app_id}:{agent_uid}" != agent_uid
    assert minted["userId"] == agent_uid
    status = requests.get(
        f"http://{clean_stack.firestore_host}/v1/projects/{clean_stack.project}/databases/(default)/"
        f"documents/tenants/{app.app_id}",
        headers={"Authorization": f"Bearer {impostor}"},
        timeout=10,
    ).status_code
    assert status == 403


# --- operations -----------------------------------------------------------------------------------------


def test_every_operation_through_both_doors(app: App) -> None:
    alice, bob = app.user("alice", "Alice"), app.user("bob", "Bob")
    app.user("carol", "Carol")

    info = ok(app, "serverInfo", id_token=alice)
    assert info["limits"] == {
        "postsPerSecondPerUser": 5,
        "freeMessagesPerMonth": 1_000_000,
        "maxPostLength": 4000,
    }

    group = ok(app, "createSub", {"name": "General"}, id_token=alice)
    assert (group["kind"], group["group"], group["name"], group["memberCount"]) == (
        "group",
        True,
        "General",
        1,
    )
    assert group["joinPolicy"] == "invite"  # the default for new channels
    joined = ok(app, "createSub", {"channelId": group["id"]}, user="bob")  # the backend joins bob
    assert joined["memberCount"] == 2
    assert ok(app, "createSub", {"channelId": group["id"]}, user="bob")["memberCount"] == 2  # idempotent
    named = ok(app, "createSub", {"channelId": "book-club", "name": "Books"}, user="carol")
    assert named["id"] == "book-club"

    posts = [
        ok(
            app,
            "createPost",
            {"channelId": group["id"], "text": f"hello {i}", "clientPostId": f"a-{i}"},
            id_token=alice,
        )
        for i in range(3)
    ]
    first = posts[0]
    assert first["user"] == {"id": "alice", "name": "Alice", "avatar": None, "kind": "user"}
    assert first["information"] == {
        "type": "text",
        "text": "hello 0",
        "likes": 0,
        "mediaUrl": None,
        "media": [],
    }
    assert (first["channel"], first["group"]) == (group["id"], True)
    # Idempotent on clientPostId: the same post, not a second one.
    again = ok(
        app, "createPost", {"channelId": group["id"], "text": "other", "clientPostId": "a-0"}, id_token=alice
    )
    assert again["id"] == first["id"]
    assert again["information"]["text"] == "hello 0"

    page1 = ok(app, "posts", {"channelId": group["id"], "limit": 2}, id_token=bob)
    assert [p["information"]["text"] for p in page1["posts"]] == ["hello 2", "hello 1"]
    page2 = ok(
        app, "posts", {"channelId": group["id"], "limit": 2, "cursor": page1["nextCursor"]}, user="bob"
    )
    assert [p["information"]["text"] for p in page2["posts"]] == ["hello 0"]
    assert page2["nextCursor"] is None

    members = ok(app, "subs", {"channelId": group["id"]}, id_token=bob)["members"]
    assert {(m["userId"], m["name"], m["role"]) for m in members} == {
        ("alice", "Alice", "owner"),
        ("bob", "Bob", "member"),
    }

    # Unread is computed (channel seq - bob's lastReadSeq); three posts in a burst may have their
    # summary folded in about a second later (a hot channel), so it gets there within moments.
    mine = eventually(
        lambda: [c for c in ok(app, "mysubs", id_token=bob)["channels"] if c["unreadCount"] == 3],
        timeout=10,
        what="bob's three unread posts",
    )
    assert [(c["id"], c["unreadCount"], c["muted"]) for c in mine] == [(group["id"], 3, False)]
    assert mine[0]["lastMessage"]["text"] == "hello 2"
    assert mine[0]["lastMessageText"] == "hello 2"

    liked = ok(app, "likePost", {"channelId": group["id"], "postId": first["id"]}, id_token=bob)
    assert liked == {"postId": first["id"], "likes": 1, "likedByMe": True}
    assert ok(app, "likePost", {"channelId": group["id"], "postId": first["id"]}, user="alice")["likes"] == 2
    assert ok(app, "likePost", {"channelId": group["id"], "postId": first["id"]}, id_token=bob) == {
        "postId": first["id"],
        "likes": 1,
        "likedByMe": False,
    }
    seen_by_alice = ok(app, "posts", {"channelId": group["id"]}, id_token=alice)["posts"]
    assert [(p["information"]["likes"], p["likedByMe"]) for p in seen_by_alice][-1] == (1, True)

    read = ok(app, "setRead", {"channelId": group["id"], "postId": posts[0]["id"]}, id_token=bob)
    assert (read["lastReadPostId"], read["unreadCount"]) == (posts[0]["id"], 2)
    read = ok(app, "setRead", {"channelId": group["id"]}, id_token=bob)
    assert (read["lastReadPostId"], read["unreadCount"]) == (posts[2]["id"], 0)
    member = store.get_chat_member(app.app_id, group["id"], "bob").data
    assert (member["lastReadSeq"], member["lastReadMessageId"]) == (3, posts[2]["id"])
    assert "unreadCount" not in member  # no stored counter any more: unread = seq - lastReadSeq

    sub = ok(
        app,
        "upsertSub",
        {"channelId": group["id"], "pushToken": "device-1", "settings": {"sound": "ping"}},
        id_token=bob,
    )
    assert (sub["pushTokenCount"], sub["settings"], sub["role"]) == (1, {"sound": "ping"}, "member")
    sub = ok(
        app,
        "upsertSub",
        {"channelId": group["id"], "pushToken": "device-1", "settings": {"badge": True}},
        user="bob",
    )
    assert (sub["pushTokenCount"], sub["settings"]) == (1, {"sound": "ping", "badge": True})

    assert ok(app, "toggleSub", {"channelId": group["id"]}, id_token=bob)["muted"] is True
    assert ok(app, "mysubs", user="bob")["channels"][0]["muted"] is True
    assert ok(app, "toggleSub", {"channelId": group["id"]}, user="bob")["muted"] is False

    direct = ok(app, "createPM", {"userId": "carol"}, id_token=alice)
    assert (direct["kind"], direct["group"], direct["name"], direct["memberCount"]) == (
        "direct",
        False,
        "Carol",
        2,
    )
    assert ok(app, "createPM", {"userId": "alice"}, user="carol")["id"] == direct["id"]

    left = ok(app, "deleteSub", {"channelId": group["id"]}, id_token=bob)
    assert left == {"channelId": group["id"], "left": True}
    assert [c["id"] for c in ok(app, "mysubs", id_token=bob)["channels"]] == []
    refused(app, "posts", {"channelId": group["id"]}, 403, "not_a_member", id_token=bob)
    after = store.get_conversation(app.app_id, group["id"])
    assert after["memberCount"] == 1 and "memberIds" not in after  # membership: member documents


def test_only_members_read_or_post_and_errors_are_json(app: App) -> None:
    app.user("alice")
    mallory = app.user("mallory")
    group = ok(app, "createSub", {"name": "Private"}, user="alice")
    post = ok(
        app, "createPost", {"channelId": group["id"], "text": "secret", "clientPostId": "s1"}, user="alice"
    )
    body = {"channelId": group["id"]}
    refused(app, "posts", body, 403, "not_a_member", id_token=mallory)
    refused(app, "subs", body, 403, "not_a_member", user="mallory")
    refused(
        app, "createPost", {**body, "text": "hi", "clientPostId": "m1"}, 403, "not_a_member", id_token=mallory
    )
    refused(app, "likePost", {**body, "postId": post["id"]}, 403, "not_a_member", id_token=mallory)
    refused(app, "setRead", body, 403, "not_a_member", id_token=mallory)
    refused(app, "toggleSub", body, 403, "not_a_member", id_token=mallory)
    refused(app, "upsertSub", {**body, "pushToken": "x"}, 403, "not_a_member", id_token=mallory)
    refused(app, "posts", {"channelId": "no-such-channel"}, 404, "channel_not_found", user="alice")
    refused(app, "likePost", {**body, "postId": "nope"}, 404, "post_not_found", user="alice")
    refused(app, "setRead", {**body, "postId": "nope"}, 404, "post_not_found", user="alice")
    refused(app, "createPM", {"userId": "ghost"}, 404, "user_not_found", user="alice")
    refused(app, "createPM", {"userId": "alice"}, 400, "cannot_message_self", user="alice")
    direct = ok(app, "createPM", {"userId": "mallory"}, user="alice")
    refused(app, "createSub", {"channelId": direct["id"]}, 403, "not_joinable", user="bob")
    refused(app, "deleteSub", {"channelId": direct["id"]}, 400, "cannot_leave", user="alice")
    refused(
        app, "posts", {"channelId": group["id"], "cursor": "garbage"}, 400, "invalid_cursor", user="alice"
    )
    refused(
        app, "createPost", {**body, "text": "", "clientPostId": "e"}, 400, "invalid_request", user="alice"
    )
    refused(
        app,
        "createPost",
        {**body, "text": "x", "clientPostId": "e", "admin": True},
        400,
        "invalid_request",
        user="alice",
    )
    refused(app, "posts", {"channelId": "../x"}, 400, "invalid_request", user="alice")

    unknown = app.call("deleteEverything", {}, user="alice")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_operation"
    not_json = requests.post(
        f"{app.url}/v1/posts",
        data=b"{not json",
        headers={"Authorization": f"Bearer {app.api_key}", "X-User-Id": "alice"},
        timeout=10,
    )
    assert not_json.status_code == 400
    assert requests.get(f"{app.url}/v1/posts", timeout=10).status_code == 405
    assert requests.post(f"{app.url}/v2/posts", json={}, timeout=10).json()["error"]["code"] == "not_found"
    huge = app.call("createPost", {**body, "text": "x" * 70_000, "clientPostId": "h"}, user="alice")
    assert huge.status_code == 413


def test_openapi_json_is_served(app: App) -> None:
    response = requests.get(f"{app.url}/openapi.json", timeout=10)
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert "/v1/createPost" in document["paths"]


# --- Firestore rules: what a member's client may read directly ------------------------------------------


def rest_list(stack: LocalStack, id_token: str, path: str) -> int:
    url = f"http://{stack.firestore_host}/v1/projects/{stack.project}/databases/(default)/documents/{path}"
    return requests.get(url, headers={"Authorization": f"Bearer {id_token}"}, timeout=10).status_code


def test_members_clients_read_their_channels_in_firestore_and_others_do_not(
    app: App, clean_stack: LocalStack
) -> None:
    alice, mallory = app.user("alice"), app.user("mallory")
    group = ok(app, "createSub", {"name": "Club"}, id_token=alice)
    ok(app, "createPost", {"channelId": group["id"], "text": "hi", "clientPostId": "1"}, id_token=alice)
    base = f"tenants/{app.app_id}/conversations/{group['id']}"
    assert rest_list(clean_stack, alice, f"{base}/messages") == 200
    assert rest_list(clean_stack, alice, f"{base}/members/alice") == 200
    assert rest_list(clean_stack, mallory, f"{base}/messages") == 403
    assert rest_list(clean_stack, mallory, base) == 403
