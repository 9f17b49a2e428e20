"""``relay server`` under CI load, a client that stalls, and two processes writing one in-process sandbox.

- 50 clients × 24 requests at once against the installed ``relay server`` on a free loopback port: no connection
  is reset, no answer is a 5xx, and afterwards the account holds exactly the workflows the clients created and
  did not delete, each with its last update.
- A client that sends part of a request and stalls (or trickles it a byte at a time, or sends nothing) is cut off
  at the server's per-request time limit with ``408 request_timeout``, while other clients are served meanwhile.
- Two Python processes writing through ``in_process_transport`` (what the ``local`` profile uses) on one
  database at once: every write succeeds and nothing is lost.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from relay_cli.local.server import SandboxServer, close_server, make_server_for
from relay_cli.local.store import SandboxStore

from conftest import READY_SET_GO, release_together

RELAY = Path(sys.executable).parent / "relay"
SUB = "demo-account"
TOKEN = "load-token"
CLIENTS, REQUESTS = 50, 24  # three rounds of a client's eight requests (Worker.run)


def workflow(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "options": {"transient": True, "hidden": False},
        "config": {"trigger": {"start": {"workflow": {"uri": f"wss://h/{name}", "args": {}}}, "on_http": "POST"}},
        "install": [],
    }


@pytest.fixture
def relay_server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """``relay server --port 0 --json`` (the installed script) on a fresh database: (host, port)."""
    with started_relay_server(tmp_path) as (host, port, _):
        yield host, port


@contextlib.contextmanager
def started_relay_server(
    tmp_path: Path, preexec: Callable[[], None] | None = None
) -> Iterator[tuple[str, int, subprocess.Popen[str]]]:
    """``relay server`` as a process of its own (``preexec`` runs in it before it starts): (host, port, process)."""
    if not RELAY.exists():
        pytest.skip(f"relay is not installed next to {sys.executable}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_") and k != "CI"}
    env["RELAY_CONFIG_DIR"] = str(tmp_path / "config")
    proc = subprocess.Popen(
        [str(RELAY), "server", "--port", "0", "--token", TOKEN, "--db", str(tmp_path / "load.db"), "--json"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=preexec,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, f"relay server did not start: {proc.communicate(timeout=10)[1]}"
        base = json.loads(line)["base_url"]
        host, port = base.removeprefix("http://").rsplit(":", 1)
        yield host, int(port), proc
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    assert "Traceback" not in err, err


class Worker:
    """One client thread: its own connections (the server closes each after one answer), its own workflows."""

    def __init__(self, n: int, host: str, port: int) -> None:
        self.n, self.host, self.port = n, host, port
        self.failures: list[str] = []  # resets and other socket errors
        self.errors: list[str] = []  # an answer other than the one expected
        self.mine: dict[str, str] = {}  # workflow id -> its last name
        self.requests = 0

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any] | None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.requests += 1
        try:
            conn.request(method, f"{path}?subscriber_id={SUB}", body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.failures.append(f"{method} {path}: {type(exc).__name__}: {exc}")
            return None
        finally:
            conn.close()
        return response.status, (json.loads(raw) if raw else None)

    def expect(self, what: str, answer: tuple[int, Any] | None, status: int) -> tuple[int, Any] | None:
        """The answer when its status is ``status``; else None, with the problem recorded."""
        if answer is not None and answer[0] != status:
            self.errors.append(f"{what}: {answer[0]} {answer[1]!r:.300}")
            return None
        return answer

    def run(self, start: threading.Barrier) -> None:
        """REQUESTS requests: per 8, two creates, two updates, one delete, three lists."""
        start.wait()
        last: str | None = None
        for i in range(REQUESTS):
            step = i % 8
            if step in (0, 4):
                name = f"c{self.n}-{i}"
                created = self.expect("create", self.call("POST", "/ibot/workflow", workflow(name)), 200)
                if created is not None:
                    last = created[1][0]["workflow_id"]
                    self.mine[last] = name
            elif step in (2, 6) and last is not None:
                name = f"{self.mine[last]}-u{i}"
                answer = self.call("POST", "/ibot/workflow", {**workflow(name), "workflow_id": last})
                if self.expect("update", answer, 200) is not None:
                    self.mine[last] = name
            elif step == 7 and last is not None:
                if self.expect("delete", self.call("DELETE", f"/ibot/workflow/{last}"), 204) is not None:
                    del self.mine[last]
                    last = None
            else:
                listed = self.expect("list", self.call("GET", "/ibot/workflow"), 200)
                if listed is not None and not isinstance(listed[1].get("results"), list):
                    self.errors.append(f"list: {listed[1]!r:.300}")


@pytest.mark.long
def test_fifty_clients_at_once_no_reset_no_server_error_nothing_lost(relay_server: tuple[str, int]) -> None:
    host, port = relay_server
    workers = [Worker(n, host, port) for n in range(CLIENTS)]
    start = threading.Barrier(CLIENTS)
    threads = [threading.Thread(target=w.run, args=(start,), daemon=True) for w in workers]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a client thread did not finish"
    elapsed = time.monotonic() - began

    assert [f for w in workers for f in w.failures] == []
    assert [e for w in workers for e in w.errors] == []
    assert sum(w.requests for w in workers) == CLIENTS * REQUESTS

    final = Worker(-1, host, port).call("GET", "/ibot/workflow")
    assert final is not None and final[0] == 200
    stored = {w["workflow_id"]: w["name"] for w in final[1]["results"]}
    expected = {k: v for w in workers for k, v in w.mine.items()}
    # per client: two creates and one delete a round; every survivor carries its last update
    assert len(expected) == CLIENTS * (REQUESTS // 8)
    assert stored == expected
    print(f"{CLIENTS}x{REQUESTS} requests in {elapsed:.1f} s")


# --- idle connections beyond the file limit ---------------------------------------------------------------------

#: the server's file limit in the test below, and the idle connections opened against it (more than it can hold)
FILE_LIMIT, IDLE = 128, 400


def cpu_seconds(pid: int) -> float:
    """The user and system CPU time of process ``pid`` so far (Linux: /proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_closed(sockets: list[socket.socket], enough: int, seconds: float) -> int:
    """How many of ``sockets`` the other end has closed, waiting until ``enough`` are or ``seconds`` pass."""
    import selectors

    closed = 0
    deadline = time.monotonic() + seconds
    with selectors.DefaultSelector() as watch:  # epoll where there is one: no limit on descriptor numbers
        for sock in sockets:
            watch.register(sock, selectors.EVENT_READ)
        while closed < enough and time.monotonic() < deadline:
            for key, _ in watch.select(0.1):
                watch.unregister(key.fileobj)
                with contextlib.suppress(OSError):
                    closed += key.fileobj.recv(1) == b""
    return closed


def limit_files() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and RLIMIT_NOFILE as Linux has them")
def test_idle_connections_beyond_the_file_limit_neither_spin_nor_keep_out_a_request(tmp_path: Path) -> None:
    """400 idle connections against a server that may open 128 files: it holds some and closes the oldest idle
    ones for new ones, so accepting never fails in a loop (its CPU time over a second of them stays low) and a
    request with the token, sent meanwhile, is answered within seconds."""
    with started_relay_server(tmp_path, preexec=limit_files) as (host, port, proc):
        idle = []
        try:
            for _ in range(IDLE):
                idle.append(socket.create_connection((host, port), timeout=5))
            closed = wait_closed(idle, IDLE - FILE_LIMIT, 5.0)  # the server takes them in, closing the oldest idle
            before = cpu_seconds(proc.pid)
            time.sleep(1.0)
            spent = cpu_seconds(proc.pid) - before
            began = time.monotonic()
            conn = http.client.HTTPConnection(host, port, timeout=10)
            try:
                conn.request("GET", f"/ibot/workflow?subscriber_id={SUB}", headers={"Authorization": f"Bearer {TOKEN}"})
                status = conn.getresponse().status
            except OSError as exc:  # a timeout: the request was never taken in
                status = type(exc).__name__
            finally:
                conn.close()
            waited = time.monotonic() - began
        finally:
            for sock in idle:
                sock.close()
        assert (status, waited < 5) == (200, True), f"{status} after {waited:.1f} s"
        assert closed >= IDLE - FILE_LIMIT, f"the server closed {closed} of {IDLE} idle connections"
        assert spent < 0.15, f"the server spent {spent:.2f} s of CPU in a second of idle connections"
        assert proc.poll() is None
    print(f"CPU over 1 s of {IDLE} idle connections: {spent:.3f} s; the request waited {waited:.3f} s")


def test_the_connection_cap_stays_below_the_file_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    from relay_cli.local import server

    for soft, cap in ((128, 24), (1024, 248), (20000, server.MAX_CONNECTIONS), (40, 4)):
        monkeypatch.setattr(resource, "getrlimit", lambda which, soft=soft: (soft, soft))
        assert server.connection_cap() == cap  # a quarter of what is left after 32: four descriptors a request


def test_a_full_server_closes_its_oldest_idle_connection_or_answers_503(tmp_path: Path) -> None:
    """At the cap, a new connection closes the one idle longest; when none is idle (all are being answered: log
    streams), the new one is answered 503 with Retry-After, and closed."""
    server = make_server_for(tmp_path / "cap.db", port=0, token=TOKEN, max_connections=2)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        first = socket.create_connection((host, port), timeout=5)
        second = socket.create_connection((host, port), timeout=5)
        wait_for(lambda: server.open_connections() == (2, 2))
        third = socket.create_connection((host, port), timeout=5)
        assert first.recv(1) == b""  # closed: it was the oldest idle one
        wait_for(lambda: server.open_connections() == (2, 2))
        for sock in (second, third):
            sock.close()
        wait_for(lambda: server.open_connections() == (0, 0))

        streams = [socket.create_connection((host, port), timeout=5) for _ in range(2)]
        for sock in streams:
            sock.sendall(
                f"GET /ibot/workflowdebug?subscriber_id={SUB} HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {TOKEN}\r\n\r\n".encode()
            )
        wait_for(lambda: server.open_connections() == (2, 0))
        turned_away = socket.create_connection((host, port), timeout=5)
        received = b""
        while chunk := turned_away.recv(4096):
            received += chunk
        assert received.startswith(b"HTTP/1.0 503 Service Unavailable\r\n") and b"Retry-After: 1\r\n" in received
        assert json.loads(received.split(b"\r\n\r\n", 1)[1])["error"] == "server_busy"
        for sock in [*streams, turned_away]:
            sock.close()
    finally:
        server.shutdown()
        close_server(server)
        thread.join(timeout=5)


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# --- the per-request time limit -----------------------------------------------------------------------------


LIMIT = 1.0


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[SandboxServer]:
    """A server in this process whose clients have LIMIT seconds to send a request."""
    logs: list[str] = []
    server = make_server_for(tmp_path / "s.db", port=0, token=TOKEN, request_timeout=LIMIT, log=logs.append)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        close_server(server)
        thread.join(timeout=5)


def stalled(server: SandboxServer, sent: bytes, trickle: float | None = None) -> tuple[float, bytes, float]:
    """Connect, send ``sent`` (all at once, or a byte every ``trickle`` seconds), then read until the server
    closes: (seconds until closed, everything received, the monotonic time it closed)."""
    sock = socket.create_connection(("127.0.0.1", server.server_port), timeout=10)
    began = time.monotonic()
    try:
        if trickle is None:
            sock.sendall(sent)
        else:
            for byte in sent:
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    break
                time.sleep(trickle)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
        return time.monotonic() - began, received, time.monotonic()
    finally:
        sock.close()


def ok_meanwhile(server: SandboxServer) -> float:
    """A normal request while others stall: its status must be 200; returns the monotonic time it was answered."""
    conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
    try:
        conn.request("GET", f"/ibot/workflow?subscriber_id={SUB}", headers={"Authorization": f"Bearer {TOKEN}"})
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b'{"results": []}')
    finally:
        conn.close()
    return time.monotonic()


