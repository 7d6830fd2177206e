"""@mention parsing in notes (shared/mentions.py) and quiet hours (shared/notifications.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared import mentions
from shared.notifications import Preferences, QuietHours

AGENTS = [
    ("u-dana", {"name": "Dana Scully", "email": "dana@demo.test"}),
    ("u-dan", {"name": "Dana Whitaker", "email": "dwhit@demo.test"}),
    ("u-sam", {"name": "Sam", "email": "sam.rivera@demo.test"}),
    ("u-zoe", {"name": "  Zoë   Ng ", "email": "zoe@demo.test"}),
    ("u-noname", {"email": "ops@demo.test"}),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@Dana Scully please look", ["u-dana"]),
        ("@dana scully, and @SAM", ["u-dana", "u-sam"]),
        ("@sam.rivera knows", ["u-sam"]),
        ("cc @Zoë Ng!", ["u-zoe"]),
        ("(@ops) and '@Sam'", ["u-noname", "u-sam"]),
        ("@Sam @sam @Sam", ["u-sam"]),
    ],
)
def test_mentions_name_agents_by_full_name_unique_first_name_or_email(text: str, expected: list[str]) -> None:
    assert mentions.mentioned(text, AGENTS) == expected


@pytest.mark.parametrize(
    "text",
    [
        "@Dana needs a surname: two agents are called Dana",
        "mail sam@demo.test is no mention",
        "@Samuel is someone else",
        "no mention at all",
        "@",
    ],
)
def test_what_is_not_a_mention(text: str) -> None:
    assert mentions.mentioned(text, AGENTS) == []


def test_a_note_notifies_at_most_twenty_agents() -> None:
    many = [(f"u{i}", {"name": f"Agent{i:02d}"}) for i in range(30)]
    text = " ".join(f"@Agent{i:02d}" for i in range(30))
    assert mentions.mentioned(text, many) == [f"u{i}" for i in range(mentions.MAX_MENTIONS)]


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 7, 1, hour, minute, tzinfo=UTC)


def test_quiet_hours_span_midnight_in_the_agents_time_zone() -> None:
    quiet = QuietHours(enabled=True, start="22:00", end="07:00", timeZone="Europe/Paris")  # UTC+2 in July
    assert quiet.covers(at(20, 0))  # 22:00 in Paris
    assert quiet.covers(at(4, 59))  # 06:59
    assert not quiet.covers(at(5, 0))  # 07:00
    assert not quiet.covers(at(19, 59))  # 21:59
    assert not QuietHours(enabled=False, start="00:00", end="23:59").covers(at(12))


def test_quiet_hours_within_a_day() -> None:
    quiet = QuietHours(enabled=True, start="12:00", end="13:30", timeZone="UTC")
    assert quiet.covers(at(12, 0)) and quiet.covers(at(13, 29))
    assert not quiet.covers(at(13, 30)) and not quiet.covers(at(11, 59))


def test_stored_preferences_default_what_is_missing_or_broken() -> None:
    assert Preferences.of({}).wants("mention")
    assert not Preferences.of({"events": {"mention": False}}).wants("mention")
    assert Preferences.of({"events": {"mention": False}}).wants("assigned")
    broken = Preferences.of({"quietHours": {"enabled": True, "start": "nope"}})
    assert broken.wants("message") and not broken.quietHours.enabled
