"""The chat API's operations: channels, posts, members, likes, read state, push, for app developers.

An app is a tenant of kind ``app`` on the support inbox's own tree: its channels are conversations
(kind ``group`` | ``direct`` | ``support``, channel ``app``), posts are their messages, members their
``members/{userId}``. So the dashboard's and the apps' Firestore listeners see posts as they land, and
a support channel opened from an app is an ordinary conversation in the agents' inbox.

Who calls
    - the app's backend: ``Authorization: Bearer sb_...`` (the app's API key) and ``X-User-Id`` naming
      the user it acts for; only it may mint tokens (``token``);
    - the app's client: a Firebase ID token obtained with the custom token from ``token``: claims
      ``tenantId`` (the app), ``role: "user"`` and ``userId`` (the app's id for the user), signed in
      with the custom token (``firebase.sign_in_provider == "custom"``). The Firebase account is the
      app's own: uid ``<appId>:<userId>`` (:func:`firebase_uid`), so two apps' ``carol`` are two
      accounts, and the user id everywhere (API, documents, rules) is the ``userId`` claim.

Group channels have a join policy (``joinPolicy``): ``open`` (any user of the app may join),
``invite`` (a member adds users with addMember; the default for new channels) or ``approval``
(requestJoin records a request; the channel's owner approves or declines it). The app's backend,
with its API key, is trusted: it joins and adds users under any policy. Channels created before
policies existed have no field and stay ``open``.

Every operation is ``POST /v1/{name}`` with a JSON body validated by shared/chat/models.py;
:data:`OPERATIONS` is the single list the function dispatches on and the OpenAPI document is
generated from. Only members may read a channel's posts or members or post to it.

Unread counts come from a read watermark, never from a counter every post increments: the channel
document counts its posts in ``seq``, each member document holds ``lastReadSeq``, and a member's
unread count is ``max(0, seq - lastReadSeq)``, computed where it is shown (these answers, the embed
from its listeners). A post writes at most four documents whatever the member count (the post; the
channel summary with ``seq: Increment(1)``, or in a hot channel its deferred share, folded about once
a second by the hot-conversation fold of shared/inbox.py; the poster's own ``lastReadSeq + 1``, so
one's own posts are never unread; the poster's rate bucket) and reads four (the channel, the
poster's member document and profile, the rate bucket). Push leaves the request: one queued job per
post (shared/chat/push.py), which reads the channel's push roster. Membership is the member document
(with a role); "my channels" is a collection-group query on ``members``.

In a channel hot enough to defer its summary, ``seq`` (and so everybody's unread count) lags the
posts by about a second; a ``setRead`` in that second may leave the reader's own just-sent post
counted unread until their next ``setRead``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from shared import auth, ids, inbox, search, store
from shared.auth import Forbidden, Unauthenticated
from shared.chat import attachments as chat_attachments
from shared.chat import keys, metering, models, push
from shared.chat import media as chat_media
from shared.chat.models import (
    AddMemberRequest,
    Channel,
    ChannelRequest,
    CreateAppAnswer,
    CreateAppRequest,
    CreatePMRequest,
    CreatePostRequest,
    CreateSubRequest,
    DecideJoinRequest,
    JoinRequest,
    JoinRequestAnswer,
    JoinRequestsAnswer,
    JoinRequestsRequest,
    LastPost,
    LeaveAnswer,
    LikeAnswer,
    LikePostRequest,
    Member,
    MuteAnswer,
    MySubsAnswer,
    MySubsRequest,
    Post,
    PostInformation,
    PostsAnswer,
    PostsRequest,
    PostUser,
    ReadAnswer,
    RequestJoinRequest,
    ServerInfo,
    ServerInfoRequest,
    SetJoinPolicyRequest,
    SetReadRequest,
    SubsAnswer,
    Subscription,
    SubsRequest,
    TokenAnswer,
    TokenRequest,
    UpsertSubRequest,
)
from shared.config import settings
from shared.errors import Refused, TransientError

log = logging.getLogger(__name__)

VERSION = "1.0.0"
APP_CHANNEL = "app"  # the `channel` of every conversation of the chat API (no provider behind it)
READ_RETRIES = 25  # like and mute toggles under concurrent changes of the same document
MAX_APPS_PER_ACCOUNT = 3  # apps one developer account may ever create (developers/{uid}/apps slots)
FIREBASE_UID_LENGTH = 128  # Firebase Auth's limit on a uid

# The embeddable chat component: web/src/embed/, built to /embed/switchboard-chat.js and served with
# the dashboard (Firebase Hosting). The snippet is what a developer pastes into their page: the bundle
# reads the project's public settings (project id, web API key, chat API URL) from /config.json at its
# own origin, so the page names only the app. `token` is a Firebase custom token the developer's
# backend obtains from POST /v1/token with the API key.
EMBED_SNIPPET = """<!-- Switchboard chat: paste where the chat should appear. -->
<div id="switchboard-chat" style="height: 600px"></div>
<script src="{origin}/embed/switchboard-chat.js" defer></script>
<script>
  window.addEventListener("load", function () {{
    SwitchboardChat.mount(document.getElementById("switchboard-chat"), {{
      // A Firebase custom token from YOUR backend: POST {api_url}/v1/token with your API key.
      token: "<CUSTOM_TOKEN_FROM_YOUR_BACKEND>",
      config: {{ appId: "{app_id}" }}
    }});
  }});
</script>
"""


@dataclass(frozen=True)
class AppCaller:
    """Who is calling: the app, the user it acts for (None for app-level operations), and how."""

    app_id: str
    user_id: str | None
    via: Literal["api_key", "id_token"]

    @property
    def user(self) -> str:
        """The acting user (every user-level operation has one)."""
        if self.user_id is None:  # pragma: no cover - guarded by Operation.needs_user
            raise Refused("user_required", "this operation acts for a user: send X-User-Id")
        return self.user_id


# --- authentication ---------------------------------------------------------------------------------


def authenticate(
    authorization: str | None, user_header: str | None, *, api_key_only: bool, needs_user: bool
) -> AppCaller:
    """The caller behind the request's headers, or Unauthenticated (401) / Forbidden (403)."""
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthenticated(
            "send Authorization: Bearer <API key> with X-User-Id (app backends), "
            "or Bearer <Firebase ID token> (app clients)"
        )
    credential = authorization.removeprefix("Bearer ").strip()
    if keys.looks_like_key(credential):
        app_id = keys.verify(credential)
        if app_id is None:
            raise Unauthenticated("invalid API key")
        user_id = None
        if needs_user:
            if not user_header:
                raise Refused("user_required", "API key calls act for a user: send X-User-Id: <user id>")
            if not re.fullmatch(models.USER_ID, user_header):
                raise Refused("invalid_user_id", f"X-User-Id must match {models.USER_ID}")
            user_id = user_header
        return AppCaller(app_id, user_id, "api_key")
    app_id, user_id = _app_user(authorization)
    if api_key_only:
        raise Forbidden("this operation needs the app's API key (it is for the app's backend)")
    if user_header and user_header != user_id:
        raise Forbidden("X-User-Id does not match the ID token's user")
    return AppCaller(app_id, user_id, "id_token")


