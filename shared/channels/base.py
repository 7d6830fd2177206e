"""The protocol every channel adapter implements: one module per provider, same verbs everywhere.

Everything a provider varies in is here, so no code outside ``shared/channels/`` names a provider
(``tests/unit/test_no_channel_names_outside_channels.py``), and a contract test
(``tests/channels/test_channel_contract.py``) holds every registered adapter to it.

Inbound, the webhook function calls, in order:

1. :meth:`ChannelAdapter.handshake` for a GET subscription check (Meta's ``hub.challenge``);
2. :meth:`ChannelAdapter.verify` on the exact raw bytes received (never a re-encoded body);
3. :meth:`ChannelAdapter.split` to cut the body into self-contained raw items (each carries the
   context it needs: entry id, WhatsApp metadata and contacts, Telegram's bot from ``?bot=``...),
   so one bad item never aborts the batch and a quarantined item can be re-parsed on its own later;
4. :meth:`ChannelAdapter.parse_item` on each item, giving zero or more normalized events;
5. it answers :attr:`ChannelAdapter.acknowledgement` once every event is published.

Ingest runs :meth:`ChannelAdapter.after_ingest` once an event is stored.

Outbound, the ``deliver`` function builds the channel's :meth:`ChannelAdapter.account` and calls
:meth:`ChannelAdapter.send` with a provider-neutral ``OutboundMessage``; what an agent may send,
and when, is :attr:`ChannelAdapter.capabilities` (plain data, read by inbox and outbox).

The operator CLI connects a channel with :meth:`ChannelAdapter.check_connection`,
:meth:`ChannelAdapter.check_token`, :meth:`ChannelAdapter.test_connection` (a read at the provider),
:meth:`ChannelAdapter.store_token` and :meth:`ChannelAdapter.connect` (shared/channel_setup.py, for the
CLI and the admin console's channels page alike).

This module is on every webhook's cold path: it imports no client and no model at run time.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from shared.errors import MediaUnavailable, PermanentError, Refused, VerificationError

if TYPE_CHECKING:  # pragma: no cover
    from shared.inbox import Outcome
    from shared.models import InboundEvent
    from shared.models.outbound import ChannelAccount, OutboundMessage, SendResult

# The media an OutboundMessage can carry (by URL).
MEDIA_KINDS: frozenset[str] = frozenset({"image", "audio", "video", "document"})

ReplyWindowRule = Literal["none", "template", "tag"]
# How a channel asks for a satisfaction rating (shared/csat.py): on the provider's buttons, by a
# link to the rating page, or not at all.
CsatAsk = Literal["none", "buttons", "link"]
# What a survey asked by link says after the question (a typed score is read as the rating too).
CSAT_REPLY_HINT = "Reply with a number from 1 (very poor) to 5 (excellent), or rate here:"


def csat_text(question: str, link: str) -> str:
    """A satisfaction survey as a channel without buttons sends it: question, how to answer, link."""
    return f"{question}\n{CSAT_REPLY_HINT} {link}"


# How long a provider may fetch an agent's attachment through a signed URL (Messenger/Instagram
# attachment URLs, Twilio MediaUrl): they fetch at once, so this is short.
PROVIDER_MEDIA_URL_SECONDS = 15 * 60


@dataclass(frozen=True, slots=True)
class MediaLimit:
    """What a provider accepts for one outbound media kind: the content types (``"*"``: any type
    the media allow-list admits) and the largest size in bytes, as the provider documents them."""

    kind: str
    content_types: frozenset[str]
    max_bytes: int

    def accepts_type(self, content_type: str) -> bool:
        """Whether ``content_type`` (no parameters, lower case) is one the provider takes."""
        return "*" in self.content_types or content_type in self.content_types


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the business can do on a channel (plain data: no provider module needed to read it).

    ``reply_window``: what a reply needs once 24 hours have passed since the customer's last
    message (measured from the provider's timestamp): ``"none"``, no window at all; ``"template"``,
    only an approved template (WhatsApp); ``"tag"``, the HUMAN_AGENT tag, which allows replies up
    to 7 days (Messenger, Instagram). The conversation records it as ``replyWindow.needs``.
    ``templates``: agents may send templates. ``reactions``: agents may react to a message.
    ``read_receipts``: opening a conversation sends the provider a read receipt (``mark_read``).
    ``typing``: the adapter sends typing indicators. ``media``: the media kinds ``send`` delivers.
    ``media_limits``: the provider's own limits on an uploaded attachment, per kind (refused
    before queueing); ``max_attachments``: how many files one message may carry;
    ``max_total_bytes``: the most all of one message's files may weigh together (None: no limit
    beyond each file's own). ``max_text_length``: the longest text (or caption) the provider takes
    in one message, in characters (Unicode code points; the dashboard counts the same way and
    send_message refuses longer with ``text_too_long`` before anything is queued). ``profiles``: the
    provider names its customers only through a profile API (``fetch_profile``), which a queued
    task calls off the ingest path (shared/profiles.py). ``csat``: how a satisfaction survey is
    asked (``OutboundMessage`` type ``rating``): ``"buttons"`` (the adapter sends the choices as
    the provider's buttons), ``"link"`` (the question with the rating page's link), ``"none"``."""

    reply_window: ReplyWindowRule = "none"
    templates: bool = False
    reactions: bool = False
    read_receipts: bool = False
    typing: bool = False
    media: frozenset[str] = frozenset()
    media_limits: tuple[MediaLimit, ...] = ()
    max_attachments: int = 1
    max_total_bytes: int | None = None
    max_text_length: int = 4096
    profiles: bool = False
    csat: CsatAsk = "none"

    def media_limit(self, kind: str) -> MediaLimit | None:
        """The provider's limit for an attachment of ``kind`` (None: it takes no such upload)."""
        return next((limit for limit in self.media_limits if limit.kind == kind), None)


