"""infra/firestore.rules for canned replies (issue 17): staff read their tenant's shared replies and
their own personal ones, through the dashboard's two queries; never another agent's personal ones,
never another tenant's; nobody writes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from infra.local import demo
from infra.local.stack import LocalStack
from shared import store
from tests.rules.test_firestore_rules import Firestore, staff

pytestmark = pytest.mark.integration

DEMO, ACME = demo.DEMO_TENANT, demo.OTHER_TENANT


@pytest.fixture(scope="module")
def seeded(stack: LocalStack) -> Iterator[LocalStack]:
    stack.reset_firestore()
    stack.apply_env()
    for tenant in (DEMO, ACME):
        store.put_canned_reply(
            tenant, "team", {"shortcut": "hi", "title": "Hi", "body": "Hi", "scope": "tenant"}
        )
        store.put_canned_reply(
            tenant,
            "danas",
            {"shortcut": "sig", "title": "Sig", "body": "D", "scope": "personal", "ownerId": "dana"},
        )
        store.put_canned_reply(
            tenant,
            "sams",
            {"shortcut": "sig", "title": "Sig", "body": "S", "scope": "personal", "ownerId": "sam"},
        )
    yield stack
    stack.reset_firestore()


def equals(field: str, value: str) -> dict[str, Any]:
    return {
        "from": [{"collectionId": "cannedReplies"}],
        "where": {
            "fieldFilter": {"field": {"fieldPath": field}, "op": "EQUAL", "value": {"stringValue": value}}
        },
    }


def test_agents_read_the_teams_replies_and_their_own(seeded: LocalStack) -> None:
    dana = staff(seeded, DEMO, uid="dana")
    assert dana.get(f"tenants/{DEMO}/cannedReplies/team") == 200
    assert dana.get(f"tenants/{DEMO}/cannedReplies/danas") == 200
    assert dana.query(f"tenants/{DEMO}", equals("scope", "tenant")) == 200
    assert dana.query(f"tenants/{DEMO}", equals("ownerId", "dana")) == 200


def test_nobody_reads_another_agents_personal_replies(seeded: LocalStack) -> None:
    for reader in (staff(seeded, DEMO, uid="dana"), staff(seeded, DEMO, role="admin", uid="boss")):
        assert reader.get(f"tenants/{DEMO}/cannedReplies/sams") == 403
        assert reader.query(f"tenants/{DEMO}", equals("ownerId", "sam")) == 403
        assert reader.list(f"tenants/{DEMO}/cannedReplies") == 403  # unfiltered: would include Sam's


def test_another_tenant_and_strangers_read_nothing(seeded: LocalStack) -> None:
    eve = staff(seeded, ACME, role="admin", uid="dana")  # same uid, other tenant
    assert eve.get(f"tenants/{DEMO}/cannedReplies/team") == 403
    assert eve.get(f"tenants/{DEMO}/cannedReplies/danas") == 403
    assert eve.query(f"tenants/{DEMO}", equals("scope", "tenant")) == 403
    assert Firestore(seeded, None).get(f"tenants/{DEMO}/cannedReplies/team") == 403


def test_clients_never_write_canned_replies(seeded: LocalStack) -> None:
    for writer in (staff(seeded, DEMO, role="admin", uid="boss"), staff(seeded, DEMO, uid="dana")):
        assert writer.write(f"tenants/{DEMO}/cannedReplies/team", {"body": "pwned"}) == 403
        assert writer.write(f"tenants/{DEMO}/cannedReplies/danas", {"body": "pwned"}) == 403
        assert writer.write(f"tenants/{DEMO}/cannedReplies/new", {"scope": "tenant"}) == 403
        assert writer.delete(f"tenants/{DEMO}/cannedReplies/danas") == 403
