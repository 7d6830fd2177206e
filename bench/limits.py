"""Firestore's production limits, checked where the emulator never will (issue 14, part 8).

The emulator accepts anything; production does not. This module counts, from what a benchmark's
processes really send to Firestore, what would break Google's documented limits:

- about **1 sustained write per second per document** (bursts queue, then fail);
- **500 writes per second into one collection** while an indexed field only increases (timestamps,
  epoch milliseconds): the index's last range becomes a hot spot;
- **40,000 index entries** and **1 MiB** per document;
- the **500/50/5 ramp-up** rule: a new collection starts at 500 operations a second and may grow 50%
  every 5 minutes;
- (not Firestore's, but on the same path) **FCM: 600,000 messages a minute** per project.

Two halves:

1. The meter. :func:`install` wraps the Firestore client's RPC methods (``FirestoreClient``:
   ``commit`` and ``batch_write`` for writes; ``get_document``, ``batch_get_documents``,
   ``run_query`` and ``run_aggregation_query`` for billed reads, counted as bench/cost.py counts
   them) and appends one line per written document and one per read RPC to a log file shared by
   every process of the stack (``W <commit time> <role> <path> <increasing fields>`` and
   ``R <time> <role> <documents> <rpc>``; one ``write(2)`` per RPC on an ``O_APPEND`` file, so the
   lines of concurrent processes never interleave). A function's role is its functions-framework
   ``--target``. ``meter_site/sitecustomize.py`` installs it in every function process when
   :data:`LOG_ENV` names the log (:func:`stack_env`). A write's "increasing fields" are the fields it
   sets to the server's time, to a timestamp or to epoch milliseconds/seconds within a day of now.
2. The arithmetic (pure, unit-tested in tests/unit/test_bench_limits.py): document storage sizes
   (https://firebase.google.com/docs/firestore/storage-size), index entries per document from the
   automatic single-field indexes and ``infra/firestore.indexes.json`` (composite indexes and
   field overrides), per-document and per-collection write rates from the log, and the verdict.

Index entries (Firestore Standard edition's automatic indexes): a non-array, non-map field has an
ascending and a descending entry; a map has both for its whole value and its subfields are indexed
the same way, recursively; an array has both for its whole value plus one array-contains entry per
distinct element. A field override with ``indexes: []`` exempts the field and its subfields; one
with indexes counts one entry per listed index (one per distinct element for ``arrayConfig``). A
composite index holds a document only when every one of its fields is set, with one entry per
distinct element of its array-contains field.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

LOG_ENV = "SWITCHBOARD_BENCH_LIMITS_LOG"
ROLE_ENV = "SWITCHBOARD_BENCH_ROLE"
SITE_DIR = Path(__file__).resolve().parent / "meter_site"
REPO = Path(__file__).resolve().parents[1]
INDEXES_PATH = REPO / "infra" / "firestore.indexes.json"

# Google's documented limits.
MAX_WRITES_PER_DOCUMENT_PER_SECOND = 1.0
MAX_INCREASING_INDEX_WRITES_PER_SECOND = 500.0
MAX_INDEX_ENTRIES = 40_000
MAX_DOCUMENT_BYTES = 1_048_576
RAMP_START_OPS = 500.0
RAMP_GROWTH = 1.5
RAMP_STEP_MINUTES = 5
FCM_MESSAGES_PER_MINUTE = 600_000

DAY_SECONDS = 86_400
DOCUMENT_OVERHEAD_BYTES = 32
NAME_OVERHEAD_BYTES = 16
# The field of a streamed response that carries a billed document (or aggregation result).
BILLED_FIELD = {"batch_get_documents": "found", "run_query": "document", "run_aggregation_query": "result"}


# --- storage size (https://firebase.google.com/docs/firestore/storage-size) -----------------------


def string_size(text: str) -> int:
    """UTF-8 bytes + 1."""
    return len(text.encode("utf-8")) + 1


def document_name_size(path: str) -> int:
    """Each collection id and document id of the path as a string, + 16."""
    return sum(string_size(part) for part in path.strip("/").split("/")) + NAME_OVERHEAD_BYTES


def value_size(value: Any) -> int:
    """A field value's storage size."""
    if value is None:
        return 1
    if isinstance(value, bool):
        return 1
    if isinstance(value, int | float):
        return 8
    if isinstance(value, str):
        return string_size(value)
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, datetime):
        return 8
    if isinstance(value, list | tuple):
        return sum(value_size(item) for item in value)
    if isinstance(value, dict):
        return sum(string_size(str(key)) + value_size(item) for key, item in value.items())
    if hasattr(value, "latitude") and hasattr(value, "longitude"):
        return 16
    if hasattr(value, "path"):  # a DocumentReference
        return document_name_size(str(value.path))
    return string_size(str(value))


