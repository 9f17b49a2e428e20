"""``relay workflow dev --device``: the project's app registered for the session on a device, and deleted after.

- On a sandbox, for real: ``relay server`` and the in-process sandbox, with the place-call app ``relay workflow
  init`` writes, run with the pinned ``@relaypro/sdk`` (tests/sdks.py), the session a process of its own;
  ``relay sandbox press`` from another process (the test's, through tests/test_e2e.py's ``cli``) reaches it;
  SIGINT, SIGTERM and SIGKILL (then the next session) leave what the issue says.
- On Relay: a loopback server acting as Relay's API, a small Python app, and a fake tunnel (a TLS forwarder on
  loopback with a certificate the test makes and trusts through SSL_CERT_FILE) that prints its public address.
- The rule that recognises a registration (``core.devreg``), ``--cleanup``, and bad input.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import respx
from test_dev import HAS_PROC, RELAY, Watch, living_in, project, settled
from test_e2e import Run, Server, cli, pytestmark, start_server  # noqa: F401 - fixtures, the marks

from relay_cli.core import devreg

from sdks import ensure_sdk

CAROL, ALICE = "990007560011111", "990007560045678"
QUICK = ("--hold", "0.3", "--set", "speaking_rate=1500", "--json")


# --- the rule, the addresses -----------------------------------------------------------------------------------


def test_a_registration_is_the_projects_by_its_name_and_its_marker() -> None:
    mark = devreg.marker("host-a", "/home/me/proj")
    assert mark == devreg.marker("host-a", "/home/me/proj") and len(mark) == 16
    assert devreg.marker("host-b", "/home/me/proj") != mark  # the same path on another machine
    body = {
        "name": "proj",
        "options": {"transient": True, "hidden": False},
        "config": {"trigger": {"start": {"workflow": {"uri": "wss://YOUR-HOST/x", "args": {"a": "1"}}}, "on_button": "action_button_double_tap"}},
        "install_rule": "urn:relay-resource:all:device",
    }  # fmt: skip
    reg = devreg.registration(body, uri="ws://127.0.0.1:5/x", mark=mark, devices=[CAROL, CAROL], args={"b": True})
    assert reg == {
        "name": "proj (dev)",
        "options": {"transient": True, "hidden": False},
        "config": {"trigger": {"start": {"workflow": {"uri": "ws://127.0.0.1:5/x", "args": {"a": "1", "b": True, "relay_dev": mark}}}, "on_button": "action_button_double_tap"}},
        "install": [CAROL],
    }  # fmt: skip
    stored = {**reg, "workflow_id": "wf_1"}
    assert devreg.ours([stored, {**stored, "workflow_id": "wf_2", "name": "proj"}], mark) == [stored]
    other_machine = devreg.registration(body, uri="u", mark=devreg.marker("host-b", "/home/me/proj"), devices=[CAROL])
    assert not devreg.is_ours({**other_machine, "workflow_id": "wf_3"}, mark)


@pytest.mark.parametrize(
    ("line", "url"),
    [
        ('t=2026 lvl=info msg="started tunnel" url=https://ab12.ngrok-free.app', "wss://ab12.ngrok-free.app"),
        ("INF |  https://quiet-cat.trycloudflare.com                 |", "wss://quiet-cat.trycloudflare.com"),
        ("INF Thank you... following: https://developers.cloudflare.com/cloudflare-one/connections", None),
        ("your url is: https://odd-dog.loca.lt", "wss://odd-dog.loca.lt"),
        ("forwarding https://127.0.0.1:8443 -> localhost:3000", "wss://127.0.0.1:8443"),
        ("Web Interface http://127.0.0.1:4040", None),
    ],
)
def test_the_public_address_a_tunnel_prints(line: str, url: str | None) -> None:
    assert devreg.tunnel_url(line) == url


def test_ngroks_local_api_names_the_tunnel_to_the_apps_port() -> None:
    answer = {
        "tunnels": [
            {"public_url": "https://other.ngrok.app", "config": {"addr": "http://localhost:9999"}},
            {"public_url": "http://plain.ngrok.app", "config": {"addr": "http://localhost:4321"}},
            {"public_url": "https://mine.ngrok.app", "config": {"addr": "http://localhost:4321"}},
        ]
    }
    assert devreg.ngrok_url(answer, 4321) == "wss://mine.ngrok.app"
    assert devreg.ngrok_url({"tunnels": []}, 4321) is None and devreg.ngrok_url("nope", 1) is None


# --- bad input: exit 2, nothing sent, nothing started ------------------------------------------------------------

WORKFLOW = "[workflow.proj]\ntype = 'button'\ntrigger = 'double'\nuri = 'wss://YOUR-HOST/x'\ninstall_all = true\n"
STARTS = "[dev]\ncommand = 'touch started'\npath = '/x'\n"
BAD = [
    (["--device", CAROL, "--once"], "error: --once: plays the simulator once; --device registers the app until Ctrl-C"),
    (["--device", CAROL, "--taps", "double"], "error: --taps: plays the simulator's scenario; with --device the device's own events run the app"),
    (["--device", CAROL], "error: --device: Relay production (https://all-main-pro-ibot.relaysvr.com) connects to your app at a public wss:// address: give --tunnel"),
    (["--device", CAROL, "--public-url", "ws://dev.example.com"], "error: --public-url: Relay connects to workflows over wss:// only"),
    (["--device", CAROL, "--public-url", "wss://dev.example.com?x=1"], "error: --public-url: expected an address without ?query or #fragment"),
    (["--device", CAROL, "--public-url", "wss://a.example.com", "--tunnel", "t {port}"], "error: --tunnel: give the public address (--public-url) or the tunnel that makes one, not both"),
    (["--device", CAROL, "--tunnel", "ngrok http 8080"], "error: --tunnel: the tunnel must forward to the app's port: put {port} where the port goes"),
    (["--device", CAROL, "--tunnel-timeout", "1e9", "--tunnel", "t {port}"], "error: --tunnel-timeout: expected at most 600 seconds"),
    (["--public-url", "wss://a.example.com"], "error: --public-url: only applies with --device"),
    (["--cleanup", "--device", CAROL], "error: --cleanup: cannot be used with --device"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_input_is_exit_2_and_sends_nothing(run: Any, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "relay.toml").write_text(WORKFLOW + STARTS, encoding="utf-8")
    with respx.mock(assert_all_called=False) as api:
        result = run("workflow", "dev", str(tmp_path), *args)
    assert (result.code, result.out) == (2, ""), result.err
    assert result.err.startswith(message), result.err
    assert not api.calls and not (tmp_path / "started").exists()


def test_a_project_without_a_workflow_cannot_be_registered(run: Any, tmp_path: Path) -> None:
    (tmp_path / "relay.toml").write_text(STARTS, encoding="utf-8")
    result = run("--profile", "local", "workflow", "dev", str(tmp_path), "--device", "Carol")
    assert result.code == 2 and result.err.startswith(
        f"error: --device: {tmp_path}/relay.toml declares no [workflow.NAME]: --device registers the project's workflow"
    )
    assert not (tmp_path / "started").exists()


# --- the stale ones, --cleanup ----------------------------------------------------------------------------------


def test_cleanup_deletes_this_projects_dev_registrations_and_nothing_else(run: Any, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    mark = devreg.marker(socket.gethostname(), str(proj.resolve()))
    elsewhere = devreg.marker("another-machine", str(proj.resolve()))
    create = ("workflow", "create", "button", "--trigger", "double", "--uri", "ws://127.0.0.1:9/x", "-i", CAROL)
    for name, args in [
        ("proj (dev)", ["-a", f"relay_dev={mark}"]),  # ours, left by a killed session
        ("proj (dev)", ["-a", f"relay_dev={elsewhere}"]),  # the same project's, on another machine
        ("proj (dev)", []),  # named like ours, without the marker: the user's own
        ("proj", ["-a", f"relay_dev={mark}"]),  # the marker, not the name
    ]:
        assert run("--profile", "local", *create, "--name", name, *args).code == 0
    before = run("--profile", "local", "workflow", "list", "--json").json()
    ours = [w for w in before if devreg.is_ours(w, mark)]
    assert len(ours) == 1

    result = run("--profile", "local", "workflow", "dev", str(proj), "--cleanup", "--json")
    assert result.code == 0, result.err
    assert result.json() == {
        "removed": [{"workflow_id": ours[0]["workflow_id"], "name": "proj (dev)", "install": CAROL}]
    }
    after = run("--profile", "local", "workflow", "list", "--json").json()
    assert after == [w for w in before if w["workflow_id"] != ours[0]["workflow_id"]]

    again = run("--profile", "local", "workflow", "dev", str(proj), "--cleanup")
    assert (again.code, again.out) == (0, "")
    assert f"no dev registration of the project in {proj} is left in the local sandbox" in again.err


# --- on a sandbox, for real --------------------------------------------------------------------------------------


def registered(db: Path) -> list[dict[str, Any]]:
    """The sandbox's workflows, read from its database (as `relay workflow list --json` shows them)."""
    from relay_cli.local.store import SandboxStore

    store = SandboxStore(db)
    try:
        return store.list_workflows("demo-account")
    finally:
        store.close()


