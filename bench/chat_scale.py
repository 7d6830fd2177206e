"""Chat at community scale (issue 14, part 9): what one post costs in channels of 2, 100, 1,000 and
10,000 members, through the public chat API, and what would break Firestore's production limits.

Everything goes through ``chat_api`` served by functions-framework on the local stack (with
``deliver``, Cloud Tasks and the FCM stand-in when the tree has them), so it measures whatever the
code on the tree does. Every function process logs its Firestore operations (bench/limits.py,
installed by meter_site/sitecustomize.py); this process's listeners count what they are billed.

Per channel size N it prints one JSON line:

- ``writes_per_post`` / ``reads_per_post``: Firestore documents written / billed reads by ``chat_api``
  (the request path, including its own background flushes) per post; ``background_*``: the same
  for queued work (``deliver``: push jobs, summary folds);
- ``listener_reads_per_post``: for :data:`ONLINE_SHARE` of the members online, each holding the
  embed's listeners (its channel list, the open channel, its own membership, as the tree's model
  has them: see :func:`listen`), measured with up to :data:`LISTENER_SAMPLE` members' real
  Firestore listeners (three each before, two after: see :func:`listen`) and scaled to
  ``ONLINE_SHARE * N``;
- ``max_document_writes_per_second`` (and the busiest document), ``post_latency_ms`` p50/p99 of the
  round trip of ``createPost`` from one client, ``firestore_cost_per_1m_posts`` at us-central1 list
  prices (bench/report.py ``PRICES``), the channel document's size and index entries;
- ``push_fanout_seconds``: one post, until the FCM stand-in has received a notification for every
  other member (all have a device token); null, with the reason, when the tree has no stand-in.

Then one line at :data:`TARGET_RATE` posts/s into the largest channel with the limits verdict
(bench/limits.py): measured, and projected to the target rate from the per-post writes when the
emulator could not keep the rate up.

Seeding: the first :data:`API_SEED` members of each channel join through ``addMember`` (the app
backend's API key), in parallel; the rest are cloned from what ``addMember`` wrote for them (the
member document, the channel's member list or count, the push-roster entry) with direct batched
writes, since the API adds about 100 members a second here. Each line says which.

    python -m bench.chat_scale [--sizes 2,100,1000,10000] [--posts 24] [--smoke] [--save PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import subprocess
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from bench import limits
from bench.stats import percentile

SIZES = (2, 100, 1_000, 10_000)
SMOKE_SIZES = (2, 100)
ONLINE_SHARE = 0.10
LISTENER_SAMPLE = 100  # online members viewing the channel, simulated with real listeners
API_SEED = 100  # members per channel added through addMember; the rest are cloned
API_CALLERS = 16
POSTERS = 10  # members who post, in turn (each well under the 5 posts/s per-user limit)
POSTS = 24
LISTENED_POSTS = 12  # posts while the listeners count
POST_RATE = 4.0  # posts a second in the per-N phase (one client, sequential)
PHASE_SECONDS = 20.0  # at most this long posting per N (a slow tree posts fewer, at least MIN_POSTS)
MIN_POSTS = 3
TARGET_RATE = 10.0  # the limits line: posts a second into the largest channel
TARGET_SECONDS = 5.0
TARGET_CALLERS = 10
RATE_POSTERS = 20  # members posting in turn at TARGET_RATE (0.5 posts/s each: a busy channel, not one user)
PUSH_TIMEOUT = 60.0
TRANSIENT_RETRIES = 3
POST_TIMEOUT = 120.0  # a post into a large channel of the old model takes seconds, more under load
SETTLE_SECONDS = 1.5  # after a phase, for queued work (folds, push jobs) to land in the window
BEFORE_PATH = Path(__file__).resolve().parent / "results" / "chat_scale_before.json"
REPO = Path(__file__).resolve().parents[1]


def _prices() -> dict[str, float]:
    from bench.report import PRICES

    return PRICES


def cost_per_million(writes: float, reads: float, prices: dict[str, float] | None = None) -> float:
    """USD of Firestore operations for 1,000,000 posts of ``writes`` and ``reads`` each."""
    prices = prices or _prices()
    per_100k = 1_000_000 / 100_000
    return round(
        writes * per_100k * prices["firestore_write_per_100k"]
        + reads * per_100k * prices["firestore_read_per_100k"],
        2,
    )


def commit_of(repo: Path = REPO) -> str:
    """The commit the code under test came from (with ``+changes`` when the tree differs from it)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        marker = repo / ".commit"  # an exported tree (git archive) names its commit here
        return marker.read_text().strip() if marker.exists() else "unknown"
    return head + ("+changes" if dirty else "")


