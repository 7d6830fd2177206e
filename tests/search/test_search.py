"""Search and the timeline on the real emulators (shared/search/): messages written by the real
write paths (ingest's inbox.apply, an agent's compose, a webhook through the whole stack), read back
through the same code agent_api and the CLI run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from infra.local import demo
from infra.local.stack import LocalStack
from shared import ids, inbox, outbox, search, store
from shared.auth import Caller
from shared.errors import Refused
from shared.models import DeleteEvent, EditEvent, MessageEvent, TextContent
from shared.search.backfill import backfill
from tests.support import agent_token, eventually, post_webhook, whatsapp_text_webhook

pytestmark = pytest.mark.integration

WA = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
TG = next(c for c in demo.DEMO_CHANNELS if c.kind == "telegram")
ACME = demo.OTHER_CHANNELS[0]
AGENT = Caller(uid="agent-1", tenant_id=demo.DEMO_TENANT, role="agent", name="Dana")
ACME_AGENT = Caller(uid="agent-2", tenant_id=demo.OTHER_TENANT, role="agent", name="Eve")
BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TEXT = "Où est mon colis? Crème brûlée"


@pytest.fixture(autouse=True)
def quiet_conversations() -> None:
    inbox.forget_summary_pace()


def arrive(
    text: str,
    n: int,
    *,
    channel: demo.DemoChannel = WA,
    contact: str = "15550001",
    name: str = "Kerry Fisher",
    at: datetime | None = None,
) -> tuple[str, str]:
    """A customer's text stored by ingest's own code; returns (conversation id, message id)."""
    wamid = f"m-{channel.kind}-{n}"
    outcome = inbox.apply(
        MessageEvent(
            channel=channel.kind,
            account_id=channel.external_id,
            contact_id=contact,
            event_id=wamid,
            message_id=wamid,
            content=TextContent(text=text),
            occurred_at=at or BASE + timedelta(minutes=n),
            contact_name=name,
        )
    )
    assert outcome.result == "created", outcome
    return str(outcome.conversation_id), str(outcome.message_id)


def found(query: str, caller: Caller = AGENT, **filters: object) -> list[str]:
    answer = search.search(caller, search.SearchRequest(query=query, **filters))
    return [r["snippet"] for r in answer["results"]]


def test_accents_case_and_scripts_are_folded(clean_stack: LocalStack) -> None:
    arrive("Votre colis est arrivé à MONTRÉAL", 1)
    arrive("Ёлка стоит в Москве", 2, contact="15550002")
    arrive("مَرْحَبًا بِكُمْ في المتجر", 3, contact="15550003")
    arrive("東京都に荷物が届きました", 4, contact="15550004")
    assert found("montreal arrive") == ["Votre colis est arrivé à MONTRÉAL"]
    assert found("Montréal") == ["Votre colis est arrivé à MONTRÉAL"]
    assert found("елка") == ["Ёлка стоит в Москве"]
    assert found("москв".upper()) == ["Ёлка стоит в Москве"]
    assert found("مرحبا") == ["مَرْحَبًا بِكُمْ في المتجر"]
    assert found("東京") == ["東京都に荷物が届きました"]
    assert found("荷物") == ["東京都に荷物が届きました"]
    answer = search.search(AGENT, search.SearchRequest(query="montr"))
    (result,) = answer["results"]
    start, end = result["highlights"][0]
    assert result["snippet"][start:end] == "MONTRÉAL"


def test_prefixes_of_three_letters_find_words_and_shorter_ones_are_refused(clean_stack: LocalStack) -> None:
    arrive("Where is my parcel?", 1)
    assert found("parc") == ["Where is my parcel?"]
    assert found("par") == ["Where is my parcel?"]
    assert found("parcels") == []
    with pytest.raises(Refused) as refused:
        found("pa")
    assert refused.value.code == "query_too_short"


def test_matches_come_newest_first_and_page_with_a_cursor(clean_stack: LocalStack) -> None:
    for n in range(7):
        arrive(f"invoice number {n}", n, contact=f"1555001{n}")
    arrive("nothing to see", 8)
    first = search.search(AGENT, search.SearchRequest(query="invoice", pageSize=3))
    assert [r["snippet"] for r in first["results"]] == [f"invoice number {n}" for n in (6, 5, 4)]
    rest: list[str] = []
    cursor = first["next"]
    while cursor:
        page = search.search(AGENT, search.SearchRequest(query="invoice", pageSize=3, cursor=cursor))
        rest += [r["snippet"] for r in page["results"]]
        cursor = page["next"]
    assert rest == [f"invoice number {n}" for n in (3, 2, 1, 0)]


def test_several_words_must_all_match(clean_stack: LocalStack) -> None:
    arrive("the red parcel arrived", 1)
    arrive("the blue parcel is late", 2)
    arrive("red wine", 3)
    assert found("parcel red") == ["the red parcel arrived"]
    assert found("late parc") == ["the blue parcel is late"]
    assert found("red") == ["red wine", "the red parcel arrived"]


def test_filters_by_channel_direction_date_status_assignee_and_label(clean_stack: LocalStack) -> None:
    wa_conversation, _ = arrive("refund please", 1)
    tg_conversation, _ = arrive("refund for order", 2, channel=TG, contact="4242")
    outbox.compose(
        AGENT,
        outbox.ComposeRequest.model_validate(
            {
                "conversationId": wa_conversation,
                "clientMessageId": "n1",
                "message": {"type": "note", "text": "refund approved internally"},
            }
        ),
    )
    assert found("refund", channel="telegram") == ["refund for order"]
    assert found("refund", channel=TG.channel_id) == ["refund for order"]
    assert found("refund", direction="note") == ["refund approved internally"]
    assert found("refund", direction="in", toMs=int((BASE + timedelta(minutes=2)).timestamp() * 1000)) == [
        "refund please"
    ]
    store.update_conversation(demo.DEMO_TENANT, tg_conversation, {"status": "resolved", "labels": ["vip"]})
    store.update_conversation(demo.DEMO_TENANT, wa_conversation, {"assigneeId": "agent-1"})
    assert found("refund", status="resolved") == ["refund for order"]
    assert found("refund", label="vip") == ["refund for order"]
    assert found("refund", label="nope") == []
    assert sorted(found("refund", assigneeId="agent-1")) == ["refund approved internally", "refund please"]


def test_notes_are_found_by_staff_and_search_is_refused_to_anyone_else(clean_stack: LocalStack) -> None:
    conversation, _ = arrive("hello there", 1)
    outbox.compose(
        AGENT,
        outbox.ComposeRequest.model_validate(
            {
                "conversationId": conversation,
                "clientMessageId": "n2",
                "message": {"type": "note", "text": "customer is grumpy"},
            }
        ),
    )
    assert found("grumpy") == ["customer is grumpy"]
    app_user = Caller(uid="app:u1", tenant_id=demo.DEMO_TENANT, role="user")
    with pytest.raises(Refused) as refused:
        found("grumpy", caller=app_user)
    assert refused.value.http_status == 403


def test_another_tenants_identical_message_is_never_returned(clean_stack: LocalStack) -> None:
    arrive("secret shipment tracking", 1)
    arrive("secret shipment tracking", 1, channel=ACME)
    ours = search.search(AGENT, search.SearchRequest(query="shipment"))["results"]
    theirs = search.search(ACME_AGENT, search.SearchRequest(query="shipment"))["results"]
    assert len(ours) == 1 and len(theirs) == 1
    assert ours[0]["conversationId"] == ids.conversation_id(WA.channel_id, "15550001")
    assert theirs[0]["conversationId"] == ids.conversation_id(ACME.channel_id, "15550001")
    other = search.timeline(ACME_AGENT, search.TimelineRequest())["messages"]
    assert [m["conversationId"] for m in other] == [theirs[0]["conversationId"]]
    foreign = search.engine._encode((0, f"tenants/{demo.DEMO_TENANT}/conversations/x/messages/y"))
    with pytest.raises(Refused) as refused:  # a cursor into another tenant is refused, not followed
        search.search(ACME_AGENT, search.SearchRequest(query="shipment", cursor=foreign))
    assert refused.value.code == "invalid_cursor"


def test_edits_and_deletes_update_what_is_found(clean_stack: LocalStack) -> None:
    arrive("my adress is wrong", 1)
    arrive("delete this embarrassing message", 2, contact="15550009")
    inbox.apply(
        EditEvent(
            channel="whatsapp",
            account_id=WA.external_id,
            contact_id="15550001",
            event_id="edit-1",
            target_message_id="m-whatsapp-1",
            text="my address is 5 Rue Lepic",
        )
    )
    inbox.apply(
        DeleteEvent(
            channel="whatsapp",
            account_id=WA.external_id,
            contact_id="15550009",
            event_id="delete-1",
            target_message_id="m-whatsapp-2",
        )
    )
    assert found("adress") == []
    assert found("lepic") == ["my address is 5 Rue Lepic"]
    assert found("embarrassing") == []


def test_timeline_pages_across_types_and_conversations_in_both_orders(clean_stack: LocalStack) -> None:
    same = BASE + timedelta(minutes=5)  # several messages at one instant: the cursor breaks the tie
    expected = []
    for n in range(9):
        conversation, message = arrive(f"line {n}", n, contact=f"1555002{n % 3}", at=same if n >= 5 else None)
        expected.append(message)
    conversation = ids.conversation_id(WA.channel_id, "15550020")
    outbox.compose(
        AGENT,
        outbox.ComposeRequest.model_validate(
            {
                "conversationId": conversation,
                "clientMessageId": "n3",
                "message": {"type": "note", "text": "a note"},
            }
        ),
    )

    def walk(order: str, **filters: object) -> list[dict]:
        seen: list[dict] = []
        cursor = None
        while True:
            page = search.timeline(
                AGENT, search.TimelineRequest(order=order, pageSize=4, cursor=cursor, **filters)
            )
            assert len(page["messages"]) <= 4
            seen += page["messages"]
            cursor = page["next"]
            if cursor is None:
                return seen

    newest = walk("newest")
    oldest = walk("oldest")
    assert [m["messageId"] for m in newest] == [m["messageId"] for m in reversed(oldest)]
    assert len(newest) == 10 and len({m["messageId"] for m in newest}) == 10
    assert newest[0]["type"] == "note" and newest[0]["direction"] == "note"
    assert {m["conversationId"] for m in newest} == {
        ids.conversation_id(WA.channel_id, f"1555002{k}") for k in range(3)
    }
    assert [m["sentAtMs"] for m in newest] == sorted((m["sentAtMs"] for m in newest), reverse=True)
    assert newest[-1]["contact"]["name"] == "Kerry Fisher"
    assert [m["type"] for m in walk("newest", types=["note"])] == ["note"]
    assert len(walk("oldest", directions=["in"])) == 9
    window = walk(
        "oldest",
        fromMs=int((BASE + timedelta(minutes=1)).timestamp() * 1000),
        toMs=int((BASE + timedelta(minutes=3)).timestamp() * 1000),
    )
    assert [m["text"] for m in window] == ["line 1", "line 2"]


def test_contacts_are_found_by_name_and_number(clean_stack: LocalStack) -> None:
    arrive("hi", 1, name="Lucía Fernández", contact="34600111222")
    (contact,) = search.search(AGENT, search.SearchRequest(query="lucia"))["contacts"]
    assert contact["name"] == "Lucía Fernández"
    assert contact["conversationId"] == ids.conversation_id(WA.channel_id, "34600111222")
    assert [c["name"] for c in search.search(AGENT, search.SearchRequest(query="346001"))["contacts"]] == [
        "Lucía Fernández"
    ]
    arrive("hi again", 2, name="Lucía Gómez", contact="34600111222")  # renamed: the old name is gone
    assert search.search(AGENT, search.SearchRequest(query="fernandez"))["contacts"] == []
    assert [c["name"] for c in search.search(AGENT, search.SearchRequest(query="gomez"))["contacts"]] == [
        "Lucía Gómez"
    ]


def test_backfill_makes_older_messages_searchable_once(clean_stack: LocalStack) -> None:
    conversation, message = arrive("legacy courier message", 1)
    store.update_message(
        demo.DEMO_TENANT,
        conversation,
        message,
        {k: store.delete_field() for k in ("tenantId", "conversationId", "sentAtMs", "terms")},
    )
    assert found("courier") == []
    first = backfill(demo.DEMO_TENANT)
    assert first.messages_written == 1
    assert found("courier") == ["legacy courier message"]
    assert backfill(demo.DEMO_TENANT).messages_written == 0


def test_a_new_message_is_searchable_through_agent_api_right_after_the_webhook(
    clean_stack: LocalStack,
) -> None:
    token = agent_token(clean_stack, demo.DEMO_TENANT, "searcher@demo.test")
    url = clean_stack.function_urls["agent_api"]

    def ask(body: dict) -> dict:
        response = requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert response.status_code == 200, response.text
        return dict(response.json())

    assert ask({"action": "search", "query": "creme"})["results"] == []  # agent_api warm
    response = post_webhook(
        clean_stack,
        "whatsapp",
        whatsapp_text_webhook(WA.external_id, "15559990", TEXT, wamid="wamid.CREME"),
    )
    assert response.status_code == 200
    conversation = ids.conversation_id(WA.channel_id, "15559990")
    message_id = ids.message_id(WA.channel_id, "wamid.CREME")
    stored = lambda: store.get_message(demo.DEMO_TENANT, conversation, message_id)  # noqa: E731
    eventually(stored, timeout=10, what="ingest")
    # The search fields were in the message's own create: the first search after ingest finds it.
    results = ask({"action": "search", "query": "creme brul"})["results"]
    assert [r["messageId"] for r in results] == [message_id]
    assert results[0]["snippet"] == TEXT
    page = ask({"action": "timeline", "pageSize": 5})
    assert page["messages"][0]["messageId"] == results[0]["messageId"]
    refused = requests.post(
        url, json={"action": "assign"}, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert refused.status_code == 400


def test_the_cli_prints_search_results_and_the_timeline_as_json_lines(
    clean_stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    from shared import cli

    arrive("parcel one", 1)
    arrive("parcel two", 2, contact="15550002")
    assert cli.main(["search", "--tenant", demo.DEMO_TENANT, "parcel", "--max", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["snippet"] for line in lines] == ["parcel two"]
    timeline = ["timeline", "--tenant", demo.DEMO_TENANT, "--order", "oldest", "--from", "2026-03-01"]
    assert cli.main(timeline) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["text"] for line in lines] == ["parcel one", "parcel two"]
    assert cli.main(["backfill-search", "--tenant", demo.DEMO_TENANT, "--dry-run"]) == 0
    assert "would write 0" in capsys.readouterr().err


def test_activity_lines_are_on_the_timeline_when_asked_for_and_never_found_by_words(
    clean_stack: LocalStack,
) -> None:
    from shared import conversations

    conversation, message = arrive("resolved already?", 1)
    conversations.set_status(AGENT, conversation, "resolved", None)

    lines = search.timeline(AGENT, search.TimelineRequest(directions=["system"]))["messages"]
    assert [(m["type"], m["conversationId"]) for m in lines] == [("activity", conversation)]
    assert "resolved" in (lines[0]["text"] or "")
    assert [m["messageId"] for m in search.timeline(AGENT, search.TimelineRequest())["messages"]] == [message]
    assert [
        m["messageId"]
        for m in search.timeline(ACME_AGENT, search.TimelineRequest(directions=["system"]))["messages"]
    ] == []
    assert found("resolved") == ["resolved already?"]
