"""Facebook Messenger (Page messaging webhooks, ``object: "page"``).

The envelope, signature, handshake and the ``entry[].messaging[]`` / ``standby[]`` walk are shared
with Instagram in :mod:`shared.channels.meta`; this module holds what only Messenger does.
Docs: Messenger Platform, "Webhook events" reference (messages, message_echoes, message_reactions,
message_edits, message_deliveries, message_reads, messaging_postbacks, messaging_referrals,
messaging_optins, messaging_policy_enforcement, handover protocol).
"""

from __future__ import annotations

from typing import Any, ClassVar

from shared.channels import media_limits
from shared.channels.base import MEDIA_KINDS, Capabilities
from shared.channels.meta import Content, MessagingAdapter
from shared.channels.payload import as_id
from shared.models.outbound import ChannelAccount

# Messenger's "like" button sends the thumbs-up sticker in three sizes, as an image attachment
# with a numeric payload.sticker_id (Messenger Platform, "messages" webhook, sticker_id).
LIKE_STICKER_IDS = frozenset({"369239263222822", "369239343222814", "369239383222810"})
THUMBS_UP = "\N{THUMBS UP SIGN}"


class MessengerAdapter(MessagingAdapter):
    """Inbound Messenger: a Page's conversations with people (PSIDs)."""

    kind: ClassVar[str] = "messenger"
    # The Send API's reactions (sender_action react) are not sent on Messenger: only Instagram
    # documents them. Opening a conversation sends mark_seen; an agent typing sends typing_on.
    capabilities: ClassVar[Capabilities] = Capabilities(
        reply_window="tag",
        read_receipts=True,
        typing=True,
        media=MEDIA_KINDS,
        media_limits=media_limits.MESSENGER,
        max_text_length=2000,  # Send API: "message.text ... must be UTF-8 and has a 2000 character limit"
        profiles=True,
        csat="buttons",  # quick replies (Send API: up to 13, title <= 20, payload <= 1000)
    )

    def fetch_profile(self, account: ChannelAccount, external_id: str, *, timeout: float) -> dict[str, Any]:
        """Messenger's User Profile API: ``GET /{PSID}?fields=first_name,last_name,profile_pic``."""
        from shared.channels import graph

        found = graph.user_profile(account, external_id, "first_name,last_name,profile_pic", timeout)
        first, last = str(found.get("first_name") or "").strip(), str(found.get("last_name") or "").strip()
        profile: dict[str, Any] = {"name": " ".join(p for p in (first, last) if p) or None}
        if first:
            profile["firstName"] = first
        if last:
            profile["lastName"] = last
        if isinstance(found.get("profile_pic"), str) and found["profile_pic"]:
            profile["pictureUrl"] = found["profile_pic"]
        return profile

    def sticker_content(self, payload: dict[str, Any], url: str | None, text: str | None) -> Content:
        """A sticker; the like button's thumbs-up also reads as text, so agents see it."""
        if as_id(payload.get("sticker_id")) in LIKE_STICKER_IDS and text is None:
            text = THUMBS_UP
        return super().sticker_content(payload, url, text)
