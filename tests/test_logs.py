"""``relay workflow logs``: the stream request, one line per entry (human or JSON), the end of the stream, Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from relay_cli.api.client import RelayClient

from conftest import API, SUB, clean, sent, stored_workflow

USER = "990007560045678"
WF = "wf_7e1d886f7c9ccc048fc23706"


def entry(level: str, message: Any, workflow_id: str | None = WF, *, user: str | None = USER) -> dict[str, Any]:
    return {
        "level": level,
        "timestamp": "2030-01-01T10:00:00.000Z",
        "message": message,
        "context": {"subscriber_id": SUB, "user_id": user, "workflow_id": workflow_id},
    }


ENTRIES = [
    entry("info", "workflow started"),
    entry("error", "could not reach wss://h/p", None, user=None),
    entry("debug", "done"),
]
#: 3 JSON lines, a blank line (skipped) and a line that is not JSON
STREAM = (
    "\n".join([json.dumps(ENTRIES[0]), json.dumps(ENTRIES[1]), "", "plain text, not JSON", json.dumps(ENTRIES[2])])
    + "\n"
).encode()


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        workflows = [stored_workflow(WF, "auto_answer"), stored_workflow("wf-02", "other")]
        mock.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": workflows}))
        mock.get("/ibot/workflowdebug").mock(return_value=httpx.Response(200, content=STREAM))
        yield mock


LIST = ("GET", "/ibot/workflow", {"subscriber_id": SUB})
HUMAN = (
    "2030-01-01T10:00:00.000Z INFO  wf_7e1d8 workflow started\n"
    "2030-01-01T10:00:00.000Z ERROR - could not reach wss://h/p\n"
    "plain text, not JSON\n"
    "2030-01-01T10:00:00.000Z DEBUG wf_7e1d8 done\n"
)


def test_logs_human(run: Any, api: Any) -> None:
    result = run("workflow", "logs", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [("GET", "/ibot/workflowdebug", {"subscriber_id": SUB})]
    assert result.out == HUMAN
    assert result.err == ""
    clean(result)


def test_logs_json_passthrough(run: Any, api: Any) -> None:
    result = run("workflow", "logs", "--json", "-s", SUB)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines == [
        json.dumps(ENTRIES[0], separators=(",", ":")),
        json.dumps(ENTRIES[1], separators=(",", ":")),
        '{"message":"plain text, not JSON"}',  # a line that was not JSON, wrapped so every line stays JSON
        json.dumps(ENTRIES[2], separators=(",", ":")),
    ]
    assert [json.loads(line) for line in lines] == [
        ENTRIES[0],
        ENTRIES[1],
        {"message": "plain text, not JSON"},
        ENTRIES[2],
    ]
    assert result.err == ""
    clean(result)


def test_logs_filtered_by_workflow_name_and_user(run: Any, api: Any) -> None:
    result = run("workflow", "logs", "-w", "auto_answer", "-u", USER, "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [
        LIST,
        ("GET", "/ibot/workflowdebug", {"subscriber_id": SUB, "workflow_id": WF, "user_id": USER}),
    ]
    assert result.out == HUMAN


def test_logs_filtered_by_workflow_id_only(run: Any, api: Any) -> None:
    result = run("workflow", "logs", "--workflow-id", "wf-02", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [LIST, ("GET", "/ibot/workflowdebug", {"subscriber_id": SUB, "workflow_id": "wf-02"})]


def test_logs_user_only_sends_no_workflow_request(run: Any, api: Any) -> None:
    result = run("workflow", "logs", "--user-id", USER, "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [("GET", "/ibot/workflowdebug", {"subscriber_id": SUB, "user_id": USER})]


def test_logs_workflow_from_environment(run: Any, api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_WORKFLOW_ID", "auto_answer")
    result = run("workflow", "logs", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [LIST, ("GET", "/ibot/workflowdebug", {"subscriber_id": SUB, "workflow_id": WF})]


def test_logs_default_account(run: Any, api: Any) -> None:
    api.get("/ibot/authz_context").mock(return_value=httpx.Response(200, json=[{"subscriber_id": "SUB-A"}]))
    result = run("workflow", "logs")
    assert result.code == 0, result.err
    assert sent(api) == [("GET", "/ibot/authz_context", {}), ("GET", "/ibot/workflowdebug", {"subscriber_id": "SUB-A"})]


def test_logs_unknown_workflow_is_exit_3(run: Any, api: Any) -> None:
    result = run("workflow", "logs", "-w", "nope", "-s", SUB)
    assert result.code == 3
    assert sent(api) == [LIST]
    assert result.out == ""
    assert result.err == (
        "error: no workflow with id or name 'nope' in account SUB\nhint: `relay workflow list` shows the workflows\n"
    )


def test_logs_empty_user_is_refused(run: Any, api: Any) -> None:
    result = run("workflow", "logs", "-u", "", "-s", SUB)
    assert result.code == 2
    assert sent(api) == []
    assert result.err == "error: --user-id: expected a device or user id, got an empty string\n"


def test_logs_stream_closed_at_once(run: Any, api: Any) -> None:
    api.get("/ibot/workflowdebug").mock(return_value=httpx.Response(200, content=b""))
    result = run("workflow", "logs", "-s", SUB)
    assert (result.code, result.out, result.err) == (0, "", "")


@pytest.mark.parametrize(("status", "code"), [(404, 3), (401, 4), (500, 1)])
def test_logs_refused_stream(run: Any, api: Any, status: int, code: int) -> None:
    api.get("/ibot/workflowdebug").mock(return_value=httpx.Response(status, json={"error": "nope", "message": "no"}))
    result = run("workflow", "logs", "-s", SUB)
    assert result.code == code
    assert result.out == ""
    assert result.err.startswith(f"error: the Relay API refused GET /ibot/workflowdebug: no (nope) (HTTP {status})")
    clean(result)


def test_logs_odd_entries(run: Any, api: Any) -> None:
    lines = [
        json.dumps({"level": "info", "timestamp": "t1", "message": "\x1b[31mred\x1b[0m\rback"}),  # no context
        json.dumps({"message": "only a message"}),
        json.dumps(42),
        json.dumps({"level": "warn", "message": {"k": 1}, "context": {"workflow_id": "short"}}),
        json.dumps({"timestamp": "t2", "context": None}),
    ]
    api.get("/ibot/workflowdebug").mock(return_value=httpx.Response(200, content="\n".join(lines).encode()))
    result = run("workflow", "logs", "-s", SUB)
    assert result.code == 0, result.err
    assert result.out == (
        't1 INFO  - \\x1b[31mred\\x1b[0m\\x0dback\nonly a message\n42\n- WARN  short {"k": 1}\nt2 -     -\n'
    )
    clean(result)


def test_logs_interrupted_mid_stream(run: Any, api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def interrupted(self: RelayClient, subscriber_id: str, **query: Any) -> Iterator[dict[str, Any]]:
        calls.append((subscriber_id, query))
        yield ENTRIES[0]
        raise KeyboardInterrupt

    monkeypatch.setattr(RelayClient, "workflow_logs", interrupted)
    result = run("workflow", "logs", "-s", SUB)
    assert result.code == 130
    assert calls == [(SUB, {"workflow_id": None, "user_id": None})]
    assert result.out == "2030-01-01T10:00:00.000Z INFO  wf_7e1d8 workflow started\n"
    clean(result)


def test_logs_interrupted_json(run: Any, api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[bool] = []

    def interrupted(self: RelayClient, subscriber_id: str, **query: Any) -> Iterator[dict[str, Any]]:
        try:
            yield ENTRIES[0]
            raise KeyboardInterrupt
        finally:
            closed.append(True)

    monkeypatch.setattr(RelayClient, "workflow_logs", interrupted)
    result = run("workflow", "logs", "--json", "-s", SUB)
    assert result.code == 130
    assert result.out == json.dumps(ENTRIES[0], separators=(",", ":")) + "\n"
    assert closed == [True]
    clean(result)


def test_logs_interrupted_while_printing_closes_the_stream(run: Any, api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while a line is being written: the stream (the generator) is closed, exit 130."""
    closed: list[bool] = []

    def endless(self: RelayClient, subscriber_id: str, **query: Any) -> Iterator[dict[str, Any]]:
        try:
            while True:
                yield ENTRIES[0]
        finally:
            closed.append(True)

    def interrupt(entry: Any) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(RelayClient, "workflow_logs", endless)
    monkeypatch.setattr("relay_cli.commands.workflow.logs.format_entry", interrupt)
    result = run("workflow", "logs", "-s", SUB)
    assert result.code == 130
    assert result.out == ""
    assert closed == [True]
    clean(result)


