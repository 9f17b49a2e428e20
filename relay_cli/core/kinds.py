"""What a value is, in words, for messages: ``expected a string, got an array``. One vocabulary per format: JSON's
(an answer of the API, a request body, the raw form of a manifest entry) and TOML's (``relay.toml``, the
config file)."""

from __future__ import annotations

from datetime import date, datetime, time


def json_kind(value: object) -> str:
    """A JSON value: "null", "a boolean", "a number", "a string", "a list", "an object"."""
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
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def toml_kind(value: object) -> str:
    """A TOML value: "a boolean", "an integer", "a float", "a string", "an array", "a table", "a date or time"."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (datetime, date, time)):
        return "a date or time"
    return type(value).__name__
