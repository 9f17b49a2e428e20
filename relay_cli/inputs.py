"""Every file relay reads has a bound: a size, read with that bound, and a depth of nesting checked before parsing.

One place, so that every reader has the same limits and the same one-line errors (exit 2, naming the file):
a manifest or an id file of ``/dev/zero``, a ``config.toml`` of a thousand nested arrays or a scenario with a
dotted key of a million parts ends in a message, never in MemoryError, RecursionError or minutes of CPU.

Readers call :func:`read_bytes` (or :func:`read_text`) with their limit, then :func:`loads_toml` or
:func:`loads_json`. The limits are documented in the README ("Limits"); tests/test_limits.py holds them.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from array import array
from collections.abc import Callable
from itertools import accumulate
from typing import TYPE_CHECKING

from .errors import UsageError

if TYPE_CHECKING:
    from .jsontypes import JSONValue

MiB = 1 << 20

#: a manifest (``-f``, ``relay.toml`` of a project, stdin): 10,000 workflows of two devices and two args are 2 MiB
MANIFEST_LIMIT = 16 * MiB
#: an id file (``-i @FILE``, ``-i -``): 100,000 ids of 15 digits are 1.5 MiB
IDS_LIMIT = 16 * MiB
#: a scenario file (``--scenario-file``, ``[dev] scenario``)
SCENARIO_LIMIT = 1 * MiB
#: ``config.toml``, the profiles
CONFIG_LIMIT = 1 * MiB
#: ``credentials.json``, the stored logins (a few KiB each)
CREDENTIALS_LIMIT = 1 * MiB
#: arrays and tables (JSON: arrays and objects) inside one another, and the parts of one dotted TOML key
MAX_DEPTH = 64

_CHUNK = 1 << 20


class InputError(UsageError):
    """A file (or stdin) that is larger or deeper than relay reads. Bad input: exit 2, nothing sent or written."""


def size_text(limit: int) -> str:
    return f"{limit // MiB} MiB" if limit % MiB == 0 else f"{limit} bytes"


def too_large(source: str, limit: int, what: str) -> InputError:
    return InputError(f"{source}: larger than {size_text(limit)}, the most relay reads for {what}")


def too_deep(source: str, kind: str) -> InputError:
    return InputError(
        f"{source}: nested too deeply: at most {MAX_DEPTH} levels of {kind} are read",
    )


# --- reading ---------------------------------------------------------------------------------------


def read_bytes(
    path: str | os.PathLike[str],
    limit: int,
    what: str,
    *,
    source: str | None = None,
    regular_only: bool = False,
    check: Callable[[os.stat_result], None] | None = None,
) -> bytes:
    """The bytes of the file at ``path``, at most ``limit`` of them: a longer file (``/dev/zero`` too) is an
    InputError once ``limit + 1`` bytes have come, so no more than that is ever held. The message names the file
    as ``source`` (default: ``path``) and its kind as ``what`` ("a manifest").

    ``regular_only`` (files relay owns: config.toml, credentials.json) refuses anything but a regular file
    (``OSError`` "not a regular file") before reading: a FIFO there would hold the command until something
    writes into it. Files named by the user may be FIFOs (``-f <(render)``) or devices. Other failures to open or
    read are OSError (FileNotFoundError when nothing is there), for the caller to word. ``check`` is given the
    open file's status before anything is read (the file read is the file checked), and may raise."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
    if regular_only:
        flags |= getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must not wait for a writer
    fd = os.open(path, flags)
    try:
        if regular_only or check is not None:
            status = os.fstat(fd)
            if regular_only and not stat.S_ISREG(status.st_mode):
                raise OSError(errno.EINVAL, "not a regular file")
            if check is not None:
                check(status)
        return _read_fd(fd, limit, str(path) if source is None else source, what)
    finally:
        os.close(fd)


