"""Outgoing e-mail (agents' invitations).

In production a message is a document in ``mail/`` in the shape Firebase's "Trigger Email from
Firestore" extension sends (``to``, ``message: {subject, text}``), so the SMTP credentials live in
the extension's configuration, not here. Locally (``SWITCHBOARD_LOCAL_OUTBOX_DIR``, set by the local
stack) each message is a JSON file in that directory instead, which ``make dev`` users and the tests
read (:func:`outbox`).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from shared import store
from shared.config import settings


def send(to: str, subject: str, text: str) -> str:
    """Send (queue) one plain-text message; return its id."""
    mail_id = f"{int(time.time() * 1000)}-{uuid.uuid4().hex[:12]}"
    message = {"to": to, "message": {"subject": subject, "text": text}}
    directory = settings().local_outbox_dir
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        partial = path / f".{mail_id}.tmp"
        partial.write_text(json.dumps(message, ensure_ascii=False, indent=2), encoding="utf-8")
        partial.rename(path / f"{mail_id}.json")  # readers never see half a file
    else:
        store.queue_mail(mail_id, {**message, "createdAt": store.server_time()})
    return mail_id


def outbox(directory: str | Path) -> list[dict[str, Any]]:
    """The messages a local outbox holds, oldest first."""
    path = Path(directory)
    if not path.is_dir():
        return []
    return [json.loads(f.read_text(encoding="utf-8")) for f in sorted(path.glob("*.json"))]
