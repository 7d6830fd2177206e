"""Teams, routing and auto-assignment in Firestore (issue 17, part 5).

    tenants/{t}/teams/{teamId}              name, memberIds [uid, ...], autoAssign, updatedAt
    tenants/{t}/channels/{c}.teamId         the team the channel's new conversations go to
    tenants/{t}/agents/{uid}                capacity (max open conversations), presence {state,
                                            lastSeenMs}, lastAssignedAtUs (round-robin order)
    tenants/{t}/conversations/{c}           waitingTeamId, waitingSinceMs: unassigned, waiting for
                                            a member of that team to have room

An assignment is one optimistic transaction (:func:`claim_conversation`) on two small documents:
the conversation (so it is assigned once) and the agent's directory entry, which every
auto-assignment to that agent writes (``lastAssignedAtUs``). The agent's open load is counted by an
aggregation query *after* the agent document was read; the commit is preconditioned on both
versions read: two assigners counting the same agent at once both write that document, so one
commit fails and is decided again, counting the other's assignment. No team-wide cursor exists:
each agent document takes its own share of a team's new conversations, so a team of N agents
sustains about N new conversations a second (Firestore: ~1 write/s per document).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.store._client import _rpc, client, conversation_ref, delete_field, message_ref, server_time

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.firestore import CollectionReference, DocumentReference

OPEN_STATUSES = ("open", "pending")  # what counts against an agent's capacity
TEAM_LIST_LIMIT = 200
WAITING_PAGE = 25
TRANSACTION_ATTEMPTS = 5
# What a claim writes: (the conversation's update, the activity line's id, the line).
_Built = tuple[dict[str, Any], str | None, dict[str, Any] | None]


def _teams(tenant_id: str) -> CollectionReference:
    return client().collection("tenants").document(tenant_id).collection("teams")


def _agent_ref(tenant_id: str, uid: str) -> DocumentReference:
    return client().collection("tenants").document(tenant_id).collection("agents").document(uid)


def _conversations(tenant_id: str) -> CollectionReference:
    return client().collection("tenants").document(tenant_id).collection("conversations")


# --- teams ---------------------------------------------------------------------------------------


def list_teams(tenant_id: str) -> dict[str, dict[str, Any]]:
    """A tenant's teams by id (a small set)."""
    return {s.id: s.to_dict() or {} for s in _teams(tenant_id).limit(TEAM_LIST_LIMIT).stream(**_rpc())}


def get_team(tenant_id: str, team_id: str) -> dict[str, Any] | None:
    """A team's document, or None."""
    snapshot = _teams(tenant_id).document(team_id).get(**_rpc())
    return snapshot.to_dict() if snapshot.exists else None


def put_team(tenant_id: str, team_id: str, data: dict[str, Any]) -> None:
    """Create or replace a team's fields (name, memberIds, autoAssign)."""
    _teams(tenant_id).document(team_id).set({**data, "updatedAt": server_time()}, merge=True, **_rpc())


def delete_team(tenant_id: str, team_id: str) -> list[str]:
    """Delete a team and take it off the channels routed to it (one batch); the channels' ids."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    db = client()
    channels = (
        db.collection("tenants")
        .document(tenant_id)
        .collection("channels")
        .where(filter=FieldFilter("teamId", "==", team_id))
        .stream(**_rpc())
    )
    batch = db.batch()
    routed = []
    for snapshot in channels:
        batch.update(snapshot.reference, {"teamId": delete_field()})
        routed.append(snapshot.id)
    batch.delete(_teams(tenant_id).document(team_id))
    batch.commit(**_rpc())
    return routed


def teams_of_agent(tenant_id: str, uid: str) -> dict[str, dict[str, Any]]:
    """The teams an agent belongs to, by id."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = _teams(tenant_id).where(filter=FieldFilter("memberIds", "array_contains", uid))
    return {s.id: s.to_dict() or {} for s in query.limit(TEAM_LIST_LIMIT).stream(**_rpc())}


def set_channel_team(tenant_id: str, channel_id: str, team_id: str | None) -> None:
    """Route a channel's new conversations to a team (None: to nobody, they stay unassigned)."""
    ref = client().collection("tenants").document(tenant_id).collection("channels").document(channel_id)
    ref.set({"teamId": team_id if team_id else delete_field()}, merge=True, **_rpc())


# --- agents --------------------------------------------------------------------------------------


def get_agents(tenant_id: str, uids: list[str]) -> dict[str, dict[str, Any]]:
    """These agents' directory entries (one batched read), by uid; the missing are left out."""
    if not uids:
        return {}
    snapshots = client().get_all([_agent_ref(tenant_id, uid) for uid in uids], **_rpc())
    return {s.id: s.to_dict() or {} for s in snapshots if s.exists}


