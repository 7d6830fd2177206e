"""Structured JSON logs on stdout, which Cloud Logging parses into jsonPayload.

INFO lines carry ids, kinds and counts only: never message text, names or phone numbers
(tests/security/test_logs_carry_no_personal_data.py and tests/unit/test_webhook_function.py
prove it for the webhook paths).
"""

from __future__ import annotations

import json
import logging
import sys
from functools import cache

from shared.config import settings


class JsonFormatter(logging.Formatter):
    """One JSON object per line: severity, message, logger and any ``extra={"fields": {...}}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"severity": record.levelname, "message": record.getMessage(), "logger": record.name}
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


@cache
def configure() -> None:
    """Install the JSON handler on the root logger once per process (on first request, not at import)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    # Replace plain console handlers (ours would print every line twice); keep any other handler
    # (a test's capture handler, a platform's).
    root.handlers[:] = [h for h in root.handlers if type(h) is not logging.StreamHandler] + [handler]
    root.setLevel(settings().log_level)
