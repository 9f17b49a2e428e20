"""``relay server`` under CI load, a client that stalls, and two processes writing one in-process sandbox.

- 50 clients × 40 requests at once against the installed ``relay server`` on a free loopback port: no connection
  is reset, no answer is a 5xx, and afterwards the account holds exactly the workflows the clients created and
  did not delete, each with its last update.
- A client that sends part of a request and stalls (or trickles it a byte at a time, or sends nothing) is cut off
  at the server's per-request time limit with ``408 request_timeout``, while other clients are served meanwhile.
- Two Python processes writing through ``in_process_transport`` (what the ``local`` profile uses) on one
  database at once: every write succeeds and nothing is lost.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relay_cli.local.server import SandboxServer, close_server, make_server_for
from relay_cli.local.store import SandboxStore

from conftest import READY_SET_GO, release_together

RELAY = Path(sys.executable).parent / "relay"
SUB = "demo-account"
TOKEN = "load-token"
CLIENTS, REQUESTS = 50, 40


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
    if not RELAY.exists():
        pytest.skip(f"relay is not installed next to {sys.executable}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_") and k != "CI"}
    env["RELAY_CONFIG_DIR"] = str(tmp_path / "config")
    proc = subprocess.Popen(
        [str(RELAY), "server", "--port", "0", "--token", TOKEN, "--db", str(tmp_path / "load.db"), "--json"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, f"relay server did not start: {proc.communicate(timeout=10)[1]}"
        base = json.loads(line)["base_url"]
        host, port = base.removeprefix("http://").rsplit(":", 1)
        yield host, int(port)
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
        """40 requests: per 8, two creates, two updates, one delete, three lists."""
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
    # per client: 10 creates, 5 deletes; every survivor carries its last update
    assert len(expected) == CLIENTS * 5
    assert stored == expected
    print(f"{CLIENTS}x{REQUESTS} requests in {elapsed:.1f} s")


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
