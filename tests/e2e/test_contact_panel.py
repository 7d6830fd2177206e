"""The contact panel in Chromium (issue 17 part 8): an agent opens a Messenger conversation and sees
the customer's name and picture from the profile API (not the raw PSID), merges the customer's
WhatsApp contact in from the panel, sees the activity line, opens the other conversation from the
panel, writes a note, and splits the two again."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from infra.local import demo, payloads
from infra.local.stack import LocalStack
from shared import ids, store
from tests.e2e.conftest import DANA, Agent
from tests.support import eventually, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
PAGE = next(c for c in demo.DEMO_CHANNELS if c.kind == "messenger")
T = demo.DEMO_TENANT


def row(page: Any, conversation_id: str) -> Any:
    return page.locator(f'[data-testid="conversation-row"][data-conversation-id="{conversation_id}"]')


def test_an_agent_sees_the_customer_merges_their_channels_and_splits_them(
    clean_stack: LocalStack, open_dashboard: Any, agents: dict[str, Agent]
) -> None:
    psid = f"61000000{int(time.time() * 1000) % 10**8:08d}"
    clean_stack.sandbox.set_profile(
        "messenger", PAGE.external_id, psid, first_name="Peter", last_name="Chang"
    )
    body = payloads.messenger_text(PAGE.external_id, psid, "Is my order on its way?")
    assert post_webhook(clean_stack, "messenger", body).status_code == 200
    messenger = ids.conversation_id(PAGE.channel_id, psid)
    eventually(
        lambda: (store.get_conversation(T, messenger) or {}).get("contactPictureUrl"), what="the profile"
    )
    wa_body = whatsapp_text_webhook(
        WA.external_id, "15550009001", "Also on WhatsApp", wamid=f"wamid.{uuid.uuid4().hex}", name="Peter C."
    )
    assert post_webhook(clean_stack, "whatsapp", wa_body).status_code == 200
    whatsapp = ids.conversation_id(WA.channel_id, "15550009001")
    eventually(lambda: store.get_conversation(T, whatsapp), what="the WhatsApp conversation")

    page = open_dashboard(DANA)
    expect(row(page, messenger)).to_contain_text("Peter Chang")  # the profile's name, not the PSID
    row(page, messenger).click()
    panel = page.get_by_test_id("contact-panel")
    expect(panel.get_by_test_id("contact-name")).to_have_text("Peter Chang")
    picture = panel.get_by_test_id("contact-picture")
    expect(picture).to_be_visible()
    page.wait_for_function(
        "() => { const img = document.querySelector('[data-testid=contact-picture]'); "
        "return img && img.complete && img.naturalWidth > 0; }"
    )
    expect(panel.get_by_test_id("contact-identity")).to_have_count(1)
    expect(panel.get_by_test_id("contact-conversation")).to_have_count(1)

    # The same person on WhatsApp: merged from the panel.
    fb_contact = str((store.get_conversation(T, messenger) or {})["contactId"])
    wa_contact = str((store.get_conversation(T, whatsapp) or {})["contactId"])
    panel.get_by_test_id("merge-select").select_option(wa_contact)
    panel.get_by_test_id("merge-button").click()
    expect(
        page.get_by_test_id("activity-line").filter(
            has_text="Dana Agent merged this customer with Peter C. (whatsapp)"
        )
    ).to_be_visible()
    expect(panel.get_by_test_id("contact-identity")).to_have_count(2)
    expect(panel.get_by_test_id("contact-conversation")).to_have_count(2)
    panel.get_by_test_id("note-input").fill("Prefers WhatsApp after 6 pm")
    panel.get_by_test_id("note-add").click()
    expect(panel.get_by_test_id("contact-note")).to_contain_text("Prefers WhatsApp after 6 pm")

    # The customer's other conversation opens from the panel; the panel stays on the same person.
    panel.locator(f'[data-testid="contact-conversation"][data-conversation-id="{whatsapp}"]').click()
    expect(page.get_by_test_id("thread-contact")).to_have_text("Peter C.")
    expect(
        page.get_by_test_id("activity-line").filter(has_text="merged this customer with Peter Chang")
    ).to_be_visible()
    expect(panel.get_by_test_id("contact-identity")).to_have_count(2)
    expect(panel.get_by_test_id("contact-note")).to_contain_text("Prefers WhatsApp after 6 pm")

    # Split again: each conversation is its own customer's, with a line saying so.
    panel.locator(f'[data-testid="contact-identity"][data-contact-id="{fb_contact}"]').get_by_test_id(
        "contact-split"
    ).click()
    expect(panel.get_by_test_id("contact-identity")).to_have_count(1)
    expect(panel.get_by_test_id("contact-conversation")).to_have_count(1)
    expect(page.get_by_test_id("activity-line").filter(has_text="Dana Agent split")).to_be_visible()
    assert "personId" not in store.get_contact_versioned(T, fb_contact).data