def firebase_uid(app_id: str, user_id: str) -> str:
    """The Firebase uid of an app's user: ``<appId>:<userId>``, or ``<appId>:~<SHA-256 of the user
    id, base64url>`` when that would pass Firebase's 128 characters. App ids hold no ``:`` and user
    ids never start with ``~``, so no two (app, user) pairs share a uid; Firebase's own generated
    uids (staff and developer accounts) hold no ``:``, so an app user is never one of them."""
    uid = f"{app_id}:{user_id}"
    if len(uid) <= FIREBASE_UID_LENGTH:
        return uid
    digest = base64.urlsafe_b64encode(hashlib.sha256(user_id.encode()).digest()).decode().rstrip("=")
    return f"{app_id}:~{digest}"


def _app_user(authorization: str) -> tuple[str, str]:
    """(app id, user id) of an app user's ID token, or Unauthenticated (401) / Forbidden (403).

    Only a session started with the app's custom token counts: a password (or any other) sign-in to
    the same account is refused, even with the same claims, and so is a token whose uid is not the
    namespaced account of its ``userId`` claim (tokens minted before accounts were per app)."""
    claims = _signed_in(authorization)
    app_id, role, user_id = claims.get("tenantId"), claims.get("role"), claims.get("userId")
    if not isinstance(app_id, str) or not app_id or role != "user":
        raise Forbidden("this account has no access here (tenantId/role claims)")
    provider = (claims.get("firebase") or {}).get("sign_in_provider")
    if provider != "custom":
        raise Forbidden("app users sign in only with their app's custom token (POST /v1/token)")
    if (
        not isinstance(user_id, str)
        or not re.fullmatch(models.USER_ID, user_id)
        or claims.get("uid") != firebase_uid(app_id, user_id)
    ):
        raise Forbidden("this token is not a current app user's token: get a new one from POST /v1/token")
    return app_id, user_id


def _signed_in(authorization: str | None) -> dict[str, Any]:
    """The claims of any signed-in Firebase user (no tenant or role required)."""
    from firebase_admin import auth as firebase_auth

    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthenticated("sign in first: Authorization: Bearer <Firebase ID token>")
    try:
        return dict(
            firebase_auth.verify_id_token(authorization.removeprefix("Bearer ").strip(), app=auth.app())
        )
    except (
        ValueError,
        firebase_auth.InvalidIdTokenError,
        firebase_auth.ExpiredIdTokenError,
        firebase_auth.RevokedIdTokenError,
    ) as exc:
        raise Unauthenticated(f"invalid ID token: {type(exc).__name__}") from exc


# --- create_app ---------------------------------------------------------------------------------------


def embed_snippet(app_id: str) -> str:
    """The HTML a developer pastes to embed the chat component for ``app_id``."""
    config = settings()
    return EMBED_SNIPPET.format(
        origin=config.dashboard_url or f"https://{config.project_id}.web.app",
        app_id=app_id,
        api_url=f"{config.public_base_url}/chat-api" if config.public_base_url else "<chat API URL>",
    )


def create_app(authorization: str | None, body: bytes) -> dict[str, Any]:
    """A signed-in developer creates an app: its tenant (kind app, plan free), owner claims for them,
    and an API key shown this once. The caller must refresh their ID token to get the new claims.

    Custom claims hold one tenant, so an account that already belongs to a tenant (staff of a
    business, an app's admin or user) is refused rather than silently moved out of it: by its
    token's claims, and by the account's current claims (a token minted before the account's first
    app would otherwise create a second one).

    The address must be verified (``email_verified``), and an account creates at most
    :data:`MAX_APPS_PER_ACCOUNT` apps in all: each takes a slot ``developers/{uid}/apps/{n}`` created
    in the app's own batch, so concurrent calls cannot both take the same one."""
    from firebase_admin import auth as firebase_auth
    from firebase_admin.exceptions import FirebaseError

    claims = _signed_in(authorization)
    request = CreateAppRequest.model_validate_json(body or b"{}")
    uid = str(claims["uid"])
    _not_in_a_tenant(claims.get("tenantId"))
    if ":" in uid:  # an app user's account (<appId>:<userId>), signed in some other way
        raise Forbidden("an app user's account cannot create apps: sign up as a developer")
    if claims.get("email_verified") is not True:
        address = f" {claims['email']}" if claims.get("email") else ""
        raise Refused(
            "email_not_verified",
            f"verify your e-mail address{address} first: open the link sent to it, then refresh your "
            "ID token (getIdToken(true)) and try again",
            403,
        )
    try:
        account = firebase_auth.get_user(uid, app=auth.app())
    except firebase_auth.UserNotFoundError as exc:
        raise Unauthenticated("this account no longer exists") from exc
    except FirebaseError as exc:  # pragma: no cover - Auth unavailable
        raise TransientError("could not look the account up in Firebase Auth: retry") from exc
    _not_in_a_tenant((account.custom_claims or {}).get("tenantId"))
    used = store.apps_created_by(uid, MAX_APPS_PER_ACCOUNT + 1)
    if used >= MAX_APPS_PER_ACCOUNT:
        raise Refused(
            "app_limit_reached",
            f"an account may create at most {MAX_APPS_PER_ACCOUNT} apps, and this one has",
            409,
        )
    app_id = f"app{secrets.token_hex(8)}"
    key = keys.generate(app_id)
    created = store.create_app_tenant(
        app_id,
        {
            "kind": "app",
            "name": request.name,
            "plan": "free",
            "createdAt": store.server_time(),
            "createdBy": uid,
            "apiKeyPrefix": keys.prefix(key),
        },
        keys.digest(key),
        {
            "tenantId": app_id,
            "prefix": keys.prefix(key),
            "createdAt": store.server_time(),
            "createdBy": uid,
        },
        owner_slot=(uid, used + 1),
    )
    if not created:
        raise Refused(
            "already_in_a_tenant", "this account is creating another app at this moment (one at a time)", 409
        )
    # The creator owns the app's workspace (issue 18): they invite its developers and admins.
    creator = {"name": claims.get("name"), "email": claims.get("email"), "role": "owner", "active": True}
    store.put_agent(app_id, uid, creator)
    try:
        firebase_auth.set_custom_user_claims(uid, {"tenantId": app_id, "role": "owner"}, app=auth.app())
    except FirebaseError as exc:  # pragma: no cover - Auth unavailable
        raise TransientError("could not grant the app's admin claims: retry") from exc
    log.info("app created", extra={"fields": {"app": app_id}})
    return CreateAppAnswer(appId=app_id, apiKey=key, embedSnippet=embed_snippet(app_id)).model_dump(
        mode="json"
    )


def _not_in_a_tenant(tenant_id: object) -> None:
    if tenant_id:
        raise Refused(
            "already_in_a_tenant",
            f"this account already belongs to {tenant_id!r} (an account holds one tenant): "
            "create the app with another account",
            409,
        )


# --- shared pieces ----------------------------------------------------------------------------------


def _membership(caller: AppCaller, channel_id: str, rate_bucket: str | None = None) -> store.ChatContext:
    """The channel and the caller's membership, or 404 (no such channel) / 403 (not a member)."""
    context = store.chat_context(caller.app_id, channel_id, caller.user, rate_bucket)
    if not context.channel.exists or context.channel.data.get("channel") != APP_CHANNEL:
        raise Refused("channel_not_found", f"no channel {channel_id}", 404)
    if not _is_member(context.member):
        raise Refused("not_a_member", "only the channel's members may do this", 403)
    return context


