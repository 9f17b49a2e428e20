"""``relay --help`` and ``relay workflow --help`` without Typer: the same text, a quarter of the time.

Typer's help of a group imports Typer and every module of the group's commands, builds them all and asks each
for its help, to print one line per command: some 100 ms of the 130 ms of ``relay --help``. These two pages are
what people read most, so ``__main__`` answers them from ``helpindex`` (the pages' texts, options and command
lines, generated from the command tree by ``python scripts/generate.py``, through ``index_source``), laid out
here as click lays out help: the same width (the terminal's, at most 100 columns, at least 52), the same
wrapping, the same one-line summaries cut to fit. tests/test_quickhelp.py compares the two at every width;
it fails, as tests/test_generated.py does, when the index is stale.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (some 5 ms) on the way to the help
if TYPE_CHECKING:
    from typing import Any

#: the command lines answered here → the page of ``helpindex.PAGES`` they show
PAGES = {
    ("--help",): "relay",
    ("-h",): "relay",
    ("workflow", "--help"): "relay workflow",
    ("workflow", "-h"): "relay workflow",
}
#: click's widths: the terminal's (COLUMNS first), at most the app's max_content_width (100), minus 2, at least 50
MAX_WIDTH = 100


def page_for(args: list[str]) -> str | None:
    """The help text ``relay ARGS`` prints, when it is one of the pages answered here; else None."""
    name = PAGES.get(tuple(args))
    if name is None or os.environ.get("_RELAY_COMPLETE"):
        return None
    from .helpindex import PAGES as INDEX

    return render(INDEX[name], width())


def width() -> int:
    """click's HelpFormatter width, from ``shutil.get_terminal_size`` (COLUMNS, else the terminal of stdout,
    else 80), without importing shutil."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]  # may be None: caught below
        except (AttributeError, ValueError, OSError):
            columns = 80
    return max(min(columns, MAX_WIDTH) - 2, 50)


# --- click's layout ---------------------------------------------------------------------------------------


def _wrapper(width: int, initial: str = "", subsequent: str = "") -> Any:
    import textwrap

    class Wrapper(textwrap.TextWrapper):
        """click's TextWrapper: a word longer than a line is cut where the line ends."""

        def _handle_long_word(self, chunks: list[str], line: list[str], length: int, width: int) -> None:
            space = max(width - length, 1)
            line.append(chunks[-1][:space])
            chunks[-1] = chunks[-1][space:]

    return Wrapper(width, initial_indent=initial, subsequent_indent=subsequent, replace_whitespace=False)


def wrap(text: str, width: int, initial: str = "", subsequent: str = "", paragraphs: bool = False) -> str:
    """click's ``wrap_text``: with ``paragraphs``, blank lines part paragraphs, each keeps the indent of its first
    line, and one whose first line is ``\\b`` is kept as written."""
    wrapper = _wrapper(width, initial, subsequent)
    text = text.expandtabs()
    if not paragraphs:
        return str(wrapper.fill(text))
    found: list[tuple[int, bool, str]] = []
    lines: list[str] = []
    indent = None
    for line in [*text.splitlines(), ""]:
        if line:
            if indent is None:
                indent = len(line) - len(line.lstrip())
                line = line.lstrip()
            lines.append(line)
        elif lines:
            raw = lines[0].strip() == "\b"
            found.append((indent or 0, raw, "\n".join(lines[1:]) if raw else " ".join(lines)))
            lines, indent = [], None
        else:
            indent = None
    out = []
    for extra, raw, block in found:
        wrapper.initial_indent, wrapper.subsequent_indent = initial + " " * extra, subsequent + " " * extra
        if raw:
            out.append("\n".join(
                (wrapper.initial_indent if i == 0 else wrapper.subsequent_indent) + line
                for i, line in enumerate(block.splitlines())
            ))  # fmt: skip
        else:
            out.append(wrapper.fill(block))
    return "\n\n".join(out)


def short_help(help: str, limit: int) -> str:
    """click's ``make_default_short_help``: the first sentence of the first paragraph when it fits in ``limit``,
    else as many words as fit followed by "..."."""
    words = help.split("\n\n", 1)[0].split()
    if words and words[0] == "\b":
        words = words[1:]
    if not words:
        return ""
    total = 0
    last = len(words) - 1
    for i, word in enumerate(words):
        total += len(word) + (i > 0)
        if total > limit:
            break
        if word[-1] == ".":
            return " ".join(words[: i + 1])
        if total == limit and i != last:
            break
    else:
        return " ".join(words)
    total += 3
    while i > 0:
        total -= len(words[i]) + (i > 0)
        if total <= limit:
            break
        i -= 1
    return " ".join(words[:i]) + "..."


def _definitions(rows: list[tuple[str, str]], width: int, indent: int = 2) -> list[str]:
    """click's ``write_dl``: terms in a column at most 30 wide, their text wrapped beside them."""
    first = min(max(len(term) for term, _ in rows), 30) + 2
    out = []
    for term, text in rows:
        line = " " * indent + term
        if not text:
            out.append(line + "\n")
            continue
        if len(term) <= first - 2:
            line += " " * (first - len(term))
        else:
            line += "\n" + " " * (first + indent)
        lines = wrap(text, max(width - first - 2, 10), paragraphs=True).splitlines()
        out.append(line + (lines[0] if lines else "") + "\n")
        out.extend(" " * (first + indent) + rest + "\n" for rest in lines[1:])
    return out


