"""``rate``: the public rating page a customer reaches from a satisfaction survey's signed link
(shared/csat.py). No sign-in: the link is the credential (HMAC over tenant, conversation, survey and
expiry; :data:`shared.csat.LINK_DAYS` days).

- ``GET ?k=<token>[&score=1..5]``: the question, five choices (the score preselected, else the
  current rating) and a comment box.
- ``POST`` (a form: ``k``, ``score``, ``comment``): records the rating (``source: "page"``; a
  change of an earlier rating replaces it, shared/csat.py) and answers a thank-you page.

Everything answers HTML, never a stack trace: an altered link 400, an expired one or a survey that
is closed (a newer one replaced it, the conversation was erased) 410, a comment over
:data:`shared.csat.MAX_COMMENT` characters 400 with the form again, more than
:data:`SUBMISSIONS_PER_WINDOW` submissions of one survey in :data:`WINDOW_SECONDS` on an instance
429. Bodies are capped at 8 KB (functions/http.py). The page loads nothing from elsewhere and runs
no script (a strict Content-Security-Policy), and is never cached or framed.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from functions.http import Response, body_limit, discard_unread, read_body, start
from shared import csat, store
from shared.errors import PayloadTooLarge, Refused, SwitchboardError

if TYPE_CHECKING:  # pragma: no cover
    import flask

log = logging.getLogger("switchboard.rate")

SUBMISSIONS_PER_WINDOW = 10
WINDOW_SECONDS = 600.0
REMEMBERED_ASKS = 10_000

HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the link is the credential: never leak it to another site
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}

_lock = threading.Lock()
_submissions: OrderedDict[str, deque[float]] = OrderedDict()


def forget() -> None:
    """Drop the submission counts (tests)."""
    with _lock:
        _submissions.clear()


def _admit(ask: str, now: float) -> bool:
    """Whether one more submission of survey ``ask`` fits this instance's limit."""
    with _lock:
        times = _submissions.setdefault(ask, deque())
        _submissions.move_to_end(ask)
        while times and now - times[0] > WINDOW_SECONDS:
            times.popleft()
        if len(times) >= SUBMISSIONS_PER_WINDOW:
            return False
        times.append(now)
        while len(_submissions) > REMEMBERED_ASKS:
            _submissions.popitem(last=False)
        return True


