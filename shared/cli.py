"""Switchboard's command line: ``python -m shared.cli COMMAND``.

    parse CHANNEL FILE...      print the normalized events of each webhook body as JSON lines;
                               what would be quarantined goes to stderr. Needs no cloud at all.
    replay-quarantine          run quarantined items through the current parser and publish what
                               now parses (and unknown-route events whose channel is now connected).

Against the local stack, add ``--env-file .local/stack.json`` (written by ``make dev``); in production
the usual GOOGLE_CLOUD_PROJECT and application-default credentials apply.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from shared import channels
from shared.inbound import Normalized, normalize, parse_into


def load_env_file(path: Path) -> None:
    """Export the ``env`` map of a stack state file (``.local/stack.json``) into this process."""
    os.environ.update(json.loads(path.read_text())["env"])
    from shared import bus, config, store

    config.reset()
    bus.reset()
    store.reset()


def cmd_parse(channel: str, files: list[Path]) -> int:
    """Print each file's events to stdout (JSON lines) and quarantine records to stderr."""
    adapter = channels.adapter(channel)
    for path in files:
        result = normalize(adapter, path.read_bytes())
        for event in result.events:
            print(event.model_dump_json())
        for item in result.quarantined:
            print(
                json.dumps({"file": str(path), "quarantined": item.reason, "error": item.error}),
                file=sys.stderr,
            )
    return 0


def replay_one(reason: str, channel: str, raw: object, url: str | None = None) -> tuple[str, Normalized]:
    """Re-run one quarantined item; return an outcome word and what it now gives."""
    from shared import inbox, store

    result = Normalized()
    if reason == "unknown_route":
        event = inbox.decode_event(json.dumps(raw))
        if store.resolve_route(event.route_key) is None:
            return "still-unrouted", result
        result.events.append(event)
        return "published", result
    if reason == "invalid_event":
        result.events.append(inbox.decode_event(raw if isinstance(raw, str) else json.dumps(raw)))
        return "published", result
    adapter = channels.adapter(channel)
    if reason == "invalid_body":
        result = normalize(adapter, str(raw).encode(), url)
    elif isinstance(raw, dict):
        parse_into(adapter, raw, result)
    if result.quarantined:
        return "still-failing", Normalized(events=[])
    return "published", result


def cmd_replay_quarantine(dry_run: bool) -> int:
    """Replay every unreplayed quarantined item that now succeeds."""
    from shared import bus, store

    counts: dict[str, int] = {}
    for quarantine_id, item in store.list_quarantine():
        try:
            outcome, result = replay_one(item.reason, item.channel, item.raw, item.url)
        except Exception as exc:  # one bad record must not stop the replay of the others
            outcome, result = f"error:{type(exc).__name__}", Normalized()
        if outcome == "published" and not dry_run:
            bus.publish(result.events)
            store.mark_quarantine_replayed(quarantine_id, f"published {len(result.events)} events")
        counts[outcome] = counts.get(outcome, 0) + 1
        print(
            json.dumps(
                {"id": quarantine_id, "reason": item.reason, "outcome": outcome, "events": len(result.events)}
            )
        )
    print(json.dumps({"summary": counts}), file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests)."""
    parser = argparse.ArgumentParser(
        prog="python -m shared.cli", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env-file", type=Path, help="stack state file to take the environment from")
    commands = parser.add_subparsers(dest="command", required=True)
    parse = commands.add_parser("parse", help="normalize webhook bodies offline")
    parse.add_argument("channel", choices=channels.kinds())
    parse.add_argument("files", nargs="+", type=Path)
    replay = commands.add_parser("replay-quarantine", help="re-run quarantined items and publish what parses")
    replay.add_argument("--dry-run", action="store_true", help="report only; publish nothing")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    if args.env_file:
        load_env_file(args.env_file)
    if args.command == "parse":
        return cmd_parse(args.channel, args.files)
    return cmd_replay_quarantine(args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
