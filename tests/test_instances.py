"""``relay workflow instance list | stop``: the exact requests, the history from analytics events, waiting, refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from relay_cli.commands.workflow import instance as instance_module
from relay_cli.local.store import SandboxStore

from conftest import API, SUB, TOKEN, answering, clean, stored_workflow

U1, U2 = "990007560045678", "990007560023456"


def running(instance_id: str, workflow_id: str = "wf-01", user: str = U1) -> dict[str, Any]:
    """A running instance as GET /ibot/workflow_instances returns it."""
    return {
        "instance_id": instance_id,
        "subscriber_id": SUB,
        "triggering_user_id": user,
        "workflow_id": workflow_id,
        "workflow_uri": f"wss://example.com/{workflow_id}",
    }


def event(instance_id: str, command: str, **extra: Any) -> dict[str, Any]:
    """A ``workflow`` analytics event as the reference server sends it."""
    content = {"command": command, "workflow_uri": "wss://example.com/old"}
    if command == "terminate":
        content.update(end_time="2030-01-01T10:00:00.000Z", terminate_reason="normal")
    ev = {
        "id": f"ev-{instance_id}-{command}",
        "sub_id": SUB,
        "workflow_id": "wf-old",
        "workflow_instance_id": instance_id,
        "user_id": U2,
        "source_type": "system",
        "category": "workflow",
        "timestamp": "2030-01-01T10:00:00.000Z",
        "content_type": "application/json",
        "content": json.dumps(content),
    }
    ev.update(extra)
    return ev


class Api:
    """The mocked server: ``snapshots`` are the successive answers of GET /ibot/workflow_instances (the last repeats)."""

    def __init__(self, mock: respx.MockRouter) -> None:
        self.mock = mock
        self.snapshots: list[list[dict[str, Any]]] = [[]]
        self.pages: dict[str | None, dict[str, Any]] = {None: {"data": [], "cursor": None}}
        workflows = [stored_workflow("wf-01", "auto_answer"), stored_workflow("wf-02", "other")]
        mock.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": workflows}))
        mock.get("/ibot/workflow_instances").mock(side_effect=self._instances)
        self.stop_answers: dict[str, httpx.Response] = {}  # instance id → the DELETE's answer (default 204)
        mock.delete(path__regex=r"^/ibot/workflow_instances/[^/]+$").mock(side_effect=self._stop)
        mock.get("/ibot/workflow_analytics_events").mock(side_effect=self._events)

    def _instances(self, request: httpx.Request) -> httpx.Response:
        answer = self.snapshots.pop(0) if len(self.snapshots) > 1 else self.snapshots[0]
        return httpx.Response(200, json=answer)

    def _stop(self, request: httpx.Request) -> httpx.Response:
        return self.stop_answers.get(request.url.path.rsplit("/", 1)[-1], httpx.Response(204))

    def _events(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=self.pages[request.url.params.get("cursor")])

    def sent(self) -> list[tuple[str, str, dict[str, str]]]:
        out = []
        for call in self.mock.calls:
            request = call.request
            assert request.headers["Authorization"] == f"Bearer {TOKEN}"
            out.append((request.method, request.url.path, dict(request.url.params)))
        return out


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        yield Api(mock)


DEFAULT_WAIT = (instance_module.WAIT_INTERVAL, instance_module.WAIT_TIMEOUT)


@pytest.fixture(autouse=True)
def fast_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(instance_module, "WAIT_INTERVAL", 0)
    monkeypatch.setattr(instance_module, "WAIT_TIMEOUT", 5)


INSTANCES = ("GET", "/ibot/workflow_instances", {"subscriber_id": SUB})
LIST = ("GET", "/ibot/workflow", {"subscriber_id": SUB})
EVENTS = ("GET", "/ibot/workflow_analytics_events", {"subscriber_id": SUB, "category": "workflow"})


def stop_request(instance_id: str) -> tuple[str, str, dict[str, str]]:
    return ("DELETE", f"/ibot/workflow_instances/{instance_id}", {"subscriber_id": SUB})


def test_wait_constants() -> None:
    assert DEFAULT_WAIT == (0.5, 10.0)


# --- list -------------------------------------------------------------------------------------------


def test_list_running_table(run: Any, api: Api) -> None:
    api.snapshots = [[running("i-1"), running("i-2", "wf-02", U2)]]
    result = run("workflow", "instance", "list", "-s", SUB)
    assert result.code == 0, result.err
    assert api.sent() == [INSTANCES]
    assert result.out == (
        "INSTANCE  WORKFLOW  USER             URI                      STATUS\n"
        "i-1       wf-01     990007560045678  wss://example.com/wf-01  running\n"
        "i-2       wf-02     990007560023456  wss://example.com/wf-02  running\n"
    )
    assert result.err == ""
    clean(result)


def test_list_running_json(run: Any, api: Api) -> None:
    api.snapshots = [[running("i-1")]]
    result = run("workflow", "instance", "list", "--json", "-s", SUB)
    assert result.code == 0, result.err
    assert api.sent() == [INSTANCES]
    assert result.json() == [{**running("i-1"), "status": "running"}]
    assert result.err == ""


def test_list_empty(run: Any, api: Api) -> None:
    result = run("workflow", "instance", "list", "-s", SUB)
    assert result.code == 0
    assert (result.out, result.err) == ("", "No running workflow instances.\n")
    result = run("workflow", "instance", "list", "--json", "-s", SUB)
    assert result.code == 0
    assert (result.out, result.err) == ("[]\n", "")


def test_list_subscriber_from_environment(run: Any, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_SUBSCRIBER_ID", "SUB-ENV")
    result = run("workflow", "instance", "list", "--json")
    assert result.code == 0, result.err
    assert api.sent() == [("GET", "/ibot/workflow_instances", {"subscriber_id": "SUB-ENV"})]


def history_pages(api: Api) -> None:
    """Two pages of events; only the JSON ``terminate`` ones become instances."""
    h2 = event("h-2", "terminate", subscriber_id="SUB-2", user_id=U1)
    del h2["sub_id"]  # an event that names its account with subscriber_id only
    api.pages = {
        None: {
            "data": [
                event("h-1", "start"),
                event("h-1", "terminate"),
                event("h-x", "terminate", content_type="text/plain"),  # not JSON content: ignored
                event("h-y", "terminate", content="{not json"),  # unparsable: ignored
            ],
            "cursor": "page-2",
        },
        "page-2": {"data": [h2, event("h-3", "start")], "cursor": ""},
    }


TERMINATED_1 = {
    "instance_id": "h-1",
    "subscriber_id": SUB,
    "triggering_user_id": U2,
    "workflow_id": "wf-old",
    "workflow_uri": "wss://example.com/old",
    "end_time": "2030-01-01T10:00:00.000Z",
    "terminate_reason": "normal",
    "status": "terminated",
}
TERMINATED_2 = {**TERMINATED_1, "instance_id": "h-2", "subscriber_id": "SUB-2", "triggering_user_id": U1}


def test_list_history_pages_through_the_cursor(run: Any, api: Api) -> None:
    api.snapshots = [[running("i-1")]]
    history_pages(api)
    result = run("workflow", "instance", "list", "-H", "--json", "-s", SUB)
    assert result.code == 0, result.err
    assert api.sent() == [
        INSTANCES,
        EVENTS,
        ("GET", "/ibot/workflow_analytics_events", {**EVENTS[2], "cursor": "page-2"}),
    ]
    assert result.json() == [{**running("i-1"), "status": "running"}, TERMINATED_1, TERMINATED_2]
    assert result.err == ""


def test_list_history_table(run: Any, api: Api) -> None:
    api.snapshots = [[running("i-1")]]
    history_pages(api)
    result = run("workflow", "instance", "list", "--include-history", "-s", SUB)
    assert result.code == 0, result.err
    assert result.out == (
        "INSTANCE  WORKFLOW  USER             URI                      STATUS\n"
        "i-1       wf-01     990007560045678  wss://example.com/wf-01  running\n"
        "h-1       wf-old    990007560023456  wss://example.com/old    terminated\n"
        "h-2       wf-old    990007560045678  wss://example.com/old    terminated\n"
    )
    clean(result)


def test_list_history_null_cursor_ends(run: Any, api: Api) -> None:
    api.pages = {None: {"data": [event("h-1", "terminate")], "cursor": None}}
    result = run("workflow", "instance", "list", "-H", "--json", "-s", SUB)
    assert result.code == 0, result.err
    assert api.sent() == [INSTANCES, EVENTS]
    assert result.json() == [TERMINATED_1]


def test_list_history_empty(run: Any, api: Api) -> None:
    result = run("workflow", "instance", "list", "-H", "-s", SUB)
    assert result.code == 0
    assert api.sent() == [INSTANCES, EVENTS]
    assert (result.out, result.err) == ("", "No workflow instances, running or ended.\n")


def test_list_history_repeated_cursor_is_an_error(run: Any, api: Api) -> None:
    api.pages = {None: {"data": [], "cursor": "again"}, "again": {"data": [], "cursor": "again"}}
    result = run("workflow", "instance", "list", "-H", "-s", SUB)
    assert result.code == 1
    assert len(api.sent()) == 3
    assert result.out == ""
    assert result.err == "error: the server sent the analytics cursor 'again' twice; stopped paging\n"


# --- stop: refusals -----------------------------------------------------------------------------------


def test_stop_both_instance_and_workflow_is_refused(run: Any, api: Api) -> None:
    result = run("workflow", "instance", "stop", "-i", "i-1", "-w", "auto_answer", "--yes", "-s", SUB)
    assert result.code == 2
    assert api.sent() == []
    assert result.out == ""
    assert result.err == "error: --instance-id: give -i/--instance-id or -w/--workflow-id, not both\n"


def test_stop_neither_is_refused(run: Any, api: Api) -> None:
    result = run("workflow", "instance", "stop", "--yes", "-s", SUB)
    assert result.code == 2
    assert api.sent() == []
    assert result.err == "error: expected -i/--instance-id ID or -w/--workflow-id REF\n"


def test_stop_ignores_relay_workflow_id_env(run: Any, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopping is explicit: RELAY_WORKFLOW_ID does not pick what to stop."""
    monkeypatch.setenv("RELAY_WORKFLOW_ID", "auto_answer")
    result = run("workflow", "instance", "stop", "--yes", "-s", SUB)
    assert result.code == 2
    assert api.sent() == []


