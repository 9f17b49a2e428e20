"""The deploy manifest (``relay.toml``): a parsed TOML document → the Workflow bodies it declares, and back.

Pure: the caller reads the file and hands over its bytes (``decode``) or the dict; nothing here does I/O. Every
trigger and every body is built by ``core.triggers`` and ``core.workflow.build``, exactly as
``relay workflow create`` builds them, so a manifest entry and the equivalent command send the same JSON.

The format::

    account = "1a2b3c4d"          # optional: the subscriber id (-s and RELAY_SUBSCRIBER_ID override it)
    profile = "qa"                # optional: the profile (-P and RELAY_PROFILE override it)

    [workflow.my_auto_answer]     # the table key is the workflow's name
    type = "call"                 # a trigger of core/triggers/table.py: call, button, phrase, ... timer
    trigger = "inbound"           # its options by name: the value of `create call --trigger`
    uri = "wss://myhost.mydomain.com/autoanswerpath"
    install = ["990007560045678"] # or install_all = true, or install_group = "front-desk"
    transient = true              # default true
    hidden = false                # default false

    [workflow.my_auto_answer.args]
    greeting = "hello"            # a string arg (-a)
    enabled = true                # a boolean arg (-b)
    volume = 2.5                  # a number arg (-r)

Every error is a ``UsageError`` whose message names the file, the key path and the problem, e.g.
``relay.toml: workflow.my_auto_answer.threshold: expected a whole percentage from 1 to 100, got 120``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlsplit

from .. import inputs  # pure checks of text (its readers are not used here)
from ..errors import UsageError
from . import suggest, triggers, workflow as wf
from .triggers import NotRepresentable

TYPES = tuple(triggers.BY_NAME)
TOP_KEYS = ("account", "profile", "workflow", "dev")  # [dev]: read by `relay workflow dev`, ignored here
#: the host of the URIs `relay workflow init` writes; a manifest still naming it is refused before anything is sent
PLACEHOLDER_HOST = "YOUR-HOST"
COMMON_KEYS = ("type", "uri", "install", "install_all", "install_group", "transient", "hidden", "args", "absorb")
#: each type's own keys: the names of its trigger's options
TYPE_KEYS: dict[str, tuple[str, ...]] = {t.name: tuple(o.name for o in t.options) for t in triggers.TRIGGERS}
#: a flag named in a ``core.workflow`` error → the manifest key it came from (a trigger's own flags: its options)
OPTION_KEYS = {
    "--name": "",
    "--uri": "uri",
    "--install": "install",
    "--install-all": "install_all",
    "--install-group": "install_group",
    "--absorb": "absorb",
}
DEFAULT_FILE = "relay.toml"


@dataclass(frozen=True)
class Entry:
    """One workflow of the manifest: its name and the body ``POST /ibot/workflow`` would create it with."""

    name: str
    body: dict[str, Any]

    @property
    def is_call(self) -> bool:
        return is_call(self.body)


@dataclass
class Manifest:
    source: str
    account: str | None = None
    profile: str | None = None
    entries: list[Entry] = field(default_factory=list)
    #: the document holds nothing at all (no bytes, or only whitespace and comments): the mark of a file that
    #: was never written, or of a pipe whose producer failed; never a manifest anyone meant
    blank: bool = False

    def names(self) -> list[str]:
        return [e.name for e in self.entries]


# --- errors ------------------------------------------------------------------------------------------


def _key_path(*parts: str) -> str:
    return ".".join(_toml_key(p) for p in parts if p)


class _Where:
    """Builds the one-line error for a key of a workflow entry."""

    def __init__(self, source: str, name: str | None = None) -> None:
        self.source = source
        self.name = name

    def error(self, key: str | None, message: str) -> UsageError:
        parts = ["workflow", self.name] if self.name is not None else []
        path = _key_path(*parts, *(key.split(".") if key else []))
        return UsageError(f"{self.source}: {path}: {message}" if path else f"{self.source}: {message}")

    def rethrow(
        self, err: UsageError, default_key: str | None = None, trigger: triggers.Trigger | None = None
    ) -> UsageError:
        """A ``UsageError`` from triggers/workflow (which names a flag) → the same message naming the key."""
        message = err.message
        key = default_key
        if err.option:
            message = message.removeprefix(f"{err.option}: ")
            flag = err.option.split("/")[0]  # "--count/--until" names the first
            keys = {f: o.name for o in trigger.options for f in o.flags} if trigger else OPTION_KEYS
            key = keys.get(flag, default_key or err.option.lstrip("-"))
        return self.error(key, message)


def _kind(value: Any) -> str:
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
        return "a date/time"
    return type(value).__name__


# --- typed getters -----------------------------------------------------------------------------------


def _str(entry: dict[str, Any], key: str, where: _Where, default: str | None = None) -> str | None:
    if key not in entry:
        return default
    value = entry[key]
    if not isinstance(value, str):
        raise where.error(key, f"expected a string, got {_kind(value)}")
    return value


def _bool(entry: dict[str, Any], key: str, where: _Where, default: bool) -> bool:
    if key not in entry:
        return default
    value = entry[key]
    if not isinstance(value, bool):
        raise where.error(key, f"expected true or false, got {_kind(value)}")
    return value


def _int(entry: dict[str, Any], key: str, where: _Where, default: int | None = None) -> int | None:
    if key not in entry:
        return default
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise where.error(key, f"expected a whole number, got {_kind(value)}")
    return value


def _str_list(entry: dict[str, Any], key: str, where: _Where) -> list[str] | None:
    if key not in entry:
        return None
    value = entry[key]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise where.error(key, f"expected an array of strings, got {_kind(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise where.error(key, f"expected an array of strings, item {i + 1} is {_kind(item)}")
    return list(value)


def _local_time(entry: dict[str, Any], key: str, where: _Where) -> str | None:
    """A timer time: a string, or a TOML local date-time / local date (no offset: the zone is ``timezone``)."""
    if key not in entry:
        return None
    value = entry[key]
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise where.error(key, "expected a local time without an offset (the zone goes in timezone)")
        return value.strftime(triggers.WIRE_DATETIME)
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        raise where.error(key, f"expected a local date and time like 2030-01-01T09:00:00, got {_kind(value)}")
    return value


def _args(entry: dict[str, Any], where: _Where) -> dict[str, Any]:
    if "args" not in entry:
        return {}
    table = entry["args"]
    if not isinstance(table, dict):
        raise where.error("args", f"expected a table of name = value, got {_kind(table)}")
    args: dict[str, Any] = {}
    for name, value in table.items():
        key = f"args.{_toml_key(name)}"
        if not name.strip():
            raise where.error("args", "expected a non-empty arg name")
        if isinstance(value, float) and not math.isfinite(value):
            raise where.error(key, f"expected a finite number, got {value}")
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)  # as `-r x=2.0` sends it
        if not isinstance(value, (str, bool, int, float)):
            raise where.error(key, f"expected a string, a boolean or a number, got {_kind(value)}")
        args[name] = value
    return args


# --- one entry ---------------------------------------------------------------------------------------


def _pairs(entry: dict[str, Any], key: str, where: _Where) -> dict[str, str] | None:
    if key not in entry:
        return None
    value = entry[key]
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise where.error(key, 'expected a table of name = "text"')
    return dict(value)


def _option_value(option: triggers.Option, entry: dict[str, Any], where: _Where) -> Any:
    """The value of one trigger option from its key; None when absent (the trigger's default applies)."""
    if option.name not in entry:
        if option.required:
            raise where.error(option.name, option.missing_message)
        return None
    if option.kind == "integer":
        return _int(entry, option.name, where)
    if option.kind == "time":
        return _local_time(entry, option.name, where)
    if option.kind == "pairs":
        return _pairs(entry, option.name, where)
    if option.repeatable:
        return _str_list(entry, option.name, where)
    return _str(entry, option.name, where)


def _trigger(trigger: triggers.Trigger, entry: dict[str, Any], where: _Where) -> dict[str, Any]:
    """The ``on_*`` payload of an entry: its trigger's options read from their keys, built as ``create`` builds them
    (with no machine: a manifest does not depend on the machine it is applied from)."""
    return trigger.build({option.name: _option_value(option, entry, where) for option in trigger.options})


def parse_entry(name: str, entry: Any, source: str = DEFAULT_FILE) -> Entry:
    where = _Where(source, name)
    if not isinstance(entry, dict):
        raise where.error(None, f"expected a table, got {_kind(entry)}")
    if not name.strip():
        raise _Where(source).error("workflow", "expected a non-empty workflow name")
    kind = entry.get("type")
    if kind is None:
        raise where.error("type", f"missing: one of {', '.join(TYPES)}")
    if not isinstance(kind, str) or kind not in TYPES:
        raise where.error("type", suggest.expected(kind, TYPES))
    allowed = COMMON_KEYS + TYPE_KEYS[kind]
    for key in entry:
        if key not in allowed:
            other = [t for t, keys in TYPE_KEYS.items() if key in keys]
            why = f"applies to type {' or '.join(other)}, not {kind}" if other else "unknown key"
            raise where.error(key, f"{why}; expected one of {', '.join(allowed)}")
    declared = triggers.BY_NAME[kind]
    try:
        trigger = _trigger(declared, entry, where)
    except UsageError as err:
        if err.message.startswith(f"{source}: "):
            raise
        raise where.rethrow(err, "trigger", declared) from None
    uri = _str(entry, "uri", where)
    if uri is None:
        raise where.error("uri", "missing: the workflow's WebSocket URI (wss://...)")
    install = _str_list(entry, "install", where)
    install_all = _bool(entry, "install_all", where, False)
    group = _str(entry, "install_group", where)
    absorb = _str_list(entry, "absorb", where)
    try:
        target = wf.install_target(install, install_all, group)
        body = wf.build(
            name=name,
            uri=uri,
            trigger=trigger,
            install=target,
            transient=_bool(entry, "transient", where, True),
            hidden=_bool(entry, "hidden", where, False),
            args=_args(entry, where),
            absorb=absorb,
        )
    except UsageError as err:
        if err.message.startswith(f"{source}: "):
            raise
        raise where.rethrow(err) from None
    return Entry(name, body)


def decode(raw: bytes, source: str) -> dict[str, Any]:
    """The TOML document in ``raw`` (UTF-8, a byte order mark allowed), read from ``source``; a UsageError naming
    ``source`` when it is not UTF-8 text, nested too deeply (``inputs.MAX_DEPTH``) or not TOML."""
    import tomllib  # only where a manifest is read

    try:
        return inputs.loads_toml(inputs.decode(raw, source), source)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source}: invalid TOML: {exc}") from None


