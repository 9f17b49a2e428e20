"""``relay workflow simulate`` against workflow apps written with Relay's published SDK, ``@relaypro/sdk``.

The SDK is pinned in tests/conformance/package.json and package-lock.json and installed by ``npm ci`` (.ci/run
does it; so does tests/sdks.py, shared with the other tests that run SDK apps, from npm's cache only, when
node_modules is missing). One node process
serves every app of tests/conformance/apps.js for the whole module; each test runs one app through the CLI
(in-process) and checks both sides: the transcript (``--json``), and what the SDK gave the app, which the app
reports as JSON lines. Without node or the SDK these tests are skipped with the reason; with
RELAY_REQUIRE_NODE=1 (set in .ci/run) they fail instead.

docs/simulator.md has the coverage table: every public method and event of the SDK, and whether the simulator
serves it. ``test_the_coverage_table_matches_the_sdk_and_the_apps`` keeps it honest: every method and event the
installed SDK has is in the table, and every row marked served is used by an app here (and each app's test
checks that every SDK method the app names was called).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import free_port
from sdks import HERE, SDK_DIR, ensure_sdk

DOC = Path(__file__).resolve().parent.parent / "docs" / "simulator.md"
APPS = (HERE / "apps.js").read_text(encoding="utf-8")

#: quick but realistic: the server's order (response, then events), short speaking times
QUICK = ("--timeout", "5", "--hold", "0.3", "--set", "speaking_rate=1500", "--set", "play_time=0.1")

ALICE = "urn:relay-resource:name:device:Alice"
BOB = "urn:relay-resource:name:device:Bob"
IDS = {"Alice": "990007560045678", "Bob": "990007560023456", "Carol": "990007560011111", "Dave": "990007560022222"}


class Apps:
    """The process serving the apps on a free port (node with apps.js, or a Python with relay-py and
    relay_py_apps.py), and the JSON lines the apps report."""

    def __init__(self, program: str, script: str = "apps.js") -> None:
        self.port = free_port()
        env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/"), "PORT": str(self.port)}
        self.proc = subprocess.Popen(
            [program, script], cwd=HERE, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_errors, daemon=True).start()
        deadline = time.monotonic() + 30
        while True:  # listening once a TCP connection is accepted
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"the SDK apps did not start: {' '.join(self.errors)[-2000:]}")
                time.sleep(0.05)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.changed:
                self.lines.append(json.loads(line))
                self.changed.notify_all()

    def _read_errors(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.errors.append(line.rstrip())

    def uri(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}/{path}"

    def since(self, mark: int, wf: str, *, until_end: bool = True, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The lines workflow ``wf`` reported after ``mark``, once it reported "end" (or after a short settle)."""
        deadline = time.monotonic() + (timeout if until_end else 0.3)
        with self.changed:
            while True:
                mine = [line for line in self.lines[mark:] if line.get("wf") == wf]
                if until_end and any(line["what"] == "end" for line in mine):
                    return mine
                left = deadline - time.monotonic()
                if left <= 0:
                    return mine
                self.changed.wait(left)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="module")
def apps() -> Iterator[Apps]:
    served = Apps(ensure_sdk())
    yield served
    served.stop()


class Ran:
    """One simulate run: the CLI's result, its transcript, and what the app reported."""

    def __init__(self, result: Any, reported: list[dict[str, Any]]) -> None:
        self.code, self.err = result.code, result.err
        self.transcript = [json.loads(line) for line in result.out.splitlines() if line.strip()]
        self.messages = [r["message"] for r in self.transcript if "message" in r]
        self.reported = reported

    def saw(self, what: str) -> list[Any]:
        """The values the app reported under ``what``, in order."""
        return [line.get("value") for line in self.reported if line["what"] == what]

    def one(self, what: str) -> Any:
        values = self.saw(what)
        assert len(values) == 1, (what, values)
        return values[0]

    def sent(self, _type: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("_type") == _type]

    def events(self) -> list[str]:
        return [line["value"]["event"] for line in self.reported if line["what"] == "event"]

    def called(self) -> set[str]:
        return set(self.saw("called"))


