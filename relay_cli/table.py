"""The table options every listing command shares (the reference CLI's table flags): ``--output
table|wide|json|csv|yaml`` (``--json``, ``--csv``, ``--wide``), ``--columns``, ``-x/--extended``, ``--filter``,
``--sort``, ``--no-header``, ``--no-truncate``. A command describes its columns once; this module checks the
options before anything is sent, then filters, sorts and prints.

Every table of the CLI is defined here and drawn by ``show`` (a listing command, through its table options) or
``draw`` (a table with no options: a saved workflow, a workflow's args, ``whoami``, ``profile show``, ...), on
the command's ``Output``.

Into a pipe or a file a table is every chosen column with every value whole, aligned (scripts read it). On a
terminal it fits the terminal's width (``fit``): each column says how it gives way (``Fit``): in which order,
to what shorter form (an id to its shortest unique prefix, a list of devices to its first and a count), how far
it may be cut, and whether it may be left out; a column left out is named in one line on stderr."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field as dataclass_field
from typing import Any

from .errors import UsageError
from .output import FORMATS, Output, cell_width

#: the --output values of a listing: the formats, and ``wide`` (a table of every column, every value whole)
LISTING_FORMATS = (*FORMATS[:1], "wide", *FORMATS[1:])
#: between two columns
GAP = 2


def cut_end(text: str, width: int, ellipsis: str) -> str:
    """``text`` in ``width`` terminal cells: as it is when it fits, else its start and ``ellipsis``."""
    if cell_width(text) <= width:
        return text
    return _take(text, width - cell_width(ellipsis)) + ellipsis if width > 0 else ""


def cut_start(text: str, width: int, ellipsis: str) -> str:
    """``text`` in ``width`` cells: an ellipsis and its end (device ids share their start and differ at the end)."""
    if cell_width(text) <= width:
        return text
    return ellipsis + _take(text[::-1], width - cell_width(ellipsis))[::-1] if width > 0 else ""


def cut_middle(text: str, width: int, ellipsis: str) -> str:
    """``text`` in ``width`` cells, the middle left out (a third of the room for its start, the rest for its end:
    device ids share their start, paths differ at their end)."""
    if cell_width(text) <= width:
        return text
    room = width - cell_width(ellipsis)
    if room < 2:
        return cut_end(text, width, ellipsis)
    head = room // 3
    return _take(text, head) + ellipsis + _take(text[::-1], room - head)[::-1]


def short_uri(uri: str) -> str:
    """A URI in short: without ``wss://``, the scheme nearly every workflow has (``ws://`` and others stay)."""
    return uri.removeprefix("wss://")


def _take(text: str, width: int) -> str:
    """The longest start of ``text`` that fits in ``width`` cells."""
    if text.isascii():
        return text[: max(width, 0)]
    used = 0
    for end, char in enumerate(text):
        used += cell_width(char)
        if used > width:
            return text[:end]
    return text


@dataclass(frozen=True)
class Fit:
    """How a column gives way on a terminal too narrow for the whole table.

    First every column takes its short form, least useful first (the lowest ``give``), until the table fits:
    ``unique``, an id's shortest prefix of at least that many characters that no other row of the table shares
    (as git shortens hashes); ``short``, a shorter text of each item. Then, in the order of their ranks, columns are
    cut (rank ``give``: by ``cut``, an ellipsis in place of what is left out, down to ``least`` cells, never
    below the header) and left out (rank ``out``; the default, ``give``: right after its cut; never a ``keep``
    column, nor one named by ``--columns``), until it fits; the room a column left out frees beyond the need goes
    back to the columns cut before it."""

    give: int = 50
    least: int = 10
    keep: bool = False
    out: int | None = None
    unique: int = 0
    short: Callable[[Any], str] | None = None
    cut: Callable[[str, int, str], str] = cut_end


