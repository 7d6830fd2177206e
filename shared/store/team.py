"""The team: who belongs to a workspace, with which role, and who was invited (issue 18, part 2).

    tenants/{t}/agents/{uid}          name, email, role, active (false once deactivated),
                                      deactivatedAtMs, deactivatedBy (the directory the dashboard
                                      reads; engineer 2's routing adds its own fields beside these)
    invitations/{sha256(token)}       tenantId, email, name, role, invitedBy, invitedByName,
                                      createdAtMs, expiresAtMs, status (pending|accepted|revoked),
                                      acceptedUid, acceptedAtMs; server-only (rules: nobody reads)
    mail/{id}                         to, message {subject, text}: the outgoing e-mail queue, in the
                                      shape of Firebase's "Trigger Email from Firestore" extension
                                      (production; locally shared/mail.py writes files instead)

A role change and a deactivation are transactions over the agent and the workspace's owners, so two
admins removing the last two owners at once cannot both succeed: the workspace keeps an owner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.store._client import _rpc, client

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.firestore import CollectionReference

# At most this many conversations are unassigned per page when an agent is deactivated.
ASSIGNED_PAGE = 100
# Outcomes of change_agent.
CHANGED, MISSING, LAST_OWNER, OWNER_ONLY = "changed", "missing", "last_owner", "owner_only"


def _agents(tenant_id: str) -> CollectionReference:
    return client().collection("tenants").document(tenant_id).collection("agents")


def _invitations() -> CollectionReference:
    return client().collection("invitations")


def is_active_owner(agent: dict[str, Any] | None) -> bool:
    """An owner who is not deactivated."""
    return bool(agent) and agent.get("role") == "owner" and agent.get("active", True) is not False  # type: ignore[union-attr]


def list_agents(tenant_id: str, limit: int = 1000) -> list[tuple[str, dict[str, Any]]]:
    """Every member of the workspace's team as (uid, document), deactivated ones included."""
    return [(s.id, s.to_dict() or {}) for s in _agents(tenant_id).limit(limit).stream(**_rpc())]


def change_agent(
    tenant_id: str, uid: str, update: dict[str, Any], *, may_change_owners: bool
) -> tuple[str, dict[str, Any] | None]:
    """Merge ``update`` into the agent's document unless it would leave the workspace without an
    active owner, or it touches an owner (the agent is one, or becomes one) and ``may_change_owners``
    is False; in one transaction with the read of the workspace's owners. Returns (CHANGED, the
    document before), (MISSING, None), or (LAST_OWNER | OWNER_ONLY, the document before), writing
    nothing then."""
    from google.cloud import firestore
    from google.cloud.firestore_v1.base_query import FieldFilter

    db = client()
    ref = _agents(tenant_id).document(uid)
    owners_query = _agents(tenant_id).where(filter=FieldFilter("role", "==", "owner"))

    @firestore.transactional
    def apply(transaction: Any) -> tuple[str, dict[str, Any] | None]:
        snapshot = ref.get(transaction=transaction)
        if not snapshot.exists:
            return MISSING, None
        before = snapshot.to_dict() or {}
        after = {**before, **update}
        if is_active_owner(before) and not is_active_owner(after):
            owners = [s for s in owners_query.stream(transaction=transaction) if s.id != uid]
            if not any(is_active_owner(s.to_dict()) for s in owners):
                return LAST_OWNER, before
        if "owner" in (before.get("role"), after.get("role")) and not may_change_owners:
            return OWNER_ONLY, before
        transaction.set(ref, update, merge=True)
        return CHANGED, before

    result: tuple[str, dict[str, Any] | None] = apply(db.transaction())
    return result


def assigned_open_conversations(tenant_id: str, uid: str, limit: int = ASSIGNED_PAGE) -> list[str]:
    """Ids of the workspace's support conversations assigned to ``uid`` and not resolved."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        client()
        .collection("tenants")
        .document(tenant_id)
        .collection("conversations")
        .where(filter=FieldFilter("assigneeId", "==", uid))
        .where(filter=FieldFilter("status", "in", ["open", "snoozed"]))
        .limit(limit)
    )
    return [snapshot.id for snapshot in query.stream(**_rpc())]


# --- invitations ---------------------------------------------------------------------------------


def create_invitation(invitation_id: str, data: dict[str, Any]) -> None:
    """Store a new invitation under the hash of its token."""
    _invitations().document(invitation_id).create(data, **_rpc())


def get_invitation(invitation_id: str) -> dict[str, Any] | None:
    """The invitation stored under this token hash, or None."""
    snapshot = _invitations().document(invitation_id).get(**_rpc())
    return snapshot.to_dict() if snapshot.exists else None


def finish_invitation(invitation_id: str, update: dict[str, Any]) -> bool:
    """Mark a pending invitation accepted or revoked (``update`` carries its new status); False when
    it was no longer pending (accepted or revoked meanwhile): nothing is written then."""
    from google.cloud import firestore

    ref = _invitations().document(invitation_id)

    @firestore.transactional
    def apply(transaction: Any) -> bool:
        snapshot = ref.get(transaction=transaction)
        if not snapshot.exists or (snapshot.to_dict() or {}).get("status") != "pending":
            return False
        transaction.update(ref, update)
        return True

    done: bool = apply(client().transaction())
    return done


def pending_invitations(tenant_id: str, limit: int = 200) -> list[tuple[str, dict[str, Any]]]:
    """The workspace's pending invitations as (id, document), newest first."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = (
        _invitations()
        .where(filter=FieldFilter("tenantId", "==", tenant_id))
        .where(filter=FieldFilter("status", "==", "pending"))
        .limit(limit)
    )
    rows = [(s.id, s.to_dict() or {}) for s in query.stream(**_rpc())]
    return sorted(rows, key=lambda row: row[1].get("createdAtMs", 0), reverse=True)


def queue_mail(mail_id: str, data: dict[str, Any]) -> None:
    """Queue an e-mail for the Trigger Email extension (``mail/{id}``: to, message)."""
    client().collection("mail").document(mail_id).set(data, **_rpc())
