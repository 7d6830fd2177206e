"""One customer across channels: contacts merged into a person and split again, notes about the
customer, and the custom attributes a tenant defines (issue 17 part 8).

A contact is one identity on one channel (``tenants/{t}/contacts/{id}``, written by ingest with
its conversation: one conversation per identity). A *person* is a set of identities: each carries
``personId``, the id of the person's root identity; an identity without ``personId`` is a person
of its own. So nothing changes on the ingest path (no read, no extra write), and:

- **merge** (agent_api ``contact_merge``, ``{contactId, intoContactId}``): every identity of the
  first contact's person takes the second's person id. Only ``personId`` fields are written, with
  ``update_time`` preconditions (a concurrent merge or split retries), plus an activity line
  (verb ``merge``) in every affected conversation, in one batch; conversations and messages are
  never touched, so a message arriving meanwhile lands as it always does and nothing is lost.
- **split** (``contact_split``, ``{contactId}``): the identity leaves its person; when it was the
  root, the others move to the smallest remaining id; a person left with one identity loses its
  ``personId``. Activity lines (verb ``split``) in the conversations concerned.
- **notes** (``contact_note_add`` / ``contact_note_delete``): under the identity they were written
  on (``contacts/{id}/notes``), so they follow it through merges and splits; the panel lists the
  notes of every identity of the person. Authors and admins delete.
- **attributes**: admins define them (``contact_attribute_define`` / ``contact_attribute_delete``:
  ``contactAttributes/{key}`` {label, type}); agents fill values (``contact_attributes_set``) on the
  person's root identity; the panel falls back to another identity's value for a key the root
  lacks, so a merge hides nothing.

Merge and split are recorded in the audit log (``contact.merge``, ``contact.split``).
The dashboard reads all of it live under the rules (staff of the tenant only).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared import activity, audit, ids, store
from shared.auth import Caller, is_admin, require_admin
from shared.errors import Forbidden, Refused, TransientError

STAFF_ROLES = ("owner", "admin", "agent")
NOTE_LIMIT = 4096
ATTRIBUTE_TYPES = ("text", "number", "boolean", "date")
MAX_ATTRIBUTES = 50
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str


class MergeRequest(_Body):
    contactId: str = Field(min_length=1, max_length=128)
    intoContactId: str = Field(min_length=1, max_length=128)


class SplitRequest(_Body):
    contactId: str = Field(min_length=1, max_length=128)


class NoteRequest(_Body):
    contactId: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1, max_length=NOTE_LIMIT)
    noteId: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{8,64}$")


class NoteDeleteRequest(_Body):
    contactId: str = Field(min_length=1, max_length=128)
    noteId: str = Field(min_length=1, max_length=64)


class AttributesRequest(_Body):
    contactId: str = Field(min_length=1, max_length=128)
    values: dict[str, str | float | bool | None] = Field(max_length=MAX_ATTRIBUTES)


class AttributeDefinition(_Body):
    key: str = Field(pattern=_KEY.pattern)
    label: str = Field(min_length=1, max_length=60)
    type: Literal["text", "number", "boolean", "date"]


class AttributeDelete(_Body):
    key: str = Field(pattern=_KEY.pattern)


def require_staff(caller: Caller) -> None:
    """Contacts are for the tenant's support staff only."""
    if caller.role not in STAFF_ROLES:
        raise Forbidden("only the workspace's agents work with contacts")


def _contact(caller: Caller, contact_id: str) -> store.Versioned:
    found = store.get_contact_versioned(caller.tenant_id, contact_id)
    if not found.exists:
        raise Refused("contact_not_found", "no such contact", 404)
    return found


def _person_of(contact_id: str, data: dict[str, Any]) -> str:
    return str(data.get("personId") or contact_id)


def _members(caller: Caller, contact_id: str, found: store.Versioned) -> dict[str, store.Versioned]:
    """Every identity of ``contact_id``'s person (itself alone when it has no ``personId``)."""
    person = found.data.get("personId")
    if not person:
        return {contact_id: found}
    members = dict(store.person_identities(caller.tenant_id, str(person)))
    members.setdefault(contact_id, found)
    return members


