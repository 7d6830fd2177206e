"""The operations page's actions (agent_api, admins only) on the real emulators: quarantined items
and dead letters listed masked for their own tenant, revealed, replayed and discarded with the
same code and the same result as the operator CLI, each audited (issue 18, part 4)."""

from __future__ import annotations

import io
import json
import sys
import time
import uuid
from typing import Any

import pytest
import requests

from infra.local import demo, payloads
from infra.local.stack import LocalStack
from shared import audit, bus, channels, cli, ids, store
from shared.auth import Caller
from shared.inbound import normalize
from tests.support import agent_token, eventually, post_webhook

pytestmark = pytest.mark.integration

DEMO_ADMIN = Caller(uid="reader", tenant_id=demo.DEMO_TENANT, role="admin")
DEMO_PAGE = next(c for c in demo.DEMO_CHANNELS if c.kind == "messenger")


def digits() -> str:
    return str(3_100_000_000_000_000 + uuid.uuid4().int % 10**15)


def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str, stdin: str = ""
) -> list[dict[str, Any]]:
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    assert cli.main(list(args)) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


class Console:
    """agent_api as the operations page calls it, with one staff member's ID token."""

    def __init__(self, stack: LocalStack, token: str) -> None:
        self.url, self.token = stack.function_urls["agent_api"], token

    def call(self, action: str, **body: Any) -> requests.Response:
        return requests.post(
            self.url,
            json={"action": action, **body},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )

    def ok(self, action: str, **body: Any) -> dict[str, Any]:
        response = self.call(action, **body)
        assert response.status_code == 200, response.text
        return dict(response.json())


def unrouted_message(stack: LocalStack, text: str) -> tuple[str, str, str]:
    """A WhatsApp message to a number nobody connected: (phone id, customer, quarantine id)."""
    phone_id, customer = digits(), "1555" + digits()[-7:]
    body = payloads.whatsapp_text(phone_id, customer, text, name="Grace Hopper")
    assert post_webhook(stack, "whatsapp", body).status_code == 200

    def kept() -> list[str]:
        return [qid for qid, item in store.list_quarantine() if item.route_key == f"whatsapp:{phone_id}"]

    return phone_id, customer, eventually(kept, what="the unrouted message in quarantine")[0]


def landed(tenant: str, channel: str, customer: str, text: str) -> list[dict[str, Any]]:
    conversation_id = ids.conversation_id(channel, customer)
    messages = store.conversation_ref(tenant, conversation_id).collection("messages").stream()
    return [m.to_dict() or {} for m in messages if (m.to_dict() or {}).get("text") == text]


