"""The preflight checks as users get them: ON by default, with no flag and no RELAY_NO_CHECK.

Every other test runs with RELAY_NO_CHECK=1 (tests/conftest.py). Here the variable is unset, the API is
respx (so the exact requests are asserted, reads and writes) and the workflow's URI points at a WebSocket
server of the test's own on 127.0.0.1, or at a loopback port where nothing listens. For ``workflow create
call``, ``workflow install`` and ``workflow apply``:

- server up: the handshake reaches the server, no warning, the save is sent;
- server down: one warning naming the URI and the calls that would fail, and the save is still sent;
- server down with ``--strict``: exit 6, the account is read but nothing is written.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from test_preflight import WsServer, announced, not_available

from conftest import API, SUB, clean, sent, stored_workflow

LIST = ("GET", "/ibot/workflow", {"subscriber_id": SUB})
SAVE = ("POST", "/ibot/workflow", {"subscriber_id": SUB})
STRICT_TAIL = "hint: fix what the warnings say, or run without --strict (or with --no-check) to go ahead\n"


@pytest.fixture(autouse=True)
def checks_on_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELAY_NO_CHECK", raising=False)


@pytest.fixture
def ws() -> Iterator[WsServer]:
    server = WsServer()
    yield server
    server.close()


@pytest.fixture
def down() -> str:
    """A loopback URI where nothing listens: the connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"ws://127.0.0.1:{port}/down"


@pytest.fixture
def account() -> list[dict[str, Any]]:
    """The account's workflows (GET /ibot/workflow answers with them); tests set the URI of ``answer``."""
    return [stored_workflow("wf-1", "answer", install=["d1"])]


@pytest.fixture
def api(account: list[dict[str, Any]]) -> Iterator[Any]:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        mock.get("/ibot/workflow").mock(side_effect=lambda _: httpx.Response(200, json={"results": account}))
        mock.post("/ibot/workflow").mock(
            side_effect=lambda req: httpx.Response(200, json=[{"workflow_id": "wf-9", **json.loads(req.content)}])
        )
        yield mock


def body(api: Any, index: int = -1) -> Any:
    return json.loads(api.calls[index].request.content)


def call_body(
    name: str, uri: str, install: list[str], *, trigger: str = "on_incoming_call", **extra: Any
) -> dict[str, Any]:
    return {
        **extra,
        "name": name,
        "options": {"transient": True, "hidden": False},
        "config": {"trigger": {"start": {"workflow": {"uri": uri, "args": {}}}, trigger: ".*"}},
        "install": install,
    }


# --- workflow create call -----------------------------------------------------------------------------


def create_call(run: Any, uri: str, *flags: str) -> Any:
    return run(
        "workflow", "create", "call", "--trigger", "inbound", "-n", "x", "-u", uri, "-i", "d2", "-s", SUB, *flags
    )


def test_create_call_server_up_checks_then_saves(run: Any, api: Any, ws: WsServer) -> None:
    result = create_call(run, ws.uri())
    assert result.code == 0, result.err
    assert ws.paths == ["/up"]  # the handshake reached the app
    assert result.err == "Created workflow x (wf-9)\n"
    assert sent(api) == [LIST, SAVE]  # the account's workflows (same-device check), then the save
    assert body(api) == call_body("x", ws.uri(), ["d2"])
    clean(result)


def test_create_call_server_down_warns_and_saves(run: Any, api: Any, down: str) -> None:
    result = create_call(run, down)
    assert result.code == 0, result.err
    assert (
        result.err
        == not_available(down, "connection refused", "x", announced("every inbound call to d2", "x"))
        + "Created workflow x (wf-9)\n"
    )
    assert sent(api) == [LIST, SAVE]
    assert body(api) == call_body("x", down, ["d2"])


def test_create_call_strict_server_down_is_exit_6_and_sends_nothing(run: Any, api: Any, down: str) -> None:
    result = create_call(run, down, "--strict")
    assert (result.code, result.out) == (6, "")
    assert result.err == (
        not_available(down, "connection refused", "x", announced("every inbound call to d2", "x"))
        + "error: 1 preflight check failed (--strict), so nothing was sent\n"
        + STRICT_TAIL
    )
    assert sent(api) == [LIST]  # read, never written


