"""The chat API's requests and answers: frozen pydantic v2 models, one pair per operation.

They are the contract: the function validates every body with them, answers are built from them,
and ``GET /openapi.json`` is generated from their JSON schemas (shared/chat/openapi.py). Field names
are camelCase, as clients see them. Ids that become Firestore document ids are restricted to
characters that are always valid there (no ``/``, no leading ``.`` or ``_``: ``__x__`` ids are
reserved by Firestore).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

MAX_POST_LENGTH = 4000
MAX_SEQ = 2**53 - 1  # a channel's post counter: what JSON numbers hold exactly (Firestore: int64)

CHANNEL_ID = r"^[A-Za-z0-9-][A-Za-z0-9_-]{0,63}$"
USER_ID = r"^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$"
CLIENT_POST_ID = r"^[A-Za-z0-9_.:-]{1,128}$"
HTTP_URL = r"^https?://\S+$"

# Who may join a group channel (shared/chat/api.py). A channel created before policies existed has
# no ``joinPolicy`` field and behaves as ``open``; new channels default to ``invite``.
JoinPolicy = Literal["open", "invite", "approval"]
DEFAULT_JOIN_POLICY: JoinPolicy = "invite"
LEGACY_JOIN_POLICY: JoinPolicy = "open"


class Request(BaseModel):
    """Base of every request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Answer(BaseModel):
    """Base of every answer."""

    model_config = ConfigDict(frozen=True)


ChannelId = Annotated[
    str, Field(pattern=CHANNEL_ID, description="A channel (conversation) id.", examples=["general"])
]
PostId = Annotated[str, Field(pattern=CHANNEL_ID, description="A post id.")]
SettingName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]
SettingValue = str | int | bool | None


def _json_integer(value: object) -> object:
    """What JSON Schema calls an integer: a number with no fractional part (``80`` or ``80.0``), never
    a string or a boolean (pydantic's lax mode would take ``"80"``; its strict mode refuses ``80.0``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be an integer")
        return int(value)
    return value


JsonInt = Annotated[int, BeforeValidator(_json_integer)]


# --- the developer's backend ---------------------------------------------------------------------


class TokenRequest(Request):
    """Mint a Firebase custom token for one of the app's users (API key only)."""

    userId: str = Field(
        pattern=USER_ID,
        description="The app's own id for the user. Its Firebase account is namespaced by the app "
        "(uid ``<appId>:<userId>``); the ID token carries the user id in the ``userId`` claim.",
        examples=["alice"],
    )
    name: str | None = Field(default=None, min_length=1, max_length=200)
    avatar: str | None = Field(default=None, max_length=2048, pattern=HTTP_URL)


class TokenAnswer(Answer):
    """A custom token the user's client exchanges for a Firebase ID token (signInWithCustomToken)."""

    customToken: str
    userId: str
    tenantId: str


class CreateAppRequest(Request):
    """``create_app``: a signed-in developer names a new app."""

    name: str = Field(min_length=1, max_length=120, pattern=r"\S")


class CreateAppAnswer(Answer):
    """The new app; ``apiKey`` is shown this once and stored only as a hash."""

    appId: str
    apiKey: str
    embedSnippet: str


# --- queries -------------------------------------------------------------------------------------


class ServerInfoRequest(Request):
    """No parameters."""


class Limits(Answer):
    """The limits every app runs under."""

    postsPerSecondPerUser: int
    freeMessagesPerMonth: int
    maxPostLength: int


class ServerInfo(Answer):
    """What this server is and the limits it applies."""

    version: str
    limits: Limits


class PostsRequest(Request):
    """A page of a channel's posts, newest first."""

    channelId: ChannelId
    cursor: str | None = Field(
        default=None, max_length=512, description="nextCursor of the previous page; omit for the newest."
    )
    limit: JsonInt = Field(default=50, ge=1, le=100)


class PostUser(Answer):
    """Who wrote a post: an app user, or an agent answering in a support channel."""

    id: str | None
    name: str | None = None
    avatar: str | None = None
    kind: Literal["user", "agent", "system"] = "user"


