"""A hostile server: answers that are not the API's JSON, redirects, trickles, stalls, resets, 5xx bursts and huge
bodies, against the commands that read before they write (``workflow list``, ``create``, ``install``,
``apply``, ``export``). Each row names the exit code, the message and the requests the server saw; the rule
under test is that no write ever follows a read that failed.

The server is this file's own: raw sockets on 127.0.0.1 with a free port, one thread per connection, every
answer ``Connection: close``. A second server stands where redirects point, to prove nothing is sent there.
Deadlines are short (``RELAY_TIMEOUT``) so that stalls and trickles cost a fraction of a second; retries do
not sleep (conftest).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conftest import SUB, TOKEN, stored_workflow

WF = stored_workflow("wf-1", "w1")
LISTING = json.dumps({"results": [WF]}).encode()
SAVED = json.dumps([WF]).encode()
#: how long the commands wait in the rows that stall or trickle
SHORT = 0.2


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


Behaviour = Callable[[socket.socket, "Seen", "Server"], None]


@dataclass
class Server:
    """``behave(conn, request, server)`` answers each request; ``seen`` lists them in the order they came."""

    behave: Behaviour
    evil: str = "http://127.0.0.1:9"
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            length = int(headers.get("content-length", "0") or 0)
            while len(rest) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                rest += chunk
            request = Seen(method, target.split("?", 1)[0], headers)
            with self.lock:
                self.seen.append(request)
            self.behave(conn, request, self)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def requests(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.seen]

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        with self.lock:
            for conn in self.conns:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


EVIL = "{evil}"

# --- behaviours ------------------------------------------------------------------------------------------


def send(conn: socket.socket, status: int, body: bytes = b"", kind: str | None = "application/json",
         headers: tuple[tuple[str, str], ...] = ()) -> None:  # fmt: skip
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"Content-Type: {kind}"] if kind else []
    lines += [f"{k}: {v}" for k, v in headers]
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)


def good(conn: socket.socket, request: Seen, server: Server) -> None:
    """The API's own answers."""
    if request.method == "GET":
        send(conn, 200, LISTING)
    elif request.method == "POST":
        send(conn, 200, SAVED)
    else:
        send(conn, 204, kind=None)


def answer(status: int, body: bytes = b"", kind: str | None = "application/json", **headers: str) -> Behaviour:
    """Always the same answer; "{evil}" in a header is where the redirects point (the ``evil`` server)."""

    def behave(conn: socket.socket, request: Seen, server: Server) -> None:
        values = tuple((k, v.replace(EVIL, server.evil)) for k, v in headers.items())
        send(conn, status, body, kind, values)

    return behave


def plain(conn: socket.socket, request: Seen, server: Server) -> None:
    """The API's own answers, labelled text/plain."""
    send(conn, 200, LISTING if request.method == "GET" else SAVED, "text/plain")


def stall(conn: socket.socket, request: Seen, server: Server) -> None:
    server.stop.wait(30)


#: a trickle sends one byte every TRICKLE seconds (well inside any read timeout), for at most 6 s
TRICKLE = 0.05


def trickle_body(conn: socket.socket, request: Seen, server: Server) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    for _ in range(int(6 / TRICKLE)):
        if server.stop.wait(TRICKLE):
            return
        conn.sendall(b" ")


def trickle_headers(conn: socket.socket, request: Seen, server: Server) -> None:
    """The status line, then one byte of a header at a time: no read ever waits long, the headers never end."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    for _ in range(int(6 / TRICKLE)):
        if server.stop.wait(TRICKLE):
            return
        conn.sendall(b"a")


def reset(conn: socket.socket, request: Seen, server: Server) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a RST


def huge_declared(conn: socket.socket, request: Seen, server: Server) -> None:
    conn.sendall(
        b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 107374182400\r\n\r\n{"results": ['
    )
    server.stop.wait(30)


def huge_streamed(conn: socket.socket, request: Seen, server: Server) -> None:
    """A chunked answer that never ends: 64 MiB of spaces inside a JSON list, and more."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b" " * 65536
    frame = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    conn.sendall(b'd\r\n{"results": [\r\n')
    for _ in range(1100):  # 68.75 MiB: past the cap, and the client stops reading
        conn.sendall(frame)


