"""``relay analytics``: the exact requests (filters, limit, cursor paging), the outputs, bad input, the sandbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from relay_cli.core import analytics as an
from relay_cli.local.store import SandboxStore

from conftest import API, SUB, clean, sandbox_note, sent, stored_workflow

PATH = "/ibot/workflow_analytics_events"


def event(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"ev-{n}",
        "sub_id": SUB,
        "workflow_id": "wf_1",
        "workflow_instance_id": f"inst-{n}",
        "user_id": "990007560045678",
        "source_type": "system",
        "category": "workflow",
        "timestamp": f"2026-11-23T10:00:0{n}.000Z",
        "content_type": "application/json",
        "content": json.dumps({"command": "start", "n": n}),
        **extra,
    }


def pages(*batches: list[dict[str, Any]]) -> list[httpx.Response]:
    """One response per batch, each with the cursor of the next (the last: none)."""
    return [
        httpx.Response(200, json={"data": batch, "cursor": f"c{i + 1}" if i + 1 < len(batches) else None})
        for i, batch in enumerate(batches)
    ]


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


def test_default_asks_for_twenty_and_prints_a_table(run: Any, api: Any) -> None:
    api.get(PATH).mock(return_value=httpx.Response(200, json={"data": [event(1)], "cursor": None}))
    result = run("analytics", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [("GET", PATH, {"subscriber_id": SUB, "limit": "20"})]
    assert result.out.splitlines() == [
        "TIMESTAMP                 CATEGORY  TYPE    WORKFLOW ID  INSTANCE ID  USER ID          CONTENT",
        '2026-11-23T10:00:01.000Z  workflow  system  wf_1         inst-1       990007560045678  {"command": "start", "n": 1}',
    ]
    assert result.err == "1 event.\n"
    clean(result)


def test_every_filter_goes_in_the_query(run: Any, api: Any) -> None:
    api.get(PATH).mock(return_value=httpx.Response(200, json={"data": [], "cursor": None}))
    result = run(
        "analytics",
        "workflow",
        "-s",
        SUB,
        "-w",
        "wf_9",
        "-i",
        "inst-1",
        "-u",
        "990007560045678",
        "-t",
        "user",
        "--oldest",
        "2026-11-01",
        "--latest",
        "2026-11-08T12:30:00+01:00",
        "-l",
        "5",
    )
    assert result.code == 0, result.err
    assert sent(api) == [
        (
            "GET",
            PATH,
            {
                "subscriber_id": SUB,
                "workflow_id": "wf_9",
                "workflow_instance_id": "inst-1",
                "user_id": "990007560045678",
                "source_type": "user",
                "category": "workflow",
                "oldest": "2026-11-01T00:00:00Z",
                "latest": "2026-11-08T11:30:00Z",
                "limit": "5",
            },
        )
    ]
    assert (result.out, result.err) == ("", "No analytics events match.\n")


def test_limit_pages_through_the_cursor_asking_for_what_is_still_missing(run: Any, api: Any) -> None:
    route = api.get(PATH).mock(side_effect=pages([event(1), event(2)], [event(3), event(4)], [event(5)]))
    result = run("analytics", "-s", SUB, "--limit", "5", "--json")
    assert result.code == 0, result.err
    assert [dict(c.request.url.params) for c in route.calls] == [
        {"subscriber_id": SUB, "limit": "5"},
        {"subscriber_id": SUB, "limit": "3", "cursor": "c1"},
        {"subscriber_id": SUB, "limit": "1", "cursor": "c2"},
    ]
    assert [e["id"] for e in result.json()] == ["ev-1", "ev-2", "ev-3", "ev-4", "ev-5"]
    assert result.json()[0] == event(1)  # events exactly as the server sent them
    assert result.err == ""


def test_limit_reached_prints_the_next_cursor(run: Any, api: Any) -> None:
    route = api.get(PATH).mock(side_effect=pages([event(1), event(2)], [event(3)]))
    result = run("analytics", "-s", SUB, "-l", "2")
    assert result.code == 0, result.err
    assert len(route.calls) == 1
    assert result.err == "2 events.\nMore events match: add --cursor c1 (or use --all).\n"

    api.reset()
    route.side_effect = pages([event(3)])
    result = run("analytics", "-s", SUB, "-l", "2", "--cursor", "c1", "--json")
    assert [dict(c.request.url.params) for c in route.calls] == [{"subscriber_id": SUB, "limit": "2", "cursor": "c1"}]
    assert [e["id"] for e in result.json()] == ["ev-3"]


def test_a_server_sending_more_than_asked_is_cut_to_the_limit(run: Any, api: Any) -> None:
    api.get(PATH).mock(side_effect=pages([event(1), event(2), event(3)], [event(4)]))
    result = run("analytics", "-s", SUB, "-l", "2", "--json")
    assert [e["id"] for e in result.json()] == ["ev-1", "ev-2"]
    assert "--cursor c1" in result.err


def test_all_pages_until_the_cursor_is_empty_without_a_limit(run: Any, api: Any) -> None:
    route = api.get(PATH).mock(side_effect=pages([event(1)], [event(2)], [event(3)]))
    result = run("analytics", "-s", SUB, "--all", "--json")
    assert result.code == 0, result.err
    assert [dict(c.request.url.params) for c in route.calls] == [
        {"subscriber_id": SUB},
        {"subscriber_id": SUB, "cursor": "c1"},
        {"subscriber_id": SUB, "cursor": "c2"},
    ]
    assert [e["id"] for e in result.json()] == ["ev-1", "ev-2", "ev-3"]


def test_a_cursor_sent_twice_stops_paging_with_exit_1(run: Any, api: Any) -> None:
    api.get(PATH).mock(return_value=httpx.Response(200, json={"data": [event(1)], "cursor": "same"}))
    result = run("analytics", "-s", SUB, "--all")
    assert result.code == 1
    assert result.out == ""
    assert "sent the analytics cursor 'same' twice" in result.err
    assert len(api.calls) == 2


@pytest.mark.parametrize("argv", [["analytics", "--all"], ["analytics"], ["user", "assignments"]], ids=" ".join)
def test_pages_without_events_that_always_name_a_new_cursor_stop_paging_with_exit_1(
    run: Any, api: Any, argv: list[str]
) -> None:
    """A server that never ends its pages (no event, a new cursor each time) would hold the command forever."""
    path = "/ibot/audit" if argv[0] == "user" else PATH
    cursors = iter(range(1, 10_000))
    api.get(path).mock(
        side_effect=lambda request: httpx.Response(200, json={"data": [], "cursor": f"c{next(cursors)}"})
    )
    result = run(*argv, "-s", SUB)
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        f"error: the server sent {an.EMPTY_PAGES_MAX} pages in a row with no events, each naming a next page; stopped "
        f"paging at the cursor 'c{an.EMPTY_PAGES_MAX}'\n"
    )
    assert len(api.calls) == an.EMPTY_PAGES_MAX


def test_a_few_pages_without_events_do_not_stop_paging(run: Any, api: Any) -> None:
    empty = [[]] * (an.EMPTY_PAGES_MAX - 1)
    api.get(PATH).mock(side_effect=pages([event(1)], *empty, [event(2)], *empty, [event(3)]))
    result = run("analytics", "-s", SUB, "--all", "--json")
    assert result.code == 0, result.err
    assert [e["id"] for e in result.json()] == ["ev-1", "ev-2", "ev-3"]
    assert len(api.calls) == 2 * an.EMPTY_PAGES_MAX + 1


def test_workflow_name_is_resolved_to_its_id(run: Any, api: Any) -> None:
    api.get("/ibot/workflow").mock(
        return_value=httpx.Response(200, json={"results": [stored_workflow("wf_abc", "my_auto_answer")]})
    )
    api.get(PATH).mock(return_value=httpx.Response(200, json={"data": [], "cursor": None}))
    result = run("analytics", "-s", SUB, "-w", "my_auto_answer")
    assert result.code == 0, result.err
    assert sent(api) == [
        ("GET", "/ibot/workflow", {"subscriber_id": SUB}),
        ("GET", PATH, {"subscriber_id": SUB, "workflow_id": "wf_abc", "limit": "20"}),
    ]


def test_unknown_workflow_name_is_exit_3_and_no_analytics_request(run: Any, api: Any) -> None:
    api.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": []}))
    result = run("analytics", "-s", SUB, "-w", "nope")
    assert result.code == 3
    assert sent(api) == [("GET", "/ibot/workflow", {"subscriber_id": SUB})]
    assert "no workflow with id or name 'nope'" in result.err


def test_workflow_id_from_the_environment(run: Any, api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_WORKFLOW_ID", "wf_env")
    api.get(PATH).mock(return_value=httpx.Response(200, json={"data": [], "cursor": None}))
    assert run("analytics", "-s", SUB).code == 0
    assert sent(api) == [("GET", PATH, {"subscriber_id": SUB, "workflow_id": "wf_env", "limit": "20"})]


def test_no_parse_shows_content_as_sent(run: Any, api: Any) -> None:
    raw = '{"command":"start"}'
    api.get(PATH).mock(return_value=httpx.Response(200, json={"data": [event(1, content=raw)], "cursor": None}))
    assert run("analytics", "-s", SUB).out.rstrip().endswith('{"command": "start"}')
    assert run("analytics", "-s", SUB, "--no-parse").out.rstrip().endswith(raw)


@pytest.mark.parametrize(
    ("args", "flag", "needle"),
    [
        (["-t", "robot"], "--type", "expected one of system, user, got 'robot'"),
        (["-l", "0"], "--limit", "expected a whole number of events, 1 or more, got 0"),
        (["-l", "many"], "--limit", "'many' is not a valid int"),
        (["--oldest", "last tuesday"], "--oldest", "expected an ISO 8601 time"),
        (["--latest", ""], "--latest", "expected a time, got an empty value"),
        (["--oldest", "2026-11-08", "--latest", "2026-11-01"], "--oldest", "is after the latest"),
        (["-w", " "], "--workflow-id", "expected a workflow id or name"),
        (["--cursor", ""], "--cursor", "expected a cursor"),
    ],
)
def test_bad_input_is_exit_2_one_line_nothing_sent(run: Any, api: Any, args: list[str], flag: str, needle: str) -> None:
    result = run("analytics", "-s", SUB, *args)
    assert result.code == 2
    assert sent(api) == []
    assert result.out == ""
    assert len(result.err.splitlines()) == 1, result.err
    assert flag in result.err and needle in result.err


def test_parse_time_forms() -> None:
    now = datetime(2026, 11, 23, 22, 0, 0, tzinfo=UTC)
    assert an.parse_time("2026-11-23", now=now) == "2026-11-23T00:00:00Z"
    assert an.parse_time("2026-11-23T09:30:00", now=now) == "2026-11-23T09:30:00Z"  # no zone: UTC
    assert an.parse_time("2026-11-23T09:30:00-05:00", now=now) == "2026-11-23T14:30:00Z"
    assert an.parse_time("2026-11-23T09:30:00.500Z", now=now) == "2026-11-23T09:30:00Z"
    assert an.parse_time("2h", now=now) == "2026-11-23T20:00:00Z"
    assert an.parse_time("30m", now=now) == "2026-11-23T21:30:00Z"
    assert an.parse_time("7d", now=now) == "2026-11-16T22:00:00Z"
    assert an.parse_time("1w", now=now) == "2026-11-16T22:00:00Z"
    assert an.parse_time("1700000000", now=now) == "1700000000"  # Unix seconds: as given
    with pytest.raises(an.BadTime):
        an.parse_time("2h ago", now=now)


def test_analytics_on_the_sandbox_pages_and_filters(run: Any, tmp_path: Path) -> None:
    assert run("-P", "local", "analytics", "--json").json() == []
    created = run(
        "-P",
        "local",
        "workflow",
        "create",
        "http",
        "-n",
        "hook",
        "-u",
        "wss://example.com/hook",
        "-i",
        "990007560045678",
        "--json",
    )
    assert created.code == 0, created.err
    store = SandboxStore(tmp_path / "data" / "sandbox.db")
    for _ in range(3):  # instances as conversations leave them (tests/test_sandbox.py starts real ones)
        assert store.trigger("demo-account", created.json()["workflow_id"], "990007560045678") is not None
    every = run("-P", "local", "analytics", "workflow", "-w", "hook", "--all", "--json").json()
    assert len(every) == 3 and all(e["category"] == "workflow" for e in every)
    assert [e["id"] for e in run("-P", "local", "analytics", "-l", "2", "--json").json()] == [
        e["id"] for e in every[:2]
    ]
    assert run("-P", "local", "analytics", "--oldest", "2999-01-01", "--json").json() == []
    result = run("-P", "local", "analytics", "-u", "990007560023456")
    assert (result.code, result.out, result.err) == (
        0,
        "",
        "No analytics events match.\n" + sandbox_note(tmp_path / "data"),
    )
