"""What Switchboard keeps when it cannot use an inbound item: never dropped, always replayable."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# parse_error / invalid_body: the provider's data could not be read; unknown_route: no channel owns
# the account yet; invalid_event: a published event failed validation in ingest; foreign_signer:
# signed by another provider account than the route's; unstorable: too large or too deeply nested to
# be a Firestore document.
QuarantineReason = Literal[
    "parse_error", "invalid_body", "unknown_route", "invalid_event", "foreign_signer", "unstorable"
]


class QuarantinedItem(BaseModel):
    """One raw provider item (or a whole body that was not JSON) that could not be turned into
    events, or an event whose route is unknown. ``raw`` is exactly what :meth:`split` produced,
    so :func:`shared.cli` ``replay-quarantine`` can run it through the current parser."""

    model_config = ConfigDict(frozen=True)

    channel: str
    reason: QuarantineReason
    error: str
    raw: Any = Field(repr=False)
    received_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    route_key: str | None = None
    url: str | None = Field(default=None, description="Webhook URL a whole invalid body arrived at.")

    @property
    def quarantine_id(self) -> str:
        """Deterministic id: the same item quarantined twice is stored once."""
        body = json.dumps(self.raw, sort_keys=True, default=str)
        return hashlib.sha256(f"{self.channel}\x1f{self.reason}\x1f{body}".encode()).hexdigest()[:32]
