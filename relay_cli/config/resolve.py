"""Resolve every setting once: command-line flag > environment variable > selected profile > built-in default.

Each value remembers where it came from, for ``relay profile show``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from .. import inputs
from ..core import environments, suggest
from ..core.redact import value_problem
from ..errors import UsageError
from .keys import PROFILE_KEYS
from .store import DEFAULT_PROFILE, LOCAL_PROFILE

#: any of these set means the user has chosen a Relay target, so the sandbox is not picked implicitly
TARGET_VARS = ("RELAY_ENV", "RELAY_HOST", "RELAY_API_KEY")
#: how long one request may take, from connecting to the last byte of its answer (``--timeout``, ``RELAY_TIMEOUT``)
DEFAULT_TIMEOUT = 30.0
#: the longest deadline accepted: a day
MAX_TIMEOUT = 86400.0
#: an HTTP "token" (RFC 9110): what a header name and an auth scheme word may be made of
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def check_token(value: str, option: str) -> str:
    """An API token from ``option`` (``RELAY_API_KEY``): printable ASCII, one word. The value is never shown."""
    problem = value_problem(value, spaces=False)
    if problem:
        raise UsageError(
            f"expected an API token of printable ASCII characters, got a value with {problem} (not shown)",
            option=option,
            hint="set it to the token alone, with no quotes, spaces or line breaks around it",
        )
    return value


def check_auth_method(value: str, option: str) -> str:
    """The scheme word of the Authorization header. Never shown: a user who put ``Bearer <token>`` here would
    see the token echoed."""
    if not value:
        raise UsageError("expected one word such as Bearer, got ''", option=option)
    problem = value_problem(value, spaces=False) or (
        None if _TOKEN.fullmatch(value) else "a character not allowed in a word"
    )
    if problem:
        raise UsageError(f"expected one word such as Bearer, got a value with {problem} (not shown)", option=option)
    return value


def timeout_setting(environ: Mapping[str, str], flag: float | None = None) -> Setting[float]:
    """The deadline of one request, in seconds: ``--timeout`` > ``RELAY_TIMEOUT`` > 30."""
    given: float | str
    if flag is not None:
        given, source = flag, "flag --timeout"
    elif environ.get("RELAY_TIMEOUT", "").strip():
        given, source = environ["RELAY_TIMEOUT"], "env RELAY_TIMEOUT"
    else:
        return Setting(DEFAULT_TIMEOUT, "default")
    try:
        seconds = float(given)
    except (TypeError, ValueError):
        seconds = math.nan
    if not 0 < seconds <= MAX_TIMEOUT:  # also refuses nan
        raise UsageError(
            f"expected a number of seconds greater than 0 and at most {MAX_TIMEOUT:.0f} (such as 30 or 2.5), "
            f"got {str(given)!r}",
            option=source.split(" ", 1)[1],
        )
    return Setting(seconds, source)


def validate_profile_value(key: str, value: str) -> str:
    """Check a value before it is written to a profile."""
    if key not in PROFILE_KEYS:
        raise UsageError(suggest.expected(key, PROFILE_KEYS), option="KEY")
    if key == "env":
        environments.environment(value, option="env")
    elif key == "host":
        environments.api_base_url(value, option="host")
    elif key == "auth_method":
        check_auth_method(value, "auth_method")
    elif not value.strip():
        raise UsageError("expected a value, got an empty string", option=key)
    return value


T = TypeVar("T", covariant=True)
D = TypeVar("D")


@dataclass(frozen=True)
class Setting(Generic[T]):
    value: T
    source: str  # "flag --x", "env RELAY_X", "profile NAME", "default"


@dataclass
class Settings:
    profile: Setting[str]
    profile_exists: bool
    values: dict[str, Setting[str | None]] = field(default_factory=dict)
    api_url: Setting[str | None] = Setting(None, "default")
    api_key_source: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: "relay" (HTTP to api_url) or "local" (the in-process sandbox)
    backend: str = "relay"
    #: CI is set and nothing names a target: commands that need the API must refuse (exit 4)
    ci_unconfigured: bool = False

    def get(self, key: str) -> str | None:
        setting = self.values.get(key)
        return setting.value if setting else None


def _headers(environ: Mapping[str, str]) -> dict[str, str]:
    """``RELAY_HEADERS``: a JSON object of header names to values. A value is never shown in an error (it may
    be a credential); a name is shown only when it is a valid header name."""
    raw = environ.get("RELAY_HEADERS")
    if not raw:
        return {}
    expected = "expected a JSON object of header names to values"
    try:
        data = inputs.loads_json(raw, "RELAY_HEADERS")
    except (ValueError, inputs.InputError):
        raise UsageError(expected, option="RELAY_HEADERS") from None
    if not isinstance(data, dict) or not all(isinstance(v, (str, int, float)) for v in data.values()):
        raise UsageError(expected, option="RELAY_HEADERS")
    headers: dict[str, str] = {}
    for number, (name, value) in enumerate(data.items(), 1):
        if not _TOKEN.fullmatch(name):
            raise UsageError(
                f"{expected}; header name number {number} is not a valid header name (letters, digits and "
                "!#$%&'*+-.^_`|~ only)",
                option="RELAY_HEADERS",
            )
        text = str(value)
        problem = value_problem(text, spaces=True)
        if problem:
            raise UsageError(
                f"the value of header {name} has {problem}; it is not shown",
                option="RELAY_HEADERS",
                hint="header values are printable ASCII, with no spaces or line breaks around them",
            )
        headers[name] = text
    return headers


def choose_profile(
    *,
    environ: Mapping[str, str],
    current_profile: str | None,
    flag: str | None = None,
    flag_source: str = "flag --profile",
    configured: bool = True,
) -> Setting[str]:
    """Which profile is selected, and why. Reads nothing but its arguments, so it cannot fail."""
    if flag:
        return Setting(flag, flag_source)
    if environ.get("RELAY_PROFILE"):
        return Setting(environ["RELAY_PROFILE"], "env RELAY_PROFILE")
    if current_profile:
        return Setting(current_profile, "config current_profile")
    if nothing_chosen(environ, configured) and not environ.get("CI"):
        return Setting(LOCAL_PROFILE, "default (nothing configured)")
    return Setting(DEFAULT_PROFILE, "default")


def nothing_chosen(environ: Mapping[str, str], configured: bool) -> bool:
    return not configured and not any(environ.get(v) for v in TARGET_VARS)


def _label(key: str, setting: Setting[object]) -> str:
    """How to name a setting's origin in an error: the flag, the variable, or the key in its profile."""
    kind, _, where = setting.source.partition(" ")
    if kind in ("flag", "env"):
        return where
    if kind == "profile":
        return f"{key} (profile {where})"
    return key


