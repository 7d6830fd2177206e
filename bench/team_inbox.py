"""Team inbox latency on the emulators (``python -m bench.team_inbox``): an agent's label or status
change -> another agent's live view of it (issue 17's target: p50 <= 200 ms).

One agent calls agent_api (``set_labels`` adding or removing a label, ``set_status`` resolving or
reopening, alternately, over several conversations); another agent's listeners, as the dashboard
holds them (the open conversation's document, and its messages newest first, limited), see the
change: the time from the request's start to the first callback showing the conversation's new
labels or status ("change"), and to the callback showing the activity line written in the same
batch ("activity line"). The listeners are Python ``on_snapshot``s; a browser adds its own render
(measured ~40 ms p50 write -> DOM, ../shared/DESIGN.md). Also agent_api's own round trip.

``--browser`` measures the same in Chromium, on the built dashboard: the other agent (Sam) is signed
in with the conversation open; in Sam's page, a script POSTs the first agent's change to agent_api
(with her ID token) and a MutationObserver notes when Sam's thread shows it (the label chip in the
header, the status badge) and when the activity line appears: one clock, the browser's.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path
from typing import Any

import requests

from bench.stats import report, summary
from infra.local.stack import LocalStack

TENANT = "bench-team"
CONVERSATIONS = 10
ROUNDS = 20  # per conversation: 10 label changes and 10 status changes
WARMUP = 10
PACE_SECONDS = 0.05


def _token(stack: LocalStack, email: str, role: str, name: str) -> str:
    from shared import auth, store

    uid = auth.invite(email, "bench-password-1", TENANT, role, name)
    store.put_agent(TENANT, uid, {"name": name, "email": email, "role": role})
    answer = requests.post(
        f"http://{stack.auth_host}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=bench",
        json={"email": email, "password": "bench-password-1", "returnSecureToken": True},
        timeout=15,
    )
    answer.raise_for_status()
    return str(answer.json()["idToken"])


class OtherAgent:
    """Another agent's dashboard listeners on each conversation (its document; its messages newest
    first, limited) and what they saw of the change being awaited."""

    def __init__(self, conversation_ids: list[str]) -> None:
        self.lock = threading.Lock()
        self.expected: dict[str, tuple[str, Any]] = {}
        self.started: dict[str, float] = {}
        self.changed = {c: threading.Event() for c in conversation_ids}
        self.lined = {c: threading.Event() for c in conversation_ids}
        self.seen_lines: dict[str, set[str]] = {c: set() for c in conversation_ids}
        self.change_ms: list[float] = []
        self.line_ms: list[float] = []
        self.recording = False
        self.watches: list[Any] = []

    def listen(self, conversation_id: str) -> None:
        from shared import store

        ref = store.conversation_ref(TENANT, conversation_id)
        self.watches.append(ref.on_snapshot(lambda s, c, t: self._conversation(conversation_id, s)))
        messages = ref.collection("messages").order_by("sentAt", direction="DESCENDING").limit(100)
        self.watches.append(messages.on_snapshot(lambda s, c, t: self._messages(conversation_id, c)))

    def expect(self, conversation_id: str, want: tuple[str, Any]) -> None:
        with self.lock:
            self.changed[conversation_id].clear()
            self.lined[conversation_id].clear()
            self.expected[conversation_id] = want
            self.started[conversation_id] = time.perf_counter()

    def wait(self, conversation_id: str) -> bool:
        return self.changed[conversation_id].wait(10) and self.lined[conversation_id].wait(10)

    def _conversation(self, conversation_id: str, snapshots: list[Any]) -> None:
        at = time.perf_counter()
        data = snapshots[0].to_dict() if snapshots and snapshots[0].exists else {}
        with self.lock:
            want = self.expected.get(conversation_id)
            if want is None or self.changed[conversation_id].is_set():
                return
            field, value = want
            labels = data.get("labels") or []
            if field == "labels+":
                ok = value in labels
            elif field == "labels-":
                ok = value not in labels
            else:
                ok = data.get(field) == value
            if ok:
                if self.recording:
                    self.change_ms.append((at - self.started[conversation_id]) * 1000)
                self.changed[conversation_id].set()

    def _messages(self, conversation_id: str, changes: list[Any]) -> None:
        at = time.perf_counter()
        with self.lock:
            added = [
                c.document.id
                for c in changes
                if c.type.name == "ADDED" and (c.document.to_dict() or {}).get("direction") == "system"
            ]
            fresh = [m for m in added if m not in self.seen_lines[conversation_id]]
            self.seen_lines[conversation_id].update(added)
            if fresh and conversation_id in self.started and not self.lined[conversation_id].is_set():
                if self.recording:
                    self.line_ms.append((at - self.started[conversation_id]) * 1000)
                self.lined[conversation_id].set()

    def stop(self) -> None:
        for watch in self.watches:
            watch.unsubscribe()


def _step(n: int, conversation_id: str, label: str) -> tuple[dict[str, Any], tuple[str, Any]]:
    """The n-th change: add the label, resolve, remove the label, reopen (by rounds)."""
    turn = (n // CONVERSATIONS) % 4
    if turn == 0:
        return {"action": "set_labels", "conversationId": conversation_id, "add": [label]}, ("labels+", label)
    if turn == 1:
        return {"action": "set_status", "conversationId": conversation_id, "status": "resolved"}, (
            "status",
            "resolved",
        )
    if turn == 2:
        return {"action": "set_labels", "conversationId": conversation_id, "remove": [label]}, (
            "labels-",
            label,
        )
    return {"action": "set_status", "conversationId": conversation_id, "status": "open"}, ("status", "open")


def measure(stack: LocalStack) -> dict[str, Any]:
    """Label and status changes by one agent, seen by another's listeners."""
    from shared import store

    store.put_tenant(TENANT, {"name": "Bench team", "kind": "support", "plan": "free"})
    admin = _token(stack, "admin@bench.test", "admin", "Alex Admin")
    agent = _token(stack, "dana@bench.test", "agent", "Dana Agent")
    url = stack.function_urls["agent_api"]

    def call(token: str, body: dict[str, Any]) -> dict[str, Any]:
        response = requests.post(url, headers={"Authorization": f"Bearer {token}"}, json=body, timeout=15)
        response.raise_for_status()
        return response.json()

    label = call(admin, {"action": "create_label", "name": "VIP", "color": "#7c3aed"})["labelId"]
    now_ms = int(time.time() * 1000)
    ids = [f"bench-conv-{i}" for i in range(CONVERSATIONS)]
    base = {"kind": "support", "tenantId": TENANT, "channel": "whatsapp", "status": "open", "assigned": 0}
    for i, conversation_id in enumerate(ids):
        store.update_conversation(
            TENANT, conversation_id, {**base, "lastActivityAtMs": now_ms - i, "contactName": f"Customer {i}"}
        )
    other = OtherAgent(ids)
    for conversation_id in ids:
        other.listen(conversation_id)
    time.sleep(1.0)  # the listeners' first snapshots (the documents as they are)
    round_trip_ms: list[float] = []
    try:
        for n in range(WARMUP + ROUNDS * CONVERSATIONS):
            other.recording = n >= WARMUP
            conversation_id = ids[n % CONVERSATIONS]
            body, want = _step(n, conversation_id, label)
            other.expect(conversation_id, want)
            begin = time.perf_counter()
            call(agent, body)
            if other.recording:
                round_trip_ms.append((time.perf_counter() - begin) * 1000)
            if not other.wait(conversation_id):
                raise RuntimeError(f"change {n} on {conversation_id} never reached the other agent")
            time.sleep(PACE_SECONDS)
    finally:
        other.stop()
    return {
        "change_seen": summary(other.change_ms),
        "activity_line_seen": summary(other.line_ms),
        "agent_api_round_trip": summary(round_trip_ms),
    }


