"""WhatsApp Cloud API (``object: "whatsapp_business_account"``).

A POST batches ``entry[].changes[]``; a ``messages`` change's ``value`` holds ``metadata``
(``phone_number_id``: the number we route on), ``contacts[]`` (profile names), and any of
``messages[]``, ``statuses[]`` and value-level ``errors[]``. Every element becomes one
self-contained item carrying the context it needs::

    {"object": ..., "entry_id": "<WABA id>", "field": "messages", "kind": "message" | "status" |
     "error" | "echo" | "change" | "other:<list key>", "metadata": {...}, "contacts": [...],
     "item": {...}}

``contacts`` holds only the contacts that match the element (by ``wa_id`` or ``user_id``), so an
item stored in quarantine or on a message carries no other customer's name. A change of another
field (template status, account update...) is one ``change`` item with the whole value.

Docs: WhatsApp Business Platform, "messages webhook reference" and its per-type pages (text,
media, location, contacts, interactive, button, reaction, edit, revoke, order, system,
unsupported, status, errors), and "smb_message_echoes webhook reference".
Quirks survived (real payloads): ``timestamp`` as string, int or garbage; ``from`` missing (only the
business-scoped user id ``from_user_id``); ``wa_id`` like ``US.1234`` or absent; ``contacts`` after
``statuses`` or absent; repeated wamids; ``interactive`` without its nested object;
``nfm_reply.response_json`` as a JSON string; removed reactions as ``emoji: ""`` or no emoji;
statuses ``played``, ``deleted`` and unknown values; three error layouts.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from shared.channels import media_limits
from shared.channels.base import MAX_MEDIA_FETCH_BYTES, MEDIA_KINDS, Capabilities, FetchedMedia
from shared.channels.meta import MetaAdapter, error_summary, receipt_error
from shared.channels.payload import (
    as_dict,
    as_float,
    as_id,
    as_text,
    event_time,
    fingerprint,
    first_dict,
    load_body,
)
from shared.errors import ParseError
from shared.models import (
    ChannelNoticeEvent,
    DeleteEvent,
    EditEvent,
    InboundEvent,
    MessageEvent,
    ReactionEvent,
    ReceiptEvent,
    stable_event_id,
)
from shared.models.events import build
from shared.models.outbound import ChannelAccount, OutboundMessage, SendResult

log = logging.getLogger(__name__)

# `voice` is the on-premises API's name for a voice note; Cloud API sends audio with voice: true.
_MEDIA_TYPES = {
    "image": "image",
    "video": "video",
    "audio": "audio",
    "voice": "audio",
    "document": "document",
    "sticker": "sticker",
}
_VALUE_LISTS = (("messages", "message"), ("statuses", "status"), ("errors", "error"))
_KNOWN_VALUE_KEYS = frozenset({"messages", "statuses", "errors", "contacts"})
_RECEIPT_STATUSES = frozenset({"sent", "delivered", "read", "failed"})
# Whose ids a contacts[] entry must match, per item kind.
_PARTY_KEYS = {
    "message": ("from", "from_user_id"),
    "status": ("recipient_id", "recipient_user_id"),
    "echo": ("to", "to_user_id"),
}

# A message's content, as the fields of its MessageContent model (validated with the event).
Content = dict[str, Any]


def _party_ids(kind: str, element: object) -> tuple[str, ...]:
    """The element's party ids (phone-based id, then the BSUID), each once."""
    keys = _PARTY_KEYS.get(kind)
    if keys is None or not isinstance(element, dict):
        return ()
    # Read inline where the ids are what real payloads carry (a string, no BSUID): as_id is a call.
    phone = element.get(keys[0])
    if not (isinstance(phone, str) and phone):
        phone = as_id(phone)
    user = element.get(keys[1])
    if user is None:
        return () if phone is None else (phone,)
    user = as_id(user)
    if phone is None:
        return () if user is None else (user,)
    return (phone,) if user is None or user == phone else (phone, user)


