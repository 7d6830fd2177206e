"""Hostile customer content in the agents' dashboard, through signed webhooks and Chromium:
bidirectional-text spoofing (a right-to-left override inside a URL or a name must not disguise it)
and remote media (a customer's image URL must not make the agent's browser fetch it until the agent
asks for it)."""

from __future__ import annotations

import struct
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from infra.local import demo
from infra.local.stack import LocalStack
from shared import ids, store
from tests.e2e.conftest import DANA
from tests.support import BackgroundServer, eventually, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
PAGE = next(c for c in demo.DEMO_CHANNELS if c.kind == "messenger")
RLO = "\u202e"
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
MARKER = "⟦U+202E⟧"

# Whether an element is a bidi isolate: its own computed unicode-bidi (a <bdi>, or an element
# styled so), and the text of that isolate.
ISOLATE = """el => {
  const style = getComputedStyle(el).unicodeBidi;
  return { unicodeBidi: style, tag: el.tagName, text: el.textContent };
}"""
# The nearest isolate around (or at) an element, within the page.
NEAREST_ISOLATE = """el => {
  for (let node = el; node && node !== document.body; node = node.parentElement) {
    const style = getComputedStyle(node).unicodeBidi;
    if (style === 'isolate' || style === 'isolate-override' || style === 'plaintext'
        || node.tagName === 'BDI')
      return { unicodeBidi: style, tag: node.tagName, text: node.textContent };
  }
  return null;
}"""


def has_controls(text: str) -> bool:
    return any(c in text for c in BIDI_CONTROLS)


def row(page: Page, conversation_id: str) -> Any:
    return page.locator(f'[data-testid="conversation-row"][data-conversation-id="{conversation_id}"]')


# --- a server of the customer's choosing: counts what the browser asks of it ------------------------


def png(size: int = 24) -> bytes:
    """A small, valid, opaque PNG (so a loaded <img> has a real size)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xd0\x30\x30" * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class MediaServer:
    """An HTTP server on 127.0.0.1 (a free port) standing in for the customer's host: it records
    every request (path and headers) and serves one PNG at /pic.png."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        image = png()
        recorded = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with recorded._lock:
                    recorded.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                if self.path.split("?")[0] == "/pic.png":
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Content-Length", str(len(image)))
                    self.send_header("Cache-Control", "no-store")
                    self.end_headers()
                    self.wfile.write(image)
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = BackgroundServer(Handler, "media-server")
        self.port = self._server.port
        self.host = self._server.host

    def paths(self) -> list[str]:
        with self._lock:
            return [path for path, _ in self.requests]

    def stop(self) -> None:
        self._server.stop()


@pytest.fixture
def media_server() -> Iterator[MediaServer]:
    server = MediaServer()
    try:
        yield server
    finally:
        server.stop()


def messenger_attachment(stack: LocalStack, psid: str, kind: str, url: str) -> str:
    """A customer sends one attachment on Messenger (a signed webhook, the URL Meta would host it at,
    here the customer's own server); return the conversation id."""
    at = int(time.time() * 1000)
    body = {
        "object": "page",
        "entry": [
            {
                "id": PAGE.external_id,
                "time": at,
                "messaging": [
                    {
                        "sender": {"id": psid},
                        "recipient": {"id": PAGE.external_id},
                        "timestamp": at,
                        "message": {
                            "mid": f"m_{uuid.uuid4().hex}",
                            "attachments": [{"type": kind, "payload": {"url": url}}],
                        },
                    }
                ],
            }
        ],
    }
    assert post_webhook(stack, "messenger", body).status_code == 200
    return ids.conversation_id(PAGE.channel_id, psid)


# --- the tests ---------------------------------------------------------------------------------------


def test_bidi_controls_cannot_disguise_a_link_or_a_name(clean_stack: LocalStack, open_dashboard: Any) -> None:
    wa_id = "15550090001"
    name = f"Mallory {RLO}rekcaH"
    text = f"pay https://bank.example/{RLO}gpj.exe"
    body = whatsapp_text_webhook(WA.external_id, wa_id, text, name=name)
    assert post_webhook(clean_stack, "whatsapp", body).status_code == 200
    conversation_id = ids.conversation_id(WA.channel_id, wa_id)

    page = open_dashboard(DANA)
    conversation = row(page, conversation_id)
    expect(conversation).to_be_visible()

    # The inbox row: the name and the preview are isolates, no raw control, the override shown.
    contact = conversation.get_by_test_id("contact-name")
    expect(contact).to_contain_text("Mallory")
    shown_name = contact.inner_text()
    assert not has_controls(shown_name), repr(shown_name)
    assert shown_name.strip() in (f"Mallory {MARKER}rekcaH", "Mallory rekcaH"), repr(shown_name)
    assert contact.locator("bdi").evaluate(ISOLATE)["unicodeBidi"] == "isolate"
    preview = conversation.get_by_test_id("last-message")
    expect(preview).to_contain_text("https://bank.example/")
    shown_preview = preview.inner_text()
    assert not has_controls(shown_preview), repr(shown_preview)
    assert MARKER in shown_preview or "https://bank.example/gpj.exe" in shown_preview, repr(shown_preview)
    assert preview.locator("bdi").evaluate(ISOLATE)["unicodeBidi"] == "isolate"

    # The open conversation: the header's name, then the message and its link.
    conversation.click()
    header = page.get_by_test_id("thread-contact")
    expect(header).to_contain_text("Mallory")
    assert not has_controls(header.inner_text()), repr(header.inner_text())
    assert header.locator("bdi").evaluate(ISOLATE)["unicodeBidi"] == "isolate"

    bubble = page.get_by_test_id("message").filter(has_text="pay")
    link = bubble.get_by_role("link")
    expect(link).to_have_count(1)
    link_text = link.inner_text()
    href_attribute = link.get_attribute("href") or ""
    href_resolved = link.evaluate("a => a.href")
    for value in (link_text, href_attribute, href_resolved):
        assert not has_controls(value), repr(value)
    # What the agent reads is the real order of the characters: the override is a visible marker
    # (or gone), and the address ends in .exe, as the link does.
    assert link_text in (f"https://bank.example/{MARKER}gpj.exe", "https://bank.example/gpj.exe"), repr(
        link_text
    )
    assert href_attribute == "https://bank.example/gpj.exe", href_attribute
    assert link.get_attribute("rel") == "noopener noreferrer nofollow"
    assert link.get_attribute("target") == "_blank"

    # The URL is an isolate of its own (nothing around it can reorder it), left to right ...
    around_link = link.evaluate(NEAREST_ISOLATE)
    assert around_link is not None and around_link["unicodeBidi"] == "isolate", around_link
    assert around_link["text"] == link_text, around_link
    assert link.evaluate("a => getComputedStyle(a).direction") == "ltr"
    # ... inside the message's text, an isolate as a whole.
    whole = bubble.get_by_test_id("rich-text").evaluate(ISOLATE)
    assert whole["unicodeBidi"] == "isolate" and whole["text"].startswith("pay "), whole


