"""The root app: sub-app registration, global options → State, and the one place exceptions become exit codes."""

import os
import sys
import traceback
from typing import Annotated

import typer

from . import __version__, inputs, output
from .commands._common import new_app
from .errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, OutputError, RelayError
from .output import StreamClosed, message

HELP = """\
Register and manage Relay workflows.

A workflow is a WebSocket app you host; registering it tells the Relay server to start it when a
trigger fires on your devices (a call, a button tap, a phrase, a timer, ...).

Examples:

\b
  relay workflow create call --trigger inbound --name my_auto_answer \\
      --uri wss://myhost.mydomain.com/autoanswerpath --install 990007560045678
  relay workflow create button --trigger double --name place-call \\
      --uri wss://myhost.mydomain.com/placecallpath --install-all
  relay workflow list

Exit codes: 0 ok, 1 API or network failure, 2 bad input, 3 not found, 4 authentication, 5 diff: changes
pending, 6 a check of your workflow app failed, 70 internal error (please report it), 130 interrupted.
"""


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"relay {__version__}\n")
        raise typer.Exit(0)


#: the modules under relay_cli.commands that register top-level commands, in the order --help lists them
MODULES = (
    "workflow", "profile", "server", "account", "auth", "completion", "geofence", "venues", "tag", "analytics",
    "audio", "user", "meta",
)  # fmt: skip
#: each top-level command → the module that registers it (tests/test_meta.py checks this against the tree)
COMMANDS = {
    "workflow": "workflow", "profile": "profile", "server": "server", "devices": "account", "group": "account",
    "login": "auth", "logout": "auth", "whoami": "auth", "env": "auth", "token": "auth", "subscriber": "auth",
    "completion": "completion", "geofence": "geofence", "venues": "venues", "positions": "venues", "tag": "tag",
    "analytics": "analytics", "audio": "audio", "user": "user", "help": "meta", "version": "meta", "update": "meta",
}  # fmt: skip


def _register(app: typer.Typer, name: str, sub: str | None = None) -> None:
    import importlib

    module = importlib.import_module(f".commands.{name}", __package__)
    if name == "workflow":
        module.load(sub)
    if name in ("workflow", "profile"):
        app.add_typer(module.app, name=name, help=module.HELP)
    else:
        module.register(app)


