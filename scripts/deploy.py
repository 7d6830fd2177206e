"""Deploy one environment (staging or prod) in one command: ``make deploy ENV=staging``.

    python scripts/deploy.py --env staging [--dry-run] [--yes]

Steps, in this order (README.md "Deploy" describes the same steps done by hand):

1. ``preflight``: gcloud, terraform, npm, node and firebase present, terraform >= 1.6, application-
   default credentials that work, and the environment's project reachable with them.
2. ``apis``: the two APIs Terraform needs before it can enable the others.
3. ``state``: the Terraform state bucket of ``environments/<env>.gcs.tfbackend``, created (with
   versioning) if missing.
4. ``init``: ``terraform init`` against that bucket (its own data directory per environment, under
   ``.local/deploy/<env>/``, so staging and prod never share a backend configuration).
5. ``secrets``: a targeted apply that creates the Secret Manager containers (and enables the APIs),
   then a first version of each secret that has none: ``meta-verify-token``,
   ``telegram-webhook-secret`` and ``csat-link-secret`` generated here, ``meta-app-secret`` from
   ``META_APP_SECRET``. Values go through stdin, never the command line; a secret that already has a
   version is left alone.
6. ``apply``: ``terraform plan`` to a file, a confirmation (``--yes`` skips it), then ``apply`` of that
   plan. Terraform also packages and uploads the functions' source (``archive_file.source`` zips
   main.py, functions/, shared/, requirements.txt; the object is named after its hash, so every code
   change redeploys every function), and releases the Firestore rules and indexes.
7. ``outputs``: ``terraform output -json``.
8. ``web``: ``npm ci`` and ``npm run build`` in web/.
9. ``config``: ``web/dist/config.json`` rendered from the outputs (the fields infra/local/dashboard.py
   serves locally, without the emulator hosts) and ``.local/deploy/<env>/firebase.json`` (Hosting:
   the site Terraform created, web/dist, the same security headers as the local server; Firestore:
   infra/firestore.rules and infra/firestore.indexes.json).
10. ``hosting``: ``firebase deploy --only hosting``.
11. ``firestore``: ``firebase deploy --only firestore:rules,firestore:indexes``: the same files
    Terraform released in step 6, after the web app (README "Upgrading": rules after the app that
    queries as they require); unchanged rules and indexes make it a no-op.
12. ``next``: what is left to a person: the webhook URLs for the providers' consoles, the first
    tenant and channel, the one-off commands after an upgrade, the smoke test.

Every step is a function returning the operations it would run (commands, files it writes), so
``--dry-run`` prints them all in order without running anything, and tests/infra/test_deploy.py
checks them offline. Exit status: 0 done, 1 a step failed, 2 refused (bad input, a missing tool, no
confirmation).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENTS = ("staging", "prod")
# Besides firebase, which may be the copy scripts/bootstrap.sh pins (infra/local/firebase).
TOOLS = ("gcloud", "terraform", "npm", "node")
PINNED_FIREBASE = Path("infra/local/firebase/node_modules/.bin/firebase")
MIN_TERRAFORM = (1, 6)
# APIs Terraform needs before it can enable the others (local.required_services in infra/main.tf).
BOOTSTRAP_APIS = ("serviceusage.googleapis.com", "cloudresourcemanager.googleapis.com")
# Secret Manager secrets every function mounts (local.app_secrets in infra/main.tf): a deploy fails
# while one has no version. Generated ones are random; the others come from the environment.
APP_SECRETS: dict[str, str | None] = {
    "meta-app-secret": "META_APP_SECRET",
    "meta-verify-token": None,
    "telegram-webhook-secret": None,
    "csat-link-secret": None,  # signs the satisfaction surveys' rating links (shared/csat.py)
}
# Google APIs the dashboard's Firebase SDK calls in production (Firestore, Auth sign-in and token
# refresh); locally the emulators stand in for them.
MEDIA_ORIGIN = "https://storage.googleapis.com"  # where signed media URLs point (shared/media/storage.py)
FIREBASE_API_ORIGINS = (
    "https://firestore.googleapis.com",
    "https://identitytoolkit.googleapis.com",
    "https://securetoken.googleapis.com",
)
# firebase/messaging's getToken (web push): the FCM registration and Firebase installations APIs.
WEB_PUSH_ORIGINS = ("https://fcmregistrations.googleapis.com", "https://firebaseinstallations.googleapis.com")


class DeployError(Exception):
    """A deployment cannot go on: ``code`` 2 when it was refused before anything ran, 1 otherwise."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# --- the environment -----------------------------------------------------------------------------