def _names(contact: dict[str, Any], key: str) -> bool:
    """Whether a ``contacts[]`` entry describes ``key`` (a non-empty id): ``as_id`` of its wa_id or
    user_id equals it. A string equal to ``key`` is the common case, checked without the call."""
    wa_id = contact.get("wa_id")
    if wa_id == key or (not isinstance(wa_id, str) and as_id(wa_id) == key):
        return True
    user_id = contact.get("user_id")
    return user_id == key or (user_id is not None and not isinstance(user_id, str) and as_id(user_id) == key)


def _first_matching_contact(contacts: object, ids: tuple[str, ...]) -> dict[str, Any]:
    """The first ``contacts[]`` entry that describes one of ``ids`` (by wa_id or BSUID user_id),
    or an empty dict."""
    if ids and isinstance(contacts, list):
        for contact in contacts:
            if isinstance(contact, dict):
                for key in ids:
                    if _names(contact, key):
                        return contact
    return {}


def _sole_contact(contacts: object) -> list[dict[str, Any]]:
    """``[the contact]`` when ``contacts[]`` holds exactly one entry that names someone, else []."""
    if not isinstance(contacts, list) or len(contacts) != 1 or not isinstance(contacts[0], dict):
        return []
    contact = contacts[0]
    return [contact] if as_id(contact.get("user_id")) or as_id(contact.get("wa_id")) else []


def _contact_index(contacts: object) -> dict[str, list[dict[str, Any]]]:
    """``contacts[]`` by wa_id and user_id, built once per change (a batch may hold many)."""
    index: dict[str, list[dict[str, Any]]] = {}
    if isinstance(contacts, list):
        for contact in contacts:
            if isinstance(contact, dict):
                wa_id, user_id = as_id(contact.get("wa_id")), as_id(contact.get("user_id"))
                if wa_id is not None:
                    index.setdefault(wa_id, []).append(contact)
                if user_id is not None and user_id != wa_id:
                    index.setdefault(user_id, []).append(contact)
    return index


# From this many contacts in a change, they are indexed once rather than scanned for each element.
_INDEX_FROM = 8


