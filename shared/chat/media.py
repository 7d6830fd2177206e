"""The chat API's media operations: ``mediaUrl`` (a signed download URL for one file of a post, for
a member of its channel) and ``uploadUrl`` (a signed resumable upload of a new file, for a member,
before ``createPost`` posts it by reference). The checks and the signing are shared with the
agents' API (shared/media/access.py); registered in shared/chat/api.py's ``OPERATIONS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from shared import store
from shared.chat.models import Answer, ChannelId, PostId, Request
from shared.errors import Refused
from shared.media import kinds

# The allow-list (shared/media/kinds.py): an upload of any other type is refused.
UploadContentType = Literal[tuple(sorted(kinds.ALLOWED))]  # type: ignore[valid-type]

if TYPE_CHECKING:  # pragma: no cover
    from shared.chat.api import AppCaller


class MediaUrlRequest(Request):
    """One file of a post."""

    channelId: ChannelId
    postId: PostId
    index: int = Field(default=0, ge=0, le=99, description="The file's index in the post's media.")
    variant: Literal["original", "thumbnail"] = "original"


class MediaUrlAnswer(Answer):
    """A signed URL that serves the file for 5 minutes."""

    url: str
    expiresAt: str
    contentType: str
    size: int | None = None
    fileName: str | None = None
    variant: Literal["original", "thumbnail"]


class UploadUrlRequest(Request):
    """A file the caller is about to upload (then posts it with createPost, type image or file)."""

    channelId: ChannelId
    fileName: str = Field(min_length=1, max_length=255)
    contentType: UploadContentType = Field(description="On the allow-list, e.g. image/jpeg.")  # type: ignore[valid-type]
    size: int = Field(
        ge=1,
        le=kinds.MAX_FETCH_BYTES,
        description="Bytes; at most the kind's maximum (413 file_too_large: images 25 MB, audio and "
        "video 50 MB, documents 100 MB, stickers 1 MB).",
    )


class UploadUrlAnswer(Answer):
    """How to upload: POST ``headers`` (empty body) to ``url`` within 15 minutes; its answer's
    ``Location`` is the session URL to PUT the file to; then post ``path`` with createPost."""

    url: str
    method: Literal["POST"] = "POST"
    headers: dict[str, str]
    path: str
    fileName: str
    contentType: str
    size: int
    expiresAt: str


def _member_of(caller: AppCaller, channel_id: str) -> None:
    member = store.get_chat_member(caller.app_id, channel_id, caller.user)
    if not (member.exists and member.data.get("role")):
        # The same answer whether the channel exists or not: nothing leaks to a non-member.
        raise Refused("not_a_member", "only the channel's members may do this", 403)


def media_url(caller: AppCaller, request: MediaUrlRequest) -> MediaUrlAnswer:
    """A signed download URL for a member of the post's channel."""
    from shared.media import access

    _member_of(caller, request.channelId)
    signed = access.media_url(
        caller.app_id, request.channelId, request.postId, request.index, request.variant
    )
    return MediaUrlAnswer(**signed)


def upload_url(caller: AppCaller, request: UploadUrlRequest) -> UploadUrlAnswer:
    """A signed resumable upload under the caller's own uploads, for a member of the channel."""
    from shared.chat.attachments import uploader
    from shared.media import access

    _member_of(caller, request.channelId)
    signed = access.upload_url(
        caller.app_id,
        uploader(caller.app_id, caller.user),
        request.fileName,
        request.contentType,
        request.size,
    )
    return UploadUrlAnswer(**signed)
