"""Customers' names and pictures from the providers' profile APIs, off the ingest path.

Messenger and Instagram webhooks carry only a page-scoped id (PSID, IGSID): the name and picture
come from the Graph User Profile API (``capabilities.profiles``; the adapter's ``fetch_profile``).

1. Ingest, when it writes a contact (a contact it has not written lately: the first message, then
   about once an hour per instance, ``shared/inbox.py`` ``KnownContacts``), queues one Cloud Task
   (:func:`enqueue`) on the ``media`` queue, named after the contact and the current refresh period,
   so every instance together queues at most one per contact per period. No read, no write, no
   provider call on the ingest path.
2. deliver runs it (action ``profile``, :func:`fetch`): a profile fetched less than
   :data:`REFRESH_MS` ago (a failed lookup: :data:`RETRY_FAILED_MS`) is left alone (cached);
   otherwise the adapter calls the provider, and the contact's ``profile`` becomes
   ``{name, firstName?, lastName?, username?, pictureUrl?, fetchedAtMs}``. The conversation's
   ``contactName``/``contactPictureUrl`` follow (unless the channel itself named the customer), so
   the inbox shows a name, not an id.
3. A refusal (no such person for this Page, no consent yet, a revoked token) is kept as
   ``profile.error`` with the time, keeping the name and picture already known, and tried again
   after :data:`RETRY_FAILED_MS`; a transient one (timeouts, rate limits) is retried by the queue
   up to :data:`MAX_ATTEMPTS`, then kept as an error the same way.

Meta's picture URLs expire within days, hence the refresh period.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from shared import channels, ids, store, tasks
from shared.config import settings
from shared.errors import PermanentError, ProviderError, SwitchboardError

log = logging.getLogger(__name__)

QUEUE = "media"  # topology.json queues.media: the provider-fetch queue deliver serves
ACTION = "profile"
REFRESH_MS = 2 * 24 * 3600 * 1000  # Meta's profile_pic URLs "expire in a few days"
RETRY_FAILED_MS = 24 * 3600 * 1000
MAX_ATTEMPTS = 8  # the media queue's max_attempts


def task_id(contact_id: str, now_ms: int) -> str:
    """One task per contact per refresh period, whichever instance queues it."""
    return f"profile-{contact_id}-{now_ms // REFRESH_MS}"


def enqueue(tenant_id: str, conversation_id: str, contact_id: str, now_ms: int | None = None) -> bool:
    """Queue the profile lookup of a conversation's customer; False when already queued this period
    (or when no deliver URL is configured)."""
    deliver_url = settings().deliver_url
    if not deliver_url:
        return False
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    payload = {"tenantId": tenant_id, "conversationId": conversation_id, "action": ACTION}
    return tasks.enqueue(tasks.queue_name(QUEUE), task_id(contact_id, now_ms), deliver_url, payload)


def _fresh(profile: Any, now_ms: int) -> bool:
    if not isinstance(profile, dict) or not isinstance(profile.get("fetchedAtMs"), int):
        return False
    age = now_ms - int(profile["fetchedAtMs"])
    return age < (RETRY_FAILED_MS if profile.get("error") else REFRESH_MS)


def fetch(tenant_id: str, conversation_id: str, retry_count: int = 0, now_ms: int | None = None) -> str:
    """Run one profile task; what happened (``fetched``, ``cached``, ``failed``...). Raises a
    transient error for the queue to retry (below :data:`MAX_ATTEMPTS`)."""
    from shared.outbox.delivery import account_for

    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    conversation = store.get_conversation(tenant_id, conversation_id)
    if conversation is None:
        return "no-conversation"
    kind = str(conversation.get("channel") or "")
    external_id = str(conversation.get("contactExternalId") or "")
    channel_id = str(conversation.get("channelId") or "")
    if not external_id or not channel_id or kind not in channels.REGISTRY:
        return "no-profile-api"
    if not channels.capabilities(kind).profiles:
        return "no-profile-api"
    contact_id = str(conversation.get("contactId") or ids.contact_id(channel_id, external_id))
    contact = store.get_contact_versioned(tenant_id, contact_id)
    if not contact.exists:
        return "no-contact"
    before = contact.data.get("profile") if isinstance(contact.data.get("profile"), dict) else {}
    if _fresh(before, now_ms):
        return "cached"

    def failed(reason: str, code: str | None) -> str:
        kept = {
            k: v
            for k, v in before.items()
            if k in ("name", "firstName", "lastName", "username", "pictureUrl")
        }
        profile = {**kept, "error": reason[:300], "fetchedAtMs": now_ms}
        if code:
            profile["errorCode"] = code
        store.set_contact_profile(tenant_id, contact_id, profile)
        log.warning(
            "customer profile not fetched",
            extra={"fields": {"event": "profile_failed", "contact_id": contact_id, "reason": reason[:200]}},
        )
        return "failed"

    try:
        account = account_for(tenant_id, channel_id)
        found = channels.adapter(kind).fetch_profile(
            account, external_id, timeout=settings().provider_timeout_seconds
        )
    except ProviderError as exc:
        if exc.transient and retry_count + 1 < MAX_ATTEMPTS:
            raise
        return failed(exc.reason(), exc.code)
    except PermanentError as exc:
        return failed(str(exc), None)
    except SwitchboardError as exc:
        if exc.transient and retry_count + 1 >= MAX_ATTEMPTS:
            return failed(f"gave up after {retry_count + 1} attempts: {exc}", None)
        raise
    profile = {k: v for k, v in found.items() if v is not None}
    profile["fetchedAtMs"] = now_ms
    store.set_contact_profile(tenant_id, contact_id, profile)
    _name_conversation(tenant_id, conversation_id, conversation, before, profile)
    return "fetched"


def _name_conversation(
    tenant_id: str,
    conversation_id: str,
    conversation: dict[str, Any],
    before: dict[str, Any],
    profile: dict[str, Any],
) -> None:
    """Give the conversation the profile's name and picture, unless the channel named the customer
    itself (a ``contactName`` the previous profile did not give)."""
    current = conversation.get("contactName")
    if current and current != before.get("name"):
        return
    update: dict[str, Any] = {}
    if profile.get("name") and profile["name"] != current:
        update["contactName"] = profile["name"]
    if profile.get("pictureUrl") != conversation.get("contactPictureUrl"):
        update["contactPictureUrl"] = profile.get("pictureUrl")
    if update:
        store.update_conversation(tenant_id, conversation_id, update)
