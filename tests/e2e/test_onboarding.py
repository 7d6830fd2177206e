"""Developer onboarding in Chromium: sign up on /developers, verify the e-mail address (the Auth
emulator keeps the verification e-mail's link: the test opens it in another tab, as the developer
would from their inbox), create an app, see its API key exactly once (stored only hashed) with the
embed snippet and the request for users' tokens; then the app's inbox; the live demo chat page, on
that app through the embeddable component; and the embed snippet, pasted as shown into a
developer's page on another origin."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from infra.local.dashboard import DashboardServer
from infra.local.stack import LocalStack
from shared import store
from shared.chat import keys
from tests.chat.client import App, oob_link
from tests.e2e.conftest import DANA, PASSWORD, Agent
from tests.e2e.embed_support import ThirdPartySite

pytestmark = pytest.mark.integration

KEY = re.compile(r"^sb_(app[0-9a-f]{16})_[A-Za-z0-9_-]{43}$")


def sign_up(page: Page) -> str:
    """A new developer signs up; the page asks them to verify their address. Their e-mail."""
    email = f"devi-{uuid.uuid4().hex[:8]}@apps.test"
    page.get_by_label("Your name").fill("Devi Developer")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    panel = page.get_by_test_id("verify-email")
    expect(panel).to_contain_text("Check your inbox")
    expect(panel).to_contain_text(f"We sent a link to {email}")
    expect(page.get_by_label("App name")).to_have_count(0)
    return email


def open_verification_link(page: Page, stack: LocalStack, email: str) -> None:
    """What the developer does in their inbox: open the link of the verification e-mail (the Auth
    emulator lists it), in a tab of its own, then come back to the page."""
    inbox = page.context.new_page()
    inbox.goto(oob_link(stack, email))
    inbox.close()
    page.bring_to_front()


def sign_up_and_create_app(page: Page, stack: LocalStack, app_name: str) -> tuple[str, str]:
    """A new developer signs up, verifies their address and creates an app: (app id, API key) as
    the page shows them."""
    email = sign_up(page)
    open_verification_link(page, stack, email)
    page.get_by_role("button", name="I have verified my address").click()
    page.get_by_label("App name").fill(app_name)
    page.get_by_role("button", name="Create app").click()
    expect(page.get_by_test_id("app-created")).to_be_visible()
    app_id = page.get_by_test_id("app-id").inner_text().strip()
    api_key = page.get_by_test_id("api-key").input_value()
    return app_id, api_key


def test_a_developer_signs_up_creates_an_app_and_sees_its_key_only_once(
    clean_stack: LocalStack, dashboard: DashboardServer, open_page: Callable[..., Any]
) -> None:
    page = open_page(f"{dashboard.url}/developers", "developer")
    expect(page.get_by_role("heading", name="Create your developer account")).to_be_visible()

    app_id, api_key = sign_up_and_create_app(page, clean_stack, "Acme Chat")

    match = KEY.match(api_key)
    assert match is not None and match[1] == app_id, api_key
    expect(page.get_by_role("note")).to_contain_text("only time the key is shown")
    # Stored only as a hash: the tenant names the app and a short prefix; the key document is its digest.
    tenant = store.get_tenant(app_id)
    assert tenant is not None
    assert tenant["kind"] == "app" and tenant["name"] == "Acme Chat" and tenant["plan"] == "free"
    assert api_key not in repr(tenant) and tenant["apiKeyPrefix"] == keys.prefix(api_key)
    assert keys.verify(api_key) == app_id
    # The snippet loads the bundle from this dashboard and names the app.
    snippet = page.get_by_test_id("embed-snippet").input_value()
    assert f'src="{dashboard.url}/embed/switchboard-chat.js"' in snippet
    assert f'appId: "{app_id}"' in snippet and "SwitchboardChat.mount(" in snippet
    backend = page.get_by_test_id("backend-snippet").input_value()
    assert f"{clean_stack.function_urls['chat_api']}/v1/token" in backend and api_key in backend
    # The key works at once: the developer's backend mints a user's token with it.
    minted = requests.post(
        f"{clean_stack.function_urls['chat_api']}/v1/token",
        json={"userId": "alice", "name": "Alice"},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=15,
    )
    assert minted.status_code == 200, minted.text
    assert minted.json()["tenantId"] == app_id

    # Shown once: after a reload the page knows the app and the key's prefix, never the key again.
    page.reload()
    membership = page.get_by_test_id("existing-membership")
    expect(membership).to_contain_text(app_id)
    expect(membership).to_contain_text(keys.prefix(api_key))
    expect(page.get_by_test_id("api-key")).to_have_count(0)
    assert api_key not in page.content()


def test_a_developer_verifies_the_address_before_creating_an_app_and_the_page_continues_on_its_own(
    clean_stack: LocalStack, dashboard: DashboardServer, open_page: Callable[..., Any]
) -> None:
    page = open_page(f"{dashboard.url}/developers", "developer")
    email = sign_up(page)
    # Not yet: the page says so and offers no app form.
    page.get_by_role("button", name="I have verified my address").click()
    expect(page.get_by_role("alert")).to_contain_text("not verified yet")
    expect(page.get_by_label("App name")).to_have_count(0)
    # Locally the page offers the link the Auth emulator kept (`make dev` has no mail server): the
    # same link the e-mail holds. Opened in its own tab; the page notices on its own (it reloads the
    # account when it regains focus, and every few seconds) and moves on to the app.
    link = page.get_by_role("link", name="Open the verification link")
    expect(link).to_have_attribute("href", oob_link(clean_stack, email))
    with page.expect_popup() as popup:
        link.click()
    popup.value.wait_for_load_state()
    popup.value.close()
    page.bring_to_front()
    expect(page.get_by_label("App name")).to_be_visible()
    expect(page.get_by_test_id("verify-email")).to_have_count(0)
    page.get_by_label("App name").fill("Verified App")
    page.get_by_role("button", name="Create app").click()
    expect(page.get_by_test_id("app-created")).to_be_visible()
    app_id = page.get_by_test_id("app-id").inner_text().strip()
    tenant = store.get_tenant(app_id)
    assert tenant is not None and tenant["name"] == "Verified App"


def test_the_new_app_admin_opens_the_apps_support_inbox(
    clean_stack: LocalStack, dashboard: DashboardServer, open_page: Callable[..., Any]
) -> None:
    page = open_page(f"{dashboard.url}/developers", "developer")
    sign_up_and_create_app(page, clean_stack, "Inbox App")
    page.get_by_role("link", name="Open the support inbox").click()
    # Same account, fresh claims: the app's admin, in the app's (empty) inbox.
    expect(page.get_by_test_id("agent-name")).to_contain_text("Devi Developer")


def test_an_account_of_a_business_is_told_it_cannot_create_an_app(
    dashboard: DashboardServer, agents: dict[str, Agent], open_page: Callable[..., Any]
) -> None:
    page = open_page(f"{dashboard.url}/developers", "dana")
    page.get_by_role("button", name="I already have an account").click()
    page.get_by_label("Email").fill(DANA.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    existing = page.get_by_test_id("existing-membership")
    expect(existing).to_contain_text("already belongs to a workspace")
    expect(existing).to_contain_text(DANA.tenant_id)
    expect(page.get_by_label("App name")).to_have_count(0)


def test_the_demo_chat_page_runs_two_live_users_on_the_new_app(
    clean_stack: LocalStack, dashboard: DashboardServer, open_page: Callable[..., Any]
) -> None:
    page = open_page(f"{dashboard.url}/developers", "developer")
    app_id, api_key = sign_up_and_create_app(page, clean_stack, "Demo App")
    page.get_by_role("link", name="Open the live demo chat").click()
    expect(page).to_have_url(f"{dashboard.url}/developers/demo?app={app_id}")

    ada, grace = page.get_by_test_id("demo-pane-ada"), page.get_by_test_id("demo-pane-grace")
    # Both embedded chats open the demo channel, with Grace's greeting (posted once).
    expect(ada.get_by_test_id("sb-post").filter(has_text="Hi Ada!")).to_have_count(1)
    expect(grace.get_by_test_id("sb-post").filter(has_text="Hi Ada!")).to_have_count(1)

    ada.get_by_test_id("sb-composer").fill("Hello Grace, from the embed")
    ada.get_by_test_id("sb-send").click()
    expect(grace.get_by_test_id("sb-post").filter(has_text="Hello Grace, from the embed")).to_have_count(1)
    expect(ada.get_by_test_id("sb-post").filter(has_text="Hello Grace, from the embed")).to_have_count(1)

    # The posts are the app's real data: the chat API lists them, each once, by the right user.
    listed = requests.post(
        f"{clean_stack.function_urls['chat_api']}/v1/posts",
        json={"channelId": "demo-welcome"},
        headers={"Authorization": f"Bearer {api_key}", "X-User-Id": "demo-grace"},
        timeout=15,
    )
    assert listed.status_code == 200, listed.text
    texts = [(p["user"]["id"], p["information"]["text"]) for p in listed.json()["posts"]]
    assert texts.count(("demo-ada", "Hello Grace, from the embed")) == 1
    assert texts.count(("demo-grace", "Hi Ada! Say something back.")) == 1


def test_the_demo_page_asks_for_the_key_after_a_reload_and_refuses_another_apps_key(
    clean_stack: LocalStack, dashboard: DashboardServer, open_page: Callable[..., Any]
) -> None:
    page = open_page(f"{dashboard.url}/developers", "developer")
    app_id, api_key = sign_up_and_create_app(page, clean_stack, "Reloaded App")
    page.goto(f"{dashboard.url}/developers/demo?app={app_id}")  # a new page load: the key is gone
    key_field = page.get_by_label("API key")
    expect(key_field).to_be_visible()
    key_field.fill(api_key.replace(app_id, "app0000000000000000"))
    page.get_by_role("button", name="Start the demo").click()
    expect(page.get_by_role("alert")).to_contain_text(f"not an API key of {app_id}")
    key_field.fill(api_key)
    page.get_by_role("button", name="Start the demo").click()
    greeting = page.get_by_test_id("demo-pane-grace").get_by_test_id("sb-post").filter(has_text="Hi Ada!")
    expect(greeting).to_have_count(1)


def test_the_embed_snippet_pasted_into_a_developers_page_shows_the_users_chat_live(
    clean_stack: LocalStack,
    dashboard: DashboardServer,
    third_party_site: ThirdPartySite,
    open_page: Callable[..., Any],
) -> None:
    page = open_page(f"{dashboard.url}/developers", "developer")
    app_id, api_key = sign_up_and_create_app(page, clean_stack, "Snippet App")
    snippet = page.get_by_test_id("embed-snippet").input_value()
    # The developer's backend, with the key: a token for its user, a channel with a friend in it.
    app = App(clean_stack, app_id, api_key, {})
    token = app.ok("token", {"userId": "alice", "name": "Alice"})["customToken"]
    app.ok("token", {"userId": "bob", "name": "Bob"})
    channel = app.ok("createSub", {"name": "Launch"}, user="alice")["id"]
    app.ok("createSub", {"channelId": channel}, user="bob")

    html = snippet.replace("<CUSTOM_TOKEN_FROM_YOUR_BACKEND>", token)
    assert html != snippet, "the snippet has no token placeholder"
    url = third_party_site.publish(
        "/snippet.html",
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>My app</title>'
        f'<link rel="icon" href="data:,"></head><body><h1>My app</h1>{html}</body></html>',
    )
    site = open_page(url, "snippet-page")
    chat = site.locator("#switchboard-chat").get_by_test_id("sb-chat")
    row = chat.locator(f'[data-testid="sb-channel"][data-channel-id="{channel}"]')
    expect(row).to_contain_text("Launch")
    expect(chat.get_by_test_id("sb-list")).to_have_attribute("aria-busy", "false")  # live from here
    app.ok(
        "createPost", {"channelId": channel, "text": "We ship on Friday", "clientPostId": "b1"}, user="bob"
    )
    expect(row.get_by_test_id("sb-unread")).to_have_text("1")
    row.click()
    expect(chat.get_by_test_id("sb-post").filter(has_text="We ship on Friday")).to_have_count(1)
