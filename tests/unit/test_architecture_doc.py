"""ARCHITECTURE.md stays one map: its merges use git's union driver (.git/info/attributes), which
keeps both sides of a changed line, so a table row edited on two branches comes back twice."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from pathlib import Path

ARCHITECTURE = Path(__file__).resolve().parents[2] / "ARCHITECTURE.md"


def test_every_path_in_the_where_things_live_tables_has_one_row() -> None:
    paths = re.findall(r"^\| `([^`]+)` \|", ARCHITECTURE.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert paths, "no table rows found: has the table's format changed?"
    twice = sorted(path for path, count in Counter(paths).items() if count > 1)
    assert not twice, f"rows written more than once (a union merge kept both sides?): {twice}"


def test_no_line_of_prose_is_repeated_back_to_back() -> None:
    lines = [line for line in ARCHITECTURE.read_text(encoding="utf-8").splitlines() if len(line) > 40]
    repeated = [a for a, b in itertools.pairwise(lines) if a == b]
    assert not repeated, f"lines repeated back to back: {repeated[:3]}"
