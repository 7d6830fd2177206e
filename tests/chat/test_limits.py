"""Quota and rate limits that hold under concurrency and cannot be escaped by inventing users.

The attacks: with a quota set to usage+3, 30 concurrent posts were all admitted but 10; and an API
key could spread posts over any number of user ids to escape the per-user limit."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from shared import store
from shared.chat import metering
from tests.chat.client import App

pytestmark = pytest.mark.integration


def test_concurrent_posts_never_exceed_the_monthly_quota(app: App) -> None:
    # The limit is set before the app's first call: chat_api caches a tenant's limits for a few
    # seconds, and this test is about the race, not that cache.
    store.put_tenant(app.app_id, {"limits": {"monthlyMessages": 3}})
    users = [f"racer{i}" for i in range(30)]
    channels = {}
    for user in users:
        app.ok("token", {"userId": user})
        channels[user] = app.ok("createSub", {"name": f"{user}'s room"}, user=user)["id"]
    assert store.usage_total(app.app_id, metering.month_of()) == 0

    def post(user: str) -> requests.Response:
        body = {"channelId": channels[user], "text": "race", "clientPostId": f"race-{user}"}
        return app.call("createPost", body, user=user)

    with ThreadPoolExecutor(max_workers=30) as pool:
        responses = list(pool.map(post, users))

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 3, 429: 27}, statuses
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 429} == {"quota_exceeded"}
    assert store.usage_total(app.app_id, metering.month_of()) == 3


def test_a_duplicate_post_gives_its_quota_place_back(app: App) -> None:
    store.put_tenant(app.app_id, {"limits": {"monthlyMessages": 2}})
    app.ok("token", {"userId": "alice"})
    channel = app.ok("createSub", {"name": "Metered"}, user="alice")["id"]
    body = {"channelId": channel, "text": "once", "clientPostId": "same"}
    first = app.ok("createPost", body, user="alice")
    assert app.ok("createPost", body, user="alice")["id"] == first["id"]  # a retry, not a new post
    app.ok("createPost", {"channelId": channel, "text": "twice", "clientPostId": "other"}, user="alice")
    assert store.usage_total(app.app_id, metering.month_of()) == 2


def test_an_api_key_cannot_escape_the_rate_limit_by_spreading_posts_over_users() -> None:
    metering.reset()
    admitted, refused = 0, []
    for i in range(metering.APP_POSTS_PER_SECOND + 10):
        try:
            metering.admit("spreader", f"invented-user-{i}")
            admitted += 1
        except metering.Throttled as exc:
            refused.append(exc)
    assert admitted == metering.APP_POSTS_PER_SECOND
    assert len(refused) == 10
    assert all(e.code == "rate_limited" and "for this app" in str(e) for e in refused)
    # Another app is not held back by this one's burst.
    metering.admit("another-app", "invented-user-0")
    metering.reset()


def test_a_user_refused_by_their_own_limit_does_not_use_up_the_apps() -> None:
    metering.reset()
    for _ in range(metering.POSTS_PER_SECOND):
        metering.admit("quiet-app", "chatty")
    for _ in range(100):
        with pytest.raises(metering.Throttled, match="per user"):
            metering.admit("quiet-app", "chatty")
    for i in range(metering.APP_POSTS_PER_SECOND - metering.POSTS_PER_SECOND):
        metering.admit("quiet-app", f"other-{i}")
    metering.reset()
