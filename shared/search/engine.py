"""The query side of search and the timeline, on Firestore's own indexes (no other service).

Search. The words of a query become terms (shared/search/terms.py). Firestore is asked for the
messages indexed under the most selective term's key (``terms.<tenant>:<term>``, whose value is the
message's time: shared/search/fields.py), ordered by it descending (newest first among matches, the
order the issue asks for), with the date range in the same query; the other terms (their keys,
projected alone), channel and direction are checked on the returned documents, and status,
assignee and label on their conversations (read with one ``get_all`` per page, cached for the
request). Pages are fetched until the results fill a page or :data:`SCAN_BUDGET`
messages were read; the answer's ``next`` cursor continues where the scan stopped (so a rare
combination of words may answer a short or empty page with a cursor: ask again to read on).
Contacts are searched by the same terms (name, handle, external id), first page only, on a thread of
their own while the messages are scanned: the answer waits for the slower of the two, not both.

Timeline. All of a tenant's messages of every type, across conversations and channels, by
``sentAtMs`` within ``[fromMs, toMs)``, newest or oldest first, paged by a cursor (the last message's
time and path, so equal times never skip or repeat a message), by the tenant's key ``<tenant>:``;
a filter of one type, direction or channel uses that facet's key instead (``<tenant>:@type=note``),
and further filters are checked on the page. Activity
lines (direction ``system``) are left out unless asked for by type or direction.

Both are for staff of the tenant only (agents and admins: app users never reach agent_api), and
every query names the caller's tenant: another tenant's messages are never read.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared import store
from shared.auth import Caller
from shared.errors import Refused
from shared.search.fields import every_key, facet_key, term_key
from shared.search.terms import highlights, most_selective, query_terms

SCAN_BUDGET = 500  # messages read at most per request (Firestore bills one read per document)
SCAN_CHUNK = 100  # the first round trip's messages when results are filtered after the query;
# each later one reads twice the last (100, 200, then the rest of the budget): a filter that keeps
# few asks Firestore three times at most, not five (each query pays a round trip, and on the
# emulator a scan of the whole database)
SNIPPET_CHARS = 160
TIMELINE_TEXT_CHARS = 300
CONTACT_RESULTS = 10
STAFF_ROLES = ("owner", "admin", "agent")
_HIDDEN_BY_DEFAULT = "system"  # activity lines: in the timeline only when asked for

_LIST_FIELDS = ("conversationId", "sentAtMs", "direction", "type", "channel", "channelId", "text", "sender")
_SEARCH_FIELDS = (*_LIST_FIELDS, "content")
_ID = r"^[A-Za-z0-9_:.@+-]+$"


class SearchRequest(BaseModel):
    """agent_api ``search``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    query: str = Field(min_length=1, max_length=200)
    channel: str | None = Field(default=None, max_length=64)
    status: Literal["open", "pending", "snoozed", "resolved"] | None = None
    label: str | None = Field(default=None, max_length=128)
    assigneeId: str | None = Field(default=None, max_length=128)
    direction: Literal["in", "out", "note"] | None = None
    fromMs: int | None = Field(default=None, ge=0)
    toMs: int | None = Field(default=None, ge=0)
    cursor: str | None = Field(default=None, max_length=2000)
    pageSize: int = Field(default=20, ge=1, le=50)


class TimelineRequest(BaseModel):
    """agent_api ``timeline``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    fromMs: int | None = Field(default=None, ge=0)
    toMs: int | None = Field(default=None, ge=0)
    order: Literal["newest", "oldest"] = "newest"
    types: list[str] = Field(default_factory=list, max_length=30)
    channels: list[str] = Field(default_factory=list, max_length=30)
    directions: list[Literal["in", "out", "note", "system"]] = Field(default_factory=list, max_length=4)
    pageSize: int = Field(default=50, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2000)


def agent_action(caller: Caller, action: str, fields: dict[str, Any]) -> dict[str, Any]:
    """agent_api's ``search`` and ``timeline``: validate, then run for the caller's tenant."""
    try:
        if action == "search":
            return search(caller, SearchRequest.model_validate(fields))
        return timeline(caller, TimelineRequest.model_validate(fields))
    except ValidationError as exc:
        raise Refused("invalid_request", str(exc.errors()[0].get("msg", "invalid request"))) from exc


def _staff(caller: Caller) -> str:
    if caller.role not in STAFF_ROLES:
        raise Refused("forbidden", "search and the timeline are for the tenant's agents", 403)
    return caller.tenant_id


# --- cursors --------------------------------------------------------------------------------------


def _encode(position: tuple[int, str] | None) -> str | None:
    if position is None:
        return None
    raw = json.dumps({"m": position[0], "p": position[1]}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(tenant_id: str, cursor: str | None) -> tuple[int, str] | None:
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position = (int(data["m"]), str(data["p"]))
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise Refused("invalid_cursor", "the cursor is not one this API answered") from exc
    if not position[1].startswith(f"tenants/{tenant_id}/conversations/"):
        raise Refused("invalid_cursor", "the cursor is not one this API answered")
    return position


# --- the scan -------------------------------------------------------------------------------------


class _Conversations:
    """Conversations read for one request (at most one get_all per page of messages)."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.known: dict[str, dict[str, Any] | None] = {}

    def load(self, conversation_ids: list[str]) -> None:
        missing = [c for c in dict.fromkeys(conversation_ids) if c not in self.known]
        if missing:
            found = store.get_conversations(self.tenant_id, missing)
            for conversation_id in missing:
                self.known[conversation_id] = found.get(conversation_id)

    def get(self, conversation_id: str) -> dict[str, Any] | None:
        return self.known.get(conversation_id)


