"""Who may join a group channel: its join policy (open, invite, approval), on the real emulators.

Before policies, any user of an app who knew or guessed a group's id joined it with createSub and
read everything in it. Now a client (an app user's ID token) joins on its own only an ``open``
channel; ``invite`` channels (the default) take members added by a member or by the app's backend;
``approval`` channels record a request that the owner approves or declines. The app's backend, with
its API key, is trusted under every policy. Channels created before policies (no field) stay open.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from infra.local.stack import LocalStack
from shared import store
from tests.chat.client import App
from tests.chat.test_api import ok, refused

pytestmark = pytest.mark.integration


def firestore_get(stack: LocalStack, id_token: str, path: str) -> int:
    url = f"http://{stack.firestore_host}/v1/projects/{stack.project}/databases/(default)/documents/{path}"
    return requests.get(url, headers={"Authorization": f"Bearer {id_token}"}, timeout=10).status_code


def users(app: App, *names: str) -> dict[str, str]:
    return {name: app.user(name, name.title()) for name in names}


def group(app: App, owner_token: str, **body: Any) -> dict[str, Any]:
    return ok(app, "createSub", {"name": "Club", **body}, id_token=owner_token)


def test_new_channels_are_invite_only_and_a_guessed_id_cannot_be_joined(
    app: App, clean_stack: LocalStack
) -> None:
    t = users(app, "alice", "bob", "carol", "mallory")
    channel = group(app, t["alice"])
    assert channel["joinPolicy"] == "invite"
    cid = channel["id"]
    ok(
        app,
        "createPost",
        {"channelId": cid, "text": "members only", "clientPostId": "s1"},
        id_token=t["alice"],
    )

    # Mallory knows (or guessed) the id: no door opens.
    refused(app, "createSub", {"channelId": cid}, 403, "invite_only", id_token=t["mallory"])
    refused(app, "requestJoin", {"channelId": cid}, 403, "invite_only", id_token=t["mallory"])
    refused(
        app, "addMember", {"channelId": cid, "userId": "mallory"}, 403, "not_a_member", id_token=t["mallory"]
    )
    refused(app, "posts", {"channelId": cid}, 403, "not_a_member", id_token=t["mallory"])
    base = f"tenants/{app.app_id}/conversations/{cid}"
    assert firestore_get(clean_stack, t["mallory"], base) == 403
    assert firestore_get(clean_stack, t["mallory"], f"{base}/messages") == 403

    # A member adds a user; any member may, under invite.
    added = ok(app, "addMember", {"channelId": cid, "userId": "bob"}, id_token=t["alice"])
    assert (added["userId"], added["name"], added["role"]) == ("bob", "Bob", "member")
    assert ok(app, "addMember", {"channelId": cid, "userId": "bob"}, id_token=t["alice"])["userId"] == "bob"
    ok(app, "addMember", {"channelId": cid, "userId": "carol"}, id_token=t["bob"])
    assert firestore_get(clean_stack, t["carol"], f"{base}/messages") == 200
    refused(
        app, "addMember", {"channelId": cid, "userId": "ghost"}, 404, "user_not_found", id_token=t["alice"]
    )

    # The app's backend is trusted: it joins a user (createSub as them) or adds one, without X-User-Id.
    app.user("dave")
    app.user("erin")
    assert ok(app, "createSub", {"channelId": cid}, user="dave")["memberCount"] == 4
    ok(app, "addMember", {"channelId": cid, "userId": "erin"})
    members = {m["userId"] for m in ok(app, "subs", {"channelId": cid}, user="alice")["members"]}
    assert members == {"alice", "bob", "carol", "dave", "erin"}
    assert not store.get_chat_member(app.app_id, cid, "mallory").exists

    # Direct channels have no members to add.
    direct = ok(app, "createPM", {"userId": "bob"}, id_token=t["alice"])
    refused(
        app,
        "addMember",
        {"channelId": direct["id"], "userId": "carol"},
        403,
        "not_joinable",
        id_token=t["alice"],
    )
    refused(
        app, "setJoinPolicy", {"channelId": direct["id"], "joinPolicy": "open"}, 403, "not_joinable", user="x"
    )


def test_a_client_cannot_name_a_new_channel_so_it_cannot_squat_one_the_app_means_to_create(
    app: App,
) -> None:
    mallory = app.user("mallory")
    app.user("alice")
    refused(
        app, "createSub", {"channelId": "general", "name": "Mine"}, 404, "channel_not_found", id_token=mallory
    )
    assert store.get_conversation(app.app_id, "general") is None
    created = ok(app, "createSub", {"channelId": "general", "name": "General"}, user="alice")  # the backend
    assert (created["id"], created["joinPolicy"]) == ("general", "invite")
    # A client still creates channels, with generated ids.
    assert ok(app, "createSub", {"name": "Mallory's"}, id_token=mallory)["id"].startswith("g")


def test_open_channels_are_joined_by_any_user_of_the_app(app: App, clean_stack: LocalStack) -> None:
    t = users(app, "alice", "mallory", "trent")
    cid = group(app, t["alice"], joinPolicy="open")["id"]
    joined = ok(app, "createSub", {"channelId": cid}, id_token=t["mallory"])
    assert (joined["memberCount"], joined["joinPolicy"]) == (2, "open")
    answer = ok(app, "requestJoin", {"channelId": cid}, id_token=t["trent"])
    assert answer == {"channelId": cid, "userId": "trent", "status": "joined"}
    assert firestore_get(clean_stack, t["trent"], f"tenants/{app.app_id}/conversations/{cid}/messages") == 200


def test_channels_from_before_join_policies_stay_open_until_their_owner_closes_them(app: App) -> None:
    t = users(app, "alice", "bob", "mallory", "trent")
    cid = group(app, t["alice"])["id"]
    store.update_conversation(app.app_id, cid, {"joinPolicy": store.delete_field()})  # as created before
    assert "joinPolicy" not in store.get_conversation(app.app_id, cid)
    assert ok(app, "mysubs", id_token=t["alice"])["channels"][0]["joinPolicy"] == "open"
    assert ok(app, "createSub", {"channelId": cid}, id_token=t["mallory"])["joinPolicy"] == "open"

    # Only the owner (or the app's backend) changes the policy.
    body = {"channelId": cid, "joinPolicy": "invite"}
    refused(app, "setJoinPolicy", body, 403, "not_channel_owner", id_token=t["mallory"])
    refused(app, "setJoinPolicy", body, 403, "not_a_member", id_token=t["bob"])
    assert ok(app, "setJoinPolicy", body, id_token=t["alice"])["joinPolicy"] == "invite"
    refused(app, "createSub", {"channelId": cid}, 403, "invite_only", id_token=t["trent"])
    assert ok(app, "setJoinPolicy", {"channelId": cid, "joinPolicy": "approval"})["joinPolicy"] == "approval"
    assert store.get_conversation(app.app_id, cid)["joinPolicy"] == "approval"


def test_approval_channels_record_requests_that_the_owner_decides(app: App, clean_stack: LocalStack) -> None:
    t = users(app, "alice", "bob", "mallory", "trudy", "walter")
    cid = group(app, t["alice"], joinPolicy="approval")["id"]
    ok(app, "addMember", {"channelId": cid, "userId": "bob"}, id_token=t["alice"])  # the owner adds
    base = f"tenants/{app.app_id}/conversations/{cid}"

    # A guessed id: createSub is refused, a request is only a request.
    refused(app, "createSub", {"channelId": cid}, 403, "approval_required", id_token=t["mallory"])
    asked = ok(
        app, "requestJoin", {"channelId": cid, "message": "Hi, I'm Bob's friend"}, id_token=t["mallory"]
    )
    assert asked == {"channelId": cid, "userId": "mallory", "status": "pending"}
    assert ok(app, "requestJoin", {"channelId": cid}, id_token=t["mallory"])["status"] == "pending"
    refused(app, "posts", {"channelId": cid}, 403, "not_a_member", id_token=t["mallory"])
    assert firestore_get(clean_stack, t["mallory"], f"{base}/messages") == 403
    assert firestore_get(clean_stack, t["mallory"], f"{base}/joinRequests/mallory") == 403  # server-only
    ok(app, "requestJoin", {"channelId": cid}, id_token=t["trudy"])

    # Only the owner (or the app's backend) sees and decides requests; a member may not add anyone.
    listed = ok(app, "joinRequests", {"channelId": cid}, id_token=t["alice"])["requests"]
    assert [(r["userId"], r["name"], r["message"]) for r in listed] == [
        ("mallory", "Mallory", "Hi, I'm Bob's friend"),
        ("trudy", "Trudy", None),
    ]
    assert listed[0]["requestedAt"] is not None
    assert ok(app, "joinRequests", {"channelId": cid})["requests"] == listed  # the backend, no X-User-Id
    refused(app, "joinRequests", {"channelId": cid}, 403, "not_channel_owner", id_token=t["bob"])
    refused(app, "joinRequests", {"channelId": cid}, 403, "not_a_member", id_token=t["mallory"])
    decide = {"channelId": cid, "userId": "mallory", "approve": True}
    refused(app, "decideJoin", decide, 403, "not_channel_owner", id_token=t["bob"])
    refused(app, "decideJoin", decide, 403, "not_a_member", id_token=t["mallory"])
    refused(
        app, "addMember", {"channelId": cid, "userId": "walter"}, 403, "not_channel_owner", id_token=t["bob"]
    )

    assert ok(app, "decideJoin", decide, id_token=t["alice"])["status"] == "joined"
    assert ok(app, "posts", {"channelId": cid}, id_token=t["mallory"])["posts"] == []
    assert firestore_get(clean_stack, t["mallory"], f"{base}/messages") == 200
    declined = ok(
        app, "decideJoin", {"channelId": cid, "userId": "trudy", "approve": False}, id_token=t["alice"]
    )
    assert declined["status"] == "declined"
    assert ok(app, "requestJoin", {"channelId": cid}, id_token=t["trudy"])["status"] == "declined"  # stays
    refused(app, "posts", {"channelId": cid}, 403, "not_a_member", id_token=t["trudy"])
    assert ok(app, "joinRequests", {"channelId": cid}, id_token=t["alice"])["requests"] == []
    refused(
        app,
        "decideJoin",
        {"channelId": cid, "userId": "walter", "approve": True},
        404,
        "join_request_not_found",
        id_token=t["alice"],
    )
    # The owner may change their mind; the app's backend may decide too.
    assert ok(app, "decideJoin", {"channelId": cid, "userId": "trudy", "approve": True})["status"] == "joined"
    members = {m["userId"] for m in ok(app, "subs", {"channelId": cid}, id_token=t["alice"])["members"]}
    assert members == {"alice", "bob", "mallory", "trudy"}
    # The app's backend joins a user at once, whatever the policy.
    assert ok(app, "requestJoin", {"channelId": cid}, user="walter")["status"] == "joined"
