"""Search and the timeline over 100,000 messages in one tenant (issue 19's targets).

    python -m bench.search [--messages 100000] [--rounds 30]

1. Seeds ``messages`` messages into one tenant of the Firestore emulator (500 conversations on
   every demo channel, in/out/note, 90 days, text from a fixed vocabulary so that word frequencies
   are known: ``thanks`` in ~25% of messages, ``parcel`` ~10%, ``delayed`` ~5%, ``delivery`` /
   ``delivered`` ~15%, ``zanzibar`` in 10), as the write paths write them (the search fields of
   shared/search/fields.py), in parallel batches of 500.
2. Measures, through agent_api (HTTP, an agent's ID token: what the dashboard pays), search p50/p99
   for a common word, a rare word, two words (one checked on the returned documents), a prefix and
   a filtered query; a timeline page of 100 (newest first, oldest first, one type); and "new
   message searchable within": a signed WhatsApp webhook with a new word -> the first search that
   returns it (polled every 25 ms).
3. Counts a message's index entries (bench/limits.py, infra/firestore.indexes.json): the search
   fields add no document write; their index entries are storage, which Firestore bills as such.

Also prints the emulator's own time for one query at the database's size (``emulator_query_floor``),
asked directly: the emulator scans the whole database for every query, which bounds every figure
above from below.

Targets: search p50 <= 300 ms, p99 <= 1 s; searchable within 2 s; timeline page of 100 p50 <= 200 ms.
Writes bench/results/search.json.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from bench import limits
from infra.local import demo
from infra.local.stack import LocalStack

RESULTS = Path(__file__).resolve().parent / "results" / "search.json"
CONVERSATIONS = 500
BATCH = 500
WRITERS = 6
DAYS = 90
TARGETS = {"search_p50_ms": 300, "search_p99_ms": 1000, "searchable_within_ms": 2000, "timeline_p50_ms": 200}
QUERIES = {
    "common word (thanks, ~25%)": {"query": "thanks"},
    "rare word (zanzibar, 10 messages)": {"query": "zanzibar"},
    "two words (parcel delayed)": {"query": "parcel delayed"},
    "prefix (deliv)": {"query": "deliv"},
    "accented, unaccented query (montreal)": {"query": "montreal"},
    "word + status filter (refund, resolved)": {"query": "refund", "status": "resolved"},
}


def _words(seed: int) -> list[str]:
    """A vocabulary of made-up filler words (fixed by the seed)."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "su", "ter", "van", "dor", "pel", "ris", "tum", "bex", "nor", "qui", "ush"]
    return ["".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(5000)]


def message_text(rng: random.Random, filler: list[str], n: int, rare: set[int]) -> str:
    words = [rng.choice(filler) for _ in range(rng.randint(6, 14))]
    for word, share in (("thanks", 0.25), ("parcel", 0.10), ("delayed", 0.05), ("refund", 0.03)):
        if rng.random() < share:
            words.insert(rng.randrange(len(words) + 1), word)
    if rng.random() < 0.15:
        words.append(rng.choice(["delivery", "delivered"]))
    if rng.random() < 0.02:
        words.append("Montréal")
    if n in rare:
        words.append("Zanzibar")
    return " ".join(words)


