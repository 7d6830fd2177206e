"""Usage, quotas and rate limits of chat apps, without a hot document.

Monthly messages
    ``tenants/{app}/usage/{YYYY-MM}/shards/{0..N-1}``. A post writes no usage document: each
    instance counts the posts it wrote (only once their batch committed, so a post that failed or
    was a duplicate is never counted) and a background flusher adds them to ONE random shard at most
    every :data:`USAGE_FLUSH_SECONDS` per (app, month), plus once more when the process exits. So an
    app's usage costs one write per instance every few seconds whatever its traffic, spread over N
    shards (Firestore sustains about one write per second per document). An instance killed
    without its exit flush loses at most the last few seconds of its counts (they undercount).
    Reading sums the N shards (one query), cached in-process for :data:`USAGE_CACHE_SECONDS`; the
    posts this instance wrote since, and those it has not flushed yet, are added on top, so one
    instance counts its own posts exactly and other instances' posts show up within the cache time
    plus the flush interval. The quota check on a post reads that cached figure (no read, except
    once per cache period).

Quota
    The free plan allows :data:`PLAN_MONTHLY_MESSAGES` ["free"] messages a month; a tenant document
    may set ``limits.monthlyMessages`` to override it (tests set a small one). A post is refused
    (429 ``quota_exceeded``) when the count has reached the limit. Admission reserves a slot
    (:func:`quota_slot`): posts this instance has admitted but not yet written count as used, so
    one instance never admits more than the quota, however many posts race. Within
    :data:`NEAR_QUOTA` messages of the limit the shards are read afresh for every post (no
    cache), this instance's unflushed count is flushed first, and each post increments a shard in
    its own batch again (as every post did before aggregation), so the only overshoot left is what
    OTHER instances admit between that read and this post's commit: the posts they have in flight at
    that moment plus those they wrote in their last flush interval while still believing themselves
    far from the limit (stated in the README).

App-wide rate limit: :data:`APP_POSTS_PER_SECOND` posts per app per second per instance, whatever the
    user ids (an API key cannot escape the per-user limit by spreading posts over invented users).
    Counted in-process only, since a per-app Firestore counter would be a hot document; so the
    bound across instances is that times the function's maximum instances (infra/topology.json).

Rate limit: :data:`POSTS_PER_SECOND` posts per user per second, answered 429 ``rate_limited``.
    - In-process: a sliding one-second window per (app, user), under a lock. Exact for the posts one
      instance serves.
    - Across instances: a Firestore document per user per second (``rateBuckets/{user}-{epoch s}``),
      read in the same round trip as the channel and incremented in the post's batch. A fixed window,
      read before written: instances racing within the same second can each admit a post the other
      has not counted yet, and a burst straddling a second boundary can reach twice the limit. It
      bounds a user spread over many instances; it is not an exact global limiter (that would need a
      transaction on a hot document, which the design avoids).
"""

from __future__ import annotations

import atexit
import logging
import random
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

from shared import store
from shared.errors import Throttled

log = logging.getLogger(__name__)

POSTS_PER_SECOND = 5
APP_POSTS_PER_SECOND = 50
NEAR_QUOTA = 100  # this close to the monthly limit, usage is read afresh for every post
WINDOW_SECONDS = 1.0
PLAN_MONTHLY_MESSAGES: dict[str, int] = {"free": 1_000_000}
DEFAULT_MONTHLY_MESSAGES = PLAN_MONTHLY_MESSAGES["free"]
USAGE_CACHE_SECONDS = 5.0
USAGE_FLUSH_SECONDS = 2.0  # an instance adds its counted posts to a usage shard at most this often
TENANT_CACHE_SECONDS = 5.0
WINDOWS_KEPT = 10_000  # in-process windows kept before the idle ones are dropped


# --- monthly usage -----------------------------------------------------------------------------------


def month_of(when: datetime | None = None) -> str:
    """The usage period of a moment: ``YYYY-MM`` in UTC."""
    return (when or datetime.now(UTC)).strftime("%Y-%m")


def pick_shard() -> int:
    """The shard a new post increments."""
    return random.randrange(store.USAGE_SHARDS)


_usage: dict[tuple[str, str], tuple[float, int]] = {}  # (app, month) -> (fetched at, sum)
_local_since: dict[tuple[str, str], int] = {}  # this instance's posts the fetched sum cannot hold
_unflushed: dict[tuple[str, str], int] = {}  # posts this instance wrote and has not flushed yet
_tenants: dict[str, tuple[float, dict[str, Any]]] = {}
_usage_lock = threading.Lock()


