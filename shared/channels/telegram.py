"""Telegram Bot API: webhook updates in, Bot API methods out.

Inbound (Bot API, "Getting updates" / ``setWebhook``, and the ``Update`` and ``Message`` objects):

- Telegram posts ONE ``Update`` per request and never names the bot in it. We register every bot's
  webhook as ``<webhook URL>?bot=<bot id>`` with a per-bot ``secret_token`` derived from one master
  secret (:func:`telegram_secret_token`); Telegram echoes that token in
  ``X-Telegram-Bot-Api-Secret-Token`` on every request, which is all the authentication there is
  (no signature over the body).
- :meth:`TelegramAdapter.split` gives one item ``{"bot_id": ..., "update": {...}}``, the bot id
  read from the URL's ``?bot=``: it travels with the update, so a quarantined item can be re-parsed
  on its own. Without the URL the bot is unknown and the body is refused (kept whole for replay).
- Ids exceed 32 bits (supergroup chats are ``-100...``; ``callback_query.id`` is a numeric string):
  every id is kept as a string. Message ids are only unique within a chat, so a provider message id
  is ``"<chat id>:<message id>"``. ``channel_post`` has ``sender_chat`` and no ``from``; ``thumb``
  was renamed ``thumbnail`` (we use neither); users in published fixtures may lack ``is_bot``.

Choices made here (documented for the dashboard and ingest):

- ``my_chat_member`` (the bot's own membership in a chat) is a :class:`MessageEvent` with
  :class:`SystemContent` in that chat's conversation: ``bot_blocked`` / ``bot_unblocked`` in a
  private chat (the customer stopped or restarted the bot), ``bot_added`` / ``bot_removed`` in a
  group or channel, ``bot_member:<status>`` for other changes (e.g. promoted to administrator).
- Telegram Business updates (``business_*``, ``deleted_business_messages``) and the chat-wide
  counters (``message_reaction_count``, ``chat_boost``...) are :class:`ChannelNoticeEvent`\\ s:
  Switchboard does not act as a Business chatbot. Any other update kind is an unsupported message
  in its chat's conversation when it names a chat, else a channel notice. Nothing is dropped.
- A callback query (inline keyboard button) is a :class:`ChoiceContent` ``callback`` whose id is
  the callback query's id; ``reply_to`` is the message that carried the keyboard.

Outbound: ``POST {base}/bot<token>/<method>`` with a JSON body (``sendMessage``, ``sendPhoto``,
``sendDocument``, ``sendAudio``, ``sendVideo``, ``setMessageReaction``); errors are mapped in
:data:`TELEGRAM_ERRORS`, the module's one table. The token is part of the URL, so neither the URL
nor a ``requests`` exception text (which contains it) is ever logged or put into an error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from shared.channels import media_limits
from shared.channels.base import MEDIA_KINDS, Capabilities, ChannelAdapter, ConnectRequest, refused
from shared.channels.payload import (
    as_dict,
    as_float,
    as_id,
    as_text,
    event_time,
    fingerprint,
    form_pairs,
    header,
    load_body,
)
from shared.config import settings
from shared.errors import ParseError, ProviderError, SignatureError
from shared.models import (
    ChannelNoticeEvent,
    EditEvent,
    InboundEvent,
    MessageEvent,
    ReactionEvent,
    stable_event_id,
)
from shared.models.events import build
from shared.models.outbound import ChannelAccount, OutboundMessage, SendResult

if TYPE_CHECKING:  # pragma: no cover
    import requests

    from shared.inbox import Outcome

# A message's content, as the fields of its MessageContent model (validated with the event).
Content = dict[str, Any]

__all__ = [
    "ALLOWED_UPDATES",
    "SECRET_HEADER",
    "TELEGRAM_ERRORS",
    "TelegramAdapter",
    "provider_error",
    "request_for",
    "send_message",
    "set_webhook",
    "telegram_secret_token",
    "webhook_url",
]

KIND = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
BOT_PARAM = "bot"
WEBHOOK_SECRET_NAME = "telegram-webhook-secret"  # noqa: S105 - a Secret Manager id, not a secret
CALLBACK_PREFIX = "callback_query:"  # a button press's provider message id: the prefix, then the query id
# What we ask Telegram to deliver (setWebhook ``allowed_updates``). message_reaction is never sent
# unless it is listed explicitly (Bot API, Update: "message_reaction ... must be explicitly specified").
ALLOWED_UPDATES: tuple[str, ...] = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "callback_query",
    "my_chat_member",
    "message_reaction",
)
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_CHAT_ID = re.compile(r"-?\d{1,20}")


# --- webhook authentication ----------------------------------------------------------------------


def telegram_secret_token(master: str, bot_id: str) -> str:
    """The ``secret_token`` we register for ``bot_id`` (setWebhook) and expect back in
    ``X-Telegram-Bot-Api-Secret-Token``: hex HMAC-SHA256(master, bot id). 64 characters of
    ``0-9a-f``, within what Telegram allows (1-256 of ``A-Za-z0-9_-``)."""
    if not master:
        raise ValueError("the Telegram master webhook secret is empty")
    return hmac.new(master.encode("utf-8"), bot_id.encode("utf-8"), hashlib.sha256).hexdigest()


def webhook_url(base_url: str, bot_id: str) -> str:
    """The webhook URL to register for ``bot_id``: ``base_url`` with ``?bot=<bot id>`` (Telegram's
    updates do not name the bot, so the URL does)."""
    split = urllib.parse.urlsplit(base_url)
    query = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
    query = [(k, v) for k, v in query if k != BOT_PARAM] + [(BOT_PARAM, bot_id)]
    return urllib.parse.urlunsplit(split._replace(query=urllib.parse.urlencode(query)))


def bot_id_from_url(url: str) -> str | None:
    """The ``bot`` query parameter of a webhook URL, or None when absent, empty or repeated."""
    query = urllib.parse.urlsplit(url or "").query
    values = [value for key, value in form_pairs(query) if key == BOT_PARAM]
    if len(values) != 1 or not values[0]:
        return None
    return values[0]


# --- the adapter ---------------------------------------------------------------------------------


class TelegramAdapter(ChannelAdapter):
    """Telegram bots: updates in (one per POST), Bot API methods out."""

    kind: ClassVar[str] = KIND
    # Bots cannot send read receipts; reactions are setMessageReaction. No reply window.
    capabilities: ClassVar[Capabilities] = Capabilities(
        reactions=True,
        typing=True,
        media=MEDIA_KINDS,
        media_limits=media_limits.TELEGRAM,
        max_text_length=4096,  # sendMessage: "Text of the message to be sent, 1-4096 characters"
        csat="buttons",  # an inline keyboard (callback_data <= 64 bytes)
    )
    environment: ClassVar[tuple[str, ...]] = (
        "TELEGRAM_API_BASE_URL",
        "TELEGRAM_WEBHOOK_SECRET",
        "SWITCHBOARD_PUBLIC_BASE_URL",
    )
    connect_options: ClassVar[frozenset[str]] = frozenset({"webhook_url"})
    url_names_account: ClassVar[bool] = True

    def __init__(self, *, webhook_secret: str | None = None) -> None:
        self._webhook_secret = webhook_secret

    def _master(self) -> str:
        return self._webhook_secret or settings().require("telegram_webhook_secret")

    # -- inbound --

    def verify(self, headers: Mapping[str, str], body: bytes, url: str) -> None:
        """Raise SignatureError unless ``X-Telegram-Bot-Api-Secret-Token`` equals the token derived
        for the ``?bot=`` of ``url`` (constant-time compare). Telegram signs nothing else."""
        master = self._master()
        bot_id = bot_id_from_url(url)
        if bot_id is None:
            raise SignatureError("the webhook URL does not name the bot (?bot=<id>)")
        provided = header(headers, SECRET_HEADER)
        if not provided:
            raise SignatureError(f"missing {SECRET_HEADER} header")
        expected = telegram_secret_token(master, bot_id)
        if not hmac.compare_digest(expected.encode("utf-8"), provided.strip().encode("utf-8")):
            raise SignatureError(f"{SECRET_HEADER} does not match this bot")

    def split(self, body: bytes, url: str) -> list[dict[str, Any]]:
        """One item ``{"bot_id": <from ?bot=>, "update": <the Update>}`` (Telegram sends one
        update per request); ParseError when ``url`` does not name the bot."""
        bot_id = bot_id_from_url(url)
        if bot_id is None:
            raise ParseError("telegram needs the webhook URL: it does not name the bot (?bot=<id>)")
        return [{"bot_id": bot_id, "update": load_body(body)}]

    def webhook_url(self, base_url: str, external_id: str) -> str:
        """``base_url`` with ``?bot=<bot id>`` (see :func:`webhook_url`)."""
        return webhook_url(base_url, external_id)

    def after_ingest(self, event: InboundEvent, outcome: Outcome) -> dict[str, Any]:
        """A button press (callback query) shows a spinner on the customer's button until the bot
        answers it (answerCallbackQuery; Telegram refuses answers after a few minutes). Once the
        press is stored (created, or found stored by a redelivery), queue the answer for deliver,
        which alone holds bot tokens, as a task named after the query: a redelivered press is
        answered once. If queueing fails, the error makes Pub/Sub redeliver the press."""
        if outcome.result not in ("created", "duplicate", "ignored"):  # ignored: a stale rating
            return {}
        queued = False
        content = getattr(event, "content", None)
        if isinstance(event, MessageEvent) and getattr(content, "choice", None) == "callback":
            from shared import outbox

            query_id = event.message_id.removeprefix(CALLBACK_PREFIX)
            queued = outbox.answer_callback(event, query_id, outcome)
        return {"callback_answer_queued": queued}

    def parse_item(self, item: dict[str, Any]) -> list[InboundEvent]:
        """Normalize one ``{"bot_id", "update"}`` item; an update with only ``update_id`` gives
        no events; an update kind this code does not know becomes a notice or an unsupported
        message, never an error."""
        bot_id = as_id(item.get("bot_id"))
        if bot_id is None:
            raise ParseError("telegram item without bot_id")
        update = item.get("update")
        if not isinstance(update, dict):
            raise ParseError("telegram update is not an object")
        update_id = as_id(update.get("update_id"))
        kinds = [key for key in update if key != "update_id"]
        events: list[InboundEvent] = []
        for kind in kinds:
            value = update[kind]
            if value is None:
                continue
            # Telegram sends at most one kind per update; if ever more, their event ids differ.
            basis = f"update:{update_id}" if update_id is not None else None
            if basis is not None and len(kinds) > 1:
                basis = f"{basis}:{kind}"
            ctx = _Update(bot_id, update_id, kind, item, basis)  # positional: several times faster
            events.extend(self._parse_kind(ctx, value))
        return events

    def _parse_kind(self, ctx: _Update, value: Any) -> list[InboundEvent]:
        handler = _HANDLERS.get(ctx.kind)
        if handler is not None:
            if not isinstance(value, dict):
                raise ParseError(f"telegram {ctx.kind} is not an object")
            return handler(self, ctx, value)
        if ctx.kind in _CHANNEL_LEVEL_KINDS or not isinstance(value, dict):
            return [_notice(ctx, value)]
        chat = value.get("chat")
        if isinstance(chat, dict) and as_id(chat.get("id")) is not None:
            # An update kind this code does not handle, about one chat: kept in its conversation.
            contact = _contact(chat, as_dict(value.get("from")))
            event_id = ctx.event_id(value)
            fields = ctx.envelope(contact.id, event_id, value.get("date"))
            fields["message_id"] = event_id
            fields["content"] = {
                "type": "unsupported",
                "provider_type": ctx.kind,
                "reason": "update kind not handled",
            }
            fields["contact_name"] = contact.name
            fields["contact_handle"] = contact.handle
            return [build(MessageEvent, fields)]
        return [_notice(ctx, value)]

    # -- outbound --

    def account(self, channel: Mapping[str, Any], token: str) -> ChannelAccount:
        """The bot (its id) and its token, on the Bot API's root."""
        return ChannelAccount(
            channel=KIND,
            external_id=str(channel["externalId"]),
            token=token,
            base_url=settings().telegram_api_base_url,
        )

    def send(
        self, account: ChannelAccount, recipient: str, message: OutboundMessage, *, timeout: float
    ) -> SendResult:
        """Send through the Bot API (sendMessage, sendPhoto, sendDocument, sendAudio, sendVideo,
        setMessageReaction, answerCallbackQuery); mark_read is a no-op (bots send no read
        receipts), templates are refused (WhatsApp only)."""
        return send_message(account, recipient, message, timeout)

    # -- connecting a bot --

    def fetch_media(self, account: ChannelAccount, ref: Mapping[str, Any], *, timeout: float) -> Any:
        """Bot API ``getFile`` (the file_id) answers ``file_path``; the file is then
        ``GET {base}/file/bot<token>/<file_path>`` (the link lives at least an hour). Bots download
        at most 20 MB: a larger file is refused by getFile ("file is too big") and marked failed."""
        from shared.channels import downloads
        from shared.channels.base import MAX_MEDIA_FETCH_BYTES, FetchedMedia
        from shared.errors import MediaUnavailable

        file_id = ref.get("mediaId")
        if not isinstance(file_id, str) or not file_id:
            raise MediaUnavailable("the message names no Telegram file_id")
        try:
            found = call(account, "getFile", {"file_id": file_id}, timeout)
        except ProviderError as exc:
            if not exc.transient and exc.code == "400":
                raise MediaUnavailable(f"Telegram cannot hand out this file: {exc.detail or exc}") from exc
            raise
        path = as_text(as_dict(found).get("file_path"))
        if not path:
            raise MediaUnavailable("Telegram answered getFile without a file_path")
        url = f"{account.base_url.rstrip('/')}/file/bot{account.token}/{urllib.parse.quote(path)}"
        data, _ = downloads.get(url, channel=KIND, timeout=timeout, limit=MAX_MEDIA_FETCH_BYTES)
        return FetchedMedia(
            data=data,
            content_type=ref.get("mimeType"),
            file_name=ref.get("fileName") or path.rsplit("/", 1)[-1],
            width=ref.get("width"),
            height=ref.get("height"),
            duration_seconds=ref.get("durationSeconds"),
        )

    def check_connection(self, request: ConnectRequest) -> None:
        """The webhook URL to register and the master secret must both be known before anything
        is written."""
        self._registered_url(request)
        self._connect_master()

    def check_token(self, external_id: str, token: str) -> None:
        """A bot token is ``<bot id>:<secret>``; the bot id is what Telegram webhooks are routed on."""
        if token.partition(":")[0] != external_id:
            raise refused(f"this bot token belongs to bot {token.partition(':')[0]!r}, not {external_id!r}")

    def test_connection(self, request: ConnectRequest, token: str) -> dict[str, Any]:
        """getMe with the bot token: the bot's name, or Telegram's 401 Unauthorized for a revoked
        or wrong token."""
        self.check_token(request.external_id, token)
        account = self.account({"externalId": request.external_id}, token)
        bot = as_dict(call(account, "getMe", {}, settings().provider_timeout_seconds))
        if as_id(bot.get("id")) != request.external_id:
            raise refused(f"Telegram says this token is bot {bot.get('id')!r}, not {request.external_id!r}")
        username = as_text(bot.get("username"))
        return {
            "name": f"@{username}" if username else as_text(bot.get("first_name")) or "",
            "username": username,
        }

    def connect(self, request: ConnectRequest, token: str) -> dict[str, Any]:
        """setWebhook: ``<webhook URL>?bot=<bot id>`` with the bot's secret token."""
        url = self._registered_url(request)
        account = self.account({"externalId": request.external_id}, token)
        secret_token = telegram_secret_token(self._connect_master(), request.external_id)
        set_webhook(account, url, secret_token, settings().provider_timeout_seconds)
        return {"url": url}

    def disconnect(self, request: ConnectRequest, token: str) -> None:
        """deleteWebhook: Telegram stops posting the bot's updates (it keeps them for getUpdates)."""
        account = self.account({"externalId": request.external_id}, token)
        call(account, "deleteWebhook", {}, settings().provider_timeout_seconds)

    def _registered_url(self, request: ConnectRequest) -> str:
        base = request.webhook_url or self.public_webhook_url()
        if not base:
            raise refused(
                "the Telegram webhook URL is unknown: set SWITCHBOARD_PUBLIC_BASE_URL (the functions' "
                "public URL prefix) or pass --webhook-url"
            )
        return webhook_url(base, request.external_id)

    def _connect_master(self) -> str:
        # The operator's CLI may run without TELEGRAM_WEBHOOK_SECRET: Secret Manager holds it too.
        from shared import secrets

        return (
            self._webhook_secret or settings().telegram_webhook_secret or secrets.secret(WEBHOOK_SECRET_NAME)
        )

    # -- update kinds --

    def _on_message(self, ctx: _Update, message: dict[str, Any]) -> list[InboundEvent]:
        # message / channel_post: a Message. channel_post has sender_chat and no from.
        chat = message.get("chat")
        if not isinstance(chat, dict) or as_id(chat.get("id")) is None:
            raise ParseError(f"telegram {ctx.kind} without chat.id")
        provider_id = _message_id(chat, message)
        contact = _contact(chat, as_dict(message.get("from")) or as_dict(message.get("sender_chat")))
        reply = as_dict(message.get("reply_to_message"))
        reply_to = _message_id(chat, reply) if as_id(reply.get("message_id")) is not None else None
        forwarded = any(
            key in message for key in ("forward_origin", "forward_from", "forward_from_chat", "forward_date")
        )
        fields = ctx.envelope(contact.id, ctx.event_id(message), message.get("date"))
        fields["message_id"] = provider_id
        fields["content"] = message_content(message)
        fields["contact_name"] = contact.name
        fields["contact_handle"] = contact.handle
        fields["reply_to"] = reply_to
        fields["forwarded"] = forwarded
        return [build(MessageEvent, fields)]

    def _on_edit(self, ctx: _Update, message: dict[str, Any]) -> list[InboundEvent]:
        # edited_message / edited_channel_post: the whole new Message, same message_id.
        chat = message.get("chat")
        if not isinstance(chat, dict) or as_id(chat.get("id")) is None:
            raise ParseError(f"telegram {ctx.kind} without chat.id")
        target = _message_id(chat, message)
        text = as_text(message.get("text"))
        if text is None:
            text = as_text(message.get("caption"))
        contact = _contact(chat, as_dict(message.get("from")) or as_dict(message.get("sender_chat")))
        fields = ctx.envelope(
            contact.id, ctx.event_id(message), message.get("edit_date") or message.get("date")
        )
        fields["target_message_id"] = target
        fields["text"] = text
        return [build(EditEvent, fields)]

    def _on_callback_query(self, ctx: _Update, query: dict[str, Any]) -> list[InboundEvent]:
        # callback_query: {id, from, message?, inline_message_id?, chat_instance, data?,
        # game_short_name?}; message may be "inaccessible" (date 0, no content) but keeps chat/id.
        query_id = as_id(query.get("id"))
        if query_id is None:
            raise ParseError("telegram callback_query without id")
        user = as_dict(query.get("from"))
        message = as_dict(query.get("message"))
        chat = as_dict(message.get("chat"))
        if as_id(chat.get("id")) is None:
            # Inline-mode messages have no chat: the person who pressed is the conversation.
            chat = {**user, "type": "private"} if as_id(user.get("id")) is not None else {}
        if as_id(chat.get("id")) is None:
            raise ParseError("telegram callback_query without message.chat or from")
        contact = _contact(chat, user)
        data = as_text(query.get("data"))
        game = as_text(query.get("game_short_name"))
        reply_to = _message_id(chat, message) if as_id(message.get("message_id")) is not None else None
        provider_id = f"{CALLBACK_PREFIX}{query_id}"
        fields = ctx.envelope(contact.id, provider_id, None)
        fields["message_id"] = provider_id
        fields["content"] = {
            "type": "choice",
            "choice": "callback",
            "payload": data if data is not None else game,
            "title": _button_title(message, data),
        }
        fields["contact_name"] = contact.name
        fields["contact_handle"] = contact.handle
        fields["reply_to"] = reply_to
        return [build(MessageEvent, fields)]

    def _on_my_chat_member(self, ctx: _Update, change: dict[str, Any]) -> list[InboundEvent]:
        # my_chat_member: ChatMemberUpdated {chat, from, date, old_chat_member, new_chat_member}
        # about the bot itself. In a private chat "kicked" means the customer blocked the bot.
        chat = change.get("chat")
        if not isinstance(chat, dict) or as_id(chat.get("id")) is None:
            raise ParseError("telegram my_chat_member without chat.id")
        old = as_text(as_dict(change.get("old_chat_member")).get("status")) or "unknown"
        new = as_text(as_dict(change.get("new_chat_member")).get("status")) or "unknown"
        event = _membership_event(as_text(chat.get("type")), old, new)
        contact = _contact(chat, as_dict(change.get("from")))
        event_id = ctx.event_id(change)
        fields = ctx.envelope(contact.id, event_id, change.get("date"))
        fields["message_id"] = event_id
        fields["content"] = {"type": "system", "event": event, "text": f"{old} -> {new}"}
        fields["contact_name"] = contact.name
        fields["contact_handle"] = contact.handle
        return [build(MessageEvent, fields)]

    def _on_message_reaction(self, ctx: _Update, change: dict[str, Any]) -> list[InboundEvent]:
        # message_reaction: MessageReactionUpdated {chat, message_id, user?, actor_chat?, date,
        # old_reaction[], new_reaction[]}; ReactionType is emoji, custom_emoji or paid.
        chat = change.get("chat")
        if not isinstance(chat, dict) or as_id(chat.get("id")) is None:
            raise ParseError("telegram message_reaction without chat.id")
        if as_id(change.get("message_id")) is None:
            raise ParseError("telegram message_reaction without message_id")
        contact = _contact(chat, as_dict(change.get("user")) or as_dict(change.get("actor_chat")))
        old = [_reaction(r) for r in change.get("old_reaction") or () if isinstance(r, dict)]
        new = [_reaction(r) for r in change.get("new_reaction") or () if isinstance(r, dict)]
        added = [r for r in new if r and r not in old]
        emoji = (added or [r for r in new if r] or [None])[-1]
        fields = ctx.envelope(contact.id, ctx.event_id(change), change.get("date"))
        fields["target_message_id"] = _message_id(chat, change)
        fields["emoji"] = emoji
        return [build(ReactionEvent, fields)]


