"""The scenario options of ``relay workflow simulate`` and ``relay workflow dev``, declared once: which
scenario, its parameters, the workflow args, the step timeout, --json. ``@scenario_options`` gives a command
all of them, collected into one ``ScenarioFlags`` (``relay_cli.simulator.flags``, which says what they mean)."""

import functools
import inspect
from typing import Annotated, Any

import typer

from ...simulator.protocol import DEFAULT_MAX_TIME
from .._common import ArgOpt, BooleanOpt, HoldOpt, NumberOpt


def _builtin_scenarios() -> list[str]:
    """The built-in scenarios' names, for shell completion of --scenario (the simulator's runner is loaded only
    when a shell asks)."""
    from ...simulator.runner import builtin_names

    return builtin_names()


_OPTIONS: dict[str, tuple[Any, Any]] = {
    "scenario": (
        Annotated[
            str | None,
            typer.Option(
                "--scenario",
                metavar="NAME",
                help="Built-in scenario: inbound-call, missed-call, outbound-call, button, phrase, trigger (any other trigger's "
                "START: --set trigger=nfc, ...). Default: the one the workflow's trigger implies (dev: the [dev] "
                "scenario of relay.toml first).",
                show_default=False,
                autocompletion=lambda incomplete: [n for n in _builtin_scenarios() if n.startswith(incomplete)],
            ),
        ],
        None,
    ),
    "scenario_file": (
        Annotated[
            str | None,
            typer.Option(
                "--scenario-file",
                metavar="FILE",
                help="Run your own scenario (TOML; see the README).",
                show_default=False,
            ),
        ],
        None,
    ),
    "device": (
        Annotated[
            str | None,
            typer.Option(
                "--device",
                metavar="NAME",
                help="The device the app runs for: a name, an id or a urn. Default: the first device the "
                "workflow is installed on, else Alice.",
                show_default=False,
            ),
        ],
        None,
    ),
    "caller": (
        Annotated[
            str | None,
            typer.Option(
                "--from", metavar="NAME", help="Who calls the device (inbound-call). Default: Bob.", show_default=False
            ),
        ],
        None,
    ),
    "callee": (
        Annotated[
            str | None,
            typer.Option(
                "--to",
                metavar="NAME",
                help="Whom the user asks to call (outbound-call). Default: Bob.",
                show_default=False,
            ),
        ],
        None,
    ),
    "hold": (HoldOpt, None),
    "reject": (
        Annotated[bool, typer.Option("--reject", help="The callee declines the calls the app places (call_failed).")],
        False,
    ),
    "taps": (
        Annotated[
            str | None,
            typer.Option(
                "--taps",
                metavar="single|double|triple|long",
                help="How the user taps the button (button). Default: double.",
                show_default=False,
            ),
        ],
        None,
    ),
    "phrase": (
        Annotated[
            str | None,
            typer.Option("--phrase", metavar="TEXT", help="What the user says (phrase).", show_default=False),
        ],
        None,
    ),
    "arg": (ArgOpt, None),
    "boolean": (BooleanOpt, None),
    "number": (NumberOpt, None),
    "settings": (
        Annotated[
            list[str] | None,
            typer.Option(
                "--set",
                metavar="NAME=VALUE",
                help="Set a scenario parameter or a protocol option, e.g. hold=1, call_trigger_type=call, "
                "epoch_unit=ms, speaking_rate=600, disconnect_after_hangup=false (repeatable; the README lists them).",
                show_default=False,
            ),
        ],
        None,
    ),
    "timeout": (
        Annotated[
            float,
            typer.Option(
                "--timeout",
                metavar="SECONDS",
                min=0.01,
                help="How long the app has to connect and to send each expected request (at most 3600).",
            ),
        ],
        10.0,
    ),
    "max_time": (
        Annotated[
            float,
            typer.Option(
                "--max-time",
                metavar="SECONDS",
                min=0.01,
                help="How long a whole run of the scenario may take, however much the app keeps sending (at most "
                "86400).",
            ),
        ],
        DEFAULT_MAX_TIME,
    ),
    "json_output": (
        Annotated[bool, typer.Option("--json", help="Print the transcript as JSON lines: one object per message.")],
        False,
    ),
}


def scenario_options(func: Any = None, *, without: tuple[str, ...] = ()) -> Any:
    """Give a command the scenario options: it declares ``flags: ScenarioFlags`` (keyword-only) and gets them
    there, collected. Its --help lists them after its own options. ``without``: the ones it does not take (their
    fields keep their defaults), as ``@scenario_options(without=("device",))``."""
    if func is None:
        return functools.partial(scenario_options, without=without)
    taken = {name: option for name, option in _OPTIONS.items() if name not in without}
    signature = inspect.signature(func)
    own = [p for p in signature.parameters.values() if p.name != "flags"]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        for name, (annotation, default) in taken.items()
    ]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ...simulator.flags import ScenarioFlags

        given = ScenarioFlags(**{name: kwargs.pop(name) for name in taken})
        return func(*args, flags=given, **kwargs)

    wrapper.__signature__ = signature.replace(parameters=own + added)  # type: ignore[attr-defined]  # read by inspect
    return wrapper
