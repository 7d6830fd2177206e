"""Image and file posts of the chat API: the attachment checked and recorded on the post.

An app user uploads first (chat_api ``uploadUrl``), then posts ``type: image|file`` with
``attachment: {path, fileName, contentType, size}``. Nothing the client says is trusted: the path
must be the caller's own upload in this app, the object must exist, its size is the stored one and
its type is sniffed from its bytes (shared/media/kinds.py). An image post must be an image. The post
records the file as a ``content.media[]`` entry in the same shape as the inbox's media, so the
dashboard (support channels) and the embed render both the same way; members get a signed URL for
it from chat_api ``mediaUrl``.

Kept out of shared/chat/api.py on purpose: the post path calls :func:`attach` once and reads
:func:`post_media` when it builds a post's answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.errors import Refused

if TYPE_CHECKING:  # pragma: no cover
    from shared.chat.models import CreatePostRequest, PostMedia

SNIFF_BYTES = 8192
WHOLE_READ_BYTES = 16 * 1024 * 1024
LABELS = {"image": "\N{CAMERA} Photo", "file": "\N{PAPERCLIP} {name}"}


def uploader(app_id: str, user_id: str) -> str:
    """The uploader segment of an app user's uploads (``uploads/{app}/{uploader}/...``)."""
    return user_id


def _display_name(file_name: str | None) -> str | None:
    name = "".join(ch for ch in (file_name or "") if ch.isprintable()).replace("\\", "/").rsplit("/", 1)[-1]
    return name.strip()[:240] or None


def media_entry(
    app_id: str,
    user_id: str,
    post_type: str,
    path: str,
    file_name: str | None,
    read: list[bytes] | None = None,
) -> dict[str, Any]:
    """Check one uploaded file for a ``post_type`` post and return its ``content.media[]`` entry;
    Refused naming what is wrong (404 when the file is not the caller's upload or is gone, 400 for
    what it is). ``read``, when given, receives the bytes read (the whole file up to 16 MB)."""
    from shared.media import kinds, storage

    if not storage.is_upload_of(path, app_id, uploader(app_id, user_id)):
        # 404, as for anything that is not the caller's to see: no hint whether it exists.
        raise Refused(
            "attachment_not_yours", "attachment.path must be a file you uploaded with uploadUrl", 404
        )
    info = storage.stat(path)
    if info is None:
        raise Refused("attachment_missing", "the attachment was not uploaded (or has expired)", 404)
    head = storage.read(path) if info.size <= WHOLE_READ_BYTES else storage.read(path, limit=SNIFF_BYTES)
    if read is not None:
        read.append(head)
    classified = kinds.classify(head, file_name)
    if not classified.allowed:
        raise Refused("attachment_type_not_allowed", f"files of type {classified.detected} cannot be posted")
    if post_type == "image" and classified.kind not in ("image", "sticker"):
        raise Refused("attachment_not_an_image", "an image post needs a JPEG, PNG, GIF or WebP image")
    if info.size > classified.max_bytes:
        raise Refused(
            "attachment_too_large",
            f"{classified.kind} files are limited to {classified.max_bytes // (1024 * 1024)} MB",
        )
    entry: dict[str, Any] = {
        "state": "stored",
        "path": path,
        "contentType": classified.content_type,
        "size": info.size,
        "fileName": _display_name(file_name) or kinds.default_name(classified.content_type, classified.kind),
    }
    if classified.kind in ("image", "sticker"):
        entry.update(_dimensions(head))
    return entry


def _dimensions(data: bytes) -> dict[str, int]:
    """Width and height of an image read whole (Pillow reads only the header); {} if unknown."""
    import io

    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Exception:  # noqa: BLE001 - a picture Pillow cannot read is still posted, without sizes
        return {}
    return {"width": int(width), "height": int(height)}


def attach(
    app_id: str,
    user_id: str,
    request: CreatePostRequest,
    message: dict[str, Any],
    post_id: str | None = None,
) -> str:
    """Complete an image or file post's message document with its checked attachment, copied to
    the post's own path when ``post_id`` is given (uploads/ expires; shared/media/uploads.py), with
    a thumbnail or a video's poster; return the text its channel summary and push notification show
    (the caption, else "Photo" / the name)."""
    if request.type == "text" or request.attachment is None:
        return request.text or ""
    read: list[bytes] = []
    entry = media_entry(
        app_id, user_id, request.type, request.attachment.path, request.attachment.fileName, read
    )
    if post_id is not None:
        from shared.media import storage, uploads

        destination = storage.post_path(app_id, request.channelId, post_id, 0, entry["fileName"])
        entry = uploads.keep(entry, destination, read[0] if read else None)
    message["type"] = request.type
    message["text"] = request.text
    message["content"] = {"type": request.type, "text": request.text, "media": [entry]}
    return request.text or LABELS[request.type].format(name=entry["fileName"])


def post_media(content: dict[str, Any]) -> list[PostMedia]:
    """A post's files as the API answers them (no paths: members ask mediaUrl for a URL)."""
    from shared.chat.models import PostMedia

    items = content.get("media") or []
    if isinstance(items, dict):
        items = [items]
    return [
        PostMedia(
            index=index,
            state=item.get("state") if item.get("state") in ("pending", "stored", "failed") else "stored",
            contentType=item.get("contentType"),
            size=item.get("size"),
            fileName=item.get("fileName"),
            width=item.get("width"),
            height=item.get("height"),
            hasThumbnail=bool(item.get("thumbnailPath")),
        )
        for index, item in enumerate(items)
        if isinstance(item, dict)
    ]
