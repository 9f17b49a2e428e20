"""What relay-py reads, checked against the simulator's server at the protocol level; and, where a Python with
relay-py is available (RELAY_PY_PYTHON, or the one running the tests), apps written with it run through
``relay workflow simulate`` (tests/conformance/relay_py_apps.py; skipped otherwise, with the reason).

relay-py (relaypro/relay-py, ``relay/workflow.py``) is not on PyPI and is not vendored here, so these tests
state its reading rules in our own words, each with the function it comes from, and hold the simulator's
messages to them (docs/simulator.md, "relay-py's view"). The server is driven with the requests relay-py's
methods send, on a fake clock.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_conformance import QUICK, Apps, scenario

from relay_cli.simulator import protocol as proto, scenario as sc
from relay_cli.simulator.runner import demo_world, load_builtin

ALICE = "urn:relay-resource:name:device:Alice"
_CALL = ("call_id", "direction", "device_id", "device_name", "uri", "onnet", "start_time_epoch")

#: relay-py ``Relay._handle``: the fields it indexes (``e['...']``) before calling each handler
READS: dict[str, tuple[str, ...]] = {
    "wf_api_start_event": ("trigger",),
    "wf_api_stop_event": ("reason",),
    "wf_api_prompt_event": ("source_uri", "type"),
    "wf_api_button_event": ("button", "taps", "source_uri"),
    "wf_api_notification_event": ("event", "name", "notification_state", "source_uri"),
    "wf_api_timer_event": (),
    "wf_api_timer_fired_event": ("name",),
    "wf_api_speech_event": ("lang", "request_id", "source_uri"),
    "wf_api_call_connected_event": (*_CALL, "connect_time_epoch"),
    "wf_api_call_disconnected_event": (*_CALL, "reason", "connect_time_epoch", "end_time_epoch"),
    "wf_api_call_failed_event": (*_CALL, "reason", "connect_time_epoch", "end_time_epoch"),
    "wf_api_call_received_event": _CALL,
    "wf_api_call_ringing_event": _CALL,
    "wf_api_call_progressing_event": (*_CALL, "connect_time_epoch"),
    "wf_api_call_start_request_event": ("uri",),
    "wf_api_incident_event": ("type", "incident_id", "reason"),
    "wf_api_interaction_lifecycle_event": ("type", "source_uri"),
    "wf_api_progress_event": (),
    "wf_api_play_inbox_message_event": ("action",),
    "wf_api_sms_event": ("id", "event"),
    "wf_api_resume_event": ("trigger",),
}


def py_cleaned(value: Any) -> Any:
    """relay-py ``Relay._clean_int_arrays``: a non-empty list of whole numbers becomes a string, at any depth."""
    if isinstance(value, dict):
        return {k: py_cleaned(v) for k, v in value.items()}
    if isinstance(value, list):
        if value and all(isinstance(x, int) for x in value):
            return "".join(chr(x) for x in value)
        return [py_cleaned(v) for v in value]
    return value


class Py:
    """A relay-py app's requests against the simulator's server, on a fake clock."""

    def __init__(self, **params: Any) -> None:
        world = demo_world()
        base = sc.resolve_params(load_builtin("inbound-call"), world=world)
        base.update({"event_delay": 0.05, "hold": 1.0, **params})
        counter = itertools.count(1)
        self.server = proto.Server(base, new_id=lambda: f"{next(counter):032x}", world=world)
        self.now = 0.0
        self.received: list[dict[str, Any]] = []

    def request(self, _type: str, **fields: Any) -> dict[str, Any]:
        """Send ``wf_api_<_type>_request`` as relay-py's ``_send_receive`` does; return its response."""
        _id = f"req{len(self.received)}"
        reply = self.server.handle({"_id": _id, "_type": f"wf_api_{_type}_request", **fields}, self.now)
        assert reply.error is None, reply.error
        self.run(0.0)
        return next(m for m in self.received if m.get("_id") == _id)

    def scripted(self, message: dict[str, Any]) -> None:
        self.server.send(self.now, message)
        self.run(0.0)

    def run(self, seconds: float) -> None:
        end = self.now + seconds
        while True:
            due = self.server.next_due()
            if due is None or due > end:
                break
            self.now = max(self.now, due)
            for message in self.server.remote_hangups(self.now):
                self.server.send(self.now, message)
            self.received += [m for m in (o.build(self.now) for o in self.server.due(self.now)) if m is not None]
        self.now = end

    def events(self, _type: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m["_type"] == _type]


