"""The admin console's channels page, served as agent_api actions (shared/actions.py): test a token,
connect, rotate, reconnect and disconnect a channel. Admins only; each action is the same code as the
operator CLI's (shared/channel_setup.py) and records one audit entry after it succeeded, never with the
token in it.

The browser sends a token once, in the request that tests or stores it; nothing answers it back, and
the channel document (which the page reads live, with its health) keeps only ``credential.last4``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from shared import audit, channel_setup
from shared.auth import require_admin
from shared.errors import Refused

if TYPE_CHECKING:  # pragma: no cover
    from shared.auth import Caller

ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"
# What a token is at most: Meta's long-lived tokens run to a few hundred characters.
TOKEN_MAX = 4096


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str


class AccountFields(_Body):
    """The provider account and its options (each provider takes the ones it needs)."""

    kind: str = Field(min_length=1, max_length=32)
    externalId: str = Field(min_length=1, max_length=128)
    token: str = Field(min_length=1, max_length=TOKEN_MAX, repr=False)
    pageId: str | None = Field(default=None, max_length=128)
    accountSid: str | None = Field(default=None, max_length=64)
    businessAccountId: str | None = Field(default=None, max_length=128)


class TestChannel(AccountFields):
    """``test_channel``: does the provider accept this token for this account? Nothing is stored."""

    name: str | None = Field(default=None, max_length=200)


class ConnectChannel(AccountFields):
    """``connect_channel``: test, store the token, write the channel and route, subscribe."""

    name: str = Field(min_length=1, max_length=200)
    channelId: str | None = Field(default=None, pattern=ID)
    tokenExpiresAt: datetime | None = None


class RotateChannel(_Body):
    """``rotate_channel``: a new token (tested first) for a connected channel."""

    channelId: str = Field(pattern=ID)
    token: str = Field(min_length=1, max_length=TOKEN_MAX, repr=False)
    tokenExpiresAt: datetime | None = None


class ChannelAction(_Body):
    """``reconnect_channel`` / ``disconnect_channel``: one channel, by id."""

    channelId: str = Field(pattern=ID)


def channel_id_for(kind: str, external_id: str) -> str:
    """The channel id the page gives a new channel: ``<kind>-<external id>`` without the characters
    an id cannot hold (``+15550100`` -> ``<kind>-15550100``)."""
    return f"{kind}-{re.sub(r'[^A-Za-z0-9_-]+', '', external_id)}"[:100]


def _webhook_url(kind: str) -> str | None:
    """The URL to register with a provider that takes one on connect: production's public URL is
    the adapter's own default (None here); the local stack names its webhook functions."""
    from shared.config import settings

    config = settings()
    if config.public_base_url or "webhook_url" not in channel_setup.adapter_for(kind).connect_options:
        return None
    return config.local_webhook_urls.get(kind)


def _request(caller: Caller, body: AccountFields, channel_id: str, name: str) -> channel_setup.ChannelRequest:
    adapter = channel_setup.adapter_for(body.kind)
    options = {
        "page_id": body.pageId or None,
        "account_sid": body.accountSid or None,
        "business_account_id": body.businessAccountId or None,
    }
    for option, value in options.items():
        if value and option not in adapter.connect_options:
            raise Refused("invalid_channel_request", f"{body.kind} channels take no {option}")
    return channel_setup.ChannelRequest(
        tenant_id=caller.tenant_id,
        channel_id=channel_id,
        kind=body.kind,
        external_id=body.externalId.strip(),
        name=name,
        webhook_url=_webhook_url(body.kind),
        token_expires_at=getattr(body, "tokenExpiresAt", None),
        **options,
    )


def _target(channel_id: str, name: str | None, kind: str | None) -> dict[str, Any]:
    return {
        "kind": "channel",
        "id": channel_id,
        "name": name or channel_id,
        **({"type": kind} if kind else {}),
    }


