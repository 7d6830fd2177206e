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
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from pydantic_core import from_json

from shared.errors import ParseError

__all__ = [
    "as_dict",
    "as_float",
    "as_id",
    "as_text",
    "believable",
    "event_time",
    "fingerprint",
    "first_dict",
    "form_pairs",
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


def form_pairs(text: str) -> list[tuple[str, str]]:
    """``urllib.parse.parse_qsl(text, keep_blank_values=True)``, without its per-field overhead
    (most fields need no unescaping): the same ``(name, value)`` pairs in order. Empty fields are
    skipped, a field without ``=`` has an empty value, ``+`` is a space, ``%xx`` escapes are read
    as UTF-8 (invalid ones replaced)."""
    pairs = []
    for field in text.split("&"):
        if field:
            name, _, value = field.partition("=")
            name = name.replace("+", " ")
            value = value.replace("+", " ")
            pairs.append((unquote(name) if "%" in name else name, unquote(value) if "%" in value else value))
    return pairs


# --- the body ------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    # json.loads turns 1e400 into inf, which cannot be stored or published as JSON: refuse it.
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number out of range: {text[:20]}")
    return value


# The strict reader, built once (json.loads with hooks builds a decoder per call).
_STRICT = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)
# Digits (and +) read as 0 and E as e: substring tests then find where a number might overflow.
_NUMBER_SHAPES = bytes.maketrans(b"123456789+E", b"0000000000e")
# A float below 210 digits before an exponent of at most two digits is below 1e309: finite.
_LONG_DIGITS = b"0" * 200
# In those shapes, a number with an exponent of three digits or more (``e+`` counting as one): a
# digit, ``e``, the digits, then the end of the number (or of the body). Hex strings (a sha256)
# often hold ``e`` and three digits, rarely between a digit and a comma or bracket. One search
# with a literal prefix, in C: a Python loop over each ``e000`` cost WhatsApp bodies a microsecond.
_OVERFLOWING_EXPONENT = re.compile(rb"0e000+(?![^,\]} \t\r\n])")


def load_body(body: bytes) -> dict[str, Any]:
    """Parse a webhook body; raise ParseError unless it is a strict JSON object (Python's
    ``NaN``/``Infinity`` extensions are refused: they could not be stored or published as JSON).

    pydantic's JSON reader (Rust) reads a body two to three times as fast as ``json.loads``, and
    what it accepts it reads to the same values, except that it takes a number too large for a
    float (``1e400``) for infinity. It refuses more (lone surrogates, a BOM, UTF-16, nesting over
    200 levels): those bodies, and any that may hold an overflowing number, go to the strict
    reader, which decides exactly as ``json.loads`` always did."""
    data = _fast_load(body) if type(body) is bytes else None
    if data is None:
        data = _strict_load(body)
    if type(data) is not dict:
        raise ParseError(f"body is a JSON {type(data).__name__}, not an object")
    return data


def _fast_load(body: bytes) -> Any:
    """The body as pydantic's JSON reader reads it, or None where the strict reader must decide."""
    shapes = body.translate(_NUMBER_SHAPES)
    if _LONG_DIGITS in shapes or _OVERFLOWING_EXPONENT.search(shapes) is not None:
        return None
    try:
        return from_json(body, allow_inf_nan=False, cache_strings="keys")  # keys repeat, values rarely
    except ValueError:
        return None


def _strict_load(body: bytes) -> Any:
    try:
        if isinstance(body, bytes | bytearray):
            # What json.loads does with bytes: UTF-8, -16 or -32 by the first bytes, surrogates kept.
            return _STRICT.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
        return json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ParseError(f"body is not JSON ({type(exc).__name__})") from None


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
# The C encoder _CANONICAL runs, built once: json.dumps builds both on every call, which costs more
# than encoding the few keys an item without an id has. Without the circular-reference check,
# which keeps state between calls (fingerprints are of parsed JSON: never circular).
_CANONICAL_C = (
    json.encoder.c_make_encoder(None, str, json.encoder.encode_basestring, None, ":", ",", True, False, True)
    if json.encoder.c_make_encoder is not None
    else None
)


def fingerprint(value: object) -> str:
    """A canonical JSON string of ``value``, for :func:`stable_event_id` over items with no id."""
    if _CANONICAL_C is None:  # pragma: no cover - CPython always has the C encoder
        return _CANONICAL.encode(value)
    return "".join(_CANONICAL_C(value, 0))


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
    kind = type(value)
    if kind is int:
        # The common case (Meta's milliseconds, Telegram's seconds), checked in numbers: exact for ints.
        return _int_to_utc(value)  # type: ignore[arg-type]
    if kind is str:
        text = value.strip()  # type: ignore[attr-defined]
        if len(text) <= 20 and text.isdecimal():  # what \d{1,20} matches (Unicode decimals)
            return _int_to_utc(int(text))
        if not _NUMERIC.fullmatch(text):
            return None
        number: int | float = float(text)
    elif isinstance(value, bool) or value is None:
        return None
    elif isinstance(value, int | float):
        number = value
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


_EARLIEST_SECONDS = int((_EARLIEST - _EPOCH).total_seconds())
_EARLIEST_MILLISECONDS = _EARLIEST_SECONDS * 1000
_FUTURE_SLACK_SECONDS = _FUTURE_SLACK.total_seconds()
# A day after this module was imported, in whole seconds: no later clock reading puts a time up to
# here more than a day in the future, so such a time needs no clock read (a webhook's times are
# near now, well within it, on any instance younger than a day).
_SURELY_BELIEVABLE_UNTIL = int(time.time() + _FUTURE_SLACK_SECONDS)
_SURELY_BELIEVABLE_UNTIL_MS = _SURELY_BELIEVABLE_UNTIL * 1000


def believable(number: int) -> bool:
    """Whether an int timestamp (seconds, or milliseconds from 10**11) is a time :func:`to_utc`
    accepts; checked in numbers, before any datetime is built."""
    if number >= _MILLISECONDS_FROM:
        if number < _EARLIEST_MILLISECONDS:
            return False
        return number <= _SURELY_BELIEVABLE_UNTIL_MS or number <= (time.time() + _FUTURE_SLACK_SECONDS) * 1000
    if number < _EARLIEST_SECONDS:
        return False
    return number <= _SURELY_BELIEVABLE_UNTIL or number <= time.time() + _FUTURE_SLACK_SECONDS


def _int_to_utc(number: int) -> datetime | None:
    """:func:`to_utc` of an int."""
    if not believable(number):
        return None
    if number >= _MILLISECONDS_FROM:
        return _EPOCH + timedelta(0, 0, number * 1000)  # exact; milliseconds= goes through floats
    return datetime.fromtimestamp(number, UTC)


def event_time(value: object) -> datetime | int | None:
    """:func:`to_utc` for a datetime field of an event: the same moment, or None, but a believable
    time in whole seconds or milliseconds stays an int, which the event's validation turns into
    the same UTC datetime, several times faster than Python builds one. (pydantic reads an int
    as milliseconds above 2e10, seconds below: for believable times, the unit :func:`to_utc` reads.)
    """
    kind = type(value)
    if kind is int:
        number: int = value  # type: ignore[assignment]
    elif kind is str and len(text := value.strip()) <= 20 and text.isdecimal():  # type: ignore[attr-defined]
        number = int(text)
    else:
        return to_utc(value)
    return number if believable(number) else None
