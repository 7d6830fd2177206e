"""The README's screenshot of a thread with media, made the way the tests run the system: the local
stack (emulators, every function, the provider sandbox, the storage emulator), the built dashboard,
Debian's Chromium through Playwright. A customer sends a photo, a voice note, an invoice and a file
the provider no longer has (signed WhatsApp webhooks; the sandbox serves the files as the Cloud API
does); an agent signs in, opens the conversation and answers with a photo attached through the
composer. The page is then saved as ``docs/thread-with-media.png``.

With ``--team-inbox``: a few customers write, an admin's labels are on some of their conversations,
an agent labels, assigns and snoozes one (each leaving its activity line in the thread) and ticks two
rows for a bulk action; saved as ``docs/team-inbox.png``.

    PYTHONPATH=. .venv/bin/python scripts/screenshots.py [--out docs/thread-with-media.png]
    PYTHONPATH=. .venv/bin/python scripts/screenshots.py --team-inbox [--out docs/team-inbox.png]
    PYTHONPATH=. .venv/bin/python scripts/screenshots.py --operations [--out docs/operations-page.png]

With ``--operations``: messages to two numbers nobody had connected wait in quarantine; the numbers
are connected to the demo workspace, a channel reports an expired token (the "channel unhealthy"
alert), and an admin opens the operations page, one payload masked, the other revealed; saved as
``docs/operations-page.png``.
"""

from __future__ import annotations

import argparse
import io
import math
import struct
import sys
import time
import uuid
import wave
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
AGENT, PASSWORD = "dana@demo.test", "switchboard-demo"


def photo(width: int, height: int, lid: tuple[int, int, int]) -> bytes:
    """A product photo stand-in: a box with a cracked lid (drawn, so nothing is downloaded)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (236, 231, 222))
    draw = ImageDraw.Draw(image)
    for y in range(height):  # a soft background gradient
        shade = 236 - int(30 * y / height)
        draw.line([(0, y), (width, y)], fill=(shade, shade - 4, shade - 12))
    box = (width * 0.2, height * 0.35, width * 0.8, height * 0.85)
    draw.rectangle(box, fill=(176, 124, 74), outline=(120, 80, 44), width=6)
    draw.polygon(
        [
            (width * 0.16, height * 0.35),
            (width * 0.84, height * 0.35),
            (width * 0.74, height * 0.2),
            (width * 0.26, height * 0.2),
        ],
        fill=lid,
        outline=(60, 60, 60),
    )
    crack = [
        (width * 0.45, height * 0.2),
        (width * 0.5, height * 0.27),
        (width * 0.47, height * 0.31),
        (width * 0.53, height * 0.35),
    ]
    draw.line(crack, fill=(30, 30, 30), width=5)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def voice_note(seconds: float = 4.0) -> bytes:
    """A short WAV tone (browsers play it; the sandbox serves it as the customer's voice note)."""
    rate = 8000
    frames = b"".join(
        struct.pack("<h", int(6000 * math.sin(2 * math.pi * 440 * i / rate) * (1 - i / (rate * seconds))))
        for i in range(int(rate * seconds))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return out.getvalue()


def invoice() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n" + b"%" * 48_000
    )


def media_message(wa_id: str, kind: str, media: dict[str, Any], at: int) -> dict[str, Any]:
    return {"from": wa_id, "id": f"wamid.{uuid.uuid4().hex}", "timestamp": str(at), "type": kind, kind: media}


def capture(stack: Any, conversation_id: str, out: Path) -> None:
    """Sign in as the agent, open the conversation, answer with a photo, save the page."""
    from playwright.sync_api import expect, sync_playwright

    from infra.local.browser import CHROMIUM, CHROMIUM_ARGS
    from infra.local.dashboard import DashboardServer

    with DashboardServer(stack) as dashboard, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1280, "height": 1080}, device_scale_factor=1).new_page()
        page.goto(dashboard.url)
        page.get_by_label("Email").fill(AGENT)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.locator(f'[data-testid="conversation-row"][data-conversation-id="{conversation_id}"]').click()
        expect(page.get_by_test_id("media-thumbnail").first).to_be_visible(timeout=30_000)
        expect(page.get_by_test_id("media-failed")).to_be_visible(timeout=30_000)

        page.get_by_test_id("attach-input").set_input_files(
            {
                "name": "replacement lid.jpg",
                "mimeType": "image/jpeg",
                "buffer": photo(1024, 768, (120, 170, 220)),
            }
        )
        expect(page.get_by_test_id("attachment")).to_have_attribute("data-state", "ready", timeout=30_000)
        page.get_by_test_id("composer-input").fill("So sorry! A new lid is on its way, it looks like this:")
        page.get_by_test_id("composer-input").press("Enter")
        sent = page.locator('[data-testid="message"][data-direction="out"][data-type="image"]')
        expect(sent.get_by_test_id("media-thumbnail")).to_be_visible(timeout=30_000)
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=media-thumbnail]')]"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
        expect(sent.get_by_test_id("ticks")).to_have_attribute("data-status", "sent", timeout=30_000)
        page.get_by_test_id("composer-input").fill("")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()


