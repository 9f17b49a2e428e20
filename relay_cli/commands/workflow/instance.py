"""``relay workflow instance list | stop``: the running (and past) runs of workflows."""

import time
from typing import TYPE_CHECKING, Annotated

import typer

from ...core.analytics import collect
from ...errors import ApiAuthError, ApiError, ApiNotFoundError, RelayError, UsageError
from ...jsontypes import JSONObject
from .._common import (
    JsonOpt,
    SubscriberOpt,
    TableFlags,
    YesOpt,
    command,
    complete_workflow,
    confirmation_possible,
    confirmed,
    examples,
    listing_command,
    state,
)
from .._resource import Resource, find_workflow as find, request_line

if TYPE_CHECKING:
    from ...api.client import RelayClient
    from ...table import Column


#: `stop` polls the running instances every WAIT_INTERVAL seconds, for up to WAIT_TIMEOUT seconds
WAIT_INTERVAL = 0.5
WAIT_TIMEOUT = 10.0

#: why a stop without --yes stops when there is no terminal to ask on
STOP_REFUSAL = "no terminal to confirm on; pass --yes to stop without asking"

InstanceIdOpt = Annotated[
    str | None,
    typer.Option("--instance-id", "-i", metavar="ID", help="The instance to stop.", show_default=False),
]
StopWorkflowOpt = Annotated[
    str | None,
    typer.Option(
        "--workflow-id",
        "-w",
        metavar="REF",
        help="Stop every running instance of this workflow: its id (or the start of it a narrow table shows), or its exact name.",
        show_default=False,
        autocompletion=complete_workflow,
    ),
]


def _running(client: "RelayClient", subscriber: str) -> list[JSONObject]:
    return [{**inst, "status": "running"} for inst in client.workflow_instances(subscriber) if isinstance(inst, dict)]


#: a running instance: found in the listing of running instances; stopped by DELETE
INSTANCE = Resource(
    noun="running workflow instance",
    id_key="instance_id",
    path="/ibot/workflow_instances/{id}",
    listing="relay workflow instance list",
    items=_running,
    remove=lambda client, subscriber, ident: client.stop_instance(subscriber, ident),
)


def _history(client: "RelayClient", subscriber: str) -> list[JSONObject]:
    """Every ``workflow`` analytics event of the account, page after page until the cursor is empty."""
    from ...core.instances import terminated

    events, _ = collect(lambda q: client.analytics_events(subscriber, **q), {"category": "workflow"}, limit=None)
    return terminated(events)


def _columns() -> "list[Column]":
    from ...table import HANDLE, Column, Fit, cut_middle, field, short_uri

    return [
        Column("instance", "Instance", field("instance_id"), fit=HANDLE),  # what `instance stop -i` takes
        Column("workflow", "Workflow", field("workflow_id"), fit=Fit(give=0, out=30, unique=10)),
        Column("user", "User", field("triggering_user_id"), fit=Fit(give=20, out=40)),
        Column("uri", "URI", field("workflow_uri"), fit=Fit(give=10, least=12, out=50, cut=cut_middle,
                                                            short=lambda i: short_uri(str(i.get("workflow_uri") or "")))),
        Column("status", "Status", field("status"), fit=Fit(give=60)),
    ]  # fmt: skip


def _plural(n: int) -> str:
    return f"{n} workflow instance" + ("" if n == 1 else "s")


@command(
    epilog=examples(
        "relay workflow instance list", "relay workflow instance list -H", "relay workflow instance list --json"
    ),
)
@listing_command()
def list_instances(
    ctx: typer.Context,
    include_history: Annotated[
        bool,
        typer.Option("--include-history", "-H", help="Add the instances that have ended (from the analytics events)."),
    ] = False,
    subscriber_id: SubscriberOpt = None,
    *,
    flags: TableFlags,
) -> None:
    """List the running workflow instances; -H adds the ended ones."""
    from ...table import select, show

    opts = flags.options(_columns())
    st = state(ctx)
    subscriber = st.subscriber_id(subscriber_id)
    client = st.client()
    instances = _running(client, subscriber)
    if include_history:
        instances += _history(client, subscriber)
    show(
        select(instances, opts),
        opts,
        st.out,
        empty="No workflow instances, running or ended." if include_history else "No running workflow instances.",
        filtered_empty="No workflow instances match the filters.",
    )


