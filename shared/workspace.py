"""Workspace settings (issue 18, part 5): the tenant document's ``settings`` map, validated, saved by
admins through agent_api ``workspace_settings`` and recorded in the audit log as ``settings.change``
(before/after of the keys that changed); and the business-hours arithmetic the auto-reply
(shared/autoreply.py) and the dashboard go by.

    settings {name, timeZone (IANA), businessHours {mon..sun: [["09:00", "17:00"], ...]},
              autoReply {enabled, text}, replyWindowReminderMinutes, retentionDays,
              csat {enabled, question}}

Business hours are local times of ``timeZone`` on each weekday; a day missing or empty is closed all
day; ``"24:00"`` ends a range at midnight. With no ``businessHours`` at all the workspace is never
"closed" (no auto-reply). Everything is computed in UTC instants from the zone's rules, so a DST
change moves the instants, never the local hours (a range starting in a skipped hour starts at the
zone's mapping of it; comparisons never use naive local times).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:  # pragma: no cover
    from shared.auth import Caller

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_RANGES_A_DAY = 4
_HOUR = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")


def _minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


class AutoReply(BaseModel):
    """The message sent once per conversation per closed period, when enabled."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    text: str = Field(default="", max_length=1000)

    @model_validator(mode="after")
    def _text_when_enabled(self) -> AutoReply:
        if self.enabled and not self.text.strip():
            raise ValueError("an enabled auto-reply needs its text")
        return self


DEFAULT_CSAT_QUESTION = "How would you rate our help today?"


class Csat(BaseModel):
    """The satisfaction survey sent when a conversation is resolved (shared/csat.py), when enabled."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    question: str = Field(default=DEFAULT_CSAT_QUESTION, max_length=300)

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        return value.strip() or DEFAULT_CSAT_QUESTION


class WorkspaceSettings(BaseModel):
    """The whole ``settings`` map, as an admin saves it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    timeZone: str = Field(default="UTC", min_length=1, max_length=64)
    businessHours: dict[str, list[tuple[str, str]]] | None = None
    autoReply: AutoReply = AutoReply()
    replyWindowReminderMinutes: int | None = Field(default=None, ge=1, le=24 * 60)
    retentionDays: int | None = Field(default=None, ge=1, le=3650)
    csat: Csat = Csat()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the workspace needs a name")
        return value.strip()

    @field_validator("timeZone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value} is not an IANA time zone (like Europe/Paris)") from None
        return value

    @field_validator("businessHours")
    @classmethod
    def _hours(
        cls, value: dict[str, list[tuple[str, str]]] | None
    ) -> dict[str, list[tuple[str, str]]] | None:
        if value is None:
            return None
        unknown = sorted(set(value) - set(DAYS))
        if unknown:
            raise ValueError(f"unknown day(s) {', '.join(unknown)}: use {', '.join(DAYS)}")
        for day, ranges in value.items():
            if len(ranges) > MAX_RANGES_A_DAY:
                raise ValueError(f"{day}: at most {MAX_RANGES_A_DAY} ranges a day")
            previous_end = -1
            for start, end in sorted(ranges):
                if not _HOUR.match(start) or not _HOUR.match(end) or start == "24:00":
                    raise ValueError(f"{day}: {start}-{end} is not a range of HH:MM times (00:00 to 24:00)")
                if _minutes(start) >= _minutes(end):
                    raise ValueError(
                        f"{day}: {start}-{end} ends before it starts (hours past midnight are two ranges: "
                        f"{start}-24:00, then 00:00-{end} on the next day)"
                    )
                if _minutes(start) < previous_end:
                    raise ValueError(f"{day}: the ranges overlap")
                previous_end = _minutes(end)
        return {day: sorted(value[day]) for day in DAYS if day in value}