def document_size(path: str, data: dict[str, Any]) -> int:
    """A document's storage size: its name, each field's name and value, + 32."""
    return document_name_size(path) + value_size(data) + DOCUMENT_OVERHEAD_BYTES


# --- index entries ----------------------------------------------------------------------------------


def _clean(field_path: str) -> str:
    return field_path.replace("`", "")


@dataclass(frozen=True)
class IndexConfig:
    """What ``infra/firestore.indexes.json`` declares: composite indexes per collection group and
    field overrides per (collection group, field path) (an empty list: exempt from indexing)."""

    composites: dict[str, list[list[dict[str, str]]]] = field(default_factory=dict)
    overrides: dict[tuple[str, str], list[dict[str, str]]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, declared: dict[str, Any]) -> IndexConfig:
        composites: dict[str, list[list[dict[str, str]]]] = defaultdict(list)
        for index in declared.get("indexes") or []:
            fields = [
                {k: _clean(v) if k == "fieldPath" else v for k, v in f.items()}
                for f in index.get("fields") or []
                if _clean(f.get("fieldPath", "")) != "__name__"
            ]
            composites[index["collectionGroup"]].append(fields)
        overrides = {
            (o["collectionGroup"], _clean(o["fieldPath"])): list(o.get("indexes") or [])
            for o in declared.get("fieldOverrides") or []
        }
        return cls(dict(composites), overrides)

    @classmethod
    def load(cls, path: Path = INDEXES_PATH) -> IndexConfig:
        return cls.from_json(json.loads(path.read_text())) if path.exists() else cls()

    def override(self, group: str, field_path: str) -> list[dict[str, str]] | None:
        """The override of a field or of the nearest map above it (which its subfields inherit)."""
        parts = field_path.split(".")
        for end in range(len(parts), 0, -1):
            found = self.overrides.get((group, ".".join(parts[:end])))
            if found is not None:
                return found
        return None

    def indexed(self, group: str, field_path: str) -> bool:
        """Whether any single-field index holds the field (not exempted by an override)."""
        found = self.override(group, field_path)
        return found is None or bool(found)


def _distinct(values: Iterable[Any]) -> int:
    seen = []
    for value in values:
        key = json.dumps(value, sort_keys=True, default=str)
        if key not in seen:
            seen.append(key)
    return len(seen)


def _get(data: dict[str, Any], field_path: str) -> tuple[bool, Any]:
    value: Any = data
    for part in field_path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


@dataclass(frozen=True)
class IndexEntries:
    """A document's index entries: single-field (by top-level field) and composite."""

    single_field: dict[str, int]
    composite: int

    @property
    def total(self) -> int:
        return sum(self.single_field.values()) + self.composite


def index_entries(group: str, data: dict[str, Any], config: IndexConfig) -> IndexEntries:
    """The index entries Firestore keeps for a document of collection group ``group``."""
    single: Counter[str] = Counter()

    def walk(path: str, value: Any, top: str) -> None:
        overridden = config.override(group, path)
        if overridden is not None:
            if not overridden:
                return  # exempt, with every subfield
            for spec in overridden:
                if spec.get("arrayConfig"):
                    single[top] += _distinct(value) if isinstance(value, list) else 0
                else:
                    single[top] += 1
            if isinstance(value, dict):
                for key, item in value.items():
                    walk(f"{path}.{key}", item, top)
            return
        single[top] += 2  # ascending + descending on the whole value (maps and arrays too)
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{path}.{key}", item, top)
        elif isinstance(value, list):
            single[top] += _distinct(value)  # array-contains: one entry per distinct element

    for key, value in data.items():
        walk(str(key), value, str(key))

    composite = 0
    for fields in config.composites.get(group, []):
        entries = 1
        for spec in fields:
            present, value = _get(data, spec["fieldPath"])
            if not present:
                entries = 0
                break
            if spec.get("arrayConfig"):
                entries *= _distinct(value) if isinstance(value, list) else 0
        composite += entries
    return IndexEntries(dict(single), composite)


# --- the meter -----------------------------------------------------------------------------------------

_lock = threading.Lock()
_installed: list[Path] = []


