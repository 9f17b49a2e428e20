"""The shapes of the Relay API's answers, and the check each answer passes before a caller sees it.

Each ``RelayClient`` method names the shape it needs (``WORKFLOWS``, ``DEVICES``, ...). ``problem(shape, value)``
says, in words that quote nothing the server sent (no value, no key it chose), where the answer differs:
``results[1] is a string, not an object``. Keys a shape does not name are allowed (the API may add fields).
Every answer passes ``Shape.ok``, which builds no strings; only a failed one is asked why (``problem``).

A shape is also the type its answer has once checked (``Shape[T]``: ``ok`` is a type guard): ``STRING`` is a
``str``, ``OBJECTS`` a list of objects, ``RESULTS`` a ``Results`` (whose ``results`` is a list of objects).
"""

from __future__ import annotations

import bisect
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Generic, NotRequired, TypedDict, TypeGuard, TypeVar

import orjson

from ..core.kinds import json_kind as kind
from ..jsontypes import JSONObject, JSONValue

T = TypeVar("T", covariant=True)

#: the Python type each JSON kind decodes to (``json.loads`` makes exactly these)
_TYPES: dict[str, tuple[type, ...]] = {
    "null": (type(None),), "a boolean": (bool,), "a number": (int, float), "a string": (str,), "a list": (list,),
    "an object": (dict,),
}  # fmt: skip


class Shape(Generic[T]):
    """``ok(value)`` is the fast check every answer passes (and the proof that ``value`` is a ``T``);
    ``problem(value, at)`` says what is wrong, and is only asked once ``ok`` said no. ``Shape`` itself is any
    JSON value."""

    #: how the shape reads in an error message, e.g. ``{"devices": [string, ...]}``
    text: str = "JSON"

    def ok(self, value: object) -> TypeGuard[T]:
        return True

    def problem(self, value: object, at: str) -> str | None:
        """None when ``value`` (found at ``at``, a path such as ``results[2]``) has this shape, else why not."""
        return None


def _it(at: str) -> str:
    return at or "the answer"


@dataclass
class Scalar(Shape[T]):
    """One of the named JSON kinds ("a string", "a number", "null", ...); ``nonempty`` refuses ""."""

    kinds: tuple[str, ...]
    text: str = "string"
    nonempty: bool = False

    def __post_init__(self) -> None:
        self._types = frozenset(t for k in self.kinds for t in _TYPES[k])

    def ok(self, value: object) -> TypeGuard[T]:
        return type(value) in self._types and not (self.nonempty and value == "")

    def problem(self, value: object, at: str) -> str | None:
        if type(value) not in self._types:
            return f"{_it(at)} is {kind(value)}, not {' or '.join(self.kinds)}"
        if self.nonempty and value == "":
            return f"{_it(at)} is an empty string"
        return None


@dataclass
class Obj(Shape[T]):
    """An object with at least the ``required`` keys, each of its shape; ``optional`` keys are checked when present."""

    required: dict[str, Shape[object]] = field(default_factory=dict)
    optional: dict[str, Shape[object]] = field(default_factory=dict)
    text: str = ""

    def __post_init__(self) -> None:
        if not self.text:
            inner = ", ".join(f'"{key}": {shape.text}' for key, shape in self.required.items())
            self.text = f"{{{inner}}}" if inner else "object"
        self._required = tuple(self.required.items())
        self._optional = tuple(self.optional.items())

    def ok(self, value: object) -> TypeGuard[T]:
        if type(value) is not dict:
            return False
        for key, shape in self._required:
            if key not in value or not shape.ok(value[key]):
                return False
        for key, shape in self._optional:
            if key in value and not shape.ok(value[key]):
                return False
        return True

    def problem(self, value: object, at: str) -> str | None:
        if not isinstance(value, dict):
            return f"{_it(at)} is {kind(value)}, not an object"
        for key, shape in (*self._required, *self._optional):
            where = f"{at}.{key}" if at else key
            if key not in value:
                if key in self.required:
                    return f"{where} is missing"
                continue
            found = shape.problem(value[key], where)
            if found:
                return found
        return None