def seed(tenant_id: str, count: int) -> dict[str, Any]:
    """Write ``count`` messages and their conversations; return how long it took."""
    from shared import ids, search, store

    rng = random.Random(19)
    filler = _words(19)
    rare = set(rng.sample(range(count), 10))
    channels = [c for c in demo.DEMO_CHANNELS]
    db = store.client()
    now = datetime.now(UTC)
    conversations = []
    statuses = ["open", "pending", "resolved", "resolved"]
    batch = db.batch()
    for c in range(CONVERSATIONS):
        channel = channels[c % len(channels)]
        conversation_id = ids.conversation_id(channel.channel_id, f"bench-{c}")
        conversations.append((conversation_id, channel))
        batch.set(
            store.conversation_ref(tenant_id, conversation_id),
            {
                "kind": "support",
                "tenantId": tenant_id,
                "channel": channel.kind,
                "channelId": channel.channel_id,
                "contactName": f"Customer {c}",
                "status": statuses[c % len(statuses)],
                "lastActivityAtMs": int(now.timestamp() * 1000),
            },
        )
    batch.commit()

    def document(n: int) -> tuple[Any, dict[str, Any]]:
        local = random.Random(n)
        conversation_id, channel = conversations[local.randrange(CONVERSATIONS)]
        sent = now - timedelta(seconds=local.uniform(60, DAYS * 86400))
        direction = local.choices(["in", "out", "note"], weights=[6, 3, 1])[0]
        kind = "note" if direction == "note" else local.choices(["text", "image"], weights=[19, 1])[0]
        text = message_text(local, filler, n, rare)
        doc: dict[str, Any] = {
            "direction": direction,
            "type": kind,
            "content": {"type": kind, "text": text},
            "text": text,
            "sender": {"kind": "contact" if direction == "in" else "agent", "name": "Bench"},
            "channel": channel.kind,
            "channelId": channel.channel_id,
            "providerMessageId": f"bench-{n}",
            "status": "received" if direction == "in" else "sent",
            "sentAt": sent,
        }
        doc.update(search.message_fields(tenant_id, conversation_id, int(sent.timestamp() * 1000), doc))
        return store.message_ref(tenant_id, conversation_id, f"bench{n:07d}"), doc

    def write(start: int) -> int:
        batch = db.batch()
        for n in range(start, min(start + BATCH, count)):
            ref, doc = document(n)
            batch.set(ref, doc)
        batch.commit()
        return min(start + BATCH, count) - start

    started = time.monotonic()
    written = 0
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        for done in pool.map(write, range(0, count, BATCH)):
            written += done
            if written % 10_000 < BATCH:
                rate = written / (time.monotonic() - started)
                print(f"  seeded {written:,} messages ({rate:,.0f}/s)", flush=True)
    seconds = time.monotonic() - started
    return {"messages": count, "conversations": CONVERSATIONS, "seconds": round(seconds, 1)}


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
        "max_ms": round(ordered[-1], 1),
        "n": len(ordered),
    }


def emulator_floor(tenant: str, rounds: int) -> dict[str, Any]:
    """What one query costs the Firestore emulator at this database size, asked directly (no HTTP,
    no function): the emulator scans every document of the database for a query, so even one
    conversation's first message (a collection of ~200) costs about what a tenant-wide search does.
    Production answers both from an index, in time that grows with the results, not the database."""
    from shared import store
    from shared.search.fields import every_key, term_key

    conversation = store.tenant_messages(every_key(tenant), limit=1)[0].conversation_id

    def timed(read: Any) -> dict[str, Any]:
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            read()
            samples.append((time.perf_counter() - started) * 1000)
        return _stats(samples)

    return {
        "one_conversations_first_message": timed(
            lambda: next(store.conversation_messages(tenant, conversation, 1))
        ),
        "tenant_messages_with_a_rare_word": timed(
            lambda: store.tenant_messages(term_key(tenant, "zanzibar"), limit=20)
        ),
    }


