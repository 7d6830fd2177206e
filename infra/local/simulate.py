"""Send correctly signed webhooks to the local stack, as the providers would.

    python -m infra.local.simulate whatsapp --text "Where is my order?"
    python -m infra.local.simulate twilio-whatsapp --text "hi" --contact 15550123456 --name "Ada"
    python -m infra.local.simulate messenger
        --file ../shared/fixtures/providers/messenger/courier-hello-msg.json

A quick text comes from a demo customer (``--contact``, ``--name``) to the demo tenant's channel. A
file is re-addressed to the demo tenant's account first (the business side of the payload: Meta's
``entry[].id`` and the page's side of ``sender``/``recipient``, WhatsApp's ``phone_number_id``, Twilio's
``To`` (``From`` in a status callback) and ``AccountSid``), so that it lands in the demo inbox;
``--as-is`` sends it byte for byte instead. Either way it is signed over exactly the bytes sent, as
each provider signs. A Twilio file may be the form Twilio posts or a JSON object of its fields
(posted as the form). Telegram updates never name the bot: they go to the demo bot's ``?bot=`` URL.
After posting, it says where the events went (the demo inbox, or quarantine and how to replay).
``--dry-run`` prints the body instead of sending it. Reads the running stack's URLs and secrets
from ``.local/stack.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

from infra.local import demo, payloads
from infra.local.dev import STATE_FILE
from infra.local.processes import REPO

# What `make simulate CHANNEL=...` accepts: the channel kinds, and WhatsApp through Twilio.
CHANNELS = ("messenger", "instagram", "whatsapp", "telegram", "twilio", "twilio-whatsapp")
CLI = ".venv/bin/python -m shared.cli --env-file {state}"
_ACCOUNT_WORDS = {
    "messenger": "page",
    "instagram": "account",
    "whatsapp": "number",
    "telegram": "bot",
    "twilio": "number",
}


class SigningError(Exception):
    """The simulator holds no secret to sign this request with, as the provider would."""


def meta_signature(body: bytes, app_secret: str) -> str:
    """The X-Hub-Signature-256 header Meta sends: sha256=<hex HMAC-SHA256(app secret, body)>."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def kind_of(channel: str) -> str:
    """The webhook (channel kind) a simulator channel posts to: twilio-whatsapp is Twilio's."""
    return "twilio" if channel.startswith("twilio") else channel


def demo_channel(channel: str) -> demo.DemoChannel:
    """The demo tenant's channel for a simulator channel (``twilio`` is the SMS number)."""
    wanted = {"twilio": "twilio-sms", "twilio-whatsapp": "twilio-whatsapp"}.get(channel)
    return next(
        c for c in demo.DEMO_CHANNELS if (c.channel_id == wanted if wanted else c.kind == kind_of(channel))
    )


