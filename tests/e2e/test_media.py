"""Media in the dashboard, in Chromium: a customer's photo arrives and its thumbnail shows (click for
the full size); an agent attaches files (picker, drag and drop), watches them upload straight to
storage, sends them, and the provider sandbox receives each provider's own request; a file the
provider cannot take is refused in the composer with the reason."""

from __future__ import annotations

import io
import re
import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from infra.local import demo
from infra.local.stack import LocalStack
from shared import ids, store
from tests.e2e.conftest import DANA
from tests.support import eventually, post_signed, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
TG = next(c for c in demo.DEMO_CHANNELS if c.kind == "telegram")


def picture(width: int, height: int, fmt: str = "JPEG", padding: int = 0) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(out, fmt)
    data = out.getvalue()
    if padding and fmt == "PNG":
        import struct
        import zlib

        body = b"\0" * padding
        chunk = struct.pack(">I", len(body)) + b"zzPd" + body
        chunk += struct.pack(">I", zlib.crc32(b"zzPd" + body) & 0xFFFFFFFF)
        data = data[:-12] + chunk + data[-12:]
    return data


def whatsapp_customer(stack: LocalStack, wa_id: str, text: str) -> str:
    body = whatsapp_text_webhook(WA.external_id, wa_id, text, timestamp=int(time.time()))
    assert post_webhook(stack, "whatsapp", body).status_code == 200
    conversation_id = ids.conversation_id(WA.channel_id, wa_id)
    eventually(lambda: store.get_conversation(demo.DEMO_TENANT, conversation_id), what="the conversation")
    return conversation_id


def open_conversation(page: Page, conversation_id: str) -> None:
    page.locator(f'[data-testid="conversation-row"][data-conversation-id="{conversation_id}"]').click()
    expect(page.get_by_test_id("composer")).to_be_visible()


def media_entries(conversation_id: str) -> list[tuple[str, int, dict[str, Any]]]:
    """(message id, index, entry) of every file of the conversation, as Firestore holds them."""
    return [
        (message_id, i, entry)
        for page in store.conversation_messages(demo.DEMO_TENANT, conversation_id)
        for message_id, data in page
        for i, entry in enumerate(store.media_entries(data))
    ]


def media_held(conversation_id: str) -> list[str]:
    """The states Firestore holds for the conversation's files, for a failure message: a page still
    showing "downloading" over a stored file means the live update did not reach it, a pending file
    that the fetch never finished is the pipeline's."""
    return [
        f"{message_id}[{i}]: {entry.get('state')} {entry.get('reason') or ''}".strip()
        for message_id, i, entry in media_entries(conversation_id)
    ]


def stored_before_opening(conversation_id: str) -> None:
    """Wait until the conversation's files are stored before the test opens it. Tests whose subject
    is the stored file (the thumbnail, the poster) open it after the fetch: the Firestore emulator can
    lose a write that lands while a new listener is being set up (seen: the file stored 107 ms
    before the page's first snapshot, which still showed it pending, and no change after it). The
    live change from pending to stored is the subject of the still-downloading test, whose provider
    answers 4 s late, long after the listener is in place."""
    eventually(
        lambda: (
            (held := media_entries(conversation_id)) and all(e.get("state") == "stored" for _, _, e in held)
        ),
        what="the conversation's files stored",
        timeout=30,
    )


def expect_media(check: Any, conversation_id: str) -> None:
    """``check()`` (a Playwright expectation on a media item); on failure, say what Firestore holds."""
    try:
        check()
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nFirestore holds: {media_held(conversation_id)}") from exc


def attach(page: Page, name: str, mime: str, data: bytes) -> None:
    page.get_by_test_id("attach-input").set_input_files({"name": name, "mimeType": mime, "buffer": data})


def provider_calls(stack: LocalStack, channel: str, suffix: str) -> list[Any]:
    return [r for r in stack.sandbox.requests(channel) if r.path.endswith(suffix)]


def test_a_customers_photo_shows_as_a_thumbnail_and_opens_full_size(
    clean_stack: LocalStack, open_dashboard: Any
) -> None:
    from tests.media import helpers

    photo = picture(1200, 900)
    ref = clean_stack.sandbox.media.add("whatsapp", WA.external_id, photo, "image/jpeg")
    body, sender, _wamid = helpers.whatsapp_image(ref["media_id"])
    page = open_dashboard(DANA)
    assert post_signed(clean_stack, "whatsapp", body).status_code == 200
    conversation_id = ids.conversation_id(WA.channel_id, sender)
    stored_before_opening(conversation_id)
    open_conversation(page, conversation_id)

    bubble = page.locator('[data-testid="message"][data-type="image"]')
    thumbnail = bubble.get_by_test_id("media-thumbnail")
    expect_media(lambda: expect(thumbnail).to_be_visible(), conversation_id)
    # The picture really loaded (from storage, through a signed URL), and it is the small thumbnail.
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle(), timeout=15_000
    )
    natural = thumbnail.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert 0 < natural[0] < 1200, natural

    bubble.get_by_test_id("media-open").click()
    full = page.get_by_test_id("media-full")
    expect(full).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth === 1200", arg=full.element_handle())
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("media-viewer")).to_have_count(0)


