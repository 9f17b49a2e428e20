"""Paging risk: a workflow listing whose answer carries paging markers is never taken for the whole account.

Whether Relay pages ``GET /ibot/workflow`` is not public, so relay follows no marker (it would have to guess how).
An answer with one (``next_page_token``, ``has_more``, ``cursor``, ``next``, ``links.next``, a ``total`` above the
items it holds, ...: ``relay_cli.api.shapes.paging_markers``) is used as what it is, one page: every command that
reads it says so on stderr once, and every write decided by what the listing lacks or holds in full refuses with
exit 1 before writing: `apply`'s creates and deletes (--prune, --dedupe), `create --unique`. `export` exits 5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from conftest import API, SUB, stored_workflow

PAGE = [stored_workflow("wf_1", "keep"), stored_workflow("wf_2", "old")]
MANIFEST = (
    '[workflow.keep]\ntype = "call"\ntrigger = "inbound"\nuri = "wss://example.com/keep"\n'
    'install = ["990007560045678"]\n'
)
NEW = '[workflow.new]\ntype = "button"\nuri = "wss://example.com/new"\n'
WARNING = (
    f"warning: {API} answered GET /ibot/workflow with paging markers (has_more): the 2 workflows it holds may be only "
    f"part of account {SUB} (relay reads one page: Relay's paging of this listing is not public)\n"
)


def refusal(what: str) -> str:
    return (
        f"error: {API} answered GET /ibot/workflow with paging markers (has_more), so it may hold only part of "
        f"account {SUB}; {what}\n"
        "hint: relay does not follow paging it does not know (Relay's paging of this listing is not public); nothing "
        "was changed\n"
    )


@pytest.mark.parametrize(
    ("extra", "markers"),
    [
        ({"next_page_token": "abc"}, ["next_page_token"]),
        ({"has_more": True}, ["has_more"]),
        ({"cursor": "c2"}, ["cursor"]),
        ({"next": "https://h/ibot/workflow?page=2"}, ["next"]),
        ({"nextPageToken": 2, "hasMore": 1}, ["nextPageToken", "hasMore"]),
        ({"links": {"self": "x", "next": "y"}}, ["links.next"]),
        ({"total": 5000}, ["total (5000 > 2 items)"]),
        ({"paging": {"cursor": "c", "total_count": 9}}, ["paging.cursor", "paging.total_count (9 > 2 items)"]),
        # what says there is no more page
        ({"next_page_token": None, "has_more": False, "cursor": "", "next": None, "links": {"next": None}}, []),
        ({"total": 2, "count": 2, "more": 0, "page": 1}, []),
    ],
)
def test_paging_markers_are_the_keys_that_say_there_is_more(extra: dict[str, Any], markers: list[str]) -> None:
    from relay_cli.api.shapes import paging_markers

    assert paging_markers({"results": PAGE, **extra}, len(PAGE)) == markers


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        mock.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": PAGE, "has_more": True}))
        mock.route(method__in=["POST", "DELETE"]).mock(
            return_value=httpx.Response(200, json=[{**stored_workflow("wf_9", "new")}])
        )
        yield mock


def writes(api: Any) -> list[str]:
    return [c.request.method for c in api.calls if c.request.method != "GET"]


def manifest(tmp_path: Path, text: str) -> str:
    path = tmp_path / "relay.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("text", "flags", "what"),
    [
        (MANIFEST, ("--prune", "--yes"), "apply refuses to delete 1 workflow on the strength of it"),
        (MANIFEST + NEW, (), "apply refuses to create 1 workflow on the strength of it"),
        (MANIFEST + NEW, ("--prune", "--yes"), "apply refuses to create 1 and delete 1 workflows on the strength of it"),
    ],
)  # fmt: skip
def test_apply_refuses_to_prune_or_create_from_a_listing_that_may_be_a_page(
    run: Any, api: Any, tmp_path: Path, text: str, flags: tuple[str, ...], what: str
) -> None:
    result = run("workflow", "apply", "-f", manifest(tmp_path, text), "-s", SUB, *flags)
    assert writes(api) == []  # main deleted `old` (on page 1 of what may be many) and exited 0
    assert (result.code, result.out) == (1, "")
    assert result.err == WARNING + refusal(what)


def test_apply_still_updates_what_the_page_holds(run: Any, api: Any, tmp_path: Path) -> None:
    result = run("workflow", "apply", "-f", manifest(tmp_path, MANIFEST.replace("/keep", "/kept")), "-s", SUB)
    assert result.code == 0, result.err
    assert writes(api) == ["POST"]
    assert result.err == WARNING + f"Applied to account {SUB}: 0 created, 1 updated, 0 deleted, 0 unchanged.\n"


@pytest.mark.parametrize(
    "argv",
    [
        ("workflow", "list"),
        ("workflow", "list", "--json"),
        ("workflow", "export"),
        ("workflow", "args", "list", "-w", "keep"),
        ("workflow", "create", "button", "-n", "x", "-u", "wss://h/x", "--no-check"),  # no listing: no warning
    ],
)
def test_reads_warn_once_on_stderr(run: Any, api: Any, monkeypatch: pytest.MonkeyPatch, argv: tuple[str, ...]) -> None:
    result = run(*argv, "-s", SUB)
    if "--no-check" in argv:
        assert (result.code, WARNING in result.err) == (0, False)
        return
    assert result.err.count("paging markers") == (2 if argv[1] == "export" else 1)
    assert result.err.startswith(WARNING)
    if argv[1] == "export":
        assert result.code == 5  # it printed what it saw; the account may hold more
        assert result.err.endswith(
            f"error: the manifest does not describe the whole account {SUB}: the listing may be incomplete (its "
            "answer carried paging markers)\nhint: apply --prune never deletes a workflow export left out\n"
        )
    else:
        assert result.code == 0, result.err
    assert writes(api) == []


def test_diff_warns_and_compares_what_it_saw(run: Any, api: Any, tmp_path: Path) -> None:
    result = run("workflow", "diff", "-f", manifest(tmp_path, MANIFEST), "-s", SUB, "--prune")
    assert result.code == 5
    assert result.err == WARNING
    assert result.out.startswith("- delete  old (wf_2)\n")


def test_create_unique_cannot_prove_a_name_unused_from_a_page(run: Any, api: Any) -> None:
    result = run("workflow", "create", "button", "-n", "new", "-u", "wss://h/x", "--unique", "-s", SUB)
    assert (result.code, writes(api)) == (1, [])
    assert result.err == WARNING + refusal("--unique cannot prove the name is unused there, so nothing was created")
    found = run("workflow", "create", "button", "-n", "keep", "-u", "wss://h/x", "--unique", "-s", SUB)
    assert (found.code, writes(api)) == (2, [])  # a name the page holds is taken, page or not