def methods_named_by(wf: str) -> set[str]:
    """The SDK methods the app ``wf`` names in apps.js (``wf.method(``), from its define() to the next."""
    block = APPS.split(f"define('{wf}',", 1)[1].split("\ndefine(", 1)[0]
    return {m for m in re.findall(r"\bwf\.(\w+)\(", block) if not m.startswith("_")} - {"on"}


def simulate(run: Any, apps: Apps, wf: str, *args: str, until_end: bool = True) -> Ran:
    mark = len(apps.lines)
    result = run("workflow", "simulate", apps.uri(wf), *args, "--json")
    ran = Ran(result, apps.since(mark, wf, until_end=until_end))
    assert "Traceback" not in ran.err
    if until_end:
        assert ran.saw("error") == [], ran.saw("error")
        assert ran.code == 0, ran.err + "\n" + "\n".join(apps.errors[-20:])
        assert ran.saw("end"), f"{wf} did not finish: {ran.reported[-5:]}"
        missing = methods_named_by(wf) - ran.called()
        assert not missing, f"{wf} names SDK methods it never called: {sorted(missing)}"
        assert ran.messages[-1] == {"_type": "wf_api_stop_event", "reason": "normal"}
    return ran


def scenario(tmp_path: Path, text: str) -> str:
    path = tmp_path / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- calls ----------------------------------------------------------------------------------------------


def test_an_inbound_call_answered_and_ended_by_the_caller_in_real_time(run: Any, apps: Apps) -> None:
    """The default timing (the real server's order, a realistic speaking time): sayAndWait returns."""
    ran = simulate(run, apps, "inbound", "--scenario", "inbound-call", "--from", "Carol", "--hold", "0.5")
    received = ran.one("call_received")
    assert {k: received[k] for k in ("direction", "device_id", "device_name", "uri", "onnet")} == {
        "direction": "inbound", "device_id": IDS["Carol"], "device_name": "Carol",
        "uri": "urn:relay-resource:name:device:Carol", "onnet": True,
    }  # fmt: skip
    assert (
        isinstance(received["start_time_epoch"], int)
        and received["call_id"] == ran.sent("wf_api_answer_request")[0]["call_id"]
    )
    assert ran.one("answered") is None  # answerCall resolves to nothing
    [say] = ran.sent("wf_api_say_request")
    assert say["text"] == "Now in call" and ran.one("said") == say["_id"]  # sayAndWait returns the prompt id
    disconnected = ran.one("call_disconnected")
    assert disconnected["reason"] == "normal" and disconnected["end_time_epoch"] >= disconnected["connect_time_epoch"]
    assert ran.events() == [
        "start", "call_received", "interaction_started", "call_connected", "call_disconnected", "interaction_ended",
    ]  # fmt: skip
    stopped = next(r["t"] for r in ran.transcript if r["message"].get("type") == "stopped")
    answered = next(r["t"] for r in ran.transcript if r["message"]["_type"] == "wf_api_say_response")
    assert stopped - answered >= 0.5  # three words at 150 a minute


def test_an_outbound_call_the_app_hangs_up(run: Any, apps: Apps) -> None:
    ran = simulate(run, apps, "outbound", "--scenario", "outbound-call", "--to", "Dave", "--set", "hold=-1", *QUICK[:2])
    start_request = ran.one("call_start_request")  # the SDK's StartedCallEvent: uri and call_id
    assert start_request["uri"] == "urn:relay-resource:name:device:Dave" and len(start_request["call_id"]) == 32
    [call] = ran.sent("wf_api_call_request")
    assert call["uri"] == "urn:relay-resource:name:device:Dave" and call["_target"] == {"uris": [ALICE]}
    for what in ("call_ringing", "call_connected", "call_disconnected"):
        seen = ran.one(what)
        assert (seen["direction"], seen["device_id"], seen["device_name"]) == ("outbound", IDS["Dave"], "Dave")
    [hangup] = ran.sent("wf_api_hangup_request")
    assert hangup["call_id"] == ran.one("call_connected")["call_id"]  # hangupCall(target, event) sends its call_id
    assert ran.events() == [
        "start", "call_start_request", "interaction_started", "call_ringing", "call_connected", "call_disconnected",
        "interaction_ended",
    ]  # fmt: skip


