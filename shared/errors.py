"""Switchboard's one exception hierarchy. Every error says whether retrying can help (``transient``)
and what an HTTPS function answers for it (``http_status``); callers ask the error, not its class.

SwitchboardError                 transient?  http
├── TransientError               yes         503  retrying may succeed: Pub/Sub, Cloud Tasks redeliver
│   ├── PublishError             yes         503  Pub/Sub did not confirm a publish (webhook answers 503)
│   └── MemberGone               yes         503  a member left while a post was written: read members again
├── ConfigurationError           yes         500  the deployment is wrong; retrying helps once fixed
│   ├── MissingSetting           yes         500  a required environment variable is not set
│   └── UnsafeConfiguration      yes         500  production configuration with an emulator variable: refused
├── ProviderError                per code    502/503  a provider API refused or failed (its code decides)
└── PermanentError               no          400  retrying cannot help: record it, acknowledge, move on
    ├── SignatureError           no          401  missing or forged webhook signature
    ├── VerificationError        no          403  wrong hub.mode / verify token on a subscription handshake
    ├── PayloadTooLarge          no          413  body over the configured limit
    ├── ParseError               no          422  a provider item we cannot normalize (kept in quarantine)
    ├── UnstorableDocument       no          422  over Firestore's document limits (kept in quarantine)
    ├── UnknownRoute             no          404  no tenant owns this channel's external id (quarantine)
    ├── MalformedTask            no          422  a Cloud Task body that is no delivery task: logged, dropped
    ├── Unauthenticated          no          401  no valid ID token or API key
    ├── Forbidden                no          403  a valid caller that may not do this
    ├── MissingSecret            no          400  a secret that does not exist or has no enabled version
    ├── InvalidSecretName        no          400  a name Secret Manager would refuse
    ├── InvitationRefused        no          409  the address belongs to an account of another tenant
    ├── UnknownChannel           no          404  no adapter is registered under that channel kind
    ├── MediaNotFound            no          404  no stored object at that media path
    ├── MediaUnavailable         no          410  a provider's media that cannot be fetched (gone, too big)
    ├── OperatorError            no          -    an operator CLI command cannot be done as asked (exit 1)
    │   └── BadInput             no          -    its arguments or stdin are wrong (exit 2, like argparse)
    └── Refused                  no          400+ refused, with a machine-readable code
        └── Throttled            no          429  a limit (rate, quota): retry after ``retry_after`` seconds

``Refused`` is what the HTTPS functions answer as ``{"error": {"code", "message"}}`` with its own
status (functions/http.py): the chat API's, the agents' and the operator's refusals are all one class.
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


class MemberGone(TransientError):
    """A member counted in a post's fan-out left before the batch committed: read the members again."""


class ConfigurationError(SwitchboardError):
    """The deployment is misconfigured: nothing the caller did; retrying helps once it is fixed."""

    transient = True
    http_status = 500


class MissingSetting(ConfigurationError):
    """A required environment variable is not set."""


class UnsafeConfiguration(ConfigurationError):
    """Production configuration with a local-only setting (an emulator host): refused, not served."""


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
    """A request body over the function's limit."""

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


class MalformedTask(PermanentError):
    """A Cloud Task whose body is no delivery task: retrying cannot fix it, so it is logged as an
    error and dropped (a malformed message *document* fails its message instead)."""

    http_status = 422


class Unauthenticated(PermanentError):
    """No valid ID token (or API key)."""

    http_status = 401


class Forbidden(PermanentError):
    """A valid caller that may not do this (no tenant, wrong role, another tenant's data)."""

    http_status = 403


class MissingSecret(PermanentError):
    """The secret does not exist or has no enabled version."""


class InvalidSecretName(PermanentError):
    """A name Secret Manager would refuse."""


class InvitationRefused(PermanentError):
    """The address belongs to an account of another tenant (an account holds one tenant)."""

    http_status = 409


class UnknownChannel(PermanentError, KeyError):
    """No adapter is registered under that channel kind (a KeyError too: a lookup that failed)."""

    http_status = 404


class MediaNotFound(PermanentError):
    """No object in the media bucket at that path (or no media at that index of a message)."""

    http_status = 404


class MediaUnavailable(PermanentError):
    """A provider's media that can no longer be fetched: expired, deleted, over the size limit. The
    message's media is marked failed with this reason; the fetch is not retried."""

    http_status = 410


class OperatorError(PermanentError):
    """An operator CLI command cannot do what was asked; the message says why and what to do."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class BadInput(OperatorError):
    """The arguments or stdin of an operator command are wrong (exit 2, like argparse)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=2)


class Refused(PermanentError):
    """A request refused for a reason the caller is told: ``code`` is machine-readable, the message
    is for a person (the dashboard, an app developer, an operator shows it as it is)."""

    def __init__(self, code: str, message: str, http_status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status


class Throttled(Refused):
    """A limit (rate, quota) refused this request; retrying helps after ``retry_after`` seconds."""

    def __init__(self, code: str, message: str, retry_after: float) -> None:
        super().__init__(code, message, 429)
        self.retry_after = retry_after


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


__all__ = [
    "BadInput",
    "ConfigurationError",
    "Forbidden",
    "InvalidSecretName",
    "InvitationRefused",
    "MalformedTask",
    "MediaNotFound",
    "MediaUnavailable",
    "MemberGone",
    "MissingSecret",
    "MissingSetting",
    "OperatorError",
    "ParseError",
    "PayloadTooLarge",
    "PermanentError",
    "ProviderError",
    "PublishError",
    "Refused",
    "SignatureError",
    "SwitchboardError",
    "Throttled",
    "TransientError",
    "Unauthenticated",
    "UnknownChannel",
    "UnknownRoute",
    "UnsafeConfiguration",
    "UnstorableDocument",
    "VerificationError",
]
