"""The provider sandbox takes file uploads the way the real APIs do, and refuses them the same way:
WhatsApp's ``POST /{phone-number-id}/media`` (multipart, the Cloud API's types and sizes, Graph
errors 100/131053/190) and the Bot API's multipart files (photos 10 MB, other files 50 MB); and our
channel modules' requests pass those checks. No emulator needed: the sandbox runs in the test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from infra.local.provider_sandbox import ProviderSandbox
from shared.channels import graph, telegram
from shared.models.outbound import ChannelAccount, OutboundMessage

PHONE_ID, WA_TOKEN = "109000000000777", "EAAsandboxWaToken"
BOT_ID, BOT_TOKEN = "6123456789", "6123456789:AAFh-sandbox-token_0123456789abcdefg"
MB = 1024 * 1024


@pytest.fixture
def sandbox() -> Iterator[ProviderSandbox]:
    with ProviderSandbox() as running:
        running.register_account("whatsapp", PHONE_ID, WA_TOKEN)
        running.register_account("telegram", BOT_ID, BOT_TOKEN, username="sandbox_bot")
        yield running


def upload(
    sandbox: ProviderSandbox,
    *,
    data: bytes = b"\xff\xd8\xff\xe0photo",
    mime: str = "image/jpeg",
    fields: dict[str, str] | None = None,
    token: str = WA_TOKEN,
    with_file: bool = True,
) -> requests.Response:
    form = {"messaging_product": "whatsapp", "type": mime} if fields is None else fields
    files = {"file": ("photo.jpg", data, mime)} if with_file else {"dummy": ("", b"", "text/plain")}
    return requests.post(
        f"{sandbox.base_url}/v21.0/{PHONE_ID}/media",
        data=form,
        files=files,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_a_whatsapp_upload_answers_a_media_id_and_keeps_the_file(sandbox: ProviderSandbox) -> None:
    response = upload(sandbox, data=b"\xff\xd8\xff" + b"x" * 1000)
    assert response.status_code == 200, response.text
    media_id = response.json()["id"]
    assert media_id.isdigit() and len(media_id) >= 15
    kept = sandbox._api_for("whatsapp").uploads.by_media_id(media_id)
    assert kept is not None and kept.data == b"\xff\xd8\xff" + b"x" * 1000 and kept.account_id == PHONE_ID


@pytest.mark.parametrize(
    ("kwargs", "code", "detail"),
    [
        ({"fields": {"type": "image/jpeg"}}, 100, "messaging_product"),
        ({"fields": {"messaging_product": "sms", "type": "image/jpeg"}}, 100, "messaging_product"),
        ({"with_file": False}, 100, "file is required"),
        ({"mime": "image/gif"}, 131053, "Unsupported file type: image/gif"),
        ({"mime": "image/png", "data": b"\x89PNG" + b"\0" * (5 * MB)}, 131053, "limited to"),
        ({"mime": "image/webp", "data": b"RIFF" + b"\0" * (600 * 1024)}, 131053, "limited to"),
        ({"mime": "application/pdf", "data": b""}, 131053, "empty"),
    ],
)
def test_a_whatsapp_upload_the_cloud_api_would_refuse_is_refused_as_it_would(
    sandbox: ProviderSandbox, kwargs: dict, code: int, detail: str
) -> None:
    response = upload(sandbox, **kwargs)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert detail in error["error_data"]["details"]


def test_a_whatsapp_upload_with_an_unknown_token_is_refused_with_190(sandbox: ProviderSandbox) -> None:
    response = upload(sandbox, token="EAAnotAToken")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 190


def test_a_telegram_file_sent_as_multipart_becomes_the_message_and_is_kept(sandbox: ProviderSandbox) -> None:
    response = requests.post(
        f"{sandbox.base_url}/bot{BOT_TOKEN}/sendVoice",
        data={"chat_id": "5550001", "caption": "listen", "reply_parameters": '{"message_id": 7}'},
        files={"voice": ("note.ogg", b"OggS voice", "audio/ogg")},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["voice"]["mime_type"] == "audio/ogg" and result["caption"] == "listen"
    assert result["reply_to_message"]["message_id"] == 7
    kept = sandbox._api_for("telegram").uploads.all()[-1]
    assert (kept.method, kept.field, kept.filename, kept.data) == (
        "sendvoice",
        "voice",
        "note.ogg",
        b"OggS voice",
    )


def test_telegram_refuses_a_photo_over_10_mb_and_an_empty_file(sandbox: ProviderSandbox) -> None:
    big = requests.post(
        f"{sandbox.base_url}/bot{BOT_TOKEN}/sendPhoto",
        data={"chat_id": "5550001"},
        files={"photo": ("p.jpg", b"\xff" * (10 * MB + 1), "image/jpeg")},
        timeout=30,
    )
    assert big.status_code == 400 and big.json()["description"] == "Bad Request: PHOTO_INVALID_DIMENSIONS"
    empty = requests.post(
        f"{sandbox.base_url}/bot{BOT_TOKEN}/sendDocument",
        data={"chat_id": "5550001"},
        files={"document": ("a.pdf", b"", "application/pdf")},
        timeout=10,
    )
    assert empty.status_code == 400 and "non-empty" in empty.json()["description"]
    missing = requests.post(
        f"{sandbox.base_url}/bot{BOT_TOKEN}/sendDocument",
        data={"chat_id": "5550001", "document": "attach://nothing"},
        files={"other": ("a.pdf", b"%PDF", "application/pdf")},
        timeout=10,
    )
    assert missing.status_code == 400 and "can't find attached file" in missing.json()["description"]


def test_the_channel_modules_requests_pass_the_sandbox_checks(sandbox: ProviderSandbox) -> None:
    """What shared/channels sends for an upload, without storage: the request builders' own halves."""
    account = ChannelAccount(
        channel="whatsapp", external_id=PHONE_ID, token=WA_TOKEN, base_url=sandbox.base_url
    )
    body = graph.cloud_api_request(
        "15551230000",
        OutboundMessage(type="document", caption="Invoice", filename="a.pdf"),
        "1234567890123456",
    )
    assert body["document"] == {"id": "1234567890123456", "caption": "Invoice", "filename": "a.pdf"}
    answer = requests.post(
        f"{sandbox.base_url}/v21.0/{PHONE_ID}/messages",
        json=body,
        headers={"Authorization": f"Bearer {account.token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    method, payload = telegram.request_for(
        "5550001",
        OutboundMessage.model_validate(
            {
                "type": "audio",
                "caption": "hi",
                "attachments": [{"path": "p", "content_type": "audio/ogg", "size": 3}],
            }
        ),
    )
    assert (method, payload) == ("sendVoice", {"chat_id": 5550001, "caption": "hi"})
