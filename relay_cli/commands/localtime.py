"""The machine's clock and time zone, for timer defaults (kept out of core, which does no I/O)."""

import os
from datetime import datetime, timedelta
from pathlib import Path


def _known(zone: str) -> bool:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(zone)
        return True
    except (ValueError, OSError, LookupError):
        return False


def local_zone_name() -> str:
    """This machine's IANA zone: $TZ, the /etc/localtime link, /etc/timezone, else UTC."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if "zoneinfo/" in tz:
        tz = tz.split("zoneinfo/", 1)[1]
    if tz and not tz.startswith("/") and _known(tz):
        return tz
    localtime = Path("/etc/localtime")
    try:
        target = str(localtime.resolve())
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    try:
        name = Path("/etc/timezone").read_text(encoding="utf-8").strip()
        if name:
            return name
    except OSError:
        pass
    return "UTC"


def next_full_hour() -> str:
    now = datetime.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return now.strftime("%Y-%m-%dT%H:%M:%S")
