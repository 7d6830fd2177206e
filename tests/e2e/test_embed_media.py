"""Image and file posts in the embeddable chat, on a developer's own site in Chromium: a user attaches
a photo with the widget's paperclip (uploaded straight to storage, then posted as an image post),
another member's file post shows as a named download with its size, and pictures load from storage
through chat_api mediaUrl. The developer's origin is allowed by the bucket's CORS, as an operator
sets it (Terraform ``media_cors_origins``; locally the storage gateway's origins)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.chat.client import App
from tests.e2e.embed_support import ThirdPartySite
from tests.e2e.test_embed import ALICE, BOB, Club, custom_token, group, mount, open_channel, settled, widget

pytestmark = pytest.mark.integration


def photo(width: int = 480, height: int = 320) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 160, 90)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def book_club(chat_app: App) -> Club:
    alice, bob = custom_token(chat_app, *ALICE), custom_token(chat_app, *BOB)
    return Club(alice, bob, group(chat_app, "Book club", "alice", "bob"))


@pytest.fixture
def site_allowed_by_cors(clean_stack: Any, third_party_site: ThirdPartySite) -> Iterator[None]:
    parts = urlsplit(third_party_site.url)
    origin = f"{parts.scheme}://{parts.netloc}"
    origins = clean_stack.storage_gateway.cors_origins
    origins.append(origin)
    yield
    origins.remove(origin)


def test_a_user_posts_a_photo_from_the_widget_and_sees_a_members_file(
    chat_app: App, open_site: Any, book_club: Club, site_allowed_by_cors: None
) -> None:
    from shared.media import storage

    page = open_site()
    mount(page, "chat-a", book_club.alice, chat_app.app_id)
    chat = widget(page)
    open_channel(chat, book_club.channel_id)

    # Alice attaches a photo with a caption typed first.
    chat.get_by_test_id("sb-composer").fill("Our next book's cover")
    image = photo()
    chat.get_by_test_id("sb-attach-input").set_input_files(
        {"name": "cover.png", "mimeType": "image/png", "buffer": image}
    )
    mine = chat.locator('[data-testid="sb-post"]:not([data-pending])').filter(
        has_text="Our next book's cover"
    )
    picture = mine.get_by_test_id("sb-media-image").locator("img")
    expect(picture).to_be_visible(timeout=30_000)
    # The post's thumbnail (made when it was posted), not the 480 px original.
    page.wait_for_function("img => img.complete && img.naturalWidth === 320", arg=picture.element_handle())

    posts = chat_app.ok("posts", {"channelId": book_club.channel_id}, user=BOB[0])["posts"]
    assert posts[0]["information"]["type"] == "image"
    assert posts[0]["information"]["text"] == "Our next book's cover"
    assert posts[0]["information"]["media"][0]["contentType"] == "image/png"
    assert posts[0]["information"]["media"][0]["fileName"] == "cover.png"

    # Bob posts a file (through the API, as his app would): Alice sees its name and size, live.
    data = b"%PDF-1.4\n" + b"%" * 2000 + b"\n%%EOF\n"
    path = storage.upload_path(chat_app.app_id, BOB[0], "reading list.pdf")
    storage.put(path, data, "application/pdf", file_name="reading list.pdf")
    chat_app.ok(
        "createPost",
        {
            "channelId": book_club.channel_id,
            "clientPostId": f"t-{uuid.uuid4().hex[:12]}",
            "type": "file",
            "attachment": {
                "path": path,
                "fileName": "reading list.pdf",
                "contentType": "application/pdf",
                "size": len(data),
            },
        },
        user=BOB[0],
    )
    settled(chat.get_by_test_id("sb-posts"))
    file_button = chat.get_by_test_id("sb-media-file")
    expect(file_button).to_contain_text("reading list.pdf")
    expect(file_button).to_contain_text("2 KB")


def test_a_members_video_shows_its_poster_with_a_play_button_and_plays_on_click(
    chat_app: App, open_site: Any, book_club: Club, site_allowed_by_cors: None
) -> None:
    from shared.media import storage
    from tests.media.video import video

    page = open_site()
    mount(page, "chat-a", book_club.alice, chat_app.app_id)
    chat = widget(page)
    open_channel(chat, book_club.channel_id)

    clip = video("webm", 320, 240)
    path = storage.upload_path(chat_app.app_id, BOB[0], "trailer.webm")
    storage.put(path, clip, "video/webm", file_name="trailer.webm")
    chat_app.ok(
        "createPost",
        {
            "channelId": book_club.channel_id,
            "clientPostId": f"t-{uuid.uuid4().hex[:12]}",
            "type": "file",
            "attachment": {
                "path": path,
                "fileName": "trailer.webm",
                "contentType": "video/webm",
                "size": len(clip),
            },
        },
        user=BOB[0],
    )
    settled(chat.get_by_test_id("sb-posts"))
    poster = chat.get_by_test_id("sb-media-poster")
    image = poster.locator("img")
    expect(image).to_be_visible(timeout=30_000)
    page.wait_for_function("img => img.complete && img.naturalWidth === 320", arg=image.element_handle())
    expect(chat.locator("video")).to_have_count(0)  # not loaded until played

    poster.click()
    expect(chat.get_by_test_id("sb-media-video")).to_be_visible()
    expect(chat.get_by_test_id("sb-media-poster")).to_have_count(0)
