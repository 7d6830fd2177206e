"""Customer satisfaction (issue 19 part 5): when a conversation is resolved, the customer is asked to
rate it (1-5 and a comment), on buttons where the channel has them and through a signed link to a
public rating page everywhere.

The ask:

- Every resolution (single, bulk, any path through ``conversations.status_change``) carries a
  ``resolutionId`` (its activity line's id); the survey it calls for is :func:`ask_id` of it, so a
  reopen and a second resolve is a second survey, and one resolution is asked once.
- Once the change is written, :func:`after_changes` (never raising into the agent's action) queues one
  Cloud Task on ``timers`` named after the survey, when the workspace has CSAT on
  (``settings.csat``, shared/workspace.py). deliver runs it (:func:`send_ask`): the conversation
  must still be resolved by that same resolution, the channel able to ask (``capabilities.csat``)
  and the customer's reply window open (Meta's 24 hours: a survey is no human agent's reply, so
  the HUMAN_AGENT tag does not cover it); otherwise nothing is sent and the reason is kept on the
  conversation (``csatSkipped``) and as an activity line. The ask is an outbound message of type
  ``csat`` with a deterministic id, sent by the sender ``{"kind": "system", "id": "csat"}``
  through the ordinary outbound path (retried, delivery ticks); the channel adapter shapes it
  (Telegram inline keyboard, Messenger/Instagram quick replies, WhatsApp interactive list, a link
  by SMS). The conversation records ``csatAsk {askId, askedAtMs, channel, assigneeId}``.

The answer:

- A button press / quick reply / list reply whose payload is ``csat:<askId>:<score>``
  (:func:`parse_payload`) is recorded as a rating *instead of* a customer message
  (:func:`from_reply`, called by the inbox before anything else): the customer's tap is the
  rating, so the thread shows the rating line, the conversation stays resolved (a rating never
  reopens it, never counts unread or as the customer's last message) and the reports count it once.
  The first button rating of a survey is thanked once, with a link to add a comment (a ``timers``
  task, :func:`send_thanks`).
- The rating page (functions/rate.py) records a score and a comment from a signed link
  (:func:`link_token` / :func:`read_token`: HMAC-SHA256 over tenant, conversation, survey and
  expiry with ``SWITCHBOARD_CSAT_LINK_SECRET``; links last :data:`LINK_DAYS` days).
- :func:`record` writes a rating: an activity line ``rate-<askId>-<n>`` (verb ``rate``: score,
  comment, source, askId, and ``replaces`` {score, atMs} when it changes an earlier rating of the
  same survey) and the conversation's ``csat`` map, in one batch preconditioned on the conversation
  read (shared/store/csat.py). A redelivered reply (its key is kept in ``csat.keys``) and a rating
  equal to the current one write nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from shared import channels, ids, store
from shared.auth import Caller
from shared.errors import MissingSetting, Refused

log = logging.getLogger(__name__)

QUEUE = "timers"  # topology.json queues.timers (agent_api, ingest and deliver may enqueue there)
SENDER = {"kind": "system", "id": "csat", "name": "Satisfaction survey"}
SYSTEM = Caller(uid="csat", tenant_id="", role="system", name="Satisfaction survey")
LINK_DAYS = 7
MAX_COMMENT = 1000
REMEMBERED_KEYS = 20  # reply keys a survey keeps, to recognize a redelivered reply
SCORES = (5, 4, 3, 2, 1)  # the order the choices are offered in
SCORE_WORDS = {5: "Excellent", 4: "Good", 3: "Okay", 2: "Poor", 1: "Very poor"}
PAYLOAD_PREFIX = "csat:"
_PAYLOAD = re.compile(r"^csat:([A-Za-z0-9]{8,40}):([1-5])$")
# A channel without buttons asks for the score as a reply too: a lone digit ("4", "4/5", "4 stars").
_TYPED = re.compile(r"^\s*([1-5])\s*(?:/\s*5|out of 5|stars?|★+)?\s*[.!]?\s*$", re.IGNORECASE)
_TOKEN_PART = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def enabled(settings: dict[str, Any]) -> bool:
    """Whether the workspace asks for ratings."""
    return bool((settings.get("csat") or {}).get("enabled"))


def question(settings: dict[str, Any]) -> str:
    """The question the customer is asked."""
    from shared.workspace import DEFAULT_CSAT_QUESTION

    return str((settings.get("csat") or {}).get("question") or "").strip() or DEFAULT_CSAT_QUESTION


# --- payloads ----------------------------------------------------------------------------------------


def ask_id(conversation_id: str, resolution_id: str) -> str:
    """The survey of one resolution (24 characters: a Telegram callback_data of 64 bytes holds it)."""
    return ids.doc_id("csat", conversation_id, resolution_id)[:24]


def payload(ask: str, score: int) -> str:
    """A choice's payload: ``csat:<askId>:<score>``."""
    return f"{PAYLOAD_PREFIX}{ask}:{score}"


