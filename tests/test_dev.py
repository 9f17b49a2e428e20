"""``relay workflow dev``: generated projects run for real, the watch loop, and no process left behind.

The JavaScript templates run with the pinned ``@relaypro/sdk`` of tests/conformance (tests/sdks.py; nothing is
installed here: the project's node_modules is a link to that one). ``relay workflow dev --once`` runs in this
process (``dev``), since what is checked of it (exit code, transcript, messages, no app left) does not depend on
its being a process of its own (tests/test_readme.py runs it as the installed ``relay``, as a user does); the
watch loop, signals, a terminal and relay's own memory are tested on the installed ``relay`` as a process. The Python templates run where relay-py is installed (``RELAY_PY_PYTHON``; it is not on PyPI).
Processes are found through /proc (Linux): a test that needs it is skipped elsewhere. The app runs under a
keeper (``python -m relay_cli.simulator.keeper``), in the app's directory too: ``living_in`` counts it,
``app_processes`` does not.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relay_cli.__main__ import main

from conftest import Result
from sdks import NODE_MODULES, ensure_sdk, relay_py_python

RELAY = Path(sys.executable).parent / "relay"
#: quick: the other party hangs up 0.3 s after the call connects, prompts are spoken ten times faster
QUICK = ("--set", "hold=0.3", "--set", "speaking_rate=1500")
BOB = "urn:relay-resource:name:device:Bob"
HAS_PROC = os.path.exists("/proc/self/cwd")
SCENARIOS = {"auto-answer": "inbound-call", "outbound": "outbound-call", "place-call": "button", "blank": "button"}


def env(tmp_path: Path) -> dict[str, str]:
    """The test's environment (conftest's isolated RELAY_* variables) without colour."""
    out = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    out["RELAY_DATA_DIR"] = str(tmp_path / "data")
    return out


def project(tmp_path: Path, template: str, lang: str = "js", name: str = "proj") -> Path:
    """``relay workflow init TEMPLATE`` (in this process; what it printed is in the test's captured output)."""
    target = tmp_path / name
    assert main(["workflow", "init", template, str(target), "--lang", lang]) == 0
    if lang == "js":
        (target / "node_modules").symlink_to(
            NODE_MODULES, target_is_directory=True
        )  # the pinned SDK, not a new install
    return target


def dev(run: Any, *args: str) -> Result:
    """``relay workflow dev ARGS`` in this process (conftest's ``run``), colour off as when stdout is not a terminal."""
    return run("workflow", "dev", *args)


def transcript(out: str) -> list[dict[str, Any]]:
    return [json.loads(line)["message"] for line in out.splitlines() if line.strip()]


def of_type(messages: list[dict[str, Any]], _type: str) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("_type") == _type]


def living_in(directory: Path) -> list[int]:
    """Processes (not zombies) whose working directory is ``directory``: the app and whatever it started."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry.name}/cwd") != str(directory.resolve()):
                continue
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state != b"Z":
            found.append(int(entry.name))
    return found


def app_processes(directory: Path) -> list[int]:
    """``living_in`` without the keeper."""
    found = []
    for pid in living_in(directory):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if b"relay_cli.simulator.keeper" in handle.read():
                    continue
        except OSError:
            continue
        found.append(pid)
    return found


def settled(directory: Path, seconds: float = 5.0) -> list[int]:
    """``living_in`` once it is empty, or after ``seconds``."""
    deadline = time.monotonic() + seconds
    while (left := living_in(directory)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


# --- the templates, once ------------------------------------------------------------------------------


def check_template(template: str, messages: list[dict[str, Any]]) -> None:
    """The template's visible actions, in the transcript."""
    assert messages[-1] == {"_type": "wf_api_stop_event", "reason": "normal"}
    assert of_type(messages, "wf_api_terminate_request")
    if template == "auto-answer":
        [received] = of_type(messages, "wf_api_call_received_event")
        [answer] = of_type(messages, "wf_api_answer_request")
        assert answer["call_id"] == received["call_id"] and received["device_name"] == "Bob"
        assert [m["text"] for m in of_type(messages, "wf_api_say_request")] == ["Now in call"]
        kinds = [m["_type"] for m in messages]
        assert kinds.index("wf_api_call_connected_event") < kinds.index("wf_api_say_request")
    elif template == "outbound":
        [asked] = of_type(messages, "wf_api_call_start_request_event")
        [call] = of_type(messages, "wf_api_call_request")
        assert asked["uri"] == call["uri"] == BOB  # the call placed to the requested uri
        assert of_type(messages, "wf_api_call_connected_event")
    elif template == "place-call":
        assert messages[0]["trigger"]["args"]["action"] == "action_button_double_tap"
        [call] = of_type(messages, "wf_api_call_request")
        assert call["uri"] == BOB  # the relay.toml arg callee = "Bob"
        assert of_type(messages, "wf_api_call_connected_event")
    else:
        assert messages[0]["trigger"]["args"]["action"] == "action_button_single_tap"
        assert [m["text"] for m in of_type(messages, "wf_api_say_request")] == ["Hello"]


