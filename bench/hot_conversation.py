"""A hot conversation: one customer (a group chat, a bot loop) writing 50 messages a second, through
the real webhook, Pub/Sub and ingest, with the conversation summary coalesced (shared/inbox.py), and
what that does to the production limit of about one sustained write per second per document.

Two delivery paths into ingest, both measured:

- ``unordered``: the local stack's push subscription (no message ordering: the emulator cannot
  dead-letter an ordered one);
- ``ordered``: :class:`infra.local.ordered_push.OrderedPush`, which pushes one message per ordering
  key (conversation) at a time, as production's ordered subscription does.

For each it prints: messages landed per second, how long after the burst every message had landed
and the summary was exact (counts, unread, last message by provider time, last inbound time), and
writes per document (the most any document took in one second, and on average over the burst).

Firestore writes are counted in every process of the stack (ingest, deliver): :func:`stack_env` is
the environment that makes each function log its commits. ``meter_site/sitecustomize.py`` runs at
each interpreter's start, and when :data:`LOG_ENV` names a file it wraps the Firestore client's
``commit`` (the RPC every batch and every single write goes through), so each document a successful
commit wrote appends one line, ``<commit time> <document path>``: a document written once in a
commit counts once, whatever transforms the write carries (as Firestore bills it).

    python -m bench.hot_conversation [--rate 50] [--seconds 10]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.limits import max_in_window
from bench.stats import percentile, summary

LOG_ENV = "SWITCHBOARD_BENCH_WRITE_LOG"
SITE_DIR = Path(__file__).resolve().parent / "meter_site"
REPO = Path(__file__).resolve().parents[1]
PAGE = "messenger-main"  # the demo tenant's Messenger page: provider times in milliseconds
SETTLE_TIMEOUT_SECONDS = 120.0

_lock = threading.Lock()
_installed: list[Path] = []


def stack_env(log_path: Path) -> dict[str, str]:
    """What a LocalStack's ``extra_env`` needs for its functions to log their writes to ``log_path``."""
    return {"PYTHONPATH": os.pathsep.join([str(SITE_DIR), str(REPO)]), LOG_ENV: str(log_path)}


def install_from_env() -> None:
    """Install the meter when :data:`LOG_ENV` names a file (called by meter_site/sitecustomize.py)."""
    path = os.environ.get(LOG_ENV)
    if path:
        install(Path(path))


def install(log_path: Path) -> None:
    """Log every document a successful commit of this process writes to ``log_path`` (once)."""
    from google.cloud.firestore_v1.services.firestore.client import FirestoreClient

    with _lock:
        if _installed:
            return
        _installed.append(log_path)
    original = FirestoreClient.commit

    def commit(client: Any, *args: Any, **kwargs: Any) -> Any:
        request = kwargs.get("request", args[0] if args else None)
        answer = original(client, *args, **kwargs)
        with contextlib.suppress(Exception):  # a meter never breaks what it measures
            _log(log_path, _commit_time(answer), written_paths(request))
        return answer

    FirestoreClient.commit = commit  # type: ignore[method-assign]


def _commit_time(answer: Any) -> float:
    """When Firestore committed (the response's commit time: the server's clock, not when this
    process got round to logging it), or now."""
    committed = getattr(answer, "commit_time", None)
    return committed.timestamp() if committed else time.time()


def written_paths(request: Any) -> list[str]:
    """The document paths (under ``documents/``) a commit request writes, each once."""
    writes = request.get("writes") if isinstance(request, dict) else request.writes
    paths: list[str] = []
    for write in writes or []:
        pb = getattr(write, "_pb", write)
        operation = pb.WhichOneof("operation")
        if operation == "update":
            name = pb.update.name
        elif operation == "delete":
            name = pb.delete
        else:
            name = pb.transform.document
        path = name.split("/documents/", 1)[-1]
        if path not in paths:
            paths.append(path)
    return paths


def _log(log_path: Path, at: float, paths: Iterable[str]) -> None:
    lines = "".join(f"{at:.6f} {path}\n" for path in paths)
    if lines:
        # One write(2) per commit on an O_APPEND file: lines of concurrent processes never interleave.
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, lines.encode())
        finally:
            os.close(fd)


def read(log_path: Path, start: float = 0.0, end: float = math.inf) -> list[tuple[float, str]]:
    """The (time, document path) writes logged between ``start`` and ``end``."""
    if not log_path.exists():
        return []
    writes = []
    for line in log_path.read_text().splitlines():
        at, _, path = line.partition(" ")
        if path and start <= float(at) <= end:
            writes.append((float(at), path))
    return writes


