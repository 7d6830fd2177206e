"""The operations and settings pages in Chromium (issue 18, parts 4 and 5): an admin sees a
quarantined payload masked, reveals it, replays it once its channel is connected (the message
reaches the inbox) and discards another with a reason; then edits business hours and the
auto-reply, saved through agent_api and audited."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from infra.local import demo, payloads
from infra.local.stack import LocalStack
from shared import audit, store
from shared.auth import Caller
from tests.e2e.conftest import ADA, Agent
from tests.support import eventually, post_webhook

pytestmark = pytest.mark.integration


def unrouted(stack: LocalStack, customer: str, name: str, text: str) -> tuple[str, str]:
    """A WhatsApp message to a number nobody connected yet: (phone number id, quarantine id)."""
    phone_id = str(3_300_000_000_000_000 + uuid.uuid4().int % 10**15)
    assert (
        post_webhook(
            stack, "whatsapp", payloads.whatsapp_text(phone_id, customer, text, name=name)
        ).status_code
        == 200
    )

    def kept() -> list[str]:
        return [qid for qid, item in store.list_quarantine() if item.route_key == f"whatsapp:{phone_id}"]

    return phone_id, eventually(kept, what="the message in quarantine")[0]


def test_an_admin_reveals_replays_and_discards_quarantined_items_and_edits_the_settings(
    clean_stack: LocalStack, open_dashboard: Any, agents: dict[str, Agent]
) -> None:
    parcel_phone, parcel = unrouted(clean_stack, "15550171001", "Grace Hopper", "Where is my parcel?")
    spam_phone, spam = unrouted(clean_stack, "15550171002", "Spam Bot", "Buy followers now")
    # The numbers get connected to the demo workspace: the items are its own now, and routable.
    store.put_channel(demo.DEMO_TENANT, "wa-parcel", "whatsapp", parcel_phone, "+1 555 0171")
    store.put_channel(demo.DEMO_TENANT, "wa-spam", "whatsapp", spam_phone, "+1 555 0172")

    page = open_dashboard(ADA)
    page.get_by_test_id("nav-admin").click()
    page.get_by_test_id("admin-nav-operations").click()
    items = page.get_by_test_id("quarantine-item")
    expect(items).to_have_count(2)
    expect(page.get_by_test_id("quarantine-count")).to_contain_text("2 item(s)")
    item = page.locator(f'[data-testid="quarantine-item"][data-id="{parcel}"]')
    raw = item.get_by_test_id("raw")
    expect(raw).to_contain_text("whatsapp_business_account")
    expect(raw).not_to_contain_text("Where is my parcel?")
    expect(raw).not_to_contain_text("Grace Hopper")
    item.get_by_test_id("reveal").click()
    expect(raw).to_contain_text("Where is my parcel?")
    expect(raw).to_contain_text("Grace Hopper")
    item.get_by_test_id("reveal").click()
    expect(raw).not_to_contain_text("Grace Hopper")

    item.get_by_test_id("replay").click()
    expect(page.get_by_test_id("operations-message")).to_contain_text("Replayed")
    expect(items).to_have_count(1)

    other = page.locator(f'[data-testid="quarantine-item"][data-id="{spam}"]')
    other.get_by_test_id("discard").click()
    other.get_by_test_id("discard-reason").fill("spam, not a customer")
    other.get_by_test_id("discard-confirm").click()
    expect(page.get_by_test_id("operations-message")).to_have_text("Discarded")
    expect(items).to_have_count(0)
    record = store.get_quarantine(spam) or {}
    assert record.get("discardReason") == "spam, not a customer"

    # The replayed message reached the inbox.
    page.evaluate("window.location.hash = ''")
    expect(page.locator('[data-testid="contact-name"]', has_text="Grace Hopper")).to_be_visible(
        timeout=30_000
    )

    # Workspace settings: business hours and the auto-reply.
    page.get_by_test_id("nav-admin").click()
    page.get_by_test_id("admin-nav-settings").click()
    expect(page.get_by_test_id("settings-name")).to_have_value("Demo Shop")
    page.get_by_test_id("settings-zone").fill("Europe/Paris")
    page.get_by_test_id("settings-hours-on").check()
    monday = page.get_by_test_id("hours-mon")
    monday.get_by_test_id("hours-from").fill("08:30")
    monday.get_by_test_id("hours-to").fill("18:00")
    page.get_by_test_id("hours-sat").get_by_test_id("hours-add").click()
    page.get_by_test_id("settings-autoreply-on").check()
    page.get_by_test_id("settings-autoreply-text").fill("We are closed; we answer from 8:30.")
    page.get_by_test_id("settings-reminder").fill("60")
    page.get_by_test_id("settings-save").click()
    expect(page.get_by_test_id("settings-saved")).to_be_visible()
    saved = store.get_workspace_settings(demo.DEMO_TENANT) or {}
    assert saved["timeZone"] == "Europe/Paris"
    assert saved["businessHours"]["mon"] == [["08:30", "18:00"]]
    assert saved["businessHours"]["sat"] == [["09:00", "17:00"]]
    assert "sun" not in saved["businessHours"]
    assert saved["autoReply"] == {"enabled": True, "text": "We are closed; we answer from 8:30."}
    assert saved["replyWindowReminderMinutes"] == 60

    # A zone the server does not know is refused with the reason, and nothing changes.
    page.get_by_test_id("settings-zone").fill("Europe/Atlantis")
    page.get_by_test_id("settings-save").click()
    expect(page.get_by_test_id("settings-error")).to_contain_text("not a time zone")
    assert (store.get_workspace_settings(demo.DEMO_TENANT) or {})["timeZone"] == "Europe/Paris"

    actions = [e["action"] for e in audit.entries(Caller("x", demo.DEMO_TENANT, "admin"))]
    assert sorted(actions) == ["quarantine.discard", "quarantine.replay", "settings.change"]
