"""Every flag of every command of the reference CLI (relaypro/relay-cli 1.10.2) exists on OUR same command,
long and short, and the short flag means the same long flag as in the reference.

The table below is the reference's flags command by command, read from its ``src/commands/**`` and
``src/lib/flags/*.ts`` (oclif 1.26: ``CliUx.ux.table.flags()`` for the table flags, ``enableJsonFlag`` for
``--json``, ``additionalHelpFlags: ["-h"]`` for ``-h``; ``allowNo`` adds ``--no-NAME``), hidden flags included.
Where two flags of a reference command share a letter, oclif's parser gives the letter to the first one
declared; the other has no working short flag, and the table says so.

Each command is checked on its own: a flag present on one command does not excuse its absence on another.
Where we differ on purpose or have not mirrored a flag yet, ``GAPS`` says so, command by command, and the test
requires GAPS to be exact: a new gap fails, and so does closing a gap without removing it from GAPS.
"""

from __future__ import annotations

from typing import Any

import pytest

SUB = ("subscriber-id:s",)
HELP = ("help:h",)
JSON = ("json",)
#: CliUx.ux.table.flags() of @oclif/core 1.26: only --extended has a short flag
TABLE = ("columns", "sort", "filter", "csv", "output", "extended:x", "no-truncate", "no-header")
#: lib/flags workflowFlags (dryRunFlags, installFlags, name, uri, transient with --no-transient, hidden,
#: the hidden absorb, arg, booleanValue, numberValue)
CREATE = (
    "dry-run:N", "install:i", "install-all:A", "install-group:G", "name:n", "uri:u", "transient:t", "no-transient",
    "hidden:e", "absorb", "arg:a", "boolean:b", "number:r",
)  # fmt: skip
INSTALL = ("dry-run:N", "install:i", "install-all:A", "install-group:G")
TRIGGER = ("trigger",)

#: command path -> its flags, "long:short" (or "long" when the reference has no working short flag for it)
REFERENCE: dict[str, tuple[str, ...]] = {
    "api": (*SUB, "cache", "header:H", "include:i", "no-include", "input", "method:X"),
    "analytics": (
        *SUB,
        "workflow-id:w",
        "workflow-instance-id:i",
        "user-id:u",
        "type:t",
        "parse:p",
        "limit:l",
        *TABLE,
        *JSON,
    ),
    "audio create": (*SUB, "name:n", "file:f"),
    "audio delete": (*SUB, "id:i"),
    "audio list": (*SUB, *TABLE),
    "devices": SUB,
    "env": ("process:P", *JSON),
    "geofence create": (*SUB, "dry-run:N", "name:n", "address:a", "longitude:g", "latitude:t", "radius:r"),
    "geofence delete": (*SUB, "id:i"),
    "geofence list": (*SUB, *TABLE, *JSON),
    "group list": (*SUB, *TABLE, *JSON),
    "help": ("nested-commands:n",),
    "login": (),
    "logout": (),
    "positions": (*SUB, "venue-id:v", "placeholders:p", "no-placeholders", *TABLE, *JSON),
    "subscriber get": (),
    "subscriber list": ("name:n", "email:e", "all:a", "no-all", "size:s"),
    "subscriber set": ("subscriber-id:s", "name:n", "email:e"),
    "tag create": (*SUB, "type:t", "category:c", "label:l", "arg:a"),
    "tag delete": (*SUB, "tag-id:t"),
    "tag list": (*SUB, *TABLE, "type:t", "category:c", *JSON),
    "tag update": (*SUB, "tag-id:t", "type", "category:c", "label:l", "arg:a"),  # -t: --tag-id, declared first
    "token generate": ("jwt:l",),
    "update": ("available:a", "interactive:i", "version:v", "force"),
    "user assignments": (*SUB, "oldest", "latest", "cursor", "limit", "id:i", "timestamp-format:f", *TABLE, *JSON),
    "user list": (*SUB, *TABLE, *JSON),
    "venues": (*SUB, *TABLE, *JSON),
    "version": ("verbose", *JSON),
    "whoami": JSON,
    "workflow args get": ("workflow-id:w", *SUB),
    "workflow args list": ("workflow-id:w", *SUB),
    "workflow args set": ("workflow-id:w", "arg:a", "boolean:b", "number:r", *SUB),
    "workflow args unset": ("workflow-id:w", *SUB),
    "workflow create battery": (*SUB, *CREATE, *TRIGGER, "threshold"),
    "workflow create button": (*SUB, *CREATE, *TRIGGER),
    "workflow create call": (*SUB, *CREATE, *TRIGGER),
    "workflow create event": (*SUB, *CREATE, *TRIGGER),
    "workflow create geofence": (*SUB, *CREATE, *TRIGGER, "id"),
    "workflow create http": (*SUB, *CREATE, *TRIGGER),
    # -t: --transient, declared before the nfc --type
    "workflow create nfc": (*SUB, *CREATE, "matcher:m", "type", "category:c", "label:l"),
    "workflow create phrase": (*SUB, *CREATE, *TRIGGER),
    "workflow create position": (*SUB, *CREATE, *TRIGGER, "venue_id:v", "position_id:p"),
    # -s: --subscriber-id, declared before the timer --start
    "workflow create timer": (
        *SUB,
        *CREATE,
        *TRIGGER,
        "timezone:z",
        "start",
        "until:l",
        "count:c",
        "frequency:f",
        "interval:I",
        "day:d",
    ),
    "workflow delete": ("workflow-id:w", *SUB),
    "workflow install": ("workflow-id:w", *SUB, *INSTALL),
    "workflow instance list": (*SUB, "include-history:H", *TABLE, *JSON),
    "workflow instance stop": (
        *SUB,
        "instance-id:i",
        "workflow-id:w",
        "wait:W",
        "no-wait",
        "dry-run:N",
        "confirm:C",
        "no-confirm",
    ),
    "workflow list": (*SUB, *TABLE, *JSON),
    "workflow logs": (*SUB, "workflow-id:w", "user-id:u"),
    "workflow trigger": ("workflow-id:w", "user-id:u", *SUB, "arg:a", "boolean:b", "number:r"),
    "workflow uninstall": ("workflow-id:w", *SUB, *INSTALL),
}

