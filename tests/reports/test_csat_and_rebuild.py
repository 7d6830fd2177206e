"""Reports on the emulators, issue 19: customers' ratings (the CSAT data contract's activity lines:
one redelivered, one changed a day later) come out of the fold as computed by hand, per channel,
agent and label, narrowed by channel through agent_api ``reports``; ``rebuild-reports`` reaches the
same documents; counts messages stored before reports existed; and converges while messages keep
arriving, handing over to the fold."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from google.api_core.exceptions import AlreadyExists

from infra.local import demo, payloads
from infra.local.stack import LocalStack
from shared import cli, ids, store
from shared.reports import fold, rebuild, tally
from shared.search import fields as search_fields
from tests.reports.test_reports_pipeline import call, customer_writes, reply
from tests.support import agent_token, eventually, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

T = demo.DEMO_TENANT
WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
PAGE = next(c for c in demo.DEMO_CHANNELS if c.kind == "messenger")


def agent_id(email: str) -> str:
    agents = store.client().collection("tenants").document(T).collection("agents").stream()
    return next(s.id for s in agents if (s.to_dict() or {}).get("email") == email)


def rate(
    conversation_id: str, ask: str, n: int, score: int, at_ms: int, replaces: dict | None = None
) -> bool:
    """A rating as the CSAT data contract records it: an activity line with id ``rate-<ask>-<n>``,
    created once (a redelivered reply writes nothing: False)."""
    line = {
        "verb": "rate",
        "score": score,
        "comment": "",
        "source": "buttons",
        "askId": ask,
        "replaces": replaces,
    }
    document = {
        "direction": "system",
        "type": "activity",
        "activity": line,
        "text": f"Customer rated {score}/5",
        "sender": {"kind": "customer"},
        "status": "activity",
        "sentAt": datetime.fromtimestamp(at_ms / 1000, UTC),
        "createdAt": store.server_time(),
        "reportAt": store.server_time(),
    }
    document.update(search_fields.message_fields(T, conversation_id, at_ms, document))
    try:
        store.message_ref(T, conversation_id, f"rate-{ask}-{n}").create(document)
    except AlreadyExists:
        return False
    return True


def documents() -> tuple[dict[str, Any], dict[str, Any]]:
    """Every day document and channel document of the tenant."""
    days = {doc["day"]: doc for doc in store.list_report_days(T, "0000-00-00", "9999-99-99")}
    channels = store.client().collection("tenants").document(T).collection("reportChannels").stream()
    return days, {snapshot.id: snapshot.to_dict() for snapshot in channels}


def folded(probe: Any) -> Any:
    """Fold (this test's own call, besides deliver's) until ``probe`` holds."""

    def attempt() -> Any:
        fold.fold(T)
        return probe()

    return eventually(attempt, timeout=60, interval=0.5, what="the fold to count it")


def test_ratings_redelivered_and_changed_count_as_computed_by_hand_and_the_rebuild_agrees(
    clean_stack: LocalStack,
) -> None:
    fold.forget_schedule()
    dana = agent_token(clean_stack, T, "dana@demo.test", name="Dana")
    eli = agent_token(clean_stack, T, "eli@demo.test", name="Eli")
    admin = agent_token(clean_stack, T, "alex@demo.test", role="admin", name="Alex")
    dana_id, eli_id = agent_id("dana@demo.test"), agent_id("eli@demo.test")
    vip = call(clean_stack, admin, {"action": "create_label", "name": "VIP", "color": "#7c3aed"})["labelId"]
    # A (WhatsApp): Dana's, labelled VIP. B (Messenger): Eli's.
    a = customer_writes(clean_stack, "15550007101", 60, deliveries=1)
    call(clean_stack, dana, {"action": "assign", "conversationId": a, "assigneeId": dana_id})
    call(clean_stack, dana, {"action": "set_labels", "conversationId": a, "add": [vip]})
    assert post_webhook(
        clean_stack, "messenger", payloads.messenger_text(PAGE.external_id, "psid-csat", "Hi")
    ).ok
    b = ids.conversation_id(PAGE.channel_id, "psid-csat")
    eventually(lambda: store.get_conversation(T, b), what="B")
    call(clean_stack, eli, {"action": "assign", "conversationId": b, "assigneeId": eli_id})

    now_ms = int(time.time() * 1000)
    yesterday_ms = now_ms - 86_400_000
    zone = tally.zone(fold.time_zone(T))
    today = datetime.fromtimestamp(now_ms / 1000, zone).date().isoformat()
    yesterday = datetime.fromtimestamp(yesterday_ms / 1000, zone).date().isoformat()
    # A: 5 yesterday, the reply redelivered, then changed to 2 today. B: 4 today.
    assert rate(a, "ask-a", 1, 5, yesterday_ms)
    assert not rate(a, "ask-a", 1, 5, yesterday_ms)
    folded(lambda: documents()[0].get(yesterday, {}).get("dims", {}).get("all", {}).get("csat") == {"5": 1})
    assert rate(a, "ask-a", 2, 2, now_ms, replaces={"score": 5, "atMs": yesterday_ms})
    assert rate(b, "ask-b", 1, 4, now_ms)
    days, channels = folded(
        lambda: (found := documents())[0][today]["dims"]["all"].get("csat") == {"2": 1, "4": 1} and found
    )

    assert "csat" not in (days[yesterday]["dims"].get("all") or {})  # the 5 left its own day
    dims = days[today]["dims"]
    assert dims["channel:whatsapp"]["csat"] == {"2": 1} and dims["channel:messenger"]["csat"] == {"4": 1}
    assert dims[f"agent:{dana_id}"]["csat"] == {"2": 1} and dims[f"agent:{eli_id}"]["csat"] == {"4": 1}
    assert dims[f"label:{vip}"]["csat"] == {"2": 1}
    whatsapp = channels[f"{today}_whatsapp"]["dims"]
    assert whatsapp[f"agent:{dana_id}"]["csat"] == {"2": 1} and f"agent:{eli_id}" not in whatsapp
    assert channels[f"{today}_messenger"]["dims"][f"agent:{eli_id}"]["csat"] == {"4": 1}

    assert cli.main(["rebuild-reports", "--tenant", T]) == 0
    assert documents() == (days, channels)

    body = {"action": "reports", "fromDay": yesterday, "toDay": today}
    page = call(clean_stack, admin, body)
    assert page["totals"]["csat"] == {
        "ratings": 2,
        "average": 3.0,
        "percent": 50.0,
        "distribution": [0, 1, 0, 1, 0],
    }
    assert {row["name"]: row["csatAverage"] for row in page["breakdown"]["agent"]} == {
        "Dana": 2.0,
        "Eli": 4.0,
    }
    narrowed = call(clean_stack, admin, {**body, "channel": "whatsapp"})
    assert [(row["name"], row["csatRatings"], row["in"]) for row in narrowed["breakdown"]["agent"]] == [
        ("Dana", 1, 0)  # A's message came before Dana took it
    ]
    assert [row["name"] for row in narrowed["breakdown"]["label"]] == ["VIP"]
    assert narrowed["totals"]["csat"]["percent"] == 0.0
    other = call(clean_stack, admin, {**body, "channel": "messenger"})
    assert [row["name"] for row in other["breakdown"]["agent"]] == ["Eli"] and not other["breakdown"]["label"]


def test_the_rebuild_counts_messages_stored_before_reports_existed(clean_stack: LocalStack) -> None:
    fold.forget_schedule()
    dana = agent_token(clean_stack, T, "dana@demo.test", name="Dana")
    a = customer_writes(clean_stack, "15550007201", 300, deliveries=1)
    reply(clean_stack, dana, a)
    call(clean_stack, dana, {"action": "set_status", "conversationId": a, "status": "resolved"})
    customer_writes(clean_stack, "15550007202", 100, deliveries=1)
    eventually(lambda: sum(d["dims"]["all"].get("in", 0) for d in documents()[0].values()) == 2, timeout=60)
    expected_days, _ = documents()

    # The older version: no reportAt (nor search's tenantId, sentAtMs and terms) on its messages, no
    # report documents at all.
    legacy = list(store.client().collection_group("messages").stream())
    assert len(legacy) == 4  # two customer messages, a reply, a resolution
    for snapshot in legacy:
        snapshot.reference.update(
            {name: store.delete_field() for name in ("reportAt", "tenantId", "sentAtMs", "terms")}
        )
    tenant = store.client().collection("tenants").document(T)
    for name in ("reports", "reportChannels", "reportConversations"):
        for snapshot in tenant.collection(name).stream():
            snapshot.reference.delete()
    # Upgraded: a new message carries reportAt, and the fold counts it (and only it).
    customer_writes(clean_stack, "15550007203", 0, deliveries=1)
    eventually(lambda: sum(d["dims"]["all"].get("in", 0) for d in documents()[0].values()) == 1, timeout=60)

    done = rebuild.rebuild(T)
    assert done["legacyMessages"] == 4 and done["messages"] == 5
    days, _ = documents()
    all_days = [doc["dims"]["all"] for doc in days.values()]
    assert sum(d.get("in", 0) for d in all_days) == 3 and sum(d.get("opened", 0) for d in all_days) == 3
    assert sum(d.get("out", 0) for d in all_days) == 1 and sum(d.get("resolved", 0) for d in all_days) == 1
    frt = [d["frt"] for d in all_days if "frt" in d]
    assert [dist["n"] for dist in frt] == [1] and frt[0] == expected_days[min(expected_days)]["dims"]["all"][
        "frt"
    ]


def test_a_rebuild_while_messages_keep_arriving_converges_and_the_fold_takes_over(
    clean_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    fold.forget_schedule()
    posted: list[float] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            wa_id = f"155500073{len(posted) % 5:02d}"
            body = whatsapp_text_webhook(
                WA.external_id, wa_id, f"live {len(posted)}", wamid=f"wamid.{uuid.uuid4().hex}"
            )
            if post_webhook(clean_stack, "whatsapp", body).status_code == 200:
                posted.append(time.time())
            stop.wait(0.15)

    def counted() -> int:
        return sum(int(d["dims"].get("all", {}).get("in", 0)) for d in documents()[0].values())

    sender = threading.Thread(target=traffic, daemon=True)
    sender.start()
    try:
        eventually(lambda: counted() >= 20, timeout=90, what="20 messages folded")
        # Hold the rebuild between taking its lease and counting, to fold meanwhile; small pages.
        monkeypatch.setattr(rebuild, "READ_PAGE", 5)
        leased, go = threading.Event(), threading.Event()
        original = rebuild._count_legacy

        def held(*args: Any) -> int:
            found = original(*args)
            leased.set()
            go.wait(30)
            return found

        monkeypatch.setattr(rebuild, "_count_legacy", held)
        outcome: dict[str, Any] = {}
        worker = threading.Thread(target=lambda: outcome.update(rebuild.rebuild(T)), daemon=True)
        worker.start()
        assert leased.wait(60), "the rebuild never took its lease"
        arrived = len(posted)
        eventually(lambda: len(posted) > arrived + 3, timeout=30, what="messages during the rebuild")
        assert fold.fold(T) == "reports-paused-for-rebuild"
        go.set()
        worker.join(120)
        assert outcome.get("messages", 0) >= 20, outcome
        during = len(posted) - arrived
        eventually(lambda: len(posted) > arrived + during + 5, timeout=30, what="messages after the rebuild")
    finally:
        stop.set()
        sender.join(30)
    total = len(posted)
    eventually(lambda: counted() == total, timeout=90, what=f"the fold to count all {total} messages")
    monkeypatch.undo()
    after = documents()
    assert rebuild.rebuild(T)["messages"] == total
    assert documents() == after
