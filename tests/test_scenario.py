"""The pure core of ``workflow simulate``: scenario parsing and parameters (simulator/scenario.py), the server's
side of the protocol (simulator/protocol.py), and a whole run driven by a fake clock and a scripted app."""

from __future__ import annotations

import itertools
import json
from importlib.resources import files
from typing import Any

import pytest
from hypothesis import given, strategies as st

from relay_cli.errors import UsageError
from relay_cli.simulator import protocol as proto, scenario as sc

ALICE = "urn:relay-resource:name:device:Alice"
BOB = "urn:relay-resource:name:device:Bob"


def builtin(name: str) -> sc.Scenario:
    return sc.parse(
        files("relay_cli.simulator.scenarios").joinpath(f"{name}.toml").read_text(encoding="utf-8"), f"{name}.toml"
    )


def ids() -> Any:
    counter = itertools.count(1)
    return lambda: f"{next(counter):032x}"


WORLD = proto.World(
    devices={"990007560045678": "Alice", "990007560023456": "Bob", "990007560011111": "Carol"},
    groups={"Front desk": ("Alice", "Bob")},
)


def server(**params: Any) -> proto.Server:
    base = sc.resolve_params(builtin("inbound-call"), world=WORLD)
    base.update(params)
    return proto.Server(base, new_id=ids(), world=WORLD)


def request(_kind: str, _id: str = "r1", **fields: Any) -> dict[str, Any]:
    return {"_id": _id, "_type": f"wf_api_{_kind}_request", **fields}


def drain(srv: proto.Server, now: float) -> list[dict[str, Any]]:
    return [m for m in (o.build(now) for o in srv.due(now)) if m is not None]


def target(urn: str = ALICE) -> dict[str, Any]:
    return {"uris": [urn]}


# --- scenario files -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["inbound-call", "missed-call", "outbound-call", "button", "phrase"])
def test_the_built_in_scenarios_parse_and_end_with_terminate(name: str) -> None:
    scenario = builtin(name)
    assert scenario.name == name
    assert scenario.description
    assert scenario.steps[0].kind == "send" and scenario.steps[0].what == "start"
    assert scenario.steps[-1].kind == "expect" and scenario.steps[-1].what == "terminate"
    assert not scenario.steps[-1].implicit
    assert [s.number for s in scenario.steps] == list(range(1, len(scenario.steps) + 1))


def test_a_final_terminate_is_implied() -> None:
    scenario = sc.parse("[[steps]]\nsend = 'start'\ntrigger = 'button'\n", "x.toml")
    assert [(s.kind, s.what, s.implicit, s.number) for s in scenario.steps] == [
        ("send", "start", False, 1),
        ("expect", "terminate", True, 2),
    ]
    assert scenario.name == "x.toml"
    assert "implied" in scenario.steps[-1].describe()


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("[params]\ndevice_urn = 'x'\n[[steps]]\nwait = 1\n", "[params] device_urn: computed from 'device'"),
        ("[params]\nlist = [1]\n[[steps]]\nwait = 1\n", "[params] list: expected a string, number or boolean"),
        ("[[steps]]\nwait = 1\nif = 'nothing'\n", "step 1: if: expected the name of a parameter"),
        (
            "[[steps]]\nexpect = 'say'\ntimeout = 0\n",
            "step 1: timeout: expected a number of seconds above 0, at most 3600",
        ),
        ("[[steps]]\nexpect = 'say'\ntimeout = 1e308\n", "step 1: timeout: expected a number of seconds above 0"),
        ("[[steps]]\nexpect = 'say'\nrefused = 3\n", "step 1: refused: expected true, false or a regular expression"),
        ("[[steps]]\nexpect = 'say'\nrefused = '('\n", "step 1: refused: not a regular expression"),
        ("[[steps]]\nsend = 'speech'\n", "step 1: send speech needs the key 'text'"),
        ("[[steps]]\nsend = 'sms'\nevent = 'x'\n", "step 1: event: expected a table"),
        ("[[steps]]\nsend = 'interaction_suspended'\nreason = 1\n", "step 1: reason: expected a string"),
        (
            "[params]\na = '{b}'\nb = 'x{a}'\n[[steps]]\nwait = 1\n",
            "[params] a: its value refers to itself: {a} → {b} → {a}",
        ),
        ("[params]\na = '{zzz}'\n[[steps]]\nwait = 1\n", "[params] a: unknown parameter {zzz}"),
        (
            "[devices.Erin]\nbattery = 300\n[[steps]]\nwait = 1\n",
            "[devices.Erin] battery: expected a whole number from 0 to 100",
        ),
        (
            "[devices.Erin]\nlatlong = [35, -78]\n[[steps]]\nwait = 1\n",
            "[devices.Erin] latlong: expected [latitude, longitude]",
        ),
        ("[devices.Erin]\nmood = 'ok'\n[[steps]]\nwait = 1\n", "[devices.Erin] mood: unknown key"),
        (
            "[devices.Erin]\nid = '1'\n[devices.Finn]\nid = '1'\n[[steps]]\nwait = 1\n",
            "[devices.Finn] id: '1' is also Erin's id",
        ),
        ("[devices]\n1234 = {}\n[[steps]]\nwait = 1\n", "[devices.1234]: a device's name must be a name"),
        ("[groups]\nNight = 'Bob'\n[[steps]]\nwait = 1\n", "[groups] Night: expected a list of device names"),
        ("[[steps]]\nexpect = 'say'\ncheck = 'x'\n", "step 1: check: expected a table"),
        (
            "[[steps]]\nsend = 'start'\ntrigger = 'button'\nfields = { when = 2030-01-01T09:00:00 }\n",
            "step 1: fields.when: a TOML date or time, which a message (JSON) cannot hold; write it as a string",
        ),
        (
            "[[steps]]\nexpect = 'say'\ncheck = { at = ['x', 09:30:00] }\n",
            "step 1: check.at[1]: a TOML date or time",
        ),
        (
            "[[steps]]\nsend = 'start'\nexpect = 'say'\ntrigger = 'x'\n",
            "expected exactly one of send, expect, wait (got send and expect)",
        ),
        ("[[steps]]\nwait = -1\n", "step 1: wait: expected a number of seconds from 0 to 3600"),
        ("[[steps]]\nwait = 1e308\n", "step 1: wait: expected a number of seconds from 0 to 3600"),
        ("[[steps]]\nsend = 'start'\ntrigger = 3\n", "step 1: trigger: expected a string"),
        ("steps = [1]\n", "step 1: expected a table"),
        ("name = 3\n[[steps]]\nwait = 1\n", "name and description must be strings"),
    ],
)
def test_scenario_errors_name_the_source_step_and_key(text: str, wanted: str) -> None:
    with pytest.raises(sc.ScenarioError) as err:
        sc.parse(text, "mine.toml")
    assert err.value.message.startswith("mine.toml: ")
    assert wanted in err.value.message
    assert err.value.exit_code == 2


def test_a_wait_on_a_parameter_that_is_not_a_number_is_refused_before_running() -> None:
    scenario = sc.parse("[params]\nring = 'long'\n[[steps]]\nwait = '{ring}'\n", "w.toml")
    with pytest.raises(sc.ScenarioError, match=r"w.toml: step 1: wait \{ring\} is 'long'"):
        sc.resolve_params(scenario)
    with pytest.raises(sc.ScenarioError):  # a string parameter stays a string, whatever --set gives it
        sc.resolve_params(scenario, sets=["ring=1.5"])
    numeric = sc.parse("[params]\nring = 2\n[[steps]]\nwait = '{ring}'\n", "w.toml")
    assert sc.resolve_params(numeric, sets=["ring=1.5"])["ring"] == 1.5
    with pytest.raises(UsageError, match="ring: expected a number"):
        sc.resolve_params(numeric, sets=["ring=x"])


# --- parameters -----------------------------------------------------------------------------------


def test_parameter_precedence() -> None:
    scenario = builtin("inbound-call")
    assert sc.resolve_params(scenario)["from"] == "Bob"
    assert sc.resolve_params(scenario, {"from": ("--from", "Carol")})["from"] == "Carol"
    assert sc.resolve_params(scenario, {"from": ("--from", "Carol")}, ["from=Dan"])["from"] == "Dan"
    assert sc.resolve_params(scenario, {"from": ("--from", None)})["from"] == "Bob"  # a flag not given
    params = sc.resolve_params(scenario, defaults={"device": "990007560045678", "phrase": "not used"})
    assert params["device_urn"] == "urn:relay-resource:id:device:990007560045678"
    assert params["device_id"] == params["device_name"] == "990007560045678"
    assert "phrase" not in params  # a workflow default the scenario does not use is dropped
    assert sc.resolve_params(scenario, {"device": ("--device", "Kitchen 2")}, defaults={"device": "1"})[
        "device_urn"
    ] == ("urn:relay-resource:name:device:Kitchen%202")