@dataclass(frozen=True, slots=True)
class _Update:
    """What every event of one update shares."""

    bot_id: str
    update_id: str | None
    kind: str
    raw: dict[str, Any]
    basis: str | None  # "update:<update_id>" (None when the update has no id)

    def event_id(self, value: object) -> str:
        """``update:<update_id>``: Telegram redelivers an unacknowledged update with the same id."""
        if self.basis is not None:
            return self.basis
        return stable_event_id(KIND, self.bot_id, self.kind, fingerprint(value))

    def envelope(self, contact_id: str, event_id: str, date: object) -> dict[str, Any]:
        return {
            "channel": KIND,
            "account_id": self.bot_id,
            "contact_id": contact_id,
            "event_id": event_id,
            "occurred_at": event_time(date),
            "raw": self.raw,
        }


@dataclass(frozen=True, slots=True)
class _Contact:
    id: str
    name: str | None
    handle: str | None


def _contact(chat: dict[str, Any], sender: dict[str, Any]) -> _Contact:
    """The conversation's party: the chat (a private chat's id is the user's id; groups and
    channels have negative ids). Name: first/last name for people, title for groups/channels."""
    chat_id = as_id(chat.get("id"))
    if chat_id is None:  # pragma: no cover - callers check
        raise ParseError("telegram chat without id")
    private = as_text(chat.get("type")) in (None, "private")
    title = as_text(chat.get("title"))
    person = chat if (as_text(chat.get("first_name")) or not private) else sender
    name = " ".join(
        part for part in (as_text(person.get("first_name")), as_text(person.get("last_name"))) if part
    )
    username = as_text(chat.get("username")) or (as_text(sender.get("username")) if private else None)
    return _Contact(chat_id, title or name or None, f"@{username}" if username else None)


