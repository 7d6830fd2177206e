"""Teams & routing in Chromium: an admin makes a team, turns auto-assignment on and routes the
WhatsApp channel to it; a customer's new conversation is assigned to the team's online agent, who
sees it in her inbox; her colleague sees her presence in the assignee picker, live as she goes away."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from infra.local import demo
from infra.local.stack import LocalStack
from shared import ids, routing, store
from tests.e2e.conftest import ADA, DANA, SAM, Agent
from tests.support import eventually, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
T = demo.DEMO_TENANT


def row(page: Any, conversation_id: str) -> Any:
    return page.locator(f'[data-testid="conversation-row"][data-conversation-id="{conversation_id}"]')


def test_an_admin_routes_a_channel_to_a_team_and_a_new_conversation_goes_to_its_online_agent(
    clean_stack: LocalStack, open_dashboard: Any, agents: dict[str, Agent]
) -> None:
    dana, sam = agents[DANA.email], agents[SAM.email]
    dana_page = open_dashboard(DANA)  # her dashboard's heartbeat makes her online
    eventually(lambda: routing.presence_of(store.get_agent(T, dana.uid) or {}) == "online", what="online")
    expect(dana_page.get_by_test_id("presence-select")).to_have_value("online")

    admin = open_dashboard(ADA)
    admin.get_by_test_id("nav-admin").click()
    admin.get_by_test_id("admin-nav-routing").click()
    page = admin.get_by_test_id("routing-page")
    page.get_by_test_id("new-team-name").fill("Front desk")
    page.get_by_test_id("create-team").click()
    team = page.get_by_test_id("team-Front desk")
    expect(team).to_be_visible()
    team.get_by_test_id(f"team-member-{DANA.email}").check()
    team.get_by_test_id(f"team-member-{SAM.email}").check()  # Sam is a member too, but offline
    expect(
        team.get_by_test_id(f"team-member-{DANA.email}").locator("..").get_by_test_id("presence-dot")
    ).to_have_attribute("data-presence", "online")
    team.get_by_test_id("team-auto-assign").check()
    team.get_by_test_id("save-team").click()
    expect(page.get_by_test_id("routing-saved")).to_contain_text("saved")
    page.get_by_test_id(f"channel-team-{WA.channel_id}").select_option(label="Front desk")
    expect(page.get_by_test_id("routing-saved")).to_contain_text("Channel routing saved")
    assert (store.get_channel(T, WA.channel_id) or {}).get("teamId")

    body = whatsapp_text_webhook(
        WA.external_id, "15550009001", "Is my order on its way?", timestamp=int(time.time())
    )
    assert post_webhook(clean_stack, "whatsapp", body).status_code == 200
    conversation_id = ids.conversation_id(WA.channel_id, "15550009001")
    eventually(
        lambda: (store.get_conversation(T, conversation_id) or {}).get("assigneeId") == dana.uid,
        what="auto-assignment to Dana (Sam is offline)",
    )

    row(dana_page, conversation_id).click()
    expect(dana_page.get_by_test_id("assignee")).to_have_value(dana.uid)
    expect(dana_page.get_by_test_id("activity-line").filter(has_text="Auto-assignment")).to_be_visible()

    sam_page = open_dashboard(SAM)
    row(sam_page, conversation_id).click()
    expect(sam_page.get_by_test_id("assignee")).to_have_value(dana.uid)
    dot = sam_page.get_by_test_id("assignee-presence")
    expect(dot).to_have_attribute("data-presence", "online")
    dana_page.get_by_test_id("presence-select").select_option("away")
    expect(dot).to_have_attribute("data-presence", "away")
    assert routing.presence_of(store.get_agent(T, sam.uid) or {}) == "online"  # Sam's own page beats now
