"""The I/O half of ``relay workflow dev``: read a project's ``[dev]`` settings (``prepare``), run its app as a
process group of its own, wait until it listens, show its output apart from the transcript, play the scenario
against it (``Session``), stop it and every process it started cleanly, and watch the project's files.

``watchfiles`` is imported only by ``watch``; nothing here is imported by ``relay --help``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import inputs, output
from ..core import manifest as mf, workflow as wf
from ..errors import AppMisbehaved, NetworkError, RelayError, UsageError
from . import protocol, runner, scenario as sc
from .flags import ScenarioFlags

MANIFEST = "relay.toml"
DEV_KEYS = ("command", "path", "scenario", "workflow")
#: how long the app has to listen after it was started, and to stop after SIGTERM before SIGKILL
START_TIMEOUT = 30.0
STOP_GRACE = 3.0
TAIL_LINES = 30
#: left out of the app's environment
CLI_SECRETS = ("RELAY_API_KEY", "RELAY_SERVER_TOKEN")


class AppFailed(NetworkError):
    """The app exited before it listened, or never listened (exit 1). The message ends with its last lines."""


# --- the project -------------------------------------------------------------------------------------


@dataclass
class Project:
    """What ``relay.toml`` says about running the app: the ``[dev]`` table and the workflow it serves."""

    directory: Path
    source: str  # the manifest's path, for messages
    command: str | None = None
    path: str | None = None
    scenario: str | None = None
    workflow: dict[str, Any] | None = None  # the body `relay workflow apply` would send for it
    exists: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def read_project(directory: Path) -> Project:
    """``DIRECTORY/relay.toml``, checked: its ``[dev]`` table and the workflow the app serves (the only one,
    or ``[dev] workflow``). A missing file is no error (``--command`` and the rest can say it all)."""
    file = directory / MANIFEST
    project = Project(directory, str(file))
    try:
        raw = inputs.read_bytes(file, inputs.MANIFEST_LIMIT, "a manifest")
    except FileNotFoundError:
        return project
    except OSError as exc:
        raise UsageError(f"{file}: cannot read it: {exc.strerror or exc}") from None
    data = mf.decode(raw, str(file))
    project.exists = True
    dev = data.get("dev", {})
    if not isinstance(dev, dict):
        raise UsageError(f"{file}: dev: expected a table [dev], got {type(dev).__name__}")
    for key, value in dev.items():
        if key not in DEV_KEYS:
            raise UsageError(f"{file}: dev.{key}: unknown key; expected one of {', '.join(DEV_KEYS)}")
        if not isinstance(value, str) or not value.strip():
            raise UsageError(f"{file}: dev.{key}: expected a non-empty string")
    project.command, project.path, project.scenario = dev.get("command"), dev.get("path"), dev.get("scenario")
    workflows = data.get("workflow", {})
    if not isinstance(workflows, dict):
        raise UsageError(f"{file}: workflow: expected tables [workflow.NAME]")
    name = dev.get("workflow")
    if name is not None and name not in workflows:
        raise UsageError(f"{file}: dev.workflow: no [workflow.{name}] in the file")
    if name is None and len(workflows) > 1:
        raise UsageError(
            f"{file}: {len(workflows)} workflows ({', '.join(workflows)}); name the one the app serves with "
            "dev.workflow"
        )
    if name is None and workflows:
        name = next(iter(workflows))
    if name is not None:
        project.workflow = mf.parse_entry(name, workflows[name], str(file)).body
    return project


@dataclass
class Setup:
    """One run's settings, checked: where and how the app starts, the path it serves, the scenario."""

    root: Path
    command: str
    path: str
    port: int | None  # None: a free port at each start
    scenario: Any  # scenario.Scenario
    params: dict[str, Any]
    world: Any  # protocol.World


