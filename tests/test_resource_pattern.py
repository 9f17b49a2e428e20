"""One pattern for the commands that write: every write takes --dry-run, sends nothing with it (GETs only, to
find what it acts on) and names the request it would send; the request it names is the one it sends without
--dry-run. Every delete (geofence, tag, audio file, workflow) runs the same flow: refused without a terminal or
--yes before anything is sent, exit 3 naming the account and the listing command for an unknown id, asks on a
terminal, prints the deleted item with --json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from test_audio import wav_bytes

from conftest import API, SUB, answering, clean, sent, stored_workflow

USER = "990007560045678"
HOOK = stored_workflow("wf-03", "hook", {"on_http": "POST"}, install=["d1"])
HOOK["config"]["trigger"]["start"]["workflow"]["args"] = {"greeting": "hi", "volume": 2}
GEOFENCE = {"geofence_id": "gf-1", "label": "office", "address": "1 Main St", "radius": 100}
TAG = {"tag_id": "t-1", "uid": "", "content": {"type": "custom", "category": "rooms", "label": "r101"}}
AUDIO = {"id": "au-1", "short_name": "welcome", "audio_format": "wave"}
INSTANCE = {"instance_id": "i-1", "workflow_id": "wf-03", "triggering_user_id": USER, "workflow_uri": "wss://x/hook"}


def _write_answer(request: httpx.Request) -> httpx.Response:
    """What the server answers a write: the saved object where the client reads one, else 204."""
    path = request.url.path
    if request.method == "POST" and path == "/ibot/workflow":
        body = json.loads(request.content)
        return httpx.Response(200, json=[{"workflow_id": "wf-9", **body, "config": json.dumps(body["config"])}])
    if request.method == "POST" and path == "/ibot/geofence":
        return httpx.Response(200, json={"geofence_id": "gf-2", **json.loads(request.content)})
    if request.method == "POST" and path == "/ibot/relay_nfc_tag":
        return httpx.Response(200, json={"tag_id": "t-9", **json.loads(request.content)})
    if request.method == "POST":
        return httpx.Response(200, json={})
    return httpx.Response(204)


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        mock.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": [HOOK]}))
        mock.get("/ibot/geofence").mock(return_value=httpx.Response(200, json={"results": [GEOFENCE]}))
        mock.get("/ibot/relay_nfc_tag/t-1").mock(return_value=httpx.Response(200, json=TAG))
        mock.get("/ibot/relay_nfc_tag/nope").mock(return_value=httpx.Response(404, json={"error": "not_found"}))
        mock.get("/ibot/custom_audio").mock(return_value=httpx.Response(200, json=[AUDIO]))  # a bare list
        mock.get("/ibot/workflow_instances").mock(return_value=httpx.Response(200, json=[INSTANCE]))
        mock.route(method__in=["POST", "PUT", "DELETE", "PATCH"]).mock(side_effect=_write_answer)
        yield mock


@pytest.fixture
def sound(tmp_path: Path) -> Path:
    path = tmp_path / "welcome.wav"
    path.write_bytes(wav_bytes())
    return path


def writes(api: Any) -> list[tuple[str, str, dict[str, str], Any]]:
    """The requests that were not GETs: (method, path, query, JSON body or None)."""
    out = []
    for call in api.calls:
        request = call.request
        if request.method != "GET":
            body = json.loads(request.content) if request.content else None
            out.append((request.method, request.url.path, dict(request.url.params), body))
    return out


SAVE = ("POST", "/ibot/workflow", {})
#: (argv without -s, the request it makes: method, path, extra query; the body it sends (None: a DELETE, whose dry run
#: prints the item it would delete instead: the last element), whether it asks (so the real run needs --yes))
WRITES = [
    pytest.param(
        ["geofence", "create", "-n", "dock", "-t", "1", "-g", "2", "-r", "5"],
        ("POST", "/ibot/geofence", {}),
        {"label": "dock", "lat": 1.0, "long": 2.0, "radius": 5},
        False,
        id="geofence create",
    ),
    pytest.param(
        ["geofence", "delete", "gf-1"], ("DELETE", "/ibot/geofence/gf-1", {}), GEOFENCE, True, id="geofence delete"
    ),
    pytest.param(
        ["tag", "create", "-c", "rooms", "-l", "r102", "-a", "floor=1"],
        ("POST", "/ibot/relay_nfc_tag", {}),
        {"content": {"type": "custom", "category": "rooms", "label": "r102", "floor": "1"}},
        False,
        id="tag create",
    ),
    pytest.param(
        ["tag", "update", "-t", "t-1", "-c", "rooms", "-l", "r201"],
        ("PUT", "/ibot/relay_nfc_tag/t-1", {}),
        {"content": {"type": "custom", "category": "rooms", "label": "r201"}},
        False,
        id="tag update",
    ),
    pytest.param(["tag", "delete", "t-1"], ("DELETE", "/ibot/relay_nfc_tag/t-1", {}), TAG, True, id="tag delete"),
    pytest.param(
        ["audio", "delete", "au-1"], ("DELETE", "/ibot/custom_audio/au-1", {}), AUDIO, True, id="audio delete"
    ),
    pytest.param(
        ["workflow", "delete", "-w", "hook"], ("DELETE", "/ibot/workflow/wf-03", {}), HOOK, True, id="workflow delete"
    ),
    pytest.param(
        ["workflow", "install", "-w", "hook", "-i", "d9"],
        SAVE,
        {**HOOK, "install": ["d1", "d9"]},
        False,
        id="workflow install",
    ),
    pytest.param(
        ["workflow", "uninstall", "-w", "hook", "-i", "d1"],
        SAVE,
        {**HOOK, "install": []},
        False,
        id="workflow uninstall",
    ),
    pytest.param(["workflow", "args", "set", "-w", "hook", "-a", "mood=calm"], SAVE, None, False, id="args set"),
    pytest.param(["workflow", "args", "unset", "-w", "hook", "volume"], SAVE, None, False, id="args unset"),
    pytest.param(
        ["workflow", "trigger", "-w", "hook", "-u", USER, "-a", "order=12", "-r", "n=2"],
        ("POST", "/ibot/workflow/wf-03", {"user_id": USER}),
        {"action": "invoke", "target_device_ids": [USER], "action_args": {"order": "12", "n": 2}},
        False,
        id="workflow trigger",
    ),
    pytest.param(
        ["workflow", "create", "http", "-n", "hook2", "-u", "wss://x/h"], SAVE, None, False, id="workflow create"
    ),
]


@pytest.mark.parametrize(("argv", "request_", "body", "asks"), WRITES)
def test_dry_run_sends_nothing_names_the_request_and_tells_the_truth(
    run: Any, api: Any, argv: list[str], request_: tuple[str, str, dict[str, str]], body: Any, asks: bool
) -> None:
    method, path, extra = request_
    query = {"subscriber_id": SUB, **extra}
    shown_query = "&".join(f"{k}={v}" for k, v in query.items())

    dry = run(*argv, "-s", SUB, "--dry-run")
    assert dry.code == 0, dry.err
    assert all(m == "GET" for m, _, _ in sent(api)), sent(api)
    assert "Dry run, nothing sent. " in dry.err and f": {method} {API}{path}?{shown_query}\n" in dry.err
    printed = dry.json()
    if body is not None:
        assert printed == body
    clean(dry)

    api.reset()
    quiet = run(*argv, "-s", SUB, "--dry-run", "--json")
    assert quiet.code == 0, quiet.err
    assert (quiet.json(), quiet.err) == (printed, "")
    assert writes(api) == []

    api.reset()
    real = run(*argv, "-s", SUB, *(["--yes"] if asks else []))
    assert real.code == 0, real.err
    [(m, p, q, sent_body)] = writes(api)
    assert (m, p, q) == (method, path, query)
    # the body the dry run printed is the body sent; a DELETE has none, and its dry run printed the item
    assert sent_body == (None if method == "DELETE" else printed)


def test_audio_create_dry_run_names_both_requests_and_sends_nothing(run: Any, api: Any, sound: Path) -> None:
    result = run("audio", "create", "-n", "welcome", "-f", str(sound), "-s", SUB, "-N")
    assert result.code == 0, result.err
    assert writes(api) == []
    assert result.json() == {"audio_format": "wave", "subscriber_id": SUB, "short_name": "welcome"}
    assert result.err == (
        f"Dry run, nothing sent. Would upload {sound} (1644 bytes, PCM, 1 ch, 8000 Hz, 16-bit, 0.1 s), then PUT "
        f"it to the upload URL the answer names: POST {API}/ibot/custom_audio?subscriber_id={SUB}\n"
    )


def test_instance_stop_dry_run_names_each_request_and_draws_the_instances(run: Any, api: Any) -> None:
    result = run("workflow", "instance", "stop", "-w", "hook", "-N", "-s", SUB)
    assert result.code == 0, result.err
    assert writes(api) == []
    assert result.err == (
        f"Dry run, nothing sent. Would stop 1 workflow instance in account {SUB}:\n"
        f"  DELETE {API}/ibot/workflow_instances/i-1?subscriber_id={SUB}\n"
    )
    assert result.out == (
        "INSTANCE  WORKFLOW  USER             URI           STATUS\n"
        f"i-1       wf-03     {USER}  wss://x/hook  running\n"
    )


def test_instance_stop_takes_the_reference_confirm_and_wait_flags(run: Any, api: Any) -> None:
    """The reference's `instance stop` has -C/--confirm (skip the prompt) and -W/--wait (--no-wait)."""
    result = run("workflow", "instance", "stop", "-i", "i-1", "-C", "--no-wait", "-s", SUB)
    assert result.code == 0, result.err
    assert writes(api) == [("DELETE", "/ibot/workflow_instances/i-1", {"subscriber_id": SUB}, None)]
    api.reset()
    result = run("workflow", "instance", "stop", "-i", "i-1", "-W", "-N", "-s", SUB)
    assert result.code == 0, result.err
    assert writes(api) == []


