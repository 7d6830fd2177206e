"""The media bucket: Terraform (infra/storage.tf) and the code (shared/media/) agree.

- one bucket, uniform bucket-level access, public access prevented, no binding for users or the
  public; the functions get it as SWITCHBOARD_MEDIA_BUCKET;
- a lifecycle rule deletes media after ``media_retention_days`` (a typed, validated variable);
- CORS lets the dashboard's origin (the Hosting site) GET and start/PUT resumable uploads, with the
  headers shared/media/storage.py signs and the browser reads (Location);
- exactly the functions that call shared.media.storage hold a role on the bucket, and exactly
  the functions that sign URLs hold roles/iam.serviceAccountTokenCreator, on themselves only;
- the ``media`` queue exists in topology.json, ingest may enqueue onto it, and its max_attempts is
  what shared/media/fetch.py gives up at.
"""

from __future__ import annotations

import ast
from pathlib import Path

from shared.media import fetch, storage
from tests.infra.test_infrastructure import REPO, block, expression, root, topology


def bucket() -> dict:
    return root().resource("google_storage_bucket", "media")


def modules_importing_storage() -> set[str]:
    """The functions (main.py targets) whose code path imports shared.media.storage, by what each
    function module reaches; read from the sources, not guessed."""
    users = set()
    for path in [*(REPO / "shared").rglob("*.py"), *(REPO / "functions").rglob("*.py")]:
        source = path.read_text()
        if "shared.media import" in source and (
            "storage" in source or "access" in source or "fetch" in source
        ):
            users.add(path.relative_to(REPO).as_posix())
    return users


def test_the_bucket_is_private_and_uniform() -> None:
    body = bucket()
    assert body["uniform_bucket_level_access"] is True
    assert body["public_access_prevention"] == "enforced"
    assert expression(body["name"]) == "${var.project_id}-media"
    for kind in ("google_storage_bucket_iam_member", "google_storage_bucket_iam_binding"):
        for name, grant in root().resources.get(kind, {}).items():
            members = str(grant.get("member", "")) + str(grant.get("members", ""))
            assert "allUsers" not in members and "allAuthenticatedUsers" not in members, name


def test_functions_get_the_bucket_name() -> None:
    plain = root().locals["function_environment"]
    assert expression(plain["SWITCHBOARD_MEDIA_BUCKET"]) == "google_storage_bucket.media.name"


def test_retention_is_a_configurable_lifecycle_rule() -> None:
    rules = bucket()["lifecycle_rule"]
    deletes = [r for r in rules if block(r, "action")["type"] == "Delete"]
    assert any(expression(block(r, "condition").get("age")) == "var.media_retention_days" for r in deletes)
    variable = root().variables["media_retention_days"]
    assert variable["type"] == "number" or expression(variable["type"]) == "number"
    assert variable["default"] >= 30 and "validation" in variable


def test_unsent_uploads_expire_by_a_lifecycle_rule_on_the_uploads_prefix() -> None:
    from shared.media import uploads

    rules = bucket()["lifecycle_rule"]
    on_uploads = [r for r in rules if block(r, "condition").get("matches_prefix") == [storage.UPLOADS_PREFIX]]
    live = [r for r in on_uploads if "age" in block(r, "condition")]
    assert len(live) == 1 and block(live[0], "action")["type"] == "Delete"
    assert expression(block(live[0], "condition")["age"]) == "var.unsent_upload_days"
    variable = root().variables["unsent_upload_days"]
    assert variable["default"] == uploads.UNSENT_UPLOAD_AGE.days and "validation" in variable
    # Uploads live under that literal prefix (a lifecycle prefix has no wildcard), messages do not.
    assert storage.upload_path("t1", "u1", "a.png").startswith(storage.UPLOADS_PREFIX)
    assert not storage.inbound_path("t1", "c", "m", 0, "a.png").startswith(storage.UPLOADS_PREFIX)
    assert not storage.post_path("t1", "ch", "p", 0, "a.png").startswith(storage.UPLOADS_PREFIX)


def test_cors_admits_the_dashboard_for_downloads_and_resumable_uploads() -> None:
    cors = block(bucket(), "cors")
    assert expression(cors["origin"]) == "local.media_cors_origins"
    origins = expression(root().locals["media_cors_origins"])
    assert "${var.hosting_site_id}.web.app" in origins and "var.media_cors_origins" in origins
    assert {"GET", "HEAD", "PUT", "POST"} <= set(cors["method"])
    signed = {name.lower() for name in storage.upload_headers("image/png", 1)}
    assert signed <= {h.lower() for h in cors["response_header"]}
    assert "location" in {h.lower() for h in cors["response_header"]}