HEAD = f"GET /ibot/workflow?subscriber_id={SUB} HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n".encode()


def status_and_body(received: bytes) -> tuple[str, Any]:
    head, _, body = received.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), json.loads(body)


@pytest.mark.parametrize(
    ("sent", "trickle", "message"),
    [
        (HEAD, None, f"the request did not arrive in full within {LIMIT:g} s"),  # headers never end
        (
            HEAD + b"\r\n",
            0.05,
            f"the request did not arrive in full within {LIMIT:g} s",
        ),  # a byte every 50 ms: ~6 s in all
        (
            HEAD.replace(b"GET", b"POST") + b'Content-Length: 100\r\n\r\n{"name',
            None,
            "the request body did not arrive in full in time",
        ),  # the body stops short
    ],
    ids=["headers-stall", "trickle", "body-stall"],
)
def test_a_slow_or_stalled_client_gets_408_at_the_time_limit(
    limited: SandboxServer, sent: bytes, trickle: float | None, message: str
) -> None:
    result: list[tuple[float, bytes, float]] = []
    client = threading.Thread(target=lambda: result.append(stalled(limited, sent, trickle)), daemon=True)
    client.start()
    time.sleep(0.1)
    answered = ok_meanwhile(limited)
    client.join(timeout=15)
    elapsed, received, closed = result[0]
    assert answered < closed  # another client was served while this one stalled
    assert LIMIT - 0.1 <= elapsed < LIMIT + 3
    status, body = status_and_body(received)
    assert status in ("HTTP/1.0 408 Request Timeout", "HTTP/1.0 408 Request Time-out")
    assert body == {"error": "request_timeout", "message": message}
    assert SandboxStore(limited.store.path).list_workflows(SUB) == []  # the cut-off create wrote nothing


