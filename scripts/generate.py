"""Regenerate the files derived from the command tree: ``completions/``, ``docs/commands.md`` and the README's
table of manifest keys (from the table of triggers).

    python scripts/generate.py           # write them
    python scripts/generate.py --check   # exit 1 (and name them) when any is stale; write nothing

Run it after adding or changing a command, a flag, a default or a help text; tests/test_generated.py
fails while the files are stale. The output depends only on the code: no dates, no terminal width.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# --- completions ---------------------------------------------------------------------------------


def completions() -> dict[str, str]:
    from relay_cli.commands import completion

    return {f"completions/{completion.FILE_NAMES[shell]}": completion.script(shell) for shell in completion.SHELLS}


# --- docs/commands.md ----------------------------------------------------------------------------

_ENV_IN_HELP = re.compile(r"\s*\[env: ([A-Z0-9_]+)\]")


def _text(block: str | None) -> list[str]:
    """Click help text as Markdown: ``\\b`` paragraphs (kept as written) become code blocks."""
    if not block:
        return []
    out: list[str] = []
    for para in re.split(r"\n\s*\n", block.strip("\n")):
        if para.lstrip().startswith("\b"):
            lines = para.split("\n")[1:]
            indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
            out += ["```sh", *(line[indent:].rstrip() for line in lines), "```", ""]
        else:
            out += [" ".join(line.strip() for line in para.splitlines()), ""]
    return out


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def _default(param: Any) -> str:
    if param.required:
        return "required"
    value = param.default
    if callable(value) or value is None or value == () or value == []:
        return ""
    if isinstance(value, bool):
        if getattr(param, "secondary_opts", None):
            return param.opts[0] if value else param.secondary_opts[0]
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return ", ".join(f"`{v}`" for v in value)
    return f"`{value}`"


def _envvars(param: Any) -> list[str]:
    names = []
    if param.envvar:
        names += [param.envvar] if isinstance(param.envvar, str) else list(param.envvar)
    names += _ENV_IN_HELP.findall(getattr(param, "help", None) or "")
    return sorted(set(names))


def _command_section(cmd: Any, ctx: Any, path: str, out: list[str], env_index: dict[str, set[str]]) -> None:
    import typer

    hidden = getattr(cmd, "hidden", False)
    if hidden:
        return
    level = min(2 + path.count(" "), 4)
    out += [f"{'#' * level} `{path}`", ""]
    pieces = " ".join(cmd.collect_usage_pieces(ctx))
    out += ["```", f"{path} {pieces}".rstrip(), "```", ""]
    out += _text(cmd.help)
    params = [p for p in cmd.get_params(ctx) if not getattr(p, "hidden", False)]
    args = [p for p in params if p.param_type_name == "argument"]
    opts = [p for p in params if p.param_type_name == "option"]
    if args:
        out += ["| argument | description |", "| --- | --- |"]
        for p in args:
            help_text = _ENV_IN_HELP.sub("", getattr(p, "help", None) or "")
            req = "" if p.required else " (optional)"
            out.append(f"| `{_cell(p.make_metavar(ctx))}` | {_cell(help_text)}{req} |")
        out.append("")
    if opts:
        out += ["| option | value | default | env | description |", "| --- | --- | --- | --- | --- |"]
        for p in opts:
            # click builds the help option from a set: its order varies from run to run
            flags = ", ".join(sorted(p.opts, key=len) if p.name == "help" else p.opts)
            if p.secondary_opts:
                flags += " / " + ", ".join(p.secondary_opts)
            value = "" if p.is_flag else p.make_metavar(ctx)
            if p.multiple and value:
                value += " ..."
            env = _envvars(p)
            for name in env:
                env_index.setdefault(name, set()).add(f"{path} {p.opts[0]}".strip())
            help_text = _ENV_IN_HELP.sub("", p.help or "")
            out.append(
                f"| `{_cell(flags)}` | {f'`{_cell(value)}`' if value else ''} | {_cell(_default(p))} | "
                f"{', '.join(f'`{e}`' for e in env)} | {_cell(help_text)} |"
            )
        out.append("")
    out += _text(cmd.epilog)
    if isinstance(cmd, typer.core.TyperGroup) or hasattr(cmd, "list_commands"):
        subs = [(name, cmd.get_command(ctx, name)) for name in cmd.list_commands(ctx)]
        visible = [(n, c) for n, c in subs if c is not None and not getattr(c, "hidden", False)]
        if visible:
            out += ["| command | description |", "| --- | --- |"]
            for name, sub in visible:
                anchor = f"{path} {name}"
                out.append(f"| [`{name}`](#{_anchor(anchor)}) | {_cell(sub.get_short_help_str(limit=200))} |")
            out.append("")
        for name, sub in visible:
            sub_ctx = type(ctx)(sub, info_name=name, parent=ctx, **(sub.context_settings or {}))
            _command_section(sub, sub_ctx, f"{path} {name}", out, env_index)


def _anchor(title: str) -> str:
    """GitHub's anchor for a heading `` `title` ``."""
    return re.sub(r"[^a-z0-9 _-]", "", title.lower()).replace(" ", "-")


