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


def test_a_table_on_a_terminal_neither_runs_escapes_nor_reads_markup(
    run: Any, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output, "_isatty", lambda stream: True)  # the rich table, as on a terminal
    monkeypatch.setenv("NO_COLOR", "1")
    api.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": listing(RICH_MARKUP + EVIL)}))
    result = run("workflow", "list", "-s", SUB, "--no-truncate")
    assert result.code == 0, result.err
    assert "\x1b" not in result.out
    flat = "".join(line.strip() for line in result.out.splitlines())  # --no-truncate folds long cells
    assert (RICH_MARKUP + SHOWN).replace(" ", "") in flat.replace(" ", "")


def test_csv_is_exact_into_a_pipe_and_escaped_on_a_terminal(
    run: Any, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": listing(EVIL)}))
    piped = run("workflow", "list", "-s", SUB, "--csv")
    assert list(csv.reader(io.StringIO(piped.out, newline="")))[1][1] == EVIL

    monkeypatch.setattr(output, "_isatty", lambda stream: True)
    shown = run("workflow", "list", "-s", SUB, "--csv")
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


def test_an_arg_value_is_exact_into_a_pipe_and_escaped_on_a_terminal(
    run: Any, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = stored_workflow("wf_1", "w")
    workflow["config"]["trigger"]["start"]["workflow"]["args"] = {"greeting": EVIL}
    api.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": [workflow]}))
    assert run("workflow", "args", "get", "-w", "w", "greeting", "-s", SUB).out == EVIL + "\n"
    monkeypatch.setattr(output, "_isatty", lambda stream: True)
    assert run("workflow", "args", "get", "-w", "w", "greeting", "-s", SUB).out == SHOWN + "\n"


def test_the_plan_of_diff_is_escaped(run: Any, api: Any, tmp_path: Any) -> None:
    manifest = tmp_path / "relay.toml"
    manifest.write_text('[workflow.a]\ntype = "button"\nuri = "wss://h/p"\n', encoding="utf-8")
    api.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": listing(EVIL)}))
    result = run("workflow", "diff", "-f", str(manifest), "--prune", "-s", SUB)
    assert result.code == 5
    assert f"- delete  {SHOWN} (wf_1)" in result.out.splitlines()
    assert "\x1b" not in result.out + result.err
