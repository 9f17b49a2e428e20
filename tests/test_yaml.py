"""``--output yaml`` read back by real YAML parsers: PyYAML's safe_load (YAML 1.1 resolution) and a PyYAML
loader with the YAML 1.2 core schema's resolution rules. Whatever the data, both must give back exactly what
``--json`` prints: an argument named ``on`` or ``123`` stays a string, ``"no"`` stays a string, and so on."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import respx
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from relay_cli.output import to_yaml

from conftest import API, SUB, stored_workflow


class Core12Loader(yaml.SafeLoader):
    """PyYAML's parser with the implicit types of the YAML 1.2 core schema (spec 1.2.2, section 10.3.2)
    instead of YAML 1.1's: only true/false are booleans, ``~``/``null``/empty are null, ``0o17`` and ``0x1f``
    are integers, ``1e3`` is a float; ``on``, ``yes``, ``1_000`` and ``12:30`` are strings."""


Core12Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN"),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
):
    Core12Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _core12_int(loader: Any, node: Any) -> int:
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    return int(text, 16) if text.startswith("0x") else int(text, 10)  # "010" is ten in YAML 1.2, not eight


Core12Loader.add_constructor("tag:yaml.org,2002:int", _core12_int)


def read_back(text: str) -> Any:
    """What a YAML 1.1 reader and a YAML 1.2 reader both read from ``text`` (the test fails if they differ)."""
    as_11 = yaml.safe_load(text)
    as_12 = yaml.load(text, Loader=Core12Loader)  # noqa: S506 - a safe loader with other implicit types
    assert as_11 == as_12, text
    return as_11


def test_the_yaml_12_reader_of_this_test_differs_from_yaml_11() -> None:
    """The two readers must disagree where YAML 1.1 and 1.2 disagree, or the second checks nothing."""
    assert yaml.safe_load("[on, yes, 010, 1e3, 1_000]") == [True, True, 8, "1e3", 1000]
    assert yaml.load("[on, yes, 010, 1e3, 1_000]", Loader=Core12Loader) == ["on", "yes", 10, 1000.0, "1_000"]  # noqa: S506


#: words and characters a YAML reader would take for something other than a string, or for syntax
HOSTILE = [
    "on",
    "off",
    "On",
    "OFF",
    "yes",
    "no",
    "Yes",
    "NO",
    "y",
    "n",
    "Y",
    "N",
    "true",
    "False",
    "TRUE",
    "null",
    "Null",
    "NULL",
    "~",
    "",
    "123",
    "-7",
    "+7",
    "0",
    "007",
    "010",
    "1e3",
    "1E3",
    "1.5",
    ".5",
    "1_000",
    "0x10",
    "0o17",
    "0b11",
    "12:30",
    "12:30:45",
    "2030-01-01",
    "2030-01-01T09:00:00Z",
    ".inf",
    "-.inf",
    ".nan",
    "NaN",
    "Infinity",
    "=",
    "<<",
    "-",
    "- ",
    "- x",
    "--- ",
    "---",
    "...",
    ":",
    ": ",
    "a: b",
    "a:b",
    "a :b",
    "#",
    " #",
    "a #b",
    "a#b",
    "?",
    "? x",
    ",",
    "[",
    "]",
    "{",
    "}",
    "[a, b]",
    "{a: b}",
    ">",
    "|",
    ">-",
    "|+",
    "*",
    "*a",
    "&",
    "&a",
    "!",
    "!!str",
    "!x",
    "%",
    "%YAML 1.2",
    "@",
    "`",
    "'",
    "''",
    '"',
    '""',
    "\\",
    "\\n",
    "a\\",
    " ",
    "  ",
    " lead",
    "trail ",
    " both ",
    "\t",
    "a\tb",
    "\n",
    "line1\nline2",
    "line\n",
    "\r\n",
    "\r",
    "é",
    "naïve",
    "日本語",
    "😀",
    "a😀b",
    "\u00a0",
    "\u0085",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\ufffd",
    "\x00",
    "\x07",
    "\x1b[31mred",
    "\x7f",
    "\x80",
    "\x9f",
    "\u202e",
    "x" * 300,
    "é" * 200,
    "auto_answer",
    "with-dash",
    "_private",
    "CamelCase",
    "wss://host:8080/path?q=1#frag",
    "a, b",
    "%20",
]


def workflows_with(values: list[Any]) -> list[dict[str, Any]]:
    """Workflows whose args use every hostile text as a key and as a value, and whose other fields hold every
    JSON shape: empty and nested objects and lists, numbers, booleans and null."""
    wfs = []
    for i, text in enumerate(values):
        wf = stored_workflow(f"wf-{i:03d}", text or "unnamed")
        wf["config"]["trigger"]["start"]["workflow"]["args"] = {text: text, f"{text}-{i}": i, "k": text}
        wfs.append(wf)
    shapes = stored_workflow("wf-shapes", "shapes")
    shapes["extra"] = {
        "empty_object": {},
        "empty_list": [],
        "nested": [[[]], [{}], [[1, [2, {"a": []}]]], {"b": {"c": {}}}],
        "numbers": [0, -1, 2**63, -(2**70), 1.5, -0.0, 1e20, 1e-7, 5e-324, 1.7976931348623157e308, 123456789.125],
        "scalars": [True, False, None, "true", "null", ""],
        "list_of_objects": [{"a": 1, "b": [None]}, {"": ""}],
        "on": True,
        "123": 123,
        "null": None,
        "": [],
        "a: b": {"- x": "#"},
    }
    wfs.append(shapes)
    return wfs


@pytest.fixture
def answer() -> dict[str, Any]:
    return {"results": workflows_with(HOSTILE)}


@pytest.fixture
def api(answer: dict[str, Any]) -> Any:
    with respx.mock(base_url=API, assert_all_called=True, assert_all_mocked=True) as mock:
        mock.get("/ibot/workflow", params={"subscriber_id": SUB}).mock(
            side_effect=lambda _: httpx.Response(200, json=answer)
        )
        yield mock


def test_output_yaml_reads_back_as_the_json_output(run: Any, api: Any, answer: dict[str, Any]) -> None:
    as_json = run("workflow", "list", "-s", SUB, "--json")
    as_yaml = run("workflow", "list", "-s", SUB, "--output", "yaml")
    assert (as_json.code, as_yaml.code, as_yaml.err) == (0, 0, "")
    assert as_json.json() == answer["results"]  # the JSON output is the data itself, the reference for YAML
    assert read_back(as_yaml.out) == as_json.json()


def test_hostile_keys_and_values_are_quoted(run: Any, api: Any, answer: dict[str, Any]) -> None:
    wf = stored_workflow("wf-1", "on")
    wf["config"]["trigger"]["start"]["workflow"]["args"] = {
        "on": "off",
        "123": "1e3",
        "yes": True,
        "~": None,
        "- x": "#",
        "a: b": "",
        "ok_key-2": 0x10,
        "y": 1.0e20,
    }
    answer["results"] = [wf]
    result = run("workflow", "list", "-s", SUB, "-o", "yaml")
    assert result.code == 0
    args = result.out.split("args:\n", 1)[1].split("\n      on_incoming_call", 1)[0]
    assert args == (
        '            "on": "off"\n'
        '            "123": "1e3"\n'
        '            "yes": true\n'
        '            "~": null\n'
        '            "- x": "#"\n'
        '            "a: b": ""\n'
        "            ok_key-2: 16\n"
        '            "y": 1.0e+20'
    )
    assert '  name: "on"\n' in result.out
    assert read_back(result.out)[0]["config"]["trigger"]["start"]["workflow"]["args"] == {
        "on": "off",
        "123": "1e3",
        "yes": True,
        "~": None,
        "- x": "#",
        "a: b": "",
        "ok_key-2": 16,
        "y": 1e20,
    }


@pytest.mark.parametrize("text", HOSTILE)
def test_every_hostile_text_as_key_and_value(text: str) -> None:
    data = {text: text, "list": [text, {text: [text]}], "nested": {text: {text: text}}}
    assert read_back(to_yaml(data)) == data
    assert read_back(to_yaml([text])) == [text] and read_back(to_yaml(text)) == text


def test_escapes_are_plain_yaml() -> None:
    """Control characters, line separators and the byte order mark are written as escapes, never raw (a YAML
    reader refuses some raw and takes others for line breaks); text a terminal shows is written as it is."""
    text = 'a\x00b\x07\x1b\x7f\x85\x9f\u2028\u2029\ufeff\t\n\r"\\é😀'
    assert to_yaml(text) == '"a\\0b\\x07\\x1b\\x7f\\x85\\x9f\\u2028\\u2029\\ufeff\\t\\n\\r\\"\\\\é😀"'
    assert read_back(to_yaml(text)) == text


def test_long_keys_are_explicit() -> None:
    """A YAML reader takes at most 1024 characters for an implicit key: a longer one is written "? KEY"."""
    key = "k" * 2000
    data = {key: {key: [1, {key: None}]}, "short": [key], f"on{key}": 1, "é" * 200: "é" * 200}
    assert to_yaml(data) == (
        f"? {key}\n:\n  ? {key}\n  :\n    - 1\n    - ? {key}\n      : null\n"
        f'short:\n  - "{key}"\n? on{key}\n: 1\n? "{"é" * 200}"\n: "{"é" * 200}"'
    )
    assert read_back(to_yaml(data)) == data


# --- any JSON-like data -------------------------------------------------------------------------------

#: every character, surrogates included (json.loads gives them from "\ud800" escapes), biased to the hostile
TEXT = st.one_of(st.sampled_from(HOSTILE), st.text(st.characters(codec=None, exclude_categories=()), max_size=12))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    TEXT,
)
JSON_LIKE = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(TEXT, inner, max_size=5)),
    max_leaves=25,
)


# 120 examples a run (each run draws new ones; TEXT leans on the hostile strings): a PyYAML read-back each
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_LIKE)
def test_any_json_like_data_reads_back_exactly(data: Any) -> None:
    assert read_back(to_yaml(data)) == data
