"""End-to-end: the commands against a real ``relay server`` on loopback (the INSTALLED console script, started
with ``--port 0 --json``), and against the in-process ``local`` profile.

A command runs in this process (``cli``: ``main``, as the console script calls it, with exactly the environment a
subprocess would get), since what is checked of it (exit code, stdout, stderr, what the server then holds) does
not depend on its being a process of its own; where processes are the point (ten at once, a log stream that
outlives its server) it runs as the installed ``relay`` script (``relay``). Every subprocess has a timeout; every
server is stopped by a finalizer.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from relay_cli.__main__ import main

RELAY = Path(sys.executable).parent / "relay"
TOKEN = "e2e-token"
ALICE = "990007560045678"
BOB = "990007560023456"
ALL_DEVICES = "urn:relay-resource:all:device"
CMD_TIMEOUT = 20
START_TIMEOUT = 15

pytestmark = [
    pytest.mark.skipif(not RELAY.exists(), reason=f"relay is not installed next to {sys.executable}"),
    pytest.mark.skipif(os.name != "posix", reason="signals and the console script path are POSIX-specific here"),
]


# --- environment and running the CLI ------------------------------------------------------------------


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """os.environ minus RELAY_* and CI, with config and data in tmp_path, no colour, loopback never proxied,
    no preflight probes of workflow URIs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_") and k != "CI"}
    env["RELAY_CONFIG_DIR"] = str(tmp_path / "config")
    env["RELAY_DATA_DIR"] = str(tmp_path / "data")
    env["NO_COLOR"] = "1"
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost,::1"
    # `create call` / `install` of a call workflow probe the workflow's wss:// URI (a DNS lookup and a handshake to
    # made-up hosts such as myhost.mydomain.com); these tests stay on loopback, so the preflight check is off.
    env["RELAY_NO_CHECK"] = "1"
    env.update(extra)
    return env


@dataclass
class Run:
    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def json(self) -> Any:
        try:
            return json.loads(self.out)
        except ValueError:
            raise AssertionError(
                f"relay {' '.join(self.args)}: stdout is not JSON:\n{self.out}\nstderr:\n{self.err}"
            ) from None

    def ok(self) -> Run:
        assert self.code == 0, self.describe()
        return self

    def describe(self) -> str:
        return f"relay {' '.join(self.args)} -> exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}"


