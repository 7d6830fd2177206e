"""The agents' dashboard on this machine: build ``web/`` when its sources changed, then serve
``web/dist`` and a generated ``/config.json`` that points the app at the local stack.

The built app reads everything that differs between places (project, emulator hosts, function URLs)
from ``/config.json`` at start-up, so one build serves ``make dev``, the e2e tests and production.

    with DashboardServer(stack) as dashboard:   # builds if needed, serves on a free port
        print(dashboard.url)

Standalone, against a running ``make dev`` (reads ``.local/stack.json``):
``python -m infra.local.dashboard [--port 8080]``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import mimetypes
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from infra.local.processes import LOG_DIR, REPO

if TYPE_CHECKING:  # pragma: no cover
    from infra.local.stack import LocalStack

WEB = REPO / "web"
DIST = WEB / "dist"
NODE_MODULES = WEB / "node_modules"
# Everything a build reads: a change to any of these means the next start rebuilds.
BUILD_INPUTS = (
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "vite.embed.config.ts",
    "tsconfig.json",
    "src",
    "public",
)
BUILD_STAMP = DIST / ".build-inputs.sha256"
DEPS_STAMP = NODE_MODULES / ".switchboard-lock.sha256"
LOCK_PATH = REPO / ".local" / "web-build.lock"
# The HTTPS functions browsers call: the dashboard (send_message, agent_api), the developer
# onboarding (create_app) and the embeddable chat (chat_api).
BROWSER_FUNCTIONS = ("send_message", "agent_api", "create_app", "chat_api")
# Served to any origin: the embeddable chat runs on developers' own sites and reads /config.json
# (public settings: project id, web API key, function URLs) from the origin it was loaded from.
PUBLIC_PREFIXES = ("/config.json", "/embed/")
FAKE_API_KEY = "fake-api-key"  # the Auth emulator accepts any key; production's comes from its config


class BuildError(RuntimeError):
    """``npm ci`` or ``npm run build`` failed; the message carries the log's tail."""


# --- building ------------------------------------------------------------------------------------


def _input_files() -> Iterator[Path]:
    for name in BUILD_INPUTS:
        path = WEB / name
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            yield path


def sources_digest() -> str:
    """A hash of every build input's path and bytes (cheap: the sources are small)."""
    digest = hashlib.sha256()
    for path in _input_files():
        digest.update(str(path.relative_to(WEB)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _lock_digest() -> str:
    return hashlib.sha256((WEB / "package-lock.json").read_bytes()).hexdigest()


def _run(command: list[str], log_name: str) -> None:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / log_name
    with log_path.open("wb") as log:
        result = subprocess.run(
            command,
            cwd=WEB,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=_npm_env(),
            check=False,
        )
    if result.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
        raise BuildError(f"`{' '.join(command)}` in web/ failed ({result.returncode}); {log_path}:\n{tail}")


def _npm_env() -> dict[str, str]:
    return {
        **os.environ,
        "CI": "1",
        "NO_UPDATE_NOTIFIER": "1",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
    }


def ensure_dependencies() -> bool:
    """``npm ci`` when node_modules is missing or was installed from another lock file."""
    if DEPS_STAMP.exists() and DEPS_STAMP.read_text().strip() == _lock_digest():
        return False
    _run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], "web-npm-ci.log")
    DEPS_STAMP.write_text(_lock_digest())
    return True


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    # make dev and a test run may start at once: one builds, the other waits and finds it built.
    LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
    with LOCK_PATH.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build(force: bool = False) -> bool:
    """Build web/dist unless it was built from exactly these sources; True if it built."""
    with _build_lock():
        digest = sources_digest()
        built = (DIST / "index.html").exists() and BUILD_STAMP.exists()
        if built and not force and BUILD_STAMP.read_text().strip() == digest:
            return False
        ensure_dependencies()
        _run(["npm", "run", "build"], "web-build.log")
        BUILD_STAMP.write_text(digest)
        return True


# --- serving -------------------------------------------------------------------------------------


def stack_config(stack: LocalStack) -> dict[str, Any]:
    """The dashboard's runtime config for a running LocalStack."""
    return {
        "projectId": stack.project,
        "apiKey": FAKE_API_KEY,
        "authHost": stack.auth_host,
        "firestoreHost": stack.firestore_host,
        "functions": {name: stack.function_urls[name] for name in BROWSER_FUNCTIONS},
        # Agents' web push: no push service locally; the browser registers a token it makes up and
        # the FCM stand-in records what would be pushed to it (shared/notifications.py).
        "webPush": "local",
        **_media_origin(getattr(getattr(stack, "storage_gateway", None), "base_url", None)),
    }


def _media_origin(endpoint: str | None) -> dict[str, str]:
    """Where signed media URLs point (the local storage gateway): the browser uploads attachments
    there, so the policy's connect-src must name it."""
    if not endpoint:
        return {}
    parts = urlsplit(endpoint)
    return {"mediaOrigin": f"{parts.scheme}://{parts.netloc}"}


