"""Message and contact search, and the timeline of all of a tenant's messages: one small interface
over Firestore's own indexes, so a managed text-search engine can replace the term index later
without touching its callers (functions/send.py ``agent_api``, shared/cli.py, the write paths).

- :mod:`shared.search.terms`: normalization and terms (any script, accents and case folded,
  prefixes of at least 3 characters, Han/kana bigrams, a cap per document);
- :mod:`shared.search.fields`: the fields every new message document carries (``tenantId``,
  ``conversationId``, ``sentAtMs``, ``terms``) and contacts' ``terms``;
- :mod:`shared.search.engine`: the query side (:func:`search`, :func:`timeline`), staff only;
- :mod:`shared.search.backfill`: adding the fields to messages stored before search existed.
"""

from __future__ import annotations

from shared.search.engine import (
    SCAN_BUDGET,
    SearchRequest,
    TimelineRequest,
    agent_action,
    search,
    timeline,
)
from shared.search.fields import contact_terms, message_fields, message_terms

__all__ = [
    "SCAN_BUDGET",
    "SearchRequest",
    "TimelineRequest",
    "agent_action",
    "contact_terms",
    "message_fields",
    "message_terms",
    "search",
    "timeline",
]
