"""The I/O half of ``relay workflow dev``: read a project's ``[dev]`` settings (``prepare``), run its app
(``appproc``: its environment, its keeper, when it listens, its output), play the scenario against it and
show the conversation (``Session``), and watch the project's source files.

``watchfiles`` is imported only by ``watch``; nothing here is imported by ``relay --help``.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from .. import inputs, output
from ..core import manifest as mf, workflow as wf
from ..errors import AppMisbehaved, NetworkError, OutputError, RelayError, UsageError
from ..jsontypes import JSONObject
from . import appproc, protocol, runner, scenario as sc
from .appproc import check_port, free_port
from .flags import ScenarioFlags

if TYPE_CHECKING:
    from types import FrameType

MANIFEST = "relay.toml"
DEV_KEYS = ("command", "path", "scenario", "workflow", "watch", "pass_env")
_LIST_KEYS = ("watch", "pass_env")
#: the files whose change restarts the app, unless [dev] watch names others: source, configuration and
#: scenario files. What an app writes as it runs (logs, databases, uploads) is not among them, so it does not
#: restart itself
DEFAULT_WATCH = (
    "*.js", "*.mjs", "*.cjs", "*.ts", "*.mts", "*.cts", "*.jsx", "*.tsx", "*.py", "*.json", "*.toml", "*.yaml",
    "*.yml", ".env",
)  # fmt: skip
#: never watched, whatever [dev] watch says (with watchfiles' own: .git, node_modules, __pycache__, .venv, ...)
IGNORED_DIRS = ("venv",)
#: --app-output: the app's lines printed as they come (all, stderr), or only its last ones when it fails
APP_OUTPUT = ("failure", "stderr", "all")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# --- the project -------------------------------------------------------------------------------------


@dataclass
class Project:
    """What ``relay.toml`` says about running the app: the ``[dev]`` table and the workflow it serves."""

    directory: Path
    source: str  # the manifest's path, for messages
    command: str | None = None
    path: str | None = None
    scenario: str | None = None
    workflow: JSONObject | None = None  # the body `relay workflow apply` would send for it
    watch: tuple[str, ...] = DEFAULT_WATCH
    pass_env: tuple[str, ...] = ()
    exists: bool = False


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
        if key in _LIST_KEYS:
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                raise UsageError(f"{file}: dev.{key}: expected a list of non-empty strings")
        elif not isinstance(value, str) or not value.strip():
            raise UsageError(f"{file}: dev.{key}: expected a non-empty string")
    project.command, project.path, project.scenario = dev.get("command"), dev.get("path"), dev.get("scenario")
    if "watch" in dev:
        if not dev["watch"]:
            raise UsageError(f'{file}: dev.watch: expected at least one pattern such as "*.js"')
        project.watch = tuple(dev["watch"])
    for name in dev.get("pass_env", []):
        if not _ENV_NAME.fullmatch(name):
            raise UsageError(f"{file}: dev.pass_env: {name!r} is not the name of an environment variable")
        if not name.upper().startswith(appproc.HELD_BACK):
            raise UsageError(
                f"{file}: dev.pass_env: {name} reaches the app anyway: only {appproc.HELD_BACK}* variables are held "
                "back"
            )
    project.pass_env = tuple(dev.get("pass_env", ()))
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
    scenario: sc.Scenario | None = None  # none for `dev --device`: the device's events run the app
    params: JSONObject = field(default_factory=dict)
    world: protocol.World | None = None
    watch: tuple[str, ...] = DEFAULT_WATCH  # patterns of the files whose change restarts the app
    pass_env: tuple[str, ...] = ()  # RELAY_* variables the app gets
    workflow: JSONObject | None = None  # the project's workflow, as `relay workflow apply` would send it
    source: str = MANIFEST  # relay.toml's path, for messages


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
    flags.check()
    setup, project = prepare_app(directory, command, path, port, check)
    return _with_scenario(setup, project, flags)


def prepare_app(
    directory: str, command: str | None, path: str | None, port: int | None, check: bool = True
) -> tuple[Setup, Project]:
    """The app's half of ``prepare``: the project, the command, the path and the port, checked; no scenario."""
    from urllib.parse import urlsplit

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
    port = check_port(port) if port is not None and check else port
    setup = Setup(
        root,
        command,
        path,
        port,
        watch=project.watch,
        pass_env=project.pass_env,
        workflow=workflow,
        source=project.source,
    )
    return setup, project


