"""The search fields every new message document carries, written in the message's own create
(no extra document write):

    tenantId        the tenant (support conversations only: an app's direct and group chats are
                    its users' private conversations and carry none, so no staff query reaches them)
    conversationId  the conversation (a collection-group result names its parent anyway; kept so a
                    client-side timeline query under the rules has it in the data)
    sentAtMs        the message's time, int milliseconds (the provider's time for inbound messages)
    terms           a map from index keys to ``sentAtMs``:
                      "<tenant>:"                every message (the timeline)
                      "<tenant>:@type=<type>"    and "@direction=", "@channel=" (timeline filters)
                      "<tenant>:<term>"          each search term (shared/search/terms.py); none for
                                                 activity lines (direction ``system``) and deleted
                                                 messages

Why a map keyed by tenant and term, not an array queried with ``array-contains``: a query on one
key (``terms.`demo:parcel` > 0`` ordered by it, descending) is served by that field's own
single-field index, newest first, date range included, in production and in the emulator alike,
without a composite index per term; and the tenant is part of the key, so no other tenant's message
can ever match. The emulator evaluates ``array-contains`` by scanning every message of the database
(measured: 4 s at 10,000 messages, 10-40 s at 20,000) while it answers a range on one key in
~80 ms at 10,000
(bench/search.py). Each key costs one index entry per order (infra/firestore.indexes.json declares
the ``terms`` map descending and ascending, collection-group scope, and exempts nothing else of it).

Contacts carry ``terms`` too, ``{term: true}`` from name, handle and external id, written only when
the contact changes.
"""

from __future__ import annotations

from typing import Any

from shared.search.terms import content_texts, document_terms

UNSEARCHED_DIRECTIONS = ("system",)
FACETS = ("type", "direction", "channel")


def every_key(tenant_id: str) -> str:
    """The key every message of the tenant has (the timeline)."""
    return f"{tenant_id}:"


def term_key(tenant_id: str, term: str) -> str:
    """The key of a search term (terms never contain ``@``: it is not a letter or digit)."""
    return f"{tenant_id}:{term}"


def facet_key(tenant_id: str, field: str, value: str) -> str:
    """The key of a message's type, direction or channel (the timeline's filters)."""
    return f"{tenant_id}:@{field}={value}"


def message_words(document: dict[str, Any]) -> list[str]:
    """The search terms of a message document (its text and content), none for activity lines and
    deleted messages."""
    if document.get("direction") in UNSEARCHED_DIRECTIONS or document.get("deleted"):
        return []
    return document_terms(content_texts(document.get("content"), document.get("text")))


def message_terms(tenant_id: str, sent_at_ms: int, document: dict[str, Any]) -> dict[str, int]:
    """The ``terms`` map of a message document."""
    at = int(sent_at_ms)
    keys = {every_key(tenant_id): at}
    for field in FACETS:
        value = document.get(field)
        if isinstance(value, str) and value:
            keys[facet_key(tenant_id, field, value)] = at
    for term in message_words(document):
        keys[term_key(tenant_id, term)] = at
    return keys


def message_fields(
    tenant_id: str | None, conversation_id: str, sent_at_ms: int, document: dict[str, Any]
) -> dict[str, Any]:
    """The fields to add to a new message document (``tenant_id`` None for an app's direct or
    group chat: not searchable by staff, still ordered by time)."""
    fields: dict[str, Any] = {"conversationId": conversation_id, "sentAtMs": int(sent_at_ms)}
    if tenant_id is not None:
        fields["tenantId"] = tenant_id
        fields["terms"] = message_terms(tenant_id, sent_at_ms, document)
    return fields


def contact_terms(contact: dict[str, Any]) -> dict[str, bool]:
    """A contact's ``terms``: its name, handle and external id (a phone number's digits...)."""
    words = document_terms([contact.get("name"), contact.get("handle"), contact.get("externalId")], limit=200)
    return dict.fromkeys(words, True)