def build_app(only: str | None = None, sub: str | None = None) -> typer.Typer:
    """The command tree; with ``only`` (a top-level command name), just that command's module is registered,
    which is all a command line naming it needs and saves building the rest (startup time); with ``sub`` too
    (``relay workflow list``: "list"), just the module of that subcommand of ``relay workflow``."""
    app = new_app(HELP)

    @app.callback()
    def root(
        ctx: typer.Context,
        profile_name: Annotated[
            str | None,
            typer.Option(
                "--profile",
                "-P",
                metavar="NAME",
                help="Profile to use for this command. [env: RELAY_PROFILE]",
                show_default=False,
            ),
        ] = None,
        version: Annotated[
            bool, typer.Option("--version", "-V", help="Print the version and exit.", is_eager=True, callback=_version)
        ] = False,
        verbose: Annotated[
            bool,
            typer.Option(
                "--verbose", "-v", help="Log each HTTP request and response on stderr (credentials are redacted)."
            ),
        ] = False,
        timeout: Annotated[
            float | None,
            typer.Option(
                "--timeout",
                metavar="SECONDS",
                help="Deadline of each request to the API, from connecting to the last byte of the answer "
                "(default 30). [env: RELAY_TIMEOUT]",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        from .state import State

        state = State(profile_flag=profile_name, verbose=verbose, timeout_flag=timeout)
        ctx.obj = state
        ctx.call_on_close(state.close)

    for name in (COMMANDS[only],) if only in COMMANDS else MODULES:
        _register(app, name, sub if only == name else None)
    return app


def _command_at(args: list[str]) -> int | None:
    """Where in ``args`` the top-level command is, when the whole tree is not needed to run it: None for
    ``--help``, no command, ``relay help ...`` (it walks the tree), shell completion, or anything unusual."""
    if os.environ.get("_RELAY_COMPLETE"):
        return None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-P", "--profile", "--timeout"):
            i += 2
        elif (
            arg in ("-v", "--verbose")
            or arg.startswith(("--profile=", "--timeout="))
            or (arg.startswith("-P") and len(arg) > 2)
        ):
            i += 1
        elif arg.startswith("-"):
            return None
        else:
            return i if arg in COMMANDS and arg != "help" else None
    return None


def command_named(args: list[str]) -> str | None:
    """The top-level command a command line runs, when the whole tree is not needed to run it (``_command_at``)."""
    at = _command_at(args)
    return None if at is None else args[at]


def subcommand_named(args: list[str]) -> str | None:
    """The word after the top-level command (``relay workflow list ...``: "list"), when that command is named;
    None when an option comes first (``relay workflow --help``) or nothing does."""
    at = _command_at(args)
    if at is None or at + 1 >= len(args) or args[at + 1].startswith("-"):
        return None
    return args[at + 1]


def _print_error(err: RelayError) -> None:
    message(f"error: {err.message}", style="red")
    if err.hint:
        message(f"hint: {err.hint}")


def _debug(args: list[str]) -> bool:
    """An internal error's traceback is shown with RELAY_DEBUG=1, or with the root --verbose/-v (given before
    the command)."""
    if os.environ.get("RELAY_DEBUG") == "1":
        return True
    takes_value = False
    for arg in args:
        if takes_value:
            takes_value = False
        elif arg in ("-v", "--verbose"):
            return True
        elif arg in ("-P", "--profile", "--timeout"):
            takes_value = True
        elif not arg.startswith("-") or arg == "--":
            return False
    return False


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


def _invoke(args: list[str]) -> int:
    app = build_app(only=command_named(args), sub=subcommand_named(args))
    result = app(args=args, prog_name="relay", standalone_mode=False)
    if result == EXIT_INTERRUPTED:  # Typer turns Ctrl-C inside a command into Exit(130)
        output.say_interrupted()
    return result if isinstance(result, int) else 0


def _exit_code(exc: BaseException, args: list[str]) -> int:
    """The one place an exception becomes a message on stderr and an exit code (README: exit codes)."""
    if isinstance(exc, output.StreamClosed):
        # the reader went away (`relay workflow list | head -1`): stop quietly with 0, as when the reader
        # leaves after the last byte, so `set -o pipefail` scripts do not depend on the output's size
        output.discard(sys.stdout)
        return EXIT_OK
    if isinstance(exc, RelayError):
        if isinstance(exc, OutputError):
            output.discard(sys.stdout)
        if os.environ.get("RELAY_DEBUG") == "1":  # an expected error: --verbose is for HTTP, not for this
            traceback.print_exception(exc)
        _print_error(exc)
        return exc.exit_code
    if isinstance(exc, typer.Exit):
        return exc.exit_code
    if isinstance(exc, typer.Abort):
        print("error: aborted", file=sys.stderr)
        return 1
    if isinstance(exc, typer.TyperException):  # the command-line parser's usage errors
        code = getattr(exc, "exit_code", EXIT_USAGE)
        text = exc.format_message()
        if text.startswith("Usage:"):  # a group or command given no arguments: its help, on stderr
            output.message(text)
            return code if code else EXIT_USAGE
        ctx = getattr(exc, "ctx", None)
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        output.message(f"error: {text}{where}")
        return code if code else EXIT_USAGE
    if isinstance(exc, KeyboardInterrupt):
        output.say_interrupted()
        return EXIT_INTERRUPTED
    # anything else is a bug: one line, a documented exit code, the traceback only when asked for
    if _debug(args):
        traceback.print_exception(exc)
    detail = _without_secrets(str(exc)).strip()
    output.message(
        f"internal error: {type(exc).__name__}{': ' + detail if detail else ''}, "
        "please report it with the output of `relay version --json` (RELAY_DEBUG=1 shows the traceback)"
    )
    return EXIT_INTERNAL


def _silent_code(exc: BaseException) -> int:
    """The exit code ``_exit_code`` gives ``exc``, when nothing can be printed."""
    if isinstance(exc, StreamClosed):
        return EXIT_OK
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, (RelayError, typer.Exit)):
        return int(exc.exit_code)
    if isinstance(exc, typer.TyperException):
        return int(getattr(exc, "exit_code", EXIT_USAGE) or EXIT_USAGE)
    return EXIT_INTERNAL


def run(args: list[str]) -> int:
    """Run one command line and return its exit code. Nothing escapes as a traceback: every exception, expected
    or not, becomes a message and a code here, including failures to write the output (a closed pipe, a full
    disk), which the final flush brings to light before the interpreter's own flush at exit could."""
    with output.guarded_streams():
        try:
            code = _invoke(args)
            sys.stdout.flush()
        except (SystemExit, GeneratorExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - this is the top-level handler
            try:
                code = _exit_code(exc, args)
            except (output.StreamClosed, RelayError):  # stderr cannot be written either: the code is all that is left
                output.discard(sys.stdout)
                code = _silent_code(exc)
            try:
                sys.stdout.flush()
            except (output.StreamClosed, RelayError):
                output.discard(sys.stdout)
        return code if isinstance(code, int) else EXIT_INTERNAL
