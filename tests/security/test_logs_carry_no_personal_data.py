"""No phone number, name or message text reaches the logs, at INFO or above.

Each webhook target gets a correctly signed message from a customer with a distinctive name, phone
number and text, in every way the webhook can end: published (200), Pub/Sub away (503), a forged
signature (401) and an item that cannot be parsed (quarantined). Every record is checked as it
would be shipped: through :class:`shared.logs.JsonFormatter`, with its ``fields`` and any
traceback. ``python -m shared.cli parse`` prints events on stdout (that is its data), but its stderr
and its logging must stay free of personal data too.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared import bus, channels, cli
from shared.inbound import normalize
from shared.logs import JsonFormatter
from tests.security import webhooks

NAME = "Zebulon Quixote-Marchbanks"
PHONE = "15557654321"
TEXT = "pineapple smuggling plan 7Q"
# What must never be logged: the text, the name in any case (Telegram usernames derive from it), and
# the phone number with or without its country code.
PRIVATE = re.compile(r"pineapple|smuggling|zebulon|quixote|marchbanks|5557654321", re.IGNORECASE)


def customer_message(kind: str) -> bytes:
    return webhooks.message_body(kind, text=TEXT, name=NAME, phone=PHONE, message_id="mid.private.1")


def unparseable_message(kind: str) -> bytes:
    """The same message without the id its provider always sends: quarantined, not dropped."""
    if kind == "telegram":
        return customer_message(kind).replace(b'"message_id": 41, ', b"")
    if kind == "twilio":
        return re.sub(rb"MessageSid=SM1+&", b"", customer_message(kind))
    return webhooks.message_body(kind, text=TEXT, name=NAME, phone=PHONE, message_id="")


def shipped(records: list[logging.LogRecord]) -> str:
    """The log lines as Cloud Logging receives them, plus anything a record carries besides."""
    formatter = JsonFormatter()
    lines = []
    for record in records:
        lines.append(formatter.format(record))
        lines.append(json.dumps(record.args, default=repr) if record.args else "")
        lines.append(record.exc_text or "")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[str, Any]]:
    with webhooks.webhook_environment():
        yield {kind: webhooks.webhook_client(kind) for kind in channels.kinds()}


def test_the_fixtures_carry_the_private_strings() -> None:
    # The check below is only worth something if the bodies really hold the name, phone and text.
    for kind in webhooks.KINDS:
        body = customer_message(kind).decode()
        assert "pineapple" in body, kind
        if kind in ("whatsapp", "telegram", "twilio"):
            assert "Zebulon" in body and PHONE in body, kind
        unparseable = normalize(
            channels.adapter(kind), unparseable_message(kind), webhooks.public_url(kind, "bot=6123456789")
        )
        assert unparseable.quarantined and not unparseable.events, kind


@pytest.mark.parametrize("kind", webhooks.KINDS)
def test_webhook_logs_carry_no_text_names_or_phone_numbers(
    clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    client = clients[kind]
    header = webhooks.SIGNATURE_HEADERS[kind]
    with caplog.at_level(logging.INFO):
        answers = [
            webhooks.post(client, webhooks.signed(kind, customer_message(kind))),  # Pub/Sub away
            webhooks.post(
                client, webhooks.signed(kind, customer_message(kind)).with_header(header, "forged")
            ),
        ]
        monkeypatch.setattr(
            bus, "publish", lambda events, quarantined=(), **_: len(events) + len(quarantined)
        )
        answers += [
            webhooks.post(client, webhooks.signed(kind, customer_message(kind))),
            webhooks.post(client, webhooks.signed(kind, unparseable_message(kind))),
        ]
    assert [a.status_code for a in answers] == [503, 401, 200, 200]
    logged = shipped([r for r in caplog.records if r.levelno >= logging.INFO])
    for expected in ("webhook accepted", "webhook refused", "quarantined an unparseable"):
        assert expected in logged, f"the {kind} webhook did not log {expected!r}: nothing was checked"
    assert not PRIVATE.search(logged), PRIVATE.search(logged)
    for answer in answers:
        assert not PRIVATE.search(answer.get_data(as_text=True))


@pytest.mark.parametrize("kind", webhooks.KINDS)
def test_cli_parse_keeps_personal_data_out_of_stderr_and_logs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    good, bad = tmp_path / "message.body", tmp_path / "unparseable.body"
    good.write_bytes(customer_message(kind))
    bad.write_bytes(unparseable_message(kind))
    with caplog.at_level(logging.INFO):
        assert cli.main(["parse", kind, str(good), str(bad)]) == 0
    out, err = capsys.readouterr()
    assert "quarantined" in err  # the summary of what could not be parsed does go to stderr
    assert not PRIVATE.search(err), PRIVATE.search(err)
    assert not PRIVATE.search(shipped([r for r in caplog.records if r.levelno >= logging.INFO]))
    if kind != "telegram":  # see the report: without the webhook URL a Telegram body names no bot
        assert TEXT in out  # stdout is the data itself: the events, text included
