"""What export cannot represent is never pruned: `relay workflow export | relay workflow apply -f - --prune --yes`
changes nothing, on any account.

`export` describes each workflow exactly: in the typed form when that says exactly what is stored, else in the raw
form (``raw = '''{...}'''``, the Workflow object as JSON, which apply sends as it is and diff compares exactly). What
no manifest can describe (a second workflow of one name, a workflow without a usable name) is left out, named on
stderr, and export exits 5; `apply --prune` never deletes it. A hypothesis property over generated accounts (every
trigger kind, unknown triggers, odd args, duplicate and unicode names, every kind of install) asserts that the
round trip sends no write at all.
"""

from __future__ import annotations

import io
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings, strategies as st

from relay_cli.local.seed import DEMO_DEVICES, DEMO_SUBSCRIBER
from relay_cli.local.store import SandboxStore

from conftest import API, SUB, stored_workflow

ALICE = next(iter(DEMO_DEVICES))
LOCAL = ("--profile", "local")
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def account_api(account: list[dict[str, Any]]) -> Any:
    """A respx router answering GET /ibot/workflow with ``account`` and every write with 500 (and recording it)."""
    mock = respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True)
    mock.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": account}))
    mock.route(method__in=list(WRITES)).mock(return_value=httpx.Response(500, json={"error": "no writes here"}))
    return mock


def writes(api: Any) -> list[str]:
    return [f"{c.request.method} {c.request.url.path}" for c in api.calls if c.request.method in WRITES]


def round_trip(run: Any, monkeypatch: pytest.MonkeyPatch, *export_flags: str) -> tuple[Any, Any]:
    exported = run("workflow", "export", "-s", SUB, *export_flags)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(exported.out.encode("utf-8")), encoding="utf-8"))
    return exported, run("workflow", "apply", "-f", "-", "--prune", "--yes")


def sms(wid: str, name: str) -> dict[str, Any]:
    return stored_workflow(wid, name, {"on_sms_received": {"from": ".*"}})


