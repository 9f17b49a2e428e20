"""Rendering for people and for programs: ``Output``, the one place a command's output goes through.

Data goes to stdout, messages to stderr. Tables are aligned plain text (``relay_cli.table`` fits them to a
terminal's width); escape codes only on a terminal, and ``NO_COLOR`` turns colour off everywhere. rich (styled
messages, progress bars) is imported only when used. ``safe`` is the one escaping function: everything for
people goes through it.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO, cast

from .errors import OutputError

if TYPE_CHECKING:
    from types import ModuleType

    from rich.console import Console
    from rich.progress import Progress, ProgressColumn

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
    """stdout or stderr as ``Output`` writes to it:

    - text the stream's encoding cannot represent (an emoji on an ASCII or Latin-1 stdout) is written with
      backslash escapes (``\\U0001f600``) instead of failing;
    - a closed pipe raises ``StreamClosed``; any other failure to write (a full disk, an I/O error) raises
      ``OutputError`` naming the stream ("cannot write to stdout: No space left on device").

    Everything else is the wrapped stream's own (``isatty``, ``encoding``, ``fileno``, ...)."""

    def __init__(self, stream: TextIO, name: str) -> None:
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

    def writelines(self, lines: Iterable[str]) -> None:
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

    def __getattr__(self, name: str) -> Any:  # the wrapped stream's, whatever it is
        return getattr(self._stream, name)


def guarded(stream: TextIO | GuardedStream, name: str) -> GuardedStream:
    """``stream`` behind a ``GuardedStream`` (once)."""
    return stream if isinstance(stream, GuardedStream) else GuardedStream(stream, name)


def discard(stream: TextIO | GuardedStream) -> None:
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


def safe(text: str, *, newlines: bool = False, stream: object = None) -> str:
    """``text`` as it may be shown on a terminal: every character a terminal would act on instead of showing
    (an ANSI escape, a carriage return, a bidi override, ...) written as a visible escape (``\\x1b``,
    ``\\u202e``); with ``newlines``, ``\\n`` is kept. With ``stream``, characters its encoding cannot represent
    are escaped too (``\\U0001f600`` on an ASCII stdout), so table columns are measured on what is printed.

    The one escaping function: every table, message, prompt, error and line of text for people goes through it;
    ``--json`` and YAML output do not (they are exact, and JSON escapes control characters itself)."""
    return _escaper(_encoding_of(stream), newlines)(text)


def _escaper(encoding: str | None, newlines: bool = False) -> Callable[[str], str]:
    """``safe`` for one encoding (None: one that represents every character), for the many cells of a table."""
    pattern = _UNSAFE_BUT_NEWLINE if newlines else _UNSAFE
    if encoding is None:
        return lambda text: pattern.sub(_escape_char, text)
    return lambda text: pattern.sub(_escape_char, text).encode(encoding, "backslashreplace").decode(encoding)


def _encoding_of(stream: object) -> str | None:
    """The encoding of ``stream`` when it cannot represent every character, else None (UTF-8, or an encoding
    that is unknown or not one Python knows: left as it is)."""
    import codecs

    if stream is None:
        return None
    encoding = getattr(stream, "encoding", None)
    if not isinstance(encoding, str) or not encoding:
        return None
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return None
    return None if name in ("utf-8", "utf-8-sig") else encoding


