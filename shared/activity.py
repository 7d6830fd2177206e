"""Activity lines: what an agent did to a conversation, as a line in its thread ("Ana resolved the
conversation"), live for every agent who has it open.

An activity line is a message document with ``direction: "system"``, ``type: "activity"``,
``activity: {verb, actorId, actorName, ...details}`` and ``text``, a plain sentence. It is written in
the same batch as the change it records (``store.apply_conversation_changes``): one more write per
action, never on the inbound path. It does not count as unread and never becomes the conversation's
``lastMessage`` (nothing here touches the summary). Only staff read it: the rules let app users read
messages with direction ``in`` or ``out`` only, the chat API's history keeps posts only, receipts
and deliveries look at outbound messages only.

Verbs and their details:

    resolve, reopen, pend          status changes ({from})
    snooze                         {untilMs}
    assign                         {assigneeId, assigneeName}
    unassign                       {previousAssigneeId, previousAssigneeName}
    labels                         {added: [{id, name}], removed: [{id, name}]}
    merge                          {contactId, otherContactId, otherName, otherChannel, personId}:
                                   this conversation's customer and another identity became one
                                   person (shared/contacts.py); a line in each affected conversation
    split                          {contactId, otherContactId, otherName, otherChannel}: an identity
                                   was taken out of the person again
    rate                           {score, comment, source (buttons|page), askId, replaces}: the
                                   customer rated a resolution (shared/csat.py; the actor is the
                                   customer, ``replaces`` {score, atMs} an earlier rating changed)
    csat_skip                      {askId, reason}: a resolution's survey was not sent (why)
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from shared import ids, store
from shared.auth import Caller
from shared.search import fields as search_fields

VERBS = (
    "resolve",
    "reopen",
    "pend",
    "snooze",
    "assign",
    "unassign",
    "labels",
    "merge",
    "split",
    "rate",
    "csat_skip",
)
STATUS_VERBS = {"resolved": "resolve", "open": "reopen", "pending": "pend", "snoozed": "snooze"}


def actor_name(caller: Caller) -> str:
    """How the agent is named in a line: their display name, else their e-mail, else "An agent"."""
    return (caller.name or caller.email or "An agent").strip() or "An agent"


def _names(labels: list[dict[str, str]]) -> str:
    quoted = [f"“{label['name']}”" for label in labels]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def sentence(verb: str, actor: str, details: dict[str, Any]) -> str:
    """The line's plain text (the dashboard may render its own from ``activity``)."""
    if verb == "resolve":
        return f"{actor} resolved the conversation"
    if verb == "reopen":
        return f"{actor} reopened the conversation"
    if verb == "pend":
        return f"{actor} marked the conversation pending"
    if verb == "snooze":
        until = datetime.fromtimestamp(int(details["untilMs"]) / 1000, UTC)
        return f"{actor} snoozed the conversation until {until:%d %b %Y, %H:%M} UTC"
    if verb == "assign":
        name = details.get("assigneeName") or "an agent"
        if details.get("assigneeId") == details.get("actorId"):
            return f"{actor} assigned the conversation to themselves"
        return f"{actor} assigned the conversation to {name}"
    if verb == "unassign":
        previous = details.get("previousAssigneeName")
        return f"{actor} unassigned {previous}" if previous else f"{actor} unassigned the conversation"
    if verb == "labels":
        parts = []
        if details.get("added"):
            word = "label" if len(details["added"]) == 1 else "labels"
            parts.append(f"added the {word} {_names(details['added'])}")
        if details.get("removed"):
            word = "label" if len(details["removed"]) == 1 else "labels"
            parts.append(f"removed the {word} {_names(details['removed'])}")
        return f"{actor} {' and '.join(parts)}"
    if verb in ("merge", "split"):
        other = details.get("otherName") or "another contact"
        channel = details.get("otherChannel")
        named = f"{other} ({channel})" if channel else other
        if verb == "merge":
            return f"{actor} merged this customer with {named}"
        return f"{actor} split {named} from this customer"
    if verb == "rate":
        comment = details.get("comment") or ""
        return f"Customer rated {details['score']}/5" + (f": “{comment}”" if comment else "")
    if verb == "csat_skip":
        why = {"reply_window_closed": "the customer's reply window had closed"}.get(
            str(details.get("reason")), str(details.get("reason"))
        )
        return f"No satisfaction survey was sent: {why}"
    raise ValueError(f"unknown activity verb {verb!r}")


def line(caller: Caller, conversation_id: str, verb: str, **details: Any) -> tuple[str, dict[str, Any]]:
    """(message id, document) of an activity line by ``caller``, to write with its change."""
    actor = actor_name(caller)
    activity = {"verb": verb, "actorId": caller.uid, "actorName": actor, **details}
    now_ms = int(time.time() * 1000)
    document = {
        "direction": "system",
        "type": "activity",
        "activity": activity,
        "text": sentence(verb, actor, activity),
        "sender": {"kind": "agent", "id": caller.uid, "name": actor},
        "status": "activity",
        "sentAt": store.server_time(),
        "createdAt": store.server_time(),
        "reportAt": store.server_time(),  # the reports' fold reads messages in this order
    }
    # tenantId, conversationId, sentAtMs and the timeline's keys (no words: lines are not searched)
    document.update(search_fields.message_fields(caller.tenant_id, conversation_id, now_ms, document))
    return ids.doc_id("activity", conversation_id, uuid.uuid4().hex), document


def change(
    caller: Caller, conversation_id: str, update: dict[str, Any], verb: str | None, **details: Any
) -> store.ConversationChange:
    """A conversation change with its activity line (``verb`` None: a change worth no line)."""
    if verb is None:
        return store.ConversationChange(conversation_id, update)
    message_id, document = line(caller, conversation_id, verb, **details)
    return store.ConversationChange(conversation_id, update, message_id, document)