def _is_member(member: store.Versioned) -> bool:
    return member.exists and bool(member.data.get("role"))


def _new_member(
    role: str, user_id: str, app_id: str, channel_id: str, last_read_seq: int = 0
) -> dict[str, Any]:
    """A member document: ``tenantId``/``channelId`` for the collection-group query of one's channels;
    ``lastReadSeq`` is the channel's ``seq`` when they join (what was posted before is not unread)."""
    return {
        "userId": user_id,
        "tenantId": app_id,
        "channelId": channel_id,
        "role": role,
        "muted": False,
        "lastReadSeq": last_read_seq,
        "lastReadAt": None,
        "lastReadMessageId": None,
        "pushTokens": [],
        "settings": {},
        "joinedAt": store.server_time(),
    }


def _new_channel(app_id: str, kind: str, creator: str, members: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "channel": APP_CHANNEL,
        "channelId": APP_CHANNEL,
        "tenantId": app_id,
        "createdBy": creator,
        "memberCount": len(members),  # no member list here: members/{userId} documents
        "messageCount": 0,
        "seq": 0,
        "createdAt": store.server_time(),
        "updatedAt": store.server_time(),
        "lastActivityAtMs": int(time.time() * 1000),
        **extra,
    }


def join_policy(data: dict[str, Any]) -> models.JoinPolicy | None:
    """A group channel's join policy (``open`` for channels created before policies existed); None
    for direct and support channels, which nobody joins."""
    if data.get("kind", "group") != "group":
        return None
    policy = data.get("joinPolicy")
    return policy if policy in ("open", "invite", "approval") else models.LEGACY_JOIN_POLICY


def _channel(channel_id: str, data: dict[str, Any], me: str | None, member: dict[str, Any] | None) -> Channel:
    kind = data.get("kind", "group")
    name = data.get("name")
    if kind == "direct" and not name:
        others = {k: v for k, v in (data.get("memberNames") or {}).items() if k != me}
        name = next(iter(others.values()), None)
    last = data.get("lastPost") or None
    return Channel(
        id=channel_id,
        kind=kind,
        group=kind == "group",
        name=name,
        memberCount=int(data.get("memberCount") or 0),
        lastMessage=LastPost(
            id=last["id"],
            type=last.get("type"),
            text=last.get("text"),
            userId=last.get("userId"),
            createdAt=last.get("at"),
        )
        if last and last.get("id")
        else None,
        lastMessageText=data.get("lastMessageText"),
        createdAt=data.get("createdAt"),
        updatedAt=data.get("updatedAt"),
        unreadCount=unread_count(data, member) if member is not None else None,
        muted=bool(member.get("muted")) if member is not None else None,
        joinPolicy=join_policy(data),
    )


def unread_count(channel: dict[str, Any], member: dict[str, Any]) -> int:
    """A member's unread posts: ``max(0, channel.seq - member.lastReadSeq)``."""
    return max(0, _int(channel.get("seq")) - _int(member.get("lastReadSeq")))


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _seq_at_join(channel: dict[str, Any]) -> int:
    return _int(channel.get("seq"))


def _roster_join(app_id: str, channel_id: str, user_id: str) -> None:
    """A new member's entry in the channel's push roster (no tokens yet, not muted)."""
    store.roster_put(app_id, channel_id, user_id, tokens=[], muted=False, shard=push.roster_shard(user_id))


def _post(post_id: str, data: dict[str, Any], channel_id: str, group: bool, me: str) -> Post:
    sender = data.get("sender") or {}
    kind = {"user": "user", "agent": "agent"}.get(str(sender.get("kind")), "system")
    content = data.get("content") or {}
    return Post(
        id=post_id,
        clientPostId=data.get("clientPostId") or data.get("clientMessageId"),
        user=PostUser(id=sender.get("id"), name=sender.get("name"), avatar=sender.get("avatar"), kind=kind),
        channel=channel_id,
        group=group,
        information=PostInformation(
            type=str(data.get("type") or "text"),
            text=data.get("text"),
            likes=int(data.get("likes") or 0),
            mediaUrl=content.get("mediaUrl"),
            media=chat_attachments.post_media(content),
        ),
        likedByMe=me in (data.get("likedBy") or {}),
        createdAt=data.get("createdAt"),
        updatedAt=data.get("updatedAt") or data.get("createdAt"),
    )


def _is_post(data: dict[str, Any]) -> bool:
    """Posts and agents' replies are visible to members; agents' private notes are not."""
    return data.get("direction") in ("in", "out")


