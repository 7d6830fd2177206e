"""Data protection (issue 18, part 7): an admin exports everything about one contact as a file, and
erases a contact on request; afterwards nothing of them is readable anywhere in the database (the
quarantine of raw items included), in Cloud Storage or in the dead-letter subscription, other
customers' items stay, and the audit log says it happened without saying what was erased."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from infra.local import demo, payloads
from shared import audit, bus, channels, csat, ids, store
from shared.auth import Caller
from shared.inbound import normalize
from shared.media import storage
from shared.operations import dead_letters
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


def every_dead_letter() -> list[str]:
    """The text of every message in the dead-letter review subscription (data, attributes and
    ordering key), each given back at once."""

    def show(received: Any) -> dict[str, Any]:
        message = received.message
        return {
            "text": bytes(message.data).decode("utf-8", errors="replace")
            + json.dumps(dict(message.attributes))
            + message.ordering_key
        }

    return [row["text"] for row in dead_letters.listing(dead_letters.MAX_SCANNED, None, show)]


def dead_letter(stack: LocalStack, phone: str, name: str, text: str) -> None:
    """A customer's WhatsApp message as Pub/Sub forwards it to the dead-letter topic after five failed
    deliveries (published there directly, as tests/admin/test_operations.py does)."""
    from google.cloud import pubsub_v1

    body = payloads.whatsapp_text(WHATSAPP.external_id, phone, text, name=name)
    (event,) = normalize(channels.adapter("whatsapp"), json.dumps(body).encode()).events
    data, attributes, ordering_key = bus.event_message(event)
    # Pub/Sub keeps a dead letter's ordering key (the conversation's, which names the customer).
    publisher = pubsub_v1.PublisherClient(
        publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True)
    )
    topic = publisher.topic_path(stack.project, "inbound-events-dead")
    dead = {**attributes, "CloudPubSubDeadLetterSourceDeliveryCount": "5"}
    publisher.publish(topic, data, ordering_key=ordering_key, **dead).result(timeout=30)


def unreadable(stack: LocalStack, phone: str, name: str, text: str) -> None:
    """A customer's WhatsApp message no parser can read (it has no id): quarantined raw, naming no
    route, only the number it was sent to."""
    body = whatsapp_text_webhook(WHATSAPP.external_id, phone, text, name=name)
    del body["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert post_signed(stack, "whatsapp", body).ok


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


@pytest.fixture
def dead_letters_left_empty(clean_stack: LocalStack) -> Iterator[LocalStack]:
    """The test plants dead letters in the stack's one dead-letter subscription, which outlives
    Firestore's reset: discard whatever is left afterwards, so the next test counts only its own."""
    yield clean_stack
    dead_letters.discard(None, dead_letters.MAX_SCANNED, None, "left by the erasure test")


def test_a_contacts_file_then_their_erasure_leaves_nothing_of_them(
    dead_letters_left_empty: LocalStack,
) -> None:
    clean_stack = dead_letters_left_empty
    tag = uuid.uuid4().hex[:8]
    phone, name = f"1555{int(tag, 16) % 10**7:07d}", f"Zebulon Quartermaine {tag}"
    text, caption, note = f"my parcel code is XJ-{tag}", f"photo of the box {tag}", f"VIP, refund {tag}"
    conversation_id = contact(clean_stack, phone, name, text, caption, helpers.jpeg(64, 48))
    kept_phone = f"1666{int(tag, 16) % 10**7:07d}"
    kept_conversation = contact(
        clean_stack, kept_phone, "Other Person", f"keep me {tag}", "x", helpers.jpeg(32, 32)
    )
    contact_id = ids.contact_id(WHATSAPP.channel_id, phone)
    # What the pipeline kept of both customers outside the inbox: an item no parser could read, in
    # quarantine, and an event Pub/Sub gave up on, in the dead-letter subscription.
    quarantined, dead = f"unreadable words {tag}", f"dead letter words {tag}"
    unreadable(clean_stack, phone, name, quarantined)
    unreadable(clean_stack, kept_phone, "Other Person", f"kept unreadable {tag}")
    dead_letter(clean_stack, phone, name, dead)
    dead_letter(clean_stack, kept_phone, "Other Person", f"kept dead letter {tag}")

    def kept(found: list[str]) -> list[str]:
        return [t for t in found if tag in t]

    def raw_quarantine() -> list[str]:
        return [str(record.get("raw")) for _, record in store.quarantine_records([], unrouted=True)]

    eventually(lambda: len(kept(raw_quarantine())) == 2, timeout=60, what="both unreadable items kept")
    eventually(lambda: len(kept(every_dead_letter())) == 2, timeout=60, what="both dead letters waiting")
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
    assert erased.json()["quarantined"] == 1 and erased.json()["deadLetters"] == 1

    secrets = [phone, name, text, caption, note, rating, contact_id, conversation_id, quarantined, dead]
    for path, document in every_document():
        dumped = path + json.dumps(document, default=str, ensure_ascii=False)
        leaked = [s for s in secrets if s in dumped]
        assert not leaked, f"{path} still holds {leaked}"
    for path, data in every_object():
        leaked = [s for s in secrets if s.encode() in data or s in path]
        assert not leaked, f"{path} still holds {leaked}"
    assert store.contact_document(DEMO, contact_id) is None
    letters = every_dead_letter()
    for letter in letters:
        leaked = [s for s in secrets if s in letter]
        assert not leaked, f"a dead letter still holds {leaked}"
    assert [t for t in kept(letters) if f"kept dead letter {tag}" in t], "the other customer's stays"
    assert [t for t in raw_quarantine() if f"kept unreadable {tag}" in t], "the other customer's stays"

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
