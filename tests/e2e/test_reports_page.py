"""The reports page in Chromium (issue 19 part 4): an admin opens it from the admin console, sees
the figures the fold counted from real webhooks, drawn as charts, with a customer's rating in the
CSAT card; the channel and date filters narrow them, the agent table included; the CSV downloads
with a row per day and per channel."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from infra.local import demo, payloads
from infra.local.stack import LocalStack
from shared import ids, store
from tests.e2e.conftest import ADA, DANA, PASSWORD, SAM, Agent
from tests.reports.test_csat_and_rebuild import folded, rate
from tests.reports.test_reports_pipeline import call
from tests.support import eventually, identity, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
PAGE = next(c for c in demo.DEMO_CHANNELS if c.kind == "messenger")


def counted_in() -> int:
    days = store.list_report_days(demo.DEMO_TENANT, "0000-00-00", "9999-99-99")
    return sum(int(doc["dims"].get("all", {}).get("in", 0)) for doc in days)


def all_dim(dim: str) -> dict[str, Any]:
    days = store.list_report_days(demo.DEMO_TENANT, "0000-00-00", "9999-99-99")
    return next((doc["dims"][dim] for doc in days if dim in doc["dims"]), {})


def test_an_admin_filters_the_reports_sees_charts_and_downloads_the_csv(
    clean_stack: LocalStack, open_dashboard: Any, agents: dict[str, Agent]
) -> None:
    for i in range(3):
        body = whatsapp_text_webhook(WA.external_id, f"1555000810{i}", f"Hello {i}")
        assert post_webhook(clean_stack, "whatsapp", body).status_code == 200
    for i in range(2):
        body = payloads.messenger_text(PAGE.external_id, f"psid-report-{i}", f"Hi {i}")
        assert post_webhook(clean_stack, "messenger", body).status_code == 200
    eventually(lambda: counted_in() == 5, timeout=60, what="the reports' fold to count 5 messages")
    # Dana takes a WhatsApp conversation, whose customer rates it 5; Sam a Messenger one.
    token = identity(clean_stack, "signInWithPassword", {"email": ADA.email, "password": PASSWORD})["idToken"]
    rated = ids.conversation_id(WA.channel_id, "15550008100")
    for conversation_id, agent in (
        (rated, DANA),
        (ids.conversation_id(PAGE.channel_id, "psid-report-0"), SAM),
    ):
        assignee = agents[agent.email].uid
        call(
            clean_stack,
            token,
            {"action": "assign", "conversationId": conversation_id, "assigneeId": assignee},
        )
    assert rate(rated, "ask-e2e", 1, 5, int(datetime.now(UTC).timestamp() * 1000))
    body = payloads.messenger_text(PAGE.external_id, "psid-report-0", "Still there?")  # now Sam's
    assert post_webhook(clean_stack, "messenger", body).status_code == 200
    folded(
        lambda: (
            all_dim(f"agent:{agents[DANA.email].uid}").get("csat") == {"5": 1}
            and all_dim(f"agent:{agents[SAM.email].uid}").get("in") == 1
        )
    )

    page = open_dashboard(ADA)
    page.get_by_test_id("nav-admin").click()
    page.get_by_test_id("admin-nav-reports").click()
    expect(page.get_by_test_id("reports-total-in")).to_contain_text("6")
    expect(page.get_by_test_id("reports-total-opened")).to_contain_text("5")
    chart = page.get_by_test_id("reports-chart-messages").locator("[data-drawn='true'] canvas")
    expect(chart).to_be_visible()
    drawn = chart.evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " for (let i = 3; i < d.length; i += 4) if (d[i]) return true; return false; }"
    )
    assert drawn, "the messages chart drew nothing"
    expect(page.get_by_test_id("reports-by-channel").locator("tbody tr")).to_have_count(2)
    expect(page.get_by_test_id("reports-total-csat")).to_contain_text("100%")
    expect(page.get_by_test_id("reports-total-csat")).to_contain_text("1 rating")
    expect(page.get_by_test_id("reports-csat-score-5")).to_have_text("1")
    expect(page.get_by_test_id("reports-chart-csat").locator("[data-drawn='true'] canvas")).to_be_visible()
    agent_rows = page.get_by_test_id("reports-by-agent").locator("tbody tr")
    expect(agent_rows).to_have_count(2)
    expect(agent_rows.filter(has_text=DANA.name)).to_contain_text("100%")

    page.get_by_test_id("reports-channel").select_option("messenger")
    expect(page.get_by_test_id("reports-total-in")).to_contain_text("3")
    expect(agent_rows).to_have_count(1)
    expect(agent_rows).to_contain_text(SAM.name)
    expect(page.get_by_test_id("reports-total-csat")).to_contain_text("0 ratings")
    page.get_by_test_id("reports-channel").select_option("whatsapp")
    expect(agent_rows).to_have_count(1)
    expect(agent_rows).to_contain_text(DANA.name)
    page.get_by_test_id("reports-channel").select_option("")
    expect(page.get_by_test_id("reports-total-in")).to_contain_text("6")

    with page.expect_download() as download_info:
        page.get_by_test_id("reports-csv").click()
    download = download_info.value
    assert download.suggested_filename.startswith("reports-") and download.suggested_filename.endswith(".csv")
    lines = Path(download.path()).read_text(encoding="utf-8").splitlines()
    today = datetime.now(UTC).date().isoformat()
    assert lines[0].startswith("section,key,name,opened,assigned,resolved,messages_in,messages_out")
    # 5 opened, 2 of them assigned (Dana's and Sam's), none resolved
    assert any(line.startswith(f"day,{today},{today},5,2,0,") for line in lines)
    assert any(line.startswith(f"agent,{agents[DANA.email].uid},{DANA.name},0,1,0,") for line in lines)
    assert lines[0].endswith(",csat_ratings,csat_average,csat_percent")
    assert any(
        line.startswith(f"agent,{agents[DANA.email].uid},") and line.endswith(",1,5,100") for line in lines
    )
    assert sorted(line.split(",")[1] for line in lines if line.startswith("channel,")) == [
        "messenger",
        "whatsapp",
    ]

    page.get_by_test_id("reports-from").fill("2020-01-01")
    page.get_by_test_id("reports-to").fill("2020-01-07")
    page.get_by_test_id("reports-to").dispatch_event("change")
    expect(page.get_by_test_id("reports-total-in")).to_contain_text("0")
