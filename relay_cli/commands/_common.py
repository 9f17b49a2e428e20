"""What every command shares: the ``command`` marker and the option aliases, defined once."""

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from ..errors import UsageError

if TYPE_CHECKING:
    from ..output import Output
    from ..state import State

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
F = TypeVar("F", bound=Callable[..., Any])


def command(**settings: Any) -> Callable[[F], F]:
    """Marks a function as a command, with Typer's settings for it besides its parameters (``epilog``: its
    examples; ``no_args_is_help``; ``help`` when not the docstring). Its name, summary and place in --help are
    declared in relay_cli/registry.py, which names the function (docs/adding-a-command.md)."""

    def decorate(function: F) -> F:
        setattr(function, "command_settings", settings)  # noqa: B010 - read back by relay_cli.app
        return function

    return decorate


class Invocation:
    """One command line's global options (``-P``, ``-v``, ``--timeout``, wherever they were given) and the State
    made from them the first time a command asks for it (``state``): parsing a command line loads no settings."""

    def __init__(self, out: "Output") -> None:
        #: where the command line's output goes (``app.run``'s)
        self.out = out
        self.profile: str | None = None
        self.verbose = False
        self.timeout: float | None = None
        self._state: State | None = None

    def made_state(self) -> "State | None":
        """The State, if a command asked for it (``state``); else None."""
        return self._state

    def state(self) -> "State":
        if self._state is None:
            from ..state import State

            self._state = State(
                profile_flag=self.profile, verbose=self.verbose, timeout_flag=self.timeout, out=self.out
            )
        return self._state

    def close(self) -> None:
        if self._state is not None:
            self._state.close()


def state(ctx: typer.Context) -> "State":
    """The State of the command line being run."""
    return _invocation(ctx).state()


def output_of(ctx: typer.Context) -> "Output":
    """The Output of the command line being run, for a command that needs no settings (``version``, ``init``)."""
    return _invocation(ctx).out


def _invocation(ctx: typer.Context) -> Invocation:
    invocation = ctx.find_object(Invocation)
    if invocation is None:  # a command called outside ``relay_cli.app.run``
        raise RuntimeError("no command line is being run")
    return invocation


