"""Reports on the emulators (issue 19 part 4): a hand-computed conversation history, with every
customer message delivered more than once, comes out of the incremental fold exactly as computed;
folding again changes nothing; ``rebuild-reports`` reaches the same documents; agent_api ``reports``
serves them to admins only."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from infra.local import demo
from infra.local.stack import LocalStack
from shared import cli, ids, store
from shared.reports import fold, histogram
from tests.support import agent_token, eventually, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
T = demo.DEMO_TENANT


def customer_writes(stack: LocalStack, wa_id: str, seconds_ago: int, deliveries: int) -> str:
    """A customer's message, its webhook posted ``deliveries`` times (the same event each time: what
    a provider retrying, or Pub/Sub redelivering, does)."""
    stamp = int(time.time()) - seconds_ago
    body = whatsapp_text_webhook(
        WA.external_id, wa_id, "Hello?", wamid=f"wamid.{uuid.uuid4().hex}", timestamp=stamp
    )
    for _ in range(deliveries):
        assert post_webhook(stack, "whatsapp", body).status_code == 200
    conversation_id = ids.conversation_id(WA.channel_id, wa_id)
    eventually(lambda: store.get_conversation(T, conversation_id), what="the conversation")
    return conversation_id


def call(stack: LocalStack, token: str, body: dict[str, Any], function: str = "agent_api") -> dict[str, Any]:
    response = requests.post(
        stack.function_urls[function], headers={"Authorization": f"Bearer {token}"}, json=body, timeout=15
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def reply(stack: LocalStack, token: str, conversation_id: str) -> None:
    message = {"type": "text", "text": "On it"}
    body = {"conversationId": conversation_id, "clientMessageId": uuid.uuid4().hex, "message": message}
    call(stack, token, body, "send_message")


def all_days() -> dict[str, dict[str, Any]]:
    return {doc["day"]: doc for doc in store.list_report_days(T, "0000-00-00", "9999-99-99")}


def total(dim: str, metric: str) -> Any:
    found: dict[str, Any] = {}
    for doc in all_days().values():
        figures = doc["dims"].get(dim, {}).get(metric)
        if isinstance(figures, dict):
            histogram.merge(found.setdefault("d", histogram.empty()), figures)
        elif figures:
            found["n"] = found.get("n", 0) + figures
    return found.get("d") or found.get("n", 0)


def test_figures_match_the_hand_computed_history_once_each_however_often_delivered(
    clean_stack: LocalStack,
) -> None:
    fold.forget_schedule()
    dana = agent_token(clean_stack, T, "dana@demo.test", name="Dana")
    admin = agent_token(clean_stack, T, "alex@demo.test", role="admin", name="Alex")
    agents = store.client().collection("tenants").document(T).collection("agents").stream()
    dana_id = next(s.id for s in agents if (s.to_dict() or {}).get("email") == "dana@demo.test")
    vip = call(clean_stack, admin, {"action": "create_label", "name": "VIP", "color": "#7c3aed"})["labelId"]

    # A: two customer messages (each delivered twice), 540 s before Dana's first reply.
    a = customer_writes(clean_stack, "15550007001", 540, deliveries=2)
    customer_writes(clean_stack, "15550007001", 530, deliveries=2)
    # B: one message delivered three times; Dana takes it, labels it VIP and answers 270 s later.
    b = customer_writes(clean_stack, "15550007002", 270, deliveries=3)
    call(clean_stack, dana, {"action": "assign", "conversationId": b, "assigneeId": dana_id})
    call(clean_stack, dana, {"action": "set_labels", "conversationId": b, "add": [vip]})
    reply(clean_stack, dana, a)
    reply(clean_stack, dana, b)
    # A resolved (540 s after it opened), then the customer writes again: opened a second time.
    call(clean_stack, dana, {"action": "set_status", "conversationId": a, "status": "resolved"})
    customer_writes(clean_stack, "15550007001", 0, deliveries=2)

    expected = {"opened": 3, "resolved": 1, "in": 4, "out": 2}
    eventually(
        lambda: all(total("all", metric) == count for metric, count in expected.items()),
        timeout=60,
        what=f"the fold to count {expected}: {[total('all', m) for m in expected]}",
    )
    assert total("channel:whatsapp", "in") == 4
    frt, res = total("all", "frt"), total("all", "res")
    assert frt["n"] == 2 and res["n"] == 1
    assert frt["b"] == {str(histogram.bucket(270)): 1, str(histogram.bucket(540)): 1}
    assert res["b"] == {str(histogram.bucket(540)): 1}
    assert total(f"agent:{dana_id}", "out") == 2 and total(f"agent:{dana_id}", "frt")["n"] == 2
    assert total(f"agent:{dana_id}", "resolved") == 1  # A had no assignee: who resolved it
    assert total(f"label:{vip}", "out") == 1 and total(f"label:{vip}", "frt")["n"] == 1
    assert total(f"label:{vip}", "opened") == 0  # B opened before it was labelled

    # Folding again (Cloud Tasks retrying, another fold queued) counts nothing twice.
    before = all_days()
    time.sleep(fold.FOLD_SPACING_SECONDS)
    assert fold.fold(T).startswith("reports-folded-0")
    assert all_days() == before

    # The rebuild, from the messages, reaches the very same documents.
    assert cli.main(["rebuild-reports", "--tenant", T]) == 0
    assert all_days() == before

    # The console's figures: admins only.
    today = datetime.now(UTC).date()
    body = {
        "action": "reports",
        "fromDay": (today - timedelta(days=1)).isoformat(),
        "toDay": today.isoformat(),
    }
    page = call(clean_stack, admin, body)
    assert {metric: page["totals"][metric] for metric in expected} == expected
    assert page["totals"]["frt"]["median"] == histogram.bucket_value(histogram.bucket(270))
    assert page["totals"]["frt"]["p90"] == histogram.bucket_value(histogram.bucket(540))
    assert page["channels"] == ["whatsapp"]
    assert [row["name"] for row in page["breakdown"]["agent"]] == ["Dana"]
    assert [row["name"] for row in page["breakdown"]["label"]] == ["VIP"]
    refused = requests.post(
        clean_stack.function_urls["agent_api"],
        headers={"Authorization": f"Bearer {dana}"},
        json=body,
        timeout=15,
    )
    assert refused.status_code == 403
