"""The chat API's OpenAPI 3.1 document, generated from the pydantic models and the operation table.

Nothing here is written by hand except prose: every request and answer schema comes from the
models' JSON schemas (``models_json_schema``: requests in validation mode, answers in serialization
mode), every path from :data:`shared.chat.api.OPERATIONS`, so the document cannot drift from what
the function validates and answers. OpenAPI 3.1 uses JSON Schema 2020-12, which pydantic emits.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from shared.chat import api, models

REF = "#/components/schemas/{model}"
COMMON_ERRORS = (413, 503)
# Every error code the chat API answers, by HTTP status: what Refused/Throttled (and the auth
# errors) raise in shared/chat/ and in the media checks it calls (shared/media/access.py), plus the
# HTTP layer's own (functions/http.py). tests/chat/test_openapi_errors.py scans the code for raised
# codes and fails when one is missing here, so the document stays complete.
ERROR_TITLES = {
    400: "Invalid request",
    401: "No or invalid credentials",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    429: "A limit was reached; see Retry-After",
    503: "Temporarily unavailable: retry",
}
ERROR_CODES: dict[int, dict[str, str]] = {
    400: {
        "invalid_request": "the body does not match the request schema (details lists the fields)",
        "invalid_json": "the body is not JSON",
        "invalid_cursor": "the cursor is not one this API answered",
        "invalid_user_id": "X-User-Id is not a valid user id",
        "user_required": "the operation acts for a user: send X-User-Id (API key) or an ID token",
        "cannot_message_self": "createPM with yourself",
        "cannot_leave": "a direct channel cannot be left",
        "unsupported_media_type": "uploadUrl: the content type is not on the allow-list",
        "empty_file": "uploadUrl: size 0",
        "attachment_type_not_allowed": "createPost: the uploaded bytes are not an allowed type",
        "attachment_not_an_image": "createPost: an image post whose file is not an image",
        "attachment_too_large": "createPost: the uploaded file is over its kind's maximum",
    },
    401: {"unauthenticated": "no, malformed, expired or revoked API key or ID token"},
    403: {
        "forbidden": "the credentials may not do this (wrong app, a backend-only operation)",
        "not_a_member": "only the channel's members may do this",
        "not_joinable": "the channel cannot be joined this way",
        "invite_only": "the channel takes members by invitation only",
        "approval_required": "the channel asks its owner's approval: requestJoin",
        "not_channel_owner": "only the channel's owner (or the app's backend) may do this",
    },
    404: {
        "channel_not_found": "no such channel",
        "post_not_found": "no such post",
        "user_not_found": "no such user",
        "join_request_not_found": "no such pending join request",
        "attachment_not_yours": "createPost: attachment.path is not the caller's upload",
        "attachment_missing": "createPost: the file was not uploaded, or has expired",
        "media_not_found": "mediaUrl: no such file (or no thumbnail of it)",
        "unknown_operation": "no such operation",
    },
    409: {
        "user_id_taken": "token: the user id belongs to another account",
        "media_not_ready": "mediaUrl: the file is still being stored, or could not be (the reason)",
    },
    413: {
        "payload_too_large": "the request body is over the limit",
        "file_too_large": "uploadUrl: the file is over its kind's maximum (images 25 MB, audio and "
        "video 50 MB, documents 100 MB, stickers 1 MB)",
    },
    429: {
        "quota_exceeded": "the app's monthly messages are used up",
        "rate_limited": "too many posts per second",
    },
    503: {"unavailable": "a dependency is briefly away: retry"},
}


def error_description(status: int) -> str:
    """The response's description: its title and every code it can carry."""
    codes = "; ".join(f"`{code}`: {meaning}" for code, meaning in ERROR_CODES[status].items())
    return f"{ERROR_TITLES[status]}. Codes: {codes}."


API_KEY_AUTH = [{"apiKey": [], "userId": []}]
CLIENT_AUTH = [{"firebaseIdToken": []}]


@cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the chat API (built once per process)."""
    operations = list(api.OPERATIONS.values())
    pairs: list[tuple[type[Any], Any]] = []
    for operation in operations:
        pairs.append((operation.request, "validation"))
        pairs.append((operation.answer, "serialization"))
    pairs.append((models.ErrorAnswer, "serialization"))
    _, definitions = models_json_schema(pairs, ref_template=REF)
    schemas = {name: _closed(schema) for name, schema in definitions.get("$defs", {}).items()}
    paths: dict[str, Any] = {}
    for operation in operations:
        responses: dict[str, Any] = {
            "200": {
                "description": operation.answer.__doc__.strip().splitlines()[0]
                if operation.answer.__doc__
                else "OK",
                "content": {
                    "application/json": {"schema": {"$ref": REF.format(model=operation.answer.__name__)}}
                },
            }
        }
        for status in sorted({*operation.errors, *COMMON_ERRORS}):
            response: dict[str, Any] = {
                "description": error_description(status),
                "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorAnswer")}}},
            }
            response["x-error-codes"] = sorted(ERROR_CODES[status])
            if status == 429:
                response["headers"] = {
                    "Retry-After": {"description": "Seconds to wait", "schema": {"type": "string"}}
                }
            responses[str(status)] = response
        paths[f"/v1/{operation.name}"] = {
            "post": {
                "operationId": operation.name,
                "summary": operation.summary,
                "description": (operation.run.__doc__ or "").strip(),
                "tags": [operation.kind],
                "security": _security(operation),
                "requestBody": {
                    # An empty body is the empty object: optional where no field is required.
                    "required": bool(operation.request.model_json_schema().get("required")),
                    "content": {
                        "application/json": {"schema": {"$ref": REF.format(model=operation.request.__name__)}}
                    },
                },
                "responses": responses,
            }
        }
    paths["/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "tags": ["meta"],
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI 3.1 document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Switchboard chat API",
            "version": api.VERSION,
            "description": (api.__doc__ or "").strip(),
        },
        "servers": [{"url": "/", "description": "The chat_api function's URL"}],
        "tags": [
            {"name": "app", "description": "For the app's backend (API key)"},
            {"name": "query", "description": "Reads"},
            {"name": "mutation", "description": "Changes"},
            {"name": "meta", "description": "About the API"},
        ],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "sb_<appId>_<secret>",
                    "description": "The app's API key (its backend only, never in a client), "
                    "together with X-User-Id.",
                },
                "userId": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-User-Id",
                    "description": "The user an API-key call acts for.",
                },
                "firebaseIdToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A Firebase ID token from signInWithCustomToken(token's customToken): "
                    "claims tenantId (the app), role 'user' and userId; only a custom-token sign-in "
                    "(firebase.sign_in_provider 'custom') is accepted.",
                },
            },
        },
    }


def _security(operation: api.Operation) -> list[dict[str, list[str]]]:
    """Who may call: the backend's key (with X-User-Id when the operation acts for a user) and, unless
    it is for backends only, an app user's ID token."""
    backend = API_KEY_AUTH if operation.needs_user else [{"apiKey": []}]
    return backend if operation.api_key_only else backend + CLIENT_AUTH


def _closed(schema: Any) -> Any:
    """Say what pydantic enforces but does not emit: a map with constrained keys
    (``patternProperties``) refuses other keys."""
    if isinstance(schema, dict):
        closed = {key: _closed(value) for key, value in schema.items()}
        if "patternProperties" in closed and "additionalProperties" not in closed:
            closed["additionalProperties"] = False
        return closed
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    return schema
