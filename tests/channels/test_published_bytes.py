"""What the webhook publishes for every fixture is pinned, byte for byte (issue 15, "Parsing speed").

Making parsing faster must not change a single published byte: ingest, stored messages and the
event ids that deduplicate retries all follow from them. ``golden/published-events.json`` holds, for
every real payload in ``../shared/fixtures/providers`` and every hand-written one in ``fixtures/``,
each event's published JSON (``Normalized.encoded``) and each quarantined item's reason and id.

When an event's shape changes on purpose, regenerate the file and review its diff:

    PYTHONPATH=. python -m tests.channels.test_published_bytes
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.parse_speed import FORM_CHANNELS, webhook_url
from shared import channels
from shared.inbound import encode, normalize
from tests.channels import FIXTURES, PROVIDER_FIXTURES

GOLDEN = Path(__file__).resolve().parent / "golden" / "published-events.json"


def _body(kind: str, path: Path) -> bytes | None:
    """The webhook body a fixture stands for (Twilio's fixtures hold the form's fields as JSON)."""
    raw = path.read_bytes()
    if kind not in FORM_CHANNELS:
        return raw
    data = json.loads(raw)
    fields = data.get("params", data) if isinstance(data, dict) else None
    if not isinstance(fields, dict):
        return None
    return urlencode({k: v for k, v in fields.items() if isinstance(v, str)}).encode()


def fixture_bodies() -> dict[str, tuple[str, bytes]]:
    """``{"<where>/<file>": (channel, body)}`` for every inbound fixture, real and hand-written."""
    found: dict[str, tuple[str, bytes]] = {}
    for kind in channels.kinds():
        paths = [
            *sorted((PROVIDER_FIXTURES / kind).glob("*.json")),
            *sorted((FIXTURES / kind).glob("*.json")),
            *sorted(FIXTURES.glob(f"{kind}-*.json")),
        ]
        for path in paths:
            if path.name.startswith("out-") or "verify" in path.name:
                continue
            body = _body(kind, path)
            if body is not None:
                where = "providers" if path.is_relative_to(PROVIDER_FIXTURES) else "own"
                found[f"{where}/{kind}/{path.name}"] = (kind, body)
    return found


def published() -> dict[str, dict[str, Any]]:
    """What normalizing each fixture gives: the events' published JSON, the quarantined items."""
    result = {}
    for name, (kind, body) in fixture_bodies().items():
        normalized = normalize(channels.adapter(kind), body, webhook_url(kind))
        result[name] = {
            "events": [data.decode() for data in normalized.encoded],
            "quarantined": [[q.reason, q.quarantine_id] for q in normalized.quarantined],
        }
    return result


def test_every_fixture_publishes_exactly_the_pinned_bytes() -> None:
    pinned = json.loads(GOLDEN.read_text())
    now = published()
    assert sorted(now) == sorted(pinned), "fixtures were added or removed: regenerate (see the docstring)"
    assert sum(len(entry["events"]) for entry in now.values()) > 100
    for name, entry in now.items():
        assert entry == pinned[name], name


def test_the_published_json_is_the_models_own() -> None:
    # encode() serializes the validated fields by their types rather than through the model's
    # serializer: the same bytes as model_dump_json(), for every event kind and content type.
    kinds = set()
    for kind, body in fixture_bodies().values():
        for event in normalize(channels.adapter(kind), body, webhook_url(kind)).events:
            assert encode(event) == event.model_dump_json().encode()
            kinds.add((event.kind, getattr(getattr(event, "content", None), "type", None)))
    assert len(kinds) >= 15


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(published(), indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"wrote {GOLDEN}")
