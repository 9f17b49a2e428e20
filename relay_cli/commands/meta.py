"""``relay help [COMMAND...]``, ``relay version`` and ``relay update``: the reference CLI's commands about the CLI
itself, so its users' habits keep working."""

import platform
import sys
from typing import Annotated

import typer

from .. import __version__, output
from ..errors import UsageError
from ._common import JsonOpt, command, examples


@command(epilog=examples("relay help", "relay help workflow create call"))
def help_command(
    ctx: typer.Context,
    command: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[COMMAND]...", help="The command to explain, e.g. workflow create call.", show_default=False
        ),
    ] = None,
) -> None:
    """Show the help of relay or of one of its commands (the same as COMMAND --help)."""
    current = ctx.find_root()
    for name in command or []:
        group = current.command
        found = group.get_command(current, name) if hasattr(group, "get_command") else None
        if found is None:
            where = current.command_path
            raise UsageError(f"{where} has no command {name!r} (see `{where} --help`)")
        current = type(ctx)(found, info_name=name, parent=current)
    sys.stdout.write(current.get_help() + "\n")


@command(epilog=examples("relay version", "relay version --json"))
def version(json_output: JsonOpt = False) -> None:
    """Print the version of relay (the same as --version); --json adds Python and the platform."""
    if json_output:
        output.print_json({"version": __version__, "python": platform.python_version(), "platform": sys.platform})
    else:
        sys.stdout.write(f"relay {__version__}\n")


@command(epilog=examples("relay update"))
def update() -> None:
    """relay does not update itself: this names the command that does, for the way it was installed."""
    if "pipx" in sys.prefix.replace("\\", "/").split("/"):
        how = "pipx upgrade relay-cli"
    else:
        how = f"{sys.executable} -m pip install --upgrade relay-cli"
    raise UsageError(f"relay is updated by the tool that installed it; run: {how}")
