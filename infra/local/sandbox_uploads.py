"""Uploads the provider sandbox accepts the way the real APIs do, and keeps for tests to read:

- WhatsApp Cloud API ``POST /{phone-number-id}/media`` (multipart: ``messaging_product=whatsapp``,
  ``type`` = the file's MIME type, ``file``): ``{"id": "<media id>"}``, checked against the
  Cloud API's supported media types and sizes (images 5 MB, audio and video 16 MB, documents
  100 MB, stickers 500 KB); errors as Graph answers them (100 for a missing or wrong parameter,
  131053 for a file it cannot take).
- Telegram Bot API files sent as multipart/form-data (``sendPhoto``, ``sendDocument``,
  ``sendVoice``, ``sendAudio``, ``sendVideo``): photos up to 10 MB, other files up to 50 MB
  (413 Request Entity Too Large beyond).

Every accepted upload is recorded (:class:`UploadBook`), so a test can check the bytes that
arrived, and a WhatsApp media id the sandbox issued can be used in a later ``/messages`` call.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

from infra.local.sandbox_multipart import UploadedFile

MB = 1024 * 1024

# WhatsApp Cloud API, "Supported media types": MIME type -> (media type, maximum bytes)
WHATSAPP_MEDIA: dict[str, tuple[str, int]] = {
    "audio/aac": ("audio", 16 * MB),
    "audio/amr": ("audio", 16 * MB),
    "audio/mpeg": ("audio", 16 * MB),
    "audio/mp4": ("audio", 16 * MB),
    "audio/ogg": ("audio", 16 * MB),
    "text/plain": ("document", 100 * MB),
    "application/pdf": ("document", 100 * MB),
    "application/vnd.ms-powerpoint": ("document", 100 * MB),
    "application/msword": ("document", 100 * MB),
    "application/vnd.ms-excel": ("document", 100 * MB),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("document", 100 * MB),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ("document", 100 * MB),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("document", 100 * MB),
    "image/jpeg": ("image", 5 * MB),
    "image/png": ("image", 5 * MB),
    "image/webp": ("sticker", 500 * 1024),
    "video/3gpp": ("video", 16 * MB),
    "video/mp4": ("video", 16 * MB),
}

TELEGRAM_PHOTO_MAX = 10 * MB
TELEGRAM_FILE_MAX = 50 * MB


@dataclass(frozen=True)
class StoredUpload:
    """One upload the sandbox accepted."""

    channel: str
    account_id: str
    media_id: str
    method: str  # "media" (WhatsApp) or the Bot API method
    field: str
    filename: str
    content_type: str
    data: bytes


class UploadBook:
    """The uploads accepted so far, thread-safe (the sandbox serves each request on its thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uploads: list[StoredUpload] = []

    def add(self, upload: StoredUpload) -> None:
        """Record an accepted upload."""
        with self._lock:
            self._uploads.append(upload)
            del self._uploads[:-200]  # bounded: the sandbox runs for days under `make dev`

    def all(self, channel: str | None = None) -> list[StoredUpload]:
        """Uploads, oldest first, optionally only one channel's."""
        with self._lock:
            return [u for u in self._uploads if channel is None or u.channel == channel]

    def by_media_id(self, media_id: str) -> StoredUpload | None:
        """The upload a WhatsApp media id names."""
        with self._lock:
            return next((u for u in self._uploads if u.media_id == media_id), None)

    def clear(self) -> None:
        """Forget every upload."""
        with self._lock:
            self._uploads.clear()


def new_whatsapp_media_id() -> str:
    """A media id as the Cloud API issues them: 15-16 digits."""
    return str(10**15 + secrets.randbelow(9 * 10**15))


def whatsapp_upload_problem(
    fields: dict[str, list[str]], file: UploadedFile | None
) -> tuple[int, str] | None:
    """What the Cloud API would refuse in a ``/media`` upload: (code, details), None when fine."""
    product = (fields.get("messaging_product") or [""])[-1]
    if not product:
        return 100, "The parameter messaging_product is required."
    if product != "whatsapp":
        return 100, "Param messaging_product must be one of {WHATSAPP} - got " + repr(product)
    if file is None:
        return 100, "The parameter file is required."
    declared = (fields.get("type") or [file.content_type or ""])[-1].split(";")[0].strip().lower()
    if not declared:
        return 100, "The parameter type is required."
    if declared not in WHATSAPP_MEDIA:
        return 131053, f"Unsupported file type: {declared}"
    _kind, limit = WHATSAPP_MEDIA[declared]
    if not file.data:
        return 131053, "The file is empty."
    if len(file.data) > limit:
        return 131053, f"The file is {len(file.data)} bytes; {declared} is limited to {limit} bytes."
    return None


def telegram_upload_problem(method: str, file: UploadedFile) -> tuple[int, str] | None:
    """What the Bot API would refuse in an uploaded file: (HTTP status, description)."""
    if not file.data:
        return 400, "Bad Request: file must be non-empty"
    if len(file.data) > TELEGRAM_FILE_MAX:
        return 413, "Request Entity Too Large"
    if method == "sendphoto" and len(file.data) > TELEGRAM_PHOTO_MAX:
        return 400, "Bad Request: PHOTO_INVALID_DIMENSIONS"
    return None
