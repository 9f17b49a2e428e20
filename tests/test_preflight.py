"""Preflight checks of call workflows, against real WebSocket servers on loopback and the local sandbox.

``relay workflow check``, and the automatic checks of ``create call``, ``install`` and ``apply``: a WebSocket
opening handshake to the URI (up: passes; down: a warning explaining the "not available" symptom; ``--strict``:
exit 6 and nothing sent), a call workflow installed on all devices, two of one direction on one device.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relay_cli.local.seed import DEMO_DEVICES, DEMO_SUBSCRIBER
from relay_cli.local.store import SandboxStore

ALICE, BOB = list(DEMO_DEVICES)[:2]
LOCAL = ("--profile", "local")


@pytest.fixture(autouse=True)
def checks_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELAY_NO_CHECK", raising=False)


@pytest.fixture
def sandbox(tmp_path: Path) -> SandboxStore:
    return SandboxStore(tmp_path / "data" / "sandbox.db")


class WsServer:
    def __init__(self, refuse: bool = False) -> None:
        from websockets.sync.server import serve

        self.paths: list[str] = []

        def handler(conn: Any) -> None:
            try:
                conn.recv(timeout=2)
            except Exception:  # noqa: BLE001 - the client closes at once
                pass

        def process_request(conn: Any, request: Any) -> Any:
            self.paths.append(request.path)  # during the handshake, before the client hears back
            return conn.respond(404, "no workflow here\n") if refuse else None

        quiet = logging.getLogger("test-ws-server")
        quiet.addHandler(logging.NullHandler())
        quiet.propagate = False
        self.server = serve(handler, "127.0.0.1", 0, process_request=process_request, compression=None, logger=quiet)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def uri(self, path: str = "/up") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def ws() -> Iterator[WsServer]:
    server = WsServer()
    yield server
    server.close()


@pytest.fixture
def down() -> str:
    """A loopback URI where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"ws://127.0.0.1:{port}/down"


def not_available(uri: str, reason: str, names: str, calls: str) -> str:
    """The warning for an unreachable URI; ``calls``: what happens to the calls, naming what Relay announces."""
    return (
        f"warning: {uri} did not accept a WebSocket ({reason}); used by {names}. While it does not answer, {calls}, "
        "although the device is fine. Start the workflow server or fix the URI.\n"
    )


def announced(calls: str, name: str) -> str:
    return f'{calls} ends with Relay announcing "{name} is not available"'


def create_call(run: Any, name: str, uri: str, *flags: str, direction: str = "inbound") -> Any:
    return run(*LOCAL, "workflow", "create", "call", "--trigger", direction, "-n", name, "-u", uri, *flags)


# --- relay workflow check ----------------------------------------------------------------------------


def test_check_passes_when_the_server_accepts(run: Any, ws: WsServer) -> None:
    assert create_call(run, "up", ws.uri(), "-i", ALICE, "--no-check").code == 0
    result = run(*LOCAL, "workflow", "check", "-w", "up")
    assert result.code == 0, result.err
    assert result.err == "All checks passed for 1 workflow.\n"
    assert ws.paths == ["/up"]


def test_check_warns_when_the_server_is_down(run: Any, down: str) -> None:
    assert create_call(run, "down", down, "-i", ALICE, "--no-check").code == 0
    warning = not_available(down, "connection refused", "down", announced(f"every inbound call to {ALICE}", "down"))
    failed = (
        "error: 1 problem found in 1 workflow\n"
        "hint: fix what the warnings say; --warn-only reports problems without failing\n"
    )
    result = run(*LOCAL, "workflow", "check", "-w", "down")
    assert (result.code, result.out, result.err) == (6, "", warning + failed)
    assert run(*LOCAL, "workflow", "check", "-w", "down", "--strict").code == 6  # the former flag: the default now

    warned = run(*LOCAL, "workflow", "check", "-w", "down", "--warn-only")
    assert (warned.code, warned.err) == (0, warning)

    as_json = run(*LOCAL, "workflow", "check", "--json")
    assert (as_json.code, as_json.err) == (6, failed)  # the finding is in the JSON, not repeated as a warning
    finding = as_json.json()["findings"][0]
    assert (finding["kind"], finding["workflows"], finding["uri"], finding["reason"]) == (
        "unreachable", ["down"], down, "connection refused",
    )  # fmt: skip


def test_each_call_workflow_of_a_down_uri_is_announced_by_its_own_name(run: Any, down: str) -> None:
    assert create_call(run, "front-desk", down, "-i", ALICE, "--no-check").code == 0
    assert create_call(run, "dialer", down, "-i", BOB, "--no-check", direction="outbound").code == 0
    result = run(*LOCAL, "workflow", "check", "--warn-only")
    assert result.code == 0
    calls = (
        announced(f"every inbound call to {ALICE}", "front-desk")
        + " and "
        + announced(f"every outbound call from {BOB}", "dialer")
    )
    assert result.err == not_available(down, "connection refused", "front-desk, dialer", calls)
    assert "<name>" not in result.err


