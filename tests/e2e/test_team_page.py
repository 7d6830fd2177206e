"""The team page in Chromium (issue 18): an owner invites someone by e-mail; the invitee opens the
link from the local outbox in a browser of their own, chooses a password and is signed in; as an
agent they are refused the admin pages; the owner makes them an admin (their open page signs out,
and they sign in again with the new role), then deactivates them: their open page is signed out at
once and the account can no longer sign in."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from infra.local.stack import LocalStack
from shared import mail
from tests.e2e.conftest import OLGA, Agent
from tests.support import eventually

pytestmark = pytest.mark.integration

NEW_PASSWORD = "fresh-hire-password"


def invitation_link(stack: LocalStack, email: str) -> str:
    def mailed() -> str:
        letters = [m for m in mail.outbox(stack.outbox_dir) if m["to"] == email]
        assert letters, f"no invitation to {email} yet"
        found = re.search(r"https?://\S+/#/invite/[A-Za-z0-9_-]+", letters[-1]["message"]["text"])
        assert found, letters[-1]
        return found.group(0)

    return eventually(mailed, what=f"the invitation e-mailed to {email}")


def sign_in(page: Any, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_an_owner_invites_an_agent_who_signs_up_then_changes_their_role_and_deactivates_them(
    open_dashboard: Any, open_page: Any, agents: dict[str, Agent], stack: LocalStack
) -> None:
    owner = open_dashboard(OLGA)
    owner.get_by_test_id("nav-admin").click()
    owner.get_by_test_id("admin-nav-team").click()
    expect(owner.get_by_test_id("team-member")).to_have_count(4)  # Dana, Sam, Ada, Olga
    owner.get_by_test_id("invite-email").fill("nina@demo.test")
    owner.get_by_test_id("invite-name").fill("Nina New")
    owner.get_by_test_id("invite-role").select_option("agent")
    owner.get_by_test_id("invite-send").click()
    expect(owner.get_by_test_id("team-notice")).to_contain_text("Invitation sent to nina@demo.test")
    expect(owner.get_by_test_id("team-invitation")).to_contain_text("nina@demo.test")

    # The invitee, in a browser of their own, opens the e-mailed link.
    link = invitation_link(stack, "nina@demo.test")
    assert link.startswith(stack.env()["SWITCHBOARD_DASHBOARD_URL"])
    nina = open_page(link, "nina")
    form = nina.get_by_test_id("accept-invitation")
    expect(form).to_contain_text("Join Demo Shop")
    expect(form).to_contain_text("Olga Owner invited you as agent")
    expect(nina.get_by_label("Email")).to_have_value("nina@demo.test")
    nina.get_by_label("Choose a password").fill(NEW_PASSWORD)
    nina.get_by_role("button", name="Join and sign in").click()
    expect(nina.get_by_test_id("agent-name")).to_contain_text("Nina New")

    # An agent has no admin pages: no link, and the address is refused.
    expect(nina.get_by_test_id("nav-admin")).to_have_count(0)
    nina.evaluate("window.location.hash = '#/admin/team'")
    expect(nina.get_by_test_id("admin-refused")).to_be_visible()
    expect(nina.get_by_test_id("team-page")).to_have_count(0)

    # The owner makes them an admin: their session ends, and the next one has the admin pages.
    owner.get_by_test_id("admin-nav-audit").click()
    owner.get_by_test_id("admin-nav-team").click()
    row = owner.locator("[data-testid=team-member][data-email='nina@demo.test']")
    expect(row).to_contain_text("Active")
    row.get_by_test_id("member-role").select_option("admin")
    expect(owner.get_by_test_id("team-notice")).to_contain_text("Nina New is now admin")
    expect(nina.get_by_role("alert")).to_contain_text("Your role changed")
    sign_in(nina, "nina@demo.test", NEW_PASSWORD)
    expect(nina.get_by_test_id("agent-name")).to_contain_text("Nina New")
    expect(nina.get_by_test_id("nav-admin")).to_be_visible()

    # Deactivated: the open page signs out at once, and signing in again is refused.
    row.get_by_test_id("member-deactivate").click()
    row.get_by_test_id("member-deactivate-confirm").click()
    expect(row.get_by_test_id("member-status")).to_have_text("Deactivated")
    expect(nina.get_by_role("alert")).to_contain_text("Your account was deactivated")
    expect(nina.get_by_role("button", name="Sign in")).to_be_visible()
    sign_in(nina, "nina@demo.test", NEW_PASSWORD)
    expect(nina.get_by_role("alert")).to_contain_text(re.compile("account was deactivated"))
    expect(nina.get_by_test_id("agent-name")).to_have_count(0)

    # Every step is in the audit log; the member's history link filters it by who acted (Nina: nothing).
    row.get_by_role("link", name="History").click()
    expect(owner.get_by_test_id("audit-log")).to_contain_text("No admin actions recorded yet")
    owner.get_by_test_id("audit-actor").select_option("")
    entries = owner.get_by_test_id("audit-entry")
    expect(entries).to_have_count(3)
    expect(entries.nth(0)).to_contain_text("agent.deactivate")
    expect(entries.nth(1)).to_contain_text("agent → admin")
    expect(entries.nth(2)).to_contain_text("agent.invite")
