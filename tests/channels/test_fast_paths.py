"""The parsing fast paths (issue 15, "Parsing speed") decide exactly as the code they replaced.

- ``load_body`` reads with pydantic's JSON reader where it can, and must give what the strict
  ``json.loads`` reader gives (or refuse what it refuses): overflowing numbers, lone surrogates,
  BOMs, UTF-16, deep nesting and huge integers included.
- ``form_pairs`` is ``urllib.parse.parse_qsl(text, keep_blank_values=True)``.
- ``event_time`` hands pydantic an int timestamp where ``to_utc`` would build the datetime: the
  event must be the same, and serialize to the same JSON.
- ``fingerprint`` is the canonical ``json.dumps`` it always was (event ids depend on it).
- ``normalize`` keeps each event's JSON (``Normalized.encoded``), which ``bus.publish`` sends as is.
"""

from __future__ import annotations

import json
import math
import time
import urllib.parse
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import bus, channels
from shared.channels.payload import event_time, fingerprint, form_pairs, load_body, to_utc
from shared.errors import ParseError
from shared.inbound import normalize
from shared.models import ReceiptEvent
from shared.models.events import build
from tests.channels import PROVIDER_FIXTURES

SETTINGS = settings(
    max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(text)
    return value


def strict(body: bytes) -> object:
    """What load_body always did: json.loads with NaN/Infinity and overflowing numbers refused."""
    try:
        data = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):
        return "refused"
    return data if isinstance(data, dict) else "refused"


def fast(body: bytes) -> object:
    try:
        return load_body(body)
    except ParseError:
        return "refused"