def _wait(client: "RelayClient", subscriber: str, ids: list[str]) -> list[str]:
    """Poll until none of ``ids`` is running, or WAIT_TIMEOUT passes; returns those still running."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        running = {
            str(inst.get("instance_id")) for inst in client.workflow_instances(subscriber) if isinstance(inst, dict)
        }
        remaining = [i for i in ids if i in running]
        if not remaining or time.monotonic() >= deadline:
            return remaining
        time.sleep(WAIT_INTERVAL)


@command(
    epilog=examples(
        "relay workflow instance stop -i INSTANCE_ID",
        "relay workflow instance stop -w my_auto_answer --yes",
        "relay workflow instance stop -w my_auto_answer --dry-run",
        "relay workflow instance stop -w my_auto_answer --yes --json",
    ),
)
def stop(
    ctx: typer.Context,
    instance_id: InstanceIdOpt = None,
    workflow_id: StopWorkflowOpt = None,
    subscriber_id: SubscriberOpt = None,
    yes: YesOpt = False,
    confirm: Annotated[
        bool, typer.Option("--confirm/--no-confirm", "-C", hidden=True, help="The reference CLI's --yes.")
    ] = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait", "-W", help="Wait (up to 10 s) until the server reports them stopped; --no-wait: do not."
        ),
    ] = True,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", "-N", help="List the instances that would be stopped and the requests, and stop nothing."
        ),
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Stop one running instance (-i), or every running instance of a workflow (-w).

    Asks first on a terminal; scripts pass --yes. Waits (up to 10 s) until they are gone, unless --no-wait.
    With --json, prints the instances, each with its "outcome": stopped, requested (--no-wait), already_ended,
    still_running or failed (--dry-run --json: the instances that would be stopped).
    """
    from ...core import workflow as wf

    if instance_id is not None and workflow_id is not None:
        raise UsageError("give -i/--instance-id or -w/--workflow-id, not both", option="--instance-id")
    if instance_id is None and workflow_id is None:
        raise UsageError("expected -i/--instance-id ID or -w/--workflow-id REF")
    if instance_id is not None:
        instance_id = wf.validate_id(instance_id, "--instance-id", "an instance id")
    else:
        wf.validate_ref(workflow_id)
    yes = yes or confirm
    st = state(ctx)
    out = st.out
    if not dry_run:
        confirmation_possible(out, yes, STOP_REFUSAL)

    if workflow_id is not None:
        subscriber, workflow = find(st, subscriber_id, workflow_id)
        wid = str(workflow.get("workflow_id"))
        targets = [i for i in _running(st.client(), subscriber) if str(i.get("workflow_id")) == wid]
        if not targets:
            none = f"No running instances of workflow {workflow.get('name')} ({wid})."
            out.render([], lambda: out.message(none), as_json=json_output)
            return
    else:
        assert instance_id is not None  # one of the two was given (checked above)
        subscriber = st.subscriber_id(subscriber_id)
        targets = [INSTANCE.find(st.client(), subscriber, instance_id)]
    ids = [str(i.get("instance_id")) for i in targets]

    if dry_run:

        def would_stop() -> None:
            from ...table import draw

            out.message(f"Dry run, nothing sent. Would stop {_plural(len(ids))} in account {subscriber}:")
            for iid in ids:
                out.message(f"  {request_line(st, 'DELETE', INSTANCE.path_of(iid), {'subscriber_id': subscriber})}")
            draw(_columns(), targets, out)

        out.render(targets, would_stop, as_json=json_output)
        return
    question = f"Stop {_plural(len(ids))} in account {subscriber}: {', '.join(ids)}?"
    if not confirmed(out, question, yes=yes, refusal=STOP_REFUSAL):
        out.message("Not stopped.")
        return

    client = st.client()
    asked: list[str] = []
    problems: list[str] = []
    outcome: dict[str, str] = {}
    for iid in ids:
        try:
            INSTANCE.remove(client, subscriber, iid)
        except ApiAuthError:
            raise
        except ApiNotFoundError:
            outcome[iid] = "already_ended"
        except ApiError as exc:
            outcome[iid] = "failed"
            problems.append(f"could not stop {iid}: {exc.message}")
        else:
            asked.append(iid)
    if not wait:
        for iid in asked:
            outcome[iid] = "requested"
    elif asked:
        remaining = _wait(client, subscriber, asked)
        for iid in asked:
            outcome[iid] = "still_running" if iid in remaining else "stopped"
        if remaining:
            problems.insert(0, f"still running after {WAIT_TIMEOUT:g} s: {', '.join(remaining)}")

    def report() -> None:
        for iid in ids:
            if outcome[iid] == "already_ended":
                out.message(f"Workflow instance {iid} had already ended.")
        for iid in asked:
            if outcome[iid] == "requested":
                out.success(f"Asked to stop workflow instance {iid} (not waiting for it)")
            elif outcome[iid] == "stopped":
                out.success(f"Stopped workflow instance {iid}")

    stopped = [{**inst, "outcome": outcome[iid]} for inst, iid in zip(targets, ids, strict=True)]
    out.render(stopped, report, as_json=json_output)
    if problems:
        raise RelayError("; ".join(problems), hint="`relay workflow instance list` shows what is still running")
