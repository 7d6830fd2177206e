"""The team inbox on the emulators (issue 17): labels (admins manage them, agents put them on
conversations, concurrent changes both land, the inbox filters by query), activity lines (written
with their change, never unread, never the last message), bulk actions (per-id failures, the
tenant check) and the per-channel text limit."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
import requests
from google.cloud.firestore_v1.base_query import FieldFilter

from infra.local import demo
from infra.local.stack import LocalStack
from shared import ids, labels, store
from tests.support import agent_token, eventually, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
PAGE = next(c for c in demo.DEMO_CHANNELS if c.kind == "messenger")
ACME_WA = demo.OTHER_CHANNELS[0]
T = demo.DEMO_TENANT


@pytest.fixture
def tokens(clean_stack: LocalStack) -> dict[str, str]:
    return {
        "admin": agent_token(clean_stack, T, "alex@demo.test", role="admin", name="Alex"),
        "dana": agent_token(clean_stack, T, "dana@demo.test", name="Dana"),
        "ben": agent_token(clean_stack, T, "ben@demo.test", name="Ben"),
        "eve": agent_token(clean_stack, demo.OTHER_TENANT, "eve@acme.test", name="Eve"),
    }


def customer_writes(stack: LocalStack, wa_id: str, phone_number_id: str = WA.external_id) -> str:
    body = whatsapp_text_webhook(phone_number_id, wa_id, "Hello?", wamid=f"wamid.{uuid.uuid4().hex}")
    assert post_webhook(stack, "whatsapp", body).status_code == 200
    channel_id = WA.channel_id if phone_number_id == WA.external_id else ACME_WA.channel_id
    tenant = T if phone_number_id == WA.external_id else demo.OTHER_TENANT
    conversation_id = ids.conversation_id(channel_id, wa_id)
    eventually(lambda: store.get_conversation(tenant, conversation_id), what="the conversation")
    return conversation_id


def call(
    stack: LocalStack, token: str, body: dict[str, Any], function: str = "agent_api"
) -> requests.Response:
    return requests.post(
        stack.function_urls[function], headers={"Authorization": f"Bearer {token}"}, json=body, timeout=15
    )


def ok(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()


def activity_lines(conversation_id: str, tenant: str = T) -> list[dict[str, Any]]:
    messages = store.conversation_ref(tenant, conversation_id).collection("messages")
    query = messages.where(filter=FieldFilter("direction", "==", "system"))
    return sorted((s.to_dict() or {} for s in query.stream()), key=lambda d: d["sentAtMs"])


def new_label(stack: LocalStack, token: str, name: str, color: str = "#dc2626") -> str:
    return str(ok(call(stack, token, {"action": "create_label", "name": name, "color": color}))["labelId"])


# --- labels ----------------------------------------------------------------------------------------


def test_only_admins_manage_labels_and_names_are_unique(
    clean_stack: LocalStack, tokens: dict[str, str]
) -> None:
    refused = call(clean_stack, tokens["dana"], {"action": "create_label", "name": "VIP"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "admin_only"
    vip = new_label(clean_stack, tokens["admin"], "VIP")
    again = call(clean_stack, tokens["admin"], {"action": "create_label", "name": " vip "})
    assert again.status_code == 409 and again.json()["error"]["code"] == "label_exists"
    bad = call(clean_stack, tokens["admin"], {"action": "create_label", "name": "Red", "color": "red"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_color"
    renamed = ok(
        call(clean_stack, tokens["admin"], {"action": "update_label", "labelId": vip, "name": "Gold"})
    )
    assert renamed["name"] == "Gold"
    assert call(clean_stack, tokens["dana"], {"action": "delete_label", "labelId": vip}).status_code == 403
    assert store.list_labels(T)[vip]["name"] == "Gold"
    assert store.list_labels(demo.OTHER_TENANT) == {}


def test_two_agents_labelling_at_once_both_land_each_with_its_line(
    clean_stack: LocalStack, tokens: dict[str, str]
) -> None:
    conversation_id = customer_writes(clean_stack, "15550001001")
    billing, urgent = (
        new_label(clean_stack, tokens["admin"], "Billing"),
        new_label(clean_stack, tokens["admin"], "Urgent"),
    )
    start = threading.Barrier(2)
    answers: list[requests.Response] = []

    def label(token: str, label_id: str) -> None:
        start.wait(timeout=10)
        answers.append(
            call(
                clean_stack,
                token,
                {"action": "set_labels", "conversationId": conversation_id, "add": [label_id]},
            )
        )

    threads = [
        threading.Thread(target=label, args=(tokens["dana"], billing)),
        threading.Thread(target=label, args=(tokens["ben"], urgent)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [a.status_code for a in answers] == [200, 200]
    conversation = store.get_conversation(T, conversation_id) or {}
    assert sorted(conversation["labels"]) == sorted([billing, urgent])
    lines = activity_lines(conversation_id)
    assert sorted(line["text"] for line in lines) == [
        "Ben added the label “Urgent”",
        "Dana added the label “Billing”",
    ]
    # Adding one and removing the other in one request: one line, both changes.
    ok(
        call(
            clean_stack,
            tokens["dana"],
            {"action": "set_labels", "conversationId": conversation_id, "add": [], "remove": [urgent]},
        )
    )
    assert (store.get_conversation(T, conversation_id) or {})["labels"] == [billing]
    vip = new_label(clean_stack, tokens["admin"], "VIP")
    both = {"action": "set_labels", "conversationId": conversation_id, "add": [vip], "remove": [billing]}
    assert ok(call(clean_stack, tokens["ben"], both)) == {
        "conversationId": conversation_id,
        "added": [vip],
        "removed": [billing],
    }
    assert (store.get_conversation(T, conversation_id) or {})["labels"] == [vip]
    assert (
        activity_lines(conversation_id)[-1]["text"]
        == "Ben added the label “VIP” and removed the label “Billing”"
    )
    # Nothing to change: nothing written.
    ok(call(clean_stack, tokens["ben"], both))
    assert len(activity_lines(conversation_id)) == 4


def test_labels_are_capped_and_must_exist_and_other_tenants_are_refused(
    clean_stack: LocalStack, tokens: dict[str, str]
) -> None:
    conversation_id = customer_writes(clean_stack, "15550001002")
    made = [
        new_label(clean_stack, tokens["admin"], f"L{i}")
        for i in range(labels.MAX_LABELS_PER_CONVERSATION + 1)
    ]
    too_many = call(
        clean_stack, tokens["dana"], {"action": "set_labels", "conversationId": conversation_id, "add": made}
    )
    assert too_many.status_code == 422 and too_many.json()["error"]["code"] == "too_many_labels"
    unknown = call(
        clean_stack,
        tokens["dana"],
        {"action": "set_labels", "conversationId": conversation_id, "add": ["lbnope"]},
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "label_not_found"
    across = call(
        clean_stack,
        tokens["eve"],
        {"action": "set_labels", "conversationId": conversation_id, "add": made[:1]},
    )
    assert across.status_code == 404 and across.json()["error"]["code"] == "conversation_not_found"
    assert "labels" not in (store.get_conversation(T, conversation_id) or {})
    assert activity_lines(conversation_id) == []


def test_the_inbox_filters_by_label_and_unassigned_with_queries(
    clean_stack: LocalStack, tokens: dict[str, str]
) -> None:
    first = customer_writes(clean_stack, "15550001003")
    second = customer_writes(clean_stack, "15550001004")
    vip = new_label(clean_stack, tokens["admin"], "VIP")
    # Ingest gives every conversation assigned = 0 (Maximum(0): no read, no extra write).
    assert sorted(store.inbox_page(T, unassigned=True)) == sorted([first, second])
    ok(call(clean_stack, tokens["dana"], {"action": "set_labels", "conversationId": first, "add": [vip]}))
    assert store.inbox_page(T, label=vip) == [first]
    assert store.inbox_page(T, label=vip, status="open", unassigned=True) == [first]
    agents = {a["email"]: uid for uid, a in _agents().items()}
    ok(
        call(
            clean_stack,
            tokens["dana"],
            {"action": "assign", "conversationId": first, "assigneeId": agents["ben@demo.test"]},
        )
    )
    assert store.inbox_page(T, unassigned=True) == [second]
    # The customer writes again: ingest's Maximum(0) keeps the assignment's 1.
    customer_writes(clean_stack, "15550001003")
    eventually(
        lambda: (store.get_conversation(T, first) or {}).get("messageCount") == 2, what="the second message"
    )
    assert store.inbox_page(T, unassigned=True) == [second]
    assert store.inbox_page(T, label=vip) == [first]
    ok(call(clean_stack, tokens["dana"], {"action": "assign", "conversationId": first, "assigneeId": None}))
    assert sorted(store.inbox_page(T, unassigned=True)) == sorted([first, second])
    # Deleting the label takes it off every conversation.
    ok(call(clean_stack, tokens["admin"], {"action": "delete_label", "labelId": vip}))
    assert store.inbox_page(T, label=vip) == []
    assert (store.get_conversation(T, first) or {})["labels"] == []


def test_backfill_gives_old_conversations_the_assigned_field(clean_stack: LocalStack) -> None:
    from shared import cli

    old = {"kind": "support", "tenantId": T, "status": "open", "lastActivityAtMs": 1}
    store.update_conversation(T, "old-unassigned", old)
    store.update_conversation(T, "old-assigned", {**old, "lastActivityAtMs": 2, "assigneeId": "someone"})
    assert store.inbox_page(T, unassigned=True) == []
    assert store.backfill_assigned(T, dry_run=True) == 2
    assert cli.main(["backfill-inbox", "--tenant", T]) == 0
    assert store.inbox_page(T, unassigned=True) == ["old-unassigned"]
    assert store.backfill_assigned(T) == 0


def _agents() -> dict[str, dict[str, Any]]:
    agents = store.client().collection("tenants").document(T).collection("agents").stream()
    return {s.id: s.to_dict() or {} for s in agents}


# --- activity lines --------------------------------------------------------------------------------


def test_activity_lines_are_written_with_their_change_and_are_never_unread_or_the_last_message(
    clean_stack: LocalStack, tokens: dict[str, str]
) -> None:
    conversation_id = customer_writes(clean_stack, "15550001005")
    before = store.get_conversation(T, conversation_id) or {}
    ok(
        call(
            clean_stack,
            tokens["dana"],
            {"action": "set_status", "conversationId": conversation_id, "status": "resolved"},
        )
    )
    after = store.get_conversation(T, conversation_id) or {}
    [line] = activity_lines(conversation_id)
    assert line["type"] == "activity" and line["activity"]["verb"] == "resolve"
    assert line["activity"]["actorName"] == "Dana" and line["text"] == "Dana resolved the conversation"
    # One commit: the line's server time is the change's.
    assert line["sentAt"] == after["statusChangedAt"]
    assert after["unreadCount"] == before["unreadCount"] == 1
    assert after["lastMessage"] == before["lastMessage"]
    assert after["messageCount"] == before["messageCount"]
    # The same status again: nothing worth a line.
    ok(
        call(
            clean_stack,
            tokens["dana"],
            {"action": "set_status", "conversationId": conversation_id, "status": "resolved"},
        )
    )
    until = int(time.time() * 1000) + 3_600_000
    ok(
        call(
            clean_stack,
            tokens["ben"],
            {
                "action": "set_status",
                "conversationId": conversation_id,
                "status": "snoozed",
                "snoozeUntilMs": until,
            },
        )
    )
    agents = {a["email"]: uid for uid, a in _agents().items()}
    ben = agents["ben@demo.test"]
    ok(
        call(
            clean_stack,
            tokens["ben"],
            {"action": "assign", "conversationId": conversation_id, "assigneeId": ben},
        )
    )
    ok(
        call(
            clean_stack,
            tokens["dana"],
            {"action": "assign", "conversationId": conversation_id, "assigneeId": None},
        )
    )
    ok(
        call(
            clean_stack,
            tokens["dana"],
            {"action": "set_status", "conversationId": conversation_id, "status": "open"},
        )
    )
    lines = activity_lines(conversation_id)
    assert [line["activity"]["verb"] for line in lines] == [
        "resolve",
        "snooze",
        "assign",
        "unassign",
        "reopen",
    ]
    assert lines[1]["activity"]["untilMs"] == until
    assert lines[2]["text"] == "Ben assigned the conversation to themselves"
    assert lines[3]["text"] == "Dana unassigned Ben"
    final = store.get_conversation(T, conversation_id) or {}
    assert final["unreadCount"] == 1 and final["lastMessage"] == before["lastMessage"]
    # The customer's next message is the last message; the lines are not counted as unread.
    customer_writes(clean_stack, "15550001005")
    eventually(
        lambda: (store.get_conversation(T, conversation_id) or {}).get("unreadCount") == 2, what="unread 2"
    )


# --- bulk ------------------------------------------------------------------------------------------


def test_bulk_resolves_labels_and_assigns_reporting_failures_per_conversation(
    clean_stack: LocalStack, tokens: dict[str, str]
) -> None:
    mine = [customer_writes(clean_stack, f"1555000200{i}") for i in range(3)]
    theirs = customer_writes(clean_stack, "15550002999", ACME_WA.external_id)
    selection = [*mine, theirs, "no-such-conversation"]
    answer = ok(
        call(
            clean_stack,
            tokens["dana"],
            {"action": "bulk", "op": "status", "status": "resolved", "conversationIds": selection},
        )
    )
    assert answer["succeeded"] == 3 and answer["failed"] == 2
    assert answer["results"][theirs] == {
        "ok": False,
        "code": "conversation_not_found",
        "message": "no such conversation",
    }
    assert answer["results"]["no-such-conversation"]["code"] == "conversation_not_found"
    for conversation_id in mine:
        assert (store.get_conversation(T, conversation_id) or {})["status"] == "resolved"
        assert [line["activity"]["verb"] for line in activity_lines(conversation_id)] == ["resolve"]
    assert (store.get_conversation(demo.OTHER_TENANT, theirs) or {})["status"] == "open"
    assert activity_lines(theirs, demo.OTHER_TENANT) == []

    vip = new_label(clean_stack, tokens["admin"], "VIP")
    labelled = ok(
        call(
            clean_stack,
            tokens["ben"],
            {"action": "bulk", "op": "label", "add": [vip], "conversationIds": mine},
        )
    )
    assert labelled["succeeded"] == 3
    assert sorted(store.inbox_page(T, label=vip, limit=10)) == sorted(mine)  # same second: any order
    ben = {a["email"]: uid for uid, a in _agents().items()}["ben@demo.test"]
    assigned = ok(
        call(
            clean_stack,
            tokens["dana"],
            {"action": "bulk", "op": "assign", "assigneeId": ben, "conversationIds": mine},
        )
    )
    assert assigned["succeeded"] == 3
    assert all((store.get_conversation(T, c) or {})["assigned"] == 1 for c in mine)
    assert [line["activity"]["verb"] for line in activity_lines(mine[0])] == ["resolve", "labels", "assign"]
    too_many = call(
        clean_stack,
        tokens["dana"],
        {
            "action": "bulk",
            "op": "status",
            "status": "resolved",
            "conversationIds": [f"c{i}" for i in range(101)],
        },
    )
    assert too_many.status_code == 422 and too_many.json()["error"]["code"] == "too_many_conversations"


# --- the text limit --------------------------------------------------------------------------------


def test_a_reply_over_the_channels_limit_is_refused_naming_the_limit(
    clean_stack: LocalStack, tokens: dict[str, str]
) -> None:
    conversation_id = customer_writes(clean_stack, "15550003001")

    def reply(text: str) -> requests.Response:
        body = {
            "conversationId": conversation_id,
            "clientMessageId": uuid.uuid4().hex,
            "message": {"type": "text", "text": text},
        }
        return call(clean_stack, tokens["dana"], body, "send_message")

    refused = reply("x" * 4097)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "text_too_long" and "4096" in error["message"] and "4097" in error["message"]
    assert reply("é" * 4096).status_code == 200
