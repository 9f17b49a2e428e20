"""``relay workflow init``: write a new workflow project (the app, its dependencies, relay.toml, a README)."""

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ... import output
from ...errors import UsageError
from .._common import JsonOpt, examples
from . import app

TEMPLATE_NAMES = (
    "auto-answer",
    "outbound",
    "place-call",
    "blank",
)  # relay_cli.templates.TEMPLATES, kept here for --help


def _plan(
    template: str, directory: str | None, lang: str, name: str | None, force: bool
) -> tuple[Any, dict[str, str], str]:
    """Check everything before writing anything: (the directory, the files to write, the workflow name)."""
    from ...core import workflow as wf
    from ...templates import LANGS, TEMPLATES

    if template not in TEMPLATES:
        from ...core import suggest

        raise UsageError(suggest.expected(template, TEMPLATES), option="TEMPLATE")
    if lang not in LANGS:
        from ...core import suggest

        raise UsageError(suggest.expected(lang, LANGS), option="--lang")
    if directory is not None and (not directory.strip() or "\0" in directory):
        raise UsageError(f"expected a directory path, got {directory!r}", option="DIRECTORY")
    target = Path(directory if directory is not None else template)
    try:
        if name is None:
            name = target.resolve().name or template
            if wf.has_control(name):
                raise UsageError(
                    f"the directory's name {name!r} has control characters and cannot name the workflow; "
                    "give the workflow a name with --name",
                    option="--name",
                )
        else:
            name = wf.validate_name(name)
            if wf.has_control(name):
                raise UsageError(f"expected a workflow name without control characters, got {name!r}", option="--name")
        from ...templates import files

        written = files(template, lang, name)
        if target.exists() and not target.is_dir():
            raise UsageError(f"{target} exists and is not a directory", option="DIRECTORY")
        _check_contents(target, written, force)
        return target, written, name
    except OSError as exc:  # a name too long for the file system, a loop of symbolic links, ...
        raise UsageError(f"cannot use {target}: {exc.strerror or exc}", option="DIRECTORY") from None


def _check_contents(target: Path, written: dict[str, str], force: bool) -> None:
    if target.is_dir():
        try:
            present = sorted(p.name for p in target.iterdir())
        except OSError as exc:
            raise UsageError(f"cannot read {target}: {exc.strerror or exc}", option="DIRECTORY") from None
        if present and not force:
            shown = ", ".join(present[:5]) + (", ..." if len(present) > 5 else "")
            raise UsageError(
                f"{target} is not empty ({shown}); choose a new directory, or pass --force to write into it "
                "(replacing files of the same names)",
                option="DIRECTORY",
            )
        for rel in written:
            if (target / rel).is_dir():
                raise UsageError(f"{target / rel} is a directory; the project writes a file there", option="DIRECTORY")


def _write(target: Any, written: dict[str, str]) -> None:
    from ...config.store import atomic_write

    mask = os.umask(0)
    os.umask(mask)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for rel, text in written.items():
            atomic_write(target / rel, text, mode=0o666 & ~mask)
    except OSError as exc:
        where = exc.filename or target
        raise UsageError(f"cannot write {where}: {exc.strerror or exc}", option="DIRECTORY") from None


def _next_steps(target: Any, lang: str) -> list[str]:
    """The commands to run next, from the current directory."""
    import shlex

    inside = Path(target) == Path(".")
    steps = [] if inside else [f"cd {shlex.quote(str(target))}"]
    if lang == "js":
        steps.append("npm install")
    else:
        steps += ["python3 -m venv .venv", ".venv/bin/python -m pip install -r requirements.txt"]
    steps.append("relay workflow dev")
    return steps


@app.command(
    "init",
    epilog=examples(
        "relay workflow init auto-answer                  # ./auto-answer: app.js, package.json, relay.toml, README.md",
        "relay workflow init outbound calls/outbound --name lobby-outbound",
        "relay workflow init place-call --lang python     # app.py and requirements.txt (relay-py)",
        "relay workflow init blank . --force              # into the current directory, replacing files of the same names",
    ),
)
def init(
    template: Annotated[
        str,
        typer.Argument(
            metavar="TEMPLATE",
            help=f"The workflow to start from: {', '.join(TEMPLATE_NAMES)}.",
            show_default=False,
        ),
    ],
    directory: Annotated[
        str | None,
        typer.Argument(
            metavar="[DIRECTORY]", help="Where to write the project. Default: the template's name.", show_default=False
        ),
    ] = None,
    lang: Annotated[
        str,
        typer.Option(
            "--lang",
            metavar="js|python",
            help="js: @relaypro/sdk (from npm); python: relay-py (from its GitHub repository; it is not on PyPI).",
        ),
    ] = "js",
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            "-n",
            metavar="NAME",
            help="The workflow's name in relay.toml. Default: the directory's name.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Write into a directory that is not empty, replacing files of the same names."),
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Start a workflow project from a template: Relay's calling guide's auto-answer, outbound and place-call
    workflows, or a blank one.

    Writes the app (app.js, or app.py with --lang python), listening on $PORT (8080 by default) and serving
    the workflow at /TEMPLATE; its dependency file; relay.toml, the registration `relay workflow apply` makes
    (its URI is a placeholder, wss://YOUR-HOST/TEMPLATE, that apply refuses until you replace it) with a [dev]
    table for `relay workflow dev`; a README with the next steps; and a .gitignore. Nothing is written when
    anything is wrong, and a directory that is not empty is refused without --force."""
    from ...templates import LANG_NAMES

    target, written, workflow_name = _plan(template, directory, lang, name, force)
    _write(target, written)
    steps = _next_steps(target, lang)
    paths = [str(target / rel) for rel in written]
    if json_output:
        output.print_json(
            {
                "template": template,
                "lang": lang,
                "name": workflow_name,
                "directory": str(target),
                "files": paths,
                "next": steps,
            }
        )
        return
    sys.stdout.write("".join(f"{p}\n" for p in paths))
    sys.stdout.flush()
    output.success(f"Created the {LANG_NAMES[lang]} workflow project {workflow_name} ({template}) in {target}.")
    output.message("Next:\n" + "".join(f"  {s}\n" for s in steps).rstrip("\n"))
