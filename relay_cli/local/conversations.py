"""The sandbox plays Relay: for each workflow a device event (or an HTTP trigger, or a timer) starts, it connects to
the workflow's URI and plays the Relay side of the conversation with the simulator's engine
(``relay_cli.simulator.runner``, the built-in scenario ``relay workflow simulate`` would pick for that workflow),
and remembers what happened: an instance while the conversation runs, and what the app did in the realtime log.

- ``Runtime``: the conversations of one sandbox app. At most ``MAX_CONVERSATIONS`` run at once (each is a thread
  with an asyncio loop and one WebSocket); an event that would need more is refused (503) before anything starts.
  In the background (``relay server``) a conversation outlives the request that started it; in-process, the
  request waits for it (nothing would be left to run it).
- ``Run``: one conversation. The instance is created when the app accepts the connection (an app that cannot be
  reached never shows as running), ended when the conversation ends, and ``relay workflow instance stop`` ends the
  conversation (the runner polls the instance: STOP, reason ``stopped``, then close).
- ``stream``: the answer of ``POST /_sandbox/events`` and ``/_sandbox/tick``, JSON lines (docs/sandbox.md).
"""

from __future__ import annotations

import functools
import json
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..core import sandbox as matching, workflow as wf
from ..core.triggers import DeviceEvent
from ..core.triggers.schedule import NotATimer, occurrences
from ..errors import NetworkError, UsageError
from ..jsontypes import JSONObject, JSONValue
from ..simulator import protocol, runner, scenario as sc
from .store import SandboxStore
from .web import HttpError, Options, Shared, bad_request

#: conversations that may run at once in one sandbox (``relay server`` or one in-process command)
MAX_CONVERSATIONS = 32
#: seconds the app has to connect and to send each expected request, unless the event says otherwise
DEFAULT_TIMEOUT = 10.0
#: the STOP reason of a conversation whose instance was stopped (``DELETE /ibot/workflow_instances/{id}``)
STOP_REASON = "stopped"
#: seconds between blank lines on a quiet answer stream (they tell the server a client went away)
HEARTBEAT = 2.0
#: how often a run looks whether its instance was stopped (seconds)
STOP_CHECK = 0.2
#: the built-in scenario of each event kind (the one ``relay workflow simulate`` picks for the workflows it starts)
SCENARIO_OF = {"call": "inbound-call", "dial": "outbound-call", "press": "button", "say": "phrase"}
#: what the sandbox remembers per timer workflow: the time up to which its occurrences have been run
TIMER_CURSOR = "timer_cursor"


# --- what a request asks for ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlayOptions:
    """How the conversations of one event are played: the flags ``relay workflow simulate`` has too."""

    hold: float | None = None
    reject: bool = False
    timeout: float = DEFAULT_TIMEOUT
    sets: tuple[str, ...] = ()
    #: the longest a whole conversation may take (``relay workflow simulate --max-time``)
    max_time: float = protocol.DEFAULT_MAX_TIME


def play_options(body: Mapping[str, JSONValue]) -> PlayOptions:
    """``hold``, ``reject``, ``timeout``, ``max_time`` and ``set`` of a request body, checked (400
    ``invalid_options``)."""

    def refuse(message: str) -> HttpError:
        return bad_request(message, error="invalid_options")

    def seconds(key: str, low: float, default: float | None, high: float = protocol.MAX_SECONDS) -> float | None:
        value = body.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise refuse(f"{key}: expected a number of seconds from {low:g} to {high:g}, got {value!r}")
        return float(value)

    reject = body.get("reject", False)
    if not isinstance(reject, bool):
        raise refuse(f"reject: expected true or false, got {reject!r}")
    sets = body.get("set") or []
    if not isinstance(sets, list) or not all(isinstance(s, str) for s in sets) or len(sets) > 100:
        raise refuse("set: expected a list of NAME=VALUE strings")
    timeout = seconds("timeout", 0.01, DEFAULT_TIMEOUT)
    max_time = seconds("max_time", 0.01, protocol.DEFAULT_MAX_TIME, protocol.MAX_MAX_TIME)
    assert timeout is not None and max_time is not None
    texts = tuple(s for s in sets if isinstance(s, str))  # each one, as checked
    return PlayOptions(seconds("hold", 0, None), reject, timeout, texts, max_time)


