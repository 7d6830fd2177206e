"""The sandbox's WhatsApp template list (Business Management API ``GET /{waba-id}/message_templates``)
and the typing signals it accepts and refuses as the providers document them (Send API sender
actions, WhatsApp's typing indicator, Telegram sendChatAction)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from infra.local.provider_sandbox import ProviderSandbox
from infra.local.sandbox_meta import DEMO_TEMPLATES

WABA, NUMBER, WA_TOKEN = "102000000000009", "109000000000009", "EAAsandboxWa"
PAGE, PAGE_TOKEN = "1000000000000009", "EAAsandboxPage"
BOT, BOT_TOKEN = "7000000009", "7000000009:AAsandbox"


@pytest.fixture
def sandbox() -> Iterator[ProviderSandbox]:
    with ProviderSandbox(port=0) as running:
        running.register_account("whatsapp", NUMBER, WA_TOKEN, waba_id=WABA)
        running.register_account("whatsapp", "109000000000010", "EAAother", waba_id="102000000000010")
        running.register_account("messenger", PAGE, PAGE_TOKEN)
        running.register_account("telegram", BOT, BOT_TOKEN)
        yield running


def templates(
    sandbox: ProviderSandbox, waba: str = WABA, token: str | None = WA_TOKEN, **params: Any
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(
        f"{sandbox.base_url}/v21.0/{waba}/message_templates", params=params, headers=headers, timeout=10
    )


def test_the_template_list_pages_with_cursors_until_every_template_is_listed(
    sandbox: ProviderSandbox,
) -> None:
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"fields": "name,language,status,category,components", "limit": 4}
    pages = 0
    while True:
        answer = templates(sandbox, **params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages += 1
        seen.extend(body["data"])
        assert set(body["paging"]["cursors"]) == {"before", "after"}
        if "next" not in body["paging"]:
            break
        params["after"] = body["paging"]["cursors"]["after"]
    assert pages == 2
    assert [(t["name"], t["language"]) for t in seen] == [(t["name"], t["language"]) for t in DEMO_TEMPLATES]
    assert {t["status"] for t in seen} == {"APPROVED", "PENDING", "REJECTED"}
    assert set(seen[0]) == {"name", "language", "status", "category", "components"}  # only the fields asked


def test_the_template_list_filters_by_status_and_answers_graph_errors(sandbox: ProviderSandbox) -> None:
    approved = templates(sandbox, status="APPROVED").json()["data"]
    assert approved and all(t["status"] == "APPROVED" for t in approved)

    missing = templates(sandbox, token=None)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == 104
    unknown = templates(sandbox, token="EAAnobody")
    assert unknown.status_code == 401 and unknown.json()["error"]["code"] == 190
    # Another business's token cannot read this WABA's templates: Graph's "does not exist" answer.
    foreign = templates(sandbox, token="EAAother")
    assert foreign.status_code == 400
    assert (foreign.json()["error"]["code"], foreign.json()["error"]["error_subcode"]) == (100, 33)
    bad_field = templates(sandbox, fields="name,secret_sauce")
    assert bad_field.status_code == 400 and "secret_sauce" in bad_field.json()["error"]["message"]
    bad_cursor = templates(sandbox, after="not-a-cursor")
    assert bad_cursor.status_code == 400 and bad_cursor.json()["error"]["code"] == 100


def send_api(sandbox: ProviderSandbox, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{sandbox.base_url}/v21.0/{PAGE}/messages",
        json=body,
        headers={"Authorization": f"Bearer {PAGE_TOKEN}"},
        timeout=10,
    )


def test_send_api_typing_on_takes_the_recipient_and_nothing_else(sandbox: ProviderSandbox) -> None:
    ok = send_api(sandbox, {"recipient": {"id": "24000000001"}, "sender_action": "typing_on"})
    assert ok.status_code == 200 and ok.json() == {"recipient_id": "24000000001"}
    with_type = send_api(
        sandbox,
        {"recipient": {"id": "24000000001"}, "sender_action": "typing_on", "messaging_type": "RESPONSE"},
    )
    assert with_type.status_code == 400 and "messaging_type" in with_type.json()["error"]["message"]
    wrong = send_api(sandbox, {"recipient": {"id": "24000000001"}, "sender_action": "typing"})
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == 100
    no_recipient = send_api(sandbox, {"sender_action": "typing_on"})
    assert no_recipient.status_code == 400


def whatsapp(sandbox: ProviderSandbox, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{sandbox.base_url}/v21.0/{NUMBER}/messages",
        json={"messaging_product": "whatsapp", **body},
        headers={"Authorization": f"Bearer {WA_TOKEN}"},
        timeout=10,
    )


def test_whatsapp_typing_indicator_needs_a_message_the_customer_sent(sandbox: ProviderSandbox) -> None:
    inbound = "wamid.HBgLMTU1NTIyMjAwMDEVAgASGBQzQUJDREVGMDEyMzQ1Njc4OUFCAA=="
    typing = {"status": "read", "message_id": inbound, "typing_indicator": {"type": "text"}}
    assert whatsapp(sandbox, typing).json() == {"success": True}

    ours = whatsapp(sandbox, {"to": "15552220001", "type": "text", "text": {"body": "hi"}}).json()
    on_ours = whatsapp(sandbox, {**typing, "message_id": ours["messages"][0]["id"]})
    assert on_ours.status_code == 400 and on_ours.json()["error"]["code"] == 131009
    made_up = whatsapp(sandbox, {**typing, "message_id": "12345"})
    assert made_up.status_code == 400
    wrong_type = whatsapp(sandbox, {**typing, "typing_indicator": {"type": "audio"}})
    assert wrong_type.status_code == 400
    assert whatsapp(sandbox, {"status": "read", "typing_indicator": {"type": "text"}}).status_code == 400


def test_telegram_send_chat_action_accepts_the_documented_actions_only(sandbox: ProviderSandbox) -> None:
    def action(body: dict[str, Any]) -> requests.Response:
        return requests.post(f"{sandbox.base_url}/bot{BOT_TOKEN}/sendChatAction", json=body, timeout=10)

    assert action({"chat_id": 555001, "action": "typing"}).json() == {"ok": True, "result": True}
    wrong = action({"chat_id": 555001, "action": "dancing"})
    assert (
        wrong.status_code == 400
        and wrong.json()["description"] == "Bad Request: wrong parameter action in request"
    )
    assert action({"chat_id": 555001}).status_code == 400
    assert action({"action": "typing"}).status_code == 400
