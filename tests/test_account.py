"""``relay devices`` and ``relay group list``: the exact requests and outputs."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from conftest import API, SUB, clean, sent

DEVICES = ["990007560045678", "990007560023456"]
GROUPS = [
    {
        "group_id": "urn:relay-resource:id:tag:front-desk",
        "name": "Front desk",
        "owner": SUB,
        "subscribers": ["990007560045678", "990007560023456"],
    },
    {"group_id": "urn:relay-resource:id:tag:empty", "name": "Empty", "owner": SUB, "subscribers": []},
]


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        mock.get(f"/ibot/subscriber/{SUB}/device_ids").mock(return_value=httpx.Response(200, json={"devices": DEVICES}))
        mock.get("/ibot/groups").mock(return_value=httpx.Response(200, json=GROUPS))
        yield mock


DEVICE_IDS = ("GET", f"/ibot/subscriber/{SUB}/device_ids", {})
GROUP_LIST = ("GET", "/ibot/groups", {"subscriber_id": SUB})


# --- devices ------------------------------------------------------------------------------------------


def test_devices_table(run: Any, api: Any) -> None:
    result = run("devices", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [DEVICE_IDS]
    assert result.out == "DEVICE ID\n990007560045678\n990007560023456\n"
    assert result.err == ""
    clean(result)


def test_devices_json(run: Any, api: Any) -> None:
    result = run("devices", "--json", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [DEVICE_IDS]
    assert result.json() == DEVICES
    assert result.err == ""


def test_devices_empty(run: Any, api: Any) -> None:
    api.get(f"/ibot/subscriber/{SUB}/device_ids").mock(return_value=httpx.Response(200, json={"devices": []}))
    result = run("devices", "-s", SUB)
    assert (result.code, result.out, result.err) == (0, "", "No devices in account SUB.\n")
    result = run("devices", "--json", "-s", SUB)
    assert (result.code, result.out, result.err) == (0, "[]\n", "")


def test_devices_default_account(run: Any, api: Any) -> None:
    api.get("/ibot/authz_context").mock(return_value=httpx.Response(200, json=[{"subscriber_id": SUB}]))
    result = run("devices", "--json")
    assert result.code == 0, result.err
    assert sent(api) == [("GET", "/ibot/authz_context", {}), DEVICE_IDS]


def test_devices_subscriber_from_environment(run: Any, api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_SUBSCRIBER_ID", "SUB 2")
    api.get("/ibot/subscriber/SUB%202/device_ids").mock(return_value=httpx.Response(200, json={"devices": ["d1"]}))
    result = run("devices", "--json")
    assert result.code == 0, result.err
    assert api.calls.last.request.url.raw_path == b"/ibot/subscriber/SUB%202/device_ids"
    assert result.json() == ["d1"]


def test_devices_unknown_account_is_exit_3(run: Any, api: Any) -> None:
    api.get("/ibot/subscriber/nobody/device_ids").mock(
        return_value=httpx.Response(404, json={"error": "not_found", "message": "no account"})
    )
    result = run("devices", "-s", "nobody")
    assert result.code == 3
    assert result.out == ""
    assert result.err == (
        "error: the Relay API refused GET /ibot/subscriber/nobody/device_ids: no account (not_found) (HTTP 404)\n"
    )
    clean(result)


def test_devices_stray_argument_is_refused(run: Any, api: Any) -> None:
    result = run("devices", "extra", "-s", SUB)
    assert result.code == 2
    assert sent(api) == []


# --- groups -------------------------------------------------------------------------------------------


def test_group_list_table(run: Any, api: Any) -> None:
    result = run("group", "list", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [GROUP_LIST]
    assert result.out == (
        "GROUP ID                              NAME        MEMBERS\n"
        "urn:relay-resource:id:tag:front-desk  Front desk  990007560045678, 990007560023456\n"
        "urn:relay-resource:id:tag:empty       Empty\n"
    )
    assert result.err == ""
    clean(result)


def test_group_list_json(run: Any, api: Any) -> None:
    result = run("group", "list", "--json", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [GROUP_LIST]
    assert json.loads(result.out) == GROUPS
    assert result.err == ""


def test_group_list_empty(run: Any, api: Any) -> None:
    api.get("/ibot/groups").mock(return_value=httpx.Response(200, json=[]))
    result = run("group", "list", "-s", SUB)
    assert (result.code, result.out, result.err) == (0, "", "No groups in account SUB.\n")
    result = run("group", "list", "--json", "-s", SUB)
    assert (result.code, result.out, result.err) == (0, "[]\n", "")


def test_group_without_subcommand_shows_help_on_stderr(run: Any, api: Any) -> None:
    result = run("group")
    assert result.code == 2
    assert sent(api) == []
    assert result.out == ""
    assert "list" in result.err


def test_devices_and_group_in_root_help(run: Any) -> None:
    result = run("--help")
    assert result.code == 0
    assert "devices" in result.out and "group" in result.out


# --- against the local sandbox ---------------------------------------------------------------------------


def test_devices_and_groups_on_the_sandbox(run: Any) -> None:
    from relay_cli.local.seed import DEMO_DEVICES

    result = run("--profile", "local", "devices", "--json")
    assert result.code == 0, result.err
    assert result.json() == list(DEMO_DEVICES)
    result = run("--profile", "local", "group", "list", "--json")
    assert result.code == 0, result.err
    assert result.json() == [
        {
            "group_id": "urn:relay-resource:id:tag:front-desk",
            "name": "Front desk",
            "owner": "demo-account",
            "subscribers": ["990007560045678", "990007560023456"],
        }
    ]
