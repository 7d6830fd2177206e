"""Connecting, testing, rotating, reconnecting and disconnecting a channel: one implementation, called
by the operator CLI (``connect-channel``, ``rotate-channel-token``, ``disconnect-channel``) and by the
admin console's channels page (agent_api, ``shared/channel_console.py``).

What the provider varies in is its adapter's (``shared/channels/base.py``: ``check_connection``,
``check_token``, ``test_connection``, ``store_token``, ``connect``, ``disconnect``). The token goes to
Secret Manager (``shared/secrets.py``) and nowhere else: the channel document keeps only
``credential: {set, last4, setAt}``, which is what the page shows.

Every refusal is a :class:`~shared.errors.Refused` with a code: ``invalid_channel_request`` (400, the
request or the token's form), ``provider_refused`` (400, the provider's read of the account refused the
token, with its own code in the message), ``channel_conflict`` (409), ``not_found`` (404),
``unknown_tenant`` (404), ``connect_failed`` (502: stored and routed, but the provider refused to
subscribe our webhooks; connecting again is safe).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared import channels
from shared.channels.base import ConnectRequest
from shared.errors import ProviderError, Refused

if TYPE_CHECKING:  # pragma: no cover
    from shared.channels.base import ChannelAdapter

# The optional connect options, by their ConnectRequest field name.
OPTIONS = ("page_id", "account_sid", "webhook_url", "business_account_id")


@dataclass(frozen=True)
class ChannelRequest:
    """What is to be connected: the tenant's channel id, the provider account and its options."""

    tenant_id: str
    channel_id: str
    kind: str
    external_id: str
    name: str
    page_id: str | None = None
    account_sid: str | None = None
    token_expires_at: datetime | None = None
    webhook_url: str | None = None
    force: bool = False
    business_account_id: str | None = None

    def connection(self) -> ConnectRequest:
        """The provider's part of the request."""
        return ConnectRequest(
            external_id=self.external_id,
            page_id=self.page_id,
            account_sid=self.account_sid,
            webhook_url=self.webhook_url,
            business_account_id=self.business_account_id,
        )

    @property
    def route_key(self) -> str:
        return f"{self.kind}:{self.external_id}"


def _now() -> datetime:
    return datetime.now(UTC)


def adapter_for(kind: str) -> ChannelAdapter:
    """The registered adapter of ``kind``; refused when this build has none (a build without a
    provider's adapter cannot connect its channels, and must not pretend to)."""
    module = channels.REGISTRY.get(kind, "").partition(":")[0]
    try:
        return channels.adapter(kind)
    except channels.UnknownChannel:
        missing = f"no adapter is registered for {kind!r}"
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        missing = f"its adapter {module} is not available"
    raise Refused(
        "invalid_channel_request",
        f"{kind} channels cannot be connected by this build: {missing}; nothing was changed",
    )


def check_id(value: str, what: str) -> str:
    """A tenant or channel id: letters, digits, ``_`` and ``-``, at most 100 characters."""
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}", value or ""):
        raise Refused(
            "invalid_channel_request",
            f"{what} must be 1-100 letters, digits, '_' or '-' (starting with a letter or digit): {value!r}",
        )
    return value


def check_request(request: ChannelRequest, adapter: ChannelAdapter) -> None:
    """Refuse a malformed request before anything is written or asked of the provider."""
    check_id(request.channel_id, "channel id")
    if (
        not request.external_id
        or "/" in request.external_id
        or request.external_id != request.external_id.strip()
    ):
        raise Refused(
            "invalid_channel_request",
            "the external id must be the provider's account id, without '/' or spaces",
        )
    if not request.name.strip():
        raise Refused("invalid_channel_request", "the channel's name must not be empty")
    connection = request.connection()
    for option in connection.options():
        if option not in adapter.connect_options:
            takers = [k for k in channels.kinds() if option in channels.adapter(k).connect_options]
            flag = "--" + option.replace("_", "-")
            raise Refused("invalid_channel_request", f"{flag} applies to {', '.join(takers)} channels only")
    adapter.check_connection(connection)  # raises Refused("invalid_channel_request", ...)


