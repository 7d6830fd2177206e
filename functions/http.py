"""What every JSON HTTPS function shares: CORS for the dashboard, JSON answers, and one mapping from
Switchboard's errors to status codes with a machine-readable ``error.code``."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from shared.errors import PermanentError, SwitchboardError

if TYPE_CHECKING:  # pragma: no cover
    import flask

log = logging.getLogger("switchboard.http")

Response = tuple[str, int, dict[str, str]]
CORS = {
    "Access-Control-Allow-Origin": "*",  # bearer tokens, no cookies: any origin may call with a token
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, X-User-Id",
    "Access-Control-Max-Age": "3600",
}


def answer(body: dict[str, Any], status: int = 200) -> Response:
    """A JSON response with CORS headers."""
    return json.dumps(body, default=str), status, {**CORS, "Content-Type": "application/json"}


def error(code: str, message: str, status: int, details: Any = None) -> Response:
    """A JSON error the dashboard can show: {"error": {"code", "message", "details"?}}."""
    payload: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        payload["details"] = details
    return answer({"error": payload}, status)


def serve(request: flask.Request, handler: Callable[[flask.Request], dict[str, Any]]) -> Response:
    """Run ``handler`` for a POST, answer CORS preflights, and map errors to JSON answers."""
    if request.method == "OPTIONS":
        return "", 204, CORS
    if request.method != "POST":
        return error("method_not_allowed", "use POST", 405)
    try:
        return answer(handler(request))
    except ValidationError as exc:
        details = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        return error("invalid_request", "the request body is not valid", 400, details)
    except json.JSONDecodeError:
        return error("invalid_json", "the request body is not JSON", 400)
    except SwitchboardError as exc:
        code = getattr(exc, "code", None) or _snake(type(exc).__name__)
        if not isinstance(exc, PermanentError):
            log.error("transient failure", extra={"fields": {"error": type(exc).__name__}})
            return error("unavailable", "temporarily unavailable, retry", exc.http_status)
        return error(str(code), str(exc), exc.http_status)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))
