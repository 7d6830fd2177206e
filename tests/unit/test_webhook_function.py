"""The webhook function through functions-framework's test client: what it answers when Pub/Sub is
away, what it logs, and how it splits large batches."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import functions_framework
import pytest

from infra.local.processes import free_port
from infra.local.simulate import meta_signature, text_payload
from shared import bus, config
from tests.support import REPO

SECRET = "unit-test-app-secret"


@pytest.fixture
def webhook_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    # Pub/Sub points at a port where nothing listens: every publish fails.
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("META_APP_SECRET", SECRET)
    monkeypatch.setenv("SWITCHBOARD_PUBLISH_TIMEOUT_SECONDS", "1")
    config.reset()
    bus.reset()
    yield functions_framework.create_app(
        target="webhook_whatsapp", source=str(REPO / "main.py")
    ).test_client()
    config.reset()
    bus.reset()


def signed_post(client: object, body: bytes) -> object:
    headers = {"X-Hub-Signature-256": meta_signature(body, SECRET), "Content-Type": "application/json"}
    return client.post("/", data=body, headers=headers)  # type: ignore[attr-defined]


def test_a_webhook_that_cannot_publish_answers_503_so_the_provider_retries(webhook_app: object) -> None:
    body = json.dumps(text_payload("whatsapp", "hello", "15550001111", "Ada")).encode()
    response = signed_post(webhook_app, body)
    assert response.status_code == 503
    assert b"Ada" not in response.data and b"hello" not in response.data


def test_info_logs_carry_no_message_text_names_or_phone_numbers(
    webhook_app: object, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(
        text_payload("whatsapp", "my secret order 4242", "15557654321", "Ada Lovelace")
    ).encode()
    with caplog.at_level(logging.INFO):
        signed_post(webhook_app, body)
        signed_post(webhook_app, b'{"object": "whatsapp_business_account", "entry": [{"changes": "x"}]}')
    logged = "\n".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    assert logged  # the webhook did log
    for private in ("my secret order", "15557654321", "Ada Lovelace", "Lovelace"):
        assert private not in logged


def test_large_batches_are_split_within_pubsub_request_limits() -> None:
    messages = [(b"x" * 100, {"a": "b"}, "") for _ in range(2500)]
    chunks = list(bus._chunks(messages))
    assert [len(c) for c in chunks] == [1000, 1000, 500]
    big = [(b"x" * 3_000_000, {}, "") for _ in range(5)]
    assert all(sum(len(m[0]) * 4 // 3 for m in c) <= bus.MAX_BYTES_PER_REQUEST for c in bus._chunks(big))
