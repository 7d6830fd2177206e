"""Message exports: memory stays flat as the export grows (issue 19, part 3).

    python -m bench.export [--sizes 5000 20000] [--format jsonl|csv]

Starts the Firestore and Cloud Storage emulators only, seeds each size's messages on a day of its
own (tests/dataprotection/seeding.py: as ingest writes them, search fields included), then runs each
export in this process exactly as deliver runs its steps (shared/exports.py: Firestore pages of 500
into a resumable upload of 1 MiB chunks, parts composed at the end) and prints, per size, the
messages exported per second and the peak of Python memory allocated during the export
(tracemalloc), plus the process's RSS growth. For 1M messages: ``--sizes 5000 1000000`` (the
emulator then takes a while to seed).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import tracemalloc
from pathlib import Path
from typing import Any

from infra.local import demo
from infra.local.stack import LocalStack

RESULTS = Path(__file__).resolve().parent / "results" / "export.json"
DAY_MS = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(sizes: list[int], fmt: str) -> dict[str, Any]:
    from shared import exports
    from shared.auth import Caller
    from tests.dataprotection import seeding

    admin = Caller(uid="bench", tenant_id=demo.DEMO_TENANT, role="admin")
    results: list[dict[str, Any]] = []
    with LocalStack(
        functions=(), with_auth=False, with_tasks=False, with_sandbox=False, with_fcm=False
    ) as stack:
        stack.apply_env()
        demo.seed()
        for n, size in enumerate(sizes):
            start_ms = T0 + n * 30 * DAY_MS
            conversation = seeding.conversation(demo.DEMO_TENANT, f"1555000{n:04d}")
            print(f"seeding {size:,} messages...", flush=True)
            seeding.messages(
                demo.DEMO_TENANT,
                conversation,
                size,
                start_ms=start_ms,
                step_ms=50,
                text=lambda i: f"message {i}: where is my parcel? it was due on monday, order #{i * 7919}",
            )
            job = exports.start(admin, start_ms, start_ms + size * 50 + 1, fmt, queue=False)
            rss_before = _rss_mib()
            tracemalloc.start()
            started = time.perf_counter()
            done = exports.run_inline(demo.DEMO_TENANT, job["id"])
            elapsed = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert done["count"] == size, done
            row = {
                "messages": size,
                "seconds": round(elapsed, 2),
                "messages_per_second": round(size / elapsed),
                "peak_traced_mib": round(peak / 2**20, 2),
                "rss_growth_mib": round(_rss_mib() - rss_before, 1),
                "file_mib": round(int(done["size"]) / 2**20, 2),
                "parts": done["parts"],
            }
            results.append(row)
            print(json.dumps(row), flush=True)
    return {"format": fmt, "page": exports.PAGE, "results": results}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000, 20_000])
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    args = parser.parse_args(argv)
    report = run(args.sizes, args.format)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    first, last = report["results"][0], report["results"][-1]
    print(
        f"{last['messages'] / first['messages']:.0f}x the messages: peak memory "
        f"{first['peak_traced_mib']} -> {last['peak_traced_mib']} MiB; written to {RESULTS}"
    )


if __name__ == "__main__":
    main()
