"""``relay help [COMMAND...]``, ``relay version`` and ``relay update``: the reference CLI's commands about the CLI
itself, so its users' habits keep working."""

import platform
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from .. import __version__
from ..errors import UsageError
from ._common import JsonOpt, command, examples, output_of


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
    output_of(ctx).write(current.get_help() + "\n")


@command(epilog=examples("relay version", "relay version --json"))
def version(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """Print the version of relay (the same as --version); --json adds Python and the platform."""
    out = output_of(ctx)
    data = {"version": __version__, "python": platform.python_version(), "platform": sys.platform}
    out.render(data, lambda: out.write(f"relay {__version__}\n"), as_json=json_output)


@command(epilog=examples("relay update", 'eval "$(relay update)"    # run it'))
def update(ctx: typer.Context) -> None:
    """Print the command that updates relay, for the way it was installed: uv tool, pipx, pip in a virtual
    environment (uv pip where the environment has no pip), or a source checkout. relay does not replace itself.

    The command goes to stdout (so `eval "$(relay update)"` runs it), what it is for to stderr; the exit status
    is 0."""
    installer, how = update_command(Path(sys.prefix), sys.executable, _has_pip(), _source_checkout())
    out = output_of(ctx)
    out.message(f"relay was installed {installer}; to update it, run:")
    out.text(how)


DISTRIBUTION = "relay-cli"


def update_command(prefix: Path, python: str, has_pip: bool, checkout: str | None) -> tuple[str, str]:
    """How relay was installed, and the command that updates it. ``prefix``: the environment relay runs in
    (``sys.prefix``); ``python``: its interpreter; ``checkout``: the directory of an editable install."""
    py = shlex.quote(python)
    if checkout is not None:
        return f"from a source checkout ({checkout})", f"git -C {shlex.quote(checkout)} pull"
    if (prefix / "uv-receipt.toml").is_file():  # uv tool install's record of the tool's environment
        return "with uv tool install", f"uv tool upgrade {DISTRIBUTION}"
    if (prefix / "pipx_metadata.json").is_file() or "pipx" in prefix.parts:
        return "with pipx", f"pipx upgrade {DISTRIBUTION}"
    if has_pip:
        return "with pip", f"{py} -m pip install --upgrade {DISTRIBUTION}"
    if _made_by_uv(prefix):  # uv venv makes environments without pip
        return "with uv pip", f"uv pip install --python {py} --upgrade {DISTRIBUTION}"
    return (
        "in an environment without pip",
        f"{py} -m ensurepip --upgrade && {py} -m pip install --upgrade {DISTRIBUTION}",
    )


def _made_by_uv(prefix: Path) -> bool:
    """Whether ``prefix`` is a virtual environment made by uv (its pyvenv.cfg names uv's version)."""
    try:
        lines = (prefix / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace").splitlines()[:50]
    except OSError:
        return False
    return any(line.partition("=")[0].strip() == "uv" for line in lines)


def _has_pip() -> bool:
    import importlib.util

    return importlib.util.find_spec("pip") is not None


def _source_checkout() -> str | None:
    """The directory relay is installed from in editable mode (pip install -e), per its installation record."""
    import importlib.metadata
    import json
    from urllib.parse import unquote, urlparse

    try:
        record = json.loads(importlib.metadata.distribution(DISTRIBUTION).read_text("direct_url.json") or "{}")
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None
    url = record.get("url") if isinstance(record, dict) else None
    info = record.get("dir_info") if isinstance(record, dict) else None
    if not (isinstance(info, dict) and info.get("editable") is True and isinstance(url, str)):
        return None
    parsed = urlparse(url)
    return unquote(parsed.path) if parsed.scheme == "file" and parsed.path else None
