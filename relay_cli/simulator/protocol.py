"""The Relay server's side of the workflow WebSocket protocol, as a pure state machine.

Pure: no I/O, no clock, no randomness of its own. Time comes in as ``now`` (epoch seconds, a float) and
fresh ids from an injected ``new_id``. The facts it encodes, and the SDK source each one rests on, are in
docs/simulator.md; the points no public source settles are the options in ``DEFAULT_OPTIONS``.

The app is the WebSocket server; the Relay server (here: the simulator) is the client. Every frame is one
JSON object with a ``_type``: ``wf_api_<name>_event`` (server → app), ``wf_api_<name>_request``
(app → server), ``wf_api_<name>_response`` or ``wf_api_error_response`` (server → app, with the
request's ``_id``).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from ..core.triggers import CALL_START_TYPE

URN_PREFIX = "urn:relay-resource:"
SERVER_URN = "urn:relay-resource:name:server:ibot"
ERROR_RESPONSE = "wf_api_error_response"

#: every field an SDK reads, per event (relay-py indexes them directly: a missing one kills the app)
_CALL = ("call_id", "direction", "device_id", "device_name", "uri", "onnet", "start_time_epoch")
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "start": ("trigger",),
    "stop": ("reason",),
    "interaction_lifecycle": ("type", "source_uri"),
    "button": ("button", "taps", "source_uri"),
    "prompt": ("type", "id", "source_uri"),
    "call_start_request": ("uri",),
    "call_received": _CALL,
    "call_ringing": _CALL,
    "call_connected": (*_CALL, "connect_time_epoch"),
    "call_progressing": (*_CALL, "connect_time_epoch"),
    "call_disconnected": (*_CALL, "connect_time_epoch", "reason", "end_time_epoch"),
    "call_failed": (*_CALL, "connect_time_epoch", "reason", "end_time_epoch"),
    "speech": ("request_id", "text", "lang", "source_uri"),
    "timer": (),
    "timer_fired": ("name",),
    "notification": ("event", "name", "notification_state", "source_uri"),
    "incident": ("type", "incident_id", "reason"),
}

#: requests whose ``_target`` names a device or an interaction
TARGETED = frozenset(
    {
        "start_interaction", "end_interaction", "say", "play", "listen", "answer", "call", "hangup",
        "get_device_info", "set_device_info",
    }
)  # fmt: skip

#: the unknowns of the protocol, with the values the simulator assumes (each can be changed per run)
DEFAULT_OPTIONS: dict[str, Any] = {
    # START trigger type of call workflows (relay-js lists "telephony" among its trigger types): the table's
    "call_trigger_type": CALL_START_TYPE,
    # "uuid": 32 hex characters; "counter": call-1, call-2, ...
    "call_id_style": "uuid",
    # reason of call_disconnected (either party hung up) and of call_failed (the callee declined)
    "disconnect_reason": "normal",
    "reject_reason": "rejected",
    # units of *_time_epoch: "s" (seconds, assumed) or "ms"
    "epoch_unit": "s",
    # whether call_disconnected follows the app's own hangup request
    "disconnect_after_hangup": True,
    # seconds between a response and the events that follow it (lifecycle, call progress, prompt started)
    "event_delay": 0.05,
    # how fast the device speaks (say) and the user answers (listen), in words per minute
    "speaking_rate": 150.0,
    # seconds an audio file plays (play)
    "play_time": 2.0,
    # the timer of start_timer repeats until stop_timer ("interval") or fires once ("timeout")
    "unnamed_timer": "interval",
    # the onnet flag of call events
    "onnet": True,
    # lang of speech events and the text heard when the app listens
    "lang": "en-US",
    "speech": "yes",
}

OPTION_HELP: dict[str, str] = {
    "call_trigger_type": "START trigger type of call workflows",
    "call_id_style": "call ids: uuid (32 hex characters) or counter (call-1, call-2, ...)",
    "disconnect_reason": "reason of call_disconnected",
    "reject_reason": "reason of call_failed when the callee declines",
    "epoch_unit": "units of *_time_epoch fields: s or ms",
    "disconnect_after_hangup": "send call_disconnected after the app's own hangup",
    "event_delay": "seconds between a response and the events that follow it",
    "speaking_rate": "words per minute of say prompts and of what the user says when the app listens",
    "play_time": "seconds an audio file plays",
    "unnamed_timer": "start_timer's timer: interval (repeats until stop_timer) or timeout (fires once)",
    "onnet": "the onnet flag of call events",
    "lang": "lang of speech events",
    "speech": "what the user says when the app listens",
}

_CHOICES = {"call_id_style": ("uuid", "counter"), "epoch_unit": ("s", "ms"), "unnamed_timer": ("interval", "timeout")}

#: relay-js reads the events that follow a say, play or listen only once their response has arrived; an event
#: sent less than this after its response can reach it in the same read and be lost (docs/simulator.md)
SDK_MIN_EVENT_DELAY = 0.01

#: units of set_timer's timeout_type, in seconds (relay-js TimeoutType; relay-py's default is secs)
TIMEOUT_UNITS = {"ms": 0.001, "secs": 1.0, "mins": 60.0, "hrs": 3600.0}


class ProtocolError(Exception):
    """A message from the app that breaks the protocol (not JSON, no ``_type``, a request without ``_id``...)."""


def check_option(name: str, value: Any) -> str | None:
    """Why ``value`` is not acceptable for the protocol option ``name``, or None."""
    if name in _CHOICES and value not in _CHOICES[name]:
        return f"expected one of {', '.join(_CHOICES[name])}, got {value!r}"
    number = not isinstance(value, bool) and isinstance(value, (int, float))
    if name in ("event_delay", "play_time") and (not number or value < 0):
        return f"expected a number of seconds >= 0, got {value!r}"
    if name == "speaking_rate" and (not number or value <= 0):
        return f"expected a number of words per minute > 0, got {value!r}"
    return None


def option_warnings(params: Mapping[str, Any]) -> list[str]:
    """What in these options the published SDKs do not tolerate (the run goes on; the user is told)."""
    delay = params.get("event_delay", DEFAULT_OPTIONS["event_delay"])
    if isinstance(delay, (int, float)) and delay < SDK_MIN_EVENT_DELAY:
        return [
            f"event_delay={delay:g}: events that follow a response sooner than {SDK_MIN_EVENT_DELAY:g}s can arrive "
            "together with it, and relay-js (@relaypro/sdk) then misses them: sayAndWait, playAndWait and listen "
            "stall until their own timeout"
        ]
    return []


# --- resource names ------------------------------------------------------------------------------


def device_urn(device: str) -> str:
    """A device urn from a urn (kept), an id (digits: ``id`` urn) or a name (``name`` urn)."""
    if device.startswith(URN_PREFIX):
        return device
    kind = "id" if device.isdigit() else "name"
    return f"{URN_PREFIX}{kind}:device:{quote(device, safe='')}"


def interaction_urn(name: str, device: str) -> str:
    return f"{URN_PREFIX}name:interaction:{quote(name, safe='')}?device={quote(device, safe='')}"


def short(urn: Any) -> str:
    """``urn:relay-resource:name:device:Alice`` → ``Alice``; an interaction urn → its name; else as given."""
    if not isinstance(urn, str) or not urn.startswith(URN_PREFIX):
        return str(urn)
    body = urn[len(URN_PREFIX) :]
    head, _, query = body.partition("?")
    parts = head.split(":", 2)
    value = unquote(parts[2]) if len(parts) == 3 else unquote(head)
    if parts[1:2] == ["interaction"] and query.startswith("device="):
        return f"{value}@{short(unquote(query[len('device=') :]))}"
    return value


def urn_parts(urn: Any) -> tuple[str, str, str, dict[str, str]] | None:
    """``urn:relay-resource:<id|name>:<type>:<value>[?k=v]`` → (id or name, type, decoded value, query), else None."""
    if not isinstance(urn, str) or not urn.startswith(URN_PREFIX):
        return None
    head, _, query = urn[len(URN_PREFIX) :].partition("?")
    parts = head.split(":", 2)
    if len(parts) != 3 or not parts[2]:
        return None
    params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
    return parts[0], parts[1], unquote(parts[2]), params


def made_up_id(name: str) -> str:
    """A stable 15-digit device id for a name the account does not know (the same name, the same id)."""
    return "9900" + str(int(hashlib.sha256(name.encode()).hexdigest(), 16))[:11]


@dataclass(frozen=True)
class Device:
    urn: str  # as the scenario or the app named it
    id: str
    name: str


@dataclass(frozen=True)
class World:
    """The account the simulated server serves: device ids → names, and group names → member names.

    A device it does not know keeps its name and gets a made-up id; a group it does not know has one member,
    the device the app runs for (``members``), so that list_members and is_member agree."""

    devices: Mapping[str, str] = field(default_factory=dict)
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def device(self, ref: str) -> Device:
        """A device from a urn (kept as given), an id (digits) or a name. A device of the account named by its
        id or its name has one urn, its name urn (the form of the group member lists), so that a project
        gets the same urns whether it says Alice or 990007560045678 (``dev`` reads the id from relay.toml)."""
        urn = device_urn(ref)
        parts = urn_parts(urn)
        value = parts[2] if parts else ref
        given_as_urn = ref.startswith(URN_PREFIX)
        if parts and parts[0] == "id":
            name = self.devices.get(value)
            if name is not None and not given_as_urn:
                return Device(device_urn(name), value, name)
            return Device(urn, value, name or value)
        for device_id, name in self.devices.items():
            if name.casefold() == value.casefold():
                return Device(urn if given_as_urn else device_urn(name), device_id, name)
        return Device(urn, made_up_id(value), value)

    def members(self, group: str, own_device: str) -> tuple[str, ...]:
        for name, members in self.groups.items():
            if name.casefold() == group.casefold():
                return tuple(members)
        return (own_device,)


# --- messages -----------------------------------------------------------------------------------


def event(kind_: str, /, **fields: Any) -> dict[str, Any]:
    """A server event ``wf_api_<kind_>_event``; every field the SDKs read must be given (a missing one is a bug
    here, not in the app). ``kind_`` is positional-only, so an event may have a field called ``name``."""
    missing = [f for f in EVENT_FIELDS.get(kind_, ()) if f not in fields]
    if missing:
        raise ValueError(f"wf_api_{kind_}_event needs {', '.join(missing)}")
    return {"_type": f"wf_api_{kind_}_event", **fields}


def response(request: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"_id": request["_id"], "_type": f"wf_api_{request_name(request)}_response", **fields}


def error_response(request_id: str, error: str) -> dict[str, Any]:
    return {"_id": request_id, "_type": ERROR_RESPONSE, "error": error}


def request_name(message: dict[str, Any]) -> str:
    """``wf_api_say_request`` → ``say``."""
    return str(message.get("_type", "")).removeprefix("wf_api_").removesuffix("_request")


def kind(message: dict[str, Any]) -> str:
    """``event`` | ``request`` | ``response`` | ``error`` | ``other``."""
    t = str(message.get("_type", ""))
    if t == ERROR_RESPONSE:
        return "error"
    for suffix in ("event", "request", "response"):
        if t.startswith("wf_api_") and t.endswith(f"_{suffix}"):
            return suffix
    return "other"


def parse(frame: str | bytes) -> dict[str, Any]:
    """One frame from the app → the request it carries. Raises ProtocolError for anything else."""
    if isinstance(frame, bytes):
        raise ProtocolError(f"a binary frame ({len(frame)} bytes); every message must be a JSON text frame")
    try:
        message = json.loads(frame)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"not JSON ({exc.msg} at character {exc.pos}): {clip(frame)}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"a JSON {type(message).__name__}, not an object: {clip(frame)}")
    t = message.get("_type")
    if not isinstance(t, str) or not t:
        raise ProtocolError(f"no _type: {clip(frame)}")
    if kind(message) != "request":
        raise ProtocolError(f"_type {t!r} is not a request (wf_api_<name>_request)")
    request_id = message.get("_id")
    if not isinstance(request_id, str) or not request_id:
        raise ProtocolError(f"{t} has no _id; every request needs a fresh one")
    return message


def clip(text: str, limit: int = 80) -> str:
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return clean(repr(text))


#: C0 control characters (but tab) and DEL, escaped so an app's text cannot drive the terminal
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F) if c != 0x09}


def clean(text: str) -> str:
    return text.translate(_CONTROLS)


def targets(request: dict[str, Any]) -> list[str] | None:
    """The urns of ``_target: {"uris": [...]}``, or None when it is missing or malformed."""
    target = request.get("_target")
    if not isinstance(target, dict):
        return None
    uris = target.get("uris")
    if not isinstance(uris, list) or not uris or not all(isinstance(u, str) and u for u in uris):
        return None
    return uris


# --- the transcript ------------------------------------------------------------------------------


def _abbrev(value: Any) -> str:
    text = str(value)
    return text[:8] + "…" if re.fullmatch(r"[0-9a-f]{32}", text) else text


def summarize(message: dict[str, Any]) -> tuple[str, str]:
    """(label, detail) for one message, as the live transcript shows it: ``("answer", "call 1f3e…")``."""
    t = str(message.get("_type", ""))
    k = kind(message)
    name = t.removeprefix("wf_api_").rsplit("_", 1)[0] if k != "other" else t
    m = message
    if k == "error":
        return "error", clean(str(m.get("error", "")))
    if k == "response":
        fields = {key: v for key, v in m.items() if key not in ("_id", "_type")}
        detail = " ".join(f"{key}={_abbrev(v) if isinstance(v, str) else json.dumps(v)}" for key, v in fields.items())
        return f"{name} response", clean(detail)
    if k == "event":
        label = name.upper()
        if name == "start":
            trig = given if isinstance(given := m.get("trigger"), dict) else {}
            args = given if isinstance(given := trig.get("args"), dict) else {}
            extra = " ".join(f"{key}={v!r}" for key, v in args.items() if key != "source_uri")
            return label, clean(
                f"{trig.get('type')} trigger on {short(args.get('source_uri'))}" + (f" {extra}" if extra else "")
            )
        if name.startswith("call_") and "call_id" in m:
            detail = f"call {_abbrev(m.get('call_id'))} {m.get('direction')} {'from' if m.get('direction') == 'inbound' else 'to'} {short(m.get('uri'))}"
            if "reason" in m:
                detail += f" reason={m.get('reason')}"
            return label, clean(detail)
        if name == "call_start_request":
            return label, clean(f"the user asked to call {short(m.get('uri'))}")
        if name in ("interaction_lifecycle", "prompt"):
            extra = f" id={_abbrev(m.get('id'))}" if name == "prompt" else ""
            return label, clean(f"{m.get('type')} {short(m.get('source_uri'))}{extra}")
        if name == "button":
            return label, clean(f"{m.get('button')} {m.get('taps')} on {short(m.get('source_uri'))}")
        if name == "speech":
            return label, clean(f"{m.get('text')!r} on {short(m.get('source_uri'))}")
        fields = {key: v for key, v in m.items() if key != "_type"}
        return label, clean(" ".join(f"{key}={v}" for key, v in fields.items()))
    if k == "request":
        uris = targets(m)
        on = f" on {', '.join(short(u) for u in uris)}" if uris else ""
        if name in ("say", "listen", "play"):
            what = m.get("text") if name == "say" else m.get("phrases") if name == "listen" else m.get("filename")
            return name, clean(f"{what!r}{on}")
        if name in ("answer", "hangup"):
            return name, clean(f"call {_abbrev(m.get('call_id'))}{on}")
        if name == "call":
            callee = m.get("uri") or m.get("device_name") or m.get("device_id")
            return name, clean(f"{short(callee)}{on}")
        if name == "start_interaction":
            return name, clean(f"{m.get('name')!r}{on}")
        if name in ("get_var", "unset_var"):
            return name, clean(str(m.get("name")))
        if name == "set_var":
            return name, clean(f"{m.get('name')}={m.get('value')!r}")
        fields = {key: v for key, v in m.items() if key not in ("_id", "_type", "_target")}
        return name, clean((" ".join(f"{key}={json.dumps(v)}" for key, v in fields.items()) + on).strip())
    return t or "?", clean(json.dumps(m)[:120])


# --- the server's state ----------------------------------------------------------------------------


@dataclass
class Call:
    call_id: str
    direction: str  # inbound | outbound
    other: Device  # the other party: the caller of an inbound call, the callee of an outbound one
    start: float
    connect: float | None = None
    end: float | None = None
    state: str = "new"  # new | ringing | answering | connected | ended
    hangup_at: float | None = None  # when the other party hangs up (after connecting)


@dataclass
class Timer:
    name: str | None  # None: the unnamed timer of start_timer
    period: float  # seconds
    repeat: bool
    due: float


@dataclass
class Outgoing:
    """A message the server will send at ``due`` — built then, from the state then (``build`` may return None)."""

    due: float
    seq: int
    build: Callable[[float], dict[str, Any] | None]
    step: int | None = None  # the scenario step in progress when it was queued
    tick: bool = False  # a repeating timer's firing: it does not hold off the timeout of an expect step


@dataclass
class Reply:
    """What the server does about one request."""

    error: str | None = None  # an error response was sent: the app asked for something the server refused
    terminated: bool = False


def _positive(value: Any) -> float | None:
    """A number > 0 (a numeric string too: apps often pass a workflow var, and vars are strings), else None."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value == float("inf"):
        return None
    return float(value)


