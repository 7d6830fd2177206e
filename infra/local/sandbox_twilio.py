"""Twilio's Messages API in the provider sandbox: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``,
``GET /2010-04-01/Accounts/{AccountSid}.json`` (the Account resource: a credentials check), and the
account's phone numbers: ``GET .../IncomingPhoneNumbers.json`` (list; ``PhoneNumber`` filters, ``*``
matching any one digit; ``PageSize`` 1-1000, default 50; the page's ``incoming_phone_numbers`` with
``first_page_uri``, ``next_page_uri``, ``page``, ``page_size``, ``start``, ``end``, ``uri``) and
``GET .../IncomingPhoneNumbers/{PN sid}.json`` (one, or 20404 "The requested resource ... was not
found"). An account's numbers are the E.164 numbers of its registered senders (``whatsapp:+E164``
senders count as their number; short codes are not IncomingPhoneNumbers).

Register each sending address (an SMS number, a short code or ``whatsapp:+E164``) with its
account's SID and auth token::

    sandbox.register_account("twilio", "+15550100", "<auth token>", account_sid="AC...")

Sources for the shapes below (Twilio docs):

- "Message resource" (create): form-encoded ``To``, ``From`` (or ``MessagingServiceSid``), and one
  of ``Body`` / ``MediaUrl`` / ``ContentSid`` (+ ``ContentVariables``, a JSON object), optional
  ``StatusCallback``; HTTP basic auth (AccountSid, auth token). The answer is ``201`` with the
  Message resource: ``sid`` (``SM`` + 32 hex, ``MM`` for messages with media), ``status`` queued
  (``accepted`` through a Messaging Service), ``num_media`` / ``num_segments`` as strings, ``price``
  null until billed, RFC 2822 dates, ``subresource_uris``.
- "Error and warning dictionary" and the REST error body ``{code, message, more_info, status}``:
  20003 authenticate (401), 21602 body required, 21603 From required, 21604 To required, 21211
  invalid To, 21606 From not ours, 21617 body too long, 21610 unsubscribed, 21614 not mobile,
  20429 too many requests (429), 21623 more than 10 MediaUrl in one message ("You may send up to
  10 media files in a single message"), 63016 outside the WhatsApp window...
- "Outbound message status in status callbacks" and "Webhooks security": status callbacks are
  form-encoded POSTs to the message's ``StatusCallback`` (MessageSid, MessageStatus, SmsSid,
  SmsStatus, AccountSid, From, To, ApiVersion; WhatsApp adds ChannelPrefix, ChannelToAddress,
  ChannelInstallSid) signed with ``X-Twilio-Signature`` = base64(HMAC-SHA1(auth token, URL + sorted
  key+value pairs)). WhatsApp messages are also ``read``.

Receipts mode (``receipts_to({"twilio": url}, ...)``) posts sent, delivered (and read, for
WhatsApp) to the StatusCallback the send named, or to ``url`` when it named none, signed with the
sending account's auth token (the ``app_secret`` argument is Meta's and is not used here).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

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

__all__ = ["TwilioError", "TwilioMessagesApi", "twilio_signature"]

TWILIO = "twilio"
API_VERSION = "2010-04-01"
_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")
_ACCOUNT_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)\.json$")
_NUMBERS_PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/IncomingPhoneNumbers(?:/(?P<number_sid>[^/]+))?\.json$"
)
_E164 = re.compile(r"\+[1-9]\d{5,14}")
_SHORT_CODE = re.compile(r"\d{3,8}")
_BSUID = re.compile(r"[A-Z]{2}\.\d{1,40}")
_CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
MAX_BODY = 1600
MAX_MEDIA = 10
_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)


@dataclass
class TwilioError(Exception):
    """A Twilio REST error, rendered in the legacy ``{code, message, more_info, status}`` shape."""

    code: int
    message: str
    status: int = 400

    def reply(self, http_status: int | None = None, headers: dict[str, str] | None = None) -> Reply:
        status = http_status if http_status is not None else self.status
        body = {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": status,
        }
        return Reply(status, body, dict(headers or {}))


# fail_next codes -> (message, HTTP status): the documented pairings.
_ERRORS: dict[int, tuple[str, int]] = {
    20003: ("Authenticate", 401),
    20404: ("The requested resource was not found", 404),
    20429: ("Too Many Requests", 429),
    20500: ("An internal server error has occurred", 500),
    20503: ("Service unavailable", 503),
    21211: ("The 'To' number is not a valid phone number.", 400),
    21408: (
        "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
        400,
    ),
    21602: ("Message body is required.", 400),
    21603: ("A 'From' phone number is required.", 400),
    21604: ("A 'To' phone number is required.", 400),
    21606: ("The 'From' phone number provided is not a valid, message-capable Twilio phone number.", 400),
    21608: ("The number is unverified. Trial accounts cannot send messages to unverified numbers.", 400),
    21610: ("Attempt to send to unsubscribed recipient", 400),
    21612: ("The 'To' phone number is not currently reachable via SMS.", 400),
    21614: ("'To' number is not a valid mobile number", 400),
    21617: ("The concatenated message body exceeds the 1600 character limit.", 400),
    63016: (
        "Failed to send freeform message because you are outside the allowed window. Please use a Template.",
        400,
    ),
    63018: ("Rate limit exceeded for Channel", 429),
}


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _incoming_number(account_sid: str, number: str) -> dict[str, Any]:
    """One IncomingPhoneNumber resource ("IncomingPhoneNumber resource", fetch/read)."""
    sid = "PN" + hashlib.sha256(f"{account_sid}:{number}".encode()).hexdigest()[:32]
    created = _rfc2822(time.time() - 86400 * 30)
    return {
        "account_sid": account_sid,
        "address_requirements": "none",
        "api_version": API_VERSION,
        "beta": False,
        "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
        "date_created": created,
        "date_updated": created,
        "friendly_name": f"({number[2:5]}) {number[5:8]}-{number[8:]}" if number.startswith("+1") else number,
        "origin": "twilio",
        "phone_number": number,
        "sid": sid,
        "sms_method": "POST",
        "sms_url": "",
        "status": "in-use",
        "uri": f"/{API_VERSION}/Accounts/{account_sid}/IncomingPhoneNumbers/{sid}.json",
    }


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """``X-Twilio-Signature`` for a form POST of ``params`` to ``url`` (Twilio, "Webhooks security")."""
    data = url + "".join(key + params[key] for key in sorted(params))
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _rfc2822(at: float) -> str:
    return format_datetime(datetime.fromtimestamp(at, UTC))  # "Thu, 30 Jul 2015 20:12:31 +0000"


def _segments(body: str) -> int:
    """SMS segments: 160/153 GSM-7 characters, 70/67 UCS-2 characters."""
    if not body:
        return 1
    single, multi = (160, 153) if set(body) <= _GSM7 else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // multi)


def _address_ok(address: str) -> bool:
    channel, _, rest = address.rpartition(":")
    if channel == "whatsapp":
        return bool(_E164.fullmatch(rest) or _BSUID.fullmatch(rest))
    if channel:
        return False
    return bool(_E164.fullmatch(rest) or _SHORT_CODE.fullmatch(rest))


def _channel(address: str) -> str:
    return address.rpartition(":")[0] or "sms"


class TwilioMessagesApi:
    """Twilio's Messages API (SMS, MMS, WhatsApp through Twilio) for the registered senders."""

    name = "twilio-messages"
    channels: tuple[str, ...] = (TWILIO,)

    # -- routing -----------------------------------------------------------------------------------

    def route(self, call: Call, accounts: AccountBook) -> Route | None:
        """Claim ``POST /2010-04-01/Accounts/{sid}/Messages.json`` and ``GET
        /2010-04-01/Accounts/{sid}.json`` (fetch an Account: what connecting a number tests)."""
        account = _ACCOUNT_PATH.match(call.path)
        if account is not None and call.method == "GET":
            return Route(channel=TWILIO, params={"sid": account["sid"], "fetch": "account"})
        numbers = _NUMBERS_PATH.match(call.path)
        if numbers is not None and call.method == "GET":
            return Route(
                channel=TWILIO,
                params={"sid": numbers["sid"], "fetch": "numbers", "number_sid": numbers["number_sid"] or ""},
            )
        match = _PATH.match(call.path)
        if match is None or call.method != "POST":
            return None
        return Route(channel=TWILIO, params={"sid": match["sid"]})

    # -- answering ---------------------------------------------------------------------------------

    def handle(self, route: Route, call: Call, accounts: AccountBook) -> Reply:
        """Authenticate (HTTP basic), validate and create the Message."""
        try:
            senders = self._authenticate(route.params["sid"], call, accounts)
            if route.params.get("fetch") == "account":
                return Reply(200, self._account(route.params["sid"], senders), {})
            if route.params.get("fetch") == "numbers":
                return Reply(
                    200, self._numbers(route.params["sid"], route.params["number_sid"], senders, call), {}
                )
            return self._create(route.params["sid"], senders, call)
        except TwilioError as error:
            headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if error.status == 401 else None
            return error.reply(headers=headers)

    @staticmethod
    def _authenticate(path_sid: str, call: Call, accounts: AccountBook) -> list[Account]:
        """The senders of the account whose SID and auth token the Basic credentials carry."""
        scheme, _, encoded = call.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            raise TwilioError(20003, "Authenticate", 401)
        try:
            user, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise TwilioError(20003, "Authenticate", 401) from None
        senders = [
            a
            for a in accounts.all()
            if a.channel == TWILIO
            and a.details.get("account_sid") == user
            and hmac.compare_digest(a.token.encode(), password.encode())
        ]
        if not senders or user != path_sid:
            raise TwilioError(20003, "Authenticate", 401)
        return senders

    @staticmethod
    def _account(account_sid: str, senders: list[Account]) -> dict[str, Any]:
        """The Account resource ("Account resource", fetch): only for its own SID and auth token."""
        created = _rfc2822(time.time() - 86400 * 30)
        return {
            "sid": account_sid,
            "owner_account_sid": account_sid,
            "friendly_name": senders[0].details.get("friendly_name") or f"{account_sid[:8]}'s account",
            "status": senders[0].details.get("status") or "active",
            "type": "Full",
            "date_created": created,
            "date_updated": created,
            "auth_token": "",  # Twilio answers the token to its owner; the sandbox never echoes it
            "uri": f"/2010-04-01/Accounts/{account_sid}.json",
            "subresource_uris": {
                "messages": f"/2010-04-01/Accounts/{account_sid}/Messages.json",
                "incoming_phone_numbers": f"/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers.json",
            },
        }

    @staticmethod
    def _numbers(account_sid: str, number_sid: str, senders: list[Account], call: Call) -> dict[str, Any]:
        """The IncomingPhoneNumber list (filtered by ``PhoneNumber``, paged by ``PageSize`` /
        ``Page``), or the one ``number_sid`` names (20404 when the account has no such number)."""
        base = f"/{API_VERSION}/Accounts/{account_sid}/IncomingPhoneNumbers"
        numbers = sorted(
            {
                a.account_id.removeprefix("whatsapp:")
                for a in senders
                if _E164.fullmatch(a.account_id.removeprefix("whatsapp:"))
            }
        )
        resources = [_incoming_number(account_sid, number) for number in numbers]
        if number_sid:
            found = [r for r in resources if r["sid"] == number_sid]
            if not found:
                raise TwilioError(
                    20404, f"The requested resource {base}/{number_sid}.json was not found", 404
                )
            return found[0]

        def one(key: str) -> str | None:
            values = call.query.get(key)
            return values[-1] if values else None

        wanted = one("PhoneNumber")
        if wanted:  # a partial number matches anywhere; "*" is any one digit
            pattern = re.compile(re.escape(wanted).replace(re.escape("*"), r"\d"))
            resources = [r for r in resources if pattern.search(r["phone_number"])]
        # "How many resources to return in each list page. The default is 50, and the maximum is 1000."
        size = min(max(_int(one("PageSize"), 50), 1), 1000)
        page = max(_int(one("Page"), 0), 0)
        start = page * size
        chunk = resources[start : start + size]
        query = urllib.parse.urlencode({**({"PhoneNumber": wanted} if wanted else {}), "PageSize": size})
        more = start + size < len(resources)
        return {
            "incoming_phone_numbers": chunk,
            "first_page_uri": f"{base}.json?{query}&Page=0",
            "next_page_uri": f"{base}.json?{query}&Page={page + 1}" if more else None,
            "previous_page_uri": f"{base}.json?{query}&Page={page - 1}" if page > 0 else None,
            "page": page,
            "page_size": size,
            "start": start,
            "end": start + max(len(chunk) - 1, 0),
            "uri": f"{base}.json?{query}&Page={page}",
        }

    def _create(self, account_sid: str, senders: list[Account], call: Call) -> Reply:  # noqa: PLR0915 - Twilio's checks, in its documented order
        form = call.form or {}

        def one(key: str) -> str | None:
            values = form.get(key)
            return values[-1] if values else None

        to, sender, service = one("To"), one("From"), one("MessagingServiceSid")
        body = one("Body")
        media = [m for m in form.get("MediaUrl", []) if m]
        content_sid, variables = one("ContentSid"), one("ContentVariables")
        callback = one("StatusCallback")
        if not to:
            raise TwilioError(21604, _ERRORS[21604][0])
        if not sender and not service:
            raise TwilioError(21603, _ERRORS[21603][0])
        if not body and not media and not content_sid:
            raise TwilioError(21602, _ERRORS[21602][0])
        if not _address_ok(to):
            raise TwilioError(21211, f"The 'To' number {to} is not a valid phone number.")
        if service and not _SERVICE_SID.fullmatch(service):
            raise TwilioError(21701, f"The Messaging Service Sid {service} is invalid.")
        account = None
        if sender:
            account = next((a for a in senders if a.account_id == sender), None)
            if account is None:
                if sender.startswith("whatsapp:"):
                    raise TwilioError(
                        63007, "Twilio could not find a Channel with the specified From address"
                    )
                raise TwilioError(
                    21606,
                    f"The From phone number {sender} is not a valid, SMS-capable inbound phone number "
                    "or short code for your account.",
                )
            if _channel(sender) != _channel(to):
                raise TwilioError(
                    21910, "Invalid From and To pair. From and To should be of the same channel"
                )
        else:
            # Through a Messaging Service, Twilio picks the sender: the first one on this channel.
            account = next((a for a in senders if _channel(a.account_id) == _channel(to)), senders[0])
        if body is not None and len(body) > MAX_BODY:
            raise TwilioError(21617, _ERRORS[21617][0])
        if len(media) > MAX_MEDIA:
            raise TwilioError(21623, "Number of media files exceeds allowed limit.")
        for url in media:
            if not re.match(r"^https?://[^\s/]+", url):
                raise TwilioError(
                    21620, f"Media urls: {url} are invalid. Please use only valid http and https urls"
                )
        if content_sid is not None and not _CONTENT_SID.fullmatch(content_sid):
            raise TwilioError(21655, "The ContentSid is Invalid.")
        if variables is not None:
            try:
                parsed = json.loads(variables)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
                raise TwilioError(21656, "The ContentVariables Parameter is invalid.")
        if callback is not None and not re.match(r"^https?://[^\s/]+", callback):
            raise TwilioError(21609, "Invalid StatusCallback url")

        now = time.time()
        sid = ("MM" if media else "SM") + secrets.token_hex(16)
        whatsapp = to.startswith("whatsapp:")
        resource: dict[str, Any] = {
            "account_sid": account_sid,
            "api_version": API_VERSION,
            "body": body or "",
            "date_created": _rfc2822(now),
            "date_sent": None,
            "date_updated": _rfc2822(now),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender if sender else None,
            "messaging_service_sid": service,
            "num_media": str(len(media)),
            "num_segments": "1" if whatsapp or service else str(_segments(body or "")),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service and not sender else "queued",
            "subresource_uris": {
                "media": f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}/Media.json",
            },
            "to": to,
            "uri": f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}.json",
        }
        kind = "template" if content_sid else "media" if media else "text"
        sent = SentMessage(
            channel=TWILIO,
            account=account,
            recipient=to,
            message_id=sid,
            kind=kind,
            sent_at=now,
            extra={"status_callback": callback or "", "account_sid": account_sid},
        )
        return Reply(201, resource, sent=sent)

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
        """Twilio's REST error for ``code`` with its documented HTTP status (Retry-After when asked)."""
        number = int(code)
        message, status = _ERRORS.get(number, (f"Error {number} injected by the provider sandbox", 400))
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return TwilioError(number, message, status).reply(http_status, headers)

    # -- receipts ----------------------------------------------------------------------------------

    def receipts(
        self, sent: SentMessage, *, url: str, secret: str, timing: ReceiptTiming
    ) -> list[ScheduledWebhook]:
        """Signed status callbacks for ``sent``: sent, delivered, and read for WhatsApp, posted to
        the message's StatusCallback (or ``url``)."""
        target = sent.extra.get("status_callback") or url
        if not target:
            return []
        whatsapp = sent.recipient.startswith("whatsapp:")
        steps = [("sent", timing.sent_after), ("delivered", timing.delivered_after)]
        if whatsapp:
            steps.append(("read", timing.read_after))
        webhooks = []
        for status, delay in steps:
            params = self._status_params(sent, status, whatsapp)
            body = urllib.parse.urlencode(params).encode("ascii")
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "TwilioProxy/1.1",
                "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
                "X-Twilio-Signature": twilio_signature(sent.account.token, target, params),
            }
            webhooks.append(
                ScheduledWebhook(delay=delay, channel=TWILIO, url=target, body=body, headers=headers)
            )
        return webhooks

    @staticmethod
    def _status_params(sent: SentMessage, status: str, whatsapp: bool) -> dict[str, str]:
        params: dict[str, str] = {}
        if whatsapp:
            params["ChannelPrefix"] = "whatsapp"
            params["ChannelInstallSid"] = (
                "XE" + hashlib.sha256(sent.account.account_id.encode()).hexdigest()[:32]
            )
            params["ChannelToAddress"] = sent.recipient.split(":", 1)[1]
        params.update(
            {
                "SmsSid": sent.message_id,
                "SmsStatus": status,
                "MessageStatus": status,
                "To": sent.recipient,
                "MessageSid": sent.message_id,
                "AccountSid": sent.extra.get("account_sid") or sent.account.details.get("account_sid", ""),
                "From": sent.account.account_id,
                "ApiVersion": API_VERSION,
            }
        )
        if status == "delivered" and not whatsapp:
            # The carrier's delivery report time, YYMMDDhhmm.
            params["RawDlrDoneDate"] = datetime.fromtimestamp(sent.sent_at, UTC).strftime("%y%m%d%H%M")
        return params
