"""Webhook bodies for the benchmarks, shaped as the providers document them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infra.local import demo, payloads

WA_PHONE_ID = next(c.external_id for c in demo.DEMO_CHANNELS if c.kind == "whatsapp")


def whatsapp_batch(count: int, contacts: int = 50, text: str = "benchmark message") -> dict[str, Any]:
    """One WhatsApp webhook POST carrying ``count`` text messages from ``contacts`` customers."""
    return payloads.whatsapp_batch(WA_PHONE_ID, count, contacts, text)


def signed_poster(target: str, secret: str) -> Callable[[bytes], None]:
    """POST Meta-signed webhook bodies to the real ``target`` in this process (functions-framework's
    app, Flask's test client), insisting on 200."""
    import functions_framework

    from infra.local.simulate import meta_signature

    app = functions_framework.create_app(target=target, source="main.py").test_client()

    def post(body: bytes) -> None:
        response = app.post(
            "/",
            data=body,
            headers={"X-Hub-Signature-256": meta_signature(body, secret), "Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.data

    return post