# --- the one delete flow ---------------------------------------------------------------------------------

#: (the delete command with the id of an existing item, the same with an unknown id, the item, the noun and listing
#: a not-found error names, the id flag)
DELETES = [
    pytest.param(["geofence", "delete", "gf-1"], ["geofence", "delete", "nope"], GEOFENCE, "geofence gf-1 (office)",
                 "error: no geofence 'nope' in account SUB\nhint: `relay geofence list` shows them\n", id="geofence"),
    pytest.param(["tag", "delete", "t-1"], ["tag", "delete", "nope"], TAG, "tag t-1 (r101)",
                 "error: no tag 'nope' in account SUB\nhint: `relay tag list` shows them\n", id="tag"),
    pytest.param(["audio", "delete", "au-1"], ["audio", "delete", "nope"], AUDIO, "audio file au-1 (welcome)",
                 "error: no audio file 'nope' in account SUB\nhint: `relay audio list` shows them\n", id="audio"),
    pytest.param(["workflow", "delete", "-w", "hook"], ["workflow", "delete", "-w", "nope"], HOOK, "workflow hook (wf-03)",
                 "error: no workflow with id or name 'nope' in account SUB\nhint: `relay workflow list` shows the workflows\n",
                 id="workflow"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "unknown", "item", "what", "not_found"), DELETES)
