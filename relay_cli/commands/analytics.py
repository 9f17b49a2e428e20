"""``relay analytics [CATEGORY]``: the account's analytics events, filtered, paged through the cursor."""

from typing import TYPE_CHECKING, Annotated

import typer

from ..core import analytics as an
from ..core.analytics import DEFAULT_LIMIT
from ..errors import UsageError
from ._common import SubscriberOpt, TableFlags, command, complete_workflow, examples, listing_command, state

if TYPE_CHECKING:
    from ..api.client import RelayClient
    from ..output import Output

EPILOG = examples(
    "relay analytics",
    "relay analytics workflow -w my_auto_answer --oldest 2h",
    "relay analytics -u 990007560045678 --oldest 2026-11-01 --latest 2026-11-08 --all --json",
    "relay analytics --limit 50 --cursor CURSOR",
)

TIME_HELP = "an ISO 8601 date or time (UTC unless it has a zone), a duration ago (30m, 2h, 7d, 1w) or Unix seconds."


OldestOpt = Annotated[
    str | None,
    typer.Option("--oldest", metavar="TIME", help="Only events at or after TIME: " + TIME_HELP, show_default=False),
]
LatestOpt = Annotated[
    str | None,
    typer.Option("--latest", metavar="TIME", help="Only events at or before TIME: " + TIME_HELP, show_default=False),
]
LimitOpt = Annotated[
    int,
    typer.Option(
        "--limit", "-l", metavar="N", help="Show at most N events; pages through the cursor until there are N."
    ),
]
AllOpt = Annotated[
    bool, typer.Option("--all", help="Every matching event: page until the cursor is empty (ignores --limit).")
]
CursorOpt = Annotated[
    str | None,
    typer.Option(
        "--cursor",
        metavar="CURSOR",
        help="Start at this cursor (the one a previous, limited run printed).",
        show_default=False,
    ),
]


@command(epilog=EPILOG)
@listing_command(extended_help="Add the Analytic ID and Content Type columns.")
def analytics(
    ctx: typer.Context,
    category: Annotated[
        str | None,
        typer.Argument(metavar="[CATEGORY]", help="workflow, tasks, or a custom category.", show_default=False),
    ] = None,
    workflow_ref: Annotated[
        str | None,
        typer.Option(
            "--workflow-id",
            "-w",
            metavar="REF",
            envvar="RELAY_WORKFLOW_ID",
            help="Only this workflow's events: its id (wf_..., also of a deleted workflow) or the exact name of "
            "one of the account's workflows. [env: RELAY_WORKFLOW_ID]",
            show_envvar=False,
            show_default=False,
            autocompletion=complete_workflow,
        ),
    ] = None,
    instance_id: Annotated[
        str | None,
        typer.Option(
            "--workflow-instance-id",
            "-i",
            metavar="ID",
            help="Only this workflow instance's events.",
            show_default=False,
        ),
    ] = None,
    user_id: Annotated[
        str | None,
        typer.Option("--user-id", "-u", metavar="ID", help="Only this user's (device's) events.", show_default=False),
    ] = None,
    source_type: Annotated[
        str | None,
        typer.Option(
            "--type", "-t", metavar="system|user", help="Only events of this source type.", show_default=False
        ),
    ] = None,
    oldest: OldestOpt = None,
    latest: LatestOpt = None,
    limit: LimitOpt = DEFAULT_LIMIT,
    all_events: AllOpt = False,
    cursor: CursorOpt = None,
    parse: Annotated[
        bool,
        typer.Option(
            "--parse/--no-parse",
            "-p",
            help="Show JSON content as parsed one-line JSON (--no-parse: the content as sent).",
        ),
    ] = True,
    subscriber_id: SubscriberOpt = None,
    *,
    flags: TableFlags,
) -> None:
    """Show the account's analytics events, filtered by category, workflow, instance, user, type and time."""
    from ..table import Column, Fit, field, select, show

    table = [
        Column("timestamp", "Timestamp", field("timestamp"), fit=Fit(give=90, keep=True, least=24)),
        Column("category", "Category", field("category"), fit=Fit(give=70)),
        Column("type", "Type", field("source_type"), fit=Fit(give=60)),
        Column("workflow", "Workflow ID", field("workflow_id"), fit=Fit(give=0, out=40, unique=10)),
        Column("instance", "Instance ID", field("workflow_instance_id"), fit=Fit(give=0, out=30, unique=8)),
        Column("user", "User ID", field("user_id"), fit=Fit(give=20, out=35)),
        Column(
            "content",
            "Content",
            lambda event: an.content_text(event, parse=parse),
            fit=Fit(give=10, least=20, out=50),
            keys=("content",),
        ),
        Column("id", "Analytic ID", field("id"), extended=True, fit=Fit(give=0, out=10, unique=8)),
        Column("content_type", "Content Type", field("content_type"), extended=True, fit=Fit(give=5, out=20)),
    ]
    opts = flags.options(table)

    if source_type is not None and source_type not in an.SOURCE_TYPES:
        from ..core import suggest

        raise UsageError(suggest.expected(source_type, an.SOURCE_TYPES), option="--type")
    oldest_q, latest_q = window(oldest, latest, limit, cursor)
    if workflow_ref is not None:
        from ..core.workflow import validate_ref

        validate_ref(workflow_ref)

    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    client = st.client()
    workflow_id = _workflow_id(client, subscriber, workflow_ref) if workflow_ref else None
    query = an.build_query(
        category=category,
        workflow_id=workflow_id,
        instance_id=instance_id,
        user_id=user_id,
        source_type=source_type,
        oldest=oldest_q,
        latest=latest_q,
    )
    events, next_cursor = an.collect(
        lambda q: client.analytics_events(subscriber, **q), query, limit=None if all_events else limit, cursor=cursor
    )
    events = select(events, opts)
    show(events, opts, st.out, empty="No analytics events match.")
    if opts.fmt == "table" and events:  # a table, --wide's too
        noun = "event" if len(events) == 1 else "events"
        st.out.message(f"{len(events)} {noun}.")
    more(st.out, next_cursor)


# --- shared with `relay user assignments`, which pages the same way -----------------------------------


def window(oldest: str | None, latest: str | None, limit: int, cursor: str | None) -> tuple[str | None, str | None]:
    """--oldest/--latest as query values; --limit and --cursor checked. Bad input: a UsageError naming the flag."""
    if cursor is not None and not cursor.strip():
        raise UsageError("expected a cursor, got an empty value", option="--cursor")
    if limit < 1:
        raise UsageError(f"expected a whole number of events, 1 or more, got {limit}", option="--limit")
    bounds: dict[str, str | None] = {}
    for flag, value in (("--oldest", oldest), ("--latest", latest)):
        try:
            bounds[flag] = an.parse_time(value) if value is not None else None
        except an.BadTime as exc:
            raise UsageError(str(exc), option=flag) from None
    try:
        an.check_bounds(bounds["--oldest"], bounds["--latest"])
    except an.BadTime as exc:
        raise UsageError(str(exc), option="--oldest") from None
    return bounds["--oldest"], bounds["--latest"]


def more(out: "Output", next_cursor: str | None) -> None:
    if next_cursor:
        out.message(f"More events match: add --cursor {next_cursor} (or use --all).")


def _workflow_id(client: "RelayClient", subscriber: str, ref: str) -> str:
    """An id is taken as given (its events outlive the workflow); anything else is a workflow's exact name."""
    from ..core import workflow as wf

    if wf.looks_like_id(ref):
        return ref
    return str(wf.resolve(client.list_workflows(subscriber), ref, account=subscriber).get("workflow_id"))
