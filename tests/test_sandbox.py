"""``relay sandbox ...``: device events start the registered workflows Relay would start, played by the simulator's
engine against real apps on loopback; instances, logs, stop, timers; the refusals. In-process (``run``), and
against ``relay server`` on a thread for what only a server does (concurrency, the bound, timers on their own).
The journey with the pinned @relaypro/sdk apps of ``relay workflow init`` is tests/test_sandbox_e2e.py."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from test_simulate import auto_answer, outbound, place_call, serve as serve_app  # noqa: F401 - a fixture

from relay_cli.api.client import RelayClient
from relay_cli.local import conversations
from relay_cli.local.server import serve
from relay_cli.local.store import SandboxStore

from conftest import API
from wsapps import HOSTILE, Apps, serving

SUB = "demo-account"
ALICE, BOB, CAROL = "990007560045678", "990007560023456", "990007560011111"
ALL = "urn:relay-resource:all:device"
LOCAL = ("-P", "local")
QUICK = ("--hold", "0.2", "--set", "speaking_rate=1500", "--set", "event_delay=0.02")
ALICE_URN = "urn:relay-resource:name:device:Alice"


@pytest.fixture
def store(tmp_path: Path) -> SandboxStore:
    """The in-process sandbox's database (RELAY_DATA_DIR/sandbox.db, as conftest sets it)."""
    return SandboxStore(tmp_path / "data" / "sandbox.db")


@pytest.fixture
def apps() -> Iterator[Apps]:
    with serving() as served:
        yield served


def register(store: SandboxStore, name: str, trigger: dict[str, Any], uri: str, **install: Any) -> str:
    body = {
        "name": name,
        "options": {"transient": True, "hidden": False},
        "config": {"trigger": {"start": {"workflow": {"uri": uri, "args": {}}}, **trigger}},
        **(install or {"install": [ALICE]}),
    }
    return str(store.create_workflow(SUB, body)["workflow_id"])


