"""What Messenger, Instagram and the WhatsApp Cloud API share, written once.

- :func:`verify_signature`: every Meta webhook POST carries ``X-Hub-Signature-256:
  sha256=<hex HMAC-SHA256(app secret, raw body)>``, computed over the exact bytes Meta sent (which
  escape non-ASCII as ``\\uXXXX``); it also sends the legacy sha1 ``X-Hub-Signature``, never used here.
  (Meta Graph API, "Webhooks: Getting started", *Validating payloads*.)
- :func:`handshake`: the subscription GET, ``hub.mode=subscribe`` + ``hub.verify_token`` ->
  echo ``hub.challenge`` (same page, *Verification requests*).
- :func:`receipt_error`, :func:`error_summary`: Meta's error objects, in every layout its products
  use. (The generic readers of provider JSON, headers and timestamps are in
  :mod:`shared.channels.payload`.)
- :class:`MetaAdapter`: handshake, verify and the Graph API account, from :func:`shared.config.settings`.
- :class:`MessagingAdapter`: the ``entry[].messaging[]`` / ``entry[].standby[]`` format that
  Messenger and Instagram share (Messenger Platform "Webhook events" reference; Instagram Platform
  "Messaging webhooks"), split into self-contained items and parsed into events. The two channel
  modules only add their own quirks.
"""

from __future__ import annotations

import abc
import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeAlias

from shared.channels.base import ChannelAdapter, ConnectRequest
from shared.channels.payload import (
    as_dict,
    as_float,
    as_id,
    as_text,
    believable,
    event_time,
    fingerprint,
    header,
    load_body,
)
from shared.config import MissingSetting, settings
from shared.errors import ParseError, SignatureError, VerificationError
from shared.models import (
    ChannelNoticeEvent,
    DeleteEvent,
    EditEvent,
    InboundEvent,
    MessageEvent,
    ReactionEvent,
    ReceiptError,
    ReceiptEvent,
    stable_event_id,
)
from shared.models.events import build
from shared.models.outbound import ChannelAccount, OutboundMessage, SendResult

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
_SIGNATURE_PREFIX = "sha256="
_HEX_DIGITS = frozenset("0123456789abcdef")
_MAX_CHALLENGE = 512

# --- signature and handshake ---------------------------------------------------------------------


def verify_signature(body: bytes, header_value: str | None, app_secret: str) -> None:
    """Check an ``X-Hub-Signature-256`` value against the raw ``body``; raise SignatureError unless
    it is ``sha256=`` + the hex HMAC-SHA256 of exactly these bytes under ``app_secret``.

    The comparison is constant time. Only the sha256 header counts: Meta also sends a sha1
    ``X-Hub-Signature``, which is never accepted (pass the sha256 header's value here, or None).
    """
    if not app_secret:
        # An empty key would make every forged body "valid": a configuration error, not the sender's.
        raise MissingSetting("the Meta app secret is empty: refusing to verify webhook signatures")
    if not header_value:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    value = header_value.strip()
    if value[: len(_SIGNATURE_PREFIX)].lower() != _SIGNATURE_PREFIX:
        raise SignatureError(f"{SIGNATURE_HEADER} is not of the form sha256=<hex>")
    provided = value[len(_SIGNATURE_PREFIX) :].strip().lower()
    if len(provided) != 64 or not _HEX_DIGITS.issuperset(provided):
        raise SignatureError(f"{SIGNATURE_HEADER} does not carry a hex SHA-256 digest")
    expected = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"), provided.encode("ascii")):
        raise SignatureError(f"{SIGNATURE_HEADER} does not match the body")


def handshake(query: Mapping[str, str], verify_token: str) -> str:
    """Answer Meta's subscription GET: return ``hub.challenge`` when ``hub.mode`` is ``subscribe``
    and ``hub.verify_token`` equals ``verify_token`` (constant time); else raise VerificationError."""
    if not verify_token:
        raise MissingSetting("the Meta verify token is empty: refusing subscription handshakes")
    if query.get("hub.mode") != "subscribe":
        raise VerificationError("hub.mode is not subscribe")
    token = query.get("hub.verify_token")
    if not isinstance(token, str) or not hmac.compare_digest(
        token.encode("utf-8"), verify_token.encode("utf-8")
    ):
        raise VerificationError("hub.verify_token does not match")
    challenge = query.get("hub.challenge")
    if not isinstance(challenge, str) or not challenge or len(challenge) > _MAX_CHALLENGE:
        raise VerificationError("missing or oversized hub.challenge")
    return challenge


# --- error objects -------------------------------------------------------------------------------


