"""The types of JSON values, for annotations: the one place they are spelled (nothing here runs).

``JSONValue`` is what ``json.loads`` returns and ``json.dumps`` writes: null, a boolean, a number, a string, or a
list or an object of JSON values; ``JSONObject`` is an object. Code narrows a value it did not build before it
uses it (``isinstance(value, dict)`` is a ``JSONObject``, ``isinstance(value, list)`` a list of JSON values), as
it checks any value it did not build. A function that only reads values it is given takes
``Mapping[str, JSONValue]`` or ``object``, which a ``dict[str, str]`` is too (lists and dicts are invariant: a
``list[str]`` is not a ``list[JSONValue]``).
"""

from __future__ import annotations

from typing import TypeAlias

JSONValue: TypeAlias = "bool | int | float | str | list[JSONValue] | dict[str, JSONValue] | None"
JSONObject: TypeAlias = "dict[str, JSONValue]"
