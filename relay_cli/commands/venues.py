"""``relay venues`` and ``relay positions -v VENUE``: indoor positioning venues and their positions."""

from typing import Annotated

import typer

from ._common import (
    SubscriberOpt,
    TableFlags,
    command,
    examples,
    listing_command,
    state,
)


@command(epilog=examples("relay venues", "relay venues --json"))
@listing_command()
def venues(
    ctx: typer.Context,
    subscriber_id: SubscriberOpt = None,
    *,
    flags: TableFlags,
) -> None:
    """List the account's indoor positioning venues."""
    from ..table import HANDLE, NAME, Column, field, select, show

    table = [Column("id", "Venue ID", field("venue_id"), fit=HANDLE),
             Column("name", "Name", field("venue_name"), fit=NAME)]  # fmt: skip
    opts = flags.options(table)
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    found = select(st.client().venues(subscriber), opts)
    show(
        found, opts, st.out, empty=f"No venues in account {subscriber}.", filtered_empty="No venues match the filters."
    )


@command(epilog=examples("relay positions -v venue-hq", "relay positions -v venue-hq --json"))
@listing_command()
def positions(
    ctx: typer.Context,
    venue_id: Annotated[
        str,
        typer.Option("--venue-id", "-v", metavar="VENUE", help="The venue (see `relay venues`).", show_default=False),
    ],
    subscriber_id: SubscriberOpt = None,
    *,
    flags: TableFlags,
) -> None:
    """List the positions of an indoor positioning venue."""
    from ..table import HANDLE, Column, Fit, field, select, show

    table = [
        Column("id", "Position ID", field("position_id"), fit=HANDLE),
        Column("venue", "Venue ID", field("venue_id"), fit=Fit(give=30)),
        Column(
            "tags", "Tags", lambda p: ", ".join(str(t) for t in p.get("tags") or []), fit=Fit(give=20), keys=("tags",)
        ),
    ]
    opts = flags.options(table)
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    found = select(st.client().positions(subscriber, venue_id), opts)
    show(
        found,
        opts,
        st.out,
        empty=f"No positions in venue {venue_id}.",
        filtered_empty="No positions match the filters.",
    )