def test_an_outbound_call_the_callee_rejects(run: Any, apps: Apps) -> None:
    ran = simulate(run, apps, "reject", "--scenario", "outbound-call", "--reject", *QUICK)
    failed = ran.one("call_failed")
    assert (failed["reason"], failed["connect_time_epoch"], failed["device_name"]) == ("rejected", 0, "Bob")
    assert ran.events() == ["start", "call_start_request", "call_failed"]


def test_an_incoming_call_the_app_declines(run: Any, apps: Apps, tmp_path: Path) -> None:
    steps = (
        '[[steps]]\nsend = "start"\ntrigger = "{call_trigger_type}"\n[[steps]]\nsend = "call_received"\nfrom = "Bob"\n'
        '[[steps]]\nexpect = "hangup"\n'
    )
    ran = simulate(run, apps, "decline", "--scenario-file", scenario(tmp_path, steps), *QUICK)
    assert "wf_api_answer_request" not in [m["_type"] for m in ran.messages]
    assert ran.one("call_disconnected")["device_id"] == IDS["Bob"]


# --- interactions, prompts, buttons -----------------------------------------------------------------------


def test_the_lifecycle_of_an_interaction(run: Any, apps: Apps) -> None:
    ran = simulate(run, apps, "interactions", "--scenario", "button", *QUICK)
    urn = "urn:relay-resource:name:interaction:lifecycle?device=urn%3Arelay-resource%3Aname%3Adevice%3AAlice"
    assert [(e["type"], e["source_uri"]) for e in ran.saw("lifecycle")] == [
        ("started", urn),
        ("resumed", urn),
        ("ended", urn),
    ]
    [start] = ran.sent("wf_api_start_interaction_request")
    assert start["options"] == {"color": "ff0000", "home_channel": "suspend"} and start["_target"] == {"uris": [ALICE]}
    assert ran.sent("wf_api_end_interaction_request")[0]["_target"] == {"uris": [urn]}


def test_say_play_listen_and_their_prompt_events(run: Any, apps: Apps) -> None:
    ran = simulate(run, apps, "prompts", "--scenario", "button", *QUICK, "--set", "speech=Yes!")
    ids = {m["text" if "text" in m else "filename"] + str(i): m["_id"] for i, m in enumerate(
        ran.sent("wf_api_say_request") + ran.sent("wf_api_play_request"))}  # fmt: skip
    assert ran.one("say") == ids["one0"] and ran.one("sayAndWait") == ids["two words1"]
    plays = [m["_id"] for m in ran.sent("wf_api_play_request")]
    assert [ran.one("play"), ran.one("playAndWait")] == plays
    # "Yes!" said to a listen for ["yes", "no"]: the device recognises the phrase, spelled as the app wrote it
    assert ran.one("listen") == {"text": "yes", "lang": "en-US"}
    [listen] = ran.sent("wf_api_listen_request")
    assert listen["phrases"] == ["yes", "no"] and ran.sent("wf_api_speech_event")[0]["request_id"] == listen["_id"]
    speech = ran.one("speech")  # the SPEECH handler sees the event that listen() consumed
    assert (speech["request_id"], speech["text"], speech["lang"]) == (listen["_id"], "yes", "en-US")
    prompts = [(p["id"], p["type"]) for p in ran.saw("prompt")]
    for prompt_id in [*ids.values()]:  # the PROMPT handler saw each prompt start and stop
        assert [t for i, t in prompts if i == prompt_id] == ["started", "stopped"]
    # say() does not wait; the sayAndWait after it is queued on the device: it starts when "one" stops
    events = [(r["t"], r["message"].get("id"), r["message"].get("type")) for r in ran.transcript
              if r["message"]["_type"] == "wf_api_prompt_event"]  # fmt: skip
    one_stopped = next(t for t, i, kind in events if i == ids["one0"] and kind == "stopped")
    two_started = next(t for t, i, kind in events if i == ids["two words1"] and kind == "started")
    assert two_started >= one_stopped, events


