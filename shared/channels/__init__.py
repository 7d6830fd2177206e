"""The channel registry: one adapter per provider, looked up by channel kind.

Adapters are imported on first use, so a webhook function loads only its own provider's module.
"""

from __future__ import annotations

import importlib
from functools import cache

from shared.channels.base import ChannelAdapter

# kind -> "module:ClassName"; every adapter here is exercised by tests/test_channel_contract.py.
REGISTRY: dict[str, str] = {
    "messenger": "shared.channels.messenger:MessengerAdapter",
    "instagram": "shared.channels.instagram:InstagramAdapter",
    "whatsapp": "shared.channels.whatsapp:WhatsAppAdapter",
    "telegram": "shared.channels.telegram:TelegramAdapter",
    "twilio": "shared.channels.twilio:TwilioAdapter",
}


class UnknownChannel(KeyError):
    """No adapter is registered under that channel kind."""


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


__all__ = ["REGISTRY", "ChannelAdapter", "UnknownChannel", "adapter", "kinds"]
