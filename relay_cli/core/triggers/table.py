"""The table of triggers: one ``Trigger`` declaration each, in the order ``relay workflow create --help`` lists them.

Everything about a trigger is here: the options of ``relay workflow create <name>`` (flags, defaults, choices,
help) and its examples, the keys of its manifest table (the option names), the ``on_*`` payload it sends
(the Relay API's trigger payloads), the way back from a stored payload (``workflow export``) and its short type
(``workflow list``), the START event Relay sends when it fires (``start``: the simulator and the sandbox send
exactly that) and the device events it fires on (``fires``, with the rules of ``events.py``). The command, the
manifest reader and writer, shell completion and docs/commands.md are derived from it. To add a trigger, follow
docs/adding-a-trigger.md: one block here, plus its tests.

START events follow the SDKs' types (@relaypro/sdk ``StartEvent``: ``phrase``, ``button``, ``http``, ``nfc``, and
``emergency | other | calendar | geofence | telephony`` with no other args). Which of those Relay sends for a
call, a battery, an indoor position or a timer is not public: the choices are ``CALL_START_TYPE`` (settable per
run as ``call_trigger_type``), ``other``, ``other`` and ``calendar`` (docs/sandbox.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ...errors import UsageError
from ...jsontypes import JSONObject, JSONValue
from ..tomltext import NotRepresentable
from .events import DeviceEvent, battery_crossed, call_pattern_matches, phrase_match
from .model import REQUIRED, Machine, Option, Trigger, non_empty
from .times import WEEKDAYS, WIRE_DATETIME, parse_local_datetime, parse_weekdays, validate_timezone

#: the details a START is built from (``Trigger.start``), by name, with their defaults
START_DETAILS: JSONObject = {
    "call_trigger_type": "telephony",  # call: the START's type (not public; relay-js lists telephony)
    "taps": "single",  # button: single, double, triple or long
    "phrase": "",  # phrase: the phrase heard ...
    "spillover": "",  # ... and what was said after it
    "http_args": {},  # http: the trigger's action_args
    "nfc_uid": "",  # nfc: the tag's uid ...
    "nfc_payload": {},  # ... and its content
}
CALL_START_TYPE = START_DETAILS["call_trigger_type"]


def _detail(details: Mapping[str, JSONValue], name: str) -> JSONValue:
    value = details.get(name)
    return START_DETAILS[name] if value is None else value


def _copy(value: JSONValue) -> JSONObject:
    """An object (the HTTP trigger's args, an NFC tag's content), as a new one; {} for anything else."""
    return dict(value) if isinstance(value, dict) else {}


def _start(kind: str, **args: JSONValue) -> JSONObject:
    return {"type": kind, "args": args}


# --- call ---------------------------------------------------------------------------------------------

CALL_DIRECTIONS = {"inbound": "on_incoming_call", "outbound": "on_call_request"}
_DIRECTION_OF = {key: direction for direction, key in CALL_DIRECTIONS.items()}
#: the triggers a running workflow can take in as events (``--absorb``)
ABSORBABLE = ("on_call_request", "on_incoming_call")


def _read_call(key: str, value: JSONValue) -> JSONObject:
    if value != ".*":
        raise NotRepresentable(f"{key} matches {value!r}, not every call")
    return {"trigger": _DIRECTION_OF[key]}


def _call_fires(key: str, value: JSONValue, event: DeviceEvent) -> JSONObject | None:
    """An inbound call starts the ``on_incoming_call`` workflows, a call the user places the ``on_call_request``
    ones, when the value (a pattern) matches the other party's name or id."""
    d = event.details
    if key == "on_incoming_call" and event.kind == "call":
        return {} if call_pattern_matches(value, d.get("caller_name"), d.get("caller")) else None
    if key == "on_call_request" and event.kind == "dial":
        return {} if call_pattern_matches(value, d.get("callee_name"), d.get("callee")) else None
    return None


