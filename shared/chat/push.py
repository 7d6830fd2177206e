"""Push notifications of new posts: queued by the post, sent by a Cloud Task, through FCM.

The post path calls :func:`enqueue_post_push` once the post is stored: it creates ONE Cloud Task on
the ``push`` queue (deliver action ``push``), named after the post, so a retried post queues it once.
It never raises into the post and never waits for FCM.

:func:`fan_out` is what deliver runs for that task:

1. **Who.** It reads the channel's push roster (``pushRoster/{shard}`` documents of at most ~100
   members each, one read per shard: never the member documents) and keeps, per member, the device
   tokens of everyone except the sender, members who muted the channel and members viewing it
   (``viewingUntil`` in the future: they see the post arrive). A member counts at most
   :data:`MAX_TOKENS_PER_MEMBER` devices (the latest registered).
2. **Batches.** The tokens, in a stable order (shard, user, token), go out in batches of at most
   :data:`FCM_BATCH` (500, FCM's multicast limit) through the FCM HTTP v1 API, one request per token
   as ``messaging.send_each_for_multicast`` does, on a bounded pool of :data:`SEND_WORKERS`
   connections, with firebase-admin's credentials (google-auth's authorized urllib3 transport).
3. **Pace.** A job sends at most :data:`JOB_MESSAGES_PER_SECOND` messages a second and the ``push``
   queue runs at most ``max_concurrent_dispatches`` jobs at once (infra/topology.json), so the
   project stays under FCM's 600,000 messages/minute (10,000/s): 5 x 1,600/s = 8,000/s, 80% of
   the quota, the rest left for retries and other senders (tests/infra checks the product). A
   ``QUOTA_EXCEEDED`` (429) pauses the whole job for its ``Retry-After``.
4. **Retries.** ``UNAVAILABLE`` (503), ``INTERNAL`` (500), ``QUOTA_EXCEEDED`` (429) and connection
   errors are retried within the job, for the failed tokens only, with exponential backoff (at least
   the ``Retry-After`` FCM named), up to :data:`SEND_ATTEMPTS` attempts. If tokens still fail, or the
   job nears its time budget, the job records its progress and raises ``TransientError``: Cloud Tasks
   retries it (queue backoff) and the retry sends only what was not handed over yet.
5. **Dead tokens.** ``UNREGISTERED`` (404) and ``INVALID_ARGUMENT`` naming ``message.token`` (400)
   drop the token from the roster entry and from the member's ``pushTokens``. Other permanent errors
   (a refused payload, a third-party auth error) are counted and logged, not retried.

**Sending each token once.** FCM v1 has no idempotency key, so the job keeps the record itself in
``pushJobs/{postId}`` (shared/store/push_roster.py): the shards fully handled (``done``) and, for the
shards in progress, a 12-hex-digit hash of each token handled (``sent``). It is written when a job
gives up (before raising for Cloud Tasks' retry), at most every :data:`CHECKPOINT_SECONDS` during a
job of more than one batch, and once at the end of such a job (``complete``). A retried job
(``X-CloudTasks-TaskRetryCount`` > 0), or any job of more than one batch, reads it first and skips
what it holds. The margin, documented rather than hidden: tokens handed over after the last record
and before a *crash* of the instance (no chance to record: killed, out of memory, timed out by the
platform) are sent again by the retry: at most :data:`CHECKPOINT_SECONDS` x the pace (3,200 tokens)
for a big job; a whole single-batch job (<= 500 tokens, never recorded, to spare small channels a
write per post) if it crashes or Cloud Tasks delivers it twice. A duplicate carries the same
``collapse_key`` / ``apns-collapse-id`` / tag as the original, so the device replaces the
notification rather than showing two. Tokens that joined the roster of a shard after it was done are
not notified by the retry; the roster is read again by every attempt otherwise.

**The notification.** Title: the channel's name (a named group), else the sender's name; body: the
text (the sender's name first in a group), truncated to :data:`BODY_CHARS`; data: ``appId``,
``channelId``, ``postId``, ``seq`` (strings, as FCM requires); one tag per channel
(``collapse_key`` and ``notification.tag`` on Android, ``apns-collapse-id`` and ``thread-id`` on
APNs, ``Topic`` and ``notification.tag`` on web push), so a device shows one notification per
channel, the latest.

Locally (``SWITCHBOARD_FCM_ENDPOINT``, refused in production) the same code talks to
infra/local/fcm_standin.py with a fixed bearer token.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from shared import ids, store, tasks
from shared.config import settings
from shared.errors import MalformedTask, TransientError

log = logging.getLogger(__name__)

PUSH_QUEUE = "push"  # topology.json queues.push
FCM_ENDPOINT = "https://fcm.googleapis.com"
FCM_BATCH = 500  # FCM: a multicast names at most 500 tokens
BODY_CHARS = 180
TITLE_CHARS = 80
ROSTER_SHARDS = 128  # hash space of roster shards; see roster_shard
VIEWING_SECONDS = 150  # setRead(viewing=True) marks a member viewing for this long
VIEWING_REFRESH_SECONDS = 120  # ... and is refreshed at most this often per member and instance
MAX_TOKENS_PER_MEMBER = 10
JOB_MESSAGES_PER_SECOND = 1_600.0  # x queues.push.max_concurrent_dispatches <= 80% of FCM's quota
FCM_PROJECT_MESSAGES_PER_MINUTE = 600_000
SEND_WORKERS = 32
SEND_TIMEOUT_SECONDS = 10.0
SEND_ATTEMPTS = 5
BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 20.0
JOB_BUDGET_SECONDS = 45.0  # deliver's timeout is 60 s: record and hand back to Cloud Tasks before
CHECKPOINT_SECONDS = 2.0  # at most one progress write per 2 s (a document takes ~1 write/s)
PROGRESS_TTL = timedelta(days=2)
TOKEN_HASH_CHARS = 12
LOCAL_BEARER = "local-fcm-standin"  # the local stand-in only checks that one is present

TRANSIENT = frozenset({"UNAVAILABLE", "INTERNAL", "QUOTA_EXCEEDED", "NETWORK"})
DEAD = frozenset({"UNREGISTERED"})


# --- the roster's shards ----------------------------------------------------------------------


def roster_shard(user_id: str, shards: int = ROSTER_SHARDS) -> str:
    """The roster shard of a member: a stable hash of the user id into ``shards`` buckets.

    The hash space is fixed (:data:`ROSTER_SHARDS`), so every caller computes a member's shard from
    the user id alone, without a read (``setRead`` has none to spare), and it never moves. Shard
    documents exist only once a member hashes into them, so their number grows with the member
    count (a 2-member channel has at most 2, one of 100 about 70, one of 1,000 or more 128: a push
    job reads at most 128 documents, about $38 of reads per 1M posts) and a 10,000-member channel
    holds about 78 members a shard (rarely over 105): with members' viewing marks (one per 120 s
    each) a shard stays under Firestore's 1 write/s even if every member of such a channel views
    it at once."""
    digest = hashlib.sha256(user_id.encode()).digest()
    return f"s{int.from_bytes(digest[:8], 'big') % shards:03d}"


def viewing_until(now: datetime | None = None) -> datetime:
    """What ``setRead`` with ``viewing: true`` stores as the member's ``viewingUntil``."""
    return (now or datetime.now(UTC)) + timedelta(seconds=VIEWING_SECONDS)