class PostMedia(Answer):
    """One stored file of a post: what it is, and whether it can be shown yet."""

    index: int = Field(description="Its index, for mediaUrl.")
    state: Literal["pending", "stored", "failed"] = "stored"
    contentType: str | None = Field(default=None, description="Sniffed from the bytes.")
    size: int | None = None
    fileName: str | None = None
    width: int | None = None
    height: int | None = None
    hasThumbnail: bool = False


class PostInformation(Answer):
    """What a post says."""

    type: str = Field(
        description="text, image or file for posts; an agent's reply may also be audio, video..."
    )
    text: str | None
    likes: int = 0
    mediaUrl: str | None = None
    media: list[PostMedia] = Field(
        default_factory=list,
        description="The files of an image or file post (a signed URL for each comes from mediaUrl).",
    )


class Post(Answer):
    """One post of a channel."""

    id: str
    clientPostId: str | None = None
    user: PostUser
    channel: str = Field(description="The channel id.")
    group: bool = Field(description="True in a group channel.")
    information: PostInformation
    likedByMe: bool = False
    createdAt: datetime | None
    updatedAt: datetime | None


class PostsAnswer(Answer):
    """A page of posts, newest first; pass ``nextCursor`` back for older ones (null: no more)."""

    posts: list[Post]
    nextCursor: str | None


class SubsRequest(Request):
    """A channel's members."""

    channelId: ChannelId


class Member(Answer):
    """One member of a channel."""

    userId: str
    name: str | None = None
    avatar: str | None = None
    role: Literal["owner", "member"]
    joinedAt: datetime | None = None


class SubsAnswer(Answer):
    """A channel's members (at most 1,000)."""

    members: list[Member]


class MySubsRequest(Request):
    """No parameters: the caller's channels."""


class LastPost(Answer):
    """The latest post of a channel, as its summary keeps it."""

    id: str
    type: str | None = None
    text: str | None = None
    userId: str | None = None
    createdAt: datetime | None = None


class Channel(Answer):
    """A channel: a group, a direct conversation between two users, or a support conversation with
    the app's agents. ``unreadCount`` and ``muted`` are the caller's."""

    id: str
    kind: Literal["group", "direct", "support"]
    group: bool
    name: str | None = None
    memberCount: int = 0
    lastMessage: LastPost | None = None
    lastMessageText: str | None = None
    createdAt: datetime | None = None
    updatedAt: datetime | None = None
    unreadCount: int | None = Field(
        default=None,
        description="The caller's unread posts, computed as max(0, seq - lastReadSeq): the channel's "
        "post counter minus the caller's read watermark (no longer a stored counter). In a channel "
        "posting faster than about once a second it lags the posts by about a second.",
    )
    muted: bool | None = None
    joinPolicy: JoinPolicy | None = Field(
        default=None,
        description="Who may join (group channels only): open (any user of the app), invite (added by "
        "a member or by the app's backend), approval (requestJoin, then the owner decides).",
    )


class MySubsAnswer(Answer):
    """The caller's channels, latest activity first (at most 500)."""

    channels: list[Channel]


# --- mutations -----------------------------------------------------------------------------------


class PostAttachment(Request):
    """A file the user uploaded first (``uploadUrl`` answered its ``path``), posted by reference.
    Only ``path`` is trusted: the stored object's size, and its type sniffed from its bytes, decide."""

    path: str = Field(
        min_length=1,
        max_length=1024,
        description="The object path uploadUrl answered (the caller's own upload).",
        examples=["uploads/app_123/u_1/Qx7.../photo.jpg"],
    )
    fileName: str | None = Field(default=None, max_length=240, description="The name shown to members.")
    contentType: str | None = Field(default=None, max_length=255, description="What the client believes.")
    size: JsonInt | None = Field(default=None, ge=0, description="What the client believes (bytes).")