#: reference commands we do not have at all (integrations and internal tools of the reference)
NOT_MIRRORED = (
    "alice ticketer start", "alice webhook start", "alice webhook stop", "broadcast", "debug", "hotsos start",
    "hotsos stop", "reset", "task delete", "task groups create", "task groups delete", "task groups list", "task list",
    "task start", "task types create", "task types delete", "task types dump", "task types fetch",
    "task types list majors", "task types list minors", "task types list types", "task types update major",
    "task types update minor",
)  # fmt: skip
#: reference commands another change is bringing (checked as soon as relay has them)
COMING: dict[str, tuple[str, ...]] = {"workflow dev": ()}

#: command path -> {flag: why it is missing}: the differences we know of, each with its reason
GAPS: dict[str, dict[str, str]] = {
    # `relay update` names the pip/pipx command that upgrades relay instead of replacing the program itself
    # (README, "Where relay differs"): it has nothing to select or force
    "update": dict.fromkeys(("--available", "-a", "--interactive", "-i", "--version", "-v", "--force"), "on purpose"),
    # the reference parses --cache and caches nothing; relay api has no cache either, so it does not take the flag
    "api": {"--cache": "on purpose"},
    # not mirrored yet
    "env": {"-P": "not mirrored: -P is --profile everywhere else in relay"},
    "help": {"--nested-commands": "not mirrored", "-n": "not mirrored"},
    "version": {"--verbose": "not mirrored"},
    "positions": {
        "--placeholders": "not mirrored (hidden)",
        "-p": "not mirrored (hidden)",
        "--no-placeholders": "not mirrored (hidden)",
    },
    "subscriber list": dict.fromkeys(
        ("--name", "-n", "--email", "-e", "--all", "-a", "--no-all", "--size", "-s"), "not mirrored (hidden command)"
    ),
    "subscriber set": dict.fromkeys(("--name", "-n", "--email", "-e"), "not mirrored (hidden)"),
    "token generate": {"--jwt": "not mirrored (hidden)", "-l": "not mirrored (hidden)"},
    "user assignments": {"--timestamp-format": "not mirrored (hidden command)", "-f": "not mirrored (hidden command)"},
    # `relay tag`: -t is --tag-id in every tag command (README, "Where relay differs"; tests/test_short_flags.py)
    "tag create": {"-t": "on purpose: -t is --tag-id in relay tag; --type has no short flag"},
    "tag list": {"-t": "on purpose: -t is --tag-id in relay tag; --type has no short flag"},
}