CALL = Trigger(
    "call",
    help="Start the workflow when a call comes in to (inbound) or is placed from (outbound) a device.",
    examples=(
        "relay workflow create call --trigger inbound --name my_auto_answer --uri wss://myhost.mydomain.com/autoanswerpath --install 990007560045678",
        "relay workflow create call --trigger outbound --name outbound --uri wss://myhost.mydomain.com/outboundpath --install 990007560023456",
    ),
    options=(Option("trigger", ("--trigger",), "Call direction.", default="outbound", choices=tuple(CALL_DIRECTIONS)),),
    keys=tuple(CALL_DIRECTIONS.values()),
    payload=lambda trigger: {CALL_DIRECTIONS[trigger]: ".*"},
    read=_read_call,
    describe=lambda key, value: f"call:{_DIRECTION_OF[key]}",
    preflight=True,
    start=lambda details: _start(str(_detail(details, "call_trigger_type"))),
    fires=_call_fires,
)

# --- button -------------------------------------------------------------------------------------------

BUTTON_TAPS = {"single": "action_button_single_tap", "double": "action_button_double_tap"}
_TAPS_OF = {value: taps for taps, value in BUTTON_TAPS.items()}
#: every way the action button is pressed → the ``action`` of its START (and of a stored ``on_button``)
BUTTON_ACTIONS = {
    **BUTTON_TAPS,
    "triple": "action_button_triple_tap",
    "long": "action_button_long_press",  # not public: a choice (docs/sandbox.md)
}


def _button_fires(key: str, value: JSONValue, event: DeviceEvent) -> JSONObject | None:
    taps = event.details.get("taps")
    if event.kind == "press" and taps in BUTTON_ACTIONS and value == BUTTON_ACTIONS[taps]:
        return {"taps": taps}
    return None


BUTTON = Trigger(
    "button",
    help="Start the workflow when the action button is tapped.",
    examples=(
        "relay workflow create button --trigger double --uri wss://myhost.mydomain.com/placecallpath --name place-call --install-all",
    ),
    options=(Option("trigger", ("--trigger",), "Number of taps.", default="single", choices=tuple(BUTTON_TAPS)),),
    keys=("on_button",),
    payload=lambda trigger: {"on_button": BUTTON_TAPS[trigger]},
    read=lambda key, value: {"trigger": _TAPS_OF[value]} if isinstance(value, str) and value in _TAPS_OF else None,
    describe=lambda key, value: "button:" + str(value).removeprefix("action_button_").removesuffix("_tap"),
    start=lambda details: _start(
        "button", action=BUTTON_ACTIONS.get(str(_detail(details, "taps")), BUTTON_ACTIONS["single"])
    ),
    fires=_button_fires,
)

# --- phrase -------------------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")


def normalize_phrase(phrase: str) -> str:
    """Lower-case and collapse whitespace; punctuation is kept."""
    return _WHITESPACE.sub(" ", phrase).strip().lower()


def _phrase(trigger: list[str]) -> JSONObject:
    if not trigger:
        raise UsageError('expected at least one phrase, e.g. --trigger "hello world"', option="--trigger")
    phrases: list[JSONValue] = []
    for raw in trigger:
        text = normalize_phrase(raw)
        if not text:
            raise UsageError("expected a phrase, got an empty string", option="--trigger")
        phrases.append(text)
    return {"on_phrases": phrases}


def _phrase_fires(key: str, value: JSONValue, event: DeviceEvent) -> JSONObject | None:
    if event.kind != "say":
        return None
    found = phrase_match(value if isinstance(value, list) else [value], str(event.details.get("text", "")))
    return None if found is None else {"phrase": found[0], "spillover": found[1]}


def _read_phrase(key: str, value: JSONValue) -> JSONObject | None:
    if key == "on_phrases" and isinstance(value, list) and value and all(isinstance(p, str) for p in value):
        return {"trigger": list(value)}
    return None


