"""The admin console's Exports page in Chromium: an admin exports a range of messages as CSV,
watches it finish live and downloads the file; an agent has no such page."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from infra.local import demo
from tests.dataprotection import seeding
from tests.e2e.conftest import ADA, DANA, Agent

pytestmark = pytest.mark.integration

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def test_an_admin_starts_an_export_sees_it_finish_and_downloads_it(
    open_dashboard: Any, agents: dict[str, Agent], tmp_path: Path
) -> None:
    conversation = seeding.conversation(demo.DEMO_TENANT, "15550004444")
    texts = ['=cmd|" /C calc"!A0', "Where is my parcel?", 'He said "hi", then left']
    seeding.messages(demo.DEMO_TENANT, conversation, 3, start_ms=T0 + 3_600_000, text=lambda i: texts[i])

    page = open_dashboard(ADA)
    page.get_by_test_id("nav-admin").click()
    page.get_by_test_id("admin-nav-exports").click()
    page.get_by_test_id("export-from").fill("2026-01-01")
    page.get_by_test_id("export-to").fill("2026-01-01")
    page.get_by_test_id("export-format").select_option("csv")
    page.get_by_test_id("export-start").click()

    row = page.get_by_test_id("export-row").first
    expect(row).to_have_attribute("data-state", "done", timeout=90_000)  # live, from the job document
    expect(row.get_by_test_id("export-progress")).to_contain_text("3 message(s), ready")
    row.get_by_test_id("export-link").click()
    with page.expect_download() as download:
        row.get_by_test_id("export-file").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "messages-20260101-20260101.csv"
    rows = list(csv.reader(io.StringIO(saved.read_text(), newline="")))
    assert [r[rows[0].index("text")] for r in rows[1:]] == ["'" + texts[0], texts[1], texts[2]]

    other = open_dashboard(DANA)
    expect(other.get_by_test_id("nav-admin")).to_have_count(0)
    other.evaluate("window.location.hash = '#/admin/exports'")
    expect(other.get_by_test_id("exports-page")).to_have_count(0)