def parse(data: Any, source: str = DEFAULT_FILE) -> Manifest:
    """A parsed TOML document → the manifest; ``source`` names the file in errors."""
    top = _Where(source)
    if not isinstance(data, dict):
        raise top.error(None, "expected a TOML document")
    for key in data:
        if key not in TOP_KEYS:
            raise top.error(_toml_key(key), f"unknown key; expected one of {', '.join(TOP_KEYS)}")
    manifest = Manifest(source, blank=not data)
    for key in ("account", "profile"):
        if key in data:
            value = data[key]
            if not isinstance(value, str) or not value.strip():
                raise top.error(
                    key,
                    f"expected a non-empty string, got {_kind(value) if not isinstance(value, str) else 'an empty one'}",
                )
            setattr(manifest, key, value.strip())
    workflows = data.get("workflow", {})
    if not isinstance(workflows, dict):
        raise top.error("workflow", "expected tables [workflow.NAME], got " + _kind(workflows))
    manifest.entries = [parse_entry(name, entry, source) for name, entry in workflows.items()]
    for e in manifest.entries:
        if (urlsplit(uri := wf.uri_of(e.body)).hostname or "") == PLACEHOLDER_HOST.lower():
            raise _Where(source, e.name).error(
                "uri", f"{uri} is a placeholder: replace {PLACEHOLDER_HOST} with the host that serves your app"
            )
    return manifest