def read_stdin(limit: int, what: str, source: str = "<stdin>") -> bytes:
    """Standard input's bytes, at most ``limit`` (as :func:`read_bytes`)."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream put in place of stdin (tests, embedding): its characters, UTF-8 encoded
        text = sys.stdin.read(limit + 1)
        data = text.encode("utf-8")
        if len(text) > limit or len(data) > limit:
            raise too_large(source, limit, what)
        return data
    data = bytearray()
    while len(data) <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - len(data)))
        if not chunk:
            return bytes(data)
        data += chunk
    raise too_large(source, limit, what)


def _read_fd(fd: int, limit: int, source: str, what: str) -> bytes:
    data = bytearray()
    while len(data) <= limit:
        chunk = os.read(fd, min(_CHUNK, limit + 1 - len(data)))
        if not chunk:
            return bytes(data)
        data += chunk
    raise too_large(source, limit, what)


def read_text(path: str | os.PathLike[str], limit: int, what: str, *, regular_only: bool = False) -> str:
    """:func:`read_bytes`, decoded as UTF-8 (a byte order mark is dropped); InputError when it is not UTF-8."""
    return decode(read_bytes(path, limit, what, regular_only=regular_only), str(path))


def decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{source}: not UTF-8 text") from None


# --- nesting ---------------------------------------------------------------------------------------

# Strings and comments, whose brackets and dots are text: each is replaced by one letter (so that a quoted part
# of a dotted key still counts as a part) before the brackets and dotted keys of what is left are counted.
# Every alternative matches from its opening quote to its end (or to the end of the text, or of the line, for a
# string left open) and is possessive, so no text makes the scan go back: its time is linear in the text's length.
# (Pattern strings, not compiled at import: re compiles and caches each on first use, by a command that reads.)
_TOML_TEXT = (
    r'(?s)"""(?:[^"\\]|\\.?|"(?!""))*+(?:"""|\Z)'  # multi-line basic string
    r"|'''(?:[^']|'(?!''))*+(?:'''|\Z)"  # multi-line literal string
    r'|"(?:[^"\\\n]|\\.?)*+"?'  # basic string
    r"|'[^'\n]*+'?"  # literal string
    r"|#[^\n]*+"  # comment
)
_JSON_TEXT = r'(?s)"(?:[^"\\]|\\.?)*+"?'
_NOT_BRACKETS = r"[^\[\]{}]+"
# a dotted key (a.b.c, "a".b, [a.b.c]) once each part is one letter and each dot has no blanks around it
_PARTS = r"[\w-]+"
_DOTS = r"[ \t]*\.[ \t]*"
_TOO_MANY_PARTS = "w." * MAX_DEPTH + "w"
_MANY_DOTS = rf"(?m)^(?:[^.\n]*+\.){{{MAX_DEPTH}}}[^\n]*"
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def _bracket_depth(text: str) -> int:
    brackets = re.sub(_NOT_BRACKETS, "", text)
    if len(brackets) <= MAX_DEPTH:
        return len(brackets)  # an upper bound, enough to say it is within the limit
    steps = array("b", brackets.encode("ascii").translate(_STEPS))  # +1 for [ and {, -1 for ] and }
    return max(accumulate(steps))


def check_toml_depth(text: str, source: str) -> None:
    """InputError when ``text`` nests arrays and tables more than MAX_DEPTH deep, or has a dotted key of more than
    MAX_DEPTH parts: what tomllib would take a RecursionError, or quadratic time, over."""
    if text.count("[") + text.count("{") <= MAX_DEPTH and text.count(".") < MAX_DEPTH:
        return  # too few brackets and dots for either, strings and comments included
    bare = re.sub(_TOML_TEXT, "s", text)
    if _bracket_depth(bare) > MAX_DEPTH:
        raise too_deep(source, "arrays, tables and dotted keys")
    for line in re.finditer(_MANY_DOTS, bare):  # a dotted key stays on one line; only a line of many dots can hold one
        if _TOO_MANY_PARTS in re.sub(_DOTS, ".", re.sub(_PARTS, "w", line.group())):
            raise too_deep(source, "arrays, tables and dotted keys")


def check_json_depth(text: str, source: str) -> None:
    """InputError when ``text`` nests arrays and objects more than MAX_DEPTH deep."""
    if text.count("[") + text.count("{") > MAX_DEPTH and _bracket_depth(re.sub(_JSON_TEXT, "", text)) > MAX_DEPTH:
        raise too_deep(source, "arrays and objects")


def check_value_depth(value: object, source: str, kind: str) -> None:
    """InputError when a parsed value holds containers more than MAX_DEPTH deep (TOML's dotted keys inside inline
    tables can multiply the depth the text shows). Iterative: a deep value cannot exhaust the stack here."""
    todo: list[tuple[object, int]] = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth >= MAX_DEPTH:
                    raise too_deep(source, kind)
                todo.append((child, depth + 1))


def loads_toml(text: str, source: str) -> dict[str, object]:
    """``tomllib.loads(text)`` after the nesting checks (InputError naming ``source``); a syntax error is
    ``tomllib.TOMLDecodeError``, for the caller to word."""
    import tomllib

    check_toml_depth(text, source)
    try:
        doc = tomllib.loads(text)
    except RecursionError:  # what the check above lets through must still not be a crash
        raise too_deep(source, "arrays, tables and dotted keys") from None
    check_value_depth(doc, source, "arrays, tables and dotted keys")
    return doc


def loads_json(text: str, source: str) -> JSONValue:
    """``json.loads(text)`` after the nesting check (InputError naming ``source``); a syntax error is ValueError."""
    import json

    check_json_depth(text, source)
    try:
        return json.loads(text)
    except RecursionError:
        raise too_deep(source, "arrays and objects") from None
