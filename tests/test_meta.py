"""``relay help [COMMAND...]``, ``relay version`` and ``relay update``: the reference CLI's commands about itself."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import re
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


GIT = "git+https://git.example.com/team/relay-cli.git@main"
UV_TOOL = {"uv-receipt.toml": '[tool]\nrequirements = [{ name = "relay-cli" }]\n', "pyvenv.cfg": "uv = 0.9.0\n"}
VENV = {"pyvenv.cfg": "home = /usr/bin\n"}
UV_VENV = {"pyvenv.cfg": "home = /usr/bin\nuv = 0.9.0\n"}
NO_RECORD = (
    "(its installation record does not say where it came from: git+REPOSITORY-URL stands for the URL of relay's "
    "repository, the one you would git clone)\n"
)

#: how relay was installed → (the marker files in its environment, pip there or not, where it came from: a kind
#: and a place, {clone} a git clone, None no record) → what `relay update` says on stderr and prints on stdout.
#: Never a bare `relay-cli` for pip: relay-cli is not on PyPI, and anyone could publish that name there
INSTALLS = {
    "uv tool": (UV_TOOL, False, ("vcs", GIT), "with uv tool install", "uv tool upgrade relay-cli"),
    "uv tool, no record": (
        UV_TOOL, False, None, "with uv tool install", "uv tool install --force git+REPOSITORY-URL",
    ),
    "pipx": ({"pipx_metadata.json": "{}"}, True, ("vcs", GIT), "with pipx", "pipx upgrade relay-cli"),
    "pipx from a clone": (
        {"pipx_metadata.json": "{}"}, True, ("directory", "{clone}"), "with pipx",
        "git -C '{clone}' pull && pipx upgrade relay-cli",
    ),
    "pipx, no record": ({"pipx_metadata.json": "{}"}, True, None, "with pipx", "pipx install --force git+REPOSITORY-URL"),
    "pip": (VENV, True, ("vcs", GIT), "with pip", f"{{py}} -m pip install --upgrade {GIT}"),
    "pip from a clone": (
        VENV, True, ("directory", "{clone}"), "with pip", "git -C '{clone}' pull && {py} -m pip install --upgrade '{clone}'"
    ),
    "pip from a wheel": (
        VENV, True, ("archive", "/tmp/relay_cli-1.0-py3-none-any.whl"), "with pip",
        "{py} -m pip install --upgrade /tmp/relay_cli-1.0-py3-none-any.whl",
    ),
    "pip, no record": (VENV, True, None, "with pip", "{py} -m pip install --upgrade git+REPOSITORY-URL"),
    "uv pip": (UV_VENV, False, ("vcs", GIT), "with uv pip", f"uv pip install --python {{py}} --upgrade {GIT}"),
    "uv pip, no record": (
        UV_VENV, False, None, "with uv pip", "uv pip install --python {py} --upgrade git+REPOSITORY-URL",
    ),
    "a venv without pip": (
        VENV, False, ("vcs", GIT), "in an environment without pip",
        f"{{py}} -m ensurepip --upgrade && {{py}} -m pip install --upgrade {GIT}",
    ),
    "a source checkout": (
        VENV, True, ("editable", "/src/relay cli"), "from a source checkout (/src/relay cli)",
        "git -C '/src/relay cli' pull",
    ),
}  # fmt: skip


@pytest.mark.parametrize("install", list(INSTALLS))
def test_update_names_the_command_for_the_installer_and_is_exit_0(
    run: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, install: str
) -> None:
    from relay_cli.commands import meta

    files, has_pip, source, how, command = INSTALLS[install]
    prefix = tmp_path / "env dir"
    prefix.mkdir()
    for name, text in files.items():
        (prefix / name).write_text(text)
    clone = tmp_path / "my clone"
    (clone / ".git").mkdir(parents=True)
    python = str(prefix / "bin" / "python3")
    monkeypatch.setattr(sys, "prefix", str(prefix))
    monkeypatch.setattr(sys, "executable", python)
    monkeypatch.setattr(meta, "_has_pip", lambda: has_pip)
    found = None if source is None else meta.Source(source[0], source[1].format(clone=clone))
    monkeypatch.setattr(meta, "installed_from", lambda: found)
    result = run("update")
    said = f"relay was installed {how}; to update it, run:\n"
    assert (result.code, result.err) == (0, said + (NO_RECORD if source is None else ""))
    assert result.out == command.format(py=f"'{python}'", clone=clone) + "\n"
    assert not re.search(r"install (--upgrade |--force )?relay-cli\b", result.out)  # from a package index


@pytest.mark.parametrize(
    ("record", "source"),
    [
        ({"url": "https://git.example.com/team/relay-cli.git", "vcs_info": {"vcs": "git", "commit_id": "0a1b",
          "requested_revision": "main"}}, ("vcs", GIT)),
        ({"url": "https://git.example.com/team/relay-cli.git", "vcs_info": {"vcs": "git", "commit_id": "0a1b"}},
         ("vcs", "git+https://git.example.com/team/relay-cli.git")),
        ({"url": "ssh://git@git.example.com/team/relay-cli.git", "vcs_info": {"vcs": "git", "commit_id": "0a1b"}},
         ("vcs", "git+ssh://git@git.example.com/team/relay-cli.git")),
        ({"url": "https://me:s3cret@git.example.com/r.git", "vcs_info": {"vcs": "git", "commit_id": "0a1b"}},
         ("vcs", "git+https://me@git.example.com/r.git")),  # a password is never printed
        ({"url": "file:///src/relay%20cli", "dir_info": {"editable": True}}, ("editable", "/src/relay cli")),
        ({"url": "file:///home/me/relay-cli", "dir_info": {}}, ("directory", "/home/me/relay-cli")),
        ({"url": "file:///tmp/relay_cli-1.0-py3-none-any.whl", "archive_info": {"hashes": {}}},
         ("archive", "/tmp/relay_cli-1.0-py3-none-any.whl")),
        ({"url": "https://files.example.com/relay_cli-1.0.tar.gz", "archive_info": {}},
         ("archive", "https://files.example.com/relay_cli-1.0.tar.gz")),
        ({}, None), ({"url": ""}, None), ({"url": "https://x", "other_info": {}}, None), ([], None),
    ],
)  # fmt: skip
def test_the_installation_record_says_where_relay_came_from(record: Any, source: Any) -> None:
    from relay_cli.commands import meta

    assert meta.source_of(record) == (None if source is None else meta.Source(*source))


def test_the_installation_record_is_read_with_importlib_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    from relay_cli.commands import meta

    class Installed:
        def __init__(self, text: str | None) -> None:
            self.text = text

        def read_text(self, name: str) -> str | None:
            assert name == "direct_url.json"
            return self.text

    record = {"url": "https://git.example.com/team/relay-cli.git", "vcs_info": {"vcs": "git", "commit_id": "0a1b"}}
    for text, source in [
        (json.dumps(record), meta.Source("vcs", "git+https://git.example.com/team/relay-cli.git")),
        (None, None),  # installed from a package index: no record
        ("{not json", None),
    ]:
        monkeypatch.setattr(importlib.metadata, "distribution", lambda name, text=text: Installed(text))
        assert meta.installed_from() == source


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