def world_of(store: SandboxStore, sub: str) -> protocol.World:
    """The account's devices and groups, as the engine names them."""
    devices = store.devices(sub)
    groups = {str(g["name"]): tuple(devices.get(str(m), str(m)) for m in _members(g)) for g in store.groups(sub)}
    return protocol.World(devices=devices, groups=groups)


def _members(group: JSONObject) -> list[JSONValue]:
    members = group.get("subscribers")  # a list: the sandbox stores it so
    return members if isinstance(members, list) else []


@dataclass
class Plan:
    """One workflow to start: where, with which scenario and parameters, for which device."""

    start: matching.Start
    device_id: str
    scenario: sc.Scenario
    params: JSONObject
    #: the first line of its log: what started it
    started_by: str

    @property
    def uri(self) -> str:
        return wf.uri_of(dict(self.start.workflow))


def plan(
    start: matching.Start,
    device_id: str,
    event: DeviceEvent,
    options: PlayOptions,
    world: protocol.World,
    started_by: str,
) -> Plan:
    """The run of one started workflow: the scenario ``relay workflow simulate`` would play for it, its parameters
    (the event's other party, ``--hold``, ``--reject``, ``--set``), its args (served to get_var) and the details of
    its START. A bad ``--set`` is a UsageError."""
    workflow = dict(start.workflow)
    suggested, defaults, _note = sc.defaults_from_workflow(workflow)
    scenario = runner.load_builtin(suggested or "trigger")
    flags: dict[str, tuple[str, JSONValue]] = {
        "device": ("device", device_id),
        "hold": ("hold", options.hold),
        "reject": ("reject", True if options.reject else None),
    }
    if event.kind == "call":
        flags["from"] = ("from", event.details.get("caller_name"))
    elif event.kind == "dial":
        flags["to"] = ("to", event.details.get("callee_name"))
    params = sc.resolve_params(scenario, flags, list(options.sets), defaults, world)
    params.update(start.details)
    params["vars"] = wf.args_of(workflow)
    return Plan(start, device_id, scenario, params, started_by)


def check_sets(kind: str, options: PlayOptions, world: protocol.World) -> None:
    """The ``--set`` values against the scenario the event plays, before anything changes (400)."""
    scenario = runner.load_builtin(SCENARIO_OF.get(kind, "trigger"))
    try:
        sc.resolve_params(scenario, {"hold": ("hold", options.hold)}, list(options.sets), None, world)
    except UsageError as exc:
        raise bad_request(exc.message.removeprefix("--set: "), error="invalid_options") from None


# --- the runs ----------------------------------------------------------------------------------------------


