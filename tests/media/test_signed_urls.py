"""Nobody reads or writes the media bucket directly: a function checks the caller and hands out a
short-lived V4 signed URL for one object. On the emulators (the local gateway checks signatures and
expiry in front of the Cloud Storage emulator, as Cloud Storage does):

- an agent of the tenant gets a working URL for a stored file and its thumbnail; another tenant's
  agent, and an anonymous caller, are refused;
- a chat channel's member uploads through a signed resumable upload, posts it and gets a URL for
  it; a non-member and an anonymous caller are refused both;
- an expired URL, a forged one and an unsigned request stop at the gateway;
- an upload is refused over the signed size, or for a type off the allow-list.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from infra.local import demo
from infra.local.stack import LocalStack
from shared import ids, store
from shared.media import storage
from tests.chat.client import App, create_app
from tests.media import helpers
from tests.support import agent_token, eventually, post_signed

pytestmark = pytest.mark.integration


def agent_api(stack: LocalStack, token: str | None, body: dict[str, Any]) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(stack.function_urls["agent_api"], json=body, headers=headers, timeout=30)


def stored_whatsapp_image(stack: LocalStack) -> tuple[str, str, bytes]:
    data = helpers.jpeg(640, 480)
    ref = stack.sandbox.media.add("whatsapp", helpers.CHANNEL["whatsapp"].external_id, data, "image/jpeg")
    body, sender, wamid = helpers.whatsapp_image(ref["media_id"])
    assert post_signed(stack, "whatsapp", body).status_code == 200
    conversation_id = ids.conversation_id("whatsapp-main", sender)
    message_id = ids.message_id("whatsapp-main", wamid)
    eventually(
        lambda: (
            (m := store.get_message(demo.DEMO_TENANT, conversation_id, message_id))
            and store.media_entries(m.data)[0].get("state") == "stored"
        ),
        what="the image stored",
    )
    return conversation_id, message_id, data


def upload(answer: dict[str, Any], data: bytes, *, origin: str | None = None) -> requests.Response:
    """What the browser does with an uploadUrl answer: POST to start, PUT the file to Location."""
    headers = dict(answer["headers"])
    if origin:
        headers["Origin"] = origin
    started = requests.post(answer["url"], headers=headers, data=b"", timeout=30)
    assert started.status_code == 201, started.text
    put_headers = {"Origin": origin} if origin else {}
    return requests.put(started.headers["Location"], data=data, headers=put_headers, timeout=30)


def test_an_agent_gets_the_file_and_its_thumbnail_and_no_one_else_does(clean_stack: LocalStack) -> None:
    conversation_id, message_id, data = stored_whatsapp_image(clean_stack)
    request = {"action": "mediaUrl", "conversationId": conversation_id, "messageId": message_id, "index": 0}
    agent = agent_token(clean_stack, demo.DEMO_TENANT, "media-agent@demo.test")

    answer = agent_api(clean_stack, agent, request)
    assert answer.status_code == 200, answer.text
    fetched = requests.get(answer.json()["url"], timeout=30)
    assert fetched.status_code == 200 and fetched.content == data
    assert fetched.headers["Content-Type"] == "image/jpeg"
    assert fetched.headers["X-Content-Type-Options"] == "nosniff"
    thumbnail = agent_api(clean_stack, agent, {**request, "variant": "thumbnail"})
    assert thumbnail.status_code == 200
    small = requests.get(thumbnail.json()["url"], timeout=30)
    assert (
        small.status_code == 200 and small.content[:3] == b"\xff\xd8\xff" and len(small.content) < len(data)
    )

    other = agent_token(clean_stack, demo.OTHER_TENANT, "acme-agent@acme.test")
    refused = agent_api(clean_stack, other, request)
    assert refused.status_code == 404, refused.text
    assert "url" not in refused.text
    anonymous = agent_api(clean_stack, None, request)
    assert anonymous.status_code == 401


def test_an_expired_a_forged_and_an_unsigned_url_are_refused(clean_stack: LocalStack) -> None:
    conversation_id, message_id, _data = stored_whatsapp_image(clean_stack)
    entry = store.media_entries(store.get_message(demo.DEMO_TENANT, conversation_id, message_id).data)[0]
    path = entry["path"]

    short = storage.signed_download_url(path, 1, content_type="image/jpeg")
    assert requests.get(short, timeout=30).status_code == 200
    status, body = eventually(
        lambda: (r := requests.get(short, timeout=30)).status_code != 200 and (r.status_code, r.content),
        timeout=10,
        what="expiry",
    )
    assert status == 400 and b"ExpiredToken" in body

    valid = storage.signed_download_url(path, 60, content_type="image/jpeg")
    other_object = valid.replace(path.rsplit("/", 1)[-1], "1-other.jpg")
    assert requests.get(other_object, timeout=30).status_code == 403
    longer = valid.replace("X-Goog-Expires=60", "X-Goog-Expires=600")
    assert requests.get(longer, timeout=30).status_code == 403
    unsigned = valid.split("?", 1)[0]
    assert requests.get(unsigned, timeout=30).status_code == 403


def test_an_agent_uploads_through_a_signed_resumable_url_within_its_limits(clean_stack: LocalStack) -> None:
    conversation_id, _, _ = stored_whatsapp_image(clean_stack)
    agent = agent_token(clean_stack, demo.DEMO_TENANT, "uploader@demo.test")
    data = helpers.png(50, 50)
    ask = {"action": "uploadUrl", "conversationId": conversation_id, "fileName": "../../etc/passwd photo.png"}
    answer = agent_api(clean_stack, agent, {**ask, "contentType": "image/png", "size": len(data)})
    assert answer.status_code == 200, answer.text
    signed = answer.json()
    assert signed["path"].startswith(f"uploads/{demo.DEMO_TENANT}/") and ".." not in signed["path"]
    origin = f"http://127.0.0.1:{clean_stack.dashboard_port}"
    put = upload(signed, data, origin=origin)
    assert put.status_code in (200, 201), put.text
    assert put.headers.get("Access-Control-Allow-Origin") == origin
    assert storage.read(signed["path"]) == data

    # Bigger than it said: refused by the signed content-length range.
    again = agent_api(clean_stack, agent, {**ask, "contentType": "image/png", "size": 10}).json()
    assert upload(again, data).status_code == 400
    # Off the allow-list, too large, or someone else's conversation: refused before any URL.
    html = agent_api(clean_stack, agent, {**ask, "contentType": "text/html", "size": 10})
    svg = agent_api(clean_stack, agent, {**ask, "contentType": "image/svg+xml", "size": 10})
    assert html.status_code == 400 and svg.status_code == 400
    assert html.json()["error"]["code"] == "unsupported_media_type"
    huge = agent_api(clean_stack, agent, {**ask, "contentType": "image/png", "size": 200 * 1024 * 1024})
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "file_too_large"
    other = agent_token(clean_stack, demo.OTHER_TENANT, "acme-uploader@acme.test")
    assert agent_api(clean_stack, other, {**ask, "contentType": "image/png", "size": 10}).status_code == 404


@pytest.fixture
def app(clean_stack: LocalStack) -> App:
    return create_app(clean_stack, "Media Test App")


def test_a_member_uploads_posts_and_reads_a_file_and_a_non_member_cannot(app: App) -> None:
    alice, bob = app.user("alice"), app.user("bob")
    channel = app.ok("createSub", {"name": "Photos"}, id_token=alice)["id"]
    data = helpers.jpeg(300, 300)
    signed = app.ok(
        "uploadUrl",
        {"channelId": channel, "fileName": "cat.jpg", "contentType": "image/jpeg", "size": len(data)},
        id_token=alice,
    )
    assert signed["path"].startswith(f"uploads/{app.app_id}/alice/")
    assert upload(signed, data).status_code in (200, 201)
    post = app.ok(
        "createPost",
        {
            "channelId": channel,
            "type": "image",
            "attachment": {"path": signed["path"]},
            "clientPostId": "p-1",
        },
        id_token=alice,
    )
    post_id = post.get("id") or post.get("postId") or post["post"]["id"]
    ask = {"channelId": channel, "postId": post_id, "index": 0}
    url = app.ok("mediaUrl", ask, id_token=alice)["url"]
    assert requests.get(url, timeout=30).content == data

    # bob is no member: neither a URL for the post's file nor an upload into the channel.
    assert app.call("mediaUrl", ask, id_token=bob).status_code == 403
    upload_ask = {"channelId": channel, "fileName": "x.jpg", "contentType": "image/jpeg", "size": 10}
    assert app.call("uploadUrl", upload_ask, id_token=bob).status_code == 403
    # Nobody at all: no token.
    assert app.call("mediaUrl", ask, authorization="").status_code == 401
    # Another app's member cannot name this app's channel either.
    other = create_app(app.stack, "Another App")
    mallory = other.user("alice")  # the same user id, in another app
    assert other.call("mediaUrl", ask, id_token=mallory).status_code == 403
    _ = uuid
