"""Issue 16's image target in a real browser: a WhatsApp webhook with an image -> its thumbnail
drawn in the open conversation of a watching agent (headless Chromium, the built dashboard).

Starts the whole local stack and the dashboard, signs an agent in, opens one customer's
conversation, and posts ``count`` image webhooks from that customer (a real JPEG each, kept by the
provider sandbox; ``courier-image.json``). In the page, a MutationObserver stamps when each
message's bubble appears (``data-message-id``: the text part, "still downloading") and a capturing
``load`` listener when its ``<img data-testid="media-thumbnail">`` has loaded (after the fetch
stored it, the dashboard asked agent_api ``mediaUrl`` and fetched the signed URL). Reports p50/p99
of both from the moment the POST started (epoch ms on both sides), and what never arrived.
"""

from __future__ import annotations

import time
from typing import Any

from bench.dashboard_latency import CHROMIUM, CHROMIUM_ARGS, EMAIL, NAME, OBSERVER, PASSWORD, _wait_for_inbox
from bench.stats import report, summary
from infra.local import demo
from infra.local.dashboard import DashboardServer
from infra.local.stack import LocalStack

STAMPS = """
(() => {
  window.__bubbles = {};
  window.__thumbs = {};
  const now = () => performance.timeOrigin + performance.now();
  const bubble = (node) => {
    if (!(node instanceof Element)) return;
    for (const el of [node, ...node.querySelectorAll("[data-message-id]")]) {
      const id = el.getAttribute && el.getAttribute("data-message-id");
      if (id && !(id in window.__bubbles)) window.__bubbles[id] = now();
    }
  };
  new MutationObserver((records) => {
    for (const record of records) for (const node of record.addedNodes) bubble(node);
  }).observe(document, { childList: true, subtree: true });
  document.addEventListener("load", (event) => {
    const img = event.target;
    if (!(img instanceof HTMLImageElement) || img.dataset.testid !== "media-thumbnail") return;
    const holder = img.closest("[data-message-id]");
    const id = holder && holder.getAttribute("data-message-id");
    if (id && !(id in window.__thumbs)) window.__thumbs[id] = now();
  }, true);
})();
"""


def _collect(page: Any, sent: dict[str, float], timeout_s: float = 90) -> tuple[dict, dict]:
    deadline = time.monotonic() + timeout_s
    bubbles: dict[str, float] = {}
    thumbs: dict[str, float] = {}
    while time.monotonic() < deadline:
        bubbles, thumbs = page.evaluate("[window.__bubbles, window.__thumbs]")
        if all(m in thumbs for m in sent):
            break
        page.wait_for_timeout(200)
    return bubbles, thumbs


def run(count: int = 50, warmup: int = 3, pace_seconds: float = 1.0) -> dict[str, object]:
    """Measure and return the figures."""
    from playwright.sync_api import sync_playwright

    from shared import auth, ids, store
    from tests.media import helpers
    from tests.support import post_signed

    with LocalStack() as stack:
        stack.apply_env()
        demo.seed()
        uid = auth.invite(EMAIL, PASSWORD, demo.DEMO_TENANT, "agent", NAME)
        store.put_agent(demo.DEMO_TENANT, uid, {"name": NAME, "email": EMAIL, "role": "agent"})
        account = helpers.CHANNEL["whatsapp"].external_id
        sender = "15558880001"
        sent: dict[str, float] = {}

        def image(measured: bool) -> None:
            ref = stack.sandbox.media.add("whatsapp", account, helpers.jpeg(1280, 960), "image/jpeg")
            body, _, wamid = helpers.whatsapp_image(ref["media_id"], sender)
            started = time.time() * 1000
            post_signed(stack, "whatsapp", body).raise_for_status()
            if measured:
                sent[ids.message_id("whatsapp-main", wamid)] = started

        image(measured=False)  # the conversation to open
        with DashboardServer(stack) as dashboard, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.add_init_script(OBSERVER)
                context.add_init_script(STAMPS)
                page = context.new_page()
                page.goto(dashboard.url)
                page.get_by_label("Email").fill(EMAIL)
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                _wait_for_inbox(page)
                conversation_id = ids.conversation_id("whatsapp-main", sender)
                page.locator(f'[data-conversation-id="{conversation_id}"]').click()
                page.get_by_test_id("composer").wait_for()
                for i in range(warmup + count):
                    image(measured=i >= warmup)
                    time.sleep(pace_seconds)  # one customer sending photos, not a wait for a result
                bubbles, thumbs = _collect(page, sent)
            finally:
                browser.close()
    text = [bubbles[m] - sent[m] for m in sent if m in bubbles]
    drawn = [thumbs[m] - sent[m] for m in sent if m in thumbs]
    figures = {
        "webhook_to_bubble_in_dom": {**summary(text), "missing": len(sent) - len(text)},
        "webhook_to_thumbnail_loaded_in_dom": {**summary(drawn), "missing": len(sent) - len(drawn)},
        "rate_per_second": round(1 / pace_seconds, 1),
        "image": "1280x960 JPEG",
    }
    report("media_dashboard_webhook_to_thumbnail", figures)
    return figures


if __name__ == "__main__":
    run()
