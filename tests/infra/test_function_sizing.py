"""Every function of ``infra/topology.json`` has a size Cloud Run functions (2nd gen) accepts, and
Terraform deploys exactly that size.

A 2nd-gen function is a Cloud Run service, so Cloud Run's limits on an instance apply. The rules
below are Google's, as a table, each with the page it comes from:

* "Configure CPU limits" (cloud.google.com/run/docs/configuring/services/cpu and
  .../jobs/cpu): 0.08 to 8 vCPU; above 1 only whole numbers; a fraction of a vCPU requires
  concurrency 1, at least 0.5 vCPU above 512 MiB and at least 1 vCPU above 1 GiB.
* "Configure memory limits" (cloud.google.com/functions/docs/configuring/memory, the Cloud Run
  functions page): the memory each vCPU count allows (1 vCPU up to 4 GiB, 2 up to 8 GiB, 4: 2-16
  GiB, 6: 4-24 GiB, 8: 4-32 GiB) and the vCPU each memory size needs (128 MiB 0.083, 256 MiB
  0.167, 512 MiB 0.333, 1 GiB 0.583, 2 GiB 1, more than 4 GiB 2, more than 8 GiB 4, more than 16
  GiB 6, more than 24 GiB 8); at most 32 GiB. Some versions of the Cloud Run pages give 1 and 2
  vCPU a 512 MiB minimum (the second-generation execution environment): the table takes the
  stricter one.
* "Concurrency" (cloud.google.com/functions/docs/configuring/concurrency): more than one request
  per instance needs at least 1 vCPU; at most 1,000; for Python, THREADS equal to the concurrency.
* "Function timeout" (cloud.google.com/functions/docs/configuring/timeout): at most 3,600 s for
  HTTP functions, 540 s for event-driven ones.
* "Configure maximum instances" (cloud.google.com/functions/docs/configuring/max-instances):
  Cloud Run functions require a maximum; at least 1 (the module allows up to 1,000), and the
  minimum never above it.

Beside Google's rules, Switchboard's own: a Pub/Sub-pushed function answers within its
subscription's ack deadline, deliver can take every dispatch the Cloud Tasks queues may send at
once, and a webhook outlives the longest publish wait so it can still answer 503.

The module enforces the same rules as preconditions (``infra/modules/function/sizing.tf``); the
last tests evaluate those locals with terraform itself (no provider needed) and compare them with
this table, so the two cannot drift.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.infra.test_infrastructure import (
    INFRA,
    TOPOLOGY_PATH,
    block,
    child,
    expression,
    root,
)

FUNCTION_MODULE = INFRA / "modules" / "function"

# --- Google's rules ------------------------------------------------------------------------------

MIN_CPU = 0.08  # "Configure CPU limits": the minimum vCPU setting
MAX_CPU = 8
WHOLE_CPUS = (1, 2, 4, 6, 8)  # "Values greater than 1 must be integer values" (2nd gen offers these)
# vCPU -> (minimum, maximum) memory in MiB ("Configure memory limits", vCPU and memory table).
WHOLE_CPU_MEMORY_MIB: dict[int, tuple[int, int]] = {
    1: (512, 4 * 1024),
    2: (512, 8 * 1024),
    4: (2 * 1024, 16 * 1024),
    6: (4 * 1024, 24 * 1024),
    8: (4 * 1024, 32 * 1024),
}
# Memory up to (MiB) -> the vCPU it needs, for a fraction of a vCPU ("Required minimum CPUs").
FRACTIONAL_MIN_CPU_FOR_MEMORY: tuple[tuple[int, float], ...] = (
    (128, 0.083),
    (256, 0.167),
    (512, 0.333),
    (1024, 0.583),
)
FRACTIONAL_MAX_MEMORY_MIB = 1024  # "A minimum of 1 vCPU is needed to set a memory limit greater than 1GiB"
MAX_CONCURRENCY = 1000  # "Concurrency": the maximum concurrency value
MAX_TIMEOUT_SECONDS = {"http": 3600, "event": 540}  # "Function timeout"
MAX_INSTANCES = 1000  # the module's bound (modules/function/variables.tf)

# How each topology trigger reaches its function: Pub/Sub push and Cloud Tasks call the function's
# URL, so to Cloud Run functions all three are HTTP functions (none has an Eventarc trigger).
TRIGGER_KIND = {"http": "http", "pubsub_push": "http", "cloud_tasks": "http"}

# Cloud Tasks' dispatch deadline for HTTP targets when the task sets none (shared/tasks.py sets
# none): 10 minutes. deliver must finish before Cloud Tasks gives up on the attempt.
CLOUD_TASKS_DEFAULT_DISPATCH_DEADLINE_SECONDS = 600

MEMORY_UNITS_MIB = {"Mi": 1.0, "Gi": 1024.0, "M": 1e6 / 2**20, "G": 1e9 / 2**20}


def memory_mib(memory: str) -> float:
    """``512Mi`` -> 512.0, ``1Gi`` -> 1024.0, ``256M`` -> 244.1 (the units the module accepts)."""
    match = re.fullmatch(r"([0-9]+)(Mi|Gi|M|G)", memory)
    assert match, f"memory {memory!r} is not <number><Mi|Gi|M|G>"
    return int(match.group(1)) * MEMORY_UNITS_MIB[match.group(2)]


def size_problems(spec: dict[str, Any]) -> list[str]:
    """What Cloud Run functions would refuse in one topology function's size (empty: accepted)."""
    problems: list[str] = []
    cpu = float(spec["cpu"])
    memory = memory_mib(spec["memory"])
    concurrency = spec["concurrency"]
    if cpu < 1:
        if cpu < MIN_CPU:
            problems.append(f"{cpu} vCPU is below the minimum {MIN_CPU}")
        if concurrency != 1:
            problems.append(
                f"concurrency {concurrency} needs at least 1 vCPU (a fraction of a vCPU serves 1)"
            )
        if memory > FRACTIONAL_MAX_MEMORY_MIB:
            problems.append(f"{spec['memory']} needs at least 1 vCPU")
        for up_to, needed in FRACTIONAL_MIN_CPU_FOR_MEMORY:
            if memory <= up_to:
                if cpu < needed:
                    problems.append(f"{spec['memory']} needs at least {needed} vCPU")
                break
    elif cpu not in WHOLE_CPUS:
        problems.append(f"{cpu} vCPU: above 1 only {WHOLE_CPUS} (at most {MAX_CPU})")
    else:
        low, high = WHOLE_CPU_MEMORY_MIB[int(cpu)]
        if not low <= memory <= high:
            problems.append(f"{int(cpu)} vCPU takes {low}-{high} MiB, not {spec['memory']}")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        problems.append(f"concurrency {concurrency} is outside 1-{MAX_CONCURRENCY}")
    if not 1 <= spec["max_instances"] <= MAX_INSTANCES:
        problems.append(f"max_instances {spec['max_instances']} is outside 1-{MAX_INSTANCES}")
    if not 0 <= spec["min_instances"] <= spec["max_instances"]:
        problems.append(f"min_instances {spec['min_instances']} is not within 0-max_instances")
    limit = MAX_TIMEOUT_SECONDS[TRIGGER_KIND[spec["trigger"]]]
    if not 1 <= spec["timeout_seconds"] <= limit:
        problems.append(f"timeout {spec['timeout_seconds']} s is outside 1-{limit} s")
    return problems


