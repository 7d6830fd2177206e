"""`python -m shared.cli parse`: offline normalization of payload files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support import PROVIDER_FIXTURES, REPO


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_parse_prints_one_json_line_per_event(tmp_path: Path) -> None:
    result = run_cli("parse", "whatsapp", str(PROVIDER_FIXTURES / "whatsapp" / "courier-hello.json"))
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["kind"], e["content"]["text"], e["contact_name"]) for e in events] == [
        ("message", "Hello World", "Kerry Fisher")
    ]


def test_parse_reports_quarantined_items_on_stderr_and_still_exits_zero(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    good = PROVIDER_FIXTURES / "messenger" / "courier-hello-msg.json"
    result = run_cli("parse", "messenger", str(broken), str(good))
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 1
    report = json.loads(result.stderr.splitlines()[0])
    assert report["file"] == str(broken) and report["quarantined"] == "invalid_body"


def test_parse_covers_every_published_payload_of_a_channel() -> None:
    files = sorted(str(p) for p in (PROVIDER_FIXTURES / "instagram").glob("courier-*.json"))
    result = run_cli("parse", "instagram", *files)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
