"""The providers' media downloads in the sandbox: how a customer's photo, voice note or file is
fetched back from each provider, the way the real APIs serve it.

- WhatsApp Cloud API: ``GET /v{N}/{media-id}`` with the number's bearer token answers
  ``{messaging_product, url, mime_type, sha256, file_size, id}``; the ``url`` (valid 5 minutes)
  is downloaded with the same bearer token (401 without it). An unknown or deleted id answers
  Graph error 100 ("Unsupported get request"), HTTP 400.
- Messenger / Instagram: attachment URLs are signed CDN URLs that expire (``oe`` = hex expiry):
  ``GET /meta-cdn/{id}/{name}?oe=..&oh=..``; after expiry ``403 URL signature expired``.
- Telegram Bot API: ``getFile`` (``file_id``) answers ``{file_id, file_unique_id, file_size,
  file_path}`` ("file is too big" over 20 MB, "invalid file_id" for an unknown one); the file is
  ``GET /file/bot<token>/<file_path>``.
- Twilio: ``GET /2010-04-01/Accounts/{AC}/Messages/{MM}/Media/{ME}`` with HTTP basic auth (account
  SID, auth token) answers a 307 redirect to the media's short-lived CDN URL; deleted media 404.

Tests put files in with :meth:`MediaStore.add` (``sandbox.media.add(...)``), which returns what the
provider's webhook would carry (media id, file_id, URL), and can expire or delete them.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from infra.local.sandbox_types import AccountBook, Call, Reply, Route, ScheduledWebhook, SentMessage

TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024  # Bot API: bots download files of at most 20 MB
WHATSAPP_URL_SECONDS = 300

_WA_MEDIA = re.compile(r"^/v(?P<version>\d+\.\d+)/(?P<id>\d{6,})/?$")
_WA_DOWNLOAD = re.compile(r"^/whatsapp-media/(?P<id>\d+)$")
_META_CDN = re.compile(r"^/meta-cdn/(?P<id>[A-Za-z0-9_-]+)/[^/]+$")
_TG_GETFILE = re.compile(r"^/bot(?P<token>[^/]+)/getFile$", re.IGNORECASE)
_TG_FILE = re.compile(r"^/file/bot(?P<token>[^/]+)/(?P<path>.+)$")
_TWILIO_MEDIA = re.compile(
    r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/Messages/(?P<mm>\w+)/Media/(?P<me>ME\w+?)(?:\.json)?$"
)
_TWILIO_CDN = re.compile(r"^/twilio-cdn/(?P<me>ME\w+)$")


def _page_token(call: Call, accounts: AccountBook) -> bool:
    """Whether ``GET /{id}`` is the User Profile API's (sandbox_meta): no WhatsApp token, and a
    Messenger/Instagram token or a ``fields`` list (what a profile lookup always sends)."""
    value = call.headers.get("authorization", "")
    token = value[7:].strip() if value.lower().startswith("bearer ") else ""
    token = token or (call.query.get("access_token") or [""])[0]
    if token and accounts.by_token(token, ["whatsapp"]):
        return False
    return bool(call.query.get("fields")) or bool(
        token and accounts.by_token(token, ["messenger", "instagram"])
    )


@dataclass
class MediaObject:
    """One file a provider keeps for an account."""

    channel: str
    account_id: str
    media_id: str
    data: bytes
    content_type: str
    file_name: str | None = None
    expires_at: float | None = None  # Meta CDN URLs
    gone: bool = False
    fetches: int = 0
    extra: dict[str, str] = field(default_factory=dict)


class MediaStore:
    """What the sandbox serves, by id; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[str, MediaObject] = {}
        self._numbers = itertools.count(int(time.time()) % 1_000_000 * 1000)
        self.base_url = ""  # set by the sandbox when it starts

    def add(
        self,
        channel: str,
        account_id: str,
        data: bytes,
        content_type: str,
        *,
        file_name: str | None = None,
        ttl: float | None = None,
    ) -> dict[str, Any]:
        """Keep a file for ``account_id`` on ``channel``; return what a webhook names it by:
        ``{"media_id"}`` (WhatsApp), ``{"file_id", "file_unique_id"}`` (Telegram), ``{"url"}``
        (Messenger/Instagram: expires after ``ttl`` seconds, an hour by default; Twilio:
        ``MediaUrl``)."""
        with self._lock:
            number = next(self._numbers)
        if channel == "whatsapp":
            media_id = str(10**15 + number)
        elif channel == "telegram":
            media_id = "AgAC" + secrets.token_urlsafe(24)
        elif channel == "twilio":
            media_id = "ME" + secrets.token_hex(16)
        else:
            media_id = secrets.token_urlsafe(12)
        obj = MediaObject(channel, account_id, media_id, data, content_type, file_name)
        if channel in ("messenger", "instagram"):
            obj.expires_at = time.time() + (3600 if ttl is None else ttl)
        if channel == "twilio":
            obj.extra["message_sid"] = "MM" + secrets.token_hex(16)
        with self._lock:
            self._objects[media_id] = obj
        return self.reference(obj)

    def reference(self, obj: MediaObject) -> dict[str, Any]:
        if obj.channel == "whatsapp":
            return {"media_id": obj.media_id}
        if obj.channel == "telegram":
            return {"file_id": obj.media_id, "file_unique_id": obj.media_id[-12:], "file_size": len(obj.data)}
        if obj.channel == "twilio":
            return {
                "url": f"{self.base_url}/2010-04-01/Accounts/{obj.account_id}/Messages/"
                f"{obj.extra['message_sid']}/Media/{obj.media_id}"
            }
        name = urllib.parse.quote(obj.file_name or "attachment")
        expiry = format(int(obj.expires_at or 0), "x")
        signature = hashlib.sha256(f"{obj.media_id}:{expiry}".encode()).hexdigest()[:32]
        return {"url": f"{self.base_url}/meta-cdn/{obj.media_id}/{name}?_nc_cat=1&oe={expiry}&oh={signature}"}

    def get(self, media_id: str) -> MediaObject | None:
        with self._lock:
            obj = self._objects.get(media_id)
            if obj is not None:
                obj.fetches += 1
            return obj

    def delete(self, media_id: str) -> None:
        """The provider no longer has the file (WhatsApp's 30 days, a deleted Twilio media)."""
        with self._lock:
            if media_id in self._objects:
                self._objects[media_id].gone = True

    def fetches(self, media_id: str) -> int:
        with self._lock:
            obj = self._objects.get(media_id)
            return obj.fetches if obj else 0


