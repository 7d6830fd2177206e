"""Inbound media, per channel, on the emulators: a real provider payload with media ends with the
object in the Cloud Storage emulator and the message's ``content.media[]`` pointing at it (sniffed
type, size, name, dimensions, thumbnail); a file the provider no longer has ends *failed* with the
reason, fetched once, not retried forever; the message itself lands first and is never lost."""

from __future__ import annotations

import io
from typing import Any

import pytest

from infra.local import demo
from infra.local.stack import LocalStack
from shared import ids, store
from shared.media import storage
from tests.media import helpers
from tests.support import eventually, post_signed

pytestmark = pytest.mark.integration


def media_of(
    channel_id: str, contact: str, provider_id: str, state: str | None = "stored"
) -> list[dict[str, Any]]:
    conversation_id = ids.conversation_id(channel_id, contact)
    message_id = ids.message_id(channel_id, provider_id)

    def probe() -> list[dict[str, Any]] | None:
        found = store.get_message(demo.DEMO_TENANT, conversation_id, message_id)
        entries = store.media_entries(found.data if found else None)
        if entries and (state is None or all(e.get("state") == state for e in entries)):
            return entries
        return None

    return eventually(probe, timeout=30, what=f"media {state} on {provider_id}")


def assert_stored_image(entry: dict[str, Any], data: bytes, content_type: str, size: tuple[int, int]) -> None:
    assert entry["state"] == "stored"
    assert entry["contentType"] == content_type
    assert entry["size"] == len(data)
    assert (entry["width"], entry["height"]) == size
    assert entry["path"].startswith(f"tenants/{demo.DEMO_TENANT}/conversations/")
    assert storage.read(entry["path"]) == data
    info = storage.stat(entry["thumbnailPath"])
    assert info is not None and info.content_type == "image/jpeg" and info.size > 0


def test_a_whatsapp_image_is_copied_through_the_media_endpoint(clean_stack: LocalStack) -> None:
    data = helpers.jpeg(800, 600)
    ref = clean_stack.sandbox.media.add(
        "whatsapp", helpers.CHANNEL["whatsapp"].external_id, data, "image/png"
    )
    body, sender, wamid = helpers.whatsapp_image(ref["media_id"])
    assert post_signed(clean_stack, "whatsapp", body).status_code == 200
    [entry] = media_of("whatsapp-main", sender, wamid)
    # The provider said image/png (and the fixture image/jpeg): the bytes decide.
    assert_stored_image(entry, data, "image/jpeg", (800, 600))
    assert entry["providerRef"]["mediaId"] == ref["media_id"]


@pytest.mark.parametrize("kind", ["messenger", "instagram"])
def test_a_meta_attachment_url_is_fetched_at_once(clean_stack: LocalStack, kind: str) -> None:
    data = helpers.png(300, 200)
    ref = clean_stack.sandbox.media.add(
        kind, helpers.CHANNEL[kind].external_id, data, "image/png", file_name="foo.png"
    )
    body, sender, mid = helpers.meta_attachment(kind, ref["url"])
    assert post_signed(clean_stack, kind, body).status_code == 200
    [entry] = media_of(helpers.CHANNEL[kind].channel_id, sender, mid)
    assert_stored_image(entry, data, "image/png", (300, 200))


def test_a_telegram_photo_is_copied_through_getfile(clean_stack: LocalStack) -> None:
    data = helpers.jpeg(720, 1280)
    ref = clean_stack.sandbox.media.add(
        "telegram", helpers.CHANNEL["telegram"].external_id, data, "image/jpeg"
    )
    body, chat, _update_id = helpers.telegram_photo(ref["file_id"])
    assert post_signed(clean_stack, "telegram", body).status_code == 200
    channel = helpers.CHANNEL["telegram"]
    conversation_id = ids.conversation_id(channel.channel_id, chat)
    conversation = eventually(
        lambda: store.get_conversation(demo.DEMO_TENANT, conversation_id), what="conversation"
    )
    message_id = conversation["lastMessage"]["id"]
    found = eventually(
        lambda: (
            (m := store.get_message(demo.DEMO_TENANT, conversation_id, message_id))
            and store.media_entries(m.data)[0].get("state") == "stored"
            and m
        ),
        what="telegram media stored",
    )
    [entry] = store.media_entries(found.data)
    assert_stored_image(entry, data, "image/jpeg", (720, 1280))
    assert found.data["content"]["text"] == "Photo Caption"


