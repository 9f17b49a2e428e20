"""Install targets as ordered sets: duplicates dropped, first occurrence kept, order of the list preserved.

These are the operations that used ``not in`` on lists (quadratic: 55 s for 100,000 ids); they are now
linear (``benchmarks/bulk_ids.py`` times them). The tests pin the behaviour the rewrite must keep.
"""

from __future__ import annotations

from typing import Any

from relay_cli.core import workflow as wf


def stored(install: list[str] | None = None, rule: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"workflow_id": "wf_1", "name": "w", "config": {}}
    if install is not None:
        body["install"] = install
    if rule is not None:
        body["install_rule"] = rule
    return body


def test_install_target_drops_duplicates_and_keeps_the_first_order() -> None:
    target = wf.install_target(["c", "a", "c", " b ", "a", "b"], False, None)
    assert target.devices == ("c", "a", "b")


def test_with_install_appends_new_ids_in_order_and_drops_the_rule() -> None:
    target = wf.install_target(["d", "b", "e", "d"], False, None)
    assert wf.with_install(stored(["a", "b", "c"]), target)["install"] == ["a", "b", "c", "d", "e"]
    narrowed = wf.with_install(stored(rule=wf.ALL_DEVICES), target)
    assert narrowed["install"] == ["d", "b", "e"]
    assert "install_rule" not in narrowed


def test_without_install_removes_only_the_named_ids_in_order() -> None:
    target = wf.install_target(["c", "x", "a"], False, None)
    workflow = stored(["a", "b", "c", "d"])
    assert wf.without_install(workflow, target)["install"] == ["b", "d"]
    assert wf.not_installed(workflow, target) == ["x"]


def test_large_lists_keep_their_order() -> None:
    ids = [f"d{i}" for i in range(50_000)]
    target = wf.install_target(ids + ids[::-1], False, None)
    assert list(target.devices) == ids
    half = wf.install_target(ids[25_000:] + [f"e{i}" for i in range(10)], False, None)
    assert wf.with_install(stored(ids), half)["install"] == ids + [f"e{i}" for i in range(10)]
    assert wf.without_install(stored(ids), half)["install"] == ids[:25_000]
    assert wf.not_installed(stored(ids), half) == [f"e{i}" for i in range(10)]


def test_some_names_the_first_ten_and_counts_the_rest() -> None:
    assert wf.some(["a", "b"]) == "a, b"
    assert wf.some([str(i) for i in range(12)]) == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 2 more"
