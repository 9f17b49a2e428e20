"""The command line as a whole: the global options wherever they are given, the groups' pages (sections in the
registry's order, the same text whichever way they are asked for), and "did you mean" for a mistyped command."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from relay_cli import registry

from conftest import API, SUB

QA_API = "https://all-main-qa-ibot.relaysvr.com"


# --- -P/--profile, -v/--verbose, --timeout: before or after the command, with the same meaning -------------


@pytest.mark.parametrize(
    "argv",
    [
        ["-P", "qa", "profile", "show", "--json"],  # before the command
        ["profile", "--profile", "qa", "show", "--json"],  # between a group and its command
        ["profile", "show", "--json", "-P", "qa"],  # after the command
        ["profile", "show", "--profile=qa", "--json"],
        ["-P", "default", "profile", "show", "--json", "-P", "qa"],  # twice: the later one
    ],
    ids=lambda argv: " ".join(argv),
)
def test_the_profile_anywhere(run: Any, argv: list[str]) -> None:
    assert run("profile", "add", "qa", "--env", "qa").code == 0
    result = run(*argv)
    assert (result.code, result.err) == (0, "")
    shown = json.loads(result.out)
    assert shown["profile"] == {"value": "qa", "source": "flag --profile"}
    assert shown["api_url"] == {"value": QA_API, "source": "profile qa"}


@pytest.mark.parametrize(
    "argv",
    [
        ["-P", "qa", "profile", "set", "subscriber_id", "acct-1"],
        ["profile", "set", "subscriber_id", "acct-1", "-P", "qa"],  # after the command's arguments
        ["profile", "set", "subscriber_id", "--profile", "qa", "acct-1"],  # between them
    ],
    ids=lambda argv: " ".join(argv),
)
def test_the_profile_after_a_commands_arguments(run: Any, argv: list[str]) -> None:
    assert run("profile", "add", "qa", "--env", "qa").code == 0
    assert run(*argv).code == 0
    assert json.loads(run("-P", "qa", "profile", "show", "--json").out)["subscriber_id"] == {
        "value": "acct-1",
        "source": "profile qa",
    }
    assert json.loads(run("profile", "show", "--json").out)["subscriber_id"]["value"] is None  # not the default one


@pytest.mark.parametrize(
    "argv",
    [
        ["--verbose", "workflow", "list", "-s", SUB],
        ["workflow", "-v", "list", "-s", SUB],
        ["workflow", "list", "-s", SUB, "-v"],
        ["workflow", "args", "get", "-w", "wf-1", "-s", SUB, "greeting", "--verbose"],  # after a command's argument
    ],
    ids=lambda argv: " ".join(argv),
)
def test_verbose_anywhere(run: Any, argv: list[str]) -> None:
    workflow = {
        "workflow_id": "wf-1",
        "name": "w",
        "config": {"trigger": {"start": {"workflow": {"uri": "wss://h/p", "args": {"greeting": "hi"}}}}},
        "install": [],
    }
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        mock.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": [workflow]}))
        mock.get("/ibot/workflow/wf-1").mock(return_value=httpx.Response(200, json={"results": [workflow]}))
        result = run(*argv)
    assert result.code == 0, result.err
    assert f"> GET {API}/ibot/workflow" in result.err
    assert "< 200 OK GET" in result.err


@pytest.mark.parametrize(
    "argv",
    [
        ["--timeout", "2.5", "workflow", "list", "-s", SUB],
        ["workflow", "--timeout", "2.5", "list", "-s", SUB],
        ["workflow", "list", "-s", SUB, "--timeout=2.5"],
    ],
    ids=lambda argv: " ".join(argv),
)
def test_the_timeout_anywhere(run: Any, argv: list[str]) -> None:
    with respx.mock(base_url=API, assert_all_mocked=True) as mock:
        route = mock.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": []}))
        result = run(*argv)
    assert result.code == 0, result.err
    assert route.calls.last.request.extensions["timeout"]["read"] == 2.5


def test_a_bad_global_option_after_the_command_is_a_usage_error(run: Any) -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.route().mock(return_value=httpx.Response(200, json={"results": []}))
        result = run("workflow", "list", "-s", SUB, "--timeout", "soon")
    assert (result.code, result.out, mock.calls.call_count) == (2, "", 0)
    assert result.err == (
        "error: Invalid value for '--timeout': 'soon' is not a valid float. (see `relay workflow list --help`)\n"
    )


# --- where a command has an option of the same name, its own wins --------------------------------------


def test_the_commands_own_timeout_wins_after_it(run: Any) -> None:
    """`workflow check --timeout` is its handshake time (at most 60 s); before the command, --timeout is the
    global request deadline (up to a day): both on one line, each is read as its place says."""
    result = run("--timeout", "100", "workflow", "check", "--timeout", "200")
    assert (result.code, result.out) == (2, "")
    assert result.err == "error: --timeout: expected a number of seconds from 0 to 60, got 200.0\n"


def test_the_commands_own_v_wins_and_verbose_still_works(run: Any) -> None:
    """-v of `workflow create position` is the reference's --venue_id; --verbose is the global option there."""
    result = run(
        "workflow", "create", "position", "--trigger", "entry", "-v", "venue-9", "-p", "pos-1", "--name", "n",
        "--uri", "wss://h/p", "-A", "-s", SUB, "--dry-run", "--json", "--verbose",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert json.loads(result.out)["config"]["trigger"]["on_position"] == {
        "venue_id": "venue-9",
        "position_id": "pos-1",
        "transition": "entry",
    }


def test_a_commands_page_lists_the_global_options_it_takes(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    own, global_ = run("workflow", "create", "position", "--help").out.split("\nGlobal options:\n")
    assert "\n  -v, --venue_id, --venue-id VENUE_ID\n" in own
    assert global_.split("\n\n")[0].splitlines() == [
        "  -P, --profile NAME  Profile to use for this command. [env: RELAY_PROFILE]",
        "  --verbose           Log each HTTP request and response on stderr",
        "                      (credentials are redacted).",
        "  --timeout SECONDS   Deadline of each request to the API, from connecting to",
        "                      the last byte of the answer (default 30). [env:",
        "                      RELAY_TIMEOUT]",
    ]
    own, global_ = run("workflow", "check", "--help").out.split("\nGlobal options:\n")
    assert "\n  --timeout SECONDS " in own  # its own: the handshake's time
    assert global_.split("\n\n")[0].splitlines() == [
        "  -P, --profile NAME  Profile to use for this command. [env: RELAY_PROFILE]",
        "  -v, --verbose       Log each HTTP request and response on stderr",
        "                      (credentials are redacted).",
    ]


# --- the groups' pages ------------------------------------------------------------------------------------

WORKFLOW_PAGE = """\
Usage: relay workflow [OPTIONS] COMMAND [ARGS]...

  Create, list, install and manage workflows.

Options:
  -h, --help  Show this message and exit.

Global options:
  -P, --profile NAME  Profile to use for this command. [env: RELAY_PROFILE]
  -v, --verbose       Log each HTTP request and response on stderr
                      (credentials are redacted).
  --timeout SECONDS   Deadline of each request to the API, from connecting to
                      the last byte of the answer (default 30). [env:
                      RELAY_TIMEOUT]

Commands:
  create     Create a workflow that starts when a trigger fires.
  list       List the account's workflows.
  update     Change a workflow in place: its URI, name, trigger or args.
  delete     Delete a workflow.
  install    Install a workflow on more devices, every device or a group.
  uninstall  Uninstall a workflow from devices, or everywhere.
  args       Show and change the args a workflow is started with.
  trigger    Start an HTTP-triggered workflow now, on behalf of a user.
  instance   List and stop workflow instances (the runs of workflows).
  logs       Stream the realtime workflow log.

Manifest commands:
  apply      Make the account's workflows match a manifest.
  diff       Compare a manifest with the account's workflows.
  export     Print the account's workflows as a manifest.
  check      Check that each workflow's app answers, and risky installs.

Development commands:
  init       Start a workflow project from a template.
  simulate   Play a call, a button tap or a phrase against your app.
  dev        Run your app: simulated on every change, or on a device.
  doctor     Check why a workflow does not run on a device.
"""


def test_the_workflow_page(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert run("workflow", "--help").out == WORKFLOW_PAGE


def headings(page: str) -> list[str]:
    return [line[:-1] for line in page.splitlines() if line.endswith(":") and not line.startswith(" ")]


def test_the_root_page_groups_the_commands_core_first(run: Any) -> None:
    page = run("--help").out
    assert headings(page) == [
        "Options", "Global options", "Workflow commands", "Account commands", "Account resources",
        "Sandbox commands", "Configuration commands", "Other commands",
    ]  # fmt: skip
    commands = page.split("\nWorkflow commands:\n", 1)[1]
    listed = [line.split()[0] for line in commands.splitlines() if line.startswith("  ") and line[2] != " "]
    assert listed == [entry.name for entry in registry.children(registry.ROOT) if not entry.hidden]
    assert listed[0] == "workflow"
    assert "The global options may come before or after the command" in page


@pytest.mark.parametrize("columns", ["60", "80", "100", "300"])
def test_a_page_fits_the_terminal(run: Any, monkeypatch: pytest.MonkeyPatch, columns: str) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    examples = ("    relay ", "        --uri ")  # kept as written (the \b paragraph of examples)
    widest = max(len(line) for line in run("--help").out.splitlines() if not line.startswith(examples))
    assert widest <= min(int(columns), 100) - 2


@pytest.mark.parametrize("path", [[], ["workflow"], ["workflow", "create"], ["profile"], ["workflow", "instance"]])
def test_a_groups_page_is_the_same_however_asked_for(run: Any, path: list[str]) -> None:
    """`relay PATH --help` (answered before Typer is imported), `relay help PATH` and `relay PATH -P x --help`
    (through the command line) and `relay PATH` alone (on stderr, exit 2) show one text."""
    page = run(*path, "--help").out
    assert page.startswith(f"Usage: relay {' '.join(path)}{' ' if path else ''}[OPTIONS] COMMAND [ARGS]...\n")
    assert run("help", *path).out == page
    assert run(*path, "-P", "local", "--help").out == page
    if path:
        alone = run(*path)
        assert (alone.code, alone.out, alone.err) == (2, "", page)


# --- a mistyped command ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["wrkflow", "list"], "error: No such command 'wrkflow'. Did you mean 'workflow'? (see `relay --help`)"),
        (["workflow", "lst"], "error: No such command 'lst'. Did you mean 'list'? (see `relay workflow --help`)"),
        (
            ["-P", "local", "workflow", "create", "cal", "-n", "x"],
            "error: No such command 'cal'. Did you mean 'call'? (see `relay workflow create --help`)",
        ),
        (["profile", "shwo"], "error: No such command 'shwo'. Did you mean 'show'? (see `relay profile --help`)"),
        (["workflow", "zzz"], "error: No such command 'zzz'. (see `relay workflow --help`)"),
    ],
)
def test_a_mistyped_command_names_the_closest(run: Any, argv: list[str], line: str) -> None:
    result = run(*argv)
    assert (result.code, result.out, result.err) == (2, "", line + "\n")