# In the watching agent's page: send the change with the other agent's token, time what Sam sees.
_BROWSER_ROUND = """
async ({url, token, body, want}) => {
  const lines = () => document.querySelectorAll('[data-testid="activity-line"]').length;
  const before = lines();
  const shows = () => {
    const header = document.querySelector('[data-testid="thread-contact"]')?.parentElement;
    const status = document.querySelector('[data-testid="thread-status"]')?.textContent?.trim();
    if (want.kind === "label+") return !!header?.querySelector(`[data-label-id="${want.value}"]`);
    if (want.kind === "label-") return !!header && !header.querySelector(`[data-label-id="${want.value}"]`);
    return status === want.value;
  };
  const t0 = performance.now();
  let changeAt = null, lineAt = null;
  const done = new Promise((resolve) => {
    const look = () => {
      const now = performance.now();
      if (changeAt === null && shows()) changeAt = now;
      if (lineAt === null && lines() > before) lineAt = now;
      if (changeAt !== null && lineAt !== null) { observer.disconnect(); resolve(); }
    };
    const observer = new MutationObserver(look);
    observer.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
    setTimeout(() => { observer.disconnect(); resolve(); }, 10000);
  });
  const response = await fetch(url, {method: "POST", headers: {Authorization: `Bearer ${token}`,
    "Content-Type": "application/json"}, body: JSON.stringify(body)});
  const answeredAt = performance.now();
  await done;
  return {status: response.status, change: changeAt - t0, line: lineAt - t0, answer: answeredAt - t0};
}
"""