def test_a_customers_video_shows_its_poster_with_a_play_button_and_plays_on_click(
    clean_stack: LocalStack, open_dashboard: Any
) -> None:
    from tests.media import helpers
    from tests.media.video import video

    clip = video("mp4", 640, 360, frames=20, rate=10)
    ref = clean_stack.sandbox.media.add("twilio", demo.TWILIO_SID, clip, "video/mp4", file_name="clip.mp4")
    body, sender, _sid = helpers.twilio_mms([ref["url"]], ["video/mp4"])
    page = open_dashboard(DANA)
    assert post_signed(clean_stack, "twilio", body).status_code == 200
    conversation_id = ids.conversation_id(helpers.CHANNEL["twilio"].channel_id, sender)
    stored_before_opening(conversation_id)
    open_conversation(page, conversation_id)

    poster_button = page.get_by_test_id("media-video-poster")
    expect_media(
        lambda: expect(poster_button).to_have_attribute("data-state", "loaded", timeout=30_000),
        conversation_id,
    )
    expect(poster_button.get_by_test_id("media-play")).to_be_visible()
    poster = poster_button.get_by_test_id("media-poster")
    page.wait_for_function("img => img.complete && img.naturalWidth === 320", arg=poster.element_handle())
    expect(page.locator("video")).to_have_count(0)  # the video is not loaded until played

    poster_button.click()
    player = page.locator('video[data-testid="media-video"]')
    expect(player).to_be_visible()
    expect(player).to_have_attribute("src", re.compile(r"X-Goog-Signature="))
    expect(page.get_by_test_id("media-video-poster")).to_have_count(0)


def test_still_downloading_then_the_photo_and_could_not_fetch_with_the_reason_show_live(
    clean_stack: LocalStack, open_dashboard: Any
) -> None:
    from tests.media import helpers

    page = open_dashboard(DANA)
    slow = clean_stack.sandbox.media.add("whatsapp", WA.external_id, picture(800, 600), "image/jpeg")
    body, sender, _ = helpers.whatsapp_image(slow["media_id"])
    clean_stack.sandbox.hang_next("whatsapp", 4.0)  # WhatsApp's media endpoint answers slowly
    assert post_signed(clean_stack, "whatsapp", body).status_code == 200
    conversation_id = ids.conversation_id(WA.channel_id, sender)
    eventually(lambda: store.get_conversation(demo.DEMO_TENANT, conversation_id), what="the conversation")
    open_conversation(page, conversation_id)
    bubble = page.locator('[data-testid="message"][data-type="image"]')
    expect(bubble.get_by_test_id("media-pending")).to_contain_text("still downloading")
    expect_media(
        lambda: expect(bubble.get_by_test_id("media-thumbnail")).to_be_visible(timeout=30_000),
        conversation_id,
    )
    expect(bubble.get_by_test_id("media-pending")).to_have_count(0)

    gone = clean_stack.sandbox.media.add("whatsapp", WA.external_id, picture(80, 60), "image/jpeg")
    clean_stack.sandbox.media.delete(gone["media_id"])
    body, _, _ = helpers.whatsapp_image(gone["media_id"], sender)
    assert post_signed(clean_stack, "whatsapp", body).status_code == 200
    failed = page.get_by_test_id("media-failed")
    expect(failed).to_contain_text("Could not fetch:", timeout=30_000)
    expect(failed.get_by_test_id("media-failed-reason")).not_to_be_empty()


def test_an_agent_attaches_a_photo_watches_it_upload_and_whatsapp_receives_the_upload_then_the_id(
    clean_stack: LocalStack, open_dashboard: Any
) -> None:
    conversation_id = whatsapp_customer(clean_stack, "15550007001", "Is my lid broken like this?")
    page = open_dashboard(DANA)
    open_conversation(page, conversation_id)

    photo = picture(640, 480, "PNG")
    attach(page, "my photo.png", "image/png", photo)
    chip = page.get_by_test_id("attachment")
    expect(chip).to_have_attribute("data-state", "ready")
    expect(chip.get_by_test_id("attachment-name")).to_have_text("my photo.png")
    expect(page.get_by_test_id("send")).to_have_text("Send file")
    box = page.get_by_test_id("composer-input")
    box.fill("Like this one?")
    box.press("Enter")
    expect(page.get_by_test_id("attachment")).to_have_count(0)

    # WhatsApp: the file goes to the number's media endpoint (multipart), then the message by id.
    uploads = eventually(lambda: provider_calls(clean_stack, "whatsapp", "/media"), what="the media upload")
    assert uploads[0].headers["content-type"].startswith("multipart/form-data")
    media_id = uploads[0].response["id"]
    sent = eventually(
        lambda: [
            r for r in provider_calls(clean_stack, "whatsapp", "/messages") if r.json.get("type") == "image"
        ],
        what="the image message",
    )
    assert sent[0].json["image"] == {"id": media_id, "caption": "Like this one?"}
    assert clean_stack.sandbox._api_for("whatsapp").uploads.by_media_id(media_id).data == photo

    # The sent bubble shows the picture from storage, and its caption.
    mine = page.locator('[data-testid="message"][data-direction="out"][data-type="image"]')
    expect(mine.get_by_test_id("media-thumbnail")).to_be_visible()
    expect(mine).to_contain_text("Like this one?")
    expect(mine.get_by_test_id("ticks")).to_have_attribute("data-status", "sent")


