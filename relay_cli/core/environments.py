"""Relay's environments and how an API host setting becomes a base URL. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import UsageError
from . import suggest
from .workflow import is_loopback


@dataclass(frozen=True)
class Environment:
    name: str
    api_url: str
    issuer: str
    client_id: str
    sdk_client_id: str
    redirect_host: str


ENVIRONMENTS = {
    "pro": Environment(
        name="pro",
        api_url="https://all-main-pro-ibot.relaysvr.com",
        issuer="https://auth.relaypro.com/realms/Relay",
        client_id="83756T4P",
        sdk_client_id="RJZKRhh9",
        redirect_host="auth-localredirect.relaypro.com",
    ),
    "qa": Environment(
        name="qa",
        api_url="https://all-main-qa-ibot.relaysvr.com",
        issuer="https://auth2.relaygo.info/realms/Relay",
        client_id="4EgeETYm",
        sdk_client_id="rGGK996c",
        redirect_host="auth2-localredirect.relaygo.info",
    ),
}
DEFAULT_ENV = "pro"


def environment(name: str, option: str = "env") -> Environment:
    if name not in ENVIRONMENTS:
        raise UsageError(suggest.expected(name, ENVIRONMENTS), option=option)
    return ENVIRONMENTS[name]


def api_base_url(host: str, option: str = "host") -> str:
    """``RELAY_HOST`` / profile ``host``: a host name (https is implied) or a full base URL.

    Plain http is accepted only to a loopback host. A user name or password in the URL (``user:pw@host``) is
    refused without echoing the value: credentials go in ``RELAY_API_KEY`` or a login, never in the host.
    """
    text = host.strip()
    if not text:
        raise UsageError("expected a host name or a base URL, got an empty string", option=option)
    if "://" not in text:
        text = f"https://{text}"
    authority = re.split(r"[/?#]", text.partition("://")[2], maxsplit=1)[0]
    if "@" in authority:
        raise UsageError(
            "expected a host name or a base URL without a user name or password (user:password@host); "
            "the value is not shown, since it holds a credential",
            option=option,
            hint="give the API token in RELAY_API_KEY, or log in with `relay login`",
        )
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise UsageError(
            f"expected a host name or a base URL, got {host!r} (it contains spaces or control characters)",
            option=option,
        )
    try:
        parts = urlsplit(text)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:  # a bad port, or a malformed IPv6 address such as "http://[::1"
        parts, hostname = None, None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not hostname or parts.query or parts.fragment:
        raise UsageError(
            f"expected a host name or a base URL such as https://api.example.com, got {host!r}", option=option
        )
    if parts.scheme.lower() == "http" and not is_loopback(hostname):
        raise UsageError(f"plain http is only allowed to a loopback host; use https://, got {host!r}", option=option)
    return text.rstrip("/")