def parse_payload(value: str | None) -> tuple[str, int] | None:
    """(askId, score) of a CSAT payload, None for any other payload."""
    if not value or not value.startswith(PAYLOAD_PREFIX):
        return None
    match = _PAYLOAD.match(value)
    return (match.group(1), int(match.group(2))) if match else None


def typed_score(text: str | None) -> int | None:
    """The score of a customer's typed answer to a survey asked by link (``"4"``, ``"4/5"``,
    ``"5 stars"``); None for anything else, which stays an ordinary message."""
    matched = _TYPED.match(text or "")
    return int(matched.group(1)) if matched else None


def title(score: int) -> str:
    """A choice's title: stars and a word ("★★★★ Good"; at most 15 characters: Messenger's quick
    reply titles take 20, WhatsApp's list rows 24)."""
    return f"{'★' * score} {SCORE_WORDS[score]}"


def options(ask: str) -> list[dict[str, Any]]:
    """The choices of a survey, best first: {score, title, payload}."""
    return [{"score": s, "title": title(s), "payload": payload(ask, s)} for s in SCORES]


# --- signed links ------------------------------------------------------------------------------------


class BadLink(Exception):
    """A rating link that is not ours (``invalid``) or no longer valid (``expired``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LinkClaims:
    """What a valid rating link names."""

    tenant_id: str
    conversation_id: str
    ask_id: str
    expires_s: int


def _secret() -> bytes:
    from shared.config import settings

    secret = settings().csat_link_secret
    if not secret:
        raise MissingSetting("setting SWITCHBOARD_CSAT_LINK_SECRET is not configured")
    return secret.encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(body: str) -> str:
    return _b64(hmac.new(_secret(), f"csat-link\x1f{body}".encode(), hashlib.sha256).digest()[:18])


def link_token(tenant_id: str, conversation_id: str, ask: str, expires_s: int) -> str:
    """A signed token naming (tenant, conversation, survey, expiry in Unix seconds)."""
    parts = (tenant_id, conversation_id, ask, str(expires_s))
    if not all(_TOKEN_PART.match(part) for part in parts):
        raise ValueError("a rating link's parts are ids: letters, digits, '-' and '_'")
    body = _b64(".".join(parts).encode())
    return f"{body}.{_signature(body)}"


def read_token(token: str, now_s: float | None = None) -> LinkClaims:
    """The claims of a token :func:`link_token` made; BadLink("invalid") for anything else (a
    changed character, another secret) and BadLink("expired") once past its expiry."""
    body, _, signature = (token or "").strip().partition(".")
    if not body or not signature or len(token) > 512:
        raise BadLink("invalid")
    if not hmac.compare_digest(signature.encode(), _signature(body).encode()):
        raise BadLink("invalid")
    try:
        tenant_id, conversation_id, ask, expires = _unb64(body).decode().split(".")
        expires_s = int(expires)
    except (ValueError, UnicodeDecodeError):
        raise BadLink("invalid") from None
    if (time.time() if now_s is None else now_s) >= expires_s:
        raise BadLink("expired")
    return LinkClaims(tenant_id, conversation_id, ask, expires_s)


def rating_url() -> str:
    """The rating page's public URL (``SWITCHBOARD_RATING_URL``, else the deployed ``rate``)."""
    from shared.config import settings

    config = settings()
    if config.rating_url:
        return config.rating_url
    if not config.public_base_url:
        raise MissingSetting("set SWITCHBOARD_RATING_URL or SWITCHBOARD_PUBLIC_BASE_URL")
    return f"{config.public_base_url}/rate"


