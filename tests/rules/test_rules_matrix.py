"""infra/firestore.rules as a matrix: every kind of caller x every kind of document the server writes
x every operation, each cell asserting exactly "allowed" (200) or "denied" (403).

Tenant A is both a support tenant (a WhatsApp conversation in the agents' inbox) and an app of the
chat API (group, direct and support channels), as ``createApp`` makes it: one tree per tenant.
Tenant B (app Y) holds the same documents, so that every refusal of B's callers on A is shown to be
about the tenant, not the token (``test_tenant_b_reads_its_own_tree_as_a_reads_a``).

Expected outcomes come from the rules' stated intent, not from running them:
- the roles (issue 18): ``owner``, ``admin`` and ``agent`` are staff, which the rules do not tell
  apart (admin actions are functions); a ``developer`` reads only its tenant's document (the
  developer pages); a deactivated member (``agents/{uid}.active == false``), whatever role their
  still-valid token claims, reads nothing but their own directory entry (which tells their open
  dashboard to sign out); the audit log (``tenants/{t}/audit``), invitations and the mail queue are
  server-only: nobody reads them (owners and admins read the log through agent_api), nobody writes;
- staff read their own tenant's support tree: support conversations (the
  inbox, which must therefore ask for ``kind == "support"``), their messages and members, the
  channels, agents and contacts; never an app's direct or group channels (its users' private chats:
  not even a staff token whose uid is a member's id), and never server-only documents: routes/,
  quarantine/, apiKeys/, developers/, parked events, join requests, app users' profiles, usage
  counters, rate buckets, the push roster and push jobs;
- an app user (role ``user``, their app's id for them in the ``userId`` claim, uid
  ``<app>:<userId>``, signed in with the custom token) reads the group/direct conversations where a
  member document ``members/{userId}`` with a role exists (the channel holds no member list), their
  messages, their own member document, and their own member documents across the app by a
  collection-group query on ``members`` that asks for ``userId`` == theirs and ``tenantId`` == their
  app ("my channels"); in a support
  channel they opened from the app they read the messages with direction in/out (never an agent's
  note, so a query must ask for in/out) and their member document, not the conversation (its
  summary may quote a note);
- the same account signed in any other way (a password linked to it), even carrying the very same
  claims, reads nothing; nor does a token minted before accounts were per app (uid = the user id,
  no ``userId`` claim);
- a member document left behind without a role (the old layout's fan-out could recreate one for a
  member who left) is not a membership;
- anonymous callers and signed-in users without claims read nothing;
- no client ever writes (create, update or delete), whoever it is.

The module runs its own Firestore emulator with the rules (it needs nothing else of the stack) and
seeds it once; every caller keeps one HTTP session, and the callers ask their questions side by side
(``answers``), so the file runs in well under a minute.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
import requests

from infra.local.stack import LocalStack
from tests.rules.test_firestore_rules import id_token

pytestmark = pytest.mark.integration

A, B = "rules-matrix-a", "rules-matrix-b"  # tenant A is app X, tenant B is app Y
ROUTE, QUARANTINE, API_KEY = "matrix:109000000000777", "matrix-q1", "matrix-key-sha256"
DEVELOPER = "staff-admin"  # the uid of app X's developer (its admin)
MONTH = "2026-01"

ALLOWED, DENIED = 200, 403


# --- who calls --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """A caller: no token at all (``uid`` None), or an ID token with these custom claims."""

    name: str
    uid: str | None
    claims: dict[str, Any] = field(default_factory=dict)


def app_user(tenant: str, user_id: str, provider: str = "custom") -> Principal:
    """An app user's token as the Auth emulator issues it after signInWithCustomToken (or, with
    another ``provider``, after another sign-in to the same account carrying the same claims)."""
    claims = {
        "tenantId": tenant,
        "role": "user",
        "userId": user_id,
        "firebase": {"sign_in_provider": provider, "identities": {}},
    }
    return Principal(f"{tenant}:{user_id}", f"{tenant}:{user_id}", claims)


def _named(name: str, principal: Principal) -> Principal:
    return Principal(name, principal.uid, principal.claims)


PRINCIPALS = (
    Principal("anonymous", None),
    Principal("signed-in-no-claims", "u-nobody"),
    Principal("agent-A", "staff-agent", {"tenantId": A, "role": "agent"}),
    Principal("admin-A", "staff-admin", {"tenantId": A, "role": "admin"}),
    Principal("owner-A", "staff-owner", {"tenantId": A, "role": "owner"}),
    Principal("developer-A", "staff-developer", {"tenantId": A, "role": "developer"}),
    # An admin deactivated on the team page, whose ID token has not expired yet.
    Principal("deactivated-admin-A", "staff-gone", {"tenantId": A, "role": "admin"}),
    # An agent of A whose claims name a role that does not exist.
    Principal("unknown-role-A", "staff-odd", {"tenantId": A, "role": "superuser"}),
    Principal("agent-B", "staff-agent", {"tenantId": B, "role": "agent"}),
    Principal("admin-B", "staff-admin", {"tenantId": B, "role": "admin"}),
    # App X's developer (its admin) whose uid happens to be a member's user id: staff tokens carry no
    # userId, and staff read no direct or group channel, whoever is a member.
    Principal("admin-A-uid-u-member", "u-member", {"tenantId": A, "role": "admin"}),
    # App users of app X (= tenant A): a member of its group, direct and support channels; one who
    # is a member of nothing; one who left the group but whose member document was left behind.
    _named("user-X-member", app_user(A, "u-member")),
    _named("user-X-outsider", app_user(A, "u-outsider")),
    _named("user-X-left", app_user(A, "u-left")),
    # The member's account signed in with a password linked to it (the attack: an app mints a user,
    # links a password, signs in), carrying the very same claims: nothing.
    _named("user-X-member-password", app_user(A, "u-member", provider="password")),
    # A token from before accounts were per app: uid = the user id, no userId claim: nothing.
    Principal(
        "user-X-member-legacy",
        "u-member",
        {"tenantId": A, "role": "user", "firebase": {"sign_in_provider": "custom", "identities": {}}},
    ),
    # The same user id in another app: a member of app Y's channels, of none of app X's.
    _named("user-Y-member", app_user(B, "u-member")),
)
BY_NAME = {p.name: p for p in PRINCIPALS}

STAFF = frozenset({"agent-A", "admin-A", "owner-A", "admin-A-uid-u-member"})
DEVELOPER_OF_A = frozenset({"developer-A"})
GONE = frozenset({"deactivated-admin-A"})
MEMBER = frozenset({"user-X-member"})
LEFT = frozenset({"user-X-left"})
APP_USERS = frozenset({"user-X-member", "user-X-outsider", "user-X-left"})
NOBODY: frozenset[str] = frozenset()
# B's callers on B's tree behave as A's callers on A's.
COUNTERPART = {"agent-B": "agent-A", "admin-B": "admin-A", "user-Y-member": "user-X-member"}


# --- what is read -----------------------------------------------------------------------------------

SUPPORT = "conversations/co-whatsapp"  # a WhatsApp customer's support conversation
GROUP = "conversations/co-group"
DIRECT = "conversations/co-direct"
APP_SUPPORT = "conversations/co-app-support"  # the support channel u-member opened from app X


@dataclass(frozen=True)
class Doc:
    """A document, by its path under ``tenants/{tenant}`` (or from the root when ``root``), and who
    may get it."""

    name: str
    path: str
    readers: frozenset[str]
    root: bool = False

    def at(self, tenant: str) -> str:
        if self.root:
            return self.path
        return f"tenants/{tenant}/{self.path}" if self.path else f"tenants/{tenant}"


DOCS = (
    Doc("tenant", "", STAFF | DEVELOPER_OF_A),
    Doc("channel", "channels/whatsapp-main", STAFF),
    Doc("agent", "agents/staff-agent", STAFF),
    Doc("agent-deactivated", "agents/staff-gone", STAFF | GONE),
    Doc("audit-entry", "audit/entry-1", NOBODY),
    Doc("invitation", "invitations/matrix-invitation-hash", NOBODY, root=True),
    Doc("mail", "mail/matrix-mail-1", NOBODY, root=True),
    Doc("contact", "contacts/contact-1", STAFF),
    Doc("contact-note", "contacts/contact-1/notes/note-1", STAFF),
    Doc("contact-attribute", "contactAttributes/plan", STAFF),
    Doc("support-conversation", SUPPORT, STAFF),
    Doc("support-message-in", f"{SUPPORT}/messages/in-1", STAFF),
    Doc("support-message-out", f"{SUPPORT}/messages/out-1", STAFF),
    Doc("support-note", f"{SUPPORT}/messages/note-1", STAFF),
    Doc("parked-event", f"{SUPPORT}/parked/p-1", NOBODY),
    # An app's group and direct channels are its users' private chats: members only, never staff
    # (the app's developer is its admin).
    Doc("group", GROUP, MEMBER),
    Doc("group-post", f"{GROUP}/messages/post-1", MEMBER),
    Doc("group-member-self", f"{GROUP}/members/u-member", MEMBER),
    Doc("group-member-other", f"{GROUP}/members/u-other", NOBODY),
    # Its own left-behind document (an unread count) stays readable to the user it names.
    Doc("group-member-left-behind", f"{GROUP}/members/u-left", LEFT),
    Doc("group-join-request", f"{GROUP}/joinRequests/u-outsider", NOBODY),
    Doc("direct", DIRECT, MEMBER),
    Doc("direct-post", f"{DIRECT}/messages/post-1", MEMBER),
    Doc("direct-member-self", f"{DIRECT}/members/u-member", MEMBER),
    Doc("direct-member-other", f"{DIRECT}/members/u-other", NOBODY),
    Doc("app-support-conversation", APP_SUPPORT, STAFF),
    Doc("app-support-message-in", f"{APP_SUPPORT}/messages/in-1", STAFF | MEMBER),
    Doc("app-support-message-out", f"{APP_SUPPORT}/messages/out-1", STAFF | MEMBER),
    Doc("app-support-note", f"{APP_SUPPORT}/messages/note-1", STAFF),
    Doc("app-support-member-self", f"{APP_SUPPORT}/members/u-member", STAFF | MEMBER),
    # The team inbox (issue 17): the label set is staff's; an activity line (direction "system")
    # is staff's even in a support channel the app user reads.
    Doc("label", "labels/lb-vip", STAFF),
    Doc("support-activity-line", f"{SUPPORT}/messages/activity-1", STAFF),
    Doc("app-support-activity-line", f"{APP_SUPPORT}/messages/activity-1", STAFF),
    Doc("app-user-profile", "users/u-member", NOBODY),
    Doc("usage-shard", f"usage/{MONTH}/shards/0", NOBODY),
    Doc("rate-bucket", "rateBuckets/u-member-1700000000", NOBODY),
    Doc("push-roster", f"{GROUP}/pushRoster/7", NOBODY),
    Doc("push-job", f"{GROUP}/pushJobs/post-1", NOBODY),
    Doc("route", f"routes/{ROUTE}", NOBODY, root=True),
    Doc("quarantine", f"quarantine/{QUARANTINE}", NOBODY, root=True),
    Doc("api-key", f"apiKeys/{API_KEY}", NOBODY, root=True),
    Doc("developer-app-slot", f"developers/{DEVELOPER}/apps/1", NOBODY, root=True),
)


def _eq(path: str, value: str) -> dict[str, Any]:
    return {"fieldFilter": {"field": {"fieldPath": path}, "op": "EQUAL", "value": {"stringValue": value}}}


def _in(path: str, *values: str) -> dict[str, Any]:
    array = {"arrayValue": {"values": [{"stringValue": v} for v in values]}}
    return {"fieldFilter": {"field": {"fieldPath": path}, "op": "IN", "value": array}}


def _contains(path: str, value: str) -> dict[str, Any]:
    return {
        "fieldFilter": {"field": {"fieldPath": path}, "op": "ARRAY_CONTAINS", "value": {"stringValue": value}}
    }


def _and(*filters: dict[str, Any]) -> dict[str, Any]:
    return {"compositeFilter": {"op": "AND", "filters": list(filters)}}


ME = "{uid}"  # replaced by the caller's user id in a query's filters (app users: the userId claim)
SUPPORT_ONLY = _eq("kind", "support")
IN_OR_OUT = _in("direction", "in", "out")


@dataclass(frozen=True)
class Query:
    """A query (what a client's listener or ``list`` asks), under ``tenants/{tenant}/{parent}`` (the
    root when ``root``); ``where`` may name the caller as ``{uid}``."""

    name: str
    parent: str
    collection: str
    readers: frozenset[str]
    where: dict[str, Any] | None = None
    order_by: str | None = None
    all_descendants: bool = False
    root: bool = False

    def parent_at(self, tenant: str) -> str:
        if self.root:
            return self.parent
        return f"tenants/{tenant}/{self.parent}".rstrip("/")

    def structured(self, uid: str) -> dict[str, Any]:
        query: dict[str, Any] = {
            "from": [{"collectionId": self.collection, "allDescendants": self.all_descendants}],
            "limit": 50,
        }
        if self.where is not None:
            query["where"] = _with_uid(self.where, uid)
        if self.order_by:
            query["orderBy"] = [{"field": {"fieldPath": self.order_by}, "direction": "DESCENDING"}]
        return query


def _with_uid(value: Any, uid: str) -> Any:
    if isinstance(value, dict):
        return {k: _with_uid(v, uid) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_uid(v, uid) for v in value]
    return uid if value == ME else value


QUERIES = (
    Query("tenants", "", "tenants", NOBODY, root=True),
    Query("channels", "", "channels", STAFF),
    Query("agents", "", "agents", STAFF),
    # The audit log: nobody lists it (nor by action), whatever their role.
    Query("audit", "", "audit", NOBODY),
    Query("audit-by-action", "", "audit", NOBODY, where=_eq("action", "agent.role"), order_by="atMs"),
    Query("invitations-of-a", "", "invitations", NOBODY, where=_eq("tenantId", A), root=True),
    Query("contacts", "", "contacts", STAFF),
    # Rules are not filters: staff may list support conversations, and only by asking for them.
    Query("conversations", "", "conversations", NOBODY),
    Query("support-conversations", "", "conversations", STAFF, where=SUPPORT_ONLY),
    # The dashboard's inbox (web/src/stores/inbox.ts): support conversations, open, latest first.
    Query(
        "inbox-open-latest-first",
        "",
        "conversations",
        STAFF,
        where=_and(SUPPORT_ONLY, _eq("status", "open")),
        order_by="lastActivityAtMs",
    ),
    Query(
        "inbox-without-kind",
        "",
        "conversations",
        NOBODY,
        where=_eq("status", "open"),
        order_by="lastActivityAtMs",
    ),
    # An app's admin (its developer) asking for its users' private chats: refused.
    Query("app-users-chats", "", "conversations", NOBODY, where=_in("kind", "direct", "group")),
    # The embedded chat's channel list (web/src/embed/channels.ts, the API's mysubs): every app user
    # of app X may ask for their own member documents across the app (a collection-group query on
    # members, userId == theirs and tenantId == their app), then reads each channel by id.
    Query(
        "my-memberships",
        "",
        "members",
        APP_USERS,
        where=_and(_eq("userId", ME), _eq("tenantId", A)),
        all_descendants=True,
        root=True,
    ),
    # ...never without naming their app, never someone else's, never another app's.
    Query(
        "my-memberships-any-app",
        "",
        "members",
        NOBODY,
        where=_eq("userId", ME),
        all_descendants=True,
        root=True,
    ),
    Query(
        "someone-elses-memberships",
        "",
        "members",
        NOBODY,
        where=_and(_eq("userId", "u-other"), _eq("tenantId", A)),
        all_descendants=True,
        root=True,
    ),
    # Asking for app Y's: only app Y's own users (the same user id in app X reads nothing there).
    Query(
        "my-memberships-in-app-y",
        "",
        "members",
        frozenset({"user-Y-member"}),
        where=_and(_eq("userId", ME), _eq("tenantId", B)),
        all_descendants=True,
        root=True,
    ),
    # Listing conversations is no way to find one's chats any more (membership is a document per
    # member, tested with get(), which a query cannot be proven against).
    Query("chats-by-kind", "", "conversations", NOBODY, where=_in("kind", "direct", "group")),
    # The dashboard's thread: a conversation's messages, latest first.
    Query("support-messages", SUPPORT, "messages", STAFF, order_by="sentAt"),
    Query("support-messages-in-out", SUPPORT, "messages", STAFF, where=IN_OR_OUT),
    Query("parked-events", SUPPORT, "parked", NOBODY),
    # The embedded chat's thread (web/src/embed/thread.ts): posts by createdAt; in a support
    # channel only with the in/out filter.
    Query("group-posts", GROUP, "messages", MEMBER, order_by="createdAt"),
    # ...the filter a left-behind member document must not open (it did before the fix).
    Query("group-posts-in-out", GROUP, "messages", MEMBER, where=IN_OR_OUT),
    Query("group-members", GROUP, "members", NOBODY),
    Query("group-join-requests", GROUP, "joinRequests", NOBODY),
    Query("direct-posts", DIRECT, "messages", MEMBER, order_by="createdAt"),
    Query("direct-posts-in-out", DIRECT, "messages", MEMBER, where=IN_OR_OUT),
    Query("direct-members", DIRECT, "members", NOBODY),
    Query("app-support-messages", APP_SUPPORT, "messages", STAFF, order_by="createdAt"),
    Query(
        "app-support-messages-in-out",
        APP_SUPPORT,
        "messages",
        STAFF | MEMBER,
        where=IN_OR_OUT,
        order_by="createdAt",
    ),
    Query("app-support-notes", APP_SUPPORT, "messages", STAFF, where=_eq("direction", "note")),
    Query("app-support-members", APP_SUPPORT, "members", STAFF),
    # The team inbox: the label set; the inbox by label and unassigned (web/src/stores/inbox.ts);
    # activity lines asked for by an app user in their support channel: refused.
    Query("labels", "", "labels", STAFF),
    Query(
        "inbox-by-label",
        "",
        "conversations",
        STAFF,
        where=_and(SUPPORT_ONLY, _contains("labels", "lb-vip")),
        order_by="lastActivityAtMs",
    ),
    Query(
        "inbox-unassigned",
        "",
        "conversations",
        STAFF,
        where=_and(
            SUPPORT_ONLY,
            {
                "fieldFilter": {
                    "field": {"fieldPath": "assigned"},
                    "op": "EQUAL",
                    "value": {"integerValue": "0"},
                }
            },
        ),
        order_by="lastActivityAtMs",
    ),
    Query("app-support-activity", APP_SUPPORT, "messages", STAFF, where=_eq("direction", "system")),
    Query("app-users", "", "users", NOBODY),
    Query("usage-shards", f"usage/{MONTH}", "shards", NOBODY),
    Query("rate-buckets", "", "rateBuckets", NOBODY),
    Query("push-roster", GROUP, "pushRoster", NOBODY),
    Query("push-jobs", GROUP, "pushJobs", NOBODY),
    Query("routes", "", "routes", NOBODY, root=True),
    Query("quarantine", "", "quarantine", NOBODY, root=True),
    Query("api-keys", "", "apiKeys", NOBODY, root=True),
    Query("developer-app-slots", f"developers/{DEVELOPER}", "apps", NOBODY, root=True),
    # Collection-group queries reach across tenants: no rule grants one...
    Query("every-tenants-messages", "", "messages", NOBODY, all_descendants=True, root=True),
    # ...but staff's timeline over their own tenant's messages (shared/search/: what a client query
    # may ask), which must ask for tenantId == their tenant: never another tenant's, never an app
    # user, never without it.
    Query(
        "timeline-tenant-a",
        "",
        "messages",
        STAFF,
        where=_eq("tenantId", A),
        order_by="sentAtMs",
        all_descendants=True,
        root=True,
    ),
    Query(
        "timeline-tenant-b",
        "",
        "messages",
        frozenset({"agent-B", "admin-B"}),
        where=_eq("tenantId", B),
        order_by="sentAtMs",
        all_descendants=True,
        root=True,
    ),
    Query(
        "timeline-notes-tenant-a",
        "",
        "messages",
        STAFF,
        where=_and(_eq("tenantId", A), _eq("direction", "note")),
        all_descendants=True,
        root=True,
    ),
    Query(
        "timeline-without-tenant",
        "",
        "messages",
        NOBODY,
        where=_eq("direction", "in"),
        order_by="sentAtMs",
        all_descendants=True,
        root=True,
    ),
    Query("tenant-messages-all-conversations", "", "messages", NOBODY, all_descendants=True),
)

WRITES = ("create", "update", "delete")


# --- the documents ----------------------------------------------------------------------------------


def _value(value: Any) -> dict[str, Any]:
    """A Python value as a Firestore REST ``Value``."""
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"integerValue": str(value)}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, datetime):
        return {"timestampValue": value.isoformat().replace("+00:00", "Z")}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_value(v) for v in value]}}
    return {"mapValue": {"fields": {k: _value(v) for k, v in value.items()}}}


def tree(tenant: str) -> dict[str, dict[str, Any]]:
    """Every document of DOCS under ``tenants/{tenant}`` (by path), shaped as the server writes them."""
    now = datetime.now(UTC)
    docs: dict[str, dict[str, Any]] = {
        "": {"name": f"Tenant {tenant}", "kind": "app", "plan": "free"},
        "channels/whatsapp-main": {"kind": "whatsapp", "externalId": "109000000000777", "name": "WA"},
        "agents/staff-agent": {"name": "Sam", "email": "sam@matrix.test", "role": "agent", "active": True},
        "agents/staff-gone": {"name": "Gus", "email": "gus@matrix.test", "role": "admin", "active": False},
        "audit/entry-1": {
            "action": "agent.deactivate",
            "actorId": "staff-owner",
            "actorName": "Olga",
            "actorRole": "owner",
            "target": {"kind": "agent", "id": "staff-gone", "name": "Gus"},
            "atMs": 7,
        },
        "contacts/contact-1": {"name": "Kerry", "channel": "whatsapp"},
        "contacts/contact-1/notes/note-1": {"text": "Prefers e-mail", "authorId": "staff-agent"},
        "contactAttributes/plan": {"label": "Plan", "type": "text"},
        SUPPORT: {
            "kind": "support",
            "channel": "whatsapp",
            "status": "open",
            "lastActivityAtMs": 3,
            "contactName": "Kerry",
            "lastMessageText": "VIP",
        },
        f"{SUPPORT}/parked/p-1": {"event": "{}"},
    }
    for message_id, direction in (("in-1", "in"), ("out-1", "out"), ("note-1", "note")):
        # Support conversations' messages carry the search fields (shared/search/fields.py).
        searchable = {"tenantId": tenant, "sentAtMs": 5, "terms": {f"{tenant}:": 5, f"{tenant}:parcel": 5}}
        docs[f"{SUPPORT}/messages/{message_id}"] = {
            "direction": direction,
            "text": message_id,
            "sentAt": now,
            **searchable,
            "conversationId": SUPPORT.rpartition("/")[2],
        }
        docs[f"{APP_SUPPORT}/messages/{message_id}"] = {
            "direction": direction,
            "text": message_id,
            "createdAt": now,
            **searchable,
            "conversationId": APP_SUPPORT.rpartition("/")[2],
        }
    activity = {
        "direction": "system",
        "type": "activity",
        "activity": {"verb": "resolve", "actorId": "staff-agent", "actorName": "Sam"},
        "text": "Sam resolved the conversation",
        "sentAt": now,
        "createdAt": now,
    }
    docs[f"{SUPPORT}/messages/activity-1"] = activity
    docs[f"{APP_SUPPORT}/messages/activity-1"] = activity
    docs["labels/lb-vip"] = {"name": "VIP", "color": "#dc2626", "createdAt": now}
    docs[SUPPORT] = {**docs[SUPPORT], "labels": ["lb-vip"], "assigned": 0}
    app = {"channel": "app", "channelId": "app", "tenantId": tenant, "status": "open"}
    docs[GROUP] = {**app, "kind": "group", "memberCount": 2, "seq": 1, "lastActivityAtMs": 2}
    docs[DIRECT] = {**app, "kind": "direct", "memberCount": 2, "seq": 1, "lastActivityAtMs": 1}

    def member(channel: str, user_id: str, role: str, read: int) -> dict[str, Any]:
        return {
            "userId": user_id,
            "tenantId": tenant,
            "channelId": channel.rpartition("/")[2],
            "role": role,
            "lastReadSeq": read,
            "pushTokens": [f"p-{user_id}"],
        }

    for channel in (GROUP, DIRECT):
        # A direct or group chat's posts carry no tenantId: no staff query reaches them.
        docs[f"{channel}/messages/post-1"] = {
            "direction": "in",
            "text": "hey",
            "createdAt": now,
            "conversationId": channel.rpartition("/")[2],
            "sentAtMs": 5,
        }
        docs[f"{channel}/members/u-member"] = member(channel, "u-member", "owner", 1)
        docs[f"{channel}/members/u-other"] = member(channel, "u-other", "member", 0)
    # u-left left the group while the old layout's fan-out was merging unread counts: the merge
    # recreated its member document without a role, which is not a membership.
    docs[f"{GROUP}/members/u-left"] = {"unreadCount": 4}
    docs[APP_SUPPORT] = {**app, "kind": "support", "memberCount": 1, "seq": 2, "lastActivityAtMs": 4}
    docs[f"{APP_SUPPORT}/members/u-member"] = member(APP_SUPPORT, "u-member", "owner", 1)
    docs["users/u-member"] = {"name": "Mia"}
    docs[f"usage/{MONTH}/shards/0"] = {"count": 7}
    docs["rateBuckets/u-member-1700000000"] = {"count": 1, "expireAt": now}
    docs[f"{GROUP}/pushRoster/7"] = {"members": {"u-member": {"tokens": ["p1"], "muted": False}}}
    docs[f"{GROUP}/pushJobs/post-1"] = {"sent": 500, "done": False}
    docs[f"{GROUP}/joinRequests/u-outsider"] = {
        "userId": "u-outsider",
        "status": "pending",
        "requestedAt": now,
    }
    return {f"tenants/{tenant}/{path}".rstrip("/"): data for path, data in docs.items()}


def seed(stack: LocalStack) -> None:
    """Write both tenants' trees and the root documents in one commit, as the emulator's owner
    (which, like the server SDK, is not subject to the rules)."""
    documents = {
        **tree(A),
        **tree(B),
        f"routes/{ROUTE}": {"tenantId": A, "channelId": "whatsapp-main"},
        f"quarantine/{QUARANTINE}": {"reason": "unparseable", "raw": "{}"},
        f"apiKeys/{API_KEY}": {"tenantId": A, "prefix": "sk_matrix"},
        f"developers/{DEVELOPER}/apps/1": {"appId": A},
        "invitations/matrix-invitation-hash": {
            "tenantId": A,
            "email": "new@matrix.test",
            "status": "pending",
        },
        "mail/matrix-mail-1": {"to": "new@matrix.test", "message": {"subject": "Join", "text": "link"}},
    }
    assert {doc.at(t) for doc in DOCS for t in (A, B)} <= documents.keys()
    name = f"projects/{stack.project}/databases/(default)/documents"
    writes = [
        {"update": {"name": f"{name}/{path}", "fields": {k: _value(v) for k, v in data.items()}}}
        for path, data in documents.items()
    ]
    response = requests.post(
        f"http://{stack.firestore_host}/v1/{name}:commit",
        headers={"Authorization": "Bearer owner"},
        json={"writes": writes},
        timeout=30,
    )
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def emulator() -> Iterator[LocalStack]:
    """A Firestore emulator of this module's own, loaded with infra/firestore.rules like the
    session's, seeded once: the matrix needs no functions, Auth or Cloud Tasks (the session's full
    stack takes far longer to start than the whole matrix takes to run) and reads no other test's
    documents."""
    with LocalStack(functions=(), with_auth=False, with_tasks=False, with_sandbox=False) as local:
        seed(local)
        yield local


# --- the callers' clients ---------------------------------------------------------------------------


class Client:
    """Firestore's REST API on the emulator as one caller, over one kept-alive HTTP session (used by
    one thread at a time)."""

    def __init__(self, stack: LocalStack, token: str | None) -> None:
        self.base = f"http://{stack.firestore_host}/v1/projects/{stack.project}/databases/(default)/documents"
        self.http = requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str) -> int:
        return self.http.get(f"{self.base}/{path}", timeout=30).status_code

    def query(self, parent: str, structured: dict[str, Any]) -> int:
        url = f"{self.base}/{parent}:runQuery" if parent else f"{self.base}:runQuery"
        return self.http.post(url, json={"structuredQuery": structured}, timeout=30).status_code

    def write(self, operation: str, path: str, forged_id: str) -> int:
        """``create`` a new document beside ``path`` (id ``forged_id``), ``update`` or ``delete`` it."""
        body = {"fields": {"forged": {"booleanValue": True}}}
        if operation == "create":
            collection_path, _, _ = path.rpartition("/")
            url = f"{self.base}/{collection_path}?documentId={forged_id}"
            return self.http.post(url, json=body, timeout=30).status_code
        if operation == "update":
            url = f"{self.base}/{path}?updateMask.fieldPaths=forged&currentDocument.exists=true"
            return self.http.patch(url, json=body, timeout=30).status_code
        return self.http.delete(f"{self.base}/{path}", timeout=30).status_code

    def close(self) -> None:
        self.http.close()


@pytest.fixture(scope="module")
def clients(emulator: LocalStack) -> Iterator[dict[str, Client]]:
    made = {
        p.name: Client(emulator, id_token(emulator.project, p.uid, **p.claims) if p.uid else None)
        for p in PRINCIPALS
    }
    made["owner"] = Client(emulator, "owner")  # the emulator's admin: bypasses the rules
    yield made
    for client in made.values():
        client.close()


# --- every cell's answer ----------------------------------------------------------------------------

Cell = tuple[str, str, str, str]  # (principal, operation, document or query, tenant)


def _answers(calls: dict[Cell, Callable[[], int]]) -> dict[Cell, int]:
    """Run the calls, each caller's in order on a thread of its own (so each HTTP session stays on
    one thread): the emulator answers the callers side by side."""
    by_caller: dict[str, list[Cell]] = {}
    for cell in calls:
        by_caller.setdefault(cell[0], []).append(cell)

    def run(cells: list[Cell]) -> list[tuple[Cell, int]]:
        return [(cell, calls[cell]()) for cell in cells]

    with ThreadPoolExecutor(max_workers=len(by_caller)) as pool:
        return dict(pair for answered in pool.map(run, by_caller.values()) for pair in answered)


def _uid(principal: Principal) -> str:
    """Who the caller asks about as "me": an app user's userId claim, else the uid."""
    return str(principal.claims.get("userId") or principal.uid or "u-nobody")


