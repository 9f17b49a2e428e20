"""Shared fixtures: an isolated environment for every test, and ``run`` to call the CLI in-process."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from relay_cli.__main__ import main

API = "https://all-main-pro-ibot.relaysvr.com"
TOKEN = "test-token-7f3a9c"
SUB = "SUB"


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Any:
    """No test sees the developer's config, keyring or RELAY_* variables."""
    import os

    for name in list(os.environ):
        if name.startswith("RELAY_") or name in ("NO_COLOR", "CI"):
            monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config"
    monkeypatch.setenv("RELAY_CONFIG_DIR", str(config))
    monkeypatch.setenv("RELAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RELAY_API_KEY", TOKEN)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    # preflight checks of call workflows (a WebSocket handshake, a GET of the account's workflows) are off,
    # except in the tests that turn them on (tests/test_preflight.py, tests/test_preflight_default.py); retries
    # never sleep
    monkeypatch.setenv("RELAY_NO_CHECK", "1")
    monkeypatch.setattr("relay_cli.api.client.wait", lambda seconds: None)
    return config


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Any:
    """``run("workflow", "list", "--json")`` → Result(code, out, err); stdin is not a terminal."""

    def _run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return _run


def stored_workflow(workflow_id: str, name: str, trigger: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A workflow as the server returns it from GET /ibot/workflow."""
    wf = {
        "workflow_id": workflow_id,
        "name": name,
        "options": {"transient": True, "hidden": False},
        "config": {
            "trigger": {
                "start": {"workflow": {"uri": f"wss://example.com/{name}", "args": {}}},
                **(trigger or {"on_incoming_call": ".*"}),
            }
        },
        "install": ["990007560045678"],
    }
    wf.update(extra)
    return wf


def sent(api: Any) -> list[tuple[str, str, dict[str, str]]]:
    """Every request a respx router saw, as (method, path, query); each carried the test token."""
    out = []
    for call in api.calls:
        request = call.request
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        out.append((request.method, request.url.path, dict(request.url.params)))
    return out


def clean(result: Result) -> None:
    """No token, no ANSI escape codes and no traceback in what a command printed."""
    assert TOKEN not in result.out + result.err
    assert "\x1b" not in result.out + result.err
    assert "Traceback" not in result.err
