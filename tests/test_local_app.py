"""The local sandbox (relay_cli.local), driven through our real RelayClient: in-process and over loopback HTTP."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from relay_cli.api.client import RelayClient
from relay_cli.errors import ApiAuthError, ApiError, ApiNotFoundError
from relay_cli.local.seed import DEMO_DEVICES, DEMO_GROUP, DEMO_SUBSCRIBER
from relay_cli.local.server import in_process_transport, serve
from relay_cli.local.store import SandboxStore

from conftest import READY_SET_GO, release_together
from wsapps import Apps, serving

SUB = DEMO_SUBSCRIBER
ALICE, BOB = "990007560045678", "990007560023456"
TOKEN = "t"


def workflow(name: str = "auto_answer", *, trigger: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "options": {"transient": True, "hidden": False},
        "config": {
            "trigger": {
                "start": {"workflow": {"uri": f"wss://example.com/{name}", "args": {"greeting": "hi"}}},
                **(trigger or {"on_incoming_call": ".*"}),
            }
        },
        "install": [ALICE],
    }
    body.update(extra)
    return body


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "sandbox" / "relay.db"


def make_client(db: Path, token: str | None = TOKEN, server_token: str | None = TOKEN, **kw: Any) -> RelayClient:
    return RelayClient(
        "http://sandbox", token=token, user_agent="test", transport=in_process_transport(db, server_token), **kw
    )


@pytest.fixture
def apps() -> Any:
    with serving() as served:
        yield served


def at(body: dict[str, Any], uri: str) -> dict[str, Any]:
    """``body`` with its workflow URI replaced."""
    body["config"]["trigger"]["start"]["workflow"]["uri"] = uri
    return body


def eventually(check: Any, seconds: float = 5.0) -> Any:
    """``check()`` once it is true, or its last value after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return value


def running(db: Path, workflow_id: str, user: str = ALICE, args: dict[str, Any] | None = None) -> str:
    """A running instance, as a conversation in progress leaves it (its id)."""
    instance = SandboxStore(db).trigger(SUB, workflow_id, user, args or {})
    assert instance is not None
    return str(instance["instance_id"])


@pytest.fixture
def client(db: Path) -> Any:
    with make_client(db) as c:
        yield c


@pytest.fixture
def raw(db: Path) -> Any:
    """A plain httpx client on the same app, for requests our RelayClient would never send."""
    with httpx.Client(
        base_url="http://sandbox",
        transport=in_process_transport(db, TOKEN),
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as c:
        yield c


# --- workflows ------------------------------------------------------------------------------------------


def test_create_list_update_delete(client: RelayClient) -> None:
    assert client.list_workflows(SUB) == []

    saved = client.save_workflow(SUB, workflow())
    assert len(saved) == 1
    wf = saved[0]
    assert re.fullmatch(r"wf_[0-9a-f]{24}", wf["workflow_id"])
    assert wf == {"workflow_id": wf["workflow_id"], **workflow()}
    assert isinstance(wf["config"], dict)
    assert client.list_workflows(SUB) == [wf]

    other = client.save_workflow(SUB, workflow("second", trigger={"on_button": "action_button_single_tap"}))[0]
    assert other["workflow_id"] != wf["workflow_id"]

    replacement = {**workflow("renamed", trigger={"on_http": "POST"}), "workflow_id": wf["workflow_id"]}
    replacement.pop("install")
    replacement["install_rule"] = "urn:relay-resource:all:device"
    updated = client.save_workflow(SUB, replacement)
    assert updated == [replacement]
    listed = client.list_workflows(SUB)
    assert [w["workflow_id"] for w in listed] == [wf["workflow_id"], other["workflow_id"]]
    assert listed[0] == replacement  # replaced whole: the old "install" is gone
    assert "install" not in listed[0]

    client.delete_workflow(SUB, wf["workflow_id"])
    assert client.list_workflows(SUB) == [other]
    with pytest.raises(ApiNotFoundError) as err:
        client.delete_workflow(SUB, wf["workflow_id"])
    assert err.value.status == 404 and err.value.error == "not_found"


def test_update_of_unknown_id_is_404(client: RelayClient) -> None:
    with pytest.raises(ApiNotFoundError):
        client.save_workflow(SUB, {**workflow(), "workflow_id": "wf_000000000000000000000000"})
    assert client.list_workflows(SUB) == []


def test_config_sent_as_json_string_is_stored_as_object(client: RelayClient) -> None:
    body = workflow()
    saved = client.save_workflow(SUB, {**body, "config": json.dumps(body["config"])})[0]
    assert saved["config"] == body["config"]


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda b: b.pop("name"), "name"),
        (lambda b: b.update(name="  "), "name"),
        (lambda b: b.update(name=5), "name"),
        (lambda b: b.pop("config"), "config"),
        (lambda b: b["config"]["trigger"].update(on_http="POST"), "exactly one on_*"),
        (lambda b: b["config"]["trigger"].pop("on_incoming_call"), "exactly one on_*"),
        (lambda b: b["config"]["trigger"]["start"]["workflow"].update(uri=None), "uri"),
        (lambda b: b["config"]["trigger"]["start"].pop("workflow"), "start.workflow"),
        (lambda b: b.update(install=ALICE), "install"),
        (lambda b: b.update(install=[ALICE, 7]), "install"),
        (lambda b: b.update(install_rule=["urn:relay-resource:all:device"]), "install_rule"),
    ],
)
def test_invalid_workflow_is_400_invalid_request(client: RelayClient, mutate: Any, needle: str) -> None:
    body = workflow()
    mutate(body)
    with pytest.raises(ApiError) as err:
        client.save_workflow(SUB, body)
    assert err.value.status == 400 and err.value.error == "invalid_request"
    assert needle in err.value.message
    assert client.list_workflows(SUB) == []