def test_button_taps(run: Any, apps: Apps, tmp_path: Path) -> None:
    steps = (
        '[[steps]]\nsend = "start"\ntrigger = "button"\nargs = { action = "action_button_double_tap" }\n'
        '[[steps]]\nexpect = "start_interaction"\n[[steps]]\nwait = 0.2\n'
        '[[steps]]\nsend = "button"\nbutton = "action"\ntaps = "single"\n'
        '[[steps]]\nsend = "button"\nbutton = "channel"\ntaps = "double"\n'
    )
    ran = simulate(run, apps, "buttons", "--scenario-file", scenario(tmp_path, steps), *QUICK)
    assert ran.one("trigger") == {"type": "button", "args": {"source_uri": ALICE, "action": "action_button_double_tap"}}
    urn = "urn:relay-resource:name:interaction:buttons?device=urn%3Arelay-resource%3Aname%3Adevice%3AAlice"
    assert ran.saw("resumed") == [{"type": "resumed", "source_uri": urn}]  # the narrow lifecycle handler
    assert ran.saw("button") == [
        {"button": "action", "taps": "single", "source_uri": urn},
        {"button": "channel", "taps": "double", "source_uri": urn},
    ]


# --- timers, vars, the device, groups ---------------------------------------------------------------------


def test_timers_named_unnamed_interval_and_cleared(run: Any, apps: Apps) -> None:
    ran = simulate(run, apps, "timers", "--scenario", "button", *QUICK)
    assert ran.one("end") == {"once": 1, "tick": 3, "unnamed": 1}
    assert sorted(ran.saw("timer_fired")) == ["once", "tick", "tick", "tick"]
    assert ran.saw("timer") == [{}]
    sets = {m["name"]: m for m in ran.sent("wf_api_set_timer_request")}
    assert (sets["tick"]["type"], sets["tick"]["timeout"], sets["tick"]["timeout_type"]) == ("interval", 100, "ms")
    assert ran.sent("wf_api_start_timer_request")[0]["timeout"] == 0.2
    assert [m["name"] for m in ran.sent("wf_api_clear_timer_request")] == ["tick"]
    ticks = [r["t"] for r in ran.transcript if r["message"] == {"_type": "wf_api_timer_fired_event", "name": "tick"}]
    # on the clock, not at once: tick k fires no sooner than k x 100 ms after the set_timer request (it may be late on
    # a loaded machine, and the next one then comes sooner: the clock is the timer's, not the previous tick's)
    [set_at] = [r["t"] for r in ran.transcript if r.get("from") == "app" and r["message"].get("name") == "tick"
                and r["message"]["_type"] == "wf_api_set_timer_request"]  # fmt: skip
    assert len(ticks) == 3 and all(t >= set_at + 0.1 * k - 0.001 for k, t in enumerate(ticks, 1)), (set_at, ticks)


def test_vars_and_args(run: Any, apps: Apps) -> None:
    ran = simulate(
        run,
        apps,
        "vars",
        "--scenario",
        "button",
        *QUICK,
        "-a",
        "greeting=hello",
        "-a",
        "list=a,b,c",
        "-a",
        "nums=1,2,3",
    )
    assert ran.one("greeting") == "hello" and ran.one("missing") == "fallback" and ran.one("count") == 3
    assert ran.one("get") == ["one", "two"] and ran.one("list") == ["a", "b", "c"] and ran.one("nums") == [1, 2, 3]
    assert ran.one("mapped") == "HELLO"
    assert [line.get("undefined") for line in ran.reported if line["what"] in ("unset", "unset_a")] == [True, True]
    assert ran.sent("wf_api_set_var_request")[0]["value"] == "3"  # vars travel as strings


def test_device_info_queries_and_setters(run: Any, apps: Apps) -> None:
    ran = simulate(run, apps, "device", "--scenario", "button", *QUICK)
    assert (ran.one("name"), ran.one("id"), ran.one("type")) == ("Alice", IDS["Alice"], "relay")
    assert ran.one("address") == ran.one("location") and "Morrisville" in ran.one("address")
    latlong = ran.one("coordinates")  # an array of numbers, not the string relay-js makes of whole numbers
    assert isinstance(latlong, list) and len(latlong) == 2 and all(isinstance(x, float) for x in latlong)
    assert ran.one("latlong") == latlong and ran.one("indoor") == "Lobby" and ran.one("battery") == 87
    assert ran.one("location_enabled") is True and ran.one("user") == "alice"
    assert (
        ran.one("renamed") == "Alicia"
        and ran.one("location_disabled") is False
        and ran.one("location_enabled_again") is True
    )
    assert ran.one("user_after") == "night-shift"
    fields = [(m["field"], m["value"]) for m in ran.sent("wf_api_set_device_info_request")]
    assert fields == [
        ("label", "Alicia"),
        ("location_enabled", "false"),
        ("location_enabled", "true"),
        ("channel", "ops"),
    ]


