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


@dataclass
class Normalized:
    """What one webhook body gave: events to publish, items to keep in quarantine."""

    events: list[InboundEvent] = field(default_factory=list)
    quarantined: list[QuarantinedItem] = field(default_factory=list)


def normalize(adapter: ChannelAdapter, body: bytes, url: str | None = None) -> Normalized:
    """Split ``body`` with ``adapter`` and parse every item; never raises for bad provider data.

    ``url`` is the webhook URL the body arrived at: adapters whose provider names the account only
    in the URL (Telegram's ``?bot=``) implement ``split_with_url`` and get it."""
    result = Normalized()
    try:
        split_with_url = getattr(adapter, "split_with_url", None)
        items = split_with_url(body, url or "") if split_with_url else adapter.split(body)
    except ParseError as exc:
        raw = body.decode("utf-8", errors="replace")
        result.quarantined.append(
            QuarantinedItem(channel=adapter.kind, reason="invalid_body", error=str(exc), raw=raw, url=url)
        )
        return result
    for item in items:
        parse_into(adapter, item, result)
    return result


def parse_into(adapter: ChannelAdapter, item: dict, result: Normalized) -> None:
    """Parse one raw item into ``result``: its events, or one quarantine record.

    Events are checked to serialize here, so what a webhook publishes is always publishable: text
    pydantic cannot encode (a lone surrogate, half an emoji) or absurd nesting quarantines the item
    instead of failing the whole batch with a 500 that the provider would retry for days."""
    try:
        events = adapter.parse_item(item)
        for event in events:
            event.model_dump_json()
        result.events.extend(events)
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


def publishable_raw(raw: object) -> object:
    """``raw`` itself when it encodes as strict JSON, else its ASCII-escaped JSON text (or repr)."""
    try:
        # pydantic's encoder is what publishes it: it refuses lone surrogates and deep nesting.
        to_json(raw)
        json.dumps(raw, allow_nan=False)
        return raw
    except (ValueError, RecursionError, TypeError):
        pass
    try:
        return json.dumps(raw, ensure_ascii=True, default=str)
    except (ValueError, RecursionError):
        return repr(raw)[:100_000]