def stack_env(log_path: Path) -> dict[str, str]:
    """What a LocalStack's ``extra_env`` needs for its functions to log their Firestore operations."""
    return {"PYTHONPATH": os.pathsep.join([str(SITE_DIR), str(REPO)]), LOG_ENV: str(log_path)}


def role() -> str:
    """Who this process is: :data:`ROLE_ENV`, else its functions-framework ``--target``, else bench."""
    if os.environ.get(ROLE_ENV):
        return os.environ[ROLE_ENV]
    argv = list(getattr(sys, "argv", []) or [])
    for i, arg in enumerate(argv):
        if arg == "--target" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--target="):
            return arg.split("=", 1)[1]
    return "bench"


def install_from_env() -> None:
    """Install the meter when :data:`LOG_ENV` names a file (meter_site/sitecustomize.py calls it)."""
    path = os.environ.get(LOG_ENV)
    if path:
        install(Path(path))


def install(log_path: Path, who: str | None = None) -> None:
    """Log every document this process's successful writes write and every billed read (once)."""
    from google.cloud.firestore_v1.services.firestore.client import FirestoreClient

    with _lock:
        if _installed:
            return
        _installed.append(log_path)
    name = (who or role()).replace(" ", "_")

    def wrap_write(method: str) -> None:
        original = getattr(FirestoreClient, method)

        def counted(client: Any, *args: Any, **kwargs: Any) -> Any:
            request = kwargs.get("request", args[0] if args else None)
            answer = original(client, *args, **kwargs)
            with contextlib.suppress(Exception):  # a meter never breaks what it measures
                at = _commit_time(answer)
                lines = "".join(
                    f"W {at:.6f} {name} {path} {','.join(rising) or '-'}\n"
                    for path, rising in written(request)
                )
                _append(log_path, lines)
            return answer

        setattr(FirestoreClient, method, counted)

    def wrap_read(method: str, streaming: bool) -> None:
        original = getattr(FirestoreClient, method)

        def counted(client: Any, *args: Any, **kwargs: Any) -> Any:
            answer = original(client, *args, **kwargs)
            if not streaming:
                with contextlib.suppress(Exception):
                    _append(log_path, f"R {time.time():.6f} {name} 1 {method}\n")
                return answer
            return _counting_stream(log_path, name, method, answer)

        setattr(FirestoreClient, method, counted)

    wrap_write("commit")
    wrap_write("batch_write")
    wrap_read("get_document", streaming=False)
    for method in BILLED_FIELD:
        wrap_read(method, streaming=True)


def _counting_stream(log_path: Path, name: str, method: str, stream: Any) -> Iterator[Any]:
    documents = 0
    try:
        for response in stream:
            with contextlib.suppress(Exception):
                if response._pb.HasField(BILLED_FIELD[method]):
                    documents += 1
            yield response
    finally:  # also when the caller stops early (DocumentReference.get takes the first response)
        # A query that answers nothing is billed one read; a missing document is not.
        billed = documents if method == "batch_get_documents" else max(documents, 1)
        if billed:
            with contextlib.suppress(Exception):
                _append(log_path, f"R {time.time():.6f} {name} {billed} {method}\n")


def _commit_time(answer: Any) -> float:
    committed = getattr(answer, "commit_time", None)
    return committed.timestamp() if committed else time.time()


def _append(log_path: Path, lines: str) -> None:
    if lines:
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, lines.encode())
        finally:
            os.close(fd)


def _near_now(seconds: float, now: float) -> bool:
    return abs(seconds - now) <= DAY_SECONDS


def _rising_value(value: Any, now: float) -> bool:
    """A Value proto that looks like "now": a timestamp or epoch ms/s within a day of now."""
    kind = value.WhichOneof("value_type")
    if kind == "timestamp_value":
        return _near_now(value.timestamp_value.seconds, now)
    if kind == "integer_value":
        number = value.integer_value
        return _near_now(number / 1000, now) or _near_now(number, now)
    return False


def _rising_fields(fields: Any, now: float, prefix: str = "") -> Iterator[str]:
    for key, value in fields.items():
        path = f"{prefix}{key}"
        if value.WhichOneof("value_type") == "map_value":
            yield from _rising_fields(value.map_value.fields, now, f"{path}.")
        elif _rising_value(value, now):
            yield path


