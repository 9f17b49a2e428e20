"""``relay workflow args list | get | set | unset``: the args a workflow is started with."""

from typing import TYPE_CHECKING, Annotated

import typer

from ...errors import NotFoundError, UsageError
from ...jsontypes import JSONObject, JSONValue
from .._common import (
    ArgOpt,
    BooleanOpt,
    DryRunOpt,
    JsonOpt,
    NumberOpt,
    SubscriberOpt,
    WorkflowRefOpt,
    command,
    examples,
    state,
)
from .._resource import find_workflow as find

if TYPE_CHECKING:
    from ...output import Output
    from ...state import State


def _type_name(value: JSONValue) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def _show(out: "Output", args: JSONObject, as_json: bool) -> None:
    """--json: the args object; else a table of (name, value, type)."""
    from ...core.workflow import format_value
    from ...table import Column, draw

    columns = [
        Column("name", "Name", lambda kv: kv[0]),
        Column("value", "Value", lambda kv: format_value(kv[1])),
        Column("type", "Type", lambda kv: _type_name(kv[1])),
    ]
    out.render(args, lambda: draw(columns, list(args.items()), out, empty="The workflow has no args."), as_json=as_json)


def _update(st: "State", subscriber: str, workflow: JSONObject, args: JSONObject, dry_run: bool, as_json: bool) -> None:
    from ...core import workflow as wf

    body = wf.with_args(workflow, args)
    if dry_run:
        from . import render

        render.dry_run(st, "POST", "/ibot/workflow", subscriber, body, as_json)
        return
    saved = st.client().save_workflow(subscriber, body)
    st.out.success(f"Updated the args of {workflow.get('name')} ({workflow.get('workflow_id')})")
    _show(st.out, wf.args_of(saved[0]) if saved else args, as_json)


@command(epilog=examples("relay workflow args list -w my_auto_answer"))
def list_args(
    ctx: typer.Context, workflow_id: WorkflowRefOpt, subscriber_id: SubscriberOpt = None, json_output: JsonOpt = False
) -> None:
    """List a workflow's args with their types."""
    from ...core import workflow as wf

    st = state(ctx)
    _, workflow = find(st, subscriber_id, workflow_id)
    _show(st.out, wf.args_of(workflow), json_output)


@command(epilog=examples("relay workflow args get -w my_auto_answer greeting"))
def get_arg(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the arg.", show_default=False)],
    workflow_id: WorkflowRefOpt,
    subscriber_id: SubscriberOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Print one arg's value (strings as they are; --json for the typed JSON value)."""
    from ...core import workflow as wf

    st = state(ctx)
    _, workflow = find(st, subscriber_id, workflow_id)
    args = wf.args_of(workflow)
    if name not in args:
        raise NotFoundError(
            f"{workflow.get('name')} has no arg named {name!r}", hint="`relay workflow args list -w ...` shows them"
        )
    st.out.render(args[name], lambda: st.out.value(wf.format_value(args[name])), as_json=json_output)


@command(epilog=examples("relay workflow args set -w my_auto_answer -a greeting=hello -b record=true -r volume=7"))
def set_args(
    ctx: typer.Context,
    workflow_id: WorkflowRefOpt,
    arg: ArgOpt = None,
    boolean: BooleanOpt = None,
    number: NumberOpt = None,
    subscriber_id: SubscriberOpt = None,
    dry_run: DryRunOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Set args (merged into the existing ones)."""
    from ...core import workflow as wf

    new = wf.parse_args(arg, boolean, number)
    if not new:
        raise UsageError("expected at least one of -a NAME=VALUE, -b NAME=true|false, -r NAME=NUMBER", option="--arg")
    st = state(ctx)
    subscriber, workflow = find(st, subscriber_id, workflow_id, to_edit=True)
    _update(st, subscriber, workflow, {**wf.args_of(workflow), **new}, dry_run, json_output)


@command(epilog=examples("relay workflow args unset -w my_auto_answer greeting volume"))
def unset_args(
    ctx: typer.Context,
    names: Annotated[list[str], typer.Argument(help="Names of the args to remove.", show_default=False)],
    workflow_id: WorkflowRefOpt,
    subscriber_id: SubscriberOpt = None,
    dry_run: DryRunOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Remove args."""
    from ...core import workflow as wf

    for name in names:
        if not name.strip():
            raise UsageError("expected an arg name, got an empty string", option="NAME")
    names = list(dict.fromkeys(names))
    st = state(ctx)
    subscriber, workflow = find(st, subscriber_id, workflow_id, to_edit=True)
    current = wf.args_of(workflow)
    missing = [n for n in names if n not in current]
    if missing:
        st.out.warning(f"{workflow.get('name')} has no arg named {', '.join(missing)}")
    if len(missing) == len(names):
        st.out.message("Nothing to change.")
        st.out.render(current, None, as_json=json_output)
        return
    _update(st, subscriber, workflow, {k: v for k, v in current.items() if k not in names}, dry_run, json_output)
