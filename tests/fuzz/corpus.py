"""The fuzzing corpus: real provider payloads as seeds, and the structural mutations applied to them.

Seeds are every inbound payload under ``../shared/fixtures/providers/<channel>/`` (not the ``out-*``
request/response bodies of the send API). A missing folder fails the run: fuzzing nothing would pass.

JSON channels (Messenger, Instagram, WhatsApp, Telegram) are mutated as trees: a node is chosen
anywhere in the document and dropped, given another JSON type, replaced by a numeric string that
parsers might choke on, a huge or negative number, odd unicode, nested deeply, turned into a list
(or a list of duplicates) where an object is expected, or replaced by a subtree spliced from another
payload of the same provider (so a ``message`` can arrive where a ``postback`` was). Twilio posts
forms, so its seeds are lists of ``(key, value)`` pairs: pairs are dropped, repeated, renamed, given
odd values, and the encoded body sometimes ends in malformed percent-encoding.

Two inputs are left out of the generic mutations because they once triggered product bugs, now
fixed and each kept as a regression test in ``test_channel_parsers.py``: JSON integers beyond the
float range and lone UTF-16 surrogates. Everything else stays in; nesting added by one mutation is
bounded (deeper items are quarantined at the webhook, also tested there).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from tests.security.webhooks import BOT_ID, PUBLIC_BASE_URL

PROVIDER_FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "providers"
JSON_CHANNELS = ("messenger", "instagram", "whatsapp", "telegram")
FORM_CHANNELS = ("twilio",)

Pairs = list[tuple[str, str]]


# --- seeds -----------------------------------------------------------------------------------------


def seed_files(kind: str) -> list[Path]:
    """The real inbound payloads of ``kind``; fails (never skips) when they are missing."""
    folder = PROVIDER_FIXTURES / kind
    files = sorted(p for p in folder.glob("*.json") if not p.name.startswith("out-"))
    if not files:
        pytest.fail(f"no provider fixtures in {folder}: ../shared must sit beside the repository")
    return files


@cache
def json_seeds(kind: str) -> tuple[Any, ...]:
    """The payloads of a JSON channel, parsed."""
    return tuple(json.loads(path.read_bytes()) for path in seed_files(kind))


@cache
def form_seeds() -> tuple[tuple[tuple[str, str], ...], ...]:
    """Twilio's payloads as ``(key, value)`` pairs (the fixtures hold the form's fields as JSON)."""
    seeds = []
    for path in seed_files("twilio"):
        fields = json.loads(path.read_bytes())
        pairs = []
        for key, value in fields.items():
            for one in value if isinstance(value, list) else [value]:
                pairs.append((key, str(one)))
        seeds.append(tuple(pairs))
    return tuple(seeds)


def encode_json(kind: str, payload: object) -> bytes:
    """A body as the provider would post it: Meta escapes non-ASCII as ``\\uXXXX``, Telegram
    sends UTF-8."""
    return json.dumps(payload, ensure_ascii=kind != "telegram").encode("utf-8")


def encode_form(pairs: Pairs, tail: bytes = b"") -> bytes:
    """A Twilio form body (``tail``: raw bytes appended, possibly malformed percent-encoding)."""
    return urllib.parse.urlencode(pairs).encode("ascii") + tail


def webhook_url(kind: str, query: str | None = None) -> str:
    """The public URL the provider calls (as the webhook rebuilds it from the public base URL)."""
    if query is None:
        query = f"bot={BOT_ID}" if kind == "telegram" else ""
    return f"{PUBLIC_BASE_URL}/webhook-{kind}" + (f"?{query}" if query else "")


# --- values that parsers get wrong -----------------------------------------------------------------

NUMERIC_STRINGS = (
    "",
    "0",
    "-1",
    "-0",
    "007",
    "1.5",
    "-2.25",
    "1e3",
    "1e309",
    "-1e309",
    "1e-400",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "inf",
    "0x1F",
    " 42 ",
    "4_2",
    "+7",
    "9" * 40,
    "-" + "9" * 40,
    "1" * 5000,  # beyond int()'s 4300-digit limit
    "1" + "0" * 25,  # a timestamp far in the future in either unit
    "\u0661\u0662\u0663",  # Arabic-Indic digits: str.isdigit() and \d accept them, int() too
    "\u00b2",  # superscript two: isdigit() but not int()
    "12:34",
    "2024-01-01T00:00:00Z",
    "true",
    "null",
    "{}",
    "[]",
)

BIG_NUMBERS = (
    0,
    -1,
    2**31,
    -(2**31) - 1,
    2**53 + 1,
    2**63,
    2**64 + 1,
    -(2**63),
    10**30,
    -(10**30),
    10**300,  # still a float; 10**309 is not (the float_overflow regression test)
    -(10**300),
    0.5,
    -0.0,
    1e308,
    -1e308,
    5e-324,
    1.7976931348623157e308,
)

ODD_TEXT = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ufeffBOM",
    "\u202eRTL override",
    "e\u0301\u0301\u0301",
    "\U0001f642",
    "\U0001f469\u200d\U0001f469\u200d\U0001f467",
    "\U0010ffff",
    "\u2028\u2029",
    "\r\n\t",
    "%00%ff",
    "<script>alert(1)</script>",
    "'; DROP TABLE messages; --",
    "\\",
    '"',
    "whatsapp:",
    "sb:",
    "a" * 20_000,
)

# hypothesis' text() never produces surrogates (category Cs): test_channel_parsers.py covers them.
SHORT_TEXT = st.text(max_size=16)

MAX_WRAP = 24  # levels of nesting added by one mutation


def scalars() -> st.SearchStrategy[Any]:
    """Any JSON scalar, skewed towards the values that break parsers."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.sampled_from(BIG_NUMBERS),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(NUMERIC_STRINGS),
        st.sampled_from(ODD_TEXT),
        SHORT_TEXT,
    )


