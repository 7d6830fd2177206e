"""Secrets: Secret Manager in production, a local JSON map in development. Nothing else reads them.

Names are built here too, so every caller agrees on them:

- ``channel-token-<tenant>-<channel>``: a channel's API token (page / system-user token, bot token,
  Twilio auth token).
"""

from __future__ import annotations

import time
from functools import cache
from typing import TYPE_CHECKING

from shared.config import settings
from shared.errors import PermanentError, TransientError

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.secretmanager import SecretManagerServiceClient

CACHE_SECONDS = 300.0
_cache: dict[str, tuple[float, str]] = {}


class MissingSecret(PermanentError):
    """The secret does not exist or has no enabled version."""


def channel_token_name(tenant_id: str, channel_id: str) -> str:
    """Secret Manager id of a channel's API token."""
    return f"channel-token-{tenant_id}-{channel_id}"


@cache
def _client() -> SecretManagerServiceClient:
    from google.cloud import secretmanager

    return secretmanager.SecretManagerServiceClient()


def secret(name: str) -> str:
    """The latest value of secret ``name`` (cached for five minutes: rotation takes effect within that)."""
    local = settings().local_secrets
    if local:
        if name not in local:
            raise MissingSecret(f"secret {name} is not configured locally")
        return local[name]
    now = time.monotonic()
    cached = _cache.get(name)
    if cached and cached[0] > now:
        return cached[1]
    from google.api_core import exceptions as gexc

    path = f"projects/{settings().project_id}/secrets/{name}/versions/latest"
    try:
        value = _client().access_secret_version(name=path).payload.data.decode()
    except (gexc.NotFound, gexc.PermissionDenied, gexc.FailedPrecondition) as exc:
        raise MissingSecret(f"secret {name} is unavailable: {type(exc).__name__}") from exc
    except (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.InternalServerError) as exc:
        raise TransientError(f"Secret Manager unavailable: {type(exc).__name__}") from exc
    _cache[name] = (now + CACHE_SECONDS, value)
    return value


def forget() -> None:
    """Drop cached values (after a rotation, and between tests)."""
    _cache.clear()
    _client.cache_clear()
