"""``relay geofence create | list | delete``: circles on the map that geofence workflows fire on."""

from typing import Annotated

import typer

from ._common import (
    DeleteDryRunOpt,
    DryRunOpt,
    JsonOpt,
    SubscriberOpt,
    TableFlags,
    YesOpt,
    command,
    examples,
    listing_command,
    state,
)
from ._resource import DEFAULT_ACCOUNT, Resource, delete as delete_item, dry_run_report, item_id

#: the geofences of an account: no GET by id in the API, so an id is looked up in the listing
GEOFENCE = Resource(
    noun="geofence",
    id_key="geofence_id",
    path="/ibot/geofence/{id}",
    listing="relay geofence list",
    items=lambda client, subscriber: client.geofences(subscriber),
    remove=lambda client, subscriber, ident: client.delete_geofence(subscriber, ident),
    label=lambda item: item.get("label"),
)


@command(
    epilog=examples(
        'relay geofence create -n office -a "1 Main St, Raleigh NC" -r 100',
        "relay geofence create -n dock -t 35.78 -g -78.64 -r 50",
    ),
)
def create(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Option(
            "--name", "--label", "-n", metavar="NAME", help="Friendly name of the geofence.", show_default=False
        ),
    ],
    radius: Annotated[
        int,
        typer.Option(
            "--radius", "-r", metavar="METERS", help="Radius of the geofence circle, in meters.", show_default=False
        ),
    ],
    address: Annotated[
        str | None,
        typer.Option("--address", "-a", metavar="ADDRESS", help="Street address of the center.", show_default=False),
    ] = None,
    latitude: Annotated[
        str | None,
        typer.Option(
            "--latitude", "--lat", "-t", metavar="LAT", help="Latitude of the center, -90..90.", show_default=False
        ),
    ] = None,
    longitude: Annotated[
        str | None,
        typer.Option(
            "--longitude",
            "--long",
            "-g",
            metavar="LONG",
            help="Longitude of the center, -180..180.",
            show_default=False,
        ),
    ] = None,
    subscriber_id: SubscriberOpt = None,
    dry_run: DryRunOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Create a geofence around an address, or around --latitude/--longitude."""
    from ..core.resources import geofence_body

    body = geofence_body(name, radius, address=address, lat=latitude, long=longitude)
    st = state(ctx)
    if dry_run:
        account = st.configured_subscriber(subscriber_id) or DEFAULT_ACCOUNT
        dry_run_report(st, "POST", "/ibot/geofence", {"subscriber_id": account}, body, json_output)
        return
    subscriber = st.subscriber_id(subscriber_id)
    created = st.client().create_geofence(subscriber, body)
    gid = created.get("geofence_id")
    st.out.render(created, f"Created geofence {name}" + (f" ({gid})" if gid else ""), as_json=json_output)


@command(
    epilog=examples("relay geofence list", "relay geofence list --json", "relay geofence list --sort -radius --csv"),
)
@listing_command()
def list_geofences(
    ctx: typer.Context,
    subscriber_id: SubscriberOpt = None,
    *,
    flags: TableFlags,
) -> None:
    """List the account's geofences."""
    from ..core.resources import geofence_coordinates
    from ..table import HANDLE, NAME, Column, Fit, field, select, show

    table = [
        Column("id", "ID", field("geofence_id"), fit=HANDLE),
        Column("name", "Name", field("label"), fit=NAME),
        Column("radius", "Radius", field("radius"), fit=Fit(give=40)),
        Column("address", "Address", field("address"), fit=Fit(give=10, least=12)),
        Column("coordinates", "Coordinates", geofence_coordinates, fit=Fit(give=20), keys=("lat", "long")),
    ]
    opts = flags.options(table)
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    geofences = select(st.client().geofences(subscriber), opts)
    show(
        geofences,
        opts,
        st.out,
        empty=f"No geofences in account {subscriber}.",
        filtered_empty="No geofences match the filters.",
    )


@command(
    epilog=examples(
        "relay geofence delete gf_123", "relay geofence delete -i gf_123 --yes", "relay geofence delete gf_123 -N"
    ),
)
def delete(
    ctx: typer.Context,
    geofence_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="The geofence to delete.", show_default=False)
    ] = None,
    id_option: Annotated[
        str | None,
        typer.Option(
            "--id", "-i", metavar="ID", help="The geofence to delete (same as the argument).", show_default=False
        ),
    ] = None,
    subscriber_id: SubscriberOpt = None,
    yes: YesOpt = False,
    dry_run: DeleteDryRunOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Delete a geofence. Asks first on a terminal; scripts pass --yes."""
    gid = item_id(geofence_id, id_option, noun="geofence", flag="--id")
    delete_item(state(ctx), GEOFENCE, gid, subscriber_id, yes=yes, dry_run=dry_run, as_json=json_output)
