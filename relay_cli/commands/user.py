"""``relay user list`` and ``relay user assignments``: the account's user profiles, and which device each was
assigned to (``GET /ibot/audit``)."""

from typing import Annotated

import typer

from ..core.analytics import DEFAULT_LIMIT, collect
from ..errors import UsageError
from ._common import (
    SubscriberOpt,
    TableFlags,
    command,
    examples,
    listing_command,
    state,
)
from .analytics import AllOpt, CursorOpt, LatestOpt, LimitOpt, OldestOpt, more, window


@command(epilog=examples("relay user list", "relay user list --json", "relay user list --filter name=al"))
@listing_command()
def list_users(
    ctx: typer.Context,
    subscriber_id: SubscriberOpt = None,
    *,
    flags: TableFlags,
) -> None:
    """List the account's user profiles (name and id), sorted by name."""
    from ..table import HANDLE, NAME, Column, field, select, show

    table = [Column("name", "User Name", field("username"), fit=NAME),
             Column("id", "User ID", field("user_profile_id"), fit=HANDLE)]  # fmt: skip
    opts = flags.options(table)
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    profiles = [
        {"username": p.get("username"), "user_profile_id": p.get("user_profile_id")}
        for p in st.client().user_profiles(subscriber)
    ]
    profiles.sort(key=lambda p: (str(p["username"] or "").casefold(), str(p["user_profile_id"] or "")))
    show(select(profiles, opts), opts, st.out, empty=f"No user profiles in account {subscriber}.",
         filtered_empty="No user profiles match the filters.")  # fmt: skip


@command(
    epilog=examples(
        "relay user assignments",
        "relay user assignments -i up-alice --oldest 7d",
        "relay user assignments --all --json",
    ),
)
@listing_command()
def assignments(
    ctx: typer.Context,
    user_id: Annotated[
        str | None,
        typer.Option(
            "--id", "-i", "--user-id", metavar="ID", help="Only this user profile's assignments.", show_default=False
        ),
    ] = None,
    oldest: OldestOpt = None,
    latest: LatestOpt = None,
    limit: LimitOpt = DEFAULT_LIMIT,
    all_events: AllOpt = False,
    cursor: CursorOpt = None,
    subscriber_id: SubscriberOpt = None,
    *,
    flags: TableFlags,
) -> None:
    """List which user profile was assigned to which device, and when (the account's audit events)."""
    from ..core import resources
    from ..table import HANDLE, Column, Fit, field, select, show

    table = [
        Column("user", "User ID", field("id"), fit=HANDLE),
        Column("device", "Device ID", field("device_id"), fit=Fit(give=60, least=15)),
        Column("action", "Action", field("action"), fit=Fit(give=40)),
        Column("timestamp", "Timestamp", field("timestamp_action"), fit=Fit(give=50, least=24)),
        Column("audit_id", "Audit ID", field("audit_id"), fit=Fit(give=0)),
    ]
    opts = flags.options(table)
    oldest_q, latest_q = window(oldest, latest, limit, cursor)
    if user_id is not None and not user_id.strip():
        raise UsageError("expected a user profile id, got an empty value", option="--id")
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    client = st.client()
    query: dict[str, str] = dict(resources.ASSIGNMENT_QUERY)
    for key, value in (("user_id", user_id), ("latest", latest_q), ("oldest", oldest_q)):
        if value:
            query[key] = value
    events, next_cursor = collect(
        lambda q: client.audit_events(subscriber, **q), query, limit=None if all_events else limit, cursor=cursor
    )
    found = select([resources.assignment(e) for e in events], opts)
    show(found, opts, st.out, empty="No user profile assignments match.")
    more(st.out, next_cursor)
