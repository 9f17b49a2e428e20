"""The deploy manifest (``relay.toml``): a parsed TOML document → the Workflow bodies it declares, and back.

Pure: the caller reads the file and hands over its bytes (``decode``) or the dict; nothing here does I/O. Every
trigger and every body is built by ``core.triggers`` and ``core.workflow.build``, exactly as
``relay workflow create`` builds them, so a manifest entry and the equivalent command send the same JSON.

The format::

    account = "1a2b3c4d"          # optional: the subscriber id (another one from -s, RELAY_SUBSCRIBER_ID or the
                                  # profile stops diff and apply unless --account-from says which wins)
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

    [workflow.sms-alert]          # the raw form: the Workflow object itself, as JSON, sent as it is
    raw = '''{"name": "sms-alert", "config": {"trigger": {"on_sms_received": ".*", "start": ...}}, ...}'''

The raw form is what ``export`` writes for a workflow the typed keys cannot describe exactly (a trigger this tool
does not know, an arg that is a list or null, a value the typed form would change): ``apply`` sends that object
(with the stored workflow's id when it replaces one) and ``diff`` compares it with the stored workflow exactly.

Every error is a ``UsageError`` whose message names the file, the key path and the problem, e.g.
``relay.toml: workflow.my_auto_answer.threshold: expected a whole percentage from 1 to 100, got 120``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NoReturn
from urllib.parse import urlsplit

from .. import inputs  # pure checks of text (its readers are not used here)
from ..errors import UsageError
from ..jsontypes import JSONObject, JSONValue
from . import suggest, tomltext, triggers, workflow as wf
from .kinds import json_kind, toml_kind
from .tomltext import NotRepresentable

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


#: the key of the raw form: ``[workflow.NAME] raw = '''{...}'''``, the Workflow object as JSON
RAW_KEY = "raw"


@dataclass(frozen=True)
class Entry:
    """One workflow of the manifest: its name and the body ``POST /ibot/workflow`` would create it with.
    ``raw``: the body is the entry's JSON, sent as it is and compared exactly (``core.plan``)."""

    name: str
    body: JSONObject
    raw: bool = False

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

    def raw_names(self) -> frozenset[str]:
        return frozenset(e.name for e in self.entries if e.raw)


# --- errors ------------------------------------------------------------------------------------------


def _key_path(*parts: str) -> str:
    return ".".join(tomltext.key(p) for p in parts if p)


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


# --- typed getters -----------------------------------------------------------------------------------


def _str(entry: Mapping[str, object], key: str, where: _Where, default: str | None = None) -> str | None:
    if key not in entry:
        return default
    value = entry[key]
    if not isinstance(value, str):
        raise where.error(key, f"expected a string, got {toml_kind(value)}")
    return value


def _bool(entry: Mapping[str, object], key: str, where: _Where, default: bool) -> bool:
    if key not in entry:
        return default
    value = entry[key]
    if not isinstance(value, bool):
        raise where.error(key, f"expected true or false, got {toml_kind(value)}")
    return value


def _int(entry: Mapping[str, object], key: str, where: _Where, default: int | None = None) -> int | None:
    if key not in entry:
        return default
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise where.error(key, f"expected a whole number, got {toml_kind(value)}")
    return value


def _str_list(entry: Mapping[str, object], key: str, where: _Where) -> list[str] | None:
    if key not in entry:
        return None
    value = entry[key]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise where.error(key, f"expected an array of strings, got {toml_kind(value)}")
    strings = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise where.error(key, f"expected an array of strings, item {i + 1} is {toml_kind(item)}")
        strings.append(item)
    return strings


def _local_time(entry: Mapping[str, object], key: str, where: _Where) -> str | None:
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
        raise where.error(key, f"expected a local date and time like 2030-01-01T09:00:00, got {toml_kind(value)}")
    return value


def _args(entry: Mapping[str, object], where: _Where) -> JSONObject:
    if "args" not in entry:
        return {}
    table = entry["args"]
    if not isinstance(table, dict):
        raise where.error("args", f"expected a table of name = value, got {toml_kind(table)}")
    args: JSONObject = {}
    for name, value in table.items():
        key = f"args.{tomltext.key(name)}"
        if not name.strip():
            raise where.error("args", "expected a non-empty arg name")
        if isinstance(value, float) and not math.isfinite(value):
            raise where.error(key, f"expected a finite number, got {value}")
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)  # as `-r x=2.0` sends it
        if not isinstance(value, (str, bool, int, float)):
            raise where.error(key, f"expected a string, a boolean or a number, got {toml_kind(value)}")
        args[name] = value
    return args


# --- one entry ---------------------------------------------------------------------------------------


def _pairs(entry: Mapping[str, object], key: str, where: _Where) -> dict[str, str] | None:
    if key not in entry:
        return None
    value = entry[key]
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise where.error(key, 'expected a table of name = "text"')
    return {name: text for name, text in value.items() if isinstance(text, str)}  # each one, as checked


