"""Copying inbound media into Cloud Storage, off the ingest path.

1. Ingest writes the message with ``content.media[]`` = one *pending* entry per file
   (:func:`pending_entries`: what the provider said, and ``providerRef``, what to fetch it with),
   in the same create as the message: no extra write, and the dashboard shows "still downloading"
   at once. Once the message is stored, ingest queues one Cloud Task per file
   (:func:`enqueue_fetches`) on the ``media`` queue (topology.json), named after the message and
   the index: a redelivered event queues nothing new. Ingest never waits for a download.
2. deliver runs each task (action ``fetch_media``, :func:`fetch`): the channel adapter's
   ``fetch_media`` downloads the file with the channel's credentials (deliver alone holds them);
   the bytes are sniffed (:mod:`shared.media.kinds`), checked against the kind's maximum, stored at
   ``tenants/{t}/conversations/{c}/{m}/{n}-{name}``, with a thumbnail for images and a poster
   frame for videos (shared/media/thumbnails.py), and the entry
   becomes *stored* (path, sniffed type, size, name, dimensions, thumbnail path).
3. A file the provider no longer has (404, expired URL, too large) becomes *failed* with the
   reason at once; a transient error (timeouts, 429, 5xx, by the provider's code) is retried by
   the queue until :data:`MAX_ATTEMPTS`, then marked failed too: never retried forever. The
   message itself was stored in step 1 whatever happens here.
"""

from __future__ import annotations

import logging
from typing import Any

from shared import store, tasks
from shared.config import settings
from shared.errors import (
    MediaUnavailable,
    PermanentError,
    ProviderError,
    SwitchboardError,
    TransientError,
)
from shared.media import kinds

log = logging.getLogger(__name__)

MEDIA_QUEUE = "media"  # topology.json queues.media (tasks.queue_name adds the prefix)
ACTION = "fetch_media"
# Attempts (the first and its retries) before a transiently failing fetch is marked failed; the
# media queue's max_attempts in topology.json is this number, so production agrees.
MAX_ATTEMPTS = 8
FETCH_TIMEOUT_FACTOR = 3  # a download may take longer than one API call


def _ref(attachment: Any, kind: str) -> dict[str, Any]:
    ref = {
        "mediaId": attachment.media_id,
        "url": attachment.url,
        "mimeType": attachment.mime_type,
        "fileName": attachment.filename,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "width": getattr(attachment, "width", None),
        "height": getattr(attachment, "height", None),
        "durationSeconds": getattr(attachment, "duration", None),
        "kind": kind,
    }
    return {k: v for k, v in ref.items() if v is not None}


def pending_entries(content: Any) -> list[dict[str, Any]]:
    """One pending ``content.media`` entry per file of a media message's content (a MediaContent);
    ``[]`` for any other content, and for attachments with nothing to fetch them by."""
    attachments = getattr(content, "attachments", None) or ()
    kind = str(getattr(content, "type", "document"))
    entries = []
    for attachment in attachments:
        if not (attachment.media_id or attachment.url):
            continue
        entry: dict[str, Any] = {"state": "pending", "providerRef": _ref(attachment, kind), "kind": kind}
        for field, value in (
            ("fileName", attachment.filename),
            ("size", attachment.size),
            ("width", getattr(attachment, "width", None)),
            ("height", getattr(attachment, "height", None)),
            ("durationSeconds", getattr(attachment, "duration", None)),
        ):
            if value is not None:
                entry[field] = value
        entries.append(entry)
    return entries


def task_id(message_id: str, index: int) -> str:
    """The fetch task's name: one task per file of a message, whatever redelivers the event."""
    return f"media-{message_id}-{int(index)}"


def enqueue_fetches(tenant_id: str, conversation_id: str, message_id: str, count: int) -> int:
    """Queue the fetch of each of a stored message's ``count`` files; the number queued now."""
    deliver_url = settings().deliver_url
    if not deliver_url or count <= 0:
        if count > 0:
            log.warning("no deliver URL: inbound media stays pending", extra={"fields": {"count": count}})
        return 0
    queued = 0
    for index in range(count):
        payload = {
            "tenantId": tenant_id,
            "conversationId": conversation_id,
            "messageId": message_id,
            "action": ACTION,
            "mediaIndex": index,
        }
        if tasks.enqueue(tasks.queue_name(MEDIA_QUEUE), task_id(message_id, index), deliver_url, payload):
            queued += 1
    return queued


def _failed(entry: dict[str, Any], reason: str) -> dict[str, Any]:
    kept = {k: v for k, v in entry.items() if k in ("providerRef", "kind", "fileName", "size")}
    return {**kept, "state": "failed", "reason": reason[:500]}