@dataclass(frozen=True)
class Column:
    key: str  # what --columns, --filter and --sort take (the header works too)
    header: str
    cell: Callable[[Any], str]  # the whole value: pipes, CSV, --filter, --sort, and a terminal's --wide
    extended: bool = False  # shown only with -x/--extended, --wide, or when named in --columns
    fit: Fit = dataclass_field(default_factory=Fit)
    #: the value as people read it on a terminal, when it differs from ``cell`` (an install rule's urn: "group X")
    shown: Callable[[Any], str] | None = None
    #: the keys of an item (as the API sent it) that ``--json --columns`` keeps for this column; None: a ``field``'s
    #: own key, else none (a column worked out from several fields: ``--json --columns`` refuses it)
    keys: tuple[str, ...] | None = None

    @property
    def json_keys(self) -> tuple[str, ...]:
        if self.keys is not None:
            return self.keys
        return (self.cell.key,) if isinstance(self.cell, field) else ()


#: a column people copy to name the item in another command (an id ``delete`` takes, a name): never left out
HANDLE = Fit(give=90, keep=True)
#: a name: never left out, cut (to 10 cells) only after every other column gave way
NAME = Fit(give=80, least=10, keep=True)


def short_list(text: str) -> str:
    """A list of ``a, b, c`` in short: its first item and how many more (``a +2``)."""
    items = text.split(", ")
    return f"{items[0]} +{len(items) - 1}" if len(items) > 1 else text


class field:  # noqa: N801 - used as a function: field("name")
    """A cell that is the item's ``name`` field as text ("" when missing); ``--json --columns`` keeps the field."""

    def __init__(self, name: str) -> None:
        self.key = name

    def __call__(self, item: Any) -> str:
        value = item.get(self.key) if isinstance(item, dict) else None
        return "" if value is None else str(value)


