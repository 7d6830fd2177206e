"""Instagram Messaging (``object: "instagram"``): DMs to a professional account.

Instagram uses Messenger's ``entry[].messaging[]`` format (shared in :mod:`shared.channels.meta`),
with its own additions, handled there because they are harmless elsewhere: ``read`` carries a
``mid`` instead of a watermark, ``message.is_deleted`` (unsend), ``message.is_unsupported``,
``reply_to.story`` (story replies) and ``story_mention``/``share``/``ig_reel`` attachments.
This module holds the attachment kinds only Instagram sends.
Docs: Instagram Platform, "Messaging webhooks" and "Webhook notification examples".
"""

from __future__ import annotations

from typing import Any, ClassVar

from shared.channels import media_limits
from shared.channels.base import MEDIA_KINDS, Capabilities, ConnectRequest, refused
from shared.channels.meta import Content, MessagingAdapter
from shared.models.outbound import ChannelAccount

HEART = "\N{HEAVY BLACK HEART}\N{VARIATION SELECTOR-16}"


class InstagramAdapter(MessagingAdapter):
    """Inbound Instagram DMs: an Instagram professional account's conversations (IGSIDs)."""

    kind: ClassVar[str] = "instagram"
    capabilities: ClassVar[Capabilities] = Capabilities(
        reply_window="tag",
        reactions=True,
        read_receipts=True,
        typing=True,
        media=MEDIA_KINDS,
        media_limits=media_limits.INSTAGRAM,
        max_text_length=1000,  # Instagram Messaging API: "text ... must be less than 1000 characters"
        profiles=True,
        csat="buttons",  # quick replies (Instagram Messaging API: up to 13, text only)
    )

    def fetch_profile(self, account: ChannelAccount, external_id: str, *, timeout: float) -> dict[str, Any]:
        """Instagram's User Profile API: ``GET /{IGSID}?fields=name,username,profile_pic`` (the name
        may be null; the username then names the customer)."""
        from shared.channels import graph

        found = graph.user_profile(account, external_id, "name,username,profile_pic", timeout)
        name = str(found.get("name") or "").strip()
        username = str(found.get("username") or "").strip()
        profile: dict[str, Any] = {"name": name or (f"@{username}" if username else None)}
        if username:
            profile["username"] = username
        if isinstance(found.get("profile_pic"), str) and found["profile_pic"]:
            profile["pictureUrl"] = found["profile_pic"]
        return profile

    connect_options: ClassVar[frozenset[str]] = frozenset({"page_id"})
    probe_fields: ClassVar[tuple[str, ...]] = ("username", "name")  # GET /{ig-user-id}, the Page's token

    def check_connection(self, request: ConnectRequest) -> None:
        """Our app subscribes to the Facebook Page linked to the account: its id is required."""
        if not request.page_id:
            raise refused(
                "--page-id is required for instagram: the Facebook Page linked to the Instagram account, "
                "to which our app subscribes"
            )

    def other_attachment(
        self,
        kind: str,
        attachment: dict[str, Any],
        payload: dict[str, Any],
        url: str | None,
        text: str | None,
    ) -> Content:
        """Instagram-only attachment kinds."""
        if kind == "like_heart":
            # The heart button: an attachment with no payload at all. It is a message of its own (a
            # heart sticker), not a reaction to an earlier message (those come as `reaction`).
            return {"type": "sticker", "attachments": (), "text": text or HEART}
        if kind == "ephemeral":
            # View-once photos and videos are never delivered to the API.
            return {
                "type": "unsupported",
                "provider_type": "ephemeral",
                "reason": "view-once media is not delivered",
            }
        return super().other_attachment(kind, attachment, payload, url, text)
