"""``relay api PATH``: raw requests to the Relay API through the one client — where they go (and never go),
fields, typed fields, --input, headers, placeholders, -i, --paginate, exit codes and redaction; against respx,
the in-process sandbox and `relay server`."""

from __future__ import annotations

import base64
import io
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from conftest import API, SUB, TOKEN, clean, sent
from wsapps import Apps, serving


def request_body(api: Any, index: int = -1) -> Any:
    return json.loads(api.calls[index].request.content)


@pytest.fixture
def api() -> Iterator[Any]:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        mock.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": []}))
        mock.post("/ibot/relay_nfc_tag").mock(return_value=httpx.Response(200, json={"tag_id": "t-1"}))
        mock.get("/ibot/authz_context").mock(return_value=httpx.Response(200, json=[{"subscriber_id": "DEFAULT"}]))
        yield mock


# --- where it goes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "sent_path", "query"),
    [
        ("workflow", "/ibot/workflow", {}),  # relative: under /ibot/, as the reference CLI's api
        ("/ibot/workflow", "/ibot/workflow", {}),  # absolute: as given
        ("workflow?subscriber_id={subscriber_id}", "/ibot/workflow", {"subscriber_id": SUB}),
        (f"{API}/ibot/workflow?subscriber_id=S2", "/ibot/workflow", {"subscriber_id": "S2"}),  # the API's own host
    ],
)
def test_get_goes_to_the_api_host(run: Any, api: Any, path: str, sent_path: str, query: dict[str, str]) -> None:
    result = run("api", path, "-s", SUB)
    assert (result.code, result.out, result.err) == (0, '{\n  "results": []\n}\n', "")
    assert sent(api) == [("GET", sent_path, query)]
    assert api.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (
            "https://evil.example.com/ibot/workflow",
            f"error: PATH: https://evil.example.com/ibot/workflow is not on the API's host ({API}): relay sends your "
            "credentials only there; give a path on it, e.g. /ibot/workflow",
        ),
        (
            "http://all-main-pro-ibot.relaysvr.com/ibot/workflow",  # the same host, another scheme (and port)
            "error: PATH: http://all-main-pro-ibot.relaysvr.com/ibot/workflow is not on the API's host "
            f"({API}): relay sends your credentials only there; give a path on it, e.g. /ibot/workflow",
        ),
        ("//evil.example.com/x", "error: PATH: expected a path, got '//evil.example.com/x', which names a host"),
        (
            "ftp://all-main-pro-ibot.relaysvr.com/x",
            f"error: PATH: ftp://all-main-pro-ibot.relaysvr.com/x is not on the API's host ({API}): relay sends "
            "your credentials only there; give a path on it, e.g. /ibot/workflow",
        ),
        ("/ibot/\\evil", "error: PATH: expected a path with / between its parts, got '/ibot/\\\\evil'"),
        ("work flow", "error: PATH: expected a path without spaces or control characters, got 'work flow'"),
    ],
)
def test_another_host_is_refused_before_anything_is_sent(run: Any, api: Any, path: str, line: str) -> None:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as anywhere:
        result = run("api", path, "-s", SUB)
    assert (result.code, result.out, result.err) == (2, "", line + "\n")
    assert api.calls.call_count == 0 and anywhere.calls.call_count == 0


def test_a_foreign_host_is_refused_before_the_default_account_is_asked(run: Any, api: Any) -> None:
    result = run("api", "https://evil.example.com/ibot/subscriber/{subscriber_id}/device_ids")
    assert result.code == 2
    assert api.calls.call_count == 0


# --- fields, typed fields, input, headers -------------------------------------------------------------


