"""The operations page's agent_api actions (admins only): what the quarantine and the dead-letter
subscription hold for the caller's tenant, masked; one item revealed; replay, replay all that now
parse, discard with a reason. Each action calls the same function as the CLI
(:mod:`shared.operations.quarantine`, :mod:`shared.operations.dead_letters`), which records the
audit entry (``quarantine.replay``, ``quarantine.discard``, ``deadletter.replay``,
``deadletter.discard``) once the action succeeded. Revealing is not audited: it changes nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import Refused, SwitchboardError
from shared.operations import alerts, dead_letters, quarantine

if TYPE_CHECKING:  # pragma: no cover
    from shared.auth import Caller

log = logging.getLogger("switchboard.operations")

DEAD_LETTER_PAGE = 100  # dead letters a page shows (and an action scans for its own)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str


class Overview(_Request):
    """``operations``: the page's whole state."""


class QuarantineItem(_Request):
    """``quarantine_reveal`` / ``quarantine_replay``: one item."""

    id: str = Field(min_length=1, max_length=64)


class Discard(QuarantineItem):
    """``quarantine_discard``: one item, and why."""

    reason: str = Field(min_length=1, max_length=500)


class DeadLetter(_Request):
    """``deadletter_reveal`` / ``deadletter_replay``: one dead letter, by its event id."""

    eventId: str = Field(min_length=1, max_length=300)


class DeadLetterDiscard(DeadLetter):
    """``deadletter_discard``: one dead letter, and why."""

    reason: str = Field(min_length=1, max_length=500)


def _admin(caller: Caller) -> None:
    from shared.auth import require_admin

    require_admin(caller, "the operations page")


def _age(times_ms: list[int], now: datetime) -> float | None:
    return max(0.0, now.timestamp() - min(times_ms) / 1000) if times_ms else None


def overview(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``operations`` -> {quarantine: {items, count, oldestAgeSeconds}, deadLetters:
    {items, count, oldestAgeSeconds, error}, alerts, notEvaluated}; raw payloads masked."""
    from shared import store

    Overview.model_validate(body)
    _admin(caller)
    now = datetime.now(UTC)
    items = quarantine.pending(caller.tenant_id)
    letters: list[dict[str, Any]] = []
    letters_error = None
    try:
        letters = dead_letters.listing(
            DEAD_LETTER_PAGE,
            dead_letters.selector(tenant_id=caller.tenant_id),
            lambda received: dead_letters.page_record(received, reveal=False),
            wait=False,
        )
    except SwitchboardError as exc:  # the page still shows the quarantine
        letters_error = str(exc)
    for row in letters:
        row.pop("attributes", None)
    channels = [(channel_id, data) for _, channel_id, data in store.list_channels(caller.tenant_id)]
    return {
        "quarantine": {
            "items": items,
            "count": len(items),
            "oldestAgeSeconds": _age([row["receivedAtMs"] for row in items], now),
        },
        "deadLetters": {
            "items": letters,
            "count": len(letters),
            "oldestAgeSeconds": _age([row["publishTimeMs"] for row in letters if row["publishTimeMs"]], now),
            "error": letters_error,
        },
        "alerts": alerts.evaluate(letters, channels, now),
        "notEvaluated": alerts.not_evaluated(),
        "atMs": int(now.timestamp() * 1000),
    }


def quarantine_reveal(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``quarantine_reveal`` -> {raw}: one item of the caller's tenant, unmasked."""
    request = QuarantineItem.model_validate(body)
    _admin(caller)
    for row in quarantine.pending(caller.tenant_id, reveal=True):
        if row["id"] == request.id:
            return {"id": request.id, "raw": row["raw"]}
    raise Refused("not_found", f"no pending quarantined item {request.id}", 404)


def quarantine_replay(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``quarantine_replay`` -> {outcome, events}: what ``replay-quarantine`` does, for one."""
    request = QuarantineItem.model_validate(body)
    _admin(caller)
    rows = quarantine.replay(caller, tenant_id=caller.tenant_id, only={request.id})
    if not rows:
        raise Refused("not_found", f"no pending quarantined item {request.id}", 404)
    return rows[0]


def quarantine_replay_all(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``quarantine_replay_all`` -> {results, replayed}: every pending item of the
    caller's tenant that now parses or routes is published (``replay-quarantine``)."""
    _Request.model_validate(body)
    _admin(caller)
    rows = quarantine.replay(caller, tenant_id=caller.tenant_id)
    return {"results": rows, "replayed": sum(1 for row in rows if row["outcome"] == "published")}


def quarantine_discard(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``quarantine_discard`` -> {discarded}: ``quarantine discard ID --reason``."""
    request = Discard.model_validate(body)
    _admin(caller)
    reason = request.reason.strip()
    if not reason:
        raise Refused("reason_required", "say why the item is discarded")
    return {
        "id": request.id,
        "discarded": quarantine.discard(caller, request.id, reason, tenant_id=caller.tenant_id),
    }


def _one_letter(caller: Caller, event_id: str) -> dead_letters.Select:
    select = dead_letters.selector({event_id}, caller.tenant_id)
    assert select is not None
    return select


def deadletter_reveal(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``deadletter_reveal`` -> {raw}: one dead letter of the caller's tenant, unmasked."""
    request = DeadLetter.model_validate(body)
    _admin(caller)
    rows = dead_letters.listing(
        DEAD_LETTER_PAGE,
        _one_letter(caller, request.eventId),
        lambda received: dead_letters.page_record(received, reveal=True),
        wait=False,
    )
    if not rows:
        raise Refused("not_found", f"no dead letter {request.eventId}", 404)
    return {"eventId": request.eventId, "raw": rows[0]["raw"]}


def deadletter_replay(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``deadletter_replay`` -> {replayed}: ``dead-letters replay --event-id``."""
    request = DeadLetter.model_validate(body)
    _admin(caller)
    rows = dead_letters.replay(caller, DEAD_LETTER_PAGE, _one_letter(caller, request.eventId))
    if not rows:
        raise Refused("not_found", f"no dead letter {request.eventId}", 404)
    return {"eventId": request.eventId, "replayed": len(rows)}


def deadletter_discard(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``deadletter_discard`` -> {discarded}: ``dead-letters discard --event-id --reason``."""
    request = DeadLetterDiscard.model_validate(body)
    _admin(caller)
    reason = request.reason.strip()
    if not reason:
        raise Refused("reason_required", "say why the dead letter is discarded")
    rows = dead_letters.discard(caller, DEAD_LETTER_PAGE, _one_letter(caller, request.eventId), reason)
    if not rows:
        raise Refused("not_found", f"no dead letter {request.eventId}", 404)
    return {"eventId": request.eventId, "discarded": len(rows)}
