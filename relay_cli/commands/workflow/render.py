"""How workflows are shown: the list columns, saved results and dry runs."""

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ...core import workflow as wf
from ...jsontypes import JSONObject, JSONValue
from ...table import Column, Fit, cut_end, cut_middle, cut_start, draw, field, short_uri

if TYPE_CHECKING:
    from ...output import Output
    from ...state import State


def cut_install(text: str, width: int, ellipsis: str, *, named: bool = False) -> str:
    """Where a workflow is installed, in ``width`` cells: ``group`` and a count of more devices (``+2``) stay,
    a device id or a group's id loses its start (they differ at the end), a group's name (``named``) its end."""
    import re

    lead = "group " if text.startswith("group ") else ""
    more = re.search(r" \+\d+$", text)
    tail = more.group() if more else ""
    if len(lead) + len(tail) + 2 > width:
        return cut_start(text, width, ellipsis)
    cut = cut_end if named and lead else cut_start
    return lead + cut(text[len(lead) : len(text) - len(tail)], width - len(lead) - len(tail), ellipsis) + tail


def cut_named_install(text: str, width: int, ellipsis: str) -> str:
    return cut_install(text, width, ellipsis, named=True)


#: the columns of a workflow table (Args only with -x, or when named). On a terminal too narrow for the whole
#: table: short forms first (the id's unique prefix, the URI without wss://, the first device and a count), then
#: the URI is cut, then where it is installed, then the id left out, then the name cut; only then the URI and the
#: rest are left out. The name stays.
COLUMNS = [
    Column("id", "ID", field("workflow_id"), fit=Fit(give=0, out=30, unique=wf.SHORT_ID)),  # what -w takes
    Column("name", "Name", field("name"), fit=Fit(give=40, least=10, keep=True)),
    Column("type", "Type", wf.describe_type, fit=Fit(give=45, least=13, out=70), keys=("config",)),
    Column(
        "uri",
        "URI",
        wf.uri_of,
        fit=Fit(give=10, least=12, out=50, short=lambda w: short_uri(wf.uri_of(w)), cut=cut_middle),
        keys=("config",),
    ),
    Column(
        "install",
        "Installed on",
        wf.describe_install,
        fit=Fit(give=20, least=15, out=60, short=wf.install_short, cut=cut_install),
        shown=wf.install_shown,
        keys=("install", "install_rule"),
    ),
    Column("args", "Args", wf.describe_args, extended=True, fit=Fit(give=5, least=10, out=25), keys=("config",)),
]


def naming_groups(columns: Sequence[Column], names: Mapping[str, str]) -> tuple[Column, ...]:
    """``columns`` with the install column showing a group by its name (``names``: group urn → name) on a terminal;
    its whole value (a pipe, CSV, --filter) stays the urn."""

    def shown(workflow: JSONObject) -> str:
        return wf.install_shown(workflow, names)

    def short(workflow: JSONObject) -> str:
        return wf.install_short(workflow, names)

    return tuple(
        replace(c, shown=shown, fit=replace(c.fit, short=short, cut=cut_named_install)) if c.key == "install" else c
        for c in columns
    )


def saved(out: "Output", workflows: list[JSONObject], verb: str, as_json: bool) -> None:
    """After a create or an update: the saved workflow (JSON: the object itself)."""

    def human() -> None:
        names = ", ".join(f"{w.get('name')} ({w.get('workflow_id', 'no id')})" for w in workflows)
        out.success(f"{verb} workflow {names}")
        draw(COLUMNS, workflows, out, extended=True)

    out.render(workflows[0] if len(workflows) == 1 else workflows, human, as_json=as_json)


def dry_run(st: "State", method: str, path: str, subscriber: str | None, body: JSONValue, as_json: bool) -> None:
    """Print the request and the body that would be sent (``_resource.dry_run_report``); send nothing."""
    from .._resource import DEFAULT_ACCOUNT, dry_run_report

    dry_run_report(st, method, path, {"subscriber_id": subscriber or DEFAULT_ACCOUNT}, body, as_json)