def written(request: Any) -> list[tuple[str, list[str]]]:
    """(document path under ``documents/``, the fields set to a rising value) per document a
    commit or batch_write request writes, each document once."""
    writes = request.get("writes") if isinstance(request, dict) else request.writes
    now = time.time()
    found: dict[str, list[str]] = {}
    for write in writes or []:
        pb = getattr(write, "_pb", write)
        operation = pb.WhichOneof("operation")
        rising: list[str] = []
        if operation == "update":
            name = pb.update.name
            rising.extend(_rising_fields(pb.update.fields, now))
        elif operation == "delete":
            name = pb.delete
        else:
            name = pb.transform.document
        transforms = (
            list(pb.update_transforms) if operation == "update" else list(pb.transform.field_transforms)
        )
        for transform in transforms:
            which = transform.WhichOneof("transform_type")
            if which == "set_to_server_value" or (
                which in {"maximum", "increment"} and _rising_value(getattr(transform, which), now)
            ):
                rising.append(transform.field_path)
        path = name.split("/documents/", 1)[-1]
        known = found.setdefault(path, [])
        known.extend(f.replace("`", "") for f in rising if f.replace("`", "") not in known)
    return list(found.items())


# --- reading the log ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    at: float
    role: str
    path: str
    rising: tuple[str, ...] = ()


@dataclass(frozen=True)
class Read:
    at: float
    role: str
    documents: int
    rpc: str = ""


def parse(lines: Iterable[str]) -> tuple[list[Write], list[Read]]:
    """The writes and reads of a meter log (lines it cannot parse are skipped)."""
    writes: list[Write] = []
    reads: list[Read] = []
    for line in lines:
        parts = line.split()
        with contextlib.suppress(ValueError, IndexError):
            if parts[0] == "W" and len(parts) >= 4:
                rising = () if len(parts) < 5 or parts[4] == "-" else tuple(parts[4].split(","))
                writes.append(Write(float(parts[1]), parts[2], parts[3], rising))
            elif parts[0] == "R" and len(parts) >= 4:
                reads.append(
                    Read(float(parts[1]), parts[2], int(parts[3]), parts[4] if len(parts) > 4 else "")
                )
    return writes, reads


def read_log(log_path: Path) -> tuple[list[Write], list[Read]]:
    if not log_path.exists():
        return [], []
    return parse(log_path.read_text().splitlines())


def collection_of(path: str) -> str:
    """The collection path a document is in."""
    return path.rsplit("/", 1)[0]


def group_of(path: str) -> str:
    """A document's collection group (its collection id)."""
    parts = path.split("/")
    return parts[-2] if len(parts) >= 2 else path


def shape(path: str) -> str:
    """A document or collection path with its document ids left out: ``tenants/*/conversations/*``."""
    parts = path.split("/")
    return "/".join("*" if i % 2 else part for i, part in enumerate(parts))


def max_in_window(times: Iterable[float], window: float = 1.0) -> int:
    """The most events within any ``window`` seconds (a sliding window)."""
    ordered = sorted(times)
    best, first = 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= window:
            first += 1
        best = max(best, last - first + 1)
    return best


@dataclass(frozen=True)
class Rate:
    """Writes into one document or collection over a measured window."""

    key: str
    writes: int
    max_in_any_second: int
    sustained_per_second: float


def _rates(groups: dict[str, list[float]], seconds: float) -> list[Rate]:
    rates = [
        Rate(key, len(times), max_in_window(times), round(len(times) / max(seconds, 1e-9), 2))
        for key, times in groups.items()
    ]
    return sorted(rates, key=lambda r: (-r.sustained_per_second, -r.max_in_any_second, r.key))


def document_rates(writes: Iterable[Write], seconds: float) -> list[Rate]:
    """Per document: writes, the most in any one second, and on average over ``seconds``."""
    groups: dict[str, list[float]] = defaultdict(list)
    for write in writes:
        groups[write.path].append(write.at)
    return _rates(groups, seconds)


def collection_rates(writes: Iterable[Write], seconds: float) -> list[Rate]:
    """Per collection: every write into it (the ramp-up rule counts operations per collection)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for write in writes:
        groups[collection_of(write.path)].append(write.at)
    return _rates(groups, seconds)


def increasing_index_rates(writes: Iterable[Write], seconds: float, config: IndexConfig) -> list[Rate]:
    """Per collection: the writes that set an *indexed* field to a rising value (now)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for write in writes:
        group = group_of(write.path)
        if any(config.indexed(group, f) for f in write.rising):
            groups[collection_of(write.path)].append(write.at)
    return _rates(groups, seconds)


