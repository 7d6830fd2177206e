"""Teams, routing, auto-assignment with capacity, and presence (issue 17, part 5).

- A team groups agents (``memberIds``); each channel may be routed to one team (``teamId`` on the
  channel). A team with ``autoAssign`` gets each new conversation of its channels assigned, round
  robin, to a member who is online and under capacity (``capacity``: max open or pending
  conversations, set per agent by an admin; none set means :data:`DEFAULT_CAPACITY`).
- Round robin without a cursor document: the member whose last auto-assignment is the oldest
  (``lastAssignedAtUs`` on the agent's entry, written by each assignment) goes first, ties in the
  team's member order. A team-wide cursor would be one document written by every new conversation
  (Firestore: ~1 write/s per document); here each agent's entry takes its share, so a team of N
  agents sustains about N new conversations a second, and a message in an existing conversation
  costs nothing: ingest routes only the message whose ``messageCount`` Increment answered 1.
- Presence: the dashboard sends a heartbeat (agent_api ``presence``) every
  :data:`HEARTBEAT_SECONDS` with the state the agent chose (online or away; offline when they
  sign out). No server process marks anyone offline: ``presence.lastSeenMs`` older than
  :data:`PRESENCE_STALE_MS` counts as offline, here at assignment time and in the dashboard's dots.
- Nobody available: the conversation waits unassigned (``waitingTeamId``). It is assigned as soon
  as capacity frees: an agent resolves (or snoozes, or hands on) a conversation, comes online, gets
  more capacity, or the team gains a member or turns auto-assignment on (:func:`drain`).
- Every assignment is one transaction (``store.claim_conversation`` through
  ``conversations.assign_automatically``): a conversation is assigned once, and an agent's open load
  never exceeds their capacity, however many ingests race.
"""

from __future__ import annotations

import logging
import random
import re
import time
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared import audit, store
from shared.auth import Caller, require_admin
from shared.errors import Refused

log = logging.getLogger(__name__)

DEFAULT_CAPACITY = 10
MAX_CAPACITY = 500
HEARTBEAT_SECONDS = 30
PRESENCE_STALE_MS = 90_000  # three missed heartbeats: offline
PRESENCE_STATES = ("online", "away", "offline")
MAX_TEAM_MEMBERS = 100
CHOICE_ROUNDS = 40  # choose again at most this often when racing assigners moved the order
TEAM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


# --- presence ------------------------------------------------------------------------------------


def now_ms() -> int:
    return int(time.time() * 1000)


def presence_of(agent: dict[str, Any], at_ms: int | None = None) -> str:
    """An agent's presence as the team sees it: offline once the heartbeat is stale."""
    presence = agent.get("presence") or {}
    state = presence.get("state")
    seen = presence.get("lastSeenMs")
    if state not in ("online", "away") or not isinstance(seen, int | float):
        return "offline"
    if (now_ms() if at_ms is None else at_ms) - seen > PRESENCE_STALE_MS:
        return "offline"
    return str(state)


def capacity_of(agent: dict[str, Any]) -> int:
    capacity = agent.get("capacity")
    return int(capacity) if isinstance(capacity, int) else DEFAULT_CAPACITY


def _available(agent: dict[str, Any]) -> bool:
    return agent.get("active") is not False and presence_of(agent) == "online"


def heartbeat(caller: Caller, state: str) -> dict[str, Any]:
    """Record the caller's presence; coming online hands them waiting conversations."""
    if state not in PRESENCE_STATES:
        raise Refused("invalid_presence", f"presence is one of {', '.join(PRESENCE_STATES)}", 422)
    before = store.get_agent(caller.tenant_id, caller.uid) or {}
    seen = now_ms()
    store.put_agent(caller.tenant_id, caller.uid, {"presence": {"state": state, "lastSeenMs": seen}})
    if state == "online" and presence_of(before, seen) != "online":
        capacity_freed(caller.tenant_id, caller.uid)
    return {"state": state, "lastSeenMs": seen, "heartbeatSeconds": HEARTBEAT_SECONDS}


# --- auto-assignment -----------------------------------------------------------------------------


