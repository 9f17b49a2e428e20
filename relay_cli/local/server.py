"""Serving the sandbox: ``relay server`` over HTTP (wsgiref, one daemon thread per request), or in-process.

- ``serve(db_path, ...)``: blocks until Ctrl-C (or ``stop`` is set), then closes cleanly and returns.
- ``make_server_for(db_path, ...)``: the listening server object without serving it, for callers that want to
  drive ``serve_forever()`` / ``shutdown()`` themselves.
- ``in_process_transport(db_path, token)``: an ``httpx.WSGITransport`` over the app, for a ``local`` profile that
  needs no server at all (the log stream then ends after the backlog).
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from .app import make_app
from .store import SandboxStore

if TYPE_CHECKING:
    import httpx


class _Handler(WSGIRequestHandler):
    """wsgiref's handler, with the per-request log line sent to the server's ``log`` callable (or dropped)."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's parameter name
        log = getattr(self.server, "log", None)
        if log is not None:
            log(f"{self.address_string()} - {format % args}")


class SandboxServer(socketserver.ThreadingMixIn, WSGIServer):
    """A threading WSGI server: a long log stream does not block other requests. Threads are daemons."""

    daemon_threads = True
    allow_reuse_address = True
    log: Callable[[str], None] | None = None
    stop_event: threading.Event
    base_url: str

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), which can wait on reverse DNS; the host is enough.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)
        self.setup_environ()


class _SandboxServer6(SandboxServer):
    address_family = socket.AF_INET6


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def make_server_for(
    db_path: Path | str,
    host: str = "127.0.0.1",
    port: int = 8080,
    token: str | None = None,
    *,
    log: Callable[[str], None] | None = None,
) -> SandboxServer:
    """A bound, listening sandbox server (not yet serving). ``port=0`` picks a free port; the address is in
    ``server.base_url``. Serve with ``server.serve_forever()``; stop with ``server.shutdown()`` from another thread,
    then ``close_server(server)``."""
    store = SandboxStore(Path(db_path))
    stop_event = threading.Event()
    app = make_app(store, token=token, follow_logs=True, stop=stop_event)
    server_class = _SandboxServer6 if ":" in host else SandboxServer
    server = server_class((host, port), _Handler)
    server.set_app(app)
    server.log = log
    server.stop_event = stop_event
    server.base_url = f"http://{_url_host(host)}:{server.server_port}"
    return server


def close_server(server: SandboxServer) -> None:
    """End the open log streams (within one poll interval) and close the listening socket."""
    server.stop_event.set()
    server.server_close()


def serve(
    db_path: Path | str,
    host: str = "127.0.0.1",
    port: int = 8080,
    token: str | None = None,
    ready: Callable[[str], None] | None = None,
    *,
    stop: threading.Event | None = None,
    log: Callable[[str], None] | None = None,
) -> None:
    """Serve the sandbox at ``db_path`` until Ctrl-C (or until ``stop`` is set), then close cleanly and return.

    ``token``: required in every request's ``Authorization`` header (None: no check). ``ready(base_url)`` is
    called once the socket listens (e.g. ``http://127.0.0.1:8080``). ``log`` receives one line per request.
    """
    server = make_server_for(db_path, host, port, token, log=log)
    finished = threading.Event()
    watcher = None
    if stop is not None:

        def watch() -> None:
            while not stop.wait(0.1):
                if finished.is_set():
                    return
            server.shutdown()

        watcher = threading.Thread(target=watch, name="relay-sandbox-stop", daemon=True)
        watcher.start()
    try:
        if ready is not None:
            ready(server.base_url)
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        finished.set()
        close_server(server)
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(timeout=1.0)


def in_process_transport(db_path: Path | str, token: str | None) -> httpx.WSGITransport:
    """An httpx transport that answers from the sandbox at ``db_path`` without a socket (log streams end after
    the backlog)."""
    import httpx

    return httpx.WSGITransport(app=make_app(SandboxStore(Path(db_path)), token=token, follow_logs=False))
