"""Instagram DMs: read with mid, reactions, story replies, unsend, unsupported messages, post
shares, view-once media and reels, on a hand-written fixture built from the Instagram Platform
messaging webhook reference."""

from __future__ import annotations

import pytest

from shared.channels.instagram import InstagramAdapter
from shared.models import (
    Attachment,
    DeleteEvent,
    MediaContent,
    MessageEvent,
    ReactionEvent,
    ReceiptEvent,
    StoryContent,
    UnsupportedContent,
)
from tests.channels import run_own

IG_ACCOUNT = "17841400000000000"
IGSID = "1283648274926485"


@pytest.fixture(scope="module")
def events() -> list:
    result = run_own("instagram", "instagram-events.json")
    assert not result.quarantined
    assert all(e.channel == "instagram" and e.account_id == IG_ACCOUNT for e in result.events)
    assert all(e.contact_id == IGSID for e in result.events)
    return result.events


def test_seen_carries_the_message_id(events: list) -> None:
    read = events[0]
    assert isinstance(read, ReceiptEvent)
    assert read.status == "read"
    assert read.message_ids == ("aWdfZAG1faXRlbToxOklH_OURS",)
    assert read.watermark is None


def test_reaction_and_its_removal(events: list) -> None:
    react, unreact = events[1], events[2]
    assert isinstance(react, ReactionEvent)
    assert (react.target_message_id, react.emoji) == ("aWdfZAG1faXRlbToxOklH_OURS", "\u2764")
    assert isinstance(unreact, ReactionEvent)
    assert unreact.emoji is None
    assert react.event_id != unreact.event_id


def test_story_reply(events: list) -> None:
    reply = events[3]
    assert isinstance(reply, MessageEvent)
    assert reply.content == StoryContent(
        type="story_reply",
        story_id="17890000000000001",
        url="https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1",
        text="Love this look!",
    )


def test_unsend_is_a_delete(events: list) -> None:
    delete = events[4]
    assert isinstance(delete, DeleteEvent)
    assert delete.target_message_id == "aWdf_DELETED"
    assert delete.event_id != "aWdf_DELETED"  # never collides with the message's own event id


def test_unsupported_message_is_kept(events: list) -> None:
    unsupported = events[5]
    assert isinstance(unsupported, MessageEvent)
    assert isinstance(unsupported.content, UnsupportedContent)
    assert unsupported.content.provider_type == "is_unsupported"


def test_post_share_with_its_ig_post_twin_is_one_image(events: list) -> None:
    share = events[6]
    assert isinstance(share, MessageEvent)
    assert share.content == MediaContent(
        type="image",
        attachments=(
            Attachment(
                url="https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=18139494541428835",
                media_id="18139494541428835",
                caption="New collection",
            ),
        ),
    )


def test_view_once_and_reel(events: list) -> None:
    ephemeral, reel = events[7], events[8]
    assert isinstance(ephemeral, MessageEvent)
    assert ephemeral.content == UnsupportedContent(
        provider_type="ephemeral", reason="view-once media is not delivered"
    )
    assert isinstance(reel, MessageEvent)
    assert isinstance(reel.content, MediaContent)
    assert reel.content.type == "video"
    assert reel.content.attachments[0].media_id == "18000000000000002"
    assert len(events) == 9


def test_adapter_kind() -> None:
    assert InstagramAdapter.kind == "instagram"
