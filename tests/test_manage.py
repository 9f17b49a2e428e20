"""``relay workflow delete | install | uninstall | trigger``: how -w resolves, the exact requests, confirmation."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
import respx

from conftest import API, SUB, answering, clean, sent, stored_workflow

ALL = "urn:relay-resource:all:device"
GROUP = "urn:relay-resource:id:tag:g1"
USER = "990007560045678"


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def base_workflows() -> list[dict[str, Any]]:
    auto = stored_workflow("wf-01", "auto_answer", install=["d1"])
    auto["config"]["trigger"]["start"]["workflow"]["args"] = {"greeting": "hi"}
    auto["config"] = json.dumps(auto["config"])  # the server may send config as a JSON string
    auto["owner"] = "someone"  # a field the client knows nothing about: kept as is
    everywhere = stored_workflow("wf-02", "everywhere", {"on_button": "action_button_double_tap"}, install_rule=ALL)
    del everywhere["install"]
    hook = stored_workflow("wf-03", "hook", {"on_http": "POST"}, install=[USER])
    pair = stored_workflow("wf-04", "pair", install=["d1", "d2"])
    grouped = stored_workflow("wf-05", "grouped", install=["d1", "d2"], install_rule=GROUP)
    return [auto, everywhere, hook, pair, grouped]


def parsed(workflow: dict[str, Any]) -> dict[str, Any]:
    wf = copy.deepcopy(workflow)
    if isinstance(wf["config"], str):
        wf["config"] = json.loads(wf["config"])
    return wf


def stored(workflow_id: str) -> dict[str, Any]:
    """A stored workflow as the client sees it (config parsed)."""
    return next(parsed(wf) for wf in base_workflows() if wf["workflow_id"] == workflow_id)


def saved_answer(request: httpx.Request) -> httpx.Response:
    body = body_of(request)
    return httpx.Response(200, json=[{**body, "config": json.dumps(body["config"])}])


@pytest.fixture
def workflows() -> list[dict[str, Any]]:
    return base_workflows()


@pytest.fixture
def api(workflows: list[dict[str, Any]]) -> Any:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        mock.get("/ibot/workflow").mock(side_effect=lambda req: httpx.Response(200, json={"results": workflows}))
        mock.post("/ibot/workflow").mock(side_effect=saved_answer)
        mock.delete(path__regex=r"^/ibot/workflow/[^/]+$").mock(return_value=httpx.Response(204))
        mock.post(path__regex=r"^/ibot/workflow/[^/]+$").mock(return_value=httpx.Response(200))
        yield mock


LIST = ("GET", "/ibot/workflow", {"subscriber_id": SUB})
SAVE = ("POST", "/ibot/workflow", {"subscriber_id": SUB})


# --- delete ---------------------------------------------------------------------------------------


def test_delete_by_exact_name(run: Any, api: Any) -> None:
    result = run("workflow", "delete", "-w", "auto_answer", "--yes", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [LIST, ("DELETE", "/ibot/workflow/wf-01", {"subscriber_id": SUB})]
    assert api.calls.last.request.content == b""
    assert result.out == ""
    assert result.err == "Deleted workflow auto_answer (wf-01)\n"
    clean(result)


def test_delete_by_exact_id(run: Any, api: Any) -> None:
    result = run("workflow", "delete", "-w", "wf-04", "-y", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [LIST, ("DELETE", "/ibot/workflow/wf-04", {"subscriber_id": SUB})]
    assert result.err == "Deleted workflow pair (wf-04)\n"


def test_delete_id_wins_over_a_name_equal_to_it(run: Any, api: Any, workflows: list[dict[str, Any]]) -> None:
    workflows.append(stored_workflow("wf-99", "wf-04"))
    result = run("workflow", "delete", "-w", "wf-04", "--yes", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [LIST, ("DELETE", "/ibot/workflow/wf-04", {"subscriber_id": SUB})]


@pytest.mark.parametrize("ref", ["auto", "answer", "AUTO_ANSWER", "wf-0", "01", "auto_answerx"])
def test_delete_partial_or_wrong_case_is_not_a_match(run: Any, api: Any, ref: str) -> None:
    result = run("workflow", "delete", "-w", ref, "--yes", "-s", SUB)
    assert result.code == 3, (result.code, result.err)
    assert sent(api) == [LIST]
    assert result.out == ""
    assert result.err == (
        f"error: no workflow with id or name {ref!r} in account {SUB}\n"
        "hint: `relay workflow list` shows the workflows\n"
    )


LONG = ("wf_d107326e10978aaf4bde5df0", "wf_d107326f00000000000000aa")


def test_delete_takes_the_short_id_a_narrow_table_shows(run: Any, api: Any, workflows: list[dict[str, Any]]) -> None:
    workflows.extend(stored_workflow(ident, f"long{i}") for i, ident in enumerate(LONG))
    result = run("workflow", "delete", "-w", "wf_d107326e", "--yes", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [LIST, ("DELETE", f"/ibot/workflow/{LONG[0]}", {"subscriber_id": SUB})]
    assert result.err == f"Deleted workflow long0 ({LONG[0]})\n"


@pytest.mark.parametrize(
    ("ref", "code", "error"),
    [
        (
            "wf_d107326",
            2,
            f"error: --workflow-id: 2 workflow ids start with 'wf_d107326' ({LONG[0]}, {LONG[1]}); "
            "give more of the id\n",
        ),
        ("wf_d10732", 3, f"error: no workflow with id or name 'wf_d10732' in account {SUB}\n"),  # under 10 characters
        ("d107326e10", 3, f"error: no workflow with id or name 'd107326e10' in account {SUB}\n"),  # not the start
    ],
)
def test_a_short_id_that_two_share_or_too_short_deletes_nothing(
    run: Any, api: Any, workflows: list[dict[str, Any]], ref: str, code: int, error: str
) -> None:
    workflows.extend(stored_workflow(ident, f"long{i}") for i, ident in enumerate(LONG))
    result = run("workflow", "delete", "-w", ref, "--yes", "-s", SUB)
    assert result.code == code, (result.code, result.err)
    assert sent(api) == [LIST]
    assert result.out == ""
    assert result.err.startswith(error)


def test_a_workflow_named_by_its_short_id_is_checked_whole_before_it_is_sent_back(
    run: Any, api: Any, workflows: list[dict[str, Any]]
) -> None:
    broken = stored_workflow(LONG[0], "long0")
    del broken["config"]["trigger"]["start"]["workflow"]["uri"]  # sent back, it would be stored without its URI
    workflows.append(broken)
    result = run("workflow", "install", "-w", "wf_d107326e", "-i", "d9", "-s", SUB)
    assert result.code == 1, (result.code, result.err)
    assert sent(api) == [LIST]
    assert "results[5].config.trigger.start.workflow" in result.err


def test_delete_unknown_is_exit_3(run: Any, api: Any) -> None:
    result = run("workflow", "delete", "-w", "nope", "--yes", "-s", SUB)
    assert result.code == 3
    assert sent(api) == [LIST]
    assert result.err.startswith("error: no workflow with id or name 'nope' in account SUB\n")


def test_delete_two_with_the_same_name_is_refused(run: Any, api: Any, workflows: list[dict[str, Any]]) -> None:
    workflows.append(stored_workflow("wf-77", "pair"))
    result = run("workflow", "delete", "-w", "pair", "--yes", "-s", SUB)
    assert result.code == 2, (result.code, result.err)
    assert sent(api) == [LIST]
    assert result.out == ""
    assert "wf-04" in result.err and "wf-77" in result.err
    assert result.err == ("error: --workflow-id: 2 workflows are named 'pair' (wf-04, wf-77); give the id instead\n")


def test_delete_without_yes_and_no_terminal_sends_nothing(run: Any, api: Any) -> None:
    result = run("workflow", "delete", "-w", "auto_answer", "-s", SUB)
    assert result.code == 2
    assert sent(api) == []
    assert result.out == ""
    assert result.err == "error: --yes: no terminal to confirm on; pass --yes to delete without asking\n"


def test_delete_on_a_terminal_answer_yes(run: Any, api: Any) -> None:
    result = run("workflow", "delete", "-w", "auto_answer", "-s", SUB, out=answering("y\n"))
    assert result.code == 0, result.err
    assert sent(api) == [LIST, ("DELETE", "/ibot/workflow/wf-01", {"subscriber_id": SUB})]
    assert result.err == (
        "Delete workflow auto_answer (wf-01) from account SUB? [y/N]: Deleted workflow auto_answer (wf-01)\n"
    )


@pytest.mark.parametrize("answer", ["n\n", "\n", "", "nope\n"])
def test_delete_on_a_terminal_answer_no(run: Any, api: Any, answer: str) -> None:
    result = run("workflow", "delete", "-w", "auto_answer", "-s", SUB, out=answering(answer))
    assert result.code == 0, result.err
    assert sent(api) == [LIST]
    assert result.out == ""
    assert result.err == "Delete workflow auto_answer (wf-01) from account SUB? [y/N]: Not deleted.\n"


def test_delete_with_yes_does_not_ask_on_a_terminal(run: Any, api: Any) -> None:
    result = run("workflow", "delete", "-w", "auto_answer", "--yes", "-s", SUB, out=answering("n\n"))
    assert result.code == 0
    assert sent(api) == [LIST, ("DELETE", "/ibot/workflow/wf-01", {"subscriber_id": SUB})]
    assert "[y/N]" not in result.err


def test_delete_workflow_from_environment(run: Any, api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_WORKFLOW_ID", "hook")
    result = run("workflow", "delete", "--yes", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [LIST, ("DELETE", "/ibot/workflow/wf-03", {"subscriber_id": SUB})]


def test_delete_flag_beats_environment(run: Any, api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_WORKFLOW_ID", "hook")
    result = run("workflow", "delete", "-w", "pair", "--yes", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [LIST, ("DELETE", "/ibot/workflow/wf-04", {"subscriber_id": SUB})]


def test_delete_subscriber_from_environment(run: Any, api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_SUBSCRIBER_ID", "SUB-ENV")
    result = run("workflow", "delete", "-w", "wf-01", "--yes")
    assert result.code == 0, result.err
    assert sent(api) == [
        ("GET", "/ibot/workflow", {"subscriber_id": "SUB-ENV"}),
        ("DELETE", "/ibot/workflow/wf-01", {"subscriber_id": "SUB-ENV"}),
    ]


def test_delete_json(run: Any, api: Any) -> None:
    result = run("workflow", "delete", "-w", "auto_answer", "--yes", "--json", "-s", SUB)
    assert result.code == 0, result.err
    assert json.loads(result.out) == {**stored("wf-01"), "deleted": True}
    assert sent(api)[-1] == ("DELETE", "/ibot/workflow/wf-01", {"subscriber_id": SUB})


def test_delete_without_workflow_is_a_usage_error(run: Any, api: Any) -> None:
    result = run("workflow", "delete", "--yes", "-s", SUB)
    assert result.code == 2
    assert sent(api) == []
    assert "--workflow-id" in result.err


def test_delete_empty_workflow_ref_is_refused(run: Any, api: Any) -> None:
    result = run("workflow", "delete", "-w", " ", "--yes", "-s", SUB)
    assert result.code == 2
    assert sent(api) == []


def test_delete_server_404_is_exit_3(run: Any, api: Any) -> None:
    api.delete(path__regex=r"^/ibot/workflow/[^/]+$").mock(
        return_value=httpx.Response(404, json={"error": "not_found"})
    )
    result = run("workflow", "delete", "-w", "wf-01", "--yes", "-s", SUB)
    assert result.code == 3
    assert "Deleted" not in result.err


# --- install --------------------------------------------------------------------------------------


def last_post(api: Any) -> dict[str, Any]:
    request = api.calls.last.request
    assert (request.method, request.url.path, dict(request.url.params)) == SAVE
    return body_of(request)


def test_install_adds_to_the_list(run: Any, api: Any) -> None:
    result = run("workflow", "install", "-w", "auto_answer", "-i", "d9", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [LIST, SAVE]
    expected = stored("wf-01")
    expected["install"] = ["d1", "d9"]
    body = last_post(api)
    assert body == expected
    assert body["workflow_id"] == "wf-01"
    assert "install_rule" not in body
    assert isinstance(body["config"], dict)
    assert body["owner"] == "someone"
    assert result.err == "Installed workflow auto_answer (wf-01)\n"
    assert result.out == (
        "ID     NAME         TYPE          URI                            INSTALLED ON  ARGS\n"
        "wf-01  auto_answer  call:inbound  wss://example.com/auto_answer  d1, d9        greeting=hi\n"
    )
    clean(result)


def test_install_union_keeps_order_without_duplicates(run: Any, api: Any) -> None:
    result = run("workflow", "install", "-w", "pair", "-i", "d9", "-i", "d1", "-i", "d9", "-i", "d0", "-s", SUB)
    assert result.code == 0, result.err
    assert last_post(api)["install"] == ["d1", "d2", "d9", "d0"]


def test_install_all(run: Any, api: Any) -> None:
    result = run("workflow", "install", "-w", "auto_answer", "-A", "-s", SUB)
    assert result.code == 0, result.err
    expected = stored("wf-01")
    del expected["install"]
    expected["install_rule"] = ALL
    body = last_post(api)
    assert body == expected
    assert "install" not in body


def test_install_group_urn(run: Any, api: Any) -> None:
    result = run("workflow", "install", "-w", "auto_answer", "-G", "urn:relay-resource:id:tag:g1", "-s", SUB)
    assert result.code == 0, result.err
    expected = stored("wf-01")
    del expected["install"]
    expected["install_rule"] = GROUP
    assert last_post(api) == expected


def test_install_group_id_becomes_urn(run: Any, api: Any) -> None:
    result = run("workflow", "install", "-w", "auto_answer", "--install-group", "g1", "-s", SUB)
    assert result.code == 0, result.err
    assert last_post(api)["install_rule"] == GROUP


def test_install_list_on_all_devices_needs_yes_without_terminal(run: Any, api: Any) -> None:
    result = run("workflow", "install", "-w", "everywhere", "-i", "d9", "-s", SUB)
    assert result.code == 2, (result.code, result.err)
    assert sent(api) == [LIST]
    assert result.out == ""
    assert result.err == (
        "error: --yes: the workflow is installed on all devices and -i would narrow it to a list; pass --yes to do that\n"
    )


def test_install_list_on_all_devices_with_yes(run: Any, api: Any) -> None:
    result = run("workflow", "install", "-w", "everywhere", "-i", "d9", "--yes", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [LIST, SAVE]
    expected = stored("wf-02")
    del expected["install_rule"]
    expected["install"] = ["d9"]
    body = last_post(api)
    assert body == expected
    assert "install_rule" not in body


def test_install_list_on_all_devices_terminal_yes(run: Any, api: Any) -> None:
    result = run("workflow", "install", "-w", "everywhere", "-i", "d9", "-s", SUB, out=answering("yes\n"))
    assert result.code == 0, result.err
    assert sent(api) == [LIST, SAVE]
    assert last_post(api)["install"] == ["d9"]
    assert result.err.startswith("everywhere is installed on all devices; install it on only d9 instead? [y/N]: ")


def test_install_list_on_all_devices_terminal_no(run: Any, api: Any) -> None:
    result = run("workflow", "install", "-w", "everywhere", "-i", "d9", "-s", SUB, out=answering("n\n"))
    assert result.code == 0, result.err
    assert sent(api) == [LIST]
    assert result.err.endswith("[y/N]: Not changed.\n")


def test_install_all_on_all_devices_needs_no_confirmation(run: Any, api: Any) -> None:
    result = run("workflow", "install", "-w", "everywhere", "-A", "-s", SUB)
    assert result.code == 0, result.err
    assert last_post(api) == stored("wf-02")


def test_install_dry_run_json_prints_body_and_sends_nothing(run: Any, api: Any) -> None:
    result = run("workflow", "install", "-w", "auto_answer", "-i", "d9", "--dry-run", "--json", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [LIST]
    expected = stored("wf-01")
    expected["install"] = ["d1", "d9"]
    assert json.loads(result.out) == expected
    clean(result)


def test_install_dry_run_text(run: Any, api: Any) -> None:
    result = run("workflow", "install", "-w", "auto_answer", "-A", "-N", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [LIST]
    assert result.err == f"Dry run, nothing sent. Would send: POST {API}/ibot/workflow?subscriber_id={SUB}\n"
    assert json.loads(result.out)["install_rule"] == ALL


def test_install_json_prints_the_saved_workflow(run: Any, api: Any) -> None:
    result = run("workflow", "install", "-w", "auto_answer", "-i", "d9", "--json", "-s", SUB)
    assert result.code == 0, result.err
    expected = stored("wf-01")
    expected["install"] = ["d1", "d9"]
    assert json.loads(result.out) == expected


@pytest.mark.parametrize(
    "flags",
    [
        pytest.param([], id="no-target"),
        pytest.param(["-i", "d9", "-A"], id="list-and-all"),
        pytest.param(["-A", "-G", "g1"], id="all-and-group"),
        pytest.param(["-i", " "], id="blank-id"),
        pytest.param(["-G", ""], id="blank-group"),
    ],
)
def test_install_bad_target_sends_nothing(run: Any, api: Any, flags: list[str]) -> None:
    result = run("workflow", "install", "-w", "auto_answer", *flags, "-s", SUB)
    assert result.code == 2, (result.code, result.err)
    assert sent(api) == []
    assert result.out == ""
    assert result.err.count("\n") == 1 and result.err.startswith("error: ")


def test_install_unknown_workflow(run: Any, api: Any) -> None:
    result = run("workflow", "install", "-w", "auto", "-i", "d9", "-s", SUB)
    assert result.code == 3
    assert sent(api) == [LIST]


# --- uninstall ------------------------------------------------------------------------------------


def test_uninstall_removes_ids(run: Any, api: Any) -> None:
    result = run("workflow", "uninstall", "-w", "pair", "-i", "d1", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [LIST, SAVE]
    expected = stored("wf-04")
    expected["install"] = ["d2"]
    assert last_post(api) == expected
    assert result.err == "Uninstalled workflow pair (wf-04)\n"


def test_uninstall_ids_from_a_rule_is_refused(run: Any, api: Any) -> None:
    # The reference would drop the group rule and keep the stale list: the workflow would silently leave
    # every device of the group. We refuse and say how to remove the rule instead.
    result = run("workflow", "uninstall", "-w", "grouped", "-i", "d2", "-s", SUB)
    assert result.code == 2
    assert result.out == ""
    assert result.err == (
        "error: --install: grouped is installed on urn:relay-resource:id:tag:g1, not on a list of ids; "
        "remove the rule with -A (or -G), or narrow it first with `relay workflow install -i ...`\n"
    )
    assert sent(api) == [("GET", "/ibot/workflow", {"subscriber_id": SUB})]


def test_uninstall_all(run: Any, api: Any) -> None:
    result = run("workflow", "uninstall", "-w", "everywhere", "-A", "-s", SUB)
    assert result.code == 0, result.err
    expected = stored("wf-02")
    del expected["install_rule"]
    expected["install"] = []
    body = last_post(api)
    assert body == expected
    assert "install_rule" not in body


def test_uninstall_group_clears_both(run: Any, api: Any) -> None:
    result = run("workflow", "uninstall", "-w", "grouped", "-G", "g1", "-s", SUB)
    assert result.code == 0, result.err
    body = last_post(api)
    assert body["install"] == []
    assert "install_rule" not in body


def test_uninstall_ids_not_installed_warns(run: Any, api: Any) -> None:
    result = run("workflow", "uninstall", "-w", "pair", "-i", "d5", "-i", "d1", "-i", "d6", "-s", SUB)
    assert result.code == 0, result.err
    assert result.err.splitlines()[0] == "warning: pair is not installed on d5, d6"
    assert last_post(api)["install"] == ["d2"]


def test_uninstall_dry_run_json(run: Any, api: Any) -> None:
    result = run("workflow", "uninstall", "-w", "pair", "-i", "d2", "--dry-run", "--json", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [LIST]
    expected = stored("wf-04")
    expected["install"] = ["d1"]
    assert json.loads(result.out) == expected


def test_uninstall_no_target_sends_nothing(run: Any, api: Any) -> None:
    result = run("workflow", "uninstall", "-w", "pair", "-s", SUB)
    assert result.code == 2
    assert sent(api) == []


# --- trigger --------------------------------------------------------------------------------------


def test_trigger_exact_request(run: Any, api: Any) -> None:
    result = run("workflow", "trigger", "-w", "hook", "-u", USER, "-a", "k=v", "-b", "f=true", "-r", "n=3", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [LIST, ("POST", "/ibot/workflow/wf-03", {"subscriber_id": SUB, "user_id": USER})]
    request = api.calls.last.request
    assert request.headers["Content-Type"] == "application/json"
    assert body_of(request) == {
        "action": "invoke",
        "target_device_ids": [USER],
        "action_args": {"k": "v", "f": True, "n": 3},
    }
    assert result.out == ""
    assert result.err == f"Triggered workflow hook (wf-03) for {USER}\n"
    clean(result)


def test_trigger_by_id_without_args(run: Any, api: Any) -> None:
    result = run("workflow", "trigger", "-w", "wf-03", "--user-id", "u-2", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api)[-1] == ("POST", "/ibot/workflow/wf-03", {"subscriber_id": SUB, "user_id": "u-2"})
    assert body_of(api.calls.last.request) == {"action": "invoke", "target_device_ids": ["u-2"], "action_args": {}}


def test_trigger_arg_values_keep_equals_and_types(run: Any, api: Any) -> None:
    result = run(
        "workflow",
        "trigger",
        "-w",
        "hook",
        "-u",
        USER,
        "-a",
        "url=a=b",
        "-a",
        "empty=",
        "-r",
        "x=2.5",
        "-b",
        "no=false",
        "-s",
        SUB,
    )
    assert result.code == 0, result.err
    assert body_of(api.calls.last.request)["action_args"] == {"url": "a=b", "empty": "", "x": 2.5, "no": False}


@pytest.mark.parametrize(
    "flags",
    [["-a", "novalue"], ["-r", "n=abc"], ["-b", "f=True"], ["-u", " "]],
    ids=["arg-no-equals", "number-text", "boolean-capital", "blank-user"],
)
def test_trigger_bad_input_sends_nothing(run: Any, api: Any, flags: list[str]) -> None:
    user = [] if "-u" in flags else ["-u", USER]
    result = run("workflow", "trigger", "-w", "hook", *user, *flags, "-s", SUB)
    assert result.code == 2, (result.code, result.err)
    assert sent(api) == []


def test_trigger_unknown_workflow(run: Any, api: Any) -> None:
    result = run("workflow", "trigger", "-w", "hoo", "-u", USER, "-s", SUB)
    assert result.code == 3
    assert sent(api) == [LIST]
