"""Scenarios for ``relay workflow simulate``: parsing and checking scenario TOML, and running one, sans I/O.

Pure: no I/O. The TOML text comes in as a string; time comes in as ``now``; frames from the app come in as
strings; what to send goes out as dicts. ``relay_cli.simulator.runner`` moves them over the WebSocket.

A scenario is a sequence of steps:

- ``send = "<event>"``: the server sends an event (``start``, ``call_received``, ``call_start_request``,
  ``button``, ``call_connected``, ``call_disconnected``, ``timer``, ``timer_fired``, ``notification``, ...);
  ``send = "start"`` with ``trigger = "<a trigger of relay workflow create>"`` (call, button, phrase, ...) and no
  ``args`` sends the START Relay sends for that trigger (``core.triggers``, filled from the parameters: taps,
  phrase, call_trigger_type, ...); any other ``trigger`` is sent as written, with the step's ``args``;
- ``expect = "<request>"``: the app must send that request (``answer``, ``call``, ``say``, ...) within the
  timeout, optionally with fields equal to ``check`` or matching the regular expressions of ``check_regex``;
- ``wait = SECONDS``: time passes.

Every request, expected or not, is answered the way the Relay server answers it (``protocol.Server``),
so the steps only name what the scenario is about. The run ends when the app sends ``terminate``: a final
``expect = "terminate"`` is implied when the last step is not one. ``{name}`` in a string is replaced by a
parameter (``--from``, ``--hold``, ``--set NAME=VALUE``, the scenario's ``[params]``, ...).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core import triggers, workflow as wf
from ..errors import UsageError
from . import protocol as proto
from .protocol import clean as clean_text

#: the parameters every scenario has (the device and the other party's behaviour), besides the protocol options
WORLD_PARAMS: dict[str, Any] = {
    "device": "Alice",  # the device the app runs for: a name, an id (digits) or a urn
    "hold": 5.0,  # seconds the other party stays on a connected call before hanging up; < 0: never
    "reject": False,  # the callee declines the calls the app places (call_failed instead of call_connected)
}
#: computed from ``device``; usable in placeholders, not settable
DERIVED_PARAMS = ("device_urn", "device_id", "device_name")
PARAM_CHOICES = {"taps": triggers.PRESSES, "trigger": tuple(triggers.BY_NAME)}

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
    **dict.fromkeys(_CALL_EVENTS, ()),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "start": ("trigger",),
    "call_received": ("from",),
    "call_start_request": ("to",),
    "timer_fired": ("name",),
    "notification": ("name",),
}
_COMMON_KEYS = ("note", "if", "unless")
_TOP_KEYS = ("name", "description", "params", "steps")

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_REQUEST_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ScenarioError(UsageError):
    """A scenario that cannot run: malformed TOML, an unknown step key, a bad parameter. Nothing was connected."""


@dataclass(frozen=True)
class Step:
    kind: str  # send | expect | wait
    what: str  # the event or request name, or the wait in seconds (as written)
    data: dict[str, Any] = field(default_factory=dict)  # the step's table as written (placeholders unresolved)
    implicit: bool = False
    number: int = 0  # its place in the file (1-based); the implied final step comes after the last

    def describe(self, params: Mapping[str, Any] | None = None) -> str:
        """``expect say text='Now in call'``, with the parameters filled in when they are given."""
        data = substitute(self.data, params) if params is not None else self.data
        if self.kind == "wait":
            seconds = data.get("seconds", self.what)
            return f"wait {_text(seconds)}s" if isinstance(seconds, (int, float)) else f"wait {seconds}"
        text = f"{self.kind} {self.what}"
        checks = {**_flatten(data.get("check") or {}), **_flatten(data.get("check_regex") or {})}
        if checks:
            text += " " + " ".join(f"{k}={v!r}" for k, v in checks.items())
        if self.implicit:
            text += ", implied at the end of every scenario"
        return text


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    params: dict[str, Any]
    steps: tuple[Step, ...]
    source: str

    def uses(self, param: str) -> bool:
        """The scenario declares ``param`` in [params] or names it in a placeholder."""
        if param in self.params:
            return True
        return any(param in _placeholders(step.data) for step in self.steps)


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _placeholders(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, Mapping):
        return set().union(*(_placeholders(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_placeholders(v) for v in value)) if value else set()
    return set()


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


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


def from_dict(doc: Mapping[str, Any], source: str) -> Scenario:
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
    raw_steps = doc.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise fail('no steps: add [[steps]] tables, e.g. [[steps]] send = "start"')
    known = set(WORLD_PARAMS) | set(proto.DEFAULT_OPTIONS) | set(DERIVED_PARAMS) | set(params)
    steps = []
    for number, raw in enumerate(raw_steps, 1):
        steps.append(_step(raw, number, len(raw_steps), known, fail))
    if steps[-1].kind != "expect" or steps[-1].what != "terminate":
        steps.append(Step("expect", "terminate", {}, implicit=True, number=len(steps) + 1))
    return Scenario(name or source, description, dict(params), tuple(steps), source)


def _step(raw: Any, number: int, total: int, known: set[str], fail: Callable[[str], ScenarioError]) -> Step:
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
        allowed = ("timeout", "check", "check_regex")
    else:
        if not (isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0) and not (
            isinstance(value, str) and _PLACEHOLDER.fullmatch(value)
        ):
            raise fail(f'{where}: wait: expected a number of seconds >= 0 or a "{{param}}", got {value!r}')
        allowed = ()
    for key in raw:
        if key != kind and key not in allowed and key not in _COMMON_KEYS:
            keys = ", ".join((*allowed, *_COMMON_KEYS))
            raise fail(f"{where} ({kind} {value}): unknown key {key!r} (expected {keys})")
    for key in ("if", "unless"):
        if key in raw and (not isinstance(raw[key], str) or raw[key] not in known):
            raise fail(f"{where}: {key}: expected the name of a parameter, got {raw[key]!r}")
    if "timeout" in raw:
        t = raw["timeout"]
        if isinstance(t, bool) or not isinstance(t, (int, float)) or t <= 0:
            raise fail(f"{where}: timeout: expected a number of seconds > 0, got {t!r}")
    for key in ("check", "check_regex", "fields", "args"):
        if key in raw and not isinstance(raw[key], Mapping):
            raise fail(f'{where}: {key}: expected a table, e.g. {key} = {{ text = "Now in call" }}')
    for key, pattern in _flatten(raw.get("check_regex") or {}).items():
        if not isinstance(pattern, str):
            raise fail(f"{where}: check_regex.{key}: expected a regular expression string, got {pattern!r}")
        if not _PLACEHOLDER.search(pattern):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise fail(f"{where}: check_regex.{key}: not a regular expression: {exc}") from None
    for key in ("trigger", "from", "to", "button", "taps", "name", "event", "note"):
        if key in raw and not isinstance(raw[key], str):
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


def _coerce(name: str, text: str, like: Any, option: str) -> Any:
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


def resolve_params(
    scenario: Scenario,
    flags: Mapping[str, tuple[str, Any]] | None = None,
    sets: list[str] | None = None,
    defaults: Mapping[str, Any] | None = None,
    world: proto.World | None = None,
) -> dict[str, Any]:
    """The parameters of one run: built-in defaults < the scenario's [params] < ``defaults`` (what a
    registered workflow says: its device, its tap, its phrase) < ``flags`` (param → (flag name, value)) <
    ``--set NAME=VALUE``. The workflow's facts win over a scenario's generic defaults: a single-tap workflow
    is simulated with a single tap, though the button scenario's own default is a double tap.

    A flag for a parameter the scenario does not use is refused, so ``--taps`` on a call scenario is not
    silently ignored. ``world`` (the account's devices) gives the device its id and name."""
    params: dict[str, Any] = {**WORLD_PARAMS, **proto.DEFAULT_OPTIONS}
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
            names = ", ".join(sorted(params))
            raise UsageError(f"unknown parameter {key!r} (this scenario has: {names})", option="--set")
        params[key] = _coerce(key, value, params[key], "--set")
    check_params(params, world)
    for step in scenario.steps:
        if step.kind == "wait":
            seconds = substitute(step.data["seconds"], params)
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise ScenarioError(
                    f"{scenario.source}: step {step.number}: wait {step.what} is {seconds!r}, not a number of seconds"
                )
    return params


def check_params(params: dict[str, Any], world: proto.World | None = None) -> dict[str, Any]:
    for key, value in params.items():
        problem = proto.check_option(key, value)
        if problem is None and key in PARAM_CHOICES and value not in PARAM_CHOICES[key]:
            problem = f"expected one of {', '.join(PARAM_CHOICES[key])}, got {value!r}"
        if problem:
            raise UsageError(f"{key}: {problem}", option="--set")
    hold = params["hold"]
    if isinstance(hold, bool) or not isinstance(hold, (int, float)):
        raise UsageError(f"hold: expected a number of seconds, got {hold!r}", option="--hold")
    device = str(params["device"]).strip()
    if not device:
        raise UsageError("expected a device name or id, got an empty string", option="--device")
    found = (world or proto.World()).device(device)
    params["device_urn"] = found.urn
    params["device_id"] = found.id
    params["device_name"] = found.name
    return params


def defaults_from_workflow(workflow: Mapping[str, Any]) -> tuple[str | None, dict[str, Any], str | None]:
    """What a registered workflow tells a simulation: (the scenario its trigger suggests, parameter
    defaults, a note when the device had to be guessed). Its registration args become get_var values."""
    trig = wf.trigger_of(dict(workflow))
    key = triggers.trigger_key(trig)
    suggested = {"on_incoming_call": "inbound-call", "on_call_request": "outbound-call", "on_button": "button"}.get(
        key or ""
    )
    defaults: dict[str, Any] = {}
    if suggested is None and key in triggers.BY_KEY and key not in ("on_phrases", "on_phrase"):
        suggested = "trigger"  # the START of its trigger, then whatever the app does
        defaults["trigger"] = triggers.BY_KEY[key].name
    if key in ("on_phrases", "on_phrase"):
        suggested = "phrase"
        phrases = trig[key] if isinstance(trig[key], list) else [trig[key]]
        if phrases:
            defaults["phrase"] = str(phrases[0])
    if key == "on_button":
        taps = str(trig[key]).removeprefix("action_button_").removesuffix("_tap")
        if taps in PARAM_CHOICES["taps"]:
            defaults["taps"] = taps
    note = None
    installed = [str(d) for d in workflow.get("install") or [] if str(d).strip()]
    if installed:
        defaults["device"] = installed[0]
    else:
        where = wf.describe_install(dict(workflow)) or "no device"
        note = f"{workflow.get('name')} is installed on {where}; simulating device {WORLD_PARAMS['device']} (choose with --device)"
    return suggested, defaults, note


# --- substitution ----------------------------------------------------------------------------------


def substitute(value: Any, params: Mapping[str, Any]) -> Any:
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


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _matches(expected: Any, actual: Any) -> bool:
    """Tables match when every expected key matches; anything else must be equal."""
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(k in actual and _matches(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return bool(expected == actual)


def _lookup(message: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    value: Any = message
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return False, None
        value = value[part]
    return True, value


def check_request(step: Step, request: Mapping[str, Any], params: Mapping[str, Any]) -> str | None:
    """Why ``request`` does not satisfy the checks of ``step``, or None."""
    for path, expected in _flatten(substitute(step.data.get("check") or {}, params)).items():
        found, actual = _lookup(request, path)
        if not found:
            return f"its {path} is missing (expected {expected!r})"
        if not _matches(expected, actual):
            return f"its {path} is {actual!r}, expected {expected!r}"
    for path, pattern in _flatten(substitute(step.data.get("check_regex") or {}, params)).items():
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
    trigger: str, args: Mapping[str, Any] | None, params: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The START's trigger type and args (without source_uri) for a start step: for a trigger of the table
    (``call``, ``button``, ...) without ``args``, what Relay sends (``core.triggers.start_trigger``, its details
    from the run's parameters); else the step's ``trigger`` and ``args`` as written."""
    if args is None and trigger in triggers.BY_NAME:
        built = triggers.start_trigger(trigger, params)
        return str(built["type"]), dict(built["args"])
    return trigger, dict(args or {})


# --- running --------------------------------------------------------------------------------------


@dataclass
class Record:
    """One line of the transcript: a message (or a malformed frame) and who sent it."""

    t: float  # seconds since the run started
    sender: str  # "app" | "server"
    step: int | None  # the step in progress (1-based)
    message: dict[str, Any] | None = None
    raw: str | None = None  # a frame from the app that is not a message

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t": round(self.t, 3), "from": self.sender, "step": self.step}
        if self.message is not None:
            out["message"] = self.message
        else:
            out["raw"] = self.raw
        return out

    def line(self) -> str:
        """One line of the live transcript: time, direction, message type, the interesting fields."""
        arrow = "app →" if self.sender == "app" else "← server"
        if self.message is None:
            label, detail = "malformed", proto.clip(self.raw or "")
        else:
            label, detail = proto.summarize(self.message)
        return f"{self.t:7.3f}  {arrow:<8}  {label:<24} {detail}".rstrip()


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


class Simulation:
    """One run of a scenario against one app connection. The runner calls ``advance`` whenever time passes
    or a frame arrived, sends what it returns, and stops when ``done``; ``next_deadline`` tells it when to
    call again if nothing arrives."""

    def __init__(
        self,
        scenario: Scenario,
        params: Mapping[str, Any],
        *,
        timeout: float,
        start: float,
        new_id: Callable[[], str] | None = None,
        world: proto.World | None = None,
    ) -> None:
        self.scenario = scenario
        self.params = dict(params)
        self.timeout = timeout
        self.start = start
        self.server = proto.Server(self.params, world=world or proto.World())
        if new_id is not None:
            self.server.new_id = new_id
        self.steps = [s for s in scenario.steps if self._included(s)]
        self.index = 0  # the current step
        self.step_started = start
        self.wait_until: float | None = None
        self.pending: list[dict[str, Any]] = []  # requests no expect step has consumed
        self.last_server_send = start
        self.app_spoke = False
        self.records: list[Record] = []
        self.failure: Failure | None = None
        self.passed = False
        self.stopped: str | None = None  # the reason the server ended the run (``stop``)

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
        if "if" in step.data and not self.params.get(step.data["if"]):
            return False
        if "unless" in step.data and self.params.get(step.data["unless"]):
            return False
        return True

    def fail(self, reason: str, hint: str | None = None) -> None:
        if self.failure is None:
            step = self.current()
            self.failure = Failure(self.step_number, step.describe(self.params) if step else "", reason, hint)

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
        self.server.step = self.step_number
        reply = self.server.handle(request, now)
        if reply.error:
            self.fail(f"the server refused the app's {proto.request_name(request)} request: {reply.error}")
            return
        self.pending.append(request)

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
        self.fail(f"the app closed the connection ({clean_text(detail)}) before terminating", hint)

    def stop(self, now: float, reason: str) -> list[dict[str, Any]]:
        """The server ends the run before the scenario is over (the sandbox's instance was stopped): STOP with
        ``reason``, then the connection closes. Not a failure of the app. Returns the message to send."""
        if self.done:
            return []
        self.stopped = reason
        message = proto.event("stop", reason=reason)
        self.records.append(Record(now - self.start, "server", self.step_number, message=message))
        return [message]

    # --- time -------------------------------------------------------------------------------------

    def advance(self, now: float) -> list[dict[str, Any]]:
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
            if not item.tick:  # an interval timer's firings alone do not keep a silent app's run going
                self.last_server_send = now
            self.records.append(Record(now - self.start, "server", item.step, message=message))
        if not self.done and self.server.terminated and self.index >= len(self.steps):
            self.passed = True
        return out

    def next_deadline(self) -> float | None:
        """When ``advance`` has something to do next if no frame arrives: a scheduled send, the end of a
        wait, or the timeout of an expect step."""
        if self.done:
            return None
        times = [t for t in (self.server.next_due(), self.wait_until, self._expect_deadline()) if t is not None]
        return min(times) if times else None

    def _expect_deadline(self) -> float | None:
        step = self.current()
        if step is None or step.kind != "expect" or self.server.next_due(awaited=True) is not None:
            return None  # while the server has something to send, the app may be waiting for it
        timeout = float(step.data.get("timeout", self.timeout))
        return max(self.step_started, self.last_server_send) + timeout

    def _next(self, now: float) -> None:
        self.index += 1
        self.step_started = now
        self.wait_until = None

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
        """True when the step is satisfied (and the run moved on)."""
        for i, request in enumerate(self.pending):
            if proto.request_name(request) != step.what:
                continue
            problem = check_request(step, request, self.params)
            if problem:
                self.fail(f"the app's {step.what} request does not match: {problem}")
                return False
            del self.pending[i]
            self._next(now)
            return True
        if self.server.terminated:
            self.fail(f"the app terminated without sending {step.what}")
            return False
        deadline = self._expect_deadline()
        if deadline is not None and now >= deadline:
            seen = [proto.request_name(r) for r in self.pending]
            since = f"; meanwhile the app sent {', '.join(seen)}" if seen else "; the app sent nothing meanwhile"
            what = "did not terminate" if step.what == "terminate" else f"sent no {step.what} request"
            timeout = float(step.data.get("timeout", self.timeout))
            self.fail(f"the app {what} within {timeout:g}s{since}")
        return False

    def _build_event(self, step: Step, now: float) -> dict[str, Any] | str:
        data = substitute(step.data, self.params)
        extra = dict(data.get("fields") or {})
        name = step.what
        server = self.server
        if name == "start":
            kind, args = start_trigger(str(data["trigger"]), data.get("args"), self.params)
            message = server.start_event(kind, args)
        elif name == "call_received":
            message = server.incoming_call(now, str(data["from"]))
        elif name == "call_start_request":
            message = proto.event("call_start_request", uri=proto.device_urn(str(data["to"])))
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
        else:
            return server.scripted_call_event(now, name, extra)  # the fields are part of it
        message.update(extra)
        return message
