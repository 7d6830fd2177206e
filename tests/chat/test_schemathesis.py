"""The chat API conforms to its own OpenAPI document: schemathesis generates requests from the
document (valid ones, and invalid ones that must be refused with a 4xx) and sends them to the local
chat_api function, then checks every answer: no server error, a documented status, JSON as
documented, a body that matches the documented schema.

The caller is the app's backend acting for ``alice`` (API key + X-User-Id), a member of the channel
``general`` that the document names as its example channel id, so the explicit examples reach the
success paths and the generated cases reach the validation and error paths. Examples per operation
are bounded (:data:`MAX_EXAMPLES`) to keep the test well under a minute.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from shared.chat import openapi
from tests.chat.client import App

pytestmark = pytest.mark.integration

MAX_EXAMPLES = 20
schema = schemathesis.openapi.from_dict(openapi.document())


@pytest.fixture
def member_app(app: App) -> App:
    """An app where alice belongs to the channel ``general`` and bob exists (the documented examples)."""
    for user in ("alice", "bob"):
        app.ok("token", {"userId": user, "name": user.title()})
    app.ok("createSub", {"channelId": "general", "name": "General"}, user="alice")
    app.ok(
        "createPost", {"channelId": "general", "text": "Welcome!", "clientPostId": "welcome"}, user="alice"
    )
    return app


@schema.exclude(path="/openapi.json").parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases every run: a failure here is reproducible, never a fluke
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_the_api_conforms_to_its_openapi_document(case: schemathesis.Case, member_app: App) -> None:
    excluded = []
    if isinstance(case.body, dict) and isinstance(case.body.get("cursor"), str):
        # A cursor is opaque: only one this API returned is valid, whatever its shape, and a forged
        # one is answered 400 invalid_cursor (schema-valid, yet rightly refused).
        excluded.append(positive_data_acceptance)
    case.call_and_validate(
        base_url=member_app.url,
        headers={"Authorization": f"Bearer {member_app.api_key}", "X-User-Id": "alice"},
        excluded_checks=excluded,
        timeout=30,
    )