def with_args(wid: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    workflow = stored_workflow(wid, name)
    workflow["config"]["trigger"]["start"]["workflow"]["args"] = args
    return workflow


def test_export_apply_prune_deletes_nothing_export_could_not_type(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The finding: each of these used to be left out by export (exit 0) and deleted by `apply --prune --yes`."""
    account = [
        stored_workflow("wf_1", "plain"),
        sms("wf_2", "sms-alert"),  # a trigger relay does not model
        with_args("wf_3", "listy", {"targets": ["a", "b"]}),  # an array arg
        with_args("wf_4", "objecty", {"cfg": {"k": 1}}),  # an object arg
        with_args("wf_5", "nully", {"nothing": None}),  # a null arg
        with_args("wf_6", "blank-arg", {"": "x"}),  # an arg named ""
        stored_workflow("wf_7", "twin"),
        stored_workflow("wf_8", "twin"),  # a duplicate name
    ]
    with account_api(account) as api:
        exported, applied = round_trip(run, monkeypatch)
    assert writes(api) == []
    assert exported.code == 5
    data = tomllib.loads(exported.out)
    assert sorted(data["workflow"]) == ["blank-arg", "listy", "nully", "objecty", "plain", "sms-alert", "twin"]
    assert set(data["workflow"]["sms-alert"]) == {"raw"}
    assert json.loads(data["workflow"]["nully"]["raw"])["config"]["trigger"]["start"]["workflow"]["args"] == {
        "nothing": None
    }
    assert exported.err.splitlines()[-2:] == [
        f"error: the manifest does not describe the whole account {SUB}: 1 workflow left out (named above)",
        "hint: apply --prune never deletes a workflow export left out",
    ]
    assert "warning: workflow twin (wf_8): another workflow has the same name; left out" in exported.err
    # the duplicate stops the apply before any write (--dedupe would keep one); without it the rest is in sync
    assert applied.code == 2
    assert "several workflows of 1 name the manifest declares once (twin: wf_7, wf_8); nothing was applied" in (
        applied.err
    )
    with account_api(account[:-1]) as api:
        exported, applied = round_trip(run, monkeypatch)
    assert writes(api) == []
    assert (exported.code, applied.code) == (0, 0), applied.err
    assert applied.out == f"In sync: 7 workflows of <stdin> unchanged in account {SUB}.\n"


def test_prune_leaves_a_workflow_without_a_usable_name_alone(run: Any, tmp_path: Path) -> None:
    nameless = {**stored_workflow("wf_9", "x"), "name": None}
    numbered = {**stored_workflow("wf_10", "x"), "name": 42}
    manifest = tmp_path / "relay.toml"
    manifest.write_text('[workflow.keep]\ntype = "call"\ntrigger = "inbound"\nuri = "wss://example.com/keep"\n'
                        'install = ["990007560045678"]\n', encoding="utf-8")  # fmt: skip
    with account_api([stored_workflow("wf_1", "keep"), nameless, numbered]) as api:
        diff = run("workflow", "diff", "-f", str(manifest), "--prune", "-s", SUB, "--json")
        applied = run("workflow", "apply", "-f", str(manifest), "--prune", "--yes", "-s", SUB)
    assert writes(api) == []
    assert diff.code == 0, diff.err
    assert diff.json()["left_alone"] == [
        {"name": "", "workflow_id": "wf_9", "reason": "its name is missing, not a string"},
        {"name": "", "workflow_id": "wf_10", "reason": "its name is a number, not a string"},
    ]
    assert applied.code == 0, applied.err
    assert (
        "note: 2 workflows of the account cannot be described by a manifest (wf_9, wf_10: its name is missing, not "
        "a string) and are left alone, also by --prune; `relay workflow delete -w ID` deletes one\n"
    ) in applied.err


def test_the_raw_form_is_sent_as_it_is_and_compared_exactly(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A raw entry against the sandbox: created as written, in sync while the stored workflow is the same, drift
    (exit 5) as soon as any of it differs, and the update sends the raw object back whole with the stored id."""
    raw = {
        "name": "sms-alert",
        "options": {"transient": False, "hidden": False, "vendor": {"x": [1, None]}},
        "config": {
            "trigger": {
                "start": {"workflow": {"uri": "wss://h.example/sms", "args": {"to": ["a", "b"], "n": None}}},
                "on_sms_received": ".*",
            },
        },
        "install": [ALICE],
    }
    manifest = tmp_path / "relay.toml"
    manifest.write_text(f"[workflow.sms-alert]\nraw = '''{json.dumps(raw, indent=1)}'''\n", encoding="utf-8")
    created = run(*LOCAL, "workflow", "apply", "-f", str(manifest))
    assert created.code == 0, created.err
    store = SandboxStore(tmp_path / "data" / "sandbox.db")
    (stored,) = store.list_workflows(DEMO_SUBSCRIBER)
    assert {k: v for k, v in stored.items() if k != "workflow_id"} == raw
    assert run(*LOCAL, "workflow", "diff", "-f", str(manifest)).code == 0

    changed = {**raw, "options": {**raw["options"], "vendor": {"x": [1, 2]}}}
    store.replace_workflow(DEMO_SUBSCRIBER, stored["workflow_id"], changed)
    drift = run(*LOCAL, "workflow", "diff", "-f", str(manifest))
    assert drift.code == 5
    assert drift.out.splitlines()[:2] == [
        f"~ update  sms-alert ({stored['workflow_id']})",
        '    options: {"transient": false, "hidden": false, "vendor": {"x": [1, 2]}} -> '
        '{"transient": false, "hidden": false, "vendor": {"x": [1, null]}}',
    ]
    sent: list[Any] = []
    from relay_cli.api.client import RelayClient

    real = RelayClient.save_workflow

    def spy(self: Any, subscriber: str, body: dict[str, Any]) -> Any:
        sent.append(body)
        return real(self, subscriber, body)

    monkeypatch.setattr(RelayClient, "save_workflow", spy)
    updated = run(*LOCAL, "workflow", "apply", "-f", str(manifest))
    assert updated.code == 0, updated.err
    assert sent == [{"workflow_id": stored["workflow_id"], **raw}]
    assert store.list_workflows(DEMO_SUBSCRIBER) == [stored]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("raw = '{'", "workflow.a.raw: not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        ("raw = '[1]'", "workflow.a.raw: expected a JSON object (a Workflow), got an array"),
        ("raw = 5", "workflow.a.raw: expected a string holding the Workflow as a JSON object, got an integer"),
        ("raw = '{\"workflow_id\": \"wf_1\"}'", "workflow.a.raw.workflow_id: not allowed: a manifest matches workflows by name (the table's key)"),
        ("raw = '{\"name\": \"b\"}'", "workflow.a.raw.name: must be the table's key (the workflow's name), or left out"),
        ("raw = '{\"x\": NaN}'", "workflow.a.raw: not JSON: NaN is not a JSON number"),
        ("raw = '{}'\ntype = 'call'", "workflow.a.type: a workflow in the raw form has the one key raw (the whole Workflow as JSON)"),
        ("raw = '" + "[" * 70 + "]" * 70 + "'", "workflow.a.raw: expected a JSON object (a Workflow), got an array"),
        ("raw = '{\"a\":" + "[" * 70 + "]" * 70 + "}'", "workflow.a.raw: nested more than 64 levels deep"),
    ],
)  # fmt: skip
def test_a_bad_raw_entry_is_exit_2_naming_the_key(run: Any, tmp_path: Path, table: str, message: str) -> None:
    manifest = tmp_path / "relay.toml"
    manifest.write_text(f"[workflow.a]\n{table}\n", encoding="utf-8")
    with account_api([]) as api:
        result = run("workflow", "apply", "-f", str(manifest), "-s", SUB)
    assert api.calls.call_count == 0
    assert (result.code, result.out, result.err) == (2, "", f"error: {manifest}: {message}\n")


# --- the property: on any account, `export | apply -f - --prune --yes` writes nothing ------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip
KNOWN_TRIGGERS = [
    {"on_incoming_call": ".*"}, {"on_call_request": ".*"}, {"on_button": "action_button_single_tap"},
    {"on_button": "action_button_double_tap"}, {"on_phrases": ["hello world", "hi"]},
    {"on_device_event": "emergency"}, {"on_battery_charge": 80}, {"on_battery_discharge": 25}, {"on_http": "POST"},
    {"on_nfc": {"type": "custom", "category": "tasks", "label": "Room 12"}},
    {"on_geofence": {"transition": "exit", "geofence_id": "G1"}},
    {"on_position": {"venue_id": "V", "position_id": "P", "transition": "entry"}},
    {"on_timer": {"start_time": "immediately"}},
    {"on_timer": {"start_time": "2030-01-01T09:00:00", "timezone": "UTC", "count": 1}},
    {"on_timer": {"start_time": "2030-01-01T09:00:00", "timezone": "America/Chicago", "frequency": "daily",
                  "interval": 1, "count": 3, "byweekday": [1, 3]}},
]  # fmt: skip
TRIGGERS = st.one_of(
    st.sampled_from(KNOWN_TRIGGERS),
    st.builds(lambda v: {"on_sms_received": v}, JSON_VALUES),  # unknown to relay
    st.builds(lambda k, v: {k: v}, st.sampled_from(["on_button", "on_phrases", "on_timer", "on_nfc"]), JSON_VALUES),
    st.builds(lambda p: {"on_phrases": p}, st.lists(st.text(max_size=8), max_size=3)),  # "Hello" is not "hello"
    st.just({}),  # no on_* key
    st.just({"on_incoming_call": ".*", "on_button": "action_button_single_tap"}),  # two
    st.just({"on_incoming_call": "^9"}),  # a call workflow for some calls only
)
NAMES = st.one_of(
    st.sampled_from(["a", "b", "twin", "", " ", "ünïcödé", "名前", "x y", "it's '''", "a.b", "[x]", "\x1b[2J"]),
    st.text(max_size=10),
    st.sampled_from([None, 7, ["a"]]),
)
URIS = st.sampled_from(
    ["wss://h.example/p", "ws://127.0.0.1:9/x", "wss://YOUR-HOST/x", "http://plain.example/x", "wss://h/a b", "", 5]
)
INSTALLS = st.one_of(
    st.just({}),
    st.builds(lambda ids: {"install": ids}, st.lists(st.sampled_from(["d1", "d2", "990007560045678", ""]), max_size=3)),
    st.just({"install_rule": "urn:relay-resource:all:device"}),
    st.just({"install_rule": "urn:relay-resource:id:tag:front-desk"}),
    st.just({"install": None, "install_rule": None}),
    st.just({"install": ["d1"], "install_rule": "urn:relay-resource:all:device"}),
)
OPTIONS = st.one_of(
    st.just(None),
    st.fixed_dictionaries({"transient": st.booleans(), "hidden": st.booleans()}),
    st.fixed_dictionaries(
        {"transient": st.booleans()}, optional={"absorb_triggers": st.sampled_from([[], ["on_incoming_call"], [1]]),
                                                "vendor": JSON_VALUES}
    ),
)  # fmt: skip


@st.composite
def workflows(draw: Any, wid: str) -> dict[str, Any]:
    start: dict[str, Any] = {}
    uri = draw(URIS)
    if uri != "":
        start["uri"] = uri
    args = draw(st.one_of(st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=4), st.sampled_from([None, []])))
    if args is not None:
        start["args"] = args
    trigger = {"start": {"workflow": start}, **draw(TRIGGERS)}
    config: Any = {"trigger": trigger}
    if draw(st.booleans()):
        config["extra"] = draw(JSON_VALUES)
    workflow: dict[str, Any] = {"workflow_id": wid, "name": draw(NAMES)}
    options = draw(OPTIONS)
    if options is not None:
        workflow["options"] = options
    workflow["config"] = json.dumps(config) if draw(st.booleans()) else config  # the API may send it as a string
    workflow.update(draw(INSTALLS))
    if draw(st.booleans()):
        workflow["owner"] = draw(JSON_VALUES)  # a field the server adds
    return workflow


