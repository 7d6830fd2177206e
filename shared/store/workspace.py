"""A tenant's workspace settings: the ``settings`` map of the tenant document.

    tenants/{t}    settings {name, timeZone, businessHours {mon..sun: ["HH:MM-HH:MM", ...]},
                             autoReply {enabled, text}, replyWindowReminderMinutes, retentionDays}

Firestore stores no array inside an array, so each day's ranges ``[["09:00", "17:00"], ...]`` are
stored as strings ``["09:00-17:00", ...]``; these functions convert both ways, so callers see the
pairs.

Written only by the settings action (shared/workspace.py, admins); read by ingest (cached there),
by the retention job, and by the dashboard's listener on the tenant document.
"""

from __future__ import annotations

from typing import Any

from shared.store._client import _rpc, client


def _stored_hours(hours: dict[str, Any]) -> dict[str, list[str]]:
    return {day: [f"{start}-{end}" for start, end in ranges] for day, ranges in hours.items()}


def _read_hours(hours: dict[str, Any]) -> dict[str, list[list[str]]]:
    return {
        day: [str(text).split("-", 1) for text in ranges if isinstance(text, str) and "-" in text]
        for day, ranges in hours.items()
        if isinstance(ranges, list)
    }


def get_workspace_settings(tenant_id: str) -> dict[str, Any] | None:
    """The tenant's ``settings`` map, or None when the tenant does not exist. A tenant that never
    saved settings has {} with its ``name`` (the tenant document's) filled in."""
    snapshot = client().collection("tenants").document(tenant_id).get(["settings", "name"], **_rpc())
    if not snapshot.exists:
        return None
    data = snapshot.to_dict() or {}
    settings = dict(data["settings"]) if isinstance(data.get("settings"), dict) else {}
    if not settings.get("name") and data.get("name"):
        settings["name"] = str(data["name"])
    if isinstance(settings.get("businessHours"), dict):
        settings["businessHours"] = _read_hours(settings["businessHours"])
    return settings


def put_workspace_settings(tenant_id: str, settings: dict[str, Any]) -> None:
    """Replace the tenant's ``settings`` map as a whole (a key left out is removed), and keep the
    tenant's display ``name`` in step with it."""
    stored = dict(settings)
    if isinstance(stored.get("businessHours"), dict):
        stored["businessHours"] = _stored_hours(stored["businessHours"])
    data: dict[str, Any] = {"settings": stored}
    if settings.get("name"):
        data["name"] = settings["name"]
    client().collection("tenants").document(tenant_id).update(data, **_rpc())
