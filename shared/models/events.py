"""Normalized inbound events: what every channel adapter turns a provider's webhook into.

An event is a frozen pydantic model with a ``kind`` discriminator:

- :class:`MessageEvent`  a customer (or a human on the provider's own app: ``echo``) sent a message;
  its ``content`` is itself a discriminated union on ``type`` (text, image, ..., unsupported).
- :class:`ReactionEvent` a reaction was added (``emoji``) or removed (``emoji is None``) on a message.
- :class:`EditEvent`     a message's text was edited.
- :class:`DeleteEvent`   a message was deleted / unsent.
- :class:`ReceiptEvent`  sent / delivered / read / played / failed for our messages, by id or watermark.
- :class:`ChannelNoticeEvent` the provider said something about the channel, not one conversation.

Every event carries the envelope: the channel kind, the business-side external id the provider routes
on (``account_id``: page id, Instagram id, WhatsApp phone_number_id, bot id, Twilio number), the
customer's external id (``contact_id``), a stable ``event_id`` (the same provider delivery always gives
the same id, so retries deduplicate), the provider's time, and the raw provider item, which is kept for
replay and audit but hidden from ``repr`` and logs (it holds personal data).
"""

from __future__ import annotations

from datetime import datetime
from hashlib import sha256 as _openssl_sha256
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shared.channels import REGISTRY

try:  # CPython's own SHA-256: the same digest, faster than OpenSSL's on one block (its set-up costs)
    from _sha256 import sha256 as _sha256  # type: ignore[import-not-found]  # Python 3.11
except ImportError:  # pragma: no cover - Python 3.12 moved it; any other build has hashlib's
    try:
        from _sha2 import sha256 as _sha256  # type: ignore[import-not-found,no-redef]
    except ImportError:
        from hashlib import sha256 as _sha256  # type: ignore[assignment]

# Input that fits one SHA-256 block (55 bytes and the padding): CPython's own is faster; from two
# blocks on, OpenSSL's (SHA-NI or vectorised assembly) is, by up to half. Same digest either way.
_ONE_BLOCK = 56

# Every registered channel, and "app": the in-app chat, which has no provider adapter.
ChannelKind = Literal[(*REGISTRY, "app")]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- message content ---------------------------------------------------------------------------


class Attachment(Frozen):
    """A media file as the provider describes it: a URL (Meta, Twilio) or a provider media id
    (WhatsApp ``id``, Telegram ``file_id``) to fetch later with the channel's token."""

    url: str | None = None
    media_id: str | None = None
    mime_type: str | None = None
    filename: str | None = None
    caption: str | None = None
    size: int | None = None
    sha256: str | None = None
    width: int | None = None  # pixels, where the provider says (Telegram)
    height: int | None = None
    duration: float | None = None  # seconds, where the provider says (Telegram voice, audio, video)


class TextContent(Frozen):
    type: Literal["text"] = "text"
    text: str


class MediaContent(Frozen):
    """image, audio (voice notes too: ``voice=True``), video, document (generic files), sticker."""

    type: Literal["image", "audio", "video", "document", "sticker"]
    attachments: tuple[Attachment, ...]
    text: str | None = None  # caption or text sent along
    voice: bool = False
    animated: bool = False


class LocationContent(Frozen):
    type: Literal["location"] = "location"
    latitude: float | None = None
    longitude: float | None = None
    name: str | None = None
    address: str | None = None
    url: str | None = None


class SharedContact(Frozen):
    name: str
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    user_id: str | None = None


class ContactsContent(Frozen):
    type: Literal["contacts"] = "contacts"
    contacts: tuple[SharedContact, ...]


class ChoiceContent(Frozen):
    """The customer picked something we offered: a quick reply, a postback button, an interactive
    button or list row, a WhatsApp template button, a flow (``nfm_reply``) or a Telegram callback.

    ``choice`` says which; ``title`` is what the customer saw, ``payload`` what we attached to it."""

    type: Literal["choice"] = "choice"
    choice: Literal["quick_reply", "postback", "button_reply", "list_reply", "button", "flow", "callback"]
    title: str | None = None
    payload: str | None = None
    description: str | None = None
    response: dict[str, Any] | None = None  # flow answers (WhatsApp nfm_reply.response_json, parsed)


class ReferralContent(Frozen):
    """The customer arrived from an ad, a link, a QR code or a post (Messenger/Instagram/WhatsApp)."""

    type: Literal["referral"] = "referral"
    source: str | None = None
    ref: str | None = None
    ad_id: str | None = None
    url: str | None = None
    headline: str | None = None
    text: str | None = None


class StoryContent(Frozen):
    """Instagram: the customer mentioned the business in a story, or replied to one of its stories."""

    type: Literal["story_mention", "story_reply"]
    story_id: str | None = None
    url: str | None = None
    text: str | None = None


class OrderItem(Frozen):
    product_id: str | None = None
    quantity: int | None = None
    price: float | None = None
    currency: str | None = None


class OrderContent(Frozen):
    type: Literal["order"] = "order"
    catalog_id: str | None = None
    text: str | None = None
    items: tuple[OrderItem, ...] = ()


