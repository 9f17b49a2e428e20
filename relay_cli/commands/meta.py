"""``relay help [COMMAND...]``, ``relay version`` and ``relay update``: the reference CLI's commands about the CLI
itself, so its users' habits keep working."""

import platform
import shlex
import sys
from dataclasses import dataclass
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
    environment (uv pip where the environment has no pip), or a source checkout; from where it was installed (the
    repository's URL or the directory it came from), never from a package index, where relay-cli is not
    published. relay does not replace itself.

    The command goes to stdout (so `eval "$(relay update)"` runs it), what it is for to stderr; the exit status
    is 0."""
    source = installed_from()
    installer, how = update_command(Path(sys.prefix), sys.executable, _has_pip(), source)
    out = output_of(ctx)
    out.message(f"relay was installed {installer}; to update it, run:")
    out.text(how)
    if source is None:
        out.message(
            f"(its installation record does not say where it came from: {REPOSITORY} stands for the URL of relay's "
            "repository, the one you would git clone)"
        )


DISTRIBUTION = "relay-cli"
#: what stands for relay's repository where the installation record names none (README, "Install")
REPOSITORY = "git+REPOSITORY-URL"


@dataclass(frozen=True)
class Source:
    """Where relay was installed from, as its installation record (PEP 610's direct_url.json) says: ``kind`` is
    ``editable`` (a checkout, ``where`` its directory), ``vcs`` (``where`` the requirement, ``git+URL[@rev]``),
    ``directory`` or ``archive`` (``where`` a path, or a URL)."""

    kind: str
    where: str


def update_command(prefix: Path, python: str, has_pip: bool, source: Source | None) -> tuple[str, str]:
    """How relay was installed, and the command that updates it. ``prefix``: the environment relay runs in
    (``sys.prefix``); ``python``: its interpreter; ``source``: where it came from (None: the record does not say,
    and REPOSITORY stands in)."""
    py = shlex.quote(python)
    if source is not None and source.kind == "editable":
        return f"from a source checkout ({source.where})", f"git -C {shlex.quote(source.where)} pull"
    spec = shlex.quote(source.where) if source is not None else REPOSITORY
    pull = ""
    if source is not None and source.kind == "directory" and (Path(source.where) / ".git").exists():
        pull = f"git -C {spec} pull && "  # a clone: what it holds is updated first
    if (prefix / "uv-receipt.toml").is_file():  # uv tool install's record of the tool, and of where it came from
        if source is None:
            return "with uv tool install", f"uv tool install --force {spec}"
        return "with uv tool install", f"{pull}uv tool upgrade {DISTRIBUTION}"
    if (prefix / "pipx_metadata.json").is_file() or "pipx" in prefix.parts:  # pipx's record, likewise
        if source is None:
            return "with pipx", f"pipx install --force {spec}"
        return "with pipx", f"{pull}pipx upgrade {DISTRIBUTION}"
    if has_pip:
        return "with pip", f"{pull}{py} -m pip install --upgrade {spec}"
    if _made_by_uv(prefix):  # uv venv makes environments without pip
        return "with uv pip", f"{pull}uv pip install --python {py} --upgrade {spec}"
    return (
        "in an environment without pip",
        f"{pull}{py} -m ensurepip --upgrade && {py} -m pip install --upgrade {spec}",
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


def installed_from() -> Source | None:
    """Where relay was installed from, per its installation record (``importlib.metadata``): None when there is
    none (installed from a package index) or it cannot be read."""
    import importlib.metadata
    import json

    try:
        record = json.loads(importlib.metadata.distribution(DISTRIBUTION).read_text("direct_url.json") or "{}")
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None
    return source_of(record)


def source_of(record: object) -> Source | None:
    """A PEP 610 record (direct_url.json) → where it says the distribution came from."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    if not isinstance(record, dict) or not isinstance(record.get("url"), str) or not record["url"]:
        return None
    url: str = record["url"]
    parts = urlsplit(url)
    if parts.password:  # pip leaves none there; never print one
        netloc = f"{parts.username}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        url = urlunsplit(parts._replace(netloc=netloc))
    path = unquote(parts.path) if parts.scheme == "file" and parts.path else None
    vcs, info = record.get("vcs_info"), record.get("dir_info")
    if isinstance(vcs, dict) and isinstance(vcs.get("vcs"), str):
        revision = vcs.get("requested_revision")
        return Source("vcs", f"{vcs['vcs']}+{url}" + (f"@{revision}" if isinstance(revision, str) and revision else ""))
    if isinstance(info, dict):
        if info.get("editable") is True:
            return Source("editable", path) if path else None
        return Source("directory", path or url)
    if isinstance(record.get("archive_info"), dict):
        return Source("archive", path or url)
    return None
