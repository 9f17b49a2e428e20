"""A client of an ``http://`` host builds no TLS context (loading certifi's CA bundle is the costly part of making one)
unless it goes to an ``https://`` URL after all, such as a presigned upload: then it gets the shared, verifying
context, built on that first use. The servers are the test's own, on 127.0.0.1 with free ports; the TLS one
has a certificate made for the test by the ``openssl`` command."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from relay_cli.api import deadline as deadline_module
from relay_cli.api.client import RelayClient
from relay_cli.errors import NetworkError

from conftest import SUB, TOKEN, stored_workflow

WF = stored_workflow("wf-1", "w1")


class Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_GET(self) -> None:
        self.seen.append(("GET", self.path, b""))
        self._answer(json.dumps({"results": [WF]}).encode())

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.seen.append(("PUT", self.path, body))
        self._answer(b"")

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(context: ssl.SSLContext | None = None) -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    seen: ClassVar[list[tuple[str, str, bytes]]] = []
    handler = type("Seen", (Handler,), {"seen": seen})
    server = HTTPServer(("127.0.0.1", 0), handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if context else 'http'}://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The CA files of every TLS context made from now on (httpx's and ours both go through this function)."""
    made: list[str | None] = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(kwargs.get("cafile"))
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    monkeypatch.setattr(deadline_module, "_tls", {})  # no context shared from an earlier test
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return made


@pytest.fixture
def plain() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    yield from serve()


def test_a_client_of_an_http_host_builds_no_tls_context(built: list[str | None], plain: Any) -> None:
    url, seen = plain
    with RelayClient(url, token=TOKEN, user_agent="t") as client:
        assert client.list_workflows(SUB) == [WF]
    assert seen == [("GET", f"/ibot/workflow?subscriber_id={SUB}", b"")]
    assert built == []


def test_clients_of_an_https_host_share_one_context(
    built: list[str | None], tls: Any, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = tls
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    with (
        RelayClient(url, token=TOKEN, user_agent="t") as one,
        RelayClient(url, token=TOKEN, user_agent="t") as two,
    ):
        assert built == []  # nothing made before the first request
        assert one.list_workflows(SUB) == two.list_workflows(SUB) == [WF]
    assert len(seen) == 2
    assert built == [str(certificate[0])]


@pytest.fixture
def tls(certificate: tuple[Path, Path]) -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    yield from serve(context)


def test_an_upload_to_https_from_an_http_client_verifies_the_server(
    built: list[str | None], plain: Any, tls: Any, certificate: tuple[Path, Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    sound = tmp_path / "a.wav"
    sound.write_bytes(b"RIFF....WAVE")
    (url, _), (storage, stored) = plain, tls
    # the CA bundle does not know the test's certificate: refused
    with RelayClient(url, token=TOKEN, user_agent="t") as client, pytest.raises(NetworkError) as refused:
        client.upload_presigned(f"{storage}/a.wav?X-Amz-Signature=s", str(sound), 12)
    assert "certificate" in refused.value.message.lower()
    assert stored == []
    assert len(built) == 1  # made on that first use: httpx's default context (certifi's bundle)
    # a bundle that knows it (SSL_CERT_FILE, as httpx reads it): the same file is sent
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    with RelayClient(url, token=TOKEN, user_agent="t") as client:
        client.upload_presigned(f"{storage}/a.wav?X-Amz-Signature=s", str(sound), 12)
    assert stored == [("PUT", "/a.wav?X-Amz-Signature=s", b"RIFF....WAVE")]
    assert built[1:] == [str(certificate[0])]