def unavailable_hint(uri: str, reason: str, hint: str | None) -> str:
    """What to do about an app that cannot be reached, by the reason."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(uri)
        where = parts.netloc or uri
    except ValueError:
        where = uri
    if "refused" in reason:
        return f"start the app so that it listens at {where}, or register the workflow with the URI where the app runs"
    if "HTTP 400" in reason or "HTTP 404" in reason or "instead of switching" in reason:
        return (
            "something answers at that address but serves no workflow at the URI's path: check the path "
            "(@relaypro/sdk serves app.workflow('name', ...) at /name)"
        )
    if "TLS" in reason or "certificate" in reason.lower():
        return (
            "the app's TLS certificate is not trusted for its host name: give it one from a trusted authority "
            "(SSL_CERT_FILE adds your own CA), or use ws:// for an app on this machine"
        )
    if "host name not found" in reason:
        return f"check the host name {urlsplit(uri).hostname or where!r} in the workflow's URI"
    if "not a valid WebSocket URI" in reason:
        return "register the workflow with a ws:// or wss:// URI of the app"
    return hint or "check that the app runs and that the workflow's URI is where it listens"


def _line(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"


class Run:
    """One conversation between the sandbox (as Relay) and one workflow app, in a thread of its own."""

    def __init__(
        self,
        runtime: Runtime,
        sub: str,
        index: int,
        plan: Plan,
        options: PlayOptions,
        out: queue.Queue[JSONObject] | None,
    ) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.sub = sub
        self.index = index
        self.plan = plan
        self.timeout = options.timeout
        self.max_time = options.max_time
        self.out = out
        self.world = runtime.world(sub)
        self.instance_id: str | None = None
        self.connected = threading.Event()  # the app accepted the connection, or it could not be reached
        self.finished = threading.Event()
        self.end: JSONObject = {}
        self.stopping = threading.Event()  # the sandbox ends this conversation (shutdown, Ctrl-C in-process)
        self._checked = 0.0
        self.thread = threading.Thread(target=self._main, name=f"relay-sandbox-run-{index}", daemon=True)

    @property
    def name(self) -> str:
        return self.plan.start.name

    @property
    def workflow_id(self) -> str:
        return self.plan.start.workflow_id

    def describe(self) -> JSONObject:
        workflow = dict(self.plan.start.workflow)
        return {
            "run": self.index,
            "workflow_id": self.workflow_id,
            "name": self.name,
            "uri": self.plan.uri,
            "trigger": wf.describe_type(workflow),
            "scenario": self.plan.scenario.name,
            "device": {"id": self.plan.device_id, "name": self.world.device(self.plan.device_id).name},
        }

    def _put(self, item: JSONObject) -> None:
        if self.out is not None:
            self.out.put(item)

    def _log(self, message: str, level: str = "info") -> None:
        self.store.log(self.sub, message, workflow_id=self.workflow_id, user_id=self.plan.device_id, level=level)

    def _emit(self, record: sc.Record) -> None:
        if self.instance_id is None:  # the first record: the app accepted the connection
            started = self.store.trigger(self.sub, self.workflow_id, self.plan.device_id, message=self.plan.started_by)
            self.instance_id = None if started is None else str(started["instance_id"])
            self.connected.set()
        if record.sender == "app":
            if record.message is None:
                self._log(f"the app sent a malformed message: {protocol.clip(record.raw or '')}", "error")
            elif protocol.request_name(record.message) == "log_analytics_event":  # the app's own log line
                content = record.message.get("content")
                self._log(f"log: {content if isinstance(content, str) else json.dumps(content)}")
            else:
                label, detail = protocol.summarize(record.message)
                self._log(f"{label} {detail}".strip())
        elif record.message is not None and protocol.kind(record.message) == "error":
            self._log(f"refused the app's request: {record.message.get('error')}", "error")
        self._put({"run": self.index, "instance_id": self.instance_id, "record": record.to_json()})

    def _stop(self) -> str | None:
        if self.stopping.is_set() or self.runtime.closing.is_set():
            return STOP_REASON
        now = time.monotonic()
        if self.instance_id is None or now - self._checked < STOP_CHECK:
            return None
        self._checked = now
        return None if self.store.instance_running(self.sub, self.instance_id) else STOP_REASON

    def start(self) -> None:
        self.thread.start()

    def _main(self) -> None:
        plan = self.plan
        try:
            try:
                outcome = runner.run(
                    plan.uri,
                    plan.scenario,
                    plan.params,
                    timeout=self.timeout,
                    max_time=self.max_time,
                    emit=self._emit,
                    world=self.world,
                    stop=self._stop,
                )
            except NetworkError as exc:
                reason = exc.message.removeprefix("cannot reach the workflow app at ")
                message = f"{self.name} is not available: cannot reach the workflow app at {reason}"
                self.end = {
                    "outcome": "unavailable",
                    "message": message,
                    "hint": unavailable_hint(plan.uri, exc.message, exc.hint),
                }
                self._log(message, "error")
                return
            iid = self.instance_id
            if outcome.stopped is not None:
                self.end = {
                    "outcome": "stopped",
                    "message": f"{self.name} was stopped (STOP, reason {outcome.stopped!r})",
                }
                if iid is not None:
                    self.store.end_instance(self.sub, iid, message=f"instance {iid} stopped by the sandbox")
            elif outcome.failure is not None:
                text = outcome.failure.text()
                self.end = {"outcome": "misbehaved", "message": f"{self.name}: {text}", "hint": outcome.failure.hint}
                if iid is not None:
                    self.store.end_instance(self.sub, iid, message=f"instance {iid} failed: {text}", level="error")
            else:
                self.end = {"outcome": "ended", "message": f"{self.name}: the app terminated cleanly"}
                if iid is not None:
                    self.store.end_instance(self.sub, iid, message=f"instance {iid} ended: the app terminated")
            self.end.update(messages=outcome.messages, seconds=round(outcome.seconds, 3))
        except Exception as exc:  # noqa: BLE001 - a bug here must end the run (and its instance), not the server
            message = f"{self.name}: the sandbox failed: {type(exc).__name__}: {exc}"
            self.end = {"outcome": "error", "message": message}
            if self.instance_id is not None:
                self.store.end_instance(self.sub, self.instance_id, message=message, level="error")
        finally:
            self.end.setdefault("outcome", "error")
            self.end["instance_id"] = self.instance_id
            self._put({"run": self.index, "end": self.end})
            self.runtime.release(self)
            self.connected.set()
            self.finished.set()


class Runtime:
    """The conversations of one sandbox: bounded, and stopped together when the sandbox closes."""

    def __init__(self, store: SandboxStore, *, background: bool, limit: int | None = None) -> None:
        self.store = store
        self.background = background
        self.limit = MAX_CONVERSATIONS if limit is None else limit
        self.closing = threading.Event()
        self._guard = threading.Lock()
        self._active: set[Run] = set()

    @property
    def running(self) -> int:
        with self._guard:
            return len(self._active)

    def world(self, sub: str) -> protocol.World:
        return world_of(self.store, sub)

    def begin(
        self, sub: str, plans: Sequence[Plan], options: PlayOptions, out: queue.Queue[JSONObject] | None
    ) -> list[Run]:
        """Start a run per plan, all or none: 503 when they would be more than ``limit`` at once."""
        with self._guard:
            if self.closing.is_set():
                raise HttpError(503, "shutting_down", "the sandbox is stopping")
            if len(self._active) + len(plans) > self.limit:
                raise HttpError(
                    503,
                    "too_many_conversations",
                    f"the sandbox is running {len(self._active)} conversations and runs at most {self.limit} at "
                    f"once; this event would start {len(plans)} more",
                )
            runs = [Run(self, sub, i, p, options, out) for i, p in enumerate(plans)]
            self._active.update(runs)
        for run in runs:
            run.start()
        return runs

    def release(self, run: Run) -> None:
        with self._guard:
            self._active.discard(run)

    def close(self, timeout: float = 3.0) -> None:
        """Stop every conversation (STOP, reason ``stopped``) and wait for them to end, up to ``timeout``."""
        self.closing.set()
        with self._guard:
            runs = list(self._active)
        deadline = time.monotonic() + timeout
        for run in runs:
            run.finished.wait(max(0.0, deadline - time.monotonic()))


def stream(
    runtime: Runtime, header: Mapping[str, object], runs: list[Run], out: queue.Queue[JSONObject]
) -> Iterator[bytes]:
    """The answer of an event: the header line, each run's records as they come and its end, then ``done``.
    A blank line every HEARTBEAT quiet seconds. When the client goes away first, an in-process sandbox stops the
    runs (nothing would be left to run them); ``relay server`` lets them go on."""
    yield _line(header)
    left = len(runs)
    try:
        while left:
            try:
                item = out.get(timeout=HEARTBEAT)
            except queue.Empty:
                yield b"\n"
                continue
            if "end" in item:
                left -= 1
            yield _line(item)
        yield _line({"done": True})
    finally:
        if left and not runtime.background:
            for run in runs:
                run.stopping.set()
            deadline = time.monotonic() + 2 * STOP_CHECK + 1.0
            for run in runs:
                run.finished.wait(max(0.0, deadline - time.monotonic()))


# --- timers ---------------------------------------------------------------------------------------------------


@dataclass
class Due:
    """A timer workflow due at ``when`` (``count`` occurrences since it last ran), and its devices."""

    workflow: Mapping[str, JSONValue]
    when: datetime
    count: int
    devices: list[str] = field(default_factory=list)


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class _Look:
    """What a look at a timer workflow's cursor found: its latest occurrence due and how many are, its next one
    after that, or why its timer cannot be read."""

    latest: datetime | None = None
    count: int = 0
    next: datetime | None = None
    error: str | None = None


def _advance(old: JSONObject | None, *, rule: JSONValue, born: datetime, at: datetime, found: _Look) -> JSONObject:
    """A timer workflow's cursor moved on to ``at``; what fell due meanwhile goes into ``found``."""
    through = (old or {}).get("through")  # the cursor: an ISO time the sandbox wrote
    after = _parse_time(through if isinstance(through, str) else None)
    try:
        if after is not None and after >= at:  # already run up to a later time (a tick --at ahead)
            found.next = occurrences(rule, born, after, after)[2]
            return old or {}
        found.latest, found.count, found.next = occurrences(rule, born, after, at)
    except NotATimer as exc:
        found.error = str(exc)
        return old or {}
    return {"through": at.isoformat()}


