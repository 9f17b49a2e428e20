"""Malformed input to ``relay workflow create``: exit 2, one line on stderr naming the flag, nothing sent.

Every command line below is valid but for the one bad value, which relay refuses before anything is sent.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from conftest import SUB

VALID = ["--name", "x", "--uri", "wss://h/p", "-s", SUB]
SCHEDULE = ["timer", "--trigger", "schedule", "--start", "2030-01-01T09:00:00", "-z", "UTC"]
REPEAT = ["timer", "--trigger", "repeat", "--start", "2030-01-01T09:00:00", "-z", "UTC"]


def guarded(run: Any, *argv: str) -> tuple[Any, bool]:
    """Run ``relay workflow create ARGV`` with every request caught; return the result and whether one was sent."""
    # A router of its own (``respx.mock(...)`` returns a new one), so the catch-all is registered on it.
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route().mock(return_value=httpx.Response(200, json=[{"workflow_id": "wf-1", "name": "x"}]))
        result = run("workflow", "create", *argv)
        sent = route.called or len(mock.calls) > 0
    return result, sent


def assert_refused(result: Any, sent: bool, flag: str) -> None:
    assert result.code == 2, (result.code, result.out, result.err)
    assert result.out == ""
    assert sent is False
    line = result.err.strip()
    assert line, "nothing on stderr"
    assert "\n" not in line, result.err
    assert "Traceback" not in result.err
    assert line.startswith("error: "), line
    assert flag in line, line
    assert "\x1b[" not in result.err


CASES = [
    # workflow args
    pytest.param(["call", *VALID, "-a", "novalue"], "--arg", id="arg-no-equals"),
    pytest.param(["call", *VALID, "-a", "=x"], "--arg", id="arg-no-name"),
    pytest.param(["call", *VALID, "-a", " =x"], "--arg", id="arg-blank-name"),
    pytest.param(["call", *VALID, "--arg", "novalue"], "--arg", id="arg-long-no-equals"),
    pytest.param(["call", *VALID, "-r", "x="], "--number", id="number-empty"),
    pytest.param(["call", *VALID, "-r", "x=Infinity"], "--number", id="number-infinity"),
    pytest.param(["call", *VALID, "-r", "x=-Infinity"], "--number", id="number-minus-infinity"),
    pytest.param(["call", *VALID, "-r", "x=inf"], "--number", id="number-inf"),
    pytest.param(["call", *VALID, "-r", "x=NaN"], "--number", id="number-nan"),
    pytest.param(["call", *VALID, "-r", "x=0x10"], "--number", id="number-hex"),
    pytest.param(["call", *VALID, "-r", "x=1e999"], "--number", id="number-overflow"),
    pytest.param(["call", *VALID, "-r", "x=1_000"], "--number", id="number-underscore"),
    pytest.param(["call", *VALID, "-r", "x=abc"], "--number", id="number-text"),
    pytest.param(["call", *VALID, "-r", "novalue"], "--number", id="number-no-equals"),
    pytest.param(["call", *VALID, "-b", "x=True"], "--boolean", id="boolean-capitalised"),
    pytest.param(["call", *VALID, "-b", "x=1"], "--boolean", id="boolean-one"),
    pytest.param(["call", *VALID, "-b", "x=yes"], "--boolean", id="boolean-yes"),
    pytest.param(["call", *VALID, "-b", "x="], "--boolean", id="boolean-empty"),
    pytest.param(["call", *VALID, "-a", "x=1", "-r", "x=2"], "--number", id="same-name-two-types"),
    pytest.param(["call", *VALID, "-b", "x=true", "-a", "x=2"], "x", id="same-name-string-boolean"),
    # timers
    pytest.param(
        ["timer", "--trigger", "schedule", "--start", "notadate", "-z", "UTC", *VALID], "--start", id="start-not-a-date"
    ),
    pytest.param(
        ["timer", "--trigger", "schedule", "--start", "2030-01-01T09:00:00Z", "-z", "UTC", *VALID],
        "--start",
        id="start-zone-suffix-z",
    ),
    pytest.param(
        ["timer", "--trigger", "schedule", "--start", "2030-01-01T09:00:00+02:00", "-z", "UTC", *VALID],
        "--start",
        id="start-zone-offset",
    ),
    pytest.param(
        ["timer", "--trigger", "schedule", "--start", "2030-02-30T09:00:00", "-z", "UTC", *VALID],
        "--start",
        id="start-feb-30",
    ),
    pytest.param(
        ["timer", "--trigger", "schedule", "--start", "2030-01-01T25:00:00", "-z", "UTC", *VALID],
        "--start",
        id="start-hour-25",
    ),
    pytest.param(["timer", "--trigger", "schedule", "--start", "", "-z", "UTC", *VALID], "--start", id="start-empty"),
    pytest.param(
        ["timer", "--trigger", "schedule", "--start", "2030-01-01T09:00:00", "-z", "Mars/Olympus", *VALID],
        "--timezone",
        id="zone-unknown",
    ),
    pytest.param(
        ["timer", "--trigger", "schedule", "--start", "2030-01-01T09:00:00", "-z", "", *VALID],
        "--timezone",
        id="zone-empty",
    ),
    pytest.param(
        ["timer", "--trigger", "schedule", "--start", "2030-01-01T09:00:00", "-z", "../etc/passwd", *VALID],
        "--timezone",
        id="zone-path",
    ),
    pytest.param(
        ["timer", "--trigger", "immediately", "-z", "Mars/Olympus", *VALID], "--timezone", id="immediately-zone-unknown"
    ),
    pytest.param([*SCHEDULE, "-c", "3", *VALID], "--count", id="schedule-count"),
    pytest.param([*SCHEDULE, "--until", "2030-02-01T09:00:00", *VALID], "--until", id="schedule-until"),
    pytest.param([*SCHEDULE, "-d", "MO", *VALID], "--day", id="schedule-day"),
    pytest.param([*REPEAT, *VALID], "--count", id="repeat-neither-count-nor-until"),
    pytest.param(
        [*REPEAT, "-c", "3", "--until", "2030-02-01T09:00:00", *VALID], "--count", id="repeat-count-and-until"
    ),
    pytest.param([*REPEAT, "--until", "2029-12-31T09:00:00", *VALID], "--until", id="repeat-until-before-start"),
    pytest.param([*REPEAT, "--until", "2030-01-01T09:00:00", *VALID], "--until", id="repeat-until-equals-start"),
    pytest.param([*REPEAT, "--until", "2030-02-01T09:00:00Z", *VALID], "--until", id="repeat-until-zone-suffix"),
    pytest.param([*REPEAT, "-c", "0", *VALID], "--count", id="repeat-count-zero"),
    pytest.param([*REPEAT, "-c", "-2", *VALID], "--count", id="repeat-count-negative"),
    pytest.param([*REPEAT, "-c", "many", *VALID], "--count", id="repeat-count-text"),
    pytest.param([*REPEAT, "-c", "3", "-d", "XX", *VALID], "--day", id="day-unknown"),
    pytest.param([*REPEAT, "-c", "3", "-d", "MO,XX", *VALID], "--day", id="day-unknown-in-list"),
    pytest.param([*REPEAT, "-c", "3", "-d", "", *VALID], "--day", id="day-empty"),
    pytest.param(["timer", "--trigger", "immediately", "--count", "2", *VALID], "--count", id="immediately-count"),
    pytest.param(
        ["timer", "--trigger", "immediately", "--start", "2030-01-01T09:00:00", *VALID],
        "--start",
        id="immediately-start",
    ),
    pytest.param(["timer", "--trigger", "sometimes", *VALID], "--trigger", id="timer-unknown-kind"),
    # battery
    pytest.param(["battery", "--threshold", "0", *VALID], "--threshold", id="threshold-0"),
    pytest.param(["battery", "--threshold", "101", *VALID], "--threshold", id="threshold-101"),
    pytest.param(["battery", "--threshold", "abc", *VALID], "--threshold", id="threshold-abc"),
    pytest.param(["battery", "--threshold", "-5", *VALID], "--threshold", id="threshold-negative"),
    pytest.param(["battery", "--threshold", "50.5", *VALID], "--threshold", id="threshold-fraction"),
    pytest.param(["battery", "--trigger", "drain", *VALID], "--trigger", id="battery-unknown-kind"),
    # the command line itself
    pytest.param(["call", *VALID, "--bogus"], "--bogus", id="unknown-flag"),
    pytest.param(["call", *VALID, "extra"], "extra", id="stray-argument"),
    # uri
    pytest.param(["call", "--name", "x", "--uri", "http://example.com", "-s", SUB], "--uri", id="uri-http"),
    pytest.param(["call", "--name", "x", "--uri", "https://example.com/x", "-s", SUB], "--uri", id="uri-https"),
    pytest.param(["call", "--name", "x", "--uri", "ws://example.com/x", "-s", SUB], "--uri", id="uri-ws-remote"),
    pytest.param(
        ["call", "--name", "x", "--uri", "ws://127.example.com/x", "-s", SUB], "--uri", id="uri-ws-name-starting-127"
    ),
    pytest.param(
        ["call", "--name", "x", "--uri", "ws://127.0.0.1.nip.io/x", "-s", SUB],
        "--uri",
        id="uri-ws-dns-looking-like-127",
    ),
    pytest.param(
        ["call", "--name", "x", "--uri", "ws://localhost.example.com/x", "-s", SUB],
        "--uri",
        id="uri-ws-localhost-prefix",
    ),
    pytest.param(
        ["call", "--name", "x", "--uri", "ws://127.0.0.1@example.com/x", "-s", SUB], "--uri", id="uri-ws-userinfo-trick"
    ),
    pytest.param(["call", "--name", "x", "--uri", "", "-s", SUB], "--uri", id="uri-empty"),
    pytest.param(["call", "--name", "x", "--uri", "   ", "-s", SUB], "--uri", id="uri-blank"),
    pytest.param(["call", "--name", "x", "--uri", "wss://", "-s", SUB], "--uri", id="uri-no-host"),
    pytest.param(["call", "--name", "x", "--uri", "myhost.example.com/path", "-s", SUB], "--uri", id="uri-no-scheme"),
    pytest.param(["call", "--name", "x", "--uri", " wss://h/p", "-s", SUB], "--uri", id="uri-leading-space"),
    # name, install
    pytest.param(["call", "--name", "  ", "--uri", "wss://h/p", "-s", SUB], "--name", id="name-blank"),
    pytest.param(["call", "--name", "", "--uri", "wss://h/p", "-s", SUB], "--name", id="name-empty"),
    pytest.param(["call", *VALID, "-i", ""], "--install", id="install-empty"),
    pytest.param(["call", *VALID, "-i", "d1", "-i", "  "], "--install", id="install-second-blank"),
    pytest.param(["call", *VALID, "-i", "a", "-A"], "--install", id="install-and-all"),
    pytest.param(["call", *VALID, "-A", "-G", "g"], "--install-group", id="all-and-group"),
    pytest.param(["call", *VALID, "-i", "a", "-G", "g"], "--install-group", id="install-and-group"),
    pytest.param(["call", *VALID, "-G", ""], "--install-group", id="group-empty"),
    pytest.param(["call", "--name", "x", "--uri", "wss://h/p", "-s", ""], "--subscriber-id", id="subscriber-empty"),
    # trigger values
    pytest.param(["phrase", "--trigger", "   ", *VALID], "--trigger", id="phrase-blank"),
    pytest.param(["phrase", "--trigger", "hello", "--trigger", "", *VALID], "--trigger", id="phrase-second-empty"),
    pytest.param(["phrase", *VALID], "--trigger", id="phrase-missing"),
    pytest.param(["call", "--trigger", "sideways", *VALID], "--trigger", id="call-sideways"),
    pytest.param(["call", "--trigger", "Inbound", *VALID], "--trigger", id="call-capitalised"),
    pytest.param(["button", "--trigger", "triple", *VALID], "--trigger", id="button-triple"),
    pytest.param(["event", "--trigger", "fall", *VALID], "--trigger", id="event-unknown"),
    pytest.param(["http", "--trigger", "GET", *VALID], "--trigger", id="http-get"),
    pytest.param(["geofence", "--trigger", "inside", "--id", "G", *VALID], "--trigger", id="geofence-bad-transition"),
    pytest.param(
        ["position", "--trigger", "inside", "-v", "V", "-p", "P", *VALID], "--trigger", id="position-bad-transition"
    ),
    # missing required options
    pytest.param(["call", "--name", "x", "-s", SUB], "--uri", id="missing-uri"),
    pytest.param(["call", "--uri", "wss://h/p", "-s", SUB], "--name", id="missing-name"),
    pytest.param(["geofence", "--id", "", *VALID], "--id", id="geofence-id-empty"),
    pytest.param(["geofence", *VALID], "--id", id="geofence-id-missing"),
    pytest.param(["position", "-v", "V", *VALID], "--position", id="position-missing-p"),
    pytest.param(["position", "-p", "P", *VALID], "--venue", id="position-missing-v"),
    pytest.param(["position", "-v", "", "-p", "P", *VALID], "--venue", id="position-venue-empty"),
    pytest.param(["position", "-v", "V", "-p", " ", *VALID], "--position", id="position-position-blank"),
    pytest.param(["nfc", "-c", "", *VALID], "--category", id="nfc-category-empty"),
    pytest.param(["nfc", "-l", "  ", *VALID], "--label", id="nfc-label-blank"),
]


@pytest.mark.parametrize(("argv", "flag"), CASES)
def test_refused(run: Any, argv: list[str], flag: str) -> None:
    result, sent = guarded(run, *argv)
    assert_refused(result, sent, flag)


@pytest.mark.parametrize(("argv", "flag"), CASES)
def test_refused_in_dry_run_too(run: Any, argv: list[str], flag: str) -> None:
    """--dry-run validates exactly as much as the real thing: it prints no body for a bad command."""
    result, sent = guarded(run, *argv, "--dry-run", "--json")
    assert_refused(result, sent, flag)


def test_same_name_two_types_names_both_flags(run: Any) -> None:
    result, sent = guarded(run, "call", *VALID, "-a", "x=1", "-r", "x=2")
    assert_refused(result, sent, "--number")
    assert "--arg" in result.err
    assert "'x'" in result.err


def test_unknown_flag_refused_without_subscriber_lookup(run: Any) -> None:
    """No -s: still no request at all (not even GET /ibot/authz_context) for a bad command line."""
    result, sent = guarded(run, "call", "--name", "x", "--uri", "wss://h/p", "-a", "novalue")
    assert_refused(result, sent, "--arg")


def test_harness_catches_a_valid_request(run: Any) -> None:
    """Control: the same harness does see the POST of a valid command, so `sent is False` above means something."""
    result, sent = guarded(run, "call", *VALID)
    assert result.code == 0, result.err
    assert sent is True


@pytest.mark.parametrize(
    "uri",
    [
        "ws://127.0.0.1:8080/x",
        "ws://localhost/x",
        "relay-local://capsule",
        "ws://[::1]:9000/x",
        "ws://127.1.2.3/x",
        "wss://myhost.mydomain.com/autoanswerpath",
    ],
)
def test_accepted_uris(run: Any, uri: str) -> None:
    result, sent = guarded(
        run, "call", "--trigger", "inbound", "--name", "x", "--uri", uri, "-s", SUB, "--dry-run", "--json"
    )
    assert result.code == 0, result.err
    assert sent is False
    assert json.loads(result.out) == {
        "name": "x",
        "options": {"transient": True, "hidden": False},
        "config": {"trigger": {"start": {"workflow": {"uri": uri, "args": {}}}, "on_incoming_call": ".*"}},
        "install": [],
    }