def test_only_the_functions_that_use_the_bucket_hold_a_role_on_it() -> None:
    roles = root().locals["media_bucket_roles"]
    assert roles == {
        "deliver": "roles/storage.objectUser",  # stores inbound media, reads uploads to send
        "agent_api": "roles/storage.objectUser",  # signs downloads and uploads
        "chat_api": "roles/storage.objectUser",  # signs, and checks posted uploads
        "send_message": "roles/storage.objectUser",  # sniffs an upload, copies it to the message
    }
    assert set(roles) <= set(topology()["functions"])
    grant = root().resource("google_storage_bucket_iam_member", "media")
    assert expression(grant["bucket"]) == "google_storage_bucket.media.name"
    assert expression(grant["member"]) == "module.functions[each.key].service_account_member"
    users = modules_importing_storage()
    assert "functions/send.py" in users and "shared/outbox/delivery.py" in users
    assert not any(
        path.startswith("functions/ingest") or path.startswith("functions/webhook") for path in users
    )


def test_signers_sign_as_themselves_only() -> None:
    signers = root().locals["media_url_signers"]
    assert set(signers) == {"agent_api", "chat_api", "deliver"}
    grant = root().resource("google_service_account_iam_member", "media_url_signer_self")
    assert grant["role"] == "roles/iam.serviceAccountTokenCreator"
    assert "module.functions[each.key].service_account_email" in expression(grant["service_account_id"])
    assert expression(grant["member"]) == "module.functions[each.key].service_account_member"
    assert set(signers) <= set(root().locals["media_bucket_roles"])


def test_the_media_queue_and_who_fills_it() -> None:
    queue = topology()["queues"][fetch.MEDIA_QUEUE]
    assert queue["name"] == f"outbound-{fetch.MEDIA_QUEUE}"  # deliver accepts the queue prefix only
    assert queue["max_attempts"] == fetch.MAX_ATTEMPTS
    assert fetch.MEDIA_QUEUE in root().locals["task_enqueuers"]["ingest"]


def test_the_code_talks_to_cloud_storage_in_one_module() -> None:
    offenders = []
    for path in [*(REPO / "shared").rglob("*.py"), *(REPO / "functions").rglob("*.py"), REPO / "main.py"]:
        if path == REPO / "shared" / "media" / "storage.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and (node.module or "").startswith("google.cloud")
                and any(alias.name == "storage" for alias in node.names)
            ):
                offenders.append(str(Path(path).relative_to(REPO)))
            if isinstance(node, ast.Import) and any(
                a.name.startswith("google.cloud.storage") for a in node.names
            ):
                offenders.append(str(Path(path).relative_to(REPO)))
    assert offenders == []


def test_exports_are_deleted_a_day_after_they_were_written() -> None:
    """Exports (exports/{t}/{id}/...) can be downloaded for a day: the bucket deletes them then."""
    from tests.infra.test_infrastructure import root

    bucket = root().resource("google_storage_bucket", "media")
    rules = bucket["lifecycle_rule"]
    exports = [
        r
        for r in rules
        if r["condition"][0].get("matches_prefix") == ["exports/"] and r["condition"][0].get("age")
    ]
    assert [r["condition"][0]["age"] for r in exports] == [1]
    assert exports[0]["action"][0]["type"] == "Delete"


def test_the_retention_sweep_is_queued_daily_on_the_jobs_queue_as_deliver_expects() -> None:
    """Cloud Scheduler creates the sweep task through the Cloud Tasks API, with the tasks invoker's
    OIDC identity, so deliver accepts it as any task; the scheduler may enqueue on jobs only."""
    from tests.infra.test_infrastructure import root

    job = root().resource("google_cloud_scheduler_job", "retention_sweep")
    target = job["http_target"][0]
    assert "cloudtasks.googleapis.com/v2/" in target["uri"] and 'module.queues["jobs"].id' in target["uri"]
    assert "retention_scheduler" in target["oauth_token"][0]["service_account_email"]
    grant = root().resource("google_cloud_tasks_queue_iam_member", "retention_scheduler")
    assert grant["role"] == "roles/cloudtasks.enqueuer" and 'module.queues["jobs"]' in grant["name"]
