"""Fixtures for the embeddable chat's browser tests (tests/e2e/test_embed.py): a developer's own web
page on its own origin, which loads ``<dashboard>/embed/switchboard-chat.js`` with a plain script tag
and mounts widgets with ``config: { appId }`` only, as the embed snippet does; an app created through
create_app; and pages watched like conftest's ``open_dashboard`` watches the dashboard."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any
from urllib.parse import urlsplit

import pytest

from infra.local.dashboard import DashboardServer
from infra.local.stack import LocalStack
from tests.chat.client import App, create_app
from tests.e2e.conftest import DESKTOP, EXPECTED_CONSOLE, LOCAL_HOSTS, SCREENSHOTS, Watched

SLOTS = ("chat-a", "chat-b")
# The host page's own styles try to reach into the widgets (hide their controls, recolour their
# text) and the page holds an element with the widget's class names: the shadow root must keep
# both sides apart.
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Acme Store</title>
<link rel="icon" href="data:,">
<style>
  body {{ margin: 16px; font-family: serif; }}
  .slot {{ display: inline-block; width: 360px; height: 560px; margin-right: 16px; vertical-align: top;
          color: rgb(200, 0, 0); font-family: "Times New Roman", serif; font-size: 22px; }}
  .slot button, .slot li, .slot textarea, .slot p, .sb-root, .sb-channel {{ display: none !important; }}
</style>
</head>
<body>
<h1>Acme Store</h1>
<p id="host-bubble" class="sb-bubble sb-post">The store's own paragraph.</p>
{slots}
<script src="{script}"></script>
<script>
  window.widgets = {{}};
  window.mountChat = async function (slot, token, appId, channelId) {{
    var options = {{ token: token, config: {{ appId: appId }} }};
    if (channelId) options.channelId = channelId;
    var widget = await SwitchboardChat.mount(document.getElementById(slot), options);
    window.widgets[slot] = widget;
    return widget.userId;
  }};
</script>
</body>
</html>
"""


class ThirdPartySite:
    """A developer's page served by a tiny HTTP server on 127.0.0.1 (a free port: another origin
    than the dashboard's)."""

    def __init__(self, script_url: str) -> None:
        slots = "\n".join(f'<div id="{slot}" class="slot"></div>' for slot in SLOTS)
        self.page = PAGE.format(slots=slots, script=html.escape(script_url)).encode()
        self._server: ThreadingHTTPServer | None = None
        self._thread: Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the site is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def start(self) -> ThirdPartySite:
        page = self.page

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if urlsplit(self.path).path != "/":
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = Thread(target=server.serve_forever, name="third-party-site", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ThirdPartySite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def third_party_site(dashboard: DashboardServer) -> Iterator[ThirdPartySite]:
    """The developer's page, loading the bundle from the dashboard's origin."""
    with ThirdPartySite(f"{dashboard.url}/embed/switchboard-chat.js") as site:
        yield site


@pytest.fixture
def chat_app(clean_stack: LocalStack) -> App:
    """A new app (created through create_app by a new developer) on an empty Firestore."""
    return create_app(clean_stack, "Embed Test App")


@pytest.fixture
def open_site(
    browser: Any, third_party_site: ThirdPartySite, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Any]]:
    """``open_site(viewport=DESKTOP)`` -> the developer's page in a new browser context, watched:
    a console error, an uncaught exception or a request off this machine fails the test."""
    contexts: list[Any] = []
    watched: list[Watched] = []

    def open_page(viewport: dict[str, int] | None = None) -> Any:
        context = browser.new_context(viewport=viewport or DESKTOP, service_workers="block")
        contexts.append(context)
        page = context.new_page()
        watch = Watched(f"site-{len(watched) + 1}", page)
        watched.append(watch)

        def on_console(message: Any) -> None:
            if message.type == "error" and not any(p.search(message.text) for p in EXPECTED_CONSOLE):
                watch.errors.append(f"console: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: watch.errors.append(f"uncaught: {exc}"))

        def guard(route: Any) -> None:
            host = urlsplit(route.request.url).hostname or ""
            if route.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
                route.continue_()
            else:
                watch.outside.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        page.goto(third_party_site.url)
        page.wait_for_function("() => typeof window.SwitchboardChat === 'object'")
        return page

    yield open_page

    failed = any(
        getattr(request.node, f"rep_{phase}", None) and getattr(request.node, f"rep_{phase}").failed
        for phase in ("setup", "call")
    )
    try:
        if failed:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            for watch in watched:
                path = SCREENSHOTS / f"{request.node.name}-{watch.label}.png"
                try:
                    watch.page.screenshot(path=str(path), full_page=True)
                except Exception as exc:  # the page may be gone; the test's own failure matters more
                    print(f"could not save {path}: {exc}")
                else:
                    print(f"screenshot: {path}")
    finally:
        for context in contexts:
            context.close()
    if not failed:
        problems = [f"{w.label}: {e}" for w in watched for e in w.errors]
        problems += [f"{w.label}: request outside this machine: {u}" for w in watched for u in w.outside]
        assert not problems, "the embedded chat misbehaved:\n" + "\n".join(problems)
