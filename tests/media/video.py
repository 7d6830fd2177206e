"""Small real videos made in the test (PyAV encodes them), so no binary fixture is checked in."""

from __future__ import annotations

import io

# container -> (PyAV muxer, codec): what phones and the providers send.
FORMATS = {
    "mp4": ("mp4", "libx264"),
    "mov": ("mov", "libx264"),
    "3gp": ("3gp", "mpeg4"),
    "webm": ("webm", "libvpx"),
}


def video(
    container: str = "mp4",
    width: int = 320,
    height: int = 240,
    frames: int = 10,
    rate: int = 10,
    color: tuple[int, int, int] = (200, 30, 60),
) -> bytes:
    """``frames`` frames of a solid ``color`` (a lighter band on the first, so a poster is not blank)
    at ``rate`` frames per second, encoded as ``container``."""
    import av
    from PIL import Image, ImageDraw

    muxer, codec = FORMATS[container]
    out = io.BytesIO()
    with av.open(out, mode="w", format=muxer) as output:
        stream = output.add_stream(codec, rate=rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            image = Image.new("RGB", (width, height), color)
            if index == 0:
                ImageDraw.Draw(image).rectangle((0, 0, width // 2, height // 4), fill=(250, 250, 250))
            for packet in stream.encode(av.VideoFrame.from_image(image)):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return out.getvalue()
