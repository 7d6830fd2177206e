"""What each message counts towards (shared/reports/tally.py) and the log-bucket distributions
(shared/reports/histogram.py): pure, no emulator."""

from __future__ import annotations

from datetime import date

from shared.reports import api, histogram, tally

T0 = 1_795_910_400_000  # 2026-11-29 00:00 UTC, a Sunday, in ms


def message(direction: str, at_ms: int, **extra: object) -> tally.Message:
    return tally.Message("c1", {"direction": direction, "sentAtMs": at_ms, "channel": "whatsapp", **extra})


def activity(verb: str, at_ms: int, **details: object) -> tally.Message:
    line = {"verb": verb, **details}
    data = {"direction": "system", "type": "activity", "sentAtMs": at_ms, "activity": line}
    return tally.Message("c1", data)


def run(messages: list[tally.Message], zone: str = "UTC") -> tuple[tally.Tally, dict[str, dict]]:
    figures, states = tally.Tally(tally.zone(zone)), {}
    for item in messages:
        tally.apply(figures, states, {"c1": {"channel": "whatsapp", "teamId": "support"}}, item)
    return figures, states


def test_quantiles_come_from_the_buckets_within_their_width() -> None:
    dist = histogram.empty()
    for seconds in range(1, 101):
        histogram.add(dist, seconds)
    median, p90 = histogram.quantile(dist, 0.5), histogram.quantile(dist, 0.9)
    assert median is not None and abs(median - 50) / 50 < 0.1
    assert p90 is not None and abs(p90 - 90) / 90 < 0.1
    assert histogram.mean(dist) == 50.5
    other = histogram.empty()
    histogram.add(other, 1000)
    histogram.merge(dist, other)
    assert dist["n"] == 101
    assert histogram.quantile(dist, 1.0) == histogram.bucket_value(histogram.bucket(1000))
    assert histogram.quantile(histogram.empty(), 0.5) is None


def test_a_conversation_opens_is_answered_resolved_and_reopened() -> None:
    figures, states = run(
        [
            message("in", T0),
            message("in", T0 + 10_000),
            activity("assign", T0 + 20_000, assigneeId="dana"),
            activity("labels", T0 + 25_000, added=[{"id": "vip", "name": "VIP"}], removed=[]),
            message("note", T0 + 30_000, sender={"kind": "agent", "id": "dana"}),
            message("out", T0 + 60_000, sender={"kind": "agent", "id": "dana"}),
            message("out", T0 + 70_000, sender={"kind": "agent", "id": "dana"}),
            activity("resolve", T0 + 600_000, actorId="dana"),
            message("in", T0 + 700_000),
        ]
    )
    (doc,) = figures.days.values()
    dims = doc["dims"]
    assert {k: dims["all"][k] for k in tally.COUNTS} == {"opened": 2, "resolved": 1, "in": 3, "out": 2}
    assert dims["all"]["frt"]["n"] == 1 and dims["all"]["frt"]["sum"] == 60.0
    assert dims["all"]["res"]["b"] == {str(histogram.bucket(600)): 1}
    assert dims["agent:dana"]["out"] == 2 and dims["agent:dana"]["resolved"] == 1
    assert dims["agent:dana"]["in"] == 1  # the customer's message after the assignment
    assert dims["label:vip"]["out"] == 2 and "opened" in dims["label:vip"]
    assert dims["team:support"]["in"] == 3
    assert dims["channel:whatsapp"] == dims["all"] | {}
    assert states["c1"]["open"] is True and states["c1"]["awaiting"] is True
    assert sum(h.get("in", 0) for h in doc["hours"]["all"].values()) == 3


def test_days_and_hours_follow_the_tenant_time_zone() -> None:
    late_utc = T0 + 23 * 3_600_000  # 23:00 UTC on Sunday: Monday 08:00 in Tokyo
    figures, _ = run([message("in", late_utc)], zone="Asia/Tokyo")
    (doc,) = figures.days.values()
    assert doc["day"] == "2026-11-30" and doc["hours"]["all"] == {"8": {"opened": 1, "in": 1}}
    assert tally.zone("Not/AZone").key == "UTC"