def render(page: dict[str, Any], width: int) -> str:
    """A page of ``helpindex.PAGES`` as click prints it at ``width`` (its ``format_help``, then ``echo``)."""
    prefix = f"Usage: {page['path']} "
    if width >= len(prefix) + 20:
        usage = wrap(page["usage"], width, prefix, " " * len(prefix))
    else:  # never at 50 columns or more for these pages; kept for the layout's sake
        usage = prefix + "\n" + wrap(page["usage"], width, " " * 11, " " * 11)
    out = [usage + "\n"]
    if page["help"]:
        out.append("\n" + wrap(page["help"], width, "  ", "  ", paragraphs=True) + "\n")
    # typer's format_options: arguments, options, then click's format_commands (summaries cut to the width)
    sections = [("Arguments", page["arguments"]), ("Options", page["options"])]
    if page["commands"]:
        limit = width - 6 - max(len(name) for name, _, _ in page["commands"])
        sections.append(
            ("Commands", [(name, (short or short_help(help, limit)).strip()) for name, short, help in page["commands"]])
        )
    for title, rows in sections:
        if rows:
            out.append(f"\n{title}:\n")
            out.extend(_definitions([(term, text) for term, text in rows], width))
    if page["epilog"]:
        out.append("\n" + wrap(page["epilog"], width, "  ", "  ", paragraphs=True) + "\n")
    return "".join(out).rstrip("\n") + "\n"


# --- the index, from the command tree (scripts/generate.py) -----------------------------------------------


def index_source() -> str:
    """The text of relay_cli/helpindex.py: each page's usage, help, options and command lines as the tree has
    them. Imports Typer and builds the whole tree: for scripts/generate.py and the tests, never for a user."""
    import inspect

    import typer

    from .app import build_app

    root = typer.main.get_command(build_app())
    root_ctx = typer.Context(root, info_name="relay", **(root.context_settings or {}))
    out = [
        '"""The pages of ``relay_cli.quickhelp``. Generated by `python scripts/generate.py` from the command tree; do',
        'not edit by hand."""',
        "",
        "# fmt: off",
        "PAGES: dict[str, dict[str, object]] = {",
    ]
    for path in dict.fromkeys(PAGES.values()):
        cmd, ctx = root, root_ctx
        for name in path.split()[1:]:
            cmd = cmd.get_command(ctx, name)  # type: ignore[attr-defined]  # the pages are groups
            ctx = typer.Context(cmd, info_name=name, parent=ctx, **(cmd.context_settings or {}))
        records = [(p.param_type_name, p.get_help_record(ctx)) for p in cmd.get_params(ctx)]
        out.append(f"    {_literal(path)}: {{")
        out.append(f'        "path": {_literal(ctx.command_path)},')
        out.append(f'        "usage": {_literal(" ".join(cmd.collect_usage_pieces(ctx)))},')
        out.append(
            f'        "help": {_literal(inspect.cleandoc(cmd.help).partition(chr(12))[0] if cmd.help else "", 8)},'
        )
        out.append(f'        "epilog": {_literal(inspect.cleandoc(cmd.epilog) if cmd.epilog else "", 8)},')
        for kind, key in (("argument", "arguments"), ("option", "options")):
            out.append(f'        "{key}": [')
            for found, record in records:
                if record is not None and found == kind:
                    out.append(f"            ({_literal(record[0])}, {_literal(record[1], 12)}),")
            out.append("        ],")
        out.append('        "commands": [')
        for name in cmd.list_commands(ctx):  # type: ignore[attr-defined]  # the pages are groups
            sub = cmd.get_command(ctx, name)  # type: ignore[attr-defined]  # the pages are groups
            if sub is None or sub.hidden:
                continue
            if sub.deprecated:
                raise ValueError(f"{path} {name}: the line of a deprecated command is not laid out here")
            short = _literal(inspect.cleandoc(sub.short_help)) if sub.short_help else "None"
            # click's summary reads the first paragraph only
            out.append(
                f"            ({_literal(name)}, {short}, {_literal((sub.help or '').split(chr(10) * 2, 1)[0], 12)}),"
            )
        out.append("        ],")
        out.append("    },")
    out += ["}", "# fmt: on", ""]
    return "\n".join(out)


def _literal(text: str, indent: int = 0) -> str:
    """``text`` as a Python string literal; a long one or one of several lines as a parenthesized run of them."""
    import json

    if len(text) <= 60 and "\n" not in text:
        return json.dumps(text, ensure_ascii=False)  # a Python literal too, for text without lone surrogates
    pieces: list[str] = []
    for line in text.splitlines(keepends=True):
        while len(line) > 80 and " " in line[40:80]:
            cut = line.rindex(" ", 40, 80) + 1
            pieces.append(line[:cut])
            line = line[cut:]
        pieces.append(line)
    pad = " " * (indent + 4)
    return "(\n" + "".join(f"{pad}{json.dumps(p, ensure_ascii=False)}\n" for p in pieces) + " " * indent + ")"
