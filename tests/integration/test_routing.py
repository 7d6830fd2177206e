"""Teams, routing and auto-assignment on the emulators (issue 17, part 5): round robin among the
team's online members, capacity respected, waiting conversations assigned as capacity frees,
offline (or silent) agents skipped, and concurrent routing that never double-assigns nor exceeds
anyone's capacity."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
import requests

from infra.local import demo
from infra.local.stack import LocalStack
from shared import audit, conversations, ids, routing, store
from shared.auth import Caller
from tests.support import agent_token, eventually, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

T = demo.DEMO_TENANT
WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
ADMIN = Caller(uid="admin-1", tenant_id=T, role="admin", name="Alex Admin")


def agent(uid: str, *, capacity: int = 5, state: str = "online", seen_ago_ms: int = 0) -> str:
    store.put_agent(
        T,
        uid,
        {
            "name": uid.title(),
            "email": f"{uid}@demo.test",
            "role": "agent",
            "capacity": capacity,
            "presence": {"state": state, "lastSeenMs": routing.now_ms() - seen_ago_ms},
        },
    )
    return uid


def team_of(*members: str, auto_assign: bool = True) -> str:
    team = routing.save_team(ADMIN, None, "Support", list(members), auto_assign)
    routing.route_channel(ADMIN, WA.channel_id, team["id"])
    return str(team["id"])


def new_conversation() -> str:
    """A conversation's first message, written as ingest writes it; the write says it was first."""
    conversation_id = f"conv-{uuid.uuid4().hex[:12]}"
    created, first = store.create_first_message(
        store.NewMessage(
            tenant_id=T,
            conversation_id=conversation_id,
            message_id="m1",
            message={"direction": "in", "type": "text", "text": "hi"},
            conversation={
                "kind": "support",
                "tenantId": T,
                "channelId": WA.channel_id,
                "status": "open",
                "assigned": store.maximum(0),
                "messageCount": store.increment(1),
            },
        )
    )
    assert created and first
    return conversation_id


def assignee(conversation_id: str) -> str | None:
    return (store.get_conversation(T, conversation_id) or {}).get("assigneeId")


def assign_lines(conversation_id: str) -> list[dict[str, Any]]:
    messages = store.conversation_ref(T, conversation_id).collection("messages").stream()
    return [m.to_dict() for m in messages if (m.to_dict() or {}).get("activity", {}).get("verb") == "assign"]


def test_new_conversations_through_ingest_go_round_robin_and_later_messages_change_nothing(
    clean_stack: LocalStack,
) -> None:
    a, b, c = agent("ana"), agent("ben"), agent("cy")
    team_of(a, b, c)
    order = []
    for n in range(6):
        wa_id = f"4915{n:08d}"
        body = whatsapp_text_webhook(WA.external_id, wa_id, "Hello?", wamid=f"wamid.{uuid.uuid4().hex}")
        assert post_webhook(clean_stack, "whatsapp", body).status_code == 200
        conversation_id = ids.conversation_id(WA.channel_id, wa_id)
        order.append(eventually(lambda cid=conversation_id: assignee(cid), what="auto-assignment"))
    assert order == [a, b, c, a, b, c]
    first = ids.conversation_id(WA.channel_id, "491500000000")
    (line,) = assign_lines(first)
    assert line["activity"]["actorName"] == "Auto-assignment" and line["activity"]["assigneeName"] == "Ana"
    # A second message in an existing conversation: no routing, the assignee stays.
    body = whatsapp_text_webhook(WA.external_id, "491500000000", "again", wamid=f"wamid.{uuid.uuid4().hex}")
    assert post_webhook(clean_stack, "whatsapp", body).status_code == 200
    eventually(lambda: (store.get_conversation(T, first) or {}).get("messageCount") == 2, what="message 2")
    assert assignee(first) == a and len(assign_lines(first)) == 1


