"""Helpers the tests share: signed webhook posts, condition waits, fixture paths."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import requests

from infra.local import payloads
from infra.local.simulate import meta_signature
from infra.local.stack import LocalStack

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]
PROVIDER_FIXTURES = REPO.parent / "shared" / "fixtures" / "providers"


def provider_fixture(relative: str) -> bytes:
    """A real published provider payload from ../shared (the test fails if it is missing)."""
    path = PROVIDER_FIXTURES / relative
    assert path.exists(), f"missing provider fixture {path}: ../shared must sit beside the repo"
    return path.read_bytes()


def post_webhook(
    stack: LocalStack,
    kind: str,
    body: bytes | dict[str, Any],
    *,
    secret: str | None = None,
    signature: str | None = None,
    timeout: float = 30,
) -> requests.Response:
    """POST a webhook body to the local function, signed with the stack's Meta app secret by default."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if signature is None:
        signature = meta_signature(raw, secret or stack.secrets.meta_app_secret)
    if signature:
        headers["X-Hub-Signature-256"] = signature
    return requests.post(stack.function_urls[f"webhook_{kind}"], data=raw, headers=headers, timeout=timeout)


def eventually(probe: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.05, what: str = "") -> T:
    """Poll ``probe`` until it returns something truthy, and return it; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T = probe()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what or probe}: last value {last!r}"
            )
        time.sleep(interval)
        last = probe()
    return last


def identity(stack: LocalStack, method: str, body: dict[str, Any]) -> dict[str, Any]:
    """Call the Auth emulator's Identity Toolkit REST API (``accounts:<method>``) as a browser would
    (``signUp``, ``signInWithPassword``, ``signInWithCustomToken``...); raise on a refusal."""
    response = requests.post(
        f"http://{stack.auth_host}/identitytoolkit.googleapis.com/v1/accounts:{method}?key=local",
        json={**body, "returnSecureToken": True},
        timeout=10,
    )
    response.raise_for_status()
    return dict(response.json())


def agent_token(
    stack: LocalStack, tenant_id: str, email: str, role: str = "agent", name: str = "Test Agent"
) -> str:
    """Create (or update) an agent in the Auth emulator with tenant/role claims, sign it in, and
    return its Firebase ID token, exactly as the dashboard would obtain one."""
    from shared import auth, store

    uid = auth.invite(email, "correct-horse-battery", tenant_id, role, name)
    store.put_agent(tenant_id, uid, {"name": name, "email": email, "role": role})
    return str(
        identity(stack, "signInWithPassword", {"email": email, "password": "correct-horse-battery"})[
            "idToken"
        ]
    )


def whatsapp_text_webhook(
    phone_number_id: str,
    wa_id: str,
    text: str,
    *,
    wamid: str | None = None,
    timestamp: int | None = None,
    name: str = "Kerry Fisher",
) -> dict[str, Any]:
    """A documented WhatsApp Cloud API webhook carrying one text message (infra/local/payloads.py)."""
    return payloads.whatsapp_text(phone_number_id, wa_id, text, wamid=wamid, timestamp=timestamp, name=name)


def post_signed(
    stack: LocalStack, kind: str, body: bytes | dict[str, Any], *, tamper: bool = False, timeout: float = 30
) -> requests.Response:
    """POST a webhook signed the way ``kind``'s provider signs (Meta HMAC, Telegram secret token,
    Twilio URL+params signature); ``tamper`` corrupts the signature after signing."""
    from infra.local.simulate import signed_request

    url, raw, headers = signed_request(kind, stack.function_urls[f"webhook_{kind}"], body, stack.env())
    if tamper:
        for name in ("X-Hub-Signature-256", "X-Telegram-Bot-Api-Secret-Token", "X-Twilio-Signature"):
            if name in headers:
                headers[name] = headers[name][:-4] + "AAAA"
    return requests.post(url, data=raw, headers=headers, timeout=timeout)


def whatsapp_status_webhook(phone_number_id: str, wa_id: str, wamid: str, status: str) -> dict[str, Any]:
    """A documented WhatsApp Cloud API `statuses` webhook for one message the business sent."""
    return payloads.whatsapp_status(phone_number_id, wa_id, wamid, status)


class BackgroundServer:
    """An HTTP server on 127.0.0.1 (a free port) serving ``handler`` on a thread of its own until
    :meth:`stop`: what a test stands up where a stranger's host or a task's target would be."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], name: str = "test-server") -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