def receipt_error(error: object) -> ReceiptError | None:
    """Read a provider error object in any of the layouts Meta uses, or None if there is none:

    - ``{code, title}`` (WhatsApp statuses and value-level errors, older versions);
    - ``{code, title, message, error_data: {details}, href}`` (WhatsApp Cloud API, current);
    - ``{code, title, details}`` (WhatsApp on-premises style, still seen on unsupported messages);
    - ``{message, type, code, error_subcode, error_data, fbtrace_id}`` (Graph API errors),
      possibly wrapped as ``{"error": {...}}``.
    """
    if not isinstance(error, dict):
        return None
    if isinstance(error.get("error"), dict) and "code" not in error:
        return receipt_error(error["error"])
    code = as_id(error.get("code"))
    message = as_text(error.get("message"))
    title = as_text(error.get("title")) or message or as_text(error.get("type"))
    data = error.get("error_data")
    detail = (
        as_text(as_dict(data).get("details"))
        or as_text(data)
        or as_text(error.get("details"))
        or as_text(error.get("error_user_msg"))
        or (message if message != title else None)
    )
    if code is None and title is None and detail is None:
        return None
    return build(ReceiptError, {"code": code, "title": title, "detail": detail})


def error_summary(error: ReceiptError | None) -> str | None:
    """``"131051: Unsupported message type (details)"``: one line for an UnsupportedContent reason."""
    if error is None:
        return None
    text = ": ".join(part for part in (error.code, error.title) if part)
    if error.detail and error.detail != error.title:
        text = f"{text} ({error.detail})" if text else error.detail
    return text or None


# --- adapters ------------------------------------------------------------------------------------


class MetaAdapter(ChannelAdapter):
    """Handshake, signature verification and the API account for every Meta channel, configured
    from :func:`shared.config.settings` (``META_APP_SECRET``, ``META_VERIFY_TOKEN``) unless given
    explicitly (tests, the admin CLI). Each product sends through its own API (:meth:`send`)."""

    environment: ClassVar[tuple[str, ...]] = (
        "META_APP_SECRET",
        "META_VERIFY_TOKEN",
        "META_GRAPH_BASE_URL",
        "META_GRAPH_VERSION",
    )

    def __init__(self, *, app_secret: str | None = None, verify_token: str | None = None) -> None:
        self._app_secret = app_secret
        self._verify_token = verify_token

    def handshake(self, query: Mapping[str, str]) -> str:
        """Echo ``hub.challenge`` for a valid subscription GET, else raise VerificationError."""
        token = self._verify_token or settings().require("meta_verify_token")
        return handshake(query, token)

    def verify(self, headers: Mapping[str, str], body: bytes, url: str) -> None:
        """Raise SignatureError unless ``X-Hub-Signature-256`` signs ``body`` (``url`` is unused:
        Meta signs the body only)."""
        secret = self._app_secret or settings().require("meta_app_secret")
        verify_signature(body, header(headers, SIGNATURE_HEADER), secret)

    def account(self, channel: Mapping[str, Any], token: str) -> ChannelAccount:
        """The Graph API identity: the page, Instagram account or phone number id, and its token."""
        config = settings()
        return ChannelAccount(
            channel=self.kind,
            external_id=str(channel["externalId"]),
            token=token,
            base_url=config.meta_graph_base_url,
            api_version=config.meta_graph_version,
        )

    # The account's fields read by test_connection, the first present being its name.
    probe_fields: ClassVar[tuple[str, ...]] = ("name",)

    def test_connection(self, request: ConnectRequest, token: str) -> dict[str, Any]:
        """``GET /{external id}?fields=<probe_fields>`` with the account's token (Page, Instagram
        account or phone number): Meta answers the account's name, or its error (190 for a bad
        token)."""
        from shared.channels import meta_admin

        config = settings()
        body = meta_admin.read_node(
            self.kind,
            request.external_id,
            token,
            self.probe_fields,
            base_url=config.meta_graph_base_url,
            version=config.meta_graph_version,
            timeout=config.provider_timeout_seconds,
        )
        name = next((str(body[f]) for f in self.probe_fields if body.get(f)), "")
        return {"name": name, **{f: body[f] for f in self.probe_fields if f in body}}

    @abc.abstractmethod
    def split(self, body: bytes, url: str) -> list[dict[str, Any]]:
        """Cut a body into self-contained raw items (each Meta product has its own layout; ``url``
        is unused: Meta names the account in the body)."""


@dataclass(slots=True)
class Messaging:
    """The envelope of one ``messaging[]``/``standby[]`` element, read once per item."""

    channel: str
    account_id: str
    sender_id: str | None
    recipient_id: str | None
    user_ref: str | None
    timestamp: object  # as sent: part of stable ids, so a retry hashes the same
    occurred_at: datetime | int | None  # see payload.event_time
    standby: bool
    raw: dict[str, Any]

    def customer(self, business_sent: bool = False) -> str | None:
        """The customer's id: the sender, or the recipient when the business sent it (an echo, a
        reaction by the page). Whichever side equals the account is never the customer: Messenger
        echoes put the page in ``sender``, but some published echo fixtures have it the other way."""
        sender_id = self.sender_id
        account_id = self.account_id
        if not business_sent and sender_id and sender_id != account_id:
            return sender_id  # the common case: the customer wrote
        business_side = business_sent or (sender_id is not None and sender_id == account_id)
        recipient_id = self.recipient_id
        if business_side and recipient_id and recipient_id != account_id:
            return recipient_id
        if sender_id and sender_id != account_id:
            return sender_id
        # Checkbox-plugin opt-ins identify the person only by user_ref (no PSID yet).
        return self.user_ref

    def envelope(self, contact_id: str, event_id: str) -> dict[str, Any]:
        """The fields every event built from this element shares (a fresh dict: callers add theirs)."""
        return {
            "channel": self.channel,
            "account_id": self.account_id,
            "contact_id": contact_id,
            "event_id": event_id,
            "occurred_at": self.occurred_at,
            "raw": self.raw,
        }


