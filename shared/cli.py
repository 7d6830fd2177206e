"""Switchboard's command line, the operator's tools: ``python -m shared.cli COMMAND``.

    parse CHANNEL FILE... [--url URL] [--bot ID]
                                   print the normalized events of each webhook body as JSON lines;
                                   what would be quarantined goes to stderr. Needs no cloud at all.
                                   --url: the webhook URL the body arrived at; --bot (telegram): the
                                   bot the body was for (the ?bot= of its webhook URL). twilio takes
                                   a form body or a JSON object of the form's fields.
    create-tenant TENANT --name NAME [--plan free|pro]
    connect-channel TENANT CHANNEL --kind KIND --external-id ID --name NAME --token-stdin
                                   test the token with the provider (a read of the account), store it
                                   in Secret Manager, write the channel and its route, and subscribe
                                   our app to the provider (Meta Page, Telegram bot)
    rotate-channel-token TENANT CHANNEL --token-stdin
                                   test a new token with the provider, then store it
    disconnect-channel TENANT CHANNEL
                                   delete the channel's route and token (the channel stays, marked
                                   disconnected; connect-channel connects it again)
    bind-route-signers [--dry-run] bind every Twilio route to the account that owns its number (once,
                                   after upgrading: events signed by another account are refused)
    rotate-secret NAME --value-stdin
    invite-agent --tenant T --email E --name N [--role owner|admin|agent|developer] [--password-stdin]
                                   e-mail an invitation link (the team page's invitation; the link
                                   is printed too), or with --password-stdin create the sign-in now
    set-role --tenant T (--uid U | --email E) --role owner|admin|agent|developer
    deactivate --tenant T (--uid U | --email E)
                                   refuse their sessions at once, return their open conversations
                                   to the queue; reactivate undoes it (the same code as the team page)
    reactivate --tenant T (--uid U | --email E)
    audit export --tenant T [--since ISO]
                                   the tenant's audit log, oldest first, as JSON lines
    migrate-app-users [--dry-run]  delete chat apps' user accounts from before accounts were per app
                                   (uid = the user id, not <appId>:<userId>); their data stays
    dead-letters list [--max N]    inbound events Pub/Sub gave up on (left in place)
    dead-letters replay [--max N] [--dry-run]
                                   publish them to the inbound topic again, then acknowledge them
    dead-letters discard --event-id ID... --reason WHY
                                   acknowledge them without publishing (gone for good; audited)
    quarantine list [--all]        items kept raw because they could not be parsed or routed
    quarantine discard ID --reason WHY
                                   set one item aside for good (never replayed; audited)
    replay-quarantine [--dry-run]  run quarantined items through the current parser and publish what
                                   now parses (and unknown-route events whose channel is now connected)
    channel-health [--tenant T] [--json]
    media sweep-uploads [--older-than 1d] [--dry-run]
                                   delete uploads older than that (30s, 15m, 12h, 1d): the ones never
                                   sent, since sending copies a file to its message; production's
                                   bucket lifecycle rule does this daily (infra/storage.tf)
    backfill-inbox --tenant T [--dry-run]
                                   give support conversations from before the team inbox the
                                   ``assigned`` field (0/1) its "unassigned" filter queries
    search --tenant T "WORDS" [--channel C] [--status S] [--label L] [--assignee A] [--direction D]
           [--from ISO] [--to ISO] [--max N]
                                   messages matching the words, newest first (then matching contacts
                                   on stderr); the same code as agent_api's ``search``
    timeline --tenant T [--from ISO] [--to ISO] [--order newest|oldest] [--type T]... [--channel C]...
             [--direction D]... [--max N]
                                   all of the tenant's messages by time, across conversations
    backfill-search --tenant T [--dry-run]
                                   add the search fields to messages and contacts stored before search
    export --tenant T --from ISO --to ISO [--format jsonl|csv] [--query WORDS] [--out FILE]
                                   the tenant's messages of that range (or matching the words) as a
                                   file: the same job as the console's export, run here; written to
                                   FILE (or stdout), and kept a day in the bucket
    contact-export --tenant T --contact ID [--out FILE]
                                   everything about one contact (JSON Lines), recorded in the audit log
    contact-erase --tenant T --contact ID --yes
                                   erase a contact: messages, notes, media, identity, search entries
    retention --tenant T [--dry-run]
                                   delete messages and media older than the tenant's retentionDays
                                   (--dry-run: count them); the daily job does the same
    rebuild-reports --tenant T [--from YYYY-MM-DD] [--to YYYY-MM-DD]
                                   count the reports again from the messages (the same code as the
                                   incremental fold; messages without reportAt too, by sentAt) and
                                   replace the days of the range (all without); folds wait meanwhile

Data goes to stdout (JSON lines, or a table for channel-health), summaries and errors to stderr; bad
input exits 2, a failed operation 1. Secrets (tokens, passwords) are read from stdin, never from the
command line, which would keep them in the shell's history.

Against the local stack, add ``--env-file .local/stack.json`` (written by ``make dev``); in production
set GOOGLE_CLOUD_PROJECT (and SWITCHBOARD_PUBLIC_BASE_URL for Telegram) and use application-default
credentials (``gcloud auth application-default login``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared import channel_setup, channels
from shared.channels.base import ChannelAdapter
from shared.errors import BadInput, OperatorError, ParseError, Refused, SwitchboardError
from shared.inbound import Normalized, normalize

if TYPE_CHECKING:  # pragma: no cover
    from shared.auth import Caller

PLANS = ("free", "pro")
# Tenant and channel ids become Firestore document ids and part of the secret id
# channel-token-<tenant>-<channel> (Secret Manager: letters, digits, '-', '_', <= 255 characters).
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 6  # Firebase Auth refuses shorter passwords

STALE_AFTER = timedelta(hours=24)
FAILING_WITHIN = timedelta(hours=1)
TOKEN_ERROR_KINDS = ("token_expired", "permission")


# --- plumbing --------------------------------------------------------------------------------------


def load_env_file(path: Path) -> None:
    """Export the ``env`` map of a stack state file (``.local/stack.json``) into this process."""
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BadInput(f"cannot read the env file {path}: {exc}") from exc
    os.environ.update(state["env"])
    from shared import auth, bus, config, secrets, store

    config.reset()
    bus.reset()
    store.reset()
    secrets.forget()
    auth.reset()


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def emit(record: dict[str, Any]) -> None:
    """One JSON line of data on stdout."""
    print(json.dumps(record, default=_json_value), flush=True)


def say(text: str) -> None:
    """A human-readable line on stderr."""
    print(text, file=sys.stderr, flush=True)


def read_secret(what: str, flag: str) -> str:
    """A secret from stdin (a pipe, or typed without echo at a terminal), surrounding whitespace
    removed; refuse an empty one."""
    stream = sys.stdin
    if stream is None:
        raise BadInput(f"{flag}: no stdin to read the {what} from")
    value = getpass.getpass(f"{what}: ") if stream.isatty() else stream.read()
    value = value.strip()
    if not value:
        raise BadInput(f"{flag}: the {what} read from stdin is empty (pipe it in: ... | {flag})")
    return value


def check_id(value: str, what: str) -> str:
    """Return a tenant or channel id, or raise BadInput."""
    if not ID_PATTERN.match(value):
        raise BadInput(
            f"invalid {what} {value!r}: 1-100 letters, digits, '-' or '_', starting with a letter or digit"
        )
    return value


def parse_time(value: str) -> datetime:
    """An ISO 8601 moment (``2025-01-31`` or ``2025-01-31T12:00:00+01:00``); naive means UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def _require_tenant(tenant_id: str) -> dict[str, Any]:
    from shared import store

    check_id(tenant_id, "tenant id")
    tenant = store.get_tenant(tenant_id)
    if tenant is None:
        raise OperatorError(f"tenant {tenant_id} does not exist (create it with create-tenant)")
    return tenant