PHRASE = Trigger(
    "phrase",
    help="Start the workflow when a phrase is spoken to the Relay assistant.",
    examples=(
        'relay workflow create phrase --trigger "hello world" --trigger "hi there" --name hello --uri wss://myhost.example.com/hello -A',
    ),
    options=(
        Option(
            "trigger",
            ("--trigger",),
            'Phrase that starts the workflow (repeatable), e.g. "hello world".',
            default=REQUIRED,
            metavar="PHRASE",
            repeatable=True,
            missing='expected the phrases, e.g. trigger = ["hello world"]',
        ),
    ),
    keys=("on_phrases", "on_phrase"),  # on_phrase: an older spelling, shown by `workflow list`
    payload=_phrase,
    read=_read_phrase,
    describe=lambda key, value: (
        "phrases:" + (",".join(str(p) for p in value) if isinstance(value, list) else str(value))
    ),
    start=lambda details: _start(
        "phrase", phrase=str(_detail(details, "phrase")), spillover=str(_detail(details, "spillover"))
    ),
    fires=_phrase_fires,
)

# --- event --------------------------------------------------------------------------------------------

DEVICE_EVENTS = ("emergency",)

EVENT = Trigger(
    "event",
    help="Start the workflow when a device emits an event (emergency).",
    examples=("relay workflow create event --trigger emergency --name sos --uri wss://myhost.example.com/sos -A",),
    options=(Option("trigger", ("--trigger",), "Device event.", default="emergency", choices=DEVICE_EVENTS),),
    keys=("on_device_event",),
    payload=lambda trigger: {"on_device_event": trigger},
    read=lambda key, value: {"trigger": value} if value in DEVICE_EVENTS else None,
    describe=lambda key, value: f"device:{value}",
    start=lambda details: _start("emergency"),
    fires=lambda key, value, event: {} if event.kind == value == "emergency" else None,
)

# --- battery ------------------------------------------------------------------------------------------

BATTERY_KINDS = {"charge": "on_battery_charge", "discharge": "on_battery_discharge"}
_BATTERY_KIND_OF = {key: kind for kind, key in BATTERY_KINDS.items()}


def _battery(trigger: str, threshold: int) -> JSONObject:
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 1 <= threshold <= 100:
        raise UsageError(f"expected a whole percentage from 1 to 100, got {threshold!r}", option="--threshold")
    return {BATTERY_KINDS[trigger]: threshold}


def _battery_fires(key: str, value: JSONValue, event: DeviceEvent) -> JSONObject | None:
    d = event.details
    if event.kind != "battery":
        return None
    crossed = battery_crossed(_BATTERY_KIND_OF[key], value, d.get("before"), d.get("level"), bool(d.get("charging")))
    return {} if crossed else None


def _read_battery(key: str, value: JSONValue) -> JSONObject | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return {"trigger": _BATTERY_KIND_OF[key], "threshold": value}
    return None


BATTERY = Trigger(
    "battery",
    help="Start the workflow when a device's battery crosses a threshold while charging or discharging.",
    examples=(
        "relay workflow create battery --trigger discharge --threshold 20 --name low-battery --uri wss://myhost.example.com/battery -A",
    ),
    options=(
        Option(
            "trigger", ("--trigger",), "Charging or discharging.", default="discharge", choices=tuple(BATTERY_KINDS)
        ),
        Option(
            "threshold",
            ("--threshold",),
            "Battery percentage, 1 to 100.",
            kind="integer",
            default=25,
            metavar="PERCENT",
        ),
    ),
    keys=tuple(BATTERY_KINDS.values()),
    payload=_battery,
    read=_read_battery,
    describe=lambda key, value: f"battery:{_BATTERY_KIND_OF[key]}:{value}",
    start=lambda details: _start("other"),
    fires=_battery_fires,
)

# --- http ---------------------------------------------------------------------------------------------

HTTP_METHODS = ("POST",)

HTTP = Trigger(
    "http",
    help="Start the workflow on an HTTP request (see `relay workflow trigger`).",
    examples=(
        "relay workflow create http --trigger POST --name webhook --uri wss://myhost.example.com/hook -i 990007560045678",
    ),
    options=(Option("trigger", ("--trigger",), "HTTP method.", default="POST", choices=HTTP_METHODS),),
    keys=("on_http",),
    payload=lambda trigger: {"on_http": trigger},
    read=lambda key, value: {"trigger": value} if value in HTTP_METHODS else None,
    describe=lambda key, value: f"http:{value}",
    start=lambda details: _start("http", args=_copy(_detail(details, "http_args"))),
    fires=lambda key, value, event: {"http_args": _copy(event.details.get("args"))} if event.kind == "http" else None,
)

