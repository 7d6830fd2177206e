"""Approved WhatsApp templates (issue 17, part 3) on the emulators and the provider sandbox: the
list fetched through the channel adapter (Business Management API, paged), cached on the channel,
refreshed on demand or when stale, and every template send checked against it before queueing."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from infra.local import demo
from infra.local.sandbox_meta import DEMO_TEMPLATES
from infra.local.stack import LocalStack
from shared import ids, store, templates
from tests.support import agent_token, eventually, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
assert WA.business_account_id is not None
WABA = WA.business_account_id


@pytest.fixture
def token(clean_stack: LocalStack) -> str:
    clean_stack.sandbox.clear()
    clean_stack.sandbox.set_templates(WABA, list(DEMO_TEMPLATES))
    return agent_token(clean_stack, demo.DEMO_TENANT, "templates@demo.test", name="Tess")


def agent_api(stack: LocalStack, token: str, **body: Any) -> requests.Response:
    return requests.post(
        stack.function_urls["agent_api"], headers={"Authorization": f"Bearer {token}"}, json=body, timeout=15
    )


def conversation(stack: LocalStack, wa_id: str) -> str:
    assert post_webhook(stack, "whatsapp", whatsapp_text_webhook(WA.external_id, wa_id, "Hi")).ok
    conversation_id = ids.conversation_id(WA.channel_id, wa_id)
    eventually(lambda: store.get_conversation(demo.DEMO_TENANT, conversation_id), what="the conversation")
    return conversation_id


def list_calls(stack: LocalStack) -> list[Any]:
    return [r for r in stack.sandbox.requests("whatsapp") if r.path.endswith("/message_templates")]


def send_template(
    stack: LocalStack, token: str, conversation_id: str, name: str, language: str, params: list[str]
) -> requests.Response:
    return requests.post(
        stack.function_urls["send_message"],
        headers={"Authorization": f"Bearer {token}"},
        json={
            "conversationId": conversation_id,
            "clientMessageId": uuid.uuid4().hex,
            "message": {
                "type": "template",
                "templateName": name,
                "templateLanguage": language,
                "templateParameters": params,
            },
        },
        timeout=15,
    )


def many_templates(count: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"notice_{n:03d}",
            "language": "en_US",
            "status": "APPROVED",
            "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Notice {{1}} about {{2}}"}],
            "id": str(1380000000000000 + n),
        }
        for n in range(count)
    ]


def test_the_list_is_fetched_through_every_page_and_cached_on_the_channel(
    clean_stack: LocalStack, token: str
) -> None:
    clean_stack.sandbox.set_templates(WABA, many_templates(230))  # three pages of 100
    conversation_id = conversation(clean_stack, "15554440001")
    answer = agent_api(clean_stack, token, action="list_templates", conversationId=conversation_id)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["listed"] is True and len(body["templates"]) == 230
    assert body["templates"][0] == {
        "id": "1380000000000000",
        "name": "notice_000",
        "language": "en_US",
        "status": "APPROVED",
        "category": "UTILITY",
        "header": None,
        "body": "Notice {{1}} about {{2}}",
        "footer": None,
        "parameterCount": 2,
        "parameterNames": [],
    }
    calls = list_calls(clean_stack)
    assert len(calls) == 3
    assert calls[0].headers["authorization"] == f"Bearer {WA.token}"
    assert calls[0].query["fields"] == ["id,name,language,status,category,components"]
    assert "after" in calls[1].query
    cached = store.get_template_cache(demo.DEMO_TENANT, WA.channel_id)
    assert cached is not None and len(cached["templates"]) == 230

    # Cached: no provider call; refresh asks again.
    again = agent_api(clean_stack, token, action="list_templates", conversationId=conversation_id).json()
    assert len(again["templates"]) == 230 and len(list_calls(clean_stack)) == 3
    clean_stack.sandbox.set_templates(WABA, list(DEMO_TEMPLATES))
    fresh = agent_api(
        clean_stack, token, action="list_templates", conversationId=conversation_id, refresh=True
    )
    statuses = {(t["name"], t["language"]): t["status"] for t in fresh.json()["templates"]}
    assert statuses[("summer_sale", "en_US")] == "PENDING" and statuses[("win_back", "en_US")] == "REJECTED"
    assert len(list_calls(clean_stack)) == 4


def test_a_stale_cache_is_fetched_again(clean_stack: LocalStack, token: str) -> None:
    conversation_id = conversation(clean_stack, "15554440002")
    old = int(time.time() * 1000) - (templates.TEMPLATE_CACHE_SECONDS + 5) * 1000
    store.put_template_cache(demo.DEMO_TENANT, WA.channel_id, [], old)
    listed = agent_api(clean_stack, token, action="list_templates", conversationId=conversation_id).json()
    assert len(listed["templates"]) == len(DEMO_TEMPLATES)
    assert len(list_calls(clean_stack)) == 1


def test_sending_a_template_is_checked_against_the_approved_list(clean_stack: LocalStack, token: str) -> None:
    conversation_id = conversation(clean_stack, "15554440003")
    cases = [
        ("no_such_template", "en_US", [], "template_not_found"),
        ("order_update", "fr_FR", ["#1"], "template_not_found"),
        ("summer_sale", "en_US", ["Kim", "Monday", "20%"], "template_not_approved"),
        ("win_back", "en_US", ["Kim"], "template_not_approved"),
        ("appointment_reminder", "en_US", ["Kim", "Monday"], "template_parameters"),
        ("order_update", "en_US", ["   "], "template_parameters"),
    ]
    for name, language, params, code in cases:
        refused = send_template(clean_stack, token, conversation_id, name, language, params)
        assert refused.status_code == 422, (name, refused.text)
        assert refused.json()["error"]["code"] == code, name
    assert [r for r in clean_stack.sandbox.requests("whatsapp") if r.path.endswith("/messages")] == []

    accepted = send_template(
        clean_stack, token, conversation_id, "appointment_reminder", "en_US", ["Kim", "Monday", "10:00"]
    )
    assert accepted.status_code == 200, accepted.text
    sent = eventually(
        lambda: [r for r in clean_stack.sandbox.requests("whatsapp") if r.path.endswith("/messages")],
        what="the template send",
    )[0]
    assert sent.json["template"]["name"] == "appointment_reminder"
    assert [p["text"] for p in sent.json["template"]["components"][0]["parameters"]] == [
        "Kim",
        "Monday",
        "10:00",
    ]


def test_a_template_approved_since_the_cache_was_filled_is_found_by_refreshing_once(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = conversation(clean_stack, "15554440004")
    agent_api(clean_stack, token, action="list_templates", conversationId=conversation_id)
    newly = {
        "name": "new_arrivals",
        "language": "en_US",
        "status": "APPROVED",
        "category": "UTILITY",
        "components": [{"type": "BODY", "text": "New in store this week."}],
        "id": "1390000000000001",
    }
    clean_stack.sandbox.set_templates(WABA, [*DEMO_TEMPLATES, newly])
    accepted = send_template(clean_stack, token, conversation_id, "new_arrivals", "en_US", [])
    assert accepted.status_code == 200, accepted.text
    assert len(list_calls(clean_stack)) == 2


def test_other_tenants_and_channels_without_a_list(clean_stack: LocalStack, token: str) -> None:
    conversation_id = conversation(clean_stack, "15554440005")
    acme = agent_token(clean_stack, demo.OTHER_TENANT, "eve@acme.test")
    refused = agent_api(clean_stack, acme, action="list_templates", conversationId=conversation_id)
    assert refused.status_code in (403, 404)
    # The provider errors come back as a refusal, not a crash: an expired token.
    clean_stack.sandbox.fail_next("whatsapp", 190, http_status=401)
    failed = agent_api(
        clean_stack, token, action="list_templates", conversationId=conversation_id, refresh=True
    )
    assert failed.status_code >= 400 and failed.status_code != 500, failed.text


def test_a_named_template_is_sent_with_its_parameters_names(clean_stack: LocalStack, token: str) -> None:
    named = {
        "name": "delivery_window",
        "parameter_format": "NAMED",
        "language": "en_US",
        "status": "APPROVED",
        "category": "UTILITY",
        "components": [
            {"type": "BODY", "text": "Hi {{first_name}}, we deliver on {{day}}. Bye {{first_name}}!"}
        ],
        "id": "1390000000000002",
    }
    clean_stack.sandbox.set_templates(WABA, [*DEMO_TEMPLATES, named])
    conversation_id = conversation(clean_stack, "15554440006")
    listed = agent_api(clean_stack, token, action="list_templates", conversationId=conversation_id).json()
    summary = next(t for t in listed["templates"] if t["name"] == "delivery_window")
    assert (summary["parameterCount"], summary["parameterNames"]) == (2, ["first_name", "day"])

    accepted = send_template(
        clean_stack, token, conversation_id, "delivery_window", "en_US", ["Kim", "Friday"]
    )
    assert accepted.status_code == 200, accepted.text
    sent = eventually(
        lambda: [r for r in clean_stack.sandbox.requests("whatsapp") if r.path.endswith("/messages")],
        what="the template send",
    )[0]
    assert sent.json["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "Kim", "parameter_name": "first_name"},
        {"type": "text", "text": "Friday", "parameter_name": "day"},
    ]
