"""How workflows are shown: the list columns, saved results and dry runs."""


from collections.abc import Callable
from typing import Any

from ... import output
from ...core import workflow as wf

#: column key → (header, cell)
COLUMNS: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "id": ("ID", lambda w: str(w.get("workflow_id", ""))),
    "name": ("Name", lambda w: str(w.get("name", ""))),
    "type": ("Type", wf.describe_type),
    "uri": ("URI", wf.uri_of),
    "install": ("Installed on", wf.describe_install),
    "args": ("Args", wf.describe_args),
}
DEFAULT_COLUMNS = ["id", "name", "type", "uri", "install"]


def show(
    workflows: list[dict[str, Any]],
    *,
    fmt: str = "table",
    keys: list[str] | None = None,
    no_header: bool = False,
    no_truncate: bool = False,
) -> None:
    keys = keys or DEFAULT_COLUMNS
    if fmt == "json":
        output.print_json(workflows)
        return
    if fmt == "yaml":
        output.print_yaml(workflows)
        return
    headers = [COLUMNS[k][0] for k in keys]
    cells = [COLUMNS[k][1] for k in keys]
    rows = [[cell(w) for cell in cells] for w in workflows]
    if fmt == "csv":
        output.print_csv(rows, headers, no_header=no_header)
    else:
        output.print_table(rows, headers, no_header=no_header, no_truncate=no_truncate)


def saved(st: Any, workflows: list[dict[str, Any]], verb: str, as_json: bool) -> None:
    """After a create or an update: the saved workflow (JSON: the object itself)."""
    if as_json:
        output.print_json(workflows[0] if len(workflows) == 1 else workflows)
        return
    names = ", ".join(f"{w.get('name')} ({w.get('workflow_id', 'no id')})" for w in workflows)
    output.success(f"{verb} workflow {names}")
    show(workflows, keys=DEFAULT_COLUMNS + ["args"])


def dry_run(st: Any, method: str, path: str, subscriber: str | None, body: Any, as_json: bool) -> None:
    """Print the body that would be sent; send nothing."""
    if not as_json:
        query = f"?subscriber_id={subscriber}" if subscriber else "?subscriber_id=<your default account>"
        output.message(f"Dry run, nothing sent. Would send: {st.describe_request(method, path + query)}")
    output.print_json(body)