def cell_width(text: str) -> int:
    """How many terminal cells ``text`` takes: two for a wide East Asian character (CJK, most emoji), none for a
    combining mark, one for any other (``text`` is escaped already: it holds no control character)."""
    if text.isascii():
        return len(text)
    import unicodedata

    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _isatty(stream: TextIO | GuardedStream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# --- JSON: the one writer -------------------------------------------------------------------------------

#: what is escaped when the stream wants ASCII: DEL and every character beyond ASCII (as json.dumps does),
#: written as the complement of the rest: the same set, cheap to compile (a range up to U+10FFFF is slow to
#: compile, and this runs at every start)
_NOT_ASCII = re.compile("[^\x00-\x7e]")


def _ascii_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"


def to_json(data: object, *, indent: bool = True, ascii: bool = False) -> str:  # noqa: A002 - json.dumps's meaning
    """``data`` as JSON text, written by orjson: indented by two spaces (``indent``) or on one line without
    spaces; with ``ascii``, DEL and every character beyond ASCII as ``\\uXXXX`` escapes (a surrogate pair beyond
    U+FFFF), for a stream that cannot take UTF-8. That is ``json.dumps(data, indent=2)``'s text (or with
    ``separators=(",", ":")``) for what commands print: objects, arrays, strings, integers, booleans and null.

    Two things orjson does its own way, each the same JSON value: a float below 1e-4 in size (``1e-7``,
    ``0.000025`` where json.dumps writes ``1e-07``, ``2.5e-05``); NaN and the infinities, which JSON cannot hold,
    are ``null``. What orjson refuses (an integer beyond 64 bits, a lone surrogate, a key that is not a string,
    nesting deeper than 254) is written by the standard library's json in the same layout; what neither can
    write raises TypeError or ValueError, a bug of the caller."""
    import orjson

    try:
        text = orjson.dumps(data, option=orjson.OPT_INDENT_2 if indent else None).decode()
    except orjson.JSONEncodeError:
        import json

        text = json.dumps(data, ensure_ascii=False, **({"indent": 2} if indent else {"separators": (",", ":")}))
    return _NOT_ASCII.sub(_ascii_escape, text) if ascii else text


# --- YAML -----------------------------------------------------------------------------------------------

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


def _yaml_key(key: object) -> str:
    """A mapping key: bare when no YAML reader could take it for anything but that string, else quoted (an
    argument named ``on``, ``123`` or ``a: b`` is read back as that string, not True, 123 or a mapping)."""
    text = str(key)
    if _YAML_PLAIN_KEY.fullmatch(text) and text.lower() not in _YAML_RESERVED:
        return text
    return _yaml_string(text)


def _yaml_scalar(value: object) -> str:
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


def to_yaml(data: object, indent: int = 0) -> str:
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


# --- the output of a command ----------------------------------------------------------------------------


class Output:
    """Where a command's output goes, and what that place is: the streams (stdout for data, stderr for
    messages, stdin for the answers to questions), whether each is a terminal, whether colour is wanted
    (``NO_COLOR``), the width of the terminal and the encoding of stdout. Made once per command line (``app.run``)
    and owned by the command's ``State`` (``st.out``); every command renders through it. Each setting is
    looked up from the process when not given, so a test gives the ones it means (``Output(stdout=buffer,
    stdout_isatty=True, width=60)``) instead of replacing the process's streams.

    A command builds its result, then renders it once: ``render`` (``--json`` or a line or table for people),
    ``table.show`` (a listing in any ``--output`` format), or one of the writers below."""

    def __init__(
        self,
        stdout: TextIO | GuardedStream | None = None,
        stderr: TextIO | GuardedStream | None = None,
        stdin: TextIO | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        stdout_isatty: bool | None = None,
        stderr_isatty: bool | None = None,
        stdin_isatty: bool | None = None,
        width: int | None = None,
        encoding: str | None = None,
    ) -> None:
        self.stdout = guarded(sys.stdout if stdout is None else stdout, "stdout")
        self.stderr = guarded(sys.stderr if stderr is None else stderr, "stderr")
        self.stdin = sys.stdin if stdin is None else stdin
        self.stdout_isatty = _isatty(self.stdout) if stdout_isatty is None else stdout_isatty
        self.stderr_isatty = _isatty(self.stderr) if stderr_isatty is None else stderr_isatty
        self.stdin_isatty = _isatty(self.stdin) if stdin_isatty is None else stdin_isatty
        #: the environment the settings below are read from (``NO_COLOR``, ``COLUMNS``)
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        no_color = "NO_COLOR" in self.environ
        #: colour (and rich's styling) on each stream: a terminal, and no NO_COLOR
        self.stdout_color = self.stdout_isatty and not no_color
        self.stderr_color = self.stderr_isatty and not no_color
        #: the terminal's width for tables; None: ``terminal_width`` finds it
        self.width = width
        #: stdout's encoding when it cannot represent every character (escapes stand in), None when it can
        self.encoding = _encoding_of(self.stdout) if encoding is None else _encoding_of(_Named(encoding))
        self._escape_err = _escaper(_encoding_of(self.stderr), newlines=True)
        self._escape_out = _escaper(self.encoding)

    # --- messages (stderr) ---------------------------------------------------------------------------

    def message(self, text: str, *, style: str | None = None) -> None:
        """A line for the person at the terminal, on stderr (escaped as ``safe`` says, newlines kept)."""
        text = self._escape_err(text)
        if style and self.stderr_color:
            from rich.markup import escape

            self._console(self.stderr, self.stderr_color).print(f"[{style}]{escape(text)}[/{style}]")
        else:
            self.stderr.write(text + "\n")
            self.stderr.flush()

    def success(self, text: str) -> None:
        self.message(text, style="green")

    def warning(self, text: str) -> None:
        self.message(f"warning: {text}", style="yellow")

    def interrupted(self) -> None:
        """ "interrupted" on stderr (after Ctrl-C; exit 130): on a terminal on a line of its own, after the "^C"
        the terminal echoed; in a log, the line itself."""
        try:
            self.stderr.write("\ninterrupted\n" if self.stderr_isatty else "interrupted\n")
            self.stderr.flush()
        except (StreamClosed, OutputError, ValueError):
            pass

    def progress(self, columns: Callable[[ModuleType], Sequence[str | ProgressColumn]]) -> Progress | None:
        """A transient rich ``Progress`` on stderr when stderr is a terminal, else None (rich is not imported).
        ``columns(rich.progress)`` gives its columns. Under NO_COLOR it draws without colour."""
        if not self.stderr_isatty:
            return None
        import rich.progress

        console = self._console(self.stderr, self.stderr_color)
        return rich.progress.Progress(*columns(rich.progress), console=console, transient=True)

    def confirm(self, question: str) -> bool:
        """Ask ``question`` (escaped as ``safe`` says: it may hold names from the server) on stderr, and read
        the answer from stdin: True for y or yes. Only asked when ``stdin_isatty``."""
        self.stderr.write(f"{self._escape_err(question)} [y/N]: ")
        self.stderr.flush()
        try:
            answer = self.stdin.readline()
        except (EOFError, OSError):
            return False
        return str(answer).strip().lower() in ("y", "yes")

    # --- data (stdout) -------------------------------------------------------------------------------

    def render(self, data: object, human: str | Callable[[], object] | None, *, as_json: bool) -> None:
        """A command's result, rendered once: with ``as_json`` (``--json``), ``data`` as JSON on stdout; else
        ``human`` for people: a line (a str) printed as a success on stderr, or a function that prints it (a
        table, lines, a value); None: nothing."""
        if as_json:
            self.json(data)
        elif isinstance(human, str):
            self.success(human)
        elif human is not None:
            human()

    def json(self, data: object) -> None:
        """``data`` as indented JSON on stdout (``to_json``; ASCII with escapes where stdout cannot take UTF-8)."""
        self.write(to_json(data, ascii=self.encoding is not None) + "\n")

    def json_line(self, data: object) -> None:
        """``data`` as JSON on one line of stdout (JSON lines: a stream of records), flushed at once. Non-ASCII
        characters are escaped, so a line is the same bytes in every encoding."""
        self.write(to_json(data, indent=False, ascii=True) + "\n")

    def yaml(self, data: object) -> None:
        self.write(to_yaml(data) + "\n")

    def write(self, text: str) -> None:
        """``text`` on stdout exactly (data: a manifest, a token, a JSON document), flushed."""
        self.stdout.write(text)
        self.stdout.flush()

    def text(self, text: str) -> None:
        """Lines for people on stdout (a plan, a log line): escaped as ``safe`` says, newlines kept."""
        self.write(_escaper(self.encoding, newlines=True)(text) + "\n")

    def value(self, text: str) -> None:
        """One value on stdout for scripts (``$(relay workflow args get ...)``): exact when stdout is a pipe or a
        file, escaped as ``safe`` says when it is a terminal."""
        self.write((_escaper(self.encoding)(text) if self.stdout_isatty else text) + "\n")

    def table(
        self,
        rows: Sequence[Sequence[str]],
        headers: Sequence[str],
        *,
        no_header: bool = False,
        widths: Sequence[int] | None = None,
    ) -> None:
        """A table of strings on stdout, its columns aligned, two spaces apart, the headers in capitals.

        Without ``widths`` (a pipe, a file): every cell whole and escaped as ``safe`` says, each column as wide as
        its widest cell. With ``widths`` (a terminal; ``relay_cli.table.fit`` laid it out): the cells are escaped
        and cut to those widths already, in terminal cells (``cell_width``); the header is bold when colour is on."""
        if widths is None:
            escape = _escaper(self.encoding)
            cells = [[escape(cell) for cell in row] for row in rows]
            headers = [escape(header).upper() for header in headers]
            widths = [0 if no_header else len(h) for h in headers]
            for row in cells:
                for i, cell in enumerate(row):
                    if len(cell) > widths[i]:
                        widths[i] = len(cell)
            measure: Callable[[str], int] = len
        else:
            cells, measure = [list(row) for row in rows], cell_width
        out: list[str] = []
        last = len(widths) - 1

        def line(cells: Sequence[str]) -> str:
            return "  ".join(
                c if i == last else c + " " * (widths[i] - measure(c)) for i, c in enumerate(cells)
            ).rstrip()

        if not no_header:
            header = line(headers)
            out.append(f"\x1b[1m{header}\x1b[0m" if self.stdout_color else header)
        out.extend(line(row) for row in cells)
        self.write("\n".join(out) + ("\n" if out else ""))

    def escape(self, text: str) -> str:
        """``text`` as ``safe`` writes it for stdout (a table's cell: one line, in stdout's encoding)."""
        return self._escape_out(text)

    @property
    def ellipsis(self) -> str:
        """What stands for the part of a cell left out: "…", or "~" where stdout's encoding has no "…"."""
        if self.encoding is None:
            return "\u2026"
        try:
            "\u2026".encode(self.encoding)
        except (UnicodeEncodeError, LookupError):
            return "~"
        return "\u2026"

    def terminal_width(self) -> int:
        """How many columns a table may take on stdout: ``width`` when given, else ``COLUMNS`` (a positive whole
        number), else the terminal's own width, else 80."""
        if self.width is not None:
            return self.width
        columns = self.environ.get("COLUMNS", "").strip()
        if columns.isdigit() and int(columns) > 0:
            return int(columns)
        try:
            return os.get_terminal_size(self.stdout.fileno()).columns or 80
        except (AttributeError, OSError, ValueError):
            return 80

    def csv(self, rows: Sequence[Sequence[str]], headers: Sequence[str], *, no_header: bool = False) -> None:
        """CSV on stdout: exact into a pipe or a file; on a terminal every cell escaped as ``safe`` says."""
        import csv
        import io

        if self.stdout_isatty:
            escape = _escaper(self.encoding)
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
        self.write("".join(out))

    def _console(self, stream: GuardedStream, color: bool) -> Console:
        """A rich console on ``stream``, ``width`` wide (None: rich measures the terminal): a terminal's, styled,
        when ``color``; else one that writes no escape code at all (and draws no live display)."""
        from rich.console import Console

        return Console(
            file=cast("TextIO", stream),  # a GuardedStream is its stream to rich: the same methods, guarded
            no_color=not color,
            color_system="auto" if color else None,
            highlight=False,
            soft_wrap=False,
            force_terminal=color,
            width=self.width,
        )


class _Named:
    """A stand-in stream with only an encoding (``Output(encoding=...)``)."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding


# --- the output of the command running now -----------------------------------------------------------

#: the Output of the command line running in this process (``app.run`` sets it for the time of the command)
_current: Output | None = None


def current() -> Output:
    """The Output of the command running now; outside one (a function called on its own), one on the process's
    streams as they are."""
    return _current if _current is not None else Output()


def using(out: Output | None) -> Output | None:
    """Make ``out`` the current Output; returns the one it replaces (to give back to ``using`` after)."""
    global _current
    before, _current = _current, out
    return before


def message(text: str, *, style: str | None = None) -> None:
    """``Output.message`` of the current command, for the code below the commands that has no State (the dev
    loop, the simulator)."""
    current().message(text, style=style)


def success(text: str) -> None:
    current().success(text)


def warning(text: str) -> None:
    current().warning(text)
