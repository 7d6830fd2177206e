"""Code and infrastructure agree: every entry point, topic, queue, setting and secret.

The google provider cannot be downloaded here, so ``terraform validate`` cannot run. Instead these
tests parse ``infra/**/*.tf`` with python-hcl2 and prove what matters for Switchboard:

* every functions-framework target exported by ``main.py`` is a function in ``infra/topology.json``,
  and Terraform declares one Cloud Function per topology entry with that target as entry point;
* every topic, subscription and queue of topology.json is declared by a ``for_each`` over it;
* every setting of :data:`shared.config.ENVIRONMENT` is set on the functions (secrets only as
  Secret Manager references), and Terraform sets nothing the code does not read;
* queues respect the providers' rate limits of DESIGN.md, ingest dead-letters after 5 attempts,
  the Firestore rules grant clients no write, and no secret value is ever in Terraform.

``scripts/check-infra.sh`` (terraform fmt + checkov) is the other half; it is slow and installs
checkov, so it runs from the test command, not from here.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest

from shared import config

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
MODULES = INFRA / "modules"
MAIN_PY = REPO / "main.py"
TOPOLOGY_PATH = INFRA / "topology.json"
RULES_PATH = INFRA / "firestore.rules"
INDEXES_PATH = INFRA / "firestore.indexes.json"
ENVIRONMENTS = INFRA / "environments"

# DESIGN.md, "Rate limits": the most one outbound queue may dispatch per second to each provider.
PROVIDER_RATE_LIMITS: dict[str, float] = {"whatsapp": 80, "messenger": 300, "telegram": 30}

# Environment variables Terraform sets that functions-framework reads, not our code.
PLATFORM_ENVIRONMENT = frozenset({"FUNCTION_SIGNATURE_TYPE"})

# Least privilege, as the design asks: project-level roles per function. Webhooks hold none (they
# only publish to the inbound topic); send_message's queue and actAs grants are resource-level.
EXPECTED_PROJECT_ROLES: dict[str, list[str]] = {
    "ingest": ["roles/datastore.user"],
    "send_message": ["roles/datastore.user"],
    "agent_api": ["roles/datastore.user"],
    # deliver runs chat push jobs: FCM sends.
    "deliver": ["roles/datastore.user", "roles/firebasecloudmessaging.admin"],
    "chat_api": ["roles/datastore.user", "roles/iam.serviceAccountTokenCreator"],
    "create_app": ["roles/datastore.user", "roles/firebaseauth.admin"],
    # rate records a customer's rating from the public rating page (shared/csat.py).
    "rate": ["roles/datastore.user"],
}

STANDARD_MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf")
CLIENT_WRITE_METHODS = frozenset({"write", "create", "update", "delete"})

_HCL_OPTIONS = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)


# --- reading the code ----------------------------------------------------------------------------


def functions_framework_targets(source: str) -> set[str]:
    """Names main.py exports as functions-framework targets: public module-level function
    definitions, and every name listed in ``__all__`` (targets re-exported from ``functions/``)."""
    targets: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_"):
            targets.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) and node.value is not None:
            names = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(name, ast.Name) and name.id == "__all__" for name in names):
                targets.update(ast.literal_eval(node.value))
    return targets


@cache
def topology() -> dict[str, Any]:
    """infra/topology.json, the single declaration shared by Terraform and the local stack."""
    return json.loads(TOPOLOGY_PATH.read_text())


# --- reading the Terraform -----------------------------------------------------------------------


def expression(value: Any) -> str:
    """An HCL value as Terraform source text: ``"${local.x}"`` becomes ``local.x``."""
    if not isinstance(value, str):
        return json.dumps(value)
    if value.startswith("${") and value.endswith("}"):
        # Unwrap only when the first "${" closes at the very end: not "${a}-${b}".
        depth = 0
        for position, character in enumerate(value[1:], start=1):
            depth += {"{": 1, "}": -1}.get(character, 0)
            if depth == 0:
                if position == len(value) - 1:
                    return value[2:-1]
                break
    return value


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The single nested block ``name`` of a block body."""
    blocks = body.get(name)
    assert isinstance(blocks, list) and len(blocks) == 1, f"expected one {name!r} block, found {blocks!r}"
    return blocks[0]