@dataclass
class ListOf(Shape[list[T]]):
    item: Shape[T]
    nonempty: bool = False
    text: str = ""

    def __post_init__(self) -> None:
        if not self.text:
            self.text = f"[{self.item.text}, ...]" + (" (at least one)" if self.nonempty else "")
        #: a list of scalars that may be empty strings (install ids: 16,000 in a listing of 10,000 workflows):
        #: checked by each item's type alone, without a call per item
        item = self.item
        self._types = item._types if isinstance(item, Scalar) and not item.nonempty else None

    def ok(self, value: object) -> TypeGuard[list[T]]:
        if type(value) is not list or (self.nonempty and not value):
            return False
        types = self._types
        if types is not None:
            for item in value:
                if type(item) not in types:
                    return False
            return True
        return all(map(self.item.ok, value))

    def problem(self, value: object, at: str) -> str | None:
        if not isinstance(value, list):
            return f"{_it(at)} is {kind(value)}, not a list"
        if self.nonempty and not value:
            return f"{_it(at)} is an empty list"
        for i, item in enumerate(value):
            if not self.item.ok(item):
                return self.item.problem(item, f"{at}[{i}]")
        return None


@dataclass
class Nullable(Shape[T | None]):
    """``inner``, or null (a field the API may send as null when it has nothing to say)."""

    inner: Shape[T]
    text: str = ""

    def __post_init__(self) -> None:
        if not self.text:
            self.text = f"{self.inner.text} or null"

    def ok(self, value: object) -> TypeGuard[T | None]:
        return value is None or self.inner.ok(value)

    def problem(self, value: object, at: str) -> str | None:
        return None if value is None else self.inner.problem(value, at)


class Mismatch(Exception):
    """An answer of the right shape whose content cannot be used; the message says where, quoting nothing."""


def parse_configs(workflows: list[JSONObject], at: str, *, holding: tuple[str, ...] | None = None) -> list[JSONObject]:
    """The workflows with a ``config`` given as a JSON string parsed (the Relay API may send a
    workflow's config as a JSON string), each parsed once and put in its place (the workflows are the caller's own, freshly decoded
    answer). A string that is not a JSON object is a ``Mismatch``: a workflow sent back with its config lost
    (``install``, ``args set``, ``apply``) would lose its trigger.

    ``holding``: parse only the configs whose text holds one of these words (or a backslash, which could spell
    one in an escape); the others stay the text they came as, for a caller that reads nothing else of them and
    sends none back (the preflight of ``create call`` reads the call workflows' triggers: 2 of 13 kinds)."""
    for i, workflow in enumerate(workflows):
        config = workflow.get("config")
        if isinstance(config, str):
            if holding is not None and "\\" not in config and not any(word in config for word in holding):
                continue
            try:
                parsed = loads(config)
            except (ValueError, RecursionError):
                raise Mismatch(f"{at}[{i}].config is a string that is not JSON") from None
            if not isinstance(parsed, dict):
                raise Mismatch(f"{at}[{i}].config is a string holding {kind(parsed)}, not an object")
            workflow["config"] = parsed
    return workflows


_PLAIN_START = re.compile(r'\s*\{\s*"results"\s*:\s*\[\s*')
#: between two workflows of a listing: a "}", a comma and a "{", white space around the comma (the cut captured)
_BETWEEN = re.compile(r"(\}\s*,\s*\{)")