@pytest.fixture(scope="module")
def answers(clients: dict[str, Client]) -> dict[Cell, int]:
    """The status code of every cell of the matrix: all the reads (on A, and B's callers on B), then
    all the writes, so that a write the rules wrongly allowed could not change what a read saw. The
    tests below only compare; asking ~1,800 questions one by one would take half a minute."""
    reads: dict[Cell, Callable[[], int]] = {}
    for principal in PRINCIPALS:
        client = clients[principal.name]
        tenants = (A, B) if principal.name in COUNTERPART else (A,)
        for tenant in tenants:
            for doc in DOCS:
                if tenant == A or not doc.root:
                    reads[(principal.name, "get", doc.name, tenant)] = partial(client.get, doc.at(tenant))
            for query in QUERIES:
                if tenant == A or not query.root:
                    structured = query.structured(_uid(principal))
                    call = partial(client.query, query.parent_at(tenant), structured)
                    reads[(principal.name, "query", query.name, tenant)] = call
    writes: dict[Cell, Callable[[], int]] = {
        (principal.name, operation, doc.name, A): partial(
            clients[principal.name].write, operation, doc.at(A), f"forged-{principal.name}"
        )
        for principal in PRINCIPALS
        for doc in DOCS
        for operation in WRITES
    }
    return {**_answers(reads), **_answers(writes)}


