"""A newcomer's first hour with the local tools, offline: `make simulate` keeps the text exactly as
typed, a payload file is re-addressed to the demo tenant (and still parses as the provider's), and
`make dev` prints every demo login."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl

import pytest

from infra.local import demo, dev, simulate
from shared import channels
from shared.inbound import normalize
from tests.support import REPO, provider_fixture

DEMO = {c.channel_id: c.external_id for c in demo.DEMO_CHANNELS}
# What a shell user types: double and single quotes, $, backticks, backslashes, and make's own $( and #.
NASTY = 'She said "hello" & it\'s $5 `date` \\o/ $HOME $(x # 100%'


def make_simulate(tmp_path: Path, *assignments: str) -> subprocess.CompletedProcess[str]:
    """`make -s simulate ... DRY_RUN=1` as a user runs it (bootstrap skipped: -o), with no stack."""
    env = {**os.environ, "SWITCHBOARD_STATE_FILE": str(tmp_path / "no-stack.json")}
    return subprocess.run(
        ["make", "-s", "-o", "bootstrap", "simulate", *assignments, "DRY_RUN=1"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_make_simulate_passes_text_name_and_contact_through_untouched(tmp_path: Path) -> None:
    name = 'Zoë "Z" O\'Brien $USER'
    result = make_simulate(tmp_path, "CHANNEL=whatsapp", f"TEXT={NASTY}", f"NAME={name}", "FROM=15559990001")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    value = body["entry"][0]["changes"][0]["value"]
    assert value["messages"][0]["text"]["body"] == NASTY
    assert value["messages"][0]["from"] == "15559990001"
    assert value["contacts"][0]["profile"]["name"] == name
    assert value["metadata"]["phone_number_id"] == DEMO["whatsapp-main"]


@pytest.mark.parametrize("text", ['She said "hello"', "Price is $5", "it's", "`id`", "back\\slash\\"])
def test_make_simulate_keeps_each_special_character(tmp_path: Path, text: str) -> None:
    result = make_simulate(tmp_path, "CHANNEL=telegram", f"TEXT={text}")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["message"]["text"] == text


def test_make_simulate_can_post_as_whatsapp_through_twilio(tmp_path: Path) -> None:
    result = make_simulate(
        tmp_path, "CHANNEL=twilio-whatsapp", f"TEXT={NASTY}", "NAME=Lucía", "FROM=34600111222"
    )
    assert result.returncode == 0, result.stderr
    form = dict(parse_qsl(result.stdout.strip(), keep_blank_values=True))
    assert form["Body"] == NASTY and form["ProfileName"] == "Lucía"
    assert form["From"] == "whatsapp:+34600111222" and form["To"] == DEMO["twilio-whatsapp"]
    assert form["AccountSid"] == demo.TWILIO_SID


def route_keys(kind: str, body: bytes, url: str | None = None) -> set[str]:
    result = normalize(channels.adapter(kind), body, url)
    assert not result.quarantined, result.quarantined
    return {event.route_key for event in result.events}


@pytest.mark.parametrize(
    ("channel", "fixture", "word", "old", "demo_id"),
    [
        ("messenger", "messenger/courier-hello-msg.json", "page", "1234567890", DEMO["messenger-main"]),
        ("messenger", "messenger/courier-echo.json", "page", "1234567890", DEMO["messenger-main"]),
        ("messenger", "messenger/courier-different-page.json", "page", "1234567890", DEMO["messenger-main"]),
        ("instagram", "instagram/courier-hello-msg.json", "account", "1234567890", DEMO["instagram-main"]),
        ("instagram", "instagram/courier-echo.json", "account", "1234567890", DEMO["instagram-main"]),
        ("whatsapp", "whatsapp/courier-hello.json", "number", "1234567890", DEMO["whatsapp-main"]),
    ],
)
def test_a_meta_payload_is_readdressed_to_the_demo_account(
    channel: str, fixture: str, word: str, old: str, demo_id: str
) -> None:
    original = provider_fixture(fixture)
    assert route_keys(channel, original) == {f"{channel}:{old}"}
    body, notes = simulate.readdress(channel, original)
    assert notes == [f"re-addressed {word} {old} -> demo {word} {demo_id}"]
    assert route_keys(channel, body) == {f"{channel}:{demo_id}"}
    # Only the business side moved: the customer and the content are the provider's.
    before = normalize(channels.adapter(channel), original).events
    after = normalize(channels.adapter(channel), body).events
    assert [(e.contact_id, e.kind, e.model_dump().get("content")) for e in after] == [
        (e.contact_id, e.kind, e.model_dump().get("content")) for e in before
    ]


def test_a_messenger_echo_moves_the_page_on_the_sender_side() -> None:
    echo = {
        "object": "page",
        "entry": [
            {
                "id": "4242",
                "time": 1,
                "messaging": [
                    {
                        "sender": {"id": "4242"},
                        "recipient": {"id": "5678"},
                        "timestamp": 1,
                        "message": {"is_echo": True, "mid": "m1", "text": "from the page"},
                    }
                ],
            }
        ],
    }
    body, _ = simulate.readdress("messenger", json.dumps(echo).encode())
    element = json.loads(body)["entry"][0]["messaging"][0]
    assert element["sender"] == {"id": DEMO["messenger-main"]} and element["recipient"] == {"id": "5678"}


def twilio_form(body: bytes) -> dict[str, Any]:
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


@pytest.mark.parametrize(
    ("fixture", "channel_id"),
    [("courier-sms-inbound.json", "twilio-sms"), ("courier-whatsapp-inbound.json", "twilio-whatsapp")],
)
def test_a_twilio_payload_is_readdressed_to_the_demo_number_and_account(
    fixture: str, channel_id: str
) -> None:
    fields = json.loads(provider_fixture(f"twilio/{fixture}"))
    body, notes = simulate.readdress("twilio", provider_fixture(f"twilio/{fixture}"))
    form = twilio_form(body)
    assert form == {**fields, "To": DEMO[channel_id], "AccountSid": demo.TWILIO_SID}
    assert notes[0] == f"re-addressed number {fields['To']} -> demo number {DEMO[channel_id]}"
    assert route_keys("twilio", body) == {f"twilio:{DEMO[channel_id]}"}


def test_a_twilio_status_callback_moves_our_number_on_the_from_side() -> None:
    fields = json.loads(provider_fixture("twilio/courier-status-sent-messaging-service.json"))
    body, _ = simulate.readdress(
        "twilio", provider_fixture("twilio/courier-status-sent-messaging-service.json")
    )
    assert twilio_form(body) == {**fields, "From": DEMO["twilio-sms"], "AccountSid": demo.TWILIO_SID}


def test_a_payload_already_addressed_to_the_demo_is_left_byte_for_byte() -> None:
    body = json.dumps(simulate.text_payload("messenger", "hi", "5678", "Ada")).encode()
    assert simulate.readdress("messenger", body) == (body, [])
    telegram = provider_fixture("telegram/courier-text.json")
    assert simulate.readdress("telegram", telegram) == (telegram, [])


def test_the_dev_banner_prints_every_demo_login() -> None:
    stack = SimpleNamespace(
        firestore_host="127.0.0.1:1",
        pubsub_host="127.0.0.1:2",
        function_urls={"webhook_whatsapp": "http://127.0.0.1:3"},
        sandbox=SimpleNamespace(base_url="http://127.0.0.1:4"),
        auth_host="127.0.0.1:5",
        log_dir=Path("/tmp/logs"),
    )
    text = dev.banner(stack, "http://127.0.0.1:6")  # type: ignore[arg-type]
    for login in demo.DEMO_AGENTS:
        [line] = [line for line in text.splitlines() if login.email in line]
        assert login.password in line and f"tenant '{login.tenant_id}'" in line
    assert "agent@acme.test" in text
