"""The atheris harness (``atheris_harness.py``) as a test: libFuzzer, coverage-guided, drives every
channel parser from the real provider payloads for a bounded run, which must end cleanly with no
crash file.

The harness runs in a subprocess: atheris takes over the process (libFuzzer's main loop, bytecode
instrumentation at import) and ends it with ``os._exit``. The run is reproducible (``-seed``) and
bounded by count and by time, whichever comes first, so it stays under ~30 s on a loaded machine.
A crash leaves the failing input (``crash-*``) in the test's temporary directory and libFuzzer's
report, with the Python traceback, in the assertion message; rerun it with
``python -m tests.fuzz.atheris_harness <that file>``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

from shared import channels
from tests.fuzz import corpus

REPO = Path(__file__).resolve().parents[2]
RUNS = 100_000
MAX_SECONDS = 20
MIN_RUNS = 5_000  # fewer executions than this in MAX_SECONDS means the harness barely ran


def seed_count() -> int:
    """How many real payloads the harness seeds its corpus with (one file each)."""
    return sum(
        len(corpus.form_seeds()) if kind == "twilio" else len(corpus.json_seeds(kind))
        for kind in channels.kinds()
    )


def test_atheris_is_installed() -> None:
    assert importlib.util.find_spec("atheris") is not None, (
        "atheris is missing: it is pinned in requirements-dev.txt, which scripts/bootstrap.sh installs"
    )


def test_a_bounded_atheris_run_from_the_real_payloads_finds_no_crash(tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    command = [
        sys.executable,
        "-m",
        "tests.fuzz.atheris_harness",
        "-seed=1",
        f"-runs={RUNS}",
        f"-max_total_time={MAX_SECONDS}",
        "-timeout=10",  # one input taking longer is a hang: reported as a crash (timeout-*)
        f"-artifact_prefix={artifacts}/",
        "-print_final_stats=1",
    ]
    # The harness writes its seed corpus (and libFuzzer the inputs it keeps) under TMPDIR.
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    result = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=MAX_SECONDS + 60, check=False
    )
    report = result.stderr[-6000:]
    crashes = sorted(path.name for path in artifacts.iterdir())
    assert result.returncode == 0, f"atheris exited {result.returncode}, left {crashes}:\n{report}"
    assert crashes == [], report

    # It started from every real payload, and it really ran.
    found = re.search(r"INFO:\s+(\d+) files found in (\S+)", result.stderr)
    assert found, report
    assert int(found.group(1)) == seed_count(), report
    assert Path(found.group(2)).is_relative_to(tmp_path), report
    executed = re.search(r"stat::number_of_executed_units:\s+(\d+)", result.stderr)
    assert executed, report
    assert int(executed.group(1)) >= MIN_RUNS, report
