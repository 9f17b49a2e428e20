"""Terminal safety: strings from the server never reach a terminal as control characters.

A workflow name, an arg value or an error text holding ``ESC [ 2 J`` (clear the screen), ``ESC ] 0 ; ... BEL``
(set the window title), a carriage return or a bidi override is shown as visible text (``\\x1b[2J``) in
tables, CSV on a terminal, messages and errors. ``--json`` stays the exact value; CSV into a pipe stays exact.
``output.safe`` is the one function that escapes; these tests go through the commands.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx
import pytest
import respx

from relay_cli import output

from conftest import API, SUB, stored_workflow

EVIL = "ok\x1b[2J\x1b]0;pwned\x07\r\u202eevil\x9b31m"
SHOWN = "ok\\x1b[2J\\x1b]0;pwned\\x07\\x0d\\u202eevil\\x9b31m"
RICH_MARKUP = "[bold red]not markup[/]"


def listing(name: str) -> list[dict[str, Any]]:
    return [stored_workflow("wf_1", name, install=[f"d{EVIL}"])]


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=API, assert_all_called=False) as mock:
        yield mock


def test_safe_escapes_what_a_terminal_would_act_on_and_nothing_else() -> None:
    assert output.safe(EVIL) == SHOWN
    assert output.safe("line\nnext\ttab") == "line\\x0anext\\x09tab"
    assert output.safe("line\nnext\ttab", newlines=True) == "line\nnext\\x09tab"
    assert (
        output.safe("caf\u00e9 \U0001f600 \u05e9\u05dc\u05d5\u05dd [x] \\")
        == "caf\u00e9 \U0001f600 \u05e9\u05dc\u05d5\u05dd [x] \\"
    )
    ascii_stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    assert output.safe("caf\u00e9 \U0001f600\x1b", stream=ascii_stream) == "caf\\xe9 \\U0001f600\\x1b"


def test_a_table_shows_escapes_and_json_stays_exact(run: Any, api: Any) -> None:
    api.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": listing(EVIL)}))
    table = run("workflow", "list", "-s", SUB)
    assert table.code == 0, table.err
    assert "\x1b" not in table.out and "\r" not in table.out and "\u202e" not in table.out and "\x9b" not in table.out
    row = table.out.splitlines()[1].split("  ")
    assert row[1] == SHOWN
    assert f"d{SHOWN}" in table.out

    exact = run("workflow", "list", "-s", SUB, "--json")
    assert json.loads(exact.out)[0]["name"] == EVIL
    assert json.loads(exact.out)[0]["install"] == [f"d{EVIL}"]


def test_a_table_on_a_terminal_neither_runs_escapes_nor_reads_markup(run: Any, api: Any) -> None:
    api.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": listing(RICH_MARKUP + EVIL)}))
    terminal = output.Output(stdout_isatty=True, environ={"NO_COLOR": "1"})  # the rich table, as on a terminal
    result = run("workflow", "list", "-s", SUB, "--no-truncate", out=terminal)
    assert result.code == 0, result.err
    assert "\x1b" not in result.out
    flat = "".join(line.strip() for line in result.out.splitlines())  # --no-truncate folds long cells
    assert (RICH_MARKUP + SHOWN).replace(" ", "") in flat.replace(" ", "")


def test_csv_is_exact_into_a_pipe_and_escaped_on_a_terminal(run: Any, api: Any) -> None:
    api.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": listing(EVIL)}))
    piped = run("workflow", "list", "-s", SUB, "--csv")
    assert list(csv.reader(io.StringIO(piped.out, newline="")))[1][1] == EVIL

    shown = run("workflow", "list", "-s", SUB, "--csv", out=output.Output(stdout_isatty=True))
    assert "\x1b" not in shown.out
    assert list(csv.reader(io.StringIO(shown.out)))[1][1] == SHOWN


def test_an_error_text_from_the_server_is_escaped(run: Any, api: Any) -> None:
    api.get("/ibot/workflow").mock(return_value=httpx.Response(400, json={"error": "bad_request", "message": EVIL}))
    result = run("workflow", "list", "-s", SUB)
    assert result.code == 1
    assert result.err == f"error: the Relay API refused GET /ibot/workflow: {SHOWN} (bad_request) (HTTP 400)\n"


def test_a_message_naming_a_server_string_is_escaped(run: Any, api: Any) -> None:
    api.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": listing(EVIL)}))
    api.delete("/ibot/workflow/wf_1").mock(return_value=httpx.Response(200, json={}))
    result = run("workflow", "delete", "-w", "wf_1", "-s", SUB, "--yes")
    assert result.code == 0, result.err
    assert result.err == f"Deleted workflow {SHOWN} (wf_1)\n"


def test_an_arg_value_is_exact_into_a_pipe_and_escaped_on_a_terminal(run: Any, api: Any) -> None:
    workflow = stored_workflow("wf_1", "w")
    workflow["config"]["trigger"]["start"]["workflow"]["args"] = {"greeting": EVIL}
    api.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": [workflow]}))
    assert run("workflow", "args", "get", "-w", "w", "greeting", "-s", SUB).out == EVIL + "\n"
    terminal = output.Output(stdout_isatty=True)
    assert run("workflow", "args", "get", "-w", "w", "greeting", "-s", SUB, out=terminal).out == SHOWN + "\n"


def test_the_plan_of_diff_is_escaped(run: Any, api: Any, tmp_path: Any) -> None:
    manifest = tmp_path / "relay.toml"
    manifest.write_text('[workflow.a]\ntype = "button"\nuri = "wss://h/p"\n', encoding="utf-8")
    api.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": listing(EVIL)}))
    result = run("workflow", "diff", "-f", str(manifest), "--prune", "-s", SUB)
    assert result.code == 5
    assert f"- delete  {SHOWN} (wf_1)" in result.out.splitlines()
    assert "\x1b" not in result.out + result.err


# --- the confirmation prompts: a name from the server can neither erase the question nor draw another ----------

#: a name that, printed raw, erases the line (ESC [2K, CR) and reverses what follows (U+202E)
PROMPTED = "x\x1b[2K\r\u202eevil"
PROMPTED_SHOWN = "x\\x1b[2K\\x0d\\u202eevil"
ALL_DEVICES = "urn:relay-resource:all:device"


def _everywhere(name: str) -> dict[str, Any]:
    workflow = stored_workflow("wf_1", name, install_rule=ALL_DEVICES)
    del workflow["install"]
    return workflow


PROMPTS = [
    pytest.param(
        ["workflow", "delete", "-w", "wf_1"],
        f"Delete workflow {PROMPTED_SHOWN} (wf_1) from account SUB?",
        id="workflow delete",
    ),
    pytest.param(
        ["workflow", "install", "-w", "wf_1", "-i", "d9"],
        f"{PROMPTED_SHOWN} is installed on all devices; install it on only d9 instead?",
        id="install -i narrowing",
    ),
    pytest.param(["workflow", "apply", "--prune"], "Delete 1 workflow ({name})?", id="apply --prune"),
    pytest.param(["tag", "delete", "t-1"], f"Delete tag t-1 ({PROMPTED_SHOWN}) from account SUB?", id="tag delete"),
    pytest.param(
        ["geofence", "delete", "gf-1"], f"Delete geofence gf-1 ({PROMPTED_SHOWN}) from account SUB?", id="geofence"
    ),
    pytest.param(
        ["audio", "delete", "au-1"], f"Delete audio file au-1 ({PROMPTED_SHOWN}) from account SUB?", id="audio delete"
    ),
]


@pytest.mark.parametrize(("argv", "prompt"), PROMPTS)
def test_a_prompt_shows_a_name_from_the_server_escaped(
    run: Any, api: Any, tmp_path: Any, argv: list[str], prompt: str
) -> None:
    from conftest import answering

    manifest = tmp_path / "relay.toml"
    manifest.write_text('[workflow.a]\ntype = "button"\nuri = "wss://h/p"\n', encoding="utf-8")
    installed = _everywhere(PROMPTED) if "install" in argv else stored_workflow("wf_1", PROMPTED)
    api.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": [installed]}))
    tag = {"tag_id": "t-1", "uid": "", "content": {"type": "custom", "category": "rooms", "label": PROMPTED}}
    api.get("/ibot/relay_nfc_tag/t-1").mock(return_value=httpx.Response(200, json=tag))
    geofence = {"geofence_id": "gf-1", "label": PROMPTED, "address": "1 Main St", "radius": 100}
    api.get("/ibot/geofence").mock(return_value=httpx.Response(200, json={"results": [geofence]}))
    audio = {"id": "au-1", "short_name": PROMPTED, "audio_format": "wave"}
    api.get("/ibot/custom_audio").mock(return_value=httpx.Response(200, json=[audio]))
    if "apply" in argv:
        argv = [*argv, "-f", str(manifest)]
    result = run(*argv, "-s", SUB, out=answering("n\n"))
    assert result.code == 0, result.err
    assert f"{prompt.format(manifest=manifest, name=PROMPTED_SHOWN)} [y/N]: " in result.err
    assert "\x1b" not in result.err and "\r" not in result.err and "\u202e" not in result.err
    assert [call.request.method for call in api.calls] == ["GET"]  # the answer was no: nothing was written
