"""infra/firestore.rules for contacts across channels (issue 17 part 8): the tenant's staff read its
contacts, the notes about them and its custom attribute definitions, and the dashboard's query of a
person's identities; app users, other tenants and strangers read none of it; nobody writes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from infra.local import demo
from infra.local.stack import LocalStack
from shared import store
from tests.rules.test_firestore_rules import Firestore, app_user_token, staff

pytestmark = pytest.mark.integration

DEMO, ACME = demo.DEMO_TENANT, demo.OTHER_TENANT
CONTACT = "contact-people-1"
NOTE = f"tenants/{DEMO}/contacts/{CONTACT}/notes/n1"
ATTRIBUTE = f"tenants/{DEMO}/contactAttributes/plan"


@pytest.fixture(scope="module")
def seeded(stack: LocalStack) -> Iterator[LocalStack]:
    stack.reset_firestore()
    stack.apply_env()
    tenants = store.client().collection("tenants")
    for tenant in (DEMO, ACME):
        contacts = tenants.document(tenant).collection("contacts")
        contacts.document(CONTACT).set({"name": "Kerry", "personId": CONTACT, "attributes": {"plan": "gold"}})
        contacts.document(CONTACT).collection("notes").document("n1").set({"text": "VIP", "authorId": "dana"})
        tenants.document(tenant).collection("contactAttributes").document("plan").set(
            {"label": "Plan", "type": "text"}
        )
    yield stack
    stack.reset_firestore()
    demo.seed()


def person_query(person: str) -> dict[str, Any]:
    return {
        "from": [{"collectionId": "contacts"}],
        "where": {
            "fieldFilter": {
                "field": {"fieldPath": "personId"},
                "op": "EQUAL",
                "value": {"stringValue": person},
            }
        },
    }


def test_staff_read_contacts_notes_attributes_and_a_persons_identities(seeded: LocalStack) -> None:
    for reader in (staff(seeded, DEMO), staff(seeded, DEMO, role="admin", uid="boss")):
        assert reader.get(f"tenants/{DEMO}/contacts/{CONTACT}") == 200
        assert reader.get(NOTE) == 200
        assert reader.list(f"tenants/{DEMO}/contacts/{CONTACT}/notes") == 200
        assert reader.get(ATTRIBUTE) == 200
        assert reader.list(f"tenants/{DEMO}/contactAttributes") == 200
        assert reader.query(f"tenants/{DEMO}", person_query(CONTACT)) == 200


def test_other_tenants_app_users_and_strangers_read_nothing(seeded: LocalStack) -> None:
    readers = (
        staff(seeded, ACME, role="admin"),
        Firestore(seeded, app_user_token(seeded.project, DEMO, "app-user-1")),
        Firestore(seeded, None),
    )
    for reader in readers:
        assert reader.get(f"tenants/{DEMO}/contacts/{CONTACT}") == 403
        assert reader.get(NOTE) == 403
        assert reader.list(f"tenants/{DEMO}/contacts/{CONTACT}/notes") == 403
        assert reader.get(ATTRIBUTE) == 403
        assert reader.query(f"tenants/{DEMO}", person_query(CONTACT)) == 403


def test_nobody_writes_contacts_notes_or_attributes(seeded: LocalStack) -> None:
    for writer in (staff(seeded, DEMO, role="admin", uid="boss"), staff(seeded, DEMO)):
        assert writer.write(f"tenants/{DEMO}/contacts/{CONTACT}", {"personId": "x"}) == 403
        assert writer.write(NOTE, {"text": "pwned"}) == 403
        assert writer.write(ATTRIBUTE, {"label": "pwned"}) == 403
        assert writer.delete(NOTE) == 403
