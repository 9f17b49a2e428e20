"""A short flag means one thing across the whole command tree, except where the reference CLI (relaypro/relay-cli
1.10.2) gives it another meaning on a command we mirror: those exceptions are listed here with their source, and
in the README's "differs on purpose" list where we chose between two reference meanings (and `relay api`'s -f,
which follows `gh api`, its model). And every command that writes to the Relay API takes --dry-run."""

from __future__ import annotations

from typing import Any

#: what each short flag means (its long option), everywhere not listed in REFERENCE_EXCEPTIONS
CANONICAL = {
    "-A": "--install-all",
    "-C": "--confirm",
    "-F": "--field",  # relay api's typed field (gh api's -F)  # the reference's `workflow instance stop -C/--confirm` (our --yes)
    "-G": "--install-group",
    "-H": "--include-history",
    "-I": "--interval",
    "-N": "--dry-run",
    "-P": "--profile",
    "-V": "--version",
    "-W": "--wait",  # the reference's `workflow instance stop -W/--wait`
    "-X": "--method",  # the reference's `api -X/--method`
    "-a": "--arg",
    "-b": "--boolean",
    "-c": "--category",
    "-d": "--day",
    "-e": "--hidden",
    "-f": "--file",
    "-g": "--longitude",
    "-i": "--install",
    "-j": "--jobs",
    "-l": "--limit",
    "-m": "--matcher",
    "-n": "--name",
    "-o": "--output",
    "-p": "--parse",
    "-r": "--number",
    "-s": "--subscriber-id",
    "-t": "--transient",
    "-u": "--uri",
    "-v": "--verbose",
    "-w": "--workflow-id",
    "-x": "--extended",
    "-y": "--yes",
    "-z": "--timezone",
}

#: (command, short flag, its long option there): where the reference CLI gives a short flag another meaning. Each
#: is kept so that command lines written for the reference work unchanged. The source is in relaypro/relay-cli.
REFERENCE_EXCEPTIONS = {
    ("relay geofence create", "-a", "--address"): "src/commands/geofence/create.ts",
    ("relay geofence create", "-r", "--radius"): "src/commands/geofence/create.ts",
    ("relay geofence create", "-t", "--latitude"): "src/commands/geofence/create.ts",
    ("relay geofence delete", "-i", "--id"): "src/commands/geofence/delete.ts",
    ("relay audio delete", "-i", "--id"): "src/commands/audio/delete.ts",
    ("relay user assignments", "-i", "--id"): "src/commands/user/assignments.ts",
    ("relay workflow instance stop", "-i", "--instance-id"): "src/lib/flags/index.ts (workflowInstanceFlags)",
    ("relay analytics", "-i", "--workflow-instance-id"): "src/commands/analytics.ts",
    ("relay analytics", "-t", "--type"): "src/commands/analytics.ts",
    ("relay analytics", "-u", "--user-id"): "src/commands/analytics.ts",
    ("relay workflow logs", "-u", "--user-id"): "src/commands/workflow/logs.ts",
    ("relay workflow trigger", "-u", "--user-id"): "src/commands/workflow/trigger.ts",
    ("relay tag create", "-l", "--label"): "src/lib/flags/index.ts (tagFlags)",
    ("relay tag update", "-l", "--label"): "src/lib/flags/index.ts (tagFlags)",
    ("relay workflow create nfc", "-l", "--label"): "src/commands/workflow/create/nfc.ts",
    # `relay tag`: -t is --tag-id (the reference's visible, required flag of update and delete; on update the
    # reference's hidden --type also has -t, but -t resolves to --tag-id there). --type has no short flag.
    ("relay tag update", "-t", "--tag-id"): "src/commands/tag/update.ts",
    ("relay tag delete", "-t", "--tag-id"): "src/commands/tag/delete.ts",
    ("relay workflow create timer", "-c", "--count"): "src/lib/flags/timer.ts",
    ("relay workflow create timer", "-f", "--frequency"): "src/lib/flags/timer.ts",
    ("relay workflow create timer", "-l", "--until"): "src/lib/flags/timer.ts",
    ("relay workflow create position", "-p", "--position-id"): "src/commands/workflow/create/position.ts",
    # the root's -v is --verbose (README: "differs on purpose"; the reference's root -v prints the version)
    ("relay workflow create position", "-v", "--venue-id"): "src/commands/workflow/create/position.ts",
    ("relay positions", "-v", "--venue-id"): "src/commands/positions.ts",
    ("relay api", "-H", "--header"): "src/lib/flags/index.ts (apiFlags)",
    ("relay api", "-i", "--include"): "src/lib/flags/index.ts (apiFlags)",
    # not the reference's: `relay api` follows `gh api`, its model (issue 21), whose string fields are -f
    ("relay api", "-f", "--raw-field"): "cli/cli pkg/cmd/api/api.go (gh api -f/--raw-field)",
}