# --- queueing ---------------------------------------------------------------------------------


def task_name(app_id: str, channel_id: str, post_id: str) -> str:
    """The push task of a post: named after it, so queueing it twice queues it once."""
    return ids.doc_id("push", app_id, channel_id, post_id)


def _truncate(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def enqueue_post_push(
    app_id: str,
    channel_id: str,
    post_id: str,
    sender_id: str,
    sender_name: str | None,
    text: str,
    channel_name: str | None,
    seq: int,
) -> bool:
    """Queue the push of a stored post (one Cloud Task on the ``push`` queue); True if queued now,
    False if it was already queued or could not be. Never raises into the post: a failure to queue
    is logged as an error (the post is stored and counts as unread; only the notification is lost)."""
    config = settings()
    if not config.deliver_url:
        log.warning(
            "no deliver URL: a post's push is not queued",
            extra={"fields": {"app": app_id, "channel_id": channel_id, "post_id": post_id}},
        )
        return False
    payload = {
        "action": "push",
        "tenantId": app_id,
        "conversationId": channel_id,
        "messageId": post_id,
        "push": {
            "senderId": sender_id,
            "senderName": _truncate(sender_name or "", TITLE_CHARS) or None,
            "text": _truncate(text or "", BODY_CHARS),
            "channelName": _truncate(channel_name or "", TITLE_CHARS) or None,
            "seq": int(seq),
        },
    }
    try:
        return tasks.enqueue(
            tasks.queue_name(PUSH_QUEUE), task_name(app_id, channel_id, post_id), config.deliver_url, payload
        )
    except Exception as exc:  # noqa: BLE001 - the contract: a push never fails the stored post
        log.error(
            "push not queued",
            extra={
                "fields": {
                    "app": app_id,
                    "channel_id": channel_id,
                    "post_id": post_id,
                    "error": type(exc).__name__,
                }
            },
        )
        return False


# --- the notification -------------------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    """What a push task says about its post."""

    app_id: str
    channel_id: str
    post_id: str
    sender_id: str
    sender_name: str | None
    text: str
    channel_name: str | None
    seq: int

    @classmethod
    def from_task(cls, payload: dict[str, Any]) -> Post:
        """The post of a push task's body (MalformedTask if it is none)."""
        details = payload.get("push")
        try:
            if not isinstance(details, dict):
                raise TypeError("no push details")
            return cls(
                app_id=str(payload["tenantId"]),
                channel_id=str(payload["conversationId"]),
                post_id=str(payload["messageId"]),
                sender_id=str(details["senderId"]),
                sender_name=details.get("senderName") or None,
                text=str(details.get("text") or ""),
                channel_name=details.get("channelName") or None,
                seq=int(details.get("seq") or 0),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedTask(f"not a push task: {type(exc).__name__}: {exc}") from exc

    @property
    def tag(self) -> str:
        """One tag per channel (32 characters of [a-z0-9]: fits APNs' 64-byte collapse id and
        web push's 32-character Topic)."""
        return ids.doc_id("pt", self.app_id, self.channel_id)

    def title(self) -> str:
        return _truncate(self.channel_name or self.sender_name or "New message", TITLE_CHARS)

    def body(self) -> str:
        text = self.text or "New message"
        if self.channel_name and self.sender_name:
            text = f"{self.sender_name}: {text}"
        return _truncate(text, BODY_CHARS)

    def message(self, token: str) -> dict[str, Any]:
        """The FCM HTTP v1 message of this post for one device token."""
        title, body, tag = self.title(), self.body(), self.tag
        return {
            "token": token,
            "notification": {"title": title, "body": body},
            "data": {
                "appId": self.app_id,
                "channelId": self.channel_id,
                "postId": self.post_id,
                "seq": str(self.seq),
            },
            "android": {
                "collapse_key": tag,
                "priority": "high",
                "notification": {"tag": tag},
            },
            "apns": {
                "headers": {"apns-collapse-id": tag, "apns-priority": "10", "apns-push-type": "alert"},
                "payload": {"aps": {"thread-id": self.channel_id, "sound": "default"}},
            },
            "webpush": {
                "headers": {"Topic": tag, "Urgency": "high"},
                "notification": {"title": title, "body": body, "tag": tag},
            },
        }


# --- recipients -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """One device token to notify, and where it came from (for dead-token removal)."""

    shard: str
    user_id: str
    token: str

    @property
    def key(self) -> str:
        return token_hash(self.token)


def token_hash(token: str) -> str:
    """What a job's progress record keeps of a token it handled (not the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()[:TOKEN_HASH_CHARS]


def recipients(
    shards: list[tuple[str, dict[str, dict[str, Any]]]], sender_id: str, now: datetime
) -> tuple[list[Recipient], dict[str, int]]:
    """The device tokens to notify, in a stable order, and how many members each rule skipped."""
    chosen: list[Recipient] = []
    skipped = {"sender": 0, "muted": 0, "viewing": 0, "no_token": 0}
    for shard, members in sorted(shards):
        for user_id in sorted(members):
            entry = members[user_id]
            if user_id == sender_id:
                skipped["sender"] += 1
                continue
            if entry.get("muted"):
                skipped["muted"] += 1
                continue
            until = entry.get("viewingUntil")
            if isinstance(until, datetime) and until > now:
                skipped["viewing"] += 1
                continue
            tokens = [t for t in dict.fromkeys(entry.get("tokens") or []) if isinstance(t, str) and t]
            if not tokens:
                skipped["no_token"] += 1
                continue
            chosen.extend(Recipient(shard, user_id, t) for t in tokens[-MAX_TOKENS_PER_MEMBER:])
    return chosen, skipped


def batches(chosen: list[Recipient], size: int = FCM_BATCH) -> Iterator[list[Recipient]]:
    """The multicast batches: consecutive runs of at most ``size`` tokens."""
    for start in range(0, len(chosen), size):
        yield chosen[start : start + size]


# --- FCM --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """FCM's answer for one token: ``code`` is None on success, else FCM's error code."""

    code: str | None
    message_id: str | None = None
    retry_after: float = 0.0
    http_status: int = 200

    @property
    def ok(self) -> bool:
        return self.code is None

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT

    @property
    def dead(self) -> bool:
        return self.code in DEAD or self.code == "INVALID_TOKEN"


def fcm_url() -> str:
    """FCM HTTP v1's send endpoint for the project (the local stand-in when configured)."""
    config = settings()
    base = config.fcm_endpoint or FCM_ENDPOINT
    return f"{base}/v1/projects/{config.project_id}/messages:send"


@cache
def _session() -> Any:
    """An authorized HTTP client for FCM: firebase-admin's credential (the function's service
    account, with FCM's scope) in production, a fixed bearer token with the local stand-in.
    google-auth's urllib3 transport (refreshes the token, retries once on 401), with one pooled
    connection per sending worker and no retries of its own: the job decides what to retry."""
    import urllib3
    from google.auth.transport.urllib3 import AuthorizedHttp

    if settings().fcm_endpoint:
        from google.oauth2.credentials import Credentials

        credential: Any = Credentials(token=LOCAL_BEARER)
    else:  # pragma: no cover - production only
        from shared import auth

        credential = auth.app().credential.get_credential()
    pool = urllib3.PoolManager(
        num_pools=4,
        maxsize=SEND_WORKERS * 2,
        retries=False,
        timeout=urllib3.Timeout(connect=5.0, read=SEND_TIMEOUT_SECONDS),
    )
    return AuthorizedHttp(credential, http=pool)


def reset() -> None:
    """Forget the FCM session (tests point the process at another stand-in)."""
    _session.cache_clear()


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value or 0))
    except ValueError:
        return 1.0  # an HTTP date: FCM sends seconds; wait a little anyway


