"""Run by Python at start-up when this folder is on PYTHONPATH (bench.hot_conversation.stack_env and
bench.limits.stack_env put it there for a stack's functions): installs the Firestore write meter of
bench/hot_conversation.py when its log file is named, and the production-limits meter of
bench/limits.py (every write per document, every billed read) when its log file is named."""

import os

if os.environ.get("SWITCHBOARD_BENCH_WRITE_LOG"):
    try:
        from bench.hot_conversation import install_from_env

        install_from_env()
    except ImportError:  # an interpreter without the project's libraries (the Cloud Tasks emulator's)
        pass

if os.environ.get("SWITCHBOARD_BENCH_LIMITS_LOG"):
    try:
        from bench.limits import install_from_env as install_limits_meter

        install_limits_meter()
    except ImportError:  # an interpreter without the project's libraries (the Cloud Tasks emulator's)
        pass
