"""A local HTTP server that speaks the providers' documented outbound APIs.

The real provider APIs cannot be reached from development machines or CI, so tests and the local
stack send to this sandbox instead. It validates requests the way the provider does and answers
with the provider's documented response and error shapes; it can also be told to fail, to hang,
and to post signed delivery/read receipts back to the local webhook functions.

Public surface::

    ProviderSandbox(port=0)            start() / stop() / with ...: ; base_url
      .register_account(channel, account_id, token, **details)
      .requests() / .clear()           what the sandbox received, in order
      .fail_next(channel, code, ...)   the next N calls for a channel answer a provider error
      .hang_next(channel, seconds)     the next N calls answer only after ``seconds``
      .receipts_to(webhook_urls, app_secret)   dev mode: signed receipts back to the webhooks
      .webhooks_sent()                 what receipts mode posted, and how it was answered

    Control endpoints (for the dev stack and other processes), all JSON:
      GET  /_sandbox/health            GET  /_sandbox/requests[?channel=...]
      POST /_sandbox/clear             POST /_sandbox/fail      {"channel", "code", ...}
      POST /_sandbox/hang              {"channel", "seconds", "times"?}
      POST /_sandbox/accounts          {"channel", "account_id", "token", ...details}
      POST /_sandbox/profiles          {"channel", "account_id", "user_id", "consent"?, ...fields}
      POST /_sandbox/receipts          {"webhooks": {...}, "app_secret", ...}  (empty webhooks: off)
      GET  /_sandbox/webhooks          what receipts mode posted

Providers plug in through :class:`ProviderApi`: one class per provider API, in its own module
(``sandbox_meta.py`` serves Messenger, Instagram and WhatsApp through the Graph API; Telegram's
``/bot<token>/...`` and Twilio's ``/2010-04-01/Accounts/{sid}/Messages.json`` join as
``sandbox_telegram.py`` and ``sandbox_twilio.py`` and are listed in :func:`default_apis`).

Run standalone: ``python -m infra.local.provider_sandbox --port 8089 [--receipts-config FILE]``.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import itertools
import json
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from infra.local.sandbox_media import MediaStore, ProviderMediaApi
from infra.local.sandbox_meta import MetaGraphApi
from infra.local.sandbox_telegram import TelegramBotApi
from infra.local.sandbox_twilio import TwilioMessagesApi
from infra.local.sandbox_types import (
    Account,
    AccountBook,
    Call,
    ProviderApi,
    ReceiptTiming,
    Reply,
    Route,
    ScheduledWebhook,
    SentMessage,
)

__all__ = [
    "Account",
    "Call",
    "ProviderApi",
    "ProviderSandbox",
    "Reply",
    "Route",
    "SandboxRequest",
    "ScheduledWebhook",
    "SentMessage",
    "WebhookDelivery",
    "default_apis",
    "main",
]

HOST = "127.0.0.1"
CONTROL_PREFIX = "/_sandbox/"
MAX_LOGGED_REQUESTS = 10_000
WEBHOOK_TIMEOUT_SECONDS = 5.0


# --------------------------------------------------------------------------------------------------
# What providers plug into


def _loggable(body: Any) -> Any:
    return f"<{len(body)} bytes>" if isinstance(body, bytes) else body


def default_apis() -> list[ProviderApi]:
    """Every provider API the sandbox serves."""
    # Media downloads first: they claim only their own paths (and Telegram's getFile).
    return [ProviderMediaApi(), MetaGraphApi(), TelegramBotApi(), TwilioMessagesApi()]


# --------------------------------------------------------------------------------------------------
# State


@dataclass(frozen=True)
class SandboxRequest:
    """One request the sandbox received, and how it answered (control endpoints excluded)."""

    seq: int
    at: float
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any | None
    form: dict[str, list[str]] | None
    body: str
    channel: str | None
    status: int | None = None
    response: Any | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serializable copy."""
        return asdict(self)


