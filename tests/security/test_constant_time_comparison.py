"""Signatures and tokens are compared in constant time, on every channel.

Two complementary checks:

- by reading the source: every function reachable from an adapter's ``verify`` (and ``handshake``,
  which compares Meta's verify token) is parsed; ``hmac.compare_digest`` must be called on the verify
  path, and no ``==``/``!=``/``in`` may touch a value whose name says it is a signature, token,
  digest, MAC or secret (``len(provided) != 64`` is fine: a length is not secret);
- by behaviour: with ``hmac.compare_digest`` replaced, the function's verdict follows it (always
  False refuses a correctly signed request, always True admits a forged one of the right shape), so no
  other comparison decides.
"""

from __future__ import annotations

import ast
import hmac
import inspect
import re
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared import channels
from tests.security import webhooks

SECRET_WORDS = re.compile(r"signature|token|digest|expected|provided|mac|hash|secret", re.IGNORECASE)
# Methods that return (a view of) the same secret: `provided.strip() == expected` is still a leak.
SAME_VALUE_METHODS = {
    "strip",
    "lstrip",
    "rstrip",
    "lower",
    "upper",
    "encode",
    "decode",
    "hexdigest",
    "digest",
}
LEAKY_OPERATORS = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)


@dataclass
class VerifyPath:
    """The functions an adapter's verification runs, and what the source review found in them."""

    functions: list[Callable[..., Any]] = field(default_factory=list)
    compare_digest_in: list[str] = field(default_factory=list)
    leaky_comparisons: list[str] = field(default_factory=list)


def _resolve(call: ast.Call, function: Callable[..., Any], owner: type) -> Any:
    """The object a call names, where it can be known statically (globals, modules, self.method)."""
    target = call.func
    if isinstance(target, ast.Name):
        return function.__globals__.get(target.id)
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
        if target.value.id in ("self", "cls"):
            return getattr(owner, target.attr, None)
        module = function.__globals__.get(target.value.id)
        if inspect.ismodule(module) or inspect.isclass(module):
            return getattr(module, target.attr, None)
    return None


def _secret_bearing(node: ast.expr) -> bool:
    """Whether an operand is (a view of) a secret value, judged by its names."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr not in SAME_VALUE_METHODS:
            return False
        if node.func.attr in ("hexdigest", "digest"):
            return True
        node = node.func.value
    if isinstance(node, ast.Subscript):  # a slice of a secret leaks as much as the secret
        node = node.value
    if isinstance(node, ast.Call):  # compute_signature(...), telegram_secret_token(...)
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        return bool(SECRET_WORDS.search(name))
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    # UPPER_CASE names are constants: header names, prefixes, patterns, never secret values.
    return (
        bool(name)
        and not name.isupper()
        and not name.lstrip("_").isupper()
        and bool(SECRET_WORDS.search(name))
    )


def _leaky(compare: ast.Compare) -> bool:
    """An equality or membership test with a secret on either side."""
    return any(isinstance(op, LEAKY_OPERATORS) for op in compare.ops) and any(
        _secret_bearing(operand) for operand in (compare.left, *compare.comparators)
    )


def review(start: list[Callable[..., Any]], owner: type) -> VerifyPath:
    """Walk the project functions reachable from ``start`` and review each one's comparisons."""
    path = VerifyPath()
    pending = list(start)
    while pending:
        function = pending.pop()
        if function in path.functions:
            continue
        path.functions.append(function)
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                called = _resolve(node, function, owner)
                if called is hmac.compare_digest:
                    path.compare_digest_in.append(function.__qualname__)
                elif inspect.isfunction(called) and called.__module__.startswith("shared."):
                    pending.append(called)
            elif isinstance(node, ast.Compare) and _leaky(node):
                path.leaky_comparisons.append(f"{function.__qualname__}: {ast.unparse(node)}")
    return path


def adapter_class(kind: str) -> type:
    return type(channels.adapter(kind))


@pytest.mark.parametrize("kind", channels.kinds())
def test_the_verify_path_compares_signatures_with_compare_digest(kind: str) -> None:
    cls = adapter_class(kind)
    path = review([cls.verify], cls)
    assert path.compare_digest_in, f"{kind}: no hmac.compare_digest on the verify path {path.functions}"


@pytest.mark.parametrize("kind", channels.kinds())
def test_no_signature_or_token_is_compared_with_equality(kind: str) -> None:
    cls = adapter_class(kind)
    path = review([cls.verify, cls.handshake], cls)
    assert path.leaky_comparisons == []


# The review must be able to fail: these are the mistakes it exists to catch.


def _leaky_equality(provided: str, expected: str) -> bool:
    return provided == expected


def _leaky_after_strip(signature: str, body: bytes) -> bool:
    return signature.strip() != hmac.new(b"k", body, "sha256").hexdigest()


def _leaky_membership(token: str, tokens: set[str]) -> bool:
    return token in tokens


def _leaky_prefix(expected_digest: str, header_value: str) -> bool:
    return header_value[:8] == expected_digest[:8]


def _constant_time(provided: bytes, expected: bytes) -> bool:
    return hmac.compare_digest(provided, expected) and len(provided) != 64


@pytest.mark.parametrize("mistake", [_leaky_equality, _leaky_after_strip, _leaky_membership, _leaky_prefix])
def test_the_source_review_catches_an_equality_on_a_secret(mistake: Callable[..., bool]) -> None:
    assert review([mistake], object).leaky_comparisons


def test_the_source_review_accepts_compare_digest_and_length_checks() -> None:
    path = review([_constant_time], object)
    assert path.compare_digest_in == ["_constant_time"]
    assert path.leaky_comparisons == []


# --- behaviour: the verdict is compare_digest's ------------------------------------------------------


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[str, Any]]:
    with webhooks.webhook_environment():
        yield {kind: webhooks.webhook_client(kind) for kind in channels.kinds()}


def _forged(kind: str) -> webhooks.WebhookRequest:
    """A request whose signature has the right shape but the wrong value."""
    body = webhooks.message_body(kind, text="hello", name="Test Customer", phone="15550001111")
    genuine = webhooks.signed(kind, body)
    header = webhooks.SIGNATURE_HEADERS[kind]
    forged = {
        "telegram": "0" * 64,
        "twilio": "A" * 27 + "=",
    }.get(kind, "sha256=" + "0" * 64)
    return genuine.with_header(header, forged)


@pytest.mark.parametrize("kind", channels.kinds())
def test_a_correct_signature_is_refused_when_compare_digest_says_no(
    clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    body = webhooks.message_body(kind, text="hello", name="Test Customer", phone="15550001111")
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: False)
    assert webhooks.post(clients[kind], webhooks.signed(kind, body)).status_code == 401


@pytest.mark.parametrize("kind", channels.kinds())
def test_a_forged_signature_gets_through_only_when_compare_digest_says_yes(
    clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    assert webhooks.post(clients[kind], _forged(kind)).status_code == 401
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: True)
    # Past verification the body is parsed and its publish attempted: 503, Pub/Sub is away.
    assert webhooks.post(clients[kind], _forged(kind)).status_code == 503