def test_stop_without_terminal_and_without_yes_sends_nothing(run: Any, api: Api) -> None:
    api.snapshots = [[running("i-1")]]
    result = run("workflow", "instance", "stop", "-i", "i-1", "-s", SUB)
    assert result.code == 2
    assert api.sent() == []
    assert result.out == ""
    assert result.err == "error: --yes: no terminal to confirm on; pass --yes to stop without asking\n"


def test_stop_empty_instance_id_is_refused(run: Any, api: Api) -> None:
    result = run("workflow", "instance", "stop", "-i", " ", "--yes", "-s", SUB)
    assert result.code == 2
    assert api.sent() == []
    assert result.err == "error: --instance-id: expected an instance id, got an empty string\n"


def test_stop_instance_not_running_is_exit_3(run: Any, api: Api) -> None:
    api.snapshots = [[running("i-1")]]
    result = run("workflow", "instance", "stop", "-i", "i-9", "--yes", "-s", SUB)
    assert result.code == 3
    assert api.sent() == [INSTANCES]
    assert result.err == (
        "error: no running workflow instance 'i-9' in account SUB\nhint: `relay workflow instance list` shows them\n"
    )


def test_stop_unknown_workflow_is_exit_3(run: Any, api: Api) -> None:
    result = run("workflow", "instance", "stop", "-w", "nope", "--yes", "-s", SUB)
    assert result.code == 3
    assert api.sent() == [LIST]