def rating_link(
    tenant_id: str, conversation_id: str, ask: str, score: int | None = None, now_s: float | None = None
) -> str:
    """The rating page's link for a survey, valid :data:`LINK_DAYS` days (``score`` preselected)."""
    expires = int(time.time() if now_s is None else now_s) + LINK_DAYS * 86400
    query = {"k": link_token(tenant_id, conversation_id, ask, expires)}
    if score is not None:
        query["score"] = str(score)
    return f"{rating_url()}?{urlencode(query)}"


# --- asking ------------------------------------------------------------------------------------------


def resolution_id(change: store.ConversationChange) -> str | None:
    """The resolution a change makes (its activity line's id), None when it resolves nothing."""
    line = change.activity or {}
    if (line.get("activity") or {}).get("verb") != "resolve":
        return None
    return change.activity_id


def mark_resolution(change: store.ConversationChange) -> store.ConversationChange:
    """Record on the conversation which resolution it is in (``resolutionId``), with the change."""
    resolution = resolution_id(change)
    if resolution is not None:
        change.update["resolutionId"] = resolution
    return change


def task_name(tenant_id: str, conversation_id: str, ask: str) -> str:
    return ids.doc_id("csatask", tenant_id, conversation_id, ask)


def after_changes(tenant_id: str, changes: list[store.ConversationChange], channel_of: dict[str, str]) -> int:
    """Queue the survey of each resolution among ``changes`` (written already) when the workspace
    asks for ratings; how many were queued. ``channel_of``: conversation id -> its channel. Never
    raises: the resolution stands without its survey."""
    resolved = [(change, resolution_id(change)) for change in changes]
    resolved = [(change, resolution) for change, resolution in resolved if resolution]
    if not resolved:
        return 0
    queued = 0
    try:
        settings = store.get_workspace_settings(tenant_id) or {}
        if not enabled(settings):
            return 0
        from shared import tasks
        from shared.config import settings as config

        for change, resolution in resolved:
            if channels.capabilities(channel_of.get(change.conversation_id, "")).csat == "none":
                continue  # an app's support chat: no provider to ask through
            ask = ask_id(change.conversation_id, str(resolution))
            tasks.enqueue(
                tasks.queue_name(QUEUE),
                task_name(tenant_id, change.conversation_id, ask),
                config().deliver_url,
                {
                    "action": "csat_ask",
                    "tenantId": tenant_id,
                    "conversationId": change.conversation_id,
                    "csat": {"askId": ask, "resolutionId": resolution},
                },
            )
            queued += 1
    except Exception as exc:  # noqa: BLE001 - the resolution is written; only its survey is lost
        log.error(
            "could not queue the satisfaction survey",
            extra={"fields": {"event": "csat_not_queued", "error": type(exc).__name__}},
        )
    return queued


def ask_message_id(conversation_id: str, ask: str) -> str:
    return ids.outbound_message_id(conversation_id, f"csat-{ask}")


