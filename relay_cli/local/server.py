"""Serving the sandbox: ``relay server`` over HTTP (wsgiref, one daemon thread per connection), or in-process.

- ``serve(db_path, ...)``: blocks until Ctrl-C (or ``stop`` is set), then closes cleanly and returns.
- ``make_server_for(db_path, ...)``: the listening server object without serving it, for callers that want to
  drive ``serve_forever()`` / ``shutdown()`` themselves.
- ``in_process_transport(db_path, token)``: an ``httpx.WSGITransport`` over the app, for a ``local`` profile that
  needs no server at all (the log stream then ends after the backlog, and a workflow conversation the sandbox
  plays ends within the request that started it).
- ``serve`` also starts the timer workflows as they fall due (``conversations.run_timers``); closing a server
  or a transport stops the workflow conversations it plays (docs/sandbox.md).

Under load (CI jobs running many clients at once):

- the listen backlog is ``LISTEN_BACKLOG`` (the kernel may cap it lower), so a burst of connections waits to be
  accepted instead of being reset;
- each connection carries one request (HTTP/1.0, as wsgiref speaks it) and has ``request_timeout`` seconds
  (``REQUEST_TIMEOUT``) to send it in full, request line, headers and body; then its answer gets the same time
  to be taken by the client. A request that is late is answered ``408 request_timeout`` (when anything of it
  arrived) and the connection is closed, so a slow or stalled client never holds a worker thread for longer.
  A log stream (``/ibot/workflowdebug``, no Content-Length) has no overall limit; each of its writes has
  ``request_timeout`` seconds, and the heartbeat every 2 s notices a client that went away.
- at most ``connection_cap()`` connections are open at once, well below the process's file limit: a new one
  beyond that closes the oldest idle connection (one whose request has not arrived in full), or, when every
  connection is being answered, is answered ``503`` with ``Retry-After`` and closed. So idle connections, however
  many, neither take the descriptors a request needs nor keep out a client that sends its request.
- when accepting fails for want of descriptors (EMFILE and the like; the listening socket then stays readable),
  the server closes the oldest idle connection, or rests ``ACCEPT_BACKOFF`` seconds, instead of trying again at
  once in a loop that would take a whole core.
"""

from __future__ import annotations

import errno
import io
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from .app import make_app
from .store import SandboxStore
from .web import Shared

if TYPE_CHECKING:
    from types import TracebackType

    import httpx
    from typing_extensions import Buffer  # collections.abc.Buffer from Python 3.12 on

#: pending connections the kernel queues before accept (Linux caps it at net.core.somaxconn, 4096 by default)
LISTEN_BACKLOG = 1024
#: seconds a client has to send its whole request, and then to take the whole (non-streamed) answer
REQUEST_TIMEOUT = 30.0

_TIMEOUT_BODY = b'{"error": "request_timeout", "message": "the request did not arrive in full within %g s"}'
#: the most connections open at once, whatever the file limit (each has a thread)
MAX_CONNECTIONS = 512
#: file descriptors kept for what is not a connection: the listening socket, stdio, the store's idle connections
RESERVED_FDS = 32
#: seconds the accept loop rests when the process is out of descriptors and no idle connection can be closed
ACCEPT_BACKOFF = 0.05
_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_BUSY_BODY = b'{"error": "server_busy", "message": "every connection the server holds is being answered"}'
_BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(_BUSY_BODY)
) + _BUSY_BODY


def connection_cap() -> int:
    """How many connections the server holds at once: below the file limit (``RLIMIT_NOFILE``), with room for
    each to be answered: a request holds its socket and a database connection (the file, its -wal and -shm), four
    descriptors in all. ``MAX_CONNECTIONS`` at most, 4 at least."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows: no such limit to stay under
        return MAX_CONNECTIONS
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(4, min(MAX_CONNECTIONS, (soft - RESERVED_FDS) // 4))


class _Reader(io.RawIOBase):
    """The connection's read side: every read waits at most until the request's deadline."""

    def __init__(self, handler: _Handler) -> None:
        self.handler = handler

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Buffer) -> int:
        left = self.handler.read_deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request time limit has passed")
        self.handler.connection.settimeout(left)
        n = int(self.handler.connection.recv_into(buffer))
        self.handler.received += n
        return n


class _Writer(io.RawIOBase):
    """The connection's write side: an answer with a Content-Length must be taken within the limit (counted from
    its first byte); a stream's writes each get the limit."""

    def __init__(self, handler: _Handler) -> None:
        self.handler = handler
        self.deadline: float | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: Buffer) -> int:
        handler, now = self.handler, time.monotonic()
        if handler.streaming:
            left = handler.limit
        else:
            if self.deadline is None:
                self.deadline = now + handler.limit
            left = self.deadline - now
            if left <= 0:
                raise TimeoutError("the answer was not taken within the time limit")
        handler.connection.settimeout(left)
        handler.connection.sendall(data)
        return len(memoryview(data))


