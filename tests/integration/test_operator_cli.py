"""The operator's tools (``python -m shared.cli``) against the real emulators, functions and the
provider sandbox: tenants, channels (Secret Manager's local stand-in, Graph subscriptions), token
rotation, agents, dead letters, quarantine and channel health.

Most commands run in-process (``shared.cli.main``): after ``clean_stack`` this process already points
at the stack, exactly as ``--env-file .local/stack.json`` would point it. One test runs the CLI as a
subprocess with ``--env-file`` and a real stdin pipe."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local import demo, payloads
from infra.local.stack import LocalStack
from shared import auth, channels, cli, ids, secrets, store
from shared.channels.telegram import telegram_secret_token
from shared.errors import OperatorError
from shared.models.status import rank
from tests.support import REPO, eventually, post_signed, post_webhook

pytestmark = pytest.mark.integration

DEMO_PAGE = next(c for c in demo.DEMO_CHANNELS if c.kind == "messenger")
SID = "AC" + "0" * 31 + "9"
SUBSCRIBED = (
    "messages,messaging_postbacks,message_deliveries,message_reads,message_reactions,"
    "message_echoes,messaging_referrals,standby"
)


@dataclass(frozen=True)
class Run:
    """One CLI run: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    @property
    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines() if line.startswith("{")]


CliRunner = Callable[..., Run]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """Run ``shared.cli.main(args)`` in this process with ``stdin`` piped in."""

    def invoke(*args: str, stdin: str = "") -> Run:
        capsys.readouterr()
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            code = cli.main(list(args))
        except SystemExit as exc:  # argparse refusing the arguments
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return invoke


def unique_digits() -> str:
    return str(3_000_000_000_000_000 + uuid.uuid4().int % 10**15)


def secret_file() -> dict[str, str]:
    return json.loads(Path(os.environ["SWITCHBOARD_LOCAL_SECRETS_FILE"]).read_text())


@dataclass(frozen=True)
class Page:
    """A Messenger channel connected through the CLI."""

    tenant: str
    channel: str
    page_id: str
    token: str


def new_tenant(run: CliRunner) -> str:
    tenant = f"shop-{uuid.uuid4().hex[:8]}"
    result = run("create-tenant", tenant, "--name", "Corner Shop", "--plan", "pro")
    assert result.code == 0, result.err
    return tenant


def connect_page(stack: LocalStack, run: CliRunner, tenant: str, channel: str = "page-main") -> Page:
    page_id = unique_digits()
    token = f"EAApage{uuid.uuid4().hex}"
    stack.sandbox.register_account("messenger", page_id, token)
    result = run(
        "connect-channel",
        tenant,
        channel,
        "--kind",
        "messenger",
        "--external-id",
        page_id,
        "--name",
        "Corner Shop Page",
        "--token-stdin",
        stdin=token + "\n",
    )
    assert result.code == 0, result.err
    return Page(tenant, channel, page_id, token)


def customer_writes(stack: LocalStack, page: Page, psid: str, text: str = "Is it in stock?") -> str:
    """A customer messages the page; return the conversation id once the message landed."""
    at = int(time.time() * 1000)
    body = {
        "object": "page",
        "entry": [
            {
                "id": page.page_id,
                "time": at,
                "messaging": [
                    {
                        "sender": {"id": psid},
                        "recipient": {"id": page.page_id},
                        "timestamp": at,
                        "message": {"mid": f"m_{uuid.uuid4().hex}", "text": text},
                    }
                ],
            }
        ],
    }
    assert post_webhook(stack, "messenger", body).status_code == 200
    conversation_id = ids.conversation_id(page.channel, psid)

    def landed() -> list[dict[str, Any]]:
        messages = store.conversation_ref(page.tenant, conversation_id).collection("messages").stream()
        return [m.to_dict() for m in messages if (m.to_dict() or {}).get("text") == text]

    eventually(landed, what="the customer's message in the new tenant")
    return conversation_id


def sign_in(stack: LocalStack, email: str, password: str) -> str:
    response = requests.post(
        f"http://{stack.auth_host}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=local",
        json={"email": email, "password": password, "returnSecureToken": True},
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["idToken"])


