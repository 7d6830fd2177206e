"""The alert policies of infra/modules/monitoring/main.tf, evaluated on what a workspace can see
locally, for the operations page's banners. Each entry of :data:`POLICIES` is one
``google_monitoring_alert_policy`` resource (tests/unit/test_operations_alerts.py keeps the two
lists equal): the ones whose condition reads data the page has (dead letters, channel health) are
evaluated here; the request-rate ones (5xx shares) read Cloud Run's request metrics, which exist only
in Cloud Monitoring, and are listed as not evaluated locally.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Policy:
    """One alert policy: its Terraform resource name, its title, and how it is judged here."""

    resource: str
    title: str
    local: bool


POLICIES = (
    Policy("dead_letters_arriving", "Inbound events dead-lettered", True),
    Policy("dead_letters_awaiting_review", "Dead letters awaiting review", True),
    Policy("function_error_rate", "Function error rate", False),
    Policy("webhook_5xx", "Webhook 5xx", False),
    Policy("channel_unhealthy", "Channel unhealthy", True),
)

# The policies' windows (infra/modules/monitoring/main.tf): dead letters forwarded within one
# 300 s alignment period; undelivered review messages for longer than the 300 s duration; an
# unhealthy channel's incident auto-closes after 86400 s.
ARRIVING_WITHIN = timedelta(seconds=300)
AWAITING_FOR = timedelta(seconds=300)
UNHEALTHY_FOR = timedelta(seconds=86400)


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    return None


def evaluate(
    dead_letters: list[dict[str, Any]],
    channels: list[tuple[str, dict[str, Any]]],
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The policies whose condition holds: {policy, title, severity, message}. ``dead_letters`` are
    the page's dead-letter rows (``publishTimeMs``), ``channels`` (id, document) pairs."""
    now = now or datetime.now(UTC)
    firing: list[dict[str, Any]] = []
    published = [t for row in dead_letters if (t := _moment(row.get("publishTimeMs"))) is not None]
    recent = [t for t in published if now - t <= ARRIVING_WITHIN]
    if recent:
        firing.append(
            _alert(
                "dead_letters_arriving",
                "ERROR",
                f"{len(recent)} inbound event(s) dead-lettered in the last 5 minutes",
            )
        )
    waiting = [t for t in published if now - t > AWAITING_FOR]
    if waiting:
        firing.append(
            _alert(
                "dead_letters_awaiting_review",
                "WARNING",
                f"{len(waiting)} dead letter(s) waiting for review for more than 5 minutes",
            )
        )
    for channel_id, channel in channels:
        error = (channel.get("health") or {}).get("lastError")
        at = _moment(error.get("at")) if isinstance(error, dict) else None
        if at is not None and now - at <= UNHEALTHY_FOR:
            assert isinstance(error, dict)
            why = error.get("reason") or error.get("message") or error.get("kind") or "provider error"
            name = channel.get("name") or channel_id
            firing.append(
                _alert("channel_unhealthy", "ERROR", f"{name}: {why} (code {error.get('code')})", channel_id)
            )
    return firing


def _alert(resource: str, severity: str, message: str, subject: str | None = None) -> dict[str, Any]:
    policy = next(p for p in POLICIES if p.resource == resource)
    alert = {"policy": resource, "title": policy.title, "severity": severity, "message": message}
    if subject is not None:
        alert["subject"] = subject
    return alert


def not_evaluated() -> list[dict[str, str]]:
    """The policies the page cannot judge (they read request metrics only Cloud Monitoring has)."""
    return [{"policy": p.resource, "title": p.title} for p in POLICIES if not p.local]
