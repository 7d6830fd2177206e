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
    PYTHONPATH=. .venv/bin/python scripts/screenshots.py --channels [--out docs/channels-page.png]
    PYTHONPATH=. .venv/bin/python scripts/screenshots.py --contact-panel [--out docs/contact-panel.png]
    PYTHONPATH=. .venv/bin/python scripts/screenshots.py --team-page [--out docs/team-page.png]
    PYTHONPATH=. .venv/bin/python scripts/screenshots.py --reports [--out docs/reports-page.png]
    PYTHONPATH=. .venv/bin/python scripts/screenshots.py --operations [--out docs/operations-page.png]
    PYTHONPATH=. .venv/bin/python scripts/screenshots.py --audit-log [--out docs/audit-log.png]
    PYTHONPATH=. .venv/bin/python scripts/screenshots.py --settings [--out docs/settings-page.png]

With ``--channels``: the admin console's channels page; an admin fills in a new WhatsApp number and
tests its token, with the demo's channels below (one has had a webhook, one a refused send).

With ``--contact-panel``: a Messenger customer (named and pictured by the sandbox's User Profile API)
who also wrote on WhatsApp; an agent merges the two from the contact panel, fills an attribute and
writes a note; saved as ``docs/contact-panel.png``.

With ``--team-page``: the demo owner's team page (members of every role, one deactivated, a pending
invitation being typed); saved as ``docs/team-page.png``.

With ``--reports``: two weeks of a made-up workspace's traffic (customer messages, replies by three
agents, resolutions, labels, on four channels, busier on weekday afternoons) counted by the reports'
own code (shared/reports/tally.py) into the day documents, then the admin console's reports page;
saved as ``docs/reports-page.png``.

With ``--operations``: messages to two numbers nobody had connected wait in quarantine; the numbers
are connected to the demo workspace, a channel reports an expired token (the "channel unhealthy"
alert), and an admin opens the operations page, one payload masked, the other revealed; saved as
``docs/operations-page.png``.

With ``--audit-log`` / ``--settings``: the demo owner runs the workspace for a while through the same
code as the console (members added, an invitation, a role changed, an agent deactivated, business
hours and the auto-reply saved), then opens the audit log (``docs/audit-log.png``) or the settings
page (``docs/settings-page.png``).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
AGENT, PASSWORD = "dana@demo.test", "switchboard-demo"


def signed_in(playwright: Any, url: str, email: str, viewport: dict[str, int]) -> tuple[Any, Any]:
    """Debian's Chromium on the dashboard at ``url``, signed in as ``email``: (browser, page)."""
    from infra.local.browser import CHROMIUM, CHROMIUM_ARGS

    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    page = browser.new_context(viewport=viewport, device_scale_factor=1).new_page()
    page.goto(url)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return browser, page


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

    from infra.local.dashboard import DashboardServer

    with DashboardServer(stack) as dashboard, sync_playwright() as playwright:
        browser, page = signed_in(playwright, dashboard.url, AGENT, {"width": 1280, "height": 1080})
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
            browser, page = signed_in(playwright, dashboard.url, AGENT, {"width": 1280, "height": 720})
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