# --- tree mutations --------------------------------------------------------------------------------

_DROP = object()
NodePath = tuple[Any, ...]


def _paths(value: object, path: NodePath = ()) -> Iterator[NodePath]:
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*path, index))


def _get(value: Any, path: NodePath) -> Any:
    for step in path:
        value = value[step]
    return value


def _replace(value: Any, path: NodePath, new: Any) -> Any:
    """A copy of ``value`` with the node at ``path`` replaced by ``new`` (or removed for _DROP);
    only the containers along the path are copied."""
    if not path:
        return {} if new is _DROP else new
    head, rest = path[0], path[1:]
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    if rest:
        copy[head] = _replace(value[head], rest, new)
    elif new is _DROP:
        del copy[head]
    else:
        copy[head] = new
    return copy


@cache
def donors(kind: str) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """Every key and every subtree found in ``kind``'s seeds: material to splice elsewhere."""
    keys: set[str] = set()
    subtrees: list[Any] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                keys.add(key)
                subtrees.append(child)
                walk(child)
        elif isinstance(value, list):
            for child in value:
                subtrees.append(child)
                walk(child)

    for seed in json_seeds(kind):
        walk(seed)
    unique = {json.dumps(s, sort_keys=True): s for s in subtrees}
    return tuple(sorted(keys)), tuple(unique[k] for k in sorted(unique))


def _wrap(node: object, depth: int, as_list: bool) -> object:
    for level in range(depth):
        node = [node] if as_list or level % 2 else {"nested": node}
    return node


def _mutation(draw: st.DrawFn, kind: str, node: Any) -> Any:
    keys, subtrees = donors(kind)
    operation = draw(
        st.sampled_from(
            (
                "drop",
                "retype",
                "numeric",
                "unicode",
                "nest",
                "listify",
                "duplicate",
                "splice",
                "inject",
                "empty",
            )
        )
    )
    if operation == "drop":
        return _DROP
    if operation == "retype":
        return draw(st.one_of(scalars(), st.just([node]), st.just({"value": node})))
    if operation == "numeric":
        return draw(st.sampled_from(NUMERIC_STRINGS) | st.sampled_from(BIG_NUMBERS))
    if operation == "unicode":
        return draw(st.sampled_from(ODD_TEXT) | SHORT_TEXT)
    if operation == "nest":
        return _wrap(node, draw(st.integers(1, MAX_WRAP)), draw(st.booleans()))
    if operation == "listify":
        if isinstance(node, dict) and draw(st.booleans()):
            return list(node.values())
        return [node]
    if operation == "duplicate":
        if isinstance(node, list) and node:
            index = draw(st.integers(0, len(node) - 1))
            return [*node[: index + 1], node[index], *node[index + 1 :]]
        return [node, node]
    if operation == "splice":
        return draw(st.sampled_from(subtrees))
    if operation == "inject" and isinstance(node, dict):
        value = draw(st.sampled_from(subtrees) | scalars())
        return {**node, draw(st.sampled_from(keys) | SHORT_TEXT): value}
    return draw(st.sampled_from(({}, [], "", 0, None)))


@st.composite
def mutated_json(draw: st.DrawFn, kind: str, max_mutations: int = 4) -> Any:
    """A seed payload of ``kind`` with one to ``max_mutations`` structural mutations applied."""
    document: Any = draw(st.sampled_from(json_seeds(kind)))
    for _ in range(draw(st.integers(1, max_mutations))):
        path = draw(st.sampled_from(list(_paths(document))))
        document = _replace(document, path, _mutation(draw, kind, _get(document, path)))
    return document


