"""The only place Switchboard reads its environment.

Every setting is declared once in :data:`ENVIRONMENT` (name, default, whether it is a secret) and
read by :func:`settings`, lazily and once per process, so importing this module costs nothing and a
cold start pays only for what it uses. In production, secrets arrive as environment variables that
Cloud Functions fills from Secret Manager references (see ``infra/``); locally the dev stack sets them.

The topic, subscription and queue names default to ``infra/topology.json``'s values; a test proves
the defaults and that file agree, and Terraform sets the same variables from the same file.

``SWITCHBOARD_ENV`` tells production from local: Terraform sets ``production`` on every deployed
function; the local stack and the tests leave it unset (``local``). With the emulators, functions trust
unsigned ID tokens (firebase-admin and FIREBASE_AUTH_EMULATOR_HOST) and the Cloud Tasks emulator's
queue headers, so in production :func:`settings` refuses to load, and every function to serve, while
any local-only variable (an emulator host above all) is set: the error names the variable and is
logged. The check runs on first use (each function's first request), never at import.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from functools import lru_cache

from shared.errors import MissingSetting, UnsafeConfiguration


@dataclass(frozen=True)
class Variable:
    """One environment variable the code reads."""

    name: str
    default: str | None
    secret: bool = False
    doc: str = ""
    local_only: bool = False  # set by the local stack only; production must not set it


LOCAL = "local"
PRODUCTION = "production"

ENVIRONMENT: tuple[Variable, ...] = (
    Variable(
        "SWITCHBOARD_ENV",
        LOCAL,
        doc="production on every deployed function (Terraform sets it), local otherwise (the local "
        "stack, tests, the operator CLI). Production refuses to start with any local-only variable set.",
    ),
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
    Variable(
        "SWITCHBOARD_STORE_RETRY_SECONDS",
        "15",
        doc="How long ingest and deliver retry a Firestore call before giving the event back to the queue.",
    ),
    Variable(
        "SWITCHBOARD_PUBSUB_ENDPOINT",
        "https://pubsub.googleapis.com",
        doc="Pub/Sub REST endpoint the webhooks publish to (a regional one keeps ordering keys in region).",
    ),
    Variable(
        "PUBSUB_EMULATOR_HOST", "", doc="Local only: host:port of the Pub/Sub emulator.", local_only=True
    ),
    Variable(
        "FIRESTORE_EMULATOR_HOST",
        "",
        doc="Local only: host:port of the Firestore emulator (read by google-cloud-firestore).",
        local_only=True,
    ),
    Variable(
        "FIREBASE_AUTH_EMULATOR_HOST",
        "",
        doc="Local only: host:port of the Auth emulator; firebase-admin then accepts unsigned ID tokens.",
        local_only=True,
    ),
    Variable(
        "STORAGE_EMULATOR_HOST",
        "",
        doc="Local only: a Cloud Storage emulator (read by google-cloud-storage); never set by Switchboard.",
        local_only=True,
    ),
    Variable("META_GRAPH_BASE_URL", "https://graph.facebook.com", doc="Graph API root (or the sandbox)."),
    Variable("META_GRAPH_VERSION", "v21.0", doc="Graph API version used for sends."),
    Variable("TELEGRAM_API_BASE_URL", "https://api.telegram.org", doc="Bot API root (or the sandbox)."),
    Variable(
        "TELEGRAM_WEBHOOK_SECRET",
        None,
        secret=True,
        doc="Master secret; each bot's X-Telegram-Bot-Api-Secret-Token is derived from it.",
    ),
    Variable("TWILIO_API_BASE_URL", "https://api.twilio.com", doc="Twilio REST root (or the sandbox)."),
    Variable(
        "SWITCHBOARD_PUBLIC_BASE_URL",
        "",
        doc="Public URL prefix of the webhook functions (Twilio signs the public URL; status callbacks).",
    ),
    Variable(
        "SWITCHBOARD_DASHBOARD_URL",
        "",
        doc="Public URL of the dashboard (Firebase Hosting), which also serves the embeddable chat "
        "bundle the embed snippet loads; empty: https://<project>.web.app.",
    ),
    Variable(
        "SWITCHBOARD_CSAT_LINK_SECRET",
        None,
        secret=True,
        doc="Signs the customers' satisfaction-survey links (HMAC; shared/csat.py): a link names its "
        "tenant, conversation, survey and expiry, and only this secret makes one.",
    ),
    Variable(
        "SWITCHBOARD_RATING_URL",
        "",
        doc="Public URL of the rating page (the rate function); empty: <SWITCHBOARD_PUBLIC_BASE_URL>/rate.",
    ),
    Variable("SWITCHBOARD_PROVIDER_TIMEOUT_SECONDS", "10", doc="Timeout of one provider API call."),
    Variable(
        "SWITCHBOARD_LOCAL_SECRETS",
        "",
        doc="Local only: a JSON map of secret name -> value used instead of Secret Manager.",
        local_only=True,
    ),
    Variable(
        "SWITCHBOARD_LOCAL_SECRETS_FILE",
        "",
        doc="Local only: a JSON file {name: value} used instead of Secret Manager (re-read when it "
        "changes; the admin CLI writes rotations to it).",
        local_only=True,
    ),
    Variable(
        "SWITCHBOARD_LOCAL_WEBHOOK_URLS",
        "",
        doc="Local only: a JSON map channel kind -> the local webhook function's URL, which the admin "
        "console's channels page registers with a provider that takes a webhook URL on connect "
        "(production registers <SWITCHBOARD_PUBLIC_BASE_URL>/webhook-<kind>).",
        local_only=True,
    ),
    Variable("SWITCHBOARD_DELIVER_URL", "", doc="URL of the deliver function that Cloud Tasks calls."),
    Variable("SWITCHBOARD_TASKS_LOCATION", "us-central1", doc="Region of the Cloud Tasks queues."),
    Variable(
        "SWITCHBOARD_TASKS_SERVICE_ACCOUNT",
        "",
        doc="Service account whose OIDC token Cloud Tasks presents to deliver (production).",
    ),
    Variable(
        "SWITCHBOARD_TASKS_EMULATOR_HOST",
        "",
        doc="Local only: host:port of the Cloud Tasks emulator.",
        local_only=True,
    ),
    Variable(
        "SWITCHBOARD_QUEUE_PREFIX", "outbound-", doc="Outbound queue names are this prefix + channel kind."
    ),
    Variable(
        "SWITCHBOARD_FCM_ENDPOINT",
        "",
        doc="Local only: root URL of an FCM HTTP v1 stand-in (infra/local/fcm_standin.py) that chat push "
        "sends to instead of https://fcm.googleapis.com, with a fixed bearer token.",
        local_only=True,
    ),
    Variable(
        "SWITCHBOARD_MEDIA_BUCKET",
        "switchboard-local-media",
        doc="Cloud Storage bucket of every media object (Terraform: <project>-media).",
    ),
    Variable(
        "SWITCHBOARD_MEDIA_URL_ENDPOINT",
        "",
        doc="Local only: the root signed media URLs point at (the local signed-URL gateway in front of "
        "the Cloud Storage emulator); production uses https://storage.googleapis.com.",
        local_only=True,
    ),
    Variable(
        "SWITCHBOARD_LOCAL_OUTBOX_DIR",
        "",
        doc="Local only: a directory where outgoing e-mail (agents' invitations) is written as one JSON "
        "file per message instead of being queued in Firestore's mail/ collection (shared/mail.py).",
        local_only=True,
    ),
    Variable(
        "SWITCHBOARD_MEDIA_SIGNING_KEY_FILE",
        "",
        doc="Local only: a service-account JSON key that signs media URLs instead of IAM signBlob.",
        local_only=True,
    ),
)


log = logging.getLogger("switchboard.config")


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
    pubsub_endpoint: str
    store_retry_seconds: float
    pubsub_emulator_host: str
    meta_graph_base_url: str
    meta_graph_version: str
    telegram_api_base_url: str
    telegram_webhook_secret: str | None
    twilio_api_base_url: str
    public_base_url: str
    dashboard_url: str
    provider_timeout_seconds: float
    local_secrets: dict[str, str]
    local_secrets_file: str
    deliver_url: str
    tasks_location: str
    tasks_service_account: str
    tasks_emulator_host: str
    queue_prefix: str
    fcm_endpoint: str
    media_bucket: str = "switchboard-local-media"
    media_url_endpoint: str = ""
    media_signing_key_file: str = ""
    storage_emulator_host: str = ""
    local_outbox_dir: str = ""
    environment: str = LOCAL
    local_webhook_urls: dict[str, str] = field(default_factory=dict)
    csat_link_secret: str | None = None
    rating_url: str = ""

    @property
    def production(self) -> bool:
        """True on deployed functions: no emulator, no local shortcut is ever trusted."""
        return self.environment == PRODUCTION

    def require(self, field: str) -> str:
        """Return a setting that must be present for the caller's work, or raise MissingSetting."""
        value = getattr(self, field)
        if not value:
            raise MissingSetting(f"setting {field} is not configured")
        return str(value)


