"""Device events: what happens on a device and can start workflows (``relay sandbox call|dial|press|...``), and
the pure rules that decide whether a stored trigger fires on one: phrase matching, a battery threshold crossed,
geofence and indoor-position transitions, a call's pattern.

Relay publishes none of these rules; they are decisions, written down in docs/sandbox.md ("Which workflows
start"). Each trigger of ``table.py`` says, in its ``fires``, which event kind it answers and how.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeGuard

from ...jsontypes import JSONValue

#: event kind → what it is, for messages ("no workflow on Alice handles a double tap")
EVENT_KINDS: dict[str, str] = {
    "call": "an inbound call",
    "dial": "an outbound call",
    "press": "a press of the action button",
    "say": "a spoken phrase",
    "nfc": "an NFC tag",
    "battery": "a battery change",
    "move": "a move",
    "position": "an indoor position change",
    "emergency": "an emergency",
    "http": "an HTTP trigger",
    "timer": "a timer",
}
#: how the action button can be pressed: the taps of ``relay sandbox press --taps``, and ``long`` (``--long``)
PRESSES = ("single", "double", "triple", "long")
#: a device's battery before its first ``battery`` event (percent), not charging
INITIAL_BATTERY = 100
#: the mean radius of the Earth, in meters (geofence radii are meters)
EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class DeviceEvent:
    """Something that happened on a device. ``details`` by kind:

    - call: ``caller`` (id), ``caller_name``; dial: ``callee`` (id), ``callee_name``
    - press: ``taps`` (one of PRESSES); say: ``text`` (as spoken)
    - nfc: ``tag_id``, ``uid``, ``content`` (the tag's content: type, category, label, ...)
    - battery: ``before`` and ``level`` (percent), ``charging``
    - move: ``lat``, ``long``, ``transitions`` [(geofence id, entry|exit)]
    - position: ``venue_id``, ``position_id``, ``transitions`` [(venue id, position id, entry|exit)]
    - http: ``workflow_id``, ``args`` (the action_args); timer: ``workflow_id``, ``due`` (the occurrence)
    """

    kind: str
    details: Mapping[str, JSONValue] = field(default_factory=dict)

    def transitions(self) -> list[tuple[str, ...]]:
        """The ``transitions`` of a move or a position, each as its strings (none when there are none)."""
        found = self.details.get("transitions")
        if not isinstance(found, Sequence) or isinstance(found, str):
            return []
        return [tuple(map(str, t)) for t in found if isinstance(t, Sequence) and not isinstance(t, str)]

    def describe(self) -> str:
        """``an inbound call from Bob``, ``a double tap``, ``the phrase 'hello relay'``, ..."""
        d = self.details
        if self.kind == "call":
            return f"an inbound call from {d.get('caller_name') or d.get('caller')}"
        if self.kind == "dial":
            return f"a call to {d.get('callee_name') or d.get('callee')}"
        if self.kind == "press":
            return "a long press" if d.get("taps") == "long" else f"a {d.get('taps')} tap"
        if self.kind == "say":
            return f"the phrase {d.get('text')!r}"
        if self.kind == "nfc":
            content = d.get("content")
            label = content.get("label") if isinstance(content, Mapping) else None
            return f"the NFC tag {label or d.get('tag_id')!r}"
        if self.kind == "battery":
            return f"the battery going from {d.get('before')}% to {d.get('level')}%" + (
                " while charging" if d.get("charging") else ""
            )
        if self.kind == "move":
            moves = ", ".join(f"{t} of geofence {g}" for g, t in self.transitions())
            return f"a move to {d.get('lat')}, {d.get('long')}" + (
                f" ({moves})" if moves else " (no geofence entered or left)"
            )
        if self.kind == "position":
            moves = ", ".join(f"{t} of {p}" for _v, p, t in self.transitions())
            return f"a move to position {d.get('position_id')} of venue {d.get('venue_id')}" + (
                f" ({moves})" if moves else " (already there)"
            )
        return EVENT_KINDS.get(self.kind, self.kind)


# --- the rules -----------------------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")


def heard(text: str) -> str:
    """What the assistant heard, as phrases are stored: lower case, whitespace collapsed (``normalize_phrase``)."""
    return _WHITESPACE.sub(" ", text).strip().lower()


def phrase_match(phrases: Iterable[JSONValue], text: str) -> tuple[str, str] | None:
    """(the phrase, the spillover) when ``text`` is a registered phrase or begins with one and goes on after a
    space (the rest is the spillover, as the SDKs name it); the longest such phrase wins. None otherwise."""
    said = heard(text)
    best: str | None = None
    for raw in phrases:
        phrase = heard(str(raw))
        if phrase and (said == phrase or said.startswith(phrase + " ")) and (best is None or len(phrase) > len(best)):
            best = phrase
    if best is None:
        return None
    return best, said[len(best) :].strip()


def battery_crossed(kind: str, threshold: JSONValue, before: JSONValue, level: JSONValue, charging: bool) -> bool:
    """Does a change from ``before`` to ``level`` percent cross ``threshold``? ``discharge``: from above it to at
    or below it, while not charging; ``charge``: from below it to at or above it, while charging."""
    if not (_is_number(threshold) and _is_number(before) and _is_number(level)):
        return False
    if kind == "discharge":
        return not charging and before > threshold >= level
    if kind == "charge":
        return charging and before < threshold <= level
    return False


def _is_number(value: JSONValue) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def distance_m(lat1: float, long1: float, lat2: float, long2: float) -> float:
    """Great-circle distance in meters (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(long2 - long1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _number(value: JSONValue) -> float | None:
    """A finite number, or a string holding one; else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def inside(geofence: Mapping[str, JSONValue], where: tuple[float, float] | None) -> bool:
    """Is ``where`` (lat, long) within the geofence's circle? A geofence known only by its address has no
    coordinates here, so nothing is ever inside it."""
    if where is None:
        return False
    lat, long, radius = _number(geofence.get("lat")), _number(geofence.get("long")), _number(geofence.get("radius"))
    if lat is None or long is None or radius is None:
        return False
    return distance_m(lat, long, where[0], where[1]) <= radius


def geofence_transitions(
    geofences: Sequence[Mapping[str, JSONValue]], before: tuple[float, float] | None, after: tuple[float, float]
) -> list[tuple[str, str]]:
    """(geofence id, ``entry``|``exit``) for each geofence the move from ``before`` (None: nowhere yet) to
    ``after`` enters or leaves, in the geofences' order."""
    out = []
    for geofence in geofences:
        was, now = inside(geofence, before), inside(geofence, after)
        if was != now:
            out.append((str(geofence.get("geofence_id")), "entry" if now else "exit"))
    return out


def position_transitions(before: tuple[str, str] | None, after: tuple[str, str]) -> list[tuple[str, str, str]]:
    """(venue id, position id, ``entry``|``exit``): leaving the position the device was at (if any), then
    entering the new one; nothing when it is already there."""
    if before == after:
        return []
    out = [(before[0], before[1], "exit")] if before is not None else []
    return [*out, (after[0], after[1], "entry")]


def call_pattern_matches(pattern: JSONValue, *who: JSONValue) -> bool:
    """A call trigger's value is a regular expression (``.*``: every call): it matches when it matches the
    other party's name or id in full. A value that is not a valid expression matches nothing."""
    if not isinstance(pattern, str):
        return False
    try:
        compiled = re.compile(pattern)
    except re.error:
        return False
    return any(isinstance(w, str) and compiled.fullmatch(w) is not None for w in who)
