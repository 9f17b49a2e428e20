"""Scenarios for ``relay workflow simulate``: parsing and checking scenario TOML, and running one, sans I/O.

Pure: no I/O. The TOML text comes in as a string; time comes in as ``now``; frames from the app come in as
strings; what to send goes out as dicts. ``relay_cli.simulator.runner`` moves them over the WebSocket.

A scenario is a sequence of steps:

- ``send = "<event>"``: the server sends an event (``start``, ``call_received``, ``call_start_request``,
  ``button``, ``call_connected``, ``call_disconnected``, ``timer``, ``timer_fired``, ``notification``,
  ``speech``, ``interaction_suspended``, ...);
  ``send = "start"`` with ``trigger = "<a trigger of relay workflow create>"`` (call, button, phrase, ...) and no
  ``args`` sends the START Relay sends for that trigger (``core.triggers``, filled from the parameters: taps,
  phrase, call_trigger_type, ...); any other ``trigger`` is sent as written, with the step's ``args``;
- ``expect = "<request>"``: the app must send that request (``answer``, ``call``, ``say``, ...) within the
  timeout: the first one of that name whose fields equal ``check`` and match ``check_regex``, and that the
  server accepts (or refuses, with ``refused``); the others are near misses, named when none matches;
- ``wait = SECONDS``: time passes.

Every request, expected or not, is answered the way the Relay server answers it (``protocol.Server``); a
request the server refuses gets an error response and the run goes on: what the app does next is what counts.
The run ends when the app sends ``terminate``: a final ``expect = "terminate"`` is implied when the last step
is not one. ``{name}`` in a string is replaced by a parameter (``--from``, ``--hold``, ``--set NAME=VALUE``,
the scenario's ``[params]``, ...). ``[devices.NAME]`` and ``[groups]`` add to the simulated account.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, time

from ..core import triggers, workflow as wf
from ..errors import UsageError
from ..jsontypes import JSONObject, JSONValue
from . import protocol as proto

#: the parameters every scenario has (the device and the other party's behaviour), besides the protocol options
WORLD_PARAMS: JSONObject = {
    "device": "Alice",  # the device the app runs for: a name, an id (digits) or a urn
    "hold": 5.0,  # seconds the other party stays on a connected call before hanging up; < 0: never
    "reject": False,  # the callee declines the calls the app places (call_failed instead of call_connected)
}
#: computed from ``device``; usable in placeholders, not settable
DERIVED_PARAMS = ("device_urn", "device_id", "device_name")
PARAM_CHOICES = {"taps": triggers.PRESSES, "trigger": tuple(triggers.BY_NAME)}

_INTERACTION_EVENTS = ("interaction_suspended", "interaction_resumed", "interaction_failed")
SEND_EVENTS = (
    "start",
    "call_received",
    "call_start_request",
    "call_ringing",
    "call_progressing",
    "call_connected",
    "call_disconnected",
    "call_failed",
    "button",
    "timer",
    "timer_fired",
    "notification",
    "speech",
    *_INTERACTION_EVENTS,
    "progress",
    "sms",
    "resume",
    "play_inbox_message",
)
_CALL_EVENTS = ("call_ringing", "call_progressing", "call_connected", "call_disconnected", "call_failed")
#: the keys each kind of step may have, besides the common ones
_SEND_KEYS: dict[str, tuple[str, ...]] = {
    "start": ("trigger", "args"),
    "call_received": ("from",),
    "call_start_request": ("to",),
    "button": ("button", "taps"),
    "timer": (),
    "timer_fired": ("name",),
    "notification": ("name", "event", "from"),
    "speech": ("text", "audio", "lang"),
    **dict.fromkeys(_INTERACTION_EVENTS, ("interaction", "reason")),
    "progress": (),
    "sms": ("id", "event"),
    "resume": ("trigger", "args"),
    "play_inbox_message": ("action",),
    **dict.fromkeys(_CALL_EVENTS, ()),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "start": ("trigger",),
    "resume": ("trigger",),
    "call_received": ("from",),
    "call_start_request": ("to",),
    "timer_fired": ("name",),
    "notification": ("name",),
    "speech": ("text",),
    "play_inbox_message": ("action",),
}
_STRING_KEYS = (
    "trigger", "from", "to", "button", "taps", "name", "event", "note", "text", "audio", "lang", "interaction",
    "reason", "id", "action",
)  # fmt: skip
_COMMON_KEYS = ("note", "if", "unless")
_TOP_KEYS = ("name", "description", "params", "devices", "groups", "steps")

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_REQUEST_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

#: how many of the app's requests a run keeps for later expect steps (the oldest are let go): an app that sends
#: requests in a loop cannot grow the simulator without bound
PENDING_LIMIT = 1000
#: near misses named when an expect step times out
NEAR_MISSES_SHOWN = 3
#: a transcript line is cut here (--json carries the whole message)
LINE_LIMIT = 300


class ScenarioError(UsageError):
    """A scenario that cannot run: malformed TOML, an unknown step key, a bad parameter. Nothing was connected."""


@dataclass(frozen=True)
class Step:
    kind: str  # send | expect | wait
    what: str  # the event or request name, or the wait in seconds (as written)
    data: JSONObject = field(default_factory=dict)  # the step's table as written (placeholders unresolved)
    implicit: bool = False
    number: int = 0  # its place in the file (1-based); the implied final step comes after the last

    def describe(self, params: Mapping[str, JSONValue] | None = None) -> str:
        """``expect say text='Now in call'``, with the parameters filled in when they are given."""
        data = substitute_table(self.data, params) if params is not None else self.data
        if self.kind == "wait":
            seconds = data.get("seconds", self.what)
            return f"wait {_text(seconds)}s" if isinstance(seconds, (int, float)) else f"wait {seconds}"
        text = f"{self.kind} {self.what}"
        checks = {**_flatten(_table(data.get("check"))), **_flatten(_table(data.get("check_regex")))}
        if checks:
            text += " " + " ".join(f"{k}={v!r}" for k, v in checks.items())
        refused = data.get("refused")
        if refused:
            text += ", refused" + (f" with {refused!r}" if isinstance(refused, str) else "")
        if self.implicit:
            text += ", implied at the end of every scenario"
        return text

    def seconds(self, key: str, default: float) -> float:
        """A number of seconds the step gives (a number: checked when it was read), else ``default``."""
        value = self.data.get(key, default)
        return float(value) if isinstance(value, (int, float)) else default


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    params: JSONObject
    steps: tuple[Step, ...]
    source: str
    devices: dict[str, JSONObject] = field(default_factory=dict)  # [devices.NAME]: name → info
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # [groups]: name → member names

    def uses(self, param: str) -> bool:
        """The scenario declares ``param`` in [params] or names it in a placeholder."""
        if param in self.params:
            return True
        return any(param in _placeholders(step.data) for step in self.steps)


def _flatten(table: Mapping[str, JSONValue], prefix: str = "") -> JSONObject:
    out: JSONObject = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _placeholders(value: object) -> set[str]:
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, Mapping):
        return set().union(*(_placeholders(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_placeholders(v) for v in value)) if value else set()
    return set()


def _date_or_time(value: object, path: str) -> str | None:
    """Where ``value`` (at ``path``) holds a TOML date or time, the first in the file's order; None when nowhere.
    A step's values become JSON (a message's fields, a START's args, what a request is checked against)."""
    todo = [(value, path)]
    while todo:
        item, at = todo.pop()
        if isinstance(item, (date, time)):  # a datetime is a date
            return at
        if isinstance(item, Mapping):
            todo.extend(reversed([(v, f"{at}.{k}") for k, v in item.items()]))
        elif isinstance(item, list):
            todo.extend(reversed([(v, f"{at}[{i}]") for i, v in enumerate(item)]))
    return None