def _message_id(chat: dict[str, Any], message: dict[str, Any]) -> str:
    """``"<chat id>:<message id>"``: Telegram message ids are unique only within one chat."""
    message_id = as_id(message.get("message_id"))
    if message_id is None:
        raise ParseError("telegram message without message_id")
    return f"{as_id(chat.get('id'))}:{message_id}"


def _button_title(message: dict[str, Any], data: str | None) -> str | None:
    """The inline keyboard button whose ``callback_data`` is ``data``, if the message carries its
    ``reply_markup`` (it does when the message is still accessible)."""
    if data is None:
        return None
    keyboard = as_dict(message.get("reply_markup")).get("inline_keyboard")
    for row in keyboard if isinstance(keyboard, list) else ():
        for button in row if isinstance(row, list) else ():
            if isinstance(button, dict) and button.get("callback_data") == data:
                return as_text(button.get("text"))
    return None


def _reaction(reaction: dict[str, Any]) -> str | None:
    kind = as_text(reaction.get("type"))
    if kind == "emoji":
        return as_text(reaction.get("emoji")) or None
    if kind == "custom_emoji":
        custom = as_id(reaction.get("custom_emoji_id"))
        return f"custom_emoji:{custom}" if custom else None
    if kind == "paid":
        return "paid"  # a paid (Telegram Stars) reaction has no emoji
    return None


