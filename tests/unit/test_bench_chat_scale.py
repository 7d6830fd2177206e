"""bench/chat_scale.py's arithmetic (cost per 1M posts, growth, the projection to the target rate)
and the report's chart and table of cost per 1M posts against N, before and after."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import chat_scale, limits, report


def line(members: int, cost: float, writes: float = 3.0) -> dict[str, Any]:
    return {
        "benchmark": "chat_scale",
        "members": members,
        "writes_per_post": writes,
        "reads_per_post": 3.0,
        "listener_reads_per_post": members * 0.2,
        "post_latency_ms": {"p50": 30.0, "p99": 60.0},
        "push_fanout_seconds": None,
        "firestore_cost_per_1m_posts": cost,
        "firestore_cost_per_1m_posts_nobody_online": cost / 2,
        "channel_document": {"bytes": 600 + 25 * members, "index_entries": 60 + 2 * members},
    }


def run(commit: str, costs: dict[int, float]) -> dict[str, Any]:
    lines = [line(n, c) for n, c in costs.items()]
    lines.append({"benchmark": "chat_scale_limits", "verdict": "within production limits", "would_break": []})
    return {"commit": commit, "online_share": 0.1, "lines": lines}


def test_cost_per_million_posts_uses_the_reports_list_prices() -> None:
    # 4 writes and 4 reads a post: 1M posts = 40 x 100k writes at $0.09 + 40 x 100k reads at $0.03.
    assert chat_scale.cost_per_million(4, 4) == pytest.approx(40 * 0.09 + 40 * 0.03)
    assert report.PRICES["firestore_write_per_100k"] == 0.09
    # The count of the old code: N+3 writes and N+4 reads at N=10,000 is about $12,000.
    assert chat_scale.cost_per_million(10_003, 10_004) == pytest.approx(12_003.9, abs=0.1)


def test_the_cost_series_reads_the_per_n_lines_only() -> None:
    series = chat_scale.cost_series(run("abc", {2: 6.0, 100: 130.0}))
    assert series == {2: (6.0, 3.0), 100: (130.0, 65.0)}
    assert chat_scale.cost_series({}) == {}


def test_the_channel_documents_growth_is_projected_to_the_limits() -> None:
    growth = chat_scale.growth([line(1000, 1.0), line(10_000, 1.0)])
    assert growth["index_entries_by_members"] == {1000: 2060, 10_000: 20_060}
    assert growth["reaches_40000_index_entries_at_members"] == round((40_000 - 60) / 2)
    assert growth["reaches_1_mib_at_members"] == round((limits.MAX_DOCUMENT_BYTES - 600) / 25)


def test_writes_are_projected_to_the_target_rate_by_compressing_time() -> None:
    writes = [limits.Write(100.0 + i, "chat_api", "t/a/conversations/c") for i in range(4)]  # 1 post/s
    faster = chat_scale.compress(writes, 100.0, rate=1.0, target=10.0)
    assert [w.at for w in faster] == pytest.approx([100.0, 100.1, 100.2, 100.3])
    assert limits.max_in_window(w.at for w in faster) == 4


def test_the_report_charts_cost_per_million_posts_before_and_after(tmp_path: Path) -> None:
    before = run("old1234567890", {2: 6.0, 100: 130.0, 1000: 1300.0, 10_000: 13_000.0})
    after = run("new1234567890", {2: 4.0, 100: 5.0, 1000: 9.0, 10_000: 60.0})
    images = report.chat_scale_chart(after, tmp_path, before=before)
    assert images == ["chat_scale_cost.png"]
    assert (tmp_path / "chat_scale_cost.png").read_bytes().startswith(b"\x89PNG")
    table = "\n".join(report.chat_scale_table(after, before=before))
    assert "| before | 10,000 |" in table and "| after | 10,000 |" in table
    assert "13,000.00" in table and "old1234567890" in table
    assert "within production limits" in table


def test_the_chart_needs_at_least_one_run(tmp_path: Path) -> None:
    assert report.chat_scale_chart({}, tmp_path, before={}) == []
    assert report.chat_scale_table({}, before={}) == []
    only_before = report.chat_scale_chart({}, tmp_path, before=run("old", {2: 6.0, 100: 130.0}))
    assert only_before == ["chat_scale_cost.png"]


def test_the_report_adds_the_chart_and_table_when_chat_scale_ran(tmp_path: Path) -> None:
    after = run("new1234567890", {2: 4.0, 100: 5.0})
    images = report.charts({"chat_scale": after}, tmp_path)
    assert "chat_scale_cost.png" in images
    text = report.markdown({"chat_scale": after}, images, report.cost_per_million())
    assert "## Chat at community scale" in text and "![chat_scale_cost.png](chat_scale_cost.png)" in text
    assert "chat_scale_cost.png" not in report.charts({}, tmp_path)


def test_a_channel_document_that_does_not_grow_with_n_reaches_no_limit() -> None:
    flat = [line(1000, 1.0), line(10_000, 1.0)]
    for measured in flat:
        measured["channel_document"] = {"bytes": 680 + measured["members"] // 1000, "index_entries": 60}
    growth = chat_scale.growth(flat)
    assert growth["reaches_40000_index_entries_at_members"] is None
    assert growth["reaches_1_mib_at_members"] is None
