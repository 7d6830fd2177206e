"""Satisfaction surveys without the emulators: payloads, signed links, each channel's ask as its
adapter builds it, and the rating's activity sentence (shared/csat.py)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest

from shared import activity, csat
from shared.channels import graph, telegram, twilio
from shared.config import reset
from shared.models.outbound import ChannelAccount, OutboundMessage, RatingAsk, RatingChoice
from shared.workspace import DEFAULT_CSAT_QUESTION, WorkspaceSettings

ASK = csat.ask_id("conv-1", "acresolution1")


@pytest.fixture(autouse=True)
def link_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SWITCHBOARD_CSAT_LINK_SECRET", "unit-test-secret")
    monkeypatch.setenv("SWITCHBOARD_RATING_URL", "https://rate.example.test/rate")
    reset()
    yield
    reset()


def rating_message() -> OutboundMessage:
    return OutboundMessage(
        type="rating",
        text="How did we do?",
        rating=RatingAsk(
            choices=tuple(RatingChoice(title=o["title"], payload=o["payload"]) for o in csat.options(ASK)),
            link="https://rate.example.test/rate?k=abc",
        ),
    )


def test_a_payload_round_trips_and_other_payloads_are_not_ratings() -> None:
    assert csat.parse_payload(csat.payload(ASK, 4)) == (ASK, 4)
    for other in (None, "", "size:L", "csat:", f"csat:{ASK}:6", f"csat:{ASK}:0", f"csat:{ASK}", "csat:a/b:3"):
        assert csat.parse_payload(other) is None, other


def test_one_resolution_is_one_survey_and_another_resolution_another() -> None:
    assert csat.ask_id("conv-1", "acresolution1") == ASK
    assert csat.ask_id("conv-1", "acresolution2") != ASK
    assert csat.ask_id("conv-2", "acresolution1") != ASK


def test_every_choice_fits_the_providers_limits() -> None:
    options = csat.options(ASK)
    assert [o["score"] for o in options] == [5, 4, 3, 2, 1]
    for option in options:
        assert len(option["payload"].encode()) <= 64  # Telegram callback_data
        assert len(option["title"]) <= 20  # Messenger quick reply title (WhatsApp row title: 24)
    assert options[1]["title"] == "★★★★ Good"


def test_a_signed_link_names_its_survey_until_it_expires() -> None:
    token = csat.link_token("demo", "conv-1", ASK, 2_000_000_000)
    claims = csat.read_token(token, now_s=1_999_999_999)
    assert (claims.tenant_id, claims.conversation_id, claims.ask_id) == ("demo", "conv-1", ASK)
    with pytest.raises(csat.BadLink) as expired:
        csat.read_token(token, now_s=2_000_000_000)
    assert expired.value.reason == "expired"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the signature changed
        lambda t: "x" + t,  # the claims changed
        lambda t: t.split(".")[0],  # no signature
        lambda t: "",
    ],
)
def test_an_altered_link_is_invalid(tamper: object) -> None:
    token = csat.link_token("demo", "conv-1", ASK, 2_000_000_000)
    with pytest.raises(csat.BadLink) as bad:
        csat.read_token(tamper(token), now_s=1_000)  # type: ignore[operator]
    assert bad.value.reason == "invalid"


def test_a_link_signed_with_another_secret_is_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    token = csat.link_token("demo", "conv-1", ASK, 2_000_000_000)
    monkeypatch.setenv("SWITCHBOARD_CSAT_LINK_SECRET", "rotated")
    reset()
    with pytest.raises(csat.BadLink):
        csat.read_token(token, now_s=1_000)


def test_the_rating_link_lasts_seven_days_and_preselects_the_score() -> None:
    link = csat.rating_link("demo", "conv-1", ASK, 4, now_s=1_000_000)
    parsed = urlparse(link)
    assert f"{parsed.scheme}://{parsed.netloc}{parsed.path}" == "https://rate.example.test/rate"
    query = parse_qs(parsed.query)
    assert query["score"] == ["4"]
    claims = csat.read_token(query["k"][0], now_s=1_000_000)
    assert claims.expires_s == 1_000_000 + 7 * 86400


def test_telegram_asks_with_an_inline_keyboard_of_callback_buttons() -> None:
    method, body = telegram.request_for("12345", rating_message()) or ("", {})
    assert method == "sendMessage" and body["text"] == "How did we do?"
    rows = body["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in rows] == [csat.payload(ASK, s) for s in (5, 4, 3, 2, 1)]
    assert all(len(row) == 1 for row in rows)


def test_messenger_and_instagram_ask_with_quick_replies() -> None:
    body = graph.send_api_request("PSID", rating_message())
    replies = body["message"]["quick_replies"]
    assert body["message"]["text"] == "How did we do?" and len(replies) == 5
    assert replies[0] == {"content_type": "text", "title": "★★★★★ Excellent", "payload": csat.payload(ASK, 5)}


def test_whatsapp_asks_with_an_interactive_list_of_five_rows() -> None:
    body = graph.cloud_api_request("15550001111", rating_message())
    assert body["type"] == "interactive"
    interactive = body["interactive"]
    assert interactive["type"] == "list" and interactive["body"] == {"text": "How did we do?"}
    assert len(interactive["action"]["button"]) <= 20
    rows = interactive["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == [csat.payload(ASK, s) for s in (5, 4, 3, 2, 1)]
    assert all(len(r["title"]) <= 24 for r in rows)


def test_sms_asks_with_the_question_how_to_answer_and_the_link() -> None:
    account = ChannelAccount(
        channel="twilio", external_id="+15550000000", token="t", base_url="https://x", account_sid="AC1"
    )
    form = twilio.request_for(account, "+15551112222", rating_message()) or {}
    assert form["Body"] == (
        "How did we do?\nReply with a number from 1 (very poor) to 5 (excellent), or rate here: "
        "https://rate.example.test/rate?k=abc"
    )


@pytest.mark.parametrize(
    ("text", "score"),
    [("4", 4), (" 5 ", 5), ("3/5", 3), ("2 / 5", 2), ("5 stars", 5), ("1 star", 1), ("4!", 4), ("5★★", 5)],
)
def test_a_lone_typed_score_is_read_as_a_rating(text: str, score: int) -> None:
    assert csat.typed_score(text) == score


@pytest.mark.parametrize("text", ["0", "6", "45", "4 items please", "order 4", "", "four", "4.5", "-1"])
def test_anything_but_a_lone_score_stays_a_message(text: str) -> None:
    assert csat.typed_score(text) is None


def test_a_rating_line_reads_as_a_sentence() -> None:
    assert activity.sentence("rate", "Customer", {"score": 4, "comment": "quick and kind"}) == (
        "Customer rated 4/5: “quick and kind”"
    )
    assert csat.sentence(2, "") == "Customer rated 2/5"
    assert "rate" in activity.VERBS and "csat_skip" in activity.VERBS
    assert activity.sentence("csat_skip", "Satisfaction survey", {"reason": "reply_window_closed"}) == (
        "No satisfaction survey was sent: the customer's reply window had closed"
    )


def test_csat_is_off_by_default_with_a_default_question() -> None:
    settings = WorkspaceSettings(name="Acme")
    assert settings.csat.enabled is False and settings.csat.question == DEFAULT_CSAT_QUESTION
    saved = settings.model_dump(mode="json")
    assert csat.enabled(saved) is False and csat.question(saved) == DEFAULT_CSAT_QUESTION
    on = WorkspaceSettings(name="Acme", csat={"enabled": True, "question": "  "})
    assert on.csat.question == DEFAULT_CSAT_QUESTION  # a blank question falls back to the default
    with pytest.raises(ValueError):
        WorkspaceSettings(name="Acme", csat={"enabled": True, "question": "x" * 301})


def test_the_rating_page_admits_ten_submissions_of_a_survey_in_ten_minutes() -> None:
    from functions import rate

    rate.forget()
    assert all(rate._admit("ask-a", float(i)) for i in range(rate.SUBMISSIONS_PER_WINDOW))
    assert not rate._admit("ask-a", 11.0)
    assert rate._admit("ask-b", 11.0)  # another survey has its own count
    assert rate._admit("ask-a", rate.WINDOW_SECONDS + 1.0)  # the oldest left the window
    rate.forget()