def send_ask(tenant_id: str, conversation_id: str, ask: str) -> str:
    """deliver's ``csat_ask``: write the survey message and queue its delivery, or record why not;
    returns what happened (``csat-asked``, ``csat-skipped-<reason>``, ``csat-not-due``...)."""
    from shared import search
    from shared.outbox.delivery import enqueue
    from shared.outbox.replies import reply_window

    settings = store.get_workspace_settings(tenant_id) or {}
    if not enabled(settings):
        return "csat-off"
    conversation = store.get_conversation(tenant_id, conversation_id)
    if conversation is None:
        return "no-conversation"
    resolution = conversation.get("resolutionId")
    if (
        conversation.get("status") != "resolved"
        or not resolution
        or ask_id(conversation_id, resolution) != ask
    ):
        return "csat-not-due"  # reopened (or resolved again: that resolution has its own survey)
    channel = str(conversation.get("channel"))
    how = channels.capabilities(channel).csat
    if how == "none":
        return "csat-unsupported"
    now = datetime.now(UTC)
    now_ms = int(now.timestamp() * 1000)
    window = reply_window(conversation, now_ms)
    if not window["open"] and window["needs"] is not None:
        return _skip(tenant_id, conversation_id, ask, "reply_window_closed", now_ms)
    text = question(settings)
    link = rating_link(tenant_id, conversation_id, ask)
    message_id = ask_message_id(conversation_id, ask)
    content = {"type": "csat", "text": text, "askId": ask, "link": link, "options": options(ask)}
    shown = text if how == "buttons" else channels.csat_text(text, link)
    document: dict[str, Any] = {
        "direction": "out",
        "type": "csat",
        "content": content,
        "text": shown,
        "sender": SENDER,
        "channel": channel,
        "channelId": conversation.get("channelId"),
        "clientMessageId": f"csat-{ask}",
        "status": "queued",
        "statusRank": 0,
        "statusHistory": {"queued": now},
        "sentAt": now,
        "createdAt": store.server_time(),
        "reportAt": store.server_time(),  # the reports' fold reads messages in this order
    }
    document.update(search.message_fields(tenant_id, conversation_id, now_ms, document))
    summary = {
        "lastMessage": {"id": message_id, "type": "csat", "text": text, "direction": "out", "at": now},
        "messageCount": store.increment(1),
        "updatedAt": store.server_time(),
        "csatAsk": {
            "askId": ask,
            "askedAtMs": now_ms,
            "channel": channel,
            "assigneeId": conversation.get("assigneeId"),
        },
    }
    created = store.create_outbound(tenant_id, conversation_id, message_id, document, summary)
    # Also when it exists: a retry after the write but before the task was queued (a named task).
    enqueue(channel, tenant_id, conversation_id, message_id)
    return "csat-asked" if created else "csat-duplicate"


def _skip(tenant_id: str, conversation_id: str, ask: str, reason: str, now_ms: int) -> str:
    """Record why a resolution's survey was not sent: on the conversation and as an activity line."""
    from shared import activity

    _id, line = activity.line(
        Caller(uid=SYSTEM.uid, tenant_id=tenant_id, role="system", name=SYSTEM.name),
        conversation_id,
        "csat_skip",
        askId=ask,
        reason=reason,
    )
    line["sender"] = SENDER
    update = {
        "csatSkipped": {"askId": ask, "reason": reason, "atMs": now_ms},
        "updatedAt": store.server_time(),
    }
    store.create_outbound(
        tenant_id, conversation_id, ids.doc_id("activity", conversation_id, "csat-skip", ask), line, update
    )
    log.info("survey not sent", extra={"fields": {"event": "csat_skipped", "reason": reason}})
    return f"csat-skipped-{reason}"


# --- recording ---------------------------------------------------------------------------------------


def sentence(score: int, comment: str) -> str:
    """The rating line's text ("Customer rated 4/5: “quick and kind”")."""
    from shared import activity

    return activity.sentence("rate", "Customer", {"score": score, "comment": comment})


