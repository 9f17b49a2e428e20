"""The timer trigger's times: local wall-clock date-times, IANA zone names, weekdays."""

from __future__ import annotations

import re
from datetime import datetime

from ...errors import UsageError
from .. import suggest

WEEKDAYS = {"MO": 1, "TU": 2, "WE": 3, "TH": 4, "FR": 5, "SA": 6, "SU": 7}
#: how the wire writes a local time: ``2030-01-01T09:00:00``
WIRE_DATETIME = "%Y-%m-%dT%H:%M:%S"

_LOCAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_ZONE_SUFFIX = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")


def parse_local_datetime(value: str, option: str) -> datetime:
    """A local wall-clock time: ``2030-01-01T09:00[:00]`` or ``2030-01-01`` (midnight); no zone suffix."""
    text = value.strip()
    if not _LOCAL_DATETIME.match(text):
        if _ZONE_SUFFIX.search(text) and _LOCAL_DATETIME.match(_ZONE_SUFFIX.sub("", text)):
            raise UsageError(
                f"expected a local time without a zone (the zone goes in -z/--timezone), got {value!r}",
                option=option,
            )
        raise UsageError(f"expected a local date and time like 2030-01-01T09:00:00, got {value!r}", option=option)
    try:
        return datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        raise UsageError(
            f"expected a real date and time like 2030-01-01T09:00:00, got {value!r}", option=option
        ) from None


def validate_timezone(zone: str) -> str:
    """An IANA zone name known to this machine's zone database."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not zone or zone != zone.strip() or zone.startswith("/") or ".." in zone:
        raise UsageError(f"expected an IANA time zone such as America/Chicago, got {zone!r}", option="--timezone")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"expected an IANA time zone such as America/Chicago, got {zone!r}", option="--timezone"
        ) from None
    return zone


def parse_weekdays(days: list[str]) -> list[int]:
    """``["MO", "we,fr"]`` → ``[1, 3, 5]``: order kept, duplicates dropped; empty means every day."""
    values: list[int] = []
    for item in days:
        for part in item.split(","):
            label = part.strip().upper()
            if label not in WEEKDAYS:
                raise UsageError(suggest.expected(part.strip(), WEEKDAYS), option="--day")
            if WEEKDAYS[label] not in values:
                values.append(WEEKDAYS[label])
    return values or list(WEEKDAYS.values())
