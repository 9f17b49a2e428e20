"""Rendering for people and for programs. Data goes to stdout, messages to stderr.

On a terminal, tables are drawn with rich; when stdout is not a terminal they are plain aligned text (fast,
and free of ANSI codes); ``NO_COLOR`` turns colour off everywhere. rich is imported only when used.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from .errors import OutputError

FORMATS = ("table", "json", "csv", "yaml")


# --- the standard streams, guarded ----------------------------------------------------------------------


class StreamClosed(Exception):
    """The reader of stdout or stderr went away (``relay workflow list | head -1``): stop quietly.

    Deliberately not an OSError, so that nothing between the write and ``app.run`` mistakes it for another
    failure (Typer turns an EPIPE OSError into exit 1)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} was closed by its reader")
        self.name = name


class GuardedStream:
    """``sys.stdout`` or ``sys.stderr`` as every command writes to it (``app.run`` installs it):

    - text the stream's encoding cannot represent (an emoji on an ASCII or Latin-1 stdout) is written with
      backslash escapes (``\\U0001f600``) instead of failing;
    - a closed pipe raises ``StreamClosed``; any other failure to write (a full disk, an I/O error) raises
      ``OutputError`` naming the stream ("cannot write to stdout: No space left on device").

    Everything else is the wrapped stream's own (``isatty``, ``encoding``, ``fileno``, ...)."""

    def __init__(self, stream: Any, name: str) -> None:
        self._stream = stream
        self._label = name

    def write(self, text: str) -> int:
        try:
            try:
                return int(self._stream.write(text))
            except UnicodeEncodeError:  # raised before anything is written: nothing is duplicated
                encoding = getattr(self._stream, "encoding", None) or "ascii"
                return int(self._stream.write(text.encode(encoding, "backslashreplace").decode(encoding)))
        except OSError as exc:
            raise self._failed(exc) from None

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise self._failed(exc) from None
        except ValueError:  # flushing a stream that is already closed: nothing left to write
            pass

    def _failed(self, exc: OSError) -> Exception:
        import errno

        if isinstance(exc, BrokenPipeError) or exc.errno in (errno.EPIPE, errno.ECONNRESET):
            return StreamClosed(self._label)
        return OutputError(f"cannot write to {self._label}: {exc.strerror or exc}")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class guarded_streams:  # noqa: N801 - used as a context manager, like contextlib's
    """Install ``GuardedStream`` on sys.stdout and sys.stderr for the time of a command; restore them after."""

    def __enter__(self) -> None:
        self._saved = (sys.stdout, sys.stderr)
        if not isinstance(sys.stdout, GuardedStream):
            sys.stdout = GuardedStream(sys.stdout, "stdout")
        if not isinstance(sys.stderr, GuardedStream):
            sys.stderr = GuardedStream(sys.stderr, "stderr")

    def __exit__(self, *exc: Any) -> None:
        sys.stdout, sys.stderr = self._saved


