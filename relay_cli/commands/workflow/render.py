"""How workflows are shown: the list columns, filters and sorting, saved results and dry runs."""


from collections.abc import Callable
from typing import Any

from ... import output
from ...core import workflow as wf
from ...errors import UsageError

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


def _column(key: str, option: str) -> str:
    key = key.strip().lower()
    if key not in COLUMNS:
        raise UsageError(f"expected a column among {', '.join(COLUMNS)}, got {key!r}", option=option)
    return key


def columns(spec: str | None, extended: bool) -> list[str]:
    if spec:
        keys = [_column(k, "--columns") for k in spec.split(",") if k.strip()]
        if not keys:
            raise UsageError("expected a comma-separated list of columns", option="--columns")
        return keys
    return DEFAULT_COLUMNS + (["args"] if extended else [])


def parse_filters(filters: list[str] | None) -> list[tuple[str, str]]:
    parsed = []
    for text in filters or []:
        key, sep, needle = text.partition("=")
        if not sep:
            raise UsageError(f"expected COLUMN=TEXT such as name=auto, got {text!r}", option="--filter")
        parsed.append((_column(key, "--filter"), needle.lower()))
    return parsed


def select(workflows: list[dict[str, Any]], filters: list[tuple[str, str]], sort: str | None) -> list[dict[str, Any]]:
    """Keep workflows whose column contains every filter text (case-insensitive); sort by ``[-]column``."""
    rows = [w for w in workflows if all(needle in COLUMNS[key][1](w).lower() for key, needle in filters)]
    if sort:
        reverse = sort.startswith("-")
        key = _column(sort.lstrip("-"), "--sort")
        cell = COLUMNS[key][1]
        rows.sort(key=lambda w: cell(w).lower(), reverse=reverse)
    return rows


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
