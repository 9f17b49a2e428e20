"""The ``--json`` text is a stable interface. Every ``--json`` is written by one writer, ``output.to_json``
(orjson), and its text is ``json.dumps(value, indent=2)``'s for what commands print — objects, arrays, strings
(control characters, non-ASCII, lone surrogates), integers of any size, booleans, null and floats — with two
documented exceptions, each the same JSON value: a float below 1e-4 in size as orjson spells it (``1e-7``,
``0.000025``, where json.dumps writes ``1e-07``, ``2.5e-05``), and NaN and the infinities, which JSON cannot hold, as ``null``. Where stdout cannot
take UTF-8, the text is ASCII with ``\\uXXXX`` escapes (``ensure_ascii=True``'s text)."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings, strategies as st

from relay_cli.output import Output, to_json

from conftest import API, SUB, stored_workflow

#: any code point: control characters, DEL, non-ASCII, lone surrogates
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
#: floats json.dumps and orjson write alike: 0 and every finite float of 1e-4 or more in size
FLOATS = st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x == 0 or abs(x) >= 1e-4)
SCALARS = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | FLOATS | TEXT
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TEXT, inner, max_size=5), max_leaves=40
)


# 150 examples a run (each run draws new ones), each value written four ways
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUES, st.booleans())
def test_the_text_of_json_dumps(value: Any, ascii: bool) -> None:  # noqa: A002 - to_json's name for it
    assert to_json(value, ascii=ascii) == json.dumps(value, indent=2, ensure_ascii=ascii)
    compact = json.dumps(value, separators=(",", ":"), ensure_ascii=ascii)
    assert to_json(value, indent=False, ascii=ascii) == compact


@pytest.mark.parametrize(
    "value",
    [
        [2**64, -(2**63) - 1],  # beyond 64 bits: orjson refuses, json writes them
        {"name": "lone \ud800 surrogate"},
        "a\x1b[31m\u202e\x7f\ud800☎ \U0001f600",
        [[], {}, [[]], {"a": {}}],
    ],
)
@pytest.mark.parametrize("ascii", [False, True])
def test_what_orjson_refuses_is_the_same_text(value: Any, ascii: bool) -> None:  # noqa: A002
    assert to_json(value, ascii=ascii) == json.dumps(value, indent=2, ensure_ascii=ascii)


def test_deep_nesting_is_the_same_text() -> None:
    deep: list[Any] = []
    for _ in range(300):  # deeper than orjson goes
        deep = [deep]
    assert to_json(deep) == json.dumps(deep, indent=2)


def test_the_two_documented_spellings() -> None:
    assert to_json([1e-7, 2.5e-5, 0.0001, -0.0, 1e16]) == "[\n  1e-7,\n  0.000025,\n  0.0001,\n  -0.0,\n  1e+16\n]"
    assert to_json([math.nan, math.inf, -math.inf], indent=False) == "[null,null,null]"


def test_what_json_cannot_write_is_an_error() -> None:
    with pytest.raises(TypeError):
        to_json({"a": [1, {2}]})
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(ValueError, match="Circular reference detected"):
        to_json(looped)


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "utf-8"])
def test_json_on_a_stdout_of_any_encoding(encoding: str) -> None:
    value = [{"name": "caf\u00e9 \U0001f600\x7f", "n": 1}, {"name": "plain", "n": None}]
    stream = io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    Output(stdout=stream).json(value)
    utf8 = encoding == "utf-8"
    assert stream.buffer.getvalue().decode(encoding) == json.dumps(value, indent=2, ensure_ascii=not utf8) + "\n"


# --- end to end: `relay workflow list --json` prints exactly json.dumps(indent=2) of the listed workflows ----------


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


def test_workflow_list_json_text_on_an_ascii_stdout(run: Any, api: list[dict[str, Any]]) -> None:
    expected = [dict(wf, config=json.loads(wf["config"])) if isinstance(wf["config"], str) else wf for wf in api]
    result = run("workflow", "list", "-s", SUB, "--json", out=Output(encoding="ascii"))
    assert result.code == 0, result.err
    assert result.out == json.dumps(expected, indent=2) + "\n"