def test_capacity_is_respected_and_waiting_conversations_are_assigned_as_capacity_frees(
    clean_stack: LocalStack,
) -> None:
    a, b = agent("ana", capacity=1), agent("ben", capacity=1)
    team_id = team_of(a, b)
    first, second, third, fourth = (new_conversation() for _ in range(4))
    assert routing.route_new_conversation(T, WA.channel_id, first) == a
    assert routing.route_new_conversation(T, WA.channel_id, second) == b
    assert routing.route_new_conversation(T, WA.channel_id, third) is None
    assert routing.route_new_conversation(T, WA.channel_id, fourth) is None
    waiting = store.get_conversation(T, third) or {}
    assert waiting.get("assigned") == 0 and waiting.get("waitingTeamId") == team_id
    assert store.waiting_conversations(T, team_id) == [third, fourth]  # longest waiting first

    # Ana resolves hers: the longest-waiting conversation is hers now.
    conversations.set_status(Caller(uid=a, tenant_id=T, role="agent", name="Ana"), first, "resolved", None)
    assert assignee(third) == a and assignee(fourth) is None
    assert "waitingTeamId" not in (store.get_conversation(T, third) or {})
    assert store.agent_open_load(T, a) == 1

    # Ben gets more room: the last one goes to him.
    routing.set_capacity(ADMIN, b, 2)
    assert assignee(fourth) == b and store.waiting_conversations(T, team_id) == []
    entry = audit.entries(ADMIN, action="agent.capacity")[0]
    assert entry["before"] == 1 and entry["after"] == 2 and entry["target"]["id"] == b


def test_a_bulk_resolve_frees_capacity_and_waiting_conversations_are_assigned(
    clean_stack: LocalStack,
) -> None:
    from shared import bulk

    a, b = agent("ana", capacity=1), agent("ben", capacity=1)
    team_id = team_of(a, b)
    mine, bens, waiting_one, waiting_two = (new_conversation() for _ in range(4))
    assert routing.route_new_conversation(T, WA.channel_id, mine) == a
    assert routing.route_new_conversation(T, WA.channel_id, bens) == b
    assert routing.route_new_conversation(T, WA.channel_id, waiting_one) is None
    assert routing.route_new_conversation(T, WA.channel_id, waiting_two) is None

    answer = bulk.run(ADMIN, [mine, bens], "status", status="resolved")
    assert answer["succeeded"] == 2
    assert {assignee(waiting_one), assignee(waiting_two)} == {a, b}
    assert store.waiting_conversations(T, team_id) == []
    assert store.agent_open_load(T, a) == 1 and store.agent_open_load(T, b) == 1


def test_offline_away_and_silent_agents_are_skipped_and_coming_online_takes_waiting_work(
    clean_stack: LocalStack,
) -> None:
    away = agent("ana", state="away")
    silent = agent("ben", seen_ago_ms=routing.PRESENCE_STALE_MS + 5_000)  # "online", heartbeat stopped
    offline = agent("cy", state="offline")
    online = agent("dee")
    team_of(away, silent, offline, online)
    assert routing.presence_of(store.get_agent(T, silent) or {}) == "offline"
    assert [routing.route_new_conversation(T, WA.channel_id, new_conversation()) for _ in range(2)] == [
        online,
        online,
    ]
    routing.set_capacity(ADMIN, online, 2)  # full now
    waiting = new_conversation()
    assert routing.route_new_conversation(T, WA.channel_id, waiting) is None
    routing.heartbeat(Caller(uid=silent, tenant_id=T, role="agent"), "online")
    assert assignee(waiting) == silent


def test_a_team_without_auto_assignment_or_an_unrouted_channel_leaves_conversations_unassigned(
    clean_stack: LocalStack,
) -> None:
    a = agent("ana")
    team_id = team_of(a, auto_assign=False)
    conversation_id = new_conversation()
    assert routing.route_new_conversation(T, WA.channel_id, conversation_id) is None
    assert "waitingTeamId" not in (store.get_conversation(T, conversation_id) or {})
    routing.route_channel(ADMIN, WA.channel_id, None)
    routing.save_team(ADMIN, team_id, "Support", [a], True)
    assert routing.route_new_conversation(T, WA.channel_id, new_conversation()) is None


def test_concurrent_routing_never_double_assigns_nor_exceeds_capacity(clean_stack: LocalStack) -> None:
    # Heartbeats fresh for the whole test, however slow the loaded machine makes it.
    members = [agent(f"agent{n}", capacity=3, seen_ago_ms=-600_000) for n in range(4)]
    team_id = team_of(*members)
    conversation_ids = [new_conversation() for _ in range(16)]
    # Every conversation routed twice at once (two ingests racing), 8 threads.
    work = conversation_ids * 2
    results: list[str | None] = []
    lock = threading.Lock()

    def worker(chunk: list[str]) -> None:
        for conversation_id in chunk:
            outcome = routing.route_new_conversation(T, WA.channel_id, conversation_id)
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=worker, args=(work[n::8],)) for n in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not any(thread.is_alive() for thread in threads), "routing threads hung"
    assert time.monotonic() - started < 240

    assignees = {cid: assignee(cid) for cid in conversation_ids}
    assigned = [cid for cid, uid in assignees.items() if uid]
    assert len(assigned) == 12  # 4 agents x capacity 3
    for cid in conversation_ids:
        assert len(assign_lines(cid)) == (1 if assignees[cid] else 0), cid  # assigned once, never twice
    loads = {uid: store.agent_open_load(T, uid) for uid in members}
    assert all(load == 3 for load in loads.values()), loads
    assert sum(1 for outcome in results if outcome) == 12
    waiting = store.waiting_conversations(T, team_id)
    assert sorted(waiting) == sorted(cid for cid in conversation_ids if not assignees[cid])