def prepare(
    directory: str,
    flags: ScenarioFlags,
    command: str | None,
    path: str | None,
    port: int | None,
    check: bool = True,
) -> Setup:
    """Everything checked before the app starts (bad input is a UsageError, with nothing started): the command,
    the path, the scenario and its parameters, from the flags and relay.toml, as ``relay workflow simulate``
    takes them. Run again before each restart in watch mode, so that changes to relay.toml and to a scenario
    file count; ``check`` checks that --port is free."""
    from urllib.parse import urlsplit

    flags.check()
    root = Path(directory)
    if not root.is_dir():
        raise UsageError(
            f"{directory} is not a directory (a project made by `relay workflow init`)", option="DIRECTORY"
        )
    project = read_project(root)
    if command is not None and not command.strip():
        raise UsageError("expected a command that starts the app, got an empty string", option="--command")
    command = command or project.command
    if command is None:
        where = f"{project.source} has no [dev] command" if project.exists else f"{project.source}: no such file"
        raise UsageError(
            f"{where}: give --command (the shell command that starts the app), or run `relay workflow init`",
            option="--command",
        )
    workflow = project.workflow
    if path is None:
        path = project.path
        if path is None and workflow is not None:
            path = urlsplit(wf.uri_of(workflow)).path or None
        if path is None:
            raise UsageError(
                f"no [dev] path in {project.source}: give --path, the path the app serves the workflow at",
                option="--path",
            )
        option = "--path" if project.path is None else f"{project.source}: dev.path"
    else:
        option = "--path"
    if not path.startswith("/") or any(ch.isspace() or ord(ch) < 32 for ch in path):
        raise UsageError(f"expected a URL path such as /auto-answer, got {path!r}", option=option)

    suggested: str | None = None
    defaults: dict[str, Any] = {}
    variables: dict[str, Any] = {}
    if workflow is not None:
        suggested, defaults, _note = sc.defaults_from_workflow(workflow)
        variables = dict(wf.args_of(workflow))
    chosen = flags.load()
    if chosen is not None:
        pass
    elif project.scenario is not None:
        named = project.scenario
        if named.endswith(".toml") or "/" in named:
            chosen = runner.load_file(str(root / named))
        else:
            try:
                chosen = runner.load_builtin(named)
            except UsageError as err:
                raise UsageError(
                    f"{project.source}: dev.scenario: {err.message.removeprefix('--scenario: ')}"
                ) from None
    elif suggested is not None:
        chosen = runner.load_builtin(suggested)
    else:
        raise UsageError(
            f"expected --scenario NAME ({', '.join(runner.builtin_names())}), --scenario-file FILE, or [dev] scenario in {project.source}",
            option="--scenario",
        )
    world = runner.demo_world()
    params = flags.resolve(chosen, defaults, variables, world)
    return Setup(root, command, path, check_port(port) if port is not None and check else port, chosen, params, world)


# --- ports --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


def check_port(port: int) -> int:
    """``--port``: a port nothing on this machine listens on yet (else the app could not bind it, and what
    answers there would not be the app)."""
    if not 1 <= port <= 65535:
        raise UsageError(f"expected a port from 1 to 65535, got {port}", option="--port")
    with socket.socket() as s:
        try:
            s.bind(("", port))
        except OSError as exc:
            raise UsageError(
                f"port {port} is not free on this machine ({exc.strerror or exc}); choose another, or leave --port out for a free one",
                option="--port",
            ) from None
    return port


def _accepts(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family) as s:
            s.settimeout(0.5)
            s.connect((host, port))
        return True
    except OSError:
        return False


# --- the app ------------------------------------------------------------------------------------------


