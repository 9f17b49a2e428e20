"""Redaction: nothing that looks like a credential is ever printed (``--verbose`` logs, error messages). Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
#: header names whose values are credentials
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"})
#: a field, query parameter or variable is secret when its name matches this
_SECRET_NAME = re.compile(
    r"token|secret|password|passwd|api[_-]?key|code_verifier|^code$|assertion|credential|authorization|cookie|signature|^sig$",
    re.I,
)
#: a known secret shorter than this is not searched for in text (it would mask ordinary words)
MIN_SECRET = 4


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def header(name: str, value: str) -> str:
    if name.lower() not in SECRET_HEADERS and not is_secret_name(name):
        return value
    scheme, sep, _ = value.partition(" ")
    return f"{scheme} {MASK}" if sep and name.lower() in ("authorization", "proxy-authorization") else MASK


def url(text: str) -> str:
    """The URL with the values of token-like query parameters masked (and any user:password@ removed).
    A text that is not a URL at all is returned with anything before an ``@`` removed."""
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. "http://[::1": no secret is parsed out of it, so none is shown
        return text.rsplit("@", 1)[-1] if "@" in text else text
    netloc = parts.netloc.rsplit("@", 1)[-1]
    if not parts.query:
        return urlunsplit(parts._replace(netloc=netloc))
    pairs = [(k, MASK if is_secret_name(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(pairs, safe="*:/")))


def userinfo(text: str) -> str:
    """A host or base URL as written, with any ``user:password@`` shown as the mask (``https://***@host``)."""
    if "@" not in text:
        return text
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    return f"{scheme}{sep}{MASK}@{rest.rsplit('@', 1)[-1]}"


def fields(data: object) -> object:
    """A copy of a JSON-like value with the values of token-like keys masked, at any depth."""
    if isinstance(data, dict):
        return {k: (MASK if isinstance(k, str) and is_secret_name(k) and v else fields(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [fields(v) for v in data]
    return data


def known(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each known secret value (a token, a header value) replaced by the mask.
    The longest secrets go first, so one that contains another is masked whole."""
    for secret in sorted({s for s in secrets if s and len(s) >= MIN_SECRET}, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def command(text: str) -> str:
    """A shell command as it is shown (``relay workflow dev --tunnel``): the value of a secret-like option
    (``--authtoken X``, ``--token=X``) or variable assignment (``NGROK_AUTHTOKEN=X ngrok ...``) masked."""
    out: list[str] = []
    mask_next = False
    for word in text.split(" "):
        if mask_next and word:
            out.append(MASK)
            mask_next = False
            continue
        name, eq, _value = word.partition("=")
        if word.startswith("-") and is_secret_name(name.lstrip("-")):
            if eq:
                word = f"{name}={MASK}"
            else:
                mask_next = True
        elif eq and _ASSIGNMENT.fullmatch(name) and is_secret_name(name):
            word = f"{name}={MASK}"
        out.append(word)
    return " ".join(out)


def value_problem(value: str, *, spaces: bool) -> str | None:
    """Why ``value`` (a token, a header value) cannot go into an HTTP header as it is, in words that never
    repeat it; None when it can. ``spaces``: spaces inside the value are allowed (a header value) or not (a
    token, a scheme word)."""
    if value != value.strip():
        return "spaces or a line break at its start or end"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return "a control character (a line break, a tab, ...)"
    if not value.isascii():
        return "a non-ASCII character"
    if not spaces and " " in value:
        return "a space"
    return None
