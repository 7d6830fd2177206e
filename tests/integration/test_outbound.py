"""Outbound replies on the emulators and the provider sandbox: send_message -> Cloud Task -> deliver
-> provider API -> receipts back through the inbound path."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import pytest
import requests
from google.cloud.firestore_v1.base_query import FieldFilter

from infra.local import demo
from infra.local.stack import LocalStack
from shared import ids, outbox, store
from shared.errors import SwitchboardError
from tests.support import (
    agent_token,
    eventually,
    post_webhook,
    whatsapp_status_webhook,
    whatsapp_text_webhook,
)

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
PAGE = next(c for c in demo.DEMO_CHANNELS if c.kind == "messenger")


@pytest.fixture
def token(clean_stack: LocalStack) -> str:
    clean_stack.sandbox.clear()
    return agent_token(clean_stack, demo.DEMO_TENANT, "dana@demo.test", name="Dana")


def inbound_whatsapp(stack: LocalStack, wa_id: str, *, age_seconds: int = 0) -> str:
    """A customer writes on WhatsApp; return the conversation id once it exists."""
    body = whatsapp_text_webhook(WA.external_id, wa_id, "Hello?", timestamp=int(time.time()) - age_seconds)
    assert post_webhook(stack, "whatsapp", body).status_code == 200
    conversation_id = ids.conversation_id(WA.channel_id, wa_id)
    eventually(lambda: store.get_conversation(demo.DEMO_TENANT, conversation_id), what="the conversation")
    return conversation_id


def inbound_messenger(stack: LocalStack, psid: str, *, age_seconds: int = 0) -> str:
    at = int((time.time() - age_seconds) * 1000)
    body = {
        "object": "page",
        "entry": [
            {
                "id": PAGE.external_id,
                "time": at,
                "messaging": [
                    {
                        "sender": {"id": psid},
                        "recipient": {"id": PAGE.external_id},
                        "timestamp": at,
                        "message": {"mid": f"m_{uuid.uuid4().hex}", "text": "Hi page"},
                    }
                ],
            }
        ],
    }
    assert post_webhook(stack, "messenger", body).status_code == 200
    conversation_id = ids.conversation_id(PAGE.channel_id, psid)
    eventually(lambda: store.get_conversation(demo.DEMO_TENANT, conversation_id), what="the conversation")
    return conversation_id


def send(
    stack: LocalStack,
    token: str,
    conversation_id: str,
    message: dict[str, Any],
    *,
    client_id: str | None = None,
    **extra: Any,
) -> requests.Response:
    return requests.post(
        stack.function_urls["send_message"],
        headers={"Authorization": f"Bearer {token}"},
        json={
            "conversationId": conversation_id,
            "clientMessageId": client_id or uuid.uuid4().hex,
            "message": message,
            **extra,
        },
        timeout=15,
    )


def message(conversation_id: str, message_id: str) -> dict[str, Any]:
    stored = store.get_message(demo.DEMO_TENANT, conversation_id, message_id)
    return stored.data if stored else {}


def status_of(conversation_id: str, message_id: str, wanted: str) -> dict[str, Any]:
    data = message(conversation_id, message_id)
    return data if data.get("status") == wanted else {}


def whatsapp_status(wa_id: str, wamid: str, status: str) -> dict[str, Any]:
    """A documented WhatsApp `statuses` webhook for one of our messages."""
    return whatsapp_status_webhook(WA.external_id, wa_id, wamid, status)


def test_a_reply_reaches_the_provider_as_documented_and_its_ticks_advance_to_read(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = inbound_whatsapp(clean_stack, "15552220001")
    response = send(clean_stack, token, conversation_id, {"type": "text", "text": "On its way!"})
    assert response.status_code == 200, response.text
    message_id = response.json()["messageId"]

    sent = eventually(lambda: status_of(conversation_id, message_id, "sent"), what="status sent")
    calls = clean_stack.sandbox.requests("whatsapp")
    assert len(calls) == 1
    assert calls[0].path == f"/v21.0/{WA.external_id}/messages"
    assert calls[0].headers["authorization"] == f"Bearer {WA.token}"
    assert calls[0].json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "15552220001",
        "type": "text",
        "text": {"body": "On its way!", "preview_url": False},
    }
    wamid = sent["providerMessageId"]
    assert wamid.startswith("wamid.")

    for status in ("delivered", "read"):
        assert (
            post_webhook(clean_stack, "whatsapp", whatsapp_status("15552220001", wamid, status)).status_code
            == 200
        )
    read = eventually(lambda: status_of(conversation_id, message_id, "read"), what="status read")
    # The local subscription is unordered: "read" may land before "delivered", which the history
    # records all the same when it comes (the tick itself never moves back).
    history = eventually(
        lambda: (
            {"delivered", "read"} <= set(message(conversation_id, message_id)["statusHistory"])
            and message(conversation_id, message_id)["statusHistory"]
        ),
        what="delivered and read in the history",
    )
    assert set(history) >= {"queued", "sent", "delivered", "read"}
    assert message(conversation_id, message_id)["status"] == read["status"] == "read"


def test_a_double_click_sends_one_message(clean_stack: LocalStack, token: str) -> None:
    conversation_id = inbound_whatsapp(clean_stack, "15552220002")
    first = send(clean_stack, token, conversation_id, {"type": "text", "text": "once"}, client_id="click-1")
    second = send(clean_stack, token, conversation_id, {"type": "text", "text": "once"}, client_id="click-1")
    assert first.json()["messageId"] == second.json()["messageId"]
    assert (first.json()["created"], second.json()["created"]) == (True, False)
    eventually(lambda: status_of(conversation_id, first.json()["messageId"], "sent"), what="sent")
    assert len(clean_stack.sandbox.requests("whatsapp")) == 1


def test_the_same_task_delivered_twice_even_concurrently_calls_the_provider_once(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = inbound_whatsapp(clean_stack, "15552220003")
    # A queued message with no task of its own: this test plays Cloud Tasks, delivering it twice at once.
    message_id = ids.outbound_message_id(conversation_id, "twice")
    store.message_ref(demo.DEMO_TENANT, conversation_id, message_id).set(
        {
            "direction": "out",
            "type": "text",
            "content": {"type": "text", "text": "exactly once"},
            "text": "exactly once",
            "status": "queued",
            "statusRank": 0,
            "sentAt": store.server_time(),
        }
    )
    clean_stack.sandbox.hang_next("whatsapp", 0.5)  # keep the first call in flight while the second arrives
    payload = {"tenantId": demo.DEMO_TENANT, "conversationId": conversation_id, "messageId": message_id}
    outcomes: list[Any] = []

    def deliver() -> None:
        try:
            outcomes.append(outbox.deliver(payload))
        except SwitchboardError as exc:  # what deliver answers Cloud Tasks with, recorded
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["TransientError", "sent"]  # the loser asks Cloud Tasks to retry later
    assert outbox.deliver(payload) == "already-sent"  # ...and the retry finds nothing to do
    assert len(clean_stack.sandbox.requests("whatsapp")) == 1

    # Through the real function too: a redelivered task is acknowledged without a second send.
    answer = requests.post(
        clean_stack.function_urls["deliver"],
        json=payload,
        timeout=15,
        headers={"X-CloudTasks-QueueName": "outbound-whatsapp"},
    )
    assert (answer.status_code, answer.json()["outcome"]) == (200, "already-sent")
    assert len(clean_stack.sandbox.requests("whatsapp")) == 1


def deliver_task(stack: LocalStack, body: bytes) -> requests.Response:
    return requests.post(
        stack.function_urls["deliver"],
        data=body,
        timeout=15,
        headers={"X-CloudTasks-QueueName": "outbound-whatsapp", "Content-Type": "application/json"},
    )


def test_a_malformed_task_is_dropped_loudly_not_silently(clean_stack: LocalStack) -> None:
    for body in (
        b"not json",
        b"[1, 2]",
        b'{"conversationId": "c1"}',
        b'{"tenantId": "t", "conversationId": "c"}',
    ):
        answer = deliver_task(clean_stack, body)
        # Retrying cannot fix it: 2xx so Cloud Tasks drops it, with the reason, and an error logged.
        assert answer.status_code == 200, body
        assert answer.json()["error"]["code"] == "invalid_task", body
    logged = [r for r in clean_stack.log_records("deliver") if r.get("message") == "malformed delivery task"]
    assert len(logged) >= 4 and all(r["severity"] == "ERROR" for r in logged)


def test_a_corrupt_message_document_fails_the_message_instead_of_staying_queued(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = inbound_whatsapp(clean_stack, "15552220004")
    message_id = ids.outbound_message_id(conversation_id, "corrupt")
    # No "type": deliver cannot tell what to send.
    store.message_ref(demo.DEMO_TENANT, conversation_id, message_id).set(
        {"direction": "out", "text": "?", "status": "queued", "statusRank": 0, "sentAt": store.server_time()}
    )
    payload = {"tenantId": demo.DEMO_TENANT, "conversationId": conversation_id, "messageId": message_id}
    answer = deliver_task(clean_stack, json.dumps(payload).encode())
    assert (answer.status_code, answer.json()["outcome"]) == (200, "failed")
    failed = message(conversation_id, message_id)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "malformed_message" and "KeyError" in failed["error"]["reason"]
    assert clean_stack.sandbox.requests("whatsapp") == []


def test_deliver_refuses_callers_that_are_not_cloud_tasks(clean_stack: LocalStack) -> None:
    answer = requests.post(clean_stack.function_urls["deliver"], json={"messageId": "x"}, timeout=15)
    assert answer.status_code == 403


def test_a_transient_provider_error_is_retried_until_it_succeeds(clean_stack: LocalStack, token: str) -> None:
    conversation_id = inbound_whatsapp(clean_stack, "15552220004")
    clean_stack.sandbox.fail_next(
        "whatsapp", 130429, http_status=403, times=2
    )  # throughput limit, paired with 403
    response = send(clean_stack, token, conversation_id, {"type": "text", "text": "eventually"})
    message_id = response.json()["messageId"]
    eventually(lambda: status_of(conversation_id, message_id, "sent"), timeout=60, what="sent after retries")
    answers = [r.status for r in clean_stack.sandbox.requests("whatsapp")]
    assert answers == [403, 403, 200]
    assert message(conversation_id, message_id)["delivery"]["attempts"] == 3


def test_a_permanent_provider_error_fails_the_message_with_a_reason(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = inbound_whatsapp(clean_stack, "15552220005")
    clean_stack.sandbox.fail_next("whatsapp", 131026)
    response = send(clean_stack, token, conversation_id, {"type": "text", "text": "undeliverable"})
    failed = eventually(
        lambda: status_of(conversation_id, response.json()["messageId"], "failed"), what="failed"
    )
    assert failed["error"]["code"] == "131026"
    assert "undeliverable" in failed["error"]["reason"].lower()
    assert len(clean_stack.sandbox.requests("whatsapp")) == 1


def test_an_expired_token_fails_the_message_and_marks_the_channel(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = inbound_whatsapp(clean_stack, "15552220006")
    clean_stack.sandbox.fail_next("whatsapp", 190, http_status=401)
    response = send(clean_stack, token, conversation_id, {"type": "text", "text": "token?"})
    eventually(lambda: status_of(conversation_id, response.json()["messageId"], "failed"), what="failed")
    health = store.get_channel(demo.DEMO_TENANT, WA.channel_id)["health"]
    assert health["lastError"]["kind"] == "token_expired"


def test_whatsapp_outside_24_hours_accepts_only_templates(clean_stack: LocalStack, token: str) -> None:
    conversation_id = inbound_whatsapp(clean_stack, "15552220007", age_seconds=25 * 3600)
    refused = send(clean_stack, token, conversation_id, {"type": "text", "text": "too late"})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "window_closed_template_required"
    assert clean_stack.sandbox.requests() == []

    template = {
        "type": "template",
        "templateName": "order_update",
        "templateLanguage": "en_US",
        "templateParameters": ["#1234"],
    }
    accepted = send(clean_stack, token, conversation_id, template)
    assert accepted.status_code == 200, accepted.text
    eventually(lambda: status_of(conversation_id, accepted.json()["messageId"], "sent"), what="template sent")
    # The template was first checked against the account's template list (GET message_templates).
    sends = [r for r in clean_stack.sandbox.requests("whatsapp") if r.path.endswith("/messages")]
    body = sends[0].json
    assert body["template"] == {
        "name": "order_update",
        "language": {"code": "en_US"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "#1234"}]}],
    }


def test_messenger_between_24_hours_and_7_days_needs_the_human_agent_tag(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = inbound_messenger(clean_stack, "7001", age_seconds=2 * 24 * 3600)
    refused = send(clean_stack, token, conversation_id, {"type": "text", "text": "late reply"})
    assert refused.json()["error"]["code"] == "window_closed_tag_required"
    tagged = send(
        clean_stack, token, conversation_id, {"type": "text", "text": "late reply"}, useHumanAgentTag=True
    )
    assert tagged.status_code == 200
    eventually(lambda: status_of(conversation_id, tagged.json()["messageId"], "sent"), what="tagged send")
    body = clean_stack.sandbox.requests("messenger")[0].json
    assert (body["messaging_type"], body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")

    closed = inbound_messenger(clean_stack, "7002", age_seconds=8 * 24 * 3600)
    too_late = send(
        clean_stack, token, closed, {"type": "text", "text": "a week later"}, useHumanAgentTag=True
    )
    assert too_late.json()["error"]["code"] == "window_closed"


def test_unauthenticated_and_other_tenant_callers_are_refused(clean_stack: LocalStack, token: str) -> None:
    conversation_id = inbound_whatsapp(clean_stack, "15552220008")
    assert send(clean_stack, "not-a-token", conversation_id, {"type": "text", "text": "x"}).status_code == 401
    no_auth = requests.post(clean_stack.function_urls["send_message"], json={}, timeout=10)
    assert no_auth.status_code == 401
    acme = agent_token(clean_stack, demo.OTHER_TENANT, "eve@acme.test", name="Eve")
    other = send(clean_stack, acme, conversation_id, {"type": "text", "text": "not yours"})
    assert other.status_code == 404 and other.json()["error"]["code"] == "conversation_not_found"
    assert clean_stack.sandbox.requests() == []


def test_the_echo_of_our_own_send_does_not_create_a_second_message(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = inbound_messenger(clean_stack, "7003")
    response = send(clean_stack, token, conversation_id, {"type": "text", "text": "echo me"})
    message_id = response.json()["messageId"]
    sent = eventually(lambda: status_of(conversation_id, message_id, "sent"), what="sent")
    sent_body = clean_stack.sandbox.requests("messenger")[0].json
    assert sent_body["message"]["metadata"] == f"sb:{message_id}"
    echo = {
        "object": "page",
        "entry": [
            {
                "id": PAGE.external_id,
                "time": 1,
                "messaging": [
                    {
                        "sender": {"id": PAGE.external_id},
                        "recipient": {"id": "7003"},
                        "timestamp": int(time.time() * 1000),
                        "message": {
                            "is_echo": True,
                            "app_id": int(clean_stack.secrets.meta_app_id),
                            "mid": sent["providerMessageId"],
                            "metadata": f"sb:{message_id}",
                            "text": "echo me",
                        },
                    }
                ],
            }
        ],
    }
    assert post_webhook(clean_stack, "messenger", echo).status_code == 200

    def echo_outcome() -> list[str]:
        return [
            r["result"]
            for r in clean_stack.log_records("ingest")
            if r.get("event_id") == sent["providerMessageId"]
        ]

    assert eventually(echo_outcome, what="the echo ingested") == ["duplicate"]
    outbound = [
        m.to_dict()
        for m in store.conversation_ref(demo.DEMO_TENANT, conversation_id)
        .collection("messages")
        .where(filter=FieldFilter("direction", "==", "out"))
        .stream()
    ]
    assert len(outbound) == 1


def test_opening_a_whatsapp_conversation_sends_a_read_receipt_and_clears_unread(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = inbound_whatsapp(clean_stack, "15552220009")
    inbound = store.get_conversation(demo.DEMO_TENANT, conversation_id)
    assert inbound["unreadCount"] == 1
    answer = requests.post(
        clean_stack.function_urls["agent_api"],
        headers={"Authorization": f"Bearer {token}"},
        json={"action": "mark_read", "conversationId": conversation_id},
        timeout=15,
    )
    assert answer.status_code == 200 and answer.json()["unreadCount"] == 0
    assert store.get_conversation(demo.DEMO_TENANT, conversation_id)["unreadCount"] == 0
    calls = eventually(lambda: clean_stack.sandbox.requests("whatsapp"), what="the read receipt")
    assert calls[0].json == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": inbound["lastInbound"]["providerMessageId"],
    }


def test_agents_assign_and_change_status_through_the_api(clean_stack: LocalStack, token: str) -> None:
    conversation_id = inbound_whatsapp(clean_stack, "15552220010")
    me = (
        store.client()
        .collection("tenants")
        .document(demo.DEMO_TENANT)
        .collection("agents")
        .limit(1)
        .get()[0]
        .id
    )

    def act(**body: Any) -> requests.Response:
        return requests.post(
            clean_stack.function_urls["agent_api"],
            headers={"Authorization": f"Bearer {token}"},
            json={"conversationId": conversation_id, **body},
            timeout=15,
        )

    assert act(action="assign", assigneeId=me).status_code == 200
    assert act(action="assign", assigneeId="someone-else").json()["error"]["code"] == "unknown_agent"
    assert act(action="set_status", status="snoozed").json()["error"]["code"] == "snooze_until_required"
    assert act(action="set_status", status="resolved").status_code == 200
    state = store.get_conversation(demo.DEMO_TENANT, conversation_id)
    assert (state["assigneeId"], state["status"]) == (me, "resolved")
    # A new customer message reopens a resolved conversation.
    body = whatsapp_text_webhook(WA.external_id, "15552220010", "one more thing")
    assert post_webhook(clean_stack, "whatsapp", body).status_code == 200
    eventually(
        lambda: store.get_conversation(demo.DEMO_TENANT, conversation_id)["status"] == "open", what="reopen"
    )


def test_notes_are_kept_and_never_sent(clean_stack: LocalStack, token: str) -> None:
    conversation_id = inbound_whatsapp(clean_stack, "15552220011", age_seconds=3 * 24 * 3600)
    response = send(clean_stack, token, conversation_id, {"type": "note", "text": "VIP customer, be nice"})
    assert response.status_code == 200 and response.json()["status"] == "note"
    note = message(conversation_id, response.json()["messageId"])
    assert (note["direction"], note["text"]) == ("note", "VIP customer, be nice")
    assert clean_stack.sandbox.requests() == []
