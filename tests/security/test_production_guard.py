"""Production never runs with an emulator: no unsigned ID token, no bare queue header is ever trusted.

With the emulators, firebase-admin accepts unsigned ID tokens (FIREBASE_AUTH_EMULATOR_HOST), the
clients talk to whatever host the variables name, and deliver used to trust the Cloud Tasks emulator's
queue headers. ``SWITCHBOARD_ENV`` tells production from local (shared/config.py): Terraform sets
``production`` on every deployed function, the local stack leaves it unset. In production:

- loading the settings refuses, naming the variable and logging it, while any emulator host (or other
  local-only variable) is set, even empty; so does every function on its first request, before it
  touches a token or a header; nothing happens at import;
- with none set, the functions start and serve;
- deliver refuses queue headers without an OIDC token, even if an emulator host reached its settings.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask
import functions_framework
import pytest

import functions.deliver
from shared import config
from tests.security import webhooks

REPO = Path(__file__).resolve().parents[2]
MAIN = REPO / "main.py"
EMULATOR_VARIABLES = (
    "FIREBASE_AUTH_EMULATOR_HOST",
    "FIRESTORE_EMULATOR_HOST",
    "PUBSUB_EMULATOR_HOST",
    "SWITCHBOARD_TASKS_EMULATOR_HOST",
    "STORAGE_EMULATOR_HOST",
)
LOCAL_ONLY = tuple(variable.name for variable in config.ENVIRONMENT if variable.local_only)
HTTP_TARGETS = (
    *(f"webhook_{kind}" for kind in webhooks.KINDS),
    "send_message",
    "agent_api",
    "chat_api",
    "create_app",
    "deliver",
)
QUEUE_HEADERS = {"X-CloudTasks-QueueName": "outbound-whatsapp", "X-CloudTasks-TaskRetryCount": "0"}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A clean environment: no local-only variable, SWITCHBOARD_ENV unset (local), fresh settings."""
    for name in (*LOCAL_ONLY, "SWITCHBOARD_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("META_VERIFY_TOKEN", webhooks.META_VERIFY_TOKEN)
    monkeypatch.setenv("META_APP_SECRET", webhooks.META_APP_SECRET)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", webhooks.TELEGRAM_MASTER_SECRET)
    config.reset()
    yield monkeypatch
    config.reset()


@pytest.fixture
def production(environment: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    environment.setenv("SWITCHBOARD_ENV", config.PRODUCTION)
    return environment


def client(target: str) -> Any:
    """functions-framework's test client for ``target``, loaded from main.py as deployed."""
    return functions_framework.create_app(target=target, source=str(MAIN)).test_client()


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "switchboard.config" and record.levelno == logging.CRITICAL
    ]


# --- settings -----------------------------------------------------------------------------------------


def test_every_emulator_variable_is_declared_local_only_and_terraform_declares_production() -> None:
    assert set(EMULATOR_VARIABLES) <= set(LOCAL_ONLY)
    variables = {variable.name: variable for variable in config.ENVIRONMENT}
    assert variables["SWITCHBOARD_ENV"].default == config.LOCAL
    assert not variables["SWITCHBOARD_ENV"].local_only
    # tests/infra/test_infrastructure.py proves Terraform sets no local-only variable; here, that it
    # runs every deployed function in production configuration...
    main_tf = (REPO / "infra" / "main.tf").read_text()
    assert 'SWITCHBOARD_ENV                      = "production"' in main_tf
    # ...and that the local stack never does.
    for path in (REPO / "infra" / "local").glob("*.py"):
        assert "SWITCHBOARD_ENV" not in path.read_text(), path


@pytest.mark.parametrize("name", LOCAL_ONLY)
def test_production_settings_refuse_a_local_only_variable_and_name_it(
    production: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    production.setenv(name, "127.0.0.1:8085")
    with caplog.at_level(logging.CRITICAL), pytest.raises(config.UnsafeConfiguration, match=name):
        config.settings()
    assert any(name in message for message in refusals(caplog)), caplog.records
    # Not cached: the next request is refused too.
    with pytest.raises(config.UnsafeConfiguration, match=name):
        config.settings()


def test_an_empty_emulator_variable_is_refused_too(production: pytest.MonkeyPatch) -> None:
    # google-cloud-firestore takes a set-but-empty FIRESTORE_EMULATOR_HOST for an emulator.
    production.setenv("FIRESTORE_EMULATOR_HOST", "")
    with pytest.raises(config.UnsafeConfiguration, match="FIRESTORE_EMULATOR_HOST"):
        config.settings()


def test_every_offending_variable_is_named(production: pytest.MonkeyPatch) -> None:
    for name in EMULATOR_VARIABLES:
        production.setenv(name, "127.0.0.1:1")
    with pytest.raises(config.UnsafeConfiguration) as refused:
        config.settings()
    for name in EMULATOR_VARIABLES:
        assert name in str(refused.value)


def test_production_settings_load_without_emulator_variables(production: pytest.MonkeyPatch) -> None:
    loaded = config.settings()
    assert loaded.production
    assert loaded.environment == config.PRODUCTION
    assert not loaded.pubsub_emulator_host and not loaded.tasks_emulator_host


def test_the_local_configuration_keeps_its_emulators(environment: pytest.MonkeyPatch) -> None:
    for name in EMULATOR_VARIABLES:
        environment.setenv(name, "127.0.0.1:1")
    loaded = config.settings()
    assert not loaded.production
    assert loaded.tasks_emulator_host == "127.0.0.1:1"


def test_an_unknown_environment_is_refused(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("SWITCHBOARD_ENV", "prod")
    with pytest.raises(config.UnsafeConfiguration, match="SWITCHBOARD_ENV"):
        config.settings()


# --- the functions --------------------------------------------------------------------------------------


def test_importing_the_entry_points_reads_no_setting(
    production: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    production.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")
    with caplog.at_level(logging.CRITICAL):
        for target in HTTP_TARGETS:
            client(target)  # loads main.py as the platform does: no refusal yet, nothing read
    assert refusals(caplog) == []


@pytest.mark.parametrize("target", HTTP_TARGETS)
@pytest.mark.parametrize("name", EMULATOR_VARIABLES)
def test_every_function_refuses_its_first_request_in_production_with_an_emulator_variable(
    production: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, target: str, name: str
) -> None:
    app = client(target)
    production.setenv(name, "127.0.0.1:9099")
    with caplog.at_level(logging.CRITICAL):
        posted = app.post(
            "/v1/createPost" if target == "chat_api" else "/", data=b"{}", headers=QUEUE_HEADERS
        )
        fetched = app.get(
            "/?hub.mode=subscribe&hub.challenge=1&hub.verify_token=" + webhooks.META_VERIFY_TOKEN
        )
    assert (posted.status_code, fetched.status_code) == (500, 500)
    assert any(name in message for message in refusals(caplog))


def test_ingest_refuses_in_production_with_an_emulator_variable(
    production: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = client("ingest")
    production.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:8080")
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "1",
        "ce-source": "//pubsub.googleapis.com/projects/p/topics/inbound-events",
        "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "Content-Type": "application/json",
    }
    with caplog.at_level(logging.CRITICAL):
        answered = app.post("/", data=json.dumps({"message": {"data": ""}}), headers=headers)
    assert answered.status_code == 500  # Pub/Sub keeps the event and redelivers
    assert any("FIRESTORE_EMULATOR_HOST" in message for message in refusals(caplog))


def test_functions_start_in_production_without_emulator_variables(production: pytest.MonkeyPatch) -> None:
    query = f"hub.mode=subscribe&hub.challenge=77&hub.verify_token={webhooks.META_VERIFY_TOKEN}"
    handshake = client("webhook_whatsapp").get(f"/?{query}")
    assert (handshake.status_code, handshake.data) == (200, b"77")
    assert client("chat_api").get("/openapi.json").status_code == 200
    unauthenticated = client("send_message").post("/", data=b"{}", content_type="application/json")
    assert unauthenticated.status_code == 401  # serving: refusing the caller, not the configuration
    assert config.settings().production


# --- deliver -----------------------------------------------------------------------------------------------


def test_deliver_refuses_queue_headers_without_oidc_in_production(production: pytest.MonkeyPatch) -> None:
    answered = client("deliver").post("/", json={"messageId": "m"}, headers=QUEUE_HEADERS)
    assert answered.status_code == 403
    assert answered.get_json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(("environment_name", "trusted"), [(config.PRODUCTION, False), (config.LOCAL, True)])
def test_queue_headers_are_trusted_only_in_the_local_configuration(
    environment: pytest.MonkeyPatch, environment_name: str, trusted: bool
) -> None:
    # Even if an emulator host reached the settings (the guard makes this impossible), production
    # still demands the OIDC token: trust follows the configuration, not a variable's presence.
    emulated = dataclasses.replace(
        config.settings(), environment=environment_name, tasks_emulator_host="127.0.0.1:8123"
    )
    environment.setattr(functions.deliver, "settings", lambda: emulated)
    app = client("deliver").application
    with app.test_request_context("/", method="POST", headers=QUEUE_HEADERS):
        assert functions.deliver.caller_is_cloud_tasks(flask.request) is trusted
