"""``relay workflow args list | get | set | unset``: output, and the whole workflow POSTed back on a change."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
import respx

from conftest import API, SUB, TOKEN, sent, stored_workflow

ARGS = {"greeting": "hi there", "volume": 3, "record": True, "ratio": 2.5}


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def base_workflows() -> list[dict[str, Any]]:
    auto = stored_workflow("wf-01", "auto_answer", install=["d1"])
    auto["config"]["trigger"]["start"]["workflow"]["args"] = dict(ARGS)
    auto["config"] = json.dumps(auto["config"])  # config may come back as a JSON string
    bare = stored_workflow("wf-02", "bare", {"on_http": "POST"}, install_rule="urn:relay-resource:all:device")
    del bare["install"]
    return [auto, bare]


def stored(workflow_id: str) -> dict[str, Any]:
    wf = copy.deepcopy(next(w for w in base_workflows() if w["workflow_id"] == workflow_id))
    if isinstance(wf["config"], str):
        wf["config"] = json.loads(wf["config"])
    return wf


def with_args(workflow: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    wf = copy.deepcopy(workflow)
    wf["config"]["trigger"]["start"]["workflow"]["args"] = args
    return wf


def saved_answer(request: httpx.Request) -> httpx.Response:
    body = body_of(request)
    return httpx.Response(200, json=[{**body, "config": json.dumps(body["config"])}])


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        mock.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": base_workflows()}))
        mock.post("/ibot/workflow").mock(side_effect=saved_answer)
        yield mock


LIST = ("GET", "/ibot/workflow", {"subscriber_id": SUB})
SAVE = ("POST", "/ibot/workflow", {"subscriber_id": SUB})


def args(run: Any, *argv: str) -> Any:
    result = run("workflow", "args", *argv, "-s", SUB)
    assert TOKEN not in result.out + result.err
    assert "\x1b" not in result.out + result.err
    assert "Traceback" not in result.err
    return result


ARGS_TABLE = (
    "NAME      VALUE     TYPE\n"
    "greeting  hi there  string\n"
    "volume    3         number\n"
    "record    true      boolean\n"
    "ratio     2.5       number\n"
)


# --- list -----------------------------------------------------------------------------------------


def test_list_table(run: Any, api: Any) -> None:
    result = args(run, "list", "-w", "auto_answer")
    assert result.code == 0, result.err
    assert sent(api) == [LIST]
    assert result.out == ARGS_TABLE
    assert result.err == ""


def test_list_json(run: Any, api: Any) -> None:
    result = args(run, "list", "-w", "wf-01", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == ARGS
    assert result.out == json.dumps(ARGS, indent=2) + "\n"


def test_list_no_args(run: Any, api: Any) -> None:
    result = args(run, "list", "-w", "bare")
    assert result.code == 0
    assert result.out == ""
    assert result.err == "The workflow has no args.\n"


def test_list_no_args_json(run: Any, api: Any) -> None:
    result = args(run, "list", "-w", "bare", "--json")
    assert result.code == 0
    assert result.out == "{}\n"


def test_list_unknown_workflow(run: Any, api: Any) -> None:
    result = args(run, "list", "-w", "auto")
    assert result.code == 3
    assert result.out == ""


# --- get ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "plain", "typed"),
    [
        ("greeting", "hi there\n", '"hi there"\n'),
        ("volume", "3\n", "3\n"),
        ("record", "true\n", "true\n"),
        ("ratio", "2.5\n", "2.5\n"),
    ],
)
def test_get(run: Any, api: Any, name: str, plain: str, typed: str) -> None:
    result = args(run, "get", "-w", "auto_answer", name)
    assert result.code == 0, result.err
    assert result.out == plain
    assert result.err == ""
    result = args(run, "get", "-w", "auto_answer", name, "--json")
    assert result.code == 0, result.err
    assert result.out == typed
    assert json.loads(result.out) == ARGS[name]
    assert sent(api) == [LIST, LIST]


def test_get_missing_is_exit_3(run: Any, api: Any) -> None:
    result = args(run, "get", "-w", "auto_answer", "nope")
    assert result.code == 3
    assert result.out == ""
    assert result.err == (
        "error: auto_answer has no arg named 'nope'\nhint: `relay workflow args list -w ...` shows them\n"
    )
    assert sent(api) == [LIST]


# --- set ------------------------------------------------------------------------------------------


def test_set_merges_and_posts_the_whole_workflow(run: Any, api: Any) -> None:
    result = args(
        run, "set", "-w", "auto_answer", "-a", "greeting=hello", "-b", "record=false", "-r", "volume=7", "-a", "new=x=y"
    )
    assert result.code == 0, result.err
    assert sent(api) == [LIST, SAVE]
    body = body_of(api.calls.last.request)
    merged = {"greeting": "hello", "volume": 7, "record": False, "ratio": 2.5, "new": "x=y"}
    assert body == with_args(stored("wf-01"), merged)
    assert body["workflow_id"] == "wf-01"
    assert body["install"] == ["d1"]
    assert list(body["config"]["trigger"]["start"]["workflow"]["args"]) == [
        "greeting",
        "volume",
        "record",
        "ratio",
        "new",
    ]
    assert result.err == "Updated the args of auto_answer (wf-01)\n"
    assert result.out == (
        "NAME      VALUE  TYPE\n"
        "greeting  hello  string\n"
        "volume    7      number\n"
        "record    false  boolean\n"
        "ratio     2.5    number\n"
        "new       x=y    string\n"
    )


def test_set_on_workflow_without_args_keeps_install_rule(run: Any, api: Any) -> None:
    result = args(run, "set", "-w", "bare", "-a", "empty=", "-r", "n=-1.5e2")
    assert result.code == 0, result.err
    body = body_of(api.calls.last.request)
    assert body == with_args(stored("wf-02"), {"empty": "", "n": -150})
    assert body["install_rule"] == "urn:relay-resource:all:device"
    assert "install" not in body


def test_set_json_prints_the_args(run: Any, api: Any) -> None:
    result = args(run, "set", "-w", "auto_answer", "-r", "volume=9", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {**ARGS, "volume": 9}


def test_set_dry_run_json_sends_nothing(run: Any, api: Any) -> None:
    result = args(run, "set", "-w", "auto_answer", "-b", "record=false", "--dry-run", "--json")
    assert result.code == 0, result.err
    assert sent(api) == [LIST]
    assert json.loads(result.out) == with_args(stored("wf-01"), {**ARGS, "record": False})


def test_set_without_args_sends_nothing(run: Any, api: Any) -> None:
    result = args(run, "set", "-w", "auto_answer")
    assert result.code == 2
    assert sent(api) == []
    assert result.out == ""
    assert result.err == "error: --arg: expected at least one of -a NAME=VALUE, -b NAME=true|false, -r NAME=NUMBER\n"


@pytest.mark.parametrize(
    "flags",
    [["-a", "novalue"], ["-b", "x=yes"], ["-r", "x=Infinity"], ["-r", "x="], ["-a", "x=1", "-r", "x=1"]],
    ids=["arg-no-equals", "boolean-yes", "number-infinity", "number-empty", "same-name-two-types"],
)
def test_set_bad_values_send_nothing(run: Any, api: Any, flags: list[str]) -> None:
    result = args(run, "set", "-w", "auto_answer", *flags)
    assert result.code == 2, (result.code, result.err)
    assert sent(api) == []
    assert result.err.startswith("error: ") and result.err.count("\n") == 1


def test_set_unknown_workflow(run: Any, api: Any) -> None:
    result = args(run, "set", "-w", "nope", "-a", "x=1")
    assert result.code == 3
    assert sent(api) == [LIST]


# --- unset ----------------------------------------------------------------------------------------


def test_unset_removes_and_posts(run: Any, api: Any) -> None:
    result = args(run, "unset", "-w", "auto_answer", "greeting", "ratio")
    assert result.code == 0, result.err
    assert sent(api) == [LIST, SAVE]
    assert body_of(api.calls.last.request) == with_args(stored("wf-01"), {"volume": 3, "record": True})
    assert result.err == "Updated the args of auto_answer (wf-01)\n"
    assert result.out == "NAME    VALUE  TYPE\nvolume  3      number\nrecord  true   boolean\n"


def test_unset_missing_warns_and_sends_nothing(run: Any, api: Any) -> None:
    result = args(run, "unset", "-w", "auto_answer", "nope")
    assert result.code == 0
    assert sent(api) == [LIST]
    assert result.out == ""
    assert result.err == "warning: auto_answer has no arg named nope\nNothing to change.\n"


def test_unset_some_missing_warns_and_removes_the_rest(run: Any, api: Any) -> None:
    result = args(run, "unset", "-w", "auto_answer", "nope", "volume")
    assert result.code == 0, result.err
    assert sent(api) == [LIST, SAVE]
    assert body_of(api.calls.last.request) == with_args(
        stored("wf-01"), {"greeting": "hi there", "record": True, "ratio": 2.5}
    )
    assert result.err.splitlines()[0] == "warning: auto_answer has no arg named nope"


def test_unset_dry_run_json(run: Any, api: Any) -> None:
    result = args(run, "unset", "-w", "auto_answer", "record", "-N", "--json")
    assert result.code == 0, result.err
    assert sent(api) == [LIST]
    assert json.loads(result.out) == with_args(stored("wf-01"), {"greeting": "hi there", "volume": 3, "ratio": 2.5})


def test_unset_without_names_is_a_usage_error(run: Any, api: Any) -> None:
    result = args(run, "unset", "-w", "auto_answer")
    assert result.code == 2
    assert sent(api) == []


# Product bug: relay_cli/commands/workflow/args.py unset_args compares len(missing) (with repeats) with
# len(set(names)) (without), so a repeated missing name changes the decision.


def test_unset_repeated_missing_name_does_not_hide_a_real_removal(run: Any, api: Any) -> None:
    result = args(run, "unset", "-w", "auto_answer", "greeting", "nope", "nope")
    assert result.code == 0, result.err
    assert sent(api) == [LIST, SAVE], result.err  # greeting must be removed
    assert body_of(api.calls.last.request) == with_args(stored("wf-01"), {"volume": 3, "record": True, "ratio": 2.5})


def test_unset_repeated_missing_name_sends_nothing(run: Any, api: Any) -> None:
    result = args(run, "unset", "-w", "auto_answer", "nope", "nope")
    assert result.code == 0
    assert sent(api) == [LIST]  # nothing to change: no POST
