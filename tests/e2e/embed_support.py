"""A developer's own web site for the embeddable chat's browser tests: its page, on its own origin,
loads ``<dashboard>/embed/switchboard-chat.js`` with a plain script tag and mounts widgets with
``config: { appId }`` only, as the embed snippet does. Tests may publish more pages on it (the
snippet exactly as the onboarding page shows it). The fixtures are in conftest.py."""

from __future__ import annotations

import html
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any
from urllib.parse import urlsplit

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
        self.pages = {"/": PAGE.format(slots=slots, script=html.escape(script_url)).encode()}
        self._server: ThreadingHTTPServer | None = None
        self._thread: Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the site is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def publish(self, path: str, page: str) -> str:
        """Serve ``page`` (HTML) at ``path`` too; its URL."""
        self.pages[path] = page.encode()
        return self.url.rstrip("/") + path

    def start(self) -> ThirdPartySite:
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                page = pages.get(urlsplit(self.path).path)
                if page is None:
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