def burst(status: int, times: int, then: Behaviour = good) -> Behaviour:
    """``status`` for the first ``times`` requests, then ``then``."""

    def behave(conn: socket.socket, request: Seen, server: Server) -> None:
        if len(server.seen) <= times:
            send(conn, status, json.dumps({"error": "unavailable"}).encode())
        else:
            then(conn, request, server)

    return behave


def on_writes(behaviour: Behaviour) -> Behaviour:
    """The API's own answer to reads; ``behaviour`` for everything else."""
    return lambda conn, request, server: (good if request.method == "GET" else behaviour)(conn, request, server)


# --- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def evil() -> Iterator[Server]:
    """Where the redirects point: it must never see a request."""
    server = Server(good)
    yield server
    server.close()


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch, evil: Server) -> Iterator[Callable[[Behaviour], Server]]:
    servers: list[Server] = []

    def start(behaviour: Behaviour) -> Server:
        server = Server(behaviour, evil=evil.origin)
        servers.append(server)
        monkeypatch.setenv("RELAY_HOST", server.origin)
        return server

    yield start
    for server in servers:
        server.close()


def commands(tmp_path: Path, closed_port: int) -> dict[str, list[str]]:
    manifest = tmp_path / "relay.toml"
    manifest.write_text(
        f'account = "{SUB}"\n[workflow.new]\ntype = "button"\nuri = "wss://h/new"\ninstall_all = true\n'
    )
    return {
        "list": ["workflow", "list", "-s", SUB],
        # a call workflow with the preflight checks on: the account's workflows are listed before the save
        "create": [
            "workflow",
            "create",
            "call",
            "--trigger",
            "inbound",
            "-n",
            "c",
            "-u",
            f"ws://127.0.0.1:{closed_port}/x",
            "-i",
            "990007560045678",
            "-s",
            SUB,
        ],
        "install": ["workflow", "install", "-w", "wf-1", "-i", "d9", "-s", SUB, "--yes"],
        "apply": ["workflow", "apply", "-f", str(manifest), "--yes"],
        "export": ["workflow", "export", "-s", SUB],
    }


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- reads that fail: nothing is written -----------------------------------------------------------------

ORIGIN = "{origin}"
LIST = ("GET", "/ibot/workflow")
SHAPE = 'answered GET /ibot/workflow with JSON of an unexpected shape: expected {"results": [workflow, ...]}, but '
NOT_JSON = "answered GET /ibot/workflow with HTTP 200 and "
ASK = ": is RELAY_HOST right?"

