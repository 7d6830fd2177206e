"""Thumbnails of images (Pillow): a JPEG at most :data:`THUMBNAIL_EDGE` pixels on its longest edge,
stored beside the original with the suffix ``.thumb.jpg``, and the image's own dimensions.

Pillow decodes only what the media allow-list admits (JPEG, PNG, GIF, WebP): ``Image.open`` is
given ``formats`` so no other decoder (PSD, EPS, ...) ever runs on a customer's bytes, and images over
:data:`MAX_PIXELS` are refused (decompression bombs). Video posters need a video decoder, which no
well-kept pure-Python library provides here: videos get no poster (the dashboard shows a player).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

THUMBNAIL_EDGE = 320
MAX_PIXELS = 50_000_000
IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}


@dataclass(frozen=True, slots=True)
class Thumbnail:
    """A made thumbnail (JPEG bytes) and the original's dimensions."""

    data: bytes
    width: int
    height: int


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
    """A thumbnail of an image on the allow-list; None for other types or bytes Pillow refuses."""
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