def transcript(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def kinds(records: list[dict[str, Any]]) -> list[str]:
    return [r["message"]["_type"].removeprefix("wf_api_") for r in records]


# --- the guide's three workflows, in-process -------------------------------------------------------------------

GUIDE = {
    "call": (auto_answer, {"on_incoming_call": ".*"}, ("call", "Alice", "--from", "Bob"), "answer_request"),
    "dial": (outbound, {"on_call_request": ".*"}, ("dial", "Alice", "--to", "Bob"), "call_request"),
    "press": (place_call, {"on_button": "action_button_double_tap"}, ("press", "Alice", "--taps", "double"), "call_request"),
}  # fmt: skip


@pytest.mark.parametrize("event", list(GUIDE))
def test_a_device_event_runs_the_registered_workflow(run: Any, serve_app: Any, store: SandboxStore, event: str) -> None:
    build, trigger, args, action = GUIDE[event]
    uri, _log = serve_app(build)
    wid = register(store, "guide", trigger, uri)
    result = run(*LOCAL, "sandbox", *args, *QUICK, "--json")
    assert result.code == 0, result.err
    records = transcript(result.out)
    assert {(r["workflow"], r["workflow_id"]) for r in records} == {("guide", wid)}
    [instance] = {r["instance_id"] for r in records}
    assert records[0]["message"]["trigger"]["args"]["source_uri"] == ALICE_URN
    assert f"wf_api_{action}" in [r["message"]["_type"] for r in records]  # the app answered, or placed the call
    assert records[-1]["message"] == {"_type": "wf_api_stop_event", "reason": "normal"}
    assert result.err.splitlines()[0].startswith(f"Alice: {'an inbound call from Bob' if event == 'call' else ''}")
    assert "guide: the app terminated cleanly" in result.err
    # what the sandbox remembers: the instance ran and ended; the log says what the app did
    assert run(*LOCAL, "workflow", "instance", "list", "--json").json() == []
    history = run(*LOCAL, "workflow", "instance", "list", "-H", "--json").json()
    assert [(i["instance_id"], i["status"]) for i in history] == [(instance, "terminated")]
    logged = [e["message"] for e in transcript(run(*LOCAL, "workflow", "logs", "-w", "guide", "--json").out)]
    assert logged[1].startswith("started by ") and logged[1].endswith("on Alice (990007560045678)")
    assert action.removesuffix("_request") in " ".join(logged)
    assert logged[-2:] == ["terminate", f"instance {instance} ended: the app terminated"]


def test_the_transcript_for_people_and_several_workflows_at_once(run: Any, store: SandboxStore, apps: Apps) -> None:
    """Several matches start at once, listed (and their lines told apart) in the account's order."""
    register(store, "first", {"on_button": "action_button_double_tap"}, apps.uri("/terminate"), install_rule=ALL)
    register(store, "second", {"on_button": "action_button_double_tap"}, apps.uri("/terminate"), install=[ALICE])
    register(store, "single", {"on_button": "action_button_single_tap"}, apps.uri("/terminate"), install=[ALICE])
    result = run(*LOCAL, "sandbox", "press", "alice", "--taps", "double")
    assert result.code == 0, result.err
    err = result.err.splitlines()
    assert err[0] == (
        f"Alice: a double tap starts 2 workflows, at once: first (button:double, {apps.uri('/terminate')}); "
        f"second (button:double, {apps.uri('/terminate')})"
    )
    assert sorted(line.split(":")[0] for line in err[1:]) == ["first", "second"]
    lines = result.out.splitlines()
    assert {line.split(" | ")[0] for line in lines} == {"first", "second"}
    assert any(
        "← server  START" in line and "button trigger on Alice action='action_button_double_tap'" in line
        for line in lines
    )


# --- every kind of event -----------------------------------------------------------------------------------------

KINDS: dict[str, tuple[dict[str, Any], tuple[str, ...], dict[str, Any]]] = {
    "say": ({"on_phrases": ["call"]}, ("say", "Alice", "Call Bob please"),
            {"type": "phrase", "args": {"source_uri": ALICE_URN, "phrase": "call", "spillover": "bob please"}}),
    "nfc": ({"on_nfc": {"type": "custom", "label": "Room 12"}}, ("nfc", "Alice", "room 12"),
            {"type": "nfc", "args": {"source_uri": ALICE_URN, "uid": "TAG", "nfc_payload": {"type": "custom", "category": "rooms", "label": "Room 12"}}}),
    "battery": ({"on_battery_discharge": 20}, ("battery", "Alice", "15"), {"type": "other", "args": {"source_uri": ALICE_URN}}),
    "move": ({"on_geofence": {"transition": "entry", "geofence_id": "GEO"}}, ("move", "Alice", "--lat", "35.7796", "--long", "-78.6382"),
             {"type": "geofence", "args": {"source_uri": ALICE_URN}}),
    "position": ({"on_position": {"venue_id": "venue-hq", "position_id": "pos-lobby", "transition": "entry"}},
                 ("position", "Alice", "venue-hq", "pos-lobby"), {"type": "other", "args": {"source_uri": ALICE_URN}}),
    "emergency": ({"on_device_event": "emergency"}, ("emergency", "Alice"), {"type": "emergency", "args": {"source_uri": ALICE_URN}}),
    "tick": ({"on_timer": {"start_time": "immediately"}}, ("tick",), {"type": "calendar", "args": {"source_uri": ALICE_URN}}),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_of_event_starts_its_workflow(run: Any, store: SandboxStore, apps: Apps, kind: str) -> None:
    trigger, args, start = KINDS[kind]
    tag = store.put_resource(
        "nfc_tag",
        SUB,
        "TAG",
        {"tag_id": "TAG", "uid": "", "content": {"type": "custom", "category": "rooms", "label": "Room 12"}},
    )
    assert tag
    geofence = {"geofence_id": "GEO", "label": "site", "lat": "35.7796", "long": "-78.6382", "radius": 100}
    store.put_resource("geofence", SUB, "GEO", geofence)
    register(store, "other-kind", {"on_http": "POST"}, apps.uri("/terminate"))
    register(store, kind, trigger, apps.uri("/terminate"))
    result = run(*LOCAL, "sandbox", *args, "--json")
    assert result.code == 0, result.err
    records = transcript(result.out)
    assert {r["workflow"] for r in records} == {kind}  # that one, no other
    assert records[0]["message"] == {"_type": "wf_api_start_event", "trigger": start}
    assert kinds(records)[-1] == "stop_event"
    again = run(*LOCAL, "sandbox", *args)  # the battery is at 15% already, Alice is in the geofence, ...
    if kind in ("battery", "move", "position", "tick"):
        assert again.code == 3, again.err
    else:
        assert again.code == 0, again.err


# --- what does not run ----------------------------------------------------------------------------------------


def test_no_workflow_handles_it_or_no_such_device_is_exit_3(run: Any, store: SandboxStore, apps: Apps) -> None:
    register(store, "my_auto_answer", {"on_incoming_call": ".*"}, apps.uri("/terminate"))
    register(store, "place-call", {"on_button": "action_button_double_tap"}, apps.uri("/terminate"), install_rule=ALL)
    cases = {
        ("press", "Alice", "--taps", "single"): "error: no workflow on Alice handles a single tap; installed: "
        "my_auto_answer (call:inbound), place-call (button:double)",
        ("call", "Carol", "--from", "Bob"): "error: no workflow on Carol handles an inbound call from Bob; installed: "
        "place-call (button:double)",
        ("emergency", "Dave"): "error: no workflow on Dave handles an emergency; installed: place-call (button:double)",
        ("press", "Alicia"): "error: no device 'Alicia' in account demo-account; its devices: Alice (990007560045678), "
        "Bob (990007560023456), Carol (990007560011111), Dave (990007560022222), Eve (990007560033333)",
        ("call", "Alice", "--from", "Zed"): "error: no caller 'Zed' in account demo-account; its devices: Alice",
        ("tick", "--at", "2030-01-01T09:00Z"): "error: no timer workflow is due by 2030-01-01T09:00:00+00:00; "
        "the account has no timer workflow",
    }
    for args, message in cases.items():
        result = run(*LOCAL, "sandbox", *args)
        assert (result.code, result.out) == (3, ""), (args, result.err)
        assert result.err.startswith(message), result.err
    assert apps.received == [] and store.list_instances(SUB, running_only=False) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("press", "Alice", "--taps", "quadruple"), "error: --taps: expected one of single, double, triple"),
        (("press", "Alice", "--long", "--taps", "double"), "error: --long: a long press is not taps"),
        (("battery", "Alice", "101"), "Invalid value for 'LEVEL'"),
        (("move", "Alice", "--lat", "91", "--long", "0"), "Invalid value for '--lat'"),
        (("move", "Alice", "--lat", "nan", "--long", "0"), "error: --lat: expected a number, got nan"),
        (("say", "Alice", " "), "error: PHRASE: expected a phrase"),
        (("press", "\x1b[2J"), "error: DEVICE: expected a device id or name, without control characters"),
        (("press", "Alice", "--taps", "double", "--set", "nope"), "error: --set: expected NAME=VALUE"),
        (("press", "Alice", "--taps", "double", "--set", "nope=1"), "error: unknown parameter 'nope'"),
        (
            ("press", "Alice", "--taps", "double", "--set", "speaking_rate=0"),
            "error: speaking_rate: expected a number of words",
        ),
        (("tick", "--at", "soon"), "error: --at: expected a time like 2030-01-01T09:00"),
        (("tick", "--at", "2030-01-01T09:00", "-z", "Mars/Base"), "error: --timezone: expected an IANA time zone"),
        (("tick", "-z", "UTC"), "error: --timezone: only applies to --at"),
    ],
)
def test_bad_input_is_exit_2_and_nothing_happens(
    run: Any, store: SandboxStore, apps: Apps, args: tuple[str, ...], message: str
) -> None:
    register(store, "place-call", {"on_button": "action_button_double_tap"}, apps.uri("/terminate"))
    before = store.last_event_id(SUB)
    result = run(*LOCAL, "sandbox", *args)
    assert (result.code, result.out) == (2, ""), result.err
    assert message in result.err and "Traceback" not in result.err
    assert apps.received == [] and store.last_event_id(SUB) == before


