"""Twilio Programmable Messaging: SMS, MMS and WhatsApp through Twilio, both directions.

Inbound (Twilio docs: "Webhooks security", "Twilio's request to your incoming message Webhook URL",
"Outbound message status in status callbacks", "WhatsApp: receiving messages"):

- Every request is ``application/x-www-form-urlencoded`` and every value is a string.
  ``X-Twilio-Signature`` = base64(HMAC-SHA1(auth token, full URL + every POST parameter's key and
  value, keys sorted; a repeated key's values sorted, exact duplicates removed)). For JSON bodies
  the URL carries ``bodySHA256`` = hex SHA-256 of the body and no parameters are signed. Validators
  try the URL with and without the port (Twilio's SDKs add the default :443/:80 when there is none
  and strip any port), so we do the same (:func:`signature_matches`).
- The auth token belongs to the Twilio account named by the form's ``AccountSid``; it is read from
  Secret Manager as ``twilio-auth-token-<AccountSid>`` (:func:`auth_token_name`). Since the request
  itself picks the account that verifies it, every event carries that ``AccountSid`` as its
  ``signer``, and ingest accepts it only on a route connected with the same account: another
  tenant's Twilio account cannot sign its way into a number it does not own.
- One POST is one message or one status callback: :meth:`TwilioAdapter.split` gives one item
  ``{"params": {key: value}}`` (a list of values for a key that came more than once).
- Inbound messages: ``To`` is our number exactly as Twilio sends it (``+15550100``, a short code
  without ``+``, ``whatsapp:+15550100``) and routes the event; ``From`` is the customer
  (``whatsapp:+E164`` or a business-scoped ``whatsapp:US.1234``). An MMS may have no ``Body``;
  media come as ``MediaUrl{N}`` / ``MediaContentType{N}``. A Body that looks like base64 is text.
- Status callbacks (``MessageStatus``) are about our messages, so the roles invert: ``From`` is our
  number (``account_id``) and ``To`` the customer. ``undelivered`` counts as failed; ``receiving``
  / ``received`` are about inbound messages and give no receipt. Twilio also sends minimal
  callbacks (``MessageSid`` and ``MessageStatus``, no ``From`` or ``To``): our sends name our
  number and the customer in the status-callback URL (``?via=&to=``, :func:`status_callback_url`),
  which Twilio signs with the rest of the URL, and that routes them. A callback with neither
  cannot be routed and is quarantined.

Choices made here: a ``ButtonText`` counts as a button press only on a channel that has buttons
(``whatsapp:`` and other prefixed addresses), never on plain SMS, where it is ignored and ``Body``
is the message (as courier does). Outbound, Twilio's Messages API has no reaction and no
mark-as-read call: a reaction is refused (permanent ``unsupported``, so the agent learns it did not
arrive) and mark_read is a no-op. WhatsApp templates are Content API templates: ``template_name``
is the Content SID (``HX...``) and the parameters become ``ContentVariables`` ``{"1": ..., "2": ...}``.

Outbound errors come in the legacy ``{code, message, more_info, status}`` shape and the RFC 9457
``{type, title, status, detail, code?}`` shape; both map through :data:`TWILIO_ERRORS`, the module's
one table (Twilio "Error and warning dictionary").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import mimetypes
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from shared.channels import media_limits
from shared.channels.base import (
    MEDIA_KINDS,
    Acknowledgement,
    Capabilities,
    ChannelAdapter,
    ConnectRequest,
    csat_text,
    refused,
)
from shared.channels.payload import as_dict, as_float, as_id, as_text, form_pairs, header
from shared.config import settings
from shared.errors import (
    InvalidSecretName,
    MissingSecret,
    ParseError,
    ProviderError,
    Refused,
    SignatureError,
)
from shared.models import (
    Attachment,
    ChoiceContent,
    InboundEvent,
    LocationContent,
    MediaContent,
    MessageContent,
    MessageEvent,
    ReceiptError,
    ReceiptEvent,
    ReferralContent,
    TextContent,
    UnsupportedContent,
    stable_event_id,
)
from shared.models.events import build
from shared.models.outbound import ChannelAccount, OutboundMessage, SendResult

__all__ = [
    "SIGNATURE_HEADER",
    "TWILIO_ERRORS",
    "TwilioAdapter",
    "auth_token_name",
    "compute_signature",
    "form_body",
    "form_params",
    "provider_error",
    "request_for",
    "send_message",
    "signature_matches",
    "status_callback_url",
]

KIND = "twilio"
SIGNATURE_HEADER = "X-Twilio-Signature"
API_VERSION = "2010-04-01"
_ACCOUNT_SID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # becomes part of a Secret Manager name
ACCOUNT_SID_PATTERN = re.compile(r"AC[0-9a-fA-F]{32}")  # what connect-channel accepts
E164_PATTERN = re.compile(r"\+[1-9]\d{5,14}")  # an SMS number, as IncomingPhoneNumbers names it
_MEDIA_URL_KEY = re.compile(r"MediaUrl(\d{1,3})")
_PHONE = re.compile(r"\+\d{4,16}")
_DEFAULT_PORTS = {"https": 443, "http": 80}
_HOST_PORT = re.compile(r"(?P<host>\[[^\]]*\]|[^:\[\]]*)(?::(?P<port>\d*))?")

Params = Mapping[str, str | list[str]]


# --- signature -----------------------------------------------------------------------------------


def auth_token_name(account_sid: str) -> str:
    """Secret Manager id of a Twilio account's auth token."""
    return f"twilio-auth-token-{account_sid}"


