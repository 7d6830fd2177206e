"""The agents' dashboard in a real browser: how fast a customer's message shows, how big the app is,
how soon the inbox is usable.

Starts the whole local stack and the built dashboard, signs an agent in in headless Chromium
(Debian's binary, driven by Playwright), and measures:

- ``dashboard_webhook_to_dom``: from the moment a signed WhatsApp webhook POST starts to the moment
  the message's text is in the page's DOM (a MutationObserver stamps it), p50/p99 over ``count``
  messages each, in two places: ``inbox`` (a new customer each time: a new row at the top of the
  live conversation list) and ``conversation`` (one customer writing into the conversation the
  agent has open: a new bubble). The first messages warm every process up and are not counted.
- ``dashboard_bundle``: bytes of the built JavaScript and CSS, raw and gzipped.
- ``dashboard_time_to_interactive``: navigation start -> the sign-in form, sign-in click -> the
  inbox rendered (the browser's first sign-in, which also pays the emulators' and functions' first
  requests, then ``sign_in_again``: five more in fresh browser contexts), and navigation start ->
  the inbox rendered for an agent already signed in (a reload: what an agent sees every morning).

Prints one JSON line per figure set (bench/stats.py), asserts nothing.
"""

from __future__ import annotations

import gzip
import json
import time
import uuid
from typing import Any

import requests

from bench.stats import report, summary
from infra.local import demo, payloads
from infra.local.browser import CHROMIUM, CHROMIUM_ARGS
from infra.local.dashboard import DIST, DashboardServer
from infra.local.simulate import meta_signature
from infra.local.stack import LocalStack

EMAIL, PASSWORD, NAME = "bench@demo.test", "bench-password-1", "Bench Agent"
WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
SIGN_INS = 6  # the browser's first sign-in, then five more, each in a fresh context
MARKER_PATTERN = r"bench-\d+-[0-9a-f]{8}"  # each message carries a unique marker

# Stamps the first moment each bench token appears in the DOM, in epoch milliseconds, and the
# moment the first conversation row is rendered (time to interactive).
OBSERVER = """
(() => {
  window.__seen = {};
  window.__inboxAt = null;
  const pattern = new RegExp(__PATTERN__, "g");
  const stamp = (text) => {
    if (!text) return;
    const now = performance.timeOrigin + performance.now();
    for (const token of text.match(pattern) || []) if (!(token in window.__seen)) window.__seen[token] = now;
  };
  new MutationObserver((records) => {
    if (window.__inboxAt === null && document.querySelector('[data-testid="conversation-row"]')) {
      window.__inboxAt = performance.now();
    }
    for (const record of records) {
      if (record.type === "characterData") stamp(record.target.textContent);
      for (const node of record.addedNodes) stamp(node.textContent);
    }
  }).observe(document, { childList: true, subtree: true, characterData: true });
})();
""".replace("__PATTERN__", json.dumps(MARKER_PATTERN))


def bundle_sizes() -> dict[str, int]:
    """Bytes of the built app's JS and CSS, raw and gzipped (level 9, as a CDN would serve)."""
    sizes = {"js_bytes": 0, "js_gzip_bytes": 0, "css_bytes": 0, "css_gzip_bytes": 0}
    for path in sorted((DIST / "assets").iterdir()):
        kind = {".js": "js", ".css": "css"}.get(path.suffix)
        if kind:
            raw = path.read_bytes()
            sizes[f"{kind}_bytes"] += len(raw)
            sizes[f"{kind}_gzip_bytes"] += len(gzip.compress(raw, compresslevel=9))
    sizes["total_gzip_bytes"] = sizes["js_gzip_bytes"] + sizes["css_gzip_bytes"]
    return sizes


def webhook(wa_id: str, text: str, name: str) -> dict[str, Any]:
    return payloads.whatsapp_text(WA.external_id, wa_id, text, name=name)


class Customers:
    """Posts signed webhooks and remembers when each POST started (epoch ms)."""

    def __init__(self, stack: LocalStack) -> None:
        self.url = stack.function_urls["webhook_whatsapp"]
        self.secret = stack.secrets.meta_app_secret
        self.session = requests.Session()
        self.sent: dict[str, float] = {}

    def write(self, index: int, wa_id: str, *, measured: bool) -> str:
        token = f"bench-{index}-{uuid.uuid4().hex[:8]}"
        body = json.dumps(webhook(wa_id, f"Message {token}", f"Customer {wa_id[-4:]}")).encode()
        headers = {
            "X-Hub-Signature-256": meta_signature(body, self.secret),
            "Content-Type": "application/json",
        }
        started = time.time() * 1000
        response = self.session.post(self.url, data=body, headers=headers, timeout=30)
        response.raise_for_status()
        if measured:
            self.sent[token] = started
        return token


