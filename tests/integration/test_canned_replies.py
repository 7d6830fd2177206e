"""Canned replies (issue 17, part 2) through agent_api on the emulators: admins manage the team's
replies, every agent their own personal ones; agents list the team's and their own, never another
agent's personal ones or another tenant's."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from infra.local import demo
from infra.local.stack import LocalStack
from shared import store
from tests.support import agent_token

pytestmark = pytest.mark.integration


@pytest.fixture
def people(clean_stack: LocalStack) -> dict[str, str]:
    return {
        "admin": agent_token(clean_stack, demo.DEMO_TENANT, "boss@demo.test", role="admin", name="Bo Boss"),
        "dana": agent_token(clean_stack, demo.DEMO_TENANT, "dana@demo.test", name="Dana"),
        "sam": agent_token(clean_stack, demo.DEMO_TENANT, "sam@demo.test", name="Sam"),
        "eve": agent_token(clean_stack, demo.OTHER_TENANT, "eve@acme.test", role="admin", name="Eve"),
    }


def call(stack: LocalStack, token: str, **body: Any) -> requests.Response:
    return requests.post(
        stack.function_urls["agent_api"], headers={"Authorization": f"Bearer {token}"}, json=body, timeout=15
    )


def save(stack: LocalStack, token: str, **fields: Any) -> requests.Response:
    return call(stack, token, action="save_canned", **fields)


def shortcuts(stack: LocalStack, token: str) -> list[tuple[str, str]]:
    answer = call(stack, token, action="list_canned")
    assert answer.status_code == 200, answer.text
    return [(r["shortcut"], r["scope"]) for r in answer.json()["cannedReplies"]]


GREETING = {
    "shortcut": "hello",
    "title": "Greeting",
    "body": "Hi {{contact.firstName}}, {{agent.name}} here.",
}


def test_admins_manage_the_teams_replies_and_agents_may_not(
    clean_stack: LocalStack, people: dict[str, str]
) -> None:
    created = save(clean_stack, people["admin"], scope="tenant", **GREETING)
    assert created.status_code == 200, created.text
    reply = created.json()["cannedReply"]
    assert (reply["shortcut"], reply["scope"], reply["ownerId"]) == ("hello", "tenant", None)
    stored = store.get_canned_reply(demo.DEMO_TENANT, reply["id"])
    assert stored is not None and stored["body"] == GREETING["body"]  # variables kept as written

    refused = save(clean_stack, people["dana"], scope="tenant", **{**GREETING, "shortcut": "bye"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    edit = save(clean_stack, people["dana"], cannedReplyId=reply["id"], scope="personal", **GREETING)
    assert edit.status_code == 403  # an agent cannot turn the team's reply into their own
    delete = call(clean_stack, people["dana"], action="delete_canned", cannedReplyId=reply["id"])
    assert delete.status_code == 403
    assert shortcuts(clean_stack, people["dana"]) == [("hello", "tenant")]

    edited = save(
        clean_stack, people["admin"], cannedReplyId=reply["id"], scope="tenant", **{**GREETING, "title": "Hi"}
    )
    assert edited.status_code == 200
    assert store.get_canned_reply(demo.DEMO_TENANT, reply["id"])["title"] == "Hi"
    gone = call(clean_stack, people["admin"], action="delete_canned", cannedReplyId=reply["id"])
    assert gone.status_code == 200 and store.get_canned_reply(demo.DEMO_TENANT, reply["id"]) is None


def test_personal_replies_are_their_owners_alone(clean_stack: LocalStack, people: dict[str, str]) -> None:
    mine = save(clean_stack, people["dana"], scope="personal", **{**GREETING, "shortcut": "sig"})
    assert mine.status_code == 200, mine.text
    reply_id = mine.json()["cannedReply"]["id"]
    save(clean_stack, people["admin"], scope="tenant", **GREETING)

    assert shortcuts(clean_stack, people["dana"]) == [("hello", "tenant"), ("sig", "personal")]
    assert shortcuts(clean_stack, people["sam"]) == [("hello", "tenant")]
    assert shortcuts(clean_stack, people["admin"]) == [
        ("hello", "tenant")
    ]  # admins too: personal is personal
    for other in ("sam", "admin"):
        edit = save(clean_stack, people[other], cannedReplyId=reply_id, scope="personal", **GREETING)
        assert edit.status_code == 404, other  # not told it exists
        delete = call(clean_stack, people[other], action="delete_canned", cannedReplyId=reply_id)
        assert delete.status_code == 404, other
    # Sam may have his own /sig: shortcuts are unique per owner and scope.
    assert (
        save(clean_stack, people["sam"], scope="personal", **{**GREETING, "shortcut": "sig"}).status_code
        == 200
    )
    taken = save(clean_stack, people["dana"], scope="personal", **{**GREETING, "shortcut": "sig"})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "shortcut_taken"


def test_another_tenant_sees_and_touches_nothing(clean_stack: LocalStack, people: dict[str, str]) -> None:
    reply_id = save(clean_stack, people["admin"], scope="tenant", **GREETING).json()["cannedReply"]["id"]
    assert shortcuts(clean_stack, people["eve"]) == []
    assert call(clean_stack, people["eve"], action="delete_canned", cannedReplyId=reply_id).status_code == 404
    edit = save(clean_stack, people["eve"], cannedReplyId=reply_id, scope="tenant", **GREETING)
    assert edit.status_code == 404
    assert store.get_canned_reply(demo.DEMO_TENANT, reply_id)["title"] == "Greeting"
    # Eve's own reply lands in her tenant only.
    assert save(clean_stack, people["eve"], scope="tenant", **GREETING).status_code == 200
    assert [s for s, _ in shortcuts(clean_stack, people["dana"])] == ["hello"]
    assert len(store.list_canned_replies(demo.OTHER_TENANT, "nobody")) == 1


def test_invalid_replies_are_refused_with_the_reason(clean_stack: LocalStack, people: dict[str, str]) -> None:
    cases = {
        "invalid_shortcut": {**GREETING, "shortcut": "two words"},
        "invalid_title": {**GREETING, "title": "  "},
        "invalid_body": {**GREETING, "body": ""},
    }
    for code, fields in cases.items():
        answer = save(clean_stack, people["dana"], scope="personal", **fields)
        assert answer.status_code == 422 and answer.json()["error"]["code"] == code, answer.text
    assert (
        call(clean_stack, people["dana"], action="save_canned", scope="global", **GREETING).status_code == 400
    )
    unauthenticated = requests.post(
        clean_stack.function_urls["agent_api"], json={"action": "list_canned"}, timeout=15
    )
    assert unauthenticated.status_code == 401
