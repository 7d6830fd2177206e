"""The agents' dashboard end to end: signed webhooks in, the live inbox in Chromium, replies out
through send_message to the provider sandbox, receipts back as ticks; tenants kept apart; the
reply-window rules in the composer; the phone layout; every message type rendered."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from infra.local import demo
from infra.local.stack import LocalStack
from shared import ids, store
from tests.e2e.conftest import DANA, EVE, PHONE, SAM, Agent
from tests.support import eventually, post_webhook, whatsapp_status_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
PAGE = next(c for c in demo.DEMO_CHANNELS if c.kind == "messenger")
HOUR = 3600
# What a screen reader would call the focused element: its aria-label, form name, or text.
FOCUSED_NAME = "(e => e.getAttribute('aria-label') || e.name || e.textContent.trim())(document.activeElement)"


# --- arranging: customers write, as the providers would deliver it ---------------------------------


def whatsapp_customer(
    stack: LocalStack, wa_id: str, text: str, *, name: str = "Kerry Fisher", age_seconds: int = 0
) -> str:
    """A customer writes on WhatsApp (a signed webhook); return the conversation id."""
    body = whatsapp_text_webhook(
        WA.external_id, wa_id, text, name=name, timestamp=int(time.time()) - age_seconds
    )
    assert post_webhook(stack, "whatsapp", body).status_code == 200
    return ids.conversation_id(WA.channel_id, wa_id)


def messenger_customer(stack: LocalStack, psid: str, text: str, *, age_seconds: int = 0) -> str:
    """A customer writes on Messenger (a signed webhook); return the conversation id."""
    at = int((time.time() - age_seconds) * 1000)
    body = {
        "object": "page",
        "entry": [
            {
                "id": PAGE.external_id,
                "time": at,
                "messaging": [
                    {
                        "sender": {"id": psid},
                        "recipient": {"id": PAGE.external_id},
                        "timestamp": at,
                        "message": {"mid": f"m_{uuid.uuid4().hex}", "text": text},
                    }
                ],
            }
        ],
    }
    assert post_webhook(stack, "messenger", body).status_code == 200
    return ids.conversation_id(PAGE.channel_id, psid)


def whatsapp_receipt(wa_id: str, wamid: str, status: str) -> dict[str, Any]:
    """A documented WhatsApp `statuses` webhook for one of our messages."""
    return whatsapp_status_webhook(WA.external_id, wa_id, wamid, status)


def sends(stack: LocalStack, channel: str | None = None) -> list[Any]:
    """Messages the provider sandbox received; opening a conversation also sends a read receipt
    for the customer's message (WhatsApp mark_read, Messenger/Instagram mark_seen), typing sends
    typing signals (WhatsApp's rides on a read receipt; sender_action typing_on; Telegram
    sendChatAction) and the template picker lists templates: none of those is a message."""
    return [
        call
        for call in stack.sandbox.requests(channel)
        if not (
            isinstance(call.json, dict)
            and (call.json.get("status") == "read" or "sender_action" in call.json)
        )
        and not call.path.endswith(("/message_templates", "/sendChatAction"))
    ]


def wait_for_conversation(conversation_id: str, tenant: str = demo.DEMO_TENANT) -> dict[str, Any]:
    return eventually(lambda: store.get_conversation(tenant, conversation_id), what="the conversation")


# --- acting: what an agent does on the page ------------------------------------------------------------


def row(page: Page, conversation_id: str) -> Any:
    return page.locator(f'[data-testid="conversation-row"][data-conversation-id="{conversation_id}"]')


def message(page: Page, text: str) -> Any:
    return page.get_by_test_id("message").filter(has_text=text)


def status_filter(page: Page, label: str) -> None:
    group = page.get_by_test_id("status-filter")
    group.locator("label").filter(has_text=label).click()  # the radio itself is visually hidden
    expect(group.get_by_role("radio", name=label)).to_be_checked()


def reply(page: Page, text: str) -> None:
    box = page.get_by_test_id("composer-input")
    box.fill(text)
    box.press("Enter")


# --- the tests ---------------------------------------------------------------------------------------


def test_an_agent_signs_in_and_new_conversations_and_messages_appear_live(
    clean_stack: LocalStack, open_dashboard: Any
) -> None:
    page = open_dashboard(DANA)
    expect(page.get_by_test_id("tenant-name")).to_have_text("Demo Shop")
    expect(page.get_by_test_id("inbox-empty")).to_be_visible()

    conversation_id = whatsapp_customer(clean_stack, "15550001001", "Where is my order #1234?")
    conversation = row(page, conversation_id)
    expect(conversation).to_contain_text("Kerry Fisher")
    expect(conversation).to_contain_text("Where is my order #1234?")
    expect(conversation.get_by_test_id("unread-badge")).to_have_text("1")
    expect(conversation.locator('[data-channel="whatsapp"]')).to_be_visible()

    conversation.click()
    expect(page.get_by_test_id("thread-contact")).to_have_text("Kerry Fisher")
    expect(message(page, "Where is my order #1234?")).to_be_visible()
    # Opening it called mark_read: unread goes to 0 for everyone.
    expect(conversation.get_by_test_id("unread-badge")).to_have_count(0)
    eventually(
        lambda: (store.get_conversation(demo.DEMO_TENANT, conversation_id) or {}).get("unreadCount") == 0,
        what="unreadCount 0",
    )

    # The customer writes again while the conversation is open: no reload.
    whatsapp_customer(clean_stack, "15550001001", "Hello? Anyone there?")
    expect(message(page, "Hello? Anyone there?")).to_be_visible()
    expect(conversation).to_contain_text("Hello? Anyone there?")

    # A second customer: a new row, on top.
    second = whatsapp_customer(clean_stack, "15550001002", "Do you ship to Norway?", name="Ola Nordmann")
    expect(page.get_by_test_id("conversation-row").first).to_have_attribute("data-conversation-id", second)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_a_reply_reaches_the_provider_its_ticks_advance_and_a_colleague_sees_it_live(
    clean_stack: LocalStack, open_dashboard: Any
) -> None:
    wa_id = "15550002001"
    conversation_id = whatsapp_customer(clean_stack, wa_id, "Can I change my address?")
    wait_for_conversation(conversation_id)
    dana = open_dashboard(DANA)
    sam = open_dashboard(SAM)
    for page in (dana, sam):
        row(page, conversation_id).click()
        expect(message(page, "Can I change my address?")).to_be_visible()

    reply(dana, "Sure: what is the new address?")
    sent = message(dana, "Sure: what is the new address?")
    expect(sent).to_be_visible()
    expect(sent.get_by_test_id("ticks")).to_have_attribute("data-status", "sent")
    calls = eventually(lambda: sends(clean_stack, "whatsapp"), what="the provider call")
    assert [c.json for c in calls] == [
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": wa_id,
            "type": "text",
            "text": {"body": "Sure: what is the new address?", "preview_url": False},
        }
    ]
    assert dana.get_by_test_id("composer-input").input_value() == ""

    # Sam, in another browser, sees Dana's reply arrive live, signed with her name.
    theirs = message(sam, "Sure: what is the new address?")
    expect(theirs).to_be_visible()
    expect(theirs.get_by_test_id("sender")).to_have_text("Dana Agent")

    # WhatsApp reports delivered, then read: the ticks follow, in both browsers.
    stored = eventually(
        lambda: [
            s.to_dict()
            for s in store.conversation_ref(demo.DEMO_TENANT, conversation_id).collection("messages").stream()
            if (s.to_dict() or {}).get("providerMessageId") and s.get("direction") == "out"
        ],
        what="the provider's message id",
    )
    wamid = stored[0]["providerMessageId"]
    assert (
        post_webhook(clean_stack, "whatsapp", whatsapp_receipt(wa_id, wamid, "delivered")).status_code == 200
    )
    expect(sent.get_by_test_id("ticks")).to_have_attribute("data-status", "delivered")
    assert post_webhook(clean_stack, "whatsapp", whatsapp_receipt(wa_id, wamid, "read")).status_code == 200
    expect(sent.get_by_test_id("ticks")).to_have_attribute("data-status", "read")
    expect(theirs.get_by_test_id("ticks")).to_have_attribute("data-status", "read")
    expect(dana.get_by_test_id("pending-message")).to_have_count(0)


def test_an_agent_of_another_tenant_sees_none_of_it(clean_stack: LocalStack, open_dashboard: Any) -> None:
    conversation_id = whatsapp_customer(clean_stack, "15550003001", "Private to the demo shop")
    wait_for_conversation(conversation_id)
    dana = open_dashboard(DANA)
    expect(row(dana, conversation_id)).to_be_visible()

    eve = open_dashboard(EVE)
    expect(eve.get_by_test_id("tenant-name")).to_have_text("Acme Corp")
    expect(eve.get_by_test_id("inbox-empty")).to_be_visible()
    status_filter(eve, "All")
    expect(eve.get_by_test_id("inbox-empty")).to_be_visible()
    expect(eve.get_by_test_id("conversation-row")).to_have_count(0)
    # Even with the conversation's address, the rules refuse it.
    eve.goto(f"{eve.url.split('#')[0]}#/c/{conversation_id}")
    expect(eve.get_by_text("This conversation does not exist")).to_be_visible()
    expect(eve.get_by_text("Private to the demo shop")).to_have_count(0)


def test_a_closed_whatsapp_window_offers_only_templates(clean_stack: LocalStack, open_dashboard: Any) -> None:
    wa_id = "15550004001"
    conversation_id = whatsapp_customer(clean_stack, wa_id, "Are you open on Sunday?", age_seconds=30 * HOUR)
    wait_for_conversation(conversation_id)
    page = open_dashboard(DANA)
    row(page, conversation_id).click()

    expect(message(page, "Are you open on Sunday?")).to_be_visible()
    expect(page.get_by_test_id("reply-window")).to_have_attribute("data-mode", "template")
    expect(page.get_by_test_id("template-picker")).to_be_visible()
    expect(page.get_by_test_id("composer-input")).to_have_count(0)

    # The approved templates come from the provider (the sandbox's demo business account).
    page.get_by_test_id("template-select").select_option("order_update|en_US")
    expect(page.get_by_test_id("template-parameter")).to_have_count(1)
    page.get_by_test_id("template-parameter").first.fill("#1234")
    page.get_by_test_id("send-template").click()

    sent = page.get_by_test_id("message").filter(has_text="order_update")
    expect(sent.get_by_test_id("ticks")).to_have_attribute("data-status", "sent")
    call = eventually(lambda: sends(clean_stack, "whatsapp"), what="the template call")[0]
    assert call.json["type"] == "template"
    assert call.json["template"]["name"] == "order_update"
    assert call.json["template"]["language"]["code"] == "en_US"

    # A private note is still possible when the window is closed.
    page.get_by_test_id("note-toggle").check()
    reply(page, "Customer asked about Sunday hours")
    note = message(page, "Customer asked about Sunday hours")
    expect(note).to_have_attribute("data-direction", "note")
    expect(note.get_by_test_id("sender")).to_contain_text("Private note")


def test_messenger_after_24_hours_needs_the_human_agent_tag(
    clean_stack: LocalStack, open_dashboard: Any
) -> None:
    conversation_id = messenger_customer(
        clean_stack, "2900000000001", "Still waiting for a refund", age_seconds=30 * HOUR
    )
    wait_for_conversation(conversation_id)
    page = open_dashboard(DANA)
    row(page, conversation_id).click()
    expect(page.get_by_test_id("reply-window")).to_have_attribute("data-mode", "tag")

    reply(page, "Your refund was issued today.")
    expect(page.get_by_test_id("composer-error")).to_contain_text("Human Agent tag")
    expect(page.get_by_test_id("composer-input")).to_have_value("Your refund was issued today.")

    page.get_by_test_id("human-agent-tag").check()
    page.get_by_test_id("composer-input").press("Enter")
    sent = message(page, "Your refund was issued today.")
    expect(sent.get_by_test_id("ticks")).to_have_attribute("data-status", "sent")
    call = eventually(lambda: sends(clean_stack, "messenger"), what="the Messenger call")[0]
    assert call.json["tag"] == "HUMAN_AGENT"


def test_notes_assignment_status_and_keyboard(
    clean_stack: LocalStack, open_dashboard: Any, agents: dict[str, Agent]
) -> None:
    first = whatsapp_customer(clean_stack, "15550005001", "First customer", name="Ana First", age_seconds=120)
    wait_for_conversation(first)
    second = whatsapp_customer(clean_stack, "15550005002", "Second customer", name="Ben Second")
    wait_for_conversation(second)
    page = open_dashboard(DANA)
    expect(page.get_by_test_id("conversation-row")).to_have_count(2)

    # j / k move through the list (newest first), opening what they land on.
    page.locator("body").press("j")
    expect(page.get_by_test_id("thread-contact")).to_have_text("Ben Second")
    page.locator("body").press("j")
    expect(page.get_by_test_id("thread-contact")).to_have_text("Ana First")
    page.locator("body").press("k")
    expect(page.get_by_test_id("thread-contact")).to_have_text("Ben Second")
    # Arrow keys in the list do the same.
    page.get_by_role("listbox", name="Conversations").focus()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_test_id("thread-contact")).to_have_text("Ana First")

    # Tab walks the page in reading order: search, filters, the list (one stop), the conversation.
    page.get_by_label("Search messages and contacts").focus()
    order = []
    for _ in range(8):
        page.keyboard.press("Tab")
        order.append(page.evaluate(FOCUSED_NAME))
    assert order == [
        "status-filter",
        "Filter by channel",
        "Filter by assignee",
        "Filter by label",
        "Conversations",
        "Labels",
        "Assignee",
        "Resolve",
    ], order

    # Shift+Enter is a new line, Enter sends; a note is never sent to the customer.
    page.get_by_test_id("note-toggle").check()
    box = page.get_by_test_id("composer-input")
    box.fill("VIP customer")
    box.press("Shift+Enter")
    box.press_sequentially("handle with care")
    box.press("Enter")
    note = page.get_by_test_id("message").filter(has_text="VIP customer")
    expect(note).to_have_attribute("data-direction", "note")
    expect(note).to_contain_text("handle with care")
    assert sends(clean_stack) == []

    # Assign to a colleague: the list row says so.
    assignee = page.get_by_test_id("assignee")
    expect(assignee.locator("option", has_text="Sam Support")).to_contain_text("Offline")  # presence
    assignee.select_option(agents[SAM.email].uid)
    expect(row(page, first)).to_contain_text("Sam Support")
    page.get_by_label("Filter by assignee").select_option("unassigned")
    expect(row(page, first)).to_have_count(0)
    expect(row(page, second)).to_be_visible()
    page.get_by_label("Filter by assignee").select_option("anyone")

    # Resolve: it leaves the Open list; the Resolved filter shows it; reopen brings it back.
    page.get_by_test_id("resolve").click()
    expect(page.get_by_test_id("thread-status")).to_have_text("Resolved")
    expect(row(page, first)).to_have_count(0)
    status_filter(page, "Resolved")
    expect(row(page, first)).to_be_visible()
    page.get_by_test_id("reopen").click()
    expect(page.get_by_test_id("thread-status")).to_have_text("Open")

    page.get_by_test_id("snooze").select_option(label="1 hour")
    # Sentence case, and short enough to leave the contact's name its room.
    expect(page.get_by_test_id("thread-status")).to_contain_text("Snoozed until ")
    name_box = page.get_by_test_id("thread-contact").bounding_box()  # 1280 px wide: not squeezed
    assert name_box is not None and name_box["width"] >= 150, name_box
    data = store.get_conversation(demo.DEMO_TENANT, first) or {}
    assert data["status"] == "snoozed"
    assert data["snoozeUntilMs"] > time.time() * 1000 + 0.9 * HOUR * 1000

    # Search narrows the loaded rows by contact name (and searches messages below them).
    status_filter(page, "All")
    page.get_by_label("Search messages and contacts").fill("ben")
    expect(page.get_by_test_id("conversation-row")).to_have_count(1)
    expect(row(page, second)).to_be_visible()


def test_the_phone_layout_shows_one_pane_at_a_time(clean_stack: LocalStack, open_dashboard: Any) -> None:
    conversation_id = whatsapp_customer(clean_stack, "15550006001", "Hi from my phone")
    wait_for_conversation(conversation_id)
    page = open_dashboard(DANA, viewport=PHONE)
    inbox = page.get_by_role("region", name="Inbox")

    expect(inbox).to_be_visible()
    expect(page.get_by_test_id("composer")).to_have_count(0)
    row(page, conversation_id).click()
    expect(page.get_by_test_id("composer")).to_be_visible()
    expect(inbox).to_be_hidden()
    box = page.get_by_test_id("messages").bounding_box()
    assert box is not None and box["width"] <= PHONE["width"]

    page.get_by_role("button", name="Back to conversations").click()
    expect(inbox).to_be_visible()
    expect(page.get_by_test_id("composer")).to_have_count(0)

    row(page, conversation_id).click()
    expect(page.get_by_test_id("composer")).to_be_visible()
    page.get_by_test_id("messages").click()
    page.keyboard.press("Escape")
    expect(inbox).to_be_visible()


def test_every_message_type_is_rendered(clean_stack: LocalStack, open_dashboard: Any, dashboard: Any) -> None:
    conversation_id = whatsapp_customer(clean_stack, "15550007001", "Let me show you")
    wait_for_conversation(conversation_id)
    base = datetime.now(UTC) - timedelta(minutes=30)
    image = f"{dashboard.url}/favicon.svg"
    customer = {"kind": "contact", "id": "c1", "name": "Kerry Fisher"}
    agent = {"kind": "agent", "id": "a1", "name": "Dana Agent"}
    seeded: list[tuple[str, dict[str, Any]]] = [
        (
            "m-image",
            {
                "type": "image",
                "content": {
                    "type": "image",
                    "attachments": [{"url": image, "caption": "the box"}],
                    "text": "the box",
                },
            },
        ),
        (
            "m-audio",
            {
                "type": "audio",
                "content": {
                    "type": "audio",
                    "attachments": [{"url": f"{dashboard.url}/a.ogg"}],
                    "voice": True,
                },
            },
        ),
        (
            "m-video",
            {
                "type": "video",
                "content": {"type": "video", "attachments": [{"url": f"{dashboard.url}/v.mp4"}]},
            },
        ),
        (
            "m-doc",
            {
                "type": "document",
                "content": {
                    "type": "document",
                    "attachments": [{"url": f"{dashboard.url}/invoice.pdf", "filename": "invoice.pdf"}],
                },
            },
        ),
        (
            "m-wa-media",
            {"type": "image", "content": {"type": "image", "attachments": [{"media_id": "1234567890"}]}},
        ),
        (
            "m-location",
            {
                "type": "location",
                "content": {
                    "type": "location",
                    "latitude": 59.9139,
                    "longitude": 10.7522,
                    "name": "Oslo office",
                },
            },
        ),
        (
            "m-contacts",
            {
                "type": "contacts",
                "content": {
                    "type": "contacts",
                    "contacts": [{"name": "Ola Nordmann", "phones": ["+4712345678"]}],
                },
            },
        ),
        (
            "m-choice",
            {
                "type": "choice",
                "content": {
                    "type": "choice",
                    "choice": "button_reply",
                    "title": "Track my order",
                    "payload": "TRACK",
                },
            },
        ),
        (
            "m-edited",
            {
                "type": "text",
                "content": {"type": "text", "text": "I meant blue, not red"},
                "edited": True,
                "reactions": {"customer": "👍", "business": "❤️"},
            },
        ),
        ("m-deleted", {"type": "text", "content": {}, "deleted": True, "text": None}),
        (
            "m-unsupported",
            {
                "type": "unsupported",
                "content": {
                    "type": "unsupported",
                    "provider_type": "poll",
                    "reason": "not supported by the Cloud API",
                },
            },
        ),
        (
            "m-failed",
            {
                "direction": "out",
                "sender": agent,
                "type": "text",
                "content": {"type": "text", "text": "This one bounced"},
                "status": "failed",
                "error": {"code": "131047", "reason": "Re-engagement message"},
            },
        ),
    ]
    for index, (message_id, fields) in enumerate(seeded):
        document = {
            "direction": "in",
            "sender": customer,
            "status": "received",
            "text": "",
            "sentAt": base + timedelta(seconds=index),
            **fields,
        }
        store.message_ref(demo.DEMO_TENANT, conversation_id, message_id).set(document)

    page = open_dashboard(DANA)
    row(page, conversation_id).click()

    def shown(message_id: str) -> Any:
        return page.locator(f'[data-message-id="{message_id}"]')

    expect(shown("m-image").locator("img")).to_have_attribute("src", image)
    expect(shown("m-image")).to_contain_text("the box")
    expect(shown("m-audio").locator("audio")).to_have_count(1)
    expect(shown("m-audio")).to_contain_text("Voice message")
    expect(shown("m-video").locator("video")).to_have_count(1)
    expect(shown("m-doc").get_by_test_id("document-link")).to_have_attribute(
        "href", f"{dashboard.url}/invoice.pdf"
    )
    expect(shown("m-wa-media").get_by_test_id("media-unavailable")).to_contain_text("1234567890")
    expect(shown("m-location").get_by_test_id("coordinates")).to_have_text("59.91390, 10.75220")
    expect(shown("m-location").get_by_role("link", name="Open in a map")).to_have_attribute(
        "href", "https://www.openstreetmap.org/?mlat=59.9139&mlon=10.7522#map=16/59.9139/10.7522"
    )
    expect(shown("m-contacts")).to_contain_text("Ola Nordmann")
    expect(shown("m-contacts")).to_contain_text("+4712345678")
    expect(shown("m-choice")).to_contain_text("Track my order")
    expect(shown("m-edited").get_by_test_id("edited")).to_be_visible()
    expect(shown("m-edited").locator('[data-who="customer"]')).to_have_text("👍")
    expect(shown("m-edited").locator('[data-who="you"]')).to_have_text("❤️")
    expect(shown("m-deleted").get_by_test_id("deleted")).to_have_text("⊘ This message was deleted")
    expect(shown("m-unsupported")).to_contain_text("Unsupported message (poll)")
    expect(shown("m-failed").get_by_test_id("ticks")).to_have_attribute("data-status", "failed")
    expect(shown("m-failed").get_by_test_id("failure")).to_contain_text("Re-engagement message")


def test_the_inbox_loads_30_at_a_time_and_filters_by_channel(
    clean_stack: LocalStack, open_dashboard: Any
) -> None:
    now_ms = int(time.time() * 1000)
    batch = store.client().batch()
    for i in range(35):
        channel = ("whatsapp", "messenger", "instagram")[i % 3]
        batch.set(
            store.conversation_ref(demo.DEMO_TENANT, f"co-page-{i:02d}"),
            {
                "kind": "support",
                "channel": channel,
                "channelId": f"{channel}-main",
                "contactExternalId": f"ext-{i}",
                "contactName": f"Customer {i:02d}",
                "status": "open",
                "lastMessage": {"text": f"message {i}", "direction": "in", "type": "text"},
                "lastActivityAtMs": now_ms - i * 60_000,
                "unreadCount": 1,
            },
        )
    batch.commit()
    page = open_dashboard(DANA)
    rows = page.get_by_test_id("conversation-row")
    expect(rows).to_have_count(30)
    expect(rows.first).to_contain_text("Customer 00")
    page.get_by_role("button", name="Load more conversations").click()
    expect(rows).to_have_count(35)
    expect(rows.last).to_contain_text("Customer 34")
    expect(page.get_by_role("button", name="Load more conversations")).to_have_count(0)

    page.get_by_label("Filter by channel").select_option("instagram")
    expect(rows).to_have_count(11)
    expect(page.locator('[data-testid="conversation-row"] [data-channel="instagram"]')).to_have_count(11)
    # A new WhatsApp conversation stays out of the Instagram view: the filter is in the live query.
    whatsapp_customer(clean_stack, "15550008001", "Not an Instagram message")
    expect(page.get_by_test_id("conversation-row").filter(has_text="Not an Instagram message")).to_have_count(
        0
    )
    page.get_by_label("Filter by channel").select_option("whatsapp")
    expect(
        page.get_by_test_id("conversation-row").filter(has_text="Not an Instagram message")
    ).to_be_visible()


def test_a_long_conversation_shows_its_last_100_messages_and_loads_earlier_ones(
    clean_stack: LocalStack, open_dashboard: Any
) -> None:
    wa_id, start = "15550009001", int(time.time()) - 3600
    history = whatsapp_text_webhook(WA.external_id, wa_id, "history 000", timestamp=start)
    value = history["entry"][0]["changes"][0]["value"]
    template = value["messages"][0]
    value["messages"] = [
        {
            **template,
            "id": f"wamid.HISTORY{n:03d}",
            "timestamp": str(start + n),
            "text": {"body": f"history {n:03d}"},
        }
        for n in range(130)
    ]
    assert post_webhook(clean_stack, "whatsapp", history).status_code == 200
    conversation_id = ids.conversation_id(WA.channel_id, wa_id)
    eventually(
        lambda: (store.get_conversation(demo.DEMO_TENANT, conversation_id) or {}).get("messageCount") == 130,
        what="130 messages ingested",
    )
    page = open_dashboard(DANA)
    row(page, conversation_id).click()
    bubbles = page.get_by_test_id("message")
    expect(bubbles).to_have_count(100)
    expect(bubbles.first).to_contain_text("history 030")
    expect(bubbles.last).to_contain_text("history 129")
    page.get_by_role("button", name="Load earlier messages").click()
    expect(bubbles).to_have_count(130)
    expect(bubbles.first).to_contain_text("history 000")
    expect(page.get_by_role("button", name="Load earlier messages")).to_have_count(0)
    # Still live with the larger window: a new message lands at the bottom.
    whatsapp_customer(clean_stack, wa_id, "and one more")
    expect(bubbles.last).to_contain_text("and one more")
    expect(bubbles).to_have_count(131)