_ACTIVE = frozenset({"member", "administrator", "creator", "restricted"})
_GONE = frozenset({"left", "kicked"})


def _membership_event(chat_type: str | None, old: str, new: str) -> str:
    private = chat_type in (None, "private")
    if new in _GONE:
        return "bot_blocked" if private else "bot_removed"
    if new in _ACTIVE and (old in _GONE or old == "unknown"):
        return "bot_unblocked" if private else "bot_added"
    return f"bot_member:{new}"


def _notice(ctx: _Update, value: object) -> ChannelNoticeEvent:
    fields = ctx.envelope("", ctx.event_id(value), as_dict(value).get("date"))
    fields["topic"] = f"update:{ctx.kind}"
    return build(ChannelNoticeEvent, fields)


_HANDLERS = {
    "message": TelegramAdapter._on_message,
    "channel_post": TelegramAdapter._on_message,
    "edited_message": TelegramAdapter._on_edit,
    "edited_channel_post": TelegramAdapter._on_edit,
    "callback_query": TelegramAdapter._on_callback_query,
    "my_chat_member": TelegramAdapter._on_my_chat_member,
    "message_reaction": TelegramAdapter._on_message_reaction,
}
# About the bot or a chat as a whole, not one conversation's messages.
_CHANNEL_LEVEL_KINDS = frozenset(
    {
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction_count",
        "chat_boost",
        "removed_chat_boost",
        "poll",
        "purchased_paid_media",
    }
)


