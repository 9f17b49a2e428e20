"""The I/O half of ``relay workflow simulate``: load a scenario, connect to the workflow app as the Relay server
would, and move frames between the socket and the pure simulation (``relay_cli.simulator.scenario``).

``websockets`` (a maintained, dependency-free RFC 6455 implementation with an asyncio client) and asyncio are
imported only inside the functions that run a simulation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypedDict

from .. import __version__
from ..core.workflow import is_loopback
from ..errors import NetworkError, UsageError
from ..jsontypes import JSONObject, JSONValue
from .protocol import World
from .scenario import Failure, Record, Scenario, ScenarioError, Simulation, parse

UNREACHABLE_HINT = 'while this URI is unreachable, calls to devices running this workflow announce "not available"'
PATH_HINT = (
    "check the URI's path: relay-js (@relaypro/sdk) refuses the handshake with HTTP 400 for a path it serves no "
    "workflow on (app.workflow('name', ...) serves /name)"
)


#: the demo devices' own info, so that an app asking about Bob cannot pass by answering with Alice's: where each
#: one is, its battery (the rest is protocol.DEVICE_DEFAULTS). Never whole-number coordinates (docs/simulator.md).
DEMO_INFO: dict[str, JSONObject] = {
    "Alice": {"battery": 87, "indoor_location": "Lobby", "latlong": [35.8543, -78.8453]},
    "Bob": {"battery": 64, "indoor_location": "Kitchen", "latlong": [35.8547, -78.8461]},
    "Carol": {"battery": 42, "indoor_location": "Front desk", "latlong": [35.8541, -78.8449]},
    "Dave": {"battery": 23, "indoor_location": "Loading dock", "latlong": [35.8538, -78.8466]},
    "Eve": {"battery": 95, "indoor_location": "Conference room", "latlong": [35.8549, -78.8457]},
}


def demo_world() -> World:
    """The devices and group of the sandbox's demo account (``relay_cli.local.seed``): the same names and ids
    everywhere, so a device named in a scenario has the id ``relay devices`` shows for it."""
    from ..local.seed import DEMO_DEVICES, DEMO_GROUP

    names = dict(DEMO_DEVICES)
    members = tuple(names.get(m, m) for m in DEMO_GROUP["members"])
    info = {device_id: DEMO_INFO[name] for device_id, name in names.items() if name in DEMO_INFO}
    return World(devices=names, groups={DEMO_GROUP["name"]: members}, info=info)


# --- scenarios ------------------------------------------------------------------------------------


def builtin_names() -> list[str]:
    from importlib.resources import files

    return sorted(
        p.name.removesuffix(".toml")
        for p in files("relay_cli.simulator.scenarios").iterdir()
        if p.name.endswith(".toml")
    )


def load_builtin(name: str) -> Scenario:
    from importlib.resources import files

    names = builtin_names()
    if name not in names:
        from ..core.suggest import did_you_mean

        raise UsageError(
            f"unknown scenario {name!r}{did_you_mean(name, names)} (built-in: {', '.join(names)}; or --scenario-file FILE)",
            option="--scenario",
        )
    text = files("relay_cli.simulator.scenarios").joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return parse(text, f"{name}.toml")


def load_file(path: str) -> Scenario:
    from .. import inputs

    try:
        text = inputs.read_text(path, inputs.SCENARIO_LIMIT, "a scenario")
    except OSError as exc:
        raise ScenarioError(f"cannot read {path}: {exc.strerror or exc}", option="--scenario-file") from None
    return parse(text, path)


# --- running --------------------------------------------------------------------------------------


#: the largest frame the app may send (websockets' max_size): a JSON request is a few hundred bytes; a say of a
#: long text a few kilobytes. A larger frame closes the connection (1009) and fails the run (exit 6).
MAX_FRAME = 1024 * 1024
#: records an Outcome keeps (the last ones); ``emit`` sees every one as it happens
KEPT_RECORDS = 10_000
#: how often a run's ``stop`` is asked whether to end the conversation (seconds)
STOP_POLL = 0.2


@dataclass
class Outcome:
    """How a run ended: the failure (None: the scenario passed), how many transcript records it made, how long
    it took, its records (the last KEPT_RECORDS), and the reason the server ended it (``stop``), when it did."""

    failure: Failure | None
    messages: int
    seconds: float
    records: list[Record] = field(default_factory=list)
    stopped: str | None = None


def _loopback(uri: str) -> bool:
    from urllib.parse import urlsplit

    return is_loopback(urlsplit(uri).hostname)


def _unreachable_reason(exc: BaseException, timeout: float) -> str:
    from ..api.probe import handshake_failure

    return handshake_failure(exc, timeout)


def run(
    uri: str,
    scenario: Scenario,
    params: Mapping[str, JSONValue],
    *,
    timeout: float,
    emit: Callable[[Record], None] | None = None,
    clock: Callable[[], float] = time.time,
    world: World | None = None,
    max_time: float | None = None,
    stop: Callable[[], str | None] | None = None,
) -> Outcome:
    """Play ``scenario`` against the app at ``uri`` as the Relay server would, with the account ``world``;
    ``emit`` gets each transcript record as it happens. ``timeout`` bounds connecting and each expected request;
    ``max_time`` the whole run: the commands pass --max-time (``protocol.DEFAULT_MAX_TIME`` by default); None, for
    a caller that ends runs itself with ``stop``, bounds it by nothing else. ``stop`` (the sandbox: ``relay
    workflow instance stop``) is
    asked every STOP_POLL seconds; when it returns a reason, the server sends STOP with it and closes, and the
    Outcome says so (it is not a failure).

    Raises NetworkError (exit 1) when the app cannot be reached. A misbehaving app is not an exception here:
    the Outcome carries the failure."""
    import asyncio

    return asyncio.run(_run(uri, scenario, params, timeout, emit, clock, world or World(), max_time, stop))


class _ConnectOptions(TypedDict, total=False):
    """``connect``'s options that depend on the version of websockets."""

    proxy: None