def _encode_cursor(created_at: datetime, post_id: str) -> str:
    raw = json.dumps({"t": created_at.isoformat(), "id": post_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        at = datetime.fromisoformat(data["t"])
        post_id = str(data["id"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise Refused("invalid_cursor", "cursor is not a nextCursor this API returned") from exc
    if at.tzinfo is None or not re.fullmatch(models.CHANNEL_ID, post_id):
        raise Refused("invalid_cursor", "cursor is not a nextCursor this API returned")
    return at, post_id


# --- the developer's backend ----------------------------------------------------------------------


def token(caller: AppCaller, request: TokenRequest) -> TokenAnswer:
    """A Firebase custom token for one of the app's users (claims tenantId = the app, role user,
    userId = the app's id for the user), and their profile upserted.

    Firebase uids are shared by the whole project, so the account is the app's own: uid
    ``<appId>:<userId>`` (:func:`firebase_uid`). Another app's user of the same id, or a staff
    account, is another account. An account at that uid holding other claims (only an operator
    could make one) is refused rather than signed into."""
    from firebase_admin import auth as firebase_auth
    from firebase_admin.exceptions import FirebaseError

    uid = firebase_uid(caller.app_id, request.userId)
    try:
        existing = firebase_auth.get_user(uid, app=auth.app())
    except firebase_auth.UserNotFoundError:
        existing = None
    except FirebaseError as exc:  # pragma: no cover - Auth unavailable
        raise TransientError("could not look the user up in Firebase Auth: retry") from exc
    held = (existing.custom_claims or {}) if existing is not None else {}
    if held.get("tenantId") not in (None, caller.app_id) or held.get("role") not in (None, "user"):
        raise Refused("user_id_taken", "this user id belongs to another kind of account", 409)
    profile: dict[str, Any] = {"userId": request.userId, "updatedAt": store.server_time()}
    if request.name is not None:
        profile["name"] = request.name
    if request.avatar is not None:
        profile["avatar"] = request.avatar
    store.put_app_user(caller.app_id, request.userId, profile)
    custom = firebase_auth.create_custom_token(
        uid, {"tenantId": caller.app_id, "role": "user", "userId": request.userId}, app=auth.app()
    )
    text = custom.decode() if isinstance(custom, bytes) else str(custom)
    return TokenAnswer(customToken=text, userId=request.userId, tenantId=caller.app_id)


# --- queries ---------------------------------------------------------------------------------------


def server_info(caller: AppCaller, request: ServerInfoRequest) -> ServerInfo:
    """The API version and the limits it applies."""
    return ServerInfo(
        version=VERSION,
        limits=models.Limits(
            postsPerSecondPerUser=metering.POSTS_PER_SECOND,
            freeMessagesPerMonth=metering.PLAN_MONTHLY_MESSAGES["free"],
            maxPostLength=models.MAX_POST_LENGTH,
        ),
    )


def posts(caller: AppCaller, request: PostsRequest) -> PostsAnswer:
    """A page of a channel's posts, newest first (members only). A page may hold fewer than
    ``limit`` posts when agents' private notes are skipped; ``nextCursor`` is null at the end."""
    context = _membership(caller, request.channelId)
    before = _decode_cursor(request.cursor) if request.cursor else None
    rows = store.list_posts(caller.app_id, request.channelId, before, request.limit + 1)
    more = len(rows) > request.limit
    rows = rows[: request.limit]
    group = context.channel.data.get("kind") == "group"
    page = [_post(i, d, request.channelId, group, caller.user) for i, d in rows if _is_post(d)]
    next_cursor = None
    if more and rows and isinstance(rows[-1][1].get("createdAt"), datetime):
        next_cursor = _encode_cursor(rows[-1][1]["createdAt"], rows[-1][0])
    return PostsAnswer(posts=page, nextCursor=next_cursor)


def subs(caller: AppCaller, request: SubsRequest) -> SubsAnswer:
    """A channel's members with their profiles (members only; at most store.CHAT_MEMBER_PAGE)."""
    _membership(caller, request.channelId)
    members = store.chat_members(caller.app_id, request.channelId, limit=store.CHAT_MEMBER_PAGE)
    profiles = store.get_app_users(caller.app_id, [user_id for user_id, _ in members])
    return SubsAnswer(
        members=[
            Member(
                userId=user_id,
                name=profiles.get(user_id, {}).get("name"),
                avatar=profiles.get(user_id, {}).get("avatar"),
                role="owner" if data.get("role") == "owner" else "member",
                joinedAt=data.get("joinedAt"),
            )
            for user_id, data in members
        ]
    )


def mysubs(caller: AppCaller, request: MySubsRequest) -> MySubsAnswer:
    """The caller's channels with their unread count and mute state, latest activity first.

    Found by a collection-group query on the caller's member documents (``userId``, ``tenantId``),
    then the channels by id; ``unreadCount`` is computed: the channel's ``seq`` minus the member's
    ``lastReadSeq`` (no stored counter any more)."""
    rows = [
        (i, d, m)
        for i, d, m in store.chat_channels_of(caller.app_id, caller.user)
        if d.get("channel") == APP_CHANNEL
    ]
    rows.sort(key=lambda row: -int(row[1].get("lastActivityAtMs") or 0))
    return MySubsAnswer(channels=[_channel(i, d, caller.user, m) for i, d, m in rows])


# --- mutations ----------------------------------------------------------------------------------------


def create_post(caller: AppCaller, request: CreatePostRequest) -> Post:
    """Post to a channel (members only). Idempotent on clientPostId: the post id derives from
    (channel, user, clientPostId), so a retry answers the stored post and writes nothing.

    Whatever the member count: 4 document reads (the channel, the caller's membership and profile,
    their rate bucket: one round trip) and one batch of at most 4 writes (the post; the channel
    summary with ``seq`` + 1, or in a channel posting faster than about once a second the post's
    deferred share of it, folded in about once a second; the caller's own ``lastReadSeq`` + 1; the
    rate bucket). No member is read or written. Usage is counted in memory and flushed to a usage
    shard every few seconds (within 100 messages of the monthly limit, in the post's own batch).
    Push notifications are one queued job per post, after the write."""
    bucket = metering.bucket_of(caller.user)
    context = _membership(caller, request.channelId, rate_bucket=bucket)
    metering.admit(caller.app_id, caller.user, context.rate_bucket_count)
    month = metering.month_of()
    with metering.quota_slot(caller.app_id, month) as slot:
        return _write_post(caller, request, context, (month, bucket), slot)


def _write_post(
    caller: AppCaller,
    request: CreatePostRequest,
    context: store.ChatContext,
    counters: tuple[str, str],
    slot: metering.QuotaSlot,
) -> Post:
    """The admitted post's write (create_post's second half), under its reserved quota slot;
    ``counters`` are the usage month and the user's rate bucket."""
    month, bucket = counters
    channel = context.channel.data
    kind = channel.get("kind")
    post_id = ids.doc_id("post", request.channelId, caller.user, request.clientPostId)
    profile = context.user
    name = profile.get("name")
    sender = {"kind": "user", "id": caller.user, "name": name, "avatar": profile.get("avatar")}
    now_ms = int(time.time() * 1000)
    message = {
        "direction": "in",
        "type": request.type,
        "text": request.text,
        "content": {"type": request.type, "text": request.text},
        "sender": sender,
        "channel": APP_CHANNEL,
        "channelId": APP_CHANNEL,
        "clientPostId": request.clientPostId,
        "status": "received",
        "likes": 0,
        "createdAt": store.server_time(),
        "sentAt": store.server_time(),
        "updatedAt": store.server_time(),
        "receivedAt": store.server_time(),
    }
    shown = chat_attachments.attach(caller.app_id, caller.user, request, message, post_id)  # image/file posts
    # Search and the timeline (shared/search/): a support channel's posts are the agents' inbox and
    # searchable by them; a direct or group chat's carry no tenantId, so no staff query reaches them.
    searchable = caller.app_id if kind == "support" else None
    message.update(search.message_fields(searchable, request.channelId, now_ms, message))
    summary = _summary(post_id, request.type, shown, "in", caller.user, name, now_ms)
    part = chat_part(summary, now_ms)
    if kind == "support":
        # The agents' side of a support channel: unread for the inbox, reopened, customer activity.
        summary.update(
            {
                "status": "open",
                "unreadCount": store.increment(1),
                "lastInboundAt": store.server_time(),
                "lastInboundAtMs": store.maximum(now_ms),
                "contactName": name or caller.user,
            }
        )
        part["support"] = {"contactName": name or caller.user}
    try:
        written, _ = publish(
            caller.app_id,
            request.channelId,
            post_id,
            message,
            summary,
            poster=caller.user,
            part=part,
            rate_bucket=bucket,
            usage=(month, metering.pick_shard()) if slot.in_batch else None,
        )
    except store.MemberGone as exc:
        raise Refused("not_a_member", "only the channel's members may do this", 403) from exc
    if written is None:
        existing = store.get_post(caller.app_id, request.channelId, post_id)
        return _post(post_id, existing.data, request.channelId, kind == "group", caller.user)
    slot.commit()
    # A deferred post's seq is not known yet (the fold counts it): the channel's as read, plus one.
    seq = written.seq if written.seq is not None else _int(channel.get("seq")) + 1
    notify(caller.app_id, request.channelId, channel, post_id, caller.user, name, shown, seq)
    stored = {**message, "createdAt": written.created_at, "updatedAt": written.created_at}
    return _post(post_id, stored, request.channelId, kind == "group", caller.user)


def _summary(
    post_id: str, kind: str, text: str | None, direction: str, user_id: str, name: str | None, now_ms: int
) -> dict[str, Any]:
    """A channel's summary after a post: field transforms only, no read of the channel document;
    ``seq`` counts the post (unread = seq - lastReadSeq)."""
    return {
        "lastMessage": {
            "id": post_id,
            "type": kind,
            "text": text,
            "direction": direction,
            "at": store.server_time(),
            "senderId": user_id,
            "senderName": name,
        },
        "lastPost": {"id": post_id, "type": kind, "text": text, "userId": user_id, "at": store.server_time()},
        "lastMessageText": text,
        "lastActivityAt": store.server_time(),
        "lastActivityAtMs": store.maximum(now_ms),
        "updatedAt": store.server_time(),
        "messageCount": store.increment(1),
        "seq": store.increment(1),
    }


def chat_part(summary: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """A post's share of its channel's summary, for a hot channel (shared/inbox._chat_folded folds
    it): plain data but the time it was stored."""
    return {
        "chat": True,
        "atMs": now_ms,
        "lastMessage": summary["lastMessage"],
        "lastPost": summary["lastPost"],
        "lastMessageText": summary.get("lastMessageText"),
        "receivedAt": store.server_time(),
    }


def publish(
    app_id: str,
    channel_id: str,
    post_id: str,
    message: dict[str, Any],
    summary: dict[str, Any],
    *,
    poster: str | None,
    part: dict[str, Any] | None = None,
    rate_bucket: str | None = None,
    usage: tuple[str, int] | None = None,
) -> tuple[store.WrittenPost | None, bool]:
    """Write a post (or an agent's reply): the message and the channel summary (``seq`` + 1), or
    with ``part``, in a hot channel, the post's deferred share instead; ``poster``'s own
    ``lastReadSeq`` + 1 (None for agents, who are not members); the rate bucket; with ``usage``
    (month, shard) a usage shard + 1. Return (when it was written, or None for a duplicate; whether
    the summary was deferred). Raises MemberGone if the poster is no longer a member."""
    written: list[store.WrittenPost | None] = [None]

    def write(direct: bool) -> bool:
        written[0] = store.write_post(
            store.NewPost(
                tenant_id=app_id,
                channel_id=channel_id,
                post_id=post_id,
                message=message,
                summary=summary,
                poster=poster,
                summary_part=None if direct else part,
                usage_month=usage[0] if usage else None,
                usage_count=1 if usage else 0,
                usage_shard=usage[1] if usage else 0,
                rate_bucket=rate_bucket,
            )
        )
        return written[0] is not None

    if part is None:
        write(True)
        return written[0], False
    deferred = inbox.create_paced(app_id, channel_id, write)
    return written[0], deferred


def notify(
    app_id: str,
    channel_id: str,
    channel: dict[str, Any],
    post_id: str,
    sender_id: str,
    sender_name: str | None,
    text: str,
    seq: int,
) -> None:
    """Queue the push job of a new post (shared/chat/push.py: one Cloud Task per post, which reads
    the channel's push roster and sends FCM in batches). Never fails the post."""
    channel_name = channel.get("name") if channel.get("kind") == "group" else None
    push.enqueue_post_push(app_id, channel_id, post_id, sender_id, sender_name, text, channel_name, seq)


def like_post(caller: AppCaller, request: LikePostRequest) -> LikeAnswer:
    """Toggle the caller's like of a post (members only); optimistic, no transaction."""
    _membership(caller, request.channelId)
    liker = store.field_path("likedBy", caller.user)
    for _ in range(READ_RETRIES):
        post = store.get_post(caller.app_id, request.channelId, request.postId)
        if not post.exists or not _is_post(post.data):
            raise Refused("post_not_found", f"no post {request.postId} in this channel", 404)
        liked = caller.user in (post.data.get("likedBy") or {})
        likes = int(post.data.get("likes") or 0)
        change = {
            liker: store.delete_field() if liked else True,
            "likes": store.increment(-1 if liked else 1),
            "updatedAt": store.server_time(),
        }
        if store.update_post_if(caller.app_id, request.channelId, request.postId, change, post.update_time):
            return LikeAnswer(
                postId=request.postId, likes=max(likes + (-1 if liked else 1), 0), likedByMe=not liked
            )
    raise TransientError("the post kept changing: retry")


def create_sub(caller: AppCaller, request: CreateSubRequest) -> Channel:
    """Join a group channel as its join policy allows, create one (the creator is its owner; policy
    ``joinPolicy``, default invite), or open the caller's support channel (``support: true``).

    An app user's client joins only ``open`` channels (``invite``: a member adds them with
    addMember; ``approval``: requestJoin) and cannot give a new channel an id of its choosing (it
    could squat an id the app's backend means to create); the app's backend, with its API key,
    does both."""
    if request.support:
        return _open_support(caller)
    channel_id = request.channelId or f"g{uuid.uuid4().hex[:20]}"
    for _ in range(2):
        context = store.chat_context(caller.app_id, channel_id, caller.user)
        if context.channel.exists:
            return _join(caller, channel_id, context)
        if request.channelId and caller.via != "api_key":
            raise Refused(
                "channel_not_found",
                f"no channel {channel_id} (a client creates channels without naming them; the app's "
                "backend creates named ones)",
                404,
            )
        policy = request.joinPolicy or models.DEFAULT_JOIN_POLICY
        created = store.create_chat_channel(
            caller.app_id,
            channel_id,
            _new_channel(
                caller.app_id, "group", caller.user, [caller.user], name=request.name, joinPolicy=policy
            ),
            {caller.user: _new_member("owner", caller.user, caller.app_id, channel_id)},
        )
        if created:
            _roster_join(caller.app_id, channel_id, caller.user)
            return _fresh_channel(caller, channel_id)
        # Created by someone else a moment ago: join it.
    raise TransientError("the channel was being created concurrently: retry")


def _join(caller: AppCaller, channel_id: str, context: store.ChatContext) -> Channel:
    data = context.channel.data
    if data.get("channel") != APP_CHANNEL:
        raise Refused("channel_not_found", f"no channel {channel_id}", 404)
    if _is_member(context.member):
        return _channel(channel_id, data, caller.user, context.member.data)
    if data.get("kind") != "group":
        raise Refused("not_joinable", "only group channels can be joined", 403)
    _may_join(caller, data)
    _add(caller.app_id, channel_id, caller.user, data)
    return _fresh_channel(caller, channel_id)


def _add(app_id: str, channel_id: str, user_id: str, channel: dict[str, Any]) -> bool:
    """Make ``user_id`` a member of a group channel whose document is ``channel`` (as read): their
    member document (``lastReadSeq``: the channel's ``seq`` now), ``memberCount`` + 1, and their
    push roster entry. Two writes and the roster's one, whatever the channel's size. False if they
    already were a member."""
    member = _new_member("member", user_id, app_id, channel_id, _seq_at_join(channel))
    joined = store.join_chat_channel(app_id, channel_id, user_id, member)
    if joined:
        _roster_join(app_id, channel_id, user_id)
    return joined


def _may_join(caller: AppCaller, data: dict[str, Any]) -> None:
    """Refuse a client joining a group on its own unless the channel is open (the backend may)."""
    if caller.via == "api_key":
        return
    policy = join_policy(data)
    if policy == "invite":
        raise Refused(
            "invite_only", "this channel is invite-only: a member adds you (addMember), or the app does", 403
        )
    if policy == "approval":
        raise Refused(
            "approval_required",
            "this channel asks for approval: ask with requestJoin; its owner decides",
            403,
        )


def _fresh_channel(caller: AppCaller, channel_id: str) -> Channel:
    context = store.chat_context(caller.app_id, channel_id, caller.user)
    return _channel(channel_id, context.channel.data, caller.user, context.member.data or None)


def _open_support(caller: AppCaller) -> Channel:
    """The caller's support conversation with the app's agents: one per user (deterministic id), in
    the agents' inbox (kind support, status open, ordered by lastActivityAtMs), always open for
    replies (no provider window)."""
    channel_id = ids.conversation_id(APP_CHANNEL, caller.user)
    profile = store.get_app_users(caller.app_id, [caller.user]).get(caller.user, {})
    created = store.create_chat_channel(
        caller.app_id,
        channel_id,
        _new_channel(
            caller.app_id,
            "support",
            caller.user,
            [caller.user],
            name="Support",
            status="open",
            contactId=ids.contact_id(APP_CHANNEL, caller.user),
            contactExternalId=caller.user,
            contactName=profile.get("name") or caller.user,
            replyWindow={"needs": None},  # an app has no provider window: replies are always allowed
            unreadCount=0,  # the agents' unread (the inbox), not an app user's
            assigned=0,  # the inbox's "unassigned" filter (shared/store/labels.py)
        ),
        {caller.user: _new_member("owner", caller.user, caller.app_id, channel_id)},
    )
    if created:
        _roster_join(caller.app_id, channel_id, caller.user)
    return _fresh_channel(caller, channel_id)


def create_pm(caller: AppCaller, request: CreatePMRequest) -> Channel:
    """The one direct channel between the caller and ``userId``: its id derives from the sorted pair
    and it is written with ``create()``, so concurrent calls (from either side) create it once."""
    me, other = caller.user, request.userId
    if me == other:
        raise Refused("cannot_message_self", "a direct channel needs another user")
    profiles = store.get_app_users(caller.app_id, [me, other])
    if other not in profiles:
        raise Refused(
            "user_not_found", f"no user {other} in this app (the backend creates users with token)", 404
        )
    pair = sorted((me, other))
    channel_id = ids.doc_id("pm", *pair)
    created = store.create_chat_channel(
        caller.app_id,
        channel_id,
        _new_channel(
            caller.app_id,
            "direct",
            me,
            pair,
            memberNames={user_id: profiles.get(user_id, {}).get("name") or user_id for user_id in pair},
        ),
        {user_id: _new_member("member", user_id, caller.app_id, channel_id) for user_id in pair},
    )
    if created:
        for user_id in pair:
            _roster_join(caller.app_id, channel_id, user_id)
    return _fresh_channel(caller, channel_id)


def delete_sub(caller: AppCaller, request: ChannelRequest) -> LeaveAnswer:
    """Leave a group channel (direct and support channels cannot be left; mute them instead)."""
    context = _membership(caller, request.channelId)
    if context.channel.data.get("kind") != "group":
        raise Refused("cannot_leave", "only group channels can be left; mute this one instead (toggleSub)")
    left = store.leave_chat_channel(caller.app_id, request.channelId, caller.user)
    if not left:
        raise Refused("not_a_member", "only the channel's members may do this", 403)
    store.roster_remove(caller.app_id, request.channelId, caller.user, shard=push.roster_shard(caller.user))
    return LeaveAnswer(channelId=request.channelId, left=True)


def toggle_sub(caller: AppCaller, request: ChannelRequest) -> MuteAnswer:
    """Mute or unmute a channel for the caller (muted: no push notifications)."""
    context = _membership(caller, request.channelId)
    member = context.member
    for _ in range(READ_RETRIES):
        muted = not member.data.get("muted")
        if store.update_chat_member(
            caller.app_id, request.channelId, caller.user, {"muted": muted}, if_version=member.update_time
        ):
            store.roster_put(
                caller.app_id,
                request.channelId,
                caller.user,
                muted=muted,
                shard=push.roster_shard(caller.user),
            )
            return MuteAnswer(channelId=request.channelId, muted=muted)
        member = store.get_chat_member(caller.app_id, request.channelId, caller.user)
        if not _is_member(member):
            raise Refused("not_a_member", "only the channel's members may do this", 403)
    raise TransientError("the membership kept changing: retry")


def set_read(caller: AppCaller, request: SetReadRequest) -> ReadAnswer:
    """Move the caller's read pointer and answer their unread count (``seq - lastReadSeq``).

    - With ``seq`` (the channel's ``seq`` the client has seen, from its listener or an answer):
      one write and no read. ``lastReadSeq`` becomes at least ``seq`` (it never moves back);
      ``postId``, if given too, is recorded as the post read up to, unchecked.
    - With neither: read up to the latest post: one read (the channel document) and one write.
    - With ``postId`` alone (the rarer path, which costs more): the pointer moves to that post,
      back as well as forward: the channel, the caller's membership and the post are read and two
      aggregation counts find the posts by others after it (about 5 reads and one write).

    Membership is checked by the write itself (the member document must exist). ``viewing: true``
    says the channel is open on screen: push skips this member for the next few minutes (the push
    roster's ``viewingUntil``, refreshed at most every two minutes per member). Clients call this at
    most every few seconds while a channel is open, and once when it closes. In a channel hot enough
    to defer its summary (shared/inbox.py), ``seq`` lags its posts by about a second."""
    if request.postId is not None and request.seq is None:
        return _read_to_post(caller, request)
    change: dict[str, Any] = {"readUpdatedAt": store.server_time()}
    channel: dict[str, Any] | None = None  # read only when the client did not say what it saw
    if request.seq is not None:
        seen = request.seq
        if request.postId is not None:
            change["lastReadMessageId"] = request.postId
        post_id, at = request.postId, None
    else:
        channel = _app_channel(caller.app_id, request.channelId)
        seen = _int(channel.get("seq"))
        last = channel.get("lastPost") or {}
        post_id, at = last.get("id"), last.get("at")
        change["lastReadMessageId"] = post_id
        change["lastReadAt"] = at
    change["lastReadSeq"] = store.maximum(seen)
    result = store.update_chat_member_transforms(caller.app_id, request.channelId, caller.user, change)
    if result is None:
        if channel is None:
            _app_channel(caller.app_id, request.channelId)  # 404 rather than 403 for no such channel
        raise Refused("not_a_member", "only the channel's members may do this", 403)
    read_at, values = result
    last_read_seq = _int(values.get("lastReadSeq", seen))
    if request.viewing:
        _viewing(caller, request.channelId)
    return ReadAnswer(
        channelId=request.channelId,
        lastReadPostId=post_id,
        lastReadAt=at,
        readAt=read_at,
        unreadCount=max(0, seen - last_read_seq),
        seq=seen,
    )


def _app_channel(app_id: str, channel_id: str) -> dict[str, Any]:
    """A chat channel's document, or 404."""
    data = store.get_conversation(app_id, channel_id) or {}
    if data.get("channel") != APP_CHANNEL:
        raise Refused("channel_not_found", f"no channel {channel_id}", 404)
    return data


def _read_to_post(caller: AppCaller, request: SetReadRequest) -> ReadAnswer:
    """setRead with ``postId`` alone: the pointer at that post (it may move back: "unread from
    here"). ``lastReadSeq = seq - posts by others created after it``: read the channel before
    counting, so a post landing in between is counted unread, never lost."""
    context = _membership(caller, request.channelId)
    post = store.get_post(caller.app_id, request.channelId, str(request.postId))
    if not post.exists or not _is_post(post.data):
        raise Refused("post_not_found", f"no post {request.postId} in this channel", 404)
    at = post.data.get("createdAt")
    seq = _int(context.channel.data.get("seq"))
    after = store.count_unread(caller.app_id, request.channelId, caller.user, at)
    last_read_seq = max(0, seq - after)
    change = {
        "lastReadSeq": last_read_seq,
        "lastReadAt": at,
        "lastReadMessageId": request.postId,
        "readUpdatedAt": store.server_time(),
    }
    read_at = store.update_chat_member(caller.app_id, request.channelId, caller.user, change)
    if read_at is None:
        raise Refused("not_a_member", "only the channel's members may do this", 403)
    if request.viewing:
        _viewing(caller, request.channelId)
    return ReadAnswer(
        channelId=request.channelId,
        lastReadPostId=request.postId,
        lastReadAt=at,
        readAt=read_at,
        unreadCount=seq - last_read_seq,
        seq=seq,
    )


_viewing_marks: dict[tuple[str, str, str], float] = {}  # (app, channel, user) -> last roster write
_viewing_lock = threading.Lock()
VIEWING_MARKS_KEPT = 50_000


def _viewing(caller: AppCaller, channel_id: str) -> None:
    """Refresh the caller's ``viewingUntil`` in the push roster (push.viewing_until: now + a few
    minutes), at most once per push.VIEWING_REFRESH_SECONDS per member on this instance, so a roster
    shard of 100 members stays under one write a second. No read: the shard is a hash of the id."""
    key = (caller.app_id, channel_id, caller.user)
    now = time.monotonic()
    with _viewing_lock:
        last = _viewing_marks.get(key)
        if last is not None and now - last < push.VIEWING_REFRESH_SECONDS:
            return
        if len(_viewing_marks) >= VIEWING_MARKS_KEPT:
            _viewing_marks.clear()
        _viewing_marks[key] = now
    store.roster_put(
        caller.app_id,
        channel_id,
        caller.user,
        viewing_until=push.viewing_until(),
        shard=push.roster_shard(caller.user),
    )


def upsert_sub(caller: AppCaller, request: UpsertSubRequest) -> Subscription:
    """Register a device push token and/or merge settings into the caller's membership; the token
    also goes to the channel's push roster. ``unreadCount`` is computed (``seq - lastReadSeq``)."""
    context = _membership(caller, request.channelId)
    change: dict[str, Any] = {}
    if request.pushToken:
        change["pushTokens"] = store.array_union([request.pushToken])
    for name, value in (request.settings or {}).items():
        change[store.field_path("settings", name)] = value
    if change and not store.update_chat_member(caller.app_id, request.channelId, caller.user, change):
        raise Refused("not_a_member", "only the channel's members may do this", 403)
    member = store.get_chat_member(caller.app_id, request.channelId, caller.user).data
    tokens = [t for t in member.get("pushTokens") or [] if isinstance(t, str)]
    if request.pushToken:
        store.roster_put(
            caller.app_id,
            request.channelId,
            caller.user,
            tokens=tokens,
            shard=push.roster_shard(caller.user),
        )
    return Subscription(
        channelId=request.channelId,
        role="owner" if member.get("role") == "owner" else "member",
        muted=bool(member.get("muted")),
        unreadCount=unread_count(context.channel.data, member),
        lastReadPostId=member.get("lastReadMessageId"),
        pushTokenCount=len(tokens),
        settings=member.get("settings") or {},
    )


# --- who joins a group channel ----------------------------------------------------------------------


def _group(caller: AppCaller, channel_id: str, *, owner_only: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """A group channel the caller may manage, as (channel, the caller's member document or {} for the
    app's backend): the app's backend (API key) manages any; a client must be a member, and its
    owner when ``owner_only``."""
    if caller.via == "api_key":
        data = store.get_conversation(caller.app_id, channel_id) or {}
        member: dict[str, Any] = {}
        if not data or data.get("channel") != APP_CHANNEL:
            raise Refused("channel_not_found", f"no channel {channel_id}", 404)
    else:
        context = _membership(caller, channel_id)
        data, member = context.channel.data, context.member.data
    if data.get("kind") != "group":
        raise Refused("not_joinable", "only group channels have members to manage", 403)
    if owner_only and caller.via != "api_key" and member.get("role") != "owner":
        raise Refused("not_channel_owner", "only the channel's owner (or the app's backend) may do this", 403)
    return data, member


def _channel_for(caller: AppCaller, channel_id: str) -> Channel:
    if caller.user_id is not None:
        return _fresh_channel(caller, channel_id)
    return _channel(channel_id, store.get_conversation(caller.app_id, channel_id) or {}, None, None)


def add_member(caller: AppCaller, request: AddMemberRequest) -> Member:
    """Add a user of the app to a group channel (idempotent). Any member may add users to an open
    or invite-only channel; under the approval policy only its owner may (adding is approving). The
    app's backend, with its API key, may add anyone to any group."""
    data, member = _group(caller, request.channelId, owner_only=False)
    if caller.via != "api_key" and join_policy(data) == "approval" and member.get("role") != "owner":
        raise Refused(
            "not_channel_owner", "in a channel that asks for approval only its owner adds users", 403
        )
    if request.userId not in store.get_app_users(caller.app_id, [request.userId]):
        raise Refused(
            "user_not_found",
            f"no user {request.userId} in this app (the backend creates users with token)",
            404,
        )
    _add(caller.app_id, request.channelId, request.userId, data)
    return _member(caller.app_id, request.channelId, request.userId)


def _member(app_id: str, channel_id: str, user_id: str) -> Member:
    data = store.get_chat_member(app_id, channel_id, user_id).data
    profile = store.get_app_users(app_id, [user_id]).get(user_id, {})
    return Member(
        userId=user_id,
        name=profile.get("name"),
        avatar=profile.get("avatar"),
        role="owner" if data.get("role") == "owner" else "member",
        joinedAt=data.get("joinedAt"),
    )


def set_join_policy(caller: AppCaller, request: SetJoinPolicyRequest) -> Channel:
    """Change who may join a group channel: its owner, or the app's backend. Pending join requests
    stay for the owner to decide whatever the policy becomes."""
    _group(caller, request.channelId, owner_only=True)
    store.update_conversation(
        caller.app_id, request.channelId, {"joinPolicy": request.joinPolicy, "updatedAt": store.server_time()}
    )
    return _channel_for(caller, request.channelId)


def request_join(caller: AppCaller, request: RequestJoinRequest) -> JoinRequestAnswer:
    """Ask to join a group channel: an open one is joined at once; under approval the request is
    recorded for the owner (asking again changes nothing, a declined request stays declined until the
    owner approves it); an invite-only one refuses (403 invite_only). The app's backend joins the
    user at once under any policy."""
    context = store.chat_context(caller.app_id, request.channelId, caller.user)
    data = context.channel.data
    if not context.channel.exists or data.get("channel") != APP_CHANNEL:
        raise Refused("channel_not_found", f"no channel {request.channelId}", 404)
    answer = JoinRequestAnswer(channelId=request.channelId, userId=caller.user, status="joined")
    if _is_member(context.member):
        return answer
    if data.get("kind") != "group":
        raise Refused("not_joinable", "only group channels can be joined", 403)
    if caller.via != "api_key" and join_policy(data) == "approval":
        stored = store.create_join_request(
            caller.app_id,
            request.channelId,
            caller.user,
            {
                "userId": caller.user,
                "status": "pending",
                "message": request.message,
                "requestedAt": store.server_time(),
            },
        )
        status = "declined" if stored.get("status") == "declined" else "pending"
        return JoinRequestAnswer(channelId=request.channelId, userId=caller.user, status=status)
    _may_join(caller, data)
    _add(caller.app_id, request.channelId, caller.user, data)
    return answer


def join_requests(caller: AppCaller, request: JoinRequestsRequest) -> JoinRequestsAnswer:
    """A group channel's pending join requests, oldest first: its owner, or the app's backend."""
    _group(caller, request.channelId, owner_only=True)
    pending = store.pending_join_requests(caller.app_id, request.channelId)
    profiles = store.get_app_users(caller.app_id, [user_id for user_id, _ in pending])
    pending.sort(key=lambda row: (_timestamp(row[1].get("requestedAt")), row[0]))
    return JoinRequestsAnswer(
        requests=[
            JoinRequest(
                userId=user_id,
                name=profiles.get(user_id, {}).get("name"),
                avatar=profiles.get(user_id, {}).get("avatar"),
                message=data.get("message"),
                requestedAt=data.get("requestedAt"),
            )
            for user_id, data in pending
        ]
    )


def _timestamp(value: object) -> float:
    return value.timestamp() if isinstance(value, datetime) else 0.0


def decide_join(caller: AppCaller, request: DecideJoinRequest) -> JoinRequestAnswer:
    """Approve (the user joins) or decline a join request: the channel's owner, or the app's backend.
    A declined request may still be approved later."""
    data, _ = _group(caller, request.channelId, owner_only=True)
    if store.get_join_request(caller.app_id, request.channelId, request.userId) is None:
        if _is_member(store.get_chat_member(caller.app_id, request.channelId, request.userId)):
            return JoinRequestAnswer(channelId=request.channelId, userId=request.userId, status="joined")
        raise Refused("join_request_not_found", f"{request.userId} has not asked to join this channel", 404)
    if request.approve:
        _add(caller.app_id, request.channelId, request.userId, data)
        return JoinRequestAnswer(channelId=request.channelId, userId=request.userId, status="joined")
    store.decline_join_request(caller.app_id, request.channelId, request.userId, caller.user_id)
    return JoinRequestAnswer(channelId=request.channelId, userId=request.userId, status="declined")


# --- the operation table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One API operation: its models, its handler and who may call it."""

    name: str
    kind: Literal["query", "mutation", "app"]
    request: type[BaseModel]
    answer: type[BaseModel]
    run: Callable[[AppCaller, Any], BaseModel]
    summary: str
    errors: tuple[int, ...] = (400, 401, 403, 404)
    api_key_only: bool = False
    needs_user: bool = True


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation(
            "token",
            "app",
            TokenRequest,
            TokenAnswer,
            token,
            "Mint a Firebase custom token for a user (the app's backend, API key only)",
            errors=(400, 401, 403, 409),
            api_key_only=True,
            needs_user=False,
        ),
        Operation(
            "serverInfo",
            "query",
            ServerInfoRequest,
            ServerInfo,
            server_info,
            "The API version and limits",
            errors=(400, 401, 403),
            needs_user=False,
        ),
        Operation("posts", "query", PostsRequest, PostsAnswer, posts, "A page of a channel's posts"),
        Operation("subs", "query", SubsRequest, SubsAnswer, subs, "A channel's members"),
        Operation(
            "mysubs", "query", MySubsRequest, MySubsAnswer, mysubs, "My channels", errors=(400, 401, 403)
        ),
        Operation(
            "createPost",
            "mutation",
            CreatePostRequest,
            Post,
            create_post,
            "Post to a channel (idempotent on clientPostId)",
            errors=(400, 401, 403, 404, 429),
        ),
        Operation("likePost", "mutation", LikePostRequest, LikeAnswer, like_post, "Toggle my like of a post"),
        Operation("createSub", "mutation", CreateSubRequest, Channel, create_sub, "Join or create a channel"),
        Operation(
            "createPM", "mutation", CreatePMRequest, Channel, create_pm, "The direct channel with a user"
        ),
        Operation("deleteSub", "mutation", ChannelRequest, LeaveAnswer, delete_sub, "Leave a group channel"),
        Operation(
            "toggleSub", "mutation", ChannelRequest, MuteAnswer, toggle_sub, "Mute or unmute a channel"
        ),
        Operation(
            "setRead",
            "mutation",
            SetReadRequest,
            ReadAnswer,
            set_read,
            "Move my read pointer (with seq: one write, no read)",
        ),
        Operation(
            "upsertSub",
            "mutation",
            UpsertSubRequest,
            Subscription,
            upsert_sub,
            "My channel settings and device push token",
        ),
        Operation(
            "addMember",
            "mutation",
            AddMemberRequest,
            Member,
            add_member,
            "Add a user to a group channel (a member, or the app's backend)",
            needs_user=False,
        ),
        Operation(
            "setJoinPolicy",
            "mutation",
            SetJoinPolicyRequest,
            Channel,
            set_join_policy,
            "Who may join a group channel: open, invite or approval (its owner, or the app's backend)",
            needs_user=False,
        ),
        Operation(
            "requestJoin",
            "mutation",
            RequestJoinRequest,
            JoinRequestAnswer,
            request_join,
            "Ask to join a group channel (joined at once if open, pending if it asks for approval)",
        ),
        Operation(
            "joinRequests",
            "query",
            JoinRequestsRequest,
            JoinRequestsAnswer,
            join_requests,
            "A group channel's pending join requests (its owner, or the app's backend)",
            needs_user=False,
        ),
        Operation(
            "decideJoin",
            "mutation",
            DecideJoinRequest,
            JoinRequestAnswer,
            decide_join,
            "Approve or decline a join request (the channel's owner, or the app's backend)",
            needs_user=False,
        ),
    )
}
# Media (shared/chat/media.py): signed URLs for one file, for the channel's members.
OPERATIONS.update(
    {
        "mediaUrl": Operation(
            "mediaUrl",
            "query",
            chat_media.MediaUrlRequest,
            chat_media.MediaUrlAnswer,
            chat_media.media_url,
            "A signed URL (5 minutes) for one file of a post (a member of its channel)",
            errors=(400, 401, 403, 404, 409),
        ),
        "uploadUrl": Operation(
            "uploadUrl",
            "mutation",
            chat_media.UploadUrlRequest,
            chat_media.UploadUrlAnswer,
            chat_media.upload_url,
            "A signed resumable upload URL (15 minutes) for a file to post (a member of the channel)",
            errors=(400, 401, 403, 413),
        ),
    }
)


def call(name: str, body: bytes, authorization: str | None, user_header: str | None) -> dict[str, Any]:
    """Run one operation: authenticate, validate the body, run, and return the answer as JSON data."""
    operation = OPERATIONS.get(name)
    if operation is None:
        raise Refused("unknown_operation", f"no operation {name!r}: see GET /openapi.json", 404)
    caller = authenticate(
        authorization, user_header, api_key_only=operation.api_key_only, needs_user=operation.needs_user
    )
    request = operation.request.model_validate_json(body or b"{}")  # no body is {}; blank is not JSON
    return operation.run(caller, request).model_dump(mode="json")
