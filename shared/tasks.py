"""Cloud Tasks: the only code that creates tasks. One queue per channel (``outbound-<channel>``),
rate-limited to the provider's limits in production (infra/topology.json).

Tasks are *named* after the message they deliver, so enqueuing the same message twice creates one
task (AlreadyExists is success). Production tasks carry an OIDC token that ``deliver`` verifies;
locally the client talks to gcloud-tasks-emulator over plain gRPC.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from shared.config import settings
from shared.errors import TransientError

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.tasks_v2 import CloudTasksClient


@cache
def _client() -> CloudTasksClient:
    from google.cloud import tasks_v2

    host = settings().tasks_emulator_host
    if host:
        import grpc
        from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

        return tasks_v2.CloudTasksClient(
            transport=CloudTasksGrpcTransport(channel=grpc.insecure_channel(host))
        )
    return tasks_v2.CloudTasksClient()


def queue_name(channel: str) -> str:
    """The outbound queue of a channel kind."""
    return f"{settings().queue_prefix}{channel}"


def queue_path(queue: str) -> str:
    """Full resource name of a queue."""
    config = settings()
    return f"projects/{config.project_id}/locations/{config.tasks_location}/queues/{queue}"


def ensure_queue(queue: str, limits: dict[str, Any] | None = None) -> None:
    """Create a queue if it does not exist (the local stack; production queues come from Terraform),
    with the rate limits and retry settings of its infra/topology.json entry ``limits``."""
    from google.api_core.exceptions import AlreadyExists

    config = settings()
    with contextlib.suppress(AlreadyExists):
        _client().create_queue(
            parent=f"projects/{config.project_id}/locations/{config.tasks_location}",
            queue={"name": queue_path(queue), **queue_settings(limits or {})},
        )


def queue_settings(limits: dict[str, Any]) -> dict[str, Any]:
    """A topology.json queue entry as the Cloud Tasks API's ``rate_limits`` and ``retry_config``
    (the same fields infra/ hands Terraform)."""
    rate_keys = ("max_dispatches_per_second", "max_concurrent_dispatches")
    rate = {key: limits[key] for key in rate_keys if key in limits}
    retry: dict[str, Any] = {"max_attempts": limits["max_attempts"]} if "max_attempts" in limits else {}
    for key in ("min_backoff", "max_backoff", "max_retry_duration"):
        if f"{key}_seconds" in limits:
            retry[key] = {"seconds": int(limits[f"{key}_seconds"])}
    return {**({"rate_limits": rate} if rate else {}), **({"retry_config": retry} if retry else {})}


def enqueue(
    queue: str, task_id: str, url: str, payload: dict[str, Any], schedule_at: datetime | None = None
) -> bool:
    """Create the named task POSTing ``payload`` as JSON to ``url``; False if it already exists."""
    from google.api_core import exceptions as gexc
    from google.protobuf import timestamp_pb2

    config = settings()
    http_request: dict[str, Any] = {
        "http_method": "POST",
        "url": url,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(payload).encode(),
    }
    if config.tasks_service_account and not config.tasks_emulator_host:
        http_request["oidc_token"] = {"service_account_email": config.tasks_service_account, "audience": url}
    task: dict[str, Any] = {"name": f"{queue_path(queue)}/tasks/{task_id}", "http_request": http_request}
    if schedule_at is not None:
        stamp = timestamp_pb2.Timestamp()
        stamp.FromDatetime(schedule_at)
        task["schedule_time"] = stamp
    try:
        _client().create_task(parent=queue_path(queue), task=task)
    except gexc.AlreadyExists:
        return False
    except (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.InternalServerError) as exc:
        raise TransientError(f"Cloud Tasks unavailable: {type(exc).__name__}") from exc
    return True


def reset() -> None:
    """Forget the client (tests point the process at another emulator)."""
    _client.cache_clear()