Handler: TypeAlias = "Callable[[MessagingAdapter, Messaging, object], list[InboundEvent]]"
# A message's content, as the fields of its MessageContent model (validated with the event: one
# pydantic call builds both, where building the content model first would validate it twice).
Content: TypeAlias = dict[str, Any]

# Keys of a messaging element that are envelope, not an event.
_ENVELOPE_KEYS = frozenset({"sender", "recipient", "timestamp"})
_MEDIA_ATTACHMENTS = {"image": "image", "video": "video", "audio": "audio", "file": "document"}
# Messenger reaction names, for reactions that come without an emoji (message_reactions reference).
_REACTION_EMOJI = {
    "like": "\N{THUMBS UP SIGN}",
    "dislike": "\N{THUMBS DOWN SIGN}",
    "love": "\N{SMILING FACE WITH HEART-SHAPED EYES}",
    "smile": "\N{SMILING FACE WITH OPEN MOUTH AND TIGHTLY-CLOSED EYES}",
    "wow": "\N{FACE WITH OPEN MOUTH}",
    "sad": "\N{CRYING FACE}",
    "angry": "\N{ANGRY FACE}",
}
# Handover protocol keys: about who controls the thread, not a customer message.
_HANDOVER_KEYS = (
    "pass_thread_control",
    "take_thread_control",
    "request_thread_control",
    "app_roles",
)
_MEDIA_CONTENT_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})


def _media(
    media_type: str, attachment: dict[str, Any], text: str | None, *, animated: bool = False
) -> Content:
    """MediaContent's fields: one file (an Attachment's fields), the text sent along."""
    return {"type": media_type, "attachments": (attachment,), "text": text, "animated": animated}


def _unsupported(provider_type: str, reason: str | None = None) -> Content:
    """UnsupportedContent's fields: a kind we do not render (the raw item travels with the event)."""
    return {"type": "unsupported", "provider_type": provider_type, "reason": reason}