class SystemContent(Frozen):
    """Something the provider tells about the conversation (number changed, opt-in, bot blocked)."""

    type: Literal["system"] = "system"
    event: str
    text: str | None = None


class UnsupportedContent(Frozen):
    """A message kind we do not render; never dropped: the raw item travels with the event."""

    type: Literal["unsupported"] = "unsupported"
    provider_type: str | None = None
    reason: str | None = None


MessageContent = Annotated[
    TextContent
    | MediaContent
    | LocationContent
    | ContactsContent
    | ChoiceContent
    | ReferralContent
    | StoryContent
    | OrderContent
    | SystemContent
    | UnsupportedContent,
    Field(discriminator="type"),
]


# --- events --------------------------------------------------------------------------------------


class EventBase(Frozen):
    channel: ChannelKind
    account_id: str = Field(description="The business-side id the provider routes on.")
    contact_id: str = Field(description="The customer's id on this channel (PSID, IGSID, wa_id, ...).")
    event_id: str = Field(description="Stable id of this provider delivery: retries give the same id.")
    occurred_at: datetime | None = Field(default=None, description="Provider's time, UTC.")
    signer: str | None = Field(
        default=None,
        description=(
            "The provider account whose secret verified the request, where the request itself names "
            "it (Twilio's AccountSid). Ingest accepts the event only if its route was connected with "
            "the same account: whatever picks the verifying secret must also pick the tenant."
        ),
    )
    raw: dict[str, Any] = Field(default_factory=dict, repr=False, exclude=False)

    @property
    def route_key(self) -> str:
        """Key of ``routes/{kind}:{externalId}``: which tenant and channel this event belongs to."""
        return f"{self.channel}:{self.account_id}"

    @property
    def conversation_key(self) -> str:
        """Pub/Sub ordering key: events of one conversation are delivered in order."""
        return f"{self.channel}:{self.account_id}:{self.contact_id}"


class MessageEvent(EventBase):
    kind: Literal["message"] = "message"
    message_id: str = Field(description="Provider message id (mid, wamid, ...).")
    content: MessageContent
    contact_name: str | None = None
    contact_handle: str | None = Field(default=None, description="Phone, username: shown to agents.")
    reply_to: str | None = Field(default=None, description="Provider id of the message replied to.")
    echo: bool = Field(default=False, description="Sent by the business, seen echoed back.")
    echo_app_id: str | None = Field(default=None, description="App that sent an echoed message.")
    echo_metadata: str | None = Field(default=None, description="Metadata we attached when sending.")
    standby: bool = Field(default=False, description="Arrived on Meta's standby channel.")
    forwarded: bool = False


class ReactionEvent(EventBase):
    kind: Literal["reaction"] = "reaction"
    target_message_id: str
    emoji: str | None = Field(description="None when the reaction was removed.")
    from_business: bool = False


class EditEvent(EventBase):
    kind: Literal["edit"] = "edit"
    target_message_id: str
    text: str | None = None
    message_id: str | None = None


class DeleteEvent(EventBase):
    kind: Literal["delete"] = "delete"
    target_message_id: str


class ReceiptError(Frozen):
    code: str | None = None
    title: str | None = None
    detail: str | None = None


class ReceiptEvent(EventBase):
    """A delivery / read receipt for messages the business sent.

    ``status`` is one of sent, delivered, read, failed, or the provider's word for anything else
    (``played`` is normalized to read; unknown values are kept and recorded, never ranked)."""

    kind: Literal["receipt"] = "receipt"
    status: str
    message_ids: tuple[str, ...] = ()
    watermark: datetime | None = Field(default=None, description="Everything sent up to here.")
    error: ReceiptError | None = None
    pricing: dict[str, Any] | None = None
    provider_status: str | None = None


class ChannelNoticeEvent(EventBase):
    """Something the provider says about the channel rather than a conversation: a value-level
    error (WhatsApp ``errors[]``), a template or account update, a policy enforcement. Recorded on
    the channel's health; ``contact_id`` may be empty."""

    kind: Literal["channel_notice"] = "channel_notice"
    topic: str
    error: ReceiptError | None = None


InboundEvent = Annotated[
    MessageEvent | ReactionEvent | EditEvent | DeleteEvent | ReceiptEvent | ChannelNoticeEvent,
    Field(discriminator="kind"),
]


def stable_event_id(*parts: object) -> str:
    """A deterministic id for an event that carries no provider id of its own (a read watermark,
    a status): the same provider delivery always hashes to the same id."""
    data = "\x1f".join(map(str, parts)).encode()
    return (_sha256(data) if len(data) < _ONE_BLOCK else _openssl_sha256(data)).hexdigest()[:32]


_Model = TypeVar("_Model", bound=BaseModel)


def build(model: type[_Model], fields: dict[str, Any]) -> _Model:
    """``model(**fields)``: the same validation, minus ``__init__``'s keyword-argument call, which
    costs a webhook about a microsecond an event. Nested content may be given as a plain dict
    (``{"type": "text", "text": ...}``): it is validated into its model with the event."""
    return model.__pydantic_validator__.validate_python(fields)