def _wait_for_inbox(page: Any, timeout_s: float = 30) -> None:
    # Polls with evaluate (CDP, not subject to the page's CSP, unlike wait_for_function's eval);
    # the moment itself is stamped in the page by the observer, so polling adds no error.
    deadline = time.monotonic() + timeout_s
    while page.evaluate("window.__inboxAt") is None:
        if time.monotonic() > deadline:
            raise TimeoutError("the inbox did not render")
        page.wait_for_timeout(20)


def _latencies(page: Any, sent: dict[str, float], timeout_s: float = 60) -> list[float]:
    deadline = time.monotonic() + timeout_s
    seen: dict[str, float] = {}
    while time.monotonic() < deadline:
        seen = page.evaluate("window.__seen")
        if all(token in seen for token in sent):
            break
        page.wait_for_timeout(200)
    return [seen[t] - sent[t] for t in sent if t in seen]


def run(count: int = 200, warmup: int = 10, pace_seconds: float = 0.1) -> dict[str, object]:  # noqa: PLR0915 - one measured script
    """Measure and return the figures."""
    from playwright.sync_api import sync_playwright

    figures: dict[str, object] = {}
    with LocalStack() as stack:
        stack.apply_env()
        demo.seed()
        from shared import auth, ids, store

        uid = auth.invite(EMAIL, PASSWORD, demo.DEMO_TENANT, "agent", NAME)
        store.put_agent(demo.DEMO_TENANT, uid, {"name": NAME, "email": EMAIL, "role": "agent"})
        customers = Customers(stack)
        customers.write(0, "15559990000", measured=False)  # something in the inbox to render
        with DashboardServer(stack) as dashboard, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                context.add_init_script(OBSERVER)
                page = context.new_page()

                # Time to interactive: first visit, sign-in (the first of this browser, then again
                # in fresh browser contexts: the first one also pays the emulators' first requests),
                # then a reload while signed in.
                sign_ins: list[float] = []
                form_ms = 0.0
                for attempt in range(SIGN_INS):
                    visitor = (
                        context
                        if attempt == 0
                        else browser.new_context(viewport={"width": 1280, "height": 800})
                    )
                    if attempt:
                        visitor.add_init_script(OBSERVER)
                    tab = page if attempt == 0 else visitor.new_page()
                    tab.goto(dashboard.url)
                    tab.get_by_label("Email").wait_for()
                    form_ms = form_ms or tab.evaluate("performance.now()")
                    tab.get_by_label("Email").fill(EMAIL)
                    tab.get_by_label("Password").fill(PASSWORD)
                    clicked = tab.evaluate("performance.now()")
                    tab.get_by_role("button", name="Sign in").click()
                    _wait_for_inbox(tab)
                    sign_ins.append(tab.evaluate("window.__inboxAt") - clicked)
                    if attempt:
                        visitor.close()
                sign_in_ms = sign_ins[0]
                reloads = []
                for _ in range(5):
                    page.reload()
                    _wait_for_inbox(page)
                    reloads.append(page.evaluate("window.__inboxAt"))
                figures["time_to_interactive"] = {
                    "sign_in_form_ms": round(form_ms, 1),
                    "sign_in_click_to_inbox_ms": round(sign_in_ms, 1),
                    "sign_in_again_click_to_inbox": summary(sign_ins[1:]),
                    "signed_in_reload_to_inbox": summary(reloads),
                }
                report("dashboard_time_to_interactive", figures["time_to_interactive"])  # type: ignore[arg-type]

                # The live inbox: a new customer every time, a new row on top.
                for i in range(warmup + count):
                    customers.write(i, f"1555{7000000 + i:07d}", measured=i >= warmup)
                    time.sleep(pace_seconds)
                inbox = _latencies(page, customers.sent)
                figures["inbox"] = {**summary(inbox), "lost": len(customers.sent) - len(inbox)}
                figures["_samples_ms"] = inbox  # the report's histogram
                report("dashboard_webhook_to_dom_inbox", figures["inbox"])  # type: ignore[arg-type]

                # The open conversation: one customer keeps writing, the agent watches the thread.
                customers.sent.clear()
                wa_id = f"1555{7000000 + warmup + count - 1:07d}"  # the newest row: loaded, on top
                conversation_id = ids.conversation_id(WA.channel_id, wa_id)
                page.locator(f'[data-conversation-id="{conversation_id}"]').click()
                page.get_by_test_id("composer").wait_for()
                for i in range(warmup + count):
                    customers.write(10_000 + i, wa_id, measured=i >= warmup)
                    time.sleep(pace_seconds * 2)  # one person typing: slower than many customers
                thread = _latencies(page, customers.sent)
                figures["conversation"] = {**summary(thread), "lost": len(customers.sent) - len(thread)}
                report("dashboard_webhook_to_dom_conversation", figures["conversation"])  # type: ignore[arg-type]
            finally:
                browser.close()
    figures["bundle"] = bundle_sizes()
    report("dashboard_bundle", figures["bundle"])  # type: ignore[arg-type]
    return figures


if __name__ == "__main__":
    run()
