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


def write_state(stack: LocalStack) -> None:
    """Record URLs and environment so other commands can talk to the running stack."""
    STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    webhooks = webhook_urls(stack)
    STATE_FILE.write_text(
        json.dumps({"env": stack.env(), "functions": stack.function_urls, "webhooks": webhooks}, indent=2)
    )


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
        login = demo.seed_agents()
        # Dev mode: the provider sandbox posts signed delivered/read receipts back, so ticks move.
        stack.sandbox.receipts_to(webhook_urls(stack), stack.secrets.meta_app_secret)
        write_state(stack)
        dashboard = DashboardServer(stack)
        dashboard.start()
        print(f"\n  Firestore emulator   {stack.firestore_host}")
        print(f"  Pub/Sub emulator     {stack.pubsub_host}")
        for name, url in stack.function_urls.items():
            print(f"  {name:<20} {url}")
        print(f"\n  Demo tenant '{demo.DEMO_TENANT}' with channels:")
        for channel in demo.DEMO_CHANNELS:
            print(f"    {channel.kind:<10} {channel.external_id:<20} {channel.name}")
        print(f"  Provider sandbox     {stack.sandbox.base_url}  (receipts on)")
        print(f"  Auth emulator        {stack.auth_host}")
        print(f"  Dashboard            {dashboard.url}")
        print(f"  App developers       {dashboard.url}/developers  (create an app, live demo chat)")
        print(f"\n  Agent login          {login.email} / {login.password}  (tenant '{demo.DEMO_TENANT}')")
        print("\n  Send a signed test webhook:  make simulate CHANNEL=whatsapp TEXT='hello'")
        print(f"  Logs: {stack.log_dir}    Stop: Ctrl-C\n", flush=True)
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