def _error_code(status: int, body: Any) -> str:
    """FCM's error code of a failed send (FcmError.errorCode, else the RPC status), with
    INVALID_ARGUMENT that names ``message.token`` told apart as INVALID_TOKEN."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return {429: "QUOTA_EXCEEDED", 500: "INTERNAL", 503: "UNAVAILABLE"}.get(status, f"HTTP_{status}")
    code = str(error.get("status") or f"HTTP_{status}")
    for detail in error.get("details") or []:
        if not isinstance(detail, dict):
            continue
        if str(detail.get("@type", "")).endswith("google.firebase.fcm.v1.FcmError") and detail.get(
            "errorCode"
        ):
            code = str(detail["errorCode"])
    if code == "INVALID_ARGUMENT":
        for detail in error.get("details") or []:
            for violation in (detail or {}).get("fieldViolations") or []:
                if violation.get("field") == "message.token":
                    return "INVALID_TOKEN"
    return code


def send_one(message: dict[str, Any]) -> Result:
    """Send one message through FCM HTTP v1; FCM's answer (never raises for FCM's or the network's
    failures: they are results)."""
    import urllib3

    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    try:
        response = _session().urlopen(
            "POST", fcm_url(), body=body, headers={"Content-Type": "application/json; charset=UTF-8"}
        )
    except (urllib3.exceptions.HTTPError, OSError):
        return Result("NETWORK", http_status=0)
    try:
        answer = json.loads(response.data or b"null")
    except ValueError:
        answer = None
    if response.status == 200:
        name = str(answer.get("name") or "") if isinstance(answer, dict) else ""
        return Result(None, message_id=name)
    return Result(
        _error_code(response.status, answer),
        retry_after=_retry_after(response.headers.get("Retry-After")),
        http_status=response.status,
    )


class Pacer:
    """At most ``rate`` sends a second for one job (shared by its workers), and a pause for
    everyone when FCM names a Retry-After."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> None:
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next)
            self._next = at + self._interval
        if at > now:
            time.sleep(at - now)

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)