def relay(env: dict[str, str], *args: str, timeout: float = CMD_TIMEOUT) -> Run:
    """Run the installed CLI with stdin not a terminal."""
    try:
        proc = subprocess.run(
            [str(RELAY), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"relay {' '.join(args)} did not finish within {timeout}s\nstdout:\n{exc.stdout!r}\nstderr:\n{exc.stderr!r}"
        ) from None
    return Run(args, proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Run]:
    """``cli(env, *args)`` → Run: ``relay ARGS`` in this process, with exactly ``env`` as its environment (restored
    afterwards) and stdin not a terminal, as ``relay`` runs it in a process of its own."""

    def run(env: dict[str, str], *args: str) -> Run:
        with monkeypatch.context() as patch:
            for name in set(os.environ) - set(env):
                patch.delenv(name)
            for name, value in env.items():
                if os.environ.get(name) != value:
                    patch.setenv(name, value)
            capsys.readouterr()
            code = main(list(args))
            captured = capsys.readouterr()
        return Run(args, code, captured.out, captured.err)

    return run


def relay_many(commands: list[tuple[dict[str, str], list[str]]], timeout: float = CMD_TIMEOUT) -> list[Run]:
    """Start every command (its environment, its arguments) at once, then wait for all of them."""
    procs = [
        subprocess.Popen(
            [str(RELAY), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for env, args in commands
    ]
    runs = []
    deadline = time.monotonic() + timeout
    try:
        for (_, args), proc in zip(commands, procs, strict=True):
            out, err = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
            runs.append(Run(tuple(args), proc.returncode, out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return runs


# --- relay server ---------------------------------------------------------------------------------------


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base_url: str
    info: dict[str, Any]
    stderr_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def client_env(self, tmp_path: Path, **extra: str) -> dict[str, str]:
        return base_env(tmp_path, **{"RELAY_HOST": self.base_url, "RELAY_API_KEY": TOKEN, **extra})

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5) -> int:
        """Send ``sig`` and wait; kill it if it does not stop in time (then fail)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
                raise AssertionError(f"relay server did not stop within {timeout}s of signal {sig}") from None
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return int(self.proc.returncode)


def _first_line(stream: Any, timeout: float) -> bytes:
    """The first line of ``stream`` within ``timeout`` seconds (b'' at EOF); a thread does the blocking read."""
    box: queue.Queue[bytes | BaseException] = queue.Queue()

    def read() -> None:
        try:
            box.put(stream.readline())
        except BaseException as exc:  # noqa: BLE001 # pragma: no cover - surfaced below
            box.put(exc)

    threading.Thread(target=read, name="relay-server-stdout", daemon=True).start()
    try:
        item = box.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"relay server printed no line within {timeout}s") from None
    if isinstance(item, BaseException):
        raise item
    return item


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``start_server(db)`` → a running ``relay server --port 0 --token e2e-token --db db --json``.

    Every server started is terminated (then killed if need be) when the test ends.
    """
    started: list[subprocess.Popen[bytes]] = []
    counter = iter(range(1000))

    def start(db: Path | None = None) -> Server:
        db = db or tmp_path / "e2e.db"
        n = next(counter)
        stderr_path = tmp_path / f"server-{n}.stderr"
        env = base_env(tmp_path)
        with stderr_path.open("wb") as stderr:
            proc = subprocess.Popen(
                [str(RELAY), "server", "--port", "0", "--token", TOKEN, "--db", str(db), "--json"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
        started.append(proc)
        line = _first_line(proc.stdout, START_TIMEOUT)
        if not line:
            proc.wait(timeout=5)
            raise AssertionError(
                f"relay server exited ({proc.returncode}) before listening:\n{stderr_path.read_text(errors='replace')}"
            )
        info = json.loads(line)
        assert set(info) == {"base_url", "token", "db"}, info
        assert info["token"] == TOKEN
        assert Path(info["db"]) == db
        assert info["base_url"].startswith("http://127.0.0.1:"), info
        return Server(proc, info["base_url"], info, stderr_path, env)

    yield start

    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def server(start_server: Callable[..., Server]) -> Server:
    return start_server()


# --- helpers on results -----------------------------------------------------------------------------


def trigger_of(workflow: dict[str, Any]) -> dict[str, Any]:
    config = workflow["config"]
    if isinstance(config, str):
        config = json.loads(config)
    return dict(config["trigger"])


def on_keys(workflow: dict[str, Any]) -> list[str]:
    return [k for k in trigger_of(workflow) if k.startswith("on_")]


def args_of(workflow: dict[str, Any]) -> dict[str, Any]:
    return dict(trigger_of(workflow)["start"]["workflow"]["args"])


def by_name(workflows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    names = [w["name"] for w in workflows]
    assert len(names) == len(set(names)), f"duplicate names: {names}"
    return {w["name"]: w for w in workflows}


# --- the journey ---------------------------------------------------------------------------------------

URI = "wss://myhost.mydomain.com"

#: name → (create arguments, the one on_* key, its expected value)
CREATES: dict[str, tuple[list[str], str, Any]] = {
    "my_auto_answer": (
        ["call", "--trigger", "inbound", "--uri", f"{URI}/autoanswerpath", "-i", ALICE],
        "on_incoming_call",
        ".*",
    ),
    "outbound": (
        ["call", "--trigger", "outbound", "--uri", f"{URI}/outboundpath", "-i", BOB],
        "on_call_request",
        ".*",
    ),
    "place-call": (
        ["button", "--trigger", "double", "--uri", f"{URI}/placecallpath", "-A"],
        "on_button",
        "action_button_double_tap",
    ),
    "hello": (
        ["phrase", "--trigger", "Hello   World", "--trigger", "hi there", "--uri", f"{URI}/hello", "-A"],
        "on_phrases",
        ["hello world", "hi there"],
    ),
    "sos": (["event", "--trigger", "emergency", "--uri", f"{URI}/sos", "-A"], "on_device_event", "emergency"),
    "low-battery": (
        ["battery", "--trigger", "discharge", "--threshold", "20", "--uri", f"{URI}/battery", "-A"],
        "on_battery_discharge",
        20,
    ),
    # on loopback, where nothing listens: the sandbox really connects when it is triggered (no DNS in tests)
    "webhook": (["http", "--trigger", "POST", "--uri", "ws://127.0.0.1:9/hook", "-i", ALICE], "on_http", "POST"),
    "room-check": (
        ["nfc", "-c", "tasks", "-l", "Room 12", "--uri", f"{URI}/nfc", "-A"],
        "on_nfc",
        {"type": "custom", "category": "tasks", "label": "Room 12"},
    ),
    "left-site": (
        ["geofence", "--trigger", "exit", "--id", "GEO1", "--uri", f"{URI}/geo", "-A"],
        "on_geofence",
        {"transition": "exit", "geofence_id": "GEO1"},
    ),
    "at-desk": (
        ["position", "--trigger", "entry", "-v", "VENUE1", "-p", "POS1", "--uri", f"{URI}/pos", "-A"],
        "on_position",
        {"venue_id": "VENUE1", "position_id": "POS1", "transition": "entry"},
    ),
    "standup": (
        [
            "timer",
            "--trigger",
            "repeat",
            "--start",
            "2030-01-01T09:00:00",
            "-z",
            "America/Chicago",
            "-c",
            "3",
            "-d",
            "MO",
            "--uri",
            f"{URI}/timer",
            "-A",
        ],
        "on_timer",
        {
            "start_time": "2030-01-01T09:00:00",
            "timezone": "America/Chicago",
            "frequency": "daily",
            "interval": 1,
            "count": 3,
            "byweekday": [1],
        },
    ),
}


def test_full_journey_then_restart(
    cli: Callable[..., Run], tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    server = start_server()
    env = server.client_env(tmp_path)

    # create: every trigger kind (call in both directions)
    created: dict[str, dict[str, Any]] = {}
    for name, (args, key, value) in CREATES.items():
        kind, rest = args[0], args[1:]
        saved = cli(env, "workflow", "create", kind, "--name", name, *rest, "--json").ok().json()
        assert saved["name"] == name
        assert saved["workflow_id"]
        assert on_keys(saved) == [key], saved
        assert trigger_of(saved)[key] == value, saved
        created[name] = saved
    assert len({w["workflow_id"] for w in created.values()}) == len(CREATES)

    # list --json: exactly those, with the right trigger and install
    listed = by_name(cli(env, "workflow", "list", "--json").ok().json())
    assert set(listed) == set(CREATES)
    for name, (args, key, value) in CREATES.items():
        wf = listed[name]
        assert wf["workflow_id"] == created[name]["workflow_id"]
        assert on_keys(wf) == [key], wf
        assert trigger_of(wf)[key] == value, wf
        if "-A" in args:
            assert wf.get("install_rule") == ALL_DEVICES, wf
        else:
            assert wf.get("install") == [args[args.index("-i") + 1]], wf
            assert "install_rule" not in wf, wf
    assert listed["webhook"]["options"] == {"transient": True, "hidden": False}

    # the table, piped: plain text
    table = cli(env, "workflow", "list").ok()
    assert "call:inbound" in table.out
    assert "all devices" in table.out
    assert "\x1b[" not in table.out
    for name in CREATES:
        assert name in table.out

    # install / uninstall
    cli(env, "workflow", "install", "-w", "my_auto_answer", "-i", BOB).ok()
    installs = by_name(cli(env, "workflow", "list", "--json").ok().json())["my_auto_answer"]["install"]
    assert installs == [ALICE, BOB]

    bad = cli(env, "workflow", "install", "-w", "my_auto_answer", "-i", "990007560099999")
    assert bad.code == 1, bad.describe()
    assert "invalid_install_user_id" in bad.err, bad.describe()
    assert "Traceback" not in bad.err
    installs = by_name(cli(env, "workflow", "list", "--json").ok().json())["my_auto_answer"]["install"]
    assert installs == [ALICE, BOB]

    cli(env, "workflow", "uninstall", "-w", "my_auto_answer", "-i", BOB).ok()
    installs = by_name(cli(env, "workflow", "list", "--json").ok().json())["my_auto_answer"]["install"]
    assert installs == [ALICE]

    # args
    cli(
        env, "workflow", "args", "set", "-w", "my_auto_answer", "-a", "greeting=hi", "-b", "on=true", "-r", "vol=3"
    ).ok()
    assert cli(env, "workflow", "args", "list", "-w", "my_auto_answer", "--json").ok().json() == {
        "greeting": "hi",
        "on": True,
        "vol": 3,
    }
    cli(env, "workflow", "args", "unset", "-w", "my_auto_answer", "greeting").ok()
    assert cli(env, "workflow", "args", "list", "-w", "my_auto_answer", "--json").ok().json() == {
        "on": True,
        "vol": 3,
    }

    # trigger the HTTP workflow: the sandbox connects to its app, which is not running: exit 1, what the device
    # would say, and no instance (tests/test_sandbox.py runs one that is)
    down = cli(env, "workflow", "trigger", "-w", "webhook", "-u", ALICE, "-a", "k=v")
    assert down.code == 1, down.describe()
    assert down.err.startswith(
        "error: webhook is not available: cannot reach the workflow app at ws://127.0.0.1:9/hook"
    )
    assert 'hint: the device says "webhook is not available"; start the app' in down.err
    assert cli(env, "workflow", "instance", "list", "--json").ok().json() == []

    # delete
    deleted = cli(env, "workflow", "delete", "-w", "place-call", "--yes", "--json").ok().json()
    assert deleted == {**created["place-call"], "deleted": True}  # the deleted workflow, as it was
    missing = cli(env, "workflow", "delete", "-w", "nope", "--yes")
    assert missing.code == 3, missing.describe()
    assert "nope" in missing.err
    before = cli(env, "workflow", "list", "--json").ok().json()
    assert set(by_name(before)) == set(CREATES) - {"place-call"}

    # restart on the same database, on a new port: the same workflows, the same ids
    assert server.stop(signal.SIGTERM) == 0
    again = start_server(tmp_path / "e2e.db")
    restarted = cli(again.client_env(tmp_path), "workflow", "list", "--json").ok().json()
    assert restarted == before
    assert [w["workflow_id"] for w in restarted] == [w["workflow_id"] for w in before]
    if again.port != server.port:  # --port 0 may, rarely, hand out the freed port again
        stale = cli(env, "workflow", "list", "--json")  # the old address: nobody listens there any more
        assert stale.code == 1, stale.describe()
        assert "Traceback" not in stale.err


# --- authentication -------------------------------------------------------------------------------------


def test_wrong_or_missing_token_is_refused(cli: Callable[..., Run], tmp_path: Path, server: Server) -> None:
    wrong = cli(server.client_env(tmp_path, RELAY_API_KEY="wrong"), "workflow", "list", "--json")
    assert wrong.code == 4, wrong.describe()
    assert wrong.out == ""
    assert "Traceback" not in wrong.err

    wrong_write = cli(
        server.client_env(tmp_path, RELAY_API_KEY="wrong"),
        "workflow",
        "create",
        "button",
        "--name",
        "sneaky",
        "--uri",
        "wss://h/p",
        "-A",
    )
    assert wrong_write.code == 4, wrong_write.describe()

    # no key at all (RELAY_HOST set, no login stored): refused before anything is sent
    env = base_env(tmp_path, RELAY_HOST=server.base_url, PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    none = cli(env, "workflow", "list", "--json")
    assert none.code == 4, none.describe()

    # a raw request without an Authorization header
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", "/ibot/workflow?subscriber_id=demo-account", headers={"Accept": "application/json"})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 401, body
    assert json.loads(body).get("error")

    # nothing was created by the refused requests
    assert cli(server.client_env(tmp_path), "workflow", "list", "--json").ok().json() == []


# --- the in-process local profile -----------------------------------------------------------------------

AUTO_ANSWER = [
    "workflow",
    "create",
    "call",
    "--trigger",
    "inbound",
    "--name",
    "my_auto_answer",
    "--uri",
    "wss://myhost.mydomain.com/autoanswerpath",
    "--install",
    ALICE,
]


def test_local_profile_is_the_default_when_nothing_is_configured(cli: Callable[..., Run], tmp_path: Path) -> None:
    env = base_env(tmp_path)
    created = cli(env, *AUTO_ANSWER).ok()
    assert "local sandbox" in created.err, created.describe()
    assert (tmp_path / "data" / "sandbox.db").exists()

    table = cli(env, "workflow", "list").ok()
    assert "my_auto_answer" in table.out
    assert "call:inbound" in table.out
    assert ALICE in table.out

    listed = cli(env, "workflow", "list", "--json").ok().json()
    assert [w["name"] for w in listed] == ["my_auto_answer"]
    assert listed[0]["install"] == [ALICE]


def test_ci_never_falls_back_to_the_local_sandbox(cli: Callable[..., Run], tmp_path: Path) -> None:
    env = base_env(tmp_path, CI="true")
    refused = cli(env, *AUTO_ANSWER)
    assert refused.code == 4, refused.describe()
    assert "CI" in refused.err
    assert "Traceback" not in refused.err

    listed = cli(env, "--profile", "local", "workflow", "list", "--json").ok().json()
    assert listed == []


# --- concurrency ----------------------------------------------------------------------------------------


def _creates(env: dict[str, str], prefix: list[str], names: range) -> list[tuple[dict[str, str], list[str]]]:
    return [
        (env, [*prefix, "workflow", "create", "button", "--name", f"wf-{i}", "--uri", "wss://h/p", "-A"]) for i in names
    ]


def test_ten_creates_at_once_on_the_local_sandbox_and_on_the_server(
    cli: Callable[..., Run], tmp_path: Path, server: Server
) -> None:
    """Ten relay processes at once, sharing one configuration directory: five against the in-process sandbox of a
    fresh data directory (they also race to create its database), five against relay server. Every one exits 0,
    and each target holds its five workflows, each once."""
    local, remote = base_env(tmp_path), server.client_env(tmp_path)
    runs = relay_many(_creates(local, ["--profile", "local"], range(5)) + _creates(remote, [], range(5, 10)))
    for run in runs:
        assert run.code == 0, run.describe()
        assert "Traceback" not in run.err, run.describe()
    for env, prefix, names in ((local, ["--profile", "local"], range(5)), (remote, [], range(5, 10))):
        listed = cli(env, *prefix, "workflow", "list", "--json").ok().json()
        assert sorted(w["name"] for w in listed) == [f"wf-{i}" for i in names]
        assert len({w["workflow_id"] for w in listed}) == 5


# --- stopping the server ----------------------------------------------------------------------------------


def test_server_stops_cleanly_on_sigterm_even_with_a_log_stream_open(
    cli: Callable[..., Run], tmp_path: Path, server: Server
) -> None:
    env = server.client_env(tmp_path)
    logs = subprocess.Popen(
        [str(RELAY), "workflow", "logs", "--json"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # the entry comes whether the stream connects before the create or after it (from the backlog)
        cli(env, "workflow", "create", "button", "--name", "streamed", "--uri", "wss://h/p", "-A").ok()
        entry = json.loads(_first_line(logs.stdout, 10))
        assert entry["message"] == "workflow created: streamed", entry

        assert server.stop(signal.SIGTERM) == 0
        # the server ends the open stream when it stops; the client then finishes on its own
        _, logs_err = logs.communicate(timeout=5)
    finally:
        if logs.poll() is None:
            logs.kill()
            logs.communicate()
    assert logs.returncode in (0, 1), logs_err
    assert b"Traceback" not in logs_err, logs_err
    err = server.stderr()
    assert "Traceback" not in err, err
    assert "Sandbox stopped." in err


def test_server_stops_cleanly_on_sigint(cli: Callable[..., Run], tmp_path: Path, server: Server) -> None:
    cli(server.client_env(tmp_path), "workflow", "list", "--json").ok()
    # Ctrl-C: serve() treats KeyboardInterrupt as the normal way to stop, so the exit code is 0, not 130
    assert server.stop(signal.SIGINT) == 0
    err = server.stderr()
    assert "Traceback" not in err, err
    assert "Sandbox stopped." in err
