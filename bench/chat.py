"""Chat API benchmarks on the emulators (``python -m bench.chat``).

1. Latency: ``createPost`` (HTTP to the local chat_api function) -> another member's Firestore
   listener (``on_snapshot`` on the channel's messages, newest first, limited), as an app's client
   listens. p50/p99 from the moment the POST starts to the listener callback, over >= 200 posts by
   several users (paced, each user well under the 5 posts/s limit); also the POST's own round trip.
2. Throughput: concurrent callers posting through ONE chat_api instance (functions-framework,
   THREADS as the local stack sets them), spread over several channels, then all into one channel
   (every post of a channel writes the same channel summary and member documents). Rate-limited
   posts (429) are retried as clients do and not counted twice.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from bench.stats import report, summary
from infra.local.stack import LocalStack
from tests.chat.client import App, create_app

LATENCY_POSTS = 220
WARMUP = 20
LATENCY_POSTERS = 10
PACE_SECONDS = 0.05
THROUGHPUT_USERS = 48
THROUGHPUT_CHANNELS = 12
THROUGHPUT_POSTS = 600
HOT_CHANNEL_MEMBERS = 16
HOT_CHANNEL_POSTS = 200
CALLERS = 16


def _setup_channel(app: App, name: str, members: list[str]) -> str:
    channel = app.ok("createSub", {"name": name}, user=members[0])["id"]
    for user in members[1:]:
        app.ok("createSub", {"channelId": channel}, user=user)
    return channel


def latency(app: App) -> dict[str, Any]:
    """createPost -> another member's listener."""
    from shared import store

    posters = [f"poster{i}" for i in range(LATENCY_POSTERS)]
    for user in [*posters, "listener"]:
        app.ok("token", {"userId": user, "name": user})
    channel = _setup_channel(app, "latency", [*posters, "listener"])

    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    lock = threading.Lock()
    everything = threading.Event()

    def on_snapshot(snapshots: list, changes: list, read_time: object) -> None:
        now = time.perf_counter()
        with lock:
            for change in changes:
                text = (change.document.to_dict() or {}).get("text", "")
                if text in sent and text not in seen:
                    seen[text] = now
            if len(seen) >= LATENCY_POSTS - WARMUP:
                everything.set()

    watch = (
        store.conversation_ref(app.app_id, channel)
        .collection("messages")
        .order_by("createdAt", direction="DESCENDING")
        .limit(20)
        .on_snapshot(on_snapshot)
    )
    session = requests.Session()
    round_trips: list[float] = []
    try:
        for i in range(LATENCY_POSTS):
            text = f"latency {i} {uuid.uuid4().hex[:8]}"
            started = time.perf_counter()
            if i >= WARMUP:
                with lock:
                    sent[text] = started
            body = {"channelId": channel, "text": text, "clientPostId": f"l{i}"}
            response = app.call("createPost", body, user=posters[i % len(posters)], session=session)
            response.raise_for_status()
            if i >= WARMUP:
                round_trips.append((time.perf_counter() - started) * 1000)
            time.sleep(PACE_SECONDS)
        everything.wait(timeout=60)
    finally:
        watch.unsubscribe()
    latencies = [(seen[t] - sent[t]) * 1000 for t in sent if t in seen]
    return {
        "listener": {**summary(latencies), "lost": len(sent) - len(latencies)},
        "create_post_round_trip": summary(round_trips),
        "_samples_ms": latencies,
    }


def _post_all(app: App, jobs: list[tuple[str, str, str]]) -> tuple[float, int]:
    """Post every (user, channel, clientPostId) with CALLERS concurrent callers; (seconds, 429s)."""
    limited = 0
    lock = threading.Lock()
    local = threading.local()

    def post(job: tuple[str, str, str]) -> None:
        nonlocal limited
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        user, channel, client_id = job
        while True:
            response = app.call(
                "createPost",
                {"channelId": channel, "text": client_id, "clientPostId": client_id},
                user=user,
                session=session,
            )
            if response.status_code != 429:
                response.raise_for_status()
                return
            with lock:
                limited += 1
            time.sleep(0.1)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CALLERS) as pool:
        list(pool.map(post, jobs))
    return time.perf_counter() - started, limited


def throughput(app: App) -> dict[str, Any]:
    """Accepted posts per second through one chat_api instance."""
    users = [f"user{i}" for i in range(THROUGHPUT_USERS)]
    for user in users:
        app.ok("token", {"userId": user, "name": user})
    per_channel = THROUGHPUT_USERS // THROUGHPUT_CHANNELS
    channels = [
        (_setup_channel(app, f"spread{c}", users[c * per_channel : (c + 1) * per_channel]), c)
        for c in range(THROUGHPUT_CHANNELS)
    ]
    jobs = []
    for i in range(THROUGHPUT_POSTS):
        channel, c = channels[i % THROUGHPUT_CHANNELS]
        user = users[c * per_channel + (i // THROUGHPUT_CHANNELS) % per_channel]
        jobs.append((user, channel, f"t{i}"))
    seconds, limited = _post_all(app, jobs)
    spread = {
        "posts": THROUGHPUT_POSTS,
        "channels": THROUGHPUT_CHANNELS,
        "members_per_channel": per_channel,
        "callers": CALLERS,
        "seconds": round(seconds, 2),
        "posts_per_second": round(THROUGHPUT_POSTS / seconds, 1),
        "rate_limited_retries": limited,
    }

    hot_members = users[:HOT_CHANNEL_MEMBERS]
    hot = _setup_channel(app, "hot", hot_members)
    hot_jobs = [(hot_members[i % HOT_CHANNEL_MEMBERS], hot, f"h{i}") for i in range(HOT_CHANNEL_POSTS)]
    seconds, limited = _post_all(app, hot_jobs)
    one = {
        "posts": HOT_CHANNEL_POSTS,
        "members": HOT_CHANNEL_MEMBERS,
        "callers": CALLERS,
        "seconds": round(seconds, 2),
        "posts_per_second": round(HOT_CHANNEL_POSTS / seconds, 1),
        "rate_limited_retries": limited,
    }
    return {"spread_over_channels": spread, "one_channel": one}


def run() -> dict[str, Any]:
    """Start the emulators and the chat functions, measure, print and return the figures."""
    with LocalStack(functions=("chat_api", "create_app"), with_tasks=False, with_sandbox=False) as stack:
        stack.apply_env()
        figures: dict[str, Any] = {}
        figures["latency"] = latency(create_app(stack, "Bench latency"))
        figures["_samples_ms"] = figures["latency"].pop("_samples_ms")  # the report's histogram
        figures["throughput"] = throughput(create_app(stack, "Bench throughput"))
        figures["firestore_writes_per_post"] = "members + 3 (message, channel summary, usage shard, "
        figures["firestore_writes_per_post"] += "rate bucket, +1 unread per other member), one commit"
    report("chat_post_to_listener", figures["latency"]["listener"])
    report("chat_create_post_round_trip", figures["latency"]["create_post_round_trip"])
    report("chat_throughput_spread", figures["throughput"]["spread_over_channels"])
    report("chat_throughput_one_channel", figures["throughput"]["one_channel"])
    return figures


if __name__ == "__main__":
    run()
