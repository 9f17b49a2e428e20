"""The table options every listing command has (the reference CLI's table flags): --output/--csv/--json,
--columns, -x, --filter, --sort, --no-header, --no-truncate. Checked on each command against the sandbox, and
bad values refused before anything is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import respx

from relay_cli.errors import UsageError
from relay_cli.table import Column, field, options, select

from conftest import SUB, clean, sandbox_note

#: each listing command (on the sandbox) and its CSV header line
LISTINGS = [
    (["devices"], "Device ID,Name"),
    (["group", "list"], "Group ID,Name,Members"),
    (["venues"], "Venue ID,Name"),
    (["positions", "-v", "venue-hq"], "Position ID,Venue ID,Tags"),
    (["user", "list"], "User Name,User ID"),
    (["user", "assignments"], "User ID,Device ID,Action,Timestamp,Audit ID"),
    (["geofence", "list"], "ID,Name,Radius,Address,Coordinates"),
    (["tag", "list"], "Tag ID,Category,Label,Paired,UID"),
    (["audio", "list"], "ID,Name,Format"),
    (["analytics"], "Timestamp,Category,Type,Workflow ID,Instance ID,User ID,Content"),
    (["workflow", "instance", "list"], "Instance,Workflow,User,URI,Status"),
    (["workflow", "list"], "ID,Name,Type,URI,Installed on"),
]


@pytest.mark.parametrize(("args", "header"), LISTINGS, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_every_listing_has_csv_and_output_csv(run: Any, args: list[str], header: str) -> None:
    result = run("-P", "local", *args, "--csv")
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == header
    assert run("-P", "local", *args, "--output", "csv").out == result.out
    assert run("-P", "local", *args, "--csv", "--no-header").out == result.out.split("\n", 1)[1]
    clean(result)


@pytest.mark.parametrize(("args", "header"), LISTINGS, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_every_listing_refuses_bad_table_options_before_sending(run: Any, args: list[str], header: str) -> None:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as api:
        for bad, flag in (
            (["--columns", "nope"], "--columns"),
            (["--filter", "novalue"], "--filter"),
            (["--sort", "nope"], "--sort"),
            (["--json", "--csv"], "--json"),
            (["--output", "xml"], "--output"),
        ):
            result = run(*args, "-s", SUB, *bad)
            assert (result.code, result.out) == (2, ""), (args, bad, result.err)
            assert len(result.err.splitlines()) == 1 and f"error: {flag}: " in result.err, (args, bad, result.err)
        assert api.calls.call_count == 0


def test_columns_filter_sort_on_the_sandbox(run: Any, tmp_path: Path) -> None:
    devices = run("-P", "local", "devices", "--sort", "-id", "--no-header", "--columns", "id").out.split()
    assert devices == sorted(devices, reverse=True) and len(devices) == 5
    assert (
        run("-P", "local", "devices", "--filter", "name=al", "--csv").out == "Device ID,Name\n990007560045678,Alice\n"
    )
    assert run("-P", "local", "devices", "--filter", "id=045678", "--json").json() == ["990007560045678"]
    users = run("-P", "local", "user", "list", "--columns", "user id", "--sort", "-name", "--csv", "--no-header")
    assert users.out == "up-bob\nup-alice\n"
    assert run("-P", "local", "user", "list", "--filter", "name=AL", "-o", "yaml").out == (
        '- username: "alice"\n  user_profile_id: "up-alice"\n'
    )
    empty = run("-P", "local", "venues", "--filter", "name=nowhere")
    assert (empty.code, empty.out, empty.err) == (
        0,
        "",
        "No venues match the filters.\n" + sandbox_note(tmp_path / "data"),
    )


def test_extended_columns_only_with_x_or_by_name(run: Any) -> None:
    assert "Analytic ID" not in run("-P", "local", "analytics", "--csv").out
    assert run("-P", "local", "analytics", "-x", "--csv").out.splitlines()[0].endswith(",Analytic ID,Content Type")
    assert run("-P", "local", "analytics", "--columns", "id,content_type", "--csv").out == "Analytic ID,Content Type\n"


TABLE = [Column("id", "Item ID", field("id")), Column("size", "Size", field("size")),
         Column("note", "Note", field("note"), extended=True)]  # fmt: skip
ITEMS = [{"id": "b", "size": 10}, {"id": "a", "size": 9}, {"id": "c", "size": "n/a"}, {"id": "d"}]


def test_sort_is_numeric_for_numbers_and_text_after() -> None:
    assert [i["id"] for i in select(ITEMS, options(TABLE, sort="size"))] == ["a", "b", "d", "c"]
    assert [i["id"] for i in select(ITEMS, options(TABLE, sort="-Item ID"))] == ["d", "c", "b", "a"]


def test_columns_match_keys_or_headers_and_extended_ones() -> None:
    assert [c.key for c in options(TABLE).columns] == ["id", "size"]
    assert [c.key for c in options(TABLE, extended=True).columns] == ["id", "size", "note"]
    assert [c.key for c in options(TABLE, only="item-id, NOTE").columns] == ["id", "note"]
    assert options(TABLE, csv=True).fmt == "csv" and options(TABLE, json_output=True, fmt="json").fmt == "json"


@pytest.mark.parametrize(
    ("kwargs", "flag", "message"),
    [
        ({"only": " , "}, "--columns", "expected a comma-separated list of columns"),
        ({"only": "id,weight"}, "--columns", "expected a column among id, size, note, got 'weight'"),
        ({"filters": ["size"]}, "--filter", "expected COLUMN=TEXT such as id=abc, got 'size'"),
        ({"sort": "-weight"}, "--sort", "got 'weight'"),
        ({"fmt": "xml"}, "--output", "expected one of table, wide, json, csv, yaml, got 'xml'"),
        ({"csv": True, "fmt": "yaml"}, "--csv", "--csv and --output yaml disagree; give one"),
        ({"json_output": True, "csv": True}, "--json", "--json and --csv disagree; give one"),
    ],
)
def test_bad_options_name_the_flag(kwargs: dict[str, Any], flag: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        options(TABLE, **kwargs)
    assert caught.value.option == flag
    assert message in caught.value.message
