"""The table of triggers (relay_cli/core/triggers/table.py) is the one place a trigger is defined.

Every test here runs over every trigger of the table, so a trigger added there is held to all of it with no
test edited: its examples run and survive export and apply unchanged; `create <name> --help` lists exactly its
options, with their help, value, default and required mark, and the manifest takes exactly their names as keys;
a default is the same on the command line and in a manifest; a bad choice and a missing required value are
refused alike, naming the flag or the key; shell completion offers each option's values. The exact payloads
of every trigger (the wire fixtures) are in tests/test_create.py.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer

from relay_cli.core import manifest as mf, triggers
from relay_cli.core.triggers import TRIGGERS, Option, Trigger
from relay_cli.errors import UsageError

from conftest import SUB

ROOT = Path(__file__).resolve().parent.parent
URI = "wss://h.example.com/p"
BAD = "not-a-choice"

EXAMPLES = [pytest.param(t, example, id=f"{t.name}-{i}") for t in TRIGGERS for i, example in enumerate(t.examples)]
EACH = [pytest.param(t, id=t.name) for t in TRIGGERS]
CHOICES = [pytest.param(t, o, id=f"{t.name}-{o.name}") for t in TRIGGERS for o in t.options if o.choices]
REQUIRED = [pytest.param(t, o, id=f"{t.name}-{o.name}") for t in TRIGGERS for o in t.options if o.required]


def sample(option: Option) -> tuple[str, Any]:
    """A value for a required option: as given on the command line, and as a manifest holds it."""
    if option.kind == "integer":
        return "7", 7
    if option.kind == "time":
        return "2030-01-01T09:00:00", "2030-01-01T09:00:00"
    if option.kind == "pairs":
        return "k=v", {"k": "v"}
    return ("hello world", ["hello world"]) if option.repeatable else ("X1", "X1")


def minimal_argv(trigger: Trigger, *skip: str) -> list[str]:
    """`create <name>` with only its required options, and the common ones a dry run needs."""
    argv = ["workflow", "create", trigger.name, "--name", "w", "--uri", URI, "-s", SUB, "--dry-run", "--json"]
    for option in trigger.options:
        if option.required and option.name not in skip:
            argv += [option.flag, sample(option)[0]]
    return argv


def minimal_entry(trigger: Trigger, *skip: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": trigger.name, "uri": URI}
    for option in trigger.options:
        if option.required and option.name not in skip:
            entry[option.name] = sample(option)[1]
    return entry


def create_command(name: str) -> tuple[Any, typer.Context]:
    """The click command of `relay workflow create <name>` and a context for it."""
    from relay_cli.app import root_command

    root = root_command()
    ctx = typer.Context(root, info_name="relay")
    for part in ("workflow", "create", name):
        cmd = ctx.command.get_command(ctx, part)  # type: ignore[attr-defined]
        ctx = typer.Context(cmd, info_name=part, parent=ctx)
    return ctx.command, ctx


_FLAG = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*")


def options_in_help(text: str) -> dict[frozenset[str], str]:
    """The option lines of a --help: the set of an option's flags → its whole entry, whitespace collapsed."""
    entries: dict[frozenset[str], str] = {}
    flags: frozenset[str] | None = None
    for line in text.split("\nOptions:\n", 1)[1].splitlines():
        if line and not line.startswith(" "):  # the next section (the global options)
            break
        if line.startswith("  -"):
            head = line[2:].split("  ")[0]
            flags = frozenset(_FLAG.findall(head))
            entries[flags] = line.strip()
        elif flags is not None and line.startswith("    "):
            entries[flags] += " " + line.strip()
        else:
            flags = None
    return {flags: " ".join(entry.split()) for flags, entry in entries.items()}


# --- the examples: create, export, apply ------------------------------------------------------------