@cache
def functions() -> dict[str, dict[str, Any]]:
    return json.loads(TOPOLOGY_PATH.read_text())["functions"]


def valid(**changes: Any) -> dict[str, Any]:
    """A size every rule accepts, changed as given."""
    spec = {
        "trigger": "http",
        "cpu": "1",
        "memory": "512Mi",
        "concurrency": 80,
        "min_instances": 0,
        "max_instances": 10,
        "timeout_seconds": 30,
    }
    return {**spec, **changes}


# Sizes Cloud Run functions refuse, and what each breaks; the first is the one issue 14 found
# (0.167 vCPU serving 20 requests at once).
REFUSED: dict[str, dict[str, Any]] = {
    "fractional cpu with concurrency": valid(cpu="0.167", memory="256Mi", concurrency=20),
    "fractional cpu over 1 GiB": valid(cpu="0.583", memory="2Gi", concurrency=1),
    "0.5 vcpu over 512 MiB needs 0.583": valid(cpu="0.5", memory="1Gi", concurrency=1),
    "256 MiB under 0.167 vcpu": valid(cpu="0.083", memory="256Mi", concurrency=1),
    "below the minimum cpu": valid(cpu="0.05", memory="128Mi", concurrency=1),
    "three vcpu": valid(cpu="3", memory="4Gi"),
    "nine vcpu": valid(cpu="9", memory="8Gi"),
    "4 vcpu under 2 GiB": valid(cpu="4", memory="1Gi"),
    "1 vcpu over 4 GiB": valid(cpu="1", memory="8Gi"),
    "1 vcpu under 512 MiB": valid(cpu="1", memory="256Mi"),
    "concurrency over 1000": valid(concurrency=1001),
    "no instance": valid(max_instances=0),
    "min above max": valid(min_instances=5, max_instances=2),
    "timeout over an hour": valid(timeout_seconds=3601),
}