def channels_page(out: Path) -> None:
    """The channels page: the connect form with a tested token, the demo channels' health."""
    from datetime import UTC, datetime, timedelta

    from playwright.sync_api import expect, sync_playwright

    from infra.local import demo
    from infra.local.dashboard import DashboardServer
    from infra.local.stack import LocalStack
    from shared import auth, store
    from tests.support import eventually, post_webhook, whatsapp_text_webhook

    expect.set_options(timeout=30_000)  # the first load of the console page under a busy machine
    admin = "admin@demo.test"
    number_id, token = "109000000000077", "EAAcornerShopToken0077"
    with LocalStack() as stack:
        stack.apply_env()
        demo.seed()
        uid = auth.invite(admin, PASSWORD, demo.DEMO_TENANT, "admin", "Alex Admin")
        store.put_agent(demo.DEMO_TENANT, uid, {"name": "Alex Admin", "email": admin, "role": "admin"})
        stack.sandbox.register_account("whatsapp", number_id, token, verified_name="Corner Shop")
        wa = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
        assert post_webhook(stack, "whatsapp", whatsapp_text_webhook(wa.external_id, "15550144001", "Hi")).ok
        eventually(
            lambda: (
                (store.get_channel(demo.DEMO_TENANT, wa.channel_id) or {})
                .get("health", {})
                .get("lastWebhookAt")
            ),
            what="the webhook's health",
        )
        store.update_channel_health(
            demo.DEMO_TENANT,
            "instagram-main",
            {
                "lastError": {
                    "code": "190",
                    "reason": "Meta refused the page token: it expired or was revoked.",
                    "kind": "token_expired",
                    "at": datetime.now(UTC) - timedelta(minutes=42),
                }
            },
        )
        with DashboardServer(stack) as dashboard, sync_playwright() as playwright:
            browser, page = signed_in(playwright, dashboard.url, admin, {"width": 1280, "height": 1000})
            page.get_by_test_id("nav-admin").click()
            page.get_by_test_id("admin-nav-channels").click()
            expect(page.get_by_test_id("channel-row")).to_have_count(len(demo.DEMO_CHANNELS))
            page.get_by_test_id("channel-connect-open").click()
            page.get_by_test_id("channel-kind-whatsapp").check()
            page.get_by_test_id("channel-name").fill("Corner Shop on WhatsApp")
            page.get_by_test_id("channel-external-id").fill(number_id)
            page.get_by_test_id("channel-token").fill(token)
            page.get_by_test_id("channel-test").click()
            expect(page.get_by_test_id("channel-test-result")).to_be_visible()
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            browser.close()


def contact_panel_customer(stack: Any) -> tuple[str, str]:
    """A customer on Messenger (profile from the sandbox) and WhatsApp, and three attributes; the
    Messenger conversation's id and the WhatsApp contact's id."""
    from infra.local import demo, payloads
    from shared import auth, ids, store
    from tests.support import eventually, post_signed

    tenant = demo.DEMO_TENANT
    wa = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
    page_channel = next(c for c in demo.DEMO_CHANNELS if c.kind == "messenger")
    psid, wa_id = "6100000000143001", "15550144001"
    uid = auth.invite(AGENT, PASSWORD, tenant, "agent", "Dana Agent")
    store.put_agent(tenant, uid, {"name": "Dana Agent", "email": AGENT, "role": "agent"})
    for key, label, kind in (
        ("plan", "Plan", "text"),
        ("orders", "Orders", "number"),
        ("vip", "VIP", "boolean"),
    ):
        store.put_contact_attribute(tenant, key, {"label": label, "type": kind})
    stack.sandbox.set_profile(
        "messenger", page_channel.external_id, psid, first_name="Maya", last_name="Okafor"
    )
    now = int(time.time())
    wa_body = payloads.whatsapp_change(
        wa.external_id,
        contacts=[payloads.whatsapp_contact(wa_id, "Maya O.")],
        messages=[
            payloads.whatsapp_text_message(
                wa_id, "Order 2231: can I pick it up instead?", timestamp=now - 3600
            )
        ],
    )
    assert post_signed(stack, "whatsapp", wa_body).status_code == 200
    fb_body = payloads.messenger_text(page_channel.external_id, psid, "Hi, it's Maya again, about order 2231")
    assert post_signed(stack, "messenger", fb_body).status_code == 200
    messenger = ids.conversation_id(page_channel.channel_id, psid)
    whatsapp = ids.conversation_id(wa.channel_id, wa_id)
    eventually(lambda: store.get_conversation(tenant, whatsapp), what="the WhatsApp conversation")
    eventually(
        lambda: (store.get_conversation(tenant, messenger) or {}).get("contactPictureUrl"), what="the profile"
    )
    return messenger, str((store.get_conversation(tenant, whatsapp) or {})["contactId"])


