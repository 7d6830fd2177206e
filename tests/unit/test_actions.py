"""agent_api's module-served actions (shared/actions.py): every one resolves to a function of the
right shape, and only the invitation's two are served without a signed-in caller."""

from __future__ import annotations

import importlib
import inspect

from shared import actions


def _handler(target: str) -> inspect.Signature:
    module_name, function_name = target.split(":")
    return inspect.signature(getattr(importlib.import_module(module_name), function_name))


def test_only_the_invitation_is_served_without_a_caller() -> None:
    assert set(actions.PUBLIC_ACTIONS) == {"invitation", "accept_invitation"}
    assert not set(actions.PUBLIC_ACTIONS) & set(actions.ACTIONS)
    for target in actions.PUBLIC_ACTIONS.values():
        assert len(_handler(target).parameters) == 1, target


def test_every_signed_in_action_takes_the_caller_and_the_body() -> None:
    for name, target in actions.ACTIONS.items():
        positional = [
            p
            for p in _handler(target).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
        assert len(positional) == 2, f"{name} -> {target}"
