"""``relay sandbox call | dial | press | say | nfc | battery | move | position | emergency | tick``: something
happens on a sandbox device, and the sandbox starts the workflows Relay would start for it and plays them
(docs/sandbox.md). Only on a sandbox: the in-process one, or a ``relay server`` named by RELAY_HOST."""

import inspect
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import AppMisbehaved, NetworkError, NotFoundError, RelayError, UsageError
from ._common import HoldOpt, SubscriberOpt, command, examples, state

if TYPE_CHECKING:
    from ..output import Output
    from ..state import State


DEVICE_HELP = "The device: its id or its name in the account (the demo account has Alice, Bob, Carol, ...)."
DeviceArg = Annotated[str, typer.Argument(metavar="DEVICE", help=DEVICE_HELP, show_default=False)]
RejectOpt = Annotated[bool, typer.Option("--reject", help="The callee declines the calls the app places.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="NAME=VALUE",
        help="A scenario parameter or protocol option, as `relay workflow simulate --set` (e.g. speaking_rate=600; "
        "repeatable).",
        show_default=False,
    ),
]
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout", metavar="SECONDS", min=0.01, help="How long each app has to connect and to send each request."
    ),
]
MaxTimeOpt = Annotated[
    float,
    typer.Option(
        "--max-time",
        metavar="SECONDS",
        min=0.01,
        help="How long each whole conversation may take, however much the app keeps sending (at most 86400).",
    ),
]
JsonLinesOpt = Annotated[
    bool, typer.Option("--json", help="Print the transcripts as JSON lines, as `relay workflow simulate --json`.")
]

EXIT_CODES = (
    "Exit 0 when every workflow started ran to its end, 6 when an app misbehaved, 1 when one could not be "
    'reached (the device would say "<name> is not available"), 3 when no workflow handles the event or the '
    "device does not exist, 2 when aimed at Relay."
)


# --- the target ------------------------------------------------------------------------------------------------


def _sandbox_only(st: "State") -> None:
    """Refuse, before any request, a target that is Relay; ask any other host whether it is a sandbox."""
    from ..state import describe_target

    if st.is_local:
        return
    hint = "use --profile local (the in-process sandbox), or point RELAY_HOST at a `relay server`"
    if st.settings.ci_unconfigured:
        raise UsageError(
            "relay sandbox acts on sandbox devices only, and CI is set with no target configured", hint=hint
        )
    target = st.target()
    if target.sandbox:
        return
    where = describe_target(st.settings, with_profile=True)
    if target.relay:
        raise UsageError(
            f"relay sandbox acts on sandbox devices only, and this command would go to {where}, where a device "
            "event is something a real person does",
            hint=hint,
        )
    raise UsageError(
        f"{where} is not a relay sandbox (it does not answer GET /_sandbox/info as `relay server` does)", hint=hint
    )


# --- one event -------------------------------------------------------------------------------------------------


def _text(value: str, what: str, option: str) -> str:
    from ..core import workflow as wf

    if not value.strip() or wf.has_control(value):
        raise UsageError(f"expected {what}, without control characters, got {value!r}", option=option)
    return value.strip()


def _options(
    hold: float | None, reject: bool, settings: list[str] | None, timeout: float, max_time: float
) -> dict[str, Any]:
    from ..simulator.protocol import MAX_MAX_TIME, MAX_SECONDS

    for value, option, most in (
        (hold, "--hold", MAX_SECONDS),
        (timeout, "--timeout", MAX_SECONDS),
        (max_time, "--max-time", MAX_MAX_TIME),
    ):
        if value is not None and not (math.isfinite(value) and value <= most):
            raise UsageError(f"expected a number of seconds up to {most:g}, got {value:g}", option=option)
    for text in settings or []:
        name, sep, _ = text.partition("=")
        if not sep or not name:
            raise UsageError(f"expected NAME=VALUE such as speaking_rate=600, got {text!r}", option="--set")
    body: dict[str, Any] = {"reject": reject, "timeout": timeout, "max_time": max_time, "set": list(settings or [])}
    if hold is not None:
        body["hold"] = hold
    return body


