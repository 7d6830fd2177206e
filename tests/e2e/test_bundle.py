"""What the dashboard's first page load downloads: index.html's script, the chunks it preloads, and
everything those import statically. Web push (firebase/messaging) is imported on demand when an
agent turns notifications on (web/src/lib/webPush.ts), so it must not be among them: it stays in a
chunk of its own that the sign-in page never fetches."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra.local import dashboard

pytestmark = pytest.mark.integration

STATIC_IMPORT = re.compile(rb'(?:import|export)\s*(?:[\w${},*\s]+from\s*)?"\./([\w.-]+\.js)"')
DYNAMIC_IMPORT = re.compile(rb'import\([`"\']\./([\w.-]+\.js)[`"\']\)')
MESSAGING_MARK = b"pushManager"  # firebase/messaging subscribes the service worker's push manager


def first_load(dist: Path) -> set[str]:
    """The JS files a browser fetches before the app runs: the entry, its modulepreloads and,
    transitively, their static imports."""
    index = (dist / "index.html").read_bytes()
    pending = {m.decode() for m in re.findall(rb'(?:src|href)="/assets/([\w.-]+\.js)"', index)}
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending |= {m.decode() for m in STATIC_IMPORT.findall((dist / "assets" / name).read_bytes())}
    return seen


def test_web_push_code_is_not_in_the_first_page_load_but_in_a_chunk_loaded_on_demand() -> None:
    dashboard.build()
    assets = dashboard.DIST / "assets"
    eager = first_load(dashboard.DIST)
    assert any(name.startswith("firebase") for name in eager), eager  # Auth and Firestore are
    carrying = [name for name in eager if MESSAGING_MARK in (assets / name).read_bytes()]
    assert carrying == [], f"firebase/messaging is in the first load: {carrying}"

    lazy = {
        match.decode() for path in assets.glob("*.js") for match in DYNAMIC_IMPORT.findall(path.read_bytes())
    } - eager
    messaging = [name for name in lazy if MESSAGING_MARK in (assets / name).read_bytes()]
    assert len(messaging) == 1, (messaging, sorted(lazy))