def _scalar(value: object) -> bool:
    return isinstance(value, (str, int, float, bool))


def _seconds(value: object, low: float = 0.0, *, above: bool = False) -> bool:
    """A number of seconds from ``low`` (or above it) to the maximum a simulated duration may have."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return (value > low if above else value >= low) and value <= proto.MAX_SECONDS


# --- parsing ---------------------------------------------------------------------------------------


def parse(text: str, source: str) -> Scenario:
    """Scenario TOML → Scenario. Every problem is a ScenarioError naming ``source``, the step and the key."""
    import tomllib

    from .. import inputs

    try:
        doc = inputs.loads_toml(text, source)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: not valid TOML: {exc}") from None
    return from_dict(doc, source)


def from_dict(doc: Mapping[str, object], source: str) -> Scenario:
    def fail(message: str) -> ScenarioError:
        return ScenarioError(f"{source}: {message}")

    unknown = [k for k in doc if k not in _TOP_KEYS]
    if unknown:
        raise fail(f"unknown key {unknown[0]!r} (a scenario has {', '.join(_TOP_KEYS)})")
    name = doc.get("name", "")
    description = doc.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise fail("name and description must be strings")
    params = doc.get("params", {})
    if not isinstance(params, Mapping):
        raise fail("[params] must be a table of NAME = value")
    for key, value in params.items():
        if not _scalar(value):
            raise fail(f"[params] {key}: expected a string, number or boolean, got {type(value).__name__}")
        if key in DERIVED_PARAMS:
            raise fail(f"[params] {key}: computed from 'device'; set device instead")
    devices = _devices(doc.get("devices", {}), fail)
    groups = _groups(doc.get("groups", {}), fail)
    raw_steps = doc.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise fail('no steps: add [[steps]] tables, e.g. [[steps]] send = "start"')
    known = set(WORLD_PARAMS) | set(proto.DEFAULT_OPTIONS) | set(DERIVED_PARAMS) | set(params)
    for key, value in params.items():
        missing = sorted(_placeholders(value) - known)
        if missing:
            raise fail(f"[params] {key}: unknown parameter {{{missing[0]}}} (declare it under [params])")
    try:
        resolve_placeholders(dict(params))  # a circle is found now; the values are filled in per run
    except ValueError as exc:
        raise fail(f"[params] {exc}") from None
    steps = []
    for number, raw in enumerate(raw_steps, 1):
        steps.append(_step(raw, number, len(raw_steps), known, fail))
    if steps[-1].kind != "expect" or steps[-1].what != "terminate":
        steps.append(Step("expect", "terminate", {}, implicit=True, number=len(steps) + 1))
    return Scenario(name or source, description, dict(params), tuple(steps), source, devices, groups)


def _devices(table: object, fail: Callable[[str], ScenarioError]) -> dict[str, JSONObject]:
    """``[devices.NAME]``: devices the account has besides the demo account's, or the demo devices' info."""
    if not isinstance(table, Mapping):
        raise fail('[devices] must hold tables, e.g. [devices.Erin] battery = 12, indoor_location = "Dock"')
    out: dict[str, JSONObject] = {}
    ids: dict[str, str] = {}
    for name, info in table.items():
        where = f"[devices.{name}]"
        if not isinstance(info, Mapping):
            raise fail(f"{where}: expected a table of {', '.join(proto.DEVICE_KEYS)}")
        if not name.strip() or name.isdigit() or name.startswith(proto.URN_PREFIX) or proto.off_net(name):
            raise fail(f"{where}: a device's name must be a name (not empty, not digits, not a urn)")
        for key, value in info.items():
            problem = _device_value(key, value)
            if problem:
                raise fail(f"{where} {key}: {problem}")
        if "id" in info:
            if info["id"] in ids:
                raise fail(f"{where} id: {info['id']!r} is also {ids[info['id']]}'s id")
            ids[info["id"]] = name
        out[name] = dict(info)
    return out


def _device_value(key: str, value: object) -> str | None:
    if key not in proto.DEVICE_KEYS:
        return f"unknown key (a device has {', '.join(proto.DEVICE_KEYS)})"
    if key == "id":
        return None if isinstance(value, str) and value.isdigit() else f"expected a string of digits, got {value!r}"
    if key == "battery":
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100
        return None if ok else f"expected a whole number from 0 to 100, got {value!r}"
    if key == "location_enabled":
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if key == "latlong":
        numbers = (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(x, float) and not x.is_integer() for x in value)
        )
        # relay-js turns an array of small whole numbers into a string, relay-py any array of whole numbers
        return None if numbers else f"expected [latitude, longitude], two numbers with decimals, got {value!r}"
    return None if isinstance(value, str) else f"expected a string, got {value!r}"


def _groups(table: object, fail: Callable[[str], ScenarioError]) -> dict[str, tuple[str, ...]]:
    """``[groups]``: NAME = [device names]."""
    if not isinstance(table, Mapping):
        raise fail('[groups] must be a table of NAME = ["device", ...]')
    out = {}
    for name, members in table.items():
        if not isinstance(members, list) or not all(isinstance(m, str) and m.strip() for m in members):
            raise fail(f"[groups] {name}: expected a list of device names, got {members!r}")
        out[name] = tuple(members)
    return out


def _step(raw: object, number: int, total: int, known: set[str], fail: Callable[[str], ScenarioError]) -> Step:
    where = f"step {number}"
    if not isinstance(raw, Mapping):
        raise fail(f"{where}: expected a table ([[steps]]), got {type(raw).__name__}")
    kinds = [k for k in ("send", "expect", "wait") if k in raw]
    if len(kinds) != 1:
        what = "none" if not kinds else " and ".join(kinds)
        raise fail(f"{where}: expected exactly one of send, expect, wait (got {what})")
    kind = kinds[0]
    value = raw[kind]
    if kind == "send":
        if value not in SEND_EVENTS:
            raise fail(f"{where}: send: unknown event {value!r} (expected one of {', '.join(SEND_EVENTS)})")
        allowed = (*_SEND_KEYS[value], "fields")
        for key in _REQUIRED.get(value, ()):
            if key not in raw:
                raise fail(f"{where}: send {value} needs the key {key!r}")
    elif kind == "expect":
        if not isinstance(value, str) or not _REQUEST_NAME.match(value):
            raise fail(f'{where}: expect: expected a request name such as "answer" or "say", got {value!r}')
        if value.startswith("wf_api_") or value.endswith("_request"):
            raise fail(
                f"{where}: expect: give the short name ({proto.request_name({'_type': value})!r}), not the _type"
            )
        if value == "terminate" and number != total:
            raise fail(f"{where}: expect terminate must be the last step (the run ends there)")
        allowed = ("timeout", "check", "check_regex", "refused")
    else:
        if not _seconds(value) and not (isinstance(value, str) and _PLACEHOLDER.fullmatch(value)):
            raise fail(
                f"{where}: wait: expected a number of seconds from 0 to {proto.MAX_SECONDS:g} "
                f'or a "{{param}}", got {value!r}'
            )
        allowed = ()
    for key in raw:
        if key != kind and key not in allowed and key not in _COMMON_KEYS:
            keys = ", ".join((*allowed, *_COMMON_KEYS))
            raise fail(f"{where} ({kind} {value}): unknown key {key!r} (expected {keys})")
    for key, item in raw.items():
        found = _date_or_time(item, key) if key != kind else None
        if found is not None:
            raise fail(
                f"{where}: {found}: a TOML date or time, which a message (JSON) cannot hold; write it as a string"
            )
    for key in ("if", "unless"):
        if key in raw and (not isinstance(raw[key], str) or raw[key] not in known):
            raise fail(f"{where}: {key}: expected the name of a parameter, got {raw[key]!r}")
    if "timeout" in raw and not _seconds(raw["timeout"], above=True):
        raise fail(f"{where}: timeout: expected a number of seconds above 0, at most {proto.MAX_SECONDS:g}, "
                   f"got {raw['timeout']!r}")  # fmt: skip
    if "refused" in raw:
        refused = raw["refused"]
        if not isinstance(refused, (bool, str)):
            raise fail(f"{where}: refused: expected true, false or a regular expression the error matches")
        if isinstance(refused, str) and not _PLACEHOLDER.search(refused):
            try:
                re.compile(refused)
            except re.error as exc:
                raise fail(f"{where}: refused: not a regular expression: {exc}") from None
    for key in ("check", "check_regex", "fields", "args"):
        if key in raw and not isinstance(raw[key], Mapping):
            raise fail(f'{where}: {key}: expected a table, e.g. {key} = {{ text = "Now in call" }}')
    if kind == "send" and value == "sms" and "event" in raw and not isinstance(raw["event"], Mapping):
        raise fail(f'{where}: event: expected a table, e.g. event = {{ status = "delivered" }}')
    for key, pattern in _flatten(raw.get("check_regex") or {}).items():
        if not isinstance(pattern, str):
            raise fail(f"{where}: check_regex.{key}: expected a regular expression string, got {pattern!r}")
        if not _PLACEHOLDER.search(pattern):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise fail(f"{where}: check_regex.{key}: not a regular expression: {exc}") from None
    for key in _STRING_KEYS:
        if key in raw and not isinstance(raw[key], str) and not (key == "event" and value == "sms"):
            raise fail(f"{where}: {key}: expected a string, got {raw[key]!r}")
    unknown = sorted(_placeholders({k: v for k, v in raw.items() if k not in ("note", "check_regex")}) - known)
    unknown += sorted(_placeholders(raw.get("check_regex") or {}) - known)
    if unknown:
        raise fail(f"{where}: unknown parameter {{{unknown[0]}}} (declare it under [params])")
    data = {k: v for k, v in raw.items() if k != kind}
    if kind == "wait":
        data["seconds"] = value
    return Step(kind, str(value), data, number=number)


# --- parameters --------------------------------------------------------------------------------


def resolve_placeholders(params: JSONObject) -> None:
    """Fill in parameters whose values name other parameters (``a = "{b}"``), in place. A circle
    (``a = "{b}"``, ``b = "{a}"``) is a ValueError naming it."""
    done: set[str] = set()

    def resolve(key: str, chain: list[str]) -> JSONValue:
        value = params.get(key)
        if key in done or not isinstance(value, str) or not _placeholders(value):
            done.add(key)
            return value
        if key in chain:
            circle = " → ".join(f"{{{k}}}" for k in (*chain[chain.index(key) :], key))
            raise ValueError(f"{chain[0]}: its value refers to itself: {circle}")
        for name in _placeholders(value):
            if name in params:
                resolve(name, [*chain, key])
        whole = _PLACEHOLDER.fullmatch(value)
        if whole and whole.group(1) in params:
            params[key] = params[whole.group(1)]
        else:
            params[key] = _PLACEHOLDER.sub(
                lambda m: _text(params[m.group(1)]) if m.group(1) in params else m.group(0), value
            )
        done.add(key)
        return params[key]

    for key in list(params):
        resolve(key, [])


def _coerce(name: str, text: str, like: JSONValue, option: str) -> JSONValue:
    if isinstance(like, bool):
        if text not in ("true", "false"):
            raise UsageError(f"{name}: expected true or false, got {text!r}", option=option)
        return text == "true"
    if isinstance(like, (int, float)):
        try:
            number = float(text)
        except ValueError:
            raise UsageError(f"{name}: expected a number, got {text!r}", option=option) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise UsageError(f"{name}: expected a finite number, got {text!r}", option=option)
        return number
    return text


def account(
    scenario: Scenario, world: proto.World | None = None, params: Mapping[str, JSONValue] | None = None
) -> proto.World:
    """The simulated account of a run: ``world`` (the demo account), the devices and groups the scenario declares,
    and the devices its parameters name (the device the app runs for, the caller ``from``, the callee ``to``)."""
    found = (world or proto.World()).with_devices((), scenario.devices)
    if params is not None:
        named = [str(params[k]) for k in ("device", "from", "to") if isinstance(params.get(k), str)]
        found = found.with_devices(named)
    members = {name: list(group) for name, group in scenario.groups.items()}
    for group, names in members.items():
        for member in names:
            if found.find(member) is None:
                raise ScenarioError(
                    f"{scenario.source}: [groups] {group}: no device {member!r} in the account "
                    f"(declare it with [devices.{member}])"
                )
        members[group] = [str(found.find(m).name) for m in names]  # type: ignore[union-attr]
    return found.with_groups(members)


def resolve_params(
    scenario: Scenario,
    flags: Mapping[str, tuple[str, JSONValue]] | None = None,
    sets: list[str] | None = None,
    defaults: Mapping[str, JSONValue] | None = None,
    world: proto.World | None = None,
) -> JSONObject:
    """The parameters of one run: built-in defaults < the scenario's [params] < ``defaults`` (what a
    registered workflow says: its device, its tap, its phrase) < ``flags`` (param → (flag name, value)) <
    ``--set NAME=VALUE``. The workflow's facts win over a scenario's generic defaults: a single-tap workflow
    is simulated with a single tap, though the button scenario's own default is a double tap.

    A flag for a parameter the scenario does not use is refused, so ``--taps`` on a call scenario is not
    silently ignored. ``world`` (the account's devices) gives the device its id and name."""
    params: JSONObject = {**WORLD_PARAMS, **proto.DEFAULT_OPTIONS}
    params.update(scenario.params)
    for key, value in (defaults or {}).items():
        if key in WORLD_PARAMS or scenario.uses(key):
            params[key] = value
    for key, (option, value) in (flags or {}).items():
        if value is None:
            continue
        if key not in WORLD_PARAMS and not scenario.uses(key):
            raise UsageError(f"does not apply to scenario {scenario.name!r}", option=option)
        params[key] = value
    for text in sets or []:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise UsageError(f"expected NAME=VALUE such as event_delay=0, got {text!r}", option="--set")
        if key in DERIVED_PARAMS:
            raise UsageError(f"{key} is computed from device; set device instead", option="--set")
        if key not in params:
            from ..core.suggest import did_you_mean

            names = ", ".join(sorted(params))
            raise UsageError(
                f"unknown parameter {key!r}{did_you_mean(key, params)} (this scenario has: {names})", option="--set"
            )
        params[key] = _coerce(key, value, params[key], "--set")
    try:
        resolve_placeholders(params)
    except ValueError as exc:
        raise ScenarioError(f"{scenario.source}: parameter {exc}", option="--set") from None
    check_params(params, account(scenario, world))
    resolve_placeholders(params)  # what names a computed parameter ({device_name}), now that it has a value
    for step in scenario.steps:
        if step.kind == "wait":
            seconds = substitute(step.data["seconds"], params)
            if not _seconds(seconds):
                raise ScenarioError(
                    f"{scenario.source}: step {step.number}: wait {step.what} is {seconds!r}, not a number of "
                    f"seconds from 0 to {proto.MAX_SECONDS:g}"
                )
    return params


def check_params(params: JSONObject, world: proto.World | None = None) -> JSONObject:
    for key, value in params.items():
        problem = proto.check_option(key, value)
        if problem is None and key in PARAM_CHOICES and value not in PARAM_CHOICES[key]:
            problem = f"expected one of {', '.join(PARAM_CHOICES[key])}, got {value!r}"
        if problem:
            option = f"--{key}" if key in PARAM_CHOICES else "--set"
            raise UsageError(f"{key}: {problem}", option=option)
    hold = params["hold"]
    if isinstance(hold, bool) or not isinstance(hold, (int, float)) or hold > proto.MAX_SECONDS:
        raise UsageError(
            f"hold: expected a number of seconds up to {proto.MAX_SECONDS:g} (below 0: never), got {hold!r}",
            option="--hold",
        )
    device = str(params["device"]).strip()
    if not device:
        raise UsageError("expected a device name or id, got an empty string", option="--device")
    if proto.off_net(device):
        raise UsageError(f"expected a device of the account, not a telephone number: {device!r}", option="--device")
    found = (world or proto.World()).device(device)
    params["device_urn"] = found.urn
    params["device_id"] = found.id
    params["device_name"] = found.name
    return params


def defaults_from_workflow(workflow: Mapping[str, JSONValue]) -> tuple[str | None, JSONObject, str | None]:
    """What a registered workflow tells a simulation: (the scenario its trigger suggests, parameter
    defaults, a note when the device had to be guessed). Its registration args become get_var values."""
    trig = wf.trigger_of(dict(workflow))
    key = triggers.trigger_key(trig)
    suggested = {"on_incoming_call": "inbound-call", "on_call_request": "outbound-call", "on_button": "button"}.get(
        key or ""
    )
    defaults: JSONObject = {}
    if suggested is None and key in triggers.BY_KEY and key not in ("on_phrases", "on_phrase"):
        suggested = "trigger"  # the START of its trigger, then whatever the app does
        defaults["trigger"] = triggers.BY_KEY[key].name
    if key in ("on_phrases", "on_phrase"):
        suggested = "phrase"
        stored = trig[key]
        phrases = stored if isinstance(stored, list) else [stored]
        if phrases:
            defaults["phrase"] = str(phrases[0])
    if key == "on_button":
        taps = {action: taps for taps, action in triggers.BUTTON_ACTIONS.items()}.get(str(trig[key]))
        if taps is not None:
            defaults["taps"] = taps
    note = None
    installed = [str(d) for d in wf.install_list(workflow) if str(d).strip()]
    if installed:
        defaults["device"] = installed[0]
    else:
        where = wf.describe_install(dict(workflow)) or "no device"
        note = f"{workflow.get('name')} is installed on {where}; simulating device {WORLD_PARAMS['device']} (choose with --device)"
    return suggested, defaults, note


# --- substitution ----------------------------------------------------------------------------------


def substitute(value: JSONValue, params: Mapping[str, JSONValue]) -> JSONValue:
    """Replace ``{name}`` by the parameter; a string that is only ``{name}`` takes the parameter's type."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole:
            return params[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: _text(params[m.group(1)]), value)
    if isinstance(value, Mapping):
        return {k: substitute(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, params) for v in value]
    return value


def substitute_table(table: Mapping[str, JSONValue], params: Mapping[str, JSONValue]) -> JSONObject:
    """``substitute`` of each value of a table."""
    return {k: substitute(v, params) for k, v in table.items()}


def _table(value: JSONValue) -> JSONObject:
    """A step's table (``check``, ``fields``, ...): checked to be one when the step was read; {} when absent."""
    return value if isinstance(value, dict) else {}


def _text_or_none(value: JSONValue) -> str | None:
    return None if value is None else str(value)


def _text(value: JSONValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _matches(expected: JSONValue, actual: JSONValue) -> bool:
    """Tables match when every expected key matches; anything else must be equal."""
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(k in actual and _matches(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return bool(expected == actual)


def _lookup(message: Mapping[str, JSONValue], path: str) -> tuple[bool, JSONValue]:
    *outer, last = path.split(".")
    found = message
    for part in outer:
        inner = found.get(part)
        if not isinstance(inner, Mapping):
            return False, None
        found = inner
    return (True, found[last]) if last in found else (False, None)


def check_request(step: Step, request: Mapping[str, JSONValue], params: Mapping[str, JSONValue]) -> str | None:
    """Why ``request`` does not satisfy the checks of ``step``, or None."""
    for path, expected in _flatten(substitute_table(_table(step.data.get("check")), params)).items():
        found, actual = _lookup(request, path)
        if not found:
            return f"its {path} is missing (expected {expected!r})"
        if not _matches(expected, actual):
            return f"its {path} is {actual!r}, expected {expected!r}"
    for path, pattern in _flatten(substitute_table(_table(step.data.get("check_regex")), params)).items():
        found, actual = _lookup(request, path)
        if not found:
            return f"its {path} is missing (expected a match of {pattern!r})"
        try:
            found = re.search(str(pattern), actual if isinstance(actual, str) else str(actual)) is not None
        except re.error as exc:
            return f"check_regex.{path} is not a regular expression once its parameters are filled in: {exc}"
        if not found:
            return f"its {path} is {actual!r}, which does not match {pattern!r}"
    return None


def start_trigger(
    trigger: str, args: Mapping[str, JSONValue] | None, params: Mapping[str, JSONValue]
) -> tuple[str, JSONObject]:
    """The START's trigger type and args (without source_uri) for a start step: for a trigger of the table
    (``call``, ``button``, ...) without ``args``, what Relay sends (``core.triggers.start_trigger``, its details
    from the run's parameters); else the step's ``trigger`` and ``args`` as written."""
    if args is None and trigger in triggers.BY_NAME:
        built = triggers.start_trigger(trigger, params)
        built_args = built["args"]
        return str(built["type"]), dict(built_args) if isinstance(built_args, dict) else {}
    return trigger, dict(args or {})


def check_refusal(step: Step, error: str | None, params: Mapping[str, JSONValue]) -> str | None:
    """Why the server's answer to a request does not satisfy ``step``'s ``refused`` (absent: it must be
    accepted), or None."""
    wanted = substitute(step.data.get("refused", False), params)
    if not wanted:
        return None if error is None else f"the server refused it: {error}"
    if error is None:
        return "the server accepted it (the step expects it refused)"
    if isinstance(wanted, str):
        try:
            if re.search(wanted, error) is None:
                return f"it was refused with {error!r}, which does not match {wanted!r}"
        except re.error as exc:
            return f"refused is not a regular expression once its parameters are filled in: {exc}"
    return None


# --- running --------------------------------------------------------------------------------------


@dataclass
class Record:
    """One line of the transcript: a message (or a malformed frame) and who sent it, or a warning of the
    simulator's."""

    t: float  # seconds since the run started
    sender: str  # "app" | "server" | "simulator"
    step: int | None  # the step in progress (1-based)
    message: JSONObject | None = None
    raw: str | None = None  # a frame from the app that is not a message
    warning: str | None = None  # the simulator's (sender "simulator")

    def to_json(self) -> JSONObject:
        out: JSONObject = {"t": round(self.t, 3), "from": self.sender, "step": self.step}
        if self.warning is not None:
            out["warning"] = self.warning
        elif self.message is not None:
            out["message"] = self.message
        else:
            out["raw"] = self.raw
        return out

    def line(self) -> str:
        """One line of the live transcript: time, direction, message type, the interesting fields. Raw text, cut
        to ``LINE_LIMIT`` characters: the command escapes it for the terminal (``output.safe``)."""
        arrow = {"app": "app →", "server": "← server"}.get(self.sender, "!")
        if self.warning is not None:
            label, detail = "warning", self.warning
        elif self.message is None:
            label, detail = "malformed", proto.clip(self.raw or "")
        else:
            label, detail = proto.summarize(self.message)
        text = f"{self.t:7.3f}  {arrow:<8}  {label:<24} {detail}".rstrip()
        return text if len(text) <= LINE_LIMIT else text[: LINE_LIMIT - 1] + "…"


@dataclass
class Failure:
    step: int | None
    step_text: str
    reason: str
    hint: str | None = None

    def text(self) -> str:
        if self.step is None:
            return self.reason
        return f"step {self.step} ({self.step_text}): {self.reason}"


@dataclass
class Sent:
    """A request of the app's, with the server's answer: refused (``error``) or not."""

    request: JSONObject
    t: float  # seconds since the run started
    error: str | None


class Simulation:
    """One run of a scenario against one app connection. The runner calls ``advance`` whenever time passes
    or a frame arrived, sends what it returns, and stops when ``done``; ``next_deadline`` tells it when to
    call again if nothing arrives. ``max_time`` bounds the whole run (None: no bound)."""

    def __init__(
        self,
        scenario: Scenario,
        params: Mapping[str, JSONValue],
        *,
        timeout: float,
        start: float,
        new_id: Callable[[], str] | None = None,
        world: proto.World | None = None,
        max_time: float | None = None,
    ) -> None:
        self.scenario = scenario
        self.params = dict(params)
        self.timeout = timeout
        self.start = start
        self.max_time = max_time
        self.server = proto.Server(self.params, world=account(scenario, world, self.params))
        if new_id is not None:
            self.server.new_id = new_id
        self.steps = [s for s in scenario.steps if self._included(s)]
        self.index = 0  # the current step
        self.step_started = start
        self.wait_until: float | None = None
        self.pending: list[Sent] = []  # requests no expect step has consumed
        self.requests = 0  # requests the app sent
        self.last_event = start  # when the server last sent an event the app may have been waiting for
        self.app_spoke = False
        self.records: list[Record] = []
        self.failure: Failure | None = None
        self.passed = False
        self.stopped: str | None = None  # the reason the server ended the run (``stop``)
        self.server.more_speech = self._speech_ahead()

    # --- state ------------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.passed or self.failure is not None or self.stopped is not None

    @property
    def step_number(self) -> int | None:
        return self.steps[self.index].number if self.index < len(self.steps) else None

    def current(self) -> Step | None:
        return self.steps[self.index] if self.index < len(self.steps) else None

    def _included(self, step: Step) -> bool:
        """The step's ``if`` and ``unless`` (names of parameters, checked when it was read) hold."""
        if "if" in step.data and not self.params.get(str(step.data["if"])):
            return False
        if "unless" in step.data and self.params.get(str(step.data["unless"])):
            return False
        return True

    def _speech_ahead(self) -> bool:
        return any(s.kind == "send" and s.what == "speech" for s in self.steps[self.index :])

    def fail(self, reason: str, hint: str | None = None) -> None:
        if self.failure is None:
            step = self.current()
            self.failure = Failure(self.step_number, step.describe(self.params) if step else "", reason, hint)

    def _warnings(self, now: float) -> None:
        for text in self.server.take_warnings():
            self.records.append(Record(now - self.start, "simulator", self.step_number, warning=text))

    # --- input ------------------------------------------------------------------------------------

    def receive(self, frame: str | bytes, now: float) -> None:
        """A frame from the app."""
        self.app_spoke = True
        try:
            request = proto.parse(frame)
        except proto.ProtocolError as exc:
            raw = frame if isinstance(frame, str) else repr(frame[:200])
            self.records.append(Record(now - self.start, "app", self.step_number, raw=raw))
            if not self.done:
                self.fail(f"the app sent a malformed message: {exc}")
            return
        self.records.append(Record(now - self.start, "app", self.step_number, message=request))
        if self.done:
            return
        self.requests += 1
        self.server.step = self.step_number
        reply = self.server.handle(request, now)
        self._warnings(now)
        self.pending.append(Sent(request, now - self.start, reply.error))
        if len(self.pending) > PENDING_LIMIT:
            del self.pending[: len(self.pending) - PENDING_LIMIT]

    def closed(self, now: float, code: int | None = None, reason: str = "") -> None:
        """The app closed the connection with ``code`` and ``reason``; ``code`` None: without a close frame."""
        if self.done:
            return
        self._run_steps(now)  # a terminate that came just before the close counts
        if not self.done and self.server.terminated and self.index >= len(self.steps):
            self.passed = True
        if self.done:
            return
        hint = None
        if not self.app_spoke and not reason and code in (None, 1000):
            # relay-py accepts a connection to a path it serves no workflow on, then closes it (1000, no reason)
            hint = (
                "the app closed the connection without sending anything: check the URI's path "
                "(relay-py closes connections to paths it serves no workflow on)"
            )
        detail = "without a close frame" if code is None else f"code {code}" + (f", {reason!r}" if reason else "")
        self.fail(f"the app closed the connection ({detail}) before terminating", hint)

    def oversized(self, limit: int) -> None:
        """The app sent a frame larger than ``limit`` bytes; the connection was closed (1009)."""
        self.fail(
            f"the app sent a message larger than {limit:,} bytes, the simulator's limit for one frame; "
            "the connection was closed (1009, message too big)"
        )

    def stop(self, now: float, reason: str) -> list[JSONObject]:
        """The server ends the run before the scenario is over (the sandbox's instance was stopped): STOP with
        ``reason``, then the connection closes. Not a failure of the app. Returns the message to send."""
        if self.done:
            return []
        self.stopped = reason
        message = proto.event("stop", reason=reason)
        self.records.append(Record(now - self.start, "server", self.step_number, message=message))
        return [message]

    # --- time -------------------------------------------------------------------------------------

    def advance(self, now: float) -> list[JSONObject]:
        """Run the steps as far as they go at ``now``; return the messages to send now (in order)."""
        if not self.done:
            self.server.step = self.step_number
            for hangup in self.server.remote_hangups(now):
                self.server.send(now, hangup)
            self._run_steps(now)
        out = []
        for item in self.server.due(now):
            message = item.build(now)
            if message is None:
                continue
            out.append(message)
            if not item.tick and proto.kind(message) == "event":
                # an event the app may have waited for (a prompt stopped, a call connected) gives it the step's
                # timeout again; a response to its own request does not, so a chatty app cannot run for ever
                self.last_event = now
            self.records.append(Record(now - self.start, "server", item.step, message=message))
        self._warnings(now)
        if not self.done and self.server.terminated and self.index >= len(self.steps):
            self.passed = True
        if not self.done and self.max_time is not None and now >= self.start + self.max_time:
            self.fail(
                f"the run did not end within --max-time {self.max_time:g}s "
                f"(the app sent {self.requests} request{'' if self.requests == 1 else 's'} meanwhile)",
                "an app that keeps the conversation going without reaching the scenario's end fails here; "
                "raise --max-time for a longer scenario",
            )
        return out

    def next_deadline(self) -> float | None:
        """When ``advance`` has something to do next if no frame arrives: a scheduled send, the end of a
        wait, the timeout of an expect step, or the end of the whole run."""
        if self.done:
            return None
        overall = self.start + self.max_time if self.max_time is not None else None
        times = [
            t for t in (self.server.next_due(), self.wait_until, self._expect_deadline(), overall) if t is not None
        ]
        return min(times) if times else None

    def _expect_deadline(self) -> float | None:
        step = self.current()
        if step is None or step.kind != "expect" or self.server.next_due(awaited=True) is not None:
            return None  # while the server has something to send, the app may be waiting for it
        timeout = step.seconds("timeout", self.timeout)
        return max(self.step_started, self.last_event) + timeout

    def _next(self, now: float) -> None:
        self.index += 1
        self.step_started = now
        self.wait_until = None
        if self.server.more_speech and not self._speech_ahead():
            self.server.script_over(now)

    def _run_steps(self, now: float) -> None:
        while not self.done and self.index < len(self.steps):
            step = self.steps[self.index]
            self.server.step = step.number
            if step.kind == "send":
                if self.server.terminated:
                    self.fail("the app terminated before the server could send this")
                    return
                message = self._build_event(step, now)
                if isinstance(message, str):
                    self.fail(message)
                    return
                if message is not None:
                    self.server.send(now, message)
                self._next(now)
            elif step.kind == "wait":
                if self.server.terminated:
                    self.fail("the app terminated before the scenario was over")
                    return
                if self.wait_until is None:
                    seconds = substitute(step.data["seconds"], self.params)
                    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                        self.fail(f"the wait is {seconds!r}, not a number of seconds")
                        return
                    self.wait_until = now + max(0.0, float(seconds))
                if now < self.wait_until:
                    return
                self._next(now)
            else:
                if not self._expect(step, now):
                    return

    def _expect(self, step: Step, now: float) -> bool:
        """True when the step is satisfied (and the run moved on): the first pending request of the step's name
        that passes its checks and whose answer is what the step says (accepted, or ``refused``)."""
        near: list[tuple[Sent, str]] = []
        for i, sent in enumerate(self.pending):
            if proto.request_name(sent.request) != step.what:
                continue
            problem = check_request(step, sent.request, self.params) or check_refusal(step, sent.error, self.params)
            if problem is None:
                del self.pending[i]
                self._next(now)
                return True
            near.append((sent, problem))
        if self.server.terminated:
            wanted = self._wanted(step)
            article = "an" if wanted[0] in "aeiou" else "a"
            self.fail(f"the app terminated without sending {article} {wanted}{self._near(near)}")
            return False
        deadline = self._expect_deadline()
        if deadline is not None and now >= deadline:
            timeout = step.seconds("timeout", self.timeout)
            what = "did not terminate" if step.what == "terminate" else f"sent no {self._wanted(step)}"
            self.fail(f"the app {what} within {timeout:g}s{self._near(near) or self._meanwhile()}", self._hint())
        return False

    def _wanted(self, step: Step) -> str:
        checked = bool(step.data.get("check") or step.data.get("check_regex") or step.data.get("refused"))
        return f"{step.what} request" + (" that matches" if checked else "")

    def _near(self, near: list[tuple[Sent, str]]) -> str:
        if not near:
            return ""
        shown = [f"{proto.request_name(s.request)} at {s.t:.3f}s: {problem}" for s, problem in near[:NEAR_MISSES_SHOWN]]
        more = len(near) - NEAR_MISSES_SHOWN
        return "; near misses: " + "; ".join(shown) + (f" (and {more} more)" if more > 0 else "")

    def _meanwhile(self) -> str:
        if not self.pending:
            return "; the app sent nothing meanwhile"
        names = [proto.request_name(s.request) for s in self.pending[-10:]]
        refused = [f"{proto.request_name(s.request)} ({s.error})" for s in self.pending if s.error][-3:]
        text = f"; meanwhile the app sent {', '.join(names)}"
        return text + (f"; refused: {'; '.join(refused)}" if refused else "")

    def _hint(self) -> str | None:
        if self.server.listens:
            ahead = next((s for s in self.steps[self.index :] if s.kind == "send" and s.what == "speech"), None)
            return (
                None
                if ahead is None
                else (
                    f"the app is listening: the scenario's next speech is step {ahead.number}, after this one; "
                    "put the speech step before the step that waits for the app's answer"
                )
            )
        return None

    def _build_event(self, step: Step, now: float) -> JSONObject | str | None:
        """The event a send step sends now; a string: why it cannot be sent; None: nothing to send now (the
        server handles it: a speech waits for the app's listen)."""
        data = substitute_table(step.data, self.params)
        extra = dict(_table(data.get("fields")))
        name = step.what
        server = self.server
        if name in ("start", "resume"):
            args = data.get("args")  # a table when given
            kind, args = start_trigger(str(data["trigger"]), args if isinstance(args, dict) else None, self.params)
            message = server.start_event(kind, args, name)
        elif name == "call_received":
            message = server.incoming_call(now, str(data["from"]))
        elif name == "call_start_request":
            message = server.call_start_request(str(data["to"]))
        elif name == "button":
            message = server.button_event(str(data.get("button", "action")), str(data.get("taps", "single")))
        elif name == "timer":
            message = proto.event("timer")
        elif name == "timer_fired":
            message = server.timer_fired_event(str(data["name"]))
        elif name == "notification":
            message = server.notification_event(
                str(data["name"]), str(data.get("event", "ack_event")), str(data.get("from", "Bob"))
            )
        elif name == "speech":
            audio, lang = _text_or_none(data.get("audio")), _text_or_none(data.get("lang"))  # strings, as read
            server.speak(now, proto.Utterance(str(data["text"]), audio, lang))
            return None
        elif name in _INTERACTION_EVENTS:
            built = server.lifecycle_event(
                name.removeprefix("interaction_"),
                _text_or_none(data.get("interaction")),
                _text_or_none(data.get("reason")),
            )
            if isinstance(built, str):
                return built
            message = built
        elif name == "progress":
            message = proto.event("progress")
        elif name == "sms":
            message = server.sms_event(_text_or_none(data.get("id")), _table(data.get("event")))
        elif name == "play_inbox_message":
            message = proto.event("play_inbox_message", action=str(data["action"]))
        else:
            return server.scripted_call_event(now, name, extra)  # the fields are part of it
        message.update(extra)
        return message