class _Transcript:
    """Prints what the sandbox streams back: who starts (stderr), the conversations (stdout), how each ended."""

    def __init__(self, out: "Output", json_output: bool) -> None:
        self.out = out
        self.json_output = json_output
        self.runs: dict[int, dict[str, Any]] = {}
        self.ends: dict[int, dict[str, Any]] = {}
        self.done = False

    def header(self, head: dict[str, Any]) -> None:
        self.runs = {int(r["run"]): r for r in head.get("started") or [] if isinstance(r, dict)}
        names = [f"{r['name']} ({r['trigger']}, {r['uri']})" for r in self.runs.values()]
        device = head.get("device")
        where = f"{device['name']}: " if isinstance(device, dict) else ""
        if len(names) == 1:
            self.out.message(f"{where}{head.get('event')} starts {names[0]}")
        else:
            self.out.message(f"{where}{head.get('event')} starts {len(names)} workflows, at once: {'; '.join(names)}")

    def record(self, index: int, instance_id: str | None, data: dict[str, Any]) -> None:
        run = self.runs.get(index, {})
        if self.json_output:
            data = {
                **data,
                "workflow": run.get("name"),
                "workflow_id": run.get("workflow_id"),
                "instance_id": instance_id,
            }
            self.out.write(json.dumps(data, ensure_ascii=False) + "\n")  # as simulate --json writes them
        else:
            from ..simulator.scenario import Record

            warning = data.get("warning")
            record = Record(
                float(data.get("t", 0)),
                str(data.get("from")),
                data.get("step"),
                data.get("message"),
                data.get("raw"),
                None if warning is None else str(warning),
            )
            text = record.line()
            self.out.text(f"{run.get('name')} | {text}" if len(self.runs) > 1 else text)

    def end(self, index: int, end: dict[str, Any]) -> None:
        self.ends[index] = end
        if end.get("outcome") == "ended":
            self.out.success(f"{end.get('message')} ({end.get('messages')} messages, {end.get('seconds', 0):.1f}s)")
        elif end.get("outcome") == "stopped":
            self.out.message(str(end.get("message")))

    def take(self, item: Any) -> None:
        """One line of the answer (docs/sandbox.md), checked before it is used."""
        try:
            if not isinstance(item, dict):
                raise TypeError(type(item).__name__)
            if "started" in item:
                started = item["started"]
                if not isinstance(started, list) or not all(
                    isinstance(r, dict) and isinstance(r.get("run"), int) and isinstance(r.get("name"), str)
                    for r in started
                ):
                    raise TypeError("started")
                self.header(item)
            elif "record" in item:
                record = item["record"]
                if not isinstance(record, dict) or not isinstance(record.get("message", {}), dict):
                    raise TypeError("record")
                self.record(int(item["run"]), item.get("instance_id"), record)
            elif "end" in item:
                if not isinstance(item["end"], dict):
                    raise TypeError("end")
                self.end(int(item["run"]), item["end"])
            elif item.get("done") is True:
                self.done = True
        except (KeyError, TypeError, ValueError) as exc:
            raise RelayError(f"the sandbox answered with a line of an unexpected shape ({exc})") from None

    def outcome(self) -> None:
        """Raise what went wrong: 1 when an app could not be reached, else 6 when one misbehaved."""
        if not self.done or len(self.ends) < len(self.runs):
            raise RelayError("the sandbox's answer ended before the conversations did")
        failed = [(i, e) for i, e in sorted(self.ends.items()) if e.get("outcome") not in ("ended", "stopped")]
        if not failed:
            return
        device = {i: (self.runs.get(i) or {}).get("device") or {} for i, _ in failed}
        errors: list[RelayError] = []
        for index, end in failed:
            message, hint = str(end.get("message")), end.get("hint")
            if end.get("outcome") == "unavailable":
                name = (self.runs.get(index) or {}).get("name")
                says = f'{device[index].get("name") or "The device"} says "{name} is not available"'
                errors.append(NetworkError(message, hint=f"{says}; {hint}" if hint else says))
            else:
                errors.append(AppMisbehaved(message, hint=str(hint) if hint else None))
        for err in errors[:-1]:
            self.out.message(f"error: {err.message}", style="red")
            if err.hint:
                self.out.message(f"hint: {err.hint}")
        last = errors[-1]
        if any(isinstance(e, NetworkError) for e in errors) and not isinstance(last, NetworkError):
            raise NetworkError(last.message, hint=last.hint)
        raise last