# --- nfc ----------------------------------------------------------------------------------------------

NFC_TYPES = ("custom", "user_profile")


def _nfc(category: str | None, label: str | None, nfc_type: str, matchers: dict[str, str] | None) -> JSONObject:
    on_nfc: JSONObject = dict(matchers or {})
    on_nfc["type"] = nfc_type
    if category is not None:
        on_nfc["category"] = non_empty(category, "--category", "a tag category")
    if label is not None:
        on_nfc["label"] = non_empty(label, "--label", "a tag label")
    return {"on_nfc": on_nfc}


def _nfc_fires(key: str, value: JSONValue, event: DeviceEvent) -> JSONObject | None:
    """A tag fires an ``on_nfc`` workflow when its content has every key of the trigger, with the same value
    (a trigger without a category or label matches every tag of its type)."""
    content = event.details.get("content")
    if event.kind != "nfc" or not isinstance(value, Mapping) or not isinstance(content, Mapping):
        return None
    wanted = {"type": "custom", **value}
    if any(content.get(k) != v for k, v in wanted.items()):
        return None
    return {"nfc_uid": str(event.details.get("uid") or ""), "nfc_payload": dict(content)}


def _read_nfc(key: str, value: JSONValue) -> JSONObject | None:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        return None
    rest = dict(value)
    nfc_type = rest.pop("type", "custom")
    category, label = rest.pop("category", None), rest.pop("label", None)
    return {"nfc_type": nfc_type, "category": category, "label": label, "matchers": rest or None}


NFC = Trigger(
    "nfc",
    help="Start the workflow when an NFC tag is tapped (optionally only tags of a category or label).",
    examples=(
        "relay workflow create nfc -c tasks -l 'Room 12' --name room-check --uri wss://myhost.example.com/nfc -A",
    ),
    options=(
        Option("category", ("--category", "-c"), "Tag category to match.", metavar="CATEGORY"),
        Option("label", ("--label", "-l"), "Tag label to match.", metavar="LABEL"),
        Option(
            "nfc_type", ("--type",), "Tag type.", default="custom", choices=NFC_TYPES, hidden=True, export_default=False
        ),
        Option(
            "matchers",
            ("--matcher", "-m"),
            "Extra tag content to match.",
            kind="pairs",
            metavar="NAME=VALUE",
            hidden=True,
        ),
    ),
    keys=("on_nfc",),
    payload=_nfc,
    read=_read_nfc,
    describe=lambda key, value: "nfc:" + str(value.get("type", "custom") if isinstance(value, dict) else value),
    start=lambda details: _start(
        "nfc", uid=str(_detail(details, "nfc_uid")), nfc_payload=_copy(_detail(details, "nfc_payload"))
    ),
    fires=_nfc_fires,
)

# --- geofence -----------------------------------------------------------------------------------------

TRANSITIONS = ("entry", "exit")


def _geofence(trigger: str, geofence_id: str) -> JSONObject:
    non_empty(geofence_id, "--id", "a geofence id")
    return {"on_geofence": {"transition": trigger, "geofence_id": geofence_id}}


def _geofence_fires(key: str, value: JSONValue, event: DeviceEvent) -> JSONObject | None:
    if event.kind != "move" or not isinstance(value, Mapping):
        return None
    moved = {(g, t) for g, t in event.transitions()}
    return {} if (str(value.get("geofence_id")), str(value.get("transition"))) in moved else None


def _read_geofence(key: str, value: JSONValue) -> JSONObject | None:
    if isinstance(value, dict) and set(value) == {"transition", "geofence_id"}:
        return {"trigger": value["transition"], "geofence_id": value["geofence_id"]}
    return None


