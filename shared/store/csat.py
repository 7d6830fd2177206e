"""Customer satisfaction ratings (shared/csat.py): a rating is an activity line in the conversation's
messages and the ``csat`` map of the conversation, written together.

    tenants/{t}/conversations/{id}                   csat {score, comment, ratedAtMs, askId, askedAtMs,
                                                          assigneeId, count, keys}, csatAsk {...}
    tenants/{t}/conversations/{id}/messages/rate-<askId>-<n>
                                                     the rating's activity line (verb "rate")

One optimistic write: the conversation is read with its version, the caller decides (a new rating, a
duplicate, nothing), and the line's ``create`` and the conversation's update commit in one batch
preconditioned on that version. Two ratings racing on one ask never both become rating ``n``: the
loser re-reads and becomes ``n + 1`` (or a duplicate).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.errors import TransientError
from shared.store._client import (
    PRECONDITION_RETRIES,
    Versioned,
    _rpc,
    _versioned,
    check_storable,
    client,
    conversation_ref,
    message_ref,
)


@dataclass(frozen=True)
class RatingWrite:
    """What one rating writes: its activity line (id and document) and the conversation's fields."""

    message_id: str
    message: dict[str, Any]
    conversation: dict[str, Any]


def record_rating(
    tenant_id: str, conversation_id: str, decide: Callable[[Versioned], RatingWrite | str]
) -> tuple[str, RatingWrite | None]:
    """Read the conversation, let ``decide`` turn it into a :class:`RatingWrite` (or a word: why
    nothing is written), and write it under the version read; re-read and decide again when the
    conversation changed meanwhile. Returns ("recorded", write) or (word, None)."""
    from google.api_core.exceptions import AlreadyExists, FailedPrecondition, NotFound

    db = client()
    reference = conversation_ref(tenant_id, conversation_id)
    for _ in range(PRECONDITION_RETRIES):
        current = _versioned(reference.get(**_rpc()))
        decided = decide(current)
        if isinstance(decided, str):
            return decided, None
        check_storable(decided.message)
        batch = db.batch()
        batch.create(message_ref(tenant_id, conversation_id, decided.message_id), decided.message)
        batch.update(
            reference, decided.conversation, option=db.write_option(last_update_time=current.update_time)
        )
        try:
            batch.commit(**_rpc())
        except (FailedPrecondition, NotFound):
            continue  # the conversation changed between the read and the write: decide again
        except AlreadyExists:
            continue  # another writer took this rating's number: re-read, it is in the conversation now
        return "recorded", decided
    raise TransientError("the conversation kept changing while recording a rating: retry")
