"""Customer satisfaction in Chromium (issue 19 part 5): an admin turns the survey on in the settings
(saved through agent_api, audited); an agent resolves a WhatsApp conversation in the dashboard, the
customer picks a score in WhatsApp's list, and the agent's open thread shows the rating live (header
badge, starred activity line); the customer then opens the thank-you's link, the public rating page,
picks 4 with a comment and sees the thanks; an expired link shows a clear page."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from infra.local import demo
from infra.local.simulate import text_payload
from infra.local.stack import LocalStack
from shared import audit, csat, ids, store
from shared.auth import Caller
from tests.e2e.conftest import ADA
from tests.integration.test_csat import CUSTOMERS, button_reply, link_in, sent_text, thanks, the_ask
from tests.support import eventually, post_signed

pytestmark = pytest.mark.integration

T = demo.DEMO_TENANT


def row(page: Any, conversation_id: str) -> Any:
    return page.locator(f'[data-testid="conversation-row"][data-conversation-id="{conversation_id}"]')


def test_the_survey_is_switched_on_answered_in_whatsapp_and_commented_on_the_rating_page(
    clean_stack: LocalStack, open_dashboard: Any, open_page: Any
) -> None:
    admin = open_dashboard(ADA)
    admin.get_by_test_id("nav-admin").click()
    admin.get_by_test_id("admin-nav-settings").click()
    expect(admin.get_by_test_id("settings-csat-on")).not_to_be_checked()  # off by default
    expect(admin.get_by_test_id("settings-csat-question")).to_have_value(csat.question({}))
    admin.get_by_test_id("settings-csat-on").check()
    admin.get_by_test_id("settings-csat-question").fill("How did we do, Ada?")
    admin.get_by_test_id("settings-save").click()
    expect(admin.get_by_test_id("settings-saved")).to_be_visible()
    saved = store.get_workspace_settings(T) or {}
    assert saved["csat"] == {"enabled": True, "question": "How did we do, Ada?"}
    (entry,) = [e for e in audit.entries(Caller("x", T, "admin")) if e["action"] == "settings.change"]
    assert entry["after"]["csat"] == {"enabled": True, "question": "How did we do, Ada?"}

    # A customer writes; the agent resolves the conversation in the dashboard.
    channel, contact = CUSTOMERS["whatsapp"]
    assert post_signed(clean_stack, "whatsapp", text_payload("whatsapp", "Thanks!", contact, "Kerry")).ok
    conversation_id = ids.conversation_id(channel.channel_id, contact)
    eventually(lambda: store.get_conversation(T, conversation_id), what="the conversation")
    admin.get_by_test_id("nav-inbox").click()
    row(admin, conversation_id).click()
    admin.get_by_test_id("resolve").click()
    expect(admin.get_by_test_id("thread-status")).to_have_text("Resolved")

    # The survey reaches WhatsApp as a list; the customer picks "★★★★ Good".
    ask = the_ask(clean_stack, "whatsapp")
    assert ask.json["interactive"]["body"]["text"] == "How did we do, Ada?"
    expect(admin.get_by_test_id("csat-ask")).to_contain_text("How did we do, Ada?")
    reply = button_reply("whatsapp", ask, 4, f"wamid.{uuid.uuid4().hex}")
    assert post_signed(clean_stack, "whatsapp", reply).ok
    expect(admin.get_by_test_id("csat-badge")).to_contain_text("4/5")
    panel = admin.get_by_test_id("contact-panel")  # the customer's conversations show their ratings
    expect(panel.get_by_test_id("contact-conversation-rating")).to_contain_text("4/5")
    line = admin.locator('[data-testid="activity-line"][data-verb="rate"]')
    expect(line).to_contain_text("Customer rated 4/5")
    expect(line.get_by_test_id("rating-stars")).to_have_text("★★★★☆")
    expect(admin.get_by_test_id("thread-status")).to_have_text("Resolved")  # the rating reopened nothing

    # The customer follows the thank-you's link: the rating page, their score preselected.
    (thank_you,) = eventually(lambda: thanks(clean_stack, "whatsapp"), what="the thank-you")
    page = open_page(link_in(sent_text("whatsapp", thank_you)), "rating-page")
    expect(page.get_by_test_id("rate-question")).to_have_text("How did we do, Ada?")
    expect(page.get_by_test_id("rate-score-4")).to_be_checked()
    page.get_by_test_id("rate-score-4").check()
    page.get_by_test_id("rate-comment").fill("quick and kind")
    page.get_by_test_id("rate-submit").click()
    expect(page.get_by_test_id("rate-thanks")).to_be_visible()
    expect(page.locator("main")).to_contain_text("You rated us 4/5")

    # The agent's thread shows the comment as a second line, replacing the first rating.
    expect(admin.locator('[data-testid="activity-line"][data-verb="rate"]')).to_have_count(2)
    expect(
        admin.get_by_test_id("activity-line").filter(has_text="Customer rated 4/5: “quick and kind”")
    ).to_contain_text("(was 4/5)")
    conversation = store.get_conversation(T, conversation_id) or {}
    assert conversation["csat"]["comment"] == "quick and kind" and conversation["status"] == "resolved"


def test_an_expired_or_changed_rating_link_shows_a_clear_page(
    clean_stack: LocalStack, open_page: Any
) -> None:
    base = clean_stack.function_urls["rate"]
    expired = csat.link_token(T, "co-any", "cs-any-survey", int(time.time()) - 60)
    page = open_page(f"{base}?k={expired}", "expired-link")
    expect(page.get_by_test_id("rate-expired")).to_have_text("This rating link has expired")
    expect(page.locator("main")).to_contain_text("7 days")
    changed = open_page(f"{base}?k={expired[:-3]}xyz", "changed-link")
    expect(changed.get_by_test_id("rate-invalid")).to_have_text("This rating link is not valid")
