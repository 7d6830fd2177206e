"""Every registered channel parser, fed mutated real payloads: ``normalize`` never raises, every event
it returns survives a JSON round trip through the ``InboundEvent`` union (which is what ingest reads
from Pub/Sub), and every quarantined item is strict JSON.

The product bugs found while building this fuzzing (by hypothesis, atheris and reading the
parsers: a float overflow, the 1e400 literal, lone surrogates, deep nesting) are all fixed; each is
reproduced at the bottom as a regression test.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from shared import bus, channels
from shared.inbound import Normalized, normalize
from shared.models import InboundEvent, QuarantinedItem
from tests.fuzz import corpus

EVENTS: TypeAdapter[InboundEvent] = TypeAdapter(InboundEvent)
FUZZ = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def assert_publishable(kind: str, result: Normalized) -> None:
    """What the webhook publishes and ingest decodes must survive the trip unchanged."""
    for event in result.events:
        assert event.channel == kind
        assert EVENTS.validate_json(EVENTS.dump_json(event)) == event
        bus.event_message(event)  # the exact Pub/Sub message the webhook would send
    for item in result.quarantined:
        assert item.channel == kind
        encoded = item.model_dump_json()
        assert QuarantinedItem.model_validate_json(encoded) == item
        json.dumps(item.raw, allow_nan=False)  # strict JSON: no NaN or Infinity smuggled in
        assert item.quarantine_id
        bus.quarantine_message(item)


def run(kind: str, body: bytes, url: str | None = None) -> Normalized:
    result = normalize(channels.adapter(kind), body, url or corpus.webhook_url(kind))
    assert_publishable(kind, result)
    return result


# --- the corpus covers every registered channel ----------------------------------------------------


def test_every_registered_channel_is_fuzzed_from_real_payloads() -> None:
    assert set(channels.kinds()) == set(corpus.JSON_CHANNELS) | set(corpus.FORM_CHANNELS)
    for kind in channels.kinds():
        assert corpus.seed_files(kind), kind


@pytest.mark.parametrize("kind", corpus.JSON_CHANNELS)
def test_unmutated_seeds_normalize_into_publishable_events(kind: str) -> None:
    produced = 0
    for seed in corpus.json_seeds(kind):
        result = run(kind, corpus.encode_json(kind, seed))
        produced += len(result.events)
    assert produced > 0, f"no {kind} seed gave an event: the fuzzing would start from nothing"


def test_unmutated_twilio_seeds_normalize_into_publishable_events() -> None:
    produced = sum(len(run("twilio", corpus.encode_form(list(seed))).events) for seed in corpus.form_seeds())
    assert produced > 0


# --- structural mutations ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", corpus.JSON_CHANNELS)
@FUZZ
@given(data=st.data())
def test_mutated_payloads_never_raise_and_round_trip(kind: str, data: st.DataObject) -> None:
    payload = data.draw(corpus.mutated_json(kind), label="payload")
    run(kind, corpus.encode_json(kind, payload))


@FUZZ
@given(form=corpus.mutated_form())
def test_mutated_twilio_forms_never_raise_and_round_trip(form: tuple[corpus.Pairs, bytes]) -> None:
    pairs, tail = form
    run("twilio", corpus.encode_form(pairs, tail))


@settings(FUZZ, max_examples=60)
@given(payload=corpus.mutated_json("telegram"), query=corpus.telegram_query())
def test_telegram_updates_at_odd_webhook_urls_never_raise(payload: object, query: str) -> None:
    run("telegram", corpus.encode_json("telegram", payload), corpus.webhook_url("telegram", query))


@settings(FUZZ, max_examples=40)
@given(kind=st.sampled_from(("messenger", "instagram", "whatsapp")), data=st.data())
def test_a_batch_gives_what_its_entries_give_one_by_one(kind: str, data: st.DataObject) -> None:
    # Entries of several mutated payloads in one body: a bad entry costs nothing to the others, so
    # the batch gives exactly what its entries give when posted one body each.
    payloads = data.draw(st.lists(corpus.mutated_json(kind, max_mutations=2), min_size=2, max_size=6))
    envelope = next((p for p in payloads if isinstance(p, dict)), {"object": "page"})
    groups = [p["entry"] for p in payloads if isinstance(p, dict) and isinstance(p.get("entry"), list)]
    parts = [run(kind, corpus.encode_json(kind, {**envelope, "entry": group})) for group in groups]
    batch = run(kind, corpus.encode_json(kind, {**envelope, "entry": [e for group in groups for e in group]}))
    assert [e.event_id for e in batch.events] == [e.event_id for part in parts for e in part.events]
    assert len(batch.quarantined) == sum(len(part.quarantined) for part in parts)


# --- bodies that are not what the provider sends ---------------------------------------------------


@settings(FUZZ, max_examples=100)
@given(kind=st.sampled_from(tuple(sorted(corpus.JSON_CHANNELS + corpus.FORM_CHANNELS))), data=st.data())
def test_truncated_and_corrupted_real_bodies_never_raise(kind: str, data: st.DataObject) -> None:
    if kind == "twilio":
        body = corpus.encode_form(list(data.draw(st.sampled_from(corpus.form_seeds()))))
    else:
        body = corpus.encode_json(kind, data.draw(st.sampled_from(corpus.json_seeds(kind))))
    cut = data.draw(st.integers(0, len(body)))
    junk = data.draw(st.binary(max_size=8))
    run(kind, body[:cut] + junk + body[cut + len(junk) :])


@settings(FUZZ, max_examples=60)
@given(kind=st.sampled_from(tuple(sorted(corpus.JSON_CHANNELS + corpus.FORM_CHANNELS))), body=st.binary())
def test_arbitrary_bytes_never_raise(kind: str, body: bytes) -> None:
    run(kind, body)


@pytest.mark.parametrize("kind", corpus.JSON_CHANNELS)
@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"null",
        b"[]",
        b"{}",
        b'"entry"',
        b"NaN",
        b'{"entry": NaN}',
        b'{"entry": [Infinity]}',
        b"\xef\xbb\xbf{}",  # a UTF-8 byte order mark
        b'{"entry": {}}',
        b'{"entry": "x"}',
        b'{"entry": [1, "x", null, [], {}]}',
        b'{"object": "page", "entry": [{"messaging": [1, "x", null, [], {}]}]}',
        b'{"object": "page", "entry": [{"standby": {"a": 1}}]}',
        b'{"entry": [{"changes": [1, "x", null, [], {}]}]}',
        b'{"entry": [{"changes": [{"field": "messages", "value": {"messages": [1, "x", []]}}]}]}',
        b'{"update_id": 1, "message": []}',
        b'{"update_id": "x", "message": {"chat": {"id": []}}}',
        b"[" * 5000 + b"]" * 5000,  # deeper than json.loads allows: refused as a body
        b'{"a": 1, "a": 2}',
    ],
    ids=lambda value: value[:40].decode("latin-1") if isinstance(value, bytes) else str(value),
)
def test_hostile_json_shapes_are_quarantined_or_ignored(kind: str, body: bytes) -> None:
    run(kind, body)


# --- bugs fuzzing found, each fixed and kept as a regression test ------------------------------


def _messenger_location(lat: str) -> bytes:
    return (
        '{"object":"page","entry":[{"id":"1","time":1459991487970,"messaging":[{"sender":{"id":"2"},'
        '"recipient":{"id":"1"},"timestamp":1459991487970,"message":{"mid":"m1","attachments":'
        '[{"type":"location","payload":{"coordinates":{"lat":' + lat + ',"long":2}}}]}}]}]}'
    ).encode()


def _whatsapp_text(body_json: str, extra: str = "0") -> bytes:
    return (
        '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",'
        '"value":{"metadata":{"phone_number_id":"9"},"messages":[{"from":"15550001111","id":"wamid.1",'
        '"timestamp":"1700000000","type":"text","text":{"body":'
        + body_json
        + '},"extra":'
        + extra
        + "}]}}]}]}"
    ).encode()


def test_a_location_with_a_float_sized_latitude_parses() -> None:
    # Control for float_overflow: 1e308 is fine; only integers beyond the float range break.
    result = run("messenger", _messenger_location("1" + "0" * 300))
    assert len(result.events) == 1


def test_a_location_latitude_beyond_the_float_range_is_quarantined_not_raised() -> None:
    result = run("messenger", _messenger_location("1" + "0" * 400))
    assert len(result.events) + len(result.quarantined) == 1


def test_a_whatsapp_location_beyond_the_float_range_is_quarantined_not_raised() -> None:
    body = _whatsapp_text('"x"').replace(
        b'"type":"text"', b'"type":"location","location":{"latitude":1' + b"0" * 400 + b',"longitude":1}'
    )
    result = run("whatsapp", body)
    assert len(result.events) + len(result.quarantined) == 1


def test_a_number_that_overflows_to_infinity_does_not_change_the_raw_payload() -> None:
    run("whatsapp", _whatsapp_text('"hello"', extra="1e400"))


def test_a_telegram_chat_id_that_overflows_to_infinity_is_quarantined_as_strict_json() -> None:
    # Found by tests/fuzz/atheris_harness.py: one byte of a real update turned into "352E675".
    body = corpus.encode_json("telegram", corpus.json_seeds("telegram")[0]).replace(b"3527065", b"352E675")
    assert b"352E675" in body
    run("telegram", body)


def test_a_text_with_half_an_emoji_can_be_published() -> None:
    run("whatsapp", _whatsapp_text('"truncated \\ud83d"'))


def test_nesting_below_the_known_limit_round_trips() -> None:
    run("whatsapp", _whatsapp_text('"x"', extra="[" * 150 + "]" * 150))


def test_a_deeply_nested_item_is_quarantined_at_the_webhook() -> None:
    # Was a known bug: ~190+ levels gave an event that pydantic's JSON parser refused in ingest.
    result = run("whatsapp", _whatsapp_text('"x"', extra="[" * 200 + "]" * 200))
    [item] = result.quarantined
    assert item.reason == "unstorable" and "nested more than" in item.error
    assert isinstance(item.raw, str)  # kept as JSON text: a string nests nothing


def test_a_very_deeply_nested_item_can_be_published() -> None:
    run("whatsapp", _whatsapp_text('"x"', extra="[" * 400 + "]" * 400))


def test_a_very_deeply_nested_quarantined_item_can_be_published() -> None:
    # An entry that is not an object is quarantined with its raw value: here 400 levels of lists.
    result = normalize(channels.adapter("whatsapp"), b'{"entry": [' + b"[" * 400 + b"]" * 400 + b"]}")
    assert len(result.quarantined) == 1
    bus.quarantine_message(result.quarantined[0])


def test_twilio_repeated_and_percent_garbled_keys_are_kept_as_text() -> None:
    body = b"MessageSid=SM1&From=%2B1555&To=%2B1666&Body=%FF&Body=two&%ZZ=1&MediaUrl%D9%A3=x"
    result = run("twilio", body)
    [event] = result.events
    assert event.content.text == "\ufffd"  # type: ignore[union-attr]  # the first Body, undecodable
