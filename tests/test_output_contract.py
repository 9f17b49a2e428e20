"""The output contract, over the whole command tree: every command that shows data has --json, --json puts
nothing but JSON on stdout, and no escape code reaches stdout or stderr when stdout is not a terminal."""

from __future__ import annotations

import json
from typing import Any

import pytest

from relay_cli import app as relay_app

#: the commands without --json, and why: each shows no data, or data in a format of its own
WITHOUT_JSON = {
    "login": "messages only",
    "logout": "messages only",
    "help": "the help text, as --help",
    "update": "the upgrade command alone on stdout, for eval",
    "workflow export": "its output is a manifest (TOML); `workflow list --json` has the same workflows",
    "profile use": "messages only",
    "profile set": "messages only",
    "profile unset": "messages only",
    "profile add": "messages only",
    "profile remove": "messages only",
    "subscriber set": "messages only",
    "token generate": "the token alone, for $(...)",
    "api": "prints the API's answer as it came: its JSON, indented",
    "completion show": "a shell script",
    "completion install": "messages only",
}


def _tree() -> list[tuple[tuple[str, ...], Any]]:
    """Every command (not the groups) with its path."""
    return [(path, command) for path, command in relay_app.tree() if not isinstance(command, relay_app.RegistryGroup)]


def test_every_command_that_shows_data_has_json() -> None:
    without = {
        " ".join(path) for path, command in _tree()
        if "--json" not in {opt for param in command.params for opt in getattr(param, "opts", [])}
    }  # fmt: skip
    assert without - set(WITHOUT_JSON) == set(), "commands that show data need --json (or a reason in WITHOUT_JSON)"
    assert set(WITHOUT_JSON) - without == set(), "stale entries in WITHOUT_JSON"


@pytest.mark.parametrize("no_color", [False, True])
def test_no_escape_code_in_any_help_when_stdout_is_not_a_terminal(
    run: Any, monkeypatch: pytest.MonkeyPatch, no_color: bool
) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    paths = [(), *{path[:i] for path, _ in _tree() for i in range(1, len(path) + 1)}]
    for path in sorted(paths):
        result = run(*path, "--help")
        assert result.code == 0, (path, result.err)
        assert "\x1b" not in result.out + result.err, path


#: one run of each data command against the in-process sandbox, as a script would make it
DATA_RUNS = [
    ["workflow", "list"], ["workflow", "instance", "list", "-H"], ["workflow", "args", "list", "-w", "w1"],
    ["workflow", "args", "get", "-w", "w1", "greeting"], ["workflow", "export"],
    ["workflow", "check", "-w", "w1", "--warn-only"],
    ["devices"], ["group", "list"], ["venues"], ["geofence", "list"], ["tag", "list"], ["audio", "list"],
    ["user", "list"], ["user", "assignments"], ["analytics"], ["profile", "list"], ["profile", "show"],
    ["subscriber", "get"], ["subscriber", "list"], ["env"], ["version"],
    ["workflow", "create", "button", "-n", "w2", "-u", "wss://h/x", "-A", "--dry-run"],
    ["workflow", "delete", "-w", "w1", "--dry-run"], ["workflow", "delete", "-w", "w1", "--yes"],
    ["workflow", "args", "set", "-w", "w1", "-a", "x=1"], ["workflow", "install", "-w", "w1", "-A"],
]  # fmt: skip


@pytest.mark.parametrize("args", DATA_RUNS, ids=lambda a: " ".join(a[:3]))
def test_data_commands_plain_and_json(run: Any, monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    """Piped (not a terminal): no escape code on either stream; with --json (where the command has it), stdout is
    one JSON document and nothing else."""
    monkeypatch.delenv("RELAY_API_KEY")
    monkeypatch.setenv("RELAY_NO_CHECK", "1")
    create = ("-P", "local", "workflow", "create", "button", "-n", "w1", "-u", "wss://h/x", "-A", "-a", "greeting=hi")
    made = run(*create)
    assert made.code == 0, made.err
    plain = run("-P", "local", *args)
    assert plain.code == 0, (args, plain.err)
    assert "\x1b" not in plain.out + plain.err, args
    if " ".join(args[:2]) in WITHOUT_JSON:
        return
    if "--yes" in args:  # deleted above: again
        assert run(*create).code == 0
    as_json = run("-P", "local", *args, "--json")
    assert as_json.code == 0, (args, as_json.err)
    json.loads(as_json.out)  # the whole of stdout is one JSON document
    assert "\x1b" not in as_json.out + as_json.err, args