#: behaviour → (its server, RELAY_TIMEOUT, exit code, the error line after "error: {origin} " or "error: ", GETs sent)
READS: dict[str, tuple[Behaviour, float, int, str, int]] = {
    "html": (answer(200, b"<html><body>Please log in</body></html>", "text/html; charset=utf-8"), 10, 1,
             "{origin} " + NOT_JSON + "text/html, not the API's JSON" + ASK, 1),
    "truncated JSON": (answer(200, b'{"results": [{"workflow_id"'), 10, 1,
                       "{origin} " + NOT_JSON + "a body that is not valid JSON (application/json, 27 bytes), not the API's JSON" + ASK, 1),
    "null": (answer(200, b"null"), 10, 1, "{origin} " + SHAPE + "the answer is null, not an object" + ASK, 1),
    '["a", 1]': (answer(200, b'["a", 1]'), 10, 1, "{origin} " + SHAPE + "the answer is a list, not an object" + ASK, 1),
    '{"results": 5}': (answer(200, b'{"results": 5}'), 10, 1, "{origin} " + SHAPE + "results is a number, not a list" + ASK, 1),
    "no workflow_id": (answer(200, b'{"results": [{"name": "w1"}]}'), 10, 1,
                       "{origin} " + SHAPE + "results[0].workflow_id is missing" + ASK, 1),
    "empty 200": (answer(200, b""), 10, 1, "{origin} " + NOT_JSON + "an empty body, not the API's JSON" + ASK, 1),
    "json as text/plain": (plain, 10, 0, "", 1),  # judged by its body, as the reference does
    "301": (answer(301, Location=EVIL + "/steal?access_token=abc"), 10, 1,
            "{origin} answered GET /ibot/workflow with HTTP 301, a redirect to " + EVIL + "/steal?access_token=***, "
            "which relay does not follow" + ASK, 1),
    "307 relative": (answer(307, Location="/elsewhere"), 10, 1,
                     "{origin} answered GET /ibot/workflow with HTTP 307, a redirect to {origin}/elsewhere, which relay "
                     "does not follow" + ASK, 1),
    "stall": (stall, SHORT, 1, f"{ORIGIN} did not answer within {SHORT:g} s", 1),
    "trickled body": (trickle_body, SHORT, 1, f"{ORIGIN} did not answer within {SHORT:g} s", 1),
    "trickled headers": (trickle_headers, SHORT, 1, f"{ORIGIN} did not answer within {SHORT:g} s", 1),
    "reset": (reset, 10, 1, "the connection to {origin} broke before the answer was complete (connection reset) "
              "(tried 4 times)", 4),
    "503 burst, then ok": (burst(503, 2), 10, 0, "", 3),
    "503 for good": (burst(503, 99), 10, 1,
                     "the Relay API refused GET /ibot/workflow: unavailable (HTTP 503) (tried 4 times)", 4),
    "500": (burst(500, 99), 10, 1, "the Relay API refused GET /ibot/workflow: unavailable (HTTP 500)", 1),
    "100 GiB declared": (huge_declared, 10, 1, "{origin} answered GET /ibot/workflow with more than 64 MiB; relay reads "
                         "at most 64 MiB of an answer", 1),
}  # fmt: skip


@pytest.mark.parametrize("command", ["list", "create", "install", "apply", "export"])
@pytest.mark.parametrize("behaviour", list(READS))
def test_a_failed_read_is_an_error_and_nothing_is_written(
    run: Any, serve: Any, evil: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, behaviour: str, command: str
) -> None:
    behave, timeout, code, message, gets = READS[behaviour]
    monkeypatch.setenv("RELAY_TIMEOUT", str(timeout))
    if command == "create":
        monkeypatch.delenv("RELAY_NO_CHECK")  # `create call` lists the account's workflows before it saves
    server = serve(behave)
    argv = commands(tmp_path, closed_port())[command]
    started = time.monotonic()
    result = run(*argv)
    took = time.monotonic() - started
    server.close()
    if code == 0:  # the server's trouble passed (or was none): the command did its work
        assert result.code == 0, result.err
        assert server.requests()[:gets] == [LIST] * gets
        return
    expected = "error: " + message.replace("{origin}", server.origin).replace(EVIL, evil.origin)
    assert (result.code, result.out) == (code, "")
    first = result.err.splitlines()[0]
    if timeout == SHORT and first != expected:
        # A loaded machine (a GC pause, a busy CPU) may hold this process past a 0.2 s deadline before the
        # connection is even opened. That attempt never left: it is retried if the budget allows, and the next
        # one meets the stall with the time left; else the deadline is reported as a connect timeout.
        import re

        origin = re.escape(server.origin)
        retried = re.fullmatch(rf"error: {origin} did not answer within ([0-9.]+) s \(tried [234] times\)", first)
        never_left = first == f"error: could not connect to {server.origin}: the connection timed out"
        assert (retried and 0 < float(retried.group(1)) <= SHORT) or never_left, result.err
        assert server.requests() in ([], [LIST])  # no write either way
    else:
        assert first == expected, result.err
        assert server.requests() == [LIST] * gets  # the failed read, and no write after it
    assert evil.seen == []  # a redirect is never followed
    assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in server.seen)
    assert TOKEN not in result.out + result.err and "Traceback" not in result.err
    if timeout == SHORT:
        assert took < 3, took  # a server that trickles (for 6 s) or stalls holds a command for the deadline only