def usage(app_id: str, month: str | None = None, *, fresh: bool = False) -> int:
    """Messages counted for ``app_id`` this month (cached sum of the shards + this instance's own;
    ``fresh`` reads the shards again)."""
    key = (app_id, month or month_of())
    now = time.monotonic()
    with _usage_lock:
        cached = _usage.get(key)
        if cached and now - cached[0] < USAGE_CACHE_SECONDS and not fresh:
            return cached[1] + _local_since.get(key, 0)
        before = _committed.get(key, 0)
        unflushed = _unflushed.get(key, 0)
    total = store.usage_total(*key)
    with _usage_lock:
        # Posts this instance committed while the shards were read, and those it had not flushed
        # when the read began, may or may not be in ``total``: they are counted on top (erring
        # towards refusing a post, never towards admitting one).
        during = _committed.get(key, 0) - before + unflushed
        _usage[key] = (now, total)
        _local_since[key] = during
    return total + during


def counted(app_id: str, month: str, *, in_batch: bool = False) -> None:
    """This instance wrote one post for ``app_id`` in ``month``: to be flushed to a usage shard,
    unless ``in_batch`` (the post's own batch already incremented one)."""
    with _usage_lock:
        _count_locked((app_id, month), in_batch)
    if not in_batch:
        _start_flusher()


def _count_locked(key: tuple[str, str], in_batch: bool) -> None:
    _committed[key] = _committed.get(key, 0) + 1
    if not in_batch:
        _unflushed[key] = _unflushed.get(key, 0) + 1
    if key in _usage:
        _local_since[key] = _local_since.get(key, 0) + 1


def flush(key: tuple[str, str] | None = None) -> int:
    """Add what this instance counted and has not flushed yet to a usage shard (one write per
    (app, month), or only ``key``'s); return how many posts were flushed. A failed write keeps
    its count for the next flush."""
    with _usage_lock:
        keys = [key] if key is not None else list(_unflushed)
        taken = {k: _unflushed.pop(k) for k in keys if _unflushed.get(k)}
    done = 0
    for (app_id, month), count in taken.items():
        try:
            store.add_usage(app_id, month, pick_shard(), count)
            done += count
        except store.transient_errors():  # kept for the next flush
            log.warning("usage flush failed", extra={"fields": {"app": app_id, "count": count}})
            with _usage_lock:
                _unflushed[(app_id, month)] = _unflushed.get((app_id, month), 0) + count
    return done


_flusher: dict[str, threading.Thread] = {}  # "thread": the running flusher, once started
_flusher_stop = threading.Event()


def _start_flusher() -> None:
    """Start the background flusher (once per process, on the first counted post; never at
    import) and flush once more at exit."""
    with _usage_lock:
        running = _flusher.get("thread")
        if running is not None and running.is_alive():
            return
        first = running is None
        _flusher_stop.clear()
        thread = _flusher["thread"] = threading.Thread(
            target=_flush_forever, name="usage-flusher", daemon=True
        )
        thread.start()
    if first:
        atexit.register(flush)


def _flush_forever() -> None:
    while not _flusher_stop.wait(USAGE_FLUSH_SECONDS):
        flush()


def monthly_limit(app_id: str) -> int:
    """The app's monthly message allowance: ``limits.monthlyMessages`` or its plan's default."""
    now = time.monotonic()
    with _usage_lock:
        cached = _tenants.get(app_id)
    if cached and now - cached[0] < TENANT_CACHE_SECONDS:
        tenant = cached[1]
    else:
        tenant = store.get_tenant(app_id) or {}
        with _usage_lock:
            _tenants[app_id] = (now, tenant)
    configured = (tenant.get("limits") or {}).get("monthlyMessages")
    if isinstance(configured, int) and configured >= 0:
        return configured
    return PLAN_MONTHLY_MESSAGES.get(str(tenant.get("plan", "free")), DEFAULT_MONTHLY_MESSAGES)


_in_flight: dict[tuple[str, str], int] = {}  # posts admitted by this instance, not yet written
_committed: dict[tuple[str, str], int] = {}  # posts this instance wrote, ever (to date the reads)


class QuotaSlot:
    """One admitted post's place in the monthly quota: :meth:`commit` once its write landed;
    leaving the ``with`` block without committing gives the place back (a duplicate, a failure).
    ``in_batch``: near the quota, the post increments a usage shard in its own batch."""

    def __init__(self, key: tuple[str, str], in_batch: bool = False) -> None:
        self._key = key
        self._committed = False
        self.in_batch = in_batch

    def commit(self) -> None:
        """The post was written: it now counts in this instance's usage."""
        self._committed = True

    def __enter__(self) -> QuotaSlot:
        return self

    def __exit__(self, *exc: object) -> None:
        # One lock for both: a post leaves "in flight" and becomes "counted" at the same instant,
        # so no admission in between sees it in neither.
        with _usage_lock:
            _in_flight[self._key] = max(_in_flight.get(self._key, 0) - 1, 0)
            if not _in_flight[self._key]:
                del _in_flight[self._key]
            if self._committed:
                _count_locked(self._key, self.in_batch)
        if self._committed and not self.in_batch:
            _start_flusher()


