"""Files and conversations for the outbound media tests: real bytes of each kind, uploaded where an
agent's upload lands, and a conversation on each demo channel opened by a signed customer webhook."""

from __future__ import annotations

import io
import time
import uuid
from typing import Any

import requests

from infra.local import demo
from infra.local.simulate import demo_channel, kind_of, text_payload
from infra.local.stack import LocalStack
from shared import ids, store
from tests.support import eventually, post_signed


def png(width: int = 64, height: int = 48, *, padding: int = 0) -> bytes:
    """A real PNG (Pillow); ``padding`` bytes of an ancillary chunk make it as large as needed."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (220, 80, 40)).save(out, format="PNG")
    data = out.getvalue()
    if padding:
        import struct
        import zlib

        chunk_type = b"zzPd"  # a private ancillary chunk: decoders skip it
        body = b"\0" * padding
        chunk = struct.pack(">I", len(body)) + chunk_type + body
        chunk += struct.pack(">I", zlib.crc32(chunk_type + body) & 0xFFFFFFFF)
        data = data[:-12] + chunk + data[-12:]  # before IEND
    return data


def pdf() -> bytes:
    """A minimal PDF document."""
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def ogg_opus() -> bytes:
    """The first page of an OGG Opus voice note (what sniffing looks at)."""
    head = b"OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00"
    page = b"OggS\x00\x02" + b"\x00" * 8 + b"\x01\x00\x00\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
    return page + b"\x01" + bytes([len(head)]) + head + b"\x00" * 256


def svg() -> bytes:
    return b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def upload(tenant: str, uid: str, data: bytes, file_name: str, content_type: str) -> dict[str, Any]:
    """Put ``data`` where an agent's upload lands (what the browser does through uploadUrl) and
    return the attachment as send_message takes it."""
    from shared.media import storage

    path = storage.upload_path(tenant, uid, file_name)
    storage.put(path, data, content_type, file_name=file_name)
    return {"path": path, "fileName": file_name, "contentType": content_type, "size": len(data)}


def uid_of(token: str) -> str:
    from shared import auth

    return auth.verify(f"Bearer {token}").uid


def open_conversation(stack: LocalStack, channel: str, contact: str) -> str:
    """A customer writes on the demo tenant's ``channel`` (simulator name); return the conversation
    id once ingest stored it."""
    body = text_payload(channel, "Here is my problem", contact, "Ada Customer")
    response = post_signed(stack, kind_of(channel), body)
    assert response.status_code == 200, response.text
    demo_ch = demo_channel(channel)
    if channel == "telegram":
        external = contact
    elif channel.startswith("twilio"):
        number = "+" + contact.lstrip("+")
        external = f"whatsapp:{number}" if channel == "twilio-whatsapp" else number
    else:
        external = contact
    conversation_id = ids.conversation_id(demo_ch.channel_id, external)
    eventually(
        lambda: store.get_conversation(demo.DEMO_TENANT, conversation_id),
        what=f"the {channel} conversation",
    )
    return conversation_id


def send(stack: LocalStack, token: str, conversation_id: str, message: dict[str, Any]) -> requests.Response:
    return requests.post(
        stack.function_urls["send_message"],
        headers={"Authorization": f"Bearer {token}"},
        json={"conversationId": conversation_id, "clientMessageId": uuid.uuid4().hex, "message": message},
        timeout=30,
    )


def message_status(conversation_id: str, message_id: str, *wanted: str) -> dict[str, Any]:
    stored = store.get_message(demo.DEMO_TENANT, conversation_id, message_id)
    data = stored.data if stored else {}
    return data if data.get("status") in wanted else {}


def wait_sent(conversation_id: str, message_id: str) -> dict[str, Any]:
    data = eventually(
        lambda: message_status(conversation_id, message_id, "sent", "delivered", "read", "failed"),
        what="the message to leave the queue",
    )
    assert data["status"] != "failed", data.get("error")
    return data


def unique_contact(prefix: str = "1555") -> str:
    return prefix + str(int(time.time() * 1000))[-7:]
