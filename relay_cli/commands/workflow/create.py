"""``relay workflow create <trigger>``: one command per trigger, sharing the reference CLI's common flags.

Each command is its trigger-specific options plus the common ones (name, uri, install, args, ...). The
common options are declared once, below, and joined to each command's own through its signature.
"""


import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer

from ...core import triggers as _triggers  # the choices of --trigger (light: re, datetime)
from .._common import (
    ArgOpt,
    BooleanOpt,
    DryRunOpt,
    InstallAllOpt,
    InstallGroupOpt,
    InstallOpt,
    JsonOpt,
    NoCheckOpt,
    NumberOpt,
    StrictOpt,
    SubscriberOpt,
    examples as example_epilog,
    expand_ids,
    new_app,
    state,
)

HELP = "Create a workflow: start your app at --uri when a trigger fires on the devices it is installed on."
app = new_app(HELP)

P = inspect.Parameter


def _opt(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return P(name, P.KEYWORD_ONLY, annotation=annotation, default=default)


COMMON = [
    _opt("name", Annotated[str, typer.Option("--name", "-n", metavar="NAME", help="Name of the workflow.", show_default=False)], ...),
    _opt(
        "uri",
        Annotated[
            str,
            typer.Option(
                "--uri",
                "-u",
                metavar="URI",
                help="WebSocket URI of your workflow app: wss://... (ws:// only to a loopback host).",
                show_default=False,
            ),
        ],
        ...,
    ),
    _opt("install", InstallOpt, None),
    _opt("install_all", InstallAllOpt, False),
    _opt("install_group", InstallGroupOpt, None),
    _opt(
        "transient",
        Annotated[
            bool,
            typer.Option(
                "--transient/--no-transient",
                "-t",
                help="Let the workflow run in the background (--no-transient: end it when the device leaves it).",
            ),
        ],
        True,
    ),
    _opt("hidden", Annotated[bool, typer.Option("--hidden", "-e", help="Hide the channel from the originating device.")], False),
    _opt("arg", ArgOpt, None),
    _opt("boolean", BooleanOpt, None),
    _opt("number", NumberOpt, None),
    _opt(
        "absorb",
        Annotated[
            list[str] | None,
            typer.Option(
                "--absorb",
                hidden=True,
                help="When a matching workflow is already running, deliver these triggers to it as events "
                "(on_call_request, on_incoming_call).",
            ),
        ],
        None,
    ),
    _opt("subscriber_id", SubscriberOpt, None),
    _opt("dry_run", DryRunOpt, False),
    _opt("json_output", JsonOpt, False),
]
_COMMON_NAMES = {p.name for p in COMMON}
#: the preflight options of `create call`, handled here rather than by the trigger builder
CHECKS = [_opt("no_check", NoCheckOpt, False), _opt("strict", StrictOpt, False)]
_CHECK_NAMES = {p.name for p in CHECKS}


def _save(ctx: typer.Context, trigger: dict[str, Any], common: dict[str, Any], checks: dict[str, Any] | None = None) -> None:
    from . import render

    from ...core import workflow as wf

    st = state(ctx)
    target = wf.install_target(expand_ids(common["install"]), common["install_all"], common["install_group"])
    args = wf.parse_args(common["arg"], common["boolean"], common["number"])
    body = wf.build(
        name=common["name"],
        uri=common["uri"],
        trigger=trigger,
        install=target,
        transient=common["transient"],
        hidden=common["hidden"],
        args=args,
        absorb=common["absorb"],
    )
    subscriber_flag = common["subscriber_id"]
    if common["dry_run"]:
        render.dry_run(st, "POST", "/ibot/workflow", st.configured_subscriber(subscriber_flag), body, common["json_output"])
        return
    subscriber = st.subscriber_id(subscriber_flag)
    if checks is not None and not checks["no_check"]:
        from .checks import before_save

        before_save(st, subscriber, body, None, strict=checks["strict"])
    saved = st.client().save_workflow(subscriber, body)
    render.saved(st, saved or [body], "Created", common["json_output"])


def register(name: str, help: str, examples: list[str], own: list[inspect.Parameter]) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    """Register ``relay workflow create NAME``: ``build_trigger(**own_options)`` returns the ``on_*`` part."""

    def decorator(build_trigger: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        def command(ctx: typer.Context, **options: Any) -> None:
            common = {k: options.pop(k) for k in list(options) if k in _COMMON_NAMES}
            checks = {k: options.pop(k) for k in list(options) if k in _CHECK_NAMES} or None
            _save(ctx, build_trigger(**options), common, checks)

        command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [P("ctx", P.POSITIONAL_OR_KEYWORD, annotation=typer.Context), *own, *COMMON]
        )
        command.__name__ = name
        app.command(name, help=help, epilog=example_epilog(*examples), no_args_is_help=True)(command)
        return build_trigger

    return decorator


def _completer(choices: Any) -> Callable[[str], list[str]]:
    """Shell completion of a plain string option's choices (validation stays in core/triggers.py)."""
    values = tuple(choices)

    def complete(incomplete: str) -> list[str]:
        return [value for value in values if value.startswith(incomplete)]

    return complete


def _trigger_opt(choices: Any, default: str, help: str) -> inspect.Parameter:
    choices = tuple(choices)  # a tuple or the keys of a mapping of core/triggers.py
    return _opt(
        "trigger",
        Annotated[
            str,
            typer.Option(
                "--trigger",
                metavar="|".join(choices),
                help=f"{help} One of: {', '.join(choices)}.",
                show_default=True,
                autocompletion=_completer(choices),
            ),
        ],
        default,
    )


@register(
    "call",
    "Start the workflow when a call comes in to (inbound) or is placed from (outbound) a device.",
    [
        "relay workflow create call --trigger inbound --name my_auto_answer --uri wss://myhost.mydomain.com/autoanswerpath --install 990007560045678",
        "relay workflow create call --trigger outbound --name outbound --uri wss://myhost.mydomain.com/outboundpath --install 990007560023456",
    ],
    [_trigger_opt(_triggers.CALL_DIRECTIONS, "outbound", "Call direction."), *CHECKS],
)
def _call(trigger: str) -> dict[str, Any]:
    from ...core import triggers

    return triggers.call(trigger)


@register(
    "button",
    "Start the workflow when the action button is tapped.",
    ["relay workflow create button --trigger double --uri wss://myhost.mydomain.com/placecallpath --name place-call --install-all"],
    [_trigger_opt(_triggers.BUTTON_TAPS, "single", "Number of taps.")],
)
def _button(trigger: str) -> dict[str, Any]:
    from ...core import triggers

    return triggers.button(trigger)


@register(
    "phrase",
    "Start the workflow when a phrase is spoken to the Relay assistant.",
    ['relay workflow create phrase --trigger "hello world" --trigger "hi there" --name hello --uri wss://myhost.example.com/hello -A'],
    [
        _opt(
            "trigger",
            Annotated[
                list[str],
                typer.Option("--trigger", metavar="PHRASE", help='Phrase that starts the workflow (repeatable), e.g. "hello world".', show_default=False),
            ],
            ...,
        )
    ],
)
def _phrase(trigger: list[str]) -> dict[str, Any]:
    from ...core import triggers

    return triggers.phrase(trigger)


@register(
    "event",
    "Start the workflow when a device emits an event (emergency).",
    ["relay workflow create event --trigger emergency --name sos --uri wss://myhost.example.com/sos -A"],
    [_trigger_opt(_triggers.DEVICE_EVENTS, "emergency", "Device event.")],
)
def _event(trigger: str) -> dict[str, Any]:
    from ...core import triggers

    return triggers.event(trigger)


@register(
    "battery",
    "Start the workflow when a device's battery crosses a threshold while charging or discharging.",
    ["relay workflow create battery --trigger discharge --threshold 20 --name low-battery --uri wss://myhost.example.com/battery -A"],
    [
        _trigger_opt(_triggers.BATTERY_KINDS, "discharge", "Charging or discharging."),
        _opt(
            "threshold",
            Annotated[int, typer.Option("--threshold", metavar="PERCENT", help="Battery percentage, 1 to 100.", show_default=True)],
            25,
        ),
    ],
)
def _battery(trigger: str, threshold: int) -> dict[str, Any]:
    from ...core import triggers

    return triggers.battery(trigger, threshold)


@register(
    "http",
    "Start the workflow on an HTTP request (see `relay workflow trigger`).",
    ["relay workflow create http --trigger POST --name webhook --uri wss://myhost.example.com/hook -i 990007560045678"],
    [_trigger_opt(_triggers.HTTP_METHODS, "POST", "HTTP method.")],
)
def _http(trigger: str) -> dict[str, Any]:
    from ...core import triggers

    return triggers.http(trigger)


@register(
    "nfc",
    "Start the workflow when an NFC tag is tapped (optionally only tags of a category or label).",
    ["relay workflow create nfc -c tasks -l 'Room 12' --name room-check --uri wss://myhost.example.com/nfc -A"],
    [
        _opt("category", Annotated[str | None, typer.Option("--category", "-c", metavar="CATEGORY", help="Tag category to match.", show_default=False)], None),
        _opt("label", Annotated[str | None, typer.Option("--label", "-l", metavar="LABEL", help="Tag label to match.", show_default=False)], None),
        _opt(
            "tag_type",
            Annotated[str, typer.Option("--type", hidden=True, help="Tag type: custom or user_profile.", autocompletion=_completer(_triggers.NFC_TYPES))],
            "custom",
        ),
        _opt(
            "matcher",
            Annotated[
                list[str] | None,
                typer.Option("--matcher", "-m", hidden=True, metavar="NAME=VALUE", help="Extra tag content to match."),
            ],
            None,
        ),
    ],
)
def _nfc(category: str | None, label: str | None, tag_type: str, matcher: list[str] | None) -> dict[str, Any]:
    from ...core import triggers
    from ...core.workflow import parse_pairs

    return triggers.nfc(tag_type=tag_type, category=category, label=label, matchers=parse_pairs(matcher, "--matcher"))


@register(
    "geofence",
    "Start the workflow when a device enters or leaves a geofence.",
    ["relay workflow create geofence --trigger exit --id GEOFENCE_ID --name left-site --uri wss://myhost.example.com/geo -A"],
    [
        _trigger_opt(_triggers.TRANSITIONS, "entry", "Transition."),
        _opt("geofence_id", Annotated[str, typer.Option("--id", metavar="GEOFENCE_ID", help="Geofence id.", show_default=False)], ...),
    ],
)
def _geofence(trigger: str, geofence_id: str) -> dict[str, Any]:
    from ...core import triggers

    return triggers.geofence(trigger, geofence_id)


@register(
    "position",
    "Start the workflow when a device enters or leaves an indoor position.",
    ["relay workflow create position --trigger entry -v VENUE -p POSITION --name at-desk --uri wss://myhost.example.com/pos -A"],
    [
        _trigger_opt(_triggers.TRANSITIONS, "entry", "Transition."),
        _opt("venue_id", Annotated[str, typer.Option("--venue_id", "--venue-id", "-v", metavar="VENUE_ID", help="Venue id.", show_default=False)], ...),
        _opt(
            "position_id",
            Annotated[str, typer.Option("--position_id", "--position-id", "-p", metavar="POSITION_ID", help="Position id.", show_default=False)],
            ...,
        ),
    ],
)
def _position(trigger: str, venue_id: str, position_id: str) -> dict[str, Any]:
    from ...core import triggers

    return triggers.position(trigger, venue_id, position_id)


@register(
    "timer",
    "Start the workflow immediately, once at a time (schedule), or on a repeating rule (repeat).",
    [
        "relay workflow create timer --trigger immediately --name now --uri wss://myhost.example.com/t -A",
        "relay workflow create timer --trigger schedule --start 2030-01-01T09:00:00 -z America/Chicago --name once --uri wss://myhost.example.com/t -A",
        "relay workflow create timer --trigger repeat --start 2030-01-01T09:00:00 -z America/Chicago -c 10 -d MO -d WE --name standup --uri wss://myhost.example.com/t -A",
    ],
    [
        _trigger_opt(_triggers.TIMER_KINDS, "immediately", "When to run."),
        _opt(
            "start",
            Annotated[
                str | None,
                typer.Option(
                    "--start",
                    metavar="TIME",
                    help="Local start time, e.g. 2030-01-01T09:00:00 (no zone suffix). Default: the next full hour.",
                    show_default=False,
                ),
            ],
            None,
        ),
        _opt(
            "timezone",
            Annotated[
                str | None,
                typer.Option(
                    "--timezone",
                    "-z",
                    metavar="ZONE",
                    help="IANA time zone of --start, e.g. America/Chicago; 'local' is this machine's zone. Default: local.",
                    show_default=False,
                ),
            ],
            None,
        ),
        _opt("count", Annotated[int | None, typer.Option("--count", "-c", metavar="N", help="repeat: number of runs.", show_default=False)], None),
        _opt("until", Annotated[str | None, typer.Option("--until", "-l", metavar="TIME", help="repeat: last local time to run.", show_default=False)], None),
        _opt(
            "day",
            Annotated[
                list[str] | None,
                typer.Option("--day", "-d", metavar="DAY", help="repeat: day of the week, MO TU WE TH FR SA SU (repeatable). Default: every day.", show_default=False, autocompletion=_completer(_triggers.WEEKDAYS)),
            ],
            None,
        ),
        _opt("frequency", Annotated[str, typer.Option("--frequency", "-f", hidden=True, help="repeat: frequency.", autocompletion=_completer(_triggers.TIMER_FREQUENCIES))], "daily"),
        _opt("interval", Annotated[int, typer.Option("--interval", "-I", hidden=True, help="repeat: interval.")], 1),
    ],
)
def _timer(
    trigger: str,
    start: str | None,
    timezone: str | None,
    count: int | None,
    until: str | None,
    day: list[str] | None,
    frequency: str,
    interval: int,
) -> dict[str, Any]:
    from ...core import triggers
    from ..localtime import local_zone_name, next_full_hour

    if trigger == "immediately":
        if timezone == "local":
            timezone = None
    else:
        if start is None:
            start = next_full_hour()
        if timezone is None or timezone == "local":
            timezone = local_zone_name()
    return triggers.timer(
        trigger,
        start=start,
        timezone=timezone,
        count=count,
        until=until,
        days=day,
        frequency=frequency,
        interval=interval,
    )