class CreatePostRequest(Request):
    """Post to a channel. Idempotent on ``clientPostId``: the same id posts once.

    ``type`` ``text`` (the default) needs ``text``; ``image`` and ``file`` need ``attachment``
    (upload first with ``uploadUrl``, then post the object's path), with ``text`` as an optional
    caption. An image must be an image (JPEG, PNG, GIF or WebP, by its bytes); a file may be any
    allowed type. Refused: 404 ``attachment_not_yours`` / ``attachment_missing`` (not the caller's
    upload, or gone), 400 ``attachment_type_not_allowed``, ``attachment_not_an_image``,
    ``attachment_too_large``."""

    channelId: ChannelId
    text: str | None = Field(
        default=None, min_length=1, max_length=MAX_POST_LENGTH, pattern=r"\S", examples=["Hello!"]
    )
    type: Literal["text", "image", "file"] = "text"
    attachment: PostAttachment | None = Field(default=None, description="Required for image and file posts.")
    clientPostId: str = Field(
        pattern=CLIENT_POST_ID, description="The client's idempotency key.", examples=["c-1"]
    )

    # What _shape enforces, said in the schema too (OpenAPI 3.1 is JSON Schema 2020-12): a text post
    # (type omitted or "text") has text and no attachment; an image or file post has an attachment.
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "if": {"properties": {"type": {"const": "text"}}},
                    "then": {
                        "required": ["text"],
                        "properties": {"text": {"type": "string"}, "attachment": {"type": "null"}},
                    },
                },
                {
                    "if": {"properties": {"type": {"enum": ["image", "file"]}}, "required": ["type"]},
                    "then": {"required": ["attachment"], "properties": {"attachment": {"type": "object"}}},
                },
            ]
        }
    )

    @model_validator(mode="after")
    def _shape(self) -> CreatePostRequest:
        if self.type == "text" and (self.text is None or self.attachment is not None):
            raise ValueError("a text post needs text and no attachment")
        if self.type != "text" and self.attachment is None:
            raise ValueError(f"an {self.type} post needs an attachment (upload it with uploadUrl first)")
        return self


class LikePostRequest(Request):
    """Toggle the caller's like of a post."""

    channelId: ChannelId
    postId: PostId


class LikeAnswer(Answer):
    """A post's likes after the toggle."""

    postId: str
    likes: int
    likedByMe: bool


class CreateSubRequest(Request):
    """Join a group channel, create one, or open the caller's support channel.

    - ``support: true``: the caller's support conversation with the app's agents (one per user).
    - ``channelId`` of an existing group: join it, as its ``joinPolicy`` allows (an app user's
      client joins only ``open`` channels; the app's backend, with its API key, joins any).
    - ``channelId`` of no channel yet: the app's backend creates it with that id (a client cannot
      name a new channel: it could squat an id the app means to use).
    - neither: create a new group with a generated id. The creator becomes its owner."""

    channelId: ChannelId | None = None
    name: str | None = Field(default=None, min_length=1, max_length=120)
    support: bool = Field(default=False, strict=True)
    joinPolicy: JoinPolicy | None = Field(
        default=None,
        description="For a channel this call creates (default invite); ignored when joining.",
    )


class CreatePMRequest(Request):
    """The one direct channel between the caller and another user."""

    userId: str = Field(pattern=USER_ID, examples=["bob"])


class ChannelRequest(Request):
    """An operation on one of the caller's channels."""

    channelId: ChannelId


class LeaveAnswer(Answer):
    """The caller left the channel."""

    channelId: str
    left: bool


class MuteAnswer(Answer):
    """The caller's mute state after the toggle (muted: no push notifications)."""

    channelId: str
    muted: bool


class SetReadRequest(Request):
    """Move the caller's read pointer: to the ``seq`` the client has seen (one write, no read), to
    the latest post (default: one read, one write), or to a post (``postId`` alone: costs more)."""

    channelId: ChannelId
    postId: PostId | None = Field(
        default=None,
        description="Read up to this post (it may move the pointer back). Alone, the rarer and "
        "costlier path: the post is read and the later posts by others are counted. With seq, only "
        "recorded as the post read up to.",
    )
    seq: Annotated[int, Field(ge=0, le=MAX_SEQ), BeforeValidator(_json_integer)] | None = Field(
        default=None,
        description="The channel's seq (its post counter) the client has seen, from its listener on "
        "the channel document or an earlier answer: the cheap path (one write, no read). The "
        "pointer never moves back on this path.",
    )
    viewing: bool = Field(
        default=False,
        strict=True,
        description="The channel is open on the user's screen: push notifications of its posts skip "
        "this user for the next few minutes. Send setRead every few seconds while the channel is "
        "open (viewing: true) and once when it closes (viewing: false).",
    )


