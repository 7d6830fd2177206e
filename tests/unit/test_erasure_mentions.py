"""Which raw payloads an erasure looks for the contact in (shared/erasure.py): a provider id counts
only as a whole token, a Twilio address also as its bare number, and ids too short to be told from
other numbers are not looked for."""

from __future__ import annotations

from shared.erasure import provider_ids, token_pattern


def test_an_id_is_found_as_a_whole_token_only() -> None:
    pattern = token_pattern(["15551234567"])
    assert pattern is not None
    assert pattern.search('{"From": "whatsapp:+15551234567"}')
    assert pattern.search('{"wa_id": "15551234567", "x": 1}')
    assert not pattern.search('{"wa_id": "155512345678"}')
    assert not pattern.search('{"id": "915551234567"}')
    assert not pattern.search('{"mid": "m_15551234567abc"}')


def test_short_or_empty_ids_are_not_looked_for() -> None:
    assert token_pattern(["", None, "1234"]) is None
    pattern = token_pattern(["1234", "7000123"])
    assert pattern is not None and not pattern.search('"1234"') and pattern.search('"7000123"')


def test_a_prefixed_address_is_also_its_number() -> None:
    contact = {"externalId": "whatsapp:+15557654321"}
    conversations = [("c1", {"contactExternalId": "whatsapp:+15557654321"})]
    assert provider_ids(contact, conversations) == {"whatsapp:+15557654321", "+15557654321"}
    assert provider_ids(None, [("c2", {"contactExternalId": "15550001111"})]) == {"15550001111"}