# --- message content -----------------------------------------------------------------------------

# Service messages (Message fields that report something about the chat): SystemContent events.
_SERVICE_KEYS = (
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "channel_chat_created",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
    "pinned_message",
    "message_auto_delete_timer_changed",
    "users_shared",
    "chat_shared",
    "write_access_allowed",
)
# Fields of every Message that are not its content.
_ENVELOPE_KEYS = frozenset(
    {
        "message_id",
        "message_thread_id",
        "from",
        "sender_chat",
        "sender_boost_count",
        "sender_business_bot",
        "date",
        "business_connection_id",
        "chat",
        "forward_origin",
        "forward_from",
        "forward_from_chat",
        "forward_from_message_id",
        "forward_signature",
        "forward_sender_name",
        "forward_date",
        "is_topic_message",
        "is_automatic_forward",
        "reply_to_message",
        "external_reply",
        "quote",
        "reply_to_story",
        "via_bot",
        "edit_date",
        "has_protected_content",
        "is_from_offline",
        "media_group_id",
        "author_signature",
        "entities",
        "caption_entities",
        "caption",
        "show_caption_above_media",
        "has_media_spoiler",
        "link_preview_options",
        "effect_id",
        "reply_markup",
    }
)


def _file(obj: dict[str, Any], caption: str | None) -> dict[str, Any]:
    """An Attachment's fields."""
    return {
        "media_id": as_id(obj.get("file_id")),
        "mime_type": as_text(obj.get("mime_type")),
        "filename": as_text(obj.get("file_name")),
        "caption": caption,
        "size": _int(obj.get("file_size")),
        "width": _int(obj.get("width")),
        "height": _int(obj.get("height")),
        "duration": _int(obj.get("duration")),
    }


