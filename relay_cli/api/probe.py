"""The WebSocket opening handshake a check makes to a workflow's URI (``check``, ``create call``, ``install``,
``apply``, ``doctor``, ``dev --device``'s public address).

One implementation for one URI and for many: RFC 6455's opening (4.1) on a socket, each address of the host in
turn, TLS for ``wss://`` with the default trust store; one URI on the calling thread, several on a small pool of
threads. Nothing is sent after the server has switched but a close frame. A redirect is reported, not followed:
the Relay server connects to the URI as registered.

Why not the ``websockets`` package (which ``relay workflow simulate`` uses): importing its client costs a
``create call`` on a big account more than its whole handshake, and takes that create past its target against
the reference CLI (benchmarks/vs_reference.py); the opening is the only part of the protocol a check needs.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from .. import __version__

DEFAULT_TIMEOUT = 3.0
#: handshakes in flight at once
CONCURRENCY = 32
#: RFC 6455, 1.3: what the server appends to the client's key before hashing it
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: the most of a handshake answer read (its status line and headers)
_ANSWER_LIMIT = 16 * 1024
_CLOSED = "the connection closed without an answer to the handshake (does anything listen behind it?)"
_NOT_HTTP = "the server's answer to the handshake is not HTTP"
_NOT_WEBSOCKET = "the server switched protocols, but not to WebSocket"


class _NotSwitched(Exception):
    """The server answered the opening handshake, but not by switching to WebSocket: ``status`` is its HTTP status
    (None: no HTTP answer, ``what`` says which), ``location`` a redirect's target."""

    def __init__(self, status: int | None, what: str = "", location: str | None = None) -> None:
        super().__init__(what)
        self.status = status
        self.location = location


def _status_failure(status: int, location: str | None) -> str:
    """Why an answer of HTTP ``status`` is not a handshake (``location``: where a redirect points)."""
    if status == 400:  # relay-js (@relaypro/sdk) refuses a path it serves no workflow on with 400
        return "the server answered HTTP 400 instead of switching to WebSocket: no workflow at this URI's path?"
    if 300 <= status < 400:
        where = f" to {location}" if location else ""
        return (
            f"the server answered HTTP {status} instead of switching to WebSocket: a redirect{where}, not followed "
            "(register the URI it points to)"
        )
    return f"the server answered HTTP {status} instead of switching to WebSocket"


def handshake_failure(exc: BaseException, timeout: float | None = None) -> str:
    """Why a WebSocket opening handshake failed, in words for the user: this module's, and `workflow simulate`'s
    (the websockets package's exceptions)."""
    if isinstance(exc, _NotSwitched):
        if exc.status is None or exc.status == 101:
            return str(exc)
        return _status_failure(exc.status, exc.location)
    if isinstance(exc, TimeoutError):
        return f"no WebSocket handshake within {timeout:g}s" if timeout else "no answer within the timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    import socket
    import ssl

    if isinstance(exc, socket.gaierror):
        return "host name not found"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    if type(exc).__module__.startswith("websockets"):  # simulate's client: imported already
        from websockets.exceptions import InvalidHandshake, InvalidMessage, InvalidStatus, InvalidURI

        if isinstance(exc, InvalidStatus):
            return _status_failure(exc.response.status_code, exc.response.headers.get("Location"))
        if isinstance(exc, InvalidURI):
            return "not a valid WebSocket URI"
        if isinstance(exc, InvalidMessage):
            return _CLOSED if isinstance(exc.__cause__, EOFError) else _NOT_HTTP
        if isinstance(exc, InvalidHandshake):
            return _NOT_WEBSOCKET
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _resolve_all(uris: list[str], timeout: float) -> dict[str, tuple[list[str], int] | str]:
    """URI → (addresses, port) or the reason it could not be resolved, within ``timeout`` in all.

    Name lookups run in daemon threads: a stalled resolver cannot hold the probe (or the exit of the
    process) past the timeout.
    """
    import socket
    import threading
    from urllib.parse import urlsplit

    results: dict[str, tuple[list[str], int] | str] = {}
    threads = []

    def lookup(uri: str) -> None:
        try:
            parts = urlsplit(uri)
            port = parts.port or (443 if parts.scheme == "wss" else 80)
            if not parts.hostname or parts.scheme not in ("ws", "wss"):
                results[uri] = "not a valid WebSocket URI"
                return
            infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
            results[uri] = (list(dict.fromkeys(str(info[4][0]) for info in infos)), port)
        except socket.gaierror:
            results[uri] = "host name not found"
        except (OSError, ValueError) as exc:
            results[uri] = handshake_failure(exc)

    for uri in uris:
        thread = threading.Thread(target=lookup, args=(uri,), name="relay-probe-dns", daemon=True)
        thread.start()
        threads.append(thread)
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return {uri: results.get(uri, "no answer within the timeout (host name lookup)") for uri in uris}


