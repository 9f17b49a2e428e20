"""The Workflow object: building it, typing its args, editing its install targets, finding it by reference.

Pure: no I/O. Everything here speaks the Relay API's wire format.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from ..errors import NotFoundError, UsageError
from ..jsontypes import JSONObject, JSONValue
from . import triggers
from .kinds import json_kind

ALL_DEVICES = "urn:relay-resource:all:device"
GROUP_PREFIX = "urn:relay-resource:id:tag:"


def is_loopback(host: str | None) -> bool:
    """``localhost`` or an IP address in 127.0.0.0/8 or ::1 (a host *name* starting with 127. is not)."""
    import ipaddress

    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- validation of plain values -----------------------------------------------------------------


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SPACE = re.compile(r"\s")  # the characters str.isspace() is true of


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character (C0, DEL or C1: a line break, a tab, NUL, an escape, ...)."""
    return _CONTROL.search(text) is not None


def _invisible(text: str) -> bool:
    """A control character or an invisible format character (a bidi override, a zero-width space, ...)."""
    if has_control(text):
        return True
    if text.isascii():  # no format character is ASCII (checked in one pass; `export` validates thousands)
        return False
    import unicodedata

    return any(unicodedata.category(ch) == "Cf" for ch in text)


def validate_name(name: str | None) -> str:
    if name is None or not name.strip():
        raise UsageError("expected a workflow name, got an empty string", option="--name")
    return name


def validate_uri(uri: str | None) -> str:
    """``wss://host/...``; ``ws://`` only to a loopback host; or ``relay-local://...``."""
    if uri is None or not uri.strip():
        raise UsageError(
            "expected a workflow URI such as wss://myhost.example.com/path, got an empty string", option="--uri"
        )
    if _SPACE.search(uri) or _invisible(uri):
        raise UsageError(
            f"expected a URI without spaces, control characters or invisible ones (bidi marks, zero-width spaces), got {uri!r}",
            option="--uri",
        )
    try:
        parts = urlsplit(uri)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises on a port that is not a number from 0 to 65535
    except ValueError as exc:  # "Invalid IPv6 URL" (wss://[::1), "Port out of range", ...
        raise UsageError(
            f"expected a WebSocket URI such as wss://myhost.example.com/path, got {uri!r} ({exc})", option="--uri"
        ) from None
    scheme = parts.scheme.lower()
    if scheme == "relay-local":
        return uri
    if scheme == "wss" and hostname:
        return uri
    if scheme == "ws" and hostname:
        if is_loopback(hostname):
            return uri
        raise UsageError(
            f"expected wss:// (plain ws:// is only allowed to a loopback host), got {uri!r}", option="--uri"
        )
    raise UsageError(f"expected a WebSocket URI starting with wss://, got {uri!r}", option="--uri")


def validate_id(value: str | None, option: str, what: str = "an id") -> str:
    if value is None or not value.strip():
        raise UsageError(f"expected {what}, got an empty string", option=option)
    if _invisible(value):
        raise UsageError(f"expected {what} without control characters or invisible ones, got {value!r}", option=option)
    return value.strip()


# --- workflow args ------------------------------------------------------------------------------

