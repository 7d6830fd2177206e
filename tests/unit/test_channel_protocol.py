"""What used to branch on a provider's name now asks its adapter (shared/channels/base.py): reply
windows, what an agent may send, read receipts, the account a send uses, the webhook's answer,
Telegram's answer to a button press, and connect-channel's checks. No emulator needed: Firestore
transforms, Cloud Tasks and the providers are replaced at the module boundary."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from shared import channels, cli, config, conversations, inbox, outbox, secrets, tasks
from shared.auth import Caller
from shared.channels.base import ConnectRequest
from shared.errors import BadInput, Refused
from shared.models import ChoiceContent, MessageEvent, TextContent
from shared.outbox import replies

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DAY_MS = 24 * 3600 * 1000


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("SWITCHBOARD_LOCAL_SECRETS_FILE", "SWITCHBOARD_PUBLIC_BASE_URL", "TELEGRAM_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "switchboard-test")
    monkeypatch.setenv("META_GRAPH_BASE_URL", "https://graph.test")
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "https://telegram.test")
    monkeypatch.setenv("TWILIO_API_BASE_URL", "https://twilio.test")
    config.reset()
    secrets.forget()
    yield
    config.reset()
    secrets.forget()


def message(kind: str, content: Any = None, message_id: str = "m1") -> MessageEvent:
    return MessageEvent(
        channel=kind,
        account_id="acct",
        contact_id="customer",
        event_id=f"e-{message_id}",
        occurred_at=NOW,
        raw={},
        message_id=message_id,
        content=content or TextContent(text="hi"),
    )


# --- reply windows (inbox) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "needs", "tag_days"),
    [
        ("whatsapp", "template", None),
        ("messenger", "tag", 7),
        ("instagram", "tag", 7),
        ("telegram", None, None),
        ("twilio", None, None),
        ("app", None, None),
    ],
)
def test_the_reply_window_follows_the_channels_rule(
    monkeypatch: pytest.MonkeyPatch, kind: str, needs: str | None, tag_days: int | None
) -> None:
    monkeypatch.setattr(inbox.store, "maximum", lambda value: ("max", value))
    window = inbox._reply_window(message(kind), NOW)
    start = int(NOW.timestamp() * 1000)
    assert window["expiresAtMs"] == ("max", start + DAY_MS)
    assert window.get("needs") == needs
    assert window.get("tagExpiresAtMs") == (None if tag_days is None else ("max", start + tag_days * DAY_MS))


# --- what an agent may send (outbox) ----------------------------------------------------------------


def compose(kind: str, **fields: Any) -> None:
    replies._validate_shape(outbox.ComposeMessage(**fields), kind)


@pytest.mark.parametrize("kind", [*channels.kinds(), "app"])
def test_templates_and_reactions_are_offered_where_the_channel_has_them(kind: str) -> None:
    can = channels.capabilities(kind)
    template = {"type": "template", "templateName": "hello", "templateLanguage": "en_US"}
    reaction = {"type": "reaction", "emoji": "👍", "replyTo": "m1"}
    for fields, allowed, code in (
        (template, can.templates, "template_not_supported"),
        (reaction, can.reactions, "reaction_not_supported"),
    ):
        if allowed:
            compose(kind, **fields)
        else:
            with pytest.raises(Refused) as refused:
                compose(kind, **fields)
            assert refused.value.code == code
    for media in ("image", "audio", "video", "document"):
        compose(kind, type=media, mediaUrl="https://cdn.test/file")


def test_the_capabilities_are_what_the_providers_allow() -> None:
    offered = {
        kind: (c.reply_window, c.templates, c.reactions, c.read_receipts, c.typing)
        for kind in channels.kinds()
        for c in [channels.capabilities(kind)]
    }
    # read receipts: WhatsApp's blue ticks, Messenger/Instagram mark_seen; typing: Messenger/Instagram
    # typing_on, WhatsApp's typing indicator, Telegram sendChatAction (issue 17).
    assert offered == {
        "messenger": ("tag", False, False, True, True),
        "instagram": ("tag", False, True, True, True),
        "whatsapp": ("template", True, True, True, True),
        "telegram": ("none", False, True, False, True),
        "twilio": ("none", False, False, False, False),
    }


@pytest.mark.parametrize("kind", [*channels.kinds(), "app"])
def test_a_read_receipt_is_queued_only_where_the_channel_sends_them(
    monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    conversation = {
        "channel": kind,
        "unreadCount": 0,
        "lastInbound": {"messageId": "msg1", "providerMessageId": "wamid.1"},
    }
    queued: list[tuple[str, str, dict[str, Any]]] = []
    monkeypatch.setattr(conversations, "for_staff", lambda caller, conversation_id: conversation)
    monkeypatch.setenv("SWITCHBOARD_DELIVER_URL", "https://deliver.test")
    config.reset()
    monkeypatch.setattr(
        tasks,
        "enqueue",
        lambda queue, task_id, url, payload, at=None: queued.append((queue, task_id, payload)) or True,
    )
    result = outbox.mark_read(Caller(uid="u1", tenant_id="t1", role="agent"), "c1")
    expected = channels.capabilities(kind).read_receipts
    assert result["readReceiptQueued"] is expected
    if expected:
        [(queue, _, payload)] = queued
        assert queue == f"outbound-{kind}"
        assert payload["action"] == "mark_read" and payload["providerMessageId"] == "wamid.1"
    else:
        assert queued == []


# --- the account a send uses ----------------------------------------------------------------------


def test_each_adapter_builds_its_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_PUBLIC_BASE_URL", "https://functions.test")
    config.reset()
    document = {"externalId": "+15550100", "accountSid": "AC" + "0" * 32}
    accounts = {kind: channels.adapter(kind).account(document, "tok") for kind in channels.kinds()}
    for kind, account in accounts.items():
        assert (account.channel, account.external_id, account.token) == (kind, "+15550100", "tok")
    for kind in ("messenger", "instagram", "whatsapp"):
        assert (accounts[kind].base_url, accounts[kind].api_version) == ("https://graph.test", "v21.0")
        assert accounts[kind].status_callback_url is None
    assert accounts["telegram"].base_url == "https://telegram.test"
    twilio = accounts["twilio"]
    assert (twilio.base_url, twilio.account_sid) == ("https://twilio.test", document["accountSid"])
    assert twilio.status_callback_url == "https://functions.test/webhook-twilio"
    own = channels.adapter("twilio").account({**document, "statusCallbackUrl": "https://cb.test"}, "tok")
    assert own.status_callback_url == "https://cb.test"


def test_the_twilio_webhook_answers_twiml_and_the_others_plain_text() -> None:
    for kind in channels.kinds():
        answer = channels.adapter(kind).acknowledgement
        if kind == "twilio":
            assert answer.body.endswith("<Response/>") and answer.content_type == "text/xml"
        else:
            assert (answer.body, answer.content_type) == ("EVENT_RECEIVED", "text/plain; charset=utf-8")


# --- after ingest -----------------------------------------------------------------------------------


def press(query_id: str = "4382bfdwdsb323b2d9") -> MessageEvent:
    return message(
        "telegram",
        ChoiceContent(choice="callback", payload="size:L", title="Large"),
        message_id=f"callback_query:{query_id}",
    )


def test_a_stored_button_press_queues_one_named_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    queued: list[tuple[str, str, dict[str, Any]]] = []
    monkeypatch.setenv("SWITCHBOARD_DELIVER_URL", "https://deliver.test")
    config.reset()
    monkeypatch.setattr(
        tasks,
        "enqueue",
        lambda queue, task_id, url, payload, at=None: queued.append((queue, task_id, payload)) or True,
    )
    telegram = channels.adapter("telegram")
    stored = inbox.Outcome("created", "msg1", "t1", "c1")
    assert telegram.after_ingest(press(), stored) == {"callback_answer_queued": True}
    assert telegram.after_ingest(press(), inbox.Outcome("duplicate", "msg1", "t1", "c1")) == {
        "callback_answer_queued": True
    }
    assert [task_id for _, task_id, _ in queued] == [queued[0][1]] * 2  # one name: Cloud Tasks keeps one
    queue, _, payload = queued[0]
    assert queue == "outbound-telegram"
    assert payload == {
        "tenantId": "t1",
        "conversationId": "c1",
        "messageId": "msg1",
        "action": "answer_callback",
        "callbackQueryId": "4382bfdwdsb323b2d9",
    }
    # A plain message needs no answer; an event that was not stored as a message, nothing at all.
    assert telegram.after_ingest(message("telegram"), stored) == {"callback_answer_queued": False}
    assert telegram.after_ingest(press(), inbox.Outcome("parked")) == {}
    assert len(queued) == 2


def test_without_deliver_a_press_is_left_unanswered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWITCHBOARD_DELIVER_URL", raising=False)
    config.reset()
    outcome = inbox.Outcome("created", "msg1", "t1", "c1")
    assert channels.adapter("telegram").after_ingest(press(), outcome) == {"callback_answer_queued": False}


@pytest.mark.parametrize("kind", ["messenger", "instagram", "whatsapp", "twilio"])
def test_other_channels_need_nothing_after_ingest(kind: str) -> None:
    assert channels.adapter(kind).after_ingest(message(kind), inbox.Outcome("created", "m", "t", "c")) == {}


# --- connect-channel's checks -----------------------------------------------------------------------


def request(kind: str, **options: Any) -> cli.ChannelRequest:
    values: dict[str, Any] = {"page_id": None, "account_sid": None, "webhook_url": None}
    values.update(options)
    return cli.ChannelRequest(
        tenant_id="t1",
        channel_id="c1",
        kind=kind,
        external_id="123",
        name="N",
        token_expires_at=None,
        force=False,
        **values,
    )


def check(kind: str, **options: Any) -> None:
    cli._check_channel_request(request(kind, **options), channels.adapter(kind))


SID = "AC" + "a" * 32


@pytest.mark.parametrize(
    ("kind", "options", "refusal"),
    [
        ("twilio", {}, "--account-sid is required for twilio"),
        ("twilio", {"account_sid": "AC1"}, "not a Twilio account SID"),
        ("whatsapp", {"account_sid": SID}, "--account-sid applies to twilio channels only"),
        ("instagram", {}, "--page-id is required for instagram"),
        ("messenger", {"page_id": "9"}, "--page-id applies to instagram channels only"),
        ("twilio", {"account_sid": SID, "webhook_url": "https://h"}, "--webhook-url applies to telegram"),
        ("telegram", {}, "SWITCHBOARD_PUBLIC_BASE_URL"),
    ],
)
def test_a_request_a_provider_cannot_take_is_bad_input(
    kind: str, options: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(BadInput, match=refusal):
        check(kind, **options)


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("twilio", {"account_sid": SID}),
        ("instagram", {"page_id": "9"}),
        ("messenger", {}),
        ("whatsapp", {}),
        ("telegram", {"webhook_url": "https://h/webhook-telegram"}),
    ],
)
def test_a_request_a_provider_takes_passes(
    monkeypatch: pytest.MonkeyPatch, kind: str, options: dict[str, Any]
) -> None:
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "master")
    config.reset()
    check(kind, **options)


def test_a_bot_token_must_be_the_bots() -> None:
    with pytest.raises(BadInput, match="belongs to bot '999'"):
        cli._check_token(channels.adapter("telegram"), "123", "999:secret")
    cli._check_token(channels.adapter("telegram"), "123", "123:secret")
    for kind in ("messenger", "instagram", "whatsapp", "twilio"):
        cli._check_token(channels.adapter(kind), "123", "anything")


def test_telegram_registers_its_url_with_the_bot_named() -> None:
    telegram = channels.adapter("telegram")
    assert telegram.url_names_account
    assert telegram.webhook_url("https://h/webhook-telegram", "42") == "https://h/webhook-telegram?bot=42"
    assert (
        channels.adapter("twilio").webhook_url("https://h/webhook-twilio", "+1") == "https://h/webhook-twilio"
    )


def test_a_twilio_token_is_also_kept_under_its_account(monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[tuple[str, str]] = []
    monkeypatch.setattr(
        secrets, "add_secret_version", lambda name, value, labels=None: written.append((name, value))
    )
    twilio = channels.adapter("twilio")
    assert twilio.store_token({"accountSid": SID}, "tok") == f"twilio-auth-token-{SID}"
    assert twilio.store_token({"accountSid": None}, "tok") is None
    for kind in ("messenger", "instagram", "whatsapp", "telegram"):
        assert channels.adapter(kind).store_token({"accountSid": SID}, "tok") is None
    assert written == [(f"twilio-auth-token-{SID}", "tok")]


def test_connect_request_options_are_the_ones_given() -> None:
    assert ConnectRequest("1").options() == {}
    assert ConnectRequest("1", page_id="9", webhook_url="u").options() == {"page_id": "9", "webhook_url": "u"}