def _with_scenario(setup: Setup, project: Project, flags: ScenarioFlags) -> Setup:
    """``setup`` with the scenario to play and its parameters, from the flags and relay.toml."""
    root, workflow = setup.root, setup.workflow
    suggested: str | None = None
    defaults: JSONObject = {}
    variables: JSONObject = {}
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
    setup.scenario, setup.params, setup.world = chosen, params, world
    return setup


# --- signals ------------------------------------------------------------------------------------------


#: what ``signal.signal`` takes and gives back: a function, SIG_DFL or SIG_IGN, or None (not set from Python)
_Handler = Callable[[int, "FrameType | None"], object] | int | None


class stop_signals:  # noqa: N801 - a context manager used like a function
    """SIGTERM and SIGHUP interrupt like Ctrl-C while ``relay workflow dev`` runs, so that its clean-up (stopping
    the app) runs for them too. Only in the main thread, where signal handlers can be set."""

    def __enter__(self) -> stop_signals:
        self.saved: dict[int, _Handler] = {}
        if threading.current_thread() is threading.main_thread():
            for name in ("SIGTERM", "SIGHUP"):
                sig = getattr(signal, name, None)
                if sig is not None:
                    self.saved[sig] = signal.signal(sig, _interrupt)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


class shielded:  # noqa: N801
    """Ctrl-C, SIGTERM and SIGHUP wait while the app is being stopped (a second Ctrl-C must not leave it
    running); a signal that came meanwhile is raised afterwards."""

    def __enter__(self) -> shielded:
        self.saved: dict[int, _Handler] = {}
        self.pending: list[int] = []
        if threading.current_thread() is threading.main_thread():
            for name in ("SIGINT", "SIGTERM", "SIGHUP"):
                sig = getattr(signal, name, None)
                if sig is not None:
                    self.saved[sig] = signal.signal(sig, lambda signum, frame: self.pending.append(signum))
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)
        if self.pending and exc[0] is None:
            raise KeyboardInterrupt


# --- watching -----------------------------------------------------------------------------------------


def watched(relative: str, patterns: Sequence[str]) -> bool:
    """Whether a change to the file at ``relative`` (to the project, with /) restarts the app: its path or its
    name matches one of ``patterns`` (fnmatch: ``*`` matches across directories)."""
    from fnmatch import fnmatch

    name = relative.rsplit("/", 1)[-1]
    return any(fnmatch(relative, pattern) or fnmatch(name, pattern) for pattern in patterns)


def watch(directory: Path, patterns: Callable[[], Sequence[str]], *, idle: Callable[[], None]) -> Iterator[list[str]]:
    """The files of ``directory`` that changed and match ``patterns()``, relative to it, each time some did
    (changes are grouped until none came for a moment; node_modules, .git, __pycache__, .venv, venv and
    editors' temporary files are ignored). ``idle()`` runs about every half second while nothing changes.
    Ctrl-C raises KeyboardInterrupt."""
    import watchfiles

    root = directory.resolve()

    class Sources(watchfiles.DefaultFilter):
        def __call__(self, change: watchfiles.Change, path: str) -> bool:
            if not super().__call__(change, path):
                return False
            try:
                relative = Path(path).relative_to(root).as_posix()
            except ValueError:
                return False
            return watched(relative, patterns())

    only = Sources(ignore_dirs=(*watchfiles.DefaultFilter.ignore_dirs, *IGNORED_DIRS))
    for changes in watchfiles.watch(
        root, watch_filter=only, debounce=1600, step=100, rust_timeout=500, yield_on_timeout=True, raise_interrupt=True
    ):
        if not changes:
            idle()
            continue
        names = set()
        for _change, path in changes:
            try:
                names.add(Path(path).relative_to(root).as_posix())
            except ValueError:
                names.add(path)
        yield sorted(names)


# --- the terminal -------------------------------------------------------------------------------------

_lock = threading.Lock()


def write(stream: TextIO, text: str) -> None:
    """One whole line (or several) on ``stream``, never interleaved with another thread's."""
    with _lock:
        stream.write(text)
        stream.flush()


def say(show: Callable[[str], None], text: str) -> None:
    """``output.message``, ``success`` or ``warning``, never interleaved with the app's lines."""
    with _lock:
        show(text)


