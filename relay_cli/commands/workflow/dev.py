"""``relay workflow dev``: run a workflow project's app on this machine, play a scenario against it through the
simulator, and again on every change."""


from typing import Annotated, Any

import typer

from .._common import examples
from . import app

APP_OUTPUT = ("all", "stderr", "none")


def _setup(
    directory: str,
    scenario: str | None,
    scenario_file: str | None,
    command: str | None,
    path: str | None,
    port: int | None,
    settings: list[str] | None,
    app_output: str,
    check_port: bool = True,
) -> dict[str, Any]:
    """Everything checked before the app starts: bad input is exit 2 with nothing started. Run again before each
    restart in watch mode, so that changes to relay.toml and to a scenario file count."""
    from pathlib import Path
    from urllib.parse import urlsplit

    from ...core import workflow as wf
    from ...errors import UsageError
    from ...simulator import devloop, protocol, runner
    from ...simulator import scenario as sc

    if app_output not in APP_OUTPUT:
        raise UsageError(f"expected one of {', '.join(APP_OUTPUT)}, got {app_output!r}", option="--app-output")
    if scenario is not None and scenario_file is not None:
        raise UsageError("--scenario and --scenario-file cannot be used together; pick one", option="--scenario-file")
    root = Path(directory)
    if not root.is_dir():
        raise UsageError(f"{directory} is not a directory (a project made by `relay workflow init`)", option="DIRECTORY")
    project = devloop.read_project(root)
    if command is not None and not command.strip():
        raise UsageError("expected a command that starts the app, got an empty string", option="--command")
    command = command or project.command
    if command is None:
        where = f"{project.source} has no [dev] command" if project.exists else f"{project.source}: no such file"
        raise UsageError(f"{where}: give --command (the shell command that starts the app), or run `relay workflow init`", option="--command")
    workflow = project.workflow
    if path is None:
        path = project.path
        if path is None and workflow is not None:
            path = urlsplit(wf.uri_of(workflow)).path or None
        if path is None:
            raise UsageError(f"no [dev] path in {project.source}: give --path, the path the app serves the workflow at", option="--path")
        option = "--path" if project.path is None else f"{project.source}: dev.path"
    else:
        option = "--path"
    if not path.startswith("/") or any(ch.isspace() or ord(ch) < 32 for ch in path):
        raise UsageError(f"expected a URL path such as /auto-answer, got {path!r}", option=option)

    suggested, defaults, variables = None, {}, {}
    if workflow is not None:
        suggested, defaults, _note = sc.defaults_from_workflow(workflow)
        variables = dict(wf.args_of(workflow))
    if scenario_file is not None:
        chosen = runner.load_file(scenario_file)
    elif scenario is not None:
        chosen = runner.load_builtin(scenario)
    elif project.scenario is not None:
        named = project.scenario
        if named.endswith(".toml") or "/" in named:
            chosen = runner.load_file(str(root / named))
        else:
            try:
                chosen = runner.load_builtin(named)
            except UsageError as err:
                raise UsageError(f"{project.source}: dev.scenario: {err.message.removeprefix('--scenario: ')}") from None
    elif suggested is not None:
        chosen = runner.load_builtin(suggested)
    else:
        raise UsageError(
            f"expected --scenario NAME ({', '.join(runner.builtin_names())}), --scenario-file FILE, or [dev] scenario in {project.source}",
            option="--scenario",
        )
    world = runner.demo_world()
    # what the workflow's trigger says (a single tap, a phrase) wins over the scenario's own defaults
    flags = {key: (f"{project.source}: trigger", value) for key, value in defaults.items() if chosen.uses(key)}
    params = sc.resolve_params(chosen, flags, settings, defaults, world)
    params["vars"] = variables
    for warning in protocol.option_warnings(params):
        from ... import output

        output.warning(warning)
    return {
        "root": root,
        "command": command,
        "path": path,
        "port": devloop.check_port(port) if port is not None and check_port else port,
        "scenario": chosen,
        "params": params,
        "world": world,
    }


class _Session:
    """One app process and the scenario runs against it."""

    def __init__(self, setup: dict[str, Any], timeout: float, json_output: bool, app_output: str) -> None:
        from ...simulator import devloop

        self.s = setup
        self.timeout = timeout
        self.json_output = json_output
        self.show = devloop.app_line_printer(app_output)
        self.app_output = app_output
        self.app: Any = None
        self.uri = ""
        self.exit_reported = False

    def start(self) -> None:
        from ... import output
        from ...simulator import devloop

        self.uri = ""
        port = self.s["port"] or devloop.free_port()
        self.app = devloop.App(self.s["command"], self.s["root"], port, self.show)
        output.message(f"starting `{self.s['command']}` in {self.s['root']} with PORT={port}")
        self.app.start()
        self.exit_reported = False
        host = self.app.wait_listening()
        self.uri = f"ws://{'[::1]' if host == '::1' else host}:{port}{self.s['path']}"

    def stop(self) -> None:
        from ...simulator import devloop

        if self.app is not None:
            with devloop.shielded():
                self.app.stop()
            self.app = None

    def play(self) -> None:
        """One run of the scenario against the app; raises AppMisbehaved (6) or NetworkError (1)."""
        import json
        import sys

        from ... import output
        from ...errors import AppMisbehaved
        from ...simulator import devloop, runner
        from .simulate import _line

        chosen, params = self.s["scenario"], self.s["params"]

        def emit(record: Any) -> None:
            text = json.dumps(record.to_json(), ensure_ascii=False) if self.json_output else _line(record)
            devloop.write(sys.stdout, text + "\n")

        output.message(f"simulating {chosen.name} against {self.uri} (device {params['device_name']})")
        outcome = runner.run(self.uri, chosen, params, timeout=self.timeout, emit=emit, world=self.s["world"])
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
        from ... import output

        if self.app is not None and not self.exit_reported:
            code = self.app.exit_code()
            if code is not None:
                self.exit_reported = True
                output.warning(f"the app exited with code {code}; it starts again on the next change")