def _pairs(params: Params | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    if isinstance(params, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, value in params.items():
            for one in value if isinstance(value, list) else [value]:
                pairs.append((key, one))
        return pairs
    return list(params)


def compute_signature(auth_token: str, url: str, params: Params | Iterable[tuple[str, str]]) -> str:
    """Twilio's signature of a request: base64(HMAC-SHA1(auth token, ``url`` + key+value of every
    parameter, keys sorted, each key's values sorted with exact duplicates removed))."""
    by_key: dict[str, set[str]] = {}
    for key, value in _pairs(params):
        by_key.setdefault(key, set()).add(value)
    data = url + "".join(key + value for key in sorted(by_key) for value in sorted(by_key[key]))
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _url_variants(url: str) -> list[str]:
    """``url`` without any port, and with the scheme's default port when it names none (what
    Twilio's own validators try: the URL Twilio signed may or may not show the port)."""
    split = urllib.parse.urlsplit(url)
    userinfo, at, hostport = split.netloc.rpartition("@")
    match = _HOST_PORT.fullmatch(hostport)
    if match is None:
        return [url]
    host, port = match["host"], match["port"]
    without = urllib.parse.urlunsplit(split._replace(netloc=f"{userinfo}{at}{host}"))
    if port:
        return [without, url]
    default = _DEFAULT_PORTS.get(split.scheme.lower())
    if default is None:
        return [url]
    return [url, urllib.parse.urlunsplit(split._replace(netloc=f"{userinfo}{at}{host}:{default}"))]


def signature_matches(
    auth_token: str, url: str, params: Params | Iterable[tuple[str, str]], signature: str | None
) -> bool:
    """Whether ``signature`` signs ``url`` and ``params`` under ``auth_token`` (constant-time
    compare, for each URL variant :func:`_url_variants` gives)."""
    if not signature or not auth_token:
        return False
    provided = signature.strip().encode("utf-8")
    pairs = _pairs(params)
    matched = False
    for candidate in _url_variants(url):
        expected = compute_signature(auth_token, candidate, pairs).encode("ascii")
        matched |= hmac.compare_digest(expected, provided)
    return matched


def form_params(body: bytes) -> list[tuple[str, str]]:
    """The form's ``(key, value)`` pairs in order, blank values kept; ParseError unless UTF-8."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("twilio form body is not UTF-8") from None
    return form_pairs(text)  # urllib.parse.parse_qsl(text, keep_blank_values=True), faster


def form_body(raw: bytes) -> bytes:
    """A Twilio webhook body as Twilio posts it (``application/x-www-form-urlencoded``): ``raw``
    itself, unless its first non-space byte is ``{``: then a JSON object of the form's fields (each a
    string, or a list of strings for a repeated field), encoded as the form. ParseError otherwise."""
    if not raw.lstrip().startswith(b"{"):
        return raw
    try:
        fields = json.loads(raw)
    except ValueError as exc:
        raise ParseError(f"not a JSON object of Twilio form fields: {exc}") from None
    if not isinstance(fields, dict):
        raise ParseError("not a JSON object of Twilio form fields")
    pairs: list[tuple[str, str]] = []
    for key, value in fields.items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str) for item in values):
            raise ParseError(f"Twilio form field {key!r} must be a string or a list of strings")
        pairs.extend((key, item) for item in values)
    return urllib.parse.urlencode(pairs).encode()


def _body_sha256(url: str) -> str | None:
    values = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("bodySHA256")
    return values[0] if values else None


# --- the adapter ---------------------------------------------------------------------------------


def _secret_token(account_sid: str) -> str:
    from shared import secrets

    return secrets.secret(auth_token_name(account_sid))


class TwilioAdapter(ChannelAdapter):
    """Twilio numbers and WhatsApp senders: inbound messages and status callbacks, outbound sends."""

    kind: ClassVar[str] = KIND
    # The Messages API has no reactions and no read receipts. Content API templates can be sent
    # (request_for) but are not offered to agents, and no reply window is kept for Twilio.
    # Several files go as ONE message (MediaUrl repeated), up to 10 and 5 MB together.
    capabilities: ClassVar[Capabilities] = Capabilities(
        media=MEDIA_KINDS,
        media_limits=media_limits.TWILIO,
        max_attachments=media_limits.TWILIO_MAX_FILES,
        max_total_bytes=media_limits.TWILIO_MAX_TOTAL_BYTES,
        max_text_length=1600,  # Messages API: "Body ... up to 1,600 characters" (error 21617)
        csat="link",  # SMS has no buttons (Twilio WhatsApp buttons need a Content template): a link
    )
    # Twilio wants TwiML back: an empty <Response/> sends no automatic reply.
    acknowledgement: ClassVar[Acknowledgement] = Acknowledgement(
        '<?xml version="1.0" encoding="UTF-8"?><Response/>', "text/xml"
    )
    environment: ClassVar[tuple[str, ...]] = ("TWILIO_API_BASE_URL", "SWITCHBOARD_PUBLIC_BASE_URL")
    connect_options: ClassVar[frozenset[str]] = frozenset({"account_sid"})
    connect_note: ClassVar[str | None] = (
        "Twilio: set the number's messaging webhook to the webhook_twilio URL (terraform output webhook_urls)"
    )

    def __init__(self, *, auth_tokens: Callable[[str], str] | None = None) -> None:
        # account SID -> auth token; Secret Manager (or the local secrets map) by default.
        self._auth_tokens = auth_tokens or _secret_token

    # -- inbound --

    def verify(self, headers: Mapping[str, str], body: bytes, url: str) -> None:
        """Raise SignatureError unless ``X-Twilio-Signature`` signs ``url`` and the form (or, for a
        JSON body, ``url`` with its ``bodySHA256``) under the auth token of the form's AccountSid."""
        signature = header(headers, SIGNATURE_HEADER)
        if not signature:
            raise SignatureError(f"missing {SIGNATURE_HEADER} header")
        body_hash = _body_sha256(url)
        params: list[tuple[str, str]]
        if body_hash is not None:
            # JSON body: the URL signs the body through its hash; no parameters are signed.
            expected_hash = hashlib.sha256(body).hexdigest()
            if not hmac.compare_digest(expected_hash.encode(), body_hash.lower().encode()):
                raise SignatureError("bodySHA256 does not match the body")
            params = []
            account_sid = _json_account_sid(body)
        else:
            try:
                params = form_params(body)
            except ParseError:
                raise SignatureError("twilio form body is not UTF-8") from None
            account_sid = next((value for key, value in params if key == "AccountSid"), None)
        if not account_sid or not _ACCOUNT_SID.fullmatch(account_sid):
            raise SignatureError("the request does not name a Twilio account (AccountSid)")
        try:
            token = self._auth_tokens(account_sid)
        except (MissingSecret, InvalidSecretName):  # not one of our Twilio accounts
            raise SignatureError("no auth token is configured for this Twilio account") from None
        if not signature_matches(token, url, params, signature):
            raise SignatureError(f"{SIGNATURE_HEADER} does not match the request")

    def split(self, body: bytes, url: str) -> list[dict[str, Any]]:
        """One item ``{"params": {...}}`` per POST (repeated keys keep every value as a list), plus
        ``"via"`` and ``"to"``: our number and the customer, as our send named them in its
        status-callback URL (signed with the rest of the URL), which route a callback that carries
        no From or To."""
        pairs = form_params(body)
        if not pairs:
            return []
        params: dict[str, str | list[str]] = {}
        for key, value in pairs:
            if key in params:
                previous = params[key]
                params[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                params[key] = value
        item: dict[str, Any] = {"params": params}
        query = urllib.parse.urlsplit(url).query
        if query:
            # The first non-blank value of each (what parse_qs(query)[key][0] gives).
            named: dict[str, str] = {}
            for key, value in form_pairs(query):
                if value and key in (VIA, TO) and key not in named:
                    named[key] = value
            if VIA in named:
                item.update(named)
        return [item]

    def posted_body(self, raw: bytes) -> bytes:
        """The form Twilio posts: ``raw`` itself, or a JSON object of the form's fields encoded as
        the form (see :func:`form_body`)."""
        return form_body(raw)

    def parse_item(self, item: dict[str, Any]) -> list[InboundEvent]:
        """An inbound message (MessageEvent, plus a referral when a WhatsApp ad brought the
        customer) or a status callback (ReceiptEvent); ``receiving``/``received`` callbacks give
        nothing."""
        params = item.get("params")
        if not isinstance(params, dict):
            raise ParseError("twilio item without params")
        status = _param(params, "MessageStatus")
        sms_status = _param(params, "SmsStatus")
        if status is None and sms_status not in (None, "received", "receiving"):
            status = sms_status  # older callbacks carry only SmsStatus
        has_content = _param(params, "Body") is not None or _param(params, "NumMedia") is not None
        if status is not None and status.lower() in ("received", "receiving"):
            return self._inbound(item, params) if has_content else []
        if status is not None:
            return [self._receipt(item, params, status)]
        return self._inbound(item, params)

    # -- inbound messages --

    def _inbound(self, item: dict[str, Any], params: dict[str, Any]) -> list[InboundEvent]:
        sid = _param(params, "MessageSid") or _param(params, "SmsMessageSid") or _param(params, "SmsSid")
        if sid is None:
            raise ParseError("twilio message without MessageSid")
        account_id, contact_id = _param(params, "To"), _param(params, "From")
        if not account_id or not contact_id:
            raise ParseError("twilio message without To or From")
        envelope = {
            "channel": KIND,
            "account_id": account_id,
            "contact_id": contact_id,
            "occurred_at": None,  # Twilio's request carries no time
            "signer": _param(params, "AccountSid"),
            "raw": item,
        }
        fields = {
            **envelope,
            "event_id": sid,
            "message_id": sid,
            "content": message_content(params, buttons=_has_channel_prefix(account_id, contact_id)),
            "contact_name": _param(params, "ProfileName"),
            "contact_handle": _handle(params, contact_id),
            "reply_to": _param(params, "OriginalRepliedMessageSid"),
            "forwarded": _param(params, "Forwarded") == "true"
            or _param(params, "FrequentlyForwarded") == "true",
        }
        events: list[InboundEvent] = [build(MessageEvent, fields)]
        referral = _referral(params)
        if referral is not None:
            # Click-to-WhatsApp ad: the message keeps its content; the ad is a referral beside it.
            event_id = stable_event_id(KIND, account_id, "referral", sid)
            fields = {**envelope, "event_id": event_id, "message_id": event_id, "content": referral}
            events.append(build(MessageEvent, fields))
        return events

    # -- status callbacks --

    def _receipt(self, item: dict[str, Any], params: dict[str, Any], provider_status: str) -> ReceiptEvent:
        sid = _param(params, "MessageSid") or _param(params, "SmsSid")
        if sid is None:
            raise ParseError("twilio status callback without MessageSid")
        # Our message: From is our number (routes the event), To is the customer. A minimal
        # callback has no From: the number our send put in the callback URL routes it.
        via = item.get("via")
        account_id = _param(params, "From") or (via if isinstance(via, str) and via else None)
        if not account_id:
            raise ParseError("twilio status callback without From (our number): cannot route it")
        lowered = provider_status.lower()
        status = _STATUSES.get(lowered, provider_status)
        code = _param(params, "ErrorCode")
        error = None
        if code or _param(params, "ErrorMessage"):
            known = _lookup(code)
            error = ReceiptError(
                code=code,
                title=_param(params, "ErrorMessage") or (known[1] if known else None),
                detail=_param(params, "ChannelStatusMessage"),
            )
        done = _param(params, "RawDlrDoneDate")
        fields = {
            "channel": KIND,
            "account_id": account_id,
            "contact_id": _param(params, "To") or (to if isinstance(to := item.get("to"), str) else ""),
            "event_id": stable_event_id(KIND, account_id, "status", sid, provider_status, code, done),
            "occurred_at": _dlr_time(done),
            "signer": _param(params, "AccountSid"),
            "raw": item,
            "status": status,
            "message_ids": (sid,),
            "error": error,
            "provider_status": provider_status,
        }
        return build(ReceiptEvent, fields)

    # -- outbound --

    def fetch_media(self, account: ChannelAccount, ref: Mapping[str, Any], *, timeout: float) -> Any:
        """``MediaUrl{N}`` with HTTP basic auth (account SID, auth token), only on Twilio's REST
        host; Twilio answers a redirect to its CDN, where the credentials are not sent again."""
        from shared.channels import downloads
        from shared.channels.base import MAX_MEDIA_FETCH_BYTES, FetchedMedia
        from shared.errors import MediaUnavailable

        url = ref.get("url")
        if not isinstance(url, str) or not url:
            raise MediaUnavailable("the message carries no MediaUrl")
        rest_host = urllib.parse.urlsplit(account.base_url).hostname or "api.twilio.com"
        if not downloads.host_allowed(url, ("api.twilio.com", rest_host)):
            raise MediaUnavailable("the MediaUrl is not on Twilio's REST host")
        if not account.account_sid:
            raise MediaUnavailable("the channel has no account SID to fetch its media with")
        data, headers = downloads.get(
            url,
            channel=KIND,
            timeout=timeout,
            limit=MAX_MEDIA_FETCH_BYTES,
            auth=(account.account_sid, account.token),
        )
        return FetchedMedia(
            data=data,
            content_type=headers.get("Content-Type") or ref.get("mimeType"),
            file_name=ref.get("fileName") or downloads.file_name_of(headers),
        )

    def account(self, channel: Mapping[str, Any], token: str) -> ChannelAccount:
        """The number, the account SID that owns it and its auth token, on the REST root; status
        callbacks go to the channel's own URL, else to our public Twilio webhook."""
        return ChannelAccount(
            channel=KIND,
            external_id=str(channel["externalId"]),
            token=token,
            base_url=settings().twilio_api_base_url,
            account_sid=channel.get("accountSid"),
            status_callback_url=channel.get("statusCallbackUrl") or self.public_webhook_url(),
        )

    def send(
        self, account: ChannelAccount, recipient: str, message: OutboundMessage, *, timeout: float
    ) -> SendResult:
        """Create a Message (``POST /2010-04-01/Accounts/{sid}/Messages.json``); mark_read is a
        no-op and reactions are refused: Twilio's Messages API has neither."""
        return send_message(account, recipient, message, timeout)

    # -- connecting a number --

    def check_connection(self, request: ConnectRequest) -> None:
        """The account that owns the number is required: its auth token signs the webhooks."""
        if not request.account_sid:
            raise refused("--account-sid is required for twilio channels (the account that owns the number)")
        if not ACCOUNT_SID_PATTERN.fullmatch(request.account_sid):
            raise refused(f"not a Twilio account SID (AC and 32 hex digits): {request.account_sid!r}")

    def test_connection(self, request: ConnectRequest, token: str) -> dict[str, Any]:
        """``GET /2010-04-01/Accounts/{AccountSid}.json`` with the SID and auth token (HTTP basic):
        the account's friendly name and status, or Twilio's 20003 (401) for wrong credentials; then,
        for an SMS number (``+E164``), ``GET .../IncomingPhoneNumbers.json?PhoneNumber=<number>``:
        refused ``number_not_on_account`` when the account owns no such number. A short code or a
        ``whatsapp:`` sender is not an IncomingPhoneNumber (short codes and WhatsApp senders,
        Twilio's shared sandbox number among them, are other resources): answered unchecked."""
        self.check_connection(request)
        sid = str(request.account_sid)
        base = f"{settings().twilio_api_base_url.rstrip('/')}/{API_VERSION}/Accounts/{sid}"
        body = _rest_get(f"{base}.json", sid, token)
        if body.get("status") not in (None, "active"):
            raise refused(f"Twilio account {sid} is {body.get('status')}, not active")
        account: dict[str, Any] = {
            "name": as_text(body.get("friendly_name")) or sid,
            "status": as_text(body.get("status")),
        }
        number = request.external_id
        if not E164_PATTERN.fullmatch(number):
            return {**account, "numberChecked": False}
        listed = _rest_get(f"{base}/IncomingPhoneNumbers.json", sid, token, params={"PhoneNumber": number})
        owned = [
            entry
            for entry in listed.get("incoming_phone_numbers") or []
            if isinstance(entry, dict) and entry.get("phone_number") == number
        ]
        if not owned:
            raise Refused(
                "number_not_on_account",
                f"{number} is not a phone number of Twilio account {sid} (its IncomingPhoneNumbers list "
                "no such number): check the number and the account SID",
            )
        capabilities = owned[0].get("capabilities") if isinstance(owned[0].get("capabilities"), dict) else {}
        if capabilities.get("sms") is False:
            raise Refused(
                "number_not_on_account", f"{number} of Twilio account {sid} cannot send or receive SMS"
            )
        return {**account, "numberChecked": True, "numberName": as_text(owned[0].get("friendly_name"))}

    def store_token(self, channel: Mapping[str, Any], token: str) -> str | None:
        """Twilio signs its webhooks with the account's auth token, which :meth:`verify` looks up by
        AccountSid: keep it there too (one value per account, shared by all its numbers)."""
        account_sid = channel.get("accountSid")
        if not account_sid:
            return None
        from shared import secrets

        name = auth_token_name(str(account_sid))
        secrets.add_secret_version(name, token, labels={"kind": "twilio-auth-token"})
        return name


# Twilio MessageStatus -> Switchboard's receipt status; anything else is kept as Twilio said it.
_STATUSES = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",
}


def _param(params: Mapping[str, Any], key: str) -> str | None:
    """A form value (the first, for a key sent more than once); None when absent or not text."""
    value = params.get(key)
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def _json_account_sid(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    data = as_dict(data)
    return (
        as_text(data.get("AccountSid")) or as_text(data.get("account_sid")) or as_text(data.get("accountSid"))
    )


def _has_channel_prefix(*addresses: str) -> bool:
    """Whether an address is a channel address (``whatsapp:``, ``rcs:``...) rather than a number."""
    return any(":" in address for address in addresses)


def _handle(params: Mapping[str, Any], contact_id: str) -> str | None:
    """What agents see: WhatsApp's WaId, else the phone number or short code in From (a
    business-scoped ``US.1234`` is not a phone number)."""
    wa_id = _param(params, "WaId")
    if wa_id:
        return wa_id
    address = contact_id.split(":", 1)[1] if ":" in contact_id else contact_id
    if _PHONE.fullmatch(address) or address.isdigit():
        return address
    return None


def _dlr_time(value: str | None) -> datetime | None:
    # RawDlrDoneDate: the carrier's delivery report time, YYMMDDhhmm (UTC).
    if not value or not value.isdigit() or len(value) != 10:
        return None
    try:
        return datetime.strptime(value, "%y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        return None


def _media(params: Mapping[str, Any]) -> list[Attachment]:
    """``MediaUrl{N}`` / ``MediaContentType{N}`` for N below NumMedia (and any others present)."""
    indexes = {int(m[1]) for key in params if (m := _MEDIA_URL_KEY.fullmatch(key))}
    declared = as_float(_param(params, "NumMedia"))
    if declared is not None and declared.is_integer() and 0 < declared <= 50:
        indexes |= {i for i in range(int(declared)) if _param(params, f"MediaUrl{i}")}
    files = []
    for index in sorted(indexes):
        url = _param(params, f"MediaUrl{index}")
        if url:
            files.append(Attachment(url=url, mime_type=_param(params, f"MediaContentType{index}")))
    return files


def _media_type(files: list[Attachment]) -> str:
    """image / audio / video when every file is of that kind, else document. The declared
    MediaContentType decides; without one, the URL's extension does (the type is not invented
    into ``mime_type``, which stays as Twilio sent it)."""
    kinds = set()
    for attachment in files:
        mime = (
            attachment.mime_type or mimetypes.guess_type(urllib.parse.urlsplit(attachment.url or "").path)[0]
        )
        major = (mime or "").split("/", 1)[0].lower()
        kinds.add(major if major in ("image", "audio", "video") else "document")
    return kinds.pop() if len(kinds) == 1 else "document"


def message_content(params: Mapping[str, Any], *, buttons: bool) -> MessageContent:
    """The content of an inbound message: a button or list reply (WhatsApp), a location, media
    (the Body is their caption), or the Body as text."""
    body = _param(params, "Body")
    if buttons:
        payload, title = _param(params, "ButtonPayload"), _param(params, "ButtonText")
        if payload is not None or title is not None:
            return ChoiceContent(choice="button", title=title, payload=payload)
        list_id, list_title = _param(params, "ListId"), _param(params, "ListTitle")
        if list_id is not None or list_title is not None:
            return ChoiceContent(choice="list_reply", title=list_title, payload=list_id)
    latitude, longitude = as_float(_param(params, "Latitude")), as_float(_param(params, "Longitude"))
    if latitude is not None and longitude is not None:
        return LocationContent(
            latitude=latitude,
            longitude=longitude,
            name=_param(params, "Label"),
            address=_param(params, "Address"),
        )
    files = _media(params)
    if files:
        files = [f.model_copy(update={"caption": body}) for f in files] if body else files
        return MediaContent(
            type=_media_type(files),  # type: ignore[arg-type]
            attachments=tuple(files),
            text=body or None,
        )
    if body is not None:
        return TextContent(text=body)  # never decoded: a Body that looks like base64 is still text
    return UnsupportedContent(
        provider_type=_param(params, "MessageType") or "message", reason="no Body and no media"
    )


def _referral(params: Mapping[str, Any]) -> ReferralContent | None:
    # WhatsApp click-to-WhatsApp ads through Twilio: Referral{SourceId, SourceType, SourceUrl,
    # Headline, Body, CtwaClid}.
    keys = ("ReferralSourceId", "ReferralSourceUrl", "ReferralCtwaClid", "ReferralHeadline")
    if not any(_param(params, key) for key in keys):
        return None
    source_type = _param(params, "ReferralSourceType")
    source_id = _param(params, "ReferralSourceId")
    return ReferralContent(
        source=source_type,
        ref=_param(params, "ReferralCtwaClid") or source_id,
        ad_id=source_id if source_type and source_type.lower() == "ad" else None,
        url=_param(params, "ReferralSourceUrl"),
        headline=_param(params, "ReferralHeadline"),
        text=_param(params, "ReferralBody"),
    )


# --- outbound ------------------------------------------------------------------------------------

# The one table of Twilio error codes: code -> (transient, reason for agents, channel health).
# Unknown codes are transient for HTTP 429 and 5xx, permanent otherwise.
TWILIO_ERRORS: dict[int, tuple[bool, str, str | None]] = {
    20003: (False, "Twilio refused the credentials: check the account SID and auth token.", "token_expired"),
    20404: (False, "Twilio does not know this resource (wrong account SID?).", "permission"),
    20429: (True, "Too many requests to Twilio at once: retrying.", None),
    20500: (True, "Twilio had an internal error.", None),
    20503: (True, "Twilio is temporarily unavailable.", None),
    21211: (False, "The 'To' number is not a valid phone number.", None),
    21408: (False, "Sending to this region is not enabled on the Twilio account.", "permission"),
    21602: (False, "A message needs a body, media or a template.", None),
    21603: (False, "A 'From' number is required.", None),
    21604: (False, "A 'To' number is required.", None),
    21606: (False, "The 'From' number cannot send this message (not SMS-capable or not ours).", "permission"),
    21608: (False, "A trial account can only send to verified numbers.", "permission"),
    21610: (
        False,
        "The customer unsubscribed (replied STOP); they must reply START to receive messages.",
        None,
    ),
    21612: (False, "Twilio cannot route a message between these two numbers.", None),
    21614: (False, "The 'To' number is not a mobile number and cannot receive SMS.", None),
    21617: (False, "The message is longer than Twilio allows (1600 characters).", None),
    21620: (False, "A media URL is invalid.", None),
    21655: (False, "The template (ContentSid) is invalid.", None),
    21656: (False, "The template variables (ContentVariables) are invalid.", None),
    21910: (False, "From and To are on different channels (e.g. WhatsApp and SMS).", None),
    30001: (True, "Twilio's queue for this number overflowed.", None),
    30003: (False, "The handset is unreachable.", None),
    30004: (False, "The message was blocked (the customer or the carrier blocks it).", None),
    30005: (False, "The number is unknown or no longer exists.", None),
    30006: (False, "The number is a landline or unreachable by SMS.", None),
    30007: (False, "The carrier filtered the message as spam.", None),
    30008: (False, "The carrier reported an unknown error.", None),
    63003: (False, "WhatsApp could not find the recipient.", None),
    63007: (False, "Twilio has no WhatsApp sender for this 'From' address.", "permission"),
    63016: (False, "Outside WhatsApp's 24-hour window: send an approved template.", None),
    63018: (True, "WhatsApp's rate limit for this sender was reached.", None),
    63024: (False, "The recipient is not a valid WhatsApp user.", None),
    63032: (False, "WhatsApp does not deliver to this user (ecosystem engagement limit).", None),
}


def _lookup(code: str | int | None) -> tuple[bool, str, str | None] | None:
    if code is None:
        return None
    text = str(code).strip()
    return TWILIO_ERRORS.get(int(text)) if text.isdigit() else None


def _code_from(body: Mapping[str, Any]) -> str | None:
    code = as_id(body.get("code"))
    if code is not None:
        return code
    # RFC 9457: the code may only be in the type URI (https://www.twilio.com/docs/errors/21610).
    kind = as_text(body.get("type"))
    match = re.search(r"/(\d{5})/?$", kind or "")
    return match[1] if match else None


def provider_error(
    http_status: int | None, body: Any, headers: Mapping[str, str] | None = None
) -> ProviderError:
    """Turn a Twilio REST error (legacy ``{code, message, more_info, status}`` or RFC 9457
    ``{type, title, status, detail, code?}``) into a ProviderError: by code first, HTTP status
    second. ``Retry-After`` (seconds) is honoured."""
    body = body if isinstance(body, dict) else {}
    code = _code_from(body)
    message = as_text(body.get("message")) or as_text(body.get("title")) or f"HTTP {http_status}"
    detail = as_text(body.get("detail")) or message
    known = _lookup(code)
    if known is not None:
        transient, reason, health = known
    else:
        transient = http_status is None or http_status == 429 or http_status >= 500
        reason, health = message, None
    retry_after = as_float(header(headers, "Retry-After")) if headers is not None else None
    return ProviderError(
        f"{reason} (Twilio error {code or http_status})",
        channel=KIND,
        code=code or (str(http_status) if http_status else None),
        http_status=http_status,
        transient=transient,
        retry_after=retry_after if transient else None,
        health=health,
        detail=detail[:500],
    )


def _rest_get(url: str, sid: str, token: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One authenticated GET of Twilio's REST API: the JSON object, or ProviderError (unreachable:
    transient; an error answer by its Twilio code)."""
    import requests

    try:
        response = requests.get(
            url, params=params, auth=(sid, token), timeout=settings().provider_timeout_seconds
        )
    except requests.RequestException as exc:
        raise _unreachable(exc) from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 400 or not isinstance(body, dict):
        raise provider_error(response.status_code, body, response.headers)
    return body


def _unreachable(exc: Exception) -> ProviderError:
    """A network failure on the way to Twilio's API: transient, so the call is retried."""
    return ProviderError(
        f"Twilio API unreachable: {type(exc).__name__}",
        channel=KIND,
        code=None,
        http_status=None,
        transient=True,
    )


def _permanent(reason: str, code: str = "unsupported") -> ProviderError:
    return ProviderError(reason, channel=KIND, code=code, http_status=None, transient=False)


def request_for(
    account: ChannelAccount, recipient: str, message: OutboundMessage
) -> dict[str, str | list[str]] | None:
    """The form fields of ``POST .../Messages.json`` for ``message`` (None: nothing to call); a
    message with several uploaded files repeats ``MediaUrl``, one signed URL per file (Twilio
    takes up to 10 in one message)."""
    if message.type in ("mark_read", "typing"):
        return None  # no read receipts or typing indicators through Twilio's Messages API
    if message.type == "reaction":
        raise _permanent("Twilio's Messages API cannot send reactions")
    sender = account.external_id
    to = recipient
    if sender.startswith("whatsapp:") and not to.startswith("whatsapp:"):
        to = f"whatsapp:{to}"  # both sides of a WhatsApp message carry the channel prefix
    form: dict[str, str | list[str]] = {"To": to, "From": sender}
    if message.type == "text":
        if not message.text:
            raise _permanent("a text message needs text", code="invalid_request")
        form["Body"] = message.text
    elif message.type == "rating" and message.rating:
        # No buttons: a typed score (shared/csat.py typed_score) or the rating page's link.
        form["Body"] = csat_text(message.text or "", message.rating.link)
    elif message.type in ("image", "audio", "video", "document"):
        if message.attachments:
            # Uploaded files: short-lived signed URLs that Twilio fetches when it sends, all in one
            # message (send_message checked the count and the total size against the capabilities).
            from shared.channels import outbound_media

            if len(message.attachments) > media_limits.TWILIO_MAX_FILES:
                raise _permanent(
                    f"Twilio takes at most {media_limits.TWILIO_MAX_FILES} files per message",
                    code="21623",
                )
            form["MediaUrl"] = [outbound_media.link(KIND, media) for media in message.attachments]
        elif not message.media_url:
            raise _permanent(f"a {message.type} message needs media_url", code="invalid_request")
        else:
            form["MediaUrl"] = message.media_url
        if message.caption:
            form["Body"] = message.caption
    elif message.type == "template":
        # Content API: template_name is the Content SID (HX...); variables are numbered from 1.
        if not message.template_name:
            raise _permanent("a template message needs its Content SID", code="invalid_request")
        form["ContentSid"] = message.template_name
        if message.template_parameters:
            variables = {str(i): p.text for i, p in enumerate(message.template_parameters, start=1)}
            form["ContentVariables"] = json.dumps(variables, ensure_ascii=False)
    if account.status_callback_url:
        form["StatusCallback"] = status_callback_url(account.status_callback_url, account.external_id, to)
    return form


VIA, TO = "via", "to"  # the status-callback URL's parameters: our number, the customer


def status_callback_url(base: str, number: str, customer: str) -> str:
    """``base`` with ``?via=<our number>&to=<the customer>``: Twilio may send minimal status
    callbacks (MessageSid and MessageStatus, no From or To), and signs the URL it calls, so the
    URL routes them to the number and the conversation."""
    split = urllib.parse.urlsplit(base)
    query = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
    query = [(k, v) for k, v in query if k not in (VIA, TO)] + [(VIA, number), (TO, customer)]
    return urllib.parse.urlunsplit(split._replace(query=urllib.parse.urlencode(query)))


def send_message(
    account: ChannelAccount, recipient: str, message: OutboundMessage, timeout: float
) -> SendResult:
    """Create a Message with HTTP basic auth (AccountSid, auth token); the provider message id is
    the answer's ``sid``."""
    import requests

    form = request_for(account, recipient, message)
    if form is None:
        return SendResult(provider_message_id=None)
    if not account.account_sid:
        raise _permanent("the Twilio channel has no account SID configured", code="configuration")
    url = f"{account.base_url.rstrip('/')}/{API_VERSION}/Accounts/{account.account_sid}/Messages.json"
    try:
        response = requests.post(url, data=form, auth=(account.account_sid, account.token), timeout=timeout)
    except requests.RequestException as exc:
        raise _unreachable(exc) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400 or not isinstance(body, dict):
        if response.status_code < 400:
            raise ProviderError(
                "Twilio answered without a Message resource",
                channel=KIND,
                code="invalid_response",
                http_status=response.status_code,
                transient=False,
            )
        raise provider_error(response.status_code, body, response.headers)
    return SendResult(provider_message_id=as_text(body.get("sid")), response=body)
