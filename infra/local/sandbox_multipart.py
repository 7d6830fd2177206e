"""multipart/form-data as the provider sandbox's APIs receive it (WhatsApp's media upload, the
Telegram Bot API's file uploads): the text fields and the files, parsed with the standard library's
``email`` parser (the ``cgi`` module is gone from newer Pythons)."""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.parser import BytesParser

from infra.local.sandbox_types import Call

__all__ = ["UploadedFile", "is_multipart", "parse"]


@dataclass(frozen=True)
class UploadedFile:
    """One file part: its field name, the file name and type the client declared, its bytes."""

    field: str
    filename: str
    content_type: str
    data: bytes


def is_multipart(call: Call) -> bool:
    """Whether the request body is multipart/form-data."""
    return call.headers.get("content-type", "").split(";")[0].strip().lower() == "multipart/form-data"


def parse(call: Call) -> tuple[dict[str, list[str]], dict[str, UploadedFile]]:
    """The text fields (each name's values, in order) and the files (by field name) of a
    multipart/form-data body; ``({}, {})`` for anything else or a body that cannot be parsed."""
    if not is_multipart(call):
        return {}, {}
    head = f"Content-Type: {call.headers.get('content-type', '')}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + call.body)
    if not message.is_multipart():
        return {}, {}
    fields: dict[str, list[str]] = {}
    files: dict[str, UploadedFile] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = UploadedFile(
                field=name,
                filename=filename,
                content_type=part.get_content_type() if part.get("content-type") else "",
                data=payload,
            )
        else:
            charset = part.get_content_charset() or "utf-8"
            fields.setdefault(name, []).append(payload.decode(charset, "replace"))
    return fields, files
