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
    "test_channel": "shared.channel_console:test_channel",
    "connect_channel": "shared.channel_console:connect_channel",
    "rotate_channel": "shared.channel_console:rotate_channel",
    "reconnect_channel": "shared.channel_console:reconnect_channel",
    "disconnect_channel": "shared.channel_console:disconnect_channel",
    "contact_merge": "shared.contacts:merge",
    "contact_split": "shared.contacts:split",
    "contact_note_add": "shared.contacts:add_note",
    "contact_note_delete": "shared.contacts:delete_note",
    "contact_attributes_set": "shared.contacts:set_attributes",
    "contact_attribute_define": "shared.contacts:define_attribute",
    "contact_attribute_delete": "shared.contacts:delete_attribute",
    # The team page (shared/team.py): owners and admins.
    "team": "shared.team:agent_action",
    "invite_agent": "shared.team:agent_action",
    "set_role": "shared.team:agent_action",
    "deactivate_agent": "shared.team:agent_action",
    "reactivate_agent": "shared.team:agent_action",
    "revoke_invitation": "shared.team:agent_action",
    "export_start": "shared.exports:start_action",
    "export_link": "shared.exports:link_action",
    "contact_export": "shared.contact_data:export_action",
    "contact_erase": "shared.erasure:erase_action",
    "notification_settings": "shared.notifications:get_settings",
    "save_notification_settings": "shared.notifications:save_settings",
    "register_push_token": "shared.notifications:register_token",
    "unregister_push_token": "shared.notifications:register_token",
    "mark_notifications_read": "shared.notifications:mark_read",
    "presence": "shared.routing:presence_action",
    "routing_overview": "shared.routing:overview_action",
    "save_team": "shared.routing:save_team_action",
    "delete_team": "shared.routing:delete_team_action",
    "route_channel": "shared.routing:route_channel_action",
    "set_capacity": "shared.routing:capacity_action",
    "reports": "shared.reports.api:agent_action",
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

# Actions served WITHOUT a signed-in caller: the body carries its own credential (an invitation's
# token), and the function takes only the body. Keep this list short.
PUBLIC_ACTIONS: dict[str, str] = {
    "invitation": "shared.team:public_action",
    "accept_invitation": "shared.team:public_action",
}


def named(body: bytes, table: dict[str, str] = ACTIONS) -> str | None:
    """The ``action`` a JSON object body names when it is one of ``table`` (ACTIONS), else None
    (bodies that are not JSON objects are left to the caller's own validation)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    action = data.get("action") if isinstance(data, dict) else None
    return action if isinstance(action, str) and action in table else None


def dispatch(caller: Caller, action: str, body: bytes) -> dict[str, Any]:
    """Serve ``action`` (one of ACTIONS) for ``caller``."""
    module_name, function_name = ACTIONS[action].split(":")
    handler = getattr(importlib.import_module(module_name), function_name)
    data = json.loads(body)
    answer: dict[str, Any] = handler(caller, data)
    return answer


def dispatch_public(action: str, body: bytes) -> dict[str, Any]:
    """Serve ``action`` (one of PUBLIC_ACTIONS), which needs no caller."""
    module_name, function_name = PUBLIC_ACTIONS[action].split(":")
    handler = getattr(importlib.import_module(module_name), function_name)
    answer: dict[str, Any] = handler(json.loads(body))
    return answer