def test_body_not_an_object_is_400(raw: httpx.Client) -> None:
    response = raw.post("/ibot/workflow", params={"subscriber_id": SUB}, json=[workflow()])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_malformed_json_is_400(raw: httpx.Client) -> None:
    response = raw.post(
        "/ibot/workflow",
        params={"subscriber_id": SUB},
        content=b'{"name": "x",',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == "invalid_request" and "malformed JSON" in body["message"]

    response = raw.post("/ibot/workflow", params={"subscriber_id": SUB}, content=b"")
    assert response.status_code == 400


def test_install_on_unknown_device_is_400_invalid_install_user_id(client: RelayClient) -> None:
    with pytest.raises(ApiError) as err:
        client.save_workflow(SUB, workflow(install=[ALICE, "nope"]))
    assert err.value.status == 400
    assert err.value.error == "invalid_install_user_id"
    assert "nope" in err.value.message and ALICE not in err.value.message
    assert client.list_workflows(SUB) == []
    # every seeded device is fine
    client.save_workflow(SUB, workflow(install=list(DEMO_DEVICES)))


# --- auth, routing ---------------------------------------------------------------------------------------


def test_missing_token_is_401(db: Path) -> None:
    with make_client(db, token=None) as c, pytest.raises(ApiAuthError) as err:
        c.list_workflows(SUB)
    assert err.value.status == 401 and err.value.error == "unauthorized"


def test_wrong_token_is_401(db: Path) -> None:
    with make_client(db, token="wrong") as c, pytest.raises(ApiAuthError):
        c.device_ids(SUB)


def test_any_scheme_word_and_no_token_check(db: Path) -> None:
    with make_client(db, auth_method="Token") as c:
        assert c.device_ids(SUB) == list(DEMO_DEVICES)
    with make_client(db, token=None, server_token=None) as c:
        assert c.device_ids(SUB) == list(DEMO_DEVICES)


def test_subscriber_missing_or_unknown(client: RelayClient, raw: httpx.Client) -> None:
    response = raw.get("/ibot/workflow")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    for call in (
        lambda: client.list_workflows("nobody"),
        lambda: client.save_workflow("nobody", workflow()),
        lambda: client.workflow_instances("nobody"),
        lambda: client.device_ids("nobody"),
        lambda: client.groups("nobody"),
        lambda: client.subscriber_info("nobody"),
        lambda: list(client.workflow_logs("nobody")),
    ):
        with pytest.raises(ApiNotFoundError):
            call()


def test_unknown_path_404_and_wrong_method_405(raw: httpx.Client) -> None:
    response = raw.get("/ibot/nothing", params={"subscriber_id": SUB})
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_found"

    response = raw.put("/ibot/workflow", params={"subscriber_id": SUB}, json={})
    assert response.status_code == 405
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "method_not_allowed"
    assert response.headers["Allow"] == "GET, POST"


# --- trigger, instances, logs, analytics ----------------------------------------------------------------


def test_an_http_trigger_plays_the_workflow_and_remembers_it(client: RelayClient, apps: Apps) -> None:
    """In-process, the trigger returns once the conversation is over: it ran (the app got the START Relay sends
    for an HTTP trigger), was an instance (now ended: start and terminate) and left its log."""
    wf = client.save_workflow(SUB, at(workflow("hook", trigger={"on_http": "POST"}), apps.uri("/terminate")))[0]
    assert client.trigger_workflow(SUB, wf["workflow_id"], ALICE, {"n": 1}) is None
    [start] = [m for p, m in apps.received if m["_type"] == "wf_api_start_event"]
    assert start["trigger"] == {
        "type": "http",
        "args": {"source_uri": "urn:relay-resource:name:device:Alice", "args": {"n": 1}},
    }
    # the app reads the STOP on its own thread, after the trigger has returned: it comes within a bound
    assert eventually(lambda: apps.types("/terminate")[-1] == "wf_api_stop_event"), apps.types("/terminate")
    assert client.workflow_instances(SUB) == []
    history = client.analytics_events(SUB, workflow_id=wf["workflow_id"])["data"]
    assert [json.loads(e["content"])["command"] for e in history] == ["terminate", "start"]
    [instance] = {e["workflow_instance_id"] for e in history}
    assert [line["message"] for line in client.workflow_logs(SUB, workflow_id=wf["workflow_id"])][1:] == [
        f'triggered by {ALICE} with args {{"n": 1}}',
        "log: hello from the app",
        "terminate",
        f"instance {instance} ended: the app terminated",
    ]


def test_an_http_trigger_of_an_app_that_cannot_be_reached_records_no_instance(client: RelayClient, apps: Apps) -> None:
    down = client.save_workflow(SUB, at(workflow("down", trigger={"on_http": "POST"}), apps.uri("/nothing")))[0]
    with pytest.raises(ApiError) as refused:
        client.trigger_workflow(SUB, down["workflow_id"], ALICE, {})
    assert (refused.value.status, refused.value.error) == (424, "workflow_unavailable")
    assert refused.value.detail == (
        f"down is not available: cannot reach the workflow app at {apps.uri('/nothing')}: the server answered HTTP "
        "404 instead of switching to WebSocket"
    )
    assert client.workflow_instances(SUB) == [] and client.analytics_events(SUB)["data"] == []
    assert list(client.workflow_logs(SUB, workflow_id=down["workflow_id"]))[-1]["level"] == "error"
    button = client.save_workflow(
        SUB, at(workflow("tap", trigger={"on_button": "action_button_single_tap"}), apps.uri("/terminate"))
    )[0]
    with pytest.raises(ApiError) as not_http:
        client.trigger_workflow(SUB, button["workflow_id"], ALICE, {})
    assert (not_http.value.status, not_http.value.error) == (400, "not_http_triggered")
    assert apps.received == []


def test_stop_ends_a_running_instance(client: RelayClient, raw: httpx.Client, db: Path) -> None:
    wf = client.save_workflow(SUB, workflow("hook", trigger={"on_http": "POST"}))[0]
    running(db, wf["workflow_id"], args={"n": 1})

    instances = client.workflow_instances(SUB)
    assert len(instances) == 1
    inst = instances[0]
    assert set(inst) == {"instance_id", "subscriber_id", "triggering_user_id", "workflow_id", "workflow_uri"}
    assert inst["subscriber_id"] == SUB
    assert inst["triggering_user_id"] == ALICE
    assert inst["workflow_id"] == wf["workflow_id"]
    assert inst["workflow_uri"] == "wss://example.com/hook"

    client.stop_instance(SUB, inst["instance_id"])
    assert client.workflow_instances(SUB) == []
    with pytest.raises(ApiNotFoundError):
        client.stop_instance(SUB, inst["instance_id"])

    with pytest.raises(ApiNotFoundError):
        client.trigger_workflow(SUB, "wf_unknown", ALICE, {})

    response = raw.post(
        f"/ibot/workflow/{wf['workflow_id']}",
        params={"subscriber_id": SUB, "user_id": ALICE},
        json={"action": "terminate", "target_device_ids": [ALICE], "action_args": {}},
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert client.workflow_instances(SUB) == []


def test_deleting_a_workflow_ends_its_instances(client: RelayClient, db: Path) -> None:
    wf = client.save_workflow(SUB, workflow("hook", trigger={"on_http": "POST"}))[0]
    running(db, wf["workflow_id"])
    client.delete_workflow(SUB, wf["workflow_id"])
    assert client.workflow_instances(SUB) == []


def test_workflow_logs(client: RelayClient, db: Path) -> None:
    a = client.save_workflow(SUB, workflow("a", trigger={"on_http": "POST"}))[0]["workflow_id"]
    b = client.save_workflow(SUB, workflow("b"))[0]["workflow_id"]
    client.save_workflow(SUB, {**workflow("a2", trigger={"on_http": "POST"}), "workflow_id": a})
    running(db, a, BOB, {"x": "y"})
    client.delete_workflow(SUB, b)

    logs = list(client.workflow_logs(SUB))
    assert len(logs) == 5
    for line in logs:
        assert set(line) == {"level", "timestamp", "message", "context"}
        assert set(line["context"]) == {"subscriber_id", "user_id", "workflow_id"}
        assert line["context"]["subscriber_id"] == SUB
        assert line["level"] == "info"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["timestamp"])
    assert [line["context"]["workflow_id"] for line in logs] == [a, b, a, a, b]
    assert "created" in logs[0]["message"] and "updated" in logs[2]["message"] and "deleted" in logs[4]["message"]
    trigger = logs[3]
    assert trigger["message"] == f'triggered by {BOB} with args {{"x": "y"}}'
    assert trigger["context"] == {"subscriber_id": SUB, "user_id": BOB, "workflow_id": a}

    assert [line["message"] for line in client.workflow_logs(SUB, workflow_id=b)] == [
        logs[1]["message"],
        logs[4]["message"],
    ]
    assert list(client.workflow_logs(SUB, user_id=BOB)) == [trigger]
    assert list(client.workflow_logs(SUB, user_id="someone-else")) == []


def test_analytics_events(client: RelayClient, db: Path) -> None:
    assert client.analytics_events(SUB) == {"data": [], "cursor": None}
    wf = client.save_workflow(SUB, workflow("hook", trigger={"on_http": "POST"}))[0]["workflow_id"]
    running(db, wf)
    page = client.analytics_events(SUB, workflow_id=wf)
    assert page["cursor"] is None
    assert len(page["data"]) == 1
    start = page["data"][0]
    instance = client.workflow_instances(SUB)[0]["instance_id"]
    assert start == {
        "id": f"{instance}:start",
        "sub_id": SUB,
        "subscriber_id": SUB,
        "workflow_id": wf,
        "workflow_instance_id": instance,
        "user_id": ALICE,
        "source_type": "system",
        "category": "workflow",
        "timestamp": start["timestamp"],
        "content_type": "application/json",
        "content": start["content"],
    }
    assert json.loads(start["content"]) == {"command": "start", "workflow_uri": "wss://example.com/hook"}
    assert client.analytics_events(SUB, workflow_id="other") == {"data": [], "cursor": None}

    client.stop_instance(SUB, instance)
    events = client.analytics_events(SUB, category="workflow")["data"]
    assert [e["id"] for e in events] == [f"{instance}:terminate", f"{instance}:start"]  # newest first
    terminate = events[0]
    assert {k: v for k, v in terminate.items() if k not in ("id", "timestamp", "content")} == {
        k: v for k, v in start.items() if k not in ("id", "timestamp", "content")
    }
    assert json.loads(terminate["content"]) == {
        "command": "terminate",
        "workflow_uri": "wss://example.com/hook",
        "end_time": terminate["timestamp"],
        "terminate_reason": "stopped",
    }
    assert terminate["timestamp"] >= start["timestamp"]
    assert client.analytics_events(SUB, category="other")["data"] == []
    assert client.analytics_events(SUB, user_id=BOB)["data"] == []
    assert [e["id"] for e in client.analytics_events(SUB, workflow_instance_id=instance)["data"]] == [
        e["id"] for e in events
    ]


def test_analytics_pages_newest_first_through_the_cursor(client: RelayClient, db: Path) -> None:
    wf = client.save_workflow(SUB, workflow("hook", trigger={"on_http": "POST"}))[0]["workflow_id"]
    for _ in range(5):
        running(db, wf)
    every = client.analytics_events(SUB)["data"]
    assert len(every) == 5
    assert [e["timestamp"] for e in every] == sorted((e["timestamp"] for e in every), reverse=True)

    first = client.analytics_events(SUB, limit=2)
    assert [e["id"] for e in first["data"]] == [e["id"] for e in every[:2]]
    second = client.analytics_events(SUB, limit=2, cursor=first["cursor"])
    assert [e["id"] for e in second["data"]] == [e["id"] for e in every[2:4]]
    last = client.analytics_events(SUB, limit=2, cursor=second["cursor"])
    assert [e["id"] for e in last["data"]] == [every[4]["id"]]
    assert last["cursor"] is None


def test_analytics_time_bounds_and_bad_paging_values(client: RelayClient, raw: httpx.Client, db: Path) -> None:
    wf = client.save_workflow(SUB, workflow("hook", trigger={"on_http": "POST"}))[0]["workflow_id"]
    running(db, wf)
    stamp = client.analytics_events(SUB)["data"][0]["timestamp"]  # 2026-11-23T22:30:00.123Z
    second = stamp[:19]
    assert len(client.analytics_events(SUB, oldest=second + "Z")["data"]) == 1
    assert len(client.analytics_events(SUB, oldest="2999-01-01T00:00:00Z")["data"]) == 0
    assert len(client.analytics_events(SUB, latest="2000-01-01T00:00:00Z")["data"]) == 0
    assert len(client.analytics_events(SUB, latest="32503680000")["data"]) == 1  # Unix seconds: year 3000
    for params, needle in (
        ({"limit": "0"}, "limit must be a whole number"),
        ({"limit": "ten"}, "limit must be a whole number"),
        ({"cursor": "bogus"}, "is not one this server sent"),
        ({"oldest": "yesterday"}, "oldest must be an ISO 8601 time"),
    ):
        answer = raw.get("/ibot/workflow_analytics_events", params={"subscriber_id": SUB, **params})
        assert answer.status_code == 400, params
        assert needle in answer.json()["message"]


# --- account ----------------------------------------------------------------------------------------------


def test_account_endpoints_return_the_seed(client: RelayClient) -> None:
    assert client.device_ids(SUB) == [
        "990007560045678",
        "990007560023456",
        "990007560011111",
        "990007560022222",
        "990007560033333",
    ]
    assert DEMO_DEVICES[ALICE] == "Alice" and DEMO_DEVICES[BOB] == "Bob"
    assert client.groups(SUB) == [
        {
            "group_id": "urn:relay-resource:id:tag:front-desk",
            "name": "Front desk",
            "owner": "demo-account",
            "subscribers": [ALICE, BOB],
        }
    ]
    assert DEMO_GROUP["group_id"] == "urn:relay-resource:id:tag:front-desk"
    assert client.subscriber_info(SUB) == {
        "subscriber_id": "demo-account",
        "name": "Demo account",
        "capabilities": {"workflow_sdk": True, "calling": True, "indoor_positioning": False},
    }
    assert client.authz_context() == [{"subscriber_id": "demo-account"}]


# --- the store ----------------------------------------------------------------------------------------------


def test_data_survives_reopening(db: Path) -> None:
    with make_client(db) as c:
        saved = c.save_workflow(SUB, workflow())[0]
    store = SandboxStore(db)  # a fresh open: no second seed, same rows
    assert store.list_workflows(SUB) == [saved]
    assert store.device_ids(SUB) == list(DEMO_DEVICES)
    assert len(store.groups(SUB)) == 1
    assert len(store.accounts()) == 1
    with make_client(db) as c:
        assert c.list_workflows(SUB) == [saved]


def test_an_older_database_is_upgraded_on_open_and_keeps_its_data(db: Path) -> None:
    from relay_cli.local.seed import DEMO_ASSIGNMENTS
    from relay_cli.local.store import SCHEMA_VERSION

    with make_client(db) as c:
        saved = c.save_workflow(SUB, workflow())[0]
    conn = SandboxStore(db).connect()
    try:  # what a version-2 database looks like: no audit events
        conn.execute("DELETE FROM resources WHERE kind = 'audit'")
        conn.execute("PRAGMA user_version = 2")
    finally:
        conn.close()
    store = SandboxStore(db)
    assert [a["audit_id"] for a in store.resources("audit", SUB)] == [a["audit_id"] for a in DEMO_ASSIGNMENTS]
    assert store.list_workflows(SUB) == [saved]
    conn = store.connect()
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    finally:
        conn.close()


def test_store_pragmas(db: Path) -> None:
    conn = SandboxStore(db).connect()
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    finally:
        conn.close()


WRITER = (
    "from relay_cli.local.store import SandboxStore\n"
    + READY_SET_GO
    + textwrap.dedent(
        """
    n, path = sys.argv[2], sys.argv[3]
    store = SandboxStore(path)
    store.create_workflow("demo-account", {
        "name": "wf-" + n,
        "config": {"trigger": {"start": {"workflow": {"uri": "wss://h/p", "args": {}}}, "on_http": "POST"}},
        "install": [],
    })
    """
    )
)


def test_ten_processes_open_a_new_db_and_write_at_once(db: Path, tmp_path: Path) -> None:
    assert not db.exists()
    signals = tmp_path / "signals"
    signals.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(signals), str(n), str(db)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(10)
    ]
    release_together(procs, signals)  # all interpreters up before anyone opens the file
    for proc in procs:
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err.decode()
    store = SandboxStore(db)
    assert sorted(w["name"] for w in store.list_workflows(SUB)) == sorted(f"wf-{n}" for n in range(10))
    assert store.device_ids(SUB) == list(DEMO_DEVICES)  # seeded exactly once
    assert len(store.groups(SUB)) == 1
    assert len(store.events(SUB)) == 10