ACCEPTED: dict[str, dict[str, Any]] = {
    "fractional, one at a time": valid(cpu="0.167", memory="256Mi", concurrency=1),
    "half a vcpu, 512 MiB": valid(cpu="0.5", memory="512Mi", concurrency=1),
    "0.583 vcpu, 1 GiB": valid(cpu="0.583", memory="1Gi", concurrency=1),
    "2 vcpu, 8 GiB": valid(cpu="2", memory="8Gi"),
    "8 vcpu, 32 GiB": valid(cpu="8", memory="32Gi", concurrency=1000),
    "a Pub/Sub-pushed function of an hour": valid(trigger="pubsub_push", timeout_seconds=3600),
}


# --- the table itself ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_the_rules_refuse_what_cloud_run_refuses(case: str) -> None:
    assert size_problems(REFUSED[case]), f"{case}: accepted, but Cloud Run functions refuse it"


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_the_rules_accept_what_cloud_run_accepts(case: str) -> None:
    assert size_problems(ACCEPTED[case]) == []


def test_memory_units() -> None:
    assert memory_mib("512Mi") == 512
    assert memory_mib("1Gi") == 1024
    assert round(memory_mib("256M"), 1) == 244.1


# --- topology.json -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(functions()))
def test_function_size_is_one_cloud_run_accepts(name: str) -> None:
    spec = functions()[name]
    assert spec["trigger"] in TRIGGER_KIND, f"{name}: unknown trigger {spec['trigger']!r}"
    assert isinstance(spec["cpu"], str) and isinstance(spec["memory"], str), (
        f"{name}: cpu and memory are strings, as the google provider takes them"
    )
    for field in ("concurrency", "min_instances", "max_instances", "timeout_seconds"):
        assert isinstance(spec[field], int), f"{name}: {field} must be an integer"
    assert size_problems(spec) == [], f"{name}: Cloud Run functions would refuse this size"


def test_no_function_is_event_driven() -> None:
    """Every trigger calls the function's URL (explicit push subscription, Cloud Tasks HTTP target),
    so the HTTP limits of the table apply; an Eventarc trigger would cap the timeout at 540 s."""
    function = child("function").resource("google_cloudfunctions2_function", "this")
    assert "event_trigger" not in function


def test_pushed_functions_answer_within_the_ack_deadline() -> None:
    subscriptions = json.loads(TOPOLOGY_PATH.read_text())["subscriptions"]
    pushed = {sub["push_function"]: sub for sub in subscriptions.values() if "push_function" in sub}
    assert pushed, "no push subscription in topology.json"
    for name, subscription in pushed.items():
        assert functions()[name]["trigger"] == "pubsub_push"
        # Past the ack deadline Pub/Sub sends the message again while the first attempt still runs.
        assert functions()[name]["timeout_seconds"] <= subscription["ack_deadline_seconds"], name


def test_deliver_takes_every_dispatch_the_queues_may_send() -> None:
    queues = json.loads(TOPOLOGY_PATH.read_text())["queues"]
    dispatches = sum(queue["max_concurrent_dispatches"] for queue in queues.values())
    for name, spec in functions().items():
        if spec["trigger"] != "cloud_tasks":
            continue
        # Short of that, Cloud Run answers 429 and every queued task spends attempts waiting.
        capacity = spec["concurrency"] * spec["max_instances"]
        assert capacity >= dispatches, f"{name}: {capacity} requests at once < {dispatches} dispatches"
        assert spec["timeout_seconds"] < CLOUD_TASKS_DEFAULT_DISPATCH_DEADLINE_SECONDS


def test_webhooks_outlive_the_longest_publish_wait() -> None:
    condition = expression(root().variables["publish_timeout_seconds"]["validation"][0]["condition"])
    longest = int(re.search(r"var\.publish_timeout_seconds <= ([0-9]+)", condition).group(1))
    webhooks = {name: spec for name, spec in functions().items() if name.startswith("webhook_")}
    assert webhooks
    for name, spec in webhooks.items():
        # The webhook must still be alive to answer 503 (the provider retries) when publishing times out.
        assert spec["timeout_seconds"] > longest, name


# --- Terraform deploys exactly these sizes -------------------------------------------------------

PASSED_THROUGH = {
    "available_memory": "each.value.memory",
    "available_cpu": "each.value.cpu",
    "max_instance_request_concurrency": "each.value.concurrency",
    "min_instance_count": "coalesce(var.min_instance_count_override, each.value.min_instances)",
    "max_instance_count": "each.value.max_instances",
    "timeout_seconds": "each.value.timeout_seconds",
}


