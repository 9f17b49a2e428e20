"""Triggers: what each ``relay workflow create <kind>`` (and each manifest ``type``) puts under ``config.trigger``.

``table.py`` declares every trigger once; ``model.py`` says what a declaration is; ``times.py`` holds the
timer's time parsing; ``events.py`` the device events that fire triggers and the rules they fire by. Pure: invalid input raises ``UsageError`` naming the flag. How to add a trigger:
docs/adding-a-trigger.md.
"""

from ..tomltext import NotRepresentable
from .events import EVENT_KINDS, PRESSES, DeviceEvent
from .model import REQUIRED, Kind, Machine, Option, Trigger, choice, non_empty
from .table import (
    ABSORBABLE,
    BATTERY_KINDS,
    BUTTON_ACTIONS,
    BUTTON_TAPS,
    BY_KEY,
    BY_NAME,
    BY_OPTION,
    CALL_DIRECTIONS,
    CALL_START_TYPE,
    DEVICE_EVENTS,
    HTTP_METHODS,
    NFC_TYPES,
    START_DETAILS,
    TIMER_FREQUENCIES,
    TIMER_KINDS,
    TRANSITIONS,
    TRIGGER_KEYS,
    TRIGGERS,
    describe,
    normalize_phrase,
    start_trigger,
    trigger_key,
)
from .times import WEEKDAYS, WIRE_DATETIME, parse_local_datetime, parse_weekdays, validate_timezone

__all__ = [  # the names the rest of relay uses
    "ABSORBABLE",
    "BATTERY_KINDS",
    "BUTTON_ACTIONS",
    "BUTTON_TAPS",
    "BY_KEY",
    "BY_NAME",
    "BY_OPTION",
    "CALL_DIRECTIONS",
    "CALL_START_TYPE",
    "DEVICE_EVENTS",
    "EVENT_KINDS",
    "HTTP_METHODS",
    "NFC_TYPES",
    "PRESSES",
    "REQUIRED",
    "START_DETAILS",
    "TIMER_FREQUENCIES",
    "TIMER_KINDS",
    "TRANSITIONS",
    "TRIGGERS",
    "TRIGGER_KEYS",
    "WEEKDAYS",
    "WIRE_DATETIME",
    "DeviceEvent",
    "Kind",
    "Machine",
    "NotRepresentable",
    "Option",
    "Trigger",
    "choice",
    "describe",
    "non_empty",
    "normalize_phrase",
    "parse_local_datetime",
    "parse_weekdays",
    "start_trigger",
    "trigger_key",
    "validate_timezone",
]
