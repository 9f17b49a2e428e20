"""``relay workflow list``"""

from typing import TYPE_CHECKING

import typer

from .._common import SubscriberOpt, TableFlags, command, examples, listing_command, state

if TYPE_CHECKING:
    from ...state import State


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
    from ...core import workflow as wf
    from ...table import select, show
    from . import render

    opts = flags.options(render.COLUMNS, example="name=auto")
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    listed = st.client().list_workflows(subscriber)
    from ... import names

    names.remember(st, subscriber_id, listed)  # for shell completion of -w (relay_cli/names.py)
    workflows = select(listed, opts)
    if opts.fmt == "table" and st.out.stdout_isatty and any(wf.installed_group(w) for w in workflows):
        from dataclasses import replace

        opts = replace(opts, columns=render.naming_groups(opts.columns, group_names(st, subscriber)))
    show(
        workflows,
        opts,
        st.out,
        empty="No workflows yet. Create one with `relay workflow create call --help`.",
        filtered_empty="No workflows match the filters.",
    )


def group_names(st: "State", subscriber: str) -> dict[str, str]:
    """Group urn → name (a group's id may come as its urn or bare), for a table people read. A failed read leaves
    the ids, which the table shows instead: the listing itself was read, and the names only dress it."""
    from ...core import workflow as wf
    from ...errors import RelayError

    try:
        groups = st.client().groups(subscriber)
    except RelayError:
        return {}
    found: dict[str, str] = {}
    for group in groups:
        ident, name = group.get("group_id"), group.get("name")
        if isinstance(ident, str) and isinstance(name, str):
            found[wf.group_urn(ident)] = name
    return found