def test_aimed_at_relay_it_is_refused_before_any_request(run: Any) -> None:
    """conftest sets RELAY_API_KEY: the target is Relay production."""
    with respx.mock(assert_all_called=False) as api:
        route = api.route(host=httpx.URL(API).host)
        result = run("sandbox", "press", "Alice", "--taps", "double")
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith(
        "error: relay sandbox acts on sandbox devices only, and this command would go to Relay production"
    )
    assert "hint: use --profile local (the in-process sandbox), or point RELAY_HOST at a `relay server`" in result.err
    assert not route.called


def test_in_ci_with_no_target_it_is_refused_before_any_request(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "1")
    monkeypatch.delenv("RELAY_API_KEY")
    with respx.mock(assert_all_called=False) as api:
        route = api.route()
        result = run("sandbox", "emergency", "Alice")
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith("error: relay sandbox acts on sandbox devices only, and CI is set with no target")
    assert not route.called


def test_a_host_that_is_not_a_relay_server_is_refused_after_asking_it(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_HOST", "https://relay.example.com")
    with respx.mock() as api:
        info = api.get("https://relay.example.com/_sandbox/info").respond(404, json={"error": "not_found"})
        result = run("sandbox", "emergency", "Alice")
        assert info.call_count == 1 and len(api.calls) == 1  # that question, nothing else
    assert (result.code, result.out) == (2, "")
    assert "https://relay.example.com as profile 'default' is not a relay sandbox" in result.err


# --- apps that cannot be reached, or misbehave -------------------------------------------------------------------


def test_an_app_that_cannot_be_reached_is_not_available(run: Any, store: SandboxStore, apps: Apps) -> None:
    register(store, "place-call", {"on_button": "action_button_double_tap"}, apps.uri("/nowhere"))
    register(store, "hook", {"on_http": "POST"}, "ws://127.0.0.1:9/hook")
    result = run(*LOCAL, "sandbox", "press", "Alice", "--taps", "double")
    assert (result.code, result.out) == (1, "")
    assert result.err.splitlines()[1:] == [
        f"error: place-call is not available: cannot reach the workflow app at {apps.uri('/nowhere')}: the server "
        "answered HTTP 404 instead of switching to WebSocket",
        'hint: Alice says "place-call is not available"; something answers at that address but serves no workflow '
        "at the URI's path: check the path (@relaypro/sdk serves app.workflow('name', ...) at /name)",
    ]
    trigger = run(*LOCAL, "workflow", "trigger", "-w", "hook", "-u", ALICE)
    assert trigger.code == 1
    assert trigger.err.splitlines() == [
        "error: hook is not available: cannot reach the workflow app at ws://127.0.0.1:9/hook: connection refused",
        'hint: the device says "hook is not available"; start the app so that it listens at 127.0.0.1:9, or '
        "register the workflow with the URI where the app runs",
    ]
    assert store.list_instances(SUB, running_only=False) == []  # never "running"
    errors = [e["message"] for e in store.events(SUB) if e["level"] == "error"]
    assert [m.split(":")[0] for m in errors] == ["place-call is not available", "hook is not available"]


def test_an_app_that_misbehaves_is_exit_6(run: Any, store: SandboxStore, apps: Apps) -> None:
    register(store, "sos", {"on_device_event": "emergency"}, apps.uri("/hold"))  # never terminates
    result = run(*LOCAL, "sandbox", "emergency", "Alice", "--timeout", "0.3")
    assert (result.code, result.err.splitlines()[-1]) == (
        6,
        "error: sos: step 2 (expect terminate): the app did not terminate within 0.3s; the app sent nothing meanwhile",
    )
    [instance] = store.list_instances(SUB, running_only=False)
    assert instance["ended_at"] is not None
    assert store.events(SUB)[-1]["message"].startswith(f"instance {instance['instance_id']} failed: step 2")


def test_what_an_app_says_is_shown_escaped_and_kept_exact(run: Any, store: SandboxStore, apps: Apps) -> None:
    """An app's log line and the name of a request it sends reach the sandbox's log as they came: `relay workflow
    logs --json` gives them exactly; for people, the transcript and the log show them escaped (no colour, no
    right-to-left override on the terminal)."""
    register(store, "hostile", {"on_button": "action_button_single_tap"}, apps.uri("/hostile"))
    pressed = run(*LOCAL, "sandbox", "press", "Alice")
    assert pressed.code == 0, pressed.err
    shown = HOSTILE.replace("\x1b", "\\x1b").replace("\u202e", "\\u202e")
    said = pressed.out.splitlines()
    assert any(line.endswith(f"app →     {shown}") for line in said), said  # the request, by its name
    warned = f"!         warning                  unknown request wf_api_{shown}_request: the Relay server serves no"
    assert any(warned in line for line in said), said  # the simulator's warning, as simulate shows it
    logged = run(*LOCAL, "workflow", "logs", "-w", "hostile")
    assert logged.code == 0, logged.err
    for result in (pressed, logged):
        assert "\x1b" not in result.out + result.err and "\u202e" not in result.out + result.err
    lines = logged.out.splitlines()
    assert any(line.endswith(f" log: {shown}") for line in lines), lines
    assert any(line.endswith(f" {shown}") and "log:" not in line for line in lines), lines  # the request's name
    exact = [e["message"] for e in transcript(run(*LOCAL, "workflow", "logs", "-w", "hostile", "--json").out)]
    assert f"log: {HOSTILE}" in exact
    assert any(HOSTILE in m and not m.startswith("log:") for m in exact), exact


# --- instance stop ---------------------------------------------------------------------------------------------


def test_instance_stop_ends_a_running_conversation(tmp_path: Path, store: SandboxStore, apps: Apps) -> None:
    """The conversation runs in one client (as `relay sandbox` does), the stop comes from another."""
    register(store, "sos", {"on_device_event": "emergency"}, apps.uri("/hold"))
    db = tmp_path / "data" / "sandbox.db"
    from relay_cli.local.server import in_process_transport

    lines: queue.Queue[Any] = queue.Queue()

    def fire() -> None:
        with RelayClient("http://sandbox", token="t", user_agent="test", transport=in_process_transport(db, "t")) as c:
            for item in c.sandbox_stream(
                "/_sandbox/events", SUB, {"event": "emergency", "device": "Alice", "timeout": 30}
            ):
                lines.put(item)
        lines.put(None)

    threading.Thread(target=fire, daemon=True).start()
    deadline = time.monotonic() + 5
    while not (running := store.list_instances(SUB)) and time.monotonic() < deadline:
        time.sleep(0.02)
    [instance] = running
    with RelayClient("http://sandbox", token="t", user_agent="test", transport=in_process_transport(db, "t")) as c:
        c.stop_instance(SUB, instance["instance_id"])
    items = []
    while (item := lines.get(timeout=5)) is not None:
        items.append(item)
    assert items[-2]["end"]["outcome"] == "stopped" and items[-1] == {"done": True}
    assert items[-3]["record"]["message"] == {"_type": "wf_api_stop_event", "reason": "stopped"}
    deadline = time.monotonic() + 5
    while apps.types("/hold")[-1:] != ["wf_api_stop_event"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert apps.types("/hold") == ["wf_api_start_event", "wf_api_stop_event"]
    assert store.list_instances(SUB) == []


# --- timers ----------------------------------------------------------------------------------------------------


def test_tick_runs_the_timers_due_by_then_once(run: Any, store: SandboxStore, apps: Apps) -> None:
    schedule = {"start_time": "2030-01-01T09:00:00", "timezone": "America/Chicago", "count": 1}
    register(store, "new-year", {"on_timer": schedule}, apps.uri("/terminate"), install=[ALICE, BOB])
    early = run(*LOCAL, "sandbox", "tick", "--at", "2030-01-01T08:59", "-z", "America/Chicago")
    assert early.code == 3
    assert early.err.startswith(
        "error: no timer workflow is due by 2030-01-01T14:59:00+00:00; timer workflows: new-year (next: "
        "2030-01-01T15:00:00+00:00)"
    )
    due = run(*LOCAL, "sandbox", "tick", "--at", "2030-01-01T15:00:00Z", "--json")
    assert due.code == 0, due.err
    starts = [r for r in transcript(due.out) if r["message"]["_type"] == "wf_api_start_event"]
    assert sorted(r["message"]["trigger"]["args"]["source_uri"] for r in starts) == [
        ALICE_URN,
        "urn:relay-resource:name:device:Bob",
    ]
    again = run(*LOCAL, "sandbox", "tick", "--at", "2030-01-02T00:00Z")
    assert again.code == 3 and "new-year (next: never again)" in again.err


# --- relay server: concurrent conversations, the bound, timers on their own ----------------------------------------


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(conversations, "MAX_CONVERSATIONS", 2)
    monkeypatch.setattr(conversations, "TICK_INTERVAL", 0.1)
    stop = threading.Event()
    urls: queue.Queue[str] = queue.Queue()
    thread = threading.Thread(
        target=serve,
        args=(tmp_path / "server.db",),
        kwargs={"port": 0, "token": "ci-token", "ready": urls.put, "stop": stop},
        daemon=True,
    )
    thread.start()
    base = urls.get(timeout=10)
    monkeypatch.setenv("RELAY_HOST", base)
    monkeypatch.setenv("RELAY_API_KEY", "ci-token")
    yield base
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_relay_server_plays_events_concurrently_within_its_bound(
    run: Any, server: str, tmp_path: Path, apps: Apps
) -> None:
    store = SandboxStore(tmp_path / "server.db")
    register(store, "sos", {"on_device_event": "emergency"}, apps.uri("/hold"), install_rule=ALL)
    outcomes: dict[str, int] = {}

    def fire(device: str) -> None:
        with RelayClient(server, token="ci-token", user_agent="test") as c:
            items = list(
                c.sandbox_stream("/_sandbox/events", SUB, {"event": "emergency", "device": device, "timeout": 30})
            )
        outcomes[device] = len(items)

    threads = [threading.Thread(target=fire, args=(d,), daemon=True) for d in ("Alice", "Bob")]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(store.list_instances(SUB)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    # two conversations at once, and the API answers meanwhile
    started = time.monotonic()
    listed = run("workflow", "instance", "list", "--json")
    assert listed.code == 0 and time.monotonic() - started < 5
    assert sorted(i["triggering_user_id"] for i in listed.json()) == sorted([ALICE, BOB])
    # the bound: a third is refused, nothing started
    third = run("sandbox", "emergency", "Carol")
    assert third.code == 1
    assert "the sandbox is running 2 conversations and runs at most 2 at once" in third.err
    for iid in [i["instance_id"] for i in listed.json()]:
        assert run("workflow", "instance", "stop", "-i", iid, "--yes").code == 0
    for thread in threads:
        thread.join(timeout=10)
    assert set(outcomes) == {"Alice", "Bob"}
    # a timer workflow runs by itself while the server runs
    register(store, "now", {"on_timer": {"start_time": "immediately"}}, apps.uri("/terminate"), install=[CAROL])
    deadline = time.monotonic() + 10
    while "wf_api_stop_event" not in apps.types("/terminate") and time.monotonic() < deadline:
        time.sleep(0.05)
    events = [t for t in apps.types("/terminate") if t.endswith("_event")]
    assert events == ["wf_api_start_event", "wf_api_stop_event"]


def test_leaving_an_in_process_event_early_stops_its_conversations(
    tmp_path: Path, store: SandboxStore, apps: Apps
) -> None:
    """Ctrl-C during `relay sandbox ...` in-process: nothing would be left to play the conversation, so it gets
    its STOP and its instance ends (the command exits 130)."""
    from relay_cli.local import direct

    register(store, "sos", {"on_device_event": "emergency"}, apps.uri("/hold"))
    with (
        pytest.raises(KeyboardInterrupt),
        direct.stream(
            tmp_path / "data" / "sandbox.db", "/_sandbox/events", None, {"event": "emergency", "device": "Alice"}
        ) as items,
    ):
        for item in items:
            if "record" in item:  # the START went out: the conversation runs
                raise KeyboardInterrupt
    deadline = time.monotonic() + 5
    while apps.types("/hold")[-1:] != ["wf_api_stop_event"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert apps.types("/hold") == ["wf_api_start_event", "wf_api_stop_event"]
    [instance] = store.list_instances(SUB, running_only=False)
    assert instance["ended_at"] is not None


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"started": "no"}'], "error: the sandbox answered with a line of an unexpected shape (started)"),
        (['{"device": null, "event": "x", "started": [{"run": 0, "name": "w", "trigger": "t", "uri": "u"}]}',
          '{"run": 0, "record": {"t": 0, "from": "app", "step": 1, "message": [1]}}'],
         "error: the sandbox answered with a line of an unexpected shape (record)"),
        (["[1, 2]"], "error: the sandbox answered with a line of an unexpected shape (list)"),
        (['{"device": null, "event": "x", "started": [{"run": 0, "name": "w", "trigger": "t", "uri": "u"}]}'],
         "error: the sandbox's answer ended before the conversations did"),
        (["not json"], "answered POST /_sandbox/events with a line that is not JSON"),
    ],
)  # fmt: skip
def test_a_relay_server_answer_is_checked_before_it_is_used(
    run: Any, monkeypatch: pytest.MonkeyPatch, lines: list[str], message: str
) -> None:
    monkeypatch.setenv("RELAY_HOST", "https://sandbox.example")
    monkeypatch.setenv("RELAY_SUBSCRIBER_ID", SUB)
    with respx.mock(assert_all_called=False) as api:
        api.get("https://sandbox.example/_sandbox/info").respond(json={"sandbox": "relay-sandbox"})
        api.post("https://sandbox.example/_sandbox/events").respond(content="\n".join(lines).encode() + b"\n")
        result = run("sandbox", "emergency", "Alice")
    assert (result.code, result.out) == (1, ""), result.err
    assert message in result.err and "Traceback" not in result.err