def test_every_twilio_media_url_of_an_mms_is_copied_with_the_account_credentials(
    clean_stack: LocalStack,
) -> None:
    sid = demo.TWILIO_SID
    image, pdf = (
        helpers.jpeg(100, 50),
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n",
    )
    first = clean_stack.sandbox.media.add("twilio", sid, image, "image/jpeg", file_name="cat.jpg")
    second = clean_stack.sandbox.media.add("twilio", sid, pdf, "application/pdf", file_name="invoice.pdf")
    body, sender, message_sid = helpers.twilio_mms(
        [first["url"], second["url"]], ["image/jpeg", "application/pdf"]
    )
    assert post_signed(clean_stack, "twilio", body).status_code == 200
    photo, document = media_of("twilio-sms", sender, message_sid)
    assert_stored_image(photo, image, "image/jpeg", (100, 50))
    assert document["contentType"] == "application/pdf" and document["fileName"] == "invoice.pdf"
    assert "thumbnailPath" not in document
    assert storage.read(document["path"]) == pdf
    assert storage.stat(document["path"]).content_disposition.startswith("attachment")


def test_an_mms_with_ten_media_stores_all_ten_in_order(clean_stack: LocalStack) -> None:
    # Twilio's maximum (NumMedia up to 10): ten fetches of one message run at once and each entry
    # is replaced under its own precondition, none lost.
    sid = demo.TWILIO_SID
    images = [helpers.jpeg(40 + index, 30) for index in range(10)]
    refs = [
        clean_stack.sandbox.media.add("twilio", sid, data, "image/jpeg", file_name=f"p{index}.jpg")
        for index, data in enumerate(images)
    ]
    body, sender, message_sid = helpers.twilio_mms([r["url"] for r in refs], ["image/jpeg"] * 10)
    assert body["NumMedia"] == "10"
    assert post_signed(clean_stack, "twilio", body).status_code == 200
    entries = media_of("twilio-sms", sender, message_sid)
    assert len(entries) == 10
    for index, (entry, data) in enumerate(zip(entries, images, strict=True)):
        assert_stored_image(entry, data, "image/jpeg", (40 + index, 30))
        assert entry["fileName"] == f"p{index}.jpg"


