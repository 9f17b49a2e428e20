"""``relay workflow dev --device``: the project's app, registered for the session on devices of a sandbox or of
Relay, and deleted after.

- **Where it points.** On a sandbox (the in-process one, or a ``relay server``): at the app's loopback address
  (``ws://127.0.0.1:PORT/path``), so ``relay sandbox press ...`` from another terminal reaches the app. On Relay:
  at a public ``wss://`` address, ``--public-url`` or the one the ``--tunnel`` command gives (``tunnel.py``),
  checked first with a WebSocket handshake at the workflow's path (TLS verified).
- **What it registers.** The project's workflow from relay.toml (``core.devreg.registration``): named
  ``NAME (dev)``, with the project's marker in its args, installed only on the devices (or the group) given.
- **While it runs.** The workflow's log is printed as it comes (``LogFollower``), with the app's output; a change
  to a source file restarts the app and keeps the registration; a change to relay.toml that changes the
  registration updates it (a POST with its workflow_id).
- **Cleanup.** Ctrl-C, SIGTERM, SIGHUP, the app exiting or the tunnel exiting end the session: the registration
  is deleted first, then the app and the tunnel are stopped. After a SIGKILL or a crash, the next session finds
  the registration by its name and marker (``core.devreg``) and reuses it; ``relay workflow dev --cleanup``
  deletes them. One session per project and target at a time (``SessionLock``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from .. import output
from ..core import devreg, sandbox as matching, triggers, workflow as wf
from ..errors import NetworkError, NotFoundError, RelayError, UsageError
from ..jsontypes import JSONObject, JSONValue
from . import appproc, devloop
from .devloop import Setup, say

if TYPE_CHECKING:
    from ..api.client import RelayClient
    from ..state import State, Target
    from .tunnel import Tunnel

#: seconds between two reads of the in-process sandbox's log (it has no stream to follow)
LOG_POLL = 0.5
#: seconds before the log stream is opened again after it ended
LOG_RECONNECT = 2.0
#: log entries remembered, so that one a server sends again after a reconnection is not printed twice
LOG_SEEN = 10_000
#: seconds the log's thread is given to end when the session ends
STOP_WAIT = 0.2
#: seconds one WebSocket handshake through the public address may take
PROBE_TIMEOUT = 5.0
#: seconds --public-url has to reach the app (a tunnel has --tunnel-timeout)
PUBLIC_TIMEOUT = 10.0


# --- where the registration goes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """Where the registration is installed: device ids, or one group (its urn); ``names`` for messages."""

    devices: tuple[str, ...] = ()
    group: str | None = None
    names: tuple[str, ...] = ()
    first_name: str = ""  # the first device's name (or id), for the `relay sandbox ...` hint

    def describe(self) -> str:
        return ", ".join(self.names)


def placement(client: RelayClient, subscriber: str, given: Sequence[str], sandbox: bool) -> Placement:
    """``--device`` values → device ids (an id, or a name on a sandbox) or one group (its id or name). Exit 3 for
    one the account does not have, 2 for devices and a group together."""
    named = client.sandbox_devices(subscriber) if sandbox else {}
    ids = list(named) if sandbox else client.device_ids(subscriber)
    known = set(ids)
    by_name = {name.casefold(): device_id for device_id, name in named.items()}
    groups: list[JSONObject] | None = None
    devices: dict[str, str] = {}  # id → how messages name it
    chosen: list[tuple[str, str]] = []  # (urn, name)
    for raw in given:
        value = wf.validate_id(raw, "--device", "a device id or name, or a group")
        device_id = value if value in known else by_name.get(value.casefold())
        if device_id is not None:
            name = named.get(device_id)
            devices[device_id] = f"{name} ({device_id})" if name else device_id
            continue
        if groups is None:
            groups = [g for g in client.groups(subscriber) if isinstance(g, dict)]
        group = _group(groups, value)
        if group is None:
            kinds = "device (an id or a name)" if sandbox else "device id"
            listing = "`relay devices` and `relay group list` list them"
            raise NotFoundError(
                f"no {kinds} or group {value!r} in account {subscriber}",
                hint=listing if sandbox else f"Relay's API knows devices by id: {listing}",
            )
        chosen.append((wf.group_urn(str(group.get("group_id"))), f"group {group.get('name') or group.get('group_id')}"))
    if chosen and devices:
        raise UsageError(
            "a workflow is installed on a list of devices or on one group, not both; give devices, or one group",
            option="--device",
        )
    if len({urn for urn, _ in chosen}) > 1:
        raise UsageError("a workflow is installed on one group at most; give one", option="--device")
    if chosen:
        return Placement(group=chosen[0][0], names=(chosen[0][1],), first_name="")
    first = next(iter(devices))
    return Placement(tuple(devices), None, tuple(devices.values()), named.get(first, first))


def _group(groups: list[JSONObject], value: str) -> JSONObject | None:
    for group in groups:
        group_id = str(group.get("group_id") or "")
        if value in (group_id, wf.group_urn(group_id)) or wf.group_urn(value) == wf.group_urn(group_id):
            return group
    wanted = value.casefold()
    matches = [g for g in groups if str(g.get("name") or "").casefold() == wanted]
    return matches[0] if len(matches) == 1 else None


# --- one session per project and target -------------------------------------------------------------------


class SessionLock:
    """An exclusive lock on a file of relay's data directory, per project and target, held while a session runs
    (or --cleanup does its work): a second session of the same project waits for nothing and is refused. The
    kernel lets go of it however the process ends, so a SIGKILL leaves no stale lock, only a stale
    registration, which the next session knows by its marker. Where there is no fcntl (Windows) there is no
    lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        import os

        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        import os

        if self._fd is not None:
            os.close(self._fd)  # closing lets go of the lock
            self._fd = None


