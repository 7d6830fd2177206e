"""A big tenant's report documents against Firestore's per-document limits (1 MiB, 40,000 index
entries), measured with bench/limits.py's arithmetic: a day of 200 agents, 50 teams, 300 labels and
8 channel kinds. The figures are in ARCHITECTURE.md ("Reports: one document per channel and day");
they are why the channel-narrowed tables live in one document per channel and day rather than as
compound ``channel|agent`` keys in the day document, and why the figure maps are exempt from
indexing (infra/firestore.indexes.json)."""

from __future__ import annotations

from typing import Any

from bench import limits
from shared.reports import tally

T0 = 1_795_910_400_000  # 2026-11-29 00:00 UTC
CHANNELS = ("whatsapp", "messenger", "instagram", "telegram", "sms", "email", "webchat", "viber")
AGENTS, TEAMS, LABELS = 200, 50, 300


def ident(kind: str, n: int) -> str:
    """An id as long as Firestore's auto ids and Firebase uids (28 characters)."""
    return f"{kind}{n:05d}".ljust(28, "x")


def busy_day(conversations: int) -> tally.Tally:
    """``conversations`` conversations opened, labelled twice, answered, resolved and rated on one
    day, spread over every channel, agent, team and label, with response and resolution times
    spread over 60 histogram buckets (1 s to 9 h)."""
    figures = tally.Tally(tally.zone("UTC"))
    states: dict[str, dict[str, Any]] = {}
    for i in range(conversations):
        cid, agent, channel = f"c{i}", ident("agent", i % AGENTS), CHANNELS[i % len(CHANNELS)]
        known = {cid: {"channel": channel, "teamId": ident("team", i % TEAMS)}}
        at = T0 + (i * 7919 % 43_000) * 1000
        frt_ms = int(2 ** (i * 13 % 60 / 4) * 1000)
        res_ms = frt_ms + int(2 ** (i * 17 % 60 / 4) * 1000)
        labels = [{"id": ident("label", i % LABELS)}, {"id": ident("label", (i * 7 + 1) % LABELS)}]
        lines: list[tuple[int, dict[str, Any]]] = [
            (at, {"direction": "in", "channel": channel}),
            (at + 1, {"verb": "assign", "assigneeId": agent}),
            (at + 2, {"verb": "labels", "added": labels, "removed": []}),
            (at + frt_ms, {"direction": "out", "sender": {"kind": "agent", "id": agent}}),
            (at + res_ms, {"verb": "resolve"}),
            (at + res_ms + 1, {"verb": "rate", "score": i % 5 + 1, "askId": f"a{i}", "replaces": None}),
        ]
        for sent_at, line in lines:
            data = (
                line if "direction" in line else {"direction": "system", "type": "activity", "activity": line}
            )
            tally.apply(figures, states, known, tally.Message(cid, {**data, "sentAtMs": sent_at}))
    return figures


def full_dimension(buckets: int) -> dict[str, Any]:
    """A dimension's figures with every count and ``buckets`` buckets in both distributions."""
    dist = {"n": 10**6, "sum": 1.5e9, "b": {str(b): 1000 for b in range(buckets)}}
    counts = {metric: 10**5 for metric in tally.COUNTS}
    return {**counts, "frt": dist, "res": dict(dist), "csat": dict.fromkeys(tally.SCORES, 100)}


def scoped_dims(buckets: int) -> dict[str, Any]:
    return {
        **{f"agent:{ident('agent', i)}": full_dimension(buckets) for i in range(AGENTS)},
        **{f"team:{ident('team', i)}": full_dimension(buckets) for i in range(TEAMS)},
        **{f"label:{ident('label', i)}": full_dimension(buckets) for i in range(LABELS)},
    }


def sizes(day: dict[str, Any], channel_docs: list[dict[str, Any]]) -> dict[str, int]:
    config = limits.IndexConfig.load()
    base = limits.document_size(f"tenants/t/reports/{day['day']}", day)
    per_channel = [
        limits.document_size(f"tenants/t/reportChannels/{d['day']}_{d['channel']}", d) for d in channel_docs
    ]
    compound = base + sum(
        limits.value_size({f"channel:{d['channel']}|{key}": value for key, value in d["dims"].items()})
        for d in channel_docs
    )
    return {
        "day_bytes": base,
        "channel_bytes_max": max(per_channel),
        "compound_in_the_day_bytes": compound,
        "day_index_entries": limits.index_entries("reports", day, config).total,
        "channel_index_entries_max": max(
            limits.index_entries("reportChannels", d, config).total for d in channel_docs
        ),
        "day_index_entries_unexempted": limits.index_entries("reports", day, limits.IndexConfig()).total,
    }


def test_a_busy_day_of_a_big_tenant_fits_its_day_and_channel_documents_with_room() -> None:
    figures = busy_day(8000)
    (day,) = (doc for doc in figures.days.values() if doc["day"] == "2026-11-29")
    channel_docs = [doc for doc in figures.channels.values() if doc["day"] == "2026-11-29"]
    assert len(day["dims"]) == 1 + len(CHANNELS) + AGENTS + TEAMS + LABELS and len(channel_docs) == 8
    measured = sizes(day, channel_docs)
    print("busy day (8,000 conversations):", measured)
    assert measured["day_bytes"] < 0.25 * limits.MAX_DOCUMENT_BYTES
    assert measured["channel_bytes_max"] < 0.1 * limits.MAX_DOCUMENT_BYTES
    assert measured["day_index_entries"] < 20 and measured["channel_index_entries_max"] < 20


def test_every_dimension_with_thirty_buckets_still_fits_one_document_per_channel_but_not_one_per_day() -> (
    None
):
    dims = {"all": full_dimension(30), **{f"channel:{c}": full_dimension(30) for c in CHANNELS}}
    hours = {
        dim: {str(h): dict.fromkeys(tally.COUNTS, 1) for h in range(24)}
        for dim in list(dims)[: 1 + len(CHANNELS)]
    }
    day = {
        "day": "2026-11-29",
        "timeZone": "Europe/Berlin",
        "dims": {**dims, **scoped_dims(30)},
        "hours": hours,
    }
    channel_docs = [
        {"day": "2026-11-29", "channel": c, "timeZone": "Europe/Berlin", "dims": scoped_dims(30)}
        for c in CHANNELS
    ]
    measured = sizes(day, channel_docs)
    print("every dimension full, 30 buckets per distribution:", measured)
    assert measured["day_bytes"] < 0.5 * limits.MAX_DOCUMENT_BYTES
    assert measured["channel_bytes_max"] < 0.5 * limits.MAX_DOCUMENT_BYTES
    assert measured["compound_in_the_day_bytes"] > 4 * limits.MAX_DOCUMENT_BYTES
    assert measured["day_index_entries"] < 20
    assert measured["day_index_entries_unexempted"] > limits.MAX_INDEX_ENTRIES  # why the exemption