# --- parse and quarantine ---------------------------------------------------------------------------


# The webhook URL `parse --bot` builds on when no --url is given: only its ?bot= matters offline.
PARSE_BASE_URL = "https://webhook.invalid/webhook-{channel}"


def parse_url(channel: str, url: str | None, bot: str | None) -> str | None:
    """The webhook URL a body is parsed as having arrived at: ``url`` as given, or, for a channel
    whose webhook URL names the account (Telegram's ``?bot=``), ``url`` (or a placeholder) naming
    ``bot`` exactly as ``connect-channel`` registers it."""
    if bot is None:
        return url
    adapter = channels.adapter(channel)
    if not adapter.url_names_account:
        named = [kind for kind in channels.kinds() if channels.adapter(kind).url_names_account]
        raise BadInput(
            f"--bot names the account in the webhook URL: it is for `parse {'|'.join(named)}` only "
            "(use --url)"
        )
    return adapter.webhook_url(url or PARSE_BASE_URL.format(channel=channel), check_id(bot, "bot id"))


def twilio_form_body(raw: bytes) -> bytes:
    """The Twilio adapter's :meth:`~shared.channels.base.ChannelAdapter.posted_body`, refusals as
    BadInput: kept for infra/local/simulate.py, which imports it from here."""
    from shared.channels.twilio import form_body

    try:
        return form_body(raw)
    except ParseError as exc:
        raise BadInput(str(exc)) from None


def cmd_parse(channel: str, files: list[Path], url: str | None = None, bot: str | None = None) -> int:
    """Print each file's events to stdout (JSON lines) and quarantine records to stderr, each body
    parsed as the webhook function would parse it when it arrived at ``url`` (see :func:`parse_url`);
    a file is first made the body the provider posts (a JSON object of Twilio's form fields becomes
    the form)."""
    adapter = channels.adapter(channel)
    webhook = parse_url(channel, url, bot)
    for path in files:
        try:
            body = adapter.posted_body(path.read_bytes())
        except ParseError as exc:
            raise BadInput(f"{path}: {exc}") from None
        result = normalize(adapter, body, webhook)
        for event in result.events:
            print(event.model_dump_json())
        for item in result.quarantined:
            print(
                json.dumps({"file": str(path), "quarantined": item.reason, "error": item.error}),
                file=sys.stderr,
            )
    return 0


def replay_one(reason: str, channel: str, raw: object, url: str | None = None) -> tuple[str, Normalized]:
    """Re-run one quarantined item (:func:`shared.operations.quarantine.replay_one`)."""
    from shared.operations import quarantine

    return quarantine.replay_one(reason, channel, raw, url)


def cmd_replay_quarantine(dry_run: bool) -> int:
    """Replay every unreplayed quarantined item that now succeeds (the operations page's "replay all
    that now parse" runs the same code for one tenant's items)."""
    from shared.operations import quarantine

    counts: dict[str, int] = {}
    for row in quarantine.replay(operator(), dry_run=dry_run):
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
        print(json.dumps(row))
    print(json.dumps({"summary": counts}), file=sys.stderr)
    return 0


def cmd_quarantine_discard(quarantine_id: str, reason: str) -> int:
    """Set one quarantined item aside for good, with the reason (never replayed)."""
    from shared.operations import quarantine

    if not reason.strip():
        raise BadInput("--reason must say why the item is discarded")
    if quarantine.discard(operator(), quarantine_id, reason.strip()):
        emit({"id": quarantine_id, "outcome": "discarded"})
        return 0
    say(f"{quarantine_id} was replayed or discarded already")
    return 1


def operator() -> Caller:
    """Who the CLI's actions are recorded as in a tenant's audit log: the operator at this shell."""
    from shared.auth import Caller

    user = os.environ.get("USER") or getpass.getuser()
    return Caller(uid=f"cli:{user}", tenant_id="", role="operator", name=f"operator CLI ({user})")


def cmd_quarantine_list(include_replayed: bool, limit: int) -> int:
    """Print quarantined items (never their raw payload): id, reason, channel, error, received time."""
    from shared import store

    rows = store.quarantine_summaries(include_replayed=include_replayed, limit=limit)
    for row in rows:
        emit({**row, "error": str(row.get("error") or "")[:300]})
    pending = sum(1 for row in rows if not row["replayed"])
    say(
        f"{len(rows)} quarantined item(s), {pending} not replayed yet"
        + ("" if include_replayed else " (add --all for replayed ones)")
        + "; replay with: replay-quarantine"
    )
    return 0


# --- tenants, channels, agents, secrets ----------------------------------------------------------------


def cmd_create_tenant(tenant_id: str, name: str, plan: str) -> int:
    """Create a tenant; refuse to touch an existing one."""
    from shared import store

    check_id(tenant_id, "tenant id")
    if not name.strip():
        raise BadInput("--name must not be empty")
    created = store.create_tenant(
        tenant_id, {"name": name.strip(), "plan": plan, "kind": "support", "createdAt": _now()}
    )
    if not created:
        raise OperatorError(f"tenant {tenant_id} already exists; nothing was changed")
    emit({"tenant": tenant_id, "name": name.strip(), "plan": plan, "created": True})
    say(f"tenant {tenant_id} created; connect its channels with connect-channel")
    return 0


# One implementation per action, shared with the admin console's channels page.
ChannelRequest = channel_setup.ChannelRequest


def _cli_refusal(exc: Refused) -> OperatorError:
    """A refusal of channel_setup as the CLI reports it: the request's fault exits 2, the rest 1."""
    if exc.code == "invalid_channel_request":
        return BadInput(str(exc))
    return OperatorError(str(exc))


def channel_adapter(kind: str) -> ChannelAdapter:
    """The registered adapter of ``kind``, else OperatorError (a build without that provider's
    adapter cannot connect its channels, and must not pretend to)."""
    try:
        return channel_setup.adapter_for(kind)
    except Refused as exc:
        raise OperatorError(str(exc)) from None


def _check_channel_request(request: ChannelRequest, adapter: ChannelAdapter) -> None:
    try:
        channel_setup.check_request(request, adapter)
    except Refused as exc:
        raise BadInput(str(exc)) from None


def _check_token(adapter: ChannelAdapter, external_id: str, token: str) -> None:
    try:
        adapter.check_token(external_id, token)
    except Refused as exc:
        raise BadInput(str(exc)) from None


