"""The README's screenshots of canned replies and the approved-template picker (issue 17), made the way
the tests run the system: the local stack, the built dashboard, Debian's Chromium. A customer writes
on WhatsApp; the agent types ``/ref`` in the composer (``docs/canned-reply-picker.png``); another
customer's 24-hour window is closed and the agent picks an approved template and fills its
parameters (``docs/template-picker.png``).

    PYTHONPATH=. .venv/bin/python scripts/screenshot_canned_templates.py [--out-dir docs]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
AGENT, PASSWORD = "dana@demo.test", "switchboard-demo"
CANNED = (
    (
        "refund",
        "Refund on its way",
        "Hi {{contact.firstName}}, your refund was issued today: 3-5 days to show. {{agent.name}}",
    ),
    ("ref-number", "Ask for the order number", "Could you send me your order number, {{contact.firstName}}?"),
    ("hours", "Opening hours", "We answer {{conversation.channel}} messages 9:00-18:00, Monday to Saturday."),
)


def capture(stack: Any, open_id: str, closed_id: str, out_dir: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    from infra.local.browser import CHROMIUM, CHROMIUM_ARGS
    from infra.local.dashboard import DashboardServer

    with DashboardServer(stack) as dashboard, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1280, "height": 760}, device_scale_factor=1).new_page()
        page.goto(dashboard.url)
        page.get_by_label("Email").fill(AGENT)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.locator(f'[data-testid="conversation-row"][data-conversation-id="{open_id}"]').click()
        expect(page.get_by_test_id("message").first).to_be_visible()
        page.get_by_test_id("composer-input").press_sequentially("/ref")
        expect(page.get_by_test_id("canned-option")).to_have_count(2)
        out_dir.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out_dir / "canned-reply-picker.png"))
        page.get_by_test_id("composer-input").press("Escape")

        page.locator(f'[data-testid="conversation-row"][data-conversation-id="{closed_id}"]').click()
        page.get_by_test_id("template-select").select_option("appointment_reminder|en_US")
        parameters = page.get_by_test_id("template-parameter")
        parameters.nth(0).fill("Kerry")
        parameters.nth(1).fill("Monday 14 December")
        parameters.nth(2).fill("10:30")
        expect(page.get_by_test_id("template-preview")).to_contain_text("10:30")
        page.screenshot(path=str(out_dir / "template-picker.png"))
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out-dir", type=Path, default=REPO / "docs")
    args = parser.parse_args(argv)

    from infra.local import demo, payloads
    from infra.local.stack import LocalStack
    from shared import auth, ids, store
    from tests.support import eventually, post_signed

    wa = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
    with LocalStack() as stack:
        stack.apply_env()
        demo.seed()
        uid = auth.invite(AGENT, PASSWORD, demo.DEMO_TENANT, "agent", "Dana Agent")
        store.put_agent(demo.DEMO_TENANT, uid, {"name": "Dana Agent", "email": AGENT, "role": "agent"})
        for shortcut, title, body in CANNED:
            store.put_canned_reply(
                demo.DEMO_TENANT,
                shortcut,
                {"shortcut": shortcut, "title": title, "body": body, "scope": "tenant"},
            )
        now = int(time.time())
        conversations = []
        for wa_id, name, text, at in (
            ("15550142031", "Kerry Fisher", "Hi, did you refund my order yet?", now - 60),
            ("15550142032", "Kerry Fisher", "Can I book an appointment for Monday?", now - 30 * 3600),
        ):
            body = payloads.whatsapp_text(wa.external_id, wa_id, text, timestamp=at, name=name)
            assert post_signed(stack, "whatsapp", body).status_code == 200
            conversation_id = ids.conversation_id(wa.channel_id, wa_id)
            eventually(
                lambda c=conversation_id: store.get_conversation(demo.DEMO_TENANT, c), what="the conversation"
            )
            conversations.append(conversation_id)
        capture(stack, conversations[0], conversations[1], args.out_dir)
    print(f"wrote {args.out_dir}/canned-reply-picker.png and template-picker.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