@pytest.mark.parametrize("argument", sorted(PASSED_THROUGH))
def test_topology_size_reaches_the_function_resource(argument: str) -> None:
    call = root().modules["functions"]
    assert expression(call["for_each"]) == "local.topology.functions"
    assert expression(call[argument]) == PASSED_THROUGH[argument]
    service = block(child("function").resource("google_cloudfunctions2_function", "this"), "service_config")
    assert expression(service[argument]) == f"var.{argument}"


def test_gunicorn_has_a_thread_per_concurrent_request() -> None:
    module = child("function")
    service = block(module.resource("google_cloudfunctions2_function", "this"), "service_config")
    assert expression(service["environment_variables"]) == (
        "merge(var.environment_variables, local.server_environment)"
    )
    assert expression(module.locals["server_environment"]["THREADS"]) == (
        "tostring(var.max_instance_request_concurrency)"
    )


def test_the_module_refuses_sizes_before_google_does() -> None:
    function = child("function").resource("google_cloudfunctions2_function", "this")
    conditions = {
        expression(precondition["condition"]) for precondition in block(function, "lifecycle")["precondition"]
    }
    assert {"local.concurrency_ok", "local.cpu_memory_ok", "local.instances_ok"} <= conditions
    timeout = expression(child("function").variables["timeout_seconds"]["validation"][0]["condition"])
    assert f"<= {MAX_TIMEOUT_SECONDS['http']}" in timeout


# --- the module's rules, evaluated by terraform --------------------------------------------------

SIZING_VARIABLES = {
    "available_cpu": "string",
    "available_memory": "string",
    "max_instance_request_concurrency": "number",
    "min_instance_count": "number",
    "max_instance_count": "number",
}


@dataclass(frozen=True)
class Verdict:
    concurrency_ok: bool
    cpu_memory_ok: bool
    instances_ok: bool


def module_verdicts(cases: dict[str, dict[str, Any]], workdir: Path) -> dict[str, Verdict]:
    """Apply a provider-less configuration holding a copy of ``sizing.tf`` once per case and read
    its flags back: offline, nothing but terraform and the local state in ``workdir``."""
    sizing = workdir / "sizing"
    sizing.mkdir()
    shutil.copy(FUNCTION_MODULE / "sizing.tf", sizing / "sizing.tf")
    variables = "\n".join(f'variable "{name}" {{ type = {kind} }}' for name, kind in SIZING_VARIABLES.items())
    outputs = "\n".join(
        f'output "{name}" {{ value = local.{name} }}'
        for name in ("concurrency_ok", "cpu_memory_ok", "instances_ok")
    )
    (sizing / "io.tf").write_text(variables + "\n" + outputs + "\n")
    inputs = {
        name: {
            "available_cpu": spec["cpu"],
            "available_memory": spec["memory"],
            "max_instance_request_concurrency": spec["concurrency"],
            "min_instance_count": spec["min_instances"],
            "max_instance_count": spec["max_instances"],
        }
        for name, spec in cases.items()
    }
    (workdir / "cases.auto.tfvars.json").write_text(json.dumps({"cases": inputs}))
    (workdir / "main.tf").write_text(
        'variable "cases" { type = map(any) }\n'
        'module "size" {\n  source = "./sizing"\n  for_each = var.cases\n'
        + "".join(f"  {name} = each.value.{name}\n" for name in SIZING_VARIABLES)
        + "}\n"
        'output "verdicts" { value = { for name, size in module.size : name => size } }\n'
    )
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": "/dev/null",
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }
    for command in (["init", "-input=false"], ["apply", "-input=false", "-auto-approve"]):
        result = subprocess.run(
            ["terraform", *command], check=False, cwd=workdir, env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, f"terraform {command[0]}: {result.stdout}\n{result.stderr}"
    result = subprocess.run(
        ["terraform", "output", "-json", "verdicts"],
        check=False,
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return {name: Verdict(**flags) for name, flags in json.loads(result.stdout).items()}


def test_the_module_and_the_table_agree(tmp_path: Path) -> None:
    assert shutil.which("terraform"), "terraform is not installed (scripts/check-infra.sh needs it too)"
    # Timeouts are the variables' validation, not sizing.tf: leave them out of the comparison.
    cases = {
        **{f"topology {name}": spec for name, spec in functions().items()},
        **{f"refused {case}": spec for case, spec in REFUSED.items() if "timeout" not in case},
        **{f"accepted {case}": spec for case, spec in ACCEPTED.items()},
    }
    verdicts = module_verdicts(cases, tmp_path)
    assert set(verdicts) == set(cases)
    disagreements = {
        name: (verdicts[name], size_problems(spec))
        for name, spec in cases.items()
        if (verdicts[name] == Verdict(True, True, True)) != (size_problems(spec) == [])
    }
    assert disagreements == {}
