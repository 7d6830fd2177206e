"""The only place Switchboard reads its environment.

Every setting is declared once in :data:`ENVIRONMENT` (name, default, whether it is a secret) and
read by :func:`settings`, lazily and once per process, so importing this module costs nothing and a
cold start pays only for what it uses. In production, secrets arrive as environment variables that
Cloud Functions fills from Secret Manager references (see ``infra/``); locally the dev stack sets them.

The topic, subscription and queue names default to ``infra/topology.json``'s values; a test proves
the defaults and that file agree, and Terraform sets the same variables from the same file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Variable:
    """One environment variable the code reads."""

    name: str
    default: str | None
    secret: bool = False
    doc: str = ""


ENVIRONMENT: tuple[Variable, ...] = (
    Variable("GOOGLE_CLOUD_PROJECT", "switchboard-local", doc="Google Cloud project id."),
    Variable("SWITCHBOARD_INBOUND_TOPIC", "inbound-events", doc="Topic the webhooks publish to."),
    Variable(
        "SWITCHBOARD_DEAD_LETTER_SUBSCRIPTION",
        "inbound-events-dead-review",
        doc="Pull subscription on the dead-letter topic that operators replay from.",
    ),
    Variable("SWITCHBOARD_MAX_WEBHOOK_BYTES", "1000000", doc="Bodies larger than this are refused."),
    Variable("SWITCHBOARD_PUBLISH_TIMEOUT_SECONDS", "10", doc="How long a webhook waits for Pub/Sub."),
    Variable("META_APP_ID", "", doc="Our Meta app id: echoes carrying it are our own sends."),
    Variable("META_APP_SECRET", None, secret=True, doc="Meta app secret: signs every Meta webhook."),
    Variable("META_VERIFY_TOKEN", None, secret=True, doc="Token Meta echoes in hub.verify_token."),
    Variable("SWITCHBOARD_LOG_LEVEL", "INFO", doc="Python logging level."),
)


class MissingSetting(RuntimeError):
    """A required environment variable is not set."""


@dataclass(frozen=True)
class Settings:
    """Typed view of :data:`ENVIRONMENT` for one process."""

    project_id: str
    inbound_topic: str
    dead_letter_subscription: str
    max_webhook_bytes: int
    publish_timeout_seconds: float
    meta_app_id: str
    meta_app_secret: str | None
    meta_verify_token: str | None
    log_level: str

    def require(self, field: str) -> str:
        """Return a setting that must be present for the caller's work, or raise MissingSetting."""
        value = getattr(self, field)
        if not value:
            raise MissingSetting(f"setting {field} is not configured")
        return str(value)


def _read(name: str) -> str | None:
    for variable in ENVIRONMENT:
        if variable.name == name:
            return os.environ.get(name, variable.default)
    raise KeyError(f"{name} is not declared in shared.config.ENVIRONMENT")


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Read the environment once and return the process's settings."""
    return Settings(
        project_id=_read("GOOGLE_CLOUD_PROJECT") or "switchboard-local",
        inbound_topic=_read("SWITCHBOARD_INBOUND_TOPIC") or "inbound-events",
        dead_letter_subscription=_read("SWITCHBOARD_DEAD_LETTER_SUBSCRIPTION") or "",
        max_webhook_bytes=int(_read("SWITCHBOARD_MAX_WEBHOOK_BYTES") or 1_000_000),
        publish_timeout_seconds=float(_read("SWITCHBOARD_PUBLISH_TIMEOUT_SECONDS") or 10),
        meta_app_id=_read("META_APP_ID") or "",
        meta_app_secret=_read("META_APP_SECRET"),
        meta_verify_token=_read("META_VERIFY_TOKEN"),
        log_level=_read("SWITCHBOARD_LOG_LEVEL") or "INFO",
    )


def reset() -> None:
    """Forget the cached settings (tests and the local stack change the environment)."""
    settings.cache_clear()