# A channel kind with no provider adapter (the in-app chat, whose replies are written straight to
# Firestore): text and media, no window, nothing else.
WITHOUT_PROVIDER = Capabilities(
    media=MEDIA_KINDS,
    media_limits=tuple(
        MediaLimit(kind=kind, content_types=frozenset({"*"}), max_bytes=100 * 1024 * 1024)
        for kind in sorted(MEDIA_KINDS)
    ),
    max_attachments=10,
)


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """What a webhook answers (HTTP 200) once Pub/Sub confirmed every event of the body."""

    body: str = "EVENT_RECEIVED"
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    """What an operator asked connect-channel to connect. The optional fields are options only some
    providers take (:attr:`ChannelAdapter.connect_options`): ``page_id`` (the Facebook Page linked
    to an Instagram account), ``account_sid`` (the provider account that owns the external id and
    signs its webhooks), ``webhook_url`` (the URL to register with the provider),
    ``business_account_id`` (the business account that owns a number's message templates)."""

    external_id: str
    page_id: str | None = None
    account_sid: str | None = None
    webhook_url: str | None = None
    business_account_id: str | None = None

    def options(self) -> dict[str, str]:
        """The optional fields that were given, by name."""
        return {
            field.name: value
            for field in fields(self)
            if field.name != "external_id" and (value := getattr(self, field.name)) is not None
        }


# What one inbound fetch reads at most (shared.media.kinds.MAX_FETCH_BYTES: the largest kind's limit).
MAX_MEDIA_FETCH_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class FetchedMedia:
    """One downloaded inbound media file: its bytes and what the provider said about it (the
    content type is sniffed from ``data`` afterwards, never taken from ``content_type``)."""

    data: bytes
    content_type: str | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None


def refused(message: str) -> Refused:
    """A connect-channel request a provider cannot accept (the CLI shows ``message``, exit 2)."""
    return Refused("invalid_channel_request", message)


