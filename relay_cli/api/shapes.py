"""The shapes of the Relay API's answers, and the check each answer passes before a caller sees it.

Each ``RelayClient`` method names the shape it needs (``WORKFLOWS``, ``DEVICES``, ...). ``problem(shape, value)``
says, in words that quote nothing the server sent (no value, no key it chose), where the answer differs:
``results[1] is a string, not an object``. Keys a shape does not name are allowed (the API may add fields).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def kind(value: Any) -> str:
    """What a JSON value is, in words: "null", "a boolean", "a number", "a string", "a list", "an object"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


class Shape:
    #: how the shape reads in an error message, e.g. ``{"devices": [string, ...]}``
    text: str = "JSON"

    def problem(self, value: Any, at: str) -> str | None:
        """None when ``value`` (found at ``at``, a path such as ``results[2]``) has this shape, else why not."""
        return None


def _it(at: str) -> str:
    return at or "the answer"


@dataclass
class Scalar(Shape):
    """One of the named JSON kinds ("a string", "a number", "null", ...); ``nonempty`` refuses ""."""

    kinds: tuple[str, ...]
    text: str = "string"
    nonempty: bool = False

    def problem(self, value: Any, at: str) -> str | None:
        if kind(value) not in self.kinds:
            return f"{_it(at)} is {kind(value)}, not {' or '.join(self.kinds)}"
        if self.nonempty and value == "":
            return f"{_it(at)} is an empty string"
        return None


@dataclass
class Obj(Shape):
    """An object with at least the ``required`` keys, each of its shape; ``optional`` keys are checked when present."""

    required: dict[str, Shape] = field(default_factory=dict)
    optional: dict[str, Shape] = field(default_factory=dict)
    text: str = ""

    def __post_init__(self) -> None:
        if not self.text:
            inner = ", ".join(f'"{key}": {shape.text}' for key, shape in self.required.items())
            self.text = f"{{{inner}}}" if inner else "object"

    def problem(self, value: Any, at: str) -> str | None:
        if not isinstance(value, dict):
            return f"{_it(at)} is {kind(value)}, not an object"
        for key, shape in self.required.items():
            where = f"{at}.{key}" if at else key
            if key not in value:
                return f"{where} is missing"
            found = shape.problem(value[key], where)
            if found:
                return found
        for key, shape in self.optional.items():
            if key in value:
                found = shape.problem(value[key], f"{at}.{key}" if at else key)
                if found:
                    return found
        return None


@dataclass
class ListOf(Shape):
    item: Shape
    nonempty: bool = False
    text: str = ""

    def __post_init__(self) -> None:
        if not self.text:
            self.text = f"[{self.item.text}, ...]" + (" (at least one)" if self.nonempty else "")

    def problem(self, value: Any, at: str) -> str | None:
        if not isinstance(value, list):
            return f"{_it(at)} is {kind(value)}, not a list"
        if self.nonempty and not value:
            return f"{_it(at)} is an empty list"
        for i, item in enumerate(value):
            found = self.item.problem(item, f"{at}[{i}]")
            if found:
                return found
        return None


@dataclass
class Check(Shape):
    """A shape with its own test: ``test(value)`` returns None or what is wrong (quoting nothing)."""

    test: Callable[[Any], str | None]
    text: str = "JSON"

    def problem(self, value: Any, at: str) -> str | None:
        found = self.test(value)
        return f"{_it(at)} {found}" if found else None


def _config(value: Any) -> str | None:
    """A workflow's ``config``: an object, or a string holding one (relay-api.md: "may come back as a JSON string")."""
    if isinstance(value, dict):
        return None
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            return "is a string that is not JSON"
        return None if isinstance(parsed, dict) else f"is a string holding {kind(parsed)}, not an object"
    return f"is {kind(value)}, not an object"


def problem(shape: Shape, value: Any) -> str | None:
    return shape.problem(value, "")


STRING = Scalar(("a string",))
OBJECT = Obj()
OBJECTS = ListOf(OBJECT)
#: a stored workflow: what `install`, `args set` and `apply` send back must carry its id, and a config that is
#: not an object would be sent back as {} (the workflow's trigger lost)
WORKFLOW = Obj(
    {"workflow_id": Scalar(("a string",), nonempty=True)},
    optional={"config": Check(_config)},
    text="workflow",
)
#: GET /ibot/workflow
WORKFLOWS = Obj({"results": ListOf(WORKFLOW)})
#: POST /ibot/workflow: the saved workflow(s)
SAVED = ListOf(WORKFLOW, nonempty=True)
#: the other listings ({"results": [...]}: geofences, venues, positions, NFC tags, user profiles)
RESULTS = Obj({"results": OBJECTS})
#: a page of analytics or audit events
PAGE = Obj({"data": OBJECTS}, optional={"cursor": Scalar(("a string", "a number", "null"))})
#: GET /ibot/subscriber/{S}/device_ids
DEVICES = Obj({"devices": ListOf(STRING)})
