"""How workflows are shown: the list columns, saved results and dry runs."""

from typing import TYPE_CHECKING, Any

from ...core import workflow as wf
from ...table import Column, draw, field

if TYPE_CHECKING:
    from ...output import Output
    from ...state import State

#: the columns of a workflow table (Args only with -x, or when named)
COLUMNS = [
    Column("id", "ID", field("workflow_id")),
    Column("name", "Name", field("name")),
    Column("type", "Type", wf.describe_type),
    Column("uri", "URI", wf.uri_of),
    Column("install", "Installed on", wf.describe_install),
    Column("args", "Args", wf.describe_args, extended=True),
]


def saved(out: "Output", workflows: list[dict[str, Any]], verb: str, as_json: bool) -> None:
    """After a create or an update: the saved workflow (JSON: the object itself)."""

    def human() -> None:
        names = ", ".join(f"{w.get('name')} ({w.get('workflow_id', 'no id')})" for w in workflows)
        out.success(f"{verb} workflow {names}")
        draw(COLUMNS, workflows, out, extended=True)

    out.render(workflows[0] if len(workflows) == 1 else workflows, human, as_json=as_json)


def dry_run(st: "State", method: str, path: str, subscriber: str | None, body: Any, as_json: bool) -> None:
    """Print the request and the body that would be sent (``_resource.dry_run_report``); send nothing."""
    from .._resource import DEFAULT_ACCOUNT, dry_run_report

    dry_run_report(st, method, path, {"subscriber_id": subscriber or DEFAULT_ACCOUNT}, body, as_json)
