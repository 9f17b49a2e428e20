"""State: the settings resolved once at the root callback, and the API client, created on first use.

This module and ``relay_cli.commands`` are the only places that read environment variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .config.resolve import Settings, resolve
from .config.store import ProfileStore
from .errors import AuthError, NotFoundError, UsageError

if TYPE_CHECKING:
    from .api.client import RelayClient

USER_AGENT = f"relay-cli/{__version__}"


def config_dir(environ: Mapping[str, str]) -> Path:
    if environ.get("RELAY_CONFIG_DIR"):
        return Path(environ["RELAY_CONFIG_DIR"]).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("relay", appauthor=False))


class State:
    def __init__(self, *, profile_flag: str | None = None, environ: Mapping[str, str] | None = None) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.store = ProfileStore(config_dir(self.environ))
        self.profile_flag = profile_flag
        self._settings: Settings | None = None
        self._client: RelayClient | None = None
        self._default_subscriber: str | None = None

    # --- settings --------------------------------------------------------------------------------

    def resolve_for(self, profile: str | None = None) -> Settings:
        """Settings as if ``profile`` were selected (default: the selected one); the profile may not exist."""
        return resolve(
            environ=self.environ,
            profiles=self.store.profiles(),
            current_profile=self.store.current(),
            flags={"profile": profile or self.profile_flag},
        )

    def selected_profile(self) -> str:
        if self.profile_flag:
            return self.profile_flag
        return self.environ.get("RELAY_PROFILE") or self.store.current() or "default"

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = self.resolve_for()
            if not self._settings.profile_exists:
                name = self._settings.profile.value
                raise UsageError(
                    f"no profile named {name!r}",
                    option=self._settings.profile.source.split(" ", 1)[-1],
                    hint=f"`relay profile list` shows the profiles; `relay profile add {name}` creates it",
                )
        return self._settings

    @property
    def profile_name(self) -> str:
        return str(self.settings.profile.value)

    @property
    def api_url(self) -> str:
        return str(self.settings.api_url.value)

    def configured_subscriber(self, flag: str | None = None) -> str | None:
        """The account from -s, RELAY_SUBSCRIBER_ID or the profile; None when none is set."""
        if flag is not None:
            if not flag.strip():
                raise UsageError("expected a subscriber id, got an empty string", option="--subscriber-id")
            return flag.strip()
        value = self.settings.get("subscriber_id")
        return str(value) if value else None

    def subscriber_id(self, flag: str | None = None) -> str:
        """The account to act on; when none is configured, the default account the server names."""
        configured = self.configured_subscriber(flag)
        if configured:
            return configured
        if self._default_subscriber is None:
            contexts = self.client().authz_context()
            ids = [c.get("subscriber_id") for c in contexts if isinstance(c, dict) and c.get("subscriber_id")]
            if not ids:
                raise NotFoundError(
                    "no subscriber id is configured and the server names no default account",
                    hint="pass -s/--subscriber-id, set RELAY_SUBSCRIBER_ID, or `relay profile set subscriber_id ID`",
                )
            self._default_subscriber = str(ids[0])
        return self._default_subscriber

    # --- API -------------------------------------------------------------------------------------

    def token(self) -> str:
        key = self.environ.get("RELAY_API_KEY")
        if key:
            return key
        from .auth.tokens import load_access_token

        stored = load_access_token(self.profile_name, self.api_url)
        if stored:
            return stored
        raise AuthError(
            f"not logged in to {self.api_url} (profile {self.profile_name!r})",
            hint="set RELAY_API_KEY to an API token, or run `relay login`",
        )

    def client(self) -> RelayClient:
        if self._client is None:
            from .api.client import RelayClient

            settings = self.settings
            self._client = RelayClient(
                self.api_url,
                token=self.token(),
                auth_method=str(settings.get("auth_method")),
                user_agent=USER_AGENT,
                headers=settings.headers,
                transport=self.transport(),
            )
        return self._client

    def transport(self) -> Any:
        """The httpx transport to use; None means the network. The local sandbox plugs in here."""
        return None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
