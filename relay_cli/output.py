"""Rendering for people and for programs. Data goes to stdout, messages to stderr.

On a terminal, tables are drawn with rich; when stdout is not a terminal they are plain aligned text (fast,
and free of ANSI codes); ``NO_COLOR`` turns colour off everywhere. rich is imported only when used.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

FORMATS = ("table", "json", "csv", "yaml")


def _color_allowed(stream: Any) -> bool:
    return "NO_COLOR" not in os.environ and _isatty(stream)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def stdin_is_interactive() -> bool:
    return _isatty(sys.stdin)


def _console(stream: Any) -> Any:
    from rich.console import Console

    color = _color_allowed(stream)
    return Console(
        file=stream,
        no_color=not color,
        color_system="auto" if color else None,
        highlight=False,
        soft_wrap=False,
        force_terminal=None if color else False,
    )


# --- messages (stderr) --------------------------------------------------------------------------


def message(text: str, *, style: str | None = None) -> None:
    """A line for the person at the terminal, on stderr."""
    stream = sys.stderr
    if style and _color_allowed(stream):
        from rich.markup import escape

        _console(stream).print(f"[{style}]{escape(text)}[/{style}]")
    else:
        print(text, file=stream, flush=True)


def success(text: str) -> None:
    message(text, style="green")


def warning(text: str) -> None:
    message(f"warning: {text}", style="yellow")


def progress(columns: Any) -> Any:
    """A transient rich ``Progress`` on stderr when stderr is a terminal, else None (rich is not imported).
    ``columns(rich.progress)`` gives its columns. Under NO_COLOR it draws nothing, like every other output."""
    if not _isatty(sys.stderr):
        return None
    import rich.progress

    return rich.progress.Progress(*columns(rich.progress), console=_console(sys.stderr), transient=True)


def confirm(question: str) -> bool:
    """Ask on stderr, read the answer from stdin. Only call when ``stdin_is_interactive()``."""
    print(f"{question} [y/N]: ", end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except (EOFError, OSError):
        return False
    return answer.strip().lower() in ("y", "yes")


# --- data (stdout) ------------------------------------------------------------------------------


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid YAML double-quoted scalar


def to_yaml(data: Any, indent: int = 0) -> str:
    """Block-style YAML for JSON-like data (dicts, lists, scalars)."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(data, dict):
        if not data:
            return pad + "{}"
        for key, value in data.items():
            k = _yaml_scalar(str(key)) if not str(key).replace("_", "").isalnum() else str(key)
            if isinstance(value, (dict, list)) and value:
                lines.append(f"{pad}{k}:")
                lines.append(to_yaml(value, indent + 2))
            else:
                lines.append(f"{pad}{k}: {to_yaml(value, 0).strip()}")
        return "\n".join(lines)
    if isinstance(data, list):
        if not data:
            return pad + "[]"
        for item in data:
            if isinstance(item, (dict, list)) and item:
                inner = to_yaml(item, indent + 2)
                lines.append(f"{pad}- {inner.lstrip()}")
            else:
                lines.append(f"{pad}- {to_yaml(item, 0).strip()}")
        return "\n".join(lines)
    return pad + _yaml_scalar(data)


def print_yaml(data: Any) -> None:
    sys.stdout.write(to_yaml(data) + "\n")


def print_table(
    rows: Sequence[Sequence[str]],
    headers: Sequence[str],
    *,
    no_header: bool = False,
    no_truncate: bool = False,
    title: str | None = None,
    whole: Sequence[str] = ("ID", "Name"),
) -> None:
    """A table of strings. rich on a terminal; plain aligned columns otherwise.

    On a terminal too narrow for everything, the columns named in ``whole`` (ids and names, which people
    copy) keep their full width and the others are shortened with an ellipsis (``no_truncate``: folded).
    """
    stream = sys.stdout
    if _isatty(stream):
        from rich import box
        from rich.table import Table

        table = Table(
            box=box.SIMPLE_HEAD, show_header=not no_header, show_edge=False, title=title, title_justify="left", pad_edge=False
        )
        for i, header in enumerate(headers):
            keep = header in whole
            width = max([len(header)] + [len(row[i]) for row in rows]) if keep else None
            table.add_column(
                header, overflow="fold" if no_truncate else "ellipsis", no_wrap=not no_truncate, min_width=width
            )
        for row in rows:
            table.add_row(*row)
        _console(stream).print(table)
        return
    widths = [0 if no_header else len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            if len(cell) > widths[i]:
                widths[i] = len(cell)
    out: list[str] = []
    last = len(headers) - 1

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c if i == last else c.ljust(widths[i]) for i, c in enumerate(cells)).rstrip()

    if not no_header:
        out.append(line([h.upper() for h in headers]))
    out.extend(line(row) for row in rows)
    stream.write("\n".join(out) + ("\n" if out else ""))
    stream.flush()


def print_records(
    data: Any,
    *,
    as_json: bool,
    empty: str,
    headers: Sequence[str],
    row: Any,
    items: Sequence[Any] | None = None,
) -> None:
    """What every listing command prints: with --json ``data`` as it is; with nothing to show, ``empty`` on
    stderr; else a table of ``row(item)`` for each item (``items``, default ``data``)."""
    if as_json:
        print_json(data)
        return
    items = data if items is None else items
    if not items:
        message(empty)
        return
    print_table([row(item) for item in items], headers)


def print_csv(rows: Sequence[Sequence[str]], headers: Sequence[str], *, no_header: bool = False) -> None:
    import csv

    writer = csv.writer(sys.stdout, lineterminator="\n")
    if not no_header:
        writer.writerow(headers)
    writer.writerows(rows)
    sys.stdout.flush()
