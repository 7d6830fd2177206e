"""Meta's Graph API, outbound: the Messenger/Instagram Send API and the WhatsApp Cloud API
``/messages`` endpoint, and the one table that maps Meta's error codes to retry decisions.

Error codes decide retries, not the HTTP status alone: Meta pairs 130429 with 403 and 613 with 429,
and some errors (Messenger 36000) come with HTTP 200. Sources: Graph API "Handling errors",
Messenger Platform "Send API error codes", WhatsApp Cloud API "Error codes".
"""

from __future__ import annotations

from typing import Any

import requests

from shared.errors import ProviderError
from shared.models.outbound import ChannelAccount, OutboundMedia, OutboundMessage, SendResult

# code -> (transient, human-readable reason, channel health problem or None)
META_ERRORS: dict[int, tuple[bool, str, str | None]] = {
    1: (True, "Meta reported an unknown, possibly temporary error.", None),
    2: (True, "Meta's service is temporarily unavailable.", None),
    4: (True, "The app hit Meta's rate limit.", None),
    17: (True, "The user-level rate limit was reached.", None),
    32: (True, "The page-level rate limit was reached.", None),
    341: (True, "The application limit was reached.", None),
    613: (True, "Too many calls in a short time (rate limit).", None),
    80007: (True, "The account's messaging rate limit was reached.", None),
    130429: (True, "WhatsApp throughput limit reached for this number.", None),
    131000: (True, "WhatsApp reported an unknown error.", None),
    131016: (True, "WhatsApp is overloaded; retrying.", None),
    131056: (True, "Too many messages to this customer in a short time (pair rate limit).", None),
    133004: (True, "WhatsApp's server is temporarily unavailable.", None),
    10: (
        False,
        "Permission denied for this page or number (or the message is outside the allowed window).",
        "permission",
    ),
    100: (False, "Invalid parameter.", None),
    190: (
        False,
        "The channel's access token expired or was revoked: reconnect the channel.",
        "token_expired",
    ),
    200: (False, "The app lacks the permission to send for this page or number.", "permission"),
    230: (False, "The customer has not messaged the account yet: their profile needs their consent.", None),
    368: (False, "Temporarily blocked for policy violations.", "policy_block"),
    551: (False, "This person isn't available right now.", None),
    36000: (False, "Meta refused the message (the recipient or page cannot receive it).", None),
    131008: (False, "A required parameter is missing.", None),
    131009: (False, "A parameter value is invalid.", None),
    131021: (False, "The recipient cannot be the sender.", None),
    131026: (
        False,
        "Message undeliverable: the customer may not be on WhatsApp or must accept new terms.",
        None,
    ),
    131030: (False, "The recipient is not in the allowed list (test number).", None),
    131031: (False, "The WhatsApp business account is locked.", "account_locked"),
    131045: (False, "The phone number is not registered.", "not_registered"),
    131047: (False, "More than 24 hours since the customer last replied: send an approved template.", None),
    131051: (False, "This message type is not supported.", None),
    131052: (False, "The media could not be downloaded.", None),
    131053: (False, "The media could not be uploaded (type or size not supported).", None),
    132000: (False, "The template's parameters do not match.", None),
    132001: (False, "The template does not exist in that language.", None),
    132005: (False, "The template's text is too long once filled in.", None),
    132007: (False, "The template's content violates a policy.", None),
    132012: (False, "A template parameter has the wrong format.", None),
    132015: (False, "The template is paused for low quality.", None),
    132016: (False, "The template is disabled.", None),
}
# Messenger/Instagram subcodes that say more than their code.
META_SUBCODES: dict[int, str] = {
    2018278: "More than 24 hours since the customer's last message: use the Human Agent tag.",
    2018001: "No matching user: the customer id is not valid for this page.",
    2018108: "This person cannot receive messages right now.",
    1545041: "The customer is unavailable (account deactivated or blocked the page).",
}