def _declared(name: str) -> Variable:
    for variable in ENVIRONMENT:
        if variable.name == name:
            return variable
    raise KeyError(f"{name} is not declared in shared.config.ENVIRONMENT")


def _read(name: str) -> str | None:
    return os.environ.get(name, _declared(name).default)


def _environment() -> str:
    """SWITCHBOARD_ENV, checked: in production, no local-only variable may be set, even empty
    (google-cloud-firestore takes an empty FIRESTORE_EMULATOR_HOST for an emulator)."""
    environment = (_read("SWITCHBOARD_ENV") or LOCAL).strip().lower()
    if environment not in (LOCAL, PRODUCTION):
        problem = f"SWITCHBOARD_ENV must be {LOCAL!r} or {PRODUCTION!r}, not {environment!r}"
        log.critical("refusing to start: %s", problem, extra={"fields": {"event": "unsafe_configuration"}})
        raise UnsafeConfiguration(problem)
    if environment == PRODUCTION:
        offending = [v.name for v in ENVIRONMENT if v.local_only and v.name in os.environ]
        if offending:
            problem = (
                f"SWITCHBOARD_ENV=production but {', '.join(offending)} "
                f"{'is' if len(offending) == 1 else 'are'} set: local-only settings (emulator hosts make "
                "functions trust unsigned ID tokens and queue headers) are refused in production; unset "
                f"{'it' if len(offending) == 1 else 'them'}"
            )
            log.critical(
                "refusing to start: %s",
                problem,
                extra={"fields": {"event": "unsafe_configuration", "variables": offending}},
            )
            raise UnsafeConfiguration(problem)
    return environment


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Read the environment once and return the process's settings.

    Raises UnsafeConfiguration (not cached: every request is refused) for production configuration
    with a local-only variable set."""
    environment = _environment()
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
        pubsub_endpoint=(_read("SWITCHBOARD_PUBSUB_ENDPOINT") or "https://pubsub.googleapis.com").rstrip("/"),
        pubsub_emulator_host=_read("PUBSUB_EMULATOR_HOST") or "",
        store_retry_seconds=float(_read("SWITCHBOARD_STORE_RETRY_SECONDS") or 15),
        meta_graph_base_url=(_read("META_GRAPH_BASE_URL") or "").rstrip("/"),
        meta_graph_version=_read("META_GRAPH_VERSION") or "v21.0",
        telegram_api_base_url=(_read("TELEGRAM_API_BASE_URL") or "").rstrip("/"),
        telegram_webhook_secret=_read("TELEGRAM_WEBHOOK_SECRET"),
        twilio_api_base_url=(_read("TWILIO_API_BASE_URL") or "").rstrip("/"),
        public_base_url=(_read("SWITCHBOARD_PUBLIC_BASE_URL") or "").rstrip("/"),
        dashboard_url=(_read("SWITCHBOARD_DASHBOARD_URL") or "").rstrip("/"),
        provider_timeout_seconds=float(_read("SWITCHBOARD_PROVIDER_TIMEOUT_SECONDS") or 10),
        local_secrets=json.loads(_read("SWITCHBOARD_LOCAL_SECRETS") or "{}"),
        local_secrets_file=_read("SWITCHBOARD_LOCAL_SECRETS_FILE") or "",
        local_webhook_urls=json.loads(_read("SWITCHBOARD_LOCAL_WEBHOOK_URLS") or "{}"),
        deliver_url=_read("SWITCHBOARD_DELIVER_URL") or "",
        tasks_location=_read("SWITCHBOARD_TASKS_LOCATION") or "us-central1",
        tasks_service_account=_read("SWITCHBOARD_TASKS_SERVICE_ACCOUNT") or "",
        tasks_emulator_host=_read("SWITCHBOARD_TASKS_EMULATOR_HOST") or "",
        queue_prefix=_read("SWITCHBOARD_QUEUE_PREFIX") or "outbound-",
        fcm_endpoint=(_read("SWITCHBOARD_FCM_ENDPOINT") or "").rstrip("/"),
        local_outbox_dir=_read("SWITCHBOARD_LOCAL_OUTBOX_DIR") or "",
        media_bucket=_read("SWITCHBOARD_MEDIA_BUCKET") or "switchboard-local-media",
        media_url_endpoint=(_read("SWITCHBOARD_MEDIA_URL_ENDPOINT") or "").rstrip("/"),
        media_signing_key_file=_read("SWITCHBOARD_MEDIA_SIGNING_KEY_FILE") or "",
        storage_emulator_host=_read("STORAGE_EMULATOR_HOST") or "",
        environment=environment,
        csat_link_secret=_read("SWITCHBOARD_CSAT_LINK_SECRET"),
        rating_url=(_read("SWITCHBOARD_RATING_URL") or "").rstrip("/"),
    )


def reset() -> None:
    """Forget the cached settings (tests and the local stack change the environment)."""
    settings.cache_clear()
