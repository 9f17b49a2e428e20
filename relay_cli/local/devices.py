"""Device events in the sandbox: the body of ``POST /_sandbox/events`` checked, the device (and the other party of
a call) found by id or name, and what the sandbox remembers of the device moved on — its battery, its location, its
indoor position — from which the event's details come (the thresholds crossed and the transitions that battery,
geofence and position workflows fire on; ``core.triggers.events``).

Each problem is an ``HttpError``: 400 for a malformed body (naming the field), 404 for a device, tag, venue or
position the account does not have. Nothing is changed before the body has passed every check.
"""

from __future__ import annotations

import math

from ..core.triggers import PRESSES, DeviceEvent
from ..core.triggers.events import INITIAL_BATTERY, geofence_transitions, position_transitions
from ..jsontypes import JSONObject, JSONValue
from .store import SandboxStore
from .web import HttpError, bad_request

#: the kinds of event ``POST /_sandbox/events`` takes (HTTP and timer workflows have their own ways)
KINDS = ("call", "dial", "press", "say", "nfc", "battery", "move", "position", "emergency")
#: what the sandbox remembers of a device between events (a resource of kind DEVICE_STATE, by device id)
DEVICE_STATE = "device_state"
#: the longest phrase ``say`` takes
MAX_PHRASE = 500


def invalid(message: str) -> HttpError:
    return bad_request(message, error="invalid_event")


def _text(body: JSONObject, key: str, what: str, limit: int = 200) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{key}: expected {what}, got {value!r}")
    if len(value) > limit or any(ord(ch) < 32 for ch in value):
        raise invalid(f"{key}: expected {what} of at most {limit} characters, without control characters")
    return value.strip()


def _number(body: JSONObject, key: str, low: float, high: float) -> float:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise invalid(f"{key}: expected a number from {low:g} to {high:g}, got {value!r}")
    if not low <= value <= high:
        raise invalid(f"{key}: expected a number from {low:g} to {high:g}, got {value:g}")
    return float(value)


def find_device(store: SandboxStore, sub: str, ref: str, what: str = "device") -> tuple[str, str]:
    """(id, name) of the account's device ``ref``: its id, or its name (any case). 404 naming the devices."""
    devices = store.devices(sub)
    if ref in devices:
        return ref, devices[ref]
    for device_id, name in devices.items():
        if name.casefold() == ref.casefold():
            return device_id, name
    known = ", ".join(f"{name} ({device_id})" for device_id, name in devices.items()) or "none"
    raise HttpError(404, "device_not_found", f"no {what} {ref!r} in account {sub}; its devices: {known}")


def _find_tag(store: SandboxStore, sub: str, ref: str) -> JSONObject:
    tags = store.resources("nfc_tag", sub)
    for tag in tags:
        if tag.get("tag_id") == ref:
            return tag
    labelled = [t for t in tags if _label(t).casefold() == ref.casefold()]
    if len(labelled) == 1:
        return labelled[0]
    if len(labelled) > 1:
        ids = ", ".join(str(t.get("tag_id")) for t in labelled)
        raise invalid(f"tag: {len(labelled)} tags are labelled {ref!r} ({ids}); give the tag id")
    raise HttpError(
        404, "tag_not_found", f"no NFC tag {ref!r} (an id or a label) in account {sub}; `relay tag list` shows them"
    )


def _label(tag: JSONObject) -> str:
    content = tag.get("content")  # an object: the sandbox stores only what validate_tag took
    return str(content.get("label", "")) if isinstance(content, dict) else ""


def _state(old: JSONObject | None) -> JSONObject:
    base = {
        "battery": INITIAL_BATTERY,
        "charging": False,
        "lat": None,
        "long": None,
        "venue_id": None,
        "position_id": None,
    }
    return {**base, **(old or {})}


def device_event(store: SandboxStore, sub: str, body: JSONValue) -> tuple[str, str, DeviceEvent]:
    """The request body → (device id, device name, the event), the device's state updated for a battery change,
    a move or a change of position."""
    if not isinstance(body, dict):
        raise invalid("expected a JSON object")
    kind = body.get("event")
    if kind not in KINDS:
        raise invalid(f"event: expected one of {', '.join(KINDS)}, got {kind!r}")
    device_id, device_name = find_device(store, sub, _text(body, "device", "a device id or name"))
    details: JSONObject = {}
    if kind == "call":
        details["caller"], details["caller_name"] = find_device(
            store, sub, _text(body, "from", "a device id or name"), "caller"
        )
    elif kind == "dial":
        details["callee"], details["callee_name"] = find_device(
            store, sub, _text(body, "to", "a device id or name"), "callee"
        )
    elif kind == "press":
        taps = body.get("taps", "single")
        if taps not in PRESSES:
            raise invalid(f"taps: expected one of {', '.join(PRESSES)}, got {taps!r}")
        details["taps"] = taps
    elif kind == "say":
        details["text"] = _text(body, "phrase", "what the user says", MAX_PHRASE)
    elif kind == "nfc":
        tag = _find_tag(store, sub, _text(body, "tag", "a tag id or label"))
        content = tag.get("content")
        content = content if isinstance(content, dict) else {}
        details.update(tag_id=tag.get("tag_id"), uid=tag.get("uid") or tag.get("tag_id"), content=content)
    elif kind == "battery":
        level = _number(body, "level", 0, 100)
        charging = body.get("charging", False)
        if not isinstance(charging, bool):
            raise invalid(f"charging: expected true or false, got {charging!r}")
        old, _ = store.update_resource(
            DEVICE_STATE, sub, device_id, lambda old: {**_state(old), "battery": level, "charging": charging}
        )
        details.update(before=_state(old)["battery"], level=level, charging=charging)
    elif kind == "move":
        lat, long = _number(body, "lat", -90, 90), _number(body, "long", -180, 180)
        geofences = store.resources("geofence", sub)
        old, _ = store.update_resource(
            DEVICE_STATE, sub, device_id, lambda old: {**_state(old), "lat": lat, "long": long}
        )
        before = _state(old)
        was_lat, was_long = before["lat"], before["long"]  # numbers once the device has moved, else None
        where = (
            (float(was_lat), float(was_long))
            if isinstance(was_lat, (int, float)) and isinstance(was_long, (int, float))
            else None
        )
        moves = geofence_transitions(geofences, where, (lat, long))
        details.update(lat=lat, long=long, transitions=[list(move) for move in moves])
    elif kind == "position":
        venue, position = _text(body, "venue", "a venue id"), _text(body, "position", "a position id")
        if store.resource("venue", sub, venue) is None:
            raise HttpError(404, "venue_not_found", f"no venue {venue!r} in account {sub}; `relay venues` shows them")
        found = store.resource("position", sub, position)
        if found is None or found.get("venue_id") != venue:
            raise HttpError(
                404,
                "position_not_found",
                f"no position {position!r} in venue {venue!r}; `relay positions -v {venue}` shows them",
            )
        old, _ = store.update_resource(
            DEVICE_STATE, sub, device_id, lambda old: {**_state(old), "venue_id": venue, "position_id": position}
        )
        before = _state(old)
        was = None if before["venue_id"] is None else (str(before["venue_id"]), str(before["position_id"]))
        moved = position_transitions(was, (venue, position))
        details.update(venue_id=venue, position_id=position, transitions=[list(move) for move in moved])
    return device_id, device_name, DeviceEvent(str(kind), details)