def resolve(
    *,
    environ: Mapping[str, str],
    profiles: Mapping[str, Mapping[str, object]],
    current_profile: str | None,
    flags: Mapping[str, str | None] | None = None,
    configured: bool = True,
    profile_source: str = "flag --profile",
) -> Settings:
    """``flags`` maps profile keys (and ``profile``) to values given on the command line (None = not given).

    ``configured`` says whether the config file defines any profile. When it does not, and no
    ``RELAY_ENV`` / ``RELAY_HOST`` / ``RELAY_API_KEY`` is set, the built-in ``local`` sandbox profile is the
    default — except under CI (``CI`` set), where nothing is chosen implicitly.
    """
    flags = dict(flags or {})
    profile = choose_profile(
        environ=environ,
        current_profile=current_profile,
        flag=flags.get("profile"),
        flag_source=profile_source,
        configured=configured,
    )
    exists = profile.value in profiles or profile.value == LOCAL_PROFILE
    stored = profiles.get(profile.value, {})

    def pick(key: str, default: D, flag: str | None = None) -> Setting[str | D]:
        var = PROFILE_KEYS[key][0]
        given = flags.get(key)
        if flag and given is not None:
            return Setting(given, f"flag {flag}")
        if var and environ.get(var):
            return Setting(environ[var], f"env {var}")
        if stored.get(key) not in (None, ""):
            return Setting(str(stored[key]), f"profile {profile.value}")
        return Setting(default, "default")

    settings = Settings(profile=profile, profile_exists=exists)
    env = pick("env", environments.DEFAULT_ENV)
    settings.values["env"] = env
    envinfo = environments.environment(env.value, option=_label("env", env))
    host = pick("host", None)
    settings.values["host"] = host
    if host.value:
        settings.api_url = Setting(environments.api_base_url(host.value, option=_label("host", host)), host.source)
    else:
        settings.api_url = Setting(envinfo.api_url, env.source if env.source != "default" else "default")
    settings.values["subscriber_id"] = pick("subscriber_id", None, flag="--subscriber-id")
    settings.values["auth_method"] = pick("auth_method", "Bearer")
    settings.values["auth_client_id"] = pick("auth_client_id", envinfo.client_id)
    settings.values["auth_sdk_client_id"] = pick("auth_sdk_client_id", envinfo.sdk_client_id)
    settings.values["auth_issuer"] = pick("auth_issuer", envinfo.issuer)
    settings.values["auth_redirect_uri"] = pick(
        "auth_redirect_uri", f"http://{envinfo.redirect_host}:8079/authorization-code/callback"
    )
    check_auth_method(
        str(settings.values["auth_method"].value or ""), _label("auth_method", settings.values["auth_method"])
    )
    if profile.value == LOCAL_PROFILE and not host.value:
        settings.backend = "local"
        settings.api_url = Setting("local sandbox", f"profile {LOCAL_PROFILE}")
    settings.ci_unconfigured = (
        nothing_chosen(environ, configured) and bool(environ.get("CI")) and profile.source == "default"
    )
    if environ.get("RELAY_API_KEY"):
        settings.api_key_source = "env RELAY_API_KEY"
    settings.headers = _headers(environ)
    return settings
