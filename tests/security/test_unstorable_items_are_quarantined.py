"""Whatever cannot be stored as a message is quarantined with its reason on the first attempt.

Before, a signed Twilio form with a 900 KB Body made ingest fail five times on Firestore's
"maximum entity size" and dead-letter: with a foreign-signer attack a tenant could even trip a
victim's dead-letter alerts. Now the webhook quarantines an oversized event before publishing it,
and ingest quarantines whatever Firestore itself refuses (size, nesting) instead of retrying."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from infra.local import demo
from infra.local.stack import LocalStack
from shared import store
from shared.inbound import MAX_EVENT_BYTES
from tests.support import eventually, post_signed, whatsapp_text_webhook

pytestmark = pytest.mark.integration

SMS = next(c for c in demo.DEMO_CHANNELS if c.channel_id == "twilio-sms")
WHATSAPP = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")


def quarantine_documents(reason: str) -> list[dict[str, Any]]:
    return [
        d.to_dict() or {}
        for d in store.client().collection("quarantine").stream()
        if (d.to_dict() or {}).get("reason") == reason
    ]


def message_count() -> int:
    return sum(1 for _ in store.client().collection_group("messages").stream())


def test_a_900_kb_twilio_body_is_quarantined_at_the_webhook_not_dead_lettered(
    clean_stack: LocalStack,
) -> None:
    form = {
        "MessageSid": f"SM{uuid.uuid4().hex}",
        "AccountSid": demo.TWILIO_SID,
        "From": "+15557770001",
        "To": SMS.external_id,
        "Body": "x" * 900_000,
        "NumMedia": "0",
    }
    assert post_signed(clean_stack, "twilio", form).status_code == 200

    [record] = eventually(lambda: quarantine_documents("unstorable"), what="the oversized item kept")
    assert str(MAX_EVENT_BYTES) in record["error"]
    # Too large to keep whole in a 1 MiB document: its head, size and digest are kept.
    assert record["rawTruncated"] is True and record["rawBytes"] > 900_000
    assert len(record["rawSha256"]) == 64
    assert message_count() == 0


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": "the customer's answer"}
    for level in range(depth):
        value = {f"level{level}": value}
    return value


def test_an_answer_nested_deeper_than_firestore_allows_is_quarantined_by_ingest(
    clean_stack: LocalStack,
) -> None:
    # A WhatsApp flow answer (nfm_reply.response_json) is the customer's own JSON: Firestore
    # refuses maps nested more than 20 levels deep, which no retry can change.
    body = whatsapp_text_webhook(WHATSAPP.external_id, "15557770002", "unused")
    message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    message.pop("text")
    message["type"] = "interactive"
    message["interactive"] = {
        "type": "nfm_reply",
        "nfm_reply": {"name": "flow", "body": "Sent", "response_json": json.dumps(nested(40))},
    }
    assert post_signed(clean_stack, "whatsapp", body).status_code == 200

    [record] = eventually(
        lambda: quarantine_documents("unstorable"), timeout=20, what="Firestore's refusal quarantined"
    )
    assert "Firestore refused the message" in record["error"]
    assert message_count() == 0

    # The same conversation keeps working: the next ordinary message lands.
    assert (
        post_signed(
            clean_stack, "whatsapp", whatsapp_text_webhook(WHATSAPP.external_id, "15557770002", "still here")
        ).status_code
        == 200
    )
    eventually(lambda: message_count() == 1, what="the next message stored")
