"""Running a create twice: a duplicate name is a warning (or, with --unique, a refusal), never a silent duplicate.

Every `relay workflow create` looks its name up among the account's workflows before it saves (one GET: for a call
workflow the same listing the preflight checks use, never a second one). A name the account already has is a
warning on stderr naming the existing id(s) and pointing to `relay workflow update` or `apply`; `--unique` refuses
instead (exit 2, nothing created). `--no-check` (or RELAY_NO_CHECK=1) skips the look-up, unless `--unique` is given.
The request sent is the reference's, byte for byte, whatever the look-up found.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from conftest import API, SUB, stored_workflow

CREATE = ("workflow", "create", "button", "--trigger", "double", "-n", "my_auto_answer", "-u", "wss://h/p", "-A")
CALL = ("workflow", "create", "call", "--trigger", "inbound", "-n", "my_auto_answer", "-u", "wss://h/p", "-i", "d1")
#: what the reference CLI 1.10.2 sends for CREATE, byte for byte as httpx writes it
REFERENCE_BODY = (
    b'{"name":"my_auto_answer","options":{"transient":true,"hidden":false},"config":{"trigger":{"start":'
    b'{"workflow":{"uri":"wss://h/p","args":{}}},"on_button":"action_button_double_tap"}},'
    b'"install_rule":"urn:relay-resource:all:device"}'
)
HINT = (
    "To change it instead: `relay workflow update -w wf_1`, or declare it in relay.toml and run `relay workflow "
    "apply` (which never duplicates); --unique refuses a duplicate name"
)


@pytest.fixture(autouse=True)
def look_up_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELAY_NO_CHECK", raising=False)


@pytest.fixture
def account() -> list[dict[str, Any]]:
    return [stored_workflow("wf_1", "my_auto_answer"), stored_workflow("wf_2", "other")]


@pytest.fixture
def api(account: list[dict[str, Any]]) -> Any:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        mock.get("/ibot/workflow").mock(side_effect=lambda _: httpx.Response(200, json={"results": account}))
        mock.post("/ibot/workflow").mock(
            side_effect=lambda req: httpx.Response(200, json=[{"workflow_id": "wf_9", **json.loads(req.content)}])
        )
        yield mock


def requests(api: Any) -> list[str]:
    return [c.request.method for c in api.calls]


def test_create_with_a_name_the_account_has_warns_naming_its_id(run: Any, api: Any) -> None:
    result = run(*CREATE, "-s", SUB)
    assert result.code == 0, result.err
    assert requests(api) == ["GET", "POST"]
    assert api.calls[1].request.content == REFERENCE_BODY
    assert result.err.startswith(
        f"warning: account {SUB} already has a workflow named 'my_auto_answer' (wf_1); this creates another one. "
        + HINT
        + "\n"
    )
    assert "Created workflow my_auto_answer (wf_9)" in result.err


def test_several_existing_ones_are_all_named(run: Any, api: Any, account: list[dict[str, Any]]) -> None:
    account.append(stored_workflow("wf_3", "my_auto_answer"))
    result = run(*CREATE, "-s", SUB)
    assert result.code == 0
    assert f"account {SUB} already has 2 workflows named 'my_auto_answer' (wf_1, wf_3); this creates" in result.err


def test_a_new_name_is_quiet(run: Any, api: Any, account: list[dict[str, Any]]) -> None:
    del account[0]
    result = run(*CREATE, "-s", SUB, "--unique")
    assert result.code == 0, result.err
    assert "warning" not in result.err
    assert requests(api) == ["GET", "POST"]
    assert api.calls[1].request.content == REFERENCE_BODY  # --unique changes nothing in what is sent


@pytest.mark.parametrize("command", [CREATE, CALL], ids=["button", "call"])
@pytest.mark.parametrize("no_check", [False, True], ids=["", "no-check"])
def test_unique_refuses_a_name_the_account_has(run: Any, api: Any, command: tuple[str, ...], no_check: bool) -> None:
    result = run(*command, "-s", SUB, "--unique", *(["--no-check"] if no_check else []))
    assert requests(api) == ["GET"]  # nothing created
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"error: --unique: account {SUB} already has a workflow named 'my_auto_answer' (wf_1); nothing was created\n"
        "hint: change it with `relay workflow update -w wf_1`, or declare it in relay.toml and run `relay workflow "
        "apply`\n"
    )


def test_unique_with_dry_run_looks_the_name_up_and_sends_nothing(run: Any, api: Any) -> None:
    result = run(*CREATE, "-s", SUB, "--unique", "--dry-run")
    assert (result.code, requests(api)) == (2, ["GET"])


@pytest.mark.parametrize("how", ["flag", "env"])
def test_no_check_makes_no_listing_and_no_warning(
    run: Any, api: Any, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "env":
        monkeypatch.setenv("RELAY_NO_CHECK", "1")
    result = run(*CREATE, "-s", SUB, *(["--no-check"] if how == "flag" else []))
    assert result.code == 0, result.err
    assert requests(api) == ["POST"]  # the reference's one request
    assert api.calls[0].request.content == REFERENCE_BODY
    assert "warning" not in result.err


def test_a_call_create_lists_once_for_the_look_up_and_the_preflight_checks(
    run: Any, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("relay_cli.api.probe.probe", lambda targets, timeout: dict.fromkeys(targets))  # URIs answer
    result = run(*CALL, "-s", SUB)
    assert result.code == 0, result.err
    assert requests(api) == ["GET", "POST"]  # one listing, shared
    assert result.err.startswith(f"warning: account {SUB} already has a workflow named 'my_auto_answer' (wf_1)")
