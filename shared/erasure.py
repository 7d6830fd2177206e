"""Erasing a contact on request (issue 18, part 7): nothing of them stays readable.

:func:`erase_contact` deletes, for the contact's support conversations (shared/contact_data.py
``conversations_of``): every media object under the conversation's prefix in Cloud Storage (files
and thumbnails), then the conversation document with every document under it (messages, notes,
activity lines, parked events, pending summary shares: the messages' search fields go with them),
then the contact document (its identity and its contact-search ``terms``), the agents' notifications
about those conversations and the reports' per-conversation state. A rating's comment (shared/csat.py)
lives on the conversation and its activity line, so it goes with them. Exports made before
(message exports and contact files, which may hold the contact's messages) are withdrawn: their
objects are deleted and their jobs marked ``withdrawn``. Then one audit entry ``contact.erase``
with counts and the contact's pseudonymous reference (shared/contact_data.py ``reference``), never
the erased data.

Before any of that, what the pipeline kept of the contact outside the inbox goes: the dead letters
(inbound events Pub/Sub gave up on, and quarantine records riding the same topic) and the quarantined
raw items that are the tenant's and name one of the contact's provider ids (its ``externalId``, as a
whole token: ``15551234567`` matches ``whatsapp:+15551234567`` but not ``155512345678``). An item is
the tenant's when its route key is one of the tenant's channels' (connected or not), or, naming no
route (an item no parser could read), when its raw text names one of those channels' accounts (a
Page id, a phone number id, a Twilio number). The dead-letter subscription is read whole: the
contact's letters are acknowledged, the others given back at once. Doing this first means a failure
to reach Pub/Sub erases nothing and the request can simply be repeated. Not reached: a Telegram item
no parser could read names no bot, so it cannot be told to be the tenant's (the operator's quarantine,
kept 30 days); and what backups hold until they expire (README, "Exports, a contact's data, retention").

Running it again for the same contact finds nothing and refuses ``not_found``; a run interrupted
half way is finished by running it again (every step deletes what is left).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from shared import audit, store
from shared.auth import Caller, require_admin
from shared.contact_data import ContactRef, conversations_of, reference
from shared.errors import OperatorError, Refused
from shared.media import storage

if TYPE_CHECKING:  # pragma: no cover
    from google.pubsub_v1.types import ReceivedMessage

# A provider id shorter than this is not looked for in raw payloads (it would match unrelated tokens).
MIN_ID_LENGTH = 5


def _conversation_prefix(tenant_id: str, conversation_id: str) -> str:
    return f"tenants/{tenant_id}/conversations/{conversation_id}/"


def delete_objects(prefix: str) -> int:
    """Delete every object under ``prefix``; how many."""
    paths = [path for path, _ in storage.listed(prefix)]
    for path in paths:
        storage.delete(path)
    return len(paths)


def withdraw_exports(tenant_id: str) -> int:
    """Delete the tenant's export objects and mark their jobs withdrawn; how many jobs."""
    delete_objects(f"{storage.EXPORTS_PREFIX}{tenant_id}/")
    withdrawn = 0
    for export_id, job in store.list_export_jobs(tenant_id, limit=1000):
        if job.get("state") != "withdrawn":
            store.update_export_job(
                tenant_id,
                export_id,
                {"state": "withdrawn", "path": None, "cursor": None, "query": None, "terms": []},
            )
            withdrawn += 1
    return withdrawn


def token_pattern(values: Iterable[str | None]) -> re.Pattern[str] | None:
    """A pattern finding any of ``values`` as a whole token (not inside a longer run of letters or
    digits); None when there is nothing to look for."""
    words = sorted({v for v in values if v and len(v) >= MIN_ID_LENGTH}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(map(re.escape, words)) + r")(?![A-Za-z0-9])")


def provider_ids(contact: dict[str, Any] | None, conversations: list[tuple[str, dict[str, Any]]]) -> set[str]:
    """The contact's ids at the provider, as payloads name them (a Twilio ``whatsapp:+1555...``
    address also as its number)."""
    found = {str((contact or {}).get("externalId") or "")}
    found |= {str(c.get("contactExternalId") or "") for _, c in conversations}
    found |= {value.rpartition(":")[2] for value in found if ":" in value}
    return {value for value in found if value}