def provider_error(channel: str, http_status: int | None, body: Any) -> ProviderError:
    """Turn a Graph error response into a ProviderError, by code first and HTTP status second."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    subcode = error.get("error_subcode")
    message = str(error.get("message") or error.get("error_user_msg") or f"HTTP {http_status}")
    details = (
        (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else None
    )
    known = META_ERRORS.get(int(code)) if isinstance(code, int | str) and str(code).isdigit() else None
    if known is not None:
        transient, reason, health = known
    else:
        transient, reason, health = (http_status is None or http_status >= 500), message, None
    if isinstance(subcode, int) and subcode in META_SUBCODES:
        reason = META_SUBCODES[subcode]
    return ProviderError(
        f"{reason} (Meta error {code}{f'/{subcode}' if subcode else ''})",
        channel=channel,
        code=None if code is None else str(code),
        http_status=http_status,
        transient=transient,
        health=health,
        detail=str(details or message)[:500],
    )


def call(
    method: str, url: str, *, channel: str, unreachable: str, timeout: float, **kwargs: Any
) -> tuple[requests.Response, Any]:
    """One HTTP request to a Graph endpoint: the response and its JSON body (``{}`` when it is not
    JSON). A network failure is a transient ProviderError saying ``unreachable``; what the answer
    means is the caller's to decide (provider_error reads Graph's error codes)."""
    try:
        response = requests.request(method, url, timeout=timeout, **kwargs)
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise ProviderError(
            f"{unreachable}: {type(exc).__name__}",
            channel=channel,
            code=None,
            http_status=None,
            transient=True,
        ) from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    return response, body


def post(channel: str, url: str, token: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    """POST ``payload`` to a Graph endpoint with the token as a Bearer header (never in the URL,
    which ends up in logs); return the JSON answer or raise ProviderError."""
    response, body = call(
        "POST",
        url,
        channel=channel,
        unreachable=f"{channel} API unreachable",
        timeout=timeout,
        json=payload,
        headers={"Authorization": f"Bearer {token}"},
    )
    # Some Graph errors come with HTTP 200 (Messenger 36000): the body decides.
    if response.status_code >= 400 or (isinstance(body, dict) and "error" in body):
        raise provider_error(channel, response.status_code, body)
    return body if isinstance(body, dict) else {}


def _base(account: ChannelAccount) -> str:
    return f"{account.base_url}/{account.api_version or 'v21.0'}"


# --- Messenger and Instagram: the Send API --------------------------------------------------------

SEND_API_ATTACHMENT = {"image": "image", "audio": "audio", "video": "video", "document": "file"}


def send_api_request(recipient: str, message: OutboundMessage) -> dict[str, Any]:
    """The documented Send API body for one outbound message (Messenger Platform, Send API)."""
    if message.type == "reaction":
        # Instagram: sender_action react/unreact on a message (Instagram Messaging API, reactions).
        action = "react" if message.emoji else "unreact"
        payload: dict[str, Any] = {"message_id": message.reply_to}
        if message.emoji:
            payload["reaction"] = "love"  # the only reaction the Send API accepts
        return {"recipient": {"id": recipient}, "sender_action": action, "payload": payload}
    if message.type == "mark_read":
        return {"recipient": {"id": recipient}, "sender_action": "mark_seen"}
    if message.type == "typing":
        # Sender actions go alone: recipient and sender_action, no messaging_type (Send API reference).
        return {"recipient": {"id": recipient}, "sender_action": "typing_on"}
    body: dict[str, Any] = {"recipient": {"id": recipient}}
    if message.tag:
        body["messaging_type"] = "MESSAGE_TAG"
        body["tag"] = message.tag
    else:
        body["messaging_type"] = "RESPONSE"
    if message.type == "text":
        content: dict[str, Any] = {"text": message.text}
    elif message.type == "rating" and message.rating:
        # Quick replies (Send API): at most 13, each a title of at most 20 characters and a payload
        # of at most 1000, which comes back as message.quick_reply.payload when tapped.
        content = {
            "text": message.text,
            "quick_replies": [
                {"content_type": "text", "title": choice.title, "payload": choice.payload}
                for choice in message.rating.choices
            ],
        }
    elif message.type in SEND_API_ATTACHMENT:
        content = {
            "attachment": {
                "type": SEND_API_ATTACHMENT[message.type],
                "payload": {"url": message.media_url, "is_reusable": True},
            }
        }
    else:
        raise ProviderError(
            f"{message.type} messages cannot be sent through the Send API",
            channel="meta",
            code="unsupported",
            http_status=None,
            transient=False,
        )
    if message.metadata:
        content["metadata"] = message.metadata  # comes back on the echo: matches our own send
    body["message"] = content
    return body


def send_api(account: ChannelAccount, recipient: str, message: OutboundMessage, timeout: float) -> SendResult:
    """Send through ``POST /{page-or-ig-id}/messages``; the result carries Meta's ``message_id``.
    An uploaded attachment goes as an attachment by URL: a short-lived signed URL Meta fetches."""
    if message.attachments:
        from shared.channels import outbound_media

        url = outbound_media.link(account.channel, message.attachments[0])
        message = message.model_copy(update={"attachments": (), "media_url": url})
    payload = send_api_request(recipient, message)
    if message.type != "text" and message.caption and "message" in payload:
        # The Send API has no captions: the caption follows as its own text message.
        result = send_api(account, recipient, message.model_copy(update={"caption": None}), timeout)
        send_api(
            account, recipient, OutboundMessage(type="text", text=message.caption, tag=message.tag), timeout
        )
        return result
    body = post(
        account.channel, f"{_base(account)}/{account.external_id}/messages", account.token, payload, timeout
    )
    return SendResult(provider_message_id=body.get("message_id"), response=body)


# --- WhatsApp Cloud API ---------------------------------------------------------------------------


def cloud_api_request(
    recipient: str, message: OutboundMessage, media_id: str | None = None
) -> dict[str, Any]:
    """The documented WhatsApp Cloud API ``/messages`` body for one outbound message; ``media_id``:
    an uploaded file's id (``POST /{phone-number-id}/media``), sent instead of a link."""
    if message.type == "mark_read":
        return {"messaging_product": "whatsapp", "status": "read", "message_id": message.reply_to}
    if message.type == "typing":
        # The typing indicator rides on a read receipt of the customer's message (Cloud API, "Typing
        # indicators"): it shows for up to 25 seconds or until the next message is sent.
        if not message.reply_to:
            raise ProviderError(
                "a WhatsApp typing indicator needs a customer message to mark read",
                channel="whatsapp",
                code="invalid_request",
                http_status=None,
                transient=False,
            )
        return {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": message.reply_to,
            "typing_indicator": {"type": "text"},
        }
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": recipient,
        "type": message.type,
    }
    if message.type == "rating" and message.rating:
        # An interactive list (Cloud API): reply buttons take at most 3, a list up to 10 rows
        # (button text <= 20, row title <= 24, row id <= 200); the row id comes back as
        # interactive.list_reply.id when chosen.
        body["type"] = "interactive"
        body["interactive"] = {
            "type": "list",
            "body": {"text": message.text},
            "action": {
                "button": "Rate us",
                "sections": [
                    {
                        "title": "Your rating",
                        "rows": [{"id": c.payload, "title": c.title} for c in message.rating.choices],
                    }
                ],
            },
        }
        return body
    if message.type == "text":
        body["text"] = {"body": message.text, "preview_url": False}
    elif message.type in ("image", "audio", "video", "document"):
        media: dict[str, Any] = {"id": media_id} if media_id else {"link": message.media_url}
        if message.caption and message.type != "audio":
            media["caption"] = message.caption
        if message.filename and message.type == "document":
            media["filename"] = message.filename
        body[message.type] = media
    elif message.type == "template":
        template: dict[str, Any] = {
            "name": message.template_name,
            "language": {"code": message.template_language},
        }
        if message.template_parameters:
            template["components"] = [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": p.text, **({"parameter_name": p.name} if p.name else {})}
                        for p in message.template_parameters
                    ],
                }
            ]
        body["template"] = template
    elif message.type == "reaction":
        body["reaction"] = {"message_id": message.reply_to, "emoji": message.emoji or ""}
        return body
    if message.reply_to:
        body["context"] = {"message_id": message.reply_to}
    return body


