"""``relay devices`` and ``relay group list``: what the account has to install workflows on."""

import typer

from ._common import (
    SubscriberOpt,
    TableFlags,
    command,
    examples,
    listing_command,
    state,
)


@command(epilog=examples("relay devices", "relay devices --json"))
@listing_command()
def devices(
    ctx: typer.Context,
    subscriber_id: SubscriberOpt = None,
    *,
    flags: TableFlags,
) -> None:
    """List the account's device (and user) ids: what -i/--install takes."""
    from ..table import Column, select, show

    table = [Column("id", "Device ID", str)]
    opts = flags.options(table)
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    ids = select([str(d) for d in st.client().device_ids(subscriber)], opts)
    show(
        ids, opts, st.out, empty=f"No devices in account {subscriber}.", filtered_empty="No devices match the filters."
    )


@command(epilog=examples("relay group list", "relay group list --json"))
@listing_command()
def list_groups(
    ctx: typer.Context,
    subscriber_id: SubscriberOpt = None,
    *,
    flags: TableFlags,
) -> None:
    """List the account's groups and their members."""
    from ..table import Column, field, select, show

    table = [
        Column("id", "Group ID", field("group_id")),
        Column("name", "Name", field("name")),
        Column("members", "Members", lambda g: ", ".join(str(m) for m in g.get("subscribers") or [])),
    ]
    opts = flags.options(table)
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    groups = select([g for g in st.client().groups(subscriber) if isinstance(g, dict)], opts)
    show(
        groups, opts, st.out, empty=f"No groups in account {subscriber}.", filtered_empty="No groups match the filters."
    )
