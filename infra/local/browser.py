"""How every local tool starts Chromium: the end-to-end tests, the screenshots and the dashboard benchmark."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")  # the Debian package the setup installs
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Nothing leaves this machine: every host but this one fails to resolve. Blocking here, not in a
    # Playwright route handler, keeps the pages' own requests flowing while a test waits in Python
    # (route handlers run only inside Playwright calls).
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
]
