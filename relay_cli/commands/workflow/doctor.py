"""``relay workflow doctor``: Relay's debugging checklist for one registered workflow (``core.doctor``)."""

import time
from typing import TYPE_CHECKING, Annotated

import typer

from ...jsontypes import JSONValue
from .._common import SubscriberOpt, command, complete_workflow, examples, state

if TYPE_CHECKING:
    from ...api.client import RelayClient
    from ...jsontypes import JSONValue


#: seconds each network step (connect, TLS, handshake) may take
NETWORK_TIMEOUT = 5.0
#: the most log lines read
MAX_LOG_LINES = 10_000
MAX_LOG_WAIT = 60.0


def _marks(encoding: str | None) -> dict[str, str]:
    """✔ ✗ - where stdout can show them, else plain ASCII."""
    try:
        if encoding is not None:
            "✔✗".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return {"ok": "[ok]  ", "failed": "[FAIL]", "skipped": "[skip]"}
    return {"ok": "✔", "failed": "✗", "skipped": "-"}


@command(
    epilog=examples(
        "relay workflow doctor place-call --device 990007560011111",
        "relay workflow doctor my_auto_answer --device Alice     # on the sandbox: a device's name will do",
        "relay workflow doctor wf_57407... --json | jq '.checks[] | select(.status == \"failed\")'",
    ),
)
def doctor(
    ctx: typer.Context,
    ref: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="The workflow: its exact name, its id, or the start of its id a narrow table shows.",
            show_default=False,
            autocompletion=complete_workflow,
        ),
    ],
    device: Annotated[
        str | None,
        typer.Option(
            "--device",
            metavar="DEVICE",
            help="The device it should run on: an id (on a sandbox also a name such as Alice). Default: any.",
            show_default=False,
        ),
    ] = None,
    log_wait: Annotated[
        float,
        typer.Option(
            "--log-wait",
            metavar="SECONDS",
            min=0,
            help="How long the realtime log is read for its recent errors (a sandbox in-process: what it holds).",
        ),
    ] = 2.0,
    subscriber_id: SubscriberOpt = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the checks as JSON on stdout.")] = False,
) -> None:
    """Check why a workflow does not run: Relay's debugging checklist, one line per check, each failure with
    its fix.

    The checks: registered (the exact name or id, one workflow); installed (on --device: directly, on all
    devices or through a group; without --device: on some device); its trigger, shown to compare with what you
    expect; the URI (wss://, ws:// only on a sandbox; not a placeholder such as YOUR-HOST; on Relay not an
    address of this machine or a private network); the server reachable (the host resolves, a connection
    opens); TLS (the certificate verifies for the host); WebSocket (the handshake at the URI's path is
    accepted); the instances running now; and the errors of the recent log (read for --log-wait seconds).

    When the trigger fires and Relay cannot open the WebSocket (a failed URI, server, TLS or WebSocket check),
    the device says "<name> is not available", as Relay's calling guide warns: the last line says which check
    explains it.

    Exit 0 when every check passes, 6 when one fails (--json too), 3 when --device is not in the account."""
    import math

    from ...api.probe import stages
    from ...core import doctor as dr, workflow as wf
    from ...errors import CheckFailed, UsageError
    from ...simulator import ondevice

    if not math.isfinite(log_wait) or log_wait > MAX_LOG_WAIT:
        raise UsageError(f"expected at most {MAX_LOG_WAIT:g} seconds, got {log_wait}", option="--log-wait")
    if not ref.strip():
        raise UsageError("expected a workflow name or id, got an empty string", option="NAME")
    st = state(ctx)
    target = st.target()
    subscriber = st.subscriber_id(subscriber_id)
    client = st.client()
    shown_device: tuple[str, str] | None = None
    if device is not None:
        where = ondevice.placement(client, subscriber, [device], target.sandbox)
        if where.group is not None:
            raise UsageError("expected a device (an id, or a name on a sandbox), got a group", option="--device")
        shown_device = (where.devices[0], where.names[0])

    checks: list[dr.Check] = []
    found, workflow = dr.registered(client.list_workflows(subscriber), ref, subscriber)
    checks.append(found)
    if workflow is None:
        checks += [dr.skipped(name, "not registered") for name in list(dr.CHECKS)[1:]]
    else:
        rule = workflow.get("install_rule")
        needs_groups = bool(rule) and rule != wf.ALL_DEVICES
        groups = [g for g in client.groups(subscriber) if isinstance(g, dict)] if needs_groups else []
        checks.append(dr.installed(workflow, groups, shown_device))
        checks.append(dr.trigger(workflow))
        uri_check = dr.uri(workflow, sandbox=target.sandbox)
        checks.append(uri_check)
        uri = wf.uri_of(workflow)
        if uri_check.status != dr.OK:
            checks += [dr.skipped(s, "fix the URI first") for s in ("reachable", "tls", "websocket")]
        else:
            steps = stages(uri, NETWORK_TIMEOUT)
            for stage in ("reachable", "tls", "websocket"):
                if stage in steps:
                    checks.append(dr.network(stage, steps[stage], uri=uri))
                elif stage == "tls" and uri.lower().startswith("ws://") and "websocket" in steps:
                    checks.append(dr.skipped("tls", "ws:// has no TLS (a sandbox takes it; Relay does not)"))
                else:
                    broken = next(c for c in reversed(checks) if c.status == dr.FAILED)
                    checks.append(dr.skipped(stage, f"{dr.CHECKS[broken.name]} failed"))
        wid = str(workflow.get("workflow_id"))
        checks.append(dr.instances([i for i in client.workflow_instances(subscriber) if i.get("workflow_id") == wid]))
        entries, followed = _recent_log(client, subscriber, wid, log_wait, st.is_local)
        checks.append(dr.log(entries, log_wait, followed))

    name = str(workflow.get("name")) if workflow else ref
    explanation = dr.explain(checks, name, shown_device[1] if shown_device else None)
    failures = [c for c in checks if c.status == dr.FAILED]
    data = {
        "workflow": {"workflow_id": workflow.get("workflow_id"), "name": workflow.get("name")} if workflow else None,
        "device": {"device_id": shown_device[0], "name": shown_device[1]} if shown_device else None,
        "target": target.where,
        "ok": not failures,
        "checks": [c.to_json() for c in checks],
        "explanation": explanation,
    }

    def human() -> None:
        marks = _marks(st.out.encoding)
        width = max(len(label) for label in dr.CHECKS.values())
        for check in checks:
            fix = f"; fix: {check.fix}" if check.status == dr.FAILED and check.fix else ""
            st.out.text(f"{marks[check.status]} {dr.CHECKS[check.name]:<{width}}  {check.detail}{fix}")

    st.out.render(data, human, as_json=json_output)
    if failures:
        raise CheckFailed(
            f"{len(failures)} of {len(checks)} checks failed for {name}: {', '.join(dr.CHECKS[c.name] for c in failures)}",
            hint=explanation,
        )


def _recent_log(
    client: "RelayClient", subscriber: str, workflow_id: str, wait: float, local: bool
) -> "tuple[list[JSONValue], bool]":
    """What the log of the workflow holds: the in-process sandbox's whole log; a server's for ``wait`` seconds."""
    until = None if local else time.monotonic() + wait
    entries: list[JSONValue] = []
    stream = client.workflow_logs(subscriber, workflow_id=workflow_id, until=until)
    try:
        for entry in stream:
            entries.append(entry)
            if len(entries) >= MAX_LOG_LINES:
                break
    finally:
        stream.close()
    return entries, not local
