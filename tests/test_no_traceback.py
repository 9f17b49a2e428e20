"""No traceback, ever: one top-level handler in ``app.run``, and each crash fixed at its cause.

- an unexpected exception is one line ("internal error: ...") and exit 70; the traceback only with
  RELAY_DEBUG=1 or the root ``--verbose``;
- a closed stdout (``relay workflow list | head -1``) ends quietly with exit 0, whether the reader left before
  the first byte, in the middle, or during the final flush at exit;
- a full disk (``> /dev/full``) is exit 1 "cannot write to stdout: No space left on device";
- text the stream cannot encode is escaped, and ``--json`` stays the exact value;
- a malformed ``--uri`` (``wss://[::1``) is exit 2 naming ``--uri``.

The stream tests run the installed ``relay`` script as a subprocess against the in-process sandbox (a
temporary data directory), since pipes, ``/dev/full`` and the interpreter's exit are what is being tested; of
the encodings, a table comes from the installed script (the interpreter's streams for PYTHONIOENCODING), and the
other outputs from this process, on streams of that encoding made as the interpreter makes them.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import yaml

from relay_cli import app as relay_app
from relay_cli.local.seed import DEMO_SUBSCRIBER
from relay_cli.local.store import SandboxStore
from relay_cli.output import Output

from conftest import API, TOKEN, sandbox_note, stored_workflow

RELAY = Path(sys.executable).parent / "relay"
INTERNAL = "please report it with the output of `relay version --json` (RELAY_DEBUG=1 shows the traceback)"
posix_relay = pytest.mark.skipif(
    not RELAY.exists() or os.name != "posix", reason="needs the installed relay script and POSIX pipes"
)


# --- the top-level handler (in-process) -------------------------------------------------------------------


def _explode(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    def list_workflows(self: Any, subscriber_id: str) -> Any:
        raise exc

    monkeypatch.setattr("relay_cli.api.client.RelayClient.list_workflows", list_workflows)


def test_an_unexpected_exception_is_one_line_and_exit_70(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _explode(monkeypatch, TypeError("'int' object is not iterable"))
    result = run("workflow", "list", "-s", "SUB")
    assert result.code == 70
    assert result.out == ""
    assert result.err == f"internal error: TypeError: 'int' object is not iterable, {INTERNAL}\n"


@pytest.mark.parametrize("how", ["RELAY_DEBUG=1", "--verbose", "-v", "-P default -v"])
def test_the_traceback_only_when_asked_for(run: Any, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    _explode(monkeypatch, KeyError("results"))
    args = ["workflow", "list", "-s", "SUB"]
    if how == "RELAY_DEBUG=1":
        monkeypatch.setenv("RELAY_DEBUG", "1")
    else:
        args = how.split() + args
    result = run(*args)
    assert result.code == 70
    assert result.err.startswith("Traceback (most recent call last):\n")
    assert result.err.endswith(f"internal error: KeyError: 'results', {INTERNAL}\n")


def test_without_debug_a_later_verbose_flag_is_not_the_root_one(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _explode(monkeypatch, RuntimeError("boom"))
    result = run("workflow", "list", "-s", "SUB", "--json")
    assert result.err == f"internal error: RuntimeError: boom, {INTERNAL}\n"


def test_an_internal_error_never_prints_a_credential(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_HEADERS", '{"X-Api-Key": "header-secret-123"}')
    _explode(monkeypatch, ValueError(f"Illegal header value b'Bearer {TOKEN}\\n' and header-secret-123"))
    result = run("workflow", "list", "-s", "SUB")
    assert result.code == 70
    assert TOKEN not in result.err
    assert "header-secret-123" not in result.err
    assert result.err == f"internal error: ValueError: Illegal header value b'Bearer ***\\n' and ***, {INTERNAL}\n"


@pytest.mark.parametrize("terminal", [False, True])
def test_ctrl_c_is_one_line_and_exit_130(run: Any, monkeypatch: pytest.MonkeyPatch, terminal: bool) -> None:
    # on a terminal the line starts after the "^C" it echoed; in a log it is the line itself
    _explode(monkeypatch, KeyboardInterrupt())
    result = run("workflow", "list", "-s", "SUB", out=Output(stderr_isatty=terminal))
    assert result.code == 130
    assert result.out == ""
    assert result.err == ("\ninterrupted\n" if terminal else "interrupted\n")


def test_ctrl_c_while_the_command_tree_is_imported_is_one_line_and_exit_130(tmp_path: Path) -> None:
    # the first moments of `relay ...`, before app.run's handler exists
    script = (
        "import sys\n"
        "import relay_cli.__main__ as entry, relay_cli.app as app\n"
        "def interrupted(args):\n"
        "    raise KeyboardInterrupt\n"
        "app.run = interrupted\n"
        "sys.argv[1:] = ['workflow', 'list']\n"
        "sys.exit(entry.main())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env.update(RELAY_CONFIG_DIR=str(tmp_path / "config"), RELAY_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "interrupted\n")


def test_an_internal_error_message_is_escaped(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _explode(monkeypatch, RuntimeError("bad \x1b[2J answer"))
    result = run("workflow", "list", "-s", "SUB")
    assert result.err == f"internal error: RuntimeError: bad \\x1b[2J answer, {INTERNAL}\n"


def test_expected_errors_keep_their_codes_and_show_no_traceback_under_verbose(run: Any) -> None:
    with respx.mock(base_url=API, assert_all_called=False) as api:
        api.get("/ibot/workflow").mock(return_value=httpx.Response(404, json={"error": "not_found"}))
        result = run("--verbose", "workflow", "list", "-s", "SUB")
    assert result.code == 3
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    "uri", ["wss://[::1", "wss://[::1/path", "ws://[::1:8080/x", "wss://host:99999/x", "wss://host:port/x"]
)
def test_a_malformed_uri_is_exit_2_naming_uri(run: Any, uri: str) -> None:
    with respx.mock(assert_all_called=False) as api:
        api.route().mock(return_value=httpx.Response(200, json=[]))
        result = run("workflow", "create", "button", "--name", "x", "--uri", uri, "-A", "-s", "SUB")
        assert api.calls.call_count == 0
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith(
        f"error: --uri: expected a WebSocket URI such as wss://myhost.example.com/path, got {uri!r} ("
    )
    assert result.err.count("\n") == 1


# --- the streams (subprocesses) ------------------------------------------------------------------------------


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "PYTHONIOENCODING")) and k != "CI"}
    env.update(
        RELAY_CONFIG_DIR=str(tmp_path / "config"),
        RELAY_DATA_DIR=str(tmp_path / "data"),
        NO_COLOR="1",
        RELAY_NO_CHECK="1",
    )
    env.update(extra)
    return env


def _fill(tmp_path: Path, count: int, name: str = "w{i}") -> None:
    """``count`` workflows in the sandbox, each installed on 40 devices (so a listing is several pipe buffers)."""
    store = SandboxStore(tmp_path / "data" / "sandbox.db")
    for i in range(count):
        body = stored_workflow("", name.format(i=i), install=[f"99{i:05d}{d:08d}" for d in range(40)])
        del body["workflow_id"]
        store.create_workflow(DEMO_SUBSCRIBER, body)


def _reader_leaves(env: dict[str, str], args: list[str], keep: int) -> tuple[int, str]:
    """Run relay with stdout a pipe whose reader reads ``keep`` bytes (0: none at all) and closes it."""
    proc = subprocess.Popen(
        [str(RELAY), *args], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    if keep:
        proc.stdout.read(keep)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(timeout=60), err


@posix_relay
@pytest.mark.parametrize(
    "args",
    [["workflow", "list"], ["workflow", "list", "--json"], ["workflow", "list", "--csv"], ["workflow", "export"]],
)
def test_a_reader_leaving_mid_output_ends_quietly_with_0(tmp_path: Path, args: list[str]) -> None:
    _fill(tmp_path, 300)  # about 300 kB of output: the writer is blocked on the pipe when the reader leaves
    # exit 0 and nothing on stderr but the note that it read the sandbox; the pipe orders the two sides (relay is
    # blocked on it, full, when the reader goes), so every run meets the same event
    expected = (0, sandbox_note(tmp_path / "data") if "list" in args else "")
    assert _reader_leaves(_env(tmp_path), args, keep=100) == expected


@posix_relay
@pytest.mark.parametrize(
    "args",
    [["workflow", "list"], ["workflow", "list", "--json"], ["version", "--json"], ["--version"], ["profile", "show"]],
)
def test_a_reader_gone_before_the_first_byte_ends_quietly_with_0(tmp_path: Path, args: list[str]) -> None:
    _fill(tmp_path, 2)  # small output: it sits in the buffer until the final flush, which meets the closed pipe
    # the reader has gone before relay has finished starting, so every run meets the same event
    assert _reader_leaves(_env(tmp_path), args, keep=0) == (0, "")


@posix_relay
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
@pytest.mark.parametrize(
    "args",
    [
        ["workflow", "list"],
        ["workflow", "list", "--json"],
        ["workflow", "list", "-o", "yaml"],
        ["version", "--json"],
        ["--version"],
    ],
)
def test_a_full_disk_is_exit_1_and_one_line(tmp_path: Path, args: list[str]) -> None:
    _fill(tmp_path, 3)
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [str(RELAY), *args],
            env=_env(tmp_path),
            stdin=subprocess.DEVNULL,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 1
    assert proc.stderr == "error: cannot write to stdout: No space left on device\n"


NAME = "caf\u00e9 \U0001f600 \x1b[31mred"


def _encoded(encoding: str, *args: str) -> tuple[int, bytes, bytes]:
    """``relay ARGS`` in this process, its stdout and stderr streams of ``encoding`` as the interpreter makes them
    for PYTHONIOENCODING (errors: strict on stdout, backslashreplace on stderr): (code, stdout, stderr)."""
    stdout, stderr = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(stdout, encoding=encoding, errors="strict", write_through=True)
    err = io.TextIOWrapper(stderr, encoding=encoding, errors="backslashreplace", write_through=True)
    code = relay_app.run(list(args), Output(out, err))
    return code, stdout.getvalue(), stderr.getvalue()


@posix_relay
@pytest.mark.parametrize(
    ("encoding", "shown"),
    [
        ("ascii", "caf\\xe9 \\U0001f600 \\x1b[31mred"),
        ("latin-1", "caf\u00e9 \\U0001f600 \\x1b[31mred"),
        ("utf-8", "caf\u00e9 \U0001f600 \\x1b[31mred"),
    ],
)
def test_text_the_stream_cannot_encode_is_escaped_and_json_stays_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoding: str, shown: str
) -> None:
    _fill(tmp_path, 1, name=NAME)
    # the installed relay, its streams the interpreter's for PYTHONIOENCODING: a table
    table = subprocess.run(
        [str(RELAY), "workflow", "list"],
        env=_env(tmp_path, PYTHONIOENCODING=encoding),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert table.returncode == 0, table.stderr
    assert table.stderr.decode(encoding) == sandbox_note(tmp_path / "data")
    row = table.stdout.decode(encoding).splitlines()[1]
    assert row.split("  ")[1] == shown
    assert "\x1b" not in table.stdout.decode(encoding)

    # the other outputs in this process, on streams of that encoding, nothing configured (the in-process sandbox)
    monkeypatch.delenv("RELAY_API_KEY")
    code, out, err = _encoded(encoding, "workflow", "list", "--json")
    assert code == 0, err
    assert json.loads(out.decode(encoding))[0]["name"] == NAME  # the exact name, whatever the encoding

    code, out, err = _encoded(encoding, "workflow", "list", "-o", "yaml")
    assert code == 0, err
    quoted = out.decode(encoding).split("name: ", 1)[1].splitlines()[0]
    assert quoted[0] == quoted[-1] == '"'  # a YAML double-quoted scalar: what the stream cannot encode is an escape
    assert yaml.safe_load(out.decode(encoding))[0]["name"] == NAME  # read back exactly by a YAML parser

    code, out, err = _encoded(encoding, "workflow", "delete", "-w", NAME, "--yes")
    assert code == 0, err
    assert err.decode(encoding).splitlines()[-1].startswith(f"Deleted workflow {shown} (wf_")
