"""The provider sandbox serves media the way the real APIs do, and refuses what they refuse: a wrong
bearer token, basic auth of another account, an unknown file_id, an expired or altered CDN URL, a
file the provider deleted. The channel modules' ``fetch_media`` read it through the same calls."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
import requests

from infra.local.provider_sandbox import ProviderSandbox
from shared.channels import adapter
from shared.errors import MediaUnavailable, ProviderError
from shared.models.outbound import ChannelAccount

WA, WA_TOKEN = "109000000000009", "EAAwaToken"
BOT, BOT_TOKEN = "7000000009", "7000000009:AAbotToken"
SID, AUTH = "AC" + "9" * 32, "twilio-auth"
PAGE, PAGE_TOKEN = "1000000000000009", "EAApageToken"


@pytest.fixture
def sandbox() -> Iterator[ProviderSandbox]:
    with ProviderSandbox(port=0) as running:
        running.register_account("whatsapp", WA, WA_TOKEN)
        running.register_account("telegram", BOT, BOT_TOKEN)
        running.register_account("twilio", "+15550999", AUTH, account_sid=SID)
        running.register_account("messenger", PAGE, PAGE_TOKEN)
        yield running


def account(
    sandbox: ProviderSandbox, kind: str, external_id: str, token: str, sid: str | None = None
) -> ChannelAccount:
    return ChannelAccount(
        channel=kind,
        external_id=external_id,
        token=token,
        base_url=sandbox.base_url,
        api_version="v21.0",
        account_sid=sid,
    )


def test_whatsapp_media_needs_the_numbers_bearer_token_at_both_steps(sandbox: ProviderSandbox) -> None:
    ref = sandbox.media.add("whatsapp", WA, b"\xff\xd8\xffjpeg", "image/jpeg")
    url = f"{sandbox.base_url}/v21.0/{ref['media_id']}"
    assert requests.get(url, timeout=10).status_code == 401
    answer = requests.get(url, headers={"Authorization": f"Bearer {WA_TOKEN}"}, timeout=10).json()
    assert answer["messaging_product"] == "whatsapp" and answer["mime_type"] == "image/jpeg"
    assert requests.get(answer["url"], timeout=10).status_code == 401
    download = requests.get(answer["url"], headers={"Authorization": f"Bearer {WA_TOKEN}"}, timeout=10)
    assert download.content == b"\xff\xd8\xffjpeg"
    fetched = adapter("whatsapp").fetch_media(
        account(sandbox, "whatsapp", WA, WA_TOKEN), {"mediaId": ref["media_id"]}, timeout=10
    )
    assert fetched.data == b"\xff\xd8\xffjpeg"
    sandbox.media.delete(ref["media_id"])
    with pytest.raises(ProviderError) as gone:
        adapter("whatsapp").fetch_media(
            account(sandbox, "whatsapp", WA, WA_TOKEN), {"mediaId": ref["media_id"]}, timeout=10
        )
    assert gone.value.code == "100" and not gone.value.transient


def test_telegram_getfile_then_the_file_path(sandbox: ProviderSandbox) -> None:
    ref = sandbox.media.add("telegram", BOT, b"OggS voice", "audio/ogg")
    bot = account(sandbox, "telegram", BOT, BOT_TOKEN)
    fetched = adapter("telegram").fetch_media(
        bot, {"mediaId": ref["file_id"], "durationSeconds": 3}, timeout=10
    )
    assert fetched.data == b"OggS voice" and fetched.duration_seconds == 3
    with pytest.raises(MediaUnavailable, match="invalid file_id"):
        adapter("telegram").fetch_media(bot, {"mediaId": "nope"}, timeout=10)
    wrong = requests.post(
        f"{sandbox.base_url}/botWRONG/getFile", json={"file_id": ref["file_id"]}, timeout=10
    )
    assert wrong.status_code == 401


def test_twilio_media_needs_the_accounts_basic_auth_and_redirects(sandbox: ProviderSandbox) -> None:
    ref = sandbox.media.add("twilio", SID, b"%PDF-1.4", "application/pdf", file_name="a.pdf")
    assert requests.get(ref["url"], timeout=10, allow_redirects=False).status_code == 401
    other = base64.b64encode(f"{SID}:wrong".encode()).decode()
    assert (
        requests.get(ref["url"], headers={"Authorization": f"Basic {other}"}, timeout=10).status_code == 401
    )
    fetched = adapter("twilio").fetch_media(
        account(sandbox, "twilio", "+15550999", AUTH, SID), {"url": ref["url"]}, timeout=10
    )
    assert fetched.data == b"%PDF-1.4" and fetched.file_name == "a.pdf"


def test_meta_cdn_urls_expire_and_cannot_be_altered(sandbox: ProviderSandbox) -> None:
    live = sandbox.media.add("messenger", PAGE, b"GIF89a....", "image/gif", file_name="x.gif")
    page = account(sandbox, "messenger", PAGE, PAGE_TOKEN)
    assert adapter("messenger").fetch_media(page, {"url": live["url"]}, timeout=10).data == b"GIF89a...."
    altered = live["url"].replace("oe=", "oe=f")
    assert requests.get(altered, timeout=10).status_code == 403
    expired = sandbox.media.add("messenger", PAGE, b"GIF89a", "image/gif", ttl=-1)
    with pytest.raises(MediaUnavailable, match="expired"):
        adapter("messenger").fetch_media(page, {"url": expired["url"]}, timeout=10)


def test_tokens_never_go_to_a_host_the_provider_does_not_serve_media_from(sandbox: ProviderSandbox) -> None:
    page = account(sandbox, "messenger", PAGE, PAGE_TOKEN)
    with pytest.raises(MediaUnavailable, match="Meta's media hosts"):
        adapter("messenger").fetch_media(page, {"url": "http://169.254.169.254/latest/meta-data"}, timeout=10)
    twilio = account(sandbox, "twilio", "+15550999", AUTH, SID)
    with pytest.raises(MediaUnavailable, match="Twilio's REST host"):
        adapter("twilio").fetch_media(twilio, {"url": "https://evil.example/steal"}, timeout=10)