def test_set_coerces_to_the_type_of_the_default() -> None:
    params = sc.resolve_params(builtin("outbound-call"), sets=["reject=true", "hold=-1", "event_delay=0", "to=Eve"])
    assert (
        params["reject"] is True and params["hold"] == -1.0 and params["event_delay"] == 0.0 and params["to"] == "Eve"
    )
    for bad, wanted in [
        ("hold=soon", "hold: expected a number"),
        ("hold=nan", "finite"),
        ("reject=1", "expected true or false"),
        ("device_id=5", "computed from device"),
        ("=3", "expected NAME=VALUE"),
        ("call_id_style=guid", "expected one of uuid, counter"),
        ("event_delay=-1", "event_delay: expected a number of seconds from 0 to 3600"),
        ("event_delay=1e308", "event_delay: expected a number of seconds from 0 to 3600, got 1e[+]308"),
        ("hold=1e308", "hold: expected a number of seconds up to 3600"),
        ("play_time=3601", "play_time: expected a number of seconds from 0 to 3600"),
        ("speaking_rate=1e-300", "speaking_rate: expected a number of words per minute from 1 to 100000"),
    ]:
        with pytest.raises(UsageError, match=wanted):
            sc.resolve_params(builtin("outbound-call"), sets=[bad])


def test_flags_for_parameters_a_scenario_does_not_use_are_refused() -> None:
    with pytest.raises(UsageError, match="--taps: does not apply to scenario 'outbound-call'"):
        sc.resolve_params(builtin("outbound-call"), {"taps": ("--taps", "double")})
    with pytest.raises(UsageError, match="--from: does not apply"):
        sc.resolve_params(builtin("button"), {"from": ("--from", "Bob")})
    # the world's parameters apply to every scenario
    params = sc.resolve_params(builtin("button"), {"hold": ("--hold", 1.0), "reject": ("--reject", True)})
    assert params["hold"] == 1.0 and params["reject"] is True


def test_defaults_from_a_registered_workflow() -> None:
    def workflow(trigger: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"name": "w", "config": {"trigger": {"start": {"workflow": {"uri": "ws://x"}}, **trigger}}, **extra}

    assert sc.defaults_from_workflow(workflow({"on_incoming_call": ".*"}, install=["d1", "d2"])) == (
        "inbound-call",
        {"device": "d1"},
        None,
    )
    assert sc.defaults_from_workflow(workflow({"on_call_request": ".*"}, install=["d1"]))[0] == "outbound-call"
    assert sc.defaults_from_workflow(workflow({"on_button": "action_button_single_tap"}, install=["d1"]))[:2] == (
        "button",
        {"taps": "single", "device": "d1"},
    )
    assert sc.defaults_from_workflow(workflow({"on_phrases": ["hey relay", "hi"]}, install=["d1"]))[:2] == (
        "phrase",
        {"phrase": "hey relay", "device": "d1"},
    )
    suggested, defaults, note = sc.defaults_from_workflow(
        workflow({"on_timer": {}}, install_rule="urn:relay-resource:all:device")
    )
    assert suggested == "trigger" and defaults == {"trigger": "timer"}  # the START of its trigger, from the table
    assert note is not None and "installed on all devices" in note and "--device" in note
    assert sc.defaults_from_workflow(workflow({"on_future_thing": 1}))[:2] == (None, {})


# --- substitution and checks ----------------------------------------------------------------------------


def test_substitute_keeps_the_type_of_a_whole_placeholder() -> None:
    params = {"hold": 2.0, "name": "Bob", "on": True}
    assert sc.substitute("{hold}", params) == 2.0
    assert sc.substitute("hold {hold}s for {name}, {on}", params) == "hold 2s for Bob, true"
    assert sc.substitute({"a": ["{name}", {"b": "{on}"}], "c": 3}, params) == {"a": ["Bob", {"b": True}], "c": 3}
    assert sc.substitute("{not a placeholder} {}", params) == "{not a placeholder} {}"


def _expect(check: dict[str, Any] | None = None, check_regex: dict[str, Any] | None = None) -> sc.Step:
    data: dict[str, Any] = {}
    if check is not None:
        data["check"] = check
    if check_regex is not None:
        data["check_regex"] = check_regex
    return sc.Step("expect", "say", data)


def test_check_request() -> None:
    say = request("say", text="Now in call", lang="en-US", _target=target(), times=1)
    assert sc.check_request(_expect({"text": "Now in call"}), say, {}) is None
    assert sc.check_request(_expect({"text": "{g}"}), say, {"g": "Now in call"}) is None
    assert sc.check_request(_expect({"_target": {"uris": [ALICE]}}), say, {}) is None
    assert sc.check_request(_expect(check_regex={"text": "(?i)^now"}), say, {}) is None
    assert sc.check_request(_expect(check_regex={"_target": {"uris": "Alice"}}), say, {}) is None
    assert sc.check_request(_expect({"text": "Hello"}), say, {}) == "its text is 'Now in call', expected 'Hello'"
    assert sc.check_request(_expect({"voice": "x"}), say, {}) == "its voice is missing (expected 'x')"
    assert sc.check_request(_expect({"times": True}), say, {}) is not None  # 1 is not true
    assert "does not match" in str(sc.check_request(_expect(check_regex={"text": "^Hello"}), say, {}))


# --- the protocol ------------------------------------------------------------------------------------


def test_events_must_carry_every_field_the_sdks_read() -> None:
    with pytest.raises(ValueError, match="needs call_id"):
        proto.event("call_connected", direction="inbound")
    assert proto.event("stop", reason="normal") == {"_type": "wf_api_stop_event", "reason": "normal"}


@pytest.mark.parametrize(
    ("frame", "wanted"),
    [
        (b"\x00\x01", "binary frame"),
        ("{'_type': 1", "not JSON"),
        ("[1, 2]", "not an object"),
        ('{"text": "hi"}', "a message without a _type .* has no _id"),
        ('{"_type": "wf_api_say_request", "text": "hi"}', "has no _id"),
        ('{"_type": "wf_api_say_request", "_id": ""}', "has an empty _id"),
        ('{"_type": "wf_api_say_request", "_id": 42}', r"has an _id that is a number \('42'\), not a string"),
        ('{"_type": "wf_api_say_request", "_id": null}', r"has an _id that is null \('null'\), not a string"),
        ('{"_type": "wf_api_say_request", "_id": ["a"]}', "has an _id that is a list"),
        ("[" * 100_000 + "]" * 100_000, "JSON nested too deeply to read"),  # not a RecursionError, exit 70
    ],
)
def test_malformed_frames(frame: Any, wanted: str) -> None:
    with pytest.raises(proto.ProtocolError, match=wanted):
        proto.parse(frame)


def interaction(srv: proto.Server, name: str = "i", now: float = 0.0, device: str = ALICE) -> str:
    """Open an interaction on ``device`` (and drain what the server sent about it); its urn."""
    assert (
        srv.handle(request("start_interaction", "open-" + name, _target=target(device), name=name), now).error is None
    )
    drain(srv, now + 1.0)
    return proto.interaction_urn(name, device)


def test_say_answers_with_the_request_id_then_prompt_started_and_stopped() -> None:
    srv = server(event_delay=0.5)
    interaction = globals()["interaction"](srv, "i", 8.0)
    assert srv.handle(request("say", "s1", _target=target(interaction), text="hi", lang="en-US"), 10.0).error is None
    assert drain(srv, 10.0) == [{"_id": "s1", "_type": "wf_api_say_response", "id": "s1"}]
    assert drain(srv, 10.4) == []
    assert drain(srv, 10.5) == [
        {"_type": "wf_api_prompt_event", "type": "started", "id": "s1", "source_uri": interaction}
    ]
    assert drain(srv, 11.0) == [
        {"_type": "wf_api_prompt_event", "type": "stopped", "id": "s1", "source_uri": interaction}
    ]


def test_interactions_start_resume_and_end() -> None:
    srv = server(event_delay=0)
    srv.handle(request("start_interaction", "a", _target=target(), name="hello world", options={}), 1.0)
    urn = "urn:relay-resource:name:interaction:hello%20world?device=urn%3Arelay-resource%3Aname%3Adevice%3AAlice"
    assert drain(srv, 1.0) == [
        {"_id": "a", "_type": "wf_api_start_interaction_response"},
        {"_type": "wf_api_interaction_lifecycle_event", "type": "started", "source_uri": urn},
        {"_type": "wf_api_interaction_lifecycle_event", "type": "resumed", "source_uri": urn},
    ]
    assert proto.short(urn) == "hello world@Alice"
    refused = srv.handle(request("end_interaction", "b", _target=target("urn:relay-resource:name:interaction:x")), 2.0)
    assert refused.error and "has no ?device=" in refused.error
    assert drain(srv, 2.0) == [{"_id": "b", "_type": "wf_api_error_response", "error": refused.error}]
    assert srv.handle(request("end_interaction", "c", _target=target(urn)), 3.0).error is None
    assert drain(srv, 3.0)[1] == {"_type": "wf_api_interaction_lifecycle_event", "type": "ended", "source_uri": urn}
    # relay-py's end_interaction also sends the name; a target that is the device is matched by it
    srv.handle(request("start_interaction", "d", _target=target(), name="again", options={}), 4.0)
    drain(srv, 4.0)
    assert srv.handle(request("end_interaction", "e", _target=target(), name="again"), 5.0).error is None


