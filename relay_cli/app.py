"""The root app: sub-app registration, global options → State, and the one place exceptions become exit codes."""


import os
import sys
from typing import Annotated

import typer

from . import __version__
from .commands._common import new_app
from .errors import EXIT_INTERRUPTED, EXIT_USAGE, RelayError

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
pending, 6 a check of your workflow app failed, 130 interrupted.
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


def _register(app: typer.Typer, name: str) -> None:
    import importlib

    module = importlib.import_module(f".commands.{name}", __package__)
    if name in ("workflow", "profile"):
        app.add_typer(module.app, name=name, help=module.HELP)
    else:
        module.register(app)


def build_app(only: str | None = None) -> typer.Typer:
    """The command tree; with ``only`` (a top-level command name), just that command's module is registered,
    which is all a command line naming it needs and saves building the rest (startup time)."""
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
    ) -> None:
        from .state import State

        state = State(profile_flag=profile_name, verbose=verbose)
        ctx.obj = state
        ctx.call_on_close(state.close)

    for name in (COMMANDS[only],) if only in COMMANDS else MODULES:
        _register(app, name)
    return app


def command_named(args: list[str]) -> str | None:
    """The top-level command a command line runs, when the whole tree is not needed to run it: None for
    ``--help``, no command, ``relay help ...`` (it walks the tree), shell completion, or anything unusual."""
    if os.environ.get("_RELAY_COMPLETE"):
        return None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-P", "--profile"):
            i += 2
        elif arg in ("-v", "--verbose") or arg.startswith("--profile=") or (arg.startswith("-P") and len(arg) > 2):
            i += 1
        elif arg.startswith("-"):
            return None
        else:
            return arg if arg in COMMANDS and arg != "help" else None
    return None


def _print_error(err: RelayError) -> None:
    from .output import message

    message(f"error: {err.message}", style="red")
    if err.hint:
        message(f"hint: {err.hint}")


def run(args: list[str]) -> int:
    app = build_app(only=command_named(args))
    try:
        result = app(args=args, prog_name="relay", standalone_mode=False)
        if result == EXIT_INTERRUPTED:  # Typer turns Ctrl-C inside a command into Exit(130)
            print("interrupted", file=sys.stderr)
        return result if isinstance(result, int) else 0
    except RelayError as err:
        if os.environ.get("RELAY_DEBUG") == "1":
            import traceback

            traceback.print_exc()
        _print_error(err)
        return err.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        return 1
    except typer.TyperException as exc:  # the command-line parser's usage errors
        code = getattr(exc, "exit_code", EXIT_USAGE)
        text = exc.format_message()
        if text.startswith("Usage:"):  # a group or command given no arguments: its help, on stderr
            print(text, file=sys.stderr)
            return code if code else EXIT_USAGE
        ctx = getattr(exc, "ctx", None)
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        print(f"error: {text}{where}", file=sys.stderr)
        return code if code else EXIT_USAGE
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (`relay workflow list | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
