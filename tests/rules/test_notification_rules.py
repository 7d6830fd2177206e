"""infra/firestore.rules for agents' notifications (issue 17 part 1): an agent reads their own
notifications feed (the dashboard's listener) and notification settings; never another agent's,
never another tenant's; nobody writes them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.local import demo
from infra.local.stack import LocalStack
from shared import store
from tests.rules.test_firestore_rules import Firestore, staff

pytestmark = pytest.mark.integration

DEMO, ACME = demo.DEMO_TENANT, demo.OTHER_TENANT
ENTRY = {"event": "mention", "conversationId": "c1", "title": "Sam mentioned you", "body": "@Dana look"}


@pytest.fixture(scope="module")
def seeded(stack: LocalStack) -> Iterator[LocalStack]:
    stack.reset_firestore()
    stack.apply_env()
    for tenant in (DEMO, ACME):
        for uid in ("dana", "sam"):
            store.put_agent(tenant, uid, {"name": uid.title(), "role": "agent"})
            store.put_notifications(tenant, [(uid, "n1", ENTRY)])
            store.put_notification_preferences(tenant, uid, {"mention": True}, {"enabled": False})
            store.add_push_token(tenant, uid, f"web-token-of-{uid}")
    yield stack
    stack.reset_firestore()


def test_an_agent_reads_their_own_feed_and_settings(seeded: LocalStack) -> None:
    dana = staff(seeded, DEMO, uid="dana")
    assert dana.get(f"tenants/{DEMO}/agents/dana/notifications/n1") == 200
    assert dana.list(f"tenants/{DEMO}/agents/dana/notifications") == 200
    assert dana.get(f"tenants/{DEMO}/agents/dana/settings/notifications") == 200


def test_nobody_reads_another_agents_feed_or_tokens(seeded: LocalStack) -> None:
    for reader in (staff(seeded, DEMO, uid="dana"), staff(seeded, DEMO, role="admin", uid="boss")):
        assert reader.get(f"tenants/{DEMO}/agents/sam/notifications/n1") == 403
        assert reader.list(f"tenants/{DEMO}/agents/sam/notifications") == 403
        assert reader.get(f"tenants/{DEMO}/agents/sam/settings/notifications") == 403
    eve = staff(seeded, ACME, uid="dana")  # the same uid in another tenant
    assert eve.get(f"tenants/{DEMO}/agents/dana/notifications/n1") == 403
    assert eve.get(f"tenants/{DEMO}/agents/dana/settings/notifications") == 403
    assert Firestore(seeded, None).get(f"tenants/{DEMO}/agents/dana/notifications/n1") == 403


def test_clients_never_write_notifications_or_settings(seeded: LocalStack) -> None:
    dana = staff(seeded, DEMO, uid="dana")
    assert dana.write(f"tenants/{DEMO}/agents/dana/notifications/n1", {"read": "true"}) == 403
    assert dana.write(f"tenants/{DEMO}/agents/dana/notifications/n2", ENTRY) == 403
    assert dana.write(f"tenants/{DEMO}/agents/dana/settings/notifications", {"tokens": "x"}) == 403
