"""Approved message templates, fetched from the provider and cached (issue 17, part 3).

The dashboard's template picker asks agent_api ``list_templates`` for a conversation: its channel's
templates come from the channel's adapter (:meth:`ChannelAdapter.list_templates`: WhatsApp's
Business Management API ``GET /{waba-id}/message_templates``), cached in
``tenants/{t}/channels/{c}/templates/list`` and fetched again when older than
:data:`TEMPLATE_CACHE_SECONDS` or when an agent asks (``refresh``). Sending a template
(:func:`check_send`, from ``send_message``) checks it against the list before anything is written
or queued: it must exist in that language, be APPROVED and get exactly its number of parameters;
a name missing from a stale list refreshes the list once before refusing.

A provider without a list (Twilio's Content API templates are not listed: out of scope) answers
``listed: false``; its templates are checked by the provider when sent, as before.
"""

from __future__ import annotations

import time
from typing import Any

from shared import channels, conversations, secrets, store
from shared.auth import Caller
from shared.errors import Refused

TEMPLATE_CACHE_SECONDS = 10 * 60


def _fetch(tenant_id: str, channel_id: str) -> list[dict[str, Any]] | None:
    """The provider's list now (None: the channel's provider keeps none), written to the cache."""
    from shared.config import settings

    channel = store.get_channel(tenant_id, channel_id)
    if channel is None:
        raise Refused("channel_not_found", "the conversation's channel no longer exists", 404)
    adapter = channels.adapter(str(channel["kind"]))
    token = secrets.secret(secrets.channel_token_name(tenant_id, channel_id))
    account = adapter.account(channel, token)
    listed = adapter.list_templates(account, channel, timeout=settings().provider_timeout_seconds)
    if listed is not None:
        store.put_template_cache(tenant_id, channel_id, listed, int(time.time() * 1000))
    return listed


def channel_templates(
    tenant_id: str, channel_id: str, channel_kind: str, *, refresh: bool = False
) -> tuple[list[dict[str, Any]] | None, int | None]:
    """The channel's templates and when they were fetched (ms), from the cache unless it is older
    than :data:`TEMPLATE_CACHE_SECONDS` or ``refresh``; (None, None) when the provider has no list."""
    if not channels.capabilities(channel_kind).templates:
        return None, None
    if not refresh:
        cached = store.get_template_cache(tenant_id, channel_id)
        now_ms = int(time.time() * 1000)
        if cached and now_ms - int(cached.get("fetchedAtMs") or 0) < TEMPLATE_CACHE_SECONDS * 1000:
            return list(cached.get("templates") or []), int(cached["fetchedAtMs"])
    listed = _fetch(tenant_id, channel_id)
    return listed, (int(time.time() * 1000) if listed is not None else None)


def for_conversation(caller: Caller, conversation_id: str, *, refresh: bool = False) -> dict[str, Any]:
    """agent_api ``list_templates``: the conversation's channel's templates, every status (the
    dashboard offers the APPROVED ones and shows the others greyed)."""
    conversation = conversations.for_staff(caller, conversation_id)
    templates, fetched_at = channel_templates(
        caller.tenant_id,
        str(conversation.get("channelId")),
        str(conversation.get("channel")),
        refresh=refresh,
    )
    return {
        "conversationId": conversation_id,
        "listed": templates is not None,
        "templates": templates or [],
        "fetchedAtMs": fetched_at,
    }


def _find(templates: list[dict[str, Any]], name: str, language: str) -> dict[str, Any] | None:
    return next((t for t in templates if t.get("name") == name and t.get("language") == language), None)


def check_send(
    tenant_id: str, conversation: dict[str, Any], name: str, language: str, parameters: list[str]
) -> list[str]:
    """Refuse (422) a template that does not exist in ``language``, is not APPROVED, or does not
    get exactly its number of body parameters; nothing when the provider keeps no list. Answers
    the parameters' names when the template names them (sent with each parameter), else []."""
    channel_id, kind = str(conversation.get("channelId")), str(conversation.get("channel"))
    templates, _ = channel_templates(tenant_id, channel_id, kind)
    if templates is None:
        return []
    found = _find(templates, name, language)
    if found is None:
        templates, _ = channel_templates(tenant_id, channel_id, kind, refresh=True)
        found = _find(templates or [], name, language)
    if found is None:
        raise Refused("template_not_found", f"no template {name} in {language} on this channel", 422)
    if found.get("status") != "APPROVED":
        status = str(found.get("status") or "unknown").lower()
        raise Refused("template_not_approved", f"template {name} is {status}, not approved", 422)
    expected = int(found.get("parameterCount") or 0)
    if len(parameters) != expected:
        raise Refused(
            "template_parameters",
            f"template {name} takes {expected} parameter(s), {len(parameters)} given",
            422,
        )
    if any(not p.strip() for p in parameters):
        raise Refused("template_parameters", f"every parameter of template {name} needs a value", 422)
    return [str(n) for n in found.get("parameterNames") or []]
