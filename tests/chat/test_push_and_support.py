"""Push notifications (queued, sent by deliver to the local FCM stand-in) and support channels opened
from an app: in the agents' inbox, answered through send_message, read back by the app user."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from google.cloud.firestore_v1.base_query import FieldFilter

from infra.local.stack import LocalStack
from shared import ids, store
from tests.chat.client import App
from tests.support import agent_token, eventually

pytestmark = pytest.mark.integration


def pushed(stack: LocalStack, post_id: str) -> list[dict[str, Any]]:
    """The FCM messages (one per device token) sent for a post, once deliver has finished its
    fan-out: after that nothing more is sent for it."""
    eventually(
        lambda: [
            r
            for r in stack.log_records("deliver")
            if r.get("event") == "push_fan_out" and r.get("post_id") == post_id
        ],
        what=f"the push fan-out of {post_id}",
    )
    return [m["message"] for m in stack.fcm.received() if m["message"]["data"].get("postId") == post_id]


def tokens_of(messages: list[dict[str, Any]]) -> list[str]:
    return sorted(m["token"] for m in messages)


def test_new_posts_notify_members_with_devices_who_have_not_muted(app: App, clean_stack: LocalStack) -> None:
    for user in ("alice", "bob", "carol", "dave"):
        app.ok("token", {"userId": user, "name": user.title()})
    channel = app.ok("createSub", {"name": "Club"}, user="alice")["id"]
    for user in ("bob", "carol", "dave"):
        app.ok("createSub", {"channelId": channel}, user=user)
    app.ok("upsertSub", {"channelId": channel, "pushToken": "bob-phone"}, user="bob")
    app.ok("upsertSub", {"channelId": channel, "pushToken": "bob-tablet"}, user="bob")
    app.ok("upsertSub", {"channelId": channel, "pushToken": "carol-phone"}, user="carol")
    app.ok("upsertSub", {"channelId": channel, "pushToken": "alice-phone"}, user="alice")
    assert app.ok("toggleSub", {"channelId": channel}, user="carol")["muted"] is True
    # dave has no device: nothing to send him.

    first = app.ok(
        "createPost", {"channelId": channel, "text": "Meeting at 6", "clientPostId": "p1"}, user="alice"
    )
    notes = pushed(clean_stack, first["id"])
    # bob's two devices, once each; carol muted, dave has none, alice sent it.
    assert tokens_of(notes) == ["bob-phone", "bob-tablet"]
    for note in notes:
        assert (note["notification"]["title"], note["notification"]["body"]) == (
            "Club",
            "Alice: Meeting at 6",
        )
        assert (note["data"]["channelId"], note["data"]["appId"]) == (channel, app.app_id)

    # A retried post (same clientPostId) notifies nobody twice: it queues no second fan-out.
    app.ok("createPost", {"channelId": channel, "text": "Meeting at 6", "clientPostId": "p1"}, user="alice")
    assert tokens_of(pushed(clean_stack, first["id"])) == ["bob-phone", "bob-tablet"]

    # Unmuted, carol hears of the next post; the sender never hears of their own.
    assert app.ok("toggleSub", {"channelId": channel}, user="carol")["muted"] is False
    second = app.ok(
        "createPost", {"channelId": channel, "text": "Bring snacks", "clientPostId": "p2"}, user="bob"
    )
    latest = pushed(clean_stack, second["id"])
    assert tokens_of(latest) == ["alice-phone", "carol-phone"]
    assert {n["notification"]["body"] for n in latest} == {"Bob: Bring snacks"}
    # Still once each (that the retry queues no second fan-out is proven at the queue, in
    # tests/chat/test_push_fanout.py).
    assert tokens_of(pushed(clean_stack, first["id"])) == ["bob-phone", "bob-tablet"]


def test_a_support_channel_reaches_the_agents_inbox_and_their_reply_reaches_the_app_user(
    app: App, clean_stack: LocalStack
) -> None:
    alice = app.user("alice", "Alice Appuser")
    support = app.ok("createSub", {"support": True}, id_token=alice)
    assert (support["kind"], support["group"]) == ("support", False)
    assert app.ok("createSub", {"support": True}, user="alice")["id"] == support["id"]  # one per user
    conversation_id = support["id"]
    assert conversation_id == ids.conversation_id("app", "alice")
    app.ok("upsertSub", {"channelId": conversation_id, "pushToken": "alice-phone"}, id_token=alice)
    asked = app.ok(
        "createPost",
        {"channelId": conversation_id, "text": "My order is late", "clientPostId": "h1"},
        id_token=alice,
    )

    # The agents' inbox: the tenant's open conversations, latest activity first.
    inbox = (
        store.client()
        .collection("tenants")
        .document(app.app_id)
        .collection("conversations")
        .where(filter=FieldFilter("status", "==", "open"))
        .order_by("lastActivityAtMs", direction="DESCENDING")
        .limit(30)
    )
    rows = {s.id: s.to_dict() or {} for s in inbox.stream()}
    assert conversation_id in rows
    row = rows[conversation_id]
    assert (row["kind"], row["channel"], row["contactExternalId"], row["contactName"]) == (
        "support",
        "app",
        "alice",
        "Alice Appuser",
    )
    assert row["unreadCount"] == 1
    assert row["lastMessage"]["text"] == "My order is late"

    # An agent of the app's tenant answers through send_message; no provider, no task: sent at once.
    token = agent_token(
        clean_stack, app.app_id, f"agent-{uuid.uuid4().hex[:6]}@apps.test", name="Sam Support"
    )

    def send(message: dict[str, Any], client_id: str) -> requests.Response:
        return requests.post(
            clean_stack.function_urls["send_message"],
            headers={"Authorization": f"Bearer {token}"},
            json={"conversationId": conversation_id, "clientMessageId": client_id, "message": message},
            timeout=30,
        )

    reply = send({"type": "text", "text": "Sorry! It ships today."}, "r1")
    assert reply.status_code == 200, reply.text
    assert (reply.json()["status"], reply.json()["created"]) == ("sent", True)
    assert send({"type": "text", "text": "Sorry! It ships today."}, "r1").json()["created"] is False
    note = send({"type": "note", "text": "VIP customer, refund if needed"}, "n1")
    assert note.status_code == 200, note.text
    message = store.get_message(app.app_id, conversation_id, reply.json()["messageId"])
    assert message is not None
    assert (message.data["status"], message.data["direction"]) == ("sent", "out")
    # The agent resolves it: an activity line (direction "system") the app user never sees, in the
    # history, the unread count, the last message or their listener (below).
    resolved = requests.post(
        clean_stack.function_urls["agent_api"],
        headers={"Authorization": f"Bearer {token}"},
        json={"action": "set_status", "conversationId": conversation_id, "status": "resolved"},
        timeout=30,
    )
    assert resolved.status_code == 200, resolved.text
    messages = store.conversation_ref(app.app_id, conversation_id).collection("messages").stream()
    assert [m.to_dict()["text"] for m in messages if m.to_dict()["direction"] == "system"] == [
        "Sam Support resolved the conversation"
    ]

    # The app user reads the reply through the API, never the note (nor the activity line).
    posts = app.ok("posts", {"channelId": conversation_id}, id_token=alice)["posts"]
    assert [(p["user"]["kind"], p["information"]["text"]) for p in posts] == [
        ("agent", "Sorry! It ships today."),
        ("user", "My order is late"),
    ]
    assert posts[0]["user"]["name"] == "Sam Support"
    assert posts[1]["id"] == asked["id"]
    mine = app.ok("mysubs", id_token=alice)["channels"]
    assert [(c["id"], c["unreadCount"], c["lastMessageText"]) for c in mine] == [
        (conversation_id, 1, "Sorry! It ships today.")
    ]
    assert app.ok("setRead", {"channelId": conversation_id}, id_token=alice)["unreadCount"] == 0
    notes = pushed(clean_stack, reply.json()["messageId"])
    assert tokens_of(notes) == ["alice-phone"]
    assert (notes[0]["notification"]["title"], notes[0]["notification"]["body"]) == (
        "Sam Support",
        "Sorry! It ships today.",
    )

    # ...and through their Firestore listener: replies yes, notes never (the rules refuse a query
    # that could return one).
    base = (
        f"http://{clean_stack.firestore_host}/v1/projects/{clean_stack.project}/databases/(default)/documents/"
        f"tenants/{app.app_id}/conversations/{conversation_id}"
    )

    def query(where: dict[str, Any] | None) -> requests.Response:
        structured: dict[str, Any] = {"from": [{"collectionId": "messages"}], "limit": 50}
        if where:
            structured["where"] = where
        return requests.post(
            f"{base}:runQuery",
            headers={"Authorization": f"Bearer {alice}"},
            json={"structuredQuery": structured},
            timeout=10,
        )

    visible = query(
        {
            "fieldFilter": {
                "field": {"fieldPath": "direction"},
                "op": "IN",
                "value": {"arrayValue": {"values": [{"stringValue": "in"}, {"stringValue": "out"}]}},
            }
        }
    )
    assert visible.status_code == 200, visible.text
    texts = sorted(r["document"]["fields"]["text"]["stringValue"] for r in visible.json() if "document" in r)
    assert texts == ["My order is late", "Sorry! It ships today."]
    assert query(None).status_code == 403


def test_an_apps_staff_can_neither_read_nor_write_its_users_direct_and_group_chats(
    app: App, clean_stack: LocalStack
) -> None:
    """An app's admin (its developer) and agents answer support channels; its users' own direct and
    group channels are private: send_message refuses them, and the rules refuse reading them."""
    app.user("alice")
    app.user("bob")
    group = app.ok("createSub", {"name": "Private club"}, user="alice")["id"]
    direct = app.ok("createPM", {"userId": "bob"}, user="alice")["id"]
    support = app.ok("createSub", {"support": True}, user="alice")["id"]
    for channel in (group, direct):
        app.ok("createPost", {"channelId": channel, "text": "just us", "clientPostId": "p1"}, user="alice")
    for role in ("agent", "admin"):
        token = agent_token(clean_stack, app.app_id, f"{role}-{uuid.uuid4().hex[:6]}@apps.test", role=role)
        base = f"http://{clean_stack.firestore_host}/v1/projects/{clean_stack.project}/databases/(default)/"

        def read(path: str, token: str = token, base: str = base) -> int:
            url = f"{base}documents/tenants/{app.app_id}/conversations/{path}"
            return requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code

        def send(channel: str, token: str = token) -> requests.Response:
            return requests.post(
                clean_stack.function_urls["send_message"],
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "conversationId": channel,
                    "clientMessageId": f"x-{uuid.uuid4().hex[:6]}",
                    "message": {"type": "text", "text": "hello from staff"},
                },
                timeout=30,
            )

        def act(channel: str, action: dict[str, str], token: str = token) -> requests.Response:
            return requests.post(
                clean_stack.function_urls["agent_api"],
                headers={"Authorization": f"Bearer {token}"},
                json={"conversationId": channel, **action},
                timeout=30,
            )

        actions = (
            {"action": "assign", "assigneeId": None},
            {"action": "set_status", "status": "resolved"},
            {"action": "mark_read"},
        )
        for channel in (group, direct):
            assert read(channel) == 403, (role, channel)
            assert read(f"{channel}/messages") == 403, (role, channel)
            refused = send(channel)
            assert refused.status_code == 404, refused.text
            assert refused.json()["error"]["code"] == "conversation_not_found"
            for action in actions:  # nor assign, resolve or mark them read
                answer = act(channel, action)
                assert answer.status_code == 404, (action, answer.text)
        assert store.get_conversation(app.app_id, group).get("status") != "resolved"
        assert act(support, {"action": "set_status", "status": "resolved"}).status_code == 200
        assert read(support) == 200
        assert read(f"{support}/messages") == 200
        assert send(support).status_code == 200
    texts = [p["information"]["text"] for p in app.ok("posts", {"channelId": group}, user="alice")["posts"]]
    assert texts == ["just us"]
