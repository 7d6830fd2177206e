"""Secrets: Secret Manager in production, a local JSON file in development. Nothing else reads them.

Names are built here too, so every caller agrees on them:

- ``channel-token-<tenant>-<channel>``: a channel's API token (page / system-user token, bot token,
  Twilio auth token).

Where values come from, in order:

1. ``SWITCHBOARD_LOCAL_SECRETS_FILE`` (local only): a JSON file ``{name: value}``. It is re-read
   whenever it changes on disk, so a rotation written by the admin CLI reaches running functions at
   once; :func:`add_secret_version` replaces it atomically (temporary file + rename, under a lock).
2. ``SWITCHBOARD_LOCAL_SECRETS`` (local only): a JSON map in the environment, read-only.
3. Secret Manager (production): the ``latest`` version, cached for five minutes per process, so a
   rotation takes effect in running functions within that time.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from shared.config import settings
from shared.errors import InvalidSecretName, MissingSecret, PermanentError, TransientError

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.secretmanager import SecretManagerServiceClient

CACHE_SECONDS = 300.0
CHANNEL_TOKEN_PREFIX = "channel-token-"  # noqa: S105 - a name prefix, not a secret
# Secret Manager secret ids: letters, digits, '-' and '_', at most 255 characters.
SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")

_cache: dict[str, tuple[float, str]] = {}


def channel_token_name(tenant_id: str, channel_id: str) -> str:
    """Secret Manager id of a channel's API token."""
    return f"{CHANNEL_TOKEN_PREFIX}{tenant_id}-{channel_id}"


def check_name(name: str) -> str:
    """Return ``name`` if Secret Manager accepts it as a secret id, else raise InvalidSecretName."""
    if not SECRET_ID.match(name):
        raise InvalidSecretName(
            f"invalid secret name {name!r}: use 1-255 letters, digits, '-' or '_' (Secret Manager's rule)"
        )
    return name


@cache
def _client() -> SecretManagerServiceClient:
    from google.cloud import secretmanager

    return secretmanager.SecretManagerServiceClient()


def secret(name: str) -> str:
    """The latest value of secret ``name``.

    Locally it comes from the secret file (re-read when the file changes) or the environment map;
    in production from Secret Manager, cached for five minutes (a rotation takes effect within that)."""
    config = settings()
    if config.local_secrets_file or config.local_secrets:
        value = None
        if config.local_secrets_file:
            value = _local_file(config.local_secrets_file).values().get(name)
        if value is None:
            value = config.local_secrets.get(name)
        if value is None:
            raise MissingSecret(f"secret {name} is not configured locally")
        return value
    now = time.monotonic()
    cached = _cache.get(name)
    if cached and cached[0] > now:
        return cached[1]
    path = f"projects/{config.project_id}/secrets/{name}/versions/latest"
    try:
        value = _client().access_secret_version(name=path).payload.data.decode()
    except _permanent_errors() as exc:
        raise MissingSecret(f"secret {name} is unavailable: {type(exc).__name__}") from exc
    except _transient_errors() as exc:
        raise TransientError(f"Secret Manager unavailable: {type(exc).__name__}") from exc
    _cache[name] = (now + CACHE_SECONDS, value)
    return value


def add_secret_version(name: str, value: str, labels: Mapping[str, str] | None = None) -> str:
    """Store ``value`` as the new latest version of secret ``name``; return the version's name.

    Locally (``SWITCHBOARD_LOCAL_SECRETS_FILE``) the file is rewritten atomically. In production
    the secret is created (automatic replication, ``labels``) if it does not exist yet, then a version
    is added with a CRC32C checksum of the payload. Running functions see the new value within
    :data:`CACHE_SECONDS` (locally: at once)."""
    check_name(name)
    if not value:
        raise PermanentError(f"refusing to store an empty value in secret {name}")
    config = settings()
    _cache.pop(name, None)
    if config.local_secrets_file:
        _local_file(config.local_secrets_file).update({name: value})
        return f"file:{config.local_secrets_file}#{name}"
    if config.local_secrets:
        raise PermanentError(
            "local secrets come from SWITCHBOARD_LOCAL_SECRETS, which cannot be written: "
            "set SWITCHBOARD_LOCAL_SECRETS_FILE instead"
        )
    return _add_version_in_secret_manager(config.project_id, name, value, dict(labels or {}))


def delete_secret(name: str) -> bool:
    """Delete secret ``name`` with every version (a disconnected channel's token); False if there
    was none. Locally the name leaves the file; in production the Secret Manager secret is deleted."""
    check_name(name)
    config = settings()
    _cache.pop(name, None)
    if config.local_secrets_file:
        return _local_file(config.local_secrets_file).remove(name)
    if config.local_secrets:
        raise PermanentError("local secrets come from SWITCHBOARD_LOCAL_SECRETS, which cannot be written")
    from google.api_core import exceptions as gexc

    try:
        _client().delete_secret(name=f"projects/{config.project_id}/secrets/{name}")
    except gexc.NotFound:
        return False
    except gexc.Forbidden as exc:
        raise PermanentError(f"not allowed to delete secret {name} in project {config.project_id}") from exc
    except _transient_errors() as exc:
        raise TransientError(f"Secret Manager unavailable: {type(exc).__name__}") from exc
    return True


