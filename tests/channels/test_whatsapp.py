"""WhatsApp Cloud API: the ``entry[].changes[].value`` walk and every message, status and notice
kind, on hand-written fixtures built from the WhatsApp Business Platform webhook reference
(reaction, edit, revoke, order, system, interactive, media, contacts, referral, statuses with
pricing and errors, value-level errors, other fields, smb_message_echoes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.channels.whatsapp import WhatsAppAdapter
from shared.errors import ParseError
from shared.inbound import normalize
from shared.models import (
    Attachment,
    ChannelNoticeEvent,
    ChoiceContent,
    ContactsContent,
    DeleteEvent,
    EditEvent,
    MediaContent,
    MessageEvent,
    OrderContent,
    OrderItem,
    ReactionEvent,
    ReceiptError,
    ReceiptEvent,
    ReferralContent,
    SharedContact,
    SystemContent,
    TextContent,
    UnsupportedContent,
)
from tests.channels import make_adapter, own_fixture, run_own
from tests.support import whatsapp_text_webhook

PHONE_NUMBER_ID = "106540352242922"
CUSTOMER = "16505551234"


# --- split ---------------------------------------------------------------------------------------


def test_split_walks_every_entry_change_and_list() -> None:
    items = make_adapter("whatsapp").split(own_fixture("whatsapp-batch.json"), "")
    assert [(i["kind"], i["item"].get("id")) for i in items] == [
        ("message", "wamid.A"),
        ("message", "wamid.B"),
        ("message", "wamid.C"),
        ("status", "wamid.OUT9"),
        ("message", "wamid.A"),
        ("message", "wamid.NOSENDER"),
    ]  # the empty {} message is skipped
    first = items[0]
    assert set(first) == {"object", "entry_id", "field", "kind", "metadata", "contacts", "item"}
    assert first["metadata"]["phone_number_id"] == PHONE_NUMBER_ID
    # Each item carries only its own sender's contact: no other customer's name travels with it.
    assert [c["wa_id"] for c in first["contacts"]] == [CUSTOMER]
    assert [c["wa_id"] for c in items[1]["contacts"]] == ["16505559999"]
    assert items[2]["contacts"] == []


def test_items_parse_on_their_own_after_a_json_round_trip() -> None:
    adapter = make_adapter("whatsapp")
    for name in (
        "whatsapp-batch.json",
        "whatsapp-statuses.json",
        "whatsapp-changes.json",
        "whatsapp-media.json",
    ):
        for item in adapter.split(own_fixture(name), ""):
            try:
                direct = adapter.parse_item(item)
            except ParseError:
                continue
            assert adapter.parse_item(json.loads(json.dumps(item))) == direct


def test_batch() -> None:
    result = run_own("whatsapp", "whatsapp-batch.json")
    messages = [e for e in result.events if isinstance(e, MessageEvent)]
    assert [(m.message_id, m.contact_id, m.contact_name) for m in messages] == [
        ("wamid.A", CUSTOMER, "Sheena Nelson"),
        ("wamid.B", "16505559999", "Dan Brown"),
        ("wamid.C", "16505557777", None),  # no contacts[] in that change
        ("wamid.A", CUSTOMER, None),  # repeated wamid; the contact there has no wa_id to match
    ]
    assert messages[0].event_id == messages[3].event_id == "wamid.A"
    assert messages[3].account_id == "106540352242999"  # routed on that change's own phone_number_id
    assert messages[1].occurred_at == datetime(2025, 6, 8, 20, 59, 44, tzinfo=UTC)  # int timestamp
    assert messages[2].contact_handle == "16505557777"
    (receipt,) = [e for e in result.events if isinstance(e, ReceiptEvent)]
    assert (receipt.status, receipt.message_ids) == ("read", ("wamid.OUT9",))
    # The message without from/from_user_id is quarantined on its own.
    assert len(result.quarantined) == 1
    assert "without from" in result.quarantined[0].error


# --- message kinds -------------------------------------------------------------------------------


def test_reactions_added_and_removed() -> None:
    result = run_own("whatsapp", "whatsapp-reactions.json")
    assert not result.quarantined
    added, removed_empty, removed_missing = result.events
    for event in result.events:
        assert isinstance(event, ReactionEvent)
        assert (event.target_message_id, event.contact_id, event.account_id) == (
            "wamid.OURS1",
            CUSTOMER,
            PHONE_NUMBER_ID,
        )
    assert added.emoji == "\N{THUMBS UP SIGN}"
    assert removed_empty.emoji is None
    assert removed_missing.emoji is None
    assert len({e.event_id for e in result.events}) == 3


def test_edit_and_revoke() -> None:
    result = run_own("whatsapp", "whatsapp-edit-revoke.json")
    assert not result.quarantined
    text_edit, caption_edit, revoke = result.events
    assert isinstance(text_edit, EditEvent)
    assert (text_edit.target_message_id, text_edit.text, text_edit.message_id) == (
        "wamid.ORIGINAL1",
        "Does it come in blue?",
        "wamid.EDIT1",
    )
    assert isinstance(caption_edit, EditEvent)
    assert caption_edit.text == "new caption"
    assert isinstance(revoke, DeleteEvent)
    assert revoke.target_message_id == "wamid.ORIGINAL1"
    assert revoke.event_id != "wamid.REVOKE1"


def test_order_and_system() -> None:
    result = run_own("whatsapp", "whatsapp-order-system.json")
    assert not result.quarantined
    order, system = result.events
    assert isinstance(order, MessageEvent)
    assert order.content == OrderContent(
        catalog_id="194836987003835",
        text="Please deliver before noon",
        items=(
            OrderItem(product_id="di9ozbzfi4", quantity=2, price=30.5, currency="USD"),
            OrderItem(product_id="77", quantity=1, price=12.0, currency="USD"),
        ),
    )
    assert isinstance(system, MessageEvent)
    assert isinstance(system.content, SystemContent)
    assert system.content.event == "user_changed_number"


def test_interactive_replies() -> None:
    result = run_own("whatsapp", "whatsapp-interactive.json")
    assert not result.quarantined
    list_reply, button_reply, empty, bad_flow = result.events
    assert isinstance(list_reply, MessageEvent)
    assert list_reply.content == ChoiceContent(
        choice="list_reply", title="Express", payload="priority_express", description="Next day delivery"
    )
    assert list_reply.reply_to == "wamid.LIST"
    assert isinstance(button_reply, MessageEvent)
    assert button_reply.content == ChoiceContent(choice="button_reply", title="Confirm", payload="confirm")
    assert isinstance(empty, MessageEvent)
    assert empty.content == UnsupportedContent(
        provider_type="interactive:list_reply", reason="interactive reply without its object"
    )
    assert isinstance(bad_flow, MessageEvent)
    assert isinstance(bad_flow.content, ChoiceContent)
    assert bad_flow.content.choice == "flow"
    assert bad_flow.content.response == {"response_json": "{not json"}  # kept as it came


def test_media_contacts_forwarded_and_unknown_type() -> None:
    result = run_own("whatsapp", "whatsapp-media.json")
    assert not result.quarantined
    doc, sticker, audio, video, contacts, poll = result.events
    assert isinstance(doc, MessageEvent)
    assert doc.content == MediaContent(
        type="document",
        attachments=(
            Attachment(
                media_id="2222",
                mime_type="application/pdf",
                filename="invoice.pdf",
                caption="the invoice",
                sha256="abc123",
            ),
        ),
        text="the invoice",
    )
    assert isinstance(sticker, MessageEvent)
    assert isinstance(sticker.content, MediaContent)
    assert (sticker.content.type, sticker.content.animated) == ("sticker", True)
    assert isinstance(audio, MessageEvent)
    assert isinstance(audio.content, MediaContent)
    assert (audio.content.type, audio.content.voice) == ("audio", True)
    assert isinstance(video, MessageEvent)
    assert isinstance(video.content, MediaContent)
    assert video.content.attachments[0].media_id == "5555"  # numeric id -> string
    assert video.forwarded is True
    assert isinstance(contacts, MessageEvent)
    assert contacts.content == ContactsContent(
        contacts=(
            SharedContact(
                name="Barbara J. Johnson",
                phones=("+1 (940) 555-1234",),
                emails=("bjohnson@example.com",),
                user_id="19405551234",
            ),
            SharedContact(name="Ann", phones=("+1 650 555 0101",)),
        )
    )
    assert isinstance(poll, MessageEvent)
    assert poll.content == UnsupportedContent(provider_type="poll", reason="unknown message type")


def test_click_to_whatsapp_referral_keeps_the_message() -> None:
    result = run_own("whatsapp", "whatsapp-referral.json")
    assert not result.quarantined
    message, referral = result.events
    assert isinstance(message, MessageEvent)
    assert message.content == TextContent(text="Can I get the discount?")
    assert isinstance(referral, MessageEvent)
    assert referral.content == ReferralContent(
        source="ad",
        ref="ARAkLkA8rmlFeiCktEJQ",
        ad_id="120226305854810726",
        url="https://fb.me/3cr4Wqqkv",
        headline="Chat with us",
        text="Summer sale, 20% off",
    )
    assert referral.message_id != message.message_id
    assert referral.contact_id == message.contact_id


# --- statuses and notices ------------------------------------------------------------------------


def test_statuses() -> None:
    result = run_own("whatsapp", "whatsapp-statuses.json")
    assert not result.quarantined
    sent, delivered, played, failed, warning = result.events
    for event in result.events:
        assert isinstance(event, ReceiptEvent)
    assert (sent.status, sent.contact_id, sent.message_ids) == ("sent", CUSTOMER, ("wamid.OUT1",))
    assert sent.pricing == {
        "billable": True,
        "pricing_model": "PMP",
        "type": "regular",
        "category": "utility",
    }
    assert delivered.status == "delivered"
    assert sent.event_id != delivered.event_id
    assert (played.status, played.provider_status) == ("read", "played")
    assert failed.status == "failed"
    assert failed.error == ReceiptError(
        code="131049",
        title="This message was not delivered to maintain healthy ecosystem engagement.",
        detail="In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
    )
    assert (warning.status, warning.provider_status, warning.contact_id) == (
        "warning",
        "warning",
        "US.13491208655302741918",
    )


def test_other_fields_echoes_and_value_errors() -> None:
    result = run_own("whatsapp", "whatsapp-changes.json")
    assert not result.quarantined
    template, echo, error = result.events
    assert isinstance(template, ChannelNoticeEvent)
    assert template.topic == "message_template_status_update:REJECTED"
    assert template.account_id == "102290129340398"  # no phone number: the WABA id
    assert isinstance(echo, MessageEvent)
    assert (echo.echo, echo.contact_id, echo.account_id) == (True, CUSTOMER, PHONE_NUMBER_ID)
    assert echo.content == TextContent(text="Sent from the Business app")
    assert isinstance(error, ChannelNoticeEvent)
    assert error.topic == "messages:error"
    assert error.error == ReceiptError(code="131000", title="Something went wrong", detail="Unknown error")


@pytest.mark.parametrize(
    "message",
    [
        {"from": "1", "timestamp": "1749416383", "type": "text", "text": {"body": "no id"}},
        {"from": "1", "id": "wamid.X", "type": "reaction", "reaction": {"emoji": "x"}},
        {"from": "1", "id": "wamid.X", "type": "edit", "edit": {"message": {}}},
        {"from": "1", "id": "wamid.X", "type": "revoke", "revoke": {}},
    ],
)
def test_messages_that_cannot_be_understood_are_quarantined(message: dict) -> None:
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {"metadata": {"phone_number_id": "2"}, "messages": [message]},
                    }
                ],
            }
        ],
    }
    result = normalize(make_adapter("whatsapp"), json.dumps(body).encode())
    assert result.events == []
    assert [q.reason for q in result.quarantined] == ["parse_error"]


def test_item_without_phone_number_id_is_quarantined() -> None:
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messages": [{"from": "1", "id": "w", "type": "text", "text": {"body": "x"}}]
                        },
                    }
                ],
            }
        ],
    }
    result = normalize(make_adapter("whatsapp"), json.dumps(body).encode())
    assert "phone_number_id" in result.quarantined[0].error


def test_adapter_kind() -> None:
    assert WhatsAppAdapter.kind == "whatsapp"


def test_unknown_lists_of_the_messages_field_are_recorded() -> None:
    value = {"metadata": {"phone_number_id": "1"}, "message": [{"x": 1}], "calls": [{"id": "c1"}, {}]}
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "9", "changes": [{"field": "messages", "value": value}]}],
    }
    result = normalize(make_adapter("whatsapp"), json.dumps(body).encode())
    assert not result.quarantined
    assert [(e.kind, e.topic) for e in result.events] == [
        ("channel_notice", "messages:message"),  # never mistaken for a `messages[]` element
        ("channel_notice", "messages:calls"),
    ]


def _bsuid_only(contacts: list[dict[str, object]]) -> bytes:
    """A message with neither ``from`` nor ``from_user_id``: the sender is only in contacts[]."""
    body = whatsapp_text_webhook(PHONE_NUMBER_ID, "unused", "who am I?", wamid="wamid.BSUID1")
    value = body["entry"][0]["changes"][0]["value"]
    del value["messages"][0]["from"]
    value["contacts"] = contacts
    return json.dumps(body).encode()


def test_a_message_without_from_is_from_the_changes_one_contact() -> None:
    body = _bsuid_only([{"profile": {"name": "Bea"}, "user_id": "US.13491208655302741918"}])
    result = normalize(WhatsAppAdapter(app_secret="x"), body)
    assert result.quarantined == []
    [event] = result.events
    assert isinstance(event, MessageEvent)
    assert event.contact_id == "US.13491208655302741918"
    assert event.contact_name == "Bea"


def test_a_message_without_from_among_several_contacts_is_still_quarantined() -> None:
    two = [{"user_id": "US.1"}, {"user_id": "US.2"}]
    result = normalize(WhatsAppAdapter(app_secret="x"), _bsuid_only(two))
    assert result.events == []
    [item] = result.quarantined
    assert "without from or from_user_id" in item.error
