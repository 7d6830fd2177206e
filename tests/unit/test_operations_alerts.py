"""The operations page's banners are the Terraform monitoring's alert policies, one for one, and
fire on the same conditions where the page can see the data."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from shared.operations import alerts
from tests.support import REPO

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_every_alert_policy_in_terraform_is_known_to_the_page() -> None:
    text = (REPO / "infra" / "modules" / "monitoring" / "main.tf").read_text()
    declared = set(re.findall(r'resource "google_monitoring_alert_policy" "([a-z0-9_]+)"', text))
    assert declared == {policy.resource for policy in alerts.POLICIES}
    assert {row["policy"] for row in alerts.not_evaluated()} == {"function_error_rate", "webhook_5xx"}


def test_dead_letters_fire_arriving_when_new_and_awaiting_review_when_older_than_five_minutes() -> None:
    new = {"publishTimeMs": ms(NOW - timedelta(minutes=1))}
    old = {"publishTimeMs": ms(NOW - timedelta(minutes=6))}
    assert [a["policy"] for a in alerts.evaluate([new], [], NOW)] == ["dead_letters_arriving"]
    assert [a["policy"] for a in alerts.evaluate([old], [], NOW)] == ["dead_letters_awaiting_review"]
    assert alerts.evaluate([], [], NOW) == []


def test_a_channel_error_within_a_day_is_an_unhealthy_channel_until_the_incident_closes() -> None:
    recent = {
        "name": "Shop page",
        "health": {"lastError": {"code": 190, "reason": "token expired", "at": NOW}},
    }
    old = {"health": {"lastError": {"code": 190, "at": NOW - timedelta(days=2)}}}
    fired = alerts.evaluate([], [("page", recent), ("old", old), ("fine", {"health": {}})], NOW)
    assert [(a["policy"], a["subject"]) for a in fired] == [("channel_unhealthy", "page")]
    assert "Shop page: token expired" in fired[0]["message"]