def a_session() -> Py:
    """One of each thing a relay-py app can ask for, and each event a scenario can send."""
    py = Py()
    srv = py.server
    py.scripted(srv.start_event("telephony", {}))
    call = srv.incoming_call(py.now, "Bob")
    py.scripted(call)
    py.request("start_interaction", _target={"uris": [ALICE]}, name="talk", options={})
    interaction = proto.interaction_urn("talk", ALICE)
    py.request("answer", _target={"uris": [ALICE]}, call_id=call["call_id"])
    py.run(0.1)
    py.request("say", _target={"uris": [interaction]}, text="hello there", lang="en-US")
    py.request("play", _target={"uris": [interaction]}, filename="chime.wav")
    py.request("listen", _target={"uris": [interaction]}, phrases=[], transcribe=True, timeout=60)
    py.run(5.0)  # the caller hangs up after hold=1
    placed = py.request("call", _target={"uris": [ALICE]}, uri="urn:relay-resource:name:device:Carol")
    py.run(0.2)
    py.scripted(srv.scripted_call_event(py.now, "call_progressing", {}))  # type: ignore[arg-type]
    py.request("hangup", _target={"uris": [ALICE]}, call_id=placed["call_id"])
    py.scripted(srv.call_start_request("Dave"))
    py.server.params["reject"] = True
    py.request("call", _target={"uris": [ALICE]}, uri="urn:relay-resource:name:device:Dave")
    py.run(0.2)  # ringing, then call_failed
    py.scripted(srv.button_event("action", "double"))
    py.request("notification", _target={"uris": ["urn:relay-resource:name:group:Front%20desk"]}, originator=ALICE,
               type="alert", name="help", text="help", target={"uris": ["x"]}, push_opts={})  # fmt: skip
    py.scripted(srv.notification_event("help", "ack_event", "Bob"))
    incident = py.request("create_incident", type="panic", originator_uri=ALICE)["incident_id"]
    py.request("resolve_incident", incident_id=incident, reason="handled")
    py.request("start_timer", timeout=1)
    py.request("set_timer", type="interval", name="tick", timeout=500, timeout_type="ms")
    py.run(1.2)
    py.request("stop_timer")
    py.request("clear_timer", name="tick")
    py.scripted(proto.event("progress"))  # scenario steps: send = "progress", "sms", "resume", "play_inbox_message"
    py.scripted(srv.sms_event(None, {"status": "delivered"}))
    py.scripted(srv.start_event("button", {}, "resume"))
    py.scripted(proto.event("play_inbox_message", action="started"))
    py.request("end_interaction", _target={"uris": [interaction]})  # relay-py sends the urn alone, no name
    py.run(0.1)
    py.server.handle({"_id": "t", "_type": "wf_api_terminate_request"}, py.now)  # no response: stop, then close
    py.run(0.0)
    return py


def test_every_event_has_each_field_relay_py_indexes() -> None:
    py = a_session()
    sent = {m["_type"] for m in py.received if m["_type"].endswith("_event")}
    assert sent == set(READS)  # the session made the simulator send every event relay-py reads
    for message in py.received:
        if message["_type"].endswith("_event"):
            missing = [f for f in READS[message["_type"]] if f not in message]
            assert not missing, f"{message['_type']} lacks {missing}: relay-py's receive loop would die on it"
            assert "_id" not in message  # relay-py hands any _id to a pending request, not to a handler


def test_no_value_relay_py_reads_is_mangled_by_its_int_array_workaround() -> None:
    py = Py()
    for query in (
        "name",
        "id",
        "type",
        "address",
        "latlong",
        "battery",
        "indoor_location",
        "location",
        "username",
        "location_enabled",
    ):
        py.request("get_device_info", _target={"uris": [ALICE]}, query=query, refresh=False)
    for message in py.received + a_session().received:
        assert py_cleaned(message) == message, message


def test_timers_as_relay_py_reads_them() -> None:
    py = Py()
    py.request("start_timer", timeout=2)  # relay-py start_timer(timeout): on_timer, no arguments
    py.request("set_timer", type="timeout", name="once", timeout=1, timeout_type="secs")  # on_timer_fired(name)
    py.run(4.0)
    assert py.events("wf_api_timer_event") == [{"_type": "wf_api_timer_event"}] * 2
    assert py.events("wf_api_timer_fired_event") == [{"_type": "wf_api_timer_fired_event", "name": "once"}]


def test_say_and_wait_and_listen_as_relay_py_matches_them() -> None:
    """relay-py registers its match before sending: the prompt's ``id`` and the speech's ``request_id`` are
    the request's own ``_id`` (``Relay.say_and_wait``, ``play_and_wait``, ``listen``)."""
    py = Py()
    py.request("start_interaction", _target={"uris": [ALICE]}, name="talk", options={})
    target = {"uris": [proto.interaction_urn("talk", ALICE)]}
    response = py.request("say", _target=target, text="one two three", lang="en-US")
    assert response["id"] == response["_id"]  # say() returns response['id']
    py.run(3.0)
    stopped = [m for m in py.events("wf_api_prompt_event") if m["type"] == "stopped"]
    assert [m["id"] for m in stopped] == [response["_id"]]
    assert py.received.index(stopped[0]) > py.received.index(response)
    heard = py.request("listen", _target=target, phrases=["yes"], transcribe=True, timeout=60)
    py.run(3.0)
    [speech] = py.events("wf_api_speech_event")
    assert speech["request_id"] == heard["_id"] and speech["text"] == "yes"  # listen() returns speech['text']


