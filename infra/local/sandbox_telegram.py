"""Telegram's Bot API in the provider sandbox: ``POST /bot<token>/<method>``.

Served methods: getMe, sendMessage, sendPhoto, sendDocument, sendAudio, sendVideo, answerCallbackQuery,
sendChatAction, setMessageReaction, setWebhook, deleteWebhook and getWebhookInfo (method names are
case-insensitive, as in the Bot API). Parameters come as JSON, as a form (arrays and objects
JSON-encoded in a field) or in the query string. Sources for the shapes below (Bot API reference,
core.telegram.org/bots/api):

- "Making requests": every answer is ``{"ok": true, "result": ...}`` or ``{"ok": false,
  "error_code", "description", "parameters"?}``; ``parameters`` carries ``retry_after`` (flood
  control, 429) or ``migrate_to_chat_id`` (a group upgraded to a supergroup). A wrong token answers
  401 ``Unauthorized``; an unknown method 404 ``Not Found``.
- The ``Message`` object (message_id unique within its chat, ``from`` the bot, ``chat``, ``date``,
  then ``text`` / ``photo`` [PhotoSize...] / ``document`` / ``audio`` / ``video`` and ``caption``);
  text up to 4096 characters, captions up to 1024; ``reply_parameters`` / ``reply_to_message_id``.
- setMessageReaction: ``reaction`` is a list of ReactionType (``emoji`` or ``custom_emoji``); a bot
  sets at most one; the empty list removes it; the answer is ``true``.
- setWebhook: an HTTPS ``url`` (empty removes the webhook), ``secret_token`` of 1-256 characters
  of ``A-Za-z0-9_-``, ``allowed_updates`` an array of update kinds.
- Real published answers in ``shared/fixtures/providers/telegram/out-*.json``.

Telegram sends no delivery or read receipts to bots: :meth:`TelegramBotApi.receipts` is empty.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import string
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.local import sandbox_multipart as multipart
from infra.local.sandbox_multipart import UploadedFile
from infra.local.sandbox_types import (
    Account,
    AccountBook,
    Call,
    ReceiptTiming,
    Reply,
    Route,
    ScheduledWebhook,
    SentMessage,
)
from infra.local.sandbox_uploads import StoredUpload, UploadBook, telegram_upload_problem

__all__ = ["BotApiError", "TelegramBotApi"]

TELEGRAM = "telegram"
_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)/?$")
_CHAT_ID = re.compile(r"-?\d{1,20}")
_USERNAME = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_FILE_ID = re.compile(r"[A-Za-z0-9_-]{20,}")
MAX_TEXT = 4096
MAX_CAPTION = 1024
UPDATE_KINDS = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction",
        "message_reaction_count",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
# sendX method -> (the parameter carrying the file, MIME type of the file the sandbox pretends to get)
# sendChatAction's documented actions (Bot API reference, sendChatAction).
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_MEDIA_METHODS = {
    "sendphoto": ("photo", "image/jpeg"),
    "senddocument": ("document", "application/octet-stream"),
    "sendaudio": ("audio", "audio/mpeg"),
    "sendvideo": ("video", "video/mp4"),
    "sendvoice": ("voice", "audio/ogg"),
}


@dataclass
class BotApiError(Exception):
    """An ``ok: false`` answer raised inside a handler."""

    code: int
    description: str
    parameters: dict[str, Any] | None = None

    def reply(self, http_status: int | None = None) -> Reply:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return Reply(http_status if http_status is not None else self.code, body)


def _bad(description: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {description}")


# fail_next codes -> description. "migrate" is a 400 carrying parameters.migrate_to_chat_id.
_ERRORS: dict[int, str] = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
MIGRATE = "migrate"
DEFAULT_RETRY_AFTER = 3


def _params(call: Call) -> dict[str, Any]:
    """Query string, then form fields (JSON-decoded when they hold an array or object), then a JSON
    body: the Bot API accepts all three."""
    params: dict[str, Any] = {k: v[-1] for k, v in call.query.items() if v}
    if call.form is not None:
        for key, values in call.form.items():
            value: Any = values[-1]
            try:
                decoded = json.loads(value)
            except ValueError:
                decoded = None
            params[key] = decoded if isinstance(decoded, dict | list) else value
    if isinstance(call.json, dict):
        params.update(call.json)
    return params


def _form_value(value: str) -> Any:
    """A form field as the Bot API reads it: a JSON array or object is decoded, the rest is text."""
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, dict | list) else value


def _file_id() -> str:
    alphabet = string.ascii_letters + string.digits + "-_"
    return "AgAC" + "".join(secrets.choice(alphabet) for _ in range(64))


class TelegramBotApi:
    """The Bot API methods Switchboard calls, for every bot registered on channel ``telegram``
    (``register_account("telegram", <bot id>, <bot token>, username=..., first_name=...)``)."""

    name = "telegram-bot-api"
    channels: tuple[str, ...] = (TELEGRAM,)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ids: dict[tuple[str, int | str], int] = {}
        self._answered: set[tuple[str, str]] = set()  # (bot id, callback query id)
        self._webhooks: dict[str, dict[str, Any]] = {}
        self.uploads = UploadBook()  # files sent as multipart/form-data

    def webhook(self, bot_id: str) -> dict[str, Any] | None:
        """What setWebhook last registered for ``bot_id`` (None: no webhook)."""
        with self._lock:
            hook = self._webhooks.get(bot_id)
            return dict(hook) if hook else None

    # -- routing -----------------------------------------------------------------------------------

    def route(self, call: Call, accounts: AccountBook) -> Route | None:
        """Claim every ``/bot<token>/<method>`` call (whether the token is known is decided later)."""
        match = _PATH.match(call.path)
        if match is None or call.method not in {"GET", "POST"}:
            return None
        return Route(channel=TELEGRAM, params={"token": match["token"], "method": match["method"]})

    # -- answering ---------------------------------------------------------------------------------

    def handle(self, route: Route, call: Call, accounts: AccountBook) -> Reply:
        """Authenticate the token, validate the method's parameters and answer as the Bot API does."""
        found = accounts.by_token(urllib.parse.unquote(route.params["token"]), [TELEGRAM])
        if not found:
            return BotApiError(401, "Unauthorized").reply()
        account = found[0]
        method = route.params["method"].lower()
        params = _params(call)
        fields, files = multipart.parse(call)
        for key, values in fields.items():
            params[key] = _form_value(values[-1])
        try:
            if method == "getme":
                return Reply(200, {"ok": True, "result": self._bot_user(account, full=True)})
            if method == "sendmessage":
                return self._send(account, params, "text")
            if method in _MEDIA_METHODS:
                return self._send(account, params, method, files)
            if method == "setmessagereaction":
                return self._set_reaction(params)
            if method == "answercallbackquery":
                return self._answer_callback(account, params)
            if method == "sendchataction":
                return self._chat_action(params)
            if method == "setwebhook":
                return self._set_webhook(account, params)
            if method == "deletewebhook":  # "Webhook was deleted" (or "...is already deleted")
                with self._lock:
                    existed = self._webhooks.pop(account.account_id, None) is not None
                description = "Webhook was deleted" if existed else "Webhook is already deleted"
                return Reply(200, {"ok": True, "result": True, "description": description})
            if method == "getwebhookinfo":
                return Reply(200, {"ok": True, "result": self._webhook_info(account)})
        except BotApiError as error:
            return error.reply()
        return BotApiError(404, "Not Found").reply()

    def _chat_action(self, params: Mapping[str, Any]) -> Reply:
        """sendChatAction: ``chat_id`` and ``action``, one of the documented actions; ``true``. The
        status shows for 5 seconds or until the bot's next message."""
        self._chat(params)
        action = params.get("action")
        if action in (None, ""):
            raise _bad("action is empty")
        if action not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return Reply(200, {"ok": True, "result": True})

    def _answer_callback(self, account: Account, params: Mapping[str, Any]) -> Reply:
        """answerCallbackQuery: ``callback_query_id`` (String) required; ``text`` up to 200 characters;
        a query answered already (or never issued: ids are opaque here) is "too old"."""
        query_id = params.get("callback_query_id")
        if not isinstance(query_id, str | int) or isinstance(query_id, bool) or str(query_id).strip() == "":
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        text = params.get("text")
        if text is not None and (not isinstance(text, str) or len(text) > 200):
            raise _bad("MESSAGE_TOO_LONG")
        key = (account.account_id, str(query_id))
        with self._lock:
            if key in self._answered:
                raise _bad("query is too old and response timeout expired or query ID is invalid")
            self._answered.add(key)
        return Reply(200, {"ok": True, "result": True})

    @staticmethod
    def _bot_user(account: Account, *, full: bool = False) -> dict[str, Any]:
        bot_id = int(account.account_id) if _CHAT_ID.fullmatch(account.account_id) else account.account_id
        user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": account.details.get("first_name", "Switchboard Sandbox"),
            "username": account.details.get("username", f"sandbox{account.account_id}_bot"),
        }
        if full:
            user |= {
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
                "can_connect_to_business": False,
                "has_main_web_app": False,
            }
        return user

    @staticmethod
    def _chat(params: Mapping[str, Any]) -> dict[str, Any]:
        """The Chat a ``chat_id`` names: private (positive ids), supergroup (``-100...``), group
        (other negative ids) or a channel by ``@username``."""
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise _bad("chat not found")
        text = str(raw).strip()
        if _USERNAME.fullmatch(text):
            return {
                "id": -(10**12) - int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) % 10**10,
                "title": text[1:],
                "username": text[1:],
                "type": "channel",
            }
        if not _CHAT_ID.fullmatch(text) or int(text) == 0:
            raise _bad("chat not found")
        chat_id = int(text)
        if chat_id > 0:
            return {"id": chat_id, "first_name": "Sandbox", "last_name": "Customer", "type": "private"}
        if text.startswith("-100"):
            return {"id": chat_id, "title": "Sandbox supergroup", "type": "supergroup"}
        return {
            "id": chat_id,
            "title": "Sandbox group",
            "type": "group",
            "all_members_are_administrators": True,
        }

    @staticmethod
    def _message_id(params: Mapping[str, Any], key: str = "message_id") -> int:
        value = params.get(key)
        if value is None or value == "":
            raise _bad("message identifier is not specified")
        text = str(value)
        if isinstance(value, bool) or not text.isdigit() or int(text) <= 0:
            raise _bad("message identifier is not specified")
        return int(text)

    def _next_id(self, account: Account, chat_id: int | str) -> int:
        key = (account.account_id, chat_id)
        with self._lock:
            # Message ids count up within each chat; start where a lived-in chat would be.
            last = self._last_ids.get(key)
            if last is None:
                last = 100 + secrets.randbelow(5000)
            self._last_ids[key] = last + 1
            return last + 1

    def _send(
        self,
        account: Account,
        params: Mapping[str, Any],
        method: str,
        files: Mapping[str, UploadedFile] | None = None,
    ) -> Reply:
        chat = self._chat(params)
        message: dict[str, Any] = {}
        if method == "text":
            text = params.get("text")
            if not isinstance(text, str) or not text.strip():
                raise _bad("message text is empty")
            if len(text) > MAX_TEXT:
                raise _bad("message is too long")
            message["text"] = text
            kind = "text"
        else:
            field, mime = _MEDIA_METHODS[method]
            source = params.get(field)
            uploaded = (files or {}).get(field)
            if isinstance(source, str) and source.startswith("attach://"):
                uploaded = (files or {}).get(source[len("attach://") :])
                if uploaded is None:
                    raise _bad(f"can't find attached file {source[len('attach://') :]}")
            if uploaded is not None:
                problem = telegram_upload_problem(method, uploaded)
                if problem is not None:
                    raise BotApiError(*problem)
                mime = uploaded.content_type or mime
                source = uploaded.filename or "file"
                self.uploads.add(
                    StoredUpload(
                        channel=TELEGRAM,
                        account_id=account.account_id,
                        media_id="",
                        method=method,
                        field=field,
                        filename=uploaded.filename,
                        content_type=uploaded.content_type,
                        data=uploaded.data,
                    )
                )
            elif source is None or source == "":
                raise _bad(f"there is no {field} in the request")
            elif not isinstance(source, str) or not (
                re.match(r"^https?://[^\s/]+", source) or _FILE_ID.fullmatch(source)
            ):
                raise _bad("wrong file identifier/HTTP URL specified")
            caption = params.get("caption")
            if caption is not None:
                if not isinstance(caption, str):
                    raise _bad("can't parse caption")
                if len(caption) > MAX_CAPTION:
                    raise _bad("message caption is too long")
            message.update(self._media(field, mime, source))
            if caption:
                message["caption"] = caption
            kind = field
        markup = params.get("reply_markup")
        if markup is not None:
            message["reply_markup"] = self._check_reply_markup(markup)
        reply_to = self._reply_to(params)
        message_id = self._next_id(account, chat["id"])
        result: dict[str, Any] = {
            "message_id": message_id,
            "from": self._bot_user(account),
            "chat": chat,
            "date": int(time.time()),
        }
        if reply_to is not None:
            result["reply_to_message"] = {"message_id": reply_to, "chat": chat, "date": int(time.time()) - 60}
        result.update(message)
        sent = SentMessage(
            channel=TELEGRAM,
            account=account,
            recipient=str(chat["id"]),
            message_id=f"{chat['id']}:{message_id}",
            kind=kind,
            sent_at=time.time(),
        )
        return Reply(200, {"ok": True, "result": result}, sent=sent)

    @staticmethod
    def _check_reply_markup(markup: Any) -> dict[str, Any]:
        """An inline keyboard as the Bot API checks it (InlineKeyboardMarkup): rows of buttons,
        each with a non-empty ``text`` and one action; ``callback_data`` of 1-64 bytes
        (``BUTTON_DATA_INVALID`` otherwise); at most 100 buttons. Other keyboards pass through."""
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        keyboard = markup.get("inline_keyboard")
        if keyboard is None:
            return markup
        if not isinstance(keyboard, list) or not all(isinstance(row, list) for row in keyboard):
            raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
        buttons = [button for row in keyboard for button in row]
        if len(buttons) > 100:
            raise _bad("too many inline keyboard buttons")  # the Bot API's limit: 100 buttons
        actions = ("url", "callback_data", "web_app", "login_url", "switch_inline_query", "pay")
        for button in buttons:
            if not isinstance(button, dict):
                raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
            text = button.get("text")
            if not isinstance(text, str) or not text.strip():
                raise _bad("can't parse inline keyboard button: Text must be non-empty")
            if not any(key in button for key in actions):
                raise _bad(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and (not isinstance(data, str) or not 1 <= len(data.encode()) <= 64):
                raise _bad("BUTTON_DATA_INVALID")
        return markup

    def _reply_to(self, params: Mapping[str, Any]) -> int | None:
        parameters = params.get("reply_parameters")
        if parameters is not None:
            if not isinstance(parameters, dict):
                raise _bad("can't parse reply parameters JSON object")
            return self._message_id(parameters)
        if params.get("reply_to_message_id") not in (None, ""):
            return self._message_id(params, "reply_to_message_id")
        return None

    @staticmethod
    def _media(field: str, mime: str, source: str) -> dict[str, Any]:
        size = 10_000 + secrets.randbelow(500_000)
        file = {"file_id": _file_id(), "file_unique_id": secrets.token_urlsafe(12)[:15], "file_size": size}
        if field == "photo":
            # Telegram answers every resolution it made of the photo, smallest first.
            sizes = [(90, 67), (320, 240), (800, 600), (1280, 960)]
            return {
                "photo": [
                    {**file, "file_id": _file_id(), "width": w, "height": h, "file_size": size * w // 1280}
                    for w, h in sizes
                ]
            }
        name = urllib.parse.unquote(urllib.parse.urlsplit(source).path.rsplit("/", 1)[-1]) or "file"
        if field == "document":
            return {"document": {**file, "file_name": name, "mime_type": mime}}
        if field == "audio":
            return {"audio": {**file, "duration": 30, "file_name": name, "mime_type": mime}}
        if field == "voice":
            return {"voice": {**file, "duration": 7, "mime_type": mime}}
        return {"video": {**file, "width": 1280, "height": 720, "duration": 10, "mime_type": mime}}

    def _set_reaction(self, params: Mapping[str, Any]) -> Reply:
        self._chat(params)
        self._message_id(params)
        reaction = params.get("reaction", [])
        if not isinstance(reaction, list):
            raise _bad("can't parse reaction types JSON object")
        if len(reaction) > 1:
            raise _bad("REACTIONS_TOO_MANY")
        for item in reaction:
            kind = item.get("type") if isinstance(item, dict) else None
            if kind == "emoji" and isinstance(item.get("emoji"), str) and item["emoji"]:
                continue
            if kind == "custom_emoji" and str(item.get("custom_emoji_id") or "").isdigit():
                continue
            raise _bad("REACTION_INVALID")
        return Reply(200, {"ok": True, "result": True})

    def _set_webhook(self, account: Account, params: Mapping[str, Any]) -> Reply:
        url = params.get("url", "")
        if not isinstance(url, str):
            raise _bad("bad webhook: Failed to resolve host: Name or service not known")
        if url == "":
            with self._lock:
                self._webhooks.pop(account.account_id, None)
            return Reply(200, {"ok": True, "result": True, "description": "Webhook was deleted"})
        split = urllib.parse.urlsplit(url)
        local = split.hostname in {"127.0.0.1", "localhost", "::1"}
        # Telegram demands HTTPS; the sandbox also lets local http:// through for the dev stack.
        if not split.hostname or (split.scheme != "https" and not (local and split.scheme == "http")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret_token = params.get("secret_token")
        if secret_token is not None and (
            not isinstance(secret_token, str) or not _SECRET_TOKEN.fullmatch(secret_token)
        ):
            raise _bad("secret token contains unallowed characters")
        allowed = params.get("allowed_updates")
        if allowed is not None and (
            not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed)
        ):
            raise _bad("can't parse allowed updates")
        hook = {
            "url": url,
            "secret_token": secret_token,
            "allowed_updates": [a for a in allowed or [] if a in UPDATE_KINDS],
        }
        with self._lock:
            self._webhooks[account.account_id] = hook
        return Reply(200, {"ok": True, "result": True, "description": "Webhook was set"})

    def _webhook_info(self, account: Account) -> dict[str, Any]:
        hook = self.webhook(account.account_id)
        if hook is None:
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        info: dict[str, Any] = {
            "url": hook["url"],
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }
        if hook["allowed_updates"]:
            info["allowed_updates"] = hook["allowed_updates"]
        return info

    # -- injected errors ---------------------------------------------------------------------------

    def error_reply(
        self,
        channel: str,
        code: int | str,
        *,
        http_status: int | None,
        subcode: int | None,
        retry_after: int | None,
    ) -> Reply:
        """The Bot API's error answer for ``code`` (429 always carries ``parameters.retry_after``;
        ``"migrate"`` is a 400 with ``parameters.migrate_to_chat_id``)."""
        if code == MIGRATE:
            new_id = -(10**12) - secrets.randbelow(10**10)  # supergroup ids are -100xxxxxxxxxx
            error = BotApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": new_id},
            )
            return error.reply(http_status)
        number = int(code)
        if number == 429:
            wait = retry_after if retry_after is not None else DEFAULT_RETRY_AFTER
            error = BotApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        elif number in _ERRORS:
            error = BotApiError(number, _ERRORS[number])
        elif 400 <= number < 600:
            error = BotApiError(number, f"Error {number} injected by the provider sandbox")
        else:
            raise ValueError(f"Telegram error codes are HTTP-like (400-599), not {number}")
        return error.reply(http_status)

    # -- receipts ----------------------------------------------------------------------------------

    def receipts(
        self, sent: SentMessage, *, url: str, secret: str, timing: ReceiptTiming
    ) -> list[ScheduledWebhook]:
        """None: Telegram tells bots neither delivery nor reading."""
        return []