@pytest.mark.parametrize("template", ["auto-answer", "outbound", "place-call", "blank"])
def test_each_javascript_template_passes_its_scenario(run: Any, tmp_path: Path, template: str) -> None:
    ensure_sdk("the template tests")
    target = project(tmp_path, template)
    started = time.monotonic()
    result = dev(run, str(target), "--once", "--json", *QUICK)
    took = time.monotonic() - started
    assert result.code == 0, result.err
    check_template(template, transcript(result.out))  # stdout is the transcript alone
    # stderr: what dev does and the result; the app's own output (the SDK's log) only when the run fails
    said = result.err.splitlines()
    assert [line.split(" ", 1)[0] for line in said] == ["starting", "simulating", "scenario"], result.err
    assert said[2].startswith(f"scenario {SCENARIOS[template]} passed: the app terminated cleanly")
    assert "Traceback" not in result.err and "\x1b" not in result.out + result.err
    if HAS_PROC:
        assert settled(target, 0) == []  # the app was stopped before relay exited
    print(f"{template}: relay workflow dev --once took {took:.2f}s")


def test_the_workflow_args_come_from_relay_toml(run: Any, tmp_path: Path) -> None:
    ensure_sdk("the template tests")
    target = project(tmp_path, "auto-answer")
    toml = target / "relay.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace('greeting = "Now in call"', 'greeting = "Hello, caller"'),
        encoding="utf-8",
    )
    result = dev(run, str(target), "--once", "--json", *QUICK)
    assert result.code == 0, result.err
    assert [m["text"] for m in of_type(transcript(result.out), "wf_api_say_request")] == ["Hello, caller"]


def test_dev_takes_simulates_scenario_flags_and_workflow_args(run: Any, tmp_path: Path) -> None:
    ensure_sdk("the template tests")
    target = project(tmp_path, "place-call")
    flags = ("-a", "callee=Carol", "--set", "device=Bob", "--taps", "double")
    result = dev(run, str(target), "--once", "--json", *QUICK, *flags)
    assert result.code == 0, result.err
    messages = transcript(result.out)
    assert messages[0]["trigger"]["args"]["source_uri"] == BOB  # --set device= (dev's --device registers)
    [call] = of_type(messages, "wf_api_call_request")
    assert call["uri"] == "urn:relay-resource:name:device:Carol"  # -a over relay.toml's callee = "Bob"


