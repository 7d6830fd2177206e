"""Every error code the chat API can answer is in its OpenAPI document, under the status it is
answered with: the codes are found by reading the code (every ``Refused``/``Throttled`` and auth error
raised in shared/chat/ and in the media checks it calls), so a new refusal without documentation
fails here. No emulator needed."""

from __future__ import annotations

import ast
from pathlib import Path

from shared import errors
from shared.chat import openapi

ROOT = Path(__file__).resolve().parents[2]
# What the chat API runs: its package, and the signed-URL checks its mediaUrl/uploadUrl call.
SCANNED = [*sorted((ROOT / "shared" / "chat").glob("*.py")), ROOT / "shared" / "media" / "access.py"]
# Not the chat API: create_app is its own function (the developer console), push.py the push worker.
NOT_CHAT_API_FUNCTIONS = {"create_app", "_not_in_a_tenant", "_signed_in"}
NOT_CHAT_API_FILES = {"push.py"}
# Answered by the HTTP layer (functions/http.py, functions/chat.py), not raised in shared/chat/.
HTTP_LAYER = {
    (400, "invalid_request"),
    (400, "invalid_json"),
    (413, "payload_too_large"),
    (503, "unavailable"),
}


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


def _status_of(call: ast.Call, cls: type[errors.Refused]) -> int:
    if issubclass(cls, errors.Throttled):
        return 429
    for keyword in call.keywords:
        if keyword.arg == "http_status" and isinstance(keyword.value, ast.Constant):
            return int(keyword.value.value)
    if len(call.args) >= 3 and isinstance(call.args[2], ast.Constant):
        return int(call.args[2].value)
    return 400


def _raised(path: Path) -> set[tuple[int, str]]:
    """(status, code) of every chat-API error constructed in ``path``."""
    found: set[tuple[int, str]] = set()
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in NOT_CHAT_API_FUNCTIONS:
            skipped.update(id(inner) for inner in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skipped or not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        cls = getattr(errors, node.func.id, None)
        if not (isinstance(cls, type) and issubclass(cls, errors.PermanentError)):
            continue
        if issubclass(cls, errors.Refused):
            code = node.args[0] if node.args else None
            assert isinstance(code, ast.Constant) and isinstance(code.value, str), (
                f"{path.name}:{node.lineno}: the error code must be a literal so it can be documented"
            )
            found.add((_status_of(node, cls), code.value))
        elif cls in (errors.Unauthenticated, errors.Forbidden):
            found.add((cls.http_status, _snake(cls.__name__)))
    return found


def raised_codes() -> set[tuple[int, str]]:
    codes: set[tuple[int, str]] = set(HTTP_LAYER)
    for path in SCANNED:
        if path.name not in NOT_CHAT_API_FILES:
            codes |= _raised(path)
    return codes


def test_the_scan_finds_the_media_refusals() -> None:
    codes = raised_codes()
    for expected in (
        (400, "unsupported_media_type"),
        (413, "file_too_large"),
        (409, "media_not_ready"),
        (404, "media_not_found"),
        (404, "attachment_missing"),
        (429, "rate_limited"),
        (401, "unauthenticated"),
    ):
        assert expected in codes


def test_every_error_code_the_chat_api_raises_is_in_the_openapi_document() -> None:
    document = openapi.document()
    documented: dict[int, set[str]] = {}
    for item in document["paths"].values():
        for response_status, response in item.get("post", {}).get("responses", {}).items():
            if response_status == "200":
                continue
            for code in response.get("x-error-codes", []):
                assert f"`{code}`" in response["description"]
                documented.setdefault(int(response_status), set()).add(code)
    missing = sorted(
        (status, code) for status, code in raised_codes() if code not in documented.get(status, set())
    )
    assert not missing, f"raised but not documented under their status: {missing}"


def test_the_operations_that_refuse_with_media_codes_document_those_statuses() -> None:
    paths = openapi.document()["paths"]
    upload = paths["/v1/uploadUrl"]["post"]["responses"]
    assert "unsupported_media_type" in upload["400"]["x-error-codes"]
    assert "file_too_large" in upload["413"]["x-error-codes"]
    media = paths["/v1/mediaUrl"]["post"]["responses"]
    assert "media_not_ready" in media["409"]["x-error-codes"]
    assert "media_not_found" in media["404"]["x-error-codes"]
    post = paths["/v1/createPost"]["post"]["responses"]
    assert {"attachment_not_yours", "attachment_missing"} <= set(post["404"]["x-error-codes"])
    assert {"attachment_type_not_allowed", "attachment_not_an_image"} <= set(post["400"]["x-error-codes"])


def test_no_documented_code_is_stale() -> None:
    raised = {code for _, code in raised_codes()}
    stale = sorted(code for codes in openapi.ERROR_CODES.values() for code in codes if code not in raised)
    assert not stale, f"documented but never raised: {stale}"
