"""``relay api PATH``: where a request goes, its placeholders and its fields. Pure.

- PATH: relative (``workflow``) goes under ``/ibot/`` as the reference CLI's ``api`` sends it; absolute
  (``/ibot/workflow``) as given; a full URL only when it names the API's own host (credentials never leave it).
- Placeholders ``{subscriber_id}`` and ``{user_id}``, in PATH and in ``-F`` values.
- Fields as ``gh api`` takes them: ``-f key=value`` a string, ``-F key=value`` typed (integers and decimals,
  ``true``/``false``/``null``; ``@file`` is read by the command), ``key[sub]=v`` a nested object, ``key[]=v`` an
  array; a JSON object as a request's body, or query parameters of a GET.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlsplit

from ..errors import UsageError
from ..jsontypes import JSONObject, JSONValue
from . import suggest

#: the reference CLI's ``api`` puts a relative endpoint here
PREFIX = "/ibot/"
PLACEHOLDERS = ("subscriber_id", "user_id")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

_PLACEHOLDER = re.compile(r"\{([^{}/?&=\s]*)\}")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?$")
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def method(value: str | None, has_body: bool) -> str:
    """``-X`` upper-cased and checked; without it GET, or POST when fields or ``--input`` make a body."""
    if value is None:
        return "POST" if has_body else "GET"
    upper = value.strip().upper()
    if upper not in METHODS:
        raise UsageError(suggest.expected(value, METHODS), option="--method")
    return upper


def placeholders(text: str, option: str) -> list[str]:
    """The placeholders ``text`` uses, in order; an unknown one is a UsageError naming ``option``."""
    names = []
    for match in _PLACEHOLDER.finditer(text):
        name = match.group(1)
        if name not in PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            best = suggest.closest(name, PLACEHOLDERS)
            hint = f"; did you mean {{{best}}}?" if best else ""
            raise UsageError(f"unknown placeholder {{{name}}}{hint} (known: {known})", option=option)
        names.append(name)
    return names


def fill(text: str, values: dict[str, str], *, quoted: bool) -> str:
    """``text`` with each placeholder replaced by its value (``quoted``: percent-encoded, for a URL)."""
    return _PLACEHOLDER.sub(lambda m: quote(values[m.group(1)], safe="") if quoted else values[m.group(1)], text)


@dataclass(frozen=True)
class Target:
    """Where the request goes on the API's host: an absolute path, and the query PATH carried."""

    path: str
    query: list[tuple[str, str]]


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def target(text: str, base_url: str) -> Target:
    """PATH (placeholders already filled) → where it goes on the host of ``base_url``; a UsageError naming PATH for
    anything else (another host, another scheme, a blank or a control character)."""
    value = text.strip()
    if not value:
        raise UsageError("expected an API path such as workflow or /ibot/workflow, got an empty string", option="PATH")
    if _CONTROL.search(value) or any(ch.isspace() for ch in value):
        raise UsageError(f"expected a path without spaces or control characters, got {text!r}", option="PATH")
    if _SCHEME.match(value):
        try:
            given, own = _origin(value), _origin(base_url)
        except ValueError:
            raise UsageError(f"expected a URL or a path, got {text!r}", option="PATH") from None
        if given != own or given[0] not in ("http", "https"):
            base = urlsplit(base_url)
            raise UsageError(
                f"{value.split('?')[0]} is not on the API's host ({base.scheme}://{base.netloc}): relay sends your "
                "credentials only there; give a path on it, e.g. /ibot/workflow",
                option="PATH",
            )
        parts = urlsplit(value)
        path, query = parts.path or "/", parts.query
    else:
        if value.startswith("//"):
            raise UsageError(f"expected a path, got {text!r}, which names a host", option="PATH")
        path, _, query = value.partition("?")
        path = path.split("#", 1)[0]
        if not path.startswith("/"):
            path = PREFIX + path
    if "\\" in path:
        raise UsageError(f"expected a path with / between its parts, got {text!r}", option="PATH")
    return Target(path, parse_qsl(query.split("#", 1)[0], keep_blank_values=True))


# --- fields ------------------------------------------------------------------------------------------


def split_field(text: str, option: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"expected KEY=VALUE, got {text!r}", option=option)
    return key, value


def typed(value: str) -> JSONValue:
    """A ``-F`` value: true, false, null, an integer or a finite decimal number as JSON; anything else a string."""
    if value in ("true", "false"):
        return value == "true"
    if value == "null":
        return None
    if _INTEGER.match(value):
        return int(value)
    if _DECIMAL.match(value):
        number = float(value)
        if math.isfinite(number):
            return number
    return value


def _steps(key: str, option: str) -> list[str]:
    """``a[b][]`` → ``["a", "b", ""]`` ("" is "append to an array")."""
    match = _KEY.match(key)
    if match is None:
        raise UsageError(f"expected a key such as name, name[sub] or name[], got {key!r}", option=option)
    return [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]


def nest(fields: list[tuple[str, JSONValue, str]]) -> JSONObject:
    """The fields (key, value, flag), in order, as one JSON object: ``a[b]=1`` → ``{"a": {"b": 1}}``,
    ``a[]=1 a[]=2`` → ``{"a": [1, 2]}``; a key given twice takes the last value; a key both a value and an
    object (``a=1 a[b]=2``) is a UsageError."""
    body: JSONObject = {}
    for key, value, option in fields:
        steps = _steps(key, option)
        node: JSONValue = body
        for i, step in enumerate(steps):
            last = i == len(steps) - 1
            following: JSONValue = value if last else ([] if steps[i + 1] == "" else {})
            if step == "":
                if not isinstance(node, list):
                    raise UsageError(f"{key!r} mixes an array with an object", option=option)
                if last:
                    node.append(following)
                    break
                if steps[i + 1] == "" or not node or not isinstance(node[-1], dict) or steps[i + 1] in node[-1]:
                    node.append(following)  # a[][x]=1 a[][y]=2: one object; a[][x]=1 a[][x]=2: two
                node = node[-1]
                continue
            if not isinstance(node, dict):
                raise UsageError(f"{key!r} mixes an array with an object", option=option)
            if last:
                if isinstance(node.get(step), (dict, list)):
                    raise UsageError(f"{key!r}: {step!r} is given both as a value and as an object", option=option)
                node[step] = value
                break
            if step not in node or not isinstance(node[step], (dict, list)):
                if step in node:
                    raise UsageError(f"{key!r}: {step!r} is given both as a value and as an object", option=option)
                node[step] = following
            elif isinstance(node[step], list) != isinstance(following, list):
                raise UsageError(f"{key!r} mixes an array with an object", option=option)
            node = node[step]
    return body


def query_value(value: JSONValue) -> str:
    """A field's value in a query string: JSON's spelling of true, false and null; numbers as written."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
