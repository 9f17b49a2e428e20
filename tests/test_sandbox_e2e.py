"""The sandbox as a small Relay, end to end: the commands (in this process: tests/test_e2e.py's ``cli``; the
log stream as the installed ``relay``) against the installed ``relay server``, with the three apps ``relay
workflow init`` writes for Relay's calling guide, run with the pinned ``@relaypro/sdk`` (tests/sdks.py).

A manifest with the guide's three workflows is applied; a call, a dialled call and a double tap each run their
app (exit 0, the app's actions in the transcript); the instances and the log say so; with one app stopped, the
next event says what the device would: "<name> is not available"."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_e2e import RELAY, Run, Server, cli, pytestmark, start_server  # noqa: F401 - fixtures, the marks

from conftest import free_port
from sdks import NODE_MODULES, ensure_sdk

#: quick conversations: the other party hangs up 0.3 s after the call connects, prompts spoken ten times faster
QUICK = ("--hold", "0.3", "--set", "speaking_rate=1500", "--json")
BOB_URN = "urn:relay-resource:name:device:Bob"

MANIFEST = """
[workflow.my_auto_answer]
type = "call"
trigger = "inbound"
uri = "ws://127.0.0.1:{auto-answer}/auto-answer"
install = ["990007560045678"]
[workflow.my_auto_answer.args]
greeting = "Now in call"

[workflow.outbound]
type = "call"
trigger = "outbound"
uri = "ws://127.0.0.1:{outbound}/outbound"
install = ["990007560045678"]

[workflow.place-call]
type = "button"
trigger = "double"
uri = "ws://127.0.0.1:{place-call}/place-call"
install_all = true
[workflow.place-call.args]
callee = "Bob"
"""


def listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the app exited ({proc.returncode}) before it listened"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"the app did not listen on {port} within {timeout} s")


@pytest.fixture
def guide_apps(
    cli: Callable[..., Run], tmp_path: Path
) -> Iterator[tuple[dict[str, int], dict[str, subprocess.Popen[bytes]]]]:
    """The three apps of `relay workflow init`, each on a free port; stopped when the test ends."""
    node = ensure_sdk("the sandbox journey")
    ports: dict[str, int] = {}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for template in ("auto-answer", "outbound", "place-call"):
            target = tmp_path / template
            cli(dict(os.environ), "workflow", "init", template, str(target), "--lang", "js").ok()
            (target / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)  # the pinned SDK
            ports[template] = free_port()
            env = {**os.environ, "PORT": str(ports[template])}
            procs[template] = subprocess.Popen(
                [node, "app.js"], cwd=target, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        for template, proc in procs.items():
            listening(ports[template], proc)
        yield ports, procs
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait(timeout=10)


def follow_logs(env: dict[str, str], until: Callable[[list[str]], bool], timeout: float = 20) -> list[str]:
    """The messages `relay workflow logs --json` streams (against relay server it follows the log: it is stopped
    once ``until`` is satisfied)."""
    proc = subprocess.Popen(
        [str(RELAY), "workflow", "logs", "--json"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True
    )
    seen: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(json.loads(line)["message"])
            if until(seen):
                done.set()
                return

    threading.Thread(target=read, daemon=True).start()
    try:
        assert done.wait(timeout), f"the log did not show it within {timeout} s: {seen}"
    finally:
        proc.kill()
        proc.communicate(timeout=10)
    return seen


def messages(out: str) -> list[dict[str, Any]]:
    return [json.loads(line)["message"] for line in out.splitlines() if line.strip()]


def of_type(found: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in found if m.get("_type") == f"wf_api_{kind}"]


@pytest.mark.long
def test_the_guides_workflows_run_on_sandbox_devices(
    cli: Callable[..., Run], tmp_path: Path, start_server: Callable[..., Server], guide_apps: Any
) -> None:
    ports, procs = guide_apps
    server = start_server()
    env = server.client_env(tmp_path)
    manifest = tmp_path / "relay.toml"
    text = MANIFEST
    for template, port in ports.items():
        text = text.replace("{" + template + "}", str(port))
    manifest.write_text(text)
    cli(env, "workflow", "apply", "-f", str(manifest), "--yes").ok()

    # a call comes in to Alice: the auto-answer app answers it and greets the caller
    call = cli(env, "sandbox", "call", "Alice", "--from", "Bob", *QUICK).ok()
    said = messages(call.out)
    [received] = of_type(said, "call_received_event")
    [answer] = of_type(said, "answer_request")
    assert answer["call_id"] == received["call_id"] and received["device_name"] == "Bob"
    assert [m["text"] for m in of_type(said, "say_request")] == ["Now in call"]
    assert said[-1] == {"_type": "wf_api_stop_event", "reason": "normal"}

    # Alice's user calls Bob: the outbound app places the call
    dial = cli(env, "sandbox", "dial", "Alice", "--to", "Bob", *QUICK).ok()
    [placed] = of_type(messages(dial.out), "call_request")
    assert placed["uri"] == BOB_URN and of_type(messages(dial.out), "call_connected_event")

    # a double tap on Carol (place-call is installed on every device): it calls Bob, the workflow's callee arg
    press = cli(env, "sandbox", "press", "Carol", "--taps", "double", *QUICK).ok()
    tapped = messages(press.out)
    assert tapped[0]["trigger"]["args"]["action"] == "action_button_double_tap"
    assert [m["uri"] for m in of_type(tapped, "call_request")] == [BOB_URN]

    # what the sandbox remembers: three instances, ended; the log says what each app did
    instances = cli(env, "workflow", "instance", "list", "-H", "--json").ok().json()
    assert sorted((i["triggering_user_id"], i["status"]) for i in instances) == [
        ("990007560011111", "terminated"),
        ("990007560045678", "terminated"),
        ("990007560045678", "terminated"),
    ]
    logged = follow_logs(env, until=lambda seen: sum("ended: the app terminated" in m for m in seen) == 3)
    assert "say 'Now in call' on auto answer@Alice" in logged
    assert "started by a double tap on Carol (990007560011111)" in logged
    assert sum(m.startswith("call Bob on ") for m in logged) == 2

    # the auto-answer app stops: the next call says what Alice would
    procs["auto-answer"].kill()
    procs["auto-answer"].wait(timeout=10)
    down = cli(env, "sandbox", "call", "Alice", "--from", "Bob")
    assert (down.code, down.out) == (1, ""), down.describe()
    assert "error: my_auto_answer is not available: cannot reach the workflow app at ws://127.0.0.1:" in down.err
    assert 'hint: Alice says "my_auto_answer is not available"; start the app so that it listens at' in down.err