def test_a_body_past_64_mib_is_refused(run: Any, serve: Any) -> None:
    server = serve(huge_streamed)
    result = run("workflow", "list", "-s", SUB)
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        f"error: {server.origin} answered GET /ibot/workflow with more than 64 MiB; relay reads at most 64 MiB of an answer\n"
    )
    assert server.requests() == [LIST]


# --- writes whose answer is bad: said plainly, never repeated blindly ----------------------------------------

MAYBE = "it may have been carried out: check before doing it again"
ONLY_ONCE = "not sent again, since only a request that provably never reached the server is repeated"
POST = ("POST", "/ibot/workflow")

#: (behaviour of the writes, command, RELAY_TIMEOUT) → (exit code, the error line, the requests)
WRITES: dict[tuple[str, str], tuple[Behaviour, float, int, str, list[tuple[str, str]]]] = {
    ("html", "create"): (answer(200, b"<html>portal</html>", "text/html"), 10, 1,
                         "error: {origin} answered POST /ibot/workflow with HTTP 200 and text/html, not the API's JSON"
                         f"{ASK} (tried once; {MAYBE})", [LIST, POST]),
    ("[] saved nothing", "create"): (answer(200, b"[]"), 10, 1,
                                     "error: {origin} answered POST /ibot/workflow with JSON of an unexpected shape: "
                                     "expected [workflow, ...] (at least one), but the answer is an empty list"
                                     f"{ASK} (tried once; {MAYBE})", [LIST, POST]),
    ("stall", "create"): (stall, 1, 1, f"error: {ORIGIN} did not answer within 1 s (tried once; {MAYBE}; "
                          f"{ONLY_ONCE})", [LIST, POST]),
    ("reset", "create"): (reset, 10, 1, "error: the connection to {origin} broke before the answer was complete "
                          f"(connection reset) (tried once; {MAYBE}; {ONLY_ONCE})", [LIST, POST]),
    ("503", "create"): (answer(503), 10, 1, "error: the Relay API refused POST /ibot/workflow: X (HTTP 503) "
                        f"(tried once; nothing was changed; {ONLY_ONCE})", [LIST, POST]),
    ("307", "create"): (answer(307, Location=EVIL + "/ibot/workflow"), 10, 1,
                        "error: {origin} answered POST /ibot/workflow with HTTP 307, a redirect to " + EVIL + "/ibot/workflow, "
                        "which relay does not follow" + ASK + f" (tried once; {MAYBE})",
                        [LIST, POST]),
    # an update names its workflow_id: sending it again is safe
    ("reset", "install"): (reset, 10, 1, "error: the connection to {origin} broke before the answer was complete "
                           f"(connection reset) (tried 4 times; {MAYBE})", [LIST] + [POST] * 4),
    ("503", "install"): (answer(503), 10, 1, "error: the Relay API refused POST /ibot/workflow: X (HTTP 503) "
                         "(tried 4 times; nothing was changed)", [LIST] + [POST] * 4),
    ("html", "install"): (answer(200, b"<html>portal</html>", "text/html"), 10, 1,
                          "error: {origin} answered POST /ibot/workflow with HTTP 200 and text/html, not the API's JSON"
                          f"{ASK} (tried once; {MAYBE})", [LIST, POST]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(WRITES), ids=[f"{c}-{b}" for b, c in WRITES])
def test_a_write_whose_answer_is_bad_says_what_may_have_happened(
    run: Any, serve: Any, evil: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, case: tuple[str, str]
) -> None:
    behave, timeout, code, message, requests = WRITES[case]
    monkeypatch.setenv("RELAY_TIMEOUT", str(timeout))
    if case[1] == "create":
        monkeypatch.delenv("RELAY_NO_CHECK")
    server = serve(on_writes(behave))
    result = run(*commands(tmp_path, closed_port())[case[1]])
    server.close()
    assert (result.code, result.out) == (code, "")
    errors = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert errors == [message.replace("{origin}", server.origin).replace(EVIL, evil.origin)], result.err
    assert server.requests() == requests
    assert evil.seen == []


def test_apply_stops_at_a_bad_answer_to_a_write(run: Any, serve: Any, tmp_path: Path) -> None:
    """A save answered with a portal page is a definite failure: reported, not retried, not reconciled."""
    server = serve(on_writes(answer(200, b"<html>portal</html>", "text/html")))
    result = run(*commands(tmp_path, closed_port())["apply"])
    assert (result.code, result.out) == (1, "")
    assert f"failed: create new: {server.origin} answered POST /ibot/workflow with HTTP 200 and text/html" in result.err
    assert server.requests() == [LIST, POST]


# --- every other command that looks something up before it writes ----------------------------------------------
# The lookup fails (a portal's page, an answer of the wrong shape, a redirect): the command says so, and the write
# that would have followed (a DELETE, a PUT, a POST of the whole workflow back) is never sent.

#: the workflow the lookups find, with an arg for `args unset` to remove
GREETED = stored_workflow("wf-1", "w1")
GREETED["config"]["trigger"]["start"]["workflow"]["args"] = {"greeting": "hello"}
INSTANCE = {"instance_id": "i-1", "workflow_id": "wf-1", "triggering_user_id": "990007560045678"}
TAG = {"tag_id": "t-1", "content": {"type": "custom", "category": "rooms", "label": "r101"}}
#: the API's own answer to each read a lookup makes
ACCOUNT = {
    "/ibot/workflow": {"results": [GREETED]},
    "/ibot/workflow_instances": [INSTANCE],
    "/ibot/relay_nfc_tag/t-1": TAG,
    "/ibot/geofence": {"results": [{"geofence_id": "g-1", "label": "office"}]},
    "/ibot/custom_audio": [{"id": "a-1", "short_name": "chime"}],
}


def account(conn: socket.socket, request: Seen, server: Server) -> None:
    """The API's own answers: the account's items to reads, nothing to writes."""
    if request.method == "GET" and request.path in ACCOUNT:
        send(conn, 200, json.dumps(ACCOUNT[request.path]).encode())
    elif (request.method, request.path) == POST:  # a save: the saved workflow
        send(conn, 200, json.dumps([GREETED]).encode())
    else:
        send(conn, 204, kind=None)


def unless(path: str, behaviour: Behaviour) -> Behaviour:
    """``behaviour`` for the reads of ``path``, the API's own answers to everything else."""
    return lambda conn, request, server: (behaviour if request.path == path and request.method == "GET" else account)(
        conn, request, server
    )


def workflow_with(**fields: Any) -> bytes:
    """The listing, its one workflow changed: ``config=None`` drops the config."""
    wf = {k: v for k, v in {**GREETED, **fields}.items() if v is not None}
    return json.dumps({"results": [wf]}).encode()


PORTAL = answer(200, b"<html>portal</html>", "text/html")
WF_ARGS = ["-w", "wf-1", "-s", SUB]
#: command → (argv, the reads it makes before it writes, in order)
LOOKUPS: dict[str, tuple[list[str], list[tuple[str, str]]]] = {
    "workflow delete": (["workflow", "delete", *WF_ARGS, "--yes"], [LIST]),
    "uninstall": (["workflow", "uninstall", *WF_ARGS, "-i", "990007560045678"], [LIST]),
    "install": (["workflow", "install", *WF_ARGS, "-i", "d9", "--yes"], [LIST]),
    "args set": (["workflow", "args", "set", *WF_ARGS, "-a", "greeting=hi"], [LIST]),
    "args unset": (["workflow", "args", "unset", *WF_ARGS, "greeting"], [LIST]),
    "trigger": (["workflow", "trigger", *WF_ARGS, "-u", "990007560045678"], [LIST]),
    "instance stop -i": (["workflow", "instance", "stop", "-i", "i-1", "-s", SUB, "--yes", "--no-wait"],
                         [("GET", "/ibot/workflow_instances")]),
    "instance stop -w": (["workflow", "instance", "stop", *WF_ARGS, "--yes", "--no-wait"],
                         [LIST, ("GET", "/ibot/workflow_instances")]),
    "tag update": (["tag", "update", "t-1", "-c", "rooms", "-l", "r201", "-s", SUB], [("GET", "/ibot/relay_nfc_tag/t-1")]),
    "tag delete": (["tag", "delete", "t-1", "-s", SUB, "--yes"], [("GET", "/ibot/relay_nfc_tag/t-1")]),
    "geofence delete": (["geofence", "delete", "g-1", "-s", SUB, "--yes"], [("GET", "/ibot/geofence")]),
    "audio delete": (["audio", "delete", "a-1", "-s", SUB, "--yes"], [("GET", "/ibot/custom_audio")]),
}  # fmt: skip

#: (command, what the failing lookup got) → (its server, the error line after "error: {origin} answered GET {path} with ")
FAILED_LOOKUPS: dict[tuple[str, str], tuple[Behaviour, str]] = {
    ("workflow delete", "html"): (PORTAL, "HTTP 200 and text/html, not the API's JSON"),
    ("workflow delete", "301"): (answer(301, Location=EVIL + "/ibot/workflow"),
                                 "HTTP 301, a redirect to " + EVIL + "/ibot/workflow, which relay does not follow"),
    ("workflow delete", '{"results": 5}'): (answer(200, b'{"results": 5}'),
                                            'JSON of an unexpected shape: expected {"results": [workflow, ...]}, but '
                                            "results is a number, not a list"),
    # install, uninstall and args set/unset send the workflow back whole: sent back without its config (or with
    # its install list read one character per device), it would lose its trigger (or its devices)
    ("args set", "html"): (PORTAL, "HTTP 200 and text/html, not the API's JSON"),
    ("args set", "no config"): (answer(200, workflow_with(config=None)),
                                'JSON of an unexpected shape: expected {"results": [workflow, ...]}, but '
                                "results[0].config is missing"),
    ("args unset", "trigger a string"): (answer(200, workflow_with(config={"trigger": "on_http"})),
                                         'JSON of an unexpected shape: expected {"results": [workflow, ...]}, but '
                                         "results[0].config.trigger is a string, not an object"),
    ("install", "config without start"): (answer(200, workflow_with(config={"trigger": {"on_incoming_call": ".*"}})),
                                          'JSON of an unexpected shape: expected {"results": [workflow, ...]}, but '
                                          "results[0].config.trigger.start is missing"),
    ("uninstall", "install a string"): (answer(200, workflow_with(install="990007560045678")),
                                        'JSON of an unexpected shape: expected {"results": [workflow, ...]}, but '
                                        "results[0].install is a string, not a list"),
    ("trigger", "html"): (PORTAL, "HTTP 200 and text/html, not the API's JSON"),
    # the instance's id is what the DELETE names: never /ibot/workflow_instances/None
    ("instance stop -i", "no instance_id"): (answer(200, json.dumps([{"instance_id": None, "workflow_id": "wf-1"}]).encode()),
                                             "JSON of an unexpected shape: expected [instance, ...], but [0].instance_id "
                                             "is null, not a string"),
    ("instance stop -w", "no instance_id"): (answer(200, json.dumps([{"workflow_id": "wf-1"}]).encode()),
                                             "JSON of an unexpected shape: expected [instance, ...], but [0].instance_id "
                                             "is missing"),
    ("tag update", '{"results": 5}'): (answer(200, b'{"results": 5}'),
                                       "JSON of an unexpected shape: expected tag, but tag_id is missing"),
    ("tag delete", "html"): (PORTAL, "HTTP 200 and text/html, not the API's JSON"),
    ("tag delete", '{"results": 5}'): (answer(200, b'{"results": 5}'),
                                       "JSON of an unexpected shape: expected tag, but tag_id is missing"),
    ("geofence delete", "html"): (PORTAL, "HTTP 200 and text/html, not the API's JSON"),
    ("geofence delete", "[]"): (answer(200, b"[]"), 'JSON of an unexpected shape: expected {"results": [object, ...]}, '
                                "but the answer is a list, not an object"),
    ("audio delete", "html"): (PORTAL, "HTTP 200 and text/html, not the API's JSON"),
    ("audio delete", '{"results": []}'): (answer(200, b'{"results": []}'),
                                          "JSON of an unexpected shape: expected [object, ...], but the answer is an "
                                          "object, not a list"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(FAILED_LOOKUPS), ids=[f"{c}-{b}" for c, b in FAILED_LOOKUPS])
def test_a_failed_lookup_is_an_error_and_nothing_is_written(
    run: Any, serve: Any, evil: Server, monkeypatch: pytest.MonkeyPatch, case: tuple[str, str]
) -> None:
    monkeypatch.setenv("RELAY_HEADERS", json.dumps({"X-Api-Secret": "header-secret-5"}))
    behave, problem = FAILED_LOOKUPS[case]
    argv, reads = LOOKUPS[case[0]]
    failing = reads[-1]
    server = serve(unless(failing[1], behave))
    result = run(*argv)
    server.close()
    assert (result.code, result.out) == (1, ""), result.err
    expected = f"error: {server.origin} answered GET {failing[1]} with {problem}{ASK}".replace(EVIL, evil.origin)
    assert result.err.splitlines()[0] == expected, result.err
    assert server.requests() == reads  # the lookups, and no write after them
    assert evil.seen == []
    assert TOKEN not in result.err and "header-secret-5" not in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("command", list(LOOKUPS))
def test_each_lookup_row_writes_when_the_lookup_succeeds(run: Any, serve: Any, command: str) -> None:
    """The rows above prove something only if the same command, answered well, goes on to write."""
    argv, reads = LOOKUPS[command]
    server = serve(account)
    result = run(*argv)
    server.close()
    assert result.code == 0, result.err
    assert server.requests()[: len(reads)] == reads
    assert [m for m, _ in server.requests()[len(reads) :]] in (["DELETE"], ["PUT"], ["POST"]), server.requests()


# --- the realtime log stream and the upload go through the same path -----------------------------------------


def log_lines(conn: socket.socket, request: Seen, server: Server) -> None:
    """A log stream whose lines come after the deadline has long passed, then the server ends it."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
    for i in range(3):
        if server.stop.wait(0.25):
            return
        conn.sendall(json.dumps({"level": "info", "timestamp": f"t{i}", "message": f"m{i}"}).encode() + b"\n")


def test_the_log_stream_is_bounded_until_its_headers_only(
    run: Any, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_TIMEOUT", "0.2")
    server = serve(log_lines)
    result = run("workflow", "logs", "-s", SUB, "--json")
    assert result.code == 0, result.err
    assert [json.loads(line)["message"] for line in result.out.splitlines()] == [
        "m0",
        "m1",
        "m2",
    ]  # at 0.25, 0.5, 0.75 s
    assert server.requests() == [("GET", "/ibot/workflowdebug")]


@pytest.mark.parametrize(
    ("behave", "message"),
    [(stall, f"{ORIGIN} did not answer within {SHORT:g} s"),
     (answer(200, b"<html>portal</html>", "text/html"),
      f"{ORIGIN} answered GET /ibot/workflowdebug with HTTP 200 and text/html, not the API's JSON lines{ASK}"),
     (answer(302, Location="https://sso.example.net/login"),
      f"{ORIGIN} answered GET /ibot/workflowdebug with HTTP 302, a redirect to https://sso.example.net/login, which relay "
      f"does not follow{ASK}")],
    ids=["stall", "html", "302"],
)  # fmt: skip
def test_the_log_streams_headers_are_checked(
    run: Any, serve: Any, monkeypatch: pytest.MonkeyPatch, behave: Behaviour, message: str
) -> None:
    monkeypatch.setenv("RELAY_TIMEOUT", str(SHORT))
    server = serve(behave)
    result = run("workflow", "logs", "-s", SUB)
    assert (result.code, result.out) == (1, "")
    assert result.err.splitlines()[0] == "error: " + message.replace(ORIGIN, server.origin)
    assert server.requests() == [("GET", "/ibot/workflowdebug")]


def test_an_upload_has_the_same_deadline(tmp_path: Path) -> None:
    from relay_cli.api.client import RelayClient
    from relay_cli.errors import NetworkError

    server = Server(stall)
    path = tmp_path / "a.wav"
    path.write_bytes(b"RIFF" + b"\0" * 100)
    try:
        with (
            RelayClient("http://127.0.0.1:9", token=TOKEN, user_agent="t", timeout=SHORT) as client,
            pytest.raises(NetworkError) as caught,
        ):
            client.upload_presigned(f"{server.origin}/bucket/a.wav?X-Amz-Signature=sig", str(path), 104)
    finally:
        server.close()
    assert (
        caught.value.message
        == f"uploading the file failed: {server.origin} did not answer within {SHORT:g} s (tried once)"
    )
    assert [(r.method, r.path, r.headers.get("authorization")) for r in server.seen] == [("PUT", "/bucket/a.wav", None)]


# --- through a proxy the environment names: the same requests, the same deadline --------------------------------


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_requests_go_through_the_proxy_the_environment_names(
    run: Any, serve: Any, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    proxy = serve(good)
    monkeypatch.setenv(variable, proxy.origin)
    api = f"http://127.0.0.2:{closed_port()}"  # nobody there: only the proxy can answer
    monkeypatch.setenv("RELAY_HOST", api)
    result = run("workflow", "list", "-s", SUB, "--json")
    assert result.code == 0, result.err
    assert result.json() == [WF]
    assert proxy.requests() == [("GET", f"{api}/ibot/workflow")]  # a proxy's request form
    assert proxy.seen[0].headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "*", "localhost,127.0.0.1"])
def test_no_proxy_goes_direct(run: Any, serve: Any, monkeypatch: pytest.MonkeyPatch, no_proxy: str) -> None:
    server = serve(good)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")  # nobody there: going through it fails
    monkeypatch.setenv("NO_PROXY", no_proxy)
    result = run("workflow", "list", "-s", SUB, "--json")
    assert result.code == 0, result.err
    assert server.requests() == [LIST]


def test_a_proxy_that_trickles_is_held_to_the_deadline(run: Any, serve: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = serve(trickle_headers)
    monkeypatch.setenv("HTTP_PROXY", proxy.origin)
    monkeypatch.setenv("RELAY_HOST", f"http://127.0.0.2:{closed_port()}")
    monkeypatch.setenv("RELAY_TIMEOUT", str(SHORT))
    started = time.monotonic()
    result = run("workflow", "list", "-s", SUB)
    assert result.code == 1
    assert "did not answer within" in result.err or "timed out" in result.err, result.err
    assert time.monotonic() - started < 3  # the trickle goes on for 6 s