def test_device_actions(run: Any, apps: Apps) -> None:
    ran = simulate(run, apps, "actions", "--scenario", "button", *QUICK)
    assert ran.one("inbox") == 0 and ran.one("translated") == "hello"
    effects = [m["effect"] for m in ran.sent("wf_api_set_led_request")]
    assert effects == ["static", "static", "rainbow", "rotate", "flash", "breathe", "static", "off"]
    assert [m["expires"] for m in ran.sent("wf_api_register_request")] == [60, 0]
    assert [m["restart"] for m in ran.sent("wf_api_device_power_off_request")] == [True, False]
    assert not ran.sent("wf_api_error_response")


def test_groups(run: Any, apps: Apps) -> None:
    ran = simulate(run, apps, "groups", "--scenario", "button", *QUICK)
    assert ran.one("members") == [ALICE, BOB]  # the sandbox's demo group
    assert (ran.one("bob"), ran.one("carol")) == (True, False)  # is_member agrees with list_members


# --- notifications, incidents, logging, terminate ---------------------------------------------------------


def test_notifications_and_incidents(run: Any, apps: Apps, tmp_path: Path) -> None:
    steps = (
        '[[steps]]\nsend = "start"\ntrigger = "button"\n[[steps]]\nexpect = "create_incident"\n'
        '[[steps]]\nsend = "notification"\nname = "help"\nevent = "ack_event"\nfrom = "Bob"\n[[steps]]\nexpect = "resolve_incident"\n'
    )
    ran = simulate(run, apps, "notify", "--scenario-file", scenario(tmp_path, steps), *QUICK)
    kinds = [(m["type"], m["name"]) for m in ran.sent("wf_api_notification_request")]
    assert kinds == [
        ("broadcast", "news"),
        ("cancel", "news"),
        ("notify", "note"),
        ("cancel", "note"),
        ("alert", "help"),
        ("cancel", "help"),
    ]
    note = ran.one("notification")
    assert (note["event"], note["name"], note["source_uri"]) == ("ack_event", "help", BOB)
    assert note["notification_state"]["created"] == [ALICE, BOB] and note["notification_state"]["acknowledged"] == [BOB]
    incident = ran.one("incident")
    assert incident == ran.sent("wf_api_create_incident_response")[0]["incident_id"]
    assert ran.one("incident_event") == {"type": "resolved", "incident_id": incident, "reason": "handled"}


def test_logging(run: Any, apps: Apps) -> None:
    ran = simulate(run, apps, "logging", "--scenario", "button", *QUICK)
    logged = ran.sent("wf_api_log_analytics_event_request")
    assert [(m["category"], m["content_type"]) for m in logged] == [
        ("default", "text/plain"), ("greetings", "text/plain"),
        ("usage", "application/vnd.relay.event.parameters+json"), ("usage", "application/vnd.relay.event.parameters+json"),
    ]  # fmt: skip
    assert logged[1]["device_uri"] == ALICE and logged[2]["content"] == {"app": "conformance", "opened": {"count": 1}}
    # trackUserEvent sends its parameters as analytics_content: accepted, and the transcript warns once
    assert (
        logged[3]["analytics_content"] == {"app": "conformance", "tapped": {"count": 2}} and "content" not in logged[3]
    )
    [warning] = [r["warning"] for r in ran.transcript if r["from"] == "simulator"]
    assert warning.startswith("log_analytics_event has analytics_content but no content")


def test_terminate(run: Any, apps: Apps) -> None:
    ran = simulate(run, apps, "terminate", "--scenario", "button", *QUICK)
    assert ran.one("terminated") is None  # terminate() resolved: the SDK saw STOP
    assert ran.one("stop") == {"reason": "normal"}
    assert [m["_type"] for m in ran.messages][-2:] == ["wf_api_terminate_request", "wf_api_stop_event"]