def cloud_api(
    account: ChannelAccount, recipient: str, message: OutboundMessage, timeout: float
) -> SendResult:
    """Send through ``POST /{phone-number-id}/messages``; the result carries the ``wamid``. An
    uploaded attachment is first uploaded to the number's media endpoint, then sent by its id."""
    media_id = upload_media(account, message.attachments[0], timeout) if message.attachments else None
    body = post(
        account.channel,
        f"{_base(account)}/{account.external_id}/messages",
        account.token,
        cloud_api_request(recipient, message, media_id),
        timeout,
    )
    messages = body.get("messages") or []
    provider_id = messages[0].get("id") if messages and isinstance(messages[0], dict) else None
    return SendResult(provider_message_id=provider_id, response=body)


def upload_media(account: ChannelAccount, media: OutboundMedia, timeout: float) -> str:
    """``POST /{phone-number-id}/media`` (multipart: ``messaging_product``, ``type``, ``file``): the
    file from the media bucket becomes a WhatsApp media id, usable for 30 days."""
    from shared.channels import outbound_media

    data = outbound_media.read(account.channel, media)
    response, body = call(
        "POST",
        f"{_base(account)}/{account.external_id}/media",
        channel=account.channel,
        unreachable=f"{account.channel} API unreachable",
        timeout=timeout,
        data={"messaging_product": "whatsapp", "type": media.content_type},
        files={"file": (outbound_media.file_name(media), data, media.content_type)},
        headers={"Authorization": f"Bearer {account.token}"},
    )
    if response.status_code >= 400 or not isinstance(body, dict) or "error" in body or not body.get("id"):
        raise provider_error(account.channel, response.status_code, body)
    return str(body["id"])