def contact_panel(out: Path) -> None:
    """The contact panel: profile name and picture, two channels merged, attributes, a note."""
    from playwright.sync_api import expect, sync_playwright

    from infra.local import demo
    from infra.local.dashboard import DashboardServer
    from infra.local.stack import LocalStack

    with LocalStack() as stack:
        stack.apply_env()
        demo.seed()
        messenger, wa_contact = contact_panel_customer(stack)
        with DashboardServer(stack) as dashboard, sync_playwright() as playwright:
            browser, page = signed_in(playwright, dashboard.url, AGENT, {"width": 1440, "height": 800})
            page.locator(f'[data-testid="conversation-row"][data-conversation-id="{messenger}"]').click()
            panel = page.get_by_test_id("contact-panel")
            expect(panel.get_by_test_id("contact-name")).to_have_text("Maya Okafor")
            panel.get_by_test_id("merge-select").select_option(wa_contact)
            panel.get_by_test_id("merge-button").click()
            expect(panel.get_by_test_id("contact-conversation")).to_have_count(2)
            for key, value in (("plan", "Gold"), ("orders", "14")):
                panel.get_by_test_id(f"attribute-{key}").fill(value)
                panel.get_by_test_id(f"attribute-{key}").press("Enter")
            panel.get_by_test_id("attribute-vip").check()
            panel.get_by_test_id("note-input").fill("Prefers pick-up at the Camden store.")
            panel.get_by_test_id("note-add").click()
            expect(panel.get_by_test_id("contact-note")).to_have_count(1)
            expect(page.get_by_test_id("activity-line")).to_have_count(1)
            page.wait_for_function(
                "() => { const img = document.querySelector('[data-testid=contact-picture]'); "
                "return img && img.complete && img.naturalWidth > 0; }"
            )
            page.mouse.move(700, 700)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            browser.close()


def team_page(out: Path) -> None:
    """The owner's team page: members, roles, a deactivated agent, a pending invitation."""
    from playwright.sync_api import expect, sync_playwright

    from infra.local import demo
    from infra.local.browser import CHROMIUM, CHROMIUM_ARGS
    from infra.local.dashboard import DashboardServer
    from infra.local.stack import LocalStack
    from shared import auth, team

    with LocalStack() as stack:
        stack.apply_env()
        demo.seed()
        demo.seed_agents()
        owner_login = demo.DEMO_AGENTS[0]
        owner = auth.Caller(uid="screenshot", tenant_id=demo.DEMO_TENANT, role="owner", name=owner_login.name)
        for email, name, role in (
            ("sam@demo.test", "Sam Support", "agent"),
            ("priya@demo.test", "Priya Patel", "admin"),
            ("tom@demo.test", "Tom Temp", "agent"),
        ):
            team.add_member(owner, email, name, role, PASSWORD)
        tom = next(uid for uid, a in store_agents(demo.DEMO_TENANT) if a.get("email") == "tom@demo.test")
        team.deactivate(owner, tom)
        team.invite(owner, "jo@demo.test", "Jo Newcomer", "agent")

        with DashboardServer(stack) as dashboard, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            page = browser.new_context(
                viewport={"width": 1280, "height": 720}, device_scale_factor=1
            ).new_page()
            page.goto(dashboard.url)
            page.get_by_label("Email").fill(owner_login.email)
            page.get_by_label("Password").fill(owner_login.password)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_test_id("nav-admin").click()
            page.get_by_test_id("admin-nav-team").click()
            expect(page.get_by_test_id("team-invitation")).to_have_count(1)
            page.get_by_test_id("invite-email").fill("lena@demo.test")
            page.get_by_test_id("invite-name").fill("Lena Ortiz")
            page.mouse.move(1200, 700)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            browser.close()


def store_agents(tenant_id: str) -> list[tuple[str, dict[str, Any]]]:
    from shared import store

    return store.list_agents(tenant_id)