def test_a_call_to_a_telephone_number_is_off_the_network(run: Any, apps: Apps) -> None:
    ran = simulate(run, apps, "outbound", "--scenario", "outbound-call", "--to", "tel:+15555550100", "--set", "hold=-1",
                   *QUICK[:2])  # fmt: skip
    assert ran.one("call_start_request")["uri"] == "tel:+15555550100"
    for what in ("call_ringing", "call_connected", "call_disconnected"):
        seen = ran.one(what)
        assert (seen["uri"], seen["onnet"], seen["device_id"], seen["device_name"]) == (
            "tel:+15555550100", False, "", "+15555550100",
        )  # fmt: skip


# --- a world of devices, refusals, scripted conversations ---------------------------------------------


def test_an_app_asks_about_and_changes_another_device(run: Any, apps: Apps) -> None:
    ran = simulate(run, apps, "other-device", "--scenario", "button", *QUICK)
    assert ran.one("bob") == {
        "name": "Bob", "id": IDS["Bob"], "indoor": "Kitchen", "battery": 64, "location_enabled": True,
    }  # fmt: skip
    # Bob renamed, his location off and his profile changed; the urn the app held for him still names him
    assert ran.one("bob_after") == {
        "name": "Robert",
        "by_old_urn": "Robert",
        "location_enabled": False,
        "user": "robert",
    }
    assert ran.one("alice") == {"name": "Alice", "location_enabled": True}  # the device the app runs for: unchanged
    assert ran.one("zed").startswith("refused: no device named 'Zed' in the account (its devices: Alice, Robert, ")
    assert ran.one("two") == "refused: get_device_info takes one target, got 2 in _target.uris"
    assert [m["_target"] for m in ran.sent("wf_api_set_device_info_request")] == [
        {"uris": [BOB]}, {"uris": [f"urn:relay-resource:id:device:{IDS['Bob']}"]},
    ]  # fmt: skip


def test_the_caller_hangs_up_before_the_app_answers_and_it_recovers(run: Any, apps: Apps) -> None:
    """The missed-call scenario: the answer is refused, the app ends its interaction and terminates: exit 0."""
    ran = simulate(run, apps, "missed", "--scenario", "missed-call", *QUICK)
    assert ran.one("refused").startswith("call ") and ran.one("refused").endswith(
        " is not ringing (it has ended: the caller hung up)"
    )
    assert ran.saw("answered") == []
    [error] = ran.sent("wf_api_error_response")
    assert error["_id"] == ran.sent("wf_api_answer_request")[0]["_id"]
    assert [m["_type"] for m in ran.messages][-4:] == [
        "wf_api_end_interaction_request", "wf_api_end_interaction_response", "wf_api_interaction_lifecycle_event",
        "wf_api_terminate_request",
    ] or ran.messages[-1]["_type"] == "wf_api_stop_event"  # fmt: skip


def test_an_unknown_request_is_refused_with_a_warning(run: Any, apps: Apps) -> None:
    ran = simulate(run, apps, "unknown-request", "--scenario", "button", *QUICK)
    wanted = "unknown request wf_api_get_device_label_request (did you mean get_device_info?): the Relay server serves no such request"
    assert ran.one("refused") == wanted  # relay-js rejected the promise with the error response's text
    assert [r["warning"] for r in ran.transcript if r["from"] == "simulator"] == [
        f"{wanted}; it was refused with wf_api_error_response"
    ]


def test_expect_with_check_waits_for_the_matching_say(run: Any, apps: Apps, tmp_path: Path) -> None:
    steps = (
        '[[steps]]\nsend = "start"\ntrigger = "button"\n'
        '[[steps]]\nexpect = "say"\ncheck = { text = "Now in call" }\ntimeout = 2\n'
    )
    ran = simulate(run, apps, "two-says", "--scenario-file", scenario(tmp_path, steps), *QUICK)
    said = [
        (r["step"], r["message"]["text"]) for r in ran.transcript if r["message"].get("_type") == "wf_api_say_request"
    ]
    assert said == [(2, "Connecting you"), (2, "Now in call")]  # the first is skipped; the second satisfies step 2
    # none that matches: the near miss is named
    missing = steps.replace("Now in call", "Goodbye")
    failed = simulate(run, apps, "two-says", "--scenario-file", scenario(tmp_path, missing), "--timeout", "0.5",
                      *QUICK[2:], until_end=False)  # fmt: skip
    assert failed.code == 6  # the app terminates after its two says: the step fails then, naming both
    assert (
        "step 2 (expect say text='Goodbye'): the app terminated without sending a say request that matches; "
        "near misses: say at "
    ) in failed.err
    assert "s: its text is 'Connecting you', expected 'Goodbye'; say at " in failed.err
    assert failed.err.rstrip().endswith("s: its text is 'Now in call', expected 'Goodbye'")