# --- the job ----------------------------------------------------------------------------------


@dataclass
class Progress:
    """What a job has handed over: shards done, token hashes of the shards in progress."""

    done: set[str] = field(default_factory=set)
    sent: dict[str, set[str]] = field(default_factory=dict)
    complete: bool = False

    @classmethod
    def load(cls, record: dict[str, Any] | None) -> Progress:
        if not record:
            return cls()
        return cls(
            done={str(s) for s in record.get("done") or []},
            sent={str(s): {str(h) for h in hs or []} for s, hs in (record.get("sent") or {}).items()},
            complete=bool(record.get("complete")),
        )

    def handled(self, recipient: Recipient) -> bool:
        return recipient.shard in self.done or recipient.key in self.sent.get(recipient.shard, set())

    def mark(self, recipient: Recipient) -> None:
        self.sent.setdefault(recipient.shard, set()).add(recipient.key)

    def close_shards(self, remaining: dict[str, int]) -> None:
        """Move shards with nothing left to send from ``sent`` to ``done``."""
        for shard in [s for s in self.sent if remaining.get(s, 0) == 0]:
            self.done.add(shard)
            del self.sent[shard]

    def record(self) -> dict[str, Any]:
        return {
            "done": sorted(self.done),
            "sent": {s: sorted(hs) for s, hs in self.sent.items()},
            "complete": self.complete,
            "updatedAt": store.server_time(),
            "expireAt": datetime.now(UTC) + PROGRESS_TTL,
        }