def test_merged_days_add_up_and_the_page_reads_them() -> None:
    first, _ = run([message("in", T0), message("out", T0 + 30_000, sender={"kind": "agent", "id": "a"})])
    second, _ = run([message("in", T0 + 40_000)])
    (delta1,) = first.days.values()
    (delta2,) = second.days.values()
    merged = tally.merge_day(tally.merge_day(None, delta1), delta2)
    assert merged["dims"]["all"]["in"] == 2 and merged["dims"]["all"]["opened"] == 2
    assert delta1["dims"]["all"]["in"] == 1  # the delta is not changed by merging
    page = api.summarize([merged], date(2026, 11, 28), date(2026, 11, 30), None)
    assert [d["day"] for d in page["days"]] == ["2026-11-28", "2026-11-29", "2026-11-30"]
    assert page["totals"]["in"] == 2 and page["totals"]["frt"]["n"] == 1
    assert sum(page["hourOfWeek"]["in"][6]) == 2  # Sunday
    assert page["channels"] == ["whatsapp"]
    assert [row["key"] for row in page["breakdown"]["agent"]] == ["a"]
    other = api.summarize([merged], date(2026, 11, 29), date(2026, 11, 29), "telegram")
    assert other["totals"]["in"] == 0


def rating(at_ms: int, score: int, ask: str = "ask1", replaces: dict | None = None) -> tally.Message:
    details = {"score": score, "comment": "", "source": "buttons", "askId": ask, "replaces": replaces}
    return activity("rate", at_ms, **details)


DAY_MS = 86_400_000


def test_ratings_count_per_score_and_a_change_moves_the_earlier_score_off_its_day() -> None:
    figures, states = run(
        [
            message("in", T0),
            activity("assign", T0 + 1_000, assigneeId="dana"),
            activity("labels", T0 + 2_000, added=[{"id": "vip", "name": "VIP"}], removed=[]),
            rating(T0 + 3_000, 5),
            rating(T0 + 3_000, 5),  # the same line seen again: counted once
            rating(T0 + DAY_MS, 2, replaces={"score": 5, "atMs": T0 + 3_000}),  # changed next day
            rating(T0 + DAY_MS + 5_000, 4, ask="ask2"),  # a later ask
        ]
    )
    first, second = figures.days["2026-11-29"], figures.days["2026-11-30"]
    assert "csat" not in first["dims"]["all"]  # the 5 was taken back off its own day
    assert second["dims"]["all"]["csat"] == {"2": 1, "4": 1}
    for dim in ("agent:dana", "label:vip", "team:support", "channel:whatsapp"):
        assert second["dims"][dim]["csat"] == {"2": 1, "4": 1}, dim
    scoped = figures.channels["2026-11-30_whatsapp"]
    assert scoped["channel"] == "whatsapp" and scoped["dims"]["agent:dana"]["csat"] == {"2": 1, "4": 1}
    assert set(scoped["dims"]) == {"agent:dana", "team:support", "label:vip"}
    assert states["c1"]["csat"]["askId"] == "ask2" and states["c1"]["csat"]["score"] == 4
    merged = tally.merge_day(None, first)
    assert "csat" not in merged["dims"]["all"] and merged["dims"]["all"]["in"] == 1


def test_a_change_folded_after_its_rating_takes_it_back_under_the_dimensions_it_was_counted_under() -> None:
    states: dict[str, dict] = {}
    conversations = {"c1": {"channel": "whatsapp"}}
    earlier = tally.Tally(tally.zone("UTC"))
    for item in [message("in", T0), activity("assign", T0 + 1, assigneeId="ana"), rating(T0 + 2, 1)]:
        tally.apply(earlier, states, conversations, item)
    stored = tally.merge_day(None, earlier.days["2026-11-29"])
    stored_channel = tally.merge_day(None, earlier.channels["2026-11-29_whatsapp"])
    later = tally.Tally(tally.zone("UTC"))  # the next fold: the conversation changed hands meanwhile
    tally.apply(later, states, conversations, activity("assign", T0 + 3, assigneeId="ben"))
    tally.apply(later, states, conversations, rating(T0 + 4, 5, replaces={"score": 1, "atMs": T0 + 2}))
    day = tally.merge_day(stored, later.days["2026-11-29"])
    channel = tally.merge_day(stored_channel, later.channels["2026-11-29_whatsapp"])
    assert day["dims"]["all"]["csat"] == {"5": 1}
    # Ana keeps having been assigned it, and no longer its rating; Ben has both.
    assert day["dims"]["agent:ana"] == {"assigned": 1}
    assert day["dims"]["agent:ben"] == {"assigned": 1, "csat": {"5": 1}}
    assert channel["dims"]["agent:ana"] == {"assigned": 1}
    assert channel["dims"]["agent:ben"] == {"assigned": 1, "csat": {"5": 1}}