def invite(stack: LocalStack, run: CliRunner, tenant: str, role: str = "agent") -> tuple[str, str]:
    """Invite an agent with the CLI and sign in; return (uid, ID token)."""
    email = f"agent-{uuid.uuid4().hex[:8]}@shop.test"
    result = run(
        "invite-agent",
        "--tenant",
        tenant,
        "--email",
        email,
        "--name",
        "Sam Agent",
        "--role",
        role,
        "--password-stdin",
        stdin="correct-horse-battery\n",
    )
    assert result.code == 0, result.err
    uid = result.records[0]["uid"]
    return uid, sign_in(stack, email, "correct-horse-battery")


def reply(stack: LocalStack, id_token: str, conversation_id: str, text: str) -> str:
    response = requests.post(
        stack.function_urls["send_message"],
        headers={"Authorization": f"Bearer {id_token}"},
        json={
            "conversationId": conversation_id,
            "clientMessageId": uuid.uuid4().hex,
            "message": {"type": "text", "text": text},
        },
        timeout=15,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["messageId"])


def message_status(tenant: str, conversation_id: str, message_id: str, wanted: str) -> dict[str, Any]:
    stored = store.get_message(tenant, conversation_id, message_id)
    data = stored.data if stored else {}
    return data if data.get("status") == wanted else {}


# --- tenants and channels --------------------------------------------------------------------------


def test_a_tenant_is_created_once(clean_stack: LocalStack, run: CliRunner) -> None:
    tenant = new_tenant(run)
    stored = store.get_tenant(tenant)
    assert (stored["name"], stored["plan"], stored["kind"]) == ("Corner Shop", "pro", "support")
    assert stored["createdAt"] <= datetime.now(UTC)
    again = run("create-tenant", tenant, "--name", "Someone Else")
    assert again.code == 1 and "already exists" in again.err
    assert store.get_tenant(tenant)["name"] == "Corner Shop"
    assert run("create-tenant", "bad/id", "--name", "x").code == 2
    assert run("create-tenant", "ok-id", "--name", "x", "--plan", "platinum").code == 2


def test_connecting_a_page_routes_it_stores_the_token_and_subscribes_the_app(
    clean_stack: LocalStack, run: CliRunner
) -> None:
    clean_stack.sandbox.clear()
    tenant = new_tenant(run)
    page = connect_page(clean_stack, run, tenant)

    assert store.resolve_route(f"messenger:{page.page_id}") == store.Route(tenant, "page-main")
    channel = store.get_channel(tenant, "page-main")
    assert (channel["kind"], channel["externalId"], channel["name"]) == (
        "messenger",
        page.page_id,
        "Corner Shop Page",
    )
    assert channel["webhookSubscription"]["fields"] == SUBSCRIBED.split(",")
    assert secret_file()[secrets.channel_token_name(tenant, "page-main")] == page.token

    calls = [r for r in clean_stack.sandbox.requests() if r.path.endswith("/subscribed_apps")]
    assert [(c.method, c.path, c.status) for c in calls] == [
        ("POST", f"/v21.0/{page.page_id}/subscribed_apps", 200)
    ]
    assert calls[0].headers["authorization"] == f"Bearer {page.token}"
    assert calls[0].json == {"subscribed_fields": SUBSCRIBED}
    assert calls[0].response == {"success": True}
    listed = requests.get(
        f"{clean_stack.sandbox.base_url}/v21.0/{page.page_id}/subscribed_apps",
        headers={"Authorization": f"Bearer {page.token}"},
        timeout=10,
    ).json()
    assert listed["data"][0]["subscribed_fields"] == SUBSCRIBED.split(",")

    # The new channel's webhooks now land in the new tenant.
    conversation_id = customer_writes(clean_stack, page, "5550001")
    assert store.get_conversation(tenant, conversation_id)["channelId"] == "page-main"


