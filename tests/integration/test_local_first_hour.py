"""A newcomer's first hour against the real local stack: a clean start logs no errors, `make
simulate` delivers text exactly as typed, and a provider's payload file lands in the demo inbox (or,
sent as is to an account nobody owns, the simulator says it is quarantined and how to replay it)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from infra.local import demo, dev, simulate
from infra.local.stack import LocalStack
from shared import ids, store
from tests.support import PROVIDER_FIXTURES, REPO, eventually

pytestmark = pytest.mark.integration

CHANNELS = {c.channel_id: c for c in demo.DEMO_CHANNELS}
NASTY = 'She said "hello" & it\'s $5 `date` \\o/ $HOME $(x # 100%'


@pytest.fixture
def state(clean_stack: LocalStack, tmp_path: Path) -> Path:
    """The stack's state file, as `make dev` writes .local/stack.json (but private to this test)."""
    path = tmp_path / "stack.json"
    dev.write_state(clean_stack, path)
    return path


def conversation(channel_id: str, contact: str) -> dict[str, Any] | None:
    return store.get_conversation(demo.DEMO_TENANT, ids.conversation_id(channel_id, contact))


def message_text(channel_id: str, contact: str, provider_message_id: str) -> str | None:
    stored = store.get_message(
        demo.DEMO_TENANT,
        ids.conversation_id(channel_id, contact),
        ids.message_id(channel_id, provider_message_id),
    )
    return stored.data.get("text") if stored is not None else None


