"""Webhook throughput: verified, parsed and published events per second in one process.

Runs the real ``webhook_whatsapp`` target in-process (functions-framework's app, Flask test client)
against the real Pub/Sub emulator, POSTing Meta-sized batches, and reports events/s end to end
(signature check + parse + publish confirmed). Also reports parse-only throughput to show where the
time goes.
"""

from __future__ import annotations

import json
import os
import time

from bench.payloads import signed_poster, whatsapp_batch
from bench.stats import report
from infra.local.stack import LocalStack


def run(batches: int = 20, batch_size: int = 500) -> dict[str, object]:
    """Measure and return the figures."""
    with LocalStack(functions=()) as stack:
        stack.apply_env()
        from shared import channels
        from shared.inbound import normalize

        bodies = [json.dumps(whatsapp_batch(batch_size)).encode() for _ in range(batches + 1)]
        post = signed_poster("webhook_whatsapp", os.environ["META_APP_SECRET"])

        post(bodies[0])  # warm: clients, imports
        started = time.perf_counter()
        for body in bodies[1:]:
            post(body)
        elapsed = time.perf_counter() - started
        events = batches * batch_size

        adapter = channels.adapter("whatsapp")
        parse_started = time.perf_counter()
        for body in bodies[1:]:
            normalize(adapter, body)
        parse_elapsed = time.perf_counter() - parse_started
    figures = {
        "events": events,
        "batch_size": batch_size,
        "events_per_second": round(events / elapsed),
        "parse_only_events_per_second": round(events / parse_elapsed),
    }
    report("webhook_throughput", figures)
    return figures


if __name__ == "__main__":
    run()
