"""Reading what a provider sent, tolerantly: headers, the JSON body and the values in it.

Every channel reads untrusted JSON (or form fields) whose fields may be missing, of the wrong type,
or nonsense; these readers turn each into a value or None (an empty dict for objects) and never
raise, except :func:`load_body`, which refuses a body that is not a strict JSON object. Provider
knowledge stays in the channel modules: nothing here knows a provider's layout.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.errors import ParseError

__all__ = [
    "as_dict",
    "as_float",
    "as_id",
    "as_text",
    "fingerprint",
    "first_dict",
    "header",
    "load_body",
    "to_utc",
]

# --- headers -------------------------------------------------------------------------------------


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Look ``name`` up in ``headers`` case-insensitively (plain dicts as well as Werkzeug's
    ``Headers``, which are already case-insensitive)."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, candidate in headers.items():
        if isinstance(key, str) and key.lower() == wanted:
            return candidate
    return None


# --- the body ------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    # json.loads turns 1e400 into inf, which cannot be stored or published as JSON: refuse it.
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number out of range: {text[:20]}")
    return value


def load_body(body: bytes) -> dict[str, Any]:
    """Parse a webhook body; raise ParseError unless it is a strict JSON object (Python's
    ``NaN``/``Infinity`` extensions are refused: they could not be stored or published as JSON)."""
    try:
        data = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ParseError(f"body is not JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise ParseError(f"body is a JSON {type(data).__name__}, not an object")
    return data


def fingerprint(value: object) -> str:
    """A canonical JSON string of ``value``, for :func:`stable_event_id` over items with no id."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


# --- values --------------------------------------------------------------------------------------


def as_id(value: object) -> str | None:
    """A provider id as a string. Ids are kept as strings end to end: Meta's app ids exceed 2**53
    and lose precision in JavaScript. Numbers are converted with ``str``; anything else is None."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


def as_text(value: object) -> str | None:
    """``value`` if it is a string, else None (never ``str()`` of a dict into a message)."""
    return value if isinstance(value, str) else None


def as_dict(value: object) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty dict: missing and malformed read the same."""
    return value if isinstance(value, dict) else {}


def as_float(value: object) -> float | None:
    """A finite float from a number or numeric string, else None."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def first_dict(value: object) -> dict[str, Any] | None:
    """The first object of a JSON list (``errors[0]``), or None."""
    if isinstance(value, list):
        for element in value:
            if isinstance(element, dict):
                return element
    return None


# --- timestamps ----------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_FUTURE_SLACK = timedelta(days=1)
_MILLISECONDS_FROM = 10**11  # 10**11 s is the year 5138: anything this large must be milliseconds
_NUMERIC = re.compile(r"\d{1,20}(?:\.\d{1,9})?")


def to_utc(value: object) -> datetime | None:
    """A provider's Unix timestamp as an aware UTC datetime, or None when it is not a believable time.

    Seconds (WhatsApp, Messenger referrals, Telegram's ``date``) or milliseconds (Messenger/Instagram)
    as int, float or numeric string; the unit is decided by magnitude (below 10**11: seconds). Garbage, zero,
    negatives, times before 2000 (``233445667`` from dashboard test deliveries) and times more than
    a day in the future give None. Never raises.
    """
    if isinstance(value, bool) or value is None:
        return None
    number: int | float
    if isinstance(value, int | float):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if not _NUMERIC.fullmatch(text):
            return None
        number = float(text) if "." in text else int(text)
    else:
        return None
    if number <= 0 or (isinstance(number, float) and not math.isfinite(number)):
        return None
    try:
        if number >= _MILLISECONDS_FROM:
            moment = _EPOCH + timedelta(milliseconds=number)
        else:
            moment = _EPOCH + timedelta(seconds=number)
    except (OverflowError, ValueError):
        return None
    if moment < _EARLIEST or moment > datetime.now(UTC) + _FUTURE_SLACK:
        return None
    return moment