def dev_registrations(db: Path) -> list[dict[str, Any]]:
    return [w for w in registered(db) if str(w.get("name")).endswith(" (dev)")]


def others(db: Path) -> list[dict[str, Any]]:
    return [w for w in registered(db) if not str(w["name"]).endswith(" (dev)")]


class DevOn(Watch):
    """``relay workflow dev DIR --device ...`` in the background, with the test's environment."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [str(RELAY), "workflow", "dev", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.out, self.err = [], []
        self.changed = threading.Condition()
        for stream, into in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, into), daemon=True).start()


@pytest.fixture
def sessions() -> Iterator[list[DevOn]]:
    started: list[DevOn] = []
    yield started
    for s in started:
        s.kill()


@pytest.mark.skipif(not HAS_PROC, reason="finds the app's processes through /proc")
@pytest.mark.long
def test_on_relay_server_a_session_registers_on_carol_only_and_always_cleans_up(
    cli: Callable[..., Run], tmp_path: Path, start_server: Callable[..., Server], sessions: list[DevOn]
) -> None:
    ensure_sdk("the dev --device tests")
    server = start_server()
    env, db = server.client_env(tmp_path), tmp_path / "e2e.db"
    target = project(tmp_path, "place-call")
    cli(env, "workflow", "create", "button", "--trigger", "double", "--name", "other",
          "--uri", "ws://127.0.0.1:9/other", "--install", ALICE).ok()  # fmt: skip
    untouched = others(db)

    def session() -> DevOn:
        s = DevOn(env, str(target), "--device", "Carol", "--app-output", "failure")
        sessions.append(s)
        s.wait_for("ready: `relay sandbox press Carol --taps double` in another terminal runs it", 1)
        return s

    # SIGTERM: the registration is deleted, the app stopped
    first = session()
    [registered] = dev_registrations(db)
    assert (registered["name"], registered["install"], registered.get("install_rule")) == ("proj (dev)", [CAROL], None)
    assert registered["config"]["trigger"]["on_button"] == "action_button_double_tap"
    assert first.stop(signal.SIGTERM) == 130
    assert dev_registrations(db) == [] and settled(target) == []
    assert first.count(f"deleted proj (dev) ({registered['workflow_id']}) from the sandbox at {server.base_url}") == 1

    # SIGKILL leaves the registration (the keeper stops the app); the next session reuses it: exactly one
    killed = session()
    [left] = dev_registrations(db)
    killed.proc.kill()
    killed.proc.wait(10)
    assert settled(target) == [] and dev_registrations(db) == [left]
    last = session()
    assert last.count(f"left by an earlier session ({left['workflow_id']}); reusing it") == 1
    [reused] = dev_registrations(db)
    assert reused["workflow_id"] == left["workflow_id"] and reused["install"] == [CAROL]

    # a double tap on Carol, from another process, reaches the app; the session prints the workflow's log
    press = cli(env, "sandbox", "press", "Carol", "--taps", "double", *QUICK).ok()
    calls = [json.loads(line)["message"] for line in press.out.splitlines() if '"wf_api_call_request"' in line]
    assert [c["uri"] for c in calls] == ["urn:relay-resource:name:device:Bob"]
    last.wait_for(f"started by a double tap on Carol ({CAROL})", 1)

    # Ctrl-C: none left, no app process, the other workflow as it was throughout
    assert last.stop(signal.SIGINT) == 130
    assert dev_registrations(db) == [] and settled(target) == []
    assert others(db) == untouched
    err = "".join(last.err)
    assert "Traceback" not in err and err.rstrip().endswith("interrupted")


@pytest.mark.skipif(not HAS_PROC, reason="finds the app's processes through /proc")
@pytest.mark.long
def test_in_process_sandbox_a_press_from_another_process_reaches_the_app(
    cli: Callable[..., Run], tmp_path: Path, sessions: list[DevOn]
) -> None:
    ensure_sdk("the dev --device tests")
    env = {k: v for k, v in os.environ.items() if k not in ("RELAY_API_KEY", "NO_COLOR")}  # the local sandbox
    db = Path(env["RELAY_DATA_DIR"]) / "sandbox.db"
    target = project(tmp_path, "place-call")
    s = DevOn(env, str(target), "--device", "Carol", "--app-output", "failure", "--json")
    sessions.append(s)
    s.wait_for("ready: `relay sandbox press Carol --taps double`", 1)
    assert [w["install"] for w in dev_registrations(db)] == [[CAROL]]
    press = cli(env, "sandbox", "press", "Carol", "--taps", "double", *QUICK).ok()
    assert '"wf_api_call_request"' in press.out
    s.wait_for("ended: the app terminated", 1)  # the log, read from the sandbox's database as it grows
    logged = [json.loads(line)["message"] for line in s.out]
    assert logged[0] == f"started by a double tap on Carol ({CAROL})" and "call Bob on Carol" in logged

    # relay.toml changes: the app restarts, the registration is updated in place (its id kept)
    [before] = dev_registrations(db)
    toml = target / "relay.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('callee = "Bob"', 'callee = "Dave"'), encoding="utf-8")
    s.wait_for(f"relay.toml changed: updated proj (dev) ({before['workflow_id']})", 1)
    s.wait_for("the app is up again; the registration stays", 1)
    [after] = dev_registrations(db)
    assert after["workflow_id"] == before["workflow_id"]
    assert after["config"]["trigger"]["start"]["workflow"]["args"]["callee"] == "Dave"
    again = cli(env, "sandbox", "press", "Carol", "--taps", "double", *QUICK).ok()
    assert '"uri": "urn:relay-resource:name:device:Dave"' in again.out
    assert s.stop(signal.SIGINT) == 130
    assert dev_registrations(db) == [] and settled(target) == []


# --- on Relay, through a tunnel ------------------------------------------------------------------------------------

#: answers a WebSocket handshake at any path on $PORT until the file argv[1] exists
APP = """
import os, sys, threading, time
from websockets.sync.server import serve
def handler(ws):
    for _ in ws:
        pass
