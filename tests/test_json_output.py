"""The ``--json`` text is a stable interface: ``output.to_json`` (the fast writer behind every ``--json``) must
give exactly ``json.dumps(value, indent=2, ensure_ascii=...)``, character for character, for any JSON value, and
leave what it does not handle to ``json.dumps`` (same text, same errors)."""

from __future__ import annotations

import collections
import enum
import json
import math
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings, strategies as st

from relay_cli.output import to_json

from conftest import API, SUB, stored_workflow

#: any code point: control characters, non-ASCII, lone surrogates
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | TEXT
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5) | st.lists(inner, max_size=3).map(tuple) | st.dictionaries(TEXT, inner, max_size=5)
    ),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUES, st.booleans())
def test_same_text_as_json_dumps_indent_2(value: Any, ensure_ascii: bool) -> None:
    assert to_json(value, ensure_ascii=ensure_ascii) == json.dumps(value, indent=2, ensure_ascii=ensure_ascii)


def listed_workflows(count: int) -> list[dict[str, Any]]:
    """Workflows as ``workflow list --json`` prints them: nested objects, empty ones, lists, booleans, numbers."""
    out = []
    for i in range(count):
        timer = {"on_timer": {"start_time": "2030-01-01T09:00:00", "count": i}}
        wf = stored_workflow(f"wf-{i}", f"wf_{i}_é☎", timer)
        wf["config"]["trigger"]["start"]["workflow"]["args"] = {"n": i / 3, "on": i % 2 == 0, "none": None, "l": []}
        wf["options"]["nested"] = {}
        out.append(wf)
    return out


@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_same_text_for_a_listing(ensure_ascii: bool) -> None:
    workflows = listed_workflows(50)
    assert to_json(workflows, ensure_ascii=ensure_ascii) == json.dumps(workflows, indent=2, ensure_ascii=ensure_ascii)


class Color(enum.IntEnum):
    RED = 1


class Name(str):
    pass


@pytest.mark.parametrize(
    "value",
    [
        {1: "a", 2.5: "b", False: "c", None: "d"},  # keys json turns into strings its own way
        collections.OrderedDict([("b", 1), ("a", [1, 2])]),  # a dict subclass
        [Color.RED, {"c": Color.RED}],  # an int subclass: json writes int's text
        {"k": Name("v"), Name("key"): [Name("x")]},  # str subclasses
        [math.nan, -math.inf, 1e300, -0.0, 10**30, True, False, None],
        "a\x1b[31m\u202e\ud800☎",
        [],
        {},
        [[], {}, [[]], {"a": {}}],
    ],
)
@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_the_unusual_values(value: Any, ensure_ascii: bool) -> None:
    assert to_json(value, ensure_ascii=ensure_ascii) == json.dumps(value, indent=2, ensure_ascii=ensure_ascii)


def test_what_json_cannot_write_fails_as_json_dumps_fails() -> None:
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        to_json({"a": [1, {2}]})
    with pytest.raises(TypeError, match="keys must be str, int, float, bool or None, not tuple"):
        to_json({"a": {(1, 2): 3}})
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(ValueError, match="Circular reference detected"):
        to_json(looped)


# --- end to end: `relay workflow list --json` prints exactly json.dumps(indent=2) of the listed workflows ----------


@pytest.fixture
def api() -> Any:
    workflows = listed_workflows(3)
    workflows[1]["config"] = json.dumps(workflows[1]["config"])  # the server may send a config as a JSON string
    workflows[2]["name"] = "tab\there \x1b[2J bidi\u202e"
    with respx.mock(base_url=API, assert_all_called=True, assert_all_mocked=True) as mock:
        mock.get("/ibot/workflow").mock(return_value=httpx.Response(200, json={"results": workflows}))
        yield workflows


def test_workflow_list_json_text(run: Any, api: list[dict[str, Any]]) -> None:
    expected = [dict(wf, config=json.loads(wf["config"])) if isinstance(wf["config"], str) else wf for wf in api]
    result = run("workflow", "list", "-s", SUB, "--json")
    assert result.code == 0, result.err
    assert result.out == json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
    assert result.err == ""
