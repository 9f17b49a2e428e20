"""``relay user list``: the exact request, the table and JSON, the sandbox."""

from __future__ import annotations

import json
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


# --- relay user assignments (GET /ibot/audit) ---------------------------------------------------------

AUDIT = "/ibot/audit"
AUDIT_QUERY = {"subscriber_id": SUB, "event_type": "ibot_user_profile", "action": "assigned"}


def audit_event(n: int, user: str = "up-1", device: str = "990007560045678") -> dict[str, Any]:
    return {
        "audit_id": f"a-{n}",
        "action": "assigned",
        "data": json.dumps({"id": user, "device_id": device}),
        "timestamp_action": f"2026-11-0{n}T09:00:00.000Z",
    }


def test_assignments_query_table_and_json(run: Any, api: Any) -> None:
    api.get(AUDIT).mock(return_value=httpx.Response(200, json={"data": [audit_event(2), audit_event(1, "up-2", "99")]}))
    result = run("user", "assignments", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [("GET", AUDIT, {**AUDIT_QUERY, "limit": "20"})]
    assert result.out.splitlines() == [
        "USER ID  DEVICE ID        ACTION    TIMESTAMP                 AUDIT ID",
        "up-1     990007560045678  assigned  2026-11-02T09:00:00.000Z  a-2",
        "up-2     99               assigned  2026-11-01T09:00:00.000Z  a-1",
    ]
    clean(result)
    assert run("user", "assignments", "-s", SUB, "--json").json() == [
        {
            "audit_id": "a-2",
            "action": "assigned",
            "timestamp_action": "2026-11-02T09:00:00.000Z",
            "id": "up-1",
            "device_id": "990007560045678",
        },
        {
            "audit_id": "a-1",
            "action": "assigned",
            "timestamp_action": "2026-11-01T09:00:00.000Z",
            "id": "up-2",
            "device_id": "99",
        },
    ]


def test_assignments_filters_and_paging(run: Any, api: Any) -> None:
    route = api.get(AUDIT).mock(
        side_effect=[
            httpx.Response(200, json={"data": [audit_event(3)], "cursor": "c1"}),
            httpx.Response(200, json={"data": [audit_event(2), audit_event(1)], "cursor": "c2"}),
        ]
    )
    result = run(
        "user",
        "assignments",
        "-s",
        SUB,
        "-i",
        "up-1",
        "--oldest",
        "2026-11-01",
        "--latest",
        "2026-11-30T00:00:00Z",
        "-l",
        "3",
        "--json",
    )
    assert result.code == 0, result.err
    window = {"user_id": "up-1", "latest": "2026-11-30T00:00:00Z", "oldest": "2026-11-01T00:00:00Z"}
    assert [dict(c.request.url.params) for c in route.calls] == [
        {**AUDIT_QUERY, **window, "limit": "3"},
        {**AUDIT_QUERY, **window, "limit": "2", "cursor": "c1"},
    ]
    assert [e["audit_id"] for e in result.json()] == ["a-3", "a-2", "a-1"]
    assert result.err == "More events match: add --cursor c2 (or use --all).\n"


def test_assignment_data_that_is_not_the_expected_json(run: Any, api: Any) -> None:
    odd = [
        {"audit_id": "a-1", "action": "assigned", "data": "not json", "timestamp_action": "t"},
        {"audit_id": "a-2", "action": "assigned", "timestamp_action": "t"},
    ]
    api.get(AUDIT).mock(return_value=httpx.Response(200, json={"data": odd, "cursor": None}))
    result = run("user", "assignments", "-s", SUB, "--json")
    assert result.code == 0, result.err
    assert [(e["id"], e["device_id"]) for e in result.json()] == [(None, None), (None, None)]


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["-i", ""], "--id"),
        (["--oldest", "then"], "--oldest"),
        (["-l", "0"], "--limit"),
        (["--cursor", " "], "--cursor"),
    ],
)
def test_assignments_bad_input_is_exit_2_nothing_sent(run: Any, api: Any, args: list[str], flag: str) -> None:
    result = run("user", "assignments", "-s", SUB, *args)
    assert (result.code, result.out) == (2, "")
    assert sent(api) == []
    assert len(result.err.splitlines()) == 1 and flag in result.err


def test_assignments_on_the_sandbox(run: Any) -> None:
    result = run("-P", "local", "user", "assignments", "--json")
    assert result.code == 0, result.err
    assert [(e["id"], e["device_id"]) for e in result.json()] == [
        ("up-bob", "990007560023456"),  # newest first
        ("up-alice", "990007560045678"),
    ]
    only = run("-P", "local", "user", "assignments", "-i", "up-alice", "--json").json()
    assert [e["audit_id"] for e in only] == ["audit-0001"]
    assert run("-P", "local", "user", "assignments", "--latest", "2026-01-05T09:01:00Z", "--json").json() == only
    one = run("-P", "local", "user", "assignments", "-l", "1")
    assert one.code == 0 and "up-bob" in one.out and "--cursor " in one.err