GEOFENCE = Trigger(
    "geofence",
    help="Start the workflow when a device enters or leaves a geofence.",
    examples=(
        "relay workflow create geofence --trigger exit --id GEOFENCE_ID --name left-site --uri wss://myhost.example.com/geo -A",
    ),
    options=(
        Option("trigger", ("--trigger",), "Transition.", default="entry", choices=TRANSITIONS),
        Option("geofence_id", ("--id",), "Geofence id.", default=REQUIRED, metavar="GEOFENCE_ID"),
    ),
    keys=("on_geofence",),
    payload=_geofence,
    read=_read_geofence,
    describe=lambda key, value: "geofence:" + str(value.get("transition", "?") if isinstance(value, dict) else value),
    start=lambda details: _start("geofence"),
    fires=_geofence_fires,
)

# --- position -----------------------------------------------------------------------------------------


def _position(trigger: str, venue_id: str, position_id: str) -> JSONObject:
    non_empty(venue_id, "--venue_id", "a venue id")
    non_empty(position_id, "--position_id", "a position id")
    return {"on_position": {"venue_id": venue_id, "position_id": position_id, "transition": trigger}}


def _position_fires(key: str, value: JSONValue, event: DeviceEvent) -> JSONObject | None:
    if event.kind != "position" or not isinstance(value, Mapping):
        return None
    moved = {(v, p, t) for v, p, t in event.transitions()}
    wanted = (str(value.get("venue_id")), str(value.get("position_id")), str(value.get("transition")))
    return {} if wanted in moved else None


def _read_position(key: str, value: JSONValue) -> JSONObject | None:
    if isinstance(value, dict) and set(value) == {"venue_id", "position_id", "transition"}:
        return {"trigger": value["transition"], "venue_id": value["venue_id"], "position_id": value["position_id"]}
    return None


def _describe_position(key: str, value: JSONValue) -> str:
    if isinstance(value, dict):
        return f"position:{value.get('transition', '?')}:{value.get('position_id', '?')}"
    return f"position:{value}"


POSITION = Trigger(
    "position",
    help="Start the workflow when a device enters or leaves an indoor position.",
    examples=(
        "relay workflow create position --trigger entry -v VENUE -p POSITION --name at-desk --uri wss://myhost.example.com/pos -A",
    ),
    options=(
        Option("trigger", ("--trigger",), "Transition.", default="entry", choices=TRANSITIONS),
        Option("venue_id", ("--venue_id", "--venue-id", "-v"), "Venue id.", default=REQUIRED, metavar="VENUE_ID"),
        Option(
            "position_id",
            ("--position_id", "--position-id", "-p"),
            "Position id.",
            default=REQUIRED,
            metavar="POSITION_ID",
        ),
    ),
    keys=("on_position",),
    payload=_position,
    read=_read_position,
    describe=_describe_position,
    start=lambda details: _start("other"),
    fires=_position_fires,
)

# --- timer --------------------------------------------------------------------------------------------

TIMER_KINDS = ("immediately", "schedule", "repeat")
TIMER_FREQUENCIES = ("minutely", "hourly", "daily", "weekly", "monthly", "yearly")
_DAY_LABELS = {number: label for label, number in WEEKDAYS.items()}


def _timer_machine_defaults(values: dict[str, object], machine: Machine | None) -> dict[str, object]:
    """On the command line a schedule or repeat starts by default at the next full hour of this machine's zone
    (``-z local`` names it too); a manifest must say both, since it must not depend on where it is applied."""
    kind, start, zone = values["trigger"], values["start"], values["timezone"]
    if machine is None:
        if zone == "local":
            raise UsageError(
                "expected an IANA zone such as America/Chicago; a manifest does not depend on the machine's zone",
                option="--timezone",
            )
        if kind in ("schedule", "repeat") and start is None:
            raise UsageError(f"trigger {kind!r} needs a start time, e.g. start = 2030-01-01T09:00:00", option="--start")
        if kind in ("schedule", "repeat") and zone is None:
            raise UsageError("missing: an IANA zone such as America/Chicago", option="--timezone")
        return values
    if kind == "immediately":
        return {**values, "timezone": None if zone == "local" else zone}
    return {
        **values,
        "start": machine.next_full_hour() if start is None else start,
        "timezone": machine.local_zone_name() if zone in (None, "local") else zone,
    }


