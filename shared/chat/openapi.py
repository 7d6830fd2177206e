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
ERROR_DESCRIPTIONS = {
    400: "Invalid request (invalid_request, invalid_json, invalid_cursor, user_required, "
    "attachment_type_not_allowed, attachment_not_an_image, attachment_too_large, ...)",
    401: "No or invalid credentials (unauthenticated)",
    403: "Not allowed (forbidden, not_a_member, not_joinable, invite_only, approval_required, "
    "not_channel_owner)",
    404: "Not found (channel_not_found, post_not_found, user_not_found, join_request_not_found, "
    "attachment_not_yours, attachment_missing, unknown_operation)",
    409: "Conflict (user_id_taken)",
    413: "Body too large (payload_too_large)",
    429: "quota_exceeded (monthly messages) or rate_limited (posts per second); see Retry-After",
    503: "Temporarily unavailable: retry",
}
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
                "description": ERROR_DESCRIPTIONS[status],
                "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorAnswer")}}},
            }
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
