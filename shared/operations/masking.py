"""Personal data masked out of raw payloads before an admin sees them (the operations page).

What is masked: the values of keys that name a person or what they wrote (names, phone numbers,
e-mail, user names, message text and captions, addresses, profile pictures), and any other string
that looks like an international phone number (``+...``) or holds an e-mail address, wherever it
is. Ids of the business's own accounts and the structure of the payload stay, so the admin can see
why it failed. A masked string becomes ``"•••"``, plus its last two digits when it is a phone
number (so two customers can still be told apart).
"""

from __future__ import annotations

import re
from typing import Any

MASK = "•••"

# Keys (lowercased, without separators) whose values are personal data or customers' words.
PERSONAL_KEYS = frozenset(
    {
        "name",
        "firstname",
        "lastname",
        "fullname",
        "username",
        "contactname",
        "profilename",
        "profile",
        "displayname",
        "phone",
        "phonenumber",
        "waid",
        "from",
        "to",
        "author",
        "email",
        "text",
        "body",
        "caption",
        "title",
        "address",
        "emoji",
        "profilepic",
        "profilepicurl",
        "picture",
        "formattedname",
        "vcard",
        "latitude",
        "longitude",
        "lat",
        "long",
        "payload",
        "query",
        "data",
        "contactexternalid",
        "contactid",
        "contacthandle",
        "sender",
        "recipient",
        "customerid",
        "psid",
    }
)
_PHONE = re.compile(r"^\+?[\d ()\-.]{7,20}$")
_EMAIL = re.compile(r"[^@\s\"]+@[^@\s\"]+\.[^@\s\"]+")
_SEPARATORS = re.compile(r"[_\-\s]")


def _key(name: str) -> str:
    return _SEPARATORS.sub("", name).lower()


def _masked_string(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    if digits and len(digits) >= 4 and _PHONE.match(value):
        return MASK + digits[-2:]
    return MASK


def _masked_leaf(value: Any) -> Any:
    if isinstance(value, str):
        return _masked_string(value) if value else value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return MASK
    return mask(value, everything=True)


def mask(value: Any, *, everything: bool = False) -> Any:
    """``value`` (JSON data) with personal data masked; ``everything`` masks every leaf below."""
    if isinstance(value, dict):
        masked: dict[str, Any] = {}
        for key, item in value.items():
            personal = everything or _key(str(key)) in PERSONAL_KEYS
            if personal and not isinstance(item, dict | list):
                masked[key] = _masked_leaf(item)
            else:
                masked[key] = mask(item, everything=personal)
        return masked
    if isinstance(value, list):
        return [mask(item, everything=everything) for item in value]
    if isinstance(value, str):
        if everything:
            return _masked_leaf(value)
        if value.startswith("+") and _PHONE.match(value):
            return _masked_string(value)
        return _EMAIL.sub(MASK, value)
    if everything and isinstance(value, int | float) and not isinstance(value, bool):
        return MASK
    return value


def mask_text(raw: str) -> str:
    """A raw body that is not JSON (an invalid body): only its length and shape are shown."""
    return f"{MASK} ({len(raw)} characters of text that is not JSON)"