# --- the app and its members ------------------------------------------------------------------------


def _session_pool() -> Callable[[], requests.Session]:
    local = threading.local()

    def session() -> requests.Session:
        found = getattr(local, "session", None)
        if found is None:
            found = local.session = requests.Session()
        return found

    return session


def seed_users(app_id: str, count: int) -> None:
    """The app's first ``count`` users (profiles as ``token`` writes them), in batches."""
    from shared import store

    db = store.client()
    users = db.collection("tenants").document(app_id).collection("users")
    for start in range(0, count, 500):
        batch = db.batch()
        for i in range(start, min(count, start + 500)):
            batch.set(users.document(user_id(i)), {"userId": user_id(i), "name": f"User {i}"})
        batch.commit()


def user_id(i: int) -> str:
    """The app's i-th user: 24 characters, about what apps use (the channel document's size in the
    old model grows with the ids' length)."""
    return f"member{i:05d}-{hashlib.sha256(str(i).encode()).hexdigest()[:12]}"


def push_token(user: str) -> str:
    return f"bench-device-{user}"


def clone_members(
    app_id: str, channel_id: str, template_user: str, users: list[str], *, first: bool, tokens: bool
) -> None:
    """Give ``users`` what ``template_user``'s membership looks like (member document, push-roster
    entry, with their own device token when ``tokens``), with direct batched writes; when ``first``
    also the channel's member list (``memberIds``, if the tree keeps one) and ``memberCount``."""
    from google.cloud import firestore

    from shared import store

    db = store.client()
    channel = store.conversation_ref(app_id, channel_id)
    template = channel.collection("members").document(template_user).get().to_dict() or {}

    def member(user: str) -> dict[str, Any]:
        doc = {k: (user if v == template_user else v) for k, v in template.items()}
        if "pushTokens" in doc:
            doc["pushTokens"] = [push_token(user)] if tokens else []
        return doc

    def commit(chunk: list[str]) -> None:
        batch = db.batch()
        for user in chunk:
            batch.set(channel.collection("members").document(user), member(user))
        batch.commit()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(commit, [users[i : i + 400] for i in range(0, len(users), 400)]))
    if first:
        data = channel.get().to_dict() or {}
        if "memberIds" in data:
            for i in range(0, len(users), 1000):
                channel.update({"memberIds": firestore.ArrayUnion(users[i : i + 1000])})
        if "memberCount" in data:
            channel.update({"memberCount": firestore.Increment(len(users))})
    entry = None
    for shard in channel.collection("pushRoster").stream():
        found = ((shard.to_dict() or {}).get("members") or {}).get(template_user)
        if isinstance(found, dict):
            entry = found
    if entry is not None:
        from shared.chat.push import roster_shard

        by_shard: dict[str, dict[str, Any]] = defaultdict(dict)
        for user in users:
            mine = dict(entry)
            mine["tokens"] = [push_token(user)] if tokens else []
            by_shard[roster_shard(user)][user] = mine
        shards = list(by_shard.items())
        for i in range(0, len(shards), 400):
            batch = db.batch()
            for shard, members in shards[i : i + 400]:
                batch.set(channel.collection("pushRoster").document(shard), {"members": members}, merge=True)
            batch.commit()


@dataclasses.dataclass
class Channel:
    size: int
    channel_id: str
    members: list[str]
    api_seeded: int
    cloned: int
    seed_seconds: float

    @property
    def seeding(self) -> str:
        if not self.cloned:
            return f"all {self.api_seeded} members through the API (addMember with the app's key)"
        return (
            f"{self.api_seeded} members through the API (addMember with the app's key), "
            f"{self.cloned} cloned from them with direct batched writes"
        )


def seed_channel(app: Any, size: int) -> Channel:
    """A group channel of the first ``size`` users (the first its owner)."""
    started = time.perf_counter()
    members = [user_id(i) for i in range(size)]
    channel_id = app.ok("createSub", {"name": f"scale {size}"}, user=members[0])["id"]
    through_api = members[1:API_SEED]
    session = _session_pool()

    def add(user: str) -> None:
        response = app.call("addMember", {"channelId": channel_id, "userId": user}, session=session())
        assert response.status_code == 200, f"addMember: {response.status_code} {response.text}"

    with ThreadPoolExecutor(max_workers=API_CALLERS) as pool:
        list(pool.map(add, through_api))
    rest = members[API_SEED:]
    if rest:
        clone_members(app.app_id, channel_id, members[1], rest, first=True, tokens=False)
    return Channel(size, channel_id, members, min(size, API_SEED), len(rest), time.perf_counter() - started)