def scan_listing(body: bytes, holding: tuple[str, ...]) -> tuple[list[JSONObject], int] | None:
    """Of a ``GET /ibot/workflow`` answer, the workflows whose JSON text holds one of the words ``holding``,
    decoded, checked (``WORKFLOW``) and their configs parsed (``parse_configs``), and the number of workflows it
    holds; the others are not decoded (10,000 workflows are 3.5 MB of JSON: decoding them all costs a create's
    checks more than everything else together). A workflow holding a ``\\u`` escape is decoded too: it could
    spell a word (the other escapes, ``\\"``, ``\\\\``, ``\\n``, ..., cannot spell a letter or ``_``).

    Only for an answer of the plain form ``{"results": [{...}, {...}, ...]}`` (a single key, so no paging
    marker), cut between two workflows where a ``}`` and a ``{`` are separated by a comma only (white space
    around it); each piece must hold the key ``"workflow_id"`` once (a quote inside a JSON string is always escaped, so a piece that does not
    is not one workflow: a cut inside a string, two workflows in one). Anything else, or a piece to decode that is
    not one object of the shape, is None: the caller decodes and checks the whole answer, which says what is
    wrong with it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    start = _PLAIN_START.match(text)
    tail = text.rstrip()
    if start is None or not tail.endswith("}"):
        return None
    tail = tail[:-1].rstrip()
    if not tail.endswith("]") or len(tail) - 1 < start.end():
        return None
    inner = tail[start.end() : -1].rstrip()
    if not inner:
        return [], 0
    if inner[0] != "{" or inner[-1] != "}":
        return None
    for cut in ("}, {", "},{"):  # the two ways JSON writers put workflows side by side; else by the rule itself
        pieces = inner.split(cut)
        if all(piece.count('"workflow_id"') == 1 for piece in pieces):
            starts = list(itertools.accumulate((len(piece) + len(cut) for piece in pieces[:-1]), initial=0))
            break
    else:
        parts = _BETWEEN.split(inner)  # pieces and the cuts between them, in turn
        pieces, cuts = parts[0::2], parts[1::2]
        if any(piece.count('"workflow_id"') != 1 for piece in pieces):
            return None
        starts = list(itertools.accumulate((len(p) + len(c) for p, c in zip(pieces, cuts, strict=False)), initial=0))
    wanted: set[int] = set()
    for word in (*holding, "\\u"):
        at = inner.find(word)
        while at >= 0:
            wanted.add(bisect.bisect_right(starts, at) - 1)
            at = inner.find(word, at + 1)
    found = []
    last = len(pieces) - 1
    for i in sorted(wanted):
        whole = ("" if i == 0 else "{") + pieces[i] + ("" if i == last else "}")
        try:
            workflow = loads(whole)
        except (ValueError, RecursionError):
            return None
        if not WORKFLOW.ok(workflow):
            return None
        found.append(workflow)
    try:
        return parse_configs(found, "results", holding=holding), len(pieces)
    except Mismatch:
        return None


def editable(workflows: list[JSONObject], ref: str, at: str) -> list[JSONObject]:
    """The workflows (configs parsed), once each one ``ref`` may name (``core.workflow.matches``: its id, its name,
    the start of its id) has been found ``EDITABLE``: one that is not is a ``Mismatch``, and nothing is sent back."""
    from ..core.workflow import matches

    named = {id(w) for w in matches(workflows, ref)[1]}
    for i, workflow in enumerate(workflows):
        if id(workflow) in named and not EDITABLE.ok(workflow):
            raise Mismatch(EDITABLE.problem(workflow, f"{at}[{i}]") or f"{at}[{i}] cannot be changed")
    return workflows


#: every ASCII digit to "0", every other byte to " ": a run of 19 digits in a text is then a run of 19 "0"s
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_NUMBER = b"0" * 19


def loads(text: str | bytes) -> JSONValue:
    """``json.loads(text)``: the same value, or the same error, decoded by orjson, which does it several times
    faster (a listing of 10,000 workflows is 3.5 MB, with thousands of configs sent as JSON text).

    What orjson refuses and ``json`` takes (``NaN`` and ``Infinity``, a lone surrogate, a text in UTF-16 or
    UTF-32), and everything that is not JSON, is given to ``json.loads``, whose value or error it is. So is a text
    holding 19 digits in a row: orjson makes an integer beyond 64 bits a float, where ``json`` keeps it whole (an
    integer of 18 digits or fewer always fits). One difference is left: a value nested deeper than Python's
    recursion limit allows ``json`` (some 1,000 levels) but within orjson's 1,024 is decoded, not refused."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if raw.translate(_DIGITS).find(_LONG_NUMBER) < 0:
        try:
            value: JSONValue = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        else:
            return value
    value = json.loads(text)
    return value


#: keys of a listing answer that say there is more to fetch when their value is "something" (true, a non-empty
#: string, a number other than 0, a non-empty object or list; null, false, "", 0, {} and [] say there is not).
#: Whether Relay pages ``GET /ibot/workflow`` is not public, so no key is followed: each only marks an answer
#: that cannot be proven to hold the whole account.
PAGING_KEYS = (
    "next_page_token", "nextPageToken", "page_token", "pageToken", "has_more", "hasMore", "more", "cursor",
    "next_cursor", "nextCursor", "next", "next_page", "nextPage", "next_url", "nextUrl", "continuation_token",
    "continuationToken",
)  # fmt: skip
#: objects of a listing answer whose own keys are read by the same rules (``{"links": {"next": ...}}``)
PAGING_OBJECTS = ("links", "_links", "paging", "pagination", "meta")
#: counts of a listing answer: a number greater than the items the answer holds marks it as a part
COUNT_KEYS = ("total", "total_count", "totalCount", "count")


def _more(value: object) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, (str, list, dict)):
        return bool(value)
    if isinstance(value, (int, float)):
        return value != 0
    return True