def _fire(ctx: typer.Context, path: str, body: dict[str, Any], json_output: bool, subscriber_id: str | None) -> None:
    from ..errors import ApiError

    st = state(ctx)
    _sandbox_only(st)
    transcript = _Transcript(st.out, json_output)
    if st.is_local:  # the in-process sandbox's app, called directly (local/direct.py says why)
        from ..local import direct
        from ..state import sandbox_db

        try:
            with direct.stream(sandbox_db(st.environ), path, st.configured_subscriber(subscriber_id), body) as items:
                for item in items:
                    transcript.take(item)
        except direct.Refused as exc:
            raise _refusal(exc.status, exc.error, exc.message) from None
    else:
        subscriber = st.subscriber_id(subscriber_id)
        try:
            for item in st.client().sandbox_stream(path, subscriber, body):
                transcript.take(item)
        except ApiError as exc:
            if exc.status not in (400, 404, 503) or not exc.detail:
                raise
            raise _refusal(exc.status, exc.error, exc.detail) from None
    transcript.outcome()


def _refusal(status: int, error: str | None, detail: str) -> RelayError:
    """The sandbox refused the event: nothing was changed or started."""
    from ..errors import ApiError

    if status == 404:
        return NotFoundError(detail, hint=_not_found_hint(error))
    if status == 400:  # the event or its options
        return UsageError(detail)
    return ApiError(detail, status=status, error=error)


def _not_found_hint(error: str | None) -> str | None:
    return {
        "no_match": "`relay workflow install -w NAME -i DEVICE` installs a workflow on a device; "
        "`relay workflow list` shows each one's trigger",
        "device_not_found": "`relay devices` lists the account's devices",
    }.get(error or "")


# --- the events: one description each, one command each -------------------------------------------------------

P = inspect.Parameter


def _own(name: str, annotation: Any, default: Any = ...) -> inspect.Parameter:
    return P(name, P.KEYWORD_ONLY, annotation=annotation, default=default)


def _argument(name: str, kind: Any, metavar: str, help: str, **settings: Any) -> inspect.Parameter:
    return _own(name, Annotated[kind, typer.Argument(metavar=metavar, help=help, show_default=False, **settings)])


def _option(name: str, kind: Any, flag: str, help: str, default: Any = ..., **settings: Any) -> inspect.Parameter:
    return _own(name, Annotated[kind, typer.Option(flag, help=help, **settings)], default)


def _who(option: str) -> Callable[..., dict[str, Any]]:
    """The event's field ``from`` or ``to``: the device that calls or is called, from ``--from`` or ``--to``."""
    field = option.lstrip("-")
    return lambda *, party: {field: _text(party, "a device id or name", option)}


def _pressed(*, taps: str | None, long: bool) -> dict[str, Any]:
    from ..core.triggers import PRESSES, choice

    if long and taps is not None:
        raise UsageError("a long press is not taps; give --long or --taps, not both", option="--long")
    return {"taps": "long" if long else choice(taps or "single", PRESSES[:-1], "--taps")}


def _moved(*, lat: float, long: float) -> dict[str, Any]:
    for value, option in ((lat, "--lat"), (long, "--long")):
        if not math.isfinite(value):
            raise UsageError(f"expected a number, got {value}", option=option)
    return {"lat": lat, "long": long}


@dataclass(frozen=True)
class Event:
    """A device event of ``relay sandbox``: the command ``relay sandbox NAME DEVICE ...`` sends ``{"event": NAME,
    "device": DEVICE, **fields(**own)}`` with the options every event has (``--hold``, ``--set``, ...)."""

    name: str
    #: the command's page (the exit codes are added)
    help: str
    examples: tuple[str, ...]
    #: the event's own arguments and options, after DEVICE and before the options every event has
    own: tuple[inspect.Parameter, ...] = ()
    #: the event's fields from its own values, checked (a UsageError names the flag)
    fields: Callable[..., dict[str, Any]] = dict
    #: whether it takes --reject (the callee of a call the app places declines): not for an inbound call
    reject: bool = True