def test_an_inbound_call_answered_and_hung_up_by_the_caller() -> None:
    srv = server(event_delay=0.1, hold=2.0)
    received = srv.incoming_call(100.0, "Carol")
    assert received == {
        "_type": "wf_api_call_received_event",
        "call_id": "00000000000000000000000000000001",
        "direction": "inbound",
        "device_id": "990007560011111",  # the calling device, not the one the app runs for
        "device_name": "Carol",
        "uri": "urn:relay-resource:name:device:Carol",
        "onnet": True,
        "start_time_epoch": 100,
    }
    call_id = received["call_id"]
    assert srv.handle(request("answer", "a1", _target=target(), call_id=call_id), 101.0).error is None
    assert drain(srv, 101.0) == [{"_id": "a1", "_type": "wf_api_answer_response", "call_id": call_id}]
    [connected] = drain(srv, 101.1)
    assert connected["_type"] == "wf_api_call_connected_event" and connected["connect_time_epoch"] == 101
    assert srv.next_due() == pytest.approx(103.1)
    assert srv.remote_hangups(103.0) == []
    [gone] = srv.remote_hangups(103.2)
    assert gone["_type"] == "wf_api_call_disconnected_event"
    assert (gone["reason"], gone["end_time_epoch"]) == ("normal", 103)
    assert srv.next_due() is None
    # answering again, or an unknown call, is refused
    assert "not ringing" in str(srv.handle(request("answer", "a2", _target=target(), call_id=call_id), 104.0).error)
    assert "unknown call_id" in str(srv.handle(request("answer", "a3", _target=target(), call_id="x"), 104.0).error)
    assert "needs a call_id" in str(srv.handle(request("answer", "a4", _target=target()), 104.0).error)


@pytest.mark.parametrize("reject", [False, True])
def test_a_placed_call_rings_then_connects_or_fails(reject: bool) -> None:
    srv = server(event_delay=0.1, hold=-1, reject=reject, epoch_unit="ms", call_id_style="counter")
    srv.handle(request("call", "c1", _target=target(), uri=BOB), 50.0)
    assert drain(srv, 50.0) == [{"_id": "c1", "_type": "wf_api_call_response", "call_id": "call-1"}]
    [ringing] = drain(srv, 50.1)
    assert (
        ringing["_type"] == "wf_api_call_ringing_event" and ringing["direction"] == "outbound" and ringing["uri"] == BOB
    )
    [outcome] = drain(srv, 50.2)
    if reject:
        assert outcome["_type"] == "wf_api_call_failed_event"
        assert (outcome["reason"], outcome["connect_time_epoch"], outcome["end_time_epoch"]) == ("rejected", 0, 50200)
    else:
        assert outcome["_type"] == "wf_api_call_connected_event" and outcome["connect_time_epoch"] == 50200
        assert srv.next_due() is None  # hold < 0: Bob never hangs up


def test_relay_js_places_calls_by_device_name() -> None:
    srv = server(event_delay=0)
    assert srv.handle(request("call", "c1", _target=target(), device_name="Bob"), 1.0).error is None
    assert [m["_type"] for m in drain(srv, 1.0)][:2] == ["wf_api_call_response", "wf_api_call_ringing_event"]
    assert "needs the uri" in str(srv.handle(request("call", "c2", _target=target()), 1.0).error)


@pytest.mark.parametrize("after", [True, False])
def test_the_apps_own_hangup(after: bool) -> None:
    srv = server(event_delay=0, hold=-1, disconnect_after_hangup=after)
    call_id = srv.incoming_call(1.0, "Bob")["call_id"]
    srv.handle(request("answer", "a", _target=target(), call_id=call_id), 1.0)
    drain(srv, 1.0)
    assert srv.handle(request("hangup", "h", _target=target(), call_id=call_id), 2.0).error is None
    sent = [m["_type"] for m in drain(srv, 2.0)]
    assert sent == ["wf_api_hangup_response"] + (["wf_api_call_disconnected_event"] if after else [])
    assert "already ended" in str(srv.handle(request("hangup", "h2", _target=target(), call_id=call_id), 3.0).error)


def test_vars_device_info_other_requests_and_terminate() -> None:
    srv = server(vars={"greeting": "hi", "count": 3, "on": True})
    for req in [
        request("get_var", "1", name="greeting"),
        request("get_var", "2", name="count"),
        request("get_var", "3", name="missing"),
        request("set_var", "4", name="x", value="y"),
        request("get_var", "5", name="x"),
        request("get_device_info", "6", _target=target(), query="name", refresh=False),
        request("vibrate", "7", _target=target(), pattern=[100]),
        request("log_analytics_event", "8", content="{}", content_type="application/json", category="sdk"),
        request("create_incident", "9", type="help", originator_uri=ALICE),
        request("inbox_count", "10", _target=target()),
    ]:
        assert srv.handle(req, 1.0).error is None
    assert drain(srv, 1.0) == [
        {"_id": "1", "_type": "wf_api_get_var_response", "value": "hi"},
        {"_id": "2", "_type": "wf_api_get_var_response", "value": "3"},
        {"_id": "3", "_type": "wf_api_get_var_response"},
        {"_id": "4", "_type": "wf_api_set_var_response", "value": "y"},
        {"_id": "5", "_type": "wf_api_get_var_response", "value": "y"},
        {"_id": "6", "_type": "wf_api_get_device_info_response", "name": "Alice"},
        {"_id": "7", "_type": "wf_api_vibrate_response"},
        {"_id": "8", "_type": "wf_api_log_analytics_event_response"},
        {"_id": "9", "_type": "wf_api_create_incident_response", "incident_id": "00000000000000000000000000000001"},
        {"_id": "10", "_type": "wf_api_inbox_count_response", "count": "0"},
    ]
    assert "unknown device info query" in str(
        srv.handle(request("get_device_info", "13", _target=target(), query="mood"), 1.0).error
    )
    assert "_target" in str(srv.handle(request("say", "12", text="hi"), 1.0).error)
    drain(srv, 1.0)
    reply = srv.handle(request("terminate", "t"), 2.0)
    assert reply.terminated and reply.error is None
    assert drain(srv, 2.0) == [{"_type": "wf_api_stop_event", "reason": "normal"}]  # no response to terminate
    srv.handle(request("say", "11", _target=target(), text="late"), 3.0)
    assert drain(srv, 3.0) == []


def test_the_transcript_summary() -> None:
    assert proto.summarize(request("answer", call_id="0123456789abcdef0123456789abcdef", _target=target())) == (
        "answer",
        "call 01234567… on Alice",
    )
    assert proto.summarize(proto.event("call_start_request", uri=BOB, call_id="c")) == (
        "CALL_START_REQUEST",
        "the user asked to call Bob",
    )
    assert proto.summarize(proto.error_response("x", "no")) == ("error", "no")
    assert proto.summarize(request("say", text="\x1b[31mred", _target=target())) == ("say", "'\\x1b[31mred' on Alice")
    assert proto.summarize({"_id": "1", "_type": "wf_api_get_var_response", "value": "hi"}) == (
        "get_var response",
        "value=hi",
    )
    assert proto.summarize(request("terminate")) == ("terminate", "")


@given(st.text(min_size=1).filter(lambda t: not t.startswith(proto.URN_PREFIX)))
def test_device_urns_round_trip(name: str) -> None:
    urn = proto.device_urn(name)
    assert urn.startswith(proto.URN_PREFIX) and " " not in urn and "?" not in urn
    assert proto.short(urn) == name
    assert proto.short(proto.interaction_urn("talk", urn)) == f"talk@{name}"


# --- a whole run, with a fake clock and a scripted app -----------------------------------------------


class Run:
    def __init__(self, scenario: sc.Scenario, **sets: Any) -> None:
        params = sc.resolve_params(scenario, sets=[f"{k}={v}" for k, v in sets.items()])
        self.sim = sc.Simulation(scenario, params, timeout=2.0, start=1000.0, new_id=ids())
        self.now = 1000.0
        self.sent: list[dict[str, Any]] = []

    def tick(self, seconds: float = 0.0) -> list[dict[str, Any]]:
        self.now += seconds
        out = self.sim.advance(self.now)
        self.sent += out
        return out

    def app(self, _kind: str, _id: str, **fields: Any) -> list[dict[str, Any]]:
        self.sim.receive(json.dumps(request(_kind, _id, **fields)), self.now)
        return self.tick()


