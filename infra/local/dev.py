"""`make dev`: the whole system on this machine until Ctrl-C.

Starts the Firestore and Pub/Sub emulators, every function, wires Pub/Sub as production does,
seeds the demo tenant, writes ``.local/stack.json`` (what the simulator and the CLI read) and
prints what runs where. Ctrl-C or SIGTERM stops every process it started.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from infra.local import demo
from infra.local.dashboard import DashboardServer
from infra.local.processes import REPO
from infra.local.stack import LocalStack

STATE_FILE = REPO / ".local" / "stack.json"


def webhook_urls(stack: LocalStack) -> dict[str, str]:
    """Channel kind -> local webhook URL."""
    return {
        name.removeprefix("webhook_"): url
        for name, url in stack.function_urls.items()
        if name.startswith("webhook_")
    }


def write_state(stack: LocalStack, path: Path = STATE_FILE) -> None:
    """Record URLs and environment so other commands can talk to the running stack."""
    path.parent.mkdir(parents=True, exist_ok=True)
    webhooks = webhook_urls(stack)
    path.write_text(
        json.dumps({"env": stack.env(), "functions": stack.function_urls, "webhooks": webhooks}, indent=2)
    )


def banner(stack: LocalStack, dashboard_url: str) -> str:
    """What runs where, the demo channels and every demo sign-in (demo.DEMO_AGENTS)."""
    lines = [
        "",
        f"  Firestore emulator   {stack.firestore_host}",
        f"  Pub/Sub emulator     {stack.pubsub_host}",
        *(
            [f"  Storage emulator     {stack.storage_host}  (signed URLs via {gateway.base_url})"]
            if (gateway := getattr(stack, "storage_gateway", None)) is not None
            else []
        ),
        *(f"  {name:<20} {url}" for name, url in stack.function_urls.items()),
        "",
        f"  Demo tenant '{demo.DEMO_TENANT}' with channels:",
        *(f"    {c.kind:<10} {c.external_id:<20} {c.name}" for c in demo.DEMO_CHANNELS),
        f"  Second tenant '{demo.OTHER_TENANT}' with channels:",
        *(f"    {c.kind:<10} {c.external_id:<20} {c.name}" for c in demo.OTHER_CHANNELS),
        f"  Provider sandbox     {stack.sandbox.base_url}  (receipts on)",
        *(
            [f"  FCM stand-in         {fcm.base_url}/_received  (chat push notifications)"]
            if (fcm := getattr(stack, "fcm", None)) is not None
            else []
        ),
        f"  Auth emulator        {stack.auth_host}",
        f"  Dashboard            {dashboard_url}",
        f"  App developers       {dashboard_url}/developers  (create an app, live demo chat)",
        "",
    ]
    label = "Agent logins"
    for login in demo.DEMO_AGENTS:
        lines.append(
            f"  {label:<20} {login.email} / {login.password}  ({login.role}, tenant '{login.tenant_id}')"
        )
        label = ""
    lines += [
        "",
        "  Send a signed test webhook:  make simulate CHANNEL=whatsapp TEXT='hello'",
        f"  Logs: {stack.log_dir}    Stop: Ctrl-C",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    """Run until interrupted."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print("Starting Switchboard locally (emulators, functions)...", flush=True)
    stack = LocalStack(log_dir=REPO / ".local" / "logs")
    dashboard: DashboardServer | None = None
    try:
        stack.start()
        stack.apply_env()
        demo.seed()
        demo.seed_agents()
        # Dev mode: the provider sandbox posts signed delivered/read receipts back, so ticks move.
        stack.sandbox.receipts_to(webhook_urls(stack), stack.secrets.meta_app_secret)
        write_state(stack)
        dashboard = DashboardServer(stack)
        dashboard.start()
        print(banner(stack, dashboard.url), flush=True)
        while not stop.wait(1.0):
            if not stack.running():
                print("a process of the stack died; see .local/logs", file=sys.stderr)
                return 1
        return 0
    finally:
        print("Stopping...", flush=True)
        if dashboard is not None:
            dashboard.stop()
        stack.stop()
        STATE_FILE.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