def kind(path: str) -> str:
    """What a document is, from its path: message, summary_share, conversation, contact, channel..."""
    parts = path.split("/")
    if len(parts) >= 6 and parts[2] == "conversations":
        return {"messages": "message", "summaryPending": "summary_share"}.get(parts[4], parts[4])
    if len(parts) == 4 and parts[2] in {"conversations", "contacts", "channels"}:
        return parts[2].removesuffix("s")
    return parts[0] if len(parts) <= 2 else parts[-2]


def per_document(writes: list[tuple[float, str]], seconds: float) -> dict[str, Any]:
    """Figures per kind of document over a burst of ``seconds``: how many documents, the most writes
    one of them took in total, in any one second (sliding window) and on average per second."""
    times: dict[str, list[float]] = defaultdict(list)
    for at, path in writes:
        times[path].append(at)
    figures: dict[str, Any] = {}
    for doc_kind in sorted({kind(path) for path in times}):
        docs = {path: ts for path, ts in times.items() if kind(path) == doc_kind}
        busiest = max(docs, key=lambda path: len(docs[path]))
        figures[doc_kind] = {
            "documents": len(docs),
            "writes": sum(len(ts) for ts in docs.values()),
            "max_writes_per_document": len(docs[busiest]),
            "max_writes_in_any_second": max(max_in_window(ts) for ts in docs.values()),
            "max_writes_in_one_clock_second": max(
                max(Counter(int(t) for t in ts).values()) for ts in docs.values()
            ),
            "max_average_writes_per_second": round(len(docs[busiest]) / max(seconds, 1e-9), 2),
        }
    return figures


def landing_per_second(writes: list[tuple[float, str]], start: float) -> list[int]:
    """Message documents first written in each second from ``start``: the landing rate over time."""
    first: dict[str, float] = {}
    for at, path in writes:
        if kind(path) == "message":
            first[path] = min(at, first.get(path, at))
    if not first:
        return []
    counts = Counter(int(at - start) for at in first.values())
    return [counts.get(second, 0) for second in range(max(counts) + 1)]


# --- the burst ------------------------------------------------------------------------------------


def messenger_body(page_id: str, psid: str, items: list[tuple[str, str, int]]) -> dict[str, Any]:
    """A Messenger webhook POST with one ``messaging[]`` item per (mid, text, timestamp in ms)."""
    return {
        "object": "page",
        "entry": [
            {
                "id": page_id,
                "time": max(at for _, _, at in items),
                "messaging": [
                    {
                        "sender": {"id": psid},
                        "recipient": {"id": page_id},
                        "timestamp": at,
                        "message": {"mid": mid, "text": text},
                    }
                    for mid, text, at in items
                ],
            }
        ],
    }


@dataclass(frozen=True)
class Burst:
    """What was sent: ``rate`` messages a second for ``seconds`` from one customer, in POSTs of
    ``per_post`` (Meta batches), with provider times strictly increasing."""

    psid: str
    rate: int
    seconds: float
    per_post: int
    mids: tuple[str, ...]
    started: float  # time.time() of the first POST
    ended: float  # time.time() the last POST was accepted

    @property
    def count(self) -> int:
        return len(self.mids)


def send_burst(
    post: Callable[[bytes], None], page_id: str, psid: str, rate: int, seconds: float, per_post: int = 10
) -> Burst:
    """POST ``rate`` messages a second for ``seconds``, paced, ``per_post`` to a POST; each message
    carries its own provider time (``timestamp`` in ms), 1/rate apart."""
    total = int(rate * seconds)
    tag = f"{psid}-{time.time_ns()}"
    mids = tuple(f"m_hot_{tag}_{i}" for i in range(total))
    started = time.time()
    base_ms = int(started * 1000)
    for first in range(0, total, per_post):
        due = started + first / rate
        time.sleep(max(0.0, due - time.time()))  # pacing, not a wait for a result
        items = [
            (mids[i], f"hot {i}", base_ms + int(i * 1000 / rate))
            for i in range(first, min(total, first + per_post))
        ]
        post(json.dumps(messenger_body(page_id, psid, items)).encode())
    return Burst(psid, rate, seconds, per_post, mids, started, time.time())


def summary_state(tenant_id: str, channel_id: str, burst: Burst) -> dict[str, Any]:
    """The conversation summary, and whether it is exact for ``burst`` (in a fresh conversation)."""
    from shared import ids, store

    conversation_id = ids.conversation_id(channel_id, burst.psid)
    data = store.get_conversation(tenant_id, conversation_id) or {}
    latest = ids.message_id(channel_id, burst.mids[-1])
    latest_ms = int(burst.started * 1000) + int((burst.count - 1) * 1000 / burst.rate)
    exact = (
        data.get("messageCount") == burst.count
        and data.get("unreadCount") == burst.count
        and (data.get("lastMessage") or {}).get("id") == latest
        and (data.get("lastInbound") or {}).get("messageId") == latest
        and data.get("lastInboundAtMs") == latest_ms
        and data.get("status") == "open"
    )
    return {"exact": exact, "summary": data}


