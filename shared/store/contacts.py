"""Customers across channels in Firestore: the person layer over contacts, notes, custom
attributes and the profiles a provider's profile API gave.

    tenants/{t}/contacts/{id}                 one identity on one channel (ingest writes channel,
                                              channelId, externalId, name, handle, terms), and:
        personId                              set on every identity of a merged person (the
                                              person's id is its root identity's id); absent: the
                                              identity is a person of its own
        profile                               {name, firstName?, lastName?, username?, pictureUrl?,
                                              fetchedAtMs, error?} from the provider's profile API
        attributes                            {key: value}: the custom attributes agents fill (on
                                              the person's root identity)
    tenants/{t}/contacts/{id}/notes/{n}       {text, authorId, authorName, createdAtMs}: notes
                                              stay with the identity they were written on
    tenants/{t}/contactAttributes/{key}       {label, type: text|number|boolean|date}: what admins define

Ingest never reads or writes any of these fields (it merges only its own fields into the contact),
so the person layer adds no write to the inbound path. Merging and splitting rewrite only
``personId`` on the identities concerned, under ``update_time`` preconditions, in one batch with
their activity lines (:func:`regroup_contacts`): conversations and messages are never moved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.store._client import Versioned, _rpc, _versioned, client, field_path, message_ref

if TYPE_CHECKING:  # pragma: no cover
    from google.cloud.firestore import CollectionReference, DocumentReference

CONTACT_NOTES = "notes"
MAX_PERSON_IDENTITIES = 30  # one "in" query lists a person's conversations


def _contacts(tenant_id: str) -> CollectionReference:
    return client().collection("tenants").document(tenant_id).collection("contacts")


def _contact(tenant_id: str, contact_id: str) -> DocumentReference:
    return _contacts(tenant_id).document(contact_id)


def _attributes(tenant_id: str) -> CollectionReference:
    return client().collection("tenants").document(tenant_id).collection("contactAttributes")


# --- the person layer ------------------------------------------------------------------------------


def get_contact_versioned(tenant_id: str, contact_id: str) -> Versioned:
    """A contact with the version :func:`regroup_contacts` tests."""
    return _versioned(_contact(tenant_id, contact_id).get(**_rpc()))


def person_identities(tenant_id: str, person_id: str) -> list[tuple[str, Versioned]]:
    """The identities merged into person ``person_id`` (those carrying ``personId``), with their
    versions; at most :data:`MAX_PERSON_IDENTITIES` + 1 (more means the person is full)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = _contacts(tenant_id).where(filter=FieldFilter("personId", "==", person_id))
    return [(s.id, _versioned(s)) for s in query.limit(MAX_PERSON_IDENTITIES + 1).stream(**_rpc())]


@dataclass(frozen=True)
class Regroup:
    """One identity's new person (None: a person of its own again), if it is still as read."""

    contact_id: str
    version: Any
    person_id: str | None


@dataclass(frozen=True)
class ActivityLine:
    """An activity line to create in a conversation with a regrouping."""

    conversation_id: str
    message_id: str
    document: dict[str, Any]


def regroup_contacts(tenant_id: str, changes: Sequence[Regroup], lines: Sequence[ActivityLine]) -> bool:
    """Set each identity's ``personId`` and create the activity lines, in one batch; False (nothing
    written) when an identity changed since it was read, or is gone: read again and retry."""
    from google.api_core.exceptions import FailedPrecondition, NotFound
    from google.cloud import firestore

    if len(changes) + len(lines) > 500:
        raise ValueError("a regrouping is at most 500 writes")
    batch = client().batch()
    for change in changes:
        value = change.person_id if change.person_id is not None else firestore.DELETE_FIELD
        batch.update(
            _contact(tenant_id, change.contact_id),
            {"personId": value},
            option=client().write_option(last_update_time=change.version),
        )
    for line in lines:
        batch.create(message_ref(tenant_id, line.conversation_id, line.message_id), line.document)
    try:
        batch.commit(**_rpc())
    except (FailedPrecondition, NotFound):
        return False
    return True


def set_contact_profile(tenant_id: str, contact_id: str, profile: dict[str, Any]) -> bool:
    """Replace a contact's ``profile``; False if the contact is gone."""
    from google.api_core.exceptions import NotFound

    try:
        _contact(tenant_id, contact_id).update({"profile": profile}, **_rpc())
    except NotFound:
        return False
    return True


# --- notes and attributes ------------------------------------------------------------------------


def add_contact_note(tenant_id: str, contact_id: str, note_id: str, note: dict[str, Any]) -> bool:
    """Create a note on an identity; False if that note id exists (a retried request)."""
    from google.api_core.exceptions import AlreadyExists

    try:
        _contact(tenant_id, contact_id).collection(CONTACT_NOTES).document(note_id).create(note, **_rpc())
    except AlreadyExists:
        return False
    return True


def get_contact_note(tenant_id: str, contact_id: str, note_id: str) -> dict[str, Any] | None:
    """A note, or None."""
    snapshot = _contact(tenant_id, contact_id).collection(CONTACT_NOTES).document(note_id).get(**_rpc())
    return snapshot.to_dict() if snapshot.exists else None


def delete_contact_note(tenant_id: str, contact_id: str, note_id: str) -> None:
    """Delete a note (nothing if it is gone)."""
    _contact(tenant_id, contact_id).collection(CONTACT_NOTES).document(note_id).delete(**_rpc())


def set_contact_attributes(tenant_id: str, contact_id: str, values: dict[str, Any]) -> bool:
    """Set (None: clear) custom attribute values on an identity; False if the contact is gone."""
    from google.api_core.exceptions import NotFound
    from google.cloud import firestore

    update = {
        field_path("attributes", key): firestore.DELETE_FIELD if value is None else value
        for key, value in values.items()
    }
    try:
        _contact(tenant_id, contact_id).update(update, **_rpc())
    except NotFound:
        return False
    return True


def list_contact_attributes(tenant_id: str, limit: int = 200) -> dict[str, dict[str, Any]]:
    """The custom attributes a tenant defined, by key."""
    return {s.id: s.to_dict() or {} for s in _attributes(tenant_id).limit(limit).stream(**_rpc())}


def put_contact_attribute(tenant_id: str, key: str, definition: dict[str, Any]) -> None:
    """Define (or redefine) a custom attribute."""
    _attributes(tenant_id).document(key).set(definition, **_rpc())


def delete_contact_attribute(tenant_id: str, key: str) -> None:
    """Forget a custom attribute's definition (values already filled stay on the contacts)."""
    _attributes(tenant_id).document(key).delete(**_rpc())
