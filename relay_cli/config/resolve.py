"""Resolve every setting once: command-line flag > environment variable > selected profile > built-in default.

Each value remembers where it came from, for ``relay profile show``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core import environments
from ..errors import UsageError
from .keys import PROFILE_KEYS
from .store import DEFAULT_PROFILE, LOCAL_PROFILE

#: any of these set means the user has chosen a Relay target, so the sandbox is not picked implicitly
TARGET_VARS = ("RELAY_ENV", "RELAY_HOST", "RELAY_API_KEY")

def validate_profile_value(key: str, value: str) -> str:
    """Check a value before it is written to a profile."""
    if key not in PROFILE_KEYS:
        raise UsageError(f"expected one of {', '.join(PROFILE_KEYS)}, got {key!r}", option="KEY")
    if key == "env":
        environments.environment(value, option="env")
    elif key == "host":
        environments.api_base_url(value, option="host")
    elif key == "auth_method":
        if not value or any(ch.isspace() for ch in value):
            raise UsageError(f"expected one word such as Bearer, got {value!r}", option="auth_method")
    elif not value.strip():
        raise UsageError("expected a value, got an empty string", option=key)
    return value


@dataclass(frozen=True)
class Setting:
    value: Any
    source: str  # "flag --x", "env RELAY_X", "profile NAME", "default"


@dataclass
class Settings:
    profile: Setting
    profile_exists: bool
    values: dict[str, Setting] = field(default_factory=dict)
    api_url: Setting = Setting(None, "default")
    api_key_source: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: "relay" (HTTP to api_url) or "local" (the in-process sandbox)
    backend: str = "relay"
    #: CI is set and nothing names a target: commands that need the API must refuse (exit 4)
    ci_unconfigured: bool = False

    def get(self, key: str) -> Any:
        setting = self.values.get(key)
        return setting.value if setting else None


def _headers(environ: Mapping[str, str]) -> dict[str, str]:
    raw = environ.get("RELAY_HEADERS")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise UsageError("expected a JSON object of header names to values", option="RELAY_HEADERS") from None
    if not isinstance(data, dict) or not all(isinstance(v, (str, int, float)) for v in data.values()):
        raise UsageError("expected a JSON object of header names to values", option="RELAY_HEADERS")
    return {str(k): str(v) for k, v in data.items()}


def choose_profile(
    *,
    environ: Mapping[str, str],
    current_profile: str | None,
    flag: str | None = None,
    flag_source: str = "flag --profile",
    configured: bool = True,
) -> Setting:
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


def _label(key: str, setting: Setting) -> str:
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
    profiles: dict[str, dict[str, Any]],
    current_profile: str | None,
    flags: Mapping[str, Any] | None = None,
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

    def pick(key: str, default: Any = None, flag: str | None = None) -> Setting:
        var = PROFILE_KEYS[key][0]
        if flag and flags.get(key) is not None:
            return Setting(flags[key], f"flag {flag}")
        if var and environ.get(var):
            return Setting(environ[var], f"env {var}")
        if stored.get(key) not in (None, ""):
            return Setting(str(stored[key]), f"profile {profile.value}")
        return Setting(default, "default")

    settings = Settings(profile=profile, profile_exists=exists)
    env = pick("env", environments.DEFAULT_ENV)
    settings.values["env"] = env
    envinfo = environments.environment(env.value, option=_label("env", env))
    host = pick("host")
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
    method = settings.values["auth_method"].value
    if not method or any(ch.isspace() for ch in method):
        raise UsageError(f"expected one word such as Bearer, got {method!r}", option=_label("auth_method", settings.values["auth_method"]))
    if profile.value == LOCAL_PROFILE and not host.value:
        settings.backend = "local"
        settings.api_url = Setting("local sandbox", f"profile {LOCAL_PROFILE}")
    settings.ci_unconfigured = nothing_chosen(environ, configured) and bool(environ.get("CI")) and profile.source == "default"
    if environ.get("RELAY_API_KEY"):
        settings.api_key_source = "env RELAY_API_KEY"
    settings.headers = _headers(environ)
    return settings