def due_timers(store: SandboxStore, sub: str, at: datetime) -> tuple[list[Due], list[str]]:
    """The account's timer workflows due by ``at`` (UTC) since each last ran, marked as run up to ``at``; and, for
    a message when none is, each timer workflow's next time (``name (next: T)``). One run per workflow and device,
    at its latest due occurrence (**decided**: missed occurrences are not run one by one)."""
    created = store.workflow_times(sub)
    groups = store.groups(sub)
    devices = list(store.devices(sub))
    due: list[Due] = []
    upcoming: list[str] = []
    for workflow in store.list_workflows(sub):
        trigger = wf.trigger_of(workflow)
        if "on_timer" not in trigger:
            continue
        wid, born = str(workflow["workflow_id"]), _parse_time(created.get(str(workflow["workflow_id"])))
        if born is None:
            continue
        found = _Look()
        rule = trigger["on_timer"]
        _advance(store.resource(TIMER_CURSOR, sub, wid), rule=rule, born=born, at=at, found=found)  # a look first:
        if found.latest is not None:  # most of the time nothing is due; then again, in one write with the move of
            found = _Look()  # the cursor, so that two looks at once (relay server's and a tick) never both run it
            advance = functools.partial(_advance, rule=rule, born=born, at=at, found=found)
            store.update_resource(TIMER_CURSOR, sub, wid, advance)
        if found.latest is not None:
            on = [d for d in devices if matching.installed_on(workflow, d, groups)]
            due.append(Due(workflow, found.latest, found.count, on))
        elif found.error is not None:
            upcoming.append(f"{workflow.get('name')} (cannot be read: {found.error})")
        else:
            nxt = found.next
            upcoming.append(f"{workflow.get('name')} (next: {nxt.isoformat() if nxt else 'never again'})")
    return due, upcoming