def app_line_printer(mode: str) -> Callable[[str, str], bool]:
    """``show`` for App: prints the app's lines on stderr, prefixed ``app |``, escaped, dimmed on a terminal,
    and says whether it did. ``mode``: failure (none as they come), stderr (what the app writes on its
    stderr), all."""
    dim = output.current().stderr_color

    def show(stream: str, line: str) -> bool:
        if mode == "failure" or (mode == "stderr" and stream != "stderr"):
            return False
        text = f"  app | {output.safe(line, stream=sys.stderr)}"
        try:
            write(sys.stderr, f"\x1b[2m{text}\x1b[0m\n" if dim else f"{text}\n")
        except (OSError, ValueError, OutputError, output.StreamClosed):
            return False  # stderr is gone: the command ends on its own next write
        return True

    return show


# --- one project's session ---------------------------------------------------------------------------


class Session:
    """The app of one project, started and stopped, and the scenario played against it. ``emit`` prints one
    transcript record; ``app_output`` says which of the app's lines are printed as they come (the others are
    in the error when the run fails)."""

    def __init__(
        self,
        setup: Setup,
        timeout: float,
        emit: Callable[[sc.Record], None],
        app_output: str,
        once: bool = True,
        max_time: float | None = protocol.DEFAULT_MAX_TIME,
    ) -> None:
        self.s = setup
        self.once = once  # else watch mode: the app stays up after a run, for the next request
        self.timeout = timeout
        self.max_time = max_time
        self.emit = emit
        self.show = app_line_printer(app_output)
        self.app: appproc.App | None = None
        self.uri = ""
        self.exit_reported = False
        self.watching_said = True

    def start(self) -> None:
        """Start the app and wait until it listens (appproc.AppFailed, exit 1, when it does not)."""
        self.uri = ""
        port = self.s.port or free_port()
        env = appproc.environment(os.environ, port, self.s.pass_env)
        self.app = appproc.App(self.s.command, self.s.root, port, env, self.show)
        say(output.message, f"starting `{self.s.command}` in {self.s.root} with PORT={port}")
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
        """One run of the scenario against the app; raises AppMisbehaved (6) or NetworkError (1), with the
        app's last lines (those not printed as they came)."""
        chosen, params = self.s.scenario, self.s.params
        assert chosen is not None  # a session with no scenario (dev --device) never plays one
        say(output.message, f"simulating {chosen.name} against {self.uri} (device {params['device_name']})")
        try:
            outcome = runner.run(
                self.uri,
                chosen,
                params,
                timeout=self.timeout,
                emit=self.emit,
                world=self.s.world,
                max_time=self.max_time,
            )
        except NetworkError as err:
            raise NetworkError(self._with_tail(err.message), hint=err.hint) from None
        if outcome.failure is not None:
            raise AppMisbehaved(
                self._with_tail(f"scenario {chosen.name}: {outcome.failure.text()}"), hint=outcome.failure.hint
            )
        say(
            output.success,
            f"scenario {chosen.name} passed: the app terminated cleanly "
            f"({outcome.messages} messages, {outcome.seconds:.1f}s)",
        )

    def _with_tail(self, what: str) -> str:
        """``what`` with the app's last lines: all of them once it is stopped (--once), else those it printed
        until it was quiet for a moment."""
        app = self.app
        if app is None:
            return what
        if self.once:
            self.stop()
        else:
            app.quiet()
        return app.failure(what)

    def idle(self) -> None:
        """While nothing changes (the watch calls it about every half second): say that the watch is on, once
        after each restart, when it is (a change made from then on is seen); and say so, once, when the app
        has exited meanwhile."""
        if not self.watching_said:
            self.watching_said = True
            up = f"; the app stays up at {self.uri}" if self.app is not None and self.app.exit_code() is None else ""
            say(output.message, f"watching {self.s.root} for changes (Ctrl-C stops){up}")
        if self.app is not None and not self.exit_reported:
            code = self.app.exit_code()
            if code is not None:
                self.exit_reported = True
                say(output.warning, f"the app exited with code {code}; it starts again on the next change")


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
        say(lambda text: output.message(text, style="red"), f"error: {err.message}")
        if err.hint:
            say(output.message, f"hint: {err.hint}")
    session.watching_said = False  # said by ``idle`` once the watch runs