def read_assignments(path: Path) -> dict[str, str]:
    """Top-level ``key = "value"`` lines of a .tfvars or .tfbackend file (strings only)."""
    values = {}
    for line in path.read_text().splitlines():
        match = re.match(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"([^"]*)"', line)
        if match:
            values[match.group(1)] = match.group(2)
    return values


@dataclass(frozen=True)
class Deployment:
    """Everything the steps need to know about one deployment, read before anything runs."""

    env: str
    project: str
    region: str
    hosting_site_id: str
    state_bucket: str
    root: Path = ROOT
    web: Path = ROOT / "web"
    workdir: Path = ROOT / ".local" / "deploy"  # + <env>: terraform data, the plan, firebase.json
    firebase: str = "firebase"
    yes: bool = False

    @classmethod
    def load(cls, env: str, *, root: Path = ROOT, **overrides: Any) -> Deployment:
        if env not in ENVIRONMENTS:
            raise DeployError(f"unknown environment {env!r}: one of {', '.join(ENVIRONMENTS)}", 2)
        environments = root / "infra" / "environments"
        tfvars = read_assignments(environments / f"{env}.tfvars")
        backend = read_assignments(environments / f"{env}.gcs.tfbackend")
        missing = [key for key in ("project_id", "region", "hosting_site_id") if not tfvars.get(key)]
        if missing or not backend.get("bucket"):
            raise DeployError(f"infra/environments/{env}.*: missing {missing or ['bucket']}", 2)
        settings: dict[str, Any] = {
            "env": env,
            "project": tfvars["project_id"],
            "region": tfvars["region"],
            "hosting_site_id": tfvars["hosting_site_id"],
            "state_bucket": backend["bucket"],
            "root": root,
            "web": root / "web",
            "workdir": root / ".local" / "deploy",
            "firebase": firebase_command(root),
        }
        return cls(**{**settings, **overrides})

    @property
    def infra(self) -> Path:
        return self.root / "infra"

    @property
    def state_dir(self) -> Path:
        return self.workdir / self.env

    @property
    def tfvars(self) -> str:
        return f"environments/{self.env}.tfvars"  # relative to infra/

    @property
    def tfbackend(self) -> str:
        return f"environments/{self.env}.gcs.tfbackend"

    @property
    def plan_file(self) -> Path:
        return self.state_dir / "tfplan"

    @property
    def firebase_json(self) -> Path:
        return self.state_dir / "firebase.json"

    @property
    def config_json(self) -> Path:
        return self.web / "dist" / "config.json"

    @property
    def terraform_env(self) -> dict[str, str]:
        # One data directory per environment: switching between staging and prod never needs
        # `init -reconfigure`, and infra/.terraform stays the operator's own.
        return {"TF_DATA_DIR": str(self.state_dir / "terraform"), "TF_IN_AUTOMATION": "1"}

    @property
    def public_base_url(self) -> str:
        return f"https://{self.region}-{self.project}.cloudfunctions.net"


def firebase_command(root: Path = ROOT) -> str:
    """The firebase-tools scripts/bootstrap.sh pins (infra/local/firebase), else ``firebase``."""
    pinned = root / PINNED_FIREBASE
    return str(pinned) if os.access(pinned, os.X_OK) else "firebase"


def missing_tools(deployment: Deployment, path: str | None = None) -> list[str]:
    """The command-line tools the deployment needs that ``path`` (default: PATH) does not have."""
    wanted = [*TOOLS, deployment.firebase]
    return [tool for tool in wanted if shutil.which(tool, path=path) is None]


