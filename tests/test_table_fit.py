"""A table on a terminal fits its width: the columns give way in a declared order (short forms, then cuts, then
left out, with one line on stderr naming what was left out), while a pipe, --json and CSV stay exactly as they
were. Every listing command draws through the one renderer (relay_cli/table.py)."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
import respx

from relay_cli.output import Output, cell_width
from relay_cli.table import Column, Fit, cut_end, cut_middle, cut_start, field, fit

from conftest import API, SUB, stored_workflow

GROUP = "urn:relay-resource:id:tag:front-desk"
#: as the sandbox sends them, the id as a urn (a bare id is taken too)
GROUPS = [
    {"group_id": GROUP, "name": "Front desk", "owner": SUB, "subscribers": []},
    {"group_id": "g2", "name": "Other"},
]


def _workflow(wid: str, name: str, trigger: dict[str, Any], uri: str, **install: Any) -> dict[str, Any]:
    workflow = stored_workflow(wid, name, trigger)
    workflow["config"]["trigger"]["start"]["workflow"]["uri"] = uri
    del workflow["install"]
    workflow.update(install)
    return workflow


#: the calling guide's workflows and a few more: inbound and outbound calls, installs on all devices, on a group and
#: on several devices; two ids that share their first 12 characters
LISTING = [
    _workflow("wf_8c1d2e3f40a1b2c3d4e5f6a7", "my_auto_answer", {"on_incoming_call": ".*"},
              "wss://myhost.mydomain.com/autoanswerpath", install=["990007560011111"]),
    _workflow("wf_8c1d2e3f4f9e8d7c6b5a4938", "outbound", {"on_call_request": ".*"},
              "wss://myhost.mydomain.com/outboundpath",
              install=["990007560023456", "990007560045678", "990007560033333"]),
    _workflow("wf_27b90c6d5e4f3a2b1c0d9e8f", "place-call", {"on_button": "action_button_double_tap"},
              "wss://myhost.mydomain.com/placecallpath", install_rule="urn:relay-resource:all:device"),
    _workflow("wf_e41f0a9b8c7d6e5f4a3b2c1d", "front-desk-greeter", {"on_button": "action_button_single_tap"},
              "ws://127.0.0.1:8080/greeter", install_rule=GROUP),
]  # fmt: skip


def terminal(width: int | None = None, **settings: Any) -> Output:
    return Output(stdout_isatty=True, width=width, environ={"NO_COLOR": "1", **settings.pop("environ", {})}, **settings)


@pytest.fixture
def listed() -> Any:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as api:
        api.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": copy.deepcopy(LISTING)}))
        api.get("/ibot/groups").mock(return_value=httpx.Response(200, json=GROUPS))
        yield api


#: `relay workflow list` of LISTING on a terminal of each width: stdout, and the one line on stderr
FITTED = {
    60: (
        """\
NAME            TYPE           URI           INSTALLED ON
my_auto_answer  call:inbound   myh…swerpath  990007560011111
outbound        call:outbound  myh…oundpath  …07560023456 +2
place-call      button:double  myh…callpath  all devices
front-desk-gr…  button:single  ws:…/greeter  group Front de…
""",
        "note: the ID column is left out to fit 60 columns; --wide shows every column in full\n",
    ),
    80: (
        """\
ID             NAME                TYPE           URI           INSTALLED ON
wf_8c1d2e3f40  my_auto_answer      call:inbound   myh…swerpath  990007560011111
wf_8c1d2e3f4f  outbound            call:outbound  myh…oundpath  …007560023456 +2
wf_27b90c6d5e  place-call          button:double  myh…callpath  all devices
wf_e41f0a9b8c  front-desk-greeter  button:single  ws:…/greeter  group Front desk
""",
        "",
    ),
    100: (
        """\
ID             NAME                TYPE           URI                             INSTALLED ON
wf_8c1d2e3f40  my_auto_answer      call:inbound   myhost.my…n.com/autoanswerpath  990007560011111
wf_8c1d2e3f4f  outbound            call:outbound  myhost.my…ain.com/outboundpath  990007560023456 +2
wf_27b90c6d5e  place-call          button:double  myhost.my…in.com/placecallpath  all devices
wf_e41f0a9b8c  front-desk-greeter  button:single  ws://127.0.0.1:8080/greeter     group Front desk
""",
        "",
    ),
    120: (
        """\