def synthetic_reports(tenant_id: str, agents: list[str], days: int = 14) -> None:
    """Two weeks of made-up traffic, counted by shared/reports/tally.py and stored as day documents."""
    import random

    from shared import store
    from shared.reports import tally

    rng = random.Random(19)
    figures = tally.Tally(tally.zone("UTC"))
    states: dict[str, dict[str, Any]] = {}
    conversations: dict[str, dict[str, Any] | None] = {}
    channels = ["whatsapp", "messenger", "instagram", "telegram"]
    start = (int(time.time()) // 86_400 - days + 1) * 86_400 * 1000
    for n in range(days * 40):
        day = n // 40
        weekday_boost = 1.0 if (time.gmtime(start / 1000 + day * 86_400).tm_wday < 5) else 0.4
        if rng.random() > weekday_boost:
            continue
        conversation = f"c{n}"
        opened = start + day * 86_400_000 + int(rng.triangular(7, 21, 14) * 3_600_000)
        channel = rng.choices(channels, weights=[5, 3, 2, 1])[0]
        conversations[conversation] = {"channel": channel}

        def put(at: int, data: dict[str, Any], c: str = conversation) -> None:
            tally.apply(figures, states, conversations, tally.Message(c, {"sentAtMs": at, **data}))

        agent = rng.choice(agents)
        put(opened, {"direction": "in", "channel": channel})
        put(
            opened + 5_000,
            {"direction": "system", "type": "activity", "activity": {"verb": "assign", "assigneeId": agent}},
        )
        if rng.random() < 0.3:
            line = {"verb": "labels", "added": [{"id": "lb-vip"}], "removed": []}
            put(opened + 6_000, {"direction": "system", "type": "activity", "activity": line})
        first = opened + int(rng.lognormvariate(5.5, 1.0) * 1000)
        put(first, {"direction": "out", "channel": channel, "sender": {"kind": "agent", "id": agent}})
        for k in range(rng.randint(0, 4)):
            put(first + (k + 1) * 90_000, {"direction": "in", "channel": channel})
            put(
                first + (k + 1) * 150_000,
                {"direction": "out", "channel": channel, "sender": {"kind": "agent", "id": agent}},
            )
        if rng.random() < 0.8:
            line = {"verb": "resolve", "actorId": agent}
            resolved = first + int(rng.lognormvariate(7.5, 0.8) * 1000)
            put(resolved, {"direction": "system", "type": "activity", "activity": line})
            if rng.random() < 0.45:  # about half the customers asked answer the CSAT question
                score = rng.choices([1, 2, 3, 4, 5], weights=[1, 1, 2, 5, 8])[0]
                rating = {
                    "verb": "rate",
                    "score": score,
                    "comment": "",
                    "source": "buttons",
                    "askId": f"ask-{conversation}",
                    "replaces": None,
                }
                put(resolved + 120_000, {"direction": "system", "type": "activity", "activity": rating})
    store.replace_report_days(tenant_id, "0000-00-00", "9999-99-99", figures.days, figures.channels)


def reports_page(out: Path) -> None:
    """The admin console's reports page over two weeks of made-up traffic."""
    from playwright.sync_api import expect, sync_playwright

    from infra.local import demo
    from infra.local.dashboard import DashboardServer
    from infra.local.stack import LocalStack
    from shared import auth, store

    with LocalStack() as stack:
        stack.apply_env()
        demo.seed()
        admin = "ada@demo.test"
        uids = []
        for email, name, role in (
            (admin, "Ada Admin", "admin"),
            ("dana@demo.test", "Dana Agent", "agent"),
            ("sam@demo.test", "Sam Support", "agent"),
        ):
            uid = auth.invite(email, PASSWORD, demo.DEMO_TENANT, role, name)
            store.put_agent(demo.DEMO_TENANT, uid, {"name": name, "email": email, "role": role})
            uids.append(uid)
        store.create_label(demo.DEMO_TENANT, "lb-vip", {"name": "VIP", "color": "#7c3aed"})
        synthetic_reports(demo.DEMO_TENANT, uids)
        with DashboardServer(stack) as dashboard, sync_playwright() as playwright:
            browser, page = signed_in(playwright, dashboard.url, admin, {"width": 1440, "height": 1300})
            page.get_by_test_id("nav-admin").click()
            page.get_by_test_id("admin-nav-reports").click()
            page.get_by_text("14 days").click()
            expect(
                page.get_by_test_id("reports-chart-response").locator("[data-drawn='true']")
            ).to_be_visible(timeout=90_000)
            page.wait_for_timeout(300)  # the last chart's paint
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=True)
            browser.close()


def operations_page(out: Path) -> None:
    """The admin console's operations page: an alert banner, quarantined items masked and revealed."""
    from datetime import UTC, datetime

    from playwright.sync_api import expect, sync_playwright

    from infra.local import demo, payloads
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
            browser, page = signed_in(playwright, dashboard.url, admin, {"width": 1280, "height": 1000})
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


