"""Typing and read state to the customer (issue 17, part 7), on the emulators and the provider
sandbox: agent_api ``typing`` -> one named Cloud Task per conversation per 5 s -> deliver -> the
provider's typing call (WhatsApp typing indicator on the customer's message, Messenger/Instagram
sender_action typing_on, Telegram sendChatAction); opening a conversation sends mark_seen."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from infra.local import demo
from infra.local.stack import LocalStack
from shared import ids, outbox, store
from shared.outbox.typing import TYPING_MAX_AGE_MS
from tests.support import agent_token, eventually, post_signed, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
PAGE = next(c for c in demo.DEMO_CHANNELS if c.kind == "messenger")
TELEGRAM = next(c for c in demo.DEMO_CHANNELS if c.kind == "telegram")
SMS = next(c for c in demo.DEMO_CHANNELS if c.channel_id == "twilio-sms")


@pytest.fixture
def token(clean_stack: LocalStack) -> str:
    clean_stack.sandbox.clear()
    return agent_token(clean_stack, demo.DEMO_TENANT, "typist@demo.test", name="Tia Typist")


def agent_api(stack: LocalStack, token: str, **body: Any) -> requests.Response:
    return requests.post(
        stack.function_urls["agent_api"], headers={"Authorization": f"Bearer {token}"}, json=body, timeout=15
    )


def whatsapp_conversation(stack: LocalStack, wa_id: str) -> tuple[str, str]:
    wamid = f"wamid.HBgL{uuid.uuid4().hex.upper()}AA=="
    assert post_webhook(stack, "whatsapp", whatsapp_text_webhook(WA.external_id, wa_id, "Hi", wamid=wamid)).ok
    conversation_id = ids.conversation_id(WA.channel_id, wa_id)
    eventually(
        lambda: (store.get_conversation(demo.DEMO_TENANT, conversation_id) or {}).get("lastInbound"),
        what="the conversation",
    )
    return conversation_id, wamid


def messenger_conversation(stack: LocalStack, psid: str) -> str:
    at = int(time.time() * 1000)
    event = {"sender": {"id": psid}, "recipient": {"id": PAGE.external_id}, "timestamp": at}
    event["message"] = {"mid": f"m_{uuid.uuid4().hex}", "text": "Hi page"}
    body = {"object": "page", "entry": [{"id": PAGE.external_id, "time": at, "messaging": [event]}]}
    assert post_webhook(stack, "messenger", body).ok
    conversation_id = ids.conversation_id(PAGE.channel_id, psid)
    eventually(lambda: store.get_conversation(demo.DEMO_TENANT, conversation_id), what="the conversation")
    return conversation_id


def typing_calls(stack: LocalStack, channel: str) -> list[Any]:
    calls = stack.sandbox.requests(channel)
    return [
        c
        for c in calls
        if (c.json or {}).get("typing_indicator")
        or (c.json or {}).get("sender_action") == "typing_on"
        or c.path.endswith("/sendChatAction")
    ]


def test_whatsapp_typing_reaches_the_sandbox_as_a_typing_indicator_on_the_customers_message(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id, wamid = whatsapp_conversation(clean_stack, "15553330001")
    answer = agent_api(clean_stack, token, action="typing", conversationId=conversation_id)
    assert answer.status_code == 200, answer.text
    assert answer.json()["typing"] == "queued"
    call = eventually(lambda: typing_calls(clean_stack, "whatsapp"), what="the typing indicator")[0]
    assert call.path == f"/v21.0/{WA.external_id}/messages"
    assert call.json == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": wamid,
        "typing_indicator": {"type": "text"},
    }
    assert call.status == 200


def test_typing_is_sent_at_most_once_per_conversation_every_five_seconds(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id, _ = whatsapp_conversation(clean_stack, "15553330002")
    other_id, _ = whatsapp_conversation(clean_stack, "15553330003")
    started = time.monotonic()
    answers = [
        agent_api(clean_stack, token, action="typing", conversationId=conversation_id).json()["typing"]
        for _ in range(12)
    ]
    elapsed = time.monotonic() - started
    queued = answers.count("queued")
    # 12 keystroke-like calls within one or two 5-second slots: one signal per slot started.
    assert 1 <= queued <= int(elapsed // 5) + 2, (answers, elapsed)
    assert answers.count("throttled") == len(answers) - queued
    # Another conversation is limited on its own.
    assert (
        agent_api(clean_stack, token, action="typing", conversationId=other_id).json()["typing"] == "queued"
    )
    # Throttled calls created no task (Cloud Tasks refused the slot's name): exactly the queued ones
    # reach the provider.
    eventually(lambda: len(typing_calls(clean_stack, "whatsapp")) >= queued + 1, what="the signals")
    assert len(typing_calls(clean_stack, "whatsapp")) == queued + 1


def test_messenger_typing_is_typing_on_and_opening_the_conversation_is_mark_seen(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = messenger_conversation(clean_stack, "24000000777")
    assert (
        agent_api(clean_stack, token, action="typing", conversationId=conversation_id).json()["typing"]
        == "queued"
    )
    call = eventually(lambda: typing_calls(clean_stack, "messenger"), what="typing_on")[0]
    assert call.json == {"recipient": {"id": "24000000777"}, "sender_action": "typing_on"}
    assert call.status == 200

    assert agent_api(clean_stack, token, action="mark_read", conversationId=conversation_id).json()[
        "readReceiptQueued"
    ]
    seen = eventually(
        lambda: [
            c
            for c in clean_stack.sandbox.requests("messenger")
            if (c.json or {}).get("sender_action") == "mark_seen"
        ],
        what="mark_seen",
    )[0]
    assert seen.json == {"recipient": {"id": "24000000777"}, "sender_action": "mark_seen"}
    assert seen.status == 200


def test_telegram_typing_is_send_chat_action_typing(clean_stack: LocalStack, token: str) -> None:
    chat = 555000111
    update = {
        "update_id": 910000001,
        "message": {
            "message_id": 11,
            "date": int(time.time()),
            "text": "hello bot",
            "chat": {"id": chat, "type": "private", "first_name": "Grace"},
            "from": {"id": chat, "is_bot": False, "first_name": "Grace"},
        },
    }
    assert post_signed(clean_stack, "telegram", update).status_code == 200
    conversation_id = ids.conversation_id(TELEGRAM.channel_id, str(chat))
    eventually(lambda: store.get_conversation(demo.DEMO_TENANT, conversation_id), what="the conversation")
    assert (
        agent_api(clean_stack, token, action="typing", conversationId=conversation_id).json()["typing"]
        == "queued"
    )
    call = eventually(lambda: typing_calls(clean_stack, "telegram"), what="sendChatAction")[0]
    assert call.path == f"/bot{TELEGRAM.token}/sendChatAction"
    assert call.json == {"chat_id": chat, "action": "typing"}
    assert call.status == 200


def test_a_channel_without_typing_answers_unsupported_and_calls_nothing(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = ids.conversation_id(SMS.channel_id, "+15557779999")
    store.conversation_ref(demo.DEMO_TENANT, conversation_id).set(
        {
            "kind": "support",
            "channel": "twilio",
            "channelId": SMS.channel_id,
            "contactExternalId": "+15557779999",
        }
    )
    answer = agent_api(clean_stack, token, action="typing", conversationId=conversation_id)
    assert answer.json()["typing"] == "unsupported"
    assert clean_stack.sandbox.requests() == []


def test_a_stale_or_failing_typing_signal_is_dropped_never_retried(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id, wamid = whatsapp_conversation(clean_stack, "15553330004")
    task = {
        "tenantId": demo.DEMO_TENANT,
        "conversationId": conversation_id,
        "messageId": "typing",
        "action": "typing",
        "providerMessageId": wamid,
    }
    now_ms = int(time.time() * 1000)
    assert outbox.deliver({**task, "typingAtMs": now_ms - TYPING_MAX_AGE_MS - 1000}) == "typing-stale"
    assert typing_calls(clean_stack, "whatsapp") == []
    clean_stack.sandbox.fail_next("whatsapp", 131000)  # transient for a message; a typing signal drops it
    assert outbox.deliver({**task, "typingAtMs": int(time.time() * 1000)}) == "typing-dropped"
    assert outbox.deliver({**task, "typingAtMs": int(time.time() * 1000)}) == "typing-sent"
    # A WhatsApp conversation whose customer message is unknown: refused by the adapter, dropped.
    assert outbox.deliver({**task, "providerMessageId": None, "typingAtMs": int(time.time() * 1000)}) == (
        "typing-dropped"
    )
