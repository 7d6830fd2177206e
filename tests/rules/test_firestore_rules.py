"""infra/firestore.rules on the Firestore emulator (which the session's stack starts with --rules),
through Firestore's REST API, as a browser's SDK would call it.

Identities: the emulator accepts unsigned ID tokens (``alg: none``) carrying any claims, exactly
what the Auth emulator issues; ``Bearer owner`` is the emulator's admin, which bypasses the rules
(used here only to prove that a refused document does exist)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from infra.local import demo
from infra.local.stack import LocalStack
from shared import store
from tests.support import agent_token

pytestmark = pytest.mark.integration

DEMO, ACME = demo.DEMO_TENANT, demo.OTHER_TENANT
CONVERSATION = "co-rules-support"
DIRECT = "co-rules-direct"


def id_token(project: str, uid: str, **claims: Any) -> str:
    """An unsigned Firebase ID token, as the emulators accept (and the Auth emulator issues)."""
    now = int(time.time())
    payload = {
        "iss": f"https://securetoken.google.com/{project}",
        "aud": project,
        "iat": now,
        "exp": now + 3600,
        "auth_time": now,
        "sub": uid,
        "user_id": uid,
        "firebase": {"sign_in_provider": "password", "identities": {}},
        **claims,
    }

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


class Firestore:
    """Firestore's REST API on the emulator, as one identity."""

    def __init__(self, stack: LocalStack, token: str | None) -> None:
        self.base = f"http://{stack.firestore_host}/v1/projects/{stack.project}/databases/(default)/documents"
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str) -> int:
        return requests.get(f"{self.base}/{path}", headers=self.headers, timeout=30).status_code

    def list(self, path: str) -> int:
        return requests.get(f"{self.base}/{path}?pageSize=50", headers=self.headers, timeout=30).status_code

    def query(self, parent: str, structured: dict[str, Any]) -> int:
        url = f"{self.base}/{parent}:runQuery" if parent else f"{self.base}:runQuery"
        response = requests.post(url, headers=self.headers, json={"structuredQuery": structured}, timeout=30)
        return response.status_code

    def write(self, path: str, fields: dict[str, str]) -> int:
        body = {"fields": {k: {"stringValue": v} for k, v in fields.items()}}
        return requests.patch(f"{self.base}/{path}", headers=self.headers, json=body, timeout=30).status_code

    def delete(self, path: str) -> int:
        return requests.delete(f"{self.base}/{path}", headers=self.headers, timeout=30).status_code


def inbox_query(**equals: str) -> dict[str, Any]:
    """What the dashboard's inbox asks (web/src/stores/inbox.ts): support conversations, latest
    activity first, limited, filtered."""
    query: dict[str, Any] = {
        "from": [{"collectionId": "conversations"}],
        "orderBy": [{"field": {"fieldPath": "lastActivityAtMs"}, "direction": "DESCENDING"}],
        "limit": 30,
    }
    equals = {"kind": "support", **equals}
    if equals:
        query["where"] = {
            "compositeFilter": {
                "op": "AND",
                "filters": [
                    {"fieldFilter": {"field": {"fieldPath": k}, "op": "EQUAL", "value": {"stringValue": v}}}
                    for k, v in equals.items()
                ],
            }
        }
    return query


@pytest.fixture(scope="module")
def seeded(stack: LocalStack) -> Iterator[LocalStack]:
    """Demo and Acme trees, written with the server SDK (the rules do not apply to it); emptied
    again afterwards, so no later test meets these documents."""
    stack.reset_firestore()
    stack.apply_env()
    demo.seed()
    now = datetime.now(UTC)
    for tenant in (DEMO, ACME):
        store.put_agent(
            tenant, f"agent-{tenant}", {"name": "A", "email": f"a@{tenant}.test", "role": "agent"}
        )
        conversation = store.conversation_ref(tenant, CONVERSATION)
        conversation.set(
            {
                "kind": "support",
                "channel": "whatsapp",
                "status": "open",
                "lastActivityAtMs": 1,
                "contactName": "Kerry",
            }
        )
        conversation.collection("messages").document("m1").set(
            {"direction": "in", "text": "hi", "sentAt": now}
        )
        conversation.collection("messages").document("n1").set(
            {"direction": "note", "text": "VIP", "sentAt": now}
        )
        conversation.collection("parked").document("p1").set({"event": "{}"})
        store.contact_ref(tenant, "contact-1").set({"name": "Kerry"})
        direct = store.conversation_ref(tenant, DIRECT)
        direct.set({"kind": "direct", "memberCount": 2, "seq": 3, "lastActivityAtMs": 2})
        direct.collection("messages").document("d1").set({"text": "hey", "sentAt": now})
        for user_id, read in (("app-user-1", 3), ("app-user-2", 0)):
            direct.collection("members").document(user_id).set(
                {
                    "userId": user_id,
                    "tenantId": tenant,
                    "channelId": DIRECT,
                    "role": "member",
                    "lastReadSeq": read,
                }
            )
    store.client().collection("quarantine").document("q1").set({"reason": "unparseable", "raw": "{}"})
    yield stack
    stack.reset_firestore()
    demo.seed()


