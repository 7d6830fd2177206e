"""Long housekeeping work as Cloud Tasks: message exports (shared/exports.py) and retention runs
(shared/retention.py), on the ``jobs`` queue (infra/topology.json), run by ``deliver``.

A job never holds a request open longer than deliver's timeout: each task works for at most
:data:`STEP_SECONDS`, records where it stopped and queues the next step under a name of its own
(``<job>-<step>``), so a retried step is queued once and a crashed one is retried by Cloud Tasks
from the recorded position.
"""

from __future__ import annotations

from typing import Any

from shared import tasks
from shared.config import settings
from shared.errors import MalformedTask, TransientError

JOBS_QUEUE = "jobs"  # topology.json queues.jobs
STEP_SECONDS = 40.0  # deliver's timeout is 60 s
ACTIONS = ("export", "retention", "retention_sweep")


def enqueue(action: str, tenant_id: str, task_id: str, job: dict[str, Any]) -> bool:
    """Queue one step of a job for deliver; False when a task of that name exists already."""
    if action not in ACTIONS:
        raise ValueError(f"unknown job action {action}")
    deliver_url = settings().deliver_url
    if not deliver_url:
        raise TransientError("SWITCHBOARD_DELIVER_URL is not configured")
    payload = {"tenantId": tenant_id, "conversationId": "", "action": action, "job": job}
    return tasks.enqueue(tasks.queue_name(JOBS_QUEUE), task_id, deliver_url, payload)


def run(action: str, tenant_id: str, job: dict[str, Any] | None) -> str:
    """deliver's work for a job task: one step; what happened."""
    if action == "export":
        from shared import exports

        if not job or not isinstance(job.get("exportId"), str):
            raise MalformedTask("an export task needs job.exportId")
        return exports.run_step(tenant_id, job["exportId"])
    if action == "retention":
        from shared import retention

        if not job or not isinstance(job.get("runId"), str):
            raise MalformedTask("a retention task needs job.runId")
        return retention.run_step(tenant_id, job["runId"])
    if action == "retention_sweep":
        from shared import retention

        return retention.sweep()
    raise MalformedTask(f"unknown job action {action}")
