"""``deliver``: the Cloud Tasks target that calls the provider for one queued message.

Only Cloud Tasks may call it: the task carries an OIDC token for the tasks service account, verified
here. Only in the local configuration (``SWITCHBOARD_ENV`` unset or ``local``) with the Cloud Tasks
emulator are the emulator's queue headers enough; in production a queue header is never trusted on its
own, whatever the environment holds (shared/config.py refuses to start there with an emulator
variable set anyway). The body is read capped at 64 KB (functions/http.py), before anything else.
Answers 2xx when the task is done (sent, failed permanently, rescheduled, nothing to do) and 503 when
Cloud Tasks should retry.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from functions.http import Response, answer, body_limit, discard_unread, error, read_body, start
from shared import outbox, store
from shared.config import settings
from shared.errors import MalformedTask, PayloadTooLarge, SwitchboardError

if TYPE_CHECKING:  # pragma: no cover
    import flask

log = logging.getLogger("switchboard.deliver")


def caller_is_cloud_tasks(request: flask.Request) -> bool:
    """True when Cloud Tasks (and only Cloud Tasks) sent this request."""
    config = settings()
    queue = request.headers.get("X-CloudTasks-QueueName", "")
    if not queue.rsplit("/", 1)[-1].startswith(config.queue_prefix):
        return False
    if not config.production and config.tasks_emulator_host:
        return True  # the local stack: the emulator sends no OIDC token
    token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not token:
        return False
    import google.auth.transport.requests
    from google.oauth2 import id_token

    try:
        claims = id_token.verify_oauth2_token(
            token, google.auth.transport.requests.Request(), audience=config.deliver_url
        )
    except ValueError:
        return False
    return claims.get("email") == config.tasks_service_account and bool(claims.get("email_verified"))


def handle(request: flask.Request) -> Response:
    """Deliver the message named by the task's JSON body (read capped, before anything else)."""
    try:
        start()
        store.load_library()  # once, under a lock: Cloud Tasks dispatches concurrently, on threads
        if request.method != "POST":  # Cloud Tasks POSTs; nothing else is read
            return error("method_not_allowed", "Cloud Tasks calls deliver with POST", 405)
        try:
            body = read_body(request, body_limit("deliver"))
        except PayloadTooLarge as exc:
            return error("payload_too_large", str(exc), 413)
        if not caller_is_cloud_tasks(request):
            return error("forbidden", "only Cloud Tasks may call deliver", 403)
        return _deliver(request, body)
    finally:
        discard_unread(request)


def _deliver(request: flask.Request, body: bytes) -> Response:
    retries = int(request.headers.get("X-CloudTasks-TaskRetryCount", "0") or 0)
    try:
        try:
            payload = json.loads(body or b"{}")
        except ValueError as exc:
            raise MalformedTask(f"the task body is not JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise MalformedTask("the task body is not a JSON object")
        outcome = outbox.deliver(payload, retries)
    except MalformedTask as exc:
        # Retrying cannot fix a body that is no task: answered 2xx so Cloud Tasks drops it, and
        # logged as an error (alerted on like any other), never silently.
        log.error("malformed delivery task", extra={"fields": {"reason": str(exc)[:300]}})
        return error("invalid_task", str(exc), 200)
    except SwitchboardError as exc:
        if exc.transient:
            log.warning("delivery will be retried", extra={"fields": {"reason": str(exc)[:200]}})
            return error("retry", "temporarily unable to deliver", 503)
        log.error("delivery failed", extra={"fields": {"error": type(exc).__name__}})
        return error("failed", str(exc), 200)
    fields = {
        "message_id": payload.get("messageId"),
        "conversation_id": payload.get("conversationId"),
        "action": payload.get("action", "send"),
        "outcome": outcome,
    }
    log.info("delivery done", extra={"fields": fields})
    return answer({"outcome": outcome})
