"""``relay workflow dev``: run a workflow project's app on this machine, play a scenario against it through the
simulator, and again on every change (``relay_cli.simulator.devloop``); or, with --device, register it for the
session on devices of a sandbox or of Relay (``relay_cli.simulator.ondevice``)."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ... import output
from ...errors import UsageError
from ...jsontypes import JSONValue
from ...simulator.flags import ScenarioFlags
from .._common import SubscriberOpt, command, examples, state
from ._scenario import scenario_options

if TYPE_CHECKING:
    from pathlib import Path

    from ...state import State

#: the scenario options that mean nothing with --device (the device's own events run the app), by field
_SIMULATOR_ONLY = {
    "scenario": "--scenario",
    "scenario_file": "--scenario-file",
    "caller": "--from",
    "callee": "--to",
    "hold": "--hold",
    "reject": "--reject",
    "taps": "--taps",
    "phrase": "--phrase",
    "settings": "--set",
    "timeout": "--timeout",
    "max_time": "--max-time",
}
#: the most --tunnel-timeout takes
MAX_TUNNEL_TIMEOUT = 600.0


@command(
    epilog=examples(
        "relay workflow dev                           # the project here: run, simulate, and again on every change",
        "relay workflow dev auto-answer --once        # once, for CI: exit 0 passed, 6 the app misbehaved, 1 it did not start",
        "relay workflow dev --scenario-file calls/busy.toml --set hold=1",
        "relay workflow dev --command 'node app.js' --path /auto-answer --scenario inbound-call",
        "relay workflow dev place-call -a callee=Carol --taps single --set device=Bob",
        "relay workflow dev --app-output all          # also what the app prints, as it comes (prefixed `app |`)",
        "relay workflow dev place-call --device Carol # registered on the sandbox's Carol until Ctrl-C; then, elsewhere:",
        "    relay sandbox press Carol --taps double",
        "relay workflow dev --device 990007560011111 --tunnel 'ngrok http {port}'          # on Relay, through ngrok",
        "relay workflow dev --device 990007560011111 --public-url wss://dev.example.com   # your own proxy",
        "relay workflow dev --cleanup                 # delete what a killed session of this project left registered",
    ),
)
@scenario_options(without=("device",))
def dev(
    ctx: typer.Context,
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
        str | None,
        typer.Option(
            "--app-output",
            metavar="failure|stderr|all",
            help="What the app prints that is shown, on stderr, escaped (a line cut at 4096 bytes): its last lines "
            "when the run fails (failure), or as it comes, prefixed `app |`: what it writes on stderr (stderr), "
            "everything (all). Default: failure; with --device, all.",
            show_default=False,
        ),
    ] = None,
    devices: Annotated[
        list[str] | None,
        typer.Option(
            "--device",
            metavar="DEVICE",
            help="Register the project's workflow for the session, installed only on DEVICE (an id; on a sandbox "
            "also a name such as Carol; or a group's id or name), pointing at the app. Repeatable. No scenario "
            "is played: the device's events run the app.",
            show_default=False,
        ),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            metavar="URL",
            help="With --device on Relay: the public wss:// (or https://) address that forwards to the app's "
            "port; the workflow's path is added to it.",
            show_default=False,
        ),
    ] = None,
    tunnel: Annotated[
        str | None,
        typer.Option(
            "--tunnel",
            metavar="COMMAND",
            help="With --device on Relay: your tunnel's command, {port} standing for the app's port (e.g. "
            "'ngrok http {port}', 'cloudflared tunnel --url http://localhost:{port}'); its public https:// "
            "address is read from what it prints (ngrok: from its local API too).",
            show_default=False,
        ),
    ] = None,
    tunnel_timeout: Annotated[
        float,
        typer.Option(
            "--tunnel-timeout",
            metavar="SECONDS",
            min=0.1,
            help="How long the tunnel has to give its address and for that address to reach the app.",
        ),
    ] = 30.0,
    cleanup: Annotated[
        bool,
        typer.Option(
            "--cleanup",
            help="Delete this project's dev registrations left by sessions that did not end cleanly (kill -9, a "
            "crash), and nothing else; then exit.",
        ),
    ] = False,
    subscriber_id: SubscriberOpt = None,
    *,
    flags: ScenarioFlags,
) -> None:
    """Run your workflow app on this machine and play a scenario against it through the simulator; again on
    every change, until Ctrl-C. With --device, register it on a device for the session instead.

    Starts the app (the [dev] command of DIRECTORY/relay.toml, in DIRECTORY) with PORT set to a free port and
    without relay's own variables (every RELAY_*: the API key, RELAY_HEADERS, tokens, ...; [dev] pass_env
    names those it needs), waits until it listens, plays the scenario (default: [dev] scenario) as the Relay
    server would, with the workflow's args from relay.toml (the scenario options are `relay workflow
    simulate`'s), and prints the conversation on stdout and one line with the result. What the app prints is
    shown when the run fails (its last lines), or as it comes with --app-output.

    Then it watches DIRECTORY's source files (*.js, *.ts, *.py, *.json, *.toml, *.yaml, .env and the like;
    [dev] watch names others; never node_modules, .git, __pycache__ or .venv): each change restarts the app
    and plays the scenario again. Files the app writes as it runs (a log, a database) do not restart it.

    With --device DEVICE, no scenario is played: the project's workflow (relay.toml's trigger and args, -a/-b/-r
    over them) is registered for the session as "NAME (dev)", installed only on DEVICE, pointing at the app. On
    a sandbox (the local one, or a `relay server`) that is the app's loopback address, so `relay sandbox press
    DEVICE ...` in another terminal runs it; on Relay it is a public wss:// address, --public-url or the one
    the --tunnel command gives, checked first with a WebSocket handshake at the workflow's path (TLS
    verified; nothing is registered when it fails). The workflow's log (stdout; --json: JSON lines) and the
    app's output (stderr) follow as they come. A change restarts the app and keeps the registration; a change
    to relay.toml that changes the registration updates it. Ctrl-C, SIGTERM, the app exiting or the tunnel
    exiting end the session: the registration is deleted first, and dev says so. A session killed with
    SIGKILL leaves it behind: the next one in the project reuses it, and --cleanup deletes it. A registration
    is this project's when its name ends in " (dev)" and its args hold relay_dev, the project's marker (from
    this machine's name and the project's path): no other workflow is ever changed.

    The app runs under a keeper that ends everything it started when dev ends, however dev ends (Ctrl-C,
    SIGTERM, SIGKILL): on Linux detached children too; elsewhere the app's process group. Ctrl-C exits 130.
    With --once it runs once and exits 0 when the scenario passed, 6 when the app misbehaved, 1 when the app
    did not start or could not be reached. With --device: 1 when the app or the tunnel exits, or the public
    address does not reach the app; 3 when a device is not in the account."""
    from ...simulator import devloop

    if app_output is not None and app_output not in devloop.APP_OUTPUT:
        from ...core import suggest

        raise UsageError(suggest.expected(app_output, devloop.APP_OUTPUT), option="--app-output")
    if cleanup:
        _only_alone("--cleanup", once=once, devices=devices, public_url=public_url, tunnel=tunnel)
        _cleanup(state(ctx), directory, subscriber_id, flags.json_output)
        return
    if devices:
        _on_device(
            ctx, directory, devices, public_url, tunnel, tunnel_timeout, command, path, port, app_output,
            subscriber_id, once=once, flags=flags,
        )  # fmt: skip
        return
    for given, option in ((public_url, "--public-url"), (tunnel, "--tunnel")):
        if given is not None:
            raise UsageError("only applies with --device (the app registered on a device)", option=option)
    args = (directory, flags, command, path, port)
    emit = flags.printer(devloop.write)
    session = devloop.Session(
        devloop.prepare(*args), flags.timeout, emit, app_output or "failure", once=once, max_time=flags.max_time
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


def _only_alone(option: str, **given: Any) -> None:
    names = {"once": "--once", "devices": "--device", "public_url": "--public-url", "tunnel": "--tunnel"}
    for key, value in given.items():
        if value:
            raise UsageError(f"cannot be used with {names[key]}", option=option)


def _on_device(
    ctx: typer.Context,
    directory: str,
    devices: list[str],
    public_url: str | None,
    tunnel: str | None,
    tunnel_timeout: float,
    command: str | None,
    path: str | None,
    port: int | None,
    app_output: str | None,
    subscriber_id: str | None,
    *,
    once: bool,
    flags: ScenarioFlags,
) -> None:
    """``dev --device``: everything that can be refused is refused before the app starts or anything is
    written; then the session (``ondevice.DeviceSession``) runs until it ends, and deletes its registration."""
    import math
    import socket

    from ...core import devreg
    from ...simulator import devloop, ondevice
    from ...simulator.appproc import free_port
    from ...simulator.tunnel import command_for

    defaults = ScenarioFlags()
    for field, option in _SIMULATOR_ONLY.items():
        if getattr(flags, field) != getattr(defaults, field):
            raise UsageError(
                "plays the simulator's scenario; with --device the device's own events run the app (on a sandbox: "
                "`relay sandbox press|call|... DEVICE`)",
                option=option,
            )
    if once:
        raise UsageError("plays the simulator once; --device registers the app until Ctrl-C", option="--once")
    if public_url is not None and tunnel is not None:
        raise UsageError(
            "give the public address (--public-url) or the tunnel that makes one, not both", option="--tunnel"
        )
    if not math.isfinite(tunnel_timeout) or tunnel_timeout > MAX_TUNNEL_TIMEOUT:
        raise UsageError(
            f"expected at most {MAX_TUNNEL_TIMEOUT:g} seconds, got {tunnel_timeout}", option="--tunnel-timeout"
        )
    args = flags.args()
    base = devreg.public_base(public_url, sandbox=True) if public_url is not None else None
    setup, _project = devloop.prepare_app(directory, command, path, port)
    if setup.workflow is None:
        raise UsageError(
            f"{setup.source} declares no [workflow.NAME]: --device registers the project's workflow (its trigger "
            "and args), as `relay workflow init` writes it",
            option="--device",
        )
    port_given = setup.port is not None
    setup.port = setup.port or free_port()
    tunnel_command = command_for(tunnel, setup.port, port_given) if tunnel is not None else None

    st = state(ctx)
    target = st.target()
    if not target.sandbox:
        if base is None and tunnel_command is None:
            raise UsageError(
                f"{target.where} connects to your app at a public wss:// address: give --tunnel 'ngrok http "
                "{port}' (your tunnel's command) or --public-url wss://... (an address that forwards to the app)",
                option="--device",
            )
        if base is not None and not base.startswith("wss://"):
            devreg.public_base(public_url or "", sandbox=False)  # raises: Relay connects over wss:// only
    subscriber = st.subscriber_id(subscriber_id)
    where = ondevice.placement(st.client(), subscriber, devices, target.sandbox)
    mark = devreg.marker(socket.gethostname(), str(setup.root.resolve()))

    def show_log(entry: JSONValue) -> None:
        from .logs import format_entry

        if flags.json_output:
            devloop.say(lambda _text: st.out.json_line(entry), "")
        else:
            devloop.say(st.out.text, format_entry(entry))

    fixed = setup.port

    def reload() -> devloop.Setup:
        again, _ = devloop.prepare_app(directory, command, path, fixed, check=False)
        return again

    options = ondevice.Options(base, tunnel_command, tunnel_timeout, args, app_output or "all")
    with ondevice.locked(_lock_path(st, mark, subscriber), target.where), devloop.stop_signals():
        session = ondevice.DeviceSession(st, setup, subscriber, target, where, mark, options, show_log, reload)
        session.run()


def _lock_path(st: "State", mark: str, subscriber: str) -> "Path":
    """The session's lock file: one per project, target and account, in relay's data directory."""
    import hashlib

    from ...state import data_dir, sandbox_db

    where = str(sandbox_db(st.environ)) if st.is_local else st.api_url
    key = hashlib.sha256(f"{mark}\n{where}\n{subscriber}".encode()).hexdigest()[:16]
    return data_dir(st.environ) / "dev" / f"{key}.lock"


def _cleanup(st: "State", directory: str, subscriber_id: str | None, as_json: bool) -> None:
    """``dev --cleanup``: delete this project's dev registrations (``core.devreg``'s rule), nothing else."""
    import socket
    from pathlib import Path

    from ...core import devreg, workflow as wf
    from ...simulator import ondevice

    root = Path(directory)
    if not root.is_dir():
        raise UsageError(
            f"{directory} is not a directory (a project made by `relay workflow init`)", option="DIRECTORY"
        )
    mark = devreg.marker(socket.gethostname(), str(root.resolve()))
    target = st.target()
    subscriber = st.subscriber_id(subscriber_id)
    with ondevice.locked(_lock_path(st, mark, subscriber), target.where):
        removed = ondevice.cleanup(st.client(), subscriber, mark)
    data = {
        "removed": [
            {"workflow_id": w.get("workflow_id"), "name": w.get("name"), "install": wf.describe_install(w)}
            for w in removed
        ]
    }

    def human() -> None:
        for w in removed:
            st.out.message(
                f"deleted {w.get('name')} ({w.get('workflow_id')}), installed on {wf.describe_install(w) or 'no device'}"
            )
        if not removed:
            st.out.message(f"no dev registration of the project in {root} is left in {target.where}")
        else:
            st.out.success(
                f"deleted {len(removed)} dev registration{'s' if len(removed) != 1 else ''} from {target.where}"
            )

    st.out.render(data, human, as_json=as_json)