@pytest.mark.parametrize(("trigger", "example"), EXAMPLES)
def test_every_example_runs_and_survives_export_and_apply(run: Any, trigger: Trigger, example: str) -> None:
    argv = shlex.split(example)
    assert argv[:4] == ["relay", "workflow", "create", trigger.name]
    result = run(*argv[1:], "-s", SUB, "--dry-run", "--json")
    assert result.code == 0, result.err
    body = json.loads(result.out)
    payload = {key: value for key, value in body["config"]["trigger"].items() if key != "start"}
    (key,) = payload
    assert key in trigger.keys and triggers.BY_KEY[key] is trigger
    assert triggers.describe(payload) == trigger.describe(key, payload[key])

    stored = {"workflow_id": "wf_1", **body}
    exported = mf.export([stored])
    assert (exported.left_out, exported.raw) == ([], [])
    table = tomllib.loads(exported.text)["workflow"][body["name"]]
    assert table["type"] == trigger.name
    assert set(table) - set(mf.COMMON_KEYS) <= {option.name for option in trigger.options}
    for option in trigger.options:
        if set(option.flags) & set(argv):  # what the command line says, the manifest says
            assert option.name in table, f"export left out {option.name}, given as {option.flag}"
        if not option.export_default:
            assert table.get(option.name) != option.default, f"export wrote the default {option.name}"
    assert mf.parse_entry(body["name"], table).body == body


def test_export_writes_what_was_said_and_a_hidden_default_only_when_it_differs(run: Any) -> None:
    commands = [
        ["nfc", "--type", "user_profile", "-m", "serial=123", "-m", "k=a=b", "-c", "tasks", "--name", "tag"],
        ["timer", "--trigger", "repeat", "--start", "2030-01-01T09:00", "-z", "UTC", "-c", "3", "-f", "weekly", "-I", "2", "--name", "t"],
        ["call", "--trigger", "outbound", "--name", "out"],
        ["battery", "--threshold", "25", "--name", "low"],
        ["nfc", "--type", "custom", "--name", "any"],
        ["timer", "--trigger", "repeat", "--start", "2030-01-01T09:00", "-z", "UTC", "-l", "2030-02-01", "-f", "daily", "-I", "1", "--name", "d"],
    ]  # fmt: skip
    bodies = []
    for argv in commands:
        result = run("workflow", "create", *argv, "--uri", URI, "-i", "d1", "-s", SUB, "--dry-run", "--json")
        assert result.code == 0, result.err
        bodies.append({"workflow_id": f"wf_{len(bodies)}", **json.loads(result.out)})
    exported = mf.export(bodies)
    assert (exported.left_out, exported.raw) == ([], [])
    text = exported.text
    tail = f'uri = "{URI}"\ninstall = ["d1"]\n'
    assert text == (
        '[workflow.tag]\ntype = "nfc"\nnfc_type = "user_profile"\ncategory = "tasks"\n'
        + tail
        + '\n[workflow.tag.matchers]\nserial = "123"\nk = "a=b"\n'
        + '\n[workflow.t]\ntype = "timer"\ntrigger = "repeat"\nstart = "2030-01-01T09:00:00"\ntimezone = "UTC"\n'
        + 'frequency = "weekly"\ninterval = 2\ncount = 3\n'
        + tail
        + '\n[workflow.out]\ntype = "call"\ntrigger = "outbound"\n'
        + tail
        + '\n[workflow.low]\ntype = "battery"\ntrigger = "discharge"\nthreshold = 25\n'
        + tail
        + '\n[workflow.any]\ntype = "nfc"\n'
        + tail
        + '\n[workflow.d]\ntype = "timer"\ntrigger = "repeat"\nstart = "2030-01-01T09:00:00"\ntimezone = "UTC"\n'
        + 'until = "2030-02-01T00:00:00"\n'
        + tail
    )
    again = mf.parse(tomllib.loads(text))
    assert [e.body for e in again.entries] == [{k: v for k, v in b.items() if k != "workflow_id"} for b in bodies]


def test_every_trigger_has_an_example_and_every_example_is_its_own() -> None:
    for trigger in TRIGGERS:
        assert trigger.examples, f"{trigger.name}: declare at least one example"
    assert len({t.name for t in TRIGGERS}) == len(TRIGGERS)
    assert len(triggers.BY_KEY) == sum(len(t.keys) for t in TRIGGERS), "an on_* key belongs to one trigger"


# --- the command ----------------------------------------------------------------------------------------