_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def _split_pair(text: str, option: str, example: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep:
        raise UsageError(f"expected NAME=VALUE such as {example}, got {text!r}", option=option)
    if not name.strip():
        raise UsageError(f"expected a name before '=', got {text!r}", option=option)
    return name, value


def parse_number(text: str, option: str = "--number", name: str = "x") -> int | float:
    """A finite decimal number; integers stay integers on the wire."""
    value = text.strip()
    if not _NUMBER.match(value):
        raise UsageError(f"expected a decimal number such as {name}=2.5, got {text!r}", option=option)
    if re.match(r"^[+-]?\d+$", value):
        return int(value)
    number = float(value)
    if not math.isfinite(number):
        raise UsageError(f"expected a finite number, got {text!r}", option=option)
    if number.is_integer() and abs(number) < 2**53:
        return int(number)
    return number


def parse_args(
    strings: list[str] | None = None,
    booleans: list[str] | None = None,
    numbers: list[str] | None = None,
) -> JSONObject:
    """``-a name=value`` (string), ``-b name=true|false``, ``-r name=2.5`` → the workflow's ``args``.

    Within one flag the last value for a name wins; the same name under two different flags is refused,
    since the intended type would be a guess.
    """
    args: JSONObject = {}
    origin: dict[str, str] = {}

    def put(name: str, value: JSONValue, option: str) -> None:
        if name in origin and origin[name] != option:
            raise UsageError(
                f"arg {name!r} is given both as {origin[name]} and as {option}; give it once", option=option
            )
        origin[name] = option
        args[name] = value

    for text in strings or []:
        name, value = _split_pair(text, "--arg", "greeting=hello")
        put(name, value, "--arg")
    for text in booleans or []:
        name, value = _split_pair(text, "--boolean", "enabled=true")
        if value not in ("true", "false"):
            raise UsageError(f"expected NAME=true or NAME=false, got {text!r}", option="--boolean")
        put(name, value == "true", "--boolean")
    for text in numbers or []:
        name, value = _split_pair(text, "--number", "volume=2.5")
        put(name, parse_number(value, "--number", name), "--number")
    return args


def parse_pairs(texts: list[str] | None, option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for text in texts or []:
        name, value = _split_pair(text, option, "category=task")
        pairs[name] = value
    return pairs


# --- install targets ----------------------------------------------------------------------------


@dataclass(frozen=True)
class InstallTarget:
    """Exactly one of: a list of device/user ids, all devices, a group urn. ``None`` everywhere = no flag given."""

    devices: tuple[str, ...] = field(default_factory=tuple)
    all_devices: bool = False
    group: str | None = None

    @property
    def given(self) -> bool:
        return bool(self.devices) or self.all_devices or self.group is not None


def group_urn(group: str) -> str:
    group = group.strip()
    if group.startswith("urn:"):
        return group
    return GROUP_PREFIX + group


def install_target(devices: list[str] | None, all_devices: bool, group: str | None) -> InstallTarget:
    """Validate the -i / -A / -G trio (mutually exclusive; ids non-empty, duplicates dropped)."""
    given = [
        name
        for name, on in (
            ("-i/--install", bool(devices)),
            ("-A/--install-all", all_devices),
            ("-G/--install-group", group is not None),
        )
        if on
    ]
    if len(given) > 1:
        raise UsageError(f"{' and '.join(given)} cannot be used together; pick one", option=given[1].split("/")[1])
    ids: dict[str, None] = {}  # a dict keeps the order and drops duplicates in linear time
    for raw in devices or []:
        ids[validate_id(raw, "--install", "a device or user id")] = None
    urn = None
    if group is not None:
        urn = group_urn(validate_id(group, "--install-group", "a group id or urn"))
    return InstallTarget(tuple(ids), all_devices, urn)


def install_list(workflow: Mapping[str, JSONValue]) -> Sequence[JSONValue]:
    """The ids a workflow is installed on by list (none when ``install`` is null or missing: the API's answers
    hold a list or null there, ``api.shapes.INSTALL``)."""
    install = workflow.get("install")
    return install if isinstance(install, list) else ()


def _apply_install(workflow: JSONObject, target: InstallTarget) -> None:
    if target.all_devices:
        workflow["install_rule"] = ALL_DEVICES
    elif target.group is not None:
        workflow["install_rule"] = target.group
    else:
        workflow["install"] = list(target.devices)


def with_install(workflow: JSONObject, target: InstallTarget) -> JSONObject:
    """``workflow install``: ids are added to the existing list (order kept) and any rule is dropped;
    -A / -G replace everything with the rule."""
    updated = {k: v for k, v in copy.deepcopy(workflow).items() if k not in ("install", "install_rule")}
    if target.devices:
        merged = dict.fromkeys(install_list(workflow))  # order kept, linear in both lists
        merged.update(dict.fromkeys(target.devices))
        updated["install"] = list(merged)
    else:
        _apply_install(updated, target)
    return updated


def without_install(workflow: JSONObject, target: InstallTarget) -> JSONObject:
    """``workflow uninstall``: ids are removed from the list and the rule dropped; -A / -G clear both."""
    updated = {k: v for k, v in copy.deepcopy(workflow).items() if k not in ("install", "install_rule")}
    if target.devices:
        gone = set(target.devices)
        updated["install"] = [d for d in install_list(workflow) if d not in gone]
    else:
        updated["install"] = []
    return updated


def not_installed(workflow: JSONObject, target: InstallTarget) -> list[str]:
    """The ids of ``target`` that ``workflow``'s install list does not hold (linear: a set of the list)."""
    installed = set(install_list(workflow))
    return [d for d in target.devices if d not in installed]


def some(items: list[str], shown: int = 10) -> str:
    """``a, b, c`` or, for a long list, its first ``shown`` items and how many more."""
    head = ", ".join(items[:shown])
    return head if len(items) <= shown else f"{head} and {len(items) - shown} more"


def installed_on_all(workflow: JSONObject) -> bool:
    return workflow.get("install_rule") == ALL_DEVICES


def installed_by_rule(workflow: JSONObject) -> bool:
    """Installed on all devices or on a group, rather than on a list of ids."""
    return bool(workflow.get("install_rule"))


def describe_install(workflow: JSONObject) -> str:
    rule = workflow.get("install_rule")
    if rule == ALL_DEVICES:
        return "all devices"
    if rule:
        return str(rule)
    return ", ".join(str(d) for d in install_list(workflow))


def installed_group(workflow: JSONObject) -> str | None:
    """The id of the group a workflow is installed on (its ``install_rule`` is that group's urn), or None."""
    rule = workflow.get("install_rule")
    if isinstance(rule, str) and rule.startswith(GROUP_PREFIX) and len(rule) > len(GROUP_PREFIX):
        return rule[len(GROUP_PREFIX) :]
    return None


def install_shown(workflow: JSONObject, group_names: Mapping[str, str] | None = None) -> str:
    """Where it is installed, as a table on a terminal shows it: ``all devices``, ``group NAME`` for a group's urn
    (its name in ``group_names``, keyed by urn, else the id ``-G`` takes), else ``describe_install``'s text."""
    group = installed_group(workflow)
    if group is not None:
        return "group " + (group_names or {}).get(group_urn(group), group)
    return describe_install(workflow)


def install_short(workflow: JSONObject, group_names: Mapping[str, str] | None = None) -> str:
    """``install_shown`` in short: a list of devices as its first and how many more (``990007560045678 +2``)."""
    if workflow.get("install_rule"):
        return install_shown(workflow, group_names)
    devices = [str(d) for d in install_list(workflow)]
    return f"{devices[0]} +{len(devices) - 1}" if len(devices) > 1 else "".join(devices)


# --- the whole object ---------------------------------------------------------------------------


def build(
    *,
    name: str,
    uri: str,
    trigger: JSONObject,
    install: InstallTarget,
    transient: bool = True,
    hidden: bool = False,
    args: JSONObject | None = None,
    absorb: list[str] | None = None,
) -> JSONObject:
    """The body of ``POST /ibot/workflow`` for a new workflow."""
    options: JSONObject = {"transient": transient, "hidden": hidden}
    if absorb:
        for item in absorb:
            triggers.choice(item, triggers.ABSORBABLE, "--absorb")
        options["absorb_triggers"] = list(absorb)
    workflow: JSONObject = {
        "name": validate_name(name),
        "options": options,
        "config": {"trigger": {"start": {"workflow": {"uri": validate_uri(uri), "args": dict(args or {})}}, **trigger}},
    }
    _apply_install(workflow, install)
    return workflow


def normalize(workflow: JSONObject) -> JSONObject:
    """Stored workflows may carry ``config`` as a JSON string; parse it."""
    config = workflow.get("config")
    if isinstance(config, str):
        try:
            workflow = {**workflow, "config": json.loads(config)}
        except ValueError:
            workflow = {**workflow, "config": {}}
    return workflow


def trigger_of(workflow: JSONObject) -> JSONObject:
    config = workflow.get("config")
    trigger = config.get("trigger") if isinstance(config, dict) else None
    return trigger if isinstance(trigger, dict) else {}


def start_of(workflow: JSONObject) -> JSONObject:
    start = trigger_of(workflow).get("start")
    wf = start.get("workflow") if isinstance(start, dict) else None
    return wf if isinstance(wf, dict) else {}


def uri_of(workflow: JSONObject) -> str:
    return str(start_of(workflow).get("uri", ""))


def args_of(workflow: JSONObject) -> JSONObject:
    args = start_of(workflow).get("args")
    return args if isinstance(args, dict) else {}


def with_args(workflow: JSONObject, args: Mapping[str, JSONValue]) -> JSONObject:
    """A copy of ``workflow`` whose ``config.trigger.start.workflow.args`` is ``args``."""
    updated = copy.deepcopy(workflow)
    inner(updated, "config", "trigger", "start", "workflow", make=True)["args"] = dict(args)
    return updated


def inner(obj: JSONObject, *path: str, make: bool = False) -> JSONObject:
    """The object at ``path`` in ``obj`` (``"config", "trigger"``), to change in place; ``make``: one that is
    missing is made, empty. Anything else on the way (missing, or not an object) is a ValueError: the workflows
    changed in place were checked to hold these objects (``api.shapes.EDITABLE``)."""
    for key in path:
        value = obj.setdefault(key, {}) if make else obj.get(key)
        if not isinstance(value, dict):
            raise ValueError(f"{'.'.join(path)}: {key} is {json_kind(value)}, not an object")
        obj = value
    return obj


def trigger_body(user_id: str, args: JSONObject) -> JSONObject:
    """The body of ``POST /ibot/workflow/{id}`` that starts an HTTP-triggered workflow for ``user_id`` now."""
    return {"action": "invoke", "target_device_ids": [user_id], "action_args": args}


def describe_type(workflow: JSONObject) -> str:
    return triggers.describe(trigger_of(workflow))


def format_value(value: JSONValue) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def describe_args(workflow: JSONObject) -> str:
    return ", ".join(f"{k}={format_value(v)}" for k, v in args_of(workflow).items())


#: how Relay workflow ids begin (``wf_...``)
ID_PREFIX = "wf_"


def looks_like_id(ref: str) -> bool:
    """Is ``ref`` written as a workflow id (not a name)? Such an id may name a workflow that no longer exists."""
    return ref.startswith(ID_PREFIX)


def validate_ref(ref: str | None) -> str:
    """A workflow reference (-w): matched exactly as given, so only emptiness is refused."""
    if ref is None or not ref.strip():
        raise UsageError("expected a workflow id or name, got an empty string", option="--workflow-id")
    return ref


#: the shortest start of an id that -w takes for the whole id, and so the shortest id a table shows on a terminal
SHORT_ID = 10


def is_short_id(ref: str) -> bool:
    """Could ``ref`` be the start of an id that ``resolve`` takes for the whole id?"""
    return looks_like_id(ref) and len(ref) >= SHORT_ID


W = TypeVar("W", bound=Mapping[str, JSONValue])


def matches(workflows: Sequence[W], ref: str) -> tuple[str, list[W]]:
    """The workflows ``ref`` names, and by what: ``"id"`` (its exact id: one), else ``"name"`` (exact name: one or
    more), else ``"start"`` (the start of their ids as a narrow table shows them, ``wf_`` and at least
    ``SHORT_ID`` characters: one or more), else ``""`` and none."""
    for workflow in workflows:
        if workflow.get("workflow_id") == ref:
            return "id", [workflow]
    named = [w for w in workflows if w.get("name") == ref]
    if named:
        return "name", named
    if is_short_id(ref):
        started = [w for w in workflows if str(w.get("workflow_id", "")).startswith(ref)]
        if started:
            return "start", started
    return "", []


def resolve(workflows: list[JSONObject], ref: str, *, account: str | None = None) -> JSONObject:
    """The one workflow ``ref`` names (``matches``). Several with that name or that start → usage error; none →
    not found."""
    validate_ref(ref)
    how, found = matches(workflows, ref)
    if len(found) == 1:
        return found[0]
    ids = ", ".join(str(w.get("workflow_id")) for w in found)
    if how == "name":
        raise UsageError(
            f"{len(found)} workflows are named {ref!r} ({ids}); give the id instead", option="--workflow-id"
        )
    if how == "start":
        raise UsageError(
            f"{len(found)} workflow ids start with {ref!r} ({ids}); give more of the id", option="--workflow-id"
        )
    where = f" in account {account}" if account else ""
    raise NotFoundError(f"no workflow with id or name {ref!r}{where}", hint="`relay workflow list` shows the workflows")
