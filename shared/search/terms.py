"""Search terms: what a text is indexed under and what a query asks for, in any script.

Normalization (the same for documents and queries): Unicode NFKD, combining marks stripped (accents,
Arabic harakat, the diaeresis of Russian ё), recomposed (NFC, so Hangul syllables stay syllables),
case folded. A word is a run of letters, digits and spacing marks (Devanagari's vowel signs stay
inside their word); everything else separates words. Scripts written without spaces (Han, Hiragana,
Katakana) are indexed as overlapping character pairs (bigrams), so a query of two or more such
characters finds them anywhere.

A message is indexed under each word (at most :data:`MAX_TERM_CHARS` characters) and each of its
prefixes of at least :data:`MIN_PREFIX` characters ("parc" finds "parcel"); words shorter than that
are not indexed. A document gets at most :data:`MAX_TERMS` terms, whole words first, so a huge
message never comes near Firestore's 40,000 index entries per document (one entry per term in the
one composite index over ``terms``; see bench/cost.py).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MIN_PREFIX = 3
MAX_TERM_CHARS = 24
MAX_TERMS = 400
# Fields of a message's content whose text is searchable (text, captions, titles, file names...).
CONTENT_TEXT_FIELDS = ("text", "caption", "title", "body", "name", "address", "fileName", "label")


def _is_unspaced(char: str) -> bool:
    """A character of a script written without spaces between words (Han, kana)."""
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF  # Hiragana, Katakana
        or 0x3400 <= code <= 0x4DBF  # CJK Extension A
        or 0x4E00 <= code <= 0x9FFF  # CJK Unified Ideographs
        or 0xF900 <= code <= 0xFAFF  # CJK Compatibility Ideographs
        or 0x20000 <= code <= 0x3FFFF  # CJK Extensions B and later
        or 0x31F0 <= code <= 0x31FF  # Katakana phonetic extensions
    )


def _is_word_char(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LN" or category == "Mc"


def normalize(text: str) -> str:
    """NFKD, combining marks stripped, recomposed, case folded."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return unicodedata.normalize("NFC", stripped).casefold()


@dataclass(frozen=True)
class Token:
    """A run of the original text: ``start``/``end`` are offsets in the original, ``norm`` its
    normalized form, ``unspaced`` whether it is Han/kana (indexed as bigrams)."""

    start: int
    end: int
    norm: str
    unspaced: bool


def tokens(text: str) -> Iterator[Token]:
    """The words of ``text`` with their positions in it (for highlighting), normalized."""
    start: int | None = None
    kind = False
    for index, char in enumerate([*text, " "]):
        # A combining mark belongs to the word before it (a decomposed accent).
        if start is not None and unicodedata.category(char) == "Mn":
            continue
        word = _is_word_char(char)
        unspaced = word and _is_unspaced(char)
        if start is not None and (not word or unspaced != kind):
            norm = normalize(text[start:index])
            if norm:
                yield Token(start, index, norm, kind)
            start = None
        if word and start is None:
            start, kind = index, unspaced


def _bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def document_terms(texts: Iterable[str | None], limit: int = MAX_TERMS) -> list[str]:
    """The terms a document with these texts is indexed under: whole words (and bigrams) first,
    then prefixes; at most ``limit``, no duplicates."""
    words: dict[str, None] = {}
    prefixes: dict[str, None] = {}
    for text in texts:
        if not text:
            continue
        for token in tokens(text):
            if token.unspaced:
                for pair in _bigrams(token.norm):
                    words.setdefault(pair)
                continue
            word = token.norm[:MAX_TERM_CHARS]
            if len(word) < MIN_PREFIX:
                continue
            words.setdefault(word)
            for size in range(MIN_PREFIX, len(word)):
                prefixes.setdefault(word[:size])
    ordered = list(words)
    ordered.extend(p for p in prefixes if p not in words)
    return ordered[:limit]


def query_terms(query: str) -> list[str]:
    """What a query asks for: each word of at least :data:`MIN_PREFIX` characters (truncated as
    indexed), each pair of Han/kana characters; a term that is a prefix of another is dropped (the
    longer one implies it). Empty when nothing in the query is searchable."""
    found: dict[str, None] = {}
    for token in tokens(query):
        if token.unspaced:
            if len(token.norm) >= 2:
                for pair in _bigrams(token.norm):
                    found.setdefault(pair)
            continue
        if len(token.norm) >= MIN_PREFIX:
            found.setdefault(token.norm[:MAX_TERM_CHARS])
    terms = list(found)
    return [t for t in terms if not any(o != t and o.startswith(t) for o in terms)]


def most_selective(terms: list[str]) -> str:
    """The term to ask Firestore for: the longest (longer prefixes match fewer messages; no term
    frequencies are kept, which would cost a write per message and term)."""
    return max(terms, key=lambda t: (len(t), t))


def content_texts(content: dict | None, text: str | None = None) -> list[str]:
    """The searchable texts of a message: its ``text`` and its content's text fields (a caption, a
    location's name and address, file names of its media)."""
    found: dict[str, None] = {}
    if text:
        found.setdefault(text)
    if isinstance(content, dict):
        for field in CONTENT_TEXT_FIELDS:
            value = content.get(field)
            if isinstance(value, str) and value:
                found.setdefault(value)
        for media in content.get("media") or []:
            if isinstance(media, dict) and isinstance(media.get("fileName"), str):
                found.setdefault(media["fileName"])
    return list(found)


def highlights(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Where in ``text`` the words a query matched are: (start, end) offsets of each word whose
    normalized form starts with one of ``terms`` (a Han/kana run: each matched pair)."""
    spans: list[tuple[int, int]] = []
    for token in tokens(text):
        if token.unspaced:
            for i in range(len(token.norm)):
                if any(token.norm.startswith(t, i) for t in terms):
                    # NFKD/NFC keep Han and kana one character each: offsets map one to one.
                    spans.append((token.start + i, min(token.end, token.start + i + 2)))
            continue
        if any(token.norm.startswith(t) for t in terms):
            spans.append((token.start, token.end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