def _check_token(token: str) -> str:
    token = token.strip()
    if not token:
        raise Refused("invalid_channel_request", "the token is empty")
    if len(token) > 4096 or any(ch.isspace() for ch in token):
        raise Refused("invalid_channel_request", "the token must be one line without spaces")
    return token


def test(request: ChannelRequest, token: str) -> dict[str, Any]:
    """Ask the provider whether ``token`` works for the account (a read, nothing written anywhere):
    ``{"ok": True, "account": {"name", ...}}``, else Refused ``provider_refused`` with the provider's
    error, or ``invalid_channel_request``."""
    adapter = adapter_for(request.kind)
    check_request(request, adapter)
    token = _check_token(token)
    adapter.check_token(request.external_id, token)
    return {"ok": True, "account": _probe(adapter, request.connection(), token)}


def _probe(adapter: ChannelAdapter, connection: ConnectRequest, token: str) -> dict[str, Any]:
    try:
        return adapter.test_connection(connection, token)
    except ProviderError as exc:
        if exc.transient:
            raise Refused(
                "provider_unavailable", f"the provider could not be reached to test the token: {exc}", 503
            ) from exc
        raise Refused(
            "provider_refused",
            f"the provider refused the token: {exc}" + (f" [{exc.detail}]" if exc.detail else ""),
        ) from exc


def _credential(token: str) -> dict[str, Any]:
    """What the channel document says about its token: that it is set, and at most its last 4."""
    return {"set": True, "last4": token[-4:] if len(token) >= 12 else "", "setAt": _now()}


def _token_health(expires_at: datetime | None) -> dict[str, Any]:
    from shared import store

    return {
        "tokenRotatedAt": _now(),
        "tokenExpiresAt": expires_at if expires_at is not None else store.delete_field(),
    }


def _require_tenant(tenant_id: str) -> None:
    from shared import store

    check_id(tenant_id, "tenant id")
    if store.get_tenant(tenant_id) is None:
        raise Refused("unknown_tenant", f"tenant {tenant_id} does not exist", 404)


def connect(request: ChannelRequest, token: str) -> dict[str, Any]:
    """Test the token with the provider, store it in Secret Manager, write the channel and its route,
    and connect the provider to our webhooks. Idempotent: connecting the same account again (to fix a
    refused subscription, or to reconnect) is safe. Returns what was done, without the token."""
    from shared import secrets, store

    _require_tenant(request.tenant_id)
    adapter = adapter_for(request.kind)
    check_request(request, adapter)  # fails before anything is written
    existing = store.get_channel(request.tenant_id, request.channel_id)
    if existing is not None and (existing.get("kind"), existing.get("externalId")) != (
        request.kind,
        request.external_id,
    ):
        raise Refused(
            "channel_conflict",
            f"channel {request.channel_id} of tenant {request.tenant_id} is already "
            f"{existing.get('kind')}:{existing.get('externalId')}; choose another channel id",
            409,
        )
    route = store.resolve_route(request.route_key)
    moved_from = None
    if route is not None and (route.tenant_id, route.channel_id) != (request.tenant_id, request.channel_id):
        if not request.force:
            raise Refused(
                "channel_conflict",
                f"{request.route_key} is routed to tenant {route.tenant_id}, channel {route.channel_id}; "
                "moving its webhooks here needs force",
                409,
            )
        moved_from = f"{route.tenant_id}/{route.channel_id}"
    token = _check_token(token)
    adapter.check_token(request.external_id, token)
    account = _probe(adapter, request.connection(), token)

    secret_name = secrets.channel_token_name(request.tenant_id, request.channel_id)
    version = secrets.add_secret_version(secret_name, token, labels={"kind": "channel-token"})
    adapter.store_token(
        {"kind": request.kind, "externalId": request.external_id, "accountSid": request.account_sid}, token
    )
    store.put_channel(
        request.tenant_id,
        request.channel_id,
        request.kind,
        request.external_id,
        request.name.strip(),
        signer=request.account_sid,
    )
    fields: dict[str, Any] = {"credential": _credential(token)}
    if request.account_sid:
        fields["accountSid"] = request.account_sid
    if request.page_id:
        fields["pageId"] = request.page_id
    if request.business_account_id:
        fields["businessAccountId"] = request.business_account_id  # its template list (shared/templates.py)
    if account.get("name"):
        fields["providerName"] = str(account["name"])[:200]
    store.update_channel(request.tenant_id, request.channel_id, fields)
    store.update_channel_health(
        request.tenant_id, request.channel_id, _token_health(request.token_expires_at)
    )
    subscription = _subscribe(adapter, request, token)
    return {
        "tenant": request.tenant_id,
        "channel": request.channel_id,
        "kind": request.kind,
        "externalId": request.external_id,
        "route": request.route_key,
        "secret": secret_name,
        "secretVersion": version,
        "subscription": subscription or None,
        "account": account,
        "movedFrom": moved_from,
        "note": adapter.connect_note,
    }


