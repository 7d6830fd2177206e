"""Satisfaction surveys on the emulators, end to end on each of the five channel kinds: CSAT on, a
customer writes, an agent resolves, the survey reaches the provider sandbox in the provider's shape,
the customer answers the way the provider reports it (button, quick reply, list reply, the rating
page), and the rating lands on the conversation and as its activity line, without reopening it; a
redelivered answer writes nothing (shared/csat.py, functions/rate.py)."""

from __future__ import annotations

import html
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from infra.local import demo, payloads
from infra.local.provider_sandbox import SandboxRequest
from infra.local.simulate import text_payload
from infra.local.stack import LocalStack
from shared import csat, ids, store
from tests.support import agent_token, eventually, post_signed

pytestmark = pytest.mark.integration

T = demo.DEMO_TENANT
QUESTION = "How did we do today?"
CHANNELS = {c.channel_id: c for c in demo.DEMO_CHANNELS}
# channel kind -> (demo channel, the customer's id on it)
CUSTOMERS = {
    "messenger": (CHANNELS["messenger-main"], "24000000000000101"),
    "instagram": (CHANNELS["instagram-main"], "17841400000000102"),
    "whatsapp": (CHANNELS["whatsapp-main"], "15550003003"),
    "telegram": (CHANNELS["telegram-main"], "7123000104"),
    "twilio": (CHANNELS["twilio-sms"], "+15550003005"),
}


@pytest.fixture
def token(clean_stack: LocalStack) -> str:
    clean_stack.sandbox.clear()
    store.put_workspace_settings(T, {"name": "Demo Shop", "csat": {"enabled": True, "question": QUESTION}})
    return agent_token(clean_stack, T, "csat-agent@demo.test", name="Cora Agent")


