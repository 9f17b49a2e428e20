"""State: the settings resolved once at the root callback, the command's Output, and the API client, created on
first use.

This module and ``relay_cli.commands`` are the only places that read environment variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .config.resolve import Settings, check_token, choose_profile, resolve, timeout_setting
from .config.store import ProfileStore
from .core.environments import ENVIRONMENTS
from .core.redact import value_problem
from .errors import AuthError, NotFoundError, RelayError, UsageError
from .jsontypes import JSONObject
from .output import Output, current

if TYPE_CHECKING:
    import httpx

    from .api.client import RelayClient
    from .api.verbose import HttpLog
    from .auth.tokens import TokenStore
    from .config.resolve import Setting

USER_AGENT = f"relay-cli/{__version__}"
#: the in-process sandbox checks a token like the real server does; this one never leaves the process
LOCAL_TOKEN = "local-sandbox"
LOCAL_BASE_URL = "http://sandbox.relay.invalid"
#: what is kept of the token endpoint's answer
TOKEN_FIELDS = ("access_token", "refresh_token", "id_token")


def config_dir(environ: Mapping[str, str]) -> Path:
    if environ.get("RELAY_CONFIG_DIR"):
        return Path(environ["RELAY_CONFIG_DIR"]).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("relay", appauthor=False))


def data_dir(environ: Mapping[str, str]) -> Path:
    if environ.get("RELAY_DATA_DIR"):
        return Path(environ["RELAY_DATA_DIR"]).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("relay", appauthor=False))


def sandbox_db(environ: Mapping[str, str]) -> Path:
    """The local sandbox's database (shared by the `local` profile and `relay server`)."""
    return data_dir(environ) / "sandbox.db"


def target_key(settings: Settings) -> tuple[str, str | None, str, bool]:
    """What decides where requests go: the backend, its URL, the profile (whose login is used)."""
    return (settings.backend, settings.api_url.value, settings.profile.value, settings.ci_unconfigured)


def describe_target(settings: Settings, *, url: bool = True, with_profile: bool = False) -> str:
    """``Relay production (https://...)``, ``Relay QA (https://...)``, ``https://host`` or ``the local sandbox``;
    ``with_profile`` adds `` as profile 'NAME'`` (but for the sandbox)."""
    if settings.ci_unconfigured:
        return "nowhere (CI is set and no Relay target is configured)"
    if settings.backend == "local":
        return "the local sandbox"
    address = str(settings.api_url.value)
    where = address
    names = {"pro": "Relay production", "qa": "Relay QA"}
    for name, env in ENVIRONMENTS.items():
        if env.api_url == address:
            where = f"{names.get(name, f'Relay {name}')} ({address})" if url else names.get(name, f"Relay {name}")
    return f"{where} as profile {settings.profile.value!r}" if with_profile else where


@dataclass(frozen=True)
class Target:
    """Where the commands' requests go, for those that act otherwise on a sandbox (``relay sandbox``, ``dev
    --device``, ``doctor``)."""

    sandbox: bool  # the in-process sandbox or a relay server: the app's loopback address will do
    relay: bool  # one of Relay's own environments (known without a request)
    where: str  # for messages: "the local sandbox", "Relay production (https://...)", "the sandbox at http://..."
    here: bool  # the sandbox runs on this machine (in-process, or relay server on a loopback host)