class _ServerHandler(ServerHandler):
    """wsgiref's per-request handler: knows when the answer is a stream, logs a failure in one line."""

    request_handler: _Handler

    # wsgiref documents _write as the method a handler subclass overrides to send bytes ("Methods and attributes
    # for subclassing" of BaseHandler): it is where the answer's first bytes show whether it is a stream
    def _write(self, data: bytes) -> None:
        headers = getattr(self, "headers", None)  # set by start_response
        self.request_handler.streaming = headers is not None and "Content-Length" not in headers
        super()._write(data)

    def log_exception(
        self, exc_info: tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]
    ) -> None:
        exc = exc_info[1]
        self.request_handler.log_message("error while answering: %s: %s", type(exc).__name__, exc)


class _Handler(WSGIRequestHandler):
    """One connection, one request, within the server's time limit; the log line goes to the server's ``log``
    callable (or is dropped)."""

    server: SandboxServer
    streaming = False

    def setup(self) -> None:
        self.connection = self.request
        self.limit = float(self.server.request_timeout)
        self.read_deadline = time.monotonic() + self.limit
        self.received = 0
        self.rfile = io.BufferedReader(_Reader(self), 1 << 16)
        # buffered: the status line, headers and a short body leave in one packet, on wsgiref's flush
        self.wfile = io.BufferedWriter(_Writer(self), 1 << 16)

    def handle(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414)
                return
            if not self.parse_request():  # an error answer has been sent
                return
            self.server.answering(self.connection)
        except TimeoutError:
            self.answer_timeout()
            return
        app = self.server.get_app()
        assert app is not None  # set by make_server_for
        handler = _ServerHandler(
            self.rfile, cast("IO[bytes]", self.wfile), self.get_stderr(), self.get_environ(), multithread=True
        )
        handler.request_handler = self
        handler.run(app)

    def answer_timeout(self) -> None:
        """The request did not arrive in time: a 408 if any of it came (a client that sent nothing gets nothing)."""
        self.log_message("request timed out after %g s", self.limit)
        self.close_connection = True
        if not self.received:
            return
        body = _TIMEOUT_BODY % self.limit
        head = (
            "HTTP/1.0 408 Request Timeout\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        try:
            self.connection.settimeout(1.0)
            self.connection.sendall(head.encode("ascii") + body)
        except OSError:
            pass

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:  # the flush of an answer the client did not take
            pass

    def log_message(self, format: str, *args: object) -> None:
        log = getattr(self.server, "log", None)
        if log is not None:
            log(f"{self.address_string()} - {format % args}")


class SandboxServer(socketserver.ThreadingMixIn, WSGIServer):
    """A threading WSGI server: a long log stream does not block other requests. Threads are daemons.

    It holds at most ``max_connections`` connections (the module docstring says how); each open one is in
    ``_open``, in the order they were accepted, marked True once its request has arrived and is being answered."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG
    request_timeout: float = REQUEST_TIMEOUT
    max_connections: int = MAX_CONNECTIONS
    log: Callable[[str], None] | None = None
    stop_event: threading.Event
    base_url: str
    store: SandboxStore
    #: what the app's requests share: the Runtime of the workflow conversations it plays, once it played one
    shared: Shared

    def __init__(self, address: tuple[str, int], handler: type[WSGIRequestHandler]) -> None:
        self._open: dict[socket.socket, bool] = {}
        self._open_guard = threading.Lock()
        super().__init__(address, handler)

    # --- holding connections: socketserver's documented hooks ----------------------------------------------

    def get_request(self) -> tuple[socket.socket, tuple[object, ...]]:
        try:
            return self.socket.accept()
        except OSError as exc:
            if exc.errno in _OUT_OF_DESCRIPTORS:
                # the listening socket stays readable: trying again at once would spin; free a descriptor or rest
                time.sleep(0.01 if self._close_oldest_idle() else ACCEPT_BACKOFF)
            raise

    def verify_request(self, request: _Request, client_address: tuple[object, ...]) -> bool:
        request = _connection(request)
        with self._open_guard:
            if len(self._open) >= self.max_connections and not self._close_oldest_idle_locked():
                turn_away = True
            else:
                self._open[request] = False
                turn_away = False
        if turn_away:
            try:
                request.setblocking(False)
                request.send(_BUSY)
            except OSError:
                pass
            if self.log is not None:
                self.log(f"{client_address[0]} - 503: all {self.max_connections} connections are being answered")
        return not turn_away

    def answering(self, request: socket.socket) -> None:
        """The connection's request has arrived: it is no longer idle, and is not closed to make room."""
        with self._open_guard:
            if request in self._open:
                self._open[request] = True

    def shutdown_request(self, request: _Request) -> None:
        with self._open_guard:
            self._open.pop(_connection(request), None)
        super().shutdown_request(request)

    def open_connections(self) -> tuple[int, int]:
        """(connections open, of which idle)."""
        with self._open_guard:
            return len(self._open), sum(1 for busy in self._open.values() if not busy)

    def _close_oldest_idle(self) -> bool:
        with self._open_guard:
            return self._close_oldest_idle_locked()

    def _close_oldest_idle_locked(self) -> bool:
        """Close the connection idle the longest (its thread's read ends at once, and the thread closes it)."""
        oldest = next((request for request, busy in self._open.items() if not busy), None)
        if oldest is None:
            return False
        del self._open[oldest]
        try:
            oldest.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return True

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), which can wait on reverse DNS; the host is enough.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)
        self.setup_environ()

    def handle_error(self, request: _Request, client_address: tuple[object, ...]) -> None:
        """One line, never a traceback: a connection that failed is that client's problem, not the server's."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # reset, broken pipe, timed out: the client went away
            if self.log is not None:
                self.log(f"{client_address[0]} - connection failed: {type(exc).__name__}: {exc}")
            return
        line = f"relay server: error while serving {client_address[0]}: {type(exc).__name__}: {exc}"
        if self.log is not None:
            self.log(line)
        else:
            print(line, file=sys.stderr, flush=True)


#: a request as socketserver hands it over: a stream server's is its connection (a datagram server's, the data
#: and the socket)
_Request = socket.socket | tuple[bytes, socket.socket]


def _connection(request: _Request) -> socket.socket:
    return request if isinstance(request, socket.socket) else request[1]


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
    request_timeout: float = REQUEST_TIMEOUT,
    max_connections: int | None = None,
) -> SandboxServer:
    """A bound, listening sandbox server (not yet serving). ``port=0`` picks a free port; the address is in
    ``server.base_url``. Serve with ``server.serve_forever()``; stop with ``server.shutdown()`` from another thread,
    then ``close_server(server)``. ``request_timeout``: seconds a client has to send a request, and then to take
    its answer; ``max_connections``: how many it holds at once (default ``connection_cap()``; see the module
    docstring)."""
    store = SandboxStore(Path(db_path))
    stop_event = threading.Event()
    shared = Shared()
    app = make_app(store, token=token, follow_logs=True, stop=stop_event, background=True, shared=shared)
    server_class = _SandboxServer6 if ":" in host else SandboxServer
    server = server_class((host, port), _Handler)
    server.set_app(app)
    server.log = log
    server.request_timeout = request_timeout
    server.max_connections = max_connections or connection_cap()
    server.store = store
    server.shared = shared
    server.stop_event = stop_event
    server.base_url = f"http://{_url_host(host)}:{server.server_port}"
    return server


def close_server(server: SandboxServer) -> None:
    """End the open log streams (within one poll interval) and the workflow conversations (STOP, then each
    instance ends), and close the listening socket."""
    server.stop_event.set()
    if server.shared.runtime is not None:
        server.shared.runtime.close()
    server.server_close()
    server.store.close()


def start_timers(server: SandboxServer) -> None:
    """Run the timer workflows of the served sandbox as they fall due, until ``close_server``."""
    from .conversations import run_timers, shared_runtime

    run_timers(shared_runtime(server.shared, server.store, background=True))


def serve(
    db_path: Path | str,
    host: str = "127.0.0.1",
    port: int = 8080,
    token: str | None = None,
    ready: Callable[[str], None] | None = None,
    *,
    stop: threading.Event | None = None,
    log: Callable[[str], None] | None = None,
    request_timeout: float = REQUEST_TIMEOUT,
) -> None:
    """Serve the sandbox at ``db_path`` until Ctrl-C (or until ``stop`` is set), then close cleanly and return.

    ``token``: required in every request's ``Authorization`` header (None: no check). ``ready(base_url)`` is
    called once the socket listens (e.g. ``http://127.0.0.1:8080``). ``log`` receives one line per request.
    """
    server = make_server_for(db_path, host, port, token, log=log, request_timeout=request_timeout)
    start_timers(server)
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
    the backlog). Closing it closes the database connections it kept open."""
    import httpx

    store = SandboxStore(Path(db_path))
    shared = Shared()

    class SandboxTransport(httpx.WSGITransport):
        def close(self) -> None:
            if shared.runtime is not None:
                shared.runtime.close()
            store.close()

    return SandboxTransport(app=make_app(store, token=token, follow_logs=False, shared=shared))
