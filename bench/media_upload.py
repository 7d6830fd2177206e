"""Outbound files, on the emulators: an agent's 5 MB file from the browser's upload to the provider's
request. Each round does what the dashboard does: agent_api ``uploadUrl``, the signed resumable
upload (POST to start, PUT the file through the local storage gateway), then ``send_message`` with
the file as an attachment; timed until the provider sandbox has the provider's own request
(WhatsApp: the multipart upload to ``/{phone-number-id}/media`` and then the message by id;
Telegram: ``sendDocument`` as multipart). Prints p50/p99 of the upload, of send -> provider, and
of the whole.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import requests

from bench.stats import report, summary
from infra.local import demo
from infra.local.stack import LocalStack

SIZE = 5_000_000  # "5 MB": under every provider's document limit (Telegram 50 MB, WhatsApp 100 MB)


def pdf(size: int) -> bytes:
    head = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n"
    return head + b"%" * (size - len(head) - 6) + b"%%EOF\n"


def _upload(
    session: requests.Session, stack: LocalStack, token: str, conversation_id: str, data: bytes
) -> dict:
    signed = session.post(
        stack.function_urls["agent_api"],
        headers={"Authorization": f"Bearer {token}"},
        json={
            "action": "uploadUrl",
            "conversationId": conversation_id,
            "fileName": "invoice.pdf",
            "contentType": "application/pdf",
            "size": len(data),
        },
        timeout=30,
    )
    signed.raise_for_status()
    answer = signed.json()
    started = session.post(answer["url"], headers=answer["headers"], data=b"", timeout=30)
    assert started.status_code in (200, 201), started.text
    done = session.put(
        started.headers["Location"], data=data, headers={"Content-Type": "application/pdf"}, timeout=120
    )
    assert done.status_code in (200, 201), done.text
    return {
        "path": answer["path"],
        "fileName": "invoice.pdf",
        "contentType": "application/pdf",
        "size": len(data),
    }


def _is_whatsapp_document(request: Any) -> bool:
    return request.path.endswith("/messages") and (request.json or {}).get("type") == "document"


def _is_telegram_document(request: Any) -> bool:
    return request.path.endswith("/sendDocument")


def _measure(
    stack: LocalStack, token: str, channel: str, contact: str, final: Any, rounds: int, warmup: int
) -> dict[str, object]:
    """One channel's rounds: upload, send, until the provider's final request was answered."""
    from infra.local.simulate import demo_channel, text_payload
    from shared import ids, store
    from tests.support import eventually, post_signed

    data = pdf(SIZE)
    session = requests.Session()
    body = text_payload(channel, "Can you send the invoice?", contact, "Bench Customer")
    assert post_signed(stack, channel, body).status_code == 200
    conversation_id = ids.conversation_id(demo_channel(channel).channel_id, contact)
    eventually(lambda: store.get_conversation(demo.DEMO_TENANT, conversation_id), what="conversation")

    def provider_request() -> list[Any]:
        return [r for r in stack.sandbox.requests(channel) if final(r) and r.status]

    uploads, sends, totals = [], [], []
    for i in range(rounds + warmup):
        stack.sandbox.clear()
        started = time.time()
        attachment = _upload(session, stack, token, conversation_id, data)
        uploaded = time.time()
        response = session.post(
            stack.function_urls["send_message"],
            headers={"Authorization": f"Bearer {token}"},
            json={
                "conversationId": conversation_id,
                "clientMessageId": uuid.uuid4().hex,
                "message": {"type": "document", "attachments": [attachment]},
            },
            timeout=60,
        )
        response.raise_for_status()
        calls = eventually(provider_request, timeout=60, interval=0.005)
        if i >= warmup:
            uploads.append((uploaded - started) * 1000)
            sends.append((calls[0].at - uploaded) * 1000)
            totals.append((calls[0].at - started) * 1000)
    return {
        "upload": summary(uploads),
        "send_to_provider": summary(sends),
        "upload_to_provider": summary(totals),
    }


def run(rounds: int = 20, warmup: int = 2) -> dict[str, object]:
    """Measure and return the figures."""
    from tests.support import agent_token

    figures: dict[str, object] = {"file_bytes": SIZE}
    with LocalStack() as stack:
        stack.apply_env()
        demo.seed()
        token = agent_token(stack, demo.DEMO_TENANT, "bench-upload@demo.test")
        figures["whatsapp"] = _measure(
            stack, token, "whatsapp", "15554450001", _is_whatsapp_document, rounds, warmup
        )
        figures["telegram"] = _measure(
            stack, token, "telegram", "5554450001", _is_telegram_document, rounds, warmup
        )
    report("media_upload", figures)
    return figures


if __name__ == "__main__":
    run()
