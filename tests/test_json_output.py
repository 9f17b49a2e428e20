"""The ``--json`` text is a stable interface: ``output.to_json`` (the fast writer behind every ``--json``) must
give exactly ``json.dumps(value, indent=2, ensure_ascii=...)``, character for character, for any JSON value, and
leave what it does not handle to ``json.dumps`` (same text, same errors).

Every test runs twice (the ``writer`` fixture): with orjson, as installed, and without it (``output._indented``
and ``json.dumps`` alone, as where orjson is not installed)."""

from __future__ import annotations

import collections
import enum
import json
import math
import os
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings, strategies as st

from relay_cli import output
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


@pytest.fixture(autouse=True, params=["orjson", "without orjson"])
def writer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "orjson":
        pytest.importorskip("orjson")
        monkeypatch.setattr(output, "_orjson", None)  # found again on first use
    else:
        monkeypatch.setattr(output, "_orjson", False)  # as when it is not installed
    return str(request.param)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
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


class Real(float):
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


# --- the orjson writer: used wherever its text is provably json's, and only there ----------------------------------


def fast_text(value: Any, ensure_ascii: bool) -> str | None:
    """The text of the orjson writer, None when it leaves ``value`` to the other writers."""
    raw = output._orjson_bytes(value, ensure_ascii)
    return None if raw is None else raw.decode()


#: a test about the orjson writer runs once, with it (not also "without orjson", where it would test nothing)
only_orjson = pytest.mark.parametrize("writer", ["orjson"], indirect=True)


@pytest.fixture
def orjson(writer: str) -> Any:
    assert writer == "orjson", "a test of the orjson writer is marked @only_orjson"
    return pytest.importorskip("orjson")


@only_orjson
def test_a_listing_is_written_by_orjson(orjson: Any) -> None:
    workflows = listed_workflows(50)  # floats (i / 3) and nulls: every float is compared with its repr
    assert fast_text(workflows, False) == json.dumps(workflows, indent=2, ensure_ascii=False)
    # non-ASCII text on a stream that wants ASCII: orjson cannot escape it, the other writer does
    assert fast_text(workflows, True) is None
    assert to_json(workflows, ensure_ascii=True) == json.dumps(workflows, indent=2, ensure_ascii=True)


@only_orjson
def test_text_with_no_null_and_no_small_float_is_not_walked(orjson: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    workflows = [{"name": f"wf {i}", "n": i / 7, "big": 1e300, "on": True, "l": [], "d": {}} for i in range(20)]
    monkeypatch.setattr(output, "_floats_as_repr", lambda *a: pytest.fail("walked"))
    assert fast_text(workflows, True) == json.dumps(workflows, indent=2)


@pytest.mark.parametrize(
    "number",
    [1e-5, 2.5e-5, -3e-06, 1e-07, 1.5e-7, 9.99e-5, 1.5e-9, math.nan, math.inf, -math.inf],
)
@only_orjson
def test_a_float_orjson_spells_otherwise_is_left_to_json(orjson: Any, number: float) -> None:
    value = {"name": "single-tap", "n": number, "none": None, "ok": 0.5}
    assert fast_text(value, False) is None
    assert to_json(value, ensure_ascii=False) == json.dumps(value, indent=2, ensure_ascii=False)


@only_orjson
def test_null_or_e_minus_in_strings_costs_a_walk_not_the_fast_writer(orjson: Any) -> None:
    value = {"name": "one-time e-mail", "rate": "0.00001", "n": None, "floats": [0.0001, 1e16, -2.5, 1e22, 0.1, 5e-324]}
    assert fast_text(value, True) == json.dumps(value, indent=2)


@only_orjson
def test_every_float_orjson_spells_otherwise_is_caught(orjson: Any) -> None:
    """What ``_orjson_bytes`` relies on to skip the walk: orjson writes each finite float as ``repr`` does, or with
    "e-" or "0.0000" in its text; NaN and the infinities as null."""
    import random
    import struct

    rng = random.Random(15)
    samples = [struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(100_000)]
    for exponent in range(-330, 310):
        for mantissa in ("1", "1.5", "2.5", "9.999999999999999", "1.2345678901234567", "7"):
            x = float(f"{mantissa}e{exponent}")
            samples += [x, -x, math.nextafter(x, 0), math.nextafter(x, math.inf)]
    samples += [rng.uniform(-1e6, 1e6) for _ in range(20_000)] + [0.0, -0.0, 1e-4, 1e16, 9999999999999998.0]
    missed = []
    for x in samples:
        text = orjson.dumps(x)
        if not math.isfinite(x):
            assert text == b"null"
        elif text != repr(x).encode() and b"e-" not in text and b"0.0000" not in text:
            missed.append(x)
    assert missed == []


@pytest.mark.parametrize(
    "value",
    [
        [2**64],  # beyond 64 bits
        [-(2**63) - 1],
        ["lone \ud800 surrogate"],
        {1: "a"},  # a key that is not a string
        {Name("key"): 1},
        [Name("a str subclass")],
        collections.OrderedDict(a=1),
        [Real(0.5)],  # a float subclass
    ],
)
@only_orjson
def test_what_orjson_refuses_is_left_to_the_other_writers(orjson: Any, value: Any) -> None:
    assert fast_text(value, False) is None
    assert to_json(value, ensure_ascii=False) == json.dumps(value, indent=2, ensure_ascii=False)


@only_orjson
def test_deep_nesting_is_left_to_the_other_writers(orjson: Any) -> None:
    deep: list[Any] = []
    for _ in range(300):
        deep = [deep]
    assert fast_text(deep, False) is None
    assert to_json(deep, ensure_ascii=False) == json.dumps(deep, indent=2, ensure_ascii=False)


@only_orjson
def test_del_is_escaped_on_an_ascii_stream(orjson: Any) -> None:
    value = {"a": "x\x7fy"}
    assert fast_text(value, True) is None
    assert to_json(value, ensure_ascii=True) == json.dumps(value, indent=2) == '{\n  "a": "x\\u007fy"\n}'
    assert fast_text(value, False) == json.dumps(value, indent=2, ensure_ascii=False)


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "utf-8"])
def test_print_json_on_a_stream_of_any_encoding(monkeypatch: pytest.MonkeyPatch, encoding: str) -> None:
    import io

    value = [{"name": "caf\u00e9 \U0001f600", "n": 1}, {"name": "plain", "n": None}]
    stream = io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    monkeypatch.setattr("sys.stdout", stream)
    output.print_json(value)
    stream.flush()
    utf8 = encoding == "utf-8"
    assert stream.buffer.getvalue().decode(encoding) == json.dumps(value, indent=2, ensure_ascii=not utf8) + "\n"