def test_quarantine_actions_on_the_page_do_what_the_cli_does_for_the_admins_own_items_only(
    clean_stack: LocalStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = Console(clean_stack, agent_token(clean_stack, demo.DEMO_TENANT, "ada@ops.test", role="admin"))
    agent = Console(clean_stack, agent_token(clean_stack, demo.DEMO_TENANT, "sam@ops.test"))
    other = Console(clean_stack, agent_token(clean_stack, demo.OTHER_TENANT, "eve@ops.test", role="admin"))
    items = {
        name: unrouted_message(clean_stack, f"{name} needs help")
        for name in ("page", "cli", "gone", "cli-gone")
    }

    # Unrouted, the items belong to no workspace: no admin sees them.
    assert admin.ok("operations")["quarantine"]["items"] == []
    for name, (phone_id, _, _) in items.items():
        store.put_channel(demo.DEMO_TENANT, f"wa-{name}", "whatsapp", phone_id, f"+1 {name}")

    overview = admin.ok("operations")
    listed = {row["id"]: row for row in overview["quarantine"]["items"]}
    assert set(listed) == {qid for _, _, qid in items.values()}
    assert overview["quarantine"]["count"] == 4 and overview["quarantine"]["oldestAgeSeconds"] >= 0
    page_id = items["page"][2]
    shown = json.dumps(listed[page_id])
    for secret in ("page needs help", "Grace Hopper", items["page"][1]):
        assert secret not in shown, "personal data is masked by default"
    assert listed[page_id]["reason"] == "unknown_route"
    revealed = admin.ok("quarantine_reveal", id=page_id)["raw"]
    assert "page needs help" in json.dumps(revealed) and "Grace Hopper" in json.dumps(revealed)
    assert other.ok("operations")["quarantine"]["items"] == [], "another tenant's admin sees none of them"
    assert other.call("quarantine_reveal", id=page_id).status_code == 404
    for action, body in (
        ("operations", {}),
        ("quarantine_reveal", {"id": page_id}),
        ("quarantine_replay", {"id": page_id}),
        ("quarantine_replay_all", {}),
        ("quarantine_discard", {"id": page_id, "reason": "spam"}),
        ("deadletter_discard", {"eventId": "x", "reason": "spam"}),
    ):
        assert agent.call(action, **body).status_code == 403, action
    assert admin.call("quarantine_discard", id=page_id, reason="").status_code == 400

    # Replay: one item from the page, one with the CLI; both land and are recorded alike.
    assert admin.ok("quarantine_replay", id=page_id) == {
        "id": page_id,
        "reason": "unknown_route",
        "outcome": "published",
        "events": 1,
    }
    cli_rows = run_cli(monkeypatch, capsys, "replay-quarantine")
    # The CLI replays every pending item that now routes: the two left for discarding too, so they
    # are quarantined again below by fresh messages.
    assert {row["outcome"] for row in cli_rows} == {"published"}
    for name in ("page", "cli"):
        _, customer, qid = items[name]
        eventually(
            lambda n=name, c=customer: landed(demo.DEMO_TENANT, f"wa-{n}", c, f"{n} needs help"), what=name
        )
        record = store.get_quarantine(qid)
        assert record and record["replayed"] and record["replayOutcome"] == "published 1 events"

    # Discard: one from the page, one with the CLI; both set aside with the reason, never replayed.
    fresh = {name: unrouted_message(clean_stack, f"{name} again") for name in ("gone", "cli-gone")}
    for name, (phone_id, _, _) in fresh.items():
        store.put_channel(demo.DEMO_TENANT, f"wa2-{name}", "whatsapp", phone_id, name)
    assert admin.ok("quarantine_discard", id=fresh["gone"][2], reason="test message")["discarded"] is True
    assert run_cli(
        monkeypatch, capsys, "quarantine", "discard", fresh["cli-gone"][2], "--reason", "test message"
    ) == [{"id": fresh["cli-gone"][2], "outcome": "discarded"}]
    for _, _, qid in fresh.values():
        record = store.get_quarantine(qid)
        assert record and record["discarded"] and record["discardReason"] == "test message"
        assert record["replayOutcome"] == "discarded: test message"
    assert admin.ok("quarantine_discard", id=fresh["gone"][2], reason="again")["discarded"] is False
    assert admin.ok("quarantine_replay_all") == {"results": [], "replayed": 0}

    entries = audit.entries(DEMO_ADMIN)
    replays = [e for e in entries if e["action"] == "quarantine.replay"]
    discards = [e for e in entries if e["action"] == "quarantine.discard"]
    assert {e["target"]["id"] for e in replays} == {qid for _, _, qid in items.values()}
    assert {e["target"]["id"] for e in discards} == {qid for _, _, qid in fresh.values()}
    by_page = next(e for e in discards if e["target"]["id"] == fresh["gone"][2])
    assert by_page["actorRole"] == "admin" and by_page["details"]["why"] == "test message"
    by_cli = next(e for e in discards if e["target"]["id"] == fresh["cli-gone"][2])
    assert by_cli["actorRole"] == "operator" and by_cli["actorId"].startswith("cli:")
    assert "again" not in json.dumps(entries), "no customer's words in the audit log"


def dead_letter(stack: LocalStack, psid: str, text: str) -> str:
    """A customer's Messenger message as Pub/Sub forwards it to the dead-letter topic after five
    failed deliveries (published there directly: the emulator takes minutes to dead-letter under
    load; tests/integration/test_operator_cli.py and tests/reliability/ go through the real thing).
    Returns its event id."""
    from google.cloud import pubsub_v1

    at = int(time.time() * 1000)
    mid = f"m_OPS{uuid.uuid4().hex}"
    body = {
        "object": "page",
        "entry": [
            {
                "id": DEMO_PAGE.external_id,
                "time": at,
                "messaging": [
                    {
                        "sender": {"id": psid},
                        "recipient": {"id": DEMO_PAGE.external_id},
                        "timestamp": at,
                        "message": {"mid": mid, "text": text},
                    }
                ],
            }
        ],
    }
    (event,) = normalize(channels.adapter("messenger"), json.dumps(body).encode()).events
    data, attributes, _ = bus.event_message(event)
    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(stack.project, "inbound-events-dead")
    dead = {**attributes, "CloudPubSubDeadLetterSourceDeliveryCount": "5"}
    publisher.publish(topic, data, **dead).result(timeout=30)
    return event.event_id


def test_dead_letters_are_listed_masked_replayed_and_discarded_with_a_reason(clean_stack: LocalStack) -> None:
    admin = Console(clean_stack, agent_token(clean_stack, demo.DEMO_TENANT, "ada@dl.test", role="admin"))
    other = Console(clean_stack, agent_token(clean_stack, demo.OTHER_TENANT, "eve@dl.test", role="admin"))
    psid = str(7_000 + uuid.uuid4().int % 10**6)
    keep, drop = dead_letter(clean_stack, psid, "private words"), dead_letter(clean_stack, psid, "more words")

    def both() -> dict[str, Any]:
        overview = admin.ok("operations")
        found = {row["eventId"] for row in overview["deadLetters"]["items"]}
        return overview if {keep, drop} <= found else {}

    overview = eventually(both, timeout=60, interval=1, what="both dead letters listed")
    assert "private words" not in json.dumps(overview["deadLetters"]), "bodies are masked"
    assert overview["deadLetters"]["count"] == 2 and overview["deadLetters"]["oldestAgeSeconds"] is not None
    assert "dead_letters_arriving" in {alert["policy"] for alert in overview["alerts"]}
    assert other.ok("operations")["deadLetters"]["items"] == [], "another tenant's admin sees none"
    assert other.call("deadletter_replay", eventId=keep).status_code == 404
    assert "private words" in json.dumps(admin.ok("deadletter_reveal", eventId=keep)["raw"])

    assert admin.ok("deadletter_replay", eventId=keep) == {"eventId": keep, "replayed": 1}
    conversation_id = ids.conversation_id(DEMO_PAGE.channel_id, psid)

    def landed() -> list[str]:
        messages = store.conversation_ref(demo.DEMO_TENANT, conversation_id).collection("messages").stream()
        return [str((m.to_dict() or {}).get("text")) for m in messages]

    assert eventually(landed, what="the replayed message ingested") == ["private words"]
    assert admin.call("deadletter_discard", eventId=drop, reason=" ").status_code == 400
    assert admin.ok("deadletter_discard", eventId=drop, reason="sent twice by the provider") == {
        "eventId": drop,
        "discarded": 1,
    }
    assert admin.call("deadletter_discard", eventId=drop, reason="again").status_code == 404
    assert admin.ok("operations")["deadLetters"]["items"] == []
    assert landed() == ["private words"], "a discarded dead letter is never ingested"
    entries = {e["action"]: e for e in audit.entries(DEMO_ADMIN) if e["action"].startswith("deadletter.")}
    assert entries["deadletter.replay"]["target"]["id"] == keep
    assert entries["deadletter.discard"]["details"]["why"] == "sent twice by the provider"
    assert "words" not in json.dumps(list(entries.values())), "no customer's words in the audit log"
