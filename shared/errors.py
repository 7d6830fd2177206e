"""Switchboard's one exception hierarchy. Every error says whether retrying can help.

SwitchboardError
├── TransientError            retrying may succeed: raise so Pub/Sub / Cloud Tasks redeliver
│   └── PublishError          Pub/Sub did not confirm a publish (webhook answers 503)
└── PermanentError            retrying cannot help: record it, acknowledge, move on
    ├── SignatureError        missing or forged webhook signature (401)
    ├── VerificationError     wrong hub.mode / verify token on a subscription handshake (403)
    ├── PayloadTooLarge       body over the configured limit (413)
    ├── ParseError            a provider item we cannot normalize (kept in quarantine)
    ├── UnstorableDocument    over Firestore's document limits (kept in quarantine)
    └── UnknownRoute          no tenant owns this channel's external id (kept in quarantine)
"""

from __future__ import annotations


class SwitchboardError(Exception):
    """Base of every error Switchboard raises on purpose."""

    transient: bool = False
    http_status: int = 500


class TransientError(SwitchboardError):
    """Retrying may succeed (network, quota, an emulator or provider that is briefly away)."""

    transient = True
    http_status = 503


class PublishError(TransientError):
    """Pub/Sub did not confirm every publish: the provider must retry the webhook."""


class PermanentError(SwitchboardError):
    """Retrying cannot help."""

    http_status = 400


class SignatureError(PermanentError):
    """The webhook's signature is missing or does not match its raw body."""

    http_status = 401


class VerificationError(PermanentError):
    """A subscription handshake with the wrong mode or verify token."""

    http_status = 403


class PayloadTooLarge(PermanentError):
    http_status = 413


class ParseError(PermanentError):
    """A provider item that cannot be normalized."""

    http_status = 422


class UnstorableDocument(PermanentError):
    """A document production Firestore would refuse (over 1 MiB, maps nested over 20 levels): the
    emulator accepts such documents, so the limits are checked before writing, the same everywhere."""

    http_status = 422


class UnknownRoute(PermanentError):
    """No tenant has connected the channel an event is addressed to."""

    http_status = 404


class ProviderError(SwitchboardError):
    """A provider API call failed. Each channel module maps its provider's codes to ``transient``
    in one table; ``retry_after`` (seconds) is set when the provider says when to come back
    (Telegram ``parameters.retry_after``, HTTP Retry-After). ``health`` names a channel-level
    problem to record on the channel (``token_expired``, ``permission``)."""

    def __init__(
        self,
        message: str,
        *,
        channel: str,
        code: str | None,
        http_status: int | None,
        transient: bool,
        retry_after: float | None = None,
        health: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.channel = channel
        self.code = code
        self.provider_http_status = http_status
        self.transient = transient
        self.retry_after = retry_after
        self.health = health
        self.detail = detail
        self.http_status = 503 if transient else 502

    def reason(self) -> str:
        """A human-readable reason an agent can read next to the failed message."""
        return str(self)
