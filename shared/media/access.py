"""Who may have a signed URL for which object: the checks in front of :mod:`shared.media.storage`.

Nobody reads or writes the media bucket directly. A caller asks a function, which checks who they
are and hands out a short-lived V4 signed URL for one object:

- :func:`media_url`: download one file of one message (``variant`` original or thumbnail), for a
  staff member of the message's tenant on a support conversation (agent_api), or a member of the
  chat channel (chat_api, shared/chat/media.py): 5 minutes.
- :func:`upload_url`: a signed resumable upload of one new file under the caller's own uploads
  (``uploads/{t}/{uploader}/{id}/{name}``): 15 minutes, for an allowed content type and
  at most that kind's maximum size.

Everything is refused with 404 when it is not the caller's to see, never 403 with a hint.
"""

from __future__ import annotations

from typing import Any, Literal

from shared import store
from shared.errors import Refused
from shared.media import kinds, storage

Variant = Literal["original", "thumbnail"]


def _entry(tenant_id: str, conversation_id: str, message_id: str, index: int) -> dict[str, Any]:
    found = store.get_message(tenant_id, conversation_id, message_id)
    entries = store.media_entries(found.data if found else None)
    if not 0 <= index < len(entries):
        raise Refused("media_not_found", "no such media", 404)
    return entries[index]


def signed_media(tenant_id: str, entry: dict[str, Any], variant: Variant) -> dict[str, Any]:
    """A download URL for one stored ``content.media`` entry of ``tenant_id``; Refused when the
    file is not (or no longer) stored, or has no thumbnail."""
    state = entry.get("state")
    if state != "stored":
        reason = entry.get("reason") if state == "failed" else "still downloading"
        raise Refused("media_not_ready", f"the file is not available: {reason}", 409)
    path = entry.get("thumbnailPath") if variant == "thumbnail" else entry.get("path")
    if not isinstance(path, str) or not path:
        raise Refused("media_not_found", f"the file has no {variant}", 404)
    if storage.tenant_of(path) != tenant_id:
        # A document pointing outside its tenant is never signed, whatever wrote it.
        raise Refused("media_not_found", "no such media", 404)
    content_type = (
        "image/jpeg" if variant == "thumbnail" else str(entry.get("contentType") or kinds.OCTET_STREAM)
    )
    file_name = entry.get("fileName") if variant == "original" else "thumbnail.jpg"
    url = storage.signed_download_url(
        path, storage.DOWNLOAD_TTL, content_type=content_type, file_name=file_name
    )
    return {
        "url": url,
        "expiresAt": storage.expires_at(storage.DOWNLOAD_TTL),
        "contentType": content_type,
        "size": entry.get("size") if variant == "original" else None,
        "fileName": file_name,
        "variant": variant,
    }


def media_url(
    tenant_id: str, conversation_id: str, message_id: str, index: int, variant: Variant
) -> dict[str, Any]:
    """A download URL for ``content.media[index]`` of a message the caller was checked to see."""
    return signed_media(tenant_id, _entry(tenant_id, conversation_id, message_id, index), variant)


def check_upload(file_name: str, content_type: str, size: int) -> str:
    """The kind of an upload the caller announces, or Refused: a type off the allow-list, an empty
    file, or one over the kind's maximum."""
    base = content_type.split(";", 1)[0].strip().lower()
    kind = kinds.declared_kind(base)
    if kind is None:
        raise Refused("unsupported_media_type", f"{base or 'that type'} cannot be uploaded", 400)
    if size <= 0:
        raise Refused("empty_file", "the file is empty", 400)
    limit = kinds.MAX_BYTES[kind]
    if size > limit:
        raise Refused("file_too_large", f"a {kind} may be at most {limit // kinds.MB} MB", 413)
    return kind


def upload_url(tenant_id: str, uploader: str, file_name: str, content_type: str, size: int) -> dict[str, Any]:
    """A signed resumable upload of one new file under ``uploader``'s uploads in ``tenant_id``."""
    check_upload(file_name, content_type, size)
    base = content_type.split(";", 1)[0].strip().lower()
    path = storage.upload_path(tenant_id, uploader, file_name)
    url = storage.start_upload(path, base, size, storage.UPLOAD_TTL)
    return {
        "url": url,
        "method": "POST",
        "headers": storage.upload_headers(base, size),
        "path": path,
        "fileName": path.rsplit("/", 1)[-1],
        "contentType": base,
        "size": size,
        "expiresAt": storage.expires_at(storage.UPLOAD_TTL),
    }
