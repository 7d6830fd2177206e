"""Fuzzing of every registered channel parser and of the webhook functions.

Seeds are the real published payloads in ``../shared/fixtures/providers/<channel>/`` (read in place,
never copied), mutated structurally by :mod:`tests.fuzz.corpus`. Hypothesis runs derandomized, so a
CI run is deterministic and a failure reproduces by rerunning the same test.

The same seeds start a coverage-guided run of atheris (libFuzzer) over every parser:
``atheris_harness.py``, run by ``test_atheris.py`` in a subprocess for a bounded number of inputs with a
fixed seed; a crash fails the test and leaves the input that caused it.
"""