def test_check_names_a_server_that_refuses_the_upgrade(run: Any) -> None:
    server = WsServer(refuse=True)
    try:
        assert create_call(run, "out", server.uri("/x"), "-i", BOB, "--no-check", direction="outbound").code == 0
        result = run(*LOCAL, "workflow", "check", "--warn-only")
    finally:
        server.close()
    assert result.err == not_available(
        server.uri("/x"),
        "the server answered HTTP 404 instead of switching to WebSocket",
        "out",
        announced(f"every outbound call from {BOB}", "out"),
    )


def test_check_gives_up_after_the_timeout(run: Any) -> None:
    with socket.socket() as silent:  # accepts TCP connections (the kernel does) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        uri = f"ws://127.0.0.1:{silent.getsockname()[1]}/slow"
        assert create_call(run, "slow", uri, "-i", ALICE, "--no-check").code == 0
        result = run(*LOCAL, "workflow", "check", "--timeout", "0.3")
    assert "(no answer within the timeout)" in result.err


# --- automatic checks -------------------------------------------------------------------------------


def test_create_call_checks_first(run: Any, ws: WsServer, down: str, sandbox: SandboxStore) -> None:
    fine = create_call(run, "fine", ws.uri(), "-i", ALICE)
    assert fine.code == 0, fine.err
    assert "warning" not in fine.err
    assert ws.paths == ["/up"]

    refused = create_call(run, "broken", down, "-i", BOB, "--strict")
    assert refused.code == 6
    assert refused.err.startswith(
        not_available(down, "connection refused", "broken", announced(f"every inbound call to {BOB}", "broken"))
    )
    assert "error: 1 preflight check failed (--strict), so nothing was sent\n" in refused.err
    assert [w["name"] for w in sandbox.list_workflows(DEMO_SUBSCRIBER)] == ["fine"]

    warned = create_call(run, "broken", down, "-i", BOB)  # without --strict: a warning, then created
    assert warned.code == 0
    assert warned.err.startswith(
        not_available(down, "connection refused", "broken", announced(f"every inbound call to {BOB}", "broken"))
    )
    assert "Created workflow broken" in warned.err

    skipped = create_call(run, "unchecked", down, "-i", ALICE, "--no-check", direction="outbound")
    assert skipped.code == 0 and "warning" not in skipped.err


def test_a_call_workflow_on_all_devices_is_a_warning(run: Any, ws: WsServer, sandbox: SandboxStore) -> None:
    strict = create_call(run, "everyone", ws.uri(), "-A", "--strict")
    assert strict.code == 6
    assert strict.err.startswith(
        "warning: everyone is an inbound call workflow installed on all devices: every inbound call of every device of the "
        f"account goes to {ws.uri()}. Install it on the devices that need it (-i) or a group (-G).\n"
    )
    assert sandbox.list_workflows(DEMO_SUBSCRIBER) == []
    assert create_call(run, "everyone", ws.uri(), "-A").code == 0
    button = run(*LOCAL, "workflow", "create", "button", "-n", "b", "-u", ws.uri(), "-A")
    assert "warning" not in button.err  # not a call workflow


def test_two_call_workflows_of_one_direction_on_one_device(run: Any, ws: WsServer) -> None:
    assert create_call(run, "first", ws.uri(), "-i", ALICE, "-i", BOB).code == 0
    other_way = create_call(run, "dialer", ws.uri(), "-i", ALICE, direction="outbound")
    assert "warning" not in other_way.err  # one inbound and one outbound: fine

    second = create_call(run, "second", ws.uri(), "-i", ALICE)
    assert second.code == 0
    assert second.err.startswith(
        f"warning: 2 inbound call workflows (first, second) are installed on {ALICE}: only one of them can take a "
        "device's inbound calls. Keep one inbound call workflow per device.\n"
    )

    moved = run(*LOCAL, "workflow", "install", "-w", "dialer", "-i", BOB)  # install checks too
    assert "warning" not in moved.err
    clash = run(*LOCAL, "workflow", "install", "-w", "second", "-i", BOB, "--strict")
    assert clash.code == 6
    assert f"(first, second) are installed on {ALICE}, {BOB}" in clash.err


def test_apply_checks_what_it_creates_or_changes(
    run: Any, tmp_path: Path, ws: WsServer, down: str, sandbox: SandboxStore
) -> None:
    manifest = tmp_path / "relay.toml"
    manifest.write_text(
        f'[workflow.good]\ntype = "call"\ntrigger = "inbound"\nuri = "{ws.uri()}"\ninstall = ["{ALICE}"]\n'
        f'[workflow.bad]\ntype = "call"\ntrigger = "outbound"\nuri = "{down}"\ninstall = ["{BOB}"]\n',
        encoding="utf-8",
    )
    strict = run(*LOCAL, "workflow", "apply", "-f", str(manifest), "--strict")
    assert strict.code == 6
    assert strict.err.startswith(
        not_available(down, "connection refused", "bad", announced(f"every outbound call from {BOB}", "bad"))
    )
    assert "so nothing was applied" in strict.err
    assert sandbox.list_workflows(DEMO_SUBSCRIBER) == []

    check = run(*LOCAL, "workflow", "check", "-f", str(manifest), "--json")
    assert [f["workflows"] for f in check.json()["findings"]] == [["bad"]]

    applied = run(*LOCAL, "workflow", "apply", "-f", str(manifest))
    assert applied.code == 0
    assert "Applied to account demo-account: 2 created" in applied.err
    assert ws.paths.count("/up") == 3  # apply --strict, check -f, apply
