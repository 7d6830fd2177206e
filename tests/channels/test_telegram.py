"""Telegram: the per-bot secret token, one update per POST with the bot id from the URL, every update
kind on hand-written fixtures (``fixtures/telegram``, built from the Bot API reference: Update,
Message, CallbackQuery, ChatMemberUpdated, MessageReactionUpdated), and ``send`` against the provider
sandbox speaking the Bot API (requests as documented, errors mapped to retry decisions)."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local.provider_sandbox import ProviderSandbox
from shared import config
from shared.channels.telegram import (
    ALLOWED_UPDATES,
    SECRET_HEADER,
    TELEGRAM_ERRORS,
    TelegramAdapter,
    provider_error,
    set_webhook,
    telegram_secret_token,
    webhook_url,
)
from shared.errors import ParseError, ProviderError, SignatureError, VerificationError
from shared.inbound import Normalized, normalize
from shared.models import (
    Attachment,
    ChannelNoticeEvent,
    ChoiceContent,
    ContactsContent,
    EditEvent,
    MediaContent,
    MessageEvent,
    ReactionEvent,
    SharedContact,
    SystemContent,
    TextContent,
    UnsupportedContent,
)
from shared.models.outbound import ChannelAccount, OutboundMessage, TemplateParameter

MASTER = "telegram-master-secret"
BOT_ID = "6123456789"
BOT_TOKEN = "6123456789:AAFh-sandbox-token_0123456789abcdefg"
URL = f"https://hooks.example.com/webhook-telegram?bot={BOT_ID}"
CUSTOMER = "7012345678"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "telegram"
PROVIDER_FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "providers"


def adapter() -> TelegramAdapter:
    return TelegramAdapter(webhook_secret=MASTER)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def run(name: str) -> Normalized:
    return normalize(adapter(), fixture(name), URL)


def only(name: str) -> Any:
    result = run(name)
    assert result.quarantined == []
    [event] = result.events
    assert event.channel == "telegram" and event.account_id == BOT_ID
    return event


def published(name: str) -> Any:
    path = PROVIDER_FIXTURES / "telegram" / name
    if not path.is_file():
        pytest.fail(f"provider fixture missing: {path}")
    return json.loads(path.read_bytes())


# --- the secret token and verify ------------------------------------------------------------------


def test_secret_token_is_the_hex_hmac_of_the_bot_id() -> None:
    token = telegram_secret_token(MASTER, BOT_ID)
    assert token == hmac.new(MASTER.encode(), BOT_ID.encode(), hashlib.sha256).hexdigest()
    assert len(token) == 64 and set(token) <= set("0123456789abcdef")  # within Telegram's 1-256 A-Za-z0-9_-
    assert telegram_secret_token(MASTER, "6123456780") != token
    assert telegram_secret_token("another-master", BOT_ID) != token
    with pytest.raises(ValueError, match="empty"):
        telegram_secret_token("", BOT_ID)


def test_verify_accepts_the_derived_token_for_the_bot_in_the_url() -> None:
    token = telegram_secret_token(MASTER, BOT_ID)
    adapter().verify({SECRET_HEADER: token}, b"{}", URL)
    adapter().verify({SECRET_HEADER.lower(): token}, b"{}", URL)  # header names are case-insensitive
    adapter().verify({SECRET_HEADER: token}, b"{}", f"https://h/webhook-telegram?x=1&bot={BOT_ID}&y=2")


@pytest.mark.parametrize(
    ("headers", "url", "reason"),
    [
        ({}, URL, "missing"),
        ({SECRET_HEADER: ""}, URL, "missing"),
        ({SECRET_HEADER: "wrong"}, URL, "does not match"),
        # Another bot's token does not open this bot's door.
        ({SECRET_HEADER: telegram_secret_token(MASTER, "999")}, URL, "does not match"),
        ({SECRET_HEADER: telegram_secret_token("other", BOT_ID)}, URL, "does not match"),
        (
            {SECRET_HEADER: telegram_secret_token(MASTER, BOT_ID)},
            "https://h/webhook-telegram",
            "name the bot",
        ),
        (
            {SECRET_HEADER: telegram_secret_token(MASTER, BOT_ID)},
            "https://h/webhook-telegram?bot=",
            "name the bot",
        ),
        (
            {SECRET_HEADER: telegram_secret_token(MASTER, BOT_ID)},
            f"https://h/webhook-telegram?bot={BOT_ID}&bot=999",
            "name the bot",
        ),
    ],
)
def test_verify_refuses(headers: dict[str, str], url: str, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        adapter().verify(headers, b"{}", url)


def test_master_secret_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "from-the-environment")
    config.reset()
    try:
        token = telegram_secret_token("from-the-environment", BOT_ID)
        TelegramAdapter().verify({SECRET_HEADER: token}, b"{}", URL)
        with pytest.raises(SignatureError):
            TelegramAdapter().verify({SECRET_HEADER: telegram_secret_token(MASTER, BOT_ID)}, b"{}", URL)
    finally:
        config.reset()


def test_no_handshake() -> None:
    with pytest.raises(VerificationError):
        adapter().handshake({"hub.mode": "subscribe", "hub.challenge": "x"})


# --- split ----------------------------------------------------------------------------------------


def test_split_needs_the_url_and_carries_the_bot_id() -> None:
    with pytest.raises(ParseError, match="needs the webhook URL"):
        adapter().split(fixture("edited-message.json"), "")
    [item] = adapter().split(fixture("edited-message.json"), URL)
    assert item == {"bot_id": BOT_ID, "update": json.loads(fixture("edited-message.json"))}
    with pytest.raises(ParseError):
        adapter().split(fixture("edited-message.json"), "https://h/webhook-telegram")


def test_bodies_that_are_not_an_update_are_quarantined_whole() -> None:
    for body in (b"not json", b"[1, 2]", b'"text"'):
        result = normalize(adapter(), body, URL)
        assert result.events == []
        [quarantined] = result.quarantined
        assert quarantined.reason == "invalid_body" and quarantined.url == URL
    # Without the URL (the bot is unknown) the whole body is kept for replay.
    result = normalize(adapter(), fixture("edited-message.json"))
    assert [q.reason for q in result.quarantined] == ["invalid_body"]


@pytest.mark.parametrize(
    "item",
    [
        {"update": {"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1}, "text": "x"}}},
        {"bot_id": BOT_ID, "update": "not an update"},
        {"bot_id": BOT_ID, "update": {"update_id": 1, "message": {"message_id": 1, "text": "no chat"}}},
        {"bot_id": BOT_ID, "update": {"update_id": 1, "message": {"chat": {"id": 5}, "text": "no id"}}},
        {"bot_id": BOT_ID, "update": {"update_id": 1, "message": "not a message"}},
        {"bot_id": BOT_ID, "update": {"update_id": 1, "callback_query": {"from": {"id": 5}, "data": "x"}}},
        {"bot_id": BOT_ID, "update": {"update_id": 1, "message_reaction": {"chat": {"id": 5}, "date": 1}}},
    ],
)
def test_items_that_cannot_be_understood_raise_parse_error(item: dict[str, Any]) -> None:
    with pytest.raises(ParseError):
        adapter().parse_item(item)


def test_an_update_with_only_its_id_gives_nothing() -> None:
    assert adapter().parse_item({"bot_id": BOT_ID, "update": {"update_id": 42}}) == []
    assert adapter().parse_item({"bot_id": BOT_ID, "update": {}}) == []


# --- update kinds ---------------------------------------------------------------------------------


def test_group_text_with_reply_and_big_ids() -> None:
    event = only("group-text-reply.json")
    assert isinstance(event, MessageEvent)
    # A group is the conversation: its id, its title, its public @username.
    assert (event.contact_id, event.contact_name, event.contact_handle) == (
        "-1001234567890123",
        "Acme customers",
        "@acme_customers",
    )
    assert event.content == TextContent(text="/order@acme_support_bot 12345 is late")  # entities ignored
    assert event.reply_to == "-1001234567890123:2147483600"
    assert event.event_id == "update:987654321012"
    assert event.occurred_at is not None and event.occurred_at.year == 2024


def test_private_chat_forwarded_text() -> None:
    event = only("private-forwarded.json")
    assert isinstance(event, MessageEvent)
    assert (event.contact_id, event.contact_name, event.contact_handle) == (CUSTOMER, "Ana Lima", "@analima")
    assert event.message_id == f"{CUSTOMER}:12"
    assert event.forwarded is True


def test_channel_post_has_sender_chat_and_no_from() -> None:
    event = only("channel-post-photo.json")
    assert isinstance(event, MessageEvent)
    assert (event.contact_id, event.contact_name, event.contact_handle) == (
        "-1009876543210",
        "Acme news",
        "@acmenews",
    )
    # The largest PhotoSize by area, wherever it is in the list.
    assert event.content == MediaContent(
        type="image",
        attachments=(
            Attachment(
                media_id="AgACAgQAAxkBAAIBlarge",
                caption="New opening hours",
                size=90000,
                width=1280,
                height=853,
            ),
        ),
        text="New opening hours",
    )


def test_edits_target_the_message_in_its_chat() -> None:
    edit = only("edited-message.json")
    assert isinstance(edit, EditEvent)
    assert (edit.target_message_id, edit.text, edit.contact_id) == (
        f"{CUSTOMER}:13",
        "my order is 12346, not 12345",
        CUSTOMER,
    )
    assert edit.occurred_at is not None and edit.occurred_at.timestamp() == 1717171960  # edit_date
    caption = only("edited-channel-post-caption.json")
    assert isinstance(caption, EditEvent)
    assert (caption.target_message_id, caption.text) == ("-1009876543210:77", "New opening hours (updated)")


def test_callback_query_recovers_the_button_title() -> None:
    event = only("callback-query.json")
    assert isinstance(event, MessageEvent)
    assert event.content == ChoiceContent(choice="callback", title="Great", payload="rate:5")
    assert event.event_id == event.message_id == "callback_query:3012345678901234567"
    assert event.reply_to == f"{CUSTOMER}:14"  # the message that carried the keyboard
    assert (event.contact_id, event.contact_name) == (CUSTOMER, "Ana Lima")


def test_callback_query_from_an_inline_message_has_no_chat() -> None:
    event = only("callback-query-inline.json")
    assert isinstance(event, MessageEvent)
    assert event.content == ChoiceContent(choice="callback", payload="more")
    assert event.event_id == "callback_query:-4012345678901234567"  # negative numeric string, kept
    assert event.contact_id == CUSTOMER and event.reply_to is None


@pytest.mark.parametrize(
    ("name", "contact", "system_event"),
    [
        ("my-chat-member-blocked.json", CUSTOMER, "bot_blocked"),
        ("my-chat-member-unblocked.json", CUSTOMER, "bot_unblocked"),
        ("my-chat-member-added-to-group.json", "-1001234567890123", "bot_added"),
    ],
)
def test_my_chat_member_is_a_system_message(name: str, contact: str, system_event: str) -> None:
    event = only(name)
    assert isinstance(event, MessageEvent)
    assert isinstance(event.content, SystemContent)
    assert event.content.event == system_event
    assert event.contact_id == contact
    assert event.message_id == event.event_id


@pytest.mark.parametrize(
    ("name", "emoji"),
    [
        ("message-reaction-added.json", "\N{THUMBS UP SIGN}"),
        ("message-reaction-changed.json", "\N{HEAVY BLACK HEART}"),  # the one just added
        ("message-reaction-removed.json", None),
    ],
)
def test_reactions(name: str, emoji: str | None) -> None:
    event = only(name)
    assert isinstance(event, ReactionEvent)
    assert event.target_message_id == f"{CUSTOMER}:15"
    assert event.emoji == emoji
    assert event.contact_id == CUSTOMER and event.from_business is False


def test_custom_emoji_reaction_by_an_anonymous_admin() -> None:
    event = only("message-reaction-custom-anonymous.json")
    assert isinstance(event, ReactionEvent)
    assert event.emoji == "custom_emoji:5368324170671202286"
    assert event.target_message_id == "-1001234567890123:2147483700"


def test_media_kinds() -> None:
    animation = only("animation.json").content
    # A GIF comes as animation AND document: the animation wins.
    assert animation == MediaContent(
        type="video",
        attachments=(
            Attachment(
                media_id="CgACAgQAAxkBAAIBanimation",
                mime_type="video/mp4",
                filename="dance.mp4",
                size=120000,
                width=320,
                height=240,
                duration=3,
            ),
        ),
        animated=True,
    )
    audio = only("audio-with-caption.json").content
    assert isinstance(audio, MediaContent) and audio.type == "audio" and audio.voice is False
    assert audio.text == "this one" and audio.attachments[0].filename == "song.mp3"
    note = only("video-note.json").content
    assert note == MediaContent(
        type="video", attachments=(Attachment(media_id="DQACAgQAAxkBAAIBnote", size=300000, duration=7),)
    )
    sticker = only("sticker-animated.json").content
    assert sticker == MediaContent(
        type="sticker",
        attachments=(Attachment(media_id="CAACAgIAAxkBAAIBsticker", size=24000, width=512, height=512),),
        text="\N{SMILING FACE WITH SMILING EYES}",
        animated=True,
    )


def test_contact_with_user_id() -> None:
    assert only("contact-with-user-id.json").content == ContactsContent(
        contacts=(SharedContact(name="Ana Lima", phones=("+5511999990000",), user_id=CUSTOMER),)
    )


@pytest.mark.parametrize(("name", "kind"), [("poll-message.json", "poll"), ("dice-message.json", "dice")])
def test_message_kinds_we_do_not_render_are_unsupported(name: str, kind: str) -> None:
    event = only(name)
    assert isinstance(event, MessageEvent)
    assert isinstance(event.content, UnsupportedContent)
    assert event.content.provider_type == kind
    assert event.raw["update"]["message"][kind]  # the raw update travels with it


def test_service_messages() -> None:
    joined = only("new-chat-members.json")
    assert joined.content == SystemContent(event="new_chat_members", text="Caio")
    migrated = only("migrate-to-chat-id.json")
    assert migrated.content == SystemContent(event="migrate_to_chat_id", text="-1002222333444555")
    assert migrated.contact_id == "-4012345678"


def test_unknown_update_kinds_are_kept() -> None:
    # About a chat: an unsupported message in that chat's conversation.
    join = only("chat-join-request.json")
    assert isinstance(join, MessageEvent)
    assert join.content == UnsupportedContent(
        provider_type="chat_join_request", reason="update kind not handled"
    )
    assert join.contact_id == "-1001234567890123"
    # About no chat (a poll's state, a kind newer than this code): a channel notice.
    for name, topic in (
        ("poll-update.json", "update:poll"),
        ("future-update-kind.json", "update:future_kind_from_bot_api_99"),
    ):
        notice = only(name)
        assert isinstance(notice, ChannelNoticeEvent)
        assert (notice.topic, notice.contact_id, notice.account_id) == (topic, "", BOT_ID)


def test_users_without_is_bot() -> None:
    event = only("user-without-is-bot.json")
    assert (event.content, event.contact_name, event.contact_handle) == (
        TextContent(text="hello"),
        "Ana",
        None,
    )


# --- send: the Bot API through the provider sandbox ----------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[ProviderSandbox]:
    with ProviderSandbox() as running:
        running.register_account("telegram", BOT_ID, BOT_TOKEN, username="acme_support_bot")
        yield running


def account(sandbox: ProviderSandbox, token: str = BOT_TOKEN) -> ChannelAccount:
    return ChannelAccount(channel="telegram", external_id=BOT_ID, token=token, base_url=sandbox.base_url)


def send(sandbox: ProviderSandbox, message: OutboundMessage, recipient: str = CUSTOMER, **kw: Any) -> Any:
    return adapter().send(account(sandbox, **kw), recipient, message, timeout=5)


def test_text_with_a_reply(sandbox: ProviderSandbox) -> None:
    result = send(sandbox, OutboundMessage(type="text", text="Hello Ana", reply_to=f"{CUSTOMER}:14"))
    [call] = sandbox.requests()
    assert (call.method, call.path) == ("POST", f"/bot{BOT_TOKEN}/sendMessage")
    assert call.json == {
        "chat_id": 7012345678,
        "text": "Hello Ana",
        "reply_parameters": {"message_id": 14, "allow_sending_without_reply": True},
    }
    message_id = call.response["result"]["message_id"]
    assert result.provider_message_id == f"{CUSTOMER}:{message_id}"
    # The published sendMessage answer's keys are all in ours.
    assert set(published("out-courier-sendmessage-ok.json")["result"]) <= set(call.response["result"])


@pytest.mark.parametrize(
    ("kind", "method", "field"),
    [
        ("image", "sendPhoto", "photo"),
        ("document", "sendDocument", "document"),
        ("audio", "sendAudio", "audio"),
        ("video", "sendVideo", "video"),
    ],
)
def test_media_by_url(sandbox: ProviderSandbox, kind: str, method: str, field: str) -> None:
    url = "https://cdn.example.com/files/receipt-123"
    result = send(sandbox, OutboundMessage(type=kind, media_url=url, caption="your receipt"))  # type: ignore[arg-type]
    [call] = sandbox.requests()
    assert call.path == f"/bot{BOT_TOKEN}/{method}"
    assert call.json == {"chat_id": 7012345678, field: url, "caption": "your receipt"}
    assert result.provider_message_id == f"{CUSTOMER}:{call.response['result']['message_id']}"


def test_group_and_channel_recipients(sandbox: ProviderSandbox) -> None:
    group = send(sandbox, OutboundMessage(type="text", text="hi all"), recipient="-1001234567890123")
    assert group.provider_message_id.startswith("-1001234567890123:")
    assert sandbox.requests()[-1].json["chat_id"] == -1001234567890123
    channel = send(sandbox, OutboundMessage(type="text", text="news"), recipient="@acmenews")
    assert sandbox.requests()[-1].json["chat_id"] == "@acmenews"
    chat_id = sandbox.requests()[-1].response["result"]["chat"]["id"]
    assert (
        channel.provider_message_id == f"{chat_id}:{sandbox.requests()[-1].response['result']['message_id']}"
    )


def test_reactions_are_set_and_removed(sandbox: ProviderSandbox) -> None:
    added = send(
        sandbox, OutboundMessage(type="reaction", emoji="\N{THUMBS UP SIGN}", reply_to=f"{CUSTOMER}:15")
    )
    removed = send(sandbox, OutboundMessage(type="reaction", emoji="", reply_to=f"{CUSTOMER}:15"))
    first, second = sandbox.requests()
    assert first.path == f"/bot{BOT_TOKEN}/setMessageReaction"
    assert first.json == {
        "chat_id": 7012345678,
        "message_id": 15,
        "reaction": [{"type": "emoji", "emoji": "\N{THUMBS UP SIGN}"}],
    }
    assert second.json == {"chat_id": 7012345678, "message_id": 15, "reaction": []}
    assert first.response == published("out-courier-ok-result-true.json")
    assert added.provider_message_id is None and removed.provider_message_id is None
    with pytest.raises(ProviderError) as missing:
        send(sandbox, OutboundMessage(type="reaction", emoji="x"))
    assert missing.value.transient is False


def test_mark_read_is_a_no_op_and_templates_are_refused(sandbox: ProviderSandbox) -> None:
    assert (
        send(sandbox, OutboundMessage(type="mark_read", reply_to=f"{CUSTOMER}:15")).provider_message_id
        is None
    )
    with pytest.raises(ProviderError, match="templates are WhatsApp only") as refused:
        send(
            sandbox,
            OutboundMessage(
                type="template",
                template_name="hello",
                template_language="en_US",
                template_parameters=(TemplateParameter(text="x"),),
            ),
        )
    assert refused.value.transient is False
    assert sandbox.requests() == []  # neither called Telegram


def test_429_carries_retry_after(sandbox: ProviderSandbox) -> None:
    served = published("out-courier-error-429-retry-after.json")
    sandbox.fail_next("telegram", 429, retry_after=served["parameters"]["retry_after"])
    with pytest.raises(ProviderError) as caught:
        send(sandbox, OutboundMessage(type="text", text="x"))
    error = caught.value
    assert (error.transient, error.retry_after, error.code, error.provider_http_status) == (
        True,
        30,
        "429",
        429,
    )
    assert sandbox.requests()[-1].response == served


def test_403_blocked_is_permanent_with_a_clear_reason(sandbox: ProviderSandbox) -> None:
    sandbox.fail_next("telegram", 403)
    with pytest.raises(ProviderError) as caught:
        send(sandbox, OutboundMessage(type="text", text="x"))
    error = caught.value
    assert (error.transient, error.retry_after, error.code) == (False, None, "403")
    assert "blocked the bot" in error.reason()
    assert sandbox.requests()[-1].response == published("out-courier-error-403-blocked.json")


def test_migrated_group_names_the_new_chat(sandbox: ProviderSandbox) -> None:
    sandbox.fail_next("telegram", "migrate")
    with pytest.raises(ProviderError) as caught:
        send(sandbox, OutboundMessage(type="text", text="x"), recipient="-4012345678")
    new_id = sandbox.requests()[-1].response["parameters"]["migrate_to_chat_id"]
    error = caught.value
    assert error.transient is False and error.code == "400"
    assert str(new_id) in (error.detail or "") and str(new_id) in error.reason()


@pytest.mark.parametrize(
    ("code", "transient", "health"),
    [(400, False, None), (401, False, "token_expired"), (500, True, None), (502, True, None)],
)
def test_other_errors(sandbox: ProviderSandbox, code: int, transient: bool, health: str | None) -> None:
    sandbox.fail_next("telegram", code)
    with pytest.raises(ProviderError) as caught:
        send(sandbox, OutboundMessage(type="text", text="x"))
    assert (caught.value.transient, caught.value.code, caught.value.health) == (transient, str(code), health)


def test_a_wrong_token_is_unauthorized(sandbox: ProviderSandbox) -> None:
    with pytest.raises(ProviderError) as caught:
        send(sandbox, OutboundMessage(type="text", text="x"), token="6123456789:revoked")
    assert (caught.value.code, caught.value.transient, caught.value.health) == ("401", False, "token_expired")


def test_timeouts_are_transient(sandbox: ProviderSandbox) -> None:
    sandbox.hang_next("telegram", 1.0)
    with pytest.raises(ProviderError) as caught:
        adapter().send(account(sandbox), CUSTOMER, OutboundMessage(type="text", text="x"), timeout=0.2)
    assert (caught.value.transient, caught.value.code, caught.value.retry_after) == (True, None, None)
    assert BOT_TOKEN not in str(caught.value) and BOT_TOKEN not in (caught.value.detail or "")


def test_connection_errors_are_transient_and_never_show_the_token() -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = ChannelAccount(
        channel="telegram", external_id=BOT_ID, token=BOT_TOKEN, base_url=f"http://127.0.0.1:{port}"
    )
    with pytest.raises(ProviderError) as caught:
        adapter().send(closed, CUSTOMER, OutboundMessage(type="text", text="x"), timeout=2)
    assert caught.value.transient is True
    assert BOT_TOKEN not in str(caught.value)
    assert caught.value.__cause__ is None  # the requests exception (URL with token) is not chained


def test_error_table_reads_the_published_answers() -> None:
    # error_code decides, not the HTTP status: a published mock serves error_code 400 with HTTP 403.
    domain = provider_error(403, published("out-courier-error-400-bot-domain-invalid.json"))
    assert (domain.code, domain.transient, domain.detail) == ("400", False, "Bot domain invalid.")
    flood = provider_error(429, published("out-courier-error-429-retry-after.json"))
    assert (flood.transient, flood.retry_after) == (True, 30)
    assert provider_error(503, None).transient is True  # no JSON at all
    assert provider_error(418, {"ok": False, "error_code": 418, "description": "?"}).transient is False
    assert provider_error(500, {"ok": False, "error_code": 500}, {"Retry-After": "12"}).retry_after == 12
    codes = {rule.code for rule in TELEGRAM_ERRORS}
    assert {400, 401, 403, 429, 500, 502} <= codes


# --- setWebhook ---------------------------------------------------------------------------------


def test_set_webhook_registers_url_secret_and_updates(sandbox: ProviderSandbox) -> None:
    url = webhook_url("https://hooks.example.com/webhook-telegram", BOT_ID)
    assert url == URL
    token = telegram_secret_token(MASTER, BOT_ID)
    assert set_webhook(account(sandbox), url, token, 5) is True
    [call] = sandbox.requests()
    assert call.path == f"/bot{BOT_TOKEN}/setWebhook"
    assert call.json == {"url": URL, "secret_token": token, "allowed_updates": list(ALLOWED_UPDATES)}
    assert "message_reaction" in ALLOWED_UPDATES  # never delivered unless asked for
    with pytest.raises(ValueError, match="secret_token"):
        set_webhook(account(sandbox), url, "not allowed!", 5)
    assert webhook_url("https://h/w?bot=1&x=2", BOT_ID) == f"https://h/w?x=2&bot={BOT_ID}"


def test_every_media_kind_it_offers_has_a_bot_api_method() -> None:
    from shared.channels.telegram import request_for

    for kind in TelegramAdapter.capabilities.media:
        request = request_for("42", OutboundMessage(type=kind, media_url="https://cdn.test/f"))
        assert request is not None and request[0].startswith("send"), kind


def test_answering_a_button_press_calls_answer_callback_query_with_its_id() -> None:
    from shared.channels.telegram import request_for
    from shared.models.outbound import OutboundMessage

    assert request_for(
        "7123456789012", OutboundMessage(type="answer_callback", reply_to="4382bfdwdsb323b2d9")
    ) == (
        "answerCallbackQuery",
        {"callback_query_id": "4382bfdwdsb323b2d9"},
    )
    with pytest.raises(ProviderError):
        request_for("7123456789012", OutboundMessage(type="answer_callback"))