def run_simulate(state: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = simulate.main([*args, "--state", str(state)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- a clean start ----------------------------------------------------------------------------------


def test_a_clean_start_logs_no_error_and_no_refused_webhook(stack: LocalStack) -> None:
    assert stack.function_urls
    for name in stack.function_urls:
        startup = stack.startup_log(name)
        assert "[ERROR]" not in startup, f"{name} logged an error while starting:\n{startup}"
        assert "webhook refused" not in startup, f"{name} refused a request while starting:\n{startup}"
        # gunicorn's control server fails asynchronously; it is never caused by a test's requests.
        whole = stack.process(f"function-{name}").log_path.read_text(errors="replace")  # type: ignore[union-attr]
        assert "Control server error" not in whole, f"{name}:\n{whole}"


def test_every_function_has_its_own_gunicorn_control_socket(stack: LocalStack) -> None:
    sockets = []
    for name in stack.function_urls:
        runtime = Path(stack.process(f"function-{name}").env["XDG_RUNTIME_DIR"])
        socket = runtime / "gunicorn.ctl"
        eventually(socket.is_socket, timeout=10, what=f"{name}'s control socket at {socket}")
        sockets.append(socket)
    assert len(set(sockets)) == len(sockets)


# --- make simulate ----------------------------------------------------------------------------------


def make_simulate(state: Path, *assignments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", "-o", "bootstrap", "simulate", *assignments],
        cwd=REPO,
        env={**os.environ, "SWITCHBOARD_STATE_FILE": str(state)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_make_simulate_delivers_the_text_name_and_contact_exactly_as_typed(state: Path) -> None:
    contact = str(15_550_000_000 + uuid.uuid4().int % 1_000_000)
    name = 'Zoë "Z" O\'Brien'
    result = make_simulate(state, "CHANNEL=whatsapp", f"TEXT={NASTY}", f"NAME={name}", f"FROM={contact}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("200 ")
    assert "event(s) for tenant 'demo', channel 'whatsapp-main'" in result.stderr
    summary = eventually(lambda: conversation("whatsapp-main", contact), what="the conversation")
    assert summary["contactName"] == name
    assert summary["lastMessage"]["text"] == NASTY


def test_make_simulate_posts_whatsapp_through_twilio(state: Path) -> None:
    number = str(34_600_000_000 + uuid.uuid4().int % 1_000_000)
    result = make_simulate(
        state, "CHANNEL=twilio-whatsapp", "TEXT=Price is $5", "NAME=Lucía", f"FROM={number}"
    )
    assert result.returncode == 0, result.stderr
    summary = eventually(
        lambda: conversation("twilio-whatsapp", f"whatsapp:+{number}"), what="the conversation"
    )
    assert summary["contactName"] == "Lucía" and summary["lastMessage"]["text"] == "Price is $5"


# --- payload files ----------------------------------------------------------------------------------


def test_the_readme_file_example_lands_in_the_demo_inbox(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = CHANNELS["messenger-main"].external_id
    fixture = PROVIDER_FIXTURES / "messenger" / "courier-hello-msg.json"
    code, out, err = run_simulate(state, capsys, "messenger", "--file", str(fixture))
    assert code == 0, err
    assert out.startswith("200 ")
    assert f"re-addressed page 1234567890 -> demo page {page}; pass --as-is to send it unchanged" in err
    assert "1 event(s) for tenant 'demo', channel 'messenger-main'" in err
    eventually(
        lambda: message_text("messenger-main", "5678", "external_id") == "Hello World", what="the message"
    )
    assert store.quarantine_summaries() == []


def test_a_file_sent_as_is_to_an_unowned_page_is_explained(
    state: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The README's fixture, for a page no test connects: ingest caches routes for 30 s across the
    # tests' Firestore wipes, and another test connects the fixture's own page 1234567890.
    page = f"9{uuid.uuid4().int % 10**11:011d}"
    fixture = tmp_path / "unowned-page.json"
    raw = (PROVIDER_FIXTURES / "messenger" / "courier-hello-msg.json").read_text()
    fixture.write_text(raw.replace("1234567890", page))
    code, _, err = run_simulate(state, capsys, "messenger", "--file", str(fixture), "--as-is")
    assert code == 0, err
    assert "re-addressed" not in err
    assert f"no tenant owns messenger:{page}" in err and "unknown_route" in err
    assert "quarantine list" in err and "replay-quarantine" in err
    [row] = eventually(store.quarantine_summaries, what="the quarantined event")
    assert (row["reason"], row["routeKey"]) == ("unknown_route", f"messenger:{page}")
    assert conversation("messenger-main", "5678") is None


@pytest.mark.parametrize(
    ("channel", "fixture", "channel_id", "contact", "provider_id", "text"),
    [
        (
            "twilio",
            "twilio/courier-whatsapp-inbound.json",
            "twilio-whatsapp",
            "whatsapp:+14133881111",
            "SMe287d7109a5a925f182f0e07fe5b223b",
            "Msg",
        ),
        ("twilio", "twilio/courier-sms-inbound.json", "twilio-sms", "+14133881111", None, "Msg"),
        ("whatsapp", "whatsapp/courier-hello.json", "whatsapp-main", "5678", None, "Hello World"),
        ("telegram", "telegram/courier-text.json", "telegram-main", "3527065", "3527065:41", "Hello World"),
    ],
)
def test_provider_files_of_every_kind_land_in_the_demo_inbox(
    state: Path,
    capsys: pytest.CaptureFixture[str],
    channel: str,
    fixture: str,
    channel_id: str,
    contact: str,
    provider_id: str | None,
    text: str,
) -> None:
    code, _, err = run_simulate(state, capsys, channel, "--file", str(PROVIDER_FIXTURES / fixture))
    assert code == 0, err
    assert f"for tenant 'demo', channel '{channel_id}'" in err
    summary = eventually(lambda: conversation(channel_id, contact), what=f"the {channel_id} conversation")
    assert summary["lastMessage"]["text"] == text
    if provider_id is not None:
        assert message_text(channel_id, contact, provider_id) == text
    assert store.quarantine_summaries() == []


def test_a_twilio_file_as_is_from_an_account_without_a_token_is_refused_before_sending(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixture = PROVIDER_FIXTURES / "twilio" / "courier-sms-inbound.json"
    code, _, err = run_simulate(state, capsys, "twilio", "--file", str(fixture), "--as-is")
    assert code == 2 and "no local auth token for the Twilio account acctid" in err
    assert json.loads(fixture.read_text())["AccountSid"] == "acctid"
