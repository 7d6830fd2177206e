"""The channels page's actions through agent_api (issue 18, part 3), against the emulators and the
provider sandbox: an admin tests, connects, rotates and disconnects a channel of every provider kind; a
bad token is refused with the provider's own error and changes nothing; the token is never stored in
Firestore (every document of the tenant is read); agents are refused; each action is audited."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local import demo
from shared import audit, cli, secrets, store
from shared.auth import Caller
from shared.channels.telegram import telegram_secret_token
from tests.support import LocalStack, agent_token, eventually

TENANT = demo.DEMO_TENANT
ADMIN_EMAIL = "channels-admin@demo.test"


@dataclass(frozen=True)
class Account:
    """A provider account as the page's form sends it, and what the provider calls a bad token."""

    kind: str
    external_id: str
    token: str
    new_token: str
    refusal: str  # the provider's error, as the refusal quotes it
    options: dict[str, str] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)


def _digits(prefix: int) -> str:
    return str(prefix + uuid.uuid4().int % 10**12)


def accounts() -> list[Account]:
    sid = "AC" + uuid.uuid4().hex
    bot = str(7_200_000_000 + uuid.uuid4().int % 10**8)
    page = _digits(4_000_000_000_000_000)
    return [
        Account(
            "messenger", page, f"EAApage{uuid.uuid4().hex}", f"EAAnew{uuid.uuid4().hex}", "Meta error 190"
        ),
        Account(
            "instagram",
            _digits(17_841_000_000_000_000),
            f"IGpage{uuid.uuid4().hex}",
            f"IGnew{uuid.uuid4().hex}",
            "Meta error 190",
            options={"pageId": page},
            details={"page_id": page},
        ),
        Account(
            "whatsapp",
            _digits(110_000_000_000_000),
            f"EAAwa{uuid.uuid4().hex}",
            f"EAAwanew{uuid.uuid4().hex}",
            "Meta error 190",
            options={"businessAccountId": "102000000000009"},
        ),
        Account("telegram", bot, f"{bot}:AA{uuid.uuid4().hex}", f"{bot}:BB{uuid.uuid4().hex}", "401"),
        Account(
            "twilio",
            "+1555" + str(uuid.uuid4().int % 10**7).zfill(7),
            uuid.uuid4().hex,
            uuid.uuid4().hex,
            "Twilio error 20003",
            options={"accountSid": sid},
            details={"account_sid": sid},
        ),
    ]


def call(stack: LocalStack, id_token: str, action: str, **body: Any) -> requests.Response:
    return requests.post(
        stack.function_urls["agent_api"],
        json={"action": action, **body},
        headers={"Authorization": f"Bearer {id_token}"},
        timeout=30,
    )


def account_body(account: Account, token: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": account.kind,
        "externalId": account.external_id,
        "token": token,
        **account.options,
        **extra,
    }


def secret_file() -> dict[str, str]:
    return dict(json.loads(Path(os.environ["SWITCHBOARD_LOCAL_SECRETS_FILE"]).read_text()))