# --- pages ---------------------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f8fafc;
color:#0f172a;margin:0;padding:2rem 1rem}
main{max-width:32rem;margin:0 auto;background:#fff;border:1px solid #e2e8f0;border-radius:.75rem;
padding:1.5rem}
h1{font-size:1.25rem;margin:0 0 1rem}
p.org{color:#64748b;font-size:.875rem;margin:0 0 .25rem}
fieldset{border:0;padding:0;margin:0 0 1rem;display:flex;flex-direction:column;gap:.5rem}
label.choice{display:flex;align-items:center;gap:.5rem;border:1px solid #cbd5e1;border-radius:.5rem;
padding:.5rem .75rem;cursor:pointer}
label.choice:has(input:checked){border-color:#4f46e5;background:#eef2ff}
textarea{width:100%;box-sizing:border-box;border:1px solid #cbd5e1;border-radius:.5rem;
padding:.5rem;font:inherit}
button{margin-top:1rem;background:#4f46e5;color:#fff;border:0;border-radius:.5rem;padding:.6rem 1.2rem;
font:inherit;cursor:pointer}
.error{background:#fef2f2;color:#b91c1c;padding:.5rem .75rem;border-radius:.5rem}
.hint{color:#64748b;font-size:.8rem}
"""


def _page(title: str, body: str, status: int) -> Response:
    document = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return document, status, dict(HEADERS)


def _message(title: str, text: str, status: int, testid: str) -> Response:
    return _page(
        title,
        f'<h1 data-testid="{testid}">{html.escape(title)}</h1><p>{html.escape(text)}</p>',
        status,
    )


def _bad_link(reason: str) -> Response:
    if reason == "expired":
        return _message(
            "This rating link has expired",
            f"Rating links last {csat.LINK_DAYS} days. Thank you all the same: if you still want to tell "
            "us how we did, just write to us.",
            410,
            "rate-expired",
        )
    return _message(
        "This rating link is not valid",
        "The link may have been cut or changed on the way. Please open it again from the message we sent.",
        400,
        "rate-invalid",
    )


def _closed() -> Response:
    return _message(
        "This survey is closed",
        "A newer survey replaced it, or the conversation no longer exists. Thank you for your time.",
        410,
        "rate-closed",
    )


def _form(
    token: str, settings: dict[str, Any], selected: int | None, comment: str, problem: str | None, status: int
) -> Response:
    question = csat.question(settings)
    organisation = str(settings.get("name") or "")
    choices = "".join(
        f'<label class=choice><input type=radio name=score value="{score}" required'
        f'{" checked" if score == selected else ""} data-testid="rate-score-{score}">'
        f"<span>{html.escape(csat.title(score))}</span></label>"
        for score in csat.SCORES
    )
    body = (
        (f'<p class=org data-testid="rate-org">{html.escape(organisation)}</p>' if organisation else "")
        + f'<h1 data-testid="rate-question">{html.escape(question)}</h1>'
        + (
            f'<p class=error role=alert data-testid="rate-error">{html.escape(problem)}</p>'
            if problem
            else ""
        )
        + '<form method=post action="">'
        + f'<input type=hidden name=k value="{html.escape(token)}">'
        + f"<fieldset><legend class=hint>Your rating</legend>{choices}</fieldset>"
        + "<label for=comment class=hint>Anything you would like to add? (optional)</label>"
        + f'<textarea id=comment name=comment rows=4 maxlength="{csat.MAX_COMMENT}"'
        + ' data-testid="rate-comment">'
        + f"{html.escape(comment)}</textarea>"
        + f"<p class=hint>Up to {csat.MAX_COMMENT:,} characters.</p>"
        + '<button type=submit data-testid="rate-submit">Send my rating</button></form>'
    )
    return _page(question, body, status)


# --- the function --------------------------------------------------------------------------------


def _score(value: str | None) -> int | None:
    return int(value) if value in ("1", "2", "3", "4", "5") else None


@dataclass(frozen=True)
class _Survey:
    """What a valid link opens: its claims, its conversation and the workspace's settings."""

    claims: csat.LinkClaims
    conversation: dict[str, Any]
    settings: dict[str, Any]


def _survey(token: str) -> _Survey | Response:
    """The survey a link opens, or the page saying why it opens none."""
    try:
        claims = csat.read_token(token)
    except csat.BadLink as exc:
        return _bad_link(exc.reason)
    conversation = store.get_conversation(claims.tenant_id, claims.conversation_id)
    if conversation is None or (conversation.get("csatAsk") or {}).get("askId") != claims.ask_id:
        return _closed()
    return _Survey(claims, conversation, store.get_workspace_settings(claims.tenant_id) or {})


def handle(request: flask.Request) -> Response:
    """GET the form, POST a rating."""
    try:
        start()
        store.load_library()
        if request.method not in ("GET", "POST"):
            return _message("Not allowed", "Open the link from the message we sent.", 405, "rate-invalid")
        try:
            return _get(request) if request.method == "GET" else _post(request)
        except SwitchboardError as exc:
            if exc.transient:
                log.error("rating page unavailable", extra={"fields": {"error": type(exc).__name__}})
                return _message(
                    "Please try again in a moment",
                    "We could not save or show your rating just now.",
                    503,
                    "rate-retry",
                )
            log.error("rating page failed", extra={"fields": {"error": type(exc).__name__}})
            return _message("Something went wrong", "We could not show this page.", 500, "rate-retry")
    finally:
        discard_unread(request)


def _get(request: flask.Request) -> Response:
    token = request.args.get("k", "")
    found = _survey(token)
    if not isinstance(found, _Survey):
        return found
    claims, conversation, settings = found.claims, found.conversation, found.settings
    current = conversation.get("csat") or {}
    current = current if current.get("askId") == claims.ask_id else {}
    selected = _score(request.args.get("score")) or current.get("score")
    return _form(token, settings, selected, str(current.get("comment") or ""), None, 200)


def _post(request: flask.Request) -> Response:
    try:
        body = read_body(request, body_limit("rate"))
    except PayloadTooLarge:
        return _message(
            "That was too long", "Please shorten your comment and send it again.", 413, "rate-invalid"
        )
    form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=10)
    token = (form.get("k") or [request.args.get("k", "")])[0]
    found = _survey(token)
    if not isinstance(found, _Survey):
        return found
    claims, settings = found.claims, found.settings
    score = _score((form.get("score") or [""])[0])
    comment = (form.get("comment") or [""])[0].replace("\r\n", "\n").strip()
    if score is None:
        return _form(token, settings, None, comment, "Please choose a rating from 1 to 5.", 400)
    if len(comment) > csat.MAX_COMMENT:
        problem = f"Your comment has {len(comment):,} characters; please keep it to {csat.MAX_COMMENT:,}."
        return _form(token, settings, score, comment, problem, 400)
    if not _admit(claims.ask_id, time.monotonic()):
        page, _status, headers = _message(
            "Too many attempts",
            "Please wait a few minutes before changing your rating again.",
            429,
            "rate-limited",
        )
        return page, 429, {**headers, "Retry-After": str(int(WINDOW_SECONDS))}
    try:
        result, _written = csat.record(
            claims.tenant_id, claims.conversation_id, claims.ask_id, score, source="page", comment=comment
        )
    except Refused as exc:
        return _form(token, settings, score, comment, str(exc), 400)
    if result not in ("recorded", "unchanged"):
        return _closed()
    log.info("rating recorded", extra={"fields": {"event": "csat_rated", "result": result, "source": "page"}})
    return _page(
        "Thank you",
        '<h1 data-testid="rate-thanks">Thank you for your feedback!</h1>'
        f"<p>You rated us {score}/5." + (" We have your comment too." if comment else "") + "</p>"
        "<p class=hint>You can change your rating with the same link until it expires.</p>",
        200,
    )
