"""The tunnel of ``relay workflow dev --device ... --tunnel COMMAND``: the user's own tunnel program (ngrok,
cloudflared, localtunnel, ...), run like the app (under the keeper: it ends with dev however dev ends), and
the public address it gives, read from what it prints or, for ngrok, from its local API. relay never bundles or
downloads a tunnel.
"""

from __future__ import annotations

import os
import shlex
import threading
import time
from pathlib import Path

from ..core import devreg, redact
from ..errors import NetworkError, UsageError
from . import appproc

#: where the token {port} goes in the tunnel's command
PORT_TOKEN = "{port}"
#: ngrok's local API (its "web interface"), asked for the tunnel's public address
NGROK_API = "http://127.0.0.1:4040/api/tunnels"
#: how often the API is asked while the address is awaited
NGROK_POLL = 0.25


class TunnelFailed(NetworkError):
    """The tunnel gave no public address, or exited (exit 1)."""


def command_for(template: str, port: int, port_given: bool) -> str:
    """The tunnel's command: ``template`` with ``{port}`` replaced by the app's port. A command without
    ``{port}`` must forward to the port --port names."""
    if not template.strip():
        raise UsageError("expected the command that starts your tunnel, got an empty string", option="--tunnel")
    if PORT_TOKEN not in template and not port_given:
        raise UsageError(
            f"the tunnel must forward to the app's port: put {PORT_TOKEN} where the port goes (e.g. "
            f"'ngrok http {PORT_TOKEN}'), or give --port",
            option="--tunnel",
        )
    return template.replace(PORT_TOKEN, str(port))


def is_ngrok(command: str) -> bool:
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    return any(os.path.basename(word) in ("ngrok", "ngrok.exe") for word in words)


class Tunnel:
    """The tunnel process. Its lines are not shown as they come: the address is read from them, and the last ones
    are in the error when it fails."""

    def __init__(self, command: str, cwd: Path, port: int) -> None:
        self.port = port
        #: the command as messages show it: a token given to the tunnel on its command line is masked
        self.command = redact.command(command)
        self.url: str | None = None
        self._found = threading.Event()
        env = appproc.environment(os.environ, port)  # none of relay's variables, as for the app
        self.proc = appproc.App(command, cwd, port, env, self._line)
        self.ngrok = is_ngrok(command)

    def _line(self, stream: str, text: str) -> bool:
        if self.url is None:
            found = devreg.tunnel_url(text)
            if found is not None:
                self.url = found
                self._found.set()
        return False

    def start(self) -> None:
        try:
            self.proc.start()
        except appproc.AppFailed as err:
            reason = err.message.rsplit(": ", 1)[-1]
            raise TunnelFailed(f"cannot start the tunnel `{self.command}`: {reason}") from None

    def exit_code(self) -> int | None:
        return self.proc.exit_code()

    def stop(self) -> None:
        self.proc.stop()

    def wait_url(self, timeout: float, told: float | None = None) -> str:
        """The public address, ``wss://host[:port]``, once the tunnel gave it (within ``timeout`` seconds);
        TunnelFailed when it exits first or gives none in time (it is stopped then). ``told``: the time limit the
        user gave, for the message (default: ``timeout``)."""
        deadline = time.monotonic() + timeout
        asked = 0.0
        while True:
            if self._found.wait(0.05):
                assert self.url is not None
                return self.url
            now = time.monotonic()
            if self.ngrok and now - asked >= NGROK_POLL:
                asked = now
                found = self._ask_ngrok(max(0.05, min(1.0, deadline - now)))
                if found is not None:
                    self.url = found
                    return found
            code = self.exit_code()
            if code is not None:
                self.proc.quiet()
                raise TunnelFailed(
                    self.proc.failure(
                        f"the tunnel `{self.command}` exited with code {code} before it gave a public address"
                    )
                )
            if now > deadline:
                self.stop()
                where = " (nor at ngrok's local API, " + NGROK_API + ")" if self.ngrok else ""
                raise TunnelFailed(
                    self.proc.failure(
                        f"the tunnel `{self.command}` printed no public https:// address within "
                        f"{told if told is not None else timeout:g} s{where}"
                    ),
                    hint="check that the command starts your tunnel and prints the address it gives (ngrok: "
                    "`ngrok http {port}`; cloudflared: `cloudflared tunnel --url http://localhost:{port}`), or give "
                    "the address yourself with --public-url",
                )

    def _ask_ngrok(self, timeout: float) -> str | None:
        import httpx

        try:
            with httpx.Client(trust_env=False, timeout=timeout) as client:
                answer = client.get(NGROK_API)
            if answer.status_code != 200:
                return None
            return devreg.ngrok_url(answer.json(), self.port)
        except (httpx.HTTPError, ValueError, RecursionError):
            return None
