"""An overall deadline for each request, enforced on every socket operation; and the transport that carries it.

httpx's timeouts bound each read, not the whole answer: a server that sends one byte every few seconds (headers
or body) never trips a read timeout and holds the request for ever. So our clients talk to the network through
``DeadlineTransport``, an ``httpx.BaseTransport`` over httpcore's connection pool (httpx's own engine) given a
``DeadlineBackend``: each connect, TLS handshake, read and write is given at most the time left before the
deadline of the request running on the calling thread (``deadline(seconds)``), and fails with a timeout error
once it has passed. A thread with no deadline set (the body of the realtime log stream, which is long-lived by
design) is not limited. Everything used here is public: ``httpx.BaseTransport``, httpcore's ``ConnectionPool``,
``HTTPProxy`` and ``NetworkBackend``.

``client_options`` gives an ``httpx.Client`` that transport, and one per proxy the environment names
(``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``, read as httpx reads them). A TLS context is made
only for an ``https://`` URL, the first time one is asked for (``tls_context``), so a client of an ``http://``
host (the local sandbox, ``relay server``) pays nothing for TLS unless it goes to an ``https://`` URL after all
(a presigned upload).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, ClassVar, TypedDict

import httpcore
import httpx

if TYPE_CHECKING:
    import ssl

#: a socket option as httpcore's backends take it: (level, option, value) or (level, option, None, length)
SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]

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

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> object:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[SocketOption] | None = None) -> httpcore.NetworkStream:  # fmt: skip
        left = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, left, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[SocketOption] | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, _left(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


# --- TLS --------------------------------------------------------------------------------------------------

_tls: dict[tuple[str | None, str | None], ssl.SSLContext] = {}
_tls_lock = threading.Lock()


def tls_context() -> ssl.SSLContext:
    """httpx's own default TLS context (certifi's CA bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``), made once
    per process and shared: loading the CA bundle is the costly part of a client, which every new one paid."""
    import os

    key = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    with _tls_lock:
        if key not in _tls:
            _tls[key] = httpx.create_ssl_context()
        return _tls[key]


# --- the transport ----------------------------------------------------------------------------------------

#: httpcore's errors → httpx's, the most specific first (what httpx's own transport raises for each)
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for theirs, ours in _ERRORS:
            if isinstance(exc, theirs):
                raise ours(str(exc)) from exc
        raise


class _Body(httpx.SyncByteStream):
    """An answer's body as httpcore streams it, its errors httpx's."""

    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class _Limits(TypedDict):
    max_connections: int
    max_keepalive_connections: int
    keepalive_expiry: float


class ClientOptions(TypedDict, total=False):
    """The arguments of ``httpx.Client`` that choose how it reaches the network."""

    transport: httpx.BaseTransport
    mounts: Mapping[str, httpx.BaseTransport | None]


class DeadlineTransport(httpx.BaseTransport):
    """Requests over httpcore's connection pool (through ``proxy``, when given) on a ``DeadlineBackend``. The
    pool for ``https://`` URLs, and with it the TLS context, is made the first time one is asked for."""

    #: httpx's default limits
    LIMITS: ClassVar[_Limits] = {
        "max_connections": 100,
        "max_keepalive_connections": 20,
        "keepalive_expiry": 5.0,
    }

    def __init__(self, proxy: str | None = None) -> None:
        self._proxy = httpx.Proxy(proxy) if proxy else None
        self._pools: dict[bytes, httpcore.ConnectionPool] = {}
        self._lock = threading.Lock()

    def pool_for(self, scheme: bytes) -> httpcore.ConnectionPool:
        """The connection pool of ``scheme`` (``b"http"`` or ``b"https"``), made on first use."""
        with self._lock:
            pool = self._pools.get(scheme)
            if pool is None:
                pool = self._pools[scheme] = self._new_pool(tls_context() if scheme == b"https" else None)
            return pool

    def _new_pool(self, ssl_context: ssl.SSLContext | None) -> httpcore.ConnectionPool:
        backend = DeadlineBackend(httpcore.SyncBackend())
        if self._proxy is None:
            return httpcore.ConnectionPool(ssl_context=ssl_context, network_backend=backend, **self.LIMITS)
        url = self._proxy.url
        proxy_url = httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path)
        if url.scheme in ("socks5", "socks5h"):
            return httpcore.SOCKSProxy(
                proxy_url=proxy_url, proxy_auth=self._proxy.raw_auth, ssl_context=ssl_context,
                network_backend=backend, **self.LIMITS,
            )  # fmt: skip
        return httpcore.HTTPProxy(
            proxy_url=proxy_url, proxy_auth=self._proxy.raw_auth, proxy_headers=self._proxy.headers.raw,
            ssl_context=ssl_context, proxy_ssl_context=self._proxy.ssl_context, network_backend=backend,
            **self.LIMITS,
        )  # fmt: skip

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        sent = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            answer = self.pool_for(url.raw_scheme).handle_request(sent)
        assert isinstance(answer.stream, Iterable)  # a pool of the synchronous backend streams synchronously
        return httpx.Response(
            status_code=answer.status, headers=answer.headers, stream=_Body(answer.stream), extensions=answer.extensions
        )

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()


def _proxies() -> dict[str, str | None]:
    """The proxies the environment names, as httpx mount patterns: ``{"https://": "http://proxy:3128", ...}``,
    and None (go direct) for each host ``NO_PROXY`` names; none at all when it says ``*``. Read as httpx reads
    them (urllib's ``getproxies``, curl's rules for NO_PROXY)."""
    import ipaddress
    from urllib.request import getproxies

    found = getproxies()
    mounts: dict[str, str | None] = {}
    for scheme in ("http", "https", "all"):
        if found.get(scheme):
            url = found[scheme]
            mounts[f"{scheme}://"] = url if "://" in url else f"http://{url}"
    for host in (h.strip() for h in found.get("no", "").split(",")):
        if host == "*":
            return {}
        if not host:
            continue
        try:
            address = ipaddress.ip_address(host.split("/")[0])
        except ValueError:
            address = None
        if "://" in host:
            mounts[host] = None
        elif address is not None:
            mounts[f"all://[{host}]" if address.version == 6 else f"all://{host}"] = None
        elif host.lower() == "localhost":
            mounts[f"all://{host}"] = None
        else:
            mounts[f"all://*{host}"] = None
    return mounts


def client_options() -> ClientOptions:
    """What an ``httpx.Client`` needs for every request to keep its deadline: ``transport`` and ``mounts`` (a
    ``DeadlineTransport`` through each proxy of the environment)."""
    mounts = {pattern: None if url is None else DeadlineTransport(url) for pattern, url in _proxies().items()}
    return {"transport": DeadlineTransport(), "mounts": mounts}
