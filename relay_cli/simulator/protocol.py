"""The Relay server's side of the workflow WebSocket protocol, as a pure state machine.

Pure: no I/O, no clock, no randomness of its own. Time comes in as ``now`` (epoch seconds, a float) and
fresh ids from an injected ``new_id``. The facts it encodes, and the SDK source each one rests on, are in
docs/simulator.md; the points no public source settles are the options in ``DEFAULT_OPTIONS``.

The app is the WebSocket server; the Relay server (here: the simulator) is the client. Every frame is one
JSON object with a ``_type``: ``wf_api_<name>_event`` (server → app), ``wf_api_<name>_request``
(app → server), ``wf_api_<name>_response`` or ``wf_api_error_response`` (server → app, with the
request's ``_id``).

Text here is raw: what an app sent is kept as it sent it. Escaping for a terminal is the caller's, through
the CLI's one escaping function (``output.safe``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, unquote

from ..core.kinds import json_kind
from ..core.triggers import CALL_START_TYPE
from ..jsontypes import JSONObject, JSONValue

URN_PREFIX = "urn:relay-resource:"
SERVER_URN = "urn:relay-resource:name:server:ibot"
ALL_DEVICES_URN = "urn:relay-resource:all:device"  # relay-js Uri.allDevices()
ERROR_RESPONSE = "wf_api_error_response"

#: every field an SDK reads, per event (relay-py indexes them directly: a missing one kills the app)
_CALL = ("call_id", "direction", "device_id", "device_name", "uri", "onnet", "start_time_epoch")
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "start": ("trigger",),
    "resume": ("trigger",),
    "stop": ("reason",),
    "interaction_lifecycle": ("type", "source_uri"),
    "button": ("button", "taps", "source_uri"),
    "prompt": ("type", "id", "source_uri"),
    "call_start_request": ("uri", "call_id"),
    "call_received": _CALL,
    "call_ringing": _CALL,
    "call_connected": (*_CALL, "connect_time_epoch"),
    "call_progressing": (*_CALL, "connect_time_epoch"),
    "call_disconnected": (*_CALL, "connect_time_epoch", "reason", "end_time_epoch"),
    "call_failed": (*_CALL, "connect_time_epoch", "reason", "end_time_epoch"),
    "speech": ("request_id", "lang", "source_uri"),  # and text, or audio (listen with transcribe false)
    "timer": (),
    "timer_fired": ("name",),
    "notification": ("event", "name", "notification_state", "source_uri"),
    "incident": ("type", "incident_id", "reason"),
    "progress": (),
    "sms": ("id", "event"),
    "play_inbox_message": ("action",),
}

# what a request's ``_target`` may name
DEVICE, INTERACTION, GROUP, ALL = "device", "interaction", "group", "all devices"
_ANY_DEVICE = frozenset({DEVICE, INTERACTION})


@dataclass(frozen=True)
class RequestKind:
    """How the server reads one request's ``_target``: ``targets`` None (it has none), ``"one"`` or ``"many"``
    urns, each naming one of ``names``."""

    targets: str | None = None
    names: frozenset[str] = frozenset()


_ONE = RequestKind("one", _ANY_DEVICE)
_MANY = RequestKind("many", _ANY_DEVICE)
_NONE = RequestKind()

#: every request the simulator serves (relay-js 2.4.0's and relay-py's), and how its target is read. relay-js
#: groups them in its source as multi-target actions (an interaction or a device, or a list of them) and
#: single-target ones (one device or interaction); say, play and listen "must run in the context of an
#: interaction" (both SDKs' docstrings: "the interaction URN"). Anything else is refused as unknown.
REQUESTS: dict[str, RequestKind] = {
    "start_interaction": RequestKind("many", frozenset({DEVICE})),
    "end_interaction": _MANY,
    "say": RequestKind("many", frozenset({INTERACTION})),
    "play": RequestKind("many", frozenset({INTERACTION})),
    "stop_playback": _MANY,
    "listen": RequestKind("one", frozenset({INTERACTION})),
    "vibrate": _MANY,
    "set_led": _MANY,
    "set_home_channel_state": _MANY,
    "notification": RequestKind("many", frozenset({DEVICE, INTERACTION, GROUP, ALL})),
    "device_power_off": _MANY,
    "get_device_info": _ONE,
    "set_device_info": _ONE,
    "set_user_profile": _ONE,
    "set_device_mode": _ONE,
    "set_channel": _ONE,
    "call": _ONE,
    "answer": _ONE,
    "hangup": _ONE,
    "register": _ONE,
    "inbox_count": _ONE,
    "play_inbox_messages": _ONE,
    "set_timer": _NONE,
    "clear_timer": _NONE,
    "start_timer": _NONE,
    "stop_timer": _NONE,
    "translate": _NONE,
    "group_query": _NONE,
    "log_analytics_event": _NONE,
    "set_var": _NONE,
    "unset_var": _NONE,
    "get_var": _NONE,
    "create_incident": _NONE,
    "resolve_incident": _NONE,
    "sms": _NONE,
    "terminate": _NONE,
}

#: the unknowns of the protocol, with the values the simulator assumes (each can be changed per run)
DEFAULT_OPTIONS: JSONObject = {
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
    # the onnet flag of call events between devices of the account
    "onnet": True,
    # lang of speech events
    "lang": "en-US",
    # what the user says when the app listens and no speech step of the scenario answers it; "" (the default):
    # the listen's first phrase, or "yes" when it has none
    "speech": "",
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
    "onnet": "the onnet flag of call events between devices of the account",
    "lang": "lang of speech events",
    "speech": "what the user says when the app listens and no speech step answers (default: its first phrase, or yes)",
}

_CHOICES = {"call_id_style": ("uuid", "counter"), "epoch_unit": ("s", "ms"), "unnamed_timer": ("interval", "timeout")}

#: the longest a simulated duration may be (hold, event_delay, play_time, a scenario's wait and timeouts): an hour.
#: A larger value is refused (exit 2) instead of a run that waits for ever.
MAX_SECONDS = 3600.0
#: the whole run's limit when the caller gives none (--max-time): an app that keeps talking without reaching the
#: scenario's end is stopped here, since each expected request has its own --timeout but a run of them has not
DEFAULT_MAX_TIME = 300.0
#: the largest run --max-time accepts: a day
MAX_MAX_TIME = 86400.0
#: words a minute: below 1 a three-word prompt takes three minutes; above this it takes no time at all
SPEAKING_RATES = (1.0, 100_000.0)

#: relay-js reads the events that follow a say, play or listen only once their response has arrived; an event
#: sent less than this after its response can reach it in the same read and be lost (docs/simulator.md)
SDK_MIN_EVENT_DELAY = 0.01

#: units of set_timer's timeout_type, in seconds (relay-js TimeoutType; relay-py's default is secs)
TIMEOUT_UNITS = {"ms": 0.001, "secs": 1.0, "mins": 60.0, "hrs": 3600.0}

#: what get_device_info answers (relay-js DeviceInfoQuery; relay-py's _get_device_info callers)
DEVICE_QUERIES = (
    "name", "id", "type", "address", "latlong", "battery", "indoor_location", "location", "username",
    "location_enabled",
)  # fmt: skip
ADDRESS = "3000 Aerial Center Parkway, Morrisville, NC 27560"
LATLONG = (35.8543, -78.8453)
#: a device's info unless the world says otherwise (never whole-number coordinates: relay-js turns an array of
#: small whole numbers into a string)
DEVICE_DEFAULTS: JSONObject = {
    "type": "relay",
    "battery": 87,
    "address": ADDRESS,
    "latlong": list(LATLONG),
    "location": ADDRESS,
    "indoor_location": "Lobby",
    "location_enabled": True,
}
#: what a scenario's [devices.NAME] table may set
DEVICE_KEYS = ("id", "username", *DEVICE_DEFAULTS)

#: the audio of a listen with transcribe false (relay-js SpeechEvent.audio, a string): a base64 WAV of silence
#: as long as the utterance, at most this long
MAX_AUDIO_SECONDS = 2.0


class ProtocolError(Exception):
    """A message from the app that breaks the protocol (not JSON, no ``_type``, a request without ``_id``...)."""


def check_option(name: str, value: JSONValue) -> str | None:
    """Why ``value`` is not acceptable for the protocol option ``name``, or None."""
    if name in _CHOICES and value not in _CHOICES[name]:
        return f"expected one of {', '.join(_CHOICES[name])}, got {value!r}"
    number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if name in ("event_delay", "play_time") and (number is None or not 0 <= number <= MAX_SECONDS):
        return f"expected a number of seconds from 0 to {MAX_SECONDS:g}, got {value!r}"
    low, high = SPEAKING_RATES
    if name == "speaking_rate" and (number is None or not low <= number <= high):
        return f"expected a number of words per minute from {low:g} to {high:g}, got {value!r}"
    return None


def option_warnings(params: Mapping[str, JSONValue]) -> list[str]:
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
    kind_ = "id" if device.isdigit() else "name"
    return f"{URN_PREFIX}{kind_}:device:{quote(device, safe='')}"


def interaction_urn(name: str, device: str) -> str:
    return f"{URN_PREFIX}name:interaction:{quote(name, safe='')}?device={quote(device, safe='')}"


def short(urn: JSONValue) -> str:
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


def urn_parts(urn: JSONValue) -> tuple[str, str, str, dict[str, str]] | None:
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


def off_net(ref: str) -> bool:
    """A telephone number or a SIP address, not a device of the account: ``tel:+15555550100``, ``sip:...``."""
    return ref.lower().startswith(("tel:", "sip:"))


@dataclass(frozen=True)
class Device:
    urn: str  # as the scenario or the app named it
    id: str  # "" for a party off the network (a telephone number)
    name: str
    onnet: bool = True


@dataclass(frozen=True)
class World:
    """The account the simulated server serves: its devices (id → name), each one's info where it differs from
    ``DEVICE_DEFAULTS`` (id → {battery, indoor_location, ...}), and its groups (name → member names)."""

    devices: Mapping[str, str] = field(default_factory=dict)
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    info: Mapping[str, Mapping[str, JSONValue]] = field(default_factory=dict)

    def find(self, ref: str) -> Device | None:
        """The device of the account a urn, an id (digits) or a name names, or None. A device named by its id or
        its name has one urn, its name urn (the form of the group member lists), so that a project gets the same
        urns whether it says Alice or 990007560045678 (``dev`` reads the id from relay.toml); a urn is kept."""
        urn = device_urn(ref)
        parts = urn_parts(urn)
        if parts is None or parts[1] != "device":
            return None
        given_as_urn = ref.startswith(URN_PREFIX)
        found = None
        if parts[0] == "id" and parts[2] in self.devices:
            found = (parts[2], self.devices[parts[2]])
        elif parts[0] != "id":
            found = next(((i, n) for i, n in self.devices.items() if n.casefold() == parts[2].casefold()), None)
        if found is None:
            return None
        return Device(urn if given_as_urn else device_urn(found[1]), found[0], found[1])

    def device(self, ref: str) -> Device:
        """A device from a urn, an id (digits) or a name; one the account does not know keeps its name and gets a
        made-up id; a telephone number (``tel:``) is a party off the network."""
        if off_net(ref):
            return Device(ref, "", ref.split(":", 1)[1], onnet=False)
        found = self.find(ref)
        if found is not None:
            return found
        urn = device_urn(ref)
        parts = urn_parts(urn)
        value = parts[2] if parts else ref
        if parts and parts[0] == "id":
            return Device(urn, value, value)
        return Device(urn, made_up_id(value), value)

    def with_devices(
        self, names: Iterable[str] = (), declared: Mapping[str, Mapping[str, JSONValue]] | None = None
    ) -> World:
        """This account and more: the devices ``names`` names (a made-up id for a new one), and the devices a
        scenario declares (name → {id, battery, ...}; a name the account has gets the declared info)."""
        devices, info = dict(self.devices), {k: dict(v) for k, v in self.info.items()}
        for name, given in (declared or {}).items():
            found = World(devices).find(name)
            device_id = str(given.get("id") or (found.id if found else made_up_id(name)))
            if found is not None and found.id != device_id:
                del devices[found.id]
            devices[device_id] = found.name if found else name
            info[device_id] = {**info.get(device_id, {}), **{k: v for k, v in given.items() if k != "id"}}
        for ref in names:
            if ref and not off_net(ref) and World(devices).find(ref) is None:
                device = World(devices).device(ref)
                devices[device.id] = device.name
        return World(devices, self.groups, info)

    def with_groups(self, groups: Mapping[str, Iterable[str]]) -> World:
        return World(self.devices, {**self.groups, **{k: tuple(v) for k, v in groups.items()}}, self.info)


# --- messages -----------------------------------------------------------------------------------


def event(kind_: str, /, **fields: JSONValue) -> JSONObject:
    """A server event ``wf_api_<kind_>_event``; every field the SDKs read must be given (a missing one is a bug
    here, not in the app). ``kind_`` is positional-only, so an event may have a field called ``name``."""
    missing = [f for f in EVENT_FIELDS.get(kind_, ()) if f not in fields]
    if kind_ == "speech" and "text" not in fields and "audio" not in fields:
        missing.append("text or audio")
    if missing:
        raise ValueError(f"wf_api_{kind_}_event needs {', '.join(missing)}")
    return {"_type": f"wf_api_{kind_}_event", **fields}


def response(request: JSONObject, **fields: JSONValue) -> JSONObject:
    return {"_id": request["_id"], "_type": f"wf_api_{request_name(request)}_response", **fields}


def request_id(request: JSONObject) -> str:
    """A request's ``_id``: a string (``parse`` refuses a request without one)."""
    return str(request["_id"])