@st.composite
def accounts(draw: Any) -> list[dict[str, Any]]:
    count = draw(st.integers(0, 6))
    ids = draw(st.lists(st.integers(0, 999), min_size=count, max_size=count, unique=True))
    return [draw(workflows(f"wf_{i:03}")) for i in ids]


# 20 accounts a run (each run draws new ones), each a full export and apply --prune through the CLI
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(account=accounts())
def test_export_apply_prune_on_any_account_sends_no_write(
    run: Any, monkeypatch: pytest.MonkeyPatch, account: list[dict[str, Any]]
) -> None:
    with account_api(account) as api:
        exported, applied = round_trip(run, monkeypatch)
        assert writes(api) == [], (exported.out, applied.err)
    named = [w.get("name") for w in account if isinstance(w.get("name"), str)]
    duplicates = len(named) != len(set(named))
    assert exported.code == (5 if duplicates or len(named) < len(account) else 0), exported.err
    if duplicates:
        assert applied.code == 2 and "nothing was applied" in applied.err
    elif not named:  # a manifest of just the account: refused, nothing deleted
        assert applied.code == 2 and "declares no workflows" in applied.err
    else:
        assert applied.code == 0, applied.err
        assert applied.out.startswith(f"In sync: {len(named)} workflow"), applied.out


def test_the_readme_raw_example_is_a_raw_entry() -> None:
    from relay_cli.core import manifest as mf

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = text.split("```toml\n[workflow.sms-alert]\n", 1)[1].split("```", 1)[0]
    (found,) = mf.parse(tomllib.loads("[workflow.sms-alert]\n" + block)).entries
    assert found.raw and wf_trigger(found.body) == {"on_sms_received": ".*"}


def wf_trigger(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body["config"]["trigger"].items() if k != "start"}
