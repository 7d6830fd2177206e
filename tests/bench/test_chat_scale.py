"""bench/chat_scale.py runs end to end on the local stack (its smoke mode: channels of 2 and 100
members, a few posts each), through the public chat API, and prints what the report charts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import chat_scale

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
LINE_KEYS = {
    "members",
    "seeding",
    "writes_per_post",
    "reads_per_post",
    "background_writes_per_post",
    "background_reads_per_post",
    "listener_reads_per_post",
    "listener_reads_note",
    "max_document_writes_per_second",
    "push_fanout_seconds",
    "push_fanout_note",
    "post_latency_ms",
    "firestore_cost_per_1m_posts",
    "firestore_cost_per_1m_posts_nobody_online",
    "channel_document",
}


def test_the_smoke_run_measures_channels_of_2_and_100_members(tmp_path: Path) -> None:
    saved = tmp_path / "chat_scale.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(REPO)
    finished = subprocess.run(
        [sys.executable, "-m", "bench.chat_scale", "--smoke", "--save", str(saved)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-4000:]
    printed = [json.loads(line) for line in finished.stdout.splitlines() if line.startswith("{")]
    assert [line["members"] for line in printed] == [2, 100]
    result = json.loads(saved.read_text())
    assert result["commit"] and result["lines"] == printed
    for line in printed:
        assert set(line) >= LINE_KEYS, LINE_KEYS - set(line)
        assert line["posts"] >= chat_scale.MIN_POSTS
        assert line["writes_per_post"] >= 1  # at least the post itself, counted in chat_api's process
        assert line["reads_per_post"] >= 1
        assert line["post_latency_ms"]["p50"] > 0
        assert line["firestore_cost_per_1m_posts"] >= line["firestore_cost_per_1m_posts_nobody_online"] > 0
        assert line["channel_document"]["bytes"] > 0 and line["channel_document"]["index_entries"] > 0
        assert line["push_fanout_seconds"] is not None or line["push_fanout_note"]
    # One online member in ten listens: a 100-member channel's listener reads are those of ten members.
    assert printed[1]["listener_reads_per_post"] > printed[0]["listener_reads_per_post"]
    assert chat_scale.cost_series(result).keys() == {2, 100}