def _timer(
    trigger: str,
    start: str | None,
    timezone: str | None,
    count: int | None,
    until: str | None,
    days: list[str] | None,
    frequency: str,
    interval: int,
) -> JSONObject:
    """``timezone`` must already be an IANA name (``local`` resolved by ``machine_defaults``)."""
    if trigger == "immediately":
        for value, option in ((start, "--start"), (count, "--count"), (until, "--until"), (days, "--day")):
            if value is not None and value != []:
                raise UsageError("only applies to --trigger schedule or repeat", option=option)
        if timezone is not None:
            validate_timezone(timezone)  # accepted for compatibility, but never a wrong one
        return {"on_timer": {"start_time": "immediately"}}

    if start is None:
        raise UsageError(f"--trigger {trigger} needs a start time, e.g. --start 2030-01-01T09:00:00", option="--start")
    start_dt = parse_local_datetime(start, "--start")
    options: JSONObject = {"start_time": start_dt.strftime(WIRE_DATETIME)}
    if timezone is None:
        raise UsageError("expected an IANA time zone", option="--timezone")
    options["timezone"] = validate_timezone(timezone)

    if trigger == "schedule":
        for value, option in ((count, "--count"), (until, "--until"), (days, "--day")):
            if value is not None and value != []:
                raise UsageError("a schedule runs once; this only applies to --trigger repeat", option=option)
        options["count"] = 1
        return {"on_timer": options}

    # repeat
    if (count is None) == (until is None):
        raise UsageError("--trigger repeat needs exactly one of -c/--count or -l/--until", option="--count/--until")
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise UsageError(f"expected a whole number of at least 1, got {interval!r}", option="--interval")
    options["frequency"] = frequency
    options["interval"] = interval
    if count is not None:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise UsageError(f"expected a whole number of at least 1, got {count!r}", option="--count")
        options["count"] = count
    else:
        assert until is not None
        until_dt = parse_local_datetime(until, "--until")
        if until_dt <= start_dt:
            raise UsageError(
                f"expected a time after --start ({options['start_time']}), got {until_dt.strftime(WIRE_DATETIME)}",
                option="--until",
            )
        options["until"] = until_dt.strftime(WIRE_DATETIME)
    options["byweekday"] = list(parse_weekdays(days or []))
    return {"on_timer": options}


def _read_timer(key: str, value: JSONValue) -> JSONObject | None:
    if not isinstance(value, dict):
        return None
    if value == {"start_time": "immediately"}:
        return {"trigger": "immediately"}
    rest = dict(value)
    try:
        start, zone = rest.pop("start_time"), rest.pop("timezone")
    except KeyError as exc:
        raise NotRepresentable(f"timer without {exc.args[0]}") from None
    if "frequency" not in rest:
        if rest != {"count": 1}:
            raise NotRepresentable(f"timer options {sorted(rest)} cannot be written to a manifest")
        return {"trigger": "schedule", "start": start, "timezone": zone}
    values: JSONObject = {"trigger": "repeat", "start": start, "timezone": zone, "frequency": rest.pop("frequency")}
    if "interval" not in rest:
        raise NotRepresentable("repeating timer without an interval")
    values["interval"] = rest.pop("interval")
    if "count" in rest:
        values["count"] = rest.pop("count")
    elif "until" in rest:
        values["until"] = rest.pop("until")
    days = rest.pop("byweekday", None)
    if rest:
        raise NotRepresentable(f"timer options {sorted(rest)} cannot be written to a manifest")
    if not isinstance(days, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d in _DAY_LABELS for d in days
    ):
        raise NotRepresentable(f"timer byweekday {days!r} cannot be written to a manifest")
    values["days"] = None if days == list(WEEKDAYS.values()) else [_DAY_LABELS[d] for d in days if isinstance(d, int)]
    return values


