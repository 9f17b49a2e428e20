"""The app ``relay workflow dev`` runs, as a process: its environment, its port, how it is started and stopped
together with everything it started (through ``keeper``), when it listens, and its output, read in bounded
lines. Nothing here knows about scenarios: ``devloop`` plays them against the app.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ..errors import NetworkError, UsageError

if TYPE_CHECKING:
    from ipaddress import IPv4Address, IPv6Address

#: how long the app has to listen after it was started, and to stop after SIGTERM before SIGKILL
START_TIMEOUT = 30.0
STOP_GRACE = 3.0
#: the app's last lines kept for error messages
TAIL_LINES = 30
#: the longest line of the app's output kept: the rest of a longer line is read and dropped
LINE_LIMIT = 4096
#: the prefix of the variables held back from the app's environment: relay's own configuration and
#: credentials (RELAY_API_KEY, RELAY_HEADERS, RELAY_SERVER_TOKEN, RELAY_HOST, ...). @relaypro/sdk reads
#: RELAY_ENV and RELAY_HOST itself, with another meaning: relay's RELAY_HOST would break it
HELD_BACK = "RELAY_"


class AppFailed(NetworkError):
    """The app exited before it listened, or never listened (exit 1). The message ends with its last lines."""


def environment(base: Mapping[str, str], port: int, passed: Collection[str] = ()) -> dict[str, str]:
    """The app's environment: ``base`` without relay's variables (every ``RELAY_*`` but those in ``passed``,
    the project's ``[dev] pass_env``), with ``PORT``."""
    env = {k: v for k, v in base.items() if not k.upper().startswith(HELD_BACK) or k in passed}
    env["PORT"] = str(port)
    return env


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


def listening(port: int) -> str | None:
    """The loopback address the app can be reached at once something listens on ``port`` ("127.0.0.1" or
    "::1"), else None.

    On Linux this reads the kernel's socket tables (/proc/net/tcp, tcp6): the app sees no connection, so
    nothing it logs comes from relay (a bare connection makes relay-py log "connection rejected (400)").
    Elsewhere it connects and resets the connection at once, so the app's server reads no request."""
    listeners = _listeners(port)
    if listeners is None:
        return _connects(port)
    import ipaddress

    hosts = set()
    for address in listeners:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.version == 4 and (address.is_unspecified or address.is_loopback):
            hosts.add("127.0.0.1")
        elif address.version == 6 and address.is_loopback:
            hosts.add("::1")
        elif address.version == 6 and address.is_unspecified:
            hosts.add("127.0.0.1" if _dual_stack() else "::1")
    return "127.0.0.1" if "127.0.0.1" in hosts else next(iter(hosts), None)


def _listeners(port: int) -> list[IPv4Address | IPv6Address] | None:
    """The local addresses of the listening TCP sockets on ``port``; None where the tables cannot be read."""
    import ipaddress

    found: list[IPv4Address | IPv6Address] = []
    readable = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != "0A":  # 0A: TCP_LISTEN
                continue
            address, _, hex_port = fields[1].partition(":")
            if int(hex_port, 16) != port:
                continue
            raw = bytes.fromhex(address)
            # each 32-bit word is printed as the number it is in this machine's byte order
            words = [raw[i : i + 4] for i in range(0, len(raw), 4)]
            if sys.byteorder == "little":
                words = [word[::-1] for word in words]
            found.append(ipaddress.ip_address(b"".join(words)))
    return found if readable else None


def _dual_stack() -> bool:
    """Whether a socket listening on :: also takes IPv4 connections (Linux's default)."""
    try:
        with open("/proc/sys/net/ipv6/bindv6only", encoding="ascii") as handle:
            return handle.read().strip() == "0"
    except OSError:
        return True


def _connects(port: int) -> str | None:
    import struct

    for host, family in (("127.0.0.1", socket.AF_INET), ("::1", socket.AF_INET6)):
        try:
            with socket.socket(family) as s:
                s.settimeout(0.5)
                s.connect((host, port))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
            return host
        except OSError:
            continue
    return None


# --- the app ------------------------------------------------------------------------------------------


@dataclass
class Line:
    stream: str  # stdout or stderr
    text: str
    shown: bool  # printed as it came


class App:
    """The app, started by the shell in ``cwd`` with ``env`` (see ``environment``), under a keeper that stops
    it and every process it started (``relay_cli.simulator.keeper``), in a session of its own: Ctrl-C at the
    terminal does not reach it.

    Each line it prints goes to ``show(stream, text)``, which says whether it printed it, and into a tail kept
    for error messages. A line longer than LINE_LIMIT bytes is cut there (the rest is read and dropped), so
    that memory stays bounded whatever the app writes."""

    def __init__(
        self, command: str, cwd: Path, port: int, env: Mapping[str, str], show: Callable[[str, str], bool]
    ) -> None:
        self.command, self.cwd, self.port, self.env, self.show = command, cwd, port, dict(env), show
        self.tail: deque[Line] = deque(maxlen=TAIL_LINES)
        self.proc: subprocess.Popen[bytes] | None = None
        self._readers: list[threading.Thread] = []
        self._tail_lock = threading.Lock()
        self._last_line_at = 0.0

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def start(self) -> None:
        posix = os.name == "posix"
        argv: str | list[str]
        if posix:
            # -P: the project's directory is not put on the keeper's sys.path (it could shadow relay_cli)
            argv = [sys.executable, "-P", "-m", "relay_cli.simulator.keeper", f"{STOP_GRACE:g}", self.command]
        else:  # pragma: no cover - Windows: the shell's process tree, stopped with taskkill /T
            argv = self.command
        self.tail.clear()
        try:
            self.proc = subprocess.Popen(
                argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.PIPE if os.name == "posix" else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=posix,
                shell=not posix,
                creationflags=0 if posix else subprocess.CREATE_NEW_PROCESS_GROUP,  # type: ignore[attr-defined,unused-ignore]
            )
        except OSError as exc:
            raise AppFailed(f"cannot start `{self.command}` in {self.cwd}: {exc.strerror or exc}") from None
        self._readers = [
            threading.Thread(target=self._read, args=(stream, name), daemon=True)
            for stream, name in ((self.proc.stdout, "stdout"), (self.proc.stderr, "stderr"))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[bytes], name: str) -> None:
        import codecs

        while piece := stream.readline(LINE_LIMIT):
            cut = len(piece) >= LINE_LIMIT and not piece.endswith(b"\n")
            if cut:  # without a character split at the cut
                text = codecs.getincrementaldecoder("utf-8")("replace").decode(piece)
                text += f" [line cut at {LINE_LIMIT} bytes]"
            else:
                text = piece.decode("utf-8", "replace").rstrip("\r\n")
            text = text.expandtabs()
            shown = self.show(name, text)
            with self._tail_lock:
                self.tail.append(Line(name, text, shown))
                self._last_line_at = time.monotonic()
            while cut and (rest := stream.readline(LINE_LIMIT)) and not rest.endswith(b"\n"):
                pass  # the rest of a line cut, dropped as it comes
        stream.close()

    def exit_code(self) -> int | None:
        """The app's exit code once it exited (128 + N when a signal N ended it), else None."""
        return None if self.proc is None else self.proc.poll()

    def wait_listening(self, timeout: float | None = None) -> str:
        """The loopback address the app accepts connections on, once it does. Raises AppFailed when it exits
        first or takes longer than ``timeout`` (default START_TIMEOUT)."""
        timeout = START_TIMEOUT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            host = listening(self.port)
            if host is not None:
                return host
            code = self.exit_code()
            if code is not None:
                self._drain()
                raise AppFailed(
                    self.failure(f"the app exited with code {code} before it listened on port {self.port}"),
                    hint=self._hint(code),
                )
            if time.monotonic() > deadline:
                self.stop()
                raise AppFailed(
                    self.failure(
                        f"the app did not listen on port {self.port} within {timeout:g} s (it must listen on $PORT)"
                    )
                )
            time.sleep(0.05)

    def quiet(self, pause: float = 0.1, bound: float = 1.0) -> None:
        """Until the app printed nothing for ``pause`` seconds (at most ``bound``): a line it printed just before
        something went wrong arrives, through the pipe and a reader thread, a moment later."""
        asked = time.monotonic()
        deadline = asked + bound
        while time.monotonic() < deadline:
            with self._tail_lock:
                since = time.monotonic() - max(self._last_line_at, asked)
            if since >= pause:
                return
            time.sleep(pause - since)

    def _drain(self) -> None:
        for reader in self._readers:
            reader.join(2)

    def failure(self, what: str) -> str:
        """``what`` went wrong, with the app's last lines, those not printed already (printed once, never twice)."""
        with self._tail_lock:
            lines = list(self.tail)
        if not lines:
            return f"{what}; it printed nothing"
        unshown = [line.text for line in lines if not line.shown]
        if not unshown:
            return f"{what} (its output is above)"
        said = "\n".join(f"  | {text}" for text in unshown)
        return f"{what}; its last lines:\n{said}"

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
        if any("No module named 'relay'" in line.text for line in self.tail):
            return "install relay-py as README.md says (pip install -r requirements.txt in the project's virtual environment)"
        return None

    def stop(self) -> None:
        """Stop the app and every process it started, and wait until none is left: the keeper does it when its
        stdin closes (SIGTERM, then SIGKILL after STOP_GRACE seconds)."""
        proc = self.proc
        if proc is None:
            return
        if os.name != "posix":  # pragma: no cover - Windows: the whole tree, at once
            subprocess.run(["taskkill", "/T", "/F", "/PID", str(proc.pid)], capture_output=True, check=False)
            proc.wait()
            self._drain()
            return
        from .keeper import KILL_BOUND

        if proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
        try:
            proc.wait(STOP_GRACE + KILL_BOUND + 2)
        except subprocess.TimeoutExpired:  # the keeper itself is stuck: it goes, what it kept may stay
            proc.kill()
            proc.wait()
        self._drain()
