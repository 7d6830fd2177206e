"""Chat API fixtures: a fresh app (created through create_app) on the session's local stack."""

from __future__ import annotations

import pytest

from infra.local.stack import LocalStack
from tests.chat.client import App, create_app


@pytest.fixture
def app(clean_stack: LocalStack) -> App:
    """A new app on an empty Firestore, created by a new developer account."""
    return create_app(clean_stack, "Chat Test App")
