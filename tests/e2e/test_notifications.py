"""Agent notifications in Chromium (issue 17 parts 1 and 6): two agents in two browsers. Sam allowed
background notifications (his browser registered its service worker and web-push token); Dana
assigns him a conversation, then mentions him in a private note picked from the @ autocomplete.
Sam's dashboard shows a toast for each, the tab's title and the favicon badge count them, and the
FCM stand-in received the pushes his service worker would show in a background tab."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from infra.local import demo
from infra.local.stack import LocalStack
from shared import ids, store
from tests.e2e.conftest import DANA, SAM, Agent
from tests.support import eventually, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
T = demo.DEMO_TENANT


def feed_events(uid: str) -> list[str]:
    ref = store.client().collection("tenants").document(T).collection("agents").document(uid)
    return sorted(str((s.to_dict() or {}).get("event")) for s in ref.collection("notifications").stream())


def pushes(stack: LocalStack, token: str, event: str) -> list[dict[str, Any]]:
    return [
        m["message"]
        for m in stack.fcm.received()
        if m["message"].get("token") == token and m["message"]["data"]["event"] == event
    ]


def test_an_assignment_and_a_mention_reach_the_other_agent_in_app_and_by_web_push(
    clean_stack: LocalStack, open_dashboard: Any, agents: dict[str, Agent]
) -> None:
    sam_uid = agents[SAM.email].uid
    body = whatsapp_text_webhook(
        WA.external_id, "15550009001", "My order is late", name="Kerry Fisher", timestamp=int(time.time())
    )
    assert post_webhook(clean_stack, "whatsapp", body).status_code == 200
    conversation_id = ids.conversation_id(WA.channel_id, "15550009001")
    eventually(lambda: feed_events(sam_uid) == ["new_conversation"] or None, what="the first notification")

    # Sam's browser allows notifications: the dashboard registers its service worker and token.
    sam = open_dashboard(SAM, service_workers="allow", permissions=["notifications"])
    token = eventually(
        lambda: sam.evaluate("() => localStorage.getItem('switchboard.pushToken')"), what="Sam's token"
    )
    eventually(
        lambda: token in (store.notification_settings(T, [sam_uid])[sam_uid].get("tokens") or []) or None,
        what="the token registered",
    )
    worker = sam.evaluate(
        "async () => (await navigator.serviceWorker.ready).active.scriptURL"  # served from web/public
    )
    assert worker.endswith("/notifications-sw.js")
    expect(sam.get_by_test_id("notification-count")).to_have_text("1")  # the new conversation
    expect(sam).to_have_title("🔔1 (1) Switchboard")
    expect(sam.get_by_test_id("notification-toast")).to_have_count(0)  # not news: it was there before

    # Dana assigns the conversation to Sam: a toast, the title and the badge say so at once.
    dana = open_dashboard(DANA)
    dana.locator(f'[data-testid="conversation-row"][data-conversation-id="{conversation_id}"]').click()
    dana.get_by_test_id("assignee").select_option(sam_uid)  # "Sam Support · Online"
    toast = sam.get_by_test_id("notification-toast").filter(has_text="Dana Agent assigned you Kerry Fisher")
    expect(toast).to_be_visible()
    expect(toast).to_have_attribute("data-event", "assigned")
    expect(sam).to_have_title("🔔2 Switchboard")  # Dana read the customer's message
    expect(sam.locator("link[rel~='icon']")).to_have_attribute("data-badge", "2")
    assert sam.locator("link[rel~='icon']").get_attribute("href").startswith("data:image/png")
    pushed = eventually(lambda: pushes(clean_stack, token, "assigned"), what="the assignment's web push")
    assert pushed[0]["notification"]["title"] == "Dana Agent assigned you Kerry Fisher"
    assert pushed[0]["data"]["conversationId"] == conversation_id

    # Dana mentions Sam in a note, picking him from the @ list.
    dana.get_by_test_id("note-toggle").check()
    box = dana.get_by_test_id("composer-input")
    box.press_sequentially("@Sa")
    expect(dana.get_by_test_id("mention-option")).to_have_text([f"{SAM.name}{SAM.email}"])
    box.press("Enter")
    expect(box).to_have_value(f"@{SAM.name} ")
    box.press_sequentially("can you call her back?")
    dana.get_by_test_id("send").click()
    mention = sam.get_by_test_id("notification-toast").filter(has_text="Dana Agent mentioned you")
    expect(mention).to_contain_text(f"@{SAM.name} can you call her back?")
    expect(sam).to_have_title("🔔3 Switchboard")
    pushed = eventually(lambda: pushes(clean_stack, token, "mention"), what="the mention's web push")
    assert pushed[0]["notification"]["body"] == f"@{SAM.name} can you call her back?"
    assert "mention" not in feed_events(agents[DANA.email].uid)  # the author is not notified

    # A click on the toast opens the conversation and marks that notification read.
    mention.get_by_role("button").first.click()
    expect(sam.get_by_test_id("thread-contact")).to_have_text("Kerry Fisher")
    expect(sam.get_by_test_id("notification-count")).to_have_text("2")
    sam.get_by_test_id("notification-bell").click()
    expect(sam.get_by_test_id("notification-item")).to_have_count(3)
    sam.get_by_text("Mark all read").click()
    expect(sam.get_by_test_id("notification-count")).to_have_count(0)
    expect(sam.locator("link[rel~='icon']")).to_have_attribute("data-badge", "0")