def dynamic(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The ``dynamic "name"`` block of a block body (its for_each and content)."""
    for entry in body.get("dynamic", []):
        if name in entry:
            return entry[name]
    raise AssertionError(f"no dynamic {name!r} block in {sorted(body)}")


@dataclass
class TerraformModule:
    """The top-level blocks of every .tf file in one directory."""

    path: Path
    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    terraform: list[dict[str, Any]] = field(default_factory=list)

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        """The body of ``resource "kind" "name"``."""
        assert name in self.resources.get(kind, {}), f"{self.path.name}: no resource {kind}.{name}"
        return self.resources[kind][name]


@cache
def terraform_module(directory: Path) -> TerraformModule:
    """Parse every .tf file of ``directory`` (not recursive) into one :class:`TerraformModule`."""
    module = TerraformModule(path=directory)
    for path in sorted(directory.glob("*.tf")):
        with path.open() as handle:
            parsed = hcl2.load(handle, serialization_options=_HCL_OPTIONS)
        for entry in parsed.get("resource", []):
            for kind, named in entry.items():
                module.resources.setdefault(kind, {}).update(named)
        for entry in parsed.get("module", []):
            module.modules.update(entry)
        for entry in parsed.get("variable", []):
            module.variables.update(entry)
        for entry in parsed.get("output", []):
            module.outputs.update(entry)
        for entry in parsed.get("locals", []):
            module.locals.update(entry)
        module.terraform.extend(parsed.get("terraform", []))
    return module


def root() -> TerraformModule:
    """The root module, infra/*.tf."""
    return terraform_module(INFRA)


def child(name: str) -> TerraformModule:
    """A module under infra/modules/."""
    return terraform_module(MODULES / name)


def module_directories() -> list[Path]:
    """Every module under infra/modules/."""
    return sorted(path for path in MODULES.iterdir() if path.is_dir())


def all_terraform_files() -> list[Path]:
    """Every .tf file Switchboard owns (infra/local/ is the emulator stack, not Terraform)."""
    return sorted(path for path in INFRA.rglob("*.tf") if ".terraform" not in path.parts)


# --- functions: main.py <-> topology.json <-> Terraform ------------------------------------------


def test_target_parser_reads_definitions_and_all(tmp_path: Path) -> None:
    sample = tmp_path / "main.py"
    sample.write_text(
        "from functions.send import send_message\n"
        "__all__ = ['webhook_messenger', 'send_message']\n"
        "__all__ += ['deliver']\n"
        "def webhook_messenger(request): ...\n"
        "def ingest(cloud_event):\n"
        "    def nested(): ...\n"
        "def _private(): ...\n"
        "async def deliver(request): ...\n"
        "class NotATarget: ...\n"
    )
    assert functions_framework_targets(sample.read_text()) == {
        "webhook_messenger",
        "send_message",
        "deliver",
        "ingest",
    }


def test_main_py_exports_targets() -> None:
    assert MAIN_PY.is_file(), "main.py (the functions-framework entry points) is missing"
    assert functions_framework_targets(MAIN_PY.read_text()), "main.py exports no functions-framework target"


def test_every_main_py_target_is_declared_in_topology() -> None:
    targets = functions_framework_targets(MAIN_PY.read_text())
    missing = targets - set(topology()["functions"])
    assert not missing, (
        f"main.py exports {sorted(missing)} but infra/topology.json has no such function: "
        "add them to its 'functions' section so Terraform deploys them"
    )


def test_every_topology_function_is_exported_by_main_py() -> None:
    targets = functions_framework_targets(MAIN_PY.read_text())
    orphans = set(topology()["functions"]) - targets
    assert not orphans, f"topology.json deploys {sorted(orphans)} but main.py exports no such target"


def test_terraform_declares_one_function_per_topology_entry() -> None:
    call = root().modules["functions"]
    assert call["source"] == "./modules/function"
    assert expression(call["for_each"]) == "local.topology.functions"
    assert expression(call["entry_point"]) == "each.key", "the topology key is the entry point"
    assert expression(root().locals["topology"]) == 'jsondecode(file("${path.module}/topology.json"))'

    function = child("function").resource("google_cloudfunctions2_function", "this")
    build = block(function, "build_config")
    assert expression(build["entry_point"]) == "var.entry_point"
    assert expression(build["runtime"]) == "var.runtime"
    assert child("function").variables["runtime"]["default"] == "python311"
    assert "runtime" not in call, "every function runs python311"
    storage = block(block(build, "source"), "storage_source")
    assert expression(storage["object"]) == "var.source_object"


@pytest.mark.parametrize(
    ("argument", "topology_field"),
    [
        ("available_memory", "memory"),
        ("available_cpu", "cpu"),
        ("max_instance_request_concurrency", "concurrency"),
        ("min_instance_count", "min_instances"),
        ("max_instance_count", "max_instances"),
        ("timeout_seconds", "timeout_seconds"),
    ],
)
def test_function_sizing_comes_from_topology(argument: str, topology_field: str) -> None:
    assert f"each.value.{topology_field}" in expression(root().modules["functions"][argument])
    service = block(child("function").resource("google_cloudfunctions2_function", "this"), "service_config")
    assert expression(service[argument]) == f"var.{argument}"
    for name, function in topology()["functions"].items():
        assert topology_field in function, f"topology function {name} has no {topology_field}"


def test_every_function_has_an_invoker() -> None:
    invokers = root().locals["trigger_invokers"]
    for name, function in topology()["functions"].items():
        assert function["trigger"] in invokers, f"{name}: unknown trigger {function['trigger']!r}"
        if function.get("public"):
            assert function["trigger"] == "http", f"{name}: only HTTP functions may be public"
        else:
            assert invokers[function["trigger"]], f"{name} is private and nothing may invoke it"


def test_only_public_functions_are_open_to_all_users() -> None:
    module = child("function")
    public = module.resource("google_cloud_run_service_iam_member", "public")
    assert public["member"] == "allUsers"
    assert expression(public["count"]) == "var.public ? 1 : 0"
    assert expression(public["role"]) == "roles/run.invoker"
    assert "var.public" in expression(module.locals["ingress_settings"])
    assert expression(module.resource("google_cloud_run_service_iam_member", "invoker")["for_each"]) == (
        "var.invoker_members"
    )
    assert "!try(each.value.public, false)" in expression(root().modules["functions"]["invoker_members"])


def test_function_roles_are_least_privilege() -> None:
    assert root().locals["function_project_roles"] == EXPECTED_PROJECT_ROLES
    assert expression(root().modules["functions"]["project_roles"]) == (
        "try(local.function_project_roles[each.key], [])"
    )
    publisher = root().resource("google_pubsub_topic_iam_member", "webhook_publisher")
    assert expression(publisher["for_each"]) == "local.webhook_functions"
    assert publisher["role"] == "roles/pubsub.publisher"
    assert expression(publisher["topic"]) == 'google_pubsub_topic.this["inbound_events"].name'
    webhooks = [name for name in topology()["functions"] if name.startswith("webhook_")]
    assert webhooks, "topology.json declares no webhook function"
    assert not set(webhooks) & set(EXPECTED_PROJECT_ROLES), "webhooks hold no project-level role"


# --- Pub/Sub and Cloud Tasks: topology.json <-> Terraform ----------------------------------------


@pytest.mark.parametrize(
    ("section", "declaration", "name_expression"),
    [
        ("topics", ("resource", "google_pubsub_topic", "this"), "each.value"),
        ("subscriptions", ("resource", "google_pubsub_subscription", "this"), "each.value.name"),
        ("queues", ("module", "queues", ""), "each.value.name"),
    ],
)
def test_topology_section_is_declared_by_for_each(
    section: str, declaration: tuple[str, str, str], name_expression: str
) -> None:
    kind, type_or_name, name = declaration
    body = root().resource(type_or_name, name) if kind == "resource" else root().modules[type_or_name]
    assert expression(body["for_each"]) == f"local.topology.{section}"
    assert expression(body["name"]) == name_expression
    assert topology()[section], f"topology.json declares no {section}"


def test_topology_references_resolve() -> None:
    spec = topology()
    for key, subscription in spec["subscriptions"].items():
        assert subscription["topic"] in spec["topics"], f"subscription {key}: unknown topic"
        if "dead_letter_topic" in subscription:
            assert subscription["dead_letter_topic"] in spec["topics"], (
                f"subscription {key}: unknown dead letter topic"
            )
        if "push_function" in subscription:
            function = spec["functions"].get(subscription["push_function"])
            assert function is not None, f"subscription {key}: unknown push function"
            assert function["trigger"] == "pubsub_push", f"subscription {key} pushes to a non-push function"
    for section in ("topics", "subscriptions", "queues"):
        values = spec[section].values()
        names = [value if isinstance(value, str) else value["name"] for value in values]
        assert len(names) == len(set(names)), f"duplicate names in topology {section}"
        for resource_name in names:
            # The Pub/Sub emulator (and Pub/Sub) need ids of at least 3 characters.
            assert re.fullmatch(r"[a-z][a-z0-9-]{2,99}", resource_name), resource_name


def test_subscriptions_set_retry_policy_explicitly() -> None:
    subscription = root().resource("google_pubsub_subscription", "this")
    retry = block(subscription, "retry_policy")
    assert "each.value.minimum_backoff_seconds" in expression(retry["minimum_backoff"])
    assert "each.value.maximum_backoff_seconds" in expression(retry["maximum_backoff"])
    assert block(subscription, "expiration_policy")["ttl"] == "", "subscriptions must never expire"


def test_ingest_push_subscription_dead_letters_after_five_attempts() -> None:
    pushed = [sub for sub in topology()["subscriptions"].values() if sub.get("push_function") == "ingest"]
    assert len(pushed) == 1, "exactly one subscription pushes to ingest"
    (ingest,) = pushed
    assert ingest["max_delivery_attempts"] == 5
    assert ingest["dead_letter_topic"] in topology()["topics"]
    assert ingest["enable_message_ordering"] is True

    subscription = root().resource("google_pubsub_subscription", "this")
    dead_letter = dynamic(subscription, "dead_letter_policy")
    content = block(dead_letter, "content")
    assert expression(content["max_delivery_attempts"]) == "dead_letter_policy.value.max_delivery_attempts"
    assert (
        "google_pubsub_topic.this[dead_letter_policy.value.dead_letter_topic]" in content["dead_letter_topic"]
    )
    assert "each.value.enable_message_ordering" in expression(subscription["enable_message_ordering"])

    push = block(dynamic(subscription, "push_config"), "content")
    # functions-framework reads the CloudEvent's topic from the push URL's path.
    assert push["push_endpoint"].endswith(
        "/projects/${var.project_id}/topics/${local.topology.topics[push_config.value.topic]}"
    )
    oidc = block(push, "oidc_token")
    assert expression(oidc["service_account_email"]) == "google_service_account.pubsub_push.email"


def test_pubsub_service_agent_can_dead_letter() -> None:
    agent = root().locals["pubsub_service_agent"]
    assert agent == "service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
    publisher = root().resource("google_pubsub_topic_iam_member", "dead_letter_publisher")
    assert publisher["role"] == "roles/pubsub.publisher"
    assert publisher["member"] == "serviceAccount:${local.pubsub_service_agent}"
    assert expression(publisher["for_each"]) == "local.dead_letter_topic_keys"
    subscriber = root().resource("google_pubsub_subscription_iam_member", "dead_letter_subscriber")
    assert subscriber["role"] == "roles/pubsub.subscriber"
    assert subscriber["member"] == "serviceAccount:${local.pubsub_service_agent}"
    assert expression(subscriber["for_each"]) == "local.dead_lettering_subscriptions"


@pytest.mark.parametrize("channel", sorted(topology()["queues"]))
def test_queue_rate_respects_provider_limit(channel: str) -> None:
    queue = topology()["queues"][channel]
    assert queue["max_dispatches_per_second"] > 0
    limit = PROVIDER_RATE_LIMITS.get(channel)
    if limit is not None:
        assert queue["max_dispatches_per_second"] <= limit, (
            f"{queue['name']} dispatches {queue['max_dispatches_per_second']}/s; {channel} allows {limit}/s"
        )
    assert queue["min_backoff_seconds"] <= queue["max_backoff_seconds"]


def test_push_queue_stays_under_fcm_project_quota() -> None:
    """FCM accepts 600,000 messages a minute per project: the push jobs the queue runs at once,
    each at its own pace, stay within 80% of it (the rest for retries after QUOTA_EXCEEDED)."""
    from shared.chat import push

    queue = topology()["queues"]["push"]
    assert queue["name"] == "outbound-push" and push.PUSH_QUEUE == "push"
    per_second = queue["max_concurrent_dispatches"] * push.JOB_MESSAGES_PER_SECOND
    assert per_second * 60 <= 0.8 * push.FCM_PROJECT_MESSAGES_PER_MINUTE == 0.8 * 600_000
    # A job hands back to Cloud Tasks (recording its progress) before deliver's timeout cuts it.
    assert (
        topology()["functions"]["deliver"]["timeout_seconds"]
        > push.JOB_BUDGET_SECONDS + push.SEND_TIMEOUT_SECONDS
    )


def test_every_rate_limited_provider_has_a_queue() -> None:
    assert set(PROVIDER_RATE_LIMITS) <= set(topology()["queues"])


def test_queue_module_applies_rates_and_retries() -> None:
    call = root().modules["queues"]
    for argument in (
        "max_dispatches_per_second",
        "max_concurrent_dispatches",
        "max_attempts",
        "min_backoff_seconds",
        "max_backoff_seconds",
        "max_retry_duration_seconds",
    ):
        assert expression(call[argument]) == f"each.value.{argument}"
    queue = child("queue").resource("google_cloud_tasks_queue", "this")
    rates = block(queue, "rate_limits")
    assert expression(rates["max_dispatches_per_second"]) == "var.max_dispatches_per_second"
    retry = block(queue, "retry_config")
    assert expression(retry["max_attempts"]) == "var.max_attempts"
    assert "sampling_ratio" in block(queue, "stackdriver_logging_config")


# --- environment: shared.config.ENVIRONMENT <-> Terraform ----------------------------------------


def terraform_environment() -> tuple[dict[str, Any], dict[str, Any]]:
    """(plain environment, secret environment -> secret id) that Terraform gives every function."""
    return root().locals["function_environment"], root().locals["app_secrets"]


@pytest.mark.parametrize("variable", config.ENVIRONMENT, ids=lambda variable: variable.name)
def test_setting_is_set_on_every_function(variable: config.Variable) -> None:
    plain, secret = terraform_environment()
    if variable.local_only:
        assert variable.name not in plain and variable.name not in secret, (
            f"{variable.name} is for the local stack only and must not be set in production"
        )
    elif variable.secret:
        assert variable.name in secret, (
            f"{variable.name} is a secret: add it to local.app_secrets in infra/main.tf "
            "(a Secret Manager reference, never a value)"
        )
        assert variable.name not in plain, f"{variable.name} is a secret and must not be a plain variable"
    else:
        assert variable.name in plain, (
            f"{variable.name} is read by the code: add it to local.function_environment"
        )


def test_terraform_sets_only_settings_the_code_reads() -> None:
    plain, secret = terraform_environment()
    declared = {variable.name: variable for variable in config.ENVIRONMENT}
    assert set(plain) <= set(declared), f"unknown settings {sorted(set(plain) - set(declared))}"
    assert all(declared[name].secret for name in secret), (
        "a non-secret setting is mounted from Secret Manager"
    )
    assert set(root().locals["cloudevent_environment"]) <= PLATFORM_ENVIRONMENT


def test_deployed_functions_run_in_production_configuration() -> None:
    """SWITCHBOARD_ENV=production makes every function refuse emulator (local-only) variables and
    trust no emulator shortcut (shared/config.py); the local stack leaves it unset."""
    plain, _ = terraform_environment()
    assert plain["SWITCHBOARD_ENV"] == config.PRODUCTION


def test_environment_reaches_the_function_resource() -> None:
    call = root().modules["functions"]
    environment = expression(call["environment_variables"])
    assert environment.startswith("merge(local.function_environment,")
    assert 'if each.value.trigger == "pubsub_push"' in environment
    assert root().locals["cloudevent_environment"] == {"FUNCTION_SIGNATURE_TYPE": "cloudevent"}
    assert "local.app_secrets" in expression(call["secret_environment_variables"])

    service = block(child("function").resource("google_cloudfunctions2_function", "this"), "service_config")
    # Plus THREADS, which the module derives from the concurrency (tests/infra/test_function_sizing.py).
    assert expression(service["environment_variables"]) == (
        "merge(var.environment_variables, local.server_environment)"
    )
    secrets = dynamic(service, "secret_environment_variables")
    assert expression(secrets["for_each"]) == "var.secret_environment_variables"
    content = block(secrets, "content")
    assert expression(content["key"]) == "secret_environment_variables.key"
    assert expression(content["secret"]) == "secret_environment_variables.value"
    access = child("function").resource("google_secret_manager_secret_iam_member", "runtime")
    assert expression(access["for_each"]) == "var.secret_environment_variables"
    assert access["role"] == "roles/secretmanager.secretAccessor"


def test_config_defaults_match_topology() -> None:
    defaults = {variable.name: variable.default for variable in config.ENVIRONMENT}
    assert defaults["SWITCHBOARD_INBOUND_TOPIC"] == topology()["topics"]["inbound_events"]
    assert (
        defaults["SWITCHBOARD_DEAD_LETTER_SUBSCRIPTION"]
        == (topology()["subscriptions"]["inbound_dead_letters"]["name"])
    )
    plain, _ = terraform_environment()
    assert expression(plain["SWITCHBOARD_INBOUND_TOPIC"]) == "local.topology.topics.inbound_events"
    assert expression(plain["SWITCHBOARD_DEAD_LETTER_SUBSCRIPTION"]) == (
        "local.topology.subscriptions.inbound_dead_letters.name"
    )


# --- secrets -------------------------------------------------------------------------------------


def test_no_secret_value_in_terraform() -> None:
    for path in all_terraform_files():
        text = path.read_text()
        assert "google_secret_manager_secret_version" not in text, (
            f"{path}: secret values never go in Terraform"
        )
        assert "secret_data" not in text, f"{path}: secret values never go in Terraform"
    for path in ENVIRONMENTS.glob("*.tfvars"):
        assert not re.search(r"(?i)(secret|token|password)\s*=", path.read_text()), f"{path} holds a secret"
    secrets = root().resource("google_secret_manager_secret", "app")
    assert expression(secrets["for_each"]) == "local.app_secrets"


def test_deliver_reads_only_channel_token_secrets() -> None:
    grant = root().resource("google_project_iam_member", "deliver_channel_tokens")
    assert grant["role"] == "roles/secretmanager.secretAccessor"
    assert "local.channel_token_secret_prefix" in block(grant, "condition")["expression"]
    assert root().locals["channel_token_secret_prefix"] == "channel-token-"


def test_agent_api_manages_only_channel_secrets_for_the_channels_page() -> None:
    grant = root().resource("google_project_iam_member", "agent_api_channel_secrets")
    assert grant["role"] == "roles/secretmanager.admin"
    condition = block(grant, "condition")["expression"]
    assert "local.channel_token_secret_prefix" in condition
    assert "local.twilio_auth_token_secret_prefix" in condition
    master = root().resource("google_project_iam_member", "agent_api_telegram_master")
    assert master["role"] == "roles/secretmanager.secretAccessor"
    assert "secrets/telegram-webhook-secret" in block(master, "condition")["expression"]


# --- Firestore -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Allow:
    """One ``allow <methods>: if <condition>;`` statement and the match path it sits under."""

    path: str
    methods: frozenset[str]
    condition: str


def rules_allows(text: str) -> list[Allow]:
    """Every allow statement of a rules file, with its enclosing ``match`` path."""
    text = re.sub(r"//[^\n]*", "", text)
    token = re.compile(
        r"match\s+(?P<match>\S+)\s*\{|(?P<open>\{)|(?P<close>\})|allow\s+(?P<allow>[^;]+);", re.S
    )
    stack: list[str] = []
    allows: list[Allow] = []
    for found in token.finditer(text):
        if found["match"]:
            stack.append(found["match"])
        elif found["open"]:
            stack.append("")
        elif found["close"]:
            stack.pop()
        else:
            methods, _, condition = found["allow"].partition(":")
            condition = re.sub(r"^\s*if\s+", "", condition).strip()
            allows.append(
                Allow(
                    path="".join(stack),
                    methods=frozenset(method.strip() for method in methods.split(",")),
                    condition=" ".join(condition.split()),
                )
            )
    return allows


def test_rules_grant_clients_no_write() -> None:
    assert RULES_PATH.is_file()
    text = RULES_PATH.read_text()
    assert "rules_version = '2';" in text
    assert "service cloud.firestore" in text
    allows = rules_allows(text)
    assert allows, "the rules file has no allow statement"
    for allow in allows:
        if allow.methods & CLIENT_WRITE_METHODS:
            assert allow.condition == "false", f"clients may write under {allow.path}: {allow.condition}"


def test_rules_scope_reads_to_the_agents_tenant() -> None:
    # Structural check only; tests/rules/ proves the behaviour against the Firestore emulator.
    text = RULES_PATH.read_text()
    reads = [allow for allow in rules_allows(text) if allow.condition != "false"]
    assert reads, "no client may read anything"
    tenant = "/databases/{database}/documents/tenants/{tenantId}"
    # "My channels": the app user's collection-group query on member documents, scoped by the
    # documents' own tenantId and userId (no tenant in the path to match).
    my_memberships = "/databases/{database}/documents/{path=**}/members/{memberId}"
    # The timeline and search: staff's collection-group query on messages, scoped by the documents'
    # own tenantId (only support conversations' messages carry one).
    tenant_messages = "/databases/{database}/documents/{path=**}/messages/{messageId}"
    for allow in reads:
        assert allow.methods <= {"read", "get", "list"}
        if allow.path == my_memberships:
            assert "resource.data.tenantId == claims().tenantId" in allow.condition
            assert "resource.data.userId == appUserId()" in allow.condition
            continue
        if allow.path == tenant_messages:
            assert "resource.data.tenantId == claims().tenantId" in allow.condition
            assert "claims().role in ['owner', 'admin', 'agent']" in allow.condition
            continue
        assert allow.path == tenant or allow.path.startswith(tenant + "/")
        assert "tenantId" in allow.condition, f"{allow.path} is readable without a tenant check"
    assert re.search(r"(request\.auth\.token|claims\(\))\.tenantId == tenantId", text)
    assert not [allow for allow in reads if "/routes/" in allow.path or "/quarantine/" in allow.path]


def test_rules_parser_sees_nesting() -> None:
    allows = rules_allows(
        "service cloud.firestore { match /databases/{d}/documents { match /a/{x} { allow read: if true; } "
        "match /b/{y} { allow create, update: if request.auth != null; } } }"
    )
    assert allows == [
        Allow("/databases/{d}/documents/a/{x}", frozenset({"read"}), "true"),
        Allow("/databases/{d}/documents/b/{y}", frozenset({"create", "update"}), "request.auth != null"),
    ]


def test_terraform_deploys_the_rules_file() -> None:
    ruleset = root().resource("google_firebaserules_ruleset", "firestore")
    files = block(block(ruleset, "source"), "files")
    assert expression(files["content"]) == 'file("${path.module}/firestore.rules")'
    release = root().resource("google_firebaserules_release", "firestore")
    assert release["name"] == "cloud.firestore"
    database = root().resource("google_firestore_database", "default")
    assert database["name"] == "(default)"
    assert database["type"] == "FIRESTORE_NATIVE"


def index_fields(index: dict[str, Any]) -> list[tuple[str, str]]:
    """An index's (field path, order or array config) pairs."""
    return [(field["fieldPath"], field.get("order") or field["arrayConfig"]) for field in index["fields"]]


def test_push_roster_and_push_jobs_are_not_indexed_and_jobs_expire() -> None:
    """A roster shard's members map (tokens, mute, viewing marks of ~100 members) is never queried:
    indexing it would cost index entries on every viewing mark. Push job records expire (TTL)."""
    overrides = {
        (o["collectionGroup"], o["fieldPath"]): o
        for o in json.loads(INDEXES_PATH.read_text())["fieldOverrides"]
    }
    assert overrides[("pushRoster", "members")]["indexes"] == []
    assert overrides[("pushJobs", "sent")]["indexes"] == []
    assert overrides[("pushJobs", "expireAt")]["ttl"] is True


def test_indexes_cover_the_dashboard_and_receipt_queries() -> None:
    declaration = json.loads(INDEXES_PATH.read_text())
    composite = {(index["collectionGroup"], tuple(index_fields(index))) for index in declaration["indexes"]}
    for filtered in ("status", "channel", "assigneeId", "assigned"):
        # The inbox query (web/src/stores): filter by one field, newest activity first ("assigned" is
        # the unassigned filter, served by the query: shared/store/labels.py).
        assert ("conversations", ((filtered, "ASCENDING"), ("lastActivityAtMs", "DESCENDING"))) in composite
    # The label filter: labels array-contains one label id, newest activity first.
    assert ("conversations", (("labels", "CONTAINS"), ("lastActivityAtMs", "DESCENDING"))) in composite
    # shared.store.outbound_below: direction == "out" and statusRank < n.
    assert ("messages", (("direction", "ASCENDING"), ("statusRank", "ASCENDING"))) in composite
    # The embeddable chat (web/src/embed) and mysubs: my memberships across the app's channels (a
    # collection-group query on members), then each channel by id...
    assert ("members", (("userId", "ASCENDING"), ("tenantId", "ASCENDING"))) in composite
    scopes = {index["collectionGroup"]: index["queryScope"] for index in declaration["indexes"]}
    assert scopes["members"] == "COLLECTION_GROUP"
    # ...and a support channel's posts without the agents' notes (direction in ["in", "out"]).
    assert ("messages", (("direction", "ASCENDING"), ("createdAt", "DESCENDING"))) in composite


def test_field_overrides_exempt_large_fields_and_expire_data() -> None:
    overrides = {
        (override["collectionGroup"], override["fieldPath"]): override
        for override in json.loads(INDEXES_PATH.read_text())["fieldOverrides"]
    }
    for exempt in (("messages", "raw"), ("messages", "receivedAt")):
        assert overrides[exempt]["indexes"] == [], f"{exempt} must not be indexed"
    for expiring in (("quarantine", "expireAt"), ("parked", "expireAt")):
        assert overrides[expiring].get("ttl") is True, f"{expiring} needs a TTL policy"


def test_terraform_reads_the_index_declaration() -> None:
    assert (
        expression(root().locals["firestore_indexes"])
        == 'jsondecode(file("${path.module}/firestore.indexes.json"))'
    )
    index = root().resource("google_firestore_index", "composite")
    assert expression(index["for_each"]) == "local.composite_indexes"
    override = root().resource("google_firestore_field", "override")
    assert expression(override["for_each"]) == "local.field_overrides"
    assert (
        expression(dynamic(override, "ttl_config")["for_each"]) == "try(each.value.ttl, false) ? [true] : []"
    )


# --- module hygiene (terraform-google-modules layout) --------------------------------------------


@pytest.mark.parametrize("directory", module_directories(), ids=lambda path: path.name)
def test_module_has_standard_layout(directory: Path) -> None:
    for name in STANDARD_MODULE_FILES:
        assert (directory / name).is_file(), f"{directory.name}/{name} is missing"


@pytest.mark.parametrize("directory", [INFRA, *module_directories()], ids=lambda path: path.name)
def test_variables_are_typed_and_described(directory: Path) -> None:
    module = terraform_module(directory)
    assert module.variables or directory != INFRA
    for name, variable in module.variables.items():
        assert "type" in variable, f"{directory.name}: variable {name} has no type"
        assert variable.get("description"), f"{directory.name}: variable {name} has no description"
    for name, output in module.outputs.items():
        assert output.get("description"), f"{directory.name}: output {name} has no description"


def test_root_pins_google_providers() -> None:
    providers: dict[str, Any] = {}
    for settings in root().terraform:
        for entry in settings.get("required_providers", []):
            providers.update(entry)
    for name in ("google", "google-beta"):
        assert providers[name]["source"] == f"hashicorp/{name}"
        assert providers[name]["version"] == "~> 6.0"


def test_environments_set_every_required_variable() -> None:
    required = {name for name, variable in root().variables.items() if "default" not in variable}
    files = sorted(ENVIRONMENTS.glob("*.tfvars"))
    assert {path.stem for path in files} >= {"staging", "prod"}
    for path in files:
        with path.open() as handle:
            values = hcl2.load(handle, serialization_options=_HCL_OPTIONS)
        assert required <= set(values), f"{path.name} misses {sorted(required - set(values))}"
        assert values["environment"] == path.stem


def test_checkov_suppressions_are_justified() -> None:
    for path in all_terraform_files():
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                assert re.search(r"#checkov:skip=CKV2?_[A-Z]+_\d+:\S.{20,}", line), (
                    f"{path.relative_to(REPO)}: a checkov suppression needs a justification: {line.strip()}"
                )


def test_every_function_that_creates_cloud_tasks_may_and_no_other() -> None:
    """send_message queues replies; agent_api read receipts and snooze wake-ups; ingest answers to
    Telegram button presses and folds a hot conversation's summary (timers); chat_api queues each
    post's push job (push) and a hot channel's summary fold (timers); agent_api starts exports and
    deliver queues each export or retention run's next step (jobs) and an auto-reply's or a
    satisfaction survey's message on its channel's queue; ingest and agent_api queue agents'
    notifications (notify: a customer's message, an assignment); rate queues the reports' fold
    after a rating (timers). Each needs enqueuer on those queues and actAs on the tasks invoker."""
    enqueuers = root().locals["task_enqueuers"]
    assert set(enqueuers) == {"send_message", "agent_api", "ingest", "chat_api", "deliver", "rate"}
    assert expression(enqueuers["send_message"]) == "keys(local.topology.queues)"
    assert enqueuers["agent_api"] == ["whatsapp", "timers", "jobs", "notify"]
    assert enqueuers["ingest"] == ["telegram", "timers", "media", "notify"]
    assert enqueuers["chat_api"] == ["push", "timers"]
    assert enqueuers["deliver"] == ["jobs", "messenger", "instagram", "whatsapp", "telegram", "twilio"]
    assert enqueuers["rate"] == ["timers"]
    assert set(
        enqueuers["agent_api"] + enqueuers["ingest"] + enqueuers["chat_api"] + enqueuers["deliver"]
    ) <= set(topology()["queues"])
    grant = root().resource("google_cloud_tasks_queue_iam_member", "enqueuer")
    assert grant["role"] == "roles/cloudtasks.enqueuer"
    assert expression(grant["member"]) == "module.functions[each.value.function].service_account_member"
    acts_as = root().resource("google_service_account_iam_member", "enqueuer_acts_as_tasks_invoker")
    assert acts_as["role"] == "roles/iam.serviceAccountUser"
    assert "local.task_enqueuers" in expression(acts_as["for_each"])