def team_inbox(out: Path) -> None:
    """Labels on rows and in the header, activity lines in the thread, two rows ticked."""
    from playwright.sync_api import expect, sync_playwright

    from infra.local import demo, payloads
    from infra.local.browser import CHROMIUM, CHROMIUM_ARGS
    from infra.local.dashboard import DashboardServer
    from infra.local.stack import LocalStack
    from shared import auth, ids, store
    from tests.support import eventually, post_signed

    wa = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
    customers = [
        ("15550143001", "Kerry Fisher", "Hi! My order arrived today but the lid is cracked"),
        ("15550143002", "Lee Ng", "Can I still change my delivery address?"),
        ("15550143003", "Ada Obi", "Do you ship to Lagos?"),
        ("15550143004", "Sam Rivera", "Refund for order 1187, please"),
    ]
    with LocalStack() as stack:
        stack.apply_env()
        demo.seed()
        for email, name, role in ((AGENT, "Dana Agent", "agent"), ("sam@demo.test", "Sam Support", "agent")):
            uid = auth.invite(email, PASSWORD, demo.DEMO_TENANT, role, name)
            store.put_agent(demo.DEMO_TENANT, uid, {"name": name, "email": email, "role": role})
        for label_id, name, color in (
            ("lb-vip", "VIP", "#7c3aed"),
            ("lb-damaged", "Damaged", "#dc2626"),
            ("lb-billing", "Billing", "#0891b2"),
        ):
            store.create_label(demo.DEMO_TENANT, label_id, {"name": name, "color": color})
        now = int(time.time())
        for n, (wa_id, name, text) in enumerate(customers):
            body = payloads.whatsapp_change(
                wa.external_id,
                contacts=[payloads.whatsapp_contact(wa_id, name)],
                messages=[payloads.whatsapp_text_message(wa_id, text, timestamp=now - 300 + n * 30)],
            )
            assert post_signed(stack, "whatsapp", body).status_code == 200
        conversation_ids = [ids.conversation_id(wa.channel_id, wa_id) for wa_id, _, _ in customers]
        for conversation_id in conversation_ids:
            eventually(
                lambda c=conversation_id: store.get_conversation(demo.DEMO_TENANT, c), what="a conversation"
            )
        store.update_conversation(demo.DEMO_TENANT, conversation_ids[3], {"labels": ["lb-billing"]})
        store.update_conversation(demo.DEMO_TENANT, conversation_ids[1], {"labels": ["lb-vip"]})

        with DashboardServer(stack) as dashboard, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            page = browser.new_context(
                viewport={"width": 1280, "height": 720}, device_scale_factor=1
            ).new_page()
            page.goto(dashboard.url)
            page.get_by_label("Email").fill(AGENT)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            first = conversation_ids[0]
            page.locator(f'[data-testid="conversation-row"][data-conversation-id="{first}"]').click()
            page.get_by_test_id("label-picker").click()
            for label_id in ("lb-vip", "lb-damaged"):
                page.get_by_test_id("label-menu").locator(f'[data-label-id="{label_id}"] input').check()
                expect(page.get_by_test_id("activity-line").last).to_contain_text("added the label")
            page.get_by_test_id("thread-contact").click()  # closes the menu
            page.get_by_test_id("assignee").select_option(label="Sam Support")
            expect(page.get_by_test_id("activity-line")).to_have_count(3)
            page.get_by_test_id("snooze").select_option(label="Tomorrow 9:00")
            expect(page.get_by_test_id("activity-line")).to_have_count(4)
            page.get_by_test_id("composer-input").fill(
                "Sorry about the lid! A replacement ships tomorrow morning."
            )
            for conversation_id in conversation_ids[2:]:
                row = page.locator(
                    f'[data-testid="conversation-row"][data-conversation-id="{conversation_id}"]'
                )
                row.get_by_test_id("row-check").click()
            expect(page.get_by_test_id("bulk-count")).to_have_text("2 selected")
            page.mouse.move(900, 650)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            browser.close()


