"""API keys of chat apps: ``sb_<appId>_<43 url-safe random characters>``.

A key is shown once, when the app is created, and stored only as the SHA-256 of the whole key
(``apiKeys/{hex digest}`` -> tenantId, prefix, createdAt): a leaked database does not leak keys, and
verifying a key is one hash and one document read. The random part carries 256 bits, so a plain
(unsalted) SHA-256 is enough: there is nothing to brute-force.

Positive verifications are cached in-process for :data:`CACHE_SECONDS`, so a busy backend pays the
read once a minute per instance; the price is that a revoked key keeps working for up to that long
on instances that verified it recently. Misses are never cached (a key created a moment ago works at
once) and cost one read each.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time

from shared import store

CACHE_SECONDS = 60.0
RANDOM_BYTES = 32  # token_urlsafe(32) -> 43 characters
KEY_PATTERN = re.compile(r"^sb_(?P<app>[A-Za-z0-9-]{1,64})_(?P<secret>[A-Za-z0-9_-]{43})$")
PREFIX_SECRET_CHARS = 4  # how much of the secret the stored prefix shows, to tell keys apart

_cache: dict[str, tuple[float, str]] = {}
_lock = threading.Lock()


def generate(app_id: str) -> str:
    """A new API key for ``app_id``."""
    return f"sb_{app_id}_{secrets.token_urlsafe(RANDOM_BYTES)}"


def digest(key: str) -> str:
    """The stored form of a key: its SHA-256, hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def prefix(key: str) -> str:
    """The part of a key safe to show (``sb_<appId>_ab12``), so a developer can tell keys apart."""
    match = KEY_PATTERN.match(key)
    if match is None:
        return key[:8]
    return f"sb_{match['app']}_{match['secret'][:PREFIX_SECRET_CHARS]}"


def looks_like_key(credential: str) -> bool:
    """True for a string shaped like an API key (as opposed to a Firebase ID token)."""
    return credential.startswith("sb_")


def verify(key: str) -> str | None:
    """The app (tenant id) a key belongs to, or None if it is not a valid key."""
    match = KEY_PATTERN.match(key)
    if match is None:
        return None
    hashed = digest(key)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(hashed)
    if cached and cached[0] > now:
        return cached[1]
    record = store.get_api_key(hashed)
    if record is None or record.get("revoked"):
        return None
    tenant_id = str(record.get("tenantId", ""))
    # The app id is part of the key: a record that names another app is not this key's.
    if not hmac.compare_digest(tenant_id, match["app"]):
        return None
    with _lock:
        _cache[hashed] = (now + CACHE_SECONDS, tenant_id)
    return tenant_id


def forget() -> None:
    """Empty the cache (tests)."""
    with _lock:
        _cache.clear()
