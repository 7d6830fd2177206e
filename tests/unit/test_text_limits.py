"""Each channel's text limit is declared once, in its adapter's ``capabilities.max_text_length``;
the dashboard's composer counts against the same numbers (``TEXT_LIMITS`` in web/src/lib/types.ts),
and send_message refuses a longer reply with ``text_too_long``, naming the limit."""

from __future__ import annotations

import re

import pytest

from shared import channels
from shared.errors import Refused
from shared.outbox import replies
from tests.support import REPO

WEB_TYPES = REPO / "web" / "src" / "lib" / "types.ts"


def dashboard_limits() -> dict[str, int]:
    block = re.search(r"TEXT_LIMITS[^{]*\{(.*?)\}", WEB_TYPES.read_text(encoding="utf-8"), re.S)
    assert block, "TEXT_LIMITS is missing from web/src/lib/types.ts"
    return {kind: int(limit) for kind, limit in re.findall(r"(\w+):\s*(\d+)", block.group(1))}


def test_the_dashboard_counts_against_the_channels_own_limits() -> None:
    declared = {kind: channels.capabilities(kind).max_text_length for kind in [*channels.REGISTRY, "app"]}
    assert dashboard_limits() == declared


@pytest.mark.parametrize("kind", [*channels.REGISTRY, "app"])
def test_a_text_over_the_limit_is_refused_naming_it_and_one_at_the_limit_passes(kind: str) -> None:
    limit = channels.capabilities(kind).max_text_length
    replies.check_text_length(replies.ComposeMessage(type="text", text="😀" * limit), kind)
    with pytest.raises(Refused) as refused:
        replies.check_text_length(replies.ComposeMessage(type="text", text="a" * (limit + 1)), kind)
    assert refused.value.code == "text_too_long" and refused.value.http_status == 422
    assert f"at most {limit} characters" in str(refused.value) and str(limit + 1) in str(refused.value)
