"""``relay workflow simulate``: play the Relay server's side of a call or a button tap against a workflow app."""

from typing import Annotated
from urllib.parse import urlsplit

import typer

from ... import output
from ...errors import AppMisbehaved, UsageError
from ...jsontypes import JSONObject
from ...simulator.flags import ScenarioFlags
from .._common import SubscriberOpt, command, complete_workflow, examples, state
from ._scenario import scenario_options


def _ws_uri(uri: str, what: str) -> str:
    """A ws:// or wss:// URI with a host; anything else is bad input (exit 2), before connecting."""
    if not uri.strip() or any(ch.isspace() or ord(ch) < 32 for ch in uri):
        raise UsageError(f"{what}: expected a ws:// or wss:// URI without spaces, got {uri!r}")
    try:
        parts = urlsplit(uri)
        ok = parts.scheme.lower() in ("ws", "wss") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # an unclosed [IPv6 address], a port that is not a number or out of range
        ok = False
    if not ok:
        raise UsageError(f"{what}: expected a ws:// or wss:// URI such as ws://localhost:8080/path, got {uri!r}")
    return uri


@command(
    epilog=examples(
        "relay workflow simulate ws://localhost:8080/autoanswer --scenario inbound-call --from Bob --hold 3",
        "relay workflow simulate ws://localhost:8080/autoanswer --scenario missed-call   # the caller hangs up first",
        "relay workflow simulate ws://localhost:8080/outbound --scenario outbound-call --reject",
        "relay workflow simulate ws://localhost:8080/placecall --scenario button --taps double",
        "relay workflow simulate my_auto_answer        # a registered workflow: its URI, trigger, device, args",
        "relay workflow simulate ws://localhost:8080/app --scenario-file calls/busy.toml --json",
    ),
)
@scenario_options
def simulate(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="URI_OR_REF",
            help="The workflow app: a ws:// or wss:// URI, or a registered workflow's exact id or name.",
            show_default=False,
            autocompletion=complete_workflow,
        ),
    ],
    subscriber_id: SubscriberOpt = None,
    *,
    flags: ScenarioFlags,
) -> None:
    """Play the Relay server's side of a call, a button tap or a phrase against your workflow app.

    Connects to the app as the Relay server does, sends the scenario's events (START, CALL_RECEIVED,
    ...), answers every request the way the server does (answer, call, say, start/end interaction, get_var,
    ...) and shows the conversation as it happens. The app reads a registered workflow's args with get_var;
    -a/-b/-r add or replace them. Exit 0 when the scenario completes and the app terminates; 6 when the app
    misbehaves (the failed step is named); 1 when the app cannot be reached."""
    from ...core import workflow as wf
    from ...simulator import runner, scenario as sc

    flags.check()
    chosen = flags.load()
    defaults: JSONObject = {}
    variables: JSONObject = {}
    if "://" in target:
        uri = _ws_uri(target, "URI_OR_REF")
    else:
        from .manage import find

        _subscriber, workflow = find(state(ctx), subscriber_id, target)
        workflow = wf.normalize(workflow)
        uri = _ws_uri(wf.uri_of(workflow), f"workflow {workflow.get('name')}'s URI")
        suggested, defaults, note = sc.defaults_from_workflow(workflow)
        variables.update(wf.args_of(workflow))
        if chosen is None:
            if suggested is None:
                raise UsageError(
                    f"{workflow.get('name')} is a {wf.describe_type(workflow)} workflow; choose a scenario "
                    f"({', '.join(runner.builtin_names())}) or --scenario-file",
                    option="--scenario",
                )
            chosen = runner.load_builtin(suggested)
        if note and flags.device is None:
            output.message(f"note: {note}")
    if chosen is None:
        raise UsageError(
            f"expected --scenario NAME ({', '.join(runner.builtin_names())}) or --scenario-file FILE",
            option="--scenario",
        )
    world = runner.demo_world()
    params = flags.resolve(chosen, defaults, variables, world)
    output.message(f"simulating {chosen.name} against {uri} (device {params['device_name']})")
    outcome = runner.run(
        uri, chosen, params, timeout=flags.timeout, emit=flags.printer(), world=world, max_time=flags.max_time
    )
    if outcome.failure is not None:
        raise AppMisbehaved(f"scenario {chosen.name}: {outcome.failure.text()}", hint=outcome.failure.hint)
    output.success(
        f"scenario {chosen.name} passed: the app terminated cleanly ({outcome.messages} messages, {outcome.seconds:.1f}s)"
    )