def _bytes_reply(obj: MediaObject, extra: dict[str, str] | None = None) -> Reply:
    headers = {"Content-Type": obj.content_type, **(extra or {})}
    return Reply(200, obj.data, headers)


def _graph_error(status: int, code: int, message: str, subcode: int | None = None) -> Reply:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "sandbox",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return Reply(status, {"error": error})


class ProviderMediaApi:
    """The sandbox's media downloads for every channel (listed first in ``default_apis``: it claims
    only its own paths, and Telegram's ``getFile``)."""

    name = "media"
    channels: tuple[str, ...] = ()

    def __init__(self, store: MediaStore | None = None) -> None:
        self.store = store or MediaStore()

    def route(self, call: Call, accounts: AccountBook) -> Route | None:
        if call.method not in ("GET", "POST", "HEAD"):
            return None
        for name, pattern, channel in (
            ("wa_media", _WA_MEDIA, "whatsapp"),
            ("wa_download", _WA_DOWNLOAD, "whatsapp"),
            ("meta_cdn", _META_CDN, None),
            ("tg_getfile", _TG_GETFILE, "telegram"),
            ("tg_file", _TG_FILE, "telegram"),
            ("twilio_media", _TWILIO_MEDIA, "twilio"),
            ("twilio_cdn", _TWILIO_CDN, "twilio"),
        ):
            match = pattern.match(call.path)
            if name == "wa_media" and match is not None and accounts.by_id(match["id"]):
                continue  # GET /{id} of a registered Page or number reads the account (sandbox_meta)
            if name == "wa_media" and match is not None and _page_token(call, accounts):
                continue  # GET /{PSID|IGSID} with a Page's token: the User Profile API (sandbox_meta)
            if match is not None and (name == "tg_getfile" or call.method != "POST"):
                return Route(channel=channel, params={"endpoint": name, **match.groupdict()})
        return None

    def handle(self, route: Route, call: Call, accounts: AccountBook) -> Reply:
        endpoint = route.params["endpoint"]
        return getattr(self, f"_{endpoint}")(route, call, accounts)

    # -- WhatsApp ------------------------------------------------------------------------------

    @staticmethod
    def _bearer(call: Call) -> str:
        value = call.headers.get("authorization", "")
        return value[7:].strip() if value.lower().startswith("bearer ") else ""

    def _wa_media(self, route: Route, call: Call, accounts: AccountBook) -> Reply:
        token = self._bearer(call)
        owners = accounts.by_token(token, ["whatsapp"]) if token else []
        if not owners:
            return _graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        obj = self.store.get(route.params["id"])
        if obj is None or obj.gone or obj.channel != "whatsapp":
            return _graph_error(
                400,
                100,
                f"Unsupported get request. Object with ID '{route.params['id']}' does not exist, cannot be "
                "loaded due to missing permissions, or does not support this operation.",
                33,
            )
        if obj.account_id not in {a.account_id for a in owners}:
            return _graph_error(403, 10, "(#10) Application does not have permission for this action")
        host = call.headers.get("host", "127.0.0.1")
        expires = int(time.time()) + WHATSAPP_URL_SECONDS
        url = f"http://{host}/whatsapp-media/{obj.media_id}?ext={expires}&hash={secrets.token_urlsafe(8)}"
        return Reply(
            200,
            {
                "messaging_product": "whatsapp",
                "url": url,
                "mime_type": obj.content_type,
                "sha256": hashlib.sha256(obj.data).hexdigest(),
                "file_size": len(obj.data),
                "id": obj.media_id,
            },
        )

    def _wa_download(self, route: Route, call: Call, accounts: AccountBook) -> Reply:
        token = self._bearer(call)
        if not token or not accounts.by_token(token, ["whatsapp"]):
            return Reply(401, {"error": "unauthorized"})
        expiry = (call.query.get("ext") or ["0"])[0]
        if not expiry.isdigit() or int(expiry) < time.time():
            return Reply(404, {"error": "URL expired"})
        obj = self.store.get(route.params["id"])
        if obj is None or obj.gone:
            return Reply(404, {"error": "not found"})
        return _bytes_reply(obj)

    # -- Messenger / Instagram -----------------------------------------------------------------

    def _meta_cdn(self, route: Route, call: Call, accounts: AccountBook) -> Reply:
        obj = self.store.get(route.params["id"])
        expiry = (call.query.get("oe") or [""])[0]
        signature = (call.query.get("oh") or [""])[0]
        if obj is None or obj.gone:
            return Reply(404, {"error": "not found"})
        expected = hashlib.sha256(f"{obj.media_id}:{expiry}".encode()).hexdigest()[:32]
        if signature != expected:
            return Reply(403, {"error": "Bad URL hash"})
        try:
            expired = int(expiry, 16) < time.time()
        except ValueError:
            expired = True
        if expired:
            return Reply(403, {"error": "URL signature expired"})
        return _bytes_reply(obj)

    # -- Telegram ------------------------------------------------------------------------------

    def _tg_getfile(self, route: Route, call: Call, accounts: AccountBook) -> Reply:
        token = urllib.parse.unquote(route.params["token"])
        bots = accounts.by_token(token, ["telegram"])
        if not bots:
            return Reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        params: dict[str, Any] = {k: v[-1] for k, v in call.query.items()}
        if isinstance(call.json, dict):
            params.update(call.json)
        if call.form:
            params.update({k: v[-1] for k, v in call.form.items()})
        file_id = str(params.get("file_id") or "")
        obj = self.store.get(file_id) if file_id else None
        if obj is None or obj.gone or obj.channel != "telegram":
            return Reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"})
        if len(obj.data) > TELEGRAM_DOWNLOAD_LIMIT:
            return Reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: file is too big"})
        folder = "photos" if obj.content_type.startswith("image/") else "documents"
        extension = {"image/jpeg": ".jpg", "image/png": ".png", "audio/ogg": ".oga"}.get(obj.content_type, "")
        path = f"{folder}/file_{obj.media_id[-8:]}{extension}"
        obj.extra["file_path"] = path
        return Reply(
            200,
            {
                "ok": True,
                "result": {
                    "file_id": obj.media_id,
                    "file_unique_id": obj.media_id[-12:],
                    "file_size": len(obj.data),
                    "file_path": path,
                },
            },
        )

    def _tg_file(self, route: Route, call: Call, accounts: AccountBook) -> Reply:
        token = urllib.parse.unquote(route.params["token"])
        if not accounts.by_token(token, ["telegram"]):
            return Reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        path = urllib.parse.unquote(route.params["path"])
        with self.store._lock:
            match = [o for o in self.store._objects.values() if o.extra.get("file_path") == path]
        if not match or match[0].gone:
            return Reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        match[0].fetches += 1
        return _bytes_reply(match[0])

    # -- Twilio --------------------------------------------------------------------------------

    def _twilio_media(self, route: Route, call: Call, accounts: AccountBook) -> Reply:
        sid = route.params["sid"]
        value = call.headers.get("authorization", "")
        try:
            user, _, password = (
                base64.b64decode(value[6:]).decode().partition(":")
                if value[:6].lower() == "basic "
                else ("", "", "")
            )
        except ValueError:
            user, password = "", ""
        owners = [a for a in accounts.by_token(password, ["twilio"]) if a.details.get("account_sid") == user]
        if user != sid or not owners:
            return Reply(
                401,
                {
                    "code": 20003,
                    "message": "Authenticate",
                    "more_info": "https://www.twilio.com/docs/errors/20003",
                    "status": 401,
                },
            )
        obj = self.store.get(route.params["me"])
        if obj is None or obj.gone or obj.channel != "twilio":
            return Reply(
                404,
                {
                    "code": 20404,
                    "message": "The requested resource was not found",
                    "more_info": "https://www.twilio.com/docs/errors/20404",
                    "status": 404,
                },
            )
        host = call.headers.get("host", "127.0.0.1")
        return Reply(307, {}, {"Location": f"http://{host}/twilio-cdn/{obj.media_id}"})

    def _twilio_cdn(self, route: Route, call: Call, accounts: AccountBook) -> Reply:
        obj = self.store.get(route.params["me"])
        if obj is None or obj.gone:
            return Reply(404, {"error": "not found"})
        extra = {"Content-Disposition": f'inline; filename="{obj.file_name}"'} if obj.file_name else {}
        return _bytes_reply(obj, extra)

    # -- the ProviderApi protocol's other verbs ------------------------------------------------

    def error_reply(
        self,
        channel: str,
        code: int | str,
        *,
        http_status: int | None,
        subcode: int | None,
        retry_after: int | None,
    ) -> Reply:
        headers = {"Retry-After": str(retry_after)} if retry_after else {}
        return Reply(
            http_status or 500,
            {"error": {"code": code, "message": "Error injected by the provider sandbox"}},
            headers,
        )

    def receipts(self, sent: SentMessage, *, url: str, secret: str, timing: Any) -> list[ScheduledWebhook]:
        return []
