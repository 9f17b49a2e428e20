"""``relay workflow logs``: the realtime workflow log, streamed."""

import json
from typing import Annotated

import typer

from ... import output
from ...jsontypes import JSONValue
from .._common import SubscriberOpt, command, complete_workflow, examples, state
from .manage import find


def _clean(text: str) -> str:
    """Control characters shown escaped (``output.safe``), so a log line cannot drive the terminal."""
    return output.safe(text, newlines=True)


def format_entry(entry: JSONValue) -> str:
    """``<timestamp> <LEVEL> <workflow id, 8 chars> <message>``; a line that was not JSON is shown as it came."""
    if not isinstance(entry, dict):
        return _clean(json.dumps(entry, ensure_ascii=False))
    if set(entry) == {"message"}:  # the client's wrapping of a line that was not JSON
        return _clean(str(entry["message"]))
    context = c if isinstance(c := entry.get("context"), dict) else {}
    workflow_id = str(context.get("workflow_id") or entry.get("workflow_id") or "")[:8] or "-"
    timestamp = str(entry.get("timestamp") or "-")
    level = str(entry.get("level") or "-").upper()
    message = entry.get("message")
    if message is None:
        message = ""
    elif not isinstance(message, str):
        message = json.dumps(message, ensure_ascii=False)
    head = f"{timestamp} {level:<5} {workflow_id}"
    return _clean(f"{head} {message}" if message else head)


@command(
    epilog=examples(
        "relay workflow logs",
        "relay workflow logs -w my_auto_answer -u 990007560045678",
        "relay workflow logs --json | jq .message",
    ),
)
def logs(
    ctx: typer.Context,
    workflow_id: Annotated[
        str | None,
        typer.Option(
            "--workflow-id",
            "-w",
            metavar="REF",
            envvar="RELAY_WORKFLOW_ID",
            help="Only this workflow: its id (or the start of it a narrow table shows), or its exact name. [env: RELAY_WORKFLOW_ID]",
            show_envvar=False,
            show_default=False,
            autocompletion=complete_workflow,
        ),
    ] = None,
    user_id: Annotated[
        str | None,
        typer.Option("--user-id", "-u", metavar="ID", help="Only this device or user.", show_default=False),
    ] = None,
    subscriber_id: SubscriberOpt = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print each entry as one line of JSON.")] = False,
) -> None:
    """Stream the realtime workflow log until the server ends it, or Ctrl-C."""
    from ...core import workflow as wf

    user = wf.validate_id(user_id, "--user-id", "a device or user id") if user_id is not None else None
    st = state(ctx)
    wid = None
    if workflow_id is not None:
        subscriber, workflow = find(st, subscriber_id, workflow_id)
        wid = str(workflow.get("workflow_id"))
    else:
        subscriber = st.subscriber_id(subscriber_id)
    entries = st.client().workflow_logs(subscriber, workflow_id=wid, user_id=user)
    show = st.out.json_line if json_output else lambda entry: st.out.write(format_entry(entry) + "\n")
    try:
        for entry in entries:
            show(entry)
    finally:
        close = getattr(entries, "close", None)
        if close is not None:
            close()