def discard(stream: Any) -> None:
    """Point the file descriptor under ``stream`` at the null device, so that whatever is still buffered (and
    the interpreter's own flush at exit) goes nowhere instead of failing again with a second error."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (a test's capture buffer): nothing flushes it at exit
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    except OSError:
        pass


# --- terminal safety ----------------------------------------------------------------------------------

#: what a terminal would act on rather than show: C0 and C1 control characters (ESC starts ANSI sequences, CR
#: rewrites the line, BEL rings), DEL, the bidirectional overrides and isolates (they reorder what is shown), and
#: the Unicode line and paragraph separators
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSAFE_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: str, *, newlines: bool = False, stream: Any = None) -> str:
    """``text`` as it may be shown on a terminal: every character a terminal would act on instead of showing
    (an ANSI escape, a carriage return, a bidi override, ...) written as a visible escape (``\\x1b``,
    ``\\u202e``); with ``newlines``, ``\\n`` is kept. With ``stream``, characters its encoding cannot represent
    are escaped too (``\\U0001f600`` on an ASCII stdout), so table columns are measured on what is printed.

    The one escaping function: every table, message, error and line of text for people goes through it;
    ``--json`` and YAML output do not (they are exact, and JSON escapes control characters itself)."""
    return _escaper(stream, newlines)(text)


def _escaper(stream: Any, newlines: bool = False) -> Any:
    """``safe`` for one stream, its encoding looked up once (for the many cells of a table)."""
    pattern = _UNSAFE_BUT_NEWLINE if newlines else _UNSAFE
    encoding = None if stream is None or _utf8(stream) else (getattr(stream, "encoding", None) or "ascii")
    if encoding is None:
        return lambda text: pattern.sub(_escape_char, text)
    return lambda text: pattern.sub(_escape_char, text).encode(encoding, "backslashreplace").decode(encoding)


def _utf8(stream: Any) -> bool:
    """Whether ``stream`` encodes as UTF-8 (or its encoding is unknown or not one Python knows: left as it is)."""
    import codecs

    encoding = getattr(stream, "encoding", None)
    if not isinstance(encoding, str) or not encoding:
        return True
    try:
        return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
    except LookupError:
        return True


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
    text = safe(text, newlines=True, stream=stream)
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


def say_interrupted() -> None:
    """ "interrupted" on stderr (after Ctrl-C; exit 130): on a terminal on a line of its own, after the "^C" the
    terminal echoed; in a log, the line itself."""
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    try:
        print("\ninterrupted" if tty else "interrupted", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def print_json(data: Any) -> None:
    """JSON on stdout, exact: non-ASCII text as it is on a UTF-8 stream, else as ``\\uXXXX`` escapes (still the
    same JSON value, never a lossy or invalid one). Indented by two spaces: the text of ``to_json``."""
    stream = sys.stdout
    ensure_ascii = not _utf8(stream)
    raw = _orjson_bytes(data, ensure_ascii, newline=True)
    if raw is None:
        stream.write(_json_text(data, ensure_ascii) + "\n")
    elif not _write_bytes(stream, raw):
        stream.write(raw.decode())
    stream.flush()


def _write_bytes(stream: Any, raw: bytes) -> bool:
    """``raw`` (UTF-8 text, "\\n" line ends) written to the binary buffer under ``stream``, its pending text
    flushed first: the bytes that writing ``raw.decode()`` would give, without decoding and encoding megabytes
    again. Only for the process's own stdout (possibly guarded) encoding UTF-8 where a line end is "\\n" (not
    on Windows); False, and nothing written, for any other stream."""
    import codecs
    import errno

    inner: Any = stream._stream if isinstance(stream, GuardedStream) else stream
    if inner is not sys.__stdout__ or inner is None or os.linesep != "\n":
        return False
    buffer = getattr(inner, "buffer", None)
    if buffer is None or codecs.lookup(getattr(inner, "encoding", None) or "ascii").name != "utf-8":
        return False
    try:
        inner.flush()
        rest = memoryview(raw)
        while rest:  # an unbuffered stdout (PYTHONUNBUFFERED) is a raw file, which may take part of it
            written = buffer.write(rest)
            if written is None:
                raise BlockingIOError(errno.EAGAIN, "the stream would block")
            rest = rest[written:]
    except OSError as exc:
        if isinstance(stream, GuardedStream):
            raise stream._failed(exc) from None
        raise
    return True


class _Unusual(Exception):
    """A value ``to_json`` leaves to ``json.dumps``."""


def to_json(data: Any, *, ensure_ascii: bool = True) -> str:
    """``json.dumps(data, indent=2, ensure_ascii=ensure_ascii)``, character for character (the ``--json`` output
    is a stable interface: tests/test_json_output.py holds them together).

    ``json.dumps`` with an indent runs the standard library's pure-Python encoder, one generator per container
    (its C encoder knows no indent): 180 ms for 10,000 listed workflows. Two faster writers give the same text:

    - orjson (when installed), 6 ms, wherever its text is provably ``json.dumps``'s (see ``_orjson_bytes``);
    - else ``_indented``: each container one loop, every string escaped by the C escaper, each key's text made
      once: 60 ms. Anything but exact dicts, lists, tuples, strings, ints, floats, booleans and None, with
      string keys (a subclass, a key that is a number, a value json cannot write, a cycle) is left to
      ``json.dumps``, which writes it or raises its own error."""
    raw = _orjson_bytes(data, ensure_ascii)
    return raw.decode() if raw is not None else _json_text(data, ensure_ascii)


def _json_text(data: Any, ensure_ascii: bool) -> str:
    """``to_json`` without orjson."""
    try:
        return _indented(data, ensure_ascii)
    except (_Unusual, RecursionError):
        return json.dumps(data, indent=2, ensure_ascii=ensure_ascii)


#: the orjson module; None until first asked for, False when it is not installed or writes floats otherwise
_orjson: Any = None
#: floats whose text shows how an orjson writes every float (the exponent's sign, where the exponent starts)
_PROBES = (0.0, -0.0, 0.1, -2.5, 123.456, 1e-4, 9.99e-5, 1e-5, 1.5e-7, 5e-324, 9999999999999998.0, 1e16,
           1.2345678901234568e16, 1e22, 1e300, 1.7976931348623157e308)  # fmt: skip
#: what marks orjson's text of a float that json writes otherwise: NaN and the infinities (null), a float below
#: 1e-4 in size (``1e-7``, ``0.00001``: json writes ``1e-07``, ``1e-05``)
_MARKS = (b"null", b"e-", b"0.0000")
#: their searches, made with orjson: a regular expression that is one literal is searched for in half the time
#: ``bytes.find`` takes (5 MB: 1.7 ms against 2.7 to 4.5)
_mark_searches: list[Any] = []


def _orjson_module() -> Any:
    """orjson, if it is installed and writes floats as ``_orjson_bytes`` expects (3.11.7 and later do; 3.11.6
    wrote ``1e16`` where json writes ``1e+16``), else False."""
    global _orjson
    if _orjson is None:
        try:
            import orjson
        except ImportError:
            _orjson = False
        else:
            texts = [(orjson.dumps(x), repr(x).encode()) for x in _PROBES]
            expected = all(a == b or any(mark in a for mark in _MARKS) for a, b in texts)
            _orjson = orjson if expected and orjson.dumps(float("nan")) == b"null" else False
            _mark_searches[:] = [re.compile(re.escape(mark)).search for mark in _MARKS]
    return _orjson


def _orjson_bytes(data: Any, ensure_ascii: bool, *, newline: bool = False) -> bytes | None:
    """orjson's indented text of ``data`` (UTF-8; with ``newline``, a "\\n" after it) when it is exactly
    ``json.dumps(data, indent=2, ensure_ascii=...)``'s, else None. orjson writes strings (every code point,
    control characters included), integers, booleans, null and the indented layout as json does
    (tests/test_json_output.py checks each). It differs in what follows, and each is then left to the other
    writers:

    - it refuses what json writes its own way or refuses too: a subclass of str, int, float, dict or list, a key
      that is not a string, an integer beyond 64 bits, a lone surrogate, nesting deeper than 254, a cycle;
    - floats: it writes NaN and the infinities as null, and a float below 1e-4 in size as ``1e-7`` or
      ``0.00001`` where json (``repr``) writes ``1e-07`` and ``1e-05``; every other float as ``repr`` does.
      So when its text holds none of ``null``, ``e-`` and ``0.0000`` no float can differ; when it holds one
      (a null, or those letters in a string), every float in ``data`` is compared with its ``repr``;
    - with ``ensure_ascii``, its text must be ASCII without DEL (which json escapes), else it is not used.

    One difference is left: what json.dumps cannot write at all and raises TypeError for, orjson writes if it
    is an Enum member (its value) or a UUID (its text). No command gives print_json either."""
    orjson = _orjson_module()
    if not orjson:
        return None
    options = orjson.OPT_INDENT_2 | orjson.OPT_PASSTHROUGH_SUBCLASS
    options |= orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
    if newline:
        options |= orjson.OPT_APPEND_NEWLINE
    try:
        raw: bytes = orjson.dumps(data, option=options)
    except TypeError:  # orjson.JSONEncodeError
        return None
    if ensure_ascii and (not raw.isascii() or b"\x7f" in raw):
        return None
    if any(search(raw) for search in _mark_searches) and not _floats_as_repr(data, orjson.dumps):
        return None
    return raw


def _floats_as_repr(data: Any, dumps: Any) -> bool:
    """Whether ``dumps`` (orjson's) writes every float in ``data`` (JSON-like: orjson took it) as ``repr`` does."""
    stack: list[Any] = [[data]]
    while stack:
        container = stack.pop()
        for item in container.values() if type(container) is dict else container:
            kind = type(item)
            if kind is str or kind is int or kind is bool or item is None:
                continue
            if kind is dict or kind is list or kind is tuple:
                stack.append(item)
            elif isinstance(item, float) and dumps(item) != float.__repr__(item).encode():
                return False
    return True


def _indented(data: Any, ensure_ascii: bool) -> str:
    from json.encoder import encode_basestring, encode_basestring_ascii  # the C escapers, when built

    string = encode_basestring_ascii if ensure_ascii else encode_basestring
    keys: dict[str, str] = {}  # a key → its text and ": ", made once

    def value(o: Any, newline: str) -> str:
        """``o`` as JSON; its lines after the first start with ``newline`` ("\\n" and the indent of its own)."""
        t = type(o)
        if t is dict:
            if not o:
                return "{}"
            inner = newline + "  "
            parts = []
            for k, v in o.items():
                key = keys.get(k)
                if key is None:
                    if type(k) is not str:
                        raise _Unusual  # json writes a number, a boolean or None as a key in its own way
                    key = keys[k] = string(k) + ": "
                parts.append(key + string(v) if type(v) is str else key + value(v, inner))
            return "{" + inner + ("," + inner).join(parts) + newline + "}"
        if t is list or t is tuple:
            if not o:
                return "[]"
            inner = newline + "  "
            items = [string(v) if type(v) is str else value(v, inner) for v in o]
            return "[" + inner + ("," + inner).join(items) + newline + "]"
        if t is str:
            return str(string(o))
        if o is True:
            return "true"
        if o is False:
            return "false"
        if o is None:
            return "null"
        if t is int:
            return int.__repr__(o)
        if t is float:
            return json.dumps(o)  # repr, or NaN, Infinity, -Infinity as json writes them
        raise _Unusual

    return value(data, "\n")


def print_text(text: str) -> None:
    """Lines for people on stdout (a plan, a log): escaped as ``safe`` says, newlines kept."""
    sys.stdout.write(safe(text, newlines=True, stream=sys.stdout) + "\n")
    sys.stdout.flush()


def print_value(text: str) -> None:
    """One value on stdout for scripts (``$(relay workflow args get ...)``): exact when stdout is a pipe or a
    file, escaped as ``safe`` says when it is a terminal."""
    sys.stdout.write((safe(text, stream=sys.stdout) if _isatty(sys.stdout) else text) + "\n")
    sys.stdout.flush()


#: a key written bare: a letter or "_" first, then letters, digits, "_" and "-" (no YAML 1.1 or 1.2 reader takes
#: such a word for a number, a date, a merge key or anything but a string, except the words below)
_YAML_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
#: the words a YAML 1.1 or 1.2 reader takes for a boolean or null in any case ("On", "NULL", "y" in YAML 1.1)
_YAML_RESERVED = frozenset(("y", "n", "yes", "no", "on", "off", "true", "false", "null"))
#: a key longer than this is written as an explicit key ("? KEY"): a YAML reader takes at most 1024 characters
#: for an implicit one, and a stream that cannot encode a character writes it as an escape of up to 10
_YAML_LONG_KEY = 100
#: characters written as an escape inside a double-quoted scalar: the quote and the backslash; the C0 and C1
#: control characters and DEL (a YAML reader refuses them raw, or, for NEL, reads a line break); the Unicode
#: line and paragraph separators (line breaks to a YAML 1.1 reader); the byte order mark, lone surrogates and
#: the non-characters U+FFFE and U+FFFF (not allowed in a YAML stream)
_YAML_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]')
_YAML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x00": "\\0"}