def test_create_help_lists_exactly_each_triggers_options(run: Any) -> None:
    """Command by command: its own options are the declared ones, each with its help, value, default or
    [required]; hidden ones are not shown; the rest is the same common set on every command."""
    common: set[frozenset[str]] | None = None
    for trigger in TRIGGERS:
        result = run("workflow", "create", trigger.name, "--help")
        assert result.code == 0, result.err
        shown = options_in_help(result.out)
        for option in trigger.options:
            if option.hidden:
                assert not set(option.flags) & set(_FLAG.findall(result.out)), f"{trigger.name} {option.flag} is hidden"
                continue
            entry = shown.get(frozenset(option.flags))
            assert entry is not None, f"create {trigger.name} --help has no line for {', '.join(option.flags)}"
            assert " ".join(option.shown_help().split()) in entry
            if option.choices:
                assert f"One of: {', '.join(option.choices)}." in entry
            if option.shown_metavar():
                assert f" {option.shown_metavar()} " in entry or f" {option.shown_metavar()}[" in entry
            if option.required:
                assert "[required]" in entry
            elif option.default is not None:
                assert f"[default: {option.default}]" in entry
            else:
                assert "[default" not in entry and "[required]" not in entry
        rest = set(shown) - {frozenset(o.flags) for o in trigger.options}
        if trigger.preflight:
            assert frozenset({"--strict"}) in rest
            rest -= {frozenset({"--strict"})}
        assert common is None or rest == common, f"create {trigger.name}: {sorted(map(sorted, rest ^ common))}"
        common = rest
    assert common and frozenset({"-n", "--name"}) in common and frozenset({"-u", "--uri"}) in common
    assert {frozenset({"--no-check"}), frozenset({"--unique"})} <= common  # every create looks its name up


@pytest.mark.parametrize("trigger", EACH)
def test_no_flag_is_taken_twice_and_no_option_shadows_a_common_key(trigger: Trigger) -> None:
    cmd, _ = create_command(trigger.name)
    flags = [flag for param in cmd.params for flag in (*param.opts, *param.secondary_opts)]
    assert len(flags) == len(set(flags)), sorted(f for f in flags if flags.count(f) > 1)
    names = [option.name for option in trigger.options]
    assert len(names) == len(set(names))
    assert not set(names) & set(mf.COMMON_KEYS)


@pytest.mark.parametrize("trigger", EACH)
def test_shell_completion_offers_each_options_values(trigger: Trigger) -> None:
    cmd, ctx = create_command(trigger.name)
    params = {param.name: param for param in cmd.params}
    for option in trigger.options:
        offered = [item.value for item in params[option.name].shell_complete(ctx, "")]
        assert offered == list(option.suggestions()), f"create {trigger.name} {option.flag}"
        if option.suggestions():
            first = option.suggestions()[0]
            assert first in [item.value for item in params[option.name].shell_complete(ctx, first)]
            assert [item.value for item in params[option.name].shell_complete(ctx, "\x00")] == []


# --- the manifest ---------------------------------------------------------------------------------------


def test_the_manifest_types_and_keys_are_the_triggers_and_their_options() -> None:
    assert tuple(t.name for t in TRIGGERS) == mf.TYPES
    assert {t.name: tuple(o.name for o in t.options) for t in TRIGGERS} == mf.TYPE_KEYS


@pytest.mark.parametrize("trigger", EACH)
def test_a_key_of_another_type_is_refused_naming_its_type(trigger: Trigger) -> None:
    own = {option.name for option in trigger.options}
    for other in TRIGGERS:
        for option in other.options:
            if option.name in own:
                continue
            entry = {**minimal_entry(trigger), option.name: "x"}
            with pytest.raises(UsageError) as caught:
                mf.parse({"workflow": {"w": entry}})
            owners = " or ".join(t.name for t in TRIGGERS if option.name in {o.name for o in t.options})
            assert caught.value.message.startswith(
                f"relay.toml: workflow.w.{option.name}: applies to type {owners}, not {trigger.name}; expected one of "
            )


# --- the command and the manifest agree -------------------------------------------------------------------


@pytest.mark.parametrize("trigger", EACH)
def test_the_defaults_are_the_same_on_the_command_line_and_in_a_manifest(run: Any, trigger: Trigger) -> None:
    result = run(*minimal_argv(trigger))
    assert result.code == 0, result.err
    assert mf.parse({"workflow": {"w": minimal_entry(trigger)}}).entries[0].body == json.loads(result.out)


