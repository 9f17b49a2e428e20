"""``relay user list`` and ``relay user assignments``: the account's user profiles, and which device each was
assigned to (``GET /ibot/audit``)."""


from typing import Annotated

import typer

from .. import output
from ..errors import UsageError
from ._common import JsonOpt, SubscriberOpt, examples, new_app, state
from .analytics import AllOpt, CursorOpt, LatestOpt, LimitOpt, OldestOpt, more, pages, window

HELP = "List the account's user profiles and their assignments to devices."
app = new_app(HELP)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="user", help=HELP)


@app.command("list", epilog=examples("relay user list", "relay user list --json"))
def list_users(ctx: typer.Context, subscriber_id: SubscriberOpt = None, json_output: JsonOpt = False) -> None:
    """List the account's user profiles (name and id), sorted by name."""
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    profiles = [
        {"username": p.get("username"), "user_profile_id": p.get("user_profile_id")}
        for p in st.client().user_profiles(subscriber)
    ]
    profiles.sort(key=lambda p: (str(p["username"] or "").casefold(), str(p["user_profile_id"] or "")))
    output.print_records(
        profiles,
        as_json=json_output,
        empty=f"No user profiles in account {subscriber}.",
        headers=["User Name", "User ID"],
        row=lambda p: [str(p["username"] or ""), str(p["user_profile_id"] or "")],
    )


@app.command(
    "assignments",
    epilog=examples(
        "relay user assignments",
        "relay user assignments -i up-alice --oldest 7d",
        "relay user assignments --all --json",
    ),
)
def assignments(
    ctx: typer.Context,
    user_id: Annotated[
        str | None,
        typer.Option("--id", "-i", "--user-id", metavar="ID", help="Only this user profile's assignments.",
                     show_default=False),
    ] = None,
    oldest: OldestOpt = None,
    latest: LatestOpt = None,
    limit: LimitOpt = 20,
    all_events: AllOpt = False,
    cursor: CursorOpt = None,
    subscriber_id: SubscriberOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """List which user profile was assigned to which device, and when (the account's audit events)."""
    from ..core import resources

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
    events, next_cursor = pages(
        lambda q: client.audit_events(subscriber, **q), query, limit=None if all_events else limit, cursor=cursor
    )
    found = [resources.assignment(e) for e in events]
    output.print_records(
        found,
        as_json=json_output,
        empty="No user profile assignments match.",
        headers=resources.ASSIGNMENT_HEADERS,
        row=resources.assignment_row,
    )
    more(next_cursor)
