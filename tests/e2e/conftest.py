"""The dashboard and the embeddable chat in a real browser: Debian's Chromium driven by Playwright,
against the session's local stack and the built app served by DashboardServer.

One browser for the whole session; every agent gets its own browser context (its own cookies and
storage: a separate sign-in). A test that fails leaves a screenshot of every page it opened in
``.local/screenshots/``. Every page is also watched: a console error, an uncaught exception or a
request to anywhere but this machine fails the test.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from infra.local import demo
from infra.local.browser import CHROMIUM, CHROMIUM_ARGS
from infra.local.dashboard import DashboardServer
from infra.local.stack import LocalStack
from tests.chat.client import App, create_app
from tests.e2e.embed_support import ThirdPartySite

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / ".local" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct-horse-battery"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]"}


@dataclass(frozen=True)
class Agent:
    """A dashboard login: created in the Auth emulator with tenant/role claims, and in the directory."""

    email: str
    name: str
    tenant_id: str
    role: str = "agent"
    uid: str = ""


DANA = Agent("dana@demo.test", "Dana Agent", demo.DEMO_TENANT)
SAM = Agent("sam@demo.test", "Sam Support", demo.DEMO_TENANT)
EVE = Agent("eve@acme.test", "Eve Acme", demo.OTHER_TENANT)
ADA = Agent("ada@demo.test", "Ada Admin", demo.DEMO_TENANT, role="admin")
OLGA = Agent("olga@demo.test", "Olga Owner", demo.DEMO_TENANT, role="owner")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the item, so fixtures know at teardown whether the test failed."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="package")
def stack() -> Iterator[LocalStack]:
    """The browser tests' own stack (this package's ``clean_stack`` uses it). The Firestore
    emulator keeps a closed page's listener channel and retries every later matching write to it,
    logging each failure; with its own stack that ends with these tests instead of slowing every
    test after them."""
    with LocalStack() as running:
        running.apply_env()
        yield running


@pytest.fixture(scope="package")
def dashboard(stack: LocalStack) -> Iterator[DashboardServer]:
    """The built dashboard (rebuilt only when web/ changed), configured for these tests' stack."""
    with DashboardServer(stack) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session: Debian's binary, never a downloaded one."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(run scripts/bootstrap-web.sh, or `apt-get update && apt-get install -y chromium`)",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright for Python is missing: run scripts/bootstrap-web.sh", pytrace=False)
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        # Playwright gives every launch a fresh, temporary user data dir.
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def agents(clean_stack: LocalStack) -> dict[str, Agent]:
    """Two agents, an admin and the owner of the demo tenant and an agent of the other tenant, with an
    empty, seeded Firestore."""
    from shared import auth, store

    made = {}
    for agent in (DANA, SAM, EVE, ADA, OLGA):
        uid = auth.invite(agent.email, PASSWORD, agent.tenant_id, agent.role, agent.name)
        store.put_agent(agent.tenant_id, uid, {"name": agent.name, "email": agent.email, "role": agent.role})
        made[agent.email] = Agent(agent.email, agent.name, agent.tenant_id, agent.role, uid)
    clean_stack.sandbox.clear()
    return made


@dataclass
class Watched:
    """What a page did that a test must not allow: console errors, uncaught errors, outside requests."""

    label: str
    page: Any
    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)  # everything it logged, kept for a failure
    outside: list[str] = field(default_factory=list)


# Expected noise, not a fault: the browser reports each 4xx answer as a console error, and the
# tests provoke refusals (a send outside the reply window) on purpose.
EXPECTED_CONSOLE = (re.compile(r"Failed to load resource: the server responded with a status of 4\d\d"),)


