"""Real provider payloads with media (../shared/fixtures/providers), pointed at the demo channels and
at files the provider sandbox keeps, and small real files to send."""

from __future__ import annotations

import copy
import io
import json
import uuid
from typing import Any

from infra.local import demo
from tests.support import REPO

FIXTURES = REPO.parent / "shared" / "fixtures" / "providers"
CHANNEL = {c.kind: c for c in demo.DEMO_CHANNELS if c.channel_id != "twilio-whatsapp"}


def fixture(kind: str, name: str) -> Any:
    return json.loads((FIXTURES / kind / name).read_text())


def png(width: int = 640, height: int = 480) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 60)).save(out, "PNG")
    return out.getvalue()


def jpeg(width: int = 800, height: int = 600) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 130, 60)).save(out, "JPEG")
    return out.getvalue()


def whatsapp_image(media_id: str, sender: str | None = None) -> tuple[dict[str, Any], str, str]:
    """courier-image.json for the demo number: (body, contact id, provider message id)."""
    body = copy.deepcopy(fixture("whatsapp", "courier-image.json"))
    value = body["entry"][0]["changes"][0]["value"]
    sender = sender or f"1555{uuid.uuid4().int % 10**7:07d}"
    wamid = f"wamid.{uuid.uuid4().hex}"
    value["metadata"]["phone_number_id"] = CHANNEL["whatsapp"].external_id
    value["contacts"][0]["wa_id"] = sender
    message = value["messages"][0]
    message.update({"from": sender, "id": wamid})
    message["image"]["id"] = media_id
    return body, sender, wamid


def meta_attachment(kind: str, url: str) -> tuple[dict[str, Any], str, str]:
    """courier-attachment.json (Messenger or Instagram) for the demo page/account."""
    body = copy.deepcopy(fixture(kind, "courier-attachment.json"))
    entry = body["entry"][0]
    account = CHANNEL[kind].external_id
    sender = str(uuid.uuid4().int % 10**15)
    mid = f"m_{uuid.uuid4().hex}"
    entry["id"] = account
    event = entry["messaging"][0]
    event["recipient"]["id"] = account
    event["sender"]["id"] = sender
    event["message"]["mid"] = mid
    event["message"]["attachments"][0]["payload"]["url"] = url
    return body, sender, mid


def telegram_photo(file_id: str) -> tuple[dict[str, Any], str, str]:
    """courier-photo.json with its largest size pointing at ``file_id``."""
    body = copy.deepcopy(fixture("telegram", "courier-photo.json"))
    update_id = 800_000_000 + uuid.uuid4().int % 10**8
    chat = 5_000_000_000 + uuid.uuid4().int % 10**9
    body["update_id"] = update_id
    message = body["message"]
    message["from"]["id"] = chat
    message["chat"]["id"] = chat
    message["message_id"] = update_id % 100000
    for size in message["photo"]:
        size["file_id"] = f"small-{uuid.uuid4().hex}"
    message["photo"][-1]["file_id"] = file_id
    return body, str(chat), str(update_id)


def twilio_mms(urls: list[str], types: list[str]) -> tuple[dict[str, str], str, str]:
    """courier-mms-inbound-with-body.json for the demo SMS number with these media."""
    body = dict(fixture("twilio", "courier-mms-inbound-with-body.json"))
    sid = "MM" + uuid.uuid4().hex
    sender = f"+1555{uuid.uuid4().int % 10**7:07d}"
    for key in [k for k in body if k.startswith(("MediaUrl", "MediaContentType"))]:
        del body[key]
    body.update(
        {
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "AccountSid": demo.TWILIO_SID,
            "To": CHANNEL["twilio"].external_id,
            "From": sender,
            "NumMedia": str(len(urls)),
        }
    )
    for index, (url, content_type) in enumerate(zip(urls, types, strict=True)):
        body[f"MediaUrl{index}"] = url
        body[f"MediaContentType{index}"] = content_type
    return body, sender, sid
