"""agent_api actions that their own module validates and serves: the admin console's pages, the
audit log, and the team features that came after the inbox's first actions (functions/send.py
keeps the original conversation actions in its ``AgentAction`` model).

Each entry maps an action name to ``"module:function"``; the function takes the verified caller and
the request body as a dict, validates it with its own pydantic model (a ValidationError is the
caller's 400 ``invalid_request``), enforces the caller's role, and returns the JSON answer. The
module is imported on first use, so an agent_api instance loads only what it is asked for.
"""

from __future__ import annotations

import importlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from shared.auth import Caller

ACTIONS: dict[str, str] = {
    "audit_log": "shared.audit:agent_action",
    "operations": "shared.operations.console:overview",
    "quarantine_reveal": "shared.operations.console:quarantine_reveal",
    "quarantine_replay": "shared.operations.console:quarantine_replay",
    "quarantine_replay_all": "shared.operations.console:quarantine_replay_all",
    "quarantine_discard": "shared.operations.console:quarantine_discard",
    "deadletter_reveal": "shared.operations.console:deadletter_reveal",
    "deadletter_replay": "shared.operations.console:deadletter_replay",
    "deadletter_discard": "shared.operations.console:deadletter_discard",
    "workspace_settings": "shared.workspace:agent_action",
}


def named(body: bytes) -> str | None:
    """The ``action`` a JSON object body names when it is one of ACTIONS, else None (bodies that
    are not JSON objects are left to the caller's own validation)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    action = data.get("action") if isinstance(data, dict) else None
    return action if isinstance(action, str) and action in ACTIONS else None


def dispatch(caller: Caller, action: str, body: bytes) -> dict[str, Any]:
    """Serve ``action`` (one of ACTIONS) for ``caller``."""
    module_name, function_name = ACTIONS[action].split(":")
    handler = getattr(importlib.import_module(module_name), function_name)
    data = json.loads(body)
    answer: dict[str, Any] = handler(caller, data)
    return answer