def landed_count(tenant_id: str, channel_id: str, burst: Burst) -> int:
    """How many of the burst's messages are in Firestore (one aggregation query)."""
    from shared import ids, store

    conversation_id = ids.conversation_id(channel_id, burst.psid)
    query = store.conversation_ref(tenant_id, conversation_id).collection("messages")
    return int(query.count().get()[0][0].value)


def wait_for(condition: Callable[[], bool], timeout: float) -> float | None:
    """Poll ``condition`` every 20 ms; the time.time() it first held, or None after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.time()
        time.sleep(0.02)
    return None


def measure(
    post: Callable[[bytes], None],
    log_path: Path,
    *,
    tenant_id: str,
    channel_id: str,
    page_id: str,
    psid: str,
    rate: int = 50,
    seconds: float = 5.0,
) -> dict[str, Any]:
    """Send one burst into a fresh conversation and return its figures (see the module docstring)."""
    burst = send_burst(post, page_id, psid, rate, seconds)
    all_landed = wait_for(
        lambda: landed_count(tenant_id, channel_id, burst) >= burst.count, SETTLE_TIMEOUT_SECONDS
    )
    exact_at = wait_for(lambda: summary_state(tenant_id, channel_id, burst)["exact"], SETTLE_TIMEOUT_SECONDS)
    settled = max(t for t in (all_landed, exact_at, burst.ended) if t is not None)
    writes = read(log_path, burst.started, settled + 0.5)
    window = max(settled - burst.started, burst.seconds)
    documents = per_document(writes, window)
    per_second = landing_per_second(writes, burst.started)
    busy = [n for n in per_second[: max(1, int(burst.seconds))]]
    figures = {
        "messages": burst.count,
        "rate_per_second": rate,
        "burst_seconds": round(burst.ended - burst.started, 2),
        "landed_per_second": per_second,
        "landed_per_second_during_burst": round(sum(busy) / max(1, len(busy)), 1),
        "all_landed_after_burst_seconds": None if all_landed is None else round(all_landed - burst.ended, 2),
        "summary_exact": exact_at is not None,
        "summary_exact_after_burst_seconds": None if exact_at is None else round(exact_at - burst.ended, 2),
        "summary_exact_after_last_landing_seconds": None
        if exact_at is None or all_landed is None
        else round(max(0.0, exact_at - all_landed), 2),
        "window_seconds": round(window, 2),
        "writes": documents,
        "conversation_writes": (documents.get("conversation") or {}).get("writes"),
        "conversation_max_writes_in_any_second": (documents.get("conversation") or {}).get(
            "max_writes_in_any_second"
        ),
        "max_writes_in_any_second_on_one_document_but_messages": max(
            (v["max_writes_in_any_second"] for k, v in documents.items() if k != "message"), default=0
        ),
        "_writes": writes,
        "_summary": summary_state(tenant_id, channel_id, burst)["summary"],
    }
    return figures


@contextlib.contextmanager
def metered_stack(log_path: Path, *, coalesced: bool, functions: Iterable[str] = ()) -> Iterator[Any]:
    """A local stack whose functions log their Firestore writes to ``log_path``: the Messenger
    webhook and ingest, with deliver and Cloud Tasks when ``coalesced`` (ingest defers summaries
    only when it can schedule their fold), without them to measure every message writing it."""
    from infra.local import demo
    from infra.local.stack import LocalStack

    names = ("webhook_messenger", "ingest", *(("deliver",) if coalesced else ()), *functions)
    # A stack's processes inherit this process's environment, which apply_env filled with the
    # previous stack's URLs (its deliver URL would make ingest defer without a fold to run them).
    saved = dict(os.environ)
    for name in ("SWITCHBOARD_DELIVER_URL", "SWITCHBOARD_TASKS_EMULATOR_HOST"):
        os.environ.pop(name, None)
    with LocalStack(
        functions=tuple(dict.fromkeys(names)),
        with_auth=False,
        with_tasks=coalesced,
        with_sandbox=False,
        extra_env={**stack_env(log_path), "SWITCHBOARD_LOG_LEVEL": "WARNING"},
    ) as stack:
        stack.apply_env()
        for name in ("PYTHONPATH", LOG_ENV):  # the functions have it; this process needs neither
            os.environ.pop(name, None)
        demo.seed()
        try:
            yield stack
        finally:
            os.environ.clear()
            os.environ.update(saved)


def poster(stack: Any, kind: str = "messenger") -> Callable[[bytes], None]:
    """POST Meta-signed bodies to the stack's webhook, insisting on 200."""
    import requests

    from infra.local.simulate import meta_signature

    session = requests.Session()
    url = stack.function_urls[f"webhook_{kind}"]

    def post(body: bytes) -> None:
        headers = {
            "X-Hub-Signature-256": meta_signature(body, stack.secrets.meta_app_secret),
            "Content-Type": "application/json",
        }
        session.post(url, data=body, headers=headers, timeout=60).raise_for_status()

    return post