# --- operations ----------------------------------------------------------------------------------


@dataclass
class State:
    """What earlier operations learned, for later ones: captured output and probe results."""

    captured: dict[str, str] = field(default_factory=dict)
    succeeded: dict[str, bool] = field(default_factory=dict)

    @property
    def outputs(self) -> dict[str, Any]:
        return parse_json(self.captured["outputs"], "terraform output -json")


@dataclass(frozen=True)
class Command:
    """One command line. ``probe``: its exit status is an answer (stored under ``capture``), not a
    failure. ``stdin``: computed when it runs (a secret's value), shown as ``stdin_note`` only."""

    argv: tuple[str, ...]
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    capture: str | None = None
    probe: bool = False
    quiet: bool = False  # output captured and never shown (tokens)
    stdin: Callable[[State], str] | None = None
    stdin_note: str = ""
    only_if: Callable[[State], bool] | None = None
    only_if_note: str = ""
    after: Callable[[State], None] | None = None  # checks what it captured

    def describe(self, root: Path) -> str:
        """The command as a shell line, as --dry-run prints it."""
        line = shlex.join(self.argv)
        if self.env:
            line = " ".join(f"{key}={shlex.quote(value)}" for key, value in self.env.items()) + " " + line
        if self.cwd is not None and self.cwd != root:
            line = f"(cd {shlex.quote(relative(self.cwd, root))} && {line})"
        if self.stdin_note:
            line = f"{self.stdin_note} | {line}"
        notes = [note for note in (self.only_if_note, "output not shown" if self.quiet else "") if note]
        return f"$ {line}" + (f"   # {'; '.join(notes)}" if notes else "")


@dataclass(frozen=True)
class Action:
    """Work done in Python (a file written, a confirmation asked), described in one line."""

    note: str
    run: Callable[[State], None]

    def describe(self, root: Path) -> str:
        return f"# {self.note}"


Operation = Command | Action


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    operations: tuple[Operation, ...]

    def commands(self) -> list[tuple[str, ...]]:
        """The command lines of this step, in order (what the tests look at)."""
        return [operation.argv for operation in self.operations if isinstance(operation, Command)]


def relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root)) or "."
    except ValueError:
        return str(path)


# --- the steps -----------------------------------------------------------------------------------


def preflight(d: Deployment) -> Step:
    def check_terraform(state: State) -> None:
        version = parse_json(state.captured["terraform_version"], "terraform version -json")[
            "terraform_version"
        ]
        if tuple(int(part) for part in version.split(".")[:2]) < MIN_TERRAFORM:
            raise DeployError(f"terraform {version} is too old: infra/ needs >= 1.6", 2)

    def check_credentials(state: State) -> None:
        if not state.succeeded["adc"]:
            raise DeployError(
                "no application-default credentials: run `gcloud auth application-default login` "
                f"and `gcloud auth application-default set-quota-project {d.project}`",
                2,
            )

    return Step(
        "preflight",
        "tools, credentials and the project",
        (
            Command(("terraform", "version", "-json"), capture="terraform_version", after=check_terraform),
            Command(
                ("gcloud", "auth", "application-default", "print-access-token"),
                capture="adc",
                probe=True,
                quiet=True,
                after=check_credentials,
            ),
            Command(("gcloud", "projects", "describe", d.project, "--format=value(projectId)")),
        ),
    )


def apis(d: Deployment) -> Step:
    return Step(
        "apis",
        "the APIs Terraform needs to enable the others",
        (Command(("gcloud", "services", "enable", *BOOTSTRAP_APIS, f"--project={d.project}")),),
    )


