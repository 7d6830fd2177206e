"""Canned replies and approved WhatsApp templates in Chromium (issue 17, parts 2, 3 and 7): `/` in the
composer opens the team's and one's own canned replies, Enter inserts one with its variables
filled (an unknown one left visible), the reply reaches the provider while the customer was shown
"typing"; an agent saves a personal reply from the header's manager; a closed WhatsApp window offers
the provider's approved templates, with the body's parameters as inputs (one filled by a canned
reply)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from infra.local import demo
from infra.local.stack import LocalStack
from shared import ids, store
from tests.e2e.conftest import DANA
from tests.support import eventually, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")


def customer_writes(stack: LocalStack, wa_id: str, text: str, *, age_seconds: int = 0) -> str:
    body = whatsapp_text_webhook(
        WA.external_id, wa_id, text, name="Kerry Fisher", timestamp=int(time.time()) - age_seconds
    )
    assert post_webhook(stack, "whatsapp", body).status_code == 200
    conversation_id = ids.conversation_id(WA.channel_id, wa_id)
    eventually(lambda: store.get_conversation(demo.DEMO_TENANT, conversation_id), what="the conversation")
    return conversation_id


def messages_sent(stack: LocalStack) -> list[Any]:
    return [
        r
        for r in stack.sandbox.requests("whatsapp")
        if r.path.endswith("/messages") and isinstance(r.json, dict) and r.json.get("status") != "read"
    ]


def test_a_canned_reply_is_inserted_filled_and_sent_and_a_template_is_picked_with_its_parameters(
    clean_stack: LocalStack, open_dashboard: Any
) -> None:
    store.put_canned_reply(
        demo.DEMO_TENANT,
        "team-thanks",
        {
            "shortcut": "thanks",
            "title": "Thank the customer",
            "body": "Thanks {{contact.firstName}}! {{agent.name}} here: order {{order.id}} ships today.",
            "scope": "tenant",
        },
    )
    store.put_canned_reply(
        demo.DEMO_TENANT,
        "team-hours",
        {"shortcut": "hours", "title": "Opening hours", "body": "We are open 9 to 5.", "scope": "tenant"},
    )
    open_id = customer_writes(clean_stack, "15550009001", "Did my order ship?")
    page = open_dashboard(DANA)
    page.locator(f'[data-testid="conversation-row"][data-conversation-id="{open_id}"]').click()

    box = page.get_by_test_id("composer-input")
    box.press_sequentially("/tha")
    picker = page.get_by_test_id("canned-picker")
    expect(picker.get_by_test_id("canned-option")).to_have_count(1)
    expect(picker.get_by_test_id("canned-option")).to_contain_text("/thanks")
    box.press("Enter")  # inserts; it does not send
    expect(picker).to_have_count(0)
    filled = "Thanks Kerry! Dana Agent here: order {{order.id}} ships today."
    expect(box).to_have_value(filled)  # the unknown variable stays visible
    box.press("Enter")
    sent = eventually(lambda: messages_sent(clean_stack), what="the reply")[0]
    assert sent.json["text"]["body"] == filled
    # While Dana typed, the customer was shown "typing" (WhatsApp's indicator on their message).
    typing = eventually(
        lambda: [
            r for r in clean_stack.sandbox.requests("whatsapp") if (r.json or {}).get("typing_indicator")
        ],
        what="the typing indicator",
    )
    assert typing[0].status == 200

    # A personal reply, saved from the manager in the header, is there for Dana at once.
    page.get_by_test_id("open-canned").click()
    manager = page.get_by_test_id("canned-manager")
    manager.get_by_test_id("canned-new").click()
    manager.get_by_test_id("canned-shortcut").fill("first")
    manager.get_by_test_id("canned-title").fill("Customer's first name")
    manager.get_by_test_id("canned-body").fill("{{contact.firstName}}")
    expect(manager.get_by_test_id("canned-scope")).to_have_value("personal")
    manager.get_by_test_id("canned-save").click()
    expect(manager.get_by_test_id("canned-row").filter(has_text="/first")).to_contain_text("personal")
    expect(manager.get_by_test_id("canned-row")).to_have_count(3)
    manager.get_by_role("button", name="Close").click()

    # After 24 hours: the approved templates, from the provider, with their parameters.
    closed_id = customer_writes(clean_stack, "15550009002", "Can I come Monday?", age_seconds=30 * 3600)
    page.locator(f'[data-testid="conversation-row"][data-conversation-id="{closed_id}"]').click()
    select = page.get_by_test_id("template-select")
    expect(select.locator("option:not([disabled])")).to_have_count(4)  # 4 approved of the demo's 6
    select.select_option("appointment_reminder|en_US")
    parameters = page.get_by_test_id("template-parameter")
    expect(parameters).to_have_count(3)
    parameters.nth(0).press_sequentially("/fir")
    expect(page.get_by_test_id("canned-option").first).to_contain_text("/first")  # shortcut first
    parameters.nth(0).press("Enter")
    expect(parameters.nth(0)).to_have_value("Kerry")
    parameters.nth(1).fill("Monday")
    parameters.nth(2).fill("10:00")
    expect(page.get_by_test_id("template-preview")).to_contain_text(
        "Hi Kerry, this is a reminder of your appointment on Monday at 10:00."
    )
    page.get_by_test_id("send-template").click()
    template = eventually(
        lambda: [r for r in messages_sent(clean_stack) if r.json.get("type") == "template"],
        what="the template",
    )[0]
    assert template.json["template"]["name"] == "appointment_reminder"
    assert [p["text"] for p in template.json["template"]["components"][0]["parameters"]] == [
        "Kerry",
        "Monday",
        "10:00",
    ]
