"""``chat_api`` and ``create_app``: the chat backend-as-a-service (shared/chat/).

``chat_api`` routes by path: ``POST /v1/{operation}`` with a JSON body, ``GET /openapi.json`` for the
generated OpenAPI 3.1 document. Errors are JSON ``{"error": {"code", "message", "details"?}}``
(functions/http.py); a 429 carries ``Retry-After``. Bodies are capped at 64 KB (functions/http.py
``MAX_BODY_BYTES``): a larger one is refused with 413 ``payload_too_large`` before it is read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functions.http import Response, answer, body_limit, discard_unread, error, serve, start
from shared.errors import TransientError

if TYPE_CHECKING:  # pragma: no cover
    import flask

OPENAPI_PATH = "/openapi.json"
OPERATION_PREFIX = "/v1/"


def chat_api(request: flask.Request) -> Response:
    """POST /v1/{operation} (API key + X-User-Id, or a Firebase ID token); GET /openapi.json."""
    try:
        start()
        return _route(request)
    finally:
        discard_unread(request)  # GET /openapi.json, 404 and 405 read no body: none is left behind


def _route(request: flask.Request) -> Response:
    path = request.path.rstrip("/") or "/"
    if path == OPENAPI_PATH:
        if request.method not in ("GET", "HEAD"):
            body, status, headers = error("method_not_allowed", f"use GET {OPENAPI_PATH}", 405)
            return body, status, {**headers, "Allow": "GET, HEAD"}
        from shared.chat import openapi

        return answer(openapi.document())
    if request.method != "OPTIONS" and not path.startswith(OPERATION_PREFIX):
        return error("not_found", f"no such path {path}: POST /v1/{{operation}} or GET {OPENAPI_PATH}", 404)
    if request.method not in ("POST", "OPTIONS"):
        body, status, headers = error("method_not_allowed", "operations are POST /v1/{operation}", 405)
        return body, status, {**headers, "Allow": "POST, OPTIONS"}
    name = path.removeprefix(OPERATION_PREFIX)

    def handle(req: flask.Request, body: bytes) -> dict[str, Any]:
        from shared import auth, store
        from shared.chat import api

        store.load_library()  # once, under a lock: concurrent first requests run on threads
        auth.load_library()
        try:
            return api.call(name, body, req.headers.get("Authorization"), req.headers.get("X-User-Id"))
        except store.transient_errors() as exc:
            # Firestore briefly away or overloaded: a JSON 503 the client may retry, never a bare 500.
            raise TransientError(f"Firestore: {type(exc).__name__}") from exc

    return serve(request, handle, body_limit("chat_api"))


def create_app(request: flask.Request) -> Response:
    """POST {name} with a signed-in user's Firebase ID token -> {appId, apiKey, embedSnippet}."""

    def handle(req: flask.Request, body: bytes) -> dict[str, Any]:
        from shared import auth, store
        from shared.chat import api

        store.load_library()
        auth.load_library()
        try:
            return api.create_app(req.headers.get("Authorization"), body)
        except store.transient_errors() as exc:
            raise TransientError(f"Firestore: {type(exc).__name__}") from exc

    return serve(request, handle, body_limit("create_app"))