class MessagingAdapter(MetaAdapter):
    """The ``entry[].messaging[]`` format of Messenger and Instagram.

    :meth:`split` cuts a body into one self-contained item per element of every list in every
    entry (``messaging``, ``standby``, ``changes`` or anything new)::

        {"object": "page", "entry_id": "<page id>", "entry_time": 1459991487970,
         "field": "messaging" | "standby" | "<other key>", "item": {...}}

    :meth:`parse_item` turns a ``messaging``/``standby`` element into events and anything else into
    a :class:`ChannelNoticeEvent`. Channel modules override the ``*_content`` hooks for their quirks.
    """

    def send(
        self, account: ChannelAccount, recipient: str, message: OutboundMessage, *, timeout: float
    ) -> SendResult:
        """Send through the Send API (shared/channels/graph.py, imported here: off the webhook's
        cold path)."""
        from shared.channels import graph

        return graph.send_api(account, recipient, message, timeout)

    def connect(self, request: ConnectRequest, token: str) -> dict[str, Any]:
        """Subscribe our app to the Page's webhooks (the Page itself, or for Instagram the Page
        linked to the account) with the Page's token."""
        from shared.channels import meta_admin

        config = settings()
        page_id = request.page_id or request.external_id
        meta_admin.subscribe_page(
            self.kind,
            page_id,
            token,
            base_url=config.meta_graph_base_url,
            version=config.meta_graph_version,
            timeout=config.provider_timeout_seconds,
        )
        return {"pageId": page_id, "fields": list(meta_admin.PAGE_SUBSCRIBED_FIELDS)}

    def subscription_key(self, channel: Mapping[str, Any]) -> str | None:
        """The Page our app is subscribed to for this channel (a Messenger channel and an Instagram
        account linked to the same Page share it)."""
        subscription = channel.get("webhookSubscription")
        page_id = (subscription or {}).get("pageId") if isinstance(subscription, dict) else None
        page_id = page_id or channel.get("pageId") or channel.get("externalId")
        return f"meta-page:{page_id}" if page_id else None

    def disconnect(self, request: ConnectRequest, token: str) -> None:
        """``DELETE /{page-id}/subscribed_apps`` with the Page's token: Meta stops sending the Page's
        webhooks to our app."""
        from shared.channels import meta_admin

        config = settings()
        meta_admin.unsubscribe_page(
            self.kind,
            request.page_id or request.external_id,
            token,
            base_url=config.meta_graph_base_url,
            version=config.meta_graph_version,
            timeout=config.provider_timeout_seconds,
        )

    def split(self, body: bytes, url: str) -> list[dict[str, Any]]:
        """Cut a verified body into items; raise ParseError if the body itself is unusable."""
        data = load_body(body)
        entries = data.get("entry")
        if entries is None:
            return []
        if not isinstance(entries, list):
            raise ParseError("entry is not a list")
        obj = data.get("object")
        items: list[dict[str, Any]] = []
        for entry in entries:
            if not isinstance(entry, dict):
                # Kept as an item so that it is quarantined on its own, not silently skipped.
                items.append(
                    {"object": obj, "entry_id": None, "entry_time": None, "field": "entry", "item": entry}
                )
                continue
            entry_id = entry.get("id")
            if not (isinstance(entry_id, str) and entry_id):
                entry_id = as_id(entry_id)
            entry_time = entry.get("time")
            for key, value in entry.items():
                if isinstance(value, list):
                    elements = value
                elif isinstance(value, dict) and key in ("messaging", "standby"):
                    elements = [value]  # a single element where a list belongs: still one event
                else:
                    continue  # id, time, uid...
                for element in elements:
                    if element is None or element == {}:
                        continue  # Meta sends empty items; they carry nothing
                    items.append(
                        {
                            "object": obj,
                            "entry_id": entry_id,
                            "entry_time": entry_time,
                            "field": key,
                            "item": element,
                        }
                    )
        return items

    def fetch_media(self, account: ChannelAccount, ref: Mapping[str, Any], *, timeout: float) -> Any:
        """Messenger/Instagram attachment URLs are signed CDN URLs that expire (hours to days): the
        URL itself is fetched at once, with no token, and only on Meta's media hosts."""
        from shared.channels import downloads
        from shared.channels.base import MAX_MEDIA_FETCH_BYTES, FetchedMedia
        from shared.channels.whatsapp import meta_media_hosts
        from shared.errors import MediaUnavailable

        url = ref.get("url")
        if not isinstance(url, str) or not url:
            raise MediaUnavailable("the attachment carries no URL")
        if not downloads.host_allowed(url, meta_media_hosts(account.base_url)):
            raise MediaUnavailable("the attachment URL is not on Meta's media hosts")
        data, headers = downloads.get(url, channel=self.kind, timeout=timeout, limit=MAX_MEDIA_FETCH_BYTES)
        return FetchedMedia(
            data=data,
            content_type=headers.get("Content-Type"),
            file_name=ref.get("fileName") or downloads.file_name_of(headers),
        )

    def parse_item(self, item: dict[str, Any]) -> list[InboundEvent]:
        """Normalize one item from :meth:`split`; raise ParseError if it cannot be understood."""
        field = item.get("field")
        element = item.get("item")
        if field in ("messaging", "standby"):
            if not isinstance(element, dict):
                raise ParseError(f"{field} element is not an object")
            return self._parse_messaging(item, element, field == "standby")
        if not isinstance(element, dict):
            raise ParseError(f"{field} element is not an object")
        if not element:
            return []
        # Page/Instagram `changes` (feed, comments, mentions...) and lists we do not know yet:
        # recorded on the channel, with the raw item kept for replay.
        account_id = as_id(item.get("entry_id"))
        if account_id is None:
            raise ParseError(f"{field} item without entry id")
        topic = f"{field}:{element['field']}" if isinstance(element.get("field"), str) else str(field)
        event_id = stable_event_id(self.kind, account_id, topic, fingerprint(element))
        value = as_dict(element.get("value"))
        fields = {
            "channel": self.kind,
            "account_id": account_id,
            "contact_id": "",
            "event_id": event_id,
            "occurred_at": event_time(value.get("time") or value.get("created_time"))
            or event_time(item.get("entry_time")),
            "raw": item,
            "topic": topic,
        }
        return [build(ChannelNoticeEvent, fields)]

    # -- one messaging element --

    def _parse_messaging(
        self, item: dict[str, Any], element: dict[str, Any], standby: bool
    ) -> list[InboundEvent]:
        if not element:
            return []
        # Ids are strings in every real payload: read inline (as_id is a call), as_id for the rest.
        sender = element.get("sender")
        if isinstance(sender, dict):
            sender_id = sender.get("id")
            if not (isinstance(sender_id, str) and sender_id):
                sender_id = as_id(sender_id)
            user_ref = sender.get("user_ref")
            if user_ref is not None:
                user_ref = as_id(user_ref)
        else:
            sender_id = user_ref = None
        recipient = element.get("recipient")
        if isinstance(recipient, dict):
            recipient_id = recipient.get("id")
            if not (isinstance(recipient_id, str) and recipient_id):
                recipient_id = as_id(recipient_id)
        else:
            recipient_id = None
        # Routing is on entry.id (page / Instagram account); fall back to the page side of the element.
        account_id = item.get("entry_id")
        if not (isinstance(account_id, str) and account_id):
            account_id = as_id(account_id)
            if account_id is None:
                message = as_dict(element.get("message"))
                account_id = sender_id if message.get("is_echo") is True else recipient_id
            if account_id is None:
                raise ParseError("messaging element without entry id or recipient id")
        timestamp = element.get("timestamp")
        # A delivery may come without timestamp, test deliveries send nonsense: entry.time backs them up.
        if type(timestamp) is int and believable(timestamp):
            occurred_at: datetime | int | None = timestamp  # what event_time gives, without the call
        else:
            occurred_at = event_time(timestamp) or event_time(item.get("entry_time"))
        # Positional: a dataclass's __init__ takes keywords several times slower.
        ctx = Messaging(
            self.kind, account_id, sender_id, recipient_id, user_ref, timestamp, occurred_at, standby, item
        )
        handlers = self._handlers
        keys = handlers.keys() & element.keys()
        if len(keys) == 1:  # the common case: one event kind per element
            [key] = keys
            value = element[key]
            if value is not None:
                return handlers[key](self, ctx, value)
        elif keys:
            present = [key for key in handlers if key in keys and element[key] is not None]  # in order
            if present:
                events: list[InboundEvent] = []
                for key in present:
                    events.extend(handlers[key](self, ctx, element[key]))
                return events
        unknown = sorted(key for key in element if key not in _ENVELOPE_KEYS)
        if not unknown:
            # Only sender/recipient/timestamp (dashboard test deliveries): nothing happened.
            log.debug("%s messaging element without an event", self.kind)
            return []
        # A kind of event Meta added after this code: never dropped, recorded with its raw item.
        return [self._notice(ctx, f"messaging:{unknown[0]}", ctx.customer() or "", element)]

    def _notice(
        self, ctx: Messaging, topic: str, contact_id: str, basis: object, error: ReceiptError | None = None
    ) -> ChannelNoticeEvent:
        event_id = stable_event_id(self.kind, ctx.account_id, topic, ctx.timestamp, fingerprint(basis))
        fields = ctx.envelope(contact_id, event_id)
        fields["topic"] = topic
        fields["error"] = error
        return build(ChannelNoticeEvent, fields)

    def _require_customer(self, ctx: Messaging, what: str, *, business_sent: bool = False) -> str:
        contact = ctx.customer(business_sent=business_sent)
        if contact is None:
            raise ParseError(f"{what} without a customer id (sender/recipient)")
        return contact

    def _on_message(self, ctx: Messaging, message: object) -> list[InboundEvent]:
        if not isinstance(message, dict):
            raise ParseError("message is not an object")
        mid = message.get("mid")
        if not (isinstance(mid, str) and mid):
            mid = as_id(mid)
            if mid is None:
                raise ParseError("message without mid")
        echo = message.get("is_echo") is True
        contact = ctx.customer(echo)
        if contact is None:
            raise ParseError("message without a customer id (sender/recipient)")
        if message.get("is_deleted") is True:
            # Instagram unsend: the element repeats the deleted message's mid (Instagram messaging
            # webhooks, "message" field, is_deleted).
            event_id = stable_event_id(self.kind, ctx.account_id, "delete", mid)
            fields = ctx.envelope(contact, event_id)
            fields["target_message_id"] = mid
            return [build(DeleteEvent, fields)]
        reply_to = message.get("reply_to")
        fields = {
            "channel": ctx.channel,
            "account_id": ctx.account_id,
            "contact_id": contact,
            "event_id": mid,
            "occurred_at": ctx.occurred_at,
            "raw": ctx.raw,
            "message_id": mid,
            "content": self.message_content(message),
            "reply_to": as_id(reply_to.get("mid")) if isinstance(reply_to, dict) else None,
            "standby": ctx.standby,
        }
        if echo:
            fields["echo"] = True
            fields["echo_app_id"] = as_id(message.get("app_id"))
            fields["echo_metadata"] = as_text(message.get("metadata"))
        events: list[InboundEvent] = [build(MessageEvent, fields)]
        referral = message.get("referral")
        if isinstance(referral, dict):
            events.append(self._referral_event(ctx, contact, referral, ("message", mid)))
        return events

    def _on_message_edit(self, ctx: Messaging, edit: object) -> list[InboundEvent]:
        # Messenger message_edits: {mid, text, num_edit}; num_edit tells successive edits apart.
        edit = as_dict(edit)
        mid = as_id(edit.get("mid"))
        if mid is None:
            raise ParseError("message_edit without mid")
        contact = self._require_customer(ctx, "message_edit")
        text = as_text(edit.get("text"))
        event_id = stable_event_id(self.kind, ctx.account_id, "edit", mid, edit.get("num_edit"), text)
        fields = ctx.envelope(contact, event_id)
        fields["target_message_id"] = mid
        fields["text"] = text
        return [build(EditEvent, fields)]

    def _on_reaction(self, ctx: Messaging, reaction: object) -> list[InboundEvent]:
        # message_reactions: {reaction: smile|...|other, emoji, action: react|unreact, mid}; an
        # unreact may omit reaction and emoji.
        reaction = as_dict(reaction)
        mid = as_id(reaction.get("mid"))
        if mid is None:
            raise ParseError("reaction without mid")
        business = ctx.sender_id is not None and ctx.sender_id == ctx.account_id
        contact = self._require_customer(ctx, "reaction", business_sent=business)
        action = as_text(reaction.get("action")) or "react"
        emoji: str | None = None
        if action != "unreact":
            name = as_text(reaction.get("reaction"))
            emoji = as_text(reaction.get("emoji")) or _REACTION_EMOJI.get(name or "") or name
        event_id = stable_event_id(
            self.kind, ctx.account_id, "reaction", contact, mid, action, emoji, ctx.timestamp
        )
        fields = ctx.envelope(contact, event_id)
        fields["target_message_id"] = mid
        fields["emoji"] = emoji
        fields["from_business"] = business
        return [build(ReactionEvent, fields)]

    def _on_delivery(self, ctx: Messaging, delivery: object) -> list[InboundEvent]:
        # message_deliveries: {mids?, watermark, seq}; "delivery" may come without timestamp.
        delivery = as_dict(delivery)
        mids = tuple(mid for mid in map(as_id, delivery.get("mids") or ()) if mid is not None)
        watermark = event_time(delivery.get("watermark"))
        if not mids and watermark is None:
            raise ParseError("delivery without mids or watermark")
        contact = self._require_customer(ctx, "delivery")
        event_id = stable_event_id(
            self.kind, ctx.account_id, "delivered", contact, mids, delivery.get("watermark")
        )
        fields = ctx.envelope(contact, event_id)
        fields["status"] = "delivered"
        fields["message_ids"] = mids
        fields["watermark"] = watermark
        fields["provider_status"] = "delivery"
        return [build(ReceiptEvent, fields)]

    def _on_read(self, ctx: Messaging, read: object) -> list[InboundEvent]:
        # Messenger message_reads: {watermark, seq}; Instagram messaging_seen: {mid}.
        read = as_dict(read)
        mid = as_id(read.get("mid"))
        watermark = event_time(read.get("watermark"))
        if mid is None and watermark is None:
            raise ParseError("read without mid or watermark")
        contact = self._require_customer(ctx, "read")
        event_id = stable_event_id(self.kind, ctx.account_id, "read", contact, mid, read.get("watermark"))
        fields = ctx.envelope(contact, event_id)
        fields["status"] = "read"
        fields["message_ids"] = (mid,) if mid else ()
        fields["watermark"] = watermark
        fields["provider_status"] = "read"
        return [build(ReceiptEvent, fields)]

    def _on_postback(self, ctx: Messaging, postback: object) -> list[InboundEvent]:
        # messaging_postbacks: {mid?, title, payload, referral?}; Instagram icebreakers too.
        postback = as_dict(postback)
        contact = self._require_customer(ctx, "postback")
        payload = as_text(postback.get("payload"))
        title = as_text(postback.get("title"))
        mid = as_id(postback.get("mid")) or stable_event_id(
            self.kind, ctx.account_id, "postback", contact, ctx.timestamp, payload, title
        )
        events: list[InboundEvent] = [
            self._message_event(
                ctx,
                contact,
                mid,
                {"type": "choice", "choice": "postback", "title": title, "payload": payload},
            )
        ]
        referral = postback.get("referral")
        if isinstance(referral, dict):
            events.append(self._referral_event(ctx, contact, referral, ("postback", mid)))
        return events

    def _on_referral(self, ctx: Messaging, referral: object) -> list[InboundEvent]:
        # messaging_referrals: m.me links, ads, QR codes; the timestamp is in seconds here.
        if not isinstance(referral, dict):
            raise ParseError("referral is not an object")
        contact = self._require_customer(ctx, "referral")
        return [self._referral_event(ctx, contact, referral, ("referral", contact, ctx.timestamp))]

    def _referral_event(
        self, ctx: Messaging, contact: str, referral: dict[str, Any], basis: tuple[object, ...]
    ) -> MessageEvent:
        """A referral as its own message (ReferralContent). It travels beside the message or
        postback it came with, under an id of its own, so that both are kept."""
        ads = as_dict(referral.get("ads_context_data"))
        event_id = stable_event_id(self.kind, ctx.account_id, *basis, "referral", fingerprint(referral))
        content = {
            "type": "referral",
            "source": as_text(referral.get("source")),
            "ref": as_text(referral.get("ref")),
            "ad_id": as_id(referral.get("ad_id")),
            "url": as_text(referral.get("referer_uri")) or as_text(ads.get("photo_url")),
            "headline": as_text(ads.get("ad_title")),
        }
        return self._message_event(ctx, contact, event_id, content)

    @staticmethod
    def _message_event(ctx: Messaging, contact: str, message_id: str, content: Content) -> MessageEvent:
        """A message of the customer's that is not a ``message`` element (its id is the event's)."""
        return build(
            MessageEvent,
            {
                "channel": ctx.channel,
                "account_id": ctx.account_id,
                "contact_id": contact,
                "event_id": message_id,
                "occurred_at": ctx.occurred_at,
                "raw": ctx.raw,
                "message_id": message_id,
                "content": content,
                "standby": ctx.standby,
            },
        )

    def _on_optin(self, ctx: Messaging, optin: object) -> list[InboundEvent]:
        # messaging_optins: send-to-Messenger / checkbox ({ref, user_ref}) and recurring
        # notifications ({type: notification_messages, notification_messages_token, ...}).
        optin = as_dict(optin)
        contact = ctx.customer() or as_id(optin.get("user_ref"))
        if contact is None:
            raise ParseError("optin without sender id or user_ref")
        kind = as_text(optin.get("type"))
        event = f"optin:{kind}" if kind else "optin"
        status = as_text(optin.get("notification_messages_status"))
        if status:
            event = f"{event}:{status.lower()}"
        text = as_text(optin.get("title")) or as_text(optin.get("ref")) or as_text(optin.get("payload"))
        event_id = stable_event_id(
            self.kind, ctx.account_id, "optin", contact, ctx.timestamp, fingerprint(optin)
        )
        return [self._message_event(ctx, contact, event_id, {"type": "system", "event": event, "text": text})]

    def _on_account_linking(self, ctx: Messaging, linking: object) -> list[InboundEvent]:
        # messaging_account_linking: {status: linked|unlinked, authorization_code}; the code is a
        # credential and stays in raw only.
        linking = as_dict(linking)
        contact = self._require_customer(ctx, "account_linking")
        status = as_text(linking.get("status")) or "unknown"
        event_id = stable_event_id(
            self.kind, ctx.account_id, "account_linking", contact, ctx.timestamp, status
        )
        content = {"type": "system", "event": f"account_linking:{status}"}
        return [self._message_event(ctx, contact, event_id, content)]

    def _on_policy_enforcement(self, ctx: Messaging, policy: object) -> list[InboundEvent]:
        # messaging_policy_enforcement: the key is spelled with a hyphen; {action: warning|block|
        # unblock, reason}. About the page, not a customer: contact_id may be empty.
        policy = as_dict(policy)
        action = as_text(policy.get("action")) or "unknown"
        error = ReceiptError(code=action, title="policy enforcement", detail=as_text(policy.get("reason")))
        return [self._notice(ctx, f"policy_enforcement:{action}", "", policy, error)]

    def _on_message_request(self, ctx: Messaging, value: object) -> list[InboundEvent]:
        # Instagram/Messenger message requests (e.g. "accept"): a conversation-level system event.
        contact = self._require_customer(ctx, "message_request")
        event_id = stable_event_id(self.kind, ctx.account_id, "message_request", contact, ctx.timestamp)
        content = {"type": "system", "event": "message_request", "text": as_text(value)}
        return [self._message_event(ctx, contact, event_id, content)]

    # -- message content: channel modules extend these hooks --

    def message_content(self, message: dict[str, Any]) -> Content:
        """The content of a ``message`` object: quick reply, story reply, attachments or text."""
        if message.get("is_unsupported") is True:
            # Instagram: a message kind the API cannot deliver (e.g. some shares); kept raw.
            return _unsupported("is_unsupported", "the provider cannot render it")
        text = as_text(message.get("text"))
        quick_reply = message.get("quick_reply")
        if isinstance(quick_reply, dict):
            payload = as_text(quick_reply.get("payload"))
            return {"type": "choice", "choice": "quick_reply", "title": text, "payload": payload}
        reply_to = message.get("reply_to")
        story = as_dict(reply_to.get("story")) if isinstance(reply_to, dict) else {}
        if story:
            # Instagram: a reply to the business's story, reply_to.story {id, url}.
            return {
                "type": "story_reply",
                "story_id": as_id(story.get("id")),
                "url": as_text(story.get("url")),
                "text": text,
            }
        attachments = message.get("attachments")
        if isinstance(attachments, list) and attachments:
            content = self._attachments_content(attachments, text)
            if content is not None:
                return content
        if text is not None:
            return {"type": "text", "text": text}
        return _unsupported("message", "no text or attachment")

    def _attachments_content(self, attachments: list[Any], text: str | None) -> Content | None:
        contents = [self.attachment_content(a, text) for a in attachments if isinstance(a, dict)]
        if not contents:
            return None
        media = [c for c in contents if c["type"] in _MEDIA_CONTENT_TYPES]
        if not media:
            first = contents[0]
            # A "fallback" link preview next to typed text: the text is the message.
            if first["type"] == "text" and text is not None:
                return {"type": "text", "text": text}
            return first
        if len(media) == 1:
            return media[0]
        # Several files in one message (an album): one content with all of them, of their common
        # type, or generic files (document) when types are mixed, so that none is lost.
        head = media[0]
        media_type = head["type"] if all(c["type"] == head["type"] for c in media) else "document"
        seen: set[str] = set()
        files: list[dict[str, Any]] = []
        for content in media:
            for attachment in content["attachments"]:
                key = attachment.get("media_id") or attachment.get("url") or ""
                if key and key in seen:
                    continue  # Instagram post shares come as `share` + `ig_post` for one post
                seen.add(key)
                files.append(attachment)
        return {
            "type": media_type,
            "attachments": tuple(files),
            "text": text,
            "animated": head.get("animated", False),
        }

    def attachment_content(self, attachment: dict[str, Any], text: str | None) -> Content:
        """One ``attachments[]`` element. Attachments without payload and relative URLs are kept
        as they are (Messenger reels carry ``/reel/<id>/``)."""
        kind = as_text(attachment.get("type")) or "unknown"
        payload = as_dict(attachment.get("payload"))
        url = as_text(payload.get("url")) or as_text(attachment.get("url"))
        media_type = _MEDIA_ATTACHMENTS.get(kind)
        if media_type is not None:
            if kind == "image" and payload.get("sticker_id") is not None:
                return self.sticker_content(payload, url, text)
            return _media(media_type, {"url": url, "caption": as_text(payload.get("title"))}, text)
        if kind == "location":
            coordinates = as_dict(payload.get("coordinates"))
            return {
                "type": "location",
                "latitude": as_float(coordinates.get("lat")),
                "longitude": as_float(coordinates.get("long")),
                "name": as_text(payload.get("title")) or as_text(attachment.get("title")),
                "url": url,
            }
        if kind in ("reel", "ig_reel"):
            media_id = as_id(payload.get("reel_video_id"))
            return _media(
                "video", {"url": url, "media_id": media_id, "caption": as_text(payload.get("title"))}, text
            )
        if kind in ("share", "ig_post"):
            # Instagram post shares: {ig_post_media_id, title, url} (Instagram Platform, post shares).
            media_id = as_id(payload.get("ig_post_media_id"))
            return _media(
                "image", {"url": url, "media_id": media_id, "caption": as_text(payload.get("title"))}, text
            )
        if kind == "story_mention":
            return {"type": "story_mention", "story_id": as_id(payload.get("id")), "url": url, "text": text}
        if kind == "sticker":
            return self.sticker_content(payload, url, text)
        if kind == "animated_image":
            return _media("image", {"url": url}, text, animated=True)
        if kind == "fallback":
            # Messenger "fallback": a shared link the platform cannot type ({url, title}).
            title = as_text(payload.get("title")) or as_text(attachment.get("title"))
            parts = [part for part in (title, url) if part]
            if parts:
                return {"type": "text", "text": "\n".join(parts)}
            return _unsupported("fallback", "fallback attachment without url")
        if kind == "template":
            # Echoes of templates (ours or another app's): a button template has text.
            template_text = as_text(payload.get("text"))
            if template_text:
                return {"type": "text", "text": template_text}
            template_type = as_text(payload.get("template_type"))
            return _unsupported(f"template:{template_type}" if template_type else "template")
        return self.other_attachment(kind, attachment, payload, url, text)

    def sticker_content(self, payload: dict[str, Any], url: str | None, text: str | None) -> Content:
        """A sticker (Messenger sends stickers as ``image`` with a numeric ``sticker_id``)."""
        return _media("sticker", {"url": url}, text)

    def other_attachment(
        self,
        kind: str,
        attachment: dict[str, Any],
        payload: dict[str, Any],
        url: str | None,
        text: str | None,
    ) -> Content:
        """An attachment type this module does not know: kept as unsupported, never dropped."""
        return _unsupported(kind, "unknown attachment type")

    # Key of a messaging element -> its handler: every key present is handled, in this order.
    _handlers: ClassVar[dict[str, Handler]] = {}


def _handover(key: str) -> Handler:
    """Handover protocol (pass/take/request_thread_control, app_roles): who controls the thread,
    recorded as a notice on the channel (Messenger Platform, "Handover protocol")."""

    def handle(adapter: MessagingAdapter, ctx: Messaging, value: object) -> list[InboundEvent]:
        return [adapter._notice(ctx, f"handover:{key}", ctx.customer() or "", value)]

    return handle


MessagingAdapter._handlers = {
    "message": MessagingAdapter._on_message,
    "message_edit": MessagingAdapter._on_message_edit,
    "reaction": MessagingAdapter._on_reaction,
    "delivery": MessagingAdapter._on_delivery,
    "read": MessagingAdapter._on_read,
    "postback": MessagingAdapter._on_postback,
    "referral": MessagingAdapter._on_referral,
    "optin": MessagingAdapter._on_optin,
    "account_linking": MessagingAdapter._on_account_linking,
    "policy-enforcement": MessagingAdapter._on_policy_enforcement,
    "policy_enforcement": MessagingAdapter._on_policy_enforcement,
    "message_request": MessagingAdapter._on_message_request,
    **{key: _handover(key) for key in _HANDOVER_KEYS},
}
