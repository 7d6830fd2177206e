"""Parsing speed: µs per real provider payload, per channel, next to ``json.loads`` on the same bytes.

Reads every inbound webhook body in ``../shared/fixtures/providers/<channel>/`` (not the outbound
``out-*`` files, single ``*-item-*`` elements or handshake GETs) and times the full normalization the
webhook runs: split, every item, the pydantic events, the publishability check. No cloud needed.

    python -m bench.parse_speed [--rounds 7] [--loops 200]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.stats import report

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "providers"
BOT = "111222333"
FORM_CHANNELS = ("twilio",)


def bodies(channel: str) -> list[bytes]:
    """The channel's inbound webhook bodies, as received (Twilio's fixtures are forms as JSON)."""
    from urllib.parse import urlencode

    found = []
    for path in sorted((FIXTURES / channel).glob("*.json")):
        name = path.name
        if name.startswith("out-") or "-item-" in name or "verify" in name:
            continue
        raw = path.read_bytes()
        if channel in FORM_CHANNELS:
            data = json.loads(raw)
            fields = data.get("params", data) if isinstance(data, dict) else None
            if not isinstance(fields, dict):
                continue
            raw = urlencode({k: v for k, v in fields.items() if isinstance(v, str)}).encode()
        found.append(raw)
    return found


def best_us(run: Callable[[], Any], items: int, rounds: int, loops: int) -> float:
    """The best of ``rounds`` timings of ``loops`` runs, in µs per item."""
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(loops):
            run()
        timings.append((time.perf_counter() - started) / loops / items * 1e6)
    return min(timings)


def measure(channel: str, rounds: int = 7, loops: int = 200) -> dict[str, Any]:
    """µs per payload for ``channel``: normalize and json.loads."""
    from shared import channels
    from shared.inbound import normalize

    adapter = channels.adapter(channel)
    url = f"https://example.test/webhook-{channel}?bot={BOT}"
    payloads = bodies(channel)
    events = sum(len(normalize(adapter, body, url).events) for body in payloads)

    def parse_all() -> None:
        for body in payloads:
            normalize(adapter, body, url)

    def load_all() -> None:
        for body in payloads:
            with contextlib.suppress(ValueError):
                json.loads(body)

    parse = best_us(parse_all, len(payloads), rounds, loops)
    load = best_us(load_all, len(payloads), rounds, loops)
    return {
        "channel": channel,
        "payloads": len(payloads),
        "events": events,
        "normalize_us_per_payload": round(parse, 2),
        "json_loads_us_per_payload": round(load, 2),
        "ratio_to_json_loads": round(parse / load, 1) if load else None,
    }


def run(rounds: int = 7, loops: int = 200) -> dict[str, Any]:
    """Measure every channel; report one line per channel and return them."""
    import os

    # The adapters read their secrets lazily; parsing needs none, but settings must load.
    os.environ.setdefault("GOOGLE_CLOUD_PROJECT", "switchboard-bench")
    from shared import channels

    rows = {kind: measure(kind, rounds, loops) for kind in channels.kinds()}
    for row in rows.values():
        report("parse_speed", row)
    figures = {
        "channels": rows,
        "median_us": statistics.median(r["normalize_us_per_payload"] for r in rows.values()),
    }
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--loops", type=int, default=200)
    args = parser.parse_args(argv)
    run(args.rounds, args.loops)


if __name__ == "__main__":
    main()
