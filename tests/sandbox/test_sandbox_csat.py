"""The sandbox takes each channel's satisfaction survey as the adapter sends it, and refuses a
malformed one with the provider's own error (Telegram inline keyboards, Messenger/Instagram quick
replies, WhatsApp interactive lists), as the providers document their limits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from infra.local.provider_sandbox import ProviderSandbox
from shared import csat
from shared.channels import graph, telegram
from shared.errors import ProviderError
from shared.models.outbound import ChannelAccount, OutboundMessage, RatingAsk, RatingChoice

NUMBER, WA_TOKEN = "109000000000019", "EAAsandboxWaCsat"
PAGE, PAGE_TOKEN = "1000000000000019", "EAAsandboxPageCsat"
IG, IG_TOKEN = "17841400000000019", "IGAAsandboxCsat"
BOT, BOT_TOKEN = "7000000019", "7000000019:AAsandboxCsat"
ASK = csat.ask_id("conv", "resolution")


@pytest.fixture
def sandbox() -> Iterator[ProviderSandbox]:
    with ProviderSandbox(port=0) as running:
        running.register_account("whatsapp", NUMBER, WA_TOKEN)
        running.register_account("messenger", PAGE, PAGE_TOKEN)
        running.register_account("instagram", IG, IG_TOKEN)
        running.register_account("telegram", BOT, BOT_TOKEN)
        yield running


def account(sandbox: ProviderSandbox, channel: str, external_id: str, token: str) -> ChannelAccount:
    return ChannelAccount(
        channel=channel, external_id=external_id, token=token, base_url=sandbox.base_url, api_version="v21.0"
    )


def survey(choices: list[tuple[str, str]] | None = None) -> OutboundMessage:
    pairs = choices or [(o["title"], o["payload"]) for o in csat.options(ASK)]
    return OutboundMessage(
        type="rating",
        text="How would you rate our help today?",
        rating=RatingAsk(
            choices=tuple(RatingChoice(title=t, payload=p) for t, p in pairs), link="https://x.test/rate?k=1"
        ),
    )


def refused(call: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        call()
    assert caught.value.transient is False
    return caught.value


def test_each_channels_survey_is_accepted_as_built(sandbox: ProviderSandbox) -> None:
    wa = graph.cloud_api(account(sandbox, "whatsapp", NUMBER, WA_TOKEN), "15551230000", survey(), 10)
    fb = graph.send_api(account(sandbox, "messenger", PAGE, PAGE_TOKEN), "24000000000000001", survey(), 10)
    ig = graph.send_api(account(sandbox, "instagram", IG, IG_TOKEN), "17841400000000077", survey(), 10)
    tg = telegram.send_message(account(sandbox, "telegram", BOT, BOT_TOKEN), "4242", survey(), 10)
    assert all(result.provider_message_id for result in (wa, fb, ig, tg))
    sent = tg.response["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in sent] == [csat.payload(ASK, s) for s in (5, 4, 3, 2, 1)]


def test_telegram_refuses_callback_data_over_64_bytes(sandbox: ProviderSandbox) -> None:
    bot = account(sandbox, "telegram", BOT, BOT_TOKEN)
    error = refused(lambda: telegram.send_message(bot, "4242", survey([("★ Poor", "x" * 65)]), 10))
    assert "BUTTON_DATA_INVALID" in f"{error} {error.detail}"
    answer = requests.post(
        f"{sandbox.base_url}/bot{BOT_TOKEN}/sendMessage",
        json={"chat_id": 4242, "text": "Rate", "reply_markup": {"inline_keyboard": [[{"text": "★"}]]}},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["description"].endswith("Text buttons are unallowed in the inline keyboard")


def test_messenger_refuses_a_long_title_and_too_many_quick_replies(sandbox: ProviderSandbox) -> None:
    page = account(sandbox, "messenger", PAGE, PAGE_TOKEN)
    long_title = refused(lambda: graph.send_api(page, "2400001", survey([("x" * 21, "csat:a:1")]), 10))
    assert long_title.code == "100" and "[title] must be less than or equal to 20" in str(long_title.detail)
    many = [(f"{i}", f"p{i}") for i in range(14)]
    too_many = refused(lambda: graph.send_api(page, "2400001", survey(many), 10))
    assert "at most 13" in str(too_many.detail)
    long_payload = refused(lambda: graph.send_api(page, "2400001", survey([("ok", "p" * 1001)]), 10))
    assert "[payload] must be less than or equal to 1000" in str(long_payload.detail)


@pytest.mark.parametrize(
    ("choices", "problem"),
    [
        ([("x" * 25, "csat:a:1")], "['title'] must be at most 24"),
        ([("ok", "i" * 201)], "['id'] must be at most 200"),
        ([(f"{i}", f"id{i}") for i in range(11)], "at most 10 rows"),
        ([("one", "same"), ("two", "same")], "must be unique"),
    ],
)
def test_whatsapp_refuses_a_malformed_list(
    sandbox: ProviderSandbox, choices: list[tuple[str, str]], problem: str
) -> None:
    number = account(sandbox, "whatsapp", NUMBER, WA_TOKEN)
    error = refused(lambda: graph.cloud_api(number, "15551230000", survey(choices), 10))
    assert error.code == "100" and problem in str(error.detail or error), (error, error.detail)


def test_whatsapp_refuses_a_list_button_over_20_characters(sandbox: ProviderSandbox) -> None:
    body = graph.cloud_api_request("15551230000", survey())
    body["interactive"]["action"]["button"] = "Please rate us here now"
    answer = requests.post(
        f"{sandbox.base_url}/v21.0/{NUMBER}/messages",
        json=body,
        headers={"Authorization": f"Bearer {WA_TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == 100 and "button'] must be at most 20" in error["error_data"]["details"]