class ChannelAdapter(abc.ABC):
    """One provider, both directions. Subclasses set the class attributes and implement the
    abstract methods; the other methods have defaults that fit a provider without that feature."""

    # -- what the provider is ------------------------------------------------------------------

    kind: ClassVar[str]
    """The registry key, the ``channel`` of every event, ``webhook_<kind>`` in main.py."""
    capabilities: ClassVar[Capabilities]
    acknowledgement: ClassVar[Acknowledgement] = Acknowledgement()
    environment: ClassVar[tuple[str, ...]] = ()
    """The variables of ``shared.config.ENVIRONMENT`` the adapter reads (checked against the
    configuration and Terraform by the contract test)."""
    connect_options: ClassVar[frozenset[str]] = frozenset()
    """The optional :class:`ConnectRequest` fields connect-channel accepts for this provider."""
    url_names_account: ClassVar[bool] = False
    """The webhook URL, not the body, names the business account (Telegram's ``?bot=``): see
    :meth:`webhook_url`."""
    connect_note: ClassVar[str | None] = None
    """What the operator must still do by hand once connect-channel succeeded, if anything."""

    # -- inbound -------------------------------------------------------------------------------

    def handshake(self, query: Mapping[str, str]) -> str:
        """Answer a subscription handshake: return the body to echo, or raise VerificationError.
        By default the provider has none (its webhooks are registered through its API)."""
        raise VerificationError(f"{self.kind} webhooks have no subscription handshake")

    @abc.abstractmethod
    def verify(self, headers: Mapping[str, str], body: bytes, url: str) -> None:
        """Raise SignatureError unless ``body`` carries a valid provider signature; ``url`` is the
        public URL the provider called (some providers sign it, or name the account in it)."""

    @abc.abstractmethod
    def split(self, body: bytes, url: str) -> list[dict[str, Any]]:
        """Cut a verified body that arrived at ``url`` (``""`` when unknown) into raw items; raise
        ParseError if the body itself is unusable."""

    @abc.abstractmethod
    def parse_item(self, item: dict[str, Any]) -> list[InboundEvent]:
        """Normalize one raw item into events; raise ParseError if it cannot be understood."""

    def webhook_url(self, base_url: str, external_id: str) -> str:
        """The webhook URL that receives ``external_id``'s webhooks, from the function's URL
        (``base_url``). By default the same URL serves every account."""
        return base_url

    def posted_body(self, raw: bytes) -> bytes:
        """The body the provider would post for a file an operator hands to ``parse`` (raise
        ParseError if it cannot be one). By default the file is the body, byte for byte."""
        return raw

    def after_ingest(self, event: InboundEvent, outcome: Outcome) -> dict[str, Any]:
        """What the provider needs once ingest stored ``event`` (``outcome``); returns fields for
        ingest's log line. Raising makes Pub/Sub redeliver the event, so it must be idempotent."""
        return {}

    # -- outbound ------------------------------------------------------------------------------

    @abc.abstractmethod
    def account(self, channel: Mapping[str, Any], token: str) -> ChannelAccount:
        """The API identity a send uses: ``channel`` is the channel's document (``externalId``,
        and ``accountSid`` or ``statusCallbackUrl`` where the provider has them), ``token`` its
        secret; the API's root and the rest come from :func:`shared.config.settings`."""

    @abc.abstractmethod
    def send(
        self, account: ChannelAccount, recipient: str, message: OutboundMessage, *, timeout: float
    ) -> SendResult:
        """Call the provider's API (``requests``, with ``timeout``) to deliver ``message`` to
        ``recipient`` (PSID, IGSID, wa_id, chat id, phone). Raise ProviderError on refusal,
        transient for timeouts, connection errors and the provider's retryable codes."""

    # -- inbound media (deliver's fetch_media) ------------------------------------------------

    def fetch_media(self, account: ChannelAccount, ref: Mapping[str, Any], *, timeout: float) -> FetchedMedia:
        """Download one inbound media file the provider keeps, with ``account``'s credentials.
        ``ref`` is the message's ``content.media[i].providerRef`` (``mediaId`` and/or ``url``, as
        the parser found them). Read at most :data:`MAX_MEDIA_FETCH_BYTES`. Raise ProviderError
        (``transient`` by the provider's code: retried) or MediaUnavailable (gone, expired,
        too large: the media is marked failed with the reason, never retried)."""
        raise MediaUnavailable(f"{self.kind} keeps no media to fetch")

    # -- customer profiles (deliver's profile task, shared/profiles.py) -------------------------

    def fetch_profile(self, account: ChannelAccount, external_id: str, *, timeout: float) -> dict[str, Any]:
        """The customer's public profile, provider-neutral: ``{name, firstName?, lastName?,
        username?, pictureUrl?}`` (absent what the provider does not say). Only for
        ``capabilities.profiles``; raise ProviderError as ``send`` does."""
        raise PermanentError(f"{self.kind} has no profile API")

    # -- message templates (the dashboard's template picker) -----------------------------------

    def list_templates(
        self, account: ChannelAccount, channel: Mapping[str, Any], *, timeout: float
    ) -> list[dict[str, Any]] | None:
        """The message templates the provider holds for ``channel`` (its document: the account
        that owns the templates may be another id than ``externalId``), each provider-neutral:
        ``{id, name, language, status (APPROVED, PENDING, REJECTED, PAUSED, DISABLED...), category,
        header, body, footer, parameterCount, parameterNames}`` (``parameterCount``: the body's
        parameters; ``parameterNames``: their names when the template names them, else empty).
        None: the provider offers no list (templates, if any, are typed by name). Raise
        ProviderError as ``send`` does."""
        return None

    # -- connecting a channel (the operator CLI) ----------------------------------------------

    def check_connection(self, request: ConnectRequest) -> None:
        """Refuse (:func:`refused`) a request the provider cannot accept, before anything is
        written; options outside :attr:`connect_options` are refused by the caller."""
        return None

    def check_token(self, external_id: str, token: str) -> None:
        """Refuse a token that cannot belong to ``external_id`` (checked on connect and rotation)."""
        return None

    def test_connection(self, request: ConnectRequest, token: str) -> dict[str, Any]:
        """Ask the provider whether ``token`` can act for ``request.external_id``, changing nothing
        there (a read of the account: Graph ``GET /{id}``, Telegram ``getMe``, Twilio's account);
        return what it says about the account, ``{"name": ...}``. Raise ProviderError with the
        provider's own code when it refuses (a bad token: ``health == "token_expired"``)."""
        return {}

    def store_token(self, channel: Mapping[str, Any], token: str) -> str | None:
        """Keep whatever else a new token of ``channel`` (a channel document, or what connect-channel
        is about to write) must update besides the channel's own secret; return the secret id it
        wrote when that secret is shared by every channel of ``channel["accountSid"]``."""
        return None

    def connect(self, request: ConnectRequest, token: str) -> dict[str, Any]:
        """Subscribe our app to the account's webhooks with the provider; return what was set up
        (kept on the channel as ``webhookSubscription``), or ``{}`` when nothing is to be done."""
        return {}

    def subscription_key(self, channel: Mapping[str, Any]) -> str | None:
        """What :meth:`connect` subscribed at the provider for ``channel`` (a channel document), when
        other channels can share it (Meta: one Page behind a Messenger and an Instagram channel):
        :meth:`disconnect` is not called while another connected channel has the same key. None:
        nothing shared."""
        return None

    def disconnect(self, request: ConnectRequest, token: str) -> None:
        """Ask the provider to stop sending the account's webhooks to us, where its API allows it
        (raise ProviderError if it refuses). By default nothing: the route is deleted anyway, so
        what still arrives is quarantined as ``unknown_route``."""
        return None

    # -- shared by the implementations ---------------------------------------------------------

    def public_webhook_url(self) -> str | None:
        """``webhook_<kind>``'s public URL (``SWITCHBOARD_PUBLIC_BASE_URL``), None when not set."""
        from shared.config import settings

        base = settings().public_base_url
        return f"{base}/webhook-{self.kind}" if base else None
