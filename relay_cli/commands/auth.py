"""Logging in and the account: ``relay login | logout | whoami | token generate | subscriber ... | env``."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..core import redact
from ..errors import AuthError, RelayError, UsageError
from ._common import JsonOpt, SubscriberOpt, command, examples, state

if TYPE_CHECKING:
    from ..state import State

NoBrowserOpt = Annotated[
    bool, typer.Option("--no-browser", help="Do not open a browser: print the URL to open yourself.")
]
#: capabilities whoami shows (as the reference does)
CAPABILITIES = (
    "workflow_sdk",
    "indoor_positioning",
    "ui_nfc",
    "calling",
    "calling_between_devices_support",
    "enable_audit_logs",
)


def _login_target(st: "State", what: str) -> bool:
    """Select the profile to log in to. Returns True when the built-in `local` profile was only the implicit
    default (nothing configured): then the `default` profile (Relay production) is used and selected."""
    from ..config.store import DEFAULT_PROFILE

    settings = st.settings
    if settings.backend != "local":
        return False
    if settings.profile.source.startswith("default"):
        st.use_profile(DEFAULT_PROFILE)
        return True
    raise UsageError(
        f"the `local` profile is the built-in sandbox: there is nothing to {what}",
        option="profile",
        hint="select a Relay profile, e.g. `relay -P default login`, or `relay profile add qa --env qa` then `relay -P qa login`",
    )


def _sdk_or_cli_login(st: "State", client_id: str, no_browser: bool) -> dict[str, Any]:
    from ..auth import oauth

    settings = st.settings
    return oauth.login(
        issuer=str(settings.get("auth_issuer")),
        client_id=client_id,
        redirect_uri=str(settings.get("auth_redirect_uri")),
        browser=not no_browser,
        log=st.http_log(),
        say=st.out.message,
        request_timeout=st.timeout(),
    )


@command(epilog=examples("relay login", "relay login --no-browser", "relay -P qa login"))
def login(ctx: typer.Context, no_browser: NoBrowserOpt = False) -> None:
    """Log in to Relay in your browser (OAuth 2.0 with PKCE); the tokens go to the system keyring."""
    from ..state import TOKEN_FIELDS

    st = state(ctx)
    if st.environ.get("RELAY_API_KEY"):
        raise UsageError(
            "RELAY_API_KEY is set, and it always wins over a login: the login would be ignored",
            option="RELAY_API_KEY",
            hint="unset RELAY_API_KEY, then run `relay login`",
        )
    before = st.later_target()
    implicit = _login_target(st, "log in to")
    settings = st.settings
    tokens = _sdk_or_cli_login(st, str(settings.get("auth_client_id")), no_browser)
    doc = {k: tokens[k] for k in TOKEN_FIELDS if tokens.get(k)}
    doc.update(issuer=str(settings.get("auth_issuer")), client_id=str(settings.get("auth_client_id")))
    where = st.token_store().save(st.profile_name, st.api_url, doc)
    if implicit:
        st.store.use(st.profile_name)
    from ..core.oidc import identity, jwt_claims

    who = identity(jwt_claims(doc.get("id_token")))
    label = who["email"] or who["name"] or who["user_id"] or "you"
    st.out.success(f"Logged in as {label} to {st.api_url} (profile {st.profile_name}); tokens stored in {where}.")
    st.announce_target(before)
    if not st.store.profiles().get(st.profile_name, {}).get("subscriber_id"):
        try:
            contexts = st.client().authz_context()
        except RelayError as err:
            st.out.warning(f"could not look up your default account: {err.message}")
            return
        ids = [str(c["subscriber_id"]) for c in contexts if isinstance(c, dict) and c.get("subscriber_id")]
        if ids:
            st.store.set(st.profile_name, "subscriber_id", ids[0])
            st.out.message(f"Default account {ids[0]} saved as the profile's subscriber_id.")


@command(epilog=examples("relay logout"))
def logout(ctx: typer.Context) -> None:
    """End the session at the issuer (best effort, never needs a browser) and delete the stored tokens."""
    from ..auth import oauth

    st = state(ctx)
    _login_target(st, "log out of")
    stored = st.stored_tokens()
    where = f"{st.api_url} (profile {st.profile_name})"
    if not stored:
        st.out.message(f"Not logged in to {where}: nothing to do.")
        return
    ended = True
    if stored.get("refresh_token"):
        settings = st.settings
        ended = oauth.end_session(
            issuer=str(stored.get("issuer") or settings.get("auth_issuer")),
            client_id=str(stored.get("client_id") or settings.get("auth_client_id")),
            refresh_token=str(stored["refresh_token"]),
            log=st.http_log(),
            timeout=st.timeout(),
        )
    try:
        st.token_store().delete(st.profile_name, st.api_url)
    except RelayError as err:
        ended_note = "the issuer ended the session, but " if stored.get("refresh_token") and ended else ""
        raise RelayError(f"not logged out of {where}: {ended_note}{err.message}", hint=err.hint) from None
    st.out.success(f"Logged out of {where}.")
    if not ended:
        st.out.warning("the issuer could not be told to end the session; the tokens were deleted here")
    if st.environ.get("RELAY_API_KEY"):
        st.out.message("note: RELAY_API_KEY is still set and is still used")


@command(epilog=examples("relay whoami", "relay whoami --json"))
def whoami(ctx: typer.Context, subscriber_id: SubscriberOpt = None, json_output: JsonOpt = False) -> None:
    """Show who you are logged in as: name, email, user id, default account and its capabilities."""
    st = state(ctx)
    who: dict[str, Any] = st.identity()  # exit 4 when there is no login and no RELAY_API_KEY
    account = st.subscriber_id(subscriber_id)
    info = st.client().subscriber_info(account)
    caps = info.get("capabilities") if isinstance(info, dict) else None
    caps = {k: caps[k] for k in CAPABILITIES if k in caps} if isinstance(caps, dict) else {}
    result = {**who, "default_account": account, "capabilities": caps}
    rows = [
        ("Name", who["name"] or "(unknown)"),
        ("Email", who["email"] or "(unknown)"),
        ("User ID", who["user_id"] or "(unknown)"),
        ("Default account", account),
        ("Capabilities", ", ".join(k for k, v in caps.items() if v) or "(none)"),
    ]
    from ..table import Column, draw

    columns = [Column("key", "Key", lambda kv: kv[0]), Column("value", "Value", lambda kv: str(kv[1]))]
    st.out.render(result, lambda: draw(columns, rows, st.out), as_json=json_output)


@command(epilog=examples("relay token generate", "relay token generate --no-browser > sdk-token"))
def generate(ctx: typer.Context, no_browser: NoBrowserOpt = False) -> None:
    """Log in as the SDK client and print only its refresh token on stdout, for relay-py apps."""
    st = state(ctx)
    _login_target(st, "generate a token for")
    tokens = _sdk_or_cli_login(st, str(st.settings.get("auth_sdk_client_id")), no_browser)
    refresh = tokens.get("refresh_token")
    if not refresh:
        raise AuthError(
            "the issuer returned no refresh token",
            hint="log out of Relay in the browser, then run this again and tick 'Remember me' when logging in",
        )
    st.out.message(f"SDK token for {st.api_url} (env {st.settings.get('env')}):")
    st.out.write(f"{refresh}\n")


# --- subscriber -------------------------------------------------------------------------------------


@command(epilog=examples("relay subscriber get", "relay subscriber get --json"))
def subscriber_get(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """Show the account commands act on by default, and where it comes from."""
    st = state(ctx)
    configured = st.configured_subscriber()
    if configured:
        source = st.settings.values["subscriber_id"].source
    else:
        configured, source = st.subscriber_id(), "server (your login's default account)"

    def human() -> None:
        st.out.write(f"{configured}\n")
        st.out.message(f"(from {source})")

    st.out.render({"subscriber_id": configured, "source": source}, human, as_json=json_output)


@command(epilog=examples("relay subscriber set 1a2b3c4d", "relay -P qa subscriber set -s 1a2b3c4d"))
def subscriber_set(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Argument(metavar="[ID]", help="The account id.", show_default=False)] = None,
    subscriber_id: Annotated[
        str | None,
        typer.Option(
            "--subscriber-id", "-s", metavar="ID", help="The account id (as the reference).", show_default=False
        ),
    ] = None,
) -> None:
    """Save the default account in the selected profile."""
    from ..config.store import LOCAL_PROFILE

    st = state(ctx)
    if account is not None and subscriber_id is not None and account != subscriber_id:
        raise UsageError("give the account id once: as ID or as -s/--subscriber-id", option="subscriber set")
    value = (account if account is not None else subscriber_id) or ""
    if not value.strip() or any(ch.isspace() for ch in value.strip()):
        raise UsageError(f"expected one account id, got {value!r}", option="ID")
    profile = st.selected_profile()
    if profile == LOCAL_PROFILE:
        raise UsageError(
            "the `local` sandbox profile cannot be changed", option="profile", hint="select another profile with -P"
        )
    st.store.set(profile, "subscriber_id", value.strip())
    st.out.success(f"Default account of profile {profile} is now {value.strip()}.")
    if st.environ.get("RELAY_SUBSCRIBER_ID"):
        st.out.warning("RELAY_SUBSCRIBER_ID is set and overrides the profile's subscriber_id")


@command(epilog=examples("relay subscriber list", "relay subscriber list --json"))
def subscriber_list(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """List the accounts your login can act on (the first is the default)."""
    st = state(ctx)
    contexts = [c for c in st.client().authz_context() if isinstance(c, dict) and c.get("subscriber_id")]
    from ..table import Column, draw

    columns = [
        Column("id", "Subscriber ID", lambda ic: str(ic[1]["subscriber_id"])),
        Column("name", "Name", lambda ic: str(ic[1].get("name") or "")),
        Column("default", "Default", lambda ic: "*" if ic[0] == 0 else ""),
    ]
    st.out.render(
        contexts, lambda: draw(columns, list(enumerate(contexts)), st.out, empty="Your login names no accounts."),
        as_json=json_output,
    )  # fmt: skip


# --- env ---------------------------------------------------------------------------------------------


@command(epilog=examples("relay env", "relay env --process --json"))
def env(
    ctx: typer.Context,
    process: Annotated[
        bool, typer.Option("--process", help="Also list the RELAY_* environment variables (secrets masked).")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Show the resolved environment: API host, issuer, client ids, and where each came from."""
    st = state(ctx)
    settings = st.settings
    rows: dict[str, dict[str, Any]] = {"profile": {"value": settings.profile.value, "source": settings.profile.source}}
    for key in ("env",):
        rows[key] = {"value": settings.values[key].value, "source": settings.values[key].source}
    api = settings.api_url
    if st.is_local:
        from ..state import sandbox_db

        rows["api"] = {"value": f"local sandbox ({sandbox_db(st.environ)})", "source": api.source}
    else:
        rows["api"] = {"value": api.value, "source": api.source}
    for key, name in (
        ("auth_issuer", "auth"),
        ("auth_client_id", "auth_cli_id"),
        ("auth_sdk_client_id", "auth_sdk_id"),
        ("auth_redirect_uri", "auth_redirect_uri"),
    ):
        rows[name] = {"value": settings.values[key].value, "source": settings.values[key].source}
    if st.is_local:
        token_source = "built in (local sandbox)"
    elif settings.api_key_source:
        token_source = settings.api_key_source
    else:
        token_source = st.token_store().source(st.profile_name, st.api_url) or "not set"
    rows["token"] = {"value": None, "source": token_source}
    result: dict[str, Any] = dict(rows)
    if process:
        result["process"] = {
            name: (redact.MASK if redact.is_secret_name(name) or name == "RELAY_HEADERS" else value)
            for name, value in sorted(st.environ.items())
            if name.startswith("RELAY_")
        }
    shown = [
        (
            k,
            "(hidden)"
            if k == "token" and r["source"] != "not set"
            else ("" if r["value"] is None else str(r["value"])),
            r["source"],
        )
        for k, r in rows.items()
    ]
    if process:
        shown += [(name, value, "process") for name, value in result["process"].items()]
    from ..table import Column, draw

    columns = [
        Column("key", "Key", lambda r: r[0]),
        Column("value", "Value", lambda r: r[1]),
        Column("source", "Source", lambda r: str(r[2])),
    ]
    st.out.render(result, lambda: draw(columns, shown, st.out), as_json=json_output)