def runtime_of(options: Options, store: SandboxStore) -> Runtime:
    """The app's Runtime, made on first use (``options.shared``: what the app's requests share), so that a
    sandbox that plays no conversation never imports the engine."""
    return shared_runtime(options.shared, store, background=options.background)


def shared_runtime(shared: Shared, store: SandboxStore, *, background: bool) -> Runtime:
    with _made:
        if shared.runtime is None:
            shared.runtime = Runtime(store, background=background)
        return shared.runtime


_made = threading.Lock()


def trigger_http(runtime: Runtime, sub: str, workflow: JSONObject, user_id: str, args: JSONObject) -> None:
    """``POST /ibot/workflow/{id}`` (``relay workflow trigger``): start the HTTP workflow for ``user_id`` with
    ``args``. Returns once the app accepted the connection (in-process: once the conversation is over); 400 for
    a workflow that is not HTTP-triggered, 424 ``workflow_unavailable`` when the app cannot be reached (no
    instance is recorded)."""
    store = runtime.store
    event = DeviceEvent("http", {"workflow_id": workflow.get("workflow_id"), "args": args})
    found = matching.starts([workflow], event, user_id, store.groups(sub))
    if not found:
        raise bad_request(
            f"{workflow.get('name')} is a {wf.describe_type(workflow)} workflow, not an HTTP-triggered one "
            "(`relay workflow create http`); `relay sandbox ...` fires the other kinds",
            error="not_http_triggered",
        )
    started_by = f"triggered by {user_id} with args {json.dumps(args, sort_keys=True)}"
    world = world_of(store, sub)
    try:
        the_plan = plan(found[0], user_id, event, PlayOptions(), world, started_by)
    except UsageError as exc:
        raise bad_request(exc.message, error="invalid_options") from None
    options = PlayOptions()
    [run] = runtime.begin(sub, [the_plan], options, None)
    run.connected.wait(options.timeout + 5)
    if run.end.get("outcome") == "unavailable":
        raise HttpError(424, "workflow_unavailable", str(run.end["message"]))
    if not runtime.background and not run.finished.wait(options.max_time + 5):
        run.stopping.set()
        run.finished.wait(2 * STOP_CHECK + 1.0)


