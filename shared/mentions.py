"""@mentions in agents' private notes (issue 17 part 6).

A mention is ``@`` (at the start or after a space or an opening bracket/quote) followed by an agent's
name, written the way the note composer's autocomplete inserts it: the full name, or the first name
when no other agent of the tenant shares it, or the e-mail's local part, case-insensitively, and not
followed by a letter or digit. The longest match wins (``@Dana Scully`` is Dana Scully even when a
``Dana`` exists too). Text in a note is the agent's own: nothing here is trusted beyond the ids it
finds among the tenant's agents.
"""

from __future__ import annotations

from typing import Any

MAX_MENTIONS = 20  # agents notified by one note


def handles(agents: list[tuple[str, dict[str, Any]]]) -> dict[str, str]:
    """What may follow ``@`` for each agent: lowercased handle -> uid (ambiguous handles dropped)."""
    owners: dict[str, set[str]] = {}
    for uid, agent in agents:
        name = " ".join(str(agent.get("name") or "").split())
        email = str(agent.get("email") or "")
        first = name.split(" ", maxsplit=1)[0] if name else ""
        local = email.split("@", maxsplit=1)[0] if "@" in email else ""
        candidates = {name, first, local}
        for handle in candidates:
            if handle:
                owners.setdefault(handle.lower(), set()).add(uid)
    return {handle: next(iter(uids)) for handle, uids in owners.items() if len(uids) == 1}


def _starts_mention(text: str, at: int) -> bool:
    return text[at] == "@" and (at == 0 or text[at - 1].isspace() or text[at - 1] in "([{\"'")


def mentioned(text: str, agents: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """The uids of the agents ``text`` mentions, in order of first mention, at most MAX_MENTIONS."""
    known = handles(agents)
    if not known or "@" not in text:
        return []
    longest_first = sorted(known, key=len, reverse=True)
    folded = text.lower()
    found: list[str] = []
    for at in range(len(text)):
        if not _starts_mention(text, at):
            continue
        for handle in longest_first:
            end = at + 1 + len(handle)
            if folded[at + 1 : end] == handle and (end == len(text) or not text[end].isalnum()):
                if known[handle] not in found:
                    found.append(known[handle])
                break
        if len(found) >= MAX_MENTIONS:
            break
    return found
