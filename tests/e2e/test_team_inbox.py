"""The team inbox in Chromium (issue 17): two agents in two browsers. One labels and resolves a
conversation; the other sees the label and the activity lines arrive live. Then a bulk resolve of
two conversations ticked in the list (a shift-click range), and the emptied inbox says so plainly;
the composer's counter against the channel's text limit."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from infra.local import demo
from infra.local.stack import LocalStack
from shared import ids, store
from tests.e2e.conftest import DANA, SAM
from tests.support import eventually, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
T = demo.DEMO_TENANT


def customer(stack: LocalStack, wa_id: str, text: str, name: str) -> str:
    body = whatsapp_text_webhook(WA.external_id, wa_id, text, name=name, timestamp=int(time.time()))
    assert post_webhook(stack, "whatsapp", body).status_code == 200
    conversation_id = ids.conversation_id(WA.channel_id, wa_id)
    eventually(lambda: store.get_conversation(T, conversation_id), what="the conversation")
    return conversation_id


def row(page: Any, conversation_id: str) -> Any:
    return page.locator(f'[data-testid="conversation-row"][data-conversation-id="{conversation_id}"]')


def test_a_label_and_a_resolve_reach_a_colleague_live_and_bulk_resolve_empties_the_inbox(
    clean_stack: LocalStack, open_dashboard: Any
) -> None:
    first = customer(clean_stack, "15550007001", "Where is my parcel?", "Kerry Fisher")
    second = customer(clean_stack, "15550007002", "Refund please", "Lee Ng")
    third = customer(clean_stack, "15550007003", "Hello?", "Ada Obi")
    store.create_label(T, "lb-vip", {"name": "VIP", "color": "#7c3aed", "createdAt": store.server_time()})
    dana = open_dashboard(DANA)
    sam = open_dashboard(SAM)
    for page in (dana, sam):
        row(page, first).click()
        expect(page.get_by_test_id("thread-contact")).to_have_text("Kerry Fisher")

    # Dana labels the conversation from the thread's header: Sam's header and list row show it.
    dana.get_by_test_id("label-picker").click()
    dana.get_by_test_id("label-menu").locator('[data-label-id="lb-vip"] input').check()
    for where in (sam.get_by_test_id("thread-contact").locator(".."), row(sam, first)):
        expect(where.get_by_test_id("label-chip")).to_have_text("VIP")
    expect(
        sam.get_by_test_id("activity-line").filter(has_text="Dana Agent added the label “VIP”")
    ).to_be_visible()

    # Dana resolves it: Sam's thread says so, with the line, and his Open list lets it go.
    dana.keyboard.press("Escape")
    dana.get_by_test_id("resolve").click()
    expect(sam.get_by_test_id("thread-status")).to_have_text("Resolved")
    line = sam.get_by_test_id("activity-line").filter(has_text="Dana Agent resolved the conversation")
    expect(line).to_have_attribute("data-verb", "resolve")
    expect(row(sam, first)).to_have_count(0)

    # A reply over the channel's limit: the counter says so, Send is off, Enter explains, and the
    # explanation goes as soon as the draft changes.
    box = sam.get_by_test_id("composer-input")
    box.fill("x" * 4100)
    expect(sam.get_by_test_id("char-counter")).to_contain_text("4100 / 4096 · 4 over the limit")
    expect(sam.get_by_test_id("send")).to_be_disabled()
    box.press("Enter")
    expect(sam.get_by_test_id("composer-error")).to_contain_text("at most 4096 characters")
    box.fill("Back to normal")
    expect(sam.get_by_test_id("composer-error")).to_have_count(0)
    box.fill("")

    # Bulk: Sam ticks one row and shift-clicks another; one request resolves both.
    row(sam, third).get_by_test_id("row-check").click()
    row(sam, second).get_by_test_id("row-check").click(modifiers=["Shift"])
    expect(sam.get_by_test_id("bulk-count")).to_have_text("2 selected")
    sam.get_by_test_id("bulk-resolve").click()
    for page in (sam, dana):
        expect(page.get_by_test_id("conversation-row")).to_have_count(0)
        expect(page.get_by_test_id("inbox-empty")).to_contain_text("No open conversations")
    for conversation_id in (second, third):
        assert (store.get_conversation(T, conversation_id) or {})["status"] == "resolved"
        lines = [
            s.to_dict() or {}
            for s in store.conversation_ref(T, conversation_id).collection("messages").stream()
            if (s.to_dict() or {}).get("direction") == "system"
        ]
        assert [line["text"] for line in lines] == ["Sam Support resolved the conversation"]
