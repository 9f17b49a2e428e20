"""``relay workflow list``"""

import typer

from .._common import SubscriberOpt, TableFlags, command, examples, listing_command, state


@command(
    epilog=examples(
        "relay workflow list",
        "relay workflow list --filter type=call --sort name",
        "relay workflow list --json",
        "relay workflow list --output csv --columns id,name,install",
    ),
)
@listing_command(
    columns_help="Comma-separated columns: id,name,type,uri,install,args.", extended_help="Add the Args column."
)
def list_workflows(ctx: typer.Context, subscriber_id: SubscriberOpt = None, *, flags: TableFlags) -> None:
    """List the account's workflows."""
    from ...table import select, show
    from . import render

    opts = flags.options(render.COLUMNS, example="name=auto")
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    listed = st.client().list_workflows(subscriber)
    from ... import names

    names.remember(st, subscriber_id, listed)  # for shell completion of -w (relay_cli/names.py)
    workflows = select(listed, opts)
    show(
        workflows,
        opts,
        st.out,
        empty="No workflows yet. Create one with `relay workflow create call --help`.",
        filtered_empty="No workflows match the filters.",
    )