def text_payload(kind: str, text: str, contact: str, name: str) -> dict[str, Any]:
    """A documented webhook body carrying one text message to the demo tenant's ``kind`` channel
    (``kind`` may also be ``twilio-whatsapp``)."""
    account = demo_channel(kind).external_id
    now_ms = int(time.time() * 1000)
    if kind in ("messenger", "instagram"):
        return payloads.messenger_text(
            account, contact, text, kind="page" if kind == "messenger" else "instagram"
        )
    if kind == "whatsapp":
        return payloads.whatsapp_text(account, contact, text, name=name)
    if kind == "telegram":
        chat = int(contact) if contact.lstrip("-").isdigit() else 5550123
        first_name = (name.split(maxsplit=1) or ["Customer"])[0]
        return {
            "update_id": now_ms % 2_000_000_000,
            "message": {
                "message_id": now_ms % 1_000_000,
                "date": now_ms // 1000,
                "text": text,
                "chat": {"id": chat, "type": "private", "first_name": first_name},
                "from": {"id": chat, "is_bot": False, "first_name": first_name, "username": "ada_customer"},
            },
        }
    if kind in ("twilio", "twilio-whatsapp"):
        number = contact.removeprefix("whatsapp:").lstrip("+")
        form = {
            "MessageSid": f"SM{uuid.uuid4().hex}",
            "AccountSid": demo.TWILIO_SID,
            "From": f"+{number}",
            "To": account,
            "Body": text,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        if kind == "twilio-whatsapp":
            # WhatsApp through Twilio: both addresses carry the channel prefix, and the profile name.
            form.update({"From": f"whatsapp:+{number}", "ProfileName": name, "WaId": number})
        return form
    raise SystemExit(f"no quick-text payload for {kind}")


# --- re-addressing a payload file to the demo tenant ------------------------------------------------


def readdress(channel: str, body: bytes) -> tuple[bytes, list[str]]:
    """``body`` addressed to the demo tenant's account of ``channel``, and what was changed (one
    line per account). Only the business side moves; the customer, ids and content stay. A body
    that cannot be read is returned unchanged (the webhook will say what it makes of it)."""
    kind = kind_of(channel)
    if kind == "twilio":
        return _readdress_twilio(channel, body)
    if kind == "telegram":
        return body, []  # the update never names the bot: the URL's ?bot= does
    try:
        data = json.loads(body)
    except ValueError:
        return body, []
    if not isinstance(data, dict) or not isinstance(data.get("entry"), list):
        return body, []
    account = demo_channel(channel).external_id
    moved: dict[str, str] = {}
    for entry in data["entry"]:
        if not isinstance(entry, dict):
            continue
        if kind == "whatsapp":
            _readdress_whatsapp_entry(entry, account, moved)
        else:
            _readdress_meta_entry(entry, account, moved)
    if not moved:
        return body, []
    word = _ACCOUNT_WORDS[kind]
    notes = [f"re-addressed {word} {old} -> demo {word} {new}" for old, new in moved.items()]
    return json.dumps(data, ensure_ascii=False).encode(), notes


def _readdress_meta_entry(entry: dict[str, Any], account: str, moved: dict[str, str]) -> None:
    """Messenger / Instagram: ``entry.id`` is the page (or Instagram account); in its elements the
    page is the recipient of what customers send and the sender of echoes."""
    old = entry.get("id")
    if old is not None and str(old) != account:
        entry["id"] = account
        moved[str(old)] = account
    for key, value in entry.items():
        elements = value if isinstance(value, list) else [value] if key in ("messaging", "standby") else []
        for element in elements:
            if not isinstance(element, dict):
                continue
            message = element.get("message")
            echo = isinstance(message, dict) and message.get("is_echo") is True
            for role in ("sender", "recipient"):
                party = element.get(role)
                if not isinstance(party, dict) or party.get("id") is None:
                    continue
                party_id = str(party["id"])
                business = (
                    party_id == str(old) if old is not None else role == ("sender" if echo else "recipient")
                )
                if business and party_id != account:
                    party["id"] = account
                    moved[party_id] = account


def _readdress_whatsapp_entry(entry: dict[str, Any], account: str, moved: dict[str, str]) -> None:
    """WhatsApp: each change's ``value.metadata.phone_number_id`` is the business number."""
    for change in entry.get("changes") or ():
        value = change.get("value") if isinstance(change, dict) else None
        metadata = value.get("metadata") if isinstance(value, dict) else None
        if not isinstance(metadata, dict) or metadata.get("phone_number_id") is None:
            continue
        old = str(metadata["phone_number_id"])
        if old != account:
            metadata["phone_number_id"] = account
            moved[old] = account


def _is_status_callback(params: dict[str, str]) -> bool:
    status = params.get("MessageStatus") or params.get("SmsStatus")
    return status is not None and status.lower() not in ("received", "receiving")


def _readdress_twilio(channel: str, body: bytes) -> tuple[bytes, list[str]]:
    """Twilio: our number is ``To`` of an inbound message and ``From`` of a status callback; the
    ``AccountSid`` must be the account that owns it (it picks the auth token that signs)."""
    from shared.cli import twilio_form_body

    pairs = parse_qsl(twilio_form_body(body).decode("utf-8", errors="replace"), keep_blank_values=True)
    params = dict(pairs)
    ours = "From" if _is_status_callback(params) else "To"
    current = params.get(ours)
    if channel == "twilio" and current and current.startswith("whatsapp:"):
        channel = "twilio-whatsapp"  # a WhatsApp payload goes to the demo WhatsApp-through-Twilio sender
    target = demo_channel(channel)
    changes = {}
    if current is not None and current != target.external_id:
        changes[ours] = target.external_id
    if params.get("AccountSid") != target.account_sid:
        changes["AccountSid"] = str(target.account_sid)
    if not changes:
        return body, []
    notes = []
    if ours in changes:
        notes.append(f"re-addressed number {current} -> demo number {target.external_id}")
    if "AccountSid" in changes:
        notes.append(
            f"re-addressed Twilio account {params.get('AccountSid')} -> demo account {target.account_sid}"
        )
    rewritten = [(key, changes.get(key, value)) for key, value in pairs]
    if "AccountSid" not in params:
        rewritten.append(("AccountSid", changes["AccountSid"]))
    return urlencode(rewritten).encode(), notes


# --- signing and sending --------------------------------------------------------------------------


def _local_secrets(env: dict[str, str]) -> dict[str, str]:
    secrets = json.loads(env.get("SWITCHBOARD_LOCAL_SECRETS") or "{}")
    if not secrets and env.get("SWITCHBOARD_LOCAL_SECRETS_FILE"):
        secrets = json.loads(Path(env["SWITCHBOARD_LOCAL_SECRETS_FILE"]).read_text())
    return secrets


def signed_request(
    kind: str, url: str, body: bytes | dict[str, str], env: dict[str, str], *, bot: str | None = None
) -> tuple[str, bytes, dict]:
    """The URL, bytes and headers a provider would send: each provider signs in its own way.

    Meta: X-Hub-Signature-256 over the body. Telegram: the bot's secret token header (derived from
    the master secret) and ``?bot=`` in the URL (the demo bot unless ``bot``). Twilio: X-Twilio-Signature
    over the URL and the form parameters, with the auth token of the form's AccountSid; a form given
    as bytes is sent byte for byte (a JSON object of its fields is encoded as the form)."""
    if kind == "telegram":
        from shared.channels.telegram import telegram_secret_token, webhook_url

        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        bot = bot or demo_channel("telegram").external_id
        headers = {
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": telegram_secret_token(env["TELEGRAM_WEBHOOK_SECRET"], bot),
        }
        return webhook_url(url, bot), raw, headers
    if kind in ("twilio", "twilio-whatsapp"):
        from shared.channels.twilio import compute_signature
        from shared.cli import twilio_form_body

        raw = twilio_form_body(body) if isinstance(body, bytes) else urlencode(body).encode()
        pairs = parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
        # Twilio signs the full URL it calls: the webhook sees "/" even when the URL has no path.
        url = url if urlsplit(url).path else f"{url}/"
        account_sid = dict(pairs).get("AccountSid", "")
        token = _local_secrets(env).get(f"twilio-auth-token-{account_sid}")
        if token is None:
            raise SigningError(f"no local auth token for the Twilio account {account_sid or '(none)'}")
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": compute_signature(token, url, pairs),
        }
        return url, raw, headers
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


