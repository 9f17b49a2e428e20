"""``relay workflow dev``: run a workflow project's app on this machine, play a scenario against it through the
simulator, and again on every change. The work is in ``relay_cli.simulator.devloop``."""

from typing import Annotated

import typer

from ... import output
from ...errors import UsageError
from ...simulator.flags import ScenarioFlags
from .._common import command, examples
from ._scenario import scenario_options


@command(
    epilog=examples(
        "relay workflow dev                           # the project here: run, simulate, and again on every change",
        "relay workflow dev auto-answer --once        # once, for CI: exit 0 passed, 6 the app misbehaved, 1 it did not start",
        "relay workflow dev --scenario-file calls/busy.toml --set hold=1",
        "relay workflow dev --command 'node app.js' --path /auto-answer --scenario inbound-call",
        "relay workflow dev place-call -a callee=Carol --taps single --device Bob",
        "relay workflow dev --app-output all          # also what the app prints, as it comes (prefixed `app |`)",
    ),
)
@scenario_options
def dev(
    directory: Annotated[
        str,
        typer.Argument(
            metavar="[DIRECTORY]",
            help="The project: a directory with relay.toml (from `relay workflow init`).",
            show_default=False,
        ),
    ] = ".",
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Run once and exit with the simulator's code (0 passed, 6 the app misbehaved, 1 it did not start or could not be reached); do not watch.",
        ),
    ] = False,
    command: Annotated[
        str | None,
        typer.Option(
            "--command",
            metavar="CMD",
            help="Shell command that starts the app, run in DIRECTORY. Default: [dev] command of relay.toml.",
            show_default=False,
        ),
    ] = None,
    path: Annotated[
        str | None,
        typer.Option(
            "--path",
            metavar="PATH",
            help="URL path the app serves the workflow at. Default: [dev] path, else the path of the workflow's uri.",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            metavar="N",
            help="Port the app listens on (given to it as PORT). Default: a free one.",
            show_default=False,
        ),
    ] = None,
    app_output: Annotated[
        str,
        typer.Option(
            "--app-output",
            metavar="failure|stderr|all",
            help="What the app prints that is shown, on stderr, escaped (a line cut at 4096 bytes): its last lines "
            "when the run fails (failure), or as it comes, prefixed `app |`: what it writes on stderr (stderr), "
            "everything (all).",
        ),
    ] = "failure",
    *,
    flags: ScenarioFlags,
) -> None:
    """Run your workflow app on this machine and play a scenario against it through the simulator; again on
    every change, until Ctrl-C.

    Starts the app (the [dev] command of DIRECTORY/relay.toml, in DIRECTORY) with PORT set to a free port and
    without relay's own variables (every RELAY_*: the API key, RELAY_HEADERS, tokens, ...; [dev] pass_env
    names those it needs), waits until it listens, plays the scenario (default: [dev] scenario) as the Relay
    server would, with the workflow's args from relay.toml (the scenario options are `relay workflow
    simulate`'s), and prints the conversation on stdout and one line with the result. What the app prints is
    shown when the run fails (its last lines), or as it comes with --app-output.

    Then it watches DIRECTORY's source files (*.js, *.ts, *.py, *.json, *.toml, *.yaml, .env and the like;
    [dev] watch names others; never node_modules, .git, __pycache__ or .venv): each change restarts the app
    and plays the scenario again. Files the app writes as it runs (a log, a database) do not restart it.

    The app runs under a keeper that ends everything it started when dev ends, however dev ends (Ctrl-C,
    SIGTERM, SIGKILL): on Linux detached children too; elsewhere the app's process group. Ctrl-C exits 130.
    With --once it runs once and exits 0 when the scenario passed, 6 when the app misbehaved, 1 when the app
    did not start or could not be reached."""
    from ...simulator import devloop

    if app_output not in devloop.APP_OUTPUT:
        from ...core import suggest

        raise UsageError(suggest.expected(app_output, devloop.APP_OUTPUT), option="--app-output")
    args = (directory, flags, command, path, port)
    emit = flags.printer(devloop.write)
    session = devloop.Session(
        devloop.prepare(*args), flags.timeout, emit, app_output, once=once, max_time=flags.max_time
    )
    with devloop.stop_signals():
        try:
            if once:
                session.start()
                session.play()
                return
            devloop.restart(session)
            for changed in devloop.watch(session.s.root, lambda: session.s.watch, idle=session.idle):
                shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
                devloop.say(output.message, f"changed: {shown}; restarting the app")
                devloop.restart(session, reload=lambda: devloop.prepare(*args, check=False))
        finally:
            session.stop()