def test_an_inbound_video_gets_a_poster_frame_and_a_broken_one_is_kept_without(
    clean_stack: LocalStack,
) -> None:
    from PIL import Image

    from tests.media.video import video

    sid = demo.TWILIO_SID
    clip = video("mp4", 480, 270, frames=15, rate=10)
    broken = clip[: len(clip) // 3]  # an MP4 cut short: sniffed as a video, undecodable
    good_ref = clean_stack.sandbox.media.add("twilio", sid, clip, "video/mp4", file_name="clip.mp4")
    bad_ref = clean_stack.sandbox.media.add("twilio", sid, broken, "video/mp4", file_name="cut.mp4")
    body, sender, message_sid = helpers.twilio_mms([good_ref["url"], bad_ref["url"]], ["video/mp4"] * 2)
    assert post_signed(clean_stack, "twilio", body).status_code == 200
    good, bad = media_of("twilio-sms", sender, message_sid)

    assert good["contentType"] == "video/mp4" and good["kind"] == "video"
    assert (good["width"], good["height"]) == (480, 270)
    assert good["durationSeconds"] == pytest.approx(1.5, abs=0.2)
    assert good["thumbnailPath"] == storage.thumbnail_path(good["path"])
    with Image.open(io.BytesIO(storage.read(good["thumbnailPath"]))) as poster:
        assert poster.format == "JPEG" and poster.size == (320, 180)
    assert storage.read(good["path"]) == clip

    assert bad["state"] == "stored" and "thumbnailPath" not in bad  # no poster, the file is kept
    assert storage.read(bad["path"]) == broken


def test_media_the_provider_no_longer_has_is_marked_failed_once_and_the_message_is_kept(
    clean_stack: LocalStack,
) -> None:
    account = helpers.CHANNEL["whatsapp"].external_id
    ref = clean_stack.sandbox.media.add("whatsapp", account, helpers.jpeg(), "image/jpeg")
    clean_stack.sandbox.media.delete(ref["media_id"])
    body, sender, wamid = helpers.whatsapp_image(ref["media_id"])
    assert post_signed(clean_stack, "whatsapp", body).status_code == 200
    [entry] = media_of("whatsapp-main", sender, wamid, state="failed")
    assert "Meta error 100" in entry["reason"] or "no longer" in entry["reason"]
    assert "path" not in entry
    conversation = store.get_conversation(demo.DEMO_TENANT, ids.conversation_id("whatsapp-main", sender))
    assert conversation["lastMessage"]["text"] == "Check out my new phone!"
    assert clean_stack.sandbox.media.fetches(ref["media_id"]) == 1  # not retried


def test_an_expired_meta_attachment_url_is_marked_failed_with_the_reason(clean_stack: LocalStack) -> None:
    ref = clean_stack.sandbox.media.add(
        "messenger", helpers.CHANNEL["messenger"].external_id, helpers.png(), "image/png", ttl=-60
    )
    body, sender, mid = helpers.meta_attachment("messenger", ref["url"])
    assert post_signed(clean_stack, "messenger", body).status_code == 200
    [entry] = media_of("messenger-main", sender, mid, state="failed")
    assert "expired" in entry["reason"]


def test_no_message_is_lost_when_every_media_fetch_fails(clean_stack: LocalStack) -> None:
    account = helpers.CHANNEL["whatsapp"].external_id
    sent = []
    for _ in range(10):
        ref = clean_stack.sandbox.media.add("whatsapp", account, helpers.png(20, 20), "image/png")
        clean_stack.sandbox.media.delete(ref["media_id"])
        body, sender, wamid = helpers.whatsapp_image(ref["media_id"])
        assert post_signed(clean_stack, "whatsapp", body).status_code == 200
        sent.append((sender, wamid))
    for sender, wamid in sent:
        [entry] = media_of("whatsapp-main", sender, wamid, state="failed")
        assert entry["reason"]


def test_a_transient_provider_error_is_retried_until_the_file_is_stored(clean_stack: LocalStack) -> None:
    data = helpers.jpeg(64, 64)
    ref = clean_stack.sandbox.media.add(
        "whatsapp", helpers.CHANNEL["whatsapp"].external_id, data, "image/jpeg"
    )
    clean_stack.sandbox.fail_next("whatsapp", 2, http_status=503, times=2)  # Meta: temporarily unavailable
    body, sender, wamid = helpers.whatsapp_image(ref["media_id"])
    assert post_signed(clean_stack, "whatsapp", body).status_code == 200
    [entry] = media_of("whatsapp-main", sender, wamid)
    assert storage.read(entry["path"]) == data


def test_a_provider_that_keeps_failing_is_given_up_on_with_the_reason(clean_stack: LocalStack) -> None:
    from shared.media import fetch

    ref = clean_stack.sandbox.media.add(
        "whatsapp", helpers.CHANNEL["whatsapp"].external_id, helpers.jpeg(), "image/jpeg"
    )
    clean_stack.sandbox.fail_next("whatsapp", 2, http_status=503, times=fetch.MAX_ATTEMPTS + 5)
    body, sender, wamid = helpers.whatsapp_image(ref["media_id"])
    assert post_signed(clean_stack, "whatsapp", body).status_code == 200
    [entry] = media_of("whatsapp-main", sender, wamid, state="failed")
    assert f"after {fetch.MAX_ATTEMPTS} attempts" in entry["reason"]
    assert "temporarily unavailable" in entry["reason"]
    requests_made = [r for r in clean_stack.sandbox.requests("whatsapp") if ref["media_id"] in r.path]
    assert len(requests_made) == fetch.MAX_ATTEMPTS  # not retried forever