def record(
    tenant_id: str,
    conversation_id: str,
    ask: str,
    score: int,
    *,
    source: str,
    comment: str | None = None,
    key: str | None = None,
    at_ms: int | None = None,
    customer: dict[str, Any] | None = None,
    reply_window: dict[str, Any] | None = None,
) -> tuple[str, store.RatingWrite | None]:
    """Record a rating of survey ``ask``; returns (``recorded`` | ``duplicate`` | ``unchanged`` |
    ``unknown-ask`` | ``no-conversation``, what was written). ``comment`` None keeps the survey's
    comment (a button carries none); ``key`` names the reply that carried it (a redelivery of the
    same key writes nothing); ``reply_window``: a button reply is the customer's message to the
    provider, so the window it opens is recorded (plain expiries, merged as maxima)."""
    if score not in SCORE_WORDS:
        raise Refused("invalid_score", "a rating is 1 to 5", 422)
    if comment is not None and len(comment) > MAX_COMMENT:
        raise Refused("comment_too_long", f"a comment is at most {MAX_COMMENT} characters", 422)
    rated_at = int(time.time() * 1000) if at_ms is None else at_ms

    def decide(current: store.Versioned) -> store.RatingWrite | str:
        if not current.exists:
            return "no-conversation"
        data = current.data
        asking = data.get("csatAsk") or {}
        if asking.get("askId") != ask:
            return "unknown-ask"  # another conversation's survey, or one a newer survey replaced
        previous = data.get("csat") if (data.get("csat") or {}).get("askId") == ask else None
        keys = [str(k) for k in (previous or {}).get("keys") or []]
        if key is not None and key in keys:
            return "duplicate"
        kept = (comment if comment is not None else str((previous or {}).get("comment") or "")).strip()
        if previous and previous.get("score") == score and str(previous.get("comment") or "") == kept:
            return "unchanged"
        count = int((previous or {}).get("count") or 0) + 1
        replaces = (
            {"score": int(previous["score"]), "atMs": int(previous["ratedAtMs"])}
            if previous and previous.get("score") is not None
            else None
        )
        message_id = f"rate-{ask}-{count}"
        line = _rating_line(
            tenant_id, conversation_id, ask, score, kept, source, replaces, rated_at, customer
        )
        update: dict[str, Any] = {
            "csat": {
                "score": score,
                "comment": kept,
                "ratedAtMs": rated_at,
                "askId": ask,
                "askedAtMs": asking.get("askedAtMs"),
                "assigneeId": asking.get("assigneeId", data.get("assigneeId")),
                "source": source,
                "count": count,
                "keys": [*keys, key][-REMEMBERED_KEYS:] if key is not None else keys,
            },
            "updatedAt": store.server_time(),
        }
        if reply_window:
            stored = data.get("replyWindow") or {}
            merged = {**stored, **reply_window}
            for field in ("expiresAtMs", "tagExpiresAtMs"):
                if field in reply_window or field in stored:
                    merged[field] = max(int(stored.get(field) or 0), int(reply_window.get(field) or 0))
            update["replyWindow"] = merged
        return store.RatingWrite(message_id, line, update)

    result, written = store.record_rating(tenant_id, conversation_id, decide)
    if result == "recorded":
        from shared.reports import fold as reports_fold

        reports_fold.schedule_quietly(tenant_id)  # the reports count the rating
    return result, written


def _rating_line(
    tenant_id: str,
    conversation_id: str,
    ask: str,
    score: int,
    comment: str,
    source: str,
    replaces: dict[str, int] | None,
    at_ms: int,
    customer: dict[str, Any] | None,
) -> dict[str, Any]:
    """The rating's activity line (the shape of shared/activity.py's, from the customer)."""
    from shared import search

    who = customer or {"kind": "contact"}
    details = {
        "verb": "rate",
        "actorId": who.get("id"),
        "actorName": who.get("name") or "Customer",
        "score": score,
        "comment": comment,
        "source": source,
        "askId": ask,
        "replaces": replaces,
    }
    document: dict[str, Any] = {
        "direction": "system",
        "type": "activity",
        "activity": details,
        "text": sentence(score, comment),
        "sender": {"kind": "contact", "id": who.get("id"), "name": who.get("name")},
        "status": "activity",
        "sentAt": datetime.fromtimestamp(at_ms / 1000, UTC),
        "createdAt": store.server_time(),
        "reportAt": store.server_time(),  # the reports' fold reads messages in this order
    }
    document.update(search.message_fields(tenant_id, conversation_id, at_ms, document))
    return document


