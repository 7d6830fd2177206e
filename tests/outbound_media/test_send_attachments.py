"""An agent's uploaded file reaches each provider the way that provider takes it, on the emulators
and the provider sandbox: WhatsApp uploads to the number's media endpoint and sends the id,
Messenger/Instagram send an attachment by a signed URL, Telegram uploads multipart, Twilio gets
``MediaUrl``; and what a provider cannot take is refused before anything is queued."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
import requests

from infra.local import demo
from infra.local.stack import LocalStack
from shared import store
from tests.outbound_media.support import (
    ogg_opus,
    open_conversation,
    pdf,
    png,
    send,
    svg,
    uid_of,
    unique_contact,
    upload,
    wait_sent,
)
from tests.support import agent_token

pytestmark = pytest.mark.integration

TENANT = demo.DEMO_TENANT


@pytest.fixture
def token(clean_stack: LocalStack) -> str:
    clean_stack.sandbox.clear()
    return agent_token(clean_stack, TENANT, "media-agent@demo.test", name="Mia")


def _api(stack: LocalStack, channel: str) -> Any:
    return stack.sandbox._api_for(channel)


def test_a_whatsapp_photo_is_uploaded_to_the_media_endpoint_then_sent_by_its_id(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = open_conversation(clean_stack, "whatsapp", unique_contact())
    image = png()
    attachment = upload(TENANT, uid_of(token), image, "broken lid.png", "image/png")
    response = send(
        clean_stack,
        token,
        conversation_id,
        {"type": "image", "caption": "Like this?", "attachments": [attachment]},
    )
    assert response.status_code == 200, response.text
    message_id = response.json()["messageId"]
    data = wait_sent(conversation_id, message_id)

    # The message keeps its own copy (uploads/ expires), with a thumbnail like an inbound image.
    kept = f"tenants/{TENANT}/conversations/{conversation_id}/{message_id}/0-broken_lid.png"
    assert data["content"]["media"] == [
        {
            "state": "stored",
            "path": kept,
            "contentType": "image/png",
            "size": len(image),
            "fileName": "broken lid.png",
            "width": 64,
            "height": 48,
            "thumbnailPath": kept + ".thumb.jpg",
        }
    ]
    from shared.media import storage

    assert storage.read(kept) == image
    assert storage.stat(kept + ".thumb.jpg").content_type == "image/jpeg"
    uploads = [u for u in _api(clean_stack, "whatsapp").uploads.all() if u.data == image]
    assert len(uploads) == 1 and uploads[0].content_type == "image/png"
    sends = [r for r in clean_stack.sandbox.requests("whatsapp") if r.path.endswith("/messages")]
    assert sends[-1].json["type"] == "image"
    assert sends[-1].json["image"] == {"id": uploads[0].media_id, "caption": "Like this?"}
    assert sends[-1].status == 200


def test_a_messenger_file_goes_as_an_attachment_url_that_serves_the_file_for_a_short_time(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = open_conversation(clean_stack, "messenger", unique_contact("2701"))
    document = pdf()
    attachment = upload(TENANT, uid_of(token), document, "invoice 2026-12.pdf", "application/pdf")
    response = send(clean_stack, token, conversation_id, {"type": "document", "attachments": [attachment]})
    assert response.status_code == 200, response.text
    wait_sent(conversation_id, response.json()["messageId"])

    sent = [r for r in clean_stack.sandbox.requests("messenger") if r.path.endswith("/messages")][-1]
    payload = sent.json["message"]["attachment"]
    assert payload["type"] == "file"
    url = payload["payload"]["url"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert int(query["X-Goog-Expires"][0]) <= 15 * 60
    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200 and fetched.content == document
    assert "attachment" in fetched.headers.get("Content-Disposition", "")


def test_an_instagram_photo_goes_as_an_image_attachment_by_url(clean_stack: LocalStack, token: str) -> None:
    conversation_id = open_conversation(clean_stack, "instagram", unique_contact("3801"))
    attachment = upload(TENANT, uid_of(token), png(), "photo.png", "image/png")
    response = send(clean_stack, token, conversation_id, {"type": "image", "attachments": [attachment]})
    assert response.status_code == 200, response.text
    wait_sent(conversation_id, response.json()["messageId"])
    sent = [r for r in clean_stack.sandbox.requests("instagram") if r.path.endswith("/messages")][-1]
    assert sent.json["message"]["attachment"]["type"] == "image"
    assert requests.get(sent.json["message"]["attachment"]["payload"]["url"], timeout=10).status_code == 200


def test_a_telegram_voice_note_is_uploaded_multipart_with_sendvoice(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = open_conversation(clean_stack, "telegram", "5550" + unique_contact("")[-5:])
    voice = ogg_opus()
    attachment = upload(TENANT, uid_of(token), voice, "voice.ogg", "audio/ogg")
    response = send(
        clean_stack, token, conversation_id, {"type": "audio", "text": "Listen", "attachments": [attachment]}
    )
    assert response.status_code == 200, response.text
    wait_sent(conversation_id, response.json()["messageId"])

    calls = [r for r in clean_stack.sandbox.requests("telegram") if r.path.endswith("/sendVoice")]
    assert calls and calls[-1].headers["content-type"].startswith("multipart/form-data")
    assert calls[-1].status == 200
    uploaded = _api(clean_stack, "telegram").uploads.all()[-1]
    assert (uploaded.method, uploaded.field, uploaded.data) == ("sendvoice", "voice", voice)
    assert calls[-1].response["result"]["caption"] == "Listen"


def test_a_telegram_photo_is_uploaded_multipart_with_sendphoto(clean_stack: LocalStack, token: str) -> None:
    conversation_id = open_conversation(clean_stack, "telegram", "5551" + unique_contact("")[-5:])
    image = png()
    attachment = upload(TENANT, uid_of(token), image, "p.png", "image/png")
    response = send(clean_stack, token, conversation_id, {"type": "image", "attachments": [attachment]})
    assert response.status_code == 200, response.text
    wait_sent(conversation_id, response.json()["messageId"])
    uploaded = _api(clean_stack, "telegram").uploads.all()[-1]
    assert (uploaded.method, uploaded.field, uploaded.data) == ("sendphoto", "photo", image)


def test_twilio_gets_a_signed_media_url_and_the_caption_as_body(clean_stack: LocalStack, token: str) -> None:
    conversation_id = open_conversation(clean_stack, "twilio", unique_contact())
    image = png()
    attachment = upload(TENANT, uid_of(token), image, "lid.png", "image/png")
    response = send(
        clean_stack, token, conversation_id, {"type": "image", "caption": "See?", "attachments": [attachment]}
    )
    assert response.status_code == 200, response.text
    wait_sent(conversation_id, response.json()["messageId"])
    sent = [r for r in clean_stack.sandbox.requests("twilio") if r.path.endswith("/Messages.json")][-1]
    assert sent.form["Body"] == ["See?"]
    (media_url,) = sent.form["MediaUrl"]
    fetched = requests.get(media_url, timeout=10)
    assert fetched.status_code == 200 and fetched.content == image
    assert fetched.headers["Content-Type"].startswith("image/png")


def test_several_files_go_to_twilio_as_one_message_with_a_media_url_each(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = open_conversation(clean_stack, "twilio", unique_contact())
    files = [(png(20 + index, 10), f"part {index}.png", "image/png") for index in range(9)]
    files.append((pdf(), "invoice.pdf", "application/pdf"))
    attachments = [upload(TENANT, uid_of(token), *file) for file in files]
    before = len([r for r in clean_stack.sandbox.requests("twilio") if r.path.endswith("/Messages.json")])
    response = send(
        clean_stack,
        token,
        conversation_id,
        {"type": "image", "caption": "All ten", "attachments": attachments},
    )
    assert response.status_code == 200, response.text
    data = wait_sent(conversation_id, response.json()["messageId"])
    assert [entry["fileName"] for entry in data["content"]["media"]] == [name for _, name, _ in files]

    sends = [r for r in clean_stack.sandbox.requests("twilio") if r.path.endswith("/Messages.json")]
    assert len(sends) == before + 1  # one Twilio message, not one per file
    sent = sends[-1]
    assert sent.status == 201 and sent.response["num_media"] == "10"
    assert sent.form["Body"] == ["All ten"]
    assert len(sent.form["MediaUrl"]) == 10
    for media_url, (content, _, _) in zip(sent.form["MediaUrl"], files, strict=True):
        fetched = requests.get(media_url, timeout=10)
        assert fetched.status_code == 200 and fetched.content == content


# --- refused before queueing -------------------------------------------------------------------------


def _nothing_queued(conversation_id: str) -> None:
    conversation = store.get_conversation(TENANT, conversation_id) or {}
    assert (conversation.get("lastMessage") or {}).get("direction") != "out"


def test_an_image_over_whatsapps_5_mb_is_refused_before_queueing_with_a_clear_message(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = open_conversation(clean_stack, "whatsapp", unique_contact())
    big = png(padding=6 * 1024 * 1024)
    attachment = upload(TENANT, uid_of(token), big, "huge.png", "image/png")
    response = send(clean_stack, token, conversation_id, {"type": "image", "attachments": [attachment]})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "attachment_too_large"
    assert "WhatsApp takes images up to 5 MB" in error["message"]
    _nothing_queued(conversation_id)
    assert not [r for r in clean_stack.sandbox.requests("whatsapp") if "/media" in r.path]


def test_a_type_the_provider_cannot_take_is_refused_naming_what_it_takes(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = open_conversation(clean_stack, "instagram", unique_contact("3802"))
    attachment = upload(TENANT, uid_of(token), ogg_opus(), "note.ogg", "audio/ogg")
    response = send(clean_stack, token, conversation_id, {"type": "audio", "attachments": [attachment]})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "attachment_type_not_supported"
    assert "Instagram does not take audio/ogg" in response.json()["error"]["message"]


def test_svg_and_html_are_never_sent_whatever_the_uploader_declared(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = open_conversation(clean_stack, "messenger", unique_contact("2702"))
    attachment = upload(TENANT, uid_of(token), svg(), "cat.png", "image/png")
    response = send(clean_stack, token, conversation_id, {"type": "image", "attachments": [attachment]})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "attachment_type_not_allowed"


def test_a_file_someone_else_uploaded_cannot_be_sent(clean_stack: LocalStack, token: str) -> None:
    conversation_id = open_conversation(clean_stack, "whatsapp", unique_contact())
    theirs = upload(TENANT, "another-agent-uid", png(), "x.png", "image/png")
    other_tenant = upload(demo.OTHER_TENANT, uid_of(token), png(), "y.png", "image/png")
    for attachment in (theirs, other_tenant, {**theirs, "path": theirs["path"] + "/../x"}):
        response = send(clean_stack, token, conversation_id, {"type": "image", "attachments": [attachment]})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "attachment_not_yours"
    _nothing_queued(conversation_id)


def test_an_attachment_that_was_never_uploaded_is_refused(clean_stack: LocalStack, token: str) -> None:
    from shared.media import storage

    conversation_id = open_conversation(clean_stack, "whatsapp", unique_contact())
    path = storage.upload_path(TENANT, uid_of(token), "ghost.png")
    response = send(
        clean_stack,
        token,
        conversation_id,
        {"type": "image", "attachments": [{"path": path, "fileName": "ghost.png", "size": 10}]},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "attachment_missing"


def test_one_file_per_message_where_the_provider_takes_one(clean_stack: LocalStack, token: str) -> None:
    conversation_id = open_conversation(clean_stack, "whatsapp", unique_contact())
    first = upload(TENANT, uid_of(token), png(), "a.png", "image/png")
    second = upload(TENANT, uid_of(token), png(), "b.png", "image/png")
    response = send(clean_stack, token, conversation_id, {"type": "image", "attachments": [first, second]})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "too_many_attachments"


def test_more_than_ten_files_for_twilio_are_refused_before_queueing(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = open_conversation(clean_stack, "twilio", unique_contact())
    attachments = [upload(TENANT, uid_of(token), png(), f"{index}.png", "image/png") for index in range(11)]
    response = send(clean_stack, token, conversation_id, {"type": "image", "attachments": attachments})
    # send_message takes 10 attachments at most (Twilio's maximum, the largest any channel takes).
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["details"][0]["loc"] == ["message", "attachments"]
    _nothing_queued(conversation_id)


def test_twilio_files_over_5_mb_together_are_refused_before_queueing(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = open_conversation(clean_stack, "twilio", unique_contact())
    # Each under Twilio's 5 MB per file, 6 MB together: over its 5 MB per message.
    attachments = [
        upload(TENANT, uid_of(token), png(padding=2 * 1024 * 1024), f"{index}.png", "image/png")
        for index in range(3)
    ]
    response = send(clean_stack, token, conversation_id, {"type": "image", "attachments": attachments})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "attachments_too_large"
    assert "Twilio takes up to 5 MB of files in one message" in error["message"]
    _nothing_queued(conversation_id)
