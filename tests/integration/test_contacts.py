"""One customer across channels on the emulators (issue 17 part 8): contacts merged and split through
agent_api (identities and conversations restored, nothing lost, a message arriving meanwhile lands,
activity lines and audit entries, another tenant refused), notes and custom attributes, and
Messenger/Instagram profiles fetched once off the ingest path, cached, refreshed, errors kept."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
import requests

from infra.local import demo, payloads
from infra.local.stack import LocalStack
from shared import ids, profiles, store
from shared.errors import ProviderError
from tests.support import agent_token, eventually, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
PAGE = next(c for c in demo.DEMO_CHANNELS if c.kind == "messenger")
IG = next(c for c in demo.DEMO_CHANNELS if c.kind == "instagram")
T = demo.DEMO_TENANT


@pytest.fixture
def tokens(clean_stack: LocalStack) -> dict[str, str]:
    return {
        "admin": agent_token(clean_stack, T, "alex@demo.test", role="admin", name="Alex"),
        "dana": agent_token(clean_stack, T, "dana@demo.test", name="Dana"),
        "eve": agent_token(clean_stack, demo.OTHER_TENANT, "eve@acme.test", role="admin", name="Eve"),
    }


def call(stack: LocalStack, token: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        stack.function_urls["agent_api"], headers={"Authorization": f"Bearer {token}"}, json=body, timeout=30
    )


def ok(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()


def whatsapp_customer(stack: LocalStack, wa_id: str, text: str = "Hello?", name: str = "Kerry Fisher") -> str:
    body = whatsapp_text_webhook(WA.external_id, wa_id, text, wamid=f"wamid.{uuid.uuid4().hex}", name=name)
    assert post_webhook(stack, "whatsapp", body).status_code == 200
    conversation_id = ids.conversation_id(WA.channel_id, wa_id)
    eventually(lambda: store.get_conversation(T, conversation_id), what="the WhatsApp conversation")
    return conversation_id


def meta_customer(stack: LocalStack, channel: demo.DemoChannel, sender: str, text: str = "Hi") -> str:
    kind = "page" if channel.kind == "messenger" else "instagram"
    body = payloads.messenger_text(channel.external_id, sender, text, kind=kind)
    assert post_webhook(stack, channel.kind, body).status_code == 200
    conversation_id = ids.conversation_id(channel.channel_id, sender)
    eventually(lambda: store.get_conversation(T, conversation_id), what=f"the {channel.kind} conversation")
    return conversation_id


def contact(conversation_id: str) -> tuple[str, dict[str, Any]]:
    contact_id = str((store.get_conversation(T, conversation_id) or {})["contactId"])
    return contact_id, store.get_contact_versioned(T, contact_id).data


def thread(conversation_id: str) -> list[dict[str, Any]]:
    messages = store.conversation_ref(T, conversation_id).collection("messages")
    return sorted((s.to_dict() or {} for s in messages.stream()), key=lambda d: d.get("sentAtMs", 0))


def lines(conversation_id: str, verb: str) -> list[dict[str, Any]]:
    return [m for m in thread(conversation_id) if (m.get("activity") or {}).get("verb") == verb]


def audit(action: str) -> list[dict[str, Any]]:
    return [entry for _, entry in store.list_audit_entries(T, action=action, limit=50)]


def profile_lookups(stack: LocalStack, user_id: str) -> int:
    return sum(
        1
        for r in stack.sandbox.requests()
        if r.method == "GET" and r.path.rstrip("/").endswith(f"/{user_id}")
    )


# --- merge and split -------------------------------------------------------------------------------


def test_merge_then_split_restores_the_identities_and_conversations_and_loses_nothing(
    clean_stack: LocalStack, tokens: dict[str, str]
) -> None:
    whatsapp = whatsapp_customer(clean_stack, "15550002001")
    psid = "6100000000002001"
    messenger = meta_customer(clean_stack, PAGE, psid)
    wa_contact, _ = contact(whatsapp)
    fb_contact, _ = contact(messenger)
    before = {c: [m for m in thread(c) if m["direction"] != "system"] for c in (whatsapp, messenger)}

    merged = ok(
        call(
            clean_stack,
            tokens["dana"],
            {"action": "contact_merge", "contactId": fb_contact, "intoContactId": wa_contact},
        )
    )
    assert merged == {"personId": wa_contact, "identities": sorted([wa_contact, fb_contact])}
    assert contact(whatsapp)[1]["personId"] == contact(messenger)[1]["personId"] == wa_contact
    people = store.person_identities(T, wa_contact)
    assert sorted(cid for cid, _ in people) == sorted([wa_contact, fb_contact])
    # A line in each conversation, naming the other side; never unread, never the last message.
    [in_whatsapp] = lines(whatsapp, "merge")
    [in_messenger] = lines(messenger, "merge")
    assert in_whatsapp["text"] == f"Dana merged this customer with {psid} (messenger)"
    assert in_messenger["text"] == "Dana merged this customer with Kerry Fisher (whatsapp)"
    assert (store.get_conversation(T, whatsapp) or {})["lastMessage"]["direction"] == "in"
    [entry] = audit("contact.merge")
    assert entry["target"]["id"] == wa_contact and entry["after"]["identities"] == sorted(
        [wa_contact, fb_contact]
    )
    again = call(
        clean_stack,
        tokens["dana"],
        {"action": "contact_merge", "contactId": wa_contact, "intoContactId": fb_contact},
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_merged"

    split = ok(call(clean_stack, tokens["dana"], {"action": "contact_split", "contactId": fb_contact}))
    assert split["personId"] == wa_contact and split["identities"] == [wa_contact]
    assert "personId" not in contact(whatsapp)[1] and "personId" not in contact(messenger)[1]
    assert store.person_identities(T, wa_contact) == []
    assert len(lines(whatsapp, "split")) == len(lines(messenger, "split")) == 1
    assert len(audit("contact.split")) == 1
    # Every message is where it was, in the conversation it was in.
    after = {c: [m for m in thread(c) if m["direction"] != "system"] for c in (whatsapp, messenger)}
    assert after == before
    not_merged = call(clean_stack, tokens["dana"], {"action": "contact_split", "contactId": fb_contact})
    assert not_merged.status_code == 409 and not_merged.json()["error"]["code"] == "not_merged"


def test_a_person_of_three_split_at_its_root_keeps_the_other_two_together(
    clean_stack: LocalStack, tokens: dict[str, str]
) -> None:
    conversations = [whatsapp_customer(clean_stack, f"1555000300{n}") for n in range(3)]
    a, b, c = (contact(conversation)[0] for conversation in conversations)
    ok(call(clean_stack, tokens["dana"], {"action": "contact_merge", "contactId": b, "intoContactId": a}))
    ok(call(clean_stack, tokens["dana"], {"action": "contact_merge", "contactId": c, "intoContactId": b}))
    assert {contact(x)[1]["personId"] for x in conversations} == {a}
    ok(call(clean_stack, tokens["dana"], {"action": "contact_split", "contactId": a}))
    assert "personId" not in contact(conversations[0])[1]
    assert contact(conversations[1])[1]["personId"] == contact(conversations[2])[1]["personId"] == min(b, c)


def test_a_message_arriving_during_a_merge_still_lands(
    clean_stack: LocalStack, tokens: dict[str, str]
) -> None:
    whatsapp = whatsapp_customer(clean_stack, "15550004001")
    messenger = meta_customer(clean_stack, PAGE, "6100000000004001")
    wa_contact, fb_contact = contact(whatsapp)[0], contact(messenger)[0]
    sent: list[int] = []

    def customer_keeps_writing() -> None:
        # A new name each time: ingest rewrites the contact the merge is rewriting.
        for n in range(8):
            body = whatsapp_text_webhook(
                WA.external_id,
                "15550004001",
                f"message {n}",
                wamid=f"wamid.{uuid.uuid4().hex}",
                name=f"Kerry {n}",
            )
            sent.append(post_webhook(clean_stack, "whatsapp", body).status_code)

    writer = threading.Thread(target=customer_keeps_writing)
    writer.start()
    merged = call(
        clean_stack,
        tokens["dana"],
        {"action": "contact_merge", "contactId": fb_contact, "intoContactId": wa_contact},
    )
    writer.join(timeout=60)
    assert merged.status_code == 200, merged.text
    assert sent == [200] * 8
    texts = eventually(
        lambda: (
            (found := {m.get("text") for m in thread(whatsapp)}) >= {f"message {n}" for n in range(8)}
            and found
        ),
        what="every message of the customer",
    )
    assert "Hello?" in texts
    assert contact(whatsapp)[1]["personId"] == contact(messenger)[1]["personId"] == wa_contact
    # Ingest's own fields are untouched by the merge: the name is one the customer sent (the local
    # subscription is unordered, so the last to land need not be the last sent).
    assert contact(whatsapp)[1]["name"] in {f"Kerry {n}" for n in range(8)}


def test_another_tenant_cannot_merge_or_split_or_annotate_our_contacts(
    clean_stack: LocalStack, tokens: dict[str, str]
) -> None:
    whatsapp = whatsapp_customer(clean_stack, "15550005001")
    messenger = meta_customer(clean_stack, PAGE, "6100000000005001")
    wa_contact, fb_contact = contact(whatsapp)[0], contact(messenger)[0]
    for body in (
        {"action": "contact_merge", "contactId": fb_contact, "intoContactId": wa_contact},
        {"action": "contact_split", "contactId": fb_contact},
        {"action": "contact_note_add", "contactId": fb_contact, "text": "hi"},
    ):
        refused = call(clean_stack, tokens["eve"], body)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "contact_not_found", (
            refused.text
        )
    assert "personId" not in contact(messenger)[1]
    assert lines(whatsapp, "merge") == [] and audit("contact.merge") == []
    invalid = call(clean_stack, tokens["dana"], {"action": "contact_merge", "contactId": fb_contact})
    assert invalid.status_code == 400


# --- notes and attributes --------------------------------------------------------------------------


def test_admins_define_attributes_agents_fill_them_and_write_notes(
    clean_stack: LocalStack, tokens: dict[str, str]
) -> None:
    whatsapp = whatsapp_customer(clean_stack, "15550006001")
    messenger = meta_customer(clean_stack, PAGE, "6100000000006001")
    wa_contact, fb_contact = contact(whatsapp)[0], contact(messenger)[0]
    refused = call(
        clean_stack,
        tokens["dana"],
        {"action": "contact_attribute_define", "key": "plan", "label": "Plan", "type": "text"},
    )
    assert refused.status_code == 403
    for key, label, kind in (
        ("plan", "Plan", "text"),
        ("seats", "Seats", "number"),
        ("vip", "VIP", "boolean"),
    ):
        ok(
            call(
                clean_stack,
                tokens["admin"],
                {"action": "contact_attribute_define", "key": key, "label": label, "type": kind},
            )
        )
    assert sorted(store.list_contact_attributes(T)) == ["plan", "seats", "vip"]

    ok(
        call(
            clean_stack,
            tokens["dana"],
            {
                "action": "contact_attributes_set",
                "contactId": fb_contact,
                "values": {"plan": "Gold", "seats": 12},
            },
        )
    )
    wrong = call(
        clean_stack,
        tokens["dana"],
        {"action": "contact_attributes_set", "contactId": fb_contact, "values": {"seats": "many"}},
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "invalid_attribute"
    unknown = call(
        clean_stack,
        tokens["dana"],
        {"action": "contact_attributes_set", "contactId": fb_contact, "values": {"shoe": "42"}},
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_attribute"
    assert contact(messenger)[1]["attributes"] == {"plan": "Gold", "seats": 12}

    note = ok(
        call(
            clean_stack,
            tokens["dana"],
            {"action": "contact_note_add", "contactId": fb_contact, "text": " Prefers e-mail "},
        )
    )
    stored = store.get_contact_note(T, fb_contact, note["noteId"]) or {}
    assert stored["text"] == "Prefers e-mail" and stored["authorName"] == "Dana"

    # Merged, values go on the person's root; the notes stay on the identity they were written on.
    ok(
        call(
            clean_stack,
            tokens["dana"],
            {"action": "contact_merge", "contactId": fb_contact, "intoContactId": wa_contact},
        )
    )
    answer = ok(
        call(
            clean_stack,
            tokens["dana"],
            {
                "action": "contact_attributes_set",
                "contactId": fb_contact,
                "values": {"vip": True, "plan": None},
            },
        )
    )
    assert answer["contactId"] == wa_contact
    assert contact(whatsapp)[1]["attributes"] == {"vip": True}
    assert store.get_contact_note(T, fb_contact, note["noteId"]) is not None
    ok(
        call(
            clean_stack,
            tokens["admin"],
            {"action": "contact_note_delete", "contactId": fb_contact, "noteId": note["noteId"]},
        )
    )
    assert store.get_contact_note(T, fb_contact, note["noteId"]) is None


# --- profiles --------------------------------------------------------------------------------------


def test_a_messenger_customers_profile_is_fetched_once_cached_and_refreshed(clean_stack: LocalStack) -> None:
    psid = f"61000000{int(time.time() * 1000) % 10**8:08d}"
    clean_stack.sandbox.set_profile(
        "messenger", PAGE.external_id, psid, first_name="Peter", last_name="Chang"
    )
    messenger = meta_customer(clean_stack, PAGE, psid)
    contact_id, _ = contact(messenger)
    profile = eventually(lambda: contact(messenger)[1].get("profile"), what="the fetched profile")
    assert (profile["name"], profile["firstName"], profile["lastName"]) == ("Peter Chang", "Peter", "Chang")
    assert "/meta-profile/" in profile["pictureUrl"]
    conversation = eventually(
        lambda: (c := store.get_conversation(T, messenger) or {}).get("contactName") and c
    )
    assert conversation["contactName"] == "Peter Chang"
    assert conversation["contactPictureUrl"] == profile["pictureUrl"]
    assert requests.get(profile["pictureUrl"], timeout=10).headers["Content-Type"] == "image/png"

    for n in range(3):
        meta_customer(clean_stack, PAGE, psid, f"again {n}")
    eventually(lambda: len([m for m in thread(messenger) if m["direction"] == "in"]) == 4, what="4 messages")
    assert profiles.fetch(T, messenger) == "cached"  # what any later task does within the period
    assert profile_lookups(clean_stack, psid) == 1

    # After the refresh period the next task asks again and takes the new name.
    clean_stack.sandbox.set_profile("messenger", PAGE.external_id, psid, first_name="Pete", last_name="Chang")
    store.set_contact_profile(
        T, contact_id, {**profile, "fetchedAtMs": profile["fetchedAtMs"] - profiles.REFRESH_MS - 1}
    )
    assert profiles.fetch(T, messenger) == "fetched"
    assert contact(messenger)[1]["profile"]["name"] == "Pete Chang"
    assert (store.get_conversation(T, messenger) or {})["contactName"] == "Pete Chang"
    assert profile_lookups(clean_stack, psid) == 2


def test_an_instagram_profile_names_the_customer_by_name_or_username(clean_stack: LocalStack) -> None:
    igsid = f"91000000{int(time.time() * 1000) % 10**8:08d}"
    clean_stack.sandbox.set_profile("instagram", IG.external_id, igsid, name=None, username="ana.lima")
    instagram = meta_customer(clean_stack, IG, igsid)
    profile = eventually(lambda: contact(instagram)[1].get("profile"), what="the fetched profile")
    assert (profile["name"], profile["username"]) == ("@ana.lima", "ana.lima")


def test_profile_errors_are_kept_with_what_was_known_and_retried_later(clean_stack: LocalStack) -> None:
    stranger = f"62000000{int(time.time() * 1000) % 10**8:08d}"  # the sandbox knows no such person
    messenger = meta_customer(clean_stack, PAGE, stranger)
    profile = eventually(lambda: contact(messenger)[1].get("profile"), what="the failed lookup")
    assert profile["errorCode"] == "100" and "fetchedAtMs" in profile and "name" not in profile
    assert "contactName" not in (store.get_conversation(T, messenger) or {})
    assert profiles.fetch(T, messenger) == "cached"  # not asked again before RETRY_FAILED_MS

    # Transient refusals (rate limits) are the queue's to retry, until the last attempt.
    contact_id, _ = contact(messenger)
    clean_stack.sandbox.set_profile(
        "messenger", PAGE.external_id, stranger, first_name="Known", last_name="Later"
    )
    store.set_contact_profile(
        T, contact_id, {**profile, "fetchedAtMs": profile["fetchedAtMs"] - profiles.RETRY_FAILED_MS - 1}
    )
    clean_stack.sandbox.fail_next("messenger", 613)
    with pytest.raises(ProviderError) as raised:
        profiles.fetch(T, messenger, retry_count=0)
    assert raised.value.transient
    clean_stack.sandbox.fail_next("messenger", 613)
    assert profiles.fetch(T, messenger, retry_count=profiles.MAX_ATTEMPTS - 1) == "failed"
    assert contact(messenger)[1]["profile"]["errorCode"] == "613"
    store.set_contact_profile(T, contact_id, {"fetchedAtMs": 0, "error": "old"})
    assert profiles.fetch(T, messenger) == "fetched"
    assert contact(messenger)[1]["profile"]["name"] == "Known Later"


def test_channels_without_a_profile_api_queue_no_lookup(clean_stack: LocalStack) -> None:
    whatsapp = whatsapp_customer(clean_stack, "15550007001")
    assert profiles.fetch(T, whatsapp) == "no-profile-api"
    assert "profile" not in contact(whatsapp)[1]