def is_call(workflow: dict[str, Any]) -> bool:
    trig = wf.trigger_of(workflow)
    return any(key in trig for key in triggers.CALL_DIRECTIONS.values())


# --- back: stored workflows → a manifest -------------------------------------------------------------


def _trigger_entry(trigger: dict[str, Any]) -> dict[str, Any]:
    keys = [k for k in trigger if k.startswith("on_")]
    if len(keys) != 1:
        raise NotRepresentable(f"expected exactly one on_* trigger key, found {', '.join(keys) or 'none'}")
    key = keys[0]
    declared = triggers.BY_KEY.get(key)
    if declared is None:
        raise NotRepresentable(f"trigger {key} = {trigger[key]!r} cannot be written to a manifest")
    return {"type": declared.name, **declared.manifest_values(key, trigger[key])}


def to_entry(workflow: dict[str, Any]) -> dict[str, Any]:
    """A stored workflow → its manifest table (without the name). Raises ``NotRepresentable``.

    Defaults are left out (transient true, hidden false, no args), so ``parse_entry`` of the result builds
    a body that ``core.plan`` finds unchanged from ``workflow``."""
    workflow = wf.normalize(workflow)
    entry = _trigger_entry(wf.trigger_of(workflow))
    uri = wf.uri_of(workflow)
    if not uri:
        raise NotRepresentable("no config.trigger.start.workflow.uri")
    entry["uri"] = uri
    rule = workflow.get("install_rule")
    if rule == wf.ALL_DEVICES:
        entry["install_all"] = True
    elif rule:
        entry["install_group"] = str(rule)
    else:
        entry["install"] = [str(d) for d in workflow.get("install") or []]
    options = o if isinstance(o := workflow.get("options"), dict) else {}
    if options.get("transient", True) is not True:
        entry["transient"] = bool(options.get("transient"))
    if options.get("hidden", False) is not False:
        entry["hidden"] = bool(options.get("hidden"))
    if options.get("absorb_triggers"):
        entry["absorb"] = list(options["absorb_triggers"])
    args = wf.args_of(workflow)
    for name, value in args.items():
        if not isinstance(value, (str, bool, int, float)) or (isinstance(value, float) and not math.isfinite(value)):
            raise NotRepresentable(f"arg {name!r} is {_kind(value)}; a manifest holds strings, booleans and numbers")
    if args:
        entry["args"] = dict(args)
    return entry


