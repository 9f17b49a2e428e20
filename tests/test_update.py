"""``relay workflow update -w REF``: the workflow fetched, changed and sent back whole with its id (one POST), the
trigger's options from the table of triggers, the dry run's diff, and the refusals."""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from conftest import API, SUB, clean, sent, stored_workflow

LIST = ("GET", "/ibot/workflow", {"subscriber_id": SUB})
SAVE = ("POST", "/ibot/workflow", {"subscriber_id": SUB})


def base_workflows() -> list[dict[str, Any]]:
    auto = stored_workflow("wf-01", "auto_answer", install=["d1"])
    auto["config"]["trigger"]["start"]["workflow"]["args"] = {"greeting": "hi", "volume": 7}
    auto["config"] = json.dumps(auto["config"])  # the server may send config as a JSON string
    auto["owner"] = "someone"  # a field the client knows nothing about: sent back as it came
    battery = stored_workflow(
        "wf-02", "low", {"on_battery_discharge": 25}, install_rule="urn:relay-resource:all:device"
    )
    del battery["install"]
    phrase = stored_workflow("wf-03", "hello", {"on_phrases": ["hello world"]})
    timer = stored_workflow(
        "wf-04",
        "standup",
        {
            "on_timer": {
                "start_time": "2030-01-01T09:00:00",
                "timezone": "America/Chicago",
                "frequency": "daily",
                "interval": 1,
                "count": 10,
                "byweekday": [1, 3],
            }
        },
    )
    odd = stored_workflow("wf-05", "odd", {"on_incoming_call": "^\\+1"})  # a pattern relay does not create
    return [auto, battery, phrase, timer, odd]


def stored(workflow_id: str) -> dict[str, Any]:
    """The stored workflow as the client reads it (config parsed)."""
    workflow = copy.deepcopy(next(w for w in base_workflows() if w["workflow_id"] == workflow_id))
    if isinstance(workflow["config"], str):
        workflow["config"] = json.loads(workflow["config"])
    return workflow


def saved_answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=[json.loads(request.content)])


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        mock.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": base_workflows()}))
        mock.post("/ibot/workflow").mock(side_effect=saved_answer)
        yield mock


def posted(api: Any) -> Any:
    return json.loads(api.calls[-1].request.content)


def start(workflow: dict[str, Any]) -> dict[str, Any]:
    start: dict[str, Any] = workflow["config"]["trigger"]["start"]["workflow"]
    return start


def _uri(w: dict[str, Any]) -> None:
    start(w)["uri"] = "wss://new.example.com/aa"


def _name(w: dict[str, Any]) -> None:
    w["name"] = "front-desk"


def _direction(w: dict[str, Any]) -> None:
    del w["config"]["trigger"]["on_incoming_call"]
    w["config"]["trigger"]["on_call_request"] = ".*"


def _args(w: dict[str, Any]) -> None:
    start(w)["args"] = {"greeting": "hello", "record": True, "rate": 2.5}


def _options(w: dict[str, Any]) -> None:
    w["options"] = {"transient": False, "hidden": True}


def _threshold(w: dict[str, Any]) -> None:
    w["config"]["trigger"]["on_battery_discharge"] = 15


def _charge(w: dict[str, Any]) -> None:
    del w["config"]["trigger"]["on_battery_discharge"]
    w["config"]["trigger"]["on_battery_charge"] = 80


def _phrases(w: dict[str, Any]) -> None:
    w["config"]["trigger"]["on_phrases"] = ["good morning", "hi there"]


def _until(w: dict[str, Any]) -> None:
    w["config"]["trigger"]["on_timer"] = {
        "start_time": "2030-01-01T09:00:00",
        "timezone": "America/Chicago",
        "frequency": "daily",
        "interval": 1,
        "until": "2030-03-01T00:00:00",
        "byweekday": [1, 3],
    }


def _schedule(w: dict[str, Any]) -> None:
    w["config"]["trigger"]["on_timer"] = {
        "start_time": "2030-01-01T09:00:00",
        "timezone": "America/Chicago",
        "count": 1,
    }


