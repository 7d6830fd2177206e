"""Meta's Graph API in the provider sandbox: the Messenger/Instagram Send API and WhatsApp Cloud API.

All three share ``POST /v{N}.0/{id}/messages`` (Messenger also ``/me/messages``); which one answers
is decided by the account the caller registered under that id (page id, Instagram account id,
phone number id) or, for ``/me``, by the token. Sources for the shapes below:

- Send API reference (developers.facebook.com/docs/messenger-platform/reference/send-api): request
  ``recipient`` / ``messaging_type`` / ``tag`` / ``message`` | ``sender_action``, response
  ``{"recipient_id", "message_id"}``; Messenger text <= 2000 characters, Instagram <= 1000 bytes.
- Graph API error handling and Messenger error codes: ``{"error": {"message", "type", "code",
  "error_subcode"?, "fbtrace_id"}}``; ``(#100) No matching user found`` is 100 / 2018001.
- WhatsApp Cloud API messages reference and error codes: request ``messaging_product``,
  ``recipient_type``, ``to``, ``type`` + matching object, ``context.message_id``; response
  ``{"messaging_product", "contacts": [{"input", "wa_id"}], "messages": [{"id"}]}``; mark as read
  answers ``{"success": true}``; errors carry ``error_data: {"messaging_product", "details"}`` and the
  documented HTTP status per code (190 -> 401, 368 -> 403, 131000 -> 500, 132001 -> 404, ...).
- Webhooks: Messenger ``message_deliveries`` / ``message_reads``, Instagram ``messaging_seen``,
  WhatsApp ``statuses`` (sent / delivered carry ``conversation`` and ``pricing``), signed with
  ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, body)>`` (and the legacy sha1 header).
- Reading an account (what connecting a channel tests): ``GET /{page-id | ig-user-id |
  phone-number-id}?fields=...`` with the account's token answers the fields asked for (Page ``name``;
  IG User ``username``, ``name``; Phone Number ``display_phone_number``, ``verified_name``); a token
  Meta does not know is 190 (HTTP 400, 401 for a WhatsApp number), another account's id 100/33, an
  unknown field 100 "Tried accessing nonexisting field".
- Real published request/response bodies in ``shared/fixtures/providers/*/out-*.json``.
- User Profile API (Messenger Platform "User Profile API"; Instagram Messaging "User Profile API"):
  ``GET /v{N}.0/{PSID}?fields=first_name,last_name,profile_pic`` and
  ``GET /v{N}.0/{IGSID}?fields=name,username,profile_pic`` with the Page's token (bearer or
  ``access_token``); no token 104, an unknown token 190, a person this Page's token cannot see
  100/33 (``GraphMethodException``), a field the node lacks ``(#100) Tried accessing nonexisting
  field``, an Instagram user who never messaged the account 230 ("User consent is required to
  access user profile"). ``profile_pic`` is a signed URL (``/meta-profile/{id}.png?oe=..``) that
  this sandbox serves as a small PNG.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import string
import struct
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.local import sandbox_multipart as multipart
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
from infra.local.sandbox_uploads import (
    StoredUpload,
    UploadBook,
    new_whatsapp_media_id,
    whatsapp_upload_problem,
)

__all__ = ["GraphError", "MetaGraphApi"]

MESSENGER = "messenger"
INSTAGRAM = "instagram"
WHATSAPP = "whatsapp"
SEND_API_CHANNELS = (MESSENGER, INSTAGRAM)

_PATH = re.compile(r"^/v(?P<version>\d+\.\d+)/(?P<node>[^/]+)/messages/?$")
_SUBSCRIBED_APPS_PATH = re.compile(r"^/v(?P<version>\d+\.\d+)/(?P<node>[^/]+)/subscribed_apps/?$")
SUBSCRIBED_APPS = "subscribed_apps"
_MEDIA_UPLOAD_PATH = re.compile(r"^/v(?P<version>\d+\.\d+)/(?P<node>[^/]+)/media/?$")
MEDIA_UPLOAD = "media_upload"
_NODE_PATH = re.compile(r"^/v(?P<version>\d+\.\d+)/(?P<node>[0-9]+)/?$")
NODE = "node"
# GET /{id}?fields=...: the fields each account kind answers, and its Graph node type (for errors).
_NODE_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    MESSENGER: ("Page", ("id", "name", "category", "link")),
    INSTAGRAM: ("IGUser", ("id", "username", "name", "profile_picture_url")),
    WHATSAPP: (
        "WhatsAppBusinessPhoneNumber",
        ("id", "display_phone_number", "verified_name", "quality_rating", "code_verification_status"),
    ),
}
_TEMPLATES_PATH = re.compile(r"^/v(?P<version>\d+\.\d+)/(?P<node>[^/]+)/message_templates/?$")
MESSAGE_TEMPLATES = "message_templates"
_PROFILE_PATH = re.compile(r"^/v(?P<version>\d+\.\d+)/(?P<node>[0-9]{5,})/?$")
USER_PROFILE = "user_profile"
_PROFILE_PIC_PATH = re.compile(r"^/meta-profile/(?P<node>[0-9]{5,})\.png$")
PROFILE_PIC = "profile_pic"
# The fields each product's User Profile API serves (Messenger: PSID nodes; Instagram: IGSID nodes).
PROFILE_FIELDS: dict[str, tuple[str, ...]] = {
    "messenger": ("id", "first_name", "last_name", "name", "profile_pic", "locale", "timezone", "gender"),
    "instagram": (
        "id",
        "name",
        "username",
        "profile_pic",
        "follower_count",
        "is_user_follow_business",
        "is_business_follow_user",
        "is_verified_user",
    ),
}
PROFILE_DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "messenger": ("first_name", "last_name", "id"),
    "instagram": ("name", "id"),
}


@dataclass(frozen=True)
class SandboxProfile:
    """A customer the sandbox's User Profile API knows: who (``user_id``, a PSID or IGSID), on which
    account (``account_id``: the Page or Instagram account whose token may read it), the fields,
    and (Instagram) whether they messaged the account, which is what consent means there."""

    channel: str
    account_id: str
    user_id: str
    fields: dict[str, Any]
    consent: bool = True


def _png(seed: str, size: int = 48) -> bytes:
    """A small solid-colour PNG, its colour from ``seed`` (a profile picture stand-in)."""
    digest = hashlib.sha256(seed.encode()).digest()
    pixel = bytes(digest[:3])
    raw = b"".join(b"\x00" + pixel * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _template(
    template_id: str, name: str, status: str, category: str, body: str, language: str = "en_US", **extra: str
) -> dict[str, Any]:
    components: list[dict[str, Any]] = []
    if "header" in extra:
        components.append({"type": "HEADER", "format": "TEXT", "text": extra["header"]})
    components.append({"type": "BODY", "text": body})
    if "footer" in extra:
        components.append({"type": "FOOTER", "text": extra["footer"]})
    return {
        "name": name,
        "parameter_format": "POSITIONAL",
        "components": components,
        "language": language,
        "status": status,
        "category": category,
        "id": template_id,
    }


# The message templates every WhatsApp Business Account of the sandbox holds unless a test sets its
# own (MetaGraphApi.set_templates): approved, pending and rejected ones, positional {{n}} parameters.
DEMO_TEMPLATES: tuple[dict[str, Any], ...] = (
    _template(
        "1370000000000001",
        "order_update",
        "APPROVED",
        "UTILITY",
        "Your order {{1}} has been updated. Reply to this message if you have any questions.",
    ),
    _template(
        "1370000000000002",
        "appointment_reminder",
        "APPROVED",
        "UTILITY",
        "Hi {{1}}, this is a reminder of your appointment on {{2}} at {{3}}. Reply YES to confirm.",
        header="Appointment reminder",
        footer="Demo Shop",
    ),
    _template(
        "1370000000000003",
        "hello_world",
        "APPROVED",
        "UTILITY",
        "Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message.",
    ),
    _template(
        "1370000000000004",
        "order_update",
        "APPROVED",
        "UTILITY",
        "Tu pedido {{1}} ha sido actualizado. Responde a este mensaje si tienes preguntas.",
        language="es_ES",
    ),
    _template(
        "1370000000000005",
        "summer_sale",
        "PENDING",
        "MARKETING",
        "Hi {{1}}, our summer sale starts {{2}}: {{3}} off everything.",
    ),
    _template(
        "1370000000000006",
        "win_back",
        "REJECTED",
        "MARKETING",
        "We miss you {{1}}! Come back for a surprise.",
    ),
)
# Fields the Message Templates API reads; any other is refused as Graph does.
TEMPLATE_FIELDS = frozenset(
    {
        "id",
        "name",
        "language",
        "status",
        "category",
        "components",
        "parameter_format",
        "previous_category",
        "quality_score",
        "rejected_reason",
        "sub_category",
    }
)
TEMPLATE_DEFAULT_FIELDS = ("name", "parameter_format", "components", "language", "status", "category", "id")
TEMPLATE_STATUSES = (
    "APPROVED",
    "IN_APPEAL",
    "PENDING",
    "REJECTED",
    "PENDING_DELETION",
    "DELETED",
    "DISABLED",
    "PAUSED",
    "LIMIT_EXCEEDED",
)

# Page webhook fields an app may subscribe a Page to (Graph API reference, "Page Subscribed Apps" and
# Webhooks for Messenger Platform); any other value is refused as Graph does.
PAGE_WEBHOOK_FIELDS = frozenset(
    {
        "feed",
        "mention",
        "name",
        "picture",
        "category",
        "description",
        "conversations",
        "inbox_labels",
        "message_deliveries",
        "message_echoes",
        "message_edits",
        "message_reactions",
        "message_reads",
        "messages",
        "messaging_account_linking",
        "messaging_checkout_updates",
        "messaging_customer_information",
        "messaging_feedback",
        "messaging_game_plays",
        "messaging_handovers",
        "messaging_optins",
        "messaging_optouts",
        "messaging_payments",
        "messaging_policy_enforcement",
        "messaging_postbacks",
        "messaging_pre_checkouts",
        "messaging_referrals",
        "response_feedback",
        "send_cart",
        "standby",
    }
)

# -- errors -----------------------------------------------------------------------------------------


@dataclass
class GraphError(Exception):
    """A Graph API error answer, raised inside a handler and rendered by :func:`graph_error_reply`."""

    code: int
    message: str
    subcode: int | None = None
    type: str = "OAuthException"
    http_status: int = 400
    details: str | None = None  # WhatsApp error_data.details


# Known codes: (message, HTTP status). Messages follow Meta's "(#code) Title" convention; HTTP
# statuses are the documented pairings (WhatsApp error-codes table; Graph returns most errors as
# 400). What is seen in the wild differs (130429 with 403, 613 with 429, Messenger 36000 with 200),
# hence fail_next(http_status=...).
_GRAPH_CODES: dict[int, tuple[str, int]] = {
    1: ("An unknown error has occurred.", 500),
    2: ("An unexpected error has occurred. Please retry your request later.", 500),
    4: ("(#4) Application request limit reached", 400),
    10: ("(#10) This message is sent outside of allowed window.", 400),
    100: ("(#100) Invalid parameter", 400),
    104: ("An access token is required to request this resource.", 400),
    190: ("Invalid OAuth access token - Cannot parse access token", 400),
    200: ("(#200) Permissions error", 403),
    230: ("(#230) Requires pages_messaging permission to manage the object", 403),
    368: ("(#368) Temporarily blocked for policies violations", 403),
    551: ("(#551) This person isn't available right now.", 400),
    613: ("(#613) Calls to this api have exceeded the rate limit.", 400),
    1200: ("Temporary send message failure. Please try again later", 500),
    2500: ("An active access token must be used to query information about the current user.", 400),
    36000: ("The image size is too large.", 200),
}
_MESSENGER_SUBCODE_MESSAGES: dict[tuple[int, int], str] = {
    (100, 2018001): "(#100) No matching user found",
    (10, 2018278): "(#10) This message is sent outside of allowed window.",
    (551, 1545041): "(#551) This person isn't available right now.",
}
_WHATSAPP_CODES: dict[int, tuple[str, int, str | None]] = {
    0: ("(#0) AuthException", 401, None),
    3: ("(#3) API Method", 500, None),
    4: ("(#4) API Too Many Calls", 400, None),
    10: ("(#10) Permission Denied", 403, None),
    100: ("(#100) Invalid parameter", 400, None),
    104: ("An access token is required to request this resource.", 401, None),
    190: ("Invalid OAuth access token - Cannot parse access token", 401, None),
    200: ("(#200) API Permission", 403, None),
    368: ("(#368) Temporarily blocked for policies violations", 403, None),
    613: ("(#613) Calls to this api have exceeded the rate limit.", 400, None),
    80007: ("(#80007) Rate limit issues", 400, None),
    130429: (
        "(#130429) Rate limit hit",
        400,
        "Cloud API message throughput has been reached.",
    ),
    130472: ("(#130472) User's number is part of an experiment", 400, None),
    131000: ("(#131000) Something went wrong", 500, None),
    131005: ("(#131005) Access denied", 403, None),
    131008: ("(#131008) Required parameter is missing", 400, None),
    131009: ("(#131009) Parameter value is not valid", 400, None),
    131016: ("(#131016) Service unavailable", 503, None),
    131021: ("(#131021) Recipient cannot be sender", 400, None),
    131026: ("(#131026) Message Undeliverable", 400, None),
    131031: ("(#131031) Account has been locked", 403, None),
    131042: ("(#131042) Business eligibility payment issue", 400, None),
    131047: (
        "(#131047) Re-engagement message",
        400,
        "Message failed to send because more than 24 hours have passed since the customer last "
        "replied to this number.",
    ),
    131048: ("(#131048) Spam rate limit hit", 400, None),
    131051: ("(#131051) Unsupported message type", 400, None),
    131052: ("(#131052) Media download error", 400, None),
    131053: ("(#131053) Media upload error", 400, None),
    131056: ("(#131056) (Business Account, Consumer Account) pair rate limit hit", 400, None),
    131057: ("(#131057) Account in maintenance mode", 500, None),
    132000: ("(#132000) Number of parameters does not match the expected number of params", 400, None),
    132001: ("(#132001) Template name does not exist in the translation", 404, None),
    132005: ("(#132005) Translated text too long", 400, None),
    132012: ("(#132012) Parameter format does not match format in the created template", 400, None),
    132015: ("(#132015) Template is paused", 400, None),
    132016: ("(#132016) Template is disabled", 400, None),
    133010: ("(#133010) Phone number Not Registered", 400, None),
}

_TRACE_ALPHABET = string.ascii_letters + string.digits + "_-"


def _fbtrace_id() -> str:
    return "A" + "".join(secrets.choice(_TRACE_ALPHABET) for _ in range(22))


def graph_error_reply(error: GraphError, *, whatsapp: bool, version: str | None = None) -> Reply:
    """Render a Graph error envelope; WhatsApp adds ``error_data`` and its own HTTP statuses."""
    body: dict[str, Any] = {"message": error.message, "type": error.type, "code": error.code}
    if whatsapp and (error.details is not None or error.code >= 130000):
        body["error_data"] = {"messaging_product": "whatsapp", "details": error.details or error.message}
    if error.subcode is not None:
        body["error_subcode"] = error.subcode
    body["fbtrace_id"] = _fbtrace_id()
    headers = _graph_headers(version)
    if error.http_status >= 400:
        kind = "invalid_token" if error.code in {104, 190, 2500} else "invalid_request"
        # Graph mirrors the error into WWW-Authenticate on 4xx/5xx answers.
        headers["WWW-Authenticate"] = f'OAuth "Facebook Platform" "{kind}" "{_header_safe(error.message)}"'
    return Reply(error.http_status, {"error": body}, headers)


def _header_safe(text: str) -> str:
    return text.replace('"', "'").encode("ascii", "replace").decode("ascii")


def _graph_headers(version: str | None) -> dict[str, str]:
    headers = {"x-fb-trace-id": _fbtrace_id()[:11], "x-fb-request-id": _fbtrace_id()}
    if version is not None:
        headers["facebook-api-version"] = f"v{version}"
    return headers


def _invalid(message: str, *, subcode: int | None = None, details: str | None = None) -> GraphError:
    return GraphError(100, message, subcode=subcode, details=details)


def _required(param: str) -> GraphError:
    return _invalid(f"(#100) The parameter {param} is required")


def _one_of(param: str, allowed: tuple[str, ...], got: Any) -> GraphError:
    choices = ", ".join(a.upper() for a in allowed)
    return _invalid(f'(#100) Param {param} must be one of {{{choices}}} - got "{got}"')


# -- ids --------------------------------------------------------------------------------------------

_URLSAFE = string.ascii_letters + string.digits + "-_"
_issued_lock = threading.Lock()
_issued: set[str] = set()


def _unique(make: Callable[[], str]) -> str:
    while True:
        candidate = make()
        with _issued_lock:
            if candidate not in _issued:
                _issued.add(candidate)
                return candidate


def new_messenger_mid() -> str:
    """A Messenger message id: ``m_`` and 86 url-safe characters, as the Send API returns."""
    return _unique(lambda: "m_" + "".join(secrets.choice(_URLSAFE) for _ in range(86)))


def new_instagram_mid() -> str:
    """An Instagram message id: unpadded base64 of ``ig_message_item:1:IGMessageThread:...``."""

    def make() -> str:
        thread = secrets.randbelow(10**17) + 10**17
        item = secrets.randbelow(10**38) + 10**38
        raw = f"ig_message_item:1:IGMessageThread:{thread}:{item}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return _unique(make)


def _is_received_wamid(message_id: str) -> bool:
    """A WhatsApp message id the sandbox did not issue itself (an inbound one)."""
    with _issued_lock:
        ours = message_id in _issued
    return message_id.startswith("wamid.") and len(message_id) > 10 and not ours


def new_wamid(recipient: str) -> str:
    """A WhatsApp message id: ``wamid.`` and base64 of the recipient plus a random hex id."""

    def make() -> str:
        who = recipient.encode()[:127]
        raw = (
            b"\x1c\x18"
            + bytes([len(who)])
            + who
            + b"\x15\x02\x00\x11\x18\x12"
            + secrets.token_hex(9).upper().encode()
            + b"\x00"
        )
        return "wamid." + base64.b64encode(raw).decode()

    return _unique(make)


# -- the API ----------------------------------------------------------------------------------------


def _token(call: Call, params: Mapping[str, Any]) -> str | None:
    """Graph takes the token as ``access_token`` (query or body) or ``Authorization: Bearer|OAuth``."""
    auth = call.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() in {"bearer", "oauth"} and value.strip():
        return value.strip()
    for source in (call.query.get("access_token"), params.get("access_token")):
        if isinstance(source, list) and source and source[0]:
            return str(source[0])
        if isinstance(source, str) and source:
            return source
    return None


def _params(call: Call) -> dict[str, Any]:
    """The request's parameters: a JSON body, or form fields whose values may themselves be JSON."""
    if isinstance(call.json, dict):
        return dict(call.json)
    if call.form is not None:
        params: dict[str, Any] = {}
        for key, values in call.form.items():
            value = values[-1]
            try:
                decoded = json.loads(value)
            except ValueError:
                decoded = value
            params[key] = decoded if isinstance(decoded, dict | list) else value
        return params
    return {}