@contextmanager
def locked(path: Path, what: str) -> Iterator[None]:
    lock = SessionLock(path)
    if not lock.acquire():
        raise UsageError(
            f"another `relay workflow dev --device` runs for this project on {what}; nothing was changed",
            hint="stop it first (Ctrl-C in its terminal): it deletes its registration as it ends",
        )
    try:
        yield
    finally:
        lock.release()


# --- the workflow's log, as it comes --------------------------------------------------------------------------


class LogFollower:
    """Prints the registered workflow's log entries (``show(entry)``) as they come, in a thread of its own with a
    client of its own: the in-process sandbox's log is read again every LOG_POLL seconds (it has no stream);
    a server's is streamed, and opened again when it ends. Entries from before the session are not printed."""

    def __init__(
        self,
        make_client: Callable[[], RelayClient],
        subscriber: str,
        workflow_id: str,
        show: Callable[[JSONValue], None],
        *,
        poll: bool,
    ) -> None:
        self.make_client, self.subscriber, self.workflow_id = make_client, subscriber, workflow_id
        self.show, self.poll = show, poll
        self.stopped = threading.Event()
        self.client: RelayClient | None = None
        self.since = datetime.now(UTC) - timedelta(seconds=2)
        self._seen: deque[str] = deque(maxlen=LOG_SEEN)
        self._seen_set: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="relay-dev-log", daemon=True)
        self._warned = False

    def start(self) -> None:
        self.client = self.make_client()
        self._thread.start()

    def stop(self) -> None:
        """Nothing more is printed from now on. A read of the stream in progress may stay blocked until the
        server sends something: the thread is a daemon, left to end with the process, so the session's cleanup
        does not wait for the server."""
        self.stopped.set()
        if self._thread.is_alive():
            self._thread.join(STOP_WAIT)
        if not self._thread.is_alive() and self.client is not None:
            self.client.close()

    def _run(self) -> None:
        assert self.client is not None
        try:
            self._poll(self.client) if self.poll else self._stream(self.client)
        except Exception as exc:  # noqa: BLE001 - the session goes on without its log
            if not self.stopped.is_set():
                text = exc.message if isinstance(exc, RelayError) else f"{type(exc).__name__}: {exc}"
                say(output.warning, f"the workflow's log is not followed any more: {text}")

    def _entries(self, client: RelayClient) -> list[JSONValue]:
        return list(client.workflow_logs(self.subscriber, workflow_id=self.workflow_id))

    def _poll(self, client: RelayClient) -> None:
        seen = len(self._entries(client))
        while not self.stopped.wait(LOG_POLL):
            entries = self._entries(client)
            for entry in entries[seen:]:
                if self.stopped.is_set():
                    return
                self.show(entry)
            seen = len(entries)

    def _stream(self, client: RelayClient) -> None:
        import json

        while not self.stopped.is_set():
            try:
                for entry in client.workflow_logs(self.subscriber, workflow_id=self.workflow_id):
                    if self.stopped.is_set():
                        return
                    key = json.dumps(entry, sort_keys=True, default=str)
                    if key in self._seen_set or self._before(entry):
                        continue
                    if len(self._seen) == self._seen.maxlen:
                        self._seen_set.discard(self._seen[0])
                    self._seen.append(key)
                    self._seen_set.add(key)
                    self.show(entry)
            except RelayError as err:
                if self.stopped.is_set():
                    return
                if not self._warned:
                    self._warned = True
                    say(output.warning, f"the workflow's log stream: {err.message}; opening it again")
            if self.stopped.wait(LOG_RECONNECT):
                return

    def _before(self, entry: JSONValue) -> bool:
        """An entry from before the session (a server sends what it has first)."""
        stamp = entry.get("timestamp") if isinstance(entry, dict) else None
        if not isinstance(stamp, str):
            return False
        try:
            when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return False
        return when.tzinfo is not None and when < self.since