def test_a_whole_inbound_call() -> None:
    run = Run(builtin("inbound-call"), event_delay=0.1, hold=1)
    assert [m["_type"] for m in run.tick()] == ["wf_api_start_event", "wf_api_call_received_event"]
    call_id = run.sent[1]["call_id"]
    assert run.sim.next_deadline() == pytest.approx(1002.0)  # the timeout of step 3, expect answer
    run.tick(1.0)
    assert [m["_type"] for m in run.app("answer", "a", _target=target(), call_id=call_id)] == ["wf_api_answer_response"]
    assert run.sim.step_number == 4
    assert run.sim.next_deadline() == pytest.approx(1001.1)  # call_connected is due: no timeout while it is
    assert [m["_type"] for m in run.tick(0.1)] == ["wf_api_call_connected_event"]
    assert run.sim.next_deadline() == pytest.approx(1002.1)  # Bob hangs up after hold=1
    assert run.tick(0.5) == []
    assert [m["_type"] for m in run.tick(0.5)] == ["wf_api_call_disconnected_event"]
    assert run.sim.next_deadline() == pytest.approx(1004.1)  # now the app has the timeout to terminate
    assert run.app("terminate", "t") == [{"_type": "wf_api_stop_event", "reason": "normal"}]
    assert run.sim.passed and run.sim.done and run.sim.failure is None
    assert [(r.sender, r.step) for r in run.sim.records][:3] == [("server", 1), ("server", 2), ("app", 3)]


def test_a_whole_run_that_times_out_names_the_step() -> None:
    run = Run(builtin("outbound-call"))
    run.tick()
    run.app("start_interaction", "s", _target=target(), name="x", options={})
    run.tick(0.1)  # lifecycle events
    run.tick(1.9)
    assert not run.sim.done
    run.tick(0.2)
    assert run.sim.failure is not None
    assert run.sim.failure.text() == (
        "step 3 (expect call): the app sent no call request within 2s; meanwhile the app sent start_interaction"
    )


def test_a_terminate_before_the_expected_request_fails_at_once() -> None:
    run = Run(builtin("inbound-call"))
    run.tick()
    run.app("terminate", "t")
    assert run.sim.failure is not None and run.sim.failure.step == 3
    assert "terminated without sending an answer request" in run.sim.failure.reason
    assert run.sent[-1] == {"_type": "wf_api_stop_event", "reason": "normal"}  # the server still stops the app


def test_a_close_before_terminate_fails_and_hints_at_the_path() -> None:
    run = Run(builtin("phrase"))
    run.tick()
    run.sim.closed(run.now, 1000)
    assert run.sim.failure is not None
    assert (
        run.sim.failure.text()
        == "step 2 (expect terminate): the app closed the connection (code 1000) before terminating"
    )
    assert run.sim.failure.hint and "path" in run.sim.failure.hint


def test_conditional_steps_and_scripted_call_events() -> None:
    text = """
[params]
ring = true
[[steps]]
send = "start"
trigger = "telephony"
[[steps]]
send = "call_received"
from = "Bob"
[[steps]]
send = "call_ringing"
if = "ring"
[[steps]]
send = "call_disconnected"
unless = "ring"
fields = { reason = "busy" }
[[steps]]
wait = 0.5
"""
    scenario = sc.parse(text, "c.toml")
    ringing = Run(scenario)
    assert [m["_type"].removeprefix("wf_api_") for m in ringing.tick()] == [
        "start_event",
        "call_received_event",
        "call_ringing_event",
    ]
    busy = Run(scenario, ring="false")
    sent = busy.tick()
    assert [m["_type"].removeprefix("wf_api_") for m in sent] == [
        "start_event",
        "call_received_event",
        "call_disconnected_event",
    ]
    assert sent[-1]["reason"] == "busy"
    busy.tick(0.5)
    assert busy.sim.step_number == 6  # the implied terminate, numbered after the file's five steps
    early = Run(sc.parse('[[steps]]\nsend = "call_connected"\n', "n.toml"))
    early.tick()
    assert early.sim.failure is not None and "there is no call" in early.sim.failure.reason


# --- issue 13: what the published SDKs send and read ------------------------------------------------


def test_a_timer_fired_step_sends_the_named_event() -> None:
    """``send = "timer_fired"`` once crashed the simulator: ``name`` collided with event()'s own parameter."""
    run = Run(sc.parse('[[steps]]\nsend = "timer_fired"\nname = "reminder"\n[[steps]]\nsend = "timer"\n', "t.toml"))
    assert run.tick() == [{"_type": "wf_api_timer_fired_event", "name": "reminder"}, {"_type": "wf_api_timer_event"}]
    assert proto.event("timer_fired", name="x") == {"_type": "wf_api_timer_fired_event", "name": "x"}


def test_the_unnamed_timer_repeats_on_the_simulated_clock_until_stopped() -> None:
    srv = server()
    assert srv.handle(request("start_timer", "t", timeout=2), 10.0).error is None
    assert drain(srv, 10.0) == [{"_id": "t", "_type": "wf_api_start_timer_response"}]
    assert drain(srv, 11.9) == []
    assert drain(srv, 12.0) == [{"_type": "wf_api_timer_event"}]  # relay-py: on_timer; relay-js: Event.TIMER
    assert drain(srv, 14.0) == [{"_type": "wf_api_timer_event"}]
    srv.handle(request("stop_timer", "s"), 14.5)
    assert drain(srv, 20.0) == [{"_id": "s", "_type": "wf_api_stop_timer_response"}]
    assert srv.next_due() is None
    # unnamed_timer=timeout: it fires once; a var's string works as the timeout (the SDK samples pass one)
    once = server(unnamed_timer="timeout")
    once.handle(request("start_timer", "t", timeout="1"), 0.0)
    assert [m["_type"] for m in drain(once, 5.0)] == ["wf_api_start_timer_response", "wf_api_timer_event"]
    assert once.next_due() is None


def test_named_timers_fire_with_their_name_repeat_and_clear() -> None:
    srv = server()
    srv.handle(request("set_timer", "a", type="timeout", name="once", timeout=250, timeout_type="ms"), 0.0)
    srv.handle(request("set_timer", "b", type="interval", name="tick", timeout=1), 0.0)  # timeout_type: secs
    drain(srv, 0.0)
    assert drain(srv, 0.25) == [{"_type": "wf_api_timer_fired_event", "name": "once"}]
    assert drain(srv, 1.0) == [{"_type": "wf_api_timer_fired_event", "name": "tick"}]
    assert drain(srv, 2.0) == [{"_type": "wf_api_timer_fired_event", "name": "tick"}]
    assert drain(srv, 2.5) == []
    srv.handle(request("clear_timer", "c", name="tick"), 2.5)
    assert drain(srv, 10.0) == [{"_id": "c", "_type": "wf_api_clear_timer_response"}]
    srv.handle(request("set_timer", "d", type="timeout", name="again", timeout=1, timeout_type="mins"), 10.0)
    srv.handle(request("set_timer", "e", type="timeout", name="again", timeout=2, timeout_type="secs"), 10.0)
    drain(srv, 10.0)
    assert drain(srv, 70.0) == [{"_type": "wf_api_timer_fired_event", "name": "again"}]  # set again: only once, at 12
    srv.handle(request("set_timer", "f", type="interval", name="late", timeout=1), 70.0)
    srv.handle(request("terminate", "g"), 70.5)
    assert [m["_type"] for m in drain(srv, 80.0)] == ["wf_api_set_timer_response", "wf_api_stop_event"]


@pytest.mark.parametrize(
    ("fields", "wanted"),
    [
        ({"type": "timeout", "timeout": 1}, "set_timer needs a name"),
        ({"name": "x", "type": "daily", "timeout": 1}, "type must be timeout or interval"),
        ({"name": "x", "type": "interval", "timeout": 0}, "needs a timeout > 0"),
        ({"name": "x", "timeout": 1, "timeout_type": "days"}, "timeout_type must be one of ms, secs, mins, hrs"),
    ],
)
def test_bad_timers_are_refused(fields: dict[str, Any], wanted: str) -> None:
    assert wanted in str(server().handle(request("set_timer", "x", **fields), 0.0).error)


def test_an_interval_timer_does_not_keep_a_silent_app_alive() -> None:
    text = '[[steps]]\nsend = "start"\ntrigger = "button"\n[[steps]]\nexpect = "terminate"\ntimeout = 3\n'
    run = Run(sc.parse(text, "i.toml"))
    run.tick()
    run.app("set_timer", "t", type="interval", name="tick", timeout=1)
    for _ in range(3):
        assert run.tick(1.0) == [{"_type": "wf_api_timer_fired_event", "name": "tick"}]
    assert run.sim.failure is not None and "did not terminate within 3s" in run.sim.failure.reason
    # a one-shot timer longer than the timeout: the app is waiting for it, not stuck
    patient = Run(sc.parse(text, "o.toml"))
    patient.tick()
    patient.app("set_timer", "t", type="timeout", name="later", timeout=5)
    assert patient.sim.next_deadline() == pytest.approx(1005.0)
    assert patient.tick(5.0) == [{"_type": "wf_api_timer_fired_event", "name": "later"}]
    assert patient.app("terminate", "x") == [{"_type": "wf_api_stop_event", "reason": "normal"}]
    assert patient.sim.passed


