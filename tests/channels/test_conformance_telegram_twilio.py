"""Conformance of the Telegram and Twilio adapters against real published payloads.

Every file under ``../shared/fixtures/providers/{telegram,twilio}/`` except the outbound ``out-*``
request/response bodies (SOURCES.md: those serve the sandbox and send tests) goes through the
webhook path (``normalize``) as the provider would post it: a Telegram file is one Update, posted
to ``...?bot=<id>``; a Twilio file is the form's fields as a JSON object (SOURCES.md: parsed from the
source's form body), posted form-encoded. Each becomes events or quarantine records, never an
exception, and each has its own expected outcome below. Our hand-written fixtures
(``fixtures/telegram``, ``fixtures/twilio``, built from the Bot API and Twilio webhook references)
get the same generic checks. The shared folder is found beside the repository and its absence is
a failure, never a skip.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from shared.channels import adapter as registered_adapter
from shared.channels.base import ChannelAdapter
from shared.channels.telegram import TelegramAdapter
from shared.channels.twilio import TwilioAdapter
from shared.errors import ParseError
from shared.inbound import Normalized, normalize
from shared.models import (
    Attachment,
    ChoiceContent,
    ContactsContent,
    InboundEvent,
    LocationContent,
    MediaContent,
    MessageEvent,
    ReceiptEvent,
    SharedContact,
    TextContent,
)

PROVIDER_FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "providers"
SOURCES = PROVIDER_FIXTURES / "SOURCES.md"
OWN_FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHANNELS = ("telegram", "twilio")
BOT_ID = "6123456789"
TELEGRAM_URL = f"https://hooks.example.com/webhook-telegram?bot={BOT_ID}"
TWILIO_URL = "https://hooks.example.com/webhook-twilio"
EVENTS: TypeAdapter[InboundEvent] = TypeAdapter(InboundEvent)
QUARANTINED = (ParseError, ValidationError, ValueError, TypeError, KeyError, AttributeError)


def make_adapter(kind: str) -> ChannelAdapter:
    if kind == "telegram":
        return TelegramAdapter(webhook_secret="conformance-master-secret")
    return TwilioAdapter(auth_tokens=lambda sid: "conformance-auth-token")


def body_of(kind: str, path: Path) -> bytes:
    """The POST body the provider would send for a fixture file."""
    raw = path.read_bytes()
    if kind == "telegram":
        return raw
    return urllib.parse.urlencode(json.loads(raw), doseq=True).encode()


def url_of(kind: str) -> str:
    return TELEGRAM_URL if kind == "telegram" else TWILIO_URL


def run(kind: str, path: Path) -> Normalized:
    return normalize(make_adapter(kind), body_of(kind, path), url_of(kind))


def _sources_rows() -> dict[str, str]:
    if not SOURCES.is_file():
        pytest.fail(f"provider fixtures missing: {SOURCES} (they are read in place, never copied)")
    rows = {}
    for line in SOURCES.read_text().splitlines():
        match = re.match(r"^\| `([^`]+)` \|", line)
        if match:
            rows[match[1]] = line
    return rows


def provider_files() -> list[tuple[str, Path]]:
    files = [
        (kind, path)
        for kind in CHANNELS
        for path in sorted((PROVIDER_FIXTURES / kind).glob("*.json"))
        if not path.name.startswith("out-")
    ]
    # A missing folder must fail the run, not quietly parametrize nothing.
    return files or [("missing", PROVIDER_FIXTURES / "missing")]


def own_files() -> list[tuple[str, Path]]:
    return [(kind, path) for kind in CHANNELS for path in sorted((OWN_FIXTURES / kind).glob("*.json"))]


PROVIDER_FILES = provider_files()
OWN_FILES = own_files()
ALL_FILES = PROVIDER_FILES + OWN_FILES


def case_id(case: tuple[str, Path]) -> str:
    origin = "own" if case[1].is_relative_to(OWN_FIXTURES) else "shared"
    return f"{origin}:{case[1].parent.name}/{case[1].name}"


def test_provider_fixture_folders_exist_and_are_described() -> None:
    rows = _sources_rows()
    for kind in CHANNELS:
        folder = PROVIDER_FIXTURES / kind
        assert folder.is_dir(), f"published fixtures not found at {folder}"
        names = sorted(p.name for p in folder.glob("*.json"))
        assert any(n.startswith("courier-") for n in names), kind
        undescribed = [n for n in names if f"{kind}/{n}" not in rows]
        assert undescribed == [], f"fixtures not described in SOURCES.md: {undescribed}"


# --- generic: every file ------------------------------------------------------------------------


@pytest.mark.parametrize("case", ALL_FILES, ids=case_id)
def test_normalizes_and_round_trips(case: tuple[str, Path]) -> None:
    kind, path = case
    assert path.is_file(), f"missing fixture {path}"
    result = run(kind, path)  # never raises
    for event in result.events:
        assert event.channel == kind
        assert event.account_id
        assert isinstance(event.contact_id, str)
        assert event.event_id
        assert event.occurred_at is None or event.occurred_at.tzinfo is not None
        assert EVENTS.validate_json(EVENTS.dump_json(event)) == event
    for quarantined in result.quarantined:
        assert quarantined.reason == "parse_error"
        json.dumps(quarantined.raw)  # replayable: what split produced, as JSON


@pytest.mark.parametrize("case", ALL_FILES, ids=case_id)
def test_items_are_self_contained(case: tuple[str, Path]) -> None:
    # A quarantined or stored item is re-parsed later on its own: it must give the same events.
    kind, path = case
    adapter = make_adapter(kind)
    items = adapter.split(body_of(kind, path), url_of(kind))
    assert len(items) <= 1  # both providers post one update / one message per request
    for item in items:
        copy = json.loads(json.dumps(item))
        try:
            events = adapter.parse_item(item)
        except QUARANTINED as exc:
            with pytest.raises(type(exc)):
                adapter.parse_item(copy)
            continue
        assert adapter.parse_item(copy) == events


@pytest.mark.parametrize("case", ALL_FILES, ids=case_id)
def test_redelivery_gives_the_same_event_ids(case: tuple[str, Path]) -> None:
    # Telegram redelivers an update, Twilio retries a webhook: the same ids, so ingest deduplicates.
    kind, path = case
    first = [e.event_id for e in run(kind, path).events]
    assert first == [e.event_id for e in run(kind, path).events]
    assert len(first) == len(set(first))


# --- expected outcome per published file ----------------------------------------------------------

Check = Callable[[Normalized], None]
NIC = {"contact_id": "3527065", "contact_name": "Nic Pottier"}


def one(result: Normalized) -> InboundEvent:
    assert result.quarantined == []
    assert len(result.events) == 1, result.events
    return result.events[0]


def tg_message(content: object, message_id: str, update_id: int, handle: str | None, at: datetime) -> Check:
    def check(result: Normalized) -> None:
        event = one(result)
        assert isinstance(event, MessageEvent)
        assert event.content == content
        assert (event.account_id, event.contact_id, event.contact_name) == (BOT_ID, *NIC.values())
        assert event.message_id == message_id
        assert event.event_id == f"update:{update_id}"
        assert event.contact_handle == handle
        assert event.occurred_at == at
        assert event.reply_to is None and event.forwarded is False

    return check


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def nothing(result: Normalized) -> None:
    assert result.events == [] and result.quarantined == []


def tw_message(
    content: object,
    *,
    account: str = "+12028831111",
    contact: str = "+14133881111",
    handle: str | None = "+14133881111",
    sid: str = "SMe287d7109a5a925f182f0e07fe5b223b",
) -> Check:
    def check(result: Normalized) -> None:
        event = one(result)
        assert isinstance(event, MessageEvent)
        assert event.content == content
        assert (event.account_id, event.contact_id) == (account, contact)
        assert event.message_id == event.event_id == sid
        assert event.contact_handle == handle
        assert event.contact_name is None
        assert event.occurred_at is None  # Twilio's request carries no time

    return check


def unroutable_status(result: Normalized) -> None:
    # A status callback without From (our number) cannot be routed: kept raw, replayable.
    assert result.events == []
    [quarantined] = result.quarantined
    assert quarantined.reason == "parse_error"
    assert "without From" in quarantined.error
    assert quarantined.raw["params"]["MessageSid"] == "SMe287d7109a5a925f182f0e07fe5b223b"


def sent_through_service(result: Normalized) -> None:
    event = one(result)
    assert isinstance(event, ReceiptEvent)
    # Status callbacks invert the roles: From is our number, To the customer (here a short code).
    assert (event.account_id, event.contact_id) == ("+14133881111", "2021")
    assert event.status == event.provider_status == "sent"
    assert event.message_ids == ("SM0b6e2697aae04182a9f5b5c7a8994c7f",)
    assert event.error is None


MMS = (
    Attachment(url="cat.jpg", caption="Msg"),
    Attachment(url="dog.jpg", caption="Msg"),
)

EXPECTED: dict[str, Check] = {
    "telegram/courier-command-start.json": tg_message(
        TextContent(text="/start"), "3527065:41", 174114370, "@nicpottier", at(1454119029)
    ),
    "telegram/courier-contact.json": tg_message(
        ContactsContent(contacts=(SharedContact(name="Adolf Taxi", phones=("0788531373",)),)),
        "3527065:96",
        900946536,
        "@Nicpottier",
        at(1493845755),
    ),
    "telegram/courier-document.json": tg_message(
        MediaContent(
            type="document",
            attachments=(
                Attachment(
                    media_id="BQADAQADCgADgtFRRPrv9GQ95f8eAg",
                    mime_type="application/vnd.ms-excel",
                    filename="TabFig2015prel.xls",
                    size=4540928,
                ),
            ),
        ),
        "3527065:92",
        900946532,
        "@Nicpottier",
        at(1493845100),
    ),
    "telegram/courier-location.json": tg_message(
        LocationContent(latitude=-2.890287, longitude=-79.004333),
        "3527065:94",
        900946534,
        "@Nicpottier",
        at(1493845244),
    ),
    # The largest of the four PhotoSizes, and the caption as the message's text.
    "telegram/courier-photo.json": tg_message(
        MediaContent(
            type="image",
            attachments=(
                Attachment(
                    media_id="AgADAQADtKcxG4LRUUQSQVUjfJIiiF8G6C8ABA9NJzFdXskaincBAAEC",
                    caption="Photo Caption",
                    size=104737,
                    width=720,
                    height=1280,
                ),
            ),
            text="Photo Caption",
        ),
        "3527065:85",
        900946525,
        "@Nicpottier",
        at(1493843318),
    ),
    # Legacy `thumb`, no username anywhere: no handle.
    "telegram/courier-sticker.json": tg_message(
        MediaContent(
            type="sticker",
            attachments=(
                Attachment(media_id="BQADAwADRQADyIsGAAHtBskMy6GoLAI", size=38440, width=436, height=512),
            ),
        ),
        "3527065:44",
        174114373,
        None,
        at(1454119668),
    ),
    "telegram/courier-text.json": tg_message(
        TextContent(text="Hello World"), "3527065:41", 174114370, "@nicpottier", at(1454119029)
    ),
    "telegram/courier-update-id-only.json": nothing,
    # A venue also carries `location`: the venue's title and address win.
    "telegram/courier-venue.json": tg_message(
        LocationContent(
            latitude=-2.898944, longitude=-79.006835, name="Cuenca", address="Provincia del Azuay"
        ),
        "3527065:95",
        900946535,
        "@Nicpottier",
        at(1493845520),
    ),
    "telegram/courier-video.json": tg_message(
        MediaContent(
            type="video",
            attachments=(
                Attachment(
                    media_id="BAADAQADBgADgtFRRPFTAAHxLVw76wI",
                    mime_type="video/mp4",
                    size=257507,
                    width=360,
                    height=640,
                    duration=1,
                ),
            ),
        ),
        "3527065:86",
        900946526,
        "@Nicpottier",
        at(1493843364),
    ),
    "telegram/courier-voice.json": tg_message(
        MediaContent(
            type="audio",
            attachments=(
                Attachment(
                    media_id="AwADAQADCQADgtFRRGn8KrC-0D_MAg", mime_type="audio/ogg", size=4288, duration=1
                ),
            ),
            voice=True,
        ),
        "3527065:91",
        900946531,
        "@Nicpottier",
        at(1493844646),
    ),
    # Mini App data: the JSON-in-a-string is kept as it came and parsed into `response`.
    "telegram/courier-web-app-data.json": tg_message(
        ChoiceContent(
            choice="flow",
            title="Register",
            payload='{"first_name": "Bob", "age": "32"}',
            response={"first_name": "Bob", "age": "32"},
        ),
        "3527065:97",
        900946537,
        "@Nicpottier",
        at(1493845755),
    ),
    # Twilio: a short code (no '+') is our number here.
    "twilio/courier-messaging-service-inbound-shortcode.json": tw_message(
        TextContent(text="John Cruz"), account="384387", sid="SMbbf29aeb9d380ce2a1c0ae4635ff9dab"
    ),
    # No Body at all, no MediaContentType: the URL's extension says image.
    "twilio/courier-mms-inbound-no-body.json": tw_message(
        MediaContent(type="image", attachments=(Attachment(url="cat.jpg"), Attachment(url="dog.jpg")))
    ),
    "twilio/courier-mms-inbound-with-body.json": tw_message(
        MediaContent(type="image", attachments=MMS, text="Msg")
    ),
    # Looks like base64: still the customer's text, never decoded.
    "twilio/courier-sms-inbound-base64-body.json": tw_message(
        TextContent(text="QmFubm9uIEV4cGxhaW5zIFRoZSBXb3JsZCAuLi4K4oCcVGhlIENhbXAgb2YgdGhlIFNhaW50c+KA")
    ),
    # ButtonText on plain SMS (no buttons there): ignored, the Body is the message.
    "twilio/courier-sms-inbound-buttontext.json": tw_message(TextContent(text="Msg")),
    "twilio/courier-sms-inbound.json": tw_message(TextContent(text="Msg")),
    "twilio/courier-status-delivered.json": unroutable_status,
    "twilio/courier-status-failed-21610.json": unroutable_status,
    "twilio/courier-status-failed-63018.json": unroutable_status,
    "twilio/courier-status-read.json": unroutable_status,
    "twilio/courier-status-sent-messaging-service.json": sent_through_service,
    "twilio/courier-whatsapp-inbound-button.json": tw_message(
        ChoiceContent(choice="button", title="Confirm"),
        account="whatsapp:+12028831111",
        contact="whatsapp:+14133881111",
    ),
    "twilio/courier-whatsapp-inbound-external-user-id.json": tw_message(
        TextContent(text="Msg"), account="whatsapp:+12028831111", contact="whatsapp:+14133881111"
    ),
    # From is a business-scoped user id, not a phone number: no handle to show.
    "twilio/courier-whatsapp-inbound-from-bsuid.json": tw_message(
        TextContent(text="Msg"), account="whatsapp:+12028831111", contact="whatsapp:US.1234", handle=None
    ),
    "twilio/courier-whatsapp-inbound.json": tw_message(
        TextContent(text="Msg"), account="whatsapp:+12028831111", contact="whatsapp:+14133881111"
    ),
}


def test_every_published_fixture_has_an_expectation() -> None:
    names = {f"{path.parent.name}/{path.name}" for _, path in PROVIDER_FILES}
    assert names - set(EXPECTED) == set(), "add an expected outcome for new fixtures"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_published_fixture_gives_what_it_represents(name: str) -> None:
    kind, filename = name.split("/")
    path = PROVIDER_FIXTURES / kind / filename
    assert path.is_file(), f"missing fixture {path}"
    EXPECTED[name](run(kind, path))


def test_twilio_status_fixtures_parse_once_routable() -> None:
    # The same published callbacks with the From Twilio always sends: receipts, with their codes.
    expected = {
        "courier-status-delivered.json": ("delivered", None),
        "courier-status-failed-21610.json": ("failed", "21610"),
        "courier-status-failed-63018.json": ("failed", "63018"),
        "courier-status-read.json": ("read", None),
    }
    for name, (status, code) in expected.items():
        fields = json.loads((PROVIDER_FIXTURES / "twilio" / name).read_bytes())
        fields.setdefault("From", "+12028839999")
        body = urllib.parse.urlencode(fields).encode()
        event = one(normalize(make_adapter("twilio"), body, TWILIO_URL))
        assert isinstance(event, ReceiptEvent)
        assert event.account_id == "+12028839999"
        assert event.contact_id == fields.get("To", "")
        assert event.status == status
        assert event.message_ids == ("SMe287d7109a5a925f182f0e07fe5b223b",)
        if code is None:
            assert event.error is None
        else:
            assert event.error is not None and event.error.code == code and event.error.title


# --- ids beyond 32 bits survive as exact strings ------------------------------------------------


def test_ids_beyond_32_bits_survive_as_exact_strings() -> None:
    path = OWN_FIXTURES / "telegram" / "group-text-reply.json"
    event = one(run("telegram", path))
    assert isinstance(event, MessageEvent)
    assert event.contact_id == "-1001234567890123"
    assert event.message_id == "-1001234567890123:2147483700"
    assert event.reply_to == "-1001234567890123:2147483600"
    assert event.event_id == "update:987654321012"
    dumped = json.loads(EVENTS.dump_json(event))
    assert dumped["contact_id"] == "-1001234567890123"  # a string in JSON: no float rounding
    assert dumped["message_id"] == "-1001234567890123:2147483700"
    # Above 2**53 too: a JavaScript number would round these.
    big = {
        "update_id": 2**53 + 1,
        "message": {
            "message_id": 2**40 + 3,
            "chat": {"id": -(2**62), "title": "huge", "type": "supergroup"},
            "date": 1717171717,
            "text": "x",
        },
    }
    [event] = normalize(make_adapter("telegram"), json.dumps(big).encode(), TELEGRAM_URL).events
    assert isinstance(event, MessageEvent)
    assert event.event_id == f"update:{2**53 + 1}"
    assert event.message_id == f"{-(2**62)}:{2**40 + 3}"
    assert event.contact_id == str(-(2**62))


# --- the registry and the protocol ---------------------------------------------------------------


@pytest.mark.parametrize(("kind", "cls"), [("telegram", TelegramAdapter), ("twilio", TwilioAdapter)])
def test_registered_adapters_implement_the_protocol(kind: str, cls: type) -> None:
    adapter = registered_adapter(kind)
    assert type(adapter) is cls
    assert adapter.kind == kind
    assert isinstance(adapter, ChannelAdapter)


def test_repr_hides_the_raw_payload() -> None:
    for kind, path in (
        ("telegram", PROVIDER_FIXTURES / "telegram" / "courier-text.json"),
        ("twilio", PROVIDER_FIXTURES / "twilio" / "courier-sms-inbound.json"),
    ):
        [event] = run(kind, path).events
        for text in (repr(event), str(event)):
            assert "raw=" not in text
            assert "FromCity" not in text and "first_name" not in text


# --- robustness: mangled payloads never crash a webhook ----------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
TELEGRAM_SEEDS = [
    json.loads(path.read_bytes()) for kind, path in ALL_FILES if kind == "telegram" and path.is_file()
]
TWILIO_SEEDS = [
    json.loads(path.read_bytes()) for kind, path in ALL_FILES if kind == "twilio" and path.is_file()
]


def _mangle(value: object, path: list[int], replacement: object) -> object:
    """``value`` with the node chosen by ``path`` replaced (a random walk down dicts and lists)."""
    if not path or not isinstance(value, dict | list) or not value:
        return replacement
    keys = list(value) if isinstance(value, dict) else list(range(len(value)))
    key = keys[path[0] % len(keys)]
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[key] = _mangle(value[key], path[1:], replacement)  # type: ignore[index]
    return copy


def _check(result: Normalized) -> None:
    for event in result.events:
        assert EVENTS.validate_json(EVENTS.dump_json(event)) == event


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(TELEGRAM_SEEDS),
    path=st.lists(st.integers(min_value=0, max_value=50), max_size=8),
    replacement=JSON_VALUES,
)
def test_mangled_telegram_updates_never_raise(seed: object, path: list[int], replacement: object) -> None:
    body = json.dumps(_mangle(seed, path, replacement)).encode()
    _check(normalize(make_adapter("telegram"), body, TELEGRAM_URL))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(TWILIO_SEEDS),
    drop=st.lists(st.integers(min_value=0, max_value=40), max_size=4),
    extra=st.dictionaries(
        st.sampled_from(
            [
                "Body",
                "NumMedia",
                "MediaUrl0",
                "MediaContentType0",
                "MessageStatus",
                "SmsStatus",
                "From",
                "To",
                "Latitude",
                "Longitude",
                "ButtonText",
                "ErrorCode",
                "RawDlrDoneDate",
                "MessageSid",
            ]
        )
        | st.text(max_size=8),
        st.text(max_size=12),
        max_size=4,
    ),
)
def test_mangled_twilio_forms_never_raise(
    seed: dict[str, Any], drop: list[int], extra: dict[str, str]
) -> None:
    fields = dict(seed)
    keys = list(fields)
    for index in drop:
        if keys:
            fields.pop(keys[index % len(keys)], None)
    fields.update(extra)
    body = urllib.parse.urlencode(fields, doseq=True).encode()
    _check(normalize(make_adapter("twilio"), body, TWILIO_URL))


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(CHANNELS),
    body=st.binary(max_size=200) | JSON_VALUES.map(lambda v: json.dumps(v).encode()),
)
def test_arbitrary_bodies_never_raise(kind: str, body: bytes) -> None:
    _check(normalize(make_adapter(kind), body, url_of(kind)))