def test_agent_api_routing_actions_are_admin_only_audited_and_presence_is_each_agents_own(
    clean_stack: LocalStack,
) -> None:
    url = clean_stack.function_urls["agent_api"]
    admin = agent_token(clean_stack, T, "alex@demo.test", role="admin", name="Alex")
    dana = agent_token(clean_stack, T, "dana@demo.test", name="Dana")
    dana_uid = next(uid for uid, a in store.list_agents(T) if a.get("email") == "dana@demo.test")

    def call(token: str, **body: Any) -> requests.Response:
        return requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=15)

    assert call(dana, action="save_team", name="Nope", memberIds=[]).status_code == 403
    assert call(dana, action="routing_overview").status_code == 403
    assert call(admin, action="save_team", name="X", memberIds=["ghost"]).status_code == 422
    assert call(admin, action="save_team", name="X", surprise=1).status_code == 400
    saved = call(admin, action="save_team", name="Billing", memberIds=[dana_uid], autoAssign=True)
    assert saved.status_code == 200, saved.text
    team_id = saved.json()["id"]
    assert call(admin, action="route_channel", channelId=WA.channel_id, teamId=team_id).status_code == 200
    assert call(admin, action="set_capacity", agentId=dana_uid, capacity=7).status_code == 200
    assert call(admin, action="set_capacity", agentId=dana_uid, capacity=-1).status_code == 422
    heartbeat = call(dana, action="presence", state="online")
    assert heartbeat.status_code == 200 and heartbeat.json()["state"] == "online"
    assert call(dana, action="presence", state="busy").status_code == 422

    overview = call(admin, action="routing_overview").json()
    assert overview["teams"] == [
        {"id": team_id, "name": "Billing", "memberIds": [dana_uid], "autoAssign": True}
    ]
    dana_row = next(a for a in overview["agents"] if a["id"] == dana_uid)
    assert dana_row["capacity"] == 7 and dana_row["presence"] == "online" and dana_row["openLoad"] == 0
    assert next(c for c in overview["channels"] if c["id"] == WA.channel_id)["teamId"] == team_id

    deleted = call(admin, action="delete_team", teamId=team_id)
    assert deleted.status_code == 200 and deleted.json()["unroutedChannels"] == [WA.channel_id]
    assert "teamId" not in (store.get_channel(T, WA.channel_id) or {})
    actions = [e["action"] for e in audit.entries(ADMIN)]
    assert sorted(actions) == sorted(["team.save", "channel.route", "agent.capacity", "team.delete"])


def test_the_cli_runs_the_same_operations_audited_as_the_operator(
    clean_stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from shared import cli

    a = agent("ana")
    assert (
        cli.main(["routing", "save-team", "--tenant", T, "--name", "Night", "--member", a, "--auto-assign"])
        == 0
    )
    team = json.loads(capsys.readouterr().out)
    assert team["memberIds"] == [a] and team["autoAssign"] is True
    assert (
        cli.main(
            ["routing", "route-channel", "--tenant", T, "--channel", WA.channel_id, "--team", team["id"]]
        )
        == 0
    )
    assert cli.main(["routing", "capacity", "--tenant", T, "--agent", a, "--max-open", "1"]) == 0
    capsys.readouterr()
    assert routing.route_new_conversation(T, WA.channel_id, new_conversation()) == a
    assert cli.main(["routing", "show", "--tenant", T]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert next(row for row in shown["agents"] if row["id"] == a)["openLoad"] == 1
    assert cli.main(["routing", "capacity", "--tenant", T, "--agent", "ghost", "--max-open", "1"]) == 1
    assert {e["actorId"] for e in audit.entries(ADMIN)} == {"operator-cli"}
