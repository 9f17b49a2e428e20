"""``relay devices`` and ``relay group list``: what the account has to install workflows on."""

import typer

from ..jsontypes import JSONObject
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
    """List the account's device (and user) ids, what -i/--install takes, and their names where the API gives
    them (the sandbox does; Relay's answer has ids only)."""
    import dataclasses

    from ..table import HANDLE, NAME, Column, select, show

    names: dict[str, str] = {}
    table = [Column("id", "Device ID", str, fit=HANDLE), Column("name", "Name", lambda d: names.get(d, ""), fit=NAME)]
    opts = flags.options(table)
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    ids, given = st.client().devices(subscriber)
    names.update(given)
    if not names and not opts.chosen:  # Relay's answer: ids only, so no column of empty names
        opts = dataclasses.replace(opts, columns=tuple(c for c in opts.columns if c.key != "name"))
    found = select([str(d) for d in ids], opts)
    show(
        found,
        opts,
        st.out,
        empty=f"No devices in account {subscriber}.",
        filtered_empty="No devices match the filters.",
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
    from ..core.workflow import GROUP_PREFIX
    from ..table import NAME, Column, Fit, cut_start, field, select, short_list, show

    def members(group: JSONObject) -> str:
        members = group.get("subscribers")  # a list of ids (the listing is not checked further)
        return ", ".join(str(m) for m in (members if isinstance(members, list) else [members] if members else []))

    table = [
        # short: the id -G takes without its urn's prefix
        Column("id", "Group ID", field("group_id"), fit=Fit(give=0, keep=True, short=lambda g: str(
            g.get("group_id") or "").removeprefix(GROUP_PREFIX))),
        Column("name", "Name", field("name"), fit=NAME),
        Column("members", "Members", members, fit=Fit(give=10, least=15, short=lambda g: short_list(members(g)),
                                                       cut=cut_start), keys=("subscribers",)),
    ]  # fmt: skip
    opts = flags.options(table)
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    groups = select([g for g in st.client().groups(subscriber) if isinstance(g, dict)], opts)
    show(
        groups, opts, st.out, empty=f"No groups in account {subscriber}.", filtered_empty="No groups match the filters."
    )
