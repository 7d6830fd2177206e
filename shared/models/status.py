"""Delivery status of messages the business sends: it only ever moves forward.

queued < sent < failed < delivered < read. ``failed`` outranks ``sent`` (the provider accepted, then
gave up) but never a delivered or read message; ``played`` (WhatsApp voice) counts as read. Unknown
provider statuses have no rank: they are recorded in the history and change nothing.
"""

from __future__ import annotations

STATUS_RANK: dict[str, int] = {"queued": 0, "sent": 10, "failed": 15, "delivered": 20, "read": 30}


def rank(status: str | None) -> int | None:
    """The rank of a status, or None when it is not one we order."""
    if status == "played":
        return STATUS_RANK["read"]
    return STATUS_RANK.get(status or "")


def advances(current: str | None, new: str) -> bool:
    """True when moving from ``current`` to ``new`` is forward (receipts never regress a message)."""
    new_rank = rank(new)
    if new_rank is None:
        return False
    current_rank = rank(current)
    return current_rank is None or new_rank > current_rank
