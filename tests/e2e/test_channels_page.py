"""The channels page in Chromium: an admin connects a WhatsApp number by pasting its id and token
(tested with the provider first), a customer's message arrives on it and its health shows the webhook
live, then the admin rotates its token. The token is never shown again; an agent has no such page."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from infra.local.stack import LocalStack
from shared import secrets, store
from tests.e2e.conftest import ADA, DANA, Agent
from tests.support import eventually, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration


def test_an_admin_connects_a_number_sees_its_webhook_and_rotates_its_token(
    clean_stack: LocalStack, open_dashboard: Any, agents: dict[str, Agent]
) -> None:
    number_id = str(120_000_000_000_000 + uuid.uuid4().int % 10**12)
    token, new_token = f"EAAwa{uuid.uuid4().hex}", f"EAAwa{uuid.uuid4().hex}"
    channel_id = f"whatsapp-{number_id}"
    clean_stack.sandbox.register_account("whatsapp", number_id, token, verified_name="Corner Shop")

    page = open_dashboard(ADA)
    page.get_by_test_id("nav-admin").click()
    page.get_by_test_id("admin-nav-channels").click()
    expect(page.get_by_test_id("channel-row")).to_have_count(6)  # the demo tenant's channels

    page.get_by_test_id("channel-connect-open").click()
    page.get_by_test_id("channel-kind-whatsapp").check()
    page.get_by_test_id("channel-name").fill("Corner Shop on WhatsApp")
    page.get_by_test_id("channel-external-id").fill(number_id)
    page.get_by_test_id("channel-token").fill("EAAnot-a-token")
    page.get_by_test_id("channel-test").click()
    expect(page.get_by_test_id("channel-problem")).to_contain_text("Meta error 190")
    page.get_by_test_id("channel-token").fill(token)
    page.get_by_test_id("channel-test").click()
    expect(page.get_by_test_id("channel-test-result")).to_contain_text("Corner Shop")
    page.get_by_test_id("channel-connect").click()
    expect(page.get_by_test_id("channel-notice")).to_contain_text("Corner Shop on WhatsApp is connected")

    row = page.locator(f'[data-testid="channel-row"][data-channel-id="{channel_id}"]')
    expect(row.get_by_test_id("channel-verdict")).to_have_text("healthy")
    expect(row.get_by_test_id("channel-why")).to_have_text("connected, no webhook yet")
    expect(row.get_by_test_id("channel-credential")).to_contain_text(f"set ••••{token[-4:]}")
    assert token not in page.content()

    # A customer writes to the new number: the channel's health follows live.
    answer = post_webhook(clean_stack, "whatsapp", whatsapp_text_webhook(number_id, "15550177001", "Hello?"))
    assert answer.status_code == 200, answer.text
    expect(row.get_by_test_id("channel-why")).to_have_text("last webhook just now", timeout=30_000)
    expect(row.get_by_test_id("channel-last-webhook")).to_have_text("just now")

    # Rotation: the provider must accept the new token first.
    clean_stack.sandbox.register_account("whatsapp", number_id, new_token, verified_name="Corner Shop")
    row.get_by_test_id("channel-rotate-open").click()
    row.get_by_test_id("channel-rotate-token").fill(new_token)
    row.get_by_test_id("channel-rotate-save").click()
    expect(page.get_by_test_id("channel-notice")).to_contain_text("New token saved")
    expect(row.get_by_test_id("channel-credential")).to_contain_text(f"set ••••{new_token[-4:]}")
    expect(row.get_by_test_id("channel-credential")).to_contain_text("rotated just now")
    stored = json.loads(Path(os.environ["SWITCHBOARD_LOCAL_SECRETS_FILE"]).read_text())
    assert stored[secrets.channel_token_name(ADA.tenant_id, channel_id)] == new_token
    channel = eventually(lambda: store.get_channel(ADA.tenant_id, channel_id))
    assert token not in json.dumps(channel, default=str) and new_token not in json.dumps(channel, default=str)
    assert new_token not in page.content()

    other = open_dashboard(DANA)
    expect(other.get_by_test_id("nav-admin")).to_have_count(0)
    other.evaluate("window.location.hash = '#/admin/channels'")
    expect(other.get_by_test_id("admin-refused")).to_be_visible()
    expect(other.get_by_test_id("channels-page")).to_have_count(0)
