"""Startup cost: the fast paths must not import the heavy dependencies.

Each command runs in a fresh interpreter under ``-X importtime``; the modules it imported are read back from
stderr. ``--version``, ``--help`` and ``workflow --help`` must not even import typer; other help pages and a
``--dry-run`` need typer, but no HTTP client, no rich, no keyring, no TOML writer. (Timings live in
benchmarks/, not here.)
"""

from __future__ import annotations

import gc
import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import typer

from relay_cli.app import build_app, subcommand_named
from relay_cli.commands import workflow

from conftest import API, SUB

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


def workflow_command_modules(modules: set[str]) -> list[str]:
    """The modules of ``relay workflow`` subcommands among ``modules`` (not their helpers, such as render)."""
    return sorted(
        {m.rsplit(".", 1)[1] for m in modules if m.startswith("relay_cli.commands.workflow.")}
        & set(workflow.COMMANDS.values())
    )


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


@pytest.mark.parametrize("args", [["--help"], ["workflow", "--help"]], ids=" ".join)
def test_help_imports_not_even_typer(tmp_path: Any, args: list[str]) -> None:
    """The two most read pages come from relay_cli.quickhelp (tests/test_quickhelp.py: the same text)."""
    proc, modules = run_importtime(tmp_path / "config", *args)
    _check(proc, modules, HEAVY + ("typer",))
    assert proc.stdout.startswith(f"Usage: relay {'workflow ' if 'workflow' in args else ''}[OPTIONS] COMMAND")
    assert "\n  list " in proc.stdout or "\n  workflow " in proc.stdout


def test_a_subcommands_help_imports_no_http_client_rich_keyring_or_toml(tmp_path: Any) -> None:
    proc, modules = run_importtime(tmp_path / "config", "workflow", "create", "--help")
    _check(proc, modules, HEAVY)
    assert proc.stdout.startswith("Usage: relay workflow create [OPTIONS] COMMAND")


def test_dry_run_imports_no_http_client_rich_keyring_or_toml(tmp_path: Any) -> None:
    proc, modules = run_importtime(tmp_path / "config", *DRY_RUN)
    _check(proc, modules, HEAVY)
    body = json.loads(proc.stdout)
    assert body["name"] == "n"
    assert body["config"]["trigger"]["start"]["workflow"]["uri"] == "wss://h/p"
    assert body["config"]["trigger"]["on_incoming_call"] == ".*"
    # only the workflow commands were built: no other command module was imported
    others = sorted(
        m
        for m in modules
        if m.startswith("relay_cli.commands.") and m.split(".")[2] not in ("workflow", "_common", "_resource")
    )
    assert others == []
    assert "relay_cli.commands.workflow.create" in modules
    # and of the workflow commands, only create's module
    assert workflow_command_modules(modules) == ["create"]


# --- building only the workflow subcommand a command line names --------------------------------------------


def test_the_workflow_command_table_matches_the_tree() -> None:
    group = typer.main.get_command(build_app()).commands["workflow"]  # type: ignore[attr-defined]
    assert list(group.commands) == list(workflow.COMMANDS)  # the table's order is the order --help lists
    for name, module in workflow.COMMANDS.items():  # each name is registered by the module the table says
        part = typer.main.get_command(build_app(only="workflow", sub=name)).commands["workflow"]  # type: ignore[attr-defined]
        assert name in part.commands, (name, module)


def test_a_partial_build_then_the_whole_tree_keeps_the_order(tmp_path: Any) -> None:
    """In one process (a test run, `relay help` after a command): the modules loaded first do not come first."""
    code = (
        "import typer\n"
        "from relay_cli.app import build_app\n"
        "for sub in ('logs', 'instance', 'list', 'diff'):\n"
        "    build_app(only='workflow', sub=sub)\n"
        "print(' '.join(typer.main.get_command(build_app()).commands['workflow'].commands))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == list(workflow.COMMANDS)


@pytest.mark.parametrize(
    ("args", "sub"),
    [
        (["workflow", "list", "--json"], "list"),
        (["-P", "qa", "workflow", "create", "call"], "create"),
        (["workflow", "--help"], None),
        (["workflow"], None),
        (["--help", "workflow", "list"], None),
        (["help", "workflow", "list"], None),
        (["nosuch", "list"], None),
    ],
)
def test_subcommand_named(args: list[str], sub: str | None) -> None:
    assert subcommand_named(args) == sub


def test_list_imports_no_other_workflow_command(tmp_path: Any) -> None:
    proc, modules = run_importtime(tmp_path / "config", "workflow", "list", "--help")
    _check(proc, modules, HEAVY)
    assert workflow_command_modules(modules) == ["listing"]


# --- a listing runs without the cyclic garbage collector, and turns it back on ---------------------------


@pytest.mark.parametrize("status", [200, 500])
def test_a_listing_pauses_the_garbage_collector(run: Any, status: int) -> None:
    seen: list[bool] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(gc.isenabled())
        return httpx.Response(status, json={"results": []})

    assert gc.isenabled()
    with respx.mock(base_url=API, assert_all_mocked=True) as mock:
        mock.get("/ibot/workflow").mock(side_effect=answer)
        result = run("workflow", "list", "-s", SUB, "--json")
    assert result.code == (0 if status == 200 else 1), result.err
    assert seen and not any(seen)  # off while the answer was fetched (and decoded, and printed)
    assert gc.isenabled()  # and on again after, also after a failure


def test_a_listing_leaves_a_paused_collector_paused(run: Any) -> None:
    gc.disable()
    try:
        with respx.mock(base_url=API, assert_all_mocked=True) as mock:
            mock.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": []}))
            assert run("workflow", "list", "-s", SUB, "--json").code == 0
        assert not gc.isenabled()
    finally:
        gc.enable()