def test_prompt_events_follow_the_response_after_a_speaking_time() -> None:
    srv = server(event_delay=0.05, speaking_rate=120, play_time=3)  # 120 words a minute: half a second a word
    talk = interaction(srv, "talk", -5.0)
    srv.handle(request("say", "s", _target=target(talk), text="Now in call"), 0.0)
    assert drain(srv, 0.0) == [{"_id": "s", "_type": "wf_api_say_response", "id": "s"}]
    assert [m["type"] for m in drain(srv, 0.05)] == ["started"]
    assert drain(srv, 1.54) == []
    assert [m["type"] for m in drain(srv, 1.55)] == ["stopped"]  # 3 words: 1.5 s after started
    srv.handle(request("play", "p", _target=target(talk), filename="chime.wav"), 10.0)
    drain(srv, 10.05)
    assert drain(srv, 13.0) == []
    assert drain(srv, 13.05) == [{"_type": "wf_api_prompt_event", "type": "stopped", "id": "p", "source_uri": talk}]
    srv.handle(request("listen", "l", _target=target(talk), phrases=[], transcribe=True, timeout=60), 20.0)
    assert drain(srv, 20.5) == [{"_id": "l", "_type": "wf_api_listen_response"}]  # "yes": one word
    assert drain(srv, 20.55)[0]["request_id"] == "l"


def test_an_event_delay_the_sdks_do_not_tolerate_is_warned_about() -> None:
    assert proto.option_warnings({"event_delay": 0.05}) == []
    [warning] = proto.option_warnings({"event_delay": 0})
    assert warning.startswith("event_delay=0: ") and "sayAndWait, playAndWait and listen" in warning


def test_device_info_answers_every_query_the_sdks_send() -> None:
    srv = server()
    queries = [
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
    ]
    answers = {}
    for i, query in enumerate(queries):  # relay-js DeviceInfoQuery, relay-py _get_device_info callers
        assert (
            srv.handle(request("get_device_info", str(i), _target=target(), query=query, refresh=False), 0.0).error
            is None
        )
        [reply] = drain(srv, 0.0)
        answers.update({k: v for k, v in reply.items() if k not in ("_id", "_type")})
    assert answers["name"] == "Alice" and answers["id"] == "990007560045678" and answers["location_enabled"] is True
    assert isinstance(answers["battery"], int) and answers["type"] == "relay"
    # relay-js turns an array of whole numbers 0..127 into a string, relay-py any all-int array: never send one
    assert all(isinstance(x, float) and not x.is_integer() for x in answers["latlong"])
    assert all(not isinstance(v, list) or not all(isinstance(x, int) for x in v) for v in answers.values())
    for field, value in [("label", "Alicia"), ("location_enabled", "false"), ("channel", "ops")]:
        assert (
            srv.handle(request("set_device_info", "x", _target=target(), field=field, value=value), 1.0).error is None
        )
    srv.handle(request("set_user_profile", "y", _target=target(), username="night-shift", force=False), 1.0)
    drain(srv, 1.0)
    for query, expected in [("name", "Alicia"), ("location_enabled", False), ("username", "night-shift")]:
        srv.handle(request("get_device_info", "z", _target=target(), query=query), 2.0)
        assert drain(srv, 2.0)[0][query] == expected
    assert "'true' or 'false'" in str(
        srv.handle(request("set_device_info", "w", _target=target(), field="location_enabled", value="on"), 3.0).error
    )


def test_is_member_agrees_with_list_members() -> None:
    srv = server()
    front_desk = "urn:relay-resource:name:group:Front%20desk"

    def ask(query: str, uri: str) -> dict[str, Any]:
        assert srv.handle(request("group_query", "g", group_uri=uri, query=query), 0.0).error is None
        [reply] = drain(srv, 0.0)
        return reply

    assert ask("list_members", front_desk)["member_uris"] == [ALICE, BOB]
    for name, member in [("Alice", True), ("Bob", True), ("Carol", False)]:
        # relay-js isGroupMember: group name urn + ?device=<the device's name urn, url-encoded>
        uri = f"{front_desk}?device=urn%3Arelay-resource%3Aname%3Adevice%3A{name}"
        assert ask("is_member", uri)["is_member"] is member
    # a group or a device the account does not have is refused, as the server refuses what it cannot find
    unknown = srv.handle(request("group_query", "u", group_uri="urn:relay-resource:name:group:security",
                                 query="list_members"), 0.0)  # fmt: skip
    assert unknown.error == "no group named 'security' in the account (its groups: Front desk)"
    nobody = srv.handle(request("group_query", "v", query="is_member",
                                group_uri=f"{front_desk}?device=urn%3Arelay-resource%3Aname%3Adevice%3AZed"), 0.0)  # fmt: skip
    assert nobody.error == "no device named 'Zed' in the account (its devices: Alice, Bob, Carol)"
    drain(srv, 0.0)
    assert "list_members or is_member" in str(
        srv.handle(request("group_query", "h", group_uri=front_desk, query="count"), 0.0).error
    )


def test_notifications_and_incidents() -> None:
    srv = server()
    srv.handle(request("notification", "n", _target=target("urn:relay-resource:name:group:Front%20desk"),
                       originator=ALICE, type="alert", name="help", text="Help needed"), 0.0)  # fmt: skip
    assert drain(srv, 0.0) == [{"_id": "n", "_type": "wf_api_notification_response"}]
    assert srv.notification_event("help", "ack_event", "Bob") == {
        "_type": "wf_api_notification_event",
        "event": "ack_event",
        "name": "help",
        "notification_state": {"created": [ALICE, BOB], "acknowledged": [BOB], "cancelled": [], "timed_out": []},
        "source_uri": BOB,
    }
    srv.handle(request("resolve_incident", "r", incident_id="inc-1", reason="all clear"), 1.0)
    assert drain(srv, 1.0) == [{"_id": "r", "_type": "wf_api_resolve_incident_response"}]
    assert drain(srv, 2.0) == [
        {"_type": "wf_api_incident_event", "type": "resolved", "incident_id": "inc-1", "reason": "all clear"}
    ]


def test_a_button_tap_lands_in_the_open_interaction() -> None:
    srv = server(event_delay=0)
    assert srv.button_event("action", "single")["source_uri"] == ALICE
    srv.handle(request("start_interaction", "i", _target=target(), name="menu"), 0.0)
    assert srv.button_event("action", "double")["source_uri"] == proto.interaction_urn("menu", ALICE)


@pytest.mark.parametrize(
    ("code", "reason", "hinted"),
    [(1000, "", True), (None, "", True), (1011, "", False), (1000, "bye", False), (4000, "not mine", False)],
)
def test_the_path_hint_only_when_the_app_closed_as_for_an_unknown_path(
    code: int | None, reason: str, hinted: bool
) -> None:
    run = Run(builtin("phrase"))
    run.tick()
    run.sim.closed(run.now, code, reason)
    assert run.sim.failure is not None
    assert (run.sim.failure.hint is not None) is hinted
    assert ("without a close frame" if code is None else f"code {code}") in run.sim.failure.reason
    if reason:
        assert repr(reason) in run.sim.failure.reason


def test_the_pure_modules_import_no_io_library() -> None:
    """protocol.py and scenario.py are the simulator's pure half: no websockets, HTTP client, CLI or terminal."""
    import subprocess
    import sys

    code = (
        "import sys, relay_cli.simulator.protocol, relay_cli.simulator.scenario\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'websockets', 'httpx', 'typer', 'rich', 'asyncio'}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("name", "sets", "start"),
    [
        ("button", {"taps": "triple"}, {"type": "button", "args": {"source_uri": ALICE, "action": "action_button_triple_tap"}}),
        ("phrase", {"phrase": "hey relay"}, {"type": "phrase", "args": {"source_uri": ALICE, "phrase": "hey relay", "spillover": ""}}),
        ("inbound-call", {"call_trigger_type": "call"}, {"type": "call", "args": {"source_uri": ALICE}}),
        ("trigger", {"trigger": "nfc"}, {"type": "nfc", "args": {"source_uri": ALICE, "uid": "", "nfc_payload": {}}}),
        ("trigger", {"trigger": "timer"}, {"type": "calendar", "args": {"source_uri": ALICE}}),
    ],
)  # fmt: skip
def test_the_built_in_scenarios_send_the_start_of_the_trigger_table(
    name: str, sets: dict[str, Any], start: dict[str, Any]
) -> None:
    """The built-in scenarios name a trigger of `relay workflow create`; its START comes from core.triggers, the
    one place it is written (the sandbox sends the same)."""
    run = Run(builtin(name), **sets)
    assert run.tick()[0] == {"_type": "wf_api_start_event", "trigger": start}