class Mentions:
    """Which raw payloads are the tenant's and about the contact."""

    def __init__(self, tenant_id: str, ids: set[str]) -> None:
        channels = [data for _, _, data in store.list_channels(tenant_id)]
        accounts = [str(data.get("externalId") or "") for data in channels]
        self.route_keys = sorted({f"{data.get('kind')}:{data.get('externalId')}" for data in channels})
        self.accounts = token_pattern(accounts)
        self.contact = token_pattern(ids)

    def about(self, route_key: str | None, text: str) -> bool:
        """Whether a payload routed to ``route_key`` (None: it names no route) with this raw text is
        one of the tenant's and names the contact."""
        if self.contact is None or not self.contact.search(text):
            return False
        if route_key:
            return route_key in self.route_keys
        return self.accounts is not None and self.accounts.search(text) is not None

    def dead_letter(self, received: ReceivedMessage) -> bool:
        message = received.message
        text = bytes(message.data).decode("utf-8", errors="replace")
        route_key = message.attributes.get("route_key")
        if route_key is None:  # a quarantine record rides the topic with its route in the body
            try:
                body = json.loads(text)
            except ValueError:
                body = None
            route_key = body.get("route_key") if isinstance(body, dict) else None
        return self.about(route_key, f"{text}\n{message.ordering_key}")


def erase_dead_letters(mentions: Mentions) -> int:
    """Acknowledge the dead letters about the contact (gone for good), give the others back at once;
    how many were acknowledged. Refused (nothing changed) when Pub/Sub cannot be read."""
    from shared.operations import dead_letters

    try:
        client = dead_letters.subscriber()
        try:
            path = dead_letters.subscription_path(client)
            selected, others = dead_letters.scan(client, path, dead_letters.MAX_SCANNED, mentions.dead_letter)
            try:
                dead_letters.acknowledge(client, path, [received.ack_id for received in selected])
            finally:
                dead_letters.release(client, path, others)
        finally:
            client.close()
    except OperatorError as exc:
        raise Refused(
            "erasure_unavailable", f"the dead letters could not be searched ({exc}); nothing was erased", 503
        ) from exc
    return len(selected)


def erase_quarantined(mentions: Mentions) -> int:
    """Delete the quarantined items about the contact (pending, replayed or discarded); how many."""
    doomed = [
        f"quarantine/{quarantine_id}"
        for quarantine_id, record in store.quarantine_records(mentions.route_keys, unrouted=True)
        if mentions.about(record.get("routeKey"), f"{record.get('raw') or ''}\n{record.get('url') or ''}")
    ]
    return store.delete_paths(doomed) if doomed else 0


def erase_contact(caller: Caller, contact_id: str) -> dict[str, Any]:
    """Erase the contact; answer the counts of what was deleted."""
    require_admin(caller, "erasing a contact")
    tenant_id = caller.tenant_id
    contact = store.contact_document(tenant_id, contact_id)
    conversations = conversations_of(tenant_id, contact_id)
    if contact is None and not conversations:
        raise Refused("not_found", "no such contact (already erased?)", 404)
    counts = {"conversations": len(conversations), "documents": 0, "mediaObjects": 0, "exportsWithdrawn": 0}
    mentions = Mentions(tenant_id, provider_ids(contact, conversations))
    counts["deadLetters"] = erase_dead_letters(mentions)
    counts["quarantined"] = erase_quarantined(mentions)
    for conversation_id, _ in conversations:
        counts["mediaObjects"] += delete_objects(_conversation_prefix(tenant_id, conversation_id))
        counts["documents"] += store.delete_tree(f"tenants/{tenant_id}/conversations/{conversation_id}")
    counts["documents"] += store.delete_tree(f"tenants/{tenant_id}/contacts/{contact_id}")
    # Agents' notification feeds quote the messages they announce; the reports' fold keeps a state
    # per conversation under the conversation's id (which derives from the customer's address).
    ids = [conversation_id for conversation_id, _ in conversations]
    counts["documents"] += store.delete_paths(store.notification_paths(tenant_id, ids)) if ids else 0
    # The reports' per-conversation states are named by the conversations' ids.
    counts["documents"] += store.delete_paths(store.report_state_paths(tenant_id, ids)) if ids else 0
    counts["exportsWithdrawn"] = withdraw_exports(tenant_id)
    audit.record(
        caller, "contact.erase", {"kind": "contact", "id": reference(tenant_id, contact_id)}, details=counts
    )
    return {"erased": True, **counts}


def erase_action(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``contact_erase``."""
    return erase_contact(caller, ContactRef.model_validate(body).contactId)