def test_the_token_never_appears_in_the_output(clean_stack: LocalStack, run: CliRunner) -> None:
    tenant = new_tenant(run)
    page_id, token = unique_digits(), f"EAAsecret{uuid.uuid4().hex}"
    clean_stack.sandbox.register_account("messenger", page_id, token)
    args = ("connect-channel", tenant, "p", "--kind", "messenger", "--external-id", page_id, "--name", "P")
    result = run(*args, "--token-stdin", stdin=token)
    assert result.code == 0, result.err
    assert token not in result.out + result.err
    # Without --token-stdin the token has nowhere to come from: argparse refuses.
    assert run(*args).code == 2


def test_a_provider_refusal_is_reported_and_connecting_again_fixes_it(
    clean_stack: LocalStack, run: CliRunner
) -> None:
    tenant = new_tenant(run)
    page_id, token = unique_digits(), f"EAAlate{uuid.uuid4().hex}"
    args = ("connect-channel", tenant, "p", "--kind", "messenger", "--external-id", page_id, "--name", "P")
    # The token is tested with the provider (GET /{page-id}) before anything is stored.
    refused = run(*args, "--token-stdin", stdin=token)
    assert refused.code == 1
    assert "provider refused the token" in refused.err and "190" in refused.err
    assert store.get_channel(tenant, "p") is None
    assert secrets.channel_token_name(tenant, "p") not in secret_file()

    clean_stack.sandbox.register_account("messenger", page_id, token)  # the token becomes valid

    again = run(*args, "--token-stdin", stdin=token)
    assert again.code == 0, again.err
    assert store.get_channel(tenant, "p")["webhookSubscription"]["pageId"] == page_id


def test_a_refused_subscription_leaves_the_channel_stored_and_connecting_again_fixes_it(
    clean_stack: LocalStack, run: CliRunner
) -> None:
    tenant = new_tenant(run)
    account, page_id, token = unique_digits(), unique_digits(), f"IGtok{uuid.uuid4().hex}"
    # The token reads the Instagram account, but the Page named is not the account's: Graph refuses
    # the subscription after the channel was stored and routed, and the CLI says so.
    clean_stack.sandbox.register_account("instagram", account, token)
    args = ("connect-channel", tenant, "ig", "--kind", "instagram", "--external-id", account, "--name", "IG")
    failed = run(*args, "--page-id", page_id, "--token-stdin", stdin=token)
    assert failed.code == 1, failed.err
    assert "refused to connect it" in failed.err and "again" in failed.err
    assert store.resolve_route(f"instagram:{account}") == store.Route(tenant, "ig")
    assert "webhookSubscription" not in store.get_channel(tenant, "ig")

    clean_stack.sandbox.register_account("instagram", account, token, page_id=page_id)
    again = run(*args, "--page-id", page_id, "--token-stdin", stdin=token)
    assert again.code == 0, again.err
    assert store.get_channel(tenant, "ig")["webhookSubscription"]["pageId"] == page_id


def test_a_route_owned_by_another_channel_moves_only_with_force(
    clean_stack: LocalStack, run: CliRunner
) -> None:
    first, second = new_tenant(run), new_tenant(run)
    page = connect_page(clean_stack, run, first)
    args = (
        "connect-channel",
        second,
        "page",
        "--kind",
        "messenger",
        "--external-id",
        page.page_id,
        "--name",
        "X",
    )
    taken = run(*args, "--token-stdin", stdin=page.token)
    assert taken.code == 1 and f"routed to tenant {first}" in taken.err
    assert store.resolve_route(f"messenger:{page.page_id}") == store.Route(first, "page-main")
    moved = run(*args, "--token-stdin", "--force", stdin=page.token)
    assert moved.code == 0, moved.err
    assert store.resolve_route(f"messenger:{page.page_id}") == store.Route(second, "page")