@pytest.mark.parametrize(
    ("ref", "flags", "change"),
    [
        ("auto_answer", ["--uri", "wss://new.example.com/aa"], _uri),
        ("wf-01", ["-n", "front-desk"], _name),
        ("auto_answer", ["--trigger", "outbound"], _direction),
        (
            "auto_answer",
            ["-a", "greeting=hello", "-b", "record=true", "-r", "rate=2.5", "--unset-arg", "volume"],
            _args,
        ),
        ("auto_answer", ["--no-transient", "--hidden"], _options),
        ("low", ["--threshold", "15"], _threshold),
        ("low", ["--trigger", "charge", "--threshold", "80"], _charge),
        ("hello", ["--trigger", "Good  Morning", "--trigger", "hi there"], _phrases),  # phrases are replaced
        ("standup", ["--until", "2030-03-01T00:00:00"], _until),  # --until takes the place of the stored --count
        ("standup", ["--trigger", "schedule"], _schedule),  # a schedule: the repeat's count and days are dropped
    ],
    ids=[
        "uri",
        "name",
        "call-direction",
        "args",
        "options",
        "threshold",
        "battery-kind",
        "phrases",
        "until",
        "schedule",
    ],
)
def test_one_post_of_the_whole_workflow_with_the_change(
    run: Any, api: Any, ref: str, flags: list[str], change: Callable[[dict[str, Any]], None]
) -> None:
    workflow_id = next(w["workflow_id"] for w in base_workflows() if ref in (w["name"], w["workflow_id"]))
    expected = stored(workflow_id)
    change(expected)
    result = run("workflow", "update", "-s", SUB, "-w", ref, *flags)
    assert result.code == 0, result.err
    clean(result)
    assert sent(api) == [LIST, SAVE]
    assert posted(api) == expected
    assert json.dumps(posted(api)) == json.dumps(expected)  # the same keys in the same order
    assert result.err.startswith(f"Updated workflow {expected['name']} ({workflow_id})\n")


def test_json_prints_the_saved_workflow(run: Any, api: Any) -> None:
    result = run("workflow", "update", "-s", SUB, "-w", "low", "--threshold", "15", "--json")
    assert result.code == 0, result.err
    expected = stored("wf-02")
    _threshold(expected)
    assert result.json() == expected
    assert result.err == ""


def test_dry_run_prints_the_request_and_the_diff_and_sends_nothing(run: Any, api: Any) -> None:
    result = run("workflow", "update", "-s", SUB, "-w", "low", "--threshold", "15", "-a", "level=low", "--dry-run")
    assert result.code == 0, result.err
    assert sent(api) == [LIST]
    assert result.err == f"Dry run, nothing sent. Would send: POST {API}/ibot/workflow?subscriber_id={SUB}\n"
    assert result.out == (
        "--- low (wf-02) now\n"
        "+++ low (wf-02) after the update\n"
        "@@ -10,10 +10,12 @@\n"
        '       "start": {\n'
        '         "workflow": {\n'
        '           "uri": "wss://example.com/low",\n'
        '-          "args": {}\n'
        '+          "args": {\n'
        '+            "level": "low"\n'
        "+          }\n"
        "         }\n"
        "       },\n"
        '-      "on_battery_discharge": 25\n'
        '+      "on_battery_discharge": 15\n'
        "     }\n"
        "   },\n"
        '   "install_rule": "urn:relay-resource:all:device"\n'
    )

    as_json = run("workflow", "update", "-s", SUB, "-w", "low", "--threshold", "15", "--dry-run", "--json")
    expected = stored("wf-02")
    _threshold(expected)
    assert (as_json.code, as_json.err) == (0, "")
    assert as_json.json() == expected  # --dry-run --json: the body that would be sent, as every write's dry run
    assert sent(api) == [LIST, LIST]


def test_nothing_to_change_sends_nothing(run: Any, api: Any) -> None:
    result = run("workflow", "update", "-s", SUB, "-w", "auto_answer", "--trigger", "inbound", "-a", "greeting=hi")
    assert result.code == 0, result.err
    assert sent(api) == [LIST]
    assert result.err == "Nothing to change: auto_answer (wf-01) already is as asked.\n"


def test_unsetting_an_arg_it_does_not_have_is_a_warning(run: Any, api: Any) -> None:
    result = run("workflow", "update", "-s", SUB, "-w", "auto_answer", "--unset-arg", "nope", "--unset-arg", "volume")
    assert result.code == 0, result.err
    assert result.err.startswith("warning: auto_answer has no arg named nope\nUpdated workflow auto_answer")
    assert start(posted(api))["args"] == {"greeting": "hi"}