def start_due_timers(
    runtime: Runtime, sub: str, at: datetime, options: PlayOptions, out: queue.Queue[JSONObject] | None
) -> tuple[list[Run], list[str]]:
    """Start the account's timer workflows due by ``at``: a run per workflow and device it is installed on.
    Returns the runs (none: nothing due) and, when none, what the timer workflows are waiting for."""
    store = runtime.store
    due, upcoming = due_timers(store, sub, at)
    world = world_of(store, sub)
    groups = store.groups(sub)
    plans = []
    for item in due:
        if not item.devices:
            upcoming.append(f"{item.workflow.get('name')} (due at {item.when.isoformat()}, but installed on no device)")
            continue
        event = DeviceEvent("timer", {"workflow_id": item.workflow.get("workflow_id"), "due": item.when.isoformat()})
        times = "" if item.count == 1 else f" (the latest of {item.count} occurrences due)"
        for device in item.devices:
            for start in matching.starts([item.workflow], event, device, groups):
                started_by = f"started by its timer, due at {item.when.isoformat()}{times}, on {device}"
                try:
                    plans.append(plan(start, device, event, options, world, started_by))
                except UsageError as exc:
                    raise bad_request(exc.message, error="invalid_options") from None
    if not plans:
        return [], upcoming
    return runtime.begin(sub, plans, options, out), upcoming


#: seconds between two looks at the timers while ``relay server`` runs
TICK_INTERVAL = 1.0


def run_timers(runtime: Runtime, *, interval: float | None = None) -> threading.Thread:
    """A thread that starts the timer workflows of every account as they fall due, until the runtime closes.
    A timer due when the sandbox already runs its most conversations is not run (the log says so)."""

    every = TICK_INTERVAL if interval is None else interval

    def main() -> None:
        while not runtime.closing.wait(every):
            for account in runtime.store.accounts():
                sub = str(account["subscriber_id"])
                try:
                    start_due_timers(runtime, sub, datetime.now(UTC), PlayOptions(), None)
                except HttpError as exc:
                    runtime.store.log(sub, f"timer workflows due now were not run: {exc.message}", level="error")
                except Exception as exc:  # noqa: BLE001 - the timers go on; the log says what failed
                    runtime.store.log(sub, f"timers: {type(exc).__name__}: {exc}", level="error")

    thread = threading.Thread(target=main, name="relay-sandbox-timers", daemon=True)
    thread.start()
    return thread
