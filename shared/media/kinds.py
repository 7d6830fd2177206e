"""What a media file is, decided from its bytes (never from the provider's or the uploader's header).

:func:`sniff` reads the first bytes (and, for ZIP containers, the member names) and returns the
content type; :func:`classify` adds what Switchboard does with it: the media kind (image, audio,
video, document, sticker), whether it is on the allow-list, its maximum size, and whether a browser
may show it inline. Anything that is not on the list (SVG, HTML, scripts, executables, unknown
bytes) is stored as ``application/octet-stream`` and only ever served as an attachment.

The per-kind maxima are the largest any provider takes for that kind (WhatsApp documents 100 MB,
Telegram files 50 MB, Messenger attachments 25 MB); what one provider takes on sending is the channel
module's business. Pure functions, no client, no import-time work: the fuzz tests drive them.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import Literal

MediaKind = Literal["image", "audio", "video", "document", "sticker"]

OCTET_STREAM = "application/octet-stream"
MB = 1024 * 1024

# content type -> media kind. The allow-list: what may be uploaded and served with its own type.
ALLOWED: dict[str, MediaKind] = {
    "image/jpeg": "image",
    "image/png": "image",
    "image/gif": "image",
    "image/webp": "image",
    "audio/ogg": "audio",
    "audio/mpeg": "audio",
    "audio/mp4": "audio",
    "audio/aac": "audio",
    "audio/amr": "audio",
    "audio/wav": "audio",
    "audio/webm": "audio",
    "video/mp4": "video",
    "video/3gpp": "video",
    "video/quicktime": "video",
    "video/webm": "video",
    "application/pdf": "document",
    "text/plain": "document",
    "text/csv": "document",
    "text/vcard": "document",
    "application/zip": "document",
    "application/msword": "document",
    "application/vnd.ms-excel": "document",
    "application/vnd.ms-powerpoint": "document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "document",
    "application/x-tgsticker": "sticker",
}

# Served inline (the browser renders them); everything else gets Content-Disposition: attachment.
INLINE: frozenset[str] = frozenset(
    t for t, kind in ALLOWED.items() if kind in ("image", "audio", "video") and t != "image/svg+xml"
)

# The largest file of each kind any provider takes (bytes).
MAX_BYTES: dict[str, int] = {
    "image": 25 * MB,  # Messenger/Instagram attachments (WhatsApp 5 MB, Telegram photos 10 MB)
    "audio": 50 * MB,  # Telegram sendAudio/sendVoice (WhatsApp 16 MB, Messenger 25 MB)
    "video": 50 * MB,  # Telegram sendVideo (WhatsApp 16 MB, Messenger 25 MB)
    "document": 100 * MB,  # WhatsApp documents (Telegram 50 MB, Messenger 25 MB)
    "sticker": 1 * MB,  # WhatsApp 500 KB animated, Telegram 512 KB
}
# What an inbound fetch reads at most, whatever the kind turns out to be.
MAX_FETCH_BYTES = max(MAX_BYTES.values())

_OOXML = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_OLE_BY_EXTENSION = {
    ".xls": "application/vnd.ms-excel",
    ".ppt": "application/vnd.ms-powerpoint",
    ".pps": "application/vnd.ms-powerpoint",
}
_MARKUP = re.compile(rb"<\s*(!doctype|html|svg|script|\?xml|head|body|iframe|object|embed)", re.IGNORECASE)
_FTYP_BRANDS = {
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"qt  ": "video/quicktime",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"avif": "image/avif",
}


@dataclass(frozen=True, slots=True)
class Classified:
    """What a file is and what Switchboard does with it."""

    content_type: str  # the sniffed type; OCTET_STREAM when not on the allow-list
    detected: str  # what the bytes look like, even when refused (``image/svg+xml``, ``text/html``)
    kind: MediaKind  # document for anything not recognised
    allowed: bool
    inline: bool
    max_bytes: int

    def disposition(self, file_name: str | None) -> str:
        """The Content-Disposition to serve it with."""
        return content_disposition(self.content_type, file_name)


def _extension(file_name: str | None) -> str:
    if not file_name:
        return ""
    dot = file_name.rfind(".")
    return file_name[dot:].lower() if dot >= 0 else ""


def _zip_type(data: bytes) -> str:
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError, RuntimeError):
        return "application/zip" if len(data) >= 22 else OCTET_STREAM
    for prefix, content_type in _OOXML.items():
        if any(name.startswith(prefix) for name in names):
            return content_type
    return "application/zip"


def _text_type(data: bytes, file_name: str | None) -> str | None:
    head = data[:4096]
    if b"\x00" in head:
        return None
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if _MARKUP.search(head[:1024]):
        if re.search(rb"<\s*svg", head, re.IGNORECASE):
            return "image/svg+xml"
        return "text/html" if not stripped.startswith(b"<?xml") else "application/xml"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        if exc.start < len(head) - 4:
            return None
    if stripped[:11].upper() == b"BEGIN:VCARD":
        return "text/vcard"
    if _extension(file_name) == ".csv":
        return "text/csv"
    return "text/plain"


def sniff(data: bytes, file_name: str | None = None) -> str:
    """The content type ``data`` actually has (``file_name`` only tells apart formats whose bytes
    are alike: old Office files, CSV from plain text). Unknown bytes: ``application/octet-stream``."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"OggS"):
        return "video/ogg" if b"theora" in data[:512] else "audio/ogg"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _FTYP_BRANDS:
            return _FTYP_BRANDS[brand]
        if brand.startswith(b"3g"):
            return "video/3gpp"
        return "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        if b"webm" in data[:64]:
            return "video/webm"
        return "video/x-matroska"
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "audio/aac"  # ADTS
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return "audio/mpeg"  # an MPEG audio frame
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(data)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _OLE_BY_EXTENSION.get(_extension(file_name), "application/msword")
    if head.startswith(b"\x1f\x8b") and _extension(file_name) == ".tgs":
        return "application/x-tgsticker"
    if head.startswith((b"MZ", b"\x7fELF", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe")):
        return "application/x-executable"
    if not data:
        return OCTET_STREAM
    return _text_type(data, file_name) or OCTET_STREAM


def kind_of(content_type: str, hint: str | None = None) -> MediaKind:
    """The media kind of an allowed content type; ``hint`` (the provider's message type) keeps a
    sticker a sticker. Anything else is a document."""
    if hint == "sticker" and content_type in (
        "image/webp",
        "image/png",
        "video/webm",
        "application/x-tgsticker",
    ):
        return "sticker"
    return ALLOWED.get(content_type, "document")


def classify(data: bytes, file_name: str | None = None, hint: str | None = None) -> Classified:
    """Sniff ``data`` and say what Switchboard does with it."""
    detected = sniff(data, file_name)
    allowed = detected in ALLOWED
    content_type = detected if allowed else OCTET_STREAM
    kind = kind_of(content_type, hint)
    return Classified(
        content_type=content_type,
        detected=detected,
        kind=kind,
        allowed=allowed,
        inline=content_type in INLINE,
        max_bytes=MAX_BYTES[kind],
    )


def declared_kind(content_type: str) -> MediaKind | None:
    """The kind of a content type someone *claims* (an upload request), None if not allowed."""
    base = content_type.split(";", 1)[0].strip().lower()
    return ALLOWED.get(base)


def inline_safe(content_type: str | None) -> bool:
    """True when a browser may render this (sniffed) type inline."""
    return bool(content_type) and content_type in INLINE


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(file_name: str | None, default: str = "file", limit: int = 100) -> str:
    """A file name safe in an object path and a header: ASCII letters, digits, ``._-``, no leading
    dots, at most ``limit`` characters (the extension kept)."""
    name = unicodedata.normalize("NFKD", file_name or "").encode("ascii", "ignore").decode("ascii")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("_", name).strip(" ._")
    if not name:
        return default
    if len(name) > limit:
        ext = _extension(name)[:16]
        name = name[: limit - len(ext)] + ext
    return name


def content_disposition(content_type: str | None, file_name: str | None) -> str:
    """``inline`` for what the browser may render, ``attachment`` (with the safe file name) for
    everything else."""
    mode = "inline" if inline_safe(content_type) else "attachment"
    return f'{mode}; filename="{safe_name(file_name)}"'


EXTENSIONS: dict[str, str] = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/aac": ".aac",
    "audio/amr": ".amr",
    "audio/wav": ".wav",
    "video/mp4": ".mp4",
    "video/3gpp": ".3gp",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "text/csv": ".csv",
    "text/vcard": ".vcf",
    "application/x-tgsticker": ".tgs",
}


def default_name(content_type: str, kind: str) -> str:
    """A file name for media the provider gave none (a photo, a voice note)."""
    return f"{kind}{EXTENSIONS.get(content_type, '')}"