def ramp_minutes(ops_per_second: float) -> int:
    """Minutes of 500/50/5 ramp-up before a new collection may take ``ops_per_second``."""
    if ops_per_second <= RAMP_START_OPS:
        return 0
    steps = math.ceil(math.log(ops_per_second / RAMP_START_OPS) / math.log(RAMP_GROWTH) - 1e-9)
    return steps * RAMP_STEP_MINUTES


def linear_limit(points: list[tuple[float, float]], limit: float) -> float | None:
    """Where a quantity growing linearly through the last two (x, y) points reaches ``limit``
    (None when it does not grow)."""
    if len(points) < 2:
        return None
    (x0, y0), (x1, y1) = sorted(points)[-2:]
    if x1 == x0 or y1 <= y0:
        return None
    return x0 + (limit - y0) * (x1 - x0) / (y1 - y0)


@dataclass
class Check:
    """One limit: what Google documents, what was measured (or projected), where, and whether it
    would break in production."""

    limit: str
    documented: float
    measured: float
    where: str = ""
    breaks: bool = False
    note: str = ""

    def line(self) -> dict[str, Any]:
        shown = {"limit": self.limit, "documented": self.documented, "measured": self.measured}
        if self.where:
            shown["where"] = shape(self.where)
        if self.note:
            shown["note"] = self.note
        shown["breaks"] = self.breaks
        return shown


def checks(
    writes: list[Write],
    seconds: float,
    config: IndexConfig,
    documents: dict[str, dict[str, Any]] | None = None,
    fcm_per_minute: float | None = None,
) -> list[Check]:
    """Every limit over ``writes`` (one measured window of ``seconds``) and the ``documents``
    (path -> data) whose size and index entries are checked."""
    found: list[Check] = []
    docs = document_rates(writes, seconds)
    busiest = docs[0] if docs else Rate("-", 0, 0, 0.0)
    found.append(
        Check(
            "sustained writes per second per document",
            MAX_WRITES_PER_DOCUMENT_PER_SECOND,
            busiest.sustained_per_second,
            busiest.key,
            busiest.sustained_per_second > MAX_WRITES_PER_DOCUMENT_PER_SECOND,
            f"most in any one second: {busiest.max_in_any_second}",
        )
    )
    rising = increasing_index_rates(writes, seconds, config)
    top = rising[0] if rising else Rate("-", 0, 0, 0.0)
    found.append(
        Check(
            "writes per second into a collection with an increasing indexed field",
            MAX_INCREASING_INDEX_WRITES_PER_SECOND,
            top.sustained_per_second,
            top.key,
            top.sustained_per_second > MAX_INCREASING_INDEX_WRITES_PER_SECOND,
        )
    )
    collections = collection_rates(writes, seconds)
    hottest = collections[0] if collections else Rate("-", 0, 0, 0.0)
    minutes = ramp_minutes(hottest.sustained_per_second)
    found.append(
        Check(
            "500/50/5 ramp-up: operations per second into one new collection",
            RAMP_START_OPS,
            hottest.sustained_per_second,
            hottest.key,
            minutes > 0,
            f"needs {minutes} minutes of ramp-up from 500/s" if minutes else "",
        )
    )
    if documents:
        sizes = {path: document_size(path, data) for path, data in documents.items()}
        entries = {
            path: index_entries(group_of(path), data, config).total for path, data in documents.items()
        }
        big = max(sizes, key=lambda p: sizes[p])
        many = max(entries, key=lambda p: entries[p])
        found.append(
            Check("bytes per document", MAX_DOCUMENT_BYTES, sizes[big], big, sizes[big] > MAX_DOCUMENT_BYTES)
        )
        found.append(
            Check(
                "index entries per document",
                MAX_INDEX_ENTRIES,
                entries[many],
                many,
                entries[many] > MAX_INDEX_ENTRIES,
            )
        )
    if fcm_per_minute is not None:
        found.append(
            Check(
                "FCM messages per minute per project",
                FCM_MESSAGES_PER_MINUTE,
                round(fcm_per_minute),
                "push",
                fcm_per_minute > FCM_MESSAGES_PER_MINUTE,
            )
        )
    return found


def would_break(found: Iterable[Check]) -> list[str]:
    """One sentence per limit that production would enforce and the measurement exceeds."""
    return [
        f"{c.limit}: {c.measured:g} > {c.documented:g}" + (f" ({shape(c.where)})" if c.where else "")
        for c in found
        if c.breaks
    ]