def cmd_connect_channel(request: ChannelRequest) -> int:
    """Test the token with the provider, store it, write the channel and its route, and connect the
    provider to our webhooks (shared/channel_setup.py, as the channels page does)."""
    try:
        _require_tenant(request.tenant_id)
        channel_setup.check_request(request, channel_setup.adapter_for(request.kind))
        token = read_secret("token", "--token-stdin")
        done = channel_setup.connect(request, token)
    except Refused as exc:
        raise _cli_refusal(exc) from None
    if done["movedFrom"]:
        say(f"moved {done['route']} from {done['movedFrom']}")
    emit(
        {
            k: done[k]
            for k in (
                "tenant",
                "channel",
                "kind",
                "externalId",
                "route",
                "secret",
                "secretVersion",
                "subscription",
            )
        }
    )
    say(
        f"channel {request.channel_id} connected: "
        f"webhooks for {done['route']} now reach tenant {request.tenant_id}"
    )
    if done["note"]:
        say(done["note"])
    return 0


def cmd_rotate_channel_token(tenant_id: str, channel_id: str, expires_at: datetime | None) -> int:
    """Store a new token for an existing channel (and wherever else its provider keeps it), once the
    provider accepted it."""
    try:
        _require_tenant(tenant_id)
        check_id(channel_id, "channel id")
        token = read_secret("token", "--token-stdin")
        done = channel_setup.rotate(tenant_id, channel_id, token, expires_at)
    except Refused as exc:
        raise _cli_refusal(exc) from None
    emit({k: done[k] for k in ("tenant", "channel", "secret", "secretVersion")})
    say(_rotation_note(done["secret"]))
    if done["siblings"]:
        say(
            f"the token is also {done['sharedSecret']}, which belongs to the channel's provider account: "
            f"rotate the token of its other channels too ({', '.join(done['siblings'])})"
        )
    return 0


def cmd_disconnect_channel(tenant_id: str, channel_id: str) -> int:
    """Delete a channel's route and token; the channel document stays, marked disconnected."""
    try:
        done = channel_setup.disconnect(tenant_id, channel_id)
    except Refused as exc:
        raise _cli_refusal(exc) from None
    emit(done)
    say(
        f"channel {channel_id} disconnected: webhooks for {done['route']} are no longer routed "
        "(they are quarantined as unknown_route); connect-channel connects it again"
    )
    if done["providerNote"]:
        say(done["providerNote"])
    return 0


def cmd_bind_route_signers(dry_run: bool) -> int:
    """Record on each route the provider account that must sign its webhooks (the channel's
    ``accountSid``), for routes connected before ingest checked it. Idempotent."""
    from shared import store

    bound = 0
    for tenant_id, channel_id, data in store.list_channels():
        account_sid, kind, external_id = data.get("accountSid"), data.get("kind"), data.get("externalId")
        if not account_sid or not kind or not external_id:
            continue
        route_key = f"{kind}:{external_id}"
        route = store.resolve_route(route_key)
        if route is None or (route.tenant_id, route.channel_id) != (tenant_id, channel_id):
            continue  # the route belongs to another channel now (moved with --force)
        if route.signer == account_sid:
            continue
        emit({"route": route_key, "tenant": tenant_id, "channel": channel_id, "signer": account_sid})
        if not dry_run:
            store.bind_route_signer(route_key, str(account_sid))
        bound += 1
    say(f"{bound} route(s) {'would be ' if dry_run else ''}bound to their signing account")
    return 0


def mounted_secret_names() -> dict[str, str]:
    """Secret id -> environment variable, for the secrets Cloud Functions mounts as environment
    variables (``local.app_secrets`` in infra/main.tf names them after the variable: META_APP_SECRET
    is meta-app-secret)."""
    from shared import config

    return {v.name.lower().replace("_", "-"): v.name for v in config.ENVIRONMENT if v.secret}


