"""``relay workflow create <kind>``: the exact request each command sends (the Relay API's trigger payloads)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from relay_cli import __version__

from conftest import API, SUB, TOKEN

URI = "wss://h/p"
SAVED_ID = "wf-0001"


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def assert_create_request(request: httpx.Request, subscriber: str = SUB) -> None:
    """Everything but the body: method, path, query, the three headers every request carries."""
    assert request.method == "POST"
    assert request.url.scheme == "https"
    assert request.url.host == "all-main-pro-ibot.relaysvr.com"
    assert request.url.path == "/ibot/workflow"
    assert request.url.params.multi_items() == [("subscriber_id", subscriber)]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"] == f"relay-cli/{__version__}"
    assert request.headers["Content-Type"] == "application/json"


def expected(
    trigger: dict[str, Any],
    *,
    name: str = "x",
    uri: str = URI,
    install: list[str] | None = None,
    args: dict[str, Any] | None = None,
    transient: bool = True,
    hidden: bool = False,
) -> dict[str, Any]:
    """Only used by the flag tests below; the per-trigger tests spell the whole body out."""
    return {
        "name": name,
        "options": {"transient": transient, "hidden": hidden},
        "config": {"trigger": {"start": {"workflow": {"uri": uri, "args": args or {}}}, **trigger}},
        "install": install if install is not None else [],
    }


def saved_answer(body: dict[str, Any]) -> list[dict[str, Any]]:
    """What the server answers a create with: the stored workflow, config as a JSON string."""
    return [{**body, "workflow_id": SAVED_ID, "config": json.dumps(body["config"])}]


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        mock.post("/ibot/workflow").mock(side_effect=lambda req: httpx.Response(200, json=saved_answer(body_of(req))))
        yield mock


def create(run: Any, api: Any, *args: str, subscriber: str = SUB) -> dict[str, Any]:
    """Run a create with -s SUB; check exit 0 and exactly one well-formed POST; return its JSON body."""
    result = run("workflow", "create", *args, "-s", subscriber)
    assert result.code == 0, result.err
    assert len(api.calls) == 1
    request = api.calls.last.request
    assert_create_request(request, subscriber)
    return body_of(request)


# --- every trigger: the whole body -------------------------------------------------------------

CASES = [
    pytest.param(
        ["call", "--trigger", "inbound", "--name", "auto", "--uri", "wss://h.example.com/in", "-i", "990007560045678"],
        {
            "name": "auto",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/in", "args": {}}},
                    "on_incoming_call": ".*",
                }
            },
            "install": ["990007560045678"],
        },
        id="call-inbound",
    ),
    pytest.param(
        ["call", "--name", "out", "--uri", "wss://h.example.com/out", "-i", "990007560023456"],
        {
            "name": "out",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/out", "args": {}}},
                    "on_call_request": ".*",
                }
            },
            "install": ["990007560023456"],
        },
        id="call-default-outbound",
    ),
    pytest.param(
        ["button", "--name", "tap", "--uri", "wss://h.example.com/tap", "-A"],
        {
            "name": "tap",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/tap", "args": {}}},
                    "on_button": "action_button_single_tap",
                }
            },
            "install_rule": "urn:relay-resource:all:device",
        },
        id="button-default-single",
    ),
    pytest.param(
        ["button", "--trigger", "double", "--name", "tap2", "--uri", "wss://h.example.com/tap2", "-i", "d1"],
        {
            "name": "tap2",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/tap2", "args": {}}},
                    "on_button": "action_button_double_tap",
                }
            },
            "install": ["d1"],
        },
        id="button-double",
    ),
    pytest.param(
        [
            "phrase",
            "--trigger",
            "Hello World",
            "--trigger",
            "hi there",
            "--name",
            "hello",
            "--uri",
            "wss://h.example.com/hello",
            "-A",
        ],
        {
            "name": "hello",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/hello", "args": {}}},
                    "on_phrases": ["hello world", "hi there"],
                }
            },
            "install_rule": "urn:relay-resource:all:device",
        },
        id="phrase",
    ),
    pytest.param(
        ["event", "--trigger", "emergency", "--name", "sos", "--uri", "wss://h.example.com/sos", "-i", "d1"],
        {
            "name": "sos",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/sos", "args": {}}},
                    "on_device_event": "emergency",
                }
            },
            "install": ["d1"],
        },
        id="event",
    ),
    pytest.param(
        ["battery", "--name", "low", "--uri", "wss://h.example.com/bat", "-i", "d1"],
        {
            "name": "low",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/bat", "args": {}}},
                    "on_battery_discharge": 25,
                }
            },
            "install": ["d1"],
        },
        id="battery-defaults",
    ),
    pytest.param(
        [
            "battery",
            "--trigger",
            "charge",
            "--threshold",
            "80",
            "--name",
            "full",
            "--uri",
            "wss://h.example.com/bat",
            "-i",
            "d1",
        ],
        {
            "name": "full",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/bat", "args": {}}},
                    "on_battery_charge": 80,
                }
            },
            "install": ["d1"],
        },
        id="battery-charge-80",
    ),
    pytest.param(
        ["http", "--trigger", "POST", "--name", "hook", "--uri", "wss://h.example.com/hook", "-i", "990007560045678"],
        {
            "name": "hook",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/hook", "args": {}}},
                    "on_http": "POST",
                }
            },
            "install": ["990007560045678"],
        },
        id="http",
    ),
    pytest.param(
        ["nfc", "-c", "tasks", "-l", "Room 12", "--name", "room", "--uri", "wss://h.example.com/nfc", "-A"],
        {
            "name": "room",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/nfc", "args": {}}},
                    "on_nfc": {"type": "custom", "category": "tasks", "label": "Room 12"},
                }
            },
            "install_rule": "urn:relay-resource:all:device",
        },
        id="nfc-category-label",
    ),
    pytest.param(
        ["nfc", "--name", "any-tag", "--uri", "wss://h.example.com/nfc", "-i", "d1"],
        {
            "name": "any-tag",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/nfc", "args": {}}},
                    "on_nfc": {"type": "custom"},
                }
            },
            "install": ["d1"],
        },
        id="nfc-bare",
    ),
    pytest.param(
        [
            "nfc",
            "--type",
            "user_profile",
            "-m",
            "serial=123",
            "--matcher",
            "k=a=b",
            "-c",
            "tasks",
            "--name",
            "tag",
            "--uri",
            "wss://h.example.com/nfc",
            "-i",
            "d1",
        ],
        {
            "name": "tag",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/nfc", "args": {}}},
                    "on_nfc": {"serial": "123", "k": "a=b", "type": "user_profile", "category": "tasks"},
                }
            },
            "install": ["d1"],
        },
        id="nfc-hidden-type-and-matchers",
    ),
    pytest.param(
        ["geofence", "--trigger", "exit", "--id", "GEO1", "--name", "left", "--uri", "wss://h.example.com/geo", "-A"],
        {
            "name": "left",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/geo", "args": {}}},
                    "on_geofence": {"transition": "exit", "geofence_id": "GEO1"},
                }
            },
            "install_rule": "urn:relay-resource:all:device",
        },
        id="geofence-exit",
    ),
    pytest.param(
        ["geofence", "--id", "GEO2", "--name", "arrived", "--uri", "wss://h.example.com/geo", "-i", "d1"],
        {
            "name": "arrived",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/geo", "args": {}}},
                    "on_geofence": {"transition": "entry", "geofence_id": "GEO2"},
                }
            },
            "install": ["d1"],
        },
        id="geofence-default-entry",
    ),
    pytest.param(
        [
            "position",
            "--trigger",
            "exit",
            "-v",
            "VENUE",
            "-p",
            "POS",
            "--name",
            "desk",
            "--uri",
            "wss://h.example.com/pos",
            "-A",
        ],
        {
            "name": "desk",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/pos", "args": {}}},
                    "on_position": {"venue_id": "VENUE", "position_id": "POS", "transition": "exit"},
                }
            },
            "install_rule": "urn:relay-resource:all:device",
        },
        id="position-exit",
    ),
    pytest.param(
        [
            "position",
            "--venue_id",
            "V2",
            "--position_id",
            "P2",
            "--name",
            "desk2",
            "--uri",
            "wss://h.example.com/pos",
            "-i",
            "d1",
        ],
        {
            "name": "desk2",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/pos", "args": {}}},
                    "on_position": {"venue_id": "V2", "position_id": "P2", "transition": "entry"},
                }
            },
            "install": ["d1"],
        },
        id="position-long-flags",
    ),
    pytest.param(
        ["timer", "--trigger", "immediately", "--name", "now", "--uri", "wss://h.example.com/t", "-A"],
        {
            "name": "now",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/t", "args": {}}},
                    "on_timer": {"start_time": "immediately"},
                }
            },
            "install_rule": "urn:relay-resource:all:device",
        },
        id="timer-immediately",
    ),
    pytest.param(
        [
            "timer",
            "--trigger",
            "schedule",
            "--start",
            "2030-01-01T09:00:00",
            "-z",
            "America/Chicago",
            "--name",
            "once",
            "--uri",
            "wss://h.example.com/t",
            "-A",
        ],
        {
            "name": "once",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/t", "args": {}}},
                    "on_timer": {"start_time": "2030-01-01T09:00:00", "timezone": "America/Chicago", "count": 1},
                }
            },
            "install_rule": "urn:relay-resource:all:device",
        },
        id="timer-schedule",
    ),
    pytest.param(
        [
            "timer",
            "--trigger",
            "schedule",
            "--start",
            "2030-06-15T07:30",
            "-z",
            "Asia/Tokyo",
            "--name",
            "once2",
            "--uri",
            "wss://h.example.com/t",
            "-i",
            "d1",
        ],
        {
            "name": "once2",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/t", "args": {}}},
                    "on_timer": {"start_time": "2030-06-15T07:30:00", "timezone": "Asia/Tokyo", "count": 1},
                }
            },
            "install": ["d1"],
        },
        id="timer-schedule-no-seconds",
    ),
    pytest.param(
        [
            "timer",
            "--trigger",
            "repeat",
            "--start",
            "2030-01-01T09:00:00",
            "-z",
            "America/Chicago",
            "-c",
            "10",
            "--name",
            "standup",
            "--uri",
            "wss://h.example.com/t",
            "-A",
        ],
        {
            "name": "standup",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/t", "args": {}}},
                    "on_timer": {
                        "start_time": "2030-01-01T09:00:00",
                        "timezone": "America/Chicago",
                        "frequency": "daily",
                        "interval": 1,
                        "count": 10,
                        "byweekday": [1, 2, 3, 4, 5, 6, 7],
                    },
                }
            },
            "install_rule": "urn:relay-resource:all:device",
        },
        id="timer-repeat-count",
    ),
    pytest.param(
        [
            "timer",
            "--trigger",
            "repeat",
            "--start",
            "2030-01-01T09:00:00",
            "-z",
            "Europe/London",
            "--until",
            "2030-03-31T17:00:00",
            "--name",
            "q1",
            "--uri",
            "wss://h.example.com/t",
            "-A",
        ],
        {
            "name": "q1",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/t", "args": {}}},
                    "on_timer": {
                        "start_time": "2030-01-01T09:00:00",
                        "timezone": "Europe/London",
                        "frequency": "daily",
                        "interval": 1,
                        "until": "2030-03-31T17:00:00",
                        "byweekday": [1, 2, 3, 4, 5, 6, 7],
                    },
                }
            },
            "install_rule": "urn:relay-resource:all:device",
        },
        id="timer-repeat-until",
    ),
    pytest.param(
        [
            "timer",
            "--trigger",
            "repeat",
            "--start",
            "2030-01-01T09:00:00",
            "-z",
            "America/Chicago",
            "-c",
            "4",
            "-d",
            "MO",
            "-d",
            "we",
            "-d",
            "FR,mo",
            "--name",
            "mwf",
            "--uri",
            "wss://h.example.com/t",
            "-i",
            "d1",
        ],
        {
            "name": "mwf",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/t", "args": {}}},
                    "on_timer": {
                        "start_time": "2030-01-01T09:00:00",
                        "timezone": "America/Chicago",
                        "frequency": "daily",
                        "interval": 1,
                        "count": 4,
                        "byweekday": [1, 3, 5],
                    },
                }
            },
            "install": ["d1"],
        },
        id="timer-repeat-days",
    ),
    pytest.param(
        [
            "timer",
            "--trigger",
            "repeat",
            "--start",
            "2030-01-01T09:00:00",
            "-z",
            "America/Chicago",
            "-l",
            "2030-01-31T09:00:00",
            "-d",
            "SU",
            "-d",
            "SA",
            "--name",
            "weekend",
            "--uri",
            "wss://h.example.com/t",
            "-A",
        ],
        {
            "name": "weekend",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/t", "args": {}}},
                    "on_timer": {
                        "start_time": "2030-01-01T09:00:00",
                        "timezone": "America/Chicago",
                        "frequency": "daily",
                        "interval": 1,
                        "until": "2030-01-31T09:00:00",
                        "byweekday": [7, 6],
                    },
                }
            },
            "install_rule": "urn:relay-resource:all:device",
        },
        id="timer-repeat-until-days",
    ),
    pytest.param(
        [
            "timer",
            "--trigger",
            "repeat",
            "--start",
            "2030-01-01T09:00:00",
            "-z",
            "UTC",
            "-c",
            "3",
            "-f",
            "weekly",
            "--interval",
            "2",
            "--name",
            "fortnightly",
            "--uri",
            "wss://h.example.com/t",
            "-i",
            "d1",
        ],
        {
            "name": "fortnightly",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://h.example.com/t", "args": {}}},
                    "on_timer": {
                        "start_time": "2030-01-01T09:00:00",
                        "timezone": "UTC",
                        "frequency": "weekly",
                        "interval": 2,
                        "count": 3,
                        "byweekday": [1, 2, 3, 4, 5, 6, 7],
                    },
                }
            },
            "install": ["d1"],
        },
        id="timer-repeat-hidden-frequency-interval",
    ),
]


@pytest.mark.parametrize(("argv", "body"), CASES)
def test_create_sends_exact_request(run: Any, api: Any, argv: list[str], body: dict[str, Any]) -> None:
    assert create(run, api, *argv) == body


def test_every_create_command_is_covered() -> None:
    """The ten trigger commands of the Relay API all appear above."""
    kinds = {p.values[0][0] for p in CASES}
    assert kinds == {"call", "button", "phrase", "event", "battery", "http", "nfc", "geofence", "position", "timer"}


# --- the calling guide's registrations, dry run ---------------------------------------------------

GUIDE = [
    pytest.param(
        [
            "call",
            "--trigger",
            "inbound",
            "--name",
            "my_auto_answer",
            "--uri",
            "wss://myhost.mydomain.com/autoanswerpath",
            "--install",
            "990007560045678",
        ],
        {
            "name": "my_auto_answer",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://myhost.mydomain.com/autoanswerpath", "args": {}}},
                    "on_incoming_call": ".*",
                }
            },
            "install": ["990007560045678"],
        },
        id="auto-answer",
    ),
    pytest.param(
        [
            "call",
            "--trigger",
            "outbound",
            "--uri",
            "wss://myhost.mydomain.com/outboundpath",
            "--name",
            "outbound",
            "--install",
            "990007560023456",
        ],
        {
            "name": "outbound",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://myhost.mydomain.com/outboundpath", "args": {}}},
                    "on_call_request": ".*",
                }
            },
            "install": ["990007560023456"],
        },
        id="outbound",
    ),
    pytest.param(
        [
            "button",
            "--trigger",
            "double",
            "--uri",
            "wss://myhost.mydomain.com/placecallpath",
            "--name",
            "place-call",
            "--install-all",
        ],
        {
            "name": "place-call",
            "options": {"transient": True, "hidden": False},
            "config": {
                "trigger": {
                    "start": {"workflow": {"uri": "wss://myhost.mydomain.com/placecallpath", "args": {}}},
                    "on_button": "action_button_double_tap",
                }
            },
            "install_rule": "urn:relay-resource:all:device",
        },
        id="place-call",
    ),
]


@pytest.mark.parametrize(("argv", "body"), GUIDE)
def test_guide_dry_run_json_prints_body_and_sends_nothing(run: Any, argv: list[str], body: dict[str, Any]) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route().mock(return_value=httpx.Response(500))
        result = run("workflow", "create", *argv, "-s", SUB, "--dry-run", "--json")
        calls = len(mock.calls)
    assert result.code == 0, result.err
    assert json.loads(result.out) == body
    assert route.called is False
    assert calls == 0


@pytest.mark.parametrize(("argv", "body"), GUIDE)
def test_guide_dry_run_human_names_the_request(run: Any, argv: list[str], body: dict[str, Any]) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route().mock(return_value=httpx.Response(500))
        result = run("workflow", "create", *argv, "-s", SUB, "--dry-run")
    assert result.code == 0, result.err
    assert route.called is False
    assert json.loads(result.out) == body
    assert f"POST {API}/ibot/workflow?subscriber_id={SUB}" in result.err


@pytest.mark.parametrize(("argv", "body"), GUIDE)
def test_guide_registration_sent_for_real(run: Any, api: Any, argv: list[str], body: dict[str, Any]) -> None:
    assert create(run, api, *argv) == body


# --- common flags --------------------------------------------------------------------------------

BASE = ["call", "--trigger", "inbound", "--name", "x", "--uri", URI]
INBOUND = {"on_incoming_call": ".*"}


def test_install_repeated_keeps_order_and_drops_duplicates(run: Any, api: Any) -> None:
    body = create(run, api, *BASE, "-i", "d3", "-i", "d1", "--install", "d3", "-i", "d2", "-i", "d1")
    assert body == expected(INBOUND, install=["d3", "d1", "d2"])


def test_install_all_sets_rule_and_no_install_key(run: Any, api: Any) -> None:
    body = create(run, api, *BASE, "-A")
    assert body == {
        "name": "x",
        "options": {"transient": True, "hidden": False},
        "config": {"trigger": {"start": {"workflow": {"uri": URI, "args": {}}}, "on_incoming_call": ".*"}},
        "install_rule": "urn:relay-resource:all:device",
    }
    assert "install" not in body


def test_install_group_full_urn_passes_through(run: Any, api: Any) -> None:
    body = create(run, api, *BASE, "-G", "urn:relay-resource:id:tag:abc-123")
    assert body == {
        "name": "x",
        "options": {"transient": True, "hidden": False},
        "config": {"trigger": {"start": {"workflow": {"uri": URI, "args": {}}}, "on_incoming_call": ".*"}},
        "install_rule": "urn:relay-resource:id:tag:abc-123",
    }


def test_install_group_bare_id_gets_prefixed(run: Any, api: Any) -> None:
    body = create(run, api, *BASE, "--install-group", "abc-123")
    assert body == {
        "name": "x",
        "options": {"transient": True, "hidden": False},
        "config": {"trigger": {"start": {"workflow": {"uri": URI, "args": {}}}, "on_incoming_call": ".*"}},
        "install_rule": "urn:relay-resource:id:tag:abc-123",
    }


def test_no_install_flag_sends_empty_install_list(run: Any, api: Any) -> None:
    body = create(run, api, *BASE)
    assert body == {
        "name": "x",
        "options": {"transient": True, "hidden": False},
        "config": {"trigger": {"start": {"workflow": {"uri": URI, "args": {}}}, "on_incoming_call": ".*"}},
        "install": [],
    }
    assert "install_rule" not in body


def test_no_transient(run: Any, api: Any) -> None:
    body = create(run, api, *BASE, "--no-transient")
    assert body["options"] == {"transient": False, "hidden": False}
    assert body == expected(INBOUND, transient=False)


def test_hidden_short_flag(run: Any, api: Any) -> None:
    body = create(run, api, *BASE, "-e")
    assert body["options"] == {"transient": True, "hidden": True}


def test_hidden_and_no_transient_long(run: Any, api: Any) -> None:
    body = create(run, api, *BASE, "--hidden", "--no-transient")
    assert body["options"] == {"transient": False, "hidden": True}


def test_args_of_every_type(run: Any, api: Any) -> None:
    body = create(
        run,
        api,
        *BASE,
        "-a",
        "greeting=hello there",
        "-a",
        "url=a=b",
        "-a",
        "empty=",
        "-b",
        "loud=true",
        "-b",
        "quiet=false",
        "-r",
        "count=3",
        "-r",
        "volume=2.5",
        "-r",
        "neg=-7",
    )
    args = body["config"]["trigger"]["start"]["workflow"]["args"]
    assert args == {
        "greeting": "hello there",
        "url": "a=b",
        "empty": "",
        "loud": True,
        "quiet": False,
        "count": 3,
        "volume": 2.5,
        "neg": -7,
    }
    assert type(args["count"]) is int
    assert type(args["neg"]) is int
    assert type(args["volume"]) is float
    assert type(args["loud"]) is bool
    # the raw text: integers are sent without a decimal point
    content = api.calls.last.request.content.decode()
    assert '"count":3' in content.replace(" ", "")
    assert '"volume":2.5' in content.replace(" ", "")


def test_args_long_flags(run: Any, api: Any) -> None:
    body = create(run, api, *BASE, "--arg", "s=v", "--boolean", "b=false", "--number", "n=0.125")
    assert body["config"]["trigger"]["start"]["workflow"]["args"] == {"s": "v", "b": False, "n": 0.125}


@pytest.mark.parametrize(
    ("flags", "args"),
    [
        (["-a", "k=one", "-a", "k=two"], {"k": "two"}),
        (["-b", "k=true", "-b", "k=false"], {"k": False}),
        (["-r", "k=1", "-r", "k=2.5"], {"k": 2.5}),
        (["-a", "k=one", "-a", "other=z", "-a", "k=three"], {"k": "three", "other": "z"}),
    ],
    ids=["string", "boolean", "number", "string-interleaved"],
)
def test_repeated_arg_name_last_wins(run: Any, api: Any, flags: list[str], args: dict[str, Any]) -> None:
    body = create(run, api, *BASE, *flags)
    assert body == expected(INBOUND, args=args)


@pytest.mark.parametrize(
    ("phrases", "sent"),
    [
        (["Hello,   World!"], ["hello, world!"]),
        (["  Call\tMy  Manager  "], ["call my manager"]),
        (["What's UP?", "GOOD morning"], ["what's up?", "good morning"]),
    ],
    ids=["punctuation-kept", "tabs-and-edges", "two-phrases"],
)
def test_phrase_normalised(run: Any, api: Any, phrases: list[str], sent: list[str]) -> None:
    argv = ["phrase"]
    for p in phrases:
        argv += ["--trigger", p]
    body = create(run, api, *argv, "--name", "x", "--uri", URI)
    assert body == expected({"on_phrases": sent})


@pytest.mark.parametrize(
    ("flags", "trigger"),
    [
        (["--threshold", "1"], {"on_battery_discharge": 1}),
        (["--threshold", "100"], {"on_battery_discharge": 100}),
        (["--trigger", "charge", "--threshold", "42"], {"on_battery_charge": 42}),
    ],
    ids=["min", "max", "charge-42"],
)
def test_battery_threshold(run: Any, api: Any, flags: list[str], trigger: dict[str, Any]) -> None:
    body = create(run, api, "battery", *flags, "--name", "x", "--uri", URI)
    assert body == expected(trigger)


def test_timer_zone_passes_through(run: Any, api: Any) -> None:
    body = create(
        run,
        api,
        "timer",
        "--trigger",
        "schedule",
        "--start",
        "2030-01-01T09:00:00",
        "-z",
        "America/Chicago",
        "--name",
        "x",
        "--uri",
        URI,
    )
    assert body["config"]["trigger"]["on_timer"] == {
        "start_time": "2030-01-01T09:00:00",
        "timezone": "America/Chicago",
        "count": 1,
    }


def test_timer_local_zone_resolves_to_iana_name(run: Any, api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Paris")
    body = create(
        run,
        api,
        "timer",
        "--trigger",
        "schedule",
        "--start",
        "2030-01-01T09:00:00",
        "-z",
        "local",
        "--name",
        "x",
        "--uri",
        URI,
    )
    assert body == expected({"on_timer": {"start_time": "2030-01-01T09:00:00", "timezone": "Europe/Paris", "count": 1}})


def test_timer_no_zone_defaults_to_local(run: Any, api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Paris")
    body = create(
        run,
        api,
        "timer",
        "--trigger",
        "repeat",
        "--start",
        "2030-01-01T09:00:00",
        "-c",
        "2",
        "--name",
        "x",
        "--uri",
        URI,
    )
    assert body["config"]["trigger"]["on_timer"]["timezone"] == "Europe/Paris"


def test_timer_local_zone_with_colon_tz(run: Any, api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", ":America/Chicago")
    body = create(
        run,
        api,
        "timer",
        "--trigger",
        "schedule",
        "--start",
        "2030-01-01T09:00:00",
        "-z",
        "local",
        "--name",
        "x",
        "--uri",
        URI,
    )
    assert body["config"]["trigger"]["on_timer"]["timezone"] == "America/Chicago"


@pytest.mark.parametrize("tz", ["Japan", "Asia/Tokyo"])
def test_timer_local_zone_honours_tz_names_without_slash(
    run: Any, api: Any, monkeypatch: pytest.MonkeyPatch, tz: str
) -> None:
    """TZ may hold any IANA name, including the single-word ones (Japan, Cuba, Egypt...)."""
    monkeypatch.setenv("TZ", tz)
    body = create(
        run,
        api,
        "timer",
        "--trigger",
        "schedule",
        "--start",
        "2030-01-01T09:00:00",
        "-z",
        "local",
        "--name",
        "x",
        "--uri",
        URI,
    )
    assert body["config"]["trigger"]["on_timer"] == {"start_time": "2030-01-01T09:00:00", "timezone": tz, "count": 1}


# --- output --------------------------------------------------------------------------------------


def test_json_prints_saved_workflow_with_parsed_config(run: Any) -> None:
    stored_config = {"trigger": {"start": {"workflow": {"uri": URI, "args": {"k": "v"}}}, "on_incoming_call": ".*"}}
    answer = [
        {
            "workflow_id": "wf-42",
            "name": "x",
            "options": {"transient": True, "hidden": False},
            "config": json.dumps(stored_config),
            "install": ["d1"],
        }
    ]
    with respx.mock(base_url=API) as mock:
        route = mock.post("/ibot/workflow").mock(return_value=httpx.Response(200, json=answer))
        result = run("workflow", "create", *BASE, "-i", "d1", "-a", "k=v", "-s", SUB, "--json")
    assert result.code == 0, result.err
    assert route.call_count == 1
    assert json.loads(result.out) == {
        "workflow_id": "wf-42",
        "name": "x",
        "options": {"transient": True, "hidden": False},
        "config": {"trigger": {"start": {"workflow": {"uri": URI, "args": {"k": "v"}}}, "on_incoming_call": ".*"}},
        "install": ["d1"],
    }
    assert "\x1b[" not in result.out


def test_without_subscriber_flag_uses_first_authz_context(run: Any) -> None:
    with respx.mock(base_url=API) as mock:
        authz = mock.get("/ibot/authz_context").mock(
            return_value=httpx.Response(200, json=[{"subscriber_id": "SUB-A"}, {"subscriber_id": "SUB-B"}])
        )
        post = mock.post("/ibot/workflow").mock(
            side_effect=lambda req: httpx.Response(200, json=saved_answer(body_of(req)))
        )
        result = run("workflow", "create", *BASE, "-A")
        methods = [c.request.method for c in mock.calls]  # respx forgets its calls when the block ends
    assert result.code == 0, result.err
    assert authz.call_count == 1
    assert post.call_count == 1
    assert methods == ["GET", "POST"]
    get_request = authz.calls.last.request
    assert get_request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert get_request.headers["Accept"] == "application/json"
    assert get_request.headers["User-Agent"] == f"relay-cli/{__version__}"
    assert get_request.url.params.multi_items() == []
    assert_create_request(post.calls.last.request, subscriber="SUB-A")
    assert body_of(post.calls.last.request) == {
        "name": "x",
        "options": {"transient": True, "hidden": False},
        "config": {"trigger": {"start": {"workflow": {"uri": URI, "args": {}}}, "on_incoming_call": ".*"}},
        "install_rule": "urn:relay-resource:all:device",
    }


def test_subscriber_from_environment_skips_authz_context(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_SUBSCRIBER_ID", "SUB-ENV")
    with respx.mock(base_url=API) as mock:
        post = mock.post("/ibot/workflow").mock(
            side_effect=lambda req: httpx.Response(200, json=saved_answer(body_of(req)))
        )
        result = run("workflow", "create", *BASE)
        calls = len(mock.calls)
    assert result.code == 0, result.err
    assert calls == 1
    assert_create_request(post.calls.last.request, subscriber="SUB-ENV")


def test_human_output(run: Any, api: Any) -> None:
    result = run(
        "workflow",
        "create",
        "call",
        "--trigger",
        "inbound",
        "--name",
        "my_auto_answer",
        "--uri",
        URI,
        "-i",
        "990007560045678",
        "-s",
        SUB,
    )
    assert result.code == 0, result.err
    assert len(api.calls) == 1
    assert SAVED_ID in result.out
    assert "my_auto_answer" in result.out
    assert "Created workflow" in result.err
    assert "my_auto_answer" in result.err
    assert "\x1b[" not in result.out
    assert "\x1b[" not in result.err