def test_delete_without_a_terminal_needs_yes_before_anything_is_sent(
    run: Any, api: Any, argv: list[str], unknown: list[str], item: Any, what: str, not_found: str
) -> None:
    result = run(*argv, "-s", SUB)
    assert (result.code, result.out) == (2, "")
    assert sent(api) == []
    assert result.err == "error: --yes: no terminal to confirm on; pass --yes to delete without asking\n"


@pytest.mark.parametrize(("argv", "unknown", "item", "what", "not_found"), DELETES)
def test_delete_of_an_unknown_id_is_exit_3_naming_the_account_and_the_listing(
    run: Any, api: Any, argv: list[str], unknown: list[str], item: Any, what: str, not_found: str
) -> None:
    for extra in (["--yes"], ["--dry-run"]):
        api.reset()
        result = run(*unknown, "-s", SUB, *extra)
        assert (result.code, result.out, result.err) == (3, "", not_found)
        assert writes(api) == [] and len(sent(api)) == 1


@pytest.mark.parametrize(("argv", "unknown", "item", "what", "not_found"), DELETES)
def test_delete_asks_on_a_terminal_and_a_no_deletes_nothing(
    run: Any, api: Any, argv: list[str], unknown: list[str], item: Any, what: str, not_found: str
) -> None:
    result = run(*argv, "-s", SUB, out=answering("n\n"))
    assert (result.code, result.out) == (0, "")
    assert result.err == f"Delete {what} from account SUB? [y/N]: Not deleted.\n"
    assert writes(api) == []
    result = run(*argv, "-s", SUB, out=answering("y\n"))
    assert result.code == 0, result.err
    assert result.err == f"Delete {what} from account SUB? [y/N]: Deleted {what}\n"
    assert len(writes(api)) == 1