def export(
    workflows: list[dict[str, Any]], *, account: str | None = None, header: str | None = None
) -> tuple[str, list[str]]:
    """Stored workflows → (manifest text, one warning per workflow left out).

    Left out: workflows a manifest cannot describe, and every workflow but the first of a name shared by
    several (a manifest names each workflow once)."""
    tables: dict[str, dict[str, Any]] = {}
    skipped: list[str] = []
    for workflow in workflows:
        name = workflow.get("name")
        wid = workflow.get("workflow_id")
        if not isinstance(name, str) or not name.strip():
            skipped.append(f"workflow {wid} has no name; left out")
            continue
        if name in tables:
            skipped.append(
                f"workflow {name} ({wid}): another workflow has the same name; left out (a manifest names each workflow once)"
            )
            continue
        try:
            tables[name] = to_entry(workflow)
        except NotRepresentable as exc:
            skipped.append(f"workflow {name} ({wid}): {exc}; left out")
    lines: list[str] = []
    if header:
        lines.extend(f"# {line}".rstrip() for line in header.splitlines())
    if account:
        lines.append(f"account = {_toml_value(account)}")
    for name, entry in tables.items():
        lines.append("")
        lines.extend(_table_lines(("workflow", name), entry))
    return "\n".join(lines).lstrip("\n") + "\n", skipped


# --- a small TOML writer (only what a manifest holds: strings, booleans, numbers, arrays, tables) -----

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotRepresentable(f"{value} is not a finite number")
        text = repr(value)
        return text if any(c in text for c in ".eE") else text + ".0"
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise NotRepresentable(f"{_kind(value)} cannot be written to a manifest")


def _table_lines(path: tuple[str, ...], table: dict[str, Any]) -> list[str]:
    lines = ["[" + ".".join(_toml_key(p) for p in path) + "]"]
    subtables = []
    for key, value in table.items():
        if isinstance(value, dict):  # args, and a trigger's name = value pairs
            subtables.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in subtables:
        lines.append("")
        lines.append("[" + ".".join(_toml_key(p) for p in (*path, key)) + "]")
        lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
    return lines