def test_channel_arguments_are_checked_before_anything_is_written(
    clean_stack: LocalStack, run: CliRunner
) -> None:
    tenant = new_tenant(run)

    def connect(*extra: str, kind: str = "twilio", tenant_id: str = tenant) -> Run:
        base = (
            "connect-channel",
            tenant_id,
            "c1",
            "--kind",
            kind,
            "--external-id",
            "+15550100",
            "--name",
            "N",
        )
        return run(*base, *extra, "--token-stdin", stdin="tok")

    assert connect().code == 2  # twilio needs --account-sid
    assert connect("--account-sid", "AC1").code == 2  # not an account SID
    assert connect(kind="instagram").code == 2  # instagram needs --page-id
    assert connect("--account-sid", SID, kind="whatsapp").code == 2
    assert connect("--account-sid", SID, "--token-expires-at", "next tuesday").code == 2
    missing = connect("--account-sid", SID, tenant_id="no-such-tenant")
    assert missing.code == 1 and "does not exist" in missing.err
    assert run("connect-channel", tenant, "c1", "--kind", "twilio", "--external-id", "+1", "--name", "N",
               "--account-sid", SID, "--token-stdin", stdin="   \n").code == 2  # fmt: skip
    assert store.get_channel(tenant, "c1") is None
    assert secrets.channel_token_name(tenant, "c1") not in secret_file()