def commands_md() -> str:
    import typer

    from relay_cli.app import root_command

    root = root_command()
    ctx = typer.Context(root, info_name="relay", **(root.context_settings or {}))
    body: list[str] = []
    env_index: dict[str, set[str]] = {}
    _command_section(root, ctx, "relay", body, env_index)
    head = [
        "# Command reference",
        "",
        "<!-- Generated by `python scripts/generate.py` from the command tree; do not edit by hand. -->",
        "",
        "Every command, argument and option of `relay`, with defaults and environment variables. The README",
        "has the task-oriented guide, the exit codes and the full list of environment variables.",
        "",
        "## Environment variables read by options",
        "",
        "| variable | used by |",
        "| --- | --- |",
    ]
    for name in sorted(env_index):
        head.append(f"| `{name}` | {', '.join(f'`{u}`' for u in sorted(env_index[name]))} |")
    head.append("")
    text = "\n".join(head + body)
    return text.rstrip("\n") + "\n"


# --- README.md: the manifest keys of each trigger ------------------------------------------------

README_START = (
    "<!-- generated by `python scripts/generate.py` from relay_cli/core/triggers/table.py; do not edit by hand -->"
)
README_END = "<!-- end of the generated table -->"


def _manifest_key(option: Any) -> str:
    """One option of a trigger as a manifest key: ``threshold``: a whole number (default 25)."""
    if option.choices:
        value = "\\|".join(option.choices)
    elif option.kind == "integer":
        value = "a whole number"
    elif option.kind == "time":
        value = "a local date-time"
    elif option.kind == "pairs":
        value = "a table of strings"
    elif option.repeatable:
        value = "an array of " + ("\\|".join(option.completion) if option.completion else "strings")
    else:
        value = "a string"
    if option.required:
        value += ", required"
    elif option.default is not None:
        value += f" (default {option.default})"
    return f"`{option.name}` {value}"


def manifest_keys_md() -> str:
    """The README's table of each manifest type's own keys (the hidden flags' keys are left out, as in --help)."""
    from relay_cli.core.triggers import TRIGGERS

    lines = ["| type | its keys (defaults as in `create`) |", "| --- | --- |"]
    for trigger in TRIGGERS:
        lines.append(f"| `{trigger.name}` | {'; '.join(_manifest_key(o) for o in trigger.options if not o.hidden)} |")
    return "\n".join(lines)


def readme(root: Path = ROOT) -> str:
    """README.md with its generated table brought up to date."""
    text = (root / "README.md").read_text(encoding="utf-8")
    start = text.index(README_START) + len(README_START)
    return text[:start] + "\n" + manifest_keys_md() + "\n" + text[text.index(README_END, start) :]


# --- main ----------------------------------------------------------------------------------------


def outputs() -> dict[str, str]:
    """Every generated file: its path relative to the repository root, and its content."""
    files = completions()
    files["docs/commands.md"] = commands_md()
    files["README.md"] = readme()
    return files


def stale(root: Path = ROOT) -> list[str]:
    """The generated files whose content on disk differs from what the code gives now."""
    out = []
    for rel, text in outputs().items():
        path = root / rel
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            out.append(rel)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale files (exit 1) instead of writing")
    ns = parser.parse_args(argv)
    if ns.check:
        names = stale()
        for name in names:
            print(f"stale: {name}", file=sys.stderr)
        return 1 if names else 0
    for rel, text in outputs().items():
        path = ROOT / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != text:
            path.write_text(text, encoding="utf-8", newline="\n")
            print(f"wrote {rel}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