def operations_page(out: Path) -> None:
    """The admin console's operations page: an alert banner, quarantined items masked and revealed."""
    from datetime import UTC, datetime

    from playwright.sync_api import expect, sync_playwright

    from infra.local import demo, payloads
    from infra.local.browser import CHROMIUM, CHROMIUM_ARGS
    from infra.local.dashboard import DashboardServer
    from infra.local.stack import LocalStack
    from shared import auth, store
    from tests.support import eventually, post_signed

    admin = "ada@demo.test"
    messages = [
        ("3300000000000101", "15550199001", "Grace Hopper", "Hello, is my order 1187 on its way?"),
        ("3300000000000102", "15550199002", "Lee Ng", "Can I pick it up at the store?"),
    ]
    with LocalStack() as stack:
        stack.apply_env()
        demo.seed()
        uid = auth.invite(admin, PASSWORD, demo.DEMO_TENANT, "admin", "Ada Admin")
        store.put_agent(demo.DEMO_TENANT, uid, {"name": "Ada Admin", "email": admin, "role": "admin"})
        for phone_id, wa_id, name, text in messages:
            body = payloads.whatsapp_text(phone_id, wa_id, text, name=name)
            assert post_signed(stack, "whatsapp", body).status_code == 200
        eventually(lambda: len(store.list_quarantine()) == 2, what="both messages in quarantine")
        for n, (phone_id, _, _, _) in enumerate(messages):
            store.put_channel(demo.DEMO_TENANT, f"wa-store-{n}", "whatsapp", phone_id, f"Store line {n + 1}")
        page_channel = next(c for c in demo.DEMO_CHANNELS if c.kind == "messenger")
        store.update_channel_health(
            demo.DEMO_TENANT,
            page_channel.channel_id,
            {
                "lastError": {
                    "code": 190,
                    "reason": "the Page access token expired",
                    "kind": "token_expired",
                    "at": datetime.now(UTC),
                }
            },
        )
        with DashboardServer(stack) as dashboard, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            page = browser.new_context(
                viewport={"width": 1280, "height": 1000}, device_scale_factor=1
            ).new_page()
            page.goto(dashboard.url)
            page.get_by_label("Email").fill(admin)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_test_id("nav-admin").click()
            page.get_by_test_id("admin-nav-operations").click()
            expect(page.get_by_test_id("quarantine-item")).to_have_count(2, timeout=30_000)
            page.get_by_test_id("quarantine-item").last.get_by_test_id("reveal").click()
            revealed = page.get_by_test_id("quarantine-item").last.get_by_test_id("raw")
            expect(revealed).not_to_contain_text('"contact_name": "•••"')
            expect(page.get_by_test_id("operations-alert").first).to_be_visible()
            page.get_by_test_id("operations-page").evaluate("el => { el.parentElement.scrollTop = 0 }")
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--team-inbox", action="store_true", help="the team inbox: labels, activity, bulk")
    parser.add_argument("--operations", action="store_true", help="the admin console's operations page")
    args = parser.parse_args(argv)
    if args.operations:
        out = args.out or REPO / "docs" / "operations-page.png"
        operations_page(out)
        print(f"wrote {out}")
        return 0
    if args.team_inbox:
        out = args.out or REPO / "docs" / "team-inbox.png"
        team_inbox(out)
        print(f"wrote {out}")
        return 0
    args.out = args.out or REPO / "docs" / "thread-with-media.png"

    from infra.local import demo, payloads
    from infra.local.stack import LocalStack
    from shared import auth, ids, store
    from tests.support import eventually, post_signed

    wa = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
    wa_id = "15550142020"
    with LocalStack() as stack:
        stack.apply_env()
        demo.seed()
        uid = auth.invite(AGENT, PASSWORD, demo.DEMO_TENANT, "agent", "Dana Agent")
        store.put_agent(demo.DEMO_TENANT, uid, {"name": "Dana Agent", "email": AGENT, "role": "agent"})
        media = stack.sandbox.media
        now = int(time.time())
        picture = media.add("whatsapp", wa.external_id, photo(1280, 800, (210, 210, 215)), "image/jpeg")
        voice = media.add("whatsapp", wa.external_id, voice_note(), "audio/ogg")
        pdf = media.add(
            "whatsapp", wa.external_id, invoice(), "application/pdf", file_name="Invoice 2026-1187.pdf"
        )
        gone = media.add("whatsapp", wa.external_id, photo(320, 240, (90, 90, 90)), "image/jpeg")
        media.delete(gone["media_id"])
        messages = [
            payloads.whatsapp_text_message(
                wa_id, "Hi! My order arrived today but the lid is cracked 😞", timestamp=now - 240
            ),
            media_message(
                wa_id,
                "image",
                {"id": picture["media_id"], "mime_type": "image/jpeg", "caption": "This is how it came"},
                now - 230,
            ),
            media_message(
                wa_id,
                "audio",
                {"id": voice["media_id"], "mime_type": "audio/ogg; codecs=opus", "voice": True},
                now - 200,
            ),
            media_message(
                wa_id,
                "document",
                {"id": pdf["media_id"], "mime_type": "application/pdf", "filename": "Invoice 2026-1187.pdf"},
                now - 180,
            ),
            media_message(wa_id, "image", {"id": gone["media_id"], "mime_type": "image/jpeg"}, now - 170),
        ]
        for message in messages:  # one webhook each, in order, as WhatsApp sends them
            body = payloads.whatsapp_change(
                wa.external_id,
                contacts=[payloads.whatsapp_contact(wa_id, "Kerry Fisher")],
                messages=[message],
            )
            assert post_signed(stack, "whatsapp", body).status_code == 200
        conversation_id = ids.conversation_id(wa.channel_id, wa_id)
        eventually(lambda: store.get_conversation(demo.DEMO_TENANT, conversation_id), what="the conversation")

        capture(stack, conversation_id, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
