"""``relay --help`` and ``relay workflow --help`` are answered by ``relay_cli.quickhelp`` without Typer: they must
print exactly what Typer prints, at every terminal width, and the index they are laid out from must be current."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from relay_cli import quickhelp
from relay_cli.app import run as run_with_typer

ROOT = Path(__file__).resolve().parent.parent
LINES = [["--help"], ["-h"], ["workflow", "--help"], ["workflow", "-h"]]
RELAY = Path(sys.executable).parent / "relay"
posix_relay = pytest.mark.skipif(not RELAY.exists() or os.name != "posix", reason="needs the installed relay script")


def typer_help(args: list[str]) -> str:
    """What Typer prints for ``relay ARGS`` (``app.run``: the whole command tree, no quick path)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert run_with_typer(list(args)) == 0
    return out.getvalue()


def test_the_index_is_current() -> None:
    path = ROOT / "relay_cli" / "helpindex.py"
    assert path.read_text(encoding="utf-8") == quickhelp.index_source(), (
        "relay_cli/helpindex.py is stale: run `python scripts/generate.py` and commit the result"
    )


#: COLUMNS values giving every width click can choose (50 to 98), the bounds around them, and values it ignores
COLUMNS = ["1", "49", "51", *map(str, range(52, 101)), "101", "300", "0", "-3", "wide"]


@pytest.mark.parametrize("args", [["--help"], ["workflow", "--help"]], ids=" ".join)
def test_the_same_text_as_typer_at_every_width(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    """click's width: COLUMNS (else the terminal, else 80), at most 100, less 2, at least 50: every case."""
    monkeypatch.delenv("COLUMNS", raising=False)
    assert quickhelp.page_for(args) == typer_help(args)
    for columns in COLUMNS:
        monkeypatch.setenv("COLUMNS", columns)
        assert quickhelp.page_for(args) == typer_help(args), f"COLUMNS={columns}"


def test_the_summaries_are_cut_to_the_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """A control: the pages do change with the width (so the comparison above compares layouts)."""
    monkeypatch.setenv("COLUMNS", "60")
    narrow = quickhelp.page_for(["--help"])
    monkeypatch.setenv("COLUMNS", "100")
    wide = quickhelp.page_for(["--help"])
    assert narrow is not None and wide is not None
    narrow_commands, wide_commands = narrow.split("Commands:\n")[1], wide.split("Commands:\n")[1]
    assert max(map(len, narrow_commands.splitlines())) <= 58 < max(map(len, wide_commands.splitlines())) <= 98
    assert "  workflow    Create, list, install and manage workflows.\n" in wide_commands


@pytest.mark.parametrize(
    "args", [["--help", "workflow"], ["-P", "qa", "--help"], ["workflow", "list", "--help"], ["help"], ["--hel"], []]
)
def test_other_command_lines_are_left_to_typer(args: list[str]) -> None:
    assert quickhelp.page_for(args) is None


def test_shell_completion_is_left_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_RELAY_COMPLETE", "complete_bash")
    assert quickhelp.page_for(["--help"]) is None


@pytest.mark.parametrize("args", LINES, ids=" ".join)
def test_the_command_prints_it(run: Any, args: list[str]) -> None:
    result = run(*args)
    assert (result.code, result.err) == (0, "")
    assert result.out == typer_help(args)


# --- the installed command: no Typer imported, and app.run's rules for the one write ----------------------


@posix_relay
@pytest.mark.parametrize("args", LINES, ids=" ".join)
def test_the_installed_command_imports_no_typer(args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", str(RELAY), *args], env=env, stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "relay_cli.quickhelp" in modules
    assert not {m.split(".")[0] for m in modules} & {"typer", "click", "rich", "httpx", "keyring"}
    assert proc.stdout == typer_help(args)


@posix_relay
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_a_full_disk_is_exit_1_and_one_line() -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [str(RELAY), "--help"],
            stdin=subprocess.DEVNULL,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert (proc.returncode, proc.stderr) == (1, "error: cannot write to stdout: No space left on device\n")


@posix_relay
def test_a_reader_gone_before_the_first_byte_ends_quietly_with_0() -> None:
    proc = subprocess.Popen(
        [str(RELAY), "workflow", "--help"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    assert (proc.wait(timeout=60), proc.stderr.read()) == (0, b"")


@posix_relay
def test_an_ascii_stdout_gets_the_same_text() -> None:
    """The pages are ASCII (so nothing needs escaping on any stream); a non-ASCII help text would be escaped."""
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    proc = subprocess.run(
        [str(RELAY), "--help"], env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False
    )
    assert proc.returncode == 0 and proc.stderr == b""
    assert proc.stdout.decode("ascii") == quickhelp.page_for(["--help"])