def _yaml_escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _YAML_ESCAPES:
        return _YAML_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _yaml_string(text: str) -> str:
    """``text`` as a YAML double-quoted scalar that YAML 1.1 and 1.2 readers both read back exactly."""
    return '"' + _YAML_ESCAPE.sub(_yaml_escape, text) + '"'


def _yaml_key(key: Any) -> str:
    """A mapping key: bare when no YAML reader could take it for anything but that string, else quoted (an
    argument named ``on``, ``123`` or ``a: b`` is read back as that string, not True, 123 or a mapping)."""
    text = str(key)
    if _YAML_PLAIN_KEY.fullmatch(text) and text.lower() not in _YAML_RESERVED:
        return text
    return _yaml_string(text)


def _yaml_scalar(value: Any) -> str:
    """A scalar: null, true/false, an integer, a float that YAML 1.1 and 1.2 readers both take for a float
    (``1.0e+20``, not ``1e+20``, which a YAML 1.1 reader takes for a string), else a double-quoted string."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if value != value:
            return ".nan"
        if value in (float("inf"), float("-inf")):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)  # "1.5", "1e+20", "5e-324": the exponent always has its sign
        mantissa, e, exponent = text.partition("e")
        return (mantissa if "." in mantissa else mantissa + ".0") + e + exponent
    return _yaml_string(str(value))


def to_yaml(data: Any, indent: int = 0) -> str:
    """Block-style YAML for JSON-like data (dicts, lists, scalars): every string value double-quoted, keys bare
    only when plainly strings, so that any YAML 1.1 or 1.2 reader gives back exactly the JSON output's data."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(data, dict):
        if not data:
            return pad + "{}"
        for key, value in data.items():
            k = _yaml_key(key)
            if len(k) > _YAML_LONG_KEY:  # an explicit key: "? KEY" then ": VALUE"
                lines.append(f"{pad}? {k}")
                k = ""
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
    escape = _escaper(stream)
    rows = [[escape(cell) for cell in row] for row in rows]
    headers = [escape(header) for header in headers]
    if _isatty(stream):
        from rich import box
        from rich.table import Table
        from rich.text import Text

        table = Table(
            box=box.SIMPLE_HEAD,
            show_header=not no_header,
            show_edge=False,
            title=Text(escape(title)) if title else None,
            title_justify="left",
            pad_edge=False,
        )
        for i, header in enumerate(headers):
            keep = header in whole
            width = max([len(header)] + [len(row[i]) for row in rows]) if keep else None
            table.add_column(
                header, overflow="fold" if no_truncate else "ellipsis", no_wrap=not no_truncate, min_width=width
            )
        for row in rows:
            table.add_row(*(Text(cell) for cell in row))  # Text: a cell is shown as it is, never read as markup
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


def print_csv(rows: Sequence[Sequence[str]], headers: Sequence[str], *, no_header: bool = False) -> None:
    """CSV on stdout: exact into a pipe or a file; on a terminal every cell escaped as ``safe`` says."""
    import csv
    import io

    if _isatty(sys.stdout):
        escape = _escaper(sys.stdout)
        rows = [[escape(cell) for cell in row] for row in rows]
        headers = [escape(header) for header in headers]
    # records end in "\n"; a field holding "\r" must be quoted too, which csv does only for the characters
    # of its line terminator: so each record is written with "\r\n" and its ending replaced
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    out = []
    for row in ([headers] if not no_header else []) + list(rows):
        writer.writerow(row)
        out.append(buffer.getvalue()[:-2] + "\n")
        buffer.seek(0)
        buffer.truncate()
    sys.stdout.write("".join(out))
    sys.stdout.flush()
