"""Downloading a provider's media file (each channel module's ``fetch_media`` ends here).

One GET, streamed and capped: the body is read up to ``limit`` bytes, never more. Status codes map
the way every provider's media endpoints answer: 404/410 (and 403 on an expired, signed CDN URL)
mean the file is gone for good (:class:`~shared.errors.MediaUnavailable`, never retried); 408, 429
and 5xx, timeouts and broken connections are transient (retried by the queue); other refusals are
permanent provider errors. Names no provider.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

from shared.errors import MediaUnavailable, ProviderError

CHUNK = 256 * 1024
_FILENAME = re.compile(r"""filename\*?=(?:UTF-8'')?"?([^";]+)"?""", re.IGNORECASE)


def host_allowed(url: str, hosts: Iterable[str]) -> bool:
    """True when ``url`` is http(s) on one of ``hosts`` (a leading dot: that domain's subdomains)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        return False
    for entry in hosts:
        allowed = entry.lower()
        if allowed.startswith(".") and (host.endswith(allowed) or host == allowed[1:]):
            return True
        if host == allowed:
            return True
    return False


def file_name_of(headers: Mapping[str, str]) -> str | None:
    """The file name a Content-Disposition header names, if any."""
    match = _FILENAME.search(headers.get("Content-Disposition", "") or "")
    return urllib.parse.unquote(match.group(1)).strip() if match else None


def get(
    url: str,
    *,
    channel: str,
    timeout: float,
    limit: int,
    headers: Mapping[str, str] | None = None,
    auth: Any = None,
    params: Mapping[str, str] | None = None,
) -> tuple[bytes, Mapping[str, str]]:
    """The body (at most ``limit`` bytes) and headers of a GET; raise as the module describes."""
    import requests

    try:
        response = requests.get(
            url, headers=dict(headers or {}), auth=auth, params=params, timeout=timeout, stream=True
        )
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise ProviderError(
            f"media download failed: {type(exc).__name__}",
            channel=channel,
            code=None,
            http_status=None,
            transient=True,
        ) from exc
    with response:
        status = response.status_code
        if status in (404, 410):
            raise MediaUnavailable(f"the provider no longer has this media (HTTP {status})")
        if status == 403 and not auth and "Authorization" not in (headers or {}):
            raise MediaUnavailable("the media URL has expired or was revoked (HTTP 403)")
        if status in (408, 429) or status >= 500:
            retry_after = response.headers.get("Retry-After")
            raise ProviderError(
                f"media download failed with HTTP {status}",
                channel=channel,
                code=str(status),
                http_status=status,
                transient=True,
                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        if status >= 400:
            raise ProviderError(
                f"media download refused with HTTP {status}",
                channel=channel,
                code=str(status),
                http_status=status,
                transient=False,
                health="permission" if status in (401, 403) else None,
            )
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise MediaUnavailable(f"the media is larger than {limit} bytes ({declared})")
        body = bytearray()
        try:
            for chunk in response.iter_content(CHUNK):
                body.extend(chunk)
                if len(body) > limit:
                    raise MediaUnavailable(f"the media is larger than {limit} bytes")
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise ProviderError(
                f"media download broke off: {type(exc).__name__}",
                channel=channel,
                code=None,
                http_status=None,
                transient=True,
            ) from exc
        return bytes(body), response.headers
