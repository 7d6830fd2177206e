"""Whatever picks the secret that verifies a webhook must also pick the tenant.

Twilio verifies a request with the auth token of the account the form itself names (AccountSid),
while the number in To routes it. The attack: a tenant connects its own Twilio account, then signs
forms naming another tenant's number and customer. Ingest must refuse them (quarantine, reason
``foreign_signer``), for messages and status callbacks alike, and write nothing in the victim's
inbox."""

from __future__ import annotations

import io
import json
import uuid
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import pytest

from infra.local import demo
from infra.local.stack import LocalStack
from shared import cli, ids, secrets, store
from shared.errors import SignatureError
from tests.support import eventually, post_signed

pytestmark = pytest.mark.integration

MALLORY = "mallory"
MALLORY_SID = "AC" + "d" * 32
MALLORY_NUMBER = "+15550999"
VICTIM = next(c for c in demo.DEMO_CHANNELS if c.channel_id == "twilio-sms")
CUSTOMER = "+15557770042"


@pytest.fixture
def mallory(clean_stack: LocalStack) -> LocalStack:
    """A second tenant with its own Twilio account, connected as connect-channel does."""
    store.put_tenant(MALLORY, {"name": "Mallory Inc", "kind": "support", "plan": "free"})
    secrets.add_secret_version(f"twilio-auth-token-{MALLORY_SID}", "mallory-auth-token")
    store.put_channel(MALLORY, "sms", "twilio", MALLORY_NUMBER, "Mallory SMS", signer=MALLORY_SID)
    store.update_channel(MALLORY, "sms", {"accountSid": MALLORY_SID})
    return clean_stack


def form(account_sid: str, **fields: str) -> dict[str, str]:
    return {"AccountSid": account_sid, "ApiVersion": "2010-04-01", **fields}


def inbound(account_sid: str, body: str, sid: str | None = None) -> dict[str, str]:
    return form(
        account_sid,
        MessageSid=sid or f"SM{uuid.uuid4().hex}",
        From=CUSTOMER,
        To=VICTIM.external_id,
        Body=body,
        NumMedia="0",
        SmsStatus="received",
    )


def victim_messages() -> list[dict[str, Any]]:
    conversation = ids.conversation_id(VICTIM.channel_id, CUSTOMER)
    return [
        d.to_dict() or {}
        for d in store.client()
        .collection("tenants")
        .document(demo.DEMO_TENANT)
        .collection("conversations")
        .document(conversation)
        .collection("messages")
        .stream()
    ]


def quarantined(reason: str) -> list[dict[str, Any]]:
    return [row for row in store.quarantine_summaries(include_replayed=True) if row["reason"] == reason]


def texts() -> set[str]:
    return {str((m.get("content") or {}).get("text")) for m in victim_messages()}


def test_another_twilio_account_cannot_write_into_a_number_it_does_not_own(mallory: LocalStack) -> None:
    assert post_signed(mallory, "twilio", inbound(demo.TWILIO_SID, "the real customer")).status_code == 200
    eventually(lambda: "the real customer" in texts(), what="the genuine message")

    # Signed correctly, but by Mallory's account: the webhook cannot tell, ingest must.
    answer = post_signed(mallory, "twilio", inbound(MALLORY_SID, "send the refund to mallory"))
    assert answer.status_code == 200

    eventually(lambda: quarantined("foreign_signer"), what="the forged message quarantined")
    assert "send the refund to mallory" not in texts()
    assert len(victim_messages()) == 1


def test_another_twilio_account_cannot_forge_status_callbacks(mallory: LocalStack) -> None:
    callback = form(
        MALLORY_SID,
        MessageSid=f"SM{uuid.uuid4().hex}",
        MessageStatus="undelivered",
        From=VICTIM.external_id,  # status callbacks come from our own number
        To=CUSTOMER,
        ErrorCode="30007",
    )
    assert post_signed(mallory, "twilio", callback).status_code == 200
    eventually(lambda: quarantined("foreign_signer"), what="the forged callback quarantined")


def test_the_owning_account_still_routes_to_its_own_number(mallory: LocalStack) -> None:
    own = form(
        MALLORY_SID,
        MessageSid=f"SM{uuid.uuid4().hex}",
        From=CUSTOMER,
        To=MALLORY_NUMBER,
        Body="hello mallory",
        NumMedia="0",
    )
    assert post_signed(mallory, "twilio", own).status_code == 200
    conversation = ids.conversation_id("sms", CUSTOMER)
    eventually(
        lambda: store.get_conversation(MALLORY, conversation) is not None, what="Mallory's own message"
    )
    assert not quarantined("foreign_signer")


