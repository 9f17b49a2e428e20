"""TOML text: the one writer of TOML that relay makes from values (``relay workflow export``'s manifest, the key
paths that messages about ``relay.toml`` and the config file name). Only what those hold: strings, booleans,
numbers, arrays, tables, and JSON in a literal string (a manifest's raw form).

The config file is edited in place with tomlkit instead (relay_cli/config/store.py), which keeps the user's
comments and layout: an edit of a document, not a document written from values."""

from __future__ import annotations

import json
import math
import re

from ..jsontypes import JSONObject
from .kinds import toml_kind


class NotRepresentable(ValueError):
    """A value a manifest cannot hold as it is (a lone surrogate, a float that is not finite, a trigger or an arg
    the typed form cannot describe)."""


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


#: what ``string`` writes otherwise than as it is
_SPECIAL = re.compile(r'["\\\x00-\x1f\x7f-\x9f\ud800-\udfff]')


def string(text: str) -> str:
    """A TOML basic string; control characters (C0, DEL, C1) escaped. A lone surrogate (which JSON can carry and
    TOML cannot) is ``NotRepresentable``."""
    if not _SPECIAL.search(text):  # most text: checked in one pass (`export` writes thousands of tables)
        return '"' + text + '"'
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0:
            out.append(f"\\u{ord(ch):04x}")
        elif 0xD800 <= ord(ch) < 0xE000:
            raise NotRepresentable("a lone surrogate cannot be written to TOML")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def key(name: str) -> str:
    """A key: bare when it may be, else a basic string."""
    return name if _BARE_KEY.match(name) else string(name)


def value(item: object) -> str:
    """A value: a boolean, an integer, a finite float, a string, an array or an inline table of them."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        if not math.isfinite(item):
            raise NotRepresentable(f"{item} is not a finite number")
        text = repr(item)
        return text if any(c in text for c in ".eE") else text + ".0"
    if isinstance(item, str):
        return string(item)
    if isinstance(item, list):
        return "[" + ", ".join(value(v) for v in item) + "]"
    if isinstance(item, dict):
        return "{" + ", ".join(f"{key(k)} = {value(v)}" for k, v in item.items()) + "}"
    raise NotRepresentable(f"{toml_kind(item)} cannot be written to a manifest")


def table_lines(path: tuple[str, ...], table: JSONObject) -> list[str]:
    """``[path]`` and its keys, then a ``[path.key]`` table for each value that is a table."""
    lines = ["[" + ".".join(key(p) for p in path) + "]"]
    subtables = []
    for name, item in table.items():
        if isinstance(item, dict):  # args, and a trigger's name = value pairs
            subtables.append((name, item))
        else:
            lines.append(f"{key(name)} = {value(item)}")
    for name, item in subtables:
        lines.append("")
        lines.append("[" + ".".join(key(p) for p in (*path, name)) + "]")
        lines.extend(f"{key(k)} = {value(v)}" for k, v in item.items())
    return lines


#: in the raw form's JSON, written as JSON escapes: what a TOML literal string cannot hold (DEL), what a TOML
#: document cannot hold at all (a lone surrogate), and what a terminal would act on (C1 controls; JSON already
#: escapes C0) or hide (bidi overrides, zero-width characters). JSON reads each escape back as the same character.
_RAW_ESCAPE = re.compile(r"[\x7f-\x9f\ud800-\udfff\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def json_literal(item: JSONObject) -> str:
    """``item`` as indented JSON in a TOML multi-line literal string ('''...''')."""
    text = json.dumps(item, ensure_ascii=False, indent=2, allow_nan=False)
    text = _RAW_ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    if "'''" in text:  # an apostrophe only occurs inside a JSON string, where \u0027 means the same
        text = text.replace("'", "\\u0027")
    return "'''" + text + "'''"
