"""The whole system on one machine: the real Google emulators, every function under
functions-framework, Pub/Sub wired exactly as ``infra/topology.json`` declares for production.

Used by ``make dev`` (``python -m infra.local.dev``) and by the integration tests, so what the tests
prove is what developers run.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.processes import REPO, Process, free_port, http_ok, wait_until

TOPOLOGY_PATH = REPO / "infra" / "topology.json"
RULES_PATH = REPO / "infra" / "firestore.rules"
GCLOUD_PLATFORM = Path(os.environ.get("GCLOUD_PLATFORM_DIR", "/usr/lib/google-cloud-sdk/platform"))


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


@dataclass
class LocalStack:
    """Emulators + functions. ``start()`` brings everything up; ``stop()`` stops every process."""

    project: str = "switchboard-local"
    secrets: Secrets = field(default_factory=Secrets)
    functions: tuple[str, ...] | None = None  # None: every function in topology.json
    processes: list[Process] = field(default_factory=list)
    function_urls: dict[str, str] = field(default_factory=dict)
    firestore_host: str = ""
    pubsub_host: str = ""

    # --- environment ------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """Environment for every function process (and for this process when it talks to the stack)."""
        return {
            "GOOGLE_CLOUD_PROJECT": self.project,
            "FIRESTORE_EMULATOR_HOST": self.firestore_host,
            "PUBSUB_EMULATOR_HOST": self.pubsub_host,
            "META_APP_SECRET": self.secrets.meta_app_secret,
            "META_VERIFY_TOKEN": self.secrets.meta_verify_token,
            "META_APP_ID": self.secrets.meta_app_id,
            "SWITCHBOARD_INBOUND_TOPIC": topology()["topics"]["inbound_events"],
            "SWITCHBOARD_DEAD_LETTER_SUBSCRIPTION": topology()["subscriptions"]["inbound_dead_letters"][
                "name"
            ],
            "PYTHONUNBUFFERED": "1",
        }

    def apply_env(self) -> None:
        """Point this process's clients at the stack (and forget clients made before)."""
        os.environ.update(self.env())
        from shared import bus, config, store

        config.reset()
        bus.reset()
        store.reset()

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> LocalStack:
        """Start emulators, provision Pub/Sub, start functions; stop everything if any step fails."""
        try:
            self.start_emulators()
            self.start_functions()
            self.provision_pubsub()
        except BaseException:
            self.stop()
            raise
        return self

    def start_emulators(self) -> None:
        """Start the Firestore and Pub/Sub emulators (in parallel) and wait until both answer."""
        firestore_port, pubsub_port = free_port(), free_port()
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
        for process in emulators:
            self.processes.append(process.start())
        for process in emulators:
            process.wait_ready()

    def start_functions(self) -> None:
        """Start each function in its own functions-framework process, as Cloud Functions would."""
        declared = topology()["functions"]
        names = self.functions if self.functions is not None else tuple(declared)
        started = []
        for name in names:
            port = free_port()
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
            env = {**self.env(), "THREADS": str(declared[name].get("concurrency", 1) * 2 or 2)}
            process = Process(f"function-{name}", command, env=env, ready_url=f"http://127.0.0.1:{port}/")
            self.processes.append(process.start())
            self.function_urls[name] = f"http://127.0.0.1:{port}"
            started.append(process)
        for process in started:
            process.wait_ready()

    def restart_function(self, name: str) -> None:
        """Stop and start one function on the same port (fault-injection tests)."""
        process = next(p for p in self.processes if p.name == f"function-{name}")
        process.stop()
        process.start()
        process.wait_ready()

    def stop(self) -> None:
        """Stop every process this stack started, newest first."""
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()

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
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()


def wait_for(condition: Any, timeout: float = 20.0, what: str = "condition") -> None:
    """Re-export for tests and tools: poll until ``condition()`` is truthy."""
    wait_until(lambda: bool(condition()), timeout, what)
