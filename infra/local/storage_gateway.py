"""Cloud Storage's signed-URL checks, in front of the local Cloud Storage emulator.

fake-gcs-server (the emulator the local stack runs) serves any request and checks no signature, so
the local stack puts this gateway where production has ``https://storage.googleapis.com``: signed
media URLs (``shared/media/storage.py``) point at it. It does what Cloud Storage does with a V4
signed URL, and no more:

- recomputes the canonical request (method, path, sorted query without ``X-Goog-Signature``, the
  signed headers with the values this request carries, ``UNSIGNED-PAYLOAD``) and verifies the
  ``GOOG4-RSA-SHA256`` signature with the signer's public key: a changed path, query, header or
  signature is refused ``403 SignatureDoesNotMatch``;
- refuses ``400 ExpiredToken`` once ``X-Goog-Date`` + ``X-Goog-Expires`` has passed (and an
  ``X-Goog-Expires`` over 7 days), ``400`` without the V4 parameters;
- then serves the object (GET, with ``response-content-type`` / ``response-content-disposition``),
  or starts a resumable upload (POST with ``x-goog-resumable: start``; ``201`` and a session
  ``Location``; the session is the capability, as in Cloud Storage) whose PUTs it forwards,
  enforcing the signed ``x-goog-content-length-range``;
- answers CORS for the configured origins (the bucket's CORS in ``infra/storage.tf``).

Unsigned requests never reach the emulator through here. Run in-process by the local stack
(:class:`StorageGateway`), bound to 127.0.0.1.
"""

from __future__ import annotations

import binascii
import contextlib
import datetime as dt
import hashlib
import json
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MAX_EXPIRES = 7 * 24 * 3600
SIGNER_EMAIL = "media-signer@switchboard-local.iam.gserviceaccount.com"


def write_signing_key(path: Path, email: str = SIGNER_EMAIL) -> bytes:
    """Generate an RSA key, write it as a service-account JSON key at ``path`` (what the functions
    sign with locally) and return the public key in PEM (what the gateway verifies with)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": email.split("@", 1)[1].split(".", 1)[0],
                "private_key_id": secrets.token_hex(20),
                "private_key": private_pem,
                "client_email": email,
                "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    path.chmod(0o600)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _url_encode(params: Sequence[tuple[str, str]]) -> str:
    # As google-cloud-storage's _signing._url_encode: sorted, both sides quoted with safe="".
    return "&".join(
        f"{urllib.parse.quote(str(k), safe='')}={urllib.parse.quote(str(v), safe='')}"
        for k, v in sorted(params)
    )


class Refusal(Exception):
    """A request Cloud Storage would refuse, with its status and XML error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass
