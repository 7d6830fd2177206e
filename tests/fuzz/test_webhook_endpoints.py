"""The webhook functions, through functions-framework's test client, fed correctly signed mutated
payloads: a parse problem never becomes a 500.

The only acceptable answers are 200 (nothing to publish), 503 (something to publish, and Pub/Sub is
deliberately unreachable here), 401 (the fuzzed request no longer names a signer we know: a Twilio
form without our AccountSid, a Telegram URL without one ``?bot=``), 403 and 413. Beyond the status,
the answer must agree with what ``normalize`` gives in-process: 200 exactly when the body gave no
event and no quarantine record.

Pub/Sub's publish timeout is 0.05 s here rather than the 0.5 s of the security tests: every body that
parses to something waits that long for its 503, and nothing listens on the port either way.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import channels
from shared.inbound import normalize
from tests.fuzz import corpus
from tests.security import webhooks

ACCEPTABLE = {200, 401, 403, 413, 503}
ENDPOINT_FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[str, Any]]:
    with webhooks.webhook_environment(publish_timeout_seconds=0.05):
        yield {kind: webhooks.webhook_client(kind) for kind in channels.kinds()}


def assert_answer_is_sound(kind: str, client: Any, request: webhooks.WebhookRequest) -> int:
    """POST ``request``; fail on a 500 (or any unexpected status), and on a 200/503 that disagrees
    with what the body normalizes to."""
    response = webhooks.post(client, request)
    status = response.status_code
    assert status in ACCEPTABLE, f"{kind} answered {status}: {response.data[:300]!r}"
    if status in (200, 503):
        query = urllib.parse.urlsplit(request.path).query
        result = normalize(channels.adapter(kind), request.body, webhooks.public_url(kind, query))
        published = len(result.events) + len(result.quarantined)
        assert status == (503 if published else 200), (status, published)
    if status == 401:
        assert kind in ("telegram", "twilio"), f"a correctly signed {kind} body was refused"
    return status


def test_the_fuzzing_harness_signs_correctly(clients: dict[str, Any]) -> None:
    # Control: unmutated seeds are accepted (never 401), so the fuzzing below reaches the parsers.
    for kind in corpus.JSON_CHANNELS:
        for seed in corpus.json_seeds(kind)[:3]:
            request = webhooks.signed(kind, corpus.encode_json(kind, seed))
            assert assert_answer_is_sound(kind, clients[kind], request) in (200, 503)
    for seed in corpus.form_seeds()[:3]:
        pairs = [("AccountSid", webhooks.TWILIO_ACCOUNT_SID)] + [p for p in seed if p[0] != "AccountSid"]
        request = webhooks.signed("twilio", corpus.encode_form(pairs))
        assert assert_answer_is_sound("twilio", clients["twilio"], request) in (200, 503)


@pytest.mark.parametrize("kind", ("messenger", "instagram", "whatsapp"))
@ENDPOINT_FUZZ
@given(data=st.data())
def test_signed_mutated_meta_payloads_never_get_a_500(
    clients: dict[str, Any], kind: str, data: st.DataObject
) -> None:
    payload = data.draw(corpus.mutated_json(kind), label="payload")
    assert_answer_is_sound(kind, clients[kind], webhooks.signed(kind, corpus.encode_json(kind, payload)))


@ENDPOINT_FUZZ
@given(payload=corpus.mutated_json("telegram"), query=corpus.telegram_query())
def test_signed_mutated_telegram_updates_never_get_a_500(
    clients: dict[str, Any], payload: object, query: str
) -> None:
    request = webhooks.signed("telegram", corpus.encode_json("telegram", payload), query)
    assert_answer_is_sound("telegram", clients["telegram"], request)


@ENDPOINT_FUZZ
@given(form=corpus.mutated_form(), ours=st.sampled_from((True, True, True, False)))
def test_signed_mutated_twilio_forms_never_get_a_500(
    clients: dict[str, Any], form: tuple[corpus.Pairs, bytes], ours: bool
) -> None:
    pairs, tail = form
    if ours:  # usually keep our account first, so the signature check passes and parsing runs
        pairs = [("AccountSid", webhooks.TWILIO_ACCOUNT_SID)] + [p for p in pairs if p[0] != "AccountSid"]
    assert_answer_is_sound(
        "twilio", clients["twilio"], webhooks.signed("twilio", corpus.encode_form(pairs, tail))
    )


@settings(ENDPOINT_FUZZ, max_examples=40)
@given(kind=st.sampled_from(corpus.JSON_CHANNELS + corpus.FORM_CHANNELS), body=st.binary(max_size=300))
def test_signed_arbitrary_bytes_never_get_a_500(clients: dict[str, Any], kind: str, body: bytes) -> None:
    assert_answer_is_sound(kind, clients[kind], webhooks.signed(kind, body))


@settings(ENDPOINT_FUZZ, max_examples=20)
@given(body=st.binary(max_size=200))
def test_twilio_json_bodies_signed_through_body_sha256_never_get_a_500(
    clients: dict[str, Any], body: bytes
) -> None:
    # Twilio's JSON webhooks sign the URL, which carries the body's SHA-256 (no form parameters).
    import hashlib

    query = "bodySHA256=" + hashlib.sha256(body).hexdigest()
    url = webhooks.public_url("twilio", query)
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Signature": webhooks.twilio_signature(url, []),
    }
    assert_answer_is_sound("twilio", clients["twilio"], webhooks.WebhookRequest(f"/?{query}", body, headers))


# --- bugs fuzzing found (tests/fuzz/test_channel_parsers.py), as the provider sees them ----------


def test_a_latitude_beyond_the_float_range_is_not_a_500(clients: dict[str, Any]) -> None:
    body = (
        b'{"object":"page","entry":[{"id":"1","time":1459991487970,"messaging":[{"sender":{"id":"2"},'
        b'"recipient":{"id":"1"},"timestamp":1459991487970,"message":{"mid":"m1","attachments":'
        b'[{"type":"location","payload":{"coordinates":{"lat":1' + b"0" * 400 + b',"long":2}}}]}}]}]}'
    )
    assert_answer_is_sound("messenger", clients["messenger"], webhooks.signed("messenger", body))


def test_half_an_emoji_in_a_message_is_not_a_500(clients: dict[str, Any]) -> None:
    body = webhooks.message_body("whatsapp", text="cut\\ud83d", name="A B", phone="15550001111")
    body = body.replace(b"cut\\\\ud83d", b"cut\\ud83d")  # the JSON escape itself, not an escaped backslash
    assert b"\\ud83d" in body and b"\\\\ud83d" not in body
    assert_answer_is_sound("whatsapp", clients["whatsapp"], webhooks.signed("whatsapp", body))


def test_a_deeply_nested_item_is_not_a_500(clients: dict[str, Any]) -> None:
    body = b'{"object":"whatsapp_business_account","entry":[' + b"[" * 400 + b"]" * 400 + b"]}"
    assert_answer_is_sound("whatsapp", clients["whatsapp"], webhooks.signed("whatsapp", body))