def _lookup(
    contacts: object, index: dict[str, list[dict[str, Any]]] | None, ids: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The contacts that describe one of ``ids`` (by wa_id or user_id), id by id, each once: from
    ``index`` when the change's contacts were indexed, else scanning them (usually just one)."""
    found: list[dict[str, Any]] = []
    for key in ids:
        if index is not None:
            candidates = index.get(key, ())
        elif isinstance(contacts, list):
            candidates = [c for c in contacts if isinstance(c, dict) and _names(c, key)]
        else:
            candidates = ()
        for contact in candidates:
            for seen in found:
                if seen is contact:
                    break
            else:
                found.append(contact)
    return found


def _as_int(value: object) -> int | None:
    number = as_float(value)
    return int(number) if number is not None and number.is_integer() else None


class WhatsAppAdapter(MetaAdapter):
    """Inbound WhatsApp Cloud API: messages from customers, statuses of ours, channel notices."""

    kind: ClassVar[str] = "whatsapp"
    capabilities: ClassVar[Capabilities] = Capabilities(
        reply_window="template",
        templates=True,
        reactions=True,
        read_receipts=True,
        typing=True,
        media=MEDIA_KINDS,
        media_limits=media_limits.WHATSAPP,
        max_text_length=4096,  # Cloud API text object: "body ... Maximum length: 4096 characters"
        csat="buttons",  # an interactive list: 5 rows (reply buttons take at most 3)
    )
    connect_options: ClassVar[frozenset[str]] = frozenset({"business_account_id"})
    # GET /{phone-number-id} (Cloud API, "Phone Numbers"): the number and its verified business name.
    probe_fields: ClassVar[tuple[str, ...]] = ("verified_name", "display_phone_number")
    # A number needs no per-number subscription call: its business account is subscribed once.
    connect_note: ClassVar[str | None] = (
        "WhatsApp: make sure the number's business account is subscribed to the app (Meta app "
        "dashboard, WhatsApp > Configuration, field 'messages')"
    )

    def send(
        self, account: ChannelAccount, recipient: str, message: OutboundMessage, *, timeout: float
    ) -> SendResult:
        """Send through the WhatsApp Cloud API (shared/channels/graph.py, imported here: off the
        webhook's cold path); ``mark_read`` is a read receipt (blue ticks)."""
        from shared.channels import graph

        return graph.cloud_api(account, recipient, message, timeout)

    def list_templates(
        self, account: ChannelAccount, channel: Mapping[str, Any], *, timeout: float
    ) -> list[dict[str, Any]] | None:
        """The number's WhatsApp Business Account's templates (``businessAccountId`` on the channel,
        set by connect-channel ``--business-account-id``), through the Business Management API;
        None when the channel does not name its business account."""
        from shared.channels import graph

        waba_id = channel.get("businessAccountId")
        if not isinstance(waba_id, str) or not waba_id.isdigit():
            return None
        return [template_summary(t) for t in graph.list_message_templates(account, waba_id, timeout)]

    # -- split --

    def fetch_media(self, account: ChannelAccount, ref: Mapping[str, Any], *, timeout: float) -> FetchedMedia:
        """Cloud API "Retrieve media URL", then "Download media": ``GET /{version}/{media-id}``
        (bearer token) answers ``{url, mime_type, sha256, file_size}``; the URL (valid 5 minutes,
        on Meta's hosts only: the token goes nowhere else) is fetched with the same token."""

        from shared.channels import downloads, graph
        from shared.errors import MediaUnavailable

        media_id = ref.get("mediaId")
        if not isinstance(media_id, str) or not media_id or "/" in media_id:
            raise MediaUnavailable("the message names no WhatsApp media id")
        bearer = {"Authorization": f"Bearer {account.token}"}
        url = f"{account.base_url}/{account.api_version or 'v21.0'}/{media_id}"
        response, body = graph.call(
            "GET",
            url,
            channel=self.kind,
            unreachable="WhatsApp media endpoint unreachable",
            timeout=timeout,
            headers=bearer,
            params={"phone_number_id": account.external_id},
        )
        if response.status_code >= 400 or not isinstance(body, dict) or "error" in body:
            if response.status_code == 404:
                raise MediaUnavailable("WhatsApp no longer has this media (it keeps media 30 days)")
            raise graph.provider_error(self.kind, response.status_code, body)
        download_url = body.get("url")
        hosts = meta_media_hosts(account.base_url)
        if not isinstance(download_url, str) or not downloads.host_allowed(download_url, hosts):
            raise MediaUnavailable("WhatsApp answered no usable media URL")
        data, _ = downloads.get(
            download_url, channel=self.kind, timeout=timeout, limit=MAX_MEDIA_FETCH_BYTES, headers=bearer
        )
        return FetchedMedia(
            data=data, content_type=as_text(body.get("mime_type")), file_name=ref.get("fileName")
        )

    def split(self, body: bytes, url: str) -> list[dict[str, Any]]:
        """Cut a verified body into one item per message, status, error or other change."""
        data = load_body(body)
        entries = data.get("entry")
        if entries is None:
            return []
        if not isinstance(entries, list):
            raise ParseError("entry is not a list")
        obj = data.get("object")
        items: list[dict[str, Any]] = []
        for entry in entries:
            if not isinstance(entry, dict):
                items.append(self._item(obj, None, None, "entry", {}, entry))
                continue
            entry_id = as_id(entry.get("id"))
            changes = entry.get("changes")
            if not isinstance(changes, list):
                continue
            for change in changes:
                if change is None or change == {}:
                    continue
                if not isinstance(change, dict):
                    items.append(self._item(obj, entry_id, None, "change", {}, change))
                    continue
                self._split_change(obj, entry_id, change, items)
        return items

    def _split_change(
        self, obj: object, entry_id: str | None, change: dict[str, Any], items: list[dict[str, Any]]
    ) -> None:
        field = as_text(change.get("field"))
        value = change.get("value")
        if not isinstance(value, dict):
            items.append(self._item(obj, entry_id, field, "change", {}, value))
            return
        metadata = as_dict(value.get("metadata"))
        listed = value.get("contacts")
        index = _contact_index(listed) if isinstance(listed, list) and len(listed) >= _INDEX_FROM else None
        if field == "smb_message_echoes":
            # Messages the business sent from the WhatsApp Business app (coexistence): echoes.
            for element in value.get("message_echoes") or ():
                if element:
                    contacts = _lookup(listed, index, _party_ids("echo", element))
                    items.append(self._item(obj, entry_id, field, "echo", metadata, element, contacts))
            return
        if field != "messages" and not (field is None and any(key in value for key, _ in _VALUE_LISTS)):
            items.append(self._item(obj, entry_id, field, "change", metadata, value))
            return
        for key, kind in _VALUE_LISTS:
            elements = value.get(key)
            if not isinstance(elements, list):
                continue
            for element in elements:
                if element is None or element == {}:
                    continue
                party = _party_ids(kind, element) if listed else ()  # no contacts: no party to look up
                if party:
                    contacts = _lookup(listed, index, party)
                else:
                    contacts = _sole_contact(listed) if kind == "message" else []
                # What _item builds, inline: one dict per message or status of a batch.
                items.append(
                    {
                        "object": obj,
                        "entry_id": entry_id,
                        "field": field,
                        "kind": kind,
                        "metadata": metadata,
                        "contacts": contacts,
                        "item": element,
                    }
                )
        # A list Meta added to the messages field after this code: recorded, never dropped.
        for key, elements in value.items():  # in the value's order
            if key not in _KNOWN_VALUE_KEYS and isinstance(elements, list):
                for element in elements:
                    if element is not None and element != {}:
                        items.append(self._item(obj, entry_id, field, f"other:{key}", metadata, element))

    @staticmethod
    def _item(
        obj: object,
        entry_id: str | None,
        field: str | None,
        kind: str,
        metadata: dict[str, Any],
        element: object,
        contacts: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        return {
            "object": obj,
            "entry_id": entry_id,
            "field": field,
            "kind": kind,
            "metadata": metadata,
            "contacts": contacts or [],
            "item": element,
        }

    # -- parse --

    def parse_item(self, item: dict[str, Any]) -> list[InboundEvent]:
        """Normalize one item from :meth:`split`; raise ParseError if it cannot be understood."""
        kind = item.get("kind")
        element = item.get("item")
        if not isinstance(element, dict):
            raise ParseError(f"whatsapp {kind} item is not an object")
        if not element:
            return []
        if kind == "message":
            return self._message(item, element, echo=False)
        if kind == "status":
            return [self._status(item, element)]
        if kind == "echo":
            return self._message(item, element, echo=True)
        if kind == "error":
            # Value-level errors[]: a problem with the app or account, not one message.
            topic = f"{item.get('field') or 'messages'}:error"
            return [self._notice(item, element, topic, receipt_error(element))]
        if kind == "change":
            return [self._change(item, element)]
        # "other:<key>": a list of the messages field this code does not know.
        key = kind.removeprefix("other:") if isinstance(kind, str) else "unknown"
        return [self._notice(item, element, f"{item.get('field') or 'messages'}:{key}", None)]

    @staticmethod
    def _phone_number_id(item: dict[str, Any]) -> str:
        account_id = as_id(as_dict(item.get("metadata")).get("phone_number_id"))
        if account_id is None:
            raise ParseError("whatsapp item without metadata.phone_number_id")
        return account_id

    def _message(self, item: dict[str, Any], message: dict[str, Any], *, echo: bool) -> list[InboundEvent]:
        metadata = item.get("metadata")
        account_id = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
        if not (isinstance(account_id, str) and account_id):  # else what _phone_number_id reads
            account_id = self._phone_number_id(item)
        mid = message.get("id")
        if not (isinstance(mid, str) and mid):
            mid = as_id(mid)
            if mid is None:
                raise ParseError("whatsapp message without id")
        # The customer: `from` (phone-based wa_id), else the business-scoped user id (BSUID); for
        # echoes of the business's own messages, `to`.
        party = _party_ids("echo" if echo else "message", message)
        contact_id = party[0] if party else None
        if contact_id is None and not echo:
            # Neither from nor from_user_id: when the change names exactly one contact, it is the
            # sender (seen with BSUID-only senders, whose id is contacts[0].user_id).
            [sole] = _sole_contact(item.get("contacts")) or [{}]
            contact_id = as_id(sole.get("user_id")) or as_id(sole.get("wa_id"))
        if contact_id is None:
            raise ParseError("whatsapp message without from or from_user_id")
        envelope = {
            "channel": self.kind,
            "account_id": account_id,
            "contact_id": contact_id,
            "occurred_at": event_time(message.get("timestamp")),
            "raw": item,
        }
        mtype = message.get("type")
        if not (isinstance(mtype, str) and mtype):
            mtype = "unknown"
        if mtype == "reaction":
            return [self._reaction(envelope, account_id, mid, message, echo)]
        if mtype == "edit":
            return [self._edit(envelope, account_id, mid, message)]
        if mtype == "revoke":
            target = as_id(as_dict(message.get("revoke")).get("original_message_id"))
            if target is None:
                raise ParseError("whatsapp revoke without original_message_id")
            event_id = stable_event_id(self.kind, account_id, "delete", mid)
            return [build(DeleteEvent, {**envelope, "event_id": event_id, "target_message_id": target})]

        contact = _first_matching_contact(item.get("contacts"), party or (contact_id,))
        profile = as_dict(contact.get("profile"))
        context = message.get("context")
        if isinstance(context, dict):
            reply_to = as_id(context.get("id"))
            forwarded = context.get("forwarded") is True or context.get("frequently_forwarded") is True
        else:
            reply_to, forwarded = None, False
        fields = {
            **envelope,
            "event_id": mid,
            "message_id": mid,
            "content": self.message_content(mtype, message),
            "contact_name": as_text(profile.get("name")),
            "contact_handle": self._handle(as_id(contact.get("wa_id")), contact_id, profile),
            "reply_to": reply_to,
            "forwarded": forwarded,
            "echo": echo,
        }
        events: list[InboundEvent] = [build(MessageEvent, fields)]
        referral = message.get("referral")
        if isinstance(referral, dict):
            # Click-to-WhatsApp ads: the message keeps its own content; the ad it came from is a
            # referral beside it, under its own id, so that both are kept.
            events.append(self._referral(envelope, account_id, mid, referral))
        return events

    @staticmethod
    def _handle(wa_id: str | None, contact_id: str, profile: dict[str, Any]) -> str | None:
        """What agents see: the phone number (wa_id), else the WhatsApp username. A BSUID such as
        ``US.1234`` is not a phone number."""
        for candidate in (wa_id, contact_id):
            # +?\d+ in full: a BSUID such as US.1234 is not a phone number.
            if candidate and (candidate[1:] if candidate[0] == "+" else candidate).isdecimal():
                return candidate
        return as_text(profile.get("username"))

    def _reaction(
        self, envelope: dict[str, Any], account_id: str, mid: str, message: dict[str, Any], echo: bool
    ) -> ReactionEvent:
        reaction = as_dict(message.get("reaction"))
        target = as_id(reaction.get("message_id"))
        if target is None:
            raise ParseError("whatsapp reaction without message_id")
        # A removed reaction comes with emoji "" or without the emoji key (reaction webhook reference).
        emoji = as_text(reaction.get("emoji")) or None
        event_id = stable_event_id(self.kind, account_id, "reaction", mid)
        return build(
            ReactionEvent,
            {
                **envelope,
                "event_id": event_id,
                "target_message_id": target,
                "emoji": emoji,
                "from_business": echo,
            },
        )

    def _edit(
        self, envelope: dict[str, Any], account_id: str, mid: str, message: dict[str, Any]
    ) -> EditEvent:
        # edit: {original_message_id, message: {type, text | <media> with caption, context?}}
        edit = as_dict(message.get("edit"))
        target = as_id(edit.get("original_message_id"))
        if target is None:
            raise ParseError("whatsapp edit without original_message_id")
        edited = as_dict(edit.get("message"))
        edited_type = as_text(edited.get("type")) or "text"
        body = as_dict(edited.get(edited_type))
        text = as_text(body.get("body")) if edited_type == "text" else as_text(body.get("caption"))
        event_id = stable_event_id(self.kind, account_id, "edit", mid)
        return build(
            EditEvent,
            {**envelope, "event_id": event_id, "target_message_id": target, "text": text, "message_id": mid},
        )

    def _referral(
        self, envelope: dict[str, Any], account_id: str, mid: str, referral: dict[str, Any]
    ) -> MessageEvent:
        source_type = as_text(referral.get("source_type"))
        source_id = as_id(referral.get("source_id"))
        event_id = stable_event_id(self.kind, account_id, "referral", mid)
        content = {
            "type": "referral",
            "source": source_type,
            "ref": as_text(referral.get("ctwa_clid")) or source_id,
            "ad_id": source_id if source_type == "ad" else None,
            "url": as_text(referral.get("source_url")),
            "headline": as_text(referral.get("headline")),
            "text": as_text(referral.get("body")),
        }
        return build(
            MessageEvent, {**envelope, "event_id": event_id, "message_id": event_id, "content": content}
        )

    def message_content(self, mtype: str, message: dict[str, Any]) -> Content:
        """The content of a message by its ``type`` (the fields of its MessageContent model); a
        valid but unknown type is unsupported."""
        body = as_dict(message.get(mtype))
        if mtype == "text":
            text = as_text(body.get("body"))
            if text is None:
                return {"type": "unsupported", "provider_type": "text", "reason": "text message without body"}
            return {"type": "text", "text": text}
        media_type = _MEDIA_TYPES.get(mtype)
        if media_type is not None:
            caption = as_text(body.get("caption"))
            attachment = {
                "url": as_text(body.get("url")) or as_text(body.get("link")),
                "media_id": as_id(body.get("id")),
                "mime_type": as_text(body.get("mime_type")),
                "filename": as_text(body.get("filename")),
                "caption": caption,
                "sha256": as_text(body.get("sha256")),
            }
            return {
                "type": media_type,
                "attachments": (attachment,),
                "text": caption,
                "voice": mtype == "voice" or body.get("voice") is True,
                "animated": body.get("animated") is True,
            }
        if mtype == "location":
            return {
                "type": "location",
                "latitude": as_float(body.get("latitude")),
                "longitude": as_float(body.get("longitude")),
                "name": as_text(body.get("name")),
                "address": as_text(body.get("address")),
                "url": as_text(body.get("url")),
            }
        if mtype == "contacts":
            cards = message.get("contacts")
            shared = (
                tuple(self._shared_contact(c) for c in cards if isinstance(c, dict))
                if isinstance(cards, list)
                else ()
            )
            return {"type": "contacts", "contacts": shared}
        if mtype == "interactive":
            return self._interactive(body)
        if mtype == "button":
            # A quick-reply button of a template we sent.
            return {
                "type": "choice",
                "choice": "button",
                "title": as_text(body.get("text")),
                "payload": as_text(body.get("payload")),
            }
        if mtype == "order":
            return self._order(body)
        if mtype == "system":
            # e.g. user_changed_number / customer_identity_changed; the body names the new number.
            return {
                "type": "system",
                "event": as_text(body.get("type")) or "system",
                "text": as_text(body.get("body")),
            }
        if mtype == "request_welcome":
            return {"type": "system", "event": "request_welcome"}
        if mtype == "unsupported":
            # Error 131051 means "message type is not currently supported" (a poll, a view-once
            # photo...): it is not a deletion, which comes as type "revoke" with the original id.
            error = receipt_error(first_dict(message.get("errors")))
            provider_type = as_text(as_dict(message.get("unsupported")).get("type")) or "unsupported"
            return {"type": "unsupported", "provider_type": provider_type, "reason": error_summary(error)}
        return {"type": "unsupported", "provider_type": mtype, "reason": "unknown message type"}

    @staticmethod
    def _interactive(interactive: dict[str, Any]) -> Content:
        itype = as_text(interactive.get("type"))
        reply = interactive.get(itype) if itype else None
        if not isinstance(reply, dict):
            # `interactive` sometimes comes without its nested object (or without type).
            for key in ("button_reply", "list_reply", "nfm_reply"):
                if isinstance(interactive.get(key), dict):
                    itype, reply = key, interactive[key]
                    break
            else:
                provider_type = f"interactive:{itype}" if itype else "interactive"
                return {
                    "type": "unsupported",
                    "provider_type": provider_type,
                    "reason": "interactive reply without its object",
                }
        if itype == "button_reply":
            return {
                "type": "choice",
                "choice": "button_reply",
                "title": as_text(reply.get("title")),
                "payload": as_id(reply.get("id")),
            }
        if itype == "list_reply":
            return {
                "type": "choice",
                "choice": "list_reply",
                "title": as_text(reply.get("title")),
                "payload": as_id(reply.get("id")),
                "description": as_text(reply.get("description")),
            }
        if itype == "nfm_reply":
            return WhatsAppAdapter._flow_reply(reply)
        return {
            "type": "unsupported",
            "provider_type": f"interactive:{itype}",
            "reason": "unknown interactive reply",
        }

    @staticmethod
    def _flow_reply(reply: dict[str, Any]) -> Content:
        # nfm_reply: {name: "flow", body: "Sent", response_json: "<JSON string>"}; the string is
        # parsed, and kept as it came when it is not a JSON object.
        raw_json = reply.get("response_json")
        response: dict[str, Any] | None = None
        if isinstance(raw_json, dict):
            response = raw_json
        elif isinstance(raw_json, str):
            try:
                parsed = json.loads(raw_json)
            except (ValueError, RecursionError):
                parsed = None
            response = parsed if isinstance(parsed, dict) else {"response_json": raw_json}
        return {
            "type": "choice",
            "choice": "flow",
            "title": as_text(reply.get("body")),
            "payload": as_text((response or {}).get("flow_token")),
            "description": as_text(reply.get("name")),
            "response": response,
        }

    @staticmethod
    def _shared_contact(card: dict[str, Any]) -> dict[str, Any]:
        name = as_dict(card.get("name"))
        phones: list[str] = []
        user_id: str | None = None
        for entry in card.get("phones") or ():
            phone = as_dict(entry)
            number = as_text(phone.get("phone")) or as_id(phone.get("wa_id"))
            if number:
                phones.append(number)
            user_id = user_id or as_id(phone.get("wa_id"))
        emails = tuple(e for e in (as_text(as_dict(x).get("email")) for x in card.get("emails") or ()) if e)
        full = as_text(name.get("formatted_name")) or " ".join(
            part for part in (as_text(name.get("first_name")), as_text(name.get("last_name"))) if part
        )
        return {
            "name": full or (phones[0] if phones else ""),
            "phones": tuple(phones),
            "emails": emails,
            "user_id": user_id,
        }

    @staticmethod
    def _order(order: dict[str, Any]) -> Content:
        products = order.get("product_items")
        items = tuple(
            {
                "product_id": as_id(product.get("product_retailer_id")),
                "quantity": _as_int(product.get("quantity")),
                "price": as_float(product.get("item_price")),
                "currency": as_text(product.get("currency")),
            }
            for product in (products if isinstance(products, list) else ())
            if isinstance(product, dict)
        )
        return {
            "type": "order",
            "catalog_id": as_id(order.get("catalog_id")),
            "text": as_text(order.get("text")),
            "items": items,
        }

    def _status(self, item: dict[str, Any], status: dict[str, Any]) -> ReceiptEvent:
        account_id = self._phone_number_id(item)
        message_id = as_id(status.get("id"))
        provider_status = as_text(status.get("status"))
        if message_id is None or provider_status is None:
            raise ParseError("whatsapp status without id or status")
        lowered = provider_status.lower()
        # `played` (a voice message was listened to) counts as read; anything unknown (`deleted`,
        # new values) is kept as the provider said it, recorded and never ranked.
        normalized = (
            "read" if lowered == "played" else lowered if lowered in _RECEIPT_STATUSES else provider_status
        )
        contact_id = as_id(status.get("recipient_id")) or as_id(status.get("recipient_user_id")) or ""
        pricing = status.get("pricing")
        timestamp = status.get("timestamp")
        event_id = stable_event_id(self.kind, account_id, "status", message_id, provider_status, timestamp)
        return build(
            ReceiptEvent,
            {
                "channel": self.kind,
                "account_id": account_id,
                "contact_id": contact_id,
                "event_id": event_id,
                "occurred_at": event_time(timestamp),
                "raw": item,
                "status": normalized,
                "message_ids": (message_id,),
                "error": receipt_error(first_dict(status.get("errors"))),
                "pricing": pricing if isinstance(pricing, dict) else None,
                "provider_status": provider_status,
            },
        )

    def _change(self, item: dict[str, Any], value: dict[str, Any]) -> ChannelNoticeEvent:
        # Other fields: message_template_status_update {event: APPROVED|REJECTED..., reason},
        # account_update, phone_number_quality_update, business_capability_update...
        field = as_text(item.get("field")) or "unknown"
        event = as_text(value.get("event"))
        topic = f"{field}:{event}" if event else field
        error = receipt_error(value.get("error")) or receipt_error(first_dict(value.get("errors")))
        return self._notice(item, value, topic, error)

    def _notice(
        self, item: dict[str, Any], element: dict[str, Any], topic: str, error: Any
    ) -> ChannelNoticeEvent:
        # Account-level changes have no phone number: they are addressed to the WABA (entry.id).
        account_id = as_id(as_dict(item.get("metadata")).get("phone_number_id")) or as_id(
            item.get("entry_id")
        )
        if account_id is None:
            raise ParseError("whatsapp notice without phone_number_id or entry id")
        event_id = stable_event_id(self.kind, account_id, topic, fingerprint(element))
        return build(
            ChannelNoticeEvent,
            {
                "channel": self.kind,
                "account_id": account_id,
                "contact_id": "",
                "event_id": event_id,
                "occurred_at": event_time(element.get("timestamp")),
                "raw": item,
                "topic": topic,
                "error": error,
            },
        )


_POSITIONAL = re.compile(r"\{\{\s*(\d+)\s*\}\}")
_NAMED = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")


def template_summary(template: Mapping[str, Any]) -> dict[str, Any]:
    """A Graph message template (``components``: HEADER, BODY, FOOTER, BUTTONS) as the provider-
    neutral summary :meth:`ChannelAdapter.list_templates` answers; ``parameterCount`` counts the
    body's distinct ``{{n}}`` (positional) or ``{{name}}`` (named) parameters, ``parameterNames``
    lists the named ones in the body's order (empty for positional templates)."""
    parts: dict[str, str] = {}
    for component in template.get("components") or ():
        if isinstance(component, dict) and isinstance(component.get("text"), str):
            parts.setdefault(str(component.get("type") or "").upper(), component["text"])
    body = parts.get("BODY", "")
    positional = {int(n) for n in _POSITIONAL.findall(body)}
    names = [] if positional else list(dict.fromkeys(_NAMED.findall(body)))
    count = max(positional) if positional else len(names)
    return {
        "id": as_id(template.get("id")),
        "name": as_text(template.get("name")) or "",
        "language": as_text(template.get("language")) or "",
        "status": (as_text(template.get("status")) or "").upper(),
        "category": as_text(template.get("category")),
        "header": parts.get("HEADER"),
        "body": body,
        "footer": parts.get("FOOTER"),
        "parameterCount": count,
        # NAMED templates ({{first_name}}): the parameters are sent with their names, in this order.
        "parameterNames": names,
    }


def meta_media_hosts(graph_base_url: str) -> tuple[str, ...]:
    """Where Meta serves media files, and the host of the Graph API root the account uses (the
    local provider sandbox's)."""
    import urllib.parse

    graph = urllib.parse.urlsplit(graph_base_url).hostname or "graph.facebook.com"
    return (".fbcdn.net", ".fbsbx.com", ".facebook.com", ".cdninstagram.com", ".whatsapp.net", graph)
