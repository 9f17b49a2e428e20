"""``relay workflow init``: write a new workflow project (the app, its dependencies, relay.toml, a README)."""

import contextlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from ...errors import UsageError
from .._common import JsonOpt, command, examples, output_of

TEMPLATE_NAMES = (
    "auto-answer",
    "outbound",
    "place-call",
    "blank",
)  # relay_cli.templates.TEMPLATES, kept here for --help


@dataclass
class _Plan:
    """What init will do, decided before anything is written."""

    target: Path
    files: dict[str, bytes]  # relative name -> content, encoded: nothing can fail to encode once writing began
    name: str
    #: the files already there, each with a note on what it is when that is not a plain file
    replaced: list[tuple[str, str]] = field(default_factory=list)


def _utf8(text: str, option: str, what: str) -> None:
    """Refuse text that is not UTF-8 (a byte that is not, from the command line, arrives as a lone surrogate):
    it cannot be written into the project's files, so it is refused before any of them is written."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:
            shown = text.encode("utf-8", "backslashreplace").decode("utf-8")
        raise UsageError(f"expected {what} in UTF-8, got '{shown}'", option=option) from None


def _plan(template: str, directory: str | None, lang: str, name: str | None, force: bool) -> _Plan:
    """Check everything before writing anything: the template, the names, the directory and what is in it."""
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
    if directory is not None:
        _utf8(directory, "DIRECTORY", "a directory path")
    if name is not None:
        _utf8(name, "--name", "a workflow name")
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
            _utf8(name, "--name", "the directory's name (the workflow's name unless --name says otherwise)")
        else:
            name = wf.validate_name(name)
            if wf.has_control(name):
                raise UsageError(f"expected a workflow name without control characters, got {name!r}", option="--name")
        from ...templates import files

        written = {rel: text.encode("utf-8") for rel, text in files(template, lang, name).items()}
        if os.path.islink(target) and not target.exists():
            raise UsageError(
                f"{target} is a symbolic link to {os.readlink(target)}, which does not exist; nothing was created "
                "through it",
                option="DIRECTORY",
            )
        if target.exists() and not target.is_dir():
            raise UsageError(f"{target} exists and is not a directory", option="DIRECTORY")
        replaced = _check_contents(target, written, force)
        return _Plan(target, written, name, replaced)
    except OSError as exc:  # a name too long for the file system, a loop of symbolic links, ...
        raise UsageError(f"cannot use {target}: {exc.strerror or exc}", option="DIRECTORY") from None


def _check_contents(target: Path, written: dict[str, bytes], force: bool) -> list[tuple[str, str]]:
    """What of the project's files is there already (the list --force announces). An entry of a project's name is
    replaced itself: a symbolic link by a file (what it points to is left alone, wherever that is), never written
    through; a directory, FIFO or device there is refused."""
    if not target.is_dir():
        return []
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
    replaced: list[tuple[str, str]] = []
    for rel in written:
        try:
            mode = os.lstat(target / rel).st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(mode):
            link = os.readlink(target / rel)
            replaced.append((rel, f"a symbolic link to {link}: the link is replaced, not what it points to"))
        elif stat.S_ISDIR(mode):
            raise UsageError(f"{target / rel} is a directory; the project writes a file there", option="DIRECTORY")
        elif not stat.S_ISREG(mode):
            raise UsageError(
                f"{target / rel} is not a regular file (a FIFO, a socket or a device); the project writes a file there",
                option="DIRECTORY",
            )
        else:
            replaced.append((rel, ""))
    return replaced


def _write(plan: _Plan) -> None:
    """Write every file, or none: each goes to a temporary file in the directory first; only when all are written
    are they renamed into place (a rename replaces a symbolic link itself, never what it points to). When
    anything fails, the files this run added and the directories it made are removed again, so a second run
    starts from the same place."""
    import tempfile

    from ...config.store import sync_directory

    target = plan.target
    mask = os.umask(0)
    os.umask(mask)
    made = _missing_ancestors(target)
    temps: dict[str, str] = {}
    added: list[str] = []
    replaced: list[str] = []
    current = target  # what is being written, for the message
    try:
        target.mkdir(parents=True, exist_ok=True)
        for rel, data in plan.files.items():
            current = target / rel
            fd, temps[rel] = tempfile.mkstemp(prefix=f".{rel}.", suffix=".tmp", dir=target)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temps[rel], 0o666 & ~mask)
        for rel in sorted(plan.files, key=lambda rel: os.path.lexists(target / rel)):  # the new files first
            current = target / rel
            existed = os.path.lexists(current)
            os.replace(temps[rel], current)
            del temps[rel]
            (replaced if existed else added).append(rel)
        sync_directory(target)  # the new names survive a power cut
    except OSError as exc:
        for tmp in temps.values():
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        for rel in added:
            with contextlib.suppress(OSError):
                os.unlink(target / rel)
        for directory in reversed(made):
            with contextlib.suppress(OSError):
                directory.rmdir()
        note = f" (already replaced: {', '.join(replaced)})" if replaced else ""
        raise UsageError(f"cannot write {current}: {exc.strerror or exc}{note}", option="DIRECTORY") from None


def _missing_ancestors(target: Path) -> list[Path]:
    """The directories ``target.mkdir(parents=True)`` would make, outermost first."""
    missing = []
    for path in [target, *target.parents]:
        if os.path.lexists(path):
            break
        missing.append(path)
    return list(reversed(missing))


def _next_steps(target: Path, lang: str) -> list[str]:
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


@command(
    epilog=examples(
        "relay workflow init auto-answer                  # ./auto-answer: app.js, package.json, relay.toml, README.md",
        "relay workflow init outbound calls/outbound --name lobby-outbound",
        "relay workflow init place-call --lang python     # app.py and requirements.txt (relay-py)",
        "relay workflow init blank . --force              # into the current directory, replacing files of the same names",
    ),
)
def init(
    ctx: typer.Context,
    template: Annotated[
        str,
        typer.Argument(
            metavar="TEMPLATE",
            help=f"The workflow to start from: {', '.join(TEMPLATE_NAMES)}.",
            show_default=False,
            autocompletion=lambda incomplete: [t for t in TEMPLATE_NAMES if t.startswith(incomplete)],
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
        typer.Option(
            "--force",
            help="Write into a directory that is not empty, replacing files of the same names (listed on stderr "
            "first; a symbolic link is replaced itself, never written through).",
        ),
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

    out = output_of(ctx)
    plan = _plan(template, directory, lang, name, force)
    target, workflow_name = plan.target, plan.name
    if plan.replaced:
        shown = [f"{rel} ({note})" if note else rel for rel, note in plan.replaced]
        out.message(f"Replacing in {target}: {', '.join(shown)}")
    _write(plan)
    steps = _next_steps(target, lang)
    paths = [str(target / rel) for rel in plan.files]

    def human() -> None:
        out.write("".join(f"{p}\n" for p in paths))
        out.success(f"Created the {LANG_NAMES[lang]} workflow project {workflow_name} ({template}) in {target}.")
        out.message("Next:\n" + "".join(f"  {s}\n" for s in steps).rstrip("\n"))

    data = {"template": template, "lang": lang, "name": workflow_name, "directory": str(target), "files": paths,
            "replaced": [str(target / rel) for rel, _ in plan.replaced], "next": steps}  # fmt: skip
    out.render(data, human, as_json=json_output)