def _sign(secret: str, body: bytes) -> dict[str, str]:
    sha256 = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    sha1 = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return {
        "Content-Type": "application/json",
        "User-Agent": "facebookexternalua",
        "X-Hub-Signature": f"sha1={sha1}",
        "X-Hub-Signature-256": f"sha256={sha256}",
    }


def _encode_webhook(payload: Mapping[str, Any]) -> bytes:
    # Meta sends compact JSON with non-ASCII escaped as \\uXXXX; the signature covers these bytes.
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode("ascii")


class MetaGraphApi:
    """The Graph API's messaging endpoints for Messenger, Instagram and WhatsApp."""

    name = "meta-graph"
    channels: tuple[str, ...] = (MESSENGER, INSTAGRAM, WHATSAPP)

    def __init__(self) -> None:
        self._conversations: dict[tuple[str, str], str] = {}
        self._subscriptions: dict[str, list[str]] = {}  # page id -> subscribed fields
        self._lock = threading.Lock()
        self.uploads = UploadBook()  # WhatsApp media uploads (POST /{phone-number-id}/media)
        self._templates: dict[str, list[dict[str, Any]]] = {}  # WABA id -> its message templates
        self._profiles: dict[str, SandboxProfile] = {}  # PSID / IGSID -> the customer's profile

    def set_profile(
        self, channel: str, account_id: str, user_id: str, *, consent: bool = True, **fields: Any
    ) -> None:
        """Let ``account_id``'s token read ``user_id``'s profile (``first_name``, ``last_name``,
        ``name``, ``username``...; ``profile_pic`` is added, pointing at this sandbox)."""
        if channel not in PROFILE_FIELDS:
            raise ValueError(f"{channel} has no User Profile API")
        with self._lock:
            self._profiles[str(user_id)] = SandboxProfile(
                channel, str(account_id), str(user_id), dict(fields), consent
            )

    def profile(self, user_id: str) -> SandboxProfile | None:
        """The profile the sandbox serves for ``user_id``, if any."""
        with self._lock:
            return self._profiles.get(str(user_id))

    def set_templates(self, waba_id: str, templates: list[dict[str, Any]]) -> None:
        """Give WhatsApp Business Account ``waba_id`` these templates (Graph's shape) instead of
        :data:`DEMO_TEMPLATES`."""
        with self._lock:
            self._templates[waba_id] = [dict(t) for t in templates]

    def templates(self, waba_id: str) -> list[dict[str, Any]]:
        """The templates ``waba_id`` holds."""
        with self._lock:
            return [dict(t) for t in self._templates.get(waba_id, DEMO_TEMPLATES)]

    def subscribed_fields(self, page_id: str) -> list[str]:
        """The fields our app is subscribed to on ``page_id`` (empty: not subscribed)."""
        with self._lock:
            return list(self._subscriptions.get(page_id, []))

    # -- routing -----------------------------------------------------------------------------------

    def route(self, call: Call, accounts: AccountBook) -> Route | None:
        """Claim ``POST /v{N}.0/{id}/messages`` and ``POST|GET|DELETE /v{N}.0/{page-id}/subscribed_apps``;
        decide the channel from the registered account."""
        subscribed = _SUBSCRIBED_APPS_PATH.match(call.path)
        if subscribed is not None and call.method in {"GET", "POST", "DELETE"}:
            pages = _page_accounts(subscribed["node"], accounts)
            return Route(
                channel=pages[0].channel if pages else None,
                params={
                    "node": subscribed["node"],
                    "version": subscribed["version"],
                    "endpoint": SUBSCRIBED_APPS,
                },
            )
        listing = _TEMPLATES_PATH.match(call.path)
        if listing is not None and call.method == "GET":
            owners = [
                a
                for a in accounts.all()
                if a.channel == WHATSAPP and a.details.get("waba_id") == listing["node"]
            ]
            return Route(
                channel=WHATSAPP if owners else None,
                params={
                    "node": listing["node"],
                    "version": listing["version"],
                    "endpoint": MESSAGE_TEMPLATES,
                },
            )
        picture = _PROFILE_PIC_PATH.match(call.path)
        if picture is not None and call.method == "GET":
            return Route(
                channel=None, params={"node": picture["node"], "version": "", "endpoint": PROFILE_PIC}
            )
        person = _PROFILE_PATH.match(call.path)
        if (
            person is not None
            and call.method == "GET"
            and not accounts.by_id(person["node"], list(_NODE_FIELDS))  # an account: read below
        ):
            known = self.profile(person["node"])
            return Route(
                channel=known.channel if known else None,
                params={"node": person["node"], "version": person["version"], "endpoint": USER_PROFILE},
            )
        upload = _MEDIA_UPLOAD_PATH.match(call.path)
        if upload is not None and call.method == "POST":
            numbers = accounts.by_id(upload["node"], [WHATSAPP])
            return Route(
                channel=WHATSAPP if numbers else None,
                params={"node": upload["node"], "version": upload["version"], "endpoint": MEDIA_UPLOAD},
            )
        node = _NODE_PATH.match(call.path)
        if node is not None and call.method == "GET":
            found = accounts.by_id(node["node"], list(_NODE_FIELDS))
            return Route(
                channel=found[0].channel if found else None,
                params={"node": node["node"], "version": node["version"], "endpoint": NODE},
            )
        match = _PATH.match(call.path)
        if match is None or call.method != "POST":
            return None
        node, version = match["node"], match["version"]
        if node == "me":
            token = _token(call, _params(call))
            found = accounts.by_token(token, SEND_API_CHANNELS) if token else []
        else:
            found = accounts.by_id(node)
        channel = found[0].channel if found else None
        return Route(channel=channel, params={"node": node, "version": version})

    # -- answering ---------------------------------------------------------------------------------

    def handle(self, route: Route, call: Call, accounts: AccountBook) -> Reply:
        """Authenticate, validate and answer one messages (or subscribed_apps) call."""
        node, version = route.params["node"], route.params["version"]
        params = _params(call)
        if route.params.get("endpoint") == SUBSCRIBED_APPS:
            try:
                return Reply(
                    200, self._subscribed_apps(node, call, params, accounts), _graph_headers(version)
                )
            except GraphError as error:
                return graph_error_reply(error, whatsapp=False, version=version)
        if route.params.get("endpoint") == NODE:
            whatsapp = route.channel == WHATSAPP
            try:
                return Reply(
                    200, self._node(node, call, accounts, whatsapp=whatsapp), _graph_headers(version)
                )
            except GraphError as error:
                return graph_error_reply(error, whatsapp=whatsapp, version=version)
        if route.params.get("endpoint") == MEDIA_UPLOAD:
            return self._media_upload(node, version, call, accounts)
        if route.params.get("endpoint") == PROFILE_PIC:
            return self._profile_pic(node, call)
        if route.params.get("endpoint") == USER_PROFILE:
            try:
                return Reply(200, self._user_profile(node, call, accounts), _graph_headers(version))
            except GraphError as error:
                return graph_error_reply(error, whatsapp=False, version=version)
        if route.params.get("endpoint") == MESSAGE_TEMPLATES:
            try:
                return Reply(
                    200, self._message_templates(node, version, call, accounts), _graph_headers(version)
                )
            except GraphError as error:
                return graph_error_reply(error, whatsapp=True, version=version)
        whatsapp = route.channel == WHATSAPP or (route.channel is None and "messaging_product" in params)
        try:
            account = self._authenticate(node, call, params, accounts, whatsapp=whatsapp)
            if account.channel == WHATSAPP:
                body, sent = self._whatsapp(account, params)
            else:
                body, sent = self._send_api(account, params)
        except GraphError as error:
            return graph_error_reply(error, whatsapp=whatsapp, version=version)
        return Reply(200, body, _graph_headers(version), sent)

    def _media_upload(self, node: str, version: str, call: Call, accounts: AccountBook) -> Reply:
        """WhatsApp ``POST /{phone-number-id}/media``: a multipart upload becomes a media id."""
        fields, files = multipart.parse(call)
        params: dict[str, Any] = {k: v[-1] for k, v in fields.items()}
        try:
            account = self._authenticate(node, call, params, accounts, whatsapp=True)
            if account.channel != WHATSAPP:
                raise _invalid("(#100) Unsupported post request", details="media uploads are WhatsApp only")
            file = files.get("file")
            problem = whatsapp_upload_problem(fields, file)
            if problem is not None:
                code, details = problem
                if code == 100:
                    raise _invalid("(#100) Invalid parameter", details=details)
                raise GraphError(code, _WHATSAPP_CODES[code][0], details=details)
        except GraphError as error:
            return graph_error_reply(error, whatsapp=True, version=version)
        assert file is not None  # checked by whatsapp_upload_problem
        media_id = new_whatsapp_media_id()
        self.uploads.add(
            StoredUpload(
                channel=WHATSAPP,
                account_id=account.account_id,
                media_id=media_id,
                method="media",
                field="file",
                filename=file.filename,
                content_type=params.get("type") or file.content_type,
                data=file.data,
            )
        )
        return Reply(200, {"id": media_id}, _graph_headers(version))

    def _authenticate(
        self, node: str, call: Call, params: Mapping[str, Any], accounts: AccountBook, *, whatsapp: bool
    ) -> Account:
        status = 401 if whatsapp else 400
        token = _token(call, params)
        if not token:
            if node == "me":
                message, _ = _GRAPH_CODES[2500]
                raise GraphError(2500, message, http_status=status)
            message, _ = _GRAPH_CODES[104]
            raise GraphError(104, message, http_status=status)
        if not accounts.token_known(token):
            message, _ = _GRAPH_CODES[190]
            raise GraphError(190, message, http_status=status)
        if node == "me":
            found = accounts.by_token(token, SEND_API_CHANNELS)
            if not found:
                message, _ = _GRAPH_CODES[2500]
                raise GraphError(2500, message, http_status=status)
            return found[0]
        for account in accounts.by_id(node):
            if account.token == token:
                return account
        # Unknown object, or one this token may not act for: Graph answers both the same way.
        raise GraphError(
            100,
            f"Unsupported post request. Object with ID '{node}' does not exist, cannot be loaded due to "
            "missing permissions, or does not support this operation. Please read the Graph API "
            "documentation at https://developers.facebook.com/docs/graph-api",
            subcode=33,
            type="GraphMethodException",
        )

    # -- reading an account: GET /{id}?fields=... ----------------------------------------------------

    def _node(self, node: str, call: Call, accounts: AccountBook, *, whatsapp: bool) -> dict[str, Any]:
        """``GET /{page-id | ig-user-id | phone-number-id}?fields=a,b`` with the account's own
        token (Graph API reference "Page", "IG User", WhatsApp Cloud API "Phone Numbers"): the
        fields asked for (``id`` always), 104 without a token, 190 for a token Meta does not know
        (401 on WhatsApp's side), 100/33 for an id the token may not read, 100 for an unknown field."""
        status = 401 if whatsapp else 400
        token = _token(call, {})
        if not token:
            message, _ = _GRAPH_CODES[104]
            raise GraphError(104, message, http_status=status)
        if not accounts.token_known(token):
            message, _ = _GRAPH_CODES[190]
            raise GraphError(190, message, http_status=status)
        account = next((a for a in accounts.by_id(node, list(_NODE_FIELDS)) if a.token == token), None)
        if account is None:
            raise GraphError(
                100,
                f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded due to "
                "missing permissions, or does not support this operation. Please read the Graph API "
                "documentation at https://developers.facebook.com/docs/graph-api",
                subcode=33,
                type="GraphMethodException",
            )
        node_type, known = _NODE_FIELDS[account.channel]
        raw = (call.query.get("fields") or [""])[-1]
        asked = [f.strip() for f in raw.split(",") if f.strip()] or ["id", known[1]]
        for name in asked:
            if name not in known:
                raise _invalid(
                    f"(#100) Tried accessing nonexisting field ({name}) on node type ({node_type})"
                )
        details = account.details
        values = {
            "id": node,
            "name": details.get("name") or f"Sandbox {account.channel} {node}",
            "username": details.get("username") or f"sandbox_{node[-6:]}",
            "category": "Shopping & retail",
            "link": f"https://www.facebook.com/{node}",
            "profile_picture_url": f"https://scontent.cdninstagram.com/v/{node}.jpg",
            "display_phone_number": details.get("display_phone_number")
            or f"+1 555-{node[-3:]}-{node[-7:-3]}",
            "verified_name": details.get("verified_name")
            or details.get("name")
            or f"Sandbox business {node[-4:]}",
            "quality_rating": "GREEN",
            "code_verification_status": "VERIFIED",
        }
        return {name: values[name] for name in dict.fromkeys(["id", *asked])}

    # -- User Profile API (Messenger and Instagram) -------------------------------------------------

    def _user_profile(self, user_id: str, call: Call, accounts: AccountBook) -> dict[str, Any]:
        """``GET /{PSID|IGSID}?fields=...``: the fields asked for (default: the name and id) of a
        customer the token's Page or Instagram account may see."""
        query = {k: v[-1] for k, v in call.query.items() if v}
        token = _token(call, {})
        if not token:
            message, _ = _GRAPH_CODES[104]
            raise GraphError(104, message)
        if not accounts.token_known(token):
            message, _ = _GRAPH_CODES[190]
            raise GraphError(190, message)
        known = self.profile(user_id)
        readers = {a.account_id for a in accounts.by_token(token, SEND_API_CHANNELS)}
        if known is None or known.account_id not in readers:
            raise GraphError(
                100,
                f"Unsupported get request. Object with ID '{user_id}' does not exist, cannot be loaded due "
                "to missing permissions, or does not support this operation. Please read the Graph API "
                "documentation at https://developers.facebook.com/docs/graph-api",
                subcode=33,
                type="GraphMethodException",
            )
        allowed = PROFILE_FIELDS[known.channel]
        fields = (
            tuple(f.strip() for f in query["fields"].split(",") if f.strip())
            if query.get("fields")
            else PROFILE_DEFAULT_FIELDS[known.channel]
        )
        for name in fields:
            if name not in allowed:
                raise _invalid(f"(#100) Tried accessing nonexisting field ({name}) on node type (User)")
        if known.channel == INSTAGRAM and not known.consent:
            raise GraphError(230, "(#230) User consent is required to access user profile")
        host = call.headers.get("host", "127.0.0.1")
        expiry = int(time.time()) + 3 * 86400  # "The URL will expire in a few days."
        values = {
            "id": user_id,
            "profile_pic": f"http://{host}/meta-profile/{user_id}.png?oe={expiry:x}&oh={secrets.token_hex(8)}",
            **known.fields,
        }
        if known.channel == MESSENGER and "name" not in known.fields:
            first, last = known.fields.get("first_name"), known.fields.get("last_name")
            values["name"] = " ".join(str(p) for p in (first, last) if p)
        return {name: values.get(name) for name in fields if name in values or known.channel == INSTAGRAM}

    def _profile_pic(self, user_id: str, call: Call) -> Reply:
        """The signed profile picture URL :meth:`_user_profile` handed out (403 once expired)."""
        expiry = (call.query.get("oe") or ["0"])[0]
        try:
            expired = int(expiry, 16) < time.time()
        except ValueError:
            expired = True
        if expired or self.profile(user_id) is None:
            return Reply(403, b"URL signature expired", {"Content-Type": "text/plain"})
        return Reply(200, _png(user_id), {"Content-Type": "image/png", "Cache-Control": "max-age=86400"})

    # -- WhatsApp Business Management API: message templates ---------------------------------------

    def _message_templates(
        self, waba_id: str, version: str, call: Call, accounts: AccountBook
    ) -> dict[str, Any]:
        """``GET /{waba-id}/message_templates`` (Business Management API, "Message Templates"):
        a token of a number the WABA owns; ``fields`` (comma-separated, default name,
        parameter_format, components, language, status, category, id), ``limit`` (default 25, at
        most 100), ``status`` / ``name`` / ``language`` / ``category`` filters,
        ``after`` / ``before`` cursors; the answer ``{data, paging: {cursors: {before, after},
        next?, previous?}}``."""
        query = {k: v[-1] for k, v in call.query.items() if v}
        token = _token(call, {})
        if not token:
            message, _ = _GRAPH_CODES[104]
            raise GraphError(104, message, http_status=401)
        if not accounts.token_known(token):
            message, _ = _GRAPH_CODES[190]
            raise GraphError(190, message, http_status=401)
        owners = [a for a in accounts.by_token(token, [WHATSAPP]) if a.details.get("waba_id") == waba_id]
        if not owners:
            raise GraphError(
                100,
                f"Unsupported get request. Object with ID '{waba_id}' does not exist, cannot be loaded "
                "due to missing permissions, or does not support this operation. Please read the Graph API "
                "documentation at https://developers.facebook.com/docs/graph-api",
                subcode=33,
                type="GraphMethodException",
            )
        fields = (
            tuple(f.strip() for f in query["fields"].split(",") if f.strip())
            if query.get("fields")
            else TEMPLATE_DEFAULT_FIELDS
        )
        for name in fields:
            if name not in TEMPLATE_FIELDS:
                raise _invalid(
                    f"(#100) Tried accessing nonexisting field ({name}) on node type (WhatsAppBusinessHSM)"
                )
        raw_limit = query.get("limit", "25")
        if not raw_limit.isdigit() or int(raw_limit) < 1:
            raise _invalid("(#100) Param limit must be a positive integer")
        limit = min(int(raw_limit), 100)
        status = query.get("status")
        if status is not None and status.upper() not in TEMPLATE_STATUSES:
            raise _one_of("status", TEMPLATE_STATUSES, status)
        rows = self.templates(waba_id)
        for key in ("status", "name", "language", "category"):
            if query.get(key):
                rows = [r for r in rows if str(r.get(key, "")).upper() == query[key].upper()]
        start = 0
        if query.get("after"):
            start = _cursor_index(query["after"]) + 1
        elif query.get("before"):
            start = max(0, _cursor_index(query["before"]) - limit)
        page = rows[start : start + limit]
        body: dict[str, Any] = {"data": [{k: r[k] for k in fields if k in r} for r in page]}
        if page:
            before, after = _cursor(start), _cursor(start + len(page) - 1)
            paging: dict[str, Any] = {"cursors": {"before": before, "after": after}}
            base = f"https://graph.facebook.com/v{version}/{waba_id}/message_templates?limit={limit}"
            if start + len(page) < len(rows):
                paging["next"] = f"{base}&after={after}"
            if start > 0:
                paging["previous"] = f"{base}&before={before}"
            body["paging"] = paging
        return body

    # -- Page subscriptions (webhooks) -------------------------------------------------------------

    def _subscribed_apps(
        self, page_id: str, call: Call, params: Mapping[str, Any], accounts: AccountBook
    ) -> dict[str, Any]:
        """``POST`` subscribes our app to the Page's webhook ``subscribed_fields`` (a Page token is
        required) and answers ``{"success": true}``; ``GET`` lists the subscription; ``DELETE``
        removes it and answers ``{"success": true}`` (whether or not it was there). No token is 104,
        a token Meta does not know 190, another Page's token 100/33; a Page token registered with
        ``permissions`` that lack ``pages_manage_metadata`` may read but not change the subscription
        (200, HTTP 403)."""
        token = _token(call, params)
        if not token:
            message, _ = _GRAPH_CODES[104]
            raise GraphError(104, message)
        if not accounts.token_known(token):
            message, _ = _GRAPH_CODES[190]
            raise GraphError(190, message)
        if not any(account.token == token for account in _page_accounts(page_id, accounts)):
            raise GraphError(
                100,
                f"Unsupported {call.method.lower()} request. Object with ID '{page_id}' does not exist, "
                "cannot be loaded due to missing permissions, or does not support this operation. Please "
                "read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
                subcode=33,
                type="GraphMethodException",
            )
        if call.method != "GET" and not _may_manage_page(page_id, token, accounts):
            message, status = _GRAPH_CODES[200]
            raise GraphError(200, message, http_status=status)
        if call.method == "DELETE":
            with self._lock:
                self._subscriptions.pop(page_id, None)
            return {"success": True}
        if call.method == "GET":
            fields = self.subscribed_fields(page_id)
            if not fields:
                return {"data": []}
            return {
                "data": [{"name": "Switchboard (sandbox)", "id": "sandbox-app", "subscribed_fields": fields}]
            }
        raw = params.get("subscribed_fields")
        if raw is None:
            raw = (call.query.get("subscribed_fields") or [None])[-1]
        if raw in (None, "", []):
            raise _required("subscribed_fields")
        fields = [str(f).strip() for f in (raw if isinstance(raw, list) else str(raw).split(","))]
        for field_name in fields:
            if field_name not in PAGE_WEBHOOK_FIELDS:
                choices = ", ".join(sorted(PAGE_WEBHOOK_FIELDS))
                raise _invalid(
                    f'(#100) Param subscribed_fields must be one of {{{choices}}} - got "{field_name}"'
                )
        with self._lock:
            self._subscriptions[page_id] = list(dict.fromkeys(fields))
        return {"success": True}

    # -- Messenger / Instagram Send API ------------------------------------------------------------

    _RECIPIENT_KEYS = (
        "id",
        "user_ref",
        "comment_id",
        "post_id",
        "notification_messages_token",
        "one_time_notif_token",
        "phone_number",
    )
    _MESSAGING_TYPES = ("RESPONSE", "UPDATE", "MESSAGE_TAG")
    _MESSENGER_TAGS = ("CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE", "HUMAN_AGENT")
    _INSTAGRAM_TAGS = ("HUMAN_AGENT",)
    _MESSENGER_ACTIONS = ("typing_on", "typing_off", "mark_seen")
    _INSTAGRAM_ACTIONS = ("typing_on", "typing_off", "mark_seen", "react", "unreact")
    _MESSENGER_ATTACHMENTS = ("image", "audio", "video", "file", "template")
    _INSTAGRAM_ATTACHMENTS = ("image", "audio", "video", "file", "template", "like_heart", "MEDIA_SHARE")
    _QUICK_REPLY_TYPES = ("text", "user_phone_number", "user_email")

    def _send_api(
        self, account: Account, params: Mapping[str, Any]
    ) -> tuple[dict[str, Any], SentMessage | None]:
        instagram = account.channel == INSTAGRAM
        recipient = params.get("recipient")
        if recipient is None or recipient == "":
            raise _required("recipient")
        if not isinstance(recipient, dict):
            raise _invalid("(#100) param recipient must be a JSON object")
        keys = [k for k in self._RECIPIENT_KEYS if recipient.get(k) not in (None, "")]
        if not keys:
            raise _invalid("(#100) param recipient must be non-empty.")
        if len(keys) > 1:
            raise _invalid("(#100) Only one of the recipient fields may be specified")
        recipient_id: str | None = None
        if "id" in keys:
            recipient_id = str(recipient["id"])
            if not recipient_id.isdigit():
                raise _invalid("(#100) No matching user found", subcode=2018001)

        message = params.get("message")
        action = params.get("sender_action")
        if message is not None and action is not None:
            raise _invalid("(#100) Only one of message or sender_action may be specified")
        if message is None and action is None:
            raise _invalid("(#100) Must send either message or sender_action")

        if action is not None:
            allowed = self._INSTAGRAM_ACTIONS if instagram else self._MESSENGER_ACTIONS
            if not isinstance(action, str) or action not in allowed:
                raise _one_of("sender_action", allowed, action)
            if action in {"typing_on", "typing_off", "mark_seen"}:
                # "When using sender_action, recipient should be the only other property set in the
                # request" (Send API reference, sender actions).
                extra = sorted(k for k in params if k not in {"recipient", "sender_action", "access_token"})
                if extra:
                    raise _invalid(
                        f"(#100) sender_action {action} cannot be sent with {', '.join(extra)}: recipient "
                        "is the only other parameter allowed"
                    )
            if action in {"react", "unreact"}:
                payload = params.get("payload")
                if not isinstance(payload, dict) or not payload.get("message_id"):
                    raise _required("payload[message_id]")
                if action == "react" and not payload.get("reaction"):
                    raise _required("payload[reaction]")
            # Sender actions answer the recipient only (no message id); see
            # out-courier-sender-action-response.json.
            return ({"recipient_id": recipient_id} if recipient_id else {}), None

        self._check_messaging_type(params, instagram=instagram)
        kind = self._check_message(message, instagram=instagram)
        metadata = params.get("metadata")
        if metadata is not None and (not isinstance(metadata, str) or len(metadata) > 1000):
            raise _invalid("(#100) Param metadata must be a string of at most 1000 characters")

        mid = new_instagram_mid() if instagram else new_messenger_mid()
        body: dict[str, Any] = {}
        if recipient_id is not None:
            body["recipient_id"] = recipient_id
        body["message_id"] = mid
        sent = None
        if recipient_id is not None:
            sent = SentMessage(
                channel=account.channel,
                account=account,
                recipient=recipient_id,
                message_id=mid,
                kind=kind,
                sent_at=time.time(),
            )
        return body, sent

    def _check_messaging_type(self, params: Mapping[str, Any], *, instagram: bool) -> None:
        messaging_type = params.get("messaging_type")
        if messaging_type in (None, ""):
            raise _required("messaging_type")
        if messaging_type not in self._MESSAGING_TYPES:
            raise _one_of("messaging_type", self._MESSAGING_TYPES, messaging_type)
        tag = params.get("tag")
        if messaging_type == "MESSAGE_TAG":
            if tag in (None, ""):
                raise _invalid("(#100) Tag is required for MESSAGE_TAG messaging type")
            tags = self._INSTAGRAM_TAGS if instagram else self._MESSENGER_TAGS
            if tag not in tags:
                raise _one_of("tag", tags, tag)

    def _check_message(self, message: Any, *, instagram: bool) -> str:
        if not isinstance(message, dict) or not message:
            raise _invalid("(#100) param message must be non-empty.")
        text = message.get("text")
        attachment = message.get("attachment")
        attachments = message.get("attachments")
        present = [
            k for k, v in (("text", text), ("attachment", attachment), ("attachments", attachments)) if v
        ]
        if not present:
            raise _invalid("(#100) Must send either text or attachment")
        if len(present) > 1:
            raise _invalid("(#100) Only one of text or attachment may be specified")
        kind = "text"
        if text is not None:
            if not isinstance(text, str):
                raise _invalid("(#100) Param message[text] must be a string")
            if instagram and len(text.encode("utf-8")) > 1000:
                # Instagram counts UTF-8 bytes, Messenger counts characters.
                raise _invalid("(#100) Length of param message[text] must be less than or equal to 1000")
            if not instagram and len(text) > 2000:
                raise _invalid("(#100) Length of param message[text] must be less than or equal to 2000")
        elif attachment is not None:
            kind = self._check_attachment(attachment, "message[attachment]", instagram=instagram)
        else:
            if not isinstance(attachments, list):
                raise _invalid("(#100) Param message[attachments] must be an array")
            for index, item in enumerate(attachments):
                kind = self._check_attachment(item, f"message[attachments][{index}]", instagram=instagram)
        quick_replies = message.get("quick_replies")
        if quick_replies is not None:
            self._check_quick_replies(quick_replies)
        return kind

    def _check_attachment(self, attachment: Any, name: str, *, instagram: bool) -> str:
        if not isinstance(attachment, dict):
            raise _invalid(f"(#100) Param {name} must be a JSON object")
        kinds = self._INSTAGRAM_ATTACHMENTS if instagram else self._MESSENGER_ATTACHMENTS
        kind = attachment.get("type")
        if kind in (None, ""):
            raise _required(f"{name}[type]")
        if kind not in kinds:
            raise _one_of(f"{name}[type]", kinds, kind)
        if kind == "like_heart":
            return str(kind)
        payload = attachment.get("payload")
        if not isinstance(payload, dict):
            raise _required(f"{name}[payload]")
        if kind == "template":
            if not payload.get("template_type"):
                raise _required(f"{name}[payload][template_type]")
            return "template"
        if kind == "MEDIA_SHARE":
            if not payload.get("id"):
                raise _required(f"{name}[payload][id]")
            return str(kind)
        url, attachment_id = payload.get("url"), payload.get("attachment_id")
        if bool(url) == bool(attachment_id):
            raise _invalid(
                f"(#100) Exactly one of {name}[payload][url] or {name}[payload][attachment_id] "
                "must be specified"
            )
        if url and not (isinstance(url, str) and re.match(r"^https?://", url)):
            raise _invalid(f"(#100) Param {name}[payload][url] must be a valid URL")
        reusable = payload.get("is_reusable")
        if reusable is not None and not isinstance(reusable, bool):
            raise _invalid(f"(#100) Param {name}[payload][is_reusable] must be a boolean")
        return str(kind)

    def _check_quick_replies(self, quick_replies: Any) -> None:
        if not isinstance(quick_replies, list) or not quick_replies:
            raise _invalid("(#100) param message[quick_replies] must be a non-empty array")
        if len(quick_replies) > 13:
            raise _invalid("(#100) param message[quick_replies] must have at most 13 elements")
        for index, reply in enumerate(quick_replies):
            name = f"message[quick_replies][{index}]"
            if not isinstance(reply, dict):
                raise _invalid(f"(#100) Param {name} must be a JSON object")
            content_type = reply.get("content_type")
            if content_type not in self._QUICK_REPLY_TYPES:
                raise _one_of(f"{name}[content_type]", self._QUICK_REPLY_TYPES, content_type)
            if content_type == "text":
                title, payload = reply.get("title"), reply.get("payload")
                if not title and not reply.get("image_url"):
                    raise _required(f"{name}[title]")
                if isinstance(title, str) and len(title) > 20:
                    raise _invalid(f"(#100) Length of param {name}[title] must be less than or equal to 20")
                if payload in (None, ""):
                    raise _required(f"{name}[payload]")
                if len(str(payload)) > 1000:
                    raise _invalid(
                        f"(#100) Length of param {name}[payload] must be less than or equal to 1000"
                    )

    # -- WhatsApp Cloud API ------------------------------------------------------------------------

    _WA_TYPES = (
        "audio",
        "contacts",
        "document",
        "image",
        "interactive",
        "location",
        "reaction",
        "sticker",
        "template",
        "text",
        "video",
    )
    _WA_MEDIA = ("audio", "document", "image", "sticker", "video")
    _WA_INTERACTIVE = (
        "button",
        "list",
        "product",
        "product_list",
        "catalog_message",
        "cta_url",
        "flow",
        "location_request_message",
        "address_message",
        "call_permission_request",
    )

    def _whatsapp_read(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Mark as read (optionally with a typing indicator): ``{"success": true}``."""
        if params["status"] != "read":
            raise _one_of("status", ("read",), params["status"])
        if not params.get("message_id"):
            raise _required("message_id")
        indicator = params.get("typing_indicator")
        if indicator is not None and (not isinstance(indicator, dict) or indicator.get("type") != "text"):
            raise _one_of("typing_indicator[type]", ("text",), _get(indicator, "type"))
        if indicator is not None and not _is_received_wamid(str(params["message_id"])):
            # The typing indicator is shown in reply to a message the customer sent (Cloud API,
            # "Typing indicators"): not one of ours, not a made-up id.
            raise GraphError(
                131009,
                _WHATSAPP_CODES[131009][0],
                details="message_id must be the id of a message this number received",
            )
        return {"success": True}

    def _whatsapp(
        self, account: Account, params: Mapping[str, Any]
    ) -> tuple[dict[str, Any], SentMessage | None]:
        product = params.get("messaging_product")
        if product in (None, ""):
            raise _required("messaging_product")
        if product != "whatsapp":
            raise _one_of("messaging_product", ("whatsapp",), product)

        if "status" in params:
            return self._whatsapp_read(params), None

        recipient_type = params.get("recipient_type", "individual")
        if recipient_type not in ("individual", "group"):
            raise _one_of("recipient_type", ("individual", "group"), recipient_type)
        to, bsuid = params.get("to"), params.get("recipient")
        contact: dict[str, str]
        if to not in (None, ""):
            to = str(to)
            wa_id = re.sub(r"[\s()+\-.]", "", to)
            if not wa_id.isdigit() or not 5 <= len(wa_id) <= 20:
                raise GraphError(
                    131009,
                    _WHATSAPP_CODES[131009][0],
                    details="Invalid 'to' parameter: not a phone number in international format",
                )
            contact = {"input": to, "wa_id": wa_id}
            recipient = wa_id
        elif isinstance(bsuid, str) and bsuid:
            # Business-scoped user id (e.g. "US.1234") instead of a phone number: the answer names
            # it as user_id and carries no wa_id (out-courier-send-response-user-id.json).
            contact = {"input": bsuid, "user_id": bsuid}
            recipient = bsuid
        else:
            raise _required("to")

        kind = params.get("type", "text")
        if kind not in self._WA_TYPES:
            raise _one_of("type", self._WA_TYPES, kind)
        obj = params.get(kind)
        if obj is None:
            raise _required(kind)
        if not isinstance(obj, dict | list):
            raise _invalid("(#100) Invalid parameter", details=f"Param {kind} must be a JSON object")
        self._check_whatsapp_object(kind, obj)

        context = params.get("context")
        if context is not None and (not isinstance(context, dict) or not context.get("message_id")):
            raise _required("context['message_id']")

        wamid = new_wamid(recipient)
        message: dict[str, str] = {"id": wamid}
        if kind == "template":
            message["message_status"] = "accepted"
        body = {"messaging_product": "whatsapp", "contacts": [contact], "messages": [message]}
        sent = None
        if kind != "reaction":
            sent = SentMessage(
                channel=WHATSAPP,
                account=account,
                recipient=recipient,
                message_id=wamid,
                kind=kind,
                sent_at=time.time(),
                extra={"bsuid": "1"} if "user_id" in contact else {},
            )
        return body, sent

    def _check_whatsapp_object(self, kind: str, obj: Any) -> None:
        if kind == "text":
            body = _get(obj, "body")
            if body in (None, ""):
                raise _required("text['body']")
            if not isinstance(body, str) or len(body) > 4096:
                raise _invalid(
                    "(#100) Invalid parameter",
                    details="Param text['body'] must be at most 4096 characters long",
                )
            if "preview_url" in obj and not isinstance(obj["preview_url"], bool):
                raise _invalid(
                    "(#100) Invalid parameter", details="Param text['preview_url'] must be a boolean"
                )
        elif kind in self._WA_MEDIA:
            link, media_id = _get(obj, "link"), _get(obj, "id")
            if not link and not media_id:
                raise _invalid(
                    "(#100) Invalid parameter", details=f"Param {kind} must contain either 'id' or 'link'"
                )
            if link and media_id:
                raise _invalid(
                    "(#100) Invalid parameter",
                    details=f"Param {kind} must contain only one of 'id' or 'link'",
                )
            if link and not (isinstance(link, str) and re.match(r"^https?://", link)):
                raise _invalid("(#100) Invalid parameter", details=f"Param {kind}['link'] is not a valid URL")
            if "caption" in obj and kind not in ("image", "video", "document"):
                raise _invalid(
                    "(#100) Invalid parameter", details=f"Param {kind}['caption'] is not supported"
                )
            if "filename" in obj and kind != "document":
                raise _invalid(
                    "(#100) Invalid parameter", details=f"Param {kind}['filename'] is not supported"
                )
        elif kind == "location":
            for key in ("latitude", "longitude"):
                if _get(obj, key) in (None, ""):
                    raise _required(f"location['{key}']")
        elif kind == "contacts":
            if not isinstance(obj, list) or not obj:
                raise _invalid("(#100) Invalid parameter", details="Param contacts must be a non-empty array")
            for index, contact in enumerate(obj):
                if not _get(_get(contact, "name"), "formatted_name"):
                    raise _required(f"contacts[{index}]['name']['formatted_name']")
        elif kind == "template":
            if not _get(obj, "name"):
                raise _required("template['name']")
            language = _get(obj, "language")
            if not _get(language, "code"):
                raise _required("template['language']['code']")
            policy = _get(language, "policy")
            if policy is not None and policy != "deterministic":
                raise _one_of("template['language']['policy']", ("deterministic",), policy)
            components = _get(obj, "components")
            if components is not None and not isinstance(components, list):
                raise _invalid(
                    "(#100) Invalid parameter", details="Param template['components'] must be an array"
                )
        elif kind == "reaction":
            if not _get(obj, "message_id"):
                raise _required("reaction['message_id']")
            if not isinstance(obj, dict) or "emoji" not in obj:
                raise _required("reaction['emoji']")
        elif kind == "interactive":
            self._check_interactive(obj)

    def _check_interactive(self, obj: Any) -> None:
        kind = _get(obj, "type")
        if not kind:
            raise _required("interactive['type']")
        if kind not in self._WA_INTERACTIVE:
            raise _one_of("interactive['type']", self._WA_INTERACTIVE, kind)
        action = _get(obj, "action")
        if not isinstance(action, dict):
            raise _required("interactive['action']")
        needs_body = ("button", "list", "cta_url", "flow", "location_request_message", "address_message")
        if kind in needs_body and not _get(_get(obj, "body"), "text"):
            raise _required("interactive['body']['text']")
        if kind == "button":
            buttons = action.get("buttons")
            if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
                raise _invalid(
                    "(#100) Invalid parameter",
                    details="Param interactive['action']['buttons'] must have 1 to 3 items",
                )
            for index, button in enumerate(buttons):
                reply = _get(button, "reply")
                if _get(button, "type") != "reply" or not _get(reply, "id") or not _get(reply, "title"):
                    raise _required(f"interactive['action']['buttons'][{index}]['reply']")
                if len(str(_get(reply, "title"))) > 20:
                    raise _invalid(
                        "(#100) Invalid parameter",
                        details=f"Param interactive['action']['buttons'][{index}]['reply']['title'] "
                        "must be at most 20 characters long",
                    )
        elif kind == "list":
            self._check_list(action)
        elif kind == "flow":
            if action.get("name") != "flow":
                raise _one_of("interactive['action']['name']", ("flow",), action.get("name"))
            if not isinstance(action.get("parameters"), dict):
                raise _required("interactive['action']['parameters']")
        elif kind == "location_request_message":
            if action.get("name") != "send_location":
                raise _one_of("interactive['action']['name']", ("send_location",), action.get("name"))
        elif kind == "cta_url":
            parameters = action.get("parameters")
            if not _get(parameters, "display_text") or not _get(parameters, "url"):
                raise _required("interactive['action']['parameters']")

    @staticmethod
    def _check_list(action: dict[str, Any]) -> None:
        """An interactive list message's action, as the Cloud API documents it: ``button`` text of 1-20
        characters; 1-10 sections (a title of at most 24, required when there are several) holding
        at most 10 rows in all; each row an ``id`` of at most 200 characters, unique in the message,
        a ``title`` of at most 24 and an optional ``description`` of at most 72."""

        def invalid(details: str) -> GraphError:
            return _invalid("(#100) Invalid parameter", details=details)

        button = action.get("button")
        if not button:
            raise _required("interactive['action']['button']")
        if not isinstance(button, str) or len(button) > 20:
            raise invalid("Param interactive['action']['button'] must be at most 20 characters long")
        sections = action.get("sections")
        if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
            raise invalid("Param interactive['action']['sections'] must have 1 to 10 items")
        seen: set[str] = set()
        for index, section in enumerate(sections):
            name = f"interactive['action']['sections'][{index}]"
            section_title = _get(section, "title")
            if len(sections) > 1 and not section_title:
                raise _required(f"{name}['title']")
            if section_title is not None and len(str(section_title)) > 24:
                raise invalid(f"Param {name}['title'] must be at most 24 characters long")
            rows = _get(section, "rows")
            if not isinstance(rows, list) or not rows:
                raise _required(f"{name}['rows']")
            for row_index, row in enumerate(rows):
                row_name = f"{name}['rows'][{row_index}]"
                row_id, row_title = _get(row, "id"), _get(row, "title")
                if not row_id:
                    raise _required(f"{row_name}['id']")
                if not row_title:
                    raise _required(f"{row_name}['title']")
                if len(str(row_id)) > 200:
                    raise invalid(f"Param {row_name}['id'] must be at most 200 characters long")
                if len(str(row_title)) > 24:
                    raise invalid(f"Param {row_name}['title'] must be at most 24 characters long")
                description = _get(row, "description")
                if description is not None and len(str(description)) > 72:
                    raise invalid(f"Param {row_name}['description'] must be at most 72 characters long")
                if str(row_id) in seen:
                    raise invalid(f"Param {row_name}['id'] must be unique within the message")
                seen.add(str(row_id))
        if len(seen) > 10:
            raise invalid("Param interactive['action']['sections'] must have at most 10 rows in total")

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
        """The Graph error envelope for ``code`` on ``channel``, as fail_next asked for."""
        number = int(code)
        whatsapp = channel == WHATSAPP
        details: str | None = None
        if whatsapp and number in _WHATSAPP_CODES:
            message, status, details = _WHATSAPP_CODES[number]
        elif number in _GRAPH_CODES:
            message, status = _GRAPH_CODES[number]
            if whatsapp and number in {104, 190}:
                status = 401
        else:
            message, status = f"(#{number}) Error injected by the provider sandbox", 400
        if subcode is not None and (number, subcode) in _MESSENGER_SUBCODE_MESSAGES:
            message = _MESSENGER_SUBCODE_MESSAGES[(number, subcode)]
        error = GraphError(
            number,
            message,
            subcode=subcode,
            http_status=http_status if http_status is not None else status,
            details=details,
        )
        reply = graph_error_reply(error, whatsapp=whatsapp)
        if retry_after is not None:
            # Graph says when access returns through X-Business-Use-Case-Usage, in minutes.
            usage = {
                "sandbox": [
                    {
                        "type": "whatsapp" if whatsapp else "messenger",
                        "call_count": 100,
                        "total_cputime": 100,
                        "total_time": 100,
                        "estimated_time_to_regain_access": math.ceil(retry_after / 60),
                    }
                ]
            }
            reply.headers["X-Business-Use-Case-Usage"] = json.dumps(usage, separators=(",", ":"))
        return reply

    # -- receipts ----------------------------------------------------------------------------------

    def receipts(
        self, sent: SentMessage, *, url: str, secret: str, timing: ReceiptTiming
    ) -> list[ScheduledWebhook]:
        """Signed webhooks answering ``sent``: Messenger delivery then read, Instagram seen (read),
        WhatsApp sent, delivered and read statuses."""
        bodies: list[tuple[float, dict[str, Any]]]
        if sent.channel == MESSENGER:
            delivered_at = sent.sent_at + timing.delivered_after
            read_at = sent.sent_at + timing.read_after
            delivery = {"mids": [sent.message_id], "watermark": _ms(delivered_at)}
            read = {"watermark": _ms(read_at)}
            bodies = [
                (timing.delivered_after, _messenger_event(sent, delivered_at, {"delivery": delivery})),
                (timing.read_after, _messenger_event(sent, read_at, {"read": read})),
            ]
        elif sent.channel == INSTAGRAM:
            # Instagram has no delivery webhook; messaging_seen names the message read.
            read_at = sent.sent_at + timing.read_after
            seen = {"read": {"mid": sent.message_id}}
            bodies = [(timing.read_after, _messenger_event(sent, read_at, seen))]
        elif sent.channel == WHATSAPP:
            bodies = [
                (delay, self._whatsapp_status(sent, status, sent.sent_at + delay))
                for status, delay in (
                    ("sent", timing.sent_after),
                    ("delivered", timing.delivered_after),
                    ("read", timing.read_after),
                )
            ]
        else:
            return []
        webhooks = []
        for delay, payload in bodies:
            raw = _encode_webhook(payload)
            webhooks.append(
                ScheduledWebhook(
                    delay=delay, channel=sent.channel, url=url, body=raw, headers=_sign(secret, raw)
                )
            )
        return webhooks

    def _whatsapp_status(self, sent: SentMessage, status: str, at: float) -> dict[str, Any]:
        seconds = int(at)
        entry: dict[str, Any] = {"id": sent.message_id, "status": status, "timestamp": str(seconds)}
        if sent.extra.get("bsuid"):
            entry["recipient_user_id"] = sent.recipient
        else:
            entry["recipient_id"] = sent.recipient
        template = sent.kind == "template"
        category = "utility" if template else "service"
        if status in ("sent", "delivered"):
            # Conversation and pricing ride on sent and delivered only; expiration only on sent.
            conversation: dict[str, Any] = {"id": self._conversation_id(sent)}
            if status == "sent":
                conversation["expiration_timestamp"] = str(seconds + 24 * 3600)
            conversation["origin"] = {"type": category}
            entry["conversation"] = conversation
            entry["pricing"] = {
                "billable": template,
                "pricing_model": "PMP",
                "category": category,
                "type": "regular" if template else "free_customer_service",
            }
        account = sent.account
        display = account.details.get("display_phone_number") or "1555" + account.account_id[-7:].rjust(
            7, "0"
        )
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": display, "phone_number_id": account.account_id},
            "statuses": [entry],
        }
        waba_id = account.details.get("waba_id") or _derived_id(account.account_id)
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": waba_id, "changes": [{"value": value, "field": "messages"}]}],
        }

    def _conversation_id(self, sent: SentMessage) -> str:
        key = (sent.account.account_id, sent.recipient)
        with self._lock:
            if key not in self._conversations:
                self._conversations[key] = secrets.token_hex(16)
            return self._conversations[key]


def _may_manage_page(page_id: str, token: str, accounts: AccountBook) -> bool:
    """Whether ``token`` (one of the Page's) carries ``pages_manage_metadata``: a token registered
    without ``permissions`` has every permission the app asked for."""
    for account in _page_accounts(page_id, accounts):
        if account.token == token:
            granted = account.details.get("permissions")
            if granted is None:
                return True
            return "pages_manage_metadata" in {p.strip() for p in str(granted).split(",")}
    return False


def _page_accounts(page_id: str, accounts: AccountBook) -> list[Account]:
    """The Messenger account registered under ``page_id``, and Instagram accounts whose linked Page it
    is (``page_id`` detail): their tokens are Page tokens of that Page."""
    found = accounts.by_id(page_id, SEND_API_CHANNELS)
    linked = [a for a in accounts.all() if a.channel == INSTAGRAM and a.details.get("page_id") == page_id]
    return found + [a for a in linked if a not in found]


def _cursor(index: int) -> str:
    """An opaque paging cursor, as Graph's (base64 text)."""
    return base64.urlsafe_b64encode(f"sandbox:{index}".encode()).decode().rstrip("=")


def _cursor_index(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, index = text.partition(":")
        if prefix != "sandbox" or not index.isdigit():
            raise ValueError(cursor)
    except ValueError:
        raise _invalid("(#100) The cursor is not valid") from None
    return int(index)


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def _ms(at: float) -> int:
    return int(at * 1000)


def _derived_id(seed: str) -> str:
    """A stable 15-digit id derived from ``seed`` (a WABA id when the caller gave none)."""
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return str(10**14 + int(digest[:12], 16) % (9 * 10**14))


def _messenger_event(sent: SentMessage, at: float, event: Mapping[str, Any]) -> dict[str, Any]:
    """A Messenger/Instagram webhook body: one messaging item from the customer to the account."""
    item: dict[str, Any] = {
        "sender": {"id": sent.recipient},
        "recipient": {"id": sent.account.account_id},
        "timestamp": _ms(at),
        **event,
    }
    return {
        "object": "instagram" if sent.channel == INSTAGRAM else "page",
        "entry": [{"id": sent.account.account_id, "time": _ms(at), "messaging": [item]}],
    }