# --- WhatsApp Business Management API: message templates ------------------------------------------

TEMPLATE_FIELDS = "id,name,language,status,category,components"
TEMPLATE_PAGE = 100
TEMPLATE_MAX_PAGES = 20


def list_message_templates(
    account: ChannelAccount, business_account_id: str, timeout: float
) -> list[dict[str, Any]]:
    """``GET /{waba-id}/message_templates?fields=...&limit=...`` (Business Management API, "Message
    Templates"), following ``paging.cursors.after`` while ``paging.next`` is present: every
    template of the WhatsApp Business Account as Graph answers it (at most 2,000)."""
    url = f"{_base(account)}/{business_account_id}/message_templates"
    params: dict[str, Any] = {"fields": TEMPLATE_FIELDS, "limit": TEMPLATE_PAGE}
    found: list[dict[str, Any]] = []
    for _ in range(TEMPLATE_MAX_PAGES):
        response, body = call(
            "GET",
            url,
            channel=account.channel,
            unreachable=f"{account.channel} template list unreachable",
            timeout=timeout,
            params=params,
            headers={"Authorization": f"Bearer {account.token}"},
        )
        if response.status_code >= 400 or not isinstance(body, dict) or "error" in body:
            raise provider_error(account.channel, response.status_code, body)
        found.extend(item for item in body.get("data") or [] if isinstance(item, dict))
        paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
        after = (
            (paging.get("cursors") or {}).get("after") if isinstance(paging.get("cursors"), dict) else None
        )
        if not paging.get("next") or not after:
            break
        params = {**params, "after": after}
    return found


# --- Messenger and Instagram: the User Profile API -------------------------------------------------


def user_profile(account: ChannelAccount, user_id: str, fields: str, timeout: float) -> dict[str, Any]:
    """``GET /{PSID|IGSID}?fields=...`` with the Page's token (Messenger Platform "User Profile API":
    ``first_name,last_name,profile_pic``; Instagram Messaging "User Profile API":
    ``name,username,profile_pic``): the profile as Graph answers it, or ProviderError (by code:
    100/33 no such person for this Page, 230 no consent yet, 190 token, 4/613 rate limits)."""
    response, body = call(
        "GET",
        f"{_base(account)}/{user_id}",
        channel=account.channel,
        unreachable=f"{account.channel} user profile unreachable",
        timeout=timeout,
        params={"fields": fields},
        headers={"Authorization": f"Bearer {account.token}"},
    )
    if response.status_code >= 400 or not isinstance(body, dict) or "error" in body:
        raise provider_error(account.channel, response.status_code, body)
    return body