DIALOGUE = """\
[[steps]]
send = "start"
trigger = "button"
[[steps]]
expect = "say"
check = { text = "What would you like?" }
[[steps]]
send = "speech"
text = "Pasta!"
[[steps]]
expect = "say"
check = { text = "What size?" }
[[steps]]
send = "speech"
text = "Large."
[[steps]]
expect = "say"
check = { text = "One large {dish}" }
[params]
dish = "pasta"
"""


def test_a_two_turn_dialogue(run: Any, apps: Apps, tmp_path: Path) -> None:
    ran = simulate(run, apps, "dialogue", "--scenario-file", scenario(tmp_path, DIALOGUE), *QUICK)
    # each speech step answers the app's next listen; "Pasta!" and "Large." are heard as the phrases the app wrote
    assert (ran.one("dish"), ran.one("size")) == ("pasta", "large")
    speech = ran.sent("wf_api_speech_event")
    listens = ran.sent("wf_api_listen_request")
    assert [m["request_id"] for m in speech] == [m["_id"] for m in listens]
    # queued when the listen came, in the step that waited for the app's next say
    assert [r["step"] for r in ran.transcript if r["message"].get("_type") == "wf_api_speech_event"][:2] == [4, 6]
    # the listen with transcribe false (no speech step left) hears audio: a base64 WAV, and no text
    import base64

    wav = base64.b64decode(speech[-1]["audio"])
    assert "text" not in speech[-1] and wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    assert ran.one("audio") == speech[-1]["audio"][:8]  # listen({transcribe: false}) resolved to {audio}
    assert [r for r in ran.transcript if r["from"] == "simulator"] == []
    # what is none of the listen's phrases is not recognised: the device hears "", and the transcript says so
    unheard = DIALOGUE.replace("Pasta!", "Pasta, please")
    again = simulate(run, apps, "dialogue", "--scenario-file", scenario(tmp_path, unheard), "--set", "dish=", *QUICK)
    assert (again.one("dish"), again.one("size")) == ("", "large")
    assert [r["warning"] for r in again.transcript if r["from"] == "simulator"] == [
        "the user said 'Pasta, please', none of the phrases the app listens for ('pizza', 'pasta'): "
        "the device recognises nothing (text '')"
    ]


def test_the_readme_dialogue_runs(run: Any, apps: Apps, tmp_path: Path) -> None:
    readme = (DOC.parent.parent / "README.md").read_text(encoding="utf-8")
    block = next(b for b in readme.split("```toml\n")[1:] if b.startswith("# order.toml"))
    ran = simulate(run, apps, "dialogue", "--scenario-file", scenario(tmp_path, block.split("```")[0]), *QUICK)
    assert (ran.one("dish"), ran.one("size")) == ("pasta", "large")


def test_interaction_suspended_resumed_and_failed(run: Any, apps: Apps, tmp_path: Path) -> None:
    steps = (
        '[[steps]]\nsend = "start"\ntrigger = "button"\n[[steps]]\nexpect = "start_interaction"\n[[steps]]\nwait = 0.2\n'
        '[[steps]]\nsend = "interaction_suspended"\n[[steps]]\nsend = "interaction_resumed"\n'
        '[[steps]]\nsend = "interaction_failed"\nreason = "device offline"\n'
    )
    ran = simulate(run, apps, "suspended", "--scenario-file", scenario(tmp_path, steps), *QUICK)
    urn = "urn:relay-resource:name:interaction:long%20task?device=urn%3Arelay-resource%3Aname%3Adevice%3AAlice"
    assert ran.saw("suspended") == [{"type": "suspended", "source_uri": urn}]
    assert ran.saw("resumed") == [{"type": "resumed", "source_uri": urn}] * 2  # after started, and after suspended
    assert ran.saw("failed") == [{"type": "failed", "source_uri": urn, "reason": "device offline"}]


