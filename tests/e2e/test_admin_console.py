"""The admin console in Chromium: an admin opens it from the header and reads the audit log; an
agent has no way in (no link, and the console refuses them when they type its address)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from shared import audit
from shared.auth import Caller
from tests.e2e.conftest import ADA, DANA, Agent

pytestmark = pytest.mark.integration


def test_an_admin_reads_the_audit_log_and_an_agent_cannot_open_the_console(
    open_dashboard: Any, agents: dict[str, Agent]
) -> None:
    ada = agents[ADA.email]
    actor = Caller(uid=ada.uid, tenant_id=ada.tenant_id, role="admin", name=ada.name)
    audit.record(
        actor,
        "settings.change",
        {"kind": "workspace"},
        before={"timeZone": "UTC"},
        after={"timeZone": "Europe/Paris"},
    )
    audit.record(
        actor,
        "agent.role",
        {"kind": "agent", "id": "u-1", "name": "Dana Agent"},
        before="agent",
        after="admin",
    )

    page = open_dashboard(ADA)
    page.get_by_test_id("nav-admin").click()
    expect(page.get_by_test_id("admin-nav-team")).to_have_attribute("aria-current", "page")  # the first
    page.get_by_test_id("admin-nav-audit").click()
    expect(page.get_by_test_id("admin-nav-audit")).to_have_attribute("aria-current", "page")
    rows = page.get_by_test_id("audit-entry")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("agent.role")
    expect(rows.first).to_contain_text("agent → admin")
    page.get_by_test_id("audit-filter").select_option("settings.change")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Europe/Paris")

    other = open_dashboard(DANA)
    expect(other.get_by_test_id("nav-timeline")).to_be_visible()
    expect(other.get_by_test_id("nav-admin")).to_have_count(0)
    other.evaluate("window.location.hash = '#/admin/audit'")
    expect(other.get_by_test_id("admin-refused")).to_be_visible()
    expect(other.get_by_test_id("audit-log")).to_have_count(0)