def _option_value(option: triggers.Option, entry: Mapping[str, object], where: _Where) -> object:
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


def _trigger(trigger: triggers.Trigger, entry: Mapping[str, object], where: _Where) -> JSONObject:
    """The ``on_*`` payload of an entry: its trigger's options read from their keys, built as ``create`` builds them
    (with no machine: a manifest does not depend on the machine it is applied from)."""
    return trigger.build({option.name: _option_value(option, entry, where) for option in trigger.options})


#: how deep the raw form's JSON may nest (a stored workflow is a few levels deep)
RAW_MAX_DEPTH = 64


def _depth_ok(value: JSONValue, limit: int) -> bool:
    """Whether ``value`` nests at most ``limit`` levels (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return False
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return True


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def parse_raw(name: str, entry: Mapping[str, object], where: _Where) -> Entry:
    """``[workflow.NAME] raw = '''{...}'''``: the Workflow object, as JSON, exactly as it is to be stored.

    Its ``name`` is the table's key (filled in when the JSON leaves it out); ``workflow_id`` is refused: a manifest
    matches workflows by name, and an id belongs to one account."""
    others = [key for key in entry if key != RAW_KEY]
    if others:
        raise where.error(others[0], "a workflow in the raw form has the one key raw (the whole Workflow as JSON)")
    text = entry[RAW_KEY]
    if not isinstance(text, str):
        raise where.error(RAW_KEY, f"expected a string holding the Workflow as a JSON object, got {toml_kind(text)}")
    try:
        body = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise where.error(RAW_KEY, f"nested more than {RAW_MAX_DEPTH} levels deep") from None
    except ValueError as exc:
        raise where.error(RAW_KEY, f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise where.error(RAW_KEY, f"expected a JSON object (a Workflow), got {toml_kind(body)}")
    if not _depth_ok(body, RAW_MAX_DEPTH):
        raise where.error(RAW_KEY, f"nested more than {RAW_MAX_DEPTH} levels deep")
    if "workflow_id" in body:
        raise where.error(
            f"{RAW_KEY}.workflow_id", "not allowed: a manifest matches workflows by name (the table's key)"
        )
    if "name" not in body:
        body = {"name": name, **body}
    elif body["name"] != name:
        raise where.error(f"{RAW_KEY}.name", "must be the table's key (the workflow's name), or left out")
    return Entry(name, body, raw=True)


def parse_entry(name: str, entry: object, source: str = DEFAULT_FILE) -> Entry:
    where = _Where(source, name)
    if not isinstance(entry, dict):
        raise where.error(None, f"expected a table, got {toml_kind(entry)}")
    if RAW_KEY in entry:
        return parse_raw(name, entry, where)
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


def decode(raw: bytes, source: str) -> dict[str, object]:
    """The TOML document in ``raw`` (UTF-8, a byte order mark allowed), read from ``source``; a UsageError naming
    ``source`` when it is not UTF-8 text, nested too deeply (``inputs.MAX_DEPTH``) or not TOML."""
    import tomllib  # only where a manifest is read

    try:
        return inputs.loads_toml(inputs.decode(raw, source), source)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source}: invalid TOML: {exc}") from None


def parse(data: object, source: str = DEFAULT_FILE) -> Manifest:
    """A parsed TOML document → the manifest; ``source`` names the file in errors."""
    top = _Where(source)
    if not isinstance(data, dict):
        raise top.error(None, "expected a TOML document")
    for key in data:
        if key not in TOP_KEYS:
            raise top.error(tomltext.key(key), f"unknown key; expected one of {', '.join(TOP_KEYS)}")
    manifest = Manifest(source, blank=not data)
    for key in ("account", "profile"):
        if key in data:
            value = data[key]
            if not isinstance(value, str) or not value.strip():
                raise top.error(
                    key,
                    f"expected a non-empty string, got {toml_kind(value) if not isinstance(value, str) else 'an empty one'}",
                )
            setattr(manifest, key, value.strip())
    workflows = data.get("workflow", {})
    if not isinstance(workflows, dict):
        raise top.error("workflow", "expected tables [workflow.NAME], got " + toml_kind(workflows))
    manifest.entries = [parse_entry(name, entry, source) for name, entry in workflows.items()]
    for e in manifest.entries:
        if e.raw:
            continue  # sent as it is: what export found stored
        if (urlsplit(uri := wf.uri_of(e.body)).hostname or "") == PLACEHOLDER_HOST.lower():
            raise _Where(source, e.name).error(
                "uri", f"{uri} is a placeholder: replace {PLACEHOLDER_HOST} with the host that serves your app"
            )
    return manifest


def is_call(workflow: JSONObject) -> bool:
    trig = wf.trigger_of(workflow)
    return any(key in trig for key in triggers.CALL_DIRECTIONS.values())


# --- back: stored workflows → a manifest -------------------------------------------------------------


def _trigger_entry(trigger: JSONObject) -> JSONObject:
    keys = [k for k in trigger if k.startswith("on_")]
    if len(keys) != 1:
        raise NotRepresentable(f"expected exactly one on_* trigger key, found {', '.join(keys) or 'none'}")
    key = keys[0]
    declared = triggers.BY_KEY.get(key)
    if declared is None:
        raise NotRepresentable(f"trigger {key} = {trigger[key]!r} cannot be written to a manifest")
    return {"type": declared.name, **declared.manifest_values(key, trigger[key])}


def to_entry(workflow: JSONObject) -> JSONObject:
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
        entry["install"] = [str(d) for d in wf.install_list(workflow)]
    options = o if isinstance(o := workflow.get("options"), dict) else {}
    if options.get("transient", True) is not True:
        entry["transient"] = bool(options.get("transient"))
    if options.get("hidden", False) is not False:
        entry["hidden"] = bool(options.get("hidden"))
    absorb = options.get("absorb_triggers")
    if absorb:
        if not isinstance(absorb, list):
            raise NotRepresentable(f"options.absorb_triggers is {json_kind(absorb)}, not a list")
        entry["absorb"] = list(absorb)
    args = wf.args_of(workflow)
    for name, value in args.items():
        if not isinstance(value, (str, bool, int, float)) or (isinstance(value, float) and not math.isfinite(value)):
            raise NotRepresentable(
                f"arg {name!r} is {toml_kind(value)}; a manifest holds strings, booleans and numbers"
            )
    if args:
        entry["args"] = dict(args)
    return entry


@dataclass
class Export:
    """What ``export`` made of the account's workflows."""

    #: the manifest
    text: str
    #: one line per workflow left out (no name a manifest can use, or a name already taken by another)
    left_out: list[str] = field(default_factory=list)
    #: the names written in the raw form
    raw: list[str] = field(default_factory=list)