async def _run(
    uri: str,
    scenario: Scenario,
    params: Mapping[str, JSONValue],
    timeout: float,
    emit: Callable[[Record], None] | None,
    clock: Callable[[], float],
    world: World,
    max_time: float | None,
    stop: Callable[[], str | None] | None = None,
) -> Outcome:
    import asyncio
    import inspect
    import json
    from collections import deque

    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    sim = Simulation(scenario, params, timeout=timeout, start=clock(), world=world, max_time=max_time)
    options: _ConnectOptions = {}
    if _loopback(uri) and "proxy" in inspect.signature(connect.__init__).parameters:
        options["proxy"] = None  # websockets >= 15 honours HTTP(S)_PROXY; an app on this machine is never behind one
    try:
        ws = await connect(
            uri,
            open_timeout=timeout,
            close_timeout=1,
            ping_interval=None,
            compression=None,
            max_size=MAX_FRAME,
            user_agent_header=f"relay-cli/{__version__} (workflow simulate)",
            **options,
        )
    except Exception as exc:  # noqa: BLE001 - every failure to connect is "unreachable", with its reason
        refused = isinstance(exc, InvalidStatus) and exc.response.status_code in (400, 404)
        hint = f"{PATH_HINT}; {UNREACHABLE_HINT}" if refused else UNREACHABLE_HINT
        raise NetworkError(
            f"cannot reach the workflow app at {uri}: {_unreachable_reason(exc, timeout)}", hint=hint
        ) from None

    started = sim.start = sim.step_started = sim.last_event = clock()
    kept: deque[Record] = deque(maxlen=KEPT_RECORDS)
    count = 0

    def flush_records() -> None:
        nonlocal count
        for record in sim.records:
            count += 1
            kept.append(record)
            if emit is not None:
                emit(record)
        sim.records.clear()  # handed on: a long run does not keep them all

    def closed(exc: ConnectionClosed) -> None:
        if exc.sent is not None and exc.sent.code == 1009:  # websockets closed it: a frame over max_size
            sim.oversized(MAX_FRAME)
            return
        sim.closed(clock(), None if exc.rcvd is None else exc.rcvd.code, "" if exc.rcvd is None else exc.rcvd.reason)

    try:
        while True:
            reason = stop() if stop is not None and not sim.done else None
            if reason:
                for message in sim.stop(clock(), reason):
                    flush_records()
                    try:
                        await ws.send(json.dumps(message))
                    except ConnectionClosed:
                        pass
                break
            outgoing = sim.advance(clock())
            flush_records()
            try:
                for message in outgoing:
                    await ws.send(json.dumps(message))
            except ConnectionClosed as exc:
                closed(exc)
            if sim.done:
                break
            deadline = sim.next_deadline()
            wait = timeout if deadline is None else max(0.0, deadline - clock())
            if stop is not None:
                wait = min(wait, STOP_POLL)
            try:
                frame = await asyncio.wait_for(ws.recv(), wait)
            except TimeoutError:
                continue
            except ConnectionClosed as exc:
                closed(exc)
                break
            sim.receive(frame, clock())
    finally:
        flush_records()
        await ws.close()
    return Outcome(sim.failure, count, clock() - started, list(kept), sim.stopped)
