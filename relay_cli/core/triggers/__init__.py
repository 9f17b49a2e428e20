"""Triggers: what each ``relay workflow create <kind>`` (and each manifest ``type``) puts under ``config.trigger``.

``table.py`` declares every trigger once; ``model.py`` says what a declaration is; ``times.py`` holds the
timer's time parsing. Pure: invalid input raises ``UsageError`` naming the flag. How to add a trigger:
docs/adding-a-trigger.md.
"""

from .model import REQUIRED, Kind, Machine, NotRepresentable, Option, Trigger, choice, non_empty
from .table import (
    ABSORBABLE,
    BATTERY_KINDS,
    BUTTON_TAPS,
    BY_KEY,
    BY_NAME,
    CALL_DIRECTIONS,
    DEVICE_EVENTS,
    HTTP_METHODS,
    NFC_TYPES,
    TIMER_FREQUENCIES,
    TIMER_KINDS,
    TRANSITIONS,
    TRIGGER_KEYS,
    TRIGGERS,
    describe,
    normalize_phrase,
    trigger_key,
)
from .times import WEEKDAYS, WIRE_DATETIME, parse_local_datetime, parse_weekdays, validate_timezone

__all__ = [  # the names the rest of relay uses
    "ABSORBABLE",
    "BATTERY_KINDS",
    "BUTTON_TAPS",
    "BY_KEY",
    "BY_NAME",
    "CALL_DIRECTIONS",
    "DEVICE_EVENTS",
    "HTTP_METHODS",
    "NFC_TYPES",
    "REQUIRED",
    "TIMER_FREQUENCIES",
    "TIMER_KINDS",
    "TRANSITIONS",
    "TRIGGERS",
    "TRIGGER_KEYS",
    "WEEKDAYS",
    "WIRE_DATETIME",
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
    "trigger_key",
    "validate_timezone",
]
