"""An overall deadline for each request, enforced on every socket operation.

httpx's timeouts bound each read, not the whole answer: a server that sends one byte every few seconds
(headers or body) never trips a read timeout and holds the request for ever. So the client's connection
pools talk to the network through ``DeadlineBackend``: each connect, TLS handshake, read and write is given at
most the time left before the deadline of the request running on the calling thread (``deadline(seconds)``),
and fails with httpx's own timeout error once it has passed. A thread with no deadline set (the body of the
realtime log stream, which is long-lived by design) is not limited.

The backend is put into the pools httpx built for the client (its direct transport and any proxy transports
from the environment) by ``install``. That touches two private attributes (``httpx.Client._transport`` /
``_mounts`` and the pool's ``_network_backend``); ``install`` reports whether it managed, and
tests/test_hostile_server.py fails if a future httpx moves them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpcore

_local = threading.local()


@contextmanager
def deadline(at: float | None) -> Iterator[None]:
    """Within the block, socket operations on this thread end by ``at`` (a ``time.monotonic()`` value)."""
    previous = getattr(_local, "at", None)
    _local.at = at
    try:
        yield
    finally:
        _local.at = previous


def clear() -> None:
    """No deadline on this thread from now on (the realtime log stream, once its headers are in)."""
    _local.at = None


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    at: float | None = getattr(_local, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("the request's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:  # fmt: skip
        left = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, left, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, _left(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install(client: Any) -> bool:
    """Route the network I/O of ``client`` (an ``httpx.Client``) through ``DeadlineBackend``. True when every
    pool it has was reached; a transport that is not httpx's own (a test's, the in-process sandbox) is left as
    it is, since it does no network I/O."""
    import httpx

    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    ok = True
    for transport in transports:
        if not isinstance(transport, httpx.HTTPTransport):
            continue
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if pool is None or backend is None:
            ok = False
            continue
        if not isinstance(backend, DeadlineBackend):
            pool._network_backend = DeadlineBackend(backend)
    return ok
