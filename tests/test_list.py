"""``relay workflow list``: the request, every output format, columns, filters, sorting and refusals."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
import respx
import yaml

from relay_cli import __version__

from conftest import API, SUB, TOKEN, stored_workflow

ALL = "urn:relay-resource:all:device"
GROUP = "urn:relay-resource:id:tag:g1"


def _wf(workflow_id: str, name: str, trigger: dict[str, Any], **extra: Any) -> dict[str, Any]:
    wf = stored_workflow(workflow_id, name, trigger)
    if "install_rule" in extra:
        del wf["install"]
    wf.update(extra)
    return wf


def server_workflows() -> list[dict[str, Any]]:
    """What GET /ibot/workflow returns (the first one with its config as a JSON string)."""
    wfs = [
        _wf("wf-01", "auto_answer", {"on_incoming_call": ".*"}),
        _wf("wf-02", "AutoDial", {"on_call_request": ".*"}, install_rule=ALL),
        _wf("wf-03", "double_tap", {"on_button": "action_button_double_tap"}, install_rule=GROUP),
        _wf("wf-04", "greeter", {"on_phrases": ["hello world"]}, install=["d1", "d2"]),
        _wf("wf-05", "nightly", {"on_timer": {"start_time": "2030-01-01T09:00:00", "timezone": "UTC", "count": 1}}),
        _wf("wf-06", "charger", {"on_battery_charge": 80}),
        _wf("wf-07", "tagger", {"on_nfc": {"type": "custom", "category": "task"}}),
        _wf("wf-08", "leaver", {"on_geofence": {"transition": "exit", "geofence_id": "g7"}}),
        _wf("wf-09", "walker", {"on_position": {"venue_id": "v1", "position_id": "pos1", "transition": "entry"}}),
        _wf("wf-10", "sos", {"on_device_event": "emergency"}),
        _wf("wf-11", "webhook", {"on_http": "POST"}, install=["d1", "d9"]),
    ]
    wfs[10]["config"]["trigger"]["start"]["workflow"]["args"] = {"k": "v", "f": True, "n": 3}
    wfs[0]["config"] = json.dumps(wfs[0]["config"])
    return wfs


def parsed_workflows() -> list[dict[str, Any]]:
    """The same list with every ``config`` an object: what ``--json`` must print."""
    wfs = copy.deepcopy(server_workflows())
    for wf in wfs:
        if isinstance(wf["config"], str):
            wf["config"] = json.loads(wf["config"])
    return wfs


@pytest.fixture
def answer() -> dict[str, Any]:
    """The body GET /ibot/workflow answers with; tests may replace ``answer["results"]``."""
    return {"results": server_workflows()}


@pytest.fixture
def api(answer: dict[str, Any]) -> Any:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        mock.get("/ibot/workflow", name="list").mock(side_effect=lambda req: httpx.Response(200, json=answer))
        yield mock


def listing(run: Any, api: Any, *args: str) -> Any:
    """Run ``relay workflow list -s SUB ARGS``; check exit 0 and exactly one well-formed GET."""
    result = run("workflow", "list", "-s", SUB, *args)
    assert result.code == 0, result.err
    assert len(api.calls) == 1
    request = api.calls.last.request
    assert request.method == "GET"
    assert request.url.host == "all-main-pro-ibot.relaysvr.com"
    assert request.url.path == "/ibot/workflow"
    assert dict(request.url.params) == {"subscriber_id": SUB}
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"] == f"relay-cli/{__version__}"
    assert request.content == b""
    assert "\x1b" not in result.out and "\x1b" not in result.err
    assert TOKEN not in result.out + result.err
    return result


TABLE = """\
ID     NAME         TYPE                 URI                            INSTALLED ON
wf-01  auto_answer  call:inbound         wss://example.com/auto_answer  990007560045678
wf-02  AutoDial     call:outbound        wss://example.com/AutoDial     all devices
wf-03  double_tap   button:double        wss://example.com/double_tap   urn:relay-resource:id:tag:g1
wf-04  greeter      phrases:hello world  wss://example.com/greeter      d1, d2
wf-05  nightly      timer                wss://example.com/nightly      990007560045678
wf-06  charger      battery:charge:80    wss://example.com/charger      990007560045678
wf-07  tagger       nfc:custom           wss://example.com/tagger       990007560045678
wf-08  leaver       geofence:exit        wss://example.com/leaver       990007560045678
wf-09  walker       position:entry:pos1  wss://example.com/walker       990007560045678
wf-10  sos          device:emergency     wss://example.com/sos          990007560045678
wf-11  webhook      http:POST            wss://example.com/webhook      d1, d9
"""


def test_table_is_plain_aligned_text(run: Any, api: Any) -> None:
    result = listing(run, api)
    assert result.out == TABLE
    assert result.err == ""


def test_table_type_and_install_cells(run: Any, api: Any) -> None:
    """The cells the brief names, looked up row by row (independent of the column widths)."""
    lines = listing(run, api).out.splitlines()
    rows = {line.split()[0]: line for line in lines[1:]}
    assert len(rows) == 11
    for wid, type_cell in [
        ("wf-01", "call:inbound"),
        ("wf-02", "call:outbound"),
        ("wf-03", "button:double"),
        ("wf-04", "phrases:hello world"),
        ("wf-05", "timer"),
        ("wf-06", "battery:charge:80"),
        ("wf-07", "nfc:custom"),
        ("wf-08", "geofence:exit"),
        ("wf-09", "position:entry:pos1"),
    ]:
        assert f"  {type_cell}  " in rows[wid], (wid, rows[wid])
    assert rows["wf-02"].endswith("  all devices")
    assert rows["wf-03"].endswith("  urn:relay-resource:id:tag:g1")
    assert rows["wf-04"].endswith("  d1, d2")
    assert lines[0].split("  ")[0] == "ID"
    assert lines[0] == lines[0].upper()
    assert lines[0].endswith("INSTALLED ON")


def test_json_prints_the_plain_list_with_config_parsed(run: Any, api: Any) -> None:
    result = listing(run, api, "--json")
    data = json.loads(result.out)
    assert data == parsed_workflows()
    assert isinstance(data, list)
    assert data[0]["config"] == {
        "trigger": {
            "start": {"workflow": {"uri": "wss://example.com/auto_answer", "args": {}}},
            "on_incoming_call": ".*",
        }
    }
    assert result.out.endswith("]\n")
    assert result.err == ""


def test_output_json_same_as_json_flag(run: Any, api: Any) -> None:
    assert json.loads(listing(run, api, "--output", "json").out) == parsed_workflows()


def test_json_and_output_json_agree(run: Any, api: Any) -> None:
    assert json.loads(listing(run, api, "--json", "-o", "json").out) == parsed_workflows()


def test_extended_adds_args_column(run: Any, api: Any, answer: dict[str, Any]) -> None:
    answer["results"] = [server_workflows()[i] for i in (0, 10)]
    result = listing(run, api, "-x")
    assert result.out == (
        "ID     NAME         TYPE          URI                            INSTALLED ON     ARGS\n"
        "wf-01  auto_answer  call:inbound  wss://example.com/auto_answer  990007560045678\n"
        "wf-11  webhook      http:POST     wss://example.com/webhook      d1, d9           k=v, f=true, n=3\n"
    )


def test_csv_exact(run: Any, api: Any, answer: dict[str, Any]) -> None:
    answer["results"] = [server_workflows()[i] for i in (0, 1, 3, 10)]
    result = listing(run, api, "--output", "csv")
    assert result.out == (
        "ID,Name,Type,URI,Installed on\n"
        "wf-01,auto_answer,call:inbound,wss://example.com/auto_answer,990007560045678\n"
        "wf-02,AutoDial,call:outbound,wss://example.com/AutoDial,all devices\n"
        'wf-04,greeter,phrases:hello world,wss://example.com/greeter,"d1, d2"\n'
        'wf-11,webhook,http:POST,wss://example.com/webhook,"d1, d9"\n'
    )
    assert result.err == ""


def test_csv_with_columns_and_no_header(run: Any, api: Any, answer: dict[str, Any]) -> None:
    answer["results"] = [server_workflows()[i] for i in (0, 10)]
    result = listing(run, api, "-o", "csv", "--columns", "id,args", "--no-header")
    assert result.out == 'wf-01,\nwf-11,"k=v, f=true, n=3"\n'


def test_yaml(run: Any, api: Any, answer: dict[str, Any]) -> None:
    answer["results"] = [server_workflows()[0], server_workflows()[3]]
    result = listing(run, api, "--output", "yaml")
    assert yaml.safe_load(result.out) == [parsed_workflows()[0], parsed_workflows()[3]]
    assert result.out == (
        '- workflow_id: "wf-01"\n'
        '  name: "auto_answer"\n'
        "  options:\n"
        "    transient: true\n"
        "    hidden: false\n"
        "  config:\n"
        "    trigger:\n"
        "      start:\n"
        "        workflow:\n"
        '          uri: "wss://example.com/auto_answer"\n'
        "          args: {}\n"
        '      on_incoming_call: ".*"\n'
        "  install:\n"
        '    - "990007560045678"\n'
        '- workflow_id: "wf-04"\n'
        '  name: "greeter"\n'
        "  options:\n"
        "    transient: true\n"
        "    hidden: false\n"
        "  config:\n"
        "    trigger:\n"
        "      start:\n"
        "        workflow:\n"
        '          uri: "wss://example.com/greeter"\n'
        "          args: {}\n"
        "      on_phrases:\n"
        '        - "hello world"\n'
        "  install:\n"
        '    - "d1"\n'
        '    - "d2"\n'
    )


def test_columns_id_name(run: Any, api: Any, answer: dict[str, Any]) -> None:
    answer["results"] = [server_workflows()[i] for i in (0, 1, 2)]
    result = listing(run, api, "--columns", "id,name")
    assert result.out == "ID     NAME\nwf-01  auto_answer\nwf-02  AutoDial\nwf-03  double_tap\n"


def test_columns_keep_the_given_order(run: Any, api: Any, answer: dict[str, Any]) -> None:
    answer["results"] = [server_workflows()[i] for i in (0, 1)]
    result = listing(run, api, "--columns", "install,id")
    assert result.out == "INSTALLED ON     ID\n990007560045678  wf-01\nall devices      wf-02\n"


def test_filter_type_call(run: Any, api: Any) -> None:
    result = listing(run, api, "--filter", "type=call", "--columns", "id,type")
    assert result.out == "ID     TYPE\nwf-01  call:inbound\nwf-02  call:outbound\n"


def test_filter_name_ignores_case(run: Any, api: Any) -> None:
    result = listing(run, api, "--filter", "name=AUTO", "--columns", "id,name")
    assert result.out == "ID     NAME\nwf-01  auto_answer\nwf-02  AutoDial\n"


def test_filters_all_must_match(run: Any, api: Any) -> None:
    result = listing(run, api, "--filter", "name=auto", "--filter", "install=ALL DEVICES", "--columns", "id")
    assert result.out == "ID\nwf-02\n"


def test_filter_matching_nothing(run: Any, api: Any) -> None:
    result = listing(run, api, "--filter", "name=zzz")
    assert result.out == ""
    assert result.err == "No workflows match the filters.\n"


def test_filter_matching_nothing_json(run: Any, api: Any) -> None:
    result = listing(run, api, "--filter", "name=zzz", "--json")
    assert result.out == "[]\n"


def test_filter_applies_to_json(run: Any, api: Any) -> None:
    result = listing(run, api, "--filter", "type=battery", "--json")
    assert json.loads(result.out) == [parsed_workflows()[5]]


def test_sort_descending_by_name(run: Any, api: Any) -> None:
    result = listing(run, api, "--sort", "-name", "--columns", "name")
    # compared without case: "AutoDial" sorts after "auto_answer" ("autod" > "auto_")
    assert result.out.splitlines() == [
        "NAME",
        "webhook",
        "walker",
        "tagger",
        "sos",
        "nightly",
        "leaver",
        "greeter",
        "double_tap",
        "charger",
        "AutoDial",
        "auto_answer",
    ]


def test_sort_ascending_by_name_ignores_case(run: Any, api: Any) -> None:
    result = listing(run, api, "--sort", "name", "--columns", "name", "--no-header")
    assert result.out.splitlines()[:3] == ["auto_answer", "AutoDial", "charger"]
    assert result.out.splitlines()[-1] == "webhook"


def test_no_header(run: Any, api: Any, answer: dict[str, Any]) -> None:
    answer["results"] = [server_workflows()[i] for i in (0, 1)]
    result = listing(run, api, "--no-header")
    assert result.out == (
        "wf-01  auto_answer  call:inbound   wss://example.com/auto_answer  990007560045678\n"
        "wf-02  AutoDial     call:outbound  wss://example.com/AutoDial     all devices\n"
    )


def test_empty_list_table(run: Any, api: Any, answer: dict[str, Any]) -> None:
    answer["results"] = []
    result = listing(run, api)
    assert result.out == ""
    assert result.err == "No workflows yet. Create one with `relay workflow create call --help`.\n"


def test_empty_list_json(run: Any, api: Any, answer: dict[str, Any]) -> None:
    answer["results"] = []
    result = listing(run, api, "--json")
    assert result.out == "[]\n"
    assert result.err == ""


def test_no_ansi_with_no_color(run: Any, api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    result = listing(run, api)
    assert result.out == TABLE
    assert "\x1b" not in result.out + result.err


def test_no_ansi_in_empty_message_with_no_color(
    run: Any, api: Any, answer: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    answer["results"] = []
    result = listing(run, api)
    assert "\x1b" not in result.err
    assert result.err == "No workflows yet. Create one with `relay workflow create call --help`.\n"


# --- refusals: exit 2, one line on stderr, nothing sent ------------------------------------------

REFUSALS = [
    pytest.param(["--columns", "nope"], "--columns", id="columns-unknown"),
    pytest.param(["--columns", "id,nope"], "--columns", id="columns-one-unknown"),
    pytest.param(["--columns", ","], "--columns", id="columns-empty"),
    pytest.param(["--sort", "nope"], "--sort", id="sort-unknown"),
    pytest.param(["--sort", "-nope"], "--sort", id="sort-unknown-descending"),
    pytest.param(["--filter", "novalue"], "--filter", id="filter-no-equals"),
    pytest.param(["--filter", "nope=x"], "--filter", id="filter-unknown-column"),
    pytest.param(["--output", "xml"], "--output", id="output-xml"),
    pytest.param(["--json", "--output", "csv"], "--json", id="json-and-csv"),
    pytest.param(["--json", "--output", "table"], "--json", id="json-and-table"),
]


@pytest.mark.parametrize(("argv", "flag"), REFUSALS)
def test_refused_before_any_request(run: Any, argv: list[str], flag: str) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route().mock(return_value=httpx.Response(200, json={"results": []}))
        result = run("workflow", "list", "-s", SUB, *argv)
        assert not route.called
        assert len(mock.calls) == 0
    assert result.code == 2, (result.code, result.out, result.err)
    assert result.out == ""
    line = result.err.strip()
    assert "\n" not in line, result.err
    assert line.startswith("error: "), line
    assert flag in line, line
    assert "\x1b" not in result.err
    assert "Traceback" not in result.err


def test_refusal_messages_exact(run: Any) -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.route().mock(return_value=httpx.Response(200, json={"results": []}))
        assert run("workflow", "list", "-s", SUB, "--columns", "nope").err == (
            "error: --columns: expected a column among id, name, type, uri, install, args, got 'nope'\n"
        )
        assert run("workflow", "list", "-s", SUB, "--output", "xml").err == (
            "error: --output: expected one of table, wide, json, csv, yaml, got 'xml'\n"
        )
        assert run("workflow", "list", "-s", SUB, "--filter", "novalue").err == (
            "error: --filter: expected COLUMN=TEXT such as name=auto, got 'novalue'\n"
        )
        assert len(mock.calls) == 0


def test_a_narrow_terminal_keeps_names_types_installs_and_uris(run: Any, api: Any, answer: dict[str, Any]) -> None:
    """On a terminal (the command's Output says so, and how wide it is), the columns give way, the id first (left
    out, said on stderr), so that name, type, installs and URI fit in 60 columns; no colour under NO_COLOR
    (tests/test_table_fit.py has the whole rule)."""
    from relay_cli.output import Output

    long = stored_workflow("wf_0123456789abcdef", "a-rather-long-workflow-name", install=["d" * 40])
    answer["results"] = [long]
    terminal = Output(stdout_isatty=True, width=60, environ={"NO_COLOR": "1"})
    result = run("workflow", "list", "-s", SUB, out=terminal)
    assert result.code == 0, result.err
    assert result.out == (
        "NAME             TYPE          URI           INSTALLED ON\n"
        "a-rather-long-…  call:inbound  exa…low-name  …dddddddddddddd\n"
    )
    assert result.err == "note: the ID column is left out to fit 60 columns; --wide shows every column in full\n"
    assert max(len(line) for line in result.out.splitlines()) <= 60
    assert "\x1b" not in result.out