def _typed_lines(name: str, workflow: JSONObject) -> list[str]:
    """The typed table of ``workflow``, only when it says exactly what is stored: parsed back, it builds a body in
    which ``core.plan`` finds no change (else ``NotRepresentable``: a phrase the typed form would lower-case, a URI
    ``create`` would refuse, an arg that is a list, ...)."""
    from . import plan as planning

    entry = to_entry(workflow)
    try:
        again = parse_entry(name, entry)
    except UsageError as err:
        raise NotRepresentable(err.message) from None
    if (urlsplit(wf.uri_of(again.body)).hostname or "") == PLACEHOLDER_HOST.lower():
        raise NotRepresentable("its URI names the placeholder host")
    if planning.changes(workflow, again.body):
        raise NotRepresentable("the typed form would change it")
    return tomltext.table_lines(("workflow", name), entry)


def raw_json(workflow: JSONObject) -> JSONObject:
    """What the raw form holds of a stored workflow: all of it but its ``workflow_id`` (which belongs to the
    account), its config an object."""
    return {k: v for k, v in wf.normalize(workflow).items() if k != "workflow_id"}


def _raw_lines(name: str, workflow: JSONObject) -> list[str]:
    return [f"[workflow.{tomltext.key(name)}]", f"{RAW_KEY} = {tomltext.json_literal(raw_json(workflow))}"]


def export(workflows: list[JSONObject], *, account: str | None = None, header: str | None = None) -> Export:
    """Stored workflows → a manifest that describes each of them exactly: in the typed form when it can
    (``_typed_lines``), else in the raw form (the Workflow object as JSON).

    Left out, each with a line in ``Export.left_out``: a workflow whose name is not a string a TOML key can hold,
    and every workflow but the first of a name shared by several (a manifest names each workflow once). ``apply
    --prune`` never deletes such workflows (``core.plan``)."""
    from . import plan as planning

    tables: dict[str, list[str]] = {}
    result = Export("")
    for workflow in workflows:
        name = workflow.get("name")
        wid = workflow.get("workflow_id")
        why = planning.unnameable(workflow)
        if why is not None or not isinstance(name, str):
            result.left_out.append(f"workflow {wid}: {why}; left out")
            continue
        if name in tables:
            result.left_out.append(
                f"workflow {name} ({wid}): another workflow has the same name; left out (a manifest names each "
                "workflow once; `relay workflow apply --dedupe` keeps one)"
            )
            continue
        try:
            tables[name] = _typed_lines(name, workflow)
        except NotRepresentable:
            try:
                tables[name] = _raw_lines(name, workflow)
            except ValueError:  # json.dumps(allow_nan=False): NaN or infinity, which the API's JSON cannot hold
                result.left_out.append(f"workflow {name} ({wid}): {planning.NOT_JSON}; left out")
                continue
            result.raw.append(name)
    lines: list[str] = []
    if header:
        lines.extend(f"# {line}".rstrip() for line in header.splitlines())
    if account:
        lines.append(f"account = {tomltext.value(account)}")
    for table in tables.values():
        lines.append("")
        lines.extend(table)
    result.text = "\n".join(lines).lstrip("\n") + "\n"
    return result