EVENTS = (
    Event(
        "call",
        "A call comes in to DEVICE: its inbound call workflows start (CALL_RECEIVED names the caller).\n\n"
        "The caller hangs up --hold seconds after the app answers.",
        ("relay sandbox call Alice --from Bob", "relay sandbox call 990007560045678 --from Carol --hold 2 --json"),
        (_option("party", str, "--from", "Who calls: a device id or name.", metavar="CALLER", show_default=False),),
        _who("--from"),
        reject=False,
    ),
    Event(
        "dial",
        "The user of DEVICE places a call: its outbound call workflows start (CALL_START_REQUEST names the callee)."
        "\n\nThe callee answers (or declines, --reject) the call the app places, and hangs up after --hold seconds.",
        ("relay sandbox dial Bob --to Alice", "relay sandbox dial Bob --to Carol --reject"),
        (
            _option(
                "party", str, "--to", "Whom the user calls: a device id or name.", metavar="CALLEE", show_default=False
            ),
        ),
        _who("--to"),
    ),
    Event(
        "press",
        "The user presses the action button of DEVICE: its button workflows for that many taps start.",
        (
            "relay sandbox press Alice --taps double",
            "relay sandbox press Carol                  # a single tap",
            "relay sandbox press Alice --long",
        ),
        (
            _option(
                "taps",
                str | None,
                "--taps",
                "How the action button is tapped. Default: single.",
                None,
                metavar="single|double|triple",
                show_default=False,
            ),
            _option("long", bool, "--long", "A long press of the action button (not taps).", False),
        ),
        _pressed,
    ),
    Event(
        "say",
        "The user of DEVICE says PHRASE to the assistant: the phrase workflows whose phrase it begins with start\n"
        "(the rest is the START's spillover).",
        ('relay sandbox say Alice "hello relay"', 'relay sandbox say Bob "call carol please" --json'),
        (_argument("phrase", str, "PHRASE", "What the user says."),),
        lambda *, phrase: {"phrase": _text(phrase, "a phrase", "PHRASE")},
    ),
    Event(
        "nfc",
        "DEVICE reads the NFC tag TAG: the NFC workflows whose type, category and label it has start.",
        ("relay sandbox nfc Alice 'Room 12'", "relay sandbox nfc Alice tag_0123abcd"),
        (_argument("tag", str, "TAG", "The tag read: its id or its label (`relay tag list`)."),),
        lambda *, tag: {"tag": _text(tag, "a tag id or label", "TAG")},
    ),
    Event(
        "battery",
        "DEVICE's battery is now at LEVEL percent: the battery workflows whose threshold it crossed start\n"
        "(discharge: from above to at or below, not charging; charge: from below to at or above, --charging). A\n"
        "device starts at 100%.",
        ("relay sandbox battery Alice 15", "relay sandbox battery Alice 90 --charging"),
        (
            _argument("level", int, "LEVEL", "The battery level now, in percent.", min=0, max=100),
            _option("charging", bool, "--charging", "The device is charging.", False),
        ),
        lambda *, level, charging: {"level": level, "charging": charging},
    ),
    Event(
        "move",
        "DEVICE moves to LAT, LONG: the geofence workflows of each geofence it enters or leaves start\n"
        "(`relay geofence create`; a device starts nowhere).",
        ("relay sandbox move Alice --lat 35.7796 --long -78.6382",),
        (
            _option("lat", float, "--lat", "Latitude, -90..90.", metavar="LAT", min=-90, max=90, show_default=False),
            _option(
                "long", float, "--long", "Longitude, -180..180.", metavar="LONG", min=-180, max=180, show_default=False
            ),
        ),
        _moved,
    ),
    Event(
        "position",
        "DEVICE comes to POSITION of VENUE: the position workflows of the position it leaves (exit) and of this one\n"
        "(entry) start.",
        ("relay sandbox position Alice venue-hq pos-lobby",),
        (
            _argument("venue", str, "VENUE", "The venue (`relay venues`)."),
            _argument("where", str, "POSITION", "The position in it (`relay positions -v VENUE`)."),
        ),
        lambda *, venue, where: {
            "venue": _text(venue, "a venue id", "VENUE"),
            "position": _text(where, "a position id", "POSITION"),
        },
    ),
    Event(
        "emergency",
        "The user of DEVICE raises an emergency: its emergency event workflows start.",
        ("relay sandbox emergency Alice",),
    ),
)

