"""Workspace settings through agent_api (admins only, validated, audited) and the auto-reply
outside business hours on the real emulators: sent once per conversation per closed period through
the outbox, never within business hours, and no extra write for a message during them
(issue 18, part 5)."""

from __future__ import annotations

import io
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from infra.local import demo, payloads
from infra.local.stack import LocalStack
from shared import audit, autoreply, cli, ids, inbox, store, tasks
from shared.auth import Caller
from shared.models import MessageEvent, TextContent
from tests.support import agent_token, eventually, post_webhook

pytestmark = pytest.mark.integration

ALL_DAY = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def closed_now() -> dict[str, list[list[str]]]:
    """Business hours (UTC) that exclude the present hour, every day."""
    hours = [["23:00", "24:00"]] if datetime.now(UTC).hour < 12 else [["00:00", "01:00"]]
    return {day: hours for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def settings_body(**change: Any) -> dict[str, Any]:
    return {
        "name": "Corner Shop",
        "timeZone": "Europe/Berlin",
        "businessHours": {"mon": [["09:00", "17:00"]], "sat": [["10:00", "14:00"]]},
        "autoReply": {"enabled": True, "text": "We are closed; we answer at 9."},
        "replyWindowReminderMinutes": 120,
        "retentionDays": 400,
        **change,
    }


def call(stack: LocalStack, token: str, **body: Any) -> requests.Response:
    return requests.post(
        stack.function_urls["agent_api"],
        json={"action": "workspace_settings", **body},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_admins_save_validated_settings_and_each_change_is_audited_with_before_and_after(
    clean_stack: LocalStack,
) -> None:
    admin = agent_token(clean_stack, demo.DEMO_TENANT, "ada@settings.test", role="admin")
    agent = agent_token(clean_stack, demo.DEMO_TENANT, "sam@settings.test")
    saved = call(clean_stack, admin, settings=settings_body())
    assert saved.status_code == 200, saved.text
    assert saved.json()["settings"]["businessHours"]["mon"] == [["09:00", "17:00"]]
    stored = store.get_workspace_settings(demo.DEMO_TENANT)
    assert stored == saved.json()["settings"]
    tenant = store.get_tenant(demo.DEMO_TENANT) or {}
    assert tenant["name"] == "Corner Shop"
    assert tenant["settings"]["businessHours"]["mon"] == ["09:00-17:00"], "Firestore holds no nested arrays"
    assert call(clean_stack, admin).json()["settings"] == stored

    changed = call(
        clean_stack, admin, settings=settings_body(timeZone="America/New_York", retentionDays=None)
    )
    assert changed.status_code == 200, changed.text
    (entry, first) = [
        e for e in audit.entries(Caller("x", demo.DEMO_TENANT, "admin")) if e["action"] == "settings.change"
    ]
    assert entry["before"] == {"timeZone": "Europe/Berlin", "retentionDays": 400}
    assert entry["after"] == {"timeZone": "America/New_York"}
    assert entry["target"] == {"kind": "workspace", "id": demo.DEMO_TENANT, "name": "Corner Shop"}
    assert first["before"] == {"name": "Demo Shop"} and first["after"]["autoReply"]["enabled"] is True

    for bad in (
        settings_body(timeZone="Atlantis/Capital"),
        settings_body(businessHours={"mon": [["18:00", "09:00"]]}),
        settings_body(businessHours={"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}),
        settings_body(autoReply={"enabled": True, "text": ""}),
        settings_body(replyWindowReminderMinutes=-5),
    ):
        refused = call(clean_stack, admin, settings=bad)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_request", bad
    assert call(clean_stack, agent, settings=settings_body()).status_code == 403
    assert call(clean_stack, agent).status_code == 403
    assert store.get_workspace_settings(demo.DEMO_TENANT) == changed.json()["settings"]


def new_whatsapp_tenant(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any]
) -> tuple[str, str, str]:
    """A tenant of its own (the functions cache a tenant's settings) with one WhatsApp number and
    these settings: (tenant, channel id, phone number id)."""
    tenant, phone_id = f"shop-{uuid.uuid4().hex[:8]}", str(3_200_000_000_000_000 + uuid.uuid4().int % 10**15)
    token = f"EAAwa{uuid.uuid4().hex}"
    stack.sandbox.register_account("whatsapp", phone_id, token)
    assert cli.main(["create-tenant", tenant, "--name", "Night Shop"]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO(token))
    connect = ["connect-channel", tenant, "wa", "--kind", "whatsapp", "--external-id", phone_id]
    assert cli.main([*connect, "--name", "+1 555 0100", "--token-stdin"]) == 0
    store.put_workspace_settings(tenant, {"name": "Night Shop", "timeZone": "UTC", **settings})
    return tenant, "wa", phone_id


def sends_to(stack: LocalStack, customer: str) -> list[dict[str, Any]]:
    return [
        r.json
        for r in stack.sandbox.requests("whatsapp")
        if r.path.endswith("/messages") and isinstance(r.json, dict) and r.json.get("to") == customer
    ]


def test_an_auto_reply_goes_once_per_closed_period_through_the_outbox_and_never_in_business_hours(
    clean_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "Thanks! We are closed now and answer from 9:00."
    reply = {"enabled": True, "text": text}
    open_tenant, open_channel, open_phone = new_whatsapp_tenant(
        clean_stack, monkeypatch, {"businessHours": ALL_DAY, "autoReply": reply}
    )
    closed_tenant, closed_channel, closed_phone = new_whatsapp_tenant(
        clean_stack, monkeypatch, {"businessHours": closed_now(), "autoReply": reply}
    )
    day_customer, night_customer = "15550001111", "15550002222"
    # During business hours: the message lands, nothing else happens.
    body = payloads.whatsapp_text(open_phone, day_customer, "hello in hours")
    assert post_webhook(clean_stack, "whatsapp", body).status_code == 200
    day_conversation = ids.conversation_id(open_channel, day_customer)

    def day_messages() -> list[dict[str, Any]]:
        ref = store.conversation_ref(open_tenant, day_conversation).collection("messages")
        return [m.to_dict() or {} for m in ref.stream()]

    eventually(day_messages, what="the in-hours message stored")
    # Outside business hours: three messages in the same closed period, one auto-reply.
    for n in range(3):
        night = payloads.whatsapp_text(closed_phone, night_customer, f"anyone there? {n}")
        assert post_webhook(clean_stack, "whatsapp", night).status_code == 200
    night_conversation = ids.conversation_id(closed_channel, night_customer)

    def night_messages() -> list[dict[str, Any]]:
        ref = store.conversation_ref(closed_tenant, night_conversation).collection("messages")
        return [m.to_dict() or {} for m in ref.stream()]

    def replied() -> list[dict[str, Any]]:
        messages = night_messages()
        return (
            [m for m in messages if m.get("autoReply") and m.get("status") == "sent"]
            if len(messages) >= 4
            else []
        )

    (auto,) = eventually(replied, timeout=60, what="the auto-reply sent")
    assert auto["direction"] == "out" and auto["text"] == text and auto["sender"]["kind"] == "system"
    assert [s["text"]["body"] for s in sends_to(clean_stack, night_customer)] == [text]
    conversation = store.get_conversation(closed_tenant, night_conversation) or {}
    assert conversation["lastMessage"]["direction"] in ("out", "in")
    # A fourth message in the same period, after the reply went out: still one auto-reply.
    again = payloads.whatsapp_text(closed_phone, night_customer, "still there?")
    assert post_webhook(clean_stack, "whatsapp", again).status_code == 200
    eventually(lambda: len(night_messages()) == 5, what="the fourth message stored")
    assert len([m for m in night_messages() if m.get("autoReply")]) == 1
    # The in-hours conversation (ingested before any of that) got nothing.
    assert [m["direction"] for m in day_messages()] == ["in"]
    assert sends_to(clean_stack, day_customer) == []


def test_a_message_during_business_hours_costs_no_extra_write_read_or_task(
    clean_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.cost import FirestoreMeter

    store.put_workspace_settings(
        demo.DEMO_TENANT,
        {
            "name": "Demo",
            "timeZone": "UTC",
            "businessHours": ALL_DAY,
            "autoReply": {"enabled": True, "text": "x"},
        },
    )
    autoreply.forget()
    queued: list[str] = []  # auto-reply tasks (the reports' fold and notifications queue their own)

    def enqueue(queue: str, name: str, url: str, payload: dict, *a: object, **k: object) -> bool:
        if payload.get("action") == "auto_reply":
            queued.append(name)
        return True

    monkeypatch.setattr(tasks, "enqueue", enqueue)
    wa = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")

    def event(n: int) -> MessageEvent:
        return MessageEvent(
            channel="whatsapp",
            account_id=wa.external_id,
            contact_id="15553339999",
            event_id=f"wamid.HOURS{n}",
            message_id=f"wamid.HOURS{n}",
            content=TextContent(text=f"in hours {n}"),
            occurred_at=datetime.now(UTC),
            contact_name="Day Customer",
        )

    inbox.forget_summary_pace()
    inbox.apply(event(0))  # the conversation exists and the settings are cached from here on
    meter = FirestoreMeter()
    with meter.installed():
        for n in range(1, 6):
            inbox.forget_summary_pace()
            assert inbox.apply(event(n)).result == "created"
    assert meter.counts == {"writes": 10, "reads": 5}, "2 writes and 1 read a message, as without settings"
    assert queued == []
    autoreply.forget()
