"""Snoozed conversations wake up by themselves: a Cloud Task on the timers queue, run by deliver,
reopens the conversation at the snooze time and brings it back to the top of the inbox, unless a
customer, or an agent, changed it meanwhile."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from infra.local import demo
from infra.local.stack import LocalStack
from shared import ids, store
from tests.support import agent_token, eventually, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")


@pytest.fixture
def token(clean_stack: LocalStack) -> str:
    return agent_token(clean_stack, demo.DEMO_TENANT, "snooze@demo.test")


def customer_writes(stack: LocalStack, wa_id: str, text: str) -> str:
    assert (
        post_webhook(stack, "whatsapp", whatsapp_text_webhook(WA.external_id, wa_id, text)).status_code == 200
    )
    conversation_id = ids.conversation_id(WA.channel_id, wa_id)
    eventually(lambda: store.get_conversation(demo.DEMO_TENANT, conversation_id), what="the conversation")
    return conversation_id


def act(stack: LocalStack, token: str, conversation_id: str, **body: Any) -> requests.Response:
    response = requests.post(
        stack.function_urls["agent_api"],
        headers={"Authorization": f"Bearer {token}"},
        json={"conversationId": conversation_id, "action": "set_status", **body},
        timeout=15,
    )
    assert response.status_code == 200, response.text
    return response


def conversation(conversation_id: str) -> dict[str, Any]:
    return store.get_conversation(demo.DEMO_TENANT, conversation_id) or {}


def wake_outcomes(stack: LocalStack, conversation_id: str) -> list[str]:
    """What deliver did with this conversation's wake-up tasks (its log records)."""
    return [
        str(r.get("outcome"))
        for r in stack.log_records("deliver")
        if str(r.get("outcome", "")).startswith(("woke", "wake-"))
        and r.get("conversation_id") == conversation_id
    ]


def test_a_snoozed_conversation_reopens_on_top_of_the_inbox_when_its_snooze_ends(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = customer_writes(clean_stack, "15556660001", "Call me back on Monday")
    before = conversation(conversation_id)["lastActivityAtMs"]
    until = int(time.time() * 1000) + 2000
    act(clean_stack, token, conversation_id, status="snoozed", snoozeUntilMs=until)
    assert conversation(conversation_id)["status"] == "snoozed"

    woke = eventually(
        lambda: (c := conversation(conversation_id))["status"] == "open" and c, what="the wake-up", timeout=45
    )
    assert woke["statusChangedBy"] == "snooze" and woke["snoozeUntilMs"] is None
    assert woke["lastActivityAtMs"] >= until > before
    assert eventually(lambda: wake_outcomes(clean_stack, conversation_id), what="deliver's record") == [
        "woke"
    ]


def test_a_conversation_resolved_or_snoozed_again_meanwhile_is_not_woken(
    clean_stack: LocalStack, token: str
) -> None:
    resolved = customer_writes(clean_stack, "15556660002", "Thanks, all good")
    again = customer_writes(clean_stack, "15556660003", "Later, please")
    soon = int(time.time() * 1000) + 1500
    act(clean_stack, token, resolved, status="snoozed", snoozeUntilMs=soon)
    act(clean_stack, token, resolved, status="resolved")
    act(clean_stack, token, again, status="snoozed", snoozeUntilMs=soon)
    later = soon + 3_600_000
    act(clean_stack, token, again, status="snoozed", snoozeUntilMs=later)

    for conversation_id in (resolved, again):
        outcomes = eventually(lambda c=conversation_id: wake_outcomes(clean_stack, c), what="the wake-up ran")
        assert outcomes == ["wake-not-needed"]
    assert conversation(resolved)["status"] == "resolved"
    assert (conversation(again)["status"], conversation(again)["snoozeUntilMs"]) == ("snoozed", later)


def test_a_customer_message_reopens_a_snoozed_conversation_before_its_time(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = customer_writes(clean_stack, "15556660004", "Ping me next week")
    act(
        clean_stack,
        token,
        conversation_id,
        status="snoozed",
        snoozeUntilMs=int(time.time() * 1000) + 3_600_000,
    )
    customer_writes(clean_stack, "15556660004", "Actually, one more question")
    eventually(lambda: conversation(conversation_id)["status"] == "open", what="reopened by the customer")