def _outcome(allowed: bool) -> int:
    return ALLOWED if allowed else DENIED


# --- the matrix -------------------------------------------------------------------------------------


def test_every_document_exists_for_the_server(clients: dict[str, Client]) -> None:
    """A refusal below is the rules' doing, never a missing document."""
    for tenant in (A, B):
        for doc in DOCS:
            assert clients["owner"].get(doc.at(tenant)) == ALLOWED, doc.at(tenant)


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: p.name)
def test_get(answers: dict[Cell, int], principal: Principal, doc: Doc) -> None:
    expected = _outcome(principal.name in doc.readers)
    assert answers[(principal.name, "get", doc.name, A)] == expected, f"get {doc.at(A)}"


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.name)
@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: p.name)
def test_query(answers: dict[Cell, int], principal: Principal, query: Query) -> None:
    expected = _outcome(principal.name in query.readers)
    structured = query.structured(_uid(principal))
    assert answers[(principal.name, "query", query.name, A)] == expected, (query.parent_at(A), structured)


@pytest.mark.parametrize("operation", WRITES)
@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: p.name)
def test_write_is_denied(answers: dict[Cell, int], principal: Principal, doc: Doc, operation: str) -> None:
    assert answers[(principal.name, operation, doc.name, A)] == DENIED, f"{operation} {doc.at(A)}"