def test_the_default_is_on_and_no_check_turns_it_off(
    run: Any, api: Any, ws: WsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: the same command with --no-check or RELAY_NO_CHECK=1 makes no handshake and no read."""
    assert create_call(run, ws.uri(), "--no-check").code == 0
    monkeypatch.setenv("RELAY_NO_CHECK", "1")
    assert create_call(run, ws.uri()).code == 0
    assert ws.paths == []
    assert sent(api) == [SAVE, SAVE]


# --- workflow install ---------------------------------------------------------------------------------


def install(run: Any, *flags: str) -> Any:
    return run("workflow", "install", "-w", "answer", "-i", "d2", "-s", SUB, *flags)


def installed_body(uri: str) -> dict[str, Any]:
    return call_body("answer", uri, ["d1", "d2"], workflow_id="wf-1")


def test_install_server_up_checks_then_saves(run: Any, api: Any, account: list[dict[str, Any]], ws: WsServer) -> None:
    account[0]["config"]["trigger"]["start"]["workflow"]["uri"] = ws.uri()
    result = install(run)
    assert result.code == 0, result.err
    assert ws.paths == ["/up"]
    assert result.err == "Installed workflow answer (wf-1)\n"
    assert sent(api) == [LIST, LIST, SAVE]  # -w resolved, the account read for the checks, the save
    assert body(api) == installed_body(ws.uri())


def test_install_server_down_warns_and_saves(run: Any, api: Any, account: list[dict[str, Any]], down: str) -> None:
    account[0]["config"]["trigger"]["start"]["workflow"]["uri"] = down
    result = install(run)
    assert result.code == 0, result.err
    assert result.err == (
        not_available(down, "connection refused", "answer", announced("every inbound call to d1, d2", "answer"))
        + "Installed workflow answer (wf-1)\n"
    )
    assert sent(api) == [LIST, LIST, SAVE]
    assert body(api) == installed_body(down)


def test_install_strict_server_down_is_exit_6_and_sends_nothing(
    run: Any, api: Any, account: list[dict[str, Any]], down: str
) -> None:
    account[0]["config"]["trigger"]["start"]["workflow"]["uri"] = down
    result = install(run, "--strict")
    assert (result.code, result.out) == (6, "")
    assert result.err == (
        not_available(down, "connection refused", "answer", announced("every inbound call to d1, d2", "answer"))
        + "error: 1 preflight check failed (--strict), so nothing was sent\n"
        + STRICT_TAIL
    )
    assert sent(api) == [LIST, LIST]


# --- workflow apply -----------------------------------------------------------------------------------


def apply(run: Any, tmp_path: Path, uri: str, *flags: str) -> Any:
    manifest = tmp_path / "relay.toml"
    manifest.write_text(
        f'[workflow.dialer]\ntype = "call"\ntrigger = "outbound"\nuri = "{uri}"\ninstall = ["d3"]\n', encoding="utf-8"
    )
    return run("workflow", "apply", "-f", str(manifest), "-s", SUB, *flags)


def test_apply_server_up_checks_then_saves(run: Any, api: Any, tmp_path: Path, ws: WsServer) -> None:
    result = apply(run, tmp_path, ws.uri("/dial"))
    assert result.code == 0, result.err
    assert ws.paths == ["/dial"]
    assert result.err == "Applied to account SUB: 1 created, 0 updated, 0 deleted, 0 unchanged.\n"
    assert sent(api) == [LIST, SAVE, LIST]  # the last: did another apply create the same name meanwhile?
    assert body(api, 1) == call_body("dialer", ws.uri("/dial"), ["d3"], trigger="on_call_request")


def test_apply_server_down_warns_and_saves(run: Any, api: Any, tmp_path: Path, down: str) -> None:
    result = apply(run, tmp_path, down)
    assert result.code == 0, result.err
    assert result.err == (
        not_available(down, "connection refused", "dialer", announced("every outbound call from d3", "dialer"))
        + "Applied to account SUB: 1 created, 0 updated, 0 deleted, 0 unchanged.\n"
    )
    assert sent(api) == [LIST, SAVE, LIST]
    assert body(api, 1) == call_body("dialer", down, ["d3"], trigger="on_call_request")


def test_apply_strict_server_down_is_exit_6_and_sends_nothing(run: Any, api: Any, tmp_path: Path, down: str) -> None:
    result = apply(run, tmp_path, down, "--strict")
    assert (result.code, result.out) == (6, "")
    assert result.err == (
        not_available(down, "connection refused", "dialer", announced("every outbound call from d3", "dialer"))
        + "error: 1 preflight check failed (--strict), so nothing was applied\n"
        + STRICT_TAIL
    )
    assert sent(api) == [LIST]