@pytest.mark.parametrize(
    ("request_type", "fields", "reads"),
    [
        ("set_var", {"name": "x", "value": "1"}, "value"),  # set_var returns response['value']
        ("call", {"_target": {"uris": [ALICE]}, "uri": "urn:relay-resource:name:device:Bob"}, "call_id"),  # place_call
        ("create_incident", {"type": "panic", "originator_uri": ALICE}, "incident_id"),
        ("translate", {"text": "hello", "from_lang": "en-US", "to_lang": "es-ES"}, "text"),
        (
            "group_query",
            {"query": "list_members", "group_uri": "urn:relay-resource:name:group:Front%20desk"},
            "member_uris",
        ),
        (
            "group_query",  # relay-py group_member(): the device urn quoted once, the group name quoted
            {
                "query": "is_member",
                "group_uri": "urn:relay-resource:name:group:Front%20desk?device=urn%3Arelay-resource%3Aname%3Adevice%3ABob",
            },
            "is_member",
        ),
        ("inbox_count", {"_target": {"uris": [ALICE]}}, "count"),
        ("sms", {"type": "sms", "text": "hi", "uri": "tel:+15555550100"}, "message_id"),
        (
            "get_device_info",
            {"_target": {"uris": [ALICE]}, "query": "location_enabled", "refresh": False},
            "location_enabled",
        ),
    ],
)
def test_each_response_has_the_field_relay_py_reads(request_type: str, fields: dict[str, Any], reads: str) -> None:
    response = Py().request(request_type, **fields)
    assert response["_type"] == f"wf_api_{request_type}_response"
    assert reads in response
    if reads == "is_member":
        assert response["is_member"] is True  # Bob is in the demo account's Front desk group


# --- relay-py apps through `relay workflow simulate`, where relay-py is installed ------------------------------


@pytest.fixture(scope="module")
def py_apps() -> Iterator[Any]:
    from sdks import relay_py_python

    served = Apps(relay_py_python(), "relay_py_apps.py")
    yield served
    served.stop()


def simulate_py(run: Any, apps: Any, wf: str, *args: str) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
    """(the CLI's result, its --json transcript, what the app reported: label → value)."""
    mark = len(apps.lines)
    result = run("workflow", "simulate", apps.uri(wf), *args, "--json")
    reported = {line["what"]: line["value"] for line in apps.since(mark, wf)}
    transcript = [json.loads(line) for line in result.out.splitlines() if line.strip()]
    assert "Traceback" not in result.err
    return result, transcript, reported


def test_relay_py_asks_about_and_changes_another_device(run: Any, py_apps: Any) -> None:
    result, _transcript, seen = simulate_py(run, py_apps, "other-device", "--scenario", "button", *QUICK)
    assert result.code == 0, result.err
    assert seen["bob"] == {"name": "Bob", "id": "990007560023456", "indoor": "Kitchen", "battery": 64}
    assert seen["bob_after"] == {"name": "Robert", "location_enabled": False} and seen["alice"] == "Alice"
    assert seen["zed"].startswith("refused: no device named 'Zed' in the account")
    assert seen["list"].startswith("refused: vibrate's _target.uris[0] is a list (")
    assert seen["list"].endswith(
        'not a urn: relay-py sends {"uris": [[...]]} when a method is given a list; pass one urn'
    )


def test_relay_py_recovers_when_the_caller_hangs_up_first(run: Any, py_apps: Any) -> None:
    result, transcript, seen = simulate_py(run, py_apps, "missed", "--scenario", "missed-call", *QUICK)
    assert result.code == 0, result.err
    assert seen["refused"].endswith("is not ringing (it has ended: the caller hung up)") and "answered" not in seen
    assert transcript[-1]["message"] == {"_type": "wf_api_stop_event", "reason": "normal"}


def test_relay_py_gets_an_unknown_request_refused(run: Any, py_apps: Any) -> None:
    result, transcript, seen = simulate_py(run, py_apps, "unknown-request", "--scenario", "button", *QUICK)
    assert result.code == 0, result.err
    error = "_type 'wf_api_mkinard_breakage' is not a request (wf_api_<name>_request): the Relay server serves no such message"
    assert seen["refused"] == error  # relay-py's WorkflowException carries the error response's text
    assert [r["warning"] for r in transcript if r["from"] == "simulator"] == [
        f"{error}; it was refused with wf_api_error_response"
    ]


def test_relay_py_in_a_scripted_dialogue_that_skips_a_say(run: Any, py_apps: Any, tmp_path: Path) -> None:
    steps = """
[[steps]]
send = "start"
trigger = "button"
[[steps]]
expect = "say"
check = { text = "What would you like?" }
[[steps]]
send = "speech"
text = "Pizza"
[[steps]]
expect = "say"
check = { text = "What size?" }
[[steps]]
send = "speech"
text = "small"
[[steps]]
expect = "say"
check = { text = "One small pizza" }
"""
    result, transcript, seen = simulate_py(
        run, py_apps, "dialogue", "--scenario-file", scenario(tmp_path, steps), *QUICK
    )
    assert result.code == 0, result.err
    assert seen["order"] == ["pizza", "small"]
    said = [(r["step"], r["message"]["text"]) for r in transcript if r["message"].get("_type") == "wf_api_say_request"]
    assert said[:2] == [(2, "Connecting you"), (2, "What would you like?")]  # the first say is skipped by step 2
