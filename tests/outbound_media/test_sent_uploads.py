"""What sending does with an upload, on the emulators: the message keeps its own copy of the file
(``tenants/...``, outside ``uploads/``), with a poster frame for a video (and a thumbnail for an
image) as inbound media have; and uploads never sent expire (shared/media/uploads.py ``sweep``, the
storage emulator's stand-in for the bucket's lifecycle rule, and ``shared.cli media sweep-uploads``):
an old unsent upload is deleted, a fresh one and a sent file are kept."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from typing import Any

import pytest
import requests
from PIL import Image

from infra.local import demo
from infra.local.stack import LocalStack
from shared.media import storage, uploads
from tests.chat.client import App, create_app
from tests.media.video import video
from tests.outbound_media.support import (
    open_conversation,
    png,
    send,
    uid_of,
    unique_contact,
    upload,
    wait_sent,
)
from tests.support import agent_token, eventually

pytestmark = pytest.mark.integration

TENANT = demo.DEMO_TENANT


@pytest.fixture
def token(clean_stack: LocalStack) -> str:
    clean_stack.sandbox.clear()
    return agent_token(clean_stack, TENANT, "sender@demo.test", name="Sam")


def _created(path: str) -> dt.datetime:
    info = storage.stat(path)
    assert info is not None and info.updated is not None
    return info.updated.astimezone(dt.UTC)


def test_an_agents_video_is_sent_from_the_messages_own_copy_with_a_poster(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = open_conversation(clean_stack, "telegram", "5552" + unique_contact("")[-5:])
    clip = video("mp4", 400, 300, frames=20, rate=10)
    attachment = upload(TENANT, uid_of(token), clip, "unboxing.mp4", "video/mp4")
    response = send(clean_stack, token, conversation_id, {"type": "video", "attachments": [attachment]})
    assert response.status_code == 200, response.text
    message_id = response.json()["messageId"]
    data = wait_sent(conversation_id, message_id)

    [entry] = data["content"]["media"]
    assert entry["path"] == f"tenants/{TENANT}/conversations/{conversation_id}/{message_id}/0-unboxing.mp4"
    assert storage.read(entry["path"]) == clip
    assert (entry["width"], entry["height"]) == (400, 300)
    assert entry["durationSeconds"] == pytest.approx(2.0, abs=0.2)
    with Image.open(io.BytesIO(storage.read(entry["thumbnailPath"]))) as poster:
        assert poster.format == "JPEG" and poster.size == (320, 240)
    uploaded = clean_stack.sandbox._api_for("telegram").uploads.all()[-1]
    assert (uploaded.method, uploaded.data) == ("sendvideo", clip)

    # The dashboard asks for the poster as it asks for an image's thumbnail.
    answer = requests.post(
        clean_stack.function_urls["agent_api"],
        headers={"Authorization": f"Bearer {token}"},
        json={
            "action": "mediaUrl",
            "conversationId": conversation_id,
            "messageId": message_id,
            "variant": "thumbnail",
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    fetched = requests.get(answer.json()["url"], timeout=30)
    assert fetched.status_code == 200 and fetched.content.startswith(b"\xff\xd8")


def test_a_chat_video_post_gets_a_poster_members_can_fetch(clean_stack: LocalStack) -> None:
    app: App = create_app(clean_stack, "Video Posts App")
    app.user("alice")
    channel = app.ok("createSub", {"name": "Clips"}, user="alice")
    clip = video("webm", 320, 240)
    attachment = upload(app.app_id, "alice", clip, "clip.webm", "video/webm")
    response = app.call(
        "createPost",
        {
            "channelId": channel["id"],
            "clientPostId": uuid.uuid4().hex,
            "type": "file",
            "attachment": attachment,
        },
        user="alice",
    )
    assert response.status_code == 200, response.text
    post = response.json()
    [media] = post["information"]["media"]
    assert media["contentType"] == "video/webm" and media["hasThumbnail"] is True
    ask = {"channelId": channel["id"], "postId": post["id"], "index": 0, "variant": "thumbnail"}
    signed = app.ok("mediaUrl", ask, user="alice")
    assert requests.get(signed["url"], timeout=30).content.startswith(b"\xff\xd8")
    original = app.ok("mediaUrl", {**ask, "variant": "original"}, user="alice")
    assert requests.get(original["url"], timeout=30).content == clip
    # The post's file is its own copy, outside uploads/: the upload may expire.
    storage.delete(attachment["path"])
    assert (
        requests.get(
            app.ok("mediaUrl", {**ask, "variant": "original"}, user="alice")["url"], timeout=30
        ).content
        == clip
    )


def _sent_upload(stack: LocalStack, token: str) -> tuple[dict[str, Any], str]:
    """An upload an agent sent: (the attachment, the sent message's file path)."""
    conversation_id = open_conversation(stack, "whatsapp", unique_contact())
    image = png()
    attachment = upload(TENANT, uid_of(token), image, "sent.png", "image/png")
    response = send(stack, token, conversation_id, {"type": "image", "attachments": [attachment]})
    assert response.status_code == 200, response.text
    data = wait_sent(conversation_id, response.json()["messageId"])
    return attachment, data["content"]["media"][0]["path"]


def test_the_sweep_deletes_old_unsent_uploads_and_keeps_fresh_and_sent_files(
    clean_stack: LocalStack, token: str
) -> None:
    uid = uid_of(token)
    sent, sent_file = _sent_upload(clean_stack, token)
    old = upload(TENANT, uid, png(), "never sent.png", "image/png")
    old_at = _created(old["path"])
    # The next upload is created strictly later than the old one (storage's clock, not a sleep).
    eventually(lambda: dt.datetime.now(dt.UTC) > old_at + dt.timedelta(milliseconds=20), what="time to pass")
    fresh = upload(TENANT, uid, png(), "just uploaded.png", "image/png")
    fresh_at = _created(fresh["path"])
    assert fresh_at > old_at
    cutoff = old_at + (fresh_at - old_at) / 2

    # "Now" is one day after the cutoff: the old upload is over a day old, the fresh one is not.
    swept = uploads.sweep(dt.timedelta(days=1), now=cutoff + dt.timedelta(days=1))
    assert swept.deleted >= 2 and swept.kept >= 1  # the old one and the sent one's original
    assert storage.stat(old["path"]) is None
    assert storage.stat(fresh["path"]) is not None
    # The sent message never pointed at its upload: its own copy stays, whatever the sweep did.
    assert storage.stat(sent["path"]) is None
    assert storage.stat(sent_file) is not None
    assert storage.stat(storage.thumbnail_path(sent_file)) is not None


def test_the_cli_sweeps_uploads_older_than_asked(
    clean_stack: LocalStack, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from shared import cli

    sent, sent_file = _sent_upload(clean_stack, token)
    unsent = upload(TENANT, uid_of(token), png(), "draft.png", "image/png")

    assert cli.main(["media", "sweep-uploads", "--older-than", "1d", "--dry-run"]) == 0
    dry = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert dry["dryRun"] is True and dry["deleted"] == 0 and dry["kept"] >= 2
    assert storage.stat(unsent["path"]) is not None

    eventually(
        lambda: dt.datetime.now(dt.UTC) > _created(unsent["path"]) + dt.timedelta(milliseconds=20),
        what="time to pass",
    )
    assert cli.main(["media", "sweep-uploads", "--older-than", "0s"]) == 0
    done = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert done["deleted"] >= 2
    assert storage.stat(unsent["path"]) is None and storage.stat(sent["path"]) is None
    assert storage.stat(sent_file) is not None
