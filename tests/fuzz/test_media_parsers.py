"""The media metadata parsers, fed hostile input: what a file is (``kinds.sniff``/``classify``,
from bytes nobody vouches for), its name (``safe_name``, ``content_disposition``, a provider's
``Content-Disposition``), thumbnails (Pillow on arbitrary bytes), the pending ``content.media``
entries built from every channel parser's events, and the local gateway's signed-URL check. None
raises anything but its documented refusal; every result stays within its promises (a path segment
with no ``/``, a header with no line break or quote, only allowed types served inline)."""

from __future__ import annotations

import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.local.storage_gateway import Refusal, Verifier
from shared import channels
from shared.channels import downloads
from shared.inbound import normalize
from shared.media import fetch, kinds, storage, thumbnails
from shared.models import MessageEvent
from tests.fuzz import corpus

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAGIC = [
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF89a",
    b"RIFF\x00\x00\x00\x00WEBP",
    b"%PDF-",
    b"OggS",
    b"\x00\x00\x00\x18ftypmp42",
    b"\x00\x00\x00\x18ftypM4A ",
    b"PK\x03\x04",
    b"\x1a\x45\xdf\xa3",
    b"ID3",
    b"<svg",
    b"<!DOCTYPE html>",
    b"\xef\xbb\xbf<html>",
    b"BEGIN:VCARD",
    b"#!AMR\n",
    b"MZ",
]
file_bytes = st.one_of(
    st.binary(max_size=2048),
    st.builds(lambda magic, tail: magic + tail, st.sampled_from(MAGIC), st.binary(max_size=512)),
)
names = st.one_of(
    st.none(), st.text(max_size=300), st.sampled_from(["../../etc/passwd", "a\r\nb.pdf", ".x", "é.jpg"])
)


@FUZZ
@given(file_bytes, names, st.sampled_from([None, "sticker", "image", "document"]))
def test_classify_decides_from_bytes_and_serves_inline_only_what_is_allowed(
    data: bytes, name: str | None, hint: str | None
) -> None:
    result = kinds.classify(data, name, hint)
    assert result.content_type in kinds.ALLOWED or result.content_type == kinds.OCTET_STREAM
    assert result.kind in kinds.MAX_BYTES and result.max_bytes == kinds.MAX_BYTES[result.kind]
    if result.inline:
        assert result.content_type in kinds.INLINE and result.content_type.split("/")[0] in (
            "image",
            "audio",
            "video",
        )
    for markup in (b"<svg", b"<!DOCTYPE html>", b"<html>"):
        if data.startswith(markup):
            assert not result.inline and not result.allowed


@FUZZ
@given(names)
def test_safe_names_are_one_harmless_path_segment_and_header_value(name: str | None) -> None:
    safe = kinds.safe_name(name)
    assert safe and len(safe) <= 100
    assert "/" not in safe and "\\" not in safe and not safe.startswith(".")
    assert all(ch.isascii() and (ch.isalnum() or ch in "._-") for ch in safe)
    disposition = kinds.content_disposition("application/pdf", name)
    assert disposition.startswith("attachment; ") and "\n" not in disposition and "\r" not in disposition
    assert disposition.count('"') == 2
    path = storage.inbound_path("t", "c", "m", 3, name)
    assert path.startswith("tenants/t/conversations/c/m/3-") and path.count("/") == 5
    assert storage.tenant_of(path) == "t"


@FUZZ
@given(st.text(max_size=400))
def test_a_providers_content_disposition_never_breaks_the_reader(value: str) -> None:
    name = downloads.file_name_of({"Content-Disposition": value})
    assert name is None or isinstance(name, str)


@FUZZ
@given(file_bytes, st.sampled_from(sorted(thumbnails.IMAGE_FORMATS)))
def test_thumbnails_of_arbitrary_bytes_are_a_jpeg_or_nothing(data: bytes, content_type: str) -> None:
    made = thumbnails.make(data, content_type)
    assert made is None or (made.data[:3] == b"\xff\xd8\xff" and made.width > 0 and made.height > 0)
    size = thumbnails.image_size(data, content_type)
    assert size is None or min(size) > 0


def test_a_real_image_gets_a_small_thumbnail_and_its_dimensions() -> None:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", (1000, 500), (0, 0, 0, 0)).save(out, "PNG")
    made = thumbnails.make(out.getvalue(), "image/png")
    assert made is not None and (made.width, made.height) == (1000, 500)
    with Image.open(io.BytesIO(made.data)) as thumb:
        assert max(thumb.size) == thumbnails.THUMBNAIL_EDGE


@FUZZ
@given(st.sampled_from(sorted(corpus.JSON_CHANNELS)), st.data())
def test_pending_media_entries_of_every_parsed_event_are_storable(kind: str, data: st.DataObject) -> None:
    payload = data.draw(st.one_of(st.sampled_from(corpus.json_seeds(kind)), corpus.mutated_json(kind)))
    result = normalize(channels.adapter(kind), corpus.encode_json(kind, payload), corpus.webhook_url(kind))
    for event in result.events:
        if isinstance(event, MessageEvent):
            for entry in fetch.pending_entries(event.content):
                assert entry["state"] == "pending"
                assert entry["providerRef"].get("mediaId") or entry["providerRef"].get("url")
                json.dumps(entry, allow_nan=False)


@FUZZ
@given(st.text(max_size=600), st.sampled_from(["GET", "POST", "PUT"]), st.text(max_size=80))
def test_the_gateway_refuses_any_unsigned_or_mangled_query(query: str, method: str, path: str) -> None:
    verifier = Verifier({"x@y.iam.gserviceaccount.com": b"not a key"})
    try:
        verifier.verify(method, "/" + path, query, {"Host": "127.0.0.1"})
    except Refusal as refusal:
        assert refusal.status in (400, 403)
    else:  # pragma: no cover - nothing random is a valid signature
        raise AssertionError("a random query passed the signature check")


@FUZZ
@given(form=corpus.mutated_form())
def test_pending_media_entries_of_mutated_twilio_forms_are_storable(form: tuple) -> None:
    pairs, tail = form
    body = corpus.encode_form(pairs, tail)
    result = normalize(channels.adapter("twilio"), body, corpus.webhook_url("twilio"))
    for event in result.events:
        if isinstance(event, MessageEvent):
            for entry in fetch.pending_entries(event.content):
                assert entry["providerRef"].get("url")
                json.dumps(entry, allow_nan=False)