def run_paths(
    stack: Any, log_path: Path, rate: int, seconds: float, ordered_latency: float = 0.0
) -> dict[str, Any]:
    """The burst through the unordered push subscription, then through the ordered stand-in (and,
    with ``ordered_latency``, through the stand-in again with that many seconds added to each push)."""
    from infra.local import demo
    from infra.local.ordered_push import OrderedPush

    page = next(c for c in demo.DEMO_CHANNELS if c.channel_id == PAGE)
    common = {"tenant_id": demo.DEMO_TENANT, "channel_id": page.channel_id, "page_id": page.external_id}
    post = poster(stack)
    figures = {
        "unordered": measure(post, log_path, psid="hot-unordered", rate=rate, seconds=seconds, **common)
    }
    variants = [("ordered", 0.0)] + ([("ordered_slow_push", ordered_latency)] if ordered_latency else [])
    for name, latency in variants:
        with OrderedPush(stack, added_latency=latency) as ordered:
            numbers = measure(post, log_path, psid=f"hot-{name}", rate=rate, seconds=seconds, **common)
            pushes = [1000 * t for t in ordered.deliveries.push_seconds]
            numbers.update(
                {
                    "added_push_latency_ms": round(latency * 1000),
                    "max_pushes_in_flight_per_conversation": ordered.deliveries.max_in_flight_per_key,
                    "push_ms": summary(pushes) if pushes else None,
                    # One push at a time per conversation: what one conversation can take at most.
                    "ordered_ceiling_per_second": round(1000 / percentile(pushes, 50), 1) if pushes else None,
                }
            )
            figures[name] = numbers
    return figures


def headline(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures that matter, per design (coalesced / every_message) and path (unordered / ordered):
    landing rate, lag to every message and to an exact summary, writes on the busiest documents."""
    lines: dict[str, Any] = {}
    for design in ("coalesced", "every_message"):
        for path, numbers in (figures.get(design) or {}).items():
            conversation = numbers["writes"].get("conversation") or {}
            lines[f"{design}_{path}"] = {
                "landed_per_second_during_burst": numbers["landed_per_second_during_burst"],
                "ordered_ceiling_per_second": numbers.get("ordered_ceiling_per_second"),
                "all_landed_after_burst_seconds": numbers["all_landed_after_burst_seconds"],
                "summary_exact_after_burst_seconds": numbers["summary_exact_after_burst_seconds"],
                "conversation_writes": conversation.get("writes"),
                "conversation_max_writes_in_any_second": conversation.get("max_writes_in_any_second"),
                "conversation_max_writes_in_one_clock_second": conversation.get(
                    "max_writes_in_one_clock_second"
                ),
                "conversation_average_writes_per_second": conversation.get("max_average_writes_per_second"),
                "max_writes_in_any_second_on_one_document_but_messages": numbers[
                    "max_writes_in_any_second_on_one_document_but_messages"
                ],
            }
    return lines


def run(
    rate: int = 50,
    seconds: float = 10.0,
    before: bool = True,
    quiet: bool = False,
    ordered_latency: float = 0.0,
) -> dict[str, Any]:
    """Measure both paths with summaries coalesced and (``before``) with every message writing the
    summary; return the figures (and print them unless ``quiet``)."""
    from bench.stats import report

    figures: dict[str, Any] = {"rate_per_second": rate, "seconds": seconds}
    with tempfile.TemporaryDirectory(prefix="hot-conversation-") as folder:
        log_path = Path(folder) / "writes.log"
        with metered_stack(log_path, coalesced=True) as stack:
            figures["coalesced"] = run_paths(stack, log_path, rate, seconds, ordered_latency)
        if before:
            log_path = Path(folder) / "writes-before.log"
            with metered_stack(log_path, coalesced=False) as stack:
                figures["every_message"] = run_paths(stack, log_path, rate, seconds, ordered_latency)
    if not quiet:
        report("hot_conversation", _printable(figures))
    return figures


def _printable(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures without raw samples (keys starting with ``_``) at any depth."""
    if isinstance(figures, dict):
        return {k: _printable(v) for k, v in figures.items() if not str(k).startswith("_")}
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-before", action="store_true", help="skip the run without coalescing")
    parser.add_argument(
        "--ordered-latency-ms",
        type=float,
        default=0.0,
        help="also run the ordered stand-in with this much added to each push (production's latency)",
    )
    arguments = parser.parse_args(argv)
    run(
        arguments.rate,
        arguments.seconds,
        before=not arguments.no_before,
        ordered_latency=arguments.ordered_latency_ms / 1000,
    )


if __name__ == "__main__":
    main()