def route_new_conversation(tenant_id: str, channel_id: str, conversation_id: str) -> str | None:
    """Ingest's hook for a conversation's first message: assign it within the channel's team, or
    leave it waiting. Returns the assignee (None: unrouted or waiting). Never raises: a failure
    leaves the conversation unassigned in the inbox, as without routing, and is logged."""
    try:
        channel = store.get_channel(tenant_id, channel_id) or {}
        team_id = channel.get("teamId")
        if not team_id:
            return None
        team = store.get_team(tenant_id, team_id)
        if team is None or not team.get("autoAssign"):
            return None
        assignee = assign_in_team(tenant_id, team, conversation_id)
        if assignee is None and store.mark_waiting(tenant_id, conversation_id, team_id, now_ms()):
            # Capacity may have freed while we looked, before the conversation was marked waiting.
            drain(tenant_id, team_id, team)
        return assignee
    except Exception:  # routing must never fail the message that was stored
        log.exception("auto-assignment failed", extra={"tenantId": tenant_id, "id": conversation_id})
        return None


def assign_in_team(tenant_id: str, team: dict[str, Any], conversation_id: str) -> str | None:
    """Assign a conversation to the team's next available member (round robin, under capacity);
    the assignee, or None when nobody can take it or it was taken meanwhile."""
    members = [uid for uid in team.get("memberIds") or [] if isinstance(uid, str)]
    order = {uid: index for index, uid in enumerate(members)}
    for round_ in range(CHOICE_ROUNDS):
        agents = store.get_agents(tenant_id, members)
        candidates = sorted(
            (uid for uid, agent in agents.items() if _available(agent)),
            key=lambda uid: (int(agents[uid].get("lastAssignedAtUs") or 0), order[uid]),
        )
        if round_:
            # Racing assigners all see the same order: after a collision, spread them over the
            # least recently assigned half (each still gets the next agent it can, so the spread
            # stays even), a moment apart.
            time.sleep(random.uniform(0, 0.02 * min(round_, 5)))
            head = candidates[: max(1, (len(candidates) + 1) // 2)]
            random.shuffle(head)
            candidates[: len(head)] = head
        moved = False
        for uid in candidates:
            expected = int(agents[uid].get("lastAssignedAtUs") or 0)

            def check(
                agent: dict[str, Any], expected: int = expected, strict: bool = round_ < 2
            ) -> int | str:
                if not _available(agent):
                    return "unavailable"
                if strict and int(agent.get("lastAssignedAtUs") or 0) != expected:
                    # Assigned to meanwhile: someone else may be next now. Only in the first
                    # rounds: under a burst, any available agent with room beats choosing forever.
                    return "moved"
                return capacity_of(agent)

            claim = _claim(tenant_id, conversation_id, uid, check)
            if claim.outcome == "assigned":
                return uid
            if claim.outcome == "taken":
                return None
            if claim.outcome in ("moved", "contended"):
                moved = True
                break
        if not moved:
            return None
    log.warning("auto-assignment kept colliding", extra={"tenantId": tenant_id, "id": conversation_id})
    return None


def _claim(tenant_id: str, conversation_id: str, uid: str, check: Any) -> store.Claim:
    from shared import conversations

    return conversations.assign_automatically(tenant_id, conversation_id, uid, check, time.time_ns() // 1000)


def drain(tenant_id: str, team_id: str, team: dict[str, Any] | None = None) -> int:
    """Assign a team's waiting conversations, longest waiting first, while its members have room;
    how many were assigned."""
    team = team if team is not None else store.get_team(tenant_id, team_id)
    if team is None or not team.get("autoAssign"):
        return 0
    assigned = 0
    while True:
        waiting = store.waiting_conversations(tenant_id, team_id)
        if not waiting:
            return assigned
        progressed = False
        for conversation_id in waiting:
            if assign_in_team(tenant_id, team, conversation_id) is not None:
                assigned += 1
                progressed = True
                continue
            current = store.get_conversation(tenant_id, conversation_id) or {}
            if current.get("waitingTeamId") == team_id and not current.get("assigneeId"):
                return assigned  # still waiting: nobody has room
            progressed = True  # it was taken or resolved meanwhile (its mark is cleared)
        if not progressed:
            return assigned


def capacity_freed(tenant_id: str, uid: str) -> int:
    """An agent may have room (resolved a conversation, came online, got more capacity): drain
    the waiting conversations of their auto-assigning teams. Never raises (the agent's own action
    succeeded already); how many were assigned."""
    try:
        return sum(
            drain(tenant_id, team_id, team)
            for team_id, team in store.teams_of_agent(tenant_id, uid).items()
            if team.get("autoAssign")
        )
    except Exception:  # the agent's own action succeeded already
        log.exception("draining waiting conversations failed", extra={"tenantId": tenant_id, "uid": uid})
        return 0


# --- administration (admins only; each change recorded in the audit log) -------------------------


def overview(caller: Caller) -> dict[str, Any]:
    """The Teams & routing page: teams, agents (capacity, presence, open load), channels' teams."""
    require_admin(caller, "routing")
    tenant = caller.tenant_id
    teams = store.list_teams(tenant)
    agents = dict(store.list_agents(tenant))
    at = now_ms()
    return {
        "teams": sorted(
            (
                {
                    "id": team_id,
                    "name": team.get("name", ""),
                    "memberIds": list(team.get("memberIds") or []),
                    "autoAssign": bool(team.get("autoAssign")),
                }
                for team_id, team in teams.items()
            ),
            key=lambda team: str(team["name"]).lower(),
        ),
        "agents": sorted(
            (
                {
                    "id": uid,
                    "name": agent.get("name") or agent.get("email") or uid,
                    "email": agent.get("email"),
                    "role": agent.get("role"),
                    "capacity": capacity_of(agent),
                    "presence": presence_of(agent, at),
                    "openLoad": store.agent_open_load(tenant, uid),
                }
                for uid, agent in agents.items()
            ),
            key=lambda agent: str(agent["name"]).lower(),
        ),
        "channels": [
            {
                "id": channel_id,
                "name": channel.get("name") or channel_id,
                "kind": channel.get("kind"),
                "teamId": channel.get("teamId"),
            }
            for _, channel_id, channel in store.list_channels(tenant)
        ],
        "defaultCapacity": DEFAULT_CAPACITY,
    }


def save_team(
    caller: Caller, team_id: str | None, name: str, member_ids: list[str], auto_assign: bool
) -> dict[str, Any]:
    """Create (no id) or update a team; members must be agents of the workspace."""
    require_admin(caller, "teams")
    name = name.strip()
    if not name:
        raise Refused("team_name_required", "a team needs a name", 422)
    members = list(dict.fromkeys(member_ids))
    known = store.get_agents(caller.tenant_id, members)
    unknown = [uid for uid in members if uid not in known]
    if unknown:
        raise Refused("unknown_agent", f"not agents of this workspace: {', '.join(unknown)}", 422)
    before = None
    if team_id is None:
        team_id = uuid.uuid4().hex[:20]
    else:
        if not TEAM_ID.match(team_id):
            raise Refused("team_not_found", "no such team", 404)
        before = store.get_team(caller.tenant_id, team_id)
        if before is None:
            raise Refused("team_not_found", "no such team", 404)
        before = {k: before.get(k) for k in ("name", "memberIds", "autoAssign")}
    after = {"name": name, "memberIds": members, "autoAssign": auto_assign}
    store.put_team(caller.tenant_id, team_id, after)
    target = {"kind": "team", "id": team_id, "name": name}
    audit.record(caller, "team.save", target, before=before, after=after)
    if auto_assign:
        drain(caller.tenant_id, team_id, after)
    return {"id": team_id, **after}


def delete_team(caller: Caller, team_id: str) -> dict[str, Any]:
    """Delete a team; its channels are routed to nobody (their new conversations stay unassigned)."""
    require_admin(caller, "teams")
    before = store.get_team(caller.tenant_id, team_id) if TEAM_ID.match(team_id) else None
    if before is None:
        raise Refused("team_not_found", "no such team", 404)
    channels = store.delete_team(caller.tenant_id, team_id)
    audit.record(
        caller,
        "team.delete",
        {"kind": "team", "id": team_id, "name": before.get("name", "")},
        before={k: before.get(k) for k in ("name", "memberIds", "autoAssign")},
        details={"unroutedChannels": channels},
    )
    return {"id": team_id, "unroutedChannels": channels}


def route_channel(caller: Caller, channel_id: str, team_id: str | None) -> dict[str, Any]:
    """Route a channel's new conversations to a team (None: to nobody)."""
    require_admin(caller, "routing")
    channel = store.get_channel(caller.tenant_id, channel_id)
    if channel is None:
        raise Refused("channel_not_found", "no such channel", 404)
    team = None
    if team_id is not None:
        team = store.get_team(caller.tenant_id, team_id) if TEAM_ID.match(team_id) else None
        if team is None:
            raise Refused("team_not_found", "no such team", 404)
    store.set_channel_team(caller.tenant_id, channel_id, team_id)
    audit.record(
        caller,
        "channel.route",
        {"kind": "channel", "id": channel_id, "name": channel.get("name") or channel_id},
        before=channel.get("teamId"),
        after=team_id,
    )
    return {"channelId": channel_id, "teamId": team_id}


def set_capacity(caller: Caller, agent_id: str, capacity: int) -> dict[str, Any]:
    """Set an agent's capacity (max open conversations); more room hands them waiting ones."""
    require_admin(caller, "capacity")
    if not 0 <= capacity <= MAX_CAPACITY:
        raise Refused("invalid_capacity", f"capacity is between 0 and {MAX_CAPACITY}", 422)
    agent = store.get_agent(caller.tenant_id, agent_id)
    if agent is None:
        raise Refused("unknown_agent", "that agent does not belong to this workspace", 422)
    before = capacity_of(agent)
    store.put_agent(caller.tenant_id, agent_id, {"capacity": capacity})
    audit.record(
        caller,
        "agent.capacity",
        {"kind": "agent", "id": agent_id, "name": agent.get("name") or agent.get("email") or agent_id},
        before=before,
        after=capacity,
    )
    if capacity > before:
        capacity_freed(caller.tenant_id, agent_id)
    return {"agentId": agent_id, "capacity": capacity}


# --- agent_api actions (shared/actions.py) -------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str


class PresenceBody(_Body):
    state: str = Field(max_length=16)


class TeamBody(_Body):
    teamId: str | None = Field(default=None, max_length=64)
    name: str = Field(min_length=1, max_length=80)
    memberIds: list[str] = Field(default_factory=list, max_length=MAX_TEAM_MEMBERS)
    autoAssign: bool = False


class TeamIdBody(_Body):
    teamId: str = Field(min_length=1, max_length=64)


class ChannelRouteBody(_Body):
    channelId: str = Field(min_length=1, max_length=200)
    teamId: str | None = Field(default=None, max_length=64)


class CapacityBody(_Body):
    agentId: str = Field(min_length=1, max_length=128)
    capacity: int


def presence_action(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``presence`` {state}: the dashboard's heartbeat (any staff member, for themself)."""
    return heartbeat(caller, PresenceBody.model_validate(body).state)


def overview_action(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``routing_overview``."""
    _Body.model_validate(body)
    return overview(caller)


def save_team_action(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``save_team`` {teamId?, name, memberIds, autoAssign}."""
    request = TeamBody.model_validate(body)
    return save_team(caller, request.teamId, request.name, list(request.memberIds), request.autoAssign)


def delete_team_action(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``delete_team`` {teamId}."""
    return delete_team(caller, TeamIdBody.model_validate(body).teamId)


def route_channel_action(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``route_channel`` {channelId, teamId (null: none)}."""
    request = ChannelRouteBody.model_validate(body)
    return route_channel(caller, request.channelId, request.teamId)


def capacity_action(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``set_capacity`` {agentId, capacity}."""
    request = CapacityBody.model_validate(body)
    return set_capacity(caller, request.agentId, request.capacity)