class State:
    def __init__(
        self,
        *,
        profile_flag: str | None = None,
        environ: Mapping[str, str] | None = None,
        verbose: bool = False,
        timeout_flag: float | None = None,
        out: Output | None = None,
    ) -> None:
        #: where the command's output goes (the one of the command line running, unless given)
        self.out = out if out is not None else current()
        self.environ = dict(os.environ if environ is None else environ)
        self.store = ProfileStore(config_dir(self.environ))
        self.profile_flag = profile_flag
        self.verbose = verbose
        self.timeout_flag = timeout_flag
        self._http_log: HttpLog | None = None
        self._settings: Settings | None = None
        self._client: RelayClient | None = None
        self._default_subscriber: str | None = None
        self._noted_sandbox_write = False

    # --- settings --------------------------------------------------------------------------------

    def resolve_for(self, profile: str | None = None) -> Settings:
        """Settings as if ``profile`` were selected (default: the selected one); the profile may not exist."""
        return resolve(
            environ=self.environ,
            profiles=self.store.profiles(),
            current_profile=self.store.current(),
            flags={"profile": profile or self.profile_flag},
            configured=self.store.configured(),
            profile_source="argument NAME" if profile else "flag --profile",
        )

    def selected_profile(self) -> str:
        """The selected profile's name (it may not exist). Never fails on a bad value in a profile."""
        return str(self.selected_profile_setting().value)

    def selected_profile_setting(self) -> Setting[str]:
        """The selected profile and why it is selected (a ``config.resolve.Setting``)."""
        return choose_profile(
            environ=self.environ,
            current_profile=self.store.current(),
            flag=self.profile_flag,
            configured=self.store.configured(),
        )

    def use_profile(self, name: str) -> None:
        """Act as if ``--profile NAME`` had been given: the settings are resolved again when next needed, and a
        client made for the former ones is closed."""
        self.profile_flag = name
        self._settings = None
        self._default_subscriber = None
        self.close()

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

    @property
    def is_local(self) -> bool:
        return self.settings.backend == "local"

    def target(self) -> Target:
        """The local sandbox, one of Relay's environments (no request), or whatever RELAY_HOST names, asked whether
        it is a sandbox (``GET /_sandbox/info``). Nowhere, when CI is set and nothing is configured."""
        where = describe_target(self.settings)
        if self.is_local:
            return Target(sandbox=True, relay=False, where=where, here=True)
        relay = self.api_url.rstrip("/") in {env.api_url.rstrip("/") for env in ENVIRONMENTS.values()}
        if relay or self.settings.ci_unconfigured:
            return Target(sandbox=False, relay=relay, where=where, here=False)
        from urllib.parse import urlsplit

        from .core.sandbox import SANDBOX_NAME
        from .core.workflow import is_loopback
        from .errors import ApiNotFoundError

        try:
            info = self.client().sandbox_info()
        except ApiNotFoundError:
            info = {}
        if info.get("sandbox") != SANDBOX_NAME:
            return Target(sandbox=False, relay=False, where=where, here=False)
        here = is_loopback(urlsplit(self.api_url).hostname)
        return Target(sandbox=True, relay=False, where=f"the sandbox at {self.api_url}", here=here)

    # --- where later commands go --------------------------------------------------------------------

    def later_target(self) -> Settings | None:
        """The settings a later command would resolve to (no --profile; this environment; the file as it is
        now), or None when they cannot be resolved (a bad value somewhere: that command will say so)."""
        try:
            return resolve(
                environ=self.environ,
                profiles=self.store.profiles(),
                current_profile=self.store.current(),
                flags={},
                configured=self.store.configured(),
            )
        except RelayError:
            return None

    def announce_target(self, before: Settings | None) -> None:
        """After a command that changed the config file (a profile added, set, used, removed; a login): when
        later commands now go to another backend than ``before``, say so on stderr, and how to go back."""
        after = self.later_target()
        if before is None or after is None or target_key(before) == target_key(after):
            return
        text = f"note: commands now go to {describe_target(after, with_profile=True)} (before: {describe_target(before, url=False, with_profile=True)})"
        if before.backend == "local" and after.backend != "local":
            text += "; `relay profile use local` returns to the sandbox"
        elif before.profile.value != after.profile.value and before.profile.value in self.store.profiles():
            text += f"; `relay profile use {before.profile.value}` goes back"
        self.out.message(text)

    def describe_request(self, method: str, path: str) -> str:
        """``POST https://host/ibot/workflow`` or ``POST /ibot/workflow on the local sandbox``."""
        if self.is_local:
            return f"{method} {path} on the local sandbox ({sandbox_db(self.environ)})"
        return f"{method} {self.api_url}{path}"

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
        """The token to send: the sandbox's, ``RELAY_API_KEY`` (checked: exit 2 when it cannot be sent), or the
        stored login's access token (checked: exit 4 when it is damaged). A bad value is never shown."""
        if self.settings.ci_unconfigured:
            raise AuthError(
                "CI is set and no Relay target is configured, so nothing was sent",
                hint="set RELAY_API_KEY (and RELAY_ENV or RELAY_HOST if not pro), or select a profile with --profile/"
                "RELAY_PROFILE; in CI the local sandbox is only used when asked for (--profile local)",
            )
        if self.is_local:
            return LOCAL_TOKEN
        key = self.environ.get("RELAY_API_KEY")
        if key:
            return check_token(key, "RELAY_API_KEY")
        stored = self.stored_tokens()
        if stored:
            access = str(stored.get("access_token") or "")
            problem = "nothing" if not access else value_problem(access, spaces=False)
            if problem:
                raise AuthError(
                    f"the stored login of profile {self.profile_name!r} cannot be used: its access token has "
                    f"{problem} (not shown)",
                    hint="run `relay login` again, or set RELAY_API_KEY",
                )
            return access
        login = "relay login" if self.profile_flag is None else f"relay -P {self.profile_name} login"
        hint = f"set RELAY_API_KEY to an API token, or run `{login}`"
        if not self.environ.get("CI"):
            hint += "; `relay profile use local` returns to the local sandbox"
        raise AuthError(f"not logged in to {describe_target(self.settings, with_profile=True)}", hint=hint)

    def identity(self) -> dict[str, str | None]:
        """Who the login is: name, email and user id, from the stored login's id token, else from the token itself
        (an API key may be a JWT); all None on the sandbox. Fails as ``token`` does when there is no login."""
        from .core.oidc import identity, jwt_claims

        if self.is_local:
            return {"name": "local sandbox", "email": None, "user_id": None}
        token = self.token()
        stored = None if self.environ.get("RELAY_API_KEY") else self.stored_tokens()
        id_token = stored.get("id_token") if stored else None  # a string, as login stored it
        claims = jwt_claims(id_token) if isinstance(id_token, str) else {}
        return identity(claims or jwt_claims(token))

    def timeout(self) -> float:
        """The deadline of one request, in seconds (``--timeout`` > ``RELAY_TIMEOUT`` > 30)."""
        return float(timeout_setting(self.environ, self.timeout_flag).value)

    def host_question(self) -> str | None:
        """What an error asks when an answer is not the API's: is the setting that chose the host right?"""
        if self.is_local:
            return None
        kind, _, where = self.settings.api_url.source.partition(" ")
        if kind == "env":
            return f"is {where} right?"
        if kind == "profile":
            return f"is the host of profile {where!r} right?"
        return "is a proxy or a login page in the way?"

    def client(self) -> RelayClient:
        if self._client is None:
            self._client = self.new_client()
        return self._client

    def new_client(self) -> RelayClient:
        """A client of its own (for a thread that streams while the command's client goes on with its
        requests); the caller closes it."""
        from .api.client import RelayClient

        settings = self.settings
        timeout = self.timeout()
        token = self.token()
        return RelayClient(
            LOCAL_BASE_URL if self.is_local else self.api_url,
            token=token,
            auth_method=str(settings.get("auth_method")),
            user_agent=USER_AGENT,
            headers=settings.headers,
            transport=self.transport(),
            timeout=timeout,
            label="the local sandbox" if self.is_local else None,
            host_question=self.host_question(),
            on_write=self._note_sandbox_write if self.is_local else None,
            on_unauthorized=None if self.is_local or self.environ.get("RELAY_API_KEY") else self.refresh_login,
            api_key_source="RELAY_API_KEY" if not self.is_local and self.environ.get("RELAY_API_KEY") else None,
            log=self.http_log(),
            notice=self.out.warning,
        )

    # --- stored login ----------------------------------------------------------------------------

    def token_store(self) -> TokenStore:
        from .auth.tokens import TokenStore

        return TokenStore(self.store.directory, note=self.out.message)

    def stored_tokens(self) -> JSONObject | None:
        return self.token_store().load(self.profile_name, self.api_url)

    def http_log(self) -> HttpLog | None:
        """The ``--verbose`` request log (None when not verbose)."""
        if self.verbose and self._http_log is None:
            from .api.verbose import HttpLog

            self._http_log = HttpLog()
        return self._http_log

    def refresh_login(self) -> str | None:
        """After a 401: trade the stored refresh token for new tokens, store them, return the access token.
        None when there is nothing to refresh with or the issuer refuses (the 401 then stands)."""
        stored = self.stored_tokens()
        if not stored or not stored.get("refresh_token"):
            return None
        from .auth import oauth

        issuer = str(stored.get("issuer") or self.settings.get("auth_issuer"))
        client_id = str(stored.get("client_id") or self.settings.get("auth_client_id"))
        try:
            fresh = oauth.refresh(
                issuer=issuer,
                client_id=client_id,
                refresh_token=str(stored["refresh_token"]),
                log=self.http_log(),
                timeout=self.timeout(),
            )
        except (AuthError, RelayError):
            return None
        merged = {**stored, **{k: v for k, v in fresh.items() if k in TOKEN_FIELDS and v}}
        self.token_store().save(self.profile_name, self.api_url, merged)
        return str(merged["access_token"])

    def transport(self) -> httpx.BaseTransport | None:
        """The httpx transport to use; None means the network. The local sandbox runs in-process."""
        if self.is_local:
            from .local.server import in_process_transport

            return in_process_transport(sandbox_db(self.environ), LOCAL_TOKEN)
        return None

    def _note_sandbox_write(self, method: str, path: str) -> None:
        if self._noted_sandbox_write:
            return
        self._noted_sandbox_write = True
        self.out.message(
            f"note: this changed the local sandbox ({sandbox_db(self.environ)}), not Relay. "
            "To use Relay: set RELAY_API_KEY, or `relay login`; `relay profile show` tells the target."
        )

    def note_sandbox_read(self) -> None:
        """After a listing read from the in-process sandbox (``@listing_command``): one line on stderr saying
        so, as every write to it says it changed it (a listing of the sandbox's demo account looks like any)."""
        if self.is_local and self._client is not None and not self._noted_sandbox_write:
            self.out.message(
                f"note: this is the local sandbox's data ({sandbox_db(self.environ)}), not Relay's. "
                "To use Relay: set RELAY_API_KEY, or `relay login`; `relay profile show` tells the target."
            )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