@dataclass
class Report:
    """What one run of a push job did (logged by deliver; read by tests and the benchmark)."""

    recipients: int = 0
    sent: int = 0
    dead: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    retried: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    already: int = 0
    batches: list[int] = field(default_factory=list)
    outcome: str = "push-sent"


def fan_out(task: dict[str, Any], retry_count: int = 0) -> str:
    """Run one push task (deliver's action ``push``); what happened, for deliver's log. Raises
    TransientError for Cloud Tasks to retry what was not handed over, MalformedTask for a body that
    is no push task."""
    return run(Post.from_task(task), retry_count).outcome


def run(post: Post, retry_count: int = 0) -> Report:
    """Fan one post out to its channel's roster (see the module's docstring)."""
    started = time.monotonic()
    report = Report()
    shards = store.roster_shards(post.app_id, post.channel_id)
    chosen, report.skipped = recipients(shards, post.sender_id, datetime.now(UTC))
    report.recipients = len(chosen)
    if not chosen:
        report.outcome = "push-nobody"
        _log(post, report, started)
        return report
    recorded = retry_count > 0 or len(chosen) > FCM_BATCH
    progress = Progress()
    if recorded:
        progress = Progress.load(store.push_progress(post.app_id, post.channel_id, post.post_id))
        if progress.complete:
            report.outcome = "push-already-sent"
            report.already = len(chosen)
            _log(post, report, started)
            return report
    todo = [r for r in chosen if not progress.handled(r)]
    report.already = len(chosen) - len(todo)
    remaining: dict[str, int] = {}
    for recipient in todo:
        remaining[recipient.shard] = remaining.get(recipient.shard, 0) + 1
    pacer = Pacer(JOB_MESSAGES_PER_SECOND)
    dead: dict[str, dict[str, list[str]]] = {}
    last_record = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=SEND_WORKERS, thread_name_prefix="push") as pool:
            for batch in batches(todo):
                if time.monotonic() - started > JOB_BUDGET_SECONDS:
                    raise TransientError("the push job ran out of time: the retry sends the rest")
                report.batches.append(len(batch))
                deadline = started + JOB_BUDGET_SECONDS
                _send_batch(post, batch, pool, pacer, report, progress, remaining, dead, deadline)
                progress.close_shards(remaining)
                if len(chosen) > FCM_BATCH and time.monotonic() - last_record >= CHECKPOINT_SECONDS:
                    store.put_push_progress(post.app_id, post.channel_id, post.post_id, progress.record())
                    last_record = time.monotonic()
    except TransientError:
        progress.close_shards(remaining)
        store.put_push_progress(post.app_id, post.channel_id, post.post_id, progress.record())
        _drop(post, dead, report)
        report.outcome = "push-retry"
        _log(post, report, started)
        raise
    if recorded or len(chosen) > FCM_BATCH:
        progress.complete = True
        store.put_push_progress(post.app_id, post.channel_id, post.post_id, progress.record())
    _drop(post, dead, report)
    _log(post, report, started)
    return report


