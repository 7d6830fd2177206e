"""Push notifications for new posts.

Who: every member of the channel except the sender, who has not muted it, has not already read up
to the post (their read pointer is at or after it) and has registered at least one device token
(``upsertSub`` with ``pushToken``). Computed from the member documents the post's fan-out read.

How: in production through FCM (``firebase_admin.messaging.send_each_for_multicast``, up to 500
tokens a call); tokens FCM reports unregistered are removed from the member. The local stack
cannot reach FCM: with ``SWITCHBOARD_PUSH_OUTBOX`` set, each notification is written to
``tenants/{app}/pushOutbox/{id}`` instead (id derived from post and user, so a retried post writes it
once), and tests read it there.

A push failure never fails the post: the post is already stored and the member's unread count
already counts it; the failure is logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared import ids, store
from shared.config import settings

log = logging.getLogger(__name__)

BODY_CHARS = 180
FCM_BATCH = 500


@dataclass(frozen=True)
class Notification:
    """One user's notification of one post."""

    user_id: str
    tokens: tuple[str, ...]
    title: str
    body: str
    channel_id: str
    post_id: str


def recipients(
    members: list[tuple[str, dict[str, Any]]], sender_id: str, posted_at: datetime | None
) -> list[tuple[str, tuple[str, ...]]]:
    """(user id, device tokens) of the members to notify of a post by ``sender_id`` at ``posted_at``."""
    chosen = []
    for user_id, member in members:
        if user_id == sender_id or member.get("muted"):
            continue
        tokens = tuple(t for t in member.get("pushTokens") or [] if isinstance(t, str) and t)
        if not tokens:
            continue
        last_read = member.get("lastReadAt")
        if posted_at is not None and isinstance(last_read, datetime) and last_read >= posted_at:
            continue  # already read up to this post
        chosen.append((user_id, tokens))
    return chosen


def notifications(
    recipients_: list[tuple[str, tuple[str, ...]]],
    *,
    channel_id: str,
    channel_name: str | None,
    post_id: str,
    sender_name: str | None,
    text: str,
) -> list[Notification]:
    """The notifications of one post: title is the sender (and channel, in a named group)."""
    who = sender_name or "New message"
    title = f"{who} in {channel_name}" if channel_name else who
    body = text if len(text) <= BODY_CHARS else text[: BODY_CHARS - 1] + "\u2026"
    return [
        Notification(user_id, tokens, title, body, channel_id, post_id) for user_id, tokens in recipients_
    ]


def send(app_id: str, batch: list[Notification]) -> int:
    """Deliver notifications (outbox locally, FCM in production); return how many were handed over.

    The post is already stored when this runs, so a failure to notify is logged (an error, with the
    count) and does not fail the post; only FCM's and Firestore's own failures are caught: a bug
    raises like any other."""
    from firebase_admin.exceptions import FirebaseError

    if not batch:
        return 0
    try:
        if settings().push_outbox:
            store.put_push_outbox(
                app_id,
                [
                    (
                        ids.doc_id("push", n.post_id, n.user_id),
                        {
                            "userId": n.user_id,
                            "tokens": list(n.tokens),
                            "title": n.title,
                            "body": n.body,
                            "channelId": n.channel_id,
                            "postId": n.post_id,
                            "createdAt": store.server_time(),
                        },
                    )
                    for n in batch
                ],
            )
            return len(batch)
        return sum(_send_fcm(app_id, n) for n in batch)
    except (FirebaseError, *store.transient_errors()) as exc:
        log.error(
            "push notifications failed",
            extra={"fields": {"app": app_id, "count": len(batch), "error": type(exc).__name__}},
        )
        return 0


def _send_fcm(app_id: str, notification: Notification) -> int:  # pragma: no cover - FCM is unreachable here
    from firebase_admin import messaging

    from shared import auth

    sent = 0
    tokens = list(notification.tokens)
    for start in range(0, len(tokens), FCM_BATCH):
        chunk = tokens[start : start + FCM_BATCH]
        message = messaging.MulticastMessage(
            tokens=chunk,
            notification=messaging.Notification(title=notification.title, body=notification.body),
            data={"appId": app_id, "channelId": notification.channel_id, "postId": notification.post_id},
        )
        response = messaging.send_each_for_multicast(message, app=auth.app())
        sent += response.success_count
        gone = [
            token
            for token, result in zip(chunk, response.responses, strict=True)
            if not result.success and isinstance(result.exception, messaging.UnregisteredError)
        ]
        if gone:
            store.remove_push_tokens(app_id, notification.channel_id, notification.user_id, gone)
    return sent