with serve(handler, "127.0.0.1", int(os.environ["PORT"])) as server:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    while not os.path.exists(sys.argv[1]):
        time.sleep(0.05)
    sys.exit(3)
"""
#: a tunnel: TLS on a free loopback port (cert argv[1], key argv[2]) forwarded to 127.0.0.1:argv[3]; prints its
#: public address (or, as ngrok, keeps it for its local API, in the file argv[5]) and forwards until the file
#: argv[4] exists
TUNNEL = """
import json, os, socket, ssl, sys, threading, time
cert, key, port, flag = sys.argv[1:5]
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
listener = socket.create_server(("127.0.0.1", 0))
def pipe(a, b):
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
def serve(conn):
    try:
        tls = context.wrap_socket(conn, server_side=True)
        up = socket.create_connection(("127.0.0.1", int(port)))
    except OSError:
        conn.close()
        return
    threading.Thread(target=pipe, args=(tls, up), daemon=True).start()
    pipe(up, tls)
def accept():
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
threading.Thread(target=accept, daemon=True).start()
address = f"https://127.0.0.1:{listener.getsockname()[1]}"
if len(sys.argv) > 5:
    tunnel = {"public_url": address, "config": {"addr": f"http://localhost:{port}"}}
    with open(sys.argv[5] + ".part", "w") as f:
        json.dump({"tunnels": [tunnel]}, f)
    os.replace(sys.argv[5] + ".part", sys.argv[5])
