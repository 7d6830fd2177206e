"""infra/firestore.rules for export jobs: a tenant's admins (and owners) read its export documents
(the console's progress), through a get or the page's query; agents, other tenants and app users
read nothing, and nobody writes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.local import demo
from infra.local.stack import LocalStack
from shared import store
from tests.rules.test_firestore_rules import Firestore, app_user_token, staff

pytestmark = pytest.mark.integration

DEMO, ACME = demo.DEMO_TENANT, demo.OTHER_TENANT
JOB = {"kind": "messages", "format": "csv", "state": "running", "count": 10, "createdAtMs": 1}


@pytest.fixture(scope="module")
def seeded(stack: LocalStack) -> Iterator[LocalStack]:
    stack.reset_firestore()
    stack.apply_env()
    for tenant in (DEMO, ACME):
        store.create_export_job(tenant, "e1", JOB)
    yield stack
    stack.reset_firestore()


LATEST = {
    "from": [{"collectionId": "exports"}],
    "orderBy": [{"field": {"fieldPath": "createdAtMs"}}],
    "limit": 5,
}


@pytest.mark.parametrize("role", ["admin", "owner"])
def test_admins_follow_their_tenants_exports(seeded: LocalStack, role: str) -> None:
    admin = staff(seeded, DEMO, role=role)
    assert admin.get(f"tenants/{DEMO}/exports/e1") == 200
    assert admin.query(f"tenants/{DEMO}", LATEST) == 200
    assert admin.get(f"tenants/{ACME}/exports/e1") == 403
    assert admin.write(f"tenants/{DEMO}/exports/e2", {"state": "done"}) == 403
    assert admin.delete(f"tenants/{DEMO}/exports/e1") == 403


def test_agents_other_tenants_and_app_users_read_no_export(seeded: LocalStack) -> None:
    assert staff(seeded, DEMO, role="agent").get(f"tenants/{DEMO}/exports/e1") == 403
    assert staff(seeded, DEMO, role="agent").query(f"tenants/{DEMO}", LATEST) == 403
    assert staff(seeded, ACME, role="admin").get(f"tenants/{DEMO}/exports/e1") == 403
    user = Firestore(seeded, app_user_token(seeded.project, DEMO, "u1"))
    assert user.get(f"tenants/{DEMO}/exports/e1") == 403
    assert Firestore(seeded, None).get(f"tenants/{DEMO}/exports/e1") == 403