def _int(value: object) -> int | None:
    number = as_float(value)
    return int(number) if number is not None and number.is_integer() else None


def _largest_photo(sizes: list[Any]) -> dict[str, Any] | None:
    """The biggest PhotoSize (Telegram sends several resolutions of one photo)."""
    photos = [p for p in sizes if isinstance(p, dict) and as_id(p.get("file_id"))]
    if not photos:
        return None
    return max(
        photos,
        key=lambda p: (
            (_int(p.get("width")) or 0) * (_int(p.get("height")) or 0),
            _int(p.get("file_size")) or 0,
        ),
    )


def message_content(message: dict[str, Any]) -> Content:
    """The content of a Telegram ``Message`` (text, every media kind, location, venue, contact,
    web app data, service messages), as the fields of its MessageContent model (validated with the
    event); anything else is unsupported with its field name."""
    caption = as_text(message.get("caption"))
    text = as_text(message.get("text"))
    if text is not None:
        return {"type": "text", "text": text}  # entities (commands, links, formatting) are not needed
    photo = message.get("photo")
    if isinstance(photo, list):
        largest = _largest_photo(photo)
        if largest is not None:
            return {"type": "image", "attachments": (_file(largest, caption),), "text": caption}
    # animation before document: GIFs come with both, for backward compatibility (Bot API, Message).
    animation = message.get("animation")
    if isinstance(animation, dict):
        return {
            "type": "video",
            "attachments": (_file(animation, caption),),
            "text": caption,
            "animated": True,
        }
    for key, media_type, voice in (
        ("voice", "audio", True),
        ("audio", "audio", False),
        ("video", "video", False),
        ("video_note", "video", False),
        ("document", "document", False),
    ):
        media = message.get(key)
        if isinstance(media, dict):
            return {
                "type": media_type,
                "attachments": (_file(media, caption),),
                "text": caption,
                "voice": voice,
            }
    sticker = message.get("sticker")
    if isinstance(sticker, dict):
        return {
            "type": "sticker",
            "attachments": (_file(sticker, None),),
            "text": as_text(sticker.get("emoji")),
            "animated": sticker.get("is_animated") is True or sticker.get("is_video") is True,
        }
    venue = message.get("venue")
    if isinstance(venue, dict):  # a venue also carries `location`: read it first
        location = as_dict(venue.get("location")) or as_dict(message.get("location"))
        return {
            "type": "location",
            "latitude": as_float(location.get("latitude")),
            "longitude": as_float(location.get("longitude")),
            "name": as_text(venue.get("title")),
            "address": as_text(venue.get("address")),
        }
    location = message.get("location")
    if isinstance(location, dict):
        return {
            "type": "location",
            "latitude": as_float(location.get("latitude")),
            "longitude": as_float(location.get("longitude")),
        }
    contact = message.get("contact")
    if isinstance(contact, dict):
        return {"type": "contacts", "contacts": (_shared_contact(contact),)}
    web_app = message.get("web_app_data")
    if isinstance(web_app, dict):
        return _web_app_data(web_app)
    for key in _SERVICE_KEYS:
        if key in message:
            return {"type": "system", "event": key, "text": _service_text(message[key])}
    others = [key for key in message if key not in _ENVELOPE_KEYS]
    if others:
        # poll, dice, game, invoice, story, giveaway, successful_payment, ...: kept unsupported.
        return {"type": "unsupported", "provider_type": others[0], "reason": "message kind not rendered"}
    if caption is not None:
        return {"type": "text", "text": caption}
    return {"type": "unsupported", "provider_type": "message", "reason": "message without content"}


def _shared_contact(contact: dict[str, Any]) -> dict[str, Any]:
    """A SharedContact's fields."""
    name = " ".join(
        part for part in (as_text(contact.get("first_name")), as_text(contact.get("last_name"))) if part
    )
    phone = as_text(contact.get("phone_number"))
    return {
        "name": name or phone or "",
        "phones": (phone,) if phone else (),
        "user_id": as_id(contact.get("user_id")),
    }


def _web_app_data(web_app: dict[str, Any]) -> Content:
    # web_app_data {data, button_text}: what a Mini App sent with sendData from a keyboard button;
    # the data is a string, often JSON, kept as it came and parsed when it is a JSON object.
    data = as_text(web_app.get("data"))
    response: dict[str, Any] | None = None
    if data:
        try:
            parsed = json.loads(data)
        except (ValueError, RecursionError):
            parsed = None
        response = parsed if isinstance(parsed, dict) else None
    return {
        "type": "choice",
        "choice": "flow",
        "title": as_text(web_app.get("button_text")),
        "payload": data,
        "response": response,
    }


def _service_text(value: object) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)  # new_chat_title, migrate_to_chat_id (kept exact: ids exceed 32 bits)
    if isinstance(value, list):
        names = [as_text(as_dict(v).get("first_name")) for v in value]
        return ", ".join(n for n in names if n) or None
    if isinstance(value, dict):
        return as_text(value.get("first_name")) or as_text(value.get("title"))
    return None


# --- outbound ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorRule:
    """One row of :data:`TELEGRAM_ERRORS`: an ``error_code`` (and, when set, a fragment of the
    lower-cased ``description``) -> whether retrying can help, a reason for agents, a health flag."""

    code: int
    fragment: str
    transient: bool
    reason: str
    health: str | None = None


