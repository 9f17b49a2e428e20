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


#: how relay was installed → (the marker files in its environment, pip there or not, the checkout of an editable
#: install) → what `relay update` says on stderr and prints on stdout
INSTALLS = {
    "uv tool": (
        {"uv-receipt.toml": "[tool]\nrequirements = [{ name = \"relay-cli\" }]\n", "pyvenv.cfg": "uv = 0.9.0\n"},
        False, None, "with uv tool install", "uv tool upgrade relay-cli",
    ),
    "pipx": ({"pipx_metadata.json": "{}"}, True, None, "with pipx", "pipx upgrade relay-cli"),
    "pip in a venv": (
        {"pyvenv.cfg": "home = /usr/bin\n"}, True, None, "with pip", "{py} -m pip install --upgrade relay-cli",
    ),
    "uv pip in a venv without pip": (
        {"pyvenv.cfg": "home = /usr/bin\nuv = 0.9.0\n"}, False, None, "with uv pip",
        "uv pip install --python {py} --upgrade relay-cli",
    ),
    "a venv without pip": (
        {"pyvenv.cfg": "home = /usr/bin\n"}, False, None, "in an environment without pip",
        "{py} -m ensurepip --upgrade && {py} -m pip install --upgrade relay-cli",
    ),
    "a source checkout": (
        {"pyvenv.cfg": "home = /usr/bin\n"}, True, "/src/relay cli", "from a source checkout (/src/relay cli)",
        "git -C '/src/relay cli' pull",
    ),
}  # fmt: skip


@pytest.mark.parametrize("install", list(INSTALLS))
def test_update_names_the_command_for_the_installer_and_is_exit_0(
    run: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, install: str
) -> None:
    from relay_cli.commands import meta

    files, has_pip, checkout, how, command = INSTALLS[install]
    prefix = tmp_path / "env dir"
    prefix.mkdir()
    for name, text in files.items():
        (prefix / name).write_text(text)
    python = str(prefix / "bin" / "python3")
    monkeypatch.setattr(sys, "prefix", str(prefix))
    monkeypatch.setattr(sys, "executable", python)
    monkeypatch.setattr(meta, "_has_pip", lambda: has_pip)
    monkeypatch.setattr(meta, "_source_checkout", lambda: checkout)
    result = run("update")
    assert (result.code, result.err) == (0, f"relay was installed {how}; to update it, run:\n")
    assert result.out == command.format(py=f"'{python}'") + "\n"


def test_update_reads_the_installation_record(run: Any) -> None:
    """Run from an editable install of this checkout (as the tests are set up): `relay update` names it."""
    record = importlib.metadata.distribution("relay-cli").read_text("direct_url.json") or "{}"
    if not json.loads(record).get("dir_info", {}).get("editable"):
        pytest.skip("relay is not installed in editable mode here")
    result = run("update")
    assert result.code == 0 and "error" not in result.err
    assert result.out.startswith("git -C ") and result.out.endswith(" pull\n")


def test_an_unknown_command_is_a_usage_error(run: Any) -> None:
    result = run("workflow", "nope")
    assert result.code == 2
    assert result.err == "error: No such command 'nope'. (see `relay workflow --help`)\n"