@pytest.mark.parametrize(
    ("flags", "code", "line", "requests"),
    [
        (["-w", "nope", "--uri", "wss://h/x"], 3, "error: no workflow with id or name 'nope' in account SUB", [LIST]),
        (
            ["-w", "auto_answer", "--threshold", "10"],
            2,
            "error: --threshold: does not apply to auto_answer, a call workflow (its trigger options: --trigger); "
            "the kind of trigger cannot be changed: create a new workflow for another one",
            [LIST],
        ),
        (
            ["-w", "low", "--day", "MO"],
            2,
            "error: --day: does not apply to low, a battery workflow (its trigger options: --trigger, --threshold); "
            "the kind of trigger cannot be changed: create a new workflow for another one",
            [LIST],
        ),
        (
            ["-w", "auto_answer", "--trigger", "outbond"],
            2,
            "error: --trigger: expected one of inbound, outbound, got 'outbond'; did you mean 'outbound'?",
            [LIST],
        ),
        (
            ["-w", "auto_answer", "--trigger", "inbound", "--trigger", "outbound"],
            2,
            "error: --trigger: given 2 times; auto_answer, a call workflow, takes one value",
            [LIST],
        ),
        (
            ["-w", "standup", "--trigger", "schedule", "--count", "3"],  # a value given is never dropped
            2,
            "error: --count: a schedule runs once; this only applies to --trigger repeat",
            [LIST],
        ),
        (
            ["-w", "odd", "--trigger", "outbound"],
            2,
            "error: --trigger: odd's trigger (on_incoming_call matches '^\\\\+1', not every call) is not one relay "
            "creates, so its options cannot be changed here",
            [LIST],
        ),
        # refused before anything is sent
        (
            ["-w", "auto_answer"],
            2,
            "error: --workflow-id: expected something to change: --uri, --name, a trigger option (e.g. --trigger), "
            "-a/-b/-r, --unset-arg, --transient/--no-transient or --hidden/--no-hidden",
            [],
        ),
        (
            ["-w", "auto_answer", "--uri", "http://h/x"],
            2,
            "error: --uri: expected a WebSocket URI starting with wss://, got 'http://h/x'",
            [],
        ),
        (["-w", "auto_answer", "-n", " "], 2, "error: --name: expected a workflow name, got an empty string", []),
        (
            ["-w", "auto_answer", "-a", "x=1", "--unset-arg", "x"],
            2,
            "error: --unset-arg: arg 'x' is both set and unset; give one",
            [],
        ),
    ],
    ids=[
        "unknown",
        "other-kind",
        "other-kind-2",
        "bad-choice",
        "twice",
        "given-count",
        "not-representable",
        "nothing",
        "bad-uri",
        "empty-name",
        "set-and-unset",
    ],
)
def test_refusals_send_no_write(
    run: Any, api: Any, flags: list[str], code: int, line: str, requests: list[Any]
) -> None:
    result = run("workflow", "update", "-s", SUB, *flags)
    assert result.code == code
    assert result.out == ""
    assert result.err.splitlines()[0] == line
    assert sent(api) == requests
    clean(result)


def test_a_call_workflow_is_checked_before_it_is_saved(run: Any, api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELAY_NO_CHECK")
    with socket.socket() as sock:  # a loopback port where nothing listens
        sock.bind(("127.0.0.1", 0))
        down = f"ws://127.0.0.1:{sock.getsockname()[1]}/down"
    refused = run("workflow", "update", "-s", SUB, "-w", "auto_answer", "--uri", down, "--strict")
    assert refused.code == 6
    assert 'Relay announcing "auto_answer is not available"' in refused.err
    assert sent(api) == [LIST, LIST]  # the workflow, then the account for the install checks; no POST
    warned = run("workflow", "update", "-s", SUB, "-w", "auto_answer", "--uri", down)
    assert warned.code == 0
    assert sent(api)[-1] == SAVE


def test_on_the_sandbox(run: Any) -> None:
    local = ("--profile", "local")
    assert run(*local, "workflow", "create", "battery", "-n", "low", "-u", "wss://h.example.com/b", "-A").code == 0
    result = run(*local, "workflow", "update", "-w", "low", "--threshold", "10", "--name", "lower", "--json")
    assert result.code == 0, result.err
    assert (result.json()["name"], result.json()["config"]["trigger"]["on_battery_discharge"]) == ("lower", 10)
    listed = run(*local, "workflow", "list", "--json").json()
    assert [(w["name"], w["config"]["trigger"]["on_battery_discharge"]) for w in listed] == [("lower", 10)]


def test_the_fetched_workflow_is_left_as_it_came() -> None:
    from relay_cli.core.update import Changes, updated

    workflow = stored("wf-01")
    before = copy.deepcopy(workflow)
    after = updated(workflow, Changes(name="x", trigger={"trigger": ["outbound"]}, args={"a": "1"}, unset=("volume",)))
    assert workflow == before
    assert (after["name"], start(after)["args"]) == ("x", {"greeting": "hi", "a": "1"})