LEGACY_NUMBER = "+15550777"


def test_routes_connected_before_the_check_are_bound_by_the_migration(clean_stack: LocalStack) -> None:
    # A route as connect-channel wrote it before routes named their signer.
    store.put_channel(demo.DEMO_TENANT, "legacy-sms", "twilio", LEGACY_NUMBER, "Legacy SMS")
    store.update_channel(demo.DEMO_TENANT, "legacy-sms", {"accountSid": demo.TWILIO_SID})
    assert store.resolve_route(f"twilio:{LEGACY_NUMBER}", fresh=True).signer is None  # type: ignore[union-attr]
    message = {**inbound(demo.TWILIO_SID, "before binding"), "To": LEGACY_NUMBER}
    conversation = ids.conversation_id("legacy-sms", CUSTOMER)

    # Until it is bound, even the owner's events are refused (strict), and kept for replay.
    assert post_signed(clean_stack, "twilio", message).status_code == 200
    eventually(lambda: quarantined("foreign_signer"), what="the unbound route refusing")
    assert store.get_conversation(demo.DEMO_TENANT, conversation) is None

    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        assert cli.main(["bind-route-signers"]) == 0
    assert f'"signer": "{demo.TWILIO_SID}"' in out.getvalue()
    route = store.resolve_route(f"twilio:{LEGACY_NUMBER}", fresh=True)
    assert route is not None and route.signer == demo.TWILIO_SID

    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        assert cli.main(["replay-quarantine"]) == 0
    eventually(
        lambda: store.get_conversation(demo.DEMO_TENANT, conversation) is not None,
        what="the replayed message",
    )

    # Running it again binds nothing more.
    again = io.StringIO()
    with redirect_stdout(again), redirect_stderr(io.StringIO()):
        assert cli.main(["bind-route-signers"]) == 0
    assert again.getvalue() == ""


# --- the same rule, channel by channel (no stack: the adapters alone) ------------------------------


def test_twilio_events_carry_the_account_that_signed_them() -> None:
    from shared.channels.twilio import TwilioAdapter
    from shared.inbound import normalize

    body = (
        f"MessageSid=SM1&AccountSid={MALLORY_SID}&From=%2B15557770042&To=%2B15550100&Body=hi"
        "&MessageStatus=delivered"
    ).encode()
    for payload in (body.replace(b"&MessageStatus=delivered", b""), body):
        [event] = normalize(TwilioAdapter(auth_tokens=lambda sid: "t"), payload).events
        assert event.signer == MALLORY_SID


def test_telegram_routes_by_the_bot_whose_secret_verified_the_request() -> None:
    from shared.channels.telegram import SECRET_HEADER, TelegramAdapter, telegram_secret_token, webhook_url
    from shared.inbound import normalize

    adapter = TelegramAdapter(webhook_secret="master")
    url = webhook_url("https://example.test/webhook-telegram", "111")
    message = {"message_id": 1, "date": 1, "chat": {"id": 5, "type": "private"}, "text": "hi"}
    update = json.dumps({"update_id": 1, "message": message}).encode()
    adapter.verify({SECRET_HEADER: telegram_secret_token("master", "111")}, update, url)
    [event] = normalize(adapter, update, url).events
    assert event.route_key == "telegram:111"  # the bot named by the URL that picked the secret
    with pytest.raises(SignatureError):
        adapter.verify({SECRET_HEADER: telegram_secret_token("master", "222")}, update, url)


def test_meta_channels_verify_with_our_one_app_secret_so_no_request_picks_a_signer() -> None:
    from infra.local.simulate import meta_signature
    from shared.channels.whatsapp import WhatsAppAdapter
    from shared.inbound import normalize
    from tests.support import whatsapp_text_webhook

    body = json.dumps(whatsapp_text_webhook("109000000000001", "15557770042", "hi")).encode()
    adapter = WhatsAppAdapter(app_secret="ours")
    adapter.verify({"X-Hub-Signature-256": meta_signature(body, "ours")}, body, "")
    [event] = normalize(adapter, body).events
    assert event.signer is None