@dataclass(frozen=True)
class Options:
    fmt: str  # table, json, csv or yaml (``--output wide`` is a table with ``wide``)
    columns: tuple[Column, ...]
    filters: tuple[tuple[Column, str], ...]
    sort: Column | None
    descending: bool
    no_header: bool
    no_truncate: bool
    wide: bool = False  # --wide / --output wide: every column, every value whole
    chosen: bool = False  # the columns are --columns': none is left out to fit a terminal


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
    wide: bool = False,
    only: str | None = None,
    extended: bool = False,
    filters: list[str] | None = None,
    sort: str | None = None,
    no_header: bool = False,
    no_truncate: bool = False,
    example: str | None = None,
) -> Options:
    """The options, checked (a UsageError naming the flag, before any request)."""
    if fmt is not None and fmt not in LISTING_FORMATS:
        from .core import suggest

        raise UsageError(suggest.expected(fmt, LISTING_FORMATS), option="--output")
    chosen = {name for name, on in (("json", json_output), ("csv", csv), ("wide", wide)) if on}
    if fmt is not None:
        chosen.add(fmt)
    if len(chosen) > 1:
        flags = [f"--{n}" for n in ("json", "csv", "wide") if n in chosen and (n != fmt)]
        given = flags + ([f"--output {fmt}"] if fmt is not None else [])
        raise UsageError(f"{' and '.join(given)} disagree; give one", option=given[0].split()[0])
    wide = "wide" in chosen
    if only is not None:
        shown = [_find(columns, name, "--columns") for name in only.split(",") if name.strip()]
        if not shown:
            raise UsageError("expected a comma-separated list of columns", option="--columns")
        data = chosen & {"json", "yaml"}
        unkeyed = [c.key for c in shown if not c.json_keys]
        if data and unkeyed:
            keyed = [c.key if c.json_keys == (c.key,) else f"{c.key} ({', '.join(c.json_keys)})" for c in columns
                     if c.json_keys]  # fmt: skip
            why = (
                f"{unkeyed[0]!r} is not one; it takes {', '.join(keyed)}" if keyed else "this listing's are not objects"
            )
            raise UsageError(
                f"with --{next(iter(data))}, --columns picks the keys of the API's objects, and {why}",
                option="--columns",
            )
    else:
        shown = [c for c in columns if extended or wide or not c.extended]
    parsed = []
    for text in filters or []:
        name, sep, needle = text.partition("=")
        if not sep:
            shown_example = example or f"{columns[0].key}=abc"
            raise UsageError(f"expected COLUMN=TEXT such as {shown_example}, got {text!r}", option="--filter")
        parsed.append((_find(columns, name, "--filter"), needle.lower()))
    by = _find(columns, sort.lstrip("-"), "--sort") if sort else None
    return Options(
        fmt="table" if wide else next(iter(chosen), "table"),
        columns=tuple(shown),
        filters=tuple(parsed),
        sort=by,
        descending=bool(sort and sort.startswith("-")),
        no_header=no_header,
        no_truncate=no_truncate or wide,
        wide=wide,
        chosen=only is not None,
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


#: what the note about a column left out says a listing's flags do
LISTING_HINT = "--wide shows every column in full"


def show(
    items: Sequence[Any],
    opts: Options,
    out: Output,
    *,
    empty: str,
    filtered_empty: str | None = None,
    hint: str | None = LISTING_HINT,
) -> None:
    """Print ``items`` (already ``select``-ed) on ``out`` as --output says: JSON and YAML are the items as the API
    sent them; CSV has the chosen columns; a table has them aligned, fitted to a terminal's width (``fit``).
    Nothing to show in a table: ``empty`` on stderr. ``hint``: what the note about a column left out says."""
    if opts.fmt in ("json", "yaml"):
        data = list(items)
        if opts.chosen:  # --columns: the keys those columns show, as the API sent them
            keys = list(dict.fromkeys(k for c in opts.columns for k in c.json_keys))
            data = [{k: item[k] for k in keys if k in item} if isinstance(item, dict) else item for item in data]
        out.json(data) if opts.fmt == "json" else out.yaml(data)
        return
    if opts.fmt == "csv":
        out.csv([[c.cell(item) for c in opts.columns] for item in items], [c.header for c in opts.columns],
                no_header=opts.no_header)  # fmt: skip
        return
    if not items:
        if empty:
            out.message(filtered_empty if (filtered_empty and opts.filters) else empty)
        return
    if not out.stdout_isatty:  # a pipe or a file: every value whole, as scripts read it
        out.table([[c.cell(item) for c in opts.columns] for item in items], [c.header for c in opts.columns],
                  no_header=opts.no_header)  # fmt: skip
        return
    laid = fit(opts.columns, items, out, width=None if opts.no_truncate else out.terminal_width(),
               no_header=opts.no_header, keep_all=opts.chosen)  # fmt: skip
    out.table(laid.rows, laid.headers, no_header=opts.no_header, widths=laid.widths)
    if laid.left_out:
        names = [c.header for c in laid.left_out]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        columns = "column is" if len(names) == 1 else "columns are"
        out.message(f"note: the {listed} {columns} left out to fit {laid.room} columns" + (f"; {hint}" if hint else ""))


def draw(
    columns: Sequence[Column], items: Sequence[Any], out: Output, *, extended: bool = False, empty: str = ""
) -> None:
    """A table for people of ``items`` on ``out`` (no table options: the columns, with ``extended`` the -x ones
    too); nothing to show: ``empty`` on stderr. A command's --json prints its own data."""
    show(items, options(columns, extended=extended), out, empty=empty, hint="--json shows every field")


# --- fitting a table to a terminal ------------------------------------------------------------------------


@dataclass
class Laid:
    """A table laid out for a terminal: the columns kept, their cells (escaped, cut to ``widths``)."""

    headers: list[str]
    rows: list[list[str]]
    widths: list[int]
    left_out: list[Column]
    room: int | None  # the terminal's width it was fitted to (None: not fitted)


@dataclass
class _Laying:
    column: Column
    texts: list[str]  # the cells as shown whole (escaped)
    header: str
    natural: int  # the width of the whole cells (and the header)
    short: list[str] | None  # the short form of each cell, if the column has one
    short_width: int
    least: int  # the narrowest it is cut to
    width: int = 0
    shortened: bool = False  # shown in its short form


def _unique_length(texts: list[str], least: int) -> int:
    """The shortest length, at least ``least``, at which the prefixes of ``texts`` are as distinct as the texts."""
    distinct = sorted(set(texts))
    length = least
    for a, b in itertools.pairwise(distinct):
        common = 0
        for x, y in zip(a, b, strict=False):
            if x != y:
                break
            common += 1
        length = max(length, common + 1)
    return length


def fit(
    columns: Sequence[Column],
    items: Sequence[Any],
    out: Output,
    *,
    width: int | None,
    no_header: bool = False,
    keep_all: bool = False,
) -> Laid:
    """``items`` laid out in ``width`` terminal cells (None: every column, every value whole, however wide).

    When the whole table does not fit, the columns give way as their ``Fit`` says: short forms, then cuts and
    columns left out (none with ``keep_all``: the columns of ``--columns``)."""
    ellipsis = out.ellipsis
    laying: list[_Laying] = []
    for column in columns:
        header = out.escape(column.header.upper())
        texts = [out.escape((column.shown or column.cell)(item)) for item in items]
        natural = max([0 if no_header else cell_width(header)] + [cell_width(t) for t in texts])
        short: list[str] | None = None
        if width is not None and column.fit.unique:
            length = _unique_length(texts, column.fit.unique)
            short = [t[:length] for t in texts]
        elif width is not None and column.fit.short is not None:
            short = [out.escape(column.fit.short(item)) for item in items]
        floor = 0 if no_header else cell_width(header)
        short_width = max([floor] + [cell_width(t) for t in short]) if short is not None else natural
        short_width = min(short_width, natural)
        least = short_width if column.fit.unique else min(short_width, max(column.fit.least, floor))
        laying.append(_Laying(column, texts, header, natural, short, short_width, least, natural))
    left_out: list[Column] = []
    if width is not None:
        excess = sum(lay.width for lay in laying) + GAP * (len(laying) - 1) - width
        if excess > 0:
            left_out = _give_way(laying, excess, keep_all=keep_all)
            laying = [lay for lay in laying if lay.column not in left_out]
    rows: list[list[str]] = [[] for _ in items] if laying else []
    for lay in laying:
        texts = lay.short if lay.shortened and lay.short is not None else lay.texts
        for row, text in zip(rows, texts, strict=True):
            row.append(lay.column.fit.cut(text, lay.width, ellipsis) if cell_width(text) > lay.width else text)
    return Laid(
        headers=[cut_end(lay.header, lay.width, ellipsis) for lay in laying],
        rows=rows,
        widths=[lay.width for lay in laying],
        left_out=[c for c in columns if c in left_out],
        room=width,
    )


def _give_way(laying: list[_Laying], excess: int, *, keep_all: bool) -> list[Column]:
    """Take ``excess`` cells from the columns as their ``Fit`` says; returns the columns left out."""
    order = {id(lay): -i for i, lay in enumerate(laying)}  # of two columns of one rank, the one to the right first
    for lay in sorted(laying, key=lambda lay: (lay.column.fit.give, order[id(lay)])):  # short forms: little is lost
        if excess <= 0:
            return []
        if lay.short is not None and lay.short_width < lay.width:
            excess -= lay.width - lay.short_width
            lay.width, lay.shortened = lay.short_width, True
    moves = [(lay.column.fit.give, 0, lay) for lay in laying]
    moves += [
        (lay.column.fit.give if lay.column.fit.out is None else lay.column.fit.out, 1, lay)
        for lay in laying
        if not (lay.column.fit.keep or keep_all)
    ]
    left_out: list[Column] = []
    cut: list[_Laying] = []
    for _rank, leave, lay in sorted(moves, key=lambda move: (move[0], move[1], order[id(move[2])])):
        if excess <= 0:
            break
        if leave:
            excess -= lay.width + GAP
            left_out.append(lay.column)
        elif lay.width > lay.least and lay.column not in left_out:
            taken = min(lay.width - lay.least, excess)
            lay.width -= taken
            excess -= taken
            cut.append(lay)
    for lay in reversed(cut):  # what a column left out freed beyond the need
        if excess >= 0:
            break
        if lay.column not in left_out:
            given = min((lay.short_width if lay.shortened else lay.natural) - lay.width, -excess)
            lay.width += given
            excess += given
    for lay in sorted(laying, key=lambda lay: (lay.column.fit.give, order[id(lay)])):  # still too wide: below least
        if excess <= 0:
            break
        if lay.column not in left_out:
            taken = min(max(lay.width - 1, 0), excess)
            lay.width -= taken
            excess -= taken
    return left_out