@pytest.mark.parametrize(
    "subject",
    [*(d for d in DOCS if not d.root), *(q for q in QUERIES if not q.root)],
    ids=lambda s: f"{'get' if isinstance(s, Doc) else 'query'}-{s.name}",
)
@pytest.mark.parametrize("principal", [BY_NAME[n] for n in COUNTERPART], ids=lambda p: p.name)
def test_tenant_b_reads_its_own_tree_as_a_reads_a(
    answers: dict[Cell, int], principal: Principal, subject: Doc | Query
) -> None:
    """B's callers are refused on A's tree because it is A's: on B's own, they get exactly what
    A's corresponding callers get on A's."""
    expected = _outcome(COUNTERPART[principal.name] in subject.readers)
    operation = "get" if isinstance(subject, Doc) else "query"
    assert answers[(principal.name, operation, subject.name, B)] == expected


def test_no_write_went_through(answers: dict[Cell, int], clients: dict[str, Client]) -> None:
    """Whatever the status codes said, the server's documents are as seeded."""
    owner = clients["owner"]
    for doc in DOCS:
        path = doc.at(A)
        response = owner.http.get(f"{owner.base}/{path}", timeout=30)
        assert response.status_code == ALLOWED, path
        assert "forged" not in response.json().get("fields", {}), path
        collection_path, _, _ = path.rpartition("/")
        for principal in PRINCIPALS:
            assert owner.get(f"{collection_path}/forged-{principal.name}") == 404


