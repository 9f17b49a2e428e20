"""Where stored tokens live: the operating system's keyring (service ``relay-cli``, one entry per profile and API host).

``relay login`` (a later release) writes them; every command reads them. ``RELAY_API_KEY`` always wins.
"""

from __future__ import annotations

SERVICE = "relay-cli"


def entry_name(profile: str, api_url: str) -> str:
    return f"{profile}@{api_url}"


def load_access_token(profile: str, api_url: str) -> str | None:
    """The stored access token for this profile and API host, or None (no entry, or no usable keyring)."""
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:  # pragma: no cover - keyring is a dependency
        return None
    try:
        value = keyring.get_password(SERVICE, entry_name(profile, api_url))
    except (KeyringError, RuntimeError, OSError):
        return None
    if not value:
        return None
    # the entry is a JSON document {"access_token": ..., "refresh_token": ...} or a bare token
    if value.startswith("{"):
        import json

        try:
            return json.loads(value).get("access_token") or None
        except ValueError:
            return None
    return value
