"""An agent's uploaded attachment, as a channel's ``send`` needs it: its bytes (WhatsApp's media
upload, Telegram's multipart) or a short-lived signed URL the provider fetches (Messenger/Instagram
attachment URL, Twilio ``MediaUrl``). Only :mod:`shared.media.storage` talks to Cloud Storage;
this module turns its failures into the ProviderError a delivery understands: a file that is gone
fails the message (retrying cannot bring it back), anything else is retried.
"""

from __future__ import annotations

import re

from shared.channels.base import PROVIDER_MEDIA_URL_SECONDS
from shared.errors import ProviderError
from shared.models.outbound import OutboundMedia

_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/]+')


def file_name(media: OutboundMedia) -> str:
    """The name the customer sees: the uploader's file name, else the object's last segment."""
    name = media.file_name or media.path.rsplit("/", 1)[-1] or "file"
    return _UNSAFE.sub("_", name).strip() or "file"


def _storage_error(channel: str, exc: Exception) -> ProviderError:
    gone = type(exc).__name__ in {"MediaNotFound", "NotFound"}
    return ProviderError(
        "The attached file is no longer in storage: attach it again."
        if gone
        else f"Could not read the attached file from storage ({type(exc).__name__}).",
        channel=channel,
        code="attachment_missing" if gone else "storage_unavailable",
        http_status=None,
        transient=not gone,
    )


def read(channel: str, media: OutboundMedia) -> bytes:
    """The file's bytes, from the media bucket."""
    from shared.media import storage

    try:
        return storage.read(media.path)
    except Exception as exc:  # noqa: BLE001 - storage's failures decide retry vs. fail, by kind
        raise _storage_error(channel, exc) from None


def link(channel: str, media: OutboundMedia) -> str:
    """A signed download URL for the provider, valid :data:`PROVIDER_MEDIA_URL_SECONDS`."""
    from shared.media import storage

    try:
        return storage.signed_download_url(
            media.path,
            PROVIDER_MEDIA_URL_SECONDS,
            content_type=media.content_type,
            file_name=file_name(media),
        )
    except Exception as exc:  # noqa: BLE001 - as read()
        raise _storage_error(channel, exc) from None
