"""The audit log is append-only, newest first, filterable, and only admins read it (issue 18, part 6)."""

from __future__ import annotations

import pytest
import requests

from shared import audit
from shared.auth import Caller
from shared.errors import Forbidden
from tests.support import LocalStack, agent_token

OWNER = Caller(uid="owner-1", tenant_id="tenant-audit", role="owner", name="Olga Owner")
ADMIN = Caller(uid="admin-1", tenant_id="tenant-audit", role="admin", email="ada@example.com")
AGENT = Caller(uid="agent-1", tenant_id="tenant-audit", role="agent")


def test_entries_are_listed_newest_first_and_filtered_by_action_and_actor(clean_stack: LocalStack) -> None:
    first = audit.record(OWNER, "agent.invite", {"kind": "agent", "id": "u1"}, after={"role": "agent"})
    second = audit.record(ADMIN, "agent.role", {"kind": "agent", "id": "u1"}, before="agent", after="admin")
    third = audit.record(
        ADMIN, "settings.change", {"kind": "workspace"}, before={"name": "A"}, after={"name": "B"}
    )
    listed = audit.entries(OWNER)
    assert {e["id"] for e in listed} == {first, second, third}
    assert [e["atMs"] for e in listed] == sorted((e["atMs"] for e in listed), reverse=True)
    by_role = audit.entries(OWNER, action="agent.role")
    assert [e["id"] for e in by_role] == [second]
    assert by_role[0]["before"] == "agent" and by_role[0]["after"] == "admin"
    assert by_role[0]["actorName"] == "ada@example.com" and by_role[0]["actorRole"] == "admin"
    assert {e["id"] for e in audit.entries(ADMIN, actor_id="owner-1")} == {first}


def test_an_entry_is_never_replaced_and_a_retry_with_its_id_keeps_the_first(clean_stack: LocalStack) -> None:
    entry_id = audit.record(OWNER, "channel.rotate", {"kind": "channel", "id": "c1"}, entry_id="fixed-1")
    again = audit.record(ADMIN, "channel.rotate", {"kind": "channel", "id": "c2"}, entry_id=entry_id)
    assert again == entry_id
    (only,) = audit.entries(OWNER)
    assert only["actorId"] == "owner-1" and only["target"]["id"] == "c1"


def test_an_agent_cannot_read_the_audit_log_and_unknown_actions_are_refused(clean_stack: LocalStack) -> None:
    with pytest.raises(Forbidden):
        audit.entries(AGENT)
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record(OWNER, "agent.promote")


def test_agent_api_serves_the_audit_log_to_admins_only(clean_stack: LocalStack) -> None:
    url = clean_stack.function_urls["agent_api"]
    admin = agent_token(clean_stack, "tenant-audit", "boss@audit.test", role="admin")
    agent = agent_token(clean_stack, "tenant-audit", "worker@audit.test")
    written = audit.record(ADMIN, "settings.change", {"kind": "workspace"}, before={"a": 1}, after={"a": 2})

    def ask(token: str, **body: object) -> requests.Response:
        return requests.post(
            url,
            json={"action": "audit_log", **body},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )

    answer = ask(admin, filterAction="settings.change")
    assert answer.status_code == 200, answer.text
    assert [e["id"] for e in answer.json()["entries"]] == [written]
    assert answer.json()["next"] is None and "settings.change" in answer.json()["actions"]
    assert ask(agent).status_code == 403
    assert ask(admin, pageSize=0).status_code == 400
    assert ask(admin, surprise=True).json()["error"]["code"] == "invalid_request"