def test_only_a_custom_token_sign_in_with_the_user_id_claim_reads_as_the_app_user(
    answers: dict[Cell, int],
) -> None:
    """The member's own account, signed in with a password and carrying the very same claims, reads
    none of what the member reads; nor does a token minted before accounts were per app."""
    member, password = BY_NAME["user-X-member"], BY_NAME["user-X-member-password"]
    assert {k: v for k, v in member.claims.items() if k != "firebase"} == {
        k: v for k, v in password.claims.items() if k != "firebase"
    }
    assert member.uid == password.uid == f"{A}:u-member"
    readable = [doc.name for doc in DOCS if "user-X-member" in doc.readers]
    assert readable, "the member reads something"
    for name in readable:
        assert answers[("user-X-member", "get", name, A)] == ALLOWED, name
        assert answers[("user-X-member-password", "get", name, A)] == DENIED, name
        assert answers[("user-X-member-legacy", "get", name, A)] == DENIED, name


def test_a_conversation_that_does_not_exist_reads_as_missing_to_staff(clients: dict[str, Client]) -> None:
    """The dashboard opens a conversation by its address: one that does not exist is "not found"
    to its tenant's staff (nothing to protect), and still refused to everyone else."""
    missing = f"tenants/{A}/conversations/co-missing"
    for name in ("agent-A", "admin-A"):
        assert clients[name].get(missing) == 404, name
        assert clients[name].query(missing, {"from": [{"collectionId": "messages"}], "limit": 5}) == ALLOWED
    for name in ("anonymous", "agent-B", "user-X-member", "user-X-member-password"):
        assert clients[name].get(missing) == DENIED, name
