"""Fuzzing of every registered channel parser and of the webhook functions.

Seeds are the real published payloads in ``../shared/fixtures/providers/<channel>/`` (read in place,
never copied), mutated structurally by :mod:`tests.fuzz.corpus`. Hypothesis runs derandomized, so a
CI run is deterministic and a failure reproduces by rerunning the same test.
"""
