"""The channel registry: one adapter per provider, looked up by channel kind.

Adapters are imported on first use, so a webhook function loads only its own provider's module.
The registry is the one list of channels: ``shared.models.ChannelKind``, the CLI's channel choices
and main.py's webhook targets follow it, and ``tests/channels/test_channel_contract.py`` fails,
naming the missing piece, when a registered channel lacks anything the system needs (ARCHITECTURE.md,
"Adding a channel").
"""

from __future__ import annotations

import importlib
from functools import cache

from shared.channels.base import WITHOUT_PROVIDER, Capabilities, ChannelAdapter, csat_text
from shared.errors import UnknownChannel

# kind -> "module:ClassName"
REGISTRY: dict[str, str] = {
    "messenger": "shared.channels.messenger:MessengerAdapter",
    "instagram": "shared.channels.instagram:InstagramAdapter",
    "whatsapp": "shared.channels.whatsapp:WhatsAppAdapter",
    "telegram": "shared.channels.telegram:TelegramAdapter",
    "twilio": "shared.channels.twilio:TwilioAdapter",
}


def kinds() -> tuple[str, ...]:
    """Every registered channel kind."""
    return tuple(REGISTRY)


@cache
def adapter(kind: str) -> ChannelAdapter:
    """The adapter for ``kind`` (imported and built once per process)."""
    try:
        target = REGISTRY[kind]
    except KeyError:
        raise UnknownChannel(kind) from None
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls()


def capabilities(kind: str) -> Capabilities:
    """What the business can do on a ``kind`` conversation; a kind with no adapter (the in-app
    chat) gets :data:`~shared.channels.base.WITHOUT_PROVIDER`."""
    return adapter(kind).capabilities if kind in REGISTRY else WITHOUT_PROVIDER


__all__ = [
    "REGISTRY",
    "Capabilities",
    "ChannelAdapter",
    "UnknownChannel",
    "adapter",
    "capabilities",
    "csat_text",
    "kinds",
]