@dataclass(frozen=True)
class WebhookDelivery:
    """One webhook receipts mode posted, and the answer it got (status None: no answer)."""

    channel: str
    url: str
    body: Any
    headers: dict[str, str]
    status: int | None
    error: str | None
    at: float

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serializable copy."""
        return asdict(self)


@dataclass
class _Fault:
    kind: str  # "fail" | "hang"
    remaining: int
    code: int | str = 0
    http_status: int | None = None
    subcode: int | None = None
    retry_after: int | None = None
    seconds: float = 0.0


class _WebhookDispatcher:
    """Posts scheduled webhooks in due-time order on one background thread."""

    def __init__(self, on_result: Callable[[ScheduledWebhook, int | None, str | None], None]) -> None:
        self._on_result = on_result
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, ScheduledWebhook]] = []
        self._counter = itertools.count()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def schedule(self, items: Sequence[ScheduledWebhook], base: float) -> None:
        with self._cond:
            if self._stopping:
                return
            for item in items:
                heapq.heappush(self._heap, (base + item.delay, next(self._counter), item))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="provider-sandbox-webhooks", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def cancel_pending(self) -> None:
        with self._cond:
            self._heap.clear()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._heap.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=WEBHOOK_TIMEOUT_SECONDS + 1)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._stopping:
                    return
                _, _, item = heapq.heappop(self._heap)
            self._post(item)

    def _post(self, item: ScheduledWebhook) -> None:
        request = urllib.request.Request(  # noqa: S310 - the URL is the caller's local webhook
            item.url, data=item.body, headers=dict(item.headers), method="POST"
        )
        status: int | None = None
        error: str | None = None
        try:
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310
                status = response.status
                response.read()
        except urllib.error.HTTPError as exc:
            status = exc.code
            error = exc.reason if isinstance(exc.reason, str) else str(exc.reason)
        except (urllib.error.URLError, OSError) as exc:
            error = str(exc)
        self._on_result(item, status, error)


# --------------------------------------------------------------------------------------------------
# The sandbox


class ProviderSandbox:
    """The provider sandbox: an HTTP server on 127.0.0.1 speaking the providers' outbound APIs."""

    def __init__(self, port: int = 0, *, apis: Sequence[ProviderApi] | None = None) -> None:
        self._requested_port = port
        self._apis: list[ProviderApi] = list(apis) if apis is not None else default_apis()
        self._channel_api: dict[str, ProviderApi] = {}
        for api in self._apis:
            for channel in api.channels:
                self._channel_api[channel] = api
        self.accounts = AccountBook()
        self._lock = threading.Lock()
        self._log: OrderedDict[int, SandboxRequest] = OrderedDict()
        self._seq = itertools.count(1)
        self._faults: dict[str, deque[_Fault]] = {}
        self._webhook_log: list[WebhookDelivery] = []
        self._receipt_urls: dict[str, str] = {}
        self._receipt_secret = ""
        self._timing = ReceiptTiming()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._open_sockets: set[socket.socket] = set()
        self._dispatcher = _WebhookDispatcher(self._record_webhook)

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def channels(self) -> tuple[str, ...]:
        """Every channel some provider API here serves."""
        return tuple(self._channel_api)

    @property
    def port(self) -> int:
        """The port the server listens on (only once started)."""
        if self._server is None:
            raise RuntimeError("the provider sandbox is not started")
        return int(self._server.server_address[1])

    @property
    def media(self) -> MediaStore:
        """The files the providers keep (inbound media): ``sandbox.media.add(...)``."""
        api = next(api for api in self._apis if isinstance(api, ProviderMediaApi))
        api.store.base_url = self.base_url
        return api.store

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: point the channel adapters' API base URL here."""
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        """Bind 127.0.0.1 (port 0 picks a free port) and serve on a background thread."""
        if self._server is not None:
            return
        self._stopping.clear()
        server = ThreadingHTTPServer((HOST, self._requested_port), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, name="provider-sandbox", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving: release hung calls, close open connections, stop the receipts thread."""
        self._stopping.set()
        self._dispatcher.stop()
        self._dispatcher = _WebhookDispatcher(self._record_webhook)
        server, thread = self._server, self._thread
        self._server = None
        self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            sockets = list(self._open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> ProviderSandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- configuration -----------------------------------------------------------------------------

    def register_account(self, channel: str, account_id: str, token: str, **details: str) -> Account:
        """Declare an account the caller may send from, with the token the provider would accept.

        ``account_id`` is the page id (messenger), Instagram account id (instagram) or phone number
        id (whatsapp). WhatsApp accepts ``display_phone_number`` and ``waba_id`` details, which its
        receipts carry.
        """
        self._api_for(channel)
        account = Account(channel=channel, account_id=str(account_id), token=token, details=dict(details))
        self.accounts.add(account)
        return account

    def subscribed_fields(self, page_id: str) -> list[str]:
        """The webhook fields our app is subscribed to on ``page_id`` (``POST
        /{page-id}/subscribed_apps``); empty when it is not (never subscribed, or ``DELETE``d)."""
        from infra.local.sandbox_meta import MetaGraphApi

        api = self._api_for("messenger")
        assert isinstance(api, MetaGraphApi)
        return api.subscribed_fields(page_id)

    def set_templates(self, waba_id: str, templates: list[dict[str, Any]]) -> None:
        """Give WhatsApp Business Account ``waba_id`` these message templates (Graph's shape:
        name, language, status, category, components, id) instead of the demo ones."""
        from infra.local.sandbox_meta import MetaGraphApi

        api = self._api_for("whatsapp")
        assert isinstance(api, MetaGraphApi)
        api.set_templates(waba_id, templates)

    def set_profile(
        self, channel: str, account_id: str, user_id: str, *, consent: bool = True, **fields: Any
    ) -> None:
        """Let the User Profile API answer for ``user_id`` (a PSID or IGSID) to ``account_id``'s
        token: ``first_name``/``last_name`` (Messenger), ``name``/``username`` (Instagram)."""
        from infra.local.sandbox_meta import MetaGraphApi

        api = self._api_for(channel)
        assert isinstance(api, MetaGraphApi)
        api.set_profile(channel, account_id, user_id, consent=consent, **fields)

    def receipts_to(
        self,
        webhook_urls: Mapping[str, str],
        app_secret: str,
        *,
        delivered_after: float = 0.2,
        read_after: float = 0.5,
        sent_after: float = 0.05,
    ) -> None:
        """Dev mode: after each accepted send, post signed receipts to that channel's webhook URL.

        Runs on a background thread, never delaying the send's answer. Channels missing from
        ``webhook_urls`` get no receipts; an empty mapping turns receipts off.
        """
        for channel in webhook_urls:
            self._api_for(channel)
        with self._lock:
            self._receipt_urls = dict(webhook_urls)
            self._receipt_secret = app_secret
            self._timing = ReceiptTiming(
                sent_after=sent_after, delivered_after=delivered_after, read_after=read_after
            )

    # -- fault injection ---------------------------------------------------------------------------

    def fail_next(
        self,
        channel: str,
        code: int | str,
        *,
        http_status: int | None = None,
        times: int = 1,
        subcode: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Make the next ``times`` calls for ``channel`` answer the provider's error ``code``.

        The HTTP status defaults to the provider's documented pairing for that code; pass
        ``http_status`` to reproduce what is seen in the wild (Meta: 130429 with 403, 613 with 429,
        Messenger 36000 with 200).
        """
        api = self._api_for(channel)
        if times < 1:
            raise ValueError("times must be >= 1")
        try:  # render it once now, so a code the provider cannot express fails here, not mid-call
            api.error_reply(channel, code, http_status=http_status, subcode=subcode, retry_after=retry_after)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{api.name} has no error code {code!r}: {exc}") from exc
        fault = _Fault(
            kind="fail",
            remaining=times,
            code=code,
            http_status=http_status,
            subcode=subcode,
            retry_after=retry_after,
        )
        with self._lock:
            self._faults.setdefault(channel, deque()).append(fault)

    def hang_next(self, channel: str, seconds: float, times: int = 1) -> None:
        """Make the next ``times`` calls for ``channel`` answer only after ``seconds``.

        After the delay the call is processed normally (the provider did receive it): exactly the
        ambiguous outcome a client timeout leaves, which retries must survive without duplicates.
        """
        self._api_for(channel)
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.setdefault(channel, deque()).append(
                _Fault(kind="hang", remaining=times, seconds=float(seconds))
            )

    # -- inspection --------------------------------------------------------------------------------

    def requests(self, channel: str | None = None) -> list[SandboxRequest]:
        """The provider calls received so far, oldest first (optionally one channel's)."""
        with self._lock:
            logged = list(self._log.values())
        return [r for r in logged if channel is None or r.channel == channel]

    def webhooks_sent(self) -> list[WebhookDelivery]:
        """The receipts posted so far, in the order they were posted."""
        with self._lock:
            return list(self._webhook_log)

    def clear(self) -> None:
        """Forget received requests, pending faults, pending receipts and the webhook log.

        Accounts and the receipts configuration stay.
        """
        self._dispatcher.cancel_pending()
        with self._lock:
            self._log.clear()
            self._faults.clear()
            self._webhook_log.clear()

    # -- internals ---------------------------------------------------------------------------------

    def _api_for(self, channel: str) -> ProviderApi:
        try:
            return self._channel_api[channel]
        except KeyError:
            known = ", ".join(sorted(self._channel_api))
            raise ValueError(f"unknown channel {channel!r} (known: {known})") from None

    def _take_faults(self, channel: str) -> tuple[float, _Fault | None]:
        """Consume at most one hang and one failure queued for ``channel``."""
        hang = 0.0
        failure: _Fault | None = None
        with self._lock:
            queue = self._faults.get(channel)
            if not queue:
                return 0.0, None
            for fault in list(queue):
                if fault.kind == "hang" and hang == 0.0:
                    hang = fault.seconds
                elif fault.kind == "fail" and failure is None:
                    failure = fault
                else:
                    continue
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.remove(fault)
        return hang, failure

    def _dispatch(self, call: Call) -> tuple[Reply, str | None]:
        for api in self._apis:
            route = api.route(call, self.accounts)
            if route is None:
                continue
            if route.channel is not None:
                hang, failure = self._take_faults(route.channel)
                if hang and self._stopping.wait(hang):
                    return Reply(503, {"error": "provider sandbox stopping"}), route.channel
                if failure is not None:
                    reply = api.error_reply(
                        route.channel,
                        failure.code,
                        http_status=failure.http_status,
                        subcode=failure.subcode,
                        retry_after=failure.retry_after,
                    )
                    return reply, route.channel
            reply = api.handle(route, call, self.accounts)
            channel = reply.sent.channel if reply.sent is not None else route.channel
            if reply.sent is not None:
                self._schedule_receipts(api, reply.sent)
            return reply, channel
        return (
            Reply(404, {"error": f"the provider sandbox has no route for {call.method} {call.path}"}),
            None,
        )

    def _schedule_receipts(self, api: ProviderApi, sent: SentMessage) -> None:
        with self._lock:
            url = self._receipt_urls.get(sent.channel)
            secret, timing = self._receipt_secret, self._timing
        if not url:
            return
        webhooks = api.receipts(sent, url=url, secret=secret, timing=timing)
        if webhooks:
            self._dispatcher.schedule(webhooks, base=time.monotonic())

    def _record_webhook(self, item: ScheduledWebhook, status: int | None, error: str | None) -> None:
        try:
            body: Any = json.loads(item.body)
        except ValueError:
            body = item.body.decode("utf-8", "replace")
        delivery = WebhookDelivery(
            channel=item.channel,
            url=item.url,
            body=body,
            headers=dict(item.headers),
            status=status,
            error=error,
            at=time.time(),
        )
        with self._lock:
            self._webhook_log.append(delivery)

    def _log_arrival(self, call: Call) -> int:
        """Log a call when it arrives (so the log keeps arrival order even while a call hangs)."""
        with self._lock:
            seq = next(self._seq)
            self._log[seq] = SandboxRequest(
                seq=seq,
                at=time.time(),
                method=call.method,
                path=call.path,
                query={k: list(v) for k, v in call.query.items()},
                headers=dict(call.headers),
                json=call.json,
                form={k: list(v) for k, v in call.form.items()} if call.form is not None else None,
                body=call.body.decode("utf-8", "replace"),
                channel=None,
            )
            while len(self._log) > MAX_LOGGED_REQUESTS:
                self._log.popitem(last=False)
        return seq

    def _log_answer(self, seq: int, channel: str | None, reply: Reply) -> None:
        with self._lock:
            record = self._log.get(seq)
            if record is not None:
                self._log[seq] = replace(
                    record, channel=channel, status=reply.status, response=_loggable(reply.body)
                )

    def _control(self, method: str, path: str, call: Call) -> Reply:
        """The ``/_sandbox/`` control endpoints (same internals as the Python methods)."""
        action = path[len(CONTROL_PREFIX) :].strip("/")
        payload = call.json if isinstance(call.json, dict) else {}
        try:
            if method == "GET" and action == "health":
                return Reply(
                    200,
                    {
                        "ok": True,
                        "channels": list(self.channels),
                        "accounts": [
                            {"channel": a.channel, "account_id": a.account_id} for a in self.accounts.all()
                        ],
                    },
                )
            if method == "GET" and action == "requests":
                channel = (call.query.get("channel") or [None])[0]
                return Reply(200, {"requests": [r.as_dict() for r in self.requests(channel)]})
            if method == "GET" and action == "webhooks":
                return Reply(200, {"webhooks": [w.as_dict() for w in self.webhooks_sent()]})
            if method == "POST" and action == "clear":
                self.clear()
                return Reply(200, {"ok": True})
            if method == "POST" and action == "fail":
                self.fail_next(
                    str(payload["channel"]),
                    payload["code"],
                    http_status=_opt_int(payload.get("http_status")),
                    times=int(payload.get("times", 1)),
                    subcode=_opt_int(payload.get("subcode")),
                    retry_after=_opt_int(payload.get("retry_after")),
                )
                return Reply(200, {"ok": True})
            if method == "POST" and action == "hang":
                self.hang_next(
                    str(payload["channel"]), float(payload["seconds"]), times=int(payload.get("times", 1))
                )
                return Reply(200, {"ok": True})
            if method == "POST" and action == "accounts":
                details = {
                    k: str(v) for k, v in payload.items() if k not in {"channel", "account_id", "token"}
                }
                self.register_account(
                    str(payload["channel"]), str(payload["account_id"]), str(payload["token"]), **details
                )
                return Reply(200, {"ok": True})
            if method == "POST" and action == "profiles":
                fields = {
                    k: v
                    for k, v in payload.items()
                    if k not in {"channel", "account_id", "user_id", "consent"}
                }
                self.set_profile(
                    str(payload["channel"]),
                    str(payload["account_id"]),
                    str(payload["user_id"]),
                    consent=bool(payload.get("consent", True)),
                    **fields,
                )
                return Reply(200, {"ok": True})
            if method == "POST" and action == "receipts":
                self.receipts_to(
                    {str(k): str(v) for k, v in dict(payload.get("webhooks") or {}).items()},
                    str(payload.get("app_secret", "")),
                    **_timing_kwargs(payload),
                )
                return Reply(200, {"ok": True})
        except (KeyError, TypeError, ValueError) as exc:
            return Reply(400, {"error": f"bad control request: {exc!r}"})
        return Reply(404, {"error": f"no control endpoint {method} {path}"})


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _timing_kwargs(config: Mapping[str, Any]) -> dict[str, float]:
    keys = ("sent_after", "delivered_after", "read_after")
    return {k: float(config[k]) for k in keys if k in config}


# --------------------------------------------------------------------------------------------------
# HTTP plumbing


def _make_handler(sandbox: ProviderSandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "switchboard-provider-sandbox"

        def version_string(self) -> str:
            return self.server_version

        def setup(self) -> None:
            super().setup()
            # Headers and body leave in separate writes: without this, Nagle's algorithm and the
            # client's delayed ACK add ~40 ms to every keep-alive call.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with sandbox._lock:
                sandbox._open_sockets.add(self.connection)

        def finish(self) -> None:
            try:
                super().finish()
            finally:
                with sandbox._lock:
                    sandbox._open_sockets.discard(self.connection)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the request log is available through requests()."""

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

        def _serve(self) -> None:
            call = self._read_call()
            if call.path.startswith(CONTROL_PREFIX):
                self._send(sandbox._control(call.method, call.path, call))
                return
            seq = sandbox._log_arrival(call)
            try:
                reply, channel = sandbox._dispatch(call)
            except Exception as exc:  # noqa: BLE001 - a sandbox bug must be visible, not a hung client
                reply, channel = Reply(500, {"error": f"provider sandbox error: {exc!r}"}), None
            sandbox._log_answer(seq, channel, reply)
            self._send(reply)

        def _read_call(self) -> Call:
            split = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            content_type = headers.get("content-type", "").split(";")[0].strip().lower()
            parsed_json: Any | None = None
            form: dict[str, list[str]] | None = None
            if content_type == "application/x-www-form-urlencoded":
                form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            elif body:
                try:
                    parsed_json = json.loads(body)
                except ValueError:
                    parsed_json = None
            return Call(
                method=self.command,
                path=split.path,
                query=urllib.parse.parse_qs(split.query, keep_blank_values=True),
                headers=headers,
                body=body,
                json=parsed_json,
                form=form,
            )

        def _send(self, reply: Reply) -> None:
            raw = isinstance(reply.body, bytes)  # a media file (sandbox_media.py)
            payload = reply.body if raw else json.dumps(reply.body).encode("utf-8")
            try:
                self.send_response(reply.status)
                if not raw:
                    self.send_header("Content-Type", "application/json; charset=UTF-8")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                # The client gave up (a timeout while the call hung): nothing left to answer.
                self.close_connection = True

    return Handler


# --------------------------------------------------------------------------------------------------
# Standalone


def apply_config(sandbox: ProviderSandbox, config: Mapping[str, Any]) -> None:
    """Apply a receipts config: ``{"accounts": [...], "webhooks": {...}, "app_secret": ..., timing}``."""
    for account in config.get("accounts", []):
        details = {k: str(v) for k, v in account.items() if k not in {"channel", "account_id", "token"}}
        sandbox.register_account(
            str(account["channel"]), str(account["account_id"]), str(account["token"]), **details
        )
    webhooks = config.get("webhooks") or {}
    if webhooks:
        sandbox.receipts_to(
            {str(k): str(v) for k, v in webhooks.items()},
            str(config.get("app_secret", "")),
            **_timing_kwargs(config),
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until Ctrl-C or SIGTERM; print its URL first."""
    parser = argparse.ArgumentParser(prog="python -m infra.local.provider_sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: pick a free one)")
    parser.add_argument(
        "--receipts-config",
        type=Path,
        help='JSON: {"accounts": [{"channel", "account_id", "token", ...}], '
        '"webhooks": {"<channel>": url}, "app_secret": "...", "delivered_after": 0.2, "read_after": 0.5}',
    )
    parser.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="CHANNEL:ACCOUNT_ID:TOKEN",
        help="register an account (repeatable)",
    )
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    sandbox = ProviderSandbox(args.port)
    for spec in args.account:
        channel, account_id, token = spec.split(":", 2)
        sandbox.register_account(channel, account_id, token)
    if args.receipts_config is not None:
        apply_config(sandbox, json.loads(args.receipts_config.read_text()))
    sandbox.start()
    print(f"provider sandbox listening on {sandbox.base_url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
        print("provider sandbox stopped", flush=True)
    return 0


if __name__ == "__main__":
    # Run through the package module so that sandbox_meta and this entry point share one copy of
    # the types above (``python -m`` would otherwise load this file twice, as two modules).
    from infra.local.provider_sandbox import main as _package_main

    sys.exit(_package_main())
