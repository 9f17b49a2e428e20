"""The preflight handshake is bounded by its timeout, name lookup included."""

import socket
import time
from typing import Any

import pytest

from relay_cli.api.probe import probe


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
