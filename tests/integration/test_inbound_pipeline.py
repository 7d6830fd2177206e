"""The inbound path on the real emulators: signed webhook -> function -> Pub/Sub -> ingest -> Firestore."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from infra.local import demo, payloads
from infra.local.stack import LocalStack
from shared import ids, inbox, store
from tests.support import eventually, post_webhook, provider_fixture

pytestmark = pytest.mark.integration

WA_PHONE_ID = next(c.external_id for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
PAGE_ID = next(c.external_id for c in demo.DEMO_CHANNELS if c.kind == "messenger")


def wa_body(
    messages: list[dict[str, Any]] | None = None,
    *,
    statuses: list[dict[str, Any]] | None = None,
    phone_id: str = WA_PHONE_ID,
    contacts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return payloads.whatsapp_change(phone_id, messages=messages, statuses=statuses, contacts=contacts)


def wa_text(wa_id: str, text: str, wamid: str | None = None) -> dict[str, Any]:
    return payloads.whatsapp_text_message(wa_id, text, wamid=wamid)


def messages() -> list[dict[str, Any]]:
    return [d.to_dict() for d in store.client().collection_group("messages").stream()]


def quarantine() -> list[dict[str, Any]]:
    return [d.to_dict() for d in store.client().collection("quarantine").stream()]


def conversation(channel_id: str, contact: str) -> dict[str, Any] | None:
    return store.get_conversation(demo.DEMO_TENANT, ids.conversation_id(channel_id, contact))


def test_signed_whatsapp_webhook_becomes_a_message_with_contact_and_summary(clean_stack: LocalStack) -> None:
    body = wa_body(
        [wa_text("15551230001", "Where is my order?")],
        contacts=[{"profile": {"name": "Kerry Fisher"}, "wa_id": "15551230001"}],
    )
    response = post_webhook(clean_stack, "whatsapp", body)
    assert response.status_code == 200, response.text

    landed = eventually(messages, what="the message in Firestore")
    assert [m["text"] for m in landed] == ["Where is my order?"]
    assert landed[0]["direction"] == "in" and landed[0]["channel"] == "whatsapp"
    summary = conversation("whatsapp-main", "15551230001")
    assert summary is not None
    assert summary["contactName"] == "Kerry Fisher"
    assert summary["unreadCount"] == 1 and summary["status"] == "open"
    assert summary["lastMessage"]["text"] == "Where is my order?"
    assert summary["replyWindow"]["needs"] == "template"
    assert summary["replyWindow"]["expiresAtMs"] > time.time() * 1000 + 23 * 3600 * 1000
    contact = (
        store.contact_ref(demo.DEMO_TENANT, ids.contact_id("whatsapp-main", "15551230001")).get().to_dict()
    )
    assert contact["name"] == "Kerry Fisher"


def test_real_published_messenger_payload_lands(clean_stack: LocalStack) -> None:
    # courier's hello_msg is addressed to page 1234567890: connect that page first.
    store.put_channel(demo.DEMO_TENANT, "messenger-courier", "messenger", "1234567890", "Courier page")
    response = post_webhook(clean_stack, "messenger", provider_fixture("messenger/courier-hello-msg.json"))
    assert response.status_code == 200, response.text
    landed = eventually(messages, what="the courier message")
    assert landed[0]["channelId"] == "messenger-courier"
    assert landed[0]["type"] == "text"


def test_the_same_webhook_three_times_gives_one_message(clean_stack: LocalStack) -> None:
    body = json.dumps(wa_body([wa_text("15551230002", "only once", "wamid.ONCE")])).encode()
    for _ in range(3):
        assert post_webhook(clean_stack, "whatsapp", body).status_code == 200

    def outcomes() -> list[str]:
        records = clean_stack.log_records("ingest")
        found = [r["result"] for r in records if r.get("event_id") == "wamid.ONCE"]
        return found if len(found) >= 3 else []

    # All three deliveries reached ingest: one created the message, two were recognized.
    assert sorted(eventually(outcomes, what="three ingest outcomes")) == ["created", "duplicate", "duplicate"]
    assert [m["text"] for m in messages()] == ["only once"]
    assert conversation("whatsapp-main", "15551230002")["unreadCount"] == 1


def test_a_thousand_events_in_batches_give_a_thousand_messages(clean_stack: LocalStack) -> None:
    for batch in range(10):
        body = wa_body([wa_text(f"1555999{batch:02d}{i:02d}", f"message {batch}-{i}") for i in range(100)])
        assert post_webhook(clean_stack, "whatsapp", body).status_code == 200
    eventually(lambda: len(messages()) >= 1000, timeout=120, interval=0.5, what="1,000 messages")
    assert len(messages()) == 1000
    assert len({m["providerMessageId"] for m in messages()}) == 1000


def _outbound(contact: str, provider_id: str, channel_id: str = "whatsapp-main") -> tuple[str, str]:
    """An outbound message as a send leaves it: queued, then its provider id recorded."""
    conversation_id = ids.conversation_id(channel_id, contact)
    message_id = ids.outbound_message_id(conversation_id, uuid.uuid4().hex)
    store.message_ref(demo.DEMO_TENANT, conversation_id, message_id).set(
        {
            "direction": "out",
            "type": "text",
            "text": "on its way",
            "status": "queued",
            "statusRank": 0,
            "sentAt": store.server_time(),
        }
    )
    return conversation_id, message_id


def _status(contact: str, wamid: str, status: str, ts: int) -> dict[str, Any]:
    return {"id": wamid, "status": status, "timestamp": str(ts), "recipient_id": contact}


def test_receipts_out_of_order_end_in_the_right_status(clean_stack: LocalStack) -> None:
    contact = "15551230003"
    conversation_id, message_id = _outbound(contact, "wamid.OUT1")
    inbox.record_send(demo.DEMO_TENANT, conversation_id, message_id, "wamid.OUT1")
    now = int(time.time())
    # read first, then delivered, then sent: the status must end at read and never regress.
    for status in ("read", "delivered", "sent"):
        body = wa_body(statuses=[_status(contact, "wamid.OUT1", status, now)])
        assert post_webhook(clean_stack, "whatsapp", body).status_code == 200

    def history() -> dict[str, Any]:
        data = store.get_message(demo.DEMO_TENANT, conversation_id, message_id).data
        return data if len(data.get("statusHistory", {})) == 3 else {}

    data = eventually(history, what="all three receipts recorded")
    assert data["status"] == "read"
    assert set(data["statusHistory"]) == {"sent", "delivered", "read"}


def test_a_receipt_before_its_message_is_parked_and_applied_when_it_lands(clean_stack: LocalStack) -> None:
    contact = "15551230004"
    body = wa_body(statuses=[_status(contact, "wamid.LATE", "delivered", int(time.time()))])
    assert post_webhook(clean_stack, "whatsapp", body).status_code == 200
    conversation_id = ids.conversation_id("whatsapp-main", contact)
    eventually(
        lambda: store.parked_for(demo.DEMO_TENANT, conversation_id, "wamid.LATE"), what="the parked receipt"
    )

    conversation_id, message_id = _outbound(contact, "wamid.LATE")
    inbox.record_send(demo.DEMO_TENANT, conversation_id, message_id, "wamid.LATE")
    data = store.get_message(demo.DEMO_TENANT, conversation_id, message_id).data
    assert data["status"] == "delivered"
    assert store.parked_for(demo.DEMO_TENANT, conversation_id, "wamid.LATE") == []


def test_a_forged_or_missing_signature_is_refused_and_writes_nothing(clean_stack: LocalStack) -> None:
    forged = wa_body([wa_text("15551230005", "forged")])
    assert post_webhook(clean_stack, "whatsapp", forged, secret="not-the-app-secret").status_code == 401
    assert post_webhook(clean_stack, "whatsapp", forged, signature="").status_code == 401
    assert post_webhook(clean_stack, "messenger", forged, signature="sha256=00").status_code == 401
    # A genuine webhook sent afterwards lands; the refused ones never reached Pub/Sub.
    assert (
        post_webhook(clean_stack, "whatsapp", wa_body([wa_text("15551230005", "genuine")])).status_code == 200
    )
    eventually(messages, what="the genuine message")
    assert [m["text"] for m in messages()] == ["genuine"]
    assert quarantine() == []


def test_an_unknown_route_lands_in_quarantine_and_replays_once_connected(clean_stack: LocalStack) -> None:
    from shared import cli

    body = wa_body([wa_text("15551230006", "to nobody")], phone_id="999000999")
    assert post_webhook(clean_stack, "whatsapp", body).status_code == 200
    kept = eventually(quarantine, what="the quarantine record")
    assert kept[0]["reason"] == "unknown_route" and kept[0]["routeKey"] == "whatsapp:999000999"
    assert messages() == []

    store.put_channel(demo.DEMO_TENANT, "whatsapp-second", "whatsapp", "999000999", "Second number")
    assert cli.main(["replay-quarantine"]) == 0
    landed = eventually(messages, what="the replayed message")
    assert landed[0]["text"] == "to nobody" and landed[0]["channelId"] == "whatsapp-second"
    assert quarantine()[0]["replayed"] is True


def test_an_unparseable_item_is_quarantined_without_losing_the_rest_of_the_batch(
    clean_stack: LocalStack,
) -> None:
    broken = {"from": "15551230007", "timestamp": "1", "type": "text", "text": {"body": "no id"}}
    body = wa_body([broken, wa_text("15551230007", "fine")])
    assert post_webhook(clean_stack, "whatsapp", body).status_code == 200
    eventually(lambda: messages() and quarantine(), what="the message and the quarantine record")
    assert [m["text"] for m in messages()] == ["fine"]
    record = quarantine()[0]
    assert record["reason"] == "parse_error" and json.loads(record["raw"])["item"] == broken


def test_a_body_that_is_not_json_is_kept_raw(clean_stack: LocalStack) -> None:
    assert post_webhook(clean_stack, "messenger", b"{not json").status_code == 200
    record = eventually(quarantine, what="the raw body in quarantine")[0]
    assert record["reason"] == "invalid_body" and json.loads(record["raw"]) == "{not json"


def test_bodies_over_one_megabyte_are_refused_before_parsing(stack: LocalStack) -> None:
    huge = b'{"object":"page","entry":[' + b" " * 1_000_100 + b"]}"
    assert post_webhook(stack, "messenger", huge).status_code == 413


def test_the_subscription_handshake_echoes_the_challenge_only_for_the_right_token(stack: LocalStack) -> None:
    import requests

    url = stack.function_urls["webhook_whatsapp"]
    good = {
        "hub.mode": "subscribe",
        "hub.verify_token": stack.secrets.meta_verify_token,
        "hub.challenge": "1158201444",
    }
    answer = requests.get(url, params=good, timeout=10)
    assert (answer.status_code, answer.text) == (200, "1158201444")
    assert requests.get(url, params={**good, "hub.verify_token": "wrong"}, timeout=10).status_code == 403
    assert requests.get(url, params={**good, "hub.mode": "unsubscribe"}, timeout=10).status_code == 403


def test_an_event_that_keeps_failing_is_dead_lettered_after_five_attempts(clean_stack: LocalStack) -> None:
    from google.cloud import pubsub_v1

    # An echo of our own app's send whose message id was never stored: ingest treats it as transient
    # (the send may be a moment behind) and raises on every delivery, so Pub/Sub dead-letters it.
    echo = {
        "object": "page",
        "entry": [
            {
                "id": PAGE_ID,
                "time": 1,
                "messaging": [
                    {
                        "sender": {"id": PAGE_ID},
                        "recipient": {"id": "4242"},
                        "timestamp": int(time.time() * 1000),
                        "message": {
                            "is_echo": True,
                            "app_id": int(clean_stack.secrets.meta_app_id),
                            "mid": "m_DEADLETTER",
                            "text": "never stored",
                        },
                    }
                ],
            }
        ],
    }
    assert post_webhook(clean_stack, "messenger", echo).status_code == 200
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(clean_stack.project, "inbound-events-dead-review")
    try:

        def pulled() -> list[Any]:
            response = subscriber.pull(subscription=path, max_messages=10, timeout=5)
            return [
                m
                for m in response.received_messages
                if m.message.attributes.get("event_id") == "m_DEADLETTER"
            ]

        dead = eventually(pulled, timeout=90, interval=1, what="the dead-lettered event")
        subscriber.acknowledge(subscription=path, ack_ids=[m.ack_id for m in dead])
    finally:
        subscriber.close()
    assert messages() == []