def _handshake(uri: str, host: str, port: int, timeout: float) -> None:
    """The WebSocket opening handshake of RFC 6455 (4.1) to ``uri``, over TCP to ``host`` (an address of its host)
    and ``port``, with TLS for ``wss://`` (the URI's host name verified), all within ``timeout``; then a close
    frame, and the connection closed. Raises when the server does not switch to WebSocket (``_NotSwitched``), or
    the connection, TLS or time fails."""
    import base64
    import hashlib
    import os
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    hostname = parts.hostname or ""
    deadline = time.monotonic() + timeout

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the handshake took longer than the timeout")
        return remaining

    sock = socket.create_connection((host, port), timeout=left())
    try:
        if parts.scheme == "wss":
            import ssl

            sock.settimeout(left())
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=hostname)
        key = base64.b64encode(os.urandom(16)).decode()
        named = f"[{hostname}]" if ":" in hostname else hostname
        if parts.port is not None and parts.port != (443 if parts.scheme == "wss" else 80):
            named += f":{parts.port}"
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request = (
            f"GET {target} HTTP/1.1\r\nHost: {named}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: relay-cli/{__version__}\r\n\r\n"
        )
        sock.settimeout(left())
        sock.sendall(request.encode("utf-8"))
        answer = b""
        while b"\r\n\r\n" not in answer:
            sock.settimeout(left())
            chunk = sock.recv(4096)
            if not chunk:
                raise _NotSwitched(None, _CLOSED)
            answer += chunk
            if len(answer) > _ANSWER_LIMIT:
                raise _NotSwitched(None, _NOT_HTTP)
        lines = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or not status[0].startswith("HTTP/1.") or len(status[1]) != 3 or not status[1].isdigit():
            raise _NotSwitched(None, _NOT_HTTP)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if status[1] != "101":
            raise _NotSwitched(int(status[1]), location=headers.get("location"))
        accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
        if headers.get("upgrade", "").lower() != "websocket" or headers.get("sec-websocket-accept") != accept:
            raise _NotSwitched(101, _NOT_WEBSOCKET)
        mask = os.urandom(4)
        code = (1000).to_bytes(2, "big")  # a normal closure: the check is done
        sock.settimeout(left())
        sock.sendall(bytes([0x88, 0x82]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(code)))
    finally:
        sock.close()


def _probe(uri: str, address: tuple[list[str], int], timeout: float) -> str | None:
    """None when one of the host's addresses accepts the handshake, else the last address's reason."""
    reason: str | None = "no address"
    hosts, port = address
    for host in hosts:
        try:
            _handshake(uri, host, port, timeout)
            return None
        except Exception as exc:  # noqa: BLE001 - every failure is a reason in the warning
            reason = handshake_failure(exc)
    return reason


def probe(uris: Iterable[str], timeout: float = DEFAULT_TIMEOUT) -> dict[str, str | None]:
    """URI → None when the handshake succeeded, else the reason it did not. One URI (``create call``,
    ``install``, ``doctor``) is probed on this thread, several at once on up to CONCURRENCY threads."""
    unique = list(dict.fromkeys(uris))
    if not unique:
        return {}
    resolved = _resolve_all(unique, timeout)
    reachable = {u: found for u, found in resolved.items() if isinstance(found, tuple)}
    outcome: dict[str, str | None] = {u: found for u, found in resolved.items() if isinstance(found, str)}
    if len(reachable) == 1:
        [(uri, address)] = reachable.items()
        outcome[uri] = _probe(uri, address, timeout)
    elif reachable:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(CONCURRENCY, len(reachable)), thread_name_prefix="relay-probe") as pool:
            found = pool.map(lambda item: _probe(item[0], item[1], timeout), reachable.items())
            outcome.update(zip(reachable, found, strict=True))
    return {u: outcome[u] for u in unique}


def stages(uri: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, str | None]:
    """The steps of reaching a workflow's URI, each checked on its own (``relay workflow doctor``): ``reachable``
    (the host name resolves and a TCP connection opens), ``tls`` (wss:// only: the server's certificate verifies
    for the host with the default trust store, which ``SSL_CERT_FILE`` can replace), ``websocket`` (the opening
    handshake at the URI's path is accepted). Each value is None on success, else the reason; the steps after
    one that failed are left out. Each step has ``timeout`` seconds."""
    import socket
    import ssl
    from urllib.parse import urlsplit

    out: dict[str, str | None] = {}
    found = _resolve_all([uri], timeout)[uri]
    if isinstance(found, str):
        out["reachable"] = found
        return out
    hosts, port = found
    sock: socket.socket | None = None
    reason: str | None = "no address"
    for host in hosts:
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
            break
        except OSError as exc:
            reason = handshake_failure(exc, timeout)
    out["reachable"] = reason if sock is None else None
    if sock is None:
        return out
    with sock:
        parts = urlsplit(uri)
        if parts.scheme.lower() == "wss":
            try:
                with ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname):
                    pass
            except ssl.SSLCertVerificationError as exc:
                out["tls"] = f"TLS failed: {exc.verify_message or exc.reason or exc}"
            except (ssl.SSLError, OSError) as exc:
                out["tls"] = handshake_failure(exc, timeout)
            else:
                out["tls"] = None
            if out["tls"] is not None:
                return out
    out["websocket"] = probe([uri], timeout)[uri]
    return out