def _rotation_note(name: str) -> str:
    """When the new value takes effect, for the operator."""
    from shared import secrets
    from shared.config import settings

    minutes = int(secrets.CACHE_SECONDS // 60)
    mounted = mounted_secret_names()
    if name in mounted:
        note = (
            f"new version of {name} added. Functions read it as ${mounted[name]} when an instance "
            "starts: running instances keep the old value until they are replaced; deploy a new "
            "revision of the functions to switch at once"
        )
    else:
        note = (
            f"new version of {name} added. Functions cache secrets for {minutes} minutes: running "
            f"functions use the new value within {minutes} minutes; keep the old one valid until then"
        )
    if settings().local_secrets_file:
        note += (
            f". Locally it went to {settings().local_secrets_file}, which running functions read again "
            "as soon as it changes"
        )
        if name in mounted:
            note += f" (but the local stack sets ${mounted[name]} in their environment)"
    return note


def cmd_rotate_secret(name: str) -> int:
    """Add a new version of any secret (the Meta app secret, a channel token...)."""
    from shared import secrets

    try:
        secrets.check_name(name)
    except secrets.InvalidSecretName as exc:
        raise BadInput(str(exc)) from exc
    value = read_secret("value", "--value-stdin")
    version = secrets.add_secret_version(name, value)
    emit({"secret": name, "secretVersion": version})
    say(_rotation_note(name))
    return 0


def _team_operator(tenant_id: str) -> Any:
    """The operator as the team's actions see them: an owner (the CLI bootstraps a workspace's first
    owner), recorded in the audit log as ``operator-cli``."""
    from shared.auth import Caller

    return Caller(uid="operator-cli", tenant_id=tenant_id, role="owner", name="operator (CLI)")


def cmd_invite_agent(tenant_id: str, email: str, name: str, role: str, with_password: bool) -> int:
    """Invite someone: an e-mailed link (print the invitation), or with a password read from stdin
    their sign-in at once (print the uid). The same code as the team page's invitation."""
    from shared import team

    _require_tenant(tenant_id)
    if not EMAIL_PATTERN.match(email):
        raise BadInput(f"not an email address: {email!r}")
    if not name.strip():
        raise BadInput("--name must not be empty")
    operator = _team_operator(tenant_id)
    if not with_password:
        invitation = team.invite(operator, email, name, role)
        emit({**invitation, "tenant": tenant_id})
        say(f"invitation e-mailed to {invitation['email']}; it expires in {team.INVITATION_DAYS} days")
        return 0
    password = read_secret("password", "--password-stdin")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadInput(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    added = team.add_member(operator, email, name, role, password)
    emit({"uid": added["uid"], "tenant": tenant_id, "email": email, "role": role})
    say(f"{role} {email} can sign in to tenant {tenant_id}'s dashboard with that password")
    return 0


def _member_uid(tenant_id: str, uid: str | None, email: str | None) -> str:
    from shared import store

    if uid:
        return uid
    wanted = (email or "").strip().lower()
    for member_uid, agent in store.list_agents(tenant_id):
        if (agent.get("email") or "").lower() == wanted:
            return member_uid
    raise OperatorError(f"no member of {tenant_id} has the address {email}")


def cmd_team_change(
    command: str, tenant_id: str, uid: str | None, email: str | None, role: str | None
) -> int:
    """set-role, deactivate, reactivate: the team page's actions, as the operator."""
    from shared import team

    _require_tenant(tenant_id)
    operator = _team_operator(tenant_id)
    member = _member_uid(tenant_id, uid, email)
    if command == "set-role":
        answer = team.set_role(operator, member, str(role))
    elif command == "deactivate":
        answer = team.deactivate(operator, member)
    else:
        answer = team.reactivate(operator, member)
    emit({**answer, "tenant": tenant_id})
    return 0


def cmd_audit_export(tenant_id: str, since: datetime | None) -> int:
    """Every audit entry of the tenant (since a moment), oldest first, as JSON lines."""
    from shared import store

    _require_tenant(tenant_id)
    count = 0
    for entry_id, entry in store.stream_audit_entries(tenant_id, _ms_of(since)):
        emit({"id": entry_id, **entry})
        count += 1
    say(f"{count} audit entr{'y' if count == 1 else 'ies'} of {tenant_id}")
    return 0


def legacy_app_user_reason(
    uid: str, claims: dict[str, Any], app_ids: set[str], app_user_ids: set[str]
) -> str | None:
    """Why a Firebase account is an app user's account from before accounts were per app (None:
    it is not one). Namespaced accounts (``<appId>:...`` of an app) and staff (role agent/admin)
    never are; an account is when its claims say role "user", or when, holding no tenant claims,
    its uid is a user id of an app (the chat API's ``token`` minted it: no claims are stored on
    such an account, they rode in the custom token)."""
    prefix, separator, _ = uid.partition(":")
    if separator and prefix in app_ids:
        return None
    if claims.get("role") in ("owner", "admin", "agent", "developer"):
        return None
    if claims.get("role") == "user":
        return "role-user-claims"
    if not claims.get("tenantId") and uid in app_user_ids:
        return "app-user-id"
    return None


def cmd_migrate_app_users(dry_run: bool) -> int:
    """Delete the Firebase accounts of chat apps' users made before accounts were per app (uid = the
    user id, shared by every app): see legacy_app_user_reason. Their Firestore data (profiles,
    memberships, posts) is keyed by the user id and stays; the app's next POST /v1/token for the user
    mints the per-app account ``<appId>:<userId>``. Deleting an account ends its refresh tokens; its
    last ID tokens lack the ``userId`` claim the rules and the chat API now require. Idempotent."""
    from firebase_admin import auth as firebase_auth

    from shared import auth, store

    app_ids = set(store.app_tenant_ids())
    accounts = [
        (user.uid, dict(user.custom_claims or {}), [p.provider_id for p in user.provider_data])
        for user in firebase_auth.list_users(app=auth.app()).iterate_all()
    ]
    candidates = {uid for uid, _, _ in accounts if ":" not in uid or uid.partition(":")[0] not in app_ids}
    app_user_ids: set[str] = set()
    for app_id in sorted(app_ids):
        app_user_ids.update(user_id for user_id in store.app_user_ids(app_id) if user_id in candidates)
    doomed: list[str] = []
    for uid, claims, providers in accounts:
        reason = legacy_app_user_reason(uid, claims, app_ids, app_user_ids)
        if reason is None:
            continue
        emit({"uid": uid, "reason": reason, "tenant": claims.get("tenantId"), "providers": providers})
        doomed.append(uid)
    if not dry_run:
        for start in range(0, len(doomed), 1000):  # delete_users takes at most 1,000 uids
            result = firebase_auth.delete_users(doomed[start : start + 1000], app=auth.app())
            for failure in result.errors:
                say(f"error: could not delete {doomed[start + failure.index]}: {failure.reason}")
            if result.failure_count:
                return 1
    say(
        f"{len(doomed)} app user account(s) from before per-app accounts "
        f"{'would be ' if dry_run else ''}deleted; {len(accounts) - len(doomed)} kept"
    )
    return 0


def cmd_migrate_chat_layout(dry_run: bool) -> int:
    """Move every chat app's channels and members to the layout of issue 14: channels lose
    ``memberIds`` and get ``seq`` (from ``messageCount``); members lose their stored
    ``unreadCount`` and get ``lastReadSeq = seq - unreadCount``, ``userId``, ``tenantId`` and
    ``channelId`` (the collection-group query of one's channels). One line per channel changed.
    Idempotent: a second run writes nothing. Run it once the new code serves the apps."""
    from shared import store

    channels = members = 0
    for app_id in sorted(store.app_tenant_ids()):
        for channel_id in store.chat_channel_ids(app_id):
            done = store.migrate_chat_channel(app_id, channel_id, dry_run=dry_run)
            if done["channels"] or done["members"]:
                emit({"app": app_id, "channel": channel_id, **done})
            channels += done["channels"]
            members += done["members"]
    say(
        f"{channels} channel(s) and {members} member(s) {'would be ' if dry_run else ''}moved to the "
        "seq/lastReadSeq layout"
    )
    return 0


# --- dead letters (shared/operations/dead_letters.py) ------------------------------------------------


def cmd_dead_letters_list(limit: int, event_ids: set[str]) -> int:
    """Print dead letters and leave them in the subscription."""
    from shared.operations import dead_letters

    rows = dead_letters.listing(limit, dead_letters.selector(event_ids), dead_letters.record)
    for row in rows:
        emit(row)
    say(
        f"{len(rows)} dead letter(s) (left in place, none acknowledged); "
        "replay them with: dead-letters replay"
    )
    return 0


def cmd_dead_letters_replay(limit: int, event_ids: set[str], dry_run: bool) -> int:
    """Publish dead letters to the inbound topic again, acknowledging each batch once Pub/Sub
    confirmed it (a failure leaves the batch in place: replaying twice is harmless, ingest is
    idempotent)."""
    from shared.config import settings
    from shared.operations import dead_letters

    rows: list[dict[str, Any]] = []
    try:
        dead_letters.replay(
            operator(),
            limit,
            dead_letters.selector(event_ids),
            dry_run=dry_run,
            emit=lambda row: (rows.append(row), emit(row)),
        )
    except SwitchboardError as exc:
        raise OperatorError(f"replay stopped after {len(rows)} message(s): {exc}") from exc
    if dry_run:
        say(f"dry run: {len(rows)} dead letter(s) would be published to {settings().inbound_topic}")
    else:
        say(f"{len(rows)} dead letter(s) published to {settings().inbound_topic} and acknowledged")
    return 0


def cmd_dead_letters_discard(limit: int, event_ids: set[str], reason: str) -> int:
    """Acknowledge the named dead letters without publishing them, with the reason."""
    from shared.operations import dead_letters

    if not event_ids:
        raise BadInput("name the dead letters to discard with --event-id")
    if not reason.strip():
        raise BadInput("--reason must say why they are discarded")
    rows = dead_letters.discard(operator(), limit, dead_letters.selector(event_ids), reason.strip())
    for row in rows:
        emit(row)
    say(f"{len(rows)} dead letter(s) discarded")
    return 0


# --- channel health ------------------------------------------------------------------------------------


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = (now - moment).total_seconds()
    if seconds < 0:
        return "in " + _span(-seconds)
    return _span(seconds) + " ago"


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)}s"
    if seconds < 7200:
        return f"{int(seconds // 60)} min"
    if seconds < 172800:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def channel_verdict(channel: dict[str, Any], now: datetime) -> tuple[str, str]:
    """(verdict, why) of one channel document.

    - ``token expired``: its token's known expiry is past, or the provider refused the token
      (``lastError.kind == token_expired``) since it was last rotated;
    - ``failing``: the last error is less than an hour old (errors about the token that predate a
      rotation are ignored);
    - ``disconnected``: disconnected from the channels page or ``disconnect-channel``;
    - ``stale``: no webhook for 24 hours, counted from when it was last connected if none came since
      (a channel connected minutes ago is not stale);
    - ``healthy`` otherwise."""
    health = channel.get("health") or {}
    disconnected = _moment(channel.get("disconnectedAt"))
    if disconnected is not None:
        return "disconnected", f"disconnected {_ago(disconnected, now)}"
    error = health.get("lastError") if isinstance(health.get("lastError"), dict) else None
    error_at = _moment(error.get("at")) if error else None
    rotated = _moment(health.get("tokenRotatedAt"))
    expires = _moment(health.get("tokenExpiresAt"))
    if expires is not None and expires <= now:
        return "token expired", f"token expired {_ago(expires, now)}"
    superseded = (
        error is not None
        and error.get("kind") in TOKEN_ERROR_KINDS
        and rotated is not None
        and (error_at is None or error_at <= rotated)
    )
    if error is not None and error.get("kind") == "token_expired" and not superseded:
        return (
            "token expired",
            f"the provider refused the token {_ago(error_at, now)} (code {error.get('code')})",
        )
    if error_at is not None and now - error_at < FAILING_WITHIN and not superseded:
        return "failing", f"error {error.get('code')} {_ago(error_at, now)}" if error else "failing"
    last_webhook = _moment(health.get("lastWebhookAt"))
    connected = _moment(channel.get("connectedAt"))
    # Silence counts from the later of the last webhook and the last (re)connection.
    since = max((m for m in (last_webhook, connected) if m is not None), default=None)
    if since is None or now - since > STALE_AFTER:
        return (
            "stale",
            f"no webhook for {_span((now - since).total_seconds())}" if since else "no webhook ever",
        )
    return (
        "healthy",
        f"last webhook {_ago(last_webhook, now)}" if last_webhook else "connected, no webhook yet",
    )