def from_reply(
    tenant_id: str,
    conversation_id: str,
    ask: str,
    score: int,
    *,
    key: str,
    at_ms: int,
    customer: dict[str, Any],
    reply_window: dict[str, Any] | None,
    source: str = "buttons",
) -> tuple[str, str | None]:
    """A customer's button reply carrying a rating, or (``source="reply"``) a typed score answering
    a survey asked by link (the inbox calls it instead of storing a message): record it and, for a
    survey's first rating, queue the thank-you. Returns (the :func:`record` result, the rating
    line's id when one was written)."""
    result, written = record(
        tenant_id,
        conversation_id,
        ask,
        score,
        source=source,
        key=key,
        at_ms=at_ms,
        customer=customer,
        reply_window=reply_window,
    )
    if result == "recorded" and written is not None and written.conversation["csat"]["count"] == 1:
        _queue_thanks(tenant_id, conversation_id, ask, score)
    return result, written.message_id if written else None


def open_survey(tenant_id: str, conversation_id: str, now_ms: int | None = None) -> str | None:
    """The survey a typed score would answer: the conversation is still resolved by the resolution
    it asked about, asked less than :data:`LINK_DAYS` ago. One read, made only for a message that
    is a lone score on a channel that asks by link."""
    conversation = store.get_conversation(tenant_id, conversation_id)
    if conversation is None or conversation.get("status") != "resolved":
        return None
    asking = conversation.get("csatAsk") or {}
    ask, resolution = asking.get("askId"), conversation.get("resolutionId")
    if not ask or not resolution or ask_id(conversation_id, str(resolution)) != ask:
        return None
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if now_ms - int(asking.get("askedAtMs") or 0) > LINK_DAYS * 86_400_000:
        return None
    return str(ask)


def _queue_thanks(tenant_id: str, conversation_id: str, ask: str, score: int) -> None:
    """Queue the thank-you of a survey's first button rating (named: once per survey). A failure
    raises: the inbox's caller hands the reply back for a redelivery, which finds the rating
    recorded (``duplicate``) and queues the thank-you again."""
    from shared import tasks
    from shared.config import settings as config

    tasks.enqueue(
        tasks.queue_name(QUEUE),
        ids.doc_id("csatthanks", tenant_id, conversation_id, ask),
        config().deliver_url,
        {
            "action": "csat_thanks",
            "tenantId": tenant_id,
            "conversationId": conversation_id,
            "csat": {"askId": ask, "score": score},
        },
    )


def thanks_text(link: str) -> str:
    return f"Thank you for your rating! Would you like to tell us more? {link}"


def send_thanks(tenant_id: str, conversation_id: str, ask: str, score: int) -> str:
    """deliver's ``csat_thanks``: a short thank-you with a link to the rating page (the score
    preselected) to add a comment, through the ordinary outbound path; once per survey."""
    from shared import search
    from shared.outbox.delivery import enqueue

    conversation = store.get_conversation(tenant_id, conversation_id)
    if conversation is None:
        return "no-conversation"
    channel = str(conversation.get("channel"))
    now = datetime.now(UTC)
    now_ms = int(now.timestamp() * 1000)
    text = thanks_text(rating_link(tenant_id, conversation_id, ask, score))
    message_id = ids.outbound_message_id(conversation_id, f"csat-thanks-{ask}")
    document: dict[str, Any] = {
        "direction": "out",
        "type": "text",
        "content": {"type": "text", "text": text},
        "text": text,
        "sender": SENDER,
        "channel": channel,
        "channelId": conversation.get("channelId"),
        "clientMessageId": f"csat-thanks-{ask}",
        "status": "queued",
        "statusRank": 0,
        "statusHistory": {"queued": now},
        "sentAt": now,
        "createdAt": store.server_time(),
        "reportAt": store.server_time(),
    }
    document.update(search.message_fields(tenant_id, conversation_id, now_ms, document))
    summary = {
        "lastMessage": {"id": message_id, "type": "text", "text": text, "direction": "out", "at": now},
        "messageCount": store.increment(1),
        "updatedAt": store.server_time(),
    }
    created = store.create_outbound(tenant_id, conversation_id, message_id, document, summary)
    enqueue(channel, tenant_id, conversation_id, message_id)
    return "csat-thanked" if created else "csat-thanks-duplicate"