# --- long lines that trickle in -------------------------------------------------------------------------------

PIECE = 64


@contextlib.contextmanager
def trickling_server(body: bytes) -> Iterator[str]:
    """A loopback server that answers the log stream with ``body`` in pieces of 64 bytes: each one an HTTP chunk of
    its own, so that the client receives them one by one however the bytes travel. Yields its origin."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(65536)
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
            pieces = [
                b"%x\r\n%s\r\n" % (len(body[i : i + PIECE]), body[i : i + PIECE]) for i in range(0, len(body), PIECE)
            ]
            with contextlib.suppress(OSError):  # the client may stop reading at a line too long
                conn.sendall(head + b"".join(pieces) + b"0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        thread.join(timeout=5)


def test_logs_prints_long_lines_that_trickle_in_promptly(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two lines of a megabyte (just under the 1 MiB a line may have), each in 15,625 pieces of 64 bytes, then a
    short one: joined in time linear in their length (adding each piece to the line so far took tens of seconds)."""
    long_entries = [entry("info", c * 999_800) for c in "ab"]
    body = b"".join(json.dumps(e).encode() + b"\n" for e in [*long_entries, ENTRIES[2]])
    assert all(len(line) < 1 << 20 for line in body.splitlines())
    with trickling_server(body) as origin:
        monkeypatch.setenv("RELAY_HOST", origin)
        began = time.monotonic()
        result = run("workflow", "logs", "-s", SUB, "--json")
        elapsed = time.monotonic() - began
    assert result.code == 0, result.err
    assert [json.loads(line) for line in result.out.splitlines()] == [*long_entries, ENTRIES[2]]
    assert elapsed < 5, f"{elapsed:.1f} s"


def test_a_log_line_over_its_limit_ends_the_stream_with_a_message(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """What came before it is printed; the line itself is never held beyond 1 MiB."""
    body = json.dumps(ENTRIES[0]).encode() + b"\n" + b"x" * ((1 << 20) + 1)
    with trickling_server(body) as origin:
        monkeypatch.setenv("RELAY_HOST", origin)
        began = time.monotonic()
        result = run("workflow", "logs", "-s", SUB)
        elapsed = time.monotonic() - began
    assert (result.code, result.out) == (1, "2030-01-01T10:00:00.000Z INFO  wf_7e1d8 workflow started\n")
    assert result.err == (
        f"error: {origin} sent a log line longer than 1 MiB on GET /ibot/workflowdebug; the stream was closed\n"
    )
    assert elapsed < 5, f"{elapsed:.1f} s"
