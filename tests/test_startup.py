"""Startup cost: the fast paths must not import the heavy dependencies.

Each command runs in a fresh interpreter under ``-X importtime``; the modules it imported are read back from
stderr. ``--version`` and the groups' help pages (``--help``, ``workflow --help``, ...) must not even import typer
or a command module; a command's help page and a ``--dry-run`` need typer and that command's module only, and no
HTTP client, no rich, no keyring, no TOML writer. (Timings live in benchmarks/, not here.)
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from relay_cli import registry

HEAVY = ("httpx", "rich", "keyring", "tomlkit")
DRY_RUN = (
    "workflow", "create", "call", "--trigger", "inbound", "--name", "n", "--uri", "wss://h/p", "-s", "SUB",
    "--dry-run", "--json",
)  # fmt: skip


def imported_modules(stderr: str) -> set[str]:
    """The module names in ``-X importtime`` output (``import time: self | cumulative | name``)."""
    names: set[str] = set()
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line[len("import time:") :].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the header line
        names.add(fields[2].strip())
    return names


def top_level(modules: set[str]) -> set[str]:
    return {name.split(".", 1)[0] for name in modules}


def run_importtime(
    config_dir: Path, *args: str, code: str | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    env = dict(os.environ)
    env["RELAY_CONFIG_DIR"] = str(config_dir)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    target = ["-c", code] if code is not None else ["-m", "relay_cli", *args]
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *target],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    return proc, imported_modules(proc.stderr)


def command_modules(modules: set[str]) -> list[str]:
    """The modules of commands (those the registry names, not their helpers such as render) among ``modules``."""
    named = {
        f"relay_cli.commands.{entry.target.partition(':')[0]}" for entry in registry.walk() if entry.target is not None
    }
    return sorted(m.removeprefix("relay_cli.commands.") for m in modules & named)


def _check(proc: subprocess.CompletedProcess[str], modules: set[str], forbidden: tuple[str, ...]) -> None:
    errors = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("import time:"))
    assert proc.returncode == 0, f"exit {proc.returncode}; stderr:\n{errors}"
    # the parse found the CLI itself, so an empty result below is not a parsing accident
    assert "relay_cli" in modules, "no relay_cli import seen in the -X importtime output"
    leaked = sorted(top_level(modules) & set(forbidden))
    if leaked:
        detail = sorted(m for m in modules if m.split(".", 1)[0] in leaked)
        pytest.fail(f"imported {', '.join(leaked)} (modules: {', '.join(detail[:20])})")


def test_the_import_parser_sees_the_heavy_modules(tmp_path: Any) -> None:
    """A control: the same machinery reports the modules when they are imported."""
    proc, modules = run_importtime(tmp_path / "config", code="import relay_cli, httpx, rich, keyring, tomlkit, typer")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert top_level(modules) >= {"relay_cli", "typer", *HEAVY}


def test_version_imports_nothing_heavy(tmp_path: Any) -> None:
    proc, modules = run_importtime(tmp_path / "config", "--version")
    _check(proc, modules, HEAVY + ("typer",))
    # the version of the installed distribution (its metadata), not a copy of the code's own string
    assert proc.stdout == f"relay {importlib.metadata.version('relay-cli')}\n"


@pytest.mark.parametrize(
    "args",
    [["--help"], ["-h"], ["workflow", "--help"], ["workflow", "create", "-h"], ["profile", "--help"]],
    ids=" ".join,
)
def test_a_groups_help_imports_not_even_typer(tmp_path: Any, args: list[str]) -> None:
    """The groups' pages come from the registry alone: no Typer, no command module."""
    proc, modules = run_importtime(tmp_path / "config", *args)
    _check(proc, modules, HEAVY + ("typer",))
    assert proc.stdout.startswith(f"Usage: relay {' '.join(args[:-1])}{' ' if len(args) > 1 else ''}[OPTIONS] COMMAND")
    assert command_modules(modules) == []


def test_a_commands_help_imports_its_module_only(tmp_path: Any) -> None:
    proc, modules = run_importtime(tmp_path / "config", "workflow", "create", "call", "--help")
    _check(proc, modules, HEAVY)
    assert proc.stdout.startswith("Usage: relay workflow create call [OPTIONS]")
    assert command_modules(modules) == ["workflow.create"]


def test_dry_run_imports_no_http_client_rich_keyring_or_toml(tmp_path: Any) -> None:
    proc, modules = run_importtime(tmp_path / "config", *DRY_RUN)
    _check(proc, modules, HEAVY)
    body = json.loads(proc.stdout)
    assert body["name"] == "n"
    assert body["config"]["trigger"]["start"]["workflow"]["uri"] == "wss://h/p"
    assert body["config"]["trigger"]["on_incoming_call"] == ".*"
    assert command_modules(modules) == ["workflow.create"]  # only the module of the command that ran


def test_list_imports_no_other_command(tmp_path: Any) -> None:
    proc, modules = run_importtime(tmp_path / "config", "workflow", "list", "--help")
    _check(proc, modules, HEAVY)
    assert command_modules(modules) == ["workflow.list_cmd"]