def staff(stack: LocalStack, tenant: str, role: str = "agent", uid: str = "staff-1") -> Firestore:
    return Firestore(stack, id_token(stack.project, uid, tenantId=tenant, role=role))


READABLE_BY_STAFF = [
    f"tenants/{DEMO}",
    f"tenants/{DEMO}/channels/whatsapp-main",
    f"tenants/{DEMO}/agents/agent-{DEMO}",
    f"tenants/{DEMO}/contacts/contact-1",
    f"tenants/{DEMO}/conversations/{CONVERSATION}",
    f"tenants/{DEMO}/conversations/{CONVERSATION}/messages/m1",
    f"tenants/{DEMO}/conversations/{CONVERSATION}/messages/n1",
]
LISTS_FOR_STAFF = [
    f"tenants/{DEMO}/channels",
    f"tenants/{DEMO}/agents",
    f"tenants/{DEMO}/conversations/{CONVERSATION}/messages",
]


def test_the_documents_exist_for_the_server(seeded: LocalStack) -> None:
    owner = Firestore(seeded, "owner")
    for path in [*READABLE_BY_STAFF, "routes/whatsapp:109000000000001", "quarantine/q1"]:
        assert owner.get(path) == 200, path


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_staff_read_their_own_tenant(seeded: LocalStack, role: str) -> None:
    client = staff(seeded, DEMO, role)
    for path in READABLE_BY_STAFF:
        assert client.get(path) == 200, path
    for path in LISTS_FOR_STAFF:
        assert client.list(path) == 200, path
    assert client.query(f"tenants/{DEMO}", inbox_query()) == 200
    assert client.query(f"tenants/{DEMO}", inbox_query(status="open", channel="whatsapp")) == 200
    # Rules are not filters: listing every conversation (an app's private chats among them) is
    # refused; the inbox asks for kind == "support".
    assert client.list(f"tenants/{DEMO}/conversations") == 403
    assert client.get(f"tenants/{DEMO}/conversations/{DIRECT}") == 403
    assert client.list(f"tenants/{DEMO}/conversations/{DIRECT}/messages") == 403


def test_a_real_agent_token_from_the_auth_emulator_reads_its_tenant(seeded: LocalStack) -> None:
    token = agent_token(seeded, DEMO, "rules-agent@demo.test", name="Rules Agent")
    client = Firestore(seeded, token)
    assert client.get(f"tenants/{DEMO}/conversations/{CONVERSATION}") == 200
    assert client.get(f"tenants/{ACME}/conversations/{CONVERSATION}") == 403


def test_unauthenticated_callers_read_nothing(seeded: LocalStack) -> None:
    anonymous = Firestore(seeded, None)
    for path in READABLE_BY_STAFF:
        assert anonymous.get(path) == 403, path
    for path in LISTS_FOR_STAFF:
        assert anonymous.list(path) == 403, path
    assert anonymous.query(f"tenants/{DEMO}", inbox_query()) == 403


def test_another_tenants_staff_read_nothing(seeded: LocalStack) -> None:
    acme = staff(seeded, ACME, "admin")
    for path in READABLE_BY_STAFF:
        assert acme.get(path) == 403, path
    for path in LISTS_FOR_STAFF:
        assert acme.list(path) == 403, path
    assert acme.query(f"tenants/{DEMO}", inbox_query()) == 403
    # ...while its own tree is readable: the refusal is about the tenant, not the token.
    assert acme.get(f"tenants/{ACME}/conversations/{CONVERSATION}") == 200