def test_a_start_step_with_args_or_an_unknown_trigger_is_sent_as_written() -> None:
    text = '[[steps]]\nsend = "start"\ntrigger = "button"\nargs = { action = "custom" }\n'
    assert Run(sc.parse(text, "a.toml")).tick()[0]["trigger"] == {
        "type": "button",
        "args": {"source_uri": ALICE, "action": "custom"},
    }
    text = '[[steps]]\nsend = "start"\ntrigger = "telephony"\n'
    assert Run(sc.parse(text, "b.toml")).tick()[0]["trigger"] == {"type": "telephony", "args": {"source_uri": ALICE}}


def test_the_server_can_end_a_run_with_stop() -> None:
    """The sandbox's `relay workflow instance stop`: STOP with the reason, the run is over, and it is no failure."""
    run = Run(builtin("button"))
    run.tick()
    assert run.sim.stop(run.now, "stopped") == [{"_type": "wf_api_stop_event", "reason": "stopped"}]
    assert run.sim.done and run.sim.failure is None and run.sim.stopped == "stopped"
    assert run.sim.records[-1].message == {"_type": "wf_api_stop_event", "reason": "stopped"}
    assert run.sim.stop(run.now, "again") == []  # once


# --- issue 22: a world of devices --------------------------------------------------------------------------


def ask(srv: proto.Server, _kind: str, now: float = 0.0, **fields: Any) -> dict[str, Any]:
    """Send one request; the response (or the error response) the server sends for it at once."""
    srv.handle(request(_kind, "q", **fields), now)
    return next(m for m in drain(srv, now) if m.get("_id") == "q")


def test_each_device_answers_for_itself_and_setters_change_the_target() -> None:
    world = proto.World(
        devices={"990007560045678": "Alice", "990007560023456": "Bob"},
        info={"990007560023456": {"battery": 12, "indoor_location": "Dock"}},
    )
    srv = proto.Server(sc.resolve_params(builtin("button"), world=world), new_id=ids(), world=world)
    bob_by_id = "urn:relay-resource:id:device:990007560023456"

    def info(urn: str, query: str) -> Any:
        return ask(srv, "get_device_info", _target=target(urn), query=query)[query]

    assert (info(BOB, "name"), info(BOB, "id"), info(bob_by_id, "name")) == ("Bob", "990007560023456", "Bob")
    assert (info(BOB, "battery"), info(BOB, "indoor_location"), info(ALICE, "battery")) == (12, "Dock", 87)
    ask(srv, "set_device_info", _target=target(BOB), field="label", value="Robert")
    ask(srv, "set_device_info", _target=target(bob_by_id), field="location_enabled", value="false")
    ask(srv, "set_user_profile", _target=target(BOB), username="robert")
    assert (info(BOB, "name"), info("urn:relay-resource:name:device:Robert", "name")) == ("Robert", "Robert")
    assert (info(BOB, "location_enabled"), info(BOB, "username")) == (False, "robert")
    assert (info(ALICE, "name"), info(ALICE, "location_enabled"), info(ALICE, "username")) == ("Alice", True, "alice")
    # an interaction urn names its device
    talk = interaction(srv, "talk", 1.0, BOB)
    assert info(talk, "name") == "Robert"
    # a name another device has is refused; an unknown device is an error response naming the account's devices
    taken = ask(srv, "set_device_info", _target=target(ALICE), field="label", value="robert")
    assert taken["error"] == "cannot name Alice 'robert': another device of the account has that name"
    zed = ask(srv, "get_device_info", _target=target("urn:relay-resource:name:device:Zed"), query="name")
    assert zed == {"_id": "q", "_type": "wf_api_error_response",
                   "error": "no device named 'Zed' in the account (its devices: Alice, Robert)"}  # fmt: skip
    nobody = ask(srv, "vibrate", _target=target("urn:relay-resource:id:device:1"), pattern=[1])
    assert nobody["error"] == "no device with id '1' in the account (its devices: Alice, Robert)"


@pytest.mark.parametrize(
    ("name", "fields", "wanted"),
    [
        ("say", {"text": "hi"}, 'say needs a _target: {"uris": ["urn:relay-resource:..."]}'),
        ("vibrate", {"_target": ALICE}, "vibrate's _target must be an object {\"uris\": [\"urn:relay-resource:...\"]}, got '\"urn:"),
        ("vibrate", {"_target": {"uris": ALICE}}, "vibrate's _target.uris must be a list of urns, got '\"urn:"),
        ("vibrate", {"_target": {"uris": []}}, "vibrate's _target.uris is empty"),
        # relay-py wraps what it is given in a list: a list of urns becomes {"uris": [[...]]}
        ("set_led", {"_target": {"uris": [[ALICE, BOB]]}, "effect": "off"},
         "set_led's _target.uris[0] is a list ('[\"urn:relay-resource:name:device:Alice\", \"urn:relay-resource:name:device:Bob\"]'), not a urn: relay-py sends {\"uris\": [[...]]} when a method is given a list; pass one urn"),
        ("vibrate", {"_target": {"uris": [None]}}, "vibrate's _target.uris[0] is null ('null'), not a urn string"),
        ("vibrate", {"_target": {"uris": ["Bob"]}}, "vibrate's _target.uris[0] is 'Bob', not a urn:relay-resource:<id|name>:<type>:<value> urn"),
        ("get_device_info", {"_target": {"uris": [ALICE, BOB]}, "query": "name"}, "get_device_info takes one target, got 2"),
        ("get_device_info", {"_target": target("urn:relay-resource:name:group:Front%20desk"), "query": "name"},
         "get_device_info targets a device or interaction, not a group"),
        ("say", {"_target": target(ALICE), "text": "hi"},
         "say needs an interaction urn, got the device urn 'urn:relay-resource:name:device:Alice': start_interaction first"),
        ("listen", {"_target": target(proto.interaction_urn("gone", ALICE))}, "no interaction 'gone' on Alice (start_interaction opens one)"),
        ("notification", {"_target": target("urn:relay-resource:name:group:Night"), "name": "n", "type": "alert"},
         "no group named 'Night' in the account (its groups: Front desk)"),
        ("start_interaction", {"_target": target(SERVER := proto.SERVER_URN), "name": "x"},
         f"start_interaction's _target.uris[0] is a server urn ('{SERVER}'); a target is a device, an interaction or a group"),
        ("answer", {"_target": target(BOB), "call_id": "c"}, "unknown call_id 'c'"),
    ],
)  # fmt: skip
def test_targets_are_checked_in_the_shapes_the_sdks_send(name: str, fields: dict[str, Any], wanted: str) -> None:
    srv = server()
    reply = ask(srv, name, **fields)
    assert reply["_type"] == "wf_api_error_response" and reply["error"].startswith(wanted), reply["error"]


def test_an_ended_interaction_and_all_devices_as_targets() -> None:
    srv = server(event_delay=0)
    urn = interaction(srv, "menu")
    assert ask(srv, "end_interaction", 2.0, _target=target(urn))["_type"] == "wf_api_end_interaction_response"
    assert ask(srv, "say", 3.0, _target=target(urn), text="late")["error"] == "interaction 'menu' on Alice has ended"
    everyone = ask(srv, "notification", _target=target(proto.ALL_DEVICES_URN), name="all", type="broadcast", text="hi")
    assert everyone["_type"] == "wf_api_notification_response"
    assert srv.notification_event("all", "ack_event", "Bob")["notification_state"]["created"] == [
        ALICE, BOB, "urn:relay-resource:name:device:Carol",
    ]  # fmt: skip


def test_unknown_requests_are_refused_with_a_warning() -> None:
    srv = server()
    # a message the server can answer (it has an _id) but not a request: refused, as relay-py's own
    # Relay._invalid_type helper expects (it awaits an error response)
    for message, error in [
        ({"_id": "q"}, "no _type"),
        ({"_id": "q", "_type": "wf_api_mkinard_breakage"}, "_type 'wf_api_mkinard_breakage' is not a request"),
        ({"_id": "q", "_type": "wf_api_call_connected_event"}, "_type 'wf_api_call_connected_event' is not a request"),
    ]:
        assert proto.parse(json.dumps(message)) == message
        assert (
            srv.handle(message, 0.0).error
            == f"{error} (wf_api_<name>_request): the Relay server serves no such message"
        )
        assert drain(srv, 0.0)[0]["_type"] == "wf_api_error_response" and len(srv.take_warnings()) == 1
    for _type, hint in [("sya", " (did you mean say?)"), ("get_device_label", " (did you mean get_device_info?)"),
                        ("mkinard_breakage", "")]:  # fmt: skip
        reply = ask(srv, _type)
        error = f"unknown request wf_api_{_type}_request{hint}: the Relay server serves no such request"
        assert reply == {"_id": "q", "_type": "wf_api_error_response", "error": error}
        assert srv.take_warnings() == [f"{error}; it was refused with wf_api_error_response"]
    assert set(proto.REQUESTS) >= {"stop_playback", "sms", "register", "play_inbox_messages", "set_channel"}


# --- refusals an app survives ------------------------------------------------------------------------------


