"""Startup and listing speed of the ``relay`` CLI, measured from the outside.

    .venv/bin/python benchmarks/startup.py [--runs N] [--list-runs N] [--json] [--check]

Startup: the median wall time (``perf_counter`` around ``subprocess.run``) of ``python -c pass`` with this
interpreter, then ``relay --version``, ``relay --help``, ``relay workflow --help`` and a ``workflow create
--dry-run``, each as a ratio to bare python. Targets: --version ≤ 4×, the help pages and the dry run ≤ 10×.
(``--help`` and ``workflow --help`` are laid out from relay_cli/registry.py without importing Typer: under 2×.)

Listing: ``relay workflow list`` against a loopback HTTP server holding 10,000 workflows of mixed triggers,
as a table (stdout piped) and as ``--json``. Target: ≤ 1 s each.

Bytecode: an installed wheel runs from cached ``.pyc`` files, but a development checkout may not have them
(``PYTHONDONTWRITEBYTECODE=1`` makes every run compile the project's sources again, ~20-30 ms). By default the
commands run with ``PYTHONPYCACHEPREFIX`` set to a temporary directory (filled by each command's untimed
warm-up run, so nothing is written into the checkout); ``--no-pyc-cache`` runs with the environment as it is.

The exit status is 0 unless ``--check`` is given, then 1 when a target is missed or a command fails.
This is not part of the pytest run. benchmarks/vs_reference.py times the same commands side by side with the
reference CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

WORKFLOWS = 10_000
SUB = "SUB"
DRY_RUN = [
    "workflow", "create", "call", "--trigger", "inbound", "--name", "my_auto_answer",
    "--uri", "wss://myhost.mydomain.com/autoanswerpath", "--install", "990007560045678",
    "-s", SUB, "--dry-run", "--json",
]  # fmt: skip


def relay_script() -> Path:
    """The console script installed next to this interpreter."""
    bindir = Path(sys.executable).parent
    for name in ("relay", "relay.exe"):
        if (bindir / name).exists():
            return bindir / name
    raise SystemExit(f"no relay console script next to {sys.executable}; install the project into this environment")


# --- timing -------------------------------------------------------------------------------------


@dataclass
class Case:
    label: str
    cmd: list[str]
    env: dict[str, str]
    target: float | None  # a ratio to bare python (kind "ratio") or milliseconds (kind "ms")
    kind: str
    check: Callable[[str], str | None] | None = None
    times: list[float] = field(default_factory=list)
    error: str | None = None

    def result(self) -> dict[str, Any]:
        return {
            "command": self.label,
            "kind": self.kind,
            "target": self.target,
            "median_ms": statistics.median(self.times) if self.times else None,
            "min_ms": min(self.times) if self.times else None,
            "max_ms": max(self.times) if self.times else None,
            "runs": len(self.times),
            "error": self.error,
        }


def measure(cases: list[Case], runs: int, quiet: bool) -> None:
    """One untimed, checked warm-up run per case; then ``runs`` rounds, each timing every case once.

    Interleaving the cases keeps a change in machine load from landing on one command only.
    """
    for case in cases:
        if not quiet:
            print(f"  warming up: {case.label}", file=sys.stderr, flush=True)
        warm = subprocess.run(
            case.cmd, env=case.env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, check=False
        )
        if warm.returncode != 0:
            case.error = f"exit {warm.returncode}: {warm.stderr.strip()[-300:]}"
        elif case.check is not None:
            case.error = case.check(warm.stdout)
    for i in range(runs):
        if not quiet:
            print(f"  round {i + 1}/{runs}", file=sys.stderr, flush=True)
        for case in cases:
            if case.error is not None:
                continue
            start = time.perf_counter()
            proc = subprocess.run(
                case.cmd, env=case.env, capture_output=True, stdin=subprocess.DEVNULL, timeout=120, check=False
            )
            case.times.append((time.perf_counter() - start) * 1000)
            if proc.returncode != 0:
                case.error = f"exit {proc.returncode} on a timed run"


# --- the fake API -------------------------------------------------------------------------------


def make_workflows(count: int = WORKFLOWS) -> list[dict[str, Any]]:
    """Workflows as GET /ibot/workflow returns them: every trigger kind; some configs as JSON strings."""
    triggers: list[dict[str, Any]] = [
        {"on_incoming_call": ".*"},
        {"on_call_request": ".*"},
        {"on_button": "action_button_single_tap"},
        {"on_button": "action_button_double_tap"},
        {"on_phrases": ["hello world", "good morning"]},
        {"on_device_event": "emergency"},
        {"on_battery_charge": 80},
        {"on_battery_discharge": 20},
        {"on_http": "POST"},
        {"on_nfc": {"type": "custom", "category": "room", "label": "lobby"}},
        {"on_geofence": {"transition": "entry", "geofence_id": "gf-1"}},
        {"on_position": {"venue_id": "v-1", "position_id": "p-7", "transition": "exit"}},
        {
            "on_timer": {
                "start_time": "2030-01-01T09:00:00",
                "timezone": "America/Chicago",
                "rrule": "FREQ=DAILY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR",
            }
        },
    ]
    workflows = []
    for i in range(count):
        name = f"workflow_{i:05d}"
        config: Any = {
            "trigger": {
                "start": {
                    "workflow": {
                        "uri": f"wss://myhost.mydomain.com/apps/{name}",
                        "args": {"greeting": "hi", "retries": i % 4} if i % 3 == 0 else {},
                    }
                },
                **triggers[i % len(triggers)],
            }
        }
        if i % 2:
            config = json.dumps(config)  # the server stores some configs as strings
        wf: dict[str, Any] = {
            "workflow_id": f"wf_{i:08x}abcdef",
            "name": name,
            "options": {"transient": True, "hidden": False},
            "config": config,
            "install": [f"99000756{i % 10_000_000:07d}", "990007560045678"] if i % 5 else [],
        }
        if i % 5 == 0:
            wf["install_rule"] = "urn:relay-resource:all:device"
        workflows.append(wf)
    return workflows


class FakeRelay(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.requests = 0
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(BaseHTTPRequestHandler):
    """GET /ibot/workflow: the listing; POST /ibot/workflow: the saved workflow, as Relay answers a create; GET of
    any path ending in /ws with an Upgrade: a WebSocket opening handshake accepted (the URI a create's preflight
    probes), then the connection closed."""

    server: FakeRelay
    #: each answer leaves at once, as from a real server: with Nagle's algorithm on, the body of an answer written
    #: after its headers waits for the client's acknowledgement of the headers, which a client delays by 40 ms
    #: when it has nothing to send (the second request on a kept-alive connection, a create's POST after its GET)
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/ibot/workflow":
            self.server.requests += 1
            self._send(200, self.server.body)
        elif path.endswith("/ws") and self.headers.get("Upgrade", "").lower() == "websocket":
            import base64
            import hashlib

            key = self.headers.get("Sec-WebSocket-Key", "") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455
            self.protocol_version = "HTTP/1.1"  # a WebSocket opening is HTTP/1.1 (RFC 6455, 4.1)
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", base64.b64encode(hashlib.sha1(key.encode()).digest()).decode())
            self.end_headers()
            self.close_connection = True
        else:
            self._send(404, b'{"error": "not found"}')

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/ibot/workflow":
            self._send(404, b'{"error": "not found"}')
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        self._send(200, json.dumps([{"workflow_id": "wf_created0000000000000001", **body}]).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


# --- checks on the first run's output -------------------------------------------------------------


def expect_table(stdout: str) -> str | None:
    lines = stdout.count("\n")
    return None if lines == WORKFLOWS + 1 else f"expected {WORKFLOWS + 1} table lines, got {lines}"


def expect_json(stdout: str) -> str | None:
    try:
        data = json.loads(stdout)
    except ValueError as exc:
        return f"stdout is not JSON: {exc}"
    return None if isinstance(data, list) and len(data) == WORKFLOWS else f"expected a list of {WORKFLOWS} workflows"


def expect_version(stdout: str) -> str | None:
    return None if stdout.startswith("relay ") else f"unexpected output {stdout[:80]!r}"


def expect_help(stdout: str) -> str | None:
    return None if "Usage:" in stdout else "no 'Usage:' in the help"


def expect_dry_run(stdout: str) -> str | None:
    try:
        return None if json.loads(stdout).get("name") == "my_auto_answer" else "unexpected dry-run body"
    except (ValueError, AttributeError) as exc:
        return f"dry-run output is not a JSON object: {exc}"


# --- main -----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15, help="timed runs per startup command (default 15)")
    parser.add_argument("--list-runs", type=int, default=5, help="timed runs per list command (at least 5)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--no-pyc-cache",
        action="store_true",
        help="do not give the commands a bytecode cache; use the environment as is",
    )
    args = parser.parse_args(argv)
    runs = max(1, args.runs)
    list_runs = max(5, args.list_runs)
    relay = str(relay_script())

    with tempfile.TemporaryDirectory(prefix="relay-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_") and k != "PYTHONPROFILEIMPORTTIME"}
        env["RELAY_CONFIG_DIR"] = str(Path(tmp) / "config")
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
        if not args.no_pyc_cache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        bytecode = "inherited environment" if args.no_pyc_cache else "cached (temporary PYTHONPYCACHEPREFIX)"

        startup = [
            Case("python -c pass", [sys.executable, "-c", "pass"], env, None, "ratio"),
            Case("relay --version", [relay, "--version"], env, 4.0, "ratio", expect_version),
            Case("relay --help", [relay, "--help"], env, 10.0, "ratio", expect_help),
            Case("relay workflow --help", [relay, "workflow", "--help"], env, 10.0, "ratio", expect_help),
            Case(
                "relay workflow create call ... --dry-run --json", [relay, *DRY_RUN], env, 10.0, "ratio", expect_dry_run
            ),
        ]
        measure(startup, runs, args.json)

        body = json.dumps({"results": make_workflows()}).encode()
        server = FakeRelay(body)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            list_env = {**env, "RELAY_HOST": f"http://127.0.0.1:{server.server_address[1]}", "RELAY_API_KEY": "bench"}
            listing = [
                Case(
                    f"relay workflow list -s {SUB}  ({WORKFLOWS:,}, table, piped)",
                    [relay, "workflow", "list", "-s", SUB],
                    list_env,
                    1000.0,
                    "ms",
                    expect_table,
                ),
                Case(
                    f"relay workflow list -s {SUB} --json  ({WORKFLOWS:,})",
                    [relay, "workflow", "list", "-s", SUB, "--json"],
                    list_env,
                    1000.0,
                    "ms",
                    expect_json,
                ),
            ]
            measure(listing, list_runs, args.json)
        finally:
            server.shutdown()
            server.server_close()

    results = [case.result() for case in startup + listing]
    base = results[0]["median_ms"]
    failed = False
    for r in results:
        median = r["median_ms"]
        r["ratio"] = median / base if median is not None and base else None
        if r["error"] is not None:
            r["status"] = "FAIL"
        elif r["target"] is None:
            r["status"] = ""
        elif r["kind"] == "ratio":
            r["status"] = "PASS" if r["ratio"] is not None and r["ratio"] <= r["target"] else "FAIL"
        else:
            r["status"] = "PASS" if median <= r["target"] else "FAIL"
        failed = failed or r["status"] == "FAIL"

    if args.json:
        summary = {"python": sys.version.split()[0], "bytecode": bytecode, "payload_bytes": len(body)}
        print(json.dumps({**summary, "results": results, "ok": not failed}, indent=2))
    else:
        print_table(results, len(body), bytecode)
    return 1 if args.check and failed else 0


def print_table(results: list[dict[str, Any]], payload: int, bytecode: str) -> None:
    def target(r: dict[str, Any]) -> str:
        if r["target"] is None:
            return "-"
        return f"<= {r['target']:g}x" if r["kind"] == "ratio" else f"<= {r['target'] / 1000:g} s"

    rows = [
        [
            r["command"],
            f"{r['median_ms']:.1f}" if r["median_ms"] is not None else "-",
            f"{r['ratio']:.2f}x" if r["ratio"] is not None else "-",
            target(r),
            r["status"],
            str(r["runs"]),
        ]
        for r in results
    ]
    headers = ["command", "median ms", "vs python", "target", "result", "runs"]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    print(
        f"python {sys.version.split()[0]} ({sys.executable}); bytecode {bytecode}; list payload {payload / 1e6:.1f} MB"
    )
    for line in [headers, ["-" * w for w in widths], *rows]:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )
    for r in results:
        if r["error"]:
            print(f"error in {r['command']}: {r['error']}")


if __name__ == "__main__":
    sys.exit(main())
