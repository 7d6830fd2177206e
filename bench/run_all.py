"""`make bench`: every benchmark, one after the other; each prints its own figures."""

from __future__ import annotations

from bench import cold_start, e2e_latency, webhook_throughput


def main() -> None:
    """Run every benchmark."""
    webhook_throughput.run()
    e2e_latency.run()
    cold_start.run()


if __name__ == "__main__":
    main()