def paging_markers(answer: object, items: int) -> list[str]:
    """The paging markers of a listing answer holding ``items`` items, in words that quote none of its values:
    ``has_more``, ``links.next``, ``total (5000 > 1000 items)``. Empty when nothing says there is more."""
    if not isinstance(answer, dict):
        return []
    found = [key for key in PAGING_KEYS if key in answer and _more(answer[key])]
    for key in PAGING_OBJECTS:
        inner = answer.get(key)
        if isinstance(inner, dict):
            found.extend(f"{key}.{marker}" for marker in paging_markers(inner, items))
    for key in COUNT_KEYS:
        count = answer.get(key)
        if isinstance(count, (int, float)) and not isinstance(count, bool) and count > items:
            found.append(f"{key} ({count:g} > {items} items)")
    return found


def problem(shape: Shape[object], value: object) -> str | None:
    return None if shape.ok(value) else shape.problem(value, "")


class Results(TypedDict):
    """A listing: ``{"results": [...]}``."""

    results: list[JSONObject]


class DeviceIds(TypedDict):
    """``GET /ibot/subscriber/{S}/device_ids``; a sandbox's answer names them too (``names``, not checked)."""

    devices: list[str]
    names: NotRequired[JSONValue]


class NamedDevices(TypedDict):
    """``GET /_sandbox/devices``."""

    devices: list[NamedDevice]


class NamedDevice(TypedDict):
    device_id: str
    name: str


STRING: Scalar[str] = Scalar(("a string",))
ID: Scalar[str] = Scalar(("a string",), nonempty=True)
OBJECT: Obj[JSONObject] = Obj()
OBJECTS = ListOf(OBJECT)
#: where a workflow is installed: a list of device ids, or a rule (all devices, a group). Read by `list`, `export`
#: and `check`, and sent back by `install`/`uninstall`: a string taken for a list would be read, and written
#: back, one character per device
INSTALL: dict[str, Shape[object]] = {"install": Nullable(ListOf(STRING)), "install_rule": Scalar(("a string", "null"))}
#: a stored workflow: what `install`, `args set` and `apply` send back must carry its id, and its config (an
#: object, or a string holding one: see ``parse_configs``)
WORKFLOW: Obj[JSONObject] = Obj(
    {"workflow_id": ID}, optional={"config": Scalar(("an object", "a string")), **INSTALL}, text="workflow"
)
#: a stored workflow that a command changes and sends back whole (`install`, `uninstall`, `args set`/`unset`):
#: the server replaces the workflow with what it is sent, so a config that came without its trigger, its start
#: or its URI would be written back without them, and args that are not an object would be lost. Checked once
#: its config is parsed (``parse_configs``).
EDITABLE: Obj[JSONObject] = Obj(
    {"workflow_id": ID, "config": Obj({"trigger": Obj({"start": Obj({"workflow": Obj(
        {"uri": ID}, optional={"args": OBJECT})})})})},
    optional=INSTALL,
    text="workflow",
)  # fmt: skip
#: GET /ibot/workflow
WORKFLOWS: Obj[Results] = Obj({"results": ListOf(WORKFLOW)})
#: POST /ibot/workflow: the saved workflow(s)
SAVED = ListOf(WORKFLOW, nonempty=True)
#: GET /ibot/workflow_instances: each instance's id is what `instance stop` sends back in its DELETE
INSTANCES = ListOf(
    Obj[JSONObject]({"instance_id": ID}, optional={"workflow_id": Scalar(("a string", "null"))}, text="instance")
)
#: GET /ibot/relay_nfc_tag/{id}: the tag `tag update` and `tag delete` look up before they write
TAG: Obj[JSONObject] = Obj({"tag_id": ID}, text="tag")
#: POST /ibot/custom_audio: the new record, and where to PUT the file. Either may be missing or unusable (the
#: command then removes the record, or says it cannot: ``upload_presigned`` checks the URL); an id that is there
#: is what the command names and deletes by
AUDIO_CREATED: Obj[JSONObject] = Obj(
    optional={"result": Obj(optional={"id": Scalar(("a string", "a number"), nonempty=True)})}
)
#: the other listings ({"results": [...]}: geofences, venues, positions, NFC tags, user profiles)
RESULTS: Obj[Results] = Obj({"results": OBJECTS})
#: a page of analytics or audit events
PAGE: Obj[JSONObject] = Obj({"data": OBJECTS}, optional={"cursor": Scalar(("a string", "a number", "null"))})
#: GET /ibot/subscriber/{S}/device_ids
DEVICES: Obj[DeviceIds] = Obj({"devices": ListOf(STRING)})
#: GET /_sandbox/devices (a sandbox's own: the devices' names)
NAMED_DEVICES: Obj[NamedDevices] = Obj({"devices": ListOf(Obj({"device_id": ID, "name": STRING}, text="device"))})
