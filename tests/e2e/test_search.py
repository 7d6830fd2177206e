"""Search and the timeline in the dashboard (Chromium, the real stack): a customer's accented word
found by its unaccented prefix, the result opening the conversation scrolled to that message even
when it is older than the latest page shown; the timeline opening a conversation at a message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from infra.local import demo
from infra.local.stack import LocalStack
from shared import ids, inbox, store
from shared.models import MessageEvent, TextContent
from tests.e2e.conftest import DANA
from tests.support import eventually, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
CUSTOMER = "15550007001"
LATER = 110  # more than the thread's first page (100): the match must be loaded from further back


def test_an_agent_finds_an_accented_word_by_its_prefix_and_lands_on_the_message(
    clean_stack: LocalStack, open_dashboard: Any
) -> None:
    started = datetime.now(UTC) - timedelta(hours=1)
    body = whatsapp_text_webhook(
        WA.external_id, CUSTOMER, "Mon colis est arrivé à Montréal, merci", timestamp=int(started.timestamp())
    )
    assert post_webhook(clean_stack, "whatsapp", body).status_code == 200
    conversation = ids.conversation_id(WA.channel_id, CUSTOMER)
    eventually(lambda: store.get_conversation(demo.DEMO_TENANT, conversation), what="the first message")
    for n in range(LATER):  # the customer goes on writing (ingest's own code, in this process)
        inbox.apply(
            MessageEvent(
                channel="whatsapp",
                account_id=WA.external_id,
                contact_id=CUSTOMER,
                event_id=f"later-{n}",
                message_id=f"later-{n}",
                content=TextContent(text=f"and another thing {n}"),
                occurred_at=started + timedelta(seconds=10 + n),
                contact_name="Kerry Fisher",
            )
        )

    page = open_dashboard(DANA)
    page.get_by_label("Search messages and contacts").fill("montre")
    hit = page.get_by_test_id("search-hit")
    expect(hit).to_have_count(1)
    expect(hit.get_by_test_id("hit")).to_have_text("Montréal")
    hit.click()

    target = page.locator('[data-search-target="true"]')
    expect(target).to_contain_text("Mon colis est arrivé à Montréal")
    expect(target).to_be_in_viewport()
    assert page.get_by_test_id("message").count() > 100

    # The timeline: every message by time; a row opens its conversation at that message.
    page.get_by_test_id("nav-timeline").click()
    rows = page.get_by_test_id("timeline-row")
    expect(rows.first).to_contain_text(f"and another thing {LATER - 1}")
    page.get_by_test_id("timeline-order").select_option("oldest")
    expect(rows.first).to_contain_text("Montréal")
    rows.first.click()
    expect(page.locator('[data-search-target="true"]')).to_contain_text("Montréal")