# The one table of Bot API errors (Bot API, "Making requests": ok=false, error_code, description,
# parameters {retry_after, migrate_to_chat_id}). First matching row wins; unknown codes are
# transient from 500 on, permanent below.
TELEGRAM_ERRORS: tuple[ErrorRule, ...] = (
    ErrorRule(429, "", True, "Telegram's flood control: retrying after the delay it asked for."),
    ErrorRule(403, "blocked by the user", False, "The customer blocked the bot."),
    ErrorRule(403, "kicked", False, "The bot was removed from this chat."),
    ErrorRule(403, "deactivated", False, "The customer's Telegram account was deleted."),
    ErrorRule(403, "not a member", False, "The bot is not a member of this chat."),
    ErrorRule(403, "", False, "Telegram forbids the bot to write to this chat."),
    ErrorRule(
        400,
        "upgraded to a supergroup",
        False,
        "The group became a supergroup with a new chat id: the conversation must move to it.",
    ),
    ErrorRule(400, "chat not found", False, "Telegram does not know this chat (the bot was never started?)."),
    ErrorRule(400, "message to be replied not found", False, "The quoted message no longer exists."),
    ErrorRule(400, "message is too long", False, "The text is longer than Telegram allows (4096)."),
    ErrorRule(400, "", False, "Telegram refused the request as invalid."),
    ErrorRule(401, "", False, "Telegram refused the bot token: it was revoked or is wrong.", "token_expired"),
    ErrorRule(404, "", False, "Telegram does not know this method or bot token.", "token_expired"),
    ErrorRule(409, "", False, "The request conflicts with the bot's other webhook or polling."),
    ErrorRule(413, "", False, "The file is too large for Telegram."),
    ErrorRule(500, "", True, "Telegram had an internal error."),
    ErrorRule(502, "", True, "Telegram's gateway failed."),
    ErrorRule(503, "", True, "Telegram is temporarily unavailable."),
    ErrorRule(504, "", True, "Telegram's gateway timed out."),
)


def provider_error(
    http_status: int | None, body: Any, headers: Mapping[str, str] | None = None
) -> ProviderError:
    """Turn a Bot API error answer into a ProviderError: by ``error_code`` first (the HTTP status
    may differ: a published mock serves ``error_code`` 400 with HTTP 403), HTTP status second."""
    body = body if isinstance(body, dict) else {}
    raw_code = body.get("error_code")
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else http_status
    description = as_text(body.get("description")) or (f"HTTP {http_status}" if http_status else "no answer")
    lowered = description.lower()
    parameters = as_dict(body.get("parameters"))
    rule = next(
        (r for r in TELEGRAM_ERRORS if r.code == code and (not r.fragment or r.fragment in lowered)), None
    )
    if rule is not None:
        transient, reason, health = rule.transient, rule.reason, rule.health
    else:
        transient, reason, health = code is None or code >= 500, description, None
    retry_after = as_float(parameters.get("retry_after"))
    if retry_after is None and headers is not None:
        retry_after = as_float(header(headers, "Retry-After"))
    detail = description
    migrated = as_id(parameters.get("migrate_to_chat_id"))
    if migrated is not None:
        # The group was upgraded to a supergroup: the old id is dead, the new one is here.
        transient = False
        reason = f"The group moved to a new chat id ({migrated}): the conversation must move to it."
        detail = f"{description} (migrate_to_chat_id: {migrated})"
    return ProviderError(
        f"{reason} (Telegram error {code})",
        channel=KIND,
        code=None if code is None else str(code),
        http_status=http_status,
        transient=transient,
        retry_after=retry_after if transient else None,
        health=health,
        detail=detail[:500],
    )


def _unreachable(exc: Exception) -> ProviderError:
    # Only the exception's class name: its text holds the URL, which holds the bot token.
    return ProviderError(
        f"Telegram API unreachable: {type(exc).__name__}",
        channel=KIND,
        code=None,
        http_status=None,
        transient=True,
    )


def call(account: ChannelAccount, method: str, payload: dict[str, Any], timeout: float) -> Any:
    """``POST {base}/bot<token>/<method>`` with a JSON body; return ``result`` or raise
    ProviderError (transient for timeouts, connection errors, 429 and 5xx)."""
    import requests

    url = f"{account.base_url.rstrip('/')}/bot{account.token}/{method}"
    try:
        response = requests.post(url, json=payload, timeout=timeout)
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise _unreachable(exc) from None
    except requests.RequestException as exc:
        raise _unreachable(exc) from None
    return _result(response)


