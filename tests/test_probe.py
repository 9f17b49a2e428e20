"""The WebSocket handshake of the checks (``api.probe``): what it asks for, each way a server can fail it named,
a redirect reported and not followed, and its bound, name lookup included."""

from __future__ import annotations

import base64
import hashlib
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from relay_cli import __version__
from relay_cli.api.probe import probe


class OneAnswer:
    """A loopback server that reads one request and answers it with ``answer(request)`` (None: closes at once);
    it keeps what it read, and how many connections it was asked for."""

    def __init__(self, answer: Callable[[bytes], bytes | None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.stopped = threading.Event()
        self.port = self.listener.getsockname()[1]
        self.request = b""
        self.connections = 0

        def serve() -> None:
            while not self.stopped.is_set():
                try:
                    conn, _ = self.listener.accept()
                except TimeoutError:
                    continue
                self.connections += 1
                with conn:
                    conn.settimeout(5)
                    request = b""
                    while b"\r\n\r\n" not in request:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        request += chunk
                    self.request = self.request or request
                    reply = answer(request)
                    if reply is None:
                        continue
                    conn.sendall(reply)
                    try:
                        while conn.recv(4096):  # until the client closes
                            pass
                    except OSError:
                        pass

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()

    def done(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.listener.close()


def accepting(request: bytes, right: bool = True) -> bytes:
    key = re.search(rb"Sec-WebSocket-Key: (\S+)\r\n", request).group(1).decode()  # type: ignore[union-attr]
    accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
        + (accept if right else b"wrong")
        + b"\r\n\r\n"
    )


def test_the_handshake_asks_for_the_uris_path_at_its_host() -> None:
    server = OneAnswer(accepting)
    uri = f"ws://localhost:{server.port}/auto-answer?x=1"
    assert probe([uri], 3.0) == {uri: None}
    server.done()
    request_line, *fields = server.request.decode().split("\r\n")
    headers = {name.lower(): value for name, _, value in (f.partition(": ") for f in fields if f)}
    assert request_line == "GET /auto-answer?x=1 HTTP/1.1"
    assert headers["host"] == f"localhost:{server.port}"
    assert (headers["upgrade"].lower(), headers["sec-websocket-version"]) == ("websocket", "13")
    assert headers["user-agent"] == f"relay-cli/{__version__}"
    assert server.connections == 1


NOT_FOLLOWED = "the server answered HTTP {} instead of switching to WebSocket: a redirect to {}, not followed " \
    "(register the URI it points to)"  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (lambda request: accepting(request, right=False), "the server switched protocols, but not to WebSocket"),
        (lambda request: None,
         "the connection closed without an answer to the handshake (does anything listen behind it?)"),
        (lambda request: b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
         "the server answered HTTP 400 instead of switching to WebSocket: no workflow at this URI's path?"),
        (lambda request: b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
         "the server answered HTTP 404 instead of switching to WebSocket"),
        (lambda request: b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "the server's answer to the handshake is not HTTP"),
        (lambda request: b"HTTP/1.1 301 Moved Permanently\r\nLocation: wss://elsewhere.example.com/x\r\n"
                         b"Content-Length: 0\r\n\r\n",
         NOT_FOLLOWED.format(301, "wss://elsewhere.example.com/x")),
        (lambda request: b"HTTP/1.1 302 Found\r\nLocation: /y\r\nContent-Length: 0\r\n\r\n",
         NOT_FOLLOWED.format(302, "/y")),
    ],
    ids=["not-websocket", "closed", "400", "404", "not-http", "redirect-away", "redirect-here"],
)  # fmt: skip
def test_a_server_that_does_not_switch_to_websocket_is_named(answer: Any, reason: str) -> None:
    """One URI (on this thread) and several (on the pool) are probed alike: the same reason, one connection each
    (a redirect, even to the same server, is not followed)."""
    servers = [OneAnswer(answer) for _ in range(3)]
    one = f"ws://127.0.0.1:{servers[0].port}/x"
    several = [f"ws://127.0.0.1:{server.port}/x" for server in servers[1:]]
    assert probe([one], 3.0) == {one: reason}
    assert probe(several, 3.0) == dict.fromkeys(several, reason)
    for server in servers:
        server.done()
        assert server.connections == 1


def test_many_uris_are_probed_at_once_within_the_timeout() -> None:
    silent = [socket.create_server(("127.0.0.1", 0)) for _ in range(6)]  # accept (the kernel does), never answer
    uris = [f"ws://127.0.0.1:{s.getsockname()[1]}/slow" for s in silent]
    started = time.monotonic()
    try:
        assert probe(uris, 0.3) == dict.fromkeys(uris, "no answer within the timeout")
    finally:
        for s in silent:
            s.close()
    assert time.monotonic() - started < 1.5


def test_a_stalled_name_lookup_does_not_outlive_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(3)
        return real(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    started = time.monotonic()
    result = probe(["wss://myhost.mydomain.com/autoanswerpath"], 0.3)
    elapsed = time.monotonic() - started
    assert result == {"wss://myhost.mydomain.com/autoanswerpath": "no answer within the timeout (host name lookup)"}
    assert elapsed < 1.5


def test_an_unknown_host_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", missing)
    assert probe(["wss://nowhere.invalid/x"], 1.0) == {"wss://nowhere.invalid/x": "host name not found"}