def test_a_twilio_number_keeps_its_account_sid_and_its_signed_webhooks_land(
    clean_stack: LocalStack, run: CliRunner
) -> None:
    tenant = new_tenant(run)
    number = f"+1555{uuid.uuid4().int % 10**7:07d}"
    account_sid = "AC" + uuid.uuid4().hex
    clean_stack.sandbox.register_account("twilio", number, "twilio-auth-token", account_sid=account_sid)
    result = run(
        "connect-channel",
        tenant,
        "sms",
        "--kind",
        "twilio",
        "--external-id",
        number,
        "--name",
        "SMS line",
        "--account-sid",
        account_sid,
        "--token-stdin",
        stdin="twilio-auth-token",
    )
    assert result.code == 0, result.err
    assert store.get_channel(tenant, "sms")["accountSid"] == account_sid
    # The route only accepts webhooks signed by the account that owns the number.
    assert store.resolve_route(f"twilio:{number}") == store.Route(tenant, "sms", signer=account_sid)
    stored = secret_file()
    assert stored[secrets.channel_token_name(tenant, "sms")] == "twilio-auth-token"
    assert stored[f"twilio-auth-token-{account_sid}"] == "twilio-auth-token"

    # Twilio signs with that auth token: the webhook verifies it and the message lands in the tenant.
    form = {
        "MessageSid": f"SM{uuid.uuid4().hex}",
        "AccountSid": account_sid,
        "From": "+15557770002",
        "To": number,
        "Body": "Do you deliver?",
        "NumMedia": "0",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    assert post_signed(clean_stack, "twilio", form).status_code == 200
    conversation_id = ids.conversation_id("sms", "+15557770002")
    summary = eventually(lambda: store.get_conversation(tenant, conversation_id), what="the SMS conversation")
    assert summary["channelId"] == "sms"


def test_a_telegram_bot_is_connected_with_its_webhook_and_secret_token(
    clean_stack: LocalStack, run: CliRunner
) -> None:
    clean_stack.sandbox.clear()
    tenant = new_tenant(run)
    bot_id = str(7_100_000_000 + uuid.uuid4().int % 10**8)
    token = f"{bot_id}:AA{uuid.uuid4().hex}"
    clean_stack.sandbox.register_account("telegram", bot_id, token)
    base = clean_stack.function_urls["webhook_telegram"]
    args = (
        "connect-channel",
        tenant,
        "bot",
        "--kind",
        "telegram",
        "--external-id",
        bot_id,
        "--name",
        "@shop_bot",
    )

    wrong_bot = run(*args, "--webhook-url", base, "--token-stdin", stdin="123:ABC")
    assert wrong_bot.code == 2 and "belongs to bot '123'" in wrong_bot.err
    no_url = run(*args, "--token-stdin", stdin=token)  # the local stack has no public base URL
    assert no_url.code == 2 and "SWITCHBOARD_PUBLIC_BASE_URL" in no_url.err
    assert store.get_channel(tenant, "bot") is None

    result = run(*args, "--webhook-url", base, "--token-stdin", stdin=token)
    assert result.code == 0, result.err
    assert store.resolve_route(f"telegram:{bot_id}") == store.Route(tenant, "bot")
    (call,) = [r for r in clean_stack.sandbox.requests("telegram") if r.path.endswith("/setWebhook")]
    assert call.path == f"/bot{token}/setWebhook" and call.status == 200
    assert call.json["url"] == f"{base}?bot={bot_id}"
    master = clean_stack.secrets.telegram_webhook_secret
    assert call.json["secret_token"] == telegram_secret_token(master, bot_id)
    assert store.get_channel(tenant, "bot")["webhookSubscription"]["url"] == call.json["url"]

    # Telegram now posts updates to that URL with that secret token: they land in the tenant.
    update = {
        "update_id": 910000001,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "text": "hello bot",
            "chat": {"id": 4242, "type": "private", "first_name": "Grace"},
            "from": {"id": 4242, "is_bot": False, "first_name": "Grace"},
        },
    }
    response = requests.post(
        call.json["url"],
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": call.json["secret_token"]},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    conversation_id = ids.conversation_id("bot", "4242")
    eventually(lambda: store.get_conversation(tenant, conversation_id), what="the Telegram conversation")


def test_a_build_without_a_providers_adapter_refuses_to_connect_its_channels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(OperatorError, match="cannot be connected by this build: no adapter"):
        cli.channel_adapter("pigeon")
    monkeypatch.setitem(channels.REGISTRY, "pigeon", "shared.channels.pigeon:PigeonAdapter")
    with pytest.raises(OperatorError, match=r"its adapter shared\.channels\.pigeon is not available"):
        cli.channel_adapter("pigeon")


# --- rotation -------------------------------------------------------------------------------------------


def test_a_rotated_channel_token_is_used_by_the_next_reply(clean_stack: LocalStack, run: CliRunner) -> None:
    tenant = new_tenant(run)
    page = connect_page(clean_stack, run, tenant)
    conversation_id = customer_writes(clean_stack, page, "5550002")
    _, id_token = invite(clean_stack, run, tenant)

    first = reply(clean_stack, id_token, conversation_id, "with the first token")
    eventually(lambda: message_status(tenant, conversation_id, first, "sent"), what="first reply sent")

    new_token = f"EAArotated{uuid.uuid4().hex}"
    clean_stack.sandbox.register_account("messenger", page.page_id, new_token)  # the old one stops working
    clean_stack.sandbox.clear()
    rotated = run("rotate-channel-token", tenant, "page-main", "--token-stdin", stdin=new_token + "\n")
    assert rotated.code == 0, rotated.err
    assert "5 minutes" in rotated.err
    assert rotated.records[0]["secret"] == secrets.channel_token_name(tenant, "page-main")
    assert secret_file()[secrets.channel_token_name(tenant, "page-main")] == new_token

    second = reply(clean_stack, id_token, conversation_id, "with the rotated token")
    eventually(lambda: message_status(tenant, conversation_id, second, "sent"), what="second reply sent")
    sends = [r for r in clean_stack.sandbox.requests("messenger") if r.path.endswith("/messages")]
    assert [r.headers["authorization"] for r in sends] == [f"Bearer {new_token}"]
    assert "tokenRotatedAt" in store.get_channel(tenant, "page-main")["health"]


def test_rotating_a_token_of_an_unknown_channel_fails(clean_stack: LocalStack, run: CliRunner) -> None:
    tenant = new_tenant(run)
    result = run("rotate-channel-token", tenant, "nope", "--token-stdin", stdin="x")
    assert result.code == 1 and "does not exist" in result.err


def test_rotate_secret_adds_a_version_and_explains_when_it_takes_effect(
    clean_stack: LocalStack, run: CliRunner
) -> None:
    name = f"custom-{uuid.uuid4().hex[:8]}"
    result = run("rotate-secret", name, "--value-stdin", stdin="s3cret\n")
    assert result.code == 0, result.err
    assert secret_file()[name] == "s3cret" and secrets.secret(name) == "s3cret"
    assert "5 minutes" in result.err
    assert "s3cret" not in result.out + result.err
    assert run("rotate-secret", "bad name", "--value-stdin", stdin="x").code == 2
    assert run("rotate-secret", name, "--value-stdin", stdin="").code == 2


def test_the_cli_runs_against_a_stack_file_and_reads_secrets_from_a_pipe(
    clean_stack: LocalStack, tmp_path: Path
) -> None:
    state = tmp_path / "stack.json"
    state.write_text(json.dumps({"env": clean_stack.env()}))
    name = f"piped-{uuid.uuid4().hex[:8]}"
    environment = {"PYTHONPATH": str(REPO), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}

    def cli_process(*args: str, stdin: str = "", env_file: Path = state) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "shared.cli", "--env-file", str(env_file), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
            env=environment,
            check=False,
        )

    rotated = cli_process("rotate-secret", name, "--value-stdin", stdin="from-a-pipe\n")
    assert rotated.returncode == 0, rotated.stderr
    assert secret_file()[name] == "from-a-pipe"
    health = cli_process("channel-health", "--tenant", demo.DEMO_TENANT, "--json")
    assert health.returncode == 0, health.stderr
    assert {json.loads(line)["channel"] for line in health.stdout.splitlines()} == {
        c.channel_id for c in demo.DEMO_CHANNELS
    }
    missing = cli_process("channel-health", env_file=tmp_path / "nope.json")
    assert missing.returncode == 2 and "env file" in missing.stderr