def test_a_change_of_a_rating_the_state_no_longer_remembers_follows_replaces() -> None:
    figures, _ = run(
        [
            message("in", T0),
            rating(T0 + 1_000, 3, ask="ask1"),
            rating(T0 + 2_000, 5, ask="ask2"),
            rating(T0 + 3_000, 4, ask="ask1", replaces={"score": 3, "atMs": T0 + 1_000}),
            rating(T0 + 4_000, 9, ask="ask3"),  # not a score: ignored
        ]
    )
    assert figures.days["2026-11-29"]["dims"]["all"]["csat"] == {"4": 1, "5": 1}


def test_the_page_gives_ratings_average_csat_share_and_distribution_and_narrows_tables_by_channel() -> None:
    figures, _ = run([message("in", T0), activity("assign", T0 + 1, assigneeId="dana"), rating(T0 + 2, 4)])
    other = tally.Tally(tally.zone("UTC"))
    states: dict[str, dict] = {}
    for line in [
        {"direction": "system", "type": "activity", "activity": {"verb": "assign", "assigneeId": "eli"}},
        {"direction": "in", "channel": "telegram"},
        {"direction": "system", "type": "activity", "activity": {"verb": "rate", "score": 1, "askId": "x"}},
    ]:
        telegram = tally.Message("c2", {**line, "sentAtMs": T0 + 5})
        tally.apply(other, states, {"c2": {"channel": "telegram"}}, telegram)
    day = tally.merge_day(tally.merge_day(None, figures.days["2026-11-29"]), other.days["2026-11-29"])
    scoped = [figures.channels["2026-11-29_whatsapp"], other.channels["2026-11-29_telegram"]]
    every = api.summarize([day], date(2026, 11, 29), date(2026, 11, 29), None, scoped)
    assert every["totals"]["csat"] == {
        "ratings": 2,
        "average": 2.5,
        "percent": 50.0,
        "distribution": [1, 0, 0, 1, 0],
    }
    assert {row["key"]: row["csatPercent"] for row in every["breakdown"]["agent"]} == {
        "dana": 100.0,
        "eli": 0.0,
    }
    assert every["days"][0]["csatRatings"] == 2 and every["days"][0]["csatAverage"] == 2.5
    narrowed = api.summarize([day], date(2026, 11, 29), date(2026, 11, 29), "telegram", scoped)
    assert [row["key"] for row in narrowed["breakdown"]["agent"]] == ["eli"]
    assert narrowed["breakdown"]["agent"][0]["in"] == 1 and narrowed["totals"]["csat"]["ratings"] == 1
    assert [row["key"] for row in narrowed["breakdown"]["channel"]] == ["telegram", "whatsapp"]
    assert api.csat({})["average"] is None and api.csat({})["percent"] is None


def test_an_assignment_counts_for_the_agent_who_takes_the_open_conversation() -> None:
    figures, _ = run(
        [
            message("in", T0),  # opened before anyone has it: "opened" counts under no agent
            activity("assign", T0 + 1_000, assigneeId="dana"),
            activity("assign", T0 + 2_000, assigneeId="eli"),  # handed over
            activity("resolve", T0 + 3_000, actorId="eli"),
            activity("assign", T0 + 4_000, assigneeId="dana"),  # a resolved conversation: not counted
        ]
    )
    dims = figures.days["2026-11-29"]["dims"]
    assert dims["all"]["assigned"] == 2 and dims["channel:whatsapp"]["assigned"] == 2
    assert dims["agent:dana"]["assigned"] == 1 and dims["agent:eli"]["assigned"] == 1
    assert "opened" not in dims["agent:dana"] and dims["all"]["opened"] == 1
