"""``relay user list``: the exact request, the table and JSON, the sandbox."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from conftest import API, SUB, clean, sent

PROFILES = [
    {"user_profile_id": "up-2", "username": "zoe", "extra": "not shown"},
    {"user_profile_id": "up-1", "username": "Adam"},
]


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        mock.get("/ibot/user_profile").mock(return_value=httpx.Response(200, json={"results": PROFILES}))
        yield mock


def test_user_list_table_sorted_by_name(run: Any, api: Any) -> None:
    result = run("user", "list", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [("GET", "/ibot/user_profile", {"subscriber_id": SUB})]
    assert result.out == "USER NAME  USER ID\nAdam       up-1\nzoe        up-2\n"
    clean(result)


def test_user_list_json_has_the_name_and_id_of_each(run: Any, api: Any) -> None:
    result = run("user", "list", "-s", SUB, "--json")
    assert result.code == 0, result.err
    assert result.json() == [
        {"username": "Adam", "user_profile_id": "up-1"},
        {"username": "zoe", "user_profile_id": "up-2"},
    ]


def test_user_list_empty(run: Any, api: Any) -> None:
    api.get("/ibot/user_profile").mock(return_value=httpx.Response(200, json={"results": []}))
    result = run("user", "list", "-s", SUB)
    assert (result.code, result.out, result.err) == (0, "", "No user profiles in account SUB.\n")
    assert run("user", "list", "-s", SUB, "--json").out == "[]\n"


def test_user_list_auth_failure_is_exit_4(run: Any, api: Any) -> None:
    api.get("/ibot/user_profile").mock(return_value=httpx.Response(401, json={"error": "unauthorized"}))
    result = run("user", "list", "-s", SUB)
    assert result.code == 4
    assert result.out == ""
    clean(result)


def test_user_list_on_the_sandbox(run: Any) -> None:
    result = run("-P", "local", "user", "list", "--json")
    assert result.code == 0, result.err
    assert result.json() == [
        {"username": "alice", "user_profile_id": "up-alice"},
        {"username": "bob", "user_profile_id": "up-bob"},
    ]
