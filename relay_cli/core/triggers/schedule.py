"""When a timer workflow falls due: the occurrences of an ``on_timer`` (the Relay API's timer trigger).

``{"start_time": "immediately"}`` is due once, when the workflow is created. A schedule is due once at its local
``start_time`` in its ``timezone``. A repeat is due at ``start_time`` and then every ``interval`` minutes, hours,
days, weeks, months or years (``frequency``), on the days of ``byweekday`` (1 = Monday ... 7 = Sunday), for
``count`` occurrences or until the local time ``until``. Relay does not publish how it expands a repeat; this
is the **decided** rule (docs/sandbox.md): a weekly repeat runs on each listed day of every ``interval``-th week;
the other frequencies step from ``start_time`` and skip the steps whose day is not listed; a month or year
without the start's day (the 31st, February 29th) is skipped. Times are wall-clock times of the zone, so a daily
timer stays at 09:00 across daylight saving changes (a time that does not exist on a day is taken as the zone
says, with ``fold=0``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ...jsontypes import JSONValue
from .times import WEEKDAYS

#: the most steps one look at a repeating timer takes (a minutely timer looked at years ahead stops there)
MAX_STEPS = 200_000
_UNIT = {"minutely": timedelta(minutes=1), "hourly": timedelta(hours=1), "daily": timedelta(days=1)}
_ALL_DAYS = tuple(WEEKDAYS.values())


class NotATimer(ValueError):
    """A stored ``on_timer`` this module cannot read (the reason is the message)."""


def _zone(name: JSONValue) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise NotATimer(f"timezone {name!r} is not an IANA zone name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise NotATimer(f"timezone {name!r} is not an IANA zone name") from None


def _local(value: JSONValue, what: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise NotATimer(f"{what} {value!r} is not a local date and time") from None
    if parsed.tzinfo is not None:
        raise NotATimer(f"{what} {value!r} has a zone; it must be a local time")
    return parsed


def _utc(local: datetime, zone: ZoneInfo) -> datetime:
    return local.replace(tzinfo=zone).astimezone(UTC)


def _add_months(local: datetime, months: int) -> datetime | None:
    index = local.month - 1 + months
    try:
        return local.replace(year=local.year + index // 12, month=index % 12 + 1)
    except ValueError:  # no such day in that month
        return None


def _candidates(start: datetime, frequency: str, interval: int, days: tuple[int, ...], skip: int) -> Iterator[datetime]:
    """Local times on the timer's rule from ``start`` (the first ``skip`` steps left out), in order; at most
    MAX_STEPS steps are looked at."""
    if frequency == "weekly":
        monday = start - timedelta(days=start.weekday())
        n = skip
        while n < skip + MAX_STEPS:
            week = monday + timedelta(weeks=n * interval)
            for day in days:
                on_day = week + timedelta(days=day - 1)
                if on_day >= start:
                    yield on_day
            n += 1
    n = skip
    while n < skip + MAX_STEPS:
        if frequency in _UNIT:
            when: datetime | None = start + _UNIT[frequency] * (n * interval)
        elif frequency == "monthly":
            when = _add_months(start, n * interval)
        elif frequency == "yearly":
            when = _add_months(start, 12 * n * interval)
        else:
            raise NotATimer(f"frequency {frequency!r} is not one of minutely, hourly, daily, weekly, monthly, yearly")
        if when is not None and when.isoweekday() in days:
            yield when
        n += 1


def _steps_before(start: datetime, frequency: str, interval: int, local_lo: datetime) -> int:
    """How many whole steps from ``start`` can be skipped without passing ``local_lo`` (0 when unsure)."""
    if local_lo <= start:
        return 0
    if frequency == "weekly":
        return max(0, (local_lo - start).days // (7 * interval) - 1)
    if frequency in _UNIT:
        return max(0, int((local_lo - start) / (_UNIT[frequency] * interval)) - 1)
    return 0  # months and years: few steps anyway


def occurrences(
    on_timer: JSONValue, created: datetime, after: datetime | None, upto: datetime
) -> tuple[datetime | None, int, datetime | None]:
    """For the window ``after < t <= upto`` (UTC; ``after`` None: from the workflow's creation ``created`` on,
    inclusive): (the latest occurrence in it, how many fall in it, the first occurrence after ``upto``).

    Raises NotATimer for a value this module cannot read."""
    if not isinstance(on_timer, Mapping):
        raise NotATimer(f"on_timer is {type(on_timer).__name__}, not an object")
    lo = created - timedelta(microseconds=1) if after is None else max(after, created - timedelta(microseconds=1))
    if on_timer.get("start_time") == "immediately":
        return (created, 1, None) if lo < created <= upto else (None, 0, None)
    zone = _zone(on_timer.get("timezone"))
    start = _local(on_timer.get("start_time"), "start_time")
    frequency = on_timer.get("frequency")
    if frequency is None:  # a schedule: once
        when = _utc(start, zone)
        if lo < when <= upto:
            return when, 1, None
        return None, 0, (when if when > upto else None)
    interval = on_timer.get("interval", 1)
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise NotATimer(f"interval {interval!r} is not a whole number of at least 1")
    raw_days = on_timer.get("byweekday") or list(_ALL_DAYS)
    if not isinstance(raw_days, list) or not all(d in _ALL_DAYS and not isinstance(d, bool) for d in raw_days):
        raise NotATimer(f"byweekday {raw_days!r} is not a list of days 1 (Monday) to 7 (Sunday)")
    days = tuple(sorted({int(d) for d in raw_days if isinstance(d, (int, float))}))  # each one of _ALL_DAYS
    count = on_timer.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise NotATimer(f"count {count!r} is not a whole number of at least 1")
    until = _local(on_timer["until"], "until") if on_timer.get("until") is not None else None
    # with a count, every occurrence from the start is counted; else the steps before the window are skipped
    skip = (
        0
        if count is not None
        else _steps_before(start, str(frequency), interval, lo.astimezone(zone).replace(tzinfo=None))
    )
    latest, found, upcoming = None, 0, None
    for index, local in enumerate(_candidates(start, str(frequency), interval, days, skip)):
        if index >= MAX_STEPS or (count is not None and index >= count) or (until is not None and local > until):
            break
        when = _utc(local, zone)
        if when > upto:
            upcoming = when
            break
        if when > lo:
            latest, found = when, found + 1
    return latest, found, upcoming
