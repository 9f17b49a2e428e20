"""Triggers: what each ``relay workflow create <kind>`` puts under ``config.trigger``.

Pure functions: each validates its input and returns the ``on_*`` part of the trigger exactly as the
Relay server expects it (see relay-api.md, "Triggers"). Invalid input raises ``UsageError`` naming the flag.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ..errors import UsageError

CALL_DIRECTIONS = {"inbound": "on_incoming_call", "outbound": "on_call_request"}
BUTTON_TAPS = {"single": "action_button_single_tap", "double": "action_button_double_tap"}
DEVICE_EVENTS = ("emergency",)
BATTERY_KINDS = {"charge": "on_battery_charge", "discharge": "on_battery_discharge"}
HTTP_METHODS = ("POST",)
TRANSITIONS = ("entry", "exit")
NFC_TYPES = ("custom", "user_profile")
TIMER_KINDS = ("immediately", "schedule", "repeat")
TIMER_FREQUENCIES = ("minutely", "hourly", "daily", "weekly", "monthly", "yearly")
WEEKDAYS = {"MO": 1, "TU": 2, "WE": 3, "TH": 4, "FR": 5, "SA": 6, "SU": 7}
ABSORBABLE = ("on_call_request", "on_incoming_call")

#: every ``on_*`` key a trigger can have, in the order ``describe`` looks for them
TRIGGER_KEYS = (
    "on_incoming_call",
    "on_call_request",
    "on_button",
    "on_phrases",
    "on_phrase",
    "on_device_event",
    "on_battery_charge",
    "on_battery_discharge",
    "on_http",
    "on_nfc",
    "on_geofence",
    "on_position",
    "on_timer",
)


def _choice(value: str, choices: Any, option: str) -> str:
    if value not in choices:
        expected = ", ".join(choices)
        raise UsageError(f"expected one of {expected}, got {value!r}", option=option)
    return value


def _non_empty(value: str | None, option: str, what: str = "a value") -> str:
    if value is None or not value.strip():
        raise UsageError(f"expected {what}, got an empty string", option=option)
    return value


def call(direction: str) -> dict[str, Any]:
    _choice(direction, CALL_DIRECTIONS, "--trigger")
    return {CALL_DIRECTIONS[direction]: ".*"}


def button(taps: str) -> dict[str, Any]:
    _choice(taps, BUTTON_TAPS, "--trigger")
    return {"on_button": BUTTON_TAPS[taps]}


_WHITESPACE = re.compile(r"\s+")


def normalize_phrase(phrase: str) -> str:
    """Lower-case and collapse whitespace; punctuation is kept."""
    return _WHITESPACE.sub(" ", phrase).strip().lower()


def phrase(phrases: list[str]) -> dict[str, Any]:
    if not phrases:
        raise UsageError("expected at least one phrase, e.g. --trigger \"hello world\"", option="--trigger")
    normalized = []
    for raw in phrases:
        text = normalize_phrase(raw)
        if not text:
            raise UsageError("expected a phrase, got an empty string", option="--trigger")
        normalized.append(text)
    return {"on_phrases": normalized}


def event(name: str) -> dict[str, Any]:
    _choice(name, DEVICE_EVENTS, "--trigger")
    return {"on_device_event": name}


def battery(kind: str, threshold: int) -> dict[str, Any]:
    _choice(kind, BATTERY_KINDS, "--trigger")
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 1 <= threshold <= 100:
        raise UsageError(f"expected a whole percentage from 1 to 100, got {threshold!r}", option="--threshold")
    return {BATTERY_KINDS[kind]: threshold}


def http(method: str) -> dict[str, Any]:
    _choice(method, HTTP_METHODS, "--trigger")
    return {"on_http": method}


def nfc(
    *,
    tag_type: str = "custom",
    category: str | None = None,
    label: str | None = None,
    matchers: dict[str, str] | None = None,
) -> dict[str, Any]:
    _choice(tag_type, NFC_TYPES, "--type")
    on_nfc: dict[str, Any] = dict(matchers or {})
    on_nfc["type"] = tag_type
    if category is not None:
        on_nfc["category"] = _non_empty(category, "--category", "a tag category")
    if label is not None:
        on_nfc["label"] = _non_empty(label, "--label", "a tag label")
    return {"on_nfc": on_nfc}


def geofence(transition: str, geofence_id: str) -> dict[str, Any]:
    _choice(transition, TRANSITIONS, "--trigger")
    _non_empty(geofence_id, "--id", "a geofence id")
    return {"on_geofence": {"transition": transition, "geofence_id": geofence_id}}


def position(transition: str, venue_id: str, position_id: str) -> dict[str, Any]:
    _choice(transition, TRANSITIONS, "--trigger")
    _non_empty(venue_id, "--venue_id", "a venue id")
    _non_empty(position_id, "--position_id", "a position id")
    return {"on_position": {"venue_id": venue_id, "position_id": position_id, "transition": transition}}


# --- timers -----------------------------------------------------------------------------------

_LOCAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
WIRE_DATETIME = "%Y-%m-%dT%H:%M:%S"


def parse_local_datetime(value: str, option: str) -> datetime:
    """A local wall-clock time: ``2030-01-01T09:00[:00]`` or ``2030-01-01`` (midnight); no zone suffix."""
    text = value.strip()
    if not _LOCAL_DATETIME.match(text):
        if re.search(r"(Z|[+-]\d{2}:?\d{2})$", text) and _LOCAL_DATETIME.match(re.sub(r"(Z|[+-]\d{2}:?\d{2})$", "", text)):
            raise UsageError(
                f"expected a local time without a zone (the zone goes in -z/--timezone), got {value!r}",
                option=option,
            )
        raise UsageError(f"expected a local date and time like 2030-01-01T09:00:00, got {value!r}", option=option)
    try:
        return datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        raise UsageError(f"expected a real date and time like 2030-01-01T09:00:00, got {value!r}", option=option) from None


def validate_timezone(zone: str) -> str:
    """An IANA zone name known to this machine's zone database."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not zone or zone != zone.strip() or zone.startswith("/") or ".." in zone:
        raise UsageError(f"expected an IANA time zone such as America/Chicago, got {zone!r}", option="--timezone")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"expected an IANA time zone such as America/Chicago, got {zone!r}", option="--timezone") from None
    return zone