class Verifier:
    """Checks V4 signed URLs against the signers' public keys (email -> PEM)."""

    public_keys: dict[str, bytes]
    clock: Any = field(default=lambda: dt.datetime.now(dt.UTC))

    def verify(self, method: str, raw_path: str, raw_query: str, headers: dict[str, str]) -> dict[str, str]:
        """Raise Refusal unless the request carries a valid, unexpired V4 signature; return the
        query parameters."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        pairs = urllib.parse.parse_qsl(raw_query, keep_blank_values=True)
        query = dict(pairs)
        required = (
            "X-Goog-Algorithm",
            "X-Goog-Credential",
            "X-Goog-Date",
            "X-Goog-Expires",
            "X-Goog-SignedHeaders",
            "X-Goog-Signature",
        )
        missing = [name for name in required if name not in query]
        if missing:
            raise Refusal(403, "AccessDenied", f"anonymous caller: missing {', '.join(missing)}")
        if query["X-Goog-Algorithm"] != "GOOG4-RSA-SHA256":
            raise Refusal(400, "InvalidArgument", "unsupported X-Goog-Algorithm")
        try:
            signed_at = dt.datetime.strptime(query["X-Goog-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
            expires = int(query["X-Goog-Expires"])
        except ValueError as exc:
            raise Refusal(400, "InvalidArgument", "malformed X-Goog-Date or X-Goog-Expires") from exc
        if not 1 <= expires <= MAX_EXPIRES:
            raise Refusal(400, "InvalidArgument", "X-Goog-Expires must be 1..604800")
        now = self.clock()
        if now > signed_at + dt.timedelta(seconds=expires):
            raise Refusal(400, "ExpiredToken", "Invalid argument: the signed URL has expired")
        if signed_at > now + dt.timedelta(minutes=15):
            raise Refusal(400, "InvalidArgument", "X-Goog-Date is in the future")
        credential = query["X-Goog-Credential"]
        email, _, scope = credential.partition("/")
        public_pem = self.public_keys.get(email)
        if public_pem is None:
            raise Refusal(403, "AccessDenied", f"{email} may not access this bucket")
        signed_names = query["X-Goog-SignedHeaders"].split(";")
        lowered = {k.lower(): " ".join(v.split()) for k, v in headers.items()}
        if "host" not in signed_names:
            raise Refusal(400, "InvalidArgument", "host must be signed")
        canonical_headers = "".join(f"{name}:{lowered.get(name, '')}\n" for name in signed_names)
        canonical_query = _url_encode([(k, v) for k, v in pairs if k != "X-Goog-Signature"])
        canonical_request = "\n".join(
            [method, raw_path, canonical_query, canonical_headers, ";".join(signed_names), "UNSIGNED-PAYLOAD"]
        )
        string_to_sign = "\n".join(
            [
                "GOOG4-RSA-SHA256",
                query["X-Goog-Date"],
                scope,
                hashlib.sha256(canonical_request.encode()).hexdigest(),
            ]
        )
        try:
            signature = binascii.unhexlify(query["X-Goog-Signature"])
            key = serialization.load_pem_public_key(public_pem)
            key.verify(signature, string_to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]
        except (InvalidSignature, binascii.Error, ValueError) as exc:
            raise Refusal(
                403, "SignatureDoesNotMatch", "The request signature we calculated does not match"
            ) from exc
        return query


@dataclass
class _Session:
    bucket: str
    name: str
    upstream: str  # the emulator's session URL
    max_bytes: int | None
    content_type: str
    received: int = 0


class StorageGateway:
    """The in-process gateway: ``start()``, ``base_url``, ``stop()``."""

    def __init__(
        self,
        emulator_url: str,
        public_keys: dict[str, bytes],
        cors_origins: Sequence[str] = (),
        port: int = 0,
    ) -> None:
        self.emulator_url = emulator_url.rstrip("/")
        self.verifier = Verifier(dict(public_keys))
        self.cors_origins = list(cors_origins)
        self.sessions: dict[str, _Session] = {}
        self.refusals: list[tuple[str, int, str]] = []  # (path, status, code): what tests read
        self._lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def do_OPTIONS(self) -> None:
                gateway.preflight(self)

            def do_GET(self) -> None:
                gateway.handle(self, "GET")

            def do_HEAD(self) -> None:
                gateway.handle(self, "HEAD")

            def do_POST(self) -> None:
                gateway.handle(self, "POST")

            def do_PUT(self) -> None:
                gateway.handle(self, "PUT")

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> StorageGateway:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="storage-gateway", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> StorageGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- HTTP ---------------------------------------------------------------------------------

    def _cors(self, request: BaseHTTPRequestHandler) -> dict[str, str]:
        origin = request.headers.get("Origin", "")
        if origin and (origin in self.cors_origins or "*" in self.cors_origins):
            return {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Expose-Headers": "Location, Content-Length, Content-Type, Range",
                "Vary": "Origin",
            }
        return {}

    def preflight(self, request: BaseHTTPRequestHandler) -> None:
        headers = self._cors(request)
        if headers:
            headers.update(
                {
                    "Access-Control-Allow-Methods": "GET, HEAD, PUT, POST",
                    "Access-Control-Allow-Headers": "Content-Type, Content-Range, x-goog-resumable, "
                    "x-goog-content-length-range",
                    "Access-Control-Max-Age": "3600",
                }
            )
        self._send(request, 200 if headers else 403, b"", headers)

    def _send(
        self, request: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        request.send_response(status)
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)

    def _refuse(self, request: BaseHTTPRequestHandler, refusal: Refusal) -> None:
        with self._lock:
            self.refusals.append((request.path.split("?", 1)[0], refusal.status, refusal.code))
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{refusal.code}</Code>"
            f"<Message>{refusal}</Message></Error>"
        ).encode()
        self._drain(request)
        self._send(request, refusal.status, body, {"Content-Type": "application/xml", **self._cors(request)})

    def _drain(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        while length > 0:
            chunk = request.rfile.read(min(length, 65536))
            if not chunk:
                break
            length -= len(chunk)

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        raw_path, _, raw_query = request.path.partition("?")
        try:
            if raw_path.startswith("/upload-session/"):
                self._session_put(request, raw_path.rsplit("/", 1)[-1], method)
                return
            query = self.verifier.verify(method, raw_path, raw_query, dict(request.headers.items()))
            bucket, _, encoded_name = raw_path.lstrip("/").partition("/")
            name = urllib.parse.unquote(encoded_name)
            if not bucket or not name:
                raise Refusal(400, "InvalidArgument", "no object named")
            if method in ("GET", "HEAD"):
                self._download(request, bucket, name, query)
            elif method == "POST" and request.headers.get("x-goog-resumable") == "start":
                self._start_session(request, bucket, name)
            else:
                raise Refusal(400, "InvalidArgument", f"{method} is not served through this gateway")
        except Refusal as refusal:
            self._refuse(request, refusal)

    def _download(
        self, request: BaseHTTPRequestHandler, bucket: str, name: str, query: dict[str, str]
    ) -> None:
        quoted = urllib.parse.quote(name, safe="")
        try:
            with urllib.request.urlopen(  # noqa: S310 - the local emulator
                f"{self.emulator_url}/storage/v1/b/{bucket}/o/{quoted}", timeout=30
            ) as response:
                meta = json.loads(response.read())
            with urllib.request.urlopen(  # noqa: S310 - the local emulator
                f"{self.emulator_url}/download/storage/v1/b/{bucket}/o/{quoted}?alt=media", timeout=60
            ) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise Refusal(404, "NoSuchKey", "The specified key does not exist.") from exc
            raise Refusal(502, "InternalError", f"emulator answered {exc.code}") from exc
        headers = {
            "Content-Type": query.get("response-content-type")
            or meta.get("contentType")
            or "application/octet-stream",
            "Content-Disposition": query.get("response-content-disposition")
            or meta.get("contentDisposition")
            or "",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=300",
            **self._cors(request),
        }
        self._send(request, 200, body, {k: v for k, v in headers.items() if v})

    def _start_session(self, request: BaseHTTPRequestHandler, bucket: str, name: str) -> None:
        self._drain(request)
        length_range = request.headers.get("x-goog-content-length-range")
        max_bytes = None
        if length_range:
            with contextlib.suppress(ValueError):
                max_bytes = int(length_range.split(",", 1)[1])
        metadata = {
            "name": name,
            "contentType": request.headers.get("Content-Type") or "application/octet-stream",
        }
        quoted = urllib.parse.quote(name, safe="")
        upstream_request = urllib.request.Request(  # noqa: S310 - the local emulator
            f"{self.emulator_url}/upload/storage/v1/b/{bucket}/o?uploadType=resumable&name={quoted}",
            data=json.dumps(metadata).encode(),
            headers={"Content-Type": "application/json", "X-Upload-Content-Type": metadata["contentType"]},
            method="POST",
        )
        try:
            with urllib.request.urlopen(upstream_request, timeout=30) as response:  # noqa: S310
                upstream = response.headers["Location"]
        except urllib.error.HTTPError as exc:
            raise Refusal(502, "InternalError", f"emulator answered {exc.code}") from exc
        session_id = secrets.token_urlsafe(24)
        with self._lock:
            self.sessions[session_id] = _Session(bucket, name, upstream, max_bytes, metadata["contentType"])
        host = request.headers.get("Host") or self.base_url.split("//", 1)[1]
        self._send(
            request,
            201,
            b"",
            {"Location": f"http://{host}/upload-session/{session_id}", **self._cors(request)},
        )

    def _session_put(self, request: BaseHTTPRequestHandler, session_id: str, method: str) -> None:
        with self._lock:
            session = self.sessions.get(session_id)
        if session is None or method != "PUT":
            raise Refusal(404, "NoSuchUpload", "no such upload session")
        length = int(request.headers.get("Content-Length") or 0)
        content_range = request.headers.get("Content-Range")
        total: int | None = None
        if content_range and "/" in content_range:
            with contextlib.suppress(ValueError):
                total = int(content_range.rsplit("/", 1)[1])
        if session.max_bytes is not None and (
            session.received + length > session.max_bytes or (total is not None and total > session.max_bytes)
        ):
            raise Refusal(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
        body = request.rfile.read(length) if length else b""
        headers = {"Content-Length": str(len(body)), "Content-Type": session.content_type}
        if content_range:
            headers["Content-Range"] = content_range
        upstream_request = urllib.request.Request(  # noqa: S310 - the emulator's session URL
            session.upstream, data=body, headers=headers, method="PUT"
        )
        try:
            with urllib.request.urlopen(upstream_request, timeout=60) as response:  # noqa: S310
                status, payload = response.status, response.read()
                upstream_headers = dict(response.headers.items())
        except urllib.error.HTTPError as exc:
            status, payload, upstream_headers = exc.code, exc.read(), dict(exc.headers.items())
        with self._lock:
            session.received += len(body)
            if status in (200, 201):
                self.sessions.pop(session_id, None)
        out = {
            "Content-Type": upstream_headers.get("Content-Type", "application/json"),
            **self._cors(request),
        }
        if "Range" in upstream_headers:
            out["Range"] = upstream_headers["Range"]
        self._send(request, status, payload, out)