# --- what happened --------------------------------------------------------------------------------


def explain(
    kind: str, url: str, raw: bytes, env: dict[str, str], as_is: bool, state: Path = STATE_FILE
) -> list[str]:
    """What the stack does with ``raw`` once the webhook accepted it: the same normalization the
    webhook ran, then each event's route as ingest will look it up. Lines for the user."""
    from shared import channels
    from shared.inbound import normalize

    result = normalize(channels.adapter(kind), raw, url)
    shown = state.resolve()
    cli = CLI.format(state=shown.relative_to(REPO) if shown.is_relative_to(REPO) else shown)
    lines = []
    if result.quarantined:
        reasons = ", ".join(sorted({item.reason for item in result.quarantined}))
        lines.append(
            f"{len(result.quarantined)} item(s) could not be parsed and were quarantined ({reasons}): "
            f"see `{cli} quarantine list`"
        )
    if not result.events:
        if not result.quarantined:
            lines.append("the body holds nothing to store (no message, receipt or notice)")
        return lines
    try:
        routes = _routes({event.route_key for event in result.events}, env)
    except Exception as exc:  # noqa: BLE001 - the emulator is away: the post itself went through
        lines.append(f"could not look up the routes ({type(exc).__name__}); see `{cli} quarantine list`")
        return lines
    for route_key in sorted(routes):
        events = [event for event in result.events if event.route_key == route_key]
        route = routes[route_key]
        if route is None:
            lines.append(
                f"no tenant owns {route_key}: ingest quarantines its {len(events)} event(s) as "
                f"unknown_route. List them with `{cli} quarantine list`; connect the account "
                f"(`connect-channel`) and run `{cli} replay-quarantine`"
                + (
                    "; or send the file again without --as-is to re-address it to the demo tenant"
                    if as_is
                    else ""
                )
            )
        elif any(event.signer != route.signer for event in events):
            lines.append(
                f"{route_key} belongs to tenant '{route.tenant_id}' but another account signed it: ingest "
                f"quarantines it as foreign_signer (see `{cli} quarantine list`)"
            )
        else:
            logins = [login.email for login in demo.DEMO_AGENTS if login.tenant_id == route.tenant_id]
            where = f" (sign in as {logins[0]})" if logins else ""
            lines.append(
                f"{len(events)} event(s) for tenant '{route.tenant_id}', channel '{route.channel_id}': "
                f"in its inbox in a moment{where}"
            )
    return lines