def _zone(settings: dict[str, Any]) -> Any:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(str(settings.get("timeZone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _ranges_on(settings: dict[str, Any], day: date, zone: Any) -> list[tuple[datetime, datetime]]:
    """The day's open ranges as UTC instants."""
    hours = settings.get("businessHours") or {}
    ranges = []
    for start, end in hours.get(DAYS[day.weekday()]) or []:
        begin = _at(day, str(start), zone)
        finish = _at(day, str(end), zone)
        if begin < finish:
            ranges.append((begin, finish))
    return ranges


def _at(day: date, hour: str, zone: Any) -> datetime:
    minutes = _minutes(hour)
    if minutes == 24 * 60:
        following = day + timedelta(days=1)
        return datetime(following.year, following.month, following.day, tzinfo=zone).astimezone(UTC)
    local = datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=zone)
    return local.astimezone(UTC)


def has_hours(settings: dict[str, Any]) -> bool:
    """Whether the workspace set business hours at all (without them it is never closed)."""
    return isinstance(settings.get("businessHours"), dict)


def is_open(settings: dict[str, Any], at: datetime) -> bool:
    """Whether ``at`` falls within business hours (always True without business hours)."""
    if not has_hours(settings):
        return True
    zone = _zone(settings)
    local_day = at.astimezone(zone).date()
    instant = at.astimezone(UTC)
    return any(
        begin <= instant < finish
        for day in (local_day - timedelta(days=1), local_day)
        for begin, finish in _ranges_on(settings, day, zone)
    )


def closed_since(settings: dict[str, Any], at: datetime) -> datetime | None:
    """When the closed period ``at`` falls in began (the end of the last open range before it);
    None when ``at`` is within business hours. A workspace open on no day at all is closed since
    the epoch: one closed period, one auto-reply a conversation."""
    if is_open(settings, at):
        return None
    zone = _zone(settings)
    instant = at.astimezone(UTC)
    local_day = at.astimezone(zone).date()
    ends = [
        finish
        for back in range(0, 8)
        for _, finish in _ranges_on(settings, local_day - timedelta(days=back), zone)
        if finish <= instant
    ]
    return max(ends) if ends else datetime.fromtimestamp(0, UTC)


# --- agent_api ``workspace_settings`` ----------------------------------------------------------------


class SettingsRequest(BaseModel):
    """agent_api ``workspace_settings``: without ``settings``, read them; with, save them whole."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str
    settings: WorkspaceSettings | None = None


def current(tenant_id: str) -> dict[str, Any]:
    """The tenant's settings ({} when none were saved)."""
    from shared import store
    from shared.errors import Refused

    settings = store.get_workspace_settings(tenant_id)
    if settings is None:
        raise Refused("not_found", f"no tenant {tenant_id}", 404)
    return settings


def save(caller: Caller, settings: WorkspaceSettings) -> dict[str, Any]:
    """Save the caller's tenant's settings (admins) and record what changed; return them."""
    from shared import audit, store
    from shared.auth import require_admin

    require_admin(caller, "changing the workspace settings")
    before = current(caller.tenant_id)
    after = settings.model_dump(mode="json", exclude_none=True)
    changed = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
    if not changed:
        return after
    store.put_workspace_settings(caller.tenant_id, after)
    audit.record(
        caller,
        "settings.change",
        {"kind": "workspace", "id": caller.tenant_id, "name": after["name"]},
        before=_auditable({key: before[key] for key in changed if key in before}),
        after=_auditable({key: after[key] for key in changed if key in after}),
    )
    return after


def _auditable(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` as an audit entry can hold them: Firestore keeps no array inside an array, so each
    day's ranges are written ``"09:00-17:00"``."""
    hours = values.get("businessHours")
    if not isinstance(hours, dict):
        return values
    ranges = {day: [f"{start}-{end}" for start, end in spans] for day, spans in hours.items()}
    return {**values, "businessHours": ranges}


def agent_action(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``workspace_settings`` -> {settings}."""
    from shared.auth import require_admin

    request = SettingsRequest.model_validate(body)
    if request.settings is None:
        require_admin(caller, "reading the workspace settings")
        return {"settings": current(caller.tenant_id)}
    return {"settings": save(caller, request.settings)}
