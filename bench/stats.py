"""Percentiles and printing, shared by the benchmarks."""

from __future__ import annotations

import json
import statistics


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(values_ms: list[float]) -> dict[str, float]:
    """p50, p90, p99, mean, max of millisecond samples."""
    return {
        "n": len(values_ms),
        "p50_ms": round(percentile(values_ms, 50), 1),
        "p90_ms": round(percentile(values_ms, 90), 1),
        "p99_ms": round(percentile(values_ms, 99), 1),
        "mean_ms": round(statistics.fmean(values_ms), 1) if values_ms else float("nan"),
        "max_ms": round(max(values_ms), 1) if values_ms else float("nan"),
    }


def report(name: str, figures: dict[str, object]) -> None:
    """Print one benchmark's figures as a JSON line; keys starting with ``_`` (raw samples kept for
    the report's charts) are left out of the line."""
    print(json.dumps({"benchmark": name, **{k: v for k, v in figures.items() if not k.startswith("_")}}))
