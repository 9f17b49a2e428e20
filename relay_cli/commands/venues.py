"""``relay venues`` and ``relay positions -v VENUE``: indoor positioning venues and their positions."""


from typing import Annotated

import typer

from .. import output
from ._common import JsonOpt, SubscriberOpt, examples, state


def register(app: typer.Typer) -> None:
    """Two top-level commands, as in the reference CLI."""
    app.command("venues", epilog=examples("relay venues", "relay venues --json"))(venues)
    app.command("positions", epilog=examples("relay positions -v venue-hq", "relay positions -v venue-hq --json"))(
        positions
    )


def venues(ctx: typer.Context, subscriber_id: SubscriberOpt = None, json_output: JsonOpt = False) -> None:
    """List the account's indoor positioning venues."""
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    found = st.client().venues(subscriber)
    output.print_records(
        found,
        as_json=json_output,
        empty=f"No venues in account {subscriber}.",
        headers=["Venue ID", "Name"],
        row=lambda v: [str(v.get("venue_id") or ""), str(v.get("venue_name") or "")],
    )


def positions(
    ctx: typer.Context,
    venue_id: Annotated[
        str, typer.Option("--venue-id", "-v", metavar="VENUE", help="The venue (see `relay venues`).", show_default=False)
    ],
    subscriber_id: SubscriberOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """List the positions of an indoor positioning venue."""
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    found = st.client().positions(subscriber, venue_id)
    output.print_records(
        found,
        as_json=json_output,
        empty=f"No positions in venue {venue_id}.",
        headers=["Position ID", "Venue ID", "Tags"],
        row=lambda p: [str(p.get("position_id") or ""), str(p.get("venue_id") or ""), ", ".join(str(t) for t in p.get("tags") or [])],
    )
