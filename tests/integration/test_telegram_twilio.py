"""Telegram and Twilio (SMS, WhatsApp through Twilio) on the emulators, both directions, as for the
Meta channels: signed update -> message; duplicates -> one; forged -> refused, nothing written;
reply -> the sandbox received the documented request -> status moves forward."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from infra.local import demo
from infra.local.simulate import signed_request
from infra.local.stack import LocalStack
from shared import ids, store
from shared.channels.twilio import status_callback_url
from tests.support import agent_token, eventually, post_signed

pytestmark = pytest.mark.integration

TELEGRAM = next(c for c in demo.DEMO_CHANNELS if c.kind == "telegram")
SMS = next(c for c in demo.DEMO_CHANNELS if c.channel_id == "twilio-sms")
TWILIO_WA = next(c for c in demo.DEMO_CHANNELS if c.channel_id == "twilio-whatsapp")
BIG_CHAT = 7_123_456_789_012  # beyond 32 bits: must survive as an exact id


def messages() -> list[dict[str, Any]]:
    return [d.to_dict() for d in store.client().collection_group("messages").stream()]


def telegram_update(update_id: int, text: str, chat: int = BIG_CHAT) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id % 100000,
            "date": int(time.time()),
            "text": text,
            "chat": {"id": chat, "type": "private", "first_name": "Grace", "username": "grace_h"},
            "from": {"id": chat, "is_bot": False, "first_name": "Grace", "username": "grace_h"},
        },
    }


def sms(
    body: str, sender: str = "+15557770001", to: str = SMS.external_id, sid: str | None = None
) -> dict[str, str]:
    return {
        "MessageSid": sid or f"SM{uuid.uuid4().hex}",
        "AccountSid": demo.TWILIO_SID,
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }


def send(stack: LocalStack, token: str, conversation_id: str, text: str) -> str:
    response = requests.post(
        stack.function_urls["send_message"],
        headers={"Authorization": f"Bearer {token}"},
        json={
            "conversationId": conversation_id,
            "clientMessageId": uuid.uuid4().hex,
            "message": {"type": "text", "text": text},
        },
        timeout=15,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["messageId"])


def status(conversation_id: str, message_id: str) -> str | None:
    stored = store.get_message(demo.DEMO_TENANT, conversation_id, message_id)
    return stored.data.get("status") if stored else None


@pytest.fixture
def token(clean_stack: LocalStack) -> str:
    clean_stack.sandbox.clear()
    return agent_token(clean_stack, demo.DEMO_TENANT, "tg@demo.test")


def test_a_telegram_update_becomes_a_message_once_and_a_reply_reaches_the_bot_api(
    clean_stack: LocalStack, token: str
) -> None:
    update = telegram_update(900000001, "Is the shop open on Sunday?")
    for _ in range(3):
        assert post_signed(clean_stack, "telegram", update).status_code == 200
    conversation_id = ids.conversation_id(TELEGRAM.channel_id, str(BIG_CHAT))
    eventually(lambda: store.get_conversation(demo.DEMO_TENANT, conversation_id), what="the conversation")

    def outcomes() -> list[str]:
        found = [
            r["result"] for r in clean_stack.log_records("ingest") if r.get("event_id") == "update:900000001"
        ]
        return found if len(found) >= 3 else []

    assert sorted(eventually(outcomes, what="three deliveries ingested")) == [
        "created",
        "duplicate",
        "duplicate",
    ]
    assert [m["text"] for m in messages()] == ["Is the shop open on Sunday?"]
    assert store.get_conversation(demo.DEMO_TENANT, conversation_id)["contactExternalId"] == str(BIG_CHAT)

    message_id = send(clean_stack, token, conversation_id, "Yes, 10 to 4.")
    eventually(lambda: status(conversation_id, message_id) == "sent", what="status sent")
    call = clean_stack.sandbox.requests("telegram")[0]
    assert call.path == f"/bot{TELEGRAM.token}/sendMessage"
    assert str(call.json["chat_id"]) == str(BIG_CHAT) and call.json["text"] == "Yes, 10 to 4."


def test_a_telegram_button_press_is_stored_once_and_its_callback_query_answered_once(
    clean_stack: LocalStack, token: str
) -> None:
    press = {
        "update_id": 900000101,
        "callback_query": {
            "id": "4382bfdwdsb323b2d9",
            "from": {"id": BIG_CHAT, "is_bot": False, "first_name": "Grace", "username": "grace_h"},
            "message": {
                "message_id": 77,
                "date": int(time.time()) - 30,
                "chat": {"id": BIG_CHAT, "type": "private", "first_name": "Grace"},
                "text": "Which size?",
                "reply_markup": {"inline_keyboard": [[{"text": "Large", "callback_data": "size:L"}]]},
            },
            "chat_instance": "-1234567890",
            "data": "size:L",
        },
    }
    for _ in range(3):  # Telegram retries a webhook it thinks failed
        assert post_signed(clean_stack, "telegram", press).status_code == 200

    def answers() -> list[Any]:
        calls = clean_stack.sandbox.requests("telegram")
        return [c for c in calls if c.path.endswith("/answerCallbackQuery")]

    eventually(answers, what="the callback query answered")
    conversation_id = ids.conversation_id(TELEGRAM.channel_id, str(BIG_CHAT))
    stored = [m for m in messages() if m.get("type") == "choice"]
    assert len(stored) == 1 and stored[0]["content"]["payload"] == "size:L"

    def ingested() -> list[dict[str, Any]]:
        records = clean_stack.log_records("ingest")
        found = [r for r in records if r.get("event_id") == "callback_query:4382bfdwdsb323b2d9"]
        return found if len(found) >= 3 else []

    # Three deliveries of the press: one message, and one answer queued (the task is named after the
    # query), so once all three are ingested no second answer can come.
    records = eventually(ingested, what="three deliveries ingested")
    assert sorted(r["result"] for r in records) == ["created", "duplicate", "duplicate"]
    assert sorted(r["callback_answer_queued"] for r in records) == [False, False, True]
    assert store.get_conversation(demo.DEMO_TENANT, conversation_id) is not None
    done = eventually(  # this conversation's answers (the session's log holds other tests' too)
        lambda: [
            r
            for r in clean_stack.log_records("deliver")
            if r.get("outcome") == "callback-answer-sent" and r.get("conversation_id") == conversation_id
        ],
        what="deliver answered the query",
    )
    assert len(done) == 1
    calls = answers()
    assert len(calls) == 1, calls
    assert calls[0].path == f"/bot{TELEGRAM.token}/answerCallbackQuery"
    assert calls[0].json == {"callback_query_id": "4382bfdwdsb323b2d9"}


def test_a_forged_telegram_secret_token_is_refused_and_writes_nothing(clean_stack: LocalStack) -> None:
    assert (
        post_signed(clean_stack, "telegram", telegram_update(900000002, "forged"), tamper=True).status_code
        == 401
    )
    assert post_signed(clean_stack, "telegram", telegram_update(900000003, "genuine")).status_code == 200
    eventually(messages, what="the genuine update")
    assert [m["text"] for m in messages()] == ["genuine"]


def test_a_telegram_429_reschedules_the_send_for_when_telegram_says(
    clean_stack: LocalStack, token: str
) -> None:
    assert post_signed(clean_stack, "telegram", telegram_update(900000004, "hello")).status_code == 200
    conversation_id = ids.conversation_id(TELEGRAM.channel_id, str(BIG_CHAT))
    eventually(lambda: store.get_conversation(demo.DEMO_TENANT, conversation_id), what="the conversation")
    clean_stack.sandbox.fail_next("telegram", 429, retry_after=1)
    message_id = send(clean_stack, token, conversation_id, "after the flood")
    eventually(
        lambda: status(conversation_id, message_id) == "sent", timeout=60, what="sent after retry_after"
    )
    answers = [r.status for r in clean_stack.sandbox.requests("telegram")]
    assert answers == [429, 200]
    gap = clean_stack.sandbox.requests("telegram")[1].at - clean_stack.sandbox.requests("telegram")[0].at
    assert gap >= 0.9  # not before the moment Telegram named


def test_an_sms_becomes_a_message_once_and_the_reply_goes_through_the_messages_api(
    clean_stack: LocalStack, token: str
) -> None:
    inbound = sms("Can I change my delivery address?", sid="SM" + "a" * 32)
    for _ in range(2):
        assert post_signed(clean_stack, "twilio", inbound).status_code == 200
    conversation_id = ids.conversation_id(SMS.channel_id, "+15557770001")
    eventually(lambda: store.get_conversation(demo.DEMO_TENANT, conversation_id), what="the conversation")

    def outcomes() -> list[str]:
        found = [
            r["result"] for r in clean_stack.log_records("ingest") if r.get("event_id") == "SM" + "a" * 32
        ]
        return found if len(found) >= 2 else []

    assert sorted(eventually(outcomes, what="both deliveries ingested")) == ["created", "duplicate"]
    assert [m["text"] for m in messages()] == ["Can I change my delivery address?"]

    message_id = send(clean_stack, token, conversation_id, "Sure, reply with the new one.")
    sent = eventually(
        lambda: (
            status(conversation_id, message_id) == "sent"
            and store.get_message(demo.DEMO_TENANT, conversation_id, message_id).data
        ),
        what="sent",
    )
    call = clean_stack.sandbox.requests("twilio")[0]
    assert call.path == f"/2010-04-01/Accounts/{demo.TWILIO_SID}/Messages.json"
    assert call.form["To"] == ["+15557770001"] and call.form["From"] == [SMS.external_id]
    assert call.form["Body"] == ["Sure, reply with the new one."]

    # Twilio's status callback moves the ticks forward (our number is From, the customer To).
    callback = {
        "MessageSid": sent["providerMessageId"],
        "AccountSid": demo.TWILIO_SID,
        "From": SMS.external_id,
        "To": "+15557770001",
        "MessageStatus": "delivered",
        "ApiVersion": "2010-04-01",
    }
    assert post_signed(clean_stack, "twilio", callback).status_code == 200
    eventually(lambda: status(conversation_id, message_id) == "delivered", what="delivered")

    # A minimal callback (no From, no To) is routed by the number our send put in its URL.
    minimal = {
        "MessageSid": sent["providerMessageId"],
        "AccountSid": demo.TWILIO_SID,
        "MessageStatus": "read",
    }
    url = status_callback_url(
        clean_stack.function_urls["webhook_twilio"] + "/", SMS.external_id, "+15557770001"
    )
    signed_url, raw, headers = signed_request("twilio", url, minimal, clean_stack.env())
    assert requests.post(signed_url, data=raw, headers=headers, timeout=30).status_code == 200
    eventually(lambda: status(conversation_id, message_id) == "read", what="read, from a minimal callback")


def test_a_forged_twilio_signature_is_refused_and_writes_nothing(clean_stack: LocalStack) -> None:
    assert post_signed(clean_stack, "twilio", sms("forged"), tamper=True).status_code == 401
    assert post_signed(clean_stack, "twilio", sms("genuine")).status_code == 200
    eventually(messages, what="the genuine SMS")
    assert [m["text"] for m in messages()] == ["genuine"]


def test_whatsapp_through_twilio_keeps_the_profile_name(clean_stack: LocalStack) -> None:
    inbound = {
        **sms("Hola!", sender="whatsapp:+34600111222", to=TWILIO_WA.external_id),
        "ProfileName": "Lucía",
        "WaId": "34600111222",
    }
    assert post_signed(clean_stack, "twilio", inbound).status_code == 200
    conversation_id = ids.conversation_id(TWILIO_WA.channel_id, "whatsapp:+34600111222")
    summary = eventually(
        lambda: store.get_conversation(demo.DEMO_TENANT, conversation_id), what="conversation"
    )
    assert summary["contactName"] == "Lucía"
