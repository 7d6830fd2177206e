"""Thumbnails of images (Pillow) and poster frames of videos (PyAV, FFmpeg's decoders): a JPEG at
most :data:`THUMBNAIL_EDGE` pixels on its longest edge, stored beside the original with the suffix
``.thumb.jpg``, and the original's own dimensions (and a video's duration).

Images: Pillow decodes only what the media allow-list admits (JPEG, PNG, GIF, WebP): ``Image.open``
is given ``formats`` so no other decoder (PSD, EPS, ...) ever runs on a customer's bytes, and images
over :data:`MAX_PIXELS` are refused (decompression bombs).

Videos (:func:`poster`): the container is opened with the one demuxer its sniffed type names
(:data:`VIDEO_DEMUXERS`: MP4/3GP/QuickTime or Matroska/WebM, never FFmpeg's probing), the first
video stream must use a codec on :data:`VIDEO_CODECS`, its declared size must be at most
:data:`MAX_VIDEO_PIXELS` (checked before anything is decoded, and again on the frame), only key
frames are decoded (``skip_frame NONKEY``), at most :data:`MAX_POSTER_PACKETS` packets are read and
at most :data:`POSTER_SECONDS` spent. Whatever goes wrong (a broken, truncated or hostile file) the
answer is None: the video has no poster, and the original is stored and served all the same.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Any

THUMBNAIL_EDGE = 320
MAX_PIXELS = 50_000_000
IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}

# Sniffed video type -> the only FFmpeg demuxer that may open it (the allow-list's videos).
_ISOBMFF = "mov,mp4,m4a,3gp,3g2,mj2"
VIDEO_DEMUXERS = {
    "video/mp4": _ISOBMFF,
    "video/3gpp": _ISOBMFF,
    "video/quicktime": _ISOBMFF,
    "video/webm": "matroska,webm",
}
# The codecs phones and the providers use; anything else in those containers gets no poster.
VIDEO_CODECS = frozenset({"h264", "hevc", "mpeg4", "h263", "vp8", "vp9", "av1"})
MAX_VIDEO_PIXELS = 8192 * 4320  # 8K: larger is refused before decoding
MAX_POSTER_PACKETS = 600  # packets read looking for the first key frame
POSTER_SECONDS = 3.0  # wall-clock budget for one poster


@dataclass(frozen=True, slots=True)
class Thumbnail:
    """A made thumbnail (JPEG bytes) and the original's dimensions."""

    data: bytes
    width: int
    height: int
    duration_seconds: float | None = None  # videos, when the container says


def can_make(content_type: str | None) -> bool:
    """Whether :func:`make` may give this (sniffed) type a thumbnail or poster."""
    return content_type in IMAGE_FORMATS or content_type in VIDEO_DEMUXERS


def image_size(data: bytes, content_type: str) -> tuple[int, int] | None:
    """The (width, height) of an image on the allow-list, None if it cannot be read."""
    fmt = IMAGE_FORMATS.get(content_type)
    if fmt is None:
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as image:
            return int(image.width), int(image.height)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return None


def make(data: bytes, content_type: str) -> Thumbnail | None:
    """A thumbnail of an image, or a video's poster frame (:func:`poster`), for types on the
    allow-list; None for other types or bytes the decoders refuse."""
    if content_type in VIDEO_DEMUXERS:
        return poster(data, content_type)
    fmt = IMAGE_FORMATS.get(content_type)
    if fmt is None:
        return None
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as image:
            width, height = int(image.width), int(image.height)
            if width * height > MAX_PIXELS:
                return None
            image.draft("RGB", (THUMBNAIL_EDGE, THUMBNAIL_EDGE))  # JPEG: decode at a reduced scale
            frame = ImageOps.exif_transpose(image) or image
            frame = frame.convert("RGBA") if frame.mode in ("P", "LA", "PA") else frame
            if frame.mode == "RGBA":
                background = Image.new("RGB", frame.size, (255, 255, 255))
                background.paste(frame, mask=frame.getchannel("A"))
                frame = background
            elif frame.mode != "RGB":
                frame = frame.convert("RGB")
            frame.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE))
            out = io.BytesIO()
            frame.save(out, "JPEG", quality=80, optimize=True)
            return Thumbnail(out.getvalue(), width, height)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError, EOFError):
        return None


def _jpeg(image: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80, optimize=True)
    return out.getvalue()


def _scaled(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, THUMBNAIL_EDGE / max(width, height))
    return max(2, round(width * scale)), max(2, round(height * scale))


def poster(data: bytes, content_type: str, *, seconds: float = POSTER_SECONDS) -> Thumbnail | None:
    """The first key frame of a video on the allow-list as a JPEG thumbnail, with the video's size
    and duration; None when there is none to be had safely (see the module's docstring)."""
    demuxer = VIDEO_DEMUXERS.get(content_type)
    if demuxer is None or not data:
        return None
    started = time.monotonic()
    try:
        import av

        with av.open(
            io.BytesIO(data),
            mode="r",
            format=demuxer,
            # enable_drefs 0: an MP4 never makes the demuxer open other files (FFmpeg's default too).
            options={"probesize": "5000000", "analyzeduration": "5000000", "enable_drefs": "0"},
            timeout=seconds,
        ) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            context = stream.codec_context
            width, height = int(context.width or 0), int(context.height or 0)
            if context.name not in VIDEO_CODECS or not (0 < width * height <= MAX_VIDEO_PIXELS):
                return None
            context.skip_frame = "NONKEY"  # the poster is the first key frame: decode nothing else
            context.thread_count = 1
            duration = float(container.duration) / av.time_base if container.duration else None
            for count, packet in enumerate(container.demux(stream), start=1):
                if count > MAX_POSTER_PACKETS or time.monotonic() - started > seconds:
                    return None
                for frame in packet.decode():
                    if not (0 < frame.width * frame.height <= MAX_VIDEO_PIXELS):
                        return None
                    small = frame.reformat(*_scaled(frame.width, frame.height), format="rgb24")
                    return Thumbnail(_jpeg(small.to_image()), width, height, duration)
    except Exception:  # noqa: BLE001 - any decoder failure on a customer's bytes means "no poster"
        return None
    return None
