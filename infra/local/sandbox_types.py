"""What a provider API of the sandbox plugs into: the shapes the sandbox core
(``provider_sandbox.py``) and each provider module (``sandbox_meta.py``, ``sandbox_telegram.py``,
``sandbox_twilio.py``) share. Its own module, so the provider modules import it and the core imports
them, with no cycle between the two."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "Account",
    "AccountBook",
    "Call",
    "ProviderApi",
    "ReceiptTiming",
    "Reply",
    "Route",
    "ScheduledWebhook",
    "SentMessage",
]


@dataclass(frozen=True)
class Account:
    """A provider-side account the caller configured: page, Instagram account, phone number id, bot."""

    channel: str
    account_id: str
    token: str
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """One HTTP request as a provider handler sees it."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    json: Any | None
    form: Mapping[str, list[str]] | None


@dataclass(frozen=True)
class Route:
    """A request matched to a provider API; ``channel`` is None when it cannot be decided yet."""

    channel: str | None
    params: Mapping[str, str]


@dataclass(frozen=True)
class SentMessage:
    """A message the sandbox accepted: what receipts mode needs to answer it."""

    channel: str
    account: Account
    recipient: str
    message_id: str
    kind: str
    sent_at: float
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Reply:
    """A provider answer: HTTP status, JSON body, extra headers, and the message it accepted."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    sent: SentMessage | None = None


@dataclass(frozen=True)
class ScheduledWebhook:
    """A webhook POST that receipts mode sends ``delay`` seconds after the send it answers."""

    delay: float
    channel: str
    url: str
    body: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True)
class ReceiptTiming:
    """How long after a send each receipt goes out (seconds)."""

    sent_after: float = 0.05
    delivered_after: float = 0.2
    read_after: float = 0.5


class ProviderApi(Protocol):
    """One provider's outbound API. The sandbox core owns HTTP, logging, faults and scheduling."""

    name: str
    channels: tuple[str, ...]

    def route(self, call: Call, accounts: AccountBook) -> Route | None:
        """Claim a request (return a Route) or leave it to another API (None)."""
        ...

    def handle(self, route: Route, call: Call, accounts: AccountBook) -> Reply:
        """Validate and answer a claimed request exactly as the provider documents."""
        ...

    def error_reply(
        self,
        channel: str,
        code: int | str,
        *,
        http_status: int | None,
        subcode: int | None,
        retry_after: int | None,
    ) -> Reply:
        """The provider's error answer for ``code``, with its documented HTTP status by default."""
        ...

    def receipts(
        self, sent: SentMessage, *, url: str, secret: str, timing: ReceiptTiming
    ) -> list[ScheduledWebhook]:
        """The signed webhooks the provider posts after ``sent`` (delivered, read, ...)."""
        ...


class AccountBook:
    """Thread-safe registry of the accounts callers configured, looked up by id and by token."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: list[Account] = []

    def add(self, account: Account) -> None:
        """Register (or replace) the account with this channel and id."""
        with self._lock:
            self._accounts = [
                a
                for a in self._accounts
                if (a.channel, a.account_id) != (account.channel, account.account_id)
            ]
            self._accounts.append(account)

    def by_id(self, account_id: str, channels: Sequence[str] | None = None) -> list[Account]:
        """Accounts with this id, optionally only on ``channels``, in registration order."""
        with self._lock:
            return [
                a
                for a in self._accounts
                if a.account_id == account_id and (channels is None or a.channel in channels)
            ]

    def by_token(self, token: str, channels: Sequence[str] | None = None) -> list[Account]:
        """Accounts whose token is ``token``, optionally only on ``channels``."""
        with self._lock:
            return [
                a for a in self._accounts if a.token == token and (channels is None or a.channel in channels)
            ]

    def token_known(self, token: str) -> bool:
        """Whether any account uses this token."""
        return bool(self.by_token(token))

    def all(self) -> list[Account]:
        """Every account, in registration order."""
        with self._lock:
            return list(self._accounts)