def state_bucket(d: Deployment) -> Step:
    bucket = f"gs://{d.state_bucket}"
    missing = "only if the bucket does not exist"
    return Step(
        "state",
        f"Terraform state bucket {bucket}",
        (
            Command(
                (
                    "gcloud",
                    "storage",
                    "buckets",
                    "describe",
                    bucket,
                    f"--project={d.project}",
                    "--format=value(name)",
                ),
                capture="state_bucket",
                probe=True,
                quiet=True,
            ),
            Command(
                (
                    "gcloud",
                    "storage",
                    "buckets",
                    "create",
                    bucket,
                    f"--project={d.project}",
                    f"--location={d.region}",
                    "--uniform-bucket-level-access",
                ),
                only_if=lambda state: not state.succeeded["state_bucket"],
                only_if_note=missing,
            ),
            Command(
                ("gcloud", "storage", "buckets", "update", bucket, f"--project={d.project}", "--versioning"),
                only_if=lambda state: not state.succeeded["state_bucket"],
                only_if_note=missing,
            ),
        ),
    )


def terraform(d: Deployment, *arguments: str, **options: Any) -> Command:
    """A terraform command on infra/, with this environment's data directory."""
    return Command(("terraform", "-chdir=infra", *arguments), cwd=d.root, env=d.terraform_env, **options)


def init(d: Deployment) -> Step:
    return Step(
        "init",
        f"terraform init against {d.tfbackend}",
        (
            Action(
                f"mkdir -p {relative(d.state_dir, d.root)}   (terraform data, the plan, firebase.json)",
                lambda state: d.state_dir.mkdir(parents=True, exist_ok=True),
            ),
            terraform(d, "init", "-input=false", f"-backend-config={d.tfbackend}"),
        ),
    )


def secret_value(name: str, variable: str | None) -> Callable[[State], str]:
    def value(state: State) -> str:
        if variable is None:
            return secrets.token_hex(32)
        given = os.environ.get(variable, "")
        if not given:
            raise DeployError(
                f"the secret {name} has no version yet: set {variable} (your Meta app's secret) and run "
                f"again, or add it yourself: printf '%s' \"${variable}\" | gcloud secrets versions add "
                f"{name} --data-file=-",
                2,
            )
        return given

    return value


def app_secrets(d: Deployment) -> Step:
    operations: list[Operation] = [
        terraform(
            d,
            "apply",
            "-input=false",
            "-auto-approve",
            f"-var-file={d.tfvars}",
            "-target=google_secret_manager_secret.app",
        )
    ]
    for name, variable in APP_SECRETS.items():
        probe = f"secret:{name}"
        operations += [
            Command(
                (
                    "gcloud",
                    "secrets",
                    "versions",
                    "list",
                    name,
                    f"--project={d.project}",
                    "--filter=state:enabled",
                    "--limit=1",
                    "--format=value(name)",
                ),
                capture=probe,
                quiet=True,
            ),
            Command(
                ("gcloud", "secrets", "versions", "add", name, "--data-file=-", f"--project={d.project}"),
                stdin=secret_value(name, variable),
                stdin_note=f'printf %s "${variable}"' if variable else "<32 random bytes, hex>",
                only_if=lambda state, probe=probe: not state.captured[probe].strip(),
                only_if_note=f"only if {name} has no version",
            ),
        ]
    return Step(
        "secrets", "Secret Manager containers, and a first version where none exists", tuple(operations)
    )


def apply(d: Deployment) -> Step:
    def confirm(state: State) -> None:
        if d.yes:
            return
        if not sys.stdin.isatty():
            raise DeployError("not applying without a confirmation: run at a terminal, or pass --yes", 2)
        try:
            answer = input(f"Apply this plan to {d.project} ({d.env})? [y/N] ").strip().lower()
        except EOFError:
            answer = ""
        if answer not in {"y", "yes"}:
            raise DeployError("not applied", 2)

    plan_file = os.path.relpath(d.plan_file, d.infra)  # terraform runs in infra/ (-chdir)
    return Step(
        "apply",
        "terraform plan, confirm, apply (also uploads the functions' source and releases the rules)",
        (
            terraform(d, "plan", "-input=false", f"-var-file={d.tfvars}", f"-out={plan_file}"),
            Action("ask before applying (--yes: do not ask)", confirm),
            terraform(d, "apply", "-input=false", plan_file),
        ),
    )


