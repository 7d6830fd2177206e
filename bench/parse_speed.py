"""Parsing speed: µs per real provider payload, per channel, next to ``json.loads`` on the same bytes.

Reads every inbound webhook body in ``../shared/fixtures/providers/<channel>/`` (not the outbound
``out-*`` files, single ``*-item-*`` elements or handshake GETs) and times the full normalization the
webhook runs: split, every item, the pydantic events, the publishability check (which also gives the
JSON the webhook publishes). No cloud needed.

The webhook URL is the one the provider calls in production: Telegram's carries ``?bot=``, Twilio's
status callbacks our send's ``?via=&to=`` (without them a minimal callback cannot be routed and is
quarantined, which is not the path to time). Twilio posts a form, not JSON: its ``json.loads`` column
times the same fields as the fixture's JSON text.

Timings are the best of ``rounds`` rounds of ``loops`` passes over the channel's payloads, in the
process's CPU time (``time.process_time``): on the shared 2-core machine, wall time also counts the
time other processes hold the CPU, which made rounds differ by half. ``spread_pct`` (median round
over best round) says how noisy this run was.

Next to our figure, the library people use for that provider, where it is installed (it is never a
dependency of the project: install it in a throwaway venv, ``pip install fbmq==2.5.0 pywa==4.5.0``),
timed in the same rounds, interleaved with ours, so that a noisy neighbour slows both alike:

- Messenger and Instagram: fbmq 2.5.0, what ``Page.handle_webhook`` does before calling handlers:
  ``json.loads`` and ``event_parser`` on every ``messaging[]`` element (a dict wrapper, no
  validation; its ``handle_webhook`` itself returns at once for Instagram's ``object``).
- WhatsApp: pywa 4.5, ``WhatsApp.webhook_update_handler(body)`` with no handlers, no signature check,
  no duplicate filter and its logging off: the update type of the first message or status, built
  from the raw dict. ``library_handled`` counts the payloads it turned into an update (it raises on
  payloads without ``contacts[].user_id``).

Without the library the row says ``"library": "<name> not installed"``.

    python -m bench.parse_speed [--rounds 7] [--loops 200]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
    """``rounds`` timings of ``loops`` runs, each in µs of CPU time per item."""
    timings = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(loops):
            run()
        timings.append((time.process_time() - started) / loops / items * 1e6)
    return timings


def best_us(run: Callable[[], Any], items: int, rounds: int, loops: int) -> float:
    """The best of ``rounds`` timings of ``loops`` runs, in µs per item."""
    return min(timings_us(run, items, rounds, loops))


# --- the libraries people use, when installed (never a project dependency) ------------------------


@dataclass(frozen=True)
class Library:
    """A comparison library: ``parse(body)`` is its handling of one webhook body (timed);
    ``handled(body)`` whether it turned the body into its own event or update object (untimed).
    ``quiet`` is entered around each pass (what it prints or warns is not what we time)."""

    name: str
    parse: Callable[[bytes], object]
    handled: Callable[[bytes], bool]
    quiet: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext


class _Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


def _fbmq() -> Library | str:
    """fbmq 2.5.0: what ``Page.handle_webhook`` does before calling handlers (its object check
    aside, which would return at once for Instagram): ``json.loads``, then ``event_parser`` on
    every ``messaging[]`` element of every entry. It prints unknown elements: silenced."""
    name = "fbmq 2.5.0"
    try:
        from fbmq.fbmq import event_parser  # type: ignore[import-not-found]
    except ImportError:
        return f"{name} not installed"

    def parse(body: bytes) -> bool:
        made = False
        for entry in json.loads(body).get("entry") or ():
            for messaging in entry.get("messaging") or ():
                made = event_parser(messaging) is not None or made
        return made

    return Library(name, parse, parse, lambda: contextlib.redirect_stdout(_Discard()))


@contextlib.contextmanager
def _no_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _pywa() -> Library | str:
    """pywa 4.5: ``WhatsApp.webhook_update_handler(body)``, no handlers, no signature check, no
    duplicate filter, its logging off; it builds the update of the first message or status."""
    name = "pywa 4.5"
    try:
        from pywa import WhatsApp  # type: ignore[import-not-found]
        from pywa.types import RawUpdate  # type: ignore[import-not-found]
    except ImportError:
        return f"{name} not installed"
    logging.getLogger("pywa").setLevel(logging.CRITICAL + 1)  # its loggers inherit the level
    client = WhatsApp(
        phone_id="0",
        token="0",  # noqa: S106 - never used: nothing is sent
        server=None,
        verify_token=None,
        validate_updates=False,
        filter_updates=False,
        skip_duplicate_updates=False,
    )

    def handled(body: bytes) -> bool:
        # The two steps webhook_update_handler takes, as it takes them (its own errors are logged).
        update = RawUpdate(body, hmac_header=None, update_hash=None)
        try:
            handler = client._get_handler_type(update)
            return handler is not None and bool(
                client._handlers_to_updates[handler].from_update(client, update)
            )
        except Exception:  # noqa: BLE001 - whatever it raises, it did not handle the payload
            return False

    return Library(name, client.webhook_update_handler, handled, _no_warnings)


LIBRARIES: dict[str, Callable[[], Library | str]] = {
    "messenger": _fbmq,
    "instagram": _fbmq,
    "whatsapp": _pywa,
}


def library(channel: str) -> tuple[Library | None, str]:
    """The comparison library for ``channel``, or None and why there is none."""
    found = LIBRARIES.get(channel, lambda: "none")()
    return (None, found) if isinstance(found, str) else (found, found.name)


def measure(channel: str, rounds: int = 7, loops: int = 200) -> dict[str, Any]:
    """µs per payload for ``channel``: normalize, json.loads and the comparison library, timed in
    turn in every round."""
    from shared import channels
    from shared.inbound import normalize

    adapter = channels.adapter(channel)
    url = webhook_url(channel)
    payloads = bodies(channel)
    # Twilio's form has no JSON: its json.loads column reads the same fields as JSON text.
    json_bytes = [p.read_bytes() for p in fixture_files(channel)] if channel in FORM_CHANNELS else payloads
    results = [normalize(adapter, body, url) for body in payloads]
    lib, lib_name = library(channel)

    handled: list[bytes] = []
    if lib is not None:
        with lib.quiet():
            handled = [body for body in payloads if lib.handled(body)]

    def ours(group: list[bytes]) -> Callable[[], None]:
        def parse_all() -> None:
            for body in group:
                normalize(adapter, body, url)

        return parse_all

    def theirs(group: list[bytes]) -> Callable[[], None]:
        assert lib is not None

        def lib_all() -> None:
            with lib.quiet():
                for body in group:
                    lib.parse(body)

        return lib_all

    def load_all() -> None:
        for body in json_bytes:
            with contextlib.suppress(ValueError):
                json.loads(body)

    # Each timing in turn, every round: ours, json.loads, the library's, and both again on the
    # payloads the library handles (where it gives up early, its time is not a parse's).
    times: dict[str, list[float]] = {"ours": [], "load": [], "lib": [], "ours_handled": [], "lib_handled": []}
    for _ in range(rounds):
        times["ours"] += timings_us(ours(payloads), len(payloads), 1, loops)
        times["load"] += timings_us(load_all, len(json_bytes), 1, loops)
        if lib is not None:
            times["lib"] += timings_us(theirs(payloads), len(payloads), 1, loops)
        if handled:
            times["ours_handled"] += timings_us(ours(handled), len(handled), 1, loops)
            times["lib_handled"] += timings_us(theirs(handled), len(handled), 1, loops)
    parse = times["ours"]
    best = min(parse)
    load = min(times["load"])
    row = {
        "channel": channel,
        "payloads": len(payloads),
        "events": sum(len(r.events) for r in results),
        "quarantined": sum(len(r.quarantined) for r in results),
        "normalize_us_per_payload": round(best, 2),
        "json_loads_us_per_payload": round(load, 2),
        "ratio_to_json_loads": round(best / load, 1) if load else None,
        "spread_pct": round((statistics.median(parse) / best - 1) * 100, 1),
        "library": lib_name,
    }
    if lib is not None:
        row["library_handled"] = len(handled)
        row["library_us_per_payload"] = round(min(times["lib"]), 2)
        row["ratio_to_library"] = round(best / min(times["lib"]), 2)
        # The median round of each, for runs where the best rounds of the two fell apart.
        row["ratio_to_library_median"] = round(statistics.median(parse) / statistics.median(times["lib"]), 2)
    if handled:
        row["handled_normalize_us_per_payload"] = round(min(times["ours_handled"]), 2)
        row["handled_library_us_per_payload"] = round(min(times["lib_handled"]), 2)
        row["handled_ratio_to_library"] = round(min(times["ours_handled"]) / min(times["lib_handled"]), 2)
    return row


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
