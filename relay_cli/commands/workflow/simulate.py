"""``relay workflow simulate``: play the Relay server's side of a call or a button tap against a workflow app."""

import json
import sys
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from ... import output
from ...errors import AppMisbehaved, UsageError
from .._common import SubscriberOpt, examples, state
from . import app


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


def finite_seconds(value: float | None, option: str) -> None:
    """Typer's range check lets NaN through (every comparison with it is false), and infinity above a minimum."""
    import math

    if value is not None and not math.isfinite(value):
        raise UsageError(f"expected a number of seconds, got {value}", option=option)


@app.command(
    "simulate",
    epilog=examples(
        "relay workflow simulate ws://localhost:8080/autoanswer --scenario inbound-call --from Bob --hold 3",
        "relay workflow simulate ws://localhost:8080/outbound --scenario outbound-call --reject",
        "relay workflow simulate ws://localhost:8080/placecall --scenario button --taps double",
        "relay workflow simulate my_auto_answer        # a registered workflow: its URI, trigger, device, args",
        "relay workflow simulate ws://localhost:8080/app --scenario-file calls/busy.toml --json",
    ),
)
def simulate(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="URI_OR_REF",
            help="The workflow app: a ws:// or wss:// URI, or a registered workflow's exact id or name.",
            show_default=False,
        ),
    ],
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario",
            metavar="NAME",
            help="Built-in scenario: inbound-call, outbound-call, button, phrase, trigger (any other trigger's "
            "START: --set trigger=nfc, ...). Default for a registered workflow: the one its trigger implies.",
            show_default=False,
        ),
    ] = None,
    scenario_file: Annotated[
        str | None,
        typer.Option(
            "--scenario-file", metavar="FILE", help="Run your own scenario (TOML; see the README).", show_default=False
        ),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(
            "--device",
            metavar="NAME",
            help="The device the app runs for: a name, an id or a urn. Default: the first device a registered "
            "workflow is installed on, else Alice.",
            show_default=False,
        ),
    ] = None,
    caller: Annotated[
        str | None,
        typer.Option(
            "--from", metavar="NAME", help="Who calls the device (inbound-call). Default: Bob.", show_default=False
        ),
    ] = None,
    callee: Annotated[
        str | None,
        typer.Option(
            "--to", metavar="NAME", help="Whom the user asks to call (outbound-call). Default: Bob.", show_default=False
        ),
    ] = None,
    hold: Annotated[
        float | None,
        typer.Option(
            "--hold",
            metavar="SECONDS",
            min=0,
            help="Seconds the other party stays on a connected call before hanging up. Default: 5.",
            show_default=False,
        ),
    ] = None,
    reject: Annotated[
        bool, typer.Option("--reject", help="The callee declines the calls the app places (call_failed).")
    ] = False,
    taps: Annotated[
        str | None,
        typer.Option(
            "--taps",
            metavar="single|double",
            help="How the user taps the button (button). Default: double.",
            show_default=False,
        ),
    ] = None,
    phrase: Annotated[
        str | None, typer.Option("--phrase", metavar="TEXT", help="What the user says (phrase).", show_default=False)
    ] = None,
    arg: Annotated[
        list[str] | None,
        typer.Option(
            "--arg",
            "-a",
            metavar="NAME=VALUE",
            help="A workflow arg the app reads with get_var (repeatable; over a registered workflow's args).",
            show_default=False,
        ),
    ] = None,
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="NAME=VALUE",
            help="Set a scenario parameter or a protocol option, e.g. call_trigger_type=call, epoch_unit=ms, "
            "speaking_rate=600, disconnect_after_hangup=false (repeatable; the README lists them).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            min=0.01,
            help="How long the app has to connect and to send each expected request.",
        ),
    ] = 10.0,
    subscriber_id: SubscriberOpt = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per message, one per line (JSON lines).")
    ] = False,
) -> None:
    """Play the Relay server's side of a call, a button tap or a phrase against your workflow app.

    Connects to the app as the Relay server does, sends the scenario's events (START, CALL_RECEIVED,
    ...), answers every request the way the server does (answer, call, say, start/end interaction, get_var,
    ...) and shows the conversation as it happens. Exit 0 when the scenario completes and the app
    terminates; 6 when the app misbehaves (the failed step is named); 1 when the app cannot be reached."""
    from ...core import workflow as wf
    from ...simulator import protocol, runner, scenario as sc

    finite_seconds(timeout, "--timeout")
    finite_seconds(hold, "--hold")
    if scenario is not None and scenario_file is not None:
        raise UsageError("--scenario and --scenario-file cannot be used together; pick one", option="--scenario-file")
    chosen = (
        runner.load_file(scenario_file)
        if scenario_file is not None
        else runner.load_builtin(scenario)
        if scenario
        else None
    )

    defaults: dict[str, Any] = {}
    variables: dict[str, Any] = {}
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
        if note and device is None:
            output.message(f"note: {note}")
    if chosen is None:
        raise UsageError(
            f"expected --scenario NAME ({', '.join(runner.builtin_names())}) or --scenario-file FILE",
            option="--scenario",
        )
    variables.update(wf.parse_args(arg))
    flags = {
        "device": ("--device", device),
        "from": ("--from", caller),
        "to": ("--to", callee),
        "hold": ("--hold", hold),
        "reject": ("--reject", True if reject else None),
        "taps": ("--taps", taps),
        "phrase": ("--phrase", phrase),
    }
    world = runner.demo_world()
    params = sc.resolve_params(chosen, flags, settings, defaults, world)
    params["vars"] = variables
    for warning in protocol.option_warnings(params):
        output.warning(warning)

    def emit(record: sc.Record) -> None:
        text = json.dumps(record.to_json(), ensure_ascii=False) if json_output else record.line()
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    output.message(f"simulating {chosen.name} against {uri} (device {params['device_name']})")
    outcome = runner.run(uri, chosen, params, timeout=timeout, emit=emit, world=world)
    if outcome.failure is not None:
        raise AppMisbehaved(f"scenario {chosen.name}: {outcome.failure.text()}", hint=outcome.failure.hint)
    output.success(
        f"scenario {chosen.name} passed: the app terminated cleanly ({outcome.messages} messages, {outcome.seconds:.1f}s)"
    )
