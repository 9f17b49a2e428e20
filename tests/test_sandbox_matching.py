"""Which registered workflows a device event starts (relay_cli.core.sandbox), and when timers fall due
(relay_cli.core.triggers.schedule): pure, in-process, one table per rule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from relay_cli.core import sandbox, triggers
from relay_cli.core.triggers import DeviceEvent
from relay_cli.core.triggers.events import geofence_transitions, phrase_match, position_transitions
from relay_cli.core.triggers.schedule import NotATimer, occurrences

ALICE, BOB, CAROL = "990007560045678", "990007560023456", "990007560011111"
ALL = "urn:relay-resource:all:device"
FRONT_DESK = "urn:relay-resource:id:tag:front-desk"
GROUPS = [{"group_id": FRONT_DESK, "name": "Front desk", "subscribers": [ALICE, BOB]}]


def registration(name: str, trigger: dict[str, Any], **install: Any) -> dict[str, Any]:
    body = {
        "workflow_id": f"wf_{name}",
        "name": name,
        "config": {"trigger": {"start": {"workflow": {"uri": "ws://x"}}, **trigger}},
    }
    return {**body, **(install or {"install": [ALICE]})}


#: the account's registrations, in its order: one or more of each trigger kind, installed in each way
REGISTRATIONS = [
    registration("answer", {"on_incoming_call": ".*"}),
    registration("answer-bob-only", {"on_incoming_call": "Bob"}),
    registration("outbound", {"on_call_request": ".*"}),
    registration("single", {"on_button": "action_button_single_tap"}),
    registration("double-all", {"on_button": "action_button_double_tap"}, install_rule=ALL),
    registration("double-desk", {"on_button": "action_button_double_tap"}, install_rule=FRONT_DESK),
    registration("triple", {"on_button": "action_button_triple_tap"}),
    registration("hello", {"on_phrases": ["hello", "hello relay"]}),
    registration("sos", {"on_device_event": "emergency"}),
    registration("low", {"on_battery_discharge": 20}),
    registration("charged", {"on_battery_charge": 80}),
    registration("hook", {"on_http": "POST"}, install=[]),
    registration("any-tag", {"on_nfc": {"type": "custom"}}),
    registration("room-12", {"on_nfc": {"type": "custom", "category": "rooms", "label": "Room 12"}}),
    registration("site-in", {"on_geofence": {"transition": "entry", "geofence_id": "gf_site"}}),
    registration("site-out", {"on_geofence": {"transition": "exit", "geofence_id": "gf_site"}}),
    registration("lobby-in", {"on_position": {"venue_id": "venue-hq", "position_id": "pos-lobby", "transition": "entry"}}),
    registration("lobby-out", {"on_position": {"venue_id": "venue-hq", "position_id": "pos-lobby", "transition": "exit"}}),
    registration("nightly", {"on_timer": {"start_time": "immediately"}}),
    registration("nobody", {"on_button": "action_button_single_tap"}, install=[]),
]  # fmt: skip

ROOM_12 = {"type": "custom", "category": "rooms", "label": "Room 12"}

#: (device, event) → the workflows it starts, in order, with the START each gets (type and args but source_uri)
CASES: list[tuple[str, str, DeviceEvent, list[tuple[str, dict[str, Any]]]]] = [
    ("inbound call", ALICE, DeviceEvent("call", {"caller": BOB, "caller_name": "Bob"}),
     [("answer", {"type": "telephony", "args": {}}), ("answer-bob-only", {"type": "telephony", "args": {}})]),
    ("inbound call, the pattern does not match the caller", ALICE, DeviceEvent("call", {"caller": CAROL, "caller_name": "Carol"}),
     [("answer", {"type": "telephony", "args": {}})]),
    ("inbound call to a device with no call workflow", CAROL, DeviceEvent("call", {"caller": BOB, "caller_name": "Bob"}), []),
    ("outbound call", ALICE, DeviceEvent("dial", {"callee": BOB, "callee_name": "Bob"}), [("outbound", {"type": "telephony", "args": {}})]),
    ("single tap", ALICE, DeviceEvent("press", {"taps": "single"}),
     [("single", {"type": "button", "args": {"action": "action_button_single_tap"}})]),
    ("double tap: all devices and the group", ALICE, DeviceEvent("press", {"taps": "double"}),
     [("double-all", {"type": "button", "args": {"action": "action_button_double_tap"}}),
      ("double-desk", {"type": "button", "args": {"action": "action_button_double_tap"}})]),
    ("double tap on a device outside the group", CAROL, DeviceEvent("press", {"taps": "double"}),
     [("double-all", {"type": "button", "args": {"action": "action_button_double_tap"}})]),
    ("triple tap", ALICE, DeviceEvent("press", {"taps": "triple"}),
     [("triple", {"type": "button", "args": {"action": "action_button_triple_tap"}})]),
    ("long press", ALICE, DeviceEvent("press", {"taps": "long"}), []),
    ("the phrase and more: the longest phrase, the rest is spillover", ALICE, DeviceEvent("say", {"text": "Hello  Relay call Bob"}),
     [("hello", {"type": "phrase", "args": {"phrase": "hello relay", "spillover": "call bob"}})]),
    ("exactly a phrase", ALICE, DeviceEvent("say", {"text": "hello"}), [("hello", {"type": "phrase", "args": {"phrase": "hello", "spillover": ""}})]),
    ("a phrase that only starts like one", ALICE, DeviceEvent("say", {"text": "hellooo"}), []),
    ("emergency", ALICE, DeviceEvent("emergency"), [("sos", {"type": "emergency", "args": {}})]),
    ("battery down across 20", ALICE, DeviceEvent("battery", {"before": 25, "level": 20, "charging": False}),
     [("low", {"type": "other", "args": {}})]),
    ("battery down, not across 20", ALICE, DeviceEvent("battery", {"before": 19, "level": 10, "charging": False}), []),
    ("battery down across 20 while charging", ALICE, DeviceEvent("battery", {"before": 25, "level": 20, "charging": True}), []),
    ("battery up across 80 while charging", ALICE, DeviceEvent("battery", {"before": 50, "level": 80, "charging": True}),
     [("charged", {"type": "other", "args": {}})]),
    ("battery up across 80, not charging", ALICE, DeviceEvent("battery", {"before": 50, "level": 90, "charging": False}), []),
    ("HTTP: the named workflow, installed nowhere", BOB, DeviceEvent("http", {"workflow_id": "wf_hook", "args": {"k": "v"}}),
     [("hook", {"type": "http", "args": {"args": {"k": "v"}}})]),
    ("NFC: every tag of the type, and the one labelled", ALICE, DeviceEvent("nfc", {"tag_id": "t1", "uid": "04a1", "content": ROOM_12}),
     [("any-tag", {"type": "nfc", "args": {"uid": "04a1", "nfc_payload": ROOM_12}}),
      ("room-12", {"type": "nfc", "args": {"uid": "04a1", "nfc_payload": ROOM_12}})]),
    ("NFC: another label", ALICE, DeviceEvent("nfc", {"tag_id": "t2", "uid": "", "content": {**ROOM_12, "label": "Room 13"}}),
     [("any-tag", {"type": "nfc", "args": {"uid": "", "nfc_payload": {**ROOM_12, "label": "Room 13"}}})]),
    ("geofence entry", ALICE, DeviceEvent("move", {"transitions": [("gf_site", "entry")]}), [("site-in", {"type": "geofence", "args": {}})]),
    ("geofence exit", ALICE, DeviceEvent("move", {"transitions": [("gf_site", "exit")]}), [("site-out", {"type": "geofence", "args": {}})]),
    ("a move in no geofence", ALICE, DeviceEvent("move", {"transitions": []}), []),
    ("position: leaving the lobby for the kitchen", ALICE,
     DeviceEvent("position", {"transitions": [("venue-hq", "pos-lobby", "exit"), ("venue-hq", "pos-kitchen", "entry")]}),
     [("lobby-out", {"type": "other", "args": {}})]),
    ("position: into the lobby", ALICE, DeviceEvent("position", {"transitions": [("venue-hq", "pos-lobby", "entry")]}),
     [("lobby-in", {"type": "other", "args": {}})]),
    ("timer: the named workflow on a device it is installed on", ALICE, DeviceEvent("timer", {"workflow_id": "wf_nightly"}),
     [("nightly", {"type": "calendar", "args": {}})]),
    ("timer: not on a device it is not installed on", BOB, DeviceEvent("timer", {"workflow_id": "wf_nightly"}), []),
]  # fmt: skip


@pytest.mark.parametrize(("device", "event", "started"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_an_event_starts_exactly_the_workflows_that_match(
    device: str, event: DeviceEvent, started: list[tuple[str, dict[str, Any]]]
) -> None:
    found = sandbox.starts(REGISTRATIONS, event, device, GROUPS)
    assert [(s.name, s.start_trigger()) for s in found] == started


def test_every_trigger_kind_is_in_the_table() -> None:
    """Each trigger of `relay workflow create` has a registration above and an event that fires it."""
    kinds = {triggers.BY_KEY[triggers.trigger_key(r["config"]["trigger"])].name for r in REGISTRATIONS}
    assert kinds == set(triggers.BY_NAME)
    fired = {name for _, device, event, started in CASES for name, _ in started}
    assert fired == {r["name"] for r in REGISTRATIONS} - {"nobody"}


def test_no_match_names_what_is_installed() -> None:
    event = DeviceEvent("press", {"taps": "double"})
    on_carol = sandbox.installed(REGISTRATIONS, CAROL, GROUPS)
    assert sandbox.no_match("Carol", event, on_carol) == (
        "no workflow on Carol handles a double tap; installed: double-all (button:double)"
    )
    assert (
        sandbox.no_match("Dave", event, []) == "no workflow on Dave handles a double tap; nothing is installed on Dave"
    )
    many = [registration(f"w{i}", {"on_http": "POST"}) for i in range(12)]
    assert sandbox.no_match("Alice", DeviceEvent("emergency"), many).endswith("w9 (http:POST) and 2 more")


def test_the_rules() -> None:
    assert phrase_match(["call"], "Call  Bob now") == ("call", "bob now")
    assert phrase_match(["call bob", "call"], "call bob") == ("call bob", "")
    assert phrase_match(["call"], "recall") is None
    site = {"geofence_id": "g", "lat": "35.7796", "long": "-78.6382", "radius": 100}
    near, far = (35.7800, -78.6382), (35.7900, -78.6382)  # 44 m and 1.16 km north
    assert geofence_transitions([site], None, near) == [("g", "entry")]
    assert geofence_transitions([site], near, near) == []
    assert geofence_transitions([site], near, far) == [("g", "exit")]
    assert geofence_transitions([{"geofence_id": "a", "address": "1 Main St", "radius": 100}], None, near) == []
    assert position_transitions(None, ("v", "p")) == [("v", "p", "entry")]
    assert position_transitions(("v", "p"), ("v", "q")) == [("v", "p", "exit"), ("v", "q", "entry")]
    assert position_transitions(("v", "p"), ("v", "p")) == []


# --- timers --------------------------------------------------------------------------------------------------

CREATED = datetime(2029, 12, 1, 12, 0, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("on_timer", "after", "upto", "expected"),
    [
        ({"start_time": "immediately"}, None, utc("2029-12-01T12:00"), (CREATED, 1, None)),
        ({"start_time": "immediately"}, CREATED, utc("2030-01-01T00:00"), (None, 0, None)),  # once only
        # 09:00 in Chicago (UTC-6 in winter) is 15:00 UTC
        ({"start_time": "2030-01-01T09:00:00", "timezone": "America/Chicago", "count": 1}, None, utc("2030-01-01T14:59"),
         (None, 0, utc("2030-01-01T15:00"))),
        ({"start_time": "2030-01-01T09:00:00", "timezone": "America/Chicago", "count": 1}, None, utc("2030-01-01T15:00"),
         (utc("2030-01-01T15:00"), 1, None)),
        # daily, 3 times: Jan 1, 2, 3; by Jan 2 noon two were due, the latest Jan 2 09:00 (15:00 UTC)
        ({"start_time": "2030-01-01T09:00:00", "timezone": "America/Chicago", "frequency": "daily", "interval": 1,
          "count": 3, "byweekday": [1, 2, 3, 4, 5, 6, 7]}, None, utc("2030-01-02T18:00"),
         (utc("2030-01-02T15:00"), 2, utc("2030-01-03T15:00"))),
        ({"start_time": "2030-01-01T09:00:00", "timezone": "America/Chicago", "frequency": "daily", "interval": 1,
          "count": 3, "byweekday": [1, 2, 3, 4, 5, 6, 7]}, utc("2030-01-02T18:00"), utc("2031-01-01T00:00"),
         (utc("2030-01-03T15:00"), 1, None)),
        # weekly on Monday and Wednesday (2030-01-01 is a Tuesday): Wed 2, Mon 7, Wed 9, ... until Jan 8
        ({"start_time": "2030-01-01T09:00:00", "timezone": "UTC", "frequency": "weekly", "interval": 1,
          "until": "2030-01-08T00:00:00", "byweekday": [1, 3]}, None, utc("2030-02-01T00:00"),
         (utc("2030-01-07T09:00"), 2, None)),
        # daily on weekdays only, years later (the steps before the window are skipped): Friday June 1 2035, then
        # nothing on the weekend, then Monday
        ({"start_time": "2030-01-01T09:00:00", "timezone": "UTC", "frequency": "daily", "interval": 1,
          "until": "2040-01-01T00:00:00", "byweekday": [1, 2, 3, 4, 5]}, utc("2035-06-01T00:00"), utc("2035-06-03T23:00"),
         (utc("2035-06-01T09:00"), 1, utc("2035-06-04T09:00"))),
        ({"start_time": "2030-01-01T09:00:00", "timezone": "UTC", "frequency": "daily", "interval": 1,
          "until": "2040-01-01T00:00:00", "byweekday": [1, 2, 3, 4, 5]}, utc("2035-06-01T10:00"), utc("2035-06-03T23:00"),
         (None, 0, utc("2035-06-04T09:00"))),
        # monthly on the 31st: February is skipped
        ({"start_time": "2030-01-31T09:00:00", "timezone": "UTC", "frequency": "monthly", "interval": 1, "count": 2,
          "byweekday": [1, 2, 3, 4, 5, 6, 7]}, None, utc("2030-12-31T00:00"), (utc("2030-03-31T09:00"), 2, None)),
    ],
)  # fmt: skip
def test_timer_occurrences(
    on_timer: dict[str, Any], after: datetime | None, upto: datetime, expected: tuple[Any, int, Any]
) -> None:
    assert occurrences(on_timer, CREATED, after, upto) == expected


def test_a_daily_timer_keeps_its_wall_clock_time_across_daylight_saving() -> None:
    rule = {
        "start_time": "2030-03-09T09:00:00",
        "timezone": "America/Chicago",
        "frequency": "daily",
        "interval": 1,
        "count": 2,
    }
    assert occurrences(rule, CREATED, None, utc("2031-01-01T00:00"))[0] == utc("2030-03-10T14:00")  # CDT: UTC-5


@pytest.mark.parametrize(
    "bad",
    [{"start_time": "soon", "timezone": "UTC"}, {"start_time": "2030-01-01T09:00:00", "timezone": "Mars/Base"},
     {"start_time": "2030-01-01T09:00:00", "timezone": "UTC", "frequency": "fortnightly"}, [1]],
)  # fmt: skip
def test_a_timer_that_cannot_be_read_is_said_so(bad: Any) -> None:
    with pytest.raises(NotATimer):
        occurrences(bad, CREATED, None, utc("2031-01-01T00:00"))