def _scan(
    query: dict[str, Any],
    want: int,
    keep_message: Callable[[store.FoundMessage], bool],
    keep_conversation: Callable[[dict[str, Any]], bool],
    conversations: _Conversations,
    filtered: bool,
    after: tuple[int, str] | None,
) -> tuple[list[store.FoundMessage], tuple[int, str] | None, int]:
    """Read pages of ``query`` (store.tenant_messages arguments) after ``after``, keeping what passes
    both checks, until ``want`` are kept, the messages run out or the budget is spent. Returns the
    kept messages, the position to continue from (None at the end) and how many were read."""
    kept: list[store.FoundMessage] = []
    read = 0
    position = after
    grown = SCAN_CHUNK
    while read < SCAN_BUDGET:
        chunk = min(grown if filtered else want - len(kept) + 1, SCAN_BUDGET - read)
        grown *= 2
        page = store.tenant_messages(after=position, limit=chunk, **query)
        read += len(page)
        candidates = {m.path for m in page if keep_message(m)}
        conversations.load([m.conversation_id for m in page if m.path in candidates])
        for message in page:
            position = (message.sent_at_ms, message.path)
            if message.path not in candidates:
                continue
            conversation = conversations.get(message.conversation_id)
            if conversation is None or conversation.get("kind") != "support":
                continue
            if not keep_conversation(conversation):
                continue
            kept.append(message)
            if len(kept) == want:
                # More may follow: continue after this one (the rest of the page is read again).
                more = len(page) == chunk or message is not page[-1]
                return kept, (position if more else None), read
        if len(page) < chunk:
            return kept, None, read
    return kept, position, read


def _contact(conversation: dict[str, Any] | None) -> dict[str, Any]:
    conversation = conversation or {}
    return {"id": conversation.get("contactId"), "name": conversation.get("contactName")}


def _sender(data: dict[str, Any]) -> dict[str, Any]:
    sender = data.get("sender") or {}
    return {"kind": sender.get("kind"), "name": sender.get("name")}


# --- search ---------------------------------------------------------------------------------------


def _snippet(text: str, spans: list[tuple[int, int]]) -> tuple[str, list[list[int]]]:
    """At most :data:`SNIPPET_CHARS` of ``text`` around the first match, with the matches' offsets
    in it (an ellipsis marks a cut)."""
    if len(text) <= SNIPPET_CHARS:
        return text, [[s, e] for s, e in spans]
    first = spans[0][0] if spans else 0
    start = max(0, min(first - 40, len(text) - SNIPPET_CHARS))
    end = start + SNIPPET_CHARS
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    shift = len(prefix) - start
    inside = [[s + shift, min(e, end) + shift] for s, e in spans if s >= start and s < end]
    return prefix + text[start:end] + suffix, inside


