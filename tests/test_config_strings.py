"""Configs the API sends as JSON strings are parsed by ``shapes.parse_configs`` with a quicker
path than ``json.loads`` per string (a listing has thousands): the same value, or the same refusal, for any
text."""

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
    '{"a": 1, "a": 2}', "{\"a\": 'b'}", '{"a":\u00a01}',
]  # fmt: skip


def outcome(parse: Any, text: str) -> tuple[str, Any]:
    try:
        return "value", parse(text)
    except RecursionError:
        return "error", "RecursionError"
    except ValueError as exc:
        return "error", str(exc)


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_same_value_or_error_as_json_loads(text: str) -> None:
    assert repr(outcome(shapes._loads, text)) == repr(outcome(json.loads, text))


JSONISH = st.text(st.sampled_from(list('{}[]",: \t\n\r0123456789.eE+-truefalsnNIyi\\u\ufeff\x00a')), max_size=30)


@settings(max_examples=500, deadline=None)
@given(JSONISH)
def test_same_value_or_error_for_any_text(text: str) -> None:
    assert repr(outcome(shapes._loads, text)) == repr(outcome(json.loads, text))


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
