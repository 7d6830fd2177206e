"""The operator's tools, shared by the CLI (shared/cli.py) and the admin console's operations page
(agent_api actions in :mod:`shared.operations.console`): one implementation per action.

- ``quarantine``: replaying and discarding quarantined items, and which tenant an item belongs to;
- ``dead_letters``: the dead-letter review subscription: scan, replay, discard;
- ``masking``: personal data in raw payloads masked for display;
- ``alerts``: the conditions of infra/modules/monitoring's alert policies, evaluated on local data;
- ``console``: the agent_api actions of the operations page (admins only, audited).
"""
