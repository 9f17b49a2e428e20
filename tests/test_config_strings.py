"""The API's answers, and the configs it sends as JSON strings, are decoded by ``shapes.loads`` (orjson, with
``json.loads`` for what orjson refuses or would decode otherwise): the same value, or the same refusal, as
``json.loads`` for any text, as ``str`` or as ``bytes``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from relay_cli.api import shapes

TEXTS = [
    '{"a": 1}', ' {"a": 1}', '{"a": 1}\n', '\t{"a": [1, 2.5, null, true]}\r\n', '\ufeff{"a": 1}', '{"a": 1} x',
    '{"a": 1}{"b": 2}', '{"a": NaN, "b": -Infinity}', '{"a": 1e400}', '{"a": 123456789012345678901234567890}',
    '{"a": "\x01"}', '{"a": "\\ud800"}', '{"a": 1,}', '[1, 2', "", "   ", "null", '"text"', "[" * 100_000,
    '{"a": 1, "a": 2}', "{\"a\": 'b'}", '{"a":\u00a01}', "18446744073709551615", "18446744073709551616",
    "-9223372036854775808", "-9223372036854775809", "[1e400, -1e400, 5e-324, 2.2250738585072011e-308]",
    '"\\ud83d\\ude00"', '"\\udc00\\ud800"', '"\ud800"', '"a\\u0000b"', "0.1000000000000000055511151231257827",
    '{"id": "1234567890123456789"}', "-0", "-0.0", "1E+2",
]  # fmt: skip


def outcome(parse: Any, text: str) -> tuple[str, Any]:
    try:
        return "value", parse(text)
    except RecursionError:
        return "error", "RecursionError"
    except ValueError as exc:
        return "error", str(exc)


def same_as_json(text: str) -> None:
    """``shapes.loads`` decodes ``text``, and its UTF-8 bytes when it has some, as ``json.loads`` does: the same
    types, values (``-0.0``, ``nan``), key order, and the same error."""
    assert repr(outcome(shapes.loads, text)) == repr(outcome(json.loads, text))
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: a str only
        return
    assert repr(outcome(shapes.loads, raw)) == repr(outcome(json.loads, raw))


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_same_value_or_error_as_json_loads(text: str) -> None:
    same_as_json(text)


JSONISH = st.text(st.sampled_from(list('{}[]",: \t\n\r0123456789.eE+-truefalsnNIyi\\u\ufeff\x00a')), max_size=30)


@settings(max_examples=250, deadline=None)
@given(JSONISH)
def test_same_value_or_error_for_any_text(text: str) -> None:
    same_as_json(text)


#: JSON values with what orjson and json decode differently in them: integers of any size, every float (NaN and
#: the infinities, which json writes as NaN and Infinity), strings with any code point, lone surrogates included
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(st.characters(codec=None)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=250, deadline=None)
@given(VALUES, st.booleans(), st.sampled_from([None, 2]), st.sampled_from([(", ", ": "), (",", ":")]))
def test_same_value_as_json_loads_for_any_json_text(
    value: object, ascii_only: bool, indent: int | None, separators: tuple[str, str]
) -> None:
    same_as_json(json.dumps(value, ensure_ascii=ascii_only, indent=indent, separators=separators))


def test_configs_are_parsed_in_their_place() -> None:
    workflows = [
        {"workflow_id": "a", "config": json.dumps({"trigger": {"on_http": "POST"}}), "name": "first"},
        {"workflow_id": "b", "config": {"trigger": {}}, "name": "second"},
        {"workflow_id": "c", "name": "no config"},
    ]
    parsed = shapes.parse_configs(workflows, "results")
    assert parsed == [
        {"workflow_id": "a", "config": {"trigger": {"on_http": "POST"}}, "name": "first"},
        {"workflow_id": "b", "config": {"trigger": {}}, "name": "second"},
        {"workflow_id": "c", "name": "no config"},
    ]
    assert [list(w) for w in parsed] == [["workflow_id", "config", "name"], ["workflow_id", "config", "name"],
                                         ["workflow_id", "name"]]  # fmt: skip
