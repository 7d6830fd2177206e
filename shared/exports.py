"""Message exports (issue 19, part 3): an admin exports a date range of the tenant's messages, or
the messages matching a search, as JSON Lines or CSV, downloadable for a day.

1. :func:`start` (agent_api ``export_start``, the CLI's ``export``) checks the caller is an admin,
   writes the job (``tenants/{t}/exports/{id}``, shared/store/exports.py) and queues its first step
   on the ``jobs`` queue (shared/jobs.py).
2. :func:`run_step` (deliver, action ``export``) streams pages of :data:`PAGE` messages from
   Firestore, oldest first (the timeline's query, ``store.tenant_messages``, projected to the
   exported fields) into one object part through a resumable upload that buffers at most
   ``storage.WRITE_CHUNK`` bytes: memory stays flat however many messages there are. After
   :data:`~shared.jobs.STEP_SECONDS` (or ``partMessages``) it records the cursor and the part, and
   queues the next step; the last step composes the parts into one object (server-side) and deletes
   them. A retried step rewrites its own part from the recorded cursor: nothing is written twice.
   Progress (``count``) is written at most once a second.
3. :func:`download` (agent_api ``export_link``) signs a 5-minute URL for the finished object, while
   the export is less than :data:`KEEP` old; Cloud Storage's lifecycle rule deletes ``exports/``
   objects after a day (infra/storage.tf).

CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return) are prefixed with ``'``; quoting and line breaks follow RFC 4180 (``csv``).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared import audit, jobs, store
from shared.auth import Caller, require_admin
from shared.errors import Refused, SwitchboardError
from shared.media import storage

log = logging.getLogger(__name__)

PAGE = 500  # messages per Firestore page
KEEP = timedelta(days=1)  # how long an export can be downloaded (and the bucket keeps it)
PART_MESSAGES = 250_000  # at most this many messages a step (a part), besides the time budget
PROGRESS_SECONDS = 1.0  # at most one progress write a second (Firestore: ~1 write/s a document)
FORMATS = ("jsonl", "csv")
CONTENT_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv"}
CSV_COLUMNS = (
    "messageId",
    "conversationId",
    "sentAt",
    "channel",
    "direction",
    "type",
    "status",
    "senderKind",
    "senderName",
    "text",
    "attachments",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FIELDS = (
    "conversationId",
    "sentAtMs",
    "direction",
    "type",
    "channel",
    "status",
    "text",
    "sender",
    "content",
)


class ExportRequest(BaseModel):
    """agent_api ``export_start``: a date range (``fromMs`` inclusive, ``toMs`` exclusive), a format
    and optionally a search's words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["export_start"] = "export_start"
    fromMs: int = Field(ge=0)
    toMs: int = Field(gt=0)
    format: Literal["jsonl", "csv"] = "jsonl"
    query: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _ordered(self) -> ExportRequest:
        if self.toMs <= self.fromMs:
            raise ValueError("toMs must be after fromMs")
        return self


class ExportRef(BaseModel):
    """agent_api ``export_link``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["export_link"] = "export_link"
    exportId: str = Field(pattern=r"^[a-f0-9]{32}$")


# --- starting ---------------------------------------------------------------------------------------


def start(
    caller: Caller,
    from_ms: int,
    to_ms: int,
    fmt: str = "jsonl",
    query: str | None = None,
    *,
    part_messages: int = PART_MESSAGES,
    queue: bool = True,
) -> dict[str, Any]:
    """Write an export job for the caller's tenant and queue its first step (``queue`` False: the
    caller runs the steps itself, as the CLI does). Returns the job with its ``id``."""
    require_admin(caller, "exporting messages")
    if fmt not in FORMATS:
        raise Refused("invalid_request", f"format must be one of {', '.join(FORMATS)}")
    if to_ms <= from_ms:
        raise Refused("invalid_request", "the range must end after it starts")
    terms: list[str] = []
    if query is not None:
        from shared.search.terms import query_terms

        terms = query_terms(query)
        if not terms:
            raise Refused("query_too_short", "search for words of at least 3 letters")
    export_id = uuid.uuid4().hex
    now = int(time.time() * 1000)
    job: dict[str, Any] = {
        "kind": "messages",
        "format": fmt,
        "fromMs": from_ms,
        "toMs": to_ms,
        "query": query,
        "terms": terms,
        "state": "queued",
        "count": 0,
        "parts": 0,
        "cursor": None,
        "partMessages": max(1, int(part_messages)),
        "startedBy": {"id": caller.uid, "name": caller.name or caller.email or caller.uid},
        "createdAtMs": now,
        "updatedAtMs": now,
        "expiresAtMs": now + int(KEEP.total_seconds() * 1000),
    }
    store.create_export_job(caller.tenant_id, export_id, job)
    if queue:
        jobs.enqueue("export", caller.tenant_id, f"export-{export_id}-0", {"exportId": export_id})
    return {"id": export_id, **job}


# --- running ----------------------------------------------------------------------------------------


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def row(message: store.FoundMessage) -> dict[str, Any]:
    """One exported message (a JSON Lines record; CSV flattens it)."""
    data = message.data
    content = data.get("content") or {}
    sender = data.get("sender") or {}
    attachments = [
        {k: entry.get(k) for k in ("fileName", "contentType", "size", "state") if entry.get(k) is not None}
        for entry in store.media_entries(data)
    ]
    text = data.get("text")
    if text is None and isinstance(content, dict):
        text = content.get("caption") or content.get("text")
    return {
        "messageId": message.message_id,
        "conversationId": message.conversation_id,
        "sentAt": _iso(message.sent_at_ms),
        "sentAtMs": message.sent_at_ms,
        "channel": data.get("channel"),
        "direction": data.get("direction"),
        "type": data.get("type"),
        "status": data.get("status"),
        "sender": {"kind": sender.get("kind"), "id": sender.get("id"), "name": sender.get("name")},
        "text": text,
        "attachments": attachments,
    }


def csv_safe(value: Any) -> str:
    """A CSV cell: text a spreadsheet would evaluate as a formula gets a leading ``'``."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def csv_record(record: dict[str, Any]) -> list[str]:
    """A row of :data:`CSV_COLUMNS` from :func:`row`'s record."""
    sender = record.get("sender") or {}
    names = "; ".join(str(a.get("fileName") or a.get("contentType") or "file") for a in record["attachments"])
    values = {
        **record,
        "senderKind": sender.get("kind"),
        "senderName": sender.get("name"),
        "attachments": names,
    }
    return [csv_safe(values.get(column)) for column in CSV_COLUMNS]