def test_stop_workflow_with_nothing_running(run: Any, api: Api) -> None:
    api.snapshots = [[running("i-2", "wf-02")]]
    result = run("workflow", "instance", "stop", "-w", "auto_answer", "--yes", "-s", SUB)
    assert result.code == 0, result.err
    assert api.sent() == [LIST, INSTANCES]
    assert (result.out, result.err) == ("", "No running instances of workflow auto_answer (wf-01).\n")


# --- stop: the requests and the wait ------------------------------------------------------------------


def test_stop_one_instance(run: Any, api: Api) -> None:
    api.snapshots = [[running("i-1"), running("i-2")], [running("i-2")]]
    result = run("workflow", "instance", "stop", "-i", "i-1", "--yes", "-s", SUB)
    assert result.code == 0, result.err
    assert api.sent() == [INSTANCES, stop_request("i-1"), INSTANCES]
    assert result.out == ""
    assert result.err == "Stopped workflow instance i-1\n"
    clean(result)


def test_stop_every_instance_of_a_workflow_by_name(run: Any, api: Api) -> None:
    api.snapshots = [[running("i-1"), running("i-2", "wf-02"), running("i-3", user=U2)], [running("i-2", "wf-02")]]
    result = run("workflow", "instance", "stop", "-w", "auto_answer", "-y", "-s", SUB)
    assert result.code == 0, result.err
    assert api.sent() == [LIST, INSTANCES, stop_request("i-1"), stop_request("i-3"), INSTANCES]
    assert result.err == "Stopped workflow instance i-1\nStopped workflow instance i-3\n"


