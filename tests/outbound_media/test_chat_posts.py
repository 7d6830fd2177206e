"""Chat API image and file posts: upload first, then post the object's path; members see the post
with its file described (sniffed type, size, dimensions), and what is not the caller's own upload,
or not what the post type says, is refused before anything is written."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from infra.local.stack import LocalStack
from tests.chat.client import App, create_app
from tests.outbound_media.support import pdf, png, svg, upload

pytestmark = pytest.mark.integration


@pytest.fixture
def app(clean_stack: LocalStack) -> App:
    return create_app(clean_stack, "Media Posts App")


@pytest.fixture
def group(app: App) -> dict[str, Any]:
    app.user("alice")
    app.user("bob")
    channel = app.ok("createSub", {"name": "Photos"}, user="alice")
    app.add(channel["id"], "bob")
    return channel


def post(app: App, channel_id: str, body: dict[str, Any], user: str = "alice") -> Any:
    return app.call(
        "createPost", {"channelId": channel_id, "clientPostId": uuid.uuid4().hex, **body}, user=user
    )


def test_an_image_post_carries_its_sniffed_file_and_members_see_it(app: App, group: dict[str, Any]) -> None:
    image = png(120, 80)
    attachment = upload(app.app_id, "alice", image, "lid.png", "image/jpeg")  # the client is wrong
    response = post(app, group["id"], {"type": "image", "text": "The lid", "attachment": attachment})
    assert response.status_code == 200, response.text
    information = response.json()["information"]
    assert information["type"] == "image" and information["text"] == "The lid"
    assert information["media"] == [
        {
            "index": 0,
            "state": "stored",
            "contentType": "image/png",
            "size": len(image),
            "fileName": "lid.png",
            "width": 120,
            "height": 80,
            "hasThumbnail": True,
        }
    ]
    assert "path" not in information["media"][0]

    seen = app.ok("posts", {"channelId": group["id"]}, user="bob")["posts"][0]
    assert seen["information"]["media"][0]["contentType"] == "image/png"
    mine = app.ok("mysubs", {}, user="bob")["channels"]
    assert next(c for c in mine if c["id"] == group["id"])["lastMessage"]["text"] == "The lid"


def test_a_file_post_without_caption_shows_its_name_in_the_channel_list(
    app: App, group: dict[str, Any]
) -> None:
    attachment = upload(app.app_id, "alice", pdf(), "Invoice 12.pdf", "application/pdf")
    response = post(app, group["id"], {"type": "file", "attachment": attachment})
    assert response.status_code == 200, response.text
    assert response.json()["information"]["media"][0]["fileName"] == "Invoice 12.pdf"
    mine = app.ok("mysubs", {}, user="bob")["channels"]
    last = next(c for c in mine if c["id"] == group["id"])["lastMessage"]
    assert last["type"] == "file" and "Invoice 12.pdf" in (last.get("text") or "")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"type": "image", "text": "x"}, "invalid_request"),  # no attachment
        ({"type": "text"}, "invalid_request"),  # no text
    ],
)
def test_malformed_media_posts_are_invalid_requests(
    app: App, group: dict[str, Any], body: dict[str, Any], code: str
) -> None:
    response = post(app, group["id"], body)
    assert response.status_code == 400 and response.json()["error"]["code"] == code


def test_attachments_that_are_not_the_callers_own_fitting_upload_are_refused(
    app: App, group: dict[str, Any], clean_stack: LocalStack
) -> None:
    bobs = upload(app.app_id, "bob", png(), "b.png", "image/png")
    response = post(app, group["id"], {"type": "image", "attachment": bobs})
    assert response.status_code == 404 and response.json()["error"]["code"] == "attachment_not_yours"

    document = upload(app.app_id, "alice", pdf(), "a.pdf", "image/png")
    response = post(app, group["id"], {"type": "image", "attachment": document})
    assert response.status_code == 400 and response.json()["error"]["code"] == "attachment_not_an_image"

    script = upload(app.app_id, "alice", svg(), "cat.svg", "image/svg+xml")
    response = post(app, group["id"], {"type": "file", "attachment": script})
    assert response.status_code == 400 and response.json()["error"]["code"] == "attachment_type_not_allowed"

    from shared.media import storage

    never = storage.upload_path(app.app_id, "alice", "never.png")
    response = post(app, group["id"], {"type": "image", "attachment": {"path": never}})
    assert response.status_code == 404 and response.json()["error"]["code"] == "attachment_missing"

    assert app.ok("posts", {"channelId": group["id"]}, user="bob")["posts"] == []


def test_openapi_describes_image_and_file_posts() -> None:
    from shared.chat import openapi

    document = openapi.document()
    schemas = document["components"]["schemas"]
    assert schemas["CreatePostRequest"]["properties"]["type"]["enum"] == ["text", "image", "file"]
    assert "attachment" in schemas["CreatePostRequest"]["properties"]
    assert set(schemas["PostAttachment"]["properties"]) == {"path", "fileName", "contentType", "size"}
    assert "media" in schemas["PostInformation"]["properties"]
