"""Run by Python at start-up when this folder is on PYTHONPATH (bench.hot_conversation.stack_env puts it
there for a stack's functions): installs the Firestore write meter when its log file is named."""

import os

if os.environ.get("SWITCHBOARD_BENCH_WRITE_LOG"):
    try:
        from bench.hot_conversation import install_from_env

        install_from_env()
    except ImportError:  # an interpreter without the project's libraries (the Cloud Tasks emulator's)
        pass
