"""An agent's uploaded attachments, checked before anything is queued.

``send_message`` takes ``attachments: [{path, fileName, contentType, size}]`` that the browser
uploaded through ``uploadUrl``. Nothing the browser says is trusted: the object must be the
caller's own upload in the caller's tenant (``uploads/{t}/{uid}/...``), its size is the
stored object's, its content type is sniffed from its bytes (shared/media/kinds.py), and the
channel's own limits (``capabilities.media_limits``, shared/channels/media_limits.py) decide
whether the provider can take it. A refusal is a 422 with a message an agent understands
("WhatsApp takes videos up to 16 MB; this one is 100 MB"), before the message exists.

The message document records each file as a ``content.media[]`` entry in the same shape as inbound
media (``state: "stored"``), so the dashboard renders both the same way; compose then copies each
upload to the message's own path (shared/media/uploads.py ``keep``), so the message never points
into ``uploads/``, which expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared import channels
from shared.channels import media_limits
from shared.errors import Refused

SNIFF_BYTES = 8192
WHOLE_READ_BYTES = 16 * 1024 * 1024

KIND_NAMES = {"image": "images", "audio": "audio files", "video": "videos", "document": "documents"}


@dataclass(frozen=True, slots=True)
class Upload:
    """One attachment as the request names it."""

    path: str
    file_name: str | None
    content_type: str | None
    size: int | None


def _refuse(code: str, message: str) -> Refused:
    return Refused(code, message, 422)


def _megabytes(size: int) -> str:
    value = size / (1024 * 1024)
    return f"{value:.0f} MB" if value >= 10 else f"{value:.1f} MB".replace(".0 MB", " MB")


def _display_name(file_name: str | None) -> str | None:
    """The name agents and customers see: the uploader's, without control characters or a path."""
    name = "".join(ch for ch in (file_name or "") if ch.isprintable()).replace("\\", "/").rsplit("/", 1)[-1]
    return name.strip()[:240] or None


def _dimensions(data: bytes) -> dict[str, int]:
    """An image's width and height (Pillow reads the header only); {} when it cannot tell."""
    import io

    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Exception:  # noqa: BLE001 - a picture Pillow cannot measure is still sent, without sizes
        return {}
    return {"width": int(width), "height": int(height)}


def _inspect(path: str) -> tuple[int, bytes] | None:
    """The stored object's size and first bytes (None: no such object)."""
    from shared.media import storage

    info = storage.stat(path)
    if info is None:
        return None
    size = info.size
    # Office documents are ZIP containers told apart by their member names (the central directory
    # is at the end): read small files whole, large ones by their first bytes only.
    head = storage.read(path) if size <= WHOLE_READ_BYTES else storage.read(path, limit=SNIFF_BYTES)
    return size, head


def check_uploads(
    tenant_id: str,
    uid: str,
    channel: str,
    requested_type: str,
    uploads: list[Upload],
    read: list[bytes] | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """Verify ``uploads`` for a message to ``channel``; return the type to send (the sniffed kind,
    or ``document`` when the agent asked for one) and the ``content.media[]`` entries. Raises
    Refused (422) naming what is wrong. ``read``, when given, receives the bytes read of each file
    (the whole file up to 16 MB), for its thumbnail or poster."""
    from shared.media import kinds

    can = channels.capabilities(channel)
    name = media_limits.display_name(channel)
    if len(uploads) > can.max_attachments:
        raise _refuse(
            "too_many_attachments",
            f"{name} takes {can.max_attachments} file(s) per message: send the others separately.",
        )
    from shared.media import storage

    send_type = requested_type
    media: list[dict[str, Any]] = []
    for upload in uploads:
        if not storage.is_upload_of(upload.path, tenant_id, uid):
            raise _refuse("attachment_not_yours", "An attachment must be a file you uploaded (uploadUrl).")
        found = _inspect(upload.path)
        if found is None:
            raise _refuse("attachment_missing", "The attached file was not uploaded (or has expired).")
        size, head = found
        if read is not None:
            read.append(head)
        classified = kinds.classify(head, upload.file_name)
        if not classified.allowed:
            raise _refuse(
                "attachment_type_not_allowed",
                f"This kind of file ({classified.detected}) cannot be sent.",
            )
        kind = "document" if requested_type == "document" else classified.kind
        if kind == "sticker":
            kind = "image"
        limit = can.media_limit(kind)
        if kind not in can.media or limit is None:
            raise _refuse("media_not_supported", f"{name} cannot send {KIND_NAMES.get(kind, kind)}.")
        if not limit.accepts_type(classified.content_type):
            accepted = ", ".join(sorted(t.split("/", 1)[1].upper() for t in limit.content_types))
            raise _refuse(
                "attachment_type_not_supported",
                f"{name} does not take {classified.content_type} as {KIND_NAMES[kind]} "
                f"(it takes {accepted}); send it as a document or convert it.",
            )
        if size > limit.max_bytes:
            raise _refuse(
                "attachment_too_large",
                f"{name} takes {KIND_NAMES[kind]} up to {_megabytes(limit.max_bytes)}; "
                f"this one is {_megabytes(size)}.",
            )
        send_type = kind
        dimensions = _dimensions(head) if kind == "image" else {}
        entry: dict[str, Any] = {
            "state": "stored",
            "path": upload.path,
            "contentType": classified.content_type,
            "size": size,
            "fileName": _display_name(upload.file_name) or kinds.default_name(classified.content_type, kind),
        }
        entry.update(dimensions)  # the dashboard reserves the picture's box before it loads
        media.append(entry)
    total = sum(int(entry["size"]) for entry in media)
    if can.max_total_bytes is not None and len(media) > 1 and total > can.max_total_bytes:
        raise _refuse(
            "attachments_too_large",
            f"{name} takes up to {_megabytes(can.max_total_bytes)} of files in one message; "
            f"these are {_megabytes(total)} together: send some of them separately.",
        )
    return send_type, media