def every_document(tenant_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every document under tenants/{tenant_id} (the tenant's own too) and every route, with its path."""
    db = store.client()
    tenant = db.collection("tenants").document(tenant_id)
    pending = [tenant]
    while pending:
        ref = pending.pop()
        snapshot = ref.get()
        if snapshot.exists:
            yield ref.path, snapshot.to_dict() or {}
        for collection in ref.collections():
            pending.extend(collection.list_documents())
    for route in db.collection("routes").stream():
        yield route.reference.path, route.to_dict() or {}


def assert_not_in_firestore(tenant_id: str, *tokens: str) -> int:
    read = 0
    for path, data in every_document(tenant_id):
        text = json.dumps(data, default=str)
        for token in tokens:
            assert token not in text, f"{path} holds a token"
            assert token[:-4] not in text or len(token) < 12, f"{path} holds most of a token"
        read += 1
    return read


@pytest.fixture
def admin(clean_stack: LocalStack) -> str:
    return agent_token(clean_stack, TENANT, ADMIN_EMAIL, role="admin", name="Ada Admin")


@pytest.mark.parametrize("which", ["messenger", "instagram", "whatsapp", "telegram", "twilio"])
def test_an_admin_tests_connects_rotates_and_disconnects_a_channel(
    clean_stack: LocalStack, admin: str, which: str
) -> None:
    account = next(a for a in accounts() if a.kind == which)
    clean_stack.sandbox.clear()
    channel_id = f"{account.kind}-{account.external_id}".replace("+", "")
    name = f"Our {account.kind}"

    # Not yet known to the provider: the test and the connect are refused with its own error, and
    # nothing is written.
    refused = call(clean_stack, admin, "test_channel", **account_body(account, account.token))
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] == "provider_refused"
    assert account.refusal in refused.json()["error"]["message"]
    refused = call(clean_stack, admin, "connect_channel", **account_body(account, account.token, name=name))
    assert refused.status_code == 400 and account.refusal in refused.json()["error"]["message"]
    assert store.get_channel(TENANT, channel_id) is None
    assert store.resolve_route(f"{account.kind}:{account.external_id}") is None
    assert secrets.channel_token_name(TENANT, channel_id) not in secret_file()

    clean_stack.sandbox.register_account(account.kind, account.external_id, account.token, **account.details)
    tested = call(clean_stack, admin, "test_channel", **account_body(account, account.token))
    assert tested.status_code == 200, tested.text
    assert tested.json()["ok"] is True and tested.json()["account"]["name"]
    assert store.get_channel(TENANT, channel_id) is None, "testing stores nothing"

    connected = call(clean_stack, admin, "connect_channel", **account_body(account, account.token, name=name))
    assert connected.status_code == 200, connected.text
    assert connected.json()["channelId"] == channel_id
    assert store.resolve_route(f"{account.kind}:{account.external_id}") == store.Route(
        TENANT, channel_id, account.details.get("account_sid")
    )
    assert secret_file()[secrets.channel_token_name(TENANT, channel_id)] == account.token
    channel = store.get_channel(TENANT, channel_id)
    assert channel["name"] == name and channel["connectedAt"]
    assert channel["credential"]["set"] is True and channel["credential"]["last4"] == account.token[-4:]
    if account.kind == "telegram":
        # The bot's webhook is this stack's webhook function, with the bot's derived secret token.
        (hook,) = [r for r in clean_stack.sandbox.requests("telegram") if r.path.endswith("/setWebhook")]
        assert (
            hook.json["url"] == f"{clean_stack.function_urls['webhook_telegram']}?bot={account.external_id}"
        )
        assert hook.json["secret_token"] == telegram_secret_token(
            clean_stack.secrets.telegram_webhook_secret, account.external_id
        )

    # Rotation: a token the provider refuses changes nothing; a good one replaces the secret.
    bad = call(clean_stack, admin, "rotate_channel", channelId=channel_id, token=account.new_token)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "provider_refused"
    assert secret_file()[secrets.channel_token_name(TENANT, channel_id)] == account.token
    clean_stack.sandbox.register_account(
        account.kind, account.external_id, account.new_token, **account.details
    )
    rotated = call(clean_stack, admin, "rotate_channel", channelId=channel_id, token=account.new_token)
    assert rotated.status_code == 200, rotated.text
    assert secret_file()[secrets.channel_token_name(TENANT, channel_id)] == account.new_token
    assert store.get_channel(TENANT, channel_id)["credential"]["last4"] == account.new_token[-4:]
    assert store.get_channel(TENANT, channel_id)["health"]["tokenRotatedAt"]

    page = account.details.get("page_id") or account.external_id
    if account.kind in ("messenger", "instagram"):
        assert clean_stack.sandbox.subscribed_fields(page), "connecting subscribed our app to the Page"
    gone = call(clean_stack, admin, "disconnect_channel", channelId=channel_id)
    assert gone.status_code == 200, gone.text
    assert gone.json()["routeDeleted"] is True and gone.json()["secretDeleted"] is True
    assert gone.json()["providerWarning"] is None
    if account.kind in ("messenger", "instagram"):
        assert clean_stack.sandbox.subscribed_fields(page) == [], "Meta no longer sends the Page's webhooks"
    assert store.resolve_route(f"{account.kind}:{account.external_id}", fresh=True) is None
    assert secrets.channel_token_name(TENANT, channel_id) not in secret_file()
    after = store.get_channel(TENANT, channel_id)
    assert after["disconnectedAt"] and "credential" not in after
    assert cli.channel_verdict(after, datetime.now(UTC))[0] == "disconnected"

    # Every action was audited, and no document of the tenant (nor any route) holds either token.
    actor = Caller(uid="x", tenant_id=TENANT, role="admin")
    logged = [(e["action"], e["target"]["id"]) for e in audit.entries(actor)]
    assert logged == [
        ("channel.disconnect", channel_id),
        ("channel.rotate", channel_id),
        ("channel.connect", channel_id),
    ]
    assert assert_not_in_firestore(TENANT, account.token, account.new_token) > 10


def test_agents_are_refused_every_channel_action(clean_stack: LocalStack) -> None:
    agent = agent_token(clean_stack, TENANT, "channels-agent@demo.test")
    clean_stack.sandbox.clear()
    account = accounts()[0]
    clean_stack.sandbox.register_account(account.kind, account.external_id, account.token)
    for action, body in (
        ("test_channel", account_body(account, account.token)),
        ("connect_channel", account_body(account, account.token, name="Mine")),
        ("rotate_channel", {"channelId": "messenger-main", "token": account.token}),
        ("reconnect_channel", {"channelId": "messenger-main"}),
        ("disconnect_channel", {"channelId": "messenger-main"}),
    ):
        answer = call(clean_stack, agent, action, **body)
        assert answer.status_code == 403, (action, answer.text)
    assert store.resolve_route("messenger:1000000000000001") == store.Route(TENANT, "messenger-main")
    assert store.get_channel(TENANT, f"messenger-{account.external_id}") is None
    assert clean_stack.sandbox.requests("messenger") == [], "an agent's request never reaches the provider"


def test_an_account_of_another_workspace_is_refused_without_naming_it(
    clean_stack: LocalStack, admin: str
) -> None:
    other = demo.OTHER_CHANNELS[0]  # the other tenant's WhatsApp number
    answer = call(
        clean_stack,
        admin,
        "connect_channel",
        kind=other.kind,
        externalId=other.external_id,
        token=other.token,
        name="Not ours",
    )
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "channel_conflict"
    assert demo.OTHER_TENANT not in answer.text
    assert store.resolve_route(f"{other.kind}:{other.external_id}") == store.Route(
        demo.OTHER_TENANT, other.channel_id
    )


def test_a_malformed_request_is_a_400_and_the_token_is_not_echoed(
    clean_stack: LocalStack, admin: str
) -> None:
    token = f"EAAsecret{uuid.uuid4().hex}"
    for body in (
        {"kind": "messenger", "externalId": "1/2", "token": token, "name": "x"},
        {"kind": "instagram", "externalId": "178", "token": token, "name": "x"},  # needs its Page
        {"kind": "messenger", "externalId": "1", "token": token, "name": "x", "accountSid": "AC1"},
        {"kind": "pigeon", "externalId": "1", "token": token, "name": "x"},
        {"kind": "messenger", "externalId": "1", "token": token, "name": "x", "password": "x"},
    ):
        answer = call(clean_stack, admin, "connect_channel", **body)
        assert answer.status_code == 400, (body, answer.text)
        assert token not in answer.text


def test_reconnect_subscribes_again_with_the_stored_token(clean_stack: LocalStack, admin: str) -> None:
    account = accounts()[0]
    clean_stack.sandbox.register_account(account.kind, account.external_id, account.token)
    connected = call(clean_stack, admin, "connect_channel", **account_body(account, account.token, name="P"))
    channel_id = connected.json()["channelId"]
    clean_stack.sandbox.clear()
    again = call(clean_stack, admin, "reconnect_channel", channelId=channel_id)
    assert again.status_code == 200 and again.json()["subscribed"] is True, again.text
    paths = [r.path for r in clean_stack.sandbox.requests("messenger")]
    assert any(p.endswith(f"/{account.external_id}/subscribed_apps") for p in paths)
    call(clean_stack, admin, "disconnect_channel", channelId=channel_id)
    missing = call(clean_stack, admin, "reconnect_channel", channelId=channel_id)
    assert missing.status_code == 409 and missing.json()["error"]["code"] == "token_missing"


def test_disconnecting_a_page_unsubscribes_it_unless_another_channel_uses_it_and_meta_failing_never_blocks(
    clean_stack: LocalStack, admin: str
) -> None:
    clean_stack.sandbox.clear()
    messenger, instagram = accounts()[0], accounts()[1]
    page = messenger.external_id
    instagram = Account(
        "instagram", instagram.external_id, messenger.token, "", "", {"pageId": page}, {"page_id": page}
    )
    clean_stack.sandbox.register_account("messenger", page, messenger.token)
    clean_stack.sandbox.register_account("instagram", instagram.external_id, messenger.token, page_id=page)
    for account in (messenger, instagram):
        body = account_body(account, messenger.token, name=f"Shop on {account.kind}")
        assert call(clean_stack, admin, "connect_channel", **body).status_code == 200
    messenger_id, instagram_id = f"messenger-{page}", f"instagram-{instagram.external_id}"

    # The Instagram account's Page still serves the Messenger channel: its subscription stays.
    kept = call(clean_stack, admin, "disconnect_channel", channelId=instagram_id)
    assert kept.status_code == 200 and "another connected channel uses it" in kept.json()["providerNote"]
    assert clean_stack.sandbox.subscribed_fields(page)
    assert not [r for r in clean_stack.sandbox.requests("messenger") if r.method == "DELETE"]

    # Meta refuses (the Page token lost pages_manage_metadata), then cannot answer at all: the
    # disconnection happens anyway, with the warning in the audit entry and the channel's health.
    clean_stack.sandbox.register_account("messenger", page, messenger.token, permissions="pages_messaging")
    refused = call(clean_stack, admin, "disconnect_channel", channelId=messenger_id)
    assert refused.status_code == 200, refused.text
    assert refused.json()["routeDeleted"] is True and refused.json()["secretDeleted"] is True
    assert "Meta error 200" in refused.json()["providerWarning"]
    assert clean_stack.sandbox.subscribed_fields(page), "Meta refused: still subscribed"
    health = store.get_channel(TENANT, messenger_id)["health"]
    assert health["lastError"]["kind"] == "disconnect_incomplete" and health["lastError"]["code"] == "200"
    assert store.resolve_route(f"messenger:{page}", fresh=True) is None
    entry = next(e for e in audit.entries(Caller(uid="x", tenant_id=TENANT, role="admin")))
    assert entry["action"] == "channel.disconnect" and "Meta error 200" in entry["details"]["warning"]

    clean_stack.sandbox.register_account("messenger", page, messenger.token)
    assert (
        call(clean_stack, admin, "reconnect_channel", channelId=messenger_id).status_code == 409
    )  # token gone
    body = account_body(messenger, messenger.token, name="Shop on messenger")
    assert call(clean_stack, admin, "connect_channel", **body).status_code == 200
    clean_stack.sandbox.fail_next("messenger", 2)  # Graph's "unexpected error, retry later" (HTTP 500)
    down = call(clean_stack, admin, "disconnect_channel", channelId=messenger_id)
    assert down.status_code == 200 and down.json()["routeDeleted"] is True, down.text
    assert "Meta error 2" in down.json()["providerWarning"]

    # Meta answering again: disconnecting a channel connected once more removes the subscription.
    assert call(clean_stack, admin, "connect_channel", **body).status_code == 200
    assert (
        call(clean_stack, admin, "disconnect_channel", channelId=messenger_id).json()["providerWarning"]
        is None
    )
    assert clean_stack.sandbox.subscribed_fields(page) == []


# --- staleness counts from connecting ----------------------------------------------------------------


def test_a_channel_connected_minutes_ago_is_not_stale(clean_stack: LocalStack, admin: str) -> None:
    account = accounts()[2]
    clean_stack.sandbox.register_account(account.kind, account.external_id, account.token)
    call(clean_stack, admin, "connect_channel", **account_body(account, account.token, name="New number"))
    now = datetime.now(UTC)
    rows = {row["channel"]: row for row in cli.channel_health_rows(TENANT, now)}
    fresh = rows[f"whatsapp-{account.external_id}"]
    assert (fresh["verdict"], fresh["why"]) == ("healthy", "connected, no webhook yet")
    # The demo's channels, seeded a moment ago, are not "stale: no webhook ever" either.
    assert all(row["verdict"] == "healthy" for row in rows.values()), rows
    # A day later without a webhook it is.
    later = cli.channel_health_rows(TENANT, now + timedelta(hours=25))
    assert {r["channel"]: r["verdict"] for r in later}[fresh["channel"]] == "stale"


def test_a_channel_from_before_connectedAt_counts_from_its_creation(clean_stack: LocalStack) -> None:
    store.update_channel(TENANT, "legacy", {"kind": "messenger", "externalId": "77", "name": "Legacy"})
    row = eventually(
        lambda: {r["channel"]: r for r in cli.channel_health_rows(TENANT, datetime.now(UTC))}["legacy"]
    )
    assert row["verdict"] == "healthy"


def test_silence_counts_from_the_last_reconnection() -> None:
    now = datetime.now(UTC)
    old_webhook = {"health": {"lastWebhookAt": now - timedelta(days=3)}}
    assert cli.channel_verdict({**old_webhook, "connectedAt": now - timedelta(days=4)}, now)[0] == "stale"
    assert (
        cli.channel_verdict({**old_webhook, "connectedAt": now - timedelta(minutes=2)}, now)[0] == "healthy"
    )
    assert cli.channel_verdict({"connectedAt": now, "disconnectedAt": now}, now)[0] == "disconnected"


def test_a_twilio_number_that_is_not_on_the_account_is_refused_before_anything_is_saved(
    clean_stack: LocalStack, admin: str
) -> None:
    twilio = next(a for a in accounts() if a.kind == "twilio")
    clean_stack.sandbox.register_account("twilio", twilio.external_id, twilio.token, **twilio.details)
    stranger = "+1555" + str((int(twilio.external_id[-7:]) + 1) % 10**7).zfill(7)
    for action in ("test_channel", "connect_channel"):
        answer = call(
            clean_stack,
            admin,
            action,
            **{**account_body(twilio, twilio.token, name="Not ours"), "externalId": stranger},
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "number_not_on_account"
        assert stranger in answer.json()["error"]["message"]
        assert twilio.options["accountSid"] in answer.json()["error"]["message"]
    assert store.resolve_route(f"twilio:{stranger}") is None
    assert store.get_channel(TENANT, f"twilio-{stranger}".replace("+", "")) is None
    listed = [
        r for r in clean_stack.sandbox.requests("twilio") if r.path.endswith("/IncomingPhoneNumbers.json")
    ]
    assert listed and listed[-1].query["PhoneNumber"] == [stranger]

    ours = call(clean_stack, admin, "test_channel", **account_body(twilio, twilio.token))
    assert ours.status_code == 200 and ours.json()["account"]["numberChecked"] is True, ours.text
