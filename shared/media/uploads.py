"""Uploads from the time they are sent to the time they expire.

An agent (``uploadUrl``, then ``send_message``) or an app user (chat ``uploadUrl``, then
``createPost``) uploads a file to ``uploads/{t}/{uid}/{id}/{name}`` first. Sending *copies* it
(:func:`keep`) to the message's own path (``tenants/{t}/conversations/{c}/{m}/{n}-{name}``, or
``tenants/{app}/channels/{ch}/{post}/{n}-{name}`` for a chat post), with a thumbnail for an image
and a poster frame for a video, and the message records that copy: a sent file never depends on its
upload. The upload itself is left where it is (a retried send, whose first answer was lost, finds
it again) until it expires.

Expiry. In production a lifecycle rule on the bucket deletes everything under ``uploads/`` one day
after it was created (infra/storage.tf, ``unsent_upload_days``): uploads nobody sent, and the
originals of sent ones. The storage emulator has no lifecycle, and an operator may want it sooner,
so :func:`sweep` does the same by listing (``python -m shared.cli media sweep-uploads
[--older-than 1d]``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.media import kinds, storage, thumbnails

log = logging.getLogger(__name__)

# How old an upload gets before it expires; infra/storage.tf's unsent_upload_days says the same.
UNSENT_UPLOAD_AGE = dt.timedelta(days=1)
# Thumbnails and posters of sent files are made from bytes already read for sniffing, at most this
# many (larger images and videos are sent without one; the dashboard shows a player or the name).
THUMBNAIL_SOURCE_BYTES = 16 * 1024 * 1024


def keep(entry: dict[str, Any], destination: str, data: bytes | None = None) -> dict[str, Any]:
    """Copy a checked upload (``entry["path"]``) to ``destination`` and return the entry pointing at
    the copy, with ``thumbnailPath`` (and the picture's size, a video's duration) when one could be
    made from ``data`` (the whole file, when the caller has read it)."""
    storage.copy(str(entry["path"]), destination)
    kept = {**entry, "path": destination}
    content_type = str(entry.get("contentType") or kinds.OCTET_STREAM)
    if data is None or len(data) != entry.get("size") or not thumbnails.can_make(content_type):
        return kept
    thumbnail = thumbnails.make(data, content_type)
    if thumbnail is None:
        return kept
    thumb_path = storage.thumbnail_path(destination)
    storage.put(thumb_path, thumbnail.data, "image/jpeg", file_name="thumbnail.jpg")
    kept.update({"thumbnailPath": thumb_path, "width": thumbnail.width, "height": thumbnail.height})
    if thumbnail.duration_seconds and not kept.get("durationSeconds"):
        kept["durationSeconds"] = round(float(thumbnail.duration_seconds), 3)
    return kept


def keep_all(
    media: list[dict[str, Any]],
    destination: Callable[[int, dict[str, Any]], str],
    data: list[bytes] | None = None,
) -> list[dict[str, Any]]:
    """:func:`keep` each of a message's checked uploads at ``destination(index, entry)``."""
    return [
        keep(entry, destination(index, entry), data[index] if data and index < len(data) else None)
        for index, entry in enumerate(media)
    ]


@dataclass(frozen=True, slots=True)
class Swept:
    """What :func:`sweep` did."""

    deleted: int
    kept: int
    cutoff: dt.datetime


def sweep(
    older_than: dt.timedelta = UNSENT_UPLOAD_AGE,
    *,
    now: dt.datetime | None = None,
    dry_run: bool = False,
) -> Swept:
    """Delete every upload created more than ``older_than`` before ``now``: the ones never sent
    (sent ones were copied to their message when they were sent). What the lifecycle rule does in
    production, for the emulator and for an operator."""
    cutoff = (now or dt.datetime.now(dt.UTC)) - older_than
    deleted = kept = 0
    for path, created in storage.listed(storage.UPLOADS_PREFIX):
        if created is None or created.astimezone(dt.UTC) >= cutoff:
            kept += 1
            continue
        if not dry_run:
            storage.delete(path)
        deleted += 1
    log.info(
        "swept unsent uploads",
        extra={"fields": {"event": "uploads_swept", "deleted": deleted, "kept": kept, "dry_run": dry_run}},
    )
    return Swept(deleted=deleted, kept=kept, cutoff=cutoff)
