"""``relay geofence create | list | delete``: the exact requests, bad input, and the sandbox."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from conftest import API, SUB, answering, clean, sent

GEOFENCES = [
    {"geofence_id": "gf-1", "label": "office", "address": "1 Main St", "lat": "35.7", "long": "-78.6", "radius": 100},
]


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        mock.get("/ibot/geofence").mock(return_value=httpx.Response(200, json={"results": GEOFENCES}))
        mock.post("/ibot/geofence").mock(return_value=httpx.Response(200, json={"geofence_id": "gf-2", "label": "x"}))
        mock.delete("/ibot/geofence/gf-1").mock(return_value=httpx.Response(204))
        yield mock


def body(api: Any) -> Any:
    return json.loads(api.calls.last.request.content)


def test_create_from_address(run: Any, api: Any) -> None:
    result = run("geofence", "create", "-n", "office", "-a", "1 Main St", "-r", "100", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [("POST", "/ibot/geofence", {"subscriber_id": SUB})]
    assert body(api) == {"label": "office", "address": "1 Main St", "radius": 100}
    assert result.err == "Created geofence office (gf-2)\n"
    clean(result)


def test_create_from_coordinates(run: Any, api: Any) -> None:
    result = run(
        "geofence", "create", "--label", "dock", "--lat", "35.5", "--long", "-78.25", "-r", "50", "-s", SUB, "--json"
    )
    assert result.code == 0, result.err
    assert body(api) == {"label": "dock", "lat": 35.5, "long": -78.25, "radius": 50}
    assert result.json() == {"geofence_id": "gf-2", "label": "x"}


def test_create_dry_run_sends_nothing(run: Any, api: Any) -> None:
    result = run("geofence", "create", "-n", "dock", "-t", "1", "-g", "2", "-r", "5", "-N")
    assert result.code == 0, result.err
    assert sent(api) == []
    assert result.json() == {"label": "dock", "lat": 1.0, "long": 2.0, "radius": 5}


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["-t", "90.5", "-g", "0"], "--latitude"),
        (["-t", "-91", "-g", "0"], "--latitude"),
        (["-t", "0", "-g", "180.01"], "--longitude"),
        (["-t", "abc", "-g", "0"], "--latitude"),
        (["-t", "nan", "-g", "0"], "--latitude"),
        (["-t", "1"], "--longitude"),
        (["-g", "1"], "--latitude"),
        ([], "--address"),
        (["-a", "x", "-t", "1", "-g", "1"], "--address"),
        (["-a", "x", "-r", "0"], "--radius"),
        (["-a", "x", "-r", "-5"], "--radius"),
    ],
)
def test_bad_input_is_exit_2_and_sends_nothing(run: Any, api: Any, args: list[str], flag: str) -> None:
    base = ["geofence", "create", "-n", "x", "-s", SUB]
    if "-r" not in args:
        args = [*args, "-r", "10"]
    result = run(*base, *args)
    assert result.code == 2
    assert sent(api) == []
    assert result.out == ""
    assert len(result.err.strip().splitlines()) == 1 and flag in result.err
    clean(result)


def test_list_table_and_json(run: Any, api: Any) -> None:
    result = run("geofence", "list", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [("GET", "/ibot/geofence", {"subscriber_id": SUB})]
    assert result.out == ("ID    NAME    RADIUS  ADDRESS    COORDINATES\ngf-1  office  100     1 Main St  35.7,-78.6\n")
    result = run("geofence", "list", "-s", SUB, "--json")
    assert result.json() == GEOFENCES


def test_list_empty(run: Any, api: Any) -> None:
    api.get("/ibot/geofence").mock(return_value=httpx.Response(200, json={"results": []}))
    result = run("geofence", "list", "-s", SUB)
    assert (result.code, result.out, result.err) == (0, "", "No geofences in account SUB.\n")


@pytest.mark.parametrize("args", [["gf-1"], ["-i", "gf-1"], ["--id", "gf-1"]])
def test_delete_with_yes(run: Any, api: Any, args: list[str]) -> None:
    result = run("geofence", "delete", *args, "--yes", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [
        ("GET", "/ibot/geofence", {"subscriber_id": SUB}),
        ("DELETE", "/ibot/geofence/gf-1", {"subscriber_id": SUB}),
    ]
    assert result.err == "Deleted geofence gf-1 (office)\n"


def test_delete_needs_yes_without_a_terminal(run: Any, api: Any) -> None:
    result = run("geofence", "delete", "gf-1", "-s", SUB)
    assert result.code == 2 and sent(api) == []
    assert result.err == "error: --yes: no terminal to confirm on; pass --yes to delete without asking\n"


@pytest.mark.parametrize(("answer", "deleted"), [("y\n", True), ("n\n", False)])
def test_delete_asks_on_a_terminal(run: Any, api: Any, answer: str, deleted: bool) -> None:
    result = run("geofence", "delete", "gf-1", "-s", SUB, out=answering(answer))
    assert result.code == 0, result.err
    listing = ("GET", "/ibot/geofence", {"subscriber_id": SUB})
    removal = ("DELETE", "/ibot/geofence/gf-1", {"subscriber_id": SUB})
    assert sent(api) == ([listing, removal] if deleted else [listing])
    assert "Delete geofence gf-1 (office) from account SUB?" in result.err
    assert result.err.endswith("Deleted geofence gf-1 (office)\n" if deleted else "Not deleted.\n")


def test_delete_on_a_terminal_of_an_unknown_id_is_exit_3_without_asking(run: Any, api: Any) -> None:
    result = run("geofence", "delete", "nope", "-s", SUB, out=answering("y\n"))
    assert result.code == 3
    assert sent(api) == [("GET", "/ibot/geofence", {"subscriber_id": SUB})]
    assert "Delete" not in result.err and "no geofence 'nope' in account SUB" in result.err


def test_delete_without_id_is_exit_2(run: Any, api: Any) -> None:
    result = run("geofence", "delete", "--yes", "-s", SUB)
    assert result.code == 2
    assert sent(api) == []


def test_delete_unknown_is_exit_3(run: Any, api: Any) -> None:
    api.delete("/ibot/geofence/nope").mock(
        return_value=httpx.Response(404, json={"error": "not_found", "message": "no"})
    )
    result = run("geofence", "delete", "nope", "--yes", "-s", SUB)
    assert result.code == 3
    assert result.out == ""
    clean(result)


def test_geofence_on_the_sandbox(run: Any) -> None:
    result = run(
        "-P", "local", "geofence", "create", "-n", "office", "-t", "35.5", "-g", "-78.5", "-r", "100", "--json"
    )
    assert result.code == 0, result.err
    created = result.json()
    assert created["label"] == "office" and created["radius"] == 100
    result = run("-P", "local", "geofence", "create", "-n", "home", "-a", "1 Main St", "-r", "20", "--json")
    assert result.code == 0, result.err
    listed = run("-P", "local", "geofence", "list", "--json").json()
    assert [g["label"] for g in listed] == ["office", "home"]
    assert listed[0]["lat"] == "35.5" and listed[1]["address"] == "1 Main St"
    assert run("-P", "local", "geofence", "delete", created["geofence_id"], "--yes").code == 0
    assert [g["label"] for g in run("-P", "local", "geofence", "list", "--json").json()] == ["home"]
    assert run("-P", "local", "geofence", "delete", created["geofence_id"], "--yes").code == 3