# --- agents ---------------------------------------------------------------------------------------------


def test_an_invited_agent_signs_in_with_the_tenant_and_role_in_the_token(
    clean_stack: LocalStack, run: CliRunner
) -> None:
    tenant = new_tenant(run)
    uid, id_token = invite(clean_stack, run, tenant, role="admin")
    caller = auth.verify(f"Bearer {id_token}")
    assert (caller.uid, caller.tenant_id, caller.role) == (uid, tenant, "admin")
    assert store.get_agent(tenant, uid) == {
        "name": "Sam Agent",
        "email": caller.email,
        "role": "admin",
        "active": True,
    }

    def invite_with(*args: str, stdin: str = "long-enough") -> Run:
        return run("invite-agent", "--name", "X", "--password-stdin", *args, stdin=stdin)

    assert invite_with("--tenant", tenant, "--email", "x@shop.test", stdin="short").code == 2
    assert invite_with("--tenant", tenant, "--email", "not-an-email").code == 2
    assert invite_with("--tenant", tenant, "--email", "x@shop.test", "--role", "superuser").code == 2
    assert invite_with("--tenant", "no-such-tenant", "--email", "x@shop.test").code == 1


# --- dead letters and quarantine ---------------------------------------------------------------------


def test_a_dead_letter_is_listed_without_being_removed_and_replayed_once_fixed(
    clean_stack: LocalStack, run: CliRunner
) -> None:
    # An echo of our own app's send whose message was never stored: ingest retries it (the send may
    # be a moment behind) until Pub/Sub dead-letters it.
    mid, psid = f"m_DL{uuid.uuid4().hex}", str(6_000 + uuid.uuid4().int % 10**6)
    echo = {
        "object": "page",
        "entry": [
            {
                "id": DEMO_PAGE.external_id,
                "time": 1,
                "messaging": [
                    {
                        "sender": {"id": DEMO_PAGE.external_id},
                        "recipient": {"id": psid},
                        "timestamp": int(time.time() * 1000),
                        "message": {
                            "is_echo": True,
                            "app_id": int(clean_stack.secrets.meta_app_id),
                            "mid": mid,
                            "text": "private words",
                        },
                    }
                ],
            }
        ],
    }
    assert post_webhook(clean_stack, "messenger", echo).status_code == 200

    def listed() -> list[dict[str, Any]]:
        result = run("dead-letters", "list", "--event-id", mid)
        assert result.code == 0, result.err
        assert "private words" not in result.out + result.err, "bodies are never printed"
        return result.records

    record = eventually(listed, timeout=120, interval=1, what="the dead letter")[0]
    assert (record["eventId"], record["channel"], record["eventType"]) == (mid, "messenger", "message")
    assert record["routeKey"] == f"messenger:{DEMO_PAGE.external_id}"
    assert record["publishTime"] and record["bytes"] > 0
    assert record["attributes"]["event_id"] == mid
    # Listing left it in place: it is listed again, and a dry run replays nothing.
    assert [r["eventId"] for r in listed()] == [mid]
    dry = run("dead-letters", "replay", "--dry-run", "--event-id", mid)
    assert dry.code == 0 and [r["outcome"] for r in dry.records] == ["would-replay"]
    assert [r["eventId"] for r in listed()] == [mid]

    # Fix the cause: the send the echo refers to now exists, with the provider's id.
    conversation_id = ids.conversation_id(DEMO_PAGE.channel_id, psid)
    message_id = ids.outbound_message_id(conversation_id, mid)
    queued = {
        "direction": "out",
        "type": "text",
        "text": "private words",
        "channelId": DEMO_PAGE.channel_id,
        "status": "queued",
        "statusRank": rank("queued"),
        "providerMessageId": mid,
    }
    assert store.create_outbound(
        demo.DEMO_TENANT, conversation_id, message_id, queued, {"channelId": DEMO_PAGE.channel_id}
    )

    replayed = run("dead-letters", "replay", "--event-id", mid)
    assert replayed.code == 0, replayed.err
    assert [(r["eventId"], r["outcome"]) for r in replayed.records] == [(mid, "replayed")]
    eventually(
        lambda: message_status(demo.DEMO_TENANT, conversation_id, message_id, "sent"),
        timeout=60,
        what="the replayed echo ingested",
    )
    assert eventually(lambda: not listed(), what="the dead letter acknowledged")


