"""The manifest (core.manifest) and the plan (core.plan): pure, no I/O.

Every trigger kind: a manifest entry builds exactly the body `relay workflow create <kind> --dry-run --json`
prints; export writes it back so that the plan finds nothing to change; every kind of bad input is one
line naming the file, the workflow and the key.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from relay_cli.core import manifest as mf, plan as planning
from relay_cli.errors import UsageError

from conftest import SUB

URI = "wss://h.example.com/p"

# (manifest table, the equivalent `relay workflow create` arguments)
KINDS = [
    pytest.param(
        {"type": "call", "trigger": "inbound", "install": ["990007560045678"]},
        ["call", "--trigger", "inbound", "-i", "990007560045678"],
        id="call-inbound",
    ),
    pytest.param({"type": "call"}, ["call"], id="call-default-outbound"),
    pytest.param(
        {"type": "button", "trigger": "double", "install_all": True},
        ["button", "--trigger", "double", "-A"],
        id="button",
    ),
    pytest.param(
        {"type": "phrase", "trigger": ["Hello  World", "hi there"], "install_group": "front-desk"},
        ["phrase", "--trigger", "Hello  World", "--trigger", "hi there", "-G", "front-desk"],
        id="phrase",
    ),
    pytest.param({"type": "event", "trigger": "emergency"}, ["event", "--trigger", "emergency"], id="event"),
    pytest.param(
        {"type": "battery", "trigger": "charge", "threshold": 80},
        ["battery", "--trigger", "charge", "--threshold", "80"],
        id="battery",
    ),
    pytest.param({"type": "http", "trigger": "POST"}, ["http", "--trigger", "POST"], id="http"),
    pytest.param(
        {"type": "nfc", "category": "tasks", "label": "Room 12"}, ["nfc", "-c", "tasks", "-l", "Room 12"], id="nfc"
    ),
    pytest.param(
        {"type": "geofence", "trigger": "exit", "geofence_id": "G1"},
        ["geofence", "--trigger", "exit", "--id", "G1"],
        id="geofence",
    ),
    pytest.param(
        {"type": "position", "trigger": "entry", "venue_id": "V", "position_id": "P"},
        ["position", "--trigger", "entry", "-v", "V", "-p", "P"],
        id="position",
    ),
    pytest.param({"type": "timer", "trigger": "immediately"}, ["timer", "--trigger", "immediately"], id="timer-now"),
    pytest.param(
        {"type": "timer", "trigger": "schedule", "start": "2030-01-01T09:00", "timezone": "America/Chicago"},
        ["timer", "--trigger", "schedule", "--start", "2030-01-01T09:00", "-z", "America/Chicago"],
        id="timer-schedule",
    ),
    pytest.param(
        {
            "type": "timer",
            "trigger": "repeat",
            "start": "2030-01-01T09:00:00",
            "timezone": "Europe/Paris",
            "count": 10,
            "days": ["MO", "we"],
        },
        [
            "timer",
            "--trigger",
            "repeat",
            "--start",
            "2030-01-01T09:00:00",
            "-z",
            "Europe/Paris",
            "-c",
            "10",
            "-d",
            "MO",
            "-d",
            "we",
        ],
        id="timer-repeat-count",
    ),
    pytest.param(
        {
            "type": "timer",
            "trigger": "repeat",
            "start": "2030-01-01T09:00:00",
            "timezone": "UTC",
            "until": "2030-06-01T00:00:00",
        },
        ["timer", "--trigger", "repeat", "--start", "2030-01-01T09:00:00", "-z", "UTC", "-l", "2030-06-01T00:00:00"],
        id="timer-repeat-until",
    ),
]

OPTIONS = (
    {"transient": False, "hidden": True, "args": {"greeting": "hi", "loud": True, "volume": 2.5, "n": 3}},
    ["--no-transient", "--hidden", "-a", "greeting=hi", "-b", "loud=true", "-r", "volume=2.5", "-r", "n=3"],
)


def parse_one(table: dict[str, Any], name: str = "wf") -> dict[str, Any]:
    return mf.parse({"workflow": {name: {"uri": URI, **table}}}).entries[0].body


@pytest.mark.parametrize(("table", "argv"), KINDS)
@pytest.mark.parametrize("with_options", [False, True], ids=["defaults", "options"])
def test_an_entry_builds_what_create_sends(
    run: Any, table: dict[str, Any], argv: list[str], with_options: bool
) -> None:
    if with_options:
        table = {**table, **OPTIONS[0]}
        argv = [*argv, *OPTIONS[1]]
    result = run("workflow", "create", *argv, "--name", "wf", "--uri", URI, "-s", SUB, "--dry-run", "--json")
    assert result.code == 0, result.err
    assert parse_one(table) == json.loads(result.out)


@pytest.mark.parametrize(("table", "argv"), KINDS)
def test_export_then_parse_changes_nothing(table: dict[str, Any], argv: list[str]) -> None:
    body = parse_one({**table, **OPTIONS[0]})
    stored = {"workflow_id": "wf_1", **body, "owner": "someone"}
    result = mf.export([stored], account=SUB, header="a header")
    assert (result.left_out, result.raw) == ([], [])  # every kind in the typed form
    data = tomllib.loads(result.text)
    assert data["account"] == SUB
    again = mf.parse(data)
    assert planning.changes(stored, again.entries[0].body) == []
    assert planning.compare([(e.name, e.body) for e in again.entries], [stored]).in_sync


def test_a_toml_local_datetime_is_a_timer_start() -> None:
    data = tomllib.loads('[workflow.t]\ntype = "timer"\ntrigger = "schedule"\nstart = 2030-01-01T09:00:00\n'
                        'timezone = "UTC"\nuri = "wss://h/p"\n')  # fmt: skip
    body = mf.parse(data).entries[0].body
    assert body["config"]["trigger"]["on_timer"] == {"start_time": "2030-01-01T09:00:00", "timezone": "UTC", "count": 1}


def test_top_level_account_and_profile() -> None:
    manifest = mf.parse({"account": "A1", "profile": "qa", "workflow": {}}, "x.toml")
    assert (manifest.account, manifest.profile, manifest.entries, manifest.source) == ("A1", "qa", [], "x.toml")


# --- errors: one line naming file, workflow and key ------------------------------------------------

BAD = [
    ({"wat": 1}, "relay.toml: wat: unknown key; expected one of account, profile, workflow, dev"),
    ({"account": 5}, "relay.toml: account: expected a non-empty string, got an integer"),
    ({"workflow": {"w": {"uri": URI}}}, "relay.toml: workflow.w.type: missing: one of call, button, phrase, event, battery, http, nfc, geofence, position, timer"),
    ({"workflow": {"w": {"type": "cal", "uri": URI}}}, "relay.toml: workflow.w.type: expected one of call, button, phrase, event, battery, http, nfc, geofence, position, timer, got 'cal'; did you mean 'call'?"),
    ({"workflow": {"w": {"type": "call"}}}, "relay.toml: workflow.w.uri: missing: the workflow's WebSocket URI (wss://...)"),
    ({"workflow": {"w": {"type": "call", "uri": "http://h/p"}}}, "relay.toml: workflow.w.uri: expected a WebSocket URI starting with wss://, got 'http://h/p'"),
    ({"workflow": {"w": {"type": "call", "uri": URI, "trigger": "sideways"}}}, "relay.toml: workflow.w.trigger: expected one of inbound, outbound, got 'sideways'"),
    ({"workflow": {"w": {"type": "call", "uri": URI, "threshold": 5}}}, "relay.toml: workflow.w.threshold: applies to type battery, not call; expected one of type, uri, install, install_all, install_group, transient, hidden, args, absorb, trigger"),
    ({"workflow": {"w": {"type": "call", "uri": URI, "instal": ["d"]}}}, "relay.toml: workflow.w.instal: unknown key; expected one of type, uri, install, install_all, install_group, transient, hidden, args, absorb, trigger"),
    ({"workflow": {"w": {"type": "battery", "uri": URI, "threshold": 120}}}, "relay.toml: workflow.w.threshold: expected a whole percentage from 1 to 100, got 120"),
    ({"workflow": {"w": {"type": "battery", "uri": URI, "threshold": "20"}}}, "relay.toml: workflow.w.threshold: expected a whole number, got a string"),
    ({"workflow": {"w": {"type": "call", "uri": URI, "install": ["d1"], "install_all": True}}}, "relay.toml: workflow.w.install_all: -i/--install and -A/--install-all cannot be used together; pick one"),
    ({"workflow": {"w": {"type": "call", "uri": URI, "install": [1]}}}, "relay.toml: workflow.w.install: expected an array of strings, item 1 is an integer"),
    ({"workflow": {"w": {"type": "call", "uri": URI, "transient": "yes"}}}, "relay.toml: workflow.w.transient: expected true or false, got a string"),
    ({"workflow": {"w": {"type": "call", "uri": URI, "args": {"x": [1]}}}}, "relay.toml: workflow.w.args.x: expected a string, a boolean or a number, got an array"),
    ({"workflow": {"w": {"type": "call", "uri": URI, "args": {"x": float("inf")}}}}, "relay.toml: workflow.w.args.x: expected a finite number, got inf"),
    ({"workflow": {"w": {"type": "phrase", "uri": URI}}}, 'relay.toml: workflow.w.trigger: expected the phrases, e.g. trigger = ["hello world"]'),
    ({"workflow": {"w": {"type": "geofence", "uri": URI}}}, "relay.toml: workflow.w.geofence_id: missing: the geofence id"),
    ({"workflow": {"w": {"type": "timer", "trigger": "repeat", "uri": URI, "start": "2030-01-01T09:00", "timezone": "UTC"}}}, "relay.toml: workflow.w.count: --trigger repeat needs exactly one of -c/--count or -l/--until"),
    ({"workflow": {"w": {"type": "timer", "trigger": "schedule", "uri": URI, "start": "2030-01-01T09:00", "timezone": "local"}}}, "relay.toml: workflow.w.timezone: expected an IANA zone such as America/Chicago; a manifest does not depend on the machine's zone"),
    ({"workflow": {"w": {"type": "timer", "trigger": "schedule", "uri": URI, "start": "soon", "timezone": "UTC"}}}, "relay.toml: workflow.w.start: expected a local date and time like 2030-01-01T09:00:00, got 'soon'"),
    ({"workflow": {"w": {"type": "timer", "trigger": "repeat", "uri": URI, "start": "2030-01-01T09:00", "timezone": "UTC", "count": 2, "days": ["XX"]}}}, "relay.toml: workflow.w.days: expected one of MO, TU, WE, TH, FR, SA, SU, got 'XX'"),
    ({"workflow": {"my app.v2": {"type": "call", "uri": URI, "hidden": 1}}}, 'relay.toml: workflow."my app.v2".hidden: expected true or false, got an integer'),
    ({"workflow": {"w": "call"}}, "relay.toml: workflow.w: expected a table, got a string"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "message"), BAD, ids=[m.split(": ", 2)[1] + f"-{i}" for i, (_, m) in enumerate(BAD)])
def test_bad_input_names_file_workflow_and_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        mf.parse(data, "relay.toml")
    assert caught.value.message == message
    assert "\n" not in caught.value.message
    assert caught.value.hint is None


# --- the plan ------------------------------------------------------------------------------------------


def stored(name: str, wid: str, **table: Any) -> dict[str, Any]:
    return {"workflow_id": wid, **parse_one({"type": "call", "trigger": "inbound", **table}, name)}


def desired(name: str, **table: Any) -> tuple[str, dict[str, Any]]:
    return name, parse_one({"type": "call", "trigger": "inbound", **table}, name)


def test_plan_create_update_unchanged_delete() -> None:
    existing = [stored("a", "1"), stored("b", "2", args={"x": "old"}), stored("gone", "3")]
    want = [desired("a"), desired("b", args={"x": "new"}), desired("c")]
    plan = planning.compare(want, existing)
    assert [c.name for c in plan.create] == ["c"]
    assert [(u.name, u.workflow_id, u.changes) for u in plan.update] == [
        ("b", "2", [planning.Change("args.x", "old", "new")])
    ]
    assert plan.update[0].body["workflow_id"] == "2"
    assert [k.name for k in plan.unchanged] == ["a"]
    assert plan.delete == [] and [k.name for k in plan.unmanaged] == ["gone"]
    assert not plan.in_sync
    pruned = planning.compare(want, existing, prune=True)
    assert [(k.name, k.workflow_id) for k in pruned.delete] == [("gone", "3")]


def test_plan_lists_every_changed_field() -> None:
    existing = [stored("a", "1", install=["d1", "d2"], args={"keep": 1, "drop": "x"})]
    want = [("a", parse_one({"type": "call", "trigger": "outbound", "uri": URI + "2", "install_all": True,
                             "transient": False, "hidden": True, "args": {"keep": 1, "new": True}}, "a"))]  # fmt: skip
    (update,) = planning.compare(want, existing).update
    assert [c.field for c in update.changes] == [
        "uri", "trigger", "install", "options.transient", "options.hidden", "args.drop", "args.new",
    ]  # fmt: skip
    assert update.changes[2] == planning.Change("install", ["d1", "d2"], "urn:relay-resource:all:device")
    assert "install" not in update.body and update.body["install_rule"] == "urn:relay-resource:all:device"


def test_plan_tells_booleans_from_numbers_and_ignores_install_order() -> None:
    existing = [stored("a", "1", install=["d2", "d1"], args={"flag": 1, "n": 2.0})]
    plan = planning.compare([desired("a", install=["d1", "d2"], args={"flag": True, "n": 2})], existing)
    assert [c.field for c in plan.update[0].changes] == ["args.flag"]


def test_plan_keeps_server_fields_on_update() -> None:
    existing = [{**stored("a", "1"), "owner": "someone", "options": {"transient": True, "hidden": False, "x": 1}}]
    (update,) = planning.compare([desired("a", hidden=True)], existing).update
    assert update.body["owner"] == "someone"
    assert update.body["options"] == {"transient": True, "hidden": True, "x": 1}


def test_plan_with_duplicate_names_keeps_the_matching_one() -> None:
    existing = [stored("a", "1", args={"x": "old"}), stored("a", "3"), stored("a", "2")]
    plan = planning.compare([desired("a")], existing)
    assert [k.workflow_id for k in plan.unchanged] == ["2"]  # of the two that match, the lowest id
    assert [(d.workflow_id, d.kept) for d in plan.duplicates] == [("1", "2"), ("3", "2")]
    assert not plan.in_sync  # duplicates are drift
    assert planning.compare([desired("a")], existing, prune=True).delete == []  # --prune is not consent to them
    deduped = planning.compare([desired("a")], existing, dedupe=True)
    assert [k.workflow_id for k in deduped.delete] == ["1", "3"]


def test_plan_with_duplicate_names_none_matching_keeps_the_lowest_id_and_updates_it() -> None:
    existing = [stored("a", "wf_b", args={"x": "old"}), stored("a", "wf_a", args={"x": "older"})]
    plan = planning.compare([desired("a")], existing, dedupe=True)
    assert [(u.workflow_id, [c.field for c in u.changes]) for u in plan.update] == [("wf_a", ["args.x"])]
    assert [k.workflow_id for k in plan.delete] == ["wf_b"]


def test_stored_defaults_count_as_the_manifest_defaults() -> None:
    bare = stored("a", "1")
    del bare["options"]
    del bare["install"]
    bare["config"]["trigger"]["start"]["workflow"].pop("args")
    assert planning.changes(bare, desired("a")[1]) == []


def test_after_is_the_account_once_applied() -> None:
    existing = [stored("a", "1"), stored("b", "2", args={"x": "old"}), stored("gone", "3")]
    plan = planning.compare([desired("b", args={"x": "new"}), desired("c")], existing, prune=True)
    after = planning.after(plan, existing)
    assert [w["name"] for w in after] == ["b", "c"]  # "a" is pruned too: the manifest does not list it
    assert after[0]["config"]["trigger"]["start"]["workflow"]["args"] == {"x": "new"}


def test_export_writes_what_the_typed_form_cannot_say_raw_and_leaves_out_only_what_a_manifest_cannot_name() -> None:
    weird = stored("weird", "1")
    weird["config"]["trigger"] = {"start": weird["config"]["trigger"]["start"], "on_something_new": 1}
    twin = stored("a", "2")
    nameless = {**stored("x", "3"), "name": None}
    result = mf.export([stored("a", "1"), twin, weird, nameless])
    data = tomllib.loads(result.text)
    assert list(data["workflow"]) == ["a", "weird"]
    assert json.loads(data["workflow"]["weird"]["raw"]) == {k: v for k, v in weird.items() if k != "workflow_id"}
    assert result.raw == ["weird"]
    assert result.left_out == [
        "workflow a (2): another workflow has the same name; left out (a manifest names each workflow once; "
        "`relay workflow apply --dedupe` keeps one)",
        "workflow 3: its name is missing, not a string; left out",
    ]
    again = mf.parse(data)
    assert again.raw_names() == {"weird"}
    plan = planning.compare([(e.name, e.body) for e in again.entries], [weird], raw=again.raw_names())
    assert [k.name for k in plan.unchanged] == ["weird"]


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(min_size=1, max_size=20).filter(lambda s: s.strip()),
    value=st.one_of(st.text(max_size=30), st.booleans(), st.integers(-(2**53), 2**53),
                    st.floats(allow_nan=False, allow_infinity=False)),
)  # fmt: skip
def test_any_name_and_arg_value_survive_export(name: str, value: Any) -> None:
    wf = stored(name, "1", args={name: value})
    result = mf.export([wf])
    assert result.left_out == []
    again = mf.parse(tomllib.loads(result.text))
    assert again.names() == [name]
    assert planning.changes_of(wf, again.entries[0].body, again.entries[0].raw) == []