def test_fields_make_a_json_body_and_a_post(run: Any, api: Any, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("room 12\n", encoding="utf-8")
    result = run(
        "api", "relay_nfc_tag?subscriber_id={subscriber_id}", "-s", SUB,
        "-f", "content[category]=tasks", "-f", "content[label]=007", "-f", "raw=true",
        "-F", "count=3", "-F", "ratio=2.5", "-F", "on=true", "-F", "off=false", "-F", "none=null", "-F", "hex=0x10",
        "-F", "tags[]=a", "-F", "tags[]=b", "-F", f"text=@{note}", "-F", "owner={subscriber_id}",
        "-F", "eq=a=b",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert sent(api) == [("POST", "/ibot/relay_nfc_tag", {"subscriber_id": SUB})]
    assert request_body(api) == {
        "content": {"category": "tasks", "label": "007"},  # -f: strings, whatever they look like
        "raw": "true",
        "count": 3,
        "ratio": 2.5,
        "on": True,
        "off": False,
        "none": None,
        "hex": "0x10",
        "tags": ["a", "b"],
        "text": "room 12\n",  # @FILE: the file's text
        "owner": SUB,  # a placeholder, filled in: a string
        "eq": "a=b",  # the value is everything after the first '='
    }
    assert api.calls[0].request.headers["Content-Type"] == "application/json"
    assert result.out == '{\n  "tag_id": "t-1"\n}\n'


def test_fields_of_a_get_are_its_query(run: Any, api: Any) -> None:
    result = run("api", "workflow", "-X", "get", "-f", "subscriber_id=S1", "-F", "limit=5", "-F", "all=true")
    assert result.code == 0, result.err
    assert sent(api) == [("GET", "/ibot/workflow", {"subscriber_id": "S1", "limit": "5", "all": "true"})]
    assert api.calls[0].request.content == b""


def test_input_is_the_body_as_it_is_and_fields_go_to_the_query(
    run: Any, api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    route = api.put("/ibot/relay_nfc_tag/t-1").mock(return_value=httpx.Response(204))
    raw = b'{"content": {"category": "c",   "label": "l"}}'
    (tmp_path / "tag.json").write_bytes(raw)
    result = run(
        "api", "relay_nfc_tag/t-1", "-X", "PUT", "--input", str(tmp_path / "tag.json"), "-f", "subscriber_id=S1"
    )
    assert (result.code, result.out, result.err) == (0, "", "")
    assert route.calls[0].request.content == raw
    assert dict(route.calls[0].request.url.params) == {"subscriber_id": "S1"}
    assert route.calls[0].request.headers["Content-Type"] == "application/json"

    monkeypatch.setattr("sys.stdin", io.StringIO('{"from": "stdin"}'))
    text = run("api", "relay_nfc_tag/t-1", "-X", "PUT", "--input", "-", "-H", "Content-Type: text/plain")
    assert text.code == 0, text.err
    assert route.calls[1].request.content == b'{"from": "stdin"}'
    assert route.calls[1].request.headers["Content-Type"] == "text/plain"


def test_headers_in_both_spellings(run: Any, api: Any) -> None:
    result = run("api", "workflow", "-H", "X-Trace: a=b", "-H", "X-Other=c:d")
    assert result.code == 0, result.err
    headers = api.calls[0].request.headers
    assert (headers["X-Trace"], headers["X-Other"]) == ("a=b", "c:d")


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["-X", "PSOT"],
            "error: --method: expected one of GET, POST, PUT, PATCH, DELETE, got 'PSOT'; did you mean 'POST'?",
        ),
        (["-f", "novalue"], "error: --raw-field: expected KEY=VALUE, got 'novalue'"),
        (["-F", "=1"], "error: --field: expected KEY=VALUE, got '=1'"),
        (["-F", "a=1", "-F", "a[b]=2"], "error: --field: 'a[b]': 'a' is given both as a value and as an object"),
        (["-F", "a[]=1", "-F", "a[b]=2"], "error: --field: 'a[b]' mixes an array with an object"),
        (["-F", "a[b]=2", "-F", "a=1"], "error: --field: 'a': 'a' is given both as a value and as an object"),
        (["-F", "a]=1"], "error: --field: expected a key such as name, name[sub] or name[], got 'a]'"),
        (["-F", "x=@missing.json"], "error: --field: cannot read missing.json: No such file or directory"),
        (
            ["--input", "missing.json", "-X", "POST"],
            "error: --input: cannot read missing.json: No such file or directory",
        ),
        (
            ["--input", "-", "-X", "GET"],
            "error: --input: --input is a request body, which a GET does not have; add -X POST (or PUT)",
        ),
        (
            ["-H", "no header"],
            "error: --header: expected NAME:VALUE such as 'Accept: application/json', got 'no header'",
        ),
        (["-X", "POST", "--paginate"], "error: --paginate: only a GET pages; this is a POST"),
        (["--paginate", "-i"], "error: --include: -i shows one answer's status and headers; --paginate joins several"),
        (
            ["-F", "owner={subscriberId}"],
            "error: --field: unknown placeholder {subscriberId}; did you mean {subscriber_id}? (known: {subscriber_id}, {user_id})",
        ),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_bad_input_is_one_line_and_sends_nothing(
    run: Any, api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], line: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("api", "workflow", *args)
    assert (result.code, result.out, result.err) == (2, "", line + "\n")
    assert api.calls.call_count == 0


# --- placeholders -------------------------------------------------------------------------------------


def jwt(claims: dict[str, Any]) -> str:
    part = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJub25lIn0.{part}.c2ln"


def test_placeholders_are_the_account_and_the_user(run: Any, api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    token = jwt({"preferred_username": "u-42"})
    monkeypatch.setenv("RELAY_API_KEY", token)
    route = api.get("/ibot/subscriber/DEFAULT/user/u-42").mock(return_value=httpx.Response(200, json={"ok": True}))
    result = run("api", "subscriber/{subscriber_id}/user/{user_id}")  # no account configured: the server's default
    assert (result.code, result.out) == (0, '{\n  "ok": true\n}\n'), result.err
    assert route.called
    assert [c.request.url.path for c in api.calls] == ["/ibot/authz_context", "/ibot/subscriber/DEFAULT/user/u-42"]
    assert token not in result.out + result.err


def test_a_user_id_that_the_login_does_not_name(run: Any, api: Any) -> None:
    result = run("api", "user/{user_id}")
    assert (result.code, result.err) == (
        2, "error: PATH: {user_id} cannot be filled in: the login names no user id; write the id instead\n"
    )  # fmt: skip
    assert api.calls.call_count == 0


# --- output: -i, the body, exit codes -------------------------------------------------------------------


def test_include_prints_the_status_line_and_headers(run: Any, api: Any) -> None:
    api.get("/ibot/groups").mock(
        return_value=httpx.Response(200, json=[], headers={"X-Request-Id": "r-1", "Content-Type": "application/json"})
    )
    result = run("api", "groups", "-i")
    assert result.code == 0, result.err
    head, body = result.out.split("\n\n", 1)
    lines = head.splitlines()
    assert lines[0] == "HTTP/1.1 200 OK"
    assert "X-Request-Id: r-1" in lines[1:] and "Content-Type: application/json" in lines[1:]
    assert body == "[]\n"


def test_a_body_that_is_not_json_is_printed_as_it_came(run: Any, api: Any) -> None:
    api.get("/ibot/ping").mock(return_value=httpx.Response(200, text="pong\n", headers={"Content-Type": "text/plain"}))
    result = run("api", "ping")
    assert (result.code, result.out) == (0, "pong\n")


@pytest.mark.parametrize(
    ("status", "code", "line"),
    [
        (
            401,
            4,
            "error: the Relay API refused GET /ibot/x: token expired (unauthorized) (HTTP 401): the key in "
            "RELAY_API_KEY is invalid or expired",
        ),
        (403, 4, "error: the Relay API refused GET /ibot/x: token expired (unauthorized) (HTTP 403)"),
        (404, 3, "error: the Relay API refused GET /ibot/x: token expired (unauthorized) (HTTP 404)"),
        (400, 1, "error: the Relay API refused GET /ibot/x: token expired (unauthorized) (HTTP 400)"),
        (500, 1, "error: the Relay API refused GET /ibot/x: token expired (unauthorized) (HTTP 500)"),
    ],
)
def test_an_error_status_prints_the_body_and_exits_as_everywhere(
    run: Any, api: Any, status: int, code: int, line: str
) -> None:
    answer = {"error": "unauthorized", "message": "token expired"}
    api.get("/ibot/x").mock(return_value=httpx.Response(status, json=answer))
    result = run("api", "x")
    assert result.code == code
    assert json.loads(result.out) == answer
    assert result.err.splitlines()[0] == line
    clean(result)


def test_verbose_redacts_the_credentials(run: Any, api: Any) -> None:
    api.post("/ibot/workflow").mock(return_value=httpx.Response(200, json=[{"workflow_id": "wf-1"}]))
    result = run("-v", "api", "workflow", "-H", "X-Api-Key: k-secret-1", "-f", "password=p-secret-2")
    clean(result)
    assert "k-secret-1" not in result.err and "p-secret-2" not in result.err
    assert "> POST https://all-main-pro-ibot.relaysvr.com/ibot/workflow [authorization: Bearer ***" in result.err


# --- --paginate --------------------------------------------------------------------------------------


def pages(request: httpx.Request) -> httpx.Response:
    cursor = request.url.params.get("cursor")
    data = {None: ([{"id": 1}, {"id": 2}], "c1"), "c1": ([{"id": 3}], "c2"), "c2": ([{"id": 4}], "")}[cursor]
    return httpx.Response(200, json={"data": data[0], "cursor": data[1], "total": 4})


def test_paginate_follows_the_cursor_and_joins_the_events(run: Any, api: Any) -> None:
    route = api.get("/ibot/workflow_analytics_events").mock(side_effect=pages)
    result = run("api", "workflow_analytics_events", "-f", "subscriber_id=S1", "-F", "limit=2", "--paginate")
    assert result.code == 0, result.err
    assert result.json() == {"data": [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}], "cursor": None, "total": 4}
    assert [dict(c.request.url.params) for c in route.calls] == [
        {"subscriber_id": "S1", "limit": "2"},
        {"subscriber_id": "S1", "limit": "2", "cursor": "c1"},
        {"subscriber_id": "S1", "limit": "2", "cursor": "c2"},
    ]


def test_paginate_from_a_given_cursor_and_of_an_answer_that_does_not_page(run: Any, api: Any) -> None:
    route = api.get("/ibot/audit").mock(side_effect=pages)
    result = run("api", "audit?cursor=c1", "--paginate")
    assert result.json()["data"] == [{"id": 3}, {"id": 4}]
    assert [c.request.url.params.get("cursor") for c in route.calls] == ["c1", "c2"]
    plain = run("api", "workflow", "--paginate")  # not a page: printed as it came
    assert (plain.code, plain.out) == (0, '{\n  "results": []\n}\n')


def test_paginate_stops_on_a_cursor_loop(run: Any, api: Any) -> None:
    api.get("/ibot/audit").mock(return_value=httpx.Response(200, json={"data": [{"id": 1}], "cursor": "same"}))
    result = run("api", "audit", "--paginate")
    assert result.code == 1
    assert result.out == ""
    assert "sent the analytics cursor 'same' twice" in result.err


# --- the sandbox and relay server -------------------------------------------------------------------


LOCAL = ("--profile", "local")


def test_on_the_in_process_sandbox(run: Any, tmp_path: Path) -> None:
    body = {
        "name": "hook",
        "options": {"transient": True, "hidden": False},
        "config": {"trigger": {"start": {"workflow": {"uri": "wss://h.example.com/x", "args": {}}}, "on_http": "POST"}},
        "install": [],
    }
    (tmp_path / "wf.json").write_text(json.dumps(body), encoding="utf-8")
    created = run(
        *LOCAL, "api", "workflow?subscriber_id={subscriber_id}", "-X", "POST", "--input", str(tmp_path / "wf.json")
    )
    assert created.code == 0, created.err
    workflow_id = created.json()[0]["workflow_id"]
    listed = run(*LOCAL, "api", "workflow?subscriber_id={subscriber_id}")
    assert [w["name"] for w in listed.json()["results"]] == ["hook"]
    devices = run(*LOCAL, "api", "subscriber/{subscriber_id}/device_ids")
    assert devices.json()["devices"][0] == "990007560045678"
    deleted = run(*LOCAL, "api", f"workflow/{workflow_id}?subscriber_id=demo-account", "-X", "DELETE")
    assert (deleted.code, deleted.out) == (0, "")
    missing = run(*LOCAL, "api", "nosuch")
    assert missing.code == 3
    assert json.loads(missing.out)["error"] == "not_found"
    nobody = run(*LOCAL, "api", "user/{user_id}")
    assert (
        nobody.err
        == "error: PATH: {user_id} cannot be filled in: the local sandbox has no user; write the id instead\n"
    )


def test_against_relay_server(run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from relay_cli.local.server import close_server, make_server_for

    server = make_server_for(tmp_path / "server.db", port=0, token="tok-9f2")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("RELAY_HOST", server.base_url)
        monkeypatch.setenv("RELAY_API_KEY", "tok-9f2")
        groups = run("api", "groups?subscriber_id={subscriber_id}", "-i")
        assert groups.code == 0, groups.err
        assert groups.out.startswith("HTTP/1.0 200 OK\n") or groups.out.startswith("HTTP/1.1 200 OK\n")
        assert '"name": "Front desk"' in groups.out
        other = run("api", "https://all-main-pro-ibot.relaysvr.com/ibot/groups")
        assert other.code == 2  # the production host is not this profile's target
        monkeypatch.setenv("RELAY_API_KEY", "wrong")
        refused = run("api", "groups?subscriber_id=demo-account")
        assert refused.code == 4
        assert json.loads(refused.out) == {"error": "unauthorized", "message": "invalid token"}
        assert refused.err == (
            "error: the Relay API refused GET /ibot/groups: invalid token (unauthorized) (HTTP 401): the key in "
            "RELAY_API_KEY is invalid or expired\n"
            "hint: set RELAY_API_KEY to a valid API token, or unset it and run `relay login`\n"
        )
        assert "wrong" not in refused.out + refused.err
    finally:
        server.shutdown()  # serve_forever returns
        close_server(server)
        thread.join(timeout=5)


def test_dry_run_prints_the_request_and_sends_nothing(run: Any, api: Any) -> None:
    result = run("api", "relay_nfc_tag?subscriber_id={subscriber_id}", "-s", SUB, "-F", "n=1", "--dry-run")
    assert result.code == 0, result.err
    assert result.err == f"Dry run, nothing sent. Would send: POST {API}/ibot/relay_nfc_tag?subscriber_id={SUB}\n"
    assert result.out == '{\n  "n": 1\n}\n'
    assert api.calls.call_count == 0


def test_the_request_is_retried_as_every_request(run: Any, api: Any) -> None:
    route = api.get("/ibot/groups").mock(
        side_effect=[httpx.Response(503), httpx.Response(502), httpx.Response(200, json=[{"group_id": "g"}])]
    )
    result = run("api", "groups")
    assert (result.code, result.out) == (0, '[\n  {\n    "group_id": "g"\n  }\n]\n')
    assert route.call_count == 3


@pytest.mark.parametrize(
    ("fields", "body"),
    [
        ([("a", 1)], {"a": 1}),
        ([("a", 1), ("a", 2)], {"a": 2}),  # the last wins
        ([("a[b][c]", "x")], {"a": {"b": {"c": "x"}}}),
        ([("a[]", 1), ("a[]", 2)], {"a": [1, 2]}),
        ([("a[][x]", 1), ("a[][y]", 2)], {"a": [{"x": 1, "y": 2}]}),  # one object, as gh api makes it
        ([("a[][x]", 1), ("a[][x]", 2)], {"a": [{"x": 1}, {"x": 2}]}),  # a key again: the next object
    ],
)
def test_nested_keys(fields: list[tuple[str, Any]], body: dict[str, Any]) -> None:
    from relay_cli.core.rawapi import nest

    assert nest([(key, value, "--field") for key, value in fields]) == body


@pytest.fixture(params=["in-process", "relay server"])
def sandbox(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, ...]]:
    """The global options that select a sandbox: the in-process one, or `relay server` on loopback."""
    if request.param == "in-process":
        yield LOCAL
        return
    from relay_cli.local.server import close_server, make_server_for

    server = make_server_for(tmp_path / "server.db", port=0, token="tok-3c1")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("RELAY_HOST", server.base_url)
    monkeypatch.setenv("RELAY_API_KEY", "tok-3c1")
    try:
        yield ()
    finally:
        server.shutdown()
        close_server(server)
        thread.join(timeout=5)


@pytest.fixture
def apps() -> Iterator[Apps]:
    with serving() as served:
        yield served


def test_every_endpoint_of_the_sandbox(run: Any, tmp_path: Path, sandbox: tuple[str, ...], apps: Apps) -> None:
    """One `relay api` line per route the sandbox serves (relay_cli/local/handlers.py ROUTES), each answered 2xx,
    in-process and over HTTP: a new route fails this test until it has its line."""
    from relay_cli.local.handlers import ROUTES

    q = "?subscriber_id={subscriber_id}"

    def workflow(name: str, trigger: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": name,
            "options": {"transient": True, "hidden": False},
            "config": {"trigger": {"start": {"workflow": {"uri": apps.uri("/terminate"), "args": {}}}, **trigger}},
            "install": ["990007560045678"],
        }

    (tmp_path / "wf.json").write_text(json.dumps(workflow("hook", {"on_http": "POST"})), encoding="utf-8")
    (tmp_path / "sos.json").write_text(json.dumps(workflow("sos", {"on_device_event": "emergency"})), encoding="utf-8")
    timer = workflow("now", {"on_timer": {"start_time": "immediately"}})
    (tmp_path / "now.json").write_text(json.dumps(timer), encoding="utf-8")
    (tmp_path / "a.wav").write_bytes(b"RIFF....WAVE")
    covered: set[str] = set()

    def api(route: str, *args: str) -> Any:
        result = run(*sandbox, "api", *args)
        assert result.code == 0, (route, result.err)
        covered.add(route)
        try:
            return json.loads(result.out) if result.out.strip() else None
        except ValueError:
            return result.out

    wid = api("POST /ibot/workflow", f"workflow{q}", "--input", str(tmp_path / "wf.json"))[0]["workflow_id"]
    api("GET /ibot/workflow", f"workflow{q}")
    api(
        "POST /ibot/workflow/{workflow_id}", f"workflow/{wid}{q}&user_id=990007560045678",
        "-f", "action=invoke", "-f", "target_device_ids[]=990007560045678",
    )  # fmt: skip
    # the trigger ran the conversation (its app terminates); one in progress, as a longer one leaves it, to stop
    from relay_cli.local.store import SandboxStore

    store = SandboxStore(tmp_path / ("data/sandbox.db" if sandbox == LOCAL else "server.db"))
    deadline = time.monotonic() + 5  # relay server answers the trigger once the app has its START
    while store.list_instances("demo-account") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.trigger("demo-account", wid, "990007560045678") is not None
    instances = api("GET /ibot/workflow_instances", f"workflow_instances{q}")
    assert len(instances) == 1
    for instance in instances:
        api(
            "DELETE /ibot/workflow_instances/{instance_id}",
            f"workflow_instances/{instance['instance_id']}{q}",
            "-X",
            "DELETE",
        )
    if sandbox == LOCAL:  # in-process, the log stream ends after what is logged so far
        api("GET /ibot/workflowdebug", f"workflowdebug{q}")
    else:  # over HTTP it lasts as long as one watches (`relay workflow logs`): here, until the deadline
        stream = run("--timeout", "0.5", "api", f"workflowdebug{q}")
        assert (stream.code, stream.err.splitlines()[0]) == (
            1,
            f"error: {os.environ['RELAY_HOST']} did not answer within 0.5 s",
        )
        covered.add("GET /ibot/workflowdebug")
    api("GET /ibot/workflow_analytics_events", f"workflow_analytics_events{q}", "--paginate")
    api("DELETE /ibot/workflow/{workflow_id}", f"workflow/{wid}{q}", "-X", "DELETE")
    api("GET /ibot/subscriber/{subscriber_id}/device_ids", "subscriber/{subscriber_id}/device_ids")
    api("GET /ibot/groups", f"groups{q}")
    api("GET /ibot/subscriber_info/{subscriber_id}", "subscriber_info/{subscriber_id}")
    api("GET /ibot/authz_context", "authz_context")
    geofence = api(
        "POST /ibot/geofence", f"geofence{q}", "-f", "label=hq", "-F", "radius=50", "-f", "address=1 Main St"
    )
    api("GET /ibot/geofence", f"geofence{q}")
    gid = geofence.get("geofence_id") or geofence.get("id")
    api("DELETE /ibot/geofence/{geofence_id}", f"geofence/{gid}{q}", "-X", "DELETE")
    api("GET /ibot/indoor_venue", f"indoor_venue{q}")
    api("GET /ibot/indoor_position/{venue_id}", f"indoor_position/venue-hq{q}")
    content = ("-f", "content[type]=custom", "-f", "content[category]=tasks", "-f", "content[label]=desk")
    tag = api("POST /ibot/relay_nfc_tag", f"relay_nfc_tag{q}", *content)
    tid = tag.get("tag_id")
    api("GET /ibot/relay_nfc_tag", f"relay_nfc_tag{q}")
    api("GET /ibot/relay_nfc_tag/{tag_id}", f"relay_nfc_tag/{tid}{q}")
    api("PUT /ibot/relay_nfc_tag/{tag_id}", f"relay_nfc_tag/{tid}{q}", "-X", "PUT", *content)
    api("DELETE /ibot/relay_nfc_tag/{tag_id}", f"relay_nfc_tag/{tid}{q}", "-X", "DELETE")
    api("GET /ibot/user_profile", f"user_profile{q}")
    api("GET /ibot/audit", f"audit{q}", "--paginate")
    audio = api(
        "POST /ibot/custom_audio", f"custom_audio{q}",
        "-f", "audio_format=wave", "-F", "subscriber_id={subscriber_id}", "-f", "short_name=welcome",
    )  # fmt: skip
    upload = ("PUT /_sandbox/upload/custom_audio/{audio_id}", audio["s3_upload_url"], "-X", "PUT")
    if sandbox == LOCAL:  # the in-process sandbox signs an upload URL for the process that made it: refused here
        assert run(*LOCAL, "api", *upload[1:], "--input", str(tmp_path / "a.wav")).code == 4
        covered.add(upload[0])
    else:
        api(*upload, "--input", str(tmp_path / "a.wav"))
    api("GET /ibot/custom_audio", f"custom_audio{q}")
    api("DELETE /ibot/custom_audio/{audio_id}", f"custom_audio/{audio['result']['id']}{q}", "-X", "DELETE")
    # the sandbox's own: what it is, a device event and the due timers (each answer a stream of JSON lines)
    assert api("GET /_sandbox/info", "/_sandbox/info")["sandbox"] == "relay-sandbox"
    named = api("GET /_sandbox/devices", f"/_sandbox/devices{q}")["devices"]
    assert {"device_id": "990007560011111", "name": "Carol"} in named
    api("POST /ibot/workflow", f"workflow{q}", "--input", str(tmp_path / "sos.json"))
    fired = api("POST /_sandbox/events", f"/_sandbox/events{q}", "-f", "event=emergency", "-f", "device=Alice")
    assert json.loads(fired.splitlines()[-1]) == {"done": True}
    api("POST /ibot/workflow", f"workflow{q}", "--input", str(tmp_path / "now.json"))
    ticked = run(*sandbox, "api", f"/_sandbox/tick{q}", "-X", "POST")
    # relay server may have run the new timer by itself already: then nothing is due
    assert ticked.code == 0 or (sandbox != LOCAL and '"nothing_due"' in ticked.out), ticked.err
    covered.add("POST /_sandbox/tick")

    served = {f"{route.method} {route.pattern}" for route in ROUTES}
    assert served - covered == set(), "a route of the sandbox that `relay api` is not run against"