def test_the_caller_hangs_up_before_the_app_answers() -> None:
    """missed-call: the refused answer is what step 4 expects; the app recovers and terminates: the run passes."""
    run = Run(builtin("missed-call"), event_delay=0)
    sent = run.tick()
    assert [m["_type"] for m in sent] == [
        "wf_api_start_event",
        "wf_api_call_received_event",
        "wf_api_call_disconnected_event",
    ]
    answer = run.app("answer", "a", _target=target(), call_id=sent[1]["call_id"])
    assert answer == [{"_id": "a", "_type": "wf_api_error_response",
                       "error": f"call {sent[1]['call_id']} is not ringing (it has ended: the caller hung up)"}]  # fmt: skip
    assert not run.sim.done and run.sim.step_number == 5
    run.app("terminate", "t")
    assert run.sim.passed and run.sim.failure is None


def test_a_refused_request_does_not_end_the_run_and_a_step_says_whether_it_expects_one() -> None:
    text = '[[steps]]\nsend = "start"\ntrigger = "button"\n[[steps]]\nexpect = "get_var"\nrefused = "{why}"\n[params]\nwhy = "needs a name"\n'
    run = Run(sc.parse(text, "r.toml"))
    run.tick()
    run.app("get_var", "ok", name="x")  # accepted: not what the step expects
    assert not run.sim.done and run.sim.step_number == 2
    run.app("get_var", "bad")  # refused, as the step says
    assert run.sim.step_number == 3 and run.sim.failure is None
    late = Run(sc.parse(text, "r.toml"))
    late.tick()
    late.app("get_var", "ok", name="x")
    late.tick(2.0)
    assert late.sim.failure is not None
    assert late.sim.failure.text() == (
        "step 2 (expect get_var, refused with 'needs a name'): the app sent no get_var request that matches within 2s; "
        "near misses: get_var at 0.000s: the server accepted it (the step expects it refused)"
    )
    # a step without refused is met only by an accepted request: a refused one is a near miss, named
    plain = Run(sc.parse(text.replace('refused = "{why}"\n', ""), "p.toml"))
    plain.tick()
    plain.app("get_var", "bad")
    plain.tick(2.0)
    assert plain.sim.failure is not None and plain.sim.failure.reason.endswith(
        "near misses: get_var at 0.000s: the server refused it: get_var needs a name"
    )


# --- scenarios that read like the conversation ---------------------------------------------------------------


def test_expect_skips_requests_that_do_not_match_and_names_them_when_none_does() -> None:
    text = (
        '[[steps]]\nsend = "start"\ntrigger = "button"\n[[steps]]\nexpect = "say"\ncheck = { text = "Now in call" }\n'
    )
    run = Run(sc.parse(text, "s.toml"), event_delay=0)
    run.tick()
    talk = proto.interaction_urn("t", ALICE)
    run.app("start_interaction", "i", _target=target(), name="t")
    run.app("say", "s1", _target=target(talk), text="Connecting you")
    assert run.sim.step_number == 2  # not that one
    run.app("say", "s2", _target=target(talk), text="Now in call")
    assert run.sim.step_number == 3
    missing = Run(sc.parse(text, "s.toml"), event_delay=0, speaking_rate=6000)
    missing.tick()
    missing.app("start_interaction", "i", _target=target(), name="t")
    for n in range(5):
        missing.app("say", f"s{n}", _target=target(talk), text=f"Connecting {n}")
    missing.tick(2.0)  # the says' prompts gave the app the step's timeout again; then it ran out
    missing.tick(2.0)
    assert missing.sim.failure is not None
    reason = missing.sim.failure.reason
    assert reason.startswith("the app sent no say request that matches within 2s; near misses: say at 0.000s: "
                             "its text is 'Connecting 0', expected 'Now in call'; ")  # fmt: skip
    assert reason.endswith("(and 2 more)")


def test_the_step_timeout_is_not_renewed_by_the_responses_to_a_chatty_app() -> None:
    """Each response used to give the app the step's timeout again: an app that kept asking never failed."""
    text = '[[steps]]\nsend = "start"\ntrigger = "button"\n[[steps]]\nexpect = "terminate"\ntimeout = 1\n'
    run = Run(sc.parse(text, "c.toml"))
    run.tick()
    for _ in range(12):
        run.tick(0.1)
        run.app("get_var", "g", name="x")
    assert (
        run.sim.failure is not None
        and "did not terminate within 1s; meanwhile the app sent get_var" in run.sim.failure.reason
    )


def test_the_whole_run_has_a_limit() -> None:
    """An app that keeps the conversation going (events keep coming) still ends at max_time."""
    text = '[[steps]]\nsend = "start"\ntrigger = "button"\n[[steps]]\nexpect = "terminate"\ntimeout = 1\n'
    scenario = sc.parse(text, "m.toml")
    params = sc.resolve_params(scenario, sets=["event_delay=0", "speaking_rate=6000"])
    sim = sc.Simulation(scenario, params, timeout=1.0, start=0.0, new_id=ids(), max_time=5.0)
    sim.advance(0.0)
    now = 0.0
    sim.receive(json.dumps(request("start_interaction", "i", _target=target(), name="loop")), now)
    while not sim.done and now < 10:
        now += 0.25
        sim.receive(
            json.dumps(request("say", f"s{now}", _target=target(proto.interaction_urn("loop", ALICE)), text="again")),
            now,
        )
        sim.advance(now)
    assert sim.failure is not None and now == 5.0
    assert sim.failure.reason == "the run did not end within --max-time 5s (the app sent 21 requests meanwhile)"
    assert sim.next_deadline() is None
    fresh = sc.Simulation(scenario, params, timeout=1.0, start=0.0, new_id=ids(), max_time=5.0)
    assert fresh.next_deadline() == 5.0 and sc.Simulation(scenario, params, timeout=1.0, start=0.0).max_time is None


def test_speech_steps_answer_the_next_listen_turn_by_turn() -> None:
    text = """
[[steps]]
send = "start"
trigger = "button"
[[steps]]
send = "speech"
text = "Pizza!"
[[steps]]
expect = "say"
[[steps]]
send = "speech"
text = "maybe"
lang = "fr-FR"
"""
    run = Run(sc.parse(text, "d.toml"), event_delay=0, speaking_rate=6000)
    run.tick()  # the first speech is said before any listen: it waits for one
    talk = interaction(run.sim.server, "order", run.now)
    run.app("listen", "l1", _target=target(talk), phrases=["pizza", "pasta"])
    heard = run.tick(1.0)
    assert heard == [
        {"_type": "wf_api_speech_event", "request_id": "l1", "text": "pizza", "lang": "en-US", "source_uri": talk}
    ]
    run.app("listen", "l2", _target=target(talk), phrases=["yes", "no"])  # opened before the next speech step
    assert run.tick(1.0) == []  # the scenario's next speech answers it, not "yes"
    run.app("say", "s", _target=target(talk), text="Sure?")  # step 3 met; step 4 speaks
    [second] = [m for m in run.tick(1.0) if m["_type"] == "wf_api_speech_event"]
    assert (second["request_id"], second["text"], second["lang"]) == ("l2", "", "fr-FR")
    assert [r.warning for r in run.sim.records if r.warning] == [
        "the user said 'maybe', none of the phrases the app listens for ('yes', 'no'): the device recognises nothing (text '')"
    ]
    # no speech step left: a listen hears its first phrase (or "yes"), or audio when it does not transcribe
    run.app("listen", "l3", _target=target(talk), phrases=["blue", "red"])
    run.app("listen", "l4", _target=target(talk), transcribe=False)
    rest = [m for m in run.tick(1.0) if m["_type"] == "wf_api_speech_event"]
    assert rest[0]["text"] == "blue" and "text" not in rest[1] and rest[1]["audio"].startswith("UklGR")


def test_interaction_lifecycle_progress_sms_resume_and_inbox_steps() -> None:
    text = """
[[steps]]
send = "start"
trigger = "button"
[[steps]]
expect = "start_interaction"
[[steps]]
send = "interaction_suspended"
[[steps]]
send = "interaction_resumed"
interaction = "job"
reason = "back"
[[steps]]
send = "progress"
[[steps]]
expect = "sms"
[[steps]]
send = "sms"
event = { status = "delivered" }
[[steps]]
send = "resume"
trigger = "button"
[[steps]]
send = "play_inbox_message"
action = "started"
[[steps]]
send = "interaction_failed"
"""
    run = Run(sc.parse(text, "l.toml"), event_delay=0)
    run.tick()
    sent = run.app("start_interaction", "i", _target=target(), name="job")[3:]  # after the response, started, resumed
    urn = proto.interaction_urn("job", ALICE)
    assert sent[:2] == [
        {"_type": "wf_api_interaction_lifecycle_event", "type": "suspended", "source_uri": urn},
        {"_type": "wf_api_interaction_lifecycle_event", "type": "resumed", "source_uri": urn, "reason": "back"},
    ]
    assert sent[2] == {"_type": "wf_api_progress_event"}
    answered = run.app("sms", "m", type="sms", text="hi", uri="tel:+15555550100")
    message_id = answered[0]["message_id"]
    assert answered[1:] == [
        {"_type": "wf_api_sms_event", "id": message_id, "event": {"status": "delivered"}},
        {
            "_type": "wf_api_resume_event",
            "trigger": {"type": "button", "args": {"source_uri": ALICE, "action": "action_button_single_tap"}},
        },
        {"_type": "wf_api_play_inbox_message_event", "action": "started"},
        {"_type": "wf_api_interaction_lifecycle_event", "type": "failed", "source_uri": urn},
    ]
    failed = run.app("say", "x", _target=target(urn), text="still there?")  # a failed interaction has ended
    assert failed[0]["error"] == "interaction 'job' on Alice has ended"
    none = Run(sc.parse('[[steps]]\nsend = "interaction_suspended"\n', "n.toml"))
    none.tick()
    assert none.sim.failure is not None and none.sim.failure.reason == (
        "there is no open interaction to send interaction_suspended about"
    )