def agent_open_load(tenant_id: str, uid: str, transaction: Any = None) -> int:
    """How many open or pending conversations are assigned to an agent (one aggregation query)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        _conversations(tenant_id)
        .where(filter=FieldFilter("assigneeId", "==", uid))
        .where(filter=FieldFilter("status", "in", list(OPEN_STATUSES)))
    )
    result = query.count(alias="n").get(transaction=transaction, **_rpc())
    return int(result[0][0].value)


# --- waiting conversations -----------------------------------------------------------------------


def mark_waiting(tenant_id: str, conversation_id: str, team_id: str, since_ms: int) -> bool:
    """Leave a new conversation waiting for room in a team, if it is still unassigned and open (a
    racing assigner may have given it to someone meanwhile); whether it was marked."""
    from google.api_core.exceptions import FailedPrecondition, NotFound

    db = client()
    ref = conversation_ref(tenant_id, conversation_id)
    for _ in range(TRANSACTION_ATTEMPTS):
        snapshot = ref.get(**_rpc())
        data = (snapshot.to_dict() or {}) if snapshot.exists else {}
        if not snapshot.exists or data.get("assigneeId") or data.get("status") == "resolved":
            return False
        try:
            ref.update(
                {"waitingTeamId": team_id, "waitingSinceMs": since_ms},
                option=db.write_option(last_update_time=snapshot.update_time),
                **_rpc(),
            )
        except (FailedPrecondition, NotFound):
            continue  # changed meanwhile (a message, an assignment): look again
        return True
    return False


def waiting_conversations(tenant_id: str, team_id: str, limit: int = WAITING_PAGE) -> list[str]:
    """The ids of conversations waiting for a team, longest waiting first."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        _conversations(tenant_id)
        .where(filter=FieldFilter("waitingTeamId", "==", team_id))
        .order_by("waitingSinceMs")
        .limit(limit)
    )
    return [snapshot.id for snapshot in query.stream(**_rpc())]


# --- the assignment transaction ------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """What the assignment transaction decided: ``assigned``; ``taken`` (the conversation is
    assigned, resolved or gone: nobody should get it); ``full`` / ``unavailable`` (this agent
    cannot take it: try the next); ``moved`` (someone else was assigned to this agent meanwhile:
    choose again); ``contended`` (the commit kept failing on concurrent writes: choose again, a
    moment later)."""

    outcome: str
    load: int | None = None


def claim_conversation(
    tenant_id: str,
    conversation_id: str,
    uid: str,
    check_agent: Callable[[dict[str, Any]], int | str],
    build: Callable[[dict[str, Any], dict[str, Any]], _Built],
    assigned_at_us: int,
) -> Claim:
    """Assign a conversation to agent ``uid`` atomically, unless it is assigned already or the agent
    is unavailable or full.

    ``check_agent(agent)`` returns the agent's capacity when they may take a conversation, else
    the outcome (``unavailable``, ``moved``). ``build(conversation, agent)`` returns (the
    conversation's update, the activity line's id, the line).

    An optimistic transaction: both documents are read, the agent's load is counted *after* its
    document was read, and one atomic commit writes the conversation, the activity line and the
    agent's document, each write preconditioned on the version read. Any assignment to this agent
    (or of this conversation) committed in between fails the commit as a whole, which is read and
    decided again; one committed before the read is in the count. So concurrent assignments never
    exceed a capacity nor assign a conversation twice, and no lock is held while counting
    (Firestore's server-side transactions lock what they read: the emulator's deadlock on two
    assigners reading one agent until a lock timeout, seconds each)."""
    from google.api_core.exceptions import AlreadyExists, FailedPrecondition, NotFound

    db = client()
    conversation = conversation_ref(tenant_id, conversation_id)
    agent_ref = _agent_ref(tenant_id, uid)
    for _ in range(TRANSACTION_ATTEMPTS):
        snapshots = {s.reference.path: s for s in db.get_all([conversation, agent_ref], **_rpc())}
        current = snapshots[conversation.path]
        agent = snapshots[agent_ref.path]
        data = (current.to_dict() or {}) if current.exists else {}
        if (
            not current.exists
            or data.get("assigneeId")
            or data.get("status") == "resolved"
            or data.get("kind") != "support"
        ):
            if data.get("waitingTeamId"):
                with contextlib.suppress(FailedPrecondition, NotFound):  # changed meanwhile: theirs
                    conversation.update(
                        {"waitingTeamId": delete_field()},
                        option=db.write_option(last_update_time=current.update_time),
                        **_rpc(),
                    )
            return Claim("taken")
        if not agent.exists:
            return Claim("unavailable")
        profile = agent.to_dict() or {}
        capacity = check_agent(profile)
        if isinstance(capacity, str):
            return Claim(capacity)
        if capacity <= 0:
            return Claim("full", None)
        load = agent_open_load(tenant_id, uid)
        if load >= capacity:
            return Claim("full", load)
        update, activity_id, activity = build(data, profile)
        batch = db.batch()
        batch.update(
            conversation,
            {**update, "waitingTeamId": delete_field()},
            option=db.write_option(last_update_time=current.update_time),
        )
        if activity_id is not None and activity is not None:
            batch.create(message_ref(tenant_id, conversation_id, activity_id), activity)
        batch.update(
            agent_ref,
            {"lastAssignedAtUs": assigned_at_us},
            option=db.write_option(last_update_time=agent.update_time),
        )
        try:
            batch.commit(**_rpc())
        except (FailedPrecondition, NotFound, AlreadyExists):
            continue  # someone wrote either document meanwhile: read and decide again
        return Claim("assigned", load + 1)
    return Claim("contended")
