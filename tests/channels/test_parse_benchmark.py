"""bench/parse_speed.py times every channel's real payloads, none of them quarantined, and the
report renders its figures as a table (bench/report.py)."""

from __future__ import annotations

import sys

import pytest

from bench import parse_speed, report
from shared import channels


def test_the_parse_benchmark_times_every_channel_on_its_real_payloads() -> None:
    figures = parse_speed.run(rounds=1, loops=1)
    rows = figures["channels"]
    assert set(rows) == set(channels.kinds())
    for kind, row in rows.items():
        assert row["payloads"] > 0 and row["events"] > 0, kind
        # Quarantine is not the path to time: every payload is one the provider really sends.
        assert row["quarantined"] == 0, kind
        assert row["normalize_us_per_payload"] > 0 and row["json_loads_us_per_payload"] > 0


def test_the_report_shows_parse_microseconds_per_channel() -> None:
    row = {
        "payloads": 15,
        "events": 16,
        "normalize_us_per_payload": 21.5,
        "json_loads_us_per_payload": 5.1,
        "ratio_to_json_loads": 4.2,
        "spread_pct": 3.0,
    }
    text = report.markdown({"parse_speed": {"channels": {"whatsapp": row}}}, [], report.cost_per_million())
    assert "## Parsing speed" in text
    assert "| whatsapp | 15 | 16 | 21.5 | 5.1 | 4.2x | 3.0% |" in text
    assert "## Parsing speed" not in report.markdown({}, [], report.cost_per_million())
    assert report.BENCHMARKS["parse_speed"] == "bench.parse_speed"


def test_the_comparison_libraries_are_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    # Never a project dependency: without them the row says so, with them it carries their figures.
    monkeypatch.setitem(sys.modules, "fbmq", None)
    monkeypatch.setitem(sys.modules, "pywa", None)
    assert parse_speed.library("messenger") == (None, "fbmq 2.5.0 not installed")
    assert parse_speed.library("instagram") == (None, "fbmq 2.5.0 not installed")
    assert parse_speed.library("whatsapp") == (None, "pywa 4.5 not installed")
    assert parse_speed.library("telegram") == (None, "none")
    row = parse_speed.measure("messenger", rounds=1, loops=1)
    assert row["library"] == "fbmq 2.5.0 not installed" and "ratio_to_library" not in row