def channel_health_rows(tenant_id: str | None, now: datetime) -> list[dict[str, Any]]:
    """One row per channel: identity, health fields and verdict."""
    from shared import store

    rows = []
    for tenant, channel_id, data in store.list_channels(tenant_id):
        health = data.get("health") or {}
        error = health.get("lastError") if isinstance(health.get("lastError"), dict) else None
        verdict, why = channel_verdict(data, now)
        rows.append(
            {
                "tenant": tenant,
                "channel": channel_id,
                "kind": data.get("kind"),
                "name": data.get("name"),
                "externalId": data.get("externalId"),
                "lastWebhookAt": _moment(health.get("lastWebhookAt")),
                "lastError": None
                if error is None
                else {
                    "code": error.get("code"),
                    "reason": error.get("reason") or error.get("title") or error.get("detail"),
                    "kind": error.get("kind"),
                    "at": _moment(error.get("at")),
                },
                "tokenExpiresAt": _moment(health.get("tokenExpiresAt")),
                "verdict": verdict,
                "why": why,
            }
        )
    return rows


def health_table(rows: Iterable[dict[str, Any]], now: datetime) -> str:
    """The rows as a fixed-width text table."""
    header = ("TENANT", "CHANNEL", "KIND", "NAME", "LAST WEBHOOK", "LAST ERROR", "TOKEN EXPIRES", "VERDICT")
    lines = [header]
    for row in rows:
        error = row["lastError"]
        error_text = "-"
        if error:
            reason = str(error.get("reason") or "")[:40]
            error_text = f"{error.get('code')} {reason} ({_ago(error.get('at'), now)})"
        expires = row["tokenExpiresAt"]
        lines.append(
            (
                str(row["tenant"]),
                str(row["channel"]),
                str(row["kind"]),
                str(row["name"] or "")[:30],
                _ago(row["lastWebhookAt"], now),
                error_text,
                "-" if expires is None else f"{expires:%Y-%m-%d %H:%M}Z",
                f"{row['verdict']}: {row['why']}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True)) + "  " + line[-1]
        for line in lines
    )


def cmd_channel_health(tenant_id: str | None, as_json: bool) -> int:
    """Print every channel's health and verdict."""
    if tenant_id is not None:
        _require_tenant(tenant_id)
    now = _now()
    rows = channel_health_rows(tenant_id, now)
    if as_json:
        for row in rows:
            emit(row)
    else:
        print(health_table(rows, now), flush=True)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["verdict"]] = counts.get(row["verdict"], 0) + 1
    say(f"{len(rows)} channel(s): " + (", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "none"))
    return 0


def cmd_backfill_inbox(tenant_id: str, dry_run: bool) -> int:
    """Give a tenant's support conversations that lack it the ``assigned`` field (0/1)."""
    from shared import store

    _require_tenant(tenant_id)
    count = store.backfill_assigned(tenant_id, dry_run=dry_run)
    say(f"{count} conversation(s) {'would get' if dry_run else 'got'} the assigned field")
    return 0


# --- search and the timeline (shared/search/) -----------------------------------------------------------


def _operator(tenant_id: str) -> Any:
    from shared.auth import Caller

    return Caller(uid="operator-cli", tenant_id=tenant_id, role="admin")


def _ms_of(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def cmd_search(args: argparse.Namespace) -> int:
    """Print the messages matching the words as JSON lines (following the cursor up to --max)."""
    from shared import search

    printed, cursor, contacts = 0, None, None
    while printed < args.max:
        request = search.SearchRequest(
            query=args.words,
            channel=args.channel,
            status=args.status,
            label=args.label,
            assigneeId=args.assignee,
            direction=args.direction,
            fromMs=_ms_of(args.from_),
            toMs=_ms_of(args.to),
            cursor=cursor,
            pageSize=min(50, args.max - printed),
        )
        answer = search.search(_operator(args.tenant), request)
        contacts = answer["contacts"] if contacts is None else contacts
        for result in answer["results"]:
            emit(result)
        printed += len(answer["results"])
        cursor = answer["next"]
        if cursor is None:
            break
    for contact in contacts or []:
        say(f"contact: {json.dumps(contact, ensure_ascii=False)}")
    say(f"{printed} message(s)")
    return 0


def cmd_timeline(args: argparse.Namespace) -> int:
    """Print the tenant's messages by time as JSON lines (following the cursor up to --max)."""
    from shared import search

    printed, cursor = 0, None
    while printed < args.max:
        request = search.TimelineRequest(
            fromMs=_ms_of(args.from_),
            toMs=_ms_of(args.to),
            order=args.order,
            types=args.type,
            channels=args.channel,
            directions=args.direction,
            pageSize=min(100, args.max - printed),
            cursor=cursor,
        )
        answer = search.timeline(_operator(args.tenant), request)
        for message in answer["messages"]:
            emit(message)
        printed += len(answer["messages"])
        cursor = answer["next"]
        if cursor is None:
            break
    say(f"{printed} message(s)")
    return 0


def cmd_backfill_search(tenant_id: str, dry_run: bool) -> int:
    """Add the search fields to a tenant's older messages and contacts."""
    from shared.search.backfill import backfill

    count = backfill(tenant_id, dry_run=dry_run)
    verb = "would write" if dry_run else "wrote"
    say(
        f"{count.conversations} conversation(s), {count.messages} message(s): {verb} "
        f"{count.messages_written}; {count.contacts} contact(s): {verb} {count.contacts_written}"
    )
    return 0


# --- exports, contacts' data, retention (shared/exports.py, contact_data.py, erasure.py, retention.py) ---


def _copy_out(path: str, out: Path | None) -> None:
    """Stream an object of the bucket to ``out`` (or stdout)."""
    from shared.media import storage

    if out is None:
        storage.download_to(path, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    with out.open("wb") as file:
        storage.download_to(path, file)


def cmd_export(args: argparse.Namespace) -> int:
    """Export the tenant's messages of a range as JSON Lines or CSV."""
    from shared import audit, exports

    caller = _operator(args.tenant)
    from_ms, to_ms = _ms_of(args.from_), _ms_of(args.to)
    if from_ms is None or to_ms is None:
        raise BadInput("--from and --to are required")
    job = exports.start(caller, from_ms, to_ms, args.format, args.query, queue=False)
    audit.record(
        caller,
        "messages.export",
        {"kind": "export", "id": job["id"]},
        details={"fromMs": from_ms, "toMs": to_ms, "format": args.format, "search": bool(args.query)},
    )
    done = exports.run_inline(args.tenant, job["id"])
    if done.get("state") != "done":
        say(f"error: export {job['id']} {done.get('state')}: {done.get('error')}")
        return 1
    _copy_out(str(done["path"]), args.out)
    say(f"{done['count']} message(s) exported ({done['size']} bytes, export {job['id']}, kept a day)")
    return 0


def cmd_contact_export(args: argparse.Namespace) -> int:
    """Everything about one contact, as JSON Lines."""
    from shared import contact_data

    answer = contact_data.export_contact(_operator(args.tenant), args.contact)
    _copy_out(storage_path_of(args.tenant, answer["exportId"], answer["fileName"]), args.out)
    say(f"contact exported: {json.dumps(answer['counts'])}")
    return 0


def storage_path_of(tenant_id: str, export_id: str, name: str) -> str:
    """An export's object path."""
    from shared.media import storage

    return storage.export_path(tenant_id, export_id, name)


def cmd_contact_erase(args: argparse.Namespace) -> int:
    """Erase a contact for good."""
    from shared import erasure

    if not args.yes:
        raise BadInput("erasing cannot be undone: add --yes")
    answer = erasure.erase_contact(_operator(args.tenant), args.contact)
    emit(answer)
    say(f"contact erased: {answer['documents']} document(s), {answer['mediaObjects']} object(s)")
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    """Count (``--dry-run``) or delete what the tenant's retention period expires."""
    from shared import retention

    if args.dry_run:
        counted = retention.dry_run(args.tenant)
        emit({**counted, "dryRun": True})
        if counted["retentionDays"] is None:
            say(f"tenant {args.tenant} has no retentionDays: nothing expires")
        else:
            say(
                f"would delete {counted['messages']} message(s) and {counted['conversations']} "
                f"conversation(s) from before {counted['cutoff']}"
            )
        return 0
    run = retention.run_inline(args.tenant, _operator(args.tenant))
    emit(
        {
            k: run.get(k)
            for k in ("runId", "retentionDays", "messages", "conversations", "documents", "mediaObjects")
        }
    )
    say(
        f"deleted {run['messages']} message(s), {run['conversations']} conversation(s), "
        f"{run['mediaObjects']} object(s)"
    )
    return 0


def cmd_rebuild_reports(tenant_id: str, first_day: str | None, last_day: str | None) -> int:
    """Rebuild a tenant's reports from its messages; the summary as one JSON line."""
    from shared.reports.rebuild import rebuild

    for day in (first_day, last_day):
        if day is not None:
            try:
                date.fromisoformat(day)
            except ValueError as exc:
                raise BadInput(f"{day!r} is not a date (YYYY-MM-DD)") from exc
    done = rebuild(tenant_id, first_day, last_day)
    print(json.dumps(done))
    say(
        f"{done['messages']} message(s) counted ({done.get('legacyMessages', 0)} stored before reports"
        f" existed), {done['days']} day(s) written"
    )
    return 0


# --- media -------------------------------------------------------------------------------------------


def cmd_media_sweep_uploads(older_than: timedelta, dry_run: bool) -> int:
    """Delete uploads older than ``older_than`` (the ones never sent: sending copies a file to its
    message). Production's lifecycle rule does this daily; this is for the emulator and operators."""
    from shared.media import uploads

    swept = uploads.sweep(older_than, dry_run=dry_run)
    emit({"deleted": swept.deleted, "kept": swept.kept, "cutoff": swept.cutoff, "dryRun": dry_run})
    verb = "would delete" if dry_run else "deleted"
    say(f"{verb} {swept.deleted} upload(s) created before {swept.cutoff.isoformat()}; kept {swept.kept}")
    return 0


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


# --- the command line ----------------------------------------------------------------------------------


def _duration(value: str) -> timedelta:
    """``30s``, ``15m``, ``12h``, ``1d`` (a bare number is seconds)."""
    match = _DURATION.match(value.strip().lower())
    if not match:
        raise argparse.ArgumentTypeError("a duration such as 30s, 15m, 12h or 1d")
    return timedelta(seconds=float(match.group(1)) * _DURATION_UNITS[match.group(2)])


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def build_parser() -> argparse.ArgumentParser:  # noqa: PLR0915 - a declaration
    """The argument parser (exposed for tests)."""
    parser = argparse.ArgumentParser(
        prog="python -m shared.cli", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env-file", type=Path, help="stack state file to take the environment from")
    commands = parser.add_subparsers(dest="command", required=True)

    parse = commands.add_parser("parse", help="normalize webhook bodies offline")
    parse.add_argument("channel", choices=channels.kinds())
    parse.add_argument("files", nargs="+", type=Path)
    parse.add_argument("--url", help="the webhook URL the bodies arrived at, with its query")
    parse.add_argument("--bot", metavar="ID", help="telegram: the bot id, as the URL's ?bot=ID")

    replay = commands.add_parser("replay-quarantine", help="re-run quarantined items and publish what parses")
    replay.add_argument("--dry-run", action="store_true", help="report only; publish nothing")

    quarantine = commands.add_parser("quarantine", help="inspect quarantined items")
    quarantine_commands = quarantine.add_subparsers(dest="action", required=True)
    quarantine_list = quarantine_commands.add_parser("list", help="list quarantined items")
    quarantine_list.add_argument("--all", action="store_true", help="include items already replayed")
    quarantine_list.add_argument("--max", type=_positive, default=500, help="at most this many (500)")
    quarantine_discard = quarantine_commands.add_parser("discard", help="set one item aside for good")
    quarantine_discard.add_argument("quarantine_id")
    quarantine_discard.add_argument("--reason", required=True, help="why (kept with the item and audited)")

    tenant = commands.add_parser("create-tenant", help="create a tenant (a business)")
    tenant.add_argument("tenant_id")
    tenant.add_argument("--name", required=True)
    tenant.add_argument("--plan", choices=PLANS, default="free")

    connect = commands.add_parser("connect-channel", help="connect a provider account to a tenant")
    connect.add_argument("tenant_id")
    connect.add_argument("channel_id")
    connect.add_argument("--kind", required=True, choices=channels.kinds())
    connect.add_argument(
        "--external-id",
        required=True,
        help="page id, Instagram account id, WhatsApp phone_number_id, Telegram bot id, Twilio number",
    )
    connect.add_argument("--name", required=True, help="what agents see")
    connect.add_argument(
        "--token-stdin", action="store_true", required=True, help="read the API token from stdin"
    )
    connect.add_argument("--page-id", help="instagram: the Facebook Page linked to the account")
    connect.add_argument(
        "--business-account-id",
        help="whatsapp: the WhatsApp Business Account owning the number (its approved templates are listed)",
    )
    connect.add_argument("--account-sid", help="twilio: the account SID that owns the number")
    connect.add_argument("--token-expires-at", type=parse_time, help="when the token expires (ISO 8601)")
    connect.add_argument(
        "--webhook-url", help="telegram: webhook URL (default: <public base>/webhook-telegram)"
    )
    connect.add_argument("--force", action="store_true", help="take over a route owned by another channel")

    rotate_token = commands.add_parser("rotate-channel-token", help="store a new API token for a channel")
    rotate_token.add_argument("tenant_id")
    rotate_token.add_argument("channel_id")
    rotate_token.add_argument("--token-stdin", action="store_true", required=True)
    rotate_token.add_argument("--token-expires-at", type=parse_time, help="when the token expires (ISO 8601)")

    disconnect = commands.add_parser(
        "disconnect-channel", help="stop routing a channel's webhooks and delete its token"
    )
    disconnect.add_argument("tenant_id")
    disconnect.add_argument("channel_id")

    rotate = commands.add_parser("rotate-secret", help="add a new version of a secret")
    rotate.add_argument("name", help="secret id, e.g. meta-app-secret")
    rotate.add_argument("--value-stdin", action="store_true", required=True)

    bind = commands.add_parser(
        "bind-route-signers", help="bind Twilio routes to the account that owns the number (after upgrading)"
    )
    bind.add_argument("--dry-run", action="store_true", help="show what would be bound")

    invite = commands.add_parser("invite-agent", help="create an agent's sign-in for a tenant")
    invite.add_argument("--tenant", required=True)
    invite.add_argument("--email", required=True)
    invite.add_argument("--name", required=True)
    invite.add_argument("--role", choices=("owner", "admin", "agent", "developer"), default="agent")
    invite.add_argument(
        "--password-stdin", action="store_true", help="create the sign-in now with this password (no e-mail)"
    )
    for name, text in (
        ("set-role", "give a member of a tenant another role (their sessions end)"),
        ("deactivate", "refuse a member's sessions and return their open conversations to the queue"),
        ("reactivate", "let a deactivated member sign in again"),
    ):
        member = commands.add_parser(name, help=text)
        member.add_argument("--tenant", required=True)
        who = member.add_mutually_exclusive_group(required=True)
        who.add_argument("--uid")
        who.add_argument("--email")
        if name == "set-role":
            member.add_argument("--role", choices=("owner", "admin", "agent", "developer"), required=True)
    audit_log = commands.add_parser("audit", help="the tenant's audit log of admin actions")
    audit_commands = audit_log.add_subparsers(dest="audit_action", required=True)
    export = audit_commands.add_parser("export", help="every entry, oldest first, as JSON lines")
    export.add_argument("--tenant", required=True)
    export.add_argument("--since", type=parse_time, help="entries from this moment on (ISO 8601)")

    migrate = commands.add_parser(
        "migrate-app-users", help="delete app users' accounts from before accounts were per app"
    )
    migrate.add_argument("--dry-run", action="store_true", help="list them without deleting")

    chat_layout = commands.add_parser(
        "migrate-chat-layout",
        help="move chat channels and members to the seq/lastReadSeq layout (no memberIds, no stored unread)",
    )
    chat_layout.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")

    dead = commands.add_parser("dead-letters", help="inbound events Pub/Sub dead-lettered")
    dead_commands = dead.add_subparsers(dest="action", required=True)
    dead_list = dead_commands.add_parser("list", help="show dead letters without removing them")
    dead_replay = dead_commands.add_parser("replay", help="publish dead letters again, then acknowledge them")
    for sub in (dead_list, dead_replay):
        sub.add_argument("--max", type=_positive, default=100, help="at most this many (100)")
        sub.add_argument("--event-id", action="append", default=[], help="only this event id (repeatable)")
    dead_replay.add_argument("--dry-run", action="store_true", help="show what would be replayed")
    dead_discard = dead_commands.add_parser("discard", help="acknowledge dead letters without replaying them")
    dead_discard.add_argument("--max", type=_positive, default=100, help="at most this many (100)")
    dead_discard.add_argument("--event-id", action="append", default=[], help="this event id (repeatable)")
    dead_discard.add_argument("--reason", required=True, help="why (audited)")

    media = commands.add_parser("media", help="media bucket housekeeping")
    media_commands = media.add_subparsers(dest="action", required=True)
    sweep = media_commands.add_parser(
        "sweep-uploads", help="delete uploads never sent (older than --older-than; sent files were copied)"
    )
    sweep.add_argument(
        "--older-than", type=_duration, default=timedelta(days=1), help="30s, 15m, 12h, 1d (default 1d)"
    )
    sweep.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    health = commands.add_parser("channel-health", help="every channel's health and verdict")
    health.add_argument("--tenant")
    health.add_argument("--json", action="store_true", help="JSON lines instead of a table")

    backfill = commands.add_parser("backfill-inbox", help="give old conversations the inbox filters' fields")
    backfill.add_argument("--tenant", required=True)
    backfill.add_argument("--dry-run", action="store_true", help="count, write nothing")
    found = commands.add_parser("search", help="messages matching words, newest first (JSON lines)")
    found.add_argument("words")
    found.add_argument("--tenant", required=True)
    found.add_argument("--channel")
    found.add_argument("--status", choices=("open", "pending", "snoozed", "resolved"))
    found.add_argument("--label")
    found.add_argument("--assignee")
    found.add_argument("--direction", choices=("in", "out", "note"))
    found.add_argument("--max", type=_positive, default=50, help="at most this many (50)")
    timeline = commands.add_parser("timeline", help="all of a tenant's messages by time (JSON lines)")
    timeline.add_argument("--tenant", required=True)
    timeline.add_argument("--order", choices=("newest", "oldest"), default="newest")
    timeline.add_argument("--type", action="append", default=[], help="only this type (repeatable)")
    timeline.add_argument("--channel", action="append", default=[], help="only this channel (repeatable)")
    timeline.add_argument(
        "--direction", action="append", default=[], choices=("in", "out", "note", "system"), help="repeatable"
    )
    timeline.add_argument("--max", type=_positive, default=100, help="at most this many (100)")
    for sub in (found, timeline):
        sub.add_argument("--from", dest="from_", type=parse_time, help="from this moment (ISO 8601)")
        sub.add_argument("--to", type=parse_time, help="before this moment (ISO 8601)")
    backfill = commands.add_parser(
        "backfill-search", help="add search fields to messages and contacts stored before search"
    )
    backfill.add_argument("--tenant", required=True)
    backfill.add_argument("--dry-run", action="store_true", help="count what would be written")
    export = commands.add_parser("export", help="the tenant's messages of a range as JSON Lines or CSV")
    export.add_argument("--tenant", required=True)
    export.add_argument("--from", dest="from_", type=parse_time, required=True, help="ISO 8601, inclusive")
    export.add_argument("--to", type=parse_time, required=True, help="ISO 8601, exclusive")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--query", help="only messages matching these words (as search)")
    export.add_argument("--out", type=Path, help="write here (default: stdout)")
    contact_export = commands.add_parser("contact-export", help="everything about one contact (JSON Lines)")
    contact_export.add_argument("--tenant", required=True)
    contact_export.add_argument("--contact", required=True, help="the contact's id")
    contact_export.add_argument("--out", type=Path, help="write here (default: stdout)")
    erase = commands.add_parser("contact-erase", help="erase a contact's data for good")
    erase.add_argument("--tenant", required=True)
    erase.add_argument("--contact", required=True, help="the contact's id")
    erase.add_argument("--yes", action="store_true", help="confirm: it cannot be undone")
    retention = commands.add_parser("retention", help="delete what the tenant's retention period expires")
    retention.add_argument("--tenant", required=True)
    retention.add_argument("--dry-run", action="store_true", help="count what would be deleted")
    _add_routing_commands(commands)
    reports = commands.add_parser("rebuild-reports", help="count the reports again from the messages")
    reports.add_argument("--tenant", required=True)
    reports.add_argument("--from", dest="from_day", help="first day to replace (YYYY-MM-DD, tenant's zone)")
    reports.add_argument("--to", dest="to_day", help="last day to replace (YYYY-MM-DD)")
    return parser


# --- teams, routing, capacity (shared/routing.py): what the Teams & routing page does -------------


def _add_routing_commands(commands: Any) -> None:
    routing = commands.add_parser("routing", help="teams, channel routing and agents' capacity")
    actions = routing.add_subparsers(dest="routing_command", required=True)
    show = actions.add_parser("show", help="teams, agents (capacity, presence, load), channels' teams (JSON)")
    save = actions.add_parser("save-team", help="create (no --team) or update a team")
    save.add_argument("--team", help="the team's id (omit to create one)")
    save.add_argument("--name", required=True)
    save.add_argument("--member", action="append", default=[], help="an agent's uid (repeatable)")
    save.add_argument("--auto-assign", action=argparse.BooleanOptionalAction, default=False)
    delete = actions.add_parser("delete-team", help="delete a team (its channels route to nobody)")
    delete.add_argument("--team", required=True)
    route = actions.add_parser("route-channel", help="route a channel's new conversations to a team")
    route.add_argument("--channel", required=True)
    route.add_argument("--team", help="the team's id (omit: route to nobody)")
    capacity = actions.add_parser("capacity", help="set an agent's max open conversations")
    capacity.add_argument("--agent", required=True)
    capacity.add_argument("--max-open", type=int, required=True)
    for sub in (show, save, delete, route, capacity):
        sub.add_argument("--tenant", required=True)


def cmd_routing(args: argparse.Namespace) -> int:
    """The Teams & routing page's operations as the operator (audited as ``operator-cli``)."""
    from shared import routing

    caller = _operator(args.tenant)
    command = args.routing_command
    if command == "show":
        answer: dict[str, Any] = routing.overview(caller)
    elif command == "save-team":
        answer = routing.save_team(caller, args.team, args.name, args.member, args.auto_assign)
    elif command == "delete-team":
        answer = routing.delete_team(caller, args.team)
    elif command == "route-channel":
        answer = routing.route_channel(caller, args.channel, args.team)
    else:
        answer = routing.set_capacity(caller, args.agent, args.max_open)
    emit(answer)
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the parsed command."""
    command = args.command
    if command == "parse":
        return cmd_parse(args.channel, args.files, args.url, args.bot)
    if command == "replay-quarantine":
        return cmd_replay_quarantine(args.dry_run)
    if command == "quarantine":
        if args.action == "discard":
            return cmd_quarantine_discard(args.quarantine_id, args.reason)
        return cmd_quarantine_list(args.all, args.max)
    if command == "create-tenant":
        return cmd_create_tenant(args.tenant_id, args.name, args.plan)
    if command == "connect-channel":
        return cmd_connect_channel(
            ChannelRequest(
                tenant_id=args.tenant_id,
                channel_id=args.channel_id,
                kind=args.kind,
                external_id=args.external_id,
                name=args.name,
                page_id=args.page_id,
                account_sid=args.account_sid,
                token_expires_at=args.token_expires_at,
                webhook_url=args.webhook_url,
                force=args.force,
                business_account_id=args.business_account_id,
            )
        )
    if command == "rotate-channel-token":
        return cmd_rotate_channel_token(args.tenant_id, args.channel_id, args.token_expires_at)
    if command == "disconnect-channel":
        return cmd_disconnect_channel(args.tenant_id, args.channel_id)
    if command == "rotate-secret":
        return cmd_rotate_secret(args.name)
    if command == "bind-route-signers":
        return cmd_bind_route_signers(args.dry_run)
    if command == "invite-agent":
        return cmd_invite_agent(args.tenant, args.email, args.name, args.role, args.password_stdin)
    if command in ("set-role", "deactivate", "reactivate"):
        return cmd_team_change(command, args.tenant, args.uid, args.email, getattr(args, "role", None))
    if command == "audit":
        return cmd_audit_export(args.tenant, args.since)
    if command == "migrate-app-users":
        return cmd_migrate_app_users(args.dry_run)
    if command == "migrate-chat-layout":
        return cmd_migrate_chat_layout(args.dry_run)
    if command == "dead-letters":
        event_ids = set(args.event_id)
        if args.action == "list":
            return cmd_dead_letters_list(args.max, event_ids)
        if args.action == "discard":
            return cmd_dead_letters_discard(args.max, event_ids, args.reason)
        return cmd_dead_letters_replay(args.max, event_ids, args.dry_run)
    if command == "channel-health":
        return cmd_channel_health(args.tenant, args.json)
    if command == "media":
        return cmd_media_sweep_uploads(args.older_than, args.dry_run)
    if command == "backfill-inbox":
        return cmd_backfill_inbox(args.tenant, args.dry_run)
    if command == "search":
        return cmd_search(args)
    if command == "timeline":
        return cmd_timeline(args)
    if command == "backfill-search":
        return cmd_backfill_search(args.tenant, args.dry_run)
    if command == "export":
        return cmd_export(args)
    if command == "contact-export":
        return cmd_contact_export(args)
    if command == "contact-erase":
        return cmd_contact_erase(args)
    if command == "retention":
        return cmd_retention(args)
    if command == "routing":
        return cmd_routing(args)
    if command == "rebuild-reports":
        return cmd_rebuild_reports(args.tenant, args.from_day, args.to_day)
    raise BadInput(f"unknown command {command}")  # pragma: no cover - argparse refuses it first


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, run, and turn failures into a message on stderr and an exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.env_file:
            load_env_file(args.env_file)
        return run(args)
    except OperatorError as exc:
        say(f"error: {exc}")
        return exc.exit_code
    except SwitchboardError as exc:
        say(f"error: {exc}")
        return 1
    except Exception as exc:
        if not _is_cloud_error(exc):
            raise
        say(f"error: {type(exc).__name__}: {exc}")
        return 1


def _is_cloud_error(exc: Exception) -> bool:
    """A refusal by a Google Cloud or Firebase API (permissions, a missing resource...): reported as
    a message, not a traceback."""
    from firebase_admin.exceptions import FirebaseError
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import GoogleAuthError

    return isinstance(exc, GoogleAPIError | GoogleAuthError | FirebaseError)


if __name__ == "__main__":
    sys.exit(main())