# --- the calling guide's code as printed: misbehaviour, named at the right step ---------------------------


def test_the_guides_inbound_code_never_answers(run: Any, apps: Apps) -> None:
    ran = simulate(run, apps, "guide-inbound", "--scenario", "inbound-call", "--timeout", "1", until_end=False)
    assert ran.code == 6
    assert "step 3 (expect answer): the app sent no answer request within 1s; the app sent nothing meanwhile" in ran.err
    # the app's side: its handler threw (the SDK logs it and carries on), so no request ever left it
    assert ran.saw("error") == ["call_received: Cannot read properties of undefined (reading 'startInteraction')"]


def test_the_guides_outbound_code_places_a_call_to_nobody(run: Any, apps: Apps) -> None:
    ran = simulate(run, apps, "guide-outbound", "--scenario", "outbound-call", "--timeout", "1", until_end=False)
    assert ran.code == 6
    assert "step 3 (expect call): the app sent no call request within 1s; near misses: call at " in ran.err
    assert "the server refused it: call needs the uri" in ran.err
    assert ran.saw("error") == ["call_start_request: call needs the uri (or device_name / device_id) of whom to call"]
    [call] = ran.sent("wf_api_call_request")
    assert "uri" not in call  # placeCall(target, undefined): a request with no callee


def test_an_unknown_path_is_refused_at_the_handshake(run: Any, apps: Apps) -> None:
    result = run("workflow", "simulate", apps.uri("autoanswer"), "--scenario", "inbound-call", "--timeout", "2")
    assert result.code == 1
    assert "answered HTTP 400" in result.err and "check the URI's path" in result.err


# --- the coverage table ---------------------------------------------------------------------------------


def sdk_surface() -> tuple[set[str], dict[str, str]]:
    """The public methods of the installed SDK's Workflow class, and its Event enum (name → event string)."""
    declarations = (SDK_DIR / "dist" / "index.d.ts").read_text(encoding="utf-8")
    body = declarations.split("declare class Workflow {", 1)[1].split("\n}", 1)[0]
    methods = set(re.findall(r"^    (?!private )(\w+)(?:<[^>]*>)?\(", body, re.M)) - {"constructor"}
    enums = (SDK_DIR / "dist" / "enums.js").read_text(encoding="utf-8")
    block = enums.split("(function (Event) {", 1)[1].split("})(Event", 1)[0]
    events = dict(re.findall(r'Event\["(\w+)"\] = "(\w+)"', block))
    return methods, events


def coverage_table() -> list[dict[str, str]]:
    """The rows of docs/simulator.md's coverage table: sdk (method() or Event.X), wire, served, how."""
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- coverage:start -->", 1)[1].split("<!-- coverage:end -->", 1)[0]
    rows = []
    for line in table.strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append({"sdk": cells[0].strip("`"), "wire": cells[1], "served": cells[2], "how": cells[3]})
    return rows


def test_the_coverage_table_matches_the_sdk_and_the_apps() -> None:
    ensure_sdk()
    methods, events = sdk_surface()
    rows = coverage_table()
    listed = [r["sdk"] for r in rows]
    assert len(listed) == len(set(listed)), "a row is listed twice"
    wanted = {f"{m}()" for m in methods} | {f"Event.{e}" for e in events}
    assert set(listed) == wanted, (
        f"missing: {sorted(wanted - set(listed))}; not in the SDK: {sorted(set(listed) - wanted)}"
    )
    assert {r["served"] for r in rows} <= {"yes", "no", "SDK only"}
    named = set().union(*(methods_named_by(wf) for wf in re.findall(r"^define\('([\w-]+)'", APPS, re.M)))
    for row in rows:
        if row["served"] != "yes":
            continue
        if row["sdk"].endswith("()"):
            assert row["sdk"][:-2] in named, f"{row['sdk']} is marked served but no app in apps.js calls it"
        else:
            name = row["sdk"].removeprefix("Event.")
            assert f"Event.{name}" in APPS, f"{row['sdk']} is marked served but no app in apps.js handles it"
