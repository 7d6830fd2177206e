"""The chat API's contract without the emulators: the generated OpenAPI document, API keys, cursors,
the in-process rate limit and who gets a push."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from pydantic import ValidationError
from schemathesis.specs.openapi.definitions import OPENAPI_31

from shared.chat import api, keys, metering, models, openapi
from shared.errors import Refused, Throttled


def test_the_openapi_document_is_valid_openapi_3_1() -> None:
    document = openapi.document()
    assert document["openapi"] == "3.1.0"
    errors = [str(e) for e in jsonschema_rs.Draft202012Validator(OPENAPI_31).iter_errors(document)]
    assert not errors, errors[:3]
    for name, schema in document["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), f"{name} is not a valid JSON Schema"
    schemathesis.openapi.from_dict(document).validate()
    json.dumps(document)  # serializable as the function serves it


def test_every_operation_is_documented_from_its_models() -> None:
    document = openapi.document()
    schemas = document["components"]["schemas"]
    assert set(document["components"]["securitySchemes"]) == {"apiKey", "userId", "firebaseIdToken"}
    assert "ErrorAnswer" in schemas
    for name, operation in api.OPERATIONS.items():
        post = document["paths"][f"/v1/{name}"]["post"]
        request_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert request_ref == f"#/components/schemas/{operation.request.__name__}"
        assert schemas[operation.request.__name__]["additionalProperties"] is False
        assert post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == (
            f"#/components/schemas/{operation.answer.__name__}"
        )
        for status in ("400", "401", "503"):
            assert post["responses"][status]["content"]["application/json"]["schema"]["$ref"].endswith(
                "/ErrorAnswer"
            )
        schemes = [set(requirement) for requirement in post["security"]]
        assert ({"apiKey", "userId"} if operation.needs_user else {"apiKey"}) in schemes
        assert ({"firebaseIdToken"} in schemes) == (not operation.api_key_only)
    assert "429" in document["paths"]["/v1/createPost"]["post"]["responses"]
    assert document["paths"]["/v1/token"]["post"]["security"] == [{"apiKey": []}]


def test_request_schemas_match_what_pydantic_enforces() -> None:
    schema = openapi.document()["components"]["schemas"]["CreatePostRequest"]
    validator = jsonschema_rs.Draft202012Validator({**schema, "components": openapi.document()["components"]})
    good = {"channelId": "general", "text": "hi", "clientPostId": "c-1"}
    bad = [
        {**good, "channelId": "__reserved__"},
        {**good, "channelId": "a/b"},
        {**good, "text": "   "},
        {**good, "text": "x" * (models.MAX_POST_LENGTH + 1)},
        {**good, "extra": 1},
        {"channelId": "general", "text": "hi"},
    ]
    assert validator.is_valid(good)
    models.CreatePostRequest.model_validate(good)
    for body in bad:
        assert not validator.is_valid(body), body
        with pytest.raises(ValidationError):
            models.CreatePostRequest.model_validate(body)


def test_api_keys_are_long_random_and_stored_as_a_hash() -> None:
    key = keys.generate("app0123456789abcdef")
    secret = key.removeprefix("sb_app0123456789abcdef_")
    assert len(secret) == 43
    assert keys.KEY_PATTERN.match(key)
    assert keys.digest(key) == __import__("hashlib").sha256(key.encode()).hexdigest()
    assert keys.prefix(key) == f"sb_app0123456789abcdef_{secret[:4]}"
    assert secret not in keys.prefix(key)
    assert keys.generate("app0123456789abcdef") != key
    assert keys.verify("sb_short") is None  # refused by shape, before any read


def test_cursors_round_trip_and_garbage_is_refused() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert api._decode_cursor(api._encode_cursor(at, "po123")) == (at, "po123")
    for garbage in ("nope", "e30", api._encode_cursor(at, "a/b")):
        with pytest.raises(Refused) as caught:
            api._decode_cursor(garbage)
        assert caught.value.code == "invalid_cursor"


def test_the_in_process_window_admits_five_posts_a_second_per_user() -> None:
    metering.reset()
    for _ in range(metering.POSTS_PER_SECOND):
        metering.admit("app1", "alice")
    with pytest.raises(Throttled) as caught:
        metering.admit("app1", "alice")
    assert caught.value.code == "rate_limited"
    assert caught.value.http_status == 429
    assert 0 < caught.value.retry_after <= 1
    metering.admit("app1", "bob")  # per user
    metering.admit("app2", "alice")  # per app
    with pytest.raises(Throttled):
        metering.admit("app3", "carol", bucket_count=metering.POSTS_PER_SECOND)  # other instances' posts
    metering.reset()


def test_the_embed_snippet_loads_the_bundle_and_mounts_the_chat() -> None:
    snippet = api.embed_snippet("app0123456789abcdef")
    assert "/embed/switchboard-chat.js" in snippet
    assert "SwitchboardChat.mount(" in snippet
    assert "token:" in snippet
    assert 'appId: "app0123456789abcdef"' in snippet


def test_a_hot_chat_channels_shares_fold_into_seq_once_with_the_latest_post_shown() -> None:
    from shared import inbox, store

    def part(post_id: str, at_ms: int, support: bool = False) -> dict[str, Any]:
        summary = api._summary(post_id, "text", post_id, "in", "alice", "Alice", at_ms)
        shared_part = api.chat_part(summary, at_ms)
        shared_part["lastMessage"] = {
            **shared_part["lastMessage"],
            "at": datetime.fromtimestamp(at_ms / 1000, UTC),
        }
        shared_part["receivedAt"] = datetime.fromtimestamp(at_ms / 1000, UTC)
        if support:
            shared_part["support"] = {"contactName": "Alice"}
        return shared_part

    shown = store.Versioned(True, {"lastActivityAtMs": 2_000, "seq": 5}, None)
    update = inbox._chat_folded(shown, [part("p1", 1_000), part("p3", 3_000), part("p2", 2_500)])
    assert update["seq"].value == 3 and update["messageCount"].value == 3
    assert update["lastPost"]["id"] == "p3" and update["lastMessageText"] == "p3"
    assert "unreadCount" not in update and "status" not in update
    # A summary written later than every share keeps what it shows; the counts still move.
    later = store.Versioned(True, {"lastActivityAtMs": 9_000}, None)
    update = inbox._chat_folded(later, [part("p4", 4_000, support=True)])
    assert "lastPost" not in update and update["seq"].value == 1
    assert (update["unreadCount"].value, update["status"], update["contactName"]) == (1, "open", "Alice")