def _round(session: _Session, reload: Any = None) -> None:
    """Restart the app and play the scenario once, in watch mode: a failure is reported, not raised.
    ``reload()`` reads relay.toml and the scenario again (after the app stopped, so its port is free)."""
    from ... import output
    from ...errors import RelayError

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
    output.message(f"watching {session.s['root']} for changes (Ctrl-C stops){up}")


@app.command(
    "dev",
    epilog=examples(
        "relay workflow dev                           # the project here: run, simulate, and again on every change",
        "relay workflow dev auto-answer --once        # once, for CI: exit 0 passed, 6 the app misbehaved, 1 it did not start",
        "relay workflow dev --scenario-file calls/busy.toml --set hold=1",
        "relay workflow dev --command 'node app.js' --path /auto-answer --scenario inbound-call",
        "relay workflow dev --app-output stderr       # hide what the app prints on stdout (the SDK's own log)",
    ),
)
def dev(
    directory: Annotated[
        str,
        typer.Argument(metavar="[DIRECTORY]", help="The project: a directory with relay.toml (from `relay workflow init`).", show_default=False),
    ] = ".",
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario",
            metavar="NAME",
            help="Built-in scenario to play: inbound-call, outbound-call, button, phrase. Default: [dev] scenario of "
            "relay.toml, else the one the workflow's trigger implies.",
            show_default=False,
        ),
    ] = None,
    scenario_file: Annotated[
        str | None,
        typer.Option("--scenario-file", metavar="FILE", help="Play your own scenario (TOML; see `relay workflow simulate`).", show_default=False),
    ] = None,
    once: Annotated[
        bool,
        typer.Option("--once", help="Run once and exit with the simulator's code (0 passed, 6 the app misbehaved, 1 it did not start or could not be reached); do not watch."),
    ] = False,
    command: Annotated[
        str | None,
        typer.Option(
            "--command", metavar="CMD", help="Shell command that starts the app, run in DIRECTORY. Default: [dev] command of relay.toml.", show_default=False
        ),
    ] = None,
    path: Annotated[
        str | None,
        typer.Option("--path", metavar="PATH", help="URL path the app serves the workflow at. Default: [dev] path, else the path of the workflow's uri.", show_default=False),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", metavar="N", help="Port the app listens on (given to it as PORT). Default: a free one.", show_default=False),
    ] = None,
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="NAME=VALUE",
            help="Set a scenario parameter or a simulator option, e.g. hold=1, speaking_rate=600 (repeatable; as `relay workflow simulate --set`).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option("--timeout", metavar="SECONDS", min=0.01, help="How long the app has to connect and to send each expected request."),
    ] = 10.0,
    app_output: Annotated[
        str,
        typer.Option("--app-output", metavar="all|stderr|none", help="What the app prints that is shown (on stderr, prefixed `app |`)."),
    ] = "all",
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the transcript as JSON lines, as `relay workflow simulate --json` does.")
    ] = False,
) -> None:
    """Run your workflow app on this machine and play a scenario against it through the simulator; again on
    every change, until Ctrl-C.

    Starts the app (the [dev] command of DIRECTORY/relay.toml, in DIRECTORY) with PORT set to a free port, waits
    until it listens, plays the scenario (default: [dev] scenario) as the Relay server would, with the
    workflow's args from relay.toml, and prints the conversation on stdout; the app's own output goes to stderr,
    prefixed `app |`. Then it watches DIRECTORY (not node_modules, .git, __pycache__ or .venv): each change
    restarts the app and plays the scenario again. Ctrl-C stops the app and every process it started, and exits
    130. With --once it runs once and exits 0 when the scenario passed, 6 when the app misbehaved, 1 when the app
    did not start or could not be reached."""
    from ... import output
    from ...simulator import devloop

    args = (directory, scenario, scenario_file, command, path, port, settings, app_output)
    session = _Session(_setup(*args), timeout, json_output, app_output)
    with devloop.stop_signals():
        try:
            if once:
                session.start()
                session.play()
                return
            _round(session)
            for changed in devloop.watch(session.s["root"], idle=session.check_alive):
                shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
                output.message(f"changed: {shown}; restarting the app")
                _round(session, reload=lambda: _setup(*args, check_port=False))
        finally:
            session.stop()