SubscriberOpt = Annotated[
    str | None,
    typer.Option(
        "--subscriber-id",
        "-s",
        metavar="ID",
        help="Relay account (subscriber) id. Default: RELAY_SUBSCRIBER_ID, the profile's subscriber_id, "
        "else the account the server names for your login.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", "-N", help="Print the request body that would be sent, and send nothing.")
]
DeleteDryRunOpt = Annotated[
    bool, typer.Option("--dry-run", "-N", help="Print what would be deleted and the request, and send nothing.")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def complete_workflow(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of a workflow reference: the names ``relay_cli.names`` knows for the target the command
    line selects (the sandbox's, or a recent listing's), without a request."""
    try:
        from .. import names

        found = names.known(state(ctx), ctx.params.get("subscriber_id"))
    except Exception:  # noqa: BLE001 - a shell asking for words gets none rather than an error
        return []
    return [name for name in found if name.startswith(incomplete)]


WorkflowRefOpt = Annotated[
    str,
    typer.Option(
        "--workflow-id",
        "-w",
        metavar="REF",
        envvar="RELAY_WORKFLOW_ID",
        help="The workflow: its id (or the start of it a narrow table shows), or its exact name. [env: RELAY_WORKFLOW_ID]",
        show_envvar=False,
        show_default=False,
        autocompletion=complete_workflow,
    ),
]
InstallOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--install",
        "-i",
        metavar="ID",
        help="Device or user id to install the workflow on (repeatable). @FILE reads ids from a file, one per "
        "line (# comments); - reads them from stdin.",
        show_default=False,
    ),
]
InstallAllOpt = Annotated[
    bool, typer.Option("--install-all", "-A", help="Install on every device and user of the account.")
]
InstallGroupOpt = Annotated[
    str | None,
    typer.Option(
        "--install-group",
        "-G",
        metavar="GROUP",
        help="Install on a group: its urn (urn:relay-resource:id:tag:...) or its id.",
        show_default=False,
    ),
]
NoCheckOpt = Annotated[
    bool,
    typer.Option(
        "--no-check",
        envvar="RELAY_NO_CHECK",
        help="Skip the preflight checks of call workflows (WebSocket handshake, all-devices and same-device "
        "installs). [env: RELAY_NO_CHECK]",
        show_envvar=False,
    ),
]
StrictOpt = Annotated[
    bool, typer.Option("--strict", help="Make a failed preflight check an error (exit 6): nothing is sent.")
]
ArgOpt = Annotated[
    list[str] | None,
    typer.Option("--arg", "-a", metavar="NAME=VALUE", help="String workflow arg (repeatable).", show_default=False),
]
BooleanOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--boolean", "-b", metavar="NAME=true|false", help="Boolean workflow arg (repeatable).", show_default=False
    ),
]
NumberOpt = Annotated[
    list[str] | None,
    typer.Option("--number", "-r", metavar="NAME=2.5", help="Number workflow arg (repeatable).", show_default=False),
]
#: how long a simulated call lasts once connected (simulate, dev, relay sandbox)
HoldOpt = Annotated[
    float | None,
    typer.Option(
        "--hold",
        metavar="SECONDS",
        min=0,
        help="Seconds the other party stays on a connected call before hanging up. Default: 5.",
        show_default=False,
    ),
]


class ThisMachine:
    """This machine's zone and clock, as a trigger's defaults ask for them (``core.triggers.Machine``), for
    ``workflow create`` and ``workflow update``. commands/localtime.py is loaded only when a trigger asks (a
    timer's defaults): running `create call` loads no command module but the workflow ones (tests/test_startup.py)."""

    def local_zone_name(self) -> str:
        from .localtime import local_zone_name

        return local_zone_name()

    def next_full_hour(self) -> str:
        from .localtime import next_full_hour

        return next_full_hour()


def examples(*commands: str) -> str:
    """An epilog listing example commands, kept unwrapped in --help."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {c}" for c in commands)


def expand_ids(values: list[str] | None, option: str = "--install") -> list[str] | None:
    """The values of ``-i``: an id, ``@FILE`` (one id per line; ``#`` starts a comment; blank lines are
    skipped) or ``-`` (the same, from stdin, read once). The one place bulk targets are read."""
    if not values:
        return values
    from .. import inputs

    ids: list[str] = []
    stdin_lines: list[str] | None = None
    for value in values:
        if value == "-":
            source = "stdin (-)"
            if stdin_lines is None:
                try:
                    raw = inputs.read_stdin(inputs.IDS_LIMIT, "an id file", source)
                    stdin_lines = inputs.decode(raw, source).splitlines()
                except inputs.InputError as err:
                    raise UsageError(err.message, option=option) from None
            lines = stdin_lines
        elif value.startswith("@"):
            path = value[1:]
            if not path:
                raise UsageError("expected a file name after @, e.g. -i @devices.txt", option=option)
            source = value
            try:
                raw = inputs.read_bytes(path, inputs.IDS_LIMIT, "an id file", source=source)
                lines = inputs.decode(raw, source).splitlines()
            except OSError as exc:
                raise UsageError(f"cannot read {value}: {exc.strerror or exc}", option=option) from None
            except inputs.InputError as err:
                raise UsageError(err.message, option=option) from None
        else:
            ids.append(value)
            continue
        found = []
        for number, line in enumerate(lines, 1):
            item = line.split("#", 1)[0].strip()
            if any(ch.isspace() for ch in item):
                raise UsageError(f"{source} line {number}: expected one id per line, got {item!r}", option=option)
            if item:
                found.append(item)
        if not found:
            raise UsageError(f"{source} lists no ids", option=option)
        ids.extend(found)
    return ids


def confirmation_possible(out: "Output", yes: bool, refusal: str) -> None:
    """Without --yes, a confirmation needs a terminal on stdin: else a UsageError naming --yes (``refusal`` says
    what to do). Called before anything is sent, by the commands that know up front that they will ask."""
    if not yes and not out.stdin_isatty:
        raise UsageError(refusal, option="--yes")


def confirmed(out: "Output", question: str, *, yes: bool, refusal: str) -> bool:
    """The one confirmation of every command (a delete, a stop, narrowing an install, a prune): True with --yes;
    on a terminal, the answer to ``question`` (y or yes; ``Output.confirm`` escapes it); without a terminal,
    ``confirmation_possible``'s UsageError. The caller says what was not done on a no."""
    if yes:
        return True
    confirmation_possible(out, yes, refusal)
    return out.confirm(question)


# --- the table options of every listing command (the reference's table flags; see relay_cli/table.py) ---

OutputOpt = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FORMAT",
        help="Output format: table, wide (a table of every column, every value whole), json, csv or yaml.",
        show_default=False,
    ),
]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Output CSV (the same as --output csv).")]
FilterOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--filter",
        metavar="COLUMN=TEXT",
        help="Keep rows whose COLUMN contains TEXT, ignoring case (repeatable; all must match).",
        show_default=False,
    ),
]
SortOpt = Annotated[
    str | None,
    typer.Option("--sort", metavar="[-]COLUMN", help="Sort by a column; '-' for descending.", show_default=False),
]
NoHeaderOpt = Annotated[bool, typer.Option("--no-header", help="Leave out the header row.")]
NoTruncateOpt = Annotated[
    bool,
    typer.Option(
        "--no-truncate", help="On a terminal, every column and every value whole, however wide the lines get."
    ),
]
WideOpt = Annotated[
    bool,
    typer.Option(
        "--wide",
        help="Every column (-x's too), every value whole: full ids, every device (the same as --output wide).",
    ),
]


