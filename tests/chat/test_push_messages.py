"""Chat push without the stack: the FCM message a post becomes, the roster's sharding, FCM's
answers as the sender reads them, and the FCM stand-in's own validation (it must refuse what FCM
refuses, or the fan-out tests would prove nothing)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from infra.local.fcm_standin import MAX_PAYLOAD_BYTES, FcmStandIn
from shared import config
from shared.chat import push


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[FcmStandIn]:
    """The FCM stand-in on a free port, with this process's push pointed at it."""
    with FcmStandIn(port=0) as running:
        monkeypatch.setenv("SWITCHBOARD_FCM_ENDPOINT", running.base_url)
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "push-test")
        config.reset()
        push.reset()
        yield running
    config.reset()
    push.reset()


def post(**overrides: object) -> push.Post:
    fields: dict[str, object] = {
        "app_id": "app1",
        "channel_id": "ch1",
        "post_id": "p1",
        "sender_id": "alice",
        "sender_name": "Alice",
        "text": "Meeting at 6",
        "channel_name": "Club",
        "seq": 42,
    }
    fields.update(overrides)
    return push.Post(**fields)  # type: ignore[arg-type]


def test_a_group_post_is_titled_by_the_channel_and_carries_string_data_and_one_tag_per_channel() -> None:
    message = post().message("tok-1")
    assert message["token"] == "tok-1"
    assert message["notification"] == {"title": "Club", "body": "Alice: Meeting at 6"}
    assert message["data"] == {"appId": "app1", "channelId": "ch1", "postId": "p1", "seq": "42"}
    tag = message["android"]["collapse_key"]
    assert message["android"]["notification"]["tag"] == tag
    assert message["apns"]["headers"]["apns-collapse-id"] == tag and len(tag.encode()) <= 64
    assert message["webpush"]["headers"]["Topic"] == tag and len(tag) <= 32
    assert message["webpush"]["notification"]["tag"] == tag
    # Another post in the same channel replaces the notification; another channel's does not.
    assert post(post_id="p2").message("tok-1")["android"]["collapse_key"] == tag
    assert post(channel_id="ch2").message("tok-1")["android"]["collapse_key"] != tag


def test_a_direct_post_is_titled_by_the_sender_and_long_text_is_truncated() -> None:
    message = post(channel_name=None, text="x" * 1000).message("tok")
    assert message["notification"]["title"] == "Alice"
    body = message["notification"]["body"]
    assert len(body) == push.BODY_CHARS and body.endswith("\u2026")


def test_roster_shards_are_stable_and_spread_10000_members_evenly() -> None:
    assert push.roster_shard("user-1") == push.roster_shard("user-1")
    counts = Counter(push.roster_shard(f"user-{i}") for i in range(10_000))
    assert len(counts) == push.ROSTER_SHARDS
    # Every member of a 10,000-member channel viewing it (one mark per VIEWING_REFRESH_SECONDS each)
    # still writes each shard less than once a second.
    assert max(counts.values()) / push.VIEWING_REFRESH_SECONDS < 1.0


def test_recipients_skip_the_sender_muted_and_viewing_members_in_a_stable_order() -> None:
    now = datetime.now(UTC)
    shards = [
        (
            "s001",
            {
                "alice": {"tokens": ["a1"]},
                "bob": {"tokens": ["b1", "b2", "b1"]},
                "carol": {"tokens": ["c1"], "muted": True},
                "dave": {"tokens": ["d1"], "viewingUntil": now + timedelta(seconds=60)},
                "erin": {"tokens": ["e1"], "viewingUntil": now - timedelta(seconds=1)},
                "fred": {"tokens": []},
            },
        ),
        ("s000", {"gina": {"tokens": ["g1"]}}),
    ]
    chosen, skipped = push.recipients(shards, "alice", now)
    assert [(r.shard, r.user_id, r.token) for r in chosen] == [
        ("s000", "gina", "g1"),
        ("s001", "bob", "b1"),
        ("s001", "bob", "b2"),
        ("s001", "erin", "e1"),
    ]
    assert skipped == {"sender": 1, "muted": 1, "viewing": 1, "no_token": 1}
    assert [len(b) for b in push.batches([chosen[0]] * 1201)] == [500, 500, 201]