def test_the_customers_host_is_asked_by_our_fetcher_never_by_the_agents_browser(
    clean_stack: LocalStack, open_dashboard: Any, media_server: MediaServer
) -> None:
    """Inbound media is copied into our storage by queued work (issue 16): the agent's browser shows
    the stored copy, so the customer's server never learns an agent's address or browser."""
    image_url = f"http://{media_server.host}/pic.png?track=agent"
    conversation_id = messenger_attachment(clean_stack, "psid-media-1", "image", image_url)

    page = open_dashboard(DANA)
    row(page, conversation_id).click()
    image = page.locator('[data-testid="message"][data-type="image"]')
    expect(image.get_by_test_id("media-thumbnail")).to_be_visible(timeout=30_000)
    # One request, from our fetcher (not a browser), and nothing on the page points at that host.
    assert media_server.paths() == ["/pic.png?track=agent"], media_server.requests
    agent = media_server.requests[0][1].get("user-agent", "")
    assert "Mozilla" not in agent and "Chrom" not in agent, agent
    pointing_there = f'img[src*="{media_server.host}"], video[src*="{media_server.host}"]'
    expect(page.locator(pointing_there)).to_have_count(0)


def test_remote_media_of_older_messages_loads_only_when_the_agent_asks(
    clean_stack: LocalStack, open_dashboard: Any, media_server: MediaServer
) -> None:
    """Messages stored before media was copied (no content.media) still carry the provider's URL: those
    wait for the agent's click, and then load that one file, without a referrer."""
    image_url = f"http://{media_server.host}/pic.png?track=agent"
    video_url = f"http://{media_server.host}/clip.mp4"
    conversation_id = messenger_attachment(clean_stack, "psid-media-1", "image", image_url)
    messenger_attachment(clean_stack, "psid-media-1", "video", video_url)

    # Both fetches done (stored, and the video refused by the host), then the messages as they were
    # stored before: without content.media.
    def settled() -> list[Any]:
        docs = list(store.message_ref(demo.DEMO_TENANT, conversation_id, "x").parent.stream())
        states = [((d.to_dict() or {}).get("content") or {}).get("media") or [] for d in docs]
        done = len(docs) == 2 and all(m and m[0].get("state") in ("stored", "failed") for m in states)
        return docs if done else []

    for doc in eventually(settled, timeout=60, what="both media fetched or refused"):
        doc.reference.update({"content.media": store.delete_field()})
    media_server.requests.clear()

    page = open_dashboard(DANA)
    row(page, conversation_id).click()
    image = page.locator('[data-testid="message"][data-type="image"]')
    video = page.locator('[data-testid="message"][data-type="video"]')
    image_placeholder = image.get_by_test_id("remote-media")
    video_placeholder = video.get_by_test_id("remote-media")
    expect(image_placeholder).to_be_visible()
    expect(video_placeholder).to_be_visible()

    # Rendered, and nothing asked of the customer's server: no <img>, <video> or <audio> points there.
    assert media_server.paths() == [], media_server.requests
    expect(page.locator(f'img[src*="{media_server.host}"], video[src*="{media_server.host}"]')).to_have_count(
        0
    )
    # The placeholders name the host the media would come from.
    expect(image_placeholder).to_contain_text(f"Image from {media_server.host}")
    expect(image_placeholder.get_by_test_id("media-host")).to_have_text(media_server.host)
    expect(video_placeholder).to_contain_text(f"Video from {media_server.host}")

    # Load: that one image, exactly one request, with no referrer; the picture is shown.
    image_placeholder.get_by_role("button", name="Load").click()
    picture = image.get_by_test_id("media-img")
    expect(picture).to_be_visible()
    expect(picture).to_have_attribute("src", image_url)
    picture.evaluate("img => img.decode()")  # resolves once the image has loaded and decoded
    assert picture.evaluate("img => img.complete && img.naturalWidth") == 24
    assert media_server.paths() == ["/pic.png?track=agent"], media_server.requests
    assert "referer" not in media_server.requests[0][1], media_server.requests[0][1]
    # The video is still a placeholder, still never requested.
    expect(video_placeholder).to_be_visible()
    assert media_server.paths() == ["/pic.png?track=agent"], media_server.requests
