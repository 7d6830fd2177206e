"""The operations page masks personal data in raw payloads until an admin reveals them."""

from __future__ import annotations

import json

from infra.local import payloads
from shared.operations.masking import MASK, mask, mask_text


def test_a_whatsapp_message_keeps_its_shape_and_loses_the_customer() -> None:
    body = payloads.whatsapp_change(
        "106540352242922",
        messages=[payloads.whatsapp_text_message("15551234567", "my card is 4111 and I live at 3 Elm St")],
    )
    body["entry"][0]["changes"][0]["value"]["contacts"] = [
        {"profile": {"name": "Ada Lovelace"}, "wa_id": "15551234567"}
    ]
    masked = json.dumps(mask(body))
    for secret in ("Ada Lovelace", "15551234567", "4111", "Elm St"):
        assert secret not in masked
    value = mask(body)["entry"][0]["changes"][0]["value"]
    assert value["metadata"]["phone_number_id"] == "106540352242922", "the business's ids stay"
    assert value["messages"][0]["from"] == MASK + "67", "phone numbers keep their last two digits"
    assert value["messages"][0]["type"] == "text"


def test_emails_and_international_numbers_are_masked_anywhere() -> None:
    masked = mask({"note": "write to ada@example.com", "other": "+44 20 7946 0958", "count": 3})
    assert masked == {"note": f"write to {MASK}", "other": MASK + "58", "count": 3}


def test_a_telegram_sender_is_masked_whole_including_numeric_ids() -> None:
    update = {"message": {"from": {"id": 42, "first_name": "Ada", "is_bot": False}, "text": "hi", "chat": {}}}
    masked = mask(update)["message"]
    assert masked["from"] == {"id": MASK, "first_name": MASK, "is_bot": False}
    assert masked["text"] == MASK


def test_a_body_that_is_not_json_shows_only_its_size() -> None:
    assert mask_text("name=Ada&phone=+1555") == f"{MASK} (20 characters of text that is not JSON)"