def test_importing_the_package_is_light() -> None:
    code = "import sys, relay_cli.local; print(sorted({'sqlite3', 'httpx', 'wsgiref'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- the HTTP server -------------------------------------------------------------------------------------


def test_serve_over_loopback_http(db: Path, monkeypatch: pytest.MonkeyPatch, apps: Apps) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    stop = threading.Event()
    urls: queue.Queue[str] = queue.Queue()
    server = threading.Thread(
        target=serve,
        args=(db,),
        kwargs={"host": "127.0.0.1", "port": 0, "token": TOKEN, "ready": urls.put, "stop": stop},
        daemon=True,
    )
    server.start()
    streamed: queue.Queue[Any] = queue.Queue()
    try:
        base = urls.get(timeout=5)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base) and not base.endswith(":0")

        with RelayClient(base, token=TOKEN, user_agent="test") as c:
            wf = c.save_workflow(SUB, at(workflow("hook", trigger={"on_http": "POST"}), apps.uri("/hold")))[0]
            assert c.list_workflows(SUB) == [wf]

            # a following log stream, read on its own thread: the backlog comes first ...
            def read_stream() -> None:
                with RelayClient(base, token=TOKEN, user_agent="test") as reader:
                    try:
                        for line in reader.workflow_logs(SUB):
                            streamed.put(line)
                    except Exception as exc:  # noqa: BLE001
                        streamed.put(exc)
                streamed.put(None)

            threading.Thread(target=read_stream, daemon=True).start()
            first = streamed.get(timeout=5)
            assert first["message"] == "workflow created: hook"

            # ... other requests are served while it is open, and new events arrive on it; the trigger returns
            # once the app has the START, and the instance runs while the conversation does
            c.trigger_workflow(SUB, wf["workflow_id"], ALICE, {"k": "v"})
            assert [i["workflow_id"] for i in c.workflow_instances(SUB)] == [wf["workflow_id"]]
            assert eventually(lambda: apps.types("/hold")) == ["wf_api_start_event"]
            second = streamed.get(timeout=5)
            assert second["message"].startswith(f"triggered by {ALICE}")
            assert second["context"] == {"subscriber_id": SUB, "user_id": ALICE, "workflow_id": wf["workflow_id"]}

        with RelayClient(base, token="wrong", user_agent="test") as bad, pytest.raises(ApiAuthError):
            bad.device_ids(SUB)
        response = httpx.get(f"{base}/ibot/nothing", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 404 and response.headers["Content-Type"] == "application/json"
    finally:
        stop.set()
        server.join(timeout=5)
    assert not server.is_alive()
    # stopping the server ends the open stream too
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        item = streamed.get(timeout=5)
        if item is None:
            break
        assert not isinstance(item, Exception), item
    else:
        pytest.fail("the log stream did not end after the server stopped")
    # and the conversation it played: STOP, and its instance ended
    assert eventually(lambda: apps.types("/hold")[-1:] == ["wf_api_stop_event"])
    assert SandboxStore(db).list_instances(SUB) == []
