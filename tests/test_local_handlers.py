"""The sandbox's endpoints one by one: each handler of ``relay_cli.local.handlers`` called directly with a request
and a store (no WSGI, no HTTP client), and the routing table that leads to it.

Each test checks what a client would see (status, JSON body, headers) and what the store holds afterwards,
including that a refused request changed nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from relay_cli.local import handlers as h
from relay_cli.local.app import answer
from relay_cli.local.handlers import ROUTES, UPLOAD_PREFIX
from relay_cli.local.seed import DEMO_DEVICES, DEMO_SUBSCRIBER
from relay_cli.local.store import SandboxStore
from relay_cli.local.web import HttpError, Options, Request, Response, Route, find_route

from wsapps import serving

SUB = DEMO_SUBSCRIBER
ALICE, BOB = "990007560045678", "990007560023456"


def workflow(name: str = "hook", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "options": {"transient": True, "hidden": False},
        "config": {"trigger": {"start": {"workflow": {"uri": f"wss://h/{name}", "args": {}}}, "on_http": "POST"}},
        "install": [ALICE],
    }
    body.update(extra)
    return body


def request(
    method: str,
    path: str,
    *,
    query: dict[str, str] | None = None,
    body: Any = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    options: Options | None = None,
) -> Request:
    """A Request as WSGI would build it; ``query`` gets ``subscriber_id`` unless it says otherwise."""
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": urlencode({"subscriber_id": SUB, **(query or {})}),
        "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data),
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "sandbox:8080",
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = value
    req = Request(environ, options)
    req.path_params = dict(params or {})
    return req


def refused(call: Any) -> HttpError:
    with pytest.raises(HttpError) as err:
        call()
    return err.value


@pytest.fixture
def store(tmp_path: Path) -> SandboxStore:
    return SandboxStore(tmp_path / "s.db")


# --- the routing table ------------------------------------------------------------------------------------------

ROUTED = [
    ("GET", "/ibot/workflow", h.list_workflows, {}),
    ("POST", "/ibot/workflow", h.save_workflow, {}),
    ("DELETE", "/ibot/workflow/wf_1", h.delete_workflow, {"workflow_id": "wf_1"}),
    ("POST", "/ibot/workflow/wf_1", h.trigger_workflow, {"workflow_id": "wf_1"}),
    ("GET", "/ibot/workflow_instances", h.list_instances, {}),
    ("DELETE", "/ibot/workflow_instances/i-1", h.stop_instance, {"instance_id": "i-1"}),
    ("GET", "/ibot/workflowdebug", h.workflow_logs, {}),
    ("GET", "/ibot/workflow_analytics_events", h.analytics, {}),
    ("GET", "/ibot/subscriber/acct/device_ids", h.device_ids, {"subscriber_id": "acct"}),
    ("GET", "/ibot/groups", h.groups, {}),
    ("GET", "/ibot/subscriber_info/acct", h.subscriber_info, {"subscriber_id": "acct"}),
    ("GET", "/ibot/authz_context", h.authz_context, {}),
    ("GET", "/ibot/geofence", h.list_geofences, {}),
    ("POST", "/ibot/geofence", h.create_geofence, {}),
    ("DELETE", "/ibot/geofence/gf_1", h.delete_geofence, {"geofence_id": "gf_1"}),
    ("GET", "/ibot/indoor_venue", h.list_venues, {}),
    ("GET", "/ibot/indoor_position/venue-hq", h.list_positions, {"venue_id": "venue-hq"}),
    ("GET", "/ibot/relay_nfc_tag", h.list_tags, {}),
    ("POST", "/ibot/relay_nfc_tag", h.create_tag, {}),
    ("GET", "/ibot/relay_nfc_tag/tag_1", h.get_tag, {"tag_id": "tag_1"}),
    ("PUT", "/ibot/relay_nfc_tag/tag_1", h.update_tag, {"tag_id": "tag_1"}),
    ("DELETE", "/ibot/relay_nfc_tag/tag_1", h.delete_tag, {"tag_id": "tag_1"}),
    ("GET", "/ibot/user_profile", h.list_user_profiles, {}),
    ("GET", "/ibot/audit", h.audit, {}),
    ("GET", "/ibot/custom_audio", h.list_audio, {}),
    ("POST", "/ibot/custom_audio", h.create_audio, {}),
    ("DELETE", "/ibot/custom_audio/au_1", h.delete_audio, {"audio_id": "au_1"}),
    ("PUT", "/_sandbox/upload/custom_audio/au_1", h.upload_audio, {"audio_id": "au_1"}),
    ("GET", "/_sandbox/info", h.sandbox_info, {}),
    ("GET", "/_sandbox/devices", h.sandbox_devices, {}),
    ("POST", "/_sandbox/events", h.sandbox_event, {}),
    ("POST", "/_sandbox/tick", h.sandbox_tick, {}),
]


@pytest.mark.parametrize(("method", "path", "handler", "params"), ROUTED, ids=[f"{m} {p}" for m, p, _, _ in ROUTED])
def test_each_endpoint_routes_to_its_handler(method: str, path: str, handler: Any, params: dict[str, str]) -> None:
    route, found = find_route(ROUTES, method, path)
    assert route.handler is handler
    assert found == params


def test_the_table_has_every_route_once_and_nothing_else() -> None:
    assert len(ROUTES) == len(ROUTED) == len({(r.method, r.pattern) for r in ROUTES})
    assert {r.handler for r in ROUTES} == {handler for _, _, handler, _ in ROUTED}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/ibot/workflow", "GET, POST"),
        ("GET", "/ibot/workflow/wf_1", "DELETE, POST"),
        ("POST", "/ibot/relay_nfc_tag/tag_1", "GET, PUT, DELETE"),
        ("GET", f"{UPLOAD_PREFIX}au_1", "PUT"),
    ],
)
def test_a_known_path_with_another_method_is_405_naming_the_allowed_ones(method: str, path: str, allow: str) -> None:
    err = refused(lambda: find_route(ROUTES, method, path))
    assert (err.status, err.error, err.headers) == (405, "method_not_allowed", [("Allow", allow)])
    assert err.message == f"{method} is not allowed on {path}; use {allow}"


@pytest.mark.parametrize("path", ["/ibot/nothing", "/ibot/workflow/", "/ibot/workflow/a/b", "/", "/ibot/workflowx"])
def test_an_unknown_path_is_404(path: str) -> None:
    err = refused(lambda: find_route(ROUTES, "GET", path))
    assert (err.status, err.error, err.message) == (404, "not_found", f"no such endpoint: {path}")


def test_a_path_segment_takes_anything_but_a_slash() -> None:
    route, params = find_route(ROUTES, "DELETE", "/ibot/workflow/wf_a.b-c%20d")
    assert route.handler is h.delete_workflow and params == {"workflow_id": "wf_a.b-c%20d"}
    assert Route("GET", "/x/{a}/y/{b}", h.groups).regex.pattern == r"/x/(?P<a>[^/]+)/y/(?P<b>[^/]+)"


def test_answer_turns_a_handler_crash_into_500_and_checks_the_token_first(store: SandboxStore) -> None:
    def boom(req: Request, store: SandboxStore) -> Response:
        raise KeyError("surprise")

    routes = [Route("GET", "/boom", boom)]
    response = answer(request("GET", "/boom", headers={"Authorization": "Bearer t"}), store, "t", routes)
    assert (response.status, response.body) == (500, {"error": "internal_error", "message": "KeyError: 'surprise'"})
    response = answer(request("GET", "/boom"), store, "t", routes)
    assert (response.status, response.body["message"]) == (401, "missing Authorization header")
    assert response.headers == [("WWW-Authenticate", 'Bearer realm="relay-sandbox"')]
    response = answer(request("GET", "/nothing", headers={"Authorization": "Token wrong"}), store, "t", routes)
    assert (response.status, response.body["message"]) == (401, "invalid token")  # before the 404
    # a presigned upload carries its own signature, not the token
    response = answer(request("PUT", f"{UPLOAD_PREFIX}au_1"), store, "t")
    assert (response.status, response.body["error"]) == (403, "forbidden")


# --- the account check every handler makes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "handler",
    [
        r.handler
        for r in ROUTES
        if "subscriber_id" not in r.pattern and r.handler not in (h.authz_context, h.upload_audio, h.sandbox_info)
    ],
)
def test_every_account_handler_needs_a_known_subscriber_before_anything_else(store: SandboxStore, handler: Any) -> None:
    req = request(
        "POST",
        "/",
        query={"subscriber_id": ""},
        body=workflow(),
        params=dict.fromkeys(("workflow_id", "instance_id", "geofence_id", "venue_id", "tag_id", "audio_id"), "x"),
    )
    err = refused(lambda: handler(req, store))
    assert (err.status, err.error, err.message) == (400, "invalid_request", "missing the subscriber_id query parameter")
    req.query["subscriber_id"] = "nobody"
    err = refused(lambda: handler(req, store))
    assert (err.status, err.message) == (404, "no account with subscriber_id 'nobody'")
    assert store.list_workflows(SUB) == [] and store.events(SUB) == []


# --- workflows ----------------------------------------------------------------------------------------------------


def test_list_workflows_oldest_first(store: SandboxStore) -> None:
    assert h.list_workflows(request("GET", "/ibot/workflow"), store).body == {"results": []}
    a = store.create_workflow(SUB, workflow("a"))
    b = store.create_workflow(SUB, workflow("b"))
    response = h.list_workflows(request("GET", "/ibot/workflow"), store)
    assert (response.status, response.body) == (200, {"results": [a, b]})


def test_save_workflow_creates_and_logs(store: SandboxStore) -> None:
    response = h.save_workflow(request("POST", "/ibot/workflow", body=workflow()), store)
    assert response.status == 200
    [saved] = response.body
    assert re.fullmatch(r"wf_[0-9a-f]{24}", saved["workflow_id"])
    assert saved == {"workflow_id": saved["workflow_id"], **workflow()}
    assert store.list_workflows(SUB) == [saved]
    assert [e["message"] for e in store.events(SUB)] == ["workflow created: hook"]


def test_save_workflow_with_an_id_replaces_the_whole_body(store: SandboxStore) -> None:
    old = store.create_workflow(SUB, workflow("old", install_rule="urn:relay-resource:all:device"))
    new = {**workflow("new"), "workflow_id": old["workflow_id"]}
    response = h.save_workflow(request("POST", "/ibot/workflow", body=new), store)
    assert (response.status, response.body) == (200, [new])
    assert store.list_workflows(SUB) == [new]  # install_rule gone: replaced, not merged
    err = refused(
        lambda: h.save_workflow(request("POST", "/ibot/workflow", body={**new, "workflow_id": "wf_x"}), store)
    )
    assert (err.status, err.message) == (404, f"no workflow 'wf_x' in account {SUB}")
    assert store.list_workflows(SUB) == [new]


def test_save_workflow_refuses_unknown_devices_and_writes_nothing(store: SandboxStore) -> None:
    req = request("POST", "/ibot/workflow", body=workflow(install=["nope", ALICE, "gone"]))
    err = refused(lambda: h.save_workflow(req, store))
    assert (err.status, err.error) == (400, "invalid_install_user_id")
    assert err.message == f"not a device or user of account {SUB}: nope, gone"
    assert store.list_workflows(SUB) == [] and store.events(SUB) == []


def test_save_workflow_reads_a_config_sent_as_a_json_string(store: SandboxStore) -> None:
    body = workflow()
    [saved] = h.save_workflow(
        request("POST", "/ibot/workflow", body={**body, "config": json.dumps(body["config"])}), store
    ).body
    assert saved["config"] == body["config"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "expected a JSON body, got an empty one"),
        (b"[1]", "expected a Workflow JSON object, got a list"),
        (b'{"name": NaN}', "malformed JSON body: NaN is not valid JSON"),
        (b"\xff", "malformed JSON body: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
    ],
)
def test_save_workflow_refuses_a_body_that_is_not_a_workflow(store: SandboxStore, raw: bytes, message: str) -> None:
    err = refused(lambda: h.save_workflow(request("POST", "/ibot/workflow", raw=raw), store))
    assert (err.status, err.error, err.message) == (400, "invalid_request", message)
    assert store.list_workflows(SUB) == []


def test_a_body_that_does_not_arrive_in_time_is_408(store: SandboxStore) -> None:
    class Stalled(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            raise TimeoutError("timed out")

    req = request("POST", "/ibot/workflow", body=workflow())
    req.environ["wsgi.input"] = Stalled()
    err = refused(lambda: h.save_workflow(req, store))
    assert (err.status, err.error) == (408, "request_timeout")
    assert store.list_workflows(SUB) == []


def test_delete_workflow_ends_its_instances(store: SandboxStore) -> None:
    wf = store.create_workflow(SUB, workflow())
    store.trigger(SUB, wf["workflow_id"], ALICE)
    response = h.delete_workflow(request("DELETE", "/", params={"workflow_id": wf["workflow_id"]}), store)
    assert (response.status, response.empty) == (204, True)
    assert store.list_workflows(SUB) == [] and store.list_instances(SUB) == []
    err = refused(lambda: h.delete_workflow(request("DELETE", "/", params={"workflow_id": wf["workflow_id"]}), store))
    assert (err.status, err.message) == (404, f"no workflow {wf['workflow_id']!r} in account {SUB}")


# --- trigger, instances, logs, analytics ---------------------------------------------------------------------------


def test_trigger_workflow_plays_the_workflow_for_the_user(store: SandboxStore) -> None:
    with serving() as apps:
        body = workflow()
        body["config"]["trigger"]["start"]["workflow"]["uri"] = apps.uri("/terminate")
        wf = store.create_workflow(SUB, body)["workflow_id"]
        invoke = {"action": "invoke", "target_device_ids": [BOB], "action_args": {"k": "v"}}
        response = h.trigger_workflow(
            request("POST", "/", query={"user_id": ALICE}, body=invoke, params={"workflow_id": wf}), store
        )
        assert (response.status, response.empty) == (200, True)
        # without user_id, the first target triggers it
        h.trigger_workflow(request("POST", "/", body=invoke, params={"workflow_id": wf}), store)
        starts = [m["trigger"]["args"]["source_uri"] for _, m in apps.received if m["_type"] == "wf_api_start_event"]
    assert starts == ["urn:relay-resource:name:device:Alice", "urn:relay-resource:name:device:Bob"]
    assert store.list_instances(SUB) == []  # in-process, the trigger returns once the conversation is over
    assert [i["triggering_user_id"] for i in store.list_instances(SUB, running_only=False)] == [ALICE, BOB]
    messages = [e["message"] for e in store.events(SUB)]
    assert f'triggered by {BOB} with args {{"k": "v"}}' in messages and messages[-1].endswith("the app terminated")


@pytest.mark.parametrize(
    ("body", "query", "status", "message"),
    [
        ({"action": "invoke"}, {}, 400, "missing the user_id query parameter"),
        ({"action": "terminate"}, {"user_id": ALICE}, 400, 'action must be "invoke", got "terminate"'),
        ({"action": "invoke", "target_device_ids": ALICE}, {}, 400, "target_device_ids must be a list of strings"),
        ({"action": "invoke", "action_args": []}, {"user_id": ALICE}, 400, "action_args must be an object"),
        ({"action": "invoke"}, {"user_id": ALICE}, 404, f"no workflow 'wf_x' in account {SUB}"),
    ],
)
def test_trigger_workflow_refusals_start_nothing(
    store: SandboxStore, body: Any, query: dict[str, str], status: int, message: str
) -> None:
    wf = store.create_workflow(SUB, workflow())["workflow_id"]
    params = {"workflow_id": "wf_x" if status == 404 else wf}
    err = refused(lambda: h.trigger_workflow(request("POST", "/", query=query, body=body, params=params), store))
    assert (err.status, err.message) == (status, message)
    assert store.list_instances(SUB, running_only=False) == []


def test_list_instances_and_stop_instance(store: SandboxStore) -> None:
    wf = store.create_workflow(SUB, workflow())["workflow_id"]
    instance = store.trigger(SUB, wf, ALICE)
    assert instance is not None
    response = h.list_instances(request("GET", "/"), store)
    assert (response.status, response.body) == (200, [instance])
    response = h.stop_instance(request("DELETE", "/", params={"instance_id": instance["instance_id"]}), store)
    assert (response.status, response.empty) == (204, True)
    assert h.list_instances(request("GET", "/"), store).body == []
    err = refused(
        lambda: h.stop_instance(request("DELETE", "/", params={"instance_id": instance["instance_id"]}), store)
    )
    assert (err.status, err.message) == (
        404,
        f"no running workflow instance {instance['instance_id']!r} in account {SUB}",
    )


def log_lines(chunks: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in b"".join(chunks).splitlines() if line.strip()]


def test_workflow_logs_in_process_is_the_backlog_with_a_length(store: SandboxStore) -> None:
    a = store.create_workflow(SUB, workflow("a"))["workflow_id"]
    store.create_workflow(SUB, workflow("b"))
    response = h.workflow_logs(request("GET", "/", query={"workflow_id": a}), store)
    assert response.status == 200 and response.stream is not None
    chunks = list(response.stream)
    assert response.headers == [("Content-Length", str(len(b"".join(chunks))))]
    [line] = log_lines(chunks)
    assert line == {
        "level": "info",
        "timestamp": line["timestamp"],
        "message": "workflow created: a",
        "context": {"subscriber_id": SUB, "user_id": None, "workflow_id": a},
    }
    empty = h.workflow_logs(request("GET", "/", query={"user_id": "nobody"}), store)
    assert empty.stream is not None and list(empty.stream) == [] and empty.headers == [("Content-Length", "0")]


def test_workflow_logs_following_streams_new_lines_and_ends_on_stop(store: SandboxStore) -> None:
    store.create_workflow(SUB, workflow("a"))
    stop = threading.Event()
    options = Options(follow_logs=True, stop=stop, poll_interval=0.01, heartbeat_interval=0.05)
    safety = threading.Timer(10, stop.set)  # a broken stream ends the test instead of hanging it
    safety.start()
    try:
        response = h.workflow_logs(request("GET", "/", options=options), store)
        assert response.headers == [] and response.stream is not None  # no Content-Length: a stream
        stream = iter(response.stream)
        assert [line["message"] for line in log_lines([next(stream)])] == ["workflow created: a"]
        assert next(stream) == b"\n"  # nothing new: a heartbeat
        store.log(SUB, "hello")
        chunk = next(stream)
        while chunk == b"\n":
            chunk = next(stream)
        assert [line["message"] for line in log_lines([chunk])] == ["hello"]
        assert not stop.is_set()
        stop.set()
        assert list(stream) in ([], [b"\n"])
    finally:
        safety.cancel()


def test_analytics_start_and_terminate_newest_first(store: SandboxStore) -> None:
    wf = store.create_workflow(SUB, workflow())["workflow_id"]
    instance = store.trigger(SUB, wf, ALICE)
    assert instance is not None
    store.end_instance(SUB, instance["instance_id"])
    response = h.analytics(request("GET", "/", query={"workflow_id": wf}), store)
    assert response.status == 200
    events = response.body["data"]
    assert [e["id"] for e in events] == [f"{instance['instance_id']}:terminate", f"{instance['instance_id']}:start"]
    assert response.body["cursor"] is None
    assert h.analytics(request("GET", "/", query={"user_id": BOB}), store).body == {"data": [], "cursor": None}
    err = refused(lambda: h.analytics(request("GET", "/", query={"latest": "soon"}), store))
    assert (err.status, err.message) == (400, "latest must be an ISO 8601 time or Unix seconds, got 'soon'")


# --- the account --------------------------------------------------------------------------------------------------


def test_account_handlers(store: SandboxStore) -> None:
    response = h.device_ids(request("GET", "/", query={"subscriber_id": ""}, params={"subscriber_id": SUB}), store)
    # Relay's answer, and the sandbox's own names of the devices (relay devices shows them)
    assert (response.status, response.body) == (200, {"devices": list(DEMO_DEVICES), "names": DEMO_DEVICES})
    err = refused(lambda: h.device_ids(request("GET", "/", params={"subscriber_id": "nobody"}), store))
    assert (err.status, err.message) == (404, "no account with subscriber_id 'nobody'")

    info = h.subscriber_info(request("GET", "/", params={"subscriber_id": SUB}), store)
    assert info.body == {
        "subscriber_id": SUB,
        "name": "Demo account",
        "capabilities": {"workflow_sdk": True, "calling": True, "indoor_positioning": False},
    }
    assert refused(lambda: h.subscriber_info(request("GET", "/", params={"subscriber_id": "x"}), store)).status == 404

    assert h.authz_context(request("GET", "/", query={"subscriber_id": ""}), store).body == [{"subscriber_id": SUB}]
    [group] = h.groups(request("GET", "/"), store).body
    assert (group["owner"], group["subscribers"]) == (SUB, [ALICE, BOB])


# --- geofences, venues, positions, tags, users, audit --------------------------------------------------------------


def test_create_geofence_by_address_and_by_point(store: SandboxStore) -> None:
    by_address = h.create_geofence(
        request("POST", "/", body={"label": "hq", "radius": 100, "address": "1 Main St"}), store
    ).body
    by_point = h.create_geofence(
        request("POST", "/", body={"label": "dock", "radius": 5.5, "lat": 35.5, "long": -78}), store
    ).body
    assert by_address == {
        "geofence_id": by_address["geofence_id"],
        "address": "1 Main St",
        "lat": "",
        "long": "",
        "label": "hq",
        "radius": 100,
    }
    assert by_point == {
        "geofence_id": by_point["geofence_id"],
        "address": "",
        "lat": "35.5",
        "long": "-78",
        "label": "dock",
        "radius": 5.5,
    }
    assert h.list_geofences(request("GET", "/"), store).body == {"results": [by_address, by_point]}
    err = refused(
        lambda: h.create_geofence(request("POST", "/", body={"label": "x", "radius": 1, "lat": 91, "long": 0}), store)
    )
    assert err.message == "lat must be a number between -90 and 90 (or give an address)"
    gone = h.delete_geofence(request("DELETE", "/", params={"geofence_id": by_address["geofence_id"]}), store)
    assert gone.status == 204
    assert h.list_geofences(request("GET", "/"), store).body == {"results": [by_point]}
    err = refused(lambda: h.delete_geofence(request("DELETE", "/", params={"geofence_id": "gf_x"}), store))
    assert (err.status, err.message) == (404, f"no geofence 'gf_x' in account {SUB}")


def test_venues_and_positions(store: SandboxStore) -> None:
    assert h.list_venues(request("GET", "/"), store).body == {
        "results": [{"venue_id": "venue-hq", "venue_name": "Headquarters"}]
    }
    positions = h.list_positions(request("GET", "/", params={"venue_id": "venue-hq"}), store).body["results"]
    assert [p["position_id"] for p in positions] == ["pos-lobby", "pos-kitchen"]
    err = refused(lambda: h.list_positions(request("GET", "/", params={"venue_id": "nowhere"}), store))
    assert (err.status, err.message) == (404, f"no venue 'nowhere' in account {SUB}")


def test_nfc_tag_create_get_update_delete(store: SandboxStore) -> None:
    content = {"type": "room", "category": "rooms", "label": "101"}
    tag = h.create_tag(request("POST", "/", body={"content": content}), store).body
    assert tag == {"tag_id": tag["tag_id"], "subscriber_id": SUB, "uid": "", "counter": 0, "content": content}
    params = {"tag_id": tag["tag_id"]}
    assert h.get_tag(request("GET", "/", params=params), store).body == tag
    assert h.list_tags(request("GET", "/"), store).body == {"results": [tag]}

    changed = {**content, "label": "102"}
    response = h.update_tag(request("PUT", "/", body={"content": changed}, params=params), store)
    assert (response.status, response.empty) == (204, True)
    assert h.get_tag(request("GET", "/", params=params), store).body == {**tag, "content": changed}
    err = refused(
        lambda: h.update_tag(request("PUT", "/", body={"content": {**changed, "label": ""}}, params=params), store)
    )
    assert (err.status, err.message) == (400, "content.label must be a non-empty string")
    assert h.get_tag(request("GET", "/", params=params), store).body["content"] == changed

    assert h.delete_tag(request("DELETE", "/", params=params), store).status == 204
    for handler in (h.get_tag, h.delete_tag):
        err = refused(lambda handler=handler: handler(request("GET", "/", params=params), store))
        assert (err.status, err.message) == (404, f"no NFC tag {tag['tag_id']!r} in account {SUB}")
    err = refused(lambda: h.update_tag(request("PUT", "/", body={"content": content}, params=params), store))
    assert err.status == 404


def test_user_profiles_and_audit_filters(store: SandboxStore) -> None:
    users = h.list_user_profiles(request("GET", "/"), store).body["results"]
    assert [u["username"] for u in users] == ["alice", "bob"]
    every = h.audit(request("GET", "/"), store).body
    assert [e["audit_id"] for e in every["data"]] == ["audit-0002", "audit-0001"] and every["cursor"] is None
    assert set(every["data"][0]) == {"audit_id", "action", "data", "timestamp_action"}
    assert [e["audit_id"] for e in h.audit(request("GET", "/", query={"user_id": "up-alice"}), store).body["data"]] == [
        "audit-0001"
    ]
    assert h.audit(request("GET", "/", query={"action": "unassigned"}), store).body["data"] == []
    assert (
        h.audit(request("GET", "/", query={"latest": "2026-01-05T09:01:00Z"}), store).body["data"][0]["audit_id"]
        == "audit-0001"
    )
    page = h.audit(request("GET", "/", query={"limit": "1"}), store).body
    assert [e["audit_id"] for e in page["data"]] == ["audit-0002"]
    rest = h.audit(request("GET", "/", query={"limit": "1", "cursor": page["cursor"]}), store).body
    assert ([e["audit_id"] for e in rest["data"]], rest["cursor"]) == (["audit-0001"], None)


# --- custom audio -------------------------------------------------------------------------------------------------


def create_audio(store: SandboxStore, options: Options, name: str = "chime") -> dict[str, Any]:
    body = {"audio_format": "wave", "subscriber_id": SUB, "short_name": name}
    response = h.create_audio(request("POST", "/ibot/custom_audio", body=body, options=options), store)
    assert response.status == 200
    return dict(response.body)


def upload(store: SandboxStore, options: Options, url: str, data: bytes, **query: str) -> Response:
    parts = urlsplit(url)
    audio_id = parts.path.removeprefix(UPLOAD_PREFIX)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()} | query
    req = request(
        "PUT",
        parts.path,
        query=params,
        raw=data,
        headers={"Content-Type": "audio/wav"},
        params={"audio_id": audio_id},
        options=options,
    )
    return h.upload_audio(req, store)


def test_create_audio_answers_a_presigned_url_on_this_server(store: SandboxStore) -> None:
    options = Options()
    created = create_audio(store, options)
    audio = created["result"]
    assert audio == {"id": audio["id"], "subscriber_id": SUB, "audio_format": "wave", "short_name": "chime"}
    url = urlsplit(created["s3_upload_url"])
    assert (url.scheme, url.netloc, url.path) == ("http", "sandbox:8080", f"{UPLOAD_PREFIX}{audio['id']}")
    query = parse_qs(url.query)
    assert query["subscriber_id"] == [SUB] and re.fullmatch(r"[0-9a-f]{64}", query["signature"][0])
    assert abs(int(query["expires"][0]) - (time.time() + h.UPLOAD_TTL)) < 60
    assert h.list_audio(request("GET", "/"), store).body == [audio]

    err = refused(lambda: create_audio(store, options))
    assert (err.status, err.error) == (409, "conflict")
    assert err.message == f"an audio file named 'chime' exists already (id {audio['id']})"
    err = refused(
        lambda: h.create_audio(
            request("POST", "/", body={"audio_format": "mp3", "subscriber_id": SUB, "short_name": "x"}), store
        )
    )
    assert (err.status, err.message) == (400, "audio_format must be \"wave\", got 'mp3'")
    assert h.list_audio(request("GET", "/"), store).body == [audio]


def test_upload_audio_checks_signature_expiry_and_length(store: SandboxStore) -> None:
    options = Options()
    created = create_audio(store, options)
    audio_id, url = created["result"]["id"], created["s3_upload_url"]
    data = b"RIFF" + bytes(100)

    err = refused(lambda: upload(store, options, url, data, signature="0" * 64))
    assert (err.status, err.message) == (403, "the upload URL's signature is not valid")
    err = refused(lambda: upload(store, Options(), url, data))  # another app's key
    assert err.status == 403
    past = str(int(time.time()) - 1)
    err = refused(
        lambda: upload(
            store,
            options,
            url,
            data,
            expires=past,
            signature=h.upload_signature(request("PUT", "/", options=options), SUB, audio_id, past),
        )
    )
    assert (err.status, err.message) == (403, "the upload URL has expired")
    assert store.resource("custom_audio_file", SUB, audio_id) is None

    response = upload(store, options, url, data)
    assert (response.status, response.empty) == (200, True)
    assert store.resource("custom_audio_file", SUB, audio_id) == {
        "size": 104,
        "sha256": hashlib.sha256(data).hexdigest(),
        "content_type": "audio/wav",
    }

    gone = h.delete_audio(request("DELETE", "/", params={"audio_id": audio_id}), store)
    assert gone.status == 204
    assert (
        store.resource("custom_audio_file", SUB, audio_id) is None
        and h.list_audio(request("GET", "/"), store).body == []
    )
    err = refused(lambda: upload(store, options, url, data))
    assert (err.status, err.message) == (404, f"no custom audio {audio_id!r} in account {SUB}")
    err = refused(lambda: h.delete_audio(request("DELETE", "/", params={"audio_id": audio_id}), store))
    assert err.status == 404
