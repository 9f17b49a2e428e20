"""``--verbose``: one line per HTTP request and per response, on stderr, with credentials redacted.

Used as httpx event hooks by the API client and by the login/refresh requests to the issuer. The
Authorization header is shown as ``Bearer ***``; the values of the profile's extra headers (``RELAY_HEADERS``)
as ``***``; token-like query parameters and form/JSON fields are masked (``relay_cli.core.redact``), and so is
any known secret (``protect``) wherever it appears. Response bodies are never logged.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, TextIO
from urllib.parse import parse_qsl

from ..core import redact

if TYPE_CHECKING:
    import httpx


class HttpLog:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._started: dict[int, float] = {}
        self._private: set[str] = set()
        self._secrets: set[str] = set()

    def protect(self, header_names: set[str], secrets: set[str]) -> None:
        """Never show the values of these headers, nor these values anywhere. ``secrets`` is kept by reference:
        a token added to it later (a refreshed login) is masked too."""
        self._private |= {name.lower() for name in header_names}
        self._secrets = secrets

    def _write(self, text: str) -> None:
        print(redact.known(text, self._secrets), file=self.stream or sys.stderr, flush=True)

    def _header(self, name: str, value: str) -> str:
        if name.lower() in self._private and name.lower() != "authorization":
            return redact.MASK
        return redact.header(name, value)

    def request(self, request: httpx.Request) -> None:
        self._started[id(request)] = time.monotonic()
        headers = ", ".join(
            f"{name}: {self._header(name, value)}"
            for name, value in request.headers.items()
            if name.lower() in ("authorization", "content-type") or name.lower().startswith("x-")
        )
        self._write(f"> {request.method} {redact.url(str(request.url))}" + (f" [{headers}]" if headers else ""))
        body = self._body(request)
        if body:
            self._write(f"> body: {body}")

    def response(self, response: httpx.Response) -> None:
        started = self._started.pop(id(response.request), None)
        took = f" ({(time.monotonic() - started) * 1000:.0f} ms)" if started is not None else ""
        self._write(
            f"< {response.status_code} {response.reason_phrase} {response.request.method} "
            f"{redact.url(str(response.request.url))}{took}"
        )

    @staticmethod
    def _body(request: httpx.Request) -> str:
        try:
            content = request.content
        except Exception:  # noqa: BLE001 - a streaming body (RequestNotRead): not logged
            return ""
        if not content:
            return ""
        kind = request.headers.get("content-type", "")
        text = content.decode("utf-8", "replace")
        if "json" in kind:
            try:
                return json.dumps(redact.fields(json.loads(text)), separators=(",", ":"))
            except ValueError:
                return "(unreadable JSON body)"
        if "x-www-form-urlencoded" in kind:
            pairs = parse_qsl(text, keep_blank_values=True)
            return "&".join(f"{k}={redact.MASK if redact.is_secret_name(k) else v}" for k, v in pairs)
        return f"({len(content)} bytes)"