def _routes(route_keys: set[str], env: dict[str, str]) -> dict[str, Any]:
    """Each route key's route (None when no tenant owns it), read from the stack's Firestore."""
    os.environ.update(env)
    from shared import config, store

    config.reset()
    store.reset()
    return {key: store.resolve_route(key) for key in route_keys}


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 - the command line, option by option
    """Command-line entry point."""
    from shared.cli import twilio_form_body
    from shared.errors import BadInput

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("channel", choices=CHANNELS)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--file", type=Path, help="a webhook body, re-addressed to the demo tenant")
    group.add_argument("--text", help="a quick text message from a demo customer")
    parser.add_argument(
        "--as-is", action="store_true", help="--file: send it byte for byte, to whatever account it names"
    )
    parser.add_argument("--contact", default="15550123456", help="the customer's id on the channel")
    parser.add_argument(
        "--name",
        default="Ada Customer",
        help="the customer's profile name (WhatsApp, Telegram, Twilio WhatsApp)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the body that would be sent; send nothing"
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=Path(os.environ.get("SWITCHBOARD_STATE_FILE") or STATE_FILE),
        help="the running stack's state file (.local/stack.json, or $SWITCHBOARD_STATE_FILE)",
    )
    args = parser.parse_args(argv)
    kind = kind_of(args.channel)
    state = json.loads(args.state.read_text()) if args.state.exists() else None
    if state is None and not args.dry_run:
        print("the local stack is not running: start it with `make dev`", file=sys.stderr)
        return 2
    body: bytes
    if args.file:
        try:
            body = args.file.read_bytes()
        except OSError as exc:
            print(f"cannot read {args.file}: {exc.strerror}", file=sys.stderr)
            return 2
        try:
            if kind == "twilio":
                body = twilio_form_body(body)  # Twilio posts a form: a JSON object of its fields becomes one
            if not args.as_is:
                body, notes = readdress(args.channel, body)
                if notes:
                    print("; ".join(notes) + "; pass --as-is to send it unchanged", file=sys.stderr)
        except BadInput as exc:
            print(f"{args.file}: {exc}", file=sys.stderr)
            return 2
        if kind == "telegram":
            bot = demo_channel("telegram").external_id
            print(
                f"Telegram updates do not name the bot: posting to the demo bot's webhook (?bot={bot})",
                file=sys.stderr,
            )
    elif kind == "twilio":
        body = urlencode(text_payload(args.channel, args.text, args.contact, args.name)).encode()
    else:
        body = json.dumps(text_payload(args.channel, args.text, args.contact, args.name)).encode()
    if state is None:  # --dry-run without a stack: the body, unsigned
        print("(the local stack is not running: the body is not signed)", file=sys.stderr)
        print(body.decode("utf-8", errors="replace"))
        return 0
    try:
        url, raw, headers = signed_request(kind, state["webhooks"][kind], body, state["env"])
    except SigningError as exc:
        print(
            f"cannot sign it as the provider would: {exc}; drop --as-is to send it as the demo account",
            file=sys.stderr,
        )
        return 2
    if args.dry_run:
        print(f"POST {url}", file=sys.stderr)
        for name, value in headers.items():
            print(f"{name}: {value}", file=sys.stderr)
        print(raw.decode("utf-8", errors="replace"))
        return 0
    response = requests.post(url, data=raw, headers=headers, timeout=20)
    print(f"{response.status_code} {response.text}")
    if not response.ok:
        return 1
    for line in explain(kind, url, raw, state["env"], args.as_is, args.state):
        print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
