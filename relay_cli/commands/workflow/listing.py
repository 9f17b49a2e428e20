"""``relay workflow list``"""


from typing import Annotated

import typer

from ... import output
from ...errors import UsageError
from .._common import JsonOpt, SubscriberOpt, examples, state
from . import app


@app.command(
    "list",
    epilog=examples(
        "relay workflow list",
        "relay workflow list --filter type=call --sort name",
        "relay workflow list --json",
        "relay workflow list --output csv --columns id,name,install",
    ),
)
def list_workflows(
    ctx: typer.Context,
    subscriber_id: SubscriberOpt = None,
    extended: Annotated[bool, typer.Option("--extended", "-x", help="Add the Args column.")] = False,
    json_output: JsonOpt = False,
    fmt: Annotated[
        str | None,
        typer.Option("--output", "-o", metavar="FORMAT", help="Output format: table, json, csv or yaml.", show_default=False),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option("--columns", metavar="COLUMNS", help="Comma-separated columns: id,name,type,uri,install,args.", show_default=False),
    ] = None,
    filters: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            metavar="COLUMN=TEXT",
            help="Keep rows whose COLUMN contains TEXT, ignoring case (repeatable; all must match).",
            show_default=False,
        ),
    ] = None,
    sort: Annotated[
        str | None, typer.Option("--sort", metavar="[-]COLUMN", help="Sort by a column; '-' for descending.", show_default=False)
    ] = None,
    no_header: Annotated[bool, typer.Option("--no-header", help="Leave out the header row.")] = False,
    no_truncate: Annotated[bool, typer.Option("--no-truncate", help="Do not shorten long cells on a terminal.")] = False,
) -> None:
    """List the account's workflows."""
    from . import render

    if fmt is not None and fmt not in output.FORMATS:
        raise UsageError(f"expected one of {', '.join(output.FORMATS)}, got {fmt!r}", option="--output")
    if json_output and fmt not in (None, "json"):
        raise UsageError(f"--json and --output {fmt} disagree; give one", option="--json")
    fmt = "json" if json_output else fmt or "table"
    keys = render.columns(columns, extended)
    selected = render.parse_filters(filters)
    if sort:
        render.select([], [], sort)  # validate the column before anything is sent
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    workflows = render.select(st.client().list_workflows(subscriber), selected, sort)
    if not workflows and fmt == "table":
        if filters:
            output.message("No workflows match the filters.")
        else:
            output.message("No workflows yet. Create one with `relay workflow create call --help`.")
        return
    render.show(workflows, fmt=fmt, keys=keys, no_header=no_header, no_truncate=no_truncate)
