"""Retries in ``RelayClient._request``: what is retried, how often, how long it waits (respx; nothing sleeps)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx

from relay_cli.api import client as client_module
from relay_cli.api.client import RelayClient
from relay_cli.errors import ApiError, NetworkError

from conftest import API, SUB

CREATE = {
    "name": "n",
    "options": {},
    "config": {"trigger": {"start": {"workflow": {"uri": "wss://h/p"}}, "on_http": "POST"}},
}
UPDATE = {**CREATE, "workflow_id": "wf-1"}
SAVED = [{**UPDATE}]


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(client_module.random, "uniform", lambda a, b: b)  # jitter at its top: delay/2 + delay/2
    with RelayClient(API, token="t", user_agent="test", sleep=sleeps) as c:
        yield c


def answers(*items: Any) -> list[Any]:
    return [httpx.Response(i) if isinstance(i, int) else i for i in items]


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


def test_get_retried_after_503_502_504_then_succeeds(api: Any, client: Any, sleeps: Sleeps) -> None:
    route = api.get("/ibot/workflow").mock(side_effect=answers(503, 502, httpx.Response(200, json={"results": []})))
    assert client.list_workflows(SUB) == []
    assert route.call_count == 3
    assert sleeps == [0.5, 1.0]  # exponential: 0.5 * 2**(n-1), jitter pinned to its top


def test_get_gives_up_after_max_attempts(api: Any, client: Any, sleeps: Sleeps) -> None:
    route = api.get("/ibot/workflow").mock(return_value=httpx.Response(504))
    with pytest.raises(ApiError) as caught:
        client.list_workflows(SUB)
    assert route.call_count == client_module.MAX_ATTEMPTS == 4
    assert sleeps == [0.5, 1.0, 2.0]
    assert (
        caught.value.message == "the Relay API refused GET /ibot/workflow: Gateway Timeout (HTTP 504) (tried 4 times)"
    )


def test_attempts_are_configurable(api: Any, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "MAX_ATTEMPTS", 2)
    route = api.get("/ibot/workflow").mock(side_effect=httpx.ConnectError("refused"))
    with RelayClient(API, token="t", user_agent="test", sleep=sleeps) as c, pytest.raises(NetworkError):
        c.list_workflows(SUB)
    assert route.call_count == 2
    with RelayClient(API, token="t", user_agent="test", sleep=sleeps, max_attempts=1) as c, pytest.raises(NetworkError):
        c.list_workflows(SUB)
    assert route.call_count == 3


def test_jitter_stays_in_the_upper_half_and_the_cap_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(1, 12):
        delay = min(client_module.BACKOFF_CAP, client_module.BACKOFF_BASE * 2 ** (n - 1))
        for _ in range(20):
            assert delay / 2 <= client_module.backoff(n) <= delay
    assert client_module.backoff(30) <= client_module.BACKOFF_CAP


@pytest.mark.parametrize("status", [502, 503, 504, 429])
def test_a_create_is_not_retried_after_an_answer(api: Any, client: Any, sleeps: Sleeps, status: int) -> None:
    route = api.post("/ibot/workflow").mock(return_value=httpx.Response(status))
    with pytest.raises(ApiError) as caught:
        client.save_workflow(SUB, CREATE)
    assert route.call_count == 1
    assert sleeps == []
    assert (
        "not sent again, since only a request that provably never reached the server is repeated"
        in caught.value.message
    )


@pytest.mark.parametrize("exc", [httpx.ReadError("reset"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("eof")])
def test_a_create_is_not_retried_when_it_may_have_arrived(
    api: Any, client: Any, sleeps: Sleeps, exc: Exception
) -> None:
    route = api.post("/ibot/workflow").mock(side_effect=exc)
    with pytest.raises(NetworkError) as caught:
        client.save_workflow(SUB, CREATE)
    assert route.call_count == 1
    assert sleeps == []
    assert (
        "(tried once; it may have been carried out: check before doing it again; not sent again" in caught.value.message
    )
    assert caught.value.maybe_done is True


@pytest.mark.parametrize(
    "exc", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("busy")]
)
def test_a_create_is_retried_when_it_never_left(api: Any, client: Any, sleeps: Sleeps, exc: Exception) -> None:
    route = api.post("/ibot/workflow").mock(side_effect=[exc, httpx.Response(200, json=SAVED)])
    assert client.save_workflow(SUB, CREATE)[0]["workflow_id"] == "wf-1"
    assert route.call_count == 2
    assert sleeps == [0.5]
    assert json.loads(route.calls[0].request.content) == json.loads(route.calls[1].request.content) == CREATE


def test_a_create_that_never_gets_through_says_nothing_changed(api: Any, client: Any, sleeps: Sleeps) -> None:
    api.post("/ibot/workflow").mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(NetworkError) as caught:
        client.save_workflow(SUB, CREATE)
    assert caught.value.message == (
        "could not connect to https://all-main-pro-ibot.relaysvr.com: connection refused (tried 4 times; nothing was changed)"
    )


@pytest.mark.parametrize(
    "failure", [httpx.Response(502), httpx.Response(503), httpx.ReadError("reset")], ids=["502", "503", "read"]
)
def test_an_update_is_retried(api: Any, client: Any, sleeps: Sleeps, failure: Any) -> None:
    route = api.post("/ibot/workflow").mock(side_effect=[failure, httpx.Response(200, json=SAVED)])
    assert client.save_workflow(SUB, UPDATE) == SAVED
    assert route.call_count == 2
    assert sleeps == [0.5]


def test_trigger_is_a_create_not_retried(api: Any, client: Any, sleeps: Sleeps) -> None:
    route = api.post("/ibot/workflow/wf-1").mock(return_value=httpx.Response(503))
    with pytest.raises(ApiError):
        client.trigger_workflow(SUB, "wf-1", "u1", {})
    assert route.call_count == 1


def test_retry_after_seconds_is_honoured(api: Any, client: Any, sleeps: Sleeps) -> None:
    route = api.get("/ibot/workflow").mock(side_effect=[
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(503, headers={"Retry-After": "0"}),
        httpx.Response(429),
        httpx.Response(200, json={"results": []}),
    ])  # fmt: skip
    client.list_workflows(SUB)
    assert route.call_count == 4
    assert sleeps == [7.0, 0.0, 2.0]  # the third had no Retry-After: the backoff for retry 3


def test_retry_after_http_date_is_honoured(api: Any, client: Any, sleeps: Sleeps) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    api.delete("/ibot/workflow/wf-1").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": when}), httpx.Response(204)]
    )
    client.delete_workflow(SUB, "wf-1")
    assert len(sleeps) == 1 and 27 <= sleeps[0] <= 30


def test_a_long_retry_after_is_not_waited_for(api: Any, client: Any, sleeps: Sleeps) -> None:
    route = api.get("/ibot/workflow").mock(return_value=httpx.Response(429, headers={"Retry-After": "3600"}))
    with pytest.raises(ApiError) as caught:
        client.list_workflows(SUB)
    assert route.call_count == 1
    assert sleeps == []
    assert caught.value.message == (
        "the Relay API refused GET /ibot/workflow: Too Many Requests (HTTP 429) (the server asks to retry after 3600 s)"
    )


def test_a_delete_whose_first_answer_was_lost_is_done(api: Any, client: Any, sleeps: Sleeps) -> None:
    route = api.delete("/ibot/workflow/wf-1").mock(side_effect=[httpx.ReadError("reset"), httpx.Response(404)])
    client.delete_workflow(SUB, "wf-1")  # the first attempt deleted it; the retry's 404 says so
    assert route.call_count == 2


def test_a_plain_404_on_delete_is_still_not_found(api: Any, client: Any) -> None:
    api.delete("/ibot/workflow/wf-1").mock(return_value=httpx.Response(404))
    with pytest.raises(ApiError) as caught:
        client.delete_workflow(SUB, "wf-1")
    assert caught.value.status == 404


@pytest.mark.parametrize("status", [400, 401, 403, 404, 500])
def test_other_statuses_are_not_retried(api: Any, client: Any, sleeps: Sleeps, status: int) -> None:
    route = api.get("/ibot/workflow").mock(return_value=httpx.Response(status))
    with pytest.raises(ApiError) as caught:
        client.list_workflows(SUB)
    assert route.call_count == 1
    assert sleeps == []
    assert "tried" not in caught.value.message


def test_the_cli_rides_out_a_transient_failure(run: Any, api: Any) -> None:
    route = api.get("/ibot/workflow").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json={"results": []})]
    )
    result = run("workflow", "list", "-s", SUB, "--json")
    assert result.code == 0, result.err
    assert result.json() == []
    assert route.call_count == 2