def run(messages: int = 100_000, rounds: int = 30, searchable_samples: int = 20) -> dict[str, Any]:  # noqa: PLR0915
    """Seed, measure, return (and save) the figures."""
    from shared import store
    from shared.search.fields import every_key
    from tests.support import agent_token, post_webhook, whatsapp_text_webhook

    tenant = demo.DEMO_TENANT
    functions = ("webhook_whatsapp", "ingest", "agent_api", "deliver")
    quiet = {"SWITCHBOARD_LOG_LEVEL": "WARNING"}
    with LocalStack(
        functions=functions, with_sandbox=False, with_fcm=False, with_storage=False, extra_env=quiet
    ) as stack:
        stack.apply_env()
        demo.seed()
        print(f"seeding {messages:,} messages into tenant {tenant!r}...", flush=True)
        seeded = seed(tenant, messages)
        token = agent_token(stack, tenant, "bench-search@demo.test")
        session = requests.Session()
        url = stack.function_urls["agent_api"]

        def ask(body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
            started = time.perf_counter()
            response = session.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            elapsed = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            return elapsed, dict(response.json())

        for _ in range(3):
            ask({"action": "search", "query": "warmup"})
        floor = emulator_floor(tenant, rounds)
        print(f"  the emulator's own time for one query at this size: {floor}", flush=True)
        searches: dict[str, Any] = {}
        every: list[float] = []
        for name, body in QUERIES.items():
            samples, counts, reads = [], [], []
            for _ in range(rounds):
                elapsed, answer = ask({"action": "search", **body})
                samples.append(elapsed)
                counts.append(len(answer["results"]))
                reads.append(answer.get("read", 0))
            every += samples
            searches[name] = {**_stats(samples), "results": counts[0], "messages_read": reads[0]}
            print(f"  search {name}: {searches[name]}", flush=True)

        timeline: dict[str, Any] = {}
        for name, body in {
            "newest first, next pages by cursor": {"order": "newest"},
            "oldest first": {"order": "oldest"},
            "one type (image)": {"order": "newest", "types": ["image"]},
        }.items():
            samples = []
            cursor = None
            for _ in range(rounds):
                request = {"action": "timeline", "pageSize": 100, **body}
                if cursor:
                    request["cursor"] = cursor
                elapsed, answer = ask(request)
                samples.append(elapsed)
                cursor = answer["next"] if "cursor" in name else None
            timeline[name] = {**_stats(samples), "page": len(answer["messages"])}
            print(f"  timeline {name}: {timeline[name]}", flush=True)

        wa = next(c for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")
        within, stored_within, first_search = [], [], []
        from shared import ids

        for i in range(searchable_samples):
            word = f"quokka{uuid.uuid4().hex[:8]}"
            body = whatsapp_text_webhook(
                wa.external_id, f"1555777{i:04d}", f"is my {word} here", wamid=f"wamid.B{word}"
            )
            conversation = ids.conversation_id(wa.channel_id, f"1555777{i:04d}")
            message = ids.message_id(wa.channel_id, f"wamid.B{word}")
            started = time.perf_counter()
            assert post_webhook(stack, "whatsapp", body).status_code == 200
            deadline = started + 30
            while time.perf_counter() < deadline and not store.get_message(tenant, conversation, message):
                time.sleep(0.01)
            stored_within.append((time.perf_counter() - started) * 1000)
            first = True
            while time.perf_counter() < deadline:
                elapsed, answer = ask({"action": "search", "query": word})
                if answer["results"]:
                    within.append((time.perf_counter() - started) * 1000)
                    first_search.append(1.0 if first else 0.0)
                    break
                first = False
        searchable = _stats(within) if within else {"error": "never searchable"}
        if within:
            searchable["webhook_to_stored"] = _stats(stored_within)
            found_first = f"{sum(first_search):.0f}/{len(first_search)}"
            searchable["found_by_the_first_search_after_stored"] = found_first
        print(f"  new message searchable within: {searchable}", flush=True)

        config = limits.IndexConfig.load()
        sample = store.tenant_messages(every_key(tenant), limit=200)
        entries = [limits.index_entries("messages", m.data, config) for m in sample]
        terms = [len(m.data.get("terms") or []) for m in sample]

    figures = {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seed": seeded,
        "emulator_query_floor": floor,
        "search": searches,
        "search_all_queries": _stats(every),
        "timeline_page_of_100": timeline,
        "new_message_searchable_within": searchable,
        "index": {
            "extra_document_writes_per_message": 0,
            "terms_per_message_mean": round(statistics.mean(terms), 1),
            "terms_per_message_max": max(terms),
            "index_entries_per_message_mean": round(statistics.mean(e.total for e in entries), 1),
            "composite_entries_per_message_mean": round(statistics.mean(e.composite for e in entries), 1),
        },
        "targets": TARGETS,
    }
    out = RESULTS if messages == 100_000 else RESULTS.with_name(f"search-{messages}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    run(args.messages, args.rounds)


if __name__ == "__main__":
    main()