class TableFlags:
    """The table options a listing command was given (``@listing_command`` collects them, named as the
    keywords of ``relay_cli.table.options``)."""

    def __init__(self, **given: Any) -> None:
        self.given = given

    def options(self, table: Any, **more: Any) -> Any:
        """Checked against the command's columns (a UsageError naming the flag, before anything is sent)."""
        from ..table import options

        return options(table, **self.given, **more)


def listing_command(
    columns_help: str = "Only these columns, comma-separated (keys or headers).",
    extended_help: str = "Show every column (this list has no extra ones; accepted as in the reference CLI).",
) -> Any:
    """Give a listing command the table options: the function declares ``flags: TableFlags`` (keyword-only)
    and gets them there; its --help lists --json, --output, --csv, --wide, --columns, -x, --filter, --sort,
    --no-header, --no-truncate."""
    flags = {
        "json_output": (JsonOpt, False),
        "fmt": (OutputOpt, None),
        "csv": (CsvOpt, False),
        "wide": (WideOpt, False),
        "only": (
            Annotated[str | None, typer.Option("--columns", metavar="COLUMNS", help=columns_help, show_default=False)],
            None,
        ),
        "extended": (Annotated[bool, typer.Option("--extended", "-x", help=extended_help)], False),
        "filters": (FilterOpt, None),
        "sort": (SortOpt, None),
        "no_header": (NoHeaderOpt, False),
        "no_truncate": (NoTruncateOpt, False),
    }

    def decorate(func: Any) -> Any:
        signature = inspect.signature(func)
        own = [p for p in signature.parameters.values() if p.name != "flags"]
        added = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
            for name, (annotation, default) in flags.items()
        ]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given = TableFlags(**{name: kwargs.pop(name) for name in flags})
            done = func(*args, flags=given, **kwargs)
            ctx = kwargs.get("ctx", args[0] if args else None)
            find = getattr(ctx, "find_object", None)
            invocation = find(Invocation) if find is not None else None
            made = invocation.made_state() if invocation is not None else None
            if made is not None:
                made.note_sandbox_read()  # the data listed came from the sandbox: say so, once, on stderr
            return done

        wrapper.__signature__ = signature.replace(parameters=own + added)  # type: ignore[attr-defined]  # read by inspect
        return wrapper

    return decorate