def _owner_at_work() -> Any:
    """The demo owner's morning, through the console's own code: two members added, one invited, a
    role changed, an agent deactivated, the workspace's hours and auto-reply saved. Their login."""
    from infra.local import demo
    from shared import auth, team, workspace

    demo.seed()
    demo.seed_agents()
    login = demo.DEMO_AGENTS[0]
    uid = next(u for u, a in store_agents(demo.DEMO_TENANT) if a.get("email") == login.email)
    owner = auth.Caller(uid=uid, tenant_id=demo.DEMO_TENANT, role="owner", name=login.name, email=login.email)
    team.add_member(owner, "sam@demo.test", "Sam Support", "agent", PASSWORD)
    team.add_member(owner, "tom@demo.test", "Tom Temp", "agent", PASSWORD)
    team.invite(owner, "jo@demo.test", "Jo Newcomer", "agent")
    sam = next(u for u, a in store_agents(demo.DEMO_TENANT) if a.get("email") == "sam@demo.test")
    tom = next(u for u, a in store_agents(demo.DEMO_TENANT) if a.get("email") == "tom@demo.test")
    team.set_role(owner, sam, "admin")
    team.deactivate(owner, tom)
    weekdays = [["09:00", "12:30"], ["13:30", "18:00"]]
    workspace.save(
        owner,
        workspace.WorkspaceSettings.model_validate(
            {
                "name": "Demo Shop",
                "timeZone": "Europe/Paris",
                "businessHours": {
                    **{day: weekdays for day in ("mon", "tue", "wed", "thu", "fri")},
                    "sat": [["10:00", "14:00"]],
                },
                "autoReply": {
                    "enabled": True,
                    "text": "Thanks for writing! We are closed now and answer from 9:00 (Paris time).",
                },
                "replyWindowReminderMinutes": 60,
                "retentionDays": 365,
                "csat": {"enabled": True, "question": "How would you rate our help today?"},
            }
        ),
    )
    return login


def _owner_opens(out: Path, page_id: str, ready: str) -> None:
    """The owner's morning (:func:`_owner_at_work`), then the admin page ``page_id`` saved to ``out``
    once ``ready`` (a test id) shows."""
    from playwright.sync_api import expect, sync_playwright

    from infra.local.browser import CHROMIUM, CHROMIUM_ARGS
    from infra.local.dashboard import DashboardServer
    from infra.local.stack import LocalStack

    with LocalStack() as stack:
        stack.apply_env()
        login = _owner_at_work()
        with DashboardServer(stack) as dashboard, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            page = browser.new_context(
                viewport={"width": 1280, "height": 900}, device_scale_factor=1
            ).new_page()
            page.goto(dashboard.url)
            page.get_by_label("Email").fill(login.email)
            page.get_by_label("Password").fill(login.password)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_test_id("nav-admin").click()
            page.get_by_test_id(f"admin-nav-{page_id}").click()
            expect(page.get_by_test_id(ready).first).to_be_visible(timeout=30_000)
            page.mouse.move(1270, 890)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            browser.close()


def audit_log(out: Path) -> None:
    """The admin console's audit log after the owner's morning."""
    _owner_opens(out, "audit", "audit-entry")


def settings_page(out: Path) -> None:
    """The admin console's settings page: business hours, the auto-reply, reminder, retention."""
    _owner_opens(out, "settings", "hours-from")


# --flag: (what makes it, the file under docs/, help). Without a flag: the thread with media.
OTHER_SCREENS: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "team-inbox": (team_inbox, "team-inbox.png", "the team inbox: labels, activity, bulk"),
    "channels": (channels_page, "channels-page.png", "the admin console's channels page"),
    "contact-panel": (contact_panel, "contact-panel.png", "the contact panel: profile, merge, notes"),
    "team-page": (team_page, "team-page.png", "the admin console's team page"),
    "reports": (reports_page, "reports-page.png", "the admin console's reports page"),
    "operations": (operations_page, "operations-page.png", "the admin console's operations page"),
    "audit-log": (audit_log, "audit-log.png", "the admin console's audit log"),
    "settings": (settings_page, "settings-page.png", "the admin console's settings page"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=None)
    for flag, (_, _, what) in OTHER_SCREENS.items():
        parser.add_argument(f"--{flag}", action="store_true", help=what)
    args = parser.parse_args(argv)
    for flag, (make, name, _) in OTHER_SCREENS.items():
        if getattr(args, flag.replace("-", "_")):
            out = args.out or REPO / "docs" / name
            make(out)
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