def _result(response: requests.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("ok") is True and response.status_code < 400:
        return body.get("result")
    if not isinstance(body, dict) and response.status_code < 400:
        # A 2xx that is not the Bot API's envelope: the message may have gone out; do not resend.
        raise ProviderError(
            "Telegram answered without its JSON envelope",
            channel=KIND,
            code="invalid_response",
            http_status=response.status_code,
            transient=False,
        )
    raise provider_error(response.status_code, body, response.headers)


def _chat_id(recipient: str) -> int | str:
    """A chat id as the Bot API documents it: Integer, or String for ``@channelusername``."""
    return int(recipient) if _CHAT_ID.fullmatch(recipient) else recipient


def _telegram_message_id(provider_id: str | None) -> int | None:
    """The Telegram ``message_id`` inside our ``"<chat id>:<message id>"`` provider id."""
    if not provider_id:
        return None
    tail = provider_id.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _permanent(reason: str, code: str = "unsupported") -> ProviderError:
    return ProviderError(reason, channel=KIND, code=code, http_status=None, transient=False)


# OutboundMessage.type -> (Bot API method, the parameter carrying the file URL)
_MEDIA_METHODS = {
    "image": ("sendPhoto", "photo"),
    "document": ("sendDocument", "document"),
    "audio": ("sendAudio", "audio"),
    "video": ("sendVideo", "video"),
}


def request_for(recipient: str, message: OutboundMessage) -> tuple[str, dict[str, Any]] | None:
    """The Bot API method and JSON body for ``message`` (None: nothing to call, e.g. mark_read).
    Raises a permanent ProviderError for what Telegram cannot do (templates)."""
    chat_id = _chat_id(recipient)
    if message.type == "mark_read":
        return None  # bots cannot send read receipts on Telegram
    if message.type == "typing":
        # sendChatAction: the status shows for 5 seconds or until the bot's next message.
        return "sendChatAction", {"chat_id": chat_id, "action": "typing"}
    if message.type == "answer_callback":
        if not message.reply_to:
            raise _permanent("answering a button press needs its callback query id", code="invalid_request")
        return "answerCallbackQuery", {"callback_query_id": message.reply_to}
    if message.type == "template":
        raise _permanent("templates are WhatsApp only")
    if message.type == "reaction":
        target = _telegram_message_id(message.reply_to)
        if target is None:
            raise _permanent("a reaction needs the Telegram message it reacts to", code="invalid_request")
        # setMessageReaction: an empty list removes the bot's reaction.
        reaction = [{"type": "emoji", "emoji": message.emoji}] if message.emoji else []
        return "setMessageReaction", {"chat_id": chat_id, "message_id": target, "reaction": reaction}
    payload: dict[str, Any] = {"chat_id": chat_id}
    if message.type == "rating" and message.rating:
        # An inline keyboard, one button a row; a press comes back as a callback_query whose data
        # is the button's callback_data (1-64 bytes).
        return "sendMessage", {
            "chat_id": chat_id,
            "text": message.text,
            "reply_markup": {
                "inline_keyboard": [
                    [{"text": choice.title, "callback_data": choice.payload}]
                    for choice in message.rating.choices
                ]
            },
        }
    if message.type == "text":
        if not message.text:
            raise _permanent("a text message needs text", code="invalid_request")
        method = "sendMessage"
        payload["text"] = message.text
    elif message.type in _MEDIA_METHODS and message.attachments:
        method, _field = _upload_method(message)  # the file itself travels as multipart (_upload)
        if message.caption:
            payload["caption"] = message.caption
    elif message.type in _MEDIA_METHODS:
        if not message.media_url:
            raise _permanent(f"a {message.type} message needs media_url", code="invalid_request")
        method, field = _MEDIA_METHODS[message.type]
        payload[field] = message.media_url  # Telegram downloads it (HTTP URL, up to 20 MB)
        if message.caption:
            payload["caption"] = message.caption
    else:  # pragma: no cover - OutboundMessage.type is a closed set
        raise _permanent(f"{message.type} messages cannot be sent on Telegram")
    reply_to = _telegram_message_id(message.reply_to)
    if reply_to is not None:
        # reply_parameters (Bot API 7.0+) replaces reply_to_message_id; a vanished original must
        # not make the answer fail.
        payload["reply_parameters"] = {"message_id": reply_to, "allow_sending_without_reply": True}
    return method, payload


def _upload_method(message: OutboundMessage) -> tuple[str, str]:
    """The Bot API method and file field for an uploaded attachment: audio is a voice note
    (sendVoice takes OGG Opus, MP3 and M4A), the rest as for a URL."""
    if message.type == "audio":
        return "sendVoice", "voice"
    return _MEDIA_METHODS[message.type]


def _upload(
    account: ChannelAccount, method: str, payload: dict[str, Any], message: OutboundMessage, timeout: float
) -> Any:
    """``POST {base}/bot<token>/<method>`` as multipart/form-data with the file from the media
    bucket (Bot API "Sending files": photos up to 10 MB, other files up to 50 MB); objects
    (``reply_parameters``) travel JSON-encoded, as the Bot API reads form fields."""
    import requests

    from shared.channels import outbound_media

    media = message.attachments[0]
    _method, field = _upload_method(message)
    data = outbound_media.read(KIND, media)
    form = {k: json.dumps(v) if isinstance(v, dict | list) else str(v) for k, v in payload.items()}
    url = f"{account.base_url.rstrip('/')}/bot{account.token}/{method}"
    try:
        response = requests.post(
            url,
            data=form,
            files={field: (outbound_media.file_name(media), data, media.content_type)},
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise _unreachable(exc) from None
    return _result(response)


def send_message(
    account: ChannelAccount, recipient: str, message: OutboundMessage, timeout: float
) -> SendResult:
    """Deliver ``message`` to chat ``recipient``; the provider message id is ``"<chat>:<id>"``."""
    request = request_for(recipient, message)
    if request is None:
        return SendResult(provider_message_id=None)
    method, payload = request
    if message.attachments:
        result = _upload(account, method, payload, message, timeout)
    else:
        result = call(account, method, payload, timeout)
    if not isinstance(result, dict):
        return SendResult(provider_message_id=None, response={"result": result})  # setMessageReaction: true
    message_id = as_id(result.get("message_id"))
    chat_id = as_id(as_dict(result.get("chat")).get("id")) or recipient
    return SendResult(provider_message_id=f"{chat_id}:{message_id}" if message_id else None, response=result)


def set_webhook(
    account: ChannelAccount,
    url: str,
    secret_token: str,
    timeout: float,
    *,
    allowed_updates: tuple[str, ...] = ALLOWED_UPDATES,
) -> Any:
    """Register ``url`` (see :func:`webhook_url`) as the bot's webhook with ``secret_token`` (see
    :func:`telegram_secret_token`) and the update kinds Switchboard handles (setWebhook)."""
    if not _SECRET_TOKEN.fullmatch(secret_token):
        raise ValueError("a Telegram secret_token is 1-256 characters of A-Z, a-z, 0-9, _ and -")
    payload = {"url": url, "secret_token": secret_token, "allowed_updates": list(allowed_updates)}
    return call(account, "setWebhook", payload, timeout)