def outputs(d: Deployment) -> Step:
    return Step(
        "outputs",
        "what Terraform created",
        (terraform(d, "output", "-json", capture="outputs", quiet=True, after=lambda state: state.outputs),),
    )


def web(d: Deployment) -> Step:
    return Step(
        "web",
        "build the dashboard and the embeddable chat",
        (
            Command(("npm", "ci", "--no-audit", "--no-fund"), cwd=d.web),
            Command(("npm", "run", "build"), cwd=d.web),
        ),
    )


def config(d: Deployment) -> Step:
    def write_config(state: State) -> None:
        write_json(d.config_json, render_config(state.outputs))

    def write_firebase_json(state: State) -> None:
        write_json(d.firebase_json, render_firebase_json(d, state.outputs))

    return Step(
        "config",
        "the dashboard's /config.json and the Firebase CLI's firebase.json",
        (
            Action(f"write {relative(d.config_json, d.root)} from the outputs", write_config),
            Action(
                f"write {relative(d.firebase_json, d.root)} (Hosting: web/dist; rules, indexes)",
                write_firebase_json,
            ),
        ),
    )


def firebase(d: Deployment, only: str) -> Command:
    return Command(
        (
            d.firebase,
            "deploy",
            "--only",
            only,
            "--project",
            d.project,
            "--config",
            relative(d.firebase_json, d.root),
            "--non-interactive",
        ),
        cwd=d.root,
    )


def hosting(d: Deployment) -> Step:
    return Step("hosting", f"publish web/dist to {d.hosting_site_id}.web.app", (firebase(d, "hosting"),))


def firestore(d: Deployment) -> Step:
    return Step(
        "firestore",
        "Firestore rules and indexes, after the web app",
        (firebase(d, "firestore:rules,firestore:indexes"),),
    )


def next_steps(d: Deployment) -> Step:
    def show(state: State) -> None:
        print(f"\nDeployed {d.env} to {d.project}.")
        print(next_steps_text(d, state.outputs if "outputs" in state.captured else None))

    return Step("next", "what is left to do by hand", (Action("print the next steps", show),))


STEPS: tuple[Callable[[Deployment], Step], ...] = (
    preflight,
    apis,
    state_bucket,
    init,
    app_secrets,
    apply,
    outputs,
    web,
    config,
    hosting,
    firestore,
    next_steps,
)


def plan(d: Deployment) -> list[Step]:
    """Every step of the deployment, in the order it runs."""
    return [step(d) for step in STEPS]


# --- what the steps write ------------------------------------------------------------------------


def parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise DeployError(f"`{source}` did not print JSON: {exc}") from exc


def output_value(outputs: Mapping[str, Any], name: str) -> Any:
    """One value of ``terraform output -json``."""
    if name not in outputs:
        raise DeployError(f"terraform has no output {name!r} (infra/outputs.tf)")
    return outputs[name]["value"]