def fetch(tenant_id: str, conversation_id: str, message_id: str, index: int, retry_count: int = 0) -> str:
    """Run one fetch task; return what happened (``stored``, ``failed``, ``already-stored``...).
    Raises a transient error to have the queue retry (below :data:`MAX_ATTEMPTS`)."""
    from shared import channels
    from shared.outbox.delivery import account_for

    message = store.message_media(tenant_id, conversation_id, message_id)
    if message is None:
        return "no-message"
    entries = store.media_entries(message)
    if not 0 <= index < len(entries):
        return "no-media"
    entry = entries[index]
    if entry.get("state") in ("stored", "failed"):
        return f"already-{entry['state']}"

    def fail(reason: str) -> str:
        log.warning(
            "inbound media could not be fetched",
            extra={"fields": {"event": "media_failed", "message_id": message_id, "reason": reason[:200]}},
        )
        store.set_media_entry(tenant_id, conversation_id, message_id, index, _failed(entry, reason))
        return "failed"

    ref = entry.get("providerRef") or {}
    hint = str(entry.get("kind") or ref.get("kind") or "")
    try:
        account = account_for(tenant_id, str(message["channelId"]))
        adapter = channels.adapter(str(message["channel"]))
        fetched = adapter.fetch_media(
            account, ref, timeout=settings().provider_timeout_seconds * FETCH_TIMEOUT_FACTOR
        )
    except MediaUnavailable as exc:
        return fail(str(exc))
    except ProviderError as exc:
        if exc.transient and retry_count + 1 < MAX_ATTEMPTS:
            raise
        attempts = f" after {retry_count + 1} attempts" if exc.transient else ""
        return fail(f"{exc.reason()}{attempts}")
    except (KeyError, PermanentError) as exc:
        return fail(f"the channel cannot fetch media: {exc}")
    except SwitchboardError as exc:
        if exc.transient and retry_count + 1 >= MAX_ATTEMPTS:
            return fail(f"gave up after {retry_count + 1} attempts: {exc}")
        raise

    try:
        stored = _store(tenant_id, conversation_id, message_id, index, entry, fetched, hint)
    except TransientError as exc:  # Cloud Storage away: retried like the provider's errors
        if retry_count + 1 >= MAX_ATTEMPTS:
            return fail(f"could not be stored after {retry_count + 1} attempts: {exc}")
        raise
    if isinstance(stored, str):
        return fail(stored)
    store.set_media_entry(tenant_id, conversation_id, message_id, index, stored)
    return "stored"


def _store(
    tenant_id: str,
    conversation_id: str,
    message_id: str,
    index: int,
    entry: dict[str, Any],
    fetched: Any,
    hint: str,
) -> dict[str, Any] | str:
    """Sniff, check and store a fetched file (and its thumbnail); its stored entry, or the reason
    it cannot be kept."""
    from shared.media import storage, thumbnails

    ref = entry.get("providerRef") or {}
    file_name = fetched.file_name or entry.get("fileName")
    classified = kinds.classify(fetched.data, file_name, hint)
    if not fetched.data:
        return "the provider sent an empty file"
    if len(fetched.data) > classified.max_bytes:
        limit = classified.max_bytes // kinds.MB
        return f"the file is larger than {limit} MB, the limit for a {classified.kind}"
    if not file_name:
        file_name = kinds.default_name(classified.content_type, classified.kind)
    path = storage.inbound_path(tenant_id, conversation_id, message_id, index, file_name)
    storage.put(path, fetched.data, classified.content_type, file_name=file_name)
    stored: dict[str, Any] = {
        "state": "stored",
        "kind": classified.kind,
        "path": path,
        "contentType": classified.content_type,
        "size": len(fetched.data),
        "fileName": file_name,
        "providerRef": ref,
    }
    if classified.detected != classified.content_type:
        stored["detectedType"] = classified.detected
    width, height = fetched.width, fetched.height
    duration = fetched.duration_seconds
    if thumbnails.can_make(classified.content_type):
        # An image's thumbnail or a video's poster frame; a file the decoders refuse has none.
        thumbnail = thumbnails.make(fetched.data, classified.content_type)
        if thumbnail is not None:
            thumb_path = storage.thumbnail_path(path)
            storage.put(thumb_path, thumbnail.data, "image/jpeg", file_name="thumbnail.jpg")
            stored["thumbnailPath"] = thumb_path
            width, height = thumbnail.width, thumbnail.height
            duration = duration or thumbnail.duration_seconds
    if width:
        stored["width"] = int(width)
    if height:
        stored["height"] = int(height)
    if duration:
        stored["durationSeconds"] = float(duration)
    return stored
