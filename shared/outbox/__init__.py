"""Sending: an agent's reply becomes a queued message, then a named Cloud Task, then one provider call.

Two halves, one module each:

- :mod:`shared.outbox.replies`: what ``send_message`` and ``agent_api``'s mark_read run for an
  agent: the request, the channel's rules, the reply window, the message written and its task queued;
- :mod:`shared.outbox.delivery`: what ``deliver`` runs for a task: the claim, the provider call,
  the outcome recorded; and :func:`enqueue`, the one way work reaches deliver.
"""

from shared.outbox.delivery import (
    CLAIM_SECONDS,
    DeliveryTask,
    account_for,
    answer_callback,
    deliver,
    enqueue,
)
from shared.outbox.replies import ComposeMessage, ComposeRequest, compose, mark_read, reply_window
from shared.outbox.typing import signal_typing

__all__ = [
    "CLAIM_SECONDS",
    "ComposeMessage",
    "ComposeRequest",
    "DeliveryTask",
    "account_for",
    "answer_callback",
    "compose",
    "deliver",
    "enqueue",
    "mark_read",
    "reply_window",
    "signal_typing",
]
