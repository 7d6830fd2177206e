"""``make deploy`` (scripts/deploy.py), offline: the commands and their order, the files it writes
from Terraform's outputs, and what it refuses.

The google provider cannot be downloaded here, so nothing is deployed: the dry run is checked as
printed, and a full run goes through stand-ins for gcloud, terraform, npm and firebase that record
their command lines (``terraform output -json`` answers with ``fixtures/terraform-output.json``, a
sample written from infra/outputs.tf and kept in step with it by a test below).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import hcl2
import pytest

from infra.local import dashboard
from scripts import deploy
from tests.infra.test_infrastructure import _HCL_OPTIONS, INFRA, REPO, expression, root

FIXTURE = Path(__file__).parent / "fixtures" / "terraform-output.json"
SCRIPT = REPO / "scripts" / "deploy.py"
FIREBASE_SCHEMA = REPO / "infra/local/firebase/node_modules/firebase-tools/schema/firebase-config.json"

STEP_ORDER = [
    "preflight",
    "apis",
    "state",
    "init",
    "secrets",
    "apply",
    "outputs",
    "web",
    "config",
    "hosting",
    "firestore",
    "next",
]


def sample_outputs() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def staging(**changes: Any) -> deploy.Deployment:
    return dataclasses.replace(deploy.Deployment.load("staging"), **changes)


def no_runner(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    raise AssertionError(f"nothing may run: {args}")


# --- the plan ------------------------------------------------------------------------------------


def test_steps_run_in_the_deploy_order() -> None:
    steps = deploy.plan(staging())
    assert [step.name for step in steps] == STEP_ORDER


def flat_commands(d: deploy.Deployment) -> list[str]:
    return [" ".join(argv) for step in deploy.plan(d) for argv in step.commands()]


def test_commands_in_order() -> None:
    commands = flat_commands(staging())
    expected = [
        "terraform version -json",
        "gcloud auth application-default print-access-token",
        "gcloud projects describe switchboard-staging",
        "gcloud services enable serviceusage.googleapis.com cloudresourcemanager.googleapis.com",
        "gcloud storage buckets describe gs://switchboard-staging-tfstate",
        "gcloud storage buckets create gs://switchboard-staging-tfstate",
        "gcloud storage buckets update gs://switchboard-staging-tfstate --project=switchboard-staging "
        "--versioning",
        "terraform -chdir=infra init -input=false -backend-config=environments/staging.gcs.tfbackend",
        "terraform -chdir=infra apply -input=false -auto-approve -var-file=environments/staging.tfvars "
        "-target=google_secret_manager_secret.app",
        "gcloud secrets versions list meta-app-secret",
        "gcloud secrets versions add meta-app-secret --data-file=-",
        "gcloud secrets versions list meta-verify-token",
        "gcloud secrets versions add meta-verify-token --data-file=-",
        "gcloud secrets versions list telegram-webhook-secret",
        "gcloud secrets versions add telegram-webhook-secret --data-file=-",
        "gcloud secrets versions list csat-link-secret",
        "gcloud secrets versions add csat-link-secret --data-file=-",
        "terraform -chdir=infra plan -input=false -var-file=environments/staging.tfvars "
        "-out=../.local/deploy/staging/tfplan",
        "terraform -chdir=infra apply -input=false ../.local/deploy/staging/tfplan",
        "terraform -chdir=infra output -json",
        "npm ci --no-audit --no-fund",
        "npm run build",
        "deploy --only hosting --project switchboard-staging --config .local/deploy/staging/firebase.json",
        "deploy --only firestore:rules,firestore:indexes --project switchboard-staging",
    ]
    assert len(commands) == len(expected), "\n".join(commands)
    for command, start in zip(commands, expected, strict=True):
        assert start in command, f"expected {start!r}, got {command!r}"


def test_no_secret_value_is_ever_on_a_command_line() -> None:
    for step in deploy.plan(staging()):
        for operation in step.operations:
            if isinstance(operation, deploy.Command) and "add" in operation.argv:
                assert operation.argv[-2:] == ("--data-file=-", "--project=switchboard-staging")
                assert operation.stdin is not None and operation.only_if is not None


def test_prod_uses_the_prod_files_and_project() -> None:
    commands = "\n".join(flat_commands(deploy.Deployment.load("prod")))
    assert "-backend-config=environments/prod.gcs.tfbackend" in commands
    assert "-var-file=environments/prod.tfvars" in commands
    assert "gs://switchboard-prod-tfstate" in commands
    assert "--project switchboard-prod " in commands
    assert "staging" not in commands


def test_terraform_runs_with_the_environments_own_data_directory() -> None:
    d = staging()
    terraform = [
        operation
        for step in deploy.plan(d)
        for operation in step.operations
        if isinstance(operation, deploy.Command) and operation.argv[0] == "terraform"
    ]
    assert terraform
    for command in terraform[1:]:  # all but `terraform version`
        assert command.env["TF_DATA_DIR"] == str(REPO / ".local" / "deploy" / "staging" / "terraform")
        assert command.argv[1] == "-chdir=infra"


def test_the_environment_comes_from_its_tfvars_and_backend() -> None:
    d = deploy.Deployment.load("staging")
    with (INFRA / "environments" / "staging.tfvars").open() as handle:
        tfvars = hcl2.load(handle, serialization_options=_HCL_OPTIONS)
    assert (d.project, d.region, d.hosting_site_id) == (
        tfvars["project_id"],
        tfvars["region"],
        tfvars["hosting_site_id"],
    )
    assert d.state_bucket == "switchboard-staging-tfstate"
    with pytest.raises(deploy.DeployError) as refused:
        deploy.Deployment.load("dev")
    assert refused.value.code == 2


def test_the_secrets_are_the_ones_functions_mount() -> None:
    assert set(deploy.APP_SECRETS) == set(root().locals["app_secrets"].values())


def test_terraform_uploads_the_function_source_itself() -> None:
    """No separate upload step: the apply zips the repository and uploads it."""
    source = root().resource("google_storage_bucket_object", "source")
    assert expression(source["source"]) == "data.archive_file.source.output_path"
    assert "output_md5" in expression(source["name"])


# --- the dry run ---------------------------------------------------------------------------------


def test_dry_run_prints_every_step_in_order_and_runs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert deploy.main(["--env", "staging", "--dry-run"], runner=no_runner) == 0
    printed = capsys.readouterr().out
    headers = re.findall(r"^\[(\d+)/12\] (\w+):", printed, flags=re.MULTILINE)
    assert [name for _, name in headers] == STEP_ORDER
    assert [int(number) for number, _ in headers] == list(range(1, 13))
    landmarks = [
        "terraform -chdir=infra init",
        "-target=google_secret_manager_secret.app",
        "| gcloud secrets versions add meta-app-secret --data-file=-",
        "terraform -chdir=infra plan",
        "# ask before applying",
        "terraform -chdir=infra apply -input=false ../.local/deploy/staging/tfplan",
        "terraform -chdir=infra output -json",
        "(cd web && npm ci",
        "(cd web && npm run build)",
        "# write web/dist/config.json",
        "# write .local/deploy/staging/firebase.json",
        "deploy --only hosting",
        "deploy --only firestore:rules,firestore:indexes",
        "bind-route-signers --dry-run",
        "migrate-app-users --dry-run",
    ]
    positions = [printed.find(landmark) for landmark in landmarks]
    assert -1 not in positions, [
        landmark for landmark, at in zip(landmarks, positions, strict=True) if at < 0
    ]
    assert positions == sorted(positions)


def test_dry_run_from_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--env", "prod", "--dry-run"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    assert "[12/12] next:" in result.stdout
    assert "project switchboard-prod" in result.stdout


def test_make_deploy_runs_the_script() -> None:
    result = subprocess.run(
        ["make", "-n", "deploy", "ENV=staging", "DRY_RUN=1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "scripts/deploy.py --env staging --dry-run" in result.stdout
    yes = subprocess.run(
        ["make", "-n", "deploy", "ENV=prod", "YES=1"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert "scripts/deploy.py --env prod --yes" in " ".join(yes.stdout.split())


# --- what it renders from Terraform's outputs ----------------------------------------------------


def test_the_sample_outputs_are_what_outputs_tf_declares() -> None:
    declared = root().outputs
    sample = sample_outputs()
    assert set(sample) == set(declared)
    for name, output in declared.items():
        assert sample[name]["sensitive"] == output.get("sensitive", False), name
    functions = json.loads((INFRA / "topology.json").read_text())["functions"]
    assert set(sample["function_urls"]["value"]) == set(functions)


def test_the_outputs_the_deploy_reads_come_from_terraform() -> None:
    outputs = root().outputs
    assert expression(outputs["project_id"]["value"]) == "var.project_id"
    assert expression(outputs["hosting_site_id"]["value"]) == "google_firebase_hosting_site.dashboard.site_id"
    assert expression(outputs["dashboard_api_key"]["value"]) == (
        "data.google_firebase_web_app_config.dashboard.api_key"
    )
    assert "module.functions" in expression(outputs["function_urls"]["value"])
    with (INFRA / "identity.tf").open() as handle:
        identity = hcl2.load(handle, serialization_options=_HCL_OPTIONS)
    sources = {
        name: body
        for entry in identity.get("data", [])
        for kind in entry.values()
        for name, body in kind.items()
    }
    web_config = sources["dashboard"]
    assert expression(web_config["web_app_id"]) == "google_firebase_web_app.dashboard.app_id"
    assert expression(web_config["provider"]) == "google-beta"


def test_config_json_from_the_outputs() -> None:
    config = deploy.render_config(sample_outputs())
    base = "https://europe-west1-switchboard-staging.cloudfunctions.net"
    assert config == {
        "projectId": "switchboard-staging",
        "apiKey": "AIzaSyDUMMY-staging-web-api-key-000000000",
        "functions": {
            "send_message": f"{base}/send-message",
            "agent_api": f"{base}/agent-api",
            "create_app": f"{base}/create-app",
            "chat_api": f"{base}/chat-api",
        },
    }


def test_config_json_has_the_local_fields_but_the_emulators() -> None:
    stack = SimpleNamespace(
        project="demo-switchboard",
        auth_host="127.0.0.1:9099",
        firestore_host="127.0.0.1:8080",
        function_urls={name: f"http://127.0.0.1/{name}" for name in dashboard.BROWSER_FUNCTIONS},
    )
    local = dashboard.stack_config(stack)  # type: ignore[arg-type]
    deployed = deploy.render_config(sample_outputs())
    # webPush: "local" locally; in production only with the web_push_vapid_key output set.
    assert set(deployed) == set(local) - {"authHost", "firestoreHost", "webPush"}
    assert set(deployed["functions"]) == set(local["functions"])
    # What web/src/lib/config.ts refuses to start without.
    assert deployed["projectId"] and deployed["apiKey"]
    assert deployed["functions"]["send_message"] and deployed["functions"]["agent_api"]


def test_config_rendering_refuses_incomplete_outputs() -> None:
    outputs = sample_outputs()
    del outputs["function_urls"]["value"]["chat_api"]
    with pytest.raises(deploy.DeployError, match="chat_api"):
        deploy.render_config(outputs)
    outputs = sample_outputs()
    outputs["dashboard_api_key"]["value"] = ""
    with pytest.raises(deploy.DeployError, match="dashboard_api_key"):
        deploy.render_config(outputs)
    outputs = sample_outputs()
    del outputs["project_id"]
    with pytest.raises(deploy.DeployError, match="project_id"):
        deploy.render_config(outputs)


# --- firebase.json -------------------------------------------------------------------------------


def firebase_json(d: deploy.Deployment | None = None) -> dict[str, Any]:
    d = d or staging()
    return deploy.render_firebase_json(d, sample_outputs())


def test_firebase_json_points_hosting_at_web_dist_on_terraforms_site() -> None:
    d = staging()
    hosting = firebase_json(d)["hosting"]
    base = d.firebase_json.parent
    assert (base / hosting["public"]).resolve() == (REPO / "web" / "dist").resolve()
    assert hosting["site"] == sample_outputs()["hosting_site_id"]["value"]
    assert hosting["site"] == d.hosting_site_id
    assert "**/.*" in hosting["ignore"]  # web/dist/.build-inputs.sha256 stays home


def test_firebase_json_names_the_rules_and_indexes_terraform_deploys() -> None:
    d = staging()
    firestore = firebase_json(d)["firestore"]
    base = d.firebase_json.parent
    rules = (base / firestore["rules"]).resolve()
    indexes = (base / firestore["indexes"]).resolve()
    assert rules == (INFRA / "firestore.rules").resolve() and rules.is_file()
    assert indexes == (INFRA / "firestore.indexes.json").resolve() and indexes.is_file()
    # The very files Terraform reads (infra/firestore.tf).
    firestore_tf = (INFRA / "firestore.tf").read_text()
    assert 'file("${path.module}/firestore.rules")' in firestore_tf
    assert 'file("${path.module}/firestore.indexes.json")' in firestore_tf


def headers_for(config: dict[str, Any], path: str) -> dict[str, str]:
    """The headers Hosting sends for ``path``: every matching rule, in order."""
    found: dict[str, str] = {}
    for rule in config["hosting"]["headers"]:
        if "regex" in rule:
            matches = re.search(rule["regex"], path) is not None
        else:
            glob = re.escape(rule["source"]).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
            matches = re.fullmatch(glob, path) is not None
        if matches:
            found.update({header["key"]: header["value"] for header in rule["headers"]})
    return found


def test_firebase_json_sends_the_local_servers_headers() -> None:
    config = firebase_json()
    api = deploy.render_config(sample_outputs())
    page = headers_for(config, "/developers")
    assert page["X-Content-Type-Options"] == "nosniff"
    assert page["Referrer-Policy"] == "no-referrer"
    assert page["Cache-Control"] == "no-cache"
    # The local server's policy, with Firebase's production APIs where the emulators were.
    local = dashboard.content_security_policy(api).split("; ")
    deployed = page["Content-Security-Policy"].split("; ")
    assert [d for d in deployed if not d.startswith("connect-src")] == [
        d for d in local if not d.startswith("connect-src")
    ]
    connect = next(d for d in deployed if d.startswith("connect-src")).split()[1:]
    assert "https://europe-west1-switchboard-staging.cloudfunctions.net" in connect
    assert set(deploy.FIREBASE_API_ORIGINS) <= set(connect)
    assert "'self'" in connect
    assert headers_for(config, "/assets/index-1a2b.js")["Cache-Control"].endswith("immutable")
    for public in ("/config.json", "/embed/switchboard-chat.js"):
        assert headers_for(config, public)["Access-Control-Allow-Origin"] == "*"
    assert headers_for(config, "/config.json")["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in headers_for(config, "/developers")


def test_firebase_json_serves_the_app_for_app_routes_only() -> None:
    (rewrite,) = firebase_json()["hosting"]["rewrites"]
    assert rewrite["destination"] == "/index.html"
    for route in ("/", "/developers", "/conversations/co0123", "/inbox/"):
        assert re.search(rewrite["regex"], route), route
    for missing in ("/missing.js", "/assets/gone.css", "/favicon.ico"):
        assert not re.search(rewrite["regex"], missing), missing


def schema_errors(
    value: Any, schema: dict[str, Any], definitions: dict[str, Any], where: str = ""
) -> list[str]:
    """The subset of JSON Schema that firebase-tools' firebase-config.json uses."""
    if "$ref" in schema:
        return schema_errors(value, definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions, where)
    if "anyOf" in schema:
        options = [schema_errors(value, option, definitions, where) for option in schema["anyOf"]]
        return [] if any(not errors for errors in options) else [f"{where}: matches no anyOf ({options})"]
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "number": (int, float)}
    if kind in types and not isinstance(value, types[kind]):
        return [f"{where}: not {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} not in {schema['enum']}"]
    errors: list[str] = []
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        errors += [f"{where}: lacks {key}" for key in schema.get("required", []) if key not in value]
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(item, properties[key], definitions, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: unknown key {key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            errors += schema_errors(item, schema["items"], definitions, f"{where}[{index}]")
    return errors


def test_firebase_json_is_valid_for_the_pinned_firebase_tools() -> None:
    assert FIREBASE_SCHEMA.is_file(), "firebase-tools is not installed: run scripts/bootstrap.sh"
    schema = json.loads(FIREBASE_SCHEMA.read_text())
    assert schema_errors(firebase_json(), schema, schema["definitions"]) == []
    assert schema_errors({"hosting": {"site": 1}}, schema, schema["definitions"])  # the check checks


# --- running it, against stand-ins ---------------------------------------------------------------

STUB = textwrap.dedent(
    """\
    #!{python}
    import json, os, pathlib, sys
    tool = os.path.basename(sys.argv[0])
    args = sys.argv[1:]
    stdin = sys.stdin.read() if "--data-file=-" in args else None
    with open(os.environ["STUB_LOG"], "a") as log:
        log.write(json.dumps({{"tool": tool, "args": args, "cwd": os.getcwd(), "stdin": stdin,
                              "tf_data_dir": os.environ.get("TF_DATA_DIR")}}) + "\\n")
    line = " ".join([tool, *args])
    if os.environ.get("STUB_FAIL") and line.startswith(os.environ["STUB_FAIL"]):
        sys.exit(3)
    if tool == "terraform" and args[:2] == ["version", "-json"]:
        print(json.dumps({{"terraform_version": "1.11.4"}}))
    elif tool == "terraform" and args[1:3] == ["output", "-json"]:
        print(pathlib.Path(os.environ["STUB_OUTPUTS"]).read_text())
    elif tool == "gcloud" and args[:3] == ["storage", "buckets", "describe"]:
        sys.exit(1)  # no state bucket yet
    elif tool == "gcloud" and args[:3] == ["secrets", "versions", "list"]:
        if args[3] in os.environ.get("STUB_SECRETS_WITH_VERSION", "").split(","):
            print(f"projects/p/secrets/{{args[3]}}/versions/1")
    elif tool == "gcloud" and args[:3] == ["auth", "application-default", "print-access-token"]:
        print("ya29.stub-token")
    elif tool == "npm" and args == ["run", "build"]:
        pathlib.Path("dist").mkdir(exist_ok=True)
        pathlib.Path("dist/index.html").write_text("<!doctype html>")
    elif tool == "firebase":
        config = pathlib.Path(args[args.index("--config") + 1])
        assert json.loads(config.read_text())["hosting"]["site"]
    """
)


@pytest.fixture
def stubs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in (*deploy.TOOLS, "firebase"):
        path = bin_dir / tool
        path.write_text(STUB.format(python=sys.executable))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STUB_LOG", str(log))
    monkeypatch.setenv("STUB_OUTPUTS", str(FIXTURE))
    monkeypatch.setenv("STUB_SECRETS_WITH_VERSION", "telegram-webhook-secret")
    monkeypatch.setenv("META_APP_SECRET", "the-meta-app-secret")
    monkeypatch.delenv("STUB_FAIL", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a terminal: no one to ask
    (tmp_path / "web").mkdir()
    deployment = staging(
        web=tmp_path / "web",
        workdir=tmp_path / "deploy",
        firebase=str(bin_dir / "firebase"),
        yes=True,
    )

    def calls() -> list[dict[str, Any]]:
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    return SimpleNamespace(bin=bin_dir, deployment=deployment, calls=calls, tmp=tmp_path)


def test_a_full_run_against_stand_ins(stubs: SimpleNamespace, capsys: pytest.CaptureFixture[str]) -> None:
    d = stubs.deployment
    deploy.execute(d, deploy.plan(d))
    calls = stubs.calls()
    lines = [" ".join([call["tool"], *call["args"]]) for call in calls]
    ran = [" ".join(argv) for step in deploy.plan(d) for argv in step.commands()]
    # Every planned command ran, in order, but adding a version to the secret that had one.
    skipped = [line for line in ran if line.startswith("gcloud secrets versions add telegram-webhook-secret")]
    assert len(skipped) == 1
    assert lines == [line.replace(d.firebase, "firebase") for line in ran if line not in skipped]

    added = {
        call["args"][3]: call["stdin"] for call in calls if call["args"][:3] == ["secrets", "versions", "add"]
    }
    assert added["meta-app-secret"] == "the-meta-app-secret"
    assert re.fullmatch(r"[0-9a-f]{64}", added["meta-verify-token"])
    assert not any("the-meta-app-secret" in line or added["meta-verify-token"] in line for line in lines)

    terraform = [call for call in calls if call["tool"] == "terraform" and call["args"][0] != "version"]
    assert {call["tf_data_dir"] for call in terraform} == {str(d.state_dir / "terraform")}
    npm = [call for call in calls if call["tool"] == "npm"]
    assert {call["cwd"] for call in npm} == {str(d.web)}

    assert json.loads(d.config_json.read_text()) == deploy.render_config(sample_outputs())
    assert json.loads(d.firebase_json.read_text()) == deploy.render_firebase_json(d, sample_outputs())

    printed = capsys.readouterr().out
    assert "ya29.stub-token" not in printed
    assert "Deployed staging to switchboard-staging." in printed
    assert "webhook_whatsapp" in printed and "https://switchboard-staging-dashboard.web.app" in printed


def test_the_first_failure_stops_the_deploy(stubs: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUB_FAIL", "terraform -chdir=infra plan")
    d = stubs.deployment
    with pytest.raises(deploy.DeployError) as failed:
        deploy.execute(d, deploy.plan(d))
    assert failed.value.code == 1
    assert "terraform -chdir=infra plan" in str(failed.value)
    tools = [(call["tool"], call["args"][1] if len(call["args"]) > 1 else "") for call in stubs.calls()]
    assert tools[-1] == ("terraform", "plan")
    assert not any(tool in {"npm", "firebase"} for tool, _ in tools)
    assert not d.config_json.exists()


def test_no_apply_without_confirmation(stubs: SimpleNamespace) -> None:
    d = dataclasses.replace(stubs.deployment, yes=False)  # and stdin is not a terminal
    with pytest.raises(deploy.DeployError, match="--yes") as refused:
        deploy.execute(d, deploy.plan(d))
    assert refused.value.code == 2
    last = stubs.calls()[-1]
    assert (last["tool"], last["args"][1]) == ("terraform", "plan")


def test_the_meta_app_secret_must_come_from_the_operator(
    stubs: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("META_APP_SECRET")
    d = stubs.deployment
    with pytest.raises(deploy.DeployError, match="META_APP_SECRET") as refused:
        deploy.execute(d, deploy.plan(d))
    assert refused.value.code == 2
    assert not any(call["args"][:3] == ["secrets", "versions", "add"] for call in stubs.calls())


def test_refuses_to_run_when_a_tool_is_missing(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.jsonl"
    for tool in ("gcloud", "npm", "node", "firebase"):  # no terraform
        path = bin_dir / tool
        path.write_text(STUB.format(python=sys.executable))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--env", "staging", "--yes"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": str(bin_dir), "PYTHONPATH": str(REPO), "STUB_LOG": str(log), "HOME": str(tmp_path)},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "missing terraform" in result.stderr
    assert not log.exists(), "a command ran although a tool is missing"


def test_missing_tools_are_looked_up_on_path(tmp_path: Path) -> None:
    d = staging(firebase="firebase")
    assert deploy.missing_tools(d, path=str(tmp_path)) == [*deploy.TOOLS, "firebase"]


def test_config_json_carries_the_web_push_key_when_terraform_has_one() -> None:
    outputs = {**sample_outputs(), "web_push_vapid_key": {"value": "BPublicVapidKey", "sensitive": False}}
    config = deploy.render_config(outputs)
    assert config["webPush"] == {"vapidKey": "BPublicVapidKey"}
    assert "https://fcmregistrations.googleapis.com" in deploy.content_security_policy(config)
    assert "webPush" not in deploy.render_config({**outputs, "web_push_vapid_key": {"value": ""}})