def _decoded(text: str) -> str:
    while (plain := unquote(text)) != text:
        text = plain
    return text


def _words(text: str) -> int:
    return max(1, len(text.split()))


@dataclass
class Server:
    """The Relay server's view of one workflow run on one device: calls, interactions, timers, vars, the
    device's own settings, and the sends it has queued.

    ``params``: ``device_urn``, ``device_id``, ``device_name``, ``hold`` (seconds the other party stays on a
    connected call; < 0 never hangs up), ``reject`` (the callee declines outbound calls), ``vars`` (served
    to get_var), and the options of DEFAULT_OPTIONS. ``world``: the account's devices and groups.
    """

    params: dict[str, Any]
    new_id: Callable[[], str] = field(default=lambda: uuid.uuid4().hex)
    world: World = field(default_factory=World)
    calls: dict[str, Call] = field(default_factory=dict)
    interactions: dict[str, str] = field(default_factory=dict)  # urn → name, open ones
    timers: dict[str | None, Timer] = field(default_factory=dict)
    notifications: dict[str, list[str]] = field(default_factory=dict)  # name → the device urns it went to
    vars: dict[str, str] = field(default_factory=dict)
    device: dict[str, Any] = field(default_factory=dict)  # what get_device_info answers; set_* requests change it
    outbox: list[Outgoing] = field(default_factory=list)
    terminated: bool = False
    step: int | None = None  # set by the scenario runner: the step in progress, tagged on what is queued
    _seq: int = 0
    _calls_made: int = 0

    def __post_init__(self) -> None:
        self.vars = {str(k): as_var(v) for k, v in (self.params.get("vars") or {}).items()}
        name = str(self.params["device_name"])
        self.device = {
            "name": name,
            "id": str(self.params["device_id"]),
            "type": "relay",
            "username": name.lower(),
            "battery": 87,
            "address": "3000 Aerial Center Parkway, Morrisville, NC 27560",
            # never whole numbers: relay-js turns an array of small whole numbers into a string
            "latlong": [35.8543, -78.8453],
            "location": "3000 Aerial Center Parkway, Morrisville, NC 27560",
            "indoor_location": "Lobby",
            "location_enabled": True,
        }

    # --- helpers ----------------------------------------------------------------------------------

    def opt(self, name: str) -> Any:
        return self.params.get(name, DEFAULT_OPTIONS.get(name))

    def epoch(self, t: float | None) -> int:
        if t is None:
            return 0
        return int(t * 1000) if self.opt("epoch_unit") == "ms" else int(t)

    def later(self, due: float, build: Callable[[float], dict[str, Any] | None], *, tick: bool = False) -> None:
        self._seq += 1
        self.outbox.append(Outgoing(due, self._seq, build, self.step, tick))

    def send(self, now: float, message: dict[str, Any]) -> None:
        self.later(now, lambda _t: message)

    def due(self, now: float) -> list[Outgoing]:
        """Remove and return the sends due at ``now``, in order."""
        ready = sorted((o for o in self.outbox if o.due <= now), key=lambda o: (o.due, o.seq))
        self.outbox = [o for o in self.outbox if o.due > now]
        return ready

    def next_due(self, *, awaited: bool = False) -> float | None:
        """When the server next has something to send. ``awaited``: leave out the firings of repeating timers
        (an app may wait for anything else the server has queued, but an interval timer never runs out)."""
        times = [o.due for o in self.outbox if not (awaited and o.tick)]
        times += [c.hangup_at for c in self.calls.values() if c.hangup_at is not None and c.state == "connected"]
        return min(times) if times else None

    def call_id(self) -> str:
        self._calls_made += 1
        if self.opt("call_id_style") == "counter":
            return f"call-{self._calls_made}"
        return self.new_id()

    def call_event(self, name: str, call: Call, **extra: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "call_id": call.call_id,
            "direction": call.direction,
            # the other party (relay-py names these other_device_id/other_device_name; the calling guide:
            # "the calling device, not the receiving device")
            "device_id": call.other.id,
            "device_name": call.other.name,
            "uri": call.other.urn,
            "onnet": bool(self.opt("onnet")),
            "start_time_epoch": self.epoch(call.start),
        }
        if name in ("call_connected", "call_progressing", "call_disconnected", "call_failed"):
            fields["connect_time_epoch"] = self.epoch(call.connect)
        if name in ("call_disconnected", "call_failed"):
            fields["reason"] = extra.pop("reason")
            fields["end_time_epoch"] = self.epoch(call.end)
        fields.update(extra)
        return event(name, **fields)

    def current_call(self) -> Call | None:
        live = [c for c in self.calls.values() if c.state != "ended"]
        return live[-1] if live else (list(self.calls.values())[-1] if self.calls else None)

    def speaking_time(self, text: str) -> float:
        return _words(text) * 60.0 / float(self.opt("speaking_rate"))

    # --- events the scenario sends ---------------------------------------------------------------

    def start_event(self, trigger_type: str, args: dict[str, Any]) -> dict[str, Any]:
        return event("start", trigger={"type": trigger_type, "args": {"source_uri": self.params["device_urn"], **args}})

    def incoming_call(self, now: float, caller: str) -> dict[str, Any]:
        call = Call(self.call_id(), "inbound", self.world.device(caller), now, state="ringing")
        self.calls[call.call_id] = call
        return self.call_event("call_received", call)

    def scripted_call_event(self, now: float, name: str, fields: dict[str, Any]) -> dict[str, Any] | str:
        """A call event the scenario sends itself, about the current call. A string: why it cannot be sent."""
        call = self.current_call()
        if call is None:
            return f"there is no call to send {name} about (send call_received first, or wait for the app's call)"
        if name == "call_connected":
            call.connect = call.connect or now
            call.state = "connected"
            self._schedule_hangup(call, now)
        elif name in ("call_disconnected", "call_failed"):
            call.end = now
            call.state = "ended"
            call.hangup_at = None
            reason = fields.pop("reason", self.opt("reject_reason" if name == "call_failed" else "disconnect_reason"))
            return self.call_event(name, call, reason=reason, **fields)
        return self.call_event(name, call, **fields)

    def button_event(self, button: str, taps: str) -> dict[str, Any]:
        source = next(iter(self.interactions), self.params["device_urn"])  # a tap lands in the open interaction
        return event("button", button=button, taps=taps, source_uri=source)

    def notification_event(self, name: str, what: str, by: str) -> dict[str, Any]:
        """Someone (``by``) acted on the notification ``name`` the app sent: ``what`` is e.g. ack_event."""
        who = self.world.device(by)
        created = self.notifications.get(name) or [who.urn]
        state = {"created": list(created), "acknowledged": [who.urn] if what == "ack_event" else []}
        state.update({"cancelled": [], "timed_out": []})
        return event("notification", event=what, name=name, notification_state=state, source_uri=who.urn)

    def timer_fired_event(self, name: str) -> dict[str, Any]:
        return event("timer_fired", name=name)

    def remote_hangups(self, now: float) -> list[dict[str, Any]]:
        """call_disconnected for each connected call whose other party hangs up by ``now``."""
        out = []
        for call in self.calls.values():
            if call.state == "connected" and call.hangup_at is not None and call.hangup_at <= now:
                call.state, call.end, call.hangup_at = "ended", now, None
                out.append(self.call_event("call_disconnected", call, reason=self.opt("disconnect_reason")))
        return out

    def _schedule_hangup(self, call: Call, now: float) -> None:
        hold = self.params.get("hold", -1)
        call.hangup_at = now + float(hold) if isinstance(hold, (int, float)) and hold >= 0 else None

    # --- requests from the app -------------------------------------------------------------------

    def handle(self, request: dict[str, Any], now: float) -> Reply:
        """Answer one (parsed) request: queue its response and the events that follow it."""
        name = request_name(request)
        if self.terminated:
            return Reply()
        if name == "terminate":  # no response: STOP, then the connection closes; timers die with the run
            self.terminated = True
            self.timers.clear()
            self.send(now, event("stop", reason="normal"))
            return Reply(terminated=True)
        uris = targets(request)
        if name in TARGETED and uris is None:
            return self._refuse(request, now, '_target must be {"uris": ["urn:relay-resource:..."]}')
        handler = getattr(self, f"_on_{name}", None)
        if handler is None:  # any other request: an empty response, as for the many device actions
            self.send(now, response(request))
            return Reply()
        error = handler(request, uris, now)
        if error:
            return self._refuse(request, now, error)
        return Reply()

    def _refuse(self, request: dict[str, Any], now: float, error: str) -> Reply:
        self.send(now, error_response(request["_id"], error))
        return Reply(error=error)

    def _delay(self, now: float, steps: int = 1) -> float:
        return now + float(self.opt("event_delay")) * steps

    # interactions

    def _on_start_interaction(self, request: dict[str, Any], uris: list[str], now: float) -> str | None:
        name = request.get("name")
        if not isinstance(name, str) or not name:
            return "start_interaction needs a name"
        opened = [interaction_urn(name, uri) for uri in uris]  # one interaction on each device
        for urn in opened:
            self.interactions[urn] = name
        self.send(now, response(request))
        for urn in opened:
            for state in ("started", "resumed"):
                self.send(self._delay(now), event("interaction_lifecycle", type=state, source_uri=urn))
        return None

    def _on_end_interaction(self, request: dict[str, Any], uris: list[str], now: float) -> str | None:
        closing = [u for u in uris if u in self.interactions]
        name = request.get("name")
        if not closing and isinstance(name, str):  # relay-js also sends the name; its target may be the device
            named = [u for u, n in self.interactions.items() if n == name]
            closing = [u for u in named if any(u == interaction_urn(name, d) for d in uris)] or named[:1]
        if not closing:
            return f"no open interaction {', '.join(uris)}"
        for urn in closing:
            del self.interactions[urn]
        self.send(now, response(request))
        for urn in closing:
            self.send(self._delay(now), event("interaction_lifecycle", type="ended", source_uri=urn))
        return None

    # prompts and speech

    def _prompt(self, request: dict[str, Any], uris: list[str], now: float, seconds: float) -> None:
        """The response first (its ``id`` is the request's ``_id``: relay-js matches the prompt events on the
        response's id, relay-py on the request's), then ``started`` and, ``seconds`` later, ``stopped``."""
        prompt_id = request["_id"]
        self.send(now, response(request, id=prompt_id))
        started = self._delay(now)
        for urn in uris:
            self.send(started, event("prompt", type="started", id=prompt_id, source_uri=urn))
            self.send(started + seconds, event("prompt", type="stopped", id=prompt_id, source_uri=urn))

    def _on_say(self, request: dict[str, Any], uris: list[str], now: float) -> str | None:
        if not isinstance(request.get("text"), str):
            return "say needs text"
        self._prompt(request, uris, now, self.speaking_time(request["text"]))
        return None

    def _on_play(self, request: dict[str, Any], uris: list[str], now: float) -> str | None:
        if not isinstance(request.get("filename"), str):
            return "play needs a filename"
        self._prompt(request, uris, now, float(self.opt("play_time")))
        return None

    def _on_listen(self, request: dict[str, Any], uris: list[str], now: float) -> str | None:
        self.send(now, response(request))
        text = str(self.opt("speech"))
        speech = event("speech", request_id=request["_id"], text=text, lang=str(self.opt("lang")), source_uri=uris[0])
        self.later(self._delay(now) + self.speaking_time(text), lambda _t: speech)
        return None

    # calls

    def _find_call(self, request: dict[str, Any]) -> Call | str:
        call_id = request.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            return f"{request_name(request)} needs a call_id"
        call = self.calls.get(call_id)
        if call is None:
            return f"unknown call_id {call_id!r}"
        return call

    def _on_answer(self, request: dict[str, Any], uris: list[str], now: float) -> str | None:
        call = self._find_call(request)
        if isinstance(call, str):
            return call
        if call.direction != "inbound" or call.state != "ringing":
            return f"call {call.call_id} is not ringing ({call.state})"
        call.state = "answering"
        self.send(now, response(request, call_id=call.call_id))

        def connected(t: float) -> dict[str, Any] | None:
            if call.state != "answering":
                return None
            call.state, call.connect = "connected", t
            self._schedule_hangup(call, t)
            return self.call_event("call_connected", call)

        self.later(self._delay(now), connected)
        return None

    def _on_call(self, request: dict[str, Any], uris: list[str], now: float) -> str | None:
        callee = request.get("uri") or request.get("device_name") or request.get("device_id")
        if not isinstance(callee, str) or not callee:
            return "call needs the uri (or device_name / device_id) of whom to call"
        call = Call(self.call_id(), "outbound", self.world.device(callee), now, state="ringing")
        self.calls[call.call_id] = call
        self.send(now, response(request, call_id=call.call_id))
        self.later(
            self._delay(now), lambda _t: self.call_event("call_ringing", call) if call.state == "ringing" else None
        )

        def outcome(t: float) -> dict[str, Any] | None:
            if call.state != "ringing":
                return None
            if self.params.get("reject"):
                call.state, call.end = "ended", t
                return self.call_event("call_failed", call, reason=self.opt("reject_reason"))
            call.state, call.connect = "connected", t
            self._schedule_hangup(call, t)
            return self.call_event("call_connected", call)

        self.later(self._delay(now, 2), outcome)
        return None

    def _on_hangup(self, request: dict[str, Any], uris: list[str], now: float) -> str | None:
        call = self._find_call(request)
        if isinstance(call, str):
            return call
        if call.state == "ended":
            return f"call {call.call_id} has already ended"
        call.state, call.end, call.hangup_at = "ended", now, None
        self.send(now, response(request))
        if self.opt("disconnect_after_hangup"):
            self.later(
                self._delay(now),
                lambda _t: self.call_event("call_disconnected", call, reason=self.opt("disconnect_reason")),
            )
        return None

    # vars

    def _on_get_var(self, request: dict[str, Any], uris: Any, now: float) -> str | None:
        name = request.get("name")
        if not isinstance(name, str):
            return "get_var needs a name"
        self.send(now, response(request, value=self.vars[name]) if name in self.vars else response(request))
        return None

    def _on_set_var(self, request: dict[str, Any], uris: Any, now: float) -> str | None:
        name = request.get("name")
        if not isinstance(name, str) or "value" not in request:
            return "set_var needs a name and a value"
        self.vars[name] = as_var(request["value"])
        self.send(now, response(request, value=self.vars[name]))
        return None

    def _on_unset_var(self, request: dict[str, Any], uris: Any, now: float) -> str | None:
        self.vars.pop(str(request.get("name")), None)
        self.send(now, response(request))
        return None

    # timers

    def _arm(self, name: str | None, seconds: float, repeat: bool, now: float) -> None:
        timer = Timer(name, seconds, repeat, now + seconds)
        self.timers[name] = timer
        self._queue_firing(timer)

    def _queue_firing(self, timer: Timer) -> None:
        def fire(t: float) -> dict[str, Any] | None:
            if self.timers.get(timer.name) is not timer:
                return None  # cleared, stopped, set again or terminated meanwhile
            if timer.repeat:
                timer.due += timer.period
                self._queue_firing(timer)
            else:
                del self.timers[timer.name]
            return event("timer") if timer.name is None else self.timer_fired_event(timer.name)

        self.later(timer.due, fire, tick=timer.repeat)

    def _on_start_timer(self, request: dict[str, Any], uris: Any, now: float) -> str | None:
        timeout = _positive(request.get("timeout", 60))
        if timeout is None:
            return f"start_timer needs a timeout in seconds > 0, got {request.get('timeout')!r}"
        self.send(now, response(request))
        self._arm(None, timeout, self.opt("unnamed_timer") == "interval", now)  # replaces the unnamed timer
        return None

    def _on_stop_timer(self, request: dict[str, Any], uris: Any, now: float) -> str | None:
        self.timers.pop(None, None)
        self.send(now, response(request))
        return None

    def _on_set_timer(self, request: dict[str, Any], uris: Any, now: float) -> str | None:
        name, kind_ = request.get("name"), request.get("type", "timeout")
        timeout, unit = request.get("timeout", 60), request.get("timeout_type", "secs")
        if not isinstance(name, str) or not name:
            return "set_timer needs a name"
        if kind_ not in ("timeout", "interval"):
            return f"set_timer type must be timeout or interval, got {kind_!r}"
        if unit not in TIMEOUT_UNITS:
            return f"set_timer timeout_type must be one of {', '.join(TIMEOUT_UNITS)}, got {unit!r}"
        seconds = _positive(timeout)
        if seconds is None:
            return f"set_timer needs a timeout > 0, got {timeout!r}"
        self.send(now, response(request))
        self._arm(name, seconds * TIMEOUT_UNITS[unit], kind_ == "interval", now)
        return None

    def _on_clear_timer(self, request: dict[str, Any], uris: Any, now: float) -> str | None:
        if not isinstance(request.get("name"), str):
            return "clear_timer needs a name"
        self.timers.pop(request["name"], None)
        self.send(now, response(request))
        return None

    # the device

    def _on_get_device_info(self, request: dict[str, Any], uris: list[str], now: float) -> str | None:
        query = request.get("query")
        if query not in self.device:
            return f"unknown device info query {query!r} (known: {', '.join(self.device)})"
        self.send(now, response(request, **{str(query): self.device[str(query)]}))
        return None

    def _on_set_device_info(self, request: dict[str, Any], uris: list[str], now: float) -> str | None:
        what, value = request.get("field"), request.get("value")
        if what not in ("label", "channel", "location_enabled") or not isinstance(value, str):
            return (
                f"set_device_info needs a field (label, channel or location_enabled) and a string value, got {what!r}"
            )
        if what == "label":
            self.device["name"] = value
        elif what == "location_enabled":
            if value not in ("true", "false"):
                return f"location_enabled must be 'true' or 'false', got {value!r}"
            self.device["location_enabled"] = value == "true"
        else:
            self.device["channel"] = value
        self.send(now, response(request))
        return None

    def _on_set_user_profile(self, request: dict[str, Any], uris: Any, now: float) -> str | None:
        if not isinstance(request.get("username"), str):
            return "set_user_profile needs a username"
        self.device["username"] = request["username"]
        self.send(now, response(request))
        return None

    # groups, notifications, incidents and the rest: responses carrying the fields the SDKs read

    def _group(self, request: dict[str, Any]) -> tuple[str, dict[str, str]] | str:
        parts = urn_parts(request.get("group_uri"))
        if parts is None or parts[1] != "group":
            return (
                f"group_query needs a group_uri (urn:relay-resource:name:group:...), got {request.get('group_uri')!r}"
            )
        # relay-js's isGroupMember encodes the group's and the device's names twice (Uri.parseGroupName and
        # parseDeviceName return them still encoded, Uri.groupMember encodes again): decode until plain
        return _decoded(parts[2]), {k: _decoded(v) for k, v in parts[3].items()}

    def _on_group_query(self, request: dict[str, Any], uris: Any, now: float) -> str | None:
        found = self._group(request)
        if isinstance(found, str):
            return found
        group, query = found
        members = self.world.members(group, str(self.params["device_name"]))
        if request.get("query") == "list_members":
            self.send(now, response(request, member_uris=[device_urn(m) for m in members]))
        elif request.get("query") == "is_member":
            if "device" not in query:
                return "is_member needs the device in the group_uri (urn:relay-resource:name:group:G?device=...)"
            who = self.world.device(query["device"]).name
            self.send(now, response(request, is_member=any(m.casefold() == who.casefold() for m in members)))
        else:
            return f"group_query's query must be list_members or is_member, got {request.get('query')!r}"
        return None

    def _on_notification(self, request: dict[str, Any], uris: Any, now: float) -> str | None:
        name = request.get("name")
        if not isinstance(name, str) or not name:
            return "notification needs a name"
        if request.get("type") != "cancel":
            reached: list[str] = []
            for uri in uris or []:
                parts = urn_parts(uri)
                if parts and parts[1] == "group":
                    reached += [device_urn(m) for m in self.world.members(parts[2], str(self.params["device_name"]))]
                else:
                    reached.append(uri)
            self.notifications[name] = reached
        self.send(now, response(request))
        return None

    def _on_create_incident(self, request: dict[str, Any], uris: Any, now: float) -> str | None:
        self.send(now, response(request, incident_id=self.new_id()))
        return None

    def _on_resolve_incident(self, request: dict[str, Any], uris: Any, now: float) -> str | None:
        incident_id, reason = request.get("incident_id"), request.get("reason")
        if not isinstance(incident_id, str) or not incident_id:
            return "resolve_incident needs an incident_id"
        self.send(now, response(request))
        resolved = event("incident", type="resolved", incident_id=incident_id, reason=str(reason or ""))
        self.later(self._delay(now), lambda _t: resolved)
        return None

    def _on_inbox_count(self, request: dict[str, Any], uris: Any, now: float) -> str | None:
        self.send(now, response(request, count="0"))
        return None

    def _on_translate(self, request: dict[str, Any], uris: Any, now: float) -> str | None:
        self.send(now, response(request, text=str(request.get("text", ""))))  # a translation is beyond us
        return None

    def _on_sms(self, request: dict[str, Any], uris: Any, now: float) -> str | None:
        self.send(now, response(request, message_id=self.new_id()))
        return None


def as_var(value: Any) -> str:
    """Workflow vars travel as strings (the SDKs' set_var sends strings; get_number_var parses them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)
