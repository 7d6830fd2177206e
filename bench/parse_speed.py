"""Parsing speed: µs per real provider payload, per channel, next to ``json.loads`` on the same bytes.

Reads every inbound webhook body in ``../shared/fixtures/providers/<channel>/`` (not the outbound
``out-*`` files, single ``*-item-*`` elements or handshake GETs) and times the full normalization the
webhook runs: split, every item, the pydantic events, the publishability check (which also gives the
JSON the webhook publishes). No cloud needed.

The webhook URL is the one the provider calls in production: Telegram's carries ``?bot=``, Twilio's
status callbacks our send's ``?via=&to=`` (without them a minimal callback cannot be routed and is
quarantined, which is not the path to time). Twilio posts a form, not JSON: its ``json.loads`` column
times the same fields as the fixture's JSON text.

Timings are the best of ``rounds`` rounds of ``loops`` passes over the channel's payloads; the shared
2-core machine is noisy, so ``spread_pct`` (median round over best round) says how noisy this run was.

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
from urllib.parse import urlencode

from bench.stats import report

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "providers"
BOT = "111222333"
FORM_CHANNELS = ("twilio",)
# What each channel's provider appends to the webhook URL (see the module docstring).
URL_QUERY = {
    "telegram": {"bot": BOT},
    "twilio": {"via": "+12028831111", "to": "+14133881111"},
}


def fixture_files(channel: str) -> list[Path]:
    """The channel's inbound webhook bodies as stored (JSON files)."""
    return [
        path
        for path in sorted((FIXTURES / channel).glob("*.json"))
        if not (path.name.startswith("out-") or "-item-" in path.name or "verify" in path.name)
    ]


def bodies(channel: str) -> list[bytes]:
    """The channel's inbound webhook bodies, as received (Twilio's fixtures are forms as JSON)."""
    found = []
    for path in fixture_files(channel):
        raw = path.read_bytes()
        if channel in FORM_CHANNELS:
            data = json.loads(raw)
            fields = data.get("params", data) if isinstance(data, dict) else None
            if not isinstance(fields, dict):
                continue
            raw = urlencode({k: v for k, v in fields.items() if isinstance(v, str)}).encode()
        found.append(raw)
    return found


def webhook_url(channel: str) -> str:
    """The URL the provider posts to, with the query it carries in production."""
    query = URL_QUERY.get(channel)
    return f"https://example.test/webhook-{channel}" + (f"?{urlencode(query)}" if query else "")


def timings_us(run: Callable[[], Any], items: int, rounds: int, loops: int) -> list[float]:
    """``rounds`` timings of ``loops`` runs, each in µs per item."""
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(loops):
            run()
        timings.append((time.perf_counter() - started) / loops / items * 1e6)
    return timings


def best_us(run: Callable[[], Any], items: int, rounds: int, loops: int) -> float:
    """The best of ``rounds`` timings of ``loops`` runs, in µs per item."""
    return min(timings_us(run, items, rounds, loops))


def measure(channel: str, rounds: int = 7, loops: int = 200) -> dict[str, Any]:
    """µs per payload for ``channel``: normalize and json.loads."""
    from shared import channels
    from shared.inbound import normalize

    adapter = channels.adapter(channel)
    url = webhook_url(channel)
    payloads = bodies(channel)
    # Twilio's form has no JSON: its json.loads column reads the same fields as JSON text.
    json_bytes = [p.read_bytes() for p in fixture_files(channel)] if channel in FORM_CHANNELS else payloads
    results = [normalize(adapter, body, url) for body in payloads]

    def parse_all() -> None:
        for body in payloads:
            normalize(adapter, body, url)

    def load_all() -> None:
        for body in json_bytes:
            with contextlib.suppress(ValueError):
                json.loads(body)

    parse = timings_us(parse_all, len(payloads), rounds, loops)
    load = best_us(load_all, len(json_bytes), rounds, loops)
    best = min(parse)
    return {
        "channel": channel,
        "payloads": len(payloads),
        "events": sum(len(r.events) for r in results),
        "quarantined": sum(len(r.quarantined) for r in results),
        "normalize_us_per_payload": round(best, 2),
        "json_loads_us_per_payload": round(load, 2),
        "ratio_to_json_loads": round(best / load, 1) if load else None,
        "spread_pct": round((statistics.median(parse) / best - 1) * 100, 1),
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
