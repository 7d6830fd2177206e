"""bench/limits.py: the production-limits check's arithmetic (storage sizes, index entries, write
rates, ramp-up, the verdict) and what its meter logs for a commit request."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import limits

INDEXES = {
    "indexes": [
        {
            "collectionGroup": "conversations",
            "queryScope": "COLLECTION",
            "fields": [
                {"fieldPath": "memberIds", "arrayConfig": "CONTAINS"},
                {"fieldPath": "kind", "order": "ASCENDING"},
                {"fieldPath": "lastActivityAtMs", "order": "DESCENDING"},
            ],
        },
        {
            "collectionGroup": "conversations",
            "queryScope": "COLLECTION",
            "fields": [
                {"fieldPath": "kind", "order": "ASCENDING"},
                {"fieldPath": "lastActivityAtMs", "order": "DESCENDING"},
            ],
        },
    ],
    "fieldOverrides": [
        {"collectionGroup": "messages", "fieldPath": "raw", "indexes": []},
        {"collectionGroup": "pushRoster", "fieldPath": "members", "indexes": []},
        {
            "collectionGroup": "members",
            "fieldPath": "userId",
            "indexes": [
                {"order": "ASCENDING", "queryScope": "COLLECTION"},
                {"order": "ASCENDING", "queryScope": "COLLECTION_GROUP"},
            ],
        },
    ],
}


@pytest.fixture
def config() -> limits.IndexConfig:
    return limits.IndexConfig.from_json(INDEXES)


# --- storage size ------------------------------------------------------------------------------------


def test_storage_sizes_follow_firestores_documented_examples() -> None:
    # https://firebase.google.com/docs/firestore/storage-size: "tasks" is 6 bytes, "description" 12;
    # users/jeff/tasks/my_task_id is a 44-byte name.
    assert limits.string_size("tasks") == 6
    assert limits.string_size("description") == 12
    assert limits.document_name_size("users/jeff/tasks/my_task_id") == 44
    assert limits.string_size("é") == 3  # UTF-8 bytes + 1


def test_value_sizes_per_type() -> None:
    assert limits.value_size(None) == 1
    assert limits.value_size(True) == 1
    assert limits.value_size(7) == 8
    assert limits.value_size(0.5) == 8
    assert limits.value_size(datetime.now(UTC)) == 8
    assert limits.value_size(b"abc") == 3
    assert limits.value_size(["ab", "c"]) == 3 + 2
    assert limits.value_size({"a": 1, "bc": "x"}) == (2 + 8) + (3 + 2)


def test_a_document_size_is_its_name_its_fields_and_32_bytes() -> None:
    # The documented example: a users/jeff/tasks/my_task_id document with
    # type "Personal", done false, priority 1, description "Learn Cloud Firestore" is 147 bytes.
    data = {"type": "Personal", "done": False, "priority": 1, "description": "Learn Cloud Firestore"}
    assert limits.document_size("users/jeff/tasks/my_task_id", data) == 44 + 71 + 32


def test_a_member_list_on_the_channel_grows_it_by_every_id() -> None:
    small = limits.document_size("t/a/conversations/c", {"memberIds": ["x" * 23] * 10})
    large = limits.document_size("t/a/conversations/c", {"memberIds": ["x" * 23] * 10_010})
    assert large - small == 10_000 * 24


# --- index entries -----------------------------------------------------------------------------------


def test_plain_fields_have_an_ascending_and_a_descending_entry(config: limits.IndexConfig) -> None:
    entries = limits.index_entries("messages", {"text": "hi", "likes": 0}, config)
    assert entries.single_field == {"text": 2, "likes": 2}
    assert entries.composite == 0
    assert entries.total == 4


def test_maps_are_indexed_whole_and_by_every_subfield(config: limits.IndexConfig) -> None:
    entries = limits.index_entries("messages", {"sender": {"id": "u1", "profile": {"name": "A"}}}, config)
    # sender (2) + sender.id (2) + sender.profile (2) + sender.profile.name (2)
    assert entries.total == 8


def test_arrays_have_an_array_contains_entry_per_distinct_element(config: limits.IndexConfig) -> None:
    entries = limits.index_entries("messages", {"labels": ["a", "b", "a"]}, config)
    assert entries.total == 2 + 2


def test_exempt_fields_and_their_subfields_have_no_entries(config: limits.IndexConfig) -> None:
    assert limits.index_entries("messages", {"raw": {"a": 1, "b": [1, 2]}}, config).total == 0
    roster = {"members": {f"user{i}": {"tokens": ["t"], "muted": False} for i in range(100)}}
    assert limits.index_entries("pushRoster", roster, config).total == 0
    # The same field in another collection group is indexed.
    assert limits.index_entries("members", {"raw": 1}, config).total == 2


def test_an_override_counts_the_indexes_it_lists(config: limits.IndexConfig) -> None:
    assert limits.index_entries("members", {"userId": "u1"}, config).total == 2


def test_composite_indexes_hold_documents_that_have_every_field(config: limits.IndexConfig) -> None:
    without = limits.index_entries("conversations", {"kind": "group"}, config)
    assert without.composite == 0
    summary = {"kind": "group", "lastActivityAtMs": 1}
    assert limits.index_entries("conversations", summary, config).composite == 1


def test_a_member_list_costs_two_entries_per_member_on_the_channel(config: limits.IndexConfig) -> None:
    def channel(members: int) -> dict[str, object]:
        return {"kind": "group", "lastActivityAtMs": 1, "memberIds": [f"user{i}" for i in range(members)]}

    small = limits.index_entries("conversations", channel(10), config).total
    large = limits.index_entries("conversations", channel(20_010), config).total
    # One array-contains entry and one composite (memberIds CONTAINS, kind, lastActivityAtMs) entry each.
    assert large - small == 2 * 20_000
    assert large > limits.MAX_INDEX_ENTRIES


def test_the_projects_declared_indexes_load() -> None:
    config = limits.IndexConfig.load()
    declared = json.loads(limits.INDEXES_PATH.read_text())
    assert sum(len(v) for v in config.composites.values()) == len(declared.get("indexes") or [])
    assert not config.indexed("messages", "raw")


# --- write rates ---------------------------------------------------------------------------------------


def test_the_most_writes_in_any_one_second_slides_over_the_clock() -> None:
    assert limits.max_in_window([0.0, 0.5, 0.99, 1.0, 1.5]) == 3
    assert limits.max_in_window([0.0, 1.0, 2.0]) == 1
    assert limits.max_in_window([]) == 0


def writes(path: str, count: int, seconds: float, rising: tuple[str, ...] = ()) -> list[limits.Write]:
    return [limits.Write(i * seconds / count, "chat_api", path, rising) for i in range(count)]


def test_document_rates_are_per_path_and_busiest_first() -> None:
    log = writes("t/a/conversations/c", 16, 2.0) + writes("t/a/conversations/c/messages/m1", 1, 2.0)
    rates = limits.document_rates(log, 2.0)
    assert rates[0].key == "t/a/conversations/c"
    assert rates[0].writes == 16
    assert rates[0].sustained_per_second == 8.0
    assert rates[0].max_in_any_second == 8


def test_increasing_index_rates_count_only_indexed_rising_fields(config: limits.IndexConfig) -> None:
    posts = [
        limits.Write(i / 600, "chat_api", f"t/a/conversations/c/messages/m{i}", ("createdAt",))
        for i in range(600)
    ]
    exempt = [
        limits.Write(i / 600, "chat_api", f"t/a/conversations/c/messages/x{i}", ("raw",)) for i in range(600)
    ]
    rates = limits.increasing_index_rates(posts + exempt, 1.0, config)
    assert [(r.key, r.writes) for r in rates] == [("t/a/conversations/c/messages", 600)]
    found = {c.limit: c for c in limits.checks(posts, 1.0, config)}
    rising = found["writes per second into a collection with an increasing indexed field"]
    assert rising.measured == 600 and rising.breaks


def test_ramp_up_is_500_then_50_percent_every_5_minutes() -> None:
    assert limits.ramp_minutes(500) == 0
    assert limits.ramp_minutes(750) == 5
    assert limits.ramp_minutes(751) == 10
    assert limits.ramp_minutes(500 * 1.5**4) == 20


def test_growth_is_extrapolated_through_the_two_largest_points() -> None:
    assert limits.linear_limit([(2, 64), (1000, 2060), (10_000, 20_060)], 40_000) == pytest.approx(19_970)
    assert limits.linear_limit([(2, 600), (10_000, 600)], 40_000) is None
    assert limits.linear_limit([(2, 600)], 40_000) is None


def test_the_verdict_names_every_limit_that_breaks(config: limits.IndexConfig) -> None:
    log = writes("t/a/conversations/c", 10, 1.0) + [
        limits.Write(0.5, "chat_api", f"t/a/conversations/c/members/u{i}") for i in range(1000)
    ]
    channel = {"kind": "group", "lastActivityAtMs": 1, "memberIds": [f"u{i}" for i in range(25_000)]}
    big = {"t/a/conversations/c": channel}
    found = limits.checks(log, 1.0, config, documents=big, fcm_per_minute=6_000_000)
    broken = limits.would_break(found)
    assert any(s.startswith("sustained writes per second per document: 10 > 1") for s in broken)
    assert any("ramp-up" in s and "t/*/conversations/*/members" in s for s in broken)
    assert any(s.startswith("index entries per document") for s in broken)
    assert any(s.startswith("FCM messages per minute") for s in broken)
    assert not any(s.startswith("bytes per document") for s in broken)
    calm = limits.checks(writes("t/a/conversations/c", 1, 1.0), 1.0, config, fcm_per_minute=600)
    assert limits.would_break(calm) == []


def test_shapes_leave_document_ids_out() -> None:
    assert limits.shape("tenants/app1/conversations/c1/members/u1") == "tenants/*/conversations/*/members/*"
    assert limits.shape("tenants/app1/conversations") == "tenants/*/conversations"


# --- the meter's log ----------------------------------------------------------------------------------


def test_a_commit_request_logs_each_document_once_with_its_rising_fields() -> None:
    from google.cloud.firestore_v1.types import common, document, write
    from google.protobuf import timestamp_pb2

    now = time.time()
    name = "projects/p/databases/(default)/documents/"
    request = {
        "writes": [
            write.Write(
                update=document.Document(
                    name=name + "t/a/conversations/c/messages/m1",
                    fields={
                        "text": document.Value(string_value="hi"),
                        "sentAtMs": document.Value(integer_value=int(now * 1000)),
                        "likes": document.Value(integer_value=3),
                        "sender": document.Value(
                            map_value=document.MapValue(
                                fields={
                                    "at": document.Value(
                                        timestamp_value=timestamp_pb2.Timestamp(seconds=int(now))
                                    )
                                }
                            )
                        ),
                    },
                ),
                update_transforms=[
                    write.DocumentTransform.FieldTransform(
                        field_path="createdAt",
                        set_to_server_value=write.DocumentTransform.FieldTransform.ServerValue.REQUEST_TIME,
                    )
                ],
            ),
            write.Write(
                update=document.Document(name=name + "t/a/conversations/c"),
                update_mask=common.DocumentMask(field_paths=["messageCount"]),
                update_transforms=[
                    write.DocumentTransform.FieldTransform(
                        field_path="messageCount", increment=document.Value(integer_value=1)
                    )
                ],
            ),
            write.Write(delete=name + "t/a/conversations/c/members/u1"),
        ]
    }
    found = dict(limits.written(request))
    assert set(found) == {
        "t/a/conversations/c/messages/m1",
        "t/a/conversations/c",
        "t/a/conversations/c/members/u1",
    }
    assert sorted(found["t/a/conversations/c/messages/m1"]) == ["createdAt", "sender.at", "sentAtMs"]
    assert found["t/a/conversations/c"] == []


def test_the_log_parses_back_and_skips_what_it_cannot_read(tmp_path: Path) -> None:
    log = tmp_path / "ops.log"
    log.write_text(
        "W 10.5 chat_api t/a/conversations/c createdAt,updatedAt\n"
        "W 10.6 deliver t/a/conversations/c/pushRoster/s001 -\n"
        "R 10.7 chat_api 4 batch_get_documents\n"
        "garbage\n"
    )
    writes_, reads = limits.read_log(log)
    assert writes_ == [
        limits.Write(10.5, "chat_api", "t/a/conversations/c", ("createdAt", "updatedAt")),
        limits.Write(10.6, "deliver", "t/a/conversations/c/pushRoster/s001", ()),
    ]
    assert reads == [limits.Read(10.7, "chat_api", 4, "batch_get_documents")]


def test_a_process_role_is_its_function_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(limits.ROLE_ENV, raising=False)
    monkeypatch.setattr("sys.argv", ["functions-framework", "--target", "chat_api", "--port", "1"])
    assert limits.role() == "chat_api"
    monkeypatch.setattr("sys.argv", ["python", "-m", "bench.chat_scale"])
    assert limits.role() == "bench"
    monkeypatch.setenv(limits.ROLE_ENV, "seeder")
    assert limits.role() == "seeder"
