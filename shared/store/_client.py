"""What every store module shares: the lazy Firestore client, bounded retries, the errors that say
whether a write may be retried, Firestore's document limits, field transforms, versioned reads and
the documents both products address (``tenants/{t}``, its conversations and their messages).

Nothing here runs at import: the client is created on first use and the Firestore library is
imported inside the functions that need it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from shared.config import settings
from shared.errors import UnstorableDocument

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.firestore import Client, DocumentReference, DocumentSnapshot

MAX_DOCUMENT_BYTES = 1_048_576  # Firestore: "Maximum size for a document"
MAX_NESTING = 20  # Firestore: "Maximum depth of fields in a map or array"
PRECONDITION_RETRIES = 8

_Cache = TypeVar("_Cache", bound=dict[Any, Any])
# Process-wide caches of the store's modules (the route cache), emptied by reset().
_caches: list[dict[Any, Any]] = []


_LIBRARY_LOCK = threading.Lock()
_library_loaded = False


def load_library() -> None:
    """Import the Firestore library once, under a lock. functions-framework serves requests on
    threads: two first requests importing it at the same moment can meet a partially initialised
    module (``cannot import name ... from partially initialized module``, a 500 without CORS headers,
    measured on the admin console's first load). The functions call this before their handler."""
    global _library_loaded  # noqa: PLW0603 - a process-wide once flag
    if _library_loaded:
        return
    with _LIBRARY_LOCK:
        if not _library_loaded:
            import google.cloud.firestore
            import google.cloud.firestore_v1.base_query  # noqa: F401

            _library_loaded = True


@cache
def client() -> Client:
    """The process's Firestore client (honours FIRESTORE_EMULATOR_HOST), created on first use."""
    from google.cloud import firestore

    return firestore.Client(project=settings().project_id)


@cache
def _rpc() -> dict[str, Any]:
    """Bounded retries and timeouts for the calls on ingest's and deliver's paths: when Firestore is
    away, fail within ~20 s (so Pub/Sub / Cloud Tasks retry and, in the end, dead-letter) instead of
    blocking on the client's default multi-minute retry."""
    from google.api_core import retry

    transient = retry.if_exception_type(*transient_errors())
    return {
        "retry": retry.Retry(predicate=transient, initial=0.2, maximum=2.0, multiplier=2.0, timeout=15.0),
        "timeout": 10.0,
    }


def _fs() -> Any:
    from google.cloud import firestore

    return firestore


def _cleared_on_reset(memo: _Cache) -> _Cache:
    """Register a module's process-wide cache so that :func:`reset` empties it; returns it."""
    _caches.append(memo)
    return memo


def reset() -> None:
    """Forget the client and caches (tests point the process at a fresh emulator)."""
    client.cache_clear()
    _rpc.cache_clear()
    for memo in _caches:
        memo.clear()


def transient_errors() -> tuple[type[BaseException], ...]:
    """Firestore/gRPC errors that retrying can cure."""
    from google.api_core import exceptions as gexc

    return (
        gexc.ServiceUnavailable,
        gexc.DeadlineExceeded,
        gexc.InternalServerError,
        gexc.Aborted,
        gexc.TooManyRequests,
        gexc.ResourceExhausted,
        gexc.Unknown,
        gexc.RetryError,
        ConnectionError,
        TimeoutError,
    )


def refused_errors() -> tuple[type[BaseException], ...]:
    """Refusals of a document itself (over 1 MiB, nested too deep, a bad value), ours or
    Firestore's: no retry can cure them, so the caller keeps the data elsewhere instead."""
    from google.api_core import exceptions as gexc

    return (gexc.InvalidArgument, UnstorableDocument)


def check_storable(data: dict[str, Any], name_bytes: int = 200) -> None:
    """Raise UnstorableDocument unless production Firestore would store ``data``: at most
    :data:`MAX_DOCUMENT_BYTES` by Firestore's storage-size rules and maps/arrays nested at most
    :data:`MAX_NESTING` deep ("Usage and limits"; the emulator enforces neither)."""
    size = name_bytes + 32 + _stored_size(data, 0)
    if size > MAX_DOCUMENT_BYTES:
        raise UnstorableDocument(f"a document of about {size} bytes is over Firestore's {MAX_DOCUMENT_BYTES}")


def _stored_size(value: Any, depth: int) -> int:
    """Firestore's storage size of a value (strings and field names: UTF-8 bytes + 1; numbers and
    timestamps: 8; booleans and null: 1), checking nesting on the way."""
    if isinstance(value, dict | list | tuple):
        if depth >= MAX_NESTING:
            raise UnstorableDocument(f"maps or arrays nested more than {MAX_NESTING} levels deep")
        if isinstance(value, dict):
            return sum(
                len(str(k).encode("utf-8", "replace")) + 1 + _stored_size(v, depth + 1)
                for k, v in value.items()
            )
        return sum(_stored_size(v, depth + 1) for v in value)
    if isinstance(value, str):
        return len(value.encode("utf-8", "replace")) + 1
    if isinstance(value, bytes):
        return len(value)
    if value is None or isinstance(value, bool):
        return 1
    return 8  # numbers, timestamps, sentinels


# --- field transforms ----------------------------------------------------------------------------


def _nested(update: dict[str, Any]) -> dict[str, Any]:
    """An update's dotted field paths (``a.b``) as nested maps: what a new document is created with,
    and how the library orders an update's transforms."""
    nested: dict[str, Any] = {}
    for path, value in update.items():
        *parents, leaf = path.split(".")
        target = nested
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return nested


def increment(amount: int = 1) -> Any:
    """Field transform: add ``amount``."""
    return _fs().Increment(amount)


def maximum(value: float) -> Any:
    """Field transform: keep the larger of the stored number and ``value`` (never regresses)."""
    return _fs().Maximum(value)


def server_time() -> Any:
    """Field transform: the commit's server time."""
    return _fs().SERVER_TIMESTAMP


def delete_field() -> Any:
    """Sentinel that removes a field in an update."""
    return _fs().DELETE_FIELD


def array_union(values: list[Any]) -> Any:
    """Field transform: append values not yet present."""
    return _fs().ArrayUnion(values)


def field_path(*parts: str) -> str:
    """A field path for ``update`` whose parts may hold dots or other special characters (user ids)."""
    from google.cloud.firestore_v1.field_path import FieldPath

    return str(FieldPath(*parts).to_api_repr())


# --- versioned reads -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Versioned:
    """A document read with the version a precondition can test (``update_time``)."""

    exists: bool
    data: dict[str, Any]
    update_time: Any


def _versioned(snapshot: DocumentSnapshot) -> Versioned:
    if not snapshot.exists:
        return Versioned(False, {}, None)
    return Versioned(True, snapshot.to_dict() or {}, snapshot.update_time)


# --- documents both products address -------------------------------------------------------------
# A chat app is a tenant like a support inbox's, and its channels are conversations: the same tree.


def _tenant_ref(tenant_id: str) -> DocumentReference:
    return client().collection("tenants").document(tenant_id)


def conversation_ref(tenant_id: str, conversation_id: str) -> DocumentReference:
    """Reference to a conversation document."""
    return (
        client()
        .collection("tenants")
        .document(tenant_id)
        .collection("conversations")
        .document(conversation_id)
    )


def message_ref(tenant_id: str, conversation_id: str, message_id: str) -> DocumentReference:
    """Reference to a message document."""
    return conversation_ref(tenant_id, conversation_id).collection("messages").document(message_id)
