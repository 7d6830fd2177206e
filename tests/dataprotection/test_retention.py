"""Retention (issue 18, part 5): messages and media older than the tenant's settings.retentionDays
are counted by a dry run, then deleted in batches by the queued job (or the CLI), with one audit
entry; a tenant without retentionDays keeps everything."""

from __future__ import annotations

import json
import time

import pytest

from infra.local import demo
from shared import audit, cli, retention, store
from shared.auth import Caller
from shared.media import storage
from tests.dataprotection import seeding
from tests.support import LocalStack, eventually

pytestmark = pytest.mark.integration

DEMO, ACME = demo.DEMO_TENANT, demo.OTHER_TENANT
DAY = 86_400_000


def with_media(prefix: str) -> dict:
    return {
        "content": {
            "type": "image",
            "media": [{"state": "stored", "path": prefix, "thumbnailPath": prefix + ".t"}],
        }
    }


def seed(tenant: str) -> tuple[str, str, list[str]]:
    """An old conversation (all messages 40 days old, one with a photo), a live one with 30 old and
    5 recent messages; (old conversation, live conversation, object paths of the old photo)."""
    now = int(time.time() * 1000)
    old = seeding.conversation(tenant, "15550001000", last_ms=now - 40 * DAY)
    live = seeding.conversation(tenant, "15550002000", last_ms=now)
    photo = f"tenants/{tenant}/conversations/{old}/m1/0-photo.jpg"
    storage.put(photo, b"\xff\xd8old photo", "image/jpeg")
    storage.put(photo + ".t", b"\xff\xd8thumb", "image/jpeg")
    seeding.messages(
        tenant, old, 12, start_ms=now - 40 * DAY, extra=lambda i: with_media(photo) if i == 0 else {}
    )
    seeding.messages(tenant, live, 30, start_ms=now - 35 * DAY)
    seeding.messages(tenant, live, 5, start_ms=now - DAY)
    return old, live, [photo, photo + ".t"]


def test_a_dry_run_counts_then_the_job_deletes_in_batches_and_records_it(
    clean_stack: LocalStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put_tenant(DEMO, {"settings": {"retentionDays": 30}})
    old, live, photos = seed(DEMO)
    seed(ACME)  # no retentionDays: kept forever

    assert cli.main(["retention", "--tenant", DEMO, "--dry-run"]) == 0
    counted = json.loads(capsys.readouterr().out)
    assert (counted["messages"], counted["conversations"], counted["retentionDays"]) == (42, 1, 30)
    assert len(list(store.messages_of(DEMO, live))) == 35  # a dry run deletes nothing

    monkeypatch.setattr(retention, "PAGE", 10)  # several pages, each one delete batch
    assert retention.sweep() == "swept: 1 run(s) queued"  # what Cloud Scheduler starts daily
    eventually(
        lambda: store.get_conversation(DEMO, old) is None, timeout=90, what="the old conversation gone"
    )
    # The queued run deletes in deliver's process, with the default page; the count is the same.
    eventually(
        lambda: [e for e in audit.entries(Caller("x", DEMO, "admin"), action="retention.run")],
        timeout=60,
        what="the audit entry",
    )
    remaining = [m for _, m in store.messages_of(DEMO, live)]
    assert len(remaining) == 5 and all(m["sentAtMs"] > time.time() * 1000 - 2 * DAY for m in remaining)
    assert all(storage.stat(p) is None for p in photos)
    [entry] = audit.entries(Caller("x", DEMO, "admin"), action="retention.run")
    assert entry["details"]["messages"] == 42 and entry["details"]["mediaObjects"] == 2
    assert entry["details"]["conversations"] == 1 and entry["details"]["retentionDays"] == 30
    assert entry["actorId"] == retention.JOB_CALLER_ID
    assert retention.sweep() == "swept: 0 run(s) queued"  # the same day again: nothing new

    # The other tenant kept everything.
    assert len(list(store.messages_of(ACME, live))) == 35 and store.get_conversation(ACME, old) is not None
    assert retention.dry_run(ACME)["retentionDays"] is None


def test_the_cli_runs_the_same_deletion_in_pages(
    clean_stack: LocalStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put_tenant(DEMO, {"settings": {"retentionDays": 30}})
    old, live, photos = seed(DEMO)
    monkeypatch.setattr(retention, "PAGE", 7)
    assert cli.main(["retention", "--tenant", DEMO]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["messages"] == 30 + 12 and run["conversations"] == 1 and run["mediaObjects"] == 2
    assert store.get_conversation(DEMO, old) is None and len(list(store.messages_of(DEMO, live))) == 5
    assert all(storage.stat(p) is None for p in photos)
    [entry] = audit.entries(Caller("x", DEMO, "admin"), action="retention.run")
    assert entry["details"]["messages"] == 42 and entry["actorId"] == "operator-cli"
    assert cli.main(["retention", "--tenant", ACME]) == 1  # no retention period: refused, nothing done
