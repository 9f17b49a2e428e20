"""Redaction for ``--verbose`` logs: nothing that looks like a credential is ever printed. Pure."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
#: header names whose values are credentials
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"})
#: a field, query parameter or variable is secret when its name matches this
_SECRET_NAME = re.compile(r"token|secret|password|passwd|api[_-]?key|code_verifier|^code$|assertion|credential|authorization|cookie|signature|^sig$", re.I)


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def header(name: str, value: str) -> str:
    if name.lower() not in SECRET_HEADERS and not is_secret_name(name):
        return value
    scheme, sep, _ = value.partition(" ")
    return f"{scheme} {MASK}" if sep and name.lower() in ("authorization", "proxy-authorization") else MASK


def url(text: str) -> str:
    """The URL with the values of token-like query parameters masked (and any user:password@ removed)."""
    parts = urlsplit(text)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    if not parts.query:
        return urlunsplit(parts._replace(netloc=netloc))
    pairs = [(k, MASK if is_secret_name(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(pairs, safe="*:/")))


def fields(data: object) -> object:
    """A copy of a JSON-like value with the values of token-like keys masked, at any depth."""
    if isinstance(data, dict):
        return {k: (MASK if isinstance(k, str) and is_secret_name(k) and v else fields(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [fields(v) for v in data]
    return data