def test_dev_and_simulate_give_a_project_the_same_device(run: Any, tmp_path: Path) -> None:
    """relay.toml installs the workflow on 990007560045678 (Alice): dev sends the urn `simulate URI` sends."""
    from relay_cli.simulator.devloop import free_port

    node = ensure_sdk("the template tests")
    target = project(tmp_path, "auto-answer")
    ran = dev(run, str(target), "--once", "--json", *QUICK)
    assert ran.code == 0, ran.err
    port = free_port()
    app = subprocess.Popen(
        [node, "app.js"],
        cwd=target,
        env={**env(tmp_path), "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:  # until the app accepts connections
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and app.poll() is None
                time.sleep(0.05)
        simulated = run(
            "workflow", "simulate", f"ws://127.0.0.1:{port}/auto-answer", "--json", *QUICK, "--scenario", "inbound-call"
        )
    finally:
        app.terminate()
        app.wait(10)
    assert simulated.code == 0, simulated.err
    by_dev, by_simulate = transcript(ran.out), transcript(simulated.out)
    alice = {"type": "telephony", "args": {"source_uri": "urn:relay-resource:name:device:Alice"}}
    assert by_dev[0]["trigger"] == by_simulate[0]["trigger"] == alice
    [answered_in_dev] = of_type(by_dev, "wf_api_answer_request")
    [answered_in_simulate] = of_type(by_simulate, "wf_api_answer_request")
    assert answered_in_dev["_target"] == answered_in_simulate["_target"]


def test_a_scenario_the_app_does_not_handle_is_exit_6(run: Any, tmp_path: Path) -> None:
    ensure_sdk("the template tests")
    target = project(tmp_path, "auto-answer")
    result = dev(run, str(target), "--once", "--scenario", "outbound-call", "--timeout", "1", "--app-output", "stderr")
    assert result.code == 6, result.err
    assert "error: scenario outbound-call: step 3 (expect call): " in result.err
    if HAS_PROC:
        assert settled(target) == []


@pytest.mark.parametrize("template", ["auto-answer", "outbound", "place-call", "blank"])
def test_each_python_template_passes_its_scenario(run: Any, tmp_path: Path, template: str) -> None:
    python = relay_py_python()
    target = project(tmp_path, template, "python")
    result = dev(run, str(target), "--once", "--json", *QUICK, "--command", f"{python} app.py", "--app-output", "all")
    assert result.code == 0, result.err
    check_template(template, transcript(result.out))
    assert "  app | INFO relay.workflow: " in result.err
    # the readiness probe makes no connection: relay-py logs the simulator's, and no rejected one
    assert "connection rejected" not in result.err and result.err.count("connection open") == 1


# --- the app that does not start -----------------------------------------------------------------------


TRACEBACK = ["Traceback (most recent call last):", '  File "app.py", line 1', "ValueError: boom"]


@pytest.mark.parametrize("mode", ["failure", "all"])
def test_an_app_that_exits_before_listening_is_exit_1_with_its_output_once(run: Any, tmp_path: Path, mode: str) -> None:
    from relay_cli.simulator.devloop import free_port

    port = free_port()
    command = f"echo \"starting, PORT=$PORT\"; printf '%s\\n' {shlex.join(TRACEBACK)} >&2; exit 3"
    result = run(
        "workflow", "dev", str(tmp_path), "--once", "--command", command, "--path", "/x", "--scenario", "button",
        "--port", str(port), "--app-output", mode,
    )  # fmt: skip
    assert result.code == 1
    assert result.out == ""
    what = f"error: the app exited with code 3 before it listened on port {port}"
    lines = TRACEBACK
    if mode == "failure":  # its output in the error only
        assert f"{what}; its last lines:\n" in result.err
        last = result.err.split("; its last lines:\n", 1)[1].splitlines()
        assert sorted(last) == sorted(f"  | {line}" for line in [f"starting, PORT={port}", *lines])
        assert "app |" not in result.err
    else:  # as it came, and the error points there
        assert f"{what} (its output is above)\n" in result.err
        assert [line for line in result.err.splitlines() if "app |" in line and "PORT" not in line] == [
            f"  app | {line}" for line in lines
        ]
    assert sum(line.endswith("| Traceback (most recent call last):") for line in result.err.splitlines()) == 1


def test_the_app_gets_none_of_relays_variables(run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "RELAY_API_KEY": "key-5f1c9a",
        "RELAY_HEADERS": "X-Secret: s3-7d2e",
        "RELAY_SERVER_TOKEN": "tok-4b8e31",
        "RELAY_HOST": "http://127.0.0.1:9",  # @relaypro/sdk reads RELAY_HOST itself, with another meaning
        "RELAY_PROFILE": "profile-9c0d",
        "RELAY_ENV": "env-qa-61a2",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MY_APP_SETTING", "kept")
    (tmp_path / "relay.toml").write_text(
        '[dev]\ncommand = "env; exit 1"\npath = "/x"\nscenario = "button"\npass_env = ["RELAY_ENV"]\n',
        encoding="utf-8",
    )
    result = run("workflow", "dev", str(tmp_path), "--once", "--app-output", "all")
    assert result.code == 1
    printed = dict(
        line.removeprefix("  app | ").split("=", 1) for line in result.err.splitlines() if line.startswith("  app | ")
    )
    assert {k: v for k, v in printed.items() if k.startswith("RELAY_")} == {"RELAY_ENV": "env-qa-61a2"}  # pass_env
    assert printed["MY_APP_SETTING"] == "kept" and printed["PORT"].isdigit()
    for value in secrets.values():
        assert value not in result.err or value == "env-qa-61a2"


def test_an_app_that_never_listens_is_stopped_and_exit_1(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("relay_cli.simulator.appproc.START_TIMEOUT", 0.5)
    result = run(
        "workflow",
        "dev",
        str(tmp_path),
        "--once",
        "--command",
        "echo waiting; sleep 30 & sleep 30",
        "--path",
        "/x",
        "--scenario",
        "button",
    )
    assert result.code == 1
    assert "did not listen on port" in result.err and "within 0.5 s (it must listen on $PORT)" in result.err
    assert "  | waiting" in result.err
    if HAS_PROC:
        assert settled(tmp_path, 0) == []  # both sleeps were killed with their group


def test_a_command_that_is_not_found_says_so(run: Any, tmp_path: Path) -> None:
    result = run(
        "workflow",
        "dev",
        str(tmp_path),
        "--once",
        "--command",
        "no-such-program-here",
        "--path",
        "/x",
        "--scenario",
        "button",
    )
    assert result.code == 1
    assert "exited with code 127" in result.err
    assert "hint: the shell could not find the command; check `no-such-program-here`" in result.err


def test_a_python_project_without_its_virtual_environment_is_told_to_make_it(run: Any, tmp_path: Path) -> None:
    target = tmp_path / "p"
    assert run("workflow", "init", "blank", str(target), "--lang", "python").code == 0
    result = run("workflow", "dev", str(target), "--once")
    assert result.code == 1
    assert "error: the app exited with code 127 before it listened on port " in result.err
    assert (
        f"hint: .venv/bin/python does not exist in {target}: install the project's dependencies as its README.md says"
        in result.err
    )


def test_a_project_without_its_dependencies_is_told_to_install_them(run: Any, tmp_path: Path) -> None:
    ensure_sdk("the template tests")
    target = project(tmp_path, "auto-answer")
    (target / "node_modules").unlink()
    result = dev(run, str(target), "--once")
    assert result.code == 1
    assert "Cannot find module '@relaypro/sdk'" in result.err
    assert f"hint: run npm install in {target} first" in result.err


# --- what the app prints ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["failure", "all"])
def test_the_apps_output_is_escaped(run: Any, tmp_path: Path, mode: str) -> None:
    command = r"printf 'plain\n\033[31mred\033[0m \033]0;title\007\rover\n'; exit 1"
    result = run(
        "workflow", "dev", str(tmp_path), "--once", "--command", command, "--path", "/x", "--scenario", "button",
        "--app-output", mode,
    )  # fmt: skip
    assert result.code == 1
    assert not {"\x1b", "\x07", "\r"} & set(result.err)  # nothing a terminal would act on
    assert "| \\x1b[31mred\\x1b[0m \\x1b]0;title\\x07\\x0dover\n" in result.err  # but every character, visible
    assert "| plain\n" in result.err


def test_a_line_without_end_is_cut_and_memory_stays_bounded(tmp_path: Path) -> None:
    """50 MB without a newline: the line is cut at 4 KiB, and relay's peak memory stays where it is for a
    short line (it was some 420 MB)."""

    def peak(command: str) -> tuple[str, int]:
        with (tmp_path / "err").open("w+", encoding="utf-8") as err:
            proc = subprocess.Popen(
                [str(RELAY), "workflow", "dev", str(tmp_path), "--once", "--command", command, "--path", "/x"]
                + ["--scenario", "button"],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=env(tmp_path),
            )
            _pid, status, usage = os.wait4(proc.pid, 0)  # the peak of relay and of what it waited for
            proc.returncode = os.waitstatus_to_exitcode(status)
            assert proc.returncode == 1
            err.seek(0)
            return err.read(), usage.ru_maxrss  # KiB

    _err, small = peak("echo short; exit 1")
    err, big = peak("head -c 50000000 /dev/zero | tr '\\0' x; echo; echo after; exit 1")
    last = err.split("; its last lines:\n", 1)[1].splitlines()
    assert last == ["  | " + "x" * 4096 + " [line cut at 4096 bytes]", "  | after"]
    assert big - small < 20_000, f"{small} KiB for a short line, {big} KiB for 50 MB without a newline"
    print(f"relay's peak memory: {small} KiB for a short line, {big} KiB for 50 MB without a newline")


#: an app that logs each connection it accepts: the request line, or that none came
PROBED_APP = """
import os, socket
server = socket.create_server(("127.0.0.1", int(os.environ["PORT"])))
while True:
    conn, _ = server.accept()
    try:
        data = conn.recv(1024)
    except ConnectionResetError:
        data = None
    print("request: " + data.split(b"\\r\\n")[0].decode() if data else f"a connection without a request ({data!r})", flush=True)
    conn.close()
"""


def test_waiting_for_the_app_makes_no_connection_it_would_log(run: Any, tmp_path: Path) -> None:
    """relay-py (websockets) logs "connection rejected (400 Bad Request)" for a connection without a request."""
    (tmp_path / "app.py").write_text(PROBED_APP, encoding="utf-8")
    result = run(
        "workflow", "dev", str(tmp_path), "--once", "--command", f"exec {sys.executable} app.py", "--path", "/x",
        "--scenario", "button", "--timeout", "2",
    )  # fmt: skip
    assert result.code == 1  # the app is no workflow app: the simulator cannot reach a workflow there
    last = [line for line in result.err.split("its last lines:\n", 1)[1].splitlines() if line.startswith("  | ")]
    assert last == ["  | request: GET /x HTTP/1.1"], result.err  # the simulator's handshake, and nothing before


def test_the_quick_starts_dev_once_fits_a_terminal(tmp_path: Path) -> None:
    """`relay workflow dev auto-answer --once` on an 80-column terminal: the conversation and the result, in
    40 rows at most (it was some 245: the SDK logs every message)."""
    import fcntl
    import pty
    import re
    import select
    import struct
    import termios

    ensure_sdk("the template tests")
    target = project(tmp_path, "auto-answer")
    master, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(
        [str(RELAY), "workflow", "dev", str(target), "--once", *QUICK],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env(tmp_path),
    )
    os.close(terminal)
    shown = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 1)[0]:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every process holding the terminal has ended
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(master)
        proc.wait(10)
    assert proc.returncode == 0, shown
    text = re.sub(r"\x1b\[[0-9;]*m", "", shown.decode()).replace("\r\n", "\n")
    rows = sum(max(1, -(-len(line) // 80)) for line in text.splitlines())  # a longer line wraps
    assert rows <= 40, text
    print(f"dev --once on an 80-column terminal: {rows} rows")
    assert "app |" not in text and "START" in text and "say                      'Now in call'" in text
    assert text.splitlines()[-1].startswith("scenario inbound-call passed: the app terminated cleanly")


# --- bad input ----------------------------------------------------------------------------------------

BAD = [
    (
        [],
        "",
        "error: --command: {dir}/relay.toml: no such file: give --command (the shell command that starts the app), or run `relay workflow init`",
    ),
    (
        ["--scenario", "button", "--scenario-file", "x.toml"],
        "[dev]\ncommand = 'touch started'\npath = '/x'\n",
        "error: --scenario-file: --scenario and --scenario-file cannot be used together; pick one",
    ),
    (
        ["--scenario", "button", "--max-time", "1e9"],
        "[dev]\ncommand = 'touch started'\npath = '/x'\n",
        "error: --max-time: expected at most 86400 seconds, got 1e+09",
    ),
    (
        ["--scenario", "nope"],
        "[dev]\ncommand = 'touch started'\npath = '/x'\n",
        "error: --scenario: unknown scenario 'nope' (built-in: button, inbound-call, missed-call, outbound-call, phrase, trigger; or --scenario-file FILE)",
    ),
    (
        [],
        "[dev]\ncommand = 'touch started'\npath = '/x'\nscenario = 'nope'\n",
        "error: {dir}/relay.toml: dev.scenario: unknown scenario 'nope' (built-in: button, inbound-call, missed-call, outbound-call, phrase, trigger; or --scenario-file FILE)",
    ),
    (
        [],
        "[dev]\ncommand = 'touch started'\npath = '/x'\nscenario = 'button'\nport = 8080\n",
        "error: {dir}/relay.toml: dev.port: unknown key; expected one of command, path, scenario, workflow, watch, pass_env",
    ),
    ([], "[dev]\ncommand = ''\n", "error: {dir}/relay.toml: dev.command: expected a non-empty string"),
    (
        [],
        "[dev]\ncommand = 'touch started'\nwatch = '*.js'\n",
        "error: {dir}/relay.toml: dev.watch: expected a list of non-empty strings",
    ),
    ([], "[dev]\ncommand = 'touch started'\nwatch = []\n", "error: {dir}/relay.toml: dev.watch: expected at least one"),
    (
        [],
        "[dev]\ncommand = 'touch started'\npass_env = ['HOME']\n",
        "error: {dir}/relay.toml: dev.pass_env: HOME reaches the app anyway: only RELAY_* variables are held back",
    ),
    (
        [],
        "[dev]\ncommand = 'touch started'\npass_env = ['RELAY API KEY']\n",
        "error: {dir}/relay.toml: dev.pass_env: 'RELAY API KEY' is not the name of an environment variable",
    ),
    (
        [],
        "[dev\n",
        "error: {dir}/relay.toml: invalid TOML: Expected ']' at the end of a table declaration (at line 1, column 5)",
    ),
    (
        ["--path", "x"],
        "[dev]\ncommand = 'touch started'\nscenario = 'button'\n",
        "error: --path: expected a URL path such as /auto-answer, got 'x'",
    ),
    (
        [],
        "[dev]\ncommand = 'touch started'\nscenario = 'button'\n",
        "error: --path: no [dev] path in {dir}/relay.toml: give --path, the path the app serves the workflow at",
    ),
    (
        ["--set", "nope=1"],
        "[dev]\ncommand = 'touch started'\npath = '/x'\nscenario = 'button'\n",
        "error: --set: unknown parameter 'nope' (this scenario has: ",
    ),
    (
        ["-b", "loud=maybe"],
        "[dev]\ncommand = 'touch started'\npath = '/x'\nscenario = 'button'\n",
        "error: --boolean: expected NAME=true or NAME=false, got 'loud=maybe'",
    ),
    (
        ["--from", "Carol"],
        "[dev]\ncommand = 'touch started'\npath = '/x'\nscenario = 'button'\n",
        "error: --from: does not apply to scenario 'button'",
    ),
    (
        ["--app-output", "some"],
        "[dev]\ncommand = 'touch started'\npath = '/x'\nscenario = 'button'\n",
        "error: --app-output: expected one of failure, stderr, all, got 'some'",
    ),
    (
        [],
        "[workflow.a]\ntype = 'button'\nuri = 'wss://YOUR-HOST/a'\n[workflow.b]\ntype = 'button'\nuri = 'wss://YOUR-HOST/b'\n[dev]\ncommand = 'touch started'\n",
        "error: {dir}/relay.toml: 2 workflows (a, b); name the one the app serves with dev.workflow",
    ),
    (
        [],
        "[workflow.a]\ntype = 'battery'\nthreshold = 120\nuri = 'wss://YOUR-HOST/a'\n[dev]\ncommand = 'touch started'\n",
        "error: {dir}/relay.toml: workflow.a.threshold: expected a whole percentage from 1 to 100, got 120",
    ),
]


@pytest.mark.parametrize(("args", "toml", "message"), BAD)
def test_bad_input_is_exit_2_and_starts_nothing(
    run: Any, tmp_path: Path, args: list[str], toml: str, message: str
) -> None:
    if toml:
        (tmp_path / "relay.toml").write_text(toml, encoding="utf-8")
    result = run("workflow", "dev", str(tmp_path), "--once", *args)
    assert result.code == 2, result.err
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(message.format(dir=tmp_path)), result.err
    assert not (tmp_path / "started").exists() and result.out == ""


def test_a_port_in_use_is_refused(run: Any, tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(
            "workflow",
            "dev",
            str(tmp_path),
            "--once",
            "--command",
            "touch started",
            "--path",
            "/x",
            "--scenario",
            "button",
            "--port",
            str(port),
        )
    assert result.code == 2
    assert result.err.startswith(f"error: --port: port {port} is not free on this machine (")
    assert not (tmp_path / "started").exists()


def test_dev_prefers_the_port_it_is_given(run: Any, tmp_path: Path) -> None:
    ensure_sdk("the template tests")
    from relay_cli.simulator.devloop import free_port

    target = project(tmp_path, "blank")
    port = free_port()
    result = dev(run, str(target), "--once", "--port", str(port), *QUICK)
    assert result.code == 0, result.err
    assert f"with PORT={port}\n" in result.err and f"against ws://127.0.0.1:{port}/blank " in result.err


# --- watching -----------------------------------------------------------------------------------------


class Watch:
    """``relay workflow dev`` (no --once) as a background process, its output read as it comes."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        #: the project's directory, where the app and whatever it starts run
        self.directory = Path(args[0]) if args and not args[0].startswith("-") else Path.cwd()
        self.proc = subprocess.Popen(
            [str(RELAY), "workflow", "dev", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(tmp_path),
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self.changed = threading.Condition()
        for stream, into in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, into), daemon=True).start()

    def _read(self, stream: Any, into: list[str]) -> None:
        for line in stream:
            with self.changed:
                into.append(line)
                self.changed.notify_all()

    def wait_for(self, what: str, count: int, timeout: float = 30) -> None:
        """Until ``what`` was printed (stdout or stderr) ``count`` times."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while sum(what in line for line in self.out + self.err) < count:
                left = deadline - time.monotonic()
                assert left > 0 and self.proc.poll() is None, f"no {count} x {what!r}:\n{''.join(self.err)[-3000:]}"
                self.changed.wait(left)

    def count(self, what: str) -> int:
        with self.changed:
            return sum(what in line for line in self.out + self.err)

    def stop(self, sig: int) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(30)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def watching() -> Iterator[list[Watch]]:
    """The dev sessions a test starts; each is killed at the end, if it still runs, and nothing it started may
    outlive it (the app's processes die with relay, however it ends): a test that leaves one fails."""
    started: list[Watch] = []
    yield started
    left: list[int] = []
    for w in started:
        w.kill()
        if HAS_PROC:
            left += settled(w.directory, 10)
    for pid in left:  # not left running for the next test, nor for the machine
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    assert not left, f"processes outlived relay workflow dev: {left}"


@pytest.mark.skipif(not HAS_PROC, reason="finds the app's processes through /proc")
@pytest.mark.long
def test_a_change_restarts_the_app_and_ctrl_c_stops_it_and_its_children(tmp_path: Path, watching: list[Watch]) -> None:
    ensure_sdk("the template tests")
    target = project(tmp_path, "auto-answer")
    # the app starts a child of its own, which must be stopped with it
    w = Watch(tmp_path, str(target), "--json", *QUICK, "--command", "sleep 300 & exec node app.js")
    watching.append(w)
    w.wait_for('"wf_api_stop_event"', 1)
    w.wait_for("for changes (Ctrl-C stops)", 1)
    first = set(app_processes(target))
    assert len(first) == 2  # node and its sleep, still running between changes

    (target / ".git").mkdir()
    (target / ".git" / "HEAD").write_text("x", encoding="utf-8")
    (target / "__pycache__").mkdir()
    (target / "__pycache__" / "x.pyc").write_bytes(b"x")
    time.sleep(1)  # ten times the watch's quiet period (100 ms): a change it did not ignore would be reported by now
    assert w.count('"wf_api_stop_event"') == 1 and w.count("changed:") == 0  # ignored directories

    with (target / "app.js").open("a", encoding="utf-8") as handle:
        handle.write("// a change\n")
    w.wait_for("changed: app.js; restarting the app", 1)
    w.wait_for('"wf_api_stop_event"', 2)  # a second transcript
    w.wait_for("for changes (Ctrl-C stops)", 2)
    second = set(app_processes(target))
    assert len(second) == 2 and not first & second  # the old app and its child are gone, new ones run
    assert w.count("for changes (Ctrl-C stops); the app stays up at ws://127.0.0.1:") == 2

    toml = target / "relay.toml"
    good = toml.read_text(encoding="utf-8")
    toml.write_text("[dev\n", encoding="utf-8")  # a broken relay.toml is reported; the watch goes on
    w.wait_for("invalid TOML", 1)
    w.wait_for("for changes (Ctrl-C stops)", 3)
    assert w.proc.poll() is None and living_in(target) == []
    toml.write_text(good.replace('greeting = "Now in call"', 'greeting = "Edited"'), encoding="utf-8")
    w.wait_for('"wf_api_stop_event"', 3)  # relay.toml is read again: the new greeting
    w.wait_for("for changes (Ctrl-C stops)", 4)
    says = [json.loads(line)["message"].get("text") for line in w.out if '"wf_api_say_request"' in line]
    assert says == ["Now in call", "Now in call", "Edited"]

    assert w.stop(signal.SIGINT) == 130
    assert settled(target) == []
    # one restart per change made, none for the ignored directories, even reported late
    assert [line.strip() for line in w.err if "changed:" in line] == [
        "changed: app.js; restarting the app", "changed: relay.toml; restarting the app",
        "changed: relay.toml; restarting the app",
    ]  # fmt: skip
    err = "".join(w.err)
    assert err.rstrip().endswith("interrupted") and "Traceback" not in err
    assert all(json.loads(line) for line in w.out)  # stdout: only the transcripts, as JSON lines


@pytest.mark.skipif(not HAS_PROC, reason="finds the app's processes through /proc")
def test_ctrl_c_in_the_middle_of_a_call_stops_the_app(tmp_path: Path, watching: list[Watch]) -> None:
    ensure_sdk("the template tests")
    target = project(tmp_path, "auto-answer")
    w = Watch(tmp_path, str(target), "--once", "--json", "--set", "hold=60")  # the caller would stay a minute
    watching.append(w)
    w.wait_for('"wf_api_say_request"', 1)
    assert len(living_in(target)) >= 1
    assert w.stop(signal.SIGINT) == 130
    assert settled(target) == []
    assert "".join(w.err).rstrip().endswith("interrupted")


@pytest.mark.skipif(not HAS_PROC, reason="finds the app's processes through /proc")
def test_sigterm_stops_the_app_too(tmp_path: Path, watching: list[Watch]) -> None:
    # an app that listens but does not speak the workflow protocol: the scenario fails, the watch goes on
    w = Watch(
        tmp_path,
        str(tmp_path),
        "--command",
        f"exec {sys.executable} -m http.server $PORT",
        "--path",
        "/x",
        "--scenario",
        "button",
        "--timeout",
        "2",
    )
    watching.append(w)
    w.wait_for("for changes (Ctrl-C stops)", 1)
    assert w.count("error: cannot reach the workflow app at ws://127.0.0.1:") == 1
    assert len(app_processes(tmp_path)) == 1
    assert w.stop(signal.SIGTERM) == 130
    assert settled(tmp_path) == []


#: an app that starts a child in a session of its own (out of its process group, as Node's spawn(..., {detached:
#: true}) does) and one whose parent exits at once (a daemon's double fork), then accepts connections on $PORT
DETACHING_APP = """
import os, socket, subprocess, sys
subprocess.Popen(["sleep", "300"], start_new_session=True)
subprocess.run([sys.executable, "-c", "import subprocess; subprocess.Popen(['sleep', '301'], start_new_session=True)"])
server = socket.create_server(("127.0.0.1", int(os.environ["PORT"])))
while True:
    server.accept()[0].close()
"""


@pytest.mark.skipif(not HAS_PROC, reason="finds the app's processes through /proc")
@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_nothing_the_app_started_outlives_dev(tmp_path: Path, watching: list[Watch], how: str) -> None:
    (tmp_path / "app.py").write_text(DETACHING_APP, encoding="utf-8")
    w = Watch(
        tmp_path, str(tmp_path), "--command", f"exec {sys.executable} app.py", "--path", "/x", "--scenario", "button",
        "--timeout", "1",
    )  # fmt: skip
    watching.append(w)
    w.wait_for("for changes (Ctrl-C stops)", 1)
    deadline = time.monotonic() + 10
    while len(app_processes(tmp_path)) < 3:  # the app, its detached child, the orphan
        assert time.monotonic() < deadline, app_processes(tmp_path)
        time.sleep(0.05)
    if how == "SIGKILL":  # a CI job's hard timeout, the OOM killer: relay cannot clean up
        w.proc.kill()
        w.proc.wait(10)
        killed = time.monotonic()
        assert settled(tmp_path, 5) == []  # SIGTERM, and SIGKILL after 3 s, would end even a stubborn one
        print(f"the app's processes were gone {time.monotonic() - killed:.2f}s after relay was killed")
    else:
        assert w.stop(getattr(signal, how)) == 130
        assert living_in(tmp_path) == []  # at once: dev waited for all of them, its keeper too


#: an app that writes files into its own directory each time it starts (a log, a database), then listens
WRITING_APP = """
import os, socket
with open("app.log", "a") as log:
    log.write("started\\n")
for name in ("data.sqlite", "data.sqlite-journal", "upload.wav"):
    with open(name, "wb") as handle:
        handle.write(os.urandom(16))
server = socket.create_server(("127.0.0.1", int(os.environ["PORT"])))
while True:
    server.accept()[0].close()
"""


@pytest.mark.long
def test_files_the_app_writes_do_not_restart_it(tmp_path: Path, watching: list[Watch]) -> None:
    app = tmp_path / "app.py"
    app.write_text(WRITING_APP, encoding="utf-8")
    w = Watch(
        tmp_path, str(tmp_path), "--command", f"exec {sys.executable} app.py", "--path", "/x", "--scenario", "button",
        "--timeout", "1",
    )  # fmt: skip
    watching.append(w)
    w.wait_for("for changes (Ctrl-C stops)", 1)
    app.write_text(WRITING_APP + "# a change\n", encoding="utf-8")  # a change: the app starts again, and writes
    w.wait_for("for changes (Ctrl-C stops)", 2)
    time.sleep(1.0)  # the app's own writes restarted it two to three times a second: two or more in a second
    assert [line.strip() for line in w.err if "changed:" in line] == ["changed: app.py; restarting the app"]
    assert w.count("starting `") == 2 and (tmp_path / "app.log").read_text(encoding="utf-8") == "started\n" * 2


@pytest.mark.parametrize(
    ("path", "patterns", "restarts"),
    [
        ("app.js", None, True),
        ("lib/util.ts", None, True),
        ("app.py", None, True),
        ("relay.toml", None, True),
        ("calls/busy.toml", None, True),
        ("package.json", None, True),
        ("config/settings.yaml", None, True),
        (".env", None, True),
        ("app.log", None, False),
        ("data.sqlite", None, False),
        ("data.sqlite-journal", None, False),
        ("data.db-wal", None, False),
        ("uploads/a.wav", None, False),
        ("views/page.html", None, False),
        ("views/page.html", ["*.js", "views/*.html"], True),
        ("app.py", ["*.js", "views/*.html"], False),
        ("state.json", ["*.js", "config/*.json"], False),
    ],
)
def test_which_changes_restart_the_app(path: str, patterns: list[str] | None, restarts: bool) -> None:
    from relay_cli.simulator.devloop import DEFAULT_WATCH, watched

    assert watched(path, patterns or DEFAULT_WATCH) is restarts


def test_dev_and_init_do_not_slow_down_relay_help(tmp_path: Path) -> None:
    from test_startup import run_importtime, top_level

    for args in (("--help",), ("workflow", "dev", "--help"), ("workflow", "init", "--help")):
        proc, modules = run_importtime(tmp_path / "config", *args)
        assert proc.returncode == 0
        assert not top_level(modules) & {"watchfiles", "anyio", "websockets", "asyncio"}, args


def test_help_has_examples(run: Any) -> None:
    shown = run("workflow", "dev", "--help")
    assert shown.code == 0
    assert "Examples:" in shown.out and "relay workflow dev auto-answer --once" in shown.out