@pytest.fixture
def open_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """``open_page(url, label, viewport=DESKTOP)`` -> a page in a browser context of its own, watched:
    a console error, an uncaught exception or a request to anywhere but this machine fails the test;
    a failing test leaves a screenshot of every page it opened."""
    contexts: list[Any] = []
    watched: list[Watched] = []

    def open_at(
        url: str,
        label: str,
        viewport: dict[str, int] | None = None,
        service_workers: str = "block",
        permissions: list[str] | None = None,
    ) -> Any:
        # service_workers="allow" and permissions=["notifications"]: a browser whose agent allowed
        # background notifications (tests/e2e/test_notifications.py).
        context = browser.new_context(viewport=viewport or DESKTOP, service_workers=service_workers)
        if permissions:
            context.grant_permissions(permissions)
        contexts.append(context)
        # The Firestore SDK logs its listen stream (web/src/lib/firebase.ts): a failing test leaves it
        # beside its screenshot, so an update that never reached the page can be told from one never
        # written. (Sandboxed frames refuse localStorage: the flag is for the app's own frames.)
        context.add_init_script("try { localStorage.setItem('switchboard:debug-firestore', '1') } catch {}")
        page = context.new_page()
        watch = Watched(f"{len(watched) + 1}-{label}", page)
        watched.append(watch)

        def on_console(message: Any) -> None:
            watch.console.append(f"{time.time():.3f} {message.type}: {message.text}")
            if message.type == "error" and not any(p.search(message.text) for p in EXPECTED_CONSOLE):
                watch.errors.append(f"console: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: watch.errors.append(f"uncaught: {exc}"))

        def outside(request: Any) -> None:
            host = urlsplit(request.url).hostname or ""
            if not request.url.startswith(("data:", "blob:")) and host not in LOCAL_HOSTS:
                watch.outside.append(request.url)  # blocked by --host-resolver-rules; still a fault

        page.on("request", outside)
        page.goto(url)
        return page

    yield open_at

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
                except Exception as exc:  # noqa: BLE001 - the page may be gone; the test's failure matters more  # the page may be gone; the test's own failure matters more
                    print(f"could not save {path}: {exc}")
                else:
                    print(f"screenshot: {path}")
                console = path.with_suffix(".console.log")
                console.write_text("\n".join(watch.console) + "\n", encoding="utf-8")
                print(f"console: {console}")
    finally:
        for context in contexts:
            context.close()
    if not failed:
        problems = [f"{w.label}: {e}" for w in watched for e in w.errors]
        problems += [f"{w.label}: request outside this machine: {u}" for w in watched for u in w.outside]
        assert not problems, "the page misbehaved:\n" + "\n".join(problems)


@pytest.fixture
def open_dashboard(
    open_page: Callable[..., Any], dashboard: DashboardServer, agents: dict[str, Agent]
) -> Callable[..., Any]:
    """``open_dashboard(agent, viewport=DESKTOP)`` -> a signed-in page showing the inbox."""
    from playwright.sync_api import expect

    def open_as(
        agent: Agent, viewport: dict[str, int] | None = None, sign_in: bool = True, **context: Any
    ) -> Any:
        page = open_page(dashboard.url, agent.email.split("@")[0], viewport, **context)
        if sign_in:
            page.get_by_label("Email").fill(agent.email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_test_id("agent-name")).to_contain_text(agent.name)
        return page

    return open_as


# --- the embeddable chat on a developer's own site -----------------------------------------------


@pytest.fixture(scope="package")
def third_party_site(dashboard: DashboardServer) -> Iterator[ThirdPartySite]:
    """A developer's site on its own origin, loading the bundle from the dashboard's origin."""
    with ThirdPartySite(f"{dashboard.url}/embed/switchboard-chat.js") as site:
        yield site


@pytest.fixture
def chat_app(clean_stack: LocalStack) -> App:
    """A new app (created through create_app by a new developer) on an empty Firestore."""
    return create_app(clean_stack, "Embed Test App")


@pytest.fixture
def open_site(open_page: Callable[..., Any], third_party_site: ThirdPartySite) -> Callable[..., Any]:
    """``open_site(viewport=DESKTOP)`` -> the developer's page, watched, with the bundle loaded."""

    def open_at(viewport: dict[str, int] | None = None) -> Any:
        page = open_page(third_party_site.url, "site", viewport)
        page.wait_for_function("() => typeof window.SwitchboardChat === 'object'")
        return page

    return open_at
