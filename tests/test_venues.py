"""``relay venues`` and ``relay positions -v VENUE``: the exact requests and outputs, and the sandbox."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from conftest import API, SUB, clean, sent

VENUES = [{"venue_id": "v-1", "venue_name": "HQ"}]
POSITIONS = [{"position_id": "p-1", "venue_id": "v-1", "tags": ["lobby", "door"]}]


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        mock.get("/ibot/indoor_venue").mock(return_value=httpx.Response(200, json={"results": VENUES}))
        mock.get("/ibot/indoor_position/v-1").mock(return_value=httpx.Response(200, json={"results": POSITIONS}))
        yield mock


def test_venues_table_and_json(run: Any, api: Any) -> None:
    result = run("venues", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [("GET", "/ibot/indoor_venue", {"subscriber_id": SUB})]
    assert result.out == "VENUE ID  NAME\nv-1       HQ\n"
    clean(result)
    assert run("venues", "-s", SUB, "--json").json() == VENUES


def test_venues_empty(run: Any, api: Any) -> None:
    api.get("/ibot/indoor_venue").mock(return_value=httpx.Response(200, json={"results": []}))
    result = run("venues", "-s", SUB)
    assert (result.code, result.out, result.err) == (0, "", "No venues in account SUB.\n")


def test_positions_table_and_json(run: Any, api: Any) -> None:
    result = run("positions", "-v", "v-1", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [("GET", "/ibot/indoor_position/v-1", {"subscriber_id": SUB})]
    assert result.out == "POSITION ID  VENUE ID  TAGS\np-1          v-1       lobby, door\n"
    assert run("positions", "--venue-id", "v-1", "-s", SUB, "--json").json() == POSITIONS


def test_positions_venue_is_quoted(run: Any, api: Any) -> None:
    api.get("/ibot/indoor_position/a%2Fb").mock(return_value=httpx.Response(200, json={"results": []}))
    result = run("positions", "-v", "a/b", "-s", SUB)
    assert result.code == 0, result.err
    assert api.calls.last.request.url.raw_path == b"/ibot/indoor_position/a%2Fb?subscriber_id=SUB"
    assert result.err == "No positions in venue a/b.\n"


def test_positions_needs_a_venue(run: Any, api: Any) -> None:
    result = run("positions", "-s", SUB)
    assert result.code == 2
    assert sent(api) == []
    assert "--venue-id" in result.err


def test_positions_unknown_venue_is_exit_3(run: Any, api: Any) -> None:
    api.get("/ibot/indoor_position/nope").mock(return_value=httpx.Response(404, json={"error": "not_found"}))
    result = run("positions", "-v", "nope", "-s", SUB)
    assert result.code == 3
    assert result.out == ""
    clean(result)


def test_venues_and_positions_on_the_sandbox(run: Any) -> None:
    from relay_cli.local.seed import DEMO_POSITIONS, DEMO_VENUE

    result = run("-P", "local", "venues", "--json")
    assert result.code == 0, result.err
    assert result.json() == [DEMO_VENUE]
    result = run("-P", "local", "positions", "-v", DEMO_VENUE["venue_id"], "--json")
    assert result.code == 0, result.err
    assert result.json() == DEMO_POSITIONS
    assert run("-P", "local", "positions", "-v", "no-such-venue").code == 3
