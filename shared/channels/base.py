"""The protocol every channel adapter implements: one module per provider, same verbs everywhere.

Inbound, a webhook function calls, in order:

1. :meth:`ChannelAdapter.handshake` for a GET subscription check (Meta's ``hub.challenge``);
2. :meth:`ChannelAdapter.verify` on the exact raw bytes received (never a re-encoded body);
3. :meth:`ChannelAdapter.split` to cut the body into self-contained raw items (each carries the
   context it needs: entry id, WhatsApp metadata and contacts, ...), so one bad item never aborts
   the batch and a quarantined item can be re-parsed on its own later;
4. :meth:`ChannelAdapter.parse_item` on each item, giving zero or more normalized events.

Outbound, the ``deliver`` function calls :meth:`ChannelAdapter.send` with the channel's account
(token, API base URL) and a provider-neutral :class:`OutboundMessage`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from shared.models import InboundEvent
from shared.models.outbound import ChannelAccount, OutboundMessage, SendResult


@runtime_checkable
class ChannelAdapter(Protocol):
    """One provider's inbound knowledge (outbound sending joins it in the same module)."""

    kind: str

    def handshake(self, query: Mapping[str, str]) -> str:
        """Answer a subscription handshake: return the body to echo, or raise VerificationError."""
        ...

    def verify(self, headers: Mapping[str, str], body: bytes, url: str) -> None:
        """Raise SignatureError unless ``body`` carries a valid provider signature."""
        ...

    def split(self, body: bytes) -> list[dict[str, Any]]:
        """Cut a verified body into raw items; raise ParseError if the body itself is unusable."""
        ...

    def parse_item(self, item: dict[str, Any]) -> list[InboundEvent]:
        """Normalize one raw item into events; raise ParseError if it cannot be understood."""
        ...

    def send(
        self, account: ChannelAccount, recipient: str, message: OutboundMessage, *, timeout: float
    ) -> SendResult:
        """Call the provider's API (``requests``, with ``timeout``) to deliver ``message`` to
        ``recipient`` (PSID, IGSID, wa_id, chat id, phone). Raise ProviderError on refusal,
        transient for timeouts, connection errors and the provider's retryable codes."""
        ...