def _send_batch(
    post: Post,
    batch: list[Recipient],
    pool: ThreadPoolExecutor,
    pacer: Pacer,
    report: Report,
    progress: Progress,
    remaining: dict[str, int],
    dead: dict[str, dict[str, list[str]]],
    deadline: float,
) -> None:
    """Hand one batch to FCM, retrying its transient failures; TransientError if some still fail
    after :data:`SEND_ATTEMPTS` attempts, or if waiting for the next attempt would pass ``deadline``
    (the job's budget: Cloud Tasks' retry takes over, with the progress recorded)."""

    def send(recipient: Recipient) -> Result:
        pacer.take()
        result = send_one(post.message(recipient.token))
        if result.code == "QUOTA_EXCEEDED":
            pacer.hold(max(result.retry_after, BACKOFF_SECONDS))
        return result

    pending = batch
    for attempt in range(SEND_ATTEMPTS):
        if attempt:
            report.retried += len(pending)
        results = list(pool.map(send, pending))
        retry: list[Recipient] = []
        wait = 0.0
        for recipient, result in zip(pending, results, strict=True):
            if result.transient:
                retry.append(recipient)
                wait = max(wait, result.retry_after)
                continue
            progress.mark(recipient)
            remaining[recipient.shard] -= 1
            if result.ok:
                report.sent += 1
            elif result.dead:
                report.dead += 1
                dead.setdefault(recipient.shard, {}).setdefault(recipient.user_id, []).append(recipient.token)
            else:
                report.failed[str(result.code)] = report.failed.get(str(result.code), 0) + 1
        if not retry:
            return
        pending = retry
        if attempt + 1 < SEND_ATTEMPTS:
            backoff = min(MAX_BACKOFF_SECONDS, BACKOFF_SECONDS * 2**attempt) * (0.5 + random.random() / 2)
            pause = max(wait, backoff)
            if time.monotonic() + pause > deadline:
                break
            time.sleep(pause)
    raise TransientError(f"FCM kept failing for {len(pending)} token(s): the retry sends them")


def _drop(post: Post, dead: dict[str, dict[str, list[str]]], report: Report) -> None:
    if dead:
        store.roster_drop_tokens(post.app_id, post.channel_id, dead)


def _log(post: Post, report: Report, started: float) -> None:
    fields = {
        "event": "push_fan_out",
        "app": post.app_id,
        "channel_id": post.channel_id,
        "post_id": post.post_id,
        "outcome": report.outcome,
        "recipients": report.recipients,
        "sent": report.sent,
        "dead": report.dead,
        "failed": report.failed,
        "retried": report.retried,
        "already": report.already,
        "skipped": report.skipped,
        "batches": report.batches,
        "seconds": round(time.monotonic() - started, 3),
    }
    level = logging.WARNING if report.failed or report.outcome == "push-retry" else logging.INFO
    log.log(level, "push fan-out", extra={"fields": fields})