def test_prompts_on_one_device_are_queued_and_stop_playback_stops_them() -> None:
    srv = server(event_delay=0.1, speaking_rate=60)  # a second a word
    talk = interaction(srv, "talk", -2.0)
    srv.handle(request("say", "a", _target=target(talk), text="one two"), 0.0)  # relay-js say(): no wait
    srv.handle(request("say", "b", _target=target(talk), text="three"), 0.0)  # then sayAndWait: after "a" stops
    timeline = []
    for now in [x / 10 for x in range(40)]:
        timeline += [(now, m["id"], m["type"]) for m in drain(srv, now) if m["_type"] == "wf_api_prompt_event"]
    assert timeline == [(0.1, "a", "started"), (2.1, "a", "stopped"), (2.1, "b", "started"), (3.1, "b", "stopped")]
    # relay-py stop_playback(target, ids): the named prompt stops now (its stopped event at once), the other plays
    srv.handle(request("say", "c", _target=target(talk), text="a long prompt"), 10.0)
    srv.handle(request("play", "d", _target=target(talk), filename="x.wav"), 10.0)
    drain(srv, 10.5)
    srv.handle(request("stop_playback", "s", _target=target(talk), ids=["c"]), 11.0)
    assert drain(srv, 11.0) == [
        {"_id": "s", "_type": "wf_api_stop_playback_response"},
        {"_type": "wf_api_prompt_event", "type": "stopped", "id": "c", "source_uri": talk},
    ]
    srv.handle(request("stop_playback", "t", _target=target(ALICE)), 11.5)  # no ids: everything on the device
    assert [m.get("id") for m in drain(srv, 11.5)] == [None, "d"]
    assert [m for m in drain(srv, 30.0) if m["_type"] == "wf_api_prompt_event"] == []  # nothing stops twice
    assert "ids must be a list" in ask(srv, "stop_playback", 31.0, _target=target(talk), ids="c")["error"]


def test_calls_to_a_telephone_number_and_the_call_start_request() -> None:
    srv = server(event_delay=0.5, hold=-1)
    start = srv.call_start_request("tel:+15555550100")
    assert start == {"_type": "wf_api_call_start_request_event", "uri": "tel:+15555550100",
                     "call_id": "00000000000000000000000000000001"}  # fmt: skip
    placed = ask(srv, "call", _target=target(), uri="tel:+15555550100")["call_id"]
    assert placed != start["call_id"]  # the call the app places has its own id
    ringing = drain(srv, 1.0)[0]
    assert (ringing["uri"], ringing["onnet"], ringing["device_id"], ringing["device_name"]) == (
        "tel:+15555550100", False, "", "+15555550100",
    )  # fmt: skip
    assert ask(srv, "call", _target=target(), uri="urn:relay-resource:name:device:Zed")["error"].startswith(
        "call: no device named 'Zed' in the account"
    )
    received = srv.incoming_call(2.0, "Carol")
    assert ask(srv, "answer", 2.0, _target=target(BOB), call_id=received["call_id"])["error"] == (
        f"call {received['call_id']} is on Alice, not on Bob"
    )


def test_a_scenario_declares_devices_and_groups() -> None:
    text = """
[devices.Erin]
id = "990001234567890"
battery = 12
indoor_location = "Dock 4"
location_enabled = false
[devices.Bob]
battery = 5
[groups]
"Night shift" = ["Erin", "bob"]
[[steps]]
send = "start"
trigger = "button"
"""
    scenario = sc.parse(text, "w.toml")
    params = sc.resolve_params(scenario, {"device": ("--device", "Erin")}, world=WORLD)
    assert (params["device_id"], params["device_urn"]) == ("990001234567890", "urn:relay-resource:name:device:Erin")
    sim = sc.Simulation(scenario, params, timeout=1.0, start=0.0, new_id=ids(), world=WORLD)
    srv = sim.server
    assert (srv.device["battery"], srv.device["indoor_location"], srv.device["location_enabled"]) == (
        12,
        "Dock 4",
        False,
    )
    assert srv.devices["990007560023456"]["battery"] == 5 and srv.devices["990007560023456"]["name"] == "Bob"
    members = ask(srv, "group_query", group_uri="urn:relay-resource:name:group:Night%20shift", query="list_members")
    assert members["member_uris"] == ["urn:relay-resource:name:device:Erin", BOB]
    with pytest.raises(
        sc.ScenarioError, match=r"\[groups\] Night: no device 'Zed' in the account \(declare it with \[devices.Zed\]\)"
    ):
        sc.resolve_params(sc.parse('[groups]\nNight = ["Zed"]\n[[steps]]\nwait = 1\n', "g.toml"))
    # the devices the parameters name are of the account too: a caller from outside the demo account
    called = sc.Simulation(builtin("inbound-call"), sc.resolve_params(builtin("inbound-call"), {"from": ("--from", "Zoe")}),
                           timeout=1.0, start=0.0, new_id=ids(), world=WORLD)  # fmt: skip
    assert "Zoe" in [d["name"] for d in called.server.devices.values()]


def test_parameters_that_name_parameters_are_filled_in_and_circles_refused() -> None:
    text = '[params]\ngreeting = "Hi {who}"\nwho = "{device_name}"\n[[steps]]\nexpect = "say"\ncheck = { text = "{greeting}" }\n'
    params = sc.resolve_params(sc.parse(text, "p.toml"), {"device": ("--device", "Bob")}, world=WORLD)
    assert params["greeting"] == "Hi Bob"
    with pytest.raises(sc.ScenarioError, match=r"parameter a: its value refers to itself: \{a\} → \{b\} → \{a\}"):
        sc.resolve_params(
            sc.parse('[params]\na = "x"\nb = "y"\n[[steps]]\nwait = 1\n', "c.toml"), sets=["a={b}", "b={a}"]
        )


@pytest.mark.parametrize(("taps", "action"), [("single", "action_button_single_tap"), ("triple", "action_button_triple_tap"),
                                              ("long", "action_button_long_press")])  # fmt: skip
def test_every_tap_the_sdk_has(taps: str, action: str) -> None:
    params = sc.resolve_params(builtin("button"), {"taps": ("--taps", taps)})
    run = sc.Simulation(builtin("button"), params, timeout=1.0, start=0.0, new_id=ids())
    assert run.advance(0.0)[0]["trigger"]["args"] == {"source_uri": ALICE, "action": action}
    assert sc.defaults_from_workflow(
        {"name": "w", "config": {"trigger": {"start": {"workflow": {"on_button": action}}}}}
    )[1].get("taps") in (taps, None)
    with pytest.raises(UsageError, match="--taps: taps: expected one of single, double, triple, long, got 'quadruple'"):
        sc.resolve_params(builtin("button"), {"taps": ("--taps", "quadruple")})


def test_a_transcript_line_is_raw_and_clipped() -> None:
    record = sc.Record(1.0, "app", 2, message=request("say", text="\x1b[31m" + "x" * 1000, _target=target()))
    line = record.line()
    assert len(line) == sc.LINE_LIMIT and line.endswith("…") and "\\x1b[31m" in line  # repr of the text: escaped
    label = sc.Record(0.0, "app", 1, message={"_id": "1", "_type": "wf_api_\u202esay_request"}).line()
    assert "\u202e" in label  # raw here: the command escapes the whole line (output.safe)
    warning = sc.Record(0.5, "simulator", 1, warning="careful").to_json()
    assert warning == {"t": 0.5, "from": "simulator", "step": 1, "warning": "careful"}


def test_the_requests_table_lists_exactly_what_the_simulator_serves() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "simulator.md").read_text(encoding="utf-8")
    table = doc.split("<!-- requests:start -->", 1)[1].split("<!-- requests:end -->", 1)[0].strip().splitlines()[2:]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in table]
    assert [row[0].strip("`") for row in rows] == list(proto.REQUESTS)
    for row in rows:  # the target column says whether the request has one, and how many
        spec = proto.REQUESTS[row[0].strip("`")]
        assert (row[1] == "—") is (spec.targets is None), row
        assert row[1].startswith("one ") is (spec.targets == "one"), row
