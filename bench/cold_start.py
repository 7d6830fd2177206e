"""Cold start of each webhook target: process start -> first 200 on a signed POST (which publishes),
next to a bare functions-framework function that imports only google-cloud-pubsub and publishes.

Each target is started several times; the median is reported with its ratio to the baseline.
"""

from __future__ import annotations

import json
import statistics
import time

import requests

from bench.payloads import whatsapp_batch
from bench.stats import report
from infra.local.processes import REPO, Process, free_port, release_port
from infra.local.simulate import meta_signature, text_payload
from infra.local.stack import LocalStack, _venv_bin

TARGETS = ("webhook_messenger", "webhook_instagram", "webhook_whatsapp")


def _first_200(
    name: str, source: str, target: str, env: dict[str, str], body: bytes, headers: dict[str, str]
) -> float:
    port = free_port()
    process = Process(
        name,
        [
            _venv_bin("functions-framework"),
            "--target",
            target,
            "--source",
            source,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
    )
    started = time.perf_counter()
    process.start()
    try:
        deadline = started + 60
        while time.perf_counter() < deadline:
            try:
                response = requests.post(f"http://127.0.0.1:{port}/", data=body, headers=headers, timeout=10)
                if response.status_code == 200:
                    return (time.perf_counter() - started) * 1000
            except requests.ConnectionError:
                time.sleep(0.01)
        raise TimeoutError(f"{target} never answered 200")
    finally:
        process.stop()
        release_port(port)


def run(rounds: int = 5) -> dict[str, object]:
    """Measure and return the figures."""
    with LocalStack(functions=()) as stack:
        env = stack.env()
        body = json.dumps(whatsapp_batch(1, contacts=1)).encode()
        signed = {
            "X-Hub-Signature-256": meta_signature(body, stack.secrets.meta_app_secret),
            "Content-Type": "application/json",
        }
        results: dict[str, list[float]] = {"baseline_pubsub_only": []}
        for target in TARGETS:
            results[target] = []
        for _ in range(rounds):  # interleave, so machine noise spreads evenly
            results["baseline_pubsub_only"].append(
                _first_200(
                    "cold-baseline", str(REPO / "bench" / "baseline_main.py"), "baseline", env, body, signed
                )
            )
            for target in TARGETS:
                kind = target.removeprefix("webhook_")
                payload = json.dumps(text_payload(kind, "cold start", "15550001", "Cold Start")).encode()
                headers = {
                    **signed,
                    "X-Hub-Signature-256": meta_signature(payload, stack.secrets.meta_app_secret),
                }
                results[target].append(
                    _first_200(f"cold-{target}", str(REPO / "main.py"), target, env, payload, headers)
                )
    baseline = statistics.median(results["baseline_pubsub_only"])
    figures: dict[str, object] = {"rounds": rounds}
    for name, samples in results.items():
        median = statistics.median(samples)
        figures[name] = {"median_ms": round(median), "ratio_to_baseline": round(median / baseline, 3)}
    report("cold_start", figures)
    return figures


if __name__ == "__main__":
    run()
