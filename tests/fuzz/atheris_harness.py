"""Coverage-guided fuzzing of every channel parser with atheris (libFuzzer).

atheris is a dev dependency: requirements-dev.txt pins 3.0.0, whose wheel for CPython 3.11 on x86_64
bundles libFuzzer (no clang needed; there is no wheel for aarch64). ``test_atheris.py`` runs this
script in every test run, for a bounded run with a fixed seed, and fails on any crash. For a longer
hunt::

    python -m tests.fuzz.atheris_harness -max_total_time=600      # or -runs=1000000

The first input byte picks the channel, the rest is the webhook body. The corpus starts from the real
payloads in ``../shared/fixtures/providers`` (written to a temporary directory). Each input must
normalize without raising, and what it gives must survive the same JSON round trip as in
``test_channel_parsers.py``. Inputs that hit a known bug (``KNOWN_BUG_SIGNATURES``, reproduced there)
are ignored unless ``--include-known-bugs`` is given, so the run looks for new ones.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["shared"]):
    import shared.channels.instagram
    import shared.channels.messenger
    import shared.channels.meta
    import shared.channels.telegram
    import shared.channels.twilio
    import shared.channels.whatsapp
    from shared import bus, channels
    from shared.inbound import normalize
    from shared.models import QuarantinedItem

from pydantic import TypeAdapter

from shared.models import InboundEvent
from tests.fuzz import corpus

KINDS = channels.kinds()
EVENTS: TypeAdapter[InboundEvent] = TypeAdapter(InboundEvent)
# (exception type name, a fragment of its message) of known bugs the run should pass over. None is
# open: the float overflow, lone surrogates and deep nesting are fixed, and the fuzzer reports them
# again if they come back (test_channel_parsers.py keeps a regression test of each).
KNOWN_BUG_SIGNATURES: tuple[tuple[str, str], ...] = ()
INCLUDE_KNOWN_BUGS = "--include-known-bugs" in sys.argv
_ = (shared.channels.instagram, shared.channels.messenger, shared.channels.meta, shared.channels.telegram)
_ = (shared.channels.twilio, shared.channels.whatsapp)


def _non_finite(value: object) -> bool:
    """Whether a parsed payload holds inf (JSON ``1e400``; the parsers refuse it, and
    test_channel_parsers.py keeps the regression test)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_non_finite(v) for v in value)
    return False


def check(data: bytes) -> None:
    """One fuzz input: byte 0 picks the channel, the rest is the body."""
    if not data:
        return
    kind = KINDS[data[0] % len(KINDS)]
    try:
        result = normalize(channels.adapter(kind), data[1:], corpus.webhook_url(kind))
        if not INCLUDE_KNOWN_BUGS and any(_non_finite(x.raw) for x in [*result.events, *result.quarantined]):
            return
        for event in result.events:
            if EVENTS.validate_json(EVENTS.dump_json(event)) != event:
                raise AssertionError(f"{kind} event changed in a JSON round trip")
            bus.event_message(event)
        for item in result.quarantined:
            QuarantinedItem.model_validate_json(item.model_dump_json())
            json.dumps(item.raw, allow_nan=False)
            bus.quarantine_message(item)
    except Exception as exc:
        known = any(type(exc).__name__ == name and text in str(exc) for name, text in KNOWN_BUG_SIGNATURES)
        if INCLUDE_KNOWN_BUGS or not known:
            raise


def seed_directory() -> Path:
    """The real payloads, each prefixed with its channel's byte, in a fresh directory."""
    folder = Path(tempfile.mkdtemp(prefix="switchboard-atheris-"))
    for index, kind in enumerate(KINDS):
        if kind == "twilio":
            bodies = [corpus.encode_form(list(pairs)) for pairs in corpus.form_seeds()]
        else:
            bodies = [corpus.encode_json(kind, seed) for seed in corpus.json_seeds(kind)]
        for number, body in enumerate(bodies):
            (folder / f"{kind}-{number}").write_bytes(bytes([index]) + body)
    return folder


def main() -> None:
    import logging

    logging.disable(logging.WARNING)  # the quarantine warnings would drown libFuzzer's output
    argv = [arg for arg in sys.argv if arg != "--include-known-bugs"]
    if not any(not arg.startswith("-") for arg in argv[1:]):
        argv.append(str(seed_directory()))
    atheris.Setup(argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