def test_a_dropped_document_goes_to_telegram_as_senddocument_multipart(
    clean_stack: LocalStack, open_dashboard: Any
) -> None:
    from infra.local.simulate import text_payload

    chat = "5559001"
    assert (
        post_signed(
            clean_stack, "telegram", text_payload("telegram", "Send me the invoice", chat, "Ada")
        ).status_code
        == 200
    )
    conversation_id = ids.conversation_id(TG.channel_id, chat)
    eventually(lambda: store.get_conversation(demo.DEMO_TENANT, conversation_id), what="the conversation")
    page = open_dashboard(DANA)
    open_conversation(page, conversation_id)

    pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    transfer = page.evaluate_handle(
        """bytes => {
            const transfer = new DataTransfer();
            const file = new File([new Uint8Array(bytes)], "invoice 12.pdf", { type: "application/pdf" });
            transfer.items.add(file);
            return transfer;
        }""",
        list(pdf),
    )
    composer = page.get_by_test_id("composer")
    composer.dispatch_event("dragover", {"dataTransfer": transfer})
    composer.dispatch_event("drop", {"dataTransfer": transfer})
    expect(page.get_by_test_id("attachment")).to_have_attribute("data-state", "ready")
    page.get_by_test_id("send").click()

    calls = eventually(lambda: provider_calls(clean_stack, "telegram", "/sendDocument"), what="sendDocument")
    assert calls[0].headers["content-type"].startswith("multipart/form-data")
    uploaded = clean_stack.sandbox._api_for("telegram").uploads.all()[-1]
    assert (uploaded.field, uploaded.filename, uploaded.data) == ("document", "invoice 12.pdf", pdf)

    mine = page.locator('[data-testid="message"][data-direction="out"][data-type="document"]')
    expect(mine.get_by_test_id("file-name")).to_have_text("invoice 12.pdf")
    expect(mine.get_by_test_id("file-size")).to_have_text(f"{len(pdf)} B")


def test_a_photo_too_large_for_whatsapp_is_refused_in_the_composer_with_the_reason(
    clean_stack: LocalStack, open_dashboard: Any
) -> None:
    conversation_id = whatsapp_customer(clean_stack, "15550007002", "Here?")
    page = open_dashboard(DANA)
    open_conversation(page, conversation_id)

    attach(page, "huge.png", "image/png", picture(64, 64, "PNG", padding=6 * 1024 * 1024))
    chip = page.get_by_test_id("attachment")
    expect(chip).to_have_attribute("data-state", "ready", timeout=30_000)
    page.get_by_test_id("send").click()
    expect(chip).to_have_attribute("data-state", "failed")
    expect(chip.get_by_test_id("attachment-error")).to_contain_text("WhatsApp takes images up to 5 MB")
    assert not provider_calls(clean_stack, "whatsapp", "/media")


def test_a_pasted_screenshot_is_attached_and_removing_it_empties_the_tray(
    clean_stack: LocalStack, open_dashboard: Any
) -> None:
    conversation_id = whatsapp_customer(clean_stack, "15550007003", "What do you see?")
    page = open_dashboard(DANA)
    open_conversation(page, conversation_id)

    box = page.get_by_test_id("composer-input")
    box.evaluate(
        """(box, bytes) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(bytes)], "image.png", { type: "image/png" }));
            const paste = { clipboardData: transfer, bubbles: true, cancelable: true };
            box.dispatchEvent(new ClipboardEvent("paste", paste));
        }""",
        list(picture(120, 90, "PNG")),
    )
    chip = page.get_by_test_id("attachment")
    expect(chip).to_have_attribute("data-state", "ready")
    expect(box).to_have_value("")  # the picture was attached, not pasted as text
    page.get_by_role("button", name="Remove image.png").click()
    expect(page.get_by_test_id("attachment")).to_have_count(0)
    expect(page.get_by_test_id("send")).to_be_disabled()
