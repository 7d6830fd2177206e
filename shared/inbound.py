"""Turning a verified webhook body into events and quarantine records, item by item.

One item that cannot be parsed becomes a :class:`QuarantinedItem` and never aborts the rest of the
batch; a body that is not even JSON is quarantined whole.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from pydantic import ValidationError
from pydantic_core import to_json

from shared.channels.base import ChannelAdapter
from shared.errors import ParseError
from shared.models import InboundEvent, QuarantinedItem

log = logging.getLogger(__name__)

# The largest event a webhook publishes. A message document holds the content and the raw item, a
# Firestore document at most 1 MiB; the providers' own limits (4,096 characters of text on
# WhatsApp and Telegram, 1,600 on SMS, 2,000 on Messenger) keep real events far below this.
MAX_EVENT_BYTES = 256 * 1024
# Real provider items nest about ten levels; pydantic's JSON parser (what ingest decodes events
# with) stops near 200. Deeper items are quarantined with their raw kept as JSON text.
MAX_ITEM_NESTING = 64
_ALL_BUT_OPENING_BRACKETS = bytes(set(range(256)) - set(b"{["))


@dataclass
class Normalized:
    """What one webhook body gave: events to publish, items to keep in quarantine."""

    events: list[InboundEvent] = field(default_factory=list)
    quarantined: list[QuarantinedItem] = field(default_factory=list)
    # Each event's JSON (``encoded[i]`` is ``events[i]``), made by the publishability check: what
    # the webhook publishes (``bus.publish(..., encoded=...)``), so no event is serialized twice.
    encoded: list[bytes] = field(default_factory=list)


def normalize(adapter: ChannelAdapter, body: bytes, url: str | None = None) -> Normalized:
    """Split ``body`` with ``adapter`` and parse every item; never raises for bad provider data.

    ``url`` is the webhook URL the body arrived at (some providers name the account only there,
    like Telegram's ``?bot=``); None when unknown (an operator's file, a replayed body)."""
    result = Normalized()
    try:
        items = adapter.split(body, url or "")
    except ParseError as exc:
        raw = body.decode("utf-8", errors="replace")
        result.quarantined.append(
            QuarantinedItem(channel=adapter.kind, reason="invalid_body", error=str(exc), raw=raw, url=url)
        )
        return result
    # Nesting deeper than the limit needs more opening brackets than the limit: most bodies have
    # fewer, and skip the walk (counting bytes is C-fast, in one pass; the walk is not).
    deep = len(body.translate(None, _ALL_BUT_OPENING_BRACKETS)) > MAX_ITEM_NESTING
    for item in items:
        parse_into(adapter, item, result, check_nesting=deep)
    return result


def parse_into(
    adapter: ChannelAdapter, item: dict, result: Normalized, *, check_nesting: bool = True
) -> None:
    """Parse one raw item into ``result``: its events, or one quarantine record.

    Events are checked to serialize here, so what a webhook publishes is always publishable: text
    pydantic cannot encode (a lone surrogate, half an emoji) or absurd nesting quarantines the item
    instead of failing the whole batch with a 500 that the provider would retry for days."""
    if check_nesting and nesting_exceeds(item, MAX_ITEM_NESTING):
        result.quarantined.append(
            QuarantinedItem(
                channel=adapter.kind,
                reason="unstorable",
                error=f"the item is nested more than {MAX_ITEM_NESTING} levels deep",
                raw=_as_text(item),
            )
        )
        return
    try:
        events = adapter.parse_item(item)
        encoded = []
        for event in events:
            data = to_json(event.__dict__, inf_nan_mode="null")  # encode(event), without the call
            # The limit counts characters of the JSON text, as it always has (at most its bytes).
            if len(data) > MAX_EVENT_BYTES and (size := len(data.decode())) > MAX_EVENT_BYTES:
                log.warning("quarantined an oversized %s item (%d bytes)", adapter.kind, size)
                result.quarantined.append(
                    QuarantinedItem(
                        channel=adapter.kind,
                        reason="unstorable",
                        error=f"an event of {size} bytes is over the {MAX_EVENT_BYTES} a message may hold",
                        raw=publishable_raw(item),
                    )
                )
                return
            encoded.append(data)
        result.events.extend(events)
        result.encoded.extend(encoded)
    except (
        ParseError,
        ValidationError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        OverflowError,
        RecursionError,
    ) as exc:
        # A provider item we do not understand is a data problem, not a crash: keep it raw.
        log.warning("quarantined an unparseable %s item: %s", adapter.kind, type(exc).__name__)
        result.quarantined.append(
            QuarantinedItem(
                channel=adapter.kind,
                reason="parse_error",
                error=f"{type(exc).__name__}: {exc}"[:2000],
                raw=publishable_raw(item),
            )
        )


def encode(event: InboundEvent) -> bytes:
    """``event.model_dump_json()`` as UTF-8, the same bytes, a quarter faster: the event's fields
    (``__dict__``, in the model's order, every one of them validated and none excluded) through
    pydantic's encoder by their runtime types, which is what the model's own serializer does field
    by field, without checking each value against the field's type again. Nested models (the
    content) go through their own serializer. Floats: ``null`` for inf/NaN, as the model's
    serializer writes them (none can be there: readers and validation refuse them).
    ``tests/channels/test_published_bytes.py`` pins the bytes for every fixture."""
    return to_json(event.__dict__, inf_nan_mode="null")


def nesting_exceeds(value: object, limit: int, depth: int = 1) -> bool:
    """Whether ``value`` nests dicts and lists more than ``limit`` levels deep. Recursive, but it
    stops at ``limit``: a hostile item cannot exhaust the stack."""
    kind = type(value)
    if kind is dict:
        children = value.values()  # type: ignore[union-attr]
    elif kind is list:
        children = value  # type: ignore[assignment]
    else:
        return False
    if depth > limit:
        return True
    for child in children:
        child_kind = type(child)
        if (child_kind is dict or child_kind is list) and nesting_exceeds(child, limit, depth + 1):
            return True
    return False


def _as_text(raw: object) -> str:
    """``raw`` as ASCII JSON text (a string nests nothing), or its repr."""
    try:
        return json.dumps(raw, ensure_ascii=True, default=str)
    except (ValueError, RecursionError):
        return repr(raw)[:100_000]


def publishable_raw(raw: object) -> object:
    """``raw`` itself when it encodes as strict JSON, else its ASCII-escaped JSON text (or repr)."""
    try:
        # pydantic's encoder is what publishes it: it refuses lone surrogates and deep nesting.
        to_json(raw)
        json.dumps(raw, allow_nan=False)
        return raw
    except (ValueError, RecursionError, TypeError):
        return _as_text(raw)