def test_quarantine_list_shows_what_is_kept_and_what_replay_published(
    clean_stack: LocalStack, run: CliRunner
) -> None:
    phone_id = unique_digits()
    body = payloads.whatsapp_change(
        phone_id, messages=[payloads.whatsapp_text_message("15551239999", "anyone there?")]
    )
    assert post_webhook(clean_stack, "whatsapp", body).status_code == 200

    def pending() -> list[dict[str, Any]]:
        result = run("quarantine", "list")
        assert result.code == 0, result.err
        return [r for r in result.records if r["routeKey"] == f"whatsapp:{phone_id}"]

    item = eventually(pending, what="the unrouted message in quarantine")[0]
    assert (item["reason"], item["channel"], item["replayed"]) == ("unknown_route", "whatsapp", False)
    assert item["receivedAt"] and "no route" in item["error"]
    assert "anyone there?" not in json.dumps(item), "raw payloads are not listed"

    tenant = new_tenant(run)
    clean_stack.sandbox.register_account("whatsapp", phone_id, "EAAwa")
    connected = run(
        "connect-channel",
        tenant,
        "wa",
        "--kind",
        "whatsapp",
        "--external-id",
        phone_id,
        "--name",
        "+1 555 0199",
        "--token-stdin",
        stdin="EAAwa",
    )
    assert connected.code == 0, connected.err
    assert "business account is subscribed" in connected.err
    assert run("replay-quarantine").code == 0
    assert pending() == []
    everything = run("quarantine", "list", "--all")
    replayed = [r for r in everything.records if r["routeKey"] == f"whatsapp:{phone_id}"]
    assert replayed[0]["replayed"] is True and replayed[0]["replayOutcome"] == "published 1 events"


# --- channel health -----------------------------------------------------------------------------------