def _subscribe(adapter: ChannelAdapter, request: ChannelRequest, token: str) -> dict[str, Any]:
    from shared import store

    try:
        subscription = adapter.connect(request.connection(), token)
    except ProviderError as exc:
        raise Refused(
            "connect_failed",
            f"channel {request.channel_id} is stored and routed, but the provider refused to connect it: "
            f"{exc} [{exc.detail or ''}]. Fix the cause (token, permissions) and connect it again: "
            "it is safe to repeat.",
            502,
        ) from exc
    if subscription:
        subscription = {**subscription, "at": _now()}
        store.update_channel(request.tenant_id, request.channel_id, {"webhookSubscription": subscription})
    return subscription


def _channel(tenant_id: str, channel_id: str) -> dict[str, Any]:
    from shared import store

    _require_tenant(tenant_id)
    check_id(channel_id, "channel id")
    channel = store.get_channel(tenant_id, channel_id)
    if channel is None:
        raise Refused("not_found", f"channel {channel_id} of tenant {tenant_id} does not exist", 404)
    return channel


def _request_of(tenant_id: str, channel_id: str, channel: dict[str, Any], **extra: Any) -> ChannelRequest:
    adapter = adapter_for(str(channel.get("kind")))
    options = {
        "page_id": channel.get("pageId") or (channel.get("webhookSubscription") or {}).get("pageId"),
        "account_sid": channel.get("accountSid"),
        "business_account_id": channel.get("businessAccountId"),
    }
    return ChannelRequest(
        tenant_id=tenant_id,
        channel_id=channel_id,
        kind=str(channel.get("kind")),
        external_id=str(channel.get("externalId")),
        name=str(channel.get("name") or channel_id),
        **{k: v for k, v in options.items() if v and k in adapter.connect_options},
        **extra,
    )


def rotate(tenant_id: str, channel_id: str, token: str, expires_at: datetime | None = None) -> dict[str, Any]:
    """Test a new token with the provider and store it as the channel's secret (and wherever else its
    provider keeps it); ``siblings``: other channels sharing a provider account secret, whose tokens
    must follow."""
    from shared import secrets, store

    channel = _channel(tenant_id, channel_id)
    adapter = adapter_for(str(channel.get("kind")))
    token = _check_token(token)
    adapter.check_token(str(channel.get("externalId")), token)
    account = _probe(adapter, _request_of(tenant_id, channel_id, channel).connection(), token)
    name = secrets.channel_token_name(tenant_id, channel_id)
    version = secrets.add_secret_version(name, token, labels={"kind": "channel-token"})
    store.update_channel(tenant_id, channel_id, {"credential": _credential(token)})
    store.update_channel_health(tenant_id, channel_id, _token_health(expires_at))
    shared_secret = adapter.store_token(channel, token)
    siblings: list[str] = []
    if shared_secret is not None:
        account_sid = channel.get("accountSid")
        siblings = [
            f"{t}/{c}"
            for t, c, data in store.list_channels()
            if data.get("accountSid") == account_sid and (t, c) != (tenant_id, channel_id)
        ]
    return {
        "tenant": tenant_id,
        "channel": channel_id,
        "secret": name,
        "secretVersion": version,
        "sharedSecret": shared_secret,
        "siblings": siblings,
        "account": account,
    }


