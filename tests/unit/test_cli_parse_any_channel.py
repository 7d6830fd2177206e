"""`python -m shared.cli parse` works offline for every channel: Telegram needs the webhook URL
(``--url``, or ``--bot ID`` for its ``?bot=``), Twilio takes the form it posts or a JSON object of the
form's fields. Real published payloads from ../shared/fixtures/providers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from shared.channels.telegram import webhook_url
from tests.support import PROVIDER_FIXTURES, REPO, provider_fixture

TELEGRAM = PROVIDER_FIXTURES / "telegram"
TWILIO = PROVIDER_FIXTURES / "twilio"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        check=False,
    )


def events(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_telegram_without_the_url_is_quarantined_because_the_bot_is_unknown() -> None:
    result = run_cli("parse", "telegram", str(TELEGRAM / "courier-text.json"))
    assert result.returncode == 0 and result.stdout == ""
    assert json.loads(result.stderr.splitlines()[-1])["quarantined"] == "invalid_body"


def test_telegram_with_bot_gives_the_events_for_that_bot() -> None:
    parsed = events(run_cli("parse", "telegram", str(TELEGRAM / "courier-text.json"), "--bot", "7000000001"))
    assert [(e["kind"], e["account_id"], e["contact_id"], e["content"]["text"]) for e in parsed] == [
        ("message", "7000000001", "3527065", "Hello World")
    ]


def test_telegram_with_the_webhook_url_gives_the_same_events_as_with_bot() -> None:
    files = [
        str(TELEGRAM / name) for name in ("courier-text.json", "courier-photo.json", "courier-contact.json")
    ]
    url = webhook_url("https://europe-west1-acme.cloudfunctions.net/webhook-telegram", "7000000001")
    assert url.endswith("?bot=7000000001")
    by_url = run_cli("parse", "telegram", *files, "--url", url)
    by_bot = run_cli("parse", "telegram", *files, "--bot", "7000000001")
    assert by_url.stderr == "" and by_bot.stderr == ""
    assert len(events(by_url)) == 3
    assert events(by_url) == events(by_bot)


def test_bot_is_refused_for_a_channel_that_is_not_telegram() -> None:
    result = run_cli(
        "parse", "whatsapp", str(PROVIDER_FIXTURES / "whatsapp" / "courier-hello.json"), "--bot", "1"
    )
    assert result.returncode == 2 and "--bot" in result.stderr


@pytest.mark.parametrize(
    "fixture",
    ["courier-sms-inbound.json", "courier-whatsapp-inbound.json", "courier-mms-inbound-with-body.json"],
)
def test_twilio_json_fields_and_the_form_twilio_posts_give_the_same_events(
    tmp_path: Path, fixture: str
) -> None:
    fields = json.loads(provider_fixture(f"twilio/{fixture}"))
    form = tmp_path / "form.txt"
    form.write_text(urlencode(fields))  # application/x-www-form-urlencoded, as Twilio posts it
    from_json = events(run_cli("parse", "twilio", str(TWILIO / fixture)))
    from_form = events(run_cli("parse", "twilio", str(form)))
    assert from_json and from_json == from_form
    [message] = [e for e in from_json if e["kind"] == "message"][:1]
    assert message["message_id"] == fields["MessageSid"]
    assert (message["account_id"], message["contact_id"]) == (fields["To"], fields["From"])


def test_twilio_json_with_a_field_that_is_not_text_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"MessageSid": "SM1", "NumMedia": 0}))
    result = run_cli("parse", "twilio", str(bad))
    assert result.returncode == 2 and "NumMedia" in result.stderr
