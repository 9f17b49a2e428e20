"""``relay tag create | list | update | delete``: the exact requests and bodies, and the sandbox."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from conftest import API, SUB, clean, sent

TAGS = [
    {
        "tag_id": "t-1",
        "uid": "04AB",
        "counter": 1,
        "subscriber_id": SUB,
        "content": {"type": "custom", "category": "rooms", "label": "r101"},
    },
    {
        "tag_id": "t-2",
        "uid": "",
        "counter": 0,
        "subscriber_id": SUB,
        "content": {"type": "custom", "category": "carts", "label": "c1"},
    },
    {
        "tag_id": "t-3",
        "uid": "",
        "counter": 0,
        "subscriber_id": SUB,
        "content": {"type": "user_profile", "category": "people", "label": "p", "type_id": "u1"},
    },
]
Q = {"subscriber_id": SUB}


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as mock:
        mock.get("/ibot/relay_nfc_tag").mock(return_value=httpx.Response(200, json={"results": TAGS}))
        mock.post("/ibot/relay_nfc_tag").mock(return_value=httpx.Response(200, json={"tag_id": "t-9"}))
        mock.get("/ibot/relay_nfc_tag/t-1").mock(return_value=httpx.Response(200, json=TAGS[0]))
        mock.put("/ibot/relay_nfc_tag/t-1").mock(return_value=httpx.Response(204))
        mock.delete("/ibot/relay_nfc_tag/t-1").mock(return_value=httpx.Response(204))
        yield mock


def body(api: Any) -> Any:
    return json.loads(api.calls.last.request.content)


def test_create(run: Any, api: Any) -> None:
    result = run("tag", "create", "-c", "rooms", "-l", "r102", "-a", "floor=1", "-a", "wing=east=2", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [("POST", "/ibot/relay_nfc_tag", Q)]
    assert body(api) == {
        "content": {"type": "custom", "category": "rooms", "label": "r102", "floor": "1", "wing": "east=2"}
    }
    assert result.err == "Created tag r102 (t-9)\n"
    clean(result)


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["-a", "category=x"], "--arg"),
        (["-a", "label=x"], "--arg"),
        (["-a", "type=x"], "--arg"),
        (["-a", "novalue"], "--arg"),
        (["--type", "bogus"], "--type"),
        (["-c", ""], "--category"),
    ],
)
def test_create_bad_input(run: Any, api: Any, args: list[str], flag: str) -> None:
    base = ["tag", "create", "-l", "x", "-s", SUB]
    if "-c" not in args:
        base += ["-c", "rooms"]
    result = run(*base, *args)
    assert result.code == 2
    assert sent(api) == []
    assert len(result.err.strip().splitlines()) == 1 and flag in result.err


def test_list_filters_custom_by_default(run: Any, api: Any) -> None:
    result = run("tag", "list", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [("GET", "/ibot/relay_nfc_tag", Q)]
    assert result.out == (
        "TAG ID  CATEGORY  LABEL  PAIRED  UID\nt-1     rooms     r101   yes     04AB\nt-2     carts     c1     no\n"
    )
    assert run("tag", "list", "-c", "rooms", "-s", SUB, "--json").json() == [TAGS[0]]
    assert run("tag", "list", "--type", "user_profile", "-s", SUB, "--json").json() == [TAGS[2]]
    empty = run("tag", "list", "-c", "none", "-s", SUB)
    assert (empty.code, empty.out, empty.err) == (0, "", "No tags configured.\n")


@pytest.mark.parametrize("ident", [["t-1"], ["-t", "t-1"], ["--tag-id", "t-1"]])
def test_update(run: Any, api: Any, ident: list[str]) -> None:
    result = run("tag", "update", *ident, "-c", "rooms", "-l", "r201", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [("GET", "/ibot/relay_nfc_tag/t-1", Q), ("PUT", "/ibot/relay_nfc_tag/t-1", Q)]
    assert body(api) == {"content": {"type": "custom", "category": "rooms", "label": "r201"}}
    assert result.err == "Updated tag t-1\n"


def test_update_without_id_is_exit_2(run: Any, api: Any) -> None:
    result = run("tag", "update", "-c", "rooms", "-l", "x", "-s", SUB)
    assert result.code == 2 and sent(api) == [] and "--tag-id" in result.err


def test_delete_fetches_then_deletes(run: Any, api: Any) -> None:
    result = run("tag", "delete", "t-1", "--yes", "-s", SUB)
    assert result.code == 0, result.err
    assert sent(api) == [("GET", "/ibot/relay_nfc_tag/t-1", Q), ("DELETE", "/ibot/relay_nfc_tag/t-1", Q)]
    assert result.err == "Deleted tag t-1 (r101)\n"


def test_delete_needs_yes_without_a_terminal(run: Any, api: Any) -> None:
    result = run("tag", "delete", "-t", "t-1", "-s", SUB)
    assert result.code == 2 and sent(api) == [] and "--yes" in result.err


def test_delete_unknown_is_exit_3_and_deletes_nothing(run: Any, api: Any) -> None:
    api.get("/ibot/relay_nfc_tag/nope").mock(return_value=httpx.Response(404, json={"error": "not_found"}))
    result = run("tag", "delete", "nope", "--yes", "-s", SUB)
    assert result.code == 3
    assert sent(api) == [("GET", "/ibot/relay_nfc_tag/nope", Q)]
    clean(result)


def test_tags_on_the_sandbox(run: Any) -> None:
    result = run("-P", "local", "tag", "create", "-c", "rooms", "-l", "r101", "-a", "floor=1", "--json")
    assert result.code == 0, result.err
    tid = result.json()["tag_id"]
    assert run("-P", "local", "tag", "update", tid, "-c", "rooms", "-l", "r102").code == 0
    listed = run("-P", "local", "tag", "list", "-c", "rooms", "--json").json()
    assert [t["content"] for t in listed] == [{"type": "custom", "category": "rooms", "label": "r102"}]
    assert run("-P", "local", "tag", "delete", tid, "--yes").code == 0
    assert run("-P", "local", "tag", "list", "--json").json() == []
    assert run("-P", "local", "tag", "delete", tid, "--yes").code == 3
    assert run("-P", "local", "tag", "update", tid, "-c", "a", "-l", "b").code == 3