def measure_browser(stack: LocalStack, rounds: int = 60) -> dict[str, Any]:
    """The same changes, seen in the other agent's dashboard in Chromium."""
    from playwright.sync_api import expect, sync_playwright

    from infra.local.dashboard import DashboardServer
    from shared import store

    store.put_tenant(TENANT, {"name": "Bench team", "kind": "support", "plan": "free"})
    admin = _token(stack, "admin@bench.test", "admin", "Alex Admin")
    agent = _token(stack, "dana@bench.test", "agent", "Dana Agent")
    _token(stack, "sam@bench.test", "agent", "Sam Support")
    url = stack.function_urls["agent_api"]
    answer = requests.post(
        url,
        headers={"Authorization": f"Bearer {admin}"},
        json={"action": "create_label", "name": "VIP", "color": "#7c3aed"},
        timeout=15,
    )
    answer.raise_for_status()
    label = answer.json()["labelId"]
    conversation_id = "bench-conv-browser"
    store.update_conversation(
        TENANT,
        conversation_id,
        {
            "kind": "support",
            "tenantId": TENANT,
            "channel": "whatsapp",
            "status": "open",
            "assigned": 0,
            "lastActivityAtMs": int(time.time() * 1000),
            "contactName": "Customer",
        },
    )
    change_ms: list[float] = []
    line_ms: list[float] = []
    answer_ms: list[float] = []
    chromium = Path("/usr/bin/chromium")
    with DashboardServer(stack) as dashboard, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            page.goto(dashboard.url)
            page.get_by_label("Email").fill("sam@bench.test")
            page.get_by_label("Password").fill("bench-password-1")
            page.get_by_role("button", name="Sign in").click()
            page.locator(
                f'[data-testid="conversation-row"][data-conversation-id="{conversation_id}"]'
            ).click()
            expect(page.get_by_test_id("thread-status")).to_have_text("Open", timeout=30_000)
            for n in range(WARMUP + rounds):
                body, (field, value) = _step(n * CONVERSATIONS, conversation_id, label)
                if field == "status":
                    want = {"kind": "status", "value": "Resolved" if value == "resolved" else "Open"}
                else:
                    want = {"kind": "label+" if field == "labels+" else "label-", "value": value}
                seen = page.evaluate(_BROWSER_ROUND, {"url": url, "token": agent, "body": body, "want": want})
                if seen["status"] != 200 or seen["change"] is None or seen["line"] is None:
                    raise RuntimeError(f"round {n}: {seen}")
                if n >= WARMUP:
                    change_ms.append(seen["change"])
                    line_ms.append(seen["line"])
                    answer_ms.append(seen["answer"])
                time.sleep(PACE_SECONDS)
        finally:
            browser.close()
    return {
        "change_in_dom": summary(change_ms),
        "activity_line_in_dom": summary(line_ms),
        "agent_api_answer_in_browser": summary(answer_ms),
    }


def run() -> dict[str, Any]:
    """Start the emulators, Auth and agent_api; measure, print and return the figures."""
    with LocalStack(
        functions=("agent_api",), with_tasks=False, with_sandbox=False, with_fcm=False, with_storage=False
    ) as stack:
        stack.apply_env()
        figures = measure(stack)
    report("team_inbox_change_to_other_agent", figures["change_seen"])
    report("team_inbox_activity_line_to_other_agent", figures["activity_line_seen"])
    report("team_inbox_agent_api_round_trip", figures["agent_api_round_trip"])
    return figures


def run_browser() -> dict[str, Any]:
    """Start the emulators, Auth, the dashboard's functions and the dashboard; measure in Chromium."""
    with LocalStack(
        functions=("agent_api", "send_message", "create_app", "chat_api"),
        with_tasks=False,
        with_sandbox=False,
        with_fcm=False,
        with_storage=False,
    ) as stack:
        stack.apply_env()
        figures = measure_browser(stack)
    report("team_inbox_change_in_other_agents_dom", figures["change_in_dom"])
    report("team_inbox_activity_line_in_other_agents_dom", figures["activity_line_in_dom"])
    report("team_inbox_agent_api_answer_in_browser", figures["agent_api_answer_in_browser"])
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--browser", action="store_true", help="measure in the other agent's dashboard (Chromium)"
    )
    if parser.parse_args().browser:
        run_browser()
    else:
        run()