@pytest.mark.parametrize(("trigger", "option"), CHOICES)
def test_a_value_outside_the_choices_is_refused_alike(run: Any, trigger: Trigger, option: Option) -> None:
    expected = f"expected one of {', '.join(option.choices)}, got {BAD!r}"
    result = run(*minimal_argv(trigger), option.flag, BAD)
    assert (result.code, result.out) == (2, "")
    assert result.err.splitlines()[0] == f"error: {option.flag}: {expected}"
    with pytest.raises(UsageError) as caught:
        mf.parse({"workflow": {"w": {**minimal_entry(trigger), option.name: BAD}}})
    assert caught.value.message == f"relay.toml: workflow.w.{option.name}: {expected}"


@pytest.mark.parametrize(("trigger", "option"), REQUIRED)
def test_a_missing_required_value_is_refused_alike(run: Any, trigger: Trigger, option: Option) -> None:
    result = run(*minimal_argv(trigger, option.name))
    assert (result.code, result.out) == (2, "")
    assert f"Missing option '{option.flag}'" in result.err
    with pytest.raises(UsageError) as caught:
        mf.parse({"workflow": {"w": minimal_entry(trigger, option.name)}})
    assert caught.value.message == f"relay.toml: workflow.w.{option.name}: {option.missing_message}"


def test_build_refuses_an_option_the_trigger_does_not_have() -> None:
    with pytest.raises(TypeError, match="trigger call has no option threshold"):
        triggers.BY_NAME["call"].build({"trigger": "inbound", "threshold": 5})


# --- the docs -------------------------------------------------------------------------------------------


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("relay_generate", ROOT / "scripts" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_table_of_manifest_keys_is_the_table_of_triggers() -> None:
    gen = _generator()
    assert (ROOT / "README.md").read_text(encoding="utf-8") == gen.readme(), (
        "README.md is stale: run `python scripts/generate.py`"
    )
    rows = {line.split(" | ")[0].strip("| `"): line for line in gen.manifest_keys_md().splitlines()[2:]}
    assert list(rows) == [t.name for t in TRIGGERS]
    for trigger in TRIGGERS:
        named = re.findall(r"`(\w+)` ", rows[trigger.name].split(" | ", 1)[1])
        assert named == [o.name for o in trigger.options if not o.hidden]


# --- the START event of each trigger (what the simulator and the sandbox send) ---------------------------------

#: trigger → (details, the START's trigger without source_uri): the SDKs' types (@relaypro/sdk StartEvent) where
#: they say, docs/sandbox.md's choices where they do not
STARTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "call": ({}, {"type": "telephony", "args": {}}),
    "button": ({"taps": "double"}, {"type": "button", "args": {"action": "action_button_double_tap"}}),
    "phrase": (
        {"phrase": "call bob", "spillover": "now"},
        {"type": "phrase", "args": {"phrase": "call bob", "spillover": "now"}},
    ),
    "event": ({}, {"type": "emergency", "args": {}}),
    "battery": ({}, {"type": "other", "args": {}}),
    "http": ({"http_args": {"k": "v"}}, {"type": "http", "args": {"args": {"k": "v"}}}),
    "nfc": (
        {"nfc_uid": "04a1", "nfc_payload": {"type": "custom", "label": "Room 12"}},
        {"type": "nfc", "args": {"uid": "04a1", "nfc_payload": {"type": "custom", "label": "Room 12"}}},
    ),
    "geofence": ({}, {"type": "geofence", "args": {}}),
    "position": ({}, {"type": "other", "args": {}}),
    "timer": ({}, {"type": "calendar", "args": {}}),
}


def test_every_trigger_declares_its_start_event() -> None:
    assert set(STARTS) == set(triggers.BY_NAME)
    for name, (details, start) in STARTS.items():
        assert triggers.start_trigger(name, details) == start, name
    # defaults: a single tap, a phrase with no spillover, the call type the simulator's option overrides
    assert triggers.start_trigger("button")["args"] == {"action": "action_button_single_tap"}
    assert triggers.start_trigger("button", {"taps": "long"})["args"] == {"action": "action_button_long_press"}
    assert triggers.start_trigger("call", {"call_trigger_type": "call"}) == {"type": "call", "args": {}}
    assert triggers.start_trigger("phrase", {"phrase": "hi"})["args"] == {"phrase": "hi", "spillover": ""}
