"""The sandbox's small HTTP toolkit: a request, a response, an error answer, and the routing table's entries.

A handler is a plain function ``handler(request, store) -> Response`` (``handlers.py``); ``Route`` pairs it with a
method and a path pattern whose ``{name}`` segments arrive in ``request.path_params``. ``find_route`` picks the
route for a request, or raises the 404 / 405 answer. Nothing here knows the Relay API.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import parse_qs

from ..jsontypes import JSONValue

if TYPE_CHECKING:
    from wsgiref.types import WSGIEnvironment

    from .conversations import Runtime
    from .store import SandboxStore

MAX_BODY = 1 << 20
POLL_INTERVAL = 0.5
HEARTBEAT_INTERVAL = 2.0
JSON = "application/json"


class HttpError(Exception):
    """An error answer: status, the ``error`` code and a ``message`` for people."""

    def __init__(self, status: int, error: str, message: str, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or []


def bad_request(message: str, error: str = "invalid_request") -> HttpError:
    return HttpError(400, error, message)


def not_found(message: str) -> HttpError:
    return HttpError(404, "not_found", message)


@dataclass
class Shared:
    """What an app's requests share: its conversations' ``Runtime``, made on first use (whoever made the app
    closes it when it stops serving)."""

    runtime: Runtime | None = None


@dataclass(frozen=True)
class Options:
    """What an app was made with, for the handlers whose answer depends on it.

    ``follow_logs``: False → the log stream answers the backlog and ends (in-process use); True → it stays open,
    polling the event log every ``poll_interval`` seconds (a blank line every ``heartbeat_interval`` idle seconds,
    to notice a client that went away) until the client disconnects or ``stop`` is set. ``upload_key`` signs
    this app's presigned upload URLs. ``background``: the conversations the sandbox plays outlive the request
    that started them (``relay server``); ``shared``: what the app's requests share (its conversations'
    ``Runtime``, made on first use).
    """

    follow_logs: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    poll_interval: float = POLL_INTERVAL
    heartbeat_interval: float = HEARTBEAT_INTERVAL
    upload_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    background: bool = False
    shared: Shared = field(default_factory=Shared)


class Request:
    """One WSGI request: method, path (UTF-8 text), the first value of each query parameter, the body on demand,
    and the ``{name}`` segments of the route it matched in ``path_params``."""

    def __init__(self, environ: WSGIEnvironment, options: Options | None = None) -> None:
        self.environ = environ
        self.options = options if options is not None else Options()
        self.method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        self.path = _path_of(environ)
        self.query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        self.path_params: dict[str, str] = {}
        self._body: bytes | None = None

    def header(self, name: str) -> str | None:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        value = self.environ.get(key)
        return None if value is None else str(value)

    def body(self) -> bytes:
        if self._body is None:
            try:
                length = int(self.environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                raise bad_request("Content-Length is not a number") from None
            if length > MAX_BODY:
                raise HttpError(413, "payload_too_large", f"the body is larger than {MAX_BODY} bytes")
            self._body = read_input(self.environ, length) if length > 0 else b""
        return self._body

    def json(self) -> JSONValue:
        raw = self.body()
        if not raw.strip():
            raise bad_request("expected a JSON body, got an empty one")
        try:
            value: JSONValue = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            raise bad_request(f"malformed JSON body: {exc}") from None
        return value

    def param(self, name: str) -> str | None:
        """A query parameter; None when it is missing or empty."""
        value = self.query.get(name)
        return value if value else None


def read_input(environ: WSGIEnvironment, size: int) -> bytes:
    """Up to ``size`` bytes of the request body (fewer at its end). ``relay server`` bounds the time a request may
    take to arrive; a body that misses it is 408 ``request_timeout``."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    try:
        return bytes(stream.read(size))
    except TimeoutError:
        raise HttpError(408, "request_timeout", "the request body did not arrive in full in time") from None


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _path_of(environ: WSGIEnvironment) -> str:
    path = str(environ.get("PATH_INFO") or "/")
    try:  # PEP 3333: PATH_INFO is bytes decoded as latin-1; undo that to get the UTF-8 text
        path = path.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return path


class Response:
    """An answer: ``body`` as JSON, or nothing (``empty``), or a ``stream`` of byte chunks."""

    def __init__(
        self,
        status: int = 200,
        body: object = None,
        *,
        empty: bool = False,
        stream: Iterator[bytes] | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.empty = empty
        self.stream = stream
        self.headers = headers or []


Handler = Callable[[Request, "SandboxStore"], Response]


class Route:
    """``method`` + ``pattern`` → ``handler``. In the pattern, ``{name}`` matches one path segment (no ``/``)."""

    def __init__(self, method: str, pattern: str, handler: Handler) -> None:
        self.method = method
        self.pattern = pattern
        self.handler = handler
        parts = re.split(r"\{(\w+)\}", pattern)
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
        self.regex = re.compile(regex)

    def __repr__(self) -> str:
        return f"Route({self.method} {self.pattern} → {self.handler.__name__})"


def find_route(routes: Sequence[Route], method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for ``method`` and ``path`` and the path's ``{name}`` values. Raises 404 when no route has the
    path, 405 (with ``Allow``, the path's methods in table order) when none of those has the method."""
    allowed: list[str] = []
    for route in routes:
        match = route.regex.fullmatch(path)
        if match is None:
            continue
        if route.method == method:
            return route, match.groupdict()
        allowed.append(route.method)
    if allowed:
        allow = ", ".join(allowed)
        raise HttpError(
            405, "method_not_allowed", f"{method} is not allowed on {path}; use {allow}", headers=[("Allow", allow)]
        )
    raise not_found(f"no such endpoint: {path}")


def status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def dumps(value: object) -> bytes:
    """JSON as the service writes it: ASCII, ``", "`` and ``": "`` separators."""
    return json.dumps(value, ensure_ascii=True, separators=(", ", ": ")).encode("ascii")