def test_channel_health_tells_healthy_failing_stale_and_expired_channels_apart(
    clean_stack: LocalStack, run: CliRunner
) -> None:
    tenant = new_tenant(run)
    healthy = connect_page(clean_stack, run, tenant, "healthy")
    customer_writes(clean_stack, healthy, "5550003")

    failing = connect_page(clean_stack, run, tenant, "failing")
    conversation_id = customer_writes(clean_stack, failing, "5550004")
    _, id_token = invite(clean_stack, run, tenant)
    clean_stack.sandbox.fail_next("messenger", 368)  # blocked for policy violations
    refused = reply(clean_stack, id_token, conversation_id, "hello?")
    eventually(lambda: message_status(tenant, conversation_id, refused, "failed"), what="the refused reply")

    stale = connect_page(clean_stack, run, tenant, "stale")
    long_ago = datetime.now(UTC) - timedelta(days=3)
    store.update_channel(tenant, stale.channel, {"connectedAt": long_ago})
    store.update_channel_health(tenant, stale.channel, {"lastWebhookAt": long_ago + timedelta(hours=1)})

    expired_id, expired_token = unique_digits(), f"EAAold{uuid.uuid4().hex}"
    clean_stack.sandbox.register_account("messenger", expired_id, expired_token)
    result = run(
        "connect-channel",
        tenant,
        "expired",
        "--kind",
        "messenger",
        "--external-id",
        expired_id,
        "--name",
        "Old page",
        "--token-expires-at",
        "2020-01-31",
        "--token-stdin",
        stdin=expired_token,
    )
    assert result.code == 0, result.err

    as_json = run("channel-health", "--tenant", tenant, "--json")
    assert as_json.code == 0, as_json.err
    verdicts = {r["channel"]: r["verdict"] for r in as_json.records}
    assert verdicts == {
        "healthy": "healthy",
        "failing": "failing",
        "stale": "stale",
        "expired": "token expired",
    }
    rows = {r["channel"]: r for r in as_json.records}
    assert rows["failing"]["lastError"]["code"] == "368"
    assert "policy" in rows["failing"]["lastError"]["reason"].lower()
    assert rows["healthy"]["lastWebhookAt"] and rows["healthy"]["lastError"] is None
    assert rows["expired"]["tokenExpiresAt"].startswith("2020-01-31")
    assert "1 failing, 1 healthy, 1 stale, 1 token expired" in as_json.err

    table = run("channel-health", "--tenant", tenant)
    lines = table.out.splitlines()
    assert lines[0].split()[:3] == ["TENANT", "CHANNEL", "KIND"]
    assert "stale: no webhook for" in {line.split()[1]: line for line in lines[1:]}["stale"]
    assert "2020-01-31 00:00Z" in table.out

    everyone = run("channel-health", "--json")
    assert {(r["tenant"], r["channel"]) for r in everyone.records} >= {
        (demo.DEMO_TENANT, c.channel_id) for c in demo.DEMO_CHANNELS
    }
    assert run("channel-health", "--tenant", "no-such-tenant").code == 1


NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("channel", "verdict"),
    [
        ({"health": {"lastWebhookAt": NOW - timedelta(hours=2)}}, "healthy"),
        ({"connectedAt": NOW - timedelta(hours=2)}, "healthy"),
        ({"connectedAt": NOW - timedelta(hours=25)}, "stale"),
        ({}, "stale"),
        (
            {
                "health": {
                    "lastWebhookAt": NOW,
                    "lastError": {"code": "368", "kind": "policy_block", "at": NOW - timedelta(minutes=59)},
                }
            },
            "failing",
        ),
        (
            {
                "health": {
                    "lastWebhookAt": NOW,
                    "lastError": {"code": "131000", "at": NOW - timedelta(minutes=61)},
                }
            },
            "healthy",
        ),
        (
            {
                "health": {
                    "lastWebhookAt": NOW,
                    "lastError": {"code": "190", "kind": "token_expired", "at": NOW - timedelta(days=2)},
                }
            },
            "token expired",
        ),
        (
            {
                "health": {
                    "lastWebhookAt": NOW,
                    "tokenRotatedAt": NOW - timedelta(minutes=5),
                    "lastError": {"code": "190", "kind": "token_expired", "at": NOW - timedelta(minutes=10)},
                }
            },
            "healthy",
        ),
        ({"health": {"lastWebhookAt": NOW, "tokenExpiresAt": NOW - timedelta(seconds=1)}}, "token expired"),
        ({"health": {"lastWebhookAt": NOW, "tokenExpiresAt": NOW + timedelta(days=1)}}, "healthy"),
    ],
)
def test_verdict_rules(channel: dict[str, Any], verdict: str) -> None:
    assert cli.channel_verdict(channel, NOW)[0] == verdict
