"""``relay profile ...``: named sets of settings in the config file."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..config.keys import PROFILE_KEYS
from ..core.redact import userinfo
from ..errors import NotFoundError, UsageError
from ._common import JsonOpt, command, examples, state

if TYPE_CHECKING:
    from ..config.resolve import Settings
    from ..state import State


KeyArg = Annotated[str, typer.Argument(metavar="KEY", help=f"One of: {', '.join(PROFILE_KEYS)}.", show_default=False)]
NameArg = Annotated[str, typer.Argument(metavar="NAME", help="Profile name.", show_default=False)]


@command(epilog=examples("relay profile list"))
def list_profiles(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """List the profiles; the selected one is marked."""
    st = state(ctx)
    selected = st.selected_profile()
    profiles = st.store.profiles()
    from ..config.store import LOCAL_PROFILE

    profiles.setdefault(LOCAL_PROFILE, {})
    rows = [
        {"name": name, "current": name == selected, **({"builtin": True} if name == LOCAL_PROFILE else {}), **values}
        for name, values in sorted(profiles.items())
    ]
    for row in rows:  # a host written by hand with user:password@ in it: never shown
        if isinstance(row.get("host"), str):
            row["host"] = userinfo(row["host"])
    from ..table import Column, draw, field

    columns = [
        Column("current", "", lambda r: "*" if r["current"] else ""),
        Column("name", "Name", field("name")),
        Column("env", "Env", field("env")),
        Column("host", "Host", lambda r: "(built-in local sandbox)" if r.get("builtin") else str(r.get("host", ""))),
        Column("subscriber", "Subscriber", field("subscriber_id")),
    ]
    st.out.render(rows, lambda: draw(columns, rows, st.out), as_json=json_output)


def _token_source(st: "State", settings: "Settings") -> str:
    if settings.backend == "local":
        return "built in (local sandbox)"
    if settings.api_key_source:
        return settings.api_key_source
    return st.token_store().source(str(settings.profile.value), str(settings.api_url.value)) or "not set"


@command(
    epilog=examples("relay profile show", "relay profile show ci --json", "RELAY_ENV=qa relay profile show"),
)
def show(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(metavar="[NAME]", help="Profile (default: the selected one).", show_default=False)
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Show every setting in effect and where it comes from (flag, env, profile or default). Tokens are never shown."""
    st = state(ctx)
    settings = st.resolve_for(name)
    if not settings.profile_exists:
        raise NotFoundError(
            f"no profile named {settings.profile.value!r}", hint="`relay profile list` shows the profiles"
        )
    rows: dict[str, dict[str, Any]] = {"profile": {"value": settings.profile.value, "source": settings.profile.source}}
    for key in PROFILE_KEYS:
        setting = settings.values[key]
        rows[key] = {"value": setting.value, "source": setting.source}
    api_url = settings.api_url.value
    if settings.backend == "local":
        from ..state import sandbox_db

        api_url = f"local sandbox ({sandbox_db(st.environ)})"
    rows["api_url"] = {"value": api_url, "source": settings.api_url.source}
    rows["token"] = {"value": None, "source": _token_source(st, settings)}
    from ..table import Column, draw

    def value(item: tuple[str, dict[str, Any]]) -> str:
        key, row = item
        if key == "token" and row["source"] != "not set":
            return "(hidden)"
        return "" if row["value"] is None else str(row["value"])

    columns = [Column("key", "Key", lambda item: item[0]), Column("value", "Value", value),
               Column("source", "Source", lambda item: str(item[1]["source"]))]  # fmt: skip
    st.out.render(rows, lambda: draw(columns, list(rows.items()), st.out), as_json=json_output)


@command(epilog=examples("relay profile use qa"))
def use(ctx: typer.Context, name: NameArg) -> None:
    """Select the profile later commands use (RELAY_PROFILE and --profile still override it)."""
    st = state(ctx)
    before = st.later_target()
    st.store.use(name)
    st.out.success(f"Now using profile {name}")
    st.announce_target(before)


def _target_profile(ctx: typer.Context) -> str:
    """The profile `set` and `unset` change: the selected one. While nothing is configured the selection is the
    built-in sandbox only by default, and the settings go to the `default` profile (the change of target that
    follows is announced); the sandbox chosen on purpose has no settings to change."""
    from ..config.store import DEFAULT_PROFILE, LOCAL_PROFILE

    selected = state(ctx).selected_profile_setting()
    if selected.value != LOCAL_PROFILE:
        return str(selected.value)
    if selected.source.startswith("default"):
        return DEFAULT_PROFILE
    raise UsageError(
        f"the `local` profile (selected by {selected.source}) is the built-in sandbox and has no settings",
        option="profile",
        hint="name another profile with -P NAME, or select one with `relay profile use NAME`",
    )


@command(epilog=examples("relay profile set subscriber_id 1a2b3c", "relay -P qa profile set env qa"))
def set_value(
    ctx: typer.Context, key: KeyArg, value: Annotated[str, typer.Argument(metavar="VALUE", show_default=False)]
) -> None:
    """Set a key on the selected profile (or the one named by --profile)."""
    from ..config.resolve import validate_profile_value

    validate_profile_value(key, value)
    st = state(ctx)
    name = _target_profile(ctx)
    before = st.later_target()
    st.store.set(name, key, value)
    st.out.success(f"Set {key} on profile {name}")
    st.announce_target(before)


@command(epilog=examples("relay profile unset host"))
def unset_value(ctx: typer.Context, key: KeyArg) -> None:
    """Remove a key from the selected profile (it falls back to the environment or the default)."""
    if key not in PROFILE_KEYS:
        from ..core import suggest

        raise UsageError(suggest.expected(key, PROFILE_KEYS), option="KEY")
    st = state(ctx)
    name = _target_profile(ctx)
    before = st.later_target()
    if st.store.unset(name, key):
        st.out.success(f"Unset {key} on profile {name}")
        st.announce_target(before)
    else:
        st.out.message(f"{key} was not set on profile {name}")


@command(
    epilog=examples("relay profile add qa --env qa", "relay profile add sandbox --host http://127.0.0.1:8080 --use"),
)
def add(
    ctx: typer.Context,
    name: NameArg,
    env: Annotated[
        str | None, typer.Option("--env", metavar="ENV", help="Relay environment: pro or qa.", show_default=False)
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", metavar="HOST", help="API host name or base URL.", show_default=False)
    ] = None,
    subscriber_id: Annotated[
        str | None, typer.Option("--subscriber-id", "-s", metavar="ID", help="Default account.", show_default=False)
    ] = None,
    use: Annotated[bool, typer.Option("--use", help="Also select the new profile.")] = False,
) -> None:
    """Create a profile."""
    from ..config.resolve import validate_profile_value
    from ..config.store import validate_profile_name

    validate_profile_name(name)
    values = {k: v for k, v in (("env", env), ("host", host), ("subscriber_id", subscriber_id)) if v is not None}
    for key, value in values.items():
        validate_profile_value(key, value)
    st = state(ctx)
    before = st.later_target()
    st.store.add(name, values)
    if use:
        st.store.use(name)
    st.out.success(f"Added profile {name}" + (" and selected it" if use else ""))
    st.announce_target(before)


@command(epilog=examples("relay profile remove qa"))
def remove(ctx: typer.Context, name: NameArg) -> None:
    """Delete a profile (stored tokens are not touched)."""
    st = state(ctx)
    before = st.later_target()
    st.store.remove(name)
    st.out.success(f"Removed profile {name}")
    st.announce_target(before)
