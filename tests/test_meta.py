"""``relay help [COMMAND...]``, ``relay version`` and ``relay update``: the reference CLI's commands about itself."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import sys
from typing import Any

import pytest

from relay_cli import __version__


@pytest.mark.parametrize("path", [[], ["workflow"], ["workflow", "create", "call"], ["analytics"], ["user", "list"]])
def test_help_prints_what_dash_dash_help_prints(run: Any, path: list[str]) -> None:
    expected = run(*path, "--help")
    result = run("help", *path)
    assert (result.code, result.err) == (0, "")
    assert result.out == expected.out
    assert result.out.startswith("Usage: relay " + " ".join(path))


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (["nope"], "error: relay has no command 'nope' (see `relay --help`)\n"),
        (["workflow", "nope"], "error: relay workflow has no command 'nope' (see `relay workflow --help`)\n"),
        (["devices", "x"], "error: relay devices has no command 'x' (see `relay devices --help`)\n"),
    ],
)
def test_help_of_an_unknown_command_is_exit_2_one_line(run: Any, path: list[str], line: str) -> None:
    result = run("help", *path)
    assert (result.code, result.out, result.err) == (2, "", line)


def test_version(run: Any) -> None:
    version = importlib.metadata.version("relay-cli")  # the installed distribution's, not the code's own string
    assert version == __version__
    assert run("version").out == f"relay {version}\n"
    assert run("-v").out == f"relay {version}\n"  # a lone -v, as in the reference CLI
    assert run("-V").out == run("--version").out == f"relay {version}\n"
    result = run("version", "--json")
    assert result.code == 0
    assert json.loads(result.out) == {"version": version, "python": platform.python_version(), "platform": sys.platform}


def test_update_names_the_command_that_updates_and_is_exit_2(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run("update")
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"error: relay is updated by the tool that installed it; run: {sys.executable} -m pip install --upgrade relay-cli\n"
    )
    monkeypatch.setattr(sys, "prefix", "/home/u/.local/share/pipx/venvs/relay-cli")
    assert run("update").err.endswith("run: pipx upgrade relay-cli\n")


def test_an_unknown_command_is_a_usage_error(run: Any) -> None:
    result = run("workflow", "nope")
    assert result.code == 2
    assert result.err == "error: No such command 'nope'. (see `relay workflow --help`)\n"
