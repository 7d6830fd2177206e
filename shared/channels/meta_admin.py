"""Meta's Graph API, administrative calls: subscribing our app to a Page's webhooks.

A Page (Messenger, and the Page linked to an Instagram professional account) sends webhooks to our
app only once the app is subscribed to it: ``POST /{page-id}/subscribed_apps`` with
``subscribed_fields`` and a Page access token, answered ``{"success": true}`` (Graph API reference,
"Page Subscribed Apps"). Only fields subscribed both at the Page and in the app's webhook settings
(the app dashboard) are delivered. Disconnecting removes it: ``DELETE /{page-id}/subscribed_apps``
with the Page token, answered ``{"success": true}`` (the same reference, "Deleting"; a bad token is
190, a token without ``pages_manage_metadata`` 200).

WhatsApp numbers need no per-number call: their business account (WABA) is subscribed once, in the
app dashboard or by embedded signup, for every number it holds, and Switchboard never subscribes it.
So disconnecting one number does not call ``DELETE /{waba-id}/subscribed_apps``: that would stop the
webhooks of every other number of the account, here or in another workspace, and undo a
subscription the operator made; the number's route is deleted, so what still arrives for it is
quarantined as ``unknown_route``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.channels.graph import call, provider_error
from shared.errors import ProviderError

# Everything the inbound parser understands (messages and echoes, postbacks, receipts, reactions,
# referrals, and the standby channel of the handover protocol).
PAGE_SUBSCRIBED_FIELDS: tuple[str, ...] = (
    "messages",
    "messaging_postbacks",
    "message_deliveries",
    "message_reads",
    "message_reactions",
    "message_echoes",
    "messaging_referrals",
    "standby",
)


def subscribe_page(
    channel: str,
    page_id: str,
    page_token: str,
    *,
    base_url: str,
    version: str,
    timeout: float,
    fields: Sequence[str] = PAGE_SUBSCRIBED_FIELDS,
) -> dict[str, Any]:
    """Subscribe our app to ``page_id``'s webhooks for ``fields``; return Graph's answer.

    The token travels as a Bearer header, never in the URL. Raises ProviderError (by Meta's error
    code: an expired token says ``health == "token_expired"``) unless Graph answers success."""
    return _subscribed_apps(
        "POST",
        "subscription",
        channel,
        page_id,
        page_token,
        base_url=base_url,
        version=version,
        timeout=timeout,
        json={"subscribed_fields": ",".join(fields)},
    )


def unsubscribe_page(
    channel: str, page_id: str, page_token: str, *, base_url: str, version: str, timeout: float
) -> dict[str, Any]:
    """Remove our app's subscription to ``page_id``'s webhooks; return Graph's answer. Raises
    ProviderError (by Meta's error code; unreachable: transient) unless Graph answers success."""
    return _subscribed_apps(
        "DELETE",
        "unsubscription",
        channel,
        page_id,
        page_token,
        base_url=base_url,
        version=version,
        timeout=timeout,
    )


def _subscribed_apps(
    method: str,
    what: str,
    channel: str,
    page_id: str,
    page_token: str,
    *,
    base_url: str,
    version: str,
    timeout: float,
    json: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One call to ``/{page-id}/subscribed_apps`` with the Page token, which must answer success."""
    url = f"{base_url.rstrip('/')}/{version}/{page_id}/subscribed_apps"
    response, body = call(
        method,
        url,
        channel=channel,
        unreachable=f"Graph API unreachable at {base_url}",
        timeout=timeout,
        headers={"Authorization": f"Bearer {page_token}"},
        json=json,
    )
    if response.status_code >= 400 or not isinstance(body, dict) or "error" in body:
        raise provider_error(channel, response.status_code, body)
    if body.get("success") is not True:
        raise ProviderError(
            f"Graph did not confirm the {what} of page {page_id}: {str(body)[:200]}",
            channel=channel,
            code=None,
            http_status=response.status_code,
            transient=False,
        )
    return body


def read_node(
    channel: str,
    node_id: str,
    token: str,
    fields: Sequence[str],
    *,
    base_url: str,
    version: str,
    timeout: float,
) -> dict[str, Any]:
    """``GET /{node-id}?fields=...`` with the token as a Bearer header: a Page (``name``), an
    Instagram professional account (``username``, ``name``) or a WhatsApp business phone number
    (``display_phone_number``, ``verified_name``) read with its own token, which changes nothing at
    Meta. Raises ProviderError by Meta's error code: a bad token is 190 (``token_expired``), an id
    the token may not read is 100/33."""
    url = f"{base_url.rstrip('/')}/{version}/{node_id}"
    response, body = call(
        "GET",
        url,
        channel=channel,
        unreachable=f"Graph API unreachable at {base_url}",
        timeout=timeout,
        params={"fields": ",".join(fields)},
        headers={"Authorization": f"Bearer {token}"},
    )
    if response.status_code >= 400 or not isinstance(body, dict) or "error" in body:
        raise provider_error(channel, response.status_code, body)
    return body
