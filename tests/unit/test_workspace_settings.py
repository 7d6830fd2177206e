"""Workspace settings: validation (IANA zones, hour ranges) and the business-hours arithmetic the
auto-reply goes by, across time zones and DST changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from shared import autoreply, workspace
from shared.workspace import WorkspaceSettings

WEEKDAYS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def settings(zone: str = "Europe/Paris", hours: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    return {"name": "Shop", "timeZone": zone, "businessHours": WEEKDAYS if hours is None else hours, **more}


def test_a_valid_settings_map_is_kept_with_its_days_in_order() -> None:
    saved = WorkspaceSettings.model_validate(
        {
            "name": " Corner Shop ",
            "timeZone": "America/New_York",
            "businessHours": {"fri": [["13:00", "24:00"], ["08:00", "12:00"]], "mon": [["09:00", "17:00"]]},
            "autoReply": {"enabled": True, "text": "We are closed"},
            "replyWindowReminderMinutes": 60,
            "retentionDays": 365,
        }
    ).model_dump(mode="json", exclude_none=True)
    assert saved["name"] == "Corner Shop"
    assert list(saved["businessHours"]) == ["mon", "fri"]
    assert saved["businessHours"]["fri"] == [["08:00", "12:00"], ["13:00", "24:00"]]


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"timeZone": "Mars/Olympus"}, "IANA"),
        ({"timeZone": "../etc/passwd"}, "IANA"),
        ({"businessHours": {"mon": [["17:00", "09:00"]]}}, "ends before it starts"),
        ({"businessHours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}, "overlap"),
        ({"businessHours": {"mon": [["9:00", "12:00"]]}}, "HH:MM"),
        ({"businessHours": {"mon": [["24:00", "24:00"]]}}, "HH:MM"),
        ({"businessHours": {"mon": [["09:00", "25:00"]]}}, "HH:MM"),
        ({"businessHours": {"funday": [["09:00", "12:00"]]}}, "unknown day"),
        ({"autoReply": {"enabled": True, "text": "  "}}, "needs its text"),
        ({"replyWindowReminderMinutes": 0}, "greater than or equal"),
        ({"retentionDays": 0}, "greater than or equal"),
        ({"name": "   "}, "needs a name"),
        ({"colour": "red"}, "Extra inputs"),
    ],
)
def test_invalid_settings_are_refused_saying_why(change: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        WorkspaceSettings.model_validate({"name": "Shop", **change})


def test_open_and_closed_follow_the_local_hours_of_the_zone() -> None:
    paris = settings()
    # Monday 2026-12-07: Paris is UTC+1 in winter.
    assert workspace.is_open(paris, datetime(2026, 12, 7, 8, 0, tzinfo=UTC))  # 09:00 local
    assert not workspace.is_open(paris, datetime(2026, 12, 7, 7, 59, tzinfo=UTC))  # 08:59 local
    assert not workspace.is_open(paris, datetime(2026, 12, 7, 16, 0, tzinfo=UTC))  # 17:00 local: closed
    # The same instant is within Tokyo's hours (UTC+9: 01:00 UTC is 10:00 local).
    assert workspace.is_open(settings("Asia/Tokyo"), datetime(2026, 12, 7, 1, 0, tzinfo=UTC))
    assert not workspace.is_open(settings("Europe/Paris"), datetime(2026, 12, 7, 1, 0, tzinfo=UTC))


def test_a_closed_period_starts_when_the_last_range_ended_even_over_a_weekend() -> None:
    paris = settings()
    friday_close = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)  # Friday 17:00 in Paris
    for moment in (
        datetime(2026, 12, 4, 20, 0, tzinfo=UTC),
        datetime(2026, 12, 5, 12, 0, tzinfo=UTC),
        datetime(2026, 12, 7, 7, 0, tzinfo=UTC),  # Monday 08:00, before opening
    ):
        assert workspace.closed_since(paris, moment) == friday_close
    assert workspace.closed_since(paris, datetime(2026, 12, 7, 9, 0, tzinfo=UTC)) is None
    monday_close = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
    assert workspace.closed_since(paris, datetime(2026, 12, 7, 22, 0, tzinfo=UTC)) == monday_close


def test_dst_changes_move_the_instants_not_the_local_hours() -> None:
    new_york = settings("America/New_York", {"sun": [["09:00", "17:00"]], "mon": [["09:00", "17:00"]]})
    # 2026-03-08 (Sunday): clocks go from 02:00 EST to 03:00 EDT. 09:00 EDT is 13:00 UTC.
    assert not workspace.is_open(new_york, datetime(2026, 3, 8, 12, 59, tzinfo=UTC))
    assert workspace.is_open(new_york, datetime(2026, 3, 8, 13, 0, tzinfo=UTC))
    # The Saturday before, 09:00 EST would be 14:00 UTC: the same local hour, another instant.
    assert workspace.closed_since(new_york, datetime(2026, 3, 9, 12, 0, tzinfo=UTC)) == datetime(
        2026, 3, 8, 21, 0, tzinfo=UTC
    )
    # 2026-11-01 (Sunday): back from EDT to EST; 17:00 EST is 22:00 UTC.
    assert workspace.is_open(new_york, datetime(2026, 11, 1, 21, 59, tzinfo=UTC))
    assert not workspace.is_open(new_york, datetime(2026, 11, 1, 22, 0, tzinfo=UTC))
    # A range that begins inside the skipped hour (Paris, 2026-03-29 02:30 does not exist).
    paris = settings("Europe/Paris", {"sun": [["02:30", "04:00"]]})
    assert workspace.is_open(paris, datetime(2026, 3, 29, 1, 30, tzinfo=UTC))  # 03:30 CEST
    assert not workspace.is_open(paris, datetime(2026, 3, 29, 2, 0, tzinfo=UTC))  # 04:00 CEST


def test_without_business_hours_the_workspace_is_never_closed_and_never_auto_replies() -> None:
    no_hours = {"name": "Shop", "timeZone": "UTC", "autoReply": {"enabled": True, "text": "closed"}}
    assert workspace.is_open(no_hours, datetime(2026, 12, 6, 3, 0, tzinfo=UTC))
    assert autoreply.wanted(no_hours, datetime(2026, 12, 6, 3, 0, tzinfo=UTC)) is None


def test_an_auto_reply_is_due_outside_hours_only_and_only_when_enabled() -> None:
    sunday = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    monday_noon = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
    on = settings(autoReply={"enabled": True, "text": "We are closed"})
    off = settings(autoReply={"enabled": False, "text": "We are closed"})
    period = autoreply.wanted(on, sunday)
    assert period == int(datetime(2026, 12, 4, 16, 0, tzinfo=UTC).timestamp() * 1000)
    assert autoreply.wanted(on, datetime(2026, 12, 6, 23, 0, tzinfo=UTC)) == period  # the same period
    assert autoreply.wanted(on, monday_noon) is None
    assert autoreply.wanted(off, sunday) is None
    # Never open: one period since the epoch, so one auto-reply a conversation.
    assert autoreply.wanted(settings(hours={}, autoReply={"enabled": True, "text": "x"}), sunday) == 0


def test_hours_past_midnight_are_two_ranges_and_make_one_open_period() -> None:
    """A late shift, 22:00 to 06:00 in Paris (UTC+1 in January): stored as Monday 22:00-24:00 and
    Tuesday 00:00-06:00, open across midnight, closed from 06:00 on; "22:00-06:00" itself is refused
    with the way to write it."""
    with pytest.raises(ValidationError, match="22:00-24:00, then 00:00-06:00 on the next day"):
        WorkspaceSettings.model_validate({"name": "Shop", "businessHours": {"mon": [["22:00", "06:00"]]}})
    night = settings(hours={"mon": [["22:00", "24:00"]], "tue": [["00:00", "06:00"]]})
    WorkspaceSettings.model_validate(night)
    monday = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
    assert not workspace.is_open(night, monday.replace(hour=20, minute=59))  # 21:59 in Paris
    assert workspace.is_open(night, monday.replace(hour=22, minute=30))  # 23:30 Monday
    assert workspace.is_open(night, monday.replace(day=5, hour=23, minute=0))  # 00:00 Tuesday
    assert workspace.is_open(night, monday.replace(day=6, hour=4, minute=59))  # 05:59 Tuesday
    assert not workspace.is_open(night, monday.replace(day=6, hour=5, minute=0))  # 06:00 Tuesday
    # One closed period from 06:00 Tuesday: the auto-reply goes once, not again at midnight.
    assert workspace.closed_since(night, monday.replace(day=6, hour=12)) == monday.replace(day=6, hour=5)
    assert workspace.closed_since(night, monday.replace(day=6, hour=12)) == workspace.closed_since(
        night, monday.replace(day=12, hour=20)
    )