def test_fcm_errors_are_read_as_fcm_documents_them(standin: FcmStandIn) -> None:
    standin.kill_tokens(["dead"])
    standin.invalidate_tokens(["bogus"])
    assert push.send_one(post().message("live")).ok
    dead = push.send_one(post().message("dead"))
    assert (dead.code, dead.http_status, dead.dead, dead.transient) == ("UNREGISTERED", 404, True, False)
    bogus = push.send_one(post().message("bogus"))
    assert (bogus.code, bogus.http_status, bogus.dead) == ("INVALID_TOKEN", 400, True)
    standin.fail_next(1)
    busy = push.send_one(post().message("live"))
    assert (busy.code, busy.http_status, busy.transient) == ("UNAVAILABLE", 503, True)
    standin.set_rate(1, retry_after=3)
    assert push.send_one(post().message("live")).ok
    limited = push.send_one(post().message("live"))
    assert (limited.code, limited.http_status, limited.retry_after, limited.transient) == (
        "QUOTA_EXCEEDED",
        429,
        3.0,
        True,
    )
    assert [m["message"]["token"] for m in standin.received()] == ["live", "live"]


def test_the_standin_refuses_what_fcm_refuses(standin: FcmStandIn) -> None:
    url = f"{standin.base_url}/v1/projects/push-test/messages:send"
    good = post().message("tok")
    bearer = {"Authorization": "Bearer x"}

    def send(body: object, headers: dict[str, str] | None = None) -> requests.Response:
        return requests.post(url, json=body, headers=headers if headers is not None else bearer, timeout=5)

    unauthenticated = send({"message": good}, headers={})
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["status"] == "UNAUTHENTICATED"
    two_targets = send({"message": {**good, "topic": "news"}})
    assert two_targets.status_code == 400
    assert two_targets.json()["error"]["details"][0]["errorCode"] == "INVALID_ARGUMENT"
    assert send({"message": {k: v for k, v in good.items() if k != "token"}}).status_code == 400
    assert send({"message": {**good, "data": {"seq": 42}}}).status_code == 400
    big = {**good, "data": {"blob": "x" * MAX_PAYLOAD_BYTES}}
    too_big = send({"message": big})
    assert too_big.status_code == 400 and "too big" in too_big.json()["error"]["message"]
    assert len(json.dumps(good["notification"]) + json.dumps(good["data"])) < MAX_PAYLOAD_BYTES
    ok = send({"message": good})
    assert ok.status_code == 200 and ok.json()["name"].startswith("projects/push-test/messages/")
    received = requests.get(f"{standin.base_url}/_received", timeout=5).json()
    assert [m["message"]["token"] for m in received["messages"]] == ["tok"]
    assert received["answers"] == {"401": 1, "400": 4, "200": 1}


def test_the_standin_is_configured_over_http_from_another_process(standin: FcmStandIn) -> None:
    requests.post(f"{standin.base_url}/_dead", json={"tokens": ["gone"]}, timeout=5).raise_for_status()
    requests.post(f"{standin.base_url}/_faults", json={"count": 1}, timeout=5).raise_for_status()
    assert push.send_one(post().message("x")).code == "UNAVAILABLE"
    assert push.send_one(post().message("gone")).code == "UNREGISTERED"
    requests.post(f"{standin.base_url}/_reset", json={}, timeout=5).raise_for_status()
    assert push.send_one(post().message("gone")).ok


def test_the_standin_starts_and_stops_in_a_thread_already_running_an_event_loop() -> None:
    """As the whole suite runs it: Playwright's sync API (the e2e tests) leaves an event loop
    running in the test thread, and every stack started after them starts a stand-in."""

    async def inside_a_running_loop() -> int:
        with FcmStandIn(port=0) as running:
            answer = requests.post(
                f"{running.base_url}/v1/projects/p/messages:send",
                json={"message": {"token": "t1", "data": {"k": "v"}}},
                headers={"Authorization": "Bearer x"},
                timeout=5,
            )
            return answer.status_code

    assert asyncio.run(inside_a_running_loop()) == 200


def test_a_jobs_progress_record_skips_what_was_handed_over_and_closes_finished_shards() -> None:
    a1, a2, b1 = (
        push.Recipient("s001", "ann", "a1"),
        push.Recipient("s001", "ann", "a2"),
        push.Recipient("s002", "bo", "b1"),
    )
    progress = push.Progress()
    remaining = {"s001": 2, "s002": 1}
    progress.mark(a1)
    remaining["s001"] -= 1
    progress.close_shards(remaining)
    assert progress.done == set() and progress.handled(a1) and not progress.handled(a2)
    progress.mark(a2)
    remaining["s001"] -= 1
    progress.close_shards(remaining)
    assert progress.done == {"s001"} and "s001" not in progress.sent
    record = progress.record()
    assert record["done"] == ["s001"] and record["sent"] == {} and record["complete"] is False
    assert "a1" not in str(record), "the record keeps hashes, never device tokens"
    again = push.Progress.load({"done": ["s001"], "sent": {"s002": [push.token_hash("b1")]}})
    assert again.handled(a1) and again.handled(a2) and again.handled(b1)
    assert not again.handled(push.Recipient("s002", "bo", "b2"))
