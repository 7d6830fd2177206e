"""Send correctly signed webhooks to the local stack, as the providers would.

    python -m infra.local.simulate whatsapp --text "Where is my order?"
    python -m infra.local.simulate messenger
        --file ../shared/fixtures/providers/messenger/courier-hello-msg.json

A quick text is addressed to the demo tenant's channel; a file is sent byte for byte, signed over
exactly those bytes. Reads the running stack's URLs and secrets from ``.local/stack.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from infra.local import demo
from infra.local.dev import STATE_FILE


def meta_signature(body: bytes, app_secret: str) -> str:
    """The X-Hub-Signature-256 header Meta sends: sha256=<hex HMAC-SHA256(app secret, body)>."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def text_payload(kind: str, text: str, contact: str, name: str) -> dict[str, Any]:
    """A documented webhook body carrying one text message to the demo tenant's ``kind`` channel."""
    account = next(c.external_id for c in demo.DEMO_CHANNELS if c.kind == kind)
    now_ms = int(time.time() * 1000)
    mid = f"m_{uuid.uuid4().hex}"
    if kind in ("messenger", "instagram"):
        return {
            "object": "page" if kind == "messenger" else "instagram",
            "entry": [
                {
                    "id": account,
                    "time": now_ms,
                    "messaging": [
                        {
                            "sender": {"id": contact},
                            "recipient": {"id": account},
                            "timestamp": now_ms,
                            "message": {"mid": mid, "text": text},
                        }
                    ],
                }
            ],
        }
    if kind == "whatsapp":
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "WABA_ID",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {"display_phone_number": "15550100", "phone_number_id": account},
                                "contacts": [{"profile": {"name": name}, "wa_id": contact}],
                                "messages": [
                                    {
                                        "from": contact,
                                        "id": f"wamid.{uuid.uuid4().hex}",
                                        "timestamp": str(now_ms // 1000),
                                        "type": "text",
                                        "text": {"body": text},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    if kind == "telegram":
        chat = int(contact) if contact.lstrip("-").isdigit() else 5550123
        return {
            "update_id": now_ms % 2_000_000_000,
            "message": {
                "message_id": now_ms % 1_000_000,
                "date": now_ms // 1000,
                "text": text,
                "chat": {"id": chat, "type": "private", "first_name": name.split(maxsplit=1)[0]},
                "from": {
                    "id": chat,
                    "is_bot": False,
                    "first_name": name.split(maxsplit=1)[0],
                    "username": "ada_customer",
                },
            },
        }
    if kind == "twilio":
        return {
            "MessageSid": f"SM{uuid.uuid4().hex}",
            "AccountSid": demo.TWILIO_SID,
            "From": f"+{contact.lstrip('+')}",
            "To": account,
            "Body": text,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
    raise SystemExit(f"no quick-text payload for {kind}")


def signed_request(
    kind: str, url: str, body: bytes | dict[str, str], env: dict[str, str]
) -> tuple[str, bytes, dict]:
    """The URL, bytes and headers a provider would send: each provider signs in its own way.

    Meta: X-Hub-Signature-256 over the body. Telegram: the bot's secret token header (derived from
    the master secret) and ``?bot=`` in the URL. Twilio: X-Twilio-Signature over the URL and the
    sorted form parameters, with the account's auth token."""
    if kind == "telegram":
        from shared.channels.telegram import telegram_secret_token, webhook_url

        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        bot = next(c.external_id for c in demo.DEMO_CHANNELS if c.kind == "telegram")
        headers = {
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": telegram_secret_token(env["TELEGRAM_WEBHOOK_SECRET"], bot),
        }
        return webhook_url(url, bot), raw, headers
    if kind == "twilio":
        from urllib.parse import parse_qsl, urlencode, urlsplit

        from shared.channels.twilio import compute_signature

        params = dict(parse_qsl(body.decode())) if isinstance(body, bytes) else body
        # Twilio signs the full URL it calls: the webhook sees "/" even when the URL has no path.
        url = url if urlsplit(url).path else f"{url}/"
        secrets = json.loads(env.get("SWITCHBOARD_LOCAL_SECRETS") or "{}")
        if not secrets and env.get("SWITCHBOARD_LOCAL_SECRETS_FILE"):
            secrets = json.loads(Path(env["SWITCHBOARD_LOCAL_SECRETS_FILE"]).read_text())
        token = secrets[f"twilio-auth-token-{params['AccountSid']}"]
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": compute_signature(token, url, params),
        }
        return url, urlencode(params).encode(), headers
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": meta_signature(raw, env["META_APP_SECRET"]),
    }
    return url, raw, headers


def send(kind: str, body: bytes | dict[str, Any], state: dict[str, Any]) -> requests.Response:
    """POST ``body`` to the local webhook of ``kind``, signed as the provider would sign it."""
    url, raw, headers = signed_request(kind, state["webhooks"][kind], body, state["env"])
    return requests.post(url, data=raw, headers=headers, timeout=20)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("channel", choices=["messenger", "instagram", "whatsapp", "telegram", "twilio"])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--file", type=Path, help="a webhook body to send byte for byte")
    group.add_argument("--text", help="a quick text message from a demo customer")
    parser.add_argument("--contact", default="15550123456", help="the customer's id on the channel")
    parser.add_argument("--name", default="Ada Customer", help="the customer's profile name (WhatsApp)")
    args = parser.parse_args(argv)
    if not STATE_FILE.exists():
        print("the local stack is not running: start it with `make dev`", file=sys.stderr)
        return 2
    state = json.loads(STATE_FILE.read_text())
    body: bytes | dict[str, Any]
    if args.file:
        body = args.file.read_bytes()
    elif args.channel == "twilio":
        body = text_payload(args.channel, args.text, args.contact, args.name)
    else:
        body = json.dumps(text_payload(args.channel, args.text, args.contact, args.name)).encode()
    response = send(args.channel, body, state)
    print(f"{response.status_code} {response.text}")
    return 0 if response.ok else 1


if __name__ == "__main__":
    sys.exit(main())