def register_tokens(app: Any, channel: Channel) -> None:
    """Every member gets a device token: ``upsertSub`` for those added through the API, cloned for
    the rest."""
    session = _session_pool()

    def upsert(user: str) -> None:
        body = {"channelId": channel.channel_id, "pushToken": push_token(user)}
        response = app.call("upsertSub", body, user=user, session=session())
        assert response.status_code == 200, f"upsertSub: {response.status_code} {response.text}"

    with ThreadPoolExecutor(max_workers=API_CALLERS) as pool:
        list(pool.map(upsert, channel.members[:API_SEED]))
    rest = channel.members[API_SEED:]
    if rest:
        clone_members(app.app_id, channel.channel_id, channel.members[1], rest, first=False, tokens=True)


# --- listeners --------------------------------------------------------------------------------------


class Listeners:
    """Online members' real Firestore listeners, as the embed of the tree's model holds them; counts
    the billed reads (each added or modified document a snapshot delivers) after the first
    snapshots (the page load is not a post's cost)."""

    def __init__(self, app_id: str, channel_id: str, users: list[str], legacy: bool) -> None:
        self.reads = 0
        self.by_listener: Counter[str] = Counter()
        self._counting = False
        self._first = 0
        self._lock = threading.Lock()
        self._watches: list[Any] = []
        kinds = ("channel_list", "membership", "posts") if legacy else ("membership", "posts")
        for user in users:
            for kind, query in zip(kinds, listen(app_id, channel_id, user, legacy), strict=True):
                self._watches.append(query.on_snapshot(functools.partial(self._on_snapshot, kind)))

    def _on_snapshot(self, kind: str, snapshots: list[Any], changes: list[Any], read_time: Any) -> None:
        billed = sum(1 for c in changes if getattr(c.type, "name", str(c.type)) in ("ADDED", "MODIFIED"))
        with self._lock:
            self._first += 1
            if self._counting:
                self.reads += billed
                self.by_listener[kind] += billed

    def start_counting(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._first >= len(self._watches):
                    break
            time.sleep(0.05)
        with self._lock:
            self._counting = True
            self.reads = 0
            self.by_listener.clear()

    def settle(self, quiet: float = 2.5, timeout: float = 30.0) -> int:
        """Wait until the count has not moved for ``quiet`` seconds; return it."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            with self._lock:
                now_reads = self.reads
            if now_reads != last:
                last, since = now_reads, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
            time.sleep(0.05)
        return last

    @property
    def count(self) -> int:
        return len(self._watches)

    def close(self) -> None:
        for watch in self._watches:
            with contextlib.suppress(Exception):
                watch.unsubscribe()


def listen(app_id: str, channel_id: str, user: str, legacy: bool) -> list[Any]:
    """What an online member's embed listens to (web/src/embed/channels.ts and thread.ts of the
    model on the tree): the open channel's latest posts, and

    - ``legacy`` (channels carry ``memberIds``): the channel list (channels whose ``memberIds``
      contain the user, latest activity first) and the user's member document (its unread count);
    - otherwise: the user's memberships, but not the open channel's document (the embed pauses
      that listener while the channel is open: its posts' listener already pays for every post,
      web/src/embed/channels.ts). The embed finds its memberships with a collection-group query on
      ``members`` (userId, tenantId); here the listener is the user's member document of this
      channel, which is the only document that query returns that a post can change, so the billed
      reads are the same. (The emulator, which
      has no indexes, evaluates a collection-group listener by scanning every member document of
      every channel: with 10,000-member channels that slows every write there, not in production.)"""
    from google.cloud.firestore_v1.base_query import FieldFilter

    from shared import store

    db = store.client()
    channel = store.conversation_ref(app_id, channel_id)
    posts = channel.collection("messages").order_by("createdAt", direction="DESCENDING").limit(50)
    if legacy:
        channels = (
            db.collection("tenants")
            .document(app_id)
            .collection("conversations")
            .where(filter=FieldFilter("memberIds", "array_contains", user))
            .where(filter=FieldFilter("kind", "in", ["direct", "group"]))
            .order_by("lastActivityAtMs", direction="DESCENDING")
            .limit(50)
        )
        return [channels, channel.collection("members").document(user), posts]
    return [channel.collection("members").document(user), posts]


# --- posting ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class Posted:
    latencies_ms: list[float]
    started: float
    ended: float
    rate_limited: int
    post_ids: list[str]
    failed: int = 0
    failures: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.latencies_ms)


def _post(
    app: Any, channel_id: str, user: str, client_id: str, session: requests.Session
) -> tuple[float, str, int]:
    """Post as clients do: a 429 (rate limited) or 503 (transient) is retried after its Retry-After,
    a 503 at most TRANSIENT_RETRIES times (the post id derives from clientPostId: a retry cannot
    post twice). The round trip counts from the first attempt. (ms, post id, retries)."""
    retries = transient = 0
    started = time.perf_counter()
    while True:
        response = session.post(
            f"{app.url}/v1/createPost",
            json={"channelId": channel_id, "text": f"scale {client_id}", "clientPostId": client_id},
            headers={"Authorization": f"Bearer {app.api_key}", "X-User-Id": user},
            timeout=POST_TIMEOUT,
        )
        retry = response.status_code == 429 or (response.status_code == 503 and transient < TRANSIENT_RETRIES)
        if not retry:
            assert response.status_code == 200, f"createPost: {response.status_code} {response.text}"
            return (time.perf_counter() - started) * 1000, str(response.json().get("id", "")), retries
        retries += 1
        transient += response.status_code == 503
        time.sleep(min(float(response.headers.get("Retry-After") or 0.2), 2.0))


def _reason(exc: BaseException) -> str:
    """A failed post, in a few words: the API's error code and status, or the exception's type."""
    text = str(exc)
    if isinstance(exc, AssertionError) and text.startswith("createPost: "):
        status, _, body = text.removeprefix("createPost: ").partition(" ")
        with contextlib.suppress(ValueError, AttributeError):
            return f"{status} {json.loads(body)['error']['code']}"
        return status
    return type(exc).__name__


def latency(samples: list[float]) -> dict[str, float | None]:
    """p50 and p99 in ms (None without samples)."""
    if not samples:
        return {"p50": None, "p99": None}
    return {"p50": round(percentile(samples, 50), 1), "p99": round(percentile(samples, 99), 1)}


def post_sequentially(app: Any, channel: Channel, tag: str, posts: int, rate: float, budget: float) -> Posted:
    """One client posting ``posts`` posts at most ``rate`` a second (fewer if ``budget`` seconds run
    out, never fewer than MIN_POSTS), posters in turn."""
    session = requests.Session()
    posters = channel.members[: min(POSTERS, len(channel.members))]
    latencies, ids = [], []
    limited = failed = 0
    reasons: Counter[str] = Counter()
    started = time.time()
    for i in range(posts):
        if i >= MIN_POSTS and time.time() - started > budget:
            break
        time.sleep(max(0.0, started + i / rate - time.time()))  # pacing, not a wait for a result
        try:
            ms, post_id, retried = _post(
                app, channel.channel_id, posters[i % len(posters)], f"{tag}-{i}", session
            )
        except (requests.RequestException, AssertionError) as exc:  # counted, and said
            failed += 1
            reasons[_reason(exc)] += 1
            continue
        latencies.append(ms)
        ids.append(post_id)
        limited += retried
    return Posted(latencies, started, time.time(), limited, ids, failed, dict(reasons))


def post_at_rate(app: Any, channel: Channel, tag: str, rate: float, seconds: float, callers: int) -> Posted:
    """``rate`` posts a second for ``seconds`` from ``callers`` concurrent clients (a post due when
    every caller is busy waits for one); no new post starts after ``seconds``."""
    posters = channel.members[: min(RATE_POSTERS, len(channel.members))]
    total = int(rate * seconds)
    session = _session_pool()
    latencies: list[float] = []
    ids: list[str] = []
    limited = 0
    failed = 0
    reasons: Counter[str] = Counter()
    lock = threading.Lock()
    started = time.time()

    def one(i: int) -> None:
        nonlocal limited, failed
        due = started + i / rate
        time.sleep(max(0.0, due - time.time()))
        if time.time() > started + seconds + 1.0:
            return  # the emulator fell behind: the post is not sent
        try:
            ms, post_id, retried = _post(
                app, channel.channel_id, posters[i % len(posters)], f"{tag}-{i}", session()
            )
        except (requests.RequestException, AssertionError) as exc:  # timed out or refused: counted
            with lock:
                failed += 1
                reasons[_reason(exc)] += 1
            return
        with lock:
            latencies.append(ms)
            ids.append(post_id)
            limited += retried

    with ThreadPoolExecutor(max_workers=callers) as pool:
        list(pool.map(one, range(total)))
    return Posted(latencies, started, time.time(), limited, ids, failed, dict(reasons))


# --- push ---------------------------------------------------------------------------------------------


def push_fanout(app: Any, stack: Any, channel: Channel) -> tuple[float | None, str]:
    """Seconds from one post until the FCM stand-in has a notification for every other member."""
    fcm = getattr(stack, "fcm", None)
    if fcm is None:
        return None, (
            "no FCM stand-in on this tree (infra/local/fcm_standin.py): push wrote one pushOutbox "
            "document per notified member inside the request"
        )
    register_tokens(app, channel)
    expected = {push_token(user) for user in channel.members[1:]}
    fcm.clear()
    session = requests.Session()
    started = time.time()
    _post(app, channel.channel_id, channel.members[0], "push", session)
    deadline = time.monotonic() + PUSH_TIMEOUT
    got: set[str] = set()
    last_at = started
    seen = 0
    while time.monotonic() < deadline:
        records = fcm.received()  # cleared just before: only this post's notifications
        for record in records[seen:]:
            token = (record.get("message") or {}).get("token")
            if token in expected and token not in got:
                got.add(token)
                last_at = max(last_at, float(record.get("at") or time.time()))
        seen = len(records)
        if got >= expected:
            return round(last_at - started, 2), f"{len(got)} notifications, one per other member"
        time.sleep(0.1)
    return None, f"only {len(got)} of {len(expected)} notifications within {PUSH_TIMEOUT:g} s"


# --- figures -----------------------------------------------------------------------------------------


@dataclasses.dataclass
class Window:
    """The meter's records of one phase."""

    writes: list[limits.Write]
    reads: list[limits.Read]
    seconds: float