def reconnect(tenant_id: str, channel_id: str, webhook_url: str | None = None) -> dict[str, Any]:
    """Connect a channel again with the token it has (after a disconnection, or when the provider
    lost our subscription): the same steps as :func:`connect`, the token read from Secret Manager."""
    from shared import secrets

    channel = _channel(tenant_id, channel_id)
    extra: dict[str, Any] = {}
    if webhook_url is not None:
        extra["webhook_url"] = webhook_url
    request = _request_of(tenant_id, channel_id, channel, **extra)
    try:
        token = secrets.secret(secrets.channel_token_name(tenant_id, channel_id))
    except Exception as exc:  # MissingSecret: deleted on disconnect
        raise Refused(
            "token_missing", f"channel {channel_id} has no stored token: connect it with a new token", 409
        ) from exc
    return connect(request, token)


def _shared_subscription(
    adapter: ChannelAdapter, tenant_id: str, channel_id: str, channel: dict[str, Any]
) -> bool:
    """Whether another connected channel (of any workspace) relies on the provider subscription
    this one's :meth:`~shared.channels.base.ChannelAdapter.disconnect` would remove."""
    from shared import store

    key = adapter.subscription_key(channel)
    if key is None:
        return False
    for other_tenant, other_id, other in store.list_channels():
        if (other_tenant, other_id) == (tenant_id, channel_id) or other.get("disconnectedAt"):
            continue
        try:
            other_key = adapter_for(str(other.get("kind"))).subscription_key(other)
        except Refused:
            continue
        if other_key == key:
            return True
    return False


def disconnect(tenant_id: str, channel_id: str) -> dict[str, Any]:
    """Stop a channel: its route is deleted (its webhooks are quarantined as unknown_route from now
    on), the provider told to stop sending where it can (``adapter.disconnect``: Meta's Page
    subscription removed, Telegram's webhook deleted), its token deleted from Secret Manager, and the
    channel document marked ``disconnectedAt`` (kept: its conversations stay readable). A provider
    account secret shared with other channels is kept, and so is a provider subscription another
    connected channel still uses (a Page behind both a Messenger and an Instagram channel).

    The provider's refusal, or failing to reach it, never blocks the disconnection: it is answered
    as ``providerWarning`` (the caller records it in the audit entry) and written as the channel's
    ``health.lastError`` (``kind: disconnect_incomplete``), where the channels page shows it."""
    from shared import secrets, store

    channel = _channel(tenant_id, channel_id)
    adapter = adapter_for(str(channel.get("kind")))
    request = _request_of(tenant_id, channel_id, channel)
    name = secrets.channel_token_name(tenant_id, channel_id)
    provider_note = warning = None
    try:
        token = secrets.secret(name)
    except Exception:  # noqa: BLE001 - already gone: nothing to tell the provider with
        token = None
    if token is not None and _shared_subscription(adapter, tenant_id, channel_id, channel):
        provider_note = "the provider subscription is kept: another connected channel uses it"
    elif token is not None:
        try:
            adapter.disconnect(request.connection(), token)
        except ProviderError as exc:
            warning = f"the provider may still send this account's webhooks: {exc}"
            provider_note = warning
            store.update_channel_health(
                tenant_id,
                channel_id,
                {
                    "lastError": {
                        "code": exc.code,
                        "reason": warning[:500],
                        "kind": "disconnect_incomplete",
                        "at": _now(),
                    }
                },
            )
    route_deleted = store.disconnect_channel(tenant_id, channel_id, request.route_key)
    store.update_channel(tenant_id, channel_id, {"credential": store.delete_field()})
    secret_deleted = secrets.delete_secret(name)
    return {
        "tenant": tenant_id,
        "channel": channel_id,
        "route": request.route_key,
        "routeDeleted": route_deleted,
        "secretDeleted": secret_deleted,
        "providerNote": provider_note,
        "providerWarning": warning,
    }
