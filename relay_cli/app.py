"""The command line: the groups of ``relay_cli.registry`` as click groups that build only the command that runs,
the global options → State, and the one place exceptions become exit codes."""

import os
import sys
import traceback
from collections.abc import Iterator
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from . import __version__, inputs, output, registry
from .commands._common import CONTEXT_SETTINGS, Invocation
from .errors import ExitStatus, OutputError, RelayError
from .output import Output, StreamClosed


def _version(ctx: typer.Context, param: Any, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        ctx.find_object(Invocation).out.write(f"relay {__version__}\n")  # type: ignore[union-attr]  # app.run's
        raise typer.Exit(0)


class GlobalOption(TyperOption):
    """``-P/--profile``, ``-v/--verbose`` or ``--timeout``, as an option of every group and command: its value,
    wherever it was given, goes to the command line's Invocation (the later one wins), which makes the State."""

    def __init__(self, option: registry.GlobalOption, flags: list[str]) -> None:
        super().__init__(
            param_decls=[*flags, f"global_{option.name}"],  # a name no command's own parameter has
            type=float if option.name == "timeout" else None,
            is_flag=option.metavar is None,
            default=False if option.metavar is None else None,
            metavar=option.metavar,
            help=option.help,
            expose_value=False,
            callback=self.keep,
        )
        self.option = option

    def keep(self, ctx: typer.Context, param: Any, value: Any) -> None:
        invocation = ctx.find_object(Invocation)
        if invocation is not None and value is not None and value is not False:
            setattr(invocation, self.option.name, value)


def _with_global_options(command: Any) -> Any:
    """``command`` with the global options added, less any flag of them the command has an option of its own
    for (``--timeout`` of ``workflow check``, ``-v`` of ``workflow create position``): there, its own wins."""
    taken = {flag for param in command.params for flag in (*param.opts, *param.secondary_opts)}
    for option in registry.GLOBAL_OPTIONS:
        flags = [flag for flag in option.flags if flag not in taken]
        if any(flag.startswith("--") for flag in flags):
            command.params.append(GlobalOption(option, flags))
    return command


class RegistryCommand(TyperCommand):
    """A command of the registry: its page lists the global options it takes under a heading of their own."""

    def format_options(self, ctx: typer.Context, formatter: Any) -> None:  # type: ignore[override]  # click's Context
        sections: dict[str, list[tuple[str, str]]] = {"Arguments": [], "Options": [], "Global options": []}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                if isinstance(param, GlobalOption):
                    sections["Global options"].append(record)
                else:
                    sections["Arguments" if param.param_type_name == "argument" else "Options"].append(record)
        for title, rows in sections.items():
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


class RegistryGroup(TyperGroup):
    """A group of ``relay_cli.registry``: its commands are listed from the registry, and one is built (its module
    imported) only when asked for; its help page is the registry's."""

    def __init__(self, entry: registry.Group, params: list[Any] | None = None) -> None:
        super().__init__(
            name=entry.name,
            help=entry.help,
            short_help=entry.summary,
            hidden=entry.hidden,
            no_args_is_help=True,
            rich_markup_mode=None,
            context_settings=CONTEXT_SETTINGS,
            params=params or [],
        )
        _with_global_options(self)
        self.entry = entry

    def list_commands(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]  # typer's Context is click's
        return [entry.name for entry in registry.children(self.entry)]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:  # type: ignore[override]  # as above
        entry = registry.child(self.entry, cmd_name)
        if entry is None:
            return None
        if isinstance(entry, registry.Group):
            return RegistryGroup(entry)
        return _leaf(entry)

    def get_help(self, ctx: typer.Context) -> str:  # type: ignore[override]  # as above
        return registry.page(self.entry, registry.width()).rstrip("\n")

    def resolve_command(self, ctx: typer.Context, args: list[str]) -> Any:  # type: ignore[override]  # as above
        name = args[0] if args else ""
        if name and not name.startswith("-") and not ctx.resilient_parsing and registry.child(self.entry, name) is None:
            import difflib

            visible = [e.name for e in registry.children(self.entry) if not e.hidden]
            close = difflib.get_close_matches(name, visible)
            suggestion = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            ctx.fail(f"No such command {name!r}.{suggestion}")
        return super().resolve_command(ctx, args)


def _leaf(entry: registry.Command) -> Any:
    """The click command of ``entry``: its function, imported, as Typer makes it (its parameters from its
    signature, its page from its docstring and the settings ``_common.command`` recorded), and the global
    options."""
    module_name, _, function_name = entry.target.partition(":")
    # the import statement's machinery (not importlib's), which -X importtime reports (tests/test_startup.py)
    module = __import__(f"{__package__}.commands.{module_name}", fromlist=[function_name])
    function = getattr(module, function_name)
    if entry.variant is not None:
        function = function(entry.variant)
    settings = dict(getattr(function, "command_settings", {}))
    app = typer.Typer(
        add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False, context_settings=CONTEXT_SETTINGS
    )
    app.command(entry.name, cls=RegistryCommand, short_help=entry.summary, hidden=entry.hidden, **settings)(function)
    return _with_global_options(typer.main.get_command(app))


def tree() -> Iterator[tuple[registry.Words, Any]]:
    """Every group and command with its path, depth first in --help order, ``relay`` itself first. It builds them
    all (imports every command module): for scripts/generate.py and the tests, never for a command line."""
    yield (), root_command()
    for entry in registry.walk():
        yield entry.path, RegistryGroup(entry) if isinstance(entry, registry.Group) else _leaf(entry)


def root_command() -> RegistryGroup:
    """``relay``: the root of the command line."""
    version = TyperOption(
        param_decls=["--version", "-V"],
        is_flag=True,
        default=False,
        expose_value=False,
        is_eager=True,
        callback=_version,
        help=registry.VERSION_OPTION[1],
    )
    return RegistryGroup(registry.ROOT, params=[version])


def _print_error(out: Output, err: RelayError) -> None:
    out.message(f"error: {err.message}", style="red")
    if err.hint:
        out.message(f"hint: {err.hint}")


def _without_secrets(text: str) -> str:
    """An unexpected exception's text with the values of credential variables masked (it may quote them)."""
    secrets = [os.environ.get("RELAY_API_KEY", ""), os.environ.get("RELAY_SERVER_TOKEN", "")]
    try:
        headers = inputs.loads_json(os.environ.get("RELAY_HEADERS") or "{}", "RELAY_HEADERS")
        if isinstance(headers, dict):
            secrets.extend(str(v) for v in headers.values())
    except (ValueError, inputs.InputError):
        pass
    for secret in sorted(
        {s for value in secrets for s in (value, value.strip()) if len(s) >= 4}, key=len, reverse=True
    ):
        text = text.replace(secret, "***")
    return text


def _invoke(args: list[str], invocation: Invocation) -> int:
    if os.environ.get("_RELAY_COMPLETE"):  # a shell asks for completions (relay_cli/commands/completion.py)
        from .commands.completion import setup_protocol

        setup_protocol()
    result = root_command().main(args=args, prog_name="relay", standalone_mode=False, obj=invocation)
    if result == ExitStatus.INTERRUPTED:  # Typer turns Ctrl-C inside a command into Exit(130)
        invocation.out.interrupted()
    return result if isinstance(result, int) else 0


def _exit_code(exc: BaseException, verbose: bool, out: Output) -> int:
    """The one place an exception becomes a message on stderr and an exit code (README: exit codes)."""
    if isinstance(exc, output.StreamClosed):
        # the reader went away (`relay workflow list | head -1`): stop quietly with 0, as when the reader
        # leaves after the last byte, so `set -o pipefail` scripts do not depend on the output's size
        output.discard(out.stdout)
        return ExitStatus.OK
    if isinstance(exc, RelayError):
        if isinstance(exc, OutputError):
            output.discard(out.stdout)
        if os.environ.get("RELAY_DEBUG") == "1":  # an expected error: --verbose is for HTTP, not for this
            traceback.print_exception(exc)
        _print_error(out, exc)
        return exc.exit_code
    if isinstance(exc, typer.Exit):
        return exc.exit_code
    if isinstance(exc, typer.Abort):
        out.message("error: aborted")
        return ExitStatus.API
    if isinstance(exc, typer.TyperException):  # the command-line parser's usage errors
        code = getattr(exc, "exit_code", ExitStatus.USAGE)
        text = exc.format_message()
        if text.startswith("Usage:"):  # a group or command given no arguments: its help, on stderr
            out.message(text)
            return code if code else ExitStatus.USAGE
        ctx = getattr(exc, "ctx", None)
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        out.message(f"error: {text}{where}")
        return code if code else ExitStatus.USAGE
    if isinstance(exc, KeyboardInterrupt):
        out.interrupted()
        return ExitStatus.INTERRUPTED
    # anything else is a bug: one line, a documented exit code, the traceback only when asked for
    if verbose or os.environ.get("RELAY_DEBUG") == "1":
        traceback.print_exception(exc)
    detail = _without_secrets(str(exc)).strip()
    out.message(
        f"internal error: {type(exc).__name__}{': ' + detail if detail else ''}, "
        "please report it with the output of `relay version --json` (RELAY_DEBUG=1 shows the traceback)"
    )
    return ExitStatus.INTERNAL


def _silent_code(exc: BaseException) -> int:
    """The exit code ``_exit_code`` gives ``exc``, when nothing can be printed."""
    if isinstance(exc, StreamClosed):
        return ExitStatus.OK
    if isinstance(exc, KeyboardInterrupt):
        return ExitStatus.INTERRUPTED
    if isinstance(exc, (RelayError, typer.Exit)):
        return int(exc.exit_code)
    if isinstance(exc, typer.TyperException):
        return int(getattr(exc, "exit_code", ExitStatus.USAGE) or ExitStatus.USAGE)
    return ExitStatus.INTERNAL


def run(args: list[str], out: Output | None = None) -> int:
    """Run one command line and return its exit code; ``out``: where its output goes (default: this process's
    streams). Nothing escapes as a traceback: every exception, expected or not, becomes a message and a code
    here, including failures to write the output (a closed pipe, a full disk), which the final flush brings to
    light before the interpreter's own flush at exit could.

    For the time of the command, ``out`` is the current Output (``output.current``) and ``sys.stdout`` and
    ``sys.stderr`` are its guarded streams, so that what click writes itself (help pages, shell completion)
    follows the same rules as the rest."""
    out = out if out is not None else Output()
    before = output.using(out)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out.stdout, out.stderr
    invocation = Invocation(out)
    try:
        try:
            try:
                code = _invoke(args, invocation)
            finally:
                invocation.close()
            out.stdout.flush()
        except (SystemExit, GeneratorExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - this is the top-level handler
            try:
                code = _exit_code(exc, invocation.verbose, out)
            except (output.StreamClosed, RelayError):  # stderr cannot be written either: the code is all that is left
                output.discard(out.stdout)
                code = _silent_code(exc)
            try:
                out.stdout.flush()
            except (output.StreamClosed, RelayError):
                output.discard(out.stdout)
        return code if isinstance(code, int) else ExitStatus.INTERNAL
    finally:
        sys.stdout, sys.stderr = saved
        output.using(before)