def window(log_path: Path, start: float, end: float) -> Window:
    writes, reads = limits.read_log(log_path)
    functions = {"chat_api", "deliver"}
    return Window(
        [w for w in writes if start <= w.at <= end and w.role in functions and "/pushOutbox/" not in w.path],
        [r for r in reads if start <= r.at <= end and r.role in functions],
        max(end - start, 1e-9),
    )


def outbox_writes(log_path: Path, start: float, end: float) -> int:
    writes, _ = limits.read_log(log_path)
    return sum(1 for w in writes if start <= w.at <= end and "/pushOutbox/" in w.path)


def per_post(records: list[Any], role: str, posts: int, reads: bool = False) -> float:
    if reads:
        return round(sum(r.documents for r in records if r.role == role) / max(posts, 1), 2)
    return round(sum(1 for w in records if w.role == role) / max(posts, 1), 2)


def by_collection(writes: list[limits.Write], posts: int) -> dict[str, dict[str, float]]:
    """Writes per post by process and collection group: what the request path's writes are."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for write in writes:
        counts[write.role][limits.group_of(write.path)] += 1
    return {
        role: {group: round(count / max(posts, 1), 2) for group, count in sorted(found.items())}
        for role, found in sorted(counts.items())
    }


def documents_of(paths: list[str]) -> dict[str, dict[str, Any]]:
    """The current data of documents by path (missing ones left out)."""
    from shared import store

    db = store.client()
    refs = [db.document(path) for path in dict.fromkeys(paths)]
    found = {}
    for i in range(0, len(refs), 300):
        for snapshot in db.get_all(refs[i : i + 300]):
            if snapshot.exists:
                found[snapshot.reference.path] = snapshot.to_dict() or {}
    return found


def sample_paths(writes: list[limits.Write], per_group: int = 3) -> list[str]:
    """A few of the latest written documents of each collection group."""
    by_group: dict[str, list[str]] = defaultdict(list)
    for write in sorted(writes, key=lambda w: -w.at):
        group = by_group[limits.group_of(write.path)]
        if write.path not in group and len(group) < per_group:
            group.append(write.path)
    return [path for paths in by_group.values() for path in paths]


def measure_size(
    app: Any, channel: Channel, log_path: Path, config: limits.IndexConfig, posts: int, legacy: bool
) -> dict[str, Any]:
    """One channel size, in two phases: posts while online members' listeners count their reads;
    then, with the listeners closed (on this machine they would share its two cores with the
    emulator and the functions, which production's listeners do not), the posts whose round trip
    and Firestore operations are measured."""
    from shared import store

    online = channel.members[-min(LISTENER_SAMPLE, max(len(channel.members) - POSTERS, 1)) :]
    listeners = Listeners(app.app_id, channel.channel_id, online, legacy)
    try:
        listeners.start_counting()
        listened = post_sequentially(
            app, channel, f"l{channel.size}", LISTENED_POSTS, POST_RATE, PHASE_SECONDS / 2
        )
        time.sleep(SETTLE_SECONDS)  # queued work (folds) of the last posts
        listener_reads = listeners.settle()
    finally:
        listeners.close()
    posted = post_sequentially(app, channel, f"n{channel.size}", posts, POST_RATE, PHASE_SECONDS)
    time.sleep(SETTLE_SECONDS)  # queued work (folds, push jobs) of the last posts
    end = time.time()
    seen = window(log_path, posted.started, end)
    n = posted.count
    writes_pp = per_post(seen.writes, "chat_api", n)
    reads_pp = per_post(seen.reads, "chat_api", n, reads=True)
    background_writes = per_post(seen.writes, "deliver", n)
    background_reads = per_post(seen.reads, "deliver", n, reads=True)
    per_member = listener_reads / max(len(online) * listened.count, 1)
    listener_pp = round(per_member * ONLINE_SHARE * channel.size, 2)
    docs = limits.document_rates(seen.writes, posted.ended - posted.started + SETTLE_SECONDS)
    busiest = docs[0] if docs else limits.Rate("-", 0, 0, 0.0)
    channel_path = store.conversation_ref(app.app_id, channel.channel_id).path
    stored = documents_of([channel_path, *sample_paths(seen.writes)])
    channel_doc = stored.get(channel_path, {})
    largest = {}
    for path, data in stored.items():
        group = limits.group_of(path)
        size = limits.document_size(path, data)
        entries = limits.index_entries(group, data, config).total
        if size > largest.get(group, {}).get("bytes", -1):
            largest[group] = {"bytes": size, "index_entries": entries}
    total_writes = writes_pp + background_writes
    total_reads = reads_pp + background_reads
    return {
        "benchmark": "chat_scale",
        "members": channel.size,
        "seeding": channel.seeding,
        "seed_seconds": round(channel.seed_seconds, 1),
        "model": "memberIds on the channel (per-member unread counters)" if legacy else "read watermark",
        "posts": n,
        "posts_per_second": round(n / max(posted.ended - posted.started, 1e-9), 2),
        "writes_per_post": writes_pp,
        "reads_per_post": reads_pp,
        "background_writes_per_post": background_writes,
        "background_reads_per_post": background_reads,
        "writes_per_post_by_collection": by_collection(seen.writes, n),
        "push_outbox_writes_per_post": round(outbox_writes(log_path, posted.started, end) / max(n, 1), 2),
        "listener_reads_per_post": listener_pp,
        "listener_reads_per_online_member_per_post": {
            kind: round(count / max(len(online) * listened.count, 1), 2)
            for kind, count in sorted(listeners.by_listener.items())
        },
        "listener_reads_note": (
            f"{ONLINE_SHARE:.0%} of members online, measured over {listened.count} posts with "
            f"{len(online)} members' real listeners ({listeners.count} listeners: "
            + ("channel list, membership, open channel" if legacy else "membership, channel, open channel")
            + f") and scaled to {ONLINE_SHARE * channel.size:g} members"
        ),
        "max_document_writes_per_second": busiest.max_in_any_second,
        "max_document_writes_sustained_per_second": busiest.sustained_per_second,
        "busiest_document": limits.shape(busiest.key),
        "push_fanout_seconds": None,
        "post_latency_ms": latency(posted.latencies_ms),
        "retries_429_or_503": posted.rate_limited,
        "failed_posts": posted.failed + listened.failed,
        "failures": dict(Counter(posted.failures) + Counter(listened.failures)),
        "firestore_cost_per_1m_posts": cost_per_million(total_writes, total_reads + listener_pp),
        "firestore_cost_per_1m_posts_nobody_online": cost_per_million(total_writes, total_reads),
        "channel_document": {
            "bytes": limits.document_size(channel_path, channel_doc),
            "index_entries": limits.index_entries("conversations", channel_doc, config).total,
        },
        "largest_documents": largest,
        "_window": seen,
        "_posted": posted,
    }


def limits_line(
    app: Any, channel: Channel, log_path: Path, config: limits.IndexConfig, per_n: dict[str, Any]
) -> dict[str, Any]:
    """TARGET_RATE posts a second into ``channel``: the limits, measured and (when the emulator could
    not keep the rate) projected from the per-post writes of the per-N phase."""
    from shared import store

    posted = post_at_rate(app, channel, "rate", TARGET_RATE, TARGET_SECONDS, TARGET_CALLERS)
    time.sleep(SETTLE_SECONDS)
    end = time.time()
    seen = window(log_path, posted.started, end)
    achieved = posted.count / max(posted.ended - posted.started, 1e-9)
    channel_path = store.conversation_ref(app.app_id, channel.channel_id).path
    stored = documents_of([channel_path, *sample_paths(seen.writes)])
    # Every member has a device (the push measurement registers one each).
    fcm_per_minute = TARGET_RATE * 60 * (channel.size - 1)
    measured = limits.checks(seen.writes, seen.seconds, config, stored, fcm_per_minute)
    line: dict[str, Any] = {
        "benchmark": "chat_scale_limits",
        "members": channel.size,
        "target_posts_per_second": TARGET_RATE,
        "posters": min(RATE_POSTERS, channel.size),
        "achieved_posts_per_second": round(achieved, 2),
        "posts": posted.count,
        "failed_posts": posted.failed,
        "failures": posted.failures,
        "post_latency_ms": latency(posted.latencies_ms),
        "measured": [c.line() for c in measured],
    }
    verdict = measured
    if achieved < 0.9 * TARGET_RATE:
        projected = project(per_n, config, stored, fcm_per_minute)
        line["projected_at_target"] = [c.line() for c in projected]
        line["projection_note"] = (
            f"the emulator reached {achieved:.2f} posts/s: each document's writes per post in the "
            f"per-N phase, times {TARGET_RATE:g} posts/s"
        )
        verdict = projected
    line["would_break"] = limits.would_break(verdict)
    firestore = limits.would_break(c for c in verdict if not c.limit.startswith("FCM"))
    fcm = limits.would_break(c for c in verdict if c.limit.startswith("FCM"))
    line["verdict"] = (
        f"Firestore: {'breaks its production limits' if firestore else 'within its production limits'}; "
        f"FCM: {'over its project quota' if fcm else 'within its project quota'}"
    )
    return line


def project(
    per_n: dict[str, Any],
    config: limits.IndexConfig,
    stored: dict[str, dict[str, Any]],
    fcm_per_minute: float,
) -> list[limits.Check]:
    """The limits at TARGET_RATE posts/s: the per-N phase's writes with its time compressed so that
    its posts arrive at TARGET_RATE (every document takes its writes per post at that rate)."""
    seen: Window = per_n["_window"]
    posted: Posted = per_n["_posted"]
    return limits.checks(
        compress(seen.writes, posted.started, posted.count / max(posted.ended - posted.started, 1e-9)),
        seen.seconds * posted.count / max(posted.ended - posted.started, 1e-9) / TARGET_RATE,
        config,
        stored,
        fcm_per_minute,
    )


def compress(
    writes: list[limits.Write], start: float, rate: float, target: float = TARGET_RATE
) -> list[limits.Write]:
    """``writes`` made while posting at ``rate`` a second, as if the posts came at ``target``."""
    factor = rate / target
    return [dataclasses.replace(w, at=start + (w.at - start) * factor) for w in writes]


# --- the run ----------------------------------------------------------------------------------------


def stack_kwargs(log_path: Path) -> dict[str, Any]:
    """The local stack this tree can run: chat_api and create_app, with deliver, Cloud Tasks and the
    FCM stand-in when the tree pushes through them."""
    from infra.local.stack import LocalStack, topology

    queued_push = "push" in topology().get("queues", {})
    fields = {f.name for f in dataclasses.fields(LocalStack)}
    kwargs: dict[str, Any] = {
        "functions": ("chat_api", "create_app", *(("deliver",) if queued_push else ())),
        "with_tasks": queued_push,
        "with_sandbox": False,
        "extra_env": {**limits.stack_env(log_path), "SWITCHBOARD_LOG_LEVEL": "WARNING"},
    }
    if "with_fcm" in fields:
        kwargs["with_fcm"] = queued_push
    return kwargs


@contextlib.contextmanager
def metered_stack(log_path: Path) -> Iterator[Any]:
    from infra.local.stack import LocalStack

    saved = dict(os.environ)
    for name in ("SWITCHBOARD_DELIVER_URL", "SWITCHBOARD_TASKS_EMULATOR_HOST"):
        os.environ.pop(name, None)
    try:
        with LocalStack(**stack_kwargs(log_path)) as stack:
            stack.apply_env()
            # The functions have these; this process installs its own meter.
            for name in ("PYTHONPATH", limits.LOG_ENV):
                os.environ.pop(name, None)
            limits.install(log_path, "bench")
            yield stack
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run(
    sizes: tuple[int, ...] = SIZES,
    posts: int = POSTS,
    rate_line: bool = True,
    quiet: bool = False,
    save: Path | None = None,
) -> dict[str, Any]:
    """Measure every size (and the limits line at the largest); print one JSON line each."""
    from bench.stats import report
    from shared import store
    from tests.chat.client import create_app

    config = limits.IndexConfig.load()
    lines: list[dict[str, Any]] = []
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="chat-scale-") as folder:
        log_path = Path(folder) / "operations.log"
        with metered_stack(log_path) as stack:
            app = create_app(stack, "Chat scale")
            seed_users(app.app_id, max(sizes))
            for size in sorted(sizes):
                channel = seed_channel(app, size)
                legacy = "memberIds" in (store.get_conversation(app.app_id, channel.channel_id) or {})
                figures = measure_size(app, channel, log_path, config, posts, legacy)
                line = None
                if rate_line and size == max(sizes):
                    line = limits_line(app, channel, log_path, config, figures)
                    line["channel_document_growth"] = growth([*lines, figures])
                try:
                    fanout, note = push_fanout(app, stack, channel)
                except (requests.RequestException, AssertionError) as exc:
                    fanout, note = None, f"the push measurement failed: {type(exc).__name__}: {exc}"[:300]
                figures["push_fanout_seconds"] = fanout
                figures["push_fanout_note"] = note
                lines.append(figures)
                if not quiet:
                    report("chat_scale", {k: v for k, v in figures.items() if k != "benchmark"})
                if line is not None:
                    lines.append(line)
                    if not quiet:
                        report("chat_scale_limits", {k: v for k, v in line.items() if k != "benchmark"})
    result = {
        "commit": commit_of(),
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(time.perf_counter() - started, 1),
        "prices": {k: v for k, v in _prices().items() if k.startswith("firestore")},
        "online_share": ONLINE_SHARE,
        # Latencies are this machine's, shared with whatever else ran: its load says how much.
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1min_at_start": round(load_before, 1),
            "load_average_1min_at_end": round(os.getloadavg()[0], 1),
        },
        "lines": [{k: v for k, v in line.items() if not k.startswith("_")} for line in lines],
    }
    if save is not None:
        save.parent.mkdir(parents=True, exist_ok=True)
        save.write_text(json.dumps(result, indent=2) + "\n")
    return result


def growth(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """The channel document's size and index entries against N, and the member count at which they
    would reach Firestore's limits (linear through the two largest sizes measured)."""
    measured = [(float(x["members"]), x["channel_document"]) for x in lines if "channel_document" in x]
    entries = [(n, float(doc["index_entries"])) for n, doc in measured]
    sizes = [(n, float(doc["bytes"])) for n, doc in measured]
    at_entries = _reaches(entries, limits.MAX_INDEX_ENTRIES)
    at_bytes = _reaches(sizes, limits.MAX_DOCUMENT_BYTES)
    return {
        "index_entries_by_members": {int(n): int(e) for n, e in entries},
        "bytes_by_members": {int(n): int(b) for n, b in sizes},
        "reaches_40000_index_entries_at_members": None if at_entries is None else round(at_entries),
        "reaches_1_mib_at_members": None if at_bytes is None else round(at_bytes),
    }


def _reaches(points: list[tuple[float, float]], limit: float) -> float | None:
    """Where the two largest measurements say the limit is reached; None when the quantity does
    not grow with N (less than 10% between them: a longer name or a larger number, not members)."""
    if len(points) < 2:
        return None
    (_, y0), (_, y1) = sorted(points)[-2:]
    return limits.linear_limit(points, limit) if y1 > 1.1 * y0 else None


def cost_series(result: dict[str, Any]) -> dict[int, tuple[float, float]]:
    """{N: (cost with ONLINE_SHARE online, cost with nobody online)} of a run's lines."""
    return {
        int(line["members"]): (
            float(line["firestore_cost_per_1m_posts"]),
            float(line["firestore_cost_per_1m_posts_nobody_online"]),
        )
        for line in result.get("lines") or []
        if line.get("benchmark") == "chat_scale"
    }


def load_before(path: Path = BEFORE_PATH) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="channel sizes, comma-separated")
    parser.add_argument("--posts", type=int, default=POSTS, help="posts per channel size")
    parser.add_argument("--smoke", action="store_true", help="N=2 and N=100 only, few posts, no limits line")
    parser.add_argument("--save", type=Path, help="also write the figures (with the commit) to this file")
    arguments = parser.parse_args(argv)
    if arguments.smoke:
        run(SMOKE_SIZES, posts=min(arguments.posts, 6), rate_line=False, save=arguments.save)
    else:
        sizes = tuple(int(s) for s in arguments.sizes.split(",") if s.strip())
        run(sizes, posts=arguments.posts, save=arguments.save)


if __name__ == "__main__":
    main()