@pytest.mark.parametrize(("argv", "unknown", "item", "what", "not_found"), DELETES)
def test_delete_json_prints_the_deleted_item(
    run: Any, api: Any, argv: list[str], unknown: list[str], item: Any, what: str, not_found: str
) -> None:
    result = run(*argv, "-s", SUB, "--yes", "--json")
    assert result.code == 0, result.err
    deleted = result.json()
    assert deleted.pop("deleted") is True
    if "config" in item:  # a workflow: as the client sees it (its config parsed)
        assert deleted["workflow_id"] == item["workflow_id"] and deleted["name"] == item["name"]
    else:
        assert deleted == item
    assert result.err == ""


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["geofence", "delete", "gf 1"], "--id"),
        (["audio", "delete", "-i", "au\t1"], "--id"),
        (["tag", "delete", "-t", " "], "--tag-id"),
        (["tag", "update", "t-1", "-t", "t-2", "-c", "a", "-l", "b"], "--tag-id"),
        (["geofence", "delete", "gf-1", "-i", "gf-2"], "--id"),
    ],
)
def test_a_bad_id_is_exit_2_naming_the_flag_and_nothing_is_sent(run: Any, api: Any, argv: list[str], flag: str) -> None:
    result = run(*argv, "--yes" if "delete" in argv else "-N", "-s", SUB)
    assert (result.code, result.out) == (2, "")
    assert sent(api) == []
    assert result.err.startswith(f"error: {flag}: ") and len(result.err.splitlines()) == 1


def test_tag_update_of_an_unknown_id_is_exit_3_and_sends_no_put(run: Any, api: Any) -> None:
    result = run("tag", "update", "nope", "-c", "rooms", "-l", "x", "-s", SUB)
    assert (result.code, result.out) == (3, "")
    assert result.err == "error: no tag 'nope' in account SUB\nhint: `relay tag list` shows them\n"
    assert sent(api) == [("GET", "/ibot/relay_nfc_tag/nope", {"subscriber_id": SUB})]


def test_tag_short_t_is_the_tag_id_only(run: Any, api: Any) -> None:
    """`-t` is --tag-id in every `relay tag` command; --type is long only (README: "differs on purpose")."""
    result = run("tag", "create", "-c", "rooms", "-l", "x", "-t", "custom", "-s", SUB)
    assert result.code == 2 and sent(api) == []
    assert result.err.startswith("error: No such option: -t")
    result = run("tag", "create", "-c", "rooms", "-l", "x", "--type", "user_profile", "-s", SUB, "-N", "--json")
    assert result.json() == {"content": {"type": "user_profile", "category": "rooms", "label": "x"}}