def test_stop_workflow_by_id(run: Any, api: Api) -> None:
    api.snapshots = [[running("i-2", "wf-02")], []]
    result = run("workflow", "instance", "stop", "--workflow-id", "wf-02", "--yes", "-s", SUB)
    assert result.code == 0, result.err
    assert api.sent() == [LIST, INSTANCES, stop_request("i-2"), INSTANCES]


def test_stop_waits_until_the_instance_is_gone(run: Any, api: Api) -> None:
    api.snapshots = [[running("i-1")], [running("i-1")], []]
    result = run("workflow", "instance", "stop", "-i", "i-1", "--yes", "-s", SUB)
    assert result.code == 0, result.err
    assert api.sent() == [INSTANCES, stop_request("i-1"), INSTANCES, INSTANCES]
    assert result.err == "Stopped workflow instance i-1\n"


def test_stop_still_running_after_the_timeout_is_exit_1(run: Any, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(instance_module, "WAIT_TIMEOUT", 0)
    api.snapshots = [[running("i-1"), running("i-3")], [running("i-3")]]
    result = run("workflow", "instance", "stop", "-w", "wf-01", "--yes", "-s", SUB)
    assert result.code == 1
    assert api.sent() == [LIST, INSTANCES, stop_request("i-1"), stop_request("i-3"), INSTANCES]
    assert result.out == ""
    assert result.err == (
        "Stopped workflow instance i-1\n"
        "error: still running after 0 s: i-3\n"
        "hint: `relay workflow instance list` shows what is still running\n"
    )


def test_stop_never_gone_polls_until_the_timeout(run: Any, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr("time.monotonic", lambda: clock[0])
    monkeypatch.setattr("time.sleep", sleep)
    monkeypatch.setattr(instance_module, "WAIT_INTERVAL", 1)
    monkeypatch.setattr(instance_module, "WAIT_TIMEOUT", 3)
    api.snapshots = [[running("i-1")]]
    result = run("workflow", "instance", "stop", "-i", "i-1", "--yes", "-s", SUB)
    assert result.code == 1
    assert api.sent() == [INSTANCES, stop_request("i-1"), INSTANCES, INSTANCES, INSTANCES, INSTANCES]
    assert sleeps == [1, 1, 1]
    assert result.out == ""
    assert result.err == (
        "error: still running after 3 s: i-1\nhint: `relay workflow instance list` shows what is still running\n"
    )


def test_stop_no_wait(run: Any, api: Api) -> None:
    api.snapshots = [[running("i-1")]]
    result = run("workflow", "instance", "stop", "-i", "i-1", "--yes", "--no-wait", "-s", SUB)
    assert result.code == 0, result.err
    assert api.sent() == [INSTANCES, stop_request("i-1")]
    assert result.err == "Asked to stop workflow instance i-1 (not waiting for it)\n"


def test_stop_dry_run_sends_no_delete(run: Any, api: Api) -> None:
    api.snapshots = [[running("i-1"), running("i-2", "wf-02"), running("i-3", user=U2)]]
    result = run("workflow", "instance", "stop", "-w", "auto_answer", "--dry-run", "-s", SUB)
    assert result.code == 0, result.err  # no terminal and no --yes: fine, nothing is stopped
    assert api.sent() == [LIST, INSTANCES]
    assert result.err == (
        "Dry run, nothing sent. Would stop 2 workflow instances in account SUB:\n"
        f"  DELETE {API}/ibot/workflow_instances/i-1?subscriber_id=SUB\n"
        f"  DELETE {API}/ibot/workflow_instances/i-3?subscriber_id=SUB\n"
    )
    assert result.out == (
        "INSTANCE  WORKFLOW  USER             URI                      STATUS\n"
        "i-1       wf-01     990007560045678  wss://example.com/wf-01  running\n"
        "i-3       wf-01     990007560023456  wss://example.com/wf-01  running\n"
    )
    clean(result)


def test_stop_dry_run_one_instance(run: Any, api: Api) -> None:
    api.snapshots = [[running("i-1")]]
    result = run("workflow", "instance", "stop", "-i", "i-1", "-N", "-s", SUB)
    assert result.code == 0, result.err
    assert api.sent() == [INSTANCES]
    assert result.err == (
        "Dry run, nothing sent. Would stop 1 workflow instance in account SUB:\n"
        f"  DELETE {API}/ibot/workflow_instances/i-1?subscriber_id=SUB\n"
    )


def test_stop_on_a_terminal_answer_yes(run: Any, api: Api) -> None:
    api.snapshots = [[running("i-1")], []]
    result = run("workflow", "instance", "stop", "-i", "i-1", "-s", SUB, out=answering("y\n"))
    assert result.code == 0, result.err
    assert api.sent() == [INSTANCES, stop_request("i-1"), INSTANCES]
    assert result.err == "Stop 1 workflow instance in account SUB: i-1? [y/N]: Stopped workflow instance i-1\n"


@pytest.mark.parametrize("answer", ["n\n", "\n", ""])
def test_stop_on_a_terminal_answer_no(run: Any, api: Api, answer: str) -> None:
    api.snapshots = [[running("i-1"), running("i-3")]]
    result = run("workflow", "instance", "stop", "-w", "auto_answer", "-s", SUB, out=answering(answer))
    assert result.code == 0, result.err
    assert api.sent() == [LIST, INSTANCES]
    assert result.err == "Stop 2 workflow instances in account SUB: i-1, i-3? [y/N]: Not stopped.\n"


def test_stop_an_instance_that_ended_meanwhile(run: Any, api: Api) -> None:
    api.stop_answers["i-1"] = httpx.Response(404, json={"error": "not_found"})
    api.snapshots = [[running("i-1"), running("i-3")], []]
    result = run("workflow", "instance", "stop", "-w", "auto_answer", "--yes", "-s", SUB)
    assert result.code == 0, result.err
    assert api.sent() == [LIST, INSTANCES, stop_request("i-1"), stop_request("i-3"), INSTANCES]
    assert result.err == "Workflow instance i-1 had already ended.\nStopped workflow instance i-3\n"


def test_stop_a_refused_delete_goes_on_and_exits_1(run: Any, api: Api) -> None:
    api.stop_answers["i-1"] = httpx.Response(500, json={"error": "internal", "message": "boom"})
    api.snapshots = [[running("i-1"), running("i-3")], [running("i-1")]]
    result = run("workflow", "instance", "stop", "-w", "auto_answer", "--yes", "-s", SUB)
    assert result.code == 1
    assert api.sent() == [LIST, INSTANCES, stop_request("i-1"), stop_request("i-3"), INSTANCES]
    assert result.err == (
        "Stopped workflow instance i-3\n"
        "error: could not stop i-1: the Relay API refused DELETE /ibot/workflow_instances/i-1: boom (internal) (HTTP 500)\n"
        "hint: `relay workflow instance list` shows what is still running\n"
    )


def test_stop_auth_failure_is_exit_4(run: Any, api: Api) -> None:
    api.stop_answers["i-1"] = httpx.Response(401, json={"error": "unauthorized"})
    api.snapshots = [[running("i-1")]]
    result = run("workflow", "instance", "stop", "-i", "i-1", "--yes", "-s", SUB)
    assert result.code == 4
    assert api.sent() == [INSTANCES, stop_request("i-1")]
    clean(result)


# --- against the local sandbox -------------------------------------------------------------------------


def test_list_and_stop_on_the_sandbox(run: Any, tmp_path: Path) -> None:
    local = ("--profile", "local")
    created = run(
        *local,
        "workflow",
        "create",
        "http",
        "--trigger",
        "POST",
        "--name",
        "hook",
        "--uri",
        "wss://h/p",
        "-A",
        "--json",
    )
    assert created.code == 0, created.err
    wid = created.json()["workflow_id"]
    store = SandboxStore(tmp_path / "data" / "sandbox.db")
    for user in (U1, U2):  # two conversations in progress (tests/test_sandbox.py starts real ones)
        assert store.trigger("demo-account", wid, user) is not None

    listed = run(*local, "workflow", "instance", "list", "--json")
    assert listed.code == 0, listed.err
    assert [(i["workflow_id"], i["triggering_user_id"], i["status"]) for i in listed.json()] == [
        (wid, U1, "running"),
        (wid, U2, "running"),
    ]
    ids = [i["instance_id"] for i in listed.json()]

    stopped = run(*local, "workflow", "instance", "stop", "-i", ids[0], "--yes")
    assert stopped.code == 0, stopped.err
    assert stopped.err.endswith(f"Stopped workflow instance {ids[0]}\n")

    history = run(*local, "workflow", "instance", "list", "-H", "--json")
    assert history.code == 0, history.err
    rows = history.json()
    assert [(i["instance_id"], i["status"]) for i in rows] == [(ids[1], "running"), (ids[0], "terminated")]
    ended = rows[1]
    assert ended["subscriber_id"] == "demo-account"
    assert ended["triggering_user_id"] == U1
    assert ended["workflow_uri"] == "wss://h/p"
    assert ended["terminate_reason"] == "stopped"
    assert ended["end_time"]
    clean(history)


# --- stop --json ----------------------------------------------------------------------------------------


def test_stop_json_prints_each_instance_with_its_outcome(run: Any, api: Api) -> None:
    """A script can tell which instances stopped, which had ended and which could not be stopped, from stdout."""
    api.stop_answers["i-1"] = httpx.Response(404, json={"error": "not_found"})
    api.stop_answers["i-4"] = httpx.Response(500, json={"error": "internal", "message": "boom"})
    api.snapshots = [[running("i-1"), running("i-3"), running("i-4")], [running("i-4")]]
    result = run("workflow", "instance", "stop", "-w", "auto_answer", "--yes", "--json", "-s", SUB)
    assert result.code == 1
    assert json.loads(result.out) == [
        {**running("i-1"), "status": "running", "outcome": "already_ended"},
        {**running("i-3"), "status": "running", "outcome": "stopped"},
        {**running("i-4"), "status": "running", "outcome": "failed"},
    ]
    assert result.err == (
        "error: could not stop i-4: the Relay API refused DELETE /ibot/workflow_instances/i-4: boom (internal) (HTTP 500)\n"
        "hint: `relay workflow instance list` shows what is still running\n"
    )


def test_stop_json_no_wait_and_still_running(run: Any, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    api.snapshots = [[running("i-1")]]
    result = run("workflow", "instance", "stop", "-i", "i-1", "--yes", "--no-wait", "--json", "-s", SUB)
    assert (result.code, result.err) == (0, "")
    assert json.loads(result.out) == [{**running("i-1"), "status": "running", "outcome": "requested"}]
    monkeypatch.setattr(instance_module, "WAIT_TIMEOUT", 0)
    result = run("workflow", "instance", "stop", "-i", "i-1", "--yes", "--json", "-s", SUB)
    assert result.code == 1
    assert json.loads(result.out) == [{**running("i-1"), "status": "running", "outcome": "still_running"}]
    assert result.err.startswith("error: still running after 0 s: i-1\n")


def test_stop_dry_run_json_is_only_the_instances(run: Any, api: Api) -> None:
    api.snapshots = [[running("i-1"), running("i-2", "wf-02")]]
    result = run("workflow", "instance", "stop", "-w", "auto_answer", "--dry-run", "--json", "-s", SUB)
    assert (result.code, result.err) == (0, "")
    assert api.sent() == [LIST, INSTANCES]
    assert json.loads(result.out) == [{**running("i-1"), "status": "running"}]


def test_stop_json_with_nothing_running_is_an_empty_list(run: Any, api: Api) -> None:
    api.snapshots = [[running("i-2", "wf-02")]]
    result = run("workflow", "instance", "stop", "-w", "auto_answer", "--yes", "--json", "-s", SUB)
    assert (result.code, result.out, result.err) == (0, "[]\n", "")