def _long(name: str) -> str:
    """``--venue_id`` and ``--venue-id`` are one option name (the reference spells it both ways)."""
    return name.replace("_", "-")


def command_tree() -> list[tuple[str, Any]]:
    """Every command of ``relay`` (groups included), with its path, as click sees it."""
    import typer

    from relay_cli.app import root_command

    root = root_command()
    found: list[tuple[str, Any]] = []

    def walk(cmd: Any, path: str) -> None:
        found.append((path, cmd))
        if hasattr(cmd, "list_commands"):
            ctx = typer.Context(cmd, info_name=path)
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), f"{path} {name}")

    walk(root, "relay")
    return found


def short_flags() -> list[tuple[str, str, str]]:
    """(command, short flag, the long option it belongs to) for every short flag in the tree (help excluded)."""
    out = []
    for path, cmd in command_tree():
        for param in cmd.params:
            if getattr(param, "param_type_name", "") != "option":
                continue
            names = list(param.opts) + list(param.secondary_opts)
            longs = [n for n in param.opts if n.startswith("--")]
            for name in names:
                if len(name) == 2 and name.startswith("-") and name != "-h":
                    out.append((path, name, _long(longs[0]) if longs else "?"))
    return out


def second_meanings(flags: list[tuple[str, str, str]]) -> list[str]:
    """The short flags of ``flags`` that mean something else than CANONICAL says, and are no listed exception."""
    wrong = []
    for path, short, long in flags:
        if CANONICAL.get(short) == long or (path, short, long) in REFERENCE_EXCEPTIONS:
            continue
        expected = CANONICAL.get(short, "(a short flag not in CANONICAL)")
        wrong.append(f"{path}: {short} is {long}, elsewhere {expected}")
    return wrong


def test_every_short_flag_means_one_thing_except_the_references_own() -> None:
    wrong = second_meanings(short_flags())
    assert not wrong, "short flags with a second meaning:\n" + "\n".join(wrong)


def test_every_listed_exception_is_still_in_the_tree() -> None:
    """An exception whose option is gone (renamed, removed) is removed from the list, so the list stays true."""
    present = set(short_flags())
    stale = [key for key in REFERENCE_EXCEPTIONS if key not in present]
    assert not stale


def test_the_walk_reaches_every_command_and_a_second_meaning_fails() -> None:
    tree = short_flags()
    assert len({path for path, _, _ in tree}) > 40
    assert ("relay tag delete", "-t", "--tag-id") in tree and (
        "relay workflow create call",
        "-t",
        "--transient",
    ) in tree
    assert ("relay tag create", "-t", "--type") not in tree  # the old second meaning of -t in `relay tag`
    assert second_meanings([*tree, ("relay tag create", "-t", "--type")]) == [
        "relay tag create: -t is --type, elsewhere --transient"
    ]
    assert second_meanings([("relay x", "-q", "--quiet")]) == [
        "relay x: -q is --quiet, elsewhere (a short flag not in CANONICAL)"
    ]


#: the commands that write to the Relay API: each takes -N/--dry-run. (`relay subscriber set` and `relay profile
#: ...` write only the local profile file, which `relay profile show` shows and the same command changes back; like
#: `relay completion install`, they have no dry run.)
API_WRITES = [
    "relay geofence create", "relay geofence delete",
    "relay tag create", "relay tag update", "relay tag delete",
    "relay audio create", "relay audio delete",
    "relay workflow delete", "relay workflow install", "relay workflow uninstall", "relay workflow trigger",
    "relay workflow args set", "relay workflow args unset", "relay workflow instance stop", "relay workflow apply",
    "relay workflow update", "relay api",
    *(f"relay workflow create {t}" for t in
      ("call", "button", "phrase", "event", "battery", "http", "nfc", "geofence", "position", "timer")),
]  # fmt: skip


def test_every_write_takes_dry_run_and_every_confirmation_has_one() -> None:
    commands = dict(command_tree())
    missing = []
    for path in API_WRITES:
        opts = {o for p in commands[path].params for o in getattr(p, "opts", [])}
        if not {"--dry-run", "-N"} <= opts:
            missing.append(path)
    asking = [path for path, cmd in commands.items() if any("--yes" in getattr(p, "opts", []) for p in cmd.params)]
    assert sorted(asking) and set(asking) <= set(API_WRITES), set(asking) - set(API_WRITES)
    assert not missing
