"""Account resources beside workflows: geofences, NFC tag configurations, analytics queries.

Pure: each function checks the values given on the command line and returns the exact JSON body (or query)
the Relay API takes. A bad value raises ``UsageError`` naming the flag; nothing has been sent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from ..errors import UsageError
from ..jsontypes import JSONObject, JSONValue
from . import suggest

LATITUDE_RANGE = (-90.0, 90.0)
LONGITUDE_RANGE = (-180.0, 180.0)
TAG_TYPES = ("custom", "user_profile")
#: content keys set by their own flags, never by --arg
TAG_RESERVED = {"type": "--type", "category": "--category", "label": "--label"}


# --- geofences ---------------------------------------------------------------------------------------


def coordinate(value: str | float | None, option: str, bounds: tuple[float, float]) -> float | None:
    """A latitude or longitude: a finite number within ``bounds``."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"expected a number, got {value!r}", option=option) from None
    low, high = bounds
    if not math.isfinite(number) or not low <= number <= high:
        raise UsageError(f"must be between {low:g} and {high:g}, got {value}", option=option)
    return number


def geofence_body(
    label: str,
    radius: int,
    *,
    address: str | None = None,
    lat: str | float | None = None,
    long: str | float | None = None,
) -> JSONObject:
    """The body of ``POST /ibot/geofence``: ``{label, address, radius}`` or ``{label, lat, long, radius}``."""
    if not label or not label.strip():
        raise UsageError("must not be empty", option="--name")
    if isinstance(radius, bool) or not isinstance(radius, int) or radius <= 0:
        raise UsageError(f"must be a positive number of meters, got {radius}", option="--radius")
    if address is not None:
        if lat is not None or long is not None:
            raise UsageError("give either an address or --latitude and --longitude, not both", option="--address")
        if not address.strip():
            raise UsageError("must not be empty", option="--address")
        return {"label": label, "address": address, "radius": radius}
    if lat is None and long is None:
        raise UsageError("expected an address, or --latitude and --longitude", option="--address")
    if lat is None:
        raise UsageError("--longitude needs --latitude too", option="--latitude")
    if long is None:
        raise UsageError("--latitude needs --longitude too", option="--longitude")
    lat_value = coordinate(lat, "--latitude", LATITUDE_RANGE)
    long_value = coordinate(long, "--longitude", LONGITUDE_RANGE)
    return {"label": label, "lat": lat_value, "long": long_value, "radius": radius}


def geofence_coordinates(geofence: JSONObject) -> str:
    """``LAT,LONG`` of a geofence defined by coordinates; "" for one defined by an address."""
    lat, long = geofence.get("lat"), geofence.get("long")
    return f"{lat},{long}" if lat not in (None, "") and long not in (None, "") else ""


# --- NFC tags ----------------------------------------------------------------------------------------


def tag_content(
    category: str, label: str, *, tag_type: str = "custom", args: list[str] | None = None
) -> dict[str, str]:
    """The ``content`` of a tag configuration: type, category, label and the ``--arg NAME=VALUE`` pairs."""
    if tag_type not in TAG_TYPES:
        raise UsageError(suggest.expected(tag_type, TAG_TYPES), option="--type")
    if not category or not category.strip():
        raise UsageError("must not be empty", option="--category")
    if not label or not label.strip():
        raise UsageError("must not be empty", option="--label")
    extra: dict[str, str] = {}
    for item in args or []:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"expected NAME=VALUE, got {item!r}", option="--arg")
        if name in TAG_RESERVED:
            raise UsageError(f"an arg cannot be named {name!r}; use {TAG_RESERVED[name]} instead", option="--arg")
        extra[name] = value
    return {"type": tag_type, "category": category, "label": label, **extra}


def tag_body(content: Mapping[str, str]) -> JSONObject:
    """The body of ``POST /ibot/relay_nfc_tag`` and ``PUT /ibot/relay_nfc_tag/{id}``."""
    return {"content": dict(content)}


def filter_tags(
    tags: list[JSONObject], *, tag_type: str | None = None, category: str | None = None
) -> list[JSONObject]:
    """The tags whose content has this type and category (either may be None: any)."""
    out = []
    for tag in tags:
        content = c if isinstance(c := tag.get("content"), dict) else {}
        if tag_type is not None and content.get("type") != tag_type:
            continue
        if category is not None and content.get("category") != category:
            continue
        out.append(tag)
    return out


def tag_field(name: str) -> Callable[[JSONObject], str]:
    """A cell that is the tag's ``content`` field ``name`` as text ("" when missing)."""

    def cell(tag: JSONObject) -> str:
        content = c if isinstance(c := tag.get("content"), dict) else {}
        return "" if content.get(name) is None else str(content.get(name))

    return cell


# --- user profile assignments (``GET /ibot/audit``) ----------------------------------------------------

#: the audit query the reference CLI sends for "which user profile was assigned to which device"
ASSIGNMENT_QUERY = {"event_type": "ibot_user_profile", "action": "assigned"}


def assignment(event: JSONObject) -> JSONObject:
    """An audit event with its JSON ``data`` (``{"id": user, "device_id": ...}``) opened into ``id`` and
    ``device_id`` (None when the data is missing or not that JSON)."""
    import json

    out = {k: v for k, v in event.items() if k != "data"}
    data = event.get("data")
    parsed: JSONValue = None
    if isinstance(data, str):
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
    elif isinstance(data, dict):
        parsed = data
    parsed = parsed if isinstance(parsed, dict) else {}
    out["id"] = parsed.get("id")
    out["device_id"] = parsed.get("device_id")
    return out


# --- custom audio (``/ibot/custom_audio``) -------------------------------------------------------------

#: workflows play a custom audio file as relay-static://NAME: these characters would break that URI
AUDIO_NAME_FORBIDDEN = frozenset("/?#%\\")


def check_audio_name(name: str) -> str:
    """A custom audio name that fits ``relay-static://NAME``, else a UsageError naming --name."""
    if not name.strip():
        raise UsageError("expected a name, got an empty value", option="--name")
    bad = sorted({c for c in name if c.isspace() or c in AUDIO_NAME_FORBIDDEN or not c.isprintable()})
    if bad:
        found = ", ".join(repr(c) for c in bad)
        raise UsageError(
            f"workflows play it as relay-static://NAME, so NAME cannot contain whitespace or any of / ? # % \\ "
            f"(found {found} in {name!r})",
            option="--name",
        )
    return name


def audio_body(subscriber_id: str, name: str) -> JSONObject:
    """The body of ``POST /ibot/custom_audio``."""
    return {"audio_format": "wave", "subscriber_id": subscriber_id, "short_name": check_audio_name(name)}