def _our_commands() -> dict[str, dict[str, Any]]:
    """Every command of ours: its path -> {"--flag" or "-f": the click parameter it belongs to}."""
    import typer

    from relay_cli.app import GlobalOption, root_command

    root = root_command()
    found: dict[str, dict[str, Any]] = {}

    def walk(cmd: Any, ctx: Any, path: str) -> None:
        flags: dict[str, Any] = {}
        for param in cmd.get_params(ctx):
            # -P, -v and --timeout of every command are relay's global options, as the reference's global flags
            # are: what is compared is each command's own flags
            if param.param_type_name == "option" and not isinstance(param, GlobalOption):
                for opt in (*param.opts, *param.secondary_opts):
                    flags[opt] = param
        found[path] = flags
        for name in getattr(cmd, "list_commands", lambda _ctx: [])(ctx):
            sub = cmd.get_command(ctx, name)
            walk(
                sub,
                typer.Context(sub, info_name=name, parent=ctx, **(sub.context_settings or {})),
                f"{path} {name}".strip(),
            )

    walk(root, typer.Context(root, info_name="relay", **(root.context_settings or {})), "")
    return found


OURS = _our_commands()


def missing(path: str, spec: tuple[str, ...], ours: dict[str, Any]) -> dict[str, str]:
    """The reference flags of ``path`` that our same command lacks or gives another meaning."""
    problems: dict[str, str] = {}
    for entry in (*spec, *HELP):
        long_name, _, short = entry.partition(":")
        long_flag = f"--{long_name}"
        if long_flag not in ours:
            problems[long_flag] = "missing"
        if short:
            short_flag = f"-{short}"
            if short_flag not in ours:
                problems[short_flag] = "missing"
            elif long_flag in ours and ours[short_flag] is not ours[long_flag]:
                problems[short_flag] = f"means {ours[short_flag].opts[0]}, not {long_flag}"
    return problems


@pytest.mark.parametrize("path", sorted(REFERENCE) + sorted(COMING))
def test_every_reference_flag_is_on_our_same_command(path: str) -> None:
    if path in COMING and path not in OURS:
        pytest.skip(f"relay {path} is not there yet")
    assert path in OURS, f"relay {path}: the reference has this command, we do not"
    problems = missing(path, {**REFERENCE, **COMING}[path], OURS[path])
    known = dict.fromkeys(GAPS.get(path, {}), "known")
    assert dict.fromkeys(problems, "known") == known, (
        f"relay {path}: {', '.join(f'{f} {why}' for f, why in sorted(problems.items()) if f not in known) or 'no new gap'}; "
        f"closed gaps still listed in GAPS: {sorted(set(known) - set(problems)) or 'none'}"
    )


def test_the_tables_are_consistent() -> None:
    assert set(GAPS) <= set(REFERENCE) | set(COMING)
    assert not set(NOT_MIRRORED) & (set(REFERENCE) | set(COMING))
    for path in NOT_MIRRORED:
        assert path not in OURS, f"relay {path} exists now: move it into REFERENCE with the reference's flags"


def test_the_check_sees_a_flag_missing_from_one_command_only() -> None:
    """The control: -w removed from `workflow args get` alone is found, though every other command has it."""
    ours = dict(OURS["workflow args get"])
    del ours["-w"]
    assert missing("workflow args get", REFERENCE["workflow args get"], ours) == {"-w": "missing"}
    ours = dict(OURS["workflow create timer"])
    ours["-c"] = ours["--until"]  # a short flag that means another long one
    assert missing("workflow create timer", REFERENCE["workflow create timer"], ours) == {
        "-c": "means --until, not --count"
    }
