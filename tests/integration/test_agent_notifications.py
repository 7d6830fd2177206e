"""Agent notifications on the emulators (issue 17 parts 1 and 6): who is notified for which event
(a new conversation, a customer's message in my conversation, an assignment to me, a mention of me
in a note), preferences and quiet hours honoured, a dead web-push token dropped; every push goes
through the FCM stand-in, every feed entry to tenants/{t}/agents/{uid}/notifications."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from infra.local import demo
from infra.local.stack import LocalStack
from shared import ids, notifications, store
from tests.support import agent_token, eventually, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
T = demo.DEMO_TENANT


class Agent:
    def __init__(self, stack: LocalStack, email: str, name: str) -> None:
        self.token = agent_token(stack, T, email, name=name)
        claims = self.token.split(".")[1]
        self.uid = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["user_id"]
        self.name = name
        self.push_token = f"web-{name.lower()}-{uuid.uuid4().hex}"


@pytest.fixture
def team(clean_stack: LocalStack) -> dict[str, Agent]:
    return {
        "dana": Agent(clean_stack, "dana@demo.test", "Dana"),
        "sam": Agent(clean_stack, "sam@demo.test", "Sam Rivera"),
        "lee": Agent(clean_stack, "lee@demo.test", "Lee"),
    }


def api(stack: LocalStack, agent: Agent, body: dict[str, Any], function: str = "agent_api") -> dict:
    response = requests.post(
        stack.function_urls[function],
        headers={"Authorization": f"Bearer {agent.token}"},
        json=body,
        timeout=15,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def register(stack: LocalStack, agent: Agent) -> None:
    api(stack, agent, {"action": "register_push_token", "token": agent.push_token})


def customer_writes(stack: LocalStack, wa_id: str, text: str = "Hello?") -> str:
    body = whatsapp_text_webhook(WA.external_id, wa_id, text, wamid=f"wamid.{uuid.uuid4().hex}")
    assert post_webhook(stack, "whatsapp", body).status_code == 200
    return ids.conversation_id(WA.channel_id, wa_id)


def feed(agent: Agent) -> list[dict[str, Any]]:
    ref = store.client().collection("tenants").document(T).collection("agents").document(agent.uid)
    entries = [s.to_dict() or {} for s in ref.collection("notifications").stream()]
    return sorted(entries, key=lambda e: e["createdAtMs"])


def pushes_to(stack: LocalStack, agent: Agent) -> list[dict[str, Any]]:
    return [m["message"] for m in stack.fcm.received() if m["message"].get("token") == agent.push_token]


def test_a_new_conversation_notifies_every_agent_and_later_messages_only_its_assignee(
    clean_stack: LocalStack, team: dict[str, Agent]
) -> None:
    dana, sam, lee = team["dana"], team["sam"], team["lee"]
    register(clean_stack, dana)
    register(clean_stack, sam)
    conversation_id = customer_writes(clean_stack, "15550001001", "My parcel never came")

    for agent in (dana, sam, lee):
        entries = eventually(lambda a=agent: feed(a), what=f"{agent.name}'s notification")
        assert [e["event"] for e in entries] == ["new_conversation"]
        assert entries[0]["conversationId"] == conversation_id
        assert entries[0]["body"] == "My parcel never came" and entries[0]["read"] is False
    push = eventually(lambda: pushes_to(clean_stack, dana), what="Dana's web push")[0]
    assert push["notification"]["title"].startswith("New conversation")
    assert push["data"]["conversationId"] == conversation_id and push["data"]["event"] == "new_conversation"
    eventually(lambda: pushes_to(clean_stack, sam), what="Sam's web push")

    # Assigned to Sam (by Dana): Sam is told; then the customer's next message reaches only Sam.
    api(clean_stack, dana, {"action": "assign", "conversationId": conversation_id, "assigneeId": sam.uid})
    eventually(lambda: [e for e in feed(sam) if e["event"] == "assigned"], what="Sam's assignment")
    # One notification per conversation per slot: the next message falls in a later one.
    slot = int(time.time() // notifications.SLOT_SECONDS)
    eventually(lambda: int(time.time() // notifications.SLOT_SECONDS) > slot or None, what="the next slot")
    customer_writes(clean_stack, "15550001001", "Any news?")
    latest = eventually(
        lambda: [e for e in feed(sam) if e["event"] == "message"], what="Sam's message notification"
    )[0]
    assert latest["body"] == "Any news?" and latest["title"] != ""
    # The feed is written after the task's pushes, by the same task as Sam's entry.
    assert [p for p in pushes_to(clean_stack, sam) if p["data"]["event"] == "message"]
    assert [e["event"] for e in feed(dana)] == ["new_conversation"]
    assert [e["event"] for e in feed(lee)] == ["new_conversation"]


def test_an_assignment_notifies_the_assignee_unless_they_took_it_themselves(
    clean_stack: LocalStack, team: dict[str, Agent]
) -> None:
    dana, sam = team["dana"], team["sam"]
    conversation_id = customer_writes(clean_stack, "15550001002")
    eventually(lambda: feed(sam), what="the new-conversation notification")
    api(clean_stack, sam, {"action": "assign", "conversationId": conversation_id, "assigneeId": sam.uid})
    other = customer_writes(clean_stack, "15550001003")
    eventually(lambda: len(feed(sam)) == 2 or None, what="the second new conversation")
    api(
        clean_stack,
        dana,
        {"action": "bulk", "conversationIds": [other], "op": "assign", "assigneeId": sam.uid},
    )
    assigned = eventually(lambda: [e for e in feed(sam) if e["event"] == "assigned"], what="the assignment")
    assert len(assigned) == 1 and assigned[0]["conversationId"] == other
    assert assigned[0]["title"].startswith("Dana assigned you") and assigned[0]["actorId"] == dana.uid


def test_a_mention_in_a_note_notifies_the_mentioned_agent(
    clean_stack: LocalStack, team: dict[str, Agent]
) -> None:
    dana, sam, lee = team["dana"], team["sam"], team["lee"]
    register(clean_stack, sam)
    conversation_id = customer_writes(clean_stack, "15550001004")
    eventually(lambda: feed(sam), what="the new-conversation notification")
    answer = api(
        clean_stack,
        dana,
        {
            "conversationId": conversation_id,
            "clientMessageId": uuid.uuid4().hex,
            "message": {"type": "note", "text": "@Sam Rivera can you check the refund? cc @dana"},
        },
        function="send_message",
    )
    assert answer["mentions"] == [sam.uid, dana.uid]  # Dana mentioned herself: never notified
    note = store.get_message(T, conversation_id, answer["messageId"])
    assert note is not None and note.data["mentions"] == [sam.uid, dana.uid]
    mention = eventually(lambda: [e for e in feed(sam) if e["event"] == "mention"], what="Sam's mention")[0]
    assert mention["title"] == "Dana mentioned you"
    assert mention["body"].startswith("@Sam Rivera can you check")
    push = next(p for p in pushes_to(clean_stack, sam) if p["data"]["event"] == "mention")
    assert push["notification"]["title"] == "Dana mentioned you"
    assert [e["event"] for e in feed(lee)] == ["new_conversation"]
    assert [e["event"] for e in feed(dana)] == ["new_conversation"]


def test_preferences_turn_events_off_and_quiet_hours_silence_them(
    clean_stack: LocalStack, team: dict[str, Agent]
) -> None:
    dana, sam = team["dana"], team["sam"]
    register(clean_stack, dana)
    register(clean_stack, sam)
    off = {"new_conversation": False, "message": True, "mention": True, "assigned": True}
    api(clean_stack, dana, {"action": "save_notification_settings", "events": off})
    now = datetime.now(UTC)
    quiet = {
        "enabled": True,
        "start": (now - timedelta(hours=1)).strftime("%H:%M"),
        "end": (now + timedelta(hours=1)).strftime("%H:%M"),
        "timeZone": "UTC",
    }
    api(clean_stack, sam, {"action": "save_notification_settings", "quietHours": quiet})
    saved = api(clean_stack, sam, {"action": "notification_settings"})
    assert saved["quietHours"] == quiet and saved["events"]["new_conversation"] is True
    assert saved["browsers"] == 1

    customer_writes(clean_stack, "15550001005")
    entry = eventually(lambda: feed(sam), what="Sam's quiet notification")[0]
    assert entry["quiet"] is True
    # One task wrote Sam's entry after handing over its pushes: Dana's nothing, no push at all.
    assert feed(dana) == []  # turned off
    assert clean_stack.fcm.received() == []  # Dana: off; Sam: quiet hours


def test_invalid_preferences_are_refused(clean_stack: LocalStack, team: dict[str, Agent]) -> None:
    for body in (
        {"action": "save_notification_settings", "quietHours": {"enabled": True, "start": "25:00"}},
        {"action": "save_notification_settings", "quietHours": {"timeZone": "Mars/Olympus"}},
        {"action": "save_notification_settings", "events": {"everything": True}},
        {"action": "register_push_token", "token": "x"},
    ):
        response = requests.post(
            clean_stack.function_urls["agent_api"],
            headers={"Authorization": f"Bearer {team['dana'].token}"},
            json=body,
            timeout=15,
        )
        assert response.status_code == 400, (body, response.text)


def test_a_dead_web_push_token_is_dropped(clean_stack: LocalStack, team: dict[str, Agent]) -> None:
    dana = team["dana"]
    register(clean_stack, dana)
    spare = f"web-spare-{uuid.uuid4().hex}"
    api(clean_stack, dana, {"action": "register_push_token", "token": spare})
    clean_stack.fcm.kill_tokens([dana.push_token])
    customer_writes(clean_stack, "15550001006")
    eventually(
        lambda: store.notification_settings(T, [dana.uid])[dana.uid].get("tokens") == [spare] or None,
        what="the dead token dropped",
    )
    assert [m["message"]["token"] for m in clean_stack.fcm.received()] == [spare]
    assert api(clean_stack, dana, {"action": "notification_settings"})["browsers"] == 1


def test_marking_notifications_read(clean_stack: LocalStack, team: dict[str, Agent]) -> None:
    dana = team["dana"]
    customer_writes(clean_stack, "15550001007")
    customer_writes(clean_stack, "15550001008")
    eventually(lambda: len(feed(dana)) == 2 or None, what="two notifications")
    assert api(clean_stack, dana, {"action": "mark_notifications_read"})["marked"] == 2
    assert all(e["read"] for e in feed(dana))
    assert api(clean_stack, dana, {"action": "mark_notifications_read"})["marked"] == 0