def parse_weekdays(days: list[str]) -> list[int]:
    """``["MO", "we,fr"]`` → ``[1, 3, 5]``: order kept, duplicates dropped; empty means every day."""
    values: list[int] = []
    for item in days:
        for part in item.split(","):
            label = part.strip().upper()
            if label not in WEEKDAYS:
                raise UsageError(f"expected one of {', '.join(WEEKDAYS)}, got {part.strip()!r}", option="--day")
            if WEEKDAYS[label] not in values:
                values.append(WEEKDAYS[label])
    return values or list(WEEKDAYS.values())


def timer(
    kind: str,
    *,
    start: str | None = None,
    timezone: str | None = None,
    count: int | None = None,
    until: str | None = None,
    days: list[str] | None = None,
    frequency: str = "daily",
    interval: int = 1,
) -> dict[str, Any]:
    """``kind`` immediately | schedule | repeat. ``timezone`` must already be an IANA name (``local`` resolved)."""
    _choice(kind, TIMER_KINDS, "--trigger")
    if kind == "immediately":
        for value, option in ((start, "--start"), (count, "--count"), (until, "--until"), (days, "--day")):
            if value is not None and value != []:
                raise UsageError("only applies to --trigger schedule or repeat", option=option)
        if timezone is not None:
            validate_timezone(timezone)  # accepted for compatibility, but never a wrong one
        return {"on_timer": {"start_time": "immediately"}}

    if start is None:
        raise UsageError(f"--trigger {kind} needs a start time, e.g. --start 2030-01-01T09:00:00", option="--start")
    start_dt = parse_local_datetime(start, "--start")
    options: dict[str, Any] = {"start_time": start_dt.strftime(WIRE_DATETIME)}
    if timezone is None:
        raise UsageError("expected an IANA time zone", option="--timezone")
    options["timezone"] = validate_timezone(timezone)

    if kind == "schedule":
        for value, option in ((count, "--count"), (until, "--until"), (days, "--day")):
            if value is not None and value != []:
                raise UsageError("a schedule runs once; this only applies to --trigger repeat", option=option)
        options["count"] = 1
        return {"on_timer": options}

    # repeat
    if (count is None) == (until is None):
        raise UsageError("--trigger repeat needs exactly one of -c/--count or -l/--until", option="--count/--until")
    _choice(frequency, TIMER_FREQUENCIES, "--frequency")
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
    options["byweekday"] = parse_weekdays(days or [])
    return {"on_timer": options}


# --- describing a stored trigger ----------------------------------------------------------------


def trigger_key(trigger: dict[str, Any]) -> str | None:
    for key in TRIGGER_KEYS:
        if key in trigger:
            return key
    for key in trigger:
        if key.startswith("on_"):
            return key
    return None


def describe(trigger: dict[str, Any]) -> str:
    """The short type shown by ``workflow list``: ``call:inbound``, ``button:double``, ``battery:charge:80`` ..."""
    key = trigger_key(trigger)
    if key is None:
        return "unknown"
    value = trigger[key]
    if key == "on_incoming_call":
        return "call:inbound"
    if key == "on_call_request":
        return "call:outbound"
    if key == "on_button":
        taps = str(value).removeprefix("action_button_").removesuffix("_tap")
        return f"button:{taps}"
    if key in ("on_phrases", "on_phrase"):
        phrases = ",".join(str(p) for p in value) if isinstance(value, list) else str(value)
        return f"phrases:{phrases}"
    if key == "on_device_event":
        return f"device:{value}"
    if key == "on_battery_charge":
        return f"battery:charge:{value}"
    if key == "on_battery_discharge":
        return f"battery:discharge:{value}"
    if key == "on_http":
        return f"http:{value}"
    if key == "on_nfc":
        return f"nfc:{value.get('type', 'custom') if isinstance(value, dict) else value}"
    if key == "on_geofence":
        return f"geofence:{value.get('transition', '?') if isinstance(value, dict) else value}"
    if key == "on_position":
        if isinstance(value, dict):
            return f"position:{value.get('transition', '?')}:{value.get('position_id', '?')}"
        return f"position:{value}"
    if key == "on_timer":
        return "timer"
    return key.removeprefix("on_")
