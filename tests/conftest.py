"""Session-wide fixtures: the real local stack (emulators + functions), started once by the test
run itself. A test that needs it and cannot get it fails; nothing here skips."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.local.stack import LocalStack


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """Firestore and Pub/Sub emulators and every function, wired as in production."""
    with LocalStack() as running:
        running.apply_env()
        yield running


@pytest.fixture
def clean_stack(stack: LocalStack) -> LocalStack:
    """The stack with an empty Firestore and the demo tenant seeded.

    Queued tasks are left alone, as in production (where nothing purges a queue): the functions
    remember the report folds they queued, and an earlier test's retries no longer hold up a later
    test's tasks (the local Cloud Tasks emulator runs a queue's tasks side by side)."""
    from infra.local import demo

    stack.reset_firestore()
    if stack.fcm is not None:
        stack.fcm.clear()  # the FCM stand-in: no messages, dead tokens or faults of earlier tests
    stack.apply_env()
    demo.seed()
    return stack