def _name(data: dict[str, Any]) -> str:
    profile = data.get("profile") if isinstance(data.get("profile"), dict) else {}
    return str(
        data.get("name") or profile.get("name") or data.get("handle") or data.get("externalId") or "a contact"
    )


def _conversation_of(data: dict[str, Any]) -> str | None:
    channel_id, external_id = data.get("channelId"), data.get("externalId")
    if not channel_id or not external_id:
        return None
    return ids.conversation_id(str(channel_id), str(external_id))


def _lines(
    caller: Caller,
    verb: str,
    ours: dict[str, store.Versioned],
    other_id: str,
    other: dict[str, Any],
    **details: Any,
) -> list[store.ActivityLine]:
    """One line in each conversation of ``ours``, naming the other side."""
    lines = []
    for contact_id, found in sorted(ours.items()):
        conversation_id = _conversation_of(found.data)
        if conversation_id is None:
            continue
        message_id, document = activity.line(
            caller,
            conversation_id,
            verb,
            contactId=contact_id,
            otherContactId=other_id,
            otherName=_name(other),
            otherChannel=other.get("channel"),
            **details,
        )
        lines.append(store.ActivityLine(conversation_id, message_id, document))
    return lines


def merge(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``contact_merge``: ``contactId``'s person joins ``intoContactId``'s."""
    request = MergeRequest.model_validate(body)
    require_staff(caller)
    if request.contactId == request.intoContactId:
        raise Refused("same_contact", "a contact cannot be merged with itself", 422)
    for _ in range(store.PRECONDITION_RETRIES):
        source = _contact(caller, request.contactId)
        target = _contact(caller, request.intoContactId)
        person = _person_of(request.intoContactId, target.data)
        if _person_of(request.contactId, source.data) == person:
            raise Refused("already_merged", "these contacts are already the same customer", 409)
        moving = _members(caller, request.contactId, source)
        staying = _members(caller, request.intoContactId, target)
        if len(moving) + len(staying) > store.MAX_PERSON_IDENTITIES:
            raise Refused(
                "person_full", f"a customer has at most {store.MAX_PERSON_IDENTITIES} identities", 422
            )
        changes = [store.Regroup(cid, found.update_time, person) for cid, found in sorted(moving.items())]
        changes += [
            store.Regroup(cid, found.update_time, person)
            for cid, found in sorted(staying.items())
            if found.data.get("personId") != person
        ]
        lines = _lines(caller, "merge", staying, request.contactId, source.data, personId=person)
        lines += _lines(caller, "merge", moving, request.intoContactId, target.data, personId=person)
        if store.regroup_contacts(caller.tenant_id, changes, lines):
            identities = sorted({*moving, *staying})
            audit.record(
                caller,
                "contact.merge",
                {"kind": "contact", "id": person, "name": _name(target.data)},
                before={"people": sorted({_person_of(c, f.data) for c, f in {**moving, **staying}.items()})},
                after={"personId": person, "identities": identities},
                details={"contactId": request.contactId, "intoContactId": request.intoContactId},
            )
            return {"personId": person, "identities": identities}
    raise TransientError("the contacts kept changing while merging them: retry")


def split(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``contact_split``: ``contactId`` becomes a person of its own again."""
    request = SplitRequest.model_validate(body)
    require_staff(caller)
    for _ in range(store.PRECONDITION_RETRIES):
        leaving = _contact(caller, request.contactId)
        person = leaving.data.get("personId")
        if not person:
            raise Refused("not_merged", "this contact is not merged with another", 409)
        members = _members(caller, request.contactId, leaving)
        rest = {cid: found for cid, found in members.items() if cid != request.contactId}
        changes = [store.Regroup(request.contactId, leaving.update_time, None)]
        if len(rest) <= 1:
            changes += [store.Regroup(cid, found.update_time, None) for cid, found in rest.items()]
            remaining_person = next(iter(rest), None)
        else:
            remaining_person = person if person in rest else min(rest)
            changes += [
                store.Regroup(cid, found.update_time, remaining_person)
                for cid, found in sorted(rest.items())
                if found.data.get("personId") != remaining_person
            ]
        other_id = remaining_person or request.contactId
        other = rest[other_id].data if other_id in rest else {}
        lines = _lines(caller, "split", {request.contactId: leaving}, other_id, other)
        lines += _lines(caller, "split", rest, request.contactId, leaving.data)
        if store.regroup_contacts(caller.tenant_id, changes, lines):
            audit.record(
                caller,
                "contact.split",
                {"kind": "contact", "id": request.contactId, "name": _name(leaving.data)},
                before={"personId": person, "identities": sorted(members)},
                after={"personId": remaining_person, "identities": sorted(rest)},
            )
            return {"contactId": request.contactId, "personId": remaining_person, "identities": sorted(rest)}
    raise TransientError("the contacts kept changing while splitting them: retry")


# --- notes -----------------------------------------------------------------------------------------


def add_note(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``contact_note_add``: a note about the customer, on this identity."""
    request = NoteRequest.model_validate(body)
    require_staff(caller)
    _contact(caller, request.contactId)
    text = request.text.strip()
    if not text:
        raise Refused("note_empty", "the note is empty", 422)
    note_id = request.noteId or uuid.uuid4().hex
    note = {
        "text": text,
        "authorId": caller.uid,
        "authorName": activity.actor_name(caller),
        "createdAtMs": int(time.time() * 1000),
    }
    store.add_contact_note(caller.tenant_id, request.contactId, note_id, note)
    return {"contactId": request.contactId, "noteId": note_id}


def delete_note(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``contact_note_delete``: its author or an admin deletes a note."""
    request = NoteDeleteRequest.model_validate(body)
    require_staff(caller)
    note = store.get_contact_note(caller.tenant_id, request.contactId, request.noteId)
    if note is None:
        raise Refused("note_not_found", "no such note", 404)
    if note.get("authorId") != caller.uid and not is_admin(caller):
        raise Refused("not_your_note", "only its author or an admin can delete a note", 403)
    store.delete_contact_note(caller.tenant_id, request.contactId, request.noteId)
    return {"contactId": request.contactId, "noteId": request.noteId, "deleted": True}


# --- custom attributes -----------------------------------------------------------------------------


def _checked(key: str, kind: str, value: str | float | bool | None) -> str | float | bool | None:
    if value is None:
        return None
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if kind == "text" and isinstance(value, str) and len(value) <= 500:
        return value.strip() or None
    if kind == "date" and isinstance(value, str) and _DATE.match(value):
        return value
    raise Refused("invalid_attribute", f"{key} takes a {kind} value", 422)


def set_attributes(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``contact_attributes_set``: fill (None: clear) custom attribute values of the
    customer, written on the person's root identity."""
    asked = AttributesRequest.model_validate(body)
    require_staff(caller)
    found = _contact(caller, asked.contactId)
    definitions = store.list_contact_attributes(caller.tenant_id)
    values = {}
    for key, value in asked.values.items():
        definition = definitions.get(key)
        if definition is None:
            raise Refused("unknown_attribute", f"no attribute {key} is defined", 422)
        values[key] = _checked(key, str(definition.get("type")), value)
    root = _person_of(asked.contactId, found.data)
    if values and not store.set_contact_attributes(caller.tenant_id, root, values):
        raise Refused("contact_not_found", "no such contact", 404)
    return {"contactId": root, "values": values}


def define_attribute(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``contact_attribute_define`` (admins): a custom attribute's label and type."""
    request = AttributeDefinition.model_validate(body)
    require_admin(caller, "defining contact attributes")
    existing = store.list_contact_attributes(caller.tenant_id)
    if request.key not in existing and len(existing) >= MAX_ATTRIBUTES:
        raise Refused("too_many_attributes", f"a workspace defines at most {MAX_ATTRIBUTES} attributes", 422)
    definition = {"label": request.label.strip(), "type": request.type, "updatedBy": caller.uid}
    store.put_contact_attribute(caller.tenant_id, request.key, definition)
    return {"key": request.key, **definition}


def delete_attribute(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """agent_api ``contact_attribute_delete`` (admins): the definition goes; filled values stay
    on the contacts, unseen, until the key is defined again."""
    request = AttributeDelete.model_validate(body)
    require_admin(caller, "deleting contact attributes")
    store.delete_contact_attribute(caller.tenant_id, request.key)
    return {"key": request.key, "deleted": True}
