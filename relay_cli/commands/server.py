"""``relay server``: the local sandbox over HTTP, for CI and for other tools."""

import json
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from ..errors import UsageError
from ._common import JsonOpt, command, examples, state

EPILOG = examples(
    "relay server                                  # http://127.0.0.1:8080, a fresh token printed",
    "relay server --port 0 --token ci-token --json  # a free port; prints {base_url, token, db}",
    "RELAY_HOST=http://127.0.0.1:8080 RELAY_API_KEY=<token> relay workflow list",
)


@command(epilog=EPILOG)
def server(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", metavar="HOST", help="Address to listen on (loopback unless you say otherwise).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", metavar="PORT", help="Port to listen on; 0 picks a free one.")] = 8080,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="PATH",
            help="SQLite database (default: the sandbox the `local` profile uses).",
            show_default=False,
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            metavar="TOKEN",
            envvar="RELAY_SERVER_TOKEN",
            help="Token clients must send (default: a random one, printed). [env: RELAY_SERVER_TOKEN]",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Serve the local sandbox's Relay API over HTTP until Ctrl-C or SIGTERM (both exit 0: stopping is its normal end).

    Point the CLI (or any tool) at it with RELAY_HOST and RELAY_API_KEY.
    """
    import secrets

    from ..core.workflow import is_loopback
    from ..state import sandbox_db

    if not 0 <= port <= 65535:
        raise UsageError(f"expected a port from 0 to 65535, got {port}", option="--port")
    if token is not None and (not token.strip() or any(ch.isspace() for ch in token)):
        raise UsageError("expected a token without spaces", option="--token")
    st = state(ctx)
    path = Path(db).expanduser() if db else sandbox_db(st.environ)
    token = token or secrets.token_urlsafe(24)
    if not is_loopback(host):
        st.out.warning(f"listening on {host}: anyone who can reach it and has the token can use this sandbox")

    from ..local.server import serve
    from ..local.store import SandboxStore, SandboxUnavailable

    try:
        SandboxStore(path)  # created and seeded now, so a bad --db is reported as such
    except SandboxUnavailable as exc:
        raise UsageError(exc.message, option="--db", hint=exc.hint) from None

    stop = threading.Event()

    def ready(base_url: str) -> None:
        if json_output:  # one line, so a script can read it as soon as the server listens
            st.out.write(json.dumps({"base_url": base_url, "token": token, "db": str(path)}) + "\n")
            return
        st.out.write(f"Relay sandbox listening on {base_url}  (database {path})\n")
        st.out.write(f"  export RELAY_HOST={base_url}\n")
        st.out.write(f"  export RELAY_API_KEY={token}\n")
        st.out.message("Press Ctrl-C to stop.")

    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        serve(path, host=host, port=port, token=token, ready=ready, stop=stop)
    except OSError as exc:
        import errno
        import socket

        # a host that does not resolve, or is not an address of this machine, is --host's fault; a port in use --port's
        bad_host = isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL
        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}", option="--host" if bad_host else "--port"
        ) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    st.out.message("Sandbox stopped.")