def error_response(request_id: str, error: str) -> JSONObject:
    return {"_id": request_id, "_type": ERROR_RESPONSE, "error": error}


def request_name(message: JSONObject) -> str:
    """``wf_api_say_request`` → ``say``."""
    return str(message.get("_type", "")).removeprefix("wf_api_").removesuffix("_request")


def kind(message: JSONObject) -> str:
    """``event`` | ``request`` | ``response`` | ``error`` | ``other``."""
    t = str(message.get("_type", ""))
    if t == ERROR_RESPONSE:
        return "error"
    for suffix in ("event", "request", "response"):
        if t.startswith("wf_api_") and t.endswith(f"_{suffix}"):
            return suffix
    return "other"


def parse(frame: str | bytes) -> JSONObject:
    """One frame from the app → the message it carries: a JSON object with a fresh string ``_id``, which the
    server can answer (a ``_type`` that is not a request's is refused by ``Server.handle``, with an error response,
    as relay-py's own ``Relay._invalid_type`` helper expects). Raises ProtocolError for a frame it cannot answer."""
    if isinstance(frame, bytes):
        raise ProtocolError(f"a binary frame ({len(frame)} bytes); every message must be a JSON text frame")
    try:
        message = json.loads(frame)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"not JSON ({exc.msg} at character {exc.pos}): {clip(frame)}") from None
    except RecursionError:
        raise ProtocolError(f"JSON nested too deeply to read: {clip(frame)}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"a JSON {type(message).__name__}, not an object: {clip(frame)}")
    t = message.get("_type")
    what = t if isinstance(t, str) and t else f"a message without a _type ({clip(frame)})"
    if "_id" not in message:
        raise ProtocolError(f"{what} has no _id; every request needs a fresh one")
    request_id = message["_id"]
    if not isinstance(request_id, str):
        raise ProtocolError(
            f"{what} has an _id that is {json_kind(request_id)} ({clip(json.dumps(request_id))}), not a string; "
            "every request needs a fresh string _id"
        )
    if not request_id:
        raise ProtocolError(f"{what} has an empty _id; every request needs a fresh one")
    return message


def clip(text: str, limit: int = 80) -> str:
    """``text`` quoted (repr) and cut to about ``limit`` characters."""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return repr(text)


# --- the transcript ------------------------------------------------------------------------------


def _abbrev(value: JSONValue) -> str:
    text = str(value)
    return text[:8] + "…" if re.fullmatch(r"[0-9a-f]{32}", text) else text


def _uris(message: JSONObject) -> list[str]:
    target = message.get("_target")
    uris = target.get("uris") if isinstance(target, dict) else None
    return [str(u) if isinstance(u, str) else json.dumps(u) for u in uris] if isinstance(uris, list) else []


def summarize(message: JSONObject) -> tuple[str, str]:
    """(label, detail) for one message, as the live transcript shows it: ``("answer", "call 1f3e…")``.
    Raw text: the caller escapes it for a terminal."""
    t = str(message.get("_type", ""))
    k = kind(message)
    name = t.removeprefix("wf_api_").rsplit("_", 1)[0] if k != "other" else t
    m = message
    if k == "error":
        return "error", str(m.get("error", ""))
    if k == "response":
        fields = {key: v for key, v in m.items() if key not in ("_id", "_type")}
        return f"{name} response", " ".join(
            f"{key}={_abbrev(v) if isinstance(v, str) else json.dumps(v)}" for key, v in fields.items()
        )
    if k == "event":
        return name.upper(), _event_detail(name, m)
    if k == "request":
        uris = _uris(m)
        on = f" on {', '.join(short(u) for u in uris)}" if uris else ""
        if name in ("say", "listen", "play"):
            what = m.get("text") if name == "say" else m.get("phrases") if name == "listen" else m.get("filename")
            return name, f"{what!r}{on}"
        if name in ("answer", "hangup"):
            return name, f"call {_abbrev(m.get('call_id'))}{on}"
        if name == "call":
            callee = m.get("uri") or m.get("device_name") or m.get("device_id")
            return name, f"{short(callee)}{on}"
        if name == "start_interaction":
            return name, f"{m.get('name')!r}{on}"
        if name in ("get_var", "unset_var"):
            return name, str(m.get("name"))
        if name == "set_var":
            return name, f"{m.get('name')}={m.get('value')!r}"
        fields = {key: v for key, v in m.items() if key not in ("_id", "_type", "_target")}
        return name, (" ".join(f"{key}={json.dumps(v)}" for key, v in fields.items()) + on).strip()
    return t or "?", json.dumps(m)[:120]


def _event_detail(name: str, m: JSONObject) -> str:
    if name in ("start", "resume"):
        trig = given if isinstance(given := m.get("trigger"), dict) else {}
        args = given if isinstance(given := trig.get("args"), dict) else {}
        extra = " ".join(f"{key}={v!r}" for key, v in args.items() if key != "source_uri")
        return f"{trig.get('type')} trigger on {short(args.get('source_uri'))}" + (f" {extra}" if extra else "")
    if name.startswith("call_") and "call_id" in m and "direction" in m:
        way = "from" if m.get("direction") == "inbound" else "to"
        detail = f"call {_abbrev(m.get('call_id'))} {m.get('direction')} {way} {short(m.get('uri'))}"
        return detail + (f" reason={m.get('reason')}" if "reason" in m else "")
    if name == "call_start_request":
        return f"the user asked to call {short(m.get('uri'))}"
    if name in ("interaction_lifecycle", "prompt"):
        extra = f" id={_abbrev(m.get('id'))}" if name == "prompt" else ""
        extra += f" reason={m.get('reason')!r}" if name == "interaction_lifecycle" and "reason" in m else ""
        return f"{m.get('type')} {short(m.get('source_uri'))}{extra}"
    if name == "button":
        return f"{m.get('button')} {m.get('taps')} on {short(m.get('source_uri'))}"
    if name == "speech":
        heard = f"{m.get('text')!r}" if "text" in m else f"audio ({len(str(m.get('audio', '')))} base64 characters)"
        return f"{heard} on {short(m.get('source_uri'))}"
    fields = {key: v for key, v in m.items() if key != "_type"}
    return " ".join(f"{key}={v}" for key, v in fields.items())


# --- the server's state ----------------------------------------------------------------------------


@dataclass
class Call:
    call_id: str
    direction: str  # inbound | outbound
    other: Device  # the other party: the caller of an inbound call, the callee of an outbound one
    start: float
    local: str = ""  # the id of the account's device on the call
    connect: float | None = None
    end: float | None = None
    state: str = "new"  # new | ringing | answering | connected | ended
    hangup_at: float | None = None  # when the other party hangs up (after connecting)


@dataclass
class Interaction:
    urn: str
    name: str
    device: str  # the device's id
    state: str = "open"  # open | suspended | ended


@dataclass
class Prompt:
    """One say or play on one device: queued behind the device's earlier prompts, then playing, then stopped."""

    id: str
    urn: str  # the interaction it plays in
    device: str
    start: float
    stop: float
    stopped: bool = False


@dataclass
class Listen:
    """A listen the user has not answered yet."""

    request_id: str
    urn: str
    phrases: list[str]
    transcribe: bool


@dataclass
class Utterance:
    """What a scenario's ``send = "speech"`` step has the user say."""

    text: str
    audio: str | None = None
    lang: str | None = None


@dataclass(frozen=True)
class Target:
    """One urn of a request's ``_target``, resolved: a device (its id), an open interaction, a group, all devices."""

    urn: str
    kind: str
    device: str = ""  # the device's id (a device, or an interaction's device)
    interaction: Interaction | None = None
    group: str = ""  # the group's name


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
    build: Callable[[float], JSONObject | None]
    step: int | None = None  # the scenario step in progress when it was queued
    tick: bool = False  # a repeating timer's firing: it does not hold off the timeout of an expect step


@dataclass
class Reply:
    """What the server does about one request."""

    error: str | None = None  # an error response was sent: the app asked for something the server refused
    terminated: bool = False


def _positive(value: JSONValue) -> float | None:
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


def _said(text: str) -> str:
    """Words as a recogniser compares them: case, punctuation and spacing left out."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def silence_wav(seconds: float, rate: int = 8000) -> str:
    """A base64 WAV of silence (16-bit mono PCM): the audio a listen with ``transcribe: false`` hears."""
    data = bytes(2 * int(rate * max(0.0, min(seconds, MAX_AUDIO_SECONDS))))
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    riff = b"WAVE" + b"fmt " + fmt + b"data" + struct.pack("<I", len(data)) + data
    return base64.b64encode(b"RIFF" + struct.pack("<I", len(riff)) + riff).decode("ascii")


def _closest(name: str, known: Iterable[str]) -> str | None:
    """The known name ``name`` is most likely a typo of: the closest by difflib's ratio, then the longest shared
    beginning (``get_device_label`` → ``get_device_info``, not ``set_device_mode``), or None."""
    import difflib

    def shared(other: str) -> int:
        return next(
            (i for i, (a, b) in enumerate(zip(name, other, strict=False)) if a != b), min(len(name), len(other))
        )

    close = difflib.get_close_matches(name, list(known), n=3)
    score = {c: (round(difflib.SequenceMatcher(None, name, c).ratio(), 2), shared(c)) for c in close}
    return max(close, key=lambda c: score[c]) if close else None


def _names(values: Iterable[str], limit: int = 10) -> str:
    values = list(values)
    return ", ".join(values[:limit]) + (f" and {len(values) - limit} more" if len(values) > limit else "")


@dataclass
class Server:
    """The Relay server's view of one workflow run: the account's devices (each with its own info and settings),
    calls, interactions, prompts, listens, timers, vars, and the sends it has queued.

    ``params``: ``device_urn``, ``device_id``, ``device_name`` (the device the app runs for), ``hold`` (seconds
    the other party stays on a connected call; < 0 never hangs up), ``reject`` (the callee declines outbound
    calls), ``vars`` (served to get_var), and the options of DEFAULT_OPTIONS. ``world``: the account.
    """

    params: JSONObject
    new_id: Callable[[], str] = field(default=lambda: uuid.uuid4().hex)
    world: World = field(default_factory=World)
    calls: dict[str, Call] = field(default_factory=dict)
    interactions: dict[str, Interaction] = field(default_factory=dict)  # urn → interaction, ended ones too
    timers: dict[str | None, Timer] = field(default_factory=dict)
    notifications: dict[str, list[str]] = field(default_factory=dict)  # name → the device urns it went to
    vars: dict[str, str] = field(default_factory=dict)
    devices: dict[str, JSONObject] = field(default_factory=dict)  # id → what get_device_info answers
    groups: dict[str, list[str]] = field(default_factory=dict)  # name → member device ids
    #: the names devices had before set_device_info renamed them (casefolded → id): an urn the app holds (the
    #: trigger's source_uri) still names its device
    former_names: dict[str, str] = field(default_factory=dict)
    prompts: list[Prompt] = field(default_factory=list)
    listens: list[Listen] = field(default_factory=list)  # unanswered, oldest first
    speech: list[Utterance] = field(default_factory=list)  # said by the scenario, not heard by a listen yet
    more_speech: bool = False  # the scenario has speech steps still to come: a listen waits for them
    warnings: list[str] = field(default_factory=list)  # for the transcript; the runner takes them
    outbox: list[Outgoing] = field(default_factory=list)
    terminated: bool = False
    step: int | None = None  # set by the scenario runner: the step in progress, tagged on what is queued
    last_sms: str | None = None  # the message_id of the app's last sms request
    _seq: int = 0
    _calls_made: int = 0

    def __post_init__(self) -> None:
        given = self.params.get("vars")  # the workflow's args: an object
        self.vars = {str(k): as_var(v) for k, v in (given.items() if isinstance(given, dict) else ())}
        own_id, own_name = str(self.params["device_id"]), str(self.params["device_name"])
        known = {**self.world.devices}
        known.setdefault(own_id, own_name)
        for device_id, name in known.items():
            info: JSONObject = {"name": name, "id": device_id, "username": name.lower(), **DEVICE_DEFAULTS}
            info["latlong"] = list(LATLONG)
            info.update(
                {k: list(v) if isinstance(v, list) else v for k, v in self.world.info.get(device_id, {}).items()}
            )
            self.devices[device_id] = info
        for group, members in self.world.groups.items():
            self.groups[group] = [d for m in members if (d := self._device_id(m)) is not None]

    @property
    def device(self) -> JSONObject:
        """The info of the device the app runs for."""
        return self.devices[str(self.params["device_id"])]

    # --- helpers ----------------------------------------------------------------------------------

    def opt(self, name: str) -> JSONValue:
        return self.params.get(name, DEFAULT_OPTIONS.get(name))

    def number(self, name: str) -> float:
        """A number option (checked before the run: ``check_option``)."""
        value = self.opt(name)
        if not isinstance(value, (int, float, str)):
            raise TypeError(f"the option {name} is {json_kind(value)}, not a number")
        return float(value)

    def epoch(self, t: float | None) -> int:
        if t is None:
            return 0
        return int(t * 1000) if self.opt("epoch_unit") == "ms" else int(t)

    def later(self, due: float, build: Callable[[float], JSONObject | None], *, tick: bool = False) -> None:
        self._seq += 1
        self.outbox.append(Outgoing(due, self._seq, build, self.step, tick))

    def send(self, now: float, message: JSONObject) -> None:
        self.later(now, lambda _t: message)

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def take_warnings(self) -> list[str]:
        taken, self.warnings = self.warnings, []
        return taken

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

    def call_event(self, name: str, call: Call, **extra: JSONValue) -> JSONObject:
        fields: JSONObject = {
            "call_id": call.call_id,
            "direction": call.direction,
            # the other party (relay-py names these other_device_id/other_device_name; the calling guide:
            # "the calling device, not the receiving device")
            "device_id": call.other.id,
            "device_name": call.other.name,
            "uri": call.other.urn,
            "onnet": call.other.onnet and bool(self.opt("onnet")),
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
        return _words(text) * 60.0 / self.number("speaking_rate")

    def open_interactions(self) -> list[Interaction]:
        return [i for i in self.interactions.values() if i.state != "ended"]

    # --- the account's devices --------------------------------------------------------------------

    def _device_id(self, ref: str) -> str | None:
        """The id of the device a name, an id or a device urn names (by the names devices have now)."""
        parts = urn_parts(device_urn(ref))
        if parts is None or parts[1] != "device":
            return None
        if parts[0] == "id":
            return parts[2] if parts[2] in self.devices else None
        wanted = parts[2].casefold()
        found = next((i for i, info in self.devices.items() if str(info["name"]).casefold() == wanted), None)
        return found if found is not None else self.former_names.get(wanted)

    def _unknown_device(self, ref: str) -> str:
        parts = urn_parts(device_urn(ref))
        names = _names(str(info["name"]) for info in self.devices.values())
        if parts and parts[0] == "id":
            return f"no device with id {parts[2]!r} in the account (its devices: {names})"
        return f"no device named {parts[2] if parts else ref!r} in the account (its devices: {names})"

    def name_of(self, device_id: str) -> str:
        return str(self.devices[device_id]["name"]) if device_id in self.devices else device_id

    def own_urn_of(self, device_id: str) -> str:
        return device_urn(self.name_of(device_id))

    def _party(self, ref: str, *, strict: bool) -> Device | str:
        """The other party of a call: a device (of the account, when ``strict``) or a number off the network."""
        if off_net(ref):
            return self.world.device(ref)
        device_id = self._device_id(ref)
        if device_id is not None:
            return Device(device_urn(ref), device_id, self.name_of(device_id))
        if strict:
            return self._unknown_device(ref)
        return self.world.device(ref)

    # --- targets ----------------------------------------------------------------------------------

    def _targets(self, name: str, request: JSONObject) -> list[Target] | str:
        """The request's ``_target``, resolved, or why it is refused (naming what was wrong)."""
        spec = REQUESTS[name]
        shape = '{"uris": ["urn:relay-resource:..."]}'
        if "_target" not in request:
            return f"{name} needs a _target: {shape}"
        target = request["_target"]
        if not isinstance(target, dict) or "uris" not in target:
            return f"{name}'s _target must be an object {shape}, got {clip(json.dumps(target))}"
        uris = target["uris"]
        if not isinstance(uris, list):
            return f"{name}'s _target.uris must be a list of urns, got {clip(json.dumps(uris))}"
        if not uris:
            return f"{name}'s _target.uris is empty: name the device or interaction it is for"
        if spec.targets == "one" and len(uris) > 1:
            return f"{name} takes one target, got {len(uris)} in _target.uris"
        out = []
        for i, uri in enumerate(uris):
            where = f"{name}'s _target.uris[{i}]"
            if isinstance(uri, list):
                return (
                    f"{where} is a list ({clip(json.dumps(uri))}), not a urn: relay-py sends "
                    '{"uris": [[...]]} when a method is given a list; pass one urn'
                )
            if not isinstance(uri, str):
                return f"{where} is {json_kind(uri)} ({clip(json.dumps(uri))}), not a urn string"
            resolved = self._resolve(uri, where)
            if isinstance(resolved, str):
                return resolved
            if resolved.kind not in spec.names:
                return self._wrong_kind(name, resolved, spec.names)
            out.append(resolved)
        return out

    def _resolve(self, uri: str, where: str) -> Target | str:
        if uri == ALL_DEVICES_URN:
            return Target(uri, ALL)
        parts = urn_parts(uri)
        if parts is None:
            return f"{where} is {clip(uri)}, not a urn:relay-resource:<id|name>:<type>:<value> urn"
        id_or_name, type_, value, query = parts
        if type_ == "device":
            device_id = self._device_id(uri)
            return Target(uri, DEVICE, device_id) if device_id is not None else self._unknown_device(uri)
        if type_ == "interaction":
            return self._resolve_interaction(uri, value, query)
        if type_ == "group":
            found = next((g for g in self.groups if g.casefold() == _decoded(value).casefold()), None)
            if found is None or id_or_name != "name":
                groups = _names(self.groups) or "none"
                return f"no group {'named' if id_or_name == 'name' else 'with id'} {value!r} in the account (its groups: {groups})"
            return Target(uri, GROUP, group=found)
        return f"{where} is a {type_} urn ({clip(uri)}); a target is a device, an interaction or a group"

    def _resolve_interaction(self, uri: str, name: str, query: dict[str, str]) -> Target | str:
        found = self.interactions.get(uri)
        if found is None:
            if "device" not in query:
                return f"interaction urn {clip(uri)} has no ?device=: use the source_uri of INTERACTION_STARTED"
            device_id = self._device_id(_decoded(query["device"]))
            if device_id is None:
                return self._unknown_device(_decoded(query["device"]))
            same = [i for i in self.interactions.values() if i.name == name and i.device == device_id]
            found = next((i for i in same if i.state != "ended"), same[-1] if same else None)
            if found is None:
                return f"no interaction {name!r} on {self.name_of(device_id)} (start_interaction opens one)"
        if found.state == "ended":
            return f"interaction {found.name!r} on {self.name_of(found.device)} has ended"
        return Target(found.urn, INTERACTION, found.device, interaction=found)

    def _wrong_kind(self, name: str, target: Target, allowed: frozenset[str]) -> str:
        if allowed == {INTERACTION}:
            return (
                f"{name} needs an interaction urn, got the {target.kind} urn {clip(target.urn)}: start_interaction "
                "first and target the source_uri of INTERACTION_STARTED (the SDKs' docs: 'the interaction URN')"
            )
        wanted = " or ".join(sorted(allowed))
        return f"{name} targets a {wanted}, not a {target.kind} ({clip(target.urn)})"

    # --- events the scenario sends ---------------------------------------------------------------

    def start_event(self, trigger_type: str, args: JSONObject, kind_: str = "start") -> JSONObject:
        return event(kind_, trigger={"type": trigger_type, "args": {"source_uri": self.params["device_urn"], **args}})

    def incoming_call(self, now: float, caller: str) -> JSONObject:
        other = self._party(caller, strict=False)
        assert isinstance(other, Device)
        call = Call(self.call_id(), "inbound", other, now, local=str(self.params["device_id"]), state="ringing")
        self.calls[call.call_id] = call
        return self.call_event("call_received", call)

    def call_start_request(self, callee: str) -> JSONObject:
        """The user asked the device to call ``callee``. The SDK's type declares a ``call_id`` (relay-js
        StartedCallEvent); the call the app then places gets an id of its own."""
        uri = callee if off_net(callee) else device_urn(callee)
        return event("call_start_request", uri=uri, call_id=self.call_id())

    def scripted_call_event(self, now: float, name: str, fields: JSONObject) -> JSONObject | str:
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

    def button_event(self, button: str, taps: str) -> JSONObject:
        opened = self.open_interactions()  # a tap lands in the open interaction
        source = opened[0].urn if opened else self.params["device_urn"]
        return event("button", button=button, taps=taps, source_uri=source)

    def notification_event(self, name: str, what: str, by: str) -> JSONObject:
        """Someone (``by``) acted on the notification ``name`` the app sent: ``what`` is e.g. ack_event."""
        who = self.world.device(by)
        created = self.notifications.get(name) or [who.urn]
        state: JSONObject = {"created": list(created), "acknowledged": [who.urn] if what == "ack_event" else []}
        state.update({"cancelled": [], "timed_out": []})
        return event("notification", event=what, name=name, notification_state=state, source_uri=who.urn)

    def timer_fired_event(self, name: str) -> JSONObject:
        return event("timer_fired", name=name)

    def lifecycle_event(self, state: str, name: str | None, reason: str | None) -> JSONObject | str:
        """The server suspends, resumes or fails an open interaction (``name``; default: the latest opened)."""
        opened = [i for i in self.open_interactions() if name is None or i.name == name]
        if not opened:
            which = f" named {name!r}" if name is not None else ""
            return f"there is no open interaction{which} to send interaction_{state} about"
        found = opened[-1]
        found.state = "ended" if state == "failed" else "suspended" if state == "suspended" else "open"
        extra = {"reason": reason} if reason is not None else {}
        return event("interaction_lifecycle", type=state, source_uri=found.urn, **extra)

    def sms_event(self, sms_id: str | None, what: Mapping[str, JSONValue]) -> JSONObject:
        return event("sms", id=sms_id or self.last_sms or self.new_id(), event=dict(what))

    def remote_hangups(self, now: float) -> list[JSONObject]:
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

    # --- speech: what the user says when the app listens ------------------------------------------

    def speak(self, now: float, utterance: Utterance) -> None:
        """A scenario's speech step: the oldest unanswered listen hears it, else the next listen will."""
        if self.listens:
            self._hear(now, self.listens.pop(0), utterance)
        else:
            self.speech.append(utterance)

    def script_over(self, now: float) -> None:
        """The scenario has no speech steps left: the listens still waiting hear what an unscripted user says."""
        self.more_speech = False
        while self.listens:
            self._hear(now, self.listens.pop(0), None)

    def _hear(self, now: float, listen: Listen, utterance: Utterance | None) -> None:
        """Send the speech event of ``listen``, after the time the user takes to say it. ``utterance`` None: the
        user says ``--set speech`` or, when that is empty, the listen's first phrase (else "yes"). A text said
        that is none of the listen's phrases is not recognised: the device hears "" (docs/simulator.md)."""
        option = str(self.opt("speech"))
        if utterance is None:
            utterance = Utterance(option or (listen.phrases[0] if listen.phrases else "yes"))
        text = utterance.text
        if listen.phrases and listen.transcribe:
            matched = next((p for p in listen.phrases if _said(p) == _said(text)), None)
            if matched is None:
                self.warn(
                    f"the user said {text!r}, none of the phrases the app listens for "
                    f"({_names(repr(p) for p in listen.phrases)}): the device recognises nothing (text '')"
                )
            text = matched if matched is not None else ""
        fields: JSONObject = {"request_id": listen.request_id}
        if listen.transcribe:
            fields["text"] = text
        else:
            fields["audio"] = utterance.audio or silence_wav(self.speaking_time(utterance.text))
        fields["lang"] = utterance.lang or str(self.opt("lang"))
        fields["source_uri"] = listen.urn
        speech = event("speech", **fields)
        self.later(self._delay(now) + self.speaking_time(utterance.text), lambda _t: speech)

    # --- requests from the app -------------------------------------------------------------------

    def handle(self, request: JSONObject, now: float) -> Reply:
        """Answer one (parsed) request: queue its response and the events that follow it."""
        name = request_name(request)
        if self.terminated:
            return Reply()
        t = request.get("_type")
        if not isinstance(t, str) or not t or kind(request) != "request":
            error = "no _type" if not isinstance(t, str) or not t else f"_type {t!r} is not a request"
            error += " (wf_api_<name>_request): the Relay server serves no such message"
            self.warn(f"{error}; it was refused with wf_api_error_response")
            return self._refuse(request, now, error)
        if name == "terminate":  # no response: STOP, then the connection closes; timers die with the run
            self.terminated = True
            self.timers.clear()
            self.send(now, event("stop", reason="normal"))
            return Reply(terminated=True)
        if name not in REQUESTS:
            close = _closest(name, REQUESTS)
            hint = f" (did you mean {close}?)" if close else ""
            error = f"unknown request {request.get('_type')}{hint}: the Relay server serves no such request"
            self.warn(f"{error}; it was refused with wf_api_error_response")
            return self._refuse(request, now, error)
        targets: list[Target] = []
        if REQUESTS[name].targets is not None:
            resolved = self._targets(name, request)
            if isinstance(resolved, str):
                return self._refuse(request, now, resolved)
            targets = resolved
        handler = getattr(self, f"_on_{name}", self._on_action)
        refused = handler(request, targets, now)
        if refused:
            return self._refuse(request, now, refused)
        return Reply()

    def _refuse(self, request: JSONObject, now: float, error: str) -> Reply:
        self.send(now, error_response(request_id(request), error))
        return Reply(error=error)

    def _delay(self, now: float, steps: int = 1) -> float:
        return now + self.number("event_delay") * steps

    def _on_action(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        """A device action the simulator has no state for (vibrate, LEDs, channels, power, SIP, the inbox):
        accepted once its target is valid, with an empty response."""
        self.send(now, response(request))
        return None

    # interactions

    def _on_start_interaction(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        name = request.get("name")
        if not isinstance(name, str) or not name:
            return "start_interaction needs a name"
        opened = []
        for target in targets:  # one interaction on each device
            urn = interaction_urn(name, target.urn)
            self.interactions.pop(urn, None)  # a name used again on a device opens a new one
            self.interactions[urn] = Interaction(urn, name, target.device)
            opened.append(urn)
        self.send(now, response(request))
        for urn in opened:
            for state in ("started", "resumed"):
                self.send(self._delay(now), event("interaction_lifecycle", type=state, source_uri=urn))
        return None

    def _on_end_interaction(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        closing = [t.interaction for t in targets if t.interaction is not None]
        name = request.get("name")
        devices = {t.device for t in targets if t.kind == DEVICE}
        if devices and isinstance(name, str):  # relay-js also sends the name; its target may be the device
            closing += [i for i in self.open_interactions() if i.name == name and i.device in devices]
        elif devices:
            return "end_interaction targets the interaction urn (or a device and the interaction's name)"
        if not closing:
            return f"no open interaction {name!r} on {', '.join(self.name_of(d) for d in sorted(devices))}"
        for found in closing:
            found.state = "ended"
            for listen in [li for li in self.listens if li.urn == found.urn]:
                self.listens.remove(listen)
        self.send(now, response(request))
        for found in closing:
            self.send(self._delay(now), event("interaction_lifecycle", type="ended", source_uri=found.urn))
        return None

    # prompts and speech

    def _prompt(self, request: JSONObject, targets: list[Target], now: float, seconds: float) -> None:
        """The response first (its ``id`` is the request's ``_id``: relay-js matches the prompt events on the
        response's id, relay-py on the request's), then ``started`` and, ``seconds`` later, ``stopped``. A device
        speaks one prompt at a time: a prompt asked for while another plays starts when that one stops."""
        prompt_id = request_id(request)
        self.send(now, response(request, id=prompt_id))
        for target in targets:
            busy = max((p.stop for p in self.prompts if p.device == target.device and not p.stopped), default=now)
            start = max(self._delay(now), busy)
            prompt = Prompt(prompt_id, target.urn, target.device, start, start + seconds)
            self.prompts.append(prompt)
            self.later(start, self._prompt_event(prompt, "started"))
            self.later(prompt.stop, self._prompt_event(prompt, "stopped"))
        self.prompts = [p for p in self.prompts if not p.stopped and p.stop >= now]

    def _prompt_event(self, prompt: Prompt, type_: str) -> Callable[[float], JSONObject | None]:
        def build(_t: float) -> JSONObject | None:
            if prompt.stopped:
                return None  # stop_playback already stopped it
            if type_ == "stopped":
                prompt.stopped = True
            return event("prompt", type=type_, id=prompt.id, source_uri=prompt.urn)

        return build

    def _on_say(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        text = request.get("text")
        if not isinstance(text, str):
            return "say needs text"
        self._prompt(request, targets, now, self.speaking_time(text))
        return None

    def _on_play(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        if not isinstance(request.get("filename"), str):
            return "play needs a filename"
        self._prompt(request, targets, now, self.number("play_time"))
        return None

    def _on_stop_playback(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        """relay-py ``stop_playback(target, ids)``: the prompts named (all of the target's, without ``ids``) stop
        now: each gets its ``stopped`` event at once, so a say_and_wait waiting for it returns."""
        ids = request.get("ids")
        if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
            return f"stop_playback's ids must be a list of prompt ids, got {clip(json.dumps(ids))}"
        devices = {t.device for t in targets}
        self.send(now, response(request))
        for prompt in self.prompts:
            if prompt.stopped or prompt.device not in devices or (ids is not None and prompt.id not in ids):
                continue
            prompt.stopped = True
            self.send(now, event("prompt", type="stopped", id=prompt.id, source_uri=prompt.urn))
        return None

    def _on_listen(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        phrases = request.get("phrases", [])
        if isinstance(phrases, str):
            phrases = [phrases]
        if phrases is None:
            phrases = []
        if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
            return f"listen's phrases must be a list of strings, got {clip(json.dumps(phrases))}"
        transcribe = request.get("transcribe", True) is not False
        self.send(now, response(request))
        texts = [p for p in phrases if isinstance(p, str)]  # each one, as checked
        listen = Listen(request_id(request), targets[0].urn, texts, transcribe)
        if self.speech:
            self._hear(now, listen, self.speech.pop(0))
        elif self.more_speech:
            self.listens.append(listen)  # the scenario's next speech step answers it
        else:
            self._hear(now, listen, None)
        return None

    # calls

    def _find_call(self, request: JSONObject, targets: list[Target]) -> Call | str:
        call_id = request.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            return f"{request_name(request)} needs a call_id"
        call = self.calls.get(call_id)
        if call is None:
            return f"unknown call_id {call_id!r}"
        if targets and targets[0].device != call.local:
            return f"call {call_id} is on {self.name_of(call.local)}, not on {self.name_of(targets[0].device)}"
        return call

    def _on_answer(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        call = self._find_call(request, targets)
        if isinstance(call, str):
            return call
        if call.direction != "inbound" or call.state != "ringing":
            state = "it has ended: the caller hung up" if call.state == "ended" else call.state
            return f"call {call.call_id} is not ringing ({state})"
        call.state = "answering"
        self.send(now, response(request, call_id=call.call_id))

        def connected(t: float) -> JSONObject | None:
            if call.state != "answering":
                return None
            call.state, call.connect = "connected", t
            self._schedule_hangup(call, t)
            return self.call_event("call_connected", call)

        self.later(self._delay(now), connected)
        return None

    def _on_call(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        callee = request.get("uri") or request.get("device_name") or request.get("device_id")
        if not isinstance(callee, str) or not callee:
            return "call needs the uri (or device_name / device_id) of whom to call"
        other = self._party(callee, strict=True)
        if isinstance(other, str):
            return f"call: {other}"
        call = Call(self.call_id(), "outbound", other, now, local=targets[0].device, state="ringing")
        self.calls[call.call_id] = call
        self.send(now, response(request, call_id=call.call_id))
        self.later(
            self._delay(now), lambda _t: self.call_event("call_ringing", call) if call.state == "ringing" else None
        )

        def outcome(t: float) -> JSONObject | None:
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

    def _on_hangup(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        call = self._find_call(request, targets)
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

    def _on_get_var(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        name = request.get("name")
        if not isinstance(name, str):
            return "get_var needs a name"
        self.send(now, response(request, value=self.vars[name]) if name in self.vars else response(request))
        return None

    def _on_set_var(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        name = request.get("name")
        if not isinstance(name, str) or "value" not in request:
            return "set_var needs a name and a value"
        self.vars[name] = as_var(request["value"])
        self.send(now, response(request, value=self.vars[name]))
        return None

    def _on_unset_var(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        self.vars.pop(str(request.get("name")), None)
        self.send(now, response(request))
        return None

    # timers

    def _arm(self, name: str | None, seconds: float, repeat: bool, now: float) -> None:
        timer = Timer(name, seconds, repeat, now + seconds)
        self.timers[name] = timer
        self._queue_firing(timer)

    def _queue_firing(self, timer: Timer) -> None:
        def fire(t: float) -> JSONObject | None:
            if self.timers.get(timer.name) is not timer:
                return None  # cleared, stopped, set again or terminated meanwhile
            if timer.repeat:
                timer.due += timer.period
                self._queue_firing(timer)
            else:
                del self.timers[timer.name]
            return event("timer") if timer.name is None else self.timer_fired_event(timer.name)

        self.later(timer.due, fire, tick=timer.repeat)

    def _on_start_timer(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        timeout = _positive(request.get("timeout", 60))
        if timeout is None:
            return f"start_timer needs a timeout in seconds > 0, got {request.get('timeout')!r}"
        self.send(now, response(request))
        self._arm(None, timeout, self.opt("unnamed_timer") == "interval", now)  # replaces the unnamed timer
        return None

    def _on_stop_timer(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        self.timers.pop(None, None)
        self.send(now, response(request))
        return None

    def _on_set_timer(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
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

    def _on_clear_timer(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        name = request.get("name")
        if not isinstance(name, str):
            return "clear_timer needs a name"
        self.timers.pop(name, None)
        self.send(now, response(request))
        return None

    # the devices

    def _on_get_device_info(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        query = request.get("query")
        if query not in DEVICE_QUERIES:
            return f"unknown device info query {query!r} (known: {', '.join(DEVICE_QUERIES)})"
        info = self.devices[targets[0].device]
        self.send(now, response(request, **{str(query): info[str(query)]}))
        return None

    def _on_set_device_info(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        what, value = request.get("field"), request.get("value")
        if what not in ("label", "channel", "location_enabled") or not isinstance(value, str):
            return (
                f"set_device_info needs a field (label, channel or location_enabled) and a string value, got {what!r}"
            )
        info = self.devices[targets[0].device]
        if what == "label":
            if not value.strip():
                return f"cannot name {info['name']} {value!r}: a device's name is not empty"
            taken = [i for i, d in self.devices.items() if str(d["name"]).casefold() == value.casefold()]
            if taken and taken[0] != targets[0].device:
                return f"cannot name {info['name']} {value!r}: another device of the account has that name"
            self.former_names[str(info["name"]).casefold()] = targets[0].device
            self.former_names.pop(value.casefold(), None)
            info["name"] = value
        elif what == "location_enabled":
            if value not in ("true", "false"):
                return f"location_enabled must be 'true' or 'false', got {value!r}"
            info["location_enabled"] = value == "true"
        else:
            info["channel"] = value
        self.send(now, response(request))
        return None

    def _on_set_user_profile(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        if not isinstance(request.get("username"), str):
            return "set_user_profile needs a username"
        self.devices[targets[0].device]["username"] = request["username"]
        self.send(now, response(request))
        return None

    # groups, notifications, incidents and the rest: responses carrying the fields the SDKs read

    def _group(self, request: JSONObject) -> tuple[str, dict[str, str]] | str:
        parts = urn_parts(request.get("group_uri"))
        if parts is None or parts[1] != "group":
            return (
                f"group_query needs a group_uri (urn:relay-resource:name:group:...), got {request.get('group_uri')!r}"
            )
        # relay-js's isGroupMember encodes the group's and the device's names twice (Uri.parseGroupName and
        # parseDeviceName return them still encoded, Uri.groupMember encodes again): decode until plain
        group = _decoded(parts[2])
        found = next((g for g in self.groups if g.casefold() == group.casefold()), None)
        if found is None:
            return f"no group named {group!r} in the account (its groups: {_names(self.groups) or 'none'})"
        return found, {k: _decoded(v) for k, v in parts[3].items()}

    def _on_group_query(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        found = self._group(request)
        if isinstance(found, str):
            return found
        group, query = found
        members = self.groups[group]
        if request.get("query") == "list_members":
            self.send(now, response(request, member_uris=[self.own_urn_of(m) for m in members]))
        elif request.get("query") == "is_member":
            if "device" not in query:
                return "is_member needs the device in the group_uri (urn:relay-resource:name:group:G?device=...)"
            who = self._device_id(query["device"])
            if who is None:
                return self._unknown_device(query["device"])
            self.send(now, response(request, is_member=who in members))
        else:
            return f"group_query's query must be list_members or is_member, got {request.get('query')!r}"
        return None

    def _on_notification(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        name = request.get("name")
        if not isinstance(name, str) or not name:
            return "notification needs a name"
        if request.get("type") != "cancel":
            reached: list[str] = []
            for target in targets:
                if target.kind == GROUP:
                    reached += [self.own_urn_of(m) for m in self.groups[target.group]]
                elif target.kind == ALL:
                    reached += [self.own_urn_of(d) for d in self.devices]
                elif target.kind == INTERACTION:
                    reached.append(self.own_urn_of(target.device))
                else:
                    reached.append(target.urn)
            self.notifications[name] = list(dict.fromkeys(reached))
        self.send(now, response(request))
        return None

    def _on_log_analytics_event(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        if "analytics_content" in request and "content" not in request:
            self.warn(
                "log_analytics_event has analytics_content but no content: the event's parameters may be lost "
                "(@relaypro/sdk 2.4.0's trackUserEvent sends analytics_content; trackEvent sends content)"
            )
        self.send(now, response(request))
        return None

    def _on_create_incident(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        self.send(now, response(request, incident_id=self.new_id()))
        return None

    def _on_resolve_incident(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        incident_id, reason = request.get("incident_id"), request.get("reason")
        if not isinstance(incident_id, str) or not incident_id:
            return "resolve_incident needs an incident_id"
        self.send(now, response(request))
        resolved = event("incident", type="resolved", incident_id=incident_id, reason=str(reason or ""))
        self.later(self._delay(now), lambda _t: resolved)
        return None

    def _on_inbox_count(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        self.send(now, response(request, count="0"))
        return None

    def _on_translate(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        self.send(now, response(request, text=str(request.get("text", ""))))  # a translation is beyond us
        return None

    def _on_sms(self, request: JSONObject, targets: list[Target], now: float) -> str | None:
        self.last_sms = self.new_id()
        self.send(now, response(request, message_id=self.last_sms))
        return None


def as_var(value: JSONValue) -> str:
    """Workflow vars travel as strings (the SDKs' set_var sends strings; get_number_var parses them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)