class _Encoder:
    """Turns pages of records into bytes of one format."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt

    def header(self) -> bytes:
        return self.encode_csv([list(CSV_COLUMNS)]) if self.fmt == "csv" else b""

    def encode_csv(self, rows: list[list[str]]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(rows)
        return buffer.getvalue().encode("utf-8")

    def encode(self, records: list[dict[str, Any]]) -> bytes:
        if self.fmt == "csv":
            return self.encode_csv([csv_record(r) for r in records])
        return "".join(
            json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records
        ).encode()


def _pages(
    tenant_id: str, job: dict[str, Any], after: tuple[int, str] | None
) -> Iterator[tuple[list[store.FoundMessage], tuple[int, str] | None]]:
    """Pages of the job's messages after ``after``, oldest first, each with the position after its
    last message (None when the messages ran out)."""
    from shared.search.fields import every_key, term_key
    from shared.search.terms import most_selective

    terms: list[str] = list(job.get("terms") or [])
    if terms:
        anchor = most_selective(terms)
        key = term_key(tenant_id, anchor)
        others = [term_key(tenant_id, t) for t in terms if t != anchor]
    else:
        key, others = every_key(tenant_id), []
    fields = (*_FIELDS, *(store.field_path("terms", k) for k in others))
    position = after
    while True:
        page = store.tenant_messages(
            key,
            from_ms=int(job["fromMs"]),
            to_ms=int(job["toMs"]),
            newest_first=False,
            after=position,
            limit=PAGE,
            fields=fields,
        )
        if page:
            position = (page[-1].sent_at_ms, page[-1].path)
        kept = [
            m
            for m in page
            if not others
            or (m.data.get("direction") != "system" and all(k in (m.data.get("terms") or {}) for k in others))
        ]
        more = len(page) == PAGE
        yield kept, (position if more else None)
        if not more:
            return


def _object_name(job: dict[str, Any]) -> str:
    day = lambda ms: datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y%m%d")  # noqa: E731
    return f"messages-{day(int(job['fromMs']))}-{day(int(job['toMs']) - 1)}.{job['format']}"


def run_step(
    tenant_id: str, export_id: str, *, budget_seconds: float = jobs.STEP_SECONDS, queue_next: bool = True
) -> str:
    """One step of an export (deliver's ``export`` task): write the next part, then queue the next
    step (unless ``queue_next`` is False: the caller runs it), or finish. Returns ``continued``,
    ``done``, ``failed`` or ``nothing-to-do``."""
    job = store.get_export_job(tenant_id, export_id)
    if job is None or job.get("state") in ("done", "failed", "withdrawn"):
        return "nothing-to-do"
    try:
        more = _write_part(tenant_id, export_id, job, budget_seconds)
        if more:
            if not queue_next:
                return "continued"
            # The step that writes part n is task <id>-n: a retried step queues its successor once.
            jobs.enqueue("export", tenant_id, f"export-{export_id}-{job['parts']}", {"exportId": export_id})
            return "continued"
        _finish(tenant_id, export_id)
    except SwitchboardError as exc:
        if exc.transient:
            raise
        log.error("export failed", extra={"fields": {"export_id": export_id, "error": type(exc).__name__}})
        store.update_export_job(
            tenant_id, export_id, {"state": "failed", "error": str(exc)[:300], "updatedAtMs": _now()}
        )
        return "failed"
    return "done"


def _now() -> int:
    return int(time.time() * 1000)


def _write_part(tenant_id: str, export_id: str, job: dict[str, Any], budget_seconds: float) -> bool:
    """Write part ``job.parts`` from ``job.cursor``; True when messages remain."""
    started = time.monotonic()
    part = int(job.get("parts") or 0)
    cursor = job.get("cursor")
    after = (int(cursor[0]), str(cursor[1])) if cursor else None
    count = int(job.get("count") or 0)
    limit = int(job.get("partMessages") or PART_MESSAGES)
    encoder = _Encoder(str(job["format"]))
    path = storage.export_path(tenant_id, export_id, f"part-{part:05d}")
    written, position, more, last_progress = 0, after, False, time.monotonic()
    store.update_export_job(tenant_id, export_id, {"state": "running", "updatedAtMs": _now()})
    with storage.open_writer(path, CONTENT_TYPES[str(job["format"])]) as out:
        if part == 0:
            out.write(encoder.header())
        for kept, next_position in _pages(tenant_id, job, after):
            out.write(encoder.encode([row(m) for m in kept]))
            written += len(kept)
            position, more = next_position, next_position is not None
            if not more:
                break
            if time.monotonic() - last_progress >= PROGRESS_SECONDS:
                store.update_export_job(
                    tenant_id, export_id, {"count": count + written, "updatedAtMs": _now()}
                )
                last_progress = time.monotonic()
            if written >= limit or time.monotonic() - started >= budget_seconds:
                break
    store.update_export_job(
        tenant_id,
        export_id,
        {
            "parts": part + 1,
            "count": count + written,
            "cursor": list(position) if position else None,
            "updatedAtMs": _now(),
        },
    )
    job["parts"] = part + 1
    return more


def _finish(tenant_id: str, export_id: str) -> None:
    job = store.get_export_job(tenant_id, export_id) or {}
    parts = [
        storage.export_path(tenant_id, export_id, f"part-{n:05d}") for n in range(int(job.get("parts") or 0))
    ]
    name = _object_name(job)
    path = storage.export_path(tenant_id, export_id, name)
    size = storage.compose(parts, path, CONTENT_TYPES[str(job["format"])], file_name=name)
    for part in parts:
        storage.delete(part)
    store.update_export_job(
        tenant_id,
        export_id,
        {
            "state": "done",
            "path": path,
            "fileName": name,
            "size": size,
            "cursor": None,
            "updatedAtMs": _now(),
        },
    )


def run_inline(tenant_id: str, export_id: str) -> dict[str, Any]:
    """Run every step of an export in this process (the CLI, benchmarks); the finished job."""
    while run_step(tenant_id, export_id, queue_next=False) == "continued":
        pass
    return store.get_export_job(tenant_id, export_id) or {}


# --- downloading ------------------------------------------------------------------------------------


def download(caller: Caller, export_id: str) -> dict[str, Any]:
    """A signed URL for a finished export of the caller's tenant (admins only)."""
    require_admin(caller, "downloading exports")
    job = store.get_export_job(caller.tenant_id, export_id)
    if job is None:
        raise Refused("not_found", "no such export", 404)
    if job.get("state") == "withdrawn":
        raise Refused("export_withdrawn", "this export was withdrawn (a contact's data was erased)", 410)
    if int(job.get("expiresAtMs") or 0) <= _now():
        raise Refused("export_expired", "exports can be downloaded for a day: start a new one", 410)
    if job.get("state") != "done" or not job.get("path"):
        raise Refused("export_not_ready", "the export is still running", 409)
    url = storage.signed_download_url(
        str(job["path"]), content_type=CONTENT_TYPES[str(job["format"])], file_name=str(job.get("fileName"))
    )
    return {
        "url": url,
        "expiresAt": storage.expires_at(storage.DOWNLOAD_TTL),
        "fileName": job.get("fileName"),
    }


# --- agent_api --------------------------------------------------------------------------------------


def start_action(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``export_start`` -> ``{exportId}`` (progress: the job document, live)."""
    request = ExportRequest.model_validate(body)
    job = start(caller, request.fromMs, request.toMs, request.format, request.query)
    audit.record(
        caller,
        "messages.export",
        {"kind": "export", "id": job["id"]},
        details={
            "fromMs": request.fromMs,
            "toMs": request.toMs,
            "format": request.format,
            "search": bool(request.query),
        },
    )
    return {"exportId": job["id"], "expiresAtMs": job["expiresAtMs"]}


def link_action(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``export_link`` -> ``{url, expiresAt, fileName}``."""
    request = ExportRef.model_validate(body)
    return download(caller, request.exportId)