def _add_version_in_secret_manager(project_id: str, name: str, value: str, labels: dict[str, str]) -> str:
    from google.api_core import exceptions as gexc

    data = value.encode()
    parent = f"projects/{project_id}/secrets/{name}"
    payload = {"data": data, "data_crc32c": _crc32c(data)}
    client = _client()
    # The HTTP-level exception classes (NotFound, Conflict, Forbidden) cover both transports: gRPC
    # raises their subclasses (AlreadyExists, PermissionDenied), REST the classes themselves.
    try:
        try:
            version = client.add_secret_version(request={"parent": parent, "payload": payload})
        except gexc.NotFound:
            with contextlib.suppress(gexc.Conflict):  # created meanwhile by someone else: fine
                client.create_secret(
                    request={
                        "parent": f"projects/{project_id}",
                        "secret_id": name,
                        "secret": {"replication": {"automatic": {}}, "labels": labels},
                    }
                )
            version = client.add_secret_version(request={"parent": parent, "payload": payload})
    except gexc.Forbidden as exc:
        raise PermanentError(
            f"not allowed to write secret {name} in project {project_id} "
            "(needs roles/secretmanager.admin, or secretVersionAdder on an existing secret)"
        ) from exc
    except _transient_errors() as exc:
        raise TransientError(f"Secret Manager unavailable: {type(exc).__name__}") from exc
    return str(version.name)


def _permanent_errors() -> tuple[type[BaseException], ...]:
    """Reading cannot succeed: no such secret or version, no permission, a disabled version."""
    from google.api_core import exceptions as gexc

    return (gexc.NotFound, gexc.Forbidden, gexc.BadRequest)


def _transient_errors() -> tuple[type[BaseException], ...]:
    from google.api_core import exceptions as gexc

    return (gexc.ServiceUnavailable, gexc.GatewayTimeout, gexc.InternalServerError, gexc.TooManyRequests)


def _crc32c(data: bytes) -> int:
    import google_crc32c

    return int(google_crc32c.value(data))


# --- the local secret file ------------------------------------------------------------------------


@dataclass
class _LocalFile:
    """A JSON file of secrets, re-read when its identity (inode, size, mtime) changes."""

    path: Path
    stamp: tuple[int, int, int] | None = None
    cached: dict[str, str] | None = None

    def __post_init__(self) -> None:
        self.lock = threading.Lock()

    def values(self) -> dict[str, str]:
        """The current contents (an empty map while the file does not exist)."""
        with self.lock:
            try:
                stat = self.path.stat()
            except FileNotFoundError:
                return {}
            stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            if self.cached is None or stamp != self.stamp:
                self.cached = _read_json_map(self.path)
                self.stamp = stamp
            return dict(self.cached)

    def remove(self, name: str) -> bool:
        """Take ``name`` out of the file atomically; False if it was not there."""
        if not self.path.exists():
            return False
        with self.lock, _file_lock(self.path):
            current = _read_json_map(self.path)
            if name not in current:
                return False
            del current[name]
            self._write(current)
            return True

    def update(self, values: Mapping[str, str], *, only_missing: bool = False) -> None:
        """Merge ``values`` into the file atomically (``only_missing``: never overwrite a name)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock, _file_lock(self.path):
            current = _read_json_map(self.path) if self.path.exists() else {}
            merged = {**values, **current} if only_missing else {**current, **values}
            if merged == current and self.path.exists():
                return
            self._write(merged)

    def _write(self, merged: Mapping[str, str]) -> None:
        """Replace the file with ``merged`` (temporary file + rename); the caller holds the locks."""
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(handle, "w") as out:  # mkstemp creates it readable by us only
                json.dump(merged, out, indent=2, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise


def _read_json_map(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text() or "{}")
    except ValueError as exc:
        raise PermanentError(f"local secret file {path} is not valid JSON") from exc
    if not isinstance(data, dict):
        raise PermanentError(f"local secret file {path} must hold a JSON object {{name: value}}")
    return {str(k): str(v) for k, v in data.items()}


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path``'s directory (the file itself is replaced on every
    write): two CLI runs never lose each other's rotation."""
    import fcntl

    directory = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(directory, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(directory, fcntl.LOCK_UN)
    finally:
        os.close(directory)


_local_files: dict[str, _LocalFile] = {}
_local_files_lock = threading.Lock()


def _local_file(path: str) -> _LocalFile:
    with _local_files_lock:
        if path not in _local_files:
            _local_files[path] = _LocalFile(Path(path))
        return _local_files[path]


def seed_local_file(path: Path, values: Mapping[str, str]) -> None:
    """Create or complete a local secret file with ``values``, keeping any value already in it
    (the local stack seeds its channels' tokens this way; rotations made since are kept)."""
    _local_file(str(path)).update(values, only_missing=True)


def forget() -> None:
    """Drop cached values (after a rotation, and between tests)."""
    _cache.clear()
    _client.cache_clear()
    with _local_files_lock:
        _local_files.clear()