ID             NAME                TYPE           URI                                 INSTALLED ON
wf_8c1d2e3f40  my_auto_answer      call:inbound   myhost.mydomain.com/autoanswerpath  990007560011111
wf_8c1d2e3f4f  outbound            call:outbound  myhost.mydomain.com/outboundpath    990007560023456 +2
wf_27b90c6d5e  place-call          button:double  myhost.mydomain.com/placecallpath   all devices
wf_e41f0a9b8c  front-desk-greeter  button:single  ws://127.0.0.1:8080/greeter         group Front desk
""",
        "",
    ),
    200: (
        """\
ID                           NAME                TYPE           URI                                       INSTALLED ON
wf_8c1d2e3f40a1b2c3d4e5f6a7  my_auto_answer      call:inbound   wss://myhost.mydomain.com/autoanswerpath  990007560011111
wf_8c1d2e3f4f9e8d7c6b5a4938  outbound            call:outbound  wss://myhost.mydomain.com/outboundpath    990007560023456, 990007560045678, 990007560033333
wf_27b90c6d5e4f3a2b1c0d9e8f  place-call          button:double  wss://myhost.mydomain.com/placecallpath   all devices
wf_e41f0a9b8c7d6e5f4a3b2c1d  front-desk-greeter  button:single  ws://127.0.0.1:8080/greeter               group Front desk
""",
        "",
    ),
}


@pytest.mark.parametrize("width", sorted(FITTED))
def test_the_workflow_list_fits_the_terminal(run: Any, listed: Any, width: int) -> None:
    """Below 200 columns the id gives way first, to its shortest unique prefix of at least 10 characters (13 here:
    two ids share 12), then the URI (without wss://, then its middle), the installs (a list as its first device
    and a count, then cut keeping "group" and "+2"); at 60 the id is left out, the name is cut, and one line on
    stderr says so. Name, type with its trigger, installs and URI are there at every width."""
    result = run("workflow", "list", "-s", SUB, out=terminal(width))
    assert (result.code, result.out, result.err) == (0, *FITTED[width])
    assert all(len(line) <= width for line in result.out.splitlines()) or width == 200


def test_columns_gives_the_width_when_the_terminal_does_not(run: Any, listed: Any) -> None:
    assert run("workflow", "list", "-s", SUB, out=terminal(environ={"COLUMNS": "60"})).out == FITTED[60][0]
    assert run("workflow", "list", "-s", SUB, out=terminal(environ={"COLUMNS": "x"})).out == FITTED[80][0]  # else 80


def test_a_pipe_and_json_are_every_value_whole_whatever_the_width(run: Any, listed: Any) -> None:
    """Into a pipe or a file the table is what it always was (scripts read it): every column, every value whole,
    headers in capitals; --json is the API's objects, exactly; COLUMNS changes neither."""
    piped = run("workflow", "list", "-s", SUB, out=Output(stdout_isatty=False, width=60))
    assert (piped.out, piped.err) == (
        """\
ID                           NAME                TYPE           URI                                       INSTALLED ON
wf_8c1d2e3f40a1b2c3d4e5f6a7  my_auto_answer      call:inbound   wss://myhost.mydomain.com/autoanswerpath  990007560011111
wf_8c1d2e3f4f9e8d7c6b5a4938  outbound            call:outbound  wss://myhost.mydomain.com/outboundpath    990007560023456, 990007560045678, 990007560033333
wf_27b90c6d5e4f3a2b1c0d9e8f  place-call          button:double  wss://myhost.mydomain.com/placecallpath   all devices
wf_e41f0a9b8c7d6e5f4a3b2c1d  front-desk-greeter  button:single  ws://127.0.0.1:8080/greeter               urn:relay-resource:id:tag:front-desk
""",
        "",
    )
    assert run("workflow", "list", "-s", SUB).out == piped.out
    assert run("workflow", "list", "-s", SUB, "--json", out=terminal(60)).json() == LISTING
    assert [call.request.url.path for call in listed.calls] == ["/ibot/workflow"] * 3  # no group names asked for