def quota_slot(app_id: str, month: str) -> QuotaSlot:
    """Reserve a place in the app's monthly quota for one post, or raise Throttled(quota_exceeded).

    Posts this instance admitted but has not written yet count as used, so concurrent posts on
    one instance never exceed the quota; near it, usage is read afresh (see the module's doc)."""
    limit = monthly_limit(app_id)
    key = (app_id, month)
    near = limit - usage(app_id, month) <= NEAR_QUOTA
    if near:
        flush(key)  # what this instance counted is in the shards before they are read
        usage(app_id, month, fresh=True)
    with _usage_lock:
        # Decided on what is known now, under the lock: the last read plus every post this
        # instance committed since, plus those admitted and not yet written.
        cached = _usage.get(key)
        used = (cached[1] if cached else 0) + _local_since.get(key, 0)
        if used + _in_flight.get(key, 0) >= limit:
            _quota_exceeded(limit, month)
        _in_flight[key] = _in_flight.get(key, 0) + 1
    return QuotaSlot(key, in_batch=near)


def check_quota(app_id: str, month: str) -> None:
    """Raise Throttled(quota_exceeded) when the app has used its monthly messages (for writers
    that count without reserving, such as an agent's reply in a support channel)."""
    limit = monthly_limit(app_id)
    if usage(app_id, month) >= limit:
        _quota_exceeded(limit, month)


def _quota_exceeded(limit: int, month: str) -> None:
    now = datetime.now(UTC)
    next_month = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    raise Throttled(
        "quota_exceeded",
        f"This app has used its {limit:,} messages for {month}; posting resumes on "
        f"{next_month:%Y-%m-%d} (UTC) or when the plan's limit is raised.",
        retry_after=(next_month - now).total_seconds(),
    )


# --- per-user rate limit ------------------------------------------------------------------------------


_windows: dict[tuple[str, str], deque[float]] = {}
_windows_lock = threading.Lock()


def bucket_of(user_id: str, when: float | None = None) -> str:
    """The Firestore rate bucket (one per user per second) a post at ``when`` counts in."""
    return f"{user_id}-{int(when if when is not None else time.time())}"


def admit(app_id: str, user_id: str, bucket_count: int = 0) -> None:
    """Admit one post by ``user_id`` or raise Throttled(rate_limited).

    ``bucket_count`` is what the user's Firestore bucket for this second already holds (posts other
    instances served). An admitted post is recorded in this instance's window at once."""
    now = time.monotonic()
    with _windows_lock:
        window = _window(app_id, user_id, now)
        app_window = _window(app_id, APP_WINDOW, now)
        if len(window) >= POSTS_PER_SECOND or bucket_count >= POSTS_PER_SECOND:
            _rate_limited(window, now, f"At most {POSTS_PER_SECOND} posts per second per user")
        if len(app_window) >= APP_POSTS_PER_SECOND:
            _rate_limited(app_window, now, f"At most {APP_POSTS_PER_SECOND} posts per second for this app")
        window.append(now)
        app_window.append(now)


APP_WINDOW = "\x00app"  # the app-wide window's key: no user id can be this (models.USER_ID)


def _window(app_id: str, user_id: str, now: float) -> deque[float]:
    """The sliding window of ``(app_id, user_id)`` with posts older than a second dropped."""
    key = (app_id, user_id)
    window = _windows.get(key)
    if window is None:
        if len(_windows) >= WINDOWS_KEPT:
            _drop_idle(now)
        window = _windows[key] = deque()
    while window and now - window[0] >= WINDOW_SECONDS:
        window.popleft()
    return window


def _rate_limited(window: deque[float], now: float, limit: str) -> None:
    retry_after = max(WINDOW_SECONDS - (now - window[0]) if window else WINDOW_SECONDS, 0.05)
    raise Throttled("rate_limited", f"{limit}: retry after {retry_after:.2f} s.", retry_after=retry_after)


def _drop_idle(now: float) -> None:
    for key in [k for k, w in _windows.items() if not w or now - w[-1] >= WINDOW_SECONDS]:
        del _windows[key]


def reset() -> None:
    """Forget every cache and window (tests); counts not flushed yet are dropped."""
    with _usage_lock:
        _usage.clear()
        _local_since.clear()
        _unflushed.clear()
        _tenants.clear()
        _in_flight.clear()
        _committed.clear()
    with _windows_lock:
        _windows.clear()
