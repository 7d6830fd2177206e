"""Messenger: the ``entry[].messaging[]`` walk and every event kind, on hand-written fixtures built
from the Messenger Platform webhook reference (message_reactions, message_edits, message_deliveries,
message_reads, messaging_postbacks, quick replies, reply_to, echoes, standby, policy enforcement,
handover, account linking)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.channels.messenger import MessengerAdapter
from shared.errors import ParseError
from shared.inbound import normalize
from shared.models import (
    Attachment,
    ChannelNoticeEvent,
    ChoiceContent,
    EditEvent,
    MediaContent,
    MessageEvent,
    ReactionEvent,
    ReceiptEvent,
    SystemContent,
    TextContent,
    UnsupportedContent,
)
from tests.channels import make_adapter, own_fixture, run_own, wrap_item

PAGE = "106540352242922"
PSID = "24071979820123456"


def by_message_id(events: list) -> dict[str, MessageEvent]:
    return {e.message_id: e for e in events if isinstance(e, MessageEvent)}


# --- split ---------------------------------------------------------------------------------------


def test_split_makes_self_contained_items_and_skips_empty_ones() -> None:
    items = make_adapter("messenger").split(own_fixture("messenger-echo-standby.json"), "")
    assert [(i["field"], i["entry_id"]) for i in items] == [
        ("messaging", PAGE),
        ("standby", PAGE),
        ("messaging", PAGE),
    ]
    first = items[0]
    assert set(first) == {"object", "entry_id", "entry_time", "field", "item"}
    assert first["object"] == "page"
    assert first["entry_time"] == 1700000001000
    assert first["item"]["message"]["mid"] == "m_ECHO"


def test_split_keeps_other_entry_lists() -> None:
    items = make_adapter("messenger").split(own_fixture("messenger-notices.json"), "")
    assert [i["field"] for i in items] == ["messaging"] * 4 + ["changes"]


def test_each_item_parses_on_its_own_after_a_json_round_trip() -> None:
    adapter = make_adapter("messenger")
    for name in ("messenger-messages.json", "messenger-echo-standby.json", "messenger-reactions-edits.json"):
        for item in adapter.split(own_fixture(name), ""):
            try:
                direct = adapter.parse_item(item)
            except ParseError:
                continue
            assert adapter.parse_item(json.loads(json.dumps(item))) == direct


# --- messages ------------------------------------------------------------------------------------


def test_messages_fixture() -> None:
    result = run_own("messenger", "messenger-messages.json")
    events = by_message_id(result.events)
    assert set(events) == {
        "m_QUICK",
        "m_REPLY",
        "m_POSTBACK",
        "m_NONSENSE_TIME",
        "m_ATTACH",
        "m_UNKNOWN_ATTACH",
    }

    assert events["m_QUICK"].content == ChoiceContent(choice="quick_reply", title="Red", payload="COLOR_RED")
    assert events["m_REPLY"].content == TextContent(text="Yes, that one")
    assert events["m_REPLY"].reply_to == "m_EARLIER"
    assert events["m_POSTBACK"].content == ChoiceContent(
        choice="postback", title="Talk to an agent", payload="AGENT"
    )
    assert events["m_POSTBACK"].event_id == "m_POSTBACK"  # postbacks with a mid use it

    # A nonsense element timestamp falls back to entry.time.
    assert events["m_NONSENSE_TIME"].occurred_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert events["m_QUICK"].occurred_at == datetime(2023, 11, 14, 22, 13, 20, 100000, tzinfo=UTC)

    # Attachments without payload, with payload null, with a relative URL: nothing crashes; files
    # of mixed types are kept together as generic files, none lost.
    attach = events["m_ATTACH"].content
    assert isinstance(attach, MediaContent)
    assert attach.type == "document"
    assert attach.attachments == (
        Attachment(),
        Attachment(),
        Attachment(url="/relative/path.pdf"),
        Attachment(url="https://video.xx.fbcdn.net/v.mp4"),
    )
    assert events["m_UNKNOWN_ATTACH"].content == UnsupportedContent(
        provider_type="hologram", reason="unknown attachment type"
    )

    # A message without mid cannot be stored: quarantined, with a clear reason, the rest kept.
    assert len(result.quarantined) == 1
    assert "without mid" in result.quarantined[0].error
    assert result.quarantined[0].raw["item"]["message"]["text"] == "no mid here"


def test_echo_of_a_send_by_another_app_and_standby() -> None:
    result = run_own("messenger", "messenger-echo-standby.json")
    assert not result.quarantined
    echo, standby, echo_again = result.events
    assert isinstance(echo, MessageEvent)
    assert echo.echo is True
    assert echo.contact_id == PSID  # the customer is the recipient of an echo
    assert echo.account_id == PAGE
    assert echo.echo_app_id == "1517776481860111222"  # above 2**53, exact
    assert echo.echo_metadata == "switchboard:out:42"
    assert echo.content == TextContent(text="Hi, how can we help?")
    assert echo_again.event_id == echo.event_id == "m_ECHO"  # repeated across entries: dedup downstream
    assert isinstance(standby, MessageEvent)
    assert standby.standby is True
    assert standby.echo is False
    assert standby.content == TextContent(text="is anyone there?")


def test_reactions_and_edits() -> None:
    result = run_own("messenger", "messenger-reactions-edits.json")
    assert not result.quarantined
    love, removed, like, edit = result.events
    assert isinstance(love, ReactionEvent)
    assert (love.target_message_id, love.emoji, love.contact_id) == ("m_OURS1", "\u2764\ufe0f", PSID)
    assert isinstance(removed, ReactionEvent)
    assert (removed.target_message_id, removed.emoji) == ("m_OURS1", None)
    assert isinstance(like, ReactionEvent)
    assert like.emoji == "\N{THUMBS UP SIGN}"  # a reaction name without emoji
    assert len({love.event_id, removed.event_id, like.event_id}) == 3
    assert isinstance(edit, EditEvent)
    assert (edit.target_message_id, edit.text) == ("m_CUSTOMER1", "Hello, I meant Tuesday")


def test_delivery_without_timestamp_and_read_watermark() -> None:
    result = run_own("messenger", "messenger-receipts.json")
    assert not result.quarantined
    delivery, read = result.events
    watermark = datetime(2016, 3, 22, 17, 47, 36, 253000, tzinfo=UTC)
    assert isinstance(delivery, ReceiptEvent)
    assert (delivery.status, delivery.message_ids, delivery.watermark) == ("delivered", (), watermark)
    assert delivery.occurred_at is None  # no timestamp, no entry.time
    assert delivery.contact_id == PSID
    assert isinstance(read, ReceiptEvent)
    assert (read.status, read.watermark) == ("read", watermark)
    assert read.occurred_at is not None
    assert delivery.event_id != read.event_id


def test_notices_handover_account_linking_and_unknown_keys() -> None:
    result = run_own("messenger", "messenger-notices.json")
    assert not result.quarantined
    policy, handover, linking, unknown, feed = result.events
    assert isinstance(policy, ChannelNoticeEvent)
    assert policy.topic == "policy_enforcement:block"
    assert policy.contact_id == ""
    assert policy.error is not None
    assert policy.error.detail == "The bot violated our Platform Policies."
    assert isinstance(handover, ChannelNoticeEvent)
    assert (handover.topic, handover.contact_id) == ("handover:pass_thread_control", PSID)
    assert isinstance(linking, MessageEvent)
    assert linking.content == SystemContent(event="account_linking:linked")
    assert "SECRET-CODE-1" not in linking.model_dump_json(exclude={"raw"})
    assert isinstance(unknown, ChannelNoticeEvent)
    assert (unknown.topic, unknown.contact_id) == ("messaging:game_play", PSID)
    assert isinstance(feed, ChannelNoticeEvent)
    assert feed.topic == "changes:feed"


def test_like_sticker_reads_as_thumbs_up() -> None:
    body = wrap_item(
        "messenger",
        {
            "sender": {"id": PSID},
            "recipient": {"id": PAGE},
            "timestamp": 1700000000000,
            "message": {
                "mid": "m_LIKE",
                "sticker_id": 369239383222810,
                "attachments": [
                    {
                        "type": "image",
                        "payload": {"url": "https://x/sticker.png", "sticker_id": 369239383222810},
                    }
                ],
            },
        },
    )
    (event,) = normalize(make_adapter("messenger"), body).events
    assert isinstance(event, MessageEvent)
    assert event.content == MediaContent(
        type="sticker", attachments=(Attachment(url="https://x/sticker.png"),), text="\N{THUMBS UP SIGN}"
    )


@pytest.mark.parametrize(
    "element",
    [
        {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": 1, "reaction": {"action": "react"}},
        {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "delivery": {"seq": 1}},
        {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "read": {}},
        {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "message_edit": {"text": "x"}},
        {"recipient": {"id": PAGE}, "message": {"mid": "m_1", "text": "nobody sent this"}},
        {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "message": "not an object"},
        {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "referral": ["x"]},
    ],
)
def test_items_that_cannot_be_understood_are_quarantined(element: dict) -> None:
    result = normalize(make_adapter("messenger"), wrap_item("messenger", element))
    assert result.events == []
    assert len(result.quarantined) == 1
    assert result.quarantined[0].reason == "parse_error"


def test_a_non_object_element_is_quarantined_not_dropped() -> None:
    body = b'{"object":"page","entry":[{"id":"1","messaging":["garbage"]}, "garbage"]}'
    result = normalize(make_adapter("messenger"), body)
    assert result.events == []
    assert len(result.quarantined) == 2


def test_adapter_kind() -> None:
    assert MessengerAdapter.kind == "messenger"