#: the options every event has, after its own; --reject where the event takes it
_SHARED = (
    _own("hold", HoldOpt, None),
    _own("reject", RejectOpt, False),
    _own("settings", SetOpt, None),
    _own("timeout", TimeoutOpt, 10.0),
    _own("max_time", MaxTimeOpt, 300.0),
    _own("subscriber_id", SubscriberOpt, None),
    _own("json_output", JsonLinesOpt, False),
)


def _command(event: Event) -> Callable[..., None]:
    """The command of ``event``: DEVICE, its own arguments and options, then the shared ones."""

    def run(ctx: typer.Context, device: str, **values: Any) -> None:
        own = {p.name: values.pop(p.name) for p in event.own}
        fields = event.fields(**own)
        body = {"event": event.name, "device": _text(device, "a device id or name", "DEVICE"), **fields}
        options = _options(
            values["hold"], values.get("reject", False), values["settings"], values["timeout"], values["max_time"]
        )
        _fire(ctx, "/_sandbox/events", {**body, **options}, values["json_output"], values["subscriber_id"])

    shared = [p for p in _SHARED if event.reject or p.name != "reject"]
    run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]  # read by inspect; typeshed omits it
        [
            P("ctx", P.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
            P("device", P.POSITIONAL_OR_KEYWORD, annotation=DeviceArg),
            *event.own,
            *shared,
        ]
    )
    run.__name__ = event.name
    run.__doc__ = event.help + "\n\n" + EXIT_CODES
    return command(epilog=examples(*event.examples))(run)


call, dial, press, say, nfc, battery, move, position, emergency = (_command(event) for event in EVENTS)


@command(
    epilog=examples(
        "relay sandbox tick                                  # what is due now",
        "relay sandbox tick --at 2030-01-01T09:00 -z America/Chicago",
        "relay sandbox tick --at 2030-01-01T15:00Z --json",
    ),
)
def tick(
    ctx: typer.Context,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="TIME",
            help="The time it is: 2030-01-01T09:00 (in --timezone) or with a zone (Z, -06:00). Default: now.",
            show_default=False,
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            "-z",
            metavar="ZONE",
            help="IANA zone of --at when it has none. Default: this machine's.",
            show_default=False,
        ),
    ] = None,
    hold: HoldOpt = None,
    reject: RejectOpt = False,
    settings: SetOpt = None,
    timeout: TimeoutOpt = 10.0,
    max_time: MaxTimeOpt = 300.0,
    subscriber_id: SubscriberOpt = None,
    json_output: JsonLinesOpt = False,
) -> None:
    """Run the timer workflows due by --at (default: now) since they last ran, on each device they are installed
    on, without waiting for the time to come: how a test fires a timer. `relay server` runs them by itself as they
    fall due. Each workflow runs once, for its latest due occurrence; afterwards it is due again only after --at.
    Exit 3 when none is due (the message says when each is next)."""
    body = _options(hold, reject, settings, timeout, max_time)
    if at is not None:
        body["at"] = _instant(at, timezone)
    elif timezone is not None:
        raise UsageError("only applies to --at", option="--timezone")
    _fire(ctx, "/_sandbox/tick", body, json_output, subscriber_id)


def _instant(text: str, zone: str | None) -> str:
    """``--at`` as an ISO time with its offset: a time without one is in ``zone`` (default: this machine's)."""
    from datetime import datetime

    from ..core.triggers import validate_timezone

    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"expected a time like 2030-01-01T09:00 or 2030-01-01T15:00Z, got {text!r}", option="--at"
        ) from None
    if when.tzinfo is not None:
        if zone is not None:
            raise UsageError("--at has its own zone; leave out --timezone", option="--timezone")
        return when.isoformat()
    from zoneinfo import ZoneInfo

    from .localtime import local_zone_name

    name = validate_timezone(zone) if zone is not None else local_zone_name()
    return when.replace(tzinfo=ZoneInfo(name)).isoformat()
