"""The in-process sandbox's app called directly, as a WSGI application, without an HTTP client: the way
``relay sandbox ...`` on the ``local`` profile fires its event, whose answer is the stream of the conversations
played in this same process.

Every other command reaches the in-process sandbox through ``httpx`` (``server.in_process_transport``), which
keeps one request path for all of them. Here httpx would only carry the bytes from one function of this
process to another, and importing it (with the client built on it) is as much work as the rest of the
command's own: a device event would cost noticeably more than ``relay workflow simulate`` of the same app
(benchmarks/sandbox_vs_simulate.py). The answer is the same app's, status and JSON included.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from ..jsontypes import JSONValue
from .app import make_app
from .store import SandboxStore
from .web import Shared

if TYPE_CHECKING:
    from wsgiref.types import WSGIEnvironment


class Refused(Exception):
    """The app answered with an error status: its ``error`` and ``message``, as the API sends them."""

    def __init__(self, status: int, error: str | None, message: str | None) -> None:
        super().__init__(message or error or f"HTTP {status}")
        self.status = status
        self.error = error
        self.message = message or error or f"HTTP {status}"


def _environ(method: str, path: str, query: dict[str, str], body: bytes) -> WSGIEnvironment:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": urlencode(query),
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "sandbox.relay.invalid",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


@contextmanager
def stream(db_path: Path, path: str, subscriber: str | None, body: JSONValue) -> Iterator[Iterator[JSONValue]]:
    """``POST path?subscriber_id=...`` (default: the sandbox's first account, the one ``GET /ibot/authz_context``
    names first): the JSON values of the answer's lines, as the app yields them; ``Refused`` for an error status.
    Leaving the block ends the conversations still being played and closes the database."""
    store = SandboxStore(db_path)
    if subscriber is None:
        accounts = store.accounts()
        subscriber = str(accounts[0]["subscriber_id"]) if accounts else ""
    shared = Shared()
    app = make_app(store, token=None, follow_logs=False, shared=shared)
    status: list[int] = []

    def start_response(line: str, headers: list[tuple[str, str]], exc_info: object = None) -> Callable[[bytes], None]:
        status.append(int(line.split(" ", 1)[0]))
        return lambda data: None

    query = {"subscriber_id": subscriber}
    result = app(_environ("POST", path, query, json.dumps(body).encode("utf-8")), start_response)
    try:
        if status[0] >= 400:
            raw = b"".join(result)
            try:
                answer = json.loads(raw) if raw.strip() else {}
            except ValueError:
                answer = {}
            answer = answer if isinstance(answer, dict) else {}
            raise Refused(status[0], answer.get("error"), answer.get("message"))
        yield _values(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()  # an in-process sandbox's stream stops what it still plays (conversations.stream)
        if shared.runtime is not None:
            shared.runtime.close()
        store.close()


def _values(chunks: Iterable[bytes]) -> Iterator[JSONValue]:
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                yield json.loads(line)
    if pending.strip():
        yield json.loads(pending)
