"""What a file is comes from its bytes: the provider's or uploader's header is never trusted, SVG and
HTML are never served inline, and names are made safe for paths and headers."""

from __future__ import annotations

import io
import zipfile

import pytest

from shared.media import kinds, storage
from tests.media import helpers


def docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "expected", "inline"),
    [
        (helpers.jpeg(10, 10), "x.png", "image/jpeg", True),
        (helpers.png(10, 10), None, "image/png", True),
        (b"GIF89a" + b"\x00" * 20, None, "image/gif", True),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", None, "image/webp", True),
        (b"OggS\x00\x02" + b"\x00" * 22 + b"OpusHead", "voice.oga", "audio/ogg", True),
        (b"ID3\x03\x00" + b"\x00" * 20, None, "audio/mpeg", True),
        (b"\x00\x00\x00\x20ftypisom" + b"\x00" * 20, None, "video/mp4", True),
        (b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 20, None, "audio/mp4", True),
        (b"\x00\x00\x00\x14ftyp3gp5" + b"\x00" * 20, None, "video/3gpp", True),
        (b"%PDF-1.7\n", "invoice.pdf", "application/pdf", False),
        (
            docx(),
            "letter.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            False,
        ),
        (b"name,qty\nbolt,3\n", "order.csv", "text/csv", False),
        (b"hello there", "notes.txt", "text/plain", False),
        (b"BEGIN:VCARD\r\nVERSION:3.0\r\n", None, "text/vcard", False),
    ],
)
def test_the_bytes_decide_the_type(data: bytes, name: str | None, expected: str, inline: bool) -> None:
    result = kinds.classify(data, name)
    assert (result.content_type, result.allowed, result.inline) == (expected, True, inline)


@pytest.mark.parametrize(
    ("data", "detected"),
    [
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "image/svg+xml",
        ),
        (b"<!DOCTYPE html><html><script>alert(1)</script>", "text/html"),
        (b"  <html><body>hi", "text/html"),
        (b"MZ\x90\x00\x03", "application/x-executable"),
        (b"\x7fELF\x02\x01", "application/x-executable"),
        (bytes(range(256)), kinds.OCTET_STREAM),
    ],
)
def test_markup_executables_and_unknown_bytes_are_never_allowed_nor_inline(
    data: bytes, detected: str
) -> None:
    result = kinds.classify(data, "photo.jpg")  # whatever the name claims
    assert result.detected == detected
    assert (result.content_type, result.allowed, result.inline) == (kinds.OCTET_STREAM, False, False)
    assert kinds.content_disposition(result.content_type, "x.svg").startswith("attachment")


def test_a_webp_sticker_stays_a_sticker_with_the_sticker_limit() -> None:
    result = kinds.classify(b"RIFF\x10\x00\x00\x00WEBPVP8 ", None, "sticker")
    assert result.kind == "sticker" and result.max_bytes == kinds.MAX_BYTES["sticker"]


def test_per_kind_maxima_are_the_providers_largest() -> None:
    assert kinds.MAX_BYTES["document"] == 100 * kinds.MB  # WhatsApp documents
    assert kinds.MAX_BYTES["image"] == 25 * kinds.MB  # Messenger attachments
    assert kinds.MAX_FETCH_BYTES == 100 * kinds.MB


def test_uploads_declare_only_allowed_types() -> None:
    assert kinds.declared_kind("image/jpeg; charset=binary") == "image"
    assert kinds.declared_kind("image/svg+xml") is None
    assert kinds.declared_kind("text/html") is None


def test_object_paths_stay_under_the_tenant() -> None:
    path = storage.upload_path("t1", "u1", "../../../x.png", "abc")
    assert path == "uploads/t1/u1/abc/x.png"  # one top-level prefix: the lifecycle rule expires it
    assert storage.tenant_of(path) == "t1"
    assert storage.is_upload_of(path, "t1", "u1") and not storage.is_upload_of(path, "t1", "u2")
    assert not storage.is_upload_of("uploads/t1/u1/../u2/x", "t1", "u1")
    assert not storage.is_upload_of("tenants/t1/uploads/u1/abc/x.png", "t1", "u1")
    assert storage.post_path("app1", "ch1", "p1", 0, "../a b.png") == "tenants/app1/channels/ch1/p1/0-a_b.png"
    with pytest.raises(ValueError):
        storage.inbound_path("t/../t2", "c", "m", 0, "x")
    assert storage.thumbnail_path(path) == path + ".thumb.jpg"