class ReadAnswer(Answer):
    """The caller's read state: ``unreadCount`` is max(0, seq - lastReadSeq), computed."""

    channelId: str
    lastReadPostId: str | None = Field(description="The post read up to, when known.")
    lastReadAt: datetime | None = Field(
        description="createdAt of the post read up to (null when setRead was given only seq)."
    )
    readAt: datetime = Field(description="When the pointer was set: posts counted later are unread.")
    unreadCount: int = Field(
        description="Computed: the channel's seq (as this call saw it) minus the caller's read "
        "watermark (lastReadSeq); no longer a stored counter."
    )
    seq: int | None = Field(
        default=None, description="The channel's seq this answer counted against (pass it to setRead)."
    )


class UpsertSubRequest(Request):
    """The caller's settings in a channel and a device token for push notifications."""

    channelId: ChannelId
    pushToken: str | None = Field(default=None, min_length=1, max_length=4096, pattern=r"^\S+$")
    settings: dict[SettingName, SettingValue] | None = Field(
        default=None, max_length=20, description="Small client-defined settings, merged into the stored ones."
    )


class Subscription(Answer):
    """The caller's membership of a channel."""

    channelId: str
    role: Literal["owner", "member"]
    muted: bool
    unreadCount: int = Field(description="Computed: max(0, channel seq - the caller's lastReadSeq).")
    lastReadPostId: str | None = None
    pushTokenCount: int = 0
    settings: dict[SettingName, SettingValue] = Field(default_factory=dict)


# --- who joins a group channel --------------------------------------------------------------------


class AddMemberRequest(Request):
    """Add a user of the app to a group channel: a member may (the channel's owner only, under the
    approval policy); the app's backend may, with its API key, under any policy."""

    channelId: ChannelId
    userId: str = Field(pattern=USER_ID, examples=["bob"])


class SetJoinPolicyRequest(Request):
    """Change who may join a group channel (its owner, or the app's backend)."""

    channelId: ChannelId
    joinPolicy: JoinPolicy


class RequestJoinRequest(Request):
    """Ask to join a group channel: joins at once if it is open; recorded for its owner to decide if
    it asks for approval; refused if it is invite-only."""

    channelId: ChannelId
    message: str | None = Field(default=None, min_length=1, max_length=500)


class JoinRequestAnswer(Answer):
    """Where a join request stands: ``joined`` (a member now), ``pending`` (waiting for the owner) or
    ``declined``."""

    channelId: str
    userId: str
    status: Literal["joined", "pending", "declined"]


class JoinRequestsRequest(Request):
    """The pending join requests of a group channel (its owner, or the app's backend)."""

    channelId: ChannelId


class JoinRequest(Answer):
    """One user waiting to join."""

    userId: str
    name: str | None = None
    avatar: str | None = None
    message: str | None = None
    requestedAt: datetime | None = None


class JoinRequestsAnswer(Answer):
    """Pending join requests, oldest first (at most 1,000)."""

    requests: list[JoinRequest]


class DecideJoinRequest(Request):
    """Approve (the user becomes a member) or decline a pending join request."""

    channelId: ChannelId
    userId: str = Field(pattern=USER_ID, examples=["bob"])
    approve: bool = Field(strict=True)


# --- errors --------------------------------------------------------------------------------------


class ErrorBody(Answer):
    """What went wrong: a machine-readable code and a readable message."""

    code: str = Field(
        description="e.g. invalid_request, unauthenticated, not_a_member, channel_not_found, "
        "file_too_large, media_not_ready, rate_limited; every code an operation can answer is listed "
        "in its error response's description and x-error-codes"
    )
    message: str
    details: list[dict[str, object]] | dict[str, object] | str | None = None


class ErrorAnswer(Answer):
    """Every 4xx/5xx answer."""

    error: ErrorBody
