"""The reports page in Chromium (issue 19 part 4): an admin opens it from the admin console, sees
the figures the fold counted from real webhooks, drawn as charts; the channel and date filters
narrow them; the CSV downloads with a row per day and per channel."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from infra.local import demo, payloads
from infra.local.stack import LocalStack
from shared import store
from tests.e2e.conftest import ADA, Agent
from tests.support import eventually, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
PAGE = next(c for c in demo.DEMO_CHANNELS if c.kind == "messenger")


def counted_in() -> int:
    days = store.list_report_days(demo.DEMO_TENANT, "0000-00-00", "9999-99-99")
    return sum(int(doc["dims"].get("all", {}).get("in", 0)) for doc in days)


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

    page = open_dashboard(ADA)
    page.get_by_test_id("nav-admin").click()
    page.get_by_test_id("admin-nav-reports").click()
    expect(page.get_by_test_id("reports-total-in")).to_contain_text("5")
    expect(page.get_by_test_id("reports-total-opened")).to_contain_text("5")
    chart = page.get_by_test_id("reports-chart-messages").locator("[data-drawn='true'] canvas")
    expect(chart).to_be_visible()
    drawn = chart.evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " for (let i = 3; i < d.length; i += 4) if (d[i]) return true; return false; }"
    )
    assert drawn, "the messages chart drew nothing"
    expect(page.get_by_test_id("reports-by-channel").locator("tbody tr")).to_have_count(2)

    page.get_by_test_id("reports-channel").select_option("messenger")
    expect(page.get_by_test_id("reports-total-in")).to_contain_text("2")
    page.get_by_test_id("reports-channel").select_option("")
    expect(page.get_by_test_id("reports-total-in")).to_contain_text("5")

    with page.expect_download() as download_info:
        page.get_by_test_id("reports-csv").click()
    download = download_info.value
    assert download.suggested_filename.startswith("reports-") and download.suggested_filename.endswith(".csv")
    lines = Path(download.path()).read_text(encoding="utf-8").splitlines()
    today = datetime.now(UTC).date().isoformat()
    assert lines[0].startswith("section,key,name,opened,resolved,messages_in,messages_out")
    assert any(line.startswith(f"day,{today},") and ",5,0," in line for line in lines)
    assert sorted(line.split(",")[1] for line in lines if line.startswith("channel,")) == [
        "messenger",
        "whatsapp",
    ]

    page.get_by_test_id("reports-from").fill("2020-01-01")
    page.get_by_test_id("reports-to").fill("2020-01-07")
    page.get_by_test_id("reports-to").dispatch_event("change")
    expect(page.get_by_test_id("reports-total-in")).to_contain_text("0")
