"""shared.secrets: the local secret file (read, re-read on change, atomic rotation) and the
production path's Secret Manager requests, through the real client library over its REST transport
to a local HTTP server that answers as Secret Manager documents."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared import config, secrets
from shared.errors import PermanentError


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("SWITCHBOARD_LOCAL_SECRETS", "SWITCHBOARD_LOCAL_SECRETS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "switchboard-test")
    config.reset()
    secrets.forget()
    yield
    config.reset()
    secrets.forget()


def use_file(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setenv("SWITCHBOARD_LOCAL_SECRETS_FILE", str(path))
    config.reset()


# --- names ------------------------------------------------------------------------------------------


def test_channel_token_names_are_valid_secret_ids() -> None:
    name = secrets.channel_token_name("demo", "messenger-main")
    assert name == "channel-token-demo-messenger-main"
    assert secrets.check_name(name) == name


@pytest.mark.parametrize("bad", ["", "has space", "slash/name", "x" * 256, "dot.name"])
def test_names_secret_manager_refuses_are_refused(bad: str) -> None:
    with pytest.raises(secrets.InvalidSecretName):
        secrets.check_name(bad)


# --- the local secret file ------------------------------------------------------------------------


def test_the_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"channel-token-t-c": "EAAtoken"}))
    use_file(monkeypatch, path)
    assert secrets.secret("channel-token-t-c") == "EAAtoken"
    with pytest.raises(secrets.MissingSecret):
        secrets.secret("channel-token-t-other")


def test_a_missing_file_holds_no_secret_until_it_is_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "sub" / "secrets.json"
    use_file(monkeypatch, path)
    with pytest.raises(secrets.MissingSecret):
        secrets.secret("a")
    secrets.add_secret_version("a", "one")
    assert secrets.secret("a") == "one"
    assert json.loads(path.read_text()) == {"a": "one"}


def test_a_change_on_disk_is_seen_without_restarting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"a": "old"}))
    use_file(monkeypatch, path)
    assert secrets.secret("a") == "old"
    # Another process (the admin CLI) rewrites the file: same size, so only the new inode/mtime tell.
    replacement = tmp_path / "next.json"
    replacement.write_text(json.dumps({"a": "new"}))
    os.replace(replacement, path)
    assert secrets.secret("a") == "new"


def test_an_unchanged_file_is_not_read_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"a": "1"}))
    use_file(monkeypatch, path)
    reads = []
    original = secrets._read_json_map

    def counting(target: Path) -> dict[str, str]:
        reads.append(target)
        return original(target)

    monkeypatch.setattr(secrets, "_read_json_map", counting)
    for _ in range(5):
        assert secrets.secret("a") == "1"
    assert len(reads) == 1


def test_rotation_replaces_the_file_atomically_and_keeps_other_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"a": "1", "b": "2"}))
    use_file(monkeypatch, path)
    inode = path.stat().st_ino
    version = secrets.add_secret_version("a", "rotated")
    assert version.startswith("file:")
    assert json.loads(path.read_text()) == {"a": "rotated", "b": "2"}
    assert path.stat().st_ino != inode, "written to a new file and renamed over the old one"
    assert oct(path.stat().st_mode & 0o777) == oct(0o600), "readable by its owner only"
    assert [p.name for p in tmp_path.iterdir()] == ["secrets.json"], "no temporary file left behind"


def test_concurrent_rotations_of_different_names_are_all_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "secrets.json"
    use_file(monkeypatch, path)
    threads = [
        threading.Thread(target=secrets.add_secret_version, args=(f"name-{i}", f"value-{i}"))
        for i in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert json.loads(path.read_text()) == {f"name-{i}": f"value-{i}" for i in range(20)}


def test_seeding_never_overwrites_a_rotated_value(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    secrets.seed_local_file(path, {"a": "seed", "b": "seed"})
    path.write_text(json.dumps({"a": "rotated", "b": "seed"}))
    secrets.seed_local_file(path, {"a": "seed", "b": "seed", "c": "seed"})
    assert json.loads(path.read_text()) == {"a": "rotated", "b": "seed", "c": "seed"}


def test_a_broken_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text("{broken")
    use_file(monkeypatch, path)
    with pytest.raises(PermanentError, match="not valid JSON"):
        secrets.secret("a")


def test_empty_values_and_bad_names_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_file(monkeypatch, tmp_path / "secrets.json")
    with pytest.raises(PermanentError, match="empty"):
        secrets.add_secret_version("a", "")
    with pytest.raises(secrets.InvalidSecretName):
        secrets.add_secret_version("a/b", "value")


def test_the_environment_map_still_works_and_the_file_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SWITCHBOARD_LOCAL_SECRETS", json.dumps({"a": "env", "b": "env"}))
    config.reset()
    assert secrets.secret("a") == "env"
    with pytest.raises(PermanentError, match="SWITCHBOARD_LOCAL_SECRETS_FILE"):
        secrets.add_secret_version("a", "new")
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"a": "file"}))
    use_file(monkeypatch, path)
    assert (secrets.secret("a"), secrets.secret("b")) == ("file", "env")


# --- production: Secret Manager's REST API ------------------------------------------------------------


@dataclass
class SecretManagerStub:
    """Answers Secret Manager v1 REST calls from ``secrets`` (name -> versions) and logs them."""

    secrets: dict[str, list[bytes]] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, list[str]], Any]] = field(default_factory=list)
    deny: bool = False

    def answer(self, method: str, url: str, body: Any) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        self.calls.append((method, parts.path, query, body))
        if self.deny:
            return _error(403, "PERMISSION_DENIED", "Permission 'secretmanager.versions.add' denied")
        path = parts.path.removeprefix("/v1/")
        if method == "POST" and path.endswith(":addVersion"):
            name = path.removesuffix(":addVersion").split("/")[-1]
            if name not in self.secrets:
                return _error(404, "NOT_FOUND", f"Secret [{path}] not found or has no versions.")
            self.secrets[name].append(base64.b64decode(body["payload"]["data"]))
            version = len(self.secrets[name])
            return 200, {"name": f"{path.removesuffix(':addVersion')}/versions/{version}", "state": "ENABLED"}
        if method == "POST" and path.endswith("/secrets"):
            name = query["secretId"][0]
            if name in self.secrets:
                return _error(409, "ALREADY_EXISTS", "Secret already exists.")
            self.secrets[name] = []
            return 200, {"name": f"{path}/{name}", **body}
        if method == "GET" and path.endswith("/versions/latest:access"):
            name = path.split("/")[3]
            if not self.secrets.get(name):
                return _error(404, "NOT_FOUND", "not found")
            data = base64.b64encode(self.secrets[name][-1]).decode()
            return 200, {"name": path.removesuffix(":access"), "payload": {"data": data}}
        return _error(404, "NOT_FOUND", f"no route {method} {path}")


def _error(code: int, status: str, message: str) -> tuple[int, dict[str, Any]]:
    return code, {"error": {"code": code, "status": status, "message": message}}


@pytest.fixture
def secret_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[SecretManagerStub]:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import secretmanager
    from google.cloud.secretmanager_v1.services.secret_manager_service.transports.rest import (
        SecretManagerServiceRestTransport,
    )

    stub = SecretManagerStub()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            status, answer = stub.answer(self.command, self.path, json.loads(raw) if raw else None)
            encoded = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(encoded)))
            self.end_headers()
            self.wfile.write(encoded)

        do_GET = _serve
        do_POST = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    transport = SecretManagerServiceRestTransport(
        host=f"127.0.0.1:{server.server_address[1]}", url_scheme="http", credentials=AnonymousCredentials()
    )
    client = secretmanager.SecretManagerServiceClient(transport=transport)
    monkeypatch.setattr(secrets, "_client", cache(lambda: client))
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()


def test_a_new_secret_is_created_with_automatic_replication_then_given_a_version(
    secret_manager: SecretManagerStub,
) -> None:
    import google_crc32c

    name = secrets.channel_token_name("acme", "page")
    version = secrets.add_secret_version(name, "EAAsecret", labels={"kind": "channel-token"})

    assert version == f"projects/switchboard-test/secrets/{name}/versions/1"
    (m1, p1, _, b1), (m2, p2, q2, b2), (m3, p3, _, b3) = secret_manager.calls
    assert (m1, p1) == ("POST", f"/v1/projects/switchboard-test/secrets/{name}:addVersion")
    assert (m2, p2, q2["secretId"]) == ("POST", "/v1/projects/switchboard-test/secrets", [name])
    assert b2 == {"replication": {"automatic": {}}, "labels": {"kind": "channel-token"}}
    assert (m3, p3) == (m1, p1)
    assert base64.b64decode(b3["payload"]["data"]) == b"EAAsecret"
    assert int(b3["payload"]["dataCrc32c"]) == google_crc32c.value(b"EAAsecret")
    assert b1 == b3


def test_an_existing_secret_only_gets_a_version(secret_manager: SecretManagerStub) -> None:
    secret_manager.secrets["meta-app-secret"] = [b"old"]
    assert secrets.add_secret_version("meta-app-secret", "new").endswith("/versions/2")
    assert [(m, p) for m, p, _, _ in secret_manager.calls] == [
        ("POST", "/v1/projects/switchboard-test/secrets/meta-app-secret:addVersion")
    ]


def test_reading_uses_the_latest_version_and_caches_it_until_a_rotation(
    secret_manager: SecretManagerStub,
) -> None:
    secret_manager.secrets["channel-token-t-c"] = [b"first"]
    assert secrets.secret("channel-token-t-c") == "first"
    assert secrets.secret("channel-token-t-c") == "first"
    reads = [c for c in secret_manager.calls if c[0] == "GET"]
    assert [p for _, p, _, _ in reads] == [
        "/v1/projects/switchboard-test/secrets/channel-token-t-c/versions/latest:access"
    ]
    secrets.add_secret_version("channel-token-t-c", "second")
    assert secrets.secret("channel-token-t-c") == "second", "a rotation in this process is seen at once"


def test_missing_permission_is_a_clear_permanent_error(secret_manager: SecretManagerStub) -> None:
    secret_manager.deny = True
    with pytest.raises(PermanentError, match="not allowed to write secret x"):
        secrets.add_secret_version("x", "value")
    with pytest.raises(secrets.MissingSecret):
        secrets.secret("x")