def render_config(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The dashboard's /config.json from ``terraform output -json``: the fields
    infra/local/dashboard.py serves locally, without the emulator hosts (absent in production)."""
    from infra.local.dashboard import BROWSER_FUNCTIONS

    urls = output_value(outputs, "function_urls")
    missing = [name for name in BROWSER_FUNCTIONS if not urls.get(name)]
    if missing:
        raise DeployError(f"terraform output function_urls lacks {missing}")
    config = {
        "projectId": output_value(outputs, "project_id"),
        "apiKey": output_value(outputs, "dashboard_api_key"),
        "functions": {name: urls[name] for name in BROWSER_FUNCTIONS},
    }
    if not config["projectId"] or not config["apiKey"]:
        raise DeployError("terraform outputs project_id and dashboard_api_key must not be empty")
    vapid_key = (outputs.get("web_push_vapid_key") or {}).get("value")
    if vapid_key:  # agents' background notifications (web/src/lib/webPush.ts); optional
        config["webPush"] = {"vapidKey": vapid_key}
    return config


def content_security_policy(config: Mapping[str, Any]) -> str:
    """infra/local/dashboard.py's policy for this config, with Firebase's production APIs (the
    emulators' place locally) added to connect-src."""
    from infra.local import dashboard

    directives = dashboard.content_security_policy(dict(config)).split("; ")
    for index, directive in enumerate(directives):
        if directive.startswith("connect-src "):
            origins = directive.split()[1:]
            # Attachments upload straight to Cloud Storage through signed URLs.
            push = WEB_PUSH_ORIGINS if config.get("webPush") else ()
            directives[index] = "connect-src " + " ".join(
                [*origins, *FIREBASE_API_ORIGINS, *push, MEDIA_ORIGIN]
            )
    return "; ".join(directives)


def header(key: str, value: str) -> dict[str, str]:
    return {"key": key, "value": value}


def render_firebase_json(d: Deployment, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The Firebase CLI's configuration: Hosting serves web/dist on the site Terraform created, with
    the headers infra/local/dashboard.py sends; Firestore deploys infra/'s rules and indexes. Paths
    are relative to the file's own directory, which the CLI resolves them against."""
    from infra.local.dashboard import PUBLIC_PREFIXES

    base = d.firebase_json.parent

    def path(target: Path) -> str:
        return os.path.relpath(target, base)

    csp = content_security_policy(render_config(outputs))
    # An app route (no dot in its last segment) is the app; an unknown file is a 404, as locally.
    app_route = "^.*/[^/.]*$"
    cors = [{"source": f"{prefix}**" if prefix.endswith("/") else prefix} for prefix in PUBLIC_PREFIXES]
    return {
        "hosting": {
            "site": output_value(outputs, "hosting_site_id"),
            "public": path(d.web / "dist"),
            "ignore": ["**/.*", "**/node_modules/**"],
            "rewrites": [{"regex": app_route, "destination": "/index.html"}],
            "headers": [
                {
                    "source": "**",
                    "headers": [
                        header("X-Content-Type-Options", "nosniff"),
                        header("Referrer-Policy", "no-referrer"),
                        header("Content-Security-Policy", csp),
                    ],
                },
                {"regex": app_route, "headers": [header("Cache-Control", "no-cache")]},
                {"source": "**/*.html", "headers": [header("Cache-Control", "no-cache")]},
                {
                    "source": "/assets/**",
                    "headers": [header("Cache-Control", "public, max-age=31536000, immutable")],
                },
                # The embed runs on developers' sites and reads /config.json from this origin.
                *({**rule, "headers": [header("Access-Control-Allow-Origin", "*")]} for rule in cors),
                {"source": "/config.json", "headers": [header("Cache-Control", "no-store")]},
                {"source": "/embed/**", "headers": [header("Cache-Control", "no-cache")]},
            ],
        },
        "firestore": {
            "rules": path(d.infra / "firestore.rules"),
            "indexes": path(d.infra / "firestore.indexes.json"),
        },
    }


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2) + "\n")


def next_steps_text(d: Deployment, outputs: Mapping[str, Any] | None) -> str:
    """What a person still does after the deployment (README.md "Deploy" steps 6-8, "Upgrading")."""
    cli = ".venv/bin/python -m shared.cli"
    lines = []
    if outputs is not None:
        lines.append(f"  Dashboard   {output_value(outputs, 'dashboard_url')}")
        lines.append("  Webhooks    paste into the providers' consoles (README.md, Deploy step 7):")
        for name, url in sorted(output_value(outputs, "webhook_urls").items()):
            lines.append(f"              {name:<20} {url}")
    else:
        lines.append("  Webhooks    terraform -chdir=infra output webhook_urls (README.md, Deploy step 7)")
    lines += [
        "",
        "Next:",
        "  First deployment: a tenant, its channels and an agent (README.md, Deploy step 6):",
        f"    export GOOGLE_CLOUD_PROJECT={d.project}",
        f"    export SWITCHBOARD_PUBLIC_BASE_URL={d.public_base_url}",
        f'    {cli} create-tenant <tenant> --name "<name>" --plan pro',
        f"    printf '%s' \"$TOKEN\" | {cli} connect-channel <tenant> <channel> --kind <kind> "
        "--external-id <id> --token-stdin",
        f"    printf '%s' \"$PASSWORD\" | {cli} invite-agent --tenant <tenant> --email <email> "
        "--role admin --password-stdin",
        "  After upgrading an existing deployment, once (README.md, Upgrading an existing deployment):",
        f"    {cli} bind-route-signers --dry-run && {cli} bind-route-signers",
        f"    {cli} migrate-app-users --dry-run && {cli} migrate-app-users",
        f"    {cli} replay-quarantine",
        "  Smoke test: README.md, Deploy step 8 (the Meta handshake, then a message from a real account).",
    ]
    return "\n".join(lines)


# --- running -------------------------------------------------------------------------------------

Runner = Callable[..., subprocess.CompletedProcess[str]]


def run_command(command: Command, d: Deployment, state: State, runner: Runner) -> None:
    if command.only_if is not None and not command.only_if(state):
        print(f"  skipped: {command.describe(d.root)}")
        return
    print(f"  {command.describe(d.root)}", flush=True)
    capture = command.capture is not None
    result = runner(
        list(command.argv),
        cwd=command.cwd or d.root,
        env={**os.environ, **command.env},
        input=command.stdin(state) if command.stdin is not None else None,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if command.quiet else None,
        text=True,
        check=False,
    )
    if command.capture is not None:
        state.captured[command.capture] = result.stdout or ""
        state.succeeded[command.capture] = result.returncode == 0
    if result.returncode != 0 and not command.probe:
        detail = (result.stderr or "").strip() if command.quiet else ""
        raise DeployError(
            f"`{shlex.join(command.argv)}` failed ({result.returncode}){': ' + detail if detail else ''}"
        )
    if command.after is not None:
        command.after(state)


def execute(d: Deployment, steps: Sequence[Step], runner: Runner = subprocess.run) -> State:
    """Run the steps in order; the first failure stops everything (DeployError)."""
    state = State()
    for number, step in enumerate(steps, start=1):
        print(f"\n[{number}/{len(steps)}] {step.name}: {step.title}", flush=True)
        for operation in step.operations:
            if isinstance(operation, Command):
                run_command(operation, d, state, runner)
            else:
                print(f"  {operation.describe(d.root)}", flush=True)
                operation.run(state)
    return state


def describe(d: Deployment, steps: Sequence[Step]) -> str:
    """The whole deployment as --dry-run prints it: every step, every command, in order."""
    lines = [f"Deploying {d.env}: project {d.project}, region {d.region} (dry run: nothing runs)."]
    for number, step in enumerate(steps, start=1):
        lines.append(f"\n[{number}/{len(steps)}] {step.name}: {step.title}")
        lines += [f"  {operation.describe(d.root)}" for operation in step.operations]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, runner: Runner = subprocess.run) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="the environment to deploy")
    parser.add_argument("--dry-run", action="store_true", help="print every command in order, run nothing")
    parser.add_argument("--yes", action="store_true", help="apply the Terraform plan without asking")
    args = parser.parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # infra.local.dashboard, run as scripts/deploy.py
    try:
        d = Deployment.load(args.env, yes=args.yes)
        missing = missing_tools(d)
        steps = plan(d)
        if args.dry_run:
            if missing:
                print(f"(not on this machine: {', '.join(missing)})")
            print(describe(d, steps))
            print()
            print(next_steps_text(d, None))
            return 0
        if missing:
            raise DeployError(
                f"missing {', '.join(missing)}: install them first (README.md, Deploy: prerequisites; "
                "firebase-tools: scripts/bootstrap.sh, or npm install -g firebase-tools)",
                2,
            )
        print(f"Deploying {d.env}: project {d.project}, region {d.region}.")
        execute(d, steps, runner)
    except DeployError as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("deploy: interrupted", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