# --- form mutations (Twilio) -----------------------------------------------------------------------

FORM_KEYS = (
    "AccountSid",
    "MessageSid",
    "SmsSid",
    "SmsMessageSid",
    "MessageStatus",
    "SmsStatus",
    "From",
    "To",
    "Body",
    "NumMedia",
    "MediaUrl0",
    "MediaUrl1",
    "MediaUrl49",
    "MediaUrl999",
    "MediaUrl\u0663",
    "MediaContentType0",
    "MediaContentType1",
    "Latitude",
    "Longitude",
    "Label",
    "Address",
    "ButtonText",
    "ButtonPayload",
    "ListId",
    "ListTitle",
    "ErrorCode",
    "ErrorMessage",
    "ChannelStatusMessage",
    "RawDlrDoneDate",
    "ProfileName",
    "WaId",
    "OriginalRepliedMessageSid",
    "Forwarded",
    "FrequentlyForwarded",
    "ReferralSourceId",
    "ReferralSourceType",
    "ReferralSourceUrl",
    "ReferralCtwaClid",
    "ReferralHeadline",
    "ReferralBody",
    "MessageType",
)
FORM_VALUES = (
    "received",
    "receiving",
    "delivered",
    "undelivered",
    "failed",
    "read",
    "queued",
    "sent",
    "canceled",
    "whatsapp:+15550100",
    "whatsapp:US.1234",
    "whatsapp:",
    "rcs:brand",
    "+1",
    "+15557654321",
    "image/jpeg",
    "video/mp4",
    "application/pdf",
    "https://media.example.com/a.jpg",
    "/relative.png",
    "2401011230",
    "9913311299",
    "30003",
    "63016",
)
FORM_TAILS = (
    b"",
    b"&",
    b"&&=&=",
    b"&%",
    b"&%ZZ=1",
    b"&Body=%FF%FE",
    b"&%C3%28=%E2%82",
    b"&a=b=c",
    b";Body=x",
)


def form_value() -> st.SearchStrategy[str]:
    """Any form value, skewed towards the values Twilio's fields carry and parsers get wrong."""
    return (
        st.sampled_from(FORM_VALUES)
        | st.sampled_from(NUMERIC_STRINGS)
        | st.sampled_from(ODD_TEXT)
        | SHORT_TEXT
    )


def _form_mutation(draw: st.DrawFn, pairs: Pairs) -> Pairs:
    operation = draw(st.sampled_from(("drop", "repeat", "revalue", "rename", "add", "clear")))
    index = draw(st.integers(0, max(0, len(pairs) - 1)))
    if operation == "clear" or not pairs:
        return [] if operation == "clear" else [(draw(st.sampled_from(FORM_KEYS)), draw(form_value()))]
    key, value = pairs[index]
    if operation == "drop":
        return pairs[:index] + pairs[index + 1 :]
    if operation == "repeat":
        return [*pairs, (key, draw(st.just(value) | form_value()))]
    if operation == "revalue":
        return [*pairs[:index], (key, draw(form_value())), *pairs[index + 1 :]]
    if operation == "rename":
        new_key = draw(st.sampled_from(FORM_KEYS) | SHORT_TEXT)
        return [*pairs[:index], (new_key, value), *pairs[index + 1 :]]
    return [*pairs, (draw(st.sampled_from(FORM_KEYS) | SHORT_TEXT), draw(form_value()))]


@st.composite
def mutated_form(draw: st.DrawFn, max_mutations: int = 5) -> tuple[Pairs, bytes]:
    """A Twilio seed as ``(pairs, tail)``: one to ``max_mutations`` mutations of its fields, and the
    raw bytes to append to the encoded form."""
    pairs: Pairs = list(draw(st.sampled_from(form_seeds())))
    for _ in range(draw(st.integers(1, max_mutations))):
        pairs = _form_mutation(draw, pairs)
    return pairs, draw(st.sampled_from(FORM_TAILS))


TELEGRAM_QUERIES = (
    f"bot={BOT_ID}",
    f"bot={BOT_ID}",
    f"bot={BOT_ID}",
    "bot=",
    "",
    "bot=abc",
    "bot=-1",
    f"bot={BOT_ID}&bot=1",
    "bot=%00",
    "bot=" + "9" * 40,
    f"bot={BOT_ID}&x=%FF",
)


def telegram_query() -> st.SearchStrategy[str]:
    """The query string of a Telegram webhook URL: usually the bot, sometimes something odd."""
    return st.sampled_from(TELEGRAM_QUERIES)