def same(a: object, b: object) -> bool:
    """Equal, with the same types and key order all the way down (1 is not 1.0, -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)  # type: ignore[index]
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    if isinstance(a, float):
        return repr(a) == repr(b)
    return a == b


EDGE_BODIES = [
    b'{"a":1e400}',
    b'{"a":-1E+400}',
    b'{"a":[1,{"b":1.5e999}]}',
    b'{"a":1e400 }',
    b'{"a":1e400\n}',
    b'{"a":[1e400]}',
    b'{"a":1.5E+00400,"b":1}',
    b'{"a":1e4000}',
    b'{"a":"x1e400y","b":1e40}',
    b'{"a":1e308}',
    b'{"a":2.5e-400}',
    b'{"a":"1e400"}',
    b'{"sha256":"dc4124acb300e5dcc54a0f822a301ae99944db"}',
    b'{"a":' + b"1" * 400 + b"}",
    b'{"a":' + b"1" * 5000 + b"}",
    b'{"a":' + b"1" * 320 + b".5}",
    b'{"a":' + b"1" * 150 + b".5e99}",
    b'{"a":NaN}',
    b'{"a":Infinity}',
    b'{"a":"\\ud800"}',
    b'{"a":"\\ud83d\\ude00"}',
    b'{"a":"\xed\xa0\x80"}',
    b'{"a":"\xff"}',
    b'\xef\xbb\xbf{"a":1}',
    '{"a":"é"}'.encode("utf-16"),
    '{"a":"é"}'.encode("utf-32-le"),
    b'{"a":1,"a":2,"b":3}',
    b'{"b":1,"a":2,"b":3}',
    b'{"a":-0.0,"b":-0,"c":1.0,"d":1E2}',
    b'{"a":"x\ty"}',
    b'{"a":1,}',
    b'{"a":1}x',
    b"[1,2]",
    b'"text"',
    b"",
    b'{"a":' + b"[" * 150 + b"]" * 150 + b"}",
    b'{"a":' + b"[" * 300 + b"]" * 300 + b"}",
    b'{"a":' + b"[" * 2000 + b"]" * 2000 + b"}",
]


@pytest.mark.parametrize("body", EDGE_BODIES, ids=range(len(EDGE_BODIES)))
def test_load_body_decides_as_the_strict_reader(body: bytes) -> None:
    assert same(fast(body), strict(body))


def test_load_body_reads_every_provider_payload_as_the_strict_reader() -> None:
    paths = sorted(PROVIDER_FIXTURES.glob("*/*.json"))
    assert paths
    for path in paths:
        assert same(fast(path.read_bytes()), strict(path.read_bytes())), path.name


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.sampled_from(["\ud800", "a\udc00b", "\u2028", "e999", "1e400"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@SETTINGS
@given(value=st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=5), ascii_only=st.booleans())
def test_load_body_reads_any_json_object_as_the_strict_reader(
    value: dict[str, Any], ascii_only: bool
) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert same(fast(body), strict(body))


NUMBER_TEXT = st.from_regex(r"-?(0|[1-9][0-9]{0,400})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,4})?", fullmatch=True)


@SETTINGS
@given(number=NUMBER_TEXT)
def test_load_body_reads_any_number_as_the_strict_reader(number: str) -> None:
    body = b'{"n":' + number.encode() + b',"id":"ae99944db"}'
    assert same(fast(body), strict(body))


@SETTINGS
@given(body=st.binary(max_size=60), prefix=st.sampled_from([b'{"a":', b'{"a":"', b'{"a":[1e', b""]))
def test_load_body_refuses_what_the_strict_reader_refuses(body: bytes, prefix: bytes) -> None:
    candidate = prefix + body
    assert same(fast(candidate), strict(candidate))


FORM_TEXT = st.lists(
    st.sampled_from(
        ["a", "b", "=", "&", "+", "%", "2", "B", "%2B", "%26", "%C3%A9", "%e9", "%zz", " ", "é", ";"]
    ),
    max_size=16,
).map("".join)


@SETTINGS
@given(text=FORM_TEXT)
def test_form_pairs_is_parse_qsl_keeping_blank_values(text: str) -> None:
    assert form_pairs(text) == urllib.parse.parse_qsl(text, keep_blank_values=True)


def _receipt(occurred_at: object) -> ReceiptEvent:
    fields = {"channel": "whatsapp", "account_id": "1", "contact_id": "2", "event_id": "3", "raw": {}}
    return build(ReceiptEvent, {**fields, "status": "read", "occurred_at": occurred_at})


NOW = int(time.time())
TIMESTAMPS = st.one_of(
    st.integers(min_value=-(10**3), max_value=10**14),
    st.integers(min_value=946_684_000, max_value=NOW + 200_000),
    st.integers(min_value=946_684_000_000, max_value=(NOW + 200_000) * 1000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)


@SETTINGS
@given(value=st.one_of(TIMESTAMPS, TIMESTAMPS.map(str), TIMESTAMPS.map(lambda v: f" {v} ")))
def test_event_time_gives_the_event_to_utc_gives(value: object) -> None:
    expected = to_utc(value)
    given_time = event_time(value)
    assert (given_time is None) == (expected is None)
    if expected is not None:
        fast_event, event = _receipt(given_time), _receipt(expected)
        assert fast_event == event
        assert fast_event.occurred_at == expected
        assert fast_event.model_dump_json() == event.model_dump_json()


@SETTINGS
@given(value=JSON_VALUES)
def test_fingerprint_is_the_canonical_json_it_always_was(value: object) -> None:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    assert fingerprint(value) == canonical


URLS = {
    "telegram": "https://hooks.example.com/webhook-telegram?bot=111222333",
    "twilio": "https://hooks.example.com/webhook-twilio?via=%2B12028831111&to=%2B14133881111",
}


def provider_bodies() -> list[tuple[str, bytes]]:
    found = []
    for kind in channels.kinds():
        for path in sorted((PROVIDER_FIXTURES / kind).glob("*.json")):
            if path.name.startswith("out-") or "-item-" in path.name:
                continue
            raw = path.read_bytes()
            if kind == "twilio":
                raw = urllib.parse.urlencode(json.loads(raw), doseq=True).encode()
            found.append((kind, raw))
    return found


def test_normalize_keeps_each_events_json_for_the_publisher() -> None:
    seen = 0
    for kind, body in provider_bodies():
        result = normalize(channels.adapter(kind), body, URLS.get(kind, ""))
        assert len(result.encoded) == len(result.events)
        for event, data in zip(result.events, result.encoded, strict=True):
            assert data == event.model_dump_json().encode()
            seen += 1
    assert seen > 50


def test_publish_sends_the_json_normalize_made(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[list[bus.Message]] = []
    monkeypatch.setattr(bus, "publish_raw", lambda messages: sent.append(messages) or len(messages))
    kind, body = next((k, b) for k, b in provider_bodies() if k == "whatsapp")
    result = normalize(channels.adapter(kind), body, "")
    assert result.events
    marked = [data + b" " for data in result.encoded]  # what normalize made, told apart
    assert bus.publish(result.events, result.quarantined, encoded=marked) == len(result.events)
    assert [message[0] for message in sent[-1]] == marked
    assert [message[1:] for message in sent[-1]] == [bus.event_message(e)[1:] for e in result.events]
    # Not one JSON per event: each event is serialized again, as without encoded.
    bus.publish(result.events, encoded=marked[:-1] if len(marked) > 1 else [])
    assert [message[0] for message in sent[-1]] == [e.model_dump_json().encode() for e in result.events]


def _whatsapp_batch(contacts: list[dict[str, Any]]) -> bytes:
    message = {
        "id": "wamid.1",
        "from": "16505551234",
        "from_user_id": "US.77",
        "timestamp": "1454119029",
        "type": "text",
        "text": {"body": "hi"},
    }
    value = {"metadata": {"phone_number_id": "1"}, "contacts": contacts, "messages": [message]}
    entry = {"id": "9", "changes": [{"field": "messages", "value": value}]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


@pytest.mark.parametrize("others", [0, 20])
def test_whatsapp_items_carry_their_contacts_phone_first_indexed_or_not(others: int) -> None:
    """A message whose phone id and BSUID name two contacts carries both, the phone's first (its
    name is the message's), whether the change's contacts are scanned (a few) or indexed (many)."""
    by_user = {"profile": {"name": "By BSUID"}, "user_id": "US.77"}
    by_phone = {"profile": {"name": "By phone"}, "wa_id": "16505551234"}
    unrelated = [{"profile": {"name": f"other {i}"}, "wa_id": str(i)} for i in range(others)]
    adapter = channels.adapter("whatsapp")
    [item] = adapter.split(_whatsapp_batch([*unrelated, by_user, by_phone]), "")
    assert item["contacts"] == [by_phone, by_user]
    [event] = adapter.parse_item(item)
    assert event.contact_name == "By phone"  # type: ignore[union-attr]