else:
    print("tunnel ready; docs at https://tunnel.example/docs/start")
    print(f"forwarding {address} -> localhost:{port}", flush=True)
while not os.path.exists(flag):
    time.sleep(0.05)
sys.exit(3)
"""


class FakeRelay:
    """Relay's API on loopback: workflows kept in memory, every request recorded; ``on_save`` runs after a POST."""

    def __init__(self) -> None:
        self.workflows: dict[str, dict[str, Any]] = {}
        self.seen: list[tuple[str, str, Any]] = []
        self.on_save: Callable[[], None] = lambda: None
        self.ngrok: Path | None = None  # where the fake ngrok keeps its tunnels
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: Any = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                fake.seen.append(("GET", path, None))
                if path == "/ibot/workflow":
                    self._answer(200, {"results": list(fake.workflows.values())})
                elif path == "/ibot/subscriber/SUB/device_ids":
                    self._answer(200, {"devices": [ALICE, CAROL]})
                elif path == "/ibot/workflowdebug":
                    self._answer(200)
                elif path == "/api/tunnels" and fake.ngrok is not None:  # ngrok's local API
                    self._answer(200, json.loads(fake.ngrok.read_text()) if fake.ngrok.exists() else {"tunnels": []})
                else:
                    self._answer(404, {"error": "not_found"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.seen.append(("POST", self.path.split("?")[0], body))
                saved = {"workflow_id": body.get("workflow_id") or f"wf_{len(fake.workflows) + 1}", **body}
                fake.workflows[saved["workflow_id"]] = saved
                self._answer(200, [saved])
                fake.on_save()

            def do_DELETE(self) -> None:
                path = self.path.split("?")[0]
                fake.seen.append(("DELETE", path, None))
                fake.workflows.pop(path.rsplit("/", 1)[1], None)
                self._answer(204)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def writes(self) -> list[tuple[str, str, Any]]:
        return [s for s in self.seen if s[0] != "GET"]


@pytest.fixture
def fake_relay(monkeypatch: pytest.MonkeyPatch, certificate: tuple[Path, Path]) -> Iterator[FakeRelay]:
    fake = FakeRelay()
    monkeypatch.setenv("RELAY_HOST", fake.url)
    monkeypatch.setenv("RELAY_SUBSCRIBER_ID", "SUB")
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # the tunnel's certificate, trusted for the test
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def relay_project(
    tmp_path: Path, certificate: tuple[Path, Path], *, app_flag: str, tunnel_flag: str
) -> tuple[Path, str]:
    """A project whose app and tunnel each stop when their flag file appears; the tunnel command."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "app.py").write_text(APP, encoding="utf-8")
    (proj / "tunnel.py").write_text(TUNNEL, encoding="utf-8")
    (proj / "relay.toml").write_text(
        WORKFLOW.replace("wss://YOUR-HOST/x", "wss://YOUR-HOST/place-call")
        + f"[dev]\ncommand = '{sys.executable} app.py {app_flag}'\n",
        encoding="utf-8",
    )
    tunnel = f"{sys.executable} tunnel.py {certificate[0]} {certificate[1]} {{port}} {tunnel_flag}"
    return proj, tunnel


@pytest.mark.parametrize("ends", ["the tunnel", "the app"])
def test_on_relay_the_tunnels_address_is_registered_on_the_device_only_and_deleted_at_the_end(
    run: Any, tmp_path: Path, fake_relay: FakeRelay, certificate: tuple[Path, Path], ends: str
) -> None:
    flag = tmp_path / "stop"
    proj, tunnel = relay_project(
        tmp_path, certificate,
        app_flag=str(flag) if ends == "the app" else str(tmp_path / "never"),
        tunnel_flag=str(flag) if ends == "the tunnel" else str(tmp_path / "never"),
    )  # fmt: skip
    fake_relay.on_save = flag.touch  # once registered, the app or the tunnel exits: the session ends
    result = run("workflow", "dev", str(proj), "--device", CAROL, "--tunnel", tunnel, "--tunnel-timeout", "20")
    assert result.code == 1, result.err
    [(post, path, body), (delete, gone, _)] = fake_relay.writes()
    assert (post, path, delete, gone) == ("POST", "/ibot/workflow", "DELETE", f"/ibot/workflow/{'wf_1'}")
    uri = body["config"]["trigger"]["start"]["workflow"]["uri"]
    assert uri.startswith("wss://127.0.0.1:") and uri.endswith("/place-call")  # the tunnel's address + the path
    assert (body["name"], body["install"], "install_rule" in body) == ("proj (dev)", [CAROL], False)
    assert body["config"]["trigger"]["start"]["workflow"]["args"]["relay_dev"] == devreg.marker(
        socket.gethostname(), str(proj.resolve())
    )
    assert f"the tunnel's public address: {uri.replace('wss://', 'https://').removesuffix('/place-call')}" in result.err
    assert f"deleted proj (dev) (wf_1) from {fake_relay.url} (the session ended)" in result.err
    assert f"error: {ends} exited with code 3; the session ends" in result.err
    assert fake_relay.workflows == {} and living_in(proj) == []


@pytest.mark.parametrize("how", ["no address", "no handshake"])
def test_on_relay_a_tunnel_that_does_not_reach_the_app_registers_nothing(
    run: Any, tmp_path: Path, fake_relay: FakeRelay, certificate: tuple[Path, Path], how: str
) -> None:
    proj, tunnel = relay_project(
        tmp_path, certificate, app_flag=str(tmp_path / "never"), tunnel_flag=str(tmp_path / "never")
    )
    if how == "no address":
        tunnel = f"{sys.executable} -c 'import time; time.sleep(60)' {{port}}"
    else:  # forwards to a port where nothing listens
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        tunnel = tunnel.replace("{port}", str(closed))
        tunnel += " # {port}"
    result = run("workflow", "dev", str(proj), "--device", CAROL, "--tunnel", tunnel, "--tunnel-timeout", "0.8")
    assert (result.code, result.out) == (1, ""), result.err
    said = {
        "no address": "printed no public https:// address within 0.8 s",
        "no handshake": "does not reach the app through the tunnel: the connection closed without an answer to the "
        "handshake (does anything listen behind it?); nothing was registered",
    }
    assert said[how] in result.err, result.err
    assert result.err.startswith("starting the tunnel `") and "Traceback" not in result.err
    assert fake_relay.writes() == [] and living_in(proj) == []


def test_on_relay_ngroks_local_api_gives_the_address_and_its_token_is_never_shown(
    run: Any, tmp_path: Path, fake_relay: FakeRelay, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    flag, tunnels = tmp_path / "stop", tmp_path / "tunnels.json"
    proj, _ = relay_project(tmp_path, certificate, app_flag=str(tmp_path / "never"), tunnel_flag=str(flag))
    ngrok = proj / "ngrok"  # prints nothing; its address is at its local API, as ngrok's is
    ngrok.write_text(
        f"#!{sys.executable}\nimport runpy, sys\n"
        f"sys.argv = ['tunnel.py', {str(certificate[0])!r}, {str(certificate[1])!r}, sys.argv[2], {str(flag)!r}, "
        f"{str(tunnels)!r}]\nrunpy.run_path('tunnel.py', run_name='__main__')\n",
        encoding="utf-8",
    )
    ngrok.chmod(0o755)
    fake_relay.ngrok = tunnels
    monkeypatch.setattr("relay_cli.simulator.tunnel.NGROK_API", f"{fake_relay.url}/api/tunnels")
    fake_relay.on_save = flag.touch
    token = "2abcSecretNgrokToken"
    result = run(
        "workflow", "dev", str(proj), "--device", CAROL, "--tunnel", f"./ngrok http {{port}} --authtoken {token}"
    )
    assert result.code == 1, result.err
    address = json.loads(tunnels.read_text())["tunnels"][0]["public_url"]
    [(_, _, body), (delete, _, _)] = fake_relay.writes()
    assert body["config"]["trigger"]["start"]["workflow"]["uri"] == address.replace("https", "wss") + "/place-call"
    assert delete == "DELETE" and f"the tunnel's public address: {address}" in result.err
    assert token not in result.err and "--authtoken ***`" in result.err
