"""`make bench`: every benchmark, one after the other; each prints its own figures."""

from __future__ import annotations

from bench.report import run_all


def main() -> None:
    """Run every benchmark; each prints its own JSON line."""
    run_all(quick=False)


if __name__ == "__main__":
    main()