def test_a_terminal_names_the_group_and_a_failed_read_of_the_groups_leaves_its_id(run: Any, listed: Any) -> None:
    """On a terminal a group install reads `group NAME` (one GET /ibot/groups, only when a workflow has one); when
    the groups cannot be read the table shows the group's id, as a listing without names would, and exit 0."""
    named = run("workflow", "list", "-s", SUB, out=terminal(120))
    assert named.out.splitlines()[-1].endswith("  group Front desk")
    assert [(call.request.url.path, call.request.url.params.get("subscriber_id")) for call in listed.calls] == [
        ("/ibot/workflow", SUB),
        ("/ibot/groups", SUB),
    ]
    listed.get("/ibot/groups").mock(return_value=httpx.Response(500, json={"error": "boom"}))
    unnamed = run("workflow", "list", "-s", SUB, out=terminal(120))
    assert (unnamed.code, unnamed.out, unnamed.err) == (0, FITTED[120][0].replace("Front desk", "front-desk"), "")
    listed.get("/ibot/groups").mock(return_value=httpx.Response(200, json=[{"group_id": "front-desk", "name": "FD"}]))
    assert (
        run("workflow", "list", "-s", SUB, out=terminal(120)).out.splitlines()[-1].endswith("  group FD")
    )  # a bare id
    calls = len(listed.calls)
    run("workflow", "list", "-s", SUB, "--filter", "name=place", out=terminal(120))
    assert len(listed.calls) == calls + 1  # no group among the rows shown: no GET /ibot/groups


@pytest.mark.parametrize("flag", [["--wide"], ["-o", "wide"], ["--output", "wide"]])
def test_wide_is_every_column_every_value_whole(run: Any, listed: Any, flag: list[str]) -> None:
    """--wide (kubectl's -o wide): -x's columns too, and nothing shortened or left out, however long the lines;
    into a pipe it is the table of -x."""
    result = run("workflow", "list", "-s", SUB, *flag, out=terminal(80))
    lines = result.out.splitlines()
    assert (result.code, result.err) == (0, "")
    assert lines[0].split() == ["ID", "NAME", "TYPE", "URI", "INSTALLED", "ON", "ARGS"]
    assert lines[2].startswith("wf_8c1d2e3f4f9e8d7c6b5a4938  outbound ")
    assert "990007560023456, 990007560045678, 990007560033333" in lines[2] and len(lines[2]) > 80
    assert run("workflow", "list", "-s", SUB, *flag).out == run("workflow", "list", "-s", SUB, "-x").out


def test_no_truncate_keeps_every_value_whole_without_adding_columns(run: Any, listed: Any) -> None:
    result = run("workflow", "list", "-s", SUB, "--no-truncate", out=terminal(60))
    assert (result.out, result.err) == (FITTED[200][0], "")


def test_columns_named_are_cut_but_never_left_out(run: Any, listed: Any) -> None:
    result = run("workflow", "list", "-s", SUB, "--columns", "id,name,type,uri,install", out=terminal(60))
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines()[0].split() == ["ID", "NAME", "TYPE", "URI", "INSTALLED", "ON"]
    assert max(cell_width(line) for line in result.out.splitlines()) <= 60


def test_the_header_is_bold_only_with_colour(run: Any, listed: Any) -> None:
    coloured = run("workflow", "list", "-s", SUB, out=Output(stdout_isatty=True, width=200, environ={}))
    assert coloured.out.splitlines()[0] == "\x1b[1m" + FITTED[200][0].splitlines()[0] + "\x1b[0m"
    assert coloured.out.splitlines()[1:] == FITTED[200][0].splitlines()[1:]


def test_wide_is_a_table_so_json_and_wide_disagree(run: Any) -> None:
    with respx.mock(base_url=API, assert_all_mocked=True) as api:
        result = run("workflow", "list", "-s", SUB, "--json", "--wide")
        assert api.calls.call_count == 0
    assert (result.code, result.out, result.err) == (2, "", "error: --json: --json and --wide disagree; give one\n")


# --- the one renderer: every table --------------------------------------------------------------------------------