def test_a_client_that_sends_nothing_is_closed_at_the_time_limit(limited: SandboxServer) -> None:
    result: list[tuple[float, bytes, float]] = []
    client = threading.Thread(target=lambda: result.append(stalled(limited, b"")), daemon=True)
    client.start()
    time.sleep(0.1)
    answered = ok_meanwhile(limited)
    client.join(timeout=15)
    elapsed, received, closed = result[0]
    assert answered < closed
    assert LIMIT - 0.1 <= elapsed < LIMIT + 3
    assert received == b""


# --- two processes writing one in-process sandbox ----------------------------------------------------------


WRITER = (
    textwrap.dedent(
        """
    import json, sys, threading
    import httpx
    from relay_cli.local.server import in_process_transport
    """
    )
    + READY_SET_GO
    + textwrap.dedent(
        """
    tag, db = sys.argv[2], sys.argv[3]
    survivors, problems = {}, []

    def body(name):
        return {"name": name, "config": {"trigger": {"start": {"workflow": {"uri": "wss://h/" + name, "args": {}}},
                "on_http": "POST"}}, "install": []}

    def work(t):
        with httpx.Client(base_url="http://sandbox", transport=in_process_transport(db, "tok"),
                          headers={"Authorization": "Bearer tok"}, params={"subscriber_id": "demo-account"}) as c:
            for i in range(20):
                name = f"{tag}-{t}-{i}"
                r = c.post("/ibot/workflow", json=body(name))
                if r.status_code != 200:
                    problems.append(f"create {r.status_code} {r.text}"); continue
                wid = r.json()[0]["workflow_id"]
                r = c.post("/ibot/workflow", json={**body(name + "-u"), "workflow_id": wid})
                if r.status_code != 200:
                    problems.append(f"update {r.status_code} {r.text}")
                if i % 2:
                    r = c.delete(f"/ibot/workflow/{wid}")
                    if r.status_code != 204:
                        problems.append(f"delete {r.status_code} {r.text}")
                else:
                    survivors[wid] = name + "-u"
                r = c.get("/ibot/workflow")
                if r.status_code != 200:
                    problems.append(f"list {r.status_code} {r.text}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(json.dumps({"survivors": survivors, "problems": problems}))
    """
    )
)


def test_two_processes_write_the_in_process_sandbox_at_once(tmp_path: Path) -> None:
    db = tmp_path / "data" / "sandbox.db"
    SandboxStore(db)  # created and seeded; both writers open an existing file
    signals = tmp_path / "signals"
    signals.mkdir()
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(signals), tag, str(db)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for tag in ("a", "b")
    ]  # fmt: skip
    release_together(procs, signals)  # both interpreters up before either writes
    expected: dict[str, str] = {}
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        result = json.loads(out)
        assert result["problems"] == []
        expected.update(result["survivors"])
    assert len(expected) == 2 * 4 * 10
    store = SandboxStore(db)
    assert {w["workflow_id"]: w["name"] for w in store.list_workflows(SUB)} == expected
    # every write logged once: 160 creates, 160 updates, 80 deletes
    assert len(store.events(SUB)) == 2 * 4 * 20 * 2 + 2 * 4 * 10
