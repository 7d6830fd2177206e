"""The channel contract: every registered channel has everything the system needs, or this test
names what is missing (ARCHITECTURE.md, "Adding a channel").

For each kind in ``shared.channels.REGISTRY``:

- the adapter: a :class:`~shared.channels.base.ChannelAdapter` whose ``kind`` is its registry key,
  with every method of the protocol implemented under the protocol's parameter names and every
  attribute set to a value of the protocol's type (capabilities, acknowledgement, ...);
- ``webhook_<kind>`` in main.py, and in infra/topology.json that function and the outbound queue;
- the settings it reads, declared in shared/config.py and given to the functions by infra/main.tf;
- a fake of its API in the provider sandbox (``infra.local.provider_sandbox.default_apis``);
- a label in the dashboard (web/src/lib/types.ts);
- fixtures: ``tests/channels/fixtures/<kind>/`` or ``<kind>-*.json`` there, or published payloads
  in ``../shared/fixtures/providers/<kind>/``.

The lists that follow the registry (``ChannelKind``, the CLI's channel choices, the dashboard's
channel list) are checked to name exactly the registered kinds.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import typing
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from shared import channels, cli, config
from shared.channels.base import MEDIA_KINDS, Acknowledgement, Capabilities, ChannelAdapter, ConnectRequest
from shared.models import ChannelKind
from tests.support import PROVIDER_FIXTURES, REPO

OWN_FIXTURES = Path(__file__).resolve().parent / "fixtures"
TOPOLOGY = REPO / "infra" / "topology.json"
TERRAFORM = REPO / "infra" / "main.tf"
WEB_TYPES = REPO / "web" / "src" / "lib" / "types.ts"
# Channel kinds that are not providers: the in-app chat writes replies straight to Firestore.
NOT_PROVIDERS = ("app",)

CONNECT_OPTIONS = frozenset(field.name for field in fields(ConnectRequest)) - {"external_id"}
REPLY_WINDOW_RULES = typing.get_args(typing.get_type_hints(Capabilities)["reply_window"])

# The protocol's attributes, and what a value of each must be.
ATTRIBUTES: dict[str, Callable[[Any], bool]] = {
    "kind": lambda value: isinstance(value, str) and bool(value),
    "capabilities": lambda value: (
        isinstance(value, Capabilities)
        and value.reply_window in REPLY_WINDOW_RULES
        and value.media <= MEDIA_KINDS
    ),
    "acknowledgement": lambda value: isinstance(value, Acknowledgement),
    "environment": lambda value: isinstance(value, tuple) and all(isinstance(v, str) for v in value),
    "connect_options": lambda value: isinstance(value, frozenset) and value <= CONNECT_OPTIONS,
    "url_names_account": lambda value: isinstance(value, bool),
    "connect_note": lambda value: value is None or isinstance(value, str),
}
METHODS = tuple(
    name
    for name, member in vars(ChannelAdapter).items()
    if inspect.isfunction(member) and not name.startswith("_")
)


def adapter_class(kind: str) -> type:
    """The class the registry names for ``kind`` (imported, never instantiated)."""
    module, _, name = channels.REGISTRY[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def _parameters(function: Any) -> list[str]:
    return [name for name in inspect.signature(function).parameters if name != "self"]


def protocol_gaps(kind: str) -> list[str]:
    """What the adapter of ``kind`` lacks of the protocol."""
    try:
        cls = adapter_class(kind)
    except (ImportError, AttributeError) as exc:
        return [f"adapter: {channels.REGISTRY[kind]} cannot be imported ({exc})"]
    if not (isinstance(cls, type) and issubclass(cls, ChannelAdapter)):
        return [f"adapter: {cls!r} is not a shared.channels.base.ChannelAdapter"]
    gaps = [
        f"adapter: {cls.__name__}.{name}() is not implemented" for name in sorted(cls.__abstractmethods__)
    ]
    for name in METHODS:
        method = getattr(cls, name, None)
        if not callable(method):
            gaps.append(f"adapter: {cls.__name__}.{name}() is missing")
        elif (taken := _parameters(method)) != (expected := _parameters(getattr(ChannelAdapter, name))):
            gaps.append(f"adapter: {cls.__name__}.{name}() takes {taken}, not the protocol's {expected}")
    for name, valid in ATTRIBUTES.items():
        if not hasattr(cls, name):
            gaps.append(f"adapter: {cls.__name__}.{name} is not set")
        elif not valid(getattr(cls, name)):
            gaps.append(f"adapter: {cls.__name__}.{name} = {getattr(cls, name)!r} is not a valid {name}")
    if getattr(cls, "kind", kind) != kind:
        gaps.append(f"adapter: {cls.__name__}.kind is {cls.kind!r}, registered as {kind!r}")
    return gaps


def main_py_targets() -> set[str]:
    import main

    return {name for name in main.__all__ if callable(getattr(main, name, None))}


def terraform_settings() -> set[str]:
    """Every variable infra/main.tf gives the functions (plain values and secret references)."""
    return set(re.findall(r"^\s*([A-Z][A-Z0-9_]+)\s*=", TERRAFORM.read_text(), flags=re.MULTILINE))


def sandbox_channels() -> set[str]:
    from infra.local.provider_sandbox import default_apis

    return {kind for api in default_apis() for kind in api.channels}


def _ts_block(name: str) -> str:
    match = re.search(rf"export (?:const|type) {name}\b[^=]*=\s*(.*?);", WEB_TYPES.read_text(), re.DOTALL)
    assert match, f"{name} is not declared in {WEB_TYPES.relative_to(REPO)}"
    return match[1]


def web_labels() -> set[str]:
    """The channel kinds the dashboard has a label for (CHANNEL_LABELS in web/src/lib/types.ts)."""
    return set(re.findall(r"^\s*(\w+)\s*:", _ts_block("CHANNEL_LABELS"), re.MULTILINE))


def has_fixtures(kind: str) -> bool:
    folders = (OWN_FIXTURES / kind, PROVIDER_FIXTURES / kind)
    return any(any(folder.glob("*.json")) for folder in folders) or any(OWN_FIXTURES.glob(f"{kind}-*.json"))


def missing_pieces(kind: str) -> list[str]:
    """Everything the system needs for channel ``kind`` that is not there, each naming where."""
    missing = protocol_gaps(kind)
    function = f"webhook_{kind}"
    if function not in main_py_targets():
        missing.append(f"main.py: no {function} target")
    topology = json.loads(TOPOLOGY.read_text())
    if function not in topology["functions"]:
        missing.append(f"infra/topology.json: no function {function}")
    if kind not in topology["queues"]:
        missing.append(f"infra/topology.json: no outbound queue {kind!r}")
    declared = {variable.name for variable in config.ENVIRONMENT}
    for name in getattr(_safe_class(kind), "environment", ()):
        if name not in declared:
            missing.append(f"shared/config.py: setting {name} is not declared in ENVIRONMENT")
        elif name not in terraform_settings():
            missing.append(f"infra/main.tf: setting {name} is not given to the functions")
    if kind not in sandbox_channels():
        missing.append(f"infra/local/provider_sandbox.py: no sandbox API serves {kind!r} (default_apis)")
    if kind not in web_labels():
        missing.append(f"web/src/lib/types.ts: no CHANNEL_LABELS entry for {kind!r}")
    if not has_fixtures(kind):
        missing.append(
            f"fixtures: none in tests/channels/fixtures/{kind}/ (or {kind}-*.json) "
            f"or ../shared/fixtures/providers/{kind}/"
        )
    return missing


def _safe_class(kind: str) -> Any:
    try:
        return adapter_class(kind)
    except (ImportError, AttributeError):
        return None


@pytest.mark.parametrize("kind", channels.kinds())
def test_every_registered_channel_has_everything_it_needs(kind: str) -> None:
    assert missing_pieces(kind) == []


@pytest.mark.parametrize("kind", channels.kinds())
def test_the_registry_builds_each_adapter(kind: str) -> None:
    adapter = channels.adapter(kind)
    assert isinstance(adapter, ChannelAdapter) and adapter.kind == kind
    assert channels.capabilities(kind) is adapter.capabilities


# --- the check itself -----------------------------------------------------------------------------------


class HalfAdapter(ChannelAdapter):
    """A channel someone started to add: it parses, but cannot send, and says nothing else."""

    kind = "pigeon"
    environment = ("PIGEON_LOFT_URL",)

    def verify(self, headers: Any, body: bytes, url: str) -> None: ...

    def split(self, body: bytes) -> list[dict[str, Any]]:
        return []

    def parse_item(self, item: dict[str, Any]) -> list[Any]:
        return []


def test_a_half_added_channel_is_told_every_missing_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(channels.REGISTRY, "pigeon", f"{__name__}:HalfAdapter")
    missing = missing_pieces("pigeon")
    assert missing == [
        "adapter: HalfAdapter.account() is not implemented",
        "adapter: HalfAdapter.send() is not implemented",
        "adapter: HalfAdapter.split() takes ['body'], not the protocol's ['body', 'url']",
        "adapter: HalfAdapter.capabilities is not set",
        "main.py: no webhook_pigeon target",
        "infra/topology.json: no function webhook_pigeon",
        "infra/topology.json: no outbound queue 'pigeon'",
        "shared/config.py: setting PIGEON_LOFT_URL is not declared in ENVIRONMENT",
        "infra/local/provider_sandbox.py: no sandbox API serves 'pigeon' (default_apis)",
        "web/src/lib/types.ts: no CHANNEL_LABELS entry for 'pigeon'",
        "fixtures: none in tests/channels/fixtures/pigeon/ (or pigeon-*.json) "
        "or ../shared/fixtures/providers/pigeon/",
    ]


def test_an_adapter_that_cannot_be_imported_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(channels.REGISTRY, "pigeon", "shared.channels.pigeon:PigeonAdapter")
    assert missing_pieces("pigeon")[0].startswith(
        "adapter: shared.channels.pigeon:PigeonAdapter cannot be imported"
    )


# --- the lists that follow the registry -----------------------------------------------------------------


def test_channel_kind_is_the_registry_and_the_in_app_chat() -> None:
    assert typing.get_args(ChannelKind) == (*channels.kinds(), *NOT_PROVIDERS)


def test_the_cli_offers_the_registered_channels() -> None:
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    parse_channel = next(a for a in commands["parse"]._actions if a.dest == "channel")
    connect_kind = next(a for a in commands["connect-channel"]._actions if a.dest == "kind")
    assert tuple(parse_channel.choices) == channels.kinds()
    assert tuple(connect_kind.choices) == channels.kinds()


def test_the_dashboard_lists_exactly_the_registered_channels() -> None:
    expected = {*channels.kinds(), *NOT_PROVIDERS}
    assert web_labels() == expected, "CHANNEL_LABELS in web/src/lib/types.ts"
    assert set(re.findall(r'"(\w+)"', _ts_block("ChannelKind"))) == expected, "ChannelKind in types.ts"
    assert set(re.findall(r'"(\w+)"', _ts_block("CHANNEL_KINDS"))) == set(channels.kinds()), "CHANNEL_KINDS"
