"""The table options every listing command shares (the reference CLI's table flags): ``--output
table|json|csv|yaml`` (``--json``, ``--csv``), ``--columns``, ``-x/--extended``, ``--filter``, ``--sort``,
``--no-header``, ``--no-truncate``. A command describes its columns once; this module checks the options before
anything is sent, then filters, sorts and prints.

Every table of the CLI is defined here and drawn by ``show`` (a listing command, through its table options) or
``draw`` (a table with no options: a saved workflow, a workflow's args, ``whoami``, ``profile show``, ...), on
the command's ``Output``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import UsageError
from .output import FORMATS, Output


@dataclass(frozen=True)
class Column:
    key: str  # what --columns, --filter and --sort take (the header works too)
    header: str
    cell: Callable[[Any], str]
    extended: bool = False  # shown only with -x/--extended or when named in --columns


def field(name: str) -> Callable[[Any], str]:
    """A cell that is the item's ``name`` field as text ("" when missing)."""
    return lambda item: "" if not isinstance(item, dict) or item.get(name) is None else str(item.get(name))


@dataclass(frozen=True)
class Options:
    fmt: str
    columns: tuple[Column, ...]
    filters: tuple[tuple[Column, str], ...]
    sort: Column | None
    descending: bool
    no_header: bool
    no_truncate: bool


def _norm(text: str) -> str:
    return "".join(ch for ch in text.strip().lower() if ch.isalnum())


def _find(columns: Sequence[Column], name: str, option: str) -> Column:
    wanted = _norm(name)
    for column in columns:
        if wanted in (_norm(column.key), _norm(column.header)):
            return column
    raise UsageError(
        f"expected a column among {', '.join(c.key for c in columns)}, got {name.strip()!r}", option=option
    )


def options(
    columns: Sequence[Column],
    *,
    json_output: bool = False,
    fmt: str | None = None,
    csv: bool = False,
    only: str | None = None,
    extended: bool = False,
    filters: list[str] | None = None,
    sort: str | None = None,
    no_header: bool = False,
    no_truncate: bool = False,
    example: str | None = None,
) -> Options:
    """The options, checked (a UsageError naming the flag, before any request)."""
    if fmt is not None and fmt not in FORMATS:
        from .core import suggest

        raise UsageError(suggest.expected(fmt, FORMATS), option="--output")
    chosen = {name for name, on in (("json", json_output), ("csv", csv)) if on}
    if fmt is not None:
        chosen.add(fmt)
    if len(chosen) > 1:
        flags = [f"--{n}" for n in ("json", "csv") if n in chosen and (n != fmt)]
        given = flags + ([f"--output {fmt}"] if fmt is not None else [])
        raise UsageError(f"{' and '.join(given)} disagree; give one", option=given[0].split()[0])
    if only is not None:
        shown = [_find(columns, name, "--columns") for name in only.split(",") if name.strip()]
        if not shown:
            raise UsageError("expected a comma-separated list of columns", option="--columns")
    else:
        shown = [c for c in columns if extended or not c.extended]
    parsed = []
    for text in filters or []:
        name, sep, needle = text.partition("=")
        if not sep:
            shown_example = example or f"{columns[0].key}=abc"
            raise UsageError(f"expected COLUMN=TEXT such as {shown_example}, got {text!r}", option="--filter")
        parsed.append((_find(columns, name, "--filter"), needle.lower()))
    by = _find(columns, sort.lstrip("-"), "--sort") if sort else None
    return Options(
        fmt=next(iter(chosen), "table"),
        columns=tuple(shown),
        filters=tuple(parsed),
        sort=by,
        descending=bool(sort and sort.startswith("-")),
        no_header=no_header,
        no_truncate=no_truncate,
    )


def _sort_key(text: str) -> tuple[int, float, str]:
    """Numbers in numeric order, before text; text without regard to case."""
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text.lower())


def select(items: Sequence[Any], opts: Options) -> list[Any]:
    """The items whose columns contain every --filter text (ignoring case), in --sort order."""
    if not opts.filters and opts.sort is None:
        return list(items)  # every item, as it came: no test per item
    kept = [item for item in items if all(needle in column.cell(item).lower() for column, needle in opts.filters)]
    if opts.sort is not None:
        cell = opts.sort.cell
        kept.sort(key=lambda item: _sort_key(cell(item)), reverse=opts.descending)
    return kept


def show(items: Sequence[Any], opts: Options, out: Output, *, empty: str, filtered_empty: str | None = None) -> None:
    """Print ``items`` (already ``select``-ed) on ``out`` as --output says: JSON and YAML are the items as the API
    sent them; a table or CSV has the chosen columns. Nothing to show in a table: ``empty`` on stderr."""
    if opts.fmt == "json":
        out.json(list(items))
        return
    if opts.fmt == "yaml":
        out.yaml(list(items))
        return
    headers = [c.header for c in opts.columns]
    rows = [[c.cell(item) for c in opts.columns] for item in items]
    if opts.fmt == "csv":
        out.csv(rows, headers, no_header=opts.no_header)
        return
    if not rows:
        if empty:
            out.message(filtered_empty if (filtered_empty and opts.filters) else empty)
        return
    out.table(rows, headers, no_header=opts.no_header, no_truncate=opts.no_truncate)


def draw(
    columns: Sequence[Column], items: Sequence[Any], out: Output, *, extended: bool = False, empty: str = ""
) -> None:
    """A table for people of ``items`` on ``out`` (no table options: the columns, with ``extended`` the -x ones
    too); nothing to show: ``empty`` on stderr. A command's --json prints its own data."""
    show(items, options(columns, extended=extended), out, empty=empty)
