"""The team on the emulators (issue 18, parts 1, 2, 8): every role against every team action through
agent_api, invitations by e-mail link (the local outbox) that sign the invitee up once, the last
owner who cannot be removed, deactivation that refuses a session at once and returns the agent's
open conversations to the queue, and the CLI running the same code."""

from __future__ import annotations

import base64
import io
import json
import re
import sys
import time
import uuid
from typing import Any

import pytest
import requests

from infra.local import demo
from infra.local.stack import LocalStack
from shared import audit, auth, cli, ids, mail, store
from shared.errors import Unauthenticated
from tests.support import agent_token, eventually, identity, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

T = demo.DEMO_TENANT
WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
PASSWORD = "correct-horse-battery"


def call(stack: LocalStack, bearer: str | None, **body: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return requests.post(stack.function_urls["agent_api"], headers=headers, json=body, timeout=20)


def ok(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def uid_of(email: str, tenant: str = T) -> str:
    return next(uid for uid, agent in store.list_agents(tenant) if agent.get("email") == email)


def sign_in(stack: LocalStack, email: str, password: str = PASSWORD) -> str:
    return str(identity(stack, "signInWithPassword", {"email": email, "password": password})["idToken"])


def invitation_token(stack: LocalStack, email: str) -> str:
    """The token of the last invitation e-mailed to ``email`` (the link in the local outbox)."""

    def mailed() -> str:
        letters = [m for m in mail.outbox(stack.outbox_dir) if m["to"] == email]
        assert letters, f"no mail to {email} yet"
        found = re.search(r"/#/invite/([A-Za-z0-9_-]+)", letters[-1]["message"]["text"])
        assert found, letters[-1]
        return found.group(1)

    return eventually(mailed, what=f"the invitation to {email}")


@pytest.fixture
def team(clean_stack: LocalStack) -> dict[str, str]:
    """ID tokens: the demo workspace's owner, an admin, an agent, a developer, another tenant's admin."""
    return {
        "owner": agent_token(clean_stack, T, "olga@demo.test", role="owner", name="Olga Owner"),
        "admin": agent_token(clean_stack, T, "ada@demo.test", role="admin", name="Ada Admin"),
        "agent": agent_token(clean_stack, T, "dana@demo.test", role="agent", name="Dana Agent"),
        "developer": agent_token(clean_stack, T, "dev@demo.test", role="developer", name="Dev"),
        "other-admin": agent_token(clean_stack, demo.OTHER_TENANT, "eve@acme.test", role="admin", name="Eve"),
    }


def test_every_role_against_every_team_action(clean_stack: LocalStack, team: dict[str, str]) -> None:
    """Owners and admins run the team; agents, developers and anonymous callers are refused; another
    workspace's admin finds nobody of this one. A refusal changes nothing."""
    target = uid_of("dana@demo.test")
    agent_token(clean_stack, T, "sam@demo.test", name="Sam")
    sam_uid = uid_of("sam@demo.test")
    pending = ok(call(clean_stack, team["owner"], action="invite_agent", email="x@demo.test", role="agent"))

    def actions(subject: str) -> dict[str, dict[str, Any]]:
        return {
            "team": {"action": "team"},
            "invite_agent": {"action": "invite_agent", "email": f"{subject}@new.test", "role": "agent"},
            "set_role": {"action": "set_role", "uid": sam_uid, "role": "agent"},
            "deactivate_agent": {"action": "deactivate_agent", "uid": target},
            "reactivate_agent": {"action": "reactivate_agent", "uid": target},
            "revoke_invitation": {"action": "revoke_invitation", "invitationId": pending["invitationId"]},
            "audit_log": {"action": "audit_log"},
        }

    refused = {"agent": 403, "developer": 403, None: 401}
    for who, status in refused.items():
        token = team[who] if who else None
        for name, body in actions(str(who)).items():
            answer = call(clean_stack, token, **body)
            assert answer.status_code == status, (who, name, answer.text)
    for name, body in actions("eve").items():
        answer = call(clean_stack, team["other-admin"], **body)
        not_theirs = ("set_role", "deactivate_agent", "reactivate_agent", "revoke_invitation")
        assert answer.status_code == (404 if name in not_theirs else 200), (name, answer.text)
    assert store.get_agent(T, target)["role"] == "agent" and store.get_agent(T, target).get("active", True)
    assert store.get_invitation(pending["invitationId"])["status"] == "pending"
    assert [m["email"] for m in ok(call(clean_stack, team["other-admin"], action="team"))["members"]] == [
        "eve@acme.test"
    ]

    for who in ("owner", "admin"):
        for name, body in actions(who).items():
            if name == "revoke_invitation" and who == "admin":
                continue  # withdrawn once already
            assert call(clean_stack, team[who], **body).status_code == 200, (who, name)
    listed = ok(call(clean_stack, team["admin"], action="team"))
    assert {m["email"] for m in listed["members"]} >= {"olga@demo.test", "dana@demo.test", "sam@demo.test"}
    assert {i["email"] for i in listed["invitations"]} == {"owner@new.test", "admin@new.test"}
    # Bodies are validated: an unknown role or field is the caller's 400.
    bad = call(clean_stack, team["admin"], action="set_role", uid=sam_uid, role="superuser")
    assert bad.status_code == 400
    surprise = call(clean_stack, team["admin"], action="team", surprise=1)
    assert surprise.json()["error"]["code"] == "invalid_request"
    # Developer is an app's role: refused in a business's workspace.
    developer = call(clean_stack, team["owner"], action="set_role", uid=sam_uid, role="developer")
    assert developer.status_code == 400


def test_an_invitation_link_signs_the_invitee_up_once(clean_stack: LocalStack, team: dict[str, str]) -> None:
    invited = ok(
        call(clean_stack, team["admin"], action="invite_agent", email=" New.Hire@Demo.test ", name="Nia")
    )
    assert (invited["email"], invited["role"]) == ("new.hire@demo.test", "agent")
    token = invitation_token(clean_stack, "new.hire@demo.test")
    assert token not in json.dumps(store.get_invitation(invited["invitationId"])), "only the hash is stored"

    about = ok(call(clean_stack, None, action="invitation", token=token))
    assert about == {
        "email": "new.hire@demo.test",
        "name": "Nia",
        "role": "agent",
        "workspace": "Demo Shop",
        "invitedBy": "Ada Admin",
    }
    weak = call(clean_stack, None, action="accept_invitation", token=token, password="short")
    assert weak.status_code == 400 and weak.json()["error"]["code"] == "weak_password"
    accepted = ok(call(clean_stack, None, action="accept_invitation", token=token, password=PASSWORD))
    caller = auth.verify(f"Bearer {sign_in(clean_stack, 'new.hire@demo.test')}")
    assert (caller.uid, caller.tenant_id, caller.role) == (accepted["uid"], T, "agent")
    assert store.get_agent(T, caller.uid) == {
        "name": "Nia",
        "email": "new.hire@demo.test",
        "role": "agent",
        "active": True,
    }
    again = call(clean_stack, None, action="accept_invitation", token=token, password="another-password")
    assert again.status_code == 404 and again.json()["error"]["code"] == "invitation_invalid"
    assert call(clean_stack, None, action="invitation", token="x" * 43).status_code == 404
    # Inviting a member again is refused; a withdrawn invitation's link stops working.
    twice = call(clean_stack, team["admin"], action="invite_agent", email="new.hire@demo.test")
    assert twice.status_code == 409
    withdrawn = ok(call(clean_stack, team["admin"], action="invite_agent", email="late@demo.test"))
    late = invitation_token(clean_stack, "late@demo.test")
    ok(call(clean_stack, team["admin"], action="revoke_invitation", invitationId=withdrawn["invitationId"]))
    assert call(clean_stack, None, action="invitation", token=late).status_code == 404

    entries = ok(call(clean_stack, team["owner"], action="audit_log"))["entries"]
    assert [e["action"] for e in entries] == ["invitation.revoke", "agent.invite", "agent.invite"]
    assert entries[-1]["after"] == {"email": "new.hire@demo.test", "role": "agent"}
    assert PASSWORD not in json.dumps(entries) and token not in json.dumps(entries)


def test_the_last_owner_cannot_be_removed_and_only_owners_change_owners(
    clean_stack: LocalStack, team: dict[str, str]
) -> None:
    olga, ada = uid_of("olga@demo.test"), uid_of("ada@demo.test")

    def set_role(token: str, uid: str, role: str) -> requests.Response:
        return call(clean_stack, token, action="set_role", uid=uid, role=role)

    for answer in (
        set_role(team["admin"], olga, "agent"),
        call(clean_stack, team["admin"], action="deactivate_agent", uid=olga),
        set_role(team["owner"], olga, "admin"),  # not even the owner themselves
    ):
        assert answer.status_code == 409 and answer.json()["error"]["code"] == "last_owner", answer.text
    assert set_role(team["admin"], ada, "owner").status_code == 403  # admins make no owners
    assert call(clean_stack, team["owner"], action="deactivate_agent", uid=olga).status_code == 409  # self
    assert store.get_agent(T, olga)["role"] == "owner"

    # Firebase compares a token's issue time with the revocation in whole seconds: let the second in
    # which Ada's old token was issued pass, so the revocation below is later than it.
    issued = json.loads(base64.urlsafe_b64decode(team["admin"].split(".")[1] + "=="))["iat"]
    eventually(lambda: time.time() >= issued + 1, timeout=5, what="a second after the old token")
    ok(set_role(team["owner"], ada, "owner"))
    assert auth.verify(f"Bearer {sign_in(clean_stack, 'ada@demo.test')}").role == "owner"
    with pytest.raises(Unauthenticated):
        auth.verify(f"Bearer {team['admin']}")  # the role change ended Ada's old session
    ok(set_role(team["owner"], olga, "admin"))  # two owners: one may step down
    assert store.get_agent(T, olga)["role"] == "admin"
    entries = audit.entries(auth.Caller(uid="t", tenant_id=T, role="owner"), action="agent.role")
    assert [(e["before"], e["after"], e["target"]["id"]) for e in entries] == [
        ("owner", "admin", olga),
        ("admin", "owner", ada),
    ]


def test_deactivation_refuses_the_session_at_once_and_returns_open_conversations_to_the_queue(
    clean_stack: LocalStack, team: dict[str, str]
) -> None:
    dana = uid_of("dana@demo.test")
    conversations = []
    for _ in range(2):
        wa_id = str(4_400_000_000 + uuid.uuid4().int % 10**8)
        body = whatsapp_text_webhook(WA.external_id, wa_id, "Hello?", wamid=f"wamid.{uuid.uuid4().hex}")
        assert post_webhook(clean_stack, "whatsapp", body).status_code == 200
        conversation_id = ids.conversation_id(WA.channel_id, wa_id)
        eventually(lambda c=conversation_id: store.get_conversation(T, c), what="the conversation")
        ok(call(clean_stack, team["agent"], action="assign", conversationId=conversation_id, assigneeId=dana))
        conversations.append(conversation_id)
    resolve = {"action": "set_status", "conversationId": conversations[1], "status": "resolved"}
    ok(call(clean_stack, team["agent"], **resolve))

    done = ok(call(clean_stack, team["admin"], action="deactivate_agent", uid=dana))
    assert done == {"uid": dana, "active": False, "unassigned": 1}
    refused = call(
        clean_stack, team["agent"], action="assign", conversationId=conversations[0], assigneeId=None
    )
    assert refused.status_code == 401, refused.text
    with pytest.raises(requests.HTTPError):
        sign_in(clean_stack, "dana@demo.test")
    open_one, resolved = (store.get_conversation(T, c) for c in conversations)
    assert (open_one["assigneeId"], open_one["assigned"]) == (None, 0)
    assert resolved["assigneeId"] == dana  # resolved conversations keep who handled them
    assert store.get_agent(T, dana)["active"] is False
    to_dana = {"action": "assign", "conversationId": conversations[0], "assigneeId": dana}
    nobody = call(clean_stack, team["admin"], **to_dana)
    assert nobody.status_code == 422 and nobody.json()["error"]["code"] == "agent_deactivated"

    ok(call(clean_stack, team["owner"], action="reactivate_agent", uid=dana))
    caller = auth.verify(f"Bearer {sign_in(clean_stack, 'dana@demo.test')}")
    assert (caller.uid, caller.role) == (dana, "agent")
    entries = audit.entries(auth.Caller(uid="t", tenant_id=T, role="owner"))
    assert [e["action"] for e in entries[:2]] == ["agent.reactivate", "agent.deactivate"]
    assert entries[1]["details"] == {"unassigned": 1} and entries[1]["actorName"] == "Ada Admin"


def test_the_cli_runs_the_team_pages_actions(
    clean_stack: LocalStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(*args: str, stdin: str = "") -> tuple[int, list[dict[str, Any]], str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            code = cli.main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, [json.loads(line) for line in out.splitlines() if line.startswith("{")], err

    code, [owner], _ = run(
        "invite-agent", "--tenant", T, "--email", "boss@demo.test", "--name", "Bo", "--role", "owner",
        "--password-stdin", stdin=PASSWORD,
    )  # fmt: skip
    assert code == 0 and owner["role"] == "owner"
    code, [invitation], _ = run("invite-agent", "--tenant", T, "--email", "cli@demo.test", "--name", "Cy")
    assert code == 0 and invitation["role"] == "agent"
    token = invitation_token(clean_stack, "cli@demo.test")
    ok(call(clean_stack, None, action="accept_invitation", token=token, password=PASSWORD))
    code, [changed], _ = run("set-role", "--tenant", T, "--email", "cli@demo.test", "--role", "admin")
    assert code == 0 and changed["changed"] is True
    assert run("deactivate", "--tenant", T, "--email", "cli@demo.test")[0] == 0
    assert store.get_agent(T, uid_of("cli@demo.test"))["active"] is False
    assert run("reactivate", "--tenant", T, "--email", "cli@demo.test")[0] == 0
    code, _, err = run("set-role", "--tenant", T, "--uid", owner["uid"], "--role", "agent")
    assert code == 1 and "last owner" in err
    assert run("deactivate", "--tenant", T, "--email", "nobody@demo.test")[0] == 1

    code, exported, err = run("audit", "export", "--tenant", T)
    assert code == 0 and "5 audit entries" in err
    assert [e["action"] for e in exported] == [
        "agent.invite",
        "agent.invite",
        "agent.role",
        "agent.deactivate",
        "agent.reactivate",
    ]
    assert all(e["actorId"] == "operator-cli" for e in exported)
    later = run("audit", "export", "--tenant", T, "--since", "2999-01-01")
    assert later[0] == 0 and later[1] == []