def search(caller: Caller, request: SearchRequest) -> dict[str, Any]:
    """Messages (newest first) and contacts matching ``request.query`` in the caller's tenant:
    {results: [...], contacts: [...], next, read}."""
    tenant_id = _staff(caller)
    terms = query_terms(request.query)
    if not terms:
        raise Refused(
            "query_too_short", "search for words of at least 3 letters (or 2 Chinese or Japanese characters)"
        )
    after = _decode(tenant_id, request.cursor)
    anchor = most_selective(terms)
    others = [term_key(tenant_id, t) for t in terms if t != anchor]

    def keep_message(message: store.FoundMessage) -> bool:
        data = message.data
        if data.get("direction") == _HIDDEN_BY_DEFAULT:
            return False
        channel = request.channel
        if channel is not None and channel not in (data.get("channel"), data.get("channelId")):
            return False
        if request.direction is not None and data.get("direction") != request.direction:
            return False
        indexed = data.get("terms") or {}
        return all(key in indexed for key in others)

    def keep_conversation(conversation: dict[str, Any]) -> bool:
        if request.status is not None and conversation.get("status") != request.status:
            return False
        if request.assigneeId is not None and conversation.get("assigneeId") != request.assigneeId:
            return False
        return request.label is None or request.label in (conversation.get("labels") or ())

    on_conversation = request.status or request.assigneeId or request.label
    filtered = bool(others or request.channel or request.direction or on_conversation)
    conversations = _Conversations(tenant_id)
    query = {
        "key": term_key(tenant_id, anchor),
        "from_ms": request.fromMs,
        "to_ms": request.toMs,
        # The other words' keys only, never the whole map (hundreds of keys on a long message).
        "fields": (*_SEARCH_FIELDS, *(store.field_path("terms", key) for key in others)),
    }
    with ThreadPoolExecutor(max_workers=1) as beside:
        contacts = beside.submit(_contacts, tenant_id, terms, anchor) if after is None else None
        found, position, read = _scan(
            query, request.pageSize, keep_message, keep_conversation, conversations, filtered, after
        )
    results = []
    for message in found:
        data = message.data
        text = str(data.get("text") or "")
        if not highlights(text, terms):  # the match is in a caption or a file name
            content = data.get("content") or {}
            text = next(
                (str(content[f]) for f in ("caption", "title", "name", "address") if content.get(f)), text
            )
        snippet, spans = _snippet(text, highlights(text, terms))
        results.append(
            {
                "conversationId": message.conversation_id,
                "messageId": message.message_id,
                "sentAtMs": message.sent_at_ms,
                "direction": data.get("direction"),
                "type": data.get("type"),
                "channel": data.get("channel"),
                "snippet": snippet,
                "highlights": spans,
                "sender": _sender(data),
                "contact": _contact(conversations.get(message.conversation_id)),
            }
        )
    return {
        "results": results,
        "contacts": contacts.result() if contacts is not None else [],
        "next": _encode(position),
        "read": read,
        "terms": terms,
    }


def _contacts(tenant_id: str, terms: list[str], anchor: str) -> list[dict[str, Any]]:
    from shared import ids

    found = []
    for contact_id, data in store.contacts_with_term(tenant_id, anchor, CONTACT_RESULTS * 3):
        indexed = data.get("terms") or {}
        if not all(term in indexed for term in terms):
            continue
        channel_id, external_id = data.get("channelId"), data.get("externalId")
        conversation_id = ids.conversation_id(channel_id, external_id) if channel_id and external_id else None
        name = str(data.get("name") or data.get("handle") or external_id or "")
        found.append(
            {
                "contactId": contact_id,
                "name": data.get("name"),
                "handle": data.get("handle"),
                "channel": data.get("channel"),
                "conversationId": conversation_id,
                "highlights": [[s, e] for s, e in highlights(name, terms)],
            }
        )
        if len(found) == CONTACT_RESULTS:
            break
    return found


# --- timeline -------------------------------------------------------------------------------------


def timeline(caller: Caller, request: TimelineRequest) -> dict[str, Any]:
    """A page of all of the caller's tenant's messages by time: {messages: [...], next, read}."""
    tenant_id = _staff(caller)
    after = _decode(tenant_id, request.cursor)
    lists: list[tuple[str, list[str]]] = [
        ("type", request.types),
        ("direction", list(request.directions)),
        ("channel", request.channels),
    ]
    # One filter of one value is a key of its own (an index); anything more is checked on the page.
    single = next(((field, values[0]) for field, values in lists if len(values) == 1), None)
    key = every_key(tenant_id) if single is None else facet_key(tenant_id, *single)
    show_system = "activity" in request.types or "system" in request.directions

    def keep_message(message: store.FoundMessage) -> bool:
        data = message.data
        if not show_system and data.get("direction") == _HIDDEN_BY_DEFAULT:
            return False
        return all(not values or data.get(field) in values for field, values in lists)

    query = {
        "key": key,
        "from_ms": request.fromMs,
        "to_ms": request.toMs,
        "newest_first": request.order == "newest",
        "fields": _LIST_FIELDS,
    }
    conversations = _Conversations(tenant_id)
    # Activity lines are few: hidden ones cost a further small page, not a page of 100 each time.
    filtered = sum(len(values) for _, values in lists) > (1 if single else 0)
    found, position, read = _scan(
        query,
        request.pageSize,
        keep_message,
        lambda conversation: True,
        conversations,
        filtered,
        after,
    )
    messages = []
    for message in found:
        data = message.data
        messages.append(
            {
                "conversationId": message.conversation_id,
                "messageId": message.message_id,
                "sentAtMs": message.sent_at_ms,
                "direction": data.get("direction"),
                "type": data.get("type"),
                "channel": data.get("channel"),
                "text": (str(data["text"])[:TIMELINE_TEXT_CHARS] if data.get("text") else None),
                "sender": _sender(data),
                "contact": _contact(conversations.get(message.conversation_id)),
            }
        )
    return {"messages": messages, "next": _encode(position), "read": read}
