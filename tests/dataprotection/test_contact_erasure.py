"""Data protection (issue 18, part 7): an admin exports everything about one contact as a file, and
erases a contact on request; afterwards nothing of them is readable anywhere in the tenant's
documents or in Cloud Storage, and the audit log says it happened without saying what was erased."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests

from infra.local import demo
from shared import audit, csat, ids, store
from shared.auth import Caller
from shared.media import storage
from tests.dataprotection import seeding
from tests.media import helpers
from tests.support import LocalStack, agent_token, eventually, post_signed, whatsapp_text_webhook

pytestmark = pytest.mark.integration

DEMO = demo.DEMO_TENANT
WHATSAPP = helpers.CHANNEL["whatsapp"]


def every_document() -> list[tuple[str, dict[str, Any]]]:
    """Every document of the database, walked collection by collection to the leaves."""
    found: list[tuple[str, dict[str, Any]]] = []

    def walk(collections: Any) -> None:
        for collection in collections:
            for snapshot in collection.stream():
                found.append((snapshot.reference.path, snapshot.to_dict() or {}))
                walk(snapshot.reference.collections())
            # documents that only hold subcollections
            for reference in collection.list_documents():
                if not reference.get().exists:
                    walk(reference.collections())

    walk(store.client().collections())
    return found


def every_object() -> list[tuple[str, bytes]]:
    return [(path, storage.read(path)) for path, _ in storage.listed("")]


def contact(stack: LocalStack, phone: str, name: str, text: str, caption: str, image: bytes) -> str:
    """A customer who wrote a text and sent a photo: the conversation id, once the photo is stored."""
    assert post_signed(
        stack, "whatsapp", whatsapp_text_webhook(WHATSAPP.external_id, phone, text, name=name)
    ).ok
    ref = stack.sandbox.media.add("whatsapp", WHATSAPP.external_id, image, "image/jpeg")
    body, _, _ = helpers.whatsapp_image(ref["media_id"], sender=phone)
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["profile"]["name"] = name
    value["messages"][0]["image"]["caption"] = caption
    assert post_signed(stack, "whatsapp", body).ok
    conversation_id = ids.conversation_id(WHATSAPP.channel_id, phone)

    def stored() -> bool:
        documents = [d for _, d in store.messages_of(DEMO, conversation_id)]
        media = [e for d in documents for e in store.media_entries(d)]
        return len(documents) == 2 and bool(media) and all(e.get("state") == "stored" for e in media)

    eventually(stored, timeout=60, what="both messages and the photo stored")
    return conversation_id


def test_a_contacts_file_then_their_erasure_leaves_nothing_of_them(clean_stack: LocalStack) -> None:
    tag = uuid.uuid4().hex[:8]
    phone, name = f"1555{int(tag, 16) % 10**7:07d}", f"Zebulon Quartermaine {tag}"
    text, caption, note = f"my parcel code is XJ-{tag}", f"photo of the box {tag}", f"VIP, refund {tag}"
    conversation_id = contact(clean_stack, phone, name, text, caption, helpers.jpeg(64, 48))
    kept_phone = f"1666{int(tag, 16) % 10**7:07d}"
    kept_conversation = contact(
        clean_stack, kept_phone, "Other Person", f"keep me {tag}", "x", helpers.jpeg(32, 32)
    )
    contact_id = ids.contact_id(WHATSAPP.channel_id, phone)
    admin = agent_token(clean_stack, DEMO, "boss@erase.test", role="admin", name="Boss")
    agent = agent_token(clean_stack, DEMO, "worker@erase.test")
    sent = requests.post(
        clean_stack.function_urls["send_message"],
        headers={"Authorization": f"Bearer {agent}"},
        json={
            "conversationId": conversation_id,
            "clientMessageId": tag,
            "message": {"type": "note", "text": note},
        },
        timeout=30,
    )
    assert sent.status_code == 200, sent.text

    # The contact's file: profile, conversation, messages, the note, a working link to the photo.
    exported = seeding.call(clean_stack, admin, {"action": "contact_export", "contactId": contact_id})
    assert exported.status_code == 200, exported.text
    assert exported.json()["counts"] == {"conversations": 1, "messages": 2, "notes": 1, "files": 1}
    records = [
        json.loads(line) for line in requests.get(exported.json()["url"], timeout=30).text.splitlines()
    ]
    assert (
        records[0]["record"] == "contact" and records[0]["name"] == name and records[0]["externalId"] == phone
    )
    assert [r["record"] for r in records[1:]].count("message") == 2
    assert [r["text"] for r in records if r["record"] == "note"] == [note]
    [photo] = [m for r in records for m in (r.get("content") or {}).get("media", [])]
    assert requests.get(photo["url"], timeout=30).content == helpers.jpeg(64, 48)

    # The customer rated the conversation, with a comment (shared/csat.py): on the conversation and
    # as its activity line, both under the conversation the erasure deletes.
    rating = f"the courier was rude {tag}"
    store.update_conversation(DEMO, conversation_id, {"csatAsk": {"askId": f"cs{tag}", "askedAtMs": 1}})
    assert csat.record(DEMO, conversation_id, f"cs{tag}", 2, source="page", comment=rating)[0] == "recorded"

    assert (
        seeding.call(clean_stack, agent, {"action": "contact_erase", "contactId": contact_id}).status_code
        == 403
    )
    erased = seeding.call(clean_stack, admin, {"action": "contact_erase", "contactId": contact_id})
    assert erased.status_code == 200, erased.text
    assert erased.json()["conversations"] == 1 and erased.json()["mediaObjects"] >= 2  # photo + thumbnail

    secrets = [phone, name, text, caption, note, rating, contact_id, conversation_id]
    for path, document in every_document():
        dumped = path + json.dumps(document, default=str, ensure_ascii=False)
        leaked = [s for s in secrets if s in dumped]
        assert not leaked, f"{path} still holds {leaked}"
    for path, data in every_object():
        leaked = [s for s in secrets if s.encode() in data or s in path]
        assert not leaked, f"{path} still holds {leaked}"
    assert store.contact_document(DEMO, contact_id) is None

    # The other customer is untouched; search finds nothing of the erased one.
    assert [m for _, m in store.messages_of(DEMO, kept_conversation) if m.get("text") == f"keep me {tag}"]
    searched = seeding.call(clean_stack, admin, {"action": "search", "query": f"Quartermaine {tag}"})
    assert (
        searched.status_code == 200 and searched.json()["results"] == [] and searched.json()["contacts"] == []
    )

    entries = {e["action"]: e for e in audit.entries(Caller(uid="x", tenant_id=DEMO, role="admin"))}
    assert entries["contact.erase"]["details"]["conversations"] == 1
    assert entries["contact.erase"]["target"]["id"] == entries["contact.export"]["target"]["id"]
    again = seeding.call(clean_stack, admin, {"action": "contact_erase", "contactId": contact_id})
    assert again.status_code == 404