TABLE = [
    Column("id", "ID", field("id"), fit=Fit(give=0, out=90, unique=4)),
    Column("name", "Name", field("name"), fit=Fit(give=80, least=6, keep=True)),
    Column("where", "Where", field("where"), fit=Fit(give=10, least=8, cut=cut_middle)),
]


def laid(items: list[dict[str, Any]], width: int, **settings: Any) -> list[str]:
    result = fit(TABLE, items, terminal(width), width=width, **settings)
    return [" | ".join(row) for row in [result.headers, *result.rows]] + [",".join(c.key for c in result.left_out)]


def test_a_prefix_is_as_long_as_it_must_be_to_stay_unique() -> None:
    items = [{"id": "abcdef1", "name": "n", "where": "w"}, {"id": "abcxyz2", "name": "n", "where": "w"},
             {"id": "abcdef1", "name": "same id twice", "where": "w"}]  # fmt: skip
    assert laid(items, 40)[1] == "abcdef1 | n | w"  # room enough: whole
    assert laid(items, 26) == ["ID | NAME | WHERE", "abcd | n | w", "abcx | n | w", "abcd | same id twice | w", ""]
    items[1]["id"] = "abcdeZ"
    assert [row.split(" | ")[0] for row in laid(items, 28)[1:4]] == ["abcdef", "abcdeZ", "abcdef"]


def test_wide_characters_count_twice_and_control_characters_are_shown_escaped() -> None:
    """A CJK name takes two cells a character; an escape sequence from the server is measured as it is shown."""
    items = [{"id": "1", "name": "\u65e5\u672c\u8a9e\u306e\u540d\u524d", "where": "\x1b[2Jhere and there"}]
    lines = laid(items, 26)
    assert lines[1] == "1 | \u65e5\u672c\u8a9e\u306e\u540d\u524d | \\x…there"
    assert cell_width("\u65e5\u672c\u8a9e\u306e\u540d\u524d") == 12


def test_what_cannot_fit_is_left_out_but_never_a_column_to_keep() -> None:
    items = [{"id": "abcdef1", "name": "a long name here", "where": "somewhere far away"}]
    assert laid(items, 32) == ["ID | NAME | WHERE", "abcd | a long name here | so… away", ""]
    assert laid(items, 30) == ["ID | NAME", "abcd | a long name here", "where"]  # the name stays whole while it can
    assert laid(items, 12) == ["ID | NAME", "abcd | a lon…", "where"]
    assert laid(items, 10, keep_all=True)[-1] == ""  # --columns: nothing left out, however narrow


@pytest.mark.parametrize(
    ("cut", "text", "width", "shown"),
    [
        (cut_end, "abcdefghij", 5, "abcd…"),
        (cut_start, "990007560045678", 8, "…0045678"),
        (cut_middle, "wss://host/path/to/app", 12, "wss…h/to/app"),
        (cut_middle, "short", 12, "short"),
    ],
)
def test_the_cuts(cut: Any, text: str, width: int, shown: str) -> None:
    assert cut(text, width, "…") == shown
    assert cell_width(shown) <= width


# --- --json --columns ---------------------------------------------------------------------------------------------


def test_json_columns_keeps_the_keys_of_those_columns(run: Any, listed: Any) -> None:
    """--columns with --json picks keys of the API's objects, as they came: a column shown from one field keeps it
    (id: workflow_id), one worked out from several keeps those (installs: install and install_rule)."""
    picked = run("workflow", "list", "-s", SUB, "--json", "--columns", "id,install").json()
    assert picked == [
        {"workflow_id": w["workflow_id"], **{k: w[k] for k in ("install", "install_rule") if k in w}} for w in LISTING
    ]
    yaml = run("workflow", "list", "-s", SUB, "-o", "yaml", "--columns", "name", "--filter", "name=place")
    assert yaml.out == '- name: "place-call"\n'


def test_json_columns_of_a_listing_of_plain_ids_is_refused_before_anything_is_sent(run: Any) -> None:
    with respx.mock(base_url=API, assert_all_mocked=True) as api:
        result = run("devices", "-s", SUB, "--json", "--columns", "id")
        assert api.calls.call_count == 0
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        "error: --columns: with --json, --columns picks the keys of the API's objects, and this listing's are not "
        "objects\n"
    )