def agent_api(stack: LocalStack, token: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = requests.post(
        stack.function_urls["agent_api"], headers={"Authorization": f"Bearer {token}"}, json=body, timeout=30
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def customer_writes(stack: LocalStack, kind: str, text: str = "Where is my parcel?") -> str:
    channel, contact = CUSTOMERS[kind]
    assert post_signed(stack, kind, text_payload(kind, text, contact, "Ada Customer")).status_code == 200
    conversation_id = ids.conversation_id(channel.channel_id, contact)
    eventually(lambda: store.get_conversation(T, conversation_id), what=f"the {kind} conversation")
    return conversation_id


def resolve(stack: LocalStack, token: str, conversation_id: str) -> None:
    agent_api(stack, token, {"action": "set_status", "conversationId": conversation_id, "status": "resolved"})


def stored(conversation_id: str) -> list[dict[str, Any]]:
    return [
        (snapshot.to_dict() or {}) | {"id": snapshot.id}
        for snapshot in store.conversation_ref(T, conversation_id).collection("messages").stream()
    ]


def lines(conversation_id: str, verb: str) -> list[dict[str, Any]]:
    found = [m for m in stored(conversation_id) if (m.get("activity") or {}).get("verb") == verb]
    return sorted(found, key=lambda m: m["sentAtMs"])


def sent_text(kind: str, call: SandboxRequest) -> str:
    """The text of a message the sandbox received (empty for anything else)."""
    body = call.json or {}
    if kind == "telegram":
        return str(body.get("text") or "")
    if kind in ("messenger", "instagram"):
        return str((body.get("message") or {}).get("text") or "")
    if kind == "whatsapp":
        return str((body.get("text") or {}).get("body") or "") if body.get("type") == "text" else ""
    return ((call.form or {}).get("Body") or [""])[0]


def thanks(stack: LocalStack, kind: str) -> list[SandboxRequest]:
    return [c for c in stack.sandbox.requests(kind) if "Thank you for your rating" in sent_text(kind, c)]


def is_ask(kind: str, call: SandboxRequest) -> bool:
    body = call.json or {}
    if kind == "telegram":
        return call.path.endswith("/sendMessage") and "reply_markup" in body
    if kind in ("messenger", "instagram"):
        return "quick_replies" in (body.get("message") or {})
    if kind == "whatsapp":
        return body.get("type") == "interactive"
    return bool(call.form) and QUESTION in (call.form.get("Body") or [""])[0]


def asks(stack: LocalStack, kind: str) -> list[SandboxRequest]:
    return [call for call in stack.sandbox.requests(kind) if is_ask(kind, call) and call.status in (200, 201)]


def the_ask(stack: LocalStack, kind: str, count: int = 1) -> SandboxRequest:
    found = eventually(lambda: len(asks(stack, kind)) >= count and asks(stack, kind), what=f"{kind} survey")
    return found[count - 1]


def ask_of(kind: str, call: SandboxRequest) -> tuple[str, list[str]]:
    """The survey's id and the choices' payloads, as the provider received them."""
    body = call.json or {}
    if kind == "telegram":
        choices = [row[0]["callback_data"] for row in body["reply_markup"]["inline_keyboard"]]
    elif kind in ("messenger", "instagram"):
        choices = [reply["payload"] for reply in body["message"]["quick_replies"]]
    else:
        choices = [row["id"] for row in body["interactive"]["action"]["sections"][0]["rows"]]
    parsed = csat.parse_payload(choices[0])
    assert parsed is not None
    return parsed[0], choices


def button_reply(kind: str, call: SandboxRequest, score: int, reply_id: str) -> dict[str, Any]:
    """The provider's webhook for the customer choosing ``score`` on the survey ``call`` sent."""
    channel, contact = CUSTOMERS[kind]
    ask, _choices = ask_of(kind, call)
    chosen = csat.payload(ask, score)
    title = csat.title(score)
    if kind == "telegram":
        sent = call.response["result"]
        return {
            "update_id": int(time.time() * 1000) % 2_000_000_000,
            "callback_query": {
                "id": reply_id,
                "from": {"id": int(contact), "is_bot": False, "first_name": "Ada"},
                "message": {
                    "message_id": sent["message_id"],
                    "date": sent["date"],
                    "chat": {"id": int(contact), "type": "private", "first_name": "Ada"},
                    "text": sent["text"],
                    "reply_markup": sent["reply_markup"],
                },
                "chat_instance": "-77",
                "data": chosen,
            },
        }
    if kind in ("messenger", "instagram"):
        body = payloads.messenger_text(
            channel.external_id,
            contact,
            title,
            mid=reply_id,
            kind="page" if kind == "messenger" else "instagram",
        )
        body["entry"][0]["messaging"][0]["message"]["quick_reply"] = {"payload": chosen}
        return body
    message = {
        "from": contact,
        "id": reply_id,
        "timestamp": str(int(time.time())),
        "type": "interactive",
        "interactive": {"type": "list_reply", "list_reply": {"id": chosen, "title": title}},
        "context": {"from": channel.external_id, "id": "wamid.survey"},
    }
    return payloads.whatsapp_change(
        channel.external_id, contacts=[payloads.whatsapp_contact(contact, "Ada Customer")], messages=[message]
    )


def rated(conversation_id: str, score: int) -> dict[str, Any]:
    return eventually(
        lambda: (
            ((store.get_conversation(T, conversation_id) or {}).get("csat") or {}).get("score") == score
            and store.get_conversation(T, conversation_id)
        ),
        what=f"the rating {score} on the conversation",
    )


def link_in(text: str) -> str:
    found = re.search(r"https?://\S+", text)
    assert found, text
    return found.group(0)


def submit(link: str, score: int | None, comment: str = "") -> requests.Response:
    token = parse_qs(urlparse(link).query)["k"][0]
    form = {"k": token, "comment": comment, **({"score": str(score)} if score else {})}
    return requests.post(link, data=form, timeout=30)


@pytest.mark.parametrize("kind", ["messenger", "instagram", "whatsapp", "telegram"])
def test_a_button_rating_lands_on_the_conversation_once_and_never_reopens_it(
    clean_stack: LocalStack, token: str, kind: str
) -> None:
    conversation_id = customer_writes(clean_stack, kind)
    resolve(clean_stack, token, conversation_id)
    call = the_ask(clean_stack, kind)
    ask, choices = ask_of(kind, call)
    assert choices == [csat.payload(ask, score) for score in (5, 4, 3, 2, 1)]
    body = call.json or {}
    if kind == "telegram":
        assert body["text"] == QUESTION
        assert body["reply_markup"]["inline_keyboard"][0][0]["text"] == "★★★★★ Excellent"
    elif kind == "whatsapp":
        assert body["interactive"]["type"] == "list" and body["interactive"]["body"]["text"] == QUESTION
    else:
        assert body["message"]["text"] == QUESTION and body["messaging_type"] == "RESPONSE"
    conversation = store.get_conversation(T, conversation_id) or {}
    assert conversation["csatAsk"]["askId"] == ask and conversation["csatAsk"]["channel"] == kind
    survey_id = csat.ask_message_id(conversation_id, ask)
    survey = store.get_message(T, conversation_id, survey_id)
    assert survey is not None and survey.data["sender"]["id"] == "csat" and survey.data["type"] == "csat"
    eventually(
        lambda: (store.get_message(T, conversation_id, survey_id) or survey).data.get("status") == "sent",
        what="the survey sent, with its ticks",
    )

    reply_id = f"wamid.{uuid.uuid4().hex}" if kind == "whatsapp" else f"m_{uuid.uuid4().hex}"
    if kind == "telegram":
        reply_id = str(uuid.uuid4().int % 10**18)
    reply = button_reply(kind, call, 4, reply_id)
    unread = conversation.get("unreadCount")
    assert post_signed(clean_stack, kind, reply).status_code == 200
    conversation = rated(conversation_id, 4)
    assert conversation["status"] == "resolved"  # a rating never reopens the conversation
    assert conversation["csat"]["askId"] == ask and conversation["csat"]["comment"] == ""
    assert conversation["csat"]["assigneeId"] == conversation.get("assigneeId")
    assert conversation.get("unreadCount") == unread  # nothing new to read
    (line,) = lines(conversation_id, "rate")
    assert line["id"] == f"rate-{ask}-1" and line["text"] == "Customer rated 4/5"
    assert line["direction"] == "system" and line["type"] == "activity" and line["reportAt"]
    assert line["activity"] | {"actorId": None, "actorName": None} == {
        "verb": "rate",
        "score": 4,
        "comment": "",
        "source": "buttons",
        "askId": ask,
        "replaces": None,
        "actorId": None,
        "actorName": None,
    }
    # The customer's tap is the rating, not a message: only their first message is stored as one.
    assert len([m for m in stored(conversation_id) if m.get("direction") == "in"]) == 1

    # The thank-you, once, with the rating page's link (the score preselected).
    (thank_you,) = eventually(lambda: thanks(clean_stack, kind), what="the thank-you")
    assert parse_qs(urlparse(link_in(sent_text(kind, thank_you))).query)["score"] == ["4"]
    if kind == "telegram":  # the pressed button's spinner stops
        eventually(
            lambda: [
                c for c in clean_stack.sandbox.requests("telegram") if c.path.endswith("/answerCallbackQuery")
            ],
            what="the callback query answered",
        )

    # The provider delivers the same reply again: nothing more is written.
    before = len(clean_stack.log_records("ingest"))
    assert post_signed(clean_stack, kind, reply).status_code == 200
    eventually(
        lambda: [r for r in clean_stack.log_records("ingest")[before:] if r.get("result") == "duplicate"],
        what="the redelivery ingested",
    )
    assert [line["id"] for line in lines(conversation_id, "rate")] == [f"rate-{ask}-1"]
    assert (store.get_conversation(T, conversation_id) or {})["csat"]["count"] == 1
    assert len(thanks(clean_stack, kind)) == 1


def test_sms_asks_with_a_link_and_the_rating_page_records_score_and_comment(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = customer_writes(clean_stack, "twilio")
    resolve(clean_stack, token, conversation_id)
    call = the_ask(clean_stack, "twilio")
    body = (call.form or {})["Body"][0]
    assert body.startswith(QUESTION + "\nReply with a number") and call.form["To"] == ["+15550003005"]
    link = link_in(body)
    assert link.startswith(clean_stack.function_urls["rate"])

    page = requests.get(link, timeout=30)
    assert page.status_code == 200 and html.escape(QUESTION) in page.text
    assert "Demo Shop" in page.text and page.headers["Cache-Control"] == "no-store"
    answer = submit(link, 4, "quick and kind")
    assert answer.status_code == 200 and 'data-testid="rate-thanks"' in answer.text
    conversation = rated(conversation_id, 4)
    assert conversation["status"] == "resolved" and conversation["csat"]["comment"] == "quick and kind"
    (line,) = lines(conversation_id, "rate")
    assert line["text"] == "Customer rated 4/5: “quick and kind”"
    assert line["activity"]["source"] == "page" and line["activity"]["replaces"] is None

    # The same form again (a double click) writes nothing; a change replaces the rating.
    assert submit(link, 4, "quick and kind").status_code == 200
    assert len(lines(conversation_id, "rate")) == 1
    assert submit(link, 2, "actually slow").status_code == 200
    conversation = rated(conversation_id, 2)
    first, second = lines(conversation_id, "rate")
    assert second["id"] == f"rate-{conversation['csat']['askId']}-2"
    assert second["activity"]["replaces"] == {"score": 4, "atMs": first["sentAtMs"]}
    assert conversation["csat"]["comment"] == "actually slow"

    # Too long a comment is refused with the form again; nothing is written.
    too_long = submit(link, 5, "x" * (csat.MAX_COMMENT + 1))
    assert too_long.status_code == 400 and 'data-testid="rate-error"' in too_long.text
    assert len(lines(conversation_id, "rate")) == 2


def test_a_lone_score_texted_back_by_sms_is_the_rating_and_any_other_text_a_message(
    clean_stack: LocalStack, token: str
) -> None:
    _, contact = CUSTOMERS["twilio"]
    conversation_id = customer_writes(clean_stack, "twilio")
    # Before any survey, a lone digit is an ordinary message (an answer to an agent's question).
    assert post_signed(clean_stack, "twilio", text_payload("twilio", "2", contact, "Ada")).status_code == 200
    eventually(lambda: any(m.get("text") == "2" for m in stored(conversation_id)), what="the plain '2'")
    resolve(clean_stack, token, conversation_id)
    the_ask(clean_stack, "twilio")

    reply = text_payload("twilio", "4/5", contact, "Ada")
    assert post_signed(clean_stack, "twilio", reply).status_code == 200
    conversation = rated(conversation_id, 4)
    assert conversation["status"] == "resolved", "a typed score never reopens the conversation"
    (line,) = lines(conversation_id, "rate")
    assert line["activity"]["source"] == "reply" and line["activity"]["score"] == 4
    assert not [m for m in stored(conversation_id) if m.get("text") == "4/5"], "not stored as a message"
    assert post_signed(clean_stack, "twilio", reply).status_code == 200  # redelivered: nothing new
    thanked = eventually(lambda: thanks(clean_stack, "twilio"), what="the thank-you with the page's link")
    assert len(thanked) == 1

    # Anything else the customer writes is a message, and reopens the conversation as always.
    post_signed(clean_stack, "twilio", text_payload("twilio", "4 more questions", contact, "Ada"))
    eventually(
        lambda: (store.get_conversation(T, conversation_id) or {}).get("status") == "open",
        what="reopened by a real message",
    )
    assert len(lines(conversation_id, "rate")) == 1


def test_a_changed_or_expired_link_answers_a_clear_page(clean_stack: LocalStack, token: str) -> None:
    conversation_id = customer_writes(clean_stack, "twilio")
    resolve(clean_stack, token, conversation_id)
    link = link_in((the_ask(clean_stack, "twilio").form or {})["Body"][0])
    ask = (store.get_conversation(T, conversation_id) or {})["csatAsk"]["askId"]
    base = clean_stack.function_urls["rate"]

    changed = requests.get(link[:-2] + ("AA" if not link.endswith("AA") else "BB"), timeout=30)
    assert changed.status_code == 400 and 'data-testid="rate-invalid"' in changed.text
    assert "Traceback" not in changed.text
    expired = csat.link_token(T, conversation_id, ask, int(time.time()) - 1)
    answer = requests.get(base, params={"k": expired}, timeout=30)
    assert answer.status_code == 410 and 'data-testid="rate-expired"' in answer.text
    posted = requests.post(base, data={"k": expired, "score": "5"}, timeout=30)
    assert posted.status_code == 410
    assert requests.get(base, timeout=30).status_code == 400  # no link at all
    assert lines(conversation_id, "rate") == []


def test_a_page_comment_after_a_button_rating_replaces_it_and_the_reports_can_tell(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = customer_writes(clean_stack, "telegram")
    resolve(clean_stack, token, conversation_id)
    call = the_ask(clean_stack, "telegram")
    reply = button_reply("telegram", call, 3, str(uuid.uuid4().int % 10**18))
    assert post_signed(clean_stack, "telegram", reply).status_code == 200
    rated(conversation_id, 3)
    thanked = eventually(lambda: thanks(clean_stack, "telegram"), what="the thank-you")
    link = link_in(sent_text("telegram", thanked[0]))
    page = requests.get(link, timeout=30)
    assert 'value="3" required checked' in page.text  # the pressed score, preselected
    assert submit(link, 3, "the second agent was great").status_code == 200
    conversation = eventually(
        lambda: (
            (store.get_conversation(T, conversation_id) or {}).get("csat", {}).get("comment")
            and store.get_conversation(T, conversation_id)
        ),
        what="the comment",
    )
    assert conversation["csat"]["score"] == 3 and conversation["csat"]["count"] == 2
    first, second = lines(conversation_id, "rate")
    assert second["activity"]["replaces"] == {"score": 3, "atMs": first["sentAtMs"]}
    assert second["activity"]["comment"] == "the second agent was great"

    # The reports' fold (queued by the rating like by any message) counts one rating, not two.
    admin = agent_token(clean_stack, T, "csat-admin@demo.test", role="admin", name="Ada Admin")
    today = time.strftime("%Y-%m-%d", time.gmtime())
    body = {"action": "reports", "fromDay": today, "toDay": today, "channel": "telegram"}

    def counted() -> dict[str, Any] | None:
        figures = agent_api(clean_stack, admin, body)["totals"].get("csat") or {}
        return figures if figures.get("ratings") else None

    figures = eventually(counted, timeout=60, what="the rating in the reports")
    assert figures["ratings"] == 1 and figures["distribution"] == [0, 0, 1, 0, 0]


def test_a_reopen_and_resolve_is_a_new_survey_and_bulk_resolving_asks_too(
    clean_stack: LocalStack, token: str
) -> None:
    conversation_id = customer_writes(clean_stack, "whatsapp")
    resolve(clean_stack, token, conversation_id)
    first, _ = ask_of("whatsapp", the_ask(clean_stack, "whatsapp"))
    agent_api(
        clean_stack, token, {"action": "set_status", "conversationId": conversation_id, "status": "open"}
    )
    resolve(clean_stack, token, conversation_id)  # the same conversation, resolved again
    resolve(clean_stack, token, conversation_id)  # already resolved: no new resolution, no new survey
    second, _ = ask_of("whatsapp", the_ask(clean_stack, "whatsapp", 2))
    assert second != first
    assert (store.get_conversation(T, conversation_id) or {})["csatAsk"]["askId"] == second

    # The old survey's answer is not recorded on the new one; the new survey's is.
    old = button_reply("whatsapp", the_ask(clean_stack, "whatsapp", 1), 1, f"wamid.{uuid.uuid4().hex}")
    assert post_signed(clean_stack, "whatsapp", old).status_code == 200
    new = button_reply("whatsapp", the_ask(clean_stack, "whatsapp", 2), 5, f"wamid.{uuid.uuid4().hex}")
    assert post_signed(clean_stack, "whatsapp", new).status_code == 200
    conversation = rated(conversation_id, 5)
    assert [line["activity"]["askId"] for line in lines(conversation_id, "rate")] == [second]
    assert conversation["status"] == "resolved"

    other = customer_writes(clean_stack, "messenger")
    answer = agent_api(
        clean_stack,
        token,
        {"action": "bulk", "op": "status", "status": "resolved", "conversationIds": [other]},
    )
    assert answer["succeeded"] == 1
    the_ask(clean_stack, "messenger")
    assert len(asks(clean_stack, "whatsapp")) == 2  # resolving a resolved conversation asked nothing


def test_a_closed_reply_window_sends_no_survey_and_says_why(clean_stack: LocalStack, token: str) -> None:
    conversation_id = customer_writes(clean_stack, "messenger")
    long_ago = int(time.time() * 1000) - 25 * 3600 * 1000
    store.update_conversation(T, conversation_id, {"replyWindow": {"expiresAtMs": long_ago, "needs": "tag"}})
    resolve(clean_stack, token, conversation_id)
    (line,) = eventually(lambda: lines(conversation_id, "csat_skip"), what="the reason no survey was sent")
    assert line["text"] == "No satisfaction survey was sent: the customer's reply window had closed"
    conversation = store.get_conversation(T, conversation_id) or {}
    assert conversation["csatSkipped"]["reason"] == "reply_window_closed"
    assert "csatAsk" not in conversation and asks(clean_stack, "messenger") == []


def test_with_csat_off_resolving_asks_nothing(clean_stack: LocalStack, token: str) -> None:
    store.put_workspace_settings(T, {"name": "Demo Shop", "csat": {"enabled": False, "question": QUESTION}})
    conversation_id = customer_writes(clean_stack, "telegram")
    resolve(clean_stack, token, conversation_id)
    (line,) = lines(conversation_id, "resolve")  # written before agent_api answered
    # Its survey was never queued (the hook queues nothing with CSAT off), so none can arrive later.
    change = store.ConversationChange(conversation_id, {}, line["id"], {"activity": {"verb": "resolve"}})
    assert csat.after_changes(T, [change], {conversation_id: "telegram"}) == 0
    assert asks(clean_stack, "telegram") == []
    assert "csatAsk" not in (store.get_conversation(T, conversation_id) or {})