def test_channel(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``test_channel`` -> ``{ok, account: {name, ...}}``; a refusal carries the provider's
    error (``provider_refused``)."""
    request = TestChannel.model_validate(body)
    require_admin(caller, "testing a channel")
    name = request.name or request.externalId
    return channel_setup.test(
        _request(caller, request, channel_id_for(request.kind, request.externalId), name), request.token
    )


def connect_channel(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``connect_channel`` -> ``{channelId, route, account, subscribed, note}``. A route
    owned by any other channel is refused (409): the page never moves another channel's webhooks."""
    request = ConnectChannel.model_validate(body)
    require_admin(caller, "connecting a channel")
    channel_id = request.channelId or channel_id_for(request.kind, request.externalId)
    try:
        done = channel_setup.connect(
            _request(caller, request, channel_id, request.name.strip()), request.token
        )
    except Refused as exc:
        if exc.code != "channel_conflict":
            raise
        # The operator's message names the tenant that owns the account: not for another workspace.
        raise Refused(
            "channel_conflict",
            f"{request.kind} account {request.externalId} is already connected, to another channel or "
            "workspace (or this channel id is another account's): disconnect it there first",
            409,
        ) from None
    audit.record(
        caller,
        "channel.connect",
        _target(channel_id, request.name.strip(), request.kind),
        after={"kind": request.kind, "externalId": done["externalId"], "name": request.name.strip()},
        details={"route": done["route"], "subscribed": bool(done["subscription"])},
    )
    return {
        "channelId": channel_id,
        "route": done["route"],
        "account": done["account"],
        "subscribed": bool(done["subscription"]),
        "note": done["note"],
    }


def rotate_channel(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``rotate_channel`` -> ``{channelId, account, siblings}`` (``siblings``: channels
    sharing the provider account's secret, whose tokens must follow)."""
    request = RotateChannel.model_validate(body)
    require_admin(caller, "rotating a channel's token")
    done = channel_setup.rotate(caller.tenant_id, request.channelId, request.token, request.tokenExpiresAt)
    audit.record(
        caller,
        "channel.rotate",
        _target(request.channelId, None, None),
        details={"tokenExpiresAt": request.tokenExpiresAt.isoformat() if request.tokenExpiresAt else None},
    )
    return {"channelId": request.channelId, "account": done["account"], "siblings": done["siblings"]}


def reconnect_channel(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``reconnect_channel``: connect again with the stored token (route, subscription)."""
    request = ChannelAction.model_validate(body)
    require_admin(caller, "reconnecting a channel")
    from shared import store

    channel = store.get_channel(caller.tenant_id, request.channelId) or {}
    kind = str(channel.get("kind") or "")
    done = channel_setup.reconnect(
        caller.tenant_id, request.channelId, webhook_url=_webhook_url(kind) if kind else None
    )
    audit.record(
        caller,
        "channel.connect",
        _target(request.channelId, channel.get("name"), kind or None),
        details={"route": done["route"], "reconnect": True, "subscribed": bool(done["subscription"])},
    )
    return {"channelId": request.channelId, "route": done["route"], "subscribed": bool(done["subscription"])}


def disconnect_channel(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``disconnect_channel`` -> ``{channelId, routeDeleted, secretDeleted, providerNote,
    providerWarning}``; a warning (the provider refused or could not be reached) is in the audit entry."""
    request = ChannelAction.model_validate(body)
    require_admin(caller, "disconnecting a channel")
    from shared import store

    channel = store.get_channel(caller.tenant_id, request.channelId) or {}
    done = channel_setup.disconnect(caller.tenant_id, request.channelId)
    audit.record(
        caller,
        "channel.disconnect",
        _target(request.channelId, channel.get("name"), channel.get("kind")),
        before={"kind": channel.get("kind"), "externalId": channel.get("externalId")},
        details={
            "route": done["route"],
            **({"warning": done["providerWarning"]} if done["providerWarning"] else {}),
        },
    )
    return {
        "channelId": request.channelId,
        "routeDeleted": done["routeDeleted"],
        "secretDeleted": done["secretDeleted"],
        "providerNote": done["providerNote"],
        "providerWarning": done["providerWarning"],
    }
