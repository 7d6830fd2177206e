"""Mergeable duration distributions: fixed log-scale buckets, so medians and 90th percentiles come
out of counters that any number of folds (and days, channels, agents) add up.

A distribution is ``{"n": count, "sum": seconds, "b": {"<bucket>": count}}``. Bucket ``i`` holds
durations in ``[2**(i/4), 2**((i+1)/4))`` seconds (bucket 0 also holds everything under a second):
four buckets per doubling, so a quantile read from the buckets (the bucket's geometric middle) is
within 9% of the exact one. 88 buckets reach 2**22 s (48 days); longer durations share the last.
"""

from __future__ import annotations

import math
from typing import Any

STEPS_PER_DOUBLING = 4
LAST_BUCKET = 88


def bucket(seconds: float) -> int:
    """The bucket a duration falls in."""
    if seconds < 1:
        return 0
    return min(LAST_BUCKET, math.floor(math.log2(seconds) * STEPS_PER_DOUBLING))


def bucket_value(index: int) -> float:
    """The duration a bucket stands for in quantiles: its geometric middle, in seconds."""
    return float(2 ** ((index + 0.5) / STEPS_PER_DOUBLING))


def empty() -> dict[str, Any]:
    """A distribution with nothing in it."""
    return {"n": 0, "sum": 0.0, "b": {}}


def add(distribution: dict[str, Any], seconds: float) -> None:
    """Count one duration (negative ones, clocks disagreeing, count as 0)."""
    seconds = max(0.0, float(seconds))
    distribution["n"] = int(distribution.get("n", 0)) + 1
    distribution["sum"] = float(distribution.get("sum", 0.0)) + seconds
    buckets = distribution.setdefault("b", {})
    key = str(bucket(seconds))
    buckets[key] = int(buckets.get(key, 0)) + 1


def merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    """Add ``other``'s counts to ``into``."""
    into["n"] = int(into.get("n", 0)) + int(other.get("n", 0))
    into["sum"] = float(into.get("sum", 0.0)) + float(other.get("sum", 0.0))
    buckets = into.setdefault("b", {})
    for key, count in (other.get("b") or {}).items():
        buckets[key] = int(buckets.get(key, 0)) + int(count)


def quantile(distribution: dict[str, Any], q: float) -> float | None:
    """The ``q`` quantile (0 < q <= 1) in seconds, from the buckets; None when empty."""
    buckets = sorted((int(key), int(count)) for key, count in (distribution.get("b") or {}).items() if count)
    total = sum(count for _, count in buckets)
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index, count in buckets:
        seen += count
        if seen >= rank:
            return bucket_value(index)
    return bucket_value(buckets[-1][0])  # pragma: no cover - the loop always reaches rank


def mean(distribution: dict[str, Any]) -> float | None:
    """The average in seconds (exact: the sum is kept), None when empty."""
    n = int(distribution.get("n", 0))
    return float(distribution.get("sum", 0.0)) / n if n else None