def test_a_collection_group_query_across_tenants_is_refused(seeded: LocalStack) -> None:
    query = {"from": [{"collectionId": "conversations", "allDescendants": True}], "limit": 10}
    assert staff(seeded, DEMO).query("", query) == 403


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({}, id="no-claims"),
        pytest.param({"tenantId": DEMO}, id="no-role"),
        pytest.param({"role": "admin"}, id="no-tenant"),
        pytest.param({"tenantId": DEMO, "role": "superuser"}, id="unknown-role"),
        pytest.param({"tenantId": DEMO, "role": "developer"}, id="developer-of-a-business"),
        pytest.param({"tenantId": DEMO, "role": "user"}, id="app-user"),
    ],
)
def test_tokens_without_a_staff_role_in_the_tenant_read_no_support_data(
    seeded: LocalStack, claims: dict[str, str]
) -> None:
    client = Firestore(seeded, id_token(seeded.project, "someone", **claims))
    for path in READABLE_BY_STAFF:
        assert client.get(path) == 403, path
    assert client.query(f"tenants/{DEMO}", inbox_query()) == 403


def test_clients_never_write(seeded: LocalStack) -> None:
    for client in (staff(seeded, DEMO, "agent"), staff(seeded, DEMO, "admin"), Firestore(seeded, None)):
        assert (
            client.write(
                f"tenants/{DEMO}/conversations/{CONVERSATION}?updateMask.fieldPaths=status",
                {"status": "resolved"},
            )
            == 403
        )
        assert (
            client.write(f"tenants/{DEMO}/conversations/{CONVERSATION}/messages/forged", {"text": "x"}) == 403
        )
        assert client.write(f"tenants/{DEMO}/agents/staff-1", {"role": "admin"}) == 403
        assert client.write(f"tenants/{DEMO}", {"plan": "enterprise"}) == 403
        assert client.write("routes/whatsapp:999", {"tenantId": DEMO}) == 403
        assert client.delete(f"tenants/{DEMO}/conversations/{CONVERSATION}/messages/m1") == 403
    assert Firestore(seeded, "owner").get(f"tenants/{DEMO}/conversations/{CONVERSATION}/messages/m1") == 200
    assert (
        Firestore(seeded, "owner").get(f"tenants/{DEMO}/conversations/{CONVERSATION}/messages/forged") == 404
    )


def test_server_only_collections_are_unreadable(seeded: LocalStack) -> None:
    for client in (staff(seeded, DEMO, "admin"), staff(seeded, ACME, "admin")):
        assert client.get("routes/whatsapp:109000000000001") == 403
        assert client.list("routes") == 403
        assert client.get("quarantine/q1") == 403
        assert client.list("quarantine") == 403
    admin = staff(seeded, DEMO, "admin")
    assert admin.get(f"tenants/{DEMO}/conversations/{CONVERSATION}/parked/p1") == 403
    assert admin.list(f"tenants/{DEMO}/conversations/{CONVERSATION}/parked") == 403
    assert admin.list("tenants") == 403


def app_user_token(project: str, tenant: str, user_id: str, provider: str = "custom") -> str:
    """An app user's ID token as the Auth emulator issues it after signInWithCustomToken."""
    return id_token(
        project,
        f"{tenant}:{user_id}",
        tenantId=tenant,
        role="user",
        userId=user_id,
        firebase={"sign_in_provider": provider, "identities": {}},
    )


def test_app_users_read_only_the_conversations_they_are_members_of(seeded: LocalStack) -> None:
    member = Firestore(seeded, app_user_token(seeded.project, DEMO, "app-user-1"))
    outsider = Firestore(seeded, app_user_token(seeded.project, DEMO, "app-user-9"))
    other_tenant = Firestore(seeded, app_user_token(seeded.project, ACME, "app-user-1"))
    password = Firestore(seeded, app_user_token(seeded.project, DEMO, "app-user-1", provider="password"))
    assert member.get(f"tenants/{DEMO}/conversations/{DIRECT}") == 200
    assert member.list(f"tenants/{DEMO}/conversations/{DIRECT}/messages") == 200
    assert member.get(f"tenants/{DEMO}/conversations/{DIRECT}/members/app-user-1") == 200
    assert member.get(f"tenants/{DEMO}/conversations/{DIRECT}/members/app-user-2") == 403
    assert member.get(f"tenants/{DEMO}/conversations/{CONVERSATION}") == 403
    assert member.list(f"tenants/{DEMO}/conversations/{CONVERSATION}/messages") == 403
    assert member.list(f"tenants/{DEMO}/agents") == 403
    for stranger in (outsider, other_tenant, password):
        assert stranger.get(f"tenants/{DEMO}/conversations/{DIRECT}") == 403
        assert stranger.list(f"tenants/{DEMO}/conversations/{DIRECT}/messages") == 403
