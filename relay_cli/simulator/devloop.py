"""The I/O half of ``relay workflow dev``: read a project's ``[dev]`` settings, run its app as a process group
of its own, wait until it listens, show its output apart from the transcript, stop it (and every process it
started) cleanly, and watch the project's files.

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

from ..errors import NetworkError, UsageError

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
    import tomllib

    from ..core import manifest as mf

    file = directory / MANIFEST
    project = Project(directory, str(file))
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        return project
    except OSError as exc:
        raise UsageError(f"{file}: cannot read it: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise UsageError(f"{file}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{file}: invalid TOML: {exc}") from None
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
            raise UsageError(f"port {port} is not free on this machine ({exc.strerror or exc}); choose another, or leave --port out for a free one", option="--port") from None
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
        if os.name == "posix":
            options["start_new_session"] = True
        else:  # pragma: no cover - Windows
            options["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
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
                raise AppFailed(self._failure(f"the app exited with code {code} before it listened on port {self.port}"), hint=self._hint(code))
            if time.monotonic() > deadline:
                self.stop()
                raise AppFailed(self._failure(f"the app did not listen on port {self.port} within {timeout:g} s (it must listen on $PORT)"))
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
                return f"{program} does not exist in {self.cwd}: install the project's dependencies as its README.md says"
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
