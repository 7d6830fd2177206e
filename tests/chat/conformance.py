"""Validate chat API answers against the generated OpenAPI document's schemas (JSON Schema 2020-12)."""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema_rs

from shared.chat import openapi


@cache
def _validator(operation: str, status: int) -> Any:
    document = openapi.document()
    responses = document["paths"][operation]["post"]["responses"]
    assert str(status) in responses, f"{operation} does not document status {status}"
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    return jsonschema_rs.Draft202012Validator({**schema, "components": document["components"]})


def assert_conforms(operation: str, status: int, body: Any) -> None:
    """Fail unless ``body`` is what the document promises for ``operation`` answering ``status``."""
    errors = [str(error) for error in _validator(operation, status).iter_errors(body)]
    assert not errors, f"{operation} {status} does not conform: {errors[:3]}"