# --- the session -----------------------------------------------------------------------------------------------


class AppExited(appproc.AppFailed):
    """The app exited by itself while it was registered: the session ends (exit 1)."""


@dataclass
class Options:
    """What the command line says about the session (checked)."""

    public_url: str | None = None  # the base, from core.devreg.public_base
    tunnel: str | None = None  # the tunnel's command, {port} replaced
    tunnel_timeout: float = 30.0
    args: JSONObject | None = None  # -a/-b/-r
    app_output: str = "all"


class DeviceSession:
    """One ``relay workflow dev --device`` session: ``run`` returns (or raises) once it has ended, its
    registration deleted."""

    def __init__(
        self,
        st: State,
        setup: Setup,
        subscriber: str,
        target: Target,
        where: Placement,
        mark: str,
        options: Options,
        show_log: Callable[[JSONValue], None],
        reload: Callable[[], Setup],
    ) -> None:
        self.st, self.subscriber, self.target, self.where, self.mark = st, subscriber, target, where, mark
        self.options, self.show_log, self.reload = options, show_log, reload
        self.session = devloop.Session(setup, 10.0, lambda record: None, options.app_output, once=False)
        self.tunnel: Tunnel | None = None
        self.base: str | None = options.public_url
        self.registered: JSONObject | None = None  # the body saved, with its workflow_id
        self.stale: list[JSONObject] = []
        self.follower: LogFollower | None = None
        self.app_ours = False  # the app runs because we started it and did not stop it

    @property
    def client(self) -> RelayClient:
        return self.st.client()

    @property
    def name(self) -> str:
        workflow = self.session.s.workflow or {}
        return devreg.dev_name(str(workflow.get("name")))

    # --- the steps

    def run(self) -> None:
        try:
            self._start()
            for changed in devloop.watch(self.session.s.root, lambda: self.session.s.watch, idle=self._idle):
                shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
                say(output.message, f"changed: {shown}; restarting the app")
                self._restart()
        finally:
            self._end()

    def _start(self) -> None:
        listing = self.client.list_workflows(self.subscriber)
        self.stale = devreg.ours(listing, self.mark)
        if self.stale:
            ids = ", ".join(str(w.get("workflow_id")) for w in self.stale)
            what = "reusing it" if len(self.stale) == 1 else "reusing the first, deleting the others"
            say(
                output.message,
                f"found {len(self.stale)} dev registration{'s' if len(self.stale) != 1 else ''} of this project "
                f"left by an earlier session ({ids}); {what}",
            )
        started = time.monotonic()
        if self.options.tunnel is not None:
            from .tunnel import Tunnel

            self.tunnel = Tunnel(self.options.tunnel, self.session.s.root, self._port())
            say(output.message, f"starting the tunnel `{self.tunnel.command}`")
            self.tunnel.start()
        self._start_app()
        if self.tunnel is not None:
            left = self.options.tunnel_timeout - (time.monotonic() - started)
            self.base = self.tunnel.wait_url(max(0.1, left), told=self.options.tunnel_timeout)
            say(output.message, f"the tunnel's public address: {self.base.replace('wss://', 'https://', 1)}")
        body = self._body()
        if self.base is not None:
            bound = self.options.tunnel_timeout - (time.monotonic() - started) if self.tunnel else PUBLIC_TIMEOUT
            self._check_public(wf.uri_of(body), bound)
        self._warn_competing(body, listing)
        self._save(body)
        self._ready()
        self.follower = LogFollower(
            self.st.new_client,
            self.subscriber,
            str(self.registered["workflow_id"]) if self.registered else "",
            self.show_log,
            poll=self.st.is_local,
        )
        self.follower.start()

    def _port(self) -> int:
        port = self.session.s.port
        assert port is not None  # fixed by the command for the whole session
        return port

    def _start_app(self) -> None:
        self.session.start()
        self.app_ours = True

    def _uri(self, setup: Setup) -> str:
        if self.base is not None:
            return devreg.public_uri(self.base, setup.path)
        host = self.session.uri.split("//", 1)[1].split("/", 1)[0] if self.session.uri else f"127.0.0.1:{setup.port}"
        return f"ws://{host}{setup.path}"

    def _body(self, setup: Setup | None = None) -> JSONObject:
        setup = setup or self.session.s
        if setup.workflow is None:
            raise UsageError(
                f"{setup.source} has no [workflow.NAME]: --device registers the project's workflow, so relay.toml "
                "must declare it (as `relay workflow init` writes it)",
                option="--device",
            )
        workflow_id = str(self.registered["workflow_id"]) if self.registered else None
        return devreg.registration(
            setup.workflow,
            uri=self._uri(setup),
            mark=self.mark,
            devices=self.where.devices,
            group=self.where.group,
            args=self.options.args,
            workflow_id=workflow_id,
        )

    def _check_public(self, uri: str, bound: float) -> None:
        """A WebSocket handshake at ``uri`` (through the tunnel or the proxy, TLS verified) until one is accepted,
        within ``bound`` seconds: else NetworkError, with nothing registered."""
        from ..api.probe import probe

        deadline = time.monotonic() + max(0.5, bound)
        say(output.message, f"checking that {uri} reaches the app (a WebSocket handshake)")
        while True:
            left = deadline - time.monotonic()
            reason = probe([uri], timeout=max(0.2, min(PROBE_TIMEOUT, left)))[uri]
            if reason is None:
                return
            if time.monotonic() + 0.5 >= deadline:
                break
            time.sleep(0.5)
        via = "the tunnel" if self.tunnel is not None else "--public-url"
        raise NetworkError(
            f"{uri} does not reach the app through {via}: {reason}; nothing was registered",
            hint="the public address must forward to the app's port on this machine, with a certificate Relay "
            "trusts (SSL_CERT_FILE adds your own CA for this check)",
        )

    def _warn_competing(self, body: JSONObject, listing: Sequence[JSONObject]) -> None:
        """Say which other workflows on the devices have the same trigger (never touched)."""
        trigger = {k: v for k, v in wf.trigger_of(body).items() if k != "start"}
        others = [
            w
            for w in listing
            if not devreg.is_ours(w, self.mark)
            and {k: v for k, v in wf.trigger_of(w).items() if k != "start"} == trigger
        ]
        if not others:
            return
        groups: list[JSONObject] = []
        if any(wf.installed_by_rule(w) and not wf.installed_on_all(w) for w in others):
            groups = [g for g in self.client.groups(self.subscriber) if isinstance(g, dict)]
        devices = self.where.devices
        for other in others:
            if self.where.group is not None or any(matching.installed_on(other, d, groups) for d in devices):
                say(
                    output.warning,
                    f"{other.get('name')} ({triggers.describe(trigger)}, installed on "
                    f"{wf.describe_install(other) or 'no device'}) has the same trigger: it runs too, and is not "
                    "changed by dev",
                )

    def _save(self, body: JSONObject) -> None:
        reuse = self.stale[0] if self.stale and not self.registered else None
        if reuse is not None:
            body = {"workflow_id": reuse["workflow_id"], **body}
        saved = self.client.save_workflow(self.subscriber, body)
        mine = next((w for w in saved if w.get("name") == body["name"]), saved[0])
        self.registered = {**body, "workflow_id": mine["workflow_id"]}
        if reuse is not None:
            self.stale = self.stale[1:]
            for extra in list(self.stale):
                self._delete(extra, "left by an earlier session")
                self.stale.remove(extra)

    def _ready(self) -> None:
        assert self.registered is not None
        uri = wf.uri_of(self.registered)
        say(
            output.success,
            f"registered {self.name} ({self.registered['workflow_id']}) on {self.where.describe()} in "
            f"{self.target.where}, at {uri}",
        )
        if self.target.sandbox and not self.target.here and self.base is None:
            say(
                output.warning,
                f"{self.target.where} connects to {uri}: it reaches this app only if it runs on this machine "
                "(else give --public-url)",
            )
        hint = None
        if self.target.sandbox and self.where.devices:
            event = devreg.sandbox_event(self.registered, self.where.first_name)
            hint = f"`{event}` in another terminal runs it" if event else None
        elif not self.target.sandbox:
            hint = "trigger it on the device"
        text = "ready" + (f": {hint}" if hint else "")
        say(output.message, f"{text}; its log and the app's output follow here; Ctrl-C ends the session and deletes it")

    def _idle(self) -> None:
        app = self.session.app
        if self.app_ours and app is not None:
            code = app.exit_code()
            if code is not None:
                app.quiet()
                raise AppExited(app.failure(f"the app exited with code {code}; the session ends"))
        if self.tunnel is not None:
            code = self.tunnel.exit_code()
            if code is not None:
                from .tunnel import TunnelFailed

                self.tunnel.proc.quiet()
                raise TunnelFailed(self.tunnel.proc.failure(f"the tunnel exited with code {code}; the session ends"))

    def _restart(self) -> None:
        """After a change: the app again (same port), and the registration updated when relay.toml changed it.
        What fails is said; the registration stays, and the next change tries again."""
        self.session.stop()
        self.app_ours = False
        try:
            setup = self.reload()
            body = self._body(setup)
            self.session.s = setup
            self._start_app()
            if self.registered is not None and not devreg.same(body, self.registered):
                if self.base is not None and wf.uri_of(body) != wf.uri_of(self.registered):
                    self._check_public(wf.uri_of(body), PUBLIC_TIMEOUT)
                self._save(body)
                say(output.message, f"relay.toml changed: updated {self.name} ({self.registered['workflow_id']})")
            say(output.message, "the app is up again; the registration stays")
        except RelayError as err:
            self.session.stop()
            self.app_ours = False
            say(lambda text: output.message(text, style="red"), f"error: {err.message}")
            if err.hint:
                say(output.message, f"hint: {err.hint}")
            say(
                output.message,
                f"the app is down until the next change; a device that starts {self.name} meanwhile says it is not "
                "available",
            )

    def _delete(self, workflow: JSONObject, why: str) -> bool:
        from ..errors import ApiNotFoundError

        wid = str(workflow.get("workflow_id"))
        try:
            self.client.delete_workflow(self.subscriber, wid)
        except ApiNotFoundError:
            pass  # gone already
        except RelayError as err:
            say(
                output.warning,
                f"could not delete {workflow.get('name')} ({wid}): {err.message}; `relay workflow dev --cleanup` "
                f"in {self.session.s.root} deletes it",
            )
            return False
        say(output.message, f"deleted {workflow.get('name')} ({wid}) from {self.target.where} ({why})")
        return True

    def _end(self) -> None:
        """Delete the registration (or what an earlier session left, when this one registered nothing), then
        stop the app and the tunnel. A second Ctrl-C waits until this is done."""
        with devloop.shielded():
            if self.follower is not None:
                self.follower.stop()
            if self.registered is not None:
                self._delete(self.registered, "the session ended")
                self.registered = None
            for left in self.stale:
                self._delete(left, "left by an earlier session")
            self.stale = []
            self.session.stop()
            if self.tunnel is not None:
                self.tunnel.stop()


# --- --cleanup ------------------------------------------------------------------------------------------------


def cleanup(client: RelayClient, subscriber: str, mark: str) -> list[JSONObject]:
    """Delete the project's dev registrations (``core.devreg``'s rule: name and marker) on the target; the ones
    deleted. Nothing else is touched."""
    from ..errors import ApiNotFoundError

    removed = []
    for workflow in devreg.ours(client.list_workflows(subscriber), mark):
        try:
            client.delete_workflow(subscriber, str(workflow["workflow_id"]))
        except ApiNotFoundError:
            continue
        removed.append(workflow)
    return removed