def content_security_policy(config: dict[str, Any]) -> str:
    """Scripts, styles and fonts from this origin only; network calls only to the configured
    emulators and functions. Customer media (images, audio, video) may come from the providers'
    hosts, so those are allowed over http(s)."""
    origins = {"'self'"}
    for host in (config.get("authHost"), config.get("firestoreHost")):
        if host:
            origins.add(f"http://{host}")
    for url in (config.get("functions") or {}).values():
        parts = urlsplit(url)
        origins.add(f"{parts.scheme}://{parts.netloc}")
    if config.get("mediaOrigin"):
        origins.add(str(config["mediaOrigin"]))  # attachments upload straight to storage
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "font-src 'self'",
            "img-src 'self' data: blob: https: http:",
            "media-src 'self' blob: https: http:",
            f"connect-src {' '.join(sorted(origins))}",
            "frame-src 'none'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class _Handler(SimpleHTTPRequestHandler):
    """Static files from web/dist, /config.json from memory, index.html for app routes."""

    server: _DashboardHTTPServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(DIST), **kwargs)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/config.json":
            self._send_bytes(self.server.config_bytes, "application/json", cache="no-store")
            return
        file = (DIST / path.lstrip("/")).resolve()
        if path == "/" or not file.is_file() or DIST.resolve() not in file.parents:
            # An app route (or an unknown path): the app itself decides what to show.
            if "." in Path(path).name and path != "/":
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            file = DIST / "index.html"
        cache = "public, max-age=31536000, immutable" if path.startswith("/assets/") else "no-cache"
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        self._send_bytes(file.read_bytes(), content_type, cache=cache)

    def do_HEAD(self) -> None:
        self.do_GET()

    def _send_bytes(self, body: bytes, content_type: str, *, cache: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        if urlsplit(self.path).path.startswith(PUBLIC_PREFIXES):
            self.send_header("Access-Control-Allow-Origin", "*")
        if content_type.startswith("text/html"):
            self.send_header("Content-Security-Policy", self.server.csp)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the tests and make dev print what matters


class _DashboardHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    config_bytes: bytes = b"{}"
    csp: str = ""


class DashboardServer:
    """Serves the built dashboard for a LocalStack on 127.0.0.1 (a free port unless ``port``)."""

    def __init__(
        self,
        stack: LocalStack | None = None,
        *,
        config: dict[str, Any] | None = None,
        port: int = 0,
        build_first: bool = True,
    ) -> None:
        if config is None:
            if stack is None:
                raise ValueError("DashboardServer needs a stack or a config")
            config = stack_config(stack)
        self.config = config
        # The port the stack told its functions (the embed snippet's origin), unless one is given.
        self.port = port or (stack.dashboard_port if stack is not None else 0)
        self.build_first = build_first
        self._server: _DashboardHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port> while serving."""
        if self._server is None:
            raise RuntimeError("the dashboard server is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> DashboardServer:
        """Build if the sources changed, then serve in a background thread."""
        if self.build_first:
            build()
        if not (DIST / "index.html").exists():
            raise BuildError("web/dist/index.html is missing: build the dashboard first (npm run build)")
        try:
            server = _DashboardHTTPServer(("127.0.0.1", self.port), _Handler)
        except OSError:
            if not self.port:
                raise
            # The stack's port was taken meanwhile (or a second server for one stack): any free port.
            # Only the embed snippet that create_app returns names the other one.
            server = _DashboardHTTPServer(("127.0.0.1", 0), _Handler)
        server.config_bytes = json.dumps(self.config).encode()
        server.csp = content_security_policy(self.config)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="dashboard-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _config_from_state(state_path: Path) -> dict[str, Any]:
    state = json.loads(state_path.read_text())
    env = state["env"]
    return {
        "projectId": env["GOOGLE_CLOUD_PROJECT"],
        "apiKey": FAKE_API_KEY,
        "authHost": env.get("FIREBASE_AUTH_EMULATOR_HOST", ""),
        "firestoreHost": env["FIRESTORE_EMULATOR_HOST"],
        "functions": {name: state["functions"][name] for name in BROWSER_FUNCTIONS},
        **_media_origin(env.get("SWITCHBOARD_MEDIA_URL_ENDPOINT")),
    }


def main(argv: list[str] | None = None) -> int:
    """Serve the dashboard for the stack that ``make dev`` is running, until Ctrl-C."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state", type=Path, default=REPO / ".local" / "stack.json")
    args = parser.parse_args(argv)
    if not args.state.exists():
        print(f"{args.state} not found: start the stack with `make dev` first", file=sys.stderr)
        return 1
    with DashboardServer(config=_config_from_state(args.state), port=args.port) as dashboard:
        print(f"Dashboard  {dashboard.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
