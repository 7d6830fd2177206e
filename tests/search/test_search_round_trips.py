"""How many times a search asks Firestore, and what it waits for: each query is a round trip (on the
emulator, a scan of the whole database), so a filtered scan grows its pages and the contacts are
looked up while the messages are scanned. The store is replaced by a recorder here; what the
queries return is proven on the emulator in test_search.py."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from shared import search, store
from shared.auth import Caller
from shared.search import engine
from shared.search.fields import term_key

AGENT = Caller(uid="agent-1", tenant_id="demo", role="agent", name="Dana")


def messages(count: int, newest_ms: int = 10_000_000) -> list[store.FoundMessage]:
    """``count`` messages holding only the anchor word, newest first, in one conversation."""
    return [
        store.FoundMessage(
            conversation_id="co1",
            message_id=f"m{i}",
            path=f"tenants/demo/conversations/co1/messages/m{i}",
            data={"sentAtMs": newest_ms - i, "direction": "in", "text": "parcel", "terms": {}},
        )
        for i in range(count)
    ]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Every message is 'parcel', none is 'zanzibar': a two-word search keeps nothing."""
    everything = messages(2_000)
    calls: dict[str, Any] = {"limits": []}

    def tenant_messages(key: str, *, after: tuple[int, str] | None = None, limit: int = 100, **_: Any) -> Any:
        calls["limits"].append(limit)
        start = 0 if after is None else next(i for i, m in enumerate(everything) if m.path == after[1]) + 1
        return everything[start : start + limit]

    monkeypatch.setattr(store, "tenant_messages", tenant_messages)
    monkeypatch.setattr(store, "get_conversations", lambda _t, ids: {c: {"kind": "support"} for c in ids})
    return calls


def test_a_filter_that_keeps_nothing_reads_the_budget_in_three_queries_not_five(
    recorded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "contacts_with_term", lambda *_: [])
    answer = search.search(AGENT, search.SearchRequest(query="parcel zanzibar"))
    assert answer["results"] == []
    assert recorded["limits"] == [100, 200, 200]
    assert answer["read"] == engine.SCAN_BUDGET
    assert answer["next"] is not None  # more to read: the cursor continues after the 500th


def test_an_unfiltered_search_asks_once_for_one_page(
    recorded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "contacts_with_term", lambda *_: [])
    answer = search.search(AGENT, search.SearchRequest(query="parcel", pageSize=20))
    assert len(answer["results"]) == 20
    assert recorded["limits"] == [21]


def test_contacts_are_looked_up_while_the_messages_are_scanned(
    recorded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    contacts_started = threading.Event()
    original = store.tenant_messages

    def contacts_with_term(tenant_id: str, term: str, limit: int) -> list[tuple[str, dict[str, Any]]]:
        assert term == "zanzibar"
        contacts_started.set()
        return [
            (
                "ct1",
                {
                    "name": "Zanzibar Imports",
                    "channelId": "ch1",
                    "externalId": "1555",
                    "terms": {"zanzibar": True},
                },
            )
        ]

    def tenant_messages(key: str, **kwargs: Any) -> Any:
        # A sequential search would scan first and look contacts up after: this would time out.
        assert contacts_started.wait(timeout=10), "contacts were not looked up beside the scan"
        assert key == term_key("demo", "zanzibar")
        return original(key, **kwargs)

    monkeypatch.setattr(store, "contacts_with_term", contacts_with_term)
    monkeypatch.setattr(store, "tenant_messages", tenant_messages)
    answer = search.search(AGENT, search.SearchRequest(query="zanzibar"))
    assert [c["name"] for c in answer["contacts"]] == ["Zanzibar Imports"]


def test_a_later_page_does_not_look_contacts_up_again(
    recorded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    looked: list[str] = []
    monkeypatch.setattr(store, "contacts_with_term", lambda _t, term, _l: looked.append(term) or [])
    first = search.search(AGENT, search.SearchRequest(query="parcel", pageSize=5))
    second = search.search(AGENT, search.SearchRequest(query="parcel", pageSize=5, cursor=first["next"]))
    assert len(second["results"]) == 5
    assert looked == ["parcel"]