class App:
    """The app, started by the shell in ``cwd`` with ``PORT`` set, as the leader of a process group of its own
    (so Ctrl-C at the terminal does not reach it, and stopping it reaches every process it started).

    Each line it prints goes to ``show(stream, line)`` and into a tail kept for error messages."""

    def __init__(self, command: str, cwd: Path, port: int, show: Callable[[str, str], None]) -> None:
        self.command, self.cwd, self.port, self.show = command, cwd, port, show
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.proc: subprocess.Popen[bytes] | None = None
        self._readers: list[threading.Thread] = []

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def start(self) -> None:
        # the app runs as it would on its host: without the CLI's own credentials
        env = {k: v for k, v in os.environ.items() if k not in CLI_SECRETS}
        env["PORT"] = str(self.port)
        options: dict[str, Any] = {}
        if sys.platform == "win32":  # pragma: no cover - Windows
            options["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        else:
            options["start_new_session"] = True
        self.tail.clear()
        try:
            self.proc = subprocess.Popen(
                self.command,
                shell=True,
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                **options,
            )
        except OSError as exc:
            raise AppFailed(f"cannot start `{self.command}` in {self.cwd}: {exc.strerror or exc}") from None
        self._readers = [
            threading.Thread(target=self._read, args=(stream, name), daemon=True)
            for stream, name in ((self.proc.stdout, "stdout"), (self.proc.stderr, "stderr"))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: Any, name: str) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.tail.append(line)
            self.show(name, line)
        stream.close()

    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def wait_listening(self, timeout: float | None = None) -> str:
        """The loopback address the app accepts connections on, once it does. Raises AppFailed when it exits
        first or takes longer than ``timeout`` (default START_TIMEOUT)."""
        timeout = START_TIMEOUT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            for host in ("127.0.0.1", "::1"):
                if _accepts(host, self.port):
                    return host
            code = self.exit_code()
            if code is not None:
                self._drain()
                raise AppFailed(
                    self._failure(f"the app exited with code {code} before it listened on port {self.port}"),
                    hint=self._hint(code),
                )
            if time.monotonic() > deadline:
                self.stop()
                raise AppFailed(
                    self._failure(
                        f"the app did not listen on port {self.port} within {timeout:g} s (it must listen on $PORT)"
                    )
                )
            time.sleep(0.05)

    def _drain(self) -> None:
        for reader in self._readers:
            reader.join(2)

    def _failure(self, what: str) -> str:
        said = "\n".join(f"  | {line}" for line in self.tail)
        return f"{what}; its last lines:\n{said}" if said else f"{what}; it printed nothing"

    def _hint(self, code: int) -> str | None:
        if code == 127:
            import shlex

            try:
                program = shlex.split(self.command)[0]
            except (ValueError, IndexError):
                program = ""
            if "/" in program and not (self.cwd / program).exists():
                return (
                    f"{program} does not exist in {self.cwd}: install the project's dependencies as its README.md says"
                )
            return f"the shell could not find the command; check `{self.command}` ([dev] command in relay.toml, or --command)"
        if (self.cwd / "package.json").is_file() and not (self.cwd / "node_modules").exists():
            return f"run npm install in {self.cwd} first"
        if "No module named 'relay'" in "\n".join(self.tail):
            return "install relay-py as README.md says (pip install -r requirements.txt in the project's virtual environment)"
        return None

    def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM to the app's whole process group, then SIGKILL to whatever is left after ``grace`` seconds.
        Returns once no process of the group is left."""
        proc = self.proc
        if proc is None:
            return
        if os.name != "posix":  # pragma: no cover - Windows: the whole tree, at once
            subprocess.run(["taskkill", "/T", "/F", "/PID", str(proc.pid)], capture_output=True, check=False)
            proc.wait()
            self._drain()
            return
        _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            proc.poll()  # reap the leader, so that only living processes keep the group
            if not _group_alive(proc.pid):
                break
            time.sleep(0.02)
        else:
            _signal_group(proc.pid, signal.SIGKILL)
            while _group_alive(proc.pid) and time.monotonic() < deadline + 5:
                proc.poll()
                time.sleep(0.02)
        proc.wait()
        self._drain()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    """Whether a living process is left in the group. A process that has exited but is not yet reaped (a
    zombie: an orphan waits for init to reap it, which can take a while in a container) does not count."""
    members = group_members(pgid)
    if members is not None:
        return bool(members)
    try:  # no /proc: kill(0) also counts zombies, so this may wait for init to reap them
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_members(pgid: int) -> list[int] | None:
    """The living (not zombie) processes of process group ``pgid``, from /proc; None where there is no /proc."""
    if not os.path.exists("/proc/self/stat"):
        return None
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()  # after "pid (comm) ": state, ppid, pgrp, ...
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            members.append(int(entry.name))
    return members


# --- signals ------------------------------------------------------------------------------------------


class stop_signals:  # noqa: N801 - a context manager used like a function
    """SIGTERM and SIGHUP interrupt like Ctrl-C while ``relay workflow dev`` runs, so that its clean-up (stopping
    the app) runs for them too. Only in the main thread, where signal handlers can be set."""

    def __enter__(self) -> stop_signals:
        self.saved: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for name in ("SIGTERM", "SIGHUP"):
                sig = getattr(signal, name, None)
                if sig is not None:
                    self.saved[sig] = signal.signal(sig, _interrupt)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class shielded:  # noqa: N801
    """Ctrl-C, SIGTERM and SIGHUP wait while the app is being stopped (a second Ctrl-C must not leave it
    running); a signal that came meanwhile is raised afterwards."""

    def __enter__(self) -> shielded:
        self.saved: dict[int, Any] = {}
        self.pending: list[int] = []
        if threading.current_thread() is threading.main_thread():
            for name in ("SIGINT", "SIGTERM", "SIGHUP"):
                sig = getattr(signal, name, None)
                if sig is not None:
                    self.saved[sig] = signal.signal(sig, lambda signum, frame: self.pending.append(signum))
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)
        if self.pending and exc[0] is None:
            raise KeyboardInterrupt


# --- watching -----------------------------------------------------------------------------------------


def watch(directory: Path, *, idle: Callable[[], None]) -> Iterator[list[str]]:
    """The files of ``directory`` that changed, relative to it, each time some did (changes are grouped until
    none came for a moment; node_modules, .git, __pycache__, .venv and editors' temporary files are ignored).
    ``idle()`` runs about every half second while nothing changes. Ctrl-C raises KeyboardInterrupt."""
    import watchfiles

    root = directory.resolve()
    for changes in watchfiles.watch(
        root, debounce=1600, step=100, rust_timeout=500, yield_on_timeout=True, raise_interrupt=True
    ):
        if not changes:
            idle()
            continue
        names = set()
        for _change, path in changes:
            try:
                names.add(str(Path(path).relative_to(root)))
            except ValueError:
                names.add(path)
        yield sorted(names)


# --- the terminal -------------------------------------------------------------------------------------

_lock = threading.Lock()


def colors(stream: Any) -> bool:
    if "NO_COLOR" in os.environ:
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def write(stream: Any, text: str) -> None:
    """One whole line (or several) on ``stream``, never interleaved with another thread's."""
    with _lock:
        stream.write(text)
        stream.flush()


def app_line_printer(mode: str) -> Callable[[str, str], None]:
    """``show`` for App: the app's lines on stderr, prefixed ``app |`` and dimmed on a terminal. ``mode``:
    all, stderr (only what the app wrote to its stderr), none."""
    dim = colors(sys.stderr)

    def show(stream: str, line: str) -> None:
        if mode == "none" or (mode == "stderr" and stream != "stderr"):
            return
        text = f"  app | {line}"
        write(sys.stderr, f"\x1b[2m{text}\x1b[0m\n" if dim else f"{text}\n")

    return show


# --- one project's session ---------------------------------------------------------------------------


class Session:
    """The app of one project, started and stopped, and the scenario played against it. ``emit`` prints one
    transcript record; ``app_output`` says which of the app's lines are shown (all, stderr, none)."""

    def __init__(
        self,
        setup: Setup,
        timeout: float,
        emit: Callable[[Any], None],
        app_output: str,
        max_time: float | None = protocol.DEFAULT_MAX_TIME,
    ) -> None:
        self.s = setup
        self.timeout = timeout
        self.max_time = max_time
        self.emit = emit
        self.show = app_line_printer(app_output)
        self.app_output = app_output
        self.app: App | None = None
        self.uri = ""
        self.exit_reported = False

    def start(self) -> None:
        """Start the app and wait until it listens (AppFailed, exit 1, when it does not)."""
        self.uri = ""
        port = self.s.port or free_port()
        self.app = App(self.s.command, self.s.root, port, self.show)
        output.message(f"starting `{self.s.command}` in {self.s.root} with PORT={port}")
        self.app.start()
        self.exit_reported = False
        host = self.app.wait_listening()
        self.uri = f"ws://{'[::1]' if host == '::1' else host}:{port}{self.s.path}"

    def stop(self) -> None:
        """Stop the app and every process it started; Ctrl-C waits until that is done."""
        if self.app is not None:
            with shielded():
                self.app.stop()
            self.app = None

    def play(self) -> None:
        """One run of the scenario against the app; raises AppMisbehaved (6) or NetworkError (1)."""
        chosen, params = self.s.scenario, self.s.params
        output.message(f"simulating {chosen.name} against {self.uri} (device {params['device_name']})")
        outcome = runner.run(
            self.uri, chosen, params, timeout=self.timeout, emit=self.emit, world=self.s.world, max_time=self.max_time
        )
        if outcome.failure is not None:
            raise AppMisbehaved(
                f"scenario {chosen.name}: {outcome.failure.text()}{self._tail_if_hidden()}", hint=outcome.failure.hint
            )
        output.success(
            f"scenario {chosen.name} passed: the app terminated cleanly ({outcome.messages} messages, {outcome.seconds:.1f}s)"
        )

    def _tail_if_hidden(self) -> str:
        if self.app_output == "all" or self.app is None or not self.app.tail:
            return ""
        return "; the app's last lines:\n" + "\n".join(f"  | {line}" for line in self.app.tail)

    def check_alive(self) -> None:
        """Say so, once, when the app has exited while nothing changed."""
        if self.app is not None and not self.exit_reported:
            code = self.app.exit_code()
            if code is not None:
                self.exit_reported = True
                output.warning(f"the app exited with code {code}; it starts again on the next change")


def restart(session: Session, reload: Callable[[], Setup] | None = None) -> None:
    """Restart the app and play the scenario once, in watch mode: a failure is reported, not raised.
    ``reload()`` reads relay.toml and the scenario again (after the app stopped, so its port is free)."""
    session.stop()
    try:
        if reload is not None:
            session.s = reload()
        session.start()
        session.play()
    except RelayError as err:
        output.message(f"error: {err.message}", style="red")
        if err.hint:
            output.message(f"hint: {err.hint}")
    up = f"; the app stays up at {session.uri}" if session.app is not None and session.app.exit_code() is None else ""
    output.message(f"watching {session.s.root} for changes (Ctrl-C stops){up}")