def test_without_orjson_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setattr(output, "_orjson", None)
    monkeypatch.setitem(sys.modules, "orjson", None)  # import orjson raises ImportError
    workflows = listed_workflows(5)
    assert to_json(workflows, ensure_ascii=False) == json.dumps(workflows, indent=2, ensure_ascii=False)
    assert output._orjson is False


def test_an_orjson_that_writes_floats_otherwise_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    # orjson before 3.11.7 wrote 1e16 where json writes 1e+16
    old = types.SimpleNamespace(dumps=lambda x, option=0: repr(x).replace("e+", "e").encode())
    monkeypatch.setattr(output, "_orjson", None)
    monkeypatch.setitem(sys.modules, "orjson", old)
    assert output._orjson_module() is False
    assert to_json([1e16]) == "[\n  1e+16\n]"


@pytest.mark.skipif(os.name != "posix", reason="the bytes are written as they are where a line end is \\n")
@pytest.mark.parametrize("unbuffered", ["", "1"])  # PYTHONUNBUFFERED: stdout's binary layer is the raw file
@only_orjson
def test_print_json_on_the_process_stdout_keeps_the_order_of_what_was_written(orjson: Any, unbuffered: str) -> None:
    """On the process's own UTF-8 stdout, orjson's bytes go straight to its binary buffer: text written before
    (still buffered) comes first, text written after comes after, and the bytes are exactly json's."""
    import subprocess
    import sys

    value = [{"name": "caf\u00e9 \U0001f600", "n": 0.5, "l": [], "d": {}}]
    script = (
        "import sys; from relay_cli import output\n"
        "written = []; real = output._write_bytes\n"
        "output._write_bytes = lambda stream, raw: written.append(real(stream, raw)) or written[-1]\n"
        "sys.stdout.write('before\\n'); output.print_json(" + repr(value) + "); sys.stdout.write('after\\n')\n"
        "print(written, file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "PYTHONUNBUFFERED": unbuffered}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    expected = "before\n" + json.dumps(value, indent=2, ensure_ascii=False) + "\nafter\n"
    assert done.stdout == expected.encode()
    assert done.stderr.decode().strip() == "[True]"  # the bytes went to the binary buffer


@only_orjson
def test_a_raw_stdout_that_takes_part_of_each_write_gets_every_byte(
    orjson: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import sys

    class Partial(io.RawIOBase):  # a raw file (an unbuffered stdout) taking at most 1,000 bytes a call
        def __init__(self) -> None:
            self.taken = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, data: Any) -> int:
            self.taken += bytes(data[:1000])
            return min(len(data), 1000)

    raw = Partial()
    stream = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)  # type: ignore[arg-type]
    monkeypatch.setattr(sys, "__stdout__", stream)
    monkeypatch.setattr(sys, "stdout", output.GuardedStream(stream, "stdout"))
    value = listed_workflows(20)
    output.print_json(value)
    assert bytes(raw.taken) == (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()
