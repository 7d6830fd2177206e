"""Video poster frames (shared/media/thumbnails.py, PyAV): the first key frame of each allowed
container becomes a JPEG thumbnail with the video's size and duration, and anything broken,
hostile, too large, too slow or off the allow-list gives no poster rather than an error. Videos
are made here (tests/media/video.py), no binary is checked in. No emulator needed."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from shared.media import kinds, thumbnails
from tests.media.video import video


@pytest.mark.parametrize(
    ("container", "content_type"),
    [("mp4", "video/mp4"), ("mov", "video/quicktime"), ("3gp", "video/3gpp"), ("webm", "video/webm")],
)
def test_each_allowed_container_gets_a_poster_of_its_first_frame(container: str, content_type: str) -> None:
    data = video(container, 640, 360, frames=20, rate=10)
    assert kinds.sniff(data) == content_type
    poster = thumbnails.make(data, content_type)
    assert poster is not None
    assert (poster.width, poster.height) == (640, 360)
    assert poster.duration_seconds == pytest.approx(2.0, abs=0.2)
    with Image.open(io.BytesIO(poster.data)) as image:
        assert image.format == "JPEG" and image.size == (320, 180)  # 320 on the longest edge
        # The first frame's white band (top left), not a later frame.
        assert min(image.getpixel((20, 10))) > 200
        assert image.getpixel((300, 170))[0] > 150 and image.getpixel((300, 170))[1] < 100


def test_a_small_video_keeps_its_own_size() -> None:
    poster = thumbnails.poster(video("mp4", 160, 120), "video/mp4")
    assert poster is not None
    with Image.open(io.BytesIO(poster.data)) as image:
        assert image.size == (160, 120)


def test_broken_and_truncated_videos_have_no_poster() -> None:
    data = video("mp4")
    for broken in (
        b"",
        data[:12],
        data[:200],
        data[: len(data) // 2],
        b"\x00\x00\x00\x18ftypmp42" + b"\xff" * 4000,
    ):
        assert thumbnails.make(broken, "video/mp4") is None


def test_random_corruption_never_raises() -> None:
    rng = random.Random(16)
    for container, content_type in (("mp4", "video/mp4"), ("webm", "video/webm")):
        data = video(container, frames=5)
        for _ in range(150):
            mutated = bytearray(data)
            for _ in range(rng.randint(1, 80)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            poster = thumbnails.make(bytes(mutated), content_type)  # a poster or None, never an error
            assert poster is None or poster.data.startswith(b"\xff\xd8")


def test_only_the_demuxer_of_the_sniffed_type_opens_the_bytes() -> None:
    webm = video("webm")
    assert thumbnails.make(webm, "video/mp4") is None  # WebM bytes are not opened as MP4
    assert thumbnails.make(video("mp4"), "video/x-matroska") is None  # not on the allow-list
    assert not thumbnails.can_make("video/ogg") and thumbnails.can_make("video/webm")


def test_a_codec_off_the_list_gets_no_poster() -> None:
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format="mov") as output:
        stream = output.add_stream("mjpeg", rate=5)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        for packet in stream.encode(av.VideoFrame.from_image(Image.new("RGB", (64, 48)))):
            output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    assert thumbnails.poster(out.getvalue(), "video/quicktime") is None


def test_frames_over_the_pixel_cap_are_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    data = video("mp4", 320, 240)
    monkeypatch.setattr(thumbnails, "MAX_VIDEO_PIXELS", 320 * 240 - 1)
    assert thumbnails.poster(data, "video/mp4") is None


def test_the_time_budget_and_packet_cap_bound_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    data = video("mp4")
    assert thumbnails.poster(data, "video/mp4", seconds=0.0) is None
    monkeypatch.setattr(thumbnails, "MAX_POSTER_PACKETS", 0)
    assert thumbnails.poster(data, "video/mp4") is None