TIMER = Trigger(
    "timer",
    help="Start the workflow immediately, once at a time (schedule), or on a repeating rule (repeat).",
    examples=(
        "relay workflow create timer --trigger immediately --name now --uri wss://myhost.example.com/t -A",
        "relay workflow create timer --trigger schedule --start 2030-01-01T09:00:00 -z America/Chicago --name once --uri wss://myhost.example.com/t -A",
        "relay workflow create timer --trigger repeat --start 2030-01-01T09:00:00 -z America/Chicago -c 10 -d MO -d WE --name standup --uri wss://myhost.example.com/t -A",
    ),
    options=(
        Option("trigger", ("--trigger",), "When to run.", default="immediately", choices=TIMER_KINDS),
        Option(
            "start",
            ("--start",),
            "Local start time, e.g. 2030-01-01T09:00:00 (no zone suffix). Default: the next full hour.",
            kind="time",
            metavar="TIME",
        ),
        Option(
            "timezone",
            ("--timezone", "-z"),
            "IANA time zone of --start, e.g. America/Chicago; 'local' is this machine's zone. Default: local.",
            metavar="ZONE",
        ),
        Option("count", ("--count", "-c"), "repeat: number of runs.", kind="integer", metavar="N"),
        Option("until", ("--until", "-l"), "repeat: last local time to run.", kind="time", metavar="TIME"),
        Option(
            "days",
            ("--day", "-d"),
            "repeat: day of the week, MO TU WE TH FR SA SU (repeatable). Default: every day.",
            metavar="DAY",
            repeatable=True,
            completion=tuple(WEEKDAYS),
        ),
        Option(
            "frequency",
            ("--frequency", "-f"),
            "repeat: frequency.",
            default="daily",
            choices=TIMER_FREQUENCIES,
            hidden=True,
            export_default=False,
        ),
        Option(
            "interval",
            ("--interval", "-I"),
            "repeat: interval.",
            kind="integer",
            default=1,
            hidden=True,
            export_default=False,
        ),
    ),
    keys=("on_timer",),
    payload=_timer,
    read=_read_timer,
    describe=lambda key, value: "timer",
    machine_defaults=_timer_machine_defaults,
    start=lambda details: _start("calendar"),
    fires=lambda key, value, event: {} if event.kind == "timer" else None,
)

# --- the table ----------------------------------------------------------------------------------------

TRIGGERS: tuple[Trigger, ...] = (CALL, BUTTON, PHRASE, EVENT, BATTERY, HTTP, NFC, GEOFENCE, POSITION, TIMER)

# --- looking triggers up ------------------------------------------------------------------------------

BY_NAME: dict[str, Trigger] = {trigger.name: trigger for trigger in TRIGGERS}
BY_KEY: dict[str, Trigger] = {key: trigger for trigger in TRIGGERS for key in trigger.keys}
#: every option by its name, with the triggers that have it (``trigger`` is every kind's; the others belong to one
#: kind each), in the table's order: the flags of ``relay workflow update``
BY_OPTION: dict[str, list[tuple[Trigger, Option]]] = {}
for _trigger in TRIGGERS:
    for _option in _trigger.options:
        BY_OPTION.setdefault(_option.name, []).append((_trigger, _option))
#: every ``on_*`` key a trigger can have, in the order ``trigger_key`` looks for them
TRIGGER_KEYS = tuple(BY_KEY)


def trigger_key(trigger: JSONObject) -> str | None:
    """The ``on_*`` key of a stored ``config.trigger``: a known one first, else any."""
    for key in TRIGGER_KEYS:
        if key in trigger:
            return key
    for key in trigger:
        if key.startswith("on_"):
            return key
    return None


def start_trigger(name: str, details: Mapping[str, JSONValue] | None = None) -> JSONObject:
    """The ``trigger`` of the START event of the trigger ``name`` (``call``, ``button``, ...; see ``TRIGGERS``):
    ``{"type": ..., "args": {...}}`` built from ``details`` (``START_DETAILS``), ``args`` without ``source_uri``."""
    return BY_NAME[name].start(details or {})


def describe(trigger: JSONObject) -> str:
    """The short type shown by ``workflow list``: ``call:inbound``, ``button:double``, ``battery:charge:80`` ..."""
    key = trigger_key(trigger)
    if key is None:
        return "unknown"
    if key in BY_KEY:
        return BY_KEY[key].describe(key, trigger[key])
    return key.removeprefix("on_")
