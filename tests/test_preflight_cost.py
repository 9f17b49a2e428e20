"""What the preflight of `workflow create call` costs on a big account: it reads what its checks need, and no more.

- the install checks look at the devices and groups the new workflow is installed on, not at every device of the
  account, and find exactly what the rule finds (checked against the rule written plainly, on random accounts);
- of the configs the API sends as JSON text, only the call workflows' are parsed (a backslash, which could spell
  a key in an escape, gets a config parsed too), and one that is not JSON is refused all the same;
- the WebSocket handshake to the one URI of a create starts no asyncio.
(benchmarks/vs_reference.py times the create on 10,000 workflows against the reference CLI.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import respx
from hypothesis import given, settings, strategies as st
from test_preflight import WsServer

from relay_cli.api import shapes
from relay_cli.core import preflight, workflow as wf

from conftest import API, SUB, stored_workflow


def plain_install_findings(workflows: list[dict[str, Any]], only: set[str] | None) -> list[str]:
    """The install checks as first written: every device and group of the account, each clash then kept when it
    involves a workflow named in ``only``."""
    out: list[str] = []
    label = preflight._label  # the name a finding uses, the same on both sides
    calls = [(w, d) for w in workflows if (d := preflight.direction(w)) is not None]

    def wanted(*ws: dict[str, Any]) -> bool:
        return only is None or any(label(w) in only for w in ws)

    out += [f"all {label(w)}" for w, d in calls if wf.installed_on_all(w) and wanted(w)]
    for d in ("inbound", "outbound"):
        same = [w for w, dd in calls if dd == d]
        everywhere = [w for w in same if wf.installed_on_all(w)]
        places: dict[str, list[dict[str, Any]]] = {}
        for w in same:
            rule = w.get("install_rule")
            if rule and rule != wf.ALL_DEVICES:
                places.setdefault("g:" + rule, []).append(w)
        devices: dict[str, list[dict[str, Any]]] = {}
        for w in same:
            if not w.get("install_rule"):
                for device in w.get("install") or []:
                    devices.setdefault(device, []).append(w)
        clashes: dict[tuple[str, ...], list[str]] = {}
        for where, ws in (*devices.items(), *((k[2:], v) for k, v in places.items())):
            ws = ws + [e for e in everywhere if all(e is not x for x in ws)]
            if len(ws) > 1 and wanted(*ws):
                clashes.setdefault(tuple(label(w) for w in ws), []).append(where)
        if len(everywhere) > 1 and wanted(*everywhere):
            clashes.setdefault(tuple(label(w) for w in everywhere), []).append("all devices")
        out += [f"{d} {names} {where}" for names, where in clashes.items()]
    return out


def briefly(findings: list[preflight.Finding]) -> list[str]:
    return [
        f"all {f.workflows[0]}"
        if f.kind == "all_devices"
        else f"{f.detail['direction']} {f.workflows} {f.detail['devices']}"
        for f in findings
    ]


NAMES = st.sampled_from(["a", "b", "c", "d"])
WORKFLOW = st.fixed_dictionaries(
    {
        "name": NAMES,
        "trigger": st.sampled_from(["on_incoming_call", "on_call_request", "on_button"]),
        "where": st.one_of(
            st.lists(st.sampled_from(["d1", "d2", "d3"]), max_size=3),
            st.sampled_from([wf.ALL_DEVICES, wf.GROUP_PREFIX + "g1", wf.GROUP_PREFIX + "g2"]),
        ),
    }
)


@settings(max_examples=150, deadline=None)
@given(st.lists(WORKFLOW, max_size=8), st.one_of(st.none(), st.sets(NAMES, max_size=2)))
def test_the_install_checks_find_what_the_plain_rule_finds(drawn: list[dict[str, Any]], only: set[str] | None) -> None:
    account = []
    for i, w in enumerate(drawn):
        made = stored_workflow(f"wf_{i}", w["name"], {w["trigger"]: ".*"})
        del made["install"]
        if isinstance(w["where"], list):
            made["install"] = w["where"]
        else:
            made["install_rule"] = w["where"]
        account.append(made)
    assert briefly(preflight.install_findings(account, only=only)) == plain_install_findings(account, only)


def test_only_the_call_workflows_configs_are_parsed() -> None:
    listed = [
        stored_workflow("wf_1", "button", {"on_button": "action_button_double_tap"}),
        stored_workflow("wf_2", "call", {"on_incoming_call": ".*"}),
        stored_workflow("wf_3", "escaped", {"on_button": "action_button_single_tap"}),
        {**stored_workflow("wf_4", "broken"), "config": "not JSON at all"},
    ]
    for workflow in listed[:3]:
        workflow["config"] = json.dumps(workflow["config"])
    listed[2]["config"] = listed[2]["config"].replace("on_button", "on\\u005fbutton")
    done = shapes.parse_configs(listed, "results", holding=preflight.CALL_KEYS)
    assert isinstance(done[0]["config"], str)  # a button: not read by the checks, left as text
    assert [type(w["config"]) for w in done[1:3]] == [dict, dict]  # a call; an escape that could spell one
    assert preflight.direction(done[0]) is None and preflight.direction(done[1]) == "inbound"
    assert done[3]["config"] == "not JSON at all"  # holds no call key: nothing the checks read


def test_a_config_the_checks_read_that_is_not_json_is_still_refused(run: Any, monkeypatch: Any) -> None:
    """An inbound call workflow's config is read by the checks of an inbound create: one that is not JSON stops
    it before anything is sent, as when every config was parsed."""
    monkeypatch.delenv("RELAY_NO_CHECK")
    broken = {**stored_workflow("wf_1", "old"), "config": '{"trigger": {"on_incoming_call": '}
    with respx.mock(base_url=API, assert_all_called=False) as api:
        api.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": [broken]}))
        saved = api.post("/ibot/workflow").mock(return_value=httpx.Response(200, json=[]))
        result = run(
            "workflow", "create", "call", "--trigger", "inbound", "-n", "x", "-u", "wss://h/x", "-i", "d1", "-s", SUB
        )
    assert (result.code, saved.call_count) == (1, 0)
    assert "results[0].config is a string that is not JSON" in result.err


def test_the_handshake_of_a_create_starts_no_asyncio(tmp_path: Path) -> None:
    server = WsServer()
    try:
        script = (
            "import sys\n"
            "from relay_cli.__main__ import main\n"
            f"code = main(['-P', 'local', 'workflow', 'create', 'call', '-n', 'x', '-u', {server.uri()!r}, '-i', '990007560045678'])\n"
            "print(code, 'asyncio' in sys.modules)\n"
        )
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "RELAY_CONFIG_DIR": str(tmp_path / "config"),
               "RELAY_DATA_DIR": str(tmp_path / "data"), "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
        )
    finally:
        server.close()
    assert done.stdout.splitlines()[-1] == "0 False", done.stderr
    assert server.paths == ["/up"]  # the handshake was made


ACCOUNT = [
    stored_workflow("wf_1", "button", {"on_button": "action_button_double_tap"}),
    stored_workflow("wf_2", "inbound", {"on_incoming_call": ".*"}),
    stored_workflow("wf_3", "outbound", {"on_call_request": ".*"}),
    stored_workflow("wf_4", "x", {"on_phrases": ["a},{b"]}),  # a cut inside a string
]
WORDS = ('"x"', "on_incoming_call")


def test_a_plain_listing_is_read_for_the_workflows_that_hold_a_word_only() -> None:
    spaced = json.dumps({"results": ACCOUNT}).encode()
    assert shapes.scan_listing(spaced, WORDS) == ([ACCOUNT[1], ACCOUNT[3]], 4)
    compact = json.dumps({"results": ACCOUNT}, separators=(",", ":")).encode()
    assert shapes.scan_listing(compact, WORDS) is None  # the phrase "a},{b" would cut a workflow in two: read whole
    account = ACCOUNT[:3] + [stored_workflow("wf_4", "x", {"on_phrases": ["a b"]})]
    for layout in ({"separators": (", ", ": ")}, {"separators": (",", ":")}, {"indent": 2}):
        body = json.dumps({"results": account}, **layout).encode()  # type: ignore[arg-type]
        assert shapes.scan_listing(body, WORDS) == ([account[1], account[3]], 4)
    escaped = json.dumps({"results": account}).replace('"on_button"', '"on\\u005fbutton"').encode()
    assert shapes.scan_listing(escaped, WORDS) == ([account[0], account[1], account[3]], 4)  # \u: read, to be sure
    assert shapes.scan_listing(b'{"results": []}', WORDS) == ([], 0)


def test_any_other_form_is_left_to_the_whole_reading() -> None:
    plain = json.dumps({"results": ACCOUNT[:3]})
    for body in (
        json.dumps({"results": ACCOUNT[:3], "next_page_token": "p2"}),  # another key: maybe paging
        json.dumps({"cursor": None, "results": ACCOUNT[:3]}),
        plain[:-5],  # cut off
        plain.replace('"workflow_id": "wf_2"', '"id": "wf_2"'),  # a workflow without its id
        plain.replace('"name": "inbound"', '"name": "inbound", "args": {"workflow_id": 1}'),
        "<html>Sign in</html>",
    ):
        assert shapes.scan_listing(body.encode(), WORDS) is None, body[:60]


def test_the_listing_a_create_reads_is_what_the_checks_need(run: Any, monkeypatch: Any) -> None:
    """A create's checks, read from the scanned listing, find the duplicate name and the clash on a device as from
    the whole one: the POST is the reference's, and the warnings name the same workflows."""
    monkeypatch.delenv("RELAY_NO_CHECK")
    account = [stored_workflow(f"wf_{i}", f"w{i}", {"on_button": "action_button_single_tap"}) for i in range(50)]
    account += [stored_workflow("wf_in", "front", {"on_incoming_call": ".*"}, install=["d1"]),
                stored_workflow("wf_dup", "my_auto_answer", {"on_call_request": ".*"}, install=["d9"])]  # fmt: skip
    with respx.mock(base_url=API, assert_all_called=False) as api:
        api.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": account}))
        api.post("/ibot/workflow").mock(return_value=httpx.Response(200, json=[{"workflow_id": "wf_new", "name": "n"}]))
        result = run("workflow", "create", "call", "--trigger", "inbound", "-n", "my_auto_answer", "-u", "wss://h/x",
                     "-i", "d1", "-s", SUB)  # fmt: skip
    assert result.code == 0, result.err
    assert "account SUB already has a workflow named 'my_auto_answer' (wf_dup)" in result.err
    assert "2 inbound call workflows (front, my_auto_answer) are installed on d1" in result.err
